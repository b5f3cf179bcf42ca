/*
 * gen_random.h -- reproducible input draws for the generator. All draws use
 * GSL's mt19937 seeded explicitly; the seed and recipe are written into each
 * case, and the drawn values themselves are written out in full, so no
 * consumer ever needs this code.
 */
#ifndef LMR_GEN_RANDOM_H
#define LMR_GEN_RANDOM_H

#include <stddef.h>
#include <stdint.h>

#include <gsl/gsl_rng.h>

gsl_rng *gen_rng(unsigned long seed);

/* out[i] = k / 2^shift, k uniform in [-max_numerator, max_numerator].
 * With max_numerator <= 255 every value is exact in bfloat16 and binary16
 * (as long as it stays in their normal range). out is (count). */
void gen_dyadic(gsl_rng *rng, double *out, size_t count, int shift,
                int max_numerator);

/* out[i] uniform in [lo, hi) with all 53 significand bits random. */
void gen_uniform53(gsl_rng *rng, double *out, size_t count, double lo,
                   double hi);

/* out[t] uniform in [0, vocab). out is (n). */
void gen_ids(gsl_rng *rng, int64_t *out, size_t n, size_t vocab);

/* The draw most small cases use: a new array of count values (calloc'd, one
 * spare element), k/64 with k uniform in [-127, 127], or with full_precision
 * 53-bit uniform in [-1, 1). */
double *gen_draw_values(gsl_rng *rng, size_t count, int full_precision);
/* The recipe text of gen_draw_values, for gen_source. */
const char *gen_draw_recipe(int full_precision);

/* A bag of arrays drawn one after another with gen_draw_values from one
 * seed, freed together. */
#define GEN_DRAWS_MAX 10
typedef struct {
    double *arrays[GEN_DRAWS_MAX];
    size_t count;
    gsl_rng *rng;
    int full_precision;
} gen_draws;

void gen_draws_init(gen_draws *bag, unsigned long seed, int full_precision);
/* The next array of count values (at most GEN_DRAWS_MAX per bag). */
double *gen_draw(gen_draws *bag, size_t count);
void gen_draws_free(gen_draws *bag);

#endif
