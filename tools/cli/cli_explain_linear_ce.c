/*
 * cli_explain_linear_ce.c -- lmr --explain for the fused linear
 * cross-entropy (spec/linear_cross_entropy.md): for the first rows, the
 * logits chunk by chunk with the running maximum and sum of exponentials
 * (the online log-sum-exp a fused kernel keeps), the row's loss, then D for
 * the first row and the first entry of dh and of dE as sums of products.
 * Plain double arithmetic, in the order the text shows.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_explain_internal.h"

/* The chunk of the explanation: far smaller than the reference's, so that
 * a small case shows more than one. */
#define EXPLAIN_CHUNK 4

/* u[v] = h_row . E[v,:] for every v. u: (vocab); h_row: (d); E: (vocab,d) */
static void row_logits(double *u, const double *h_row, const double *E,
                       size_t vocab, size_t d)
{
    for (size_t v = 0; v < vocab; v++) {
        u[v] = 0.0;
        for (size_t j = 0; j < d; j++)
            u[v] += h_row[j] * E[v * d + j];
    }
}

/* The online log-sum-exp of one row u (vocab), chunk by chunk, printed;
 * returns log S + a, the row's log-sum-exp. */
static double explain_online_lse(FILE *out, const double *u, size_t vocab)
{
    double a = -INFINITY, S = 0.0;
    size_t chunks = (vocab + EXPLAIN_CHUNK - 1) / EXPLAIN_CHUNK;
    for (size_t k = 0; k < chunks; k++) {
        size_t first = k * EXPLAIN_CHUNK;
        size_t rows = vocab - first < EXPLAIN_CHUNK ? vocab - first : EXPLAIN_CHUNK;
        double largest = a;
        for (size_t v = first; v < first + rows; v++)
            largest = fmax(largest, u[v]);
        S = S * exp(a - largest);
        for (size_t v = first; v < first + rows; v++)
            S += exp(u[v] - largest);
        a = largest;
        if (k < shown_count(chunks))
            fprintf(out, "    chunk [%zu, %zu): a = %s, S = %s\n", first,
                    first + rows, num(a).text, num(S).text);
    }
    put_more_rows(out, chunks, "chunks");
    return log(S) + a;
}

void explain_linear_cross_entropy(FILE *out, const vec_file *file,
                                  const vec_case *c)
{
    const vec_array *h = input(c, "h"), *E = input(c, "E"),
                    *targets = input(c, "targets"), *dloss = input(c, "dloss");
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    int64_t ignore_index = param_int64(file, c, "ignore_index");
    const char *reduction = param_string(file, c, "reduction");
    double *u = NULL, *D = NULL, *weights = NULL;
    double **arrays[] = {&u, &D, &weights};
    const size_t sizes[] = {vocab, n * vocab, n};
    if (scratch_arrays(out, arrays, sizes, 3))
        return;
    size_t counted = cross_entropy_weights(targets->i64, n, dloss->f64,
                                           reduction, ignore_index, weights);
    fprintf(out, "loss_t = log sum_v exp(u[t,v]) - u[t,c_t], u = h E^T, taken "
            "over the vocabulary in chunks of %d (the reference uses 256): a = "
            "the running maximum, S = sum exp(u - a), rescaled by exp(a_old - "
            "a_new) when a grows; reduction %s over %zu counted rows\n",
            EXPLAIN_CHUNK, reduction, counted);
    for (size_t t = 0; t < n; t++) {
        int64_t target = targets->i64[t];
        row_logits(u, h->f64 + t * d, E->f64, vocab, d);
        if (t < shown_count(n) && target == ignore_index)
            fprintf(out, "row %zu: target %" PRId64 " = ignore_index: loss 0, "
                    "D[%zu,:] = 0\n", t, target, t);
        if (target == ignore_index)
            continue;
        double lse;
        if (t < shown_count(n)) {
            fprintf(out, "row %zu: target c = %" PRId64 ", u = ", t, target);
            put_list(out, u, vocab);
            fputc('\n', out);
            lse = explain_online_lse(out, u, vocab);
            fprintf(out, "  loss = %s - %s = %s; w_%zu = %s\n", num(lse).text,
                    num(u[target]).text, num(lse - u[target]).text, t,
                    num(weights[t]).text);
        } else {
            double a = -INFINITY, S = 0.0;
            for (size_t v = 0; v < vocab; v++)
                a = fmax(a, u[v]);
            for (size_t v = 0; v < vocab; v++)
                S += exp(u[v] - a);
            lse = log(S) + a;
        }
        for (size_t v = 0; v < vocab; v++)
            D[t * vocab + v] = weights[t] * (exp(u[v] - lse) -
                                             ((int64_t)v == target));
    }
    put_more_rows(out, n, "rows");
    fprintf(out, "D[t,v] = w_t (y[t,v] - 1[v = c_t]) (cross_entropy_backward); "
            "dh = D E, dE = D^T h\n");
    if (n > 0) {
        fprintf(out, "D[0,:] = ");
        put_list(out, D, vocab);
        fputc('\n', out);
        explain_product_entry(out, "dh", 0, 0, vocab, (factor){D, vocab, 1},
                              (factor){E->f64, 1, d});
    }
    explain_product_entry(out, "dE", 0, 0, n, (factor){D, 1, vocab},
                          (factor){h->f64, 1, d});
    free_arrays(arrays, 3);
}
