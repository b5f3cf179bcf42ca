/*
 * lmr_attention.c -- attention weights (spec/attention.md).
 *
 * Method: every argument is checked first, including that each row keeps
 * at least one key; then a first pass over the scores checks that every
 * unmasked one is finite, so that nothing is written on an error. Then each row
 * of weights is filled with its scores, -inf at the masked keys, and
 * passed through lmr_softmax in place with tau = 1: the row's largest
 * unmasked score is subtracted before exp, so scores of 1e3 or 1e300 do not
 * overflow, and a masked key gets exp(-inf) = 0 exactly.
 *
 * The backward checks as the forward (one check, lmr_attention_weights_check),
 * computes the weights into a scratch array through the same helper and
 * applies softmax's backward per row, then the two products with K and Q.
 *
 * Accuracy: spec/tolerance.md#attention_weights (the backward:
 * spec/tolerance.md#gradients).
 */
#include "lmr_attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lmr_check.h"
#include "lmr_softmax.h"
#include "lmr_status.h"

/* 1 if key j is masked for query i (see lmr_attention_weights).
 * key_mask: (n_k) or NULL */
static int key_is_masked(const int64_t *key_mask, size_t i, size_t j,
                         size_t n_q, size_t n_k, int causal)
{
    if (key_mask != NULL && key_mask[j] == 0)
        return 1;
    /* j > i + (n_k - n_q), written without a negative size_t */
    return causal && j + n_q > i + n_k;
}

/* The score S[i,j] = (q . k) / sqrt(d_k). q, k: (d_k) */
static double score(const double *q, const double *k, size_t d_k)
{
    double dot = 0.0;
    for (size_t l = 0; l < d_k; l++)
        dot += q[l] * k[l];
    return dot / sqrt((double)d_k);
}

/* The key_mask's entries, or NULL when it is absent (the empty view). */
static const int64_t *mask_entries(lmr_ids key_mask)
{
    return key_mask.len > 0 ? key_mask.data : NULL;
}

/* LMR_EINVAL, LMR_EDIM and LMR_EOVERFLOW for the inputs. */
static int check_shapes(lmr_mat Q, lmr_mat K, lmr_ids key_mask)
{
    size_t d_k = Q.cols, n_k = K.rows;
    if (lmr_mat_missing(Q) || lmr_mat_missing(K) || lmr_ids_missing(key_mask))
        return LMR_EINVAL;
    if (d_k == 0 || n_k == 0 || K.cols != d_k ||
        (key_mask.len > 0 && key_mask.len != n_k))
        return LMR_EDIM;
    if (lmr_mat_too_big(Q) || lmr_mat_too_big(K) ||
        lmr_mat_too_big(lmr_mat_of(NULL, Q.rows, n_k)))
        return LMR_EOVERFLOW;
    return LMR_OK;
}

/* LMR_EDOMAIN if a key_mask entry is not 0 or 1. key_mask: (n_k) or NULL */
static int check_key_mask(const int64_t *key_mask, size_t n_k)
{
    for (size_t j = 0; key_mask != NULL && j < n_k; j++)
        if (key_mask[j] != 0 && key_mask[j] != 1)
            return LMR_EDOMAIN;
    return LMR_OK;
}

/* LMR_EDOMAIN if some row of the n_q queries has every one of the n_k keys
 * masked. key_mask: (n_k) or NULL */
static int check_rows_keep_a_key(const int64_t *key_mask, size_t n_q,
                                 size_t n_k, int causal)
{
    for (size_t i = 0; i < n_q; i++) {
        size_t kept = 0;
        for (size_t j = 0; j < n_k; j++)
            kept += !key_is_masked(key_mask, i, j, n_q, n_k, causal);
        if (kept == 0)
            return LMR_EDOMAIN;
    }
    return LMR_OK;
}

enum lmr_status lmr_attention_weights_check(lmr_mat Q, lmr_mat K,
                                            lmr_ids key_mask, int causal)
{
    const int64_t *mask = mask_entries(key_mask);
    int status = check_shapes(Q, K, key_mask);
    if (status == LMR_OK)
        status = lmr_check_finite_mat(Q);
    if (status == LMR_OK)
        status = lmr_check_finite_mat(K);
    if (status == LMR_OK)
        status = check_key_mask(mask, K.rows);
    if (status == LMR_OK)
        status = check_rows_keep_a_key(mask, Q.rows, K.rows, causal);
    return (enum lmr_status)status;
}

/* LMR_ERANGE if an unmasked score is not finite.
 * Q: (n_q,d_k); K: (n_k,d_k); key_mask: (n_k) or NULL */
static int check_scores(const double *Q, const double *K,
                        const int64_t *key_mask, size_t n_q, size_t n_k,
                        size_t d_k, int causal)
{
    for (size_t i = 0; i < n_q; i++)
        for (size_t j = 0; j < n_k; j++)
            if (!key_is_masked(key_mask, i, j, n_q, n_k, causal) &&
                !isfinite(score(Q + i * d_k, K + j * d_k, d_k)))
                return LMR_ERANGE;
    return LMR_OK;
}

/* The weights (n_q,n_k) of checked inputs: LMR_ERANGE before anything is
 * written if an unmasked score overflows. */
static int compute_weights(double *weights, lmr_mat Q, lmr_mat K,
                           const int64_t *key_mask, int causal)
{
    size_t n_q = Q.rows, n_k = K.rows, d_k = Q.cols;
    int status = check_scores(Q.data, K.data, key_mask, n_q, n_k, d_k, causal);
    for (size_t i = 0; status == LMR_OK && i < n_q; i++) {
        double *row = weights + i * n_k; /* row i: the scores, then weights */
        for (size_t j = 0; j < n_k; j++)
            row[j] = key_is_masked(key_mask, i, j, n_q, n_k, causal)
                         ? -INFINITY
                         : score(Q.data + i * d_k, K.data + j * d_k, d_k);
        /* in place */
        status = lmr_softmax(lmr_mat_out_of(row, 1, n_k),
                             lmr_mat_of(row, 1, n_k), 1.0);
    }
    return status;
}

enum lmr_status lmr_attention_weights(lmr_mat_out weights, lmr_mat Q, lmr_mat K,
                                      lmr_ids key_mask, int causal)
{
    int status = lmr_attention_weights_check(Q, K, key_mask, causal);
    if (status == LMR_OK && lmr_mat_out_missing(weights))
        status = LMR_EINVAL;
    if (status == LMR_OK && (weights.rows != Q.rows || weights.cols != K.rows))
        status = LMR_EDIM;
    if (status == LMR_OK)
        status = compute_weights(weights.data, Q, K, mask_entries(key_mask),
                                 causal);
    return (enum lmr_status)status;
}

/* Adds row i of dS = A (G - gbar) times K to dQ[i,:] and times Q[i,:] to
 * dK. A, G: (n_q,n_k); Q, dQ: (n_q,d_k); K, dK: (n_k,d_k) */
static void backward_row(double *dQ, double *dK, const double *A,
                         const double *G, const double *Q, const double *K,
                         size_t i, size_t n_k, size_t d_k)
{
    const double *a = A + i * n_k, *g = G + i * n_k; /* row i */
    double gbar = 0.0;
    for (size_t j = 0; j < n_k; j++)
        gbar += a[j] * g[j];
    for (size_t j = 0; j < n_k; j++) {
        double ds = a[j] * (g[j] - gbar); /* 0 at a masked key (a = 0) */
        if (ds == 0.0)
            continue;
        for (size_t l = 0; l < d_k; l++) {
            dQ[i * d_k + l] += ds * K[j * d_k + l];
            dK[j * d_k + l] += ds * Q[i * d_k + l];
        }
    }
}

/* LMR_EINVAL, LMR_EDIM, LMR_ENONFINITE for dweights (n_q,n_k), then
 * LMR_EINVAL and LMR_EDIM for dQ (n_q,d_k) and dK (n_k,d_k). */
static int check_backward(lmr_mat_out dQ, lmr_mat_out dK, lmr_mat Q, lmr_mat K,
                          lmr_mat dweights)
{
    if (lmr_mat_missing(dweights))
        return LMR_EINVAL;
    if (dweights.rows != Q.rows || dweights.cols != K.rows)
        return LMR_EDIM;
    if (lmr_check_finite_mat(dweights) != LMR_OK)
        return LMR_ENONFINITE;
    if (lmr_mat_out_missing(dQ) || lmr_mat_out_missing(dK))
        return LMR_EINVAL;
    if (dQ.rows != Q.rows || dQ.cols != Q.cols || dK.rows != K.rows ||
        dK.cols != K.cols)
        return LMR_EDIM;
    return LMR_OK;
}

enum lmr_status lmr_attention_weights_backward(lmr_mat_out dQ, lmr_mat_out dK,
                                               lmr_mat Q, lmr_mat K,
                                               lmr_ids key_mask,
                                               lmr_mat dweights, int causal)
{
    int status = lmr_attention_weights_check(Q, K, key_mask, causal);
    if (status == LMR_OK)
        status = check_backward(dQ, dK, Q, K, dweights);
    if (status != LMR_OK)
        return (enum lmr_status)status;
    size_t n_q = Q.rows, n_k = K.rows, d_k = Q.cols;
    double *A = malloc(n_q * n_k > 0 ? n_q * n_k * sizeof *A : 1);
    if (A == NULL)
        return LMR_ENOMEM;
    status = compute_weights(A, Q, K, mask_entries(key_mask), causal);
    if (status == LMR_OK) {
        double root = sqrt((double)d_k);
        if (n_q > 0)
            memset(dQ.data, 0, n_q * d_k * sizeof *dQ.data);
        memset(dK.data, 0, n_k * d_k * sizeof *dK.data);
        for (size_t i = 0; i < n_q; i++)
            backward_row(dQ.data, dK.data, A, dweights.data, Q.data, K.data, i,
                         n_k, d_k);
        for (size_t k = 0; k < n_q * d_k; k++)
            dQ.data[k] /= root;
        for (size_t k = 0; k < n_k * d_k; k++)
            dK.data[k] /= root;
    }
    free(A);
    return (enum lmr_status)status;
}
