/*
 * lmr_softmax.h -- softmax with temperature, log-softmax and cross-entropy
 * from logits (spec/softmax.md; vectors/softmax.json, log_softmax.json,
 * cross_entropy.json).
 *
 * Logits are finite or -inf (a masked entry); every row needs one finite
 * entry. +inf or NaN: LMR_ENONFINITE; a row of only -inf: LMR_EDOMAIN.
 */
#ifndef LMR_SOFTMAX_H
#define LMR_SOFTMAX_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"

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
 * probs[t,i] = exp((u_i - a)/tau) / sum_j exp((u_j - a)/tau), a = max_j u_j,
 * for each row u = logits[t,:]. probs and logits are (n,vocab), may alias.
 * Errors: LMR_EDIM (vocab is 0), LMR_EOVERFLOW, LMR_ENONFINITE (tau or a
 * logit is NaN or infinite, -inf logits excepted), LMR_EDOMAIN (tau <= 0, or
 * a row of only -inf), LMR_EINVAL (NULL array).
 */
LMR_API
int lmr_softmax(double *probs, const double *logits, size_t n, size_t vocab,
                double tau);

/* logprobs[t,i] = (u_i - a)/tau - log sum_j exp((u_j - a)/tau); -inf for a
 * masked entry. Same shapes and errors as lmr_softmax. */
LMR_API
int lmr_log_softmax(double *logprobs, const double *logits, size_t n,
                    size_t vocab, double tau);

/*
 * Cross-entropy (natural log) of targets under softmax(logits):
 * loss_t = log sum_j exp(u_j - a) - (u_{c_t} - a). loss is (n) for
 * LMR_REDUCE_NONE and (1) otherwise; logits is (n,vocab); targets is (n).
 * A target equal to ignore_index is not counted (loss 0 under NONE); a mean
 * over no counted target is NaN; a masked target gives +inf.
 * Errors: those of lmr_softmax; LMR_EINDEX (a target outside [0, vocab) that
 * is not ignore_index); LMR_EDOMAIN (ignore_index inside [0, vocab), or an
 * unknown reduction).
 */
LMR_API
int lmr_cross_entropy(double *loss, const double *logits,
                      const int64_t *targets, size_t n, size_t vocab,
                      enum lmr_reduction reduction, int64_t ignore_index);

#ifdef __cplusplus
}
#endif

#endif
