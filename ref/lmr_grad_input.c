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
#include "lmr_layernorm_stats.h"
#include "lmr_status.h"

/* ---- scatter-add: token lookup and learned positions -------------------- */

/* Checks a scatter-add of dY (n,d) into the gradient dtable (rows,d) of a
 * table read at index (n); bad_index is the code for an index outside
 * [0, rows) (LMR_EINDEX for ids, LMR_EPOS for positions). */
static int check_scatter(const double *dtable, const int64_t *index,
                         const double *dY, size_t n, size_t rows, size_t d,
                         int bad_index)
{
    size_t table_count, upstream_count;
    if (dtable == NULL || (n > 0 && (index == NULL || dY == NULL)))
        return LMR_EINVAL;
    if (rows == 0 || d == 0)
        return LMR_EDIM;
    if (lmr_array_count(&table_count, rows, d) != LMR_OK ||
        lmr_array_count(&upstream_count, n, d) != LMR_OK)
        return LMR_EOVERFLOW;
    if (lmr_check_finite(dY, upstream_count) != LMR_OK)
        return LMR_ENONFINITE;
    return lmr_check_ids(index, n, rows) == LMR_OK ? LMR_OK : bad_index;
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

int lmr_embed_lookup_backward(double *dE, const int64_t *ids, const double *dY,
                              size_t n, size_t vocab, size_t d)
{
    int status = check_scatter(dE, ids, dY, n, vocab, d, LMR_EINDEX);
    if (status == LMR_OK)
        scatter_add(dE, ids, dY, n, vocab, d);
    return status;
}

int lmr_pos_learned_backward(double *dP, const int64_t *positions,
                             const double *dY, size_t n, size_t max_len,
                             size_t d)
{
    int status = check_scatter(dP, positions, dY, n, max_len, d, LMR_EPOS);
    if (status == LMR_OK)
        scatter_add(dP, positions, dY, n, max_len, d);
    return status;
}

/* ---- LayerNorm ------------------------------------------------------------ */

static int check_layernorm_backward(const double *dx, const double *dgamma,
                                    const double *dbeta, const double *x,
                                    const double *gamma, const double *dY,
                                    size_t n, size_t d, double eps)
{
    if (dgamma == NULL || dbeta == NULL || gamma == NULL ||
        (n > 0 && (dx == NULL || x == NULL || dY == NULL)))
        return LMR_EINVAL;
    int status = lmr_layernorm_check(x, gamma, n, d, eps);
    if (status == LMR_OK && lmr_check_finite(dY, n * d) != LMR_OK)
        status = LMR_ENONFINITE; /* n * d was checked for overflow */
    return status;
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

int lmr_layernorm_backward(double *dx, double *dgamma, double *dbeta,
                           const double *x, const double *gamma,
                           const double *dY, size_t n, size_t d, double eps)
{
    int status = check_layernorm_backward(dx, dgamma, dbeta, x, gamma, dY, n,
                                          d, eps);
    if (status != LMR_OK)
        return status;
    double *z = malloc(d * sizeof(double)); /* (d): one normalised row */
    if (z == NULL)
        return LMR_ENOMEM;
    for (size_t j = 0; j < d; j++)
        dgamma[j] = dbeta[j] = 0.0;
    for (size_t t = 0; t < n; t++) /* row t starts at t*d */
        backward_row(dx + t * d, dgamma, dbeta, z, x + t * d, gamma,
                     dY + t * d, d, eps);
    free(z);
    return LMR_OK;
}
