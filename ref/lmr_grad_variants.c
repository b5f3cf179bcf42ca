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
 * The mixtures and soft tying first run their forward op (the mixtures for
 * log y, soft tying only to validate), so bad input gets exactly the
 * forward's error codes; the others validate through the calls they make.
 *
 * Sizes are checked for overflow before anything is allocated. Results are
 * assembled in scratch arrays and copied out at the end, so nothing is
 * written unless the call returns LMR_OK.
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
 * pool->failed set on failure. The caller has checked rows*cols. */
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

/* LMR_OK if each rows x cols pair of sizes (pairs, 2) fits in size_t bytes,
 * else LMR_EOVERFLOW. A triple product a*b*c is passed as {a,b}, {a*b,c}:
 * if {a,b} fails the wrapped a*b does not matter. */
static int check_counts(const size_t (*sizes)[2], size_t pairs)
{
    size_t count;
    for (size_t i = 0; i < pairs; i++)
        if (lmr_array_count(&count, sizes[i][0], sizes[i][1]) != LMR_OK)
            return LMR_EOVERFLOW;
    return LMR_OK;
}

#define PAIRS(sizes) (sizeof(sizes) / sizeof((sizes)[0]))

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

/* LMR_ENONFINITE unless values (count) are finite. */
static int check_upstream(const double *values, size_t count)
{
    return lmr_check_finite(values, count) == LMR_OK ? LMR_OK : LMR_ENONFINITE;
}

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

int lmr_head_partial_backward(double *dh, double *dE, double *dF,
                              const double *h, const double *E,
                              const double *F, const double *dlogits,
                              size_t n, size_t vocab, size_t d, size_t k)
{
    if (E == NULL || dE == NULL || (k < vocab && (F == NULL || dF == NULL)) ||
        (n > 0 && (dh == NULL || dlogits == NULL)))
        return LMR_EINVAL;
    if (k > vocab)
        return LMR_EDOMAIN;
    const size_t sizes[][2] = {{n, vocab}, {n, d}, {vocab, d}, {d, vocab - k}};
    if (check_counts(sizes, PAIRS(sizes)) != LMR_OK)
        return LMR_EOVERFLOW;
    int status = lmr_check_table(E, vocab, d); /* every row, as the forward */
    if (status != LMR_OK)
        return status;
    scratch_pool pool = {0};
    double *dU_tied = pool_take(&pool, n, k);          /* (n,k) */
    double *dU_free = pool_take(&pool, n, vocab - k);  /* (n,vocab-k) */
    double *dh_sum = pool_take(&pool, n, d);           /* (n,d) */
    double *dh_free = pool_take(&pool, n, d);          /* (n,d) */
    double *dE_part = pool_take(&pool, vocab, d);      /* (vocab,d), rows >= k 0 */
    double *dF_part = pool_take(&pool, d, vocab - k);  /* (d,vocab-k) */
    double *db_unused = pool_take(&pool, vocab - k, 1); /* (vocab-k) */
    status = pool.failed ? LMR_ENOMEM : LMR_OK;
    if (status == LMR_OK)
        split_columns(dU_tied, dU_free, dlogits, n, vocab, k);
    if (status == LMR_OK && k > 0) /* rows 0..k-1 of E: the tied columns */
        status = lmr_head_tied_backward(
            lmr_mat_out_of(dh_sum, n, d), lmr_mat_out_of(dE_part, k, d),
            lmr_mat_of(h, n, d), lmr_mat_of(E, k, d), lmr_mat_of(dU_tied, n, k));
    if (status == LMR_OK && k < vocab)
        status = lmr_head_untied_backward(
            lmr_mat_out_of(dh_free, n, d), lmr_mat_out_of(dF_part, d, vocab - k),
            lmr_vec_out_of(db_unused, vocab - k), lmr_mat_of(h, n, d),
            lmr_mat_of(F, d, vocab - k), lmr_mat_of(dU_free, n, vocab - k));
    if (status == LMR_OK) {
        add_into(dh_sum, dh_free, n * d);
        copy_out(dh, dh_sum, n * d);
        copy_out(dE, dE_part, vocab * d);
        copy_out(dF, dF_part, d * (vocab - k));
    }
    pool_free(&pool);
    return status;
}

/* ---- transformed tying -------------------------------------------------- */

int lmr_head_transformed_backward(double *dh, double *dT, double *dE,
                                  const double *h, const double *T,
                                  const double *E, const double *dlogits,
                                  size_t n, size_t vocab, size_t d)
{
    if (T == NULL || E == NULL || dT == NULL || dE == NULL ||
        (n > 0 && (dh == NULL || dlogits == NULL)))
        return LMR_EINVAL;
    const size_t sizes[][2] = {{n, vocab}, {n, d}, {vocab, d}, {d, d}};
    if (check_counts(sizes, PAIRS(sizes)) != LMR_OK)
        return LMR_EOVERFLOW;
    int status = lmr_check_table(E, vocab, d); /* the forward's first check */
    if (status != LMR_OK)
        return status;
    scratch_pool pool = {0};
    double *q = pool_take(&pool, n, d);         /* (n,d): h T */
    double *r = pool_take(&pool, n, d);         /* (n,d): dU E */
    double *dh_part = pool_take(&pool, n, d);   /* (n,d) */
    double *dT_part = pool_take(&pool, d, d);   /* (d,d) */
    double *dE_part = pool_take(&pool, vocab, d); /* (vocab,d) */
    double *db_unused = pool_take(&pool, d, 1); /* (d) */
    status = pool.failed ? LMR_ENOMEM : LMR_OK;
    if (status == LMR_OK) /* validates h and T */
        status = lmr_head_untied(lmr_mat_out_of(q, n, d), lmr_mat_of(h, n, d),
                                 lmr_mat_of(T, d, d), lmr_vec_absent());
    if (status == LMR_OK) /* r = dU E, dE = dU^T q */
        status = lmr_head_tied_backward(
            lmr_mat_out_of(r, n, d), lmr_mat_out_of(dE_part, vocab, d),
            lmr_mat_of(q, n, d), lmr_mat_of(E, vocab, d),
            lmr_mat_of(dlogits, n, vocab));
    if (status == LMR_OK) /* dh = r T^T, dT = h^T r */
        status = lmr_head_untied_backward(
            lmr_mat_out_of(dh_part, n, d), lmr_mat_out_of(dT_part, d, d),
            lmr_vec_out_of(db_unused, d), lmr_mat_of(h, n, d),
            lmr_mat_of(T, d, d), lmr_mat_of(r, n, d));
    if (status == LMR_OK) {
        copy_out(dh, dh_part, n * d);
        copy_out(dT, dT_part, d * d);
        copy_out(dE, dE_part, vocab * d);
    }
    pool_free(&pool);
    return status;
}

/* ---- adaptive tying ----------------------------------------------------- */

int lmr_head_adaptive_backward(double *dh, double *dE, double *dF,
                               double *dalpha, const double *h,
                               const double *E, const double *F, double alpha,
                               const double *dlogits, size_t n, size_t vocab,
                               size_t d)
{
    if (E == NULL || F == NULL || dE == NULL || dF == NULL || dalpha == NULL ||
        (n > 0 && (dh == NULL || dlogits == NULL)))
        return LMR_EINVAL;
    if (isnan(alpha))
        return LMR_ENONFINITE;
    if (!(alpha >= 0.0 && alpha <= 1.0))
        return LMR_EDOMAIN;
    const size_t sizes[][2] = {{n, vocab}, {n, d}, {vocab, d}};
    if (check_counts(sizes, PAIRS(sizes)) != LMR_OK)
        return LMR_EOVERFLOW;
    scratch_pool pool = {0};
    double *u_tied = pool_take(&pool, n, vocab);  /* (n,vocab): h E^T */
    double *u_free = pool_take(&pool, n, vocab);  /* (n,vocab): h F */
    double *dh_tied = pool_take(&pool, n, d);     /* (n,d): dU E */
    double *dh_free = pool_take(&pool, n, d);     /* (n,d): dU F^T */
    double *dE_tied = pool_take(&pool, vocab, d); /* (vocab,d): dU^T h */
    double *dF_free = pool_take(&pool, d, vocab); /* (d,vocab): h^T dU */
    double *db_unused = pool_take(&pool, vocab, 1); /* (vocab) */
    int status = pool.failed ? LMR_ENOMEM : LMR_OK;
    if (status == LMR_OK) /* the forward's two heads: validate h, E, F */
        status = lmr_head_tied(lmr_mat_out_of(u_tied, n, vocab),
                               lmr_mat_of(h, n, d), lmr_mat_of(E, vocab, d));
    if (status == LMR_OK)
        status = lmr_head_untied(lmr_mat_out_of(u_free, n, vocab),
                                 lmr_mat_of(h, n, d), lmr_mat_of(F, d, vocab),
                                 lmr_vec_absent());
    if (status == LMR_OK)
        status = lmr_head_tied_backward(
            lmr_mat_out_of(dh_tied, n, d), lmr_mat_out_of(dE_tied, vocab, d),
            lmr_mat_of(h, n, d), lmr_mat_of(E, vocab, d),
            lmr_mat_of(dlogits, n, vocab));
    if (status == LMR_OK)
        status = lmr_head_untied_backward(
            lmr_mat_out_of(dh_free, n, d), lmr_mat_out_of(dF_free, d, vocab),
            lmr_vec_out_of(db_unused, vocab), lmr_mat_of(h, n, d),
            lmr_mat_of(F, d, vocab), lmr_mat_of(dlogits, n, vocab));
    if (status == LMR_OK) {
        double alpha_sum = 0.0; /* sum dU (h E^T - h F) */
        for (size_t i = 0; i < n * vocab; i++)
            alpha_sum += dlogits[i] * (u_tied[i] - u_free[i]);
        for (size_t i = 0; i < n * d; i++)
            dh[i] = alpha * dh_tied[i] + (1.0 - alpha) * dh_free[i];
        for (size_t i = 0; i < vocab * d; i++) {
            dE[i] = alpha * dE_tied[i];
            dF[i] = (1.0 - alpha) * dF_free[i];
        }
        *dalpha = alpha_sum;
    }
    pool_free(&pool);
    return status;
}

/* ---- MLP head ----------------------------------------------------------- */

/* The output layer's backward: dh1 (n,m) = dU W2^T, dW2 (m,vocab) and
 * db2 (vocab); or for the tied form (W2 NULL, m = d) dh1 = dU E and
 * dW2 holds dE (vocab,d). h1: (n,m); dlogits: (n,vocab). */
static int mlp_output_backward(double *dh1, double *dW2, double *db2,
                               const double *h1, const double *W2,
                               const double *E, const double *dlogits,
                               size_t n, size_t vocab, size_t m)
{
    if (W2 != NULL)
        return lmr_head_untied_backward(
            lmr_mat_out_of(dh1, n, m), lmr_mat_out_of(dW2, m, vocab),
            lmr_vec_out_of(db2, vocab), lmr_mat_of(h1, n, m),
            lmr_mat_of(W2, m, vocab), lmr_mat_of(dlogits, n, vocab));
    int status = lmr_head_tied_backward(
        lmr_mat_out_of(dh1, n, m), lmr_mat_out_of(dW2, vocab, m),
        lmr_mat_of(h1, n, m), lmr_mat_of(E, vocab, m),
        lmr_mat_of(dlogits, n, vocab));
    if (status == LMR_OK)
        column_sums(db2, dlogits, n, vocab);
    return status;
}

/* Pointers, sizes and b2 (the forward checks b2 in both forms). */
static int check_mlp_backward(const double *dh, const double *dW1,
                              const double *db1, const double *dW2,
                              const double *dE, const double *db2,
                              const double *W1, const double *W2,
                              const double *E, const double *b2,
                              const double *dlogits, size_t n, size_t vocab,
                              size_t d, size_t m)
{
    if (W1 == NULL || (W2 == NULL && E == NULL) || dW1 == NULL ||
        db1 == NULL || db2 == NULL || (W2 != NULL ? dW2 : dE) == NULL ||
        (n > 0 && (dh == NULL || dlogits == NULL)))
        return LMR_EINVAL;
    if (m == 0 || (W2 == NULL && m != d))
        return LMR_EDIM;
    const size_t sizes[][2] = {{n, d}, {n, m}, {d, m}, {n, vocab}, {m, vocab}};
    if (check_counts(sizes, PAIRS(sizes)) != LMR_OK)
        return LMR_EOVERFLOW;
    if (b2 != NULL && lmr_check_finite(b2, vocab) != LMR_OK)
        return LMR_ENONFINITE;
    return LMR_OK;
}

int lmr_head_mlp_backward(double *dh, double *dW1, double *db1, double *dW2,
                          double *dE, double *db2, const double *h,
                          const double *W1, const double *b1,
                          const double *W2, const double *E, const double *b2,
                          const double *dlogits, size_t n, size_t vocab,
                          size_t d, size_t m)
{
    int status = check_mlp_backward(dh, dW1, db1, dW2, dE, db2, W1, W2, E, b2,
                                    dlogits, n, vocab, d, m);
    if (status != LMR_OK)
        return status;
    scratch_pool pool = {0};
    double *a = pool_take(&pool, n, m);           /* (n,m): h W1 + b1 */
    double *h1 = pool_take(&pool, n, m);          /* (n,m): ReLU(a) */
    double *da = pool_take(&pool, n, m);          /* (n,m): dh1, then da */
    double *dout = pool_take(&pool, m, vocab);    /* dW2 (m,vocab) or dE (vocab,d) */
    double *db2_part = pool_take(&pool, vocab, 1); /* (vocab) */
    double *dh_part = pool_take(&pool, n, d);     /* (n,d) */
    double *dW1_part = pool_take(&pool, d, m);    /* (d,m) */
    double *db1_part = pool_take(&pool, m, 1);    /* (m) */
    status = pool.failed ? LMR_ENOMEM : LMR_OK;
    if (status == LMR_OK) /* validates h, W1, b1 */
        status = lmr_head_untied(lmr_mat_out_of(a, n, m), lmr_mat_of(h, n, d),
                                 lmr_mat_of(W1, d, m),
                                 b1 ? lmr_vec_of(b1, m) : lmr_vec_absent());
    for (size_t i = 0; status == LMR_OK && i < n * m; i++)
        h1[i] = a[i] > 0.0 ? a[i] : 0.0;
    if (status == LMR_OK)
        status = mlp_output_backward(da, dout, db2_part, h1, W2, E, dlogits, n,
                                     vocab, m);
    for (size_t i = 0; status == LMR_OK && i < n * m; i++)
        da[i] = a[i] > 0.0 ? da[i] : 0.0; /* ReLU'(0) = 0 */
    if (status == LMR_OK)
        status = lmr_head_untied_backward(
            lmr_mat_out_of(dh_part, n, d), lmr_mat_out_of(dW1_part, d, m),
            lmr_vec_out_of(db1_part, m), lmr_mat_of(h, n, d),
            lmr_mat_of(W1, d, m), lmr_mat_of(da, n, m));
    if (status == LMR_OK) {
        copy_out(dh, dh_part, n * d);
        copy_out(dW1, dW1_part, d * m);
        copy_out(db1, db1_part, m);
        copy_out(W2 != NULL ? dW2 : dE, dout, m * vocab);
        copy_out(db2, db2_part, vocab);
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
        double *row = work + t * vocab;           /* log p_k[t,:] -> delta_k[t,:] */
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
    double *probs;     /* (n,vocab): y, unused */
    double *logy;      /* (n,vocab): log y */
    double *work;      /* (n,vocab): log p_k, then delta_k */
    double *dh_sum;    /* (n,d) */
    double *dh_part;   /* (n,d) */
    double *dW_all;    /* (K,d,vocab) */
    double *c;         /* (K): dL/dabar_k */
    double *db_unused; /* (vocab) */
} fixed_scratch;

/* Component k of the fixed mixture: delta_k, then its head's backward.
 * h: (n,d); W_k: (d,vocab); G: (n,vocab). */
static int fixed_component(fixed_scratch *s, size_t k, const double *h,
                           const double *W_k, double abar, const double *G,
                           size_t n, size_t vocab, size_t d)
{
    int status = lmr_head_untied(lmr_mat_out_of(s->work, n, vocab),
                                 lmr_mat_of(h, n, d), lmr_mat_of(W_k, d, vocab),
                                 lmr_vec_absent());
    if (status == LMR_OK)
        status = lmr_log_softmax(lmr_mat_out_of(s->work, n, vocab),
                                 lmr_mat_of(s->work, n, vocab), 1.0);
    if (status != LMR_OK)
        return status;
    /* one weight abar for every row (stride 0); no rho needed */
    s->c[k] = component_delta(s->work, NULL, 0, s->logy, G, &abar, 0, n, vocab);
    status = lmr_head_untied_backward(
        lmr_mat_out_of(s->dh_part, n, d),
        lmr_mat_out_of(s->dW_all + k * d * vocab, d, vocab),
        lmr_vec_out_of(s->db_unused, vocab), lmr_mat_of(h, n, d),
        lmr_mat_of(W_k, d, vocab), lmr_mat_of(s->work, n, vocab));
    if (status == LMR_OK)
        add_into(s->dh_sum, s->dh_part, n * d);
    return status;
}

int lmr_mos_fixed_backward(double *dh, double *dW, double *dalpha,
                           const double *h, const double *W,
                           const double *alpha, const double *dlogprobs,
                           size_t n, size_t vocab, size_t d, size_t K)
{
    if (W == NULL || alpha == NULL || dW == NULL || dalpha == NULL ||
        (n > 0 && (dh == NULL || dlogprobs == NULL)))
        return LMR_EINVAL;
    const size_t sizes[][2] = {{n, vocab}, {n, d}, {K, d}, {K * d, vocab}};
    if (check_counts(sizes, PAIRS(sizes)) != LMR_OK)
        return LMR_EOVERFLOW;
    scratch_pool pool = {0};
    fixed_scratch s = {.probs = pool_take(&pool, n, vocab),
                       .logy = pool_take(&pool, n, vocab),
                       .work = pool_take(&pool, n, vocab),
                       .dh_sum = pool_take(&pool, n, d),
                       .dh_part = pool_take(&pool, n, d),
                       .dW_all = pool_take(&pool, K * d, vocab),
                       .c = pool_take(&pool, K, 1),
                       .db_unused = pool_take(&pool, vocab, 1)};
    int status = pool.failed ? LMR_ENOMEM : LMR_OK;
    if (status == LMR_OK) /* validates every input as the forward does */
        status = lmr_mos_fixed(s.probs, s.logy, h, W, alpha, n, vocab, d, K);
    if (status == LMR_OK)
        status = check_upstream(dlogprobs, n * vocab);
    double total = 0.0;
    for (size_t k = 0; status == LMR_OK && k < K; k++)
        total += alpha[k];
    for (size_t k = 0; status == LMR_OK && k < K; k++)
        status = fixed_component(&s, k, h, W + k * d * vocab, alpha[k] / total,
                                 dlogprobs, n, vocab, d);
    if (status == LMR_OK) {
        copy_out(dh, s.dh_sum, n * d);
        copy_out(dW, s.dW_all, K * d * vocab);
        weight_gradient(dalpha, s.c, alpha, K);
    }
    pool_free(&pool);
    return status;
}

/* ---- mixture of softmaxes, gated ---------------------------------------- */

/* Scratch of lmr_mos_gated_backward; the grads it becomes on success. */
typedef struct {
    double *probs;      /* (n,vocab): y, unused */
    double *logy;       /* (n,vocab): log y */
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
    double *db_pi_unused; /* (K) */
} gated_scratch;

/* The forward's intermediate values: pi, and g_k and log p_k of each
 * component (recomputed as lmr_mos_gated computes them). */
static int gated_forward(gated_scratch *s, const double *h, const double *W_pi,
                         const double *W_comp, const double *b_comp,
                         const double *W_out, const double *E,
                         const double *b_out, size_t n, size_t vocab, size_t d,
                         size_t K)
{
    int status = lmr_head_untied(lmr_mat_out_of(s->pi, n, K),
                                 lmr_mat_of(h, n, d), lmr_mat_of(W_pi, d, K),
                                 lmr_vec_absent());
    if (status == LMR_OK)
        status = lmr_softmax(lmr_mat_out_of(s->pi, n, K),
                             lmr_mat_of(s->pi, n, K), 1.0);
    for (size_t k = 0; status == LMR_OK && k < K; k++) {
        double *gate = s->gates + k * n * d;         /* g_k: (n,d) */
        double *block = s->work + k * n * vocab;     /* l_k, then log p_k */
        status = lmr_head_untied(
            lmr_mat_out_of(gate, n, d), lmr_mat_of(h, n, d),
            lmr_mat_of(W_comp + k * d * d, d, d),
            b_comp ? lmr_vec_of(b_comp + k * d, d) : lmr_vec_absent());
        for (size_t i = 0; status == LMR_OK && i < n * d; i++)
            gate[i] = tanh(gate[i]);
        if (status == LMR_OK && W_out != NULL)
            status = lmr_head_untied(
                lmr_mat_out_of(block, n, vocab), lmr_mat_of(gate, n, d),
                lmr_mat_of(W_out, d, vocab),
                b_out ? lmr_vec_of(b_out, vocab) : lmr_vec_absent());
        else if (status == LMR_OK)
            status = lmr_head_tied(lmr_mat_out_of(block, n, vocab),
                                   lmr_mat_of(gate, n, d),
                                   lmr_mat_of(E, vocab, d));
        for (size_t t = 0; status == LMR_OK && !W_out && b_out && t < n; t++)
            add_into(block + t * vocab, b_out, vocab);
        if (status == LMR_OK)
            status = lmr_log_softmax(lmr_mat_out_of(block, n, vocab),
                                     lmr_mat_of(block, n, vocab), 1.0);
    }
    return status;
}

/* Component k through the shared output layer and its own tanh layer:
 * accumulates dW_out (or dE), db_out, dW_comp[k], db_comp[k] and dh. */
static int gated_component(gated_scratch *s, size_t k, const double *h,
                           const double *W_comp_k, const double *W_out,
                           const double *E, size_t n, size_t vocab, size_t d)
{
    const double *gate = s->gates + k * n * d;      /* g_k: (n,d) */
    const double *delta = s->work + k * n * vocab;  /* delta_k: (n,vocab) */
    int status;
    if (W_out != NULL)
        status = lmr_head_untied_backward(
            lmr_mat_out_of(s->dg, n, d), lmr_mat_out_of(s->dout_part, d, vocab),
            lmr_vec_out_of(s->dbout_part, vocab), lmr_mat_of(gate, n, d),
            lmr_mat_of(W_out, d, vocab), lmr_mat_of(delta, n, vocab));
    else
        status = lmr_head_tied_backward(
            lmr_mat_out_of(s->dg, n, d), lmr_mat_out_of(s->dout_part, vocab, d),
            lmr_mat_of(gate, n, d), lmr_mat_of(E, vocab, d),
            lmr_mat_of(delta, n, vocab));
    if (status != LMR_OK)
        return status;
    if (W_out == NULL)
        column_sums(s->dbout_part, delta, n, vocab);
    add_into(s->dout, s->dout_part, vocab * d);
    add_into(s->db_out, s->dbout_part, vocab);
    for (size_t i = 0; i < n * d; i++)
        s->dg[i] *= 1.0 - gate[i] * gate[i]; /* dc_k = dg_k (1 - g_k^2) */
    status = lmr_head_untied_backward(
        lmr_mat_out_of(s->dh_part, n, d),
        lmr_mat_out_of(s->dW_comp + k * d * d, d, d),
        lmr_vec_out_of(s->db_comp + k * d, d), lmr_mat_of(h, n, d),
        lmr_mat_of(W_comp_k, d, d), lmr_mat_of(s->dg, n, d));
    if (status == LMR_OK)
        add_into(s->dh, s->dh_part, n * d);
    return status;
}

/* The gate: rho (n,K) becomes dL/d(gate logits) = rho - pi sum rho, then
 * dW_pi and dh through h W_pi. */
static int gated_gate(gated_scratch *s, const double *h, const double *W_pi,
                      size_t n, size_t d, size_t K)
{
    for (size_t t = 0; t < n; t++) {
        double *rho_row = s->rho + t * K;      /* rho[t,:] */
        const double *pi_row = s->pi + t * K;  /* pi[t,:] */
        double rho_sum = 0.0;
        for (size_t k = 0; k < K; k++)
            rho_sum += rho_row[k];
        for (size_t k = 0; k < K; k++)
            rho_row[k] -= pi_row[k] * rho_sum;
    }
    int status = lmr_head_untied_backward(
        lmr_mat_out_of(s->dh_part, n, d), lmr_mat_out_of(s->dW_pi, d, K),
        lmr_vec_out_of(s->db_pi_unused, K), lmr_mat_of(h, n, d),
        lmr_mat_of(W_pi, d, K), lmr_mat_of(s->rho, n, K));
    if (status == LMR_OK)
        add_into(s->dh, s->dh_part, n * d);
    return status;
}

/* Pointers, and every size product the scratch needs. */
static int check_gated_backward(const lmr_mos_gated_grads *grads,
                                const double *W_out, const double *dlogprobs,
                                size_t n, size_t vocab, size_t d, size_t K)
{
    if (grads == NULL || grads->dW_pi == NULL || grads->dW_comp == NULL ||
        grads->db_comp == NULL || grads->db_out == NULL ||
        (W_out != NULL ? grads->dW_out : grads->dE) == NULL ||
        (n > 0 && (grads->dh == NULL || dlogprobs == NULL)))
        return LMR_EINVAL;
    const size_t sizes[][2] = {{n, vocab}, {n, d},         {n, K},
                               {vocab, d}, {K, d},         {K * d, d},
                               {K, n},     {K * n, vocab}, {K * n, d}};
    return check_counts(sizes, PAIRS(sizes));
}

/* Allocates the scratch of lmr_mos_gated_backward from pool. */
static gated_scratch gated_scratch_take(scratch_pool *pool, size_t n,
                                        size_t vocab, size_t d, size_t K)
{
    gated_scratch s = {.probs = pool_take(pool, n, vocab),
                       .logy = pool_take(pool, n, vocab),
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
                       .db_out = pool_take(pool, vocab, 1),
                       .db_pi_unused = pool_take(pool, K, 1)};
    return s;
}

/* Copies the gradients out of the scratch s into grads. */
static void gated_publish(const lmr_mos_gated_grads *grads,
                          const gated_scratch *s, const double *W_out,
                          size_t n, size_t vocab, size_t d, size_t K)
{
    copy_out(grads->dh, s->dh, n * d);
    copy_out(grads->dW_pi, s->dW_pi, d * K);
    copy_out(grads->dW_comp, s->dW_comp, K * d * d);
    copy_out(grads->db_comp, s->db_comp, K * d);
    copy_out(W_out != NULL ? grads->dW_out : grads->dE, s->dout, vocab * d);
    copy_out(grads->db_out, s->db_out, vocab);
}

int lmr_mos_gated_backward(const lmr_mos_gated_grads *grads, const double *h,
                           const double *W_pi, const double *W_comp,
                           const double *b_comp, const double *W_out,
                           const double *E, const double *b_out,
                           const double *dlogprobs, size_t n, size_t vocab,
                           size_t d, size_t K)
{
    int status = check_gated_backward(grads, W_out, dlogprobs, n, vocab, d, K);
    if (status != LMR_OK)
        return status;
    scratch_pool pool = {0};
    gated_scratch s = gated_scratch_take(&pool, n, vocab, d, K);
    status = pool.failed ? LMR_ENOMEM : LMR_OK;
    if (status == LMR_OK) /* validates every input as the forward does */
        status = lmr_mos_gated(s.probs, s.logy, h, W_pi, W_comp, b_comp, W_out,
                               E, b_out, n, vocab, d, K);
    if (status == LMR_OK)
        status = check_upstream(dlogprobs, n * vocab);
    if (status == LMR_OK)
        status = gated_forward(&s, h, W_pi, W_comp, b_comp, W_out, E, b_out, n,
                               vocab, d, K);
    for (size_t k = 0; status == LMR_OK && k < K; k++) {
        component_delta(s.work + k * n * vocab, s.rho + k, K, s.logy,
                        dlogprobs, s.pi + k, K, n, vocab);
        status = gated_component(&s, k, h, W_comp + k * d * d, W_out, E, n,
                                 vocab, d);
    }
    if (status == LMR_OK)
        status = gated_gate(&s, h, W_pi, n, d, K);
    if (status == LMR_OK)
        gated_publish(grads, &s, W_out, n, vocab, d, K);
    pool_free(&pool);
    return status;
}

/* ---- soft tying ----------------------------------------------------------- */

int lmr_soft_tie_loss_backward(double *dh, double *dE, double *dW,
                               const double *h, const double *E,
                               const double *W, const int64_t *targets,
                               size_t n, size_t vocab, size_t d, double lambda,
                               enum lmr_reduction reduction,
                               int64_t ignore_index, double dloss)
{
    lmr_soft_tie forward;
    if (dE == NULL || dW == NULL || (n > 0 && dh == NULL))
        return LMR_EINVAL;
    const size_t sizes[][2] = {{n, vocab}, {n, d}, {vocab, d}};
    if (check_counts(sizes, PAIRS(sizes)) != LMR_OK)
        return LMR_EOVERFLOW;
    /* validates every input as the forward does */
    int status = lmr_soft_tie_loss(&forward, h, E, W, targets, n, vocab, d,
                                   lambda, reduction, ignore_index);
    if (status == LMR_OK && !isfinite(dloss))
        status = LMR_ENONFINITE;
    if (status != LMR_OK)
        return status;
    scratch_pool pool = {0};
    double *logits = pool_take(&pool, n, vocab);   /* (n,vocab): h W */
    double *dlogits = pool_take(&pool, n, vocab);  /* (n,vocab): D */
    double *dh_part = pool_take(&pool, n, d);      /* (n,d): D W^T */
    double *dW_part = pool_take(&pool, d, vocab);  /* (d,vocab): h^T D */
    double *db_unused = pool_take(&pool, vocab, 1); /* (vocab) */
    status = pool.failed ? LMR_ENOMEM : LMR_OK;
    if (status == LMR_OK)
        status = lmr_head_untied(lmr_mat_out_of(logits, n, vocab),
                                 lmr_mat_of(h, n, d), lmr_mat_of(W, d, vocab),
                                 lmr_vec_absent());
    if (status == LMR_OK)
        status = lmr_cross_entropy_backward(
            lmr_mat_out_of(dlogits, n, vocab), lmr_mat_of(logits, n, vocab),
            lmr_ids_of(targets, n), lmr_vec_of(&dloss, 1), reduction,
            ignore_index);
    if (status == LMR_OK)
        status = lmr_head_untied_backward(
            lmr_mat_out_of(dh_part, n, d), lmr_mat_out_of(dW_part, d, vocab),
            lmr_vec_out_of(db_unused, vocab), lmr_mat_of(h, n, d),
            lmr_mat_of(W, d, vocab), lmr_mat_of(dlogits, n, vocab));
    if (status == LMR_OK) {
        double pull = 2.0 * lambda * dloss; /* the penalty's force per unit gap */
        copy_out(dh, dh_part, n * d);
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
