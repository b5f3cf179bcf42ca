/*
 * oracle_lens.c -- the oracle of spec/logit_lens.md.
 *
 * For each layer l and position t, at ORACLE_PREC bits:
 *   x       = H[l, t, :] (exact), or LayerNorm(H[l, t, :]; gamma, beta, eps)
 *             unrounded (oracle_layernorm_row)
 *   u_v     = x . E[v]: exact (oracle_exact_dot), then rounded to
 *             ORACLE_PREC bits for the softmax
 *   Lambda_v = (d + 2) sum_j |x_j E[v, j]|
 *              [+ sum_j |E[v, j]| (2d + 8) s^LN_j with the LayerNorm]
 *   probs   = softmax(u), tau = 1, with the scale of spec/tolerance.md#lens:
 *             e_i = 3|z_i| + |u_i| + |a| + Lambda_i + Lambda_a (K = 2)
 *   top_tokens = the first k tokens by decreasing u, ties by index;
 *   top_probs  = their probs, with their scales.
 *
 * Acceptable top tokens, per class c (spec/tolerance.md#index-outputs):
 * with intervals u_v +- (u_c Lambda_v + f_c), token v may stand at rank m
 * when  #{w : lo_w > hi_v} <= m <= #{w != v : hi_w >= lo_v}  (counted by
 * binary search in the sorted interval ends). Computed logits that are equal
 * are not exact ties: they may come out in either order.
 *
 * exact_arithmetic (without the LayerNorm only) is a sufficient test that
 * every product and partial sum is a binary32 number in every class: every
 * non-zero input of H and E has at most 8 significant bits (so bf16, fp16
 * and binary32 store it exactly) and a magnitude in [2^-126, 2^128); the
 * products are multiples of 2^bottom (bottom = the lowest set bit of H plus
 * that of E) with -126 <= bottom <= 104; and every sum_j |x_j E[v, j]| is
 * below 2^(24 + bottom). Then every logit is exact in every class, and only
 * the expected token is acceptable.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include <gmp.h>
#include <mpfr.h>

#include "oracle_head.h"
#include "oracle_internal.h"

/* K of spec/tolerance.md#lens (softmax scale). */
static const double LENS_K = 2.0;

/* Bits of the bf16 significand: inputs with no more are exact in every
 * class. */
static const size_t SHORT_FLOAT_BITS = 8;

/* ---- the exact_arithmetic test ---- */

/* 1 if x is 0 or a number with at most SHORT_FLOAT_BITS significant bits
 * and a magnitude in [2^-126, 2^128); then *low is lowered to the exponent
 * of its lowest set bit if that is lower. */
static int short_float(double x, long *low)
{
    if (x == 0.0)
        return 1;
    mpfr_t value;
    mpz_t mantissa;
    mpfr_init2(value, 53);
    mpz_init(mantissa);
    mpfr_set_d(value, x, MPFR_RNDN);
    mpfr_exp_t high = mpfr_get_exp(value); /* 2^(high-1) <= |x| < 2^high */
    mpfr_exp_t shift = mpfr_get_z_2exp(mantissa, value); /* x = m 2^shift */
    mpz_abs(mantissa, mantissa);
    mp_bitcnt_t zeros = mpz_scan1(mantissa, 0);
    size_t bits = mpz_sizeinbase(mantissa, 2) - zeros;
    long lowest = (long)shift + (long)zeros;
    mpz_clear(mantissa);
    mpfr_clear(value);
    if (lowest < *low)
        *low = lowest;
    return bits <= SHORT_FLOAT_BITS && high >= -125 && high <= 128;
}

/* 1 if every value is a short float (see short_float); *low receives the
 * lowest set bit over the non-zero values (LONG_MAX if there is none).
 * values: (count) */
static int short_floats(const double *values, size_t count, long *low)
{
    *low = LONG_MAX;
    int all_short = 1;
    for (size_t i = 0; i < count && all_short; i++)
        all_short = short_float(values[i], low);
    return all_short;
}

/* The product bits of the test: -126 <= bottom <= 104 where bottom is the
 * lowest set bit of any product; sets *limit = 2^(24 + bottom), the bound on
 * every sum_j |x_j E[v, j]|. Returns 0 when the inputs fail the test.
 * hidden: (count_h); E: (count_e) */
static int exact_inputs(mpfr_t limit, const double *hidden, size_t count_h,
                        const double *E, size_t count_e)
{
    long low_h, low_e;
    if (!short_floats(hidden, count_h, &low_h)
        || !short_floats(E, count_e, &low_e))
        return 0;
    if (low_h == LONG_MAX || low_e == LONG_MAX) {
        mpfr_set_inf(limit, 1); /* every product is zero */
        return 1;
    }
    long bottom = low_h + low_e;
    if (bottom < -126 || bottom > 104)
        return 0;
    mpfr_set_ui_2exp(limit, 1, 24 + bottom, MPFR_RNDN);
    return 1;
}

/* ---- one row of the lens ---- */

/* A logit and its token, for ranking. */
typedef struct {
    mpfr_srcptr logit;
    size_t index;
} ranked_logit;

/* qsort order: decreasing logit, ties by increasing index. */
static int by_rank(const void *left, const void *right)
{
    const ranked_logit *a = left, *b = right;
    int order = mpfr_cmp(b->logit, a->logit);
    if (order != 0)
        return order;
    return (a->index > b->index) - (a->index < b->index);
}

/* qsort order of doubles: increasing. */
static int increasing(const void *left, const void *right)
{
    double a = *(const double *)left, b = *(const double *)right;
    return (a > b) - (a < b);
}

/* The inputs of the op. */
typedef struct {
    const double *hidden; /* (L, n, d) */
    const double *E;      /* (V, d) */
    const double *gamma;  /* (d) or NULL */
    const double *beta;   /* (d) or NULL */
    size_t V, d, top_k;
    double eps;
    oracle_bit_span E_span;
} lens_inputs;

/* The working state of one (layer, position). */
typedef struct {
    oracle_softmax_row soft;  /* logits u, probabilities and their scales */
    mpfr_t *read;             /* (d): H[l, t, :] */
    mpfr_t *x;                /* (d): the vector unembedded */
    double *ln_scale;         /* (d): s^LN_j with the LayerNorm */
    mpfr_t *lambda;           /* (V): Lambda_v */
    ranked_logit *order;      /* (V): the tokens by rank */
    double *lo, *hi;          /* (V): by index, the logit intervals */
    double *sorted_lo, *sorted_hi;    /* (V): the same, sorted increasing */
    size_t *certainly_above;  /* (V): #{w : lo_w > hi_v} */
    size_t *possibly_above;   /* (V): #{w != v : hi_w >= lo_v} */
    size_t *rank_count;       /* (top_k): acceptable tokens per rank */
} lens_row;

static void lens_row_clear(lens_row *row, size_t V, size_t d)
{
    oracle_softmax_row_clear(&row->soft);
    oracle_numbers_free(row->read, d);
    oracle_numbers_free(row->x, d);
    oracle_numbers_free(row->lambda, V);
    free(row->ln_scale);
    free(row->order);
    free(row->lo);
    free(row->hi);
    free(row->sorted_lo);
    free(row->sorted_hi);
    free(row->certainly_above);
    free(row->possibly_above);
    free(row->rank_count);
}

/* Allocates the row; returns -1 (all freed) if memory runs out. */
static int lens_row_init(lens_row *row, size_t V, size_t d, size_t top_k)
{
    if (oracle_softmax_row_init(&row->soft, V) != 0)
        return -1;
    row->read = oracle_numbers_new(d);
    row->x = oracle_numbers_new(d);
    row->lambda = oracle_numbers_new(V);
    row->ln_scale = malloc(d * sizeof *row->ln_scale);
    row->order = malloc(V * sizeof *row->order);
    row->lo = malloc(V * sizeof *row->lo);
    row->hi = malloc(V * sizeof *row->hi);
    row->sorted_lo = malloc(V * sizeof *row->sorted_lo);
    row->sorted_hi = malloc(V * sizeof *row->sorted_hi);
    row->certainly_above = malloc(V * sizeof *row->certainly_above);
    row->possibly_above = malloc(V * sizeof *row->possibly_above);
    row->rank_count = malloc(top_k * sizeof *row->rank_count);
    if (row->read && row->x && row->lambda && row->ln_scale && row->order
        && row->lo && row->hi && row->sorted_lo && row->sorted_hi
        && row->certainly_above && row->possibly_above && row->rank_count)
        return 0;
    lens_row_clear(row, V, d);
    return -1;
}

/* Sets row->x to the vector the head reads: H[l, t, :] exactly, or its
 * LayerNorm (and row->ln_scale) at ORACLE_PREC bits.
 * hidden_row: (d) */
static int read_vector(lens_row *row, const lens_inputs *in,
                       const double *hidden_row)
{
    for (size_t j = 0; j < in->d; j++)
        mpfr_set_d(row->read[j], hidden_row[j], MPFR_RNDN); /* exact */
    if (in->gamma == NULL) {
        for (size_t j = 0; j < in->d; j++)
            mpfr_set(row->x[j], row->read[j], MPFR_RNDN);
        return 0;
    }
    return oracle_layernorm_row(row->x, row->ln_scale, row->read, in->gamma,
                                in->beta, in->d, in->eps);
}

/* lambda = (d + 2) magnitude [+ (2d + 8) sum_j |E[v, j]| s^LN_j], rounded
 * upward. E_row: (d) */
static void logit_uncertainty(mpfr_t lambda, const mpfr_t magnitude,
                              const lens_row *row, const lens_inputs *in,
                              const double *E_row)
{
    mpfr_mul_ui(lambda, magnitude, (unsigned long)in->d + 2, MPFR_RNDU);
    if (in->gamma == NULL)
        return;
    mpfr_t sum, term;
    mpfr_inits2(ORACLE_PREC, sum, term, (mpfr_ptr)0);
    mpfr_set_zero(sum, 1);
    for (size_t j = 0; j < in->d; j++) {
        mpfr_set_d(term, E_row[j] < 0 ? -E_row[j] : E_row[j], MPFR_RNDN);
        mpfr_mul_d(term, term, row->ln_scale[j], MPFR_RNDU);
        mpfr_add(sum, sum, term, MPFR_RNDU);
    }
    mpfr_mul_ui(sum, sum, 2 * (unsigned long)in->d + 8, MPFR_RNDU);
    mpfr_add(lambda, lambda, sum, MPFR_RNDU);
    mpfr_clears(sum, term, (mpfr_ptr)0);
}

/* Fills row->soft.u (rounded to ORACLE_PREC bits from the exact dot
 * products) and row->lambda; clears *exact when a logit's sum of
 * magnitudes reaches limit. */
static void compute_logits(lens_row *row, const lens_inputs *in,
                           const mpfr_t limit, int *exact)
{
    oracle_bit_span x_span;
    oracle_bit_span_of_numbers(&x_span, row->x, in->d);
    mpfr_t sum, magnitude;
    mpfr_prec_t bits = oracle_dot_precision(&x_span, &in->E_span, NULL);
    mpfr_inits2(bits, sum, magnitude, (mpfr_ptr)0);
    for (size_t v = 0; v < in->V; v++) {
        const double *E_row = in->E + v * in->d;
        oracle_exact_dot(sum, magnitude, row->x, E_row, 1, in->d);
        mpfr_set(row->soft.u[v], sum, MPFR_RNDN);
        row->soft.masked[v] = 0;
        logit_uncertainty(row->lambda[v], magnitude, row, in, E_row);
        if (mpfr_cmp(magnitude, limit) >= 0)
            *exact = 0;
    }
    mpfr_clears(sum, magnitude, (mpfr_ptr)0);
}

/* The number of the sorted values that are <= x (strict = 0) or < x
 * (strict = 1). sorted: (count), increasing */
static size_t count_below(const double *sorted, size_t count, double x,
                          int strict)
{
    size_t low = 0, high = count; /* the answer lies in [low, high] */
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        int below = strict ? sorted[middle] < x : sorted[middle] <= x;
        if (below)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

/* For class c: the logit intervals and, for every token, how many tokens
 * are certainly and possibly above it. */
static void count_neighbours(lens_row *row, size_t V, int c)
{
    for (size_t v = 0; v < V; v++) {
        oracle_class_interval(&row->lo[v], &row->hi[v], row->soft.u[v],
                              row->lambda[v], 1, c);
        row->sorted_lo[v] = row->lo[v];
        row->sorted_hi[v] = row->hi[v];
    }
    qsort(row->sorted_lo, V, sizeof(double), increasing);
    qsort(row->sorted_hi, V, sizeof(double), increasing);
    for (size_t v = 0; v < V; v++) {
        row->certainly_above[v] =
            V - count_below(row->sorted_lo, V, row->hi[v], 0);
        row->possibly_above[v] =
            V - count_below(row->sorted_hi, V, row->lo[v], 1) - 1;
    }
}

/* 1 if token v may stand at rank m. */
static int may_stand_at(const lens_row *row, size_t v, size_t m)
{
    return row->certainly_above[v] <= m && m <= row->possibly_above[v];
}

/* choice[m * ORACLE_CLASS_COUNT] for m < top_k: the expected token of rank
 * m, then every other token that may stand there, increasing. Uses the
 * counts of count_neighbours. Returns -1 if memory runs out.
 * choice: (top_k * ORACLE_CLASS_COUNT), the entries of one class */
static int rank_choices(oracle_choices *choice, lens_row *row, size_t V,
                        size_t top_k)
{
    for (size_t m = 0; m < top_k; m++)
        row->rank_count[m] = 1;
    for (size_t v = 0; v < V; v++)
        for (size_t m = row->certainly_above[v];
             m < top_k && m <= row->possibly_above[v]; m++)
            if (row->order[m].index != v)
                row->rank_count[m]++;
    for (size_t m = 0; m < top_k; m++) {
        oracle_choices *entry = &choice[m * ORACLE_CLASS_COUNT];
        entry->values = malloc(row->rank_count[m] * sizeof *entry->values);
        if (entry->values == NULL)
            return -1;
        entry->values[0] = (int64_t)row->order[m].index;
        entry->count = 1;
    }
    for (size_t v = 0; v < V; v++)
        for (size_t m = row->certainly_above[v];
             m < top_k && may_stand_at(row, v, m); m++)
            if (row->order[m].index != v) {
                oracle_choices *entry = &choice[m * ORACLE_CLASS_COUNT];
                entry->values[entry->count++] = (int64_t)v;
            }
    return 0;
}

/* Writes the outputs of one (layer, position) at flat row index lt.
 * Returns -1 if memory runs out. */
static int lens_one_row(lens_row *row, const lens_inputs *in, size_t lt,
                        double *probs, double *probs_scale, int64_t *top_tokens,
                        double *top_probs, double *top_scale,
                        oracle_choices *choices, const mpfr_t limit,
                        int *exact)
{
    size_t V = in->V, top_k = in->top_k;
    if (read_vector(row, in, in->hidden + lt * in->d) != 0)
        return -1;
    compute_logits(row, in, limit, exact);
    oracle_softmax_row_compute(&row->soft, 1.0, row->lambda);
    for (size_t v = 0; v < V; v++) {
        probs[lt * V + v] = mpfr_get_d(row->soft.y[v], MPFR_RNDN);
        probs_scale[lt * V + v] = mpfr_get_d(row->soft.scale[v], MPFR_RNDU);
        row->order[v].logit = row->soft.u[v];
        row->order[v].index = v;
    }
    qsort(row->order, V, sizeof *row->order, by_rank);
    for (size_t m = 0; m < top_k; m++) {
        size_t v = row->order[m].index;
        top_tokens[lt * top_k + m] = (int64_t)v;
        top_probs[lt * top_k + m] = probs[lt * V + v];
        top_scale[lt * top_k + m] = probs_scale[lt * V + v];
    }
    for (int c = 0; c < ORACLE_CLASS_COUNT; c++) {
        count_neighbours(row, V, c);
        if (rank_choices(&choices[lt * top_k * ORACLE_CLASS_COUNT
                                  + (size_t)c], row, V, top_k) != 0)
            return -1;
    }
    return 0;
}

/* ---- the op ---- */

/* 1 if the sizes, pointers and inputs of spec/logit_lens.md are valid. */
static int lens_args_ok(const double *probs, const double *probs_scale,
                        const double *probs_k, const int64_t *top_tokens,
                        const oracle_choices *choices,
                        const double *top_probs, const double *top_scale,
                        const int *exact_arithmetic, const lens_inputs *in,
                        size_t L, size_t n)
{
    size_t V = in->V, d = in->d, top_k = in->top_k;
    if (top_k > (size_t)INT64_MAX || !oracle_table_fits(L, n)
        || oracle_check_logit_lens(
               oracle_stack(in->hidden, L, n, d), oracle_mat(in->E, V, d),
               oracle_optional_vec(in->gamma, d),
               oracle_optional_vec(in->beta, d), (int64_t)top_k, in->eps)
               != ORACLE_OK)
        return 0;
    if (!oracle_table_fits(L * n, top_k)
        || !oracle_table_fits(L * n * top_k, ORACLE_CLASS_COUNT))
        return 0;
    size_t rows = L * n;
    if (!oracle_outputs_ok(probs, probs_scale, probs_k, rows * V)
        || !oracle_outputs_ok(top_probs, top_scale, probs_k, rows * top_k)
        || exact_arithmetic == NULL || in->E == NULL
        || (rows > 0 && (top_tokens == NULL || choices == NULL
                         || in->hidden == NULL)))
        return 0;
    return 1;
}

/* spec/logit_lens.md. Contract: tools/oracle/oracle_head.h.
 * probs, probs_scale: (L, n, V); top_tokens, top_probs, top_scale:
 * (L, n, top_k); choices: (L * n * top_k * ORACLE_CLASS_COUNT);
 * hidden: (L, n, d); E: (V, d); gamma, beta: (d) or NULL */
int oracle_logit_lens(double *probs, double *probs_scale, double *probs_k,
                      int64_t *top_tokens, oracle_choices *choices,
                      double *top_probs, double *top_scale,
                      int *exact_arithmetic,
                      const double *hidden, const double *E,
                      const double *gamma, const double *beta,
                      size_t L, size_t n, size_t V, size_t d, size_t top_k,
                      double eps)
{
    lens_inputs in = {hidden, E, gamma, beta, V, d, top_k, eps, {0, 0, 0}};
    if (!lens_args_ok(probs, probs_scale, probs_k, top_tokens, choices,
                      top_probs, top_scale, exact_arithmetic, &in, L, n))
        return -1;
    size_t rows = L * n, choice_count = rows * top_k * ORACLE_CLASS_COUNT;
    oracle_bit_span_of_doubles(&in.E_span, E, V * d);
    lens_row row;
    if (lens_row_init(&row, V, d, top_k) != 0)
        return -1;
    for (size_t i = 0; i < choice_count; i++) {
        choices[i].values = NULL;
        choices[i].count = 0;
    }
    mpfr_t limit; /* 2^(24 + bottom) of the exact_arithmetic test */
    mpfr_init2(limit, ORACLE_PREC);
    mpfr_set_zero(limit, 1);
    int exact = gamma == NULL && exact_inputs(limit, hidden, rows * d, E,
                                              V * d);
    int status = 0;
    for (size_t lt = 0; status == 0 && lt < rows; lt++)
        status = lens_one_row(&row, &in, lt, probs, probs_scale, top_tokens,
                              top_probs, top_scale, choices, limit, &exact);
    mpfr_clear(limit);
    lens_row_clear(&row, V, d);
    if (status != 0) {
        oracle_choices_free(choices, choice_count);
        return -1;
    }
    if (exact) /* no uncertainty: keep only the expected token (values[0]) */
        for (size_t i = 0; i < choice_count; i++)
            choices[i].count = 1;
    *exact_arithmetic = exact;
    *probs_k = LENS_K;
    return 0;
}
