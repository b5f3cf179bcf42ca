/*
 * lmr_variants.h -- head variants between full tying and none: partial,
 * transformed and adaptive tying, the MLP head, two mixtures of softmaxes,
 * and the soft-tying regulariser (spec/variants.md; vectors/head_partial.json,
 * head_transformed.json, head_adaptive.json, head_mlp.json, mos_fixed.json,
 * mos_gated.json, soft_tie_loss.json).
 *
 * Orientation as in lmr_head.h: h is (n,d), E is (vocab,d), an output matrix
 * is (d,vocab). Arrays are views (lmr_view.h, spec/api.md): n, d and vocab
 * come from the views, which must agree (LMR_EDIM otherwise). Each op has a
 * check, lmr_<op>_check, which reports the first problem of its inputs and
 * parameters in the order of spec/api.md#error-order; the op calls it, then
 * checks its outputs (LMR_EINVAL, then LMR_EDIM). Every function writes
 * nothing unless it returns LMR_OK, and may return LMR_ENOMEM (they allocate
 * scratch arrays).
 */
#ifndef LMR_VARIANTS_H
#define LMR_VARIANTS_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"
#include "lmr_softmax.h"
#include "lmr_status.h"
#include "lmr_view.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Partial tying: logits[t,v] = h[t,:] . E[v,:] for v < k, and
 * h[t,:] . F[:,v-k] for v >= k. h (n,d), E (vocab,d), F (d, vocab-k): when
 * k = vocab, F has no columns and may be the empty view. logits (n,vocab).
 * The check: LMR_EINVAL (a view without data), LMR_EDIM (d or vocab 0, E not
 * (vocab,d), F not (d,vocab-k) -- F is measured only when k is in range),
 * LMR_EOVERFLOW, LMR_EDOMAIN (k < 0 or k > vocab), LMR_ENONFINITE (h, every
 * row of E including those past k, F).
 */
LMR_API
enum lmr_status lmr_head_partial_check(lmr_mat h, lmr_mat E, lmr_mat F,
                                       int64_t k);
LMR_API
enum lmr_status lmr_head_partial(lmr_mat_out logits, lmr_mat h, lmr_mat E,
                                 lmr_mat F, int64_t k);

/* Transformed tying: logits = h T E^T with T (d,d), computed as (h T) E^T.
 * h (n,d), E (vocab,d), logits (n,vocab). The check: LMR_EINVAL, LMR_EDIM
 * (d or vocab 0, T not (d,d), E not (vocab,d)), LMR_EOVERFLOW,
 * LMR_ENONFINITE (h, T, E). */
LMR_API
enum lmr_status lmr_head_transformed_check(lmr_mat h, lmr_mat T, lmr_mat E);
LMR_API
enum lmr_status lmr_head_transformed(lmr_mat_out logits, lmr_mat h, lmr_mat T,
                                     lmr_mat E);

/* Adaptive tying: logits = alpha h E^T + (1 - alpha) h F, h (n,d),
 * E (vocab,d), F (d,vocab), 0 <= alpha <= 1; logits (n,vocab). The check:
 * LMR_EINVAL, LMR_EDIM (d or vocab 0, E or F of another shape),
 * LMR_EOVERFLOW, LMR_ENONFINITE (alpha NaN), LMR_EDOMAIN (alpha outside
 * [0,1]), LMR_ENONFINITE (h, E, F). */
LMR_API
enum lmr_status lmr_head_adaptive_check(lmr_mat h, lmr_mat E, lmr_mat F,
                                        double alpha);
LMR_API
enum lmr_status lmr_head_adaptive(lmr_mat_out logits, lmr_mat h, lmr_mat E,
                                  lmr_mat F, double alpha);

/* The weights of the MLP head. The tied form, W2 = E^T, is the one with an
 * empty W2 (no elements, e.g. lmr_mat_of(NULL, 0, 0)): then E is read and
 * m must equal d. In the untied form E is not read. */
typedef struct {
    lmr_mat W1; /* (d,m) */
    lmr_vec b1; /* (m), or lmr_vec_absent() */
    lmr_mat W2; /* (m,vocab); empty for the tied form */
    lmr_mat E;  /* (vocab,d), the tied form only */
    lmr_vec b2; /* (vocab), or lmr_vec_absent() */
} lmr_head_mlp_weights;

/*
 * MLP head: logits = ReLU(h W1 + b1) W2 + b2, h (n,d), logits (n,vocab);
 * vocab is W2.cols (untied) or E.rows (tied). The check: LMR_EINVAL (weights
 * NULL, a view without data), LMR_EDIM (d, m or vocab 0; W1 not (d,m); W2
 * not (m,vocab); E not (vocab,d) or m != d in the tied form; a present bias
 * of another length), LMR_EOVERFLOW, LMR_ENONFINITE (h, W1, b1, W2 or E,
 * b2).
 */
LMR_API
enum lmr_status lmr_head_mlp_check(lmr_mat h,
                                   const lmr_head_mlp_weights *weights);
LMR_API
enum lmr_status lmr_head_mlp(lmr_mat_out logits, lmr_mat h,
                             const lmr_head_mlp_weights *weights);

/*
 * Mixture of softmaxes with fixed weights: probs = sum_k abar_k softmax(h W_k)
 * with abar = alpha / sum(alpha); logprobs = its logarithm, mixed in log space.
 * h (n,d), W (K,d,vocab), alpha (K); probs and logprobs are (n,vocab).
 * The check: LMR_EINVAL, LMR_EDIM (K, d or vocab 0; W.rows != d; alpha not
 * of length K), LMR_EOVERFLOW, LMR_ENONFINITE (h, W, then a weight NaN or
 * infinite), LMR_EDOMAIN (a negative weight, or all zero).
 */
LMR_API
enum lmr_status lmr_mos_fixed_check(lmr_mat h, lmr_stack W, lmr_vec alpha);
LMR_API
enum lmr_status lmr_mos_fixed(lmr_mat_out probs, lmr_mat_out logprobs,
                              lmr_mat h, lmr_stack W, lmr_vec alpha);

/* The parameters of the gated mixture; K = W_pi.cols. The tied form,
 * W_out = E^T, is the one with an empty W_out: then E is read. (Not called
 * lmr_mos_gated_weights: that is the function of lmr_intermediates.h that
 * returns the mixture weights.) */
typedef struct {
    lmr_mat W_pi;     /* (d,K) */
    lmr_stack W_comp; /* (K,d,d) */
    lmr_mat b_comp;   /* (K,d) */
    lmr_mat W_out;    /* (d,vocab); empty for the tied form */
    lmr_mat E;        /* (vocab,d), the tied form only */
    lmr_vec b_out;    /* (vocab), or lmr_vec_absent() */
} lmr_mos_gated_params;

/*
 * Mixture of softmaxes of Yang et al. (2018): pi = softmax(h W_pi),
 * g_k = tanh(h W_k + b_k), probs = sum_k pi_k softmax(g_k W_out + b_out),
 * h (n,d); probs and logprobs are (n,vocab). The check: LMR_EINVAL (params
 * NULL, a view without data), LMR_EDIM (K, d or vocab 0; a weight of another
 * shape), LMR_EOVERFLOW, LMR_ENONFINITE (h, W_pi, W_comp, b_comp, W_out or
 * E, b_out).
 */
LMR_API
enum lmr_status lmr_mos_gated_check(lmr_mat h,
                                    const lmr_mos_gated_params *params);
LMR_API
enum lmr_status lmr_mos_gated(lmr_mat_out probs, lmr_mat_out logprobs,
                              lmr_mat h, const lmr_mos_gated_params *params);

/* The three outputs of the soft-tying regulariser. */
typedef struct {
    double loss;          /* cross_entropy + lambda * penalty */
    double cross_entropy; /* of softmax(h W) against the targets */
    double penalty;       /* ||E - W^T||_F^2, a plain sum of squares */
} lmr_soft_tie;

/* The two matrices the soft-tying penalty pulls together. */
typedef struct {
    lmr_mat E; /* (vocab,d) */
    lmr_mat W; /* (d,vocab) */
} lmr_soft_tie_weights;

/*
 * L = CE(h W, targets) + lambda ||E - W^T||_F^2 with the cross-entropy's
 * reduction (NONE is not allowed: the loss is a scalar) and ignore_index.
 * h (n,d), targets (n). The check: LMR_EINVAL (weights NULL, a view without
 * data), LMR_EDIM (d or vocab 0, E, W or targets of another shape),
 * LMR_EOVERFLOW, LMR_ENONFINITE (lambda NaN or infinite), LMR_EDOMAIN
 * (lambda < 0; reduction NONE or unknown; ignore_index inside [0, vocab)),
 * LMR_ENONFINITE (h, E, W), LMR_EINDEX (a target outside [0, vocab) that is
 * not ignore_index). The op: out NULL is LMR_EINVAL.
 */
LMR_API
enum lmr_status lmr_soft_tie_loss_check(lmr_mat h,
                                        const lmr_soft_tie_weights *weights,
                                        lmr_ids targets, double lambda,
                                        enum lmr_reduction reduction,
                                        int64_t ignore_index);
LMR_API
enum lmr_status lmr_soft_tie_loss(lmr_soft_tie *out, lmr_mat h,
                                  const lmr_soft_tie_weights *weights,
                                  lmr_ids targets, double lambda,
                                  enum lmr_reduction reduction,
                                  int64_t ignore_index);

#ifdef __cplusplus
}
#endif

#endif
