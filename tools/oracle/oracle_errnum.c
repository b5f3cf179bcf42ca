/*
 * oracle_errnum.c -- numbers with a running error bound, one function per
 * row of the table in spec/tolerance.md#gradients.
 *
 * Method. An errnum holds the exact value v of a quantity (MPFR at
 * ORACLE_PREC bits, rounded to nearest: exact whenever the result fits in
 * ORACLE_PREC bits, as sums and products of a few doubles do) and a bound e
 * in units of u on the error of a computed v. Every term of a bound is
 * computed so that it is never too small:
 *  - e's own arithmetic rounds upward (all its terms are >= 0);
 *  - a magnitude such as |ab|, |a/b|, e^a or |log a| is computed with the
 *    rounding that makes it larger, or, when it is the magnitude of the
 *    nearest-rounded value, bumped by one ulp if MPFR reports the value
 *    inexact (a nearest rounding is off by less than one ulp).
 * So an exact result gives exactly the bound of the table, and an inexact
 * one a bound at most a few units of 2^-ORACLE_PREC (relative) above it.
 *
 * Every result is computed into temporaries first, so results may alias
 * operands.
 */
#include "oracle_errnum.h"

#include "oracle.h" /* ORACLE_PREC */

/* ---- set-up ----------------------------------------------------------- */

void errnum_init(errnum *x)
{
    mpfr_init2(x->v, ORACLE_PREC);
    mpfr_init2(x->e, ORACLE_PREC);
    mpfr_set_zero(x->v, 1);
    mpfr_set_zero(x->e, 1);
}

void errnum_clear(errnum *x)
{
    mpfr_clear(x->v);
    mpfr_clear(x->e);
}

/* xs: (count) */
void errnum_init_array(errnum *xs, size_t count)
{
    for (size_t i = 0; i < count; i++)
        errnum_init(&xs[i]);
}

/* xs: (count) */
void errnum_clear_array(errnum *xs, size_t count)
{
    for (size_t i = 0; i < count; i++)
        errnum_clear(&xs[i]);
}

void errnum_input(errnum *x, double value)
{
    mpfr_set_d(x->v, value, MPFR_RNDN); /* exact: 53 <= ORACLE_PREC bits */
    mpfr_abs(x->e, x->v, MPFR_RNDN);    /* exact */
}

void errnum_count(errnum *x, size_t value)
{
    mpfr_set_uj(x->v, (uintmax_t)value, MPFR_RNDN); /* exact: 64 bits */
    mpfr_set(x->e, x->v, MPFR_RNDN);
}

void errnum_exact(errnum *x, double value)
{
    mpfr_set_d(x->v, value, MPFR_RNDN);
    mpfr_set_zero(x->e, 1);
}

void errnum_set(errnum *dst, const errnum *src)
{
    mpfr_set(dst->v, src->v, MPFR_RNDN);
    mpfr_set(dst->e, src->e, MPFR_RNDN);
}

/* ---- helpers ---------------------------------------------------------- */

/* dst = an upper bound on the magnitude of the exact result that MPFR
 * rounded to nearest into value, with ternary its return value: |value|,
 * one ulp larger when the rounding was inexact. dst has ORACLE_PREC bits. */
static void magnitude_above(mpfr_t dst, const mpfr_t value, int ternary)
{
    mpfr_abs(dst, value, MPFR_RNDU);
    if (ternary != 0)
        mpfr_nextabove(dst);
}

/* Stores value and bound into r (both have ORACLE_PREC bits, so swapping
 * is a plain exchange). */
static void store(errnum *r, mpfr_t value, mpfr_t bound)
{
    mpfr_swap(r->v, value);
    mpfr_swap(r->e, bound);
}

/* ---- the rules of the table ------------------------------------------- */

/* a +- b: E(a) + E(b) + |a +- b|. sign is +1 or -1. */
static void add_signed(errnum *r, const errnum *a, const errnum *b, int sign)
{
    mpfr_t value, bound, magnitude;
    mpfr_inits2(ORACLE_PREC, value, bound, magnitude, (mpfr_ptr)0);

    int ternary = sign > 0 ? mpfr_add(value, a->v, b->v, MPFR_RNDN)
                           : mpfr_sub(value, a->v, b->v, MPFR_RNDN);
    magnitude_above(magnitude, value, ternary);
    mpfr_add(bound, a->e, b->e, MPFR_RNDU);
    mpfr_add(bound, bound, magnitude, MPFR_RNDU);

    store(r, value, bound);
    mpfr_clears(value, bound, magnitude, (mpfr_ptr)0);
}

void errnum_add(errnum *r, const errnum *a, const errnum *b)
{
    add_signed(r, a, b, +1);
}

void errnum_sub(errnum *r, const errnum *a, const errnum *b)
{
    add_signed(r, a, b, -1);
}

/* a b: |a| E(b) + |b| E(a) + |ab|. */
void errnum_mul(errnum *r, const errnum *a, const errnum *b)
{
    mpfr_t value, bound, term, abs_operand;
    mpfr_inits2(ORACLE_PREC, value, bound, term, abs_operand, (mpfr_ptr)0);

    int ternary = mpfr_mul(value, a->v, b->v, MPFR_RNDN);
    magnitude_above(bound, value, ternary);          /* |ab| */
    mpfr_abs(abs_operand, a->v, MPFR_RNDN);
    mpfr_mul(term, abs_operand, b->e, MPFR_RNDU);    /* |a| E(b) */
    mpfr_add(bound, bound, term, MPFR_RNDU);
    mpfr_abs(abs_operand, b->v, MPFR_RNDN);
    mpfr_mul(term, abs_operand, a->e, MPFR_RNDU);    /* |b| E(a) */
    mpfr_add(bound, bound, term, MPFR_RNDU);

    store(r, value, bound);
    mpfr_clears(value, bound, term, abs_operand, (mpfr_ptr)0);
}

/* a / b (b != 0): (E(a) + |a/b| E(b)) / |b| + |a/b|. */
void errnum_div(errnum *r, const errnum *a, const errnum *b)
{
    mpfr_t value, bound, quotient_abs, abs_a, abs_b;
    mpfr_inits2(ORACLE_PREC, value, bound, quotient_abs, abs_a, abs_b,
                (mpfr_ptr)0);

    mpfr_div(value, a->v, b->v, MPFR_RNDN);
    mpfr_abs(abs_a, a->v, MPFR_RNDN);
    mpfr_abs(abs_b, b->v, MPFR_RNDN);
    mpfr_div(quotient_abs, abs_a, abs_b, MPFR_RNDU);  /* |a/b|, above */
    mpfr_mul(bound, quotient_abs, b->e, MPFR_RNDU);
    mpfr_add(bound, bound, a->e, MPFR_RNDU);
    /* dividing an upper bound by a lower bound of |b| (|b| is exact) */
    mpfr_div(bound, bound, abs_b, MPFR_RNDU);
    mpfr_add(bound, bound, quotient_abs, MPFR_RNDU);

    store(r, value, bound);
    mpfr_clears(value, bound, quotient_abs, abs_a, abs_b, (mpfr_ptr)0);
}

/* -a: exact, E unchanged. */
void errnum_neg(errnum *r, const errnum *a)
{
    mpfr_neg(r->v, a->v, MPFR_RNDN);
    mpfr_set(r->e, a->e, MPFR_RNDN);
}

/* exp(a): e^a (E(a) + 2). */
void errnum_exp(errnum *r, const errnum *a)
{
    mpfr_t value, bound, power_above;
    mpfr_inits2(ORACLE_PREC, value, bound, power_above, (mpfr_ptr)0);

    mpfr_exp(value, a->v, MPFR_RNDN);
    mpfr_exp(power_above, a->v, MPFR_RNDU);
    mpfr_add_ui(bound, a->e, 2, MPFR_RNDU);
    mpfr_mul(bound, bound, power_above, MPFR_RNDU);

    store(r, value, bound);
    mpfr_clears(value, bound, power_above, (mpfr_ptr)0);
}

/* log(a), a > 0: E(a)/a + 2 |log a|. */
void errnum_log(errnum *r, const errnum *a)
{
    mpfr_t value, bound, log_magnitude;
    mpfr_inits2(ORACLE_PREC, value, bound, log_magnitude, (mpfr_ptr)0);

    mpfr_log(value, a->v, MPFR_RNDN);
    /* |log a| rounded away from zero: upward when log a >= 0, else downward */
    if (mpfr_cmp_ui(a->v, 1) >= 0)
        mpfr_log(log_magnitude, a->v, MPFR_RNDU);
    else
        mpfr_log(log_magnitude, a->v, MPFR_RNDD);
    mpfr_abs(log_magnitude, log_magnitude, MPFR_RNDN);
    mpfr_div(bound, a->e, a->v, MPFR_RNDU);
    mpfr_mul_ui(log_magnitude, log_magnitude, 2, MPFR_RNDU);
    mpfr_add(bound, bound, log_magnitude, MPFR_RNDU);

    store(r, value, bound);
    mpfr_clears(value, bound, log_magnitude, (mpfr_ptr)0);
}

/* sqrt(a), a >= 0: E(a)/(2 sqrt a) + sqrt a. At a = 0 the first term is
 * +inf when E(a) > 0 (no finite first-order bound exists) and 0 otherwise. */
void errnum_sqrt(errnum *r, const errnum *a)
{
    mpfr_t value, bound, root_below, root_above;
    mpfr_inits2(ORACLE_PREC, value, bound, root_below, root_above,
                (mpfr_ptr)0);

    mpfr_sqrt(value, a->v, MPFR_RNDN);
    mpfr_sqrt(root_below, a->v, MPFR_RNDD);
    mpfr_sqrt(root_above, a->v, MPFR_RNDU);
    if (mpfr_zero_p(root_below)) {
        if (mpfr_zero_p(a->e))
            mpfr_set_zero(bound, 1);
        else
            mpfr_set_inf(bound, 1);
    } else {
        mpfr_mul_ui(root_below, root_below, 2, MPFR_RNDD); /* exact */
        mpfr_div(bound, a->e, root_below, MPFR_RNDU);
    }
    mpfr_add(bound, bound, root_above, MPFR_RNDU);

    store(r, value, bound);
    mpfr_clears(value, bound, root_below, root_above, (mpfr_ptr)0);
}

/* tanh(a): (1 - tanh^2 a) E(a) + 2 |tanh a|, with 1 - tanh^2 a written as
 * 1/cosh^2 a so that it is never rounded below its value. */
void errnum_tanh(errnum *r, const errnum *a)
{
    mpfr_t value, bound, term;
    mpfr_inits2(ORACLE_PREC, value, bound, term, (mpfr_ptr)0);

    mpfr_tanh(value, a->v, MPFR_RNDN);
    mpfr_cosh(term, a->v, MPFR_RNDD);
    mpfr_sqr(term, term, MPFR_RNDD);
    mpfr_div(bound, a->e, term, MPFR_RNDU);
    mpfr_abs(term, a->v, MPFR_RNDN);
    mpfr_tanh(term, term, MPFR_RNDU); /* |tanh a| = tanh |a|, above */
    mpfr_mul_ui(term, term, 2, MPFR_RNDU);
    mpfr_add(bound, bound, term, MPFR_RNDU);

    store(r, value, bound);
    mpfr_clears(value, bound, term, (mpfr_ptr)0);
}

/* ---- sums ------------------------------------------------------------- */

void errnum_sum_begin(errnum_sum *s)
{
    mpfr_inits2(ORACLE_PREC, s->value, s->abs_sum, s->err_sum, (mpfr_ptr)0);
    mpfr_set_zero(s->value, 1);
    mpfr_set_zero(s->abs_sum, 1);
    mpfr_set_zero(s->err_sum, 1);
    s->count = 0;
    s->inexact = 0;
}

void errnum_sum_add(errnum_sum *s, const errnum *term)
{
    if (mpfr_add(s->value, s->value, term->v, MPFR_RNDN) != 0)
        s->inexact++;
    /* abs_sum += |term|, upward */
    if (mpfr_sgn(term->v) >= 0)
        mpfr_add(s->abs_sum, s->abs_sum, term->v, MPFR_RNDU);
    else
        mpfr_sub(s->abs_sum, s->abs_sum, term->v, MPFR_RNDU);
    mpfr_add(s->err_sum, s->err_sum, term->e, MPFR_RNDU);
    s->count++;
}

/* r = sum, E = sum E(a_i) + (N - 1) sum |a_i| + |sum a_i|. The magnitude
 * of the sum is that of the accumulated value plus, if some additions were
 * rounded, their worst error: each is at most 2^-ORACLE_PREC times a
 * partial sum, which is at most sum |a_i|. */
void errnum_sum_end(errnum *r, errnum_sum *s)
{
    mpfr_t bound, term;
    mpfr_inits2(ORACLE_PREC, bound, term, (mpfr_ptr)0);

    if (s->count == 0) {
        mpfr_set_zero(s->value, 1);
        mpfr_set_zero(bound, 1);
    } else {
        mpfr_abs(bound, s->value, MPFR_RNDN); /* |sum a_i| */
        if (s->inexact > 0) {
            mpfr_set_uj(term, (uintmax_t)s->inexact, MPFR_RNDN); /* exact */
            mpfr_mul(term, term, s->abs_sum, MPFR_RNDU);
            mpfr_div_2ui(term, term, ORACLE_PREC, MPFR_RNDU);
            mpfr_add(bound, bound, term, MPFR_RNDU);
        }
        mpfr_set_uj(term, (uintmax_t)(s->count - 1), MPFR_RNDN); /* exact */
        mpfr_mul(term, term, s->abs_sum, MPFR_RNDU);
        mpfr_add(bound, bound, term, MPFR_RNDU);
        mpfr_add(bound, bound, s->err_sum, MPFR_RNDU);
    }
    mpfr_swap(r->v, s->value);
    mpfr_swap(r->e, bound);

    mpfr_clears(bound, term, s->value, s->abs_sum, s->err_sum, (mpfr_ptr)0);
}

/* ---- output ----------------------------------------------------------- */

void errnum_get(double *value, double *scale, const errnum *x)
{
    *value = mpfr_get_d(x->v, MPFR_RNDN);
    *scale = mpfr_get_d(x->e, MPFR_RNDU);
}
