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
#include "lmr_layernorm_stats.h"
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
        limit = positions->table.rows;
    else
        limit = (uint64_t)LMR_SINUSOID_MAX_POSITION + 1;
    if ((uint64_t)start > limit || n > limit - (uint64_t)start)
        return LMR_EPOS;
    return LMR_OK;
}

static int known_kind(const lmr_positions *positions)
{
    return positions->kind == LMR_POSITIONS_LEARNED ||
           positions->kind == LMR_POSITIONS_SINUSOID;
}

/* The problem of class `problem` of the position term, for tokens of width
 * d (checked by the caller) read at n positions; positions is not NULL. */
static enum lmr_status positions_problem(enum lmr_check_class problem,
                                         const lmr_positions *positions,
                                         size_t n, size_t d)
{
    int learned = positions->kind == LMR_POSITIONS_LEARNED;
    lmr_mat P = positions->table;
    switch (problem) {
    case LMR_CHECK_MISSING:
        return learned && lmr_mat_missing(P) ? LMR_EINVAL : LMR_OK;
    case LMR_CHECK_SHAPES:
        return learned && (P.rows == 0 || P.cols != d) ? LMR_EDIM : LMR_OK;
    case LMR_CHECK_SIZES:
        return learned && lmr_mat_too_big(P) ? LMR_EOVERFLOW : LMR_OK;
    case LMR_CHECK_PARAMS:
        if (!known_kind(positions))
            return LMR_EDOMAIN;
        if (learned)
            return LMR_OK;
        if (!isfinite(positions->base))
            return LMR_ENONFINITE;
        return positions->base > 1.0 ? LMR_OK : LMR_EDOMAIN;
    case LMR_CHECK_ENTRIES:
        if (learned && lmr_check_finite_mat(P) != LMR_OK)
            return LMR_ENONFINITE;
        return (enum lmr_status)check_position_range(positions, n);
    default:
        return LMR_OK;
    }
}

/* The problem of class `problem` of compose's inputs (lmr_compose_check);
 * an unknown kind of positions is not looked at before LMR_CHECK_PARAMS,
 * which rejects it. */
static enum lmr_status compose_problem(enum lmr_check_class problem, lmr_mat E,
                                       lmr_ids ids,
                                       const lmr_positions *positions)
{
    enum lmr_status status = LMR_OK;
    switch (problem) {
    case LMR_CHECK_MISSING:
        if (lmr_mat_missing(E) || lmr_ids_missing(ids) || positions == NULL)
            return LMR_EINVAL;
        break;
    case LMR_CHECK_SHAPES:
        if (E.rows == 0 || E.cols == 0)
            return LMR_EDIM;
        break;
    case LMR_CHECK_SIZES:
        if (lmr_mat_too_big(E) || lmr_ids_too_big(ids) ||
            lmr_mat_too_big(lmr_mat_of(NULL, ids.len, E.cols)))
            return LMR_EOVERFLOW;
        break;
    case LMR_CHECK_ENTRIES:
        if (lmr_check_finite_mat(E) != LMR_OK)
            return LMR_ENONFINITE;
        status = (enum lmr_status)lmr_check_ids(ids.data, ids.len, E.rows);
        if (status != LMR_OK)
            return status;
        break;
    default:
        break;
    }
    if (problem < LMR_CHECK_PARAMS && !known_kind(positions))
        return LMR_OK;
    return positions_problem(problem, positions, ids.len, E.cols);
}

enum lmr_status lmr_compose_check(lmr_mat E, lmr_ids ids,
                                  const lmr_positions *positions)
{
    for (int problem = 0; problem < LMR_CHECK_CLASSES; problem++) {
        enum lmr_status status = compose_problem((enum lmr_check_class)problem,
                                                 E, ids, positions);
        if (status != LMR_OK)
            return status;
    }
    return LMR_OK;
}

/* Adds the position term of position p to row (d). */
static void add_position(double *row, const lmr_positions *positions, int64_t p,
                         size_t d)
{
    if (positions->kind == LMR_POSITIONS_LEARNED) {
        const double *p_row = positions->table.data + (size_t)p * d; /* row p */
        for (size_t j = 0; j < d; j++)
            row[j] += p_row[j];
    } else {
        /* arguments were checked by lmr_compose_check: no NaN comes back */
        for (size_t j = 0; j < d; j++)
            row[j] += lmr_pos_sinusoid_element(p, j, d, positions->base);
    }
}

/* The composite into out (n,d), for arguments that passed the check. */
static void compose_rows(double *out, lmr_mat E, lmr_ids ids,
                         const lmr_positions *positions)
{
    size_t d = E.cols;
    double scale = positions->scale_by_sqrt_d ? sqrt((double)d) : 1.0;
    for (size_t t = 0; t < ids.len; t++) {
        double *row = out + t * d; /* row t of out */
        const double *token = E.data + (size_t)ids.data[t] * d; /* E[ids[t]] */
        for (size_t j = 0; j < d; j++)
            row[j] = scale * token[j];
        add_position(row, positions, positions->start + (int64_t)t, d);
    }
}

/* The output checks: out must be (n, d). */
static enum lmr_status check_out(lmr_mat_out out, size_t n, size_t d)
{
    if (lmr_mat_out_missing(out))
        return LMR_EINVAL;
    return out.rows == n && out.cols == d ? LMR_OK : LMR_EDIM;
}

enum lmr_status lmr_compose(lmr_mat_out out, lmr_mat E, lmr_ids ids,
                            const lmr_positions *positions)
{
    enum lmr_status status = lmr_compose_check(E, ids, positions);
    if (status == LMR_OK)
        status = check_out(out, ids.len, E.cols);
    if (status == LMR_OK)
        compose_rows(out.data, E, ids, positions);
    return status;
}

enum lmr_status lmr_compose_layernorm_check(lmr_mat E, lmr_ids ids,
                                            const lmr_positions *positions,
                                            lmr_vec gamma, lmr_vec beta,
                                            double eps)
{
    /* the composite (n, E.cols) is not an input; beta is required */
    lmr_layernorm_args affine = {NULL, &gamma, &beta, E.cols, eps};
    for (int problem = 0; problem < LMR_CHECK_CLASSES; problem++) {
        enum lmr_check_class c = (enum lmr_check_class)problem;
        enum lmr_status status = compose_problem(c, E, ids, positions);
        if (status == LMR_OK)
            status = lmr_layernorm_problem(c, &affine);
        if (status != LMR_OK)
            return status;
    }
    return LMR_OK;
}

enum lmr_status lmr_compose_layernorm(lmr_mat_out out, lmr_mat E, lmr_ids ids,
                                      const lmr_positions *positions,
                                      lmr_vec gamma, lmr_vec beta, double eps)
{
    size_t n = ids.len, d = E.cols;
    enum lmr_status status = lmr_compose_layernorm_check(E, ids, positions,
                                                         gamma, beta, eps);
    if (status == LMR_OK)
        status = check_out(out, n, d);
    if (status != LMR_OK || n == 0)
        return status;
    /* The composite goes to a scratch array, so that out stays untouched if
     * it overflows (two finite terms can sum past DBL_MAX). */
    double *composite = malloc(n * d * sizeof(double)); /* (n, d) */
    if (composite == NULL)
        return LMR_ENOMEM;
    compose_rows(composite, E, ids, positions);
    if (lmr_check_finite(composite, n * d) != LMR_OK)
        status = LMR_ERANGE;
    else
        status = lmr_layernorm(out, lmr_mat_of(composite, n, d), gamma, beta,
                               eps);
    free(composite);
    return status;
}
