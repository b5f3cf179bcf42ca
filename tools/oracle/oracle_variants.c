/*
 * oracle_variants.c -- the oracle of spec/variants.md: partial, transformed
 * and adaptive tying, the MLP head, the two mixtures of softmaxes and the
 * soft-tying regulariser, with the tolerances of
 * spec/tolerance.md#variants. Contract: tools/oracle/oracle_variants.h.
 *
 * Linear heads (partial, transformed, adaptive, MLP). Every logit is its
 * exact real value, rounded once to nearest:
 *  - a dot product of a row of h with a column of doubles is exact
 *    (oracle_exact_dot at oracle_dot_precision bits, as the plain heads);
 *  - a vector that is itself an exact sum (h T, the MLP's pre-activations
 *    and their magnitudes) keeps all its bits, and a dot product that reads
 *    it forms each product in prec(x) + 53 bits (wide_exact_dot), so it is
 *    exact too;
 *  - the adaptive mix alpha A + (1 - alpha) B is formed exactly
 *    (1 - alpha, both products and their sum; exact_add).
 * Each scale is the formula of spec/tolerance.md#variants, formed exactly
 * the same way (or upward at ORACLE_PREC bits where noted) and rounded
 * upward to a double.
 *
 * Softmaxes (mixtures, cross-entropy) use oracle_softmax_row: the exact
 * logits are rounded to ORACLE_PREC bits and each softmax scale uses the
 * logit uncertainty Lambda of spec/tolerance.md#variants,
 * e_i = 3|z_i| + |u_i| + |a| + Lambda_i + Lambda_a (no exception for the
 * maximal entry). A mixture y_v = sum_k w_k p_kv is summed directly; its
 * logarithm is formed in log space,
 *     log y_v = m + log sum_k exp(l_k - m),  l_k = log w_k + z_kv - log S_k,
 * m = max_k l_k, so it is finite even where y_v underflows; the scales are
 *     s_v       = sum_k w_k p_kv (g_k + f_kv) + c y_v
 *     s_v / y_v = sum_k exp(l_k - log y_v) (g_k + f_kv) + c
 * with f_kv = e_kv + e-bar_k + |V| + 5 (= s^p_kv / p_kv), g_k the same
 * factor of the gate softmax (s^pi_k / pi_k; 0 for fixed weights) and
 * c = K + 3 (fixed) or K + 1 (gated). This is the formula of the spec,
 * sum_k (s^pi_k p_kv + pi_k s^p_kv) + c y_v, rearranged so that the log
 * scale never divides by an underflowed y_v.
 */
#include <math.h> /* isfinite, isnan, NAN: classification, not arithmetic */
#include <stdint.h>
#include <stdlib.h>

#include <mpfr.h>

#include "oracle_variants.h"
#include "oracle_internal.h"
#include "oracle_validate.h"

/* K of spec/tolerance.md#variants for the mixtures and the soft-tying
 * outputs. */
static const double MIXTURE_K = 2.0;
static const double SOFT_TIE_K = 2.0;

/* ---- small helpers ---- */

/* The absolute value of a double (exact; no libm). */
static double magnitude_of(double x)
{
    return x < 0 ? -x : x;
}

/* *value = x rounded to nearest and *scale = s rounded upward. */
static void store(double *value, double *scale, const mpfr_t x,
                  const mpfr_t s)
{
    *value = mpfr_get_d(x, MPFR_RNDN);
    *scale = mpfr_get_d(s, MPFR_RNDU);
}

/* x = x + size, rounded upward. */
static void add_size_up(mpfr_t x, size_t size)
{
    mpfr_t exact_size;
    mpfr_init2(exact_size, ORACLE_PREC);
    oracle_set_size(exact_size, size);
    mpfr_add(x, x, exact_size, MPFR_RNDU);
    mpfr_clear(exact_size);
}

/* product = x * size, rounded upward. */
static void mul_size_up(mpfr_t product, const mpfr_t x, size_t size)
{
    mpfr_t exact_size;
    mpfr_init2(exact_size, ORACLE_PREC);
    oracle_set_size(exact_size, size);
    mpfr_mul(product, x, exact_size, MPFR_RNDU);
    mpfr_clear(exact_size);
}

/* Sets x to row exactly. x: (d) with at least 53 bits; row: (d) */
static void load_row(mpfr_t *x, const double *row, size_t d)
{
    for (size_t j = 0; j < d; j++)
        mpfr_set_d(x[j], row[j], MPFR_RNDN); /* exact */
}

/* ---- matrices read in place ---- */

/* A d x V matrix M read in place: M[j, v] is at
 * base[v * v_stride + j * j_stride]. */
typedef struct {
    const double *base;
    size_t v_stride, j_stride;
} matrix_view;

/* The view of W: (d, V), row-major. */
static matrix_view plain_view(const double *W, size_t V)
{
    matrix_view view = {W, 1, V};
    return view;
}

/* The view of E^T for E: (V, d), without copying. */
static matrix_view transposed_view(const double *E, size_t d)
{
    matrix_view view = {E, d, 1};
    return view;
}

/* Column v of the view: d doubles with stride view->j_stride. */
static const double *view_column(const matrix_view *view, size_t v)
{
    return view->base + v * view->v_stride;
}

/* ---- exact sums ---- */

/* The span of a table of doubles (count 0: the empty span).
 * values: (count) or NULL when count is 0 */
static oracle_bit_span span_of(const double *values, size_t count)
{
    oracle_bit_span span;
    oracle_bit_span_of_doubles(&span, values, values != NULL ? count : 0);
    return span;
}

/* Bits that hold exactly every dot product of the numbers x with doubles in
 * w_span, plus a bias in bias_span (NULL: none).
 * x: (count) */
static mpfr_prec_t numbers_dot_bits(mpfr_t *x, size_t count,
                                    const oracle_bit_span *w_span,
                                    const oracle_bit_span *bias_span)
{
    oracle_bit_span x_span;
    oracle_bit_span_of_numbers(&x_span, x, count);
    return oracle_dot_precision(&x_span, w_span, bias_span);
}

/* The larger of two precisions. */
static mpfr_prec_t wider(mpfr_prec_t a, mpfr_prec_t b)
{
    return a > b ? a : b;
}

/* sum = sum_j x_j w[j * stride] and magnitude = sum_j |x_j w[j * stride]|,
 * both exact for x of any precision: each product is formed in
 * prec(x) + 53 bits, and sum and magnitude must have numbers_dot_bits bits.
 * (oracle_exact_dot does the same for x of at most ORACLE_PREC bits.)
 * x: (count); w: (count) with stride stride */
static void wide_exact_dot(mpfr_t sum, mpfr_t magnitude, mpfr_t *x,
                           const double *w, size_t stride, size_t count)
{
    mpfr_prec_t widest = ORACLE_PREC;
    for (size_t j = 0; j < count; j++)
        widest = wider(widest, mpfr_get_prec(x[j]));
    mpfr_t weight, product;
    mpfr_init2(weight, 53);
    mpfr_init2(product, widest + 53);
    mpfr_set_zero(sum, 1);
    mpfr_set_zero(magnitude, 1);
    for (size_t j = 0; j < count; j++) {
        mpfr_set_d(weight, w[j * stride], MPFR_RNDN);      /* exact */
        mpfr_mul(product, x[j], weight, MPFR_RNDN);        /* exact */
        mpfr_add(sum, sum, product, MPFR_RNDN);            /* exact */
        mpfr_abs(product, product, MPFR_RNDN);
        mpfr_add(magnitude, magnitude, product, MPFR_RNDN); /* exact */
    }
    mpfr_clears(weight, product, (mpfr_ptr)0);
}

/* sum = x + y exactly: the precision of sum (not aliasing x or y) is first
 * set to cover every bit that x and y can hold. */
static void exact_add(mpfr_t sum, const mpfr_t x, const mpfr_t y)
{
    mpfr_prec_t bits = wider(mpfr_get_prec(x), mpfr_get_prec(y));
    if (!mpfr_zero_p(x) && !mpfr_zero_p(y)) {
        mpfr_exp_t top = mpfr_get_exp(x) > mpfr_get_exp(y) ? mpfr_get_exp(x)
                                                           : mpfr_get_exp(y);
        mpfr_exp_t low_x = mpfr_get_exp(x) - mpfr_get_prec(x);
        mpfr_exp_t low_y = mpfr_get_exp(y) - mpfr_get_prec(y);
        mpfr_exp_t bottom = low_x < low_y ? low_x : low_y;
        bits = (mpfr_prec_t)(top - bottom) + 2;
    }
    mpfr_set_prec(sum, bits);
    mpfr_add(sum, x, y, MPFR_RNDN); /* exact */
}

/* count numbers at bits bits each, or NULL if memory runs out. Free with
 * oracle_numbers_free. */
static mpfr_t *numbers_at(size_t count, mpfr_prec_t bits)
{
    mpfr_t *numbers = oracle_numbers_new(count);
    if (numbers != NULL)
        for (size_t i = 0; i < count; i++)
            mpfr_set_prec(numbers[i], bits);
    return numbers;
}

/* ---- partial tying ---- */

/* 1 if the arguments of oracle_head_partial are valid. */
static int partial_args_ok(const double *logits, const double *scale,
                           const double *k_tol, const double *h,
                           const double *E, const double *F, size_t n,
                           size_t V, size_t d, size_t k)
{
    if (k > V)
        return 0;
    oracle_reals free_columns = oracle_optional_mat(F, d, V - k);
    return oracle_check_head_partial(oracle_mat(h, n, d), oracle_mat(E, V, d),
                                     free_columns, (int64_t)k) == ORACLE_OK
           && oracle_outputs_ok(logits, scale, k_tol, n * V);
}

/* spec/variants.md#partial, K = d + 2, s = sum_j |h_j w_jv| with w the
 * column used for v (spec/tolerance.md#variants).
 * logits, scale: (n, V); h: (n, d); E: (V, d); F: (d, V - k) or NULL */
int oracle_head_partial(double *logits, double *scale, double *k_tol,
                        const double *h, const double *E, const double *F,
                        size_t n, size_t V, size_t d, size_t k)
{
    if (!partial_args_ok(logits, scale, k_tol, h, E, F, n, V, d, k))
        return -1;
    mpfr_t *x = oracle_numbers_new(d);
    if (x == NULL)
        return -1;
    oracle_bit_span h_span = span_of(h, n * d), E_span = span_of(E, V * d);
    oracle_bit_span F_span = span_of(F, d * (V - k));
    mpfr_t sum, magnitude;
    mpfr_inits2(wider(oracle_dot_precision(&h_span, &E_span, NULL),
                      oracle_dot_precision(&h_span, &F_span, NULL)),
                sum, magnitude, (mpfr_ptr)0);
    matrix_view shared = transposed_view(E, d);
    matrix_view free_part = plain_view(F, V - k);
    for (size_t t = 0; t < n; t++) {
        load_row(x, h + t * d, d);
        for (size_t v = 0; v < V; v++) {
            const matrix_view *view = v < k ? &shared : &free_part;
            size_t column = v < k ? v : v - k;
            oracle_exact_dot(sum, magnitude, x, view_column(view, column),
                             view->j_stride, d);
            store(&logits[t * V + v], &scale[t * V + v], sum, magnitude);
        }
    }
    mpfr_clears(sum, magnitude, (mpfr_ptr)0);
    oracle_numbers_free(x, d);
    *k_tol = (double)d + 2.0;
    return 0;
}

/* ---- tying with a transform ---- */

/* 1 if the arguments of oracle_head_transformed are valid. */
static int transformed_args_ok(const double *logits, const double *scale,
                               const double *k_tol, const double *h,
                               const double *T, const double *E, size_t n,
                               size_t V, size_t d)
{
    return oracle_check_head_transformed(oracle_mat(h, n, d),
                                         oracle_mat(T, d, d),
                                         oracle_mat(E, V, d)) == ORACLE_OK
           && oracle_outputs_ok(logits, scale, k_tol, n * V);
}

/* The working vectors of one row of the transformed head. */
typedef struct {
    size_t d;
    mpfr_t *x;         /* (d): h[t, :] */
    mpfr_t *through;   /* (d): (h T)_i = sum_j h_j T_ji, exact */
    mpfr_t *reach;     /* (d): sum_j |h_j T_ji|, exact */
    mpfr_t value, bound, unused; /* scratch sums at the row's precision */
} transformed_row;

static void transformed_row_clear(transformed_row *row)
{
    oracle_numbers_free(row->x, row->d);
    oracle_numbers_free(row->through, row->d);
    oracle_numbers_free(row->reach, row->d);
    mpfr_clears(row->value, row->bound, row->unused, (mpfr_ptr)0);
}

/* Allocates the row; through and reach get bits bits. Returns -1 (all
 * freed) if memory runs out. */
static int transformed_row_init(transformed_row *row, size_t d,
                                mpfr_prec_t bits)
{
    row->d = d;
    row->x = oracle_numbers_new(d);
    row->through = numbers_at(d, bits);
    row->reach = numbers_at(d, bits);
    mpfr_inits2(ORACLE_PREC, row->value, row->bound, row->unused,
                (mpfr_ptr)0);
    if (row->x != NULL && row->through != NULL && row->reach != NULL)
        return 0;
    transformed_row_clear(row);
    return -1;
}

/* Row t of the transformed head: logits[v] = (h T) . E[v] exact, rounded
 * once; scale[v] = sum_i reach_i |E[v, i]| = sum_{i,j} |h_j T_ji E_vi|,
 * exact, rounded upward.
 * logits, scale: (V); h_row: (d); T: (d, d); E: (V, d) */
static void transformed_one_row(double *logits, double *scale,
                                transformed_row *row, const double *h_row,
                                const double *T, const double *E,
                                const oracle_bit_span *E_span, size_t V)
{
    size_t d = row->d;
    load_row(row->x, h_row, d);
    for (size_t i = 0; i < d; i++)
        oracle_exact_dot(row->through[i], row->reach[i], row->x, T + i, d,
                         d);
    mpfr_prec_t bits = wider(numbers_dot_bits(row->through, d, E_span, NULL),
                             numbers_dot_bits(row->reach, d, E_span, NULL));
    mpfr_set_prec(row->value, bits);
    mpfr_set_prec(row->bound, bits);
    mpfr_set_prec(row->unused, bits);
    for (size_t v = 0; v < V; v++) {
        wide_exact_dot(row->value, row->unused, row->through, E + v * d, 1,
                       d);
        wide_exact_dot(row->unused, row->bound, row->reach, E + v * d, 1, d);
        store(&logits[v], &scale[v], row->value, row->bound);
    }
}

/* spec/variants.md#transformed, K = 2d + 4,
 * s = sum_{i,j} |h_j T_ji E_vi| (spec/tolerance.md#variants).
 * logits, scale: (n, V); h: (n, d); T: (d, d); E: (V, d) */
int oracle_head_transformed(double *logits, double *scale, double *k_tol,
                            const double *h, const double *T, const double *E,
                            size_t n, size_t V, size_t d)
{
    if (!transformed_args_ok(logits, scale, k_tol, h, T, E, n, V, d))
        return -1;
    oracle_bit_span h_span = span_of(h, n * d), T_span = span_of(T, d * d);
    oracle_bit_span E_span = span_of(E, V * d);
    transformed_row row;
    if (transformed_row_init(&row, d, oracle_dot_precision(&h_span, &T_span,
                                                           NULL)) != 0)
        return -1;
    for (size_t t = 0; t < n; t++)
        transformed_one_row(logits + t * V, scale + t * V, &row, h + t * d,
                            T, E, &E_span, V);
    transformed_row_clear(&row);
    *k_tol = 2.0 * (double)d + 4.0;
    return 0;
}

/* ---- adaptive tying ---- */

/* 1 if the arguments of oracle_head_adaptive are valid. */
static int adaptive_args_ok(const double *logits, const double *scale,
                            const double *k_tol, const double *h,
                            const double *E, const double *F, double alpha,
                            size_t n, size_t V, size_t d)
{
    return oracle_check_head_adaptive(oracle_mat(h, n, d), oracle_mat(E, V, d),
                                      oracle_mat(F, d, V), alpha) == ORACLE_OK
           && oracle_outputs_ok(logits, scale, k_tol, n * V);
}

/* Inits weight at 53 bits to alpha and one_minus to 1 - alpha, exactly:
 * alpha in [0, 1] is a multiple of 2^(e - 53) with e = exponent(alpha) <= 1,
 * so 1 - alpha, in [0, 1], is one too and fits in 1 - (e - 53) bits. */
static void init_mixing_weights(mpfr_t weight, mpfr_t one_minus, double alpha)
{
    mpfr_init2(weight, 53);
    mpfr_set_d(weight, alpha, MPFR_RNDN); /* exact */
    mpfr_prec_t bits = 53;
    if (!mpfr_zero_p(weight))
        bits = wider(bits, (mpfr_prec_t)(2 - (mpfr_get_exp(weight) - 53)));
    mpfr_init2(one_minus, bits);
    mpfr_ui_sub(one_minus, 1, weight, MPFR_RNDN); /* exact */
}

/* mix = weight a + one_minus b, exactly (precision set by exact_add). */
static void exact_mix(mpfr_t mix, const mpfr_t weight, const mpfr_t one_minus,
                      const mpfr_t a, const mpfr_t b)
{
    mpfr_t first, second;
    mpfr_init2(first, mpfr_get_prec(weight) + mpfr_get_prec(a));
    mpfr_init2(second, mpfr_get_prec(one_minus) + mpfr_get_prec(b));
    mpfr_mul(first, weight, a, MPFR_RNDN);      /* exact */
    mpfr_mul(second, one_minus, b, MPFR_RNDN);  /* exact */
    exact_add(mix, first, second);
    mpfr_clears(first, second, (mpfr_ptr)0);
}

/* spec/variants.md#adaptive, K = d + 6,
 * s = sum_j |h_j| (alpha |E_vj| + (1 - alpha) |F_jv|)
 *   = alpha sum_j |h_j E_vj| + (1 - alpha) sum_j |h_j F_jv|
 * (spec/tolerance.md#variants); value and scale exact, rounded once.
 * logits, scale: (n, V); h: (n, d); E: (V, d); F: (d, V) */
int oracle_head_adaptive(double *logits, double *scale, double *k_tol,
                         const double *h, const double *E, const double *F,
                         double alpha, size_t n, size_t V, size_t d)
{
    if (!adaptive_args_ok(logits, scale, k_tol, h, E, F, alpha, n, V, d))
        return -1;
    mpfr_t *x = oracle_numbers_new(d);
    if (x == NULL)
        return -1;
    oracle_bit_span h_span = span_of(h, n * d), E_span = span_of(E, V * d);
    oracle_bit_span F_span = span_of(F, d * V);
    mpfr_t tied, tied_size, free_sum, free_size, weight, one_minus, value,
        bound;
    mpfr_inits2(oracle_dot_precision(&h_span, &E_span, NULL), tied,
                tied_size, (mpfr_ptr)0);
    mpfr_inits2(oracle_dot_precision(&h_span, &F_span, NULL), free_sum,
                free_size, (mpfr_ptr)0);
    mpfr_inits2(ORACLE_PREC, value, bound, (mpfr_ptr)0);
    init_mixing_weights(weight, one_minus, alpha);
    for (size_t t = 0; t < n; t++) {
        load_row(x, h + t * d, d);
        for (size_t v = 0; v < V; v++) {
            oracle_exact_dot(tied, tied_size, x, E + v * d, 1, d);
            oracle_exact_dot(free_sum, free_size, x, F + v, V, d);
            exact_mix(value, weight, one_minus, tied, free_sum);
            exact_mix(bound, weight, one_minus, tied_size, free_size);
            store(&logits[t * V + v], &scale[t * V + v], value, bound);
        }
    }
    mpfr_clears(tied, tied_size, free_sum, free_size, weight, one_minus,
                value, bound, (mpfr_ptr)0);
    oracle_numbers_free(x, d);
    *k_tol = (double)d + 6.0;
    return 0;
}

/* ---- MLP head ---- */

/* The inputs of the MLP head. */
typedef struct {
    const double *W1;    /* (d, m) */
    const double *b1;    /* (m) or NULL */
    matrix_view W2;      /* m x V: W2 itself, or E^T */
    const double *b2;    /* (V) or NULL */
    size_t V, d, m;
    oracle_bit_span W2_span, b2_span;
} mlp_inputs;

/* 1 if the arguments of oracle_head_mlp are valid. */
static int mlp_args_ok(const double *logits, const double *scale,
                       const double *k_tol, const double *h,
                       const double *W1, const double *b1, const double *W2,
                       const double *E, const double *b2, size_t n, size_t V,
                       size_t d, size_t m)
{
    int tied = W2 == NULL;
    oracle_mlp_views in = {
        oracle_mat(h, n, d), oracle_mat(W1, d, m), oracle_optional_vec(b1, m),
        tied ? oracle_absent() : oracle_mat(W2, m, V),
        tied ? oracle_mat(E, V, d) : oracle_absent(),
        oracle_optional_vec(b2, V), tied};
    return oracle_check_head_mlp(&in) == ORACLE_OK
           && oracle_outputs_ok(logits, scale, k_tol, n * V);
}

/* The working vectors of one row of the MLP head. */
typedef struct {
    size_t d, m;
    mpfr_t *x;      /* (d): h[t, :] */
    mpfr_t *hidden; /* (m): h1 = ReLU(h W1 + b1), exact */
    mpfr_t *reach;  /* (m): s^a_j = sum_i |h_i W1_ij| + |b1_j|, exact */
    mpfr_t value, through, carried, unused; /* scratch sums */
    mpfr_t bound;   /* the scale, upward at ORACLE_PREC bits */
} mlp_row;

static void mlp_row_clear(mlp_row *row)
{
    oracle_numbers_free(row->x, row->d);
    oracle_numbers_free(row->hidden, row->m);
    oracle_numbers_free(row->reach, row->m);
    mpfr_clears(row->value, row->through, row->carried, row->unused,
                row->bound, (mpfr_ptr)0);
}

/* Allocates the row; hidden and reach get bits bits. Returns -1 (all
 * freed) if memory runs out. */
static int mlp_row_init(mlp_row *row, size_t d, size_t m, mpfr_prec_t bits)
{
    row->d = d;
    row->m = m;
    row->x = oracle_numbers_new(d);
    row->hidden = numbers_at(m, bits);
    row->reach = numbers_at(m, bits);
    mpfr_inits2(ORACLE_PREC, row->value, row->through, row->carried,
                row->unused, row->bound, (mpfr_ptr)0);
    if (row->x != NULL && row->hidden != NULL && row->reach != NULL)
        return 0;
    mlp_row_clear(row);
    return -1;
}

/* hidden = ReLU(h_row W1 + b1) and reach = s^a, both exact. ReLU(a) =
 * max(a, 0), and +0 for a = 0 or -0. h_row: (d) */
static void mlp_hidden(mlp_row *row, const mlp_inputs *in,
                       const double *h_row)
{
    load_row(row->x, h_row, in->d);
    for (size_t j = 0; j < in->m; j++) {
        oracle_exact_dot(row->hidden[j], row->reach[j], row->x, in->W1 + j,
                         in->m, in->d);
        if (in->b1 != NULL) {
            mpfr_add_d(row->hidden[j], row->hidden[j], in->b1[j],
                       MPFR_RNDN); /* exact */
            mpfr_add_d(row->reach[j], row->reach[j],
                       magnitude_of(in->b1[j]), MPFR_RNDN); /* exact */
        }
        if (mpfr_sgn(row->hidden[j]) <= 0)
            mpfr_set_zero(row->hidden[j], 1);
    }
}

/* Row t of the MLP head: logits[v] = h1 . W2[:, v] + b2[v], exact, rounded
 * once; scale[v] = sum_j |W2_jv| s^a_j + sum_j |h1_j W2_jv| + |b2_v|,
 * rounded upward. logits, scale: (V); h_row: (d) */
static void mlp_one_row(double *logits, double *scale, mlp_row *row,
                        const mlp_inputs *in, const double *h_row)
{
    mlp_hidden(row, in, h_row);
    size_t m = in->m;
    mpfr_prec_t bits = wider(numbers_dot_bits(row->hidden, m, &in->W2_span,
                                              &in->b2_span),
                             numbers_dot_bits(row->reach, m, &in->W2_span,
                                              NULL));
    mpfr_set_prec(row->value, bits);
    mpfr_set_prec(row->through, bits);
    mpfr_set_prec(row->carried, bits);
    mpfr_set_prec(row->unused, bits);
    for (size_t v = 0; v < in->V; v++) {
        const double *column = view_column(&in->W2, v);
        wide_exact_dot(row->value, row->through, row->hidden, column,
                       in->W2.j_stride, m);
        wide_exact_dot(row->unused, row->carried, row->reach, column,
                       in->W2.j_stride, m);
        mpfr_add(row->bound, row->through, row->carried, MPFR_RNDU);
        if (in->b2 != NULL) { /* value: exact */
            mpfr_add_d(row->value, row->value, in->b2[v], MPFR_RNDN);
            mpfr_add_d(row->bound, row->bound, magnitude_of(in->b2[v]),
                       MPFR_RNDU);
        }
        store(&logits[v], &scale[v], row->value, row->bound);
    }
}

/* spec/variants.md#mlp, K = d + m + 6, scale of spec/tolerance.md#variants.
 * logits, scale: (n, V); h: (n, d); W1: (d, m); b1: (m) or NULL;
 * W2: (m, V) or NULL (then W2 = E^T, m = d); E: (V, d); b2: (V) or NULL */
int oracle_head_mlp(double *logits, double *scale, double *k_tol,
                    const double *h, const double *W1, const double *b1,
                    const double *W2, const double *E, const double *b2,
                    size_t n, size_t V, size_t d, size_t m)
{
    if (!mlp_args_ok(logits, scale, k_tol, h, W1, b1, W2, E, b2, n, V, d, m))
        return -1;
    mlp_inputs in;
    in.W1 = W1;
    in.b1 = b1;
    in.W2 = W2 != NULL ? plain_view(W2, V) : transposed_view(E, d);
    in.b2 = b2;
    in.V = V;
    in.d = d;
    in.m = m;
    in.W2_span = W2 != NULL ? span_of(W2, m * V) : span_of(E, V * d);
    in.b2_span = span_of(b2, V);
    oracle_bit_span h_span = span_of(h, n * d), W1_span = span_of(W1, d * m);
    oracle_bit_span b1_span = span_of(b1, m);
    mlp_row row;
    if (mlp_row_init(&row, d, m, oracle_dot_precision(&h_span, &W1_span,
                                                      &b1_span)) != 0)
        return -1;
    for (size_t t = 0; t < n; t++)
        mlp_one_row(logits + t * V, scale + t * V, &row, &in, h + t * d);
    mlp_row_clear(&row);
    *k_tol = (double)d + (double)m + 6.0;
    return 0;
}

/* ---- mixtures of softmaxes: shared machinery ---- */

/* factor = e_i + e-bar + |V| + 5 = s_i / y_i of spec/tolerance.md#softmax
 * for entry i of a computed row, rounded upward. */
static void softmax_factor(mpfr_t factor, const oracle_softmax_row *row,
                           size_t i)
{
    mpfr_add(factor, row->e[i], row->mean_error, MPFR_RNDU);
    mpfr_add_ui(factor, factor, 5, MPFR_RNDU);
    add_size_up(factor, row->V);
}

/* The K components of a mixture at one row of h, and their weights. */
typedef struct {
    size_t K, V;
    size_t extra;             /* c: K + 3 (fixed) or K + 1 (gated) */
    unsigned char *active;    /* (K): 1 where w_k > 0 */
    mpfr_t *weight;           /* (K): w_k, alpha-bar_k or pi_k */
    mpfr_t *log_weight;       /* (K): log w_k */
    mpfr_t *weight_factor;    /* (K): g_k = s^w_k / w_k (0: fixed) */
    mpfr_t *prob;             /* (K, V): p_kv */
    mpfr_t *log_prob;         /* (K, V): log p_kv = z_kv - log S_k */
    mpfr_t *factor;           /* (K, V): f_kv = s^p_kv / p_kv */
    mpfr_t *log_term;         /* (K): scratch, l_k = log w_k + log p_kv */
} mixture;

static void mixture_clear(mixture *mix)
{
    size_t K = mix->K, KV = mix->K * mix->V;
    free(mix->active);
    oracle_numbers_free(mix->weight, K);
    oracle_numbers_free(mix->log_weight, K);
    oracle_numbers_free(mix->weight_factor, K);
    oracle_numbers_free(mix->prob, KV);
    oracle_numbers_free(mix->log_prob, KV);
    oracle_numbers_free(mix->factor, KV);
    oracle_numbers_free(mix->log_term, K);
}

/* Allocates a mixture of K components over V tokens, every component
 * active with weight factor 0. Returns -1 (all freed) if memory runs out. */
static int mixture_init(mixture *mix, size_t K, size_t V, size_t extra)
{
    mix->K = K;
    mix->V = V;
    mix->extra = extra;
    mix->active = malloc(K);
    mix->weight = oracle_numbers_new(K);
    mix->log_weight = oracle_numbers_new(K);
    mix->weight_factor = oracle_numbers_new(K);
    mix->prob = oracle_numbers_new(K * V);
    mix->log_prob = oracle_numbers_new(K * V);
    mix->factor = oracle_numbers_new(K * V);
    mix->log_term = oracle_numbers_new(K);
    if (mix->active == NULL || mix->weight == NULL || mix->log_weight == NULL
        || mix->weight_factor == NULL || mix->prob == NULL
        || mix->log_prob == NULL || mix->factor == NULL
        || mix->log_term == NULL) {
        mixture_clear(mix);
        return -1;
    }
    for (size_t k = 0; k < K; k++)
        mix->active[k] = 1;
    return 0;
}

/* Copies p_kv, log p_kv and f_kv of component k from its computed row. */
static void mixture_take(mixture *mix, size_t k,
                         const oracle_softmax_row *row)
{
    for (size_t v = 0; v < mix->V; v++) {
        size_t kv = k * mix->V + v;
        mpfr_set(mix->prob[kv], row->y[v], MPFR_RNDN);
        mpfr_sub(mix->log_prob[kv], row->z[v], row->log_sum, MPFR_RNDN);
        softmax_factor(mix->factor[kv], row, v);
    }
}

/* y = sum_k w_k p_kv over the active components. */
static void mixture_value(mpfr_t y, const mixture *mix, size_t v)
{
    mpfr_t term;
    mpfr_init2(term, ORACLE_PREC);
    mpfr_set_zero(y, 1);
    for (size_t k = 0; k < mix->K; k++) {
        if (!mix->active[k])
            continue;
        mpfr_mul(term, mix->weight[k], mix->prob[k * mix->V + v], MPFR_RNDN);
        mpfr_add(y, y, term, MPFR_RNDN);
    }
    mpfr_clear(term);
}

/* log_y = log sum_k exp(l_k) = m + log sum_k exp(l_k - m), m = max_k l_k,
 * with l_k = log w_k + log p_kv (left in mix->log_term). */
static void mixture_log_value(mpfr_t log_y, mixture *mix, size_t v)
{
    mpfr_t largest, total, term;
    mpfr_inits2(ORACLE_PREC, largest, total, term, (mpfr_ptr)0);
    mpfr_set_inf(largest, -1);
    for (size_t k = 0; k < mix->K; k++) {
        if (!mix->active[k])
            continue;
        mpfr_add(mix->log_term[k], mix->log_weight[k],
                 mix->log_prob[k * mix->V + v], MPFR_RNDN);
        mpfr_max(largest, largest, mix->log_term[k], MPFR_RNDN);
    }
    mpfr_set_zero(total, 1);
    for (size_t k = 0; k < mix->K; k++) {
        if (!mix->active[k])
            continue;
        mpfr_sub(term, mix->log_term[k], largest, MPFR_RNDN);
        mpfr_exp(term, term, MPFR_RNDN);
        mpfr_add(total, total, term, MPFR_RNDN);
    }
    mpfr_log(total, total, MPFR_RNDN);
    mpfr_add(log_y, largest, total, MPFR_RNDN);
    mpfr_clears(largest, total, term, (mpfr_ptr)0);
}

/* probs_scale = sum_k w_k p_kv (g_k + f_kv) + c y and
 * log_scale = sum_k exp(l_k - log y) (g_k + f_kv) + c + 2 |log y| + 2,
 * both rounded upward (mix->log_term as left by mixture_log_value). */
static void mixture_scales(mpfr_t probs_scale, mpfr_t log_scale,
                           const mixture *mix, size_t v, const mpfr_t y,
                           const mpfr_t log_y)
{
    mpfr_t gain, share, term;
    mpfr_inits2(ORACLE_PREC, gain, share, term, (mpfr_ptr)0);
    mpfr_set_zero(probs_scale, 1);
    mpfr_set_zero(log_scale, 1);
    for (size_t k = 0; k < mix->K; k++) {
        if (!mix->active[k])
            continue;
        size_t kv = k * mix->V + v;
        mpfr_add(gain, mix->weight_factor[k], mix->factor[kv], MPFR_RNDU);
        mpfr_mul(term, mix->weight[k], mix->prob[kv], MPFR_RNDU);
        mpfr_mul(term, term, gain, MPFR_RNDU);
        mpfr_add(probs_scale, probs_scale, term, MPFR_RNDU);
        mpfr_sub(share, mix->log_term[k], log_y, MPFR_RNDU);
        mpfr_exp(share, share, MPFR_RNDU); /* w_k p_kv / y */
        mpfr_mul(term, share, gain, MPFR_RNDU);
        mpfr_add(log_scale, log_scale, term, MPFR_RNDU);
    }
    mul_size_up(term, y, mix->extra);
    mpfr_add(probs_scale, probs_scale, term, MPFR_RNDU);
    add_size_up(log_scale, mix->extra);
    mpfr_abs(term, log_y, MPFR_RNDU);
    mpfr_mul_ui(term, term, 2, MPFR_RNDU);
    mpfr_add(log_scale, log_scale, term, MPFR_RNDU);
    mpfr_add_ui(log_scale, log_scale, 2, MPFR_RNDU);
    mpfr_clears(gain, share, term, (mpfr_ptr)0);
}

/* Writes the four outputs of one row of a mixture from its components.
 * probs, probs_scale, logprobs, log_scale: (V) */
static void mixture_write_row(double *probs, double *probs_scale,
                              double *logprobs, double *log_scale,
                              mixture *mix)
{
    mpfr_t y, log_y, y_bound, log_bound;
    mpfr_inits2(ORACLE_PREC, y, log_y, y_bound, log_bound, (mpfr_ptr)0);
    for (size_t v = 0; v < mix->V; v++) {
        mixture_value(y, mix, v);
        mixture_log_value(log_y, mix, v);
        mixture_scales(y_bound, log_bound, mix, v, y, log_y);
        store(&probs[v], &probs_scale[v], y, y_bound);
        store(&logprobs[v], &log_scale[v], log_y, log_bound);
    }
    mpfr_clears(y, log_y, y_bound, log_bound, (mpfr_ptr)0);
}

/* 1 if the four (n, V) outputs of a mixture and k_tol can be written. */
static int mixture_outputs_ok(const double *probs, const double *probs_scale,
                              const double *logprobs, const double *log_scale,
                              const double *k_tol, size_t count)
{
    return oracle_outputs_ok(probs, probs_scale, k_tol, count)
           && oracle_outputs_ok(logprobs, log_scale, k_tol, count);
}

/* The logits u = x . column_v (+ bias_v) of a softmax row, exact and then
 * rounded to ORACLE_PREC bits, and magnitude_v = sum_j |x_j column_v[j]|
 * into the row's lambda as (d + 2) magnitude, rounded upward. sum and
 * magnitude are scratch with the exact dot precision of x and the view.
 * x: (d); bias: (row->V) or NULL; lambda: (row->V) */
static void load_logits(oracle_softmax_row *row, mpfr_t *lambda, mpfr_t *x,
                        const matrix_view *view, const double *bias,
                        size_t d, mpfr_t sum, mpfr_t magnitude)
{
    for (size_t v = 0; v < row->V; v++) {
        oracle_exact_dot(sum, magnitude, x, view_column(view, v),
                         view->j_stride, d);
        if (bias != NULL)
            mpfr_add_d(sum, sum, bias[v], MPFR_RNDN); /* exact */
        mpfr_set(row->u[v], sum, MPFR_RNDN);
        row->masked[v] = 0;
        mul_size_up(lambda[v], magnitude, d + 2);
    }
}

/* ---- mixture with fixed weights ---- */

/* 1 if the arguments of oracle_mos_fixed are valid. */
static int mos_fixed_args_ok(const double *probs, const double *probs_scale,
                             const double *logprobs, const double *log_scale,
                             const double *k_tol, const double *h,
                             const double *W, const double *alpha, size_t n,
                             size_t V, size_t d, size_t K)
{
    return oracle_check_mos_fixed(oracle_mat(h, n, d), oracle_stack(W, K, d, V),
                                  oracle_vec(alpha, K)) == ORACLE_OK
           && mixture_outputs_ok(probs, probs_scale, logprobs, log_scale,
                                 k_tol, n * V);
}

/* Sets the weights of mix to alpha-bar_k = alpha_k / sum_j alpha_j (the sum
 * exact), their logarithms, and marks alpha_k = 0 inactive. alpha: (K) */
static void set_fixed_weights(mixture *mix, const double *alpha)
{
    oracle_bit_span alpha_span = span_of(alpha, mix->K);
    oracle_bit_span none = {0, 0, 0};
    mpfr_t total; /* a sum of doubles, exact: the bits of a bias-only sum */
    mpfr_init2(total, oracle_dot_precision(&none, &none, &alpha_span));
    mpfr_set_zero(total, 1);
    for (size_t k = 0; k < mix->K; k++)
        mpfr_add_d(total, total, alpha[k], MPFR_RNDN); /* exact */
    for (size_t k = 0; k < mix->K; k++) {
        mix->active[k] = alpha[k] > 0.0;
        mpfr_set_d(mix->weight[k], alpha[k], MPFR_RNDN); /* exact */
        mpfr_div(mix->weight[k], mix->weight[k], total, MPFR_RNDN);
        mpfr_log(mix->log_weight[k], mix->weight[k], MPFR_RNDN);
    }
    mpfr_clear(total);
}

/* The working state of oracle_mos_fixed. */
typedef struct {
    mixture mix;
    oracle_softmax_row row; /* one component's softmax */
    mpfr_t *lambda;         /* (V): Lambda_kv */
    mpfr_t *x;              /* (d): h[t, :] */
    size_t V, d;
} mos_fixed_state;

static void mos_fixed_clear(mos_fixed_state *state)
{
    mixture_clear(&state->mix);
    oracle_softmax_row_clear(&state->row);
    oracle_numbers_free(state->lambda, state->V);
    oracle_numbers_free(state->x, state->d);
}

/* Returns -1 (all freed) if memory runs out. */
static int mos_fixed_init(mos_fixed_state *state, size_t V, size_t d,
                          size_t K)
{
    state->V = V;
    state->d = d;
    if (mixture_init(&state->mix, K, V, K + 3) != 0)
        return -1;
    if (oracle_softmax_row_init(&state->row, V) != 0) {
        mixture_clear(&state->mix);
        return -1;
    }
    state->lambda = oracle_numbers_new(V);
    state->x = oracle_numbers_new(d);
    if (state->lambda != NULL && state->x != NULL)
        return 0;
    mos_fixed_clear(state);
    return -1;
}

/* spec/variants.md#mos_fixed, K_tol = 2, scales of
 * spec/tolerance.md#variants (Lambda_kv = (d + 2) sum_j |h_j W_k[j, v]|).
 * probs, probs_scale, logprobs, log_scale: (n, V); h: (n, d);
 * W: (K, d, V); alpha: (K) */
int oracle_mos_fixed(double *probs, double *probs_scale, double *logprobs,
                     double *log_scale, double *k_tol, const double *h,
                     const double *W, const double *alpha, size_t n, size_t V,
                     size_t d, size_t K)
{
    if (!mos_fixed_args_ok(probs, probs_scale, logprobs, log_scale, k_tol, h,
                           W, alpha, n, V, d, K))
        return -1;
    mos_fixed_state state;
    if (mos_fixed_init(&state, V, d, K) != 0)
        return -1;
    set_fixed_weights(&state.mix, alpha);
    oracle_bit_span h_span = span_of(h, n * d), W_span = span_of(W, K * d * V);
    mpfr_t sum, magnitude;
    mpfr_inits2(oracle_dot_precision(&h_span, &W_span, NULL), sum, magnitude,
                (mpfr_ptr)0);
    for (size_t t = 0; t < n; t++) {
        load_row(state.x, h + t * d, d);
        for (size_t k = 0; k < K; k++) {
            if (!state.mix.active[k])
                continue;
            matrix_view W_k = plain_view(W + k * d * V, V);
            load_logits(&state.row, state.lambda, state.x, &W_k, NULL, d, sum,
                        magnitude);
            oracle_softmax_row_compute(&state.row, 1.0, state.lambda);
            mixture_take(&state.mix, k, &state.row);
        }
        mixture_write_row(probs + t * V, probs_scale + t * V,
                          logprobs + t * V, log_scale + t * V, &state.mix);
    }
    mpfr_clears(sum, magnitude, (mpfr_ptr)0);
    mos_fixed_clear(&state);
    *k_tol = MIXTURE_K;
    return 0;
}

/* ---- mixture of Yang et al. (2018) ---- */

/* The inputs of oracle_mos_gated. */
typedef struct {
    const double *W_pi;   /* (d, K) */
    const double *W_comp; /* (K, d, d) */
    const double *b_comp; /* (K, d) */
    matrix_view W_out;    /* d x V: W_out itself, or E^T */
    const double *b_out;  /* (V) or NULL */
    size_t V, d, K;
    mpfr_prec_t gate_bits, projection_bits; /* exact dot precisions */
    oracle_bit_span W_out_span, b_out_span;
} gated_inputs;

/* 1 if the arguments of oracle_mos_gated are valid. */
static int mos_gated_args_ok(const double *probs, const double *probs_scale,
                             const double *logprobs, const double *log_scale,
                             const double *k_tol, const double *h,
                             const double *W_pi, const double *W_comp,
                             const double *b_comp, const double *W_out,
                             const double *E, const double *b_out, size_t n,
                             size_t V, size_t d, size_t K)
{
    int tied = W_out == NULL;
    oracle_mos_gated_views in = {
        oracle_mat(h, n, d), oracle_mat(W_pi, d, K),
        oracle_stack(W_comp, K, d, d), oracle_mat(b_comp, K, d),
        tied ? oracle_absent() : oracle_mat(W_out, d, V),
        tied ? oracle_mat(E, V, d) : oracle_absent(),
        oracle_optional_vec(b_out, V), tied};
    return oracle_check_mos_gated(&in) == ORACLE_OK
           && mixture_outputs_ok(probs, probs_scale, logprobs, log_scale,
                                 k_tol, n * V);
}

/* The working state of oracle_mos_gated. */
typedef struct {
    mixture mix;
    oracle_softmax_row gate;      /* (K): pi = softmax(h W_pi) */
    oracle_softmax_row component; /* (V): p_k */
    mpfr_t *gate_lambda;          /* (K): Lambda^pi_k */
    mpfr_t *lambda;               /* (V): Lambda_kv */
    mpfr_t *x;                    /* (d): h[t, :] */
    mpfr_t *g;                    /* (d): g_k = tanh(h W_k + b_k) */
    mpfr_t *sigma;                /* (d): sigma_kj = s^c_kj + |g_kj| */
    size_t V, d, K;
} gated_state;

static void gated_clear(gated_state *state)
{
    mixture_clear(&state->mix);
    oracle_softmax_row_clear(&state->gate);
    oracle_softmax_row_clear(&state->component);
    oracle_numbers_free(state->gate_lambda, state->K);
    oracle_numbers_free(state->lambda, state->V);
    oracle_numbers_free(state->x, state->d);
    oracle_numbers_free(state->g, state->d);
    oracle_numbers_free(state->sigma, state->d);
}

/* Returns -1 (all freed) if memory runs out. */
static int gated_init(gated_state *state, size_t V, size_t d, size_t K)
{
    state->V = V;
    state->d = d;
    state->K = K;
    if (mixture_init(&state->mix, K, V, K + 1) != 0)
        return -1;
    if (oracle_softmax_row_init(&state->gate, K) != 0) {
        mixture_clear(&state->mix);
        return -1;
    }
    if (oracle_softmax_row_init(&state->component, V) != 0) {
        oracle_softmax_row_clear(&state->gate);
        mixture_clear(&state->mix);
        return -1;
    }
    state->gate_lambda = oracle_numbers_new(K);
    state->lambda = oracle_numbers_new(V);
    state->x = oracle_numbers_new(d);
    state->g = oracle_numbers_new(d);
    state->sigma = oracle_numbers_new(d);
    if (state->gate_lambda != NULL && state->lambda != NULL
        && state->x != NULL && state->g != NULL && state->sigma != NULL)
        return 0;
    gated_clear(state);
    return -1;
}

/* pi = softmax(x W_pi) with Lambda^pi_k = (d + 2) sum_j |x_j W_pi[j, k]|;
 * sets the weights of the mixture: w_k = pi_k, log w_k = z_k - log S and
 * g_k = s^pi_k / pi_k. */
static void gated_weights(gated_state *state, const gated_inputs *in)
{
    mpfr_t sum, magnitude;
    mpfr_inits2(in->gate_bits, sum, magnitude, (mpfr_ptr)0);
    matrix_view W_pi = plain_view(in->W_pi, in->K);
    load_logits(&state->gate, state->gate_lambda, state->x, &W_pi, NULL,
                in->d, sum, magnitude);
    oracle_softmax_row_compute(&state->gate, 1.0, state->gate_lambda);
    for (size_t k = 0; k < in->K; k++) {
        mpfr_set(state->mix.weight[k], state->gate.y[k], MPFR_RNDN);
        mpfr_sub(state->mix.log_weight[k], state->gate.z[k],
                 state->gate.log_sum, MPFR_RNDN);
        softmax_factor(state->mix.weight_factor[k], &state->gate, k);
    }
    mpfr_clears(sum, magnitude, (mpfr_ptr)0);
}

/* g_kj = tanh(x W_k[:, j] + b_k[j]) at ORACLE_PREC bits (the argument
 * exact) and sigma_kj = s^c_kj + |g_kj|, s^c_kj = sum_i |x_i W_k[i, j]| +
 * |b_k[j]|, rounded upward. */
static void gated_projection(gated_state *state, const gated_inputs *in,
                             size_t k)
{
    size_t d = in->d;
    const double *W_k = in->W_comp + k * d * d, *b_k = in->b_comp + k * d;
    mpfr_t pre, reach;
    mpfr_inits2(in->projection_bits, pre, reach, (mpfr_ptr)0);
    for (size_t j = 0; j < d; j++) {
        oracle_exact_dot(pre, reach, state->x, W_k + j, d, d);
        mpfr_add_d(pre, pre, b_k[j], MPFR_RNDN);                  /* exact */
        mpfr_add_d(reach, reach, magnitude_of(b_k[j]), MPFR_RNDN); /* exact */
        mpfr_tanh(state->g[j], pre, MPFR_RNDN);
        mpfr_abs(state->sigma[j], state->g[j], MPFR_RNDU);
        mpfr_add(state->sigma[j], state->sigma[j], reach, MPFR_RNDU);
    }
    mpfr_clears(pre, reach, (mpfr_ptr)0);
}

/* The logits of component k, u_v = g . W_out[:, v] + b_out[v], and
 * Lambda_kv = (d + 2) sum_j |g_j W_out[j, v]|
 *           + (d + 4) sum_j |W_out[j, v]| sigma_j, rounded upward. */
static void gated_logits(gated_state *state, const gated_inputs *in)
{
    size_t d = in->d;
    mpfr_t sum, magnitude, carried, unused, term;
    mpfr_inits2(numbers_dot_bits(state->g, d, &in->W_out_span,
                                 &in->b_out_span), sum, magnitude,
                (mpfr_ptr)0);
    mpfr_inits2(numbers_dot_bits(state->sigma, d, &in->W_out_span, NULL),
                carried, unused, (mpfr_ptr)0);
    mpfr_init2(term, ORACLE_PREC);
    load_logits(&state->component, state->lambda, state->g, &in->W_out,
                in->b_out, d, sum, magnitude);
    for (size_t v = 0; v < in->V; v++) {
        oracle_exact_dot(unused, carried, state->sigma,
                         view_column(&in->W_out, v), in->W_out.j_stride, d);
        mul_size_up(term, carried, d + 4);
        mpfr_add(state->lambda[v], state->lambda[v], term, MPFR_RNDU);
    }
    mpfr_clears(sum, magnitude, carried, unused, term, (mpfr_ptr)0);
}

/* One row of oracle_mos_gated: the gate, then each component, then the
 * mixture. probs, probs_scale, logprobs, log_scale: (V); h_row: (d) */
static void gated_one_row(double *probs, double *probs_scale,
                          double *logprobs, double *log_scale,
                          gated_state *state, const gated_inputs *in,
                          const double *h_row)
{
    load_row(state->x, h_row, in->d);
    gated_weights(state, in);
    for (size_t k = 0; k < in->K; k++) {
        gated_projection(state, in, k);
        gated_logits(state, in);
        oracle_softmax_row_compute(&state->component, 1.0, state->lambda);
        mixture_take(&state->mix, k, &state->component);
    }
    mixture_write_row(probs, probs_scale, logprobs, log_scale, &state->mix);
}

/* spec/variants.md#mos_gated, K_tol = 2, scales of
 * spec/tolerance.md#variants.
 * probs, probs_scale, logprobs, log_scale: (n, V); h: (n, d);
 * W_pi: (d, K); W_comp: (K, d, d); b_comp: (K, d); W_out: (d, V) or NULL
 * (then W_out = E^T); E: (V, d); b_out: (V) or NULL */
int oracle_mos_gated(double *probs, double *probs_scale, double *logprobs,
                     double *log_scale, double *k_tol, const double *h,
                     const double *W_pi, const double *W_comp,
                     const double *b_comp, const double *W_out,
                     const double *E, const double *b_out, size_t n, size_t V,
                     size_t d, size_t K)
{
    if (!mos_gated_args_ok(probs, probs_scale, logprobs, log_scale, k_tol, h,
                           W_pi, W_comp, b_comp, W_out, E, b_out, n, V, d, K))
        return -1;
    gated_inputs in;
    in.W_pi = W_pi;
    in.W_comp = W_comp;
    in.b_comp = b_comp;
    in.W_out = W_out != NULL ? plain_view(W_out, V) : transposed_view(E, d);
    in.b_out = b_out;
    in.V = V;
    in.d = d;
    in.K = K;
    oracle_bit_span h_span = span_of(h, n * d);
    oracle_bit_span W_pi_span = span_of(W_pi, d * K);
    oracle_bit_span W_comp_span = span_of(W_comp, K * d * d);
    oracle_bit_span b_comp_span = span_of(b_comp, K * d);
    in.gate_bits = oracle_dot_precision(&h_span, &W_pi_span, NULL);
    in.projection_bits = oracle_dot_precision(&h_span, &W_comp_span,
                                              &b_comp_span);
    in.W_out_span = W_out != NULL ? span_of(W_out, d * V) : span_of(E, V * d);
    in.b_out_span = span_of(b_out, V);
    gated_state state;
    if (gated_init(&state, V, d, K) != 0)
        return -1;
    for (size_t t = 0; t < n; t++)
        gated_one_row(probs + t * V, probs_scale + t * V, logprobs + t * V,
                      log_scale + t * V, &state, &in, h + t * d);
    gated_clear(&state);
    *k_tol = MIXTURE_K;
    return 0;
}

/* ---- soft-tying regulariser ---- */

/* 1 if the arguments of oracle_soft_tie_loss are valid. The outputs are
 * single numbers, so the reduction must be sum or mean. */
static int soft_tie_args_ok(const double *loss, const double *loss_scale,
                            const double *cross_entropy,
                            const double *ce_scale, const double *penalty,
                            const double *penalty_scale, const double *k_tol,
                            const double *h, const double *E, const double *W,
                            const int64_t *targets, size_t n, size_t V,
                            size_t d, double lambda,
                            enum oracle_reduction reduction,
                            int64_t ignore_index)
{
    if (!loss || !loss_scale || !cross_entropy || !ce_scale || !penalty
        || !penalty_scale || !k_tol)
        return 0;
    return oracle_check_soft_tie_loss(oracle_mat(h, n, d), oracle_mat(E, V, d),
                                      oracle_mat(W, d, V),
                                      oracle_ints_of(targets, n), lambda,
                                      reduction, ignore_index) == ORACLE_OK;
}

/* The counted losses of the batch. */
typedef struct {
    size_t counted;     /* m */
    mpfr_t total;       /* L = sum of the counted losses */
    mpfr_t total_scale; /* sum_t s_t, rounded upward */
} loss_totals;

/* scale = e_c + e-bar + |V| + 2 + |log S| + 2 |log y_c| of
 * spec/tolerance.md#log_softmax for entry c of a computed row, rounded
 * upward; log_y = log y_c = z_c - log S is scratch. */
static void target_scale(mpfr_t scale, mpfr_t log_y,
                         const oracle_softmax_row *row, size_t c)
{
    mpfr_sub(log_y, row->z[c], row->log_sum, MPFR_RNDN);
    mpfr_abs(log_y, log_y, MPFR_RNDU);
    mpfr_mul_ui(log_y, log_y, 2, MPFR_RNDU);
    mpfr_add(scale, row->e[c], row->mean_error, MPFR_RNDU);
    add_size_up(scale, row->V);
    mpfr_add_ui(scale, scale, 2, MPFR_RNDU);
    mpfr_add(scale, scale, log_y, MPFR_RNDU);
    mpfr_abs(log_y, row->log_sum, MPFR_RNDU);
    mpfr_add(scale, scale, log_y, MPFR_RNDU);
}

/* Adds the loss log S - z_c of a computed row and its scale to totals. */
static void add_position(loss_totals *totals, const oracle_softmax_row *row,
                         size_t c)
{
    mpfr_t value, scratch;
    mpfr_inits2(ORACLE_PREC, value, scratch, (mpfr_ptr)0);
    mpfr_sub(value, row->log_sum, row->z[c], MPFR_RNDN);
    mpfr_add(totals->total, totals->total, value, MPFR_RNDN);
    target_scale(value, scratch, row, c);
    mpfr_add(totals->total_scale, totals->total_scale, value, MPFR_RNDU);
    totals->counted++;
    mpfr_clears(value, scratch, (mpfr_ptr)0);
}

/* The losses of every counted position: logits h[t] W with
 * Lambda_tv = (d + 2) sum_j |h_tj W_jv|. Returns -1 if memory runs out.
 * h: (n, d); W: (d, V); targets: (n) */
static int soft_tie_losses(loss_totals *totals, const double *h,
                           const double *W, const int64_t *targets, size_t n,
                           size_t V, size_t d, int64_t ignore_index)
{
    oracle_softmax_row row;
    if (oracle_softmax_row_init(&row, V) != 0)
        return -1;
    mpfr_t *lambda = oracle_numbers_new(V), *x = oracle_numbers_new(d);
    if (lambda == NULL || x == NULL) {
        oracle_numbers_free(lambda, V);
        oracle_numbers_free(x, d);
        oracle_softmax_row_clear(&row);
        return -1;
    }
    oracle_bit_span h_span = span_of(h, n * d), W_span = span_of(W, d * V);
    mpfr_t sum, magnitude;
    mpfr_inits2(oracle_dot_precision(&h_span, &W_span, NULL), sum, magnitude,
                (mpfr_ptr)0);
    matrix_view head = plain_view(W, V);
    for (size_t t = 0; t < n; t++) {
        if (targets[t] == ignore_index)
            continue;
        load_row(x, h + t * d, d);
        load_logits(&row, lambda, x, &head, NULL, d, sum, magnitude);
        oracle_softmax_row_compute(&row, 1.0, lambda);
        add_position(totals, &row, (size_t)targets[t]);
    }
    mpfr_clears(sum, magnitude, (mpfr_ptr)0);
    oracle_numbers_free(lambda, V);
    oracle_numbers_free(x, d);
    oracle_softmax_row_clear(&row);
    return 0;
}

/* The reduced cross-entropy of spec/tolerance.md#cross_entropy:
 *   sum:  ce = L,    ce_scale = sum_t s_t + (n + 1) L
 *   mean: ce = L/m,  ce_scale = (sum_t s_t + (n + 1) L)/m + |L/m|
 * ce at ORACLE_PREC bits, ce_scale rounded upward. Returns 0 for a mean
 * over no counted target (ce and ce_scale are then left alone), 1 else. */
static int reduce_losses(mpfr_t ce, mpfr_t ce_scale,
                         const loss_totals *totals, size_t n,
                         enum oracle_reduction reduction)
{
    int mean = reduction == ORACLE_REDUCE_MEAN;
    if (mean && totals->counted == 0)
        return 0;
    mpfr_set(ce, totals->total, MPFR_RNDN);
    mul_size_up(ce_scale, totals->total, n);
    mpfr_add(ce_scale, ce_scale, totals->total, MPFR_RNDU);
    mpfr_add(ce_scale, ce_scale, totals->total_scale, MPFR_RNDU);
    if (mean) {
        mpfr_t count;
        mpfr_init2(count, ORACLE_PREC);
        oracle_set_size(count, totals->counted);
        mpfr_div(ce, ce, count, MPFR_RNDN);
        mpfr_div(ce_scale, ce_scale, count, MPFR_RNDU);
        mpfr_add(ce_scale, ce_scale, ce, MPFR_RNDU); /* L/m >= 0 */
        mpfr_clear(count);
    }
    return 1;
}

/* penalty = sum_{v,j} (E_vj - W_jv)^2, exact: every difference is a
 * multiple of 2^bottom below 2^top (top, bottom spanning E and W, plus one
 * bit for the subtraction), so it fits in top - bottom bits, its square in
 * twice that, and the sum in oracle_dot_precision bits of the differences
 * with themselves. Inits penalty. E: (V, d); W: (d, V) */
static void init_penalty(mpfr_t penalty, const double *E, const double *W,
                         size_t V, size_t d)
{
    oracle_bit_span E_span = span_of(E, V * d), W_span = span_of(W, d * V);
    oracle_bit_span both = E_span.any ? E_span : W_span;
    if (E_span.any && W_span.any) {
        both.top = E_span.top > W_span.top ? E_span.top : W_span.top;
        both.bottom = E_span.bottom < W_span.bottom ? E_span.bottom
                                                    : W_span.bottom;
    }
    both.top += 1;
    mpfr_prec_t bits = wider(53, (mpfr_prec_t)(both.top - both.bottom));
    mpfr_t difference, square;
    mpfr_init2(difference, bits);
    mpfr_init2(square, 2 * bits);
    mpfr_init2(penalty, oracle_dot_precision(&both, &both, NULL));
    mpfr_set_zero(penalty, 1);
    for (size_t v = 0; v < V; v++)
        for (size_t j = 0; j < d; j++) {
            mpfr_set_d(difference, E[v * d + j], MPFR_RNDN);       /* exact */
            mpfr_sub_d(difference, difference, W[j * V + v], MPFR_RNDN);
            mpfr_sqr(square, difference, MPFR_RNDN);               /* exact */
            mpfr_add(penalty, penalty, square, MPFR_RNDN);         /* exact */
        }
    mpfr_clears(difference, square, (mpfr_ptr)0);
}

/* penalty_bound = (|V| d + 4) P / 2, rounded upward. */
static void penalty_scale_of(mpfr_t penalty_bound, const mpfr_t penalty,
                             size_t V, size_t d)
{
    mpfr_t entries;
    mpfr_init2(entries, 2 * ORACLE_PREC);
    oracle_set_size(entries, V);
    mul_size_up(entries, entries, d); /* exact: below 2^128 */
    mpfr_add_ui(entries, entries, 4, MPFR_RNDU);
    mpfr_mul(penalty_bound, penalty, entries, MPFR_RNDU);
    mpfr_div_ui(penalty_bound, penalty_bound, 2, MPFR_RNDU);
    mpfr_clear(entries);
}

/* loss = ce + lambda P at ORACLE_PREC bits (lambda P exact first), and
 * loss_bound = s_CE + lambda s_P + lambda P + |loss|, rounded upward. */
static void total_loss(mpfr_t loss, mpfr_t loss_bound, const mpfr_t ce,
                       const mpfr_t ce_scale, const mpfr_t penalty,
                       const mpfr_t penalty_bound, double lambda)
{
    mpfr_t weighted, term;
    mpfr_init2(weighted, mpfr_get_prec(penalty) + 53);
    mpfr_init2(term, ORACLE_PREC);
    mpfr_mul_d(weighted, penalty, lambda, MPFR_RNDN); /* exact */
    mpfr_add(loss, ce, weighted, MPFR_RNDN);
    mpfr_mul_d(term, penalty_bound, lambda, MPFR_RNDU);
    mpfr_add(loss_bound, ce_scale, term, MPFR_RNDU);
    mpfr_add(loss_bound, loss_bound, weighted, MPFR_RNDU);
    mpfr_abs(term, loss, MPFR_RNDU);
    mpfr_add(loss_bound, loss_bound, term, MPFR_RNDU);
    mpfr_clears(weighted, term, (mpfr_ptr)0);
}

/* spec/variants.md#soft_tie with the scales of spec/tolerance.md#variants
 * (K = 2 for the three outputs). A mean over no counted target gives NaN
 * (scale 0) for the cross-entropy and the loss; the penalty is unaffected.
 * h: (n, d); E: (V, d); W: (d, V); targets: (n) */
int oracle_soft_tie_loss(double *loss, double *loss_scale,
                         double *cross_entropy, double *ce_scale,
                         double *penalty, double *penalty_scale, double *k_tol,
                         const double *h, const double *E, const double *W,
                         const int64_t *targets, size_t n, size_t V, size_t d,
                         double lambda, enum oracle_reduction reduction,
                         int64_t ignore_index)
{
    if (!soft_tie_args_ok(loss, loss_scale, cross_entropy, ce_scale, penalty,
                          penalty_scale, k_tol, h, E, W, targets, n, V, d,
                          lambda, reduction, ignore_index))
        return -1;
    loss_totals totals;
    totals.counted = 0;
    mpfr_inits2(ORACLE_PREC, totals.total, totals.total_scale, (mpfr_ptr)0);
    mpfr_set_zero(totals.total, 1);
    mpfr_set_zero(totals.total_scale, 1);
    if (soft_tie_losses(&totals, h, W, targets, n, V, d, ignore_index) != 0) {
        mpfr_clears(totals.total, totals.total_scale, (mpfr_ptr)0);
        return -1;
    }
    mpfr_t ce, ce_bound, P, P_bound, L, L_bound;
    mpfr_inits2(ORACLE_PREC, ce, ce_bound, P_bound, L, L_bound, (mpfr_ptr)0);
    init_penalty(P, E, W, V, d);
    penalty_scale_of(P_bound, P, V, d);
    store(penalty, penalty_scale, P, P_bound);
    if (reduce_losses(ce, ce_bound, &totals, n, reduction)) {
        total_loss(L, L_bound, ce, ce_bound, P, P_bound, lambda);
        store(cross_entropy, ce_scale, ce, ce_bound);
        store(loss, loss_scale, L, L_bound);
    } else {
        *cross_entropy = *loss = NAN;
        *ce_scale = *loss_scale = 0.0;
    }
    mpfr_clears(totals.total, totals.total_scale, ce, ce_bound, P, P_bound, L,
                L_bound, (mpfr_ptr)0);
    *k_tol = SOFT_TIE_K;
    return 0;
}
