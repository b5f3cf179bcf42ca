/*
 * lmr_grad_input.h -- the backward pass of the input side: the token lookup
 * and learned positions (scatter-add), and LayerNorm (spec/gradients.md;
 * vectors/embed_lookup_backward.json, pos_learned_backward.json,
 * layernorm_backward.json).
 *
 * Arrays are views (lmr_view.h): outputs, inputs, upstream gradient,
 * parameters. Every function checks its inputs as the forward's check does
 * (spec/api.md#checks), then its upstream gradient, then its outputs, and
 * writes nothing unless it returns LMR_OK.
 */
#ifndef LMR_GRAD_INPUT_H
#define LMR_GRAD_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"
#include "lmr_status.h"
#include "lmr_view.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dE[v,:] = sum of dY[t,:] over t with ids[t] = v; 0 for absent tokens.
 * dE: (vocab,d); ids: (n); dY: (n,d). The table's shape is dE's: the check
 * is lmr_embed_lookup_check's for a table of that shape (the backward has
 * not its entries). Errors, in this order: LMR_EINVAL (ids), LMR_EDIM
 * (vocab = 0 or d = 0), LMR_EOVERFLOW, LMR_EINDEX (an id outside
 * [0, vocab)); then dY: LMR_EINVAL, LMR_EDIM (not (n,d)), LMR_ENONFINITE;
 * then LMR_EINVAL (dE has elements and no data). */
LMR_API
enum lmr_status lmr_embed_lookup_backward(lmr_mat_out dE, lmr_ids ids,
                                          lmr_mat dY);

/* dP[i,:] = sum of dY[t,:] over t with positions[t] = i.
 * dP: (max_len,d); positions: (n); dY: (n,d). Errors as above, with
 * LMR_EPOS for a position outside [0, max_len). */
LMR_API
enum lmr_status lmr_pos_learned_backward(lmr_mat_out dP, lmr_ids positions,
                                         lmr_mat dY);

/* LayerNorm backward: dx (n,d), dgamma (d), dbeta (d) from x (n,d),
 * gamma (d), dY (n,d) and eps. Errors, in this order: those of
 * lmr_layernorm_check(x, gamma, lmr_vec_absent(), eps); then dY:
 * LMR_EINVAL, LMR_EDIM (not (n,d)), LMR_ENONFINITE; then the outputs:
 * LMR_EINVAL, LMR_EDIM (dx not (n,d), dgamma or dbeta not (d)); then
 * LMR_ENOMEM. dx may be x or dY. */
LMR_API
enum lmr_status lmr_layernorm_backward(lmr_mat_out dx, lmr_vec_out dgamma,
                                       lmr_vec_out dbeta, lmr_mat x,
                                       lmr_vec gamma, lmr_mat dY, double eps);

#ifdef __cplusplus
}
#endif

#endif
