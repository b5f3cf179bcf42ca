/*
 * oracle_sample.c -- the oracle of spec/sampling.md (argmax, sample) and the
 * acceptable sets of index outputs (spec/tolerance.md#index-outputs).
 *
 * sample, per row, at ORACLE_PREC bits (tools/oracle/oracle_softmax.c gives
 * w_i = exp((u_i - a)/tau), exactly 1 where u_i = a, and y_i = w_i / S):
 *   rank       the unmasked tokens by decreasing logit, ties by index
 *   top-k      keep the first min(top_k, M) of them
 *   top-p      keep the shortest prefix with  sum_prefix w >= top_p W_k,
 *              W_k the sum over the top-k set (top_p W_k formed exactly)
 *   q_i        = w_i / W over the kept set (y_i / P over the reals)
 *   token      the smallest kept i with  r W < sum_{kept j <= i} w_j
 *              (r W formed exactly)
 * Comparing sums of weights, not quotients, keeps every decision exact when
 * the weights involved are all 1 (equal logits): the exact ties and dyadic
 * boundaries of the spec are decided without rounding.
 *
 * Acceptable sets, per class c (u_c, f_c of spec/tolerance.md):
 *   argmax     the lowest maximal index, and every i with u_i != a whose
 *              interval u_i +- (u_c (|u_i| + |a|) + f_c) reaches that of a;
 *              equal doubles are exact ties, never loosened.
 *   top-k/p    the kept set is certain when every kept token lies entirely
 *              above every dropped one (probability intervals +- (2 u_c s_i
 *              + f_c); tokens with equal logits are exact ties) and, for
 *              top-p, the cumulative sums of the renormalised probabilities
 *              (intervals: sum of the terms' plus m u_c C_m for m additions)
 *              lie certainly on their side of top_p. Otherwise the class is
 *              left out of *stable_classes.
 *   token      kept i is acceptable when r can lie in [C_i', C_i) within
 *              the intervals (terms +- (2 u_c s^q_j + f_c), plus i u_c C_i).
 *   dyadic     a row whose unmasked logits are all equal, with M and the
 *              number of tokens the step renormalises over powers of two,
 *              has exact probabilities and sums: top-p and the token are
 *              then certain.
 */
#include <math.h> /* isfinite, isnan, INFINITY: no arithmetic */
#include <stdint.h>
#include <stdlib.h>

#include <mpfr.h>

#include "oracle_head.h"
#include "oracle_internal.h"

/* K of spec/tolerance.md#sample_probs and of the softmax model. */
static const double SAMPLE_K = 2.0;
static const unsigned PROBABILITY_K = 2;

/* u_c = 2^UNIT_EXPONENT[c] and f_c = 2^FLOOR_EXPONENT[c] for the classes
 * fp64, fp32, bf16, fp16 (spec/tolerance.md#precision-classes). */
static const long UNIT_EXPONENT[ORACLE_CLASS_COUNT] = {-53, -24, -8, -11};
static const long FLOOR_EXPONENT[ORACLE_CLASS_COUNT] = {-1022, -126, -126,
                                                        -14};

/* ---- precision classes ---- */

/* Sets u to u_c, the unit roundoff of class c, exactly. */
static void class_unit(mpfr_t u, int c)
{
    mpfr_set_ui_2exp(u, 1, UNIT_EXPONENT[c], MPFR_RNDN);
}

/* half = factor u_c scale + f_c, rounded upward. */
static void half_width(mpfr_t half, const mpfr_t scale, unsigned factor,
                       int c)
{
    mpfr_t floor_c;
    mpfr_init2(floor_c, ORACLE_PREC);
    mpfr_set_ui_2exp(floor_c, 1, FLOOR_EXPONENT[c], MPFR_RNDN);
    mpfr_mul_ui(half, scale, factor, MPFR_RNDU);
    mpfr_mul_2si(half, half, UNIT_EXPONENT[c], MPFR_RNDU);
    mpfr_add(half, half, floor_c, MPFR_RNDU);
    mpfr_clear(floor_c);
}

void oracle_class_interval(double *lo, double *hi, const mpfr_t value,
                           const mpfr_t scale, unsigned factor, int c)
{
    mpfr_t half, end;
    mpfr_inits2(ORACLE_PREC, half, end, (mpfr_ptr)0);
    half_width(half, scale, factor, c);
    mpfr_sub(end, value, half, MPFR_RNDD);
    *lo = mpfr_get_d(end, MPFR_RNDD);
    mpfr_add(end, value, half, MPFR_RNDU);
    *hi = mpfr_get_d(end, MPFR_RNDU);
    mpfr_clears(half, end, (mpfr_ptr)0);
}

/* ---- choices ---- */

void oracle_choices_free(oracle_choices *choices, size_t count)
{
    if (choices == NULL)
        return;
    for (size_t i = 0; i < count; i++) {
        free(choices[i].values);
        choices[i].values = NULL;
        choices[i].count = 0;
    }
}

/* Sets choices[0 .. count) to empty, so that oracle_choices_free is safe. */
static void choices_empty(oracle_choices *choices, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        choices[i].values = NULL;
        choices[i].count = 0;
    }
}

/* Sets choice = {expected, then every other i with acceptable[i], in
 * increasing order}. Returns -1 if memory runs out.
 * acceptable: (count), or NULL when count is 0 */
static int choices_from_flags(oracle_choices *choice, int64_t expected,
                              const unsigned char *acceptable, size_t count)
{
    size_t others = 0;
    for (size_t i = 0; i < count; i++)
        if (acceptable[i] && (int64_t)i != expected)
            others++;
    choice->values = malloc((others + 1) * sizeof *choice->values);
    if (choice->values == NULL)
        return -1;
    choice->count = 1;
    choice->values[0] = expected;
    for (size_t i = 0; i < count; i++)
        if (acceptable[i] && (int64_t)i != expected)
            choice->values[choice->count++] = (int64_t)i;
    return 0;
}

/* Sets choice = {expected}, or returns -1 if memory runs out. */
static int choices_single(oracle_choices *choice, int64_t expected)
{
    return choices_from_flags(choice, expected, NULL, 0);
}

/* ---- argmax ---- */

/* The lowest index of the maximal entry of a valid row. row: (V) */
static size_t lowest_argmax(const double *row, size_t V)
{
    size_t best = 0;
    for (size_t i = 1; i < V; i++)
        if (row[i] > row[best])
            best = i;
    return best;
}

/* acceptable[i] = 1 when token i may be returned by argmax in class c
 * besides the expected one (see the top of this file).
 * acceptable, row: (V) */
static void argmax_flags(unsigned char *acceptable, const double *row,
                         size_t V, int c)
{
    double a = row[lowest_argmax(row, V)];
    double lo_max, hi_max, lo, hi;
    mpfr_t value, scale, a_magnitude;
    if (c == 0) { /* fp64 reads the logits exactly: no alternatives */
        for (size_t i = 0; i < V; i++)
            acceptable[i] = 0;
        return;
    }
    mpfr_inits2(ORACLE_PREC, value, scale, a_magnitude, (mpfr_ptr)0);
    mpfr_set_d(a_magnitude, a < 0 ? -a : a, MPFR_RNDN);
    mpfr_set_d(value, a, MPFR_RNDN);
    mpfr_mul_ui(scale, a_magnitude, 2, MPFR_RNDU);
    oracle_class_interval(&lo_max, &hi_max, value, scale, 1, c);
    for (size_t i = 0; i < V; i++) {
        acceptable[i] = 0;
        if (!isfinite(row[i]) || row[i] == a)
            continue; /* masked, or an exact tie: only the lowest index */
        mpfr_set_d(value, row[i], MPFR_RNDN);
        mpfr_abs(scale, value, MPFR_RNDU);
        mpfr_add(scale, scale, a_magnitude, MPFR_RNDU);
        oracle_class_interval(&lo, &hi, value, scale, 1, c);
        acceptable[i] = hi >= lo_max;
    }
    mpfr_clears(value, scale, a_magnitude, (mpfr_ptr)0);
}

/* 1 if the index-output arguments of an op with n rows can be written. */
static int index_outputs_ok(const int64_t *token,
                            const oracle_choices *choices, size_t n)
{
    return n == 0 || (token != NULL && choices != NULL);
}

/* spec/sampling.md#argmax. Contract: tools/oracle/oracle_head.h.
 * token: (n); choices: (n * ORACLE_CLASS_COUNT); logits: (n, V) */
int oracle_argmax(int64_t *token, oracle_choices *choices,
                  const double *logits, size_t n, size_t V)
{
    if (oracle_check_argmax(oracle_mat(logits, n, V)) != ORACLE_OK
        || !index_outputs_ok(token, choices, n))
        return -1;
    unsigned char *acceptable = malloc(V);
    if (acceptable == NULL)
        return -1;
    choices_empty(choices, n * ORACLE_CLASS_COUNT);
    int status = 0;
    for (size_t t = 0; status == 0 && t < n; t++) {
        const double *row = logits + t * V;
        token[t] = (int64_t)lowest_argmax(row, V);
        for (int c = 0; status == 0 && c < ORACLE_CLASS_COUNT; c++) {
            argmax_flags(acceptable, row, V, c);
            status = choices_from_flags(
                &choices[t * ORACLE_CLASS_COUNT + (size_t)c], token[t],
                acceptable, V);
        }
    }
    free(acceptable);
    if (status != 0)
        oracle_choices_free(choices, n * ORACLE_CLASS_COUNT);
    return status;
}

/* ---- sample: one row ---- */

/* An unmasked token and its logit, for ranking. */
typedef struct {
    double logit;
    size_t index;
} ranked_token;

/* qsort order: decreasing logit, ties by increasing index. */
static int by_rank(const void *left, const void *right)
{
    const ranked_token *a = left, *b = right;
    if (a->logit != b->logit)
        return a->logit > b->logit ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* The working state of one row of sample. */
typedef struct {
    oracle_softmax_row soft;  /* p = softmax(u / tau) */
    ranked_token *order;      /* (V): the soft.unmasked tokens by rank */
    size_t topk_count;        /* tokens kept by top-k */
    size_t kept_count;        /* tokens kept by top-k and top-p: the first
                                 kept_count of order */
    unsigned char *kept;      /* (V): 1 for a kept token */
    mpfr_t *renormalised;     /* (V): by rank, p'_m = w / W_k over the top-k
                                 set */
    mpfr_t *renormalised_scale; /* (V): by rank, its scale (the formula of
                                   spec/tolerance.md#sample_probs) */
    mpfr_t *q;                /* (V): by index, the output distribution */
    mpfr_t *q_scale;          /* (V): by index, s^q; 0 where not kept */
    double *lo, *hi;          /* (V): by rank, interval scratch */
    unsigned char *flags;     /* (V): scratch for acceptable tokens */
    size_t token;             /* the sampled token */
} sample_row;

/* Allocates a row of length V; returns -1 (all freed) if memory runs out. */
static int sample_row_init(sample_row *row, size_t V)
{
    int status = oracle_softmax_row_init(&row->soft, V);
    row->order = malloc((V > 0 ? V : 1) * sizeof *row->order);
    row->kept = malloc(V > 0 ? V : 1);
    row->flags = malloc(V > 0 ? V : 1);
    row->lo = malloc((V > 0 ? V : 1) * sizeof *row->lo);
    row->hi = malloc((V > 0 ? V : 1) * sizeof *row->hi);
    row->renormalised = oracle_numbers_new(V);
    row->renormalised_scale = oracle_numbers_new(V);
    row->q = oracle_numbers_new(V);
    row->q_scale = oracle_numbers_new(V);
    if (status == 0 && row->order && row->kept && row->flags && row->lo
        && row->hi && row->renormalised && row->renormalised_scale
        && row->q && row->q_scale)
        return 0;
    if (status == 0)
        oracle_softmax_row_clear(&row->soft);
    free(row->order);
    free(row->kept);
    free(row->flags);
    free(row->lo);
    free(row->hi);
    oracle_numbers_free(row->renormalised, V);
    oracle_numbers_free(row->renormalised_scale, V);
    oracle_numbers_free(row->q, V);
    oracle_numbers_free(row->q_scale, V);
    return -1;
}

static void sample_row_clear(sample_row *row)
{
    size_t V = row->soft.V;
    oracle_softmax_row_clear(&row->soft);
    free(row->order);
    free(row->kept);
    free(row->flags);
    free(row->lo);
    free(row->hi);
    oracle_numbers_free(row->renormalised, V);
    oracle_numbers_free(row->renormalised_scale, V);
    oracle_numbers_free(row->q, V);
    oracle_numbers_free(row->q_scale, V);
}

/* Fills row->order with the unmasked tokens by rank. logits: (V) */
static void rank_tokens(sample_row *row, const double *logits)
{
    size_t M = 0;
    for (size_t i = 0; i < row->soft.V; i++) {
        if (row->soft.masked[i])
            continue;
        row->order[M].logit = logits[i];
        row->order[M].index = i;
        M++;
    }
    qsort(row->order, M, sizeof *row->order, by_rank);
}

/* For the first count tokens by rank: value[m] = w / W (W their sum of
 * weights) and scale[m] = (s + value sum s)/P + value (count + 2)/2 with
 * P = sum y (spec/tolerance.md#sample_probs), rounded upward.
 * value, scale: (count), by rank */
static void renormalise(mpfr_t *value, mpfr_t *scale, const sample_row *row,
                        size_t count)
{
    const oracle_softmax_row *soft = &row->soft;
    mpfr_t weight_sum, probability_sum, scale_sum, term;
    mpfr_inits2(ORACLE_PREC, weight_sum, probability_sum, scale_sum, term,
                (mpfr_ptr)0);
    mpfr_set_zero(weight_sum, 1);
    mpfr_set_zero(probability_sum, 1);
    mpfr_set_zero(scale_sum, 1);
    for (size_t m = 0; m < count; m++) {
        size_t i = row->order[m].index;
        mpfr_add(weight_sum, weight_sum, soft->weight[i], MPFR_RNDN);
        mpfr_add(probability_sum, probability_sum, soft->y[i], MPFR_RNDD);
        mpfr_add(scale_sum, scale_sum, soft->scale[i], MPFR_RNDU);
    }
    for (size_t m = 0; m < count; m++) {
        size_t i = row->order[m].index;
        mpfr_div(value[m], soft->weight[i], weight_sum, MPFR_RNDN);
        mpfr_mul(scale[m], value[m], scale_sum, MPFR_RNDU);
        mpfr_add(scale[m], scale[m], soft->scale[i], MPFR_RNDU);
        mpfr_div(scale[m], scale[m], probability_sum, MPFR_RNDU);
        mpfr_mul_ui(term, value[m], (unsigned long)count + 2, MPFR_RNDU);
        mpfr_div_2ui(term, term, 1, MPFR_RNDU);
        mpfr_add(scale[m], scale[m], term, MPFR_RNDU);
    }
    mpfr_clears(weight_sum, probability_sum, scale_sum, term, (mpfr_ptr)0);
}

/* sum = the weights of the first count tokens by rank, added in rank order. */
static void rank_weight_sum(mpfr_t sum, const sample_row *row, size_t count)
{
    mpfr_set_zero(sum, 1);
    for (size_t m = 0; m < count; m++)
        mpfr_add(sum, sum, row->soft.weight[row->order[m].index], MPFR_RNDN);
}

/* product = x * v, exactly (x has at most ORACLE_PREC bits). */
static void exact_product(mpfr_t product, const mpfr_t x, double v)
{
    mpfr_set_prec(product, 2 * ORACLE_PREC);
    mpfr_mul_d(product, x, v, MPFR_RNDN); /* 53 + 256 bits suffice */
}

/* The length of the shortest prefix of the top-k set whose weight reaches
 * top_p times the set's weight (spec/sampling.md step 3). */
static size_t top_p_length(const sample_row *row, double top_p)
{
    mpfr_t total, threshold, prefix;
    mpfr_inits2(ORACLE_PREC, total, threshold, prefix, (mpfr_ptr)0);
    rank_weight_sum(total, row, row->topk_count);
    exact_product(threshold, total, top_p);
    size_t length = row->topk_count;
    mpfr_set_zero(prefix, 1);
    for (size_t m = 0; m < row->topk_count; m++) {
        mpfr_add(prefix, prefix, row->soft.weight[row->order[m].index],
                 MPFR_RNDN);
        if (mpfr_greaterequal_p(prefix, threshold)) {
            length = m + 1;
            break;
        }
    }
    mpfr_clears(total, threshold, prefix, (mpfr_ptr)0);
    return length;
}

/* The smallest kept i (in index order) with r W < sum_{kept j <= i} w_j,
 * W the weight of the kept set (spec/sampling.md step 5). */
static size_t inverse_cdf(const sample_row *row, double r)
{
    mpfr_t total, target, cumulative;
    mpfr_inits2(ORACLE_PREC, total, target, cumulative, (mpfr_ptr)0);
    rank_weight_sum(total, row, row->kept_count);
    exact_product(target, total, r);
    size_t token = row->order[0].index;
    mpfr_set_zero(cumulative, 1);
    for (size_t i = 0; i < row->soft.V; i++) {
        if (!row->kept[i])
            continue;
        token = i; /* the last kept token if rounding left r W >= W */
        mpfr_add(cumulative, cumulative, row->soft.weight[i], MPFR_RNDN);
        if (mpfr_less_p(target, cumulative))
            break;
    }
    mpfr_clears(total, target, cumulative, (mpfr_ptr)0);
    return token;
}

/* Runs steps 1 to 5 of spec/sampling.md on a loaded row: sets the kept
 * set, q, q_scale, the renormalised top-k distribution and the token. */
static void sample_one_row(sample_row *row, const double *logits, double tau,
                           int64_t top_k, double top_p, double r)
{
    size_t V = row->soft.V;
    oracle_softmax_row_compute(&row->soft, tau, NULL);
    rank_tokens(row, logits);
    size_t M = row->soft.unmasked;
    row->topk_count = M;
    if (top_k >= 1 && (uint64_t)top_k < (uint64_t)M)
        row->topk_count = (size_t)top_k;
    row->kept_count = top_p < 1.0 ? top_p_length(row, top_p)
                                  : row->topk_count;
    /* q and s^q by rank into scratch, then by index */
    renormalise(row->renormalised, row->renormalised_scale, row,
                row->kept_count);
    for (size_t i = 0; i < V; i++) {
        row->kept[i] = 0;
        mpfr_set_zero(row->q[i], 1);
        mpfr_set_zero(row->q_scale[i], 1);
    }
    for (size_t m = 0; m < row->kept_count; m++) {
        size_t i = row->order[m].index;
        row->kept[i] = 1;
        mpfr_set(row->q[i], row->renormalised[m], MPFR_RNDN);
        mpfr_set(row->q_scale[i], row->renormalised_scale[m], MPFR_RNDU);
    }
    row->token = inverse_cdf(row, r);
    /* the renormalised top-k distribution, for the top-p checks */
    renormalise(row->renormalised, row->renormalised_scale, row,
                row->topk_count);
}

/* ---- sample: certainty of the kept set and acceptable tokens ---- */

/* 1 if x is a power of two. */
static int power_of_two(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

/* 1 if the row is the exact dyadic case of spec/tolerance.md#index-outputs
 * for a step that renormalises over count tokens: every unmasked logit
 * equal, M and count powers of two. */
static int dyadic(const sample_row *row, size_t count)
{
    size_t M = row->soft.unmasked;
    return row->order[0].logit == row->order[M - 1].logit && power_of_two(M)
           && power_of_two(count);
}

/* 1 if the first kept of count ranked tokens certainly stay the first:
 * every pair (above, below) with different logits has lo(above) >
 * hi(below). Tokens with equal logits are exact ties, ranked by index.
 * lo, hi: (count), by rank */
static int prefix_certain(const ranked_token *order, size_t count,
                          size_t kept, const double *lo, const double *hi)
{
    if (kept == 0 || kept >= count)
        return 1;
    double boundary = order[kept - 1].logit;
    double lowest_kept = INFINITY, lowest_kept_other = INFINITY;
    double highest_dropped_other = -INFINITY, highest_dropped_tied = -INFINITY;
    for (size_t m = 0; m < kept; m++) {
        lowest_kept = lo[m] < lowest_kept ? lo[m] : lowest_kept;
        if (order[m].logit != boundary && lo[m] < lowest_kept_other)
            lowest_kept_other = lo[m];
    }
    for (size_t m = kept; m < count; m++) {
        if (order[m].logit == boundary) {
            if (hi[m] > highest_dropped_tied)
                highest_dropped_tied = hi[m];
        } else if (hi[m] > highest_dropped_other) {
            highest_dropped_other = hi[m];
        }
    }
    return lowest_kept > highest_dropped_other
           && lowest_kept_other > highest_dropped_tied;
}

/* 1 if, in class c, top-k keeps the same tokens whatever the rounding
 * within the probability intervals. */
static int top_k_certain(sample_row *row, int c)
{
    size_t M = row->soft.unmasked;
    if (row->topk_count >= M)
        return 1; /* every unmasked token is kept */
    for (size_t m = 0; m < M; m++) {
        size_t i = row->order[m].index;
        oracle_class_interval(&row->lo[m], &row->hi[m], row->soft.y[i],
                              row->soft.scale[i], PROBABILITY_K, c);
    }
    return prefix_certain(row->order, M, row->topk_count, row->lo, row->hi);
}

/* 1 if the cumulative renormalised probabilities of the top-k set decide
 * the prefix certainly in class c: C_{kept-2} < top_p and (unless the
 * prefix is the whole set) C_{kept-1} >= top_p, within their intervals. */
static int cumulative_certain(const sample_row *row, double top_p, int c)
{
    mpfr_t cumulative, half_sum, half, bound, end, unit;
    mpfr_inits2(ORACLE_PREC, cumulative, half_sum, half, bound, end, unit,
                (mpfr_ptr)0);
    class_unit(unit, c);
    mpfr_set_zero(cumulative, 1);
    mpfr_set_zero(half_sum, 1);
    int certain = 1;
    for (size_t m = 0; m < row->kept_count; m++) {
        mpfr_add(cumulative, cumulative, row->renormalised[m], MPFR_RNDN);
        half_width(half, row->renormalised_scale[m], PROBABILITY_K, c);
        mpfr_add(half_sum, half_sum, half, MPFR_RNDU);
        mpfr_mul(bound, unit, cumulative, MPFR_RNDU);      /* u_c C_m */
        mpfr_mul_ui(bound, bound, (unsigned long)m, MPFR_RNDU);
        mpfr_add(bound, bound, half_sum, MPFR_RNDU);
        if (m + 2 == row->kept_count) {
            mpfr_add(end, cumulative, bound, MPFR_RNDU);
            certain &= mpfr_cmp_d(end, top_p) < 0;
        }
        if (m + 1 == row->kept_count && row->kept_count < row->topk_count) {
            mpfr_sub(end, cumulative, bound, MPFR_RNDD);
            certain &= mpfr_cmp_d(end, top_p) >= 0;
        }
    }
    mpfr_clears(cumulative, half_sum, half, bound, end, unit, (mpfr_ptr)0);
    return certain;
}

/* 1 if, in class c, top-p keeps the same tokens whatever the rounding
 * within the intervals of the renormalised probabilities. */
static int top_p_certain(sample_row *row, double top_p, int c)
{
    if (!(top_p < 1.0) || dyadic(row, row->topk_count))
        return 1;
    for (size_t m = 0; m < row->topk_count; m++)
        oracle_class_interval(&row->lo[m], &row->hi[m], row->renormalised[m],
                              row->renormalised_scale[m], PROBABILITY_K, c);
    return prefix_certain(row->order, row->topk_count, row->kept_count,
                          row->lo, row->hi)
           && cumulative_certain(row, top_p, c);
}

/* The acceptable tokens of class c: the sampled token, and every kept i
 * with C_i' - W_i' <= r < C_i + W_i, W_i = sum_{kept j <= i} (2 u_c s^q_j
 * + f_c) + i u_c C_i, i' the previous kept token (none: 0 exactly). Only
 * the sampled token in the dyadic case. Returns -1 if memory runs out. */
static int token_choices(oracle_choices *choice, sample_row *row, double r,
                         int c)
{
    if (dyadic(row, row->kept_count))
        return choices_single(choice, (int64_t)row->token);
    mpfr_t cumulative, half_sum, half, bound, end, unit;
    mpfr_inits2(ORACLE_PREC, cumulative, half_sum, half, bound, end, unit,
                (mpfr_ptr)0);
    class_unit(unit, c);
    mpfr_set_zero(cumulative, 1);
    mpfr_set_zero(half_sum, 1);
    int r_above_previous = 1; /* r >= the lowest C_i' (0 before the first) */
    for (size_t i = 0; i < row->soft.V; i++) {
        row->flags[i] = 0;
        if (!row->kept[i])
            continue;
        mpfr_add(cumulative, cumulative, row->q[i], MPFR_RNDN);
        half_width(half, row->q_scale[i], PROBABILITY_K, c);
        mpfr_add(half_sum, half_sum, half, MPFR_RNDU);
        mpfr_mul(bound, unit, cumulative, MPFR_RNDU);
        mpfr_mul_ui(bound, bound, (unsigned long)i, MPFR_RNDU);
        mpfr_add(bound, bound, half_sum, MPFR_RNDU);
        mpfr_add(end, cumulative, bound, MPFR_RNDU);
        row->flags[i] = r_above_previous && mpfr_cmp_d(end, r) > 0;
        mpfr_sub(end, cumulative, bound, MPFR_RNDD);
        r_above_previous = mpfr_cmp_d(end, r) <= 0;
    }
    mpfr_clears(cumulative, half_sum, half, bound, end, unit, (mpfr_ptr)0);
    return choices_from_flags(choice, (int64_t)row->token, row->flags,
                                     row->soft.V);
}

/* ---- sample ---- */

/* spec/sampling.md#sample. Contract: tools/oracle/oracle_head.h.
 * probs, scale: (n, V); token: (n); choices: (n * ORACLE_CLASS_COUNT);
 * logits: (n, V); r: (n) */
int oracle_sample(double *probs, double *scale, double *k, int64_t *token,
                  oracle_choices *choices, unsigned *stable_classes,
                  const double *logits, const double *r, size_t n, size_t V,
                  double tau, int64_t top_k, double top_p)
{
    if (oracle_check_sample(oracle_mat(logits, n, V), oracle_vec(r, n), tau,
                            top_k, top_p) != ORACLE_OK
        || stable_classes == NULL
        || !oracle_outputs_ok(probs, scale, k, n * V)
        || !index_outputs_ok(token, choices, n))
        return -1;
    sample_row row;
    if (sample_row_init(&row, V) != 0)
        return -1;
    choices_empty(choices, n * ORACLE_CLASS_COUNT);
    unsigned stable = (1u << ORACLE_CLASS_COUNT) - 1;
    int status = 0;
    for (size_t t = 0; status == 0 && t < n; t++) {
        oracle_softmax_row_load(&row.soft, logits + t * V);
        sample_one_row(&row, logits + t * V, tau, top_k, top_p, r[t]);
        for (size_t i = 0; i < V; i++) {
            probs[t * V + i] = mpfr_get_d(row.q[i], MPFR_RNDN);
            scale[t * V + i] = mpfr_get_d(row.q_scale[i], MPFR_RNDU);
        }
        token[t] = (int64_t)row.token;
        for (int c = 0; status == 0 && c < ORACLE_CLASS_COUNT; c++) {
            if (!top_k_certain(&row, c) || !top_p_certain(&row, top_p, c))
                stable &= ~(1u << c);
            status = token_choices(&choices[t * ORACLE_CLASS_COUNT
                                            + (size_t)c], &row, r[t], c);
        }
    }
    sample_row_clear(&row);
    if (status != 0) {
        oracle_choices_free(choices, n * ORACLE_CLASS_COUNT);
        return -1;
    }
    *stable_classes = stable;
    *k = SAMPLE_K;
    return 0;
}
