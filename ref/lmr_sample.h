/*
 * lmr_sample.h -- choosing the next token: greedy argmax, and sampling with
 * temperature, top-k and top-p from a caller-supplied uniform number
 * (spec/sampling.md; vectors/argmax.json, sample.json).
 *
 * Arrays are views (spec/api.md): n and vocab come from logits. Problems are
 * reported in the order of spec/api.md#error-order.
 */
#ifndef LMR_SAMPLE_H
#define LMR_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"
#include "lmr_status.h"
#include "lmr_view.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The input of lmr_argmax: logits (n,vocab), n may be 0.
 * Errors, in this order: LMR_EINVAL (logits with elements and no data);
 * LMR_EDIM (vocab is 0); LMR_EOVERFLOW; LMR_ENONFINITE (+inf or NaN) then
 * LMR_EDOMAIN (a row of only -inf), as lmr_softmax rejects them.
 */
LMR_API
enum lmr_status lmr_argmax_check(lmr_mat logits);

/*
 * token[t] = the smallest i with logits[t,i] maximal (lowest index wins a tie).
 * token is (n), logits is (n,vocab).
 * Errors: those of lmr_argmax_check; then LMR_EINVAL (token with elements
 * and no data), LMR_EDIM (token.len != n).
 */
LMR_API
enum lmr_status lmr_argmax(lmr_ids_out token, lmr_mat logits);

/*
 * The inputs and parameters of lmr_sample: logits (n,vocab), r (n).
 * Errors, in this order: LMR_EINVAL (logits or r with elements and no
 * data); LMR_EDIM (vocab is 0, r.len != n); LMR_EOVERFLOW; tau
 * (LMR_ENONFINITE, LMR_EDOMAIN for tau <= 0), top_k (LMR_EDOMAIN for
 * top_k < 0), top_p (LMR_ENONFINITE, LMR_EDOMAIN outside (0, 1]); the
 * logits as lmr_argmax_check; r (LMR_ENONFINITE, LMR_EDOMAIN outside [0, 1)).
 */
LMR_API
enum lmr_status lmr_sample_check(lmr_mat logits, lmr_vec r, double tau,
                                 int64_t top_k, double top_p);

/*
 * For each row: p = softmax(u/tau); keep the top_k largest (ties: lower index
 * first; 0 = no top-k); then the shortest prefix of the kept tokens, in the
 * same order, whose renormalised cumulative probability is >= top_p (1 = no
 * top-p); probs[t,:] = p renormalised over the kept tokens, 0 elsewhere;
 * token[t] = the smallest i with r[t] < sum_{j<=i} probs[t,j].
 * probs and logits are (n,vocab); r and token are (n).
 * Errors: those of lmr_sample_check; then LMR_EINVAL (probs, token), LMR_EDIM
 * (probs not n x vocab, token.len != n); LMR_ENOMEM (it allocates one work
 * array of vocab entries).
 */
LMR_API
enum lmr_status lmr_sample(lmr_mat_out probs, lmr_ids_out token, lmr_mat logits,
                           lmr_vec r, double tau, int64_t top_k, double top_p);

#ifdef __cplusplus
}
#endif

#endif
