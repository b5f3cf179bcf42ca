/* gen_random.c -- see gen_random.h. */
#include "gen_random.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

double *gen_draw_values(gsl_rng *rng, size_t count, int full_precision)
{
    double *values = calloc(count + 1, sizeof(double));
    if (values != NULL && full_precision)
        gen_uniform53(rng, values, count, -1.0, 1.0);
    else if (values != NULL)
        gen_dyadic(rng, values, count, 6, 127);
    return values;
}

const char *gen_draw_recipe(int full_precision)
{
    return full_precision
        ? "inputs in the order listed: 53-bit uniform in [-1, 1)"
        : "inputs in the order listed: k/64, k uniform in [-127, 127]";
}

void gen_draws_init(gen_draws *bag, unsigned long seed, int full_precision)
{
    memset(bag, 0, sizeof *bag);
    bag->rng = gen_rng(seed);
    bag->full_precision = full_precision;
}

double *gen_draw(gen_draws *bag, size_t count)
{
    double *values = gen_draw_values(bag->rng, count, bag->full_precision);
    bag->arrays[bag->count++] = values;
    return values;
}

void gen_draws_free(gen_draws *bag)
{
    for (size_t i = 0; i < bag->count; i++)
        free(bag->arrays[i]);
    gsl_rng_free(bag->rng);
}
