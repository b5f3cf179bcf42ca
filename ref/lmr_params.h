/*
 * lmr_params.h -- parameter counts with and without weight tying
 * (spec/param_count.md; vectors/param_count.json).
 */
#ifndef LMR_PARAMS_H
#define LMR_PARAMS_H

#include <stdint.h>

#include "lmr_api.h"
#include "lmr_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int64_t untied;  /* 2 |V| d + B */
    int64_t tied;    /* |V| d + B */
    int64_t saving;  /* |V| d */
    double relative; /* saving / untied */
} lmr_param_counts;

/*
 * The check of the counts' parameters: vocab |V| >= 1, width d >= 1,
 * block_params B >= 0. Errors, in this order: LMR_EDIM (|V| = 0 or d = 0,
 * a size that must be >= 1), LMR_EDOMAIN (|V| < 0, d < 0 or B < 0, in
 * parameter order), LMR_EOVERFLOW (a count does not fit in int64, which
 * only parameters in range can show).
 */
LMR_API
enum lmr_status lmr_param_count_check(int64_t vocab, int64_t d,
                                      int64_t block_params);

/*
 * Exact counts for vocab |V| >= 1, width d >= 1 and block_params B >= 0.
 * Errors: those of lmr_param_count_check, then LMR_EINVAL (counts is
 * NULL).
 */
LMR_API
enum lmr_status lmr_param_count(lmr_param_counts *counts, int64_t vocab,
                                int64_t d, int64_t block_params);

#ifdef __cplusplus
}
#endif

#endif
