/*
 * oracle_selfcheck.c -- TAP self-test of the MPFR oracle (tools/oracle/oracle.h).
 *
 * Every expected value here is derived without the oracle: closed forms
 * (position 0, constant rows, exact dyadic sums), identities (sin^2 + cos^2,
 * angle addition), or constants computed separately with Python's mpmath at
 * 5000 bits and written as hexadecimal doubles (nearest for values, rounded
 * upward for scales). Inputs are chosen so that those constants are simple:
 * base 32 with d = 5 gives the frequencies 1, 1/4, 1/16 exactly.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <mpfr.h>

#include "oracle.h"
#include "tap.h"

static const double UNIT_ROUNDOFF = 0x1p-53;

/* 1 if a and b have the same bits (tells -0 from +0). */
static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* 1 if got and want have the same bits, element by element.
 * got, want: (count) */
static int all_same_bits(const double *got, const double *want, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!same_bits(got[i], want[i]))
            return 0;
    return 1;
}

/* 1 if got[i] == want[i] numerically (+0 equals -0).
 * got, want: (count) */
static int all_equal(const double *got, const double *want, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!(got[i] == want[i]))
            return 0;
    return 1;
}

/* 1 if every scale is at least the magnitude of its expected value and
 * neither is negative zero.
 * y, scale: (count) */
static int scales_cover(const double *y, const double *scale, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!(scale[i] >= fabs(y[i])) || same_bits(scale[i], -0.0))
            return 0;
    return 1;
}

/* ---- copy ops ---- */

/* E: (3, 4) with a -0, extreme magnitudes and a subnormal. */
static const double COPY_TABLE[12] = {
    0.5,    -0.0,    3.0, -2.25,
    1e300,  -1e-300, 0.0, 7.0,
    4.0,    5.0,     -6.0, 0x1p-1074,
};
static const int64_t COPY_IDS[4] = {2, 0, 2, 1};

/* want: (4, 4) rows of COPY_TABLE selected by COPY_IDS */
static void expected_copy(double *want)
{
    for (size_t t = 0; t < 4; t++)
        memcpy(want + 4 * t, COPY_TABLE + 4 * COPY_IDS[t], 4 * sizeof *want);
}

static void test_lookup(void)
{
    double y[16], scale[16], want[16], magnitudes[16], k = 0;
    expected_copy(want);
    for (size_t i = 0; i < 16; i++)
        magnitudes[i] = fabs(want[i]);
    int rc = oracle_embed_lookup(y, scale, &k, COPY_TABLE, COPY_IDS, 4, 3, 4);
    tap_ok(rc == 0 && k == 1.0, "lookup: succeeds with K = 1");
    tap_ok(all_same_bits(y, want, 16), "lookup: copies rows bit for bit (-0 kept)");
    tap_ok(all_same_bits(scale, magnitudes, 16), "lookup: scale = |g|, +0 for -0");
    rc = oracle_embed_lookup(y, scale, &k, COPY_TABLE, COPY_IDS, 0, 3, 4);
    tap_ok(rc == 0, "lookup: n = 0 is an empty success");

    const int64_t negative[1] = {-1}, past_end[1] = {3}, first[1] = {0};
    double with_nan[12];
    memcpy(with_nan, COPY_TABLE, sizeof with_nan);
    with_nan[11] = NAN; /* in a row that is never read */
    tap_ok(oracle_embed_lookup(y, scale, &k, COPY_TABLE, negative, 1, 3, 4) == -1
           && oracle_embed_lookup(y, scale, &k, COPY_TABLE, past_end, 1, 3, 4) == -1,
           "lookup: ids -1 and |V| are rejected");
    tap_ok(oracle_embed_lookup(y, scale, &k, COPY_TABLE, first, 1, 0, 4) == -1
           && oracle_embed_lookup(y, scale, &k, COPY_TABLE, first, 1, 3, 0) == -1,
           "lookup: |V| = 0 and d = 0 are rejected");
    tap_ok(oracle_embed_lookup(y, scale, &k, with_nan, first, 1, 3, 4) == -1,
           "lookup: a NaN in an unread row is rejected");
}

static void test_onehot(void)
{
    double onehot[12] = {0}, y[16], scale[16], want[16], k = 0;
    for (size_t t = 0; t < 4; t++)
        onehot[3 * t + (size_t)COPY_IDS[t]] = 1.0;
    expected_copy(want);
    int rc = oracle_embed_onehot(y, scale, &k, onehot, COPY_TABLE, 4, 3, 4);
    tap_ok(rc == 0 && k == 1.0, "onehot: succeeds with K = 1");
    tap_ok(all_equal(y, want, 16), "onehot: equals the lookup of the same ids");
    tap_ok(same_bits(y[5], 0.0), "onehot: the sum that picks a -0 entry is +0");
    tap_ok(scales_cover(y, scale, 16), "onehot: every scale >= |g|");
    int scale_is_magnitude = 1;
    for (size_t i = 0; i < 16; i++)
        scale_is_magnitude &= scale[i] == fabs(want[i]);
    tap_ok(scale_is_magnitude, "onehot: scale equals |g| element by element");

    const double half[3] = {0.5, 0.5, 0}, two_ones[3] = {1, 1, 0};
    const double no_one[3] = {0, 0, 0}, two[3] = {2, 0, 0}, minus[3] = {-1, 0, 1};
    tap_ok(oracle_embed_onehot(y, scale, &k, half, COPY_TABLE, 1, 3, 4) == -1
           && oracle_embed_onehot(y, scale, &k, two_ones, COPY_TABLE, 1, 3, 4) == -1
           && oracle_embed_onehot(y, scale, &k, no_one, COPY_TABLE, 1, 3, 4) == -1
           && oracle_embed_onehot(y, scale, &k, two, COPY_TABLE, 1, 3, 4) == -1
           && oracle_embed_onehot(y, scale, &k, minus, COPY_TABLE, 1, 3, 4) == -1,
           "onehot: rows that are not one-hot are rejected");
    double with_inf[12];
    memcpy(with_inf, COPY_TABLE, sizeof with_inf);
    with_inf[0] = INFINITY;
    const double pick_last[3] = {0, 0, 1};
    tap_ok(oracle_embed_onehot(y, scale, &k, pick_last, with_inf, 1, 3, 4) == -1,
           "onehot: an infinity anywhere in E is rejected");
}

static void test_learned(void)
{
    const double P[6] = {1.5, -0.0, -8.0, 0.125, 1e-310, -3e200};
    const int64_t positions[2] = {2, 0};
    const double want[4] = {1e-310, -3e200, 1.5, -0.0};
    const double magnitudes[4] = {1e-310, 3e200, 1.5, 0.0};
    double y[4], scale[4], k = 0;
    int rc = oracle_pos_learned(y, scale, &k, P, positions, 2, 3, 2);
    tap_ok(rc == 0 && k == 1.0, "learned: succeeds with K = 1");
    tap_ok(all_same_bits(y, want, 4) && all_same_bits(scale, magnitudes, 4),
           "learned: copies rows bit for bit, scale = |g|");
    const int64_t past_end[1] = {3}, negative[1] = {-1}, first[1] = {0};
    double with_inf[6];
    memcpy(with_inf, P, sizeof with_inf);
    with_inf[5] = -INFINITY;
    tap_ok(oracle_pos_learned(y, scale, &k, P, past_end, 1, 3, 2) == -1
           && oracle_pos_learned(y, scale, &k, P, negative, 1, 3, 2) == -1,
           "learned: positions L and -1 are rejected (no wrap, no clamp)");
    tap_ok(oracle_pos_learned(y, scale, &k, P, first, 1, 0, 2) == -1
           && oracle_pos_learned(y, scale, &k, with_inf, first, 1, 3, 2) == -1,
           "learned: L = 0 and a non-finite table are rejected");
}

/* ---- sinusoid ---- */

/* 1 if every pair (sin, cos) of the row has sin^2 + cos^2 within 4u of 1.
 * row: (d) */
static int pairs_have_unit_norm(const double *row, size_t d)
{
    for (size_t j = 0; j + 1 < d; j += 2) {
        double norm = row[j] * row[j] + row[j + 1] * row[j + 1];
        if (!(fabs(norm - 1.0) <= 4 * UNIT_ROUNDOFF))
            return 0;
    }
    return 1;
}

static void test_sinusoid_closed_forms(void)
{
    double y[6], scale[6], k = 0;
    const int64_t zero[1] = {0};
    const double row_of_zero[6] = {0, 1, 0, 1, 0, 1};
    int rc = oracle_pos_sinusoid(y, scale, &k, zero, 1, 6, 10000);
    tap_ok(rc == 0 && k == 4.0, "sinusoid: succeeds with K = 4");
    tap_ok(all_same_bits(y, row_of_zero, 6), "sinusoid: row of position 0 is (+0, 1, +0, 1, ...)");
    tap_ok(all_equal(scale, (const double[6]){1, 1, 1, 1, 1, 1}, 6),
           "sinusoid: scale at position 0 is 1");

    /* d = 5, base 32: omega = 1, 1/4, 1/16; at p = 16 the angles are 16, 4, 1 */
    const int64_t sixteen[1] = {16};
    const double want[5] = {-0x1.26d02085f20f8p-2, -0x1.ea5257e962f74p-1,
                            -0x1.837b9dddc1eaep-1, -0x1.4eaa606db24c1p-1,
                            0x1.aed548f090ceep-1};
    const double want_scale[5] = {0x1.1p+4, 0x1.1p+4, 0x1.517217f7d1cf8p+3,
                                  0x1.517217f7d1cf8p+3, 0x1.317217f7d1cf8p+2};
    rc = oracle_pos_sinusoid(y, scale, &k, sixteen, 1, 5, 32);
    tap_ok(rc == 0 && all_same_bits(y, want, 5),
           "sinusoid: d=5 b=32 p=16 is sin16 cos16 sin4 cos4 sin1");
    tap_ok(same_bits(y[4], 0x1.aed548f090ceep-1),
           "sinusoid: odd d, the last column is the sine sin(1), no cosine partner");
    tap_ok(all_same_bits(scale, want_scale, 5),
           "sinusoid: scales 17, 5 + 8 ln2, 2 + 4 ln2 rounded upward");
}

static void test_sinusoid_against_mpmath(void)
{
    double y[8], scale[8], k = 0;
    const int64_t top[1] = {(int64_t)1 << 53};
    int rc = oracle_pos_sinusoid(y, scale, &k, top, 1, 2, 10000);
    tap_ok(rc == 0 && same_bits(y[0], -0x1.b2a66c8f35586p-1)
           && same_bits(y[1], -0x1.0e9918bb35aacp-1)
           && same_bits(scale[0], 0x1.0000000000001p+53),
           "sinusoid: p = 2^53 gives sin, cos of 2^53 and scale 1 + 2^53 (up)");

    const int64_t p[1] = {1000003};
    const double want[8] = {
        0x1.ea2c81ff67ef2p-2, -0x1.c18772075fee8p-1, -0x1.0b728e2692585p-2,
        -0x1.ee3a88fbcd76fp-1, -0x1.560ddc5505a3cp-2, -0x1.e2973532d27f8p-1,
        0x1.a839674e93a7dp-1, 0x1.1eaaad431f3d3p-1};
    const double want_scale[8] = {
        0x1.e8488p+19, 0x1.e8488p+19, 0x1.428520013a4a2p+18,
        0x1.428520013a4a2p+18, 0x1.b5e9bd729ab41p+15, 0x1.b5e9bd729ab41p+15,
        0x1.ee4c76cb0fa9p+12, 0x1.ee4c76cb0fa9p+12};
    rc = oracle_pos_sinusoid(y, scale, &k, p, 1, 8, 10000);
    tap_ok(rc == 0 && all_same_bits(y, want, 8),
           "sinusoid: d=8 b=10000 p=1000003 matches mpmath");
    tap_ok(all_same_bits(scale, want_scale, 8),
           "sinusoid: its scales match mpmath (rounded upward)");
}

static void test_sinusoid_properties(void)
{
    enum { N = 7, D = 16 };
    const int64_t positions[N] = {0, 1, 7, 1000, 123456789,
                                  (int64_t)1 << 40, (int64_t)1 << 53};
    double y[N * D], scale[N * D], k = 0;
    int rc = oracle_pos_sinusoid(y, scale, &k, positions, N, D, 10000);
    int unit = rc == 0, at_least_one = rc == 0;
    for (size_t t = 0; t < N; t++)
        unit &= pairs_have_unit_norm(y + t * D, D);
    for (size_t i = 0; i < N * D; i++)
        at_least_one &= scale[i] >= 1.0;
    tap_ok(unit, "sinusoid: every pair has sin^2 + cos^2 within 4u of 1");
    tap_ok(at_least_one && scales_cover(y, scale, N * D), "sinusoid: every scale >= 1 >= |g|");

    /* angle addition: pair i at p + q from the pairs at p and q */
    const int64_t p_q_sum[3] = {5, 3, 8};
    double r[3 * 8], rs[3 * 8];
    rc = oracle_pos_sinusoid(r, rs, &k, p_q_sum, 3, 8, 10000);
    int rotates = rc == 0;
    for (size_t j = 0; j < 8; j += 2) {
        double sp = r[j], cp = r[j + 1], sq = r[8 + j], cq = r[8 + j + 1];
        rotates &= fabs(r[16 + j] - (sp * cq + cp * sq)) <= 8 * UNIT_ROUNDOFF;
        rotates &= fabs(r[16 + j + 1] - (cp * cq - sp * sq)) <= 8 * UNIT_ROUNDOFF;
    }
    tap_ok(rotates, "sinusoid: the pair at p + q is the pair at p rotated by q omega");
}

static void test_sinusoid_errors(void)
{
    double y[4], scale[4], k = 0;
    const int64_t ok[1] = {1}, negative[1] = {-1};
    const int64_t too_far[1] = {((int64_t)1 << 53) + 1};
    tap_ok(oracle_pos_sinusoid(y, scale, &k, negative, 1, 2, 10000) == -1
           && oracle_pos_sinusoid(y, scale, &k, too_far, 1, 2, 10000) == -1,
           "sinusoid: positions -1 and 2^53 + 1 are rejected");
    tap_ok(oracle_pos_sinusoid(y, scale, &k, ok, 1, 0, 10000) == -1,
           "sinusoid: d = 0 is rejected");
    tap_ok(oracle_pos_sinusoid(y, scale, &k, ok, 1, 2, 1.0) == -1
           && oracle_pos_sinusoid(y, scale, &k, ok, 1, 2, 0.5) == -1
           && oracle_pos_sinusoid(y, scale, &k, ok, 1, 2, NAN) == -1
           && oracle_pos_sinusoid(y, scale, &k, ok, 1, 2, INFINITY) == -1,
           "sinusoid: base 1, 0.5, NaN and infinity are rejected");
}

/* ---- LayerNorm ---- */

static void test_layernorm_closed_forms(void)
{
    /* mean 2.5, biased variance 1.25: z_j = (x_j - 2.5) / sqrt(1.25 + eps) */
    const double x[4] = {1, 2, 3, 4}, ones[4] = {1, 1, 1, 1}, zeros[4] = {0};
    const double want[4] = {-0x1.57756b3bebf8ep+0, -0x1.c9f1e44fe54bep-2,
                            0x1.c9f1e44fe54bep-2, 0x1.57756b3bebf8ep+0};
    const double want_scale[4] = {0x1.44f8bfd326273p+3, 0x1.977549ae0e4f1p+2,
                                  0x1.977549ae0e4f1p+2, 0x1.44f8bfd326273p+3};
    double y[4], scale[4], k = 0;
    int rc = oracle_layernorm(y, scale, &k, x, ones, zeros, 1, 4, 1e-5);
    tap_ok(rc == 0 && k == 16.0, "layernorm: succeeds with K = 2d + 8 = 16");
    tap_ok(all_same_bits(y, want, 4), "layernorm: [1,2,3,4] matches its closed form");
    tap_ok(all_same_bits(scale, want_scale, 4),
           "layernorm: scale 2.5 r (2 + |z|) + 2|z| rounded upward");

    const double constant[3] = {7, 7, 7};
    const double gamma[3] = {2, -3, 0.5}, beta[3] = {0.25, -1, 3};
    rc = oracle_layernorm(y, scale, &k, constant, gamma, beta, 1, 3, 1e-5);
    tap_ok(rc == 0 && all_equal(y, beta, 3), "layernorm: a constant row gives beta exactly");
    const double single[1] = {-123.5};
    rc = oracle_layernorm(y, scale, &k, single, gamma, beta, 1, 1, 1e-5);
    tap_ok(rc == 0 && y[0] == beta[0] && k == 10.0, "layernorm: d = 1 gives beta, K = 10");
}

static void test_layernorm_conditioning(void)
{
    /* a large common offset: deviations +-0.25, +-0.5 around 10^6 */
    const double x[4] = {1e6 + 0.25, 1e6 - 0.25, 1e6 + 0.5, 1e6 - 0.5};
    const double gamma[4] = {1, 2, -1, 0.5}, beta[4] = {0, 0.25, 0, -1};
    const double want[4] = {0x1.43d0f56126c44p-1, -0x1.03d0f56126c44p+0,
                            -0x1.43d0f56126c44p+0, -0x1.a1e87ab093622p+0};
    const double want_scale[4] = {0x1.967891426e12p+22, 0x1.967891426e12p+23,
                                  0x1.f8206f41c1878p+22, 0x1.f8207f41c1878p+21};
    double y[4], scale[4], k = 0;
    int rc = oracle_layernorm(y, scale, &k, x, gamma, beta, 1, 4, 0x1p-20);
    tap_ok(rc == 0 && all_same_bits(y, want, 4), "layernorm: offset row 10^6 + noise matches mpmath");
    tap_ok(all_same_bits(scale, want_scale, 4), "layernorm: its scales (A r large) match mpmath");

    /* mean 1 + 2^-1074: x_1 - mean = -2^-1074, visible only if the mean is exact */
    const double tiny[3] = {2, 1, 3 * 0x1p-1074};
    const double gamma2[3] = {1, 0x1p1000, 1}, zeros[3] = {0};
    const double want2[3] = {0x1.3988e1409212ep+0, -0x1.3988e1409212ep-74,
                             -0x1.3988e1409212ep+0};
    rc = oracle_layernorm(y, scale, &k, tiny, gamma2, zeros, 1, 3, 0x1p-600);
    tap_ok(rc == 0 && all_same_bits(y, want2, 3),
           "layernorm: a deviation of 2^-1074 from the mean is kept exactly");
}

static void test_layernorm_properties(void)
{
    enum { D = 6 };
    const double x[D] = {0.1, -3, 2.5, 8, -1.25, 0.7};
    const double ones[D] = {1, 1, 1, 1, 1, 1}, zeros[D] = {0};
    const double eps = 1e-2;
    double y[D], scale[D], k = 0, mean = 0, var = 0, mean_y = 0, var_y = 0;
    int rc = oracle_layernorm(y, scale, &k, x, ones, zeros, 1, D, eps);
    for (size_t j = 0; j < D; j++) {
        mean += x[j] / D;
        mean_y += y[j] / D;
    }
    for (size_t j = 0; j < D; j++) {
        var += (x[j] - mean) * (x[j] - mean) / D;
        var_y += (y[j] - mean_y) * (y[j] - mean_y) / D;
    }
    tap_ok(rc == 0 && fabs(mean_y) <= 1e-15, "layernorm: output row has mean 0");
    tap_close_enough(var_y, var / (var + eps), 1e-14,
                     "layernorm: output variance is var / (var + eps)");
    tap_ok(scales_cover(y, scale, D), "layernorm: every scale >= |g|");
}

static void test_layernorm_errors(void)
{
    const double x[2] = {1, 2}, g[2] = {1, 1}, b[2] = {0, 0};
    const double bad_x[2] = {1, NAN}, bad_g[2] = {INFINITY, 1}, bad_b[2] = {0, NAN};
    double y[2], scale[2], k = 0;
    tap_ok(oracle_layernorm(y, scale, &k, x, g, b, 1, 2, 0.0) == -1
           && oracle_layernorm(y, scale, &k, x, g, b, 1, 2, -1e-5) == -1
           && oracle_layernorm(y, scale, &k, x, g, b, 1, 2, NAN) == -1
           && oracle_layernorm(y, scale, &k, x, g, b, 1, 2, INFINITY) == -1,
           "layernorm: eps 0, negative, NaN, infinity are rejected");
    tap_ok(oracle_layernorm(y, scale, &k, x, g, b, 1, 0, 1e-5) == -1,
           "layernorm: d = 0 is rejected");
    tap_ok(oracle_layernorm(y, scale, &k, bad_x, g, b, 1, 2, 1e-5) == -1
           && oracle_layernorm(y, scale, &k, x, bad_g, b, 1, 2, 1e-5) == -1
           && oracle_layernorm(y, scale, &k, x, g, bad_b, 1, 2, 1e-5) == -1,
           "layernorm: non-finite x, gamma, beta are rejected");
}

/* ---- composite ---- */

/* Dyadic tables for the learned composite: E (3, 4), P (5, 4). */
static const double DYADIC_E[12] = {
    0.5, -1.25, 3.0, 0.0,
    -2.0, 0.75, 0.125, 6.5,
    1.0, 1.0, -0.5, -0.25,
};
static const double DYADIC_P[20] = {
    0.25, 0.5, -0.75, 1.0,
    -1.5, 2.0, 0.0, -0.125,
    3.0, -0.25, 0.5, 0.5,
    0.0, 0.0, 1.25, -6.5,
    9.0, -9.0, 0.25, 0.125,
};
static const int64_t DYADIC_IDS[3] = {1, 2, 0};

/* 1 if x and scale are c E[ids[t]] + P[1 + t] and |x| + |c E| + |P|,
 * computed in double where every step is exact.
 * x, scale: (3, 4) */
static int is_dyadic_composite(const double *x, const double *scale, double c)
{
    for (size_t t = 0; t < 3; t++) {
        for (size_t j = 0; j < 4; j++) {
            double e = c * DYADIC_E[(size_t)DYADIC_IDS[t] * 4 + j];
            double p = DYADIC_P[(1 + t) * 4 + j];
            double sum = e + p;
            if (x[t * 4 + j] != sum
                || scale[t * 4 + j] != fabs(sum) + fabs(e) + fabs(p))
                return 0;
        }
    }
    return 1;
}

static void test_compose_learned(void)
{
    oracle_positions pos = {.learned = 1, .P = DYADIC_P, .L = 5, .start = 1};
    double x[12], scale[12], k = 0;
    int rc = oracle_compose(x, scale, &k, DYADIC_E, DYADIC_IDS, &pos, 3, 3, 4);
    tap_ok(rc == 0 && k == 4.0, "compose: succeeds with K = 4");
    tap_ok(is_dyadic_composite(x, scale, 1.0), "compose: c = 1, learned, equals the exact sum and scale");
    pos.scale_by_sqrt_d = 1;
    rc = oracle_compose(x, scale, &k, DYADIC_E, DYADIC_IDS, &pos, 3, 3, 4);
    tap_ok(rc == 0 && is_dyadic_composite(x, scale, 2.0), "compose: d = 4, c = sqrt(4) = 2 exactly");

    /* d = 2: c = sqrt(2), x = [sqrt2 * 1 + 0, sqrt2 * -3 + 0.5] */
    const double E[2] = {1, -3}, P[2] = {0, 0.5};
    const int64_t first[1] = {0};
    oracle_positions root2 = {.learned = 1, .P = P, .L = 1, .scale_by_sqrt_d = 1};
    rc = oracle_compose(x, scale, &k, E, first, &root2, 1, 1, 2);
    tap_ok(rc == 0 && same_bits(x[0], 0x1.6a09e667f3bcdp+0)
           && same_bits(x[1], -0x1.df0ed99bed9b3p+1),
           "compose: c = sqrt(2) x E + P rounded once");
    tap_ok(same_bits(scale[0], 0x1.6a09e667f3bcdp+1) && same_bits(scale[1], 0x1.0f876ccdf6cdap+3),
           "compose: scales 2 sqrt2 and 6 sqrt2 rounded upward");
}

static void test_compose_sinusoid(void)
{
    enum { N = 3, D = 6 };
    const double E[2 * D] = {0};
    const int64_t ids[N] = {1, 0, 1}, positions[N] = {41, 42, 43};
    oracle_positions pos = {.learned = 0, .base = 10000, .start = 41};
    double x[N * D], scale[N * D], pe[N * D], pe_scale[N * D], k = 0;
    int rc = oracle_compose(x, scale, &k, E, ids, &pos, N, 2, D);
    int rc2 = oracle_pos_sinusoid(pe, pe_scale, &k, positions, N, D, 10000);
    int covers = rc == 0 && rc2 == 0;
    for (size_t i = 0; i < N * D; i++)
        covers &= scale[i] >= pe_scale[i] && scale[i] >= fabs(x[i]);
    tap_ok(rc == 0 && rc2 == 0 && all_same_bits(x, pe, N * D),
           "compose: zero tokens plus sinusoid from start 41 equal the encoding");
    tap_ok(covers, "compose: its scale covers S_P and |x|");
}

static void test_compose_errors(void)
{
    const int64_t first[1] = {0}, out_of_range[1] = {3};
    double x[8], scale[8], k = 0;
    oracle_positions learned = {.learned = 1, .P = DYADIC_P, .L = 5, .start = 4};
    tap_ok(oracle_compose(x, scale, &k, DYADIC_E, first, &learned, 1, 3, 4) == 0
           && oracle_compose(x, scale, &k, DYADIC_E, DYADIC_IDS, &learned, 2, 3, 4) == -1,
           "compose: learned start + n = L is accepted, L + 1 rejected");
    learned.start = -1;
    tap_ok(oracle_compose(x, scale, &k, DYADIC_E, first, &learned, 1, 3, 4) == -1,
           "compose: start < 0 is rejected");
    learned.start = 0;
    learned.P = NULL;
    tap_ok(oracle_compose(x, scale, &k, DYADIC_E, first, &learned, 1, 3, 4) == -1,
           "compose: learned positions without a table are rejected");
    oracle_positions sinusoid = {.learned = 0, .base = 10000,
                                 .start = (int64_t)1 << 53};
    tap_ok(oracle_compose(x, scale, &k, DYADIC_E, first, &sinusoid, 1, 3, 4) == 0
           && oracle_compose(x, scale, &k, DYADIC_E, DYADIC_IDS, &sinusoid, 2, 3, 4) == -1,
           "compose: sinusoid last position 2^53 accepted, 2^53 + 1 rejected");
    sinusoid.start = 0;
    sinusoid.base = 1.0;
    tap_ok(oracle_compose(x, scale, &k, DYADIC_E, first, &sinusoid, 1, 3, 4) == -1,
           "compose: sinusoid base 1 is rejected");
    sinusoid.base = 10000;
    tap_ok(oracle_compose(x, scale, &k, DYADIC_E, out_of_range, &sinusoid, 1, 3, 4) == -1,
           "compose: id |V| is rejected");
    double with_nan[20];
    memcpy(with_nan, DYADIC_P, sizeof with_nan);
    with_nan[19] = NAN;
    learned.P = with_nan;
    tap_ok(oracle_compose(x, scale, &k, DYADIC_E, first, &learned, 1, 3, 4) == -1,
           "compose: a NaN in an unread row of P is rejected");
}

/* ---- composite followed by LayerNorm ---- */

static void test_compose_layernorm_learned(void)
{
    oracle_positions pos = {.learned = 1, .P = DYADIC_P, .L = 5, .start = 1};
    const double gamma[4] = {1, -2, 0.5, 3}, beta[4] = {0, 1, -0.25, 0.5};
    double x[12], xs[12], y[12], ys[12], want[12], want_scale[12], k = 0, k2 = 0;
    int rc = oracle_compose(x, xs, &k, DYADIC_E, DYADIC_IDS, &pos, 3, 3, 4);
    rc |= oracle_layernorm(want, want_scale, &k, x, gamma, beta, 3, 4, 1e-5);
    rc |= oracle_compose_layernorm(y, ys, &k2, DYADIC_E, DYADIC_IDS, &pos,
                                   gamma, beta, 3, 3, 4, 1e-5);
    int wider = rc == 0;
    for (size_t i = 0; i < 12; i++)
        wider &= ys[i] > want_scale[i];
    tap_ok(rc == 0 && k2 == 16.0, "compose_layernorm: succeeds with K = 2d + 8");
    tap_ok(all_same_bits(y, want, 12), "compose_layernorm: an exact composite gives LayerNorm of it");
    tap_ok(wider && scales_cover(y, ys, 12), "compose_layernorm: scale adds the composite's error");
}

static void test_compose_layernorm_exact_composite(void)
{
    /* x = [2^20 sqrt2, (2^20 + 1) sqrt2 - fl(sqrt2)]: the two differ by
     * fl(sqrt2) - sqrt2 ~ 1e-16, lost if the composite is rounded to double */
    const double E[2] = {0x1p20, 0x1p20 + 1}, P[2] = {0, -0x1.6a09e667f3bcdp+0};
    const double gamma[2] = {1, 1}, beta[2] = {0, 0};
    const int64_t first[1] = {0};
    oracle_positions pos = {.learned = 1, .P = P, .L = 1, .scale_by_sqrt_d = 1};
    double x[2], xs[2], y[2], ys[2], rounded[2], rs[2], k = 0;
    int rc = oracle_compose_layernorm(y, ys, &k, E, first, &pos, gamma, beta,
                                      1, 1, 2, 0x1p-120);
    tap_ok(rc == 0 && same_bits(y[0], 0x1.ffeae71ad39d7p-1)
           && same_bits(y[1], -0x1.ffeae71ad39d7p-1),
           "compose_layernorm: normalises the exact composite (mpmath)");
    rc = oracle_compose(x, xs, &k, E, first, &pos, 1, 1, 2);
    rc |= oracle_layernorm(rounded, rs, &k, x, gamma, beta, 1, 2, 0x1p-120);
    tap_ok(rc == 0 && x[0] == x[1] && rounded[0] == 0 && rounded[1] == 0,
           "compose_layernorm: (the same row rounded to double would be constant)");
    tap_ok(scales_cover(y, ys, 2), "compose_layernorm: every scale >= |g|");
}

static void test_compose_layernorm_errors(void)
{
    oracle_positions pos = {.learned = 1, .P = DYADIC_P, .L = 5, .start = 3};
    const double gamma[4] = {1, 1, 1, 1}, beta[4] = {0};
    const int64_t out_of_range[1] = {3};
    double y[12], scale[12], k = 0;
    tap_ok(oracle_compose_layernorm(y, scale, &k, DYADIC_E, DYADIC_IDS, &pos,
                                    gamma, beta, 3, 3, 4, 1e-5) == -1,
           "compose_layernorm: start + n > L is rejected");
    pos.start = 0;
    tap_ok(oracle_compose_layernorm(y, scale, &k, DYADIC_E, DYADIC_IDS, &pos,
                                    gamma, beta, 3, 3, 4, 0.0) == -1
           && oracle_compose_layernorm(y, scale, &k, DYADIC_E, out_of_range, &pos,
                                       gamma, beta, 1, 3, 4, 1e-5) == -1,
           "compose_layernorm: eps = 0 and id |V| are rejected");
}

int main(void)
{
    test_lookup();
    test_onehot();
    test_learned();
    test_sinusoid_closed_forms();
    test_sinusoid_against_mpmath();
    test_sinusoid_properties();
    test_sinusoid_errors();
    test_layernorm_closed_forms();
    test_layernorm_conditioning();
    test_layernorm_properties();
    test_layernorm_errors();
    test_compose_learned();
    test_compose_sinusoid();
    test_compose_errors();
    test_compose_layernorm_learned();
    test_compose_layernorm_exact_composite();
    test_compose_layernorm_errors();
    mpfr_free_cache();
    tap_done();
    return tap_exit_status();
}
