/*
 * lmr_variants.c -- head variants, each built from the plain heads of
 * lmr_head.c and the softmax of lmr_softmax.c, so a variant adds only what
 * distinguishes it. Each op validates through its check (spec/api.md#checks)
 * and then its outputs; results are assembled in scratch arrays and copied
 * out at the end, so nothing is written unless the call succeeds.
 */
#include "lmr_variants.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lmr_check.h"
#include "lmr_head.h"
#include "lmr_intermediates.h"
#include "lmr_mixture.h"
#include "lmr_status.h"

/* calloc of rows*cols doubles (at least one), NULL on failure or overflow. */
static double *scratch(size_t rows, size_t cols)
{
    size_t count;
    if (lmr_array_count(&count, rows, cols) != LMR_OK)
        return NULL;
    return calloc(count ? count : 1, sizeof(double));
}

/* ---- view helpers -------------------------------------------------------- */

/* Non-zero when the view has no elements (an absent optional matrix). */
static int mat_empty(lmr_mat m) { return m.rows == 0 || m.cols == 0; }

/* Non-zero unless out is rows x cols. */
static int out_wrong(lmr_mat_out out, size_t rows, size_t cols)
{
    return out.rows != rows || out.cols != cols;
}

/* Non-zero when a rows x cols array of doubles does not fit in size_t bytes
 * (an array the op derives: its logits, its scratch). */
static int derived_too_big(size_t rows, size_t cols)
{
    size_t count;
    return lmr_array_count(&count, rows, cols) != LMR_OK;
}

/* An output's status: LMR_EINVAL without data, LMR_EDIM unless rows x cols. */
static enum lmr_status check_out(lmr_mat_out out, size_t rows, size_t cols)
{
    if (lmr_mat_out_missing(out))
        return LMR_EINVAL;
    return out_wrong(out, rows, cols) ? LMR_EDIM : LMR_OK;
}

/* The status of two outputs: both for LMR_EINVAL, then both for LMR_EDIM. */
static enum lmr_status check_out_pair(lmr_mat_out a, lmr_mat_out b, size_t rows,
                                      size_t cols)
{
    if (lmr_mat_out_missing(a) || lmr_mat_out_missing(b))
        return LMR_EINVAL;
    return out_wrong(a, rows, cols) || out_wrong(b, rows, cols) ? LMR_EDIM
                                                                : LMR_OK;
}

/* A view of rows x cols doubles at data. */
static lmr_mat_out out_of(double *data, size_t rows, size_t cols)
{
    return lmr_mat_out_of(data, rows, cols);
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

/* Non-zero when F is a d x free matrix; with free = 0, F has no columns. */
static int partial_F_fits(lmr_mat F, size_t d, size_t free_cols)
{
    if (free_cols == 0)
        return F.cols == 0 && (F.rows == d || F.rows == 0);
    return F.rows == d && F.cols == free_cols;
}

enum lmr_status lmr_head_partial_check(lmr_mat h, lmr_mat E, lmr_mat F,
                                       int64_t k)
{
    if (lmr_mat_missing(h) || lmr_mat_missing(E) || lmr_mat_missing(F))
        return LMR_EINVAL;
    size_t d = h.cols, vocab = E.rows;
    int k_in_range = k >= 0 && (uint64_t)k <= vocab;
    if (d == 0 || vocab == 0 || E.cols != d ||
        (k_in_range && !partial_F_fits(F, d, vocab - (size_t)k)))
        return LMR_EDIM;
    if (lmr_mat_too_big(h) || lmr_mat_too_big(E) || lmr_mat_too_big(F) ||
        derived_too_big(h.rows, vocab))
        return LMR_EOVERFLOW;
    if (!k_in_range)
        return LMR_EDOMAIN;
    if (lmr_check_finite_mat(h) != LMR_OK ||
        lmr_check_finite_mat(E) != LMR_OK || lmr_check_finite_mat(F) != LMR_OK)
        return LMR_ENONFINITE;
    return LMR_OK;
}

enum lmr_status lmr_head_partial(lmr_mat_out logits, lmr_mat h, lmr_mat E,
                                 lmr_mat F, int64_t k)
{
    enum lmr_status status = lmr_head_partial_check(h, E, F, k);
    if (status == LMR_OK)
        status = check_out(logits, h.rows, E.rows);
    if (status != LMR_OK)
        return status;
    size_t n = h.rows, vocab = E.rows, d = h.cols, shared = (size_t)k;
    if (shared == vocab)
        return lmr_head_tied(logits, h, E);
    if (shared == 0)
        return lmr_head_untied(logits, h, F, lmr_vec_absent());
    double *tied = scratch(n, shared), *free_part = scratch(n, vocab - shared);
    status = (tied && free_part) ? LMR_OK : LMR_ENOMEM;
    if (status == LMR_OK) /* rows 0..k-1 of E are the shared output vectors */
        status = lmr_head_tied(out_of(tied, n, shared), h,
                               lmr_mat_of(E.data, shared, d));
    if (status == LMR_OK)
        status = lmr_head_untied(out_of(free_part, n, vocab - shared), h, F,
                                 lmr_vec_absent());
    if (status == LMR_OK)
        join_columns(logits.data, tied, free_part, n, vocab, shared);
    free(tied);
    free(free_part);
    return status;
}

/* ---- transformed tying ------------------------------------------------ */

enum lmr_status lmr_head_transformed_check(lmr_mat h, lmr_mat T, lmr_mat E)
{
    if (lmr_mat_missing(h) || lmr_mat_missing(T) || lmr_mat_missing(E))
        return LMR_EINVAL;
    size_t d = h.cols;
    if (d == 0 || E.rows == 0 || T.rows != d || T.cols != d || E.cols != d)
        return LMR_EDIM;
    if (lmr_mat_too_big(h) || lmr_mat_too_big(T) || lmr_mat_too_big(E) ||
        derived_too_big(h.rows, E.rows))
        return LMR_EOVERFLOW;
    if (lmr_check_finite_mat(h) != LMR_OK ||
        lmr_check_finite_mat(T) != LMR_OK || lmr_check_finite_mat(E) != LMR_OK)
        return LMR_ENONFINITE;
    return LMR_OK;
}

enum lmr_status lmr_head_transformed(lmr_mat_out logits, lmr_mat h, lmr_mat T,
                                     lmr_mat E)
{
    enum lmr_status status = lmr_head_transformed_check(h, T, E);
    if (status == LMR_OK)
        status = check_out(logits, h.rows, E.rows);
    if (status != LMR_OK)
        return status;
    size_t n = h.rows, d = h.cols;
    double *hT = scratch(n, d); /* (n,d): h T, one untied head of width d */
    if (hT == NULL)
        return LMR_ENOMEM;
    status = lmr_head_untied(out_of(hT, n, d), h, T, lmr_vec_absent());
    if (status == LMR_OK)
        status = lmr_head_tied(logits, lmr_mat_of(hT, n, d), E);
    free(hT);
    return status;
}

enum lmr_status lmr_head_transformed_hidden(lmr_mat_out hT, lmr_mat h,
                                            lmr_mat T)
{
    if (lmr_mat_missing(h) || lmr_mat_missing(T))
        return LMR_EINVAL;
    if (T.cols != h.cols)
        return LMR_EDIM;
    return lmr_head_untied(hT, h, T, lmr_vec_absent());
}

/* ---- adaptive tying --------------------------------------------------- */

/* The views and sizes of adaptive tying: LMR_EINVAL, LMR_EDIM, LMR_EOVERFLOW. */
static enum lmr_status adaptive_shapes(lmr_mat h, lmr_mat E, lmr_mat F)
{
    if (lmr_mat_missing(h) || lmr_mat_missing(E) || lmr_mat_missing(F))
        return LMR_EINVAL;
    size_t d = h.cols, vocab = E.rows;
    if (d == 0 || vocab == 0 || E.cols != d || F.rows != d || F.cols != vocab)
        return LMR_EDIM;
    if (lmr_mat_too_big(h) || lmr_mat_too_big(E) || lmr_mat_too_big(F) ||
        derived_too_big(h.rows, vocab))
        return LMR_EOVERFLOW;
    return LMR_OK;
}

/* The entries of adaptive tying's inputs: LMR_ENONFINITE. */
static enum lmr_status adaptive_entries(lmr_mat h, lmr_mat E, lmr_mat F)
{
    if (lmr_check_finite_mat(h) != LMR_OK ||
        lmr_check_finite_mat(E) != LMR_OK || lmr_check_finite_mat(F) != LMR_OK)
        return LMR_ENONFINITE;
    return LMR_OK;
}

enum lmr_status lmr_head_adaptive_check(lmr_mat h, lmr_mat E, lmr_mat F,
                                        double alpha)
{
    enum lmr_status status = adaptive_shapes(h, E, F);
    if (status != LMR_OK)
        return status;
    if (isnan(alpha))
        return LMR_ENONFINITE;
    if (!(alpha >= 0.0 && alpha <= 1.0))
        return LMR_EDOMAIN;
    return adaptive_entries(h, E, F);
}

/* The tied logits h E^T and the free logits h F, (n,vocab) each. */
static enum lmr_status adaptive_parts(lmr_mat_out tied, lmr_mat_out untied,
                                      lmr_mat h, lmr_mat E, lmr_mat F)
{
    enum lmr_status status = lmr_head_tied(tied, h, E);
    if (status == LMR_OK)
        status = lmr_head_untied(untied, h, F, lmr_vec_absent());
    return status;
}

enum lmr_status lmr_head_adaptive_parts(lmr_mat_out tied, lmr_mat_out untied,
                                        lmr_mat h, lmr_mat E, lmr_mat F)
{
    enum lmr_status status = adaptive_shapes(h, E, F);
    if (status == LMR_OK)
        status = adaptive_entries(h, E, F);
    if (status == LMR_OK)
        status = check_out_pair(tied, untied, h.rows, E.rows);
    if (status != LMR_OK)
        return status;
    return adaptive_parts(tied, untied, h, E, F);
}

enum lmr_status lmr_head_adaptive(lmr_mat_out logits, lmr_mat h, lmr_mat E,
                                  lmr_mat F, double alpha)
{
    enum lmr_status status = lmr_head_adaptive_check(h, E, F, alpha);
    if (status == LMR_OK)
        status = check_out(logits, h.rows, E.rows);
    if (status != LMR_OK)
        return status;
    size_t n = h.rows, vocab = E.rows;
    double *tied = scratch(n, vocab), *untied = scratch(n, vocab);
    status = (tied && untied) ? LMR_OK : LMR_ENOMEM;
    if (status == LMR_OK)
        status = adaptive_parts(out_of(tied, n, vocab),
                                out_of(untied, n, vocab), h, E, F);
    for (size_t i = 0; status == LMR_OK && i < n * vocab; i++)
        logits.data[i] = alpha * tied[i] + (1.0 - alpha) * untied[i];
    free(tied);
    free(untied);
    return status;
}

/* ---- MLP head --------------------------------------------------------- */

/* ReLU; ReLU(0) = 0. */
static double relu(double a) { return a > 0.0 ? a : 0.0; }

/* hidden (n,m) = ReLU(h W1 + b1), and the pre-activation h W1 + b1 into
 * pre (n,m) unless it is NULL. */
static enum lmr_status mlp_hidden(double *pre, lmr_mat_out hidden, lmr_mat h,
                                  lmr_mat W1, lmr_vec b1)
{
    enum lmr_status status = lmr_head_untied(hidden, h, W1, b1);
    for (size_t i = 0; status == LMR_OK && i < hidden.rows * hidden.cols; i++) {
        if (pre != NULL)
            pre[i] = hidden.data[i];
        hidden.data[i] = relu(hidden.data[i]);
    }
    return status;
}

enum lmr_status lmr_head_mlp_hidden(lmr_mat_out pre, lmr_mat_out hidden,
                                    lmr_mat h, lmr_mat W1, lmr_vec b1)
{
    enum lmr_status status = lmr_head_untied_check(h, W1, b1);
    if (status == LMR_OK)
        status = check_out_pair(pre, hidden, h.rows, W1.cols);
    if (status != LMR_OK)
        return status;
    return mlp_hidden(pre.data, hidden, h, W1, b1);
}

/* The MLP head's output matrix, W2 (m,vocab) or the tied form's E (vocab,d). */
static lmr_mat mlp_output_matrix(const lmr_head_mlp_weights *w)
{
    return mat_empty(w->W2) ? w->E : w->W2;
}

/* vocab of the MLP head: W2.cols, or E.rows in the tied form. */
static size_t mlp_vocab(const lmr_head_mlp_weights *w)
{
    return mat_empty(w->W2) ? w->E.rows : w->W2.cols;
}

/* The MLP head's shapes: LMR_EDIM unless they agree. */
static int mlp_shapes_agree(lmr_mat h, const lmr_head_mlp_weights *w)
{
    size_t d = h.cols, m = w->W1.cols, vocab = mlp_vocab(w);
    int tied = mat_empty(w->W2);
    if (d == 0 || m == 0 || vocab == 0 || w->W1.rows != d)
        return 0;
    if (tied ? (w->E.cols != d || m != d) : w->W2.rows != m)
        return 0;
    return (w->b1.len == 0 || w->b1.len == m) &&
           (w->b2.len == 0 || w->b2.len == vocab);
}

enum lmr_status lmr_head_mlp_check(lmr_mat h, const lmr_head_mlp_weights *w)
{
    if (w == NULL)
        return LMR_EINVAL;
    lmr_mat out = mlp_output_matrix(w);
    if (lmr_mat_missing(h) || lmr_mat_missing(w->W1) ||
        lmr_vec_missing(w->b1) || lmr_mat_missing(out) ||
        lmr_vec_missing(w->b2))
        return LMR_EINVAL;
    if (!mlp_shapes_agree(h, w))
        return LMR_EDIM;
    if (lmr_mat_too_big(h) || lmr_mat_too_big(w->W1) || lmr_mat_too_big(out) ||
        lmr_vec_too_big(w->b1) || lmr_vec_too_big(w->b2) ||
        derived_too_big(h.rows, w->W1.cols) ||
        derived_too_big(h.rows, mlp_vocab(w)))
        return LMR_EOVERFLOW;
    if (lmr_check_finite_mat(h) != LMR_OK ||
        lmr_check_finite_mat(w->W1) != LMR_OK ||
        lmr_check_finite_vec(w->b1) != LMR_OK ||
        lmr_check_finite_mat(out) != LMR_OK ||
        lmr_check_finite_vec(w->b2) != LMR_OK)
        return LMR_ENONFINITE;
    return LMR_OK;
}

enum lmr_status lmr_head_mlp(lmr_mat_out logits, lmr_mat h,
                             const lmr_head_mlp_weights *w)
{
    enum lmr_status status = lmr_head_mlp_check(h, w);
    if (status == LMR_OK)
        status = check_out(logits, h.rows, mlp_vocab(w));
    if (status != LMR_OK)
        return status;
    size_t n = h.rows, m = w->W1.cols, vocab = mlp_vocab(w);
    int tied = mat_empty(w->W2);
    double *hidden = scratch(n, m);  /* (n,m) */
    double *out = scratch(n, vocab); /* (n,vocab) */
    status = (hidden && out) ? LMR_OK : LMR_ENOMEM;
    if (status == LMR_OK)
        status = mlp_hidden(NULL, out_of(hidden, n, m), h, w->W1, w->b1);
    if (status == LMR_OK && !tied)
        status = lmr_head_untied(out_of(out, n, vocab),
                                 lmr_mat_of(hidden, n, m), w->W2, w->b2);
    else if (status == LMR_OK)
        status = lmr_head_tied(out_of(out, n, vocab), lmr_mat_of(hidden, n, m),
                               w->E);
    for (size_t t = 0; status == LMR_OK && tied && w->b2.len && t < n; t++)
        for (size_t v = 0; v < vocab; v++)
            out[t * vocab + v] += w->b2.data[v];
    if (status == LMR_OK && n > 0)
        memcpy(logits.data, out, n * vocab * sizeof(double));
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
                largest = fmax(largest,
                               log_weight[t * K + k] +
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
static enum lmr_status check_weights(lmr_vec alpha)
{
    double total = 0.0;
    if (lmr_check_finite_vec(alpha) != LMR_OK)
        return LMR_ENONFINITE;
    for (size_t k = 0; k < alpha.len; k++) {
        if (alpha.data[k] < 0.0)
            return LMR_EDOMAIN;
        total += alpha.data[k];
    }
    return total > 0.0 ? LMR_OK : LMR_EDOMAIN;
}

/* Copies probs and logprobs (n,vocab) out of scratch on success. */
static enum lmr_status publish_pair(lmr_mat_out probs, lmr_mat_out logprobs,
                                    const double *p, const double *lp,
                                    enum lmr_status status)
{
    size_t count = probs.rows * probs.cols;
    if (status == LMR_OK && count > 0) {
        memcpy(probs.data, p, count * sizeof(double));
        memcpy(logprobs.data, lp, count * sizeof(double));
    }
    return status;
}

enum lmr_status lmr_mos_fixed_check(lmr_mat h, lmr_stack W, lmr_vec alpha)
{
    if (lmr_mat_missing(h) || lmr_stack_missing(W) || lmr_vec_missing(alpha))
        return LMR_EINVAL;
    size_t n = h.rows, d = h.cols, K = W.count, vocab = W.cols;
    if (K == 0 || d == 0 || vocab == 0 || W.rows != d || alpha.len != K)
        return LMR_EDIM;
    if (lmr_mat_too_big(h) || lmr_stack_too_big(W) || lmr_vec_too_big(alpha) ||
        derived_too_big(n, vocab) || derived_too_big(K, n) ||
        derived_too_big(K * n, vocab))
        return LMR_EOVERFLOW;
    if (lmr_check_finite_mat(h) != LMR_OK ||
        lmr_check_finite_stack(W) != LMR_OK)
        return LMR_ENONFINITE;
    return check_weights(alpha);
}

/* The normalised weights as logs, log(alpha_k / sum_j alpha_j), into
 * log_weight (K), and each component's log softmax(h W_k) into components
 * (K,n,vocab). */
static enum lmr_status fixed_components(double *log_weight, double *components,
                                        lmr_mat h, lmr_stack W, lmr_vec alpha)
{
    size_t n = h.rows, d = h.cols, vocab = W.cols, K = W.count;
    double total = 0.0;
    enum lmr_status status = LMR_OK;
    for (size_t k = 0; k < K; k++)
        total += alpha.data[k];
    for (size_t k = 0; status == LMR_OK && k < K; k++) {
        double *block = components + k * n * vocab; /* component k */
        status = lmr_head_untied(out_of(block, n, vocab), h,
                                 lmr_mat_of(W.data + k * d * vocab, d, vocab),
                                 lmr_vec_absent());
        if (status == LMR_OK)
            status = lmr_log_softmax(out_of(block, n, vocab),
                                     lmr_mat_of(block, n, vocab), 1.0);
        log_weight[k] = log(alpha.data[k] / total);
    }
    return status;
}

enum lmr_status lmr_mos_fixed_components(lmr_vec_out log_weight,
                                         lmr_stack_out components, lmr_mat h,
                                         lmr_stack W, lmr_vec alpha)
{
    enum lmr_status status = lmr_mos_fixed_check(h, W, alpha);
    if (status != LMR_OK)
        return status;
    if (lmr_vec_out_missing(log_weight) || lmr_stack_out_missing(components))
        return LMR_EINVAL;
    if (log_weight.len != W.count || components.count != W.count ||
        components.rows != h.rows || components.cols != W.cols)
        return LMR_EDIM;
    return fixed_components(log_weight.data, components.data, h, W, alpha);
}

enum lmr_status lmr_mos_fixed_compute(const lmr_mos_fixed_parts *parts,
                                      lmr_mat h, lmr_stack W, lmr_vec alpha)
{
    size_t n = h.rows, vocab = W.cols, K = W.count;
    enum lmr_status status = fixed_components(parts->log_weight,
                                              parts->components, h, W, alpha);
    for (size_t t = 1; status == LMR_OK && t < n; t++) /* the same each row */
        memcpy(parts->log_weight + t * K, parts->log_weight,
               K * sizeof(double));
    if (status == LMR_OK)
        mix_components(parts->probs, parts->logprobs, parts->components,
                       parts->log_weight, n, vocab, K);
    return status;
}

enum lmr_status lmr_mos_fixed(lmr_mat_out probs, lmr_mat_out logprobs,
                              lmr_mat h, lmr_stack W, lmr_vec alpha)
{
    enum lmr_status status = lmr_mos_fixed_check(h, W, alpha);
    if (status == LMR_OK)
        status = check_out_pair(probs, logprobs, h.rows, W.cols);
    if (status != LMR_OK)
        return status;
    size_t n = h.rows, vocab = W.cols, K = W.count;
    lmr_mos_fixed_parts parts = {
        .components = scratch(K * n, vocab),
        .log_weight = scratch(n ? n : 1, K), /* row 0 even if n = 0 */
        .probs = scratch(n, vocab),
        .logprobs = scratch(n, vocab)};
    status = (parts.components && parts.log_weight && parts.probs &&
              parts.logprobs)
                 ? LMR_OK
                 : LMR_ENOMEM;
    if (status == LMR_OK)
        status = lmr_mos_fixed_compute(&parts, h, W, alpha);
    status = publish_pair(probs, logprobs, parts.probs, parts.logprobs, status);
    free(parts.components);
    free(parts.log_weight);
    free(parts.probs);
    free(parts.logprobs);
    return status;
}

/* The gated mixture's output matrix, W_out (d,vocab) or the tied E (vocab,d). */
static lmr_mat gated_output_matrix(const lmr_mos_gated_params *p)
{
    return mat_empty(p->W_out) ? p->E : p->W_out;
}

/* vocab of the gated mixture: W_out.cols, or E.rows in the tied form. */
static size_t gated_vocab(const lmr_mos_gated_params *p)
{
    return mat_empty(p->W_out) ? p->E.rows : p->W_out.cols;
}

/* Non-zero when the gated mixture's shapes agree. */
static int gated_shapes_agree(lmr_mat h, const lmr_mos_gated_params *p)
{
    size_t d = h.cols, K = p->W_pi.cols, vocab = gated_vocab(p);
    int tied = mat_empty(p->W_out);
    if (d == 0 || K == 0 || vocab == 0 || p->W_pi.rows != d)
        return 0;
    if (p->W_comp.count != K || p->W_comp.rows != d || p->W_comp.cols != d ||
        p->b_comp.rows != K || p->b_comp.cols != d)
        return 0;
    if (tied ? p->E.cols != d : p->W_out.rows != d)
        return 0;
    return p->b_out.len == 0 || p->b_out.len == vocab;
}

/* Non-zero when a size the gated mixture or its backward derives overflows:
 * (n,vocab), (n,K), and the components' (K,n,vocab) and (K,n,d). */
static int gated_derived_too_big(size_t n, size_t vocab, size_t d, size_t K)
{
    return derived_too_big(n, vocab) || derived_too_big(n, K) ||
           derived_too_big(K, n) || derived_too_big(K * n, vocab) ||
           derived_too_big(K * n, d);
}

enum lmr_status lmr_mos_gated_check(lmr_mat h, const lmr_mos_gated_params *p)
{
    if (p == NULL)
        return LMR_EINVAL;
    lmr_mat out = gated_output_matrix(p);
    if (lmr_mat_missing(h) || lmr_mat_missing(p->W_pi) ||
        lmr_stack_missing(p->W_comp) || lmr_mat_missing(p->b_comp) ||
        lmr_mat_missing(out) || lmr_vec_missing(p->b_out))
        return LMR_EINVAL;
    if (!gated_shapes_agree(h, p))
        return LMR_EDIM;
    if (lmr_mat_too_big(h) || lmr_mat_too_big(p->W_pi) ||
        lmr_stack_too_big(p->W_comp) || lmr_mat_too_big(p->b_comp) ||
        lmr_mat_too_big(out) || lmr_vec_too_big(p->b_out) ||
        gated_derived_too_big(h.rows, gated_vocab(p), h.cols, p->W_pi.cols))
        return LMR_EOVERFLOW;
    if (lmr_check_finite_mat(h) != LMR_OK ||
        lmr_check_finite_mat(p->W_pi) != LMR_OK ||
        lmr_check_finite_stack(p->W_comp) != LMR_OK ||
        lmr_check_finite_mat(p->b_comp) != LMR_OK ||
        lmr_check_finite_mat(out) != LMR_OK ||
        lmr_check_finite_vec(p->b_out) != LMR_OK)
        return LMR_ENONFINITE;
    return LMR_OK;
}

/* Component k of the gated mixture: log softmax(tanh(h W_k + b_k) W_out +
 * b_out) into block (n,vocab), with gate scratch (n,d). */
static enum lmr_status gated_component(double *block, double *gate, lmr_mat h,
                                       const lmr_mos_gated_params *p, size_t k)
{
    size_t n = h.rows, d = h.cols, vocab = gated_vocab(p);
    int tied = mat_empty(p->W_out);
    lmr_mat W_k = lmr_mat_of(p->W_comp.data + k * d * d, d, d);
    lmr_vec b_k = lmr_vec_of(p->b_comp.data + k * d, d);
    enum lmr_status status = lmr_head_untied(out_of(gate, n, d), h, W_k, b_k);
    for (size_t i = 0; status == LMR_OK && i < n * d; i++)
        gate[i] = tanh(gate[i]);
    if (status == LMR_OK && !tied)
        status = lmr_head_untied(out_of(block, n, vocab),
                                 lmr_mat_of(gate, n, d), p->W_out, p->b_out);
    else if (status == LMR_OK)
        status = lmr_head_tied(out_of(block, n, vocab), lmr_mat_of(gate, n, d),
                               p->E);
    for (size_t t = 0; status == LMR_OK && tied && p->b_out.len && t < n; t++)
        for (size_t v = 0; v < vocab; v++)
            block[t * vocab + v] += p->b_out.data[v];
    if (status == LMR_OK)
        status = lmr_log_softmax(out_of(block, n, vocab),
                                 lmr_mat_of(block, n, vocab), 1.0);
    return status;
}

/* The mixture weights pi = softmax(h W_pi), as logs, into log_pi (n,K). */
static enum lmr_status gate_log_weights(lmr_mat_out log_pi, lmr_mat h,
                                        lmr_mat W_pi)
{
    enum lmr_status status = lmr_head_untied(log_pi, h, W_pi, lmr_vec_absent());
    if (status == LMR_OK)
        status = lmr_log_softmax(log_pi, lmr_mat_in(log_pi), 1.0);
    return status;
}

enum lmr_status lmr_mos_gated_weights(lmr_mat_out log_pi, lmr_mat h,
                                      lmr_mat W_pi)
{
    enum lmr_status status = lmr_head_untied_check(h, W_pi, lmr_vec_absent());
    if (status == LMR_OK)
        status = check_out(log_pi, h.rows, W_pi.cols);
    if (status != LMR_OK)
        return status;
    return gate_log_weights(log_pi, h, W_pi);
}

enum lmr_status lmr_mos_gated(lmr_mat_out probs, lmr_mat_out logprobs,
                              lmr_mat h, const lmr_mos_gated_params *p)
{
    enum lmr_status status = lmr_mos_gated_check(h, p);
    if (status == LMR_OK)
        status = check_out_pair(probs, logprobs, h.rows, gated_vocab(p));
    if (status != LMR_OK)
        return status;
    size_t n = h.rows, d = h.cols, vocab = gated_vocab(p), K = p->W_pi.cols;
    double *components = scratch(K * n, vocab); /* (K,n,vocab) log-probs */
    double *log_pi = scratch(n, K);             /* (n,K) */
    double *gate = scratch(n, d), *pr = scratch(n, vocab),
           *lp = scratch(n, vocab);
    status = (components && log_pi && gate && pr && lp) ? LMR_OK : LMR_ENOMEM;
    if (status == LMR_OK)
        status = gate_log_weights(out_of(log_pi, n, K), h, p->W_pi);
    for (size_t k = 0; status == LMR_OK && k < K; k++)
        status = gated_component(components + k * n * vocab, gate, h, p, k);
    if (status == LMR_OK)
        mix_components(pr, lp, components, log_pi, n, vocab, K);
    status = publish_pair(probs, logprobs, pr, lp, status);
    free(components);
    free(log_pi);
    free(gate);
    free(pr);
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

/* LMR_EINDEX if a target outside [0, vocab) is not ignore_index. */
static enum lmr_status check_targets(lmr_ids targets, size_t vocab,
                                     int64_t ignore_index)
{
    for (size_t t = 0; t < targets.len; t++) {
        int64_t c = targets.data[t];
        if (c != ignore_index && (c < 0 || (uint64_t)c >= vocab))
            return LMR_EINDEX;
    }
    return LMR_OK;
}

/* The soft-tying loss's parameters: LMR_ENONFINITE, then LMR_EDOMAIN. */
static enum lmr_status soft_tie_params(double lambda,
                                       enum lmr_reduction reduction,
                                       int64_t ignore_index, size_t vocab)
{
    if (!isfinite(lambda))
        return LMR_ENONFINITE;
    if (lambda < 0.0 ||
        (reduction != LMR_REDUCE_SUM && reduction != LMR_REDUCE_MEAN))
        return LMR_EDOMAIN;
    if (ignore_index >= 0 && (uint64_t)ignore_index < vocab)
        return LMR_EDOMAIN;
    return LMR_OK;
}

enum lmr_status lmr_soft_tie_loss_check(lmr_mat h,
                                        const lmr_soft_tie_weights *w,
                                        lmr_ids targets, double lambda,
                                        enum lmr_reduction reduction,
                                        int64_t ignore_index)
{
    if (w == NULL || lmr_mat_missing(h) || lmr_mat_missing(w->E) ||
        lmr_mat_missing(w->W) || lmr_ids_missing(targets))
        return LMR_EINVAL;
    size_t d = h.cols, vocab = w->E.rows;
    if (d == 0 || vocab == 0 || w->E.cols != d || w->W.rows != d ||
        w->W.cols != vocab || targets.len != h.rows)
        return LMR_EDIM;
    if (lmr_mat_too_big(h) || lmr_mat_too_big(w->E) || lmr_mat_too_big(w->W) ||
        lmr_ids_too_big(targets) || derived_too_big(h.rows, vocab))
        return LMR_EOVERFLOW;
    enum lmr_status status = soft_tie_params(lambda, reduction, ignore_index,
                                             vocab);
    if (status != LMR_OK)
        return status;
    if (lmr_check_finite_mat(h) != LMR_OK ||
        lmr_check_finite_mat(w->E) != LMR_OK ||
        lmr_check_finite_mat(w->W) != LMR_OK)
        return LMR_ENONFINITE;
    return check_targets(targets, vocab, ignore_index);
}

enum lmr_status lmr_soft_tie_loss(lmr_soft_tie *out, lmr_mat h,
                                  const lmr_soft_tie_weights *w,
                                  lmr_ids targets, double lambda,
                                  enum lmr_reduction reduction,
                                  int64_t ignore_index)
{
    enum lmr_status status = lmr_soft_tie_loss_check(h, w, targets, lambda,
                                                     reduction, ignore_index);
    if (status == LMR_OK && out == NULL)
        status = LMR_EINVAL;
    if (status != LMR_OK)
        return status;
    size_t n = h.rows, d = h.cols, vocab = w->E.rows;
    double *logits = scratch(n, vocab); /* (n,vocab) */
    double cross_entropy = 0.0;
    status = logits ? LMR_OK : LMR_ENOMEM;
    if (status == LMR_OK)
        status = lmr_head_untied(out_of(logits, n, vocab), h, w->W,
                                 lmr_vec_absent());
    if (status == LMR_OK)
        status = lmr_cross_entropy(lmr_vec_out_of(&cross_entropy, 1),
                                   lmr_mat_of(logits, n, vocab), targets,
                                   reduction, ignore_index);
    free(logits);
    if (status != LMR_OK)
        return status;
    out->penalty = tying_penalty(w->E.data, w->W.data, vocab, d);
    out->cross_entropy = cross_entropy;
    out->loss = cross_entropy + lambda * out->penalty;
    return LMR_OK;
}
