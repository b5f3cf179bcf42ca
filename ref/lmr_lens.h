/*
 * lmr_lens.h -- the logit lens through the tied unembedding
 * (spec/logit_lens.md; vectors/logit_lens.json).
 *
 * Arrays are views (spec/api.md): layers, n and d come from hidden, vocab
 * from E. Problems are reported in the order of spec/api.md#error-order.
 */
#ifndef LMR_LENS_H
#define LMR_LENS_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"
#include "lmr_status.h"
#include "lmr_view.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where lmr_logit_lens writes; every array has the shape in its comment. */
typedef struct {
    lmr_stack_out probs;     /* (layers,n,vocab) */
    lmr_ids_out top_tokens;  /* (layers*n*top_k): (layers,n,top_k) row-major */
    lmr_stack_out top_probs; /* (layers,n,top_k) */
} lmr_logit_lens_outputs;

/*
 * The inputs and parameters of lmr_logit_lens: hidden (layers,n,d), E
 * (vocab,d), gamma and beta (d) -- or both the empty view: no LayerNorm --
 * top_k, and eps (read only with the LayerNorm).
 * Errors, in this order: LMR_EINVAL (a view with elements and no data);
 * LMR_EDIM (layers, vocab or d is 0, E.cols != d, gamma or beta not of
 * length d while the other is given); LMR_EOVERFLOW (hidden, E, or the
 * (layers,n,vocab) probabilities); LMR_EDOMAIN (top_k < 1 or > vocab);
 * eps as lmr_layernorm (LMR_ENONFINITE, LMR_EDOMAIN for eps <= 0);
 * LMR_ENONFINITE (an entry of hidden, E, gamma, then beta).
 */
LMR_API
enum lmr_status lmr_logit_lens_check(lmr_stack hidden, lmr_mat E, lmr_vec gamma,
                                     lmr_vec beta, int64_t top_k, double eps);

/*
 * For each layer l and position t: x = hidden[l,t,:], optionally
 * x = LayerNorm(x; gamma, beta, eps) (when gamma and beta are given),
 * probs[l,t,:] = softmax(x E^T), and the top_k tokens by logit (ties: lower
 * index first) with their probabilities, into out (shapes there).
 * Errors: those of lmr_logit_lens_check; then LMR_EINVAL (out NULL, or an
 * output view with elements and no data), LMR_EDIM (an output not of its
 * shape); LMR_ENOMEM (a work array of n*d).
 */
LMR_API
enum lmr_status lmr_logit_lens(const lmr_logit_lens_outputs *out,
                               lmr_stack hidden, lmr_mat E, lmr_vec gamma,
                               lmr_vec beta, int64_t top_k, double eps);

#ifdef __cplusplus
}
#endif

#endif
