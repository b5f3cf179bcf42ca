/*
 * lmr_layernorm_stats.h -- internal to ref/: the statistics of one LayerNorm
 * row, shared by the forward (lmr_layernorm.c) and the backward
 * (lmr_grad_input.c) so that both normalise a row the same way, and the
 * checks of LayerNorm's arguments one class at a time, for the ops that
 * combine them with others (lmr_compose_layernorm).
 */
#ifndef LMR_LAYERNORM_STATS_H
#define LMR_LAYERNORM_STATS_H

#include <stddef.h>

#include "lmr_check.h"
#include "lmr_intermediates.h"
#include "lmr_status.h"
#include "lmr_view.h"

/* The arguments of a LayerNorm check. A NULL view pointer is an argument
 * the caller does not have (the composite x of lmr_compose_layernorm, the
 * beta of the backward), which is then not checked. */
typedef struct {
    const lmr_mat *x;     /* (n, d) or NULL */
    const lmr_vec *gamma; /* (d) or NULL */
    const lmr_vec *beta;  /* (d) or NULL */
    size_t d;             /* the width every row has */
    double eps;
} lmr_layernorm_args;

/* The problem of class `problem` among args (spec/api.md#error-order), or
 * LMR_OK: LMR_EINVAL, LMR_EDIM (d = 0, gamma or beta not of length d),
 * LMR_EOVERFLOW, eps (LMR_ENONFINITE, then LMR_EDOMAIN for eps <= 0), the
 * entries of x, gamma, beta (LMR_ENONFINITE). */
enum lmr_status lmr_layernorm_problem(enum lmr_check_class problem,
                                      const lmr_layernorm_args *args);

/* LayerNorm's rule for eps, the one copy of it in ref/ (the logit lens and
 * the tied model, which normalise with LayerNorm, call it too): LMR_OK for
 * a finite eps > 0, LMR_ENONFINITE for a NaN or an infinity, else
 * LMR_EDOMAIN. */
enum lmr_status lmr_layernorm_eps_problem(double eps);

/* The statistics of row (d) into *stats (lmr_intermediates.h): the mean,
 * the biased variance and r = 1/sqrt(var + eps), both sums left to right in
 * double; rows whose deviations exceed 2^500 are rescaled before squaring. */
void lmr_layernorm_row_stats(const double *row, size_t d, double eps,
                             lmr_layernorm_row *stats);

#endif
