/*
 * lmr_compose.h -- the composite input X = c*E[w] + P (spec/embedding.md#compose;
 * vectors/compose.json) and the composite followed by LayerNorm
 * (spec/layernorm.md#compose; vectors/compose_layernorm.json).
 */
#ifndef LMR_COMPOSE_H
#define LMR_COMPOSE_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"
#include "lmr_status.h"
#include "lmr_view.h"

#ifdef __cplusplus
extern "C" {
#endif

enum lmr_position_kind {
    LMR_POSITIONS_LEARNED = 0, /* rows of a learned table P */
    LMR_POSITIONS_SINUSOID = 1 /* the sinusoidal encoding */
};

/* Where the position term comes from, and how the token term is scaled. */
typedef struct {
    enum lmr_position_kind kind;
    lmr_mat table;       /* learned: P (max_len, d); else not read */
    double base;         /* sinusoid: frequency base, > 1 */
    int64_t start;       /* position of the first token, >= 0 */
    int scale_by_sqrt_d; /* non-zero: multiply E[w] by sqrt(d) */
} lmr_positions;

/*
 * The check of the composite's inputs: E is (vocab,d), ids is (n),
 * positions describes the position term (for learned positions, its table
 * P is (max_len,d)). Errors, in this order (spec/api.md#error-order):
 * LMR_EINVAL (positions is NULL; a view with elements and no data),
 * LMR_EDIM (vocab, d or max_len is 0; P's width differs from d),
 * LMR_EOVERFLOW, LMR_EDOMAIN (an unknown kind), LMR_ENONFINITE then
 * LMR_EDOMAIN for a sinusoid's base (base <= 1), then the entries:
 * LMR_ENONFINITE (E), LMR_EINDEX (an id outside [0, vocab)),
 * LMR_ENONFINITE (P), LMR_EPOS (start < 0, or the last position start+n-1
 * past the table or the sinusoid's limit 2^53).
 */
LMR_API
enum lmr_status lmr_compose_check(lmr_mat E, lmr_ids ids,
                                  const lmr_positions *positions);

/*
 * out[t,:] = c * E[ids[t],:] + P(start + t), c = sqrt(d) or 1.
 * out is (n,d), E is (vocab,d), ids is (n).
 * Errors: those of lmr_compose_check, then LMR_EINVAL (out has elements
 * and no data), LMR_EDIM (out not (n,d)).
 */
LMR_API
enum lmr_status lmr_compose(lmr_mat_out out, lmr_mat E, lmr_ids ids,
                            const lmr_positions *positions);

/*
 * The check of lmr_compose_layernorm's inputs and parameters: those of
 * lmr_compose_check and of lmr_layernorm_check for gamma, beta (d) and eps,
 * merged class by class in the order of spec/api.md#error-order (so a
 * gamma of the wrong length, LMR_EDIM, comes before a NaN in E). The
 * composite itself is not an input: it is checked as it is computed.
 */
LMR_API
enum lmr_status lmr_compose_layernorm_check(lmr_mat E, lmr_ids ids,
                                            const lmr_positions *positions,
                                            lmr_vec gamma, lmr_vec beta,
                                            double eps);

/*
 * out = LayerNorm(compose(...)) with gamma, beta (d) and eps; out is (n,d).
 * Errors: those of lmr_compose_layernorm_check; then LMR_EINVAL, LMR_EDIM
 * for out; then LMR_ENOMEM (it allocates n*d doubles of scratch) and
 * LMR_ERANGE (the composite overflows the double range).
 */
LMR_API
enum lmr_status lmr_compose_layernorm(lmr_mat_out out, lmr_mat E, lmr_ids ids,
                                      const lmr_positions *positions,
                                      lmr_vec gamma, lmr_vec beta, double eps);

#ifdef __cplusplus
}
#endif

#endif
