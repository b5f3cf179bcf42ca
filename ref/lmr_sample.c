/*
 * lmr_sample.c -- greedy decoding and reproducible sampling.
 *
 * Method: sampling follows spec/sampling.md step by step: softmax with
 * temperature; a stable order of the tokens (logit descending, index
 * ascending) from which top-k takes a prefix and top-p a shorter one;
 * renormalisation over the kept tokens; and the inverse CDF in vocabulary
 * order with the caller's uniform number r. No random generator is involved,
 * so the token is reproducible anywhere.
 */
#include "lmr_sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lmr_check.h"
#include "lmr_intermediates.h"
#include "lmr_softmax.h"
#include "lmr_status.h"

/* The shape classes of a choice over logits (n,vocab): LMR_EINVAL, LMR_EDIM,
 * LMR_EOVERFLOW. */
static int check_logits_view(lmr_mat logits)
{
    if (lmr_mat_missing(logits))
        return LMR_EINVAL;
    if (logits.cols == 0)
        return LMR_EDIM;
    if (lmr_mat_too_big(logits))
        return LMR_EOVERFLOW;
    return LMR_OK;
}

enum lmr_status lmr_argmax_check(lmr_mat logits)
{
    int status = check_logits_view(logits);
    if (status == LMR_OK)
        status = lmr_check_logits(logits.data, logits.rows, logits.cols);
    return (enum lmr_status)status;
}

enum lmr_status lmr_argmax(lmr_ids_out token, lmr_mat logits)
{
    int status = lmr_argmax_check(logits);
    if (status == LMR_OK && lmr_ids_out_missing(token))
        status = LMR_EINVAL;
    if (status == LMR_OK && token.len != logits.rows)
        status = LMR_EDIM;
    size_t vocab = logits.cols;
    for (size_t t = 0; status == LMR_OK && t < logits.rows; t++) {
        const double *row = logits.data + t * vocab; /* row t */
        size_t best = 0;
        for (size_t i = 1; i < vocab; i++)
            if (row[i] > row[best]) /* strict: an equal later value loses */
                best = i;
        token.data[t] = (int64_t)best;
    }
    return (enum lmr_status)status;
}

/* A token, its logit (for ordering) and its softmax probability. */
typedef struct {
    double logit;
    double probability;
    size_t index;
} ranked_token;

/* Logit descending, then index ascending: a total order, so qsort's lack of
 * stability cannot matter. */
static int by_rank(const void *left, const void *right)
{
    const ranked_token *a = left, *b = right;
    if (a->logit != b->logit)
        return a->logit > b->logit ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* Fills order (vocab) with the row's unmasked tokens in rank order and
 * returns their number; row holds the logits, p the softmax (both vocab). */
static size_t rank_tokens(ranked_token *order, const double *row,
                          const double *p, size_t vocab)
{
    size_t count = 0;
    for (size_t i = 0; i < vocab; i++)
        if (isfinite(row[i]))
            order[count++] = (ranked_token){row[i], p[i], i};
    qsort(order, count, sizeof *order, by_rank);
    return count;
}

/* The total probability of the first `kept` ranked tokens. */
static double kept_mass(const ranked_token *order, size_t kept)
{
    double mass = 0.0;
    for (size_t m = 0; m < kept; m++)
        mass += order[m].probability;
    return mass;
}

/* How many of the first `kept` ranked tokens top-p keeps; the running sums
 * go into cumulative (kept) unless it is NULL. */
static size_t top_p_count(const ranked_token *order, size_t kept, double top_p,
                          double *cumulative_out)
{
    double mass = kept_mass(order, kept), cumulative = 0.0;
    for (size_t m = 0; m < kept; m++) {
        cumulative += order[m].probability / mass; /* renormalised */
        if (cumulative_out != NULL)
            cumulative_out[m] = cumulative;
        if (cumulative >= top_p)
            return m + 1; /* the shortest prefix reaching top_p */
    }
    return kept;
}

/* Writes q (vocab): the probabilities of the first `kept` ranked tokens
 * renormalised to sum to 1, and 0 for every other token. */
static void keep_only(double *q, size_t vocab, const ranked_token *order,
                      size_t kept)
{
    double mass = kept_mass(order, kept);
    for (size_t i = 0; i < vocab; i++)
        q[i] = 0.0;
    for (size_t m = 0; m < kept; m++)
        q[order[m].index] = order[m].probability / mass;
}

/* The smallest i with r < sum_{j<=i} q_j (q is (vocab)); the running sums
 * go into cdf (vocab, up to the token) unless it is NULL. */
static int64_t inverse_cdf(const double *q, size_t vocab, double r, double *cdf)
{
    double cumulative = 0.0;
    size_t last_kept = 0;
    for (size_t i = 0; i < vocab; i++) {
        int is_kept = q[i] > 0.0;
        if (is_kept) {
            cumulative += q[i];
            last_kept = i;
        }
        if (cdf != NULL)
            cdf[i] = cumulative;
        if (is_kept && r < cumulative)
            return (int64_t)i;
    }
    /* rounding left the total just below 1 and r above it: the last token */
    return (int64_t)last_kept;
}

/* Samples one row whose softmax q (vocab) is computed: ranks the tokens of
 * the logits row into order (vocab), truncates, renormalises q in place and
 * returns the token; records the steps in trace unless it is NULL. */
static int64_t sample_row(double *q, ranked_token *order, const double *row,
                          double r, size_t vocab, int64_t top_k, double top_p,
                          lmr_sample_trace *trace)
{
    size_t kept = rank_tokens(order, row, q, vocab);
    size_t ranked = kept;
    if (top_k > 0 && (uint64_t)top_k < kept)
        kept = (size_t)top_k;
    size_t top_k_kept = kept;
    if (top_p < 1.0)
        kept = top_p_count(order, kept, top_p,
                           trace ? trace->cumulative.data : NULL);
    keep_only(q, vocab, order, kept);
    int64_t token = inverse_cdf(q, vocab, r, trace ? trace->cdf.data : NULL);
    if (trace != NULL) {
        for (size_t m = 0; m < ranked; m++)
            trace->order.data[m] = (int64_t)order[m].index;
        trace->ranked = ranked;
        trace->top_k_kept = top_k_kept;
        trace->kept = kept;
        trace->top_k_mass = kept_mass(order, top_k_kept);
        trace->kept_mass = kept_mass(order, kept);
        trace->token = token;
    }
    return token;
}

/* top_k, then top_p (spec/sampling.md). */
static int check_sample_params(int64_t top_k, double top_p)
{
    if (top_k < 0)
        return LMR_EDOMAIN;
    if (!isfinite(top_p))
        return LMR_ENONFINITE;
    if (!(top_p > 0.0 && top_p <= 1.0))
        return LMR_EDOMAIN;
    return LMR_OK;
}

/* Each r[t] finite and in [0, 1). */
static int check_uniforms(lmr_vec r)
{
    for (size_t t = 0; t < r.len; t++) {
        if (!isfinite(r.data[t]))
            return LMR_ENONFINITE;
        if (!(r.data[t] >= 0.0 && r.data[t] < 1.0))
            return LMR_EDOMAIN;
    }
    return LMR_OK;
}

enum lmr_status lmr_sample_check(lmr_mat logits, lmr_vec r, double tau,
                                 int64_t top_k, double top_p)
{
    int status = lmr_mat_missing(logits) || lmr_vec_missing(r) ? LMR_EINVAL
                                                               : LMR_OK;
    if (status == LMR_OK && (logits.cols == 0 || r.len != logits.rows))
        status = LMR_EDIM;
    if (status == LMR_OK && (lmr_mat_too_big(logits) || lmr_vec_too_big(r)))
        status = LMR_EOVERFLOW;
    if (status == LMR_OK)
        status = lmr_check_temperature(tau);
    if (status == LMR_OK)
        status = check_sample_params(top_k, top_p);
    if (status == LMR_OK)
        status = lmr_check_logits(logits.data, logits.rows, logits.cols);
    if (status == LMR_OK)
        status = check_uniforms(r);
    return (enum lmr_status)status;
}

enum lmr_status lmr_sample(lmr_mat_out probs, lmr_ids_out token, lmr_mat logits,
                           lmr_vec r, double tau, int64_t top_k, double top_p)
{
    size_t n = logits.rows, vocab = logits.cols;
    int status = lmr_sample_check(logits, r, tau, top_k, top_p);
    if (status == LMR_OK &&
        (lmr_mat_out_missing(probs) || lmr_ids_out_missing(token)))
        status = LMR_EINVAL;
    if (status == LMR_OK &&
        (probs.rows != n || probs.cols != vocab || token.len != n))
        status = LMR_EDIM;
    if (status != LMR_OK || n == 0)
        return (enum lmr_status)status;
    ranked_token *order = malloc(vocab * sizeof *order); /* (vocab) */
    if (order == NULL)
        return LMR_ENOMEM;
    lmr_softmax(probs, logits, tau); /* checked above: succeeds */
    for (size_t t = 0; t < n; t++)   /* row t */
        token.data[t] = sample_row(probs.data + t * vocab, order,
                                   logits.data + t * vocab, r.data[t], vocab,
                                   top_k, top_p, NULL);
    free(order);
    return LMR_OK;
}

/* LMR_EINVAL, then LMR_EDIM, for the trace's five arrays of vocab entries. */
static int check_trace(const lmr_sample_trace *trace, size_t vocab)
{
    if (trace == NULL || lmr_ids_out_missing(trace->order) ||
        lmr_vec_out_missing(trace->probs) ||
        lmr_vec_out_missing(trace->cumulative) ||
        lmr_vec_out_missing(trace->kept_probs) ||
        lmr_vec_out_missing(trace->cdf))
        return LMR_EINVAL;
    if (trace->order.len != vocab || trace->probs.len != vocab ||
        trace->cumulative.len != vocab || trace->kept_probs.len != vocab ||
        trace->cdf.len != vocab)
        return LMR_EDIM;
    return LMR_OK;
}

enum lmr_status lmr_sample_row_trace(lmr_sample_trace *trace, lmr_vec logits,
                                     double r, double tau, int64_t top_k,
                                     double top_p)
{
    size_t vocab = logits.len;
    lmr_mat row = lmr_mat_of(logits.data, 1, vocab);
    int status = lmr_sample_check(row, lmr_vec_of(&r, 1), tau, top_k, top_p);
    if (status == LMR_OK)
        status = check_trace(trace, vocab);
    if (status != LMR_OK)
        return (enum lmr_status)status;
    ranked_token *order = malloc(vocab * sizeof *order); /* (vocab) */
    if (order == NULL)
        return LMR_ENOMEM;
    /* checked: succeeds */
    lmr_softmax(lmr_mat_out_of(trace->probs.data, 1, vocab), row, tau);
    memcpy(trace->kept_probs.data, trace->probs.data, vocab * sizeof(double));
    sample_row(trace->kept_probs.data, order, logits.data, r, vocab, top_k,
               top_p, trace);
    free(order);
    return LMR_OK;
}

enum lmr_status lmr_rank_tokens(lmr_ids_out order, size_t *ranked,
                                lmr_vec logits)
{
    size_t vocab = logits.len;
    int status = lmr_argmax_check(lmr_mat_of(logits.data, 1, vocab));
    if (status == LMR_OK && (ranked == NULL || lmr_ids_out_missing(order)))
        status = LMR_EINVAL;
    if (status == LMR_OK && order.len != vocab)
        status = LMR_EDIM;
    if (status != LMR_OK)
        return (enum lmr_status)status;
    ranked_token *work = malloc(vocab * sizeof *work); /* (vocab) */
    double *unused = calloc(vocab, sizeof(double));    /* (vocab) */
    if (work != NULL && unused != NULL) {
        *ranked = rank_tokens(work, logits.data, unused, vocab);
        for (size_t m = 0; m < *ranked; m++)
            order.data[m] = (int64_t)work[m].index;
    }
    status = work != NULL && unused != NULL ? LMR_OK : LMR_ENOMEM;
    free(work);
    free(unused);
    return (enum lmr_status)status;
}
