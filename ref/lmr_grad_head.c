/*
 * lmr_grad_head.c -- backward of the tied and untied heads, softmax and
 * log-softmax with temperature, and cross-entropy from logits
 * (spec/gradients.md#head_tied_backward ... #cross_entropy_backward).
 *
 * Method. The heads' gradients are matrix products written as plain loops:
 * for each position t and each entry dU[t,v] of the upstream gradient, the
 * row of the weight that produced logit v is added, times dU[t,v], into
 * dh[t,:], and h[t,:] is added, times dU[t,v], into the weight's gradient.
 *
 * Softmax family: y = softmax(u/tau) comes from lmr_softmax (the forward op,
 * reused) once lmr_softmax_check has validated the logits and tau; then per
 * row
 *     softmax:      dlogits_i = y_i (G_i - sum_j y_j G_j) / tau
 *     log-softmax:  dlogits_i = (G_i - y_i sum_j G_j) / tau
 *     dtau = - sum over the batch of dlogits_i (u_i - a)/tau,
 * with a the row maximum: the shifted zeta_i = (u_i - a)/tau is finite for
 * any finite logits (1e300 included), and the shift changes nothing because
 * each row of dlogits sums to 0. Masked (-inf) entries get dlogits = 0 and
 * are left out of dtau.
 *
 * Cross-entropy: dlogits[t,i] = w_t (y[t,i] - [i = c_t]) with y = softmax(u)
 * and w_t the weight the reduction gives row t (0 for an ignored row; the
 * mean divides by the number of counted rows). lmr_cross_entropy_check
 * validates logits, targets, the reduction and ignore_index with exactly the
 * forward's error codes.
 *
 * Every function checks all of its inputs (and allocates its scratch)
 * before it writes an output, in the order of spec/api.md#error-order: the
 * forward op's check, the upstream gradient, the outputs; nothing is
 * written unless it returns LMR_OK.
 *
 * Accuracy: spec/tolerance.md#gradients (a running error bound, K = 2).
 */
#include "lmr_grad_head.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lmr_check.h"
#include "lmr_intermediates.h"
#include "lmr_status.h"

/* ---- small helpers -------------------------------------------------------- */

/* array (count) = 0; count may be 0 with a NULL array. */
static void zero(double *array, size_t count)
{
    for (size_t i = 0; i < count; i++)
        array[i] = 0.0;
}

/* y (count) += scale * x (count). */
static void add_scaled(double *y, double scale, const double *x, size_t count)
{
    for (size_t i = 0; i < count; i++)
        y[i] += scale * x[i];
}

/* sum_i a[i] b[i] over count terms. */
static double dot(const double *a, const double *b, size_t count)
{
    double sum = 0.0;
    for (size_t i = 0; i < count; i++)
        sum += a[i] * b[i];
    return sum;
}

/* calloc of rows*cols doubles (at least one), NULL on failure; the caller
 * has checked rows*cols for overflow. */
static double *scratch(size_t rows, size_t cols)
{
    size_t count = rows * cols;
    return calloc(count ? count : 1, sizeof(double));
}

/* Copies scratch (count) to out, frees scratch; returns LMR_OK. */
static enum lmr_status publish(double *out, double *scratch_array, size_t count)
{
    if (count > 0)
        memcpy(out, scratch_array, count * sizeof(double));
    free(scratch_array);
    return LMR_OK;
}

/* ---- views ------------------------------------------------------------- */

/* An upstream gradient that must be (rows,cols): LMR_EINVAL, LMR_EDIM,
 * LMR_ENONFINITE. */
static enum lmr_status check_upstream(lmr_mat upstream, size_t rows,
                                      size_t cols)
{
    if (lmr_mat_missing(upstream))
        return LMR_EINVAL;
    if (upstream.rows != rows || upstream.cols != cols)
        return LMR_EDIM;
    return (enum lmr_status)lmr_check_finite_mat(upstream);
}

/* Non-zero when out is not (rows,cols). */
static int out_shape_differs(lmr_mat_out out, size_t rows, size_t cols)
{
    return out.rows != rows || out.cols != cols;
}

/* ---- the heads ---------------------------------------------------------- */

enum lmr_status lmr_head_tied_backward(lmr_mat_out dh, lmr_mat_out dE,
                                       lmr_mat h, lmr_mat E, lmr_mat dlogits)
{
    size_t n = h.rows, vocab = E.rows, d = h.cols;
    enum lmr_status status = lmr_head_tied_check(h, E);
    if (status == LMR_OK)
        status = check_upstream(dlogits, n, vocab);
    if (status != LMR_OK)
        return status;
    if (lmr_mat_out_missing(dh) || lmr_mat_out_missing(dE))
        return LMR_EINVAL;
    if (out_shape_differs(dh, n, d) || out_shape_differs(dE, vocab, d))
        return LMR_EDIM;
    zero(dh.data, n * d);
    zero(dE.data, vocab * d);
    for (size_t t = 0; t < n; t++)
        for (size_t v = 0; v < vocab; v++) {
            double upstream = dlogits.data[t * vocab + v]; /* dU[t,v] */
            /* dh[t,:] += . E[v,:] */
            add_scaled(dh.data + t * d, upstream, E.data + v * d, d);
            /* dE[v,:] += . h[t,:] */
            add_scaled(dE.data + v * d, upstream, h.data + t * d, d);
        }
    return LMR_OK;
}

enum lmr_status lmr_head_untied_backward(lmr_mat_out dh, lmr_mat_out dW,
                                         lmr_vec_out db, lmr_mat h, lmr_mat W,
                                         lmr_mat dlogits)
{
    size_t n = h.rows, vocab = W.cols, d = h.cols;
    enum lmr_status status = lmr_head_untied_check(h, W, lmr_vec_absent());
    if (status == LMR_OK)
        status = check_upstream(dlogits, n, vocab);
    if (status != LMR_OK)
        return status;
    if (lmr_mat_out_missing(dh) || lmr_mat_out_missing(dW) ||
        lmr_vec_out_missing(db))
        return LMR_EINVAL;
    if (out_shape_differs(dh, n, d) || out_shape_differs(dW, d, vocab) ||
        (db.len > 0 && db.len != vocab))
        return LMR_EDIM;
    int keep_db = db.len > 0; /* else the empty view: not wanted */
    zero(dW.data, d * vocab);
    if (keep_db)
        zero(db.data, vocab);
    for (size_t t = 0; t < n; t++) {
        const double *upstream = dlogits.data + t * vocab; /* dU[t,:] */
        if (keep_db)
            add_scaled(db.data, 1.0, upstream, vocab);
        for (size_t j = 0; j < d; j++) {
            const double *row = W.data + j * vocab; /* W[j,:] */
            /* dU[t,:] . W[j,:] */
            dh.data[t * d + j] = dot(upstream, row, vocab);
            add_scaled(dW.data + j * vocab, h.data[t * d + j], upstream, vocab);
        }
    }
    return LMR_OK;
}

/* ---- softmax and log-softmax ---------------------------------------------- */

/* LMR_EDOMAIN if the upstream gradient (n,vocab) is non-zero where a logit
 * (n,vocab) is masked: no finite loss can depend on a constant -inf. */
static enum lmr_status check_masked_upstream(lmr_mat logits, lmr_mat upstream)
{
    size_t count = lmr_mat_count(logits);
    for (size_t i = 0; i < count; i++)
        if (logits.data[i] == -INFINITY && upstream.data[i] != 0.0)
            return LMR_EDOMAIN;
    return LMR_OK;
}

/*
 * The common start of the softmax-family backward ops: lmr_softmax_check,
 * the upstream gradient (n,vocab) (and, for log-softmax, no gradient at a
 * masked logit), the outputs dlogits (n,vocab) and dtau; then runs
 * lmr_softmax into a fresh array *probs (n,vocab) that the caller frees.
 * *probs is NULL unless LMR_OK.
 */
static enum lmr_status softmax_backward_start(double **probs,
                                              lmr_mat_out dlogits,
                                              const double *dtau,
                                              lmr_mat logits, lmr_mat upstream,
                                              double tau, int take_log)
{
    size_t n = logits.rows, vocab = logits.cols;
    *probs = NULL;
    enum lmr_status status = lmr_softmax_check(logits, tau);
    if (status == LMR_OK)
        status = check_upstream(upstream, n, vocab);
    if (status == LMR_OK && take_log)
        status = check_masked_upstream(logits, upstream);
    if (status != LMR_OK)
        return status;
    if (lmr_mat_out_missing(dlogits) || dtau == NULL)
        return LMR_EINVAL;
    if (out_shape_differs(dlogits, n, vocab))
        return LMR_EDIM;
    double *y = scratch(n, vocab);
    if (y == NULL)
        return LMR_ENOMEM;
    lmr_softmax(lmr_mat_out_of(y, n, vocab), logits, tau); /* checked above */
    *probs = y;
    return LMR_OK;
}

/* sum_i dlogits_i (u_i - a)/tau over the unmasked entries of a row (vocab),
 * a = the largest logit of the row: the row's share of -dtau. */
static double temperature_share(const double *dlogits_row,
                                const double *logits_row, size_t vocab,
                                double tau)
{
    double largest = -INFINITY, sum = 0.0;
    for (size_t i = 0; i < vocab; i++)
        largest = fmax(largest, logits_row[i]);
    for (size_t i = 0; i < vocab; i++)
        if (logits_row[i] != -INFINITY) /* a masked entry contributes 0 */
            sum += dlogits_row[i] * ((logits_row[i] - largest) / tau);
    return sum;
}

enum lmr_status lmr_softmax_backward(lmr_mat_out dlogits, double *dtau,
                                     lmr_mat logits, lmr_mat dprobs, double tau)
{
    size_t n = logits.rows, vocab = logits.cols;
    double *work; /* (n,vocab): y, then overwritten row by row with dlogits */
    enum lmr_status status = softmax_backward_start(&work, dlogits, dtau,
                                                    logits, dprobs, tau, 0);
    if (status != LMR_OK)
        return status;
    double tau_sum = 0.0;
    for (size_t t = 0; t < n; t++) {
        /* y[t,:] -> dlogits[t,:] */
        double *row = work + t * vocab;
        const double *G = dprobs.data + t * vocab; /* dprobs[t,:] */
        double weighted = dot(row, G, vocab);      /* sum_j y_j G_j */
        for (size_t i = 0; i < vocab; i++)
            row[i] = row[i] * (G[i] - weighted) / tau; /* y_i = 0 if masked */
        tau_sum += temperature_share(row, logits.data + t * vocab, vocab, tau);
    }
    *dtau = -tau_sum;
    return publish(dlogits.data, work, n * vocab);
}

enum lmr_status lmr_log_softmax_backward(lmr_mat_out dlogits, double *dtau,
                                         lmr_mat logits, lmr_mat dlogprobs,
                                         double tau)
{
    size_t n = logits.rows, vocab = logits.cols;
    double *work; /* (n,vocab): y, then overwritten row by row with dlogits */
    enum lmr_status status = softmax_backward_start(&work, dlogits, dtau,
                                                    logits, dlogprobs, tau, 1);
    if (status != LMR_OK)
        return status;
    double tau_sum = 0.0;
    for (size_t t = 0; t < n; t++) {
        double *row = work + t * vocab; /* y[t,:] -> dlogits[t,:] */
        const double *G = dlogprobs.data + t * vocab; /* dlogprobs[t,:] */
        const double *u = logits.data + t * vocab;    /* logits[t,:] */
        double G_sum = 0.0;                           /* Gamma = sum_j G_j */
        for (size_t i = 0; i < vocab; i++)
            G_sum += G[i];
        for (size_t i = 0; i < vocab; i++)
            row[i] = u[i] == -INFINITY ? 0.0 : (G[i] - row[i] * G_sum) / tau;
        tau_sum += temperature_share(row, u, vocab, tau);
    }
    *dtau = -tau_sum;
    return publish(dlogits.data, work, n * vocab);
}

/* ---- cross-entropy -------------------------------------------------------- */

/* The length dloss has under the reduction: n for NONE, else 1. */
static size_t dloss_length(enum lmr_reduction reduction, size_t n)
{
    return reduction == LMR_REDUCE_NONE ? n : 1;
}

/* dloss (n for NONE, else 1) as an upstream gradient: LMR_EINVAL, LMR_EDIM,
 * LMR_ENONFINITE. */
static enum lmr_status check_dloss(lmr_vec dloss, enum lmr_reduction reduction,
                                   size_t n)
{
    if (lmr_vec_missing(dloss))
        return LMR_EINVAL;
    if (dloss.len != dloss_length(reduction, n))
        return LMR_EDIM;
    return (enum lmr_status)lmr_check_finite_vec(dloss);
}

/* lmr_cross_entropy_check, then dloss, then no counted target at a masked
 * logit, then the output dlogits (n,vocab). */
static enum lmr_status check_cross_entropy_backward(
    lmr_mat_out dlogits, lmr_mat logits, lmr_ids targets, lmr_vec dloss,
    enum lmr_reduction reduction, int64_t ignore_index)
{
    size_t n = logits.rows, vocab = logits.cols;
    enum lmr_status status = lmr_cross_entropy_check(logits, targets, reduction,
                                                     ignore_index);
    if (status == LMR_OK)
        status = check_dloss(dloss, reduction, n);
    if (status != LMR_OK)
        return status;
    for (size_t t = 0; t < n; t++)
        if (targets.data[t] != ignore_index &&
            logits.data[t * vocab + (size_t)targets.data[t]] == -INFINITY)
            return LMR_EDOMAIN; /* infinite loss: no gradient */
    if (lmr_mat_out_missing(dlogits))
        return LMR_EINVAL;
    return out_shape_differs(dlogits, n, vocab) ? LMR_EDIM : LMR_OK;
}

/* The weight w_t of each row (n) under the reduction: dloss[t] for NONE,
 * dloss[0] for SUM, dloss[0]/m for MEAN (m counted rows); 0 if ignored.
 * Returns m. */
static size_t row_weights(double *weights, const int64_t *targets,
                          const double *dloss, size_t n,
                          enum lmr_reduction reduction, int64_t ignore_index)
{
    size_t counted = 0;
    for (size_t t = 0; t < n; t++)
        counted += targets[t] != ignore_index;
    for (size_t t = 0; t < n; t++) {
        if (targets[t] == ignore_index)
            weights[t] = 0.0;
        else if (reduction == LMR_REDUCE_NONE)
            weights[t] = dloss[t];
        else if (reduction == LMR_REDUCE_SUM)
            weights[t] = dloss[0];
        else
            weights[t] = dloss[0] / (double)counted; /* counted >= 1 here */
    }
    return counted;
}

enum lmr_status lmr_cross_entropy_weights(lmr_vec_out weights, size_t *counted,
                                          lmr_ids targets, lmr_vec dloss,
                                          enum lmr_reduction reduction,
                                          int64_t ignore_index)
{
    size_t n = targets.len;
    if (lmr_ids_missing(targets))
        return LMR_EINVAL;
    if (lmr_ids_too_big(targets))
        return LMR_EOVERFLOW;
    if (reduction != LMR_REDUCE_NONE && reduction != LMR_REDUCE_SUM &&
        reduction != LMR_REDUCE_MEAN)
        return LMR_EDOMAIN;
    if (lmr_vec_missing(dloss))
        return LMR_EINVAL;
    if (dloss.len != dloss_length(reduction, n))
        return LMR_EDIM;
    if (lmr_vec_out_missing(weights) || counted == NULL)
        return LMR_EINVAL;
    if (weights.len != n)
        return LMR_EDIM;
    *counted = row_weights(weights.data, targets.data, dloss.data, n, reduction,
                           ignore_index);
    return LMR_OK;
}

enum lmr_status lmr_cross_entropy_backward(lmr_mat_out dlogits, lmr_mat logits,
                                           lmr_ids targets, lmr_vec dloss,
                                           enum lmr_reduction reduction,
                                           int64_t ignore_index)
{
    size_t n = logits.rows, vocab = logits.cols;
    enum lmr_status status = check_cross_entropy_backward(
        dlogits, logits, targets, dloss, reduction, ignore_index);
    if (status != LMR_OK || n == 0)
        return status;
    double *work = scratch(n, vocab); /* (n,vocab): y, then dlogits */
    double *weights = scratch(n, 1);  /* (n): w_t */
    status = work && weights
                 ? lmr_softmax(lmr_mat_out_of(work, n, vocab), logits, 1.0)
                 : LMR_ENOMEM;
    if (status == LMR_OK) {
        row_weights(weights, targets.data, dloss.data, n, reduction,
                    ignore_index);
        for (size_t t = 0; t < n; t++) {
            double *row = work + t * vocab; /* y[t,:] -> dlogits[t,:] */
            for (size_t i = 0; i < vocab; i++) {
                double target = (int64_t)i == targets.data[t] ? 1.0 : 0.0;
                row[i] = weights[t] * (row[i] - target);
            }
        }
        memcpy(dlogits.data, work, n * vocab * sizeof(double));
    }
    free(work);
    free(weights);
    return status;
}
