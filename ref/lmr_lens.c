/*
 * lmr_lens.c -- the logit lens.
 *
 * Method: each layer's block of hidden states is (optionally) normalised
 * into a work array, unembedded with the tied head into the layer's block of
 * probs, ranked by logit, and only then turned into probabilities in place.
 * Ranking by logit rather than by rounded probability keeps the order exact
 * when several probabilities underflow to the same value.
 */
#include "lmr_lens.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lmr_check.h"
#include "lmr_head.h"
#include "lmr_intermediates.h"
#include "lmr_layernorm.h"
#include "lmr_softmax.h"
#include "lmr_status.h"

/* 1 if (logit, index) comes after (previous_logit, previous) in rank order:
 * logit descending, index ascending. */
static int ranks_after(double logit, size_t index, double previous_logit,
                       size_t previous)
{
    return logit < previous_logit ||
           (logit == previous_logit && index > previous);
}

/* The top_k tokens of one row of logits (vocab), by repeated selection. */
static void top_tokens_of_row(int64_t *tokens, const double *logits,
                              size_t vocab, size_t top_k)
{
    for (size_t m = 0; m < top_k; m++) {
        size_t best = vocab; /* none yet */
        for (size_t i = 0; i < vocab; i++) {
            int eligible = m == 0 || ranks_after(logits[i], i,
                                                 logits[tokens[m - 1]],
                                                 (size_t)tokens[m - 1]);
            if (eligible && (best == vocab ||
                             ranks_after(logits[best], best, logits[i], i)))
                best = i;
        }
        tokens[m] = (int64_t)best;
    }
}

static int check_lens(const double *hidden, const double *gamma,
                      const double *beta, size_t layers, size_t n,
                      size_t vocab, size_t d, size_t top_k, double eps)
{
    size_t count;
    if (layers == 0)
        return LMR_EDIM;
    if (top_k < 1 || top_k > vocab)
        return vocab == 0 ? LMR_EDIM : LMR_EDOMAIN;
    if ((gamma == NULL) != (beta == NULL))
        return LMR_EINVAL;
    size_t rows;    /* layers * n vectors are read */
    size_t outputs; /* layers * n * vocab probabilities are written */
    if (n != 0 && layers > SIZE_MAX / n)
        return LMR_EOVERFLOW;
    rows = layers * n;
    if (lmr_array_count(&count, rows, d) != LMR_OK ||
        lmr_array_count(&outputs, rows, vocab) != LMR_OK)
        return LMR_EOVERFLOW;
    if (gamma != NULL) {
        double unused = 0.0; /* checks gamma, beta, eps without rows */
        int status = lmr_layernorm(&unused, &unused, gamma, beta, 0, d, eps);
        if (status != LMR_OK)
            return status;
    }
    return lmr_check_finite(hidden, count);
}

/* The logits of one layer: x (n,d) is normalised in place (when gamma is
 * given), then logits (n,vocab) = x E^T. */
static int lens_layer_logits(double *logits, double *x, const double *E,
                             const double *gamma, const double *beta,
                             size_t n, size_t vocab, size_t d, double eps)
{
    int status = LMR_OK;
    if (gamma != NULL)
        status = lmr_layernorm(x, x, gamma, beta, n, d, eps);
    if (status == LMR_OK)
        status = lmr_head_tied(lmr_mat_out_of(logits, n, vocab),
                               lmr_mat_of(x, n, d), lmr_mat_of(E, vocab, d));
    return status;
}

/* One layer: x (n,d) work array, probs (n,vocab), tokens/top (n,top_k). */
static int lens_layer(double *probs, int64_t *tokens, double *top_probs,
                      double *x, const double *E, const double *gamma,
                      const double *beta, size_t n, size_t vocab, size_t d,
                      size_t top_k, double eps)
{
    int status = lens_layer_logits(probs, x, E, gamma, beta, n, vocab, d,
                                   eps); /* logits for now */
    for (size_t t = 0; status == LMR_OK && t < n; t++)
        top_tokens_of_row(tokens + t * top_k, probs + t * vocab, vocab, top_k);
    if (status == LMR_OK)
        status = lmr_softmax(lmr_mat_out_of(probs, n, vocab),
                             lmr_mat_of(probs, n, vocab), 1.0);
    for (size_t t = 0; status == LMR_OK && t < n; t++)
        for (size_t m = 0; m < top_k; m++)
            top_probs[t * top_k + m] =
                probs[t * vocab + (size_t)tokens[t * top_k + m]];
    return status;
}

/* The checks of lmr_logit_lens, top_k given. */
static int check_lens_call(const double *E, const double *hidden,
                           const double *gamma, const double *beta,
                           size_t layers, size_t n, size_t vocab, size_t d,
                           size_t top_k, double eps)
{
    int status = lmr_check_table(E, vocab, d);
    if (status == LMR_OK)
        status = check_lens(hidden, gamma, beta, layers, n, vocab, d, top_k,
                            eps);
    return status;
}

int lmr_logit_lens(double *probs, int64_t *top_tokens, double *top_probs,
                   const double *hidden, const double *E, const double *gamma,
                   const double *beta, size_t layers, size_t n, size_t vocab,
                   size_t d, size_t top_k, double eps)
{
    if (E == NULL || (n > 0 && (probs == NULL || top_tokens == NULL ||
                                top_probs == NULL || hidden == NULL)))
        return LMR_EINVAL;
    int status = check_lens_call(E, hidden, gamma, beta, layers, n, vocab, d,
                                 top_k, eps);
    if (status != LMR_OK || n == 0)
        return status;
    double *x = malloc(n * d * sizeof(double)); /* (n,d) one layer's states */
    if (x == NULL)
        return LMR_ENOMEM;
    for (size_t l = 0; status == LMR_OK && l < layers; l++) {
        memcpy(x, hidden + l * n * d, n * d * sizeof(double)); /* layer l */
        status = lens_layer(probs + l * n * vocab, top_tokens + l * n * top_k,
                            top_probs + l * n * top_k, x, E, gamma, beta, n,
                            vocab, d, top_k, eps);
    }
    free(x);
    return status;
}

int lmr_logit_lens_logits(double *normalised, double *logits,
                          const double *hidden, const double *E,
                          const double *gamma, const double *beta,
                          size_t layers, size_t n, size_t vocab, size_t d,
                          double eps)
{
    if (E == NULL || (n > 0 && (normalised == NULL || logits == NULL ||
                                hidden == NULL)))
        return LMR_EINVAL;
    /* top_k = 1 is always in range once vocab >= 1 */
    int status = check_lens_call(E, hidden, gamma, beta, layers, n, vocab, d,
                                 1, eps);
    if (status != LMR_OK || n == 0)
        return status;
    for (size_t l = 0; status == LMR_OK && l < layers; l++) {
        double *x = normalised + l * n * d; /* layer l */
        memcpy(x, hidden + l * n * d, n * d * sizeof(double));
        status = lens_layer_logits(logits + l * n * vocab, x, E, gamma, beta,
                                   n, vocab, d, eps);
    }
    return status;
}
