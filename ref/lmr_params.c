/*
 * lmr_params.c -- parameter counts. Integer arithmetic with an overflow
 * check before every operation; the ratio is formed once at the end.
 */
#include "lmr_params.h"

#include <stddef.h>

#include "lmr_status.h"

/* *sum = a + b for a, b >= 0, or LMR_EOVERFLOW. */
static int add_counts(int64_t *sum, int64_t a, int64_t b)
{
    if (a > INT64_MAX - b)
        return LMR_EOVERFLOW;
    *sum = a + b;
    return LMR_OK;
}

/* The three counts, or LMR_EOVERFLOW; the sizes are in range. */
static int count(int64_t vocab, int64_t d, int64_t block_params,
                 int64_t *embedding, int64_t *tied, int64_t *untied)
{
    if (vocab > INT64_MAX / d)
        return LMR_EOVERFLOW;
    *embedding = vocab * d; /* the matrix E, and W when untied */
    if (add_counts(tied, *embedding, block_params) != LMR_OK ||
        add_counts(untied, *tied, *embedding) != LMR_OK)
        return LMR_EOVERFLOW;
    return LMR_OK;
}

enum lmr_status lmr_param_count_check(int64_t vocab, int64_t d,
                                      int64_t block_params)
{
    int64_t embedding = 0, tied = 0, untied = 0;
    if (vocab == 0 || d == 0)
        return LMR_EDIM;
    if (vocab < 0 || d < 0 || block_params < 0)
        return LMR_EDOMAIN;
    return (enum lmr_status)count(vocab, d, block_params, &embedding, &tied,
                                  &untied);
}

enum lmr_status lmr_param_count(lmr_param_counts *counts, int64_t vocab,
                                int64_t d, int64_t block_params)
{
    int64_t embedding = 0, tied = 0, untied = 0;
    enum lmr_status status = lmr_param_count_check(vocab, d, block_params);
    if (status != LMR_OK)
        return status;
    if (counts == NULL)
        return LMR_EINVAL;
    count(vocab, d, block_params, &embedding, &tied, &untied);
    counts->untied = untied;
    counts->tied = tied;
    counts->saving = embedding;
    counts->relative = (double)embedding / (double)untied;
    return LMR_OK;
}
