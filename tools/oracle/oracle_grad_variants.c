/*
 * oracle_grad_variants.c -- the gradient oracle of the head variants:
 * spec/gradients.md#head_partial_backward through #soft_tie_loss_backward,
 * each output with the running error bound of spec/tolerance.md#gradients
 * as its scale. Contract: tools/oracle/oracle_grad.h.
 *
 * Method. Every quantity is an errnum (tools/oracle/oracle_errnum.h): its value at
 * ORACLE_PREC bits and its bound E in units of u. Each op is evaluated step
 * by step as spec/gradients.md writes it, one errnum rule per step:
 *  - inputs, parameters, upstream gradients and the scalars alpha, lambda
 *    and dloss enter with errnum_input (E = |x|), counts with errnum_count,
 *    the constants of a formula (the 1 of 1 - alpha and of 1 - g^2, the 2 of
 *    2 lambda, the 1 of y - 1[i = c]) with errnum_exact (E = 0);
 *  - a dot product, and every sum the spec writes with one Sigma (also a
 *    double sum such as Sigma_t Sigma_k), is ONE sum for the sum rule, which
 *    holds for any order of summation; a bias added to a dot product is one
 *    more term of that sum;
 *  - a softmax of computed logits is a = max_i u_i, zeta_i = u_i - a with
 *    the maximal entry's zeta exactly 0 (E = 0: x - x of one computed
 *    value), S = Sigma_i exp(zeta_i), y_i = exp(zeta_i) / S;
 *  - the log of a mixture y_v = Sigma_k w_k p_kv is formed in log space,
 *    l_kv = log w_k + (zeta_kv - log S_k), log y_v = l_mv + log Sigma_k
 *    exp(l_kv - l_mv) with m the largest term (its difference exactly 0),
 *    then y_v = exp(log y_v) and the responsibilities
 *    omega_kv = (w_k p_kv) / y_v;
 *  - ReLU's indicator 1[a > 0] is decided on the exact pre-activation
 *    (an exact dot product, as the forward oracle computes it).
 * An entry that receives no contribution is exactly 0 with scale 0. Outputs
 * whose value pointer is NULL are not wanted and are left untouched.
 */
#include <math.h> /* INFINITY, isfinite, isnan: classification only */
#include <stdint.h>
#include <stdlib.h>

#include <mpfr.h>

#include "oracle_errnum.h"
#include "oracle_grad.h"
#include "oracle_internal.h"
#include "oracle_validate.h"

/* ---- a pool of errnum arrays, released together ---- */

/* The most arrays one op takes from its pool. */
#define POOL_SLOTS 40

/* Arrays of errnums owned by one call: pool_take allocates, pool_release
 * frees them all. After a failed allocation, failed is 1 and every later
 * pool_take returns NULL. */
typedef struct {
    errnum *arrays[POOL_SLOTS];
    size_t counts[POOL_SLOTS];
    size_t used;
    int failed;
} pool;

static void pool_begin(pool *p)
{
    p->used = 0;
    p->failed = 0;
}

/* count errnums, each 0 with E = 0; NULL (and p->failed = 1) if memory
 * runs out. */
static errnum *pool_take(pool *p, size_t count)
{
    if (p->failed || p->used == POOL_SLOTS
        || count >= SIZE_MAX / sizeof(errnum)) {
        p->failed = 1;
        return NULL;
    }
    errnum *xs = malloc((count > 0 ? count : 1) * sizeof *xs);
    if (xs == NULL) {
        p->failed = 1;
        return NULL;
    }
    errnum_init_array(xs, count);
    p->arrays[p->used] = xs;
    p->counts[p->used] = count;
    p->used++;
    return xs;
}

/* count inputs of the class: errnum_input(values[i]).
 * values: (count), may be NULL when count is 0 */
static errnum *pool_inputs(pool *p, const double *values, size_t count)
{
    errnum *xs = pool_take(p, count);
    if (xs != NULL)
        for (size_t i = 0; i < count; i++)
            errnum_input(&xs[i], values[i]);
    return xs;
}

static void pool_release(pool *p)
{
    for (size_t i = 0; i < p->used; i++) {
        errnum_clear_array(p->arrays[i], p->counts[i]);
        free(p->arrays[i]);
    }
    p->used = 0;
}

/* ---- outputs ---- */

/* 1 if out can be written: not wanted (value NULL), or with a scale. */
static int out_ok(oracle_out out)
{
    return out.value == NULL || out.scale != NULL;
}

/* Element i of out = x (value to nearest, scale upward), if out is wanted. */
static void put(oracle_out out, size_t i, const errnum *x)
{
    if (out.value != NULL)
        errnum_get(&out.value[i], &out.scale[i], x);
}

/* Element i of out = 0 with scale 0 (no contribution), if out is wanted. */
static void put_zero(oracle_out out, size_t i)
{
    if (out.value != NULL) {
        out.value[i] = 0.0;
        out.scale[i] = 0.0;
    }
}

/* ---- sums ---- */

/* Adds the count products a[i a_stride] b[i b_stride] to sum.
 * a: (count) with stride a_stride; b: (count) with stride b_stride */
static void add_products(errnum_sum *sum, const errnum *a, size_t a_stride,
                         const errnum *b, size_t b_stride, size_t count)
{
    errnum product;
    errnum_init(&product);
    for (size_t i = 0; i < count; i++) {
        errnum_mul(&product, &a[i * a_stride], &b[i * b_stride]);
        errnum_sum_add(sum, &product);
    }
    errnum_clear(&product);
}

/* r = Sigma_i a[i a_stride] b[i b_stride], one sum of count products.
 * a: (count) with stride a_stride; b: (count) with stride b_stride */
static void dot(errnum *r, const errnum *a, size_t a_stride, const errnum *b,
                size_t b_stride, size_t count)
{
    errnum_sum sum;
    errnum_sum_begin(&sum);
    add_products(&sum, a, a_stride, b, b_stride, count);
    errnum_sum_end(r, &sum);
}

/* r = Sigma_i a[i stride], one sum. a: (count) with stride stride */
static void sum_of(errnum *r, const errnum *a, size_t stride, size_t count)
{
    errnum_sum sum;
    errnum_sum_begin(&sum);
    for (size_t i = 0; i < count; i++)
        errnum_sum_add(&sum, &a[i * stride]);
    errnum_sum_end(r, &sum);
}

/* ---- softmax and mixtures ---- */

/* The softmax of a row of computed logits u (count >= 1), step by step:
 * a = u_m with m the first maximal entry, zeta_i = u_i - a (zeta_m = 0
 * exactly, E = 0), S = Sigma_i exp(zeta_i), y_i = exp(zeta_i) / S; and
 * log S when log_sum is not NULL. zeta and y must not alias u.
 * zeta, y, u: (count) */
static void softmax_row(errnum *zeta, errnum *y, errnum *log_sum,
                        const errnum *u, size_t count)
{
    size_t top = 0;
    for (size_t i = 1; i < count; i++)
        if (mpfr_cmp(u[i].v, u[top].v) > 0)
            top = i;
    errnum total;
    errnum_init(&total);
    errnum_sum sum;
    errnum_sum_begin(&sum);
    for (size_t i = 0; i < count; i++) {
        if (i == top)
            errnum_exact(&zeta[i], 0.0);
        else
            errnum_sub(&zeta[i], &u[i], &u[top]);
        errnum_exp(&y[i], &zeta[i]);
        errnum_sum_add(&sum, &y[i]);
    }
    errnum_sum_end(&total, &sum);
    for (size_t i = 0; i < count; i++)
        errnum_div(&y[i], &y[i], &total);
    if (log_sum != NULL)
        errnum_log(log_sum, &total);
    errnum_clear(&total);
}

/* One row of a mixture of K softmaxes over V entries with weights w_k >= 0
 * (a component with w_k = 0 takes no part; at least one w_k > 0):
 *   l_kv     = log w_k + (zeta_kv - log S_k)
 *   log y_v  = l_mv + log Sigma_k exp(l_kv - l_mv)   (m: the largest l_kv;
 *                                                     l_mv - l_mv = 0, E = 0)
 *   y_v      = exp(log y_v)
 *   omega_kv = (w_k p_kv) / y_v                       (0 where w_k = 0)
 * log_weight holds log w_k where w_k > 0; l is scratch.
 * y: (V); omega, zeta, p: (K, V); weight, log_weight, log_sum, l: (K) */
static void mixture_row(errnum *y, errnum *omega, const errnum *weight,
                        const errnum *log_weight, const errnum *zeta,
                        const errnum *log_sum, const errnum *p, errnum *l,
                        size_t K, size_t V)
{
    errnum term, log_y;
    errnum_init(&term);
    errnum_init(&log_y);
    for (size_t v = 0; v < V; v++) {
        size_t top = K;
        for (size_t k = 0; k < K; k++) {
            if (mpfr_zero_p(weight[k].v))
                continue;
            errnum_sub(&l[k], &zeta[k * V + v], &log_sum[k]);
            errnum_add(&l[k], &log_weight[k], &l[k]);
            if (top == K || mpfr_cmp(l[k].v, l[top].v) > 0)
                top = k;
        }
        errnum_sum sum;
        errnum_sum_begin(&sum);
        for (size_t k = 0; k < K; k++) {
            if (mpfr_zero_p(weight[k].v))
                continue;
            if (k == top)
                errnum_exact(&term, 0.0);
            else
                errnum_sub(&term, &l[k], &l[top]);
            errnum_exp(&term, &term);
            errnum_sum_add(&sum, &term);
        }
        errnum_sum_end(&term, &sum);
        errnum_log(&term, &term);
        errnum_add(&log_y, &l[top], &term);
        errnum_exp(&y[v], &log_y);
        for (size_t k = 0; k < K; k++) {
            errnum_mul(&omega[k * V + v], &weight[k], &p[k * V + v]);
            errnum_div(&omega[k * V + v], &omega[k * V + v], &y[v]);
        }
    }
    errnum_clear(&term);
    errnum_clear(&log_y);
}

/* ---- exact zeros ----
 * Three quantities below are "a value minus its weighted mean", with
 * weights that sum to 1 over the reals (the softmax p_k of a component, the
 * gate pi, the normalised alpha-bar). Evaluated as written they leave a
 * residue of the working precision where the exact result is 0 (identical
 * components, equal weights): the weights' computed sum is not exactly 1.
 * So their values are taken in a centred form that is an exact 0 there,
 * because it subtracts equal numbers term by term; their bounds stay those
 * of the formula as written (spec/tolerance.md#gradients). */

/* value = x_i - w_i Sigma_j s_j in the form Sigma_j (w_j x_i - w_i s_j)
 * (equal over the reals when Sigma_j w_j = 1); value has ORACLE_PREC bits.
 * w, s: (count) */
static void centred_share(mpfr_t value, const errnum *x_i, const errnum *w_i,
                          const errnum *w, const errnum *s, size_t count)
{
    mpfr_t a, b;
    mpfr_inits2(ORACLE_PREC, a, b, (mpfr_ptr)0);
    mpfr_set_zero(value, 1);
    for (size_t j = 0; j < count; j++) {
        mpfr_mul(a, w[j].v, x_i->v, MPFR_RNDN);
        mpfr_mul(b, w_i->v, s[j].v, MPFR_RNDN);
        mpfr_sub(a, a, b, MPFR_RNDN);
        mpfr_add(value, value, a, MPFR_RNDN);
    }
    mpfr_clears(a, b, (mpfr_ptr)0);
}

/* value = c_i - Sigma_k w_k c_k in the form Sigma_k w_k (c_i - c_k).
 * w, c: (count) */
static void centred_value(mpfr_t value, const errnum *c_i, const errnum *w,
                          const errnum *c, size_t count)
{
    mpfr_t a;
    mpfr_init2(a, ORACLE_PREC);
    mpfr_set_zero(value, 1);
    for (size_t k = 0; k < count; k++) {
        mpfr_sub(a, c_i->v, c[k].v, MPFR_RNDN);
        mpfr_mul(a, a, w[k].v, MPFR_RNDN);
        mpfr_add(value, value, a, MPFR_RNDN);
    }
    mpfr_clear(a);
}

/* The gradient with respect to each component's logits, for one row with
 * upstream gradient G of log y:
 *   omega_G_kv = omega_kv G_v,   rho_k = Sigma_v omega_G_kv,
 *   delta_kv   = omega_G_kv - p_kv rho_k.
 * delta, omega_G, omega, p: (K, V); rho: (K); G: (V) */
static void mixture_logit_gradient(errnum *delta, errnum *omega_G,
                                   errnum *rho, const errnum *omega,
                                   const errnum *p, const errnum *G, size_t K,
                                   size_t V)
{
    errnum share;
    errnum_init(&share);
    for (size_t k = 0; k < K; k++) {
        for (size_t v = 0; v < V; v++)
            errnum_mul(&omega_G[k * V + v], &omega[k * V + v], &G[v]);
        sum_of(&rho[k], omega_G + k * V, 1, V);
        for (size_t v = 0; v < V; v++) {
            errnum_mul(&share, &p[k * V + v], &rho[k]);
            errnum_sub(&delta[k * V + v], &omega_G[k * V + v], &share);
            centred_share(delta[k * V + v].v, &omega_G[k * V + v],
                          &p[k * V + v], p + k * V, omega_G + k * V, V);
        }
    }
    errnum_clear(&share);
}

/* ---- argument checks ---- */

/* ---- partial tying ---- */

/* W (d, V) with column v = E[v, :] for v < k and F[:, v - k] for v >= k.
 * W: (d, V); E: (V, d); F: (d, V - k) */
static void partial_matrix(errnum *W, const double *E, const double *F,
                           size_t V, size_t d, size_t k)
{
    for (size_t j = 0; j < d; j++)
        for (size_t v = 0; v < V; v++)
            errnum_input(&W[j * V + v], v < k ? E[v * d + j]
                                              : F[j * (V - k) + (v - k)]);
}

/* spec/gradients.md#head_partial_backward.
 * dh: (n, d); dE: (V, d); dF: (d, V - k); h: (n, d); E: (V, d);
 * F: (d, V - k), may be NULL when k = V; dU: (n, V) */
int oracle_head_partial_backward(oracle_out dh, oracle_out dE, oracle_out dF,
                                 const double *h, const double *E,
                                 const double *F, const double *dU, size_t n,
                                 size_t V, size_t d, size_t k)
{
    if (k > V || !out_ok(dh) || !out_ok(dE) || !out_ok(dF))
        return -1;
    if (oracle_check_head_partial_backward(
            oracle_mat(h, n, d), oracle_mat(E, V, d),
            oracle_optional_mat(F, d, V - k), oracle_mat(dU, n, V),
            (int64_t)k) != ORACLE_OK)
        return -1;
    pool p;
    pool_begin(&p);
    errnum *xh = pool_inputs(&p, h, n * d), *xdU = pool_inputs(&p, dU, n * V);
    errnum *W = pool_take(&p, d * V), *r = pool_take(&p, 1);
    if (p.failed) {
        pool_release(&p);
        return -1;
    }
    partial_matrix(W, E, F, V, d, k);
    for (size_t t = 0; t < n; t++)
        for (size_t j = 0; j < d; j++) {
            dot(r, xdU + t * V, 1, W + j * V, 1, V);
            put(dh, t * d + j, r);
        }
    for (size_t v = 0; v < V; v++)
        for (size_t j = 0; j < d; j++) {
            if (v >= k) {
                put_zero(dE, v * d + j);
                continue;
            }
            dot(r, xdU + v, V, xh + j, d, n);
            put(dE, v * d + j, r);
        }
    for (size_t j = 0; j < d; j++)
        for (size_t v = k; v < V; v++) {
            dot(r, xh + j, d, xdU + v, V, n);
            put(dF, j * (V - k) + (v - k), r);
        }
    pool_release(&p);
    return 0;
}

/* ---- tying with a transform ---- */

/* spec/gradients.md#head_transformed_backward: q = h T, r = dU E, then
 * dh = r T^T, dT = h^T r, dE = dU^T q.
 * dh: (n, d); dT: (d, d); dE: (V, d); h: (n, d); T: (d, d); E: (V, d);
 * dU: (n, V) */
int oracle_head_transformed_backward(oracle_out dh, oracle_out dT,
                                     oracle_out dE, const double *h,
                                     const double *T, const double *E,
                                     const double *dU, size_t n, size_t V,
                                     size_t d)
{
    if (!out_ok(dh) || !out_ok(dT) || !out_ok(dE))
        return -1;
    if (oracle_check_head_transformed_backward(
            oracle_mat(h, n, d), oracle_mat(T, d, d), oracle_mat(E, V, d),
            oracle_mat(dU, n, V)) != ORACLE_OK)
        return -1;
    pool p;
    pool_begin(&p);
    errnum *xh = pool_inputs(&p, h, n * d), *xT = pool_inputs(&p, T, d * d);
    errnum *xE = pool_inputs(&p, E, V * d), *xdU = pool_inputs(&p, dU, n * V);
    errnum *q = pool_take(&p, n * d), *r = pool_take(&p, n * d);
    errnum *g = pool_take(&p, 1);
    if (p.failed) {
        pool_release(&p);
        return -1;
    }
    for (size_t t = 0; t < n; t++)
        for (size_t b = 0; b < d; b++) {
            dot(&q[t * d + b], xh + t * d, 1, xT + b, d, d);
            dot(&r[t * d + b], xdU + t * V, 1, xE + b, d, V);
        }
    for (size_t t = 0; t < n; t++)
        for (size_t a = 0; a < d; a++) {
            dot(g, r + t * d, 1, xT + a * d, 1, d);
            put(dh, t * d + a, g);
        }
    for (size_t a = 0; a < d; a++)
        for (size_t b = 0; b < d; b++) {
            dot(g, xh + a, d, r + b, d, n);
            put(dT, a * d + b, g);
        }
    for (size_t v = 0; v < V; v++)
        for (size_t b = 0; b < d; b++) {
            dot(g, xdU + v, V, q + b, d, n);
            put(dE, v * d + b, g);
        }
    pool_release(&p);
    return 0;
}

/* ---- adaptive tying ---- */

/* The quantities of the adaptive head's backward. */
typedef struct {
    errnum *h, *E, *F, *dU; /* inputs: (n, d), (V, d), (d, V), (n, V) */
    errnum *alpha, *rest;   /* alpha and 1 - alpha: (1) each */
    errnum *mix;            /* (d, V): alpha E[v, j] + (1 - alpha) F[j, v] */
    errnum *tied_dU;        /* (n, V): alpha dU */
    errnum *free_dU;        /* (n, V): (1 - alpha) dU */
    errnum *gap;            /* (n, V): (h E^T)[t, v] - (h F)[t, v] */
    errnum *r;              /* (1): scratch */
} adaptive_terms;

/* Takes the arrays of terms from p and loads the inputs; 0, or -1 if
 * memory runs out. */
static int adaptive_load(adaptive_terms *x, pool *p, const double *h,
                         const double *E, const double *F, double alpha,
                         const double *dU, size_t n, size_t V, size_t d)
{
    x->h = pool_inputs(p, h, n * d);
    x->E = pool_inputs(p, E, V * d);
    x->F = pool_inputs(p, F, d * V);
    x->dU = pool_inputs(p, dU, n * V);
    x->alpha = pool_inputs(p, &alpha, 1);
    x->rest = pool_take(p, 1);
    x->mix = pool_take(p, d * V);
    x->tied_dU = pool_take(p, n * V);
    x->free_dU = pool_take(p, n * V);
    x->gap = pool_take(p, n * V);
    x->r = pool_take(p, 1);
    return p->failed ? -1 : 0;
}

/* rest = 1 - alpha; mix; tied_dU, free_dU; gap. */
static void adaptive_forward(adaptive_terms *x, size_t n, size_t V, size_t d)
{
    errnum one, term;
    errnum_init(&one);
    errnum_init(&term);
    errnum_exact(&one, 1.0);
    errnum_sub(x->rest, &one, x->alpha);
    for (size_t j = 0; j < d; j++)
        for (size_t v = 0; v < V; v++) {
            errnum *w = &x->mix[j * V + v];
            errnum_mul(w, x->alpha, &x->E[v * d + j]);
            errnum_mul(&term, x->rest, &x->F[j * V + v]);
            errnum_add(w, w, &term);
        }
    for (size_t t = 0; t < n; t++)
        for (size_t v = 0; v < V; v++) {
            size_t i = t * V + v;
            errnum_mul(&x->tied_dU[i], x->alpha, &x->dU[i]);
            errnum_mul(&x->free_dU[i], x->rest, &x->dU[i]);
            dot(&x->gap[i], x->h + t * d, 1, x->E + v * d, 1, d);
            dot(&term, x->h + t * d, 1, x->F + v, V, d);
            errnum_sub(&x->gap[i], &x->gap[i], &term);
        }
    errnum_clear(&one);
    errnum_clear(&term);
}

/* spec/gradients.md#head_adaptive_backward, evaluated as
 *   dh[t,j] = Sigma_v dU[t,v] (alpha E[v,j] + (1 - alpha) F[j,v])
 *   dE[v,j] = Sigma_t (alpha dU[t,v]) h[t,j]
 *   dF[j,v] = Sigma_t h[t,j] ((1 - alpha) dU[t,v])
 *   dalpha  = Sigma_{t,v} dU[t,v] ((h E^T)[t,v] - (h F)[t,v])
 * dh: (n, d); dE: (V, d); dF: (d, V); dalpha: (1); h: (n, d); E: (V, d);
 * F: (d, V); dU: (n, V) */
int oracle_head_adaptive_backward(oracle_out dh, oracle_out dE, oracle_out dF,
                                  oracle_out dalpha, const double *h,
                                  const double *E, const double *F,
                                  double alpha, const double *dU, size_t n,
                                  size_t V, size_t d)
{
    if (!out_ok(dh) || !out_ok(dE) || !out_ok(dF) || !out_ok(dalpha))
        return -1;
    if (oracle_check_head_adaptive_backward(
            oracle_mat(h, n, d), oracle_mat(E, V, d), oracle_mat(F, d, V),
            oracle_mat(dU, n, V), alpha) != ORACLE_OK)
        return -1;
    pool p;
    pool_begin(&p);
    adaptive_terms x;
    if (adaptive_load(&x, &p, h, E, F, alpha, dU, n, V, d) != 0) {
        pool_release(&p);
        return -1;
    }
    adaptive_forward(&x, n, V, d);
    for (size_t t = 0; t < n; t++)
        for (size_t j = 0; j < d; j++) {
            dot(x.r, x.dU + t * V, 1, x.mix + j * V, 1, V);
            put(dh, t * d + j, x.r);
        }
    for (size_t v = 0; v < V; v++)
        for (size_t j = 0; j < d; j++) {
            dot(x.r, x.tied_dU + v, V, x.h + j, d, n);
            put(dE, v * d + j, x.r);
        }
    for (size_t j = 0; j < d; j++)
        for (size_t v = 0; v < V; v++) {
            dot(x.r, x.h + j, d, x.free_dU + v, V, n);
            put(dF, j * V + v, x.r);
        }
    dot(x.r, x.dU, 1, x.gap, 1, n * V);
    put(dalpha, 0, x.r);
    pool_release(&p);
    return 0;
}

/* ---- MLP head ---- */

/* 1 if the inputs of the MLP head are valid. */
static int mlp_inputs_ok(const oracle_mlp_inputs *in)
{
    if (in == NULL)
        return 0;
    size_t n = in->n, V = in->V, d = in->d, m = in->m;
    int tied = in->W2 == NULL;
    oracle_mlp_views views = {
        oracle_mat(in->h, n, d), oracle_mat(in->W1, d, m),
        oracle_optional_vec(in->b1, m),
        tied ? oracle_absent() : oracle_mat(in->W2, m, V),
        tied ? oracle_mat(in->E, V, d) : oracle_absent(),
        oracle_optional_vec(in->b2, V), tied};
    return oracle_check_head_mlp_backward(&views, oracle_mat(in->dU, n, V))
           == ORACLE_OK;
}

/* The quantities of the MLP head's backward. */
typedef struct {
    errnum *h, *W1, *b1, *W2, *dU; /* (n, d), (d, m), (m) or NULL,
                                      (m, V) (W2 or E^T), (n, V) */
    errnum *a;                     /* (n, m): pre-activations */
    errnum *h1;                    /* (n, m): ReLU(a) */
    errnum *da;                    /* (n, m): (dU W2^T) 1[a > 0] */
    errnum *r;                     /* (1): scratch */
} mlp_terms;

/* Takes the arrays of terms from p and loads the inputs (W2 = E^T in the
 * tied form); 0, or -1 if memory runs out. */
static int mlp_load(mlp_terms *x, pool *p, const oracle_mlp_inputs *in)
{
    size_t n = in->n, V = in->V, d = in->d, m = in->m;
    x->h = pool_inputs(p, in->h, n * d);
    x->W1 = pool_inputs(p, in->W1, d * m);
    x->b1 = in->b1 != NULL ? pool_inputs(p, in->b1, m) : NULL;
    x->dU = pool_inputs(p, in->dU, n * V);
    x->W2 = pool_take(p, m * V);
    x->a = pool_take(p, n * m);
    x->h1 = pool_take(p, n * m);
    x->da = pool_take(p, n * m);
    x->r = pool_take(p, 1);
    if (p->failed)
        return -1;
    for (size_t i = 0; i < m; i++)
        for (size_t v = 0; v < V; v++)
            errnum_input(&x->W2[i * V + v], in->W2 != NULL
                                                 ? in->W2[i * V + v]
                                                 : in->E[v * d + i]);
    return 0;
}

/* The bit span of a table of doubles (count 0 or NULL: the empty span).
 * values: (count) or NULL */
static oracle_bit_span span_of(const double *values, size_t count)
{
    oracle_bit_span span;
    oracle_bit_span_of_doubles(&span, values, values != NULL ? count : 0);
    return span;
}

/* Replaces the value of every pre-activation x->a by the exact
 * h[t,:] W1[:, i] + b1[i], rounded to nearest (so its sign, and whether it
 * is 0, are those of the exact value). Returns -1 if memory runs out. */
static int mlp_exact_pre_activations(mlp_terms *x,
                                     const oracle_mlp_inputs *in)
{
    size_t n = in->n, d = in->d, m = in->m;
    mpfr_t *row = oracle_numbers_new(d);
    if (row == NULL)
        return -1;
    oracle_bit_span h_span = span_of(in->h, n * d);
    oracle_bit_span W1_span = span_of(in->W1, d * m);
    oracle_bit_span b1_span = span_of(in->b1, m);
    mpfr_t sum, magnitude;
    mpfr_inits2(oracle_dot_precision(&h_span, &W1_span, &b1_span), sum,
                magnitude, (mpfr_ptr)0);
    for (size_t t = 0; t < n; t++) {
        for (size_t j = 0; j < d; j++)
            mpfr_set_d(row[j], in->h[t * d + j], MPFR_RNDN); /* exact */
        for (size_t i = 0; i < m; i++) {
            oracle_exact_dot(sum, magnitude, row, in->W1 + i, m, d);
            if (in->b1 != NULL)
                mpfr_add_d(sum, sum, in->b1[i], MPFR_RNDN); /* exact */
            mpfr_set(x->a[t * m + i].v, sum, MPFR_RNDN);
        }
    }
    mpfr_clears(sum, magnitude, (mpfr_ptr)0);
    oracle_numbers_free(row, d);
    return 0;
}

/* The forward and the backward through the ReLU:
 *   a[t,i]  = Sigma_j h[t,j] W1[j,i] + b1[i]   (one sum of d (+1) terms)
 *   h1      = a where a > 0, else 0 (E = 0)
 *   da[t,i] = Sigma_v dU[t,v] W2[i,v] where a > 0, else 0 (E = 0)
 * Returns -1 if memory runs out. */
static int mlp_through_relu(mlp_terms *x, const oracle_mlp_inputs *in)
{
    size_t n = in->n, V = in->V, d = in->d, m = in->m;
    for (size_t t = 0; t < n; t++)
        for (size_t i = 0; i < m; i++) {
            errnum_sum sum;
            errnum_sum_begin(&sum);
            add_products(&sum, x->h + t * d, 1, x->W1 + i, m, d);
            if (x->b1 != NULL)
                errnum_sum_add(&sum, &x->b1[i]);
            errnum_sum_end(&x->a[t * m + i], &sum);
        }
    if (mlp_exact_pre_activations(x, in) != 0)
        return -1;
    for (size_t t = 0; t < n; t++)
        for (size_t i = 0; i < m; i++) {
            size_t ti = t * m + i;
            if (mpfr_sgn(x->a[ti].v) > 0) {
                errnum_set(&x->h1[ti], &x->a[ti]);
                dot(&x->da[ti], x->dU + t * V, 1, x->W2 + i * V, 1, V);
            } else {
                errnum_exact(&x->h1[ti], 0.0);
                errnum_exact(&x->da[ti], 0.0);
            }
        }
    return 0;
}

/* min |a| / E(a) over the non-zero pre-activations (rounded down; +inf if
 * there are none, or where E(a) = 0), and whether some a is exactly 0.
 * a: (count) */
static void mlp_margin(double *min_margin, int *has_zero, const errnum *a,
                       size_t count)
{
    double least = INFINITY;
    int zero = 0;
    mpfr_t ratio;
    mpfr_init2(ratio, ORACLE_PREC);
    for (size_t i = 0; i < count; i++) {
        if (mpfr_zero_p(a[i].v)) {
            zero = 1;
            continue;
        }
        if (mpfr_zero_p(a[i].e))
            continue;
        mpfr_abs(ratio, a[i].v, MPFR_RNDN);
        mpfr_div(ratio, ratio, a[i].e, MPFR_RNDD);
        double margin = mpfr_get_d(ratio, MPFR_RNDD);
        if (margin < least)
            least = margin;
    }
    mpfr_clear(ratio);
    if (min_margin != NULL)
        *min_margin = least;
    if (has_zero != NULL)
        *has_zero = zero;
}

/* The outputs of the second layer: dW2 (untied) or dE (tied), db2. */
static void mlp_second_layer(oracle_out dW2, oracle_out dE, oracle_out db2,
                             const mlp_terms *x, const oracle_mlp_inputs *in)
{
    size_t n = in->n, V = in->V, d = in->d, m = in->m;
    for (size_t i = 0; i < m; i++)
        for (size_t v = 0; v < V; v++) {
            dot(x->r, x->h1 + i, m, x->dU + v, V, n);
            if (in->W2 != NULL)
                put(dW2, i * V + v, x->r);
            else
                put(dE, v * d + i, x->r);
        }
    for (size_t v = 0; v < V; v++) {
        sum_of(x->r, x->dU + v, V, n);
        put(db2, v, x->r);
    }
}

/* The outputs of the first layer: dW1 = h^T da, db1, dh = da W1^T. */
static void mlp_first_layer(oracle_out dh, oracle_out dW1, oracle_out db1,
                            const mlp_terms *x, const oracle_mlp_inputs *in)
{
    size_t n = in->n, d = in->d, m = in->m;
    for (size_t j = 0; j < d; j++)
        for (size_t i = 0; i < m; i++) {
            dot(x->r, x->h + j, d, x->da + i, m, n);
            put(dW1, j * m + i, x->r);
        }
    for (size_t i = 0; i < m; i++) {
        sum_of(x->r, x->da + i, m, n);
        put(db1, i, x->r);
    }
    for (size_t t = 0; t < n; t++)
        for (size_t j = 0; j < d; j++) {
            dot(x->r, x->da + t * m, 1, x->W1 + j * m, 1, m);
            put(dh, t * d + j, x->r);
        }
}

/* spec/gradients.md#head_mlp_backward.
 * dh: (n, d); dW1: (d, m); db1: (m); dW2: (m, V) untied; dE: (V, d) tied;
 * db2: (V) */
int oracle_head_mlp_backward(oracle_out dh, oracle_out dW1, oracle_out db1,
                             oracle_out dW2, oracle_out dE, oracle_out db2,
                             double *min_margin, int *has_zero,
                             const oracle_mlp_inputs *in)
{
    if (!mlp_inputs_ok(in) || !out_ok(dh) || !out_ok(dW1) || !out_ok(db1)
        || !out_ok(dW2) || !out_ok(dE) || !out_ok(db2))
        return -1;
    pool p;
    pool_begin(&p);
    mlp_terms x;
    if (mlp_load(&x, &p, in) != 0 || mlp_through_relu(&x, in) != 0) {
        pool_release(&p);
        return -1;
    }
    mlp_second_layer(dW2, dE, db2, &x, in);
    mlp_first_layer(dh, dW1, db1, &x, in);
    mlp_margin(min_margin, has_zero, x.a, in->n * in->m);
    pool_release(&p);
    return 0;
}

/* ---- mixture of softmaxes, fixed weights ---- */

/* 1 if the arguments of oracle_mos_fixed_backward are valid. */
static int mos_fixed_args_ok(oracle_out dh, oracle_out dW, oracle_out dalpha,
                             const double *h, const double *W,
                             const double *alpha, const double *G, size_t n,
                             size_t V, size_t d, size_t K)
{
    if (!out_ok(dh) || !out_ok(dW) || !out_ok(dalpha))
        return 0;
    return oracle_check_mos_fixed_backward(
               oracle_mat(h, n, d), oracle_stack(W, K, d, V),
               oracle_vec(alpha, K), oracle_mat(G, n, V)) == ORACLE_OK;
}

/* The quantities of the fixed mixture's backward. */
typedef struct {
    size_t n, V, d, K;
    errnum *h, *W, *alpha, *G; /* inputs: (n, d), (K, d, V), (K), (n, V) */
    errnum *total;             /* (1): A = Sigma_k alpha_k */
    errnum *weight;            /* (K): alpha-bar_k = alpha_k / A */
    errnum *log_weight;        /* (K): log alpha-bar_k where alpha_k > 0 */
    errnum *p;                 /* (n, K, V): the components' softmaxes */
    errnum *y;                 /* (n, V): the mixture */
    errnum *omega_G;           /* (n, K, V): omega G */
    errnum *delta;             /* (n, K, V): dL / d logits of component k */
    /* scratch for one row */
    errnum *logits;            /* (V) */
    errnum *zeta;              /* (K, V) */
    errnum *log_sum;           /* (K) */
    errnum *omega;             /* (K, V) */
    errnum *l;                 /* (K) */
    errnum *rho;               /* (K) */
    errnum *r;                 /* (1) */
} fixed_terms;

/* Takes the arrays of terms from p and loads the inputs; 0, or -1 if
 * memory runs out. */
static int fixed_load(fixed_terms *x, pool *p, const double *h,
                      const double *W, const double *alpha, const double *G)
{
    size_t n = x->n, V = x->V, d = x->d, K = x->K;
    x->h = pool_inputs(p, h, n * d);
    x->W = pool_inputs(p, W, K * d * V);
    x->alpha = pool_inputs(p, alpha, K);
    x->G = pool_inputs(p, G, n * V);
    x->total = pool_take(p, 1);
    x->weight = pool_take(p, K);
    x->log_weight = pool_take(p, K);
    x->p = pool_take(p, n * K * V);
    x->y = pool_take(p, n * V);
    x->omega_G = pool_take(p, n * K * V);
    x->delta = pool_take(p, n * K * V);
    x->logits = pool_take(p, V);
    x->zeta = pool_take(p, K * V);
    x->log_sum = pool_take(p, K);
    x->omega = pool_take(p, K * V);
    x->l = pool_take(p, K);
    x->rho = pool_take(p, K);
    x->r = pool_take(p, 1);
    return p->failed ? -1 : 0;
}

/* A = Sigma_k alpha_k, alpha-bar_k = alpha_k / A, and log alpha-bar_k
 * where alpha_k > 0. */
static void fixed_weights(fixed_terms *x)
{
    sum_of(x->total, x->alpha, 1, x->K);
    for (size_t k = 0; k < x->K; k++) {
        errnum_div(&x->weight[k], &x->alpha[k], x->total);
        if (!mpfr_zero_p(x->weight[k].v))
            errnum_log(&x->log_weight[k], &x->weight[k]);
    }
}

/* Row t: the components' softmaxes of h[t] W_k, the mixture, and delta. */
static void fixed_row(fixed_terms *x, size_t t)
{
    size_t V = x->V, d = x->d, K = x->K;
    errnum *p_t = x->p + t * K * V;
    for (size_t k = 0; k < K; k++) {
        const errnum *W_k = x->W + k * d * V;
        for (size_t v = 0; v < V; v++)
            dot(&x->logits[v], x->h + t * d, 1, W_k + v, V, d);
        softmax_row(x->zeta + k * V, p_t + k * V, &x->log_sum[k], x->logits,
                    V);
    }
    mixture_row(x->y + t * V, x->omega, x->weight, x->log_weight, x->zeta,
                x->log_sum, p_t, x->l, K, V);
    mixture_logit_gradient(x->delta + t * K * V, x->omega_G + t * K * V,
                           x->rho, x->omega, p_t, x->G + t * V, K, V);
}

/* c_k = dL / d alpha-bar_k: (Sigma_{t,v} omega_G[t,k,v]) / alpha-bar_k, or
 * Sigma_{t,v} (p[t,k,v] G[t,v]) / y[t,v] when alpha_k = 0. */
static void fixed_weight_gradient(errnum *c, const fixed_terms *x, size_t k)
{
    size_t n = x->n, V = x->V, K = x->K;
    errnum_sum sum;
    errnum_sum_begin(&sum);
    if (!mpfr_zero_p(x->weight[k].v)) {
        for (size_t t = 0; t < n; t++)
            for (size_t v = 0; v < V; v++)
                errnum_sum_add(&sum, &x->omega_G[(t * K + k) * V + v]);
        errnum_sum_end(c, &sum);
        errnum_div(c, c, &x->weight[k]);
        return;
    }
    errnum term;
    errnum_init(&term);
    for (size_t t = 0; t < n; t++)
        for (size_t v = 0; v < V; v++) {
            errnum_mul(&term, &x->p[(t * K + k) * V + v], &x->G[t * V + v]);
            errnum_div(&term, &term, &x->y[t * V + v]);
            errnum_sum_add(&sum, &term);
        }
    errnum_sum_end(c, &sum);
    errnum_clear(&term);
}

/* dalpha_i = (c_i - Sigma_k alpha-bar_k c_k) / A. Returns -1 if memory
 * runs out. */
static int fixed_dalpha(oracle_out dalpha, fixed_terms *x, pool *p)
{
    size_t K = x->K;
    errnum *c = pool_take(p, K), *mean = pool_take(p, 1);
    if (p->failed)
        return -1;
    for (size_t k = 0; k < K; k++)
        fixed_weight_gradient(&c[k], x, k);
    dot(mean, x->weight, 1, c, 1, K);
    for (size_t i = 0; i < K; i++) {
        errnum_sub(x->r, &c[i], mean);
        centred_value(x->r->v, &c[i], x->weight, c, K);
        errnum_div(x->r, x->r, x->total);
        put(dalpha, i, x->r);
    }
    return 0;
}

/* dW[k,j,v] = Sigma_t h[t,j] delta[t,k,v];
 * dh[t,j] = Sigma_{k,v} delta[t,k,v] W[k,j,v] (one sum of K V terms). */
static void fixed_matrices(oracle_out dh, oracle_out dW, fixed_terms *x)
{
    size_t n = x->n, V = x->V, d = x->d, K = x->K;
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < d; j++)
            for (size_t v = 0; v < V; v++) {
                dot(x->r, x->h + j, d, x->delta + k * V + v, K * V, n);
                put(dW, (k * d + j) * V + v, x->r);
            }
    for (size_t t = 0; t < n; t++)
        for (size_t j = 0; j < d; j++) {
            errnum_sum sum;
            errnum_sum_begin(&sum);
            for (size_t k = 0; k < K; k++)
                add_products(&sum, x->delta + (t * K + k) * V, 1,
                             x->W + (k * d + j) * V, 1, V);
            errnum_sum_end(x->r, &sum);
            put(dh, t * d + j, x->r);
        }
}

/* spec/gradients.md#mos_fixed_backward.
 * dh: (n, d); dW: (K, d, V); dalpha: (K); h: (n, d); W: (K, d, V);
 * alpha: (K); G: (n, V) */
int oracle_mos_fixed_backward(oracle_out dh, oracle_out dW, oracle_out dalpha,
                              const double *h, const double *W,
                              const double *alpha, const double *G, size_t n,
                              size_t V, size_t d, size_t K)
{
    if (!mos_fixed_args_ok(dh, dW, dalpha, h, W, alpha, G, n, V, d, K))
        return -1;
    pool p;
    pool_begin(&p);
    fixed_terms x = {.n = n, .V = V, .d = d, .K = K};
    if (fixed_load(&x, &p, h, W, alpha, G) != 0) {
        pool_release(&p);
        return -1;
    }
    fixed_weights(&x);
    for (size_t t = 0; t < n; t++)
        fixed_row(&x, t);
    fixed_matrices(dh, dW, &x);
    int status = fixed_dalpha(dalpha, &x, &p);
    pool_release(&p);
    return status;
}

/* ---- mixture of softmaxes, gated (Yang et al. 2018) ---- */

/* 1 if the inputs and outputs of oracle_mos_gated_backward are valid. */
static int mos_gated_args_ok(const oracle_mos_gated_outputs *out,
                             const oracle_mos_gated_inputs *in)
{
    if (out == NULL || in == NULL)
        return 0;
    if (!out_ok(out->dh) || !out_ok(out->dW_pi) || !out_ok(out->dW_comp)
        || !out_ok(out->db_comp) || !out_ok(out->dW_out) || !out_ok(out->dE)
        || !out_ok(out->db_out))
        return 0;
    size_t n = in->n, V = in->V, d = in->d, K = in->K;
    int tied = in->W_out == NULL;
    oracle_mos_gated_views views = {
        oracle_mat(in->h, n, d), oracle_mat(in->W_pi, d, K),
        oracle_stack(in->W_comp, K, d, d), oracle_mat(in->b_comp, K, d),
        tied ? oracle_absent() : oracle_mat(in->W_out, d, V),
        tied ? oracle_mat(in->E, V, d) : oracle_absent(),
        oracle_optional_vec(in->b_out, V), tied};
    return oracle_check_mos_gated_backward(&views, oracle_mat(in->G, n, V))
           == ORACLE_OK;
}

/* The quantities of the gated mixture's backward. */
typedef struct {
    size_t n, V, d, K;
    errnum *h, *W_pi, *W_comp, *b_comp; /* (n, d), (d, K), (K, d, d), (K, d) */
    errnum *W_out, *b_out, *G;          /* (d, V) (W_out or E^T),
                                           (V) or NULL, (n, V) */
    errnum *pi;                         /* (n, K): the gate */
    errnum *g;                          /* (n, K, d): tanh(h W_k + b_k) */
    errnum *p;                          /* (n, K, V): the components */
    errnum *delta;                      /* (n, K, V): dL / d l_k */
    errnum *dpilog;                     /* (n, K): dL / d gate logits */
    errnum *dc;                         /* (n, K, d): dL / d c_k */
    /* scratch for one row */
    errnum *gate_logits, *gate_zeta;    /* (K) each */
    errnum *log_pi, *log_sum, *l, *rho; /* (K) each */
    errnum *logits, *y;                 /* (V) each */
    errnum *zeta, *omega, *omega_G;     /* (K, V) each */
    errnum *r;                          /* (1) */
} gated_terms;

/* Takes the arrays of terms from p and loads the inputs (W_out = E^T in
 * the tied form); 0, or -1 if memory runs out. */
static int gated_load(gated_terms *x, pool *p,
                      const oracle_mos_gated_inputs *in)
{
    size_t n = x->n, V = x->V, d = x->d, K = x->K;
    x->h = pool_inputs(p, in->h, n * d);
    x->W_pi = pool_inputs(p, in->W_pi, d * K);
    x->W_comp = pool_inputs(p, in->W_comp, K * d * d);
    x->b_comp = pool_inputs(p, in->b_comp, K * d);
    x->W_out = pool_take(p, d * V);
    x->b_out = in->b_out != NULL ? pool_inputs(p, in->b_out, V) : NULL;
    x->G = pool_inputs(p, in->G, n * V);
    x->pi = pool_take(p, n * K);
    x->g = pool_take(p, n * K * d);
    x->p = pool_take(p, n * K * V);
    x->delta = pool_take(p, n * K * V);
    x->dpilog = pool_take(p, n * K);
    x->dc = pool_take(p, n * K * d);
    x->gate_logits = pool_take(p, K);
    x->gate_zeta = pool_take(p, K);
    x->log_pi = pool_take(p, K);
    x->log_sum = pool_take(p, K);
    x->l = pool_take(p, K);
    x->rho = pool_take(p, K);
    x->logits = pool_take(p, V);
    x->y = pool_take(p, V);
    x->zeta = pool_take(p, K * V);
    x->omega = pool_take(p, K * V);
    x->omega_G = pool_take(p, K * V);
    x->r = pool_take(p, 1);
    if (p->failed)
        return -1;
    for (size_t j = 0; j < d; j++)
        for (size_t v = 0; v < V; v++)
            errnum_input(&x->W_out[j * V + v], in->W_out != NULL
                                                   ? in->W_out[j * V + v]
                                                   : in->E[v * d + j]);
    return 0;
}

/* Row t, forward: pi = softmax(h W_pi); for each k, c_k = h W_k + b_k (one
 * sum of d + 1 terms), g_k = tanh(c_k), l_k = g_k W_out + b_out,
 * p_k = softmax(l_k); then the mixture's omega. */
static void gated_forward_row(gated_terms *x, size_t t)
{
    size_t V = x->V, d = x->d, K = x->K;
    const errnum *h_t = x->h + t * d;
    errnum *pi_t = x->pi + t * K, *p_t = x->p + t * K * V;
    for (size_t k = 0; k < K; k++)
        dot(&x->gate_logits[k], h_t, 1, x->W_pi + k, K, d);
    softmax_row(x->gate_zeta, pi_t, NULL, x->gate_logits, K);
    for (size_t k = 0; k < K; k++) {
        errnum *g_tk = x->g + (t * K + k) * d;
        for (size_t i = 0; i < d; i++) {
            errnum_sum sum;
            errnum_sum_begin(&sum);
            add_products(&sum, h_t, 1, x->W_comp + k * d * d + i, d, d);
            errnum_sum_add(&sum, &x->b_comp[k * d + i]);
            errnum_sum_end(&g_tk[i], &sum);
            errnum_tanh(&g_tk[i], &g_tk[i]);
        }
        for (size_t v = 0; v < V; v++) {
            errnum_sum sum;
            errnum_sum_begin(&sum);
            add_products(&sum, g_tk, 1, x->W_out + v, V, d);
            if (x->b_out != NULL)
                errnum_sum_add(&sum, &x->b_out[v]);
            errnum_sum_end(&x->logits[v], &sum);
        }
        softmax_row(x->zeta + k * V, p_t + k * V, &x->log_sum[k], x->logits,
                    V);
        errnum_log(&x->log_pi[k], &pi_t[k]);
    }
    mixture_row(x->y, x->omega, pi_t, x->log_pi, x->zeta, x->log_sum, p_t,
                x->l, K, V);
}

/* Row t, backward: delta and rho; dpilog_k = rho_k - pi_k Sigma_k' rho_k';
 * dg_k = delta_k W_out^T, dc_k = dg_k (1 - g_k^2). */
static void gated_backward_row(gated_terms *x, size_t t)
{
    size_t V = x->V, d = x->d, K = x->K;
    const errnum *pi_t = x->pi + t * K;
    errnum *delta_t = x->delta + t * K * V;
    mixture_logit_gradient(delta_t, x->omega_G, x->rho, x->omega,
                           x->p + t * K * V, x->G + t * V, K, V);
    errnum one, rho_total, term;
    errnum_init(&one);
    errnum_init(&rho_total);
    errnum_init(&term);
    errnum_exact(&one, 1.0);
    sum_of(&rho_total, x->rho, 1, K);
    for (size_t k = 0; k < K; k++) {
        errnum_mul(&term, &pi_t[k], &rho_total);
        errnum_sub(&x->dpilog[t * K + k], &x->rho[k], &term);
        centred_share(x->dpilog[t * K + k].v, &x->rho[k], &pi_t[k], pi_t,
                      x->rho, K);
    }
    for (size_t k = 0; k < K; k++)
        for (size_t i = 0; i < d; i++) {
            size_t tki = (t * K + k) * d + i;
            errnum *dc = &x->dc[tki];
            dot(dc, delta_t + k * V, 1, x->W_out + i * V, 1, V);
            errnum_mul(&term, &x->g[tki], &x->g[tki]);
            errnum_sub(&term, &one, &term);
            errnum_mul(dc, dc, &term);
        }
    errnum_clear(&one);
    errnum_clear(&rho_total);
    errnum_clear(&term);
}

/* dW_out[i,v] = Sigma_{t,k} g[t,k,i] delta[t,k,v] (tied: dE[v,i]);
 * db_out[v] = Sigma_{t,k} delta[t,k,v]. */
static void gated_output_layer(const oracle_mos_gated_outputs *out,
                               gated_terms *x, int tied)
{
    size_t n = x->n, V = x->V, d = x->d, K = x->K;
    for (size_t i = 0; i < d; i++)
        for (size_t v = 0; v < V; v++) {
            dot(x->r, x->g + i, d, x->delta + v, V, n * K);
            if (tied)
                put(out->dE, v * d + i, x->r);
            else
                put(out->dW_out, i * V + v, x->r);
        }
    for (size_t v = 0; v < V; v++) {
        sum_of(x->r, x->delta + v, V, n * K);
        put(out->db_out, v, x->r);
    }
}

/* dW_comp[k][j,i] = Sigma_t h[t,j] dc[t,k,i]; db_comp[k,i] = Sigma_t
 * dc[t,k,i]; dW_pi[j,k] = Sigma_t h[t,j] dpilog[t,k]. */
static void gated_input_layers(const oracle_mos_gated_outputs *out,
                               gated_terms *x)
{
    size_t n = x->n, d = x->d, K = x->K;
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < d; j++)
            for (size_t i = 0; i < d; i++) {
                dot(x->r, x->h + j, d, x->dc + k * d + i, K * d, n);
                put(out->dW_comp, (k * d + j) * d + i, x->r);
            }
    for (size_t k = 0; k < K; k++)
        for (size_t i = 0; i < d; i++) {
            sum_of(x->r, x->dc + k * d + i, K * d, n);
            put(out->db_comp, k * d + i, x->r);
        }
    for (size_t j = 0; j < d; j++)
        for (size_t k = 0; k < K; k++) {
            dot(x->r, x->h + j, d, x->dpilog + k, K, n);
            put(out->dW_pi, j * K + k, x->r);
        }
}

/* dh[t,j] = Sigma_k dpilog[t,k] W_pi[j,k] + Sigma_{k,i} dc[t,k,i]
 * W_comp[k,j,i], one sum of K + K d terms. */
static void gated_dh(oracle_out dh, gated_terms *x)
{
    size_t n = x->n, d = x->d, K = x->K;
    for (size_t t = 0; t < n; t++)
        for (size_t j = 0; j < d; j++) {
            errnum_sum sum;
            errnum_sum_begin(&sum);
            add_products(&sum, x->dpilog + t * K, 1, x->W_pi + j * K, 1, K);
            for (size_t k = 0; k < K; k++)
                add_products(&sum, x->dc + (t * K + k) * d, 1,
                             x->W_comp + (k * d + j) * d, 1, d);
            errnum_sum_end(x->r, &sum);
            put(dh, t * d + j, x->r);
        }
}

/* spec/gradients.md#mos_gated_backward. Shapes: dh (n, d), dW_pi (d, K),
 * dW_comp (K, d, d), db_comp (K, d), dW_out (d, V) untied, dE (V, d) tied,
 * db_out (V); inputs as in oracle_mos_gated_inputs. */
int oracle_mos_gated_backward(const oracle_mos_gated_outputs *out,
                              const oracle_mos_gated_inputs *in)
{
    if (!mos_gated_args_ok(out, in))
        return -1;
    pool p;
    pool_begin(&p);
    gated_terms x = {.n = in->n, .V = in->V, .d = in->d, .K = in->K};
    if (gated_load(&x, &p, in) != 0) {
        pool_release(&p);
        return -1;
    }
    for (size_t t = 0; t < in->n; t++) {
        gated_forward_row(&x, t);
        gated_backward_row(&x, t);
    }
    gated_output_layer(out, &x, in->W_out == NULL);
    gated_input_layers(out, &x);
    gated_dh(out->dh, &x);
    pool_release(&p);
    return 0;
}

/* ---- soft-tying regulariser ---- */

/* The quantities of the soft-tying backward. */
typedef struct {
    size_t n, V, d;
    errnum *h, *E, *W;   /* inputs: (n, d), (V, d), (d, V) */
    errnum *D;           /* (n, V): dlogits of the cross-entropy */
    errnum *pull;        /* (1): 2 lambda dloss */
    errnum *logits, *zeta, *y; /* (V) each: scratch for one row */
    errnum *r, *term;    /* (1) each: scratch */
} soft_tie_terms;

/* Takes the arrays of terms from p and loads the inputs; 0, or -1 if
 * memory runs out. */
static int soft_tie_load(soft_tie_terms *x, pool *p, const double *h,
                         const double *E, const double *W)
{
    size_t n = x->n, V = x->V, d = x->d;
    x->h = pool_inputs(p, h, n * d);
    x->E = pool_inputs(p, E, V * d);
    x->W = pool_inputs(p, W, d * V);
    x->D = pool_take(p, n * V);
    x->pull = pool_take(p, 1);
    x->logits = pool_take(p, V);
    x->zeta = pool_take(p, V);
    x->y = pool_take(p, V);
    x->r = pool_take(p, 1);
    x->term = pool_take(p, 1);
    return p->failed ? -1 : 0;
}

/* The row weight w of spec/gradients.md#cross_entropy_backward for the
 * counted rows: dloss (sum) or dloss / m (mean, m >= 1 counted rows). */
static void soft_tie_row_weight(errnum *w, double dloss, size_t counted,
                                enum oracle_reduction reduction)
{
    errnum_input(w, dloss);
    if (reduction == ORACLE_REDUCE_MEAN) {
        errnum m;
        errnum_init(&m);
        errnum_count(&m, counted);
        errnum_div(w, w, &m);
        errnum_clear(&m);
    }
}

/* D[t,v] = w (y[t,v] - 1[v = c_t]) with y = softmax(h[t] W), for the
 * counted rows; 0 (E = 0) on ignored rows. targets: (n) */
static void soft_tie_dlogits(soft_tie_terms *x, const int64_t *targets,
                             double dloss, enum oracle_reduction reduction,
                             int64_t ignore_index)
{
    size_t n = x->n, V = x->V, d = x->d, counted = 0;
    for (size_t t = 0; t < n; t++)
        if (targets[t] != ignore_index)
            counted++;
    errnum w, one;
    errnum_init(&w);
    errnum_init(&one);
    errnum_exact(&one, 1.0);
    soft_tie_row_weight(&w, dloss, counted, reduction);
    for (size_t t = 0; t < n; t++) {
        if (targets[t] == ignore_index)
            continue; /* D[t, :] stays 0 with E = 0 */
        for (size_t v = 0; v < V; v++)
            dot(&x->logits[v], x->h + t * d, 1, x->W + v, V, d);
        softmax_row(x->zeta, x->y, NULL, x->logits, V);
        size_t c = (size_t)targets[t];
        errnum_sub(&x->y[c], &x->y[c], &one);
        for (size_t v = 0; v < V; v++)
            errnum_mul(&x->D[t * V + v], &w, &x->y[v]);
    }
    errnum_clear(&w);
    errnum_clear(&one);
}

/* pull = (2 lambda) dloss. */
static void soft_tie_pull(errnum *pull, double lambda, double dloss)
{
    errnum two, factor;
    errnum_init(&two);
    errnum_init(&factor);
    errnum_exact(&two, 2.0);
    errnum_input(&factor, lambda);
    errnum_mul(pull, &two, &factor);
    errnum_input(&factor, dloss);
    errnum_mul(pull, pull, &factor);
    errnum_clear(&two);
    errnum_clear(&factor);
}

/* dh = D W^T; dW = h^T D + pull (W - E^T); dE = pull (E - W^T). */
static void soft_tie_outputs(oracle_out dh, oracle_out dE, oracle_out dW,
                             soft_tie_terms *x)
{
    size_t n = x->n, V = x->V, d = x->d;
    for (size_t t = 0; t < n; t++)
        for (size_t j = 0; j < d; j++) {
            dot(x->r, x->D + t * V, 1, x->W + j * V, 1, V);
            put(dh, t * d + j, x->r);
        }
    for (size_t j = 0; j < d; j++)
        for (size_t v = 0; v < V; v++) {
            dot(x->r, x->h + j, d, x->D + v, V, n);
            errnum_sub(x->term, &x->W[j * V + v], &x->E[v * d + j]);
            errnum_mul(x->term, x->pull, x->term);
            errnum_add(x->r, x->r, x->term);
            put(dW, j * V + v, x->r);
        }
    for (size_t v = 0; v < V; v++)
        for (size_t j = 0; j < d; j++) {
            errnum_sub(x->term, &x->E[v * d + j], &x->W[j * V + v]);
            errnum_mul(x->r, x->pull, x->term);
            put(dE, v * d + j, x->r);
        }
}

/* spec/gradients.md#soft_tie_loss_backward.
 * dh: (n, d); dE: (V, d); dW: (d, V); h: (n, d); E: (V, d); W: (d, V);
 * targets: (n) */
int oracle_soft_tie_loss_backward(oracle_out dh, oracle_out dE, oracle_out dW,
                                  const double *h, const double *E,
                                  const double *W, const int64_t *targets,
                                  size_t n, size_t V, size_t d, double lambda,
                                  enum oracle_reduction reduction,
                                  int64_t ignore_index, double dloss)
{
    if (!out_ok(dh) || !out_ok(dE) || !out_ok(dW))
        return -1;
    if (oracle_check_soft_tie_loss_backward(
            oracle_mat(h, n, d), oracle_mat(E, V, d), oracle_mat(W, d, V),
            oracle_ints_of(targets, n), oracle_vec(&dloss, 1), lambda,
            reduction, ignore_index) != ORACLE_OK)
        return -1;
    pool p;
    pool_begin(&p);
    soft_tie_terms x = {.n = n, .V = V, .d = d};
    if (soft_tie_load(&x, &p, h, E, W) != 0) {
        pool_release(&p);
        return -1;
    }
    soft_tie_dlogits(&x, targets, dloss, reduction, ignore_index);
    soft_tie_pull(x.pull, lambda, dloss);
    soft_tie_outputs(dh, dE, dW, &x);
    pool_release(&p);
    return 0;
}
