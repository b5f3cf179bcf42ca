/*
 * lmr_layernorm.c -- LayerNorm.
 *
 * Method: two passes per row, each a plain loop in double, left to right:
 * the mean is the sum of the row divided by d, then the biased variance is
 * the sum of the squared deviations about that mean divided by d (not d-1).
 * The variance is computed from deviations, never as E[x^2] - mu^2, which
 * cancels catastrophically for rows with a large common offset.
 *
 * Every operation is a binary64 operation (spec/tolerance.md#libm): no
 * long double, and no library routine that picks its own accumulator (GSL's
 * gsl_stats_mean, used here before, sums in long double: 80-bit on x86,
 * binary128 on aarch64, binary64 on macOS arm64), so the result is the same
 * double on every IEEE platform; make bits-check holds it to that.
 *
 * Rows whose deviations exceed 2^500 would overflow when squared; for them
 * the deviations are divided by the largest one before squaring, and the
 * factor is taken out of the square root again (eps is scaled alike). A row
 * whose sum overflows (entries near DBL_MAX) is summed scaled by 2^-64.
 *
 * Accuracy: the mean's rounding error, divided by the row's standard
 * deviation, dominates; spec/tolerance.md#layernorm bounds it for recursive
 * summation, which is what this is.
 */
#include "lmr_layernorm.h"

#include <math.h>

#include "lmr_check.h"
#include "lmr_layernorm_stats.h"
#include "lmr_status.h"

enum lmr_status lmr_layernorm_eps_problem(double eps)
{
    if (!isfinite(eps))
        return LMR_ENONFINITE;
    return eps > 0.0 ? LMR_OK : LMR_EDOMAIN;
}

enum lmr_status lmr_layernorm_problem(enum lmr_check_class problem,
                                      const lmr_layernorm_args *args)
{
    const lmr_mat *x = args->x;
    const lmr_vec *gamma = args->gamma, *beta = args->beta;
    switch (problem) {
    case LMR_CHECK_MISSING:
        if ((x && lmr_mat_missing(*x)) || (gamma && lmr_vec_missing(*gamma)) ||
            (beta && lmr_vec_missing(*beta)))
            return LMR_EINVAL;
        break;
    case LMR_CHECK_SHAPES:
        if (args->d == 0 || (gamma && gamma->len != args->d) ||
            (beta && beta->len != args->d))
            return LMR_EDIM;
        break;
    case LMR_CHECK_SIZES:
        if ((x && lmr_mat_too_big(*x)) || (gamma && lmr_vec_too_big(*gamma)) ||
            (beta && lmr_vec_too_big(*beta)))
            return LMR_EOVERFLOW;
        break;
    case LMR_CHECK_PARAMS:
        return lmr_layernorm_eps_problem(args->eps);
    case LMR_CHECK_ENTRIES:
        if ((x && lmr_check_finite_mat(*x) != LMR_OK) ||
            (gamma && lmr_check_finite_vec(*gamma) != LMR_OK) ||
            (beta && lmr_check_finite_vec(*beta) != LMR_OK))
            return LMR_ENONFINITE;
        break;
    default:
        break;
    }
    return LMR_OK;
}

/* Every class of problem of args, in order. */
static enum lmr_status check_args(const lmr_layernorm_args *args)
{
    for (int problem = 0; problem < LMR_CHECK_CLASSES; problem++) {
        enum lmr_status status = lmr_layernorm_problem(
            (enum lmr_check_class)problem, args);
        if (status != LMR_OK)
            return status;
    }
    return LMR_OK;
}

/* Non-zero for the empty view that stands for an absent input. */
static int absent(lmr_vec v) { return v.data == NULL && v.len == 0; }

enum lmr_status lmr_layernorm_check(lmr_mat x, lmr_vec gamma, lmr_vec beta,
                                    double eps)
{
    lmr_layernorm_args args = {&x, &gamma, absent(beta) ? NULL : &beta, x.cols,
                               eps};
    return check_args(&args);
}

/* Deviations above this would overflow when squared and summed. */
#define LARGEST_SAFE_DEVIATION 0x1p+500

/* A row whose sum overflows is summed times this power of two. */
#define OVERFLOW_SUM_SCALE 0x1p-64

/* The mean of row (d): the sum of its entries, left to right in double,
 * divided by d. A sum that overflows (or meets inf - inf) is redone on the
 * entries times 2^-64 -- exact for every entry of magnitude >= 2^-958, so
 * every rounding is the one the unscaled sum would have had without an
 * exponent limit -- and the quotient scaled back, exactly. */
static double row_mean(const double *row, size_t d)
{
    double sum = 0.0;
    for (size_t j = 0; j < d; j++)
        sum += row[j];
    if (isfinite(sum))
        return sum / (double)d;
    double scaled_sum = 0.0;
    for (size_t j = 0; j < d; j++)
        scaled_sum += row[j] * OVERFLOW_SUM_SCALE;
    return scaled_sum / (double)d / OVERFLOW_SUM_SCALE;
}

/* The biased variance of row (d) about mean: the sum of the squared
 * deviations, left to right in double, divided by d. Every deviation must
 * be at most LARGEST_SAFE_DEVIATION. */
static double row_variance(const double *row, size_t d, double mean)
{
    double sum_of_squares = 0.0;
    for (size_t j = 0; j < d; j++) {
        double deviation = row[j] - mean;
        sum_of_squares += deviation * deviation;
    }
    return sum_of_squares / (double)d;
}

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
    stats->mean = row_mean(row, d);
    for (size_t j = 0; j < d; j++)
        largest = fmax(largest, fabs(row[j] - stats->mean));
    if (largest > LARGEST_SAFE_DEVIATION) {
        scaled_row_stats(row, d, largest, eps, stats);
    } else {
        stats->scale = 1.0;
        stats->variance = row_variance(row, d, stats->mean);
        stats->inv_std = 1.0 / sqrt(stats->variance + eps); /* eps inside */
    }
}

double lmr_layernorm_normalised(double x, const lmr_layernorm_row *row)
{
    return (x - row->mean) * row->inv_std;
}

/* Normalises one row: out_row and in_row are (d), may alias. */
static void normalise_row(double *out_row, const double *in_row,
                          const double *gamma, const double *beta, size_t d,
                          double eps)
{
    lmr_layernorm_row stats;
    lmr_layernorm_row_stats(in_row, d, eps, &stats);
    for (size_t j = 0; j < d; j++)
        out_row[j] = gamma[j] * lmr_layernorm_normalised(in_row[j], &stats) +
                     beta[j];
}

enum lmr_status lmr_layernorm_stats(lmr_layernorm_row *rows, lmr_mat x,
                                    double eps)
{
    lmr_layernorm_args args = {&x, NULL, NULL, x.cols, eps};
    enum lmr_status status = check_args(&args);
    if (status != LMR_OK)
        return status;
    if (rows == NULL && x.rows > 0)
        return LMR_EINVAL;
    for (size_t t = 0; t < x.rows; t++) /* row t starts at t*d */
        lmr_layernorm_row_stats(x.data + t * x.cols, x.cols, eps, &rows[t]);
    return LMR_OK;
}

enum lmr_status lmr_layernorm(lmr_mat_out out, lmr_mat x, lmr_vec gamma,
                              lmr_vec beta, double eps)
{
    /* beta is required here: an absent one is checked (LMR_EDIM) */
    lmr_layernorm_args args = {&x, &gamma, &beta, x.cols, eps};
    enum lmr_status status = check_args(&args);
    if (status != LMR_OK)
        return status;
    if (lmr_mat_out_missing(out))
        return LMR_EINVAL;
    if (out.rows != x.rows || out.cols != x.cols)
        return LMR_EDIM;
    size_t d = x.cols;
    for (size_t t = 0; t < x.rows; t++) /* row t starts at t*d */
        normalise_row(out.data + t * d, x.data + t * d, gamma.data, beta.data,
                      d, eps);
    return LMR_OK;
}
