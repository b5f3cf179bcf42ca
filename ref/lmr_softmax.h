/*
 * lmr_softmax.h -- softmax with temperature, log-softmax and cross-entropy
 * from logits (spec/softmax.md; vectors/softmax.json, log_softmax.json,
 * cross_entropy.json).
 *
 * Logits are finite or -inf (a masked entry); every row needs one finite
 * entry. +inf or NaN: LMR_ENONFINITE; a row of only -inf: LMR_EDOMAIN.
 * Arrays are views (spec/api.md): n and vocab come from logits. Problems are
 * reported in the order of spec/api.md#error-order.
 */
#ifndef LMR_SOFTMAX_H
#define LMR_SOFTMAX_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"
#include "lmr_status.h"
#include "lmr_view.h"

#ifdef __cplusplus
extern "C" {
#endif

/* PyTorch's default ignore_index for cross-entropy. */
#define LMR_DEFAULT_IGNORE_INDEX (-100)

enum lmr_reduction {
    LMR_REDUCE_NONE = 0, /* one loss per position, 0 where ignored */
    LMR_REDUCE_SUM = 1,  /* sum over counted positions */
    LMR_REDUCE_MEAN = 2  /* that sum over the number of counted positions */
};

/*
 * The inputs of lmr_softmax and lmr_log_softmax: logits (n,vocab), tau.
 * Errors, in this order: LMR_EINVAL (logits with elements and no data);
 * LMR_EDIM (vocab is 0); LMR_EOVERFLOW; tau NaN or infinite
 * (LMR_ENONFINITE), then tau <= 0 (LMR_EDOMAIN); a +inf or NaN logit
 * (LMR_ENONFINITE) or a row of only -inf (LMR_EDOMAIN), row by row.
 */
LMR_API
enum lmr_status lmr_softmax_check(lmr_mat logits, double tau);

/*
 * probs[t,i] = exp((u_i - a)/tau) / sum_j exp((u_j - a)/tau), a = max_j u_j,
 * for each row u = logits[t,:]. probs and logits are (n,vocab), may alias
 * (probs.data == logits.data).
 * Errors: those of lmr_softmax_check; then LMR_EINVAL (probs with elements
 * and no data), LMR_EDIM (probs not of logits' shape).
 */
LMR_API
enum lmr_status lmr_softmax(lmr_mat_out probs, lmr_mat logits, double tau);

/* logprobs[t,i] = (u_i - a)/tau - log sum_j exp((u_j - a)/tau); -inf for a
 * masked entry. Same shapes, aliasing and errors as lmr_softmax. */
LMR_API
enum lmr_status lmr_log_softmax(lmr_mat_out logprobs, lmr_mat logits,
                                double tau);

/*
 * The inputs of lmr_cross_entropy: logits (n,vocab), targets (n), the
 * reduction and ignore_index. Errors, in this order: LMR_EINVAL (logits or
 * targets with elements and no data); LMR_EDIM (vocab is 0, targets not of
 * length n); LMR_EOVERFLOW; LMR_EDOMAIN (an unknown reduction, then
 * ignore_index inside [0, vocab)); the logits' entries as in
 * lmr_softmax_check; LMR_EINDEX (a target outside [0, vocab) that is not
 * ignore_index).
 */
LMR_API
enum lmr_status lmr_cross_entropy_check(lmr_mat logits, lmr_ids targets,
                                        enum lmr_reduction reduction,
                                        int64_t ignore_index);

/*
 * Cross-entropy (natural log) of targets under softmax(logits):
 * loss_t = log sum_j exp(u_j - a) - (u_{c_t} - a). loss is (n) for
 * LMR_REDUCE_NONE and (1) otherwise; logits is (n,vocab); targets is (n).
 * A target equal to ignore_index is not counted (loss 0 under NONE); a mean
 * over no counted target is NaN; a masked target gives +inf.
 * Errors: those of lmr_cross_entropy_check; then LMR_EINVAL (loss with
 * elements and no data), LMR_EDIM (loss of another length).
 */
LMR_API
enum lmr_status lmr_cross_entropy(lmr_vec_out loss, lmr_mat logits,
                                  lmr_ids targets, enum lmr_reduction reduction,
                                  int64_t ignore_index);

#ifdef __cplusplus
}
#endif

#endif
