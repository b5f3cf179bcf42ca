/*
 * lmr_pca.c -- principal component analysis.
 *
 * Method (spec/pca.md): the column means by a plain sum, the centred rows
 * Y = X - 1 mu^T (two passes: the covariance is never formed as
 * E[x x^T] - mu mu^T, which cancels for rows with a large common offset),
 * then the SVD of Y by GSL's one-sided Jacobi (gsl_linalg_SV_decomp_jacobi;
 * Y padded with zero rows to d x d when n < d):
 * Y = U S W^T, so C = Y^T Y / (n - 1) has the eigenvalues s_i^2 / (n - 1)
 * and the eigenvectors W[:,i], already in descending order. The SVD of Y
 * does not square Y's condition number as an eigensolver on C would.
 * GSL's Jacobi SVD allocates nothing, so no GSL error handler can abort.
 *
 * Accuracy: spec/tolerance.md#pca (the covariance perturbation, Weyl for
 * the variances, Davis-Kahan for the directions).
 */
#include "lmr_pca.h"

#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "lmr_check.h"
#include "lmr_status.h"

enum lmr_status lmr_pca_check(lmr_mat X, int64_t k)
{
    size_t n = X.rows, d = X.cols, count;
    if (lmr_mat_missing(X))
        return LMR_EINVAL;
    if (n < 2 || d == 0)
        return LMR_EDIM;
    if (lmr_mat_too_big(X) || lmr_array_count(&count, d, d) != LMR_OK)
        return LMR_EOVERFLOW;
    if (k < 1 || (uint64_t)k > (n < d ? n : d))
        return LMR_EDOMAIN;
    count = lmr_mat_count(X);
    if (lmr_check_finite(X.data, count) != LMR_OK)
        return LMR_ENONFINITE;
    for (size_t i = 0; i < count; i++)
        if (fabs(X.data[i]) > LMR_PCA_MAX_ABS)
            return LMR_EDOMAIN;
    return LMR_OK;
}

/* LMR_EINVAL, then LMR_EDIM, for the outputs of n rows, d columns, k
 * components. */
static int check_outputs(const lmr_pca_outputs *out, size_t n, size_t d,
                         size_t k)
{
    if (out == NULL || lmr_vec_out_missing(out->mean) ||
        lmr_mat_out_missing(out->components) ||
        lmr_vec_out_missing(out->variances) ||
        lmr_vec_out_missing(out->ratios) ||
        lmr_mat_out_missing(out->projections) ||
        lmr_mat_out_missing(out->reconstruction))
        return LMR_EINVAL;
    if (out->mean.len != d || out->components.rows != k ||
        out->components.cols != d || out->variances.len != k ||
        out->ratios.len != k || out->projections.rows != n ||
        out->projections.cols != k || out->reconstruction.rows != n ||
        out->reconstruction.cols != d)
        return LMR_EDIM;
    return LMR_OK;
}

/* mean[j] = sum_t X[t,j] / n; Y = X - 1 mean^T.
 * mean: (d); Y, X: (n, d) */
static void centre_rows(double *mean, double *Y, const double *X, size_t n,
                        size_t d)
{
    for (size_t j = 0; j < d; j++) {
        double sum = 0.0;
        for (size_t t = 0; t < n; t++)
            sum += X[t * d + j];
        mean[j] = sum / (double)n;
    }
    for (size_t t = 0; t < n; t++)
        for (size_t j = 0; j < d; j++)
            Y[t * d + j] = X[t * d + j] - mean[j];
}

/*
 * The right singular vectors of Y (n, d) as the columns of W (d, d) and the
 * singular values in s (d), descending. work holds max(n, d) * d doubles
 * (destroyed). GSL's Jacobi SVD needs at least as many rows as columns, so
 * when n < d, Y is padded with d - n zero rows: the singular values and
 * vectors are the same, and W (a product of rotations) stays a complete
 * orthonormal basis, its columns past the rank unit vectors of Y's null
 * space. Returns 0, or -1 if GSL fails.
 */
static int right_singular_vectors(double *W, double *s, const double *Y,
                                  size_t n, size_t d, double *work)
{
    size_t rows = n > d ? n : d;
    for (size_t i = 0; i < rows * d; i++)
        work[i] = i < n * d ? Y[i] : 0.0;
    gsl_matrix_view A = gsl_matrix_view_array(work, rows, d);
    gsl_matrix_view Q = gsl_matrix_view_array(W, d, d);
    gsl_vector_view S = gsl_vector_view_array(s, d);
    return gsl_linalg_SV_decomp_jacobi(&A.matrix, &Q.matrix, &S.vector) ? -1
                                                                        : 0;
}

/* The sign rule of spec/pca.md: v (d) times -1 when its entry of largest
 * absolute value (the lowest index among equal ones) is negative. */
static void apply_sign_rule(double *v, size_t d)
{
    size_t largest = 0;
    for (size_t j = 1; j < d; j++)
        if (fabs(v[j]) > fabs(v[largest]))
            largest = j;
    if (v[largest] < 0.0)
        for (size_t j = 0; j < d; j++)
            v[j] = -v[j];
}

/* T = sum_j sum_t Y[t,j]^2 / (n - 1), the trace of C. Y: (n, d) */
static double total_variance(const double *Y, size_t n, size_t d)
{
    double sum = 0.0;
    for (size_t i = 0; i < n * d; i++)
        sum += Y[i] * Y[i];
    return sum / (double)(n - 1);
}

/* The outputs from the centred rows Y (n, d), W's columns (d, d) and the
 * singular values s (d). */
static void write_outputs(const lmr_pca_outputs *out, const double *Y,
                          const double *W, const double *s, size_t n, size_t d,
                          size_t k)
{
    double T = total_variance(Y, n, d);
    for (size_t i = 0; i < k; i++) {
        double *v = out->components.data + i * d; /* row i of (k, d) */
        for (size_t j = 0; j < d; j++)
            v[j] = W[j * d + i];
        apply_sign_rule(v, d);
        out->variances.data[i] = s[i] * s[i] / (double)(n - 1);
        out->ratios.data[i] = T > 0.0 ? out->variances.data[i] / T : 0.0;
    }
    for (size_t t = 0; t < n; t++) {
        const double *y = Y + t * d;                  /* row t of (n, d) */
        double *z = out->projections.data + t * k;    /* row t of (n, k) */
        double *r = out->reconstruction.data + t * d; /* row t of (n, d) */
        for (size_t j = 0; j < d; j++)
            r[j] = 0.0;
        for (size_t i = 0; i < k; i++) {
            const double *v = out->components.data + i * d;
            double dot = 0.0;
            for (size_t j = 0; j < d; j++)
                dot += y[j] * v[j];
            z[i] = dot;
            for (size_t j = 0; j < d; j++)
                r[j] += dot * v[j];
        }
        for (size_t j = 0; j < d; j++)
            r[j] += out->mean.data[j];
    }
}

enum lmr_status lmr_pca(const lmr_pca_outputs *out, lmr_mat X, int64_t k)
{
    int status = lmr_pca_check(X, k);
    size_t n = X.rows, d = X.cols, width = status == LMR_OK ? (size_t)k : 0;
    if (status == LMR_OK)
        status = check_outputs(out, n, d, width);
    if (status != LMR_OK)
        return (enum lmr_status)status;
    size_t rows = n > d ? n : d;
    double *Y = malloc(n * d * sizeof(double));
    double *work = malloc(rows * d * sizeof(double));
    double *W = malloc(d * d * sizeof(double));
    double *s = malloc(d * sizeof(double));
    if (Y == NULL || work == NULL || W == NULL || s == NULL) {
        status = LMR_ENOMEM;
    } else {
        centre_rows(out->mean.data, Y, X.data, n, d);
        if (right_singular_vectors(W, s, Y, n, d, work) != 0)
            /* GSL fails only on bad sizes, excluded above */
            status = LMR_ENOMEM;
        else
            write_outputs(out, Y, W, s, n, d, width);
    }
    free(Y);
    free(work);
    free(W);
    free(s);
    return (enum lmr_status)status;
}
