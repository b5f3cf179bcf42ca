/*
 * lmr_pca.h -- principal component analysis of the rows of a matrix
 * (spec/pca.md; vectors/pca.json).
 */
#ifndef LMR_PCA_H
#define LMR_PCA_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"
#include "lmr_status.h"
#include "lmr_view.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest |x| of spec/pca.md: 2^480 (no square or sum can overflow). */
#define LMR_PCA_MAX_ABS 0x1p480

/* Where lmr_pca writes; every view has the shape in its comment. */
typedef struct {
    lmr_vec_out mean;           /* (d): the column means mu */
    lmr_mat_out components;     /* (k, d): the directions v_i, unit rows */
    lmr_vec_out variances;      /* (k): lambda_1 >= ... >= lambda_k >= 0 */
    lmr_vec_out ratios;         /* (k): lambda_i / T (0 when T = 0) */
    lmr_mat_out projections;    /* (n, k): Z[t,i] = (X[t,:] - mu) . v_i */
    lmr_mat_out reconstruction; /* (n, d): R[t,:] = mu + sum_i Z[t,i] v_i */
} lmr_pca_outputs;

/*
 * The input and parameter of lmr_pca: X (n, d) and k.
 * Errors, in this order: LMR_EINVAL (X with elements and no data); LMR_EDIM
 * (n < 2 or d = 0); LMR_EOVERFLOW (n*d or d*d doubles beyond size_t);
 * LMR_EDOMAIN (k outside [1, min(n, d)]); LMR_ENONFINITE (an entry of X),
 * then LMR_EDOMAIN (|x| > LMR_PCA_MAX_ABS).
 */
LMR_API
enum lmr_status lmr_pca_check(lmr_mat X, int64_t k);

/*
 * The first k principal components of the n rows of X (n, d): the rows are
 * centred by their column mean, C = X_c^T X_c / (n - 1), and (lambda_i, v_i)
 * are C's eigenpairs in descending order of lambda, each v_i signed so that
 * its entry of largest absolute value (the lowest index among equal ones)
 * is positive. T = trace C counts every direction, not only the first k.
 * Errors: those of lmr_pca_check; then LMR_EINVAL (out NULL, or a view of
 * out with elements and no data), LMR_EDIM (a view of out not of the shape
 * above); LMR_ENOMEM.
 */
LMR_API
enum lmr_status lmr_pca(const lmr_pca_outputs *out, lmr_mat X, int64_t k);

#ifdef __cplusplus
}
#endif

#endif
