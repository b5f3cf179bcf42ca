/*
 * oracle_variants.h -- the MPFR oracle for the head variants
 * (spec/variants.md; tolerances in spec/tolerance.md#variants). Same
 * contract as oracle.h and oracle_head.h: exact double inputs,
 * ORACLE_PREC bits, each expected value rounded once to nearest, each scale
 * rounded upward, no libm/BLAS/ref code, -1 on a violated precondition.
 */
#ifndef LMR_ORACLE_VARIANTS_H
#define LMR_ORACLE_VARIANTS_H

#include <stddef.h>
#include <stdint.h>

#include "oracle_head.h"

/* spec/variants.md#partial: columns v < k from E, the others from F.
 * logits, scale: (n, V); h: (n, d); E: (V, d); F: (d, V - k), may be NULL
 * when k == V */
int oracle_head_partial(double *logits, double *scale, double *k_tol,
                        const double *h, const double *E, const double *F,
                        size_t n, size_t V, size_t d, size_t k);

/* spec/variants.md#transformed: logits = h T E^T.
 * logits, scale: (n, V); h: (n, d); T: (d, d); E: (V, d) */
int oracle_head_transformed(double *logits, double *scale, double *k_tol,
                            const double *h, const double *T, const double *E,
                            size_t n, size_t V, size_t d);

/* spec/variants.md#adaptive: logits = alpha h E^T + (1 - alpha) h F.
 * logits, scale: (n, V); h: (n, d); E: (V, d); F: (d, V); 0 <= alpha <= 1 */
int oracle_head_adaptive(double *logits, double *scale, double *k_tol,
                         const double *h, const double *E, const double *F,
                         double alpha, size_t n, size_t V, size_t d);

/* spec/variants.md#mlp: logits = ReLU(h W1 + b1) W2 + b2, with W2 = E^T
 * when W2 is NULL (then m must equal d). b1, b2 may be NULL.
 * logits, scale: (n, V); h: (n, d); W1: (d, m); b1: (m); W2: (m, V);
 * E: (V, d); b2: (V) */
int oracle_head_mlp(double *logits, double *scale, double *k_tol,
                    const double *h, const double *W1, const double *b1,
                    const double *W2, const double *E, const double *b2,
                    size_t n, size_t V, size_t d, size_t m);

/* spec/variants.md#mos_fixed: y = sum_k (alpha_k / sum alpha) softmax(h W_k).
 * probs, probs_scale, logprobs, log_scale: (n, V); h: (n, d);
 * W: (K, d, V); alpha: (K) */
int oracle_mos_fixed(double *probs, double *probs_scale, double *logprobs,
                     double *log_scale, double *k_tol, const double *h,
                     const double *W, const double *alpha, size_t n, size_t V,
                     size_t d, size_t K);

/* spec/variants.md#mos_gated (Yang et al. 2018). W_out is used when not
 * NULL, else W_out = E^T; b_out may be NULL.
 * probs, probs_scale, logprobs, log_scale: (n, V); h: (n, d); W_pi: (d, K);
 * W_comp: (K, d, d); b_comp: (K, d); W_out: (d, V); E: (V, d); b_out: (V) */
int oracle_mos_gated(double *probs, double *probs_scale, double *logprobs,
                     double *log_scale, double *k_tol, const double *h,
                     const double *W_pi, const double *W_comp,
                     const double *b_comp, const double *W_out,
                     const double *E, const double *b_out, size_t n, size_t V,
                     size_t d, size_t K);

/* spec/variants.md#soft_tie: loss = CE(h W, targets) + lambda ||E - W^T||_F^2.
 * Each output is one double with its scale and K: loss, cross_entropy,
 * penalty (without lambda). h: (n, d); E: (V, d); W: (d, V); targets: (n) */
int oracle_soft_tie_loss(double *loss, double *loss_scale,
                         double *cross_entropy, double *ce_scale,
                         double *penalty, double *penalty_scale, double *k_tol,
                         const double *h, const double *E, const double *W,
                         const int64_t *targets, size_t n, size_t V, size_t d,
                         double lambda, enum oracle_reduction reduction,
                         int64_t ignore_index);

#endif
