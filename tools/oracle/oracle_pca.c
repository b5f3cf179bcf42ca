/*
 * oracle_pca.c -- principal component analysis in MPFR (spec/pca.md), with
 * the scales of spec/tolerance.md#pca.
 *
 * Method: the exact column means, the centred rows X_c and the covariance
 * C = X_c^T X_c / (n - 1) at ORACLE_PREC bits; C's eigen-decomposition by
 * cyclic Jacobi rotations (each rotation zeroes one off-diagonal pair; the
 * sweeps stop when the off-diagonal part is below 2^-(p-16) of ||C||_F);
 * the eigenpairs sorted by descending eigenvalue; the sign rule; then every
 * output rounded once. Values within 2^-(p/2) of their scale are 0 exactly
 * and written as 0, and two eigenvalues that close are equal
 * (spec/tolerance.md#pca, "What the oracle computes").
 */
#include "oracle_pca.h"

#include <stdint.h>
#include <stdlib.h>

#include <mpfr.h>

#include "oracle_internal.h"

#define MAX_SWEEPS 100
#define CLASSES 4

/* u of fp64, fp32, bf16, fp16 (spec/tolerance.md#precision-classes) */
static const double class_u[CLASSES] = {0x1p-53, 0x1p-24, 0x1p-8, 0x1p-11};

typedef struct {
    size_t n, d, k;
    mpfr_t *mean;   /* (d): mu */
    mpfr_t *xc;     /* (n, d): X - 1 mu^T */
    mpfr_t *a;      /* (d, d): C, diagonalised in place */
    mpfr_t *v;      /* (d, d): the eigenvectors, in columns */
    mpfr_t *lambda; /* (d): the eigenvalues, descending, small ones 0 */
    size_t *order;  /* (d): the column of v of lambda[i] */
    mpfr_t *m;      /* (d): m_j = mean_t |X[t,j]| */
    mpfr_t *row_a;  /* (n): A_t */
    mpfr_t *row_c;  /* (n): ||X_c[t,:]|| */
    mpfr_t norm_c, norm_a, s_e, total, k_e, q_cap, tiny, t1, t2, t3;
} pca_state;

/* 1 if the inputs are valid (tools/oracle/oracle_validate.c) and the
 * outputs can be written. */
static int inputs_ok(const oracle_pca_outputs *out, const double *X,
                     size_t n, size_t d, size_t k)
{
    return out != NULL && k <= (size_t)INT64_MAX
           && oracle_check_pca(oracle_mat(X, n, d), (int64_t)k) == ORACLE_OK;
}

static void state_clear(pca_state *st)
{
    size_t n = st->n, d = st->d;
    oracle_numbers_free(st->mean, d);
    oracle_numbers_free(st->xc, n * d);
    oracle_numbers_free(st->a, d * d);
    oracle_numbers_free(st->v, d * d);
    oracle_numbers_free(st->lambda, d);
    oracle_numbers_free(st->m, d);
    oracle_numbers_free(st->row_a, n);
    oracle_numbers_free(st->row_c, n);
    free(st->order);
    mpfr_clears(st->norm_c, st->norm_a, st->s_e, st->total, st->k_e,
                st->q_cap, st->tiny, st->t1, st->t2, st->t3, (mpfr_ptr)0);
}

static int state_init(pca_state *st, size_t n, size_t d, size_t k)
{
    st->n = n;
    st->d = d;
    st->k = k;
    st->mean = oracle_numbers_new(d);
    st->xc = oracle_numbers_new(n * d);
    st->a = oracle_numbers_new(d * d);
    st->v = oracle_numbers_new(d * d);
    st->lambda = oracle_numbers_new(d);
    st->m = oracle_numbers_new(d);
    st->row_a = oracle_numbers_new(n);
    st->row_c = oracle_numbers_new(n);
    st->order = malloc(d * sizeof *st->order);
    mpfr_inits2(ORACLE_PREC, st->norm_c, st->norm_a, st->s_e, st->total,
                st->k_e, st->q_cap, st->tiny, st->t1, st->t2, st->t3,
                (mpfr_ptr)0);
    if (st->mean == NULL || st->xc == NULL || st->a == NULL || st->v == NULL ||
        st->lambda == NULL || st->m == NULL || st->row_a == NULL ||
        st->row_c == NULL || st->order == NULL) {
        state_clear(st);
        return -1;
    }
    return 0;
}

/* mu, X_c, m and C (into a), and T = trace C. X: (n, d) */
static void centre_and_cover(pca_state *st, const double *X)
{
    size_t n = st->n, d = st->d;
    for (size_t j = 0; j < d; j++) {
        mpfr_set_zero(st->mean[j], 1);
        mpfr_set_zero(st->m[j], 1);
        for (size_t t = 0; t < n; t++) {
            mpfr_add_d(st->mean[j], st->mean[j], X[t * d + j], MPFR_RNDN);
            mpfr_set_d(st->t1, X[t * d + j], MPFR_RNDN);
            mpfr_abs(st->t1, st->t1, MPFR_RNDN);
            mpfr_add(st->m[j], st->m[j], st->t1, MPFR_RNDN);
        }
        mpfr_div_ui(st->mean[j], st->mean[j], (unsigned long)n, MPFR_RNDN);
        mpfr_div_ui(st->m[j], st->m[j], (unsigned long)n, MPFR_RNDN);
        for (size_t t = 0; t < n; t++)
            mpfr_d_sub(st->xc[t * d + j], X[t * d + j], st->mean[j], MPFR_RNDN);
    }
    mpfr_set_zero(st->total, 1);
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            mpfr_t *c = &st->a[i * d + j];
            mpfr_set_zero(*c, 1);
            for (size_t t = 0; t < n; t++)
                mpfr_fma(*c, st->xc[t * d + i], st->xc[t * d + j], *c, MPFR_RNDN);
            mpfr_div_ui(*c, *c, (unsigned long)(n - 1), MPFR_RNDN);
            mpfr_set_ui(st->v[i * d + j], i == j, MPFR_RNDN);
            if (i == j)
                mpfr_add(st->total, st->total, *c, MPFR_RNDN);
        }
}

/* out = the sum of squares of a's off-diagonal entries (off = 1) or of all. */
static void square_sum(mpfr_t out, const pca_state *st, int off)
{
    mpfr_set_zero(out, 1);
    for (size_t i = 0; i < st->d; i++)
        for (size_t j = 0; j < st->d; j++)
            if (!off || i != j)
                mpfr_fma(out, st->a[i * st->d + j], st->a[i * st->d + j], out,
                         MPFR_RNDN);
}

/* One Jacobi rotation in the plane (p, q) that zeroes a[p][q]; c, s, t, th
 * are scratch. */
static void rotate(pca_state *st, size_t p, size_t q, mpfr_t c, mpfr_t s,
                   mpfr_t t, mpfr_t th)
{
    size_t d = st->d;
    mpfr_t *a = st->a, *v = st->v;
    /* theta = (a_qq - a_pp) / (2 a_pq), t = sgn(theta) / (|theta| + sqrt(theta^2 + 1)) */
    mpfr_sub(th, a[q * d + q], a[p * d + p], MPFR_RNDN);
    mpfr_div(th, th, a[p * d + q], MPFR_RNDN);
    mpfr_div_2ui(th, th, 1, MPFR_RNDN);
    mpfr_sqr(t, th, MPFR_RNDN);
    mpfr_add_ui(t, t, 1, MPFR_RNDN);
    mpfr_sqrt(t, t, MPFR_RNDN);
    mpfr_abs(c, th, MPFR_RNDN);
    mpfr_add(t, t, c, MPFR_RNDN);
    mpfr_ui_div(t, 1, t, MPFR_RNDN);
    if (mpfr_sgn(th) < 0)
        mpfr_neg(t, t, MPFR_RNDN);
    /* c = 1 / sqrt(t^2 + 1), s = t c */
    mpfr_sqr(c, t, MPFR_RNDN);
    mpfr_add_ui(c, c, 1, MPFR_RNDN);
    mpfr_rec_sqrt(c, c, MPFR_RNDN);
    mpfr_mul(s, t, c, MPFR_RNDN);
    /* a_pp -= t a_pq, a_qq += t a_pq, a_pq = 0 */
    mpfr_mul(th, t, a[p * d + q], MPFR_RNDN);
    mpfr_sub(a[p * d + p], a[p * d + p], th, MPFR_RNDN);
    mpfr_add(a[q * d + q], a[q * d + q], th, MPFR_RNDN);
    mpfr_set_zero(a[p * d + q], 1);
    mpfr_set_zero(a[q * d + p], 1);
    for (size_t r = 0; r < d; r++) {
        if (r != p && r != q) {
            /* a_rp = c a_rp - s a_rq, a_rq = s a_rp + c a_rq (symmetric) */
            mpfr_mul(st->t1, c, a[r * d + p], MPFR_RNDN);
            mpfr_mul(st->t2, s, a[r * d + q], MPFR_RNDN);
            mpfr_sub(st->t1, st->t1, st->t2, MPFR_RNDN);
            mpfr_mul(st->t2, s, a[r * d + p], MPFR_RNDN);
            mpfr_mul(st->t3, c, a[r * d + q], MPFR_RNDN);
            mpfr_add(a[r * d + q], st->t2, st->t3, MPFR_RNDN);
            mpfr_set(a[q * d + r], a[r * d + q], MPFR_RNDN);
            mpfr_set(a[r * d + p], st->t1, MPFR_RNDN);
            mpfr_set(a[p * d + r], st->t1, MPFR_RNDN);
        }
        /* the same rotation of v's columns p and q */
        mpfr_mul(st->t1, c, v[r * d + p], MPFR_RNDN);
        mpfr_mul(st->t2, s, v[r * d + q], MPFR_RNDN);
        mpfr_sub(st->t1, st->t1, st->t2, MPFR_RNDN);
        mpfr_mul(st->t2, s, v[r * d + p], MPFR_RNDN);
        mpfr_mul(st->t3, c, v[r * d + q], MPFR_RNDN);
        mpfr_add(v[r * d + q], st->t2, st->t3, MPFR_RNDN);
        mpfr_set(v[r * d + p], st->t1, MPFR_RNDN);
    }
}

/* Cyclic Jacobi sweeps until the off-diagonal part is negligible; 0, or -1
 * if MAX_SWEEPS do not get there. */
static int jacobi(pca_state *st)
{
    mpfr_t limit, off, c, s, t, th;
    int status = -1;
    mpfr_inits2(ORACLE_PREC, limit, off, c, s, t, th, (mpfr_ptr)0);
    square_sum(limit, st, 0);
    mpfr_mul_2si(limit, limit, -2 * (ORACLE_PREC - 16), MPFR_RNDN);
    for (int sweep = 0; sweep < MAX_SWEEPS; sweep++) {
        square_sum(off, st, 1);
        if (mpfr_lessequal_p(off, limit)) {
            status = 0;
            break;
        }
        for (size_t p = 0; p + 1 < st->d; p++)
            for (size_t q = p + 1; q < st->d; q++)
                if (!mpfr_zero_p(st->a[p * st->d + q]))
                    rotate(st, p, q, c, s, t, th);
    }
    mpfr_clears(limit, off, c, s, t, th, (mpfr_ptr)0);
    return status;
}

/* order and lambda: the diagonal sorted descending (the lower column first
 * among equal values). */
static void sort_eigenvalues(pca_state *st)
{
    size_t d = st->d;
    for (size_t i = 0; i < d; i++)
        st->order[i] = i;
    for (size_t i = 0; i < d; i++) {
        size_t best = i;
        for (size_t j = i + 1; j < d; j++) {
            mpfr_t *bj = &st->a[st->order[j] * d + st->order[j]];
            mpfr_t *bb = &st->a[st->order[best] * d + st->order[best]];
            if (mpfr_greater_p(*bj, *bb) ||
                (mpfr_equal_p(*bj, *bb) && st->order[j] < st->order[best]))
                best = j;
        }
        size_t keep = st->order[i];
        st->order[i] = st->order[best];
        st->order[best] = keep;
        mpfr_set(st->lambda[i], st->a[st->order[i] * d + st->order[i]], MPFR_RNDN);
    }
}

/* A_t, A, ||X_c[t,:]||, ||X_c||, S_E, K_E, Q_cap and the snap threshold. */
static void common_scales(pca_state *st, const double *X)
{
    size_t n = st->n, d = st->d;
    mpfr_set_zero(st->norm_a, 1);
    mpfr_set_zero(st->norm_c, 1);
    for (size_t t = 0; t < n; t++) {
        mpfr_set_zero(st->row_a[t], 1);
        mpfr_set_zero(st->row_c[t], 1);
        for (size_t j = 0; j < d; j++) {
            mpfr_set_d(st->t1, X[t * d + j], MPFR_RNDN);
            mpfr_abs(st->t1, st->t1, MPFR_RNDN);
            mpfr_add(st->t1, st->t1, st->m[j], MPFR_RNDN);
            mpfr_fma(st->row_a[t], st->t1, st->t1, st->row_a[t], MPFR_RNDN);
            mpfr_fma(st->row_c[t], st->xc[t * d + j], st->xc[t * d + j],
                     st->row_c[t], MPFR_RNDN);
        }
        mpfr_add(st->norm_a, st->norm_a, st->row_a[t], MPFR_RNDN);
        mpfr_add(st->norm_c, st->norm_c, st->row_c[t], MPFR_RNDN);
        mpfr_sqrt(st->row_a[t], st->row_a[t], MPFR_RNDN);
        mpfr_sqrt(st->row_c[t], st->row_c[t], MPFR_RNDN);
    }
    /* S_E = (||X_c|| (3A + ||X_c||) + u_64 (n + 4) A^2) / (n - 1), from the squares */
    mpfr_mul_d(st->t2, st->norm_a, 0x1p-53 * (double)(n + 4), MPFR_RNDN);
    mpfr_sqrt(st->norm_a, st->norm_a, MPFR_RNDN);
    mpfr_sqrt(st->norm_c, st->norm_c, MPFR_RNDN);
    mpfr_mul_ui(st->t1, st->norm_a, 3, MPFR_RNDN);
    mpfr_add(st->t1, st->t1, st->norm_c, MPFR_RNDN);
    mpfr_mul(st->s_e, st->t1, st->norm_c, MPFR_RNDN);
    mpfr_add(st->s_e, st->s_e, st->t2, MPFR_RNDN);
    mpfr_div_ui(st->s_e, st->s_e, (unsigned long)(n - 1), MPFR_RNDN);
    oracle_set_size(st->k_e, n + 4 * d + 5);
    /* Q_cap = 2^73 / (3 K_E): the fp64 bound 3 K_E u_64 Q_cap is 2^20 */
    mpfr_mul_ui(st->q_cap, st->k_e, 3, MPFR_RNDN);
    mpfr_ui_div(st->q_cap, 1, st->q_cap, MPFR_RNDU);
    mpfr_mul_2ui(st->q_cap, st->q_cap, 73, MPFR_RNDU);
    mpfr_set_ui_2exp(st->tiny, 1, -(mpfr_exp_t)(ORACLE_PREC / 2), MPFR_RNDN);
}

/* 1 if |x| <= tiny * scale: x is 0 exactly (see the file comment). */
static int negligible(const pca_state *st, const mpfr_t x, const mpfr_t scale,
                      mpfr_t scratch)
{
    mpfr_mul(scratch, st->tiny, scale, MPFR_RNDN);
    return mpfr_cmpabs(x, scratch) <= 0;
}

/* Eigenvalues within tiny S_E of 0 become 0. */
static void snap_eigenvalues(pca_state *st)
{
    mpfr_t scratch;
    mpfr_init2(scratch, ORACLE_PREC);
    for (size_t i = 0; i < st->d; i++)
        if (negligible(st, st->lambda[i], st->s_e, scratch))
            mpfr_set_zero(st->lambda[i], 1);
    if (negligible(st, st->total, st->s_e, scratch))
        mpfr_set_zero(st->total, 1);
    mpfr_clear(scratch);
}

/* gap = lambda[i] - lambda[j] (i < j), or 0 when they are equal; returns
 * 1 when j is past the spectrum (an infinite gap, gap untouched). */
static int gap_between(pca_state *st, mpfr_t gap, size_t i, size_t j)
{
    mpfr_t scratch;
    if (j >= st->d)
        return 1;
    mpfr_init2(scratch, ORACLE_PREC);
    mpfr_sub(gap, st->lambda[i], st->lambda[j], MPFR_RNDN);
    if (negligible(st, gap, st->s_e, scratch))
        mpfr_set_zero(gap, 1);
    mpfr_clear(scratch);
    return 0;
}

/* q = S_E / gap_i (0 for an infinite gap), or -1 in q's sign when gap_i = 0. */
static void direction_q(pca_state *st, mpfr_t q, size_t i)
{
    mpfr_t gap, other;
    mpfr_inits2(ORACLE_PREC, gap, other, (mpfr_ptr)0);
    int above_infinite = i == 0 || gap_between(st, gap, i - 1, i);
    int below_infinite = gap_between(st, other, i, i + 1);
    if (above_infinite && below_infinite)
        mpfr_set_zero(q, 1);
    else {
        if (above_infinite)
            mpfr_set(gap, other, MPFR_RNDN);
        else if (!below_infinite)
            mpfr_min(gap, gap, other, MPFR_RNDN);
        if (mpfr_zero_p(gap))
            mpfr_set_si(q, -1, MPFR_RNDN);
        else
            mpfr_div(q, st->s_e, gap, MPFR_RNDN);
    }
    mpfr_clears(gap, other, (mpfr_ptr)0);
}

/* b = 2 sqrt 2 K_E u Q, the bound of a direction in the class of u. */
static void direction_bound(pca_state *st, mpfr_t b, const mpfr_t q, double u)
{
    mpfr_set_ui(b, 8, MPFR_RNDN);
    mpfr_sqrt(b, b, MPFR_RNDN);
    mpfr_mul(b, b, st->k_e, MPFR_RNDN);
    mpfr_mul_d(b, b, u, MPFR_RNDN);
    mpfr_mul(b, b, q, MPFR_RNDN);
}

/* The signed direction i into vec (d), and its sign margin. */
static void signed_direction(pca_state *st, mpfr_t *vec, mpfr_t margin, size_t i)
{
    size_t d = st->d, col = st->order[i], largest = 0;
    for (size_t j = 0; j < d; j++) {
        mpfr_set(vec[j], st->v[j * d + col], MPFR_RNDN);
        if (mpfr_cmpabs(vec[j], vec[largest]) > 0)
            largest = j;
    }
    if (mpfr_sgn(vec[largest]) < 0)
        for (size_t j = 0; j < d; j++)
            mpfr_neg(vec[j], vec[j], MPFR_RNDN);
    mpfr_set_ui(margin, 1, MPFR_RNDN);
    mpfr_set_zero(st->t1, 1);
    for (size_t j = 0; j < d; j++)
        if (j != largest && mpfr_cmpabs(vec[j], st->t1) > 0)
            mpfr_abs(st->t1, vec[j], MPFR_RNDN);
    if (d > 1)
        mpfr_sub(margin, vec[largest], st->t1, MPFR_RNDN);
}

/* Is direction i judged (gap, cap, fp64 sign margin)? Clears the classes
 * in which its sign is ambiguous at a bound below 2. */
static int judge_direction(pca_state *st, oracle_pca_report *report,
                           const mpfr_t q, const mpfr_t margin)
{
    mpfr_t b;
    int judged = 1;
    if (mpfr_sgn(q) < 0 || mpfr_greater_p(q, st->q_cap))
        return 0;
    mpfr_init2(b, ORACLE_PREC);
    for (int c = 0; c < CLASSES && judged; c++) {
        direction_bound(st, b, q, class_u[c]);
        mpfr_mul_2ui(b, b, 1, MPFR_RNDN);
        int ambiguous = mpfr_lessequal_p(margin, b);
        mpfr_div_2ui(b, b, 1, MPFR_RNDN);
        if (c == 0 && ambiguous) {
            judged = 0;
            report->sign_ambiguous = 1;
        } else if (ambiguous && mpfr_cmp_ui(b, 2) < 0) {
            report->classes &= ~(1u << c);
        }
    }
    mpfr_clear(b);
    return judged;
}

/* One double: x rounded once; scale rounded upward. */
static void put(double *value, double *scale, const mpfr_t x, const mpfr_t s)
{
    *value = mpfr_get_d(x, MPFR_RNDN);
    *scale = mpfr_get_d(s, MPFR_RNDU);
}

/* Row i of components and column i of projections; z (n, k) keeps the
 * projections at full precision for the reconstruction; vec (d) scratch. */
static void write_direction(pca_state *st, const oracle_pca_outputs *out,
                            oracle_pca_report *report, mpfr_t *z, mpfr_t *vec,
                            size_t i)
{
    size_t n = st->n, d = st->d, k = st->k;
    mpfr_t q, margin, s, zero;
    mpfr_inits2(ORACLE_PREC, q, margin, s, zero, (mpfr_ptr)0);
    mpfr_set_zero(zero, 1);
    direction_q(st, q, i);
    signed_direction(st, vec, margin, i);
    int judged = judge_direction(st, report, q, margin);
    if (!judged) {
        mpfr_set(q, st->q_cap, MPFR_RNDN);
        report->unjudged++;
    }
    mpfr_add_ui(s, q, 1, MPFR_RNDU);
    for (size_t j = 0; j < d; j++) {
        int zero_here = !judged || negligible(st, vec[j], s, st->t1);
        put(&out->components[i * d + j], &out->components_scale[i * d + j],
            zero_here ? zero : vec[j], s);
    }
    for (size_t t = 0; t < n; t++) {
        mpfr_t *zt = &z[t * k + i];
        mpfr_set_zero(*zt, 1);
        for (size_t j = 0; j < d; j++)
            mpfr_fma(*zt, st->xc[t * d + j], vec[j], *zt, MPFR_RNDN);
        /* s = A_t + ||X_c[t,:]|| (1 + Q) */
        mpfr_add_ui(s, q, 1, MPFR_RNDU);
        mpfr_mul(s, s, st->row_c[t], MPFR_RNDU);
        mpfr_add(s, s, st->row_a[t], MPFR_RNDU);
        int zero_here = !judged || negligible(st, *zt, st->row_c[t], st->t1);
        put(&out->projections[t * k + i], &out->projections_scale[t * k + i],
            zero_here ? zero : *zt, s);
    }
    mpfr_clears(q, margin, s, zero, (mpfr_ptr)0);
}

/* The reconstruction R = mu + Z V_k, judged through Q_sub. z: (n, k); the
 * signed directions are recomputed into vec (k * d). */
static void write_reconstruction(pca_state *st, const oracle_pca_outputs *out,
                                 oracle_pca_report *report, mpfr_t *z,
                                 mpfr_t *vec)
{
    size_t n = st->n, d = st->d, k = st->k;
    mpfr_t q, r, s, margin;
    mpfr_inits2(ORACLE_PREC, q, r, s, margin, (mpfr_ptr)0);
    for (size_t i = 0; i < k; i++)
        signed_direction(st, vec + i * d, margin, i);
    int judged = 1;
    if (gap_between(st, q, k - 1, k))
        mpfr_set_zero(q, 1);
    else if (mpfr_zero_p(q))
        judged = 0;
    else
        mpfr_div(q, st->s_e, q, MPFR_RNDN);
    if (!judged || mpfr_greater_p(q, st->q_cap)) {
        judged = 0;
        mpfr_set(q, st->q_cap, MPFR_RNDN);
        report->repeated_variances = 1;
    }
    mpfr_set_ui(r, (unsigned long)k, MPFR_RNDN);
    mpfr_sqrt(r, r, MPFR_RNDU);
    mpfr_add(q, q, r, MPFR_RNDU); /* sqrt k + Q_sub */
    for (size_t t = 0; t < n; t++)
        for (size_t j = 0; j < d; j++) {
            /* s = m_j + A_t + ||X_c[t,:]|| (sqrt k + Q_sub) */
            mpfr_mul(s, q, st->row_c[t], MPFR_RNDU);
            mpfr_add(s, s, st->row_a[t], MPFR_RNDU);
            mpfr_add(s, s, st->m[j], MPFR_RNDU);
            mpfr_set(r, st->mean[j], MPFR_RNDN);
            for (size_t i = 0; judged && i < k; i++)
                mpfr_fma(r, z[t * k + i], vec[i * d + j], r, MPFR_RNDN);
            if (negligible(st, r, s, st->t1))
                mpfr_set_zero(r, 1);
            put(&out->reconstruction[t * d + j],
                &out->reconstruction_scale[t * d + j], r, s);
        }
    mpfr_clears(q, r, s, margin, (mpfr_ptr)0);
}

/* mean, variances, ratios and their scales. */
static void write_spectrum(pca_state *st, const oracle_pca_outputs *out)
{
    mpfr_t r, s;
    mpfr_inits2(ORACLE_PREC, r, s, (mpfr_ptr)0);
    for (size_t j = 0; j < st->d; j++) {
        mpfr_set(r, st->mean[j], MPFR_RNDN);
        if (negligible(st, r, st->m[j], s))
            mpfr_set_zero(r, 1);
        put(&out->mean[j], &out->mean_scale[j], r, st->m[j]);
    }
    for (size_t i = 0; i < st->k; i++) {
        put(&out->variances[i], &out->variances_scale[i], st->lambda[i], st->s_e);
        if (mpfr_zero_p(st->total)) {
            mpfr_set_zero(r, 1);
            mpfr_set(s, st->q_cap, MPFR_RNDU);
        } else {
            /* r = lambda_i / T, s = d S_E (1 + r) / T */
            mpfr_div(r, st->lambda[i], st->total, MPFR_RNDN);
            mpfr_add_ui(s, r, 1, MPFR_RNDU);
            mpfr_mul(s, s, st->s_e, MPFR_RNDU);
            mpfr_mul_ui(s, s, (unsigned long)st->d, MPFR_RNDU);
            mpfr_div(s, s, st->total, MPFR_RNDU);
        }
        put(&out->ratios[i], &out->ratios_scale[i], r, s);
    }
    mpfr_clears(r, s, (mpfr_ptr)0);
}

/* The flags that depend on the spectrum alone, and the centring test. */
static void report_spectrum(pca_state *st, oracle_pca_report *report)
{
    size_t n = st->n, d = st->d, k = st->k;
    size_t r = n < d ? n : d;
    mpfr_t q, limit;
    mpfr_inits2(ORACLE_PREC, q, limit, (mpfr_ptr)0);
    report->rank_deficient = mpfr_zero_p(st->lambda[r - 1]) != 0;
    report->total_zero = mpfr_zero_p(st->total) != 0;
    for (size_t i = 0; i < k; i++) {
        direction_q(st, q, i);
        if (mpfr_sgn(q) < 0)
            report->repeated_variances = 1;
        else if (!mpfr_zero_p(q)) {
            /* gap_i = S_E / Q_i < 1e-6 T  <=>  Q_i 1e-6 T > S_E */
            mpfr_mul(limit, q, st->total, MPFR_RNDN);
            mpfr_mul_d(limit, limit, 1e-6, MPFR_RNDN);
            if (mpfr_greater_p(limit, st->s_e))
                report->near_degenerate = 1;
        }
    }
    for (int c = 1; c < CLASSES; c++) {
        /* (n + 4) u_c A <= ||X_c|| */
        mpfr_mul_d(q, st->norm_a, class_u[c] * (double)(n + 4), MPFR_RNDN);
        if (mpfr_greater_p(q, st->norm_c))
            report->classes &= ~(1u << c);
    }
    mpfr_clears(q, limit, (mpfr_ptr)0);
}

static void set_constants(oracle_pca_report *report, size_t n, size_t d)
{
    double k_e = (double)(n + 4 * d + 5);
    *report = (oracle_pca_report){0};
    report->k_mean = (double)(n + 4);
    report->k_variances = k_e + 1.0;
    report->k_ratios = 2.0 * k_e + 2.0;
    report->k_directions = 3.0 * k_e;
    report->classes = (1u << CLASSES) - 1u;
}

int oracle_pca(const oracle_pca_outputs *out, oracle_pca_report *report,
               const double *X, size_t n, size_t d, size_t k)
{
    pca_state st;
    if (!inputs_ok(out, X, n, d, k) || report == NULL || state_init(&st, n, d, k))
        return -1;
    set_constants(report, n, d);
    centre_and_cover(&st, X);
    int status = jacobi(&st);
    mpfr_t *z = oracle_numbers_new(n * k);
    mpfr_t *vec = oracle_numbers_new(k * d);
    if (status == 0 && z != NULL && vec != NULL) {
        sort_eigenvalues(&st);
        common_scales(&st, X);
        snap_eigenvalues(&st);
        report_spectrum(&st, report);
        write_spectrum(&st, out);
        for (size_t i = 0; i < k; i++)
            write_direction(&st, out, report, z, vec, i);
        write_reconstruction(&st, out, report, z, vec);
    } else {
        status = -1;
    }
    oracle_numbers_free(z, n * k);
    oracle_numbers_free(vec, k * d);
    state_clear(&st);
    return status;
}
