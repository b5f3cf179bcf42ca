/*
 * oracle_attention.h -- the oracle of spec/attention.md: the attention
 * weights softmax(Q K^T / sqrt(d_k) + M) and their scales
 * (spec/tolerance.md#attention_weights). Contract of every function: that
 * of tools/oracle/oracle.h.
 */
#ifndef LMR_ORACLE_ATTENTION_H
#define LMR_ORACLE_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

/* spec/attention.md#attention_weights: weights[i,j] = softmax over j of
 * S[i,j] = Q[i,:].K[j,:]/sqrt(d_k), with key j masked (weight 0, scale 0)
 * when key_mask[j] = 0 or, with causal, when j > i + n_k - n_q. Returns -1
 * for input the spec calls invalid (d_k or n_k zero, a non-finite entry,
 * a key_mask entry other than 0 and 1, a row whose every key is masked) or
 * when memory runs out.
 * weights, scale: (n_q, n_k); Q: (n_q, d_k); K: (n_k, d_k);
 * key_mask: (n_k) or NULL (no padding) */
int oracle_attention_weights(double *weights, double *scale, double *k,
                             const double *Q, const double *K,
                             const int64_t *key_mask, size_t n_q, size_t n_k,
                             size_t d_k, int causal);

#endif
