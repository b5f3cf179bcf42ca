/*
 * lmr_variants.c -- head variants, each built from the plain heads of
 * lmr_head.c and the softmax of lmr_softmax.c, so a variant adds only what
 * distinguishes it. Results are assembled in scratch arrays and copied out
 * at the end, so nothing is written unless the call succeeds.
 */
#include "lmr_variants.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lmr_check.h"
#include "lmr_head.h"
#include "lmr_intermediates.h"
#include "lmr_status.h"

/* calloc of rows*cols doubles (at least one), NULL on failure or overflow. */
static double *scratch(size_t rows, size_t cols)
{
    size_t count;
    if (lmr_array_count(&count, rows, cols) != LMR_OK)
        return NULL;
    return calloc(count ? count : 1, sizeof(double));
}

/* ---- partial tying ---------------------------------------------------- */

/* logits (n,vocab) from tied (n,k) and free (n,vocab-k) column blocks. */
static void join_columns(double *logits, const double *tied,
                         const double *free_part, size_t n, size_t vocab,
                         size_t k)
{
    for (size_t t = 0; t < n; t++) {
        memcpy(logits + t * vocab, tied + t * k, k * sizeof(double));
        memcpy(logits + t * vocab + k, free_part + t * (vocab - k),
               (vocab - k) * sizeof(double));
    }
}

int lmr_head_partial(double *logits, const double *h, const double *E,
                     const double *F, size_t n, size_t vocab, size_t d,
                     size_t k)
{
    if (E == NULL || (k < vocab && F == NULL) ||
        (n > 0 && (logits == NULL || h == NULL)))
        return LMR_EINVAL;
    int status = lmr_check_table(E, vocab, d);
    if (status != LMR_OK)
        return status;
    if (k > vocab)
        return LMR_EDOMAIN;
    if (k == vocab)
        return lmr_head_tied(lmr_mat_out_of(logits, n, vocab),
                             lmr_mat_of(h, n, d), lmr_mat_of(E, vocab, d));
    if (k == 0)
        return lmr_head_untied(lmr_mat_out_of(logits, n, vocab),
                               lmr_mat_of(h, n, d), lmr_mat_of(F, d, vocab),
                               lmr_vec_absent());
    double *tied = scratch(n, k), *free_part = scratch(n, vocab - k);
    status = (tied && free_part) ? LMR_OK : LMR_ENOMEM;
    if (status == LMR_OK) /* rows 0..k-1 of E are the shared output vectors */
        status = lmr_head_tied(lmr_mat_out_of(tied, n, k), lmr_mat_of(h, n, d),
                               lmr_mat_of(E, k, d));
    if (status == LMR_OK)
        status = lmr_head_untied(lmr_mat_out_of(free_part, n, vocab - k),
                                 lmr_mat_of(h, n, d),
                                 lmr_mat_of(F, d, vocab - k), lmr_vec_absent());
    if (status == LMR_OK)
        join_columns(logits, tied, free_part, n, vocab, k);
    free(tied);
    free(free_part);
    return status;
}

/* ---- transformed tying ------------------------------------------------ */

int lmr_head_transformed(double *logits, const double *h, const double *T,
                         const double *E, size_t n, size_t vocab, size_t d)
{
    if (T == NULL || E == NULL || (n > 0 && (logits == NULL || h == NULL)))
        return LMR_EINVAL;
    int status = lmr_check_table(E, vocab, d);
    if (status != LMR_OK)
        return status;
    double *hT = scratch(n, d); /* (n,d): h T, one untied head of width d */
    if (hT == NULL)
        return LMR_ENOMEM;
    status = lmr_head_transformed_hidden(hT, h, T, n, d);
    if (status == LMR_OK)
        status = lmr_head_tied(lmr_mat_out_of(logits, n, vocab),
                               lmr_mat_of(hT, n, d), lmr_mat_of(E, vocab, d));
    free(hT);
    return status;
}

int lmr_head_transformed_hidden(double *hT, const double *h, const double *T,
                                size_t n, size_t d)
{
    if (T == NULL)
        return LMR_EINVAL;
    return lmr_head_untied(lmr_mat_out_of(hT, n, d), lmr_mat_of(h, n, d),
                           lmr_mat_of(T, d, d), lmr_vec_absent());
}

/* ---- adaptive tying --------------------------------------------------- */

/* The tied logits h E^T and the free logits h F, (n,vocab) each. */
static int adaptive_parts(double *tied, double *untied, const double *h,
                          const double *E, const double *F, size_t n,
                          size_t vocab, size_t d)
{
    int status = lmr_head_tied(lmr_mat_out_of(tied, n, vocab),
                               lmr_mat_of(h, n, d), lmr_mat_of(E, vocab, d));
    if (status == LMR_OK)
        status = lmr_head_untied(lmr_mat_out_of(untied, n, vocab),
                                 lmr_mat_of(h, n, d), lmr_mat_of(F, d, vocab),
                                 lmr_vec_absent());
    return status;
}

int lmr_head_adaptive_parts(double *tied, double *untied, const double *h,
                            const double *E, const double *F, size_t n,
                            size_t vocab, size_t d)
{
    if (E == NULL || F == NULL ||
        (n > 0 && (tied == NULL || untied == NULL || h == NULL)))
        return LMR_EINVAL;
    return adaptive_parts(tied, untied, h, E, F, n, vocab, d);
}

int lmr_head_adaptive(double *logits, const double *h, const double *E,
                      const double *F, double alpha, size_t n, size_t vocab,
                      size_t d)
{
    if (E == NULL || F == NULL || (n > 0 && (logits == NULL || h == NULL)))
        return LMR_EINVAL;
    if (isnan(alpha))
        return LMR_ENONFINITE;
    if (!(alpha >= 0.0 && alpha <= 1.0))
        return LMR_EDOMAIN;
    double *tied = scratch(n, vocab), *untied = scratch(n, vocab);
    int status = (tied && untied) ? LMR_OK : LMR_ENOMEM;
    if (status == LMR_OK)
        status = adaptive_parts(tied, untied, h, E, F, n, vocab, d);
    for (size_t i = 0; status == LMR_OK && i < n * vocab; i++)
        logits[i] = alpha * tied[i] + (1.0 - alpha) * untied[i];
    free(tied);
    free(untied);
    return status;
}

/* ---- MLP head --------------------------------------------------------- */

/* ReLU; ReLU(0) = 0. */
static double relu(double a)
{
    return a > 0.0 ? a : 0.0;
}

/* hidden (n,m) = ReLU(h W1 + b1), and the pre-activation h W1 + b1 into
 * pre (n,m) unless it is NULL. */
static int mlp_hidden(double *pre, double *hidden, const double *h,
                      const double *W1, const double *b1, size_t n, size_t d,
                      size_t m)
{
    int status = lmr_head_untied(lmr_mat_out_of(hidden, n, m),
                                 lmr_mat_of(h, n, d), lmr_mat_of(W1, d, m),
                                 b1 ? lmr_vec_of(b1, m) : lmr_vec_absent());
    for (size_t i = 0; status == LMR_OK && i < n * m; i++) {
        if (pre != NULL)
            pre[i] = hidden[i];
        hidden[i] = relu(hidden[i]);
    }
    return status;
}

int lmr_head_mlp_hidden(double *pre, double *hidden, const double *h,
                        const double *W1, const double *b1, size_t n,
                        size_t d, size_t m)
{
    if (W1 == NULL || pre == NULL)
        return LMR_EINVAL;
    if (m == 0)
        return LMR_EDIM;
    return mlp_hidden(pre, hidden, h, W1, b1, n, d, m);
}

int lmr_head_mlp(double *logits, const double *h, const double *W1,
                 const double *b1, const double *W2, const double *E,
                 const double *b2, size_t n, size_t vocab, size_t d, size_t m)
{
    if (W1 == NULL || (W2 == NULL && E == NULL))
        return LMR_EINVAL;
    if (m == 0 || (W2 == NULL && m != d))
        return LMR_EDIM;
    if (W2 == NULL && b2 != NULL && lmr_check_finite(b2, vocab) != LMR_OK)
        return LMR_ENONFINITE;
    double *hidden = scratch(n, m); /* (n,m) */
    double *out = scratch(n, vocab); /* (n,vocab) */
    int status = (hidden && out) ? LMR_OK : LMR_ENOMEM;
    if (status == LMR_OK)
        status = mlp_hidden(NULL, hidden, h, W1, b1, n, d, m);
    if (status == LMR_OK && W2 != NULL)
        status = lmr_head_untied(lmr_mat_out_of(out, n, vocab),
                                 lmr_mat_of(hidden, n, m),
                                 lmr_mat_of(W2, m, vocab),
                                 b2 ? lmr_vec_of(b2, vocab) : lmr_vec_absent());
    else if (status == LMR_OK)
        status = lmr_head_tied(lmr_mat_out_of(out, n, vocab),
                               lmr_mat_of(hidden, n, d),
                               lmr_mat_of(E, vocab, d));
    for (size_t t = 0; status == LMR_OK && W2 == NULL && b2 && t < n; t++)
        for (size_t v = 0; v < vocab; v++)
            out[t * vocab + v] += b2[v];
    if (status == LMR_OK && n > 0)
        memcpy(logits, out, n * vocab * sizeof(double));
    free(hidden);
    free(out);
    return status;
}

/* ---- mixtures of softmaxes -------------------------------------------- */

/*
 * Mixes K components given their log-probabilities (K, n, vocab) and the
 * log-weights log_weight (n, K): logprobs = log sum_k exp(log_weight_k +
 * component_k), with the largest term factored out; probs = exp of it is not
 * used, probs = sum_k weight_k p_k is accumulated directly instead.
 */
static void mix_components(double *probs, double *logprobs,
                           const double *component_logprobs,
                           const double *log_weight, size_t n, size_t vocab,
                           size_t K)
{
    for (size_t t = 0; t < n; t++)
        for (size_t v = 0; v < vocab; v++) {
            double largest = -INFINITY, sum = 0.0, mixture = 0.0;
            for (size_t k = 0; k < K; k++)
                largest = fmax(largest, log_weight[t * K + k] +
                               component_logprobs[(k * n + t) * vocab + v]);
            for (size_t k = 0; k < K; k++) {
                double term = log_weight[t * K + k] +
                              component_logprobs[(k * n + t) * vocab + v];
                sum += exp(term - largest);
                mixture += exp(term);
            }
            logprobs[t * vocab + v] = largest + log(sum);
            probs[t * vocab + v] = mixture;
        }
}

/* LMR_OK for K finite weights >= 0 that are not all zero. */
static int check_weights(const double *alpha, size_t K)
{
    double total = 0.0;
    if (lmr_check_finite(alpha, K) != LMR_OK)
        return LMR_ENONFINITE;
    for (size_t k = 0; k < K; k++) {
        if (alpha[k] < 0.0)
            return LMR_EDOMAIN;
        total += alpha[k];
    }
    return total > 0.0 ? LMR_OK : LMR_EDOMAIN;
}

/* Copies probs and logprobs (n,vocab) out of scratch on success. */
static int publish_pair(double *probs, double *logprobs, const double *p,
                        const double *lp, size_t count, int status)
{
    if (status == LMR_OK && count > 0) {
        memcpy(probs, p, count * sizeof(double));
        memcpy(logprobs, lp, count * sizeof(double));
    }
    return status;
}

/* The normalised weights as logs, log(alpha_k / sum_j alpha_j), into
 * log_weight (K), and each component's log softmax(h W_k) into components
 * (K,n,vocab). */
static int fixed_components(double *log_weight, double *components,
                            const double *h, const double *W,
                            const double *alpha, size_t n, size_t vocab,
                            size_t d, size_t K)
{
    double total = 0.0;
    int status = LMR_OK;
    for (size_t k = 0; k < K; k++)
        total += alpha[k];
    for (size_t k = 0; status == LMR_OK && k < K; k++) {
        double *block = components + k * n * vocab; /* component k */
        status = lmr_head_untied(lmr_mat_out_of(block, n, vocab),
                                 lmr_mat_of(h, n, d),
                                 lmr_mat_of(W + k * d * vocab, d, vocab),
                                 lmr_vec_absent());
        if (status == LMR_OK)
            status = lmr_log_softmax(lmr_mat_out_of(block, n, vocab),
                                     lmr_mat_of(block, n, vocab), 1.0);
        log_weight[k] = log(alpha[k] / total);
    }
    return status;
}

int lmr_mos_fixed_components(double *log_weight, double *components,
                             const double *h, const double *W,
                             const double *alpha, size_t n, size_t vocab,
                             size_t d, size_t K)
{
    if (W == NULL || alpha == NULL || log_weight == NULL ||
        (n > 0 && (components == NULL || h == NULL)))
        return LMR_EINVAL;
    if (K == 0)
        return LMR_EDIM;
    int status = check_weights(alpha, K);
    if (status == LMR_OK)
        status = fixed_components(log_weight, components, h, W, alpha, n,
                                  vocab, d, K);
    return status;
}

int lmr_mos_fixed(double *probs, double *logprobs, const double *h,
                  const double *W, const double *alpha, size_t n,
                  size_t vocab, size_t d, size_t K)
{
    if (W == NULL || alpha == NULL ||
        (n > 0 && (probs == NULL || logprobs == NULL || h == NULL)))
        return LMR_EINVAL;
    if (K == 0)
        return LMR_EDIM;
    int status = check_weights(alpha, K);
    if (status != LMR_OK)
        return status;
    double *components = scratch(K * n, vocab); /* (K,n,vocab) log-probs */
    double *log_weight = scratch(n ? n : 1, K); /* (n,K), row 0 even if n = 0 */
    double *p = scratch(n, vocab), *lp = scratch(n, vocab);
    status = (components && log_weight && p && lp) ? LMR_OK : LMR_ENOMEM;
    if (status == LMR_OK)
        status = fixed_components(log_weight, components, h, W, alpha, n,
                                  vocab, d, K);
    for (size_t t = 1; status == LMR_OK && t < n; t++) /* the same each row */
        memcpy(log_weight + t * K, log_weight, K * sizeof(double));
    if (status == LMR_OK)
        mix_components(p, lp, components, log_weight, n, vocab, K);
    status = publish_pair(probs, logprobs, p, lp, n * vocab, status);
    free(components);
    free(log_weight);
    free(p);
    free(lp);
    return status;
}

/* Component k of the gated mixture: log softmax(tanh(h W_k + b_k) W_out +
 * b_out) into block (n,vocab), with gate scratch (n,d). */
static int gated_component(double *block, double *gate, const double *h,
                           const double *W_k, const double *b_k,
                           const double *W_out, const double *E,
                           const double *b_out, size_t n, size_t vocab,
                           size_t d)
{
    int status = lmr_head_untied(lmr_mat_out_of(gate, n, d),
                                 lmr_mat_of(h, n, d), lmr_mat_of(W_k, d, d),
                                 b_k ? lmr_vec_of(b_k, d) : lmr_vec_absent());
    for (size_t i = 0; status == LMR_OK && i < n * d; i++)
        gate[i] = tanh(gate[i]);
    if (status == LMR_OK && W_out != NULL)
        status = lmr_head_untied(lmr_mat_out_of(block, n, vocab),
                                 lmr_mat_of(gate, n, d),
                                 lmr_mat_of(W_out, d, vocab),
                                 b_out ? lmr_vec_of(b_out, vocab)
                                       : lmr_vec_absent());
    else if (status == LMR_OK)
        status = lmr_head_tied(lmr_mat_out_of(block, n, vocab),
                               lmr_mat_of(gate, n, d),
                               lmr_mat_of(E, vocab, d));
    for (size_t t = 0; status == LMR_OK && W_out == NULL && b_out && t < n; t++)
        for (size_t v = 0; v < vocab; v++)
            block[t * vocab + v] += b_out[v];
    if (status == LMR_OK)
        status = lmr_log_softmax(lmr_mat_out_of(block, n, vocab),
                                 lmr_mat_of(block, n, vocab), 1.0);
    return status;
}

/* The mixture weights pi = softmax(h W_pi), as logs, into log_pi (n,K). */
static int gate_log_weights(double *log_pi, const double *h,
                            const double *W_pi, size_t n, size_t d, size_t K)
{
    int status = lmr_head_untied(lmr_mat_out_of(log_pi, n, K),
                                 lmr_mat_of(h, n, d), lmr_mat_of(W_pi, d, K),
                                 lmr_vec_absent());
    if (status == LMR_OK)
        status = lmr_log_softmax(lmr_mat_out_of(log_pi, n, K),
                                 lmr_mat_of(log_pi, n, K), 1.0);
    return status;
}

int lmr_mos_gated_weights(double *log_pi, const double *h, const double *W_pi,
                          size_t n, size_t d, size_t K)
{
    if (W_pi == NULL)
        return LMR_EINVAL;
    if (K == 0)
        return LMR_EDIM;
    return gate_log_weights(log_pi, h, W_pi, n, d, K);
}

int lmr_mos_gated(double *probs, double *logprobs, const double *h,
                  const double *W_pi, const double *W_comp,
                  const double *b_comp, const double *W_out, const double *E,
                  const double *b_out, size_t n, size_t vocab, size_t d,
                  size_t K)
{
    if (W_pi == NULL || W_comp == NULL || b_comp == NULL ||
        (W_out == NULL && E == NULL) ||
        (n > 0 && (probs == NULL || logprobs == NULL || h == NULL)))
        return LMR_EINVAL;
    if (K == 0)
        return LMR_EDIM;
    if (W_out == NULL && b_out != NULL && lmr_check_finite(b_out, vocab) != LMR_OK)
        return LMR_ENONFINITE;
    double *components = scratch(K * n, vocab); /* (K,n,vocab) log-probs */
    double *log_pi = scratch(n, K);             /* (n,K) */
    double *gate = scratch(n, d), *p = scratch(n, vocab), *lp = scratch(n, vocab);
    int status = (components && log_pi && gate && p && lp) ? LMR_OK : LMR_ENOMEM;
    if (status == LMR_OK)
        status = gate_log_weights(log_pi, h, W_pi, n, d, K);
    for (size_t k = 0; status == LMR_OK && k < K; k++)
        status = gated_component(components + k * n * vocab, gate, h,
                                 W_comp + k * d * d, b_comp + k * d, W_out, E,
                                 b_out, n, vocab, d);
    if (status == LMR_OK)
        mix_components(p, lp, components, log_pi, n, vocab, K);
    status = publish_pair(probs, logprobs, p, lp, n * vocab, status);
    free(components);
    free(log_pi);
    free(gate);
    free(p);
    free(lp);
    return status;
}

/* ---- soft tying ------------------------------------------------------- */

/* ||E - W^T||_F^2 = sum_{v,j} (E[v,j] - W[j,v])^2; E (vocab,d), W (d,vocab). */
static double tying_penalty(const double *E, const double *W, size_t vocab,
                            size_t d)
{
    double sum = 0.0;
    for (size_t v = 0; v < vocab; v++)
        for (size_t j = 0; j < d; j++) {
            double difference = E[v * d + j] - W[j * vocab + v];
            sum += difference * difference;
        }
    return sum;
}

int lmr_soft_tie_loss(lmr_soft_tie *out, const double *h, const double *E,
                      const double *W, const int64_t *targets, size_t n,
                      size_t vocab, size_t d, double lambda,
                      enum lmr_reduction reduction, int64_t ignore_index)
{
    if (out == NULL || E == NULL || W == NULL)
        return LMR_EINVAL;
    if (!isfinite(lambda))
        return LMR_ENONFINITE;
    if (lambda < 0.0 || reduction == LMR_REDUCE_NONE)
        return LMR_EDOMAIN;
    int status = lmr_check_table(E, vocab, d);
    double *logits = scratch(n, vocab); /* (n,vocab) */
    double cross_entropy = 0.0;
    if (status == LMR_OK && logits == NULL)
        status = LMR_ENOMEM;
    if (status == LMR_OK)
        status = lmr_head_untied(lmr_mat_out_of(logits, n, vocab),
                                 lmr_mat_of(h, n, d), lmr_mat_of(W, d, vocab),
                                 lmr_vec_absent());
    if (status == LMR_OK)
        status = lmr_cross_entropy(lmr_vec_out_of(&cross_entropy, 1),
                                   lmr_mat_of(logits, n, vocab),
                                   lmr_ids_of(targets, n), reduction,
                                   ignore_index);
    free(logits);
    if (status != LMR_OK)
        return status;
    out->penalty = tying_penalty(E, W, vocab, d);
    out->cross_entropy = cross_entropy;
    out->loss = cross_entropy + lambda * out->penalty;
    return LMR_OK;
}
