/*
 * lmr_attention.h -- the weights of scaled dot-product attention,
 * softmax(Q K^T / sqrt(d_k) + M) row by row, with an optional causal mask
 * and an optional padding mask over the keys (spec/attention.md;
 * vectors/attention_weights.json).
 */
#ifndef LMR_ATTENTION_H
#define LMR_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * weights[i,j] = softmax_j(S[i,:] + M[i,:]) with the scores
 * S[i,j] = (Q[i,:] . K[j,:]) / sqrt(d_k), and M[i,j] = -inf where key j is
 * masked for query i, else 0. Key j is masked when key_mask[j] = 0 (when
 * key_mask is not NULL), or, when causal is non-zero, when
 * j > i + (n_k - n_q): the queries are the last n_q of the n_k positions
 * (bottom-right alignment). A masked key gets weight exactly 0.
 *
 * weights is (n_q,n_k); Q is (n_q,d_k); K is (n_k,d_k); key_mask is (n_k),
 * each entry 0 or 1, or NULL (no padding). n_q may be 0.
 *
 * Errors: LMR_EINVAL (a NULL array that must exist); LMR_EDIM (d_k or n_k
 * is 0); LMR_EOVERFLOW; LMR_ENONFINITE (a NaN or infinity in Q or K);
 * LMR_EDOMAIN (a key_mask entry other than 0 or 1, or a row whose every key
 * is masked, as softmax rejects a row of only -inf); LMR_ERANGE (an unmasked
 * score overflows the double range). Nothing is written unless LMR_OK.
 */
LMR_API
int lmr_attention_weights(double *weights, const double *Q, const double *K,
                          const int64_t *key_mask, size_t n_q, size_t n_k,
                          size_t d_k, int causal);

/*
 * The backward of lmr_attention_weights (spec/gradients.md): with
 * G = dweights and A the forward weights, dS[i,j] = A[i,j] (G[i,j] - gbar_i),
 * gbar_i = sum_j A[i,j] G[i,j]; dQ = dS K / sqrt(d_k), dK = dS^T Q / sqrt(d_k).
 * The masks are not differentiated; G at a masked key is ignored.
 *
 * dQ is (n_q,d_k); dK is (n_k,d_k); dweights is (n_q,n_k); the rest as
 * lmr_attention_weights. Errors: those of lmr_attention_weights;
 * LMR_ENONFINITE (a NaN or infinity in dweights); LMR_ENOMEM (the scratch
 * copy of the weights). Nothing is written unless LMR_OK.
 */
LMR_API
int lmr_attention_weights_backward(double *dQ, double *dK, const double *Q,
                                   const double *K, const int64_t *key_mask,
                                   const double *dweights, size_t n_q,
                                   size_t n_k, size_t d_k, int causal);

#ifdef __cplusplus
}
#endif

#endif
