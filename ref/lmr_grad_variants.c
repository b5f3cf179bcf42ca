/*
 * lmr_grad_variants.c -- backward of the head variants
 * (spec/gradients.md#head_partial_backward ... #soft_tie_loss_backward).
 *
 * Method. Each variant is built from the backward of the plain heads
 * (lmr_head_tied_backward, lmr_head_untied_backward) and the forward ops of
 * lmr_head.c, lmr_softmax.c and lmr_variants.c, so a variant adds only what
 * distinguishes it, as its forward does:
 *   partial      the tied backward on columns v < k, the untied one on the rest
 *   transformed  q = h T; (r, dE) from the tied backward with q; then
 *                (dh, dT) from the untied backward of h T with upstream r
 *   adaptive     alpha times the tied backward plus (1 - alpha) times the
 *                untied one; dalpha = sum dU (h E^T - h F)
 *   MLP          the output layer's backward, the ReLU mask, the first layer's
 *   mixtures     the responsibilities omega_{k,v} = weight_k p_{k,v} / y_v,
 *                computed as weight_k exp(log p_{k,v} - log y_v) from the
 *                log-probabilities of the forward ops (each in [0, 1], no
 *                0/0), give each component's logit gradient delta_k; the
 *                component heads' backward does the rest
 *   soft tying   the cross-entropy backward through the untied head, plus
 *                the penalty's 2 lambda dloss (W - E^T)
 * Every backward validates through its forward's check (lmr_<op>_check of
 * lmr_variants.h), so bad input gets exactly the forward's error codes, then
 * its upstream gradient and its outputs (spec/api.md#error-order). The fixed
 * mixture runs its forward op for log y; the gated mixture computes its
 * forward's values once, here, keeping what its gradient needs.
 *
 * Sizes are checked for overflow (by the checks) before anything is
 * allocated. Results are assembled in scratch arrays and copied out at the
 * end, so nothing is written unless the call returns LMR_OK.
 *
 * Accuracy: spec/tolerance.md#gradients (a running error bound, K = 2).
 */
#include "lmr_grad_variants.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lmr_check.h"
#include "lmr_grad_head.h"
#include "lmr_head.h"
#include "lmr_mixture.h"
#include "lmr_status.h"
#include "lmr_variants.h"

/* ---- scratch arrays and small helpers ----------------------------------- */

enum { POOL_CAPACITY = 24 };

/* The scratch arrays of one call, freed together by pool_free. */
typedef struct {
    double *arrays[POOL_CAPACITY];
    size_t used;
    int failed; /* non-zero once an allocation failed */
} scratch_pool;

/* A zeroed rows*cols array (at least one entry) owned by the pool; NULL and
 * pool->failed set on failure. The caller's check has bounded rows*cols. */
static double *pool_take(scratch_pool *pool, size_t rows, size_t cols)
{
    size_t count = rows * cols;
    double *array = NULL;
    if (pool->used < POOL_CAPACITY)
        array = calloc(count ? count : 1, sizeof(double));
    if (array == NULL) {
        pool->failed = 1;
        return NULL;
    }
    pool->arrays[pool->used++] = array;
    return array;
}

static void pool_free(scratch_pool *pool)
{
    for (size_t i = 0; i < pool->used; i++)
        free(pool->arrays[i]);
    pool->used = 0;
}

/* Copies scratch (count) to out; count may be 0 with a NULL out. */
static void copy_out(double *out, const double *scratch_array, size_t count)
{
    if (count > 0)
        memcpy(out, scratch_array, count * sizeof(double));
}

/* y (count) += x (count). */
static void add_into(double *y, const double *x, size_t count)
{
    for (size_t i = 0; i < count; i++)
        y[i] += x[i];
}

/* sums (cols) = the column sums of matrix (rows,cols). */
static void column_sums(double *sums, const double *matrix, size_t rows,
                        size_t cols)
{
    for (size_t v = 0; v < cols; v++)
        sums[v] = 0.0;
    for (size_t t = 0; t < rows; t++)
        add_into(sums, matrix + t * cols, cols);
}

/* A view of rows x cols doubles at data, as an output and as an input. */
static lmr_mat_out out_of(double *data, size_t rows, size_t cols)
{
    return lmr_mat_out_of(data, rows, cols);
}

static lmr_mat in_of(const double *data, size_t rows, size_t cols)
{
    return lmr_mat_of(data, rows, cols);
}

/* An upstream gradient that must be rows x cols: LMR_EINVAL, LMR_EDIM,
 * LMR_ENONFINITE (spec/api.md#error-order, group 2). */
static enum lmr_status check_upstream(lmr_mat upstream, size_t rows,
                                      size_t cols)
{
    if (lmr_mat_missing(upstream))
        return LMR_EINVAL;
    if (upstream.rows != rows || upstream.cols != cols)
        return LMR_EDIM;
    if (lmr_check_finite_mat(upstream) != LMR_OK)
        return LMR_ENONFINITE;
    return LMR_OK;
}

/* Non-zero unless out is rows x cols. */
static int out_wrong(lmr_mat_out out, size_t rows, size_t cols)
{
    return out.rows != rows || out.cols != cols;
}

/* Three outputs (the common case dh, then two weight gradients): each for
 * LMR_EINVAL, then each for LMR_EDIM against shapes (3, 2). */
static enum lmr_status check_three_outputs(lmr_mat_out a, lmr_mat_out b,
                                           lmr_mat_out c,
                                           const size_t (*shapes)[2])
{
    if (lmr_mat_out_missing(a) || lmr_mat_out_missing(b) ||
        lmr_mat_out_missing(c))
        return LMR_EINVAL;
    if (out_wrong(a, shapes[0][0], shapes[0][1]) ||
        out_wrong(b, shapes[1][0], shapes[1][1]) ||
        out_wrong(c, shapes[2][0], shapes[2][1]))
        return LMR_EDIM;
    return LMR_OK;
}

/* Non-zero when the view has no elements (an absent optional matrix). */
static int mat_empty(lmr_mat m) { return m.rows == 0 || m.cols == 0; }

/* ---- partial tying ------------------------------------------------------ */

/* Splits in (n,vocab) into its first k columns left (n,k) and the rest
 * right (n,vocab-k). */
static void split_columns(double *left, double *right, const double *in,
                          size_t n, size_t vocab, size_t k)
{
    for (size_t t = 0; t < n; t++) {
        copy_out(left + t * k, in + t * vocab, k);
        copy_out(right + t * (vocab - k), in + t * vocab + k, vocab - k);
    }
}

/* The outputs of the partial backward; dF has no columns when k = vocab
 * (then it may be the empty view). */
static enum lmr_status check_partial_outputs(lmr_mat_out dh, lmr_mat_out dE,
                                             lmr_mat_out dF, size_t n,
                                             size_t vocab, size_t d, size_t k)
{
    if (lmr_mat_out_missing(dh) || lmr_mat_out_missing(dE) ||
        lmr_mat_out_missing(dF))
        return LMR_EINVAL;
    int dF_fits = k == vocab ? dF.cols == 0 && (dF.rows == d || dF.rows == 0)
                             : !out_wrong(dF, d, vocab - k);
    if (out_wrong(dh, n, d) || out_wrong(dE, vocab, d) || !dF_fits)
        return LMR_EDIM;
    return LMR_OK;
}

enum lmr_status lmr_head_partial_backward(lmr_mat_out dh, lmr_mat_out dE,
                                          lmr_mat_out dF, lmr_mat h, lmr_mat E,
                                          lmr_mat F, lmr_mat dlogits,
                                          int64_t k_param)
{
    enum lmr_status status = lmr_head_partial_check(h, E, F, k_param);
    size_t n = h.rows, d = h.cols, vocab = E.rows, k = (size_t)k_param;
    if (status == LMR_OK)
        status = check_upstream(dlogits, n, vocab);
    if (status == LMR_OK)
        status = check_partial_outputs(dh, dE, dF, n, vocab, d, k);
    if (status != LMR_OK)
        return status;
    scratch_pool pool = {0};
    double *dU_tied = pool_take(&pool, n, k);         /* (n,k) */
    double *dU_free = pool_take(&pool, n, vocab - k); /* (n,vocab-k) */
    double *dh_sum = pool_take(&pool, n, d);          /* (n,d) */
    double *dh_free = pool_take(&pool, n, d);         /* (n,d) */
    /* (vocab,d), rows >= k 0 */
    double *dE_part = pool_take(&pool, vocab, d);
    double *dF_part = pool_take(&pool, d, vocab - k); /* (d,vocab-k) */
    status = pool.failed ? LMR_ENOMEM : LMR_OK;
    if (status == LMR_OK)
        split_columns(dU_tied, dU_free, dlogits.data, n, vocab, k);
    if (status == LMR_OK && k > 0) /* rows 0..k-1 of E: the tied columns */
        status = lmr_head_tied_backward(
            out_of(dh_sum, n, d), out_of(dE_part, k, d), h, in_of(E.data, k, d),
            in_of(dU_tied, n, k));
    if (status == LMR_OK && k < vocab)
        status = lmr_head_untied_backward(
            out_of(dh_free, n, d), out_of(dF_part, d, vocab - k),
            lmr_vec_out_of(NULL, 0), h, F, in_of(dU_free, n, vocab - k));
    if (status == LMR_OK) {
        add_into(dh_sum, dh_free, n * d);
        copy_out(dh.data, dh_sum, n * d);
        copy_out(dE.data, dE_part, vocab * d);
        copy_out(dF.data, dF_part, d * (vocab - k));
    }
    pool_free(&pool);
    return status;
}

/* ---- transformed tying -------------------------------------------------- */

enum lmr_status lmr_head_transformed_backward(lmr_mat_out dh, lmr_mat_out dT,
                                              lmr_mat_out dE, lmr_mat h,
                                              lmr_mat T, lmr_mat E,
                                              lmr_mat dlogits)
{
    enum lmr_status status = lmr_head_transformed_check(h, T, E);
    size_t n = h.rows, d = h.cols, vocab = E.rows;
    const size_t shapes[3][2] = {{n, d}, {d, d}, {vocab, d}};
    if (status == LMR_OK)
        status = check_upstream(dlogits, n, vocab);
    if (status == LMR_OK)
        status = check_three_outputs(dh, dT, dE, shapes);
    if (status != LMR_OK)
        return status;
    scratch_pool pool = {0};
    double *q = pool_take(&pool, n, d);           /* (n,d): h T */
    double *r = pool_take(&pool, n, d);           /* (n,d): dU E */
    double *dh_part = pool_take(&pool, n, d);     /* (n,d) */
    double *dT_part = pool_take(&pool, d, d);     /* (d,d) */
    double *dE_part = pool_take(&pool, vocab, d); /* (vocab,d) */
    status = pool.failed ? LMR_ENOMEM : LMR_OK;
    if (status == LMR_OK)
        status = lmr_head_untied(out_of(q, n, d), h, T, lmr_vec_absent());
    if (status == LMR_OK) /* r = dU E, dE = dU^T q */
        status = lmr_head_tied_backward(out_of(r, n, d),
                                        out_of(dE_part, vocab, d),
                                        in_of(q, n, d), E, dlogits);
    if (status == LMR_OK) /* dh = r T^T, dT = h^T r */
        status = lmr_head_untied_backward(
            out_of(dh_part, n, d), out_of(dT_part, d, d),
            lmr_vec_out_of(NULL, 0), h, T, in_of(r, n, d));
    if (status == LMR_OK) {
        copy_out(dh.data, dh_part, n * d);
        copy_out(dT.data, dT_part, d * d);
        copy_out(dE.data, dE_part, vocab * d);
    }
    pool_free(&pool);
    return status;
}

/* ---- adaptive tying ----------------------------------------------------- */

/* The outputs of the adaptive backward. */
static enum lmr_status check_adaptive_outputs(const lmr_head_adaptive_grads *g,
                                              size_t n, size_t vocab, size_t d)
{
    const size_t shapes[3][2] = {{n, d}, {vocab, d}, {d, vocab}};
    if (g == NULL || g->dalpha == NULL)
        return LMR_EINVAL;
    return check_three_outputs(g->dh, g->dE, g->dF, shapes);
}

enum lmr_status lmr_head_adaptive_backward(const lmr_head_adaptive_grads *grads,
                                           lmr_mat h, lmr_mat E, lmr_mat F,
                                           lmr_mat dlogits, double alpha)
{
    enum lmr_status status = lmr_head_adaptive_check(h, E, F, alpha);
    size_t n = h.rows, d = h.cols, vocab = E.rows;
    if (status == LMR_OK)
        status = check_upstream(dlogits, n, vocab);
    if (status == LMR_OK)
        status = check_adaptive_outputs(grads, n, vocab, d);
    if (status != LMR_OK)
        return status;
    scratch_pool pool = {0};
    double *u_tied = pool_take(&pool, n, vocab);  /* (n,vocab): h E^T */
    double *u_free = pool_take(&pool, n, vocab);  /* (n,vocab): h F */
    double *dh_tied = pool_take(&pool, n, d);     /* (n,d): dU E */
    double *dh_free = pool_take(&pool, n, d);     /* (n,d): dU F^T */
    double *dE_tied = pool_take(&pool, vocab, d); /* (vocab,d): dU^T h */
    double *dF_free = pool_take(&pool, d, vocab); /* (d,vocab): h^T dU */
    status = pool.failed ? LMR_ENOMEM : LMR_OK;
    if (status == LMR_OK) /* the forward's two heads */
        status = lmr_head_tied(out_of(u_tied, n, vocab), h, E);
    if (status == LMR_OK)
        status = lmr_head_untied(out_of(u_free, n, vocab), h, F,
                                 lmr_vec_absent());
    if (status == LMR_OK)
        status = lmr_head_tied_backward(
            out_of(dh_tied, n, d), out_of(dE_tied, vocab, d), h, E, dlogits);
    if (status == LMR_OK)
        status = lmr_head_untied_backward(
            out_of(dh_free, n, d), out_of(dF_free, d, vocab),
            lmr_vec_out_of(NULL, 0), h, F, dlogits);
    if (status == LMR_OK) {
        double alpha_sum = 0.0; /* sum dU (h E^T - h F) */
        for (size_t i = 0; i < n * vocab; i++)
            alpha_sum += dlogits.data[i] * (u_tied[i] - u_free[i]);
        for (size_t i = 0; i < n * d; i++)
            grads->dh.data[i] = alpha * dh_tied[i] + (1.0 - alpha) * dh_free[i];
        for (size_t i = 0; i < vocab * d; i++) {
            grads->dE.data[i] = alpha * dE_tied[i];
            grads->dF.data[i] = (1.0 - alpha) * dF_free[i];
        }
        *grads->dalpha = alpha_sum;
    }
    pool_free(&pool);
    return status;
}

/* ---- MLP head ----------------------------------------------------------- */

/* The output layer's backward: dh1 (n,m) = dU W2^T, dW2 (m,vocab) and
 * db2 (vocab); or for the tied form (m = d) dh1 = dU E and dout holds dE
 * (vocab,d). h1: (n,m); dlogits: (n,vocab). */
static enum lmr_status mlp_output_backward(double *dh1, double *dout,
                                           double *db2, const double *h1,
                                           const lmr_head_mlp_weights *w,
                                           lmr_mat dlogits)
{
    size_t n = dlogits.rows, vocab = dlogits.cols, m = w->W1.cols;
    if (!mat_empty(w->W2))
        return lmr_head_untied_backward(
            out_of(dh1, n, m), out_of(dout, m, vocab),
            lmr_vec_out_of(db2, vocab), in_of(h1, n, m), w->W2, dlogits);
    enum lmr_status status = lmr_head_tied_backward(
        out_of(dh1, n, m), out_of(dout, vocab, m), in_of(h1, n, m), w->E,
        dlogits);
    if (status == LMR_OK)
        column_sums(db2, dlogits.data, n, vocab);
    return status;
}

/* The outputs of the MLP backward: dW2 in the untied form, dE in the tied. */
static enum lmr_status check_mlp_outputs(const lmr_head_mlp_grads *g, size_t n,
                                         size_t vocab, size_t d, size_t m,
                                         int tied)
{
    if (g == NULL)
        return LMR_EINVAL;
    lmr_mat_out dout = tied ? g->dE : g->dW2;
    if (lmr_mat_out_missing(g->dh) || lmr_mat_out_missing(g->dW1) ||
        lmr_vec_out_missing(g->db1) || lmr_mat_out_missing(dout) ||
        lmr_vec_out_missing(g->db2))
        return LMR_EINVAL;
    if (out_wrong(g->dh, n, d) || out_wrong(g->dW1, d, m) || g->db1.len != m ||
        (tied ? out_wrong(dout, vocab, d) : out_wrong(dout, m, vocab)) ||
        g->db2.len != vocab)
        return LMR_EDIM;
    return LMR_OK;
}

enum lmr_status lmr_head_mlp_backward(const lmr_head_mlp_grads *grads,
                                      lmr_mat h, const lmr_head_mlp_weights *w,
                                      lmr_mat dlogits)
{
    enum lmr_status status = lmr_head_mlp_check(h, w);
    if (status != LMR_OK)
        return status;
    int tied = mat_empty(w->W2);
    size_t n = h.rows, d = h.cols, m = w->W1.cols;
    size_t vocab = tied ? w->E.rows : w->W2.cols;
    status = check_upstream(dlogits, n, vocab);
    if (status == LMR_OK)
        status = check_mlp_outputs(grads, n, vocab, d, m, tied);
    if (status != LMR_OK)
        return status;
    scratch_pool pool = {0};
    double *a = pool_take(&pool, n, m);  /* (n,m): h W1 + b1 */
    double *h1 = pool_take(&pool, n, m); /* (n,m): ReLU(a) */
    double *da = pool_take(&pool, n, m); /* (n,m): dh1, then da */
    /* dW2 (m,vocab) or dE (vocab,d) */
    double *dout = pool_take(&pool, m, vocab);
    double *db2_part = pool_take(&pool, vocab, 1); /* (vocab) */
    double *dh_part = pool_take(&pool, n, d);      /* (n,d) */
    double *dW1_part = pool_take(&pool, d, m);     /* (d,m) */
    double *db1_part = pool_take(&pool, m, 1);     /* (m) */
    status = pool.failed ? LMR_ENOMEM : LMR_OK;
    if (status == LMR_OK)
        status = lmr_head_untied(out_of(a, n, m), h, w->W1, w->b1);
    for (size_t i = 0; status == LMR_OK && i < n * m; i++)
        h1[i] = a[i] > 0.0 ? a[i] : 0.0;
    if (status == LMR_OK)
        status = mlp_output_backward(da, dout, db2_part, h1, w, dlogits);
    for (size_t i = 0; status == LMR_OK && i < n * m; i++)
        da[i] = a[i] > 0.0 ? da[i] : 0.0; /* ReLU'(0) = 0 */
    if (status == LMR_OK)
        status = lmr_head_untied_backward(
            out_of(dh_part, n, d), out_of(dW1_part, d, m),
            lmr_vec_out_of(db1_part, m), h, w->W1, in_of(da, n, m));
    if (status == LMR_OK) {
        copy_out(grads->dh.data, dh_part, n * d);
        copy_out(grads->dW1.data, dW1_part, d * m);
        copy_out(grads->db1.data, db1_part, m);
        copy_out(tied ? grads->dE.data : grads->dW2.data, dout, m * vocab);
        copy_out(grads->db2.data, db2_part, vocab);
    }
    pool_free(&pool);
    return status;
}

/* ---- mixtures of softmaxes: shared -------------------------------------- */

/*
 * One component k of a mixture over n rows. In: work (n,vocab) holds
 * log p_k, logy (n,vocab) log y, G (n,vocab) the upstream gradient, and
 * weight[t * weight_stride] the component's weight in row t (stride 0: one
 * weight for every row). Out: work holds delta_k (n,vocab),
 *     delta_{k,v} = omega_{k,v} G_v - p_{k,v} rho_t,   omega = weight p / y,
 * rho[t * rho_stride] receives rho_t = sum_v omega_{k,v} G_v (rho may be
 * NULL), and the return value is c = sum_{t,v} G_v p_{k,v} / y_v, which
 * stays finite for a zero weight.
 */
static double component_delta(double *work, double *rho, size_t rho_stride,
                              const double *logy, const double *G,
                              const double *weight, size_t weight_stride,
                              size_t n, size_t vocab)
{
    double c = 0.0;
    for (size_t t = 0; t < n; t++) {
        /* log p_k[t,:] -> delta_k[t,:] */
        double *row = work + t * vocab;
        const double *log_mix = logy + t * vocab; /* log y[t,:] */
        const double *G_row = G + t * vocab;      /* G[t,:] */
        double row_weight = weight[t * weight_stride];
        double ratio_G = 0.0; /* sum_v (p_v / y_v) G_v */
        for (size_t v = 0; v < vocab; v++)
            ratio_G += exp(row[v] - log_mix[v]) * G_row[v];
        double omega_G = row_weight * ratio_G; /* rho_t */
        for (size_t v = 0; v < vocab; v++)
            row[v] = row_weight * exp(row[v] - log_mix[v]) * G_row[v] -
                     exp(row[v]) * omega_G;
        c += ratio_G;
        if (rho != NULL)
            rho[t * rho_stride] = omega_G;
    }
    return c;
}

/* ---- mixture of softmaxes, fixed weights --------------------------------- */

/* dalpha (K) from c_k = dL/dabar_k (K) and the weights alpha (K):
 * dalpha_i = sum_k c_k dabar_k/dalpha_i = (c_i - sum_k abar_k c_k) / A. */
static void weight_gradient(double *dalpha, const double *c,
                            const double *alpha, size_t K)
{
    double total = 0.0, mean_c = 0.0;
    for (size_t k = 0; k < K; k++)
        total += alpha[k];
    for (size_t k = 0; k < K; k++)
        mean_c += alpha[k] / total * c[k];
    for (size_t i = 0; i < K; i++)
        dalpha[i] = (c[i] - mean_c) / total;
}

/* Scratch of lmr_mos_fixed_backward. */
typedef struct {
    lmr_mos_fixed_parts forward; /* the forward's quantities, computed once */
    double *dh_sum;              /* (n,d) */
    double *dh_part;             /* (n,d) */
    double *dW_all;              /* (K,d,vocab) */
    double *c;                   /* (K): dL/dabar_k */
} fixed_scratch;

/* Component k of the fixed mixture: delta_k, written over its log p_k in the
 * forward's components, then its head's backward.
 * h: (n,d); W_k: (d,vocab); G: (n,vocab). */
static enum lmr_status fixed_component(fixed_scratch *s, size_t k, lmr_mat h,
                                       lmr_mat W_k, double abar, lmr_mat G)
{
    size_t n = h.rows, d = h.cols, vocab = W_k.cols;
    double *work = s->forward.components + k * n * vocab; /* (n,vocab) */
    /* one weight abar for every row (stride 0); no rho needed */
    s->c[k] = component_delta(work, NULL, 0, s->forward.logprobs, G.data, &abar,
                              0, n, vocab);
    enum lmr_status status = lmr_head_untied_backward(
        out_of(s->dh_part, n, d), out_of(s->dW_all + k * d * vocab, d, vocab),
        lmr_vec_out_of(NULL, 0), h, W_k, in_of(work, n, vocab));
    if (status == LMR_OK)
        add_into(s->dh_sum, s->dh_part, n * d);
    return status;
}

/* The outputs of the fixed mixture's backward. */
static enum lmr_status check_fixed_outputs(lmr_mat_out dh, lmr_stack_out dW,
                                           lmr_vec_out dalpha, lmr_mat h,
                                           lmr_stack W)
{
    if (lmr_mat_out_missing(dh) || lmr_stack_out_missing(dW) ||
        lmr_vec_out_missing(dalpha))
        return LMR_EINVAL;
    if (out_wrong(dh, h.rows, h.cols) || dW.count != W.count ||
        dW.rows != W.rows || dW.cols != W.cols || dalpha.len != W.count)
        return LMR_EDIM;
    return LMR_OK;
}

enum lmr_status lmr_mos_fixed_backward(lmr_mat_out dh, lmr_stack_out dW,
                                       lmr_vec_out dalpha, lmr_mat h,
                                       lmr_stack W, lmr_vec alpha,
                                       lmr_mat dlogprobs)
{
    enum lmr_status status = lmr_mos_fixed_check(h, W, alpha);
    size_t n = h.rows, d = h.cols, vocab = W.cols, K = W.count;
    if (status == LMR_OK)
        status = check_upstream(dlogprobs, n, vocab);
    if (status == LMR_OK)
        status = check_fixed_outputs(dh, dW, dalpha, h, W);
    if (status != LMR_OK)
        return status;
    scratch_pool pool = {0};
    fixed_scratch s = {.forward = {.components = pool_take(&pool, K * n, vocab),
                                   .log_weight = pool_take(&pool, n ? n : 1, K),
                                   .probs = pool_take(&pool, n, vocab),
                                   .logprobs = pool_take(&pool, n, vocab)},
                       .dh_sum = pool_take(&pool, n, d),
                       .dh_part = pool_take(&pool, n, d),
                       .dW_all = pool_take(&pool, K * d, vocab),
                       .c = pool_take(&pool, K, 1)};
    status = pool.failed ? LMR_ENOMEM : LMR_OK;
    if (status == LMR_OK) /* log p_k and log y, as the forward computes them */
        status = lmr_mos_fixed_compute(&s.forward, h, W, alpha);
    double total = 0.0;
    for (size_t k = 0; status == LMR_OK && k < K; k++)
        total += alpha.data[k];
    for (size_t k = 0; status == LMR_OK && k < K; k++)
        status = fixed_component(&s, k, h,
                                 in_of(W.data + k * d * vocab, d, vocab),
                                 alpha.data[k] / total, dlogprobs);
    if (status == LMR_OK) {
        copy_out(dh.data, s.dh_sum, n * d);
        copy_out(dW.data, s.dW_all, K * d * vocab);
        weight_gradient(dalpha.data, s.c, alpha.data, K);
    }
    pool_free(&pool);
    return status;
}

/* ---- mixture of softmaxes, gated ---------------------------------------- */

/* Scratch of lmr_mos_gated_backward; the grads it becomes on success. */
typedef struct {
    double *logy;       /* (n,vocab): log y */
    double *pi_logits;  /* (n,K): h W_pi */
    double *log_pi;     /* (n,K): log softmax(h W_pi), the forward's mixing */
    double *pi;         /* (n,K): the gate's weights pi = softmax(h W_pi) */
    double *gates;      /* (K,n,d): g_k = tanh(h W_k + b_k) */
    double *work;       /* (K,n,vocab): log p_k, then delta_k */
    double *rho;        /* (n,K): rho_k = sum_v omega_{k,v} G_v */
    double *dg;         /* (n,d): dL/dg_k, then dc_k */
    double *dout_part;  /* dW_out (d,vocab) or dE (vocab,d) of one component */
    double *dbout_part; /* (vocab) of one component */
    double *dh_part;    /* (n,d) */
    double *dh;         /* (n,d) */
    double *dW_pi;      /* (d,K) */
    double *dW_comp;    /* (K,d,d) */
    double *db_comp;    /* (K,d) */
    double *dout;       /* dW_out (d,vocab) or dE (vocab,d) */
    double *db_out;     /* (vocab) */
} gated_scratch;

/* log y (n,vocab) = log sum_k exp(log pi_k + log p_k) with the largest term
 * factored out, as lmr_mos_gated mixes its components. */
static void gated_mix(gated_scratch *s, size_t n, size_t vocab, size_t K)
{
    for (size_t t = 0; t < n; t++)
        for (size_t v = 0; v < vocab; v++) {
            double largest = -INFINITY, sum = 0.0;
            for (size_t k = 0; k < K; k++)
                largest = fmax(largest, s->log_pi[t * K + k] +
                                            s->work[(k * n + t) * vocab + v]);
            for (size_t k = 0; k < K; k++) {
                double term = s->log_pi[t * K + k] +
                              s->work[(k * n + t) * vocab + v];
                sum += exp(term - largest);
            }
            s->logy[t * vocab + v] = largest + log(sum);
        }
}

/* The forward's values, computed once as lmr_mos_gated computes them:
 * log pi (which the forward mixes with) and pi (which the gate's gradient
 * uses), and g_k and log p_k of each component; then log y. */
static enum lmr_status gated_forward(gated_scratch *s, lmr_mat h,
                                     const lmr_mos_gated_params *p)
{
    size_t n = h.rows, d = h.cols, K = p->W_pi.cols;
    int tied = mat_empty(p->W_out);
    size_t vocab = tied ? p->E.rows : p->W_out.cols;
    enum lmr_status status = lmr_head_untied(out_of(s->pi_logits, n, K), h,
                                             p->W_pi, lmr_vec_absent());
    if (status == LMR_OK)
        status = lmr_log_softmax(out_of(s->log_pi, n, K),
                                 in_of(s->pi_logits, n, K), 1.0);
    if (status == LMR_OK)
        status = lmr_softmax(out_of(s->pi, n, K), in_of(s->pi_logits, n, K),
                             1.0);
    for (size_t k = 0; status == LMR_OK && k < K; k++) {
        double *gate = s->gates + k * n * d;     /* g_k: (n,d) */
        double *block = s->work + k * n * vocab; /* l_k, then log p_k */
        status = lmr_head_untied(out_of(gate, n, d), h,
                                 in_of(p->W_comp.data + k * d * d, d, d),
                                 lmr_vec_of(p->b_comp.data + k * d, d));
        for (size_t i = 0; status == LMR_OK && i < n * d; i++)
            gate[i] = tanh(gate[i]);
        if (status == LMR_OK && !tied)
            status = lmr_head_untied(out_of(block, n, vocab), in_of(gate, n, d),
                                     p->W_out, p->b_out);
        else if (status == LMR_OK)
            status = lmr_head_tied(out_of(block, n, vocab), in_of(gate, n, d),
                                   p->E);
        for (size_t t = 0; status == LMR_OK && tied && p->b_out.len && t < n;
             t++)
            add_into(block + t * vocab, p->b_out.data, vocab);
        if (status == LMR_OK)
            status = lmr_log_softmax(out_of(block, n, vocab),
                                     in_of(block, n, vocab), 1.0);
    }
    if (status == LMR_OK)
        gated_mix(s, n, vocab, K);
    return status;
}

/* Component k through the shared output layer and its own tanh layer:
 * accumulates dW_out (or dE), db_out, dW_comp[k], db_comp[k] and dh. */
static enum lmr_status gated_component(gated_scratch *s, size_t k, lmr_mat h,
                                       const lmr_mos_gated_params *p)
{
    size_t n = h.rows, d = h.cols;
    int tied = mat_empty(p->W_out);
    size_t vocab = tied ? p->E.rows : p->W_out.cols;
    lmr_mat gate = in_of(s->gates + k * n * d, n, d);         /* g_k: (n,d) */
    lmr_mat delta = in_of(s->work + k * n * vocab, n, vocab); /* delta_k */
    enum lmr_status status;
    if (!tied)
        status = lmr_head_untied_backward(
            out_of(s->dg, n, d), out_of(s->dout_part, d, vocab),
            lmr_vec_out_of(s->dbout_part, vocab), gate, p->W_out, delta);
    else
        status = lmr_head_tied_backward(out_of(s->dg, n, d),
                                        out_of(s->dout_part, vocab, d), gate,
                                        p->E, delta);
    if (status != LMR_OK)
        return status;
    if (tied)
        column_sums(s->dbout_part, delta.data, n, vocab);
    add_into(s->dout, s->dout_part, vocab * d);
    add_into(s->db_out, s->dbout_part, vocab);
    for (size_t i = 0; i < n * d; i++)
        /* dc_k = dg_k (1 - g_k^2) */
        s->dg[i] *= 1.0 - gate.data[i] * gate.data[i];
    status = lmr_head_untied_backward(
        out_of(s->dh_part, n, d), out_of(s->dW_comp + k * d * d, d, d),
        lmr_vec_out_of(s->db_comp + k * d, d), h,
        in_of(p->W_comp.data + k * d * d, d, d), in_of(s->dg, n, d));
    if (status == LMR_OK)
        add_into(s->dh, s->dh_part, n * d);
    return status;
}

/* The gate: rho (n,K) becomes dL/d(gate logits) = rho - pi sum rho, then
 * dW_pi and dh through h W_pi. */
static enum lmr_status gated_gate(gated_scratch *s, lmr_mat h, lmr_mat W_pi)
{
    size_t n = h.rows, d = h.cols, K = W_pi.cols;
    for (size_t t = 0; t < n; t++) {
        double *rho_row = s->rho + t * K;     /* rho[t,:] */
        const double *pi_row = s->pi + t * K; /* pi[t,:] */
        double rho_sum = 0.0;
        for (size_t k = 0; k < K; k++)
            rho_sum += rho_row[k];
        for (size_t k = 0; k < K; k++)
            rho_row[k] -= pi_row[k] * rho_sum;
    }
    enum lmr_status status = lmr_head_untied_backward(
        out_of(s->dh_part, n, d), out_of(s->dW_pi, d, K),
        lmr_vec_out_of(NULL, 0), h, W_pi, in_of(s->rho, n, K));
    if (status == LMR_OK)
        add_into(s->dh, s->dh_part, n * d);
    return status;
}

/* The outputs of the gated backward: dW_out untied, dE tied. */
static enum lmr_status check_gated_outputs(const lmr_mos_gated_grads *g,
                                           size_t n, size_t vocab, size_t d,
                                           size_t K, int tied)
{
    if (g == NULL)
        return LMR_EINVAL;
    lmr_mat_out dout = tied ? g->dE : g->dW_out;
    if (lmr_mat_out_missing(g->dh) || lmr_mat_out_missing(g->dW_pi) ||
        lmr_stack_out_missing(g->dW_comp) || lmr_mat_out_missing(g->db_comp) ||
        lmr_mat_out_missing(dout) || lmr_vec_out_missing(g->db_out))
        return LMR_EINVAL;
    if (out_wrong(g->dh, n, d) || out_wrong(g->dW_pi, d, K) ||
        g->dW_comp.count != K || g->dW_comp.rows != d || g->dW_comp.cols != d ||
        out_wrong(g->db_comp, K, d) ||
        (tied ? out_wrong(dout, vocab, d) : out_wrong(dout, d, vocab)) ||
        g->db_out.len != vocab)
        return LMR_EDIM;
    return LMR_OK;
}

/* Allocates the scratch of lmr_mos_gated_backward from pool. */
static gated_scratch gated_scratch_take(scratch_pool *pool, size_t n,
                                        size_t vocab, size_t d, size_t K)
{
    gated_scratch s = {.logy = pool_take(pool, n, vocab),
                       .pi_logits = pool_take(pool, n, K),
                       .log_pi = pool_take(pool, n, K),
                       .pi = pool_take(pool, n, K),
                       .gates = pool_take(pool, K * n, d),
                       .work = pool_take(pool, K * n, vocab),
                       .rho = pool_take(pool, n, K),
                       .dg = pool_take(pool, n, d),
                       .dout_part = pool_take(pool, vocab, d),
                       .dbout_part = pool_take(pool, vocab, 1),
                       .dh_part = pool_take(pool, n, d),
                       .dh = pool_take(pool, n, d),
                       .dW_pi = pool_take(pool, d, K),
                       .dW_comp = pool_take(pool, K * d, d),
                       .db_comp = pool_take(pool, K, d),
                       .dout = pool_take(pool, vocab, d),
                       .db_out = pool_take(pool, vocab, 1)};
    return s;
}

/* Copies the gradients out of the scratch s into grads. */
static void gated_publish(const lmr_mos_gated_grads *grads,
                          const gated_scratch *s, int tied, size_t n,
                          size_t vocab, size_t d, size_t K)
{
    copy_out(grads->dh.data, s->dh, n * d);
    copy_out(grads->dW_pi.data, s->dW_pi, d * K);
    copy_out(grads->dW_comp.data, s->dW_comp, K * d * d);
    copy_out(grads->db_comp.data, s->db_comp, K * d);
    copy_out(tied ? grads->dE.data : grads->dW_out.data, s->dout, vocab * d);
    copy_out(grads->db_out.data, s->db_out, vocab);
}

enum lmr_status lmr_mos_gated_backward(const lmr_mos_gated_grads *grads,
                                       lmr_mat h, const lmr_mos_gated_params *p,
                                       lmr_mat dlogprobs)
{
    enum lmr_status status = lmr_mos_gated_check(h, p);
    if (status != LMR_OK)
        return status;
    int tied = mat_empty(p->W_out);
    size_t n = h.rows, d = h.cols, K = p->W_pi.cols;
    size_t vocab = tied ? p->E.rows : p->W_out.cols;
    status = check_upstream(dlogprobs, n, vocab);
    if (status == LMR_OK)
        status = check_gated_outputs(grads, n, vocab, d, K, tied);
    if (status != LMR_OK)
        return status;
    scratch_pool pool = {0};
    gated_scratch s = gated_scratch_take(&pool, n, vocab, d, K);
    status = pool.failed ? LMR_ENOMEM : LMR_OK;
    if (status == LMR_OK)
        status = gated_forward(&s, h, p);
    for (size_t k = 0; status == LMR_OK && k < K; k++) {
        component_delta(s.work + k * n * vocab, s.rho + k, K, s.logy,
                        dlogprobs.data, s.pi + k, K, n, vocab);
        status = gated_component(&s, k, h, p);
    }
    if (status == LMR_OK)
        status = gated_gate(&s, h, p->W_pi);
    if (status == LMR_OK)
        gated_publish(grads, &s, tied, n, vocab, d, K);
    pool_free(&pool);
    return status;
}

/* ---- soft tying ----------------------------------------------------------- */

/* The scalar upstream dloss (1): LMR_EINVAL, LMR_EDIM, LMR_ENONFINITE. */
static enum lmr_status check_dloss(lmr_vec dloss)
{
    if (lmr_vec_missing(dloss))
        return LMR_EINVAL;
    if (dloss.len != 1)
        return LMR_EDIM;
    return isfinite(dloss.data[0]) ? LMR_OK : LMR_ENONFINITE;
}

enum lmr_status lmr_soft_tie_loss_backward(
    const lmr_soft_tie_grads *grads, lmr_mat h, const lmr_soft_tie_weights *w,
    lmr_ids targets, lmr_vec dloss, double lambda, enum lmr_reduction reduction,
    int64_t ignore_index)
{
    enum lmr_status status = lmr_soft_tie_loss_check(h, w, targets, lambda,
                                                     reduction, ignore_index);
    if (status == LMR_OK)
        status = check_dloss(dloss);
    if (status != LMR_OK)
        return status;
    size_t n = h.rows, d = h.cols, vocab = w->E.rows;
    const size_t shapes[3][2] = {{n, d}, {vocab, d}, {d, vocab}};
    if (grads == NULL)
        return LMR_EINVAL;
    status = check_three_outputs(grads->dh, grads->dE, grads->dW, shapes);
    if (status != LMR_OK)
        return status;
    scratch_pool pool = {0};
    double *logits = pool_take(&pool, n, vocab);  /* (n,vocab): h W */
    double *dlogits = pool_take(&pool, n, vocab); /* (n,vocab): D */
    double *dh_part = pool_take(&pool, n, d);     /* (n,d): D W^T */
    double *dW_part = pool_take(&pool, d, vocab); /* (d,vocab): h^T D */
    status = pool.failed ? LMR_ENOMEM : LMR_OK;
    if (status == LMR_OK)
        status = lmr_head_untied(out_of(logits, n, vocab), h, w->W,
                                 lmr_vec_absent());
    if (status == LMR_OK)
        status = lmr_cross_entropy_backward(out_of(dlogits, n, vocab),
                                            in_of(logits, n, vocab), targets,
                                            dloss, reduction, ignore_index);
    if (status == LMR_OK)
        status = lmr_head_untied_backward(
            out_of(dh_part, n, d), out_of(dW_part, d, vocab),
            lmr_vec_out_of(NULL, 0), h, w->W, in_of(dlogits, n, vocab));
    if (status == LMR_OK) {
        const double *E = w->E.data, *W = w->W.data;
        double *dE = grads->dE.data, *dW = grads->dW.data;
        /* the penalty's force per unit gap */
        double pull = 2.0 * lambda * dloss.data[0];
        copy_out(grads->dh.data, dh_part, n * d);
        for (size_t v = 0; v < vocab; v++)
            for (size_t j = 0; j < d; j++) {
                double gap = E[v * d + j] - W[j * vocab + v]; /* E - W^T */
                dE[v * d + j] = pull * gap;
                dW[j * vocab + v] = dW_part[j * vocab + v] - pull * gap;
            }
    }
    pool_free(&pool);
    return status;
}
