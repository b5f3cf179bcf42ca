/*
 * oracle_grad_selfcheck.c -- TAP self-test of the running error bound
 * (tools/oracle/oracle_errnum.h) and of the gradient oracle of the core ops
 * (tools/oracle/oracle_grad.h: lookup and position scatter-adds, LayerNorm, the two
 * heads, softmax, log-softmax, cross-entropy and tied_lm).
 *
 * The expected values here do not come from the oracle's own backward code:
 *  - the errnum rules are checked on expressions small enough to work out by
 *    hand (the table of spec/tolerance.md#gradients);
 *  - the identities of spec/gradients.md (LayerNorm's dx sums to 0 and is
 *    orthogonal to z, softmax gradients sum to 0, dE = dE_input +
 *    dE_output, ...);
 *  - central differences (spec/gradients.md#finite-differences) of forward
 *    passes written here in long double, and, for tied_lm, of the oracle's
 *    own loss;
 *  - exact sums and products of small dyadic inputs;
 *  - a few values and scales computed separately with Python's mpmath at
 *    3000 bits, by a separate implementation of the table's rules with the
 *    same evaluation order, written as hexadecimal doubles (nearest for
 *    values, upward for scales) -- test_against_mpmath.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mpfr.h>

#include "oracle_errnum.h"
#include "oracle_grad.h"
#include "tap.h"

/* ---- helpers ---- */

/* 1 if every scale is finite, >= 0 and >= |value|. value, scale: (count) */
static int scales_cover(const double *value, const double *scale,
                        size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!isfinite(scale[i]) || !(scale[i] >= fabs(value[i])))
            return 0;
    return 1;
}

/* The largest |x_i|. x: (count) */
static double max_abs(const double *x, size_t count)
{
    double largest = 0.0;
    for (size_t i = 0; i < count; i++)
        if (fabs(x[i]) > largest)
            largest = fabs(x[i]);
    return largest;
}

/* 1 if a and b have the same bits. */
static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* The step of spec/gradients.md#finite-differences: 2^-20 times the
 * smallest power of two >= max(1, |theta|). */
static double fd_step(double theta)
{
    int exponent = 0;
    double magnitude = fabs(theta);
    if (magnitude <= 1.0)
        return 0x1p-20;
    double mantissa = frexp(magnitude, &exponent); /* in [0.5, 1) */
    if (mantissa == 0.5)
        exponent--;
    return ldexp(1.0, exponent - 20);
}

/* A scalar function of parameters held in ctx. */
typedef long double (*loss_fn)(const void *ctx);

/* (f(theta_i + h) - f(theta_i - h)) / 2h; theta[i] is restored. */
static double central_difference(loss_fn f, const void *ctx, double *theta,
                                 size_t i)
{
    double saved = theta[i];
    double h = fd_step(saved);
    theta[i] = saved + h;
    long double up = f(ctx);
    theta[i] = saved - h;
    long double down = f(ctx);
    theta[i] = saved;
    return (double)((up - down) / (2.0L * h));
}

/* Checks the gradient g (with scales s) against central differences of f
 * over theta[0 .. count), skipping entries where skip (if not NULL) is
 * non-zero: |D_i - g_i| <= 1e-6 (s_i + max |g|). Reports one TAP line. */
static void check_fd(loss_fn f, const void *ctx, double *theta,
                     const double *g, const double *s, size_t count,
                     const unsigned char *skip, const char *name)
{
    double largest = max_abs(g, count), worst = 0.0;
    int passed = 1;
    for (size_t i = 0; i < count; i++) {
        if (skip != NULL && skip[i])
            continue;
        double D = central_difference(f, ctx, theta, i);
        double bound = 1e-6 * (s[i] + largest);
        double error = fabs(D - g[i]);
        if (!(error <= bound)) {
            passed = 0;
            tap_diag("%s[%zu]: difference %.17g gradient %.17g scale %.17g",
                     name, i, D, g[i], s[i]);
        }
        if (largest > 0 && error / largest > worst)
            worst = error / largest;
    }
    tap_ok(passed, "%s agrees with central differences (worst %.2g of "
           "max |g|)", name, worst);
}

/* ---- errnum rules (spec/tolerance.md#gradients) ---- */

/* value and scale of x as doubles */
static void get(const errnum *x, double *value, double *scale)
{
    errnum_get(value, scale, x);
}

static void test_errnum_arithmetic(void)
{
    errnum a, b, r;
    double v, s;
    errnum_init(&a);
    errnum_init(&b);
    errnum_init(&r);

    errnum_input(&a, 0.75);
    errnum_input(&b, -2.5);
    errnum_add(&r, &a, &b);
    get(&r, &v, &s);
    tap_ok(v == -1.75 && s == 0.75 + 2.5 + 1.75,
           "errnum: input a + input b has E = |a| + |b| + |a + b|");
    errnum_sub(&r, &a, &b);
    get(&r, &v, &s);
    tap_ok(v == 3.25 && s == 0.75 + 2.5 + 3.25,
           "errnum: input a - input b has E = |a| + |b| + |a - b|");
    errnum_mul(&r, &a, &b);
    get(&r, &v, &s);
    tap_ok(v == -1.875 && s == 3 * 1.875,
           "errnum: input a * input b has E = 3 |ab|");
    errnum_mul(&r, &r, &a); /* (ab) a, aliased */
    get(&r, &v, &s);
    /* |ab| E(a) + |a| E(ab) + |a^2 b| = 1.875*0.75 + 0.75*5.625 + 1.40625 */
    tap_ok(v == -1.40625 && s == 1.40625 + 4.21875 + 1.40625,
           "errnum: (ab) a propagates both bounds (result aliasing an "
           "operand)");

    errnum_input(&a, 1.0);
    errnum_input(&b, 4.0);
    errnum_div(&r, &a, &b);
    get(&r, &v, &s);
    tap_ok(v == 0.25 && s == 0.75,
           "errnum: 1/4 from inputs has E = (1 + 1/4 * 4)/4 + 1/4 = 3/4");
    errnum_input(&b, 3.0);
    errnum_div(&r, &a, &b);
    get(&r, &v, &s);
    tap_ok(v == 1.0 / 3.0 && s >= 1.0 && s <= nextafter(1.0, 2.0),
           "errnum: 1/3 rounds to nearest, E = 1 rounded upward (%.17g)", s);

    errnum_exact(&a, 1.0);
    errnum_input(&b, 0.5);
    errnum_sub(&r, &a, &b);
    get(&r, &v, &s);
    tap_ok(v == 0.5 && s == 1.0,
           "errnum: exact 1 - input 0.5 has E = 0 + 0.5 + 0.5");
    errnum_neg(&r, &r);
    get(&r, &v, &s);
    tap_ok(v == -0.5 && s == 1.0, "errnum: negation is exact");
    errnum_count(&a, 7);
    get(&a, &v, &s);
    tap_ok(v == 7.0 && s == 7.0, "errnum: a count m has E = m");

    errnum_clear(&a);
    errnum_clear(&b);
    errnum_clear(&r);
}

/* 1 if v is within one ulp of x (libm need not round correctly). */
static int near(double v, long double x)
{
    return fabsl(v - x) <= 0x1p-52L * fabsl(x);
}

static void test_errnum_functions(void)
{
    errnum a, r;
    double v, s;
    errnum_init(&a);
    errnum_init(&r);

    errnum_input(&a, 0.5);
    errnum_exp(&r, &a);
    get(&r, &v, &s);
    double want = (double)(expl(0.5L) * 2.5L);
    tap_ok(near(v, expl(0.5L)) && fabs(s - want) <= 4e-16 * want,
           "errnum: exp(0.5) has E = e^0.5 (0.5 + 2)");
    errnum_input(&a, 2.0);
    errnum_log(&r, &a);
    get(&r, &v, &s);
    want = (double)(1.0L + 2.0L * logl(2.0L));
    tap_ok(near(v, logl(2.0L)) && fabs(s - want) <= 4e-16 * want,
           "errnum: log(2) has E = 2/2 + 2 log 2");
    errnum_input(&a, 0.25);
    errnum_log(&r, &a);
    get(&r, &v, &s);
    want = (double)(1.0L + 2.0L * logl(4.0L));
    tap_ok(near(v, -logl(4.0L)) && fabs(s - want) <= 4e-16 * want,
           "errnum: log(1/4) has E = 1 + 2 |log 1/4|");
    errnum_input(&a, 4.0);
    errnum_sqrt(&r, &a);
    get(&r, &v, &s);
    tap_ok(v == 2.0 && s == 3.0, "errnum: sqrt(4) has E = 4/(2*2) + 2 = 3");
    errnum_input(&a, -0.5);
    errnum_tanh(&r, &a);
    get(&r, &v, &s);
    long double t = tanhl(0.5L);
    want = (double)((1 - t * t) * 0.5L + 2 * t);
    tap_ok(near(v, -t) && fabs(s - want) <= 4e-16 * want,
           "errnum: tanh(-0.5) has E = (1 - tanh^2) 0.5 + 2 |tanh|");

    errnum_clear(&a);
    errnum_clear(&r);
}

static void test_errnum_sums(void)
{
    const double terms[5] = {0.5, -1.25, 3, 0.125, -2};
    errnum a, r;
    double v, s;
    errnum_init(&a);
    errnum_init(&r);

    errnum_sum sum;
    errnum_sum_begin(&sum);
    for (size_t i = 0; i < 5; i++) {
        errnum_input(&a, terms[i]);
        errnum_sum_add(&sum, &a);
    }
    errnum_sum_end(&r, &sum);
    get(&r, &v, &s);
    /* Σ E + (N - 1) Σ|a| + |Σ a| = 6.875 + 4 * 6.875 + 0.375 */
    tap_ok(v == 0.375 && s == 5 * 6.875 + 0.375,
           "errnum: a sum of 5 inputs has E = 5 sum |a| + |sum a|");

    errnum_sum_begin(&sum);
    errnum_sum_end(&r, &sum);
    get(&r, &v, &s);
    tap_ok(same_bits(v, 0.0) && same_bits(s, 0.0),
           "errnum: an empty sum is exactly +0 with E = 0");

    errnum_sum_begin(&sum);
    errnum_input(&a, -3.0);
    errnum_sum_add(&sum, &a);
    errnum_sum_end(&r, &sum);
    get(&r, &v, &s);
    tap_ok(v == -3.0 && s == 6.0, "errnum: a one-term sum has E(a) + |a|");

    /* 1 + 2^-300 does not fit in 256 bits: the bound must come out above
     * the exact 3 + 3 * 2^-300 (rounded upward: above 3) */
    errnum_sum_begin(&sum);
    errnum_input(&a, 1.0);
    errnum_sum_add(&sum, &a);
    errnum_input(&a, 0x1p-300);
    errnum_sum_add(&sum, &a);
    errnum_sum_end(&r, &sum);
    get(&r, &v, &s);
    tap_ok(v == 1.0 && s == nextafter(3.0, 4.0),
           "errnum: an inexact sum's bound stays above the exact one, "
           "rounded upward (%.17g)", s);

    errnum_clear(&a);
    errnum_clear(&r);
}

/* ---- scatter-adds ---- */

static void test_scatter(void)
{
    enum { N = 4, V = 4, D = 2 };
    const int64_t ids[N] = {2, 0, 2, 2};
    const double dY[N * D] = {0.5, -1, 2, 0.25, -0.125, 3, 1, -4};
    double dE[V * D], s[V * D];
    oracle_out out = {dE, s};
    int rc = oracle_embed_lookup_backward(out, ids, dY, N, V, D);
    tap_ok(rc == 0, "embed_lookup_backward: succeeds");
    /* row 2 = rows 0, 2, 3 of dY; row 0 = row 1 */
    tap_ok(dE[4] == 1.375 && dE[5] == -2,
           "embed_lookup_backward: a repeated id accumulates its 3 rows");
    /* N = 3: 3 sum|a| + |sum a| */
    tap_ok(s[4] == 3 * 1.625 + 1.375 && s[5] == 3 * 8 + 2,
           "embed_lookup_backward: its scale is the sum rule with N = 3");
    tap_ok(dE[0] == 2 && dE[1] == 0.25 && s[0] == 4 && s[1] == 0.5,
           "embed_lookup_backward: a single occurrence, scale 2 |dY|");
    tap_ok(same_bits(dE[2], 0.0) && same_bits(dE[3], 0.0) &&
               same_bits(s[2], 0.0) && same_bits(dE[6], 0.0) &&
               same_bits(s[7], 0.0),
           "embed_lookup_backward: absent ids give +0 with scale 0");

    double dP[3 * D], sP[3 * D];
    const int64_t positions[N] = {1, 1, 0, 1};
    rc = oracle_pos_learned_backward((oracle_out){dP, sP}, positions, dY, N,
                                     3, D);
    tap_ok(rc == 0 && dP[0] == -0.125 && dP[1] == 3 && dP[2] == 3.5 &&
               dP[3] == -4.75 && dP[4] == 0 && sP[4] == 0,
           "pos_learned_backward: repeated positions add, row 2 is 0");

    const int64_t bad_ids[N] = {2, 0, 4, 1};
    const double bad_dY[N * D] = {0, 0, NAN, 0, 0, 0, 0, 0};
    tap_ok(oracle_embed_lookup_backward(out, bad_ids, dY, N, V, D) == -1 &&
               oracle_embed_lookup_backward(out, ids, bad_dY, N, V, D) == -1
               && oracle_embed_lookup_backward(out, ids, dY, N, V, 0) == -1 &&
               oracle_pos_learned_backward((oracle_out){dP, sP}, positions,
                                           dY, N, 1, D) == -1,
           "scatter: id out of range, NaN dY, d = 0, position >= max_len "
           "are rejected");
}

/* ---- heads ---- */

static void test_heads(void)
{
    enum { N = 2, V = 3, D = 2 };
    const double h[N * D] = {1, -2, 0.5, 4};
    const double E[V * D] = {0.25, 1, -3, 2, 0.5, -0.5};
    const double dU[N * V] = {1, 0.5, -2, -1, 0.25, 3};
    double dh[N * D], sh[N * D], dE[V * D], sE[V * D];
    int rc = oracle_head_tied_backward((oracle_out){dh, sh},
                                       (oracle_out){dE, sE}, h, E, dU, N, V,
                                       D);
    /* dh[0,0] = 1*0.25 + 0.5*-3 + -2*0.5 = -2.25, terms 0.25 1.5 1:
     * E = (V + 2) sum |.| + |sum| = 5 * 2.75 + 2.25 */
    tap_ok(rc == 0 && dh[0] == -2.25 && sh[0] == 5 * 2.75 + 2.25,
           "head_tied_backward: dh = dU E with the dot-product bound");
    /* dE[2,1] = dU[0,2] h[0,1] + dU[1,2] h[1,1] = 4 + 12 */
    tap_ok(dE[5] == 16 && sE[5] == 4 * 16 + 16,
           "head_tied_backward: dE = dU^T h with N = n");
    tap_ok(scales_cover(dh, sh, N * D) && scales_cover(dE, sE, V * D),
           "head_tied_backward: scales >= |value|");

    double W[D * V], dW[D * V], sW[D * V], db[V], sb[V], dh2[N * D],
        sh2[N * D];
    for (size_t v = 0; v < V; v++)
        for (size_t j = 0; j < D; j++)
            W[j * V + v] = E[v * D + j];
    rc = oracle_head_untied_backward((oracle_out){dh2, sh2},
                                     (oracle_out){dW, sW},
                                     (oracle_out){db, sb}, h, W, dU, N, V, D);
    int same = 1;
    for (size_t v = 0; v < V; v++)
        for (size_t j = 0; j < D; j++)
            same &= same_bits(dW[j * V + v], dE[v * D + j]) &&
                    same_bits(sW[j * V + v], sE[v * D + j]);
    for (size_t i = 0; i < N * D; i++)
        same &= same_bits(dh2[i], dh[i]) && same_bits(sh2[i], sh[i]);
    tap_ok(rc == 0 && same,
           "head_untied_backward with W = E^T: dh and dW^T equal the tied "
           "head's (values and scales)");
    tap_ok(db[2] == 1 && sb[2] == 2 * 5 + 1 && db[0] == 0 && sb[0] == 4,
           "head_untied_backward: db = sum_t dU with N = n (and a sum that "
           "cancels to 0 keeps its scale)");
    const double dU_inf[N * V] = {1, 0.5, INFINITY, -1, 0.25, 3};
    tap_ok(oracle_head_tied_backward((oracle_out){dh, sh},
                                     (oracle_out){dE, sE}, h, E, dU_inf, N,
                                     V, D) == -1 &&
               oracle_head_untied_backward((oracle_out){dh2, sh2},
                                           (oracle_out){dW, sW},
                                           (oracle_out){db, sb}, h, NULL, dU,
                                           N, V, D) == -1,
           "heads: an infinite dU and a missing W are rejected");
}

/* ---- LayerNorm ---- */

enum { LN_N = 3, LN_D = 5 };

typedef struct {
    double x[LN_N * LN_D], gamma[LN_D], beta[LN_D], dY[LN_N * LN_D];
    double eps;
} layernorm_case;

/* Σ dY ⊙ LayerNorm(x), in long double. */
static long double layernorm_loss(const void *ctx)
{
    const layernorm_case *c = ctx;
    long double total = 0;
    for (size_t t = 0; t < LN_N; t++) {
        const double *x = c->x + t * LN_D;
        long double mean = 0, var = 0;
        for (size_t k = 0; k < LN_D; k++)
            mean += x[k];
        mean /= LN_D;
        for (size_t k = 0; k < LN_D; k++)
            var += (x[k] - mean) * (x[k] - mean);
        var /= LN_D;
        long double r = 1.0L / sqrtl(var + c->eps);
        for (size_t j = 0; j < LN_D; j++)
            total += c->dY[t * LN_D + j] *
                     (c->gamma[j] * (x[j] - mean) * r + c->beta[j]);
    }
    return total;
}

/* z of row t in long double. z: (LN_D) */
static void layernorm_z(long double *z, const layernorm_case *c, size_t t)
{
    const double *x = c->x + t * LN_D;
    long double mean = 0, var = 0;
    for (size_t k = 0; k < LN_D; k++)
        mean += x[k];
    mean /= LN_D;
    for (size_t k = 0; k < LN_D; k++)
        var += (x[k] - mean) * (x[k] - mean);
    var /= LN_D;
    for (size_t j = 0; j < LN_D; j++)
        z[j] = (x[j] - mean) / sqrtl(var + c->eps);
}

static void test_layernorm(void)
{
    layernorm_case c = {
        .x = {0.5, -1.25, 2, 0.75, 3, 10, 10.5, 9.25, 10, 11,
              -0.125, 0.25, 0.0625, -0.5, 0.375},
        .gamma = {1.5, -0.5, 2, 0.75, 1},
        .beta = {0.25, -1, 0.5, 0, 2},
        .dY = {1, -0.5, 0.25, 2, -1.5, 0.125, 1, -2, 0.5, 3,
               -1, 0.75, 1.25, -0.25, 0.5},
        .eps = 0x1p-40,
    };
    double dx[LN_N * LN_D], sx[LN_N * LN_D], dg[LN_D], sg[LN_D], db[LN_D],
        sb[LN_D];
    int rc = oracle_layernorm_backward((oracle_out){dx, sx},
                                       (oracle_out){dg, sg},
                                       (oracle_out){db, sb}, c.x, c.gamma,
                                       c.dY, LN_N, LN_D, c.eps);
    tap_ok(rc == 0, "layernorm_backward: succeeds");
    tap_ok(scales_cover(dx, sx, LN_N * LN_D) && scales_cover(dg, sg, LN_D) &&
               scales_cover(db, sb, LN_D),
           "layernorm_backward: scales >= |value|");

    int sums_zero = 1, orthogonal = 1;
    for (size_t t = 0; t < LN_N; t++) {
        long double z[LN_D], sum = 0, magnitude = 0, dot = 0, dot_mag = 0;
        layernorm_z(z, &c, t);
        for (size_t j = 0; j < LN_D; j++) {
            sum += dx[t * LN_D + j];
            magnitude += sx[t * LN_D + j];
            dot += dx[t * LN_D + j] * z[j];
            dot_mag += fabsl(dx[t * LN_D + j] * z[j]);
        }
        /* each dx is within 2^-52 of its own magnitude; eps = 2^-40 leaves
         * an orthogonality defect of about eps / sigma^2 */
        sums_zero &= fabsl(sum) <= 0x1p-50 * magnitude;
        orthogonal &= fabsl(dot) <= 1e-10 * dot_mag;
    }
    tap_ok(sums_zero, "layernorm_backward: every row of dx sums to 0");
    tap_ok(orthogonal, "layernorm_backward: every row of dx is orthogonal "
           "to z");
    long double dbeta0 = 0;
    for (size_t t = 0; t < LN_N; t++)
        dbeta0 += c.dY[t * LN_D];
    tap_ok(db[0] == (double)dbeta0, "layernorm_backward: dbeta = sum_t dY");

    check_fd(layernorm_loss, &c, c.x, dx, sx, LN_N * LN_D, NULL,
             "layernorm_backward dx");
    check_fd(layernorm_loss, &c, c.gamma, dg, sg, LN_D, NULL,
             "layernorm_backward dgamma");
    check_fd(layernorm_loss, &c, c.beta, db, sb, LN_D, NULL,
             "layernorm_backward dbeta");

    /* a constant row (sigma = 0) and d = 1 are legal: z = 0 */
    const double flat[3] = {2, 2, 2}, g3[3] = {1, 1, 1}, dY3[3] = {1, -2, 4};
    double d3[3], s3[3], dg3[3], sg3[3], db3[3], sb3[3];
    rc = oracle_layernorm_backward((oracle_out){d3, s3},
                                   (oracle_out){dg3, sg3},
                                   (oracle_out){db3, sb3}, flat, g3, dY3, 1,
                                   3, 1.0);
    /* r = 1, z = 0, g = dY, mean g = 1: dx = dY - 1 */
    tap_ok(rc == 0 && d3[0] == 0 && d3[1] == -3 && d3[2] == 3 &&
               dg3[1] == 0 && db3[2] == 4,
           "layernorm_backward: a constant row with eps = 1 by hand");
    tap_ok(oracle_layernorm_backward((oracle_out){d3, s3},
                                     (oracle_out){dg3, sg3},
                                     (oracle_out){db3, sb3}, flat, g3, dY3,
                                     1, 3, 0.0) == -1 &&
               oracle_layernorm_backward((oracle_out){d3, s3},
                                         (oracle_out){dg3, sg3},
                                         (oracle_out){db3, sb3}, flat, g3,
                                         dY3, 1, 0, 1.0) == -1,
           "layernorm_backward: eps = 0 and d = 0 are rejected");
}

/* ---- softmax and log-softmax ---- */

enum { SM_N = 2, SM_V = 4 };

typedef struct {
    double logits[SM_N * SM_V], G[SM_N * SM_V], tau;
    int take_log;
} softmax_case;

/* Σ G ⊙ softmax(u/τ) (or log-softmax) over the unmasked entries. */
static long double softmax_loss(const void *ctx)
{
    const softmax_case *c = ctx;
    long double total = 0;
    for (size_t t = 0; t < SM_N; t++) {
        const double *u = c->logits + t * SM_V;
        long double a = -INFINITY, S = 0;
        for (size_t i = 0; i < SM_V; i++)
            if (isfinite(u[i]) && u[i] > a)
                a = u[i];
        for (size_t i = 0; i < SM_V; i++)
            if (isfinite(u[i]))
                S += expl((u[i] - a) / c->tau);
        for (size_t i = 0; i < SM_V; i++) {
            if (!isfinite(u[i]))
                continue;
            long double zeta = (u[i] - a) / c->tau;
            long double out = c->take_log ? zeta - logl(S) : expl(zeta) / S;
            total += c->G[t * SM_V + i] * out;
        }
    }
    return total;
}

static void test_softmax_kind(int take_log)
{
    const char *name = take_log ? "log_softmax_backward" : "softmax_backward";
    softmax_case c = {
        .logits = {1.5, -INFINITY, 0.25, -2, 3, 3, -1, 0.5},
        .G = {0.5, 0, -1.25, 2, 1, -0.5, 0.75, -2},
        .tau = 0.75,
        .take_log = take_log,
    };
    double dl[SM_N * SM_V], sl[SM_N * SM_V], dtau, stau;
    int rc = oracle_softmax_backward((oracle_out){dl, sl},
                                     (oracle_out){&dtau, &stau}, c.logits,
                                     c.G, SM_N, SM_V, c.tau, take_log);
    tap_ok(rc == 0, "%s: succeeds", name);
    int zero_sums = 1;
    for (size_t t = 0; t < SM_N; t++) {
        long double sum = 0, magnitude = 0;
        for (size_t i = 0; i < SM_V; i++) {
            sum += dl[t * SM_V + i];
            magnitude += sl[t * SM_V + i];
        }
        zero_sums &= fabsl(sum) <= 0x1p-50 * magnitude;
    }
    tap_ok(zero_sums, "%s: every row of dlogits sums to 0", name);
    tap_ok(same_bits(dl[1], 0.0) && same_bits(sl[1], 0.0),
           "%s: a masked entry is +0 with scale 0", name);
    int positive = 1;
    for (size_t i = 0; i < SM_N * SM_V; i++)
        if (i != 1)
            positive &= sl[i] > 0;
    tap_ok(scales_cover(dl, sl, SM_N * SM_V) && positive &&
               scales_cover(&dtau, &stau, 1) && stau > 0,
           "%s: scales >= |value|, > 0 where the entry has contributions",
           name);

    unsigned char skip[SM_N * SM_V] = {0, 1, 0, 0, 0, 0, 0, 0};
    check_fd(softmax_loss, &c, c.logits, dl, sl, SM_N * SM_V, skip, name);
    check_fd(softmax_loss, &c, &c.tau, &dtau, &stau, 1, NULL,
             take_log ? "log_softmax_backward dtau" : "softmax_backward dtau");
}

static void test_softmax_special(void)
{
    double dl[4], sl[4], dtau, stau;
    oracle_out out = {dl, sl}, tau_out = {&dtau, &stau};
    /* uniform upstream gradient: dlogits = y (G - y.G) / tau = 0 */
    const double u[4] = {0.5, -1, 2, 0.25}, G_flat[4] = {3, 3, 3, 3};
    int rc = oracle_softmax_backward(out, tau_out, u, G_flat, 1, 4, 2.0, 0);
    tap_ok(rc == 0 && fabs(dl[0]) <= 1e-70 && fabs(dtau) <= 1e-70 &&
               sl[0] > 0,
           "softmax_backward: a constant G gives dlogits 0 (scale > 0)");
    /* masked G may be anything for softmax, must be 0 for log-softmax */
    const double u_masked[4] = {0.5, -INFINITY, 2, 0.25};
    const double G_masked[4] = {1, 5, -1, 0.5};
    tap_ok(oracle_softmax_backward(out, tau_out, u_masked, G_masked, 1, 4,
                                   1.0, 0) == 0 &&
               dl[1] == 0 && sl[1] == 0,
           "softmax_backward: G at a masked entry is ignored");
    tap_ok(oracle_softmax_backward(out, tau_out, u_masked, G_masked, 1, 4,
                                   1.0, 1) == -1,
           "log_softmax_backward: non-zero G at a masked entry is rejected");
    const double u_plus_inf[4] = {0.5, INFINITY, 2, 0.25};
    const double u_all_masked[4] = {-INFINITY, -INFINITY, -INFINITY,
                                    -INFINITY};
    const double G_nan[4] = {1, NAN, 0, 0};
    tap_ok(oracle_softmax_backward(out, tau_out, u, G_flat, 1, 4, 0.0, 0) ==
                   -1 &&
               oracle_softmax_backward(out, tau_out, u, G_flat, 1, 4, NAN,
                                       0) == -1 &&
               oracle_softmax_backward(out, tau_out, u_plus_inf, G_flat, 1,
                                       4, 1.0, 0) == -1 &&
               oracle_softmax_backward(out, tau_out, u_all_masked, G_flat,
                                       1, 4, 1.0, 0) == -1 &&
               oracle_softmax_backward(out, tau_out, u, G_nan, 1, 4, 1.0,
                                       0) == -1,
           "softmax_backward: tau = 0, tau NaN, +inf logit, all-masked row "
           "and NaN G are rejected");
    rc = oracle_softmax_backward(out, tau_out, NULL, NULL, 0, 4, 1.0, 1);
    tap_ok(rc == 0 && same_bits(dtau, 0.0) && same_bits(stau, 0.0),
           "softmax_backward: n = 0 gives dtau = 0 with scale 0");
    /* single unmasked entry: y = 1, dlogits = 1 (G - G) = 0 exactly */
    const double u_one[4] = {-INFINITY, 7, -INFINITY, -INFINITY};
    rc = oracle_softmax_backward(out, tau_out, u_one, G_masked, 1, 4, 1.0, 0);
    tap_ok(rc == 0 && dl[1] == 0 && dtau == 0 && sl[0] == 0 && sl[2] == 0,
           "softmax_backward: a row with one unmasked entry has gradient 0");
}

/* ---- cross-entropy ---- */

enum { CE_N = 3, CE_V = 4 };

typedef struct {
    double logits[CE_N * CE_V], dloss[CE_N];
    int64_t targets[CE_N];
    enum oracle_reduction reduction;
} ce_case;

#define IGNORE (-100)

/* The cross-entropy loss weighted by dloss, in long double. */
static long double ce_loss(const void *ctx)
{
    const ce_case *c = ctx;
    long double total = 0;
    size_t m = 0;
    for (size_t t = 0; t < CE_N; t++) {
        if (c->targets[t] == IGNORE)
            continue;
        m++;
        const double *u = c->logits + t * CE_V;
        long double a = -INFINITY, S = 0;
        for (size_t i = 0; i < CE_V; i++)
            if (isfinite(u[i]) && u[i] > a)
                a = u[i];
        for (size_t i = 0; i < CE_V; i++)
            if (isfinite(u[i]))
                S += expl(u[i] - a);
        long double loss = logl(S) - (u[c->targets[t]] - a);
        total += (c->reduction == ORACLE_REDUCE_NONE ? c->dloss[t] : 1.0) *
                 loss;
    }
    if (c->reduction == ORACLE_REDUCE_NONE)
        return total;
    total *= c->dloss[0];
    return c->reduction == ORACLE_REDUCE_MEAN ? total / (long double)m
                                              : total;
}

static void test_cross_entropy_kind(enum oracle_reduction reduction,
                                    const char *name)
{
    ce_case c = {
        .logits = {1, -0.5, 2.25, 0, 0.5, 0.5, -INFINITY, 3,
                   -1, 4, -INFINITY, 2},
        .dloss = {0.75, -1.5, 2},
        .targets = {2, IGNORE, 1},
        .reduction = reduction,
    };
    double dl[CE_N * CE_V], sl[CE_N * CE_V];
    int rc = oracle_cross_entropy_backward((oracle_out){dl, sl}, c.logits,
                                           c.targets, c.dloss, CE_N, CE_V,
                                           reduction, IGNORE);
    tap_ok(rc == 0, "cross_entropy_backward %s: succeeds", name);
    int zero_sums = 1;
    for (size_t t = 0; t < CE_N; t += 2) {
        long double sum = 0, magnitude = 0;
        for (size_t i = 0; i < CE_V; i++) {
            sum += dl[t * CE_V + i];
            magnitude += sl[t * CE_V + i];
        }
        zero_sums &= fabsl(sum) <= 0x1p-50 * magnitude;
    }
    tap_ok(zero_sums, "cross_entropy_backward %s: counted rows sum to 0",
           name);
    int ignored_zero = 1;
    for (size_t i = 0; i < CE_V; i++)
        ignored_zero &= same_bits(dl[CE_V + i], 0.0) &&
                        same_bits(sl[CE_V + i], 0.0);
    tap_ok(ignored_zero && scales_cover(dl, sl, CE_N * CE_V),
           "cross_entropy_backward %s: the ignored row is +0 with scale 0; "
           "scales >= |value|", name);
    unsigned char skip[CE_N * CE_V] = {0};
    for (size_t i = 0; i < CE_V; i++)
        skip[CE_V + i] = 1; /* no gradient reaches an ignored row */
    skip[2 * CE_V + 2] = 1; /* a masked logit */
    tap_ok(same_bits(dl[2 * CE_V + 2], 0.0) &&
               same_bits(sl[2 * CE_V + 2], 0.0),
           "cross_entropy_backward %s: a masked entry of a counted row is "
           "+0 with scale 0", name);
    check_fd(ce_loss, &c, c.logits, dl, sl, CE_N * CE_V, skip,
             reduction == ORACLE_REDUCE_NONE  ? "cross_entropy_backward none"
             : reduction == ORACLE_REDUCE_SUM ? "cross_entropy_backward sum"
                                              : "cross_entropy_backward mean");
}

static void test_cross_entropy_special(void)
{
    const double u[2 * 3] = {1, -INFINITY, 0.5, 2, 0, -1};
    const double one = 1.0;
    double dl[6], sl[6];
    oracle_out out = {dl, sl};
    const int64_t none_counted[2] = {IGNORE, IGNORE};
    int rc = oracle_cross_entropy_backward(out, u, none_counted, &one, 2, 3,
                                           ORACLE_REDUCE_MEAN, IGNORE);
    int zeros = 1;
    for (size_t i = 0; i < 6; i++)
        zeros &= same_bits(dl[i], 0.0) && same_bits(sl[i], 0.0);
    tap_ok(rc == 0 && zeros,
           "cross_entropy_backward: all ignored with mean gives all +0, "
           "scale 0");
    const int64_t masked_target[2] = {1, 0};
    const int64_t out_of_range[2] = {3, 0};
    tap_ok(oracle_cross_entropy_backward(out, u, masked_target, &one, 2, 3,
                                         ORACLE_REDUCE_SUM, IGNORE) == -1 &&
               oracle_cross_entropy_backward(out, u, out_of_range, &one, 2,
                                             3, ORACLE_REDUCE_SUM,
                                             IGNORE) == -1 &&
               oracle_cross_entropy_backward(out, u, none_counted, &one, 2,
                                             3, ORACLE_REDUCE_SUM, 1) == -1 &&
               oracle_cross_entropy_backward(out, u, none_counted, &one, 2,
                                             3, (enum oracle_reduction)7,
                                             IGNORE) == -1,
           "cross_entropy_backward: a counted masked target, a target out "
           "of range, ignore_index in [0, V) and an unknown reduction are "
           "rejected");
    /* one row, sum, dloss = 1: dlogits = y - onehot; target 0 of (0, 0):
     * y = 1/2, dlogits = (-1/2, 1/2) */
    const double u2[2] = {0, 0};
    const int64_t target0[1] = {0};
    rc = oracle_cross_entropy_backward(out, u2, target0, &one, 1, 2,
                                       ORACLE_REDUCE_SUM, IGNORE);
    tap_ok(rc == 0 && dl[0] == -0.5 && dl[1] == 0.5,
           "cross_entropy_backward: two equal logits by hand");
}

/* ---- tied_lm ---- */

enum { TL_N = 3, TL_V = 5, TL_D = 4, TL_L = 5 };

typedef struct {
    double E[TL_V * TL_D], P[TL_L * TL_D], gamma[TL_D], beta[TL_D],
        M[TL_D * TL_D];
    int64_t ids[TL_N], targets[TL_N];
    int layernorm, matrix;
    enum oracle_reduction reduction;
} tied_case;

static oracle_tied_lm_inputs tied_inputs(const tied_case *c)
{
    oracle_tied_lm_inputs in = {
        .ids = c->ids, .targets = c->targets, .E = c->E, .P = c->P,
        .gamma = c->layernorm ? c->gamma : NULL,
        .beta = c->layernorm ? c->beta : NULL,
        .M = c->matrix ? c->M : NULL,
        .n = TL_N, .V = TL_V, .d = TL_D, .L = TL_L, .eps = 1e-5,
        .reduction = c->reduction, .ignore_index = IGNORE,
    };
    return in;
}

/* The oracle's loss at the parameters of ctx. */
static long double tied_oracle_loss(const void *ctx)
{
    oracle_tied_lm_inputs in = tied_inputs(ctx);
    double loss = NAN, scale = 0;
    oracle_tied_lm_outputs out = {.loss = {&loss, &scale}};
    if (oracle_tied_lm(&out, &in) != 0)
        return NAN;
    return loss;
}

/* The same loss evaluated here in long double. */
static long double tied_plain_loss(const tied_case *c)
{
    long double Z[TL_N][TL_D], H[TL_N][TL_D], total = 0;
    size_t m = 0;
    for (size_t t = 0; t < TL_N; t++) {
        long double mean = 0, var = 0;
        for (size_t j = 0; j < TL_D; j++) {
            Z[t][j] = (long double)c->E[c->ids[t] * TL_D + j] +
                      c->P[t * TL_D + j];
            mean += Z[t][j];
        }
        mean /= TL_D;
        for (size_t j = 0; j < TL_D; j++)
            var += (Z[t][j] - mean) * (Z[t][j] - mean);
        var /= TL_D;
        if (c->layernorm)
            for (size_t j = 0; j < TL_D; j++)
                Z[t][j] = c->gamma[j] * (Z[t][j] - mean) /
                              sqrtl(var + 1e-5) + c->beta[j];
        for (size_t b = 0; b < TL_D; b++) {
            H[t][b] = 0;
            for (size_t a = 0; a < TL_D; a++)
                H[t][b] += Z[t][a] *
                           (c->matrix ? c->M[a * TL_D + b] : (a == b));
        }
        if (c->targets[t] == IGNORE)
            continue;
        m++;
        long double u[TL_V], top = -INFINITY, S = 0;
        for (size_t v = 0; v < TL_V; v++) {
            u[v] = 0;
            for (size_t j = 0; j < TL_D; j++)
                u[v] += H[t][j] * c->E[v * TL_D + j];
            if (u[v] > top)
                top = u[v];
        }
        for (size_t v = 0; v < TL_V; v++)
            S += expl(u[v] - top);
        total += logl(S) - (u[c->targets[t]] - top);
    }
    return c->reduction == ORACLE_REDUCE_MEAN ? total / m : total;
}

/* All the outputs of one tied_lm evaluation. */
typedef struct {
    double loss, s_loss;
    double dE[TL_V * TL_D], s_dE[TL_V * TL_D];
    double dEi[TL_V * TL_D], s_dEi[TL_V * TL_D];
    double dEo[TL_V * TL_D], s_dEo[TL_V * TL_D];
    double dP[TL_L * TL_D], s_dP[TL_L * TL_D];
    double dg[TL_D], s_dg[TL_D], db[TL_D], s_db[TL_D];
} tied_results;

static int run_tied(tied_results *r, const tied_case *c)
{
    oracle_tied_lm_inputs in = tied_inputs(c);
    oracle_tied_lm_outputs out = {
        .loss = {&r->loss, &r->s_loss},
        .dE = {r->dE, r->s_dE},
        .dE_input = {r->dEi, r->s_dEi},
        .dE_output = {r->dEo, r->s_dEo},
        .dP = {r->dP, r->s_dP},
        .dgamma = {c->layernorm ? r->dg : NULL, r->s_dg},
        .dbeta = {c->layernorm ? r->db : NULL, r->s_db},
    };
    return oracle_tied_lm(&out, &in);
}

static void fill_tied_case(tied_case *c, int layernorm, int matrix,
                           enum oracle_reduction reduction)
{
    /* small dyadic values: every perturbation by 2^-20 is exact */
    for (size_t i = 0; i < TL_V * TL_D; i++)
        c->E[i] = ((double)((i * 7 + 3) % 11) - 5.0) / 8.0;
    for (size_t i = 0; i < TL_L * TL_D; i++)
        c->P[i] = ((double)((i * 5 + 1) % 9) - 4.0) / 16.0;
    for (size_t j = 0; j < TL_D; j++) {
        c->gamma[j] = 1.0 + (double)j / 4.0;
        c->beta[j] = (double)j / 8.0 - 0.25;
    }
    for (size_t i = 0; i < TL_D * TL_D; i++)
        c->M[i] = ((double)((i * 3 + 2) % 7) - 3.0) / 4.0 +
                  (i % (TL_D + 1) == 0 ? 1.0 : 0.0);
    const int64_t ids[TL_N] = {3, 1, 3}; /* id 3 twice; 0, 2, 4 absent */
    const int64_t targets[TL_N] = {1, IGNORE, 4};
    memcpy(c->ids, ids, sizeof ids);
    memcpy(c->targets, targets, sizeof targets);
    c->layernorm = layernorm;
    c->matrix = matrix;
    c->reduction = reduction;
}

/* 1 if the three dE outputs agree: dE is the nearest double to
 * dE_input + dE_output (so within an ulp of the double sum of the rounded
 * parts) and its scale at least covers both parts'. */
static int split_adds_up(const tied_results *r)
{
    for (size_t i = 0; i < TL_V * TL_D; i++) {
        double sum = r->dEi[i] + r->dEo[i];
        double slack = 0x1p-51 * (fabs(r->dEi[i]) + fabs(r->dEo[i]));
        if (!(fabs(r->dE[i] - sum) <= slack))
            return 0;
        if (!(r->s_dE[i] >= r->s_dEi[i] + r->s_dEo[i]))
            return 0;
    }
    return 1;
}

static void test_tied_lm_kind(int layernorm, int matrix,
                              enum oracle_reduction reduction)
{
    char name[64];
    snprintf(name, sizeof name, "tied_lm (%s%s, %s)",
             layernorm ? "layernorm" : "no layernorm",
             matrix ? ", matrix" : "",
             reduction == ORACLE_REDUCE_MEAN ? "mean" : "sum");
    tied_case c;
    fill_tied_case(&c, layernorm, matrix, reduction);
    tied_results r;
    memset(&r, 0, sizeof r);
    int rc = run_tied(&r, &c);
    tap_ok(rc == 0, "%s: succeeds", name);
    long double plain = tied_plain_loss(&c);
    tap_ok(fabsl(r.loss - plain) <= 1e-14L * fabsl(plain) &&
               r.s_loss >= r.loss && r.loss > 0,
           "%s: loss %.17g agrees with a long double forward", name, r.loss);
    tap_ok(split_adds_up(&r), "%s: dE = dE_input + dE_output", name);

    int absent_zero = 1;
    for (size_t v = 0; v < TL_V; v++) {
        if (v == 1 || v == 3)
            continue;
        for (size_t j = 0; j < TL_D; j++)
            absent_zero &= same_bits(r.dEi[v * TL_D + j], 0.0) &&
                           same_bits(r.s_dEi[v * TL_D + j], 0.0);
    }
    for (size_t i = TL_N * TL_D; i < TL_L * TL_D; i++)
        absent_zero &= same_bits(r.dP[i], 0.0) && same_bits(r.s_dP[i], 0.0);
    tap_ok(absent_zero, "%s: absent ids and unused positions are +0 with "
           "scale 0", name);
    int covered = scales_cover(r.dE, r.s_dE, TL_V * TL_D) &&
                  scales_cover(r.dEi, r.s_dEi, TL_V * TL_D) &&
                  scales_cover(r.dEo, r.s_dEo, TL_V * TL_D) &&
                  scales_cover(r.dP, r.s_dP, TL_L * TL_D);
    if (layernorm)
        covered &= scales_cover(r.dg, r.s_dg, TL_D) &&
                   scales_cover(r.db, r.s_db, TL_D);
    tap_ok(covered, "%s: scales >= |value|", name);

    /* ids = (3, 1, 3): dE_input[3] = dX[0] + dX[2], dE_input[1] = dX[1],
     * and dP[t] = dX[t] */
    int scattered = 1;
    for (size_t j = 0; j < TL_D; j++) {
        double twice = r.dP[j] + r.dP[2 * TL_D + j];
        scattered &= fabs(r.dEi[3 * TL_D + j] - twice) <=
                         0x1p-52 * (fabs(r.dP[j]) + fabs(r.dP[2 * TL_D + j]));
        scattered &= same_bits(r.dEi[TL_D + j], r.dP[TL_D + j]);
    }
    tap_ok(scattered, "%s: dE_input is the scatter-add of dX = dP by ids",
           name);

    char what[96];
    snprintf(what, sizeof what, "%s dE", name);
    check_fd(tied_oracle_loss, &c, c.E, r.dE, r.s_dE, TL_V * TL_D, NULL,
             what);
    snprintf(what, sizeof what, "%s dP", name);
    check_fd(tied_oracle_loss, &c, c.P, r.dP, r.s_dP, TL_L * TL_D, NULL,
             what);
    if (layernorm) {
        snprintf(what, sizeof what, "%s dgamma", name);
        check_fd(tied_oracle_loss, &c, c.gamma, r.dg, r.s_dg, TL_D, NULL,
                 what);
        snprintf(what, sizeof what, "%s dbeta", name);
        check_fd(tied_oracle_loss, &c, c.beta, r.db, r.s_db, TL_D, NULL,
                 what);
    }
}

static void test_tied_lm_special(void)
{
    tied_case c;
    fill_tied_case(&c, 1, 0, ORACLE_REDUCE_MEAN);
    c.targets[0] = IGNORE;
    c.targets[2] = IGNORE;
    tied_results r;
    memset(&r, 0xff, sizeof r);
    int rc = run_tied(&r, &c);
    int zeros = 1;
    for (size_t i = 0; i < TL_V * TL_D; i++)
        zeros &= r.dE[i] == 0 && r.s_dE[i] == 0 && r.dEi[i] == 0 &&
                 r.s_dEo[i] == 0;
    for (size_t i = 0; i < TL_L * TL_D; i++)
        zeros &= r.dP[i] == 0 && r.s_dP[i] == 0;
    for (size_t j = 0; j < TL_D; j++)
        zeros &= r.dg[j] == 0 && r.s_dg[j] == 0 && r.db[j] == 0;
    tap_ok(rc == 0 && isnan(r.loss) && r.s_loss == 0 && zeros,
           "tied_lm: all targets ignored with mean: loss NaN, every "
           "gradient 0 with scale 0");
    c.reduction = ORACLE_REDUCE_SUM;
    rc = run_tied(&r, &c);
    tap_ok(rc == 0 && same_bits(r.loss, 0.0) && r.s_loss == 0,
           "tied_lm: all targets ignored with sum: loss 0, scale 0");

    oracle_tied_lm_inputs in = tied_inputs(&c);
    double loss, scale;
    oracle_tied_lm_outputs out = {.loss = {&loss, &scale}};
    in.reduction = ORACLE_REDUCE_NONE;
    int rejected = oracle_tied_lm(&out, &in) == -1;
    in = tied_inputs(&c);
    in.L = TL_N - 1;
    rejected &= oracle_tied_lm(&out, &in) == -1;
    in = tied_inputs(&c);
    int64_t bad_ids[TL_N] = {0, 5, 1};
    in.ids = bad_ids;
    rejected &= oracle_tied_lm(&out, &in) == -1;
    in = tied_inputs(&c);
    int64_t bad_targets[TL_N] = {0, -1, 1};
    in.targets = bad_targets;
    rejected &= oracle_tied_lm(&out, &in) == -1;
    in = tied_inputs(&c);
    in.eps = 0;
    rejected &= oracle_tied_lm(&out, &in) == -1;
    in = tied_inputs(&c);
    c.E[3] = INFINITY;
    rejected &= oracle_tied_lm(&out, &in) == -1;
    tap_ok(rejected, "tied_lm: reduction none, max_len < n, an id or a "
           "target out of range, eps = 0 and an infinite E are rejected");

    /* n = 0: an empty batch */
    fill_tied_case(&c, 1, 1, ORACLE_REDUCE_SUM);
    in = tied_inputs(&c);
    in.n = 0;
    memset(&r, 0xff, sizeof r);
    oracle_tied_lm_outputs all = {
        .loss = {&r.loss, &r.s_loss}, .dE = {r.dE, r.s_dE},
        .dE_input = {r.dEi, r.s_dEi}, .dE_output = {r.dEo, r.s_dEo},
        .dP = {r.dP, r.s_dP}, .dgamma = {r.dg, r.s_dg},
        .dbeta = {r.db, r.s_db},
    };
    rc = oracle_tied_lm(&all, &in);
    zeros = r.loss == 0 && r.s_loss == 0;
    for (size_t i = 0; i < TL_V * TL_D; i++)
        zeros &= r.dE[i] == 0 && r.s_dE[i] == 0;
    for (size_t i = 0; i < TL_L * TL_D; i++)
        zeros &= r.dP[i] == 0 && r.s_dP[i] == 0;
    for (size_t j = 0; j < TL_D; j++)
        zeros &= r.dg[j] == 0 && r.s_db[j] == 0;
    tap_ok(rc == 0 && zeros, "tied_lm: n = 0 gives loss 0 and zero "
           "gradients with scale 0");
}

/* ---- constants from a separate mpmath evaluation ---- */

/* 1 if (value, scale) has exactly the bits (want_value, want_scale). */
static int pair_is(double value, double scale, double want_value,
                   double want_scale)
{
    return same_bits(value, want_value) && same_bits(scale, want_scale);
}

static void test_against_mpmath(void)
{
    const double u[4] = {1.5, -INFINITY, 0.25, -2}, G[4] = {0.5, 0, -1.25, 2};
    double dl[4], sl[4], dtau, stau;
    int rc = oracle_softmax_backward((oracle_out){dl, sl},
                                     (oracle_out){&dtau, &stau}, u, G, 1, 4,
                                     0.75, 0);
    tap_ok(rc == 0 &&
               pair_is(dl[2], sl[2], -0x1.3fc87aacb9ed4p-2,
                       0x1.1c41f3c192377p+3) &&
               pair_is(dtau, stau, -0x1.bcc4378b45e75p-2,
                       0x1.4dda87de2f162p+5), /* the unshifted form's bound */
           "mpmath: softmax_backward dlogits[2] and dtau, values and scales");
    rc = oracle_softmax_backward((oracle_out){dl, sl},
                                 (oracle_out){&dtau, &stau}, u, G, 1, 4, 0.75,
                                 1);
    tap_ok(rc == 0 &&
               pair_is(dl[2], sl[2], -0x1.edeb3b99a0bb8p+0,
                       0x1.d6df9142a3f09p+3) &&
               pair_is(dtau, stau, 0x1.255e898f768a4p+3,
                       0x1.884a46ef74f6cp+7),
           "mpmath: log_softmax_backward dlogits[2] and dtau");

    const double x[5] = {0.5, -1.25, 2, 0.75, 3};
    const double gamma[5] = {1.5, -0.5, 2, 0.75, 1};
    const double dY[5] = {1, -0.5, 0.25, 2, -1.5};
    double dx[5], sx[5], dg[5], sg[5], db[5], sb[5];
    rc = oracle_layernorm_backward((oracle_out){dx, sx}, (oracle_out){dg, sg},
                                   (oracle_out){db, sb}, x, gamma, dY, 1, 5,
                                   0x1p-40);
    tap_ok(rc == 0 &&
               pair_is(dx[0], sx[0], 0x1.2d7a577636ed9p-1,
                       0x1.0074ceb0b89a3p+5) &&
               pair_is(dx[3], sx[3], 0x1.5157b6c68cd56p-1,
                       0x1.ca8140122373ap+4),
           "mpmath: layernorm_backward dx[0], dx[3]");

    /* the mean case of test_cross_entropy_kind: row 2, w = 0.75 / 2 */
    const double logits[12] = {1, -0.5, 2.25, 0, 0.5, 0.5, -INFINITY, 3,
                               -1, 4, -INFINITY, 2};
    const int64_t targets[3] = {2, IGNORE, 1};
    const double dloss = 0.75;
    double dce[12], sce[12];
    rc = oracle_cross_entropy_backward((oracle_out){dce, sce}, logits,
                                       targets, &dloss, 3, 4,
                                       ORACLE_REDUCE_MEAN, IGNORE);
    tap_ok(rc == 0 &&
               pair_is(dce[9], sce[9], -0x1.7e27ac3e269a7p-5,
                       0x1.9868c78e814b8p+1) &&
               pair_is(dce[11], sce[11], 0x1.6c07eb99c82f4p-5,
                       0x1.ddf322e0e047bp-1),
           "mpmath: cross_entropy_backward (mean) at the target and off it");

    /* loss, then dE_input, dE_output, dE at [3,1] and at [0,2] (id 0 is
     * absent: dE_input 0 with scale 0) */
    static const double want[2][14] = {
        {0x1.ea75b00abf294p+1, 0x1.1d95377959cafp+9,
         0x1.aa63a8e36817ep-5, 0x1.582f54ecef3b1p+11,
         0x1.25f6924a9cf62p+0, 0x1.14866e90c71afp+8,
         0x1.3349af91b836ep+0, 0x1.7ae68bf4fa557p+11,
         0, 0, -0x1.040d1a896f3ffp-5, 0x1.39a6a6fcbdd44p+4,
         -0x1.040d1a896f3ffp-5, 0x1.3a28ad8a028bep+4},
        {0x1.896ec6bd89d84p+1, 0x1.fe5885e0bf4bap+5,
         0x1.da88b7fa6b677p-2, 0x1.4a3b46468fc69p+4,
         0x1.1dea19fd9f073p-4, 0x1.633106d21859bp+1,
         0x1.11019f3ce994ap-1, 0x1.7f29741aba1e6p+4,
         0, 0, -0x1.62c438c135f63p-4, 0x1.98328610d4cfcp+1,
         -0x1.62c438c135f63p-4, 0x1.a348a7d6de7f7p+1},
    };
    for (int k = 0; k < 2; k++) {
        tied_case c;
        fill_tied_case(&c, k == 0, k == 0,
                       k == 0 ? ORACLE_REDUCE_MEAN : ORACLE_REDUCE_SUM);
        tied_results r;
        rc = run_tied(&r, &c);
        size_t at[2] = {3 * TL_D + 1, 0 * TL_D + 2};
        int same = rc == 0 && pair_is(r.loss, r.s_loss, want[k][0],
                                      want[k][1]);
        for (int p = 0; p < 2; p++) {
            const double *w = want[k] + 2 + 6 * p;
            same &= pair_is(r.dEi[at[p]], r.s_dEi[at[p]], w[0], w[1]) &&
                    pair_is(r.dEo[at[p]], r.s_dEo[at[p]], w[2], w[3]) &&
                    pair_is(r.dE[at[p]], r.s_dE[at[p]], w[4], w[5]);
        }
        tap_ok(same, "mpmath: tied_lm (%s): loss and the three dE outputs "
               "at two entries", k == 0 ? "layernorm, matrix, mean"
                                        : "plain, sum");
    }
}

/* Results that are exactly 0 over the reals are stored as 0, not as a
 * residue of the working precision: a constant upstream gradient makes
 * softmax's dlogits exactly 0 (softmax_backward/constant-upstream stored
 * 1e-81 .. 1e-77 before the oracle decided exact zeros), and so does
 * log-softmax's when every logit is equal (y = 1/3 is not a double). */
static void test_softmax_exact_zeros(void)
{
    /* the inputs of softmax_backward/constant-upstream (dyadic logits) */
    static const double u[3 * 6] = {
        -0.1875, -8.8125, -1.8125, -5.8125, -9.0625, 12.9375,
        -0.75, 7.9375, -2.625, -5.0625, -4.75, -6.5625,
        14.8125, 8.375, -10.625, -15.6875, 3.5625, 2.3125};
    static const double G[3 * 6] = {
        1.71875, 1.71875, 1.71875, 1.71875, 1.71875, 1.71875,
        0.546875, 0.546875, 0.546875, 0.546875, 0.546875, 0.546875,
        0.265625, 0.265625, 0.265625, 0.265625, 0.265625, 0.265625};
    static const double equal[7] = {0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7};
    static const double G7[7] = {0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3};
    double dl[18], dl_s[18], dtau[1], dtau_s[1];
    oracle_out dlogits = {dl, dl_s}, dt = {dtau, dtau_s};
    int status = oracle_softmax_backward(dlogits, dt, u, G, 3, 6, 1.0, 0);
    int zero = status == 0 && dtau[0] == 0.0;
    for (size_t i = 0; i < 18; i++)
        zero = zero && dl[i] == 0.0;
    tap_ok(zero, "softmax_backward, constant upstream rows: every dlogits and "
           "dtau exactly 0 (got %g ... %g, dtau %g)", dl[6], dl[12], dtau[0]);
    status = oracle_softmax_backward(dlogits, dt, equal, G7, 1, 7, 1.0, 1);
    zero = status == 0;
    for (size_t i = 0; i < 7; i++)
        zero = zero && dl[i] == 0.0;
    tap_ok(zero, "log_softmax_backward, 7 equal logits, constant upstream: "
           "dlogits exactly 0 (got %g ...)", dl[0]);
    status = oracle_softmax_backward(dlogits, dt, u, G7, 1, 3, 1.0, 1);
    tap_ok(status == 0 && dl[0] != 0.0 && dl[1] != 0.0 && dl[2] != 0.0,
           "log_softmax_backward, distinct logits, constant upstream: no "
           "dlogits is 0 (got %g %g %g)", dl[0], dl[1], dl[2]);
}

/* linear_cross_entropy against its definition: on dyadic inputs whose
 * logits are exact doubles, the loss is the cross-entropy oracle's on those
 * logits (the same real, rounded once), and dh, dE agree with
 * head_tied_backward of cross_entropy_backward, which rounds D to double in
 * between, within u times the scale of that head_tied_backward (whose
 * inputs, D among them, carry their rounding); |V| = 1 and a mean over no counted row give exact
 * zeros. */
static void test_linear_cross_entropy(enum oracle_reduction reduction,
                                      const char *name)
{
    enum { N = 3, V = 5, D = 2 };
    const double h[N * D] = {0.5, -1.0, 1.5, 0.25, -0.75, 2.0};
    const double E[V * D] = {1.0, 0.5, -0.25, 1.25, 2.0, -1.0, 0.0, 0.75,
                             -1.5, -0.5};
    const int64_t targets[N] = {1, -100, 4};
    const double dloss[N] = {0.75, 1.0, -1.25};
    double u[N * V];
    for (size_t t = 0; t < N; t++)
        for (size_t v = 0; v < V; v++)
            u[t * V + v] = h[t * D] * E[v * D] + h[t * D + 1] * E[v * D + 1];
    size_t count = reduction == ORACLE_REDUCE_NONE ? N : 1;
    double loss[N], loss_s[N], want[N], want_s[N], k;
    double dh[N * D], dh_s[N * D], dE[V * D], dE_s[V * D];
    double dU[N * V], dU_s[N * V], wdh[N * D], wdh_s[N * D], wdE[V * D],
        wdE_s[V * D];
    oracle_lce_inputs in = {h, E, targets, dloss, N, V, D, reduction, -100, 0};
    int rc = oracle_linear_cross_entropy((oracle_out){loss, loss_s},
                                         (oracle_out){dh, dh_s},
                                         (oracle_out){dE, dE_s}, &in);
    rc |= oracle_cross_entropy(want, want_s, &k, u, targets, N, V, reduction,
                               -100);
    rc |= oracle_cross_entropy_backward((oracle_out){dU, dU_s}, u, targets,
                                        dloss, N, V, reduction, -100);
    rc |= oracle_head_tied_backward((oracle_out){wdh, wdh_s},
                                    (oracle_out){wdE, wdE_s}, h, E, dU, N, V,
                                    D);
    int same_loss = 1, grads_close = 1;
    for (size_t i = 0; i < count; i++)
        same_loss &= loss[i] == want[i];
    for (size_t i = 0; i < N * D; i++)
        grads_close &= fabs(dh[i] - wdh[i]) <= 0x1p-53 * wdh_s[i];
    for (size_t i = 0; i < V * D; i++)
        grads_close &= fabs(dE[i] - wdE[i]) <= 0x1p-53 * wdE_s[i];
    tap_ok(rc == 0 && same_loss, "linear_cross_entropy (%s): the loss is "
           "cross_entropy's of the exact logits", name);
    tap_ok(rc == 0 && grads_close && dh[2] == 0.0 && dh[3] == 0.0,
           "linear_cross_entropy (%s): dh, dE are head_tied_backward of "
           "cross_entropy_backward; the ignored row's dh is 0", name);
    tap_ok(scales_cover(dh, dh_s, N * D) && scales_cover(dE, dE_s, V * D) &&
           scales_cover(loss, loss_s, count),
           "linear_cross_entropy (%s): every scale covers its value", name);
}

/* The exact integer logits and the grouped dh (plain_sums 0) against the
 * plain MPFR sums (plain_sums 1) on dyadic inputs over several hundred
 * tokens: the same values, and scales within 2^-40 of each other (the
 * grouped bound also covers the bins' own rounding). */
static void test_linear_cross_entropy_paths(void)
{
    enum { N = 3, V = 700, D = 8 };
    static double h[N * D], E[V * D];
    uint64_t state = 12345;
    for (size_t i = 0; i < N * D + V * D; i++) {
        state = state * 6364136223846793005u + 1442695040888963407u;
        double k = (double)((int64_t)(state >> 56) - 128); /* [-128, 127] */
        if (i < N * D)
            h[i] = k / 64.0;
        else
            E[i - N * D] = k / 128.0;
    }
    const int64_t targets[N] = {V - 1, -100, 17};
    const double dloss = 1.0;
    double loss[2], loss_s[2], dh[2][N * D], dh_s[2][N * D];
    static double dE[2][V * D], dE_s[2][V * D];
    int rc = 0;
    for (int plain = 0; plain < 2; plain++) {
        oracle_lce_inputs in = {h, E, targets, &dloss, N, V, D,
                                ORACLE_REDUCE_MEAN, -100, plain};
        rc |= oracle_linear_cross_entropy((oracle_out){&loss[plain], &loss_s[plain]},
                                          (oracle_out){dh[plain], dh_s[plain]},
                                          (oracle_out){dE[plain], dE_s[plain]},
                                          &in);
    }
    int same = loss[0] == loss[1] &&
               fabs(loss_s[0] - loss_s[1]) <= 0x1p-40 * loss_s[1];
    for (size_t i = 0; i < N * D; i++)
        same &= dh[0][i] == dh[1][i] &&
                fabs(dh_s[0][i] - dh_s[1][i]) <= 0x1p-40 * dh_s[1][i];
    for (size_t i = 0; i < V * D; i++)
        same &= dE[0][i] == dE[1][i] && dE_s[0][i] == dE_s[1][i];
    tap_ok(rc == 0 && same, "linear_cross_entropy: the exact integer and "
           "grouped sums give the plain MPFR sums' values, and their scales "
           "within 2^-40 (|V| = %d)", V);
}

static void test_linear_cross_entropy_special(void)
{
    const double h[2 * 2] = {1.0, -0.5, 0.25, 2.0}, E1[2] = {0.5, 1.5};
    const double E[3 * 2] = {1.0, 0.0, 0.5, -1.0, 2.0, 0.25};
    const int64_t one_token[2] = {0, 0}, ignored[2] = {-100, -100};
    const double dloss = 1.0;
    double loss, loss_s, dh[4], dh_s[4], dE[6], dE_s[6];
    oracle_lce_inputs in = {h, E1, one_token, &dloss, 2, 1, 2,
                            ORACLE_REDUCE_MEAN, -100, 0};
    int rc = oracle_linear_cross_entropy((oracle_out){&loss, &loss_s},
                                         (oracle_out){dh, dh_s},
                                         (oracle_out){dE, dE_s}, &in);
    int zeros = 1;
    for (size_t i = 0; i < 4; i++)
        zeros &= dh[i] == 0.0;
    tap_ok(rc == 0 && loss == 0.0 && zeros && dE[0] == 0.0 && dE[1] == 0.0,
           "linear_cross_entropy, |V| = 1: loss, dh and dE are exactly 0");
    in = (oracle_lce_inputs){h, E, ignored, &dloss, 2, 3, 2,
                             ORACLE_REDUCE_MEAN, -100, 0};
    rc = oracle_linear_cross_entropy((oracle_out){&loss, &loss_s},
                                     (oracle_out){dh, dh_s},
                                     (oracle_out){dE, dE_s}, &in);
    zeros = 1;
    for (size_t i = 0; i < 4; i++)
        zeros &= dh[i] == 0.0 && dh_s[i] == 0.0;
    for (size_t i = 0; i < 6; i++)
        zeros &= dE[i] == 0.0 && dE_s[i] == 0.0;
    tap_ok(rc == 0 && isnan(loss) && zeros,
           "linear_cross_entropy, mean with every target ignored: NaN loss, "
           "dh and dE exactly 0 with scale 0");
    in.ignore_index = 1;
    tap_ok(oracle_linear_cross_entropy((oracle_out){&loss, &loss_s},
                                       (oracle_out){dh, dh_s},
                                       (oracle_out){dE, dE_s}, &in) == -1,
           "linear_cross_entropy: an ignore_index inside [0, |V|) is refused");
}

int main(void)
{
    test_softmax_exact_zeros();
    test_errnum_arithmetic();
    test_errnum_functions();
    test_errnum_sums();
    test_scatter();
    test_heads();
    test_layernorm();
    test_softmax_kind(0);
    test_softmax_kind(1);
    test_softmax_special();
    test_cross_entropy_kind(ORACLE_REDUCE_NONE, "none");
    test_cross_entropy_kind(ORACLE_REDUCE_SUM, "sum");
    test_cross_entropy_kind(ORACLE_REDUCE_MEAN, "mean");
    test_cross_entropy_special();
    test_tied_lm_kind(0, 0, ORACLE_REDUCE_SUM);
    test_tied_lm_kind(1, 0, ORACLE_REDUCE_MEAN);
    test_tied_lm_kind(1, 1, ORACLE_REDUCE_MEAN);
    test_tied_lm_kind(0, 1, ORACLE_REDUCE_SUM);
    test_tied_lm_special();
    test_linear_cross_entropy(ORACLE_REDUCE_NONE, "none");
    test_linear_cross_entropy(ORACLE_REDUCE_SUM, "sum");
    test_linear_cross_entropy(ORACLE_REDUCE_MEAN, "mean");
    test_linear_cross_entropy_special();
    test_linear_cross_entropy_paths();
    test_against_mpmath();
    mpfr_free_cache();
    tap_done();
    return tap_exit_status();
}
