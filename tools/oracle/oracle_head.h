/*
 * oracle_head.h -- the MPFR oracle for the output side: heads, softmax,
 * log-softmax, cross-entropy, argmax, sampling, the logit lens and parameter
 * counts. Same contract as oracle.h: exact inputs, ORACLE_PREC bits, each
 * expected value rounded once to nearest, each scale rounded upward, no
 * libm/BLAS/ref code, -1 (never abort) on a violated precondition.
 *
 * Specs: spec/head.md, spec/softmax.md, spec/sampling.md, spec/logit_lens.md,
 * spec/param_count.md; tolerances: spec/tolerance.md ("Output side" and
 * "Index outputs").
 */
#ifndef LMR_ORACLE_HEAD_H
#define LMR_ORACLE_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include "oracle.h"

/* Precision classes, in this order, as in spec/tolerance.md. */
#define ORACLE_CLASS_COUNT 4 /* fp64, fp32, bf16, fp16 */

/* The acceptable values of one index output element for one class
 * (spec/tolerance.md#index-outputs): values[0] is the expected value, the
 * others (if any) are the other defensible answers, in increasing order. */
typedef struct {
    size_t count;
    int64_t *values; /* (count), malloc'd; release with oracle_choices_free */
} oracle_choices;

/* Frees the values of choices[0 .. count). */
void oracle_choices_free(oracle_choices *choices, size_t count);

/* spec/head.md#tied: logits = h E^T.
 * logits, scale: (n, V); h: (n, d); E: (V, d) */
int oracle_head_tied(double *logits, double *scale, double *k,
                     const double *h, const double *E,
                     size_t n, size_t V, size_t d);

/* spec/head.md#untied: logits = h W + b (b may be NULL: no bias).
 * logits, scale: (n, V); h: (n, d); W: (d, V); b: (V) */
int oracle_head_untied(double *logits, double *scale, double *k,
                       const double *h, const double *W, const double *b,
                       size_t n, size_t V, size_t d);

/* spec/softmax.md#softmax with temperature tau.
 * probs, scale, logits: (n, V); logits may hold -inf (masked). */
int oracle_softmax(double *probs, double *scale, double *k,
                   const double *logits, size_t n, size_t V, double tau);

/* spec/softmax.md#log_softmax; masked entries give -inf with scale 0.
 * logprobs, scale, logits: (n, V) */
int oracle_log_softmax(double *logprobs, double *scale, double *k,
                       const double *logits, size_t n, size_t V, double tau);

enum oracle_reduction { ORACLE_REDUCE_NONE = 0, ORACLE_REDUCE_SUM = 1,
                        ORACLE_REDUCE_MEAN = 2 };

/* spec/softmax.md#cross_entropy. loss and scale are (n) for NONE, (1)
 * otherwise; +inf for a masked target; NaN (scale 0) for a mean over no
 * counted target. logits: (n, V); targets: (n) */
int oracle_cross_entropy(double *loss, double *scale, double *k,
                         const double *logits, const int64_t *targets,
                         size_t n, size_t V, enum oracle_reduction reduction,
                         int64_t ignore_index);

/* spec/sampling.md#argmax. token: (n); choices: (n * ORACLE_CLASS_COUNT),
 * element [t * ORACLE_CLASS_COUNT + class]; logits: (n, V) */
int oracle_argmax(int64_t *token, oracle_choices *choices,
                  const double *logits, size_t n, size_t V);

/* spec/sampling.md#sample. probs, scale: (n, V); token: (n); choices:
 * (n * ORACLE_CLASS_COUNT) as for argmax; *stable_classes receives a bit
 * (1u << class) for every class in which the kept set of every row is
 * certain (spec/tolerance.md#index-outputs), the others must be omitted
 * from the case. logits: (n, V); r: (n) */
int oracle_sample(double *probs, double *scale, double *k, int64_t *token,
                  oracle_choices *choices, unsigned *stable_classes,
                  const double *logits, const double *r, size_t n, size_t V,
                  double tau, int64_t top_k, double top_p);

/* spec/logit_lens.md. gamma and beta are NULL without the final LayerNorm.
 * probs, probs_scale: (L, n, V); top_tokens, top_probs, top_scale:
 * (L, n, top_k); choices: (L * n * top_k * ORACLE_CLASS_COUNT);
 * *exact_arithmetic receives 1 when every logit is exact in binary32 (the
 * flag of spec/tolerance.md#index-outputs). hidden: (L, n, d); E: (V, d);
 * gamma, beta: (d) */
int oracle_logit_lens(double *probs, double *probs_scale, double *probs_k,
                      int64_t *top_tokens, oracle_choices *choices,
                      double *top_probs, double *top_scale,
                      int *exact_arithmetic,
                      const double *hidden, const double *E,
                      const double *gamma, const double *beta,
                      size_t L, size_t n, size_t V, size_t d, size_t top_k,
                      double eps);

/* spec/param_count.md. Returns -1 when a count does not fit in int64. */
int oracle_param_count(int64_t *untied, int64_t *tied, int64_t *saving,
                       double *relative, double *relative_scale, double *k,
                       int64_t vocab, int64_t d, int64_t block_params);

#endif
