/*
 * oracle_internal.h -- helpers shared by the oracle's source files
 * (tools/oracle_embed.c, tools/oracle_sinusoid.c, tools/oracle_layernorm.c).
 * Not part of the oracle's interface, which is tools/oracle.h.
 */
#ifndef LMR_ORACLE_INTERNAL_H
#define LMR_ORACLE_INTERNAL_H

#include <stddef.h>
#include <stdint.h> /* before mpfr.h: declares mpfr_set_sj and mpfr_set_uj */

#include <mpfr.h>

#include "oracle.h"

/* The largest position of spec/sinusoid.md: 2^53. */
#define ORACLE_MAX_POSITION ((int64_t)1 << 53)

/* ---- argument checks (tools/oracle_embed.c) ---- */

/* 1 if a rows x cols table of doubles has a byte size that fits in size_t. */
int oracle_table_fits(size_t rows, size_t cols);

/* 1 if every element is finite.
 * values: (count) */
int oracle_all_finite(const double *values, size_t count);

/* 1 if 0 <= index[t] < limit for every t.
 * index: (n) */
int oracle_indices_below(const int64_t *index, size_t n, size_t limit);

/* 1 if the output arguments of an op with n rows can be written. */
int oracle_outputs_ok(const double *y, const double *scale, const double *k,
                      size_t n);

/* Sets x to the size v, exactly. x must have at least 64 bits. */
void oracle_set_size(mpfr_t x, size_t v);

/* ---- sinusoidal encoding (tools/oracle_sinusoid.c) ---- */

/* 1 if d and base are valid parameters of spec/sinusoid.md. */
int oracle_sinusoid_params_ok(size_t d, double base);

/* Inits log_base at ORACLE_PREC bits and sets it to ln(base). The caller
 * clears it. */
void oracle_sinusoid_init_log_base(mpfr_t log_base, double base);

/* value = PE(p, j) of spec/sinusoid.md, rounded to the precision of value;
 * scale = 1 + |theta| (1 + |ln omega_i|) of spec/tolerance.md#sinusoid,
 * rounded upward. log_base is ln(base) from oracle_sinusoid_init_log_base. */
void oracle_sinusoid_element(mpfr_t value, mpfr_t scale, int64_t p, size_t j,
                             size_t d, const mpfr_t log_base);

/* ---- composite input (tools/oracle_embed.c) ---- */

/* What the composite needs besides its per-element inputs; see
 * oracle_compose_begin. */
typedef struct {
    const oracle_positions *pos;
    size_t d;
    mpfr_t token_factor;   /* c: sqrt(d) or 1 */
    mpfr_t log_base;       /* ln(base); 0 for learned positions */
    mpfr_t token_entry;    /* scratch: E[w, j] */
    mpfr_t position_term;  /* scratch: P(p)[j] */
    mpfr_t position_scale; /* scratch: S_P */
    mpfr_t token_scale;    /* scratch: |c E[w, j]| */
} oracle_compose_state;

/* 1 if the inputs of spec/embedding.md#compose are valid.
 * E: (V, d); ids: (n) */
int oracle_compose_inputs_ok(const double *E, const int64_t *ids,
                             const oracle_positions *pos,
                             size_t n, size_t V, size_t d);

/* Prepares state for a composite of width d; undo with oracle_compose_end.
 * pos must stay valid until then. */
void oracle_compose_begin(oracle_compose_state *state,
                          const oracle_positions *pos, size_t d);

/* value = c * token_entry + P(position)[j], rounded once to the precision of
 * value; scale = |value| + |c * token_entry| + S_P
 * (spec/tolerance.md#compose), rounded upward. */
void oracle_compose_element(mpfr_t value, mpfr_t scale,
                            oracle_compose_state *state,
                            double token_entry, int64_t position, size_t j);

/* Frees what oracle_compose_begin allocated. */
void oracle_compose_end(oracle_compose_state *state);

#endif
