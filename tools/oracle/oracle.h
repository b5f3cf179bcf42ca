/*
 * oracle.h -- the MPFR oracle that computes every expected value and every
 * tolerance scale written into vectors/.
 *
 * Contract shared by every function below:
 *  - Inputs are exact doubles (and int64 ids/positions). The op is evaluated
 *    over the real numbers with MPFR at ORACLE_PREC bits and each expected
 *    element is rounded ONCE to the nearest double (MPFR_RNDN).
 *  - Each scale element s (spec/tolerance.md) is computed in MPFR and rounded
 *    UPWARD (MPFR_RNDU) to a double. *k receives the op's K constant.
 *  - No libm, no BLAS, no code from ref/: the vectors must be the same bytes
 *    on every platform and must not share arithmetic with the reference.
 *  - The caller (the generator) only passes inputs that the spec calls valid;
 *    a function returns 0 on success and -1 if it detects a violated
 *    precondition anyway (it never aborts).
 *  - Array arguments are flat row-major; shapes are given in the comments.
 */
#ifndef LMR_ORACLE_H
#define LMR_ORACLE_H

#include <stddef.h>
#include <stdint.h>

/* The working precision in bits: 256 unless the caller sets
 * oracle_precision first (lmr-gen --precision; the exactness check runs the
 * oracle at a second precision and requires the same doubles). */
extern long oracle_precision;
#define ORACLE_PREC oracle_precision

/* spec/embedding.md#lookup: y[t,:] = E[ids[t],:]
 * y, scale: (n, d); E: (V, d); ids: (n) */
int oracle_embed_lookup(double *y, double *scale, double *k,
                        const double *E, const int64_t *ids,
                        size_t n, size_t V, size_t d);

/* spec/embedding.md#onehot: y = onehot E
 * y, scale: (n, d); onehot: (n, V); E: (V, d) */
int oracle_embed_onehot(double *y, double *scale, double *k,
                        const double *onehot, const double *E,
                        size_t n, size_t V, size_t d);

/* spec/embedding.md#learned: y[t,:] = P[positions[t],:]
 * y, scale: (n, d); P: (L, d); positions: (n) */
int oracle_pos_learned(double *y, double *scale, double *k,
                       const double *P, const int64_t *positions,
                       size_t n, size_t L, size_t d);

/* spec/sinusoid.md: y[t,j] = sin/cos(positions[t] * base^(-2*floor(j/2)/d))
 * y, scale: (n, d); positions: (n) */
int oracle_pos_sinusoid(double *y, double *scale, double *k,
                        const int64_t *positions, size_t n, size_t d,
                        double base);

/* Where the composite's position term comes from (spec/embedding.md#compose). */
typedef struct {
    int learned;         /* 1: rows of P; 0: sinusoidal encoding with base */
    const double *P;     /* (L, d) when learned, else NULL */
    size_t L;            /* rows of P when learned */
    double base;         /* sinusoid base when !learned */
    int64_t start;       /* position of the first token, >= 0 */
    int scale_by_sqrt_d; /* 1: multiply E[w] by sqrt(d) */
} oracle_positions;

/* spec/embedding.md#compose: x[t,:] = c*E[ids[t],:] + P(start+t)
 * x, scale: (n, d); E: (V, d); ids: (n) */
int oracle_compose(double *x, double *scale, double *k,
                   const double *E, const int64_t *ids,
                   const oracle_positions *pos,
                   size_t n, size_t V, size_t d);

/* spec/layernorm.md: y[t,:] = gamma * (x - mean)/sqrt(var + eps) + beta
 * y, scale, x: (n, d); gamma, beta: (d) */
int oracle_layernorm(double *y, double *scale, double *k,
                     const double *x, const double *gamma, const double *beta,
                     size_t n, size_t d, double eps);

/* spec/layernorm.md#compose: LayerNorm(compose(...)), scale per
 * spec/tolerance.md#compose_layernorm.
 * y, scale: (n, d); E: (V, d); ids: (n); gamma, beta: (d) */
int oracle_compose_layernorm(double *y, double *scale, double *k,
                             const double *E, const int64_t *ids,
                             const oracle_positions *pos,
                             const double *gamma, const double *beta,
                             size_t n, size_t V, size_t d, double eps);

#endif
