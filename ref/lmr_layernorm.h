/*
 * lmr_layernorm.h -- LayerNorm over the last dimension (spec/layernorm.md;
 * vectors/layernorm.json).
 */
#ifndef LMR_LAYERNORM_H
#define LMR_LAYERNORM_H

#include <stddef.h>

#include "lmr_api.h"
#include "lmr_status.h"
#include "lmr_view.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The usual default of eps (PyTorch, BERT). */
#define LMR_LAYERNORM_DEFAULT_EPS 1e-5

/*
 * The check of LayerNorm's inputs and parameter (spec/api.md#checks), in
 * the order of spec/api.md#error-order: LMR_EINVAL (a view with elements
 * and no data), LMR_EDIM (d = x.cols is 0; gamma or beta not of length d),
 * LMR_EOVERFLOW, LMR_ENONFINITE then LMR_EDOMAIN for eps (eps <= 0), then
 * LMR_ENONFINITE for an entry of x, gamma or beta.
 * x is (n,d); gamma and beta are (d). beta may be lmr_vec_absent(): then it
 * is not checked at all (lmr_layernorm_backward, which has no beta, checks
 * its arguments this way); lmr_layernorm itself requires beta.
 */
LMR_API
enum lmr_status lmr_layernorm_check(lmr_mat x, lmr_vec gamma, lmr_vec beta,
                                    double eps);

/*
 * For each row x = in[t,:]: mu = mean(x), var = mean((x - mu)^2) (biased),
 * out[t,j] = gamma[j] * (x[j] - mu) / sqrt(var + eps) + beta[j].
 * out and x are (n,d) and may be the same array; gamma and beta are (d).
 * Arithmetic: binary64 throughout, each mean a sum left to right divided by
 * d, so the result is the same double on every IEEE platform
 * (spec/tolerance.md#libm).
 * Errors: those of lmr_layernorm_check (beta required: an empty beta with
 * d >= 1 is LMR_EDIM), then LMR_EINVAL (out has elements and no data),
 * LMR_EDIM (out not (n,d)).
 */
LMR_API
enum lmr_status lmr_layernorm(lmr_mat_out out, lmr_mat x, lmr_vec gamma,
                              lmr_vec beta, double eps);

#ifdef __cplusplus
}
#endif

#endif
