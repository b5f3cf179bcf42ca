/*
 * cli_explain_attention.c -- the explainer of attention_weights
 * (spec/attention.md) for lmr's --explain: per query, which keys are
 * masked and by what, each score as its dot product over sqrt(d_k), and the
 * softmax of the row, in plain double arithmetic; and of
 * attention_weights_backward: each shown row's dS, then dQ and dK as sums of
 * products.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_explain_internal.h"

#define MAX CLI_EXPLAIN_MAX

/* Why key j is masked for query i: "padding", "causal", both, or NULL. */
static const char *mask_reason(const vec_array *key_mask, int causal,
                               size_t i, size_t j, size_t n_q, size_t n_k)
{
    int padded = key_mask != NULL && key_mask->i64[j] == 0;
    int future = causal && j + n_q > i + n_k; /* j > i + n_k - n_q */
    if (padded && future)
        return "padding and causal";
    return padded ? "padding" : future ? "causal" : NULL;
}

/* Prints the scores of query i into u (n_k): -inf where masked. */
static void explain_scores(FILE *out, const vec_array *Q, const vec_array *K,
                           const vec_array *key_mask, int causal, size_t i,
                           double *u /* (n_k) */)
{
    size_t n_q = Q->shape[0], d_k = Q->shape[1], n_k = K->shape[0];
    double root = sqrt((double)d_k);
    for (size_t j = 0; j < n_k; j++) {
        const char *reason = mask_reason(key_mask, causal, i, j, n_q, n_k);
        if (reason != NULL) {
            u[j] = -INFINITY;
            if (j < MAX)
                fprintf(out, "  S[%zu,%zu] + M = -inf   (key %zu masked: %s)\n",
                        i, j, j, reason);
            continue;
        }
        if (j >= MAX) {
            double dot = 0.0;
            for (size_t l = 0; l < d_k; l++)
                dot += Q->f64[i * d_k + l] * K->f64[j * d_k + l];
            u[j] = dot / root;
            continue;
        }
        fprintf(out, "  Q[%zu,:].K[%zu,:] = ", i, j);
        double dot = put_products(out, Q->f64 + i * d_k, 1, K->f64 + j * d_k,
                                  1, d_k);
        u[j] = dot / root;
        fprintf(out, "\n  S[%zu,%zu] = %s / sqrt(%zu) = %s\n", i, j,
                num(dot).text, d_k, num(u[j]).text);
    }
    put_more_rows(out, n_k, "keys");
}

/* Prints the softmax of one row of scores u (n_k) with its masked -inf. */
static void explain_row_softmax(FILE *out, const double *u, size_t n_k,
                                double *e /* (n_k) */)
{
    double a = -INFINITY, S = 0.0;
    for (size_t j = 0; j < n_k; j++)
        a = u[j] > a ? u[j] : a;
    for (size_t j = 0; j < n_k; j++) {
        e[j] = exp(u[j] - a); /* exp(-inf) = 0 for a masked key */
        S += e[j];
    }
    fprintf(out, "  a = max over the unmasked keys = %s\n  exp(S + M - a) = ",
            num(a).text);
    put_list(out, e, n_k);
    fprintf(out, "\n  sum = ");
    put_sum(out, e, n_k);
    fprintf(out, "\n  weights[row] = exp(S + M - a) / sum = ");
    for (size_t j = 0; j < n_k; j++)
        e[j] /= S;
    put_list(out, e, n_k);
    fputc('\n', out);
}

static void explain_attention_weights(FILE *out, const vec_file *file,
                                      const vec_case *c)
{
    const vec_array *Q = input(c, "Q"), *K = input(c, "K");
    const vec_array *key_mask = input(c, "key_mask");
    int causal = param_bool(file, c, "causal");
    size_t n_q = Q->shape[0], n_k = K->shape[0];
    fprintf(out, "A[i,:] = softmax(S[i,:] + M[i,:]) with S[i,j] = "
            "Q[i,:].K[j,:] / sqrt(d_k) and M = -inf at a masked key\n");
    if (causal)
        fprintf(out, "causal: key j is masked for query i when j > i + "
                "(n_k - n_q) = i + %lld (the queries are the last %zu of the "
                "%zu positions)\n", (long long)n_k - (long long)n_q, n_q, n_k);
    if (key_mask != NULL)
        fprintf(out, "key_mask: 1 = the key takes part, 0 = padding\n");
    double *u = scratch(out, n_k), *e = scratch(out, n_k);
    for (size_t i = 0; u && e && i < shown_count(n_q); i++) {
        fprintf(out, "query %zu:\n", i);
        explain_scores(out, Q, K, key_mask, causal, i, u);
        explain_row_softmax(out, u, n_k, e);
    }
    put_more_rows(out, n_q, "queries");
    free(u);
    free(e);
}

/* dS = A (G - gbar) of one row, printed; into ds (n_k). a, g: (n_k) */
static void explain_row_backward(FILE *out, const double *a, const double *g,
                                 size_t n_k, double *ds /* (n_k) */)
{
    double gbar = 0.0;
    for (size_t j = 0; j < n_k; j++)
        gbar += a[j] * g[j];
    fprintf(out, "  gbar = sum_j A[i,j] G[i,j] = %s\n  dS[i,:] = A (G - gbar) = ",
            num(gbar).text);
    for (size_t j = 0; j < n_k; j++)
        ds[j] = a[j] * (g[j] - gbar);
    put_list(out, ds, n_k);
    fputc('\n', out);
}

static void explain_attention_weights_backward(FILE *out, const vec_file *file,
                                               const vec_case *c)
{
    const vec_array *Q = input(c, "Q"), *K = input(c, "K");
    const vec_array *key_mask = input(c, "key_mask"), *G = input(c, "dweights");
    int causal = param_bool(file, c, "causal");
    size_t n_q = Q->shape[0], d_k = Q->shape[1], n_k = K->shape[0];
    fprintf(out, "per query i: the forward row A[i,:] (see attention_weights), "
            "dS = A (G - sum_j A G), then dQ = dS K / sqrt(d_k) and "
            "dK = dS^T Q / sqrt(d_k)\n");
    double *u = scratch(out, n_k), *a = scratch(out, n_k);
    double *ds = scratch(out, n_q * n_k + 1);
    for (size_t i = 0; u && a && ds && i < shown_count(n_q); i++) {
        fprintf(out, "query %zu:\n", i);
        explain_scores(out, Q, K, key_mask, causal, i, u);
        explain_row_softmax(out, u, n_k, a);
        explain_row_backward(out, a, G->f64 + i * n_k, n_k, ds + i * n_k);
    }
    put_more_rows(out, n_q, "queries");
    double root = sqrt((double)d_k);
    for (size_t i = 0; u && a && ds && i < shown_count(n_q); i++)
        for (size_t l = 0; l < shown_count(d_k); l++) {
            fprintf(out, "dQ[%zu,%zu] = (", i, l);
            double sum = put_products(out, ds + i * n_k, 1, K->f64 + l, d_k, n_k);
            fprintf(out, ") / sqrt(%zu) = %s\n", d_k, num(sum / root).text);
        }
    if (n_q > MAX)
        fprintf(out, "(dK needs every query's dS; shown for at most %d "
                "queries: run the op for the values)\n", MAX);
    for (size_t j = 0; u && a && ds && n_q <= MAX && j < shown_count(n_k); j++)
        for (size_t l = 0; l < shown_count(d_k); l++) {
            fprintf(out, "dK[%zu,%zu] = (", j, l);
            double sum = put_products(out, ds + j, n_k, Q->f64 + l, d_k, n_q);
            fprintf(out, ") / sqrt(%zu) = %s\n", d_k, num(sum / root).text);
        }
    free(u);
    free(a);
    free(ds);
}

explainer cli_explain_attention_find(const char *op)
{
    if (strcmp(op, "attention_weights") == 0)
        return explain_attention_weights;
    if (strcmp(op, "attention_weights_backward") == 0)
        return explain_attention_weights_backward;
    return NULL;
}
