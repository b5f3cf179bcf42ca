/*
 * lmr_layernorm.c -- LayerNorm.
 *
 * Method: two passes per row with GSL's statistics: the mean
 * (gsl_stats_mean, a running mean), then the biased variance about that mean
 * (gsl_stats_variance_with_fixed_mean divides by d, not d-1). The variance is
 * computed from deviations, never as E[x^2] - mu^2, which cancels
 * catastrophically for rows with a large common offset.
 *
 * Rows whose deviations exceed 2^500 would overflow when squared; for them
 * the deviations are divided by the largest one before squaring, and the
 * factor is taken out of the square root again (eps is scaled alike).
 *
 * Accuracy: the mean's rounding error, divided by the row's standard
 * deviation, dominates; spec/tolerance.md#layernorm bounds it.
 */
#include "lmr_layernorm.h"

#include <math.h>

#include <gsl/gsl_statistics_double.h>

#include "lmr_check.h"
#include "lmr_layernorm_stats.h"
#include "lmr_status.h"

int lmr_layernorm_check(const double *x, const double *gamma, size_t n,
                        size_t d, double eps)
{
    size_t count, width;
    if (d == 0)
        return LMR_EDIM;
    /* gamma (and beta, and their gradients) hold d entries even when there
     * are no rows */
    if (lmr_array_count(&count, n, d) != LMR_OK ||
        lmr_array_count(&width, 1, d) != LMR_OK)
        return LMR_EOVERFLOW;
    if (!isfinite(eps))
        return LMR_ENONFINITE;
    if (!(eps > 0.0))
        return LMR_EDOMAIN;
    if (lmr_check_finite(gamma, width) != LMR_OK ||
        lmr_check_finite(x, count) != LMR_OK)
        return LMR_ENONFINITE;
    return LMR_OK;
}

static int check_layernorm(const double *out, const double *in,
                           const double *gamma, const double *beta,
                           size_t n, size_t d, double eps)
{
    if (gamma == NULL || beta == NULL || (n > 0 && (out == NULL || in == NULL)))
        return LMR_EINVAL;
    int status = lmr_layernorm_check(in, gamma, n, d, eps);
    if (status == LMR_OK)
        status = lmr_check_finite(beta, d);
    return status;
}

/* Deviations above this would overflow when squared and summed. */
#define LARGEST_SAFE_DEVIATION 0x1p+500

/* 1/sqrt(var + eps) for a row whose deviations reach `largest`, computed
 * without squaring anything larger than 1. row is (d). */
static double scaled_inverse_std(const double *row, size_t d, double mean,
                                 double largest, double eps)
{
    double sum_of_squares = 0.0;
    for (size_t j = 0; j < d; j++) {
        double scaled = (row[j] - mean) / largest;
        sum_of_squares += scaled * scaled;
    }
    /* var + eps = largest^2 (scaled_var + eps/largest^2) */
    double scaled_eps = (eps / largest) / largest;
    return 1.0 / (largest * sqrt(sum_of_squares / (double)d + scaled_eps));
}

void lmr_layernorm_row_stats(const double *row, size_t d, double eps,
                             double *mean, double *inv_std)
{
    double largest = 0.0;
    *mean = gsl_stats_mean(row, 1, d);
    for (size_t j = 0; j < d; j++)
        largest = fmax(largest, fabs(row[j] - *mean));
    if (largest > LARGEST_SAFE_DEVIATION) {
        *inv_std = scaled_inverse_std(row, d, *mean, largest, eps);
    } else {
        double variance = gsl_stats_variance_with_fixed_mean(row, 1, d, *mean);
        *inv_std = 1.0 / sqrt(variance + eps); /* eps inside the root */
    }
}

/* Normalises one row: out_row and in_row are (d), may alias. */
static void normalise_row(double *out_row, const double *in_row,
                          const double *gamma, const double *beta,
                          size_t d, double eps)
{
    double mean, inv_std;
    lmr_layernorm_row_stats(in_row, d, eps, &mean, &inv_std);
    for (size_t j = 0; j < d; j++)
        out_row[j] = gamma[j] * ((in_row[j] - mean) * inv_std) + beta[j];
}

int lmr_layernorm(double *out, const double *in, const double *gamma,
                  const double *beta, size_t n, size_t d, double eps)
{
    int status = check_layernorm(out, in, gamma, beta, n, d, eps);
    if (status != LMR_OK)
        return status;
    for (size_t t = 0; t < n; t++) /* row t starts at t*d */
        normalise_row(out + t * d, in + t * d, gamma, beta, d, eps);
    return LMR_OK;
}
