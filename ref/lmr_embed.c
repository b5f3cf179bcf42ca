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

/* Common argument checks for a (rows,d) table read by n indices. */
static int check_gather(const double *out, const double *table,
                        const int64_t *index, size_t n, size_t rows, size_t d)
{
    size_t out_count;
    if (table == NULL || (n > 0 && (out == NULL || index == NULL)))
        return LMR_EINVAL;
    if (lmr_array_count(&out_count, n, d) != LMR_OK)
        return LMR_EOVERFLOW;
    return lmr_check_table(table, rows, d);
}

int lmr_embed_lookup(double *out, const double *E, const int64_t *ids,
                     size_t n, size_t vocab, size_t d)
{
    int status = check_gather(out, E, ids, n, vocab, d);
    if (status == LMR_OK)
        status = lmr_check_ids(ids, n, vocab);
    if (status == LMR_OK)
        gather_rows(out, E, ids, n, d);
    return status;
}

int lmr_pos_learned(double *out, const double *P, const int64_t *positions,
                    size_t n, size_t max_len, size_t d)
{
    int status = check_gather(out, P, positions, n, max_len, d);
    if (status != LMR_OK)
        return status;
    /* same range test as ids, reported as a position error */
    if (lmr_check_ids(positions, n, max_len) != LMR_OK)
        return LMR_EPOS;
    gather_rows(out, P, positions, n, d);
    return LMR_OK;
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

int lmr_embed_onehot(double *out, const double *onehot, const double *E,
                     size_t n, size_t vocab, size_t d)
{
    size_t onehot_count, out_count;
    int status;
    if (E == NULL || (n > 0 && (out == NULL || onehot == NULL)))
        return LMR_EINVAL;
    if (lmr_array_count(&onehot_count, n, vocab) != LMR_OK ||
        lmr_array_count(&out_count, n, d) != LMR_OK)
        return LMR_EOVERFLOW;
    status = lmr_check_table(E, vocab, d);
    if (status == LMR_OK)
        status = check_onehot(onehot, n, vocab);
    if (status != LMR_OK || n == 0)
        return status;
    {
        gsl_matrix_const_view O = gsl_matrix_const_view_array(onehot, n, vocab);
        gsl_matrix_const_view W = gsl_matrix_const_view_array(E, vocab, d);
        gsl_matrix_view Y = gsl_matrix_view_array(out, n, d);
        /* Y = 1 * O E + 0 * Y; gslcblas skips the zero products, and with
         * beta = 0 it overwrites Y without reading it. */
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, &O.matrix, &W.matrix,
                       0.0, &Y.matrix);
    }
    return LMR_OK;
}
