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

/* ---- the classes of spec/api.md#error-order, for checks that combine
 * the checks of two ops (compose_layernorm = compose, then LayerNorm): such
 * a check runs one class of both before the next class of either, so that
 * the first problem is the one the order names. */
enum lmr_check_class {
    LMR_CHECK_MISSING = 0, /* LMR_EINVAL: a view with elements and no data */
    LMR_CHECK_SHAPES,      /* LMR_EDIM: a size 0, or shapes that disagree */
    LMR_CHECK_SIZES,       /* LMR_EOVERFLOW: an element count too big */
    LMR_CHECK_PARAMS,      /* the scalar parameters */
    LMR_CHECK_ENTRIES,     /* the arrays' entries */
    LMR_CHECK_CLASSES      /* how many there are */
};

/* Defined in lmr_embed.c: the check of a table (rows,d) read at index (n),
 * which the lookup and the learned positions share with their backward.
 * The backward has the table's shape (its gradient's) but not its entries:
 * with_entries = 0 skips the table's LMR_EINVAL and LMR_ENONFINITE tests.
 * In order: LMR_EINVAL, LMR_EDIM (rows or d is 0), LMR_EOVERFLOW (the
 * table, index, or the (n,d) rows read), LMR_ENONFINITE (an entry of the
 * table), bad_index (an index outside [0, rows): LMR_EINDEX or LMR_EPOS). */
int lmr_check_gather(lmr_mat table, int with_entries, lmr_ids index,
                     int bad_index);

#endif
