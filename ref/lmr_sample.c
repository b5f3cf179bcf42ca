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

static int check_choice(const void *out, const double *logits, size_t n,
                        size_t vocab)
{
    size_t count;
    if (n > 0 && (out == NULL || logits == NULL))
        return LMR_EINVAL;
    if (vocab == 0)
        return LMR_EDIM;
    if (lmr_array_count(&count, n, vocab) != LMR_OK)
        return LMR_EOVERFLOW;
    return lmr_check_logits(logits, n, vocab);
}

int lmr_argmax(int64_t *token, const double *logits, size_t n, size_t vocab)
{
    int status = check_choice(token, logits, n, vocab);
    for (size_t t = 0; status == LMR_OK && t < n; t++) {
        const double *row = logits + t * vocab; /* row t */
        size_t best = 0;
        for (size_t i = 1; i < vocab; i++)
            if (row[i] > row[best]) /* strict: an equal later value loses */
                best = i;
        token[t] = (int64_t)best;
    }
    return status;
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
static int64_t inverse_cdf(const double *q, size_t vocab, double r,
                           double *cdf)
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
                           trace ? trace->cumulative : NULL);
    keep_only(q, vocab, order, kept);
    int64_t token = inverse_cdf(q, vocab, r, trace ? trace->cdf : NULL);
    if (trace != NULL) {
        for (size_t m = 0; m < ranked; m++)
            trace->order[m] = order[m].index;
        trace->ranked = ranked;
        trace->top_k_kept = top_k_kept;
        trace->kept = kept;
        trace->top_k_mass = kept_mass(order, top_k_kept);
        trace->kept_mass = kept_mass(order, kept);
        trace->token = token;
    }
    return token;
}

static int check_sample_params(const double *r, size_t n, int64_t top_k,
                               double top_p)
{
    if (top_k < 0)
        return LMR_EDOMAIN;
    if (!isfinite(top_p))
        return LMR_ENONFINITE;
    if (!(top_p > 0.0 && top_p <= 1.0))
        return LMR_EDOMAIN;
    for (size_t t = 0; t < n; t++) {
        if (!isfinite(r[t]))
            return LMR_ENONFINITE;
        if (!(r[t] >= 0.0 && r[t] < 1.0))
            return LMR_EDOMAIN;
    }
    return LMR_OK;
}

/* The checks of lmr_sample: the logits (n,vocab) read into out, then
 * token and r (n), tau, top_k, top_p and r. */
static int check_sample(const void *out, const int64_t *token,
                        const double *logits, const double *r, size_t n,
                        size_t vocab, double tau, int64_t top_k, double top_p)
{
    int status = check_choice(out, logits, n, vocab);
    if (status == LMR_OK && n > 0 && (token == NULL || r == NULL))
        status = LMR_EINVAL;
    if (status == LMR_OK)
        status = lmr_check_temperature(tau);
    if (status == LMR_OK)
        status = check_sample_params(r, n, top_k, top_p);
    return status;
}

int lmr_sample(double *probs, int64_t *token, const double *logits,
               const double *r, size_t n, size_t vocab, double tau,
               int64_t top_k, double top_p)
{
    int status = check_sample(probs, token, logits, r, n, vocab, tau, top_k,
                              top_p);
    if (status != LMR_OK || n == 0)
        return status;
    ranked_token *order = malloc(vocab * sizeof *order); /* (vocab) */
    if (order == NULL)
        return LMR_ENOMEM;
    lmr_softmax(lmr_mat_out_of(probs, n, vocab), lmr_mat_of(logits, n, vocab),
                tau); /* checked above: succeeds */
    for (size_t t = 0; t < n; t++) /* row t */
        token[t] = sample_row(probs + t * vocab, order, logits + t * vocab,
                              r[t], vocab, top_k, top_p, NULL);
    free(order);
    return LMR_OK;
}

int lmr_sample_row_trace(lmr_sample_trace *trace, const double *logits,
                         double r, size_t vocab, double tau, int64_t top_k,
                         double top_p)
{
    if (trace == NULL || trace->order == NULL || trace->probs == NULL ||
        trace->cumulative == NULL || trace->kept_probs == NULL ||
        trace->cdf == NULL)
        return LMR_EINVAL;
    int status = check_sample(trace->probs, &trace->token, logits, &r, 1,
                              vocab, tau, top_k, top_p);
    if (status != LMR_OK)
        return status;
    ranked_token *order = malloc(vocab * sizeof *order); /* (vocab) */
    if (order == NULL)
        return LMR_ENOMEM;
    lmr_softmax(lmr_mat_out_of(trace->probs, 1, vocab),
                lmr_mat_of(logits, 1, vocab), tau); /* checked: succeeds */
    memcpy(trace->kept_probs, trace->probs, vocab * sizeof(double));
    sample_row(trace->kept_probs, order, logits, r, vocab, top_k, top_p,
               trace);
    free(order);
    return LMR_OK;
}

int lmr_rank_tokens(size_t *order, size_t *ranked, const double *logits,
                    size_t vocab)
{
    if (order == NULL || ranked == NULL)
        return LMR_EINVAL;
    int status = check_choice(order, logits, 1, vocab);
    if (status != LMR_OK)
        return status;
    ranked_token *work = malloc(vocab * sizeof *work);  /* (vocab) */
    double *unused = calloc(vocab, sizeof(double));     /* (vocab) */
    if (work != NULL && unused != NULL) {
        *ranked = rank_tokens(work, logits, unused, vocab);
        for (size_t m = 0; m < *ranked; m++)
            order[m] = work[m].index;
    }
    status = work != NULL && unused != NULL ? LMR_OK : LMR_ENOMEM;
    free(work);
    free(unused);
    return status;
}
