/*
 * lmr_layernorm_stats.h -- internal to ref/: the statistics of one LayerNorm
 * row, shared by the forward (lmr_layernorm.c) and the backward
 * (lmr_grad_input.c) so that both normalise a row the same way.
 */
#ifndef LMR_LAYERNORM_STATS_H
#define LMR_LAYERNORM_STATS_H

#include <stddef.h>

#include "lmr_intermediates.h"

/* The checks LayerNorm's forward and backward share, after their NULL
 * checks: LMR_EDIM (d = 0), LMR_EOVERFLOW (n x d), eps non-finite
 * (LMR_ENONFINITE) or <= 0 (LMR_EDOMAIN), a non-finite entry in gamma (d) or
 * x (n,d) (LMR_ENONFINITE). */
int lmr_layernorm_check(const double *x, const double *gamma, size_t n,
                        size_t d, double eps);

/* The statistics of row (d) into *stats (lmr_intermediates.h): the mean,
 * the biased variance and r = 1/sqrt(var + eps), both sums left to right in
 * double; rows whose deviations exceed 2^500 are rescaled before squaring. */
void lmr_layernorm_row_stats(const double *row, size_t d, double eps,
                             lmr_layernorm_row *stats);

#endif
