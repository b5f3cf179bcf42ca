/*
 * lmr_sample.h -- choosing the next token: greedy argmax, and sampling with
 * temperature, top-k and top-p from a caller-supplied uniform number
 * (spec/sampling.md; vectors/argmax.json, sample.json).
 */
#ifndef LMR_SAMPLE_H
#define LMR_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * token[t] = the smallest i with logits[t,i] maximal (lowest index wins a tie).
 * token is (n), logits is (n,vocab).
 * Errors: those of lmr_softmax for the logits.
 */
LMR_API
int lmr_argmax(int64_t *token, const double *logits, size_t n, size_t vocab);

/*
 * For each row: p = softmax(u/tau); keep the top_k largest (ties: lower index
 * first; 0 = no top-k); then the shortest prefix of the kept tokens, in the
 * same order, whose renormalised cumulative probability is >= top_p (1 = no
 * top-p); probs[t,:] = p renormalised over the kept tokens, 0 elsewhere;
 * token[t] = the smallest i with r[t] < sum_{j<=i} probs[t,j].
 * probs and logits are (n,vocab); r and token are (n).
 * Errors: those of lmr_softmax; LMR_EDOMAIN (top_k < 0, top_p outside
 * (0, 1], r outside [0, 1)); LMR_ENONFINITE (top_p or r NaN or infinite);
 * LMR_ENOMEM (it allocates one work array of vocab entries).
 */
LMR_API
int lmr_sample(double *probs, int64_t *token, const double *logits,
               const double *r, size_t n, size_t vocab, double tau,
               int64_t top_k, double top_p);

#ifdef __cplusplus
}
#endif

#endif
