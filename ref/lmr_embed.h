/*
 * lmr_embed.h -- token embeddings and learned absolute positions.
 * spec/embedding.md; vectors/embed_lookup.json, embed_onehot.json,
 * pos_learned.json.
 *
 * Arrays are views (lmr_view.h, spec/api.md): outputs first, then inputs;
 * every size comes from a view. Each op has a check of its inputs
 * (spec/api.md#checks); problems are reported in the order of
 * spec/api.md#error-order. Nothing is written unless the function returns
 * LMR_OK.
 */
#ifndef LMR_EMBED_H
#define LMR_EMBED_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"
#include "lmr_status.h"
#include "lmr_view.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The check of the lookup's inputs: E is (vocab,d), ids is (n).
 * Errors, in this order: LMR_EINVAL (a view with elements and no data),
 * LMR_EDIM (vocab or d is 0), LMR_EOVERFLOW (E, ids or the (n,d) output too
 * big), LMR_ENONFINITE (an entry of E), LMR_EINDEX (an id outside
 * [0, vocab)).
 */
LMR_API
enum lmr_status lmr_embed_lookup_check(lmr_mat E, lmr_ids ids);

/*
 * Token lookup: out[t,:] = E[ids[t],:].
 * out is (n,d), E is (vocab,d), ids is (n).
 * Errors: those of lmr_embed_lookup_check, then LMR_EINVAL (out has
 * elements and no data), LMR_EDIM (out not (n,d)).
 */
LMR_API
enum lmr_status lmr_embed_lookup(lmr_mat_out out, lmr_mat E, lmr_ids ids);

/*
 * The check of the one-hot form's inputs: onehot is (n,vocab), E is
 * (vocab,d). Errors, in this order: LMR_EINVAL, LMR_EDIM (vocab or d is 0;
 * onehot.cols differs from vocab), LMR_EOVERFLOW, LMR_EDOMAIN (onehot is
 * not a one-hot matrix: an entry other than 0 or 1, NaN included, or a row
 * without exactly one 1), LMR_ENONFINITE (an entry of E).
 */
LMR_API
enum lmr_status lmr_embed_onehot_check(lmr_mat onehot, lmr_mat E);

/*
 * One-hot product form: out = onehot E, i.e. out[t,j] = sum_v onehot[t,v] E[v,j].
 * out is (n,d), onehot is (n,vocab), E is (vocab,d).
 * Errors: those of lmr_embed_onehot_check, then LMR_EINVAL (out has
 * elements and no data), LMR_EDIM (out not (n,d)).
 */
LMR_API
enum lmr_status lmr_embed_onehot(lmr_mat_out out, lmr_mat onehot, lmr_mat E);

/*
 * The check of the learned positions' inputs: P is (max_len,d), positions
 * is (n). Errors, in this order: LMR_EINVAL, LMR_EDIM (max_len or d is 0),
 * LMR_EOVERFLOW, LMR_ENONFINITE (an entry of P), LMR_EPOS (a position
 * outside [0, max_len)).
 */
LMR_API
enum lmr_status lmr_pos_learned_check(lmr_mat P, lmr_ids positions);

/*
 * Learned absolute positions: out[t,:] = P[positions[t],:].
 * out is (n,d), P is (max_len,d), positions is (n).
 * Errors: those of lmr_pos_learned_check, then LMR_EINVAL (out has
 * elements and no data), LMR_EDIM (out not (n,d)).
 */
LMR_API
enum lmr_status lmr_pos_learned(lmr_mat_out out, lmr_mat P, lmr_ids positions);

#ifdef __cplusplus
}
#endif

#endif
