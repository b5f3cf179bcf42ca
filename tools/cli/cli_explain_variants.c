/*
 * cli_explain_variants.c -- the --explain of the forward head variants of
 * spec/variants.md (head_partial, head_transformed, head_adaptive, head_mlp,
 * mos_fixed, mos_gated, soft_tie_loss): the spec's formula, then the first
 * row, with one entry of each kind written out as the sum of its products,
 * in plain double arithmetic. The plain heads' explainers (cli_explain.c)
 * write out every logit; these show how a variant builds its logits (or its
 * probabilities, or its loss) from the same dot products.
 */
#include "cli_explain_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX CLI_EXPLAIN_MAX

/* ---- shared helpers ------------------------------------------------------ */

/* y[col] = sum_j x[j] M(j,col) (+ bias[col]) for every col, the bias added
 * last; entry (j,col) of M is right.data[col * out_stride + j * sum_stride]
 * (see factor). */
static void row_product(const double *x /* (count) */, size_t count,
                        factor right, size_t cols,
                        const double *bias /* (cols) or NULL */,
                        double *y /* (cols) */)
{
    for (size_t col = 0; col < cols; col++) {
        const double *column = right.data + col * right.out_stride;
        double sum = 0.0;
        for (size_t j = 0; j < count; j++)
            sum += x[j] * column[j * right.sum_stride];
        y[col] = bias ? sum + bias[col] : sum;
    }
}

/* "(x_0)(M(0,col)) + ... + (bias) = value", the bias last as in
 * row_product; returns the value. */
static double put_affine(FILE *out, const double *x /* (count) */, size_t count,
                         factor right, size_t col,
                         const double *bias /* (cols) or NULL */)
{
    const double *column = right.data + col * right.out_stride;
    double sum = 0.0;
    for (size_t j = 0; j < count; j++) {
        double weight = column[j * right.sum_stride];
        sum += x[j] * weight;
        if (j < MAX)
            fprintf(out, "%s(%s)(%s)", j ? " + " : "", num(x[j]).text,
                    num(weight).text);
    }
    if (count > MAX)
        fprintf(out, " + ... (%zu more terms)", count - MAX);
    if (bias != NULL) {
        sum += bias[col];
        fprintf(out, " + (%s)", num(bias[col]).text);
    }
    fprintf(out, " = %s", num(sum).text);
    return sum;
}

/* "  name = [..]" on a line of its own. */
static void put_named_list(FILE *out, const char *name, const double *values,
                           size_t count)
{
    fprintf(out, "  %s = ", name);
    put_list(out, values, count);
    fputc('\n', out);
}

static void put_first_row(FILE *out, const double *h /* (n, d) */, size_t d)
{
    fprintf(out, "row 0: h[0,:] = ");
    put_list(out, h, d);
    fputc('\n', out);
}

static void put_other_rows(FILE *out, size_t n)
{
    if (n == 2)
        fprintf(out, "(row 1: the same with h[1,:])\n");
    else if (n > 2)
        fprintf(out, "(rows 1 .. %zu: the same with h[t,:])\n", n - 1);
}

/* ---- head_partial -------------------------------------------------------- */

/* "columns a .. b from E", or what an empty range means. */
static void put_column_range(FILE *out, const char *from, size_t first,
                             size_t end, const char *when_empty)
{
    if (end - first == 1)
        fprintf(out, "column %zu from %s", first, from);
    else if (first < end)
        fprintf(out, "columns %zu .. %zu from %s", first, end - 1, from);
    else
        fprintf(out, "no column from %s (%s)", from, when_empty);
}

static void explain_head_partial(FILE *out, const vec_file *file,
                                 const vec_case *c)
{
    const vec_array *h = input(c, "h"), *E = input(c, "E"), *F = input(c, "F");
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    size_t k = (size_t)param_int64(file, c, "k"), free_cols = vocab - k;
    factor tied = {E->f64, d, 1};
    factor untied = {F ? F->f64 : NULL, 1, free_cols}; /* F[j, v-k] */
    double *u = scratch(out, vocab);
    if (u == NULL)
        return;
    fprintf(out, "W = [E[0:k,:]^T | F], k = %zu of |V| = %zu:\n"
            "u[t,v] = h[t,:] . E[v,:]     for v < k   (tied: the embedding "
            "of token v)\n"
            "u[t,v] = h[t,:] . F[:,v-k]   for v >= k  (free: a column of F)\n",
            k, vocab);
    put_column_range(out, "E", 0, k, "k = 0: the untied head with W = F");
    fputs("; ", out);
    put_column_range(out, "F", k, vocab, "k = |V|: the tied head");
    fputc('\n', out);
    put_first_row(out, h->f64, d);
    if (k > 0) {
        fprintf(out, "  u[0,%zu] = h[0,:] . E[%zu,:] = ", k - 1, k - 1);
        put_affine(out, h->f64, d, tied, k - 1, NULL);
        fprintf(out, "   (v = %zu < k: tied)\n", k - 1);
        row_product(h->f64, d, tied, k, NULL, u);
    }
    if (free_cols > 0) {
        fprintf(out, "  u[0,%zu] = h[0,:] . F[:,0] = ", k);
        put_affine(out, h->f64, d, untied, 0, NULL);
        fprintf(out, "   (v = %zu >= k: free)\n", k);
        row_product(h->f64, d, untied, free_cols, NULL, u + k);
    }
    put_named_list(out, "u[0,:]", u, vocab);
    put_other_rows(out, n);
    free(u);
}

/* ---- head_transformed ---------------------------------------------------- */

static void explain_head_transformed(FILE *out, const vec_file *file,
                                     const vec_case *c)
{
    const vec_array *h = input(c, "h"), *T = input(c, "T"), *E = input(c, "E");
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    factor T_columns = {T->f64, 1, d}, E_rows = {E->f64, d, 1};
    double *q = NULL, *u = NULL;
    double **arrays[] = {&q, &u};
    const size_t sizes[] = {d, vocab};
    (void)file;
    if (scratch_arrays(out, arrays, sizes, 2))
        return;
    fprintf(out, "u = h T E^T, computed as q = h T, then u = q E^T: the tied "
            "head of q instead of h (T = I gives the tied head)\n"
            "q[t,b] = sum_a h[t,a] T[a,b],  u[t,v] = sum_b q[t,b] E[v,b]\n");
    put_first_row(out, h->f64, d);
    row_product(h->f64, d, T_columns, d, NULL, q);
    row_product(q, d, E_rows, vocab, NULL, u);
    fprintf(out, "  q[0,0] = ");
    put_affine(out, h->f64, d, T_columns, 0, NULL);
    fputc('\n', out);
    put_named_list(out, "q[0,:] = h[0,:] T", q, d);
    fprintf(out, "  u[0,0] = q[0,:] . E[0,:] = ");
    put_affine(out, q, d, E_rows, 0, NULL);
    fputc('\n', out);
    put_named_list(out, "u[0,:] = q[0,:] E^T", u, vocab);
    put_other_rows(out, n);
    free_arrays(arrays, 2);
}

/* ---- head_adaptive ------------------------------------------------------- */

static void explain_head_adaptive(FILE *out, const vec_file *file,
                                  const vec_case *c)
{
    const vec_array *h = input(c, "h"), *E = input(c, "E"), *F = input(c, "F");
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    double alpha = param_double(file, c, "alpha");
    factor E_rows = {E->f64, d, 1}, F_columns = {F->f64, 1, vocab};
    double *a = NULL, *b = NULL, *u = NULL;
    double **arrays[] = {&a, &b, &u};
    const size_t sizes[] = {vocab, vocab, vocab};
    if (scratch_arrays(out, arrays, sizes, 3))
        return;
    fprintf(out, "u = alpha (h E^T) + (1 - alpha) (h F), alpha = %s: a tied "
            "logit a = h[t,:] . E[v,:] and a free one b = h[t,:] . F[:,v], "
            "mixed (alpha = 1: the tied head, alpha = 0: the untied head)\n",
            num(alpha).text);
    put_first_row(out, h->f64, d);
    row_product(h->f64, d, E_rows, vocab, NULL, a);
    row_product(h->f64, d, F_columns, vocab, NULL, b);
    for (size_t v = 0; v < vocab; v++)
        u[v] = alpha * a[v] + (1.0 - alpha) * b[v];
    fprintf(out, "  v = 0: a = h[0,:] . E[0,:] = ");
    put_affine(out, h->f64, d, E_rows, 0, NULL);
    fprintf(out, "\n         b = h[0,:] . F[:,0] = ");
    put_affine(out, h->f64, d, F_columns, 0, NULL);
    fprintf(out, "\n         u[0,0] = alpha a + (1 - alpha) b = (%s)(%s) + "
            "(%s)(%s) = %s\n", num(alpha).text, num(a[0]).text,
            num(1.0 - alpha).text, num(b[0]).text, num(u[0]).text);
    put_named_list(out, "a = (h E^T)[0,:]", a, vocab);
    put_named_list(out, "b = (h F)[0,:]", b, vocab);
    put_named_list(out, "u[0,:]", u, vocab);
    put_other_rows(out, n);
    free_arrays(arrays, 3);
}

/* ---- head_mlp ------------------------------------------------------------ */

/* Lists the units of row 0 that ReLU cut to 0 (a <= 0). */
static void put_cut_units(FILE *out, const double *a /* (m) */, size_t m)
{
    size_t cut = 0, shown = 0;
    for (size_t i = 0; i < m; i++)
        cut += !(a[i] > 0.0);
    if (cut == 0) {
        fprintf(out, "  cut to 0 by ReLU (a <= 0): none, every a[0,i] > 0\n");
        return;
    }
    fprintf(out, "  cut to 0 by ReLU (a <= 0), %zu of %zu:", cut, m);
    for (size_t i = 0; i < m && shown < MAX; i++)
        if (!(a[i] > 0.0))
            fprintf(out, "%s a[0,%zu] = %s", shown++ ? "," : "", i,
                    num(a[i]).text);
    if (cut > MAX)
        fprintf(out, ", ... (%zu more)", cut - MAX);
    fputc('\n', out);
}

static void explain_head_mlp(FILE *out, const vec_file *file, const vec_case *c)
{
    const vec_array *h = input(c, "h"), *W1 = input(c, "W1"),
                    *b1 = input(c, "b1"), *b2 = input(c, "b2");
    int tied = param_bool(file, c, "tied");
    const vec_array *W2 = input(c, tied ? "E" : "W2");
    size_t n = h->shape[0], d = h->shape[1], m = W1->shape[1];
    size_t vocab = tied ? W2->shape[0] : W2->shape[1];
    factor W1_columns = {W1->f64, 1, m};
    /* W2(i,v) is W2[i,v], or E[v,i] when tied */
    factor W2_columns = tied ? (factor){W2->f64, m, 1}
                             : (factor){W2->f64, 1, vocab};
    const double *bias1 = b1 ? b1->f64 : NULL, *bias2 = b2 ? b2->f64 : NULL;
    double *a = NULL, *h1 = NULL, *u = NULL;
    double **arrays[] = {&a, &h1, &u};
    const size_t sizes[] = {m, m, vocab};
    if (scratch_arrays(out, arrays, sizes, 3))
        return;
    fprintf(out, "a = h W1%s, h1 = ReLU(a) = max(a, 0), u = h1 W2%s%s; "
            "m = %zu hidden units\n", bias1 ? " + b1" : "",
            bias2 ? " + b2" : "", tied ? " with W2 = E^T (tied)" : "", m);
    put_first_row(out, h->f64, d);
    row_product(h->f64, d, W1_columns, m, bias1, a);
    for (size_t i = 0; i < m; i++)
        h1[i] = a[i] > 0.0 ? a[i] : 0.0;
    row_product(h1, m, W2_columns, vocab, bias2, u);
    fprintf(out, "  a[0,0] = ");
    put_affine(out, h->f64, d, W1_columns, 0, bias1);
    fputc('\n', out);
    put_named_list(out, bias1 ? "a[0,:] = h[0,:] W1 + b1" : "a[0,:] = h[0,:] W1",
                   a, m);
    put_named_list(out, "h1[0,:] = ReLU(a[0,:])", h1, m);
    put_cut_units(out, a, m);
    fprintf(out, "  u[0,0] = h1[0,:] . %s = ", tied ? "E[0,:]" : "W2[:,0]");
    put_affine(out, h1, m, W2_columns, 0, bias2);
    fputc('\n', out);
    put_named_list(out, "u[0,:]", u, vocab);
    put_other_rows(out, n);
    free_arrays(arrays, 3);
}

/* ---- the two mixtures of softmaxes --------------------------------------- */

/* log softmax(l) in plain arithmetic: l_v - max l - log sum exp(l - max l). */
static void plain_log_softmax(const double *l /* (vocab) */, size_t vocab,
                              double *log_p /* (vocab) */)
{
    double top = -INFINITY, S = 0.0;
    for (size_t v = 0; v < vocab; v++)
        top = l[v] > top ? l[v] : top;
    for (size_t v = 0; v < vocab; v++)
        S += exp(l[v] - top);
    for (size_t v = 0; v < vocab; v++)
        log_p[v] = l[v] - top - log(S);
}

/* s_k = log w_k + log p_k,v into terms (K); returns the largest s_k. */
static double log_terms(const double *weights /* (K) */,
                        const double *log_p /* (K, vocab) */, size_t K,
                        size_t vocab, size_t v, double *terms /* (K) */)
{
    double top = -INFINITY;
    for (size_t k = 0; k < K; k++) {
        terms[k] = log(weights[k]) + log_p[k * vocab + v];
        top = terms[k] > top ? terms[k] : top;
    }
    return top;
}

/* terms[k] = exp(terms[k] - top), in place. */
static void shift_and_exponentiate(double *terms /* (K) */, size_t K, double top)
{
    for (size_t k = 0; k < K; k++)
        terms[k] = exp(terms[k] - top);
}

/* log y_v = s_max + log sum_k exp(s_k - s_max). */
static double mixture_log(const double *weights /* (K) */,
                          const double *log_p /* (K, vocab) */, size_t K,
                          size_t vocab, size_t v, double *terms /* (K) */)
{
    double top = log_terms(weights, log_p, K, vocab, v, terms), sum = 0.0;
    shift_and_exponentiate(terms, K, top);
    for (size_t k = 0; k < K; k++)
        sum += terms[k];
    return top + log(sum);
}

/* mixture_log of entry v, written out. */
static void explain_mixture_log(FILE *out, const char *weight_name,
                                const double *weights /* (K) */,
                                const double *log_p /* (K, vocab) */, size_t K,
                                size_t vocab, size_t v, double *terms /* (K) */)
{
    double top = log_terms(weights, log_p, K, vocab, v, terms);
    fprintf(out, "  log y_%zu: s_k = log %s_k + log p_k,%zu = ", v, weight_name,
            v);
    put_list(out, terms, K);
    fprintf(out, ", s_max = %s\n    sum_k exp(s_k - s_max) = ", num(top).text);
    shift_and_exponentiate(terms, K, top);
    double sum = put_sum(out, terms, K);
    fprintf(out, "\n    log y_%zu = s_max + log(%s) = %s + %s = %s\n", v,
            num(sum).text, num(top).text, num(log(sum)).text,
            num(top + log(sum)).text);
}

/* Row 0's mixture y = sum_k w_k p_k and its logarithm, given each
 * component's p_k and log p_k; the w_k are called weight_name. y and log_y
 * (vocab), terms (K) are scratch. */
static void explain_mixture(FILE *out, const char *weight_name,
                            const double *weights /* (K) */,
                            const double *p /* (K, vocab) */,
                            const double *log_p /* (K, vocab) */, size_t K,
                            size_t vocab, double *y, double *log_y,
                            double *terms)
{
    for (size_t v = 0; v < vocab; v++) {
        y[v] = 0.0;
        for (size_t k = 0; k < K; k++)
            y[v] += weights[k] * p[k * vocab + v];
        log_y[v] = mixture_log(weights, log_p, K, vocab, v, terms);
    }
    fprintf(out, "  y_0 = sum_k %s_k p_k,0 = ", weight_name);
    put_products(out, weights, 1, p, vocab, K);
    fputc('\n', out);
    put_named_list(out, "y = probs[0,:]", y, vocab);
    fprintf(out, "  log y in log space, so that it stays finite where y "
            "underflows:\n");
    explain_mixture_log(out, weight_name, weights, log_p, K, vocab, 0, terms);
    put_named_list(out, "log y = logprobs[0,:]", log_y, vocab);
}

/* The component-k lines: its logits l_k, p_k = softmax(l_k), and log p_k
 * into p and log_p (vocab); printed for k < MAX. */
static void explain_component_softmax(FILE *out, size_t k, const double *l,
                                      size_t vocab, double *p, double *log_p)
{
    reference_softmax(l, vocab, 1.0, p);
    plain_log_softmax(l, vocab, log_p);
    if (k >= MAX)
        return;
    fprintf(out, "    p_%zu = softmax(l_%zu) = ", k, k);
    put_list(out, p, vocab);
    fputc('\n', out);
}

static void put_more_components(FILE *out, size_t K)
{
    if (K > MAX)
        fprintf(out, "  ... (%zu more components, in the sums below)\n", K - MAX);
}

static void explain_mos_fixed(FILE *out, const vec_file *file, const vec_case *c)
{
    const vec_array *h = input(c, "h"), *W = input(c, "W"),
                    *alpha = input(c, "alpha");
    size_t n = h->shape[0], d = h->shape[1], K = W->shape[0], vocab = W->shape[2];
    double *abar = NULL, *l = NULL, *p = NULL, *log_p = NULL, *y = NULL,
           *log_y = NULL, *terms = NULL;
    double **arrays[] = {&abar, &l, &p, &log_p, &y, &log_y, &terms};
    const size_t sizes[] = {K, vocab, K * vocab, K * vocab, vocab, vocab, K};
    (void)file;
    if (scratch_arrays(out, arrays, sizes, 7))
        return;
    fprintf(out, "y = sum_k abar_k softmax(h W_k), abar_k = alpha_k / sum_j "
            "alpha_j; log y_v = log sum_k exp(log abar_k + log p_k,v), the "
            "largest term factored out\n");
    fprintf(out, "A = sum_k alpha_k = ");
    double A = put_sum(out, alpha->f64, K);
    for (size_t k = 0; k < K; k++)
        abar[k] = alpha->f64[k] / A;
    fprintf(out, ", abar = alpha / A = ");
    put_list(out, abar, K);
    fputc('\n', out);
    put_first_row(out, h->f64, d);
    for (size_t k = 0; k < K; k++) {
        const double *W_k = W->f64 + k * d * vocab; /* (d, vocab) */
        row_product(h->f64, d, (factor){W_k, 1, vocab}, vocab, NULL, l);
        if (k < MAX) {
            fprintf(out, "  k = %zu: l_%zu = h[0,:] W_%zu = ", k, k, k);
            put_list(out, l, vocab);
            fputc('\n', out);
        }
        explain_component_softmax(out, k, l, vocab, p + k * vocab,
                                  log_p + k * vocab);
    }
    put_more_components(out, K);
    explain_mixture(out, "abar", abar, p, log_p, K, vocab, y, log_y, terms);
    put_other_rows(out, n);
    free_arrays(arrays, 7);
}

/* The gated mixture's inputs. W_out is (d, vocab), or E (vocab, d) when tied. */
typedef struct {
    const vec_array *h, *W_pi, *W_comp, *b_comp;
    factor W_out;          /* entry (j, v) of W_out, or E[v,j] when tied */
    const double *b_out;   /* (vocab) or NULL */
    int tied;
    size_t n, d, K, vocab;
} gated_inputs;

static gated_inputs read_gated(const vec_file *file, const vec_case *c)
{
    gated_inputs in;
    in.h = input(c, "h");
    in.W_pi = input(c, "W_pi");
    in.W_comp = input(c, "W_comp");
    in.b_comp = input(c, "b_comp");
    in.tied = param_bool(file, c, "tied");
    in.n = in.h->shape[0];
    in.d = in.h->shape[1];
    in.K = in.W_pi->shape[1];
    const vec_array *W_out = input(c, in.tied ? "E" : "W_out");
    const vec_array *b_out = input(c, "b_out");
    in.vocab = in.tied ? W_out->shape[0] : W_out->shape[1];
    in.W_out = in.tied ? (factor){W_out->f64, in.d, 1}
                       : (factor){W_out->f64, 1, in.vocab};
    in.b_out = b_out ? b_out->f64 : NULL;
    return in;
}

/* Component k of row 0: g_k = tanh(h W_k + b_k) into g (d), its logits
 * l_k = g_k W_out + b_out into l (vocab), printed for k < MAX. */
static void explain_gated_component(FILE *out, const gated_inputs *in,
                                    size_t k, double *g, double *l)
{
    size_t d = in->d;
    factor W_k = {in->W_comp->f64 + k * d * d, 1, d}; /* (d, d) */
    row_product(in->h->f64, d, W_k, d, in->b_comp->f64 + k * d, g);
    if (k < MAX) {
        fprintf(out, "  k = %zu: h[0,:] W_%zu + b_%zu = ", k, k, k);
        put_list(out, g, d);
        fputc('\n', out);
    }
    for (size_t j = 0; j < d; j++)
        g[j] = tanh(g[j]);
    row_product(g, d, in->W_out, in->vocab, in->b_out, l);
    if (k >= MAX)
        return;
    fprintf(out, "    g_%zu = tanh(h[0,:] W_%zu + b_%zu) = ", k, k, k);
    put_list(out, g, d);
    fprintf(out, "\n    l_%zu = g_%zu W_out%s = ", k, k, in->b_out ? " + b_out" : "");
    put_list(out, l, in->vocab);
    fputc('\n', out);
}

static void explain_mos_gated(FILE *out, const vec_file *file, const vec_case *c)
{
    gated_inputs in = read_gated(file, c);
    size_t K = in.K, vocab = in.vocab, d = in.d;
    double *gate = NULL, *pi = NULL, *g = NULL, *l = NULL, *p = NULL,
           *log_p = NULL, *y = NULL, *log_y = NULL, *terms = NULL;
    double **arrays[] = {&gate, &pi, &g, &l, &p, &log_p, &y, &log_y, &terms};
    const size_t sizes[] = {K, K, d, vocab, K * vocab, K * vocab, vocab, vocab, K};
    if (scratch_arrays(out, arrays, sizes, 9))
        return;
    fprintf(out, "pi = softmax(h W_pi) (K = %zu mixture weights per row), "
            "g_k = tanh(h W_k + b_k), y = sum_k pi_k softmax(g_k W_out%s)%s; "
            "log y in log space, as mos_fixed\n", K,
            in.b_out ? " + b_out" : "", in.tied ? ", W_out = E^T (tied)" : "");
    put_first_row(out, in.h->f64, d);
    row_product(in.h->f64, d, (factor){in.W_pi->f64, 1, K}, K, NULL, gate);
    reference_softmax(gate, K, 1.0, pi);
    put_named_list(out, "gate logits h[0,:] W_pi", gate, K);
    put_named_list(out, "pi = softmax(h[0,:] W_pi)", pi, K);
    for (size_t k = 0; k < K; k++) {
        explain_gated_component(out, &in, k, g, l);
        explain_component_softmax(out, k, l, vocab, p + k * vocab,
                                  log_p + k * vocab);
    }
    put_more_components(out, K);
    explain_mixture(out, "pi", pi, p, log_p, K, vocab, y, log_y, terms);
    put_other_rows(out, in.n);
    free_arrays(arrays, 9);
}

/* ---- soft_tie_loss ------------------------------------------------------- */

/* The cross-entropy of u = h W against the targets, with row t's steps
 * printed for t < MAX; u is scratch (vocab), losses (n). Returns L_CE. */
static double explain_soft_tie_cross_entropy(FILE *out, const vec_array *h,
                                             const vec_array *W,
                                             const int64_t *targets /* (n) */,
                                             const char *reduction,
                                             int64_t ignore_index, double *u,
                                             double *losses)
{
    size_t n = h->shape[0], d = h->shape[1], vocab = W->shape[1], count = 0;
    for (size_t t = 0; t < n; t++) {
        int show = t < MAX;
        if (targets[t] == ignore_index) {
            if (show)
                fprintf(out, "  t = %zu: target %" PRId64 " = ignore_index: "
                        "not counted\n", t, targets[t]);
            continue;
        }
        row_product(h->f64 + t * d, d, (factor){W->f64, 1, vocab}, vocab,
                    NULL, u);
        double top = -INFINITY, S = 0.0;
        for (size_t v = 0; v < vocab; v++)
            top = u[v] > top ? u[v] : top;
        for (size_t v = 0; v < vocab; v++)
            S += exp(u[v] - top);
        double z_c = u[targets[t]] - top;
        losses[count++] = log(S) - z_c;
        if (!show)
            continue;
        fprintf(out, "  t = %zu: u[%zu,:] = h[%zu,:] W = ", t, t, t);
        put_list(out, u, vocab);
        fprintf(out, ", target c = %" PRId64 "\n    a = max u = %s, S = sum_v "
                "exp(u_v - a) = %s, z_c = u_c - a = %s\n    loss_%zu = log S - "
                "z_c = %s - (%s) = %s\n", targets[t], num(top).text,
                num(S).text, num(z_c).text, t, num(log(S)).text,
                num(z_c).text, num(losses[count - 1]).text);
    }
    put_more_rows(out, n, "positions (in the sum below, not shown)");
    fprintf(out, "  reduction %s: sum over the %zu counted positions = ",
            reduction, count);
    double sum = put_sum(out, losses, count);
    fputc('\n', out);
    if (strcmp(reduction, "mean") != 0)
        return sum;
    fprintf(out, "  mean = sum / count = %s / %zu = %s\n", num(sum).text,
            count, num(sum / (double)count).text);
    return sum / (double)count;
}

/* ||E - W^T||^2_F as a sum of squared differences, E's entries in order;
 * returns it. */
static double explain_penalty(FILE *out, const vec_array *E, const vec_array *W)
{
    size_t vocab = E->shape[0], d = E->shape[1], terms = vocab * d;
    double penalty = 0.0;
    fprintf(out, "penalty = ||E - W^T||^2_F = sum_{v,j} (E[v,j] - W[j,v])^2, "
            "%zu terms, no 1/2:\n  ", terms);
    for (size_t v = 0; v < vocab; v++)
        for (size_t j = 0; j < d; j++) {
            double e = E->f64[v * d + j], w = W->f64[j * vocab + v];
            size_t index = v * d + j;
            penalty += (e - w) * (e - w);
            if (index < MAX)
                fprintf(out, "%s(%s - %s)^2", index ? " + " : "", num(e).text,
                        num(w).text);
        }
    if (terms > MAX)
        fprintf(out, " + ... (%zu more terms)", terms - MAX);
    fprintf(out, " = %s\n", num(penalty).text);
    return penalty;
}

static void explain_soft_tie_loss(FILE *out, const vec_file *file,
                                  const vec_case *c)
{
    const vec_array *h = input(c, "h"), *E = input(c, "E"), *W = input(c, "W"),
                    *targets = input(c, "targets");
    size_t n = h->shape[0], vocab = E->shape[0];
    double lambda = param_double(file, c, "lambda");
    const char *reduction = param_string(file, c, "reduction");
    int64_t ignore_index = param_int64(file, c, "ignore_index");
    double *u = NULL, *losses = NULL;
    double **arrays[] = {&u, &losses};
    const size_t sizes[] = {vocab, n};
    if (scratch_arrays(out, arrays, sizes, 2))
        return;
    fprintf(out, "L = L_CE + lambda ||E - W^T||^2_F, lambda = %s: the "
            "cross-entropy of the untied head's logits u = h W, plus the plain "
            "sum of squares of E - W^T (not affected by the reduction)\n",
            num(lambda).text);
    fprintf(out, "cross-entropy, loss_t = log S - z_c (natural log), "
            "ignore_index = %" PRId64 ":\n", ignore_index);
    double cross_entropy = explain_soft_tie_cross_entropy(
        out, h, W, targets->i64, reduction, ignore_index, u, losses);
    double penalty = explain_penalty(out, E, W);
    fprintf(out, "lambda penalty = %s * %s = %s\n", num(lambda).text,
            num(penalty).text, num(lambda * penalty).text);
    fprintf(out, "L = L_CE + lambda penalty = %s + %s = %s\n",
            num(cross_entropy).text, num(lambda * penalty).text,
            num(cross_entropy + lambda * penalty).text);
    free_arrays(arrays, 2);
}

/* ---- dispatch ------------------------------------------------------------ */

static const struct {
    const char *op;
    explainer explain;
} variant_explainers[] = {
    {"head_partial", explain_head_partial},
    {"head_transformed", explain_head_transformed},
    {"head_adaptive", explain_head_adaptive},
    {"head_mlp", explain_head_mlp},
    {"mos_fixed", explain_mos_fixed},
    {"mos_gated", explain_mos_gated},
    {"soft_tie_loss", explain_soft_tie_loss},
};

explainer cli_explain_variants_find(const char *op)
{
    for (size_t i = 0;
         i < sizeof variant_explainers / sizeof variant_explainers[0]; i++)
        if (strcmp(variant_explainers[i].op, op) == 0)
            return variant_explainers[i].explain;
    return NULL;
}
