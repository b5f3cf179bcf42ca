/*
 * oracle_internal.h -- helpers shared by the oracle's source files
 * (tools/oracle/oracle_embed.c, tools/oracle/oracle_sinusoid.c, tools/oracle/oracle_layernorm.c,
 * and the output side: tools/oracle/oracle_head.c, tools/oracle/oracle_softmax.c,
 * tools/oracle/oracle_sample.c, tools/oracle/oracle_lens.c). Not part of the oracle's
 * interface, which is tools/oracle/oracle.h and tools/oracle/oracle_head.h.
 */
#ifndef LMR_ORACLE_INTERNAL_H
#define LMR_ORACLE_INTERNAL_H

#include <stddef.h>
#include <stdint.h> /* before mpfr.h: declares mpfr_set_sj and mpfr_set_uj */

#include <mpfr.h>

#include "oracle.h"
#include "oracle_head.h"
#include "oracle_validate.h"

/* ---- argument checks (tools/oracle/oracle_embed.c) ---- */

/* 1 if a rows x cols table of doubles has a byte size that fits in size_t. */
int oracle_table_fits(size_t rows, size_t cols);

/* 1 if the output arguments of an op with n rows can be written. */
int oracle_outputs_ok(const double *y, const double *scale, const double *k,
                      size_t n);

/* Sets x to the size v, exactly. x must have at least 64 bits. */
void oracle_set_size(mpfr_t x, size_t v);

/* ---- sinusoidal encoding (tools/oracle/oracle_sinusoid.c) ---- */

/* Inits log_base at ORACLE_PREC bits and sets it to ln(base). The caller
 * clears it. */
void oracle_sinusoid_init_log_base(mpfr_t log_base, double base);

/* value = PE(p, j) of spec/sinusoid.md, rounded to the precision of value;
 * scale = 1 + |theta| (1 + |ln omega_i|) of spec/tolerance.md#sinusoid,
 * rounded upward. log_base is ln(base) from oracle_sinusoid_init_log_base. */
void oracle_sinusoid_element(mpfr_t value, mpfr_t scale, int64_t p, size_t j,
                             size_t d, const mpfr_t log_base);

/* ---- composite input (tools/oracle/oracle_embed.c) ---- */

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

/* The position source pos of a composite of width d as the checks of
 * tools/oracle/oracle_validate.h take it. */
oracle_position_views oracle_position_views_of(const oracle_positions *pos,
                                               size_t d);

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

/* ---- LayerNorm of one row for the logit lens (tools/oracle/oracle_layernorm.c) */

/* y = LayerNorm(x; gamma, beta, eps) of spec/layernorm.md at ORACLE_PREC
 * bits, not rounded to double, and scale_row = its scale s_j of
 * spec/tolerance.md#layernorm, rounded upward. Returns -1 if memory runs out.
 * y, x: (d) at ORACLE_PREC bits; scale_row, gamma, beta: (d) */
int oracle_layernorm_row(mpfr_t *y, double *scale_row, mpfr_t *x,
                         const double *gamma, const double *beta, size_t d,
                         double eps);

/* ---- output side: shared machinery (tools/oracle/oracle_softmax.c,
 *      tools/oracle/oracle_head.c, tools/oracle/oracle_sample.c) ---- */

/* count numbers at ORACLE_PREC bits, each +0, or NULL if memory runs out.
 * Free with oracle_numbers_free. */
mpfr_t *oracle_numbers_new(size_t count);

/* numbers: (count) from oracle_numbers_new, or NULL */
void oracle_numbers_free(mpfr_t *numbers, size_t count);

/* One row of spec/softmax.md, evaluated exactly (see tools/oracle/oracle_softmax.c).
 * The caller fills u and masked (or uses oracle_softmax_row_load), then
 * calls oracle_softmax_row_compute. */
typedef struct {
    size_t V;              /* row length |V| */
    unsigned char *masked; /* (V): 1 where u_i = -inf */
    mpfr_t *u;             /* (V): the logits; unused where masked */
    mpfr_t *z;             /* (V): z_i = (u_i - a)/tau */
    mpfr_t *weight;        /* (V): exp(z_i); exactly 1 where u_i = a */
    mpfr_t *y;             /* (V): exp(z_i)/S; 0 where masked */
    mpfr_t *e;             /* (V): e_i of spec/tolerance.md#softmax */
    mpfr_t *scale;         /* (V): softmax scale s_i, rounded upward; 0 where
                              masked */
    size_t unmasked;       /* M */
    size_t argmax;         /* the lowest index with u_i = a */
    mpfr_t max;            /* a */
    mpfr_t sum;            /* S */
    mpfr_t log_sum;        /* log S */
    mpfr_t mean_error;     /* e-bar = sum_j y_j e_j */
} oracle_softmax_row;

/* Allocates a row of length V. Returns -1 if memory runs out (the row is
 * then already cleared). */
int oracle_softmax_row_init(oracle_softmax_row *row, size_t V);

/* Frees what oracle_softmax_row_init allocated. */
void oracle_softmax_row_clear(oracle_softmax_row *row);

/* Sets u and masked from a row of doubles (exactly). Returns -1 if the row
 * holds +inf or NaN or has no finite entry (spec/softmax.md).
 * logits: (V) */
int oracle_softmax_row_load(oracle_softmax_row *row, const double *logits);

/* Computes a, z, weight, S, log S, y, e, e-bar and scale from u and masked
 * (at least one entry unmasked) with temperature tau. lambda, when not NULL,
 * adds the logit uncertainty of spec/tolerance.md#lens:
 * e_i = 3|z_i| + (|u_i| + |a| + lambda_i + lambda_a)/tau.
 * lambda: (V) or NULL */
void oracle_softmax_row_compute(oracle_softmax_row *row, double tau,
                                mpfr_t *lambda);

/* The bit positions that a set of numbers occupies. */
typedef struct {
    int any;           /* 0 when every number is zero */
    mpfr_exp_t top;    /* every |x| < 2^top */
    mpfr_exp_t bottom; /* every x is an integer multiple of 2^bottom */
} oracle_bit_span;

/* span of the doubles values[0 .. count).
 * values: (count) */
void oracle_bit_span_of_doubles(oracle_bit_span *span, const double *values,
                                size_t count);

/* span of the MPFR numbers values[0 .. count), from their precisions.
 * values: (count) */
void oracle_bit_span_of_numbers(oracle_bit_span *span, mpfr_t *values,
                                size_t count);

/* Bits (at least ORACLE_PREC) that hold exactly every partial sum of up to
 * 2^64 products x_j w_j, plus an optional bias (NULL: none), with x, w and
 * bias in the given spans. */
mpfr_prec_t oracle_dot_precision(const oracle_bit_span *x,
                                 const oracle_bit_span *w,
                                 const oracle_bit_span *bias);

/* sum = sum_j x_j w[j * stride] and magnitude = sum_j |x_j w[j * stride]|,
 * both exact: sum and magnitude must have oracle_dot_precision bits.
 * x: (d) with at most ORACLE_PREC bits each; w: (d) with stride stride */
void oracle_exact_dot(mpfr_t sum, mpfr_t magnitude, mpfr_t *x,
                      const double *w, size_t stride, size_t d);

/* ---- exact zeros (tools/oracle/oracle_exact_zero.c) ---- */

/* zero[i] = 1 where softmax's (take_log 0) or log-softmax's (1) dlogits_i
 * is exactly 0 over the reals, decided exactly from the stored logits and
 * upstream gradient G; 0 elsewhere, and at masked entries (which the caller
 * handles). 0, or -1 if memory runs out or every entry is masked.
 * zero, logits, G, masked: (V) */
int oracle_softmax_grad_zeros(unsigned char *zero, const double *logits,
                              const double *G, const unsigned char *masked,
                              size_t V, int take_log);

/* ---- precision classes (tools/oracle/oracle_sample.c) ---- */

/* lo, hi = value -/+ (factor u_c scale + f_c) for class c of
 * spec/tolerance.md, rounded outward to doubles. */
void oracle_class_interval(double *lo, double *hi, const mpfr_t value,
                           const mpfr_t scale, unsigned factor, int c);

#endif
