/*
 * lmr_head.c -- tied and untied LM heads.
 *
 * Method: plain loops that read the weight matrix exactly once, one row at a
 * time, whatever the number of positions n. Each row is checked for NaN and
 * infinities just before it is used, while it is still in cache, so the
 * check costs no second pass over a 300 MB matrix. Results go to a scratch
 * array and are copied to the caller's output only once every row has
 * passed: a bad entry anywhere leaves the output untouched.
 *
 * Checks: the public lmr_head_*_check functions test everything
 * (spec/api.md#checks). The forwards test the same things in the same order
 * but leave the weight's (and bias's) entries to the computation's row by
 * row test; only when they must report a later problem (the output's view,
 * lack of memory) do they first scan the weight, so that the status is the
 * one spec/api.md#error-order gives.
 *
 * Tied: logit v of position t is the dot product of h[t,:] with E[v,:], the
 * embedding of token v; E is read where it lies and never copied or
 * transposed (the point of tying). The dot product keeps four partial sums
 * so that consecutive additions do not wait on each other; any order of
 * summation stays within the same bound.
 *
 * Untied: u = h W + b with W (d, vocab): row j of W is added, times h[t,j],
 * to every position's logits (an axpy per row), then the bias.
 *
 * Accuracy: each logit is a sum of d products, within (d + 2) u sum|h_j w_j|
 * (spec/tolerance.md#head).
 */
#include "lmr_head.h"

#include <stdlib.h>
#include <string.h>

#include "lmr_check.h"

/* The checks every head shares once the shapes agree: h (n,d), weight and
 * bias not too big, logits (n,vocab) not too big, h finite. */
static enum lmr_status check_sizes_and_h(lmr_mat h, lmr_mat weight,
                                         lmr_vec bias, size_t vocab)
{
    size_t logits_count;
    if (lmr_mat_too_big(h) || lmr_mat_too_big(weight) ||
        lmr_vec_too_big(bias) ||
        lmr_array_count(&logits_count, h.rows, vocab) != LMR_OK)
        return LMR_EOVERFLOW;
    return (enum lmr_status)lmr_check_finite_mat(h);
}

/* lmr_head_tied_check without E's entries. */
static enum lmr_status check_tied_but_E(lmr_mat h, lmr_mat E)
{
    if (lmr_mat_missing(h) || lmr_mat_missing(E))
        return LMR_EINVAL;
    if (h.cols == 0 || E.rows == 0 || E.cols != h.cols)
        return LMR_EDIM;
    return check_sizes_and_h(h, E, lmr_vec_absent(), E.rows);
}

/* lmr_head_untied_check without W's and bias's entries. */
static enum lmr_status check_untied_but_W(lmr_mat h, lmr_mat W, lmr_vec bias)
{
    if (lmr_mat_missing(h) || lmr_mat_missing(W) || lmr_vec_missing(bias))
        return LMR_EINVAL;
    if (h.cols == 0 || W.cols == 0 || W.rows != h.cols ||
        (bias.len > 0 && bias.len != W.cols))
        return LMR_EDIM;
    return check_sizes_and_h(h, W, bias, W.cols);
}

/* LMR_ENONFINITE if an entry of weight or bias (already checked in size)
 * is not finite. */
static enum lmr_status check_weight_entries(lmr_mat weight, lmr_vec bias)
{
    if (lmr_check_finite_mat(weight) != LMR_OK ||
        lmr_check_finite_vec(bias) != LMR_OK)
        return LMR_ENONFINITE;
    return LMR_OK;
}

/* The output logits must be (n, vocab): LMR_EINVAL, then LMR_EDIM. */
static enum lmr_status check_logits_out(lmr_mat_out logits, size_t n,
                                        size_t vocab)
{
    if (lmr_mat_out_missing(logits))
        return LMR_EINVAL;
    if (logits.rows != n || logits.cols != vocab)
        return LMR_EDIM;
    return LMR_OK;
}

/* A later problem (the output's, or no memory), reported only when the
 * weight and bias are finite: those come first (spec/api.md#error-order). */
static enum lmr_status later_problem(enum lmr_status later, lmr_mat weight,
                                     lmr_vec bias)
{
    enum lmr_status status = check_weight_entries(weight, bias);
    return status != LMR_OK ? status : later;
}

enum lmr_status lmr_head_tied_check(lmr_mat h, lmr_mat E)
{
    enum lmr_status status = check_tied_but_E(h, E);
    return status != LMR_OK ? status
                            : check_weight_entries(E, lmr_vec_absent());
}

enum lmr_status lmr_head_untied_check(lmr_mat h, lmr_mat W, lmr_vec bias)
{
    enum lmr_status status = check_untied_but_W(h, W, bias);
    return status != LMR_OK ? status : check_weight_entries(W, bias);
}

/* sum_j a[j] b[j] over d terms, with four partial sums. a, b are (d). */
static double dot(const double *a, const double *b, size_t d)
{
    double partial0 = 0.0, partial1 = 0.0, partial2 = 0.0, partial3 = 0.0;
    size_t j = 0;
    for (; j + 4 <= d; j += 4) {
        partial0 += a[j] * b[j];
        partial1 += a[j + 1] * b[j + 1];
        partial2 += a[j + 2] * b[j + 2];
        partial3 += a[j + 3] * b[j + 3];
    }
    for (; j < d; j++)
        partial0 += a[j] * b[j];
    return (partial0 + partial1) + (partial2 + partial3);
}

/* Copies scratch (count) to out and frees it; returns LMR_OK. */
static enum lmr_status publish(double *out, double *scratch, size_t count)
{
    memcpy(out, scratch, count * sizeof(double));
    free(scratch);
    return LMR_OK;
}

enum lmr_status lmr_head_tied(lmr_mat_out logits, lmr_mat h, lmr_mat E)
{
    size_t n = h.rows, vocab = E.rows, d = h.cols;
    enum lmr_status status = check_tied_but_E(h, E);
    if (status != LMR_OK)
        return status;
    status = check_logits_out(logits, n, vocab);
    if (status != LMR_OK)
        return later_problem(status, E, lmr_vec_absent());
    if (n == 0)
        return check_weight_entries(E, lmr_vec_absent());
    double *scratch = malloc(n * vocab * sizeof(double)); /* (n, vocab) */
    if (scratch == NULL)
        return later_problem(LMR_ENOMEM, E, lmr_vec_absent());
    for (size_t v = 0; v < vocab; v++) {
        /* E[v,:], the embedding of token v */
        const double *row = E.data + v * d;
        if (lmr_check_finite(row, d) != LMR_OK) {
            free(scratch);
            return LMR_ENONFINITE;
        }
        for (size_t t = 0; t < n; t++)
            scratch[t * vocab + v] = dot(h.data + t * d, row, d);
    }
    return publish(logits.data, scratch, n * vocab);
}

enum lmr_status lmr_head_untied(lmr_mat_out logits, lmr_mat h, lmr_mat W,
                                lmr_vec bias)
{
    size_t n = h.rows, vocab = W.cols, d = h.cols;
    enum lmr_status status = check_untied_but_W(h, W, bias);
    if (status != LMR_OK)
        return status;
    status = check_logits_out(logits, n, vocab);
    if (status != LMR_OK)
        return later_problem(status, W, bias);
    if (n == 0)
        return check_weight_entries(W, bias);
    double *scratch = calloc(n * vocab, sizeof(double)); /* (n, vocab), zeros */
    if (scratch == NULL)
        return later_problem(LMR_ENOMEM, W, bias);
    for (size_t j = 0; j < d; j++) {
        const double *row = W.data + j * vocab; /* W[j,:] */
        if (lmr_check_finite(row, vocab) != LMR_OK) {
            free(scratch);
            return LMR_ENONFINITE;
        }
        for (size_t t = 0; t < n; t++) {
            double weight = h.data[t * d + j];
            double *out_row = scratch + t * vocab; /* position t */
            for (size_t v = 0; v < vocab; v++)
                out_row[v] += weight * row[v];
        }
    }
    if (lmr_check_finite_vec(bias) != LMR_OK) {
        free(scratch);
        return LMR_ENONFINITE;
    }
    for (size_t t = 0; bias.len > 0 && t < n; t++)
        for (size_t v = 0; v < vocab; v++)
            scratch[t * vocab + v] += bias.data[v];
    return publish(logits.data, scratch, n * vocab);
}
