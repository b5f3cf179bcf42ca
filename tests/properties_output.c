/*
 * properties_output.c -- TAP property tests of the output side of the
 * reference library, besides the golden vectors: identities that hold for
 * every input, checked on random inputs (GSL's mt19937 with fixed seeds, so
 * every run sees the same cases) and on hand-made rows whose answers are
 * exact.
 *
 *   (a) head_untied with W = E^T and no bias equals head_tied, and its bias
 *       is added once to every position's logits;
 *   (b) softmax rows sum to 1, masked entries give exactly 0 (and -inf in
 *       log_softmax), adding a constant to every logit changes nothing,
 *       softmax(u, tau) = softmax(u/tau, 1), log_softmax = log(softmax),
 *       and huge logits and extreme temperatures neither overflow nor NaN;
 *   (c) cross-entropy "none" is -log_softmax at the target and 0 where
 *       ignored, "sum" is the sum of those, "mean" is the sum over the
 *       number of counted targets, a masked target costs +inf;
 *   (d) argmax is the lowest maximal index and equals sample with top_k = 1
 *       for any r; sample with truncation off returns the softmax and inverts
 *       its CDF in vocabulary order; top-k keeps exactly k tokens, ties to
 *       the lower index; top-p keeps the shortest prefix of the renormalised
 *       top-k tokens at temperature tau; r on a CDF boundary takes the next
 *       token;
 *   (e) the logit lens is (LayerNorm +) head_tied + softmax per layer, its
 *       top tokens are ranked by logit with ties to the lower index, and its
 *       top_probs are the probs at those tokens;
 *   (f) parameter counts: untied = tied + saving, saving = |V| d,
 *       tied = |V| d + B, relative = saving / untied.
 *
 * Why: the vectors pin the reference at chosen points; these identities tie
 * the ops to each other and to their definitions everywhere else, and catch
 * the classic convention bugs (no max subtraction, top-k keeping every tie,
 * top-p with > or before renormalising, sampling in sorted order, a mean
 * over n instead of the counted targets, the highest index winning a tie).
 *
 * Every bound is derived from spec/tolerance.md ("Output side") in a comment
 * beside it, in units of u = 2^-53 (class fp64, floor f = 2^-1022) times the
 * op's scale. When two library results approximate the same exact value, each
 * within K u s of it, they differ by at most the sum of the two bounds. Where
 * a result is exact in binary64 (dyadic inputs with few bits, equal logits)
 * the test asks for equality. The scales are computed in double from the
 * library's own outputs, which changes the bounds only at second order in u,
 * as the tolerance model itself is first order.
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
/* f, the floor of class fp64: the smallest positive normal double */
static const double FLOOR = DBL_MIN;
/* the largest r below 1 */
static const double R_BELOW_ONE = 1.0 - 0x1p-53;

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

static unsigned char *alloc_flags(size_t count)
{
    return alloc_or_bail(count, 1);
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

/* A double uniform in [-limit, limit) with a 53-bit significand. */
static double random_uniform(gsl_rng *rng, double limit)
{
    double high = (double)gsl_rng_get(rng);
    double low = (double)(gsl_rng_get(rng) >> 11);
    double unit = ldexp(high, -32) + ldexp(low, -53); /* [0, 1) */
    return limit * (2.0 * unit - 1.0);
}

/* values: (count), each random_uniform(rng, limit) */
static void fill_uniform(double *values, size_t count, gsl_rng *rng,
                         double limit)
{
    for (size_t i = 0; i < count; i++)
        values[i] = random_uniform(rng, limit);
}

/* 64 random bits from two 32-bit draws of mt19937. */
static uint64_t random_bits64(gsl_rng *rng)
{
    uint64_t high = (uint64_t)gsl_rng_get(rng);
    return (high << 32) | (uint64_t)gsl_rng_get(rng);
}

/* 1 with probability 1/one_in (never when one_in is 0). */
static int one_in(gsl_rng *rng, unsigned long one_in_count)
{
    return one_in_count > 0 && gsl_rng_uniform_int(rng, one_in_count) == 0;
}

/* 1 if a[i] == b[i] for all i (+0 equals -0). a, b: (count) */
static int all_equal(const double *a, const double *b, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!(a[i] == b[i]))
            return 0;
    return 1;
}

/* ---- rows of logits and their scales ------------------------------------- */

/* row (vocab): uniform in [-limit, limit), each entry masked (-inf) with
 * probability 1/mask_one_in, and at least one entry finite. */
static void fill_logit_row(double *row, size_t vocab, gsl_rng *rng,
                           double limit, unsigned long mask_one_in)
{
    int any_finite = 0;
    for (size_t i = 0; i < vocab; i++) {
        row[i] = one_in(rng, mask_one_in) ? -INFINITY
                                          : random_uniform(rng, limit);
        any_finite |= isfinite(row[i]);
    }
    if (!any_finite)
        row[gsl_rng_uniform_int(rng, vocab)] = random_uniform(rng, limit);
}

/* row (vocab): logits 0.5 * level with level uniform in [0, levels), so that
 * many entries tie; masks and the finite entry as fill_logit_row. */
static void fill_tied_row(double *row, size_t vocab, gsl_rng *rng,
                          unsigned long levels, unsigned long mask_one_in)
{
    int any_finite = 0;
    for (size_t i = 0; i < vocab; i++) {
        double level = (double)gsl_rng_uniform_int(rng, levels);
        row[i] = one_in(rng, mask_one_in) ? -INFINITY : 0.5 * level;
        any_finite |= isfinite(row[i]);
    }
    if (!any_finite)
        row[gsl_rng_uniform_int(rng, vocab)] = 0.0;
}

/* a = the largest logit of row (vocab) */
static double row_max(const double *row, size_t vocab)
{
    double largest = -INFINITY;
    for (size_t i = 0; i < vocab; i++)
        largest = fmax(largest, row[i]);
    return largest;
}

/* e_i = 3|z_i| + (|u_i| + |a|)/tau, and 0 for a maximal entry
 * (spec/tolerance.md#softmax). */
static double entry_error(double logit, double largest, double tau)
{
    if (logit == largest)
        return 0.0;
    double z = (logit - largest) / tau;
    return 3.0 * fabs(z) + (fabs(logit) + fabs(largest)) / tau;
}

/* e-bar = sum_j y_j e_j over the row (vocab); probs (vocab) stands for y. */
static double mean_entry_error(const double *row, const double *probs,
                               size_t vocab, double tau)
{
    double largest = row_max(row, vocab), mean = 0.0;
    for (size_t j = 0; j < vocab; j++)
        if (probs[j] > 0)
            mean += probs[j] * entry_error(row[j], largest, tau);
    return mean;
}

/* The softmax scales s_i = y_i (e_i + e-bar + |V| + 5) of one row
 * (spec/tolerance.md#softmax); scale, row, probs: (vocab). An entry whose
 * probability is 0 (masked, or underflowed) gets scale 0: the floor f
 * covers it. */
static void softmax_scales(double *scale, const double *row,
                           const double *probs, size_t vocab, double tau)
{
    double largest = row_max(row, vocab);
    double mean = mean_entry_error(row, probs, vocab, tau);
    for (size_t i = 0; i < vocab; i++)
        scale[i] = probs[i] > 0
            ? probs[i] * (entry_error(row[i], largest, tau) + mean
                          + (double)vocab + 5.0)
            : 0.0;
}

/* S = sum_j exp((u_j - a)/tau) of one row (vocab). */
static double sum_of_exponentials(const double *row, size_t vocab, double tau)
{
    double largest = row_max(row, vocab), sum = 0.0;
    for (size_t j = 0; j < vocab; j++)
        sum += exp((row[j] - largest) / tau);
    return sum;
}

/* What the scales of one row need: a, e-bar and log S. */
struct row_stats {
    double largest, mean, log_sum;
};

/* row, probs: (vocab); probs stands for y. */
static struct row_stats row_stats_of(const double *row, const double *probs,
                                     size_t vocab, double tau)
{
    struct row_stats stats;
    stats.largest = row_max(row, vocab);
    stats.mean = mean_entry_error(row, probs, vocab, tau);
    stats.log_sum = log(sum_of_exponentials(row, vocab, tau));
    return stats;
}

/* The log-softmax scale of an unmasked entry with this logit
 * (spec/tolerance.md#log_softmax): s_i = e_i + e-bar + |V| + 2 + |log S| +
 * 2 |log y_i|, with log y_i = z_i - log S formed here, never taken from the
 * output under test (a wrong -inf there would make the bound infinite). */
static double log_softmax_scale(const struct row_stats *stats, double logit,
                                size_t vocab, double tau)
{
    double log_prob = (logit - stats->largest) / tau - stats->log_sum;
    return entry_error(logit, stats->largest, tau) + stats->mean
           + (double)vocab + 2.0 + fabs(stats->log_sum) + 2.0 * fabs(log_prob);
}

/* ---- (a) the heads ------------------------------------------------------- */

struct head_case {
    size_t n, vocab, d;
};

static const struct head_case HEAD_CASES[] = {
    {1, 1, 1}, {3, 5, 3}, {2, 7, 4}, {5, 33, 17}, {4, 50, 768}, {2, 300, 64},
};

/* weight (d, vocab) = E^T for table E (vocab, d) */
static void transpose(double *weight, const double *table, size_t vocab,
                      size_t d)
{
    for (size_t v = 0; v < vocab; v++)
        for (size_t j = 0; j < d; j++)
            weight[j * vocab + v] = table[v * d + j];
}

/* s = sum_j |h_j E[v,j]|, the head scale (spec/tolerance.md#head).
 * h_row, e_row: (d) */
static double head_scale(const double *h_row, const double *e_row, size_t d)
{
    double sum = 0.0;
    for (size_t j = 0; j < d; j++)
        sum += fabs(h_row[j] * e_row[j]);
    return sum;
}

/* The inputs and outputs of one head comparison. */
struct head_arrays {
    double *h;       /* (n, d) */
    double *table;   /* E: (vocab, d) */
    double *weight;  /* W = E^T: (d, vocab) */
    double *bias;    /* (vocab) */
    double *tied;    /* head_tied: (n, vocab) */
    double *untied;  /* head_untied without bias: (n, vocab) */
    double *biased;  /* head_untied with bias: (n, vocab) */
};

static struct head_arrays head_arrays_alloc(struct head_case test)
{
    struct head_arrays arrays;
    arrays.h = alloc_doubles(test.n * test.d);
    arrays.table = alloc_doubles(test.vocab * test.d);
    arrays.weight = alloc_doubles(test.d * test.vocab);
    arrays.bias = alloc_doubles(test.vocab);
    arrays.tied = alloc_doubles(test.n * test.vocab);
    arrays.untied = alloc_doubles(test.n * test.vocab);
    arrays.biased = alloc_doubles(test.n * test.vocab);
    return arrays;
}

static void head_arrays_free(struct head_arrays *arrays)
{
    free(arrays->h);
    free(arrays->table);
    free(arrays->weight);
    free(arrays->bias);
    free(arrays->tied);
    free(arrays->untied);
    free(arrays->biased);
}

/* Runs the three heads on arrays; 1 if all returned LMR_OK. */
static int run_heads(struct head_arrays *arrays, struct head_case test)
{
    transpose(arrays->weight, arrays->table, test.vocab, test.d);
    int tied = lmr_head_tied(lmr_mat_out_of(arrays->tied, test.n, test.vocab),
                             lmr_mat_of(arrays->h, test.n, test.d),
                             lmr_mat_of(arrays->table, test.vocab, test.d));
    int untied = lmr_head_untied(
        lmr_mat_out_of(arrays->untied, test.n, test.vocab),
        lmr_mat_of(arrays->h, test.n, test.d),
        lmr_mat_of(arrays->weight, test.d, test.vocab), lmr_vec_absent());
    int biased = lmr_head_untied(
        lmr_mat_out_of(arrays->biased, test.n, test.vocab),
        lmr_mat_of(arrays->h, test.n, test.d),
        lmr_mat_of(arrays->weight, test.d, test.vocab),
        lmr_vec_of(arrays->bias, test.vocab));
    return tied == LMR_OK && untied == LMR_OK && biased == LMR_OK;
}

/* Full-significand inputs. spec/head.md: head_untied with W = E^T and no b
 * has exactly the expected values of head_tied. spec/tolerance.md#head puts
 * the tied logit within (d+2) u s and the untied one within (d+3) u s of
 * that value (s = sum_j |h_j E[v,j]|), so they differ by at most
 * (2d+5) u s. With the bias, the untied logit is within (d+3) u (s + |b|) of
 * the exact u + b, and this test's fl(untied + b) within (d+3) u s +
 * u |untied + b| <= (d+4) u (s + |b|) of it: together (2d+7) u (s + |b|). */
static void check_heads_random(gsl_rng *rng, struct head_case test)
{
    size_t n = test.n, vocab = test.vocab, d = test.d;
    struct head_arrays arrays = head_arrays_alloc(test);
    fill_uniform(arrays.h, n * d, rng, 2.0);
    fill_uniform(arrays.table, vocab * d, rng, 2.0);
    fill_uniform(arrays.bias, vocab, rng, 4.0);
    struct worst same = worst_start(), bias = worst_start();
    same.calls_ok = bias.calls_ok = run_heads(&arrays, test);
    for (size_t t = 0; t < n; t++)
        for (size_t v = 0; v < vocab; v++) {
            size_t at = t * vocab + v;
            double s = head_scale(arrays.h + t * d, arrays.table + v * d, d);
            double b = arrays.bias[v];
            worst_update(&same, fabs(arrays.untied[at] - arrays.tied[at]),
                         (2.0 * (double)d + 5.0) * UNIT_ROUNDOFF * s);
            worst_update(&bias, fabs(arrays.biased[at] - (arrays.untied[at] + b)),
                         (2.0 * (double)d + 7.0) * UNIT_ROUNDOFF * (s + fabs(b)));
        }
    worst_report(&same, "head_untied(W = E^T, no bias) = head_tied within "
                 "(2d+5) u sum|h E| (n=%zu |V|=%zu d=%zu)", n, vocab, d);
    worst_report(&bias, "head_untied with bias = without bias + b within "
                 "(2d+7) u (sum|h W| + |b|) (n=%zu |V|=%zu d=%zu)", n, vocab, d);
    head_arrays_free(&arrays);
}

/* Dyadic inputs: h = k 2^-5 and E = k 2^-3 with 8-bit k, b = k 2^-4. Every
 * product has at most 14 significant bits on the grid 2^-8 and is below 2^6
 * in magnitude; a sum of d <= 768 of them stays below 2^16 on that grid (24
 * bits), and adding b keeps it there. So every logit is exact in binary64
 * whatever the order of summation, and the identities hold with equality. */
static void check_heads_exact(gsl_rng *rng, struct head_case test)
{
    size_t n = test.n, vocab = test.vocab, d = test.d, count = n * vocab;
    struct head_arrays arrays = head_arrays_alloc(test);
    fill_dyadic(arrays.h, n * d, rng, 8, -5);
    fill_dyadic(arrays.table, vocab * d, rng, 8, -3);
    fill_dyadic(arrays.bias, vocab, rng, 8, -4);
    int calls_ok = run_heads(&arrays, test);
    int bias_ok = calls_ok;
    for (size_t at = 0; at < count; at++)
        bias_ok = bias_ok
                  && arrays.biased[at] == arrays.untied[at] + arrays.bias[at % vocab];
    tap_ok(calls_ok && all_equal(arrays.untied, arrays.tied, count),
           "head_untied(W = E^T) = head_tied exactly on dyadic inputs "
           "(n=%zu |V|=%zu d=%zu)", n, vocab, d);
    tap_ok(bias_ok, "head_untied adds b exactly once per logit on dyadic inputs "
           "(n=%zu |V|=%zu d=%zu)", n, vocab, d);
    head_arrays_free(&arrays);
}

static void test_heads(void)
{
    gsl_rng *rng = seeded_rng(1717UL);
    size_t count = sizeof HEAD_CASES / sizeof HEAD_CASES[0];
    for (size_t i = 0; i < count; i++) {
        check_heads_random(rng, HEAD_CASES[i]);
        check_heads_exact(rng, HEAD_CASES[i]);
    }
    gsl_rng_free(rng);
}

/* ---- (b) softmax and log-softmax ----------------------------------------- */

struct softmax_case {
    size_t n, vocab;
    double limit;             /* logits uniform in [-limit, limit) */
    double tau;
    unsigned long mask_one_in;
    int check_log;            /* compare log_softmax with log(softmax) */
};

static const struct softmax_case SOFTMAX_CASES[] = {
    {4, 1, 5.0, 1.0, 0, 1},
    {8, 2, 5.0, 1.0, 3, 1},
    {10, 17, 10.0, 1.0, 4, 1},
    {5, 100, 30.0, 0.5, 8, 1},
    {5, 64, 1e3, 7.0, 0, 0},
    {3, 1000, 8.0, 1.0, 16, 1},
    {3, 20, 1e300, 1.0, 4, 0},
    {2, 50257, 12.0, 1.0, 0, 1},
};

/* The arrays of one softmax case; all (n, vocab). */
struct softmax_arrays {
    double *logits, *probs, *in_place, *logprobs, *scale;
};

/* rows sum to 1: each y_i is within 2u s_i of the exact value and the exact
 * values sum to 1; this test's recursive sum adds at most (|V|-1) u sum y;
 * each entry may also use the floor f. */
static void sum_update(struct worst *worst, const double *probs,
                       const double *scale, size_t vocab)
{
    double sum = 0.0, sum_scale = 0.0;
    for (size_t i = 0; i < vocab; i++) {
        sum += probs[i];
        sum_scale += scale[i];
    }
    double bound = 2.0 * UNIT_ROUNDOFF * sum_scale
                   + (double)vocab * UNIT_ROUNDOFF * sum
                   + (double)vocab * FLOOR;
    worst_update(worst, fabs(sum - 1.0), bound);
}

/* 1 if every masked logit of row (vocab) gives probability +0 exactly and
 * log-probability -inf exactly (spec/softmax.md). */
static int masked_exact(const double *row, const double *probs,
                        const double *logprobs, size_t vocab)
{
    for (size_t i = 0; i < vocab; i++)
        if (row[i] == -INFINITY
            && !(probs[i] == 0.0 && !signbit(probs[i])
                 && logprobs[i] == -INFINITY))
            return 0;
    return 1;
}

/* log(y_lib) against log_softmax_lib: y_lib = y (1 + delta) with
 * |delta| <= 2u (e_i + e-bar + |V| + 5) (the softmax bound over y_i), so
 * log(y_lib) = log y + delta, and this test's log adds u |log y_lib|; the
 * library's log-softmax is within 2u s^ls_i of log y. Entries below the
 * normal range are skipped: there the relative bound does not hold. */
static void log_update(struct worst *worst, const double *row,
                       const double *probs, const double *logprobs,
                       size_t vocab, double tau)
{
    struct row_stats stats = row_stats_of(row, probs, vocab, tau);
    for (size_t i = 0; i < vocab; i++) {
        if (!(probs[i] >= FLOOR))
            continue;
        double relative = entry_error(row[i], stats.largest, tau) + stats.mean
                          + (double)vocab + 5.0;
        double log_prob = log(probs[i]);
        double bound = UNIT_ROUNDOFF * (2.0 * relative + fabs(log_prob)
                       + 2.0 * log_softmax_scale(&stats, row[i], vocab, tau));
        worst_update(worst, fabs(log_prob - logprobs[i]), bound);
    }
}

/* log_softmax against its definition z_i - log S, formed here as
 * fl(fl(fl(u_i - a)/tau) - fl(log S)): the library is within 2u s^ls_i of
 * the exact value, and this test's z_i (2u |z_i|), S (|V| u relative, so
 * |V| u absolute in log S, plus u |log S|) and difference (u |log y_i|) are
 * within u s^ls_i of it, so 3u s^ls_i in all. Unlike log(softmax) this
 * holds where y_i underflows to 0: spec/softmax.md requires this form so
 * that such entries stay finite. */
static void log_formula_update(struct worst *worst, const double *row,
                               const double *probs, const double *logprobs,
                               size_t vocab, double tau)
{
    struct row_stats stats = row_stats_of(row, probs, vocab, tau);
    for (size_t i = 0; i < vocab; i++) {
        if (row[i] == -INFINITY)
            continue; /* checked by masked_exact */
        double want = (row[i] - stats.largest) / tau - stats.log_sum;
        double bound = 3.0 * UNIT_ROUNDOFF
                       * log_softmax_scale(&stats, row[i], vocab, tau);
        worst_update(worst, fabs(logprobs[i] - want), bound + FLOOR);
    }
}

static void check_softmax_rows(gsl_rng *rng, struct softmax_case test)
{
    size_t n = test.n, vocab = test.vocab, count = n * vocab;
    struct softmax_arrays arrays = {alloc_doubles(count), alloc_doubles(count),
                                    alloc_doubles(count), alloc_doubles(count),
                                    alloc_doubles(count)};
    for (size_t t = 0; t < n; t++)
        fill_logit_row(arrays.logits + t * vocab, vocab, rng, test.limit,
                       test.mask_one_in);
    memcpy(arrays.in_place, arrays.logits, count * sizeof(double));
    double tau = test.tau;
    int calls_ok =
        lmr_softmax(lmr_mat_out_of(arrays.probs, n, vocab),
                    lmr_mat_of(arrays.logits, n, vocab), tau) == LMR_OK
        && lmr_softmax(lmr_mat_out_of(arrays.in_place, n, vocab),
                       lmr_mat_of(arrays.in_place, n, vocab), tau) == LMR_OK
        && lmr_log_softmax(lmr_mat_out_of(arrays.logprobs, n, vocab),
                           lmr_mat_of(arrays.logits, n, vocab), tau) == LMR_OK;
    struct worst sums = worst_start(), aliased = worst_start();
    struct worst logs = worst_start(), formula = worst_start();
    int masks_ok = calls_ok;
    for (size_t t = 0; calls_ok && t < n; t++) {
        size_t at = t * vocab;
        softmax_scales(arrays.scale + at, arrays.logits + at, arrays.probs + at,
                       vocab, test.tau);
        sum_update(&sums, arrays.probs + at, arrays.scale + at, vocab);
        masks_ok = masks_ok && masked_exact(arrays.logits + at, arrays.probs + at,
                                            arrays.logprobs + at, vocab);
        /* in place vs not: both within 2u s_i + f of the same exact y_i */
        for (size_t i = 0; i < vocab; i++)
            worst_update(&aliased, fabs(arrays.in_place[at + i] - arrays.probs[at + i]),
                         4.0 * UNIT_ROUNDOFF * arrays.scale[at + i] + 2.0 * FLOOR);
        if (test.check_log)
            log_update(&logs, arrays.logits + at, arrays.probs + at,
                       arrays.logprobs + at, vocab, test.tau);
        log_formula_update(&formula, arrays.logits + at, arrays.probs + at,
                           arrays.logprobs + at, vocab, test.tau);
    }
    sums.calls_ok = aliased.calls_ok = logs.calls_ok = calls_ok;
    formula.calls_ok = calls_ok;
    worst_report(&sums, "softmax rows sum to 1 within 2u sum s_i + |V| u "
                 "(n=%zu |V|=%zu |u|<%g tau=%g)", n, vocab, test.limit, test.tau);
    tap_ok(masks_ok, "masked logits give probability +0 and log-probability "
           "-inf exactly (n=%zu |V|=%zu tau=%g)", n, vocab, test.tau);
    worst_report(&aliased, "softmax in place (probs == logits) = out of place "
                 "(n=%zu |V|=%zu tau=%g)", n, vocab, test.tau);
    if (test.check_log)
        worst_report(&logs, "log_softmax = log(softmax) within the two bounds "
                     "(n=%zu |V|=%zu |u|<%g tau=%g)", n, vocab, test.limit, test.tau);
    worst_report(&formula, "log_softmax = (u - a)/tau - log S, finite where "
                 "softmax underflows (n=%zu |V|=%zu |u|<%g tau=%g)", n, vocab,
                 test.limit, test.tau);
    free(arrays.logits);
    free(arrays.probs);
    free(arrays.in_place);
    free(arrays.logprobs);
    free(arrays.scale);
}

/* Logits k 2^exponent with 11-bit k, and a constant shift such that every
 * shifted logit is exact (checked). */
struct shift_case {
    size_t vocab;
    int exponent;
    double shift;
    double tau;
};

static const struct shift_case SHIFT_CASES[] = {
    {16, -6, 1000.0, 1.0},
    {16, -6, -0x1p30 + 0.25, 1.0},
    {40, -6, 0x1p40, 1.0},
    {40, -6, 0x3p45, 0.5},      /* shifted logits use all 53 bits */
    {100, -6, -777.5, 3.0},
    {10, 960, 0x1p1000, 1.0},   /* logits near 2^1000 */
    {10, 960, -0x1p1000, 1.0},
};

enum { SHIFT_ROWS = 6 };

/* shifted (SHIFT_ROWS, vocab) = logits + shift; returns 1 if every shifted
 * finite logit is exact, i.e. (u + c) - c == u. */
static int shift_rows(double *shifted, const double *logits, size_t count,
                      double shift)
{
    int exact = 1;
    for (size_t i = 0; i < count; i++) {
        shifted[i] = logits[i] + shift;
        if (isfinite(logits[i]))
            exact = exact && shifted[i] - shift == logits[i];
    }
    return exact;
}

/* softmax(u + c) = softmax(u) over the reals; with u + c exact both results
 * are within 2u s of the same y, where s and s' are the scales of the two
 * rows (s' has the larger (|u_i + c| + |a + c|)/tau term), plus f each.
 * Same for log_softmax with its scales. */
static void check_shift(gsl_rng *rng, struct shift_case test)
{
    size_t vocab = test.vocab, count = SHIFT_ROWS * vocab;
    double *logits = alloc_doubles(count);   /* (SHIFT_ROWS, vocab) */
    double *shifted = alloc_doubles(count);  /* (SHIFT_ROWS, vocab) */
    double *probs = alloc_doubles(count), *shifted_probs = alloc_doubles(count);
    double *scale = alloc_doubles(count), *shifted_scale = alloc_doubles(count);
    for (size_t t = 0; t < SHIFT_ROWS; t++) {
        fill_dyadic(logits + t * vocab, vocab, rng, 11, test.exponent);
        logits[t * vocab + gsl_rng_uniform_int(rng, vocab)] = -INFINITY;
        logits[t * vocab] = ldexp(7.0, test.exponent); /* one finite entry */
    }
    int exact = shift_rows(shifted, logits, count, test.shift);
    struct worst worst = worst_start();
    worst.calls_ok = exact
        && lmr_softmax(lmr_mat_out_of(probs, SHIFT_ROWS, vocab),
                       lmr_mat_of(logits, SHIFT_ROWS, vocab), test.tau) == LMR_OK
        && lmr_softmax(lmr_mat_out_of(shifted_probs, SHIFT_ROWS, vocab),
                       lmr_mat_of(shifted, SHIFT_ROWS, vocab), test.tau) == LMR_OK;
    for (size_t t = 0; worst.calls_ok && t < SHIFT_ROWS; t++) {
        size_t at = t * vocab;
        softmax_scales(scale + at, logits + at, probs + at, vocab, test.tau);
        softmax_scales(shifted_scale + at, shifted + at, shifted_probs + at,
                       vocab, test.tau);
    }
    for (size_t i = 0; worst.calls_ok && i < count; i++)
        worst_update(&worst, fabs(shifted_probs[i] - probs[i]),
                     2.0 * UNIT_ROUNDOFF * (scale[i] + shifted_scale[i])
                     + 2.0 * FLOOR);
    worst_report(&worst, "softmax(u + c) = softmax(u) (|V|=%zu u=k*2^%d c=%a "
                 "tau=%g)", vocab, test.exponent, test.shift, test.tau);
    free(logits);
    free(shifted);
    free(probs);
    free(shifted_probs);
    free(scale);
    free(shifted_scale);
}

/* Temperatures with few significant bits, so that u = w tau is exact. */
static const double TEMPERATURES[] = {0.5, 2.0, 3.0, 0.375, 5 * 0x1p-12,
                                      7 * 0x1p9};

enum { TEMPERATURE_ROWS = 5, TEMPERATURE_VOCAB = 24 };

/* softmax(u, tau) = softmax(u/tau, 1) over the reals. With w = k 2^-4
 * (8-bit k) and u = w tau exact, u/tau = w exactly (checked), and the two
 * calls have the same scales: e_i = 3|z_i| + (|u_i| + |a|)/tau =
 * 3|z_i| + |w_i| + |w_a|. So they differ by at most 4u s_i + 2f, and the
 * log-softmax results by 4u s^ls_i. */
static void check_temperature(gsl_rng *rng, double tau)
{
    enum { COUNT = TEMPERATURE_ROWS * TEMPERATURE_VOCAB };
    const size_t vocab = TEMPERATURE_VOCAB;
    double scaled[COUNT], unscaled[COUNT];    /* u, w: (ROWS, VOCAB) */
    double probs[COUNT], unit_probs[COUNT];   /* softmax(u, tau), softmax(w, 1) */
    double logprobs[COUNT], unit_logprobs[COUNT];
    double scale[COUNT];
    int exact = 1;
    fill_dyadic(unscaled, COUNT, rng, 8, -4);
    for (size_t t = 0; t < TEMPERATURE_ROWS; t++)
        unscaled[t * vocab + 1 + t] = -INFINITY;
    for (size_t i = 0; i < COUNT; i++) {
        scaled[i] = unscaled[i] * tau;
        exact = exact && (isinf(scaled[i]) || scaled[i] / tau == unscaled[i]);
    }
    struct worst worst = worst_start(), logs = worst_start();
    const size_t rows = TEMPERATURE_ROWS;
    worst.calls_ok = exact
        && lmr_softmax(lmr_mat_out_of(probs, rows, vocab),
                       lmr_mat_of(scaled, rows, vocab), tau) == LMR_OK
        && lmr_softmax(lmr_mat_out_of(unit_probs, rows, vocab),
                       lmr_mat_of(unscaled, rows, vocab), 1.0) == LMR_OK
        && lmr_log_softmax(lmr_mat_out_of(logprobs, rows, vocab),
                           lmr_mat_of(scaled, rows, vocab), tau) == LMR_OK
        && lmr_log_softmax(lmr_mat_out_of(unit_logprobs, rows, vocab),
                           lmr_mat_of(unscaled, rows, vocab), 1.0) == LMR_OK;
    logs.calls_ok = worst.calls_ok;
    for (size_t t = 0; worst.calls_ok && t < TEMPERATURE_ROWS; t++) {
        const double *row = unscaled + t * vocab;
        struct row_stats stats = row_stats_of(row, unit_probs + t * vocab,
                                              vocab, 1.0);
        softmax_scales(scale + t * vocab, row, unit_probs + t * vocab, vocab, 1.0);
        for (size_t i = 0; i < vocab; i++) {
            size_t at = t * vocab + i;
            worst_update(&worst, fabs(probs[at] - unit_probs[at]),
                         4.0 * UNIT_ROUNDOFF * scale[at] + 2.0 * FLOOR);
            if (isinf(row[i])) /* masked: -inf on both sides, exactly */
                worst_update(&logs, logprobs[at] == unit_logprobs[at]
                                        ? 0.0 : INFINITY, 0.0);
            else
                worst_update(&logs, fabs(logprobs[at] - unit_logprobs[at]),
                             4.0 * UNIT_ROUNDOFF
                             * log_softmax_scale(&stats, row[i], vocab, 1.0));
        }
    }
    worst_report(&worst, "softmax(u, tau) = softmax(u/tau, 1) (tau=%a, u/tau exact)",
                 tau);
    worst_report(&logs, "log_softmax(u, tau) = log_softmax(u/tau, 1) (tau=%a)", tau);
}

/* Rows whose answers are known: huge logits (spec/softmax.md: the
 * definitions never form exp of a positive number) and extreme
 * temperatures (any finite tau > 0 is accepted). */
struct extreme_case {
    double row[4];
    double tau;
    double want[4]; /* the exact softmax rounded once */
    const char *what;
};

static const struct extreme_case EXTREME_CASES[] = {
    {{0x1p1000, 0x1p1000, -0x1p1000, -INFINITY}, 1.0, {0.5, 0.5, 0.0, 0.0},
     "logits +-2^1000"},
    {{-0x1p1000, -INFINITY, -0x1p1000, -0x1.8p1001}, 1.0, {0.5, 0.0, 0.5, 0.0},
     "maximal logit -2^1000"},
    {{DBL_MAX, -DBL_MAX, DBL_MAX, 0.0}, 1.0, {0.5, 0.0, 0.5, 0.0},
     "logits +-DBL_MAX (u - a overflows to -inf)"},
    {{1.0, 1.0, 0.5, -INFINITY}, 1e-300, {0.5, 0.5, 0.0, 0.0},
     "tau = 1e-300: uniform over the maximal logits"},
    {{1.0, 0.0, -INFINITY, -1.0}, 1e300, {1.0 / 3, 1.0 / 3, 0.0, 1.0 / 3},
     "tau = 1e300: uniform over the unmasked logits"},
    {{3.0, 3.0, 3.0, 3.0}, 0x1p-1074, {0.25, 0.25, 0.25, 0.25},
     "tau = 2^-1074 with equal logits"},
};

/* |y_i - g_i| <= 2u s_i + f (spec/tolerance.md#softmax), masked entries
 * exactly 0. */
static void check_extreme(const struct extreme_case *test)
{
    double probs[4], scale[4];
    struct worst worst = worst_start();
    worst.calls_ok = lmr_softmax(lmr_mat_out_of(probs, 1, 4),
                                 lmr_mat_of(test->row, 1, 4), test->tau) == LMR_OK;
    softmax_scales(scale, test->row, probs, 4, test->tau);
    for (size_t i = 0; worst.calls_ok && i < 4; i++) {
        if (test->row[i] == -INFINITY)
            worst_update(&worst, probs[i] == 0.0 ? 0.0 : INFINITY, 0.0);
        else
            worst_update(&worst, fabs(probs[i] - test->want[i]),
                         2.0 * UNIT_ROUNDOFF * scale[i] + FLOOR);
    }
    worst_report(&worst, "softmax of a known row: %s", test->what);
}

static void test_softmax(void)
{
    gsl_rng *rng = seeded_rng(2718281UL);
    size_t row_count = sizeof SOFTMAX_CASES / sizeof SOFTMAX_CASES[0];
    size_t shift_count = sizeof SHIFT_CASES / sizeof SHIFT_CASES[0];
    size_t tau_count = sizeof TEMPERATURES / sizeof TEMPERATURES[0];
    size_t extreme_count = sizeof EXTREME_CASES / sizeof EXTREME_CASES[0];
    for (size_t i = 0; i < row_count; i++)
        check_softmax_rows(rng, SOFTMAX_CASES[i]);
    for (size_t i = 0; i < shift_count; i++)
        check_shift(rng, SHIFT_CASES[i]);
    for (size_t i = 0; i < tau_count; i++)
        check_temperature(rng, TEMPERATURES[i]);
    for (size_t i = 0; i < extreme_count; i++)
        check_extreme(&EXTREME_CASES[i]);
    gsl_rng_free(rng);
}

/* ---- (c) cross-entropy --------------------------------------------------- */

struct entropy_case {
    size_t n, vocab;
    double limit;
    unsigned long mask_one_in;
    unsigned long ignore_one_in; /* 1: every target ignored */
    int64_t ignore_index;
};

static const struct entropy_case ENTROPY_CASES[] = {
    {1, 1, 5.0, 0, 0, LMR_DEFAULT_IGNORE_INDEX},
    {16, 10, 5.0, 4, 4, LMR_DEFAULT_IGNORE_INDEX},
    {40, 100, 20.0, 8, 3, -1},
    {25, 7, 3.0, 3, 2, 7},                  /* ignore_index = |V| */
    {30, 12, 3.0, 0, 5, INT64_MAX},
    {8, 50257, 10.0, 0, 4, INT64_MIN},
    {12, 5, 5.0, 2, 1, LMR_DEFAULT_IGNORE_INDEX},
    {10, 20, 1e300, 4, 4, LMR_DEFAULT_IGNORE_INDEX}, /* y underflows: loss ~1e300 */
};

/* targets (n): ignore_index with probability 1/ignore_one_in, otherwise a
 * random unmasked token of the row, so every counted loss is finite.
 * logits: (n, vocab). Returns the number of counted targets. */
static size_t fill_targets(int64_t *targets, const double *logits,
                           struct entropy_case test, gsl_rng *rng)
{
    size_t counted = 0;
    for (size_t t = 0; t < test.n; t++) {
        if (one_in(rng, test.ignore_one_in)) {
            targets[t] = test.ignore_index;
            continue;
        }
        size_t token;
        do
            token = gsl_rng_uniform_int(rng, test.vocab);
        while (isinf(logits[t * test.vocab + token]));
        targets[t] = (int64_t)token;
        counted++;
    }
    return counted;
}

/* The per-position results of one case. */
struct entropy_sums {
    double losses;     /* sum of the library's "none" losses, in order */
    double scales;     /* sum_t s_t, the log-softmax scales at the targets */
    struct worst none; /* none against -log_softmax at the target */
    int ignored_zero;  /* every ignored position is exactly 0 */
};

/* none_t = log S - z_c and -log_softmax_c = -(z_c - log S) have the same
 * exact value and the same scale s_t = s^ls_c (spec/tolerance.md
 * #cross_entropy), so they differ by at most 4u s_t. */
static struct entropy_sums compare_none(const double *none,
                                        const double *logprobs,
                                        const double *probs,
                                        const double *logits,
                                        const int64_t *targets,
                                        struct entropy_case test)
{
    struct entropy_sums sums = {0.0, 0.0, worst_start(), 1};
    for (size_t t = 0; t < test.n; t++) {
        size_t at = t * test.vocab;
        if (targets[t] == test.ignore_index) {
            sums.ignored_zero = sums.ignored_zero && none[t] == 0.0;
            continue;
        }
        size_t target = (size_t)targets[t];
        struct row_stats stats = row_stats_of(logits + at, probs + at,
                                              test.vocab, 1.0);
        double scale = log_softmax_scale(&stats, logits[at + target],
                                         test.vocab, 1.0);
        worst_update(&sums.none, fabs(none[t] + logprobs[at + target]),
                     4.0 * UNIT_ROUNDOFF * scale);
        sums.losses += none[t];
        sums.scales += scale;
    }
    return sums;
}

/* The arrays of one case. */
struct entropy_arrays {
    double *logits;   /* (n, vocab) */
    double *probs;    /* (n, vocab) */
    double *logprobs; /* (n, vocab) */
    int64_t *targets; /* (n) */
    double *none;     /* (n) */
};

/* sum: the library's sum is within 2u (sum_t s_t + (n+1) L) of the exact
 * L; the "none" losses are within 2u s_t each and this test's recursive
 * sum of them adds (n-1) u sum none, so the two differ by at most
 * 4u sum s_t + 2u (n+1) L + (n-1) u L.
 * mean: the library's mean is within 2u ((sum s_t + (n+1) L)/m + L/m) of
 * L/m; this test's fl(sum_lib / m) within 2u (sum s_t + (n+1) L)/m + u L/m
 * of it; together 4u (sum s_t + (n+1) L)/m + 3u L/m.
 * With no counted target: sum is exactly 0 and mean NaN. */
static void check_reductions(const struct entropy_arrays *arrays,
                             const struct entropy_sums *sums,
                             struct entropy_case test, size_t counted)
{
    double total = NAN, mean = NAN;
    double n = (double)test.n, m = (double)counted, L = sums->losses;
    int calls_ok =
        lmr_cross_entropy(lmr_vec_out_of(&total, 1),
                          lmr_mat_of(arrays->logits, test.n, test.vocab),
                          lmr_ids_of(arrays->targets, test.n), LMR_REDUCE_SUM,
                          test.ignore_index) == LMR_OK
        && lmr_cross_entropy(lmr_vec_out_of(&mean, 1),
                             lmr_mat_of(arrays->logits, test.n, test.vocab),
                             lmr_ids_of(arrays->targets, test.n),
                             LMR_REDUCE_MEAN, test.ignore_index) == LMR_OK;
    struct worst sum_worst = worst_start(), mean_worst = worst_start();
    sum_worst.calls_ok = mean_worst.calls_ok = calls_ok;
    if (counted == 0) {
        worst_update(&sum_worst, total == 0.0 ? 0.0 : INFINITY, 0.0);
        worst_update(&mean_worst, isnan(mean) ? 0.0 : INFINITY, 0.0);
    } else {
        double sum_bound = UNIT_ROUNDOFF * (4.0 * sums->scales
                                            + (3.0 * n + 1.0) * L);
        double mean_bound = UNIT_ROUNDOFF * (4.0 * (sums->scales + (n + 1.0) * L)
                                             + 3.0 * L) / m;
        worst_update(&sum_worst, fabs(total - L), sum_bound);
        worst_update(&mean_worst, fabs(mean - total / m), mean_bound);
    }
    worst_report(&sum_worst, "cross_entropy sum = sum of none over counted "
                 "targets (n=%zu |V|=%zu counted=%zu)", test.n, test.vocab, counted);
    worst_report(&mean_worst, "cross_entropy mean = sum / counted, not / n "
                 "(n=%zu |V|=%zu counted=%zu)", test.n, test.vocab, counted);
}

static void check_cross_entropy(gsl_rng *rng, struct entropy_case test)
{
    size_t n = test.n, vocab = test.vocab, count = n * vocab;
    struct entropy_arrays arrays = {alloc_doubles(count), alloc_doubles(count),
                                    alloc_doubles(count), alloc_int64s(n),
                                    alloc_doubles(n)};
    for (size_t t = 0; t < n; t++)
        fill_logit_row(arrays.logits + t * vocab, vocab, rng, test.limit,
                       test.mask_one_in);
    size_t counted = fill_targets(arrays.targets, arrays.logits, test, rng);
    int calls_ok =
        lmr_cross_entropy(lmr_vec_out_of(arrays.none, n),
                          lmr_mat_of(arrays.logits, n, vocab),
                          lmr_ids_of(arrays.targets, n), LMR_REDUCE_NONE,
                          test.ignore_index) == LMR_OK
        && lmr_log_softmax(lmr_mat_out_of(arrays.logprobs, n, vocab),
                           lmr_mat_of(arrays.logits, n, vocab), 1.0) == LMR_OK
        && lmr_softmax(lmr_mat_out_of(arrays.probs, n, vocab),
                       lmr_mat_of(arrays.logits, n, vocab), 1.0) == LMR_OK;
    struct entropy_sums sums = compare_none(arrays.none, arrays.logprobs,
                                            arrays.probs, arrays.logits,
                                            arrays.targets, test);
    sums.none.calls_ok = calls_ok;
    worst_report(&sums.none, "cross_entropy none = -log_softmax at the target "
                 "(n=%zu |V|=%zu ignore_index=%lld)", n, vocab,
                 (long long)test.ignore_index);
    tap_ok(calls_ok && sums.ignored_zero, "cross_entropy none is exactly 0 at "
           "ignored positions (n=%zu |V|=%zu ignored=%zu)", n, vocab, n - counted);
    check_reductions(&arrays, &sums, test, counted);
    free(arrays.logits);
    free(arrays.probs);
    free(arrays.logprobs);
    free(arrays.targets);
    free(arrays.none);
}

/* spec/softmax.md: a masked target (logit -inf) has loss +inf, a valid
 * answer; the sum and the mean over it are +inf too. */
static void check_masked_target(void)
{
    /* logits: (2, 3); target 1 of row 0 is masked */
    static const double logits[6] = {0.0, -INFINITY, 1.0, 2.0, 2.0, -INFINITY};
    static const int64_t targets[2] = {1, 0};
    double none[2] = {0.0, 0.0}, total = 0.0, mean = 0.0;
    int status = lmr_cross_entropy(lmr_vec_out_of(none, 2),
                                   lmr_mat_of(logits, 2, 3),
                                   lmr_ids_of(targets, 2), LMR_REDUCE_NONE,
                                   LMR_DEFAULT_IGNORE_INDEX);
    int status_sum = lmr_cross_entropy(lmr_vec_out_of(&total, 1),
                                       lmr_mat_of(logits, 2, 3),
                                       lmr_ids_of(targets, 2), LMR_REDUCE_SUM,
                                       LMR_DEFAULT_IGNORE_INDEX);
    int status_mean = lmr_cross_entropy(lmr_vec_out_of(&mean, 1),
                                        lmr_mat_of(logits, 2, 3),
                                        lmr_ids_of(targets, 2),
                                        LMR_REDUCE_MEAN,
                                        LMR_DEFAULT_IGNORE_INDEX);
    tap_ok(status == LMR_OK && none[0] == INFINITY && isfinite(none[1]),
           "cross_entropy none: a masked target costs +inf, the other "
           "position is finite");
    tap_ok(status_sum == LMR_OK && status_mean == LMR_OK && total == INFINITY
               && mean == INFINITY,
           "cross_entropy sum and mean over a masked target are +inf");
}

static void test_cross_entropy(void)
{
    gsl_rng *rng = seeded_rng(577215UL);
    size_t count = sizeof ENTROPY_CASES / sizeof ENTROPY_CASES[0];
    for (size_t i = 0; i < count; i++)
        check_cross_entropy(rng, ENTROPY_CASES[i]);
    check_masked_target();
    gsl_rng_free(rng);
}

/* ---- (d) argmax and sampling --------------------------------------------- */

/* 1 if token a ranks before token b in row: logit descending, then index
 * ascending (spec/sampling.md step 2, spec/logit_lens.md). */
static int ranks_before(const double *row, size_t a, size_t b)
{
    return row[a] > row[b] || (row[a] == row[b] && a < b);
}

/* The number of unmasked tokens of row (vocab) that rank before token i. */
static size_t rank_of(const double *row, size_t vocab, size_t i)
{
    size_t rank = 0;
    for (size_t j = 0; j < vocab; j++)
        rank += isfinite(row[j]) && ranks_before(row, j, i);
    return rank;
}

/* order (vocab): the unmasked tokens of row in rank order; returns their
 * number. Placement by rank, so no sort and no tie-break of a library. */
static size_t rank_order(size_t *order, const double *row, size_t vocab)
{
    size_t unmasked = 0;
    for (size_t i = 0; i < vocab; i++)
        if (isfinite(row[i])) {
            order[rank_of(row, vocab, i)] = i;
            unmasked++;
        }
    return unmasked;
}

/* 1 if token is the lowest index among the maximal logits of row (vocab). */
static int is_lowest_argmax(const double *row, size_t vocab, int64_t token)
{
    if (token < 0 || (uint64_t)token >= vocab || !isfinite(row[token]))
        return 0;
    for (size_t i = 0; i < vocab; i++)
        if (row[i] > row[token] || (row[i] == row[token] && i < (size_t)token))
            return 0;
    return 1;
}

/* The sampled distribution of one row against the renormalised softmax over
 * the expected kept set. */
struct sample_report {
    struct worst probs; /* q against y / P on the kept tokens */
    int kept_ok;        /* q is nonzero exactly on the expected kept set */
    int tokens_ok;      /* every token as expected */
};

static struct sample_report sample_report_start(void)
{
    struct sample_report report = {worst_start(), 1, 1};
    return report;
}

/* want (vocab): y_i / P over the kept tokens, P = sum_kept y_j in index
 * order, and 0 elsewhere. y, kept: (vocab). Returns P. */
static double renormalise(double *want, const double *y,
                          const unsigned char *kept, size_t vocab)
{
    double mass = 0.0;
    for (size_t i = 0; i < vocab; i++)
        if (kept[i])
            mass += y[i];
    for (size_t i = 0; i < vocab; i++)
        want[i] = kept[i] ? y[i] / mass : 0.0;
    return mass;
}

/* Compares q (vocab), lmr_sample's probs, with want = y / P (vocab), for
 * the softmax y at the same tau and its scales (vocab).
 *
 * spec/tolerance.md#sample_probs: q_i is within 2u s^q_i of the exact
 * y_i / P, with s^q_i = (s_i + q_i sum_kept s_j)/P + q_i (M_k + 2)/2. This
 * test's want_i = fl(y'_i / fl(sum_kept y'_j)) from the library's softmax
 * y' (within 2u s_i per entry) is within
 * 2u (s_i + q_i sum_kept s_j)/P + M_k u q_i <= 2u s^q_i of it as well, so
 * |q_i - want_i| <= 4u s^q_i (+ 2f). A token outside the kept set must have
 * q exactly 0, and a kept one q > 0 (step 4). */
static void compare_sampled(struct sample_report *report, const double *q,
                            const double *want, const double *scale,
                            const unsigned char *kept, double mass,
                            size_t vocab)
{
    double kept_scale = 0.0, kept_count = 0.0;
    for (size_t i = 0; i < vocab; i++)
        if (kept[i]) {
            kept_scale += scale[i];
            kept_count += 1.0;
        }
    for (size_t i = 0; i < vocab; i++) {
        if (!kept[i] || !(q[i] > 0)) {
            report->kept_ok = report->kept_ok && q[i] == 0.0 && !kept[i];
            continue;
        }
        double sampled_scale = (scale[i] + want[i] * kept_scale) / mass
                               + want[i] * (kept_count + 2.0) / 2.0;
        worst_update(&report->probs, fabs(q[i] - want[i]),
                     4.0 * UNIT_ROUNDOFF * sampled_scale + 2.0 * FLOOR);
    }
}

/* The cumulative renormalised probabilities of the first `keep` tokens of
 * order (rank order), as spec/sampling.md step 3 forms them: cumulative
 * (keep). y: (vocab) softmax. */
static void rank_cumulative(double *cumulative, const size_t *order,
                            size_t keep, const double *y)
{
    double mass = 0.0, running = 0.0;
    for (size_t m = 0; m < keep; m++)
        mass += y[order[m]];
    for (size_t m = 0; m < keep; m++) {
        running += y[order[m]] / mass;
        cumulative[m] = running;
    }
}

/* kept (vocab): the tokens steps 2-3 of spec/sampling.md keep for row
 * (vocab) with softmax y (vocab): the first top_k in rank order (all when
 * top_k is 0 or too large), then the shortest prefix whose renormalised
 * cumulative probability is >= top_p. The callers choose top_p on an exact
 * dyadic sum or half a token's probability away from every cumulative sum,
 * so the rounding of y cannot change the answer. Returns the kept count. */
static size_t expected_kept(unsigned char *kept, const double *row,
                            const double *y, size_t vocab, int64_t top_k,
                            double top_p)
{
    size_t *order = alloc_or_bail(vocab, sizeof(size_t)); /* (vocab) */
    double *cumulative = alloc_doubles(vocab);            /* (vocab) */
    size_t unmasked = rank_order(order, row, vocab);
    size_t keep = top_k > 0 && (uint64_t)top_k < unmasked ? (size_t)top_k
                                                          : unmasked;
    if (top_p < 1.0) {
        rank_cumulative(cumulative, order, keep, y);
        size_t prefix = 1;
        while (prefix < keep && cumulative[prefix - 1] < top_p)
            prefix++;
        keep = prefix;
    }
    memset(kept, 0, vocab);
    for (size_t m = 0; m < keep; m++)
        kept[order[m]] = 1;
    free(order);
    free(cumulative);
    return keep;
}

/* top_p halfway between the cumulative sums of the (m-1)-th and m-th ranked
 * tokens after top-k, m uniform in [1, kept]: top-p must keep exactly m.
 * row, y: (vocab). */
static double midpoint_top_p(const double *row, const double *y, size_t vocab,
                             int64_t top_k, gsl_rng *rng)
{
    size_t *order = alloc_or_bail(vocab, sizeof(size_t)); /* (vocab) */
    double *cumulative = alloc_doubles(vocab);            /* (vocab) */
    size_t unmasked = rank_order(order, row, vocab);
    size_t keep = top_k > 0 && (uint64_t)top_k < unmasked ? (size_t)top_k
                                                          : unmasked;
    rank_cumulative(cumulative, order, keep, y);
    size_t m = 1 + gsl_rng_uniform_int(rng, keep);
    double below = m > 1 ? cumulative[m - 2] : 0.0;
    double top_p = (below + cumulative[m - 1]) / 2.0;
    free(order);
    free(cumulative);
    return top_p;
}

/* How r is chosen for a sampled row. */
enum r_choice {
    R_ZERO,     /* r = 0: the first kept token in index order */
    R_TOP,      /* r = 1 - 2^-53: the last kept token (callers make its q large) */
    R_MIDPOINT  /* r halfway through a random kept token's CDF step */
};

/* Picks r for want (vocab, the expected q) and returns the token
 * spec/sampling.md step 5 selects: the smallest i with r < C_i, in index
 * order. Midpoints are half a step, at least half the smallest kept q, away
 * from every C_i, far beyond the rounding of the sums. */
static int64_t choose_r(double *r, const double *want, size_t vocab,
                        enum r_choice choice, gsl_rng *rng)
{
    size_t first = vocab, last = 0, kept = 0;
    for (size_t i = 0; i < vocab; i++)
        if (want[i] > 0) {
            first = first == vocab ? i : first;
            last = i;
            kept++;
        }
    if (choice == R_ZERO) {
        *r = 0.0;
        return (int64_t)first;
    }
    if (choice == R_TOP) {
        *r = R_BELOW_ONE;
        return (int64_t)last;
    }
    size_t pick = gsl_rng_uniform_int(rng, kept), seen = 0;
    double before = 0.0;
    for (size_t i = 0; i < vocab; i++) {
        if (!(want[i] > 0))
            continue;
        if (seen++ == pick) {
            *r = before + want[i] / 2.0;
            return (int64_t)i;
        }
        before += want[i];
    }
    return -1; /* not reached */
}

/* The parameters of one lmr_sample call on one row. */
struct sample_setting {
    double tau;
    int64_t top_k;
    double top_p;
    enum r_choice choice;
};

/* Samples one row (vocab) and checks its probs, kept set and token. */
static void sample_row(struct sample_report *report, const double *row,
                       size_t vocab, struct sample_setting setting,
                       gsl_rng *rng)
{
    double *y = alloc_doubles(vocab), *scale = alloc_doubles(vocab);
    double *want = alloc_doubles(vocab), *q = alloc_doubles(vocab);
    unsigned char *kept = alloc_flags(vocab); /* all (vocab) */
    int64_t token = -1;
    double r;
    int status = lmr_softmax(lmr_mat_out_of(y, 1, vocab),
                             lmr_mat_of(row, 1, vocab), setting.tau);
    softmax_scales(scale, row, y, vocab, setting.tau);
    expected_kept(kept, row, y, vocab, setting.top_k, setting.top_p);
    double mass = renormalise(want, y, kept, vocab);
    int64_t expected = choose_r(&r, want, vocab, setting.choice, rng);
    int status_sample = lmr_sample(q, &token, row, &r, 1, vocab, setting.tau,
                                   setting.top_k, setting.top_p);
    report->probs.calls_ok = report->probs.calls_ok && status == LMR_OK
                             && status_sample == LMR_OK;
    compare_sampled(report, q, want, scale, kept, mass, vocab);
    report->tokens_ok = report->tokens_ok && token == expected;
    free(y);
    free(scale);
    free(want);
    free(q);
    free(kept);
}

/* Three TAP lines for one report. */
static void sample_report_lines(const struct sample_report *report,
                                const char *what)
{
    worst_report(&report->probs, "%s: probs = softmax renormalised over the "
                 "kept tokens", what);
    tap_ok(report->probs.calls_ok && report->kept_ok,
           "%s: probs nonzero exactly on the expected kept tokens", what);
    tap_ok(report->probs.calls_ok && report->tokens_ok,
           "%s: token = smallest i with r < C_i in index order", what);
}

struct argmax_case {
    size_t n, vocab;
    unsigned long levels, mask_one_in;
    double tau;
};

static const struct argmax_case ARGMAX_CASES[] = {
    {8, 1, 1, 0, 1.0},   {32, 5, 2, 3, 1.0},    {32, 17, 3, 4, 0.25},
    {16, 200, 4, 8, 8.0}, {4, 1000, 50, 2, 1.0}, {16, 6, 1, 2, 3.0},
};

/* 1 if q (vocab) is one-hot at token: exactly 0 elsewhere
 * (spec/sampling.md step 4) and 1 at token within 2u s^q, where with one
 * kept maximal token (e_i = 0, P = y_i, s_i / y_i = e-bar + |V| + 5)
 * s^q = 2 (e-bar + |V| + 5) + 3/2 (spec/tolerance.md#sample_probs).
 * row, y: (vocab), the logits and their softmax at tau. */
static int is_one_hot(const double *q, int64_t token, const double *row,
                      const double *y, size_t vocab, double tau)
{
    double mean = mean_entry_error(row, y, vocab, tau);
    double sampled_scale = 2.0 * (mean + (double)vocab + 5.0) + 1.5;
    for (size_t i = 0; i < vocab; i++) {
        int at_token = (int64_t)i == token;
        if (at_token && !(fabs(q[i] - 1.0) <= 2.0 * UNIT_ROUNDOFF * sampled_scale))
            return 0;
        if (!at_token && !(q[i] == 0.0))
            return 0;
    }
    return 1;
}

/* argmax is exact (spec/tolerance.md#index-outputs: fp64 reads the doubles
 * exactly; equal doubles must go to the lowest index). Sampling with
 * top_k = 1 keeps the first token in rank order, the same token, so its q
 * is 1 there and exactly 0 elsewhere, and every r in [0, 1) selects it. */
static void check_argmax(gsl_rng *rng, struct argmax_case test)
{
    size_t n = test.n, vocab = test.vocab, count = n * vocab;
    double *logits = alloc_doubles(count);  /* (n, vocab) */
    double *y = alloc_doubles(count);       /* softmax: (n, vocab) */
    double *q = alloc_doubles(count);       /* sampled: (n, vocab) */
    double *r = alloc_doubles(n);           /* (n) */
    int64_t *greedy = alloc_int64s(n), *sampled = alloc_int64s(n); /* (n) */
    for (size_t t = 0; t < n; t++) {
        fill_tied_row(logits + t * vocab, vocab, rng, test.levels,
                      test.mask_one_in);
        r[t] = t == 0 ? 0.0 : t == 1 ? R_BELOW_ONE : gsl_rng_uniform(rng);
    }
    int lowest = lmr_argmax(greedy, logits, n, vocab) == LMR_OK;
    int same = lowest
               && lmr_sample(q, sampled, logits, r, n, vocab, test.tau, 1, 1.0) == LMR_OK
               && lmr_softmax(lmr_mat_out_of(y, n, vocab),
                              lmr_mat_of(logits, n, vocab), test.tau) == LMR_OK;
    for (size_t t = 0; t < n && same; t++) {
        size_t at = t * vocab;
        lowest = lowest && is_lowest_argmax(logits + at, vocab, greedy[t]);
        same = sampled[t] == greedy[t]
               && is_one_hot(q + at, greedy[t], logits + at, y + at, vocab,
                             test.tau);
    }
    tap_ok(lowest, "argmax is the lowest maximal index (n=%zu |V|=%zu, %lu "
           "logit levels)", n, vocab, test.levels);
    tap_ok(same, "sample with top_k = 1 picks the argmax for any r, probs "
           "one-hot (n=%zu |V|=%zu tau=%g)", n, vocab, test.tau);
    free(logits);
    free(y);
    free(q);
    free(r);
    free(greedy);
    free(sampled);
}

struct full_case {
    size_t rows, vocab;
    double limit;
    unsigned long mask_one_in;
    double tau;
};

static const struct full_case FULL_CASES[] = {
    {10, 1, 3.0, 0, 1.0}, {20, 8, 3.0, 3, 1.0}, {20, 50, 4.0, 4, 0.7},
    {10, 300, 6.0, 8, 2.5},
};

/* The last unmasked entry of row (vocab) raised above every other logit, so
 * its probability is at least 1/|V| and r = 1 - 2^-53 must select it. */
static void raise_last_unmasked(double *row, size_t vocab, double limit)
{
    for (size_t i = vocab; i-- > 0;)
        if (isfinite(row[i])) {
            row[i] = limit + 1.0;
            return;
        }
}

/* top_k = 0 and top_p = 1: no truncation, so q is the softmax itself
 * (P = 1) and the token is its inverse CDF in index order; r = 0, r just
 * below 1 and midpoints of random steps. */
static void check_full_sampling(gsl_rng *rng, struct full_case test)
{
    static const enum r_choice choices[] = {R_ZERO, R_TOP, R_MIDPOINT};
    double *row = alloc_doubles(test.vocab); /* (vocab) */
    struct sample_report report = sample_report_start();
    for (size_t t = 0; t < test.rows; t++) {
        fill_logit_row(row, test.vocab, rng, test.limit, test.mask_one_in);
        raise_last_unmasked(row, test.vocab, test.limit);
        for (size_t c = 0; c < sizeof choices / sizeof choices[0]; c++) {
            struct sample_setting setting = {test.tau, 0, 1.0, choices[c]};
            sample_row(&report, row, test.vocab, setting, rng);
        }
    }
    char what[160];
    snprintf(what, sizeof what, "sample without truncation (%zu rows |V|=%zu "
             "tau=%g, r = 0, 1-2^-53, midpoints)", test.rows, test.vocab, test.tau);
    sample_report_lines(&report, what);
    free(row);
}

struct top_k_case {
    size_t rows, vocab;
    unsigned long levels, mask_one_in;
    double tau;
    int64_t top_k;
};

static const struct top_k_case TOP_K_CASES[] = {
    {20, 8, 3, 0, 1.0, 1},   {20, 8, 3, 0, 1.0, 3},   {20, 8, 2, 3, 0.5, 3},
    {20, 30, 4, 4, 1.0, 5},  {20, 30, 2, 0, 2.0, 29}, {10, 30, 3, 5, 1.0, 30},
    {10, 12, 3, 2, 1.0, 15}, {10, 100, 5, 8, 1.5, 17},
};

/* Rows with many equal logits: top-k must keep exactly k tokens (all
 * unmasked ones if fewer), the lowest indices winning the tie at the k-th
 * value; the expected set is computed by rank counting. */
static void check_top_k(gsl_rng *rng, struct top_k_case test)
{
    static const enum r_choice choices[] = {R_ZERO, R_MIDPOINT};
    double *row = alloc_doubles(test.vocab); /* (vocab) */
    struct sample_report report = sample_report_start();
    for (size_t t = 0; t < test.rows; t++) {
        fill_tied_row(row, test.vocab, rng, test.levels, test.mask_one_in);
        for (size_t c = 0; c < sizeof choices / sizeof choices[0]; c++) {
            struct sample_setting setting = {test.tau, test.top_k, 1.0,
                                             choices[c]};
            sample_row(&report, row, test.vocab, setting, rng);
        }
    }
    char what[160];
    snprintf(what, sizeof what, "sample top_k=%lld on tied rows (%zu rows "
             "|V|=%zu %lu levels tau=%g)", (long long)test.top_k, test.rows,
             test.vocab, test.levels, test.tau);
    sample_report_lines(&report, what);
    free(row);
}

struct top_p_case {
    size_t rows, vocab;
    double limit;
    unsigned long mask_one_in;
    double tau;
    int64_t top_k;
};

static const struct top_p_case TOP_P_CASES[] = {
    {30, 5, 3.0, 0, 1.0, 0},  {30, 20, 3.0, 4, 0.5, 0}, {30, 20, 3.0, 4, 2.5, 0},
    {30, 64, 2.0, 8, 1.0, 10}, {30, 64, 2.0, 0, 1.5, 3}, {10, 500, 3.0, 0, 1.0, 0},
};

/* Per row, top_p halfway between two cumulative sums of the renormalised
 * top-k distribution at temperature tau: top-p must keep exactly the
 * prefix up to the sum above it. Computing the expected set from
 * softmax(u, tau) makes this a check of "temperature before truncation"
 * too (spec/sampling.md). */
static void check_top_p(gsl_rng *rng, struct top_p_case test)
{
    double *row = alloc_doubles(test.vocab);   /* (vocab) */
    double *y = alloc_doubles(test.vocab);     /* (vocab) */
    struct sample_report report = sample_report_start();
    for (size_t t = 0; t < test.rows; t++) {
        fill_logit_row(row, test.vocab, rng, test.limit, test.mask_one_in);
        int status = lmr_softmax(lmr_mat_out_of(y, 1, test.vocab),
                                 lmr_mat_of(row, 1, test.vocab), test.tau);
        report.probs.calls_ok = report.probs.calls_ok && status == LMR_OK;
        double top_p = midpoint_top_p(row, y, test.vocab, test.top_k, rng);
        struct sample_setting setting = {test.tau, test.top_k, top_p,
                                         t % 2 ? R_ZERO : R_MIDPOINT};
        sample_row(&report, row, test.vocab, setting, rng);
    }
    char what[160];
    snprintf(what, sizeof what, "sample top_p between two cumulative sums, "
             "top_k=%lld (%zu rows |V|=%zu tau=%g)", (long long)test.top_k,
             test.rows, test.vocab, test.tau);
    sample_report_lines(&report, what);
    free(row);
    free(y);
}

/* A row of 12 logits, 8 of them equal and unmasked: their probabilities are
 * exactly 1/8 and every cumulative sum is exact (spec/tolerance.md
 * #index-outputs), so kept sets and CDF boundaries have exact answers. */
enum { UNIFORM_VOCAB = 12, UNIFORM_KEPT = 8 };
static const size_t UNMASKED[UNIFORM_KEPT] = {1, 2, 4, 5, 7, 8, 10, 11};

/* row (UNIFORM_VOCAB) */
static void fill_uniform_row(double *row)
{
    for (size_t i = 0; i < UNIFORM_VOCAB; i++)
        row[i] = -INFINITY;
    for (size_t m = 0; m < UNIFORM_KEPT; m++)
        row[UNMASKED[m]] = 0.75;
}

struct uniform_case {
    int64_t top_k;
    double top_p;
    size_t kept; /* the first `kept` unmasked tokens survive */
};

static const struct uniform_case UNIFORM_CASES[] = {
    {0, 1.0, 8},
    {0, 0.125, 1},               /* the first token alone reaches top_p */
    {0, 0x1p-40, 1},
    {0, 0.375, 3},               /* >=: a prefix equal to top_p is enough */
    {0, 0.375 + 0x1p-30, 4},
    {0, 0.875, 7},
    {0, 0.875 + 0x1p-30, 8},
    {3, 1.0, 3},                 /* exactly k of the 8 tied tokens */
    {4, 1.0, 4},
    {16, 1.0, 8},                /* k above the unmasked count */
    {4, 0.5, 2},                 /* top-p over the renormalised top-4 */
    {4, 0.5 + 0x1p-30, 3},
    {4, 0.75, 3},
    {2, 0.5, 1},
    {16, 0.5, 4},
};

static void check_uniform_kept(const struct uniform_case *test, gsl_rng *rng)
{
    double row[UNIFORM_VOCAB];
    struct sample_report report = sample_report_start();
    fill_uniform_row(row);
    struct sample_setting setting = {1.0, test->top_k, test->top_p, R_MIDPOINT};
    sample_row(&report, row, UNIFORM_VOCAB, setting, rng);
    /* the expected set is also the first `kept` unmasked indices */
    unsigned char kept[UNIFORM_VOCAB];
    double y[UNIFORM_VOCAB];
    lmr_softmax(lmr_mat_out_of(y, 1, UNIFORM_VOCAB),
                lmr_mat_of(row, 1, UNIFORM_VOCAB), 1.0);
    size_t count = expected_kept(kept, row, y, UNIFORM_VOCAB, test->top_k,
                                 test->top_p);
    int prefix = count == test->kept;
    for (size_t m = 0; m < UNIFORM_KEPT; m++)
        prefix = prefix && kept[UNMASKED[m]] == (m < test->kept);
    tap_ok(prefix && report.probs.calls_ok && report.kept_ok
               && report.tokens_ok && report.probs.ratio <= 1.0,
           "sample on 8 equal logits, top_k=%lld top_p=%a keeps the first %zu "
           "tokens, q = 1/%zu", (long long)test->top_k, test->top_p,
           test->kept, test->kept);
}

/* With q exactly 1/8 (no truncation) or 1/4 (top_k = 4) the cumulative sums
 * C_i are exact: r = C_i must select the next kept token (r < C_i is
 * strict), and r just below C_i the token whose step ends there. */
static void check_cdf_boundaries(int64_t top_k, size_t kept)
{
    double logits[UNIFORM_KEPT * UNIFORM_VOCAB]; /* (UNIFORM_KEPT, VOCAB) */
    double q[UNIFORM_KEPT * UNIFORM_VOCAB];
    double on_boundary[UNIFORM_KEPT], below[UNIFORM_KEPT]; /* r: (kept) */
    int64_t tokens_on[UNIFORM_KEPT], tokens_below[UNIFORM_KEPT];
    for (size_t j = 0; j < UNIFORM_KEPT; j++)
        fill_uniform_row(logits + j * UNIFORM_VOCAB);
    for (size_t j = 0; j < kept; j++) {
        on_boundary[j] = (double)j / (double)kept;        /* C_{j-1} exactly */
        below[j] = (double)(j + 1) / (double)kept - 0x1p-40; /* just below C_j */
    }
    int status_on = lmr_sample(q, tokens_on, logits, on_boundary, kept,
                               UNIFORM_VOCAB, 1.0, top_k, 1.0);
    int status_below = lmr_sample(q, tokens_below, logits, below, kept,
                                  UNIFORM_VOCAB, 1.0, top_k, 1.0);
    int on_ok = status_on == LMR_OK, below_ok = status_below == LMR_OK;
    for (size_t j = 0; j < kept; j++) {
        on_ok = on_ok && tokens_on[j] == (int64_t)UNMASKED[j];
        below_ok = below_ok && tokens_below[j] == (int64_t)UNMASKED[j];
    }
    tap_ok(on_ok, "sample: r = C_i exactly selects the next token "
           "(q = 1/%zu, top_k=%lld)", kept, (long long)top_k);
    tap_ok(below_ok, "sample: r just below C_i selects token i "
           "(q = 1/%zu, top_k=%lld)", kept, (long long)top_k);
}

static void test_sampling(void)
{
    gsl_rng *rng = seeded_rng(1618033UL);
    for (size_t i = 0; i < sizeof ARGMAX_CASES / sizeof ARGMAX_CASES[0]; i++)
        check_argmax(rng, ARGMAX_CASES[i]);
    for (size_t i = 0; i < sizeof FULL_CASES / sizeof FULL_CASES[0]; i++)
        check_full_sampling(rng, FULL_CASES[i]);
    for (size_t i = 0; i < sizeof TOP_K_CASES / sizeof TOP_K_CASES[0]; i++)
        check_top_k(rng, TOP_K_CASES[i]);
    for (size_t i = 0; i < sizeof TOP_P_CASES / sizeof TOP_P_CASES[0]; i++)
        check_top_p(rng, TOP_P_CASES[i]);
    for (size_t i = 0; i < sizeof UNIFORM_CASES / sizeof UNIFORM_CASES[0]; i++)
        check_uniform_kept(&UNIFORM_CASES[i], rng);
    check_cdf_boundaries(0, UNIFORM_KEPT);
    check_cdf_boundaries(4, 4);
    gsl_rng_free(rng);
}

/* ---- (e) the logit lens -------------------------------------------------- */

struct lens_case {
    size_t layers, n, vocab, d, top_k;
    int with_layernorm;
    int bits; /* > 0: dyadic hidden and E with this many bits; 0: full */
};

static const struct lens_case LENS_CASES[] = {
    {1, 1, 1, 1, 1, 0, 0},   {3, 4, 10, 6, 3, 0, 2},  {4, 5, 50, 16, 50, 0, 3},
    {2, 3, 40, 8, 5, 1, 0},  {13, 2, 100, 64, 10, 1, 0}, {3, 2, 20, 4, 7, 0, 0},
    {2, 2, 64, 768, 64, 1, 0}, {2, 3, 30, 5, 30, 1, 2},
};

/* The inputs and outputs of one lens case. */
struct lens_arrays {
    double *hidden;      /* (layers, n, d) */
    double *table;       /* E: (vocab, d) */
    double *gamma, *beta; /* (d) each */
    double *probs;       /* lens: (layers, n, vocab) */
    int64_t *top_tokens; /* lens: (layers, n, k) */
    double *top_probs;   /* lens: (layers, n, k) */
    double *x;           /* one layer, normalised: (n, d) */
    double *logits;      /* one layer: (n, vocab) */
    double *composed;    /* one layer, softmax(logits): (n, vocab) */
};

static struct lens_arrays lens_arrays_alloc(struct lens_case test)
{
    size_t rows = test.layers * test.n;
    struct lens_arrays arrays;
    arrays.hidden = alloc_doubles(rows * test.d);
    arrays.table = alloc_doubles(test.vocab * test.d);
    arrays.gamma = alloc_doubles(test.d);
    arrays.beta = alloc_doubles(test.d);
    arrays.probs = alloc_doubles(rows * test.vocab);
    arrays.top_tokens = alloc_int64s(rows * test.top_k);
    arrays.top_probs = alloc_doubles(rows * test.top_k);
    arrays.x = alloc_doubles(test.n * test.d);
    arrays.logits = alloc_doubles(test.n * test.vocab);
    arrays.composed = alloc_doubles(test.n * test.vocab);
    return arrays;
}

static void lens_arrays_free(struct lens_arrays *arrays)
{
    free(arrays->hidden);
    free(arrays->table);
    free(arrays->gamma);
    free(arrays->beta);
    free(arrays->probs);
    free(arrays->top_tokens);
    free(arrays->top_probs);
    free(arrays->x);
    free(arrays->logits);
    free(arrays->composed);
}

/* Random inputs; every third row of E repeats the one before it, so that
 * some logits are equal doubles (whatever the summation order) and the
 * tie-break of the top tokens is exercised. */
static void fill_lens_inputs(struct lens_arrays *arrays, struct lens_case test,
                             gsl_rng *rng)
{
    size_t hidden_count = test.layers * test.n * test.d;
    if (test.bits > 0) {
        fill_dyadic(arrays->hidden, hidden_count, rng, test.bits, -1);
        fill_dyadic(arrays->table, test.vocab * test.d, rng, test.bits, 0);
    } else {
        fill_uniform(arrays->hidden, hidden_count, rng, 3.0);
        fill_uniform(arrays->table, test.vocab * test.d, rng, 1.0);
    }
    for (size_t v = 2; v < test.vocab; v += 3)
        memcpy(arrays->table + v * test.d, arrays->table + (v - 1) * test.d,
               test.d * sizeof(double));
    fill_uniform(arrays->gamma, test.d, rng, 2.0);
    fill_uniform(arrays->beta, test.d, rng, 1.0);
}

/* 1 if tokens (k) are the first k tokens of row (vocab) in rank order:
 * distinct, each ranking before the next, and every unlisted token ranking
 * after the last (spec/logit_lens.md: decreasing logit, ties to the lower
 * index). */
static int is_top_prefix(const int64_t *tokens, size_t k, const double *row,
                         size_t vocab)
{
    unsigned char *listed = alloc_flags(vocab); /* (vocab) */
    int ok = 1;
    for (size_t m = 0; ok && m < k; m++) {
        int64_t token = tokens[m];
        ok = token >= 0 && (uint64_t)token < vocab && !listed[token]
             && (m == 0 || ranks_before(row, (size_t)tokens[m - 1], (size_t)token));
        if (ok)
            listed[token] = 1;
    }
    for (size_t v = 0; ok && v < vocab; v++)
        ok = listed[v] || ranks_before(row, (size_t)tokens[k - 1], v);
    free(listed);
    return ok;
}

/* The lens of layer l recomposed from the public ops: x = hidden[l]
 * (LayerNorm'd out of place when enabled), logits = head_tied(x),
 * composed = softmax(logits). Returns 1 if every call succeeded. */
static int compose_layer(struct lens_arrays *arrays, struct lens_case test,
                         size_t layer)
{
    const double *hidden = arrays->hidden + layer * test.n * test.d;
    int status = LMR_OK;
    if (test.with_layernorm)
        status = lmr_layernorm(arrays->x, hidden, arrays->gamma, arrays->beta,
                               test.n, test.d, LMR_LAYERNORM_DEFAULT_EPS);
    else
        memcpy(arrays->x, hidden, test.n * test.d * sizeof(double));
    if (status == LMR_OK)
        status = lmr_head_tied(
            lmr_mat_out_of(arrays->logits, test.n, test.vocab),
            lmr_mat_of(arrays->x, test.n, test.d),
            lmr_mat_of(arrays->table, test.vocab, test.d));
    if (status == LMR_OK)
        status = lmr_softmax(
            lmr_mat_out_of(arrays->composed, test.n, test.vocab),
            lmr_mat_of(arrays->logits, test.n, test.vocab), 1.0);
    return status == LMR_OK;
}

/* lmr_lens.c composes lmr_layernorm (in place, which lmr_layernorm.h
 * allows and which reads each input before writing it), lmr_head_tied and
 * lmr_softmax with tau = 1, exactly the equation of spec/logit_lens.md; so
 * the lens is compared with the same calls bit for bit. The top tokens are
 * checked against the logits of that composition, and top_probs against
 * the lens's own probs (a copy, spec/tolerance.md#lens). */
static void check_lens(gsl_rng *rng, struct lens_case test)
{
    size_t n = test.n, vocab = test.vocab, k = test.top_k;
    struct lens_arrays arrays = lens_arrays_alloc(test);
    fill_lens_inputs(&arrays, test, rng);
    int status = lmr_logit_lens(arrays.probs, arrays.top_tokens, arrays.top_probs,
                                arrays.hidden, arrays.table,
                                test.with_layernorm ? arrays.gamma : NULL,
                                test.with_layernorm ? arrays.beta : NULL,
                                test.layers, n, vocab, test.d, k,
                                LMR_LAYERNORM_DEFAULT_EPS);
    int same = status == LMR_OK, ranked = same, copied = same;
    for (size_t l = 0; same && l < test.layers; l++) {
        const double *probs = arrays.probs + l * n * vocab; /* (n, vocab) */
        same = compose_layer(&arrays, test, l)
               && memcmp(probs, arrays.composed, n * vocab * sizeof(double)) == 0;
        for (size_t t = 0; t < n; t++) {
            const int64_t *tokens = arrays.top_tokens + (l * n + t) * k;
            const double *top = arrays.top_probs + (l * n + t) * k;
            ranked = ranked && is_top_prefix(tokens, k, arrays.logits + t * vocab,
                                             vocab);
            for (size_t m = 0; ranked && copied && m < k; m++)
                copied = memcmp(&top[m], &probs[t * vocab + (size_t)tokens[m]],
                                sizeof(double)) == 0;
        }
    }
    const char *variant = test.with_layernorm ? "layernorm + " : "";
    tap_ok(same, "logit_lens probs = %shead_tied + softmax per layer, bit for "
           "bit (L=%zu n=%zu |V|=%zu d=%zu)", variant, test.layers, n, vocab, test.d);
    tap_ok(same && ranked, "logit_lens top_tokens are the top %zu by logit, "
           "ties to the lower index (L=%zu n=%zu |V|=%zu%s)", k, test.layers, n,
           vocab, test.bits ? ", dyadic" : "");
    tap_ok(same && ranked && copied, "logit_lens top_probs = probs at "
           "top_tokens, bit for bit (L=%zu n=%zu |V|=%zu k=%zu)", test.layers,
           n, vocab, k);
    lens_arrays_free(&arrays);
}

static void test_lens(void)
{
    gsl_rng *rng = seeded_rng(14142135UL);
    for (size_t i = 0; i < sizeof LENS_CASES / sizeof LENS_CASES[0]; i++)
        check_lens(rng, LENS_CASES[i]);
    gsl_rng_free(rng);
}

/* ---- (f) parameter counts ------------------------------------------------ */

enum { PARAM_TRIPLES = 300 };

/* The identities of spec/param_count.md on one result, exact in int64:
 * untied = tied + saving, saving = |V| d (saving / d = |V| with no
 * remainder), tied - saving = B. */
static int counts_consistent(const lmr_param_counts *counts, int64_t vocab,
                             int64_t d, int64_t block_params)
{
    return counts->untied - counts->tied == counts->saving
           && counts->saving % d == 0 && counts->saving / d == vocab
           && counts->tied - counts->saving == block_params;
}

/* relative = saving / untied, K = 3, s = |g| (spec/tolerance.md
 * #param_count). When both counts are below 2^53 they convert exactly and
 * this test's quotient is the exact ratio rounded once (within u |g|), so
 * the two differ by at most 4u |g|; above, this test converts and divides
 * as well (3u |g|), so 6u |g|. */
static void relative_update(struct worst *worst, const lmr_param_counts *counts)
{
    const int64_t exact_limit = (int64_t)1 << 53;
    double want = (double)counts->saving / (double)counts->untied;
    double k = counts->untied < exact_limit ? 4.0 : 6.0;
    worst_update(worst, fabs(counts->relative - want),
                 k * UNIT_ROUNDOFF * fabs(want));
}

/* One random triple: |V| and d up to 2^31, B up to what keeps untied in
 * int64 (large) or small sizes (otherwise); one triple in 8 has B = 0. */
static void random_triple(gsl_rng *rng, int large, int64_t *vocab, int64_t *d,
                          int64_t *block_params)
{
    /* |V|, d <= 2^31 - 1 keep 2 |V| d below 2^63 */
    uint64_t vocab_span = large ? ((uint64_t)1 << 31) - 1 : (uint64_t)1 << 20;
    uint64_t width_span = large ? ((uint64_t)1 << 31) - 1 : (uint64_t)1 << 14;
    *vocab = 1 + (int64_t)(random_bits64(rng) % vocab_span);
    *d = 1 + (int64_t)(random_bits64(rng) % width_span);
    uint64_t room = (uint64_t)INT64_MAX - 2 * (uint64_t)*vocab * (uint64_t)*d;
    uint64_t limit = large ? room : (uint64_t)1 << 40;
    *block_params = one_in(rng, 8) ? 0
                                   : (int64_t)(random_bits64(rng) % (limit + 1));
}

static void check_param_identities(gsl_rng *rng, int large)
{
    struct worst relative = worst_start(), half = worst_start();
    int consistent = 1;
    for (size_t i = 0; i < PARAM_TRIPLES; i++) {
        int64_t vocab, d, block_params;
        lmr_param_counts counts;
        random_triple(rng, large, &vocab, &d, &block_params);
        if (i == 0)
            block_params = 0; /* the B = 0 line below is never vacuous */
        int status = lmr_param_count(&counts, vocab, d, block_params);
        relative.calls_ok = relative.calls_ok && status == LMR_OK;
        if (status != LMR_OK)
            continue;
        consistent = consistent
                     && counts_consistent(&counts, vocab, d, block_params);
        relative_update(&relative, &counts);
        /* B = 0: the exact ratio is 1/2 (K = 3, s = 1/2) */
        if (block_params == 0)
            worst_update(&half, fabs(counts.relative - 0.5), 1.5 * UNIT_ROUNDOFF);
    }
    const char *size = large ? "|V|, d < 2^31, untied up to 2^63-1"
                             : "|V| < 2^20, d < 2^14, B < 2^40";
    tap_ok(relative.calls_ok && consistent, "param_count: untied = tied + "
           "saving, saving = |V| d, tied = |V| d + B (%d triples, %s)",
           PARAM_TRIPLES, size);
    worst_report(&relative, "param_count: relative = saving / untied (%d "
                 "triples, %s)", PARAM_TRIPLES, size);
    worst_report(&half, "param_count: relative = 1/2 when B = 0 (%s)", size);
}

/* GPT-2 small, spec/param_count.md and spec/errata.md E13. */
static void check_gpt2_small(void)
{
    lmr_param_counts counts;
    int status = lmr_param_count(&counts, 50257, 768, 85842432);
    struct worst worst = worst_start();
    worst.calls_ok = status == LMR_OK && counts.untied == 163037184
                     && counts.tied == 124439808 && counts.saving == 38597376;
    worst_update(&worst, fabs(counts.relative - 0.23673971208923728),
                 3.0 * UNIT_ROUNDOFF * 0.23673971208923728);
    worst_report(&worst, "param_count of GPT-2 small: 163037184 untied, "
                 "124439808 tied, 38597376 saved, relative 0.2367...");
}

static void test_param_count(void)
{
    gsl_rng *rng = seeded_rng(1123581321UL);
    check_param_identities(rng, 0);
    check_param_identities(rng, 1);
    check_gpt2_small();
    gsl_rng_free(rng);
}

int main(void)
{
    test_heads();
    test_softmax();
    test_cross_entropy();
    test_sampling();
    test_lens();
    test_param_count();
    tap_done();
    return tap_exit_status();
}
