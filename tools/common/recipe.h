/*
 * recipe.h -- generated inputs for the large (GPT-2 size) vector files
 * (spec/format.md#generated-inputs). A file stores the recipe and a checksum
 * instead of the values; these few lines reproduce them in any language.
 */
#ifndef LMR_RECIPE_H
#define LMR_RECIPE_H

#include <stddef.h>
#include <stdint.h>

#define RECIPE_NAME "splitmix64_dyadic"

/* SplitMix64: advances *state and returns the next 64-bit output. */
uint64_t recipe_splitmix64(uint64_t *state);

/*
 * out[i] = (top `bits` bits of the i-th SplitMix64 output from `seed`, as an
 * unsigned integer, minus 2^(bits-1)) / 2^shift, for i = 0 .. count-1.
 * With bits <= 8 every value is exact in bfloat16 and binary16.
 * out is (count). bits in [1, 53], shift in [0, 1074].
 */
void recipe_dyadic(double *out, size_t count, uint64_t seed, int bits,
                   int shift);

/* FNV-1a (64-bit) over the little-endian bytes of values (count doubles). */
uint64_t recipe_fnv1a64(const double *values, size_t count);

#endif
