/*
 * lmr_embed.c -- token lookup, its one-hot product form, learned positions.
 *
 * Method: a lookup is a row copy, so the result is exact. The one-hot form is
 * computed as the matrix product it is written as (GSL's dgemm), after
 * checking that the left factor really is one-hot; with a finite E every sum
 * then has a single non-zero term and is exact as well.
 */
#include "lmr_embed.h"

#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_matrix.h>

#include "lmr_check.h"
#include "lmr_status.h"

/* Copies rows[t] of table (rows_in_table, d) into out (n, d). */
static void gather_rows(double *out, const double *table, const int64_t *rows,
                        size_t n, size_t d)
{
    for (size_t t = 0; t < n; t++)
        /* row rows[t] of the table starts at rows[t]*d */
        memcpy(out + t * d, table + (size_t)rows[t] * d, d * sizeof(double));
}

int lmr_check_gather(lmr_mat table, int with_entries, lmr_ids index,
                     int bad_index)
{
    if ((with_entries && lmr_mat_missing(table)) || lmr_ids_missing(index))
        return LMR_EINVAL;
    if (table.rows == 0 || table.cols == 0)
        return LMR_EDIM;
    if (lmr_mat_too_big(table) || lmr_ids_too_big(index) ||
        lmr_mat_too_big(lmr_mat_of(NULL, index.len, table.cols)))
        return LMR_EOVERFLOW;
    if (with_entries && lmr_check_finite_mat(table) != LMR_OK)
        return LMR_ENONFINITE;
    if (lmr_check_ids(index.data, index.len, table.rows) != LMR_OK)
        return bad_index;
    return LMR_OK;
}

/* The output checks of a gather of n rows of width d into out. */
static enum lmr_status check_rows_out(lmr_mat_out out, size_t n, size_t d)
{
    if (lmr_mat_out_missing(out))
        return LMR_EINVAL;
    if (out.rows != n || out.cols != d)
        return LMR_EDIM;
    return LMR_OK;
}

enum lmr_status lmr_embed_lookup_check(lmr_mat E, lmr_ids ids)
{
    return (enum lmr_status)lmr_check_gather(E, 1, ids, LMR_EINDEX);
}

enum lmr_status lmr_embed_lookup(lmr_mat_out out, lmr_mat E, lmr_ids ids)
{
    enum lmr_status status = lmr_embed_lookup_check(E, ids);
    if (status == LMR_OK)
        status = check_rows_out(out, ids.len, E.cols);
    if (status == LMR_OK)
        gather_rows(out.data, E.data, ids.data, ids.len, E.cols);
    return status;
}

enum lmr_status lmr_pos_learned_check(lmr_mat P, lmr_ids positions)
{
    /* the same range test as ids, reported as a position error */
    return (enum lmr_status)lmr_check_gather(P, 1, positions, LMR_EPOS);
}

enum lmr_status lmr_pos_learned(lmr_mat_out out, lmr_mat P, lmr_ids positions)
{
    enum lmr_status status = lmr_pos_learned_check(P, positions);
    if (status == LMR_OK)
        status = check_rows_out(out, positions.len, P.cols);
    if (status == LMR_OK)
        gather_rows(out.data, P.data, positions.data, positions.len, P.cols);
    return status;
}

/* LMR_EDOMAIN unless every entry is 0 or 1 with exactly one 1 per row.
 * onehot is (n, vocab). */
static int check_onehot(const double *onehot, size_t n, size_t vocab)
{
    for (size_t t = 0; t < n; t++) {
        size_t ones = 0;
        for (size_t v = 0; v < vocab; v++) {
            double entry = onehot[t * vocab + v];
            if (entry == 1.0)
                ones++;
            else if (entry != 0.0)
                return LMR_EDOMAIN; /* includes NaN */
        }
        if (ones != 1)
            return LMR_EDOMAIN;
    }
    return LMR_OK;
}

enum lmr_status lmr_embed_onehot_check(lmr_mat onehot, lmr_mat E)
{
    if (lmr_mat_missing(onehot) || lmr_mat_missing(E))
        return LMR_EINVAL;
    if (E.rows == 0 || E.cols == 0 || onehot.cols != E.rows)
        return LMR_EDIM;
    if (lmr_mat_too_big(onehot) || lmr_mat_too_big(E) ||
        lmr_mat_too_big(lmr_mat_of(NULL, onehot.rows, E.cols)))
        return LMR_EOVERFLOW;
    /* the entries in parameter order: the one-hot matrix, then E */
    if (check_onehot(onehot.data, onehot.rows, onehot.cols) != LMR_OK)
        return LMR_EDOMAIN;
    return (enum lmr_status)lmr_check_finite_mat(E);
}

enum lmr_status lmr_embed_onehot(lmr_mat_out out, lmr_mat onehot, lmr_mat E)
{
    enum lmr_status status = lmr_embed_onehot_check(onehot, E);
    if (status == LMR_OK)
        status = check_rows_out(out, onehot.rows, E.cols);
    if (status != LMR_OK || onehot.rows == 0)
        return status;
    {
        gsl_matrix_const_view O = gsl_matrix_const_view_array(
            onehot.data, onehot.rows, onehot.cols);
        gsl_matrix_const_view W = gsl_matrix_const_view_array(E.data, E.rows,
                                                              E.cols);
        gsl_matrix_view Y = gsl_matrix_view_array(out.data, out.rows, out.cols);
        /* Y = 1 * O E + 0 * Y; gslcblas skips the zero products, and with
         * beta = 0 it overwrites Y without reading it. */
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, &O.matrix, &W.matrix,
                       0.0, &Y.matrix);
    }
    return LMR_OK;
}
