/* gen_random.c -- see gen_random.h. */
#include "gen_random.h"

#include <math.h>

gsl_rng *gen_rng(unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    return rng;
}

void gen_dyadic(gsl_rng *rng, double *out, size_t count, int shift,
                int max_numerator)
{
    unsigned long span = 2ul * (unsigned long)max_numerator + 1ul;
    for (size_t i = 0; i < count; i++) {
        long numerator = (long)gsl_rng_uniform_int(rng, span) - max_numerator;
        out[i] = ldexp((double)numerator, -shift);
    }
}

void gen_uniform53(gsl_rng *rng, double *out, size_t count, double lo,
                   double hi)
{
    for (size_t i = 0; i < count; i++) {
        /* 27 + 26 random bits make a 53-bit fraction in [0, 1) */
        double high = (double)(gsl_rng_get(rng) >> 5);
        double low = (double)(gsl_rng_get(rng) >> 6);
        double unit = ldexp(high * 67108864.0 + low, -53);
        out[i] = lo + (hi - lo) * unit;
    }
}

void gen_ids(gsl_rng *rng, int64_t *out, size_t n, size_t vocab)
{
    for (size_t t = 0; t < n; t++)
        out[t] = (int64_t)gsl_rng_uniform_int(rng, vocab);
}
