/*
 * oracle_variants_selfcheck.c -- TAP self-test of the MPFR oracle of the
 * head variants (tools/oracle/oracle_variants.h).
 *
 * Every expected value here is derived without the variant oracle: the
 * reductions that spec/variants.md names (k = 0 and k = |V|, T = I,
 * alpha = 0 and 1, W2 = E^T, K = 1, W = E^T, lambda = 0) checked against the
 * plain heads and softmaxes of tools/oracle/oracle_head.h; small dyadic cases
 * worked by hand; a few constants computed separately with Python's mpmath
 * at 3000 bits and written as hexadecimal doubles (nearest for values,
 * rounded upward for scales); and one comparison with a plain double
 * evaluation under a loose bound.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <mpfr.h>

#include "oracle_head.h"
#include "oracle_variants.h"
#include "tap.h"

/* ---- helpers ---- */

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

/* 1 if every scale is finite and at least the magnitude of its value (a
 * NaN value is skipped). value, scale: (count) */
static int scales_cover(const double *value, const double *scale,
                        size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (isnan(value[i]))
            continue;
        if (!isfinite(scale[i]) || !(scale[i] >= fabs(value[i])))
            return 0;
    }
    return 1;
}

/* 1 if every element is finite. values: (count) */
static int all_finite(const double *values, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!isfinite(values[i]))
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

/* The inputs shared by the head tests: n = 2, V = 4, d = 3, inexact
 * decimals of mixed magnitude so that every sum rounds. */
enum { N2 = 2, V4 = 4, D3 = 3 };
static const double H[N2 * D3] = {0.1, -2.5, 3, 7e-3, 1e5, -0.3};
static const double E[V4 * D3] = {0.2, 0.3, -1.1, 4, 5e-4, 0.6,
                                  -7, 0.125, 9.75, 0.01, -0.02, 1};
static const double F[D3 * V4] = {1.5, -0.7, 0.3, 2e-4, 0.9, 11, -6, 0.05,
                                  -0.4, 0.25, 3e3, 1.1};

/* ---- partial tying ---- */

static void test_partial_ends(void)
{
    double u[8], s[8], w[8], ws[8], k = 0, kw = 0;
    int rc = oracle_head_partial(u, s, &k, H, E, F, N2, V4, D3, 0);
    rc |= oracle_head_untied(w, ws, &kw, H, F, NULL, N2, V4, D3);
    tap_ok(rc == 0 && k == 5.0, "partial: succeeds with K = d + 2");
    tap_ok(all_same_bits(u, w, 8) && all_same_bits(s, ws, 8),
           "partial: k = 0 equals head_untied with W = F (values, scales)");
    rc = oracle_head_partial(u, s, &k, H, E, NULL, N2, V4, D3, V4);
    rc |= oracle_head_tied(w, ws, &kw, H, E, N2, V4, D3);
    tap_ok(rc == 0 && all_same_bits(u, w, 8) && all_same_bits(s, ws, 8),
           "partial: k = |V| (F = NULL) equals head_tied (values, scales)");
    tap_ok(scales_cover(u, s, 8), "partial: every scale >= |value|");
}

static void test_partial_by_hand(void)
{
    /* d = 2, V = 3, k = 1: logit 0 from E[0], logits 1, 2 from F's
     * columns 0, 1 */
    const double h[2] = {1, 2};
    const double E3[6] = {1, 0, 0.5, 0.5, 3, -1};
    const double F2[4] = {2, -1, 0.25, 4}; /* (2, 2) */
    double u[3], s[3], k = 0;
    int rc = oracle_head_partial(u, s, &k, h, E3, F2, 1, 3, 2, 1);
    tap_ok(rc == 0 && all_same_bits(u, (const double[3]){1, 2.5, 7}, 3),
           "partial: k = 1 by hand: h.E[0], h.F[:,0], h.F[:,1]");
    tap_ok(all_same_bits(s, (const double[3]){1, 2.5, 9}, 3),
           "partial: scale sum_j |h_j w_jv| of the column used");
    double k2 = 0, u2[3], s2[3];
    const double F1[2] = {-1, 4}; /* (2, 1) */
    rc = oracle_head_partial(u2, s2, &k2, h, E3, F1, 1, 3, 2, 2);
    tap_ok(rc == 0 && all_same_bits(u2, (const double[3]){1, 1.5, 7}, 3),
           "partial: k = 2 by hand: E[0], E[1], then F[:,0]");
}

static void test_partial_errors(void)
{
    double u[8], s[8], k = 0;
    const double h_nan[6] = {0, NAN, 0, 0, 0, 0};
    tap_ok(oracle_head_partial(u, s, &k, H, E, F, N2, V4, D3, 5) == -1
               && oracle_head_partial(u, s, &k, H, E, NULL, N2, V4, D3, 3)
                      == -1
               && oracle_head_partial(u, s, &k, h_nan, E, F, N2, V4, D3, 1)
                      == -1
               && oracle_head_partial(u, s, &k, H, E, F, N2, V4, 0, 1) == -1
               && oracle_head_partial(u, s, NULL, H, E, F, N2, V4, D3, 1)
                      == -1,
           "partial: k > |V|, F = NULL with k < |V|, NaN in h, d = 0 and "
           "no k_tol are rejected");
}

/* ---- tying with a transform ---- */

static void test_transformed(void)
{
    const double I3[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    double u[8], s[8], w[8], ws[8], k = 0, kw = 0;
    int rc = oracle_head_transformed(u, s, &k, H, I3, E, N2, V4, D3);
    rc |= oracle_head_tied(w, ws, &kw, H, E, N2, V4, D3);
    tap_ok(rc == 0 && k == 10.0, "transformed: succeeds with K = 2d + 4");
    tap_ok(all_same_bits(u, w, 8) && all_same_bits(s, ws, 8),
           "transformed: T = I equals head_tied (values, scales)");
    const double T3[9] = {0.3, -1, 2, 0.7, 0.1, -0.2, 5, 1e-3, 0.9};
    rc = oracle_head_transformed(u, s, &k, H, T3, E, N2, V4, D3);
    tap_ok(rc == 0 && scales_cover(u, s, 8),
           "transformed: every scale >= |value|");

    /* h T = (1 + 6, 2 + 8) = (7, 10); u = 7 - 10; s = 7 + 10 */
    const double h[2] = {1, 2}, T[4] = {1, 2, 3, 4}, E1[2] = {1, -1};
    rc = oracle_head_transformed(u, s, &k, h, T, E1, 1, 1, 2);
    tap_ok(rc == 0 && u[0] == -3.0 && s[0] == 17.0,
           "transformed: h T E^T by hand (T not transposed): -3, scale 17");

    /* h T = (2^200 + 2^-200, 2^200) needs 401 bits; u = 2^-200 exactly */
    const double wide_h[2] = {0x1p200, 0x1p-200}, T_sum[4] = {1, 1, 1, 0};
    rc = oracle_head_transformed(u, s, &k, wide_h, T_sum, E1, 1, 1, 2);
    tap_ok(rc == 0 && u[0] == 0x1p-200,
           "transformed: (2^200 + 2^-200) - 2^200 = 2^-200, h T kept exact");
    tap_ok(same_bits(s[0], nextafter(0x1p201, INFINITY)),
           "transformed: its scale 2^201 + 2^-200 is rounded upward");
    const double T_inf[4] = {1, INFINITY, 0, 1};
    tap_ok(oracle_head_transformed(u, s, &k, h, T_inf, E1, 1, 1, 2) == -1
               && oracle_head_transformed(u, s, &k, h, NULL, E1, 1, 1, 2)
                      == -1,
           "transformed: an infinite or missing T is rejected");
}

/* ---- adaptive tying ---- */

static void test_adaptive(void)
{
    double u[8], s[8], w[8], ws[8], k = 0, kw = 0;
    int rc = oracle_head_adaptive(u, s, &k, H, E, F, 1.0, N2, V4, D3);
    rc |= oracle_head_tied(w, ws, &kw, H, E, N2, V4, D3);
    tap_ok(rc == 0 && k == 9.0, "adaptive: succeeds with K = d + 6");
    tap_ok(all_same_bits(u, w, 8) && all_same_bits(s, ws, 8),
           "adaptive: alpha = 1 equals head_tied (values, scales)");
    rc = oracle_head_adaptive(u, s, &k, H, E, F, 0.0, N2, V4, D3);
    rc |= oracle_head_untied(w, ws, &kw, H, F, NULL, N2, V4, D3);
    tap_ok(rc == 0 && all_same_bits(u, w, 8) && all_same_bits(s, ws, 8),
           "adaptive: alpha = 0 equals head_untied with W = F");
    rc = oracle_head_adaptive(u, s, &k, H, E, F, 0.3, N2, V4, D3);
    tap_ok(rc == 0 && scales_cover(u, s, 8),
           "adaptive: every scale >= |value|");

    /* h E^T = 3, h F = 0: u = 0.25 * 3;
     * s = 1 (0.25 + 0.75 * 2) + 2 (0.25 + 0.75 * 1) */
    const double h[2] = {1, 2}, E1[2] = {1, 1}, F1[2] = {2, -1};
    rc = oracle_head_adaptive(u, s, &k, h, E1, F1, 0.25, 1, 1, 2);
    tap_ok(rc == 0 && u[0] == 0.75 && s[0] == 3.75,
           "adaptive: alpha = 0.25 by hand: 0.75, scale 3.75");
    tap_ok(oracle_head_adaptive(u, s, &k, h, E1, F1, 1.5, 1, 1, 2) == -1
               && oracle_head_adaptive(u, s, &k, h, E1, F1, -0.25, 1, 1, 2)
                      == -1
               && oracle_head_adaptive(u, s, &k, h, E1, F1, NAN, 1, 1, 2)
                      == -1,
           "adaptive: alpha = 1.5, -0.25 and NaN are rejected");
}

/* ---- MLP head ---- */

static void test_mlp_tied(void)
{
    const double W1[9] = {0.5, -1, 0.25, 2, 0.1, -0.3, 1, 1, 1};
    const double b1[3] = {0.01, -0.2, 0.3};
    const double b2[4] = {0.5, 0, -1e-3, 7};
    double Wt[12], u[8], s[8], w[8], ws[8], k = 0, kw = 0;
    transpose(Wt, E, V4, D3);
    int rc = oracle_head_mlp(u, s, &k, H, W1, b1, NULL, E, b2, N2, V4, D3, 3);
    rc |= oracle_head_mlp(w, ws, &kw, H, W1, b1, Wt, NULL, b2, N2, V4, D3, 3);
    tap_ok(rc == 0 && k == 12.0 && kw == 12.0,
           "mlp: succeeds with K = d + m + 6");
    tap_ok(all_same_bits(u, w, 8) && all_same_bits(s, ws, 8),
           "mlp: the tied form equals the untied form with W2 = E^T");
    tap_ok(scales_cover(u, s, 8), "mlp: every scale >= |value|");
    const double W1_wide[8] = {1, 2, 3, 4, 5, 6, 7, 8}; /* d = 2, m = 4 */
    tap_ok(oracle_head_mlp(u, s, &k, H, W1_wide, NULL, NULL, E, NULL, 1, 4, 2,
                           4) == -1
               && oracle_head_mlp(u, s, &k, H, W1, NULL, NULL, NULL, NULL, 1,
                                  4, 3, 3) == -1,
           "mlp: tied with m != d, and neither W2 nor E, are rejected");
}

static void test_mlp_relu(void)
{
    /* a = h W1 = (0, 2, -2): h1 = (0, 2, 0); u = 2 * 3 + 0.5;
     * s^a = (2, 2, 2): s = 2 (5 + 3 + 7) + |2 * 3| + 0.5 */
    const double h[2] = {1, 1};
    const double W1[6] = {1, 1, -1, -1, 1, -1}; /* (2, 3) */
    const double W2[3] = {5, 3, 7};             /* (3, 1) */
    const double b2[1] = {0.5};
    double u[1], s[1], k = 0;
    int rc = oracle_head_mlp(u, s, &k, h, W1, NULL, W2, NULL, b2, 1, 1, 2, 3);
    tap_ok(rc == 0 && u[0] == 6.5 && k == 11.0,
           "mlp: ReLU at exactly 0 and below 0 gives 0: logit 6.5");
    tap_ok(s[0] == 36.5, "mlp: scale |W2| s^a + |h1 W2| + |b2| = 36.5");
    /* b1 = (-0, 0, -2): a = (0 + (-0), 2, -4), h1 = (0, 2, 0), u = 6;
     * s^a = (2, 2, 4): s = 2 * 5 + 2 * 3 + 4 * 7 + 6 */
    const double b1_zero[3] = {-0.0, 0, -2};
    rc = oracle_head_mlp(u, s, &k, h, W1, b1_zero, W2, NULL, NULL, 1, 1, 2,
                         3);
    tap_ok(rc == 0 && u[0] == 6.0 && s[0] == 50.0,
           "mlp: a pre-activation 0 + (-0) gives 0; |b1| enters s^a");
}

/* ---- mixture with fixed weights ---- */

/* The outputs of one mixture call with n V <= 8. */
typedef struct {
    double probs[8], probs_scale[8], logprobs[8], log_scale[8], k;
} mixture_out;

static int run_fixed(mixture_out *out, const double *h, const double *W,
                     const double *alpha, size_t n, size_t V, size_t d,
                     size_t K)
{
    return oracle_mos_fixed(out->probs, out->probs_scale, out->logprobs,
                            out->log_scale, &out->k, h, W, alpha, n, V, d, K);
}

/* 1 if two mixture results agree bit for bit in all four outputs. */
static int same_mixture(const mixture_out *a, const mixture_out *b,
                        size_t count)
{
    return all_same_bits(a->probs, b->probs, count)
           && all_same_bits(a->probs_scale, b->probs_scale, count)
           && all_same_bits(a->logprobs, b->logprobs, count)
           && all_same_bits(a->log_scale, b->log_scale, count);
}

/* 1 if all four outputs are finite and every scale covers its value. */
static int mixture_sane(const mixture_out *out, size_t count)
{
    return all_finite(out->probs_scale, count)
           && all_finite(out->logprobs, count)
           && scales_cover(out->probs, out->probs_scale, count)
           && scales_cover(out->logprobs, out->log_scale, count);
}

/* A dyadic head: n = 2, d = 2, V = 4, every logit an exact double. */
static const double DH[4] = {1, 0.5, -2, 0.25};
static const double DW[8] = {1, 0, -0.5, 2, 0.25, 3, 1, -1}; /* (2, 4) */

static void test_fixed_single(void)
{
    mixture_out out;
    const double one[1] = {1};
    double u[8], us[8], p[8], ps[8], lp[8], k = 0;
    int rc = run_fixed(&out, DH, DW, one, 2, 4, 2, 1);
    rc |= oracle_head_untied(u, us, &k, DH, DW, NULL, 2, 4, 2);
    rc |= oracle_softmax(p, ps, &k, u, 2, 4, 1.0);
    rc |= oracle_log_softmax(lp, ps, &k, u, 2, 4, 1.0);
    tap_ok(rc == 0 && out.k == 2.0, "mos_fixed: succeeds with K_tol = 2");
    tap_ok(all_same_bits(out.probs, p, 8),
           "mos_fixed: K = 1 equals softmax of head_untied's logits");
    tap_ok(all_same_bits(out.logprobs, lp, 8),
           "mos_fixed: K = 1 logprobs equal log_softmax of those logits");
    tap_ok(mixture_sane(&out, 8), "mos_fixed: every scale >= |value|");
}

static void test_fixed_weights(void)
{
    const double W2[16] = {1, 0, -0.5, 2, 0.25, 3, 1, -1,
                           0.5, 0.5, -1, 0, 2, -0.25, 0.75, 1};
    const double ones[2] = {1, 1}, halves[2] = {0.5, 0.5};
    mixture_out a, b;
    int rc = run_fixed(&a, DH, W2, ones, 2, 4, 2, 2);
    rc |= run_fixed(&b, DH, W2, halves, 2, 4, 2, 2);
    tap_ok(rc == 0 && same_mixture(&a, &b, 8),
           "mos_fixed: weights (1, 1) equal weights (0.5, 0.5), all outputs");
    tap_ok(mixture_sane(&a, 8), "mos_fixed: two components, scales cover");

    /* identical components: y = p whatever the (normalised) weights */
    const double W3[24] = {1, 0, -0.5, 2, 0.25, 3, 1, -1,
                           1, 0, -0.5, 2, 0.25, 3, 1, -1,
                           1, 0, -0.5, 2, 0.25, 3, 1, -1};
    const double decimal[3] = {0.1, 0.2, 0.7}, one[1] = {1};
    rc = run_fixed(&a, DH, W3, decimal, 2, 4, 2, 3);
    rc |= run_fixed(&b, DH, W3, one, 2, 4, 2, 1);
    tap_ok(rc == 0 && all_same_bits(a.probs, b.probs, 8),
           "mos_fixed: weights 0.1, 0.2, 0.7 are normalised (= K = 1)");

    /* zero components give uniform 1/4: any weights give 1/4 */
    const double zeros[24] = {0}; /* (3, 2, 4) */
    const double seven[3] = {1, 2, 7};
    const double quarter[4] = {0.25, 0.25, 0.25, 0.25};
    rc = run_fixed(&a, DH, zeros, seven, 1, 4, 2, 3);
    tap_ok(rc == 0 && all_same_bits(a.probs, quarter, 4),
           "mos_fixed: weights (1, 2, 7) over uniform components give 1/4");
}

static void test_fixed_by_hand(void)
{
    /* d = 1, h = 1: component 0 logits 0 (uniform 1/4), component 1 logits
     * (0, 0, -2000, -2000) (1/2, 1/2, ~0, ~0); weights (1, 3) -> (1/4, 3/4):
     * y = (7/16, 7/16, 1/16, 1/16) */
    const double h[1] = {1};
    const double W[8] = {0, 0, 0, 0, 0, 0, -2000, -2000};
    const double alpha[2] = {1, 3};
    mixture_out out;
    int rc = run_fixed(&out, h, W, alpha, 1, 4, 1, 2);
    tap_ok(rc == 0
               && all_same_bits(out.probs,
                                (const double[4]){0.4375, 0.4375, 0.0625,
                                                  0.0625}, 4),
           "mos_fixed: (1/4) uniform + (3/4) half-half by hand");
    tap_close_enough(out.logprobs[0], log(0.4375), 0x1p-52,
                     "mos_fixed: log y_0 = log(7/16)");
    tap_close_enough(out.logprobs[2], -4 * log(2.0), 0x1p-51,
                     "mos_fixed: log y_2 = log(1/16)");
    tap_ok(mixture_sane(&out, 4), "mos_fixed: hand case, scales cover");
    const double zero_weight[2] = {0, 1};
    rc = run_fixed(&out, h, W, zero_weight, 1, 4, 1, 2);
    tap_ok(rc == 0 && out.probs[0] == 0.5 && out.probs[2] == 0.0
               && out.logprobs[2] == -2000.0 - log(2.0),
           "mos_fixed: a zero weight drops its component");
}

static void test_fixed_underflow(void)
{
    const double h[1] = {1}, W1[2] = {0, -2000}, one[1] = {1};
    mixture_out out;
    int rc = run_fixed(&out, h, W1, one, 1, 2, 1, 1);
    tap_ok(rc == 0 && out.probs[0] == 1.0 && out.probs[1] == 0.0,
           "mos_fixed: logits (0, -2000): probabilities 1 and 0 (underflow)");
    tap_ok(out.logprobs[0] == 0.0 && out.logprobs[1] == -2000.0,
           "mos_fixed: their logprobs are 0 and -2000, finite");
    tap_ok(mixture_sane(&out, 2), "mos_fixed: underflow, scales finite");

    const double W2[4] = {0, -2000, 0, -3000}, ones[2] = {1, 1};
    rc = run_fixed(&out, h, W2, ones, 1, 2, 1, 2);
    tap_ok(rc == 0 && out.probs[1] == 0.0
               && same_bits(out.logprobs[1], -0x1.f42c5c85fdf47p+10),
           "mos_fixed: log(e^-2000/2 + e^-3000/2) = -2000 - ln 2 (mpmath)");

    /* e^(-10^10) underflows even in MPFR's exponent range: only the log
     * space keeps these finite */
    const double W_far[4] = {0, -1e10, 0, -2e10};
    rc = run_fixed(&out, h, W_far, ones, 1, 2, 1, 2);
    tap_ok(rc == 0 && out.probs[1] == 0.0
               && same_bits(out.logprobs[1], -0x1.2a05f20058b91p+33),
           "mos_fixed: log(e^-1e10/2 + e^-2e10/2) = -1e10 - ln 2 (mpmath)");
    tap_ok(mixture_sane(&out, 2), "mos_fixed: gap 1e10, scales finite");
}

static void test_fixed_scales(void)
{
    /* h = 0: logits 0 and Lambda = 0, so e = 0, e-bar = 0, y = 1/4:
     * s^p = y (|V| + 5); probs: s = s^p + (K + 3) y = 13/4;
     * logprobs: s / y + 2 |log y| + 2 = 15 + 4 ln 2 */
    const double h[2] = {0, 0}, one[1] = {1};
    mixture_out out;
    int rc = run_fixed(&out, h, DW, one, 1, 4, 2, 1);
    tap_ok(rc == 0 && out.probs_scale[0] == 3.25
               && same_bits(out.log_scale[0], 0x1.1c5c85fdf473ep+4),
           "mos_fixed: h = 0: scales 13/4 and 15 + 4 ln 2 (mpmath)");
}

static void test_fixed_errors(void)
{
    mixture_out out;
    const double negative[2] = {1, -0.5}, none[2] = {0, 0};
    const double with_nan[2] = {NAN, 1}, with_inf[2] = {INFINITY, 1};
    const double W2[16] = {0};
    tap_ok(run_fixed(&out, DH, W2, negative, 2, 4, 2, 2) == -1
               && run_fixed(&out, DH, W2, none, 2, 4, 2, 2) == -1
               && run_fixed(&out, DH, W2, with_nan, 2, 4, 2, 2) == -1
               && run_fixed(&out, DH, W2, with_inf, 2, 4, 2, 2) == -1
               && run_fixed(&out, DH, W2, none, 2, 4, 2, 0) == -1,
           "mos_fixed: negative, all-zero, NaN, infinite weights and K = 0 "
           "are rejected");
}

/* ---- mixture of Yang et al. ---- */

/* The inputs of one mos_gated call. */
typedef struct {
    const double *W_pi, *W_comp, *b_comp, *W_out, *E, *b_out;
} gated_in;

static int run_gated(mixture_out *out, const double *h, const gated_in *in,
                     size_t n, size_t V, size_t d, size_t K)
{
    return oracle_mos_gated(out->probs, out->probs_scale, out->logprobs,
                            out->log_scale, &out->k, h, in->W_pi, in->W_comp,
                            in->b_comp, in->W_out, in->E, in->b_out, n, V, d,
                            K);
}

static void test_gated_zero_projection(void)
{
    /* W_1 = 0, b_1 = 0: g = 0, logits = b_out */
    const double W_pi[2] = {0.5, -1}, zeros[4] = {0};
    const double W_out[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const double b_out[4] = {0.5, -1, 0, 2.25};
    gated_in in = {W_pi, zeros, zeros, W_out, NULL, b_out};
    mixture_out out;
    double p[8], lp[8], ps[8], k = 0;
    const double b_rows[8] = {0.5, -1, 0, 2.25, 0.5, -1, 0, 2.25};
    int rc = run_gated(&out, DH, &in, 2, 4, 2, 1);
    rc |= oracle_softmax(p, ps, &k, b_rows, 2, 4, 1.0);
    rc |= oracle_log_softmax(lp, ps, &k, b_rows, 2, 4, 1.0);
    tap_ok(rc == 0 && out.k == 2.0, "mos_gated: succeeds with K_tol = 2");
    tap_ok(all_same_bits(out.probs, p, 8)
               && all_same_bits(out.logprobs, lp, 8),
           "mos_gated: K = 1, g = tanh(0) = 0: softmax(b_out) exactly");
    tap_ok(mixture_sane(&out, 8), "mos_gated: every scale >= |value|");
}

static void test_gated_scales(void)
{
    /* h = 0, b_comp = 0, b_out = 0: pi = 1/2 with g^pi = K + 5 = 7; g = 0,
     * sigma = 0, Lambda = 0; p = 1/4 with f = |V| + 5 = 9; probs:
     * s = sum_k pi p (7 + 9) + (K + 1) y = 19/4; logprobs: s / y + 2 ln 4
     * + 2 = 21 + 4 ln 2 */
    const double h[2] = {0, 0}, W_pi[4] = {1, 2, 3, 4};
    const double W_comp[8] = {1, -1, 2, 0.5, 3, 0, -2, 1}, zeros[4] = {0};
    const double W_out[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    gated_in in = {W_pi, W_comp, zeros, W_out, NULL, NULL};
    mixture_out out;
    int rc = run_gated(&out, h, &in, 1, 4, 2, 2);
    tap_ok(rc == 0 && out.probs[0] == 0.25 && out.probs_scale[0] == 4.75
               && same_bits(out.log_scale[0], 0x1.7c5c85fdf473ep+4),
           "mos_gated: h = 0: probability 1/4, scales 19/4 and 21 + 4 ln 2 "
           "(mpmath)");
}

static void test_gated_single(void)
{
    /* d = 1, V = 2, K = 1: g = tanh(0.75), logits (g, 0.5 - g) */
    const double h[1] = {1}, W_pi[1] = {3}, W_1[1] = {0.5}, b_1[1] = {0.25};
    const double W_out[2] = {1, -1}, b_out[2] = {0, 0.5};
    gated_in in = {W_pi, W_1, b_1, W_out, NULL, b_out};
    mixture_out out;
    int rc = run_gated(&out, h, &in, 1, 2, 1, 1);
    tap_ok(rc == 0 && same_bits(out.probs[0], 0x1.5dfee59280c8cp-1)
               && same_bits(out.probs[1], 0x1.440234dafe6e7p-2),
           "mos_gated: K = 1 softmax(tanh(h W_1 + b_1) W_out + b_out) "
           "(mpmath)");
    tap_ok(same_bits(out.logprobs[1], -0x1.269462c69b1b7p+0),
           "mos_gated: its log-probability (mpmath)");
}

/* y of mos_gated for one row, in plain double arithmetic.
 * y: (V); h: (d); the rest as oracle_mos_gated with W_out given; K <= 4,
 * V <= 8, d <= 4 */
static void gated_in_double(double *y, const double *h, const gated_in *in,
                            size_t V, size_t d, size_t K)
{
    double gate[4], gate_sum = 0, g[4], u[8];
    for (size_t k = 0; k < K; k++) {
        gate[k] = 0;
        for (size_t j = 0; j < d; j++)
            gate[k] += h[j] * in->W_pi[j * K + k];
        gate[k] = exp(gate[k]);
        gate_sum += gate[k];
    }
    for (size_t v = 0; v < V; v++)
        y[v] = 0;
    for (size_t k = 0; k < K; k++) {
        for (size_t j = 0; j < d; j++) {
            double a = in->b_comp[k * d + j];
            for (size_t i = 0; i < d; i++)
                a += h[i] * in->W_comp[k * d * d + i * d + j];
            g[j] = tanh(a);
        }
        double sum = 0;
        for (size_t v = 0; v < V; v++) {
            u[v] = in->b_out != NULL ? in->b_out[v] : 0;
            for (size_t j = 0; j < d; j++)
                u[v] += g[j] * in->W_out[j * V + v];
            u[v] = exp(u[v]);
            sum += u[v];
        }
        for (size_t v = 0; v < V; v++)
            y[v] += gate[k] / gate_sum * u[v] / sum;
    }
}

static void test_gated_mixing(void)
{
    const double W_pi[4] = {0.5, -1, 0.25, 2};                 /* (2, 2) */
    const double W_comp[8] = {1, -0.5, 0.3, 2, -1, 0.1, 0.7, 0.2};
    const double b_comp[4] = {0.1, 0, -0.3, 0.05};
    const double W_out[8] = {1, -2, 0.5, 0, 3, 0.25, -1, 1};   /* (2, 4) */
    const double b_out[4] = {0, 0.1, -0.2, 0.3};
    gated_in in = {W_pi, W_comp, b_comp, W_out, NULL, b_out};
    mixture_out out;
    int rc = run_gated(&out, DH, &in, 2, 4, 2, 2);
    double y[4];
    int close = rc == 0;
    for (size_t t = 0; t < 2; t++) {
        gated_in_double(y, DH + 2 * t, &in, 4, 2, 2);
        for (size_t v = 0; v < 4; v++)
            close &= fabs(out.probs[t * 4 + v] - y[v]) <= 1e-14
                     && fabs(out.logprobs[t * 4 + v] - log(y[v])) <= 1e-13;
    }
    tap_ok(close, "mos_gated: K = 2 matches a double evaluation (1e-14)");
    tap_ok(mixture_sane(&out, 8), "mos_gated: K = 2, scales cover");

    double Et[8]; /* E = W_out^T: (4, 2) */
    for (size_t v = 0; v < 4; v++)
        for (size_t j = 0; j < 2; j++)
            Et[v * 2 + j] = W_out[j * 4 + v];
    gated_in tied = {W_pi, W_comp, b_comp, NULL, Et, b_out};
    mixture_out out_tied;
    rc = run_gated(&out_tied, DH, &tied, 2, 4, 2, 2);
    tap_ok(rc == 0 && same_mixture(&out, &out_tied, 8),
           "mos_gated: tied (W_out = E^T) equals untied, all outputs");

    /* W_pi = 0: pi = (1/2, 1/2); equal components: y = p of one */
    const double zero_pi[4] = {0}, same_comp[8] = {1, -0.5, 0.3, 2,
                                                   1, -0.5, 0.3, 2};
    const double same_b[4] = {0.1, 0, 0.1, 0};
    gated_in equal = {zero_pi, same_comp, same_b, W_out, NULL, b_out};
    mixture_out a, b;
    rc = run_gated(&a, DH, &equal, 2, 4, 2, 2);
    rc |= run_gated(&b, DH, &equal, 2, 4, 2, 1); /* reads component 0 */
    int logs_close = 1;
    for (size_t i = 0; i < 8; i++)
        logs_close &= fabs(a.logprobs[i] - b.logprobs[i])
                      <= 0x1p-52 * fabs(b.logprobs[i]);
    tap_ok(rc == 0 && all_same_bits(a.probs, b.probs, 8) && logs_close,
           "mos_gated: gate 1/2, 1/2 over equal components = one component");
}

static void test_gated_errors(void)
{
    const double W_pi[2] = {0, 0}, zeros[8] = {0}, W_out[8] = {0};
    const double bad[8] = {0, 0, NAN, 0, 0, 0, 0, 0};
    mixture_out out;
    gated_in no_out = {W_pi, zeros, zeros, NULL, NULL, NULL};
    gated_in no_bias = {W_pi, zeros, NULL, W_out, NULL, NULL};
    gated_in nan_out = {W_pi, zeros, zeros, bad, NULL, NULL};
    gated_in fine = {W_pi, zeros, zeros, W_out, NULL, NULL};
    tap_ok(run_gated(&out, DH, &no_out, 2, 4, 2, 1) == -1
               && run_gated(&out, DH, &no_bias, 2, 4, 2, 1) == -1
               && run_gated(&out, DH, &nan_out, 2, 4, 2, 1) == -1
               && run_gated(&out, DH, &fine, 2, 4, 2, 0) == -1
               && run_gated(&out, DH, &fine, 2, 0, 2, 1) == -1,
           "mos_gated: no W_out nor E, no b_comp, NaN in W_out, K = 0 and "
           "|V| = 0 are rejected");
}

/* ---- soft-tying regulariser ---- */

/* The outputs of one soft_tie_loss call. */
typedef struct {
    double loss, loss_scale, ce, ce_scale, penalty, penalty_scale, k;
} soft_tie_out;

static int run_soft_tie(soft_tie_out *out, const double *h, const double *E_,
                        const double *W, const int64_t *targets, size_t n,
                        size_t V, size_t d, double lambda,
                        enum oracle_reduction reduction)
{
    return oracle_soft_tie_loss(&out->loss, &out->loss_scale, &out->ce,
                                &out->ce_scale, &out->penalty,
                                &out->penalty_scale, &out->k, h, E_, W,
                                targets, n, V, d, lambda, reduction, -100);
}

/* 1 if every scale covers its value. */
static int soft_tie_sane(const soft_tie_out *out)
{
    const double value[3] = {out->loss, out->ce, out->penalty};
    const double scale[3] = {out->loss_scale, out->ce_scale,
                             out->penalty_scale};
    return scales_cover(value, scale, 3);
}

/* E (3, 2) and W (2, 3) with E - W^T = (0, -1/4; -1/2, 0; 1/2, -2):
 * P = 1/16 + 1/4 + 1/4 + 4 = 4.5625 */
static const double SE[6] = {1, 2, 3, 4, 0.5, -1};
static const double SW[6] = {1, 3.5, 0, 2.25, 4, 1};
static const int64_t ST[3] = {0, -100, 2};

static void test_soft_tie_tied(void)
{
    double Wt[6], u[9], us[9], ce, ce_s, k = 0;
    const double h[6] = {1, 0.5, -2, 0.25, 0.5, 3};
    transpose(Wt, SE, 3, 2);
    soft_tie_out out;
    int rc = run_soft_tie(&out, h, SE, Wt, ST, 3, 3, 2, 0.75,
                          ORACLE_REDUCE_MEAN);
    rc |= oracle_head_tied(u, us, &k, h, SE, 3, 3, 2);
    rc |= oracle_cross_entropy(&ce, &ce_s, &k, u, ST, 3, 3,
                               ORACLE_REDUCE_MEAN, -100);
    tap_ok(rc == 0 && out.k == 2.0, "soft_tie: succeeds with K = 2");
    tap_ok(out.penalty == 0.0 && out.penalty_scale == 0.0,
           "soft_tie: W = E^T gives penalty exactly 0 (scale 0)");
    tap_ok(same_bits(out.ce, ce) && same_bits(out.loss, ce),
           "soft_tie: W = E^T: CE and loss = cross_entropy of head_tied");
    tap_ok(out.ce_scale > ce_s && soft_tie_sane(&out),
           "soft_tie: its CE scale exceeds the given-logit one (Lambda > 0)");

    rc = run_soft_tie(&out, h, SE, SW, ST, 3, 3, 2, 0.0, ORACLE_REDUCE_SUM);
    double w_u[9], w_us[9];
    rc |= oracle_head_untied(w_u, w_us, &k, h, SW, NULL, 3, 3, 2);
    rc |= oracle_cross_entropy(&ce, &ce_s, &k, w_u, ST, 3, 3,
                               ORACLE_REDUCE_SUM, -100);
    tap_ok(rc == 0 && same_bits(out.ce, ce) && same_bits(out.loss, ce)
               && out.penalty == 4.5625,
           "soft_tie: lambda = 0 gives loss = CE (sum), penalty unchanged");
}

static void test_soft_tie_by_hand(void)
{
    /* h = 0: every logit 0 and Lambda = 0, loss ln 3 per counted position
     * (n = 3, m = 2, L = 2 ln 3); s_t = 0 + 0 + 3 + 2 + ln 3 + 2 ln 3, so
     * s_CE = (2 s_t + 4 L)/2 + L/2 = 5 + 8 ln 3 and
     * s = s_CE + 0.5 * 22.8125 + 0.5 * 4.5625 + (ln 3 + 2.28125) */
    const double h[6] = {0};
    soft_tie_out out;
    int rc = run_soft_tie(&out, h, SE, SW, ST, 3, 3, 2, 0.5,
                          ORACLE_REDUCE_MEAN);
    tap_ok(rc == 0 && out.penalty == 4.5625,
           "soft_tie: penalty sum (E - W^T)^2 = 4.5625 by hand (no 1/2)");
    tap_ok(out.penalty_scale == 22.8125,
           "soft_tie: penalty scale (|V| d + 4) P / 2 = 22.8125");
    tap_ok(same_bits(out.ce, 0x1.193ea7aad030bp+0)
               && same_bits(out.ce_scale, 0x1.b93ea7aad030bp+3),
           "soft_tie: CE mean = ln 3, scale 5 + 8 ln 3 (mpmath)");
    tap_ok(same_bits(out.loss, 0x1.b09f53d568185p+1)
               && same_bits(out.loss_scale, 0x1.edb33e50151b6p+4),
           "soft_tie: loss ln 3 + 0.5 P, scale s_CE + l s_P + l P + L "
           "(mpmath)");
    rc = run_soft_tie(&out, h, SE, SW, ST, 3, 3, 2, 0.5, ORACLE_REDUCE_SUM);
    tap_close_enough(out.ce, 2 * log(3.0), 0x1p-51,
                     "soft_tie: CE sum over the counted = 2 ln 3");
    const int64_t ignored[3] = {-100, -100, -100};
    rc = run_soft_tie(&out, h, SE, SW, ignored, 3, 3, 2, 0.5,
                      ORACLE_REDUCE_MEAN);
    tap_ok(rc == 0 && isnan(out.ce) && isnan(out.loss) && out.ce_scale == 0.0
               && out.loss_scale == 0.0 && out.penalty == 4.5625,
           "soft_tie: mean over no target: CE and loss NaN, penalty kept");
    rc = run_soft_tie(&out, NULL, SE, SW, NULL, 0, 3, 2, 0.5,
                      ORACLE_REDUCE_SUM);
    tap_ok(rc == 0 && out.ce == 0.0 && out.loss == 2.28125,
           "soft_tie: n = 0 with sum: CE 0, loss = lambda P");
}

static void test_soft_tie_errors(void)
{
    const double h[6] = {0};
    const int64_t past_end[3] = {0, 3, 1};
    soft_tie_out out;
    tap_ok(run_soft_tie(&out, h, SE, SW, ST, 3, 3, 2, -1,
                        ORACLE_REDUCE_MEAN) == -1
               && run_soft_tie(&out, h, SE, SW, ST, 3, 3, 2, INFINITY,
                               ORACLE_REDUCE_MEAN) == -1
               && run_soft_tie(&out, h, SE, SW, ST, 3, 3, 2, NAN,
                               ORACLE_REDUCE_MEAN) == -1,
           "soft_tie: lambda < 0, infinite or NaN is rejected");
    tap_ok(run_soft_tie(&out, h, SE, SW, ST, 3, 3, 2, 1,
                        ORACLE_REDUCE_NONE) == -1
               && run_soft_tie(&out, h, SE, SW, past_end, 3, 3, 2, 1,
                               ORACLE_REDUCE_MEAN) == -1
               && oracle_soft_tie_loss(&out.loss, &out.loss_scale, &out.ce,
                                       &out.ce_scale, &out.penalty,
                                       &out.penalty_scale, &out.k, h, SE, SW,
                                       ST, 3, 3, 2, 1, ORACLE_REDUCE_MEAN, 1)
                      == -1,
           "soft_tie: reduction none, a target past |V| and an "
           "ignore_index inside [0, |V|) are rejected");
}

int main(void)
{
    test_partial_ends();
    test_partial_by_hand();
    test_partial_errors();
    test_transformed();
    test_adaptive();
    test_mlp_tied();
    test_mlp_relu();
    test_fixed_single();
    test_fixed_weights();
    test_fixed_by_hand();
    test_fixed_underflow();
    test_fixed_scales();
    test_fixed_errors();
    test_gated_zero_projection();
    test_gated_scales();
    test_gated_single();
    test_gated_mixing();
    test_gated_errors();
    test_soft_tie_tied();
    test_soft_tie_by_hand();
    test_soft_tie_errors();
    mpfr_free_cache();
    tap_done();
    return tap_exit_status();
}
