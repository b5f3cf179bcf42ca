/* recipe.c -- see recipe.h. */
#include "recipe.h"

#include <math.h>
#include <string.h>

uint64_t recipe_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

void recipe_dyadic_continue(double *out, size_t count, uint64_t *state,
                            int bits, int shift)
{
    int64_t offset = (int64_t)1 << (bits - 1);
    for (size_t i = 0; i < count; i++) {
        int64_t numerator = (int64_t)(recipe_splitmix64(state) >> (64 - bits));
        out[i] = ldexp((double)(numerator - offset), -shift);
    }
}

void recipe_dyadic(double *out, size_t count, uint64_t seed, int bits,
                   int shift)
{
    uint64_t state = seed;
    recipe_dyadic_continue(out, count, &state, bits, shift);
}

uint64_t recipe_fnv1a64(const double *values, size_t count)
{
    return recipe_fnv1a64_continue(RECIPE_FNV_OFFSET, values, count);
}

uint64_t recipe_fnv1a64_continue(uint64_t hash, const double *values,
                                 size_t count)
{
    for (size_t i = 0; i < count; i++) {
        uint64_t bits;
        memcpy(&bits, &values[i], sizeof bits);
        for (int byte = 0; byte < 8; byte++) { /* little-endian order */
            hash ^= (bits >> (8 * byte)) & 0xffu;
            hash *= 0x100000001b3u;
        }
    }
    return hash;
}
