/*
 * oracle_layernorm.c -- the oracle of spec/layernorm.md: LayerNorm, and the
 * composite input followed by LayerNorm.
 *
 * Per row x of length d:
 *   mu    = (1/d) sum_k x_k            never formed: the deviations
 *   x_j - mu = (d x_j - sum_k x_k) / d are computed from an exact sum and an
 *                                      exact numerator, rounded once, so a
 *                                      row with a large common offset loses
 *                                      nothing to cancellation
 *   var   = (1/d) sum_j (x_j - mu)^2   (biased)
 *   r     = 1/sqrt(var + eps)          (mpfr_rec_sqrt, one rounding)
 *   z_j   = (x_j - mu) r
 *   Y_j   = gamma_j z_j + beta_j       (mpfr_fma, one rounding)
 * all at ORACLE_PREC bits except the exact sum and numerators.
 *
 * Scale (spec/tolerance.md#layernorm and #compose_layernorm), K = 2d + 8:
 *   s_j = |gamma_j| ((A + 4 S_c) r (2 + |z_j|) + |z_j|) + |beta_j| + |Y_j|
 * with A = (1/d) sum_k |x_k| and S_c = 0 for the plain LayerNorm.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include <mpfr.h>

#include "oracle.h"
#include "oracle_internal.h"
#include "oracle_validate.h"

/* K = 2d + 8 of spec/tolerance.md#layernorm. */
static double layernorm_k(size_t d)
{
    return 2.0 * (double)d + 8.0;
}

/* A row of d MPFR numbers at ORACLE_PREC bits, or NULL if memory runs out.
 * Free it with free_row. */
static mpfr_t *new_row(size_t d)
{
    if (d > SIZE_MAX / sizeof(mpfr_t))
        return NULL;
    mpfr_t *row = malloc(d * sizeof *row);
    if (row == NULL)
        return NULL;
    for (size_t j = 0; j < d; j++)
        mpfr_init2(row[j], ORACLE_PREC);
    return row;
}

/* row: (d) from new_row, or NULL */
static void free_row(mpfr_t *row, size_t d)
{
    if (row == NULL)
        return;
    for (size_t j = 0; j < d; j++)
        mpfr_clear(row[j]);
    free(row);
}

/* Bits enough to hold sum_k x_k, and d x_j - sum_k x_k for every j, exactly.
 * If 2^bottom divides every x_k and |x_k| < 2^top, these are multiples of
 * 2^bottom below 2^(top + bits of d + 1).
 * x: (d) */
static mpfr_prec_t exact_sum_precision(mpfr_t *x, size_t d)
{
    mpfr_exp_t top = 0, bottom = 0;
    int seen_nonzero = 0;
    for (size_t j = 0; j < d; j++) {
        if (mpfr_zero_p(x[j]))
            continue;
        mpfr_exp_t high = mpfr_get_exp(x[j]);            /* |x_j| < 2^high */
        mpfr_exp_t low = high - mpfr_get_prec(x[j]);     /* 2^low | x_j */
        if (!seen_nonzero || high > top)
            top = high;
        if (!seen_nonzero || low < bottom)
            bottom = low;
        seen_nonzero = 1;
    }
    mpfr_prec_t size_bits = (mpfr_prec_t)(sizeof(size_t) * CHAR_BIT);
    return (mpfr_prec_t)(top - bottom) + size_bits + 2;
}

/* deviation_j = x_j - mu, each rounded once to ORACLE_PREC bits.
 * deviation, x: (d) */
static void deviations(mpfr_t *deviation, mpfr_t *x, size_t d)
{
    mpfr_t sum, width, numerator; /* sum_k x_k, d, d x_j - sum_k x_k */
    mpfr_inits2(exact_sum_precision(x, d), sum, width, numerator, (mpfr_ptr)0);
    oracle_set_size(width, d);
    mpfr_set_zero(sum, 1);
    for (size_t j = 0; j < d; j++)
        mpfr_add(sum, sum, x[j], MPFR_RNDN); /* exact */
    for (size_t j = 0; j < d; j++) {
        mpfr_fms(numerator, width, x[j], sum, MPFR_RNDN); /* exact */
        mpfr_div(deviation[j], numerator, width, MPFR_RNDN);
    }
    mpfr_clears(sum, width, numerator, (mpfr_ptr)0);
}

/* r = 1/sqrt(var + eps) with var = (1/d) sum_j deviation_j^2.
 * deviation: (d) */
static void inverse_std(mpfr_t r, mpfr_t *deviation, size_t d, double eps)
{
    mpfr_t variance, square, width;
    mpfr_inits2(ORACLE_PREC, variance, square, width, (mpfr_ptr)0);
    oracle_set_size(width, d);
    mpfr_set_zero(variance, 1);
    for (size_t j = 0; j < d; j++) {
        mpfr_sqr(square, deviation[j], MPFR_RNDN);
        mpfr_add(variance, variance, square, MPFR_RNDN);
    }
    mpfr_div(variance, variance, width, MPFR_RNDN);
    mpfr_add_d(variance, variance, eps, MPFR_RNDN);
    mpfr_rec_sqrt(r, variance, MPFR_RNDN);
    mpfr_clears(variance, square, width, (mpfr_ptr)0);
}

/* mean_abs = (1/d) sum_k |x_k|, rounded upward.
 * x: (d) */
static void mean_magnitude(mpfr_t mean_abs, mpfr_t *x, size_t d)
{
    mpfr_t magnitude, width;
    mpfr_inits2(ORACLE_PREC, magnitude, width, (mpfr_ptr)0);
    oracle_set_size(width, d);
    mpfr_set_zero(mean_abs, 1);
    for (size_t j = 0; j < d; j++) {
        mpfr_abs(magnitude, x[j], MPFR_RNDU);
        mpfr_add(mean_abs, mean_abs, magnitude, MPFR_RNDU);
    }
    mpfr_div(mean_abs, mean_abs, width, MPFR_RNDU);
    mpfr_clears(magnitude, width, (mpfr_ptr)0);
}

/* s_j = |gamma_j| (gain (2 + |z_j|) + |z_j|) + |beta_j| + |Y_j|, with
 * gain = (A + 4 S_c) r, rounded upward at every step and then to a double. */
static double element_scale(const mpfr_t gain, const mpfr_t z, const mpfr_t y,
                            double gamma_j, double beta_j)
{
    mpfr_t s, magnitude;
    mpfr_inits2(ORACLE_PREC, s, magnitude, (mpfr_ptr)0);
    mpfr_abs(magnitude, z, MPFR_RNDU);
    mpfr_add_ui(s, magnitude, 2, MPFR_RNDU);
    mpfr_mul(s, s, gain, MPFR_RNDU);
    mpfr_add(s, s, magnitude, MPFR_RNDU);
    mpfr_set_d(magnitude, gamma_j, MPFR_RNDU);
    mpfr_abs(magnitude, magnitude, MPFR_RNDU);
    mpfr_mul(s, s, magnitude, MPFR_RNDU);
    mpfr_set_d(magnitude, beta_j, MPFR_RNDU);
    mpfr_abs(magnitude, magnitude, MPFR_RNDU);
    mpfr_add(s, s, magnitude, MPFR_RNDU);
    mpfr_abs(magnitude, y, MPFR_RNDU);
    mpfr_add(s, s, magnitude, MPFR_RNDU);
    double rounded = mpfr_get_d(s, MPFR_RNDU);
    mpfr_clears(s, magnitude, (mpfr_ptr)0);
    return rounded;
}

/* Normalises one row given as exact (or 256-bit) values and writes its
 * expected output and scales. offset is 4 S_c (0 for the plain LayerNorm).
 * y_row, scale_row: (d); x, deviation: (d) from new_row, deviation is
 * scratch; gamma, beta: (d) */
static void normalise_row(double *y_row, double *scale_row, mpfr_t *x,
                          mpfr_t *deviation, const double *gamma,
                          const double *beta, size_t d, double eps,
                          const mpfr_t offset)
{
    mpfr_t r, gain, z, y, gamma_j, beta_j;
    mpfr_inits2(ORACLE_PREC, r, gain, z, y, gamma_j, beta_j, (mpfr_ptr)0);
    deviations(deviation, x, d);
    inverse_std(r, deviation, d, eps);
    mean_magnitude(gain, x, d);                /* A */
    mpfr_add(gain, gain, offset, MPFR_RNDU);   /* A + 4 S_c */
    mpfr_mul(gain, gain, r, MPFR_RNDU);        /* (A + 4 S_c) r */
    for (size_t j = 0; j < d; j++) {
        mpfr_mul(z, deviation[j], r, MPFR_RNDN);
        mpfr_set_d(gamma_j, gamma[j], MPFR_RNDN);
        mpfr_set_d(beta_j, beta[j], MPFR_RNDN);
        mpfr_fma(y, gamma_j, z, beta_j, MPFR_RNDN);
        y_row[j] = mpfr_get_d(y, MPFR_RNDN);
        scale_row[j] = element_scale(gain, z, y, gamma[j], beta[j]);
    }
    mpfr_clears(r, gain, z, y, gamma_j, beta_j, (mpfr_ptr)0);
}

/* spec/layernorm.md. Contract: tools/oracle/oracle.h. */
int oracle_layernorm(double *y, double *scale, double *k,
                     const double *x, const double *gamma, const double *beta,
                     size_t n, size_t d, double eps)
{
    if (!oracle_outputs_ok(y, scale, k, n)
        || oracle_check_layernorm(oracle_mat(x, n, d), oracle_vec(gamma, d),
                                  oracle_vec(beta, d), eps) != ORACLE_OK)
        return -1;
    mpfr_t *row = new_row(d);
    mpfr_t *deviation = new_row(d);
    mpfr_t no_offset;
    mpfr_init2(no_offset, ORACLE_PREC);
    mpfr_set_zero(no_offset, 1);
    int status = (row == NULL || deviation == NULL) ? -1 : 0;
    for (size_t t = 0; status == 0 && t < n; t++) {
        for (size_t j = 0; j < d; j++)
            mpfr_set_d(row[j], x[t * d + j], MPFR_RNDN); /* exact */
        normalise_row(y + t * d, scale + t * d, row, deviation, gamma, beta,
                      d, eps, no_offset);
    }
    free_row(row, d);
    free_row(deviation, d);
    mpfr_clear(no_offset);
    if (status == 0)
        *k = layernorm_k(d);
    return status;
}

/* Sets row = the composite row t (spec/embedding.md#compose) at ORACLE_PREC
 * bits, not rounded to double, and offset = 4 S_c, S_c the row's largest
 * composite scale.
 * row: (d) from new_row; E: (V, d); ids: (n) */
static void composite_row(mpfr_t *row, mpfr_t offset,
                          oracle_compose_state *state, const double *E,
                          const int64_t *ids, size_t t)
{
    size_t d = state->d;
    const double *token_row = E + (size_t)ids[t] * d;
    int64_t position = state->pos->start + (int64_t)t;
    mpfr_t element_scale;
    mpfr_init2(element_scale, ORACLE_PREC);
    mpfr_set_zero(offset, 1);
    for (size_t j = 0; j < d; j++) {
        oracle_compose_element(row[j], element_scale, state, token_row[j],
                               position, j);
        if (mpfr_greater_p(element_scale, offset))
            mpfr_set(offset, element_scale, MPFR_RNDU);
    }
    mpfr_mul_ui(offset, offset, 4, MPFR_RNDU);
    mpfr_clear(element_scale);
}

/* spec/layernorm.md#compose. Contract: tools/oracle/oracle.h. */
int oracle_compose_layernorm(double *y, double *scale, double *k,
                             const double *E, const int64_t *ids,
                             const oracle_positions *pos,
                             const double *gamma, const double *beta,
                             size_t n, size_t V, size_t d, double eps)
{
    if (pos == NULL || !oracle_outputs_ok(y, scale, k, n))
        return -1;
    oracle_position_views views = oracle_position_views_of(pos, d);
    if (oracle_check_compose_layernorm(oracle_mat(E, V, d),
                                       oracle_ints_of(ids, n), &views,
                                       oracle_vec(gamma, d),
                                       oracle_vec(beta, d), eps) != ORACLE_OK)
        return -1;
    mpfr_t *row = new_row(d);
    mpfr_t *deviation = new_row(d);
    mpfr_t offset;
    mpfr_init2(offset, ORACLE_PREC);
    oracle_compose_state state;
    oracle_compose_begin(&state, pos, d);
    int status = (row == NULL || deviation == NULL) ? -1 : 0;
    for (size_t t = 0; status == 0 && t < n; t++) {
        composite_row(row, offset, &state, E, ids, t);
        normalise_row(y + t * d, scale + t * d, row, deviation, gamma, beta,
                      d, eps, offset);
    }
    oracle_compose_end(&state);
    free_row(row, d);
    free_row(deviation, d);
    mpfr_clear(offset);
    if (status == 0)
        *k = layernorm_k(d);
    return status;
}

/* One row for the logit lens (tools/oracle/oracle_lens.c), which needs the
 * normalised vector itself, not rounded to double. Same steps as
 * normalise_row without the composite offset. Contract:
 * tools/oracle/oracle_internal.h.
 * y, x: (d) at ORACLE_PREC bits; scale_row, gamma, beta: (d) */
int oracle_layernorm_row(mpfr_t *y, double *scale_row, mpfr_t *x,
                         const double *gamma, const double *beta, size_t d,
                         double eps)
{
    mpfr_t *deviation = new_row(d);
    if (deviation == NULL)
        return -1;
    mpfr_t r, gain, z, gamma_j, beta_j;
    mpfr_inits2(ORACLE_PREC, r, gain, z, gamma_j, beta_j, (mpfr_ptr)0);
    deviations(deviation, x, d);
    inverse_std(r, deviation, d, eps);
    mean_magnitude(gain, x, d);           /* A */
    mpfr_mul(gain, gain, r, MPFR_RNDU);   /* A r */
    for (size_t j = 0; j < d; j++) {
        mpfr_mul(z, deviation[j], r, MPFR_RNDN);
        mpfr_set_d(gamma_j, gamma[j], MPFR_RNDN);
        mpfr_set_d(beta_j, beta[j], MPFR_RNDN);
        mpfr_fma(y[j], gamma_j, z, beta_j, MPFR_RNDN);
        scale_row[j] = element_scale(gain, z, y[j], gamma[j], beta[j]);
    }
    mpfr_clears(r, gain, z, gamma_j, beta_j, (mpfr_ptr)0);
    free_row(deviation, d);
    return 0;
}
