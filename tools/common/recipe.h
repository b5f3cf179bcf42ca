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

/* As recipe_dyadic, continuing from the generator state *state (seed it
 * with the seed): two calls of n and m values give the n + m values of one
 * call, so a long input can be made block by block. */
void recipe_dyadic_continue(double *out, size_t count, uint64_t *state,
                            int bits, int shift);

/* FNV-1a (64-bit) over the little-endian bytes of values (count doubles). */
#define RECIPE_FNV_OFFSET 0xcbf29ce484222325u
uint64_t recipe_fnv1a64(const double *values, size_t count);

/* As recipe_fnv1a64, continuing from hash (RECIPE_FNV_OFFSET to start):
 * block by block, the same result as over the whole array. */
uint64_t recipe_fnv1a64_continue(uint64_t hash, const double *values,
                                 size_t count);

#endif
