/*
 * oracle_sinusoid.c -- the oracle of spec/sinusoid.md.
 *
 * For column j of position p: i = floor(j/2), ln omega_i = -(2i/d) ln(base),
 * omega_i = exp(ln omega_i), theta = p * omega_i, and the element is
 * sin(theta) for even j, cos(theta) for odd j. Every step is an MPFR
 * operation at ORACLE_PREC bits on the exact integer p and the exact double
 * base. theta < 2^53 leaves more than 200 bits after its binary point, far
 * more than the final rounding to double needs.
 *
 * Scale (spec/tolerance.md#sinusoid): s = 1 + |theta| (1 + |ln omega_i|),
 * K = 4.
 */
#include <stdint.h>

#include <mpfr.h>

#include "oracle.h"
#include "oracle_internal.h"

static const double SINUSOID_K = 4.0;

void oracle_sinusoid_init_log_base(mpfr_t log_base, double base)
{
    mpfr_init2(log_base, ORACLE_PREC);
    mpfr_set_d(log_base, base, MPFR_RNDN);
    mpfr_log(log_base, log_base, MPFR_RNDN);
}

/* log_omega = ln omega_i = -(2i/d) ln(base), i = floor(j/2). */
static void log_frequency(mpfr_t log_omega, size_t j, size_t d,
                          const mpfr_t log_base)
{
    mpfr_t width; /* d */
    mpfr_init2(width, ORACLE_PREC);
    oracle_set_size(width, d);
    oracle_set_size(log_omega, 2 * (j / 2));
    mpfr_mul(log_omega, log_omega, log_base, MPFR_RNDN);
    mpfr_div(log_omega, log_omega, width, MPFR_RNDN);
    mpfr_neg(log_omega, log_omega, MPFR_RNDN);
    mpfr_clear(width);
}

void oracle_sinusoid_element(mpfr_t value, mpfr_t scale, int64_t p, size_t j,
                             size_t d, const mpfr_t log_base)
{
    mpfr_t log_omega, angle; /* ln omega_i; then omega_i and theta */
    mpfr_t position;         /* p, exact */
    mpfr_inits2(ORACLE_PREC, log_omega, angle, position, (mpfr_ptr)0);
    log_frequency(log_omega, j, d, log_base);
    mpfr_set_sj(position, (intmax_t)p, MPFR_RNDN);
    mpfr_exp(angle, log_omega, MPFR_RNDN);           /* omega_i */
    mpfr_mul(angle, angle, position, MPFR_RNDN);     /* theta = p omega_i */
    if (j % 2 == 0)
        mpfr_sin(value, angle, MPFR_RNDN);
    else
        mpfr_cos(value, angle, MPFR_RNDN);
    /* s = 1 + |theta| (1 + |ln omega_i|), rounded upward at every step */
    mpfr_abs(log_omega, log_omega, MPFR_RNDU);
    mpfr_abs(angle, angle, MPFR_RNDU);
    mpfr_add_ui(scale, log_omega, 1, MPFR_RNDU);
    mpfr_mul(scale, scale, angle, MPFR_RNDU);
    mpfr_add_ui(scale, scale, 1, MPFR_RNDU);
    mpfr_clears(log_omega, angle, position, (mpfr_ptr)0);
}

/* spec/sinusoid.md. Contract: tools/oracle/oracle.h. */
int oracle_pos_sinusoid(double *y, double *scale, double *k,
                        const int64_t *positions, size_t n, size_t d,
                        double base)
{
    if (!oracle_outputs_ok(y, scale, k, n)
        || oracle_check_pos_sinusoid(oracle_ints_of(positions, n), d, base)
               != ORACLE_OK)
        return -1;
    mpfr_t log_base, value, element_scale;
    oracle_sinusoid_init_log_base(log_base, base);
    mpfr_inits2(ORACLE_PREC, value, element_scale, (mpfr_ptr)0);
    for (size_t t = 0; t < n; t++) {
        for (size_t j = 0; j < d; j++) {
            oracle_sinusoid_element(value, element_scale, positions[t], j, d,
                                    log_base);
            y[t * d + j] = mpfr_get_d(value, MPFR_RNDN);
            scale[t * d + j] = mpfr_get_d(element_scale, MPFR_RNDU);
        }
    }
    mpfr_clears(log_base, value, element_scale, (mpfr_ptr)0);
    *k = SINUSOID_K;
    return 0;
}
