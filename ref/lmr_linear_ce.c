/*
 * lmr_linear_ce.c -- the fused linear cross-entropy
 * (spec/linear_cross_entropy.md).
 *
 * Method: two passes over E in chunks of LMR_LCE_CHUNK rows; the logits of
 * one chunk, (n, chunk), are the only logits ever held.
 *  1. For each chunk: u[t,v] = h[t,:] . E[v,:]; per row, the running maximum
 *     a_t and the running S_t = sum exp(u - a_t), rescaled by exp(a_old -
 *     a_new) when the maximum grows (the online log-sum-exp), and the
 *     target's logit when it lies in the chunk. A logit that is not finite
 *     stops the call here (LMR_ERANGE), before any output is written.
 *  2. loss_t = log S_t + a_t - u[t,c_t]; then for each chunk again: the
 *     logits, D[t,v] = w_t (exp(u - a_t)/S_t - [v = c_t]), dh += D E_chunk,
 *     and dE_chunk = D^T h (unless dE is not wanted). An ignored row has
 *     w_t = 0 and contributes exact zeros.
 * The target's subtraction is made on the double probability, never on a
 * rounded one (the spec's decision).
 *
 * Accuracy: each logit is a dot product of d terms; the online sum of
 * exponentials is within the bound of a sum of |V| terms of
 * spec/tolerance.md#linear_cross_entropy (each rescaling is one more
 * rounding of a partial sum); dh and dE are sums of |V| and n products.
 */
#include "lmr_linear_ce.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lmr_intermediates.h"
#include "lmr_check.h"
#include "lmr_status.h"

/* LMR_EINVAL, LMR_EDIM and LMR_EOVERFLOW for the inputs. */
static int check_views(lmr_mat h, lmr_mat E, lmr_ids targets)
{
    size_t n = h.rows, d = h.cols, vocab = E.rows;
    if (lmr_mat_missing(h) || lmr_mat_missing(E) || lmr_ids_missing(targets))
        return LMR_EINVAL;
    if (vocab == 0 || d == 0 || E.cols != d || targets.len != n)
        return LMR_EDIM;
    if (lmr_mat_too_big(h) || lmr_mat_too_big(E) ||
        lmr_mat_too_big(lmr_mat_of(NULL, n, LMR_LCE_CHUNK)))
        return LMR_EOVERFLOW;
    return LMR_OK;
}

/* The reduction, then ignore_index, which may not name a real token. */
static int check_params(size_t vocab, enum lmr_reduction reduction,
                        int64_t ignore_index)
{
    if (reduction != LMR_REDUCE_NONE && reduction != LMR_REDUCE_SUM &&
        reduction != LMR_REDUCE_MEAN)
        return LMR_EDOMAIN;
    if (ignore_index >= 0 && (uint64_t)ignore_index < vocab)
        return LMR_EDOMAIN; /* it would silently drop a real token */
    return LMR_OK;
}

/* LMR_EINDEX for a target other than ignore_index outside [0, vocab). */
static int check_targets(lmr_ids targets, size_t vocab, int64_t ignore_index)
{
    for (size_t t = 0; t < targets.len; t++)
        if (targets.data[t] != ignore_index &&
            (targets.data[t] < 0 || (uint64_t)targets.data[t] >= vocab))
            return LMR_EINDEX;
    return LMR_OK;
}

enum lmr_status lmr_linear_cross_entropy_check(lmr_mat h, lmr_mat E,
                                               lmr_ids targets,
                                               enum lmr_reduction reduction,
                                               int64_t ignore_index)
{
    int status = check_views(h, E, targets);
    if (status == LMR_OK)
        status = check_params(E.rows, reduction, ignore_index);
    if (status == LMR_OK)
        status = check_targets(targets, E.rows, ignore_index);
    if (status == LMR_OK)
        status = lmr_check_finite_mat(h);
    if (status == LMR_OK)
        status = lmr_check_finite_mat(E);
    return (enum lmr_status)status;
}

/* dloss (n for NONE, else 1), then the outputs (dE may be empty). */
static int check_upstream_and_outputs(
    const lmr_linear_cross_entropy_outputs *out, lmr_mat h, lmr_mat E,
    lmr_vec dloss, enum lmr_reduction reduction)
{
    size_t n = h.rows, d = h.cols, vocab = E.rows;
    size_t loss_count = reduction == LMR_REDUCE_NONE ? n : 1;
    if (lmr_vec_missing(dloss))
        return LMR_EINVAL;
    if (dloss.len != loss_count)
        return LMR_EDIM;
    if (lmr_check_finite_vec(dloss) != LMR_OK)
        return LMR_ENONFINITE;
    if (out == NULL || lmr_vec_out_missing(out->loss) ||
        lmr_mat_out_missing(out->dh) || lmr_mat_out_missing(out->dE))
        return LMR_EINVAL;
    int dE_wanted = out->dE.rows > 0 || out->dE.cols > 0;
    if (out->loss.len != loss_count || out->dh.rows != n || out->dh.cols != d ||
        (dE_wanted && (out->dE.rows != vocab || out->dE.cols != d)))
        return LMR_EDIM;
    return LMR_OK;
}

/* sum_j a[j] b[j] over d terms, in order. a, b: (d) */
static double dot(const double *a, const double *b, size_t d)
{
    double sum = 0.0;
    for (size_t j = 0; j < d; j++)
        sum += a[j] * b[j];
    return sum;
}

/* The logits of rows [first, first + rows) of E for every position:
 * u[t * rows + k] = h[t,:] . E[first + k,:]. Returns LMR_ERANGE if one is
 * not finite. u: (n, rows); h: (n,d); E: (vocab,d) */
static int chunk_logits(double *u, const double *h, const double *E,
                        size_t first, size_t rows, size_t n, size_t d)
{
    for (size_t t = 0; t < n; t++)
        for (size_t k = 0; k < rows; k++) {
            double value = dot(h + t * d, E + (first + k) * d, d);
            if (!isfinite(value))
                return LMR_ERANGE;
            u[t * rows + k] = value;
        }
    return LMR_OK;
}

/* The per-row state of the online log-sum-exp. */
typedef struct {
    double *max;    /* (n): a_t, the largest logit so far */
    double *sum;    /* (n): S_t = sum exp(u - a_t) so far */
    double *target; /* (n): u[t,c_t], once its chunk has been seen */
} row_state;

/* Folds one chunk's logits u (n, rows) of rows [first, first + rows) into
 * the state. */
static void fold_chunk(row_state *state, const double *u, size_t first,
                       size_t rows, size_t n, const int64_t *targets)
{
    for (size_t t = 0; t < n; t++) {
        const double *row = u + t * rows; /* chunk of row t */
        double largest = state->max[t];
        for (size_t k = 0; k < rows; k++)
            largest = fmax(largest, row[k]);
        /* rescale the sum so far to the new maximum (exp(-inf) = 0 at the
         * first chunk, whose sum is 0) */
        double sum = state->sum[t] * exp(state->max[t] - largest);
        for (size_t k = 0; k < rows; k++)
            sum += exp(row[k] - largest);
        state->max[t] = largest;
        state->sum[t] = sum;
        if (targets[t] >= 0 && (size_t)targets[t] >= first &&
            (size_t)targets[t] < first + rows)
            state->target[t] = row[(size_t)targets[t] - first];
    }
}

/* loss (n or 1) from the final state, as lmr_cross_entropy reduces. */
static void write_loss(double *loss, const row_state *state,
                       const int64_t *targets, size_t n,
                       enum lmr_reduction reduction, int64_t ignore_index)
{
    double total = 0.0;
    size_t counted = 0;
    for (size_t t = 0; t < n; t++) {
        double value = 0.0;
        if (targets[t] != ignore_index) {
            value = log(state->sum[t]) - (state->target[t] - state->max[t]);
            total += value;
            counted++;
        }
        if (reduction == LMR_REDUCE_NONE)
            loss[t] = value;
    }
    if (reduction == LMR_REDUCE_SUM)
        loss[0] = total;
    else if (reduction == LMR_REDUCE_MEAN)
        loss[0] = counted ? total / (double)counted : NAN; /* 0/0 */
}

/* Turns one chunk's logits u (n, rows) into D in place, then adds D E_chunk
 * to dh and writes dE_chunk = D^T h (rows, d). */
static void backward_chunk(double *dh, double *dE, double *u,
                           const row_state *state, const double *weights,
                           const double *h, const double *E,
                           const int64_t *targets, size_t first, size_t rows,
                           size_t n, size_t d)
{
    for (size_t t = 0; t < n; t++) {
        double *row = u + t * rows; /* chunk of row t -> D[t, chunk] */
        for (size_t k = 0; k < rows; k++) {
            double y = exp(row[k] - state->max[t]) / state->sum[t];
            double label = targets[t] == (int64_t)(first + k) ? 1.0 : 0.0;
            row[k] = weights[t] == 0.0 ? 0.0 : weights[t] * (y - label);
        }
    }
    for (size_t t = 0; t < n; t++)
        for (size_t k = 0; k < rows; k++) {
            double D = u[t * rows + k];
            const double *E_row = E + (first + k) * d; /* row first + k */
            for (size_t j = 0; j < d; j++)
                dh[t * d + j] += D * E_row[j];
        }
    for (size_t k = 0; dE != NULL && k < rows; k++) {
        double *dE_row = dE + (first + k) * d; /* row first + k */
        for (size_t j = 0; j < d; j++)
            dE_row[j] = 0.0;
        for (size_t t = 0; t < n; t++) {
            double D = u[t * rows + k];
            for (size_t j = 0; j < d; j++)
                dE_row[j] += D * h[t * d + j];
        }
    }
}

/* The scratch of one call: the state, the row weights and one chunk's
 * logits. Returns LMR_ENOMEM when an allocation fails (free with
 * scratch_free in any case). */
typedef struct {
    row_state state;
    double *weights; /* (n) */
    double *u;       /* (n, LMR_LCE_CHUNK) */
} scratch;

static int scratch_new(scratch *s, size_t n)
{
    size_t rows = n > 0 ? n : 1;
    s->state.max = malloc(rows * sizeof(double));
    s->state.sum = calloc(rows, sizeof(double));
    s->state.target = calloc(rows, sizeof(double));
    s->weights = malloc(rows * sizeof(double));
    s->u = malloc(rows * LMR_LCE_CHUNK * sizeof(double));
    if (s->state.max == NULL || s->state.sum == NULL ||
        s->state.target == NULL || s->weights == NULL || s->u == NULL)
        return LMR_ENOMEM;
    for (size_t t = 0; t < n; t++)
        s->state.max[t] = -INFINITY;
    return LMR_OK;
}

static void scratch_free(scratch *s)
{
    free(s->state.max);
    free(s->state.sum);
    free(s->state.target);
    free(s->weights);
    free(s->u);
}

/* The rows of the chunk that starts at first. */
static size_t chunk_rows(size_t first, size_t vocab)
{
    return vocab - first < LMR_LCE_CHUNK ? vocab - first : LMR_LCE_CHUNK;
}

enum lmr_status lmr_linear_cross_entropy(
    const lmr_linear_cross_entropy_outputs *out, lmr_mat h, lmr_mat E,
    lmr_ids targets, lmr_vec dloss, enum lmr_reduction reduction,
    int64_t ignore_index)
{
    int status = lmr_linear_cross_entropy_check(h, E, targets, reduction,
                                                ignore_index);
    if (status == LMR_OK)
        status = check_upstream_and_outputs(out, h, E, dloss, reduction);
    if (status != LMR_OK)
        return (enum lmr_status)status;
    size_t n = h.rows, vocab = E.rows, d = h.cols;
    double *loss = out->loss.data, *dh = out->dh.data;
    double *dE = out->dE.rows > 0 ? out->dE.data : NULL; /* NULL: not wanted */
    scratch s;
    status = scratch_new(&s, n);
    /* pass 1: the online maximum and log-sum-exp, nothing written yet */
    for (size_t first = 0; status == LMR_OK && first < vocab;
         first += LMR_LCE_CHUNK) {
        size_t rows = chunk_rows(first, vocab);
        status = chunk_logits(s.u, h.data, E.data, first, rows, n, d);
        if (status == LMR_OK)
            fold_chunk(&s.state, s.u, first, rows, n, targets.data);
    }
    if (status == LMR_OK) {
        /* pass 2: the loss, then D chunk by chunk into dh and dE */
        write_loss(loss, &s.state, targets.data, n, reduction, ignore_index);
        size_t counted;
        /* the arguments were checked above */
        lmr_cross_entropy_weights(lmr_vec_out_of(s.weights, n), &counted,
                                  targets, dloss, reduction, ignore_index);
        if (n > 0)
            memset(dh, 0, n * d * sizeof(double));
        for (size_t first = 0; first < vocab; first += LMR_LCE_CHUNK) {
            size_t rows = chunk_rows(first, vocab);
            /* finite: pass 1 */
            chunk_logits(s.u, h.data, E.data, first, rows, n, d);
            backward_chunk(dh, dE, s.u, &s.state, s.weights, h.data, E.data,
                           targets.data, first, rows, n, d);
        }
    }
    scratch_free(&s);
    return (enum lmr_status)status;
}
