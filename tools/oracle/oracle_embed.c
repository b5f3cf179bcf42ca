/*
 * oracle_embed.c -- the oracle of spec/embedding.md: the copy ops (token
 * lookup, one-hot product, learned positions) and the composite input, plus
 * the argument checks that the other oracle files share.
 *
 * The copy ops do no arithmetic: their expected value is the input element
 * itself and their scale is its magnitude (spec/tolerance.md#copy, K = 1).
 */
#include <stdint.h>

#include <mpfr.h>

#include "oracle.h"
#include "oracle_internal.h"
#include "oracle_validate.h"

/* K of spec/tolerance.md#copy and spec/tolerance.md#compose. */
static const double COPY_K = 1.0;
static const double COMPOSE_K = 4.0;

/* ---- argument checks ---- */

int oracle_table_fits(size_t rows, size_t cols)
{
    return rows == 0 || cols <= SIZE_MAX / sizeof(double) / rows;
}

int oracle_outputs_ok(const double *y, const double *scale, const double *k,
                      size_t n)
{
    return k != NULL && (n == 0 || (y != NULL && scale != NULL));
}

void oracle_set_size(mpfr_t x, size_t v)
{
    mpfr_set_uj(x, (uintmax_t)v, MPFR_RNDN);
}

/* ---- the copy ops ---- */

/* The scale of a copied element: |g|, as +0 for either zero.
 * Computed in MPFR and rounded upward, like every scale (it is exact). */
static double copy_scale(mpfr_t work, double g)
{
    mpfr_set_d(work, g, MPFR_RNDN);
    mpfr_abs(work, work, MPFR_RNDU);
    return mpfr_get_d(work, MPFR_RNDU);
}

/* y[t,:] = table[row[t],:] and scale = |y|, element by element.
 * y, scale: (n, d); table: (rows, d); row: (n), already checked in range */
static void copy_rows(double *y, double *scale, const double *table,
                      const int64_t *row, size_t n, size_t d)
{
    mpfr_t work;
    mpfr_init2(work, ORACLE_PREC);
    for (size_t t = 0; t < n; t++) {
        const double *source = table + (size_t)row[t] * d;
        for (size_t j = 0; j < d; j++) {
            y[t * d + j] = source[j];
            scale[t * d + j] = copy_scale(work, source[j]);
        }
    }
    mpfr_clear(work);
}

/* spec/embedding.md#lookup. Contract: tools/oracle/oracle.h. */
int oracle_embed_lookup(double *y, double *scale, double *k,
                        const double *E, const int64_t *ids,
                        size_t n, size_t V, size_t d)
{
    if (!oracle_outputs_ok(y, scale, k, n)
        || oracle_check_embed_lookup(oracle_mat(E, V, d), oracle_ints_of(ids, n))
               != ORACLE_OK)
        return -1;
    copy_rows(y, scale, E, ids, n, d);
    *k = COPY_K;
    return 0;
}

/* spec/embedding.md#learned. Contract: tools/oracle/oracle.h. */
int oracle_pos_learned(double *y, double *scale, double *k,
                       const double *P, const int64_t *positions,
                       size_t n, size_t L, size_t d)
{
    if (!oracle_outputs_ok(y, scale, k, n)
        || oracle_check_pos_learned(oracle_mat(P, L, d),
                                    oracle_ints_of(positions, n)) != ORACLE_OK)
        return -1;
    copy_rows(y, scale, P, positions, n, d);
    *k = COPY_K;
    return 0;
}

/* If onehot_row is a one-hot row (every entry exactly 0 or 1, exactly one 1),
 * stores the column of its 1 in *hot and returns 1; otherwise returns 0.
 * onehot_row: (V) */
static int hot_column(const double *onehot_row, size_t V, size_t *hot)
{
    size_t ones = 0;
    for (size_t v = 0; v < V; v++) {
        if (onehot_row[v] == 1.0) {
            *hot = v;
            ones++;
        } else if (onehot_row[v] != 0.0) {
            return 0;
        }
    }
    return ones == 1;
}

/* spec/embedding.md#onehot. Contract: tools/oracle/oracle.h.
 * Y[t,j] = sum_v onehot[t,v] E[v,j] has the single non-zero term E[hot,j]
 * (E is finite), so it equals that entry; a zero sum is the real number 0,
 * written +0 (spec/embedding.md#onehot, "Signed zeros"). */
int oracle_embed_onehot(double *y, double *scale, double *k,
                        const double *onehot, const double *E,
                        size_t n, size_t V, size_t d)
{
    if (!oracle_outputs_ok(y, scale, k, n)
        || oracle_check_embed_onehot(oracle_mat(onehot, n, V),
                                     oracle_mat(E, V, d)) != ORACLE_OK)
        return -1;
    mpfr_t work;
    mpfr_init2(work, ORACLE_PREC);
    for (size_t t = 0; t < n; t++) {
        size_t hot = 0;
        hot_column(onehot + t * V, V, &hot);
        for (size_t j = 0; j < d; j++) {
            double g = E[hot * d + j];
            y[t * d + j] = (g == 0.0) ? 0.0 : g;
            scale[t * d + j] = copy_scale(work, g);
        }
    }
    mpfr_clear(work);
    *k = COPY_K;
    return 0;
}

oracle_position_views oracle_position_views_of(const oracle_positions *pos,
                                               size_t d)
{
    oracle_position_views views = {
        pos->learned, pos->learned ? oracle_mat(pos->P, pos->L, d)
                                   : oracle_absent(),
        pos->start, pos->base};
    return views;
}

void oracle_compose_begin(oracle_compose_state *state,
                          const oracle_positions *pos, size_t d)
{
    state->pos = pos;
    state->d = d;
    mpfr_inits2(ORACLE_PREC, state->token_factor, state->token_entry,
                state->position_term, state->position_scale,
                state->token_scale, (mpfr_ptr)0);
    oracle_set_size(state->token_factor, pos->scale_by_sqrt_d ? d : 1);
    mpfr_sqrt(state->token_factor, state->token_factor, MPFR_RNDN);
    if (pos->learned) {
        mpfr_init2(state->log_base, ORACLE_PREC);
        mpfr_set_zero(state->log_base, 1);
    } else {
        oracle_sinusoid_init_log_base(state->log_base, pos->base);
    }
}

/* Sets state->position_term = P(position)[j] and state->position_scale =
 * S_P of spec/tolerance.md#compose. */
static void position_element(oracle_compose_state *state, int64_t position,
                             size_t j)
{
    const oracle_positions *pos = state->pos;
    if (pos->learned) {
        double entry = pos->P[(size_t)position * state->d + j];
        mpfr_set_d(state->position_term, entry, MPFR_RNDN);
        mpfr_abs(state->position_scale, state->position_term, MPFR_RNDU);
    } else {
        oracle_sinusoid_element(state->position_term, state->position_scale,
                                position, j, state->d, state->log_base);
    }
}

void oracle_compose_element(mpfr_t value, mpfr_t scale,
                            oracle_compose_state *state,
                            double token_entry, int64_t position, size_t j)
{
    position_element(state, position, j);
    mpfr_set_d(state->token_entry, token_entry, MPFR_RNDN);
    /* X = c E + P(p), one rounding at the precision of value */
    mpfr_fma(value, state->token_factor, state->token_entry,
             state->position_term, MPFR_RNDN);
    /* s = |X| + |c E| + S_P, rounded upward at every step */
    mpfr_mul(state->token_scale, state->token_factor, state->token_entry,
             MPFR_RNDA);
    mpfr_abs(state->token_scale, state->token_scale, MPFR_RNDU);
    mpfr_abs(scale, value, MPFR_RNDU);
    mpfr_add(scale, scale, state->token_scale, MPFR_RNDU);
    mpfr_add(scale, scale, state->position_scale, MPFR_RNDU);
}

void oracle_compose_end(oracle_compose_state *state)
{
    mpfr_clears(state->token_factor, state->log_base, state->token_entry,
                state->position_term, state->position_scale,
                state->token_scale, (mpfr_ptr)0);
}

/* spec/embedding.md#compose. Contract: tools/oracle/oracle.h. */
int oracle_compose(double *x, double *scale, double *k,
                   const double *E, const int64_t *ids,
                   const oracle_positions *pos,
                   size_t n, size_t V, size_t d)
{
    if (pos == NULL || !oracle_outputs_ok(x, scale, k, n))
        return -1;
    oracle_position_views views = oracle_position_views_of(pos, d);
    if (oracle_check_compose(oracle_mat(E, V, d), oracle_ints_of(ids, n),
                             &views) != ORACLE_OK)
        return -1;
    oracle_compose_state state;
    mpfr_t value, element_scale;
    mpfr_inits2(ORACLE_PREC, value, element_scale, (mpfr_ptr)0);
    oracle_compose_begin(&state, pos, d);
    for (size_t t = 0; t < n; t++) {
        const double *token_row = E + (size_t)ids[t] * d;
        int64_t position = pos->start + (int64_t)t;
        for (size_t j = 0; j < d; j++) {
            oracle_compose_element(value, element_scale, &state,
                                   token_row[j], position, j);
            x[t * d + j] = mpfr_get_d(value, MPFR_RNDN);
            scale[t * d + j] = mpfr_get_d(element_scale, MPFR_RNDU);
        }
    }
    oracle_compose_end(&state);
    mpfr_clears(value, element_scale, (mpfr_ptr)0);
    *k = COMPOSE_K;
    return 0;
}
