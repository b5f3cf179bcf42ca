/*
 * lmr_attention.c -- attention weights (spec/attention.md).
 *
 * Method: every argument is checked first, including that each row keeps
 * at least one key and that every unmasked score is finite (a first pass
 * over the scores, so that nothing is written on an error). Then each row
 * of weights is filled with its scores, -inf at the masked keys, and
 * passed through lmr_softmax in place with tau = 1: the row's largest
 * unmasked score is subtracted before exp, so scores of 1e3 or 1e300 do not
 * overflow, and a masked key gets exp(-inf) = 0 exactly.
 *
 * The backward recomputes the weights into a scratch array and applies
 * softmax's backward per row, then the two products with K and Q.
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

/* Sizes, pointers and counts. */
static int check_shapes(const double *weights, const double *Q,
                        const double *K, size_t n_q, size_t n_k, size_t d_k)
{
    size_t count;
    if (n_q > 0 && (weights == NULL || Q == NULL))
        return LMR_EINVAL;
    if (K == NULL)
        return LMR_EINVAL;
    if (d_k == 0 || n_k == 0)
        return LMR_EDIM;
    if (lmr_array_count(&count, n_q, d_k) != LMR_OK
        || lmr_array_count(&count, n_k, d_k) != LMR_OK
        || lmr_array_count(&count, n_q, n_k) != LMR_OK)
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

/* LMR_EDOMAIN if some row has every key masked, LMR_ERANGE if an unmasked
 * score is not finite. Q: (n_q,d_k); K: (n_k,d_k); key_mask: (n_k) or NULL */
static int check_rows(const double *Q, const double *K,
                      const int64_t *key_mask, size_t n_q, size_t n_k,
                      size_t d_k, int causal)
{
    for (size_t i = 0; i < n_q; i++) {
        size_t kept = 0;
        for (size_t j = 0; j < n_k; j++) {
            if (key_is_masked(key_mask, i, j, n_q, n_k, causal))
                continue;
            kept++;
            if (!isfinite(score(Q + i * d_k, K + j * d_k, d_k)))
                return LMR_ERANGE;
        }
        if (kept == 0)
            return LMR_EDOMAIN;
    }
    return LMR_OK;
}

int lmr_attention_weights(double *weights, const double *Q, const double *K,
                          const int64_t *key_mask, size_t n_q, size_t n_k,
                          size_t d_k, int causal)
{
    int status = check_shapes(weights, Q, K, n_q, n_k, d_k);
    if (status == LMR_OK)
        status = lmr_check_finite(Q, n_q * d_k);
    if (status == LMR_OK)
        status = lmr_check_finite(K, n_k * d_k);
    if (status == LMR_OK)
        status = check_key_mask(key_mask, n_k);
    if (status == LMR_OK)
        status = check_rows(Q, K, key_mask, n_q, n_k, d_k, causal);
    for (size_t i = 0; status == LMR_OK && i < n_q; i++) {
        double *row = weights + i * n_k; /* row i: the scores, then weights */
        for (size_t j = 0; j < n_k; j++)
            row[j] = key_is_masked(key_mask, i, j, n_q, n_k, causal)
                         ? -INFINITY
                         : score(Q + i * d_k, K + j * d_k, d_k);
        status = lmr_softmax(lmr_mat_out_of(row, 1, n_k), lmr_mat_of(row, 1, n_k),
                             1.0); /* in place */
    }
    return status;
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

int lmr_attention_weights_backward(double *dQ, double *dK, const double *Q,
                                   const double *K, const int64_t *key_mask,
                                   const double *dweights, size_t n_q,
                                   size_t n_k, size_t d_k, int causal)
{
    int status = check_shapes(dQ, Q, K, n_q, n_k, d_k);
    if (status == LMR_OK && (dK == NULL || (n_q > 0 && dweights == NULL)))
        status = LMR_EINVAL;
    if (status == LMR_OK)
        status = lmr_check_finite(dweights, n_q * n_k);
    if (status != LMR_OK)
        return status;
    double *A = malloc(n_q * n_k > 0 ? n_q * n_k * sizeof *A : 1);
    if (A == NULL)
        return LMR_ENOMEM;
    status = lmr_attention_weights(A, Q, K, key_mask, n_q, n_k, d_k, causal);
    if (status == LMR_OK) {
        double root = sqrt((double)d_k);
        if (n_q > 0)
            memset(dQ, 0, n_q * d_k * sizeof *dQ);
        memset(dK, 0, n_k * d_k * sizeof *dK);
        for (size_t i = 0; i < n_q; i++)
            backward_row(dQ, dK, A, dweights, Q, K, i, n_k, d_k);
        for (size_t k = 0; k < n_q * d_k; k++)
            dQ[k] /= root;
        for (size_t k = 0; k < n_k * d_k; k++)
            dK[k] /= root;
    }
    free(A);
    return status;
}
