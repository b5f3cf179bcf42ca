/*
 * lmr_grad_head.h -- the backward pass of the output side: the tied and
 * untied heads, softmax and log-softmax with temperature, cross-entropy
 * (spec/gradients.md; vectors/head_tied_backward.json, head_untied_backward,
 * softmax_backward, log_softmax_backward, cross_entropy_backward).
 *
 * Orientation as in lmr_head.h; arrays are views (spec/api.md). Every
 * function writes nothing unless it returns LMR_OK. Each calls the check of
 * its forward op (lmr_head_tied_check, ...), then checks its upstream
 * gradient -- LMR_EINVAL (elements and no data), LMR_EDIM (not the shape
 * named below), LMR_ENONFINITE (a NaN or infinite entry) -- then its
 * outputs -- LMR_EINVAL, then LMR_EDIM (not the shape named below); then
 * LMR_ENOMEM (spec/api.md#error-order).
 */
#ifndef LMR_GRAD_HEAD_H
#define LMR_GRAD_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"
#include "lmr_head.h"
#include "lmr_softmax.h"
#include "lmr_status.h"
#include "lmr_view.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dh = dlogits E (n,d); dE = dlogits^T h (vocab,d).
 * h: (n,d); E: (vocab,d); dlogits: (n,vocab). Check: lmr_head_tied_check. */
LMR_API
enum lmr_status lmr_head_tied_backward(lmr_mat_out dh, lmr_mat_out dE,
                                       lmr_mat h, lmr_mat E, lmr_mat dlogits);

/* dh = dlogits W^T (n,d); dW = h^T dlogits (d,vocab); db = column sums of
 * dlogits (vocab), or the empty view when the bias's gradient is not
 * wanted. h: (n,d); W: (d,vocab); dlogits: (n,vocab).
 * Check: lmr_head_untied_check with no bias. */
LMR_API
enum lmr_status lmr_head_untied_backward(lmr_mat_out dh, lmr_mat_out dW,
                                         lmr_vec_out db, lmr_mat h, lmr_mat W,
                                         lmr_mat dlogits);

/* y = softmax(logits/tau); dlogits = y (dprobs - sum y dprobs)/tau (n,vocab);
 * *dtau = -sum dlogits * (logits - rowmax)/tau over the batch (an output:
 * LMR_EINVAL when NULL). logits, dprobs: (n,vocab).
 * Check: lmr_softmax_check. */
LMR_API
enum lmr_status lmr_softmax_backward(lmr_mat_out dlogits, double *dtau,
                                     lmr_mat logits, lmr_mat dprobs,
                                     double tau);

/* dlogits = (G - y sum G)/tau with G = dlogprobs (n,vocab); *dtau as above.
 * LMR_EDOMAIN when G is non-zero at a masked (-inf) logit, after G's other
 * checks and before the outputs'. Check: lmr_softmax_check. */
LMR_API
enum lmr_status lmr_log_softmax_backward(lmr_mat_out dlogits, double *dtau,
                                         lmr_mat logits, lmr_mat dlogprobs,
                                         double tau);

/* dlogits[t,i] = w_t (y[t,i] - [i = targets[t]]) (n,vocab), w_t from dloss
 * and the reduction (spec/gradients.md#cross_entropy_backward); logits
 * (n,vocab), targets (n); dloss has n entries for LMR_REDUCE_NONE, else 1.
 * Check: lmr_cross_entropy_check. LMR_EDOMAIN for a counted target whose
 * logit is -inf (the loss is infinite), after dloss's checks and before the
 * output's. */
LMR_API
enum lmr_status lmr_cross_entropy_backward(lmr_mat_out dlogits, lmr_mat logits,
                                           lmr_ids targets, lmr_vec dloss,
                                           enum lmr_reduction reduction,
                                           int64_t ignore_index);

#ifdef __cplusplus
}
#endif

#endif
