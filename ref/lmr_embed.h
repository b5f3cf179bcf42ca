/*
 * lmr_embed.h -- token embeddings and learned absolute positions.
 * spec/embedding.md; vectors/embed_lookup.json, embed_onehot.json,
 * pos_learned.json.
 *
 * Arrays are flat row-major doubles (ids and positions: int64). Outputs come
 * first, then inputs, then sizes. An output or index array may be NULL only
 * when n == 0. Nothing is written unless the function returns LMR_OK.
 */
#ifndef LMR_EMBED_H
#define LMR_EMBED_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Token lookup: out[t,:] = E[ids[t],:].
 * out is (n,d), E is (vocab,d), ids is (n).
 * Errors: LMR_EDIM (vocab or d is 0), LMR_EOVERFLOW, LMR_ENONFINITE (E),
 * LMR_EINDEX (an id outside [0, vocab)), LMR_EINVAL (NULL array).
 */
LMR_API
int lmr_embed_lookup(double *out, const double *E, const int64_t *ids,
                     size_t n, size_t vocab, size_t d);

/*
 * One-hot product form: out = onehot E, i.e. out[t,j] = sum_v onehot[t,v] E[v,j].
 * out is (n,d), onehot is (n,vocab), E is (vocab,d).
 * Errors: as lmr_embed_lookup, plus LMR_EDOMAIN when onehot is not a one-hot
 * matrix (an entry other than 0 or 1, or a row without exactly one 1).
 */
LMR_API
int lmr_embed_onehot(double *out, const double *onehot, const double *E,
                     size_t n, size_t vocab, size_t d);

/*
 * Learned absolute positions: out[t,:] = P[positions[t],:].
 * out is (n,d), P is (max_len,d), positions is (n).
 * Errors: LMR_EDIM (max_len or d is 0), LMR_EOVERFLOW, LMR_ENONFINITE (P),
 * LMR_EPOS (a position outside [0, max_len)), LMR_EINVAL (NULL array).
 */
LMR_API
int lmr_pos_learned(double *out, const double *P, const int64_t *positions,
                    size_t n, size_t max_len, size_t d);

#ifdef __cplusplus
}
#endif

#endif
