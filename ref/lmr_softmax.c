/*
 * lmr_softmax.c -- softmax, log-softmax, cross-entropy.
 *
 * Method: for each row, a = the largest finite logit; z_i = (u_i - a)/tau is
 * then <= 0, so every exp(z_i) lies in [0, 1] and the sum S in [1, |V|]:
 * nothing overflows whatever the logits (1e300 included) and nothing
 * underflows that matters (the maximal entry contributes exactly 1).
 * Log-probabilities are z_i - log S, never log of a rounded probability.
 *
 * Accuracy: spec/tolerance.md#softmax; the sum's rounding grows with |V|.
 */
#include "lmr_softmax.h"

#include <math.h>

#include "lmr_check.h"
#include "lmr_status.h"

int lmr_check_temperature(double tau)
{
    if (!isfinite(tau))
        return LMR_ENONFINITE;
    return tau > 0.0 ? LMR_OK : LMR_EDOMAIN;
}

int lmr_check_logits(const double *logits, size_t n, size_t vocab)
{
    for (size_t t = 0; t < n; t++) {
        const double *row = logits + t * vocab; /* row t */
        int has_finite = 0;
        for (size_t i = 0; i < vocab; i++) {
            if (isnan(row[i]) || row[i] == INFINITY)
                return LMR_ENONFINITE;
            has_finite |= isfinite(row[i]);
        }
        if (!has_finite)
            return LMR_EDOMAIN;
    }
    return LMR_OK;
}

/* Checks sizes, pointers, logits and tau for an (n,vocab) op. */
static int check_rows(const double *out, const double *logits, size_t n,
                      size_t vocab, double tau)
{
    size_t count;
    if (n > 0 && (out == NULL || logits == NULL))
        return LMR_EINVAL;
    if (vocab == 0)
        return LMR_EDIM;
    if (lmr_array_count(&count, n, vocab) != LMR_OK)
        return LMR_EOVERFLOW;
    int status = lmr_check_temperature(tau);
    return status == LMR_OK ? lmr_check_logits(logits, n, vocab) : status;
}

/* The largest logit of a row (vocab): finite, since the row was checked. */
static double row_max(const double *row, size_t vocab)
{
    double largest = -INFINITY;
    for (size_t i = 0; i < vocab; i++)
        largest = fmax(largest, row[i]);
    return largest;
}

/* S = sum_j exp((u_j - a)/tau) of a row (vocab); 1 <= S <= vocab. */
static double row_sum_exp(const double *row, size_t vocab, double a, double tau)
{
    double sum = 0.0;
    for (size_t j = 0; j < vocab; j++)
        sum += exp((row[j] - a) / tau); /* exp(-inf) = 0 for masked entries */
    return sum;
}

int lmr_softmax(double *probs, const double *logits, size_t n, size_t vocab,
                double tau)
{
    int status = check_rows(probs, logits, n, vocab, tau);
    for (size_t t = 0; status == LMR_OK && t < n; t++) {
        const double *row = logits + t * vocab; /* row t of logits */
        double a = row_max(row, vocab);
        double sum = row_sum_exp(row, vocab, a, tau);
        for (size_t i = 0; i < vocab; i++)
            probs[t * vocab + i] = exp((row[i] - a) / tau) / sum;
    }
    return status;
}

int lmr_log_softmax(double *logprobs, const double *logits, size_t n,
                    size_t vocab, double tau)
{
    int status = check_rows(logprobs, logits, n, vocab, tau);
    for (size_t t = 0; status == LMR_OK && t < n; t++) {
        const double *row = logits + t * vocab; /* row t of logits */
        double a = row_max(row, vocab);
        double log_sum = log(row_sum_exp(row, vocab, a, tau));
        for (size_t i = 0; i < vocab; i++)
            logprobs[t * vocab + i] = (row[i] - a) / tau - log_sum;
    }
    return status;
}

static int check_targets(const int64_t *targets, size_t n, size_t vocab,
                         int64_t ignore_index)
{
    if (ignore_index >= 0 && (uint64_t)ignore_index < vocab)
        return LMR_EDOMAIN; /* it would silently drop a real token */
    for (size_t t = 0; t < n; t++)
        if (targets[t] != ignore_index &&
            (targets[t] < 0 || (uint64_t)targets[t] >= vocab))
            return LMR_EINDEX;
    return LMR_OK;
}

/* -log softmax(row)[target] for one row (vocab). */
static double position_loss(const double *row, size_t vocab, int64_t target)
{
    double a = row_max(row, vocab);
    return log(row_sum_exp(row, vocab, a, 1.0)) - (row[target] - a);
}

int lmr_cross_entropy(double *loss, const double *logits,
                      const int64_t *targets, size_t n, size_t vocab,
                      enum lmr_reduction reduction, int64_t ignore_index)
{
    if (reduction != LMR_REDUCE_NONE && reduction != LMR_REDUCE_SUM &&
        reduction != LMR_REDUCE_MEAN)
        return LMR_EDOMAIN;
    /* loss holds n entries under NONE (none when n = 0), else one */
    if ((loss == NULL && (reduction != LMR_REDUCE_NONE || n > 0)) ||
        (n > 0 && targets == NULL))
        return LMR_EINVAL;
    /* with n = 0 and a reduction, loss is written but logits need not exist */
    int status = check_rows(reduction == LMR_REDUCE_NONE ? loss : logits,
                            logits, n, vocab, 1.0);
    if (status == LMR_OK)
        status = check_targets(targets, n, vocab, ignore_index);
    if (status != LMR_OK)
        return status;
    double total = 0.0;
    size_t counted = 0;
    for (size_t t = 0; t < n; t++) {
        double value = 0.0;
        if (targets[t] != ignore_index) {
            value = position_loss(logits + t * vocab, vocab, targets[t]);
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
    return LMR_OK;
}
