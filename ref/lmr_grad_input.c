/*
 * lmr_grad_input.c -- backward of the token lookup, the learned positions
 * and LayerNorm (spec/gradients.md#embed_lookup_backward,
 * #pos_learned_backward, #layernorm_backward).
 *
 * Method. A lookup copies rows of a table, so its backward is a scatter-add:
 * the gradient table starts at zero and row t of the upstream gradient is
 * added into row ids[t]. Adding (never assigning) is what makes a token that
 * occurs twice receive both contributions; an absent token keeps its zeros.
 *
 * LayerNorm: per row, the statistics mu and r = 1/sqrt(var + eps) come from
 * the forward's own lmr_layernorm_row_stats (lmr_layernorm_stats.h),
 * then z_j = (x_j - mu) r and, with g_j = gamma_j dY_j,
 *     dx_j = r (g_j - mean(g) - z_j mean(g z)),
 *     dgamma_j += dY_j z_j,   dbeta_j += dY_j.
 *
 * Every input is checked before anything is written, and nothing can fail
 * after the checks except an allocation, which is done first.
 *
 * Accuracy: spec/tolerance.md#gradients (a running error bound, K = 2).
 */
#include "lmr_grad_input.h"

#include <stdlib.h>

#include "lmr_check.h"
#include "lmr_layernorm.h"
#include "lmr_layernorm_stats.h"
#include "lmr_status.h"

/* ---- scatter-add: token lookup and learned positions -------------------- */

/* The checks of a scatter-add of dY (n,d) into the gradient dtable (rows,d)
 * of a table read at index (n), in the order of spec/api.md#error-order:
 * the forward's check for a table of dtable's shape (lmr_check_gather),
 * then dY, then dtable. bad_index is the code for an index outside
 * [0, rows) (LMR_EINDEX for ids, LMR_EPOS for positions). */
static enum lmr_status check_scatter(lmr_mat_out dtable, lmr_ids index,
                                     lmr_mat dY, int bad_index)
{
    lmr_mat table_shape = lmr_mat_of(NULL, dtable.rows, dtable.cols);
    int status = lmr_check_gather(table_shape, 0, index, bad_index);
    if (status != LMR_OK)
        return (enum lmr_status)status;
    if (lmr_mat_missing(dY))
        return LMR_EINVAL;
    if (dY.rows != index.len || dY.cols != dtable.cols)
        return LMR_EDIM;
    if (lmr_check_finite_mat(dY) != LMR_OK) /* (n,d): checked for overflow */
        return LMR_ENONFINITE;
    return lmr_mat_out_missing(dtable) ? LMR_EINVAL : LMR_OK;
}

/* dtable (rows,d) = 0, then dtable[index[t],:] += dY[t,:] for t < n.
 * index is (n), checked; dY is (n,d). */
static void scatter_add(double *dtable, const int64_t *index, const double *dY,
                        size_t n, size_t rows, size_t d)
{
    for (size_t i = 0; i < rows * d; i++)
        dtable[i] = 0.0;
    for (size_t t = 0; t < n; t++) {
        double *row = dtable + (size_t)index[t] * d; /* dtable[index[t],:] */
        const double *upstream = dY + t * d;         /* dY[t,:] */
        for (size_t j = 0; j < d; j++)
            row[j] += upstream[j];
    }
}

enum lmr_status lmr_embed_lookup_backward(lmr_mat_out dE, lmr_ids ids,
                                          lmr_mat dY)
{
    enum lmr_status status = check_scatter(dE, ids, dY, LMR_EINDEX);
    if (status == LMR_OK)
        scatter_add(dE.data, ids.data, dY.data, ids.len, dE.rows, dE.cols);
    return status;
}

enum lmr_status lmr_pos_learned_backward(lmr_mat_out dP, lmr_ids positions,
                                         lmr_mat dY)
{
    enum lmr_status status = check_scatter(dP, positions, dY, LMR_EPOS);
    if (status == LMR_OK)
        scatter_add(dP.data, positions.data, dY.data, positions.len, dP.rows,
                    dP.cols);
    return status;
}

/* ---- LayerNorm ------------------------------------------------------------ */

/* The checks of the backward, in the order of spec/api.md#error-order: the
 * forward's check (without beta, which the backward does not read), then
 * dY (n,d), then the outputs dx (n,d), dgamma and dbeta (d). */
static enum lmr_status check_layernorm_backward(lmr_mat_out dx,
                                                lmr_vec_out dgamma,
                                                lmr_vec_out dbeta, lmr_mat x,
                                                lmr_vec gamma, lmr_mat dY,
                                                double eps)
{
    size_t d = x.cols;
    enum lmr_status status = lmr_layernorm_check(x, gamma, lmr_vec_absent(),
                                                 eps);
    if (status != LMR_OK)
        return status;
    if (lmr_mat_missing(dY))
        return LMR_EINVAL;
    if (dY.rows != x.rows || dY.cols != d)
        return LMR_EDIM;
    if (lmr_check_finite_mat(dY) != LMR_OK) /* dY is x's shape: not too big */
        return LMR_ENONFINITE;
    if (lmr_mat_out_missing(dx) || lmr_vec_out_missing(dgamma) ||
        lmr_vec_out_missing(dbeta))
        return LMR_EINVAL;
    if (dx.rows != x.rows || dx.cols != d || dgamma.len != d || dbeta.len != d)
        return LMR_EDIM;
    return LMR_OK;
}

/* Backward of one row: writes dx_row (d), adds into dgamma and dbeta (d).
 * x_row, dY_row: (d); gamma: (d); z: (d) scratch for the normalised row
 * (so dx_row may even be x_row or dY_row). */
static void backward_row(double *dx_row, double *dgamma, double *dbeta,
                         double *z, const double *x_row, const double *gamma,
                         const double *dY_row, size_t d, double eps)
{
    double g_sum = 0.0, gz_sum = 0.0;
    lmr_layernorm_row stats;
    lmr_layernorm_row_stats(x_row, d, eps, &stats);
    double inv_std = stats.inv_std;
    for (size_t j = 0; j < d; j++) {
        double g = gamma[j] * dY_row[j]; /* dL/dz_j */
        z[j] = lmr_layernorm_normalised(x_row[j], &stats);
        g_sum += g;
        gz_sum += g * z[j];
        dgamma[j] += dY_row[j] * z[j];
        dbeta[j] += dY_row[j];
    }
    double g_mean = g_sum / (double)d;   /* the mean's share */
    double gz_mean = gz_sum / (double)d; /* the variance's share */
    for (size_t j = 0; j < d; j++)
        dx_row[j] = inv_std * (gamma[j] * dY_row[j] - g_mean - z[j] * gz_mean);
}

enum lmr_status lmr_layernorm_backward(lmr_mat_out dx, lmr_vec_out dgamma,
                                       lmr_vec_out dbeta, lmr_mat x,
                                       lmr_vec gamma, lmr_mat dY, double eps)
{
    enum lmr_status status = check_layernorm_backward(dx, dgamma, dbeta, x,
                                                      gamma, dY, eps);
    if (status != LMR_OK)
        return status;
    size_t n = x.rows, d = x.cols;
    double *z = malloc(d * sizeof(double)); /* (d): one normalised row */
    if (z == NULL)
        return LMR_ENOMEM;
    for (size_t j = 0; j < d; j++)
        dgamma.data[j] = dbeta.data[j] = 0.0;
    for (size_t t = 0; t < n; t++) /* row t starts at t*d */
        backward_row(dx.data + t * d, dgamma.data, dbeta.data, z,
                     x.data + t * d, gamma.data, dY.data + t * d, d, eps);
    free(z);
    return LMR_OK;
}
