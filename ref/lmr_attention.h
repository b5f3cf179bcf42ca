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
#include "lmr_status.h"
#include "lmr_view.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The inputs of lmr_attention_weights: Q (n_q,d_k), K (n_k,d_k), key_mask
 * (n_k), each entry 0 or 1, or the empty view (no padding mask); causal.
 * n_q may be 0.
 * Errors, in this order: LMR_EINVAL (a view with elements and no data);
 * LMR_EDIM (d_k or n_k is 0, K.cols != Q.cols, a key_mask given whose
 * length is not n_k); LMR_EOVERFLOW (Q, K, or the (n_q,n_k) weights);
 * LMR_ENONFINITE (a NaN or infinity in Q, then in K); LMR_EDOMAIN (a
 * key_mask entry other than 0 or 1, then a row whose every key is masked,
 * as softmax rejects a row of only -inf).
 */
LMR_API
enum lmr_status lmr_attention_weights_check(lmr_mat Q, lmr_mat K,
                                            lmr_ids key_mask, int causal);

/*
 * weights[i,j] = softmax_j(S[i,:] + M[i,:]) with the scores
 * S[i,j] = (Q[i,:] . K[j,:]) / sqrt(d_k), and M[i,j] = -inf where key j is
 * masked for query i, else 0. Key j is masked when key_mask[j] = 0 (when
 * key_mask is given), or, when causal is non-zero, when
 * j > i + (n_k - n_q): the queries are the last n_q of the n_k positions
 * (bottom-right alignment). A masked key gets weight exactly 0.
 *
 * weights is (n_q,n_k); the inputs as lmr_attention_weights_check.
 *
 * Errors: those of lmr_attention_weights_check; then LMR_EINVAL (weights
 * with elements and no data), LMR_EDIM (weights not n_q x n_k); LMR_ERANGE
 * (an unmasked score overflows the double range). Nothing is written
 * unless LMR_OK.
 */
LMR_API
enum lmr_status lmr_attention_weights(lmr_mat_out weights, lmr_mat Q, lmr_mat K,
                                      lmr_ids key_mask, int causal);

/*
 * The backward of lmr_attention_weights (spec/gradients.md): with
 * G = dweights and A the forward weights, dS[i,j] = A[i,j] (G[i,j] - gbar_i),
 * gbar_i = sum_j A[i,j] G[i,j]; dQ = dS K / sqrt(d_k), dK = dS^T Q / sqrt(d_k).
 * The masks are not differentiated; G at a masked key is ignored.
 *
 * dQ is (n_q,d_k); dK is (n_k,d_k); dweights is (n_q,n_k); the rest as
 * lmr_attention_weights. Errors: those of lmr_attention_weights_check; then
 * dweights (LMR_EINVAL, LMR_EDIM for a shape other than n_q x n_k,
 * LMR_ENONFINITE); then LMR_EINVAL (dQ, dK), LMR_EDIM (dQ, dK not of the
 * shapes of Q, K); LMR_ENOMEM (the scratch copy of the weights), LMR_ERANGE
 * as the forward. Nothing is written unless LMR_OK.
 */
LMR_API
enum lmr_status lmr_attention_weights_backward(lmr_mat_out dQ, lmr_mat_out dK,
                                               lmr_mat Q, lmr_mat K,
                                               lmr_ids key_mask,
                                               lmr_mat dweights, int causal);

#ifdef __cplusplus
}
#endif

#endif
