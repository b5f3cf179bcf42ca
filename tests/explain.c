/*
 * explain.c -- `lmr --explain` prints the reference's intermediates, not a
 * second computation of them (tools/cli/cli_explain.h).
 *
 * For every valid case of every vector file whose op has intermediate
 * quantities (cli_explain_has_quantities), the quantities the explanation
 * prints (cli_explain_quantities) must be, bit for bit:
 *   - those of a direct call of ref/lmr_intermediates.h on the case's
 *     inputs, with the params read here by the op table's rule;
 *   - those the op's outputs were made of: each output that is a one-step
 *     function of the intermediates (softmax = exp(z) / S, LayerNorm's
 *     y = gamma (x - mu) r + beta, the reduced loss = the sum of the row
 *     losses, sampling's probs and token = q and the CDF's token, the lens's
 *     probs = softmax(u), ...) is rebuilt here from them and compared with
 *     what ref_run returned. A helper of ref/ that stopped going through the
 *     shared code fails here.
 * NaN equals NaN of any payload (a mean over no counted row). The text of
 * the explanation must name every quantity and show its first value.
 *
 * Then: no explainer file of tools/cli/ contains a default value typed as a
 * literal (defaults come from the op table, tools/common/op_table.c).
 */
#include <glob.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_explain.h"
#include "lmr.h"
#include "op_table.h"
#include "ref_ops.h"
#include "tap.h"
#include "vecio.h"

/* How many numbers the checks compared, for the summary. */
static size_t compared;

/* ---- comparing ------------------------------------------------------------- */

/* 1 if a and b are the same double, bit for bit (any NaN equals any NaN). */
static int same(double a, double b)
{
    if (isnan(a) && isnan(b))
        return 1;
    return memcmp(&a, &b, sizeof a) == 0;
}

/* The failures of one case, with the first one's description. */
typedef struct {
    size_t failures;
    char first[256];
} verdict;

static void expect_same(verdict *v, double got, double want, const char *what,
                        size_t index)
{
    compared++;
    if (same(got, want))
        return;
    if (v->failures++ == 0)
        snprintf(v->first, sizeof v->first, "%s[%zu]: %.17g, want %.17g",
                 what, index, got, want);
}

static void expect_array(verdict *v, const double *got, const double *want,
                         size_t count, const char *what)
{
    if (got == NULL || want == NULL) {
        if (v->failures++ == 0)
            snprintf(v->first, sizeof v->first, "%s: missing", what);
        return;
    }
    for (size_t i = 0; i < count; i++)
        expect_same(v, got[i], want[i], what, i);
}

static void expect_true(verdict *v, int holds, const char *what)
{
    if (!holds && v->failures++ == 0)
        snprintf(v->first, sizeof v->first, "%s", what);
}

/* calloc of count doubles (at least one). */
static double *zeros(size_t count)
{
    return calloc(count ? count : 1, sizeof(double));
}

/* ---- reading the case ---------------------------------------------------------- */

typedef struct {
    const vec_file *file;
    const vec_case *c;
    const cli_quantities *q;
    const ref_result *result;
} checked_case;

static const vec_array *in(const checked_case *k, const char *name)
{
    return vec_case_input(k->c, name);
}

static const double *quantity(const checked_case *k, const char *name)
{
    return cli_quantity_values(k->q, name);
}

static const double *out_f64(const checked_case *k, const char *name)
{
    const ref_output *output = ref_result_output(k->result, name);
    return output ? output->f64 : NULL;
}

static const int64_t *out_i64(const checked_case *k, const char *name)
{
    const ref_output *output = ref_result_output(k->result, name);
    return output ? output->i64 : NULL;
}

/* A param by the op table's rule (its default when absent). */
static double number(const checked_case *k, const char *name)
{
    char message[VEC_ERRLEN];
    vec_ctx ctx = {k->file, k->c, message, sizeof message};
    double value = NAN;
    op_param_double(&ctx, name, &value);
    return value;
}

static int64_t integer(const checked_case *k, const char *name)
{
    char message[VEC_ERRLEN];
    vec_ctx ctx = {k->file, k->c, message, sizeof message};
    int64_t value = 0;
    op_param_int64(&ctx, name, &value);
    return value;
}

static int flag(const checked_case *k, const char *name)
{
    char message[VEC_ERRLEN];
    vec_ctx ctx = {k->file, k->c, message, sizeof message};
    int value = 0;
    op_param_bool(&ctx, name, &value);
    return value;
}

static const char *word(const checked_case *k, const char *name)
{
    char message[VEC_ERRLEN];
    vec_ctx ctx = {k->file, k->c, message, sizeof message};
    const char *value = "";
    op_param_word(&ctx, name, &value);
    return value;
}

/* ---- LayerNorm ------------------------------------------------------------------ */

/* The quantities mu, var, scale, r equal lmr_layernorm_stats of x (n,d). */
static void check_layernorm_stats(verdict *v, const checked_case *k,
                                  const double *x, size_t n, size_t d,
                                  double eps)
{
    lmr_layernorm_row *rows = calloc(n ? n : 1, sizeof *rows);
    expect_true(v, rows && lmr_layernorm_stats(rows, lmr_mat_of(x, n, d), eps) == LMR_OK,
                "lmr_layernorm_stats accepts the case");
    for (size_t t = 0; rows && t < n; t++) {
        expect_same(v, quantity(k, "mu")[t], rows[t].mean, "mu", t);
        expect_same(v, quantity(k, "var")[t], rows[t].variance, "var", t);
        expect_same(v, quantity(k, "scale")[t], rows[t].scale, "scale", t);
        expect_same(v, quantity(k, "r")[t], rows[t].inv_std, "r", t);
    }
    free(rows);
}

/* y (n,d) = gamma_j ((x_j - mu) r) + beta_j from the quantities, in the
 * reference's order of operations, one operation per statement. */
static void check_layernorm_output(verdict *v, const checked_case *k,
                                   const double *x, const double *y,
                                   size_t n, size_t d)
{
    const double *gamma = in(k, "gamma")->f64, *beta = in(k, "beta")->f64;
    for (size_t t = 0; y && t < n; t++)
        for (size_t j = 0; j < d; j++) {
            double deviation = x[t * d + j] - quantity(k, "mu")[t];
            double z = deviation * quantity(k, "r")[t];
            double scaled = gamma[j] * z;
            double rebuilt = scaled + beta[j];
            expect_same(v, y[t * d + j], rebuilt, "y = gamma z + beta",
                        t * d + j);
        }
}

static void check_layernorm(verdict *v, const checked_case *k)
{
    const vec_array *x = in(k, "x");
    size_t n = x->shape[0], d = x->shape[1];
    check_layernorm_stats(v, k, x->f64, n, d, number(k, "eps"));
    check_layernorm_output(v, k, x->f64, out_f64(k, "Y"), n, d);
}

static void check_compose_layernorm(verdict *v, const checked_case *k)
{
    size_t n = in(k, "ids")->count, d = in(k, "E")->shape[1];
    const double *X = quantity(k, "X");
    check_layernorm_stats(v, k, X, n, d, number(k, "eps"));
    check_layernorm_output(v, k, X, out_f64(k, "Y"), n, d);
}

static void check_layernorm_backward(verdict *v, const checked_case *k)
{
    const vec_array *x = in(k, "x");
    check_layernorm_stats(v, k, x->f64, x->shape[0], x->shape[1],
                          number(k, "eps"));
}

/* ---- softmax, log_softmax, cross_entropy --------------------------------------------- */

/* a, S, z (and log S, exp(z) when the op shows them) equal
 * lmr_softmax_stats of logits (n,vocab) at tau. */
static void check_softmax_stats(verdict *v, const checked_case *k,
                                const double *logits, size_t n, size_t vocab,
                                double tau)
{
    lmr_softmax_row *rows = calloc(n ? n : 1, sizeof *rows);
    double *z = zeros(n * vocab), *e = zeros(n * vocab);
    int ok = rows && z && e &&
             lmr_softmax_stats(rows, lmr_mat_out_of(z, n, vocab),
                               lmr_mat_out_of(e, n, vocab),
                               lmr_mat_of(logits, n, vocab), tau) == LMR_OK;
    expect_true(v, ok, "lmr_softmax_stats accepts the case");
    for (size_t t = 0; ok && t < n; t++) {
        expect_same(v, quantity(k, "a")[t], rows[t].max, "a", t);
        expect_same(v, quantity(k, "S")[t], rows[t].sum, "S", t);
        if (quantity(k, "log S"))
            expect_same(v, quantity(k, "log S")[t], rows[t].log_sum, "log S", t);
    }
    if (ok && quantity(k, "z"))
        expect_array(v, quantity(k, "z"), z, n * vocab, "z");
    if (ok && quantity(k, "exp(z_i)"))
        expect_array(v, quantity(k, "exp(z_i)"), e, n * vocab, "exp(z_i)");
    free(rows);
    free(z);
    free(e);
}

static void check_softmax(verdict *v, const checked_case *k)
{
    const vec_array *logits = in(k, "logits");
    size_t n = logits->shape[0], vocab = logits->shape[1];
    int take_log = strcmp(k->file->op, "log_softmax") == 0;
    check_softmax_stats(v, k, logits->f64, n, vocab, number(k, "tau"));
    const double *y = out_f64(k, take_log ? "logprobs" : "probs");
    for (size_t t = 0; y && t < n; t++)
        for (size_t i = 0; i < vocab; i++) {
            size_t at = t * vocab + i;
            double rebuilt = take_log
                ? quantity(k, "z")[at] - quantity(k, "log S")[t]
                : quantity(k, "exp(z_i)")[at] / quantity(k, "S")[t];
            expect_same(v, y[at], rebuilt,
                        take_log ? "log y = z - log S" : "y = exp(z) / S", at);
        }
}

/* z_c (n) is the reference's z at each counted row's target. */
static void check_target_logits(verdict *v, const checked_case *k,
                                const double *logits, const int64_t *targets,
                                size_t n, size_t vocab, int64_t ignore_index)
{
    lmr_softmax_row *rows = calloc(n ? n : 1, sizeof *rows);
    double *z = zeros(n * vocab);
    int ok = rows && z &&
             lmr_softmax_stats(rows, lmr_mat_out_of(z, n, vocab),
                               lmr_mat_out_of(NULL, 0, 0),
                               lmr_mat_of(logits, n, vocab), 1.0) == LMR_OK;
    for (size_t t = 0; ok && t < n; t++)
        if (targets[t] != ignore_index)
            expect_same(v, quantity(k, "z_c")[t],
                        z[t * vocab + (size_t)targets[t]], "z_c", t);
    free(rows);
    free(z);
}

static void check_cross_entropy(verdict *v, const checked_case *k)
{
    const vec_array *logits = in(k, "logits"), *targets = in(k, "targets");
    size_t n = logits->shape[0], vocab = logits->shape[1], counted = 0;
    int64_t ignore_index = integer(k, "ignore_index");
    const double *losses = quantity(k, "loss");
    double *direct = zeros(n);
    check_softmax_stats(v, k, logits->f64, n, vocab, 1.0);
    check_target_logits(v, k, logits->f64, targets->i64, n, vocab,
                        ignore_index);
    expect_true(v, direct && lmr_cross_entropy_terms(
                                 lmr_vec_out_of(direct, n), &counted,
                                 lmr_mat_of(logits->f64, n, vocab),
                                 lmr_ids_of(targets->i64, n),
                                 ignore_index) == LMR_OK,
                "lmr_cross_entropy_terms accepts the case");
    if (direct != NULL)
        expect_array(v, losses, direct, n, "loss");
    expect_same(v, quantity(k, "count")[0], (double)counted, "count", 0);
    double total = 0.0;
    for (size_t t = 0; t < n; t++) {
        if (targets->i64[t] == ignore_index)
            continue;
        double rebuilt = quantity(k, "log S")[t] - quantity(k, "z_c")[t];
        expect_same(v, losses[t], rebuilt, "loss = log S - z_c", t);
        total += losses[t];
    }
    const char *reduction = word(k, "reduction");
    const double *loss = out_f64(k, "loss");
    if (strcmp(reduction, "none") == 0)
        expect_array(v, loss, losses, n, "loss[t] = the row's loss");
    else if (strcmp(reduction, "sum") == 0)
        expect_same(v, loss ? loss[0] : NAN, total, "loss = the sum", 0);
    else
        expect_same(v, loss ? loss[0] : NAN,
                    counted ? total / (double)counted : NAN,
                    "loss = the sum / count", 0);
    free(direct);
}

static void check_cross_entropy_backward(verdict *v, const checked_case *k)
{
    const vec_array *targets = in(k, "targets"), *logits = in(k, "logits");
    size_t n = targets->count, vocab = logits->shape[1], counted = 0;
    double *w = zeros(n);
    double *y = zeros(n * vocab);
    int ok = w && y &&
             lmr_cross_entropy_weights(
                 lmr_vec_out_of(w, n), &counted, lmr_ids_of(targets->i64, n),
                 lmr_vec_of(in(k, "dloss")->f64, in(k, "dloss")->count),
                 ref_reduction_named(word(k, "reduction")),
                 integer(k, "ignore_index")) == LMR_OK &&
             lmr_softmax(lmr_mat_out_of(y, n, vocab),
                         lmr_mat_of(logits->f64, n, vocab), 1.0) == LMR_OK;
    expect_true(v, ok, "lmr_cross_entropy_weights accepts the case");
    if (ok) {
        expect_array(v, quantity(k, "w"), w, n, "w");
        expect_same(v, quantity(k, "counted")[0], (double)counted, "counted", 0);
    }
    const double *dlogits = out_f64(k, "dlogits");
    for (size_t t = 0; ok && dlogits && t < n; t++)
        for (size_t i = 0; i < vocab; i++) {
            double target = (int64_t)i == targets->i64[t] ? 1.0 : 0.0;
            double difference = y[t * vocab + i] - target;
            expect_same(v, dlogits[t * vocab + i],
                        quantity(k, "w")[t] * difference,
                        "dlogits = w (y - onehot)", t * vocab + i);
        }
    free(w);
    free(y);
}

/* ---- argmax and sample ---------------------------------------------------------------- */

/* The quantities "ranked" (n,vocab) and "unmasked" (n) equal
 * lmr_rank_tokens of each row. */
static void check_ranking(verdict *v, const checked_case *k,
                          const double *logits, size_t n, size_t vocab)
{
    int64_t *order = calloc(vocab, sizeof *order);
    for (size_t t = 0; order && t < n; t++) {
        size_t ranked = 0;
        expect_true(v, lmr_rank_tokens(lmr_ids_out_of(order, vocab), &ranked,
                                       lmr_vec_of(logits + t * vocab, vocab))
                           == LMR_OK,
                    "lmr_rank_tokens accepts the row");
        expect_same(v, quantity(k, "unmasked")[t], (double)ranked, "unmasked", t);
        for (size_t m = 0; m < ranked; m++)
            expect_same(v, quantity(k, "ranked")[t * vocab + m],
                        (double)order[m], "ranked", t * vocab + m);
    }
    free(order);
}

static void check_argmax(verdict *v, const checked_case *k)
{
    const vec_array *logits = in(k, "logits");
    size_t n = logits->shape[0], vocab = logits->shape[1];
    const int64_t *token = out_i64(k, "token");
    check_ranking(v, k, logits->f64, n, vocab);
    for (size_t t = 0; token && t < n; t++)
        expect_same(v, (double)token[t], quantity(k, "ranked")[t * vocab],
                    "token = the first ranked", t);
}

/* The trace of row t, called directly, against the quantities. */
static void check_sample_row(verdict *v, const checked_case *k, size_t t,
                             lmr_sample_trace *trace, size_t vocab)
{
    const double *u = in(k, "logits")->f64 + t * vocab;
    size_t row = t * vocab;
    expect_true(v, lmr_sample_row_trace(trace, lmr_vec_of(u, vocab),
                                        in(k, "r")->f64[t],
                                        number(k, "tau"), integer(k, "top_k"),
                                        number(k, "top_p")) == LMR_OK,
                "lmr_sample_row_trace accepts the row");
    expect_array(v, quantity(k, "p") + row, trace->probs.data, vocab, "p");
    expect_array(v, quantity(k, "q") + row, trace->kept_probs.data, vocab, "q");
    expect_array(v, quantity(k, "C") + row, trace->cdf.data, trace->token + 1,
                 "C");
    expect_array(v, quantity(k, "cumulative") + row, trace->cumulative.data,
                 number(k, "top_p") < 1.0 ? trace->kept : 0, "cumulative");
    for (size_t m = 0; m < trace->ranked; m++)
        expect_same(v, quantity(k, "ranked")[row + m],
                    (double)trace->order.data[m],
                    "ranked", row + m);
    expect_same(v, quantity(k, "unmasked")[t], (double)trace->ranked, "unmasked", t);
    expect_same(v, quantity(k, "top-k")[t], (double)trace->top_k_kept, "top-k", t);
    expect_same(v, quantity(k, "kept")[t], (double)trace->kept, "kept", t);
    expect_same(v, quantity(k, "top-k sum")[t], trace->top_k_mass, "top-k sum", t);
    expect_same(v, quantity(k, "kept sum")[t], trace->kept_mass, "kept sum", t);
    expect_same(v, quantity(k, "token")[t], (double)trace->token, "token", t);
}

static void check_sample(verdict *v, const checked_case *k)
{
    const vec_array *logits = in(k, "logits");
    size_t n = logits->shape[0], vocab = logits->shape[1];
    int64_t *order = calloc(vocab, sizeof *order);
    double *arrays = zeros(4 * vocab);
    double *softmax = zeros(n * vocab);
    const double *probs = out_f64(k, "probs");
    const int64_t *token = out_i64(k, "token");
    int ok = order && arrays && softmax &&
             lmr_softmax(lmr_mat_out_of(softmax, n, vocab),
                         lmr_mat_of(logits->f64, n, vocab), number(k, "tau")) == LMR_OK;
    expect_true(v, ok, "lmr_softmax accepts the case");
    for (size_t t = 0; ok && t < n; t++) {
        lmr_sample_trace trace = {lmr_ids_out_of(order, vocab),
                                  lmr_vec_out_of(arrays, vocab),
                                  lmr_vec_out_of(arrays + vocab, vocab),
                                  lmr_vec_out_of(arrays + 2 * vocab, vocab),
                                  lmr_vec_out_of(arrays + 3 * vocab, vocab),
                                  0, 0, 0, 0.0, 0.0, 0};
        check_sample_row(v, k, t, &trace, vocab);
        /* the outputs are q and the CDF's token; p is the op's softmax */
        expect_array(v, probs + t * vocab, quantity(k, "q") + t * vocab, vocab,
                     "probs = q");
        expect_same(v, (double)token[t], quantity(k, "token")[t],
                    "token = the CDF's", t);
        expect_array(v, quantity(k, "p") + t * vocab, softmax + t * vocab,
                     vocab, "p = softmax(u / tau)");
    }
    free(order);
    free(arrays);
    free(softmax);
}

/* ---- logit_lens --------------------------------------------------------------------------- */

static void check_lens(verdict *v, const checked_case *k)
{
    const vec_array *hidden = in(k, "hidden"), *E = in(k, "E");
    size_t layers = hidden->shape[0], n = hidden->shape[1], d = hidden->shape[2];
    size_t vocab = E->shape[0], rows = layers * n;
    size_t top_k = (size_t)integer(k, "k");
    int layernorm = flag(k, "final_layernorm");
    double *x = zeros(rows * d);
    double *u = zeros(rows * vocab);
    double *p = zeros(rows * vocab);
    int ok = x && u && p &&
             lmr_logit_lens_logits(lmr_stack_out_of(x, layers, n, d),
                                   lmr_stack_out_of(u, layers, n, vocab),
                                   lmr_stack_of(hidden->f64, layers, n, d),
                                   lmr_mat_of(E->f64, vocab, d),
                                   layernorm ? lmr_vec_of(in(k, "gamma")->f64, d)
                                             : lmr_vec_absent(),
                                   layernorm ? lmr_vec_of(in(k, "beta")->f64, d)
                                             : lmr_vec_absent(),
                                   number(k, "eps")) == LMR_OK &&
             lmr_softmax(lmr_mat_out_of(p, rows, vocab),
                         lmr_mat_of(quantity(k, "u"), rows, vocab), 1.0) == LMR_OK;
    expect_true(v, ok, "lmr_logit_lens_logits accepts the case");
    if (ok) {
        expect_array(v, quantity(k, "x"), x, rows * d, "x");
        expect_array(v, quantity(k, "u"), u, rows * vocab, "u");
        expect_array(v, out_f64(k, "probs"), p, rows * vocab,
                     "probs = softmax(u)");
    }
    if (ok && layernorm) {
        check_layernorm_stats(v, k, hidden->f64, rows, d, number(k, "eps"));
        check_layernorm_output(v, k, hidden->f64, quantity(k, "x"), rows, d);
    }
    int64_t *order = calloc(vocab, sizeof *order);
    const int64_t *tokens = out_i64(k, "top_tokens");
    for (size_t row = 0; ok && order && tokens && row < rows; row++) {
        size_t ranked = 0;
        lmr_rank_tokens(lmr_ids_out_of(order, vocab), &ranked,
                        lmr_vec_of(quantity(k, "u") + row * vocab, vocab));
        for (size_t m = 0; m < top_k && m < ranked; m++)
            expect_same(v, (double)tokens[row * top_k + m], (double)order[m],
                        "top_tokens = the first ranked of u", row * top_k + m);
    }
    free(order);
    free(x);
    free(u);
    free(p);
}

/* ---- the head variants ------------------------------------------------------------------------ */

static void check_transformed(verdict *v, const checked_case *k)
{
    const vec_array *h = in(k, "h"), *E = in(k, "E");
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    double *q = zeros(n * d), *u = zeros(n * vocab);
    int ok = q && u &&
             lmr_head_transformed_hidden(lmr_mat_out_of(q, n, d),
                                         lmr_mat_of(h->f64, n, d),
                                         lmr_mat_of(in(k, "T")->f64, d, d)) == LMR_OK &&
             lmr_head_tied(lmr_mat_out_of(u, n, vocab),
                           lmr_mat_of(quantity(k, "q"), n, d),
                           lmr_mat_of(E->f64, vocab, d)) == LMR_OK;
    expect_true(v, ok, "lmr_head_transformed_hidden accepts the case");
    if (ok) {
        expect_array(v, quantity(k, "q"), q, n * d, "q");
        expect_array(v, out_f64(k, "logits"), u, n * vocab, "logits = q E^T");
    }
    free(q);
    free(u);
}

static void check_adaptive(verdict *v, const checked_case *k)
{
    const vec_array *h = in(k, "h"), *E = in(k, "E");
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    double alpha = number(k, "alpha");
    double *a = zeros(n * vocab), *b = zeros(n * vocab);
    int ok = a && b && lmr_head_adaptive_parts(lmr_mat_out_of(a, n, vocab),
                                               lmr_mat_out_of(b, n, vocab),
                                               lmr_mat_of(h->f64, n, d),
                                               lmr_mat_of(E->f64, vocab, d),
                                               lmr_mat_of(in(k, "F")->f64, d,
                                                          vocab)) == LMR_OK;
    expect_true(v, ok, "lmr_head_adaptive_parts accepts the case");
    const double *logits = out_f64(k, "logits");
    for (size_t i = 0; ok && logits && i < n * vocab; i++) {
        expect_same(v, quantity(k, "a")[i], a[i], "a", i);
        expect_same(v, quantity(k, "b")[i], b[i], "b", i);
        double tied = alpha * quantity(k, "a")[i];
        double untied = (1.0 - alpha) * quantity(k, "b")[i];
        double mixed = tied + untied;
        expect_same(v, logits[i], mixed, "logits = alpha a + (1 - alpha) b", i);
    }
    free(a);
    free(b);
}

static void check_mlp(verdict *v, const checked_case *k)
{
    const vec_array *h = in(k, "h"), *W1 = in(k, "W1"), *b1 = in(k, "b1"),
                    *b2 = in(k, "b2");
    int tied = flag(k, "tied");
    const vec_array *W2 = in(k, tied ? "E" : "W2");
    size_t n = h->shape[0], d = h->shape[1], m = W1->shape[1];
    size_t vocab = tied ? W2->shape[0] : W2->shape[1];
    double *a = zeros(n * m), *h1 = zeros(n * m), *u = zeros(n * vocab);
    int ok = a && h1 && u &&
             lmr_head_mlp_hidden(lmr_mat_out_of(a, n, m), lmr_mat_out_of(h1, n, m),
                                 lmr_mat_of(h->f64, n, d), lmr_mat_of(W1->f64, d, m),
                                 b1 ? lmr_vec_of(b1->f64, m) : lmr_vec_absent()) == LMR_OK;
    expect_true(v, ok, "lmr_head_mlp_hidden accepts the case");
    if (ok) {
        expect_array(v, quantity(k, "a"), a, n * m, "a");
        expect_array(v, quantity(k, "h1"), h1, n * m, "h1");
        for (size_t i = 0; i < n * m; i++)
            expect_same(v, h1[i], a[i] > 0.0 ? a[i] : 0.0, "h1 = ReLU(a)", i);
        lmr_mat_out logits = lmr_mat_out_of(u, n, vocab);
        lmr_mat hidden = lmr_mat_of(quantity(k, "h1"), n, m);
        ok = tied ? lmr_head_tied(logits, hidden, lmr_mat_of(W2->f64, vocab, d))
                  : lmr_head_untied(logits, hidden, lmr_mat_of(W2->f64, m, vocab),
                                    b2 ? lmr_vec_of(b2->f64, vocab) : lmr_vec_absent());
        ok = ok == LMR_OK;
    }
    for (size_t t = 0; ok && tied && b2 && t < n; t++)
        for (size_t j = 0; j < vocab; j++)
            u[t * vocab + j] += b2->f64[j];
    if (ok)
        expect_array(v, out_f64(k, "logits"), u, n * vocab,
                     "logits = h1 W2 + b2");
    free(a);
    free(h1);
    free(u);
}

/* probs and logprobs (n,vocab) rebuilt from log-weights (row t's at
 * log_w + t * w_stride, K of them) and component log-probabilities
 * (K,n,vocab) as the reference mixes them: terms s_k = log w_k + log p_k,
 * log y = s_max + log sum_k exp(s_k - s_max), y = sum_k exp(s_k). */
static void check_mixture(verdict *v, const checked_case *k,
                          const double *log_w, size_t w_stride,
                          const double *log_p, size_t n, size_t vocab,
                          size_t K)
{
    const double *probs = out_f64(k, "probs"), *logprobs = out_f64(k, "logprobs");
    for (size_t t = 0; probs && logprobs && t < n; t++)
        for (size_t j = 0; j < vocab; j++) {
            double largest = -INFINITY, sum = 0.0, mixture = 0.0;
            for (size_t c = 0; c < K; c++)
                largest = fmax(largest, log_w[t * w_stride + c] +
                                            log_p[(c * n + t) * vocab + j]);
            for (size_t c = 0; c < K; c++) {
                double term = log_w[t * w_stride + c] +
                              log_p[(c * n + t) * vocab + j];
                sum += exp(term - largest);
                mixture += exp(term);
            }
            expect_same(v, logprobs[t * vocab + j], largest + log(sum),
                        "log y = s_max + log sum exp(s - s_max)", t * vocab + j);
            expect_same(v, probs[t * vocab + j], mixture, "y = sum exp(s)",
                        t * vocab + j);
        }
}

static void check_mos_fixed(verdict *v, const checked_case *k)
{
    const vec_array *h = in(k, "h"), *W = in(k, "W");
    size_t n = h->shape[0], d = h->shape[1], K = W->shape[0], vocab = W->shape[2];
    double *log_w = zeros(K), *log_p = zeros(K * n * vocab);
    int ok = log_w && log_p &&
             lmr_mos_fixed_components(lmr_vec_out_of(log_w, K),
                                      lmr_stack_out_of(log_p, K, n, vocab),
                                      lmr_mat_of(h->f64, n, d),
                                      lmr_stack_of(W->f64, K, d, vocab),
                                      lmr_vec_of(in(k, "alpha")->f64, K)) == LMR_OK;
    expect_true(v, ok, "lmr_mos_fixed_components accepts the case");
    if (ok) {
        expect_array(v, quantity(k, "log abar"), log_w, K, "log abar");
        expect_array(v, quantity(k, "log p"), log_p, K * n * vocab, "log p");
        check_mixture(v, k, quantity(k, "log abar"), 0, quantity(k, "log p"),
                      n, vocab, K);
    }
    free(log_w);
    free(log_p);
}

static void check_mos_gated(verdict *v, const checked_case *k)
{
    const vec_array *h = in(k, "h"), *W_pi = in(k, "W_pi");
    size_t n = h->shape[0], d = h->shape[1], K = W_pi->shape[1];
    double *log_pi = zeros(n * K);
    int ok = log_pi && lmr_mos_gated_weights(lmr_mat_out_of(log_pi, n, K),
                                             lmr_mat_of(h->f64, n, d),
                                             lmr_mat_of(W_pi->f64, d, K)) == LMR_OK;
    expect_true(v, ok, "lmr_mos_gated_weights accepts the case");
    if (ok)
        expect_array(v, quantity(k, "log pi"), log_pi, n * K, "log pi");
    free(log_pi);
}

/* soft_tie_loss: u = h W, its cross-entropy terms, and the outputs made of
 * them. */
static void check_soft_tie(verdict *v, const checked_case *k)
{
    const vec_array *h = in(k, "h"), *W = in(k, "W"), *targets = in(k, "targets");
    size_t n = h->shape[0], d = h->shape[1], vocab = W->shape[1], counted = 0;
    int64_t ignore_index = integer(k, "ignore_index");
    double *u = zeros(n * vocab), *losses = zeros(n);
    int ok = u && losses &&
             lmr_head_untied(lmr_mat_out_of(u, n, vocab),
                             lmr_mat_of(h->f64, n, d),
                             lmr_mat_of(W->f64, d, vocab), lmr_vec_absent()) == LMR_OK &&
             lmr_cross_entropy_terms(lmr_vec_out_of(losses, n), &counted,
                                     lmr_mat_of(u, n, vocab),
                                     lmr_ids_of(targets->i64, n),
                                     ignore_index) == LMR_OK;
    expect_true(v, ok, "the soft-tying cross-entropy terms accept the case");
    if (ok) {
        expect_array(v, quantity(k, "u"), u, n * vocab, "u");
        expect_array(v, quantity(k, "loss"), losses, n, "loss");
        check_softmax_stats(v, k, u, n, vocab, 1.0);
        check_target_logits(v, k, u, targets->i64, n, vocab, ignore_index);
    }
    double total = 0.0;
    for (size_t t = 0; ok && t < n; t++)
        if (targets->i64[t] != ignore_index)
            total += losses[t];
    double cross_entropy = strcmp(word(k, "reduction"), "mean") == 0
                               ? (counted ? total / (double)counted : NAN)
                               : total;
    const double *ce = out_f64(k, "cross_entropy"), *loss = out_f64(k, "loss");
    const double *penalty = out_f64(k, "penalty");
    if (ok && ce && loss && penalty) {
        expect_same(v, ce[0], cross_entropy, "cross_entropy = the reduction", 0);
        double weighted = number(k, "lambda") * penalty[0];
        expect_same(v, loss[0], ce[0] + weighted, "loss = L_CE + lambda penalty",
                    0);
    }
    free(u);
    free(losses);
}

/* ---- per case ------------------------------------------------------------------------------- */

typedef void (*checker)(verdict *v, const checked_case *k);

static const struct {
    const char *op;
    checker check;
} checkers[] = {
    {"layernorm", check_layernorm},
    {"compose_layernorm", check_compose_layernorm},
    {"softmax", check_softmax},
    {"log_softmax", check_softmax},
    {"cross_entropy", check_cross_entropy},
    {"argmax", check_argmax},
    {"sample", check_sample},
    {"logit_lens", check_lens},
    {"head_transformed", check_transformed},
    {"head_adaptive", check_adaptive},
    {"head_mlp", check_mlp},
    {"mos_fixed", check_mos_fixed},
    {"mos_gated", check_mos_gated},
    {"soft_tie_loss", check_soft_tie},
    {"layernorm_backward", check_layernorm_backward},
    {"cross_entropy_backward", check_cross_entropy_backward},
};

static checker find_checker(const char *op)
{
    for (size_t i = 0; i < sizeof checkers / sizeof checkers[0]; i++)
        if (strcmp(checkers[i].op, op) == 0)
            return checkers[i].check;
    return NULL;
}

/* 1 if the text shows one of the values (by their shortest decimals). */
static int shows_a_value(const char *text, const double *values, size_t count)
{
    char shown[32];
    for (size_t i = 0; i < count; i++) {
        cli_format_number(shown, sizeof shown, values[i]);
        if (strstr(text, shown) != NULL)
            return 1;
    }
    return count == 0;
}

/* The explanation's text, printed from these quantities, names every one
 * and shows one of its values (the rows of a cross-entropy with no counted
 * row are not shown). */
static void check_text(verdict *v, const checked_case *k)
{
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    if (out == NULL) {
        expect_true(v, 0, "open_memstream");
        return;
    }
    cli_explain_from(out, k->file, k->c, k->result, k->q);
    fclose(out);
    const double *count = quantity(k, "count");
    int rows_shown = count == NULL || count[0] > 0;
    for (size_t i = 0; i < k->q->count; i++) {
        const cli_quantity *item = &k->q->items[i];
        char what[96];
        snprintf(what, sizeof what, "the text names '%s'", item->name);
        expect_true(v, strstr(text, item->name) != NULL, what);
        snprintf(what, sizeof what, "the text shows a value of %s", item->name);
        expect_true(v, !rows_shown ||
                           shows_a_value(text, item->values, item->count),
                    what);
    }
    free(text);
}

static void check_case(const vec_file *file, const vec_case *c)
{
    ref_result result;
    cli_quantities q = {0};
    char message[VEC_ERRLEN];
    verdict v = {0, ""};
    if (ref_run(file, c, &result, message, sizeof message) != 0) {
        tap_ok(0, "%s: ref_run: %s", c->id, message);
        return;
    }
    checked_case k = {file, c, &q, &result};
    int gathered = result.status == LMR_OK &&
                   cli_explain_quantities(&q, file, c) == 0 && q.count > 0;
    if (gathered) {
        find_checker(file->op)(&v, &k);
        check_text(&v, &k);
    }
    tap_ok(gathered && v.failures == 0,
           "%s: %zu intermediates, equal to ref's and to what its outputs "
           "were made of, named in the text%s%s", c->id, q.count,
           v.failures ? ": " : "", v.first);
    cli_quantities_free(&q);
    ref_result_free(&result);
}

static size_t check_file(const char *path)
{
    vec_file file;
    char message[VEC_ERRLEN];
    size_t cases = 0;
    if (vec_file_load(&file, path, message, sizeof message) != 0) {
        tap_ok(0, "%s loads: %s", path, message);
        return 0;
    }
    if (cli_explain_has_quantities(file.op)) {
        tap_ok(find_checker(file.op) != NULL, "%s: tests/explain.c checks %s",
               path, file.op);
        for (size_t i = 0; find_checker(file.op) && i < file.n_cases; i++)
            if (file.cases[i].valid) {
                check_case(&file, &file.cases[i]);
                cases++;
            }
    }
    vec_file_free(&file);
    return cases;
}

/* ---- no default typed as a literal in an explainer -------------------------------------------- */

/* The defaults of the op table that the explainers once retyped. */
static const char *const default_literals[] = {
    "1e-5", "1e-05", "-100", "10000.0", "10000)", "\"identity\")",
};

static void check_no_default_literals(void)
{
    glob_t found;
    const char *dir = getenv("LMR_SOURCE");
    char pattern[4096];
    snprintf(pattern, sizeof pattern, "%s/tools/cli/cli_*.c", dir ? dir : ".");
    int matched = glob(pattern, 0, NULL, &found) == 0;
    tap_ok(matched && found.gl_pathc >= 5, "the explainer files %s are found",
           pattern);
    for (size_t f = 0; matched && f < found.gl_pathc; f++) {
        FILE *in = fopen(found.gl_pathv[f], "r");
        char line[1024], hit[1100] = "";
        size_t number = 0;
        while (in && fgets(line, sizeof line, in) != NULL && hit[0] == '\0') {
            number++;
            for (size_t i = 0; i < sizeof default_literals / sizeof *default_literals; i++)
                if (strstr(line, default_literals[i]) != NULL &&
                    strstr(line, "10000 rather than") == NULL)
                    snprintf(hit, sizeof hit, "line %zu: %s", number, line);
        }
        tap_ok(in != NULL && hit[0] == '\0',
               "%s types no default as a literal (the op table has them)%s%s",
               found.gl_pathv[f], hit[0] ? ": " : "", hit);
        if (in)
            fclose(in);
    }
    if (matched)
        globfree(&found);
}

int main(void)
{
    const char *dir = getenv("LMR_VECTORS");
    char pattern[4096];
    glob_t found;
    size_t cases = 0;
    snprintf(pattern, sizeof pattern, "%s/*.json", dir ? dir : "vectors");
    if (glob(pattern, 0, NULL, &found) != 0 || found.gl_pathc == 0) {
        printf("1..0 # SKIP no vector files match %s\n", pattern);
        globfree(&found);
        return 1; /* a suite without its vectors is a failure, not a pass */
    }
    for (size_t i = 0; i < found.gl_pathc; i++)
        if (strstr(found.gl_pathv[i], "manifest") == NULL)
            cases += check_file(found.gl_pathv[i]);
    globfree(&found);
    tap_ok(cases >= 100, "%zu cases checked (at least 100)", cases);
    tap_diag("%zu numbers compared bit for bit over %zu cases", compared, cases);
    check_no_default_literals();
    tap_done();
    return tap_exit_status();
}
