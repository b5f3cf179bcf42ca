/*
 * lmr_head.h -- the language-modeling head (spec/head.md;
 * vectors/head_tied.json, head_untied.json, head_tied_gpt2.json).
 *
 * Arrays are views (spec/api.md): n and d come from h, |V| from the weight.
 * Problems are reported in the order of spec/api.md#error-order.
 */
#ifndef LMR_HEAD_H
#define LMR_HEAD_H

#include <stddef.h>

#include "lmr_api.h"
#include "lmr_status.h"
#include "lmr_view.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The inputs of lmr_head_tied: h (n,d), E (vocab,d).
 * Errors, in this order: LMR_EINVAL (h or E with elements and no data);
 * LMR_EDIM (d or vocab is 0, or E.cols != h.cols); LMR_EOVERFLOW;
 * LMR_ENONFINITE (an entry of h, then of E).
 */
LMR_API
enum lmr_status lmr_head_tied_check(lmr_mat h, lmr_mat E);

/*
 * Tied head: logits[t,v] = sum_j h[t,j] * E[v,j], i.e. logits = h E^T, with
 * E the same (vocab,d) matrix as the token lookup, read in place.
 * logits is (n,vocab), h is (n,d), E is (vocab,d).
 * Errors: those of lmr_head_tied_check; then LMR_EINVAL (logits with
 * elements and no data), LMR_EDIM (logits not h.rows x E.rows); LMR_ENOMEM
 * (it allocates an (n,vocab) scratch array, so that logits stays untouched
 * until every row of E has passed).
 */
LMR_API
enum lmr_status lmr_head_tied(lmr_mat_out logits, lmr_mat h, lmr_mat E);

/*
 * The inputs of lmr_head_untied: h (n,d), W (d,vocab), bias (vocab) or the
 * empty view lmr_vec_absent() for no bias.
 * Errors, in this order: LMR_EINVAL (a view with elements and no data);
 * LMR_EDIM (d or vocab is 0, W.rows != h.cols, a present bias not of length
 * W.cols); LMR_EOVERFLOW; LMR_ENONFINITE (an entry of h, W, then bias).
 */
LMR_API
enum lmr_status lmr_head_untied_check(lmr_mat h, lmr_mat W, lmr_vec bias);

/*
 * Untied head: logits = h W + b. W is (d,vocab) -- the transpose of
 * PyTorch's nn.Linear(d, vocab).weight -- and bias is (vocab) or absent.
 * logits is (n,vocab), h is (n,d).
 * Errors: those of lmr_head_untied_check; then those of logits as in
 * lmr_head_tied (logits h.rows x W.cols); LMR_ENOMEM.
 */
LMR_API
enum lmr_status lmr_head_untied(lmr_mat_out logits, lmr_mat h, lmr_mat W,
                                lmr_vec bias);

#ifdef __cplusplus
}
#endif

#endif
