/*
 * oracle_grad_variants_selfcheck.c -- TAP self-test of the gradient oracle
 * of the head variants (tools/oracle/oracle_grad_variants.c, declared in
 * tools/oracle/oracle_grad.h).
 *
 * The expected values come from outside that file:
 *  - the reductions that spec/variants.md names (k = 0 and k = |V|, T = I,
 *    alpha = 0 and 1, W2 = E^T, K = 1, lambda = 0), checked against the
 *    plain heads' gradients of tools/oracle/oracle_grad.c;
 *  - central finite differences of each op's FORWARD, written here in long
 *    double straight from spec/variants.md, for every gradient output
 *    (step 2^-20, agreement to 1e-6 of the output's largest element);
 *  - small cases worked by hand with the rules of
 *    spec/tolerance.md#gradients (values and scales).
 * The inputs are dyadic with few bits, so theta +- 2^-20 is exact.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <mpfr.h>

#include "oracle_grad.h"
#include "tap.h"

/* ---- helpers ---- */

static const oracle_out NONE = {NULL, NULL};

static oracle_out out_of(double *value, double *scale)
{
    oracle_out out = {value, scale};
    return out;
}

/* 1 if a and b have the same bits. */
static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* 1 if got and want agree bit for bit. got, want: (count) */
static int all_same_bits(const double *got, const double *want, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!same_bits(got[i], want[i]))
            return 0;
    return 1;
}

/* 1 if got and want are equal as numbers (-0 == +0). got, want: (count) */
static int all_equal(const double *got, const double *want, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (got[i] != want[i])
            return 0;
    return 1;
}

/* 1 if every value is 0 (either sign). values: (count) */
static int all_zero(const double *values, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (values[i] != 0.0)
            return 0;
    return 1;
}

/* 1 if every scale is finite, >= 0 and >= |value|. value, scale: (count) */
static int scales_ok(const double *value, const double *scale, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!isfinite(value[i]) || !isfinite(scale[i])
            || !(scale[i] >= fabs(value[i])) || !(scale[i] >= 0.0))
            return 0;
    return 1;
}

/* 1 if |got - want| <= bound * max |want| for every element.
 * got, want: (count) */
static int all_close(const double *got, const double *want, size_t count,
                     double bound)
{
    double largest = 0.0;
    for (size_t i = 0; i < count; i++)
        largest = fmax(largest, fabs(want[i]));
    for (size_t i = 0; i < count; i++)
        if (!(fabs(got[i] - want[i]) <= bound * largest))
            return 0;
    return 1;
}

/* 1 if every scale of a >= the corresponding scale of b. a, b: (count) */
static int scales_at_least(const double *a, const double *b, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!(a[i] >= b[i]))
            return 0;
    return 1;
}

/* Wt = E^T. Wt: (d, V); E: (V, d) */
static void transpose(double *Wt, const double *E, size_t V, size_t d)
{
    for (size_t v = 0; v < V; v++)
        for (size_t j = 0; j < d; j++)
            Wt[j * V + v] = E[v * d + j];
}

/* ---- finite differences ---- */

/* L(theta) = Sigma dY * forward(theta), read from a problem struct. */
typedef long double (*loss_fn)(const void *problem);

/* One test: the central difference of loss with respect to each element of
 * theta (an array the problem reads) against grad, with the step
 * 2^-20 max(1, |theta_i|) rounded up to a power of two; passes when every
 * difference is within 1e-6 of max |grad| (plus 1e-12).
 * theta, grad: (count) */
static void check_fd(loss_fn loss, const void *problem, double *theta,
                     const double *grad, size_t count, const char *what)
{
    double largest = 0.0, worst = 0.0;
    long double worst_D = 0.0L;
    size_t worst_i = 0;
    for (size_t i = 0; i < count; i++)
        largest = fmax(largest, fabs(grad[i]));
    for (size_t i = 0; i < count; i++) {
        double saved = theta[i];
        double step = fabs(saved) > 1.0 ? ldexp(1.0, ilogb(saved) - 19)
                                        : ldexp(1.0, -20);
        theta[i] = saved + step;
        long double up = loss(problem);
        theta[i] = saved - step;
        long double down = loss(problem);
        theta[i] = saved;
        long double D = (up - down) / (2.0L * step);
        double error = (double)fabsl(D - (long double)grad[i]);
        if (!(error <= worst)) {
            worst = error;
            worst_i = i;
            worst_D = D;
        }
    }
    double bound = 1e-6 * largest + 1e-12;
    if (!tap_ok(worst <= bound, "%s: central differences agree", what))
        tap_diag("element %zu: difference %.17Lg, gradient %.17g, error "
                 "%.3g, bound %.3g",
                 worst_i, worst_D, grad[worst_i], worst, bound);
}

/* log Sigma_i exp(u_i), shifted by the maximum. u: (count), count >= 1 */
static long double log_sum_exp(const long double *u, size_t count)
{
    long double top = -HUGE_VALL, sum = 0.0L;
    for (size_t i = 0; i < count; i++)
        top = u[i] > top ? u[i] : top;
    for (size_t i = 0; i < count; i++)
        sum += expl(u[i] - top);
    return top + logl(sum);
}

/* p = softmax(u). p, u: (count) */
static void softmax_ld(long double *p, const long double *u, size_t count)
{
    long double log_sum = log_sum_exp(u, count);
    for (size_t i = 0; i < count; i++)
        p[i] = expl(u[i] - log_sum);
}

/* ---- shared inputs: n = 2, V = 4, d = 3, dyadic ---- */

enum { N = 2, V = 4, D = 3, MAXV = 8, MAXK = 4, MAXD = 4 };
static const double H[N * D] = {0.5, -1.25, 2, 0.75, 0.25, -1.5};
static const double E0[V * D] = {0.25, -0.5,  1,     1.5,   0.125, -0.75,
                                 -1,   0.375, 0.5,   0.625, -0.25, 1.25};
static const double F0[D * V] = {0.5,    -0.75, 1.25, -0.125, 0.875, 0.25,
                                 -1.5,   1,     -0.375, 1.75, 0.5,   -0.625};
static const double DU[N * V] = {1, -0.5, 0.25, 2, -1.5, 0.75, -0.25, 0.5};
static const double T0[D * D] = {1.25, -0.5, 0.25, 0.5, 0.75,
                                 -1,   -0.25, 1,   0.5};
static const double I3[D * D] = {1, 0, 0, 0, 1, 0, 0, 0, 1};

/* The gradients of the plain heads for the shared inputs. */
typedef struct {
    double dh[N * D], dh_s[N * D];
    double dE[V * D], dE_s[V * D];
    double dW[D * V], dW_s[D * V], db[V], db_s[V];
} plain_grads;

/* tied: dh, dE with E = E0; untied: dh, dW, db with W = F0. */
static int plain_heads(plain_grads *tied, plain_grads *untied)
{
    int rc = oracle_head_tied_backward(out_of(tied->dh, tied->dh_s),
                                       out_of(tied->dE, tied->dE_s), H, E0,
                                       DU, N, V, D);
    rc |= oracle_head_untied_backward(out_of(untied->dh, untied->dh_s),
                                      out_of(untied->dW, untied->dW_s),
                                      out_of(untied->db, untied->db_s), H,
                                      F0, DU, N, V, D);
    return rc;
}

/* ---- partial tying ---- */

typedef struct {
    double *h, *E, *F, *dU;
    size_t n, V, d, k;
} partial_problem;

static long double partial_loss(const void *problem)
{
    const partial_problem *p = problem;
    long double L = 0.0L;
    for (size_t t = 0; t < p->n; t++)
        for (size_t v = 0; v < p->V; v++) {
            long double u = 0.0L;
            for (size_t j = 0; j < p->d; j++) {
                double w = v < p->k ? p->E[v * p->d + j]
                                    : p->F[j * (p->V - p->k) + (v - p->k)];
                u += (long double)p->h[t * p->d + j] * w;
            }
            L += p->dU[t * p->V + v] * u;
        }
    return L;
}

static void test_partial_by_hand(void)
{
    /* n = 1, d = 1, V = 2, k = 1: dh = 1*3 + (-1)*7 = -4 with products of
     * E 9 and 21, so E = 30 + (3 + 7) + 4 = 44; dE[0] = 2 (product 6, one
     * term: 6 + 2 = 8); dE[1] = 0, scale 0; dF = -2, scale 8. */
    const double h[1] = {2}, E[2] = {3, 5}, F[1] = {7}, dU[2] = {1, -1};
    double dh, dh_s, dE[2], dE_s[2], dF, dF_s;
    int rc = oracle_head_partial_backward(out_of(&dh, &dh_s),
                                          out_of(dE, dE_s), out_of(&dF, &dF_s),
                                          h, E, F, dU, 1, 2, 1, 1);
    tap_ok(rc == 0 && dh == -4 && dh_s == 44,
           "partial: dh = -4 with scale 44 by hand");
    tap_ok(all_same_bits(dE, (const double[2]){2, 0}, 2)
               && all_same_bits(dE_s, (const double[2]){8, 0}, 2)
               && dF == -2 && dF_s == 8,
           "partial: dE = (2, 0) scales (8, 0), dF = -2 scale 8 by hand");
}

static void test_partial_ends(void)
{
    plain_grads tied, untied;
    int rc = plain_heads(&tied, &untied);
    double dh[N * D], dh_s[N * D], dE[V * D], dE_s[V * D], dF[D * V],
        dF_s[D * V];
    rc |= oracle_head_partial_backward(out_of(dh, dh_s), out_of(dE, dE_s),
                                       out_of(dF, dF_s), H, E0, NULL, DU, N,
                                       V, D, V);
    tap_ok(rc == 0 && all_same_bits(dh, tied.dh, N * D)
               && all_same_bits(dh_s, tied.dh_s, N * D)
               && all_same_bits(dE, tied.dE, V * D)
               && all_same_bits(dE_s, tied.dE_s, V * D),
           "partial: k = |V| equals head_tied_backward (values, scales)");
    rc = oracle_head_partial_backward(out_of(dh, dh_s), out_of(dE, dE_s),
                                      out_of(dF, dF_s), H, E0, F0, DU, N, V,
                                      D, 0);
    tap_ok(rc == 0 && all_same_bits(dh, untied.dh, N * D)
               && all_same_bits(dh_s, untied.dh_s, N * D)
               && all_same_bits(dF, untied.dW, D * V)
               && all_same_bits(dF_s, untied.dW_s, D * V),
           "partial: k = 0 equals head_untied_backward, dF = dW (values, "
           "scales)");
    tap_ok(all_zero(dE, V * D) && all_zero(dE_s, V * D),
           "partial: k = 0 gives dE = 0 with scale 0");
}

static void test_partial_fd(void)
{
    enum { K = 2 };
    double h[N * D], E[V * D], F[D * (V - K)], dU[N * V];
    memcpy(h, H, sizeof h);
    memcpy(E, E0, sizeof E);
    memcpy(F, F0, sizeof F);
    memcpy(dU, DU, sizeof dU);
    double dh[N * D], dh_s[N * D], dE[V * D], dE_s[V * D], dF[D * (V - K)],
        dF_s[D * (V - K)];
    int rc = oracle_head_partial_backward(out_of(dh, dh_s), out_of(dE, dE_s),
                                          out_of(dF, dF_s), h, E, F, dU, N, V,
                                          D, K);
    tap_ok(rc == 0 && scales_ok(dh, dh_s, N * D) && scales_ok(dE, dE_s, V * D)
               && scales_ok(dF, dF_s, D * (V - K)),
           "partial: k = 2 succeeds, every scale >= |value| >= 0");
    tap_ok(all_zero(dE + K * D, (V - K) * D)
               && all_zero(dE_s + K * D, (V - K) * D),
           "partial: rows k .. |V|-1 of dE are 0 with scale 0");
    partial_problem p = {h, E, F, dU, N, V, D, K};
    check_fd(partial_loss, &p, h, dh, N * D, "partial: dh");
    check_fd(partial_loss, &p, E, dE, V * D, "partial: dE");
    check_fd(partial_loss, &p, F, dF, D * (V - K), "partial: dF");
}

static void test_partial_errors(void)
{
    double dh[N * D], dh_s[N * D];
    const double h_nan[N * D] = {0, NAN, 0, 0, 0, 0};
    const double dU_inf[N * V] = {0, 0, INFINITY, 0, 0, 0, 0, 0};
    oracle_out g = out_of(dh, dh_s);
    tap_ok(oracle_head_partial_backward(g, NONE, NONE, H, E0, F0, DU, N, V, D,
                                        V + 1) == -1
               && oracle_head_partial_backward(g, NONE, NONE, H, E0, NULL, DU,
                                               N, V, D, 1) == -1
               && oracle_head_partial_backward(g, NONE, NONE, h_nan, E0, F0,
                                               DU, N, V, D, 1) == -1
               && oracle_head_partial_backward(g, NONE, NONE, H, E0, F0,
                                               dU_inf, N, V, D, 1) == -1
               && oracle_head_partial_backward(out_of(dh, NULL), NONE, NONE,
                                               H, E0, F0, DU, N, V, D, 1)
                      == -1,
           "partial: k > |V|, no F with k < |V|, NaN in h, inf in dlogits "
           "and an output without scales are rejected");
}

/* ---- tying with a transform ---- */

typedef struct {
    double *h, *T, *E, *dU;
    size_t n, V, d;
} transformed_problem;

static long double transformed_loss(const void *problem)
{
    const transformed_problem *p = problem;
    size_t d = p->d;
    long double L = 0.0L;
    for (size_t t = 0; t < p->n; t++)
        for (size_t v = 0; v < p->V; v++) {
            long double u = 0.0L;
            for (size_t a = 0; a < d; a++)
                for (size_t b = 0; b < d; b++)
                    u += (long double)p->h[t * d + a] * p->T[a * d + b]
                         * p->E[v * d + b];
            L += p->dU[t * p->V + v] * u;
        }
    return L;
}

static void test_transformed(void)
{
    plain_grads tied, untied;
    int rc = plain_heads(&tied, &untied);
    double dh[N * D], dh_s[N * D], dT[D * D], dT_s[D * D], dE[V * D],
        dE_s[V * D];
    rc |= oracle_head_transformed_backward(out_of(dh, dh_s), out_of(dT, dT_s),
                                           out_of(dE, dE_s), H, I3, E0, DU, N,
                                           V, D);
    tap_ok(rc == 0 && all_same_bits(dh, tied.dh, N * D)
               && all_same_bits(dE, tied.dE, V * D),
           "transformed: T = I gives head_tied_backward's dh and dE");
    tap_ok(scales_at_least(dh_s, tied.dh_s, N * D)
               && scales_at_least(dE_s, tied.dE_s, V * D),
           "transformed: T = I: scales >= the tied head's (T is an input)");

    double h[N * D], T[D * D], E[V * D], dU[N * V];
    memcpy(h, H, sizeof h);
    memcpy(T, T0, sizeof T);
    memcpy(E, E0, sizeof E);
    memcpy(dU, DU, sizeof dU);
    rc = oracle_head_transformed_backward(out_of(dh, dh_s), out_of(dT, dT_s),
                                          out_of(dE, dE_s), h, T, E, dU, N, V,
                                          D);
    tap_ok(rc == 0 && scales_ok(dh, dh_s, N * D) && scales_ok(dT, dT_s, D * D)
               && scales_ok(dE, dE_s, V * D),
           "transformed: succeeds, every scale >= |value| >= 0");
    transformed_problem p = {h, T, E, dU, N, V, D};
    check_fd(transformed_loss, &p, h, dh, N * D, "transformed: dh");
    check_fd(transformed_loss, &p, T, dT, D * D, "transformed: dT");
    check_fd(transformed_loss, &p, E, dE, V * D, "transformed: dE");
    const double T_nan[D * D] = {NAN};
    tap_ok(oracle_head_transformed_backward(out_of(dh, dh_s), NONE, NONE, H,
                                            T_nan, E0, DU, N, V, D) == -1
               && oracle_head_transformed_backward(out_of(dh, dh_s), NONE,
                                                   NONE, H, NULL, E0, DU, N,
                                                   V, D) == -1,
           "transformed: NaN in T and no T are rejected");
}

/* ---- adaptive tying ---- */

typedef struct {
    double *h, *E, *F, *dU, *alpha;
    size_t n, V, d;
} adaptive_problem;

static long double adaptive_loss(const void *problem)
{
    const adaptive_problem *p = problem;
    size_t d = p->d, V_ = p->V;
    long double alpha = *p->alpha, L = 0.0L;
    for (size_t t = 0; t < p->n; t++)
        for (size_t v = 0; v < V_; v++) {
            long double tied = 0.0L, free_part = 0.0L;
            for (size_t j = 0; j < d; j++) {
                tied += (long double)p->h[t * d + j] * p->E[v * d + j];
                free_part += (long double)p->h[t * d + j] * p->F[j * V_ + v];
            }
            L += p->dU[t * V_ + v] * (alpha * tied + (1 - alpha) * free_part);
        }
    return L;
}

/* The outputs of the adaptive head. */
typedef struct {
    double dh[N * D], dh_s[N * D], dE[V * D], dE_s[V * D];
    double dF[D * V], dF_s[D * V], dalpha, dalpha_s;
} adaptive_grads;

static int run_adaptive(adaptive_grads *g, const double *h, const double *E,
                        const double *F, double alpha, const double *dU)
{
    return oracle_head_adaptive_backward(
        out_of(g->dh, g->dh_s), out_of(g->dE, g->dE_s),
        out_of(g->dF, g->dF_s), out_of(&g->dalpha, &g->dalpha_s), h, E, F,
        alpha, dU, N, V, D);
}

static void test_adaptive_ends(void)
{
    plain_grads tied, untied;
    adaptive_grads g;
    int rc = plain_heads(&tied, &untied);
    rc |= run_adaptive(&g, H, E0, F0, 1.0, DU);
    tap_ok(rc == 0 && all_equal(g.dh, tied.dh, N * D)
               && all_equal(g.dE, tied.dE, V * D) && all_zero(g.dF, D * V),
           "adaptive: alpha = 1 gives the tied head's dh and dE, dF = 0");
    rc = run_adaptive(&g, H, E0, F0, 0.0, DU);
    tap_ok(rc == 0 && all_equal(g.dh, untied.dh, N * D)
               && all_equal(g.dF, untied.dW, D * V) && all_zero(g.dE, V * D),
           "adaptive: alpha = 0 gives the untied head's dh and dW, dE = 0");
    tap_ok(scales_at_least(g.dh_s, untied.dh_s, N * D)
               && scales_at_least(g.dF_s, untied.dW_s, D * V),
           "adaptive: alpha = 0: scales >= the untied head's");
}

static void test_adaptive_fd(void)
{
    double h[N * D], E[V * D], F[D * V], dU[N * V], alpha = 0.375;
    memcpy(h, H, sizeof h);
    memcpy(E, E0, sizeof E);
    memcpy(F, F0, sizeof F);
    memcpy(dU, DU, sizeof dU);
    adaptive_grads g;
    int rc = run_adaptive(&g, h, E, F, alpha, dU);
    tap_ok(rc == 0 && scales_ok(g.dh, g.dh_s, N * D)
               && scales_ok(g.dE, g.dE_s, V * D)
               && scales_ok(g.dF, g.dF_s, D * V)
               && scales_ok(&g.dalpha, &g.dalpha_s, 1),
           "adaptive: alpha = 0.375 succeeds, every scale >= |value| >= 0");
    adaptive_problem p = {h, E, F, dU, &alpha, N, V, D};
    check_fd(adaptive_loss, &p, h, g.dh, N * D, "adaptive: dh");
    check_fd(adaptive_loss, &p, E, g.dE, V * D, "adaptive: dE");
    check_fd(adaptive_loss, &p, F, g.dF, D * V, "adaptive: dF");
    check_fd(adaptive_loss, &p, &alpha, &g.dalpha, 1, "adaptive: dalpha");
    tap_ok(run_adaptive(&g, H, E0, F0, 1.5, DU) == -1
               && run_adaptive(&g, H, E0, F0, -0x1p-60, DU) == -1
               && run_adaptive(&g, H, E0, F0, NAN, DU) == -1
               && run_adaptive(&g, H, E0, NULL, 0.5, DU) == -1,
           "adaptive: alpha > 1, alpha < 0, NaN and no F are rejected");
}

/* ---- MLP head ---- */

typedef struct {
    double *h, *W1, *b1, *W2, *E, *b2, *dU;
    size_t n, V, d, m;
} mlp_problem;

static long double mlp_loss(const void *problem)
{
    const mlp_problem *p = problem;
    size_t d = p->d, m = p->m, V_ = p->V;
    long double L = 0.0L;
    for (size_t t = 0; t < p->n; t++) {
        long double h1[MAXD];
        for (size_t i = 0; i < m; i++) {
            long double a = p->b1 != NULL ? p->b1[i] : 0.0L;
            for (size_t j = 0; j < d; j++)
                a += (long double)p->h[t * d + j] * p->W1[j * m + i];
            h1[i] = a > 0 ? a : 0.0L;
        }
        for (size_t v = 0; v < V_; v++) {
            long double u = p->b2 != NULL ? p->b2[v] : 0.0L;
            for (size_t i = 0; i < m; i++)
                u += h1[i] * (p->W2 != NULL ? p->W2[i * V_ + v]
                                            : p->E[v * d + i]);
            L += p->dU[t * V_ + v] * u;
        }
    }
    return L;
}

/* The outputs of the MLP head (m <= MAXD). */
typedef struct {
    double dh[N * D], dh_s[N * D], dW1[D * MAXD], dW1_s[D * MAXD];
    double db1[MAXD], db1_s[MAXD], dW2[MAXD * V], dW2_s[MAXD * V];
    double dE[V * D], dE_s[V * D], db2[V], db2_s[V];
    double margin;
    int has_zero;
} mlp_grads;

static int run_mlp(mlp_grads *g, const oracle_mlp_inputs *in)
{
    return oracle_head_mlp_backward(
        out_of(g->dh, g->dh_s), out_of(g->dW1, g->dW1_s),
        out_of(g->db1, g->db1_s), out_of(g->dW2, g->dW2_s),
        out_of(g->dE, g->dE_s), out_of(g->db2, g->db2_s), &g->margin,
        &g->has_zero, in);
}

static void test_mlp_by_hand(void)
{
    /* d = m = V = 1: a = 2 * 3 = 6, product E = 6 + 6 + 6 = 18, one-term
     * sum E = 18 + 6 = 24, margin 1/4; with b1 = 1: a = 7, E = (18 + 1) +
     * 1 * (6 + 1) + 7 = 33. */
    const double h[1] = {2}, W1[1] = {3}, W2[1] = {1}, b1[1] = {1};
    const double dU[1] = {1};
    oracle_mlp_inputs in = {h, W1, NULL, W2, NULL, NULL, dU, 1, 1, 1, 1};
    mlp_grads g;
    int rc = run_mlp(&g, &in);
    tap_ok(rc == 0 && g.margin == 0.25 && !g.has_zero,
           "mlp: margin |a|/E(a) = 6/24 by hand, no zero pre-activation");
    in.b1 = b1;
    rc = run_mlp(&g, &in);
    tap_ok(rc == 0 && g.margin <= 7.0 / 33.0
               && g.margin >= 7.0 / 33.0 * (1 - 0x1p-50),
           "mlp: with b1 = 1 the margin is 7/33 (bias one more term)");
    /* d = 2, m = 1: a = 1 - 1 = 0 exactly: ReLU' = 0 */
    const double h2[2] = {1, 1}, W1b[2] = {1, -1};
    oracle_mlp_inputs zero = {h2, W1b, NULL, W2, NULL, NULL, dU, 1, 1, 2, 1};
    rc = run_mlp(&g, &zero);
    tap_ok(rc == 0 && g.has_zero && isinf(g.margin) && g.dW1[0] == 0
               && g.dW1_s[0] == 0 && g.dh[0] == 0 && g.dh_s[1] == 0
               && g.db1[0] == 0 && g.db1_s[0] == 0,
           "mlp: a = 0 exactly: has_zero, margin +inf, dW1 = db1 = dh = 0 "
           "with scale 0");
    tap_ok(g.dW2[0] == 0 && g.dW2_s[0] == 0 && g.db2[0] == 1,
           "mlp: a = 0: h1 = 0 gives dW2 = 0 (scale 0), db2 = dU");
}

/* Untied MLP inputs with m = 4. With h = H the pre-activations are
 * (0.5, -3.25, 1.9375, 0.875) and (0.625, 0.75, -0.125, -0.125): both
 * signs, all at least 1/8 from 0 (so the differences never cross a kink). */
static const double MW1[D * 4] = {1, -0.5, 0.25, 0.75, 0.5, 1, -0.25,
                                  -0.5, 0.25, -0.75, 0.5, 0.125};
static const double MB1[4] = {0.125, -0.25, 0.5, -0.375};
static const double MW2[4 * V] = {0.5,   -1,   0.25, 1.5,   -0.75, 0.5,
                                  1,     -0.25, 1.25, 0.375, -0.5,  0.75,
                                  -1.5,  0.625, 0.25, -0.125};
static const double MB2[V] = {0.25, -0.5, 0.75, 0};

static void mlp_fd(oracle_mlp_inputs *in, mlp_problem *p, const char *form)
{
    mlp_grads g;
    int rc = run_mlp(&g, in);
    size_t m = in->m;
    char what[64];
    tap_ok(rc == 0 && !g.has_zero && g.margin > 0.01,
           "mlp %s: succeeds, every pre-activation clear of 0 (margin %g)",
           form, g.margin);
    int sane = scales_ok(g.dh, g.dh_s, N * D)
               && scales_ok(g.dW1, g.dW1_s, D * m)
               && scales_ok(g.db1, g.db1_s, m)
               && scales_ok(g.db2, g.db2_s, V)
               && (p->W2 != NULL ? scales_ok(g.dW2, g.dW2_s, m * V)
                                 : scales_ok(g.dE, g.dE_s, V * D));
    tap_ok(sane, "mlp %s: every scale >= |value| >= 0", form);
    snprintf(what, sizeof what, "mlp %s: dh", form);
    check_fd(mlp_loss, p, p->h, g.dh, N * D, what);
    snprintf(what, sizeof what, "mlp %s: dW1", form);
    check_fd(mlp_loss, p, p->W1, g.dW1, D * m, what);
    snprintf(what, sizeof what, "mlp %s: db1", form);
    check_fd(mlp_loss, p, p->b1, g.db1, m, what);
    snprintf(what, sizeof what, "mlp %s: db2", form);
    check_fd(mlp_loss, p, p->b2, g.db2, V, what);
    if (p->W2 != NULL) {
        snprintf(what, sizeof what, "mlp %s: dW2", form);
        check_fd(mlp_loss, p, p->W2, g.dW2, m * V, what);
    } else {
        snprintf(what, sizeof what, "mlp %s: dE", form);
        check_fd(mlp_loss, p, p->E, g.dE, V * D, what);
    }
}

static void test_mlp_fd(void)
{
    double h[N * D], W1[D * 4], b1[4], W2[4 * V], b2[V], dU[N * V];
    double E[V * D];
    memcpy(h, H, sizeof h);
    memcpy(W1, MW1, sizeof W1);
    memcpy(b1, MB1, sizeof b1);
    memcpy(W2, MW2, sizeof W2);
    memcpy(b2, MB2, sizeof b2);
    memcpy(dU, DU, sizeof dU);
    memcpy(E, E0, sizeof E);
    oracle_mlp_inputs in = {h, W1, b1, W2, NULL, b2, dU, N, V, D, 4};
    mlp_problem p = {h, W1, b1, W2, NULL, b2, dU, N, V, D, 4};
    mlp_fd(&in, &p, "untied");

    /* tied, m = d = 3: W1 is the first 3 columns' worth of MW1 */
    double W1t[D * D];
    for (size_t j = 0; j < D; j++)
        for (size_t i = 0; i < D; i++)
            W1t[j * D + i] = MW1[j * 4 + i];
    oracle_mlp_inputs tied = {h, W1t, b1, NULL, E, b2, dU, N, V, D, D};
    mlp_problem pt = {h, W1t, b1, NULL, E, b2, dU, N, V, D, D};
    mlp_fd(&tied, &pt, "tied");
}

static void test_mlp_tied_equals_untied(void)
{
    double W1t[D * D], Et[D * V];
    for (size_t j = 0; j < D; j++)
        for (size_t i = 0; i < D; i++)
            W1t[j * D + i] = MW1[j * 4 + i];
    transpose(Et, E0, V, D);
    oracle_mlp_inputs tied = {H, W1t, MB1, NULL, E0, MB2, DU, N, V, D, D};
    oracle_mlp_inputs untied = {H, W1t, MB1, Et, NULL, MB2, DU, N, V, D, D};
    mlp_grads a, b;
    int rc = run_mlp(&a, &tied) | run_mlp(&b, &untied);
    double dE_t[D * V], dE_ts[D * V];
    transpose(dE_t, a.dE, V, D);
    transpose(dE_ts, a.dE_s, V, D);
    tap_ok(rc == 0 && all_same_bits(a.dh, b.dh, N * D)
               && all_same_bits(a.dh_s, b.dh_s, N * D)
               && all_same_bits(a.dW1, b.dW1, D * D)
               && all_same_bits(a.dW1_s, b.dW1_s, D * D)
               && all_same_bits(a.db1, b.db1, D)
               && all_same_bits(a.db2_s, b.db2_s, V)
               && all_same_bits(dE_t, b.dW2, D * V)
               && all_same_bits(dE_ts, b.dW2_s, D * V),
           "mlp: tied equals untied with W2 = E^T, dE = dW2^T (values, "
           "scales)");
    mlp_grads g;
    oracle_mlp_inputs bad = untied;
    bad.m = 2; /* tied with m != d */
    bad.W2 = NULL;
    bad.E = E0;
    tap_ok(run_mlp(&g, &bad) == -1
               && oracle_head_mlp_backward(NONE, NONE, NONE, NONE, NONE, NONE,
                                           NULL, NULL, NULL) == -1,
           "mlp: tied with m != d and no inputs are rejected");
}

/* ---- mixture of softmaxes, fixed weights ---- */

typedef struct {
    double *h, *W, *alpha, *G;
    size_t n, V, d, K;
} fixed_problem;

static long double fixed_loss(const void *problem)
{
    const fixed_problem *p = problem;
    size_t d = p->d, V_ = p->V, K = p->K;
    long double A = 0.0L, L = 0.0L;
    for (size_t k = 0; k < K; k++)
        A += p->alpha[k];
    for (size_t t = 0; t < p->n; t++) {
        long double y[MAXV] = {0};
        for (size_t k = 0; k < K; k++) {
            long double u[MAXV], q[MAXV];
            for (size_t v = 0; v < V_; v++) {
                u[v] = 0.0L;
                for (size_t j = 0; j < d; j++)
                    u[v] += (long double)p->h[t * d + j]
                            * p->W[(k * d + j) * V_ + v];
            }
            softmax_ld(q, u, V_);
            for (size_t v = 0; v < V_; v++)
                y[v] += p->alpha[k] / A * q[v];
        }
        for (size_t v = 0; v < V_; v++)
            L += p->G[t * V_ + v] * logl(y[v]);
    }
    return L;
}

static const double MW[3 * D * V] = {
    0.5,  -1,    0.25,  1.5,  -0.75, 0.5,   1,     -0.25, 1.25,  0.375,
    -0.5, 0.75,  -1.5,  0.625, 0.25, -0.125, 1,    0.5,   -0.25, 0.75,
    0.25, -0.625, 1.125, -1,   0.875, 0.25, -0.5,  1,     -0.75, 0.125,
    0.5,  1.5,   -0.25, 0.375, -1.25, 0.5};
static const double MG[N * V] = {0.5, -1, 0.25, 0.75, -0.5, 1.5, 0.25, -1};

/* The outputs of the fixed mixture (K <= 3). */
typedef struct {
    double dh[N * D], dh_s[N * D], dW[3 * D * V], dW_s[3 * D * V];
    double dalpha[3], dalpha_s[3];
} fixed_grads;

static int run_fixed(fixed_grads *g, const double *h, const double *W,
                     const double *alpha, const double *G, size_t K)
{
    return oracle_mos_fixed_backward(out_of(g->dh, g->dh_s),
                                     out_of(g->dW, g->dW_s),
                                     out_of(g->dalpha, g->dalpha_s), h, W,
                                     alpha, G, N, V, D, K);
}

static void test_fixed_single(void)
{
    /* K = 1: log-softmax backward of u = h W, then the untied head */
    const double alpha[1] = {0.75};
    fixed_grads g;
    int rc = run_fixed(&g, H, MW, alpha, MG, 1);
    double u[N * V], dlogits[N * V], dlogits_s[N * V], dtau, dtau_s;
    for (size_t t = 0; t < N; t++)
        for (size_t v = 0; v < V; v++) {
            u[t * V + v] = 0;
            for (size_t j = 0; j < D; j++)
                u[t * V + v] += H[t * D + j] * MW[j * V + v]; /* exact */
        }
    rc |= oracle_softmax_backward(out_of(dlogits, dlogits_s),
                                  out_of(&dtau, &dtau_s), u, MG, N, V, 1.0,
                                  1);
    plain_grads chain;
    rc |= oracle_head_untied_backward(out_of(chain.dh, chain.dh_s),
                                      out_of(chain.dW, chain.dW_s),
                                      out_of(chain.db, chain.db_s), H, MW,
                                      dlogits, N, V, D);
    tap_ok(rc == 0 && all_close(g.dh, chain.dh, N * D, 0x1p-48)
               && all_close(g.dW, chain.dW, D * V, 0x1p-48),
           "mos_fixed: K = 1 gives log-softmax backward then the untied "
           "head (dh, dW)");
    tap_close_enough(g.dalpha[0], 0.0, 1e-15,
                     "mos_fixed: K = 1 gives dalpha = 0 (scale invariance)");
}

static void test_fixed_fd(void)
{
    double h[N * D], W[3 * D * V], G[N * V], alpha[3] = {3, 0.5, 1.25};
    memcpy(h, H, sizeof h);
    memcpy(W, MW, sizeof W);
    memcpy(G, MG, sizeof G);
    fixed_grads g;
    int rc = run_fixed(&g, h, W, alpha, G, 3);
    tap_ok(rc == 0 && scales_ok(g.dh, g.dh_s, N * D)
               && scales_ok(g.dW, g.dW_s, 3 * D * V)
               && scales_ok(g.dalpha, g.dalpha_s, 3),
           "mos_fixed: K = 3 succeeds, every scale >= |value| >= 0");
    fixed_problem p = {h, W, alpha, G, N, V, D, 3};
    check_fd(fixed_loss, &p, h, g.dh, N * D, "mos_fixed: dh");
    check_fd(fixed_loss, &p, W, g.dW, 3 * D * V, "mos_fixed: dW");
    check_fd(fixed_loss, &p, alpha, g.dalpha, 3, "mos_fixed: dalpha");
}

static void test_fixed_zero_weight(void)
{
    double h[N * D], W[3 * D * V], G[N * V], alpha[3] = {1, 0, 2};
    memcpy(h, H, sizeof h);
    memcpy(W, MW, sizeof W);
    memcpy(G, MG, sizeof G);
    fixed_grads g;
    int rc = run_fixed(&g, h, W, alpha, G, 3);
    tap_ok(rc == 0 && all_zero(g.dW + D * V, D * V)
               && all_zero(g.dW_s + D * V, D * V),
           "mos_fixed: alpha_k = 0 gives dW_k = 0 with scale 0");
    double balance = 0, magnitude = 0;
    for (size_t k = 0; k < 3; k++) {
        balance += alpha[k] * g.dalpha[k];
        magnitude += fabs(alpha[k] * g.dalpha[k]);
    }
    tap_ok(rc == 0 && scales_ok(g.dalpha, g.dalpha_s, 3)
               && fabs(balance) <= 1e-15 * magnitude,
           "mos_fixed: dalpha finite with alpha_k = 0, and "
           "sum alpha_i dalpha_i = 0");
    /* the forward is smooth through alpha_k = 0 (y stays positive) */
    fixed_problem p = {h, W, alpha, G, N, V, D, 3};
    check_fd(fixed_loss, &p, alpha, g.dalpha, 3,
             "mos_fixed: dalpha with alpha_k = 0");
    check_fd(fixed_loss, &p, h, g.dh, N * D, "mos_fixed: dh with alpha_k = 0");
}

static void test_fixed_by_hand(void)
{
    /* n = d = V = K = 1, h = W = G = alpha = 1. p = 1 with E 6 (exp(0) = 1
     * E 2, S = 1 E 3); A = 1 E 2; alpha-bar = 1 E 4; log alpha-bar = 0 E 4;
     * log S = 0 E 3; l = 0 + (0 - 0) E 7; log y = l + log(exp 0) E 7 + 3;
     * y = 1 E 12; omega = (1 * 1)/1 E (6 + 4 + 1 + 12) + 1 = 24;
     * omega G E 26; rho E 27; p rho E 27 + 6 + 1 = 34; delta = 0 E 60:
     * dh = dW = 0 with scale 60. c = rho / alpha-bar E (27 + 4) + 1 = 32,
     * alpha-bar c E 37, the mean E 38: dalpha = 0 with scale 70. */
    const double one[1] = {1};
    fixed_grads g;
    int rc = oracle_mos_fixed_backward(out_of(g.dh, g.dh_s),
                                       out_of(g.dW, g.dW_s),
                                       out_of(g.dalpha, g.dalpha_s), one, one,
                                       one, one, 1, 1, 1, 1);
    tap_ok(rc == 0 && g.dh[0] == 0 && g.dh_s[0] == 60 && g.dW[0] == 0
               && g.dW_s[0] == 60 && g.dalpha[0] == 0
               && g.dalpha_s[0] == 70,
           "mos_fixed: one entry by hand: dh = dW = 0 with scale 60, "
           "dalpha = 0 with scale 70");
}

static void test_fixed_errors(void)
{
    fixed_grads g;
    const double negative[2] = {1, -0.5}, zeros[2] = {0, 0};
    const double G_nan[N * V] = {NAN};
    tap_ok(run_fixed(&g, H, MW, negative, MG, 2) == -1
               && run_fixed(&g, H, MW, zeros, MG, 2) == -1
               && run_fixed(&g, H, MW, (const double[2]){1, 1}, G_nan, 2)
                      == -1
               && run_fixed(&g, H, MW, zeros, MG, 0) == -1,
           "mos_fixed: a negative weight, all zero, NaN in dlogprobs and "
           "K = 0 are rejected");
}

/* ---- mixture of softmaxes, gated ---- */

typedef struct {
    double *h, *W_pi, *W_comp, *b_comp, *W_out, *E, *b_out, *G;
    size_t n, V, d, K;
} gated_problem;

/* The component distribution p_k of row t. p: (V) */
static void gated_component(long double *p, const gated_problem *q, size_t t,
                            size_t k)
{
    size_t d = q->d, V_ = q->V;
    long double g[MAXD], u[MAXV];
    for (size_t i = 0; i < d; i++) {
        long double c = q->b_comp[k * d + i];
        for (size_t j = 0; j < d; j++)
            c += (long double)q->h[t * d + j] * q->W_comp[(k * d + j) * d + i];
        g[i] = tanhl(c);
    }
    for (size_t v = 0; v < V_; v++) {
        u[v] = q->b_out != NULL ? q->b_out[v] : 0.0L;
        for (size_t i = 0; i < d; i++)
            u[v] += g[i] * (q->W_out != NULL ? q->W_out[i * V_ + v]
                                             : q->E[v * d + i]);
    }
    softmax_ld(p, u, V_);
}

static long double gated_loss(const void *problem)
{
    const gated_problem *q = problem;
    size_t d = q->d, V_ = q->V, K = q->K;
    long double L = 0.0L;
    for (size_t t = 0; t < q->n; t++) {
        long double gate[MAXK], pi[MAXK], y[MAXV] = {0}, p[MAXV];
        for (size_t k = 0; k < K; k++) {
            gate[k] = 0.0L;
            for (size_t j = 0; j < d; j++)
                gate[k] += (long double)q->h[t * d + j] * q->W_pi[j * K + k];
        }
        softmax_ld(pi, gate, K);
        for (size_t k = 0; k < K; k++) {
            gated_component(p, q, t, k);
            for (size_t v = 0; v < V_; v++)
                y[v] += pi[k] * p[v];
        }
        for (size_t v = 0; v < V_; v++)
            L += q->G[t * V_ + v] * logl(y[v]);
    }
    return L;
}

enum { GK = 2 };
static const double GW_PI[D * GK] = {0.5, -0.75, 1, 0.25, -0.5, 1.25};
static const double GB_COMP[GK * D] = {0.25, -0.5, 0.125, -0.25, 0.5, 0.75};

/* The outputs of the gated mixture (K = GK). */
typedef struct {
    double dh[N * D], dh_s[N * D], dW_pi[D * GK], dW_pi_s[D * GK];
    double dW_comp[GK * D * D], dW_comp_s[GK * D * D];
    double db_comp[GK * D], db_comp_s[GK * D];
    double dW_out[D * V], dW_out_s[D * V], dE[V * D], dE_s[V * D];
    double db_out[V], db_out_s[V];
} gated_grads;

static int run_gated(gated_grads *g, const oracle_mos_gated_inputs *in)
{
    oracle_mos_gated_outputs out = {
        out_of(g->dh, g->dh_s),           out_of(g->dW_pi, g->dW_pi_s),
        out_of(g->dW_comp, g->dW_comp_s), out_of(g->db_comp, g->db_comp_s),
        out_of(g->dW_out, g->dW_out_s),   out_of(g->dE, g->dE_s),
        out_of(g->db_out, g->db_out_s)};
    return oracle_mos_gated_backward(&out, in);
}

/* One FD test per gradient output of the gated mixture. */
static void gated_fd(gated_problem *q, const char *form)
{
    oracle_mos_gated_inputs in = {q->h,     q->W_pi, q->W_comp, q->b_comp,
                                  q->W_out, q->E,    q->b_out,  q->G,
                                  q->n,     q->V,    q->d,      q->K};
    gated_grads g;
    int rc = run_gated(&g, &in);
    size_t K = q->K;
    tap_ok(rc == 0 && scales_ok(g.dh, g.dh_s, N * D)
               && scales_ok(g.dW_pi, g.dW_pi_s, D * K)
               && scales_ok(g.dW_comp, g.dW_comp_s, K * D * D)
               && scales_ok(g.db_comp, g.db_comp_s, K * D)
               && scales_ok(g.db_out, g.db_out_s, V)
               && (q->W_out != NULL ? scales_ok(g.dW_out, g.dW_out_s, D * V)
                                    : scales_ok(g.dE, g.dE_s, V * D)),
           "mos_gated %s: succeeds, every scale >= |value| >= 0", form);
    char what[64];
    snprintf(what, sizeof what, "mos_gated %s: dh", form);
    check_fd(gated_loss, q, q->h, g.dh, N * D, what);
    snprintf(what, sizeof what, "mos_gated %s: dW_pi", form);
    check_fd(gated_loss, q, q->W_pi, g.dW_pi, D * K, what);
    snprintf(what, sizeof what, "mos_gated %s: dW_comp", form);
    check_fd(gated_loss, q, q->W_comp, g.dW_comp, K * D * D, what);
    snprintf(what, sizeof what, "mos_gated %s: db_comp", form);
    check_fd(gated_loss, q, q->b_comp, g.db_comp, K * D, what);
    if (q->b_out != NULL) {
        snprintf(what, sizeof what, "mos_gated %s: db_out", form);
        check_fd(gated_loss, q, q->b_out, g.db_out, V, what);
    }
    if (q->W_out != NULL) {
        snprintf(what, sizeof what, "mos_gated %s: dW_out", form);
        check_fd(gated_loss, q, q->W_out, g.dW_out, D * V, what);
    } else {
        snprintf(what, sizeof what, "mos_gated %s: dE", form);
        check_fd(gated_loss, q, q->E, g.dE, V * D, what);
    }
}

static void test_gated_fd(void)
{
    double h[N * D], W_pi[D * GK], W_comp[GK * D * D], b_comp[GK * D];
    double W_out[D * V], E[V * D], b_out[V], G[N * V];
    memcpy(h, H, sizeof h);
    memcpy(W_pi, GW_PI, sizeof W_pi);
    memcpy(W_comp, MW, sizeof W_comp);
    memcpy(b_comp, GB_COMP, sizeof b_comp);
    memcpy(W_out, F0, sizeof W_out);
    memcpy(E, E0, sizeof E);
    memcpy(b_out, MB2, sizeof b_out);
    memcpy(G, MG, sizeof G);
    gated_problem untied = {h, W_pi, W_comp, b_comp, W_out, NULL, b_out, G,
                            N, V, D, GK};
    gated_fd(&untied, "untied");
    gated_problem tied = {h, W_pi, W_comp, b_comp, NULL, E, NULL, G,
                          N, V, D, GK};
    gated_fd(&tied, "tied, no b_out");
}

static void test_gated_single(void)
{
    /* K = 1: pi = 1 exactly, so the gate logit's gradient
     * rho - 1 * rho is exactly 0 and so is dW_pi */
    oracle_mos_gated_inputs in = {H,  GW_PI, MW, GB_COMP, F0, NULL, MB2, MG,
                                  N,  V,     D,  1};
    gated_grads g;
    int rc = run_gated(&g, &in);
    tap_ok(rc == 0 && all_zero(g.dW_pi, D) && scales_ok(g.dh, g.dh_s, N * D),
           "mos_gated: K = 1 gives dW_pi = 0 (pi = 1)");
    oracle_mos_gated_inputs bad = in;
    bad.K = 0;
    oracle_mos_gated_inputs no_out = in;
    no_out.W_out = NULL; /* and E NULL */
    oracle_mos_gated_inputs nan_b = in;
    nan_b.b_comp = (const double[D]){0, NAN, 0};
    tap_ok(run_gated(&g, &bad) == -1 && run_gated(&g, &no_out) == -1
               && run_gated(&g, &nan_b) == -1
               && oracle_mos_gated_backward(NULL, &in) == -1,
           "mos_gated: K = 0, no output matrix, NaN in b_comp and no "
           "outputs are rejected");
}

/* ---- soft-tying regulariser ---- */

typedef struct {
    double *h, *E, *W;
    const int64_t *targets;
    size_t n, V, d;
    double lambda, dloss;
    int mean;
} soft_tie_problem;

static long double soft_tie_loss(const void *problem)
{
    const soft_tie_problem *p = problem;
    size_t d = p->d, V_ = p->V, counted = 0;
    long double ce = 0.0L, penalty = 0.0L;
    for (size_t t = 0; t < p->n; t++) {
        if (p->targets[t] == -100)
            continue;
        long double u[MAXV];
        for (size_t v = 0; v < V_; v++) {
            u[v] = 0.0L;
            for (size_t j = 0; j < d; j++)
                u[v] += (long double)p->h[t * d + j] * p->W[j * V_ + v];
        }
        ce += log_sum_exp(u, V_) - u[p->targets[t]];
        counted++;
    }
    if (p->mean && counted > 0)
        ce /= counted;
    for (size_t v = 0; v < V_; v++)
        for (size_t j = 0; j < d; j++) {
            long double gap = (long double)p->E[v * d + j] - p->W[j * V_ + v];
            penalty += gap * gap;
        }
    return p->dloss * (ce + p->lambda * penalty);
}

/* The outputs of the soft-tying backward. */
typedef struct {
    double dh[3 * D], dh_s[3 * D], dE[V * D], dE_s[V * D];
    double dW[D * V], dW_s[D * V];
} soft_tie_grads;

static int run_soft_tie(soft_tie_grads *g, const soft_tie_problem *p)
{
    return oracle_soft_tie_loss_backward(
        out_of(g->dh, g->dh_s), out_of(g->dE, g->dE_s),
        out_of(g->dW, g->dW_s), p->h, p->E, p->W, p->targets, p->n, p->V,
        p->d, p->lambda, p->mean ? ORACLE_REDUCE_MEAN : ORACLE_REDUCE_SUM,
        -100, p->dloss);
}

static void test_soft_tie_by_hand(void)
{
    /* n = 1, V = 2, d = 1, h = 0, W = E^T = (1, 2), target 0, lambda =
     * 1/2, dloss = 1, sum. Logits 0 with E = 0; exp(0) = 1 with E = 2;
     * S = 2 with E = 4 + 2 + 2 = 8; y = 1/2 with E = (2 + 4)/2 + 1/2 =
     * 3.5; D = (-1/2, 1/2) with E = (4 + 1/2 + 1/2, 3.5 + 1/2 + 1/2) =
     * (5, 4.5); dh = -1/2 + 1 = 1/2 with products E 6 and 11, so
     * E = 17 + 1.5 + 0.5 = 19. pull = (2 * 1/2) * 1 = 1 with E 4;
     * W - E^T = 0 with E (2, 4): dW = dE = (0, 0) with scales (2, 4). */
    double h[1] = {0}, E[2] = {1, 2}, W[2] = {1, 2};
    const int64_t targets[1] = {0};
    soft_tie_problem p = {h, E, W, targets, 1, 2, 1, 0.5, 1, 0};
    soft_tie_grads g;
    int rc = run_soft_tie(&g, &p);
    tap_ok(rc == 0 && g.dh[0] == 0.5 && g.dh_s[0] == 19,
           "soft_tie: dh = 1/2 with scale 19 by hand");
    tap_ok(all_zero(g.dW, 2) && all_zero(g.dE, 2)
               && all_same_bits(g.dW_s, (const double[2]){2, 4}, 2)
               && all_same_bits(g.dE_s, (const double[2]){2, 4}, 2),
           "soft_tie: W = E^T: dW = dE = 0 with scales (2, 4) by hand");
}

static void test_soft_tie_one_entry(void)
{
    /* V = 1, h = 1, W = E^T = 3, lambda = 0, dloss = 1, sum: the softmax
     * of one entry is exactly 1 whatever its logit (zeta = 0 with E = 0):
     * exp(0) = 1 with E 2, S = 1 with E 3, y = 1 with E 6, D = y - 1 = 0
     * with E 6; dh = D W = 0 with E 3 * 6 = 18; dW = h D + 0 = 0 with E 6. */
    double h[1] = {1}, E[1] = {3}, W[1] = {3};
    const int64_t targets[1] = {0};
    soft_tie_problem p = {h, E, W, targets, 1, 1, 1, 0.0, 1, 0};
    soft_tie_grads g;
    int rc = run_soft_tie(&g, &p);
    tap_ok(rc == 0 && g.dh[0] == 0 && g.dh_s[0] == 18 && g.dW[0] == 0
               && g.dW_s[0] == 6 && g.dE[0] == 0 && g.dE_s[0] == 0,
           "soft_tie: |V| = 1 by hand: dh = 0 scale 18, dW = 0 scale 6, "
           "dE = 0 scale 0 (the maximal entry's zeta has E = 0)");
}

static const int64_t ST[3] = {1, -100, 3};
static const double SH[3 * D] = {0.5, -1.25, 2, 1, 0.25, -0.5,
                                 0.75, 0.25, -1.5};

static void test_soft_tie_chain(void)
{
    /* lambda = 0: dh, dW are cross_entropy_backward then the untied head */
    double h[3 * D], E[V * D], W[D * V];
    memcpy(h, SH, sizeof h);
    memcpy(E, E0, sizeof E);
    memcpy(W, F0, sizeof W);
    soft_tie_problem p = {h, E, W, ST, 3, V, D, 0.0, 1.5, 1};
    soft_tie_grads g;
    int rc = run_soft_tie(&g, &p);
    double u[3 * V], dlogits[3 * V], dlogits_s[3 * V];
    for (size_t t = 0; t < 3; t++)
        for (size_t v = 0; v < V; v++) {
            u[t * V + v] = 0;
            for (size_t j = 0; j < D; j++)
                u[t * V + v] += SH[t * D + j] * F0[j * V + v]; /* exact */
        }
    double dloss = 1.5;
    rc |= oracle_cross_entropy_backward(out_of(dlogits, dlogits_s), u, ST,
                                        &dloss, 3, V, ORACLE_REDUCE_MEAN,
                                        -100);
    double dh[3 * D], dh_s[3 * D], dW[D * V], dW_s[D * V], db[V], db_s[V];
    rc |= oracle_head_untied_backward(out_of(dh, dh_s), out_of(dW, dW_s),
                                      out_of(db, db_s), SH, F0, dlogits, 3, V,
                                      D);
    tap_ok(rc == 0 && all_close(g.dh, dh, 3 * D, 0x1p-48)
               && all_close(g.dW, dW, D * V, 0x1p-48) && all_zero(g.dE, V * D),
           "soft_tie: lambda = 0 gives cross_entropy_backward then the "
           "untied head, dE = 0");
    tap_ok(all_zero(g.dh + D, D) && all_zero(g.dh_s + D, D),
           "soft_tie: an ignored row's dh is 0 with scale 0");
    const int64_t ignored[3] = {-100, -100, -100};
    p.targets = ignored;
    p.lambda = 0.25;
    rc = run_soft_tie(&g, &p);
    tap_ok(rc == 0 && all_zero(g.dh, 3 * D) && all_zero(g.dh_s, 3 * D)
               && scales_ok(g.dW, g.dW_s, D * V),
           "soft_tie: mean over no target: dh = 0 (scale 0), dW the "
           "penalty's alone");
}

static void test_soft_tie_fd(void)
{
    double h[3 * D], E[V * D], W[D * V];
    memcpy(h, SH, sizeof h);
    memcpy(E, E0, sizeof E);
    memcpy(W, F0, sizeof W);
    for (int mean = 0; mean <= 1; mean++) {
        soft_tie_problem p = {h, E, W, ST, 3, V, D, 0.375, 1.5, mean};
        soft_tie_grads g;
        int rc = run_soft_tie(&g, &p);
        const char *form = mean ? "mean" : "sum";
        tap_ok(rc == 0 && scales_ok(g.dh, g.dh_s, 3 * D)
                   && scales_ok(g.dE, g.dE_s, V * D)
                   && scales_ok(g.dW, g.dW_s, D * V),
               "soft_tie %s: succeeds, every scale >= |value| >= 0", form);
        char what[64];
        snprintf(what, sizeof what, "soft_tie %s: dh", form);
        check_fd(soft_tie_loss, &p, h, g.dh, 3 * D, what);
        snprintf(what, sizeof what, "soft_tie %s: dE", form);
        check_fd(soft_tie_loss, &p, E, g.dE, V * D, what);
        snprintf(what, sizeof what, "soft_tie %s: dW", form);
        check_fd(soft_tie_loss, &p, W, g.dW, D * V, what);
    }
}

static void test_soft_tie_errors(void)
{
    soft_tie_grads g;
    oracle_out dh = out_of(g.dh, g.dh_s);
    const int64_t past_end[3] = {0, 4, 1};
    int bad =
        oracle_soft_tie_loss_backward(dh, NONE, NONE, SH, E0, F0, ST, 3, V, D,
                                      -1, ORACLE_REDUCE_SUM, -100, 1) == -1
        && oracle_soft_tie_loss_backward(dh, NONE, NONE, SH, E0, F0, ST, 3, V,
                                         D, NAN, ORACLE_REDUCE_SUM, -100, 1)
               == -1
        && oracle_soft_tie_loss_backward(dh, NONE, NONE, SH, E0, F0, ST, 3, V,
                                         D, 1, ORACLE_REDUCE_NONE, -100, 1)
               == -1
        && oracle_soft_tie_loss_backward(dh, NONE, NONE, SH, E0, F0, past_end,
                                         3, V, D, 1, ORACLE_REDUCE_SUM, -100,
                                         1) == -1
        && oracle_soft_tie_loss_backward(dh, NONE, NONE, SH, E0, F0, ST, 3, V,
                                         D, 1, ORACLE_REDUCE_SUM, 2, 1) == -1
        && oracle_soft_tie_loss_backward(dh, NONE, NONE, SH, E0, F0, ST, 3, V,
                                         D, 1, ORACLE_REDUCE_SUM, -100,
                                         INFINITY) == -1;
    tap_ok(bad, "soft_tie: lambda < 0 or NaN, reduction none, a target past "
                "|V|, ignore_index inside [0, |V|) and an infinite dloss "
                "are rejected");
}

static void test_empty_batch(void)
{
    /* n = 0: no row contributes, every gradient of a parameter is 0 with
     * scale 0 */
    double dE[V * D], dE_s[V * D], dF[D * V], dF_s[D * V];
    int rc = oracle_head_partial_backward(NONE, out_of(dE, dE_s),
                                          out_of(dF, dF_s), NULL, E0, F0,
                                          NULL, 0, V, D, 0);
    int zeros = all_zero(dE, V * D) && all_zero(dE_s, V * D)
                && all_zero(dF, D * V) && all_zero(dF_s, D * V);
    fixed_grads g;
    rc |= oracle_mos_fixed_backward(NONE, out_of(g.dW, g.dW_s),
                                    out_of(g.dalpha, g.dalpha_s), NULL, MW,
                                    (const double[2]){1, 3}, NULL, 0, V, D,
                                    2);
    zeros = zeros && all_zero(g.dW, 2 * D * V) && all_zero(g.dW_s, 2 * D * V)
            && all_zero(g.dalpha, 2);
    soft_tie_grads st;
    rc |= oracle_soft_tie_loss_backward(NONE, out_of(st.dE, st.dE_s),
                                        out_of(st.dW, st.dW_s), NULL, E0, E0,
                                        NULL, 0, V, D, 0.5,
                                        ORACLE_REDUCE_MEAN, -100, 1);
    tap_ok(rc == 0 && zeros && scales_ok(st.dW, st.dW_s, D * V),
           "n = 0: partial, mos_fixed and soft_tie succeed with zero "
           "gradients (scale 0) where no row contributes");
}

/* Results that are exactly 0 over the reals must be stored as 0, not as a
 * residue of the working precision (spec/tolerance.md, "rounded once"):
 * K = 3 identical components with equal weights and a constant upstream
 * gradient make every dalpha exactly 0 (each c_k is the same, and their
 * mean is that value); evaluated as c_i - sum_k abar_k c_k with abar = 1/3
 * rounded, it left 5.8e-78. */
static void test_mixture_exact_zeros(void)
{
    enum { ROWS = 1, WIDTH = 2, VV = 3, KK = 3 };
    static const double h[ROWS * WIDTH] = {0.5, -0.25};
    static const double base[WIDTH * VV] = {0.5, -0.75, 0.25, 1.0, 0.125, -0.5};
    static const double alpha[KK] = {1, 1, 1};
    static const double G[ROWS * VV] = {0.5, 0.5, 0.5};
    double W[KK * WIDTH * VV], dh[ROWS * WIDTH], dh_s[ROWS * WIDTH], dW[KK * WIDTH * VV],
        dW_s[KK * WIDTH * VV], dalpha[KK], dalpha_s[KK];
    for (size_t k = 0; k < KK; k++)
        memcpy(W + k * WIDTH * VV, base, sizeof base);
    int status = oracle_mos_fixed_backward(out_of(dh, dh_s), out_of(dW, dW_s),
                                           out_of(dalpha, dalpha_s), h, W, alpha,
                                           G, ROWS, VV, WIDTH, KK);
    tap_ok(status == 0 && all_zero(dalpha, KK),
           "mos_fixed_backward, three identical components, equal weights, "
           "constant upstream: dalpha exactly 0 (got %g %g %g)", dalpha[0],
           dalpha[1], dalpha[2]);

}

int main(void)
{
    test_mixture_exact_zeros();
    test_partial_by_hand();
    test_partial_ends();
    test_partial_fd();
    test_partial_errors();
    test_transformed();
    test_adaptive_ends();
    test_adaptive_fd();
    test_mlp_by_hand();
    test_mlp_fd();
    test_mlp_tied_equals_untied();
    test_fixed_single();
    test_fixed_fd();
    test_fixed_zero_weight();
    test_fixed_by_hand();
    test_fixed_errors();
    test_gated_fd();
    test_gated_single();
    test_soft_tie_by_hand();
    test_soft_tie_one_entry();
    test_soft_tie_chain();
    test_soft_tie_fd();
    test_soft_tie_errors();
    test_empty_batch();
    mpfr_free_cache();
    tap_done();
    return tap_exit_status();
}
