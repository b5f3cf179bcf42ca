/*
 * lmr_grad_input.h -- the backward pass of the input side: the token lookup
 * and learned positions (scatter-add), and LayerNorm (spec/gradients.md;
 * vectors/embed_lookup_backward.json, pos_learned_backward.json,
 * layernorm_backward.json).
 *
 * Every function writes nothing unless it returns LMR_OK. Errors as the
 * forward op, plus LMR_ENONFINITE for a NaN or infinite upstream gradient.
 */
#ifndef LMR_GRAD_INPUT_H
#define LMR_GRAD_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dE[v,:] = sum of dY[t,:] over t with ids[t] = v; 0 for absent tokens.
 * dE: (vocab,d); ids: (n); dY: (n,d). LMR_EINDEX for an id outside
 * [0, vocab); LMR_EDIM for vocab = 0 or d = 0. */
LMR_API
int lmr_embed_lookup_backward(double *dE, const int64_t *ids, const double *dY,
                              size_t n, size_t vocab, size_t d);

/* dP[i,:] = sum of dY[t,:] over t with positions[t] = i.
 * dP: (max_len,d); positions: (n); dY: (n,d). Errors as above. */
LMR_API
int lmr_pos_learned_backward(double *dP, const int64_t *positions,
                             const double *dY, size_t n, size_t max_len,
                             size_t d);

/* LayerNorm backward: dx (n,d), dgamma (d), dbeta (d) from x (n,d),
 * gamma (d), dY (n,d) and eps. Errors as lmr_layernorm. */
LMR_API
int lmr_layernorm_backward(double *dx, double *dgamma, double *dbeta,
                           const double *x, const double *gamma,
                           const double *dY, size_t n, size_t d, double eps);

#ifdef __cplusplus
}
#endif

#endif
