/*
 * lmr_grad_head.h -- the backward pass of the output side: the tied and
 * untied heads, softmax and log-softmax with temperature, cross-entropy
 * (spec/gradients.md; vectors/head_tied_backward.json, head_untied_backward,
 * softmax_backward, log_softmax_backward, cross_entropy_backward).
 *
 * Orientation as in lmr_head.h. Every function writes nothing unless it
 * returns LMR_OK. Errors as the forward op, plus LMR_ENONFINITE for a NaN or
 * infinite upstream gradient.
 */
#ifndef LMR_GRAD_HEAD_H
#define LMR_GRAD_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"
#include "lmr_softmax.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dh = dlogits E (n,d); dE = dlogits^T h (vocab,d).
 * h: (n,d); E: (vocab,d); dlogits: (n,vocab). */
LMR_API
int lmr_head_tied_backward(double *dh, double *dE, const double *h,
                           const double *E, const double *dlogits, size_t n,
                           size_t vocab, size_t d);

/* dh = dlogits W^T (n,d); dW = h^T dlogits (d,vocab); db = column sums of
 * dlogits (vocab). h: (n,d); W: (d,vocab); dlogits: (n,vocab). */
LMR_API
int lmr_head_untied_backward(double *dh, double *dW, double *db,
                             const double *h, const double *W,
                             const double *dlogits, size_t n, size_t vocab,
                             size_t d);

/* y = softmax(logits/tau); dlogits = y (dprobs - sum y dprobs)/tau (n,vocab);
 * *dtau = -sum dlogits * (logits - rowmax)/tau over the batch.
 * logits, dprobs: (n,vocab). */
LMR_API
int lmr_softmax_backward(double *dlogits, double *dtau, const double *logits,
                         const double *dprobs, size_t n, size_t vocab,
                         double tau);

/* dlogits = (G - y sum G)/tau with G = dlogprobs (n,vocab); *dtau as above.
 * LMR_EDOMAIN when G is non-zero at a masked (-inf) logit. */
LMR_API
int lmr_log_softmax_backward(double *dlogits, double *dtau,
                             const double *logits, const double *dlogprobs,
                             size_t n, size_t vocab, double tau);

/* dlogits[t,i] = w_t (y[t,i] - [i = targets[t]]) (n,vocab), w_t from dloss
 * and the reduction (spec/gradients.md#cross_entropy_backward); dloss has n
 * entries for LMR_REDUCE_NONE, else 1. LMR_EDOMAIN for a counted target whose
 * logit is -inf. */
LMR_API
int lmr_cross_entropy_backward(double *dlogits, const double *logits,
                               const int64_t *targets, const double *dloss,
                               size_t n, size_t vocab,
                               enum lmr_reduction reduction,
                               int64_t ignore_index);

#ifdef __cplusplus
}
#endif

#endif
