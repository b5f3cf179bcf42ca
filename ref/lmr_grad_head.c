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
 * reused), which also validates the logits and tau; then per row
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
 * mean divides by the number of counted rows). The forward lmr_cross_entropy
 * is run first only to validate logits, targets and ignore_index with
 * exactly its error codes.
 *
 * Every function checks all of its inputs (and allocates its scratch)
 * before it writes an output; nothing is written unless it returns LMR_OK.
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
static int publish(double *out, double *scratch_array, size_t count)
{
    if (count > 0)
        memcpy(out, scratch_array, count * sizeof(double));
    free(scratch_array);
    return LMR_OK;
}

/* ---- the heads ---------------------------------------------------------- */

/* Checks a head backward whose weight and its gradient dweight hold vocab*d
 * entries: pointers, sizes, then h (n,d), the weight and dlogits (n,vocab)
 * finite. */
static int check_head_backward(const double *dh, const double *dweight,
                               const double *h, const double *weight,
                               const double *dlogits, size_t n, size_t vocab,
                               size_t d)
{
    size_t h_count, logits_count, weight_count;
    if (weight == NULL || dweight == NULL ||
        (n > 0 && (dh == NULL || h == NULL || dlogits == NULL)))
        return LMR_EINVAL;
    if (vocab == 0 || d == 0)
        return LMR_EDIM;
    if (lmr_array_count(&h_count, n, d) != LMR_OK ||
        lmr_array_count(&logits_count, n, vocab) != LMR_OK ||
        lmr_array_count(&weight_count, vocab, d) != LMR_OK)
        return LMR_EOVERFLOW;
    if (lmr_check_finite(h, h_count) != LMR_OK ||
        lmr_check_finite(weight, weight_count) != LMR_OK ||
        lmr_check_finite(dlogits, logits_count) != LMR_OK)
        return LMR_ENONFINITE;
    return LMR_OK;
}

int lmr_head_tied_backward(double *dh, double *dE, const double *h,
                           const double *E, const double *dlogits, size_t n,
                           size_t vocab, size_t d)
{
    int status = check_head_backward(dh, dE, h, E, dlogits, n, vocab, d);
    if (status != LMR_OK)
        return status;
    zero(dh, n * d);
    zero(dE, vocab * d);
    for (size_t t = 0; t < n; t++)
        for (size_t v = 0; v < vocab; v++) {
            double upstream = dlogits[t * vocab + v]; /* dU[t,v] */
            add_scaled(dh + t * d, upstream, E + v * d, d); /* dh[t,:] += . E[v,:] */
            add_scaled(dE + v * d, upstream, h + t * d, d); /* dE[v,:] += . h[t,:] */
        }
    return LMR_OK;
}

int lmr_head_untied_backward(double *dh, double *dW, double *db,
                             const double *h, const double *W,
                             const double *dlogits, size_t n, size_t vocab,
                             size_t d)
{
    int status = check_head_backward(dh, dW, h, W, dlogits, n, vocab, d);
    if (status == LMR_OK && db == NULL)
        status = LMR_EINVAL;
    if (status != LMR_OK)
        return status;
    zero(dW, d * vocab);
    zero(db, vocab);
    for (size_t t = 0; t < n; t++) {
        const double *upstream = dlogits + t * vocab; /* dU[t,:] */
        add_scaled(db, 1.0, upstream, vocab);
        for (size_t j = 0; j < d; j++) {
            const double *row = W + j * vocab;                /* W[j,:] */
            dh[t * d + j] = dot(upstream, row, vocab);         /* dU[t,:] . W[j,:] */
            add_scaled(dW + j * vocab, h[t * d + j], upstream, vocab);
        }
    }
    return LMR_OK;
}

/* ---- softmax and log-softmax ---------------------------------------------- */

/*
 * The common start of the softmax-family backward ops: checks the pointers
 * and sizes, then runs lmr_softmax (which validates logits and tau) into a
 * fresh array *probs (n,vocab) that the caller frees, then checks that the
 * upstream gradient (n,vocab) is finite. *probs is NULL unless LMR_OK.
 */
static int softmax_backward_start(double **probs, const double *dlogits,
                                  const double *dtau, const double *logits,
                                  const double *upstream, size_t n,
                                  size_t vocab, double tau)
{
    size_t count;
    *probs = NULL;
    if (dtau == NULL || (n > 0 && (dlogits == NULL || upstream == NULL)))
        return LMR_EINVAL;
    if (lmr_array_count(&count, n, vocab) != LMR_OK)
        return LMR_EOVERFLOW;
    double *y = scratch(n, vocab);
    if (y == NULL)
        return LMR_ENOMEM;
    int status = lmr_softmax(y, logits, n, vocab, tau);
    if (status == LMR_OK && lmr_check_finite(upstream, count) != LMR_OK)
        status = LMR_ENONFINITE;
    if (status != LMR_OK) {
        free(y);
        return status;
    }
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

int lmr_softmax_backward(double *dlogits, double *dtau, const double *logits,
                         const double *dprobs, size_t n, size_t vocab,
                         double tau)
{
    double *work; /* (n,vocab): y, then overwritten row by row with dlogits */
    int status = softmax_backward_start(&work, dlogits, dtau, logits, dprobs,
                                        n, vocab, tau);
    if (status != LMR_OK)
        return status;
    double tau_sum = 0.0;
    for (size_t t = 0; t < n; t++) {
        double *row = work + t * vocab;                /* y[t,:] -> dlogits[t,:] */
        const double *G = dprobs + t * vocab;          /* dprobs[t,:] */
        double weighted = dot(row, G, vocab);          /* sum_j y_j G_j */
        for (size_t i = 0; i < vocab; i++)
            row[i] = row[i] * (G[i] - weighted) / tau; /* y_i = 0 if masked */
        tau_sum += temperature_share(row, logits + t * vocab, vocab, tau);
    }
    *dtau = -tau_sum;
    return publish(dlogits, work, n * vocab);
}

/* LMR_EDOMAIN if the upstream gradient (n,vocab) is non-zero where a logit
 * (n,vocab) is masked: no finite loss can depend on a constant -inf. */
static int check_masked_upstream(const double *logits, const double *upstream,
                                 size_t n, size_t vocab)
{
    for (size_t i = 0; i < n * vocab; i++)
        if (logits[i] == -INFINITY && upstream[i] != 0.0)
            return LMR_EDOMAIN;
    return LMR_OK;
}

int lmr_log_softmax_backward(double *dlogits, double *dtau,
                             const double *logits, const double *dlogprobs,
                             size_t n, size_t vocab, double tau)
{
    double *work; /* (n,vocab): y, then overwritten row by row with dlogits */
    int status = softmax_backward_start(&work, dlogits, dtau, logits,
                                        dlogprobs, n, vocab, tau);
    if (status == LMR_OK)
        status = check_masked_upstream(logits, dlogprobs, n, vocab);
    if (status != LMR_OK) {
        free(work);
        return status;
    }
    double tau_sum = 0.0;
    for (size_t t = 0; t < n; t++) {
        double *row = work + t * vocab;       /* y[t,:] -> dlogits[t,:] */
        const double *G = dlogprobs + t * vocab; /* dlogprobs[t,:] */
        const double *u = logits + t * vocab;    /* logits[t,:] */
        double G_sum = 0.0;                      /* Gamma = sum_j G_j */
        for (size_t i = 0; i < vocab; i++)
            G_sum += G[i];
        for (size_t i = 0; i < vocab; i++)
            row[i] = u[i] == -INFINITY ? 0.0 : (G[i] - row[i] * G_sum) / tau;
        tau_sum += temperature_share(row, u, vocab, tau);
    }
    *dtau = -tau_sum;
    return publish(dlogits, work, n * vocab);
}

/* ---- cross-entropy -------------------------------------------------------- */

/* Validates the inputs the way lmr_cross_entropy does, by running it
 * (per position, into a scratch array), then dloss (n for NONE, else 1)
 * finite, then no counted target at a masked logit. */
static int check_cross_entropy_backward(const double *dlogits,
                                        const double *logits,
                                        const int64_t *targets,
                                        const double *dloss, size_t n,
                                        size_t vocab,
                                        enum lmr_reduction reduction,
                                        int64_t ignore_index)
{
    size_t count;
    if (reduction != LMR_REDUCE_NONE && reduction != LMR_REDUCE_SUM &&
        reduction != LMR_REDUCE_MEAN)
        return LMR_EDOMAIN;
    if ((dloss == NULL && (reduction != LMR_REDUCE_NONE || n > 0)) ||
        (n > 0 && dlogits == NULL))
        return LMR_EINVAL;
    if (lmr_array_count(&count, n, vocab) != LMR_OK)
        return LMR_EOVERFLOW;
    double *losses = scratch(n, 1); /* (n): the forward's per-position loss */
    if (losses == NULL)
        return LMR_ENOMEM;
    int status = lmr_cross_entropy(losses, logits, targets, n, vocab,
                                   LMR_REDUCE_NONE, ignore_index);
    free(losses);
    if (status != LMR_OK)
        return status;
    if (lmr_check_finite(dloss, reduction == LMR_REDUCE_NONE ? n : 1) != LMR_OK)
        return LMR_ENONFINITE;
    for (size_t t = 0; t < n; t++)
        if (targets[t] != ignore_index &&
            logits[t * vocab + (size_t)targets[t]] == -INFINITY)
            return LMR_EDOMAIN; /* infinite loss: no gradient */
    return LMR_OK;
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

int lmr_cross_entropy_weights(double *weights, size_t *counted,
                              const int64_t *targets, const double *dloss,
                              size_t n, enum lmr_reduction reduction,
                              int64_t ignore_index)
{
    if (reduction != LMR_REDUCE_NONE && reduction != LMR_REDUCE_SUM &&
        reduction != LMR_REDUCE_MEAN)
        return LMR_EDOMAIN;
    if (counted == NULL ||
        (dloss == NULL && (reduction != LMR_REDUCE_NONE || n > 0)) ||
        (n > 0 && (weights == NULL || targets == NULL)))
        return LMR_EINVAL;
    *counted = row_weights(weights, targets, dloss, n, reduction,
                           ignore_index);
    return LMR_OK;
}

int lmr_cross_entropy_backward(double *dlogits, const double *logits,
                               const int64_t *targets, const double *dloss,
                               size_t n, size_t vocab,
                               enum lmr_reduction reduction,
                               int64_t ignore_index)
{
    int status = check_cross_entropy_backward(dlogits, logits, targets, dloss,
                                              n, vocab, reduction,
                                              ignore_index);
    if (status != LMR_OK || n == 0)
        return status;
    double *work = scratch(n, vocab); /* (n,vocab): y, then dlogits */
    double *weights = scratch(n, 1);  /* (n): w_t */
    status = work && weights ? lmr_softmax(work, logits, n, vocab, 1.0)
                             : LMR_ENOMEM;
    if (status == LMR_OK) {
        row_weights(weights, targets, dloss, n, reduction, ignore_index);
        for (size_t t = 0; t < n; t++) {
            double *row = work + t * vocab; /* y[t,:] -> dlogits[t,:] */
            for (size_t i = 0; i < vocab; i++) {
                double target = (int64_t)i == targets[t] ? 1.0 : 0.0;
                row[i] = weights[t] * (row[i] - target);
            }
        }
        memcpy(dlogits, work, n * vocab * sizeof(double));
    }
    free(work);
    free(weights);
    return status;
}
