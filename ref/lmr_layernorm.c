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

/* The statistics of a row whose deviations reach `largest`, computed
 * without squaring anything larger than 1: variance is that of the
 * deviations divided by largest. row is (d). */
static void scaled_row_stats(const double *row, size_t d, double largest,
                             double eps, lmr_layernorm_row *stats)
{
    double sum_of_squares = 0.0;
    for (size_t j = 0; j < d; j++) {
        double scaled = (row[j] - stats->mean) / largest;
        sum_of_squares += scaled * scaled;
    }
    /* var + eps = largest^2 (scaled_var + eps/largest^2) */
    double scaled_eps = (eps / largest) / largest;
    stats->scale = largest;
    stats->variance = sum_of_squares / (double)d;
    stats->inv_std = 1.0 / (largest * sqrt(stats->variance + scaled_eps));
}

void lmr_layernorm_row_stats(const double *row, size_t d, double eps,
                             lmr_layernorm_row *stats)
{
    double largest = 0.0;
    stats->mean = gsl_stats_mean(row, 1, d);
    for (size_t j = 0; j < d; j++)
        largest = fmax(largest, fabs(row[j] - stats->mean));
    if (largest > LARGEST_SAFE_DEVIATION) {
        scaled_row_stats(row, d, largest, eps, stats);
    } else {
        stats->scale = 1.0;
        stats->variance =
            gsl_stats_variance_with_fixed_mean(row, 1, d, stats->mean);
        stats->inv_std = 1.0 / sqrt(stats->variance + eps); /* eps inside */
    }
}

double lmr_layernorm_normalised(double x, const lmr_layernorm_row *row)
{
    return (x - row->mean) * row->inv_std;
}

/* Normalises one row: out_row and in_row are (d), may alias. */
static void normalise_row(double *out_row, const double *in_row,
                          const double *gamma, const double *beta,
                          size_t d, double eps)
{
    lmr_layernorm_row stats;
    lmr_layernorm_row_stats(in_row, d, eps, &stats);
    for (size_t j = 0; j < d; j++)
        out_row[j] = gamma[j] * lmr_layernorm_normalised(in_row[j], &stats) +
                     beta[j];
}

int lmr_layernorm_stats(lmr_layernorm_row *rows, const double *x, size_t n,
                        size_t d, double eps)
{
    size_t count;
    if (rows == NULL && n > 0)
        return LMR_EINVAL;
    if (n > 0 && x == NULL)
        return LMR_EINVAL;
    if (d == 0)
        return LMR_EDIM;
    if (lmr_array_count(&count, n, d) != LMR_OK)
        return LMR_EOVERFLOW;
    if (!isfinite(eps))
        return LMR_ENONFINITE;
    if (!(eps > 0.0))
        return LMR_EDOMAIN;
    if (lmr_check_finite(x, count) != LMR_OK)
        return LMR_ENONFINITE;
    for (size_t t = 0; t < n; t++) /* row t starts at t*d */
        lmr_layernorm_row_stats(x + t * d, d, eps, &rows[t]);
    return LMR_OK;
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
