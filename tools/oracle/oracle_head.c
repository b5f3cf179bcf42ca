/*
 * oracle_head.c -- the oracle of spec/head.md (tied and untied heads) and
 * spec/param_count.md, and the exact dot product the logit lens shares.
 *
 * Dot products are exact. Every product of two doubles is a multiple of
 * 2^(bottom_x + bottom_w) below 2^(top_x + top_w); a sum of up to 2^64 of
 * them (and a bias) therefore fits exactly in
 *   top - bottom + 66 bits          (oracle_dot_precision),
 * where top and bottom span the products and the bias. The logits of one
 * call are accumulated at that precision: each product is formed exactly in
 * 53 + ORACLE_PREC bits, so every addition is exact too, and each logit is
 * rounded once to the nearest double. The scale sum_j |h_j w_j| (+ |b|) is
 * accumulated the same way (exactly) and rounded upward.
 */
#include <stdint.h>

#include <mpfr.h>

#include "oracle_head.h"
#include "oracle_internal.h"
#include "oracle_validate.h"

/* Room for the sum of up to 2^64 terms, and one bit of slack. */
static const mpfr_prec_t DOT_SUM_BITS = 66;

/* ---- exact dot products ---- */

/* Widens span to cover a non-zero number with |x| < 2^top that is a
 * multiple of 2^bottom. */
static void span_include(oracle_bit_span *span, mpfr_exp_t top,
                         mpfr_exp_t bottom)
{
    if (!span->any || top > span->top)
        span->top = top;
    if (!span->any || bottom < span->bottom)
        span->bottom = bottom;
    span->any = 1;
}

void oracle_bit_span_of_doubles(oracle_bit_span *span, const double *values,
                                size_t count)
{
    mpfr_t x;
    mpfr_init2(x, 53);
    span->any = 0;
    span->top = span->bottom = 0;
    for (size_t i = 0; i < count; i++) {
        mpfr_set_d(x, values[i], MPFR_RNDN); /* exact */
        if (!mpfr_zero_p(x))
            span_include(span, mpfr_get_exp(x), mpfr_get_exp(x) - 53);
    }
    mpfr_clear(x);
}

void oracle_bit_span_of_numbers(oracle_bit_span *span, mpfr_t *values,
                                size_t count)
{
    span->any = 0;
    span->top = span->bottom = 0;
    for (size_t i = 0; i < count; i++)
        if (!mpfr_zero_p(values[i]))
            span_include(span, mpfr_get_exp(values[i]),
                         mpfr_get_exp(values[i]) - mpfr_get_prec(values[i]));
}

mpfr_prec_t oracle_dot_precision(const oracle_bit_span *x,
                                 const oracle_bit_span *w,
                                 const oracle_bit_span *bias)
{
    oracle_bit_span all = {0, 0, 0};
    if (x->any && w->any)
        span_include(&all, x->top + w->top, x->bottom + w->bottom);
    if (bias != NULL && bias->any)
        span_include(&all, bias->top, bias->bottom);
    mpfr_prec_t bits = DOT_SUM_BITS;
    if (all.any)
        bits += (mpfr_prec_t)(all.top - all.bottom);
    return bits > ORACLE_PREC ? bits : ORACLE_PREC;
}

void oracle_exact_dot(mpfr_t sum, mpfr_t magnitude, mpfr_t *x,
                      const double *w, size_t stride, size_t d)
{
    mpfr_t weight, product; /* w_j; x_j w_j, exact in 53 + ORACLE_PREC bits */
    mpfr_init2(weight, 53);
    mpfr_init2(product, ORACLE_PREC + 53);
    mpfr_set_zero(sum, 1);
    mpfr_set_zero(magnitude, 1);
    for (size_t j = 0; j < d; j++) {
        mpfr_set_d(weight, w[j * stride], MPFR_RNDN);  /* exact */
        mpfr_mul(product, x[j], weight, MPFR_RNDN);    /* exact */
        mpfr_add(sum, sum, product, MPFR_RNDN);        /* exact */
        mpfr_abs(product, product, MPFR_RNDN);
        mpfr_add(magnitude, magnitude, product, MPFR_RNDN); /* exact */
    }
    mpfr_clears(weight, product, (mpfr_ptr)0);
}

/* ---- the heads ---- */

/* A head's weights: element (j, v) of the d x V matrix that multiplies h is
 * at offset v * v_stride + j * j_stride (E: v_stride d, j_stride 1; W:
 * v_stride 1, j_stride V). */
typedef struct {
    const double *w;
    size_t v_stride, j_stride;
    const double *bias; /* (V) or NULL */
} head_weights;

/* logits[t, v] = sum_j h[t, j] w(j, v) (+ bias[v]) rounded once, and
 * scale[t, v] = sum_j |h[t, j] w(j, v)| (+ |bias[v]|) rounded upward.
 * Returns -1 if memory runs out.
 * logits, scale: (n, V); h: (n, d) */
static int head_logits(double *logits, double *scale, const double *h,
                       const head_weights *weights, size_t n, size_t V,
                       size_t d)
{
    oracle_bit_span h_span, w_span, bias_span;
    oracle_bit_span_of_doubles(&h_span, h, n * d);
    oracle_bit_span_of_doubles(&w_span, weights->w, V * d);
    oracle_bit_span_of_doubles(&bias_span, weights->bias,
                               weights->bias != NULL ? V : 0);
    mpfr_t *x = oracle_numbers_new(d);
    if (x == NULL)
        return -1;
    mpfr_t sum, magnitude; /* exact at the precision of the call */
    mpfr_prec_t bits = oracle_dot_precision(&h_span, &w_span, &bias_span);
    mpfr_inits2(bits, sum, magnitude, (mpfr_ptr)0);
    for (size_t t = 0; t < n; t++) {
        for (size_t j = 0; j < d; j++)
            mpfr_set_d(x[j], h[t * d + j], MPFR_RNDN); /* exact */
        for (size_t v = 0; v < V; v++) {
            oracle_exact_dot(sum, magnitude, x,
                             weights->w + v * weights->v_stride,
                             weights->j_stride, d);
            if (weights->bias != NULL) {
                double b = weights->bias[v];
                mpfr_add_d(sum, sum, b, MPFR_RNDN); /* exact */
                mpfr_add_d(magnitude, magnitude, b < 0 ? -b : b, MPFR_RNDN);
            }
            logits[t * V + v] = mpfr_get_d(sum, MPFR_RNDN);
            scale[t * V + v] = mpfr_get_d(magnitude, MPFR_RNDU);
        }
    }
    mpfr_clears(sum, magnitude, (mpfr_ptr)0);
    oracle_numbers_free(x, d);
    return 0;
}

/* spec/head.md#tied, K = d + 2 (spec/tolerance.md#head). Contract:
 * tools/oracle/oracle_head.h.
 * logits, scale: (n, V); h: (n, d); E: (V, d) */
int oracle_head_tied(double *logits, double *scale, double *k,
                     const double *h, const double *E,
                     size_t n, size_t V, size_t d)
{
    if (oracle_check_head_tied(oracle_mat(h, n, d), oracle_mat(E, V, d))
            != ORACLE_OK
        || !oracle_outputs_ok(logits, scale, k, n * V))
        return -1;
    head_weights weights = {E, d, 1, NULL};
    if (head_logits(logits, scale, h, &weights, n, V, d) != 0)
        return -1;
    *k = (double)d + 2.0;
    return 0;
}

/* spec/head.md#untied, K = d + 3 (spec/tolerance.md#head). Contract:
 * tools/oracle/oracle_head.h.
 * logits, scale: (n, V); h: (n, d); W: (d, V); b: (V) or NULL */
int oracle_head_untied(double *logits, double *scale, double *k,
                       const double *h, const double *W, const double *b,
                       size_t n, size_t V, size_t d)
{
    if (oracle_check_head_untied(oracle_mat(h, n, d), oracle_mat(W, d, V),
                                 oracle_optional_vec(b, V)) != ORACLE_OK
        || !oracle_outputs_ok(logits, scale, k, n * V))
        return -1;
    head_weights weights = {W, 1, V, b};
    if (head_logits(logits, scale, h, &weights, n, V, d) != 0)
        return -1;
    *k = (double)d + 3.0;
    return 0;
}

/* ---- parameter counts ---- */

/* *product = a * b for a, b >= 1, or returns 0 if it exceeds INT64_MAX. */
static int checked_product(int64_t *product, int64_t a, int64_t b)
{
    if (a > INT64_MAX / b)
        return 0;
    *product = a * b;
    return 1;
}

/* *total = a + b for a, b >= 0, or returns 0 if it exceeds INT64_MAX. */
static int checked_sum(int64_t *total, int64_t a, int64_t b)
{
    if (a > INT64_MAX - b)
        return 0;
    *total = a + b;
    return 1;
}

/* spec/param_count.md. relative = saving/untied rounded once to nearest:
 * both are exact in 64 bits and the quotient is rounded directly to 53 bits
 * (it lies in (0, 1/2], where no double is subnormal). Its scale is |g|
 * and K = 3 (spec/tolerance.md#param_count). Contract: tools/oracle/oracle_head.h. */
int oracle_param_count(int64_t *untied, int64_t *tied, int64_t *saving,
                       double *relative, double *relative_scale, double *k,
                       int64_t vocab, int64_t d, int64_t block_params)
{
    if (!untied || !tied || !saving || !relative || !relative_scale || !k)
        return -1;
    if (oracle_check_param_count(vocab, d, block_params) != ORACLE_OK)
        return -1;
    int64_t shared, tied_count, untied_count;
    if (!checked_product(&shared, vocab, d)
        || !checked_sum(&tied_count, shared, block_params)
        || !checked_sum(&untied_count, tied_count, shared))
        return -1;
    mpfr_t numerator, denominator, ratio;
    mpfr_inits2(64, numerator, denominator, (mpfr_ptr)0);
    mpfr_init2(ratio, 53);
    mpfr_set_sj(numerator, (intmax_t)shared, MPFR_RNDN);         /* exact */
    mpfr_set_sj(denominator, (intmax_t)untied_count, MPFR_RNDN); /* exact */
    mpfr_div(ratio, numerator, denominator, MPFR_RNDN);
    *relative = mpfr_get_d(ratio, MPFR_RNDN); /* exact */
    mpfr_abs(ratio, ratio, MPFR_RNDU);
    *relative_scale = mpfr_get_d(ratio, MPFR_RNDU);
    mpfr_clears(numerator, denominator, ratio, (mpfr_ptr)0);
    *untied = untied_count;
    *tied = tied_count;
    *saving = shared;
    *k = 3.0;
    return 0;
}
