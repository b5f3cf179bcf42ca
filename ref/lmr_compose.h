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

#ifdef __cplusplus
extern "C" {
#endif

enum lmr_position_kind {
    LMR_POSITIONS_LEARNED = 0,  /* rows of a learned table P */
    LMR_POSITIONS_SINUSOID = 1  /* the sinusoidal encoding */
};

/* Where the position term comes from, and how the token term is scaled. */
typedef struct {
    enum lmr_position_kind kind;
    const double *table;   /* learned: P is (max_len, width); else unused */
    size_t max_len;        /* learned: rows of P */
    size_t width;          /* learned: columns of P, must equal d */
    double base;           /* sinusoid: frequency base, > 1 */
    int64_t start;         /* position of the first token, >= 0 */
    int scale_by_sqrt_d;   /* non-zero: multiply E[w] by sqrt(d) */
} lmr_positions;

/*
 * out[t,:] = c * E[ids[t],:] + P(start + t), c = sqrt(d) or 1.
 * out is (n,d), E is (vocab,d), ids is (n).
 * Errors: those of lmr_embed_lookup and lmr_pos_learned / lmr_pos_sinusoid;
 * LMR_EDIM when a learned table's width differs from d; LMR_EPOS when
 * start < 0 or the last position is past the table or the sinusoid limit;
 * LMR_EDOMAIN for an unknown kind.
 */
LMR_API
int lmr_compose(double *out, const double *E, const int64_t *ids,
                const lmr_positions *positions, size_t n, size_t vocab,
                size_t d);

/*
 * out = LayerNorm(compose(...)) with gamma, beta (d) and eps; out is (n,d).
 * Errors: those of lmr_compose and lmr_layernorm; LMR_ERANGE when the
 * composite overflows the double range; LMR_ENOMEM (it allocates n*d
 * doubles of scratch).
 */
LMR_API
int lmr_compose_layernorm(double *out, const double *E, const int64_t *ids,
                          const lmr_positions *positions, const double *gamma,
                          const double *beta, size_t n, size_t vocab, size_t d,
                          double eps);

#ifdef __cplusplus
}
#endif

#endif
