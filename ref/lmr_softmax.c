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
#include "lmr_intermediates.h"
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
static int check_rows(const void *out, const double *logits, size_t n,
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

/* z = (u - a)/tau: <= 0, and -inf for a masked entry. */
static double shifted_logit(double u, double a, double tau)
{
    return (u - a) / tau;
}

/* S = sum_j exp((u_j - a)/tau) of a row (vocab); 1 <= S <= vocab. */
static double row_sum_exp(const double *row, size_t vocab, double a, double tau)
{
    double sum = 0.0;
    for (size_t j = 0; j < vocab; j++) /* exp(-inf) = 0 for masked entries */
        sum += exp(shifted_logit(row[j], a, tau));
    return sum;
}

/* The statistics of a checked row (vocab), as every op of this file uses
 * them. */
static lmr_softmax_row row_stats(const double *row, size_t vocab, double tau)
{
    lmr_softmax_row stats;
    stats.max = row_max(row, vocab);
    stats.sum = row_sum_exp(row, vocab, stats.max, tau);
    stats.log_sum = log(stats.sum);
    return stats;
}

int lmr_softmax(double *probs, const double *logits, size_t n, size_t vocab,
                double tau)
{
    int status = check_rows(probs, logits, n, vocab, tau);
    for (size_t t = 0; status == LMR_OK && t < n; t++) {
        const double *row = logits + t * vocab; /* row t of logits */
        lmr_softmax_row stats = row_stats(row, vocab, tau);
        for (size_t i = 0; i < vocab; i++)
            probs[t * vocab + i] =
                exp(shifted_logit(row[i], stats.max, tau)) / stats.sum;
    }
    return status;
}

int lmr_log_softmax(double *logprobs, const double *logits, size_t n,
                    size_t vocab, double tau)
{
    int status = check_rows(logprobs, logits, n, vocab, tau);
    for (size_t t = 0; status == LMR_OK && t < n; t++) {
        const double *row = logits + t * vocab; /* row t of logits */
        lmr_softmax_row stats = row_stats(row, vocab, tau);
        for (size_t i = 0; i < vocab; i++)
            logprobs[t * vocab + i] =
                shifted_logit(row[i], stats.max, tau) - stats.log_sum;
    }
    return status;
}

int lmr_softmax_stats(lmr_softmax_row *rows, double *shifted, double *exps,
                      const double *logits, size_t n, size_t vocab,
                      double tau)
{
    int status = check_rows(rows, logits, n, vocab, tau);
    for (size_t t = 0; status == LMR_OK && t < n; t++) {
        const double *row = logits + t * vocab; /* row t of logits */
        rows[t] = row_stats(row, vocab, tau);
        for (size_t i = 0; i < vocab; i++) {
            double z = shifted_logit(row[i], rows[t].max, tau);
            if (shifted != NULL)
                shifted[t * vocab + i] = z;
            if (exps != NULL)
                exps[t * vocab + i] = exp(z);
        }
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

/* -log softmax(row)[target] = log S - z_target for one row (vocab). */
static double position_loss(const double *row, size_t vocab, int64_t target)
{
    lmr_softmax_row stats = row_stats(row, vocab, 1.0);
    return stats.log_sum - shifted_logit(row[target], stats.max, 1.0);
}

/* The checks of lmr_cross_entropy after its reduction and its loss array:
 * targets (n), logits (n,vocab) read into `out` (which must exist when n >
 * 0), ignore_index. */
static int check_cross_entropy(const void *out, const double *logits,
                               const int64_t *targets, size_t n, size_t vocab,
                               int64_t ignore_index)
{
    if (n > 0 && targets == NULL)
        return LMR_EINVAL;
    int status = check_rows(out, logits, n, vocab, 1.0);
    if (status == LMR_OK)
        status = check_targets(targets, n, vocab, ignore_index);
    return status;
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
    int status = check_cross_entropy(reduction == LMR_REDUCE_NONE ? loss
                                                                  : logits,
                                     logits, targets, n, vocab, ignore_index);
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

int lmr_cross_entropy_terms(double *losses, size_t *counted,
                            const double *logits, const int64_t *targets,
                            size_t n, size_t vocab, int64_t ignore_index)
{
    if (counted == NULL)
        return LMR_EINVAL;
    int status = check_cross_entropy(losses, logits, targets, n, vocab,
                                     ignore_index);
    if (status != LMR_OK)
        return status;
    *counted = 0;
    for (size_t t = 0; t < n; t++) {
        losses[t] = 0.0;
        if (targets[t] != ignore_index) {
            losses[t] = position_loss(logits + t * vocab, vocab, targets[t]);
            ++*counted;
        }
    }
    return LMR_OK;
}
