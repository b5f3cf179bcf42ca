/*
 * oracle_head_selfcheck.c -- TAP self-test of the output-side MPFR oracle
 * (tools/oracle/oracle_head.h).
 *
 * Every expected value here is derived without the oracle: closed forms
 * (equal logits give 1/M, sums of ln 2), identities (shift and temperature
 * invariance, log-softmax = log softmax, the tied head = the untied head with
 * W = E^T, the lens = head + softmax), exact small cases worked by hand
 * (dyadic probabilities, integer parameter counts), or constants computed
 * separately with Python's mpmath at 3000 bits and written as hexadecimal
 * doubles (nearest for values, rounded upward for scales).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mpfr.h>

#include "oracle_head.h"
#include "tap.h"

enum { FP64, FP32, BF16, FP16 };
#define ALL_CLASSES 0xFu

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

/* 1 if choice holds exactly the values want[0 .. count). want: (count) */
static int choice_is(const oracle_choices *choice, const int64_t *want,
                     size_t count)
{
    if (choice->count != count)
        return 0;
    for (size_t i = 0; i < count; i++)
        if (choice->values[i] != want[i])
            return 0;
    return 1;
}

/* 1 if, for row t, every class holds only the expected token.
 * choices: (rows * ORACLE_CLASS_COUNT) */
static int single_in_every_class(const oracle_choices *choices, size_t t,
                                 int64_t expected)
{
    for (size_t c = 0; c < ORACLE_CLASS_COUNT; c++)
        if (!choice_is(&choices[t * ORACLE_CLASS_COUNT + c], &expected, 1))
            return 0;
    return 1;
}

/* 1 if scale is up: the exact scale rounded upward, computed with mpmath. */
static int upward_is(double scale, double up)
{
    return same_bits(scale, up);
}

/* ---- softmax ---- */

static void test_softmax_closed_forms(void)
{
    double p[4], s[4], k = 0;
    const double equal[4] = {3, 3, 3, 3};
    int rc = oracle_softmax(p, s, &k, equal, 1, 4, 1.0);
    tap_ok(rc == 0 && k == 2.0, "softmax: succeeds with K = 2");
    tap_ok(all_same_bits(p, (const double[4]){0.25, 0.25, 0.25, 0.25}, 4),
           "softmax: four equal logits give exactly 1/4");
    /* every entry is maximal, so e = 0 and e-bar = 0: s = (0 + 0 + 4 + 5)/4 */
    tap_ok(all_same_bits(s, (const double[4]){2.25, 2.25, 2.25, 2.25}, 4),
           "softmax: scale of equal logits is y (0 + 0 + |V| + 5) = 2.25");

    const double three[3] = {0, 0, 0};
    rc = oracle_softmax(p, s, &k, three, 1, 3, 1.0);
    tap_ok(rc == 0 && p[0] == 1.0 / 3.0 && p[1] == p[0] && p[2] == p[0],
           "softmax: three equal logits give 1/3 rounded once");

    const double zero_one[2] = {0, 1};
    rc = oracle_softmax(p, s, &k, zero_one, 1, 2, 1.0);
    tap_ok(rc == 0 && same_bits(p[0], 0x1.136561454ba86p-2)
               && same_bits(p[1], 0x1.764d4f5d5a2bdp-1),
           "softmax: [0, 1] gives 1/(1+e), e/(1+e) (mpmath)");
    /* e_0 = 3 + 1 = 4, e_1 = 0 (maximal): s_0 = y_0 (11 + 4 y_0),
     * s_1 = y_1 (7 + 4 y_0) */
    tap_ok(upward_is(s[0], 0x1.9fb3c4a360cd7p+1)
               && upward_is(s[1], 0x1.79d8ce50f56d8p+2),
           "softmax: scales of [0, 1] rounded upward (mpmath)");

    const double masked[4] = {-INFINITY, 0, 0, -INFINITY};
    rc = oracle_softmax(p, s, &k, masked, 1, 4, 1.0);
    tap_ok(rc == 0 && all_same_bits(p, (const double[4]){0, 0.5, 0.5, 0}, 4),
           "softmax: masked entries are exactly 0, the rest share 1");
    /* e = 0, e-bar = 0, |V| = 4: s = 0.5 * 9 */
    tap_ok(all_same_bits(s, (const double[4]){0, 4.5, 4.5, 0}, 4),
           "softmax: masked entries have scale 0; |V| counts the masked");

    const double one_left[3] = {-INFINITY, -7.5, -INFINITY};
    rc = oracle_softmax(p, s, &k, one_left, 1, 3, 1.0);
    tap_ok(rc == 0 && all_same_bits(p, (const double[3]){0, 1, 0}, 3),
           "softmax: a single unmasked entry has probability 1");
}

static void test_softmax_invariance(void)
{
    double p[4], q[4], s[4], t[4], k = 0;
    const double u[4] = {1.5, 0.25, -3, -INFINITY};
    const double shifted[4] = {65.5, 64.25, 61, -INFINITY};
    oracle_softmax(p, s, &k, u, 1, 4, 1.0);
    oracle_softmax(q, t, &k, shifted, 1, 4, 1.0);
    tap_ok(all_same_bits(p, q, 4),
           "softmax: adding 64 to every logit changes no output bit");

    /* 2^996 ~ 6.7e299 with tau = 2^944: z = 0, -1, -2 exactly */
    const double big = 0x1p996, step = 0x1p944;
    const double near_top[3] = {big, big - step, big - 2 * step};
    const double near_bottom[3] = {-big + 2 * step, -big + step, -big};
    const double small[3] = {0, -1, -2};
    double r[3], v[3], w[3];
    int rc = oracle_softmax(p, s, &k, near_top, 1, 3, step);
    rc |= oracle_softmax(r, t, &k, near_bottom, 1, 3, step);
    rc |= oracle_softmax(v, w, &k, small, 1, 3, 1.0);
    tap_ok(rc == 0 && all_same_bits(p, v, 3) && all_same_bits(r, v, 3),
           "softmax: logits near +1e300 and -1e300 equal softmax([0,-1,-2])");
    tap_ok(p[0] > p[1] && p[1] > p[2] && p[2] > 0,
           "softmax: ... and are finite, ordered and non-zero (no overflow)");

    const double hot[3] = {2, 1, -0.5}, scaled[3] = {4, 2, -1};
    oracle_softmax(p, s, &k, hot, 1, 3, 0.5);
    oracle_softmax(r, t, &k, scaled, 1, 3, 1.0);
    tap_ok(all_same_bits(p, r, 3) && all_same_bits(s, t, 3),
           "softmax: tau = 0.5 on u equals tau = 1 on 2u, values and scales");

    const double near_ties[3] = {1, 1, 0.5};
    rc = oracle_softmax(p, s, &k, near_ties, 1, 3, 1e-300);
    tap_ok(rc == 0 && all_same_bits(p, (const double[3]){0.5, 0.5, 0}, 3),
           "softmax: tau = 1e-300 gives the uniform distribution on the max");
    const double apart[2] = {1, 0};
    rc = oracle_softmax(p, s, &k, apart, 1, 2, 1e300);
    tap_ok(rc == 0 && p[0] == 0.5 && p[1] == 0.5,
           "softmax: tau = 1e300 gives the uniform distribution");
}

static void test_softmax_errors(void)
{
    double p[3], s[3], k = 0;
    const double ok[3] = {0, 1, 2};
    const double plus_inf[3] = {0, INFINITY, 2};
    const double nan_row[3] = {0, NAN, 2};
    const double all_masked[3] = {-INFINITY, -INFINITY, -INFINITY};
    tap_ok(oracle_softmax(p, s, &k, plus_inf, 1, 3, 1.0) == -1
               && oracle_softmax(p, s, &k, nan_row, 1, 3, 1.0) == -1
               && oracle_log_softmax(p, s, &k, plus_inf, 1, 3, 1.0) == -1,
           "softmax: +inf and NaN logits are rejected");
    tap_ok(oracle_softmax(p, s, &k, all_masked, 1, 3, 1.0) == -1
               && oracle_log_softmax(p, s, &k, all_masked, 1, 3, 1.0) == -1,
           "softmax: a row of only -inf is rejected");
    tap_ok(oracle_softmax(p, s, &k, ok, 1, 3, 0.0) == -1
               && oracle_softmax(p, s, &k, ok, 1, 3, -1.0) == -1
               && oracle_softmax(p, s, &k, ok, 1, 3, NAN) == -1
               && oracle_softmax(p, s, &k, ok, 1, 3, INFINITY) == -1,
           "softmax: tau 0, -1, NaN, +inf are rejected");
    tap_ok(oracle_softmax(p, s, &k, ok, 1, 0, 1.0) == -1,
           "softmax: |V| = 0 is rejected");
    tap_ok(oracle_softmax(p, s, &k, ok, 0, 3, 1.0) == 0,
           "softmax: n = 0 is an empty success");
}

/* ---- log-softmax ---- */

static void test_log_softmax(void)
{
    double lp[5], s[5], p[5], ps[5], k = 0;
    const double equal[4] = {3, 3, 3, 3};
    int rc = oracle_log_softmax(lp, s, &k, equal, 1, 4, 1.0);
    tap_ok(rc == 0 && k == 2.0, "log_softmax: succeeds with K = 2");
    int minus_ln4 = 1;
    for (size_t i = 0; i < 4; i++)
        minus_ln4 &= same_bits(lp[i], -0x1.62e42fefa39efp+0);
    tap_ok(minus_ln4, "log_softmax: four equal logits give -ln 4");
    /* e = 0 (maximal), e-bar = 0, |V| = 4: 4 + 2 + ln 4 + 2 ln 4 */
    tap_ok(upward_is(s[0], 0x1.451591f9dd5bap+3),
           "log_softmax: scale 6 + 3 ln 4 rounded upward (mpmath)");

    const double zero_one[2] = {0, 1};
    rc = oracle_log_softmax(lp, s, &k, zero_one, 1, 2, 1.0);
    tap_ok(rc == 0 && same_bits(lp[0], -0x1.5031eafefb049p+0)
               && same_bits(lp[1], -0x1.40c7abfbec124p-2),
           "log_softmax: [0, 1] gives -ln(1+e), 1 - ln(1+e) (mpmath)");

    const double masked[3] = {-INFINITY, 0, 0};
    rc = oracle_log_softmax(lp, s, &k, masked, 1, 3, 1.0);
    tap_ok(rc == 0 && lp[0] == -INFINITY && s[0] == 0.0
               && same_bits(lp[1], -0x1.62e42fefa39efp-1),
           "log_softmax: masked gives -inf with scale 0, the others -ln 2");

    const double far[2] = {0, -1e300};
    rc = oracle_log_softmax(lp, s, &k, far, 1, 2, 1.0);
    tap_ok(rc == 0 && lp[0] == 0.0 && lp[1] == -1e300,
           "log_softmax: [0, -1e300] gives [0, -1e300], not log(0) = -inf");

    const double u[5] = {0.3, -1.7, 2.25, 0.0, -0.5};
    oracle_log_softmax(lp, s, &k, u, 1, 5, 0.7);
    oracle_softmax(p, ps, &k, u, 1, 5, 0.7);
    int agrees = 1;
    for (size_t i = 0; i < 5; i++)
        agrees &= fabs(lp[i] - log(p[i])) <= 4 * 0x1p-52 * fabs(lp[i]);
    tap_ok(agrees, "log_softmax: equals log(softmax) within 4 ulps, tau 0.7");
}

/* ---- cross-entropy ---- */

/* (3, 4): row 0 equal (loss ln 4), row 1 ignored, row 2 two masked (ln 2) */
static const double CE_LOGITS[12] = {
    1, 1, 1, 1,
    5, -2, 0.5, 7,
    0, 0, -INFINITY, -INFINITY,
};
static const int64_t CE_TARGETS[3] = {2, -100, 1};

static void test_cross_entropy_values(void)
{
    double loss[3], s[3], k = 0;
    int rc = oracle_cross_entropy(loss, s, &k, CE_LOGITS, CE_TARGETS, 3, 4,
                                  ORACLE_REDUCE_NONE, -100);
    tap_ok(rc == 0 && k == 2.0, "cross_entropy: succeeds with K = 2");
    tap_ok(same_bits(loss[0], 0x1.62e42fefa39efp+0) && same_bits(loss[1], 0.0)
               && same_bits(loss[2], 0x1.62e42fefa39efp-1),
           "cross_entropy none: ln 4, 0 (ignored), ln 2");
    tap_ok(upward_is(s[0], 0x1.451591f9dd5bap+3) && s[1] == 0.0
               && upward_is(s[2], 0x1.028ac8fceeaddp+3),
           "cross_entropy none: scales 6 + 3 ln 4, 0, 6 + 3 ln 2 (upward)");

    double total, total_scale;
    rc = oracle_cross_entropy(&total, &total_scale, &k, CE_LOGITS, CE_TARGETS,
                              3, 4, ORACLE_REDUCE_SUM, -100);
    tap_ok(rc == 0 && same_bits(total, 0x1.0a2b23f3bab73p+1),
           "cross_entropy sum: 3 ln 2");
    tap_ok(upward_is(total_scale, 0x1.a8e5bf7543605p+4),
           "cross_entropy sum: scale sum s_t + (n+1) L = 12 + 21 ln 2");
    rc = oracle_cross_entropy(&total, &total_scale, &k, CE_LOGITS, CE_TARGETS,
                              3, 4, ORACLE_REDUCE_MEAN, -100);
    tap_ok(rc == 0 && same_bits(total, 0x1.0a2b23f3bab73p+0),
           "cross_entropy mean: 1.5 ln 2, divided by the 2 counted, not n");
    tap_ok(upward_is(total_scale, 0x1.ca2b23f3bab74p+3),
           "cross_entropy mean: scale (12 + 21 ln 2)/2 + 1.5 ln 2");
}

static void test_cross_entropy_edges(void)
{
    double loss[3], s[3], total, total_scale, k = 0;
    const int64_t none_counted[3] = {-100, -100, -100};
    int rc = oracle_cross_entropy(&total, &total_scale, &k, CE_LOGITS,
                                  none_counted, 3, 4, ORACLE_REDUCE_SUM, -100);
    tap_ok(rc == 0 && same_bits(total, 0.0) && total_scale == 0.0,
           "cross_entropy: every target ignored, sum is 0");
    rc = oracle_cross_entropy(&total, &total_scale, &k, CE_LOGITS,
                              none_counted, 3, 4, ORACLE_REDUCE_MEAN, -100);
    tap_ok(rc == 0 && isnan(total) && total_scale == 0.0,
           "cross_entropy: every target ignored, mean is NaN with scale 0");
    rc = oracle_cross_entropy(loss, s, &k, CE_LOGITS, none_counted, 3, 4,
                              ORACLE_REDUCE_NONE, -100);
    tap_ok(rc == 0 && all_same_bits(loss, (const double[3]){0, 0, 0}, 3),
           "cross_entropy: every target ignored, none gives zeros");
    rc = oracle_cross_entropy(&total, &total_scale, &k, CE_LOGITS, NULL, 0, 4,
                              ORACLE_REDUCE_MEAN, -100);
    tap_ok(rc == 0 && isnan(total), "cross_entropy: n = 0, mean is NaN");
    rc = oracle_cross_entropy(&total, &total_scale, &k, CE_LOGITS, NULL, 0, 4,
                              ORACLE_REDUCE_SUM, -100);
    tap_ok(rc == 0 && total == 0.0, "cross_entropy: n = 0, sum is 0");

    const int64_t masked_target[3] = {2, -100, 2}; /* row 2, column 2: -inf */
    rc = oracle_cross_entropy(loss, s, &k, CE_LOGITS, masked_target, 3, 4,
                              ORACLE_REDUCE_NONE, -100);
    tap_ok(rc == 0 && loss[2] == INFINITY && s[2] == 0.0,
           "cross_entropy: a masked target has loss +inf with scale 0");
    rc = oracle_cross_entropy(&total, &total_scale, &k, CE_LOGITS,
                              masked_target, 3, 4, ORACLE_REDUCE_MEAN, -100);
    tap_ok(rc == 0 && total == INFINITY && total_scale == 0.0,
           "cross_entropy: ... and the mean is +inf");

    const int64_t seven_ignored[3] = {2, 7, 1};
    rc = oracle_cross_entropy(loss, s, &k, CE_LOGITS, seven_ignored, 3, 4,
                              ORACLE_REDUCE_NONE, 7);
    tap_ok(rc == 0 && loss[1] == 0.0,
           "cross_entropy: ignore_index 7 >= |V| works");
    const int64_t past_end[3] = {2, -100, 4}, negative[3] = {2, -1, 1};
    tap_ok(oracle_cross_entropy(loss, s, &k, CE_LOGITS, CE_TARGETS, 3, 4,
                                ORACLE_REDUCE_NONE, 2) == -1,
           "cross_entropy: an ignore_index inside [0, |V|) is rejected");
    tap_ok(oracle_cross_entropy(loss, s, &k, CE_LOGITS, past_end, 3, 4,
                                ORACLE_REDUCE_NONE, -100) == -1
               && oracle_cross_entropy(loss, s, &k, CE_LOGITS, negative, 3, 4,
                                       ORACLE_REDUCE_NONE, -100) == -1,
           "cross_entropy: targets |V| and -1 are rejected");
}

/* ---- heads ---- */

static void test_head_tied(void)
{
    const double h[4] = {1, 2, 0.5, -1};
    const double E[6] = {1, 0, 0, 1, 1, 1};
    double u[6], s[6], k = 0;
    int rc = oracle_head_tied(u, s, &k, h, E, 2, 3, 2);
    tap_ok(rc == 0 && k == 4.0, "head_tied: succeeds with K = d + 2");
    tap_ok(all_same_bits(u, (const double[6]){1, 2, 3, 0.5, -1, -0.5}, 6),
           "head_tied: u[t, v] = h[t] . E[v] by hand");
    tap_ok(all_same_bits(s, (const double[6]){1, 2, 3, 0.5, 1, 1.5}, 6),
           "head_tied: scale sum_j |h_j E[v, j]|");

    const double tiny_terms[3] = {1, 0x1p-53, 0x1p-105};
    const double ones[3] = {1, 1, 1};
    rc = oracle_head_tied(u, s, &k, tiny_terms, ones, 1, 1, 3);
    tap_ok(rc == 0 && same_bits(u[0], 0x1.0000000000001p+0),
           "head_tied: 1 + 2^-53 + 2^-105 is rounded once, to 1 + 2^-52");
    const double cancel[3] = {1e300, 1, -1e300};
    rc = oracle_head_tied(u, s, &k, cancel, ones, 1, 1, 3);
    tap_ok(rc == 0 && u[0] == 1.0,
           "head_tied: 1e300 + 1 - 1e300 is exactly 1");
    tap_ok(same_bits(s[0], nextafter(2e300, INFINITY)),
           "head_tied: its scale 2e300 + 1 is rounded upward");

    const double with_nan[6] = {1, 0, 0, NAN, 1, 1};
    tap_ok(oracle_head_tied(u, s, &k, h, with_nan, 2, 3, 2) == -1
               && oracle_head_tied(u, s, &k, h, E, 2, 3, 0) == -1
               && oracle_head_tied(u, s, &k, h, E, 2, 0, 2) == -1,
           "head_tied: a NaN in E, d = 0 and |V| = 0 are rejected");
}

static void test_head_untied(void)
{
    const double h[6] = {0.1, -2.5, 3, 7e-3, 1e5, -0.3};
    const double E[12] = {0.2, 0.3, -1.1, 4, 5e-4, 0.6,
                          -7, 0.125, 9.75, 0.01, -0.02, 1};
    double Wt[12]; /* E^T: (3, 4) */
    for (size_t v = 0; v < 4; v++)
        for (size_t j = 0; j < 3; j++)
            Wt[j * 4 + v] = E[v * 3 + j];
    double u[8], s[8], w[8], ws[8], k = 0, kw = 0;
    int rc = oracle_head_tied(u, s, &k, h, E, 2, 4, 3);
    rc |= oracle_head_untied(w, ws, &kw, h, Wt, NULL, 2, 4, 3);
    tap_ok(rc == 0 && kw == 6.0, "head_untied: succeeds with K = d + 3");
    tap_ok(all_same_bits(u, w, 8) && all_same_bits(s, ws, 8),
           "head_untied: W = E^T, no b, equals head_tied (values, scales)");

    const double hb[2] = {1, 2};
    const double W[6] = {1, 0, -1, 0.5, 0.5, 0.5}; /* (2, 3) */
    const double b[3] = {0.25, -4, 0};
    rc = oracle_head_untied(w, ws, &kw, hb, W, b, 1, 3, 2);
    tap_ok(rc == 0 && all_same_bits(w, (const double[3]){2.25, -3, 0}, 3),
           "head_untied: h W + b by hand (W is d x |V|)");
    tap_ok(all_same_bits(ws, (const double[3]){2.25, 5, 2}, 3),
           "head_untied: scale sum |h_j W[j, v]| + |b[v]|");
    const double b_inf[3] = {0, INFINITY, 0};
    tap_ok(oracle_head_untied(w, ws, &kw, hb, W, b_inf, 1, 3, 2) == -1,
           "head_untied: a non-finite bias is rejected");
}

/* ---- parameter counts ---- */

static void test_param_count(void)
{
    int64_t untied = 0, tied = 0, saving = 0;
    double relative = 0, scale = 0, k = 0;
    int rc = oracle_param_count(&untied, &tied, &saving, &relative, &scale,
                                &k, 50257, 768, 85842432);
    tap_ok(rc == 0 && untied == 163037184 && tied == 124439808
               && saving == 38597376,
           "param_count: GPT-2 small 163 037 184 / 124 439 808 / 38 597 376");
    tap_ok(same_bits(relative, 38597376.0 / 163037184.0) && k == 3.0
               && same_bits(scale, relative),
           "param_count: relative = saving/untied rounded once, s=|g|, K=3");
    rc = oracle_param_count(&untied, &tied, &saving, &relative, &scale, &k, 3,
                            5, 0);
    tap_ok(rc == 0 && relative == 0.5 && untied == 30 && tied == 15,
           "param_count: B = 0 gives exactly 1/2");

    const int64_t two30 = (int64_t)1 << 30, two31 = (int64_t)1 << 31;
    const int64_t room = INT64_MAX - ((int64_t)1 << 62); /* B that just fits */
    tap_ok(oracle_param_count(&untied, &tied, &saving, &relative, &scale, &k,
                              (int64_t)1 << 40, (int64_t)1 << 23, 0) == -1,
           "param_count: |V| d = 2^63 overflows");
    tap_ok(oracle_param_count(&untied, &tied, &saving, &relative, &scale, &k,
                              two31, two31, 0) == -1,
           "param_count: 2 |V| d = 2^63 overflows");
    rc = oracle_param_count(&untied, &tied, &saving, &relative, &scale, &k,
                            two30, two31, room);
    tap_ok(rc == 0 && untied == INT64_MAX,
           "param_count: untied = INT64_MAX exactly still fits");
    tap_ok(oracle_param_count(&untied, &tied, &saving, &relative, &scale, &k,
                              two30, two31, room + 1) == -1,
           "param_count: one more parameter overflows");
    tap_ok(oracle_param_count(&untied, &tied, &saving, &relative, &scale, &k,
                              0, 5, 0) == -1
               && oracle_param_count(&untied, &tied, &saving, &relative,
                                     &scale, &k, 3, 0, 0) == -1
               && oracle_param_count(&untied, &tied, &saving, &relative,
                                     &scale, &k, 3, 5, -1) == -1,
           "param_count: |V| < 1, d < 1, B < 0 are rejected");
}

/* ---- argmax ---- */

static void test_argmax(void)
{
    const double logits[5 * 4] = {
        1, 3, 3, 2,                              /* exact tie: 1 only */
        1, 0x1.0000000000001p+0, -INFINITY, 0,   /* 1 ulp apart */
        1, 1 + 0x1p-30, 0.5, -INFINITY,          /* 2^-30 apart */
        0, 0x1p-20, -INFINITY, -5,               /* within fp16's floor */
        -INFINITY, 0, -INFINITY, -INFINITY,      /* masked never chosen */
    };
    int64_t token[5];
    oracle_choices choices[5 * ORACLE_CLASS_COUNT];
    int rc = oracle_argmax(token, choices, logits, 5, 4);
    tap_ok(rc == 0 && token[0] == 1 && token[1] == 1 && token[2] == 1
               && token[3] == 1 && token[4] == 1,
           "argmax: lowest maximal index (1, 1, 1, 1, 1)");
    tap_ok(single_in_every_class(choices, 0, 1),
           "argmax: an exact tie accepts only the lowest index, every class");
    /* fp64 reads the doubles exactly; the narrow classes round both */
    int both = choice_is(&choices[1 * ORACLE_CLASS_COUNT + FP64],
                         (const int64_t[1]){1}, 1);
    for (size_t c = FP32; c < ORACLE_CLASS_COUNT; c++)
        both &= choice_is(&choices[1 * ORACLE_CLASS_COUNT + c],
                          (const int64_t[2]){1, 0}, 2);
    tap_ok(both, "argmax: 1 ulp apart accepts {1} in fp64, {1, 0} in the others");
    const oracle_choices *near = &choices[2 * ORACLE_CLASS_COUNT];
    tap_ok(choice_is(&near[FP64], (const int64_t[1]){1}, 1)
               && choice_is(&near[FP32], (const int64_t[2]){1, 0}, 2)
               && choice_is(&near[BF16], (const int64_t[2]){1, 0}, 2)
               && choice_is(&near[FP16], (const int64_t[2]){1, 0}, 2),
           "argmax: 2^-30 apart accepts {1} in fp64, {1, 0} in the others");
    const oracle_choices *floor = &choices[3 * ORACLE_CLASS_COUNT];
    tap_ok(choice_is(&floor[FP32], (const int64_t[1]){1}, 1)
               && choice_is(&floor[BF16], (const int64_t[1]){1}, 1)
               && choice_is(&floor[FP16], (const int64_t[2]){1, 0}, 2),
           "argmax: 0 vs 2^-20 is resolved except within fp16's floor 2^-14");
    tap_ok(single_in_every_class(choices, 4, 1),
           "argmax: masked entries are never acceptable");
    oracle_choices_free(choices, 5 * ORACLE_CLASS_COUNT);

    const double plus_inf[2] = {0, INFINITY}, all_masked[2] = {-INFINITY,
                                                               -INFINITY};
    tap_ok(oracle_argmax(token, choices, plus_inf, 1, 2) == -1
               && oracle_argmax(token, choices, all_masked, 1, 2) == -1,
           "argmax: +inf and all -inf rows are rejected");
}

/* ---- sample ---- */

/* Runs oracle_sample on one row; returns its status.
 * logits, probs, scale: (V); choices: (ORACLE_CLASS_COUNT) */
static int sample_one(double *probs, double *scale, int64_t *token,
                      oracle_choices *choices, unsigned *stable,
                      const double *logits, size_t V, double r, double tau,
                      int64_t top_k, double top_p)
{
    double k = 0;
    return oracle_sample(probs, scale, &k, token, choices, stable, logits, &r,
                         1, V, tau, top_k, top_p);
}

static void test_sample_dyadic(void)
{
    const double equal[4] = {0, 0, 0, 0};
    double p[16], s[16], k = 0;
    int64_t token[4];
    unsigned stable = 0;
    oracle_choices choices[4 * ORACLE_CLASS_COUNT];
    const double r[4] = {0, 0.25, 0.5, 0.75};
    const double rows[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                             0, 0, 0, 0, 0, 0, 0, 0};
    int rc = oracle_sample(p, s, &k, token, choices, &stable, rows, r, 4, 4,
                           1.0, 0, 1.0);
    tap_ok(rc == 0 && k == 2.0 && stable == ALL_CLASSES,
           "sample: equal logits succeed with K = 2, every class stable");
    tap_ok(token[0] == 0 && token[1] == 1 && token[2] == 2 && token[3] == 3,
           "sample: r = C_i exactly selects the next token (0, 1, 2, 3)");
    tap_ok(single_in_every_class(choices, 1, 1)
               && single_in_every_class(choices, 2, 2),
           "sample: dyadic cumulative sums are exact, one token accepted");
    oracle_choices_free(choices, 4 * ORACLE_CLASS_COUNT);

    rc = sample_one(p, s, token, choices, &stable, equal, 4, 0.1, 1.0, 0, 1.0);
    tap_ok(rc == 0
               && all_same_bits(p, (const double[4]){.25, .25, .25, .25}, 4),
           "sample: probs of equal logits are exactly 1/4");
    /* s_i = (0 + 0 + 4 + 5)/4; s^q = (s + q 4s)/1 + q (4 + 2)/2 */
    tap_ok(all_same_bits(s, (const double[4]){5.25, 5.25, 5.25, 5.25}, 4),
           "sample: scale of q is (s + q sum s)/P + q (M_k + 2)/2 = 5.25");
    oracle_choices_free(choices, ORACLE_CLASS_COUNT);

    const double masked[4] = {-INFINITY, 3, -INFINITY, 3};
    rc = sample_one(p, s, token, choices, &stable, masked, 4, 0.5, 1.0, 0,
                    1.0);
    tap_ok(rc == 0 && token[0] == 3
               && all_same_bits(p, (const double[4]){0, .5, 0, .5}, 4)
               && s[0] == 0 && s[2] == 0,
           "sample: masked tokens get q = 0 (scale 0) and are skipped by r");
    oracle_choices_free(choices, ORACLE_CLASS_COUNT);
}

static void test_sample_truncation(void)
{
    double p[8], s[8];
    int64_t token[1];
    unsigned stable = 0;
    oracle_choices choices[ORACLE_CLASS_COUNT];

    const double tie_at_k[5] = {1, 2, 2, 2, 0};
    int rc = sample_one(p, s, token, choices, &stable, tie_at_k, 5, 0.75, 1.0,
                        2, 1.0);
    tap_ok(rc == 0 && all_same_bits(p, (const double[5]){0, .5, .5, 0, 0}, 5)
               && token[0] == 2 && stable == ALL_CLASSES,
           "sample: top-k = 2 with a 3-way tie keeps exactly 1 and 2");
    oracle_choices_free(choices, ORACLE_CLASS_COUNT);

    const double eight[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const double third = 1.0 / 3.0;
    rc = sample_one(p, s, token, choices, &stable, eight, 8, 0.5, 1.0, 3, 1.0);
    tap_ok(rc == 0
               && all_same_bits(p, (const double[8]){third, third, third, 0,
                                                     0, 0, 0, 0}, 8)
               && token[0] == 1 && stable == ALL_CLASSES,
           "sample: top-k = 3 of 8 equal keeps the 3 lowest indices");
    oracle_choices_free(choices, ORACLE_CLASS_COUNT);

    const double four[4] = {0, 0, 0, 0};
    rc = sample_one(p, s, token, choices, &stable, four, 4, 0.5, 1.0, 0, 0.5);
    tap_ok(rc == 0 && all_same_bits(p, (const double[4]){.5, .5, 0, 0}, 4)
               && token[0] == 1 && stable == ALL_CLASSES
               && single_in_every_class(choices, 0, 1),
           "sample: top-p = 1/2 stops where the sum equals 1/2 (>=)");
    oracle_choices_free(choices, ORACLE_CLASS_COUNT);

    const double dominant[2] = {0, -10};
    rc = sample_one(p, s, token, choices, &stable, dominant, 2, 0.99, 1.0, 0,
                    0.5);
    tap_ok(rc == 0 && all_same_bits(p, (const double[2]){1, 0}, 2)
               && token[0] == 0,
           "sample: when the first token reaches top-p, only it is kept");
    oracle_choices_free(choices, ORACLE_CLASS_COUNT);

    const double two[2] = {0, -2};
    rc = sample_one(p, s, token, choices, &stable, two, 2, 0.9, 4.0, 0, 0.7);
    tap_ok(rc == 0 && same_bits(p[0], 0x1.3eb2fd4d34391p-1)
               && same_bits(p[1], 0x1.829a0565978dfp-2) && token[0] == 1,
           "sample: temperature 4 before top-p 0.7 keeps both (mpmath)");
    oracle_choices_free(choices, ORACLE_CLASS_COUNT);
    rc = sample_one(p, s, token, choices, &stable, two, 2, 0.9, 1.0, 0, 0.7);
    tap_ok(rc == 0 && all_same_bits(p, (const double[2]){1, 0}, 2),
           "sample: at temperature 1 the same top-p keeps one token");
    oracle_choices_free(choices, ORACLE_CLASS_COUNT);
}

static void test_sample_choices(void)
{
    double p[3], s[3];
    int64_t token[1];
    unsigned stable = 0;
    oracle_choices choices[ORACLE_CLASS_COUNT];
    const double three[3] = {0, 0, 0};

    int rc = sample_one(p, s, token, choices, &stable, three, 3, 1.0 / 3.0,
                        1.0, 0, 1.0);
    int both = 1;
    for (size_t c = 0; c < ORACLE_CLASS_COUNT; c++)
        both &= choice_is(&choices[c], (const int64_t[2]){0, 1}, 2);
    tap_ok(rc == 0 && token[0] == 0 && both,
           "sample: r = 1/3 rounded, just below C_0 = 1/3: {0, 1} everywhere");
    oracle_choices_free(choices, ORACLE_CLASS_COUNT);
    rc = sample_one(p, s, token, choices, &stable, three, 3, 0.5, 1.0, 0, 1.0);
    tap_ok(rc == 0 && token[0] == 1 && single_in_every_class(choices, 0, 1),
           "sample: r = 1/2, far from 1/3 and 2/3: {1} everywhere");
    oracle_choices_free(choices, ORACLE_CLASS_COUNT);

    const double near_k[3] = {0, -0x1p-30, -5};
    rc = sample_one(p, s, token, choices, &stable, near_k, 3, 0.5, 1.0, 1, 1.0);
    tap_ok(rc == 0 && token[0] == 0 && stable == (1u << FP64),
           "sample: top-k boundary 2^-30 apart is certain only in fp64");
    oracle_choices_free(choices, ORACLE_CLASS_COUNT);
    const double near_p[2] = {0, -0x1p-30};
    rc = sample_one(p, s, token, choices, &stable, near_p, 2, 0.5, 1.0, 0, 0.5);
    tap_ok(rc == 0 && token[0] == 0 && p[0] == 1.0
               && stable == (1u << FP64),
           "sample: top-p 1/2 vs p_0 = 1/2 + 2^-32 is certain only in fp64");
    oracle_choices_free(choices, ORACLE_CLASS_COUNT);
    rc = sample_one(p, s, token, choices, &stable, near_k, 3, 0.5, 1.0, 2, 1.0);
    tap_ok(rc == 0 && stable == ALL_CLASSES,
           "sample: top-k = 2 boundary far from a tie is stable everywhere");
    oracle_choices_free(choices, ORACLE_CLASS_COUNT);

    /* p_0 = 1/(1 + e^-1) = 0x1.764d4f5d5a2bdp-1 (mpmath); the order of the
     * two tokens is certain, only the cumulative sum is near top_p */
    const double one_apart[2] = {0, -1};
    const double p0 = 0x1.764d4f5d5a2bdp-1;
    rc = sample_one(p, s, token, choices, &stable, one_apart, 2, 0.9, 1.0, 0,
                    p0 - 0x1p-40);
    tap_ok(rc == 0 && p[0] == 1.0 && stable == (1u << FP64),
           "sample: top-p 2^-40 below p_0 keeps 1, certain only in fp64");
    oracle_choices_free(choices, ORACLE_CLASS_COUNT);
    rc = sample_one(p, s, token, choices, &stable, one_apart, 2, 0.9, 1.0, 0,
                    p0 + 0x1p-40);
    tap_ok(rc == 0 && p[0] == p0 && stable == (1u << FP64),
           "sample: top-p 2^-40 above p_0 keeps 2, certain only in fp64");
    oracle_choices_free(choices, ORACLE_CLASS_COUNT);
    rc = sample_one(p, s, token, choices, &stable, one_apart, 2, 0.9, 1.0, 0,
                    0.5);
    tap_ok(rc == 0 && p[0] == 1.0 && stable == ALL_CLASSES,
           "sample: top-p 1/2, far from p_0, is certain everywhere");
    oracle_choices_free(choices, ORACLE_CLASS_COUNT);
}

static void test_sample_errors(void)
{
    double p[3], s[3], k = 0;
    int64_t token[1];
    unsigned stable = 0;
    oracle_choices choices[ORACLE_CLASS_COUNT];
    const double ok[3] = {0, 1, 2}, plus_inf[3] = {0, INFINITY, 0};
    const double all_masked[3] = {-INFINITY, -INFINITY, -INFINITY};
    tap_ok(sample_one(p, s, token, choices, &stable, ok, 3, 1.0, 1, 0, 1) == -1
               && sample_one(p, s, token, choices, &stable, ok, 3, -0.1, 1, 0,
                             1) == -1
               && sample_one(p, s, token, choices, &stable, ok, 3, NAN, 1, 0,
                             1) == -1,
           "sample: r = 1, r < 0 and r = NaN are rejected");
    tap_ok(sample_one(p, s, token, choices, &stable, ok, 3, 0.5, 1, 0, 0) == -1
               && sample_one(p, s, token, choices, &stable, ok, 3, 0.5, 1, 0,
                             1.5) == -1
               && sample_one(p, s, token, choices, &stable, ok, 3, 0.5, 1, -1,
                             1) == -1
               && sample_one(p, s, token, choices, &stable, ok, 3, 0.5, 0, 0,
                             1) == -1,
           "sample: top_p 0 and 1.5, top_k -1 and tau 0 are rejected");
    tap_ok(sample_one(p, s, token, choices, &stable, plus_inf, 3, 0.5, 1, 0,
                      1) == -1
               && sample_one(p, s, token, choices, &stable, all_masked, 3,
                             0.5, 1, 0, 1) == -1,
           "sample: +inf and all -inf rows are rejected");
    tap_ok(oracle_sample(p, s, &k, token, choices, &stable, ok, NULL, 0, 3,
                         1.0, 0, 1.0) == 0 && stable == ALL_CLASSES,
           "sample: n = 0 is an empty success, every class stable");
}

/* ---- logit lens ---- */

/* The outputs of one lens call. */
typedef struct {
    double probs[32], probs_scale[32], k;
    int64_t top[16];
    double top_probs[16], top_scale[16];
    oracle_choices choices[16 * ORACLE_CLASS_COUNT];
    int exact;
} lens_out;

/* Runs the lens without LayerNorm (gamma = beta = NULL) or with it. */
static int run_lens(lens_out *out, const double *hidden, const double *E,
                    const double *gamma, const double *beta, size_t L,
                    size_t n, size_t V, size_t d, size_t top_k)
{
    return oracle_logit_lens(out->probs, out->probs_scale, &out->k, out->top,
                             out->choices, out->top_probs, out->top_scale,
                             &out->exact, hidden, E, gamma, beta, L, n, V, d,
                             top_k, 1e-5);
}

static void test_lens_equals_head_softmax(void)
{
    /* L = 2, n = 1, d = 2, V = 4: logits are exact doubles */
    const double hidden[4] = {1, 0.5, -0.25, 2};
    const double E[8] = {1, 0, 0, 1, 1, 1, 0.5, -1};
    lens_out out;
    int rc = run_lens(&out, hidden, E, NULL, NULL, 2, 1, 4, 2, 3);
    double u[8], us[8], p[8], ps[8], k = 0;
    oracle_head_tied(u, us, &k, hidden, E, 2, 4, 2);
    oracle_softmax(p, ps, &k, u, 2, 4, 1.0);
    tap_ok(rc == 0 && out.k == 2.0 && all_same_bits(out.probs, p, 8),
           "lens: without LayerNorm equals head_tied then softmax, per layer");
    int covers = 1;
    for (size_t i = 0; i < 8; i++)
        covers &= out.probs_scale[i] > ps[i];
    tap_ok(covers, "lens: its scales exceed the softmax scales (Lambda > 0)");
    const int64_t want_top[6] = {2, 0, 1, 1, 2, 0};
    int top_ok = 1, copies_ok = 1;
    for (size_t i = 0; i < 6; i++) {
        top_ok &= out.top[i] == want_top[i];
        size_t row = i / 3, v = (size_t)want_top[i];
        copies_ok &= same_bits(out.top_probs[i], out.probs[row * 4 + v])
                     && same_bits(out.top_scale[i],
                                  out.probs_scale[row * 4 + v]);
    }
    tap_ok(top_ok, "lens: top tokens by decreasing logit (2 0 1 | 1 2 0)");
    tap_ok(copies_ok, "lens: top_probs and their scales copy probs");
    int single = out.exact == 1;
    for (size_t i = 0; i < 6; i++)
        single &= single_in_every_class(out.choices, i, out.top[i]);
    tap_ok(single, "lens: exact_arithmetic = 1, one token per rank");
    oracle_choices_free(out.choices, 6 * ORACLE_CLASS_COUNT);
}

static void test_lens_ties(void)
{
    lens_out out;
    const double E_tied[6] = {1, 0, 1, 0, 0, 1}; /* rows 0 and 1 equal */
    const double exact_h[2] = {1, 0.5}, inexact_h[2] = {0.1, 0.7};
    int rc = run_lens(&out, exact_h, E_tied, NULL, NULL, 1, 1, 3, 2, 3);
    int single = 1;
    for (size_t m = 0; m < 3; m++)
        single &= single_in_every_class(out.choices, m, (int64_t)m);
    tap_ok(rc == 0 && out.exact == 1 && single,
           "lens: exact tie with exact arithmetic: 0 then 1, nothing else");
    oracle_choices_free(out.choices, 3 * ORACLE_CLASS_COUNT);

    rc = run_lens(&out, inexact_h, E_tied, NULL, NULL, 1, 1, 3, 2, 3);
    int loose = 1;
    for (size_t c = 0; c < ORACLE_CLASS_COUNT; c++) {
        loose &= choice_is(&out.choices[0 * 4 + c], (const int64_t[1]){2}, 1);
        loose &= choice_is(&out.choices[1 * 4 + c], (const int64_t[2]){0, 1},
                           2);
        loose &= choice_is(&out.choices[2 * 4 + c], (const int64_t[2]){1, 0},
                           2);
    }
    tap_ok(rc == 0 && out.exact == 0 && out.top[0] == 2 && out.top[1] == 0
               && out.top[2] == 1 && loose,
           "lens: equal computed logits (h = 0.1): both OK at ranks 1, 2");
    oracle_choices_free(out.choices, 3 * ORACLE_CLASS_COUNT);

    const double one[1] = {1};
    const double E_near[3] = {1, 0x1.0000000000001p+0, 0.5};
    rc = run_lens(&out, one, E_near, NULL, NULL, 1, 1, 3, 1, 3);
    int near = 1;
    for (size_t c = 0; c < ORACLE_CLASS_COUNT; c++) {
        near &= choice_is(&out.choices[0 * 4 + c], (const int64_t[2]){1, 0}, 2);
        near &= choice_is(&out.choices[1 * 4 + c], (const int64_t[2]){0, 1}, 2);
        near &= choice_is(&out.choices[2 * 4 + c], (const int64_t[1]){2}, 1);
    }
    tap_ok(rc == 0 && out.exact == 0 && near,
           "lens: logits 1 ulp apart swap in every class, the third stays");
    oracle_choices_free(out.choices, 3 * ORACLE_CLASS_COUNT);
}

static void test_lens_exact_flag(void)
{
    lens_out out;
    const double E[4] = {1, 0, 0, 1};
    const double eight_bits[2] = {1 + 0x1p-7, 0}, eleven_bits[2] = {1 + 0x1p-10,
                                                                    0};
    int rc = run_lens(&out, eight_bits, E, NULL, NULL, 1, 1, 2, 2, 1);
    tap_ok(rc == 0 && out.exact == 1,
           "lens: 8-bit inputs with small sums are exact_arithmetic");
    oracle_choices_free(out.choices, ORACLE_CLASS_COUNT);
    rc = run_lens(&out, eleven_bits, E, NULL, NULL, 1, 1, 2, 2, 1);
    tap_ok(rc == 0 && out.exact == 0,
           "lens: 1 + 2^-10 (exact in fp32, not in bf16) is not exact");
    oracle_choices_free(out.choices, ORACLE_CLASS_COUNT);
    const double large[2] = {0x1p20, 0x1p-7}, E_sum[4] = {1, 1, 0, 1};
    rc = run_lens(&out, large, E_sum, NULL, NULL, 1, 1, 2, 2, 1);
    tap_ok(rc == 0 && out.exact == 0,
           "lens: 2^20 + 2^-7 needs 28 bits: not exact");
    oracle_choices_free(out.choices, ORACLE_CLASS_COUNT);
    const double gamma[2] = {1, 1}, beta[2] = {0, 0};
    rc = run_lens(&out, eight_bits, E, gamma, beta, 1, 1, 2, 2, 1);
    tap_ok(rc == 0 && out.exact == 0,
           "lens: never exact_arithmetic with the final LayerNorm");
    oracle_choices_free(out.choices, ORACLE_CLASS_COUNT);
}

static void test_lens_layernorm(void)
{
    const double hidden[6] = {0.3, -1.2, 2.5, 10, 10.5, 9};
    const double E[12] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 0.5, 0.5, -0.25};
    const double gamma[3] = {1, 0.5, 2}, beta[3] = {0, 0.1, -0.2};
    lens_out out;
    int rc = run_lens(&out, hidden, E, gamma, beta, 2, 1, 4, 3, 2);
    double x[6], xs[6], u[8], us[8], p[8], ps[8], k = 0;
    oracle_layernorm(x, xs, &k, hidden, gamma, beta, 2, 3, 1e-5);
    oracle_head_tied(u, us, &k, x, E, 2, 4, 3);
    oracle_softmax(p, ps, &k, u, 2, 4, 1.0);
    int close = 1, covers = 1;
    for (size_t i = 0; i < 8; i++) {
        close &= fabs(out.probs[i] - p[i]) <= 1e-14;
        covers &= out.probs_scale[i] >= ps[i];
    }
    tap_ok(rc == 0 && out.exact == 0 && close,
           "lens: with LayerNorm matches layernorm, head, softmax per layer");
    tap_ok(covers, "lens: its scales cover the softmax scales");
    oracle_choices_free(out.choices, 4 * ORACLE_CLASS_COUNT);

    const double gamma_only[3] = {1, 1, 1};
    tap_ok(run_lens(&out, hidden, E, gamma_only, NULL, 2, 1, 4, 3, 2) == -1
               && run_lens(&out, hidden, E, NULL, NULL, 2, 1, 4, 3, 0) == -1
               && run_lens(&out, hidden, E, NULL, NULL, 2, 1, 4, 3, 5) == -1
               && run_lens(&out, hidden, E, NULL, NULL, 0, 1, 4, 3, 2) == -1,
           "lens: gamma without beta, k = 0, k > |V| and L = 0 are rejected");
    double bad_eps_out[8], bad_scale[8], bad_k, top_p[2], top_s[2];
    int64_t top[2];
    int exact;
    tap_ok(oracle_logit_lens(bad_eps_out, bad_scale, &bad_k, top, out.choices,
                             top_p, top_s, &exact, hidden, E, gamma, beta, 1, 1,
                             4, 3, 2, 0.0) == -1,
           "lens: eps = 0 with LayerNorm is rejected");
}

int main(void)
{
    test_softmax_closed_forms();
    test_softmax_invariance();
    test_softmax_errors();
    test_log_softmax();
    test_cross_entropy_values();
    test_cross_entropy_edges();
    test_head_tied();
    test_head_untied();
    test_param_count();
    test_argmax();
    test_sample_dyadic();
    test_sample_truncation();
    test_sample_choices();
    test_sample_errors();
    test_lens_equals_head_softmax();
    test_lens_ties();
    test_lens_exact_flag();
    test_lens_layernorm();
    mpfr_free_cache();
    tap_done();
    return tap_exit_status();
}
