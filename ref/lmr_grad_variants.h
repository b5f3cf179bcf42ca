/*
 * lmr_grad_variants.h -- the backward pass of the head variants
 * (spec/gradients.md; vectors/head_partial_backward.json,
 * head_transformed_backward, head_adaptive_backward, head_mlp_backward,
 * mos_fixed_backward, mos_gated_backward, soft_tie_loss_backward).
 *
 * Shapes and the forward's arguments as in lmr_variants.h. Each backward
 * validates through its forward's check (lmr_<op>_check), then its upstream
 * gradient (LMR_EINVAL, LMR_EDIM: not the shape of the forward's output,
 * LMR_ENONFINITE), then its outputs (LMR_EINVAL, LMR_EDIM), in the order of
 * spec/api.md#error-order. Every function writes nothing unless it returns
 * LMR_OK, and may return LMR_ENOMEM.
 */
#ifndef LMR_GRAD_VARIANTS_H
#define LMR_GRAD_VARIANTS_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"
#include "lmr_softmax.h"
#include "lmr_status.h"
#include "lmr_variants.h"
#include "lmr_view.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dh (n,d); dE (vocab,d), rows >= k zero; dF (d,vocab-k), which has no
 * columns (and may be the empty view) when k = vocab. dlogits: (n,vocab). */
LMR_API
enum lmr_status lmr_head_partial_backward(lmr_mat_out dh, lmr_mat_out dE,
                                          lmr_mat_out dF, lmr_mat h, lmr_mat E,
                                          lmr_mat F, lmr_mat dlogits,
                                          int64_t k);

/* dh (n,d); dT (d,d); dE (vocab,d). dlogits: (n,vocab). */
LMR_API
enum lmr_status lmr_head_transformed_backward(lmr_mat_out dh, lmr_mat_out dT,
                                              lmr_mat_out dE, lmr_mat h,
                                              lmr_mat T, lmr_mat E,
                                              lmr_mat dlogits);

/* The gradients of lmr_head_adaptive. */
typedef struct {
    lmr_mat_out dh; /* (n,d) */
    lmr_mat_out dE; /* (vocab,d) */
    lmr_mat_out dF; /* (d,vocab) */
    double *dalpha; /* one double; NULL is LMR_EINVAL */
} lmr_head_adaptive_grads;

/* dlogits: (n,vocab). grads NULL is LMR_EINVAL. */
LMR_API
enum lmr_status lmr_head_adaptive_backward(const lmr_head_adaptive_grads *grads,
                                           lmr_mat h, lmr_mat E, lmr_mat F,
                                           lmr_mat dlogits, double alpha);

/* The gradients of lmr_head_mlp. db1 and db2 are written whether or not the
 * forward has the bias. */
typedef struct {
    lmr_mat_out dh;  /* (n,d) */
    lmr_mat_out dW1; /* (d,m) */
    lmr_vec_out db1; /* (m) */
    lmr_mat_out dW2; /* (m,vocab) in the untied form; not written (may be
                        empty) in the tied form */
    lmr_mat_out dE;  /* (vocab,d) in the tied form; not written (may be
                        empty) in the untied form */
    lmr_vec_out db2; /* (vocab) */
} lmr_head_mlp_grads;

/* dlogits: (n,vocab). grads or weights NULL is LMR_EINVAL. */
LMR_API
enum lmr_status lmr_head_mlp_backward(const lmr_head_mlp_grads *grads,
                                      lmr_mat h,
                                      const lmr_head_mlp_weights *weights,
                                      lmr_mat dlogits);

/* dh (n,d); dW (K,d,vocab); dalpha (K). dlogprobs: (n,vocab). */
LMR_API
enum lmr_status lmr_mos_fixed_backward(lmr_mat_out dh, lmr_stack_out dW,
                                       lmr_vec_out dalpha, lmr_mat h,
                                       lmr_stack W, lmr_vec alpha,
                                       lmr_mat dlogprobs);

/* The gradients of lmr_mos_gated. */
typedef struct {
    lmr_mat_out dh;        /* (n,d) */
    lmr_mat_out dW_pi;     /* (d,K) */
    lmr_stack_out dW_comp; /* (K,d,d) */
    lmr_mat_out db_comp;   /* (K,d) */
    lmr_mat_out dW_out;    /* (d,vocab) in the untied form; not written (may
                              be empty) in the tied form */
    lmr_mat_out dE;        /* (vocab,d) in the tied form; not written (may be
                              empty) in the untied form */
    lmr_vec_out db_out;    /* (vocab), written whether or not b_out is given */
} lmr_mos_gated_grads;

/* dlogprobs: (n,vocab). grads or params NULL is LMR_EINVAL. */
LMR_API
enum lmr_status lmr_mos_gated_backward(const lmr_mos_gated_grads *grads,
                                       lmr_mat h,
                                       const lmr_mos_gated_params *params,
                                       lmr_mat dlogprobs);

/* The gradients of lmr_soft_tie_loss. */
typedef struct {
    lmr_mat_out dh; /* (n,d) */
    lmr_mat_out dE; /* (vocab,d) */
    lmr_mat_out dW; /* (d,vocab) */
} lmr_soft_tie_grads;

/* For the scalar upstream dloss (1); reduction SUM or MEAN (NONE:
 * LMR_EDOMAIN, from the check, before dloss is looked at). grads NULL is
 * LMR_EINVAL. */
LMR_API
enum lmr_status lmr_soft_tie_loss_backward(
    const lmr_soft_tie_grads *grads, lmr_mat h,
    const lmr_soft_tie_weights *weights, lmr_ids targets, lmr_vec dloss,
    double lambda, enum lmr_reduction reduction, int64_t ignore_index);

#ifdef __cplusplus
}
#endif

#endif
