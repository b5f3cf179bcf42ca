/*
 * lmr_layernorm.h -- LayerNorm over the last dimension (spec/layernorm.md;
 * vectors/layernorm.json).
 */
#ifndef LMR_LAYERNORM_H
#define LMR_LAYERNORM_H

#include <stddef.h>

#include "lmr_api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The usual default of eps (PyTorch, BERT). */
#define LMR_LAYERNORM_DEFAULT_EPS 1e-5

/*
 * For each row x = in[t,:]: mu = mean(x), var = mean((x - mu)^2) (biased),
 * out[t,j] = gamma[j] * (x[j] - mu) / sqrt(var + eps) + beta[j].
 * out and in are (n,d) and may be the same array; gamma and beta are (d).
 * Arithmetic: binary64 throughout, each mean a sum left to right divided by
 * d, so the result is the same double on every IEEE platform
 * (spec/tolerance.md#libm).
 * Errors: LMR_EDIM (d is 0), LMR_EOVERFLOW, LMR_ENONFINITE (in, gamma, beta
 * or eps), LMR_EDOMAIN (eps <= 0), LMR_EINVAL (NULL array).
 */
LMR_API
int lmr_layernorm(double *out, const double *in, const double *gamma,
                  const double *beta, size_t n, size_t d, double eps);

#ifdef __cplusplus
}
#endif

#endif
