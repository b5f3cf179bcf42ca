/*
 * lmr_params.h -- parameter counts with and without weight tying
 * (spec/param_count.md; vectors/param_count.json).
 */
#ifndef LMR_PARAMS_H
#define LMR_PARAMS_H

#include <stdint.h>

#include "lmr_api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int64_t untied;      /* 2 |V| d + B */
    int64_t tied;        /* |V| d + B */
    int64_t saving;      /* |V| d */
    double relative;     /* saving / untied */
} lmr_param_counts;

/*
 * Exact counts for vocab |V| >= 1, width d >= 1 and block_params B >= 0.
 * Errors: LMR_EDOMAIN (a count out of range), LMR_EOVERFLOW (a count does
 * not fit in int64), LMR_EINVAL (counts is NULL).
 */
LMR_API
int lmr_param_count(lmr_param_counts *counts, int64_t vocab, int64_t d,
                    int64_t block_params);

#ifdef __cplusplus
}
#endif

#endif
