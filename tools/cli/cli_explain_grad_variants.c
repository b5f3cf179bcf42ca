/*
 * cli_explain_grad_variants.c -- the --explain of the head variants'
 * backward ops (spec/gradients.md, from head_partial_backward to
 * soft_tie_loss_backward): the spec's formulas, then one or a few entries
 * written out in plain double arithmetic. They are shorter than the
 * explanations of cli_explain_grad.c: each op is a combination of the tied
 * and untied heads' backward, which those explain in full.
 */
#include "cli_explain_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX CLI_EXPLAIN_MAX

/* ---- head_partial_backward ----------------------------------------------- */

void explain_head_partial_backward(FILE *out, const vec_file *file,
                                   const vec_case *c)
{
    const vec_array *h = input(c, "h"), *E = input(c, "E"), *F = input(c, "F"),
                    *dU = input(c, "dlogits");
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    size_t k = (size_t)param_int64(file, c, "k"), free_cols = vocab - k;
    fprintf(out, "columns v < k of W are E[v,:]^T (tied), columns v >= k are "
            "F[:,v-k] (free); k = %zu of |V| = %zu\n"
            "dh[t,j]   = sum_{v<k} dU[t,v] E[v,j] + sum_{v>=k} dU[t,v] F[j,v-k]\n"
            "dE[v,j]   = sum_t dU[t,v] h[t,j] for v < k, 0 for v >= k (rows "
            "this head does not use)\n"
            "dF[j,v-k] = sum_t h[t,j] dU[t,v] for v >= k\n"
            "the first entry of each:\n", k, vocab);
    factor dU_tied = {dU->f64, vocab, 1}, dU_free = {dU->f64 + k, vocab, 1};
    int both = k > 0 && free_cols > 0;
    double tied = 0.0, untied = 0.0;
    if (k > 0)
        tied = explain_product_entry(out, both ? "tied part of dh" : "dh", 0, 0,
                                     k, dU_tied, (factor){E->f64, 1, d});
    if (free_cols > 0)
        untied = explain_product_entry(out, both ? "free part of dh" : "dh", 0,
                                       0, free_cols, dU_free,
                                       (factor){F->f64, free_cols, 1});
    if (both)
        fprintf(out, "dh[0,0] = (%s) + (%s) = %s\n", num(tied).text,
                num(untied).text, num(tied + untied).text);
    if (k > 0)
        explain_product_entry(out, "dE", 0, 0, n, (factor){dU->f64, 1, vocab},
                              (factor){h->f64, 1, d});
    if (free_cols > 0) {
        fprintf(out, "dE[%zu,0] = 0 (row %zu >= k: a free column)\n", k, k);
        explain_product_entry(out, "dF", 0, 0, n, (factor){h->f64, 1, d},
                              (factor){dU->f64 + k, 1, vocab});
    }
}

/* ---- head_transformed_backward ------------------------------------------- */

void explain_head_transformed_backward(FILE *out, const vec_file *file,
                                       const vec_case *c)
{
    const vec_array *h = input(c, "h"), *T = input(c, "T"), *E = input(c, "E"),
                    *dU = input(c, "dlogits");
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    double *q = NULL, *r = NULL;
    double **arrays[] = {&q, &r};
    const size_t sizes[] = {n * d, n * d};
    (void)file;
    if (scratch_arrays(out, arrays, sizes, 2))
        return;
    for (size_t t = 0; t < n; t++)
        for (size_t b = 0; b < d; b++) {
            for (size_t a = 0; a < d; a++)
                q[t * d + b] += h->f64[t * d + a] * T->f64[a * d + b];
            for (size_t v = 0; v < vocab; v++)
                r[t * d + b] += dU->f64[t * vocab + v] * E->f64[v * d + b];
        }
    fprintf(out, "u = q E^T with q = h T: the tied head's backward gives "
            "r = dU E and dE = dU^T q, and q = h T (an untied head) gives "
            "dh = r T^T and dT = h^T r\n");
    fprintf(out, "q[0,:] = h[0,:] T = ");
    put_list(out, q, d);
    fprintf(out, "\nr[0,:] = dU[0,:] E = ");
    put_list(out, r, d);
    fprintf(out, "\nthe first entry of each:\n");
    explain_product_entry(out, "dh", 0, 0, d, (factor){r, d, 1},
                          (factor){T->f64, d, 1});
    explain_product_entry(out, "dT", 0, 0, n, (factor){h->f64, 1, d},
                          (factor){r, 1, d});
    explain_product_entry(out, "dE", 0, 0, n, (factor){dU->f64, 1, vocab},
                          (factor){q, 1, d});
    free_arrays(arrays, 2);
}

/* ---- head_adaptive_backward ---------------------------------------------- */

/* dalpha = sum_t sum_v dU[t,v] ((h E^T)[t,v] - (h F)[t,v]), with the
 * difference into difference (n, vocab). */
static void explain_dalpha(FILE *out, const vec_array *h, const vec_array *E,
                           const vec_array *F, const vec_array *dU,
                           double *difference /* (n, vocab) */)
{
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    for (size_t t = 0; t < n; t++)
        for (size_t v = 0; v < vocab; v++)
            for (size_t j = 0; j < d; j++)
                difference[t * vocab + v] +=
                    h->f64[t * d + j] * (E->f64[v * d + j] - F->f64[j * vocab + v]);
    fprintf(out, "(h E^T - h F)[0,:] = ");
    put_list(out, difference, vocab);
    fprintf(out, "\ndalpha = sum_t sum_v dU[t,v] (h E^T - h F)[t,v] = ");
    put_products(out, dU->f64, 1, difference, 1, n * vocab);
    fputc('\n', out);
}

void explain_head_adaptive_backward(FILE *out, const vec_file *file,
                                    const vec_case *c)
{
    const vec_array *h = input(c, "h"), *E = input(c, "E"), *F = input(c, "F"),
                    *dU = input(c, "dlogits");
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    double alpha = param_double(file, c, "alpha");
    double *mixed = NULL, *difference = NULL;
    double **arrays[] = {&mixed, &difference};
    const size_t sizes[] = {vocab, n * vocab};
    if (scratch_arrays(out, arrays, sizes, 2))
        return;
    fprintf(out, "u = alpha (h E^T) + (1 - alpha)(h F), alpha = %s: each head's "
            "backward scaled by its weight\n"
            "dh[t,j] = sum_v dU[t,v] (alpha E[v,j] + (1-alpha) F[j,v])\n"
            "dE = alpha dU^T h,  dF = (1 - alpha) h^T dU\n"
            "dalpha = sum_t sum_v dU[t,v] ((h E^T)[t,v] - (h F)[t,v])\n",
            num(alpha).text);
    for (size_t v = 0; v < vocab; v++)
        mixed[v] = alpha * E->f64[v * d] + (1.0 - alpha) * F->f64[v];
    fprintf(out, "alpha E[v,0] + (1-alpha) F[0,v] = ");
    put_list(out, mixed, vocab);
    fprintf(out, "\ndh[0,0] = ");
    put_products(out, dU->f64, 1, mixed, 1, vocab);
    fprintf(out, "\ndE[0,0] = %s * (", num(alpha).text);
    double head = put_products(out, dU->f64, vocab, h->f64, d, n);
    fprintf(out, ") = %s\ndF[0,0] = %s * (", num(alpha * head).text,
            num(1.0 - alpha).text);
    double free_head = put_products(out, h->f64, d, dU->f64, vocab, n);
    fprintf(out, ") = %s\n", num((1.0 - alpha) * free_head).text);
    explain_dalpha(out, h, E, F, dU, difference);
    free_arrays(arrays, 2);
}

/* ---- head_mlp_backward --------------------------------------------------- */

/* The MLP head's inputs. W2 is (m, vocab), or E (vocab, m) when tied. */
typedef struct {
    const vec_array *h, *W1, *b1, *W2, *E, *b2, *dU;
    int tied;
    size_t n, d, m, vocab;
} mlp_inputs;

static mlp_inputs read_mlp(const vec_file *file, const vec_case *c)
{
    mlp_inputs in;
    in.h = input(c, "h");
    in.W1 = input(c, "W1");
    in.b1 = input(c, "b1");
    in.W2 = input(c, "W2");
    in.E = input(c, "E");
    in.b2 = input(c, "b2");
    in.dU = input(c, "dlogits");
    in.tied = param_bool(file, c, "tied");
    in.n = in.h->shape[0];
    in.d = in.h->shape[1];
    in.m = in.W1->shape[1];
    in.vocab = in.tied ? in.E->shape[0] : in.W2->shape[1];
    return in;
}

/* W2 as the right factor of dU W2^T: entry (v, i) is W2[i,v] or E[v,i]. */
static factor w2_transposed(const mlp_inputs *in)
{
    return in->tied ? (factor){in->E->f64, 1, in->m}
                    : (factor){in->W2->f64, in->vocab, 1};
}

/* a = h W1 + b1 and da = (dU W2^T) [a > 0], each (n, m); back (n, m) holds
 * dU W2^T. */
static void mlp_rows(const mlp_inputs *in, double *a, double *back, double *da)
{
    factor w2t = w2_transposed(in);
    for (size_t t = 0; t < in->n; t++)
        for (size_t i = 0; i < in->m; i++) {
            size_t at = t * in->m + i;
            a[at] = in->b1 ? in->b1->f64[i] : 0.0;
            for (size_t j = 0; j < in->d; j++)
                a[at] += in->h->f64[t * in->d + j] * in->W1->f64[j * in->m + i];
            back[at] = 0.0;
            for (size_t v = 0; v < in->vocab; v++)
                back[at] += in->dU->f64[t * in->vocab + v] *
                            w2t.data[i * w2t.out_stride + v * w2t.sum_stride];
            da[at] = a[at] > 0.0 ? back[at] : 0.0;
        }
}

void explain_head_mlp_backward(FILE *out, const vec_file *file,
                               const vec_case *c)
{
    mlp_inputs in = read_mlp(file, c);
    size_t n = in.n, d = in.d, m = in.m;
    double *a = NULL, *back = NULL, *da = NULL;
    double **arrays[] = {&a, &back, &da};
    const size_t sizes[] = {n * m, n * m, n * m};
    if (scratch_arrays(out, arrays, sizes, 3))
        return;
    mlp_rows(&in, a, back, da);
    fprintf(out, "forward a = h W1 + b1, h1 = ReLU(a), u = h1 W2 + b2%s; "
            "backward:\n"
            "dW2 = h1^T dU (tied: dE = dU^T h1), db2 = sum_t dU[t,:]\n"
            "da = (dU W2^T) * 1[a > 0] (ReLU's derivative at 0 is 0)\n"
            "dW1 = h^T da, db1 = sum_t da[t,:], dh = da W1^T\n",
            in.tied ? " (tied: W2 = E^T)" : "");
    fprintf(out, "row 0: a[0,:] = ");
    put_list(out, a, m);
    fprintf(out, "\n  (dU W2^T)[0,:] = ");
    put_list(out, back, m);
    fprintf(out, "\n  da[0,:] = the same where a > 0, 0 elsewhere = ");
    put_list(out, da, m);
    fprintf(out, "\nthe first entry of dh and dW1:\n");
    explain_product_entry(out, "dh", 0, 0, m, (factor){da, m, 1},
                          (factor){in.W1->f64, m, 1});
    explain_product_entry(out, "dW1", 0, 0, n, (factor){in.h->f64, 1, d},
                          (factor){da, 1, m});
    free_arrays(arrays, 3);
}

/* ---- mos_fixed_backward -------------------------------------------------- */

/* p_k = softmax(h_row W_k) for every k into p (K, vocab), y = sum_k abar_k
 * p_k into y (vocab); logits is scratch (vocab). */
static void mixture_row(const double *h_row /* (d) */,
                        const double *W /* (K, d, vocab) */,
                        const double *abar /* (K) */, size_t K, size_t d,
                        size_t vocab, double *logits, double *p, double *y)
{
    for (size_t v = 0; v < vocab; v++)
        y[v] = 0.0;
    for (size_t k = 0; k < K; k++) {
        for (size_t v = 0; v < vocab; v++) {
            logits[v] = 0.0;
            for (size_t j = 0; j < d; j++)
                logits[v] += h_row[j] * W[(k * d + j) * vocab + v];
        }
        reference_softmax(logits, vocab, 1.0, p + k * vocab);
        for (size_t v = 0; v < vocab; v++)
            y[v] += abar[k] * p[k * vocab + v];
    }
}

/* Row 0's delta_k,v = omega_k,v G_v - p_k,v sum_v' omega_k,v' G_v'. */
static void explain_mixture_delta(FILE *out, const double *p, const double *y,
                                  const double *abar, const double *G,
                                  size_t K, size_t vocab, double *omega)
{
    fprintf(out, "row 0: y = sum_k abar_k p_k = ");
    put_list(out, y, vocab);
    fputc('\n', out);
    for (size_t k = 0; k < shown_count(K); k++) {
        for (size_t v = 0; v < vocab; v++)
            omega[v] = abar[k] * p[k * vocab + v] / y[v];
        fprintf(out, "  k = %zu: p_k = ", k);
        put_list(out, p + k * vocab, vocab);
        fprintf(out, "\n    omega_k = abar_k p_k / y = ");
        put_list(out, omega, vocab);
        fprintf(out, "\n    sum_v omega_k,v G_v = ");
        double s = put_products(out, omega, 1, G, 1, vocab);
        fprintf(out, "\n    delta_%zu,0 = (%s)(%s) - (%s)(%s) = %s\n", k,
                num(omega[0]).text, num(G[0]).text, num(p[k * vocab]).text,
                num(s).text, num(omega[0] * G[0] - p[k * vocab] * s).text);
    }
    if (K > MAX)
        fprintf(out, "  ... (%zu more components)\n", K - MAX);
}

void explain_mos_fixed_backward(FILE *out, const vec_file *file,
                                const vec_case *c)
{
    const vec_array *h = input(c, "h"), *W = input(c, "W"),
                    *alpha = input(c, "alpha"), *G = input(c, "dlogprobs");
    size_t n = h->shape[0], d = h->shape[1], K = W->shape[0], vocab = W->shape[2];
    double *abar = NULL, *logits = NULL, *p = NULL, *y = NULL, *omega = NULL,
           *c_k = NULL;
    double **arrays[] = {&abar, &logits, &p, &y, &omega, &c_k};
    const size_t sizes[] = {K, vocab, K * vocab, vocab, vocab, K};
    (void)file;
    if (scratch_arrays(out, arrays, sizes, 6))
        return;
    fprintf(out, "per row, with G = dlogprobs and omega_k,v = abar_k p_k,v / "
            "y_v (the responsibilities):\n"
            "  delta_k,v = omega_k,v G_v - p_k,v sum_v' omega_k,v' G_v'   "
            "(dL/d logits of component k)\n"
            "dW_k = h^T delta_k, dh = sum_k delta_k W_k^T\n"
            "c_k = sum_t sum_v p[t,k,v] G[t,v] / y[t,v], dalpha_i = (c_i - "
            "sum_k abar_k c_k) / A\n");
    double A = 0.0, mean_c = 0.0;
    for (size_t k = 0; k < K; k++)
        A += alpha->f64[k];
    for (size_t k = 0; k < K; k++)
        abar[k] = alpha->f64[k] / A;
    fprintf(out, "A = sum_k alpha_k = %s, abar = alpha / A = ", num(A).text);
    put_list(out, abar, K);
    fputc('\n', out);
    for (size_t t = 0; t < n; t++) {
        mixture_row(h->f64 + t * d, W->f64, abar, K, d, vocab, logits, p, y);
        if (t == 0)
            explain_mixture_delta(out, p, y, abar, G->f64, K, vocab, omega);
        for (size_t k = 0; k < K; k++)
            for (size_t v = 0; v < vocab; v++)
                c_k[k] += p[k * vocab + v] * G->f64[t * vocab + v] / y[v];
    }
    for (size_t k = 0; k < K; k++)
        mean_c += abar[k] * c_k[k];
    fprintf(out, "c = ");
    put_list(out, c_k, K);
    fprintf(out, " (over all %zu rows), sum_k abar_k c_k = %s\n", n,
            num(mean_c).text);
    fprintf(out, "dalpha_0 = (%s - %s) / %s = %s\n", num(c_k[0]).text,
            num(mean_c).text, num(A).text, num((c_k[0] - mean_c) / A).text);
    free_arrays(arrays, 6);
}

/* ---- mos_gated_backward -------------------------------------------------- */

/* The gated mixture's inputs. W_out is (d, vocab), or E (vocab, d) when tied. */
typedef struct {
    const vec_array *h, *W_pi, *W_comp, *b_comp, *W_out, *E, *b_out, *G;
    int tied;
    size_t d, K, vocab;
} gated_inputs;

static gated_inputs read_gated(const vec_file *file, const vec_case *c)
{
    gated_inputs in;
    in.h = input(c, "h");
    in.W_pi = input(c, "W_pi");
    in.W_comp = input(c, "W_comp");
    in.b_comp = input(c, "b_comp");
    in.W_out = input(c, "W_out");
    in.E = input(c, "E");
    in.b_out = input(c, "b_out");
    in.G = input(c, "dlogprobs");
    in.tied = param_bool(file, c, "tied");
    in.d = in.h->shape[1];
    in.K = in.W_pi->shape[1];
    in.vocab = in.tied ? in.E->shape[0] : in.W_out->shape[1];
    return in;
}

/* Row 0's component k: g = tanh(h W_k + b_k) (d), then p_k = softmax(g W_out
 * + b_out) into p (vocab); logits is scratch (vocab). */
static void gated_component(const gated_inputs *in, size_t k, double *g,
                            double *logits, double *p)
{
    size_t d = in->d, vocab = in->vocab;
    for (size_t j = 0; j < d; j++) {
        double pre = in->b_comp->f64[k * d + j];
        for (size_t i = 0; i < d; i++)
            pre += in->h->f64[i] * in->W_comp->f64[(k * d + i) * d + j];
        g[j] = tanh(pre);
    }
    for (size_t v = 0; v < vocab; v++) {
        logits[v] = in->b_out ? in->b_out->f64[v] : 0.0;
        for (size_t j = 0; j < d; j++)
            logits[v] += g[j] * (in->tied ? in->E->f64[v * d + j]
                                          : in->W_out->f64[j * vocab + v]);
    }
    reference_softmax(logits, vocab, 1.0, p);
}

/* pi = softmax(h[0,:] W_pi) into pi (K); logits is scratch (K). */
static void gate_row(const gated_inputs *in, double *logits, double *pi)
{
    for (size_t k = 0; k < in->K; k++) {
        logits[k] = 0.0;
        for (size_t j = 0; j < in->d; j++)
            logits[k] += in->h->f64[j] * in->W_pi->f64[j * in->K + k];
    }
    reference_softmax(logits, in->K, 1.0, pi);
}

void explain_mos_gated_backward(FILE *out, const vec_file *file,
                                const vec_case *c)
{
    gated_inputs in = read_gated(file, c);
    size_t K = in.K, vocab = in.vocab, d = in.d;
    double *pi = NULL, *g = NULL, *logits = NULL, *p = NULL, *y = NULL,
           *rho = NULL;
    double **arrays[] = {&pi, &g, &logits, &p, &y, &rho};
    const size_t sizes[] = {K, d, vocab > K ? vocab : K, K * vocab, vocab, K};
    if (scratch_arrays(out, arrays, sizes, 6))
        return;
    fprintf(out, "per row, with G = dlogprobs and omega_k,v = pi_k p_k,v / y_v:\n"
            "  delta_k,v = omega_k,v G_v - p_k,v sum_v' omega_k,v' G_v'   "
            "(dL/d l_k)\n"
            "  rho_k = sum_v omega_k,v G_v, dpilog_k = rho_k - pi_k sum_k' "
            "rho_k'   (dL/d gate logit k)\n"
            "dW_out = sum_t sum_k g_k^T delta_k (one matrix shared by every "
            "component: the sum), db_out = sum_t sum_k delta_k\n"
            "dc_k = (delta_k W_out^T) * (1 - g_k^2), dW_comp[k] = h^T dc_k, "
            "dW_pi = h^T dpilog, dh = dpilog W_pi^T + sum_k dc_k W_k^T\n");
    gate_row(&in, logits, pi);
    fprintf(out, "row 0: pi = softmax(h W_pi) = ");
    put_list(out, pi, K);
    fputc('\n', out);
    for (size_t k = 0; k < K; k++) {
        gated_component(&in, k, g, logits, p + k * vocab);
        if (k < MAX) {
            fprintf(out, "  k = %zu: g_k = tanh(h W_k + b_k) = ", k);
            put_list(out, g, d);
            fprintf(out, ", p_k = ");
            put_list(out, p + k * vocab, vocab);
            fputc('\n', out);
        }
    }
    for (size_t v = 0; v < vocab; v++)
        for (size_t k = 0; k < K; k++)
            y[v] += pi[k] * p[k * vocab + v];
    for (size_t k = 0; k < K; k++)
        for (size_t v = 0; v < vocab; v++)
            rho[k] += pi[k] * p[k * vocab + v] / y[v] * in.G->f64[v];
    fprintf(out, "  y = sum_k pi_k p_k = ");
    put_list(out, y, vocab);
    fprintf(out, "\n  rho = ");
    put_list(out, rho, K);
    fprintf(out, "\n  dpilog_0 = rho_0 - pi_0 sum_k rho_k = %s - (%s)(",
            num(rho[0]).text, num(pi[0]).text);
    double total = put_sum(out, rho, K);
    fprintf(out, ") = %s\n", num(rho[0] - pi[0] * total).text);
    free_arrays(arrays, 6);
}

/* ---- soft_tie_loss_backward ---------------------------------------------- */

void explain_soft_tie_loss_backward(FILE *out, const vec_file *file,
                                    const vec_case *c)
{
    const vec_array *h = input(c, "h"), *E = input(c, "E"), *W = input(c, "W"),
                    *targets = input(c, "targets"), *dloss = input(c, "dloss");
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    double lambda = param_double(file, c, "lambda");
    double *u = NULL, *D = NULL, *weights = NULL;
    double **arrays[] = {&u, &D, &weights};
    const size_t sizes[] = {vocab, n * vocab, n};
    if (scratch_arrays(out, arrays, sizes, 3))
        return;
    cross_entropy_weights(targets->i64, n, dloss->f64,
                          param_string(file, c, "reduction"),
                          param_int64(file, c, "ignore_index"), weights);
    for (size_t t = 0; t < n; t++) {
        for (size_t v = 0; v < vocab; v++) {
            u[v] = 0.0;
            for (size_t j = 0; j < d; j++)
                u[v] += h->f64[t * d + j] * W->f64[j * vocab + v];
        }
        reference_softmax(u, vocab, 1.0, D + t * vocab);
        for (size_t v = 0; v < vocab; v++)
            D[t * vocab + v] = weights[t] * (D[t * vocab + v] -
                                             ((int64_t)v == targets->i64[t]));
    }
    double pull = 2.0 * lambda * dloss->f64[0];
    fprintf(out, "D = the cross-entropy's dlogits of u = h W for dloss "
            "(cross_entropy_backward --explain shows them); lambda = %s\n"
            "dh = D W^T, dW = h^T D + 2 lambda dloss (W - E^T), dE = 2 lambda "
            "dloss (E - W^T): the penalty pulls E and W^T together, and the "
            "cross-entropy reaches E only through it\n", num(lambda).text);
    fprintf(out, "D[0,:] = ");
    put_list(out, D, vocab);
    fprintf(out, "\nthe first entry of each, with 2 lambda dloss = %s:\n",
            num(pull).text);
    explain_product_entry(out, "dh", 0, 0, vocab, (factor){D, vocab, 1},
                          (factor){W->f64, vocab, 1});
    double head = explain_product_entry(out, "(h^T D)", 0, 0, n,
                                        (factor){h->f64, 1, d},
                                        (factor){D, 1, vocab});
    double W00 = W->f64[0], E00 = E->f64[0];
    fprintf(out, "dW[0,0] = %s + %s * (%s - %s) = %s\n", num(head).text,
            num(pull).text, num(W00).text, num(E00).text,
            num(head + pull * (W00 - E00)).text);
    fprintf(out, "dE[0,0] = %s * (%s - %s) = %s\n", num(pull).text,
            num(E00).text, num(W00).text, num(pull * (E00 - W00)).text);
    free_arrays(arrays, 3);
}
