/*
 * lmr_check.h -- input checks shared by the library's modules (internal: not
 * installed). Each returns LMR_OK or the status code spec/errors.md assigns.
 */
#ifndef LMR_CHECK_H
#define LMR_CHECK_H

#include <stddef.h>
#include <stdint.h>

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

#endif
