/*
 * lmr_compose.c -- composite input, optionally followed by LayerNorm.
 *
 * Method: the token rows are looked up (exact), scaled by sqrt(d) when asked
 * (one rounding for sqrt, one for the product), and the position row is
 * added (one rounding). Every argument is checked before out is written.
 * With LayerNorm, the composite is built in a scratch array first.
 */
#include "lmr_compose.h"

#include <math.h>
#include <stdlib.h>

#include "lmr_check.h"
#include "lmr_layernorm.h"
#include "lmr_sinusoid.h"
#include "lmr_status.h"

/* LMR_EPOS unless positions start .. start+n-1 are all valid. */
static int check_position_range(const lmr_positions *positions, size_t n)
{
    int64_t start = positions->start;
    uint64_t limit; /* one past the largest valid position */
    if (start < 0)
        return LMR_EPOS;
    if (positions->kind == LMR_POSITIONS_LEARNED)
        limit = positions->max_len;
    else
        limit = (uint64_t)LMR_SINUSOID_MAX_POSITION + 1;
    if ((uint64_t)start > limit || n > limit - (uint64_t)start)
        return LMR_EPOS;
    return LMR_OK;
}

static int check_positions(const lmr_positions *positions, size_t n, size_t d)
{
    if (positions == NULL)
        return LMR_EINVAL;
    if (positions->kind == LMR_POSITIONS_LEARNED) {
        int status;
        if (positions->table == NULL)
            return LMR_EINVAL;
        if (positions->width != d)
            return LMR_EDIM;
        status = lmr_check_table(positions->table, positions->max_len, d);
        if (status != LMR_OK)
            return status;
    } else if (positions->kind == LMR_POSITIONS_SINUSOID) {
        if (!isfinite(positions->base))
            return LMR_ENONFINITE;
        if (!(positions->base > 1.0))
            return LMR_EDOMAIN;
    } else {
        return LMR_EDOMAIN;
    }
    return check_position_range(positions, n);
}

static int check_compose(const double *out, const double *E,
                         const int64_t *ids, const lmr_positions *positions,
                         size_t n, size_t vocab, size_t d)
{
    size_t count;
    int status;
    if (E == NULL || (n > 0 && (out == NULL || ids == NULL)))
        return LMR_EINVAL;
    if (lmr_array_count(&count, n, d) != LMR_OK)
        return LMR_EOVERFLOW;
    status = lmr_check_table(E, vocab, d);
    if (status == LMR_OK)
        status = lmr_check_ids(ids, n, vocab);
    if (status == LMR_OK)
        status = check_positions(positions, n, d);
    return status;
}

/* Adds the position term of position p to row (d). */
static void add_position(double *row, const lmr_positions *positions,
                         int64_t p, size_t d)
{
    if (positions->kind == LMR_POSITIONS_LEARNED) {
        const double *p_row = positions->table + (size_t)p * d; /* row p */
        for (size_t j = 0; j < d; j++)
            row[j] += p_row[j];
    } else {
        /* arguments were checked by check_compose, so no NaN comes back */
        for (size_t j = 0; j < d; j++)
            row[j] += lmr_pos_sinusoid_element(p, j, d, positions->base);
    }
}

int lmr_compose(double *out, const double *E, const int64_t *ids,
                const lmr_positions *positions, size_t n, size_t vocab,
                size_t d)
{
    int status = check_compose(out, E, ids, positions, n, vocab, d);
    if (status != LMR_OK)
        return status;
    double scale = positions->scale_by_sqrt_d ? sqrt((double)d) : 1.0;
    for (size_t t = 0; t < n; t++) {
        double *row = out + t * d;                 /* row t of out */
        const double *token = E + (size_t)ids[t] * d; /* row ids[t] of E */
        for (size_t j = 0; j < d; j++)
            row[j] = scale * token[j];
        add_position(row, positions, positions->start + (int64_t)t, d);
    }
    return LMR_OK;
}

int lmr_compose_layernorm(double *out, const double *E, const int64_t *ids,
                          const lmr_positions *positions, const double *gamma,
                          const double *beta, size_t n, size_t vocab, size_t d,
                          double eps)
{
    /* Check the LayerNorm arguments first: a zero-row call with the real
     * gamma, beta and eps checks them without touching any row. */
    double unused = 0.0;
    int status = lmr_layernorm(&unused, &unused, gamma, beta, 0, d, eps);
    if (status != LMR_OK)
        return status;
    status = check_compose(out, E, ids, positions, n, vocab, d);
    if (status != LMR_OK || n == 0)
        return status;
    /* The composite goes to a scratch array, so that out stays untouched if
     * it overflows (two finite terms can sum past DBL_MAX). */
    double *composite = malloc(n * d * sizeof(double)); /* (n, d) */
    if (composite == NULL)
        return LMR_ENOMEM;
    status = lmr_compose(composite, E, ids, positions, n, vocab, d);
    if (status == LMR_OK && lmr_check_finite(composite, n * d) != LMR_OK)
        status = LMR_ERANGE;
    if (status == LMR_OK)
        status = lmr_layernorm(out, composite, gamma, beta, n, d, eps);
    free(composite);
    return status;
}
