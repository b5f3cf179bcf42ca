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
#include "lmr_status.h"

/* Checks pointers, sizes and h (n,d) for a weight of (rows,cols). */
static int check_head(const double *logits, const double *h,
                      const double *weight, size_t rows, size_t cols,
                      size_t n, size_t vocab, size_t d)
{
    size_t h_count, out_count, weight_count;
    if (weight == NULL || (n > 0 && (logits == NULL || h == NULL)))
        return LMR_EINVAL;
    if (rows == 0 || cols == 0)
        return LMR_EDIM;
    if (lmr_array_count(&h_count, n, d) != LMR_OK ||
        lmr_array_count(&out_count, n, vocab) != LMR_OK ||
        lmr_array_count(&weight_count, rows, cols) != LMR_OK)
        return LMR_EOVERFLOW;
    return lmr_check_finite(h, h_count);
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
static int publish(double *out, double *scratch, size_t count)
{
    memcpy(out, scratch, count * sizeof(double));
    free(scratch);
    return LMR_OK;
}

int lmr_head_tied(double *logits, const double *h, const double *E, size_t n,
                  size_t vocab, size_t d)
{
    int status = check_head(logits, h, E, vocab, d, n, vocab, d);
    if (status != LMR_OK)
        return status;
    if (n == 0)
        return lmr_check_finite(E, vocab * d);
    double *scratch = malloc(n * vocab * sizeof(double)); /* (n, vocab) */
    if (scratch == NULL)
        return LMR_ENOMEM;
    for (size_t v = 0; v < vocab; v++) {
        const double *row = E + v * d; /* E[v,:], the embedding of token v */
        if (lmr_check_finite(row, d) != LMR_OK) {
            free(scratch);
            return LMR_ENONFINITE;
        }
        for (size_t t = 0; t < n; t++)
            scratch[t * vocab + v] = dot(h + t * d, row, d);
    }
    return publish(logits, scratch, n * vocab);
}

int lmr_head_untied(double *logits, const double *h, const double *W,
                    const double *bias, size_t n, size_t vocab, size_t d)
{
    int status = check_head(logits, h, W, d, vocab, n, vocab, d);
    if (status == LMR_OK && bias != NULL)
        status = lmr_check_finite(bias, vocab);
    if (status != LMR_OK)
        return status;
    if (n == 0)
        return lmr_check_finite(W, d * vocab);
    double *scratch = calloc(n * vocab, sizeof(double)); /* (n, vocab), zeros */
    if (scratch == NULL)
        return LMR_ENOMEM;
    for (size_t j = 0; j < d; j++) {
        const double *row = W + j * vocab; /* W[j,:] */
        if (lmr_check_finite(row, vocab) != LMR_OK) {
            free(scratch);
            return LMR_ENONFINITE;
        }
        for (size_t t = 0; t < n; t++) {
            double weight = h[t * d + j];
            double *out_row = scratch + t * vocab; /* position t */
            for (size_t v = 0; v < vocab; v++)
                out_row[v] += weight * row[v];
        }
    }
    for (size_t t = 0; bias != NULL && t < n; t++)
        for (size_t v = 0; v < vocab; v++)
            scratch[t * vocab + v] += bias[v];
    return publish(logits, scratch, n * vocab);
}
