/*
 * lmr_pca.h -- principal component analysis of the rows of a matrix
 * (spec/pca.md; vectors/pca.json).
 */
#ifndef LMR_PCA_H
#define LMR_PCA_H

#include <stddef.h>

#include "lmr_api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest |x| of spec/pca.md: 2^480 (no square or sum can overflow). */
#define LMR_PCA_MAX_ABS 0x1p480

/* Where lmr_pca writes; every array has the shape in its comment. */
typedef struct {
    double *mean;           /* (d): the column means mu */
    double *components;     /* (k, d): the directions v_i, unit rows */
    double *variances;      /* (k): lambda_1 >= ... >= lambda_k >= 0 */
    double *ratios;         /* (k): lambda_i / T (0 when T = 0) */
    double *projections;    /* (n, k): Z[t,i] = (X[t,:] - mu) . v_i */
    double *reconstruction; /* (n, d): R[t,:] = mu + sum_i Z[t,i] v_i */
} lmr_pca_outputs;

/*
 * The first k principal components of the n rows of X (n, d): the rows are
 * centred by their column mean, C = X_c^T X_c / (n - 1), and (lambda_i, v_i)
 * are C's eigenpairs in descending order of lambda, each v_i signed so that
 * its entry of largest absolute value (the lowest index among equal ones)
 * is positive. T = trace C counts every direction, not only the first k.
 * Every pointer of out must be non-NULL and hold the shape above.
 * Errors: LMR_EINVAL (a NULL array), LMR_EDIM (n < 2 or d = 0),
 * LMR_EOVERFLOW (n*d or d*d doubles beyond size_t), LMR_ENONFINITE (X),
 * LMR_EDOMAIN (k outside [1, min(n, d)], or |x| > LMR_PCA_MAX_ABS),
 * LMR_ENOMEM.
 */
LMR_API
int lmr_pca(const lmr_pca_outputs *out, const double *X, size_t n, size_t d,
            size_t k);

#ifdef __cplusplus
}
#endif

#endif
