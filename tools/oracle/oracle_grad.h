/*
 * oracle_grad.h -- the MPFR oracle for the backward ops and the end-to-end
 * tied model (spec/gradients.md), with the running error bound of
 * spec/tolerance.md#gradients as every output's scale.
 *
 * Contract as in oracle.h: exact double inputs, evaluation at ORACLE_PREC
 * bits, each value rounded once to nearest, each scale rounded upward; no
 * libm, no BLAS, nothing from ref/. K is 2 for every output (ORACLE_GRAD_K).
 * Returns 0, or -1 on a violated precondition (never aborts). Arrays are
 * flat row-major, shapes in the comments.
 */
#ifndef LMR_ORACLE_GRAD_H
#define LMR_ORACLE_GRAD_H

#include <stddef.h>
#include <stdint.h>

#include "oracle_head.h" /* enum oracle_reduction */

#define ORACLE_GRAD_K 2.0

/* One output: its expected values and their scales, both of the output's
 * shape. A NULL value means the output is not wanted (e.g. dW_out in the
 * tied form). */
typedef struct {
    double *value;
    double *scale;
} oracle_out;

/* dE: (V,d); ids: (n); dY: (n,d) */
int oracle_embed_lookup_backward(oracle_out dE, const int64_t *ids,
                                 const double *dY, size_t n, size_t V, size_t d);
/* dP: (L,d); positions: (n); dY: (n,d) */
int oracle_pos_learned_backward(oracle_out dP, const int64_t *positions,
                                const double *dY, size_t n, size_t L, size_t d);
/* dx: (n,d); dgamma, dbeta: (d); x, dY: (n,d); gamma: (d) */
int oracle_layernorm_backward(oracle_out dx, oracle_out dgamma,
                              oracle_out dbeta, const double *x,
                              const double *gamma, const double *dY, size_t n,
                              size_t d, double eps);
/* dh: (n,d); dE: (V,d); h: (n,d); E: (V,d); dU: (n,V) */
int oracle_head_tied_backward(oracle_out dh, oracle_out dE, const double *h,
                              const double *E, const double *dU, size_t n,
                              size_t V, size_t d);
/* dh: (n,d); dW: (d,V); db: (V); h: (n,d); W: (d,V); dU: (n,V) */
int oracle_head_untied_backward(oracle_out dh, oracle_out dW, oracle_out db,
                                const double *h, const double *W,
                                const double *dU, size_t n, size_t V, size_t d);
/* dlogits: (n,V); dtau: (1); logits, G: (n,V). take_log = 0: softmax,
 * 1: log-softmax (G at masked entries must be 0). */
int oracle_softmax_backward(oracle_out dlogits, oracle_out dtau,
                            const double *logits, const double *G, size_t n,
                            size_t V, double tau, int take_log);
/* spec/gradients.md#attention_weights_backward: dQ: (n_q,d_k); dK:
 * (n_k,d_k); Q: (n_q,d_k); K: (n_k,d_k); key_mask: (n_k) or NULL;
 * G = dweights: (n_q,n_k). -1 for input the spec calls invalid (those of
 * the forward, a non-finite G). */
int oracle_attention_weights_backward(oracle_out dQ, oracle_out dK,
                                      const double *Q, const double *K,
                                      const int64_t *key_mask, const double *G,
                                      size_t n_q, size_t n_k, size_t d_k,
                                      int causal);
/* dlogits: (n,V); logits: (n,V); targets: (n); dloss: (n) for NONE, else (1) */
int oracle_cross_entropy_backward(oracle_out dlogits, const double *logits,
                                  const int64_t *targets, const double *dloss,
                                  size_t n, size_t V,
                                  enum oracle_reduction reduction,
                                  int64_t ignore_index);

/* dh: (n,d); dE: (V,d); dF: (d,V-k); h: (n,d); E: (V,d); F: (d,V-k) */
int oracle_head_partial_backward(oracle_out dh, oracle_out dE, oracle_out dF,
                                 const double *h, const double *E,
                                 const double *F, const double *dU, size_t n,
                                 size_t V, size_t d, size_t k);
/* dh: (n,d); dT: (d,d); dE: (V,d) */
int oracle_head_transformed_backward(oracle_out dh, oracle_out dT,
                                     oracle_out dE, const double *h,
                                     const double *T, const double *E,
                                     const double *dU, size_t n, size_t V,
                                     size_t d);
/* dh: (n,d); dE: (V,d); dF: (d,V); dalpha: (1) */
int oracle_head_adaptive_backward(oracle_out dh, oracle_out dE, oracle_out dF,
                                  oracle_out dalpha, const double *h,
                                  const double *E, const double *F,
                                  double alpha, const double *dU, size_t n,
                                  size_t V, size_t d);

/* The MLP head's inputs (b1, b2 may be NULL; W2 NULL: tied, W2 = E^T). */
typedef struct {
    const double *h, *W1, *b1, *W2, *E, *b2, *dU;
    size_t n, V, d, m;
} oracle_mlp_inputs;
/* dh: (n,d); dW1: (d,m); db1: (m); dW2: (m,V) untied; dE: (V,d) tied;
 * db2: (V). Also reports, for the generator, the smallest margin
 * min |a| / E(a) over the non-zero pre-activations a (E(a) the running error
 * bound of spec/tolerance.md#gradients), +inf if there are none, and whether
 * some pre-activation is exactly 0. */
int oracle_head_mlp_backward(oracle_out dh, oracle_out dW1, oracle_out db1,
                             oracle_out dW2, oracle_out dE, oracle_out db2,
                             double *min_margin, int *has_zero,
                             const oracle_mlp_inputs *in);

/* dh: (n,d); dW: (K,d,V); dalpha: (K); h: (n,d); W: (K,d,V); alpha: (K);
 * G: (n,V) upstream gradient of logprobs */
int oracle_mos_fixed_backward(oracle_out dh, oracle_out dW, oracle_out dalpha,
                              const double *h, const double *W,
                              const double *alpha, const double *G, size_t n,
                              size_t V, size_t d, size_t K);

typedef struct {
    const double *h, *W_pi, *W_comp, *b_comp, *W_out, *E, *b_out, *G;
    size_t n, V, d, K; /* W_out NULL: tied, W_out = E^T; b_out may be NULL */
} oracle_mos_gated_inputs;
typedef struct {
    oracle_out dh, dW_pi, dW_comp, db_comp, dW_out, dE, db_out;
} oracle_mos_gated_outputs;
int oracle_mos_gated_backward(const oracle_mos_gated_outputs *out,
                              const oracle_mos_gated_inputs *in);

/* dh: (n,d); dE: (V,d); dW: (d,V); reduction SUM or MEAN; dloss scalar */
int oracle_soft_tie_loss_backward(oracle_out dh, oracle_out dE, oracle_out dW,
                                  const double *h, const double *E,
                                  const double *W, const int64_t *targets,
                                  size_t n, size_t V, size_t d, double lambda,
                                  enum oracle_reduction reduction,
                                  int64_t ignore_index, double dloss);

/* spec/linear_cross_entropy.md: the tied head, cross_entropy and their
 * backward composed, loss = CE(h E^T), D = dlogits for dloss, dh = D E,
 * dE = D^T h. dloss: (n) for NONE, else (1). */
typedef struct {
    const double *h;        /* (n,d) */
    const double *E;        /* (V,d) */
    const int64_t *targets; /* (n) */
    const double *dloss;    /* (n) or (1) */
    size_t n, V, d;
    enum oracle_reduction reduction;
    int64_t ignore_index;
    /* 1: every sum as the plain MPFR loop; 0: where the inputs allow, the
     * logits as exact integer dot products of dyadic h and E (numerators
     * below 2^24 at a common exponent) and dh grouped by the value of E's
     * entries (numerators of at most 8 bits): the same reals, much faster
     * at production sizes (tools/oracle/README.md) */
    int plain_sums;
} oracle_lce_inputs;
/* loss: (n) for NONE, else (1); dh: (n,d); dE: (V,d) */
int oracle_linear_cross_entropy(oracle_out loss, oracle_out dh, oracle_out dE,
                                const oracle_lce_inputs *in);

/* spec/gradients.md#tied_lm. gamma/beta NULL: no LayerNorm; M NULL: identity. */
typedef struct {
    const int64_t *ids, *targets; /* (n) */
    const double *E;              /* (V,d) */
    const double *P;              /* (L,d), L >= n */
    const double *gamma, *beta;   /* (d) or NULL */
    const double *M;              /* (d,d) or NULL */
    size_t n, V, d, L;
    double eps;
    enum oracle_reduction reduction; /* SUM or MEAN */
    int64_t ignore_index;
} oracle_tied_lm_inputs;
typedef struct {
    oracle_out loss;               /* (1) */
    oracle_out dE, dE_input, dE_output; /* (V,d) */
    oracle_out dP;                 /* (L,d) */
    oracle_out dgamma, dbeta;      /* (d), value NULL without LayerNorm */
} oracle_tied_lm_outputs;
int oracle_tied_lm(const oracle_tied_lm_outputs *out,
                   const oracle_tied_lm_inputs *in);

#endif
