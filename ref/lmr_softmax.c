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

enum lmr_status lmr_softmax_check(lmr_mat logits, double tau)
{
    if (lmr_mat_missing(logits))
        return LMR_EINVAL;
    if (logits.cols == 0)
        return LMR_EDIM;
    if (lmr_mat_too_big(logits))
        return LMR_EOVERFLOW;
    int status = lmr_check_temperature(tau);
    if (status == LMR_OK)
        status = lmr_check_logits(logits.data, logits.rows, logits.cols);
    return (enum lmr_status)status;
}

/* An output of the logits' shape, or absent when `optional` and it has no
 * elements: LMR_EINVAL, then LMR_EDIM. */
static enum lmr_status check_rows_out(lmr_mat_out out, lmr_mat logits,
                                      int optional)
{
    if (lmr_mat_out_missing(out))
        return LMR_EINVAL;
    if (optional && (out.rows == 0 || out.cols == 0))
        return LMR_OK;
    if (out.rows != logits.rows || out.cols != logits.cols)
        return LMR_EDIM;
    return LMR_OK;
}

/* lmr_softmax_check, then the output out (n,vocab). */
static enum lmr_status check_rows(lmr_mat_out out, lmr_mat logits, double tau)
{
    enum lmr_status status = lmr_softmax_check(logits, tau);
    return status != LMR_OK ? status : check_rows_out(out, logits, 0);
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

enum lmr_status lmr_softmax(lmr_mat_out probs, lmr_mat logits, double tau)
{
    size_t n = logits.rows, vocab = logits.cols;
    enum lmr_status status = check_rows(probs, logits, tau);
    for (size_t t = 0; status == LMR_OK && t < n; t++) {
        const double *row = logits.data + t * vocab; /* row t of logits */
        lmr_softmax_row stats = row_stats(row, vocab, tau);
        for (size_t i = 0; i < vocab; i++)
            probs.data[t * vocab + i] = exp(shifted_logit(row[i], stats.max,
                                                          tau)) /
                                        stats.sum;
    }
    return status;
}

enum lmr_status lmr_log_softmax(lmr_mat_out logprobs, lmr_mat logits,
                                double tau)
{
    size_t n = logits.rows, vocab = logits.cols;
    enum lmr_status status = check_rows(logprobs, logits, tau);
    for (size_t t = 0; status == LMR_OK && t < n; t++) {
        const double *row = logits.data + t * vocab; /* row t of logits */
        lmr_softmax_row stats = row_stats(row, vocab, tau);
        for (size_t i = 0; i < vocab; i++)
            logprobs.data[t * vocab + i] = shifted_logit(row[i], stats.max,
                                                         tau) -
                                           stats.log_sum;
    }
    return status;
}

enum lmr_status lmr_softmax_stats(lmr_softmax_row *rows, lmr_mat_out shifted,
                                  lmr_mat_out exps, lmr_mat logits, double tau)
{
    size_t n = logits.rows, vocab = logits.cols;
    enum lmr_status status = lmr_softmax_check(logits, tau);
    if (status == LMR_OK && n > 0 && rows == NULL)
        status = LMR_EINVAL;
    if (status == LMR_OK)
        status = check_rows_out(shifted, logits, 1);
    if (status == LMR_OK)
        status = check_rows_out(exps, logits, 1);
    int keep_shifted = shifted.rows > 0 && shifted.cols > 0;
    int keep_exps = exps.rows > 0 && exps.cols > 0;
    for (size_t t = 0; status == LMR_OK && t < n; t++) {
        const double *row = logits.data + t * vocab; /* row t of logits */
        rows[t] = row_stats(row, vocab, tau);
        for (size_t i = 0; i < vocab; i++) {
            double z = shifted_logit(row[i], rows[t].max, tau);
            if (keep_shifted)
                shifted.data[t * vocab + i] = z;
            if (keep_exps)
                exps.data[t * vocab + i] = exp(z);
        }
    }
    return status;
}

/* A known reduction. */
static int reduction_known(enum lmr_reduction reduction)
{
    return reduction == LMR_REDUCE_NONE || reduction == LMR_REDUCE_SUM ||
           reduction == LMR_REDUCE_MEAN;
}

/* LMR_EINDEX if a target (n) that is not ignore_index is outside
 * [0, vocab). */
static enum lmr_status check_targets(lmr_ids targets, size_t vocab,
                                     int64_t ignore_index)
{
    for (size_t t = 0; t < targets.len; t++)
        if (targets.data[t] != ignore_index &&
            (targets.data[t] < 0 || (uint64_t)targets.data[t] >= vocab))
            return LMR_EINDEX;
    return LMR_OK;
}

enum lmr_status lmr_cross_entropy_check(lmr_mat logits, lmr_ids targets,
                                        enum lmr_reduction reduction,
                                        int64_t ignore_index)
{
    size_t vocab = logits.cols;
    if (lmr_mat_missing(logits) || lmr_ids_missing(targets))
        return LMR_EINVAL;
    if (vocab == 0 || targets.len != logits.rows)
        return LMR_EDIM;
    if (lmr_mat_too_big(logits) || lmr_ids_too_big(targets))
        return LMR_EOVERFLOW;
    if (!reduction_known(reduction))
        return LMR_EDOMAIN;
    if (ignore_index >= 0 && (uint64_t)ignore_index < vocab)
        return LMR_EDOMAIN; /* it would silently drop a real token */
    int status = lmr_check_logits(logits.data, logits.rows, vocab);
    if (status != LMR_OK)
        return (enum lmr_status)status;
    return check_targets(targets, vocab, ignore_index);
}

/* -log softmax(row)[target] = log S - z_target for one row (vocab). */
static double position_loss(const double *row, size_t vocab, int64_t target)
{
    lmr_softmax_row stats = row_stats(row, vocab, 1.0);
    return stats.log_sum - shifted_logit(row[target], stats.max, 1.0);
}

enum lmr_status lmr_cross_entropy(lmr_vec_out loss, lmr_mat logits,
                                  lmr_ids targets, enum lmr_reduction reduction,
                                  int64_t ignore_index)
{
    size_t n = logits.rows, vocab = logits.cols;
    enum lmr_status status = lmr_cross_entropy_check(logits, targets, reduction,
                                                     ignore_index);
    if (status != LMR_OK)
        return status;
    /* loss holds n entries under NONE (none when n = 0), else one */
    if (lmr_vec_out_missing(loss))
        return LMR_EINVAL;
    if (loss.len != (reduction == LMR_REDUCE_NONE ? n : 1))
        return LMR_EDIM;
    double total = 0.0;
    size_t counted = 0;
    for (size_t t = 0; t < n; t++) {
        double value = 0.0;
        if (targets.data[t] != ignore_index) {
            value = position_loss(logits.data + t * vocab, vocab,
                                  targets.data[t]);
            total += value;
            counted++;
        }
        if (reduction == LMR_REDUCE_NONE)
            loss.data[t] = value;
    }
    if (reduction == LMR_REDUCE_SUM)
        loss.data[0] = total;
    else if (reduction == LMR_REDUCE_MEAN)
        loss.data[0] = counted ? total / (double)counted : NAN; /* 0/0 */
    return LMR_OK;
}

enum lmr_status lmr_cross_entropy_terms(lmr_vec_out losses, size_t *counted,
                                        lmr_mat logits, lmr_ids targets,
                                        int64_t ignore_index)
{
    size_t n = logits.rows, vocab = logits.cols;
    enum lmr_status status = lmr_cross_entropy_check(
        logits, targets, LMR_REDUCE_NONE, ignore_index);
    if (status != LMR_OK)
        return status;
    if (lmr_vec_out_missing(losses) || counted == NULL)
        return LMR_EINVAL;
    if (losses.len != n)
        return LMR_EDIM;
    *counted = 0;
    for (size_t t = 0; t < n; t++) {
        losses.data[t] = 0.0;
        if (targets.data[t] != ignore_index) {
            losses.data[t] = position_loss(logits.data + t * vocab, vocab,
                                           targets.data[t]);
            ++*counted;
        }
    }
    return LMR_OK;
}
