/*
 * cli_explain_grad.c -- the --explain of the backward ops of
 * spec/gradients.md and of tied_lm (cli_explain.h). Each explainer prints
 * the spec's formula, then the first rows or entries with their terms
 * written out and added in plain double arithmetic, with the shortest
 * decimals that read back exactly; LayerNorm's row statistics, the
 * cross-entropy weights and the softmax are the reference's
 * (ref/lmr_intermediates.h, lmr_softmax). The head variants' backward ops
 * are explained in cli_explain_grad_variants.c; the helpers shared with the
 * forward ops are in cli_explain.c (cli_explain_internal.h).
 */
#include "cli_explain_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lmr.h"

#define MAX CLI_EXPLAIN_MAX

/* ---- shared helpers ------------------------------------------------------ */

double put_products(FILE *out, const double *a, size_t a_stride,
                    const double *b, size_t b_stride, size_t count)
{
    double sum = 0.0;
    for (size_t i = 0; i < count; i++) {
        double left = a[i * a_stride], right = b[i * b_stride];
        sum += left * right;
        if (i < MAX)
            fprintf(out, "%s(%s)(%s)", i ? " + " : "", num(left).text,
                    num(right).text);
    }
    if (count > MAX)
        fprintf(out, " + ... (%zu more terms)", count - MAX);
    fprintf(out, "%s = %s", count ? "" : "0", num(sum).text);
    return sum;
}

size_t cross_entropy_weights(const int64_t *targets /* (n) */, size_t n,
                             const double *dloss, const char *reduction,
                             int64_t ignore_index, double *weights /* (n) */)
{
    size_t counted = 0;
    enum lmr_reduction kind = ref_reduction_named(reduction);
    size_t dloss_len = kind == LMR_REDUCE_NONE ? n : 1;
    if (lmr_cross_entropy_weights(lmr_vec_out_of(weights, n), &counted,
                                  lmr_ids_of(targets, n),
                                  lmr_vec_of(dloss, dloss_len), kind,
                                  ignore_index) != LMR_OK)
        for (size_t t = 0; t < n; t++) /* not reached: the case was accepted */
            weights[t] = NAN;
    return counted;
}

int scratch_arrays(FILE *out, double **arrays[], const size_t sizes[],
                   size_t count)
{
    int failed = 0;
    for (size_t i = 0; i < count; i++) {
        *arrays[i] = calloc(sizes[i] ? sizes[i] : 1, sizeof(double));
        failed |= *arrays[i] == NULL;
    }
    if (!failed)
        return 0;
    free_arrays(arrays, count);
    fprintf(out, "(out of memory for the explanation)\n");
    return -1;
}

void free_arrays(double **arrays[], size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(*arrays[i]);
        *arrays[i] = NULL;
    }
}

/* [i_0, i_1, ..., (k more)] */
static void put_index_list(FILE *out, const int64_t *values /* (count) */,
                           size_t count)
{
    fputc('[', out);
    for (size_t i = 0; i < shown_count(count); i++)
        fprintf(out, "%s%" PRId64, i ? ", " : "", values[i]);
    if (count > MAX)
        fprintf(out, ", ... (%zu more)", count - MAX);
    fputc(']', out);
}

double explain_product_entry(FILE *out, const char *name, size_t i, size_t j,
                             size_t terms, factor left, factor right)
{
    fprintf(out, "%s[%zu,%zu] = ", name, i, j);
    double value = put_products(out, left.data + i * left.out_stride,
                                left.sum_stride,
                                right.data + j * right.out_stride,
                                right.sum_stride, terms);
    fputc('\n', out);
    return value;
}

/* The first rows and columns of name = A B, each entry as its sum. */
static void explain_product(FILE *out, const char *name, size_t rows,
                            size_t cols, size_t terms, factor left,
                            factor right)
{
    for (size_t i = 0; i < shown_count(rows); i++) {
        for (size_t j = 0; j < shown_count(cols); j++)
            explain_product_entry(out, name, i, j, terms, left, right);
        if (cols > MAX)
            fprintf(out, "... (%zu more columns in this row)\n", cols - MAX);
    }
    put_more_rows(out, rows, "rows");
}

/* ---- scatter-adds: embed_lookup_backward, pos_learned_backward ------------ */

/* Row v of a scatter-add, the sum in t order of the rows upstream[t,:] with
 * indices[t] = v, into sum (d), printed on one line as
 *   dE[1,:] = dY[0,:] + dY[2,:] = [1, 2] + [5, 6] = [6, 8]   (id 1 ...)
 * word names an index ("id", "position", "token") in the note. */
static void explain_scatter_row(FILE *out, const char *grad_name,
                                const char *upstream_name, const char *word,
                                size_t v, const int64_t *indices /* (n) */,
                                size_t n, const double *upstream /* (n, d) */,
                                size_t d, double *sum /* (d) */)
{
    size_t count = 0;
    for (size_t j = 0; j < d; j++)
        sum[j] = 0.0;
    fprintf(out, "%s[%zu,:] = ", grad_name, v);
    for (size_t t = 0; t < n; t++) {
        if (indices[t] != (int64_t)v)
            continue;
        for (size_t j = 0; j < d; j++)
            sum[j] += upstream[t * d + j];
        if (count++ < MAX)
            fprintf(out, "%s%s[%zu,:]", count > 1 ? " + " : "", upstream_name, t);
    }
    if (count == 0) {
        fprintf(out, "0   (%s %zu does not occur: a row of zeros)\n", word, v);
        return;
    }
    if (count > MAX)
        fprintf(out, " + ... (%zu more rows)", count - MAX);
    fprintf(out, " = ");
    for (size_t t = 0, shown = 0; t < n && shown < MAX; t++)
        if (indices[t] == (int64_t)v) {
            fprintf(out, "%s", shown++ ? " + " : "");
            put_list(out, upstream + t * d, d);
        }
    if (count > 1) {
        fprintf(out, "%s = ", count > MAX ? " + ..." : "");
        put_list(out, sum, d);
        fprintf(out, "   (%s %zu occurs %zu times: its rows add)", word, v, count);
    }
    fputc('\n', out);
}

/* Every shown row of a scatter-add backward, after the line of formula. */
static void explain_scatter(FILE *out, const char *grad_name, const char *word,
                            const char *index_name, const vec_array *indices,
                            const vec_array *dY, size_t table_rows)
{
    size_t n = indices->count, d = dY->shape[1];
    double *sum = scratch(out, d);
    if (sum == NULL)
        return;
    fprintf(out, "each row of dY is added to the row of its %s: the rows of "
            "a repeated %s add up (added, not overwritten), and a row that no "
            "%s selects stays 0\n", word, word, word);
    fprintf(out, "%s = ", index_name);
    put_index_list(out, indices->i64, n);
    fputc('\n', out);
    for (size_t v = 0; v < shown_count(table_rows); v++)
        explain_scatter_row(out, grad_name, "dY", word, v, indices->i64, n,
                            dY->f64, d, sum);
    put_more_rows(out, table_rows, "rows");
    free(sum);
}

static void explain_embed_lookup_backward(FILE *out, const vec_file *file,
                                          const vec_case *c)
{
    size_t vocab = (size_t)param_int64(file, c, "vocab");
    fprintf(out, "dE[v,j] = sum over the t with w_t = v of dY[t,j]: a "
            "scatter-add into |V| = %zu rows\n", vocab);
    explain_scatter(out, "dE", "id", "ids", input(c, "ids"), input(c, "dY"),
                    vocab);
}

static void explain_pos_learned_backward(FILE *out, const vec_file *file,
                                         const vec_case *c)
{
    size_t max_len = (size_t)param_int64(file, c, "max_len");
    fprintf(out, "dP[i,j] = sum over the t with p_t = i of dY[t,j]: a "
            "scatter-add into max_len = %zu rows\n", max_len);
    explain_scatter(out, "dP", "position", "positions", input(c, "positions"),
                    input(c, "dY"), max_len);
}

/* ---- layernorm_backward -------------------------------------------------- */

/* One row's statistics, the reference's (lmr_layernorm_stats), and z (d) =
 * (x - mu) r by its lmr_layernorm_normalised. x is a row of an accepted
 * case (or the composite of one), so the call succeeds. */
static lmr_layernorm_row normalise_row(const double *x /* (d) */, size_t d,
                                       double eps, double *z /* (d) */)
{
    lmr_layernorm_row row = {NAN, NAN, NAN, NAN};
    lmr_layernorm_stats(&row, x, 1, d, eps);
    for (size_t j = 0; j < d; j++)
        z[j] = lmr_layernorm_normalised(x[j], &row);
    return row;
}

/* normalise_row, printing mu, var, r and z; returns r. */
static double explain_normalise_row(FILE *out, const double *x /* (d) */,
                                    size_t d, double eps, double *z /* (d) */)
{
    lmr_layernorm_row row = normalise_row(x, d, eps, z);
    fprintf(out, "  mu = (1/d) sum_j x_j = (");
    put_terms(out, x, d);
    fprintf(out, ") / %zu = %s\n", d, num(row.mean).text);
    if (row.scale == 1.0)
        fprintf(out, "  var = (1/d) sum_j (x_j - mu)^2 = %s\n",
                num(row.variance).text);
    else
        fprintf(out, "  var = (1/d) sum_j ((x_j - mu)/s)^2 = %s, the "
                "deviations scaled by s = %s (they exceed 2^500)\n",
                num(row.variance).text, num(row.scale).text);
    fprintf(out, "  r = 1/sqrt(var + eps) = %s (eps = %s)\n",
            num(row.inv_std).text, num(eps).text);
    fprintf(out, "  z_j = (x_j - mu) r = ");
    put_list(out, z, d);
    fputc('\n', out);
    return row.inv_std;
}

/* The two means of LayerNorm's backward. */
typedef struct {
    double g;  /* mean(g) = (1/d) sum_k g_k */
    double gz; /* mean(g z) = (1/d) sum_k g_k z_k */
} layernorm_means;

/* LayerNorm's backward of one row: g = gamma dY (d) and
 * dx_j = r (g_j - mean(g) - z_j mean(g z)) into dx (d). */
static layernorm_means layernorm_backward_row(const double *z /* (d) */,
                                              double r,
                                              const double *gamma /* (d) */,
                                              const double *dY /* (d) */,
                                              size_t d, double *g /* (d) */,
                                              double *dx /* (d) */)
{
    layernorm_means means = {0.0, 0.0};
    for (size_t j = 0; j < d; j++) {
        g[j] = gamma[j] * dY[j];
        means.g += g[j];
        means.gz += g[j] * z[j];
    }
    means.g /= (double)d;
    means.gz /= (double)d;
    for (size_t j = 0; j < d; j++)
        dx[j] = r * (g[j] - means.g - z[j] * means.gz);
    return means;
}

/* layernorm_backward_row, printing g, the two means and each dx_j. */
static void explain_layernorm_backward_row(FILE *out, const double *z, double r,
                                           const double *gamma,
                                           const double *dY, size_t d,
                                           double *g /* (d) */,
                                           double *dx /* (d) */)
{
    layernorm_means means = layernorm_backward_row(z, r, gamma, dY, d, g, dx);
    fprintf(out, "  g_j = gamma_j dY_j = ");
    put_list(out, g, d);
    fprintf(out, "\n  mean(g) = (");
    put_sum(out, g, d);
    fprintf(out, ") / %zu = %s\n  mean(g z) = (", d, num(means.g).text);
    put_products(out, g, 1, z, 1, d);
    fprintf(out, ") / %zu = %s\n", d, num(means.gz).text);
    fprintf(out, "  dx_j = r (g_j - mean(g) - z_j mean(g z)):\n");
    for (size_t j = 0; j < shown_count(d); j++)
        fprintf(out, "    dx_%zu = (%s)((%s) - (%s) - (%s)(%s)) = %s\n", j,
                num(r).text, num(g[j]).text, num(means.g).text,
                num(z[j]).text, num(means.gz).text, num(dx[j]).text);
    if (d > MAX)
        fprintf(out, "    ... (%zu more columns)\n", d - MAX);
    fprintf(out, "  check: sum_j dx_j = ");
    put_sum(out, dx, d);
    fprintf(out, " (0 up to rounding: LayerNorm does not see a shift)\n");
}

/* dbeta_j = sum_t dY[t,j] and dgamma_j = sum_t dY[t,j] z[t,j], for the
 * first columns; column is scratch (n). */
static void explain_layernorm_param_grads(FILE *out, const double *z /* (n, d) */,
                                          const double *dY /* (n, d) */,
                                          size_t n, size_t d,
                                          double *column /* (n) */)
{
    fprintf(out, "dbeta_j = sum_t dY[t,j], dgamma_j = sum_t dY[t,j] z[t,j]: "
            "sums over the %zu rows, which share gamma and beta\n", n);
    for (size_t j = 0; j < shown_count(d); j++) {
        for (size_t t = 0; t < n; t++)
            column[t] = dY[t * d + j];
        fprintf(out, "  dbeta_%zu = ", j);
        put_sum(out, column, n);
        fprintf(out, "\n  dgamma_%zu = ", j);
        put_products(out, dY + j, d, z + j, d, n);
        fputc('\n', out);
    }
    if (d > MAX)
        fprintf(out, "  ... (%zu more columns)\n", d - MAX);
}

static void explain_layernorm_backward(FILE *out, const vec_file *file,
                                       const vec_case *c)
{
    const vec_array *x = input(c, "x"), *gamma = input(c, "gamma"),
                    *dY = input(c, "dY");
    size_t n = x->shape[0], d = x->shape[1];
    double eps = param_double(file, c, "eps");
    double *z = NULL, *g = NULL, *dx = NULL, *column = NULL;
    double **arrays[] = {&z, &g, &dx, &column};
    const size_t sizes[] = {n * d, d, d, n > d ? n : d};
    if (scratch_arrays(out, arrays, sizes, 4))
        return;
    fprintf(out, "per row: mu, var (biased), r = 1/sqrt(var + eps), z = "
            "(x - mu) r as the forward (the reference's statistics; the scale "
            "of a row is 1 unless its deviations exceed 2^500); then g = "
            "gamma dY and\n"
            "dx_j = r (g_j - mean(g) - z_j mean(g z)); eps = %s\n",
            num(eps).text);
    for (size_t t = 0; t < n; t++) {
        const double *x_row = x->f64 + t * d;
        if (t >= MAX) {
            normalise_row(x_row, d, eps, z + t * d);
            continue;
        }
        fprintf(out, "row %zu: x = ", t);
        put_list(out, x_row, d);
        fprintf(out, ", dY = ");
        put_list(out, dY->f64 + t * d, d);
        fputc('\n', out);
        double r = explain_normalise_row(out, x_row, d, eps, z + t * d);
        explain_layernorm_backward_row(out, z + t * d, r, gamma->f64,
                                       dY->f64 + t * d, d, g, dx);
    }
    put_more_rows(out, n, "rows");
    explain_layernorm_param_grads(out, z, dY->f64, n, d, column);
    free_arrays(arrays, 4);
}

/* ---- head_tied_backward, head_untied_backward ---------------------------- */

static void explain_head_tied_backward(FILE *out, const vec_file *file,
                                       const vec_case *c)
{
    const vec_array *h = input(c, "h"), *E = input(c, "E"),
                    *dU = input(c, "dlogits");
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    (void)file;
    fprintf(out, "dh = dU E:    dh[t,j] = sum_v dU[t,v] E[v,j] (row t of dU "
            "against column j of E)\n");
    explain_product(out, "dh", n, d, vocab, (factor){dU->f64, vocab, 1},
                    (factor){E->f64, 1, d});
    fprintf(out, "dE = dU^T h:  dE[v,j] = sum_t dU[t,v] h[t,j] (every "
            "position t contributes to every row v: the head's share only)\n");
    explain_product(out, "dE", vocab, d, n, (factor){dU->f64, 1, vocab},
                    (factor){h->f64, 1, d});
}

static void explain_head_untied_backward(FILE *out, const vec_file *file,
                                         const vec_case *c)
{
    const vec_array *h = input(c, "h"), *W = input(c, "W"),
                    *dU = input(c, "dlogits");
    size_t n = h->shape[0], d = h->shape[1], vocab = W->shape[1];
    (void)file;
    fprintf(out, "dh = dU W^T:  dh[t,j] = sum_v dU[t,v] W[j,v]\n"
            "dW = h^T dU:  dW[j,v] = sum_t h[t,j] dU[t,v]\n"
            "db = sum_t dU[t,:] (what a bias would receive)\n"
            "the first entry of each:\n");
    explain_product_entry(out, "dh", 0, 0, vocab, (factor){dU->f64, vocab, 1},
                          (factor){W->f64, vocab, 1});
    explain_product_entry(out, "dW", 0, 0, n, (factor){h->f64, 1, d},
                          (factor){dU->f64, 1, vocab});
    double *column = scratch(out, n);
    if (column == NULL)
        return;
    for (size_t t = 0; t < n; t++)
        column[t] = dU->f64[t * vocab];
    fprintf(out, "db[0] = ");
    put_sum(out, column, n);
    fputc('\n', out);
    free(column);
}

/* ---- softmax_backward, log_softmax_backward ------------------------------ */

/* One row of softmax_backward (take_log 0) or log_softmax_backward (1) in
 * plain arithmetic: zeta = (u - max u)/tau, y = softmax(u/tau) and dlogits,
 * each (vocab). Returns g-bar = sum_j y_j G_j (softmax) or
 * Gamma = sum_j G_j (log-softmax). */
static double softmax_backward_row(const double *u, const double *G,
                                   size_t vocab, double tau, int take_log,
                                   double *zeta, double *y, double *dlogits)
{
    double a = -INFINITY, mean = 0.0;
    for (size_t i = 0; i < vocab; i++)
        a = u[i] > a ? u[i] : a;
    for (size_t i = 0; i < vocab; i++)
        zeta[i] = (u[i] - a) / tau;
    reference_softmax(u, vocab, tau, y);
    for (size_t i = 0; i < vocab; i++)
        mean += take_log ? G[i] : y[i] * G[i];
    for (size_t i = 0; i < vocab; i++)
        dlogits[i] = take_log ? (G[i] - y[i] * mean) / tau
                              : y[i] * (G[i] - mean) / tau;
    return mean;
}

/* -sum_i dlogits_i zeta_i over the finite zeta: one row's share of dtau.
 * With out, prints the products; kept_d, kept_zeta are scratch (vocab). */
static double dtau_share(FILE *out, const double *dlogits, const double *zeta,
                         size_t vocab, double *kept_d, double *kept_zeta)
{
    size_t kept = 0;
    for (size_t i = 0; i < vocab; i++)
        if (isfinite(zeta[i])) {
            kept_d[kept] = dlogits[i];
            kept_zeta[kept++] = zeta[i];
        }
    if (out == NULL) {
        double sum = 0.0;
        for (size_t i = 0; i < kept; i++)
            sum += kept_d[i] * kept_zeta[i];
        return -sum;
    }
    fprintf(out, "  sum_i dlogits_i zeta_i = ");
    double sum = put_products(out, kept_d, 1, kept_zeta, 1, kept);
    fprintf(out, "%s, so this row's share of dtau is %s\n",
            kept < vocab ? " (masked entries left out)" : "", num(-sum).text);
    return -sum;
}

/* The steps of one shown row, from the values softmax_backward_row made. */
static void explain_softmax_backward_row(FILE *out, const double *G,
                                         size_t vocab, double tau,
                                         int take_log, const double *zeta,
                                         const double *y,
                                         const double *dlogits)
{
    fprintf(out, "  zeta_i = (u_i - max u) / tau = ");
    put_list(out, zeta, vocab);
    fprintf(out, "\n  y = softmax(u / tau) = ");
    put_list(out, y, vocab);
    double mean;
    if (take_log) {
        fprintf(out, "\n  Gamma = sum_j G_j = ");
        mean = put_sum(out, G, vocab);
        fprintf(out, "\n  dlogits_i = (G_i - y_i Gamma) / tau:\n");
    } else {
        fprintf(out, "\n  g-bar = sum_j y_j G_j = ");
        mean = put_products(out, y, 1, G, 1, vocab);
        fprintf(out, "\n  dlogits_i = y_i (G_i - g-bar) / tau:\n");
    }
    for (size_t i = 0; i < shown_count(vocab); i++) {
        if (take_log)
            fprintf(out, "    dlogits_%zu = ((%s) - (%s)(%s)) / %s = %s\n", i,
                    num(G[i]).text, num(y[i]).text, num(mean).text,
                    num(tau).text, num(dlogits[i]).text);
        else
            fprintf(out, "    dlogits_%zu = (%s)((%s) - (%s)) / %s = %s\n", i,
                    num(y[i]).text, num(G[i]).text, num(mean).text,
                    num(tau).text, num(dlogits[i]).text);
    }
    if (vocab > MAX)
        fprintf(out, "    ... (%zu more)\n", vocab - MAX);
}

static void explain_softmax_backward_family(FILE *out, const vec_file *file,
                                            const vec_case *c, int take_log)
{
    const vec_array *logits = input(c, "logits"),
                    *G = input(c, take_log ? "dlogprobs" : "dprobs");
    size_t n = logits->shape[0], vocab = logits->shape[1];
    double tau = param_double(file, c, "tau");
    double *zeta = NULL, *y = NULL, *dlogits = NULL, *kept_d = NULL,
           *kept_zeta = NULL, *shares = NULL;
    double **arrays[] = {&zeta, &y, &dlogits, &kept_d, &kept_zeta, &shares};
    const size_t sizes[] = {vocab, vocab, vocab, vocab, vocab, n};
    if (scratch_arrays(out, arrays, sizes, 6))
        return;
    if (take_log)
        fprintf(out, "per row, with G = dlogprobs: dlogits_i = (G_i - y_i "
                "Gamma) / tau, Gamma = sum_j G_j; G is 0 where masked\n");
    else
        fprintf(out, "per row, with G = dprobs: dlogits_i = y_i (G_i - g-bar) "
                "/ tau, g-bar = sum_j y_j G_j\n");
    fprintf(out, "dtau = - sum_t sum_i dlogits[t,i] zeta[t,i], zeta = "
            "(u - max u)/tau, over the finite logits: one tau is shared by "
            "every row, so the rows' shares add; tau = %s\n", num(tau).text);
    for (size_t t = 0; t < n; t++) {
        const double *u = logits->f64 + t * vocab, *G_row = G->f64 + t * vocab;
        softmax_backward_row(u, G_row, vocab, tau, take_log, zeta, y, dlogits);
        FILE *shown_to = t < MAX ? out : NULL;
        if (shown_to != NULL) {
            fprintf(out, "row %zu: u = ", t);
            put_list(out, u, vocab);
            fprintf(out, ", G = ");
            put_list(out, G_row, vocab);
            fputc('\n', out);
            explain_softmax_backward_row(out, G_row, vocab, tau, take_log,
                                         zeta, y, dlogits);
        }
        shares[t] = dtau_share(shown_to, dlogits, zeta, vocab, kept_d, kept_zeta);
    }
    put_more_rows(out, n, "rows (their shares are in the sum below)");
    fprintf(out, "dtau = the sum of the rows' shares = ");
    put_sum(out, shares, n);
    fputc('\n', out);
    free_arrays(arrays, 6);
}

static void explain_softmax_backward(FILE *out, const vec_file *file,
                                     const vec_case *c)
{
    explain_softmax_backward_family(out, file, c, 0);
}

static void explain_log_softmax_backward(FILE *out, const vec_file *file,
                                         const vec_case *c)
{
    explain_softmax_backward_family(out, file, c, 1);
}

/* ---- cross_entropy_backward ---------------------------------------------- */

/* How w_t comes from dloss and the reduction. */
/* The weights of the reduction; weights (n) are the reference's, targets
 * (n), m of them counted. */
static void explain_weights(FILE *out, const char *reduction,
                            const double *dloss, const double *weights,
                            const int64_t *targets, size_t n, size_t counted,
                            int64_t ignore_index)
{
    size_t first = 0; /* the first counted row */
    while (first < n && targets[first] == ignore_index)
        first++;
    if (strcmp(reduction, "none") == 0)
        fprintf(out, "reduction none: w_t = dloss[t]");
    else if (strcmp(reduction, "sum") == 0)
        fprintf(out, "reduction sum: w_t = dloss = %s", num(dloss[0]).text);
    else if (counted == 0)
        fprintf(out, "reduction mean with no counted row: every w_t, so every "
                "dlogits entry, is 0 (the forward mean is 0/0, but no row "
                "contributes)");
    else
        fprintf(out, "reduction mean: w_t = dloss / m, m = %zu counted rows "
                "(not n): w_t = %s / %zu = %s", counted, num(dloss[0]).text,
                counted, num(weights[first]).text);
    if (strcmp(reduction, "mean") != 0 || counted == 0)
        fprintf(out, " (m = %zu counted rows)", counted);
    fprintf(out, "; a row whose target is ignore_index = %" PRId64 " has w_t "
            "= 0\n", ignore_index);
}

/* One counted row: y, y - onehot(c) into y, and w (y - onehot). */
static void explain_cross_entropy_row(FILE *out, const double *u, size_t vocab,
                                      int64_t target, double weight,
                                      double *y /* (vocab) */,
                                      double *dlogits /* (vocab) */)
{
    reference_softmax(u, vocab, 1.0, y);
    fprintf(out, "  y = softmax(u) = ");
    put_list(out, y, vocab);
    y[target] -= 1.0;
    fprintf(out, "\n  y - onehot(%" PRId64 ") = ", target);
    put_list(out, y, vocab);
    for (size_t i = 0; i < vocab; i++)
        dlogits[i] = weight * y[i];
    fprintf(out, "\n  dlogits = w (y - onehot) = %s * ", num(weight).text);
    put_list(out, y, vocab);
    fprintf(out, " = ");
    put_list(out, dlogits, vocab);
    fprintf(out, "\n  sum_i dlogits_i = ");
    put_sum(out, dlogits, vocab);
    fprintf(out, " (0 up to rounding: sum y = 1)\n");
}

static void explain_cross_entropy_backward(FILE *out, const vec_file *file,
                                           const vec_case *c)
{
    const vec_array *logits = input(c, "logits"), *targets = input(c, "targets"),
                    *dloss = input(c, "dloss");
    size_t n = logits->shape[0], vocab = logits->shape[1];
    int64_t ignore_index = param_int64(file, c, "ignore_index");
    const char *reduction = param_string(file, c, "reduction");
    double *weights = NULL, *y = NULL, *dlogits = NULL;
    double **arrays[] = {&weights, &y, &dlogits};
    const size_t sizes[] = {n, vocab, vocab};
    if (scratch_arrays(out, arrays, sizes, 3))
        return;
    size_t counted = cross_entropy_weights(targets->i64, n, dloss->f64,
                                           reduction, ignore_index, weights);
    fprintf(out, "dlogits[t,i] = w_t (y[t,i] - 1[i = c_t]), y = softmax(u[t,:]) "
            "(tau = 1), w_t the weight of row t\n");
    explain_weights(out, reduction, dloss->f64, weights, targets->i64, n,
                    counted, ignore_index);
    for (size_t t = 0; t < shown_count(n); t++) {
        int64_t target = targets->i64[t];
        if (target == ignore_index) {
            fprintf(out, "row %zu: target %" PRId64 " = ignore_index: w_%zu = 0, "
                    "dlogits[%zu,:] = 0 (the row neither contributes nor "
                    "counts)\n", t, target, t, t);
            continue;
        }
        fprintf(out, "row %zu: target c = %" PRId64 ", w_%zu = %s, u = ", t,
                target, t, num(weights[t]).text);
        put_list(out, logits->f64 + t * vocab, vocab);
        fputc('\n', out);
        explain_cross_entropy_row(out, logits->f64 + t * vocab, vocab, target,
                                  weights[t], y, dlogits);
    }
    put_more_rows(out, n, "rows");
    free_arrays(arrays, 3);
}

/* ---- tied_lm ------------------------------------------------------------- */

/* tied_lm's inputs, as read from an accepted case. */
typedef struct {
    size_t n, vocab, d;
    const int64_t *ids, *targets; /* (n) */
    const double *E;              /* (vocab, d) */
    const double *P;              /* (max_len, d), max_len >= n */
    const double *gamma, *beta;   /* (d), NULL without layernorm */
    const double *M;              /* (d, d), NULL for middle = identity */
    double eps;
    const char *reduction;
    int64_t ignore_index;
} tied_lm_case;

/* Every intermediate of tied_lm, forward then backward. */
typedef struct {
    double *X;         /* (n, d) E[ids] + P[0:n] */
    double *z, *r;     /* (n, d), (n): LayerNorm's normalised rows and 1/sigma */
    double *Z;         /* (n, d) LayerNorm(X), or X */
    double *H;         /* (n, d) Z M, or Z */
    double *u, *y;     /* (n, vocab) logits and their softmax */
    double *losses;    /* (n) loss_t, 0 where ignored */
    double *w;         /* (n) the cross-entropy weights for dL = 1 */
    double *dU, *dH;   /* (n, vocab), (n, d) */
    double *dZ, *dX;   /* (n, d) */
    double *g;         /* (d) scratch of LayerNorm's backward */
    double *dE_input;  /* (vocab, d) the lookup's share */
    double *dE_output; /* (vocab, d) the head's share */
    double *row;       /* (d) scratch for printing */
    double loss;
    size_t counted;
} tied_lm_values;

enum { TIED_LM_ARRAYS = 17 };

static void tied_lm_array_list(tied_lm_values *v, double **arrays[],
                               size_t sizes[], const tied_lm_case *m)
{
    size_t n = m->n, vocab = m->vocab, d = m->d;
    double **fields[TIED_LM_ARRAYS] = {
        &v->X, &v->z, &v->r, &v->Z, &v->H, &v->u, &v->y, &v->losses, &v->w,
        &v->dU, &v->dH, &v->dZ, &v->dX, &v->g, &v->dE_input, &v->dE_output,
        &v->row};
    const size_t counts[TIED_LM_ARRAYS] = {
        n * d, n * d, n, n * d, n * d, n * vocab, n * vocab, n, n,
        n * vocab, n * d, n * d, n * d, d, vocab * d, vocab * d, d};
    for (size_t i = 0; i < TIED_LM_ARRAYS; i++) {
        arrays[i] = fields[i];
        sizes[i] = counts[i];
    }
}

static tied_lm_case read_tied_lm_case(const vec_file *file, const vec_case *c)
{
    const vec_array *E = input(c, "E");
    tied_lm_case m;
    m.n = input(c, "ids")->count;
    m.vocab = E->shape[0];
    m.d = E->shape[1];
    m.ids = input(c, "ids")->i64;
    m.targets = input(c, "targets")->i64;
    m.E = E->f64;
    m.P = input(c, "P")->f64;
    int layernorm = param_bool(file, c, "layernorm");
    m.gamma = layernorm ? input(c, "gamma")->f64 : NULL;
    m.beta = layernorm ? input(c, "beta")->f64 : NULL;
    int matrix = strcmp(param_string(file, c, "middle"), "matrix") == 0;
    m.M = matrix ? input(c, "M")->f64 : NULL;
    m.eps = param_double(file, c, "eps");
    m.reduction = param_string(file, c, "reduction");
    m.ignore_index = param_int64(file, c, "ignore_index");
    return m;
}

/* row_out (d) = row (d) times the d x d matrix M, or transposed M. */
static void times_matrix(const double *row, const double *M, size_t d,
                         int transposed, double *row_out)
{
    for (size_t k = 0; k < d; k++) {
        row_out[k] = 0.0;
        for (size_t j = 0; j < d; j++)
            row_out[k] += row[j] * (transposed ? M[k * d + j] : M[j * d + k]);
    }
}

/* -log y_c = log S - z_c with z = u - max u, S = sum_i exp(z_i). */
static double position_loss(const double *u /* (vocab) */, size_t vocab,
                            size_t target)
{
    double a = -INFINITY, S = 0.0;
    for (size_t i = 0; i < vocab; i++)
        a = u[i] > a ? u[i] : a;
    for (size_t i = 0; i < vocab; i++)
        S += exp(u[i] - a);
    return log(S) - (u[target] - a);
}

/* X, Z, H, u, y and the loss of position t. */
static void tied_lm_forward_row(const tied_lm_case *m, tied_lm_values *v,
                                size_t t)
{
    size_t d = m->d, vocab = m->vocab;
    double *X = v->X + t * d, *Z = v->Z + t * d, *H = v->H + t * d;
    double *u = v->u + t * vocab;
    for (size_t j = 0; j < d; j++)
        X[j] = m->E[(size_t)m->ids[t] * d + j] + m->P[t * d + j];
    if (m->gamma != NULL) {
        v->r[t] = normalise_row(X, d, m->eps, v->z + t * d).inv_std;
        for (size_t j = 0; j < d; j++)
            Z[j] = m->gamma[j] * v->z[t * d + j] + m->beta[j];
    } else {
        memcpy(Z, X, d * sizeof *Z);
    }
    if (m->M != NULL)
        times_matrix(Z, m->M, d, 0, H);
    else
        memcpy(H, Z, d * sizeof *H);
    for (size_t token = 0; token < vocab; token++) {
        u[token] = 0.0;
        for (size_t j = 0; j < d; j++)
            u[token] += H[j] * m->E[token * d + j];
    }
    reference_softmax(u, vocab, 1.0, v->y + t * vocab);
    if (m->targets[t] != m->ignore_index)
        v->losses[t] = position_loss(u, vocab, (size_t)m->targets[t]);
}

/* dU, dH, dZ, dX of position t (after the weights). */
static void tied_lm_backward_row(const tied_lm_case *m, tied_lm_values *v,
                                 size_t t)
{
    size_t d = m->d, vocab = m->vocab;
    double *dU = v->dU + t * vocab, *dH = v->dH + t * d;
    double *dZ = v->dZ + t * d, *dX = v->dX + t * d;
    for (size_t token = 0; token < vocab; token++)
        dU[token] = v->w[t] * (v->y[t * vocab + token] -
                           ((int64_t)token == m->targets[t] ? 1.0 : 0.0));
    for (size_t j = 0; j < d; j++) {
        dH[j] = 0.0;
        for (size_t token = 0; token < vocab; token++)
            dH[j] += dU[token] * m->E[token * d + j];
    }
    if (m->M != NULL)
        times_matrix(dH, m->M, d, 1, dZ);
    else
        memcpy(dZ, dH, d * sizeof *dZ);
    if (m->gamma != NULL)
        layernorm_backward_row(v->z + t * d, v->r[t], m->gamma, dZ, d, v->g, dX);
    else
        memcpy(dX, dZ, d * sizeof *dX);
}

/* The whole computation, forward then backward, in plain arithmetic. */
static void tied_lm_compute(const tied_lm_case *m, tied_lm_values *v)
{
    const double one = 1.0; /* dL/dL */
    size_t n = m->n, vocab = m->vocab, d = m->d;
    v->loss = 0.0;
    for (size_t t = 0; t < n; t++) {
        tied_lm_forward_row(m, v, t);
        v->loss += v->losses[t];
    }
    v->counted = cross_entropy_weights(m->targets, n, &one, m->reduction,
                                       m->ignore_index, v->w);
    if (strcmp(m->reduction, "mean") == 0)
        v->loss /= (double)v->counted;
    for (size_t t = 0; t < n; t++)
        tied_lm_backward_row(m, v, t);
    for (size_t token = 0; token < vocab; token++)
        for (size_t j = 0; j < d; j++)
            for (size_t t = 0; t < n; t++) {
                v->dE_output[token * d + j] +=
                    v->dU[t * vocab + token] * v->H[t * d + j];
                if (m->ids[t] == (int64_t)token)
                    v->dE_input[token * d + j] += v->dX[t * d + j];
            }
}

static void explain_tied_lm_header(FILE *out, const tied_lm_case *m)
{
    fprintf(out, "the tied model, forward then backward with dL/dL = 1:\n"
            "  X[t,:] = E[w_t,:] + P[t,:]\n");
    if (m->gamma != NULL)
        fprintf(out, "  Z = LayerNorm(X; gamma, beta, eps = %s)\n",
                num(m->eps).text);
    else
        fprintf(out, "  Z = X (layernorm is false)\n");
    fprintf(out, "%s", m->M != NULL ? "  H = Z M\n"
                                    : "  H = Z (middle is identity)\n");
    fprintf(out, "  u = H E^T (the tied head: the same E as the lookup)\n"
            "  L = cross_entropy(u, targets), reduction %s, ignore_index = %"
            PRId64 "\n", m->reduction, m->ignore_index);
}

static void put_named_row(FILE *out, const char *label, const double *row,
                          size_t count)
{
    fprintf(out, "  %s = ", label);
    put_list(out, row, count);
    fputc('\n', out);
}

static void explain_tied_lm_forward(FILE *out, const tied_lm_case *m,
                                    const tied_lm_values *v)
{
    size_t d = m->d, vocab = m->vocab;
    char label[96];
    fprintf(out, "forward:\n");
    for (size_t t = 0; t < shown_count(m->n); t++) {
        int64_t w = m->ids[t], target = m->targets[t];
        fprintf(out, "t = %zu: w = %" PRId64 ", target c = %" PRId64 "%s\n", t,
                w, target, target == m->ignore_index ? " (ignored)" : "");
        fprintf(out, "  X[%zu,:] = E[%" PRId64 ",:] + P[%zu,:] = ", t, w, t);
        put_list(out, m->E + (size_t)w * d, d);
        fprintf(out, " + ");
        put_list(out, m->P + t * d, d);
        fprintf(out, " = ");
        put_list(out, v->X + t * d, d);
        fputc('\n', out);
        if (m->gamma != NULL) {
            fprintf(out, "  z = (X[%zu,:] - mu) r, r = %s: ", t,
                    num(v->r[t]).text);
            put_list(out, v->z + t * d, d);
            fprintf(out, "\n  Z[%zu,:] = gamma z + beta = ", t);
            put_list(out, v->Z + t * d, d);
            fputc('\n', out);
        }
        if (m->M != NULL) {
            snprintf(label, sizeof label, "H[%zu,:] = Z[%zu,:] M", t, t);
            put_named_row(out, label, v->H + t * d, d);
        }
        snprintf(label, sizeof label, "u[%zu,:] = H[%zu,:] E^T", t, t);
        put_named_row(out, label, v->u + t * vocab, vocab);
        snprintf(label, sizeof label, "y[%zu,:] = softmax(u[%zu,:])", t, t);
        put_named_row(out, label, v->y + t * vocab, vocab);
        if (target != m->ignore_index)
            fprintf(out, "  loss_%zu = -log y[%zu,%" PRId64 "] = %s\n", t, t,
                    target, num(v->losses[t]).text);
    }
    put_more_rows(out, m->n, "positions");
}

static void explain_tied_lm_loss(FILE *out, const tied_lm_case *m,
                                 const tied_lm_values *v)
{
    double *counted_losses = scratch(out, m->n);
    size_t count = 0;
    if (counted_losses == NULL)
        return;
    for (size_t t = 0; t < m->n; t++)
        if (m->targets[t] != m->ignore_index)
            counted_losses[count++] = v->losses[t];
    fprintf(out, "L = the %s over the %zu counted positions: ", m->reduction,
            count);
    if (count == 0) {
        fprintf(out, "%s (no position is counted, so no gradient reaches "
                "anything: every w_t is 0)\n", num(v->loss).text);
    } else if (strcmp(m->reduction, "mean") == 0) {
        fputc('(', out);
        put_sum(out, counted_losses, count);
        fprintf(out, ") / %zu = %s\n", count, num(v->loss).text);
    } else {
        put_sum(out, counted_losses, count);
        fputc('\n', out);
    }
    free(counted_losses);
}

static void explain_tied_lm_backward(FILE *out, const tied_lm_case *m,
                                     const tied_lm_values *v)
{
    size_t d = m->d, vocab = m->vocab;
    char label[96];
    fprintf(out, "backward: w_t = dL/dloss_t = %s for a counted position, 0 "
            "for an ignored one\n", strcmp(m->reduction, "mean") == 0
                                        ? "1/m" : "1");
    for (size_t t = 0; t < shown_count(m->n); t++) {
        fprintf(out, "t = %zu: w_%zu = %s\n", t, t, num(v->w[t]).text);
        snprintf(label, sizeof label, "dU[%zu,:] = w_%zu (y[%zu,:] - onehot(%"
                 PRId64 "))", t, t, t, m->targets[t]);
        put_named_row(out, label, v->dU + t * vocab, vocab);
        snprintf(label, sizeof label, "dH[%zu,:] = sum_v dU[%zu,v] E[v,:]", t, t);
        put_named_row(out, label, v->dH + t * d, d);
        if (m->M != NULL) {
            snprintf(label, sizeof label, "dZ[%zu,:] = dH[%zu,:] M^T", t, t);
            put_named_row(out, label, v->dZ + t * d, d);
        }
        const char *dZ_name = m->M != NULL ? "dZ" : "dH"; /* dZ = dH without M */
        if (m->gamma != NULL)
            snprintf(label, sizeof label, "dX[%zu,:] = r (g - mean(g) - z "
                     "mean(g z)), g = gamma %s[%zu,:]", t, dZ_name, t);
        else
            snprintf(label, sizeof label, "dX[%zu,:] = %s[%zu,:]", t, dZ_name, t);
        put_named_row(out, label, v->dX + t * d, d);
    }
    put_more_rows(out, m->n, "positions");
    fprintf(out, "dP[t,:] = dX[t,:] for t < n = %zu, 0 below%s\n", m->n,
            m->gamma != NULL ? "; dgamma, dbeta are LayerNorm's (lmr "
                               "layernorm_backward --explain shows them)"
                             : "");
}

/* (c_0) [row_0] + (c_1) [row_1] + ... = [sum], the sum over t of
 * dU[t,token] H[t,:]: row token of the head's share. */
static void explain_head_share_row(FILE *out, const tied_lm_case *m,
                                   const tied_lm_values *v, size_t token)
{
    size_t n = m->n, d = m->d, vocab = m->vocab;
    fprintf(out, "dE_output[%zu,:] = sum_t dU[t,%zu] H[t,:] = ", token, token);
    for (size_t t = 0; t < shown_count(n); t++) {
        fprintf(out, "%s(%s) ", t ? " + " : "", num(v->dU[t * vocab + token]).text);
        put_list(out, v->H + t * d, d);
    }
    if (n > MAX)
        fprintf(out, " + ... (%zu more terms)", n - MAX);
    fprintf(out, " = ");
    put_list(out, v->dE_output + token * d, d);
    fputc('\n', out);
}

static void explain_tied_lm_split(FILE *out, const tied_lm_case *m,
                                  tied_lm_values *v)
{
    size_t d = m->d;
    fprintf(out, "the gradient of E, split by path:\n"
            "  dE_output = dU^T H, the head's share: row v sums dU[t,v] H[t,:] "
            "over every position t (dense)\n"
            "  dE_input = the scatter-add of dX by ids, the lookup's share: "
            "only the rows of the ids present (sparse)\n"
            "  dE = dE_input + dE_output\n");
    for (size_t token = 0; token < shown_count(m->vocab); token++) {
        fprintf(out, "v = %zu:\n  ", token);
        explain_head_share_row(out, m, v, token);
        fprintf(out, "  ");
        explain_scatter_row(out, "dE_input", "dX", "token", token, m->ids, m->n,
                            v->dX, d, v->row);
        for (size_t j = 0; j < d; j++)
            v->row[j] = v->dE_input[token * d + j] + v->dE_output[token * d + j];
        fprintf(out, "  dE[%zu,:] = ", token);
        put_list(out, v->dE_input + token * d, d);
        fprintf(out, " + ");
        put_list(out, v->dE_output + token * d, d);
        fprintf(out, " = ");
        put_list(out, v->row, d);
        fputc('\n', out);
    }
    put_more_rows(out, m->vocab, "rows");
}

/* The first token that is not among the ids, or vocab if every one is. */
static size_t absent_token(const tied_lm_case *m)
{
    for (size_t token = 0; token < m->vocab; token++) {
        size_t t = 0;
        while (t < m->n && m->ids[t] != (int64_t)token)
            t++;
        if (t == m->n)
            return token;
    }
    return m->vocab;
}

static void explain_tied_lm_why(FILE *out, const tied_lm_case *m,
                                const tied_lm_values *v)
{
    size_t token = absent_token(m);
    if (v->counted == 0) {
        fprintf(out, "why both shares are 0 here: every target is "
                "ignore_index. With a counted position, the head's share would "
                "reach every row of E, the lookup's only the rows of the ids.\n");
        return;
    }
    if (token == m->vocab) {
        fprintf(out, "why both shares: every token here occurs among the ids. "
                "A token that did not would get dE_input = 0, but still "
                "dE_output = sum_t dU[t,v] H[t,:]: the head scores every token "
                "at every position (y[t,v] > 0), so its embedding moves at "
                "every step.\n");
        return;
    }
    fprintf(out, "why a token absent from the input still moves: token %zu is "
            "not among the ids, so the lookup never reads E[%zu,:] and "
            "dE_input[%zu,:] = 0. But the head scores every token at every "
            "position: 0 < y[t,%zu] < 1, so dU[t,%zu] = w_t (y[t,%zu] - "
            "1[c_t = %zu]) is non-zero at every counted position, and "
            "dE_output[%zu,:] = ", token, token, token, token, token, token,
            token, token);
    put_list(out, v->dE_output + token * m->d, m->d);
    fprintf(out, " moves E[%zu,:] towards or away from the hidden states that "
            "predict it. Untied, that row would receive nothing at this "
            "step.\n", token);
}

static void explain_tied_lm(FILE *out, const vec_file *file, const vec_case *c)
{
    tied_lm_case m = read_tied_lm_case(file, c);
    tied_lm_values v;
    double **arrays[TIED_LM_ARRAYS];
    size_t sizes[TIED_LM_ARRAYS];
    tied_lm_array_list(&v, arrays, sizes, &m);
    if (scratch_arrays(out, arrays, sizes, TIED_LM_ARRAYS))
        return;
    tied_lm_compute(&m, &v);
    explain_tied_lm_header(out, &m);
    explain_tied_lm_forward(out, &m, &v);
    explain_tied_lm_loss(out, &m, &v);
    explain_tied_lm_backward(out, &m, &v);
    explain_tied_lm_split(out, &m, &v);
    explain_tied_lm_why(out, &m, &v);
    free_arrays(arrays, TIED_LM_ARRAYS);
}

/* ---- dispatch ------------------------------------------------------------ */

static const struct {
    const char *op;
    explainer explain;
} grad_explainers[] = {
    {"embed_lookup_backward", explain_embed_lookup_backward},
    {"pos_learned_backward", explain_pos_learned_backward},
    {"layernorm_backward", explain_layernorm_backward},
    {"head_tied_backward", explain_head_tied_backward},
    {"head_untied_backward", explain_head_untied_backward},
    {"softmax_backward", explain_softmax_backward},
    {"log_softmax_backward", explain_log_softmax_backward},
    {"cross_entropy_backward", explain_cross_entropy_backward},
    {"head_partial_backward", explain_head_partial_backward},
    {"head_transformed_backward", explain_head_transformed_backward},
    {"head_adaptive_backward", explain_head_adaptive_backward},
    {"head_mlp_backward", explain_head_mlp_backward},
    {"mos_fixed_backward", explain_mos_fixed_backward},
    {"mos_gated_backward", explain_mos_gated_backward},
    {"soft_tie_loss_backward", explain_soft_tie_loss_backward},
    {"linear_cross_entropy", explain_linear_cross_entropy},
    {"tied_lm", explain_tied_lm},
};

explainer cli_explain_grad_find(const char *op)
{
    for (size_t i = 0; i < sizeof grad_explainers / sizeof grad_explainers[0]; i++)
        if (strcmp(grad_explainers[i].op, op) == 0)
            return grad_explainers[i].explain;
    return NULL;
}
