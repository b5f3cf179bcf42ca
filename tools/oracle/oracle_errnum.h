/*
 * oracle_errnum.h -- numbers that carry a first-order error bound, for the
 * gradient oracle (spec/tolerance.md#gradients).
 *
 * An errnum is an exact value v (MPFR, ORACLE_PREC bits, evaluated as
 * exactly as MPFR allows) and a bound e >= 0 in units of u on the absolute
 * error of a computed v. Each function implements one row of the table in
 * spec/tolerance.md#gradients. The bound e is accumulated with upward
 * rounding so that it is never underestimated.
 *
 * Usage: errnum_init / errnum_clear around every variable; results may alias
 * operands.
 */
#ifndef LMR_ORACLE_ERRNUM_H
#define LMR_ORACLE_ERRNUM_H

#include <stddef.h>
#include <stdint.h>

#include <mpfr.h>

typedef struct {
    mpfr_t v; /* the exact value */
    mpfr_t e; /* the error bound in units of u, >= 0 */
} errnum;

void errnum_init(errnum *x);
void errnum_clear(errnum *x);
void errnum_init_array(errnum *xs, size_t count);
void errnum_clear_array(errnum *xs, size_t count);

/* x = an input stored in the class: value, E = |value|. */
void errnum_input(errnum *x, double value);
/* x = an integer used as a real: value, E = |value|. */
void errnum_count(errnum *x, size_t value);
/* x = an exact constant (0, 1, 2 written in the formula): E = 0. */
void errnum_exact(errnum *x, double value);
void errnum_set(errnum *dst, const errnum *src);

void errnum_add(errnum *r, const errnum *a, const errnum *b);
void errnum_sub(errnum *r, const errnum *a, const errnum *b);
void errnum_mul(errnum *r, const errnum *a, const errnum *b);
void errnum_div(errnum *r, const errnum *a, const errnum *b);
void errnum_neg(errnum *r, const errnum *a); /* exact: E unchanged */
void errnum_exp(errnum *r, const errnum *a);
void errnum_log(errnum *r, const errnum *a); /* a > 0 */
void errnum_sqrt(errnum *r, const errnum *a);
void errnum_tanh(errnum *r, const errnum *a);

/* Sums: r = sum of the terms added since errnum_sum_begin, with the bound
 * sum E(a_i) + (N - 1) sum |a_i| + |sum a_i| (any order of summation). */
typedef struct {
    mpfr_t value, abs_sum, err_sum;
    size_t count;
    size_t inexact; /* additions into value that MPFR had to round */
} errnum_sum;
void errnum_sum_begin(errnum_sum *s);
void errnum_sum_add(errnum_sum *s, const errnum *term);
/* Ends the sum into r and clears s. An empty sum is exactly 0 (E = 0);
 * otherwise the rule of the table (for one term: E(a) + |a|). */
void errnum_sum_end(errnum *r, errnum_sum *s);

/* Rounds v to nearest and e upward into doubles. */
void errnum_get(double *value, double *scale, const errnum *x);

#endif
