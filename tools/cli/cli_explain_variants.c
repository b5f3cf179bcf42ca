/*
 * cli_explain_variants.c -- the --explain of the forward head variants of
 * spec/variants.md (head_partial, head_transformed, head_adaptive, head_mlp,
 * mos_fixed, mos_gated, soft_tie_loss): the spec's formula, then the first
 * row, with one entry of each kind written out as the sum of its products.
 * The parts a variant combines (transformed tying's q = h T, adaptive
 * tying's two logits, the MLP's hidden units, the mixtures' weights and
 * components, soft tying's logits and cross-entropy terms) and its outputs
 * are the reference's (ref/lmr_intermediates.h, through cli_quantities.c);
 * the written-out products are for reading.
 */
#include "cli_explain_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lmr.h"

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

static void format_head_transformed(FILE *out, const explained *e)
{
    const vec_array *h = input(e->c, "h"), *T = input(e->c, "T"),
                    *E = input(e->c, "E");
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    factor T_columns = {T->f64, 1, d}, E_rows = {E->f64, d, 1};
    const double *q = quantity(e, "q"), *u = output_f64(e, "logits");
    fprintf(out, "u = h T E^T, computed as q = h T, then u = q E^T: the tied "
            "head of q instead of h (T = I gives the tied head)\n"
            "q[t,b] = sum_a h[t,a] T[a,b],  u[t,v] = sum_b q[t,b] E[v,b]\n");
    put_first_row(out, h->f64, d);
    fprintf(out, "  q[0,0] = ");
    put_affine(out, h->f64, d, T_columns, 0, NULL);
    fputc('\n', out);
    put_named_list(out, "q[0,:] = h[0,:] T", q, d);
    fprintf(out, "  u[0,0] = q[0,:] . E[0,:] = ");
    put_affine(out, q, d, E_rows, 0, NULL);
    fputc('\n', out);
    put_named_list(out, "u[0,:] = q[0,:] E^T", u, vocab);
    put_other_rows(out, n);
}

/* ---- head_adaptive ------------------------------------------------------- */

static void format_head_adaptive(FILE *out, const explained *e)
{
    const vec_array *h = input(e->c, "h"), *E = input(e->c, "E"),
                    *F = input(e->c, "F");
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    double alpha = param_double(e->file, e->c, "alpha");
    factor E_rows = {E->f64, d, 1}, F_columns = {F->f64, 1, vocab};
    const double *a = quantity(e, "a"), *b = quantity(e, "b");
    const double *u = output_f64(e, "logits");
    fprintf(out, "u = alpha (h E^T) + (1 - alpha) (h F), alpha = %s: a tied "
            "logit a = h[t,:] . E[v,:] and a free one b = h[t,:] . F[:,v], "
            "mixed (alpha = 1: the tied head, alpha = 0: the untied head)\n",
            num(alpha).text);
    put_first_row(out, h->f64, d);
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

static void format_head_mlp(FILE *out, const explained *e)
{
    const vec_array *h = input(e->c, "h"), *W1 = input(e->c, "W1"),
                    *b1 = input(e->c, "b1"), *b2 = input(e->c, "b2");
    int tied = param_bool(e->file, e->c, "tied");
    const vec_array *W2 = input(e->c, tied ? "E" : "W2");
    size_t n = h->shape[0], d = h->shape[1], m = W1->shape[1];
    size_t vocab = tied ? W2->shape[0] : W2->shape[1];
    factor W1_columns = {W1->f64, 1, m};
    /* W2(i,v) is W2[i,v], or E[v,i] when tied */
    factor W2_columns = tied ? (factor){W2->f64, m, 1}
                             : (factor){W2->f64, 1, vocab};
    const double *bias1 = b1 ? b1->f64 : NULL, *bias2 = b2 ? b2->f64 : NULL;
    const double *a = quantity(e, "a"), *h1 = quantity(e, "h1");
    fprintf(out, "a = h W1%s, h1 = ReLU(a) = max(a, 0), u = h1 W2%s%s; "
            "m = %zu hidden units\n", bias1 ? " + b1" : "",
            bias2 ? " + b2" : "", tied ? " with W2 = E^T (tied)" : "", m);
    put_first_row(out, h->f64, d);
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
    put_named_list(out, "u[0,:]", output_f64(e, "logits"), vocab);
    put_other_rows(out, n);
}

/* ---- the two mixtures of softmaxes --------------------------------------- */

/* Row 0's mixture, from the reference: y = probs[0,:] and log y =
 * logprobs[0,:], and entry 0's terms s_k = log w_k + log p_k,0 in log space;
 * log_w (K) are row 0's log-weights, log_p the component log-probabilities
 * with entry (k, v) at log_p[k * stride + v]; terms (K) is scratch. */
static void explain_mixture(FILE *out, const explained *e, const char *weight_name,
                            const double *log_w /* (K) */, const double *log_p,
                            size_t stride, size_t K, size_t vocab,
                            double *terms /* (K) */)
{
    for (size_t k = 0; k < K; k++) /* for reading: the reference's terms */
        terms[k] = log_w[k] + log_p[k * stride];
    put_named_list(out, "y = probs[0,:]", output_f64(e, "probs"), vocab);
    fprintf(out, "  the reference mixes in log space, so that log y stays "
            "finite where y underflows:\n  log y_0: s_k = log %s_k + log "
            "p_k,0 = ", weight_name);
    put_list(out, terms, K);
    fprintf(out, "\n    log y_0 = s_max + log sum_k exp(s_k - s_max) = %s\n",
            num(output_f64(e, "logprobs")[0]).text);
    put_named_list(out, "log y = logprobs[0,:]", output_f64(e, "logprobs"),
                   vocab);
}

static void put_more_components(FILE *out, size_t K)
{
    if (K > MAX)
        fprintf(out, "  ... (%zu more components, in the sums below)\n", K - MAX);
}

static void format_mos_fixed(FILE *out, const explained *e)
{
    const vec_array *h = input(e->c, "h"), *W = input(e->c, "W");
    size_t n = h->shape[0], d = h->shape[1], K = W->shape[0], vocab = W->shape[2];
    const double *log_p = quantity(e, "log p"); /* (K, n, vocab) */
    double *l = NULL, *terms = NULL;
    double **arrays[] = {&l, &terms};
    const size_t sizes[] = {vocab, K};
    if (scratch_arrays(out, arrays, sizes, 2))
        return;
    fprintf(out, "y = sum_k abar_k softmax(h W_k), abar_k = alpha_k / sum_j "
            "alpha_j; log y_v = log sum_k exp(log abar_k + log p_k,v), the "
            "largest term factored out\n");
    put_named_list(out, "log abar = log(alpha / sum_j alpha_j)",
                   quantity(e, "log abar"), K);
    put_first_row(out, h->f64, d);
    for (size_t k = 0; k < shown_count(K); k++) {
        const double *W_k = W->f64 + k * d * vocab; /* (d, vocab) */
        row_product(h->f64, d, (factor){W_k, 1, vocab}, vocab, NULL, l);
        fprintf(out, "  k = %zu: l_%zu = h[0,:] W_%zu = ", k, k, k);
        put_list(out, l, vocab);
        fprintf(out, "\n    log p_%zu = log softmax(l_%zu) = ", k, k);
        put_list(out, log_p + k * n * vocab, vocab);
        fputc('\n', out);
    }
    put_more_components(out, K);
    explain_mixture(out, e, "abar", quantity(e, "log abar"), log_p, n * vocab,
                    K, vocab, terms);
    put_other_rows(out, n);
    free_arrays(arrays, 2);
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
 * l_k = g_k W_out + b_out into l (vocab) and log p_k = log softmax(l_k)
 * into log_p (vocab), printed for k < MAX. */
static void explain_gated_component(FILE *out, const gated_inputs *in,
                                    size_t k, double *g, double *l,
                                    double *log_p)
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
    if (lmr_log_softmax(lmr_mat_out_of(log_p, 1, in->vocab),
                        lmr_mat_of(l, 1, in->vocab), 1.0) != LMR_OK)
        for (size_t v = 0; v < in->vocab; v++)
            log_p[v] = NAN;
    if (k >= MAX)
        return;
    fprintf(out, "    g_%zu = tanh(h[0,:] W_%zu + b_%zu) = ", k, k, k);
    put_list(out, g, d);
    fprintf(out, "\n    l_%zu = g_%zu W_out%s = ", k, k, in->b_out ? " + b_out" : "");
    put_list(out, l, in->vocab);
    fprintf(out, "\n    log p_%zu = log softmax(l_%zu) = ", k, k);
    put_list(out, log_p, in->vocab);
    fputc('\n', out);
}

static void format_mos_gated(FILE *out, const explained *e)
{
    gated_inputs in = read_gated(e->file, e->c);
    size_t K = in.K, vocab = in.vocab, d = in.d;
    double *gate = NULL, *g = NULL, *l = NULL, *log_p = NULL, *terms = NULL;
    double **arrays[] = {&gate, &g, &l, &log_p, &terms};
    const size_t sizes[] = {K, d, vocab, K * vocab, K};
    if (scratch_arrays(out, arrays, sizes, 5))
        return;
    fprintf(out, "pi = softmax(h W_pi) (K = %zu mixture weights per row), "
            "g_k = tanh(h W_k + b_k), y = sum_k pi_k softmax(g_k W_out%s)%s; "
            "log y in log space, as mos_fixed\n", K,
            in.b_out ? " + b_out" : "", in.tied ? ", W_out = E^T (tied)" : "");
    put_first_row(out, in.h->f64, d);
    row_product(in.h->f64, d, (factor){in.W_pi->f64, 1, K}, K, NULL, gate);
    put_named_list(out, "gate logits h[0,:] W_pi", gate, K);
    put_named_list(out, "log pi = log softmax(h[0,:] W_pi)",
                   quantity(e, "log pi"), K);
    for (size_t k = 0; k < K; k++)
        explain_gated_component(out, &in, k, g, l, log_p + k * vocab);
    put_more_components(out, K);
    fprintf(out, "  (the components above are the products written out; the "
            "reference's own are in y below)\n");
    explain_mixture(out, e, "pi", quantity(e, "log pi"), log_p, vocab, K,
                    vocab, terms);
    put_other_rows(out, in.n);
    free_arrays(arrays, 5);
}

/* ---- soft_tie_loss ------------------------------------------------------- */

/* The cross-entropy of u = h W against the targets, from the reference's
 * logits and terms, row t's steps printed for t < MAX; counted is scratch
 * (n). */
static void explain_soft_tie_cross_entropy(FILE *out, const explained *e,
                                           const int64_t *targets /* (n) */,
                                           size_t n, size_t vocab,
                                           double *counted /* (n) */)
{
    const char *reduction = param_string(e->file, e->c, "reduction");
    int64_t ignore_index = param_int64(e->file, e->c, "ignore_index");
    size_t count = 0;
    for (size_t t = 0; t < n; t++) {
        int show = t < MAX;
        if (targets[t] == ignore_index) {
            if (show)
                fprintf(out, "  t = %zu: target %" PRId64 " = ignore_index: "
                        "not counted\n", t, targets[t]);
            continue;
        }
        counted[count++] = quantity(e, "loss")[t];
        if (!show)
            continue;
        fprintf(out, "  t = %zu: u[%zu,:] = h[%zu,:] W = ", t, t, t);
        put_list(out, quantity(e, "u") + t * vocab, vocab);
        fprintf(out, ", target c = %" PRId64 "\n    a = max u = %s, S = sum_v "
                "exp(u_v - a) = %s, log S = %s, z_c = u_c - a = %s\n    "
                "loss_%zu = log S - z_c = %s\n", targets[t],
                num(quantity(e, "a")[t]).text, num(quantity(e, "S")[t]).text,
                num(quantity(e, "log S")[t]).text,
                num(quantity(e, "z_c")[t]).text, t,
                num(quantity(e, "loss")[t]).text);
    }
    put_more_rows(out, n, "positions (in the sum below, not shown)");
    int mean = strcmp(reduction, "mean") == 0;
    fprintf(out, "  reduction %s: L_CE = %s over the count = %zu counted "
            "positions = (", reduction, mean ? "the mean" : "the sum", count);
    put_terms(out, counted, count);
    fprintf(out, ")%s = %s\n", mean ? " / count" : "",
            num(output_f64(e, "cross_entropy")[0]).text);
}

/* ||E - W^T||^2_F as a sum of squared differences, E's entries in order,
 * ending with the reference's penalty. */
static void explain_penalty(FILE *out, const explained *e, const vec_array *E,
                            const vec_array *W)
{
    size_t vocab = E->shape[0], d = E->shape[1], terms = vocab * d;
    fprintf(out, "penalty = ||E - W^T||^2_F = sum_{v,j} (E[v,j] - W[j,v])^2, "
            "%zu terms, no 1/2:\n  ", terms);
    for (size_t index = 0; index < shown_count(terms); index++) {
        size_t v = index / d, j = index % d;
        fprintf(out, "%s(%s - %s)^2", index ? " + " : "",
                num(E->f64[v * d + j]).text, num(W->f64[j * vocab + v]).text);
    }
    if (terms > MAX)
        fprintf(out, " + ... (%zu more terms)", terms - MAX);
    fprintf(out, " = %s\n", num(output_f64(e, "penalty")[0]).text);
}

static void format_soft_tie_loss(FILE *out, const explained *e)
{
    const vec_array *h = input(e->c, "h"), *E = input(e->c, "E"),
                    *W = input(e->c, "W"), *targets = input(e->c, "targets");
    size_t n = h->shape[0], vocab = E->shape[0];
    double lambda = param_double(e->file, e->c, "lambda");
    double *counted = scratch(out, n);
    if (counted == NULL)
        return;
    fprintf(out, "L = L_CE + lambda ||E - W^T||^2_F, lambda = %s: the "
            "cross-entropy of the untied head's logits u = h W, plus the plain "
            "sum of squares of E - W^T (not affected by the reduction)\n",
            num(lambda).text);
    fprintf(out, "cross-entropy, loss_t = log S - z_c (natural log), "
            "ignore_index = %" PRId64 ":\n",
            param_int64(e->file, e->c, "ignore_index"));
    explain_soft_tie_cross_entropy(out, e, targets->i64, n, vocab, counted);
    explain_penalty(out, e, E, W);
    fprintf(out, "L = L_CE + lambda penalty = %s + %s * %s = %s\n",
            num(output_f64(e, "cross_entropy")[0]).text, num(lambda).text,
            num(output_f64(e, "penalty")[0]).text,
            num(output_f64(e, "loss")[0]).text);
    free(counted);
}

/* ---- dispatch ------------------------------------------------------------ */

static const struct {
    const char *op;
    explainer explain;
} variant_explainers[] = {
    {"head_partial", explain_head_partial},
};

explainer cli_explain_variants_find(const char *op)
{
    for (size_t i = 0;
         i < sizeof variant_explainers / sizeof variant_explainers[0]; i++)
        if (strcmp(variant_explainers[i].op, op) == 0)
            return variant_explainers[i].explain;
    return NULL;
}

static const struct {
    const char *op;
    formatter format;
} variant_formatters[] = {
    {"head_transformed", format_head_transformed},
    {"head_adaptive", format_head_adaptive},
    {"head_mlp", format_head_mlp},
    {"mos_fixed", format_mos_fixed},
    {"mos_gated", format_mos_gated},
    {"soft_tie_loss", format_soft_tie_loss},
};

formatter cli_explain_variants_formatter(const char *op)
{
    for (size_t i = 0;
         i < sizeof variant_formatters / sizeof variant_formatters[0]; i++)
        if (strcmp(variant_formatters[i].op, op) == 0)
            return variant_formatters[i].format;
    return NULL;
}
