/*
 * lmr_head.c -- tied and untied LM heads.
 *
 * Method: one matrix product with GSL's BLAS, dgemm. The tied head asks for
 * h E^T by passing E with the Trans flag, so E is read where it lies and
 * never copied (the point of tying). The bias, if any, is added afterwards.
 *
 * Accuracy: each logit is a dot product of length d; any summation order
 * stays within (d + 2) u sum|h_j E_vj| (spec/tolerance.md#head).
 */
#include "lmr_head.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_matrix.h>

#include "lmr_check.h"
#include "lmr_status.h"

/* Checks h (n,d), a (rows,cols) weight and the output (n,vocab). */
static int check_head(const double *logits, const double *h,
                      const double *weight, size_t rows, size_t cols,
                      size_t n, size_t vocab, size_t d)
{
    size_t h_count, out_count;
    int status;
    if (weight == NULL || (n > 0 && (logits == NULL || h == NULL)))
        return LMR_EINVAL;
    if (lmr_array_count(&h_count, n, d) != LMR_OK ||
        lmr_array_count(&out_count, n, vocab) != LMR_OK)
        return LMR_EOVERFLOW;
    status = lmr_check_table(weight, rows, cols);
    if (status == LMR_OK)
        status = lmr_check_finite(h, h_count);
    return status;
}

int lmr_head_tied(double *logits, const double *h, const double *E, size_t n,
                  size_t vocab, size_t d)
{
    int status = check_head(logits, h, E, vocab, d, n, vocab, d);
    if (status != LMR_OK || n == 0)
        return status;
    gsl_matrix_const_view H = gsl_matrix_const_view_array(h, n, d);
    gsl_matrix_const_view Emb = gsl_matrix_const_view_array(E, vocab, d);
    gsl_matrix_view U = gsl_matrix_view_array(logits, n, vocab);
    /* U = H Emb^T: logit v of row t is the dot product of h_t with E[v] */
    gsl_blas_dgemm(CblasNoTrans, CblasTrans, 1.0, &H.matrix, &Emb.matrix,
                   0.0, &U.matrix);
    return LMR_OK;
}

int lmr_head_untied(double *logits, const double *h, const double *W,
                    const double *bias, size_t n, size_t vocab, size_t d)
{
    int status = check_head(logits, h, W, d, vocab, n, vocab, d);
    if (status == LMR_OK && bias != NULL)
        status = lmr_check_finite(bias, vocab);
    if (status != LMR_OK || n == 0)
        return status;
    gsl_matrix_const_view H = gsl_matrix_const_view_array(h, n, d);
    gsl_matrix_const_view Wm = gsl_matrix_const_view_array(W, d, vocab);
    gsl_matrix_view U = gsl_matrix_view_array(logits, n, vocab);
    gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, &H.matrix, &Wm.matrix,
                   0.0, &U.matrix);
    for (size_t t = 0; bias != NULL && t < n; t++)
        for (size_t v = 0; v < vocab; v++) /* row t starts at t*vocab */
            logits[t * vocab + v] += bias[v];
    return LMR_OK;
}
