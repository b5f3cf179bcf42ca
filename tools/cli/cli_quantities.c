/*
 * cli_quantities.c -- the intermediate quantities of --explain (cli_explain.h),
 * from the reference's own functions (ref/lmr_intermediates.h and the ops
 * themselves), never recomputed here. One gatherer per op family, each
 * calling ref/ on the decoded case and storing the numbers under the names
 * the explanation writes them with; integers (token ids, counts) are stored
 * as doubles, exactly (they are below 2^53).
 */
#include "cli_explain.h"
#include "cli_explain_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lmr.h"
#include "ref_ops.h"

/* ---- the set --------------------------------------------------------------- */

/* A new quantity of count values (zeroed) in q, or NULL (out of memory, or
 * the set is full). */
static double *add(cli_quantities *q, const char *name, size_t count)
{
    if (q->count == CLI_MAX_QUANTITIES)
        return NULL;
    double *values = calloc(count ? count : 1, sizeof(double));
    if (values == NULL)
        return NULL;
    q->items[q->count++] = (cli_quantity){name, count, values};
    return values;
}

const double *cli_quantity_values(const cli_quantities *q, const char *name)
{
    for (size_t i = 0; i < q->count; i++)
        if (strcmp(q->items[i].name, name) == 0)
            return q->items[i].values;
    return NULL;
}

void cli_quantities_free(cli_quantities *q)
{
    for (size_t i = 0; i < q->count; i++)
        free(q->items[i].values);
    q->count = 0;
}

/* ---- LayerNorm --------------------------------------------------------------- */

/* mu, var, scale and r of each row of x (n,d), from lmr_layernorm_stats. */
static int add_layernorm_stats(cli_quantities *q, const double *x, size_t n,
                               size_t d, double eps)
{
    lmr_layernorm_row *rows = calloc(n ? n : 1, sizeof *rows);
    double *mu = add(q, "mu", n), *var = add(q, "var", n),
           *scale = add(q, "scale", n), *r = add(q, "r", n);
    int status = rows && mu && var && scale && r
                     ? lmr_layernorm_stats(rows, lmr_mat_of(x, n, d), eps)
                     : LMR_ENOMEM;
    for (size_t t = 0; status == LMR_OK && t < n; t++) {
        mu[t] = rows[t].mean;
        var[t] = rows[t].variance;
        scale[t] = rows[t].scale;
        r[t] = rows[t].inv_std;
    }
    free(rows);
    return status == LMR_OK ? 0 : -1;
}

static int layernorm_quantities(cli_quantities *q, const vec_file *file,
                                const vec_case *c)
{
    const vec_array *x = input(c, "x");
    return add_layernorm_stats(q, x->f64, x->shape[0], x->shape[1],
                               param_double(file, c, "eps"));
}

/* X = c E[w] + P, the composite lmr_compose_layernorm normalises: the
 * output of the op compose on the same case, which reads the same inputs
 * and params, and then its row statistics. */
static int compose_layernorm_quantities(cli_quantities *q,
                                        const vec_file *file,
                                        const vec_case *c)
{
    vec_file compose = *file;
    ref_result result;
    char message[VEC_ERRLEN];
    compose.op = "compose";
    if (ref_run(&compose, c, &result, message, sizeof message) != 0)
        return -1;
    const ref_output *Y = ref_result_output(&result, "Y");
    size_t d = input(c, "E")->shape[1], n = input(c, "ids")->count;
    double *X = result.status == LMR_OK && Y ? add(q, "X", n * d) : NULL;
    int failed = X == NULL;
    if (!failed) {
        memcpy(X, Y->f64, n * d * sizeof(double));
        failed = add_layernorm_stats(q, X, n, d, param_double(file, c, "eps"));
    }
    ref_result_free(&result);
    return failed ? -1 : 0;
}

/* ---- softmax, log_softmax, cross_entropy ---------------------------------- */

/* What of a softmax's statistics an explanation shows. */
enum { WITH_LOG = 1, WITH_EXPS = 2 };

/* a, S (n), z (n,vocab), and log S (n) and exp(z_i) (n,vocab) as `with`
 * says, of logits at tau. */
static int add_softmax_stats(cli_quantities *q, const double *logits, size_t n,
                             size_t vocab, double tau, int with)
{
    lmr_softmax_row *rows = calloc(n ? n : 1, sizeof *rows);
    double *a = add(q, "a", n), *S = add(q, "S", n), *z = add(q, "z", n * vocab);
    double *log_S = with & WITH_LOG ? add(q, "log S", n) : NULL;
    double *e = with & WITH_EXPS ? add(q, "exp(z_i)", n * vocab) : NULL;
    int status = rows && a && S && z && (log_S || !(with & WITH_LOG)) &&
                         (e || !(with & WITH_EXPS))
                     ? lmr_softmax_stats(rows, lmr_mat_out_of(z, n, vocab),
                                         e ? lmr_mat_out_of(e, n, vocab)
                                           : lmr_mat_out_of(NULL, 0, 0),
                                         lmr_mat_of(logits, n, vocab), tau)
                     : LMR_ENOMEM;
    for (size_t t = 0; status == LMR_OK && t < n; t++) {
        a[t] = rows[t].max;
        S[t] = rows[t].sum;
        if (log_S != NULL)
            log_S[t] = rows[t].log_sum;
    }
    free(rows);
    return status == LMR_OK ? 0 : -1;
}

static int softmax_quantities(cli_quantities *q, const vec_file *file,
                              const vec_case *c)
{
    const vec_array *logits = input(c, "logits");
    int take_log = strcmp(file->op, "log_softmax") == 0;
    return add_softmax_stats(q, logits->f64, logits->shape[0],
                             logits->shape[1], param_double(file, c, "tau"),
                             take_log ? WITH_LOG | WITH_EXPS : WITH_EXPS);
}

/* The row statistics a, S, log S (n) at tau = 1, z_c = z at the target (n,
 * NaN for an ignored row), the row losses (n) and their count (1) of a
 * cross-entropy of logits (n,vocab) against targets (n). */
static int add_cross_entropy_terms(cli_quantities *q, const double *logits,
                                   const int64_t *targets, size_t n,
                                   size_t vocab, int64_t ignore_index)
{
    size_t counted = 0;
    lmr_softmax_row *rows = calloc(n ? n : 1, sizeof *rows);
    size_t entries = n * vocab;
    double *z = calloc(entries ? entries : 1, sizeof *z); /* (n,vocab) */
    double *a = add(q, "a", n), *S = add(q, "S", n), *log_S = add(q, "log S", n);
    double *z_c = add(q, "z_c", n), *loss = add(q, "loss", n);
    double *count = add(q, "count", 1);
    int status = rows && z && a && S && log_S && z_c && loss && count
                     ? lmr_softmax_stats(rows, lmr_mat_out_of(z, n, vocab),
                                         lmr_mat_out_of(NULL, 0, 0),
                                         lmr_mat_of(logits, n, vocab), 1.0)
                     : LMR_ENOMEM;
    if (status == LMR_OK)
        status = lmr_cross_entropy_terms(lmr_vec_out_of(loss, n), &counted,
                                         lmr_mat_of(logits, n, vocab),
                                         lmr_ids_of(targets, n), ignore_index);
    for (size_t t = 0; status == LMR_OK && t < n; t++) {
        a[t] = rows[t].max;
        S[t] = rows[t].sum;
        log_S[t] = rows[t].log_sum;
        z_c[t] = targets[t] == ignore_index ? NAN
                                            : z[t * vocab + (size_t)targets[t]];
    }
    count[0] = (double)counted;
    free(rows);
    free(z);
    return status == LMR_OK ? 0 : -1;
}

static int cross_entropy_quantities(cli_quantities *q, const vec_file *file,
                                    const vec_case *c)
{
    const vec_array *logits = input(c, "logits");
    return add_cross_entropy_terms(q, logits->f64, input(c, "targets")->i64,
                                   logits->shape[0], logits->shape[1],
                                   param_int64(file, c, "ignore_index"));
}

/* ---- argmax and sample --------------------------------------------------------- */

static int argmax_quantities(cli_quantities *q, const vec_file *file,
                             const vec_case *c)
{
    const vec_array *logits = input(c, "logits");
    size_t n = logits->shape[0], vocab = logits->shape[1];
    int64_t *order = calloc(vocab, sizeof *order);
    double *ranking = add(q, "ranked", n * vocab), *ranked = add(q, "unmasked", n);
    int status = order && ranking && ranked ? LMR_OK : LMR_ENOMEM;
    (void)file;
    for (size_t t = 0; status == LMR_OK && t < n; t++) {
        size_t count = 0;
        status = lmr_rank_tokens(lmr_ids_out_of(order, vocab), &count,
                                 lmr_vec_of(logits->f64 + t * vocab, vocab));
        ranked[t] = (double)count;
        for (size_t m = 0; status == LMR_OK && m < count; m++)
            ranking[t * vocab + m] = (double)order[m];
    }
    free(order);
    return status == LMR_OK ? 0 : -1;
}

/* The per-row arrays of a sample trace, (n,vocab) each, and its counts. */
typedef struct {
    double *p, *ranking, *cumulative, *q, *C;
    double *ranked, *top_k_kept, *kept, *top_k_mass, *kept_mass, *token;
} sample_quantities_view;

static int add_sample_arrays(cli_quantities *q, sample_quantities_view *v,
                             size_t n, size_t vocab)
{
    v->p = add(q, "p", n * vocab);
    v->ranking = add(q, "ranked", n * vocab);
    v->cumulative = add(q, "cumulative", n * vocab);
    v->q = add(q, "q", n * vocab);
    v->C = add(q, "C", n * vocab);
    v->ranked = add(q, "unmasked", n);
    v->top_k_kept = add(q, "top-k", n);
    v->kept = add(q, "kept", n);
    v->top_k_mass = add(q, "top-k sum", n);
    v->kept_mass = add(q, "kept sum", n);
    v->token = add(q, "token", n);
    return v->p && v->ranking && v->cumulative && v->q && v->C && v->ranked &&
           v->top_k_kept && v->kept && v->top_k_mass && v->kept_mass &&
           v->token ? 0 : -1;
}

/* Row t of the view from the trace of lmr_sample_row_trace. */
static void store_trace(sample_quantities_view *v, const lmr_sample_trace *trace,
                        size_t t, size_t vocab)
{
    for (size_t m = 0; m < trace->ranked; m++)
        v->ranking[t * vocab + m] = (double)trace->order.data[m];
    v->ranked[t] = (double)trace->ranked;
    v->top_k_kept[t] = (double)trace->top_k_kept;
    v->kept[t] = (double)trace->kept;
    v->top_k_mass[t] = trace->top_k_mass;
    v->kept_mass[t] = trace->kept_mass;
    v->token[t] = (double)trace->token;
}

static int sample_quantities(cli_quantities *q, const vec_file *file,
                             const vec_case *c)
{
    const vec_array *logits = input(c, "logits"), *r = input(c, "r");
    size_t n = logits->shape[0], vocab = logits->shape[1];
    double tau = param_double(file, c, "tau"), top_p = param_double(file, c, "top_p");
    int64_t top_k = param_int64(file, c, "top_k");
    sample_quantities_view v;
    int64_t *order = calloc(vocab, sizeof *order);
    int status = order && add_sample_arrays(q, &v, n, vocab) == 0 ? LMR_OK
                                                                  : LMR_ENOMEM;
    for (size_t t = 0; status == LMR_OK && t < n; t++) {
        size_t row = t * vocab;
        lmr_sample_trace trace = {lmr_ids_out_of(order, vocab),
                                  lmr_vec_out_of(v.p + row, vocab),
                                  lmr_vec_out_of(v.cumulative + row, vocab),
                                  lmr_vec_out_of(v.q + row, vocab),
                                  lmr_vec_out_of(v.C + row, vocab),
                                  0, 0, 0, 0.0, 0.0, 0};
        status = lmr_sample_row_trace(&trace, lmr_vec_of(logits->f64 + row, vocab),
                                      r->f64[t], tau, top_k, top_p);
        if (status == LMR_OK)
            store_trace(&v, &trace, t, vocab);
    }
    free(order);
    return status == LMR_OK ? 0 : -1;
}

/* ---- logit_lens ----------------------------------------------------------------- */

static int lens_quantities(cli_quantities *q, const vec_file *file,
                           const vec_case *c)
{
    const vec_array *hidden = input(c, "hidden"), *E = input(c, "E");
    const vec_array *gamma = NULL, *beta = NULL;
    size_t layers = hidden->shape[0], n = hidden->shape[1], d = hidden->shape[2];
    size_t vocab = E->shape[0], rows = layers * n;
    double eps = param_double(file, c, "eps");
    if (param_bool(file, c, "final_layernorm")) {
        gamma = input(c, "gamma");
        beta = input(c, "beta");
        if (add_layernorm_stats(q, hidden->f64, rows, d, eps))
            return -1;
    }
    double *x = add(q, "x", rows * d), *u = add(q, "u", rows * vocab);
    if (x == NULL || u == NULL)
        return -1;
    return lmr_logit_lens_logits(lmr_stack_out_of(x, layers, n, d),
                                 lmr_stack_out_of(u, layers, n, vocab),
                                 lmr_stack_of(hidden->f64, layers, n, d),
                                 lmr_mat_of(E->f64, vocab, d),
                                 gamma ? lmr_vec_of(gamma->f64, gamma->count)
                                       : lmr_vec_absent(),
                                 beta ? lmr_vec_of(beta->f64, beta->count)
                                      : lmr_vec_absent(),
                                 eps) == LMR_OK ? 0 : -1;
}

/* ---- the head variants ---------------------------------------------------------------- */

static int transformed_quantities(cli_quantities *q, const vec_file *file,
                                  const vec_case *c)
{
    const vec_array *h = input(c, "h");
    size_t n = h->shape[0], d = h->shape[1];
    double *hT = add(q, "q", n * d);
    (void)file;
    const vec_array *T = input(c, "T");
    return hT && lmr_head_transformed_hidden(lmr_mat_out_of(hT, n, d),
                                             lmr_mat_of(h->f64, n, d),
                                             lmr_mat_of(T->f64, T->shape[0],
                                                        T->shape[1])) == LMR_OK
               ? 0 : -1;
}

static int adaptive_quantities(cli_quantities *q, const vec_file *file,
                               const vec_case *c)
{
    const vec_array *h = input(c, "h"), *E = input(c, "E");
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    double *a = add(q, "a", n * vocab), *b = add(q, "b", n * vocab);
    (void)file;
    const vec_array *F = input(c, "F");
    return a && b && lmr_head_adaptive_parts(lmr_mat_out_of(a, n, vocab),
                                             lmr_mat_out_of(b, n, vocab),
                                             lmr_mat_of(h->f64, n, d),
                                             lmr_mat_of(E->f64, vocab, E->shape[1]),
                                             lmr_mat_of(F->f64, F->shape[0],
                                                        F->shape[1])) == LMR_OK
               ? 0 : -1;
}

static int mlp_quantities(cli_quantities *q, const vec_file *file,
                          const vec_case *c)
{
    const vec_array *h = input(c, "h"), *W1 = input(c, "W1"), *b1 = input(c, "b1");
    size_t n = h->shape[0], d = h->shape[1], m = W1->shape[1];
    double *a = add(q, "a", n * m), *h1 = add(q, "h1", n * m);
    (void)file;
    return a && h1 && lmr_head_mlp_hidden(lmr_mat_out_of(a, n, m),
                                          lmr_mat_out_of(h1, n, m),
                                          lmr_mat_of(h->f64, n, d),
                                          lmr_mat_of(W1->f64, W1->shape[0], m),
                                          b1 ? lmr_vec_of(b1->f64, b1->count)
                                             : lmr_vec_absent()) == LMR_OK
               ? 0 : -1;
}

static int mos_fixed_quantities(cli_quantities *q, const vec_file *file,
                                const vec_case *c)
{
    const vec_array *h = input(c, "h"), *W = input(c, "W");
    size_t n = h->shape[0], d = h->shape[1], K = W->shape[0], vocab = W->shape[2];
    double *log_abar = add(q, "log abar", K);
    double *log_p = add(q, "log p", K * n * vocab);
    (void)file;
    return log_abar && log_p &&
           lmr_mos_fixed_components(lmr_vec_out_of(log_abar, K),
                                    lmr_stack_out_of(log_p, K, n, vocab),
                                    lmr_mat_of(h->f64, n, d),
                                    lmr_stack_of(W->f64, K, W->shape[1], vocab),
                                    lmr_vec_of(input(c, "alpha")->f64,
                                               input(c, "alpha")->count)) == LMR_OK
               ? 0 : -1;
}

static int mos_gated_quantities(cli_quantities *q, const vec_file *file,
                                const vec_case *c)
{
    const vec_array *h = input(c, "h"), *W_pi = input(c, "W_pi");
    size_t n = h->shape[0], d = h->shape[1], K = W_pi->shape[1];
    double *log_pi = add(q, "log pi", n * K);
    (void)file;
    return log_pi && lmr_mos_gated_weights(lmr_mat_out_of(log_pi, n, K),
                                           lmr_mat_of(h->f64, n, d),
                                           lmr_mat_of(W_pi->f64, W_pi->shape[0],
                                                      K)) == LMR_OK
               ? 0 : -1;
}

/* soft_tie_loss: the untied head's logits u = h W (n,vocab), as the op
 * computes them, and the cross-entropy terms of u. */
static int soft_tie_quantities(cli_quantities *q, const vec_file *file,
                               const vec_case *c)
{
    const vec_array *h = input(c, "h"), *W = input(c, "W");
    size_t n = h->shape[0], d = h->shape[1], vocab = W->shape[1];
    double *u = add(q, "u", n * vocab);
    if (u == NULL ||
        lmr_head_untied(lmr_mat_out_of(u, n, vocab), lmr_mat_of(h->f64, n, d),
                        lmr_mat_of(W->f64, d, vocab),
                        lmr_vec_absent()) != LMR_OK)
        return -1;
    return add_cross_entropy_terms(q, u, input(c, "targets")->i64, n, vocab,
                                   param_int64(file, c, "ignore_index"));
}

/* ---- the backward ops -------------------------------------------------------------- */

static int layernorm_backward_quantities(cli_quantities *q,
                                         const vec_file *file,
                                         const vec_case *c)
{
    return layernorm_quantities(q, file, c);
}

/* w (n) and counted (1) of a cross-entropy backward with upstream dloss. */
static int add_cross_entropy_weights(cli_quantities *q, const int64_t *targets,
                                     const double *dloss, size_t n,
                                     const char *reduction, int64_t ignore_index)
{
    size_t counted = 0;
    double *w = add(q, "w", n), *count = add(q, "counted", 1);
    enum lmr_reduction kind = ref_reduction_named(reduction);
    size_t dloss_len = kind == LMR_REDUCE_NONE ? n : 1;
    if (w == NULL || count == NULL ||
        lmr_cross_entropy_weights(lmr_vec_out_of(w, n), &counted,
                                  lmr_ids_of(targets, n),
                                  lmr_vec_of(dloss, dloss_len), kind,
                                  ignore_index) != LMR_OK)
        return -1;
    count[0] = (double)counted;
    return 0;
}

static int cross_entropy_backward_quantities(cli_quantities *q,
                                             const vec_file *file,
                                             const vec_case *c)
{
    const vec_array *targets = input(c, "targets");
    return add_cross_entropy_weights(q, targets->i64, input(c, "dloss")->f64,
                                     targets->count,
                                     param_string(file, c, "reduction"),
                                     param_int64(file, c, "ignore_index"));
}

/* ---- dispatch ------------------------------------------------------------------------ */

typedef int (*gatherer)(cli_quantities *q, const vec_file *file,
                        const vec_case *c);

static const struct {
    const char *op;
    gatherer gather;
} gatherers[] = {
    {"layernorm", layernorm_quantities},
    {"compose_layernorm", compose_layernorm_quantities},
    {"softmax", softmax_quantities},
    {"log_softmax", softmax_quantities},
    {"cross_entropy", cross_entropy_quantities},
    {"argmax", argmax_quantities},
    {"sample", sample_quantities},
    {"logit_lens", lens_quantities},
    {"head_transformed", transformed_quantities},
    {"head_adaptive", adaptive_quantities},
    {"head_mlp", mlp_quantities},
    {"mos_fixed", mos_fixed_quantities},
    {"mos_gated", mos_gated_quantities},
    {"soft_tie_loss", soft_tie_quantities},
    {"layernorm_backward", layernorm_backward_quantities},
    {"cross_entropy_backward", cross_entropy_backward_quantities},
};

int cli_explain_has_quantities(const char *op)
{
    for (size_t i = 0; i < sizeof gatherers / sizeof gatherers[0]; i++)
        if (strcmp(gatherers[i].op, op) == 0)
            return 1;
    return 0;
}

int cli_explain_quantities(cli_quantities *q, const vec_file *file,
                           const vec_case *c)
{
    q->count = 0;
    for (size_t i = 0; i < sizeof gatherers / sizeof gatherers[0]; i++)
        if (strcmp(gatherers[i].op, file->op) == 0) {
            if (gatherers[i].gather(q, file, c) == 0)
                return 0;
            cli_quantities_free(q);
            return -1;
        }
    return 0;
}
