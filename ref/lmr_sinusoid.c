/*
 * lmr_sinusoid.c -- sinusoidal position encoding.
 *
 * Method: for pair i the frequency is w_i = exp(-(2i/d) ln base), computed
 * with the exponent formed exactly as the rational 2i/d in double and one
 * log; the angle p*w_i is then passed to libm's sin and cos.
 *
 * Accuracy: w_i carries a relative error of a few ulps, so the angle's
 * absolute error grows with |p w_i|; at p = 10^6 it can reach about 10^-9. The
 * tolerance model (spec/tolerance.md#sinusoid) accounts for exactly this.
 */
#include "lmr_sinusoid.h"

#include <math.h>

#include "lmr_check.h"
#include "lmr_status.h"

static int check_params(size_t d, double base)
{
    if (d == 0)
        return LMR_EDIM;
    if (!isfinite(base))
        return LMR_ENONFINITE;
    if (!(base > 1.0))
        return LMR_EDOMAIN;
    return LMR_OK;
}

static int position_in_range(int64_t p)
{
    return p >= 0 && p <= LMR_SINUSOID_MAX_POSITION;
}

double lmr_pos_sinusoid_element(int64_t p, size_t j, size_t d, double base)
{
    if (check_params(d, base) != LMR_OK || j >= d || !position_in_range(p))
        return NAN;
    size_t pair = j / 2;
    double frequency = exp(-((double)(2 * pair) / (double)d) * log(base));
    double angle = (double)p * frequency;
    return (j % 2 == 0) ? sin(angle) : cos(angle);
}

enum lmr_status lmr_pos_sinusoid_check(lmr_ids positions, size_t d, double base)
{
    if (lmr_ids_missing(positions))
        return LMR_EINVAL;
    if (d == 0)
        return LMR_EDIM;
    if (lmr_ids_too_big(positions) ||
        lmr_mat_too_big(lmr_mat_of(NULL, positions.len, d)))
        return LMR_EOVERFLOW;
    if (!isfinite(base))
        return LMR_ENONFINITE;
    if (!(base > 1.0))
        return LMR_EDOMAIN;
    for (size_t t = 0; t < positions.len; t++)
        if (!position_in_range(positions.data[t]))
            return LMR_EPOS;
    return LMR_OK;
}

enum lmr_status lmr_pos_sinusoid(lmr_mat_out out, lmr_ids positions,
                                 double base)
{
    size_t d = out.cols;
    enum lmr_status status = lmr_pos_sinusoid_check(positions, d, base);
    if (status != LMR_OK)
        return status;
    if (lmr_mat_out_missing(out))
        return LMR_EINVAL;
    if (out.rows != positions.len)
        return LMR_EDIM;
    for (size_t t = 0; t < positions.len; t++)
        for (size_t j = 0; j < d; j++) /* row t starts at t*d */
            out.data[t * d + j] = lmr_pos_sinusoid_element(positions.data[t], j,
                                                           d, base);
    return LMR_OK;
}
