/*
 * lmr_variants.h -- head variants between full tying and none: partial,
 * transformed and adaptive tying, the MLP head, two mixtures of softmaxes,
 * and the soft-tying regulariser (spec/variants.md; vectors/head_partial.json,
 * head_transformed.json, head_adaptive.json, head_mlp.json, mos_fixed.json,
 * mos_gated.json, soft_tie_loss.json).
 *
 * Orientation as in lmr_head.h: h is (n,d), E is (vocab,d), an output matrix
 * is (d,vocab). Every function writes nothing unless it returns LMR_OK, and
 * may return LMR_ENOMEM (they allocate scratch arrays).
 */
#ifndef LMR_VARIANTS_H
#define LMR_VARIANTS_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"
#include "lmr_softmax.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Partial tying: logits[t,v] = h[t,:] . E[v,:] for v < k, and
 * h[t,:] . F[:,v-k] for v >= k. F is (d, vocab-k), may be NULL when k = vocab.
 * logits is (n,vocab). Errors: those of lmr_head_tied; LMR_EDOMAIN (k > vocab).
 */
LMR_API
int lmr_head_partial(double *logits, const double *h, const double *E,
                     const double *F, size_t n, size_t vocab, size_t d,
                     size_t k);

/* Transformed tying: logits = h T E^T with T (d,d), computed as (h T) E^T.
 * logits is (n,vocab). Errors: those of lmr_head_tied, and for T. */
LMR_API
int lmr_head_transformed(double *logits, const double *h, const double *T,
                         const double *E, size_t n, size_t vocab, size_t d);

/* Adaptive tying: logits = alpha h E^T + (1 - alpha) h F, F (d,vocab),
 * 0 <= alpha <= 1. logits is (n,vocab). Errors: those of the two heads;
 * LMR_EDOMAIN (alpha outside [0,1]); LMR_ENONFINITE (alpha NaN). */
LMR_API
int lmr_head_adaptive(double *logits, const double *h, const double *E,
                      const double *F, double alpha, size_t n, size_t vocab,
                      size_t d);

/*
 * MLP head: logits = ReLU(h W1 + b1) W2 + b2. W1 is (d,m), b1 (m) or NULL;
 * W2 is (m,vocab), or NULL for the tied form W2 = E^T (E (vocab,d), m = d);
 * b2 (vocab) or NULL. logits is (n,vocab).
 * Errors: those of the heads; LMR_EDIM (tied form with m != d, or m = 0).
 */
LMR_API
int lmr_head_mlp(double *logits, const double *h, const double *W1,
                 const double *b1, const double *W2, const double *E,
                 const double *b2, size_t n, size_t vocab, size_t d, size_t m);

/*
 * Mixture of softmaxes with fixed weights: probs = sum_k abar_k softmax(h W_k)
 * with abar = alpha / sum(alpha); logprobs = its logarithm, mixed in log space.
 * W is (K,d,vocab), alpha (K); probs and logprobs are (n,vocab).
 * Errors: those of lmr_head_untied; LMR_EDIM (K = 0); LMR_EDOMAIN (a negative
 * weight, or all zero); LMR_ENONFINITE (a weight NaN or infinite).
 */
LMR_API
int lmr_mos_fixed(double *probs, double *logprobs, const double *h,
                  const double *W, const double *alpha, size_t n,
                  size_t vocab, size_t d, size_t K);

/*
 * Mixture of softmaxes of Yang et al. (2018): pi = softmax(h W_pi),
 * g_k = tanh(h W_k + b_k), probs = sum_k pi_k softmax(g_k W_out + b_out),
 * with W_out = E^T when W_out is NULL. W_pi is (d,K), W_comp (K,d,d), b_comp
 * (K,d), W_out (d,vocab), E (vocab,d), b_out (vocab) or NULL; probs and
 * logprobs are (n,vocab). Errors: those of the heads; LMR_EDIM (K = 0).
 */
LMR_API
int lmr_mos_gated(double *probs, double *logprobs, const double *h,
                  const double *W_pi, const double *W_comp,
                  const double *b_comp, const double *W_out, const double *E,
                  const double *b_out, size_t n, size_t vocab, size_t d,
                  size_t K);

/* The three outputs of the soft-tying regulariser. */
typedef struct {
    double loss;          /* cross_entropy + lambda * penalty */
    double cross_entropy; /* of softmax(h W) against the targets */
    double penalty;       /* ||E - W^T||_F^2, a plain sum of squares */
} lmr_soft_tie;

/*
 * L = CE(h W, targets) + lambda ||E - W^T||_F^2 with the cross-entropy's
 * reduction (NONE is not allowed: the loss is a scalar) and ignore_index.
 * h is (n,d), E (vocab,d), W (d,vocab), targets (n).
 * Errors: those of lmr_head_untied and lmr_cross_entropy; LMR_EDOMAIN
 * (lambda < 0, or reduction NONE); LMR_ENONFINITE (lambda NaN or infinite).
 */
LMR_API
int lmr_soft_tie_loss(lmr_soft_tie *out, const double *h, const double *E,
                      const double *W, const int64_t *targets, size_t n,
                      size_t vocab, size_t d, double lambda,
                      enum lmr_reduction reduction, int64_t ignore_index);

#ifdef __cplusplus
}
#endif

#endif
