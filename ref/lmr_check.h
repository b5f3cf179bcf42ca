/*
 * lmr_check.h -- input checks shared by the library's modules (internal: not
 * installed). Each returns LMR_OK or the status code spec/errors.md assigns.
 */
#ifndef LMR_CHECK_H
#define LMR_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_view.h"

/* LMR_ENONFINITE if any of values[0..count) is NaN or infinite. */
int lmr_check_finite(const double *values, size_t count);

/* LMR_EINDEX if any ids[t] (t < n) is outside [0, vocab). */
int lmr_check_ids(const int64_t *ids, size_t n, size_t vocab);

/* A rows x cols table: LMR_EDIM if a size is 0, LMR_EOVERFLOW if too big,
 * LMR_ENONFINITE if an entry is not finite. */
int lmr_check_table(const double *table, size_t rows, size_t cols);

/* Defined in lmr_softmax.c, shared with the sampling module: LMR_OK if
 * every row of logits (n,vocab) is finite or -inf with at least one finite
 * entry; else LMR_ENONFINITE (+inf or NaN) or LMR_EDOMAIN (a row of -inf). */
int lmr_check_logits(const double *logits, size_t n, size_t vocab);

/* Defined in lmr_softmax.c: LMR_OK for a finite tau > 0; else
 * LMR_ENONFINITE or LMR_EDOMAIN. */
int lmr_check_temperature(double tau);

/* ---- views (spec/api.md#order): each class of problem is its own test, so
 * that an op can check every view for LMR_EINVAL before any for LMR_EDIM
 * and any for LMR_EOVERFLOW. */

/* Non-zero when the view has elements but no data (LMR_EINVAL). */
int lmr_vec_missing(lmr_vec v);
int lmr_mat_missing(lmr_mat m);
int lmr_stack_missing(lmr_stack s);
int lmr_ids_missing(lmr_ids ids);
int lmr_vec_out_missing(lmr_vec_out v);
int lmr_mat_out_missing(lmr_mat_out m);
int lmr_stack_out_missing(lmr_stack_out s);
int lmr_ids_out_missing(lmr_ids_out ids);

/* Non-zero when the view's element count times 8 bytes does not fit in
 * size_t (LMR_EOVERFLOW). */
int lmr_vec_too_big(lmr_vec v);
int lmr_mat_too_big(lmr_mat m);
int lmr_stack_too_big(lmr_stack s);
int lmr_ids_too_big(lmr_ids ids);

/* The element count of a view that passed its *_too_big test. */
size_t lmr_mat_count(lmr_mat m);
size_t lmr_stack_count(lmr_stack s);

/* LMR_ENONFINITE if an entry of the view is NaN or infinite, else LMR_OK.
 * The view must have passed its *_too_big test. */
int lmr_check_finite_vec(lmr_vec v);
int lmr_check_finite_mat(lmr_mat m);
int lmr_check_finite_stack(lmr_stack s);

#endif
