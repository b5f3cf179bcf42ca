/*
 * properties.c -- TAP property tests of the reference library, besides the
 * golden vectors: identities that hold for every input, checked on random
 * inputs (GSL's mt19937 with fixed seeds, so every run sees the same cases).
 *
 *   (a) compose = lookup + learned position row, and = lookup + sinusoid row;
 *   (b) the one-hot product equals the lookup of the same ids;
 *   (c) LayerNorm with gamma = 1, beta = 0 gives rows of mean 0 and biased
 *       variance var / (var + eps); constant rows and d = 1 give beta;
 *   (d) the sinusoid: unit-norm (sin, cos) pairs, the unpaired last column of
 *       an odd width, the row of position 0, and rotation by k positions.
 *
 * Why: the vectors pin the reference at chosen points; these identities tie
 * the ops to each other and to their definitions everywhere else, and catch
 * the classic convention bugs (unbiased variance, eps outside the root,
 * concatenated sin|cos halves, a misplaced frequency exponent).
 *
 * Every bound is derived from spec/tolerance.md in a comment beside it, in
 * units of u = 2^-53 (class fp64) times the op's scale. Where an identity is
 * exact in binary64 (copies, sums of short dyadic numbers) the test asks for
 * equality. Bounds are first order in u, as the tolerance model is; the
 * scales are computed from the row in double, whose own relative error is a
 * few d*u and changes the bound only at second order.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "lmr.h"
#include "check.h"
#include "tap.h"

/* u, the unit roundoff of binary64 (spec/tolerance.md, class fp64) */
static const double UNIT_ROUNDOFF = DBL_EPSILON / 2;
static const double BASE = LMR_SINUSOID_DEFAULT_BASE;
static const double EPS = LMR_LAYERNORM_DEFAULT_EPS;

/* ---- helpers ------------------------------------------------------------- */

static void *alloc_or_bail(size_t count, size_t size)
{
    void *block = calloc(count > 0 ? count : 1, size);
    if (block == NULL) {
        printf("Bail out! out of memory\n");
        exit(2);
    }
    return block;
}

static double *alloc_doubles(size_t count)
{
    return alloc_or_bail(count, sizeof(double));
}

static int64_t *alloc_int64s(size_t count)
{
    return alloc_or_bail(count, sizeof(int64_t));
}

static gsl_rng *seeded_rng(unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (rng == NULL) {
        printf("Bail out! cannot allocate the random generator\n");
        exit(2);
    }
    gsl_rng_set(rng, seed);
    return rng;
}

/* k * 2^exponent with k uniform in [-2^(bits-1), 2^(bits-1)); bits <= 31. */
static double random_dyadic(gsl_rng *rng, int bits, int exponent)
{
    unsigned long span = 1UL << bits;
    long k = (long)gsl_rng_uniform_int(rng, span) - (long)(span / 2);
    return ldexp((double)k, exponent);
}

/* values: (count), each random_dyadic(rng, bits, exponent) */
static void fill_dyadic(double *values, size_t count, gsl_rng *rng, int bits,
                        int exponent)
{
    for (size_t i = 0; i < count; i++)
        values[i] = random_dyadic(rng, bits, exponent);
}

/* A double with a full 53-bit significand, a random sign and a binary
 * exponent uniform in [-1080, 1020] (so subnormals and +-0 occur too);
 * one value in eight is a signed zero. */
static double random_wide(gsl_rng *rng)
{
    double high = (double)gsl_rng_get(rng);          /* 32 random bits */
    double low = (double)(gsl_rng_get(rng) >> 11);   /* 21 more */
    double significand = ldexp(high, -32) + ldexp(low, -53); /* [0, 1) */
    double sign = gsl_rng_uniform_int(rng, 2) ? -1.0 : 1.0;
    if (gsl_rng_uniform_int(rng, 8) == 0)
        return sign * 0.0;
    int exponent = (int)gsl_rng_uniform_int(rng, 2101) - 1080;
    return sign * ldexp(significand, exponent);
}

/* A double uniform in [-limit, limit) with a 53-bit significand. */
static double random_uniform(gsl_rng *rng, double limit)
{
    double high = (double)gsl_rng_get(rng);
    double low = (double)(gsl_rng_get(rng) >> 11);
    double unit = ldexp(high, -32) + ldexp(low, -53); /* [0, 1) */
    return limit * (2.0 * unit - 1.0);
}

/* ids: (n), uniform in [0, limit) */
static void fill_ids(int64_t *ids, size_t n, size_t limit, gsl_rng *rng)
{
    for (size_t t = 0; t < n; t++)
        ids[t] = (int64_t)gsl_rng_uniform_int(rng, limit);
}

/* ---- (a) compose = lookup + position rows ------------------------------------ */

struct learned_case {
    size_t vocab, d, max_len, n;
    int scale_by_sqrt_d;
};

static const struct learned_case LEARNED_CASES[] = {
    {1, 1, 1, 1, 0},    {5, 4, 8, 3, 0},     {50, 7, 20, 20, 0},
    {300, 768, 40, 33, 0},
    {5, 4, 8, 8, 1},    {40, 9, 30, 12, 1},  {64, 64, 128, 100, 1},
    {50, 7, 20, 20, 1}, {30, 768, 20, 10, 1},
};

static int is_perfect_square(size_t d)
{
    size_t root = (size_t)(sqrt((double)d) + 0.5);
    return root * root == d;
}

/* Compares composite (n, d) with c * tokens + rows (n, d each).
 *
 * With c = 1, or c = sqrt(d) an integer, every term is a dyadic number of at
 * most 12 + 5 significant bits on a common grid, so c*E and c*E + P are exact
 * in binary64 and the comparison is equality. Otherwise both the library and
 * this test evaluate c*E + P with at most 4u*s error each, s = |X| + |c E| +
 * |P| (spec/tolerance.md#compose), so they differ by at most 8u*s. */
static struct worst compare_composite(const double *composite,
                                      const double *tokens, const double *rows,
                                      size_t count, size_t d, int scaled)
{
    struct worst worst = worst_start();
    int exact = !scaled || is_perfect_square(d);
    double c = scaled ? sqrt((double)d) : 1.0;
    for (size_t i = 0; i < count; i++) {
        double token_term = c * tokens[i];
        double want = token_term + rows[i];
        double scale = fabs(composite[i]) + fabs(token_term) + fabs(rows[i]);
        double bound = exact ? 0.0 : 8 * UNIT_ROUNDOFF * scale;
        worst_update(&worst, fabs(composite[i] - want), bound);
    }
    return worst;
}

static void check_compose_learned(gsl_rng *rng, struct learned_case test)
{
    size_t n = test.n, d = test.d;
    double *table = alloc_doubles(test.vocab * d);         /* E: (vocab, d) */
    double *position_table = alloc_doubles(test.max_len * d); /* P: (max_len, d) */
    int64_t *ids = alloc_int64s(n);                         /* (n) */
    int64_t *positions = alloc_int64s(n);                   /* (n) */
    double *composite = alloc_doubles(n * d);               /* (n, d) */
    double *tokens = alloc_doubles(n * d);                  /* (n, d) */
    double *rows = alloc_doubles(n * d);                    /* (n, d) */
    int64_t start = (int64_t)gsl_rng_uniform_int(rng, test.max_len - n + 1);

    fill_dyadic(table, test.vocab * d, rng, 12, -8);
    fill_dyadic(position_table, test.max_len * d, rng, 12, -3);
    fill_ids(ids, n, test.vocab, rng);
    for (size_t t = 0; t < n; t++)
        positions[t] = start + (int64_t)t;
    lmr_positions learned = {LMR_POSITIONS_LEARNED,
                             lmr_mat_of(position_table, test.max_len, d), 0.0,
                             start, test.scale_by_sqrt_d};
    lmr_mat E = lmr_mat_of(table, test.vocab, d);
    int status = lmr_compose(lmr_mat_out_of(composite, n, d), E,
                             lmr_ids_of(ids, n), &learned);
    int status_tokens = lmr_embed_lookup(lmr_mat_out_of(tokens, n, d), E,
                                         lmr_ids_of(ids, n));
    int status_rows = lmr_pos_learned(lmr_mat_out_of(rows, n, d),
                                      learned.table, lmr_ids_of(positions, n));
    struct worst worst = compare_composite(composite, tokens, rows, n * d, d,
                                           test.scale_by_sqrt_d);
    worst.calls_ok = status == LMR_OK && status_tokens == LMR_OK
                     && status_rows == LMR_OK;
    worst_report(&worst, "compose learned = %slookup + pos_learned "
                 "(|V|=%zu d=%zu L=%zu n=%zu start=%lld)",
                 test.scale_by_sqrt_d ? "sqrt(d) * " : "", test.vocab, d,
                 test.max_len, n, (long long)start);
    free(table);
    free(position_table);
    free(ids);
    free(positions);
    free(composite);
    free(tokens);
    free(rows);
}

struct sinusoid_compose_case {
    size_t vocab, d, n;
    int64_t start;
    double base;
    int scale_by_sqrt_d;
};

static const struct sinusoid_compose_case SINUSOID_COMPOSE_CASES[] = {
    {7, 1, 4, 0, 10000.0, 0},
    {7, 2, 5, 0, 10000.0, 0},
    {20, 7, 9, 1, 10000.0, 0},
    {20, 64, 16, 1000, 10000.0, 0},
    {50, 768, 8, 1000000, 10000.0, 0},
    {10, 16, 4, ((int64_t)1 << 53) - 3, 10000.0, 0}, /* last position 2^53 */
    {10, 5, 3, 12345, 2.5, 0},
    {20, 12, 6, 42, 10000.0, 1},
    {20, 16, 6, 77, 10000.0, 1},
};

/* With c = 1 the composite is fl(E + PE) on both sides: the token term is an
 * exact copy and the sinusoid row comes from the same library, so the single
 * correctly rounded addition makes them equal. With c = sqrt(d) the bound of
 * compare_composite applies (the sinusoid term is shared, so its own error
 * does not enter). */
static void check_compose_sinusoid(gsl_rng *rng,
                                   struct sinusoid_compose_case test)
{
    size_t n = test.n, d = test.d;
    double *table = alloc_doubles(test.vocab * d); /* E: (vocab, d) */
    int64_t *ids = alloc_int64s(n);                /* (n) */
    int64_t *positions = alloc_int64s(n);          /* (n) */
    double *composite = alloc_doubles(n * d);      /* (n, d) */
    double *tokens = alloc_doubles(n * d);         /* (n, d) */
    double *rows = alloc_doubles(n * d);           /* (n, d) */

    fill_dyadic(table, test.vocab * d, rng, 20, -10);
    fill_ids(ids, n, test.vocab, rng);
    for (size_t t = 0; t < n; t++)
        positions[t] = test.start + (int64_t)t;
    lmr_positions sinusoid = {LMR_POSITIONS_SINUSOID, lmr_mat_of(NULL, 0, 0),
                              test.base, test.start, test.scale_by_sqrt_d};
    lmr_mat E = lmr_mat_of(table, test.vocab, d);
    int status = lmr_compose(lmr_mat_out_of(composite, n, d), E,
                             lmr_ids_of(ids, n), &sinusoid);
    int status_tokens = lmr_embed_lookup(lmr_mat_out_of(tokens, n, d), E,
                                         lmr_ids_of(ids, n));
    int status_rows = lmr_pos_sinusoid(lmr_mat_out_of(rows, n, d),
                                       lmr_ids_of(positions, n), test.base);
    struct worst worst = compare_composite(composite, tokens, rows, n * d, d,
                                           test.scale_by_sqrt_d);
    worst.calls_ok = status == LMR_OK && status_tokens == LMR_OK
                     && status_rows == LMR_OK;
    worst_report(&worst, "compose sinusoid = %slookup + pos_sinusoid "
                 "(d=%zu n=%zu start=%lld base=%g)",
                 test.scale_by_sqrt_d ? "sqrt(d) * " : "", d, n,
                 (long long)test.start, test.base);
    free(table);
    free(ids);
    free(positions);
    free(composite);
    free(tokens);
    free(rows);
}

static void test_compose(void)
{
    gsl_rng *rng = seeded_rng(20240601UL);
    size_t learned_count = sizeof LEARNED_CASES / sizeof LEARNED_CASES[0];
    size_t sinusoid_count =
        sizeof SINUSOID_COMPOSE_CASES / sizeof SINUSOID_COMPOSE_CASES[0];
    for (size_t i = 0; i < learned_count; i++)
        check_compose_learned(rng, LEARNED_CASES[i]);
    for (size_t i = 0; i < sinusoid_count; i++)
        check_compose_sinusoid(rng, SINUSOID_COMPOSE_CASES[i]);
    gsl_rng_free(rng);
}

/* ---- (b) one-hot product = lookup ------------------------------------------- */

struct copy_case {
    size_t vocab, d, n;
};

static const struct copy_case COPY_CASES[] = {
    {1, 1, 1}, {3, 4, 6}, {17, 5, 40}, {64, 33, 20}, {500, 12, 64}, {40, 768, 7},
};

/* table: (vocab, d) of random_wide values; its first entries are the
 * extremes of the format when there is room for them. */
static void fill_wide_table(double *table, size_t count, gsl_rng *rng)
{
    static const double EXTREMES[5] = {-0.0, DBL_MAX, -DBL_MIN, 0x1p-1074,
                                       -DBL_MAX};
    for (size_t i = 0; i < count; i++)
        table[i] = i < 5 ? EXTREMES[i] : random_wide(rng);
}

/* onehot: (n, vocab), row t the one-hot row of ids[t] */
static void build_onehot(double *onehot, const int64_t *ids, size_t n,
                         size_t vocab)
{
    memset(onehot, 0, n * vocab * sizeof *onehot);
    for (size_t t = 0; t < n; t++)
        onehot[t * vocab + (size_t)ids[t]] = 1.0;
}

/* 1 if a[i] == b[i] for all i (+0 equals -0). a, b: (count) */
static int all_equal(const double *a, const double *b, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!(a[i] == b[i]))
            return 0;
    return 1;
}

/* spec/tolerance.md#copy: K = 1, s = |g|, and in fp64 the copy is exact
 * (e = 0). The one-hot sum has one term 1*E[w,j] and zeros 0*E[v,j] (E
 * finite), so it is exact too, except that it may turn -0 into +0, which
 * the tolerance model counts as equal. Learned positions are the same copy
 * as the lookup, bit for bit. */
static void check_onehot_equals_lookup(gsl_rng *rng, struct copy_case test)
{
    size_t n = test.n, vocab = test.vocab, d = test.d;
    double *table = alloc_doubles(vocab * d);   /* E: (vocab, d) */
    double *onehot = alloc_doubles(n * vocab);  /* (n, vocab) */
    int64_t *ids = alloc_int64s(n);             /* (n) */
    double *by_lookup = alloc_doubles(n * d);   /* (n, d) */
    double *by_product = alloc_doubles(n * d);  /* (n, d) */
    double *by_position = alloc_doubles(n * d); /* (n, d) */

    fill_wide_table(table, vocab * d, rng);
    fill_ids(ids, n, vocab, rng);
    ids[0] = 0; /* read the row of extremes */
    build_onehot(onehot, ids, n, vocab);
    lmr_mat E = lmr_mat_of(table, vocab, d);
    int status_lookup = lmr_embed_lookup(lmr_mat_out_of(by_lookup, n, d), E,
                                         lmr_ids_of(ids, n));
    int status_product = lmr_embed_onehot(lmr_mat_out_of(by_product, n, d),
                                          lmr_mat_of(onehot, n, vocab), E);
    int status_position = lmr_pos_learned(lmr_mat_out_of(by_position, n, d), E,
                                          lmr_ids_of(ids, n));
    int calls_ok = status_lookup == LMR_OK && status_product == LMR_OK
                   && status_position == LMR_OK;
    tap_ok(calls_ok && all_equal(by_product, by_lookup, n * d),
           "onehot product = lookup, exactly (|V|=%zu d=%zu n=%zu)", vocab, d, n);
    tap_ok(calls_ok && memcmp(by_position, by_lookup, n * d * sizeof(double)) == 0,
           "pos_learned = lookup on the same table, bit for bit (|V|=%zu d=%zu n=%zu)",
           vocab, d, n);
    free(table);
    free(onehot);
    free(ids);
    free(by_lookup);
    free(by_product);
    free(by_position);
}

static void test_onehot(void)
{
    gsl_rng *rng = seeded_rng(4242UL);
    size_t count = sizeof COPY_CASES / sizeof COPY_CASES[0];
    for (size_t i = 0; i < count; i++)
        check_onehot_equals_lookup(rng, COPY_CASES[i]);
    gsl_rng_free(rng);
}

/* ---- (c) LayerNorm ------------------------------------------------------------ */

/* Rows x_j = (offset + k_j) * 2^-exponent with k_j uniform on `bits` bits
 * (any finite row is valid input, spec/conventions.md, so the exponents span
 * the double range).
 * bits <= 12 and d <= 768 keep the exact statistics below in int64 and the
 * sum of squared deviations below 2^53. */
struct layernorm_case {
    size_t d;
    int bits;
    int64_t offset;
    int exponent;
    double eps;
};

enum { LAYERNORM_ROWS = 4 };

static const struct layernorm_case LAYERNORM_CASES[] = {
    {2, 12, 0, 11, 1e-5},
    {3, 12, 0, 11, 1e-5},
    {8, 12, 0, 11, 1e-5},
    {64, 12, 0, 11, 1e-5},
    {767, 12, 0, 11, 1e-5},
    {768, 12, 0, 11, 1e-5},
    {768, 12, 0, 11, 1.0},                  /* eps comparable to var */
    {64, 4, 0, 20, 1e-5},                   /* var far below eps */
    {16, 12, (int64_t)1 << 20, 11, 1e-5},   /* offset 512 */
    {768, 12, (int64_t)1 << 40, 0, 1e-5},   /* offset 2^40: A*r ~ 2^29 */
    {5, 12, -((int64_t)1 << 30), 5, 1e-5},  /* negative offset */
    {8, 12, 0, -480, 1e-5},                 /* |x| ~ 2^491 */
    {8, 12, 0, -1000, 1e-5},                /* |x| ~ 2^1011: x^2 overflows */
    {768, 8, 1024, -1013, 1e-5},            /* x ~ 2^1023: the sum overflows */
    {8, 12, 0, 1000, 0x1p-1074},            /* |x| ~ 2^-989: eps dominates */
};

/* What the exact normalisation of one row implies, for the checks below. */
struct row_statistics {
    double a_r;    /* A r = mean|x| / sqrt(var + eps), the condition number */
    double target; /* var / (var + eps), the mean square of the exact z */
};

/* The statistics of the row x_j = (offset + k_j) 2^-exponent, computed on the
 * integers m_j = offset + k_j: z is unchanged when x is scaled by 2^exponent
 * and eps by 2^(2 exponent), and the integers neither overflow nor underflow.
 * With S = sum k_j, the biased variance of m is sum_j (d k_j - S)^2 / d^3,
 * the integer sum exact (see struct layernorm_case); target is then rounded
 * three times (the division by d^3, the sum with eps, the quotient).
 * k: (d) */
static struct row_statistics exact_statistics(const int64_t *k, size_t d,
                                              int64_t offset, int exponent,
                                              double eps)
{
    int64_t sum = 0;
    uint64_t squares = 0;
    double sum_abs = 0.0; /* integers below 2^51: exact */
    for (size_t j = 0; j < d; j++) {
        sum += k[j];
        sum_abs += fabs((double)(offset + k[j]));
    }
    for (size_t j = 0; j < d; j++) {
        int64_t deviation = (int64_t)d * k[j] - sum;
        squares += (uint64_t)(deviation * deviation);
    }
    double cube = (double)d * (double)d * (double)d;
    double variance = (double)squares / cube;
    double scaled_eps = ldexp(eps, 2 * exponent);
    struct row_statistics stats;
    stats.a_r = sum_abs / (double)d / sqrt(variance + scaled_eps);
    stats.target = variance / (variance + scaled_eps);
    return stats;
}

/* Checks one normalised row y (d) against mean 0 and mean square
 * stats.target.
 *
 * spec/tolerance.md#layernorm: each y_j is within (2d+8) u s_j of the exact
 * z_j, with s_j = A r (2 + |z_j|) + 2|z_j| for gamma = 1, beta = 0 (|Y_j| =
 * |z_j|), A = mean|x|, r = 1/sqrt(var + eps). The exact z has mean 0 and
 * mean square var / (var + eps). So
 *   |mean(y)|       <= (2d+8) u mean(s) + d u mean|y|
 * (the second term is this test's recursive sum of d values, then / d), and
 *   |mean(y^2) - target| <= (2d+8) u (2/d) sum |y_j| s_j
 *                           + (d+1) u mean(y^2) + 3u target
 * (y^2 - z^2 = 2 z dz to first order; this test's squares, sum and division;
 * and the 3 roundings of target). */
static void check_normalised_row(const double *y, size_t d,
                                 struct row_statistics stats,
                                 struct worst *mean_worst,
                                 struct worst *variance_worst)
{
    const double u = UNIT_ROUNDOFF;
    double k = 2.0 * (double)d + 8.0;
    double sum = 0.0, sum_abs = 0.0, sum_squares = 0.0;
    double sum_scale = 0.0, sum_weighted_scale = 0.0;
    for (size_t j = 0; j < d; j++) {
        double magnitude = fabs(y[j]);
        double scale = stats.a_r * (2.0 + magnitude) + 2.0 * magnitude;
        sum += y[j];
        sum_abs += magnitude;
        sum_squares += y[j] * y[j];
        sum_scale += scale;
        sum_weighted_scale += magnitude * scale;
    }
    double mean = sum / (double)d;
    double mean_square = sum_squares / (double)d;
    double mean_bound = k * u * sum_scale / (double)d
                        + (double)d * u * sum_abs / (double)d;
    double variance_bound = k * u * 2.0 * sum_weighted_scale / (double)d
                            + ((double)d + 1.0) * u * mean_square
                            + 3.0 * u * stats.target;
    worst_update(mean_worst, fabs(mean), mean_bound);
    worst_update(variance_worst, fabs(mean_square - stats.target),
                 variance_bound);
}

static void check_layernorm_moments(gsl_rng *rng, struct layernorm_case test)
{
    size_t d = test.d, count = LAYERNORM_ROWS * d;
    int64_t *k = alloc_int64s(count);   /* (LAYERNORM_ROWS, d) */
    double *x = alloc_doubles(count);   /* (LAYERNORM_ROWS, d) */
    double *y = alloc_doubles(count);   /* (LAYERNORM_ROWS, d) */
    double *ones = alloc_doubles(d);    /* gamma: (d) */
    double *zeros = alloc_doubles(d);   /* beta: (d) */
    unsigned long span = 1UL << test.bits;

    for (size_t i = 0; i < count; i++) {
        k[i] = (int64_t)gsl_rng_uniform_int(rng, span) - (int64_t)(span / 2);
        x[i] = ldexp((double)(test.offset + k[i]), -test.exponent);
    }
    for (size_t j = 0; j < d; j++)
        ones[j] = 1.0;
    struct worst mean_worst = worst_start(), variance_worst = worst_start();
    int status = lmr_layernorm(lmr_mat_out_of(y, LAYERNORM_ROWS, d),
                               lmr_mat_of(x, LAYERNORM_ROWS, d),
                               lmr_vec_of(ones, d), lmr_vec_of(zeros, d),
                               test.eps);
    for (size_t t = 0; status == LMR_OK && t < LAYERNORM_ROWS; t++)
        check_normalised_row(y + t * d, d,
                             exact_statistics(k + t * d, d, test.offset,
                                              test.exponent, test.eps),
                             &mean_worst, &variance_worst);
    mean_worst.calls_ok = variance_worst.calls_ok = status == LMR_OK;
    worst_report(&mean_worst, "layernorm rows have mean 0 (d=%zu "
                 "x=(%lld + k)*2^%d, |k|<=2^%d, eps=%g)", d,
                 (long long)test.offset, -test.exponent, test.bits - 1,
                 test.eps);
    worst_report(&variance_worst, "layernorm rows have biased variance "
                 "var/(var+eps) (d=%zu x=(%lld + k)*2^%d, |k|<=2^%d, eps=%g)",
                 d, (long long)test.offset, -test.exponent, test.bits - 1,
                 test.eps);
    free(k);
    free(x);
    free(y);
    free(ones);
    free(zeros);
}

/* gamma, beta: (d), random with full significands */
static void fill_affine(double *gamma, double *beta, size_t d, gsl_rng *rng)
{
    for (size_t j = 0; j < d; j++) {
        gamma[j] = random_uniform(rng, 4.0);
        beta[j] = random_uniform(rng, 4.0);
    }
}

struct constant_case {
    size_t d;
    double value; /* a dyadic number with at most 3 significant bits */
};

static const struct constant_case CONSTANT_CASES[] = {
    {1, 3.0}, {2, -0.375}, {5, 0x1.8p40}, {64, 0x1.4p-30},
    {768, 0.0}, {768, -5.0}, {64, 0x3p-1074},
};

/* A constant row c: d*c and every partial sum k*c (k <= d < 2^10) have at
 * most 13 significant bits, so any summation order gives the mean c exactly,
 * every deviation is exactly 0, and Y = gamma * 0 + beta = beta exactly
 * (spec/layernorm.md: "its normalised part is exactly 0"). Rows c and -c. */
static void check_constant_rows(gsl_rng *rng, struct constant_case test)
{
    size_t d = test.d;
    double *x = alloc_doubles(2 * d);    /* (2, d) */
    double *y = alloc_doubles(2 * d);    /* (2, d) */
    double *gamma = alloc_doubles(d);    /* (d) */
    double *beta = alloc_doubles(d);     /* (d) */
    for (size_t j = 0; j < d; j++) {
        x[j] = test.value;
        x[d + j] = -test.value;
    }
    fill_affine(gamma, beta, d, rng);
    int status = lmr_layernorm(lmr_mat_out_of(y, 2, d), lmr_mat_of(x, 2, d),
                               lmr_vec_of(gamma, d), lmr_vec_of(beta, d), EPS);
    tap_ok(status == LMR_OK && all_equal(y, beta, d) && all_equal(y + d, beta, d),
           "layernorm of constant rows c and -c is beta exactly (c=%a d=%zu)",
           test.value, d);
    free(x);
    free(y);
    free(gamma);
    free(beta);
}

/* d = 1: the mean of one value is that value, so sigma^2 = 0, z = 0 and
 * Y = beta exactly, whatever x (spec/layernorm.md). */
static void check_width_one(gsl_rng *rng)
{
    enum { ROWS = 16 };
    double x[ROWS], y[ROWS]; /* (ROWS, 1) each */
    double gamma[1], beta[1];
    for (size_t t = 0; t < ROWS; t++)
        x[t] = random_wide(rng);
    x[0] = -DBL_MAX;
    x[1] = 0x1p-1074;
    fill_affine(gamma, beta, 1, rng);
    int status = lmr_layernorm(lmr_mat_out_of(y, ROWS, 1),
                               lmr_mat_of(x, ROWS, 1), lmr_vec_of(gamma, 1),
                               lmr_vec_of(beta, 1), EPS);
    int all_beta = status == LMR_OK;
    for (size_t t = 0; t < ROWS; t++)
        all_beta = all_beta && y[t] == beta[0];
    tap_ok(all_beta, "layernorm with d = 1 gives beta exactly (%d rows)", ROWS);
}

static void test_layernorm(void)
{
    gsl_rng *rng = seeded_rng(8675309UL);
    size_t moment_count = sizeof LAYERNORM_CASES / sizeof LAYERNORM_CASES[0];
    size_t constant_count = sizeof CONSTANT_CASES / sizeof CONSTANT_CASES[0];
    for (size_t i = 0; i < moment_count; i++)
        check_layernorm_moments(rng, LAYERNORM_CASES[i]);
    for (size_t i = 0; i < constant_count; i++)
        check_constant_rows(rng, CONSTANT_CASES[i]);
    check_width_one(rng);
    gsl_rng_free(rng);
}

/* ---- (d) sinusoid -------------------------------------------------------------- */

static const size_t SINUSOID_WIDTHS[] = {1, 2, 3, 5, 8, 17, 64, 127,
                                         511, 512, 767, 768};
static const int64_t FIXED_POSITIONS[] = {0, 1, 2, 3, 10, 100, 4095, 65536,
                                          999999, 1000000};
enum {
    FIXED_COUNT = sizeof FIXED_POSITIONS / sizeof FIXED_POSITIONS[0],
    RANDOM_COUNT = 22,
    POSITION_COUNT = FIXED_COUNT + RANDOM_COUNT, /* positions per width */
    MAX_POSITION = 1000000,
    MAX_OFFSET = 10000 /* largest k of the rotation */
};

/* The sinusoid scale S = 1 + |theta| (1 + |ln w_i|), theta = p w_i, with
 * ln w_i = -(2i/d) ln b (spec/tolerance.md#sinusoid); an implementation is
 * within 4u S of sin or cos theta. */
static double sinusoid_scale(double position, size_t pair, size_t d,
                             double base)
{
    double log_frequency = -((double)(2 * pair) / (double)d) * log(base);
    double theta = position * exp(log_frequency);
    return 1.0 + fabs(theta) * (1.0 + fabs(log_frequency));
}

/* w_i = b^(-2i/d), computed here independently of the library. */
static double pair_frequency(size_t pair, size_t d, double base)
{
    return pow(base, -(double)(2 * pair) / (double)d);
}

/* positions: (POSITION_COUNT), FIXED_POSITIONS then uniform in [0, 10^6] */
static void fill_positions(int64_t *positions, gsl_rng *rng)
{
    for (size_t t = 0; t < POSITION_COUNT; t++)
        positions[t] = t < FIXED_COUNT
                           ? FIXED_POSITIONS[t]
                           : (int64_t)gsl_rng_uniform_int(rng, MAX_POSITION + 1);
}

/* Both columns of a pair come from one angle p*w_i (one w_i, one product,
 * spec/tolerance.md#sinusoid), so the angle's error cancels in
 * sin^2 + cos^2; what is left is the final rounding of sin and cos (at most
 * one ulp, 2u|value|, each) and this test's two squares and sum:
 * |s^2 + c^2 - 1| <= 4u (s^2 + c^2) + 2u ~ 6u < 4 DBL_EPSILON. */
static struct worst unit_norm_worst(const double *pe, size_t count, size_t d)
{
    struct worst worst = worst_start();
    for (size_t t = 0; t < count; t++)
        for (size_t j = 0; j + 1 < d; j += 2) {
            double s = pe[t * d + j], c = pe[t * d + j + 1];
            worst_update(&worst, fabs(s * s + c * c - 1.0), 4 * DBL_EPSILON);
        }
    return worst;
}

/* The unpaired column d-1 of an odd width is sin(p b^(-(d-1)/d)). The library
 * and this test's sin(p * pow(b, -(d-1)/d)) are each within 4u S of the exact
 * value (spec/tolerance.md#sinusoid), so they differ by at most 8u S. */
static struct worst last_column_worst(const double *pe, const int64_t *positions,
                                      size_t count, size_t d, double base)
{
    struct worst worst = worst_start();
    size_t pair = (d - 1) / 2;
    double frequency = pow(base, -(double)(d - 1) / (double)d);
    for (size_t t = 0; t < count; t++) {
        double p = (double)positions[t];
        double want = sin(p * frequency);
        double bound = 8 * UNIT_ROUNDOFF * sinusoid_scale(p, pair, d, base);
        worst_update(&worst, fabs(pe[t * d + d - 1] - want), bound);
    }
    return worst;
}

/* 1 if row (d) is exactly (0, 1, 0, 1, ...): sin 0 = 0 and cos 0 = 1 for
 * every frequency, with no rounding at all. */
static int is_position_zero_row(const double *row, size_t d)
{
    for (size_t j = 0; j < d; j++)
        if (!(row[j] == (j % 2 == 0 ? 0.0 : 1.0)))
            return 0;
    return 1;
}

/* Rotation: (sin, cos)(p+k) = R(k w_i) (sin, cos)(p), i.e.
 *   sin((p+k)w) = sin(pw) cos(kw) + cos(pw) sin(kw)
 *   cos((p+k)w) = cos(pw) cos(kw) - sin(pw) sin(kw).
 * The library's values at p+k and at p are within 4u S(p+k) and 4u S(p);
 * this test's sin(kw), cos(kw) (own w = pow(b, -2i/d)) within 4u S(k), by the
 * derivation of spec/tolerance.md#sinusoid. Each term of the right side
 * passes its factors' errors through a factor of magnitude <= 1, and the two
 * products and the sum add at most 3u, so
 *   |lhs - rhs| <= 4u (S(p+k) + 2 S(p) + 2 S(k)) + 3u. */
static void rotation_update(struct worst *worst, const double *at_p,
                            const double *at_p_plus_k, int64_t p, int64_t k,
                            size_t d, double base)
{
    const double u = UNIT_ROUNDOFF;
    for (size_t pair = 0; 2 * pair + 1 < d; pair++) {
        double angle = (double)k * pair_frequency(pair, d, base);
        double sin_k = sin(angle), cos_k = cos(angle);
        double sin_p = at_p[2 * pair], cos_p = at_p[2 * pair + 1];
        double rotated_sin = sin_p * cos_k + cos_p * sin_k;
        double rotated_cos = cos_p * cos_k - sin_p * sin_k;
        double bound = 4 * u * (sinusoid_scale((double)(p + k), pair, d, base)
                                + 2 * sinusoid_scale((double)p, pair, d, base)
                                + 2 * sinusoid_scale((double)k, pair, d, base))
                       + 3 * u;
        worst_update(worst, fabs(at_p_plus_k[2 * pair] - rotated_sin), bound);
        worst_update(worst, fabs(at_p_plus_k[2 * pair + 1] - rotated_cos), bound);
    }
}

static void check_rotation(gsl_rng *rng, const int64_t *positions, size_t d,
                           double base)
{
    int64_t *offsets = alloc_int64s(POSITION_COUNT);       /* k: (POSITION_COUNT) */
    int64_t *shifted = alloc_int64s(POSITION_COUNT);       /* p+k: (POSITION_COUNT) */
    double *at_p = alloc_doubles(POSITION_COUNT * d);      /* (POSITION_COUNT, d) */
    double *at_shifted = alloc_doubles(POSITION_COUNT * d); /* (POSITION_COUNT, d) */
    struct worst worst = worst_start();
    for (size_t t = 0; t < POSITION_COUNT; t++) {
        offsets[t] = 1 + (int64_t)gsl_rng_uniform_int(rng, MAX_OFFSET);
        shifted[t] = positions[t] + offsets[t];
    }
    int status = lmr_pos_sinusoid(lmr_mat_out_of(at_p, POSITION_COUNT, d),
                                  lmr_ids_of(positions, POSITION_COUNT), base);
    int status_shifted =
        lmr_pos_sinusoid(lmr_mat_out_of(at_shifted, POSITION_COUNT, d),
                         lmr_ids_of(shifted, POSITION_COUNT), base);
    for (size_t t = 0; t < POSITION_COUNT; t++)
        rotation_update(&worst, at_p + t * d, at_shifted + t * d, positions[t],
                        offsets[t], d, base);
    worst.calls_ok = status == LMR_OK && status_shifted == LMR_OK;
    worst_report(&worst, "sinusoid pair at p+k = pair at p rotated by k w_i "
                 "(d=%zu base=%g)", d, base);
    free(offsets);
    free(shifted);
    free(at_p);
    free(at_shifted);
}

static void check_sinusoid_width(gsl_rng *rng, size_t d, double base)
{
    int64_t *positions = alloc_int64s(POSITION_COUNT);  /* (POSITION_COUNT) */
    double *pe = alloc_doubles(POSITION_COUNT * d);     /* (POSITION_COUNT, d) */
    fill_positions(positions, rng);
    int status = lmr_pos_sinusoid(lmr_mat_out_of(pe, POSITION_COUNT, d),
                                  lmr_ids_of(positions, POSITION_COUNT), base);

    tap_ok(status == LMR_OK && is_position_zero_row(pe, d),
           "sinusoid row of position 0 is (0, 1, 0, 1, ...) (d=%zu base=%g)",
           d, base);
    if (d >= 2) {
        struct worst norm = unit_norm_worst(pe, POSITION_COUNT, d);
        norm.calls_ok = status == LMR_OK;
        worst_report(&norm, "sinusoid pairs have sin^2 + cos^2 = 1 within "
                     "4 DBL_EPSILON, p <= 10^6 (d=%zu base=%g)", d, base);
        check_rotation(rng, positions, d, base);
    }
    if (d % 2 == 1) {
        struct worst last = last_column_worst(pe, positions, POSITION_COUNT,
                                              d, base);
        last.calls_ok = status == LMR_OK;
        worst_report(&last, "sinusoid odd width: last column is "
                     "sin(p b^(-(d-1)/d)) (d=%zu base=%g)", d, base);
    }
    free(positions);
    free(pe);
}

static void test_sinusoid(void)
{
    gsl_rng *rng = seeded_rng(31415926UL);
    size_t count = sizeof SINUSOID_WIDTHS / sizeof SINUSOID_WIDTHS[0];
    for (size_t i = 0; i < count; i++)
        check_sinusoid_width(rng, SINUSOID_WIDTHS[i], BASE);
    check_sinusoid_width(rng, 9, 2.5);
    check_sinusoid_width(rng, 64, 500.0);
    gsl_rng_free(rng);
}

int main(void)
{
    test_compose();
    test_onehot();
    test_layernorm();
    test_sinusoid();
    tap_done();
    return tap_exit_status();
}
