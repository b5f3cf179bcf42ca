/*
 * lmr_grad_variants.h -- the backward pass of the head variants
 * (spec/gradients.md; vectors/head_partial_backward.json,
 * head_transformed_backward, head_adaptive_backward, head_mlp_backward,
 * mos_fixed_backward, mos_gated_backward, soft_tie_loss_backward).
 *
 * Shapes and the forward's arguments as in lmr_variants.h. Every function
 * writes nothing unless it returns LMR_OK, and may return LMR_ENOMEM.
 */
#ifndef LMR_GRAD_VARIANTS_H
#define LMR_GRAD_VARIANTS_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"
#include "lmr_softmax.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dh (n,d); dE (vocab,d), rows >= k zero; dF (d,vocab-k), may be NULL when
 * k = vocab. dlogits: (n,vocab). */
LMR_API
int lmr_head_partial_backward(double *dh, double *dE, double *dF,
                              const double *h, const double *E,
                              const double *F, const double *dlogits,
                              size_t n, size_t vocab, size_t d, size_t k);

/* dh (n,d); dT (d,d); dE (vocab,d). */
LMR_API
int lmr_head_transformed_backward(double *dh, double *dT, double *dE,
                                  const double *h, const double *T,
                                  const double *E, const double *dlogits,
                                  size_t n, size_t vocab, size_t d);

/* dh (n,d); dE (vocab,d); dF (d,vocab); *dalpha (1). */
LMR_API
int lmr_head_adaptive_backward(double *dh, double *dE, double *dF,
                               double *dalpha, const double *h,
                               const double *E, const double *F, double alpha,
                               const double *dlogits, size_t n, size_t vocab,
                               size_t d);

/* dh (n,d); dW1 (d,m); db1 (m); dW2 (m,vocab) when W2 is given, else
 * dE (vocab,d) for the tied form (the other is not written, may be NULL);
 * db2 (vocab). b1, b2 may be NULL. */
LMR_API
int lmr_head_mlp_backward(double *dh, double *dW1, double *db1, double *dW2,
                          double *dE, double *db2, const double *h,
                          const double *W1, const double *b1,
                          const double *W2, const double *E, const double *b2,
                          const double *dlogits, size_t n, size_t vocab,
                          size_t d, size_t m);

/* dh (n,d); dW (K,d,vocab); dalpha (K). dlogprobs: (n,vocab). */
LMR_API
int lmr_mos_fixed_backward(double *dh, double *dW, double *dalpha,
                           const double *h, const double *W,
                           const double *alpha, const double *dlogprobs,
                           size_t n, size_t vocab, size_t d, size_t K);

/* The gradients of lmr_mos_gated. dW_out (d,vocab) when W_out is given, else
 * dE (vocab,d) (the other may be NULL). */
typedef struct {
    double *dh;      /* (n,d) */
    double *dW_pi;   /* (d,K) */
    double *dW_comp; /* (K,d,d) */
    double *db_comp; /* (K,d) */
    double *dW_out;  /* (d,vocab), untied form */
    double *dE;      /* (vocab,d), tied form */
    double *db_out;  /* (vocab) */
} lmr_mos_gated_grads;

LMR_API
int lmr_mos_gated_backward(const lmr_mos_gated_grads *grads, const double *h,
                           const double *W_pi, const double *W_comp,
                           const double *b_comp, const double *W_out,
                           const double *E, const double *b_out,
                           const double *dlogprobs, size_t n, size_t vocab,
                           size_t d, size_t K);

/* dh (n,d); dE (vocab,d); dW (d,vocab), for the scalar upstream dloss.
 * reduction SUM or MEAN (NONE: LMR_EDOMAIN). */
LMR_API
int lmr_soft_tie_loss_backward(double *dh, double *dE, double *dW,
                               const double *h, const double *E,
                               const double *W, const int64_t *targets,
                               size_t n, size_t vocab, size_t d, double lambda,
                               enum lmr_reduction reduction,
                               int64_t ignore_index, double dloss);

#ifdef __cplusplus
}
#endif

#endif
