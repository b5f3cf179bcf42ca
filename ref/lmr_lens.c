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

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lmr_check.h"
#include "lmr_head.h"
#include "lmr_intermediates.h"
#include "lmr_layernorm.h"
#include "lmr_layernorm_stats.h"
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
            int eligible = m == 0 ||
                           ranks_after(logits[i], i, logits[tokens[m - 1]],
                                       (size_t)tokens[m - 1]);
            if (eligible && (best == vocab ||
                             ranks_after(logits[best], best, logits[i], i)))
                best = i;
        }
        tokens[m] = (int64_t)best;
    }
}

/* Non-zero when the lens normalises: gamma or beta given. */
static int has_layernorm(lmr_vec gamma, lmr_vec beta)
{
    return gamma.len > 0 || beta.len > 0;
}

/* LMR_EINVAL, LMR_EDIM and LMR_EOVERFLOW for the inputs. */
static int check_lens_views(lmr_stack hidden, lmr_mat E, lmr_vec gamma,
                            lmr_vec beta)
{
    size_t d = hidden.cols, vocab = E.rows;
    if (lmr_stack_missing(hidden) || lmr_mat_missing(E) ||
        lmr_vec_missing(gamma) || lmr_vec_missing(beta))
        return LMR_EINVAL;
    if (hidden.count == 0 || vocab == 0 || d == 0 || E.cols != d)
        return LMR_EDIM;
    if (has_layernorm(gamma, beta) && (gamma.len != d || beta.len != d))
        return LMR_EDIM;
    lmr_stack probs = lmr_stack_of(NULL, hidden.count, hidden.rows, vocab);
    if (lmr_stack_too_big(hidden) || lmr_mat_too_big(E) ||
        lmr_stack_too_big(probs))
        return LMR_EOVERFLOW;
    return LMR_OK;
}

enum lmr_status lmr_logit_lens_check(lmr_stack hidden, lmr_mat E, lmr_vec gamma,
                                     lmr_vec beta, int64_t top_k, double eps)
{
    int status = check_lens_views(hidden, E, gamma, beta);
    if (status == LMR_OK && (top_k < 1 || (uint64_t)top_k > E.rows))
        status = LMR_EDOMAIN;
    if (status == LMR_OK && has_layernorm(gamma, beta))
        status = lmr_layernorm_eps_problem(eps);
    if (status == LMR_OK)
        status = lmr_check_finite_stack(hidden);
    if (status == LMR_OK)
        status = lmr_check_finite_mat(E);
    if (status == LMR_OK)
        status = lmr_check_finite_vec(gamma);
    if (status == LMR_OK)
        status = lmr_check_finite_vec(beta);
    return (enum lmr_status)status;
}

/* The logits of one layer: x (n,d) is normalised in place (when gamma is
 * given), then logits (n,vocab) = x E^T. */
static int lens_layer_logits(lmr_mat_out logits, lmr_mat_out x, lmr_mat E,
                             lmr_vec gamma, lmr_vec beta, double eps)
{
    int status = LMR_OK;
    if (has_layernorm(gamma, beta))
        status = lmr_layernorm(x, lmr_mat_in(x), gamma, beta, eps);
    if (status == LMR_OK)
        status = lmr_head_tied(logits, lmr_mat_in(x), E);
    return status;
}

/* One layer: x (n,d) work array, probs (n,vocab), tokens/top (n,top_k). */
static int lens_layer(lmr_mat_out probs, int64_t *tokens, double *top_probs,
                      lmr_mat_out x, lmr_mat E, lmr_vec gamma, lmr_vec beta,
                      size_t top_k, double eps)
{
    size_t n = probs.rows, vocab = probs.cols;
    /* probs holds the logits for now */
    int status = lens_layer_logits(probs, x, E, gamma, beta, eps);
    for (size_t t = 0; status == LMR_OK && t < n; t++)
        top_tokens_of_row(tokens + t * top_k, probs.data + t * vocab, vocab,
                          top_k);
    if (status == LMR_OK)
        status = lmr_softmax(probs, lmr_mat_in(probs), 1.0);
    for (size_t t = 0; status == LMR_OK && t < n; t++)
        for (size_t m = 0; m < top_k; m++)
            top_probs[t * top_k + m] =
                probs.data[t * vocab + (size_t)tokens[t * top_k + m]];
    return status;
}

/* LMR_EINVAL, then LMR_EDIM, for the outputs of lmr_logit_lens. */
static int check_lens_outputs(const lmr_logit_lens_outputs *out,
                              lmr_stack hidden, size_t vocab, size_t top_k)
{
    size_t layers = hidden.count, n = hidden.rows, tokens;
    if (out == NULL || lmr_stack_out_missing(out->probs) ||
        lmr_ids_out_missing(out->top_tokens) ||
        lmr_stack_out_missing(out->top_probs))
        return LMR_EINVAL;
    /* layers * n * vocab fits (checked), and top_k <= vocab */
    tokens = layers * n * top_k;
    if (out->probs.count != layers || out->probs.rows != n ||
        out->probs.cols != vocab || out->top_tokens.len != tokens ||
        out->top_probs.count != layers || out->top_probs.rows != n ||
        out->top_probs.cols != top_k)
        return LMR_EDIM;
    return LMR_OK;
}

enum lmr_status lmr_logit_lens(const lmr_logit_lens_outputs *out,
                               lmr_stack hidden, lmr_mat E, lmr_vec gamma,
                               lmr_vec beta, int64_t top_k, double eps)
{
    int status = lmr_logit_lens_check(hidden, E, gamma, beta, top_k, eps);
    size_t layers = hidden.count, n = hidden.rows, d = hidden.cols;
    size_t vocab = E.rows, k = status == LMR_OK ? (size_t)top_k : 0;
    if (status == LMR_OK)
        status = check_lens_outputs(out, hidden, vocab, k);
    if (status != LMR_OK || n == 0)
        return (enum lmr_status)status;
    double *x = malloc(n * d * sizeof(double)); /* (n,d) one layer's states */
    if (x == NULL)
        return LMR_ENOMEM;
    for (size_t l = 0; status == LMR_OK && l < layers; l++) {
        memcpy(x, hidden.data + l * n * d,
               n * d * sizeof(double)); /* layer l */
        status = lens_layer(
            lmr_mat_out_of(out->probs.data + l * n * vocab, n, vocab),
            out->top_tokens.data + l * n * k, out->top_probs.data + l * n * k,
            lmr_mat_out_of(x, n, d), E, gamma, beta, k, eps);
    }
    free(x);
    return (enum lmr_status)status;
}

enum lmr_status lmr_logit_lens_logits(lmr_stack_out normalised,
                                      lmr_stack_out logits, lmr_stack hidden,
                                      lmr_mat E, lmr_vec gamma, lmr_vec beta,
                                      double eps)
{
    /* top_k = 1 is always in range once vocab >= 1 */
    int status = lmr_logit_lens_check(hidden, E, gamma, beta, 1, eps);
    size_t layers = hidden.count, n = hidden.rows, d = hidden.cols;
    size_t vocab = E.rows;
    if (status == LMR_OK &&
        (lmr_stack_out_missing(normalised) || lmr_stack_out_missing(logits)))
        status = LMR_EINVAL;
    if (status == LMR_OK &&
        (normalised.count != layers || normalised.rows != n ||
         normalised.cols != d || logits.count != layers || logits.rows != n ||
         logits.cols != vocab))
        status = LMR_EDIM;
    if (status != LMR_OK || n == 0)
        return (enum lmr_status)status;
    for (size_t l = 0; status == LMR_OK && l < layers; l++) {
        double *x = normalised.data + l * n * d; /* layer l */
        memcpy(x, hidden.data + l * n * d, n * d * sizeof(double));
        status = lens_layer_logits(
            lmr_mat_out_of(logits.data + l * n * vocab, n, vocab),
            lmr_mat_out_of(x, n, d), E, gamma, beta, eps);
    }
    return (enum lmr_status)status;
}
