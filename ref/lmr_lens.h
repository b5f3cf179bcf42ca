/*
 * lmr_lens.h -- the logit lens through the tied unembedding
 * (spec/logit_lens.md; vectors/logit_lens.json).
 */
#ifndef LMR_LENS_H
#define LMR_LENS_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * For each layer l and position t: x = hidden[l,t,:], optionally
 * x = LayerNorm(x; gamma, beta, eps) (when gamma and beta are not NULL),
 * probs[l,t,:] = softmax(x E^T), and the top_k tokens by logit (ties: lower
 * index first) with their probabilities.
 * probs is (layers,n,vocab); top_tokens and top_probs are (layers,n,top_k);
 * hidden is (layers,n,d); E is (vocab,d); gamma and beta are (d) or NULL.
 * Errors: those of lmr_head_tied and lmr_layernorm; LMR_EDIM (layers is 0);
 * LMR_EDOMAIN (top_k < 1 or > vocab); LMR_ENOMEM (a work array of n*d).
 */
LMR_API
int lmr_logit_lens(double *probs, int64_t *top_tokens, double *top_probs,
                   const double *hidden, const double *E, const double *gamma,
                   const double *beta, size_t layers, size_t n, size_t vocab,
                   size_t d, size_t top_k, double eps);

#ifdef __cplusplus
}
#endif

#endif
