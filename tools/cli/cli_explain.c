/*
 * cli_explain.c -- see cli_explain.h. One explanation per op family. Where
 * the reference computes intermediate quantities (cli_quantities.c gathers
 * them from ref/lmr_intermediates.h), a formatter prints them and ref's
 * outputs and computes nothing; the other explainers (the lookups, the
 * sinusoid, the plain heads, param_count) write out their terms in plain
 * double arithmetic. Numbers are the shortest decimals that read back
 * exactly. The forward head variants are explained in
 * cli_explain_variants.c, the backward ops in cli_explain_grad.c and
 * cli_explain_grad_variants.c, which share the helpers of this file through
 * cli_explain_internal.h.
 */
#include "cli_explain.h"
#include "cli_explain_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lmr.h"
#include "op_table.h"

#define MAX CLI_EXPLAIN_MAX

/* Where the explanation names the statistic "scale". */
#define LAYERNORM_SCALE_NOTE                                                \
    "(the deviations of a row are divided by a scale before squaring only " \
    "when they exceed 2^500; the scale is 1 for every other row)\n"


/* ---- numbers and lists ------------------------------------------------- */

void cli_format_number(char *buf, size_t len, double value)
{
    if (isnan(value)) {
        snprintf(buf, len, "nan");
        return;
    }
    if (isinf(value)) {
        snprintf(buf, len, value > 0 ? "inf" : "-inf");
        return;
    }
    int digits = 1;
    while (digits < 17) {
        snprintf(buf, len, "%.*g", digits, value);
        if (strtod(buf, NULL) == value)
            break;
        digits++;
    }
    /* enough digits to write 10000 rather than 1e+04 (more still read back) */
    int integer_digits = value != 0.0 ? (int)floor(log10(fabs(value))) + 1 : 1;
    if (integer_digits > digits && integer_digits <= 17)
        digits = integer_digits;
    snprintf(buf, len, "%.*g", digits, value);
}

/* For use inside one printf call: num(x).text. */
number_text num(double value)
{
    number_text shown;
    cli_format_number(shown.text, sizeof shown.text, value);
    return shown;
}

size_t shown_count(size_t count)
{
    return count < MAX ? count : MAX;
}

/* [v_0, v_1, ..., (k more)] */
void put_list(FILE *out, const double *values /* (count) */, size_t count)
{
    fputc('[', out);
    for (size_t i = 0; i < shown_count(count); i++)
        fprintf(out, "%s%s", i ? ", " : "", num(values[i]).text);
    if (count > MAX)
        fprintf(out, ", ... (%zu more)", count - MAX);
    fputc(']', out);
}

/* a + b - c ... = sum, summing every term in order; returns the sum. */
double put_sum(FILE *out, const double *terms /* (count) */, size_t count)
{
    double sum = 0.0;
    for (size_t i = 0; i < count; i++) {
        sum += terms[i];
        if (i > 0 && i < MAX && signbit(terms[i]) && !isnan(terms[i]))
            fprintf(out, " - %s", num(-terms[i]).text);
        else if (i < MAX)
            fprintf(out, "%s%s", i ? " + " : "", num(terms[i]).text);
    }
    if (count > MAX)
        fprintf(out, " + ... (%zu more terms)", count - MAX);
    fprintf(out, "%s = %s", count ? "" : "0", num(sum).text);
    return sum;
}

void put_more_rows(FILE *out, size_t count, const char *what)
{
    if (count > MAX)
        fprintf(out, "... (%zu more %s)\n", count - MAX, what);
}

/* ---- reading the accepted case ----------------------------------------- */

const vec_array *input(const vec_case *c, const char *name)
{
    return vec_case_input(c, name);
}

/* A vecio context for reading the params of case c of file. */
static vec_ctx param_context(const vec_file *file, const vec_case *c,
                             char *message /* (VEC_ERRLEN) */)
{
    vec_ctx ctx = {file, c, message, VEC_ERRLEN};
    return ctx;
}

double param_double(const vec_file *file, const vec_case *c, const char *name)
{
    char message[VEC_ERRLEN];
    vec_ctx ctx = param_context(file, c, message);
    double value;
    return op_param_double(&ctx, name, &value) == 0 ? value : NAN;
}

int64_t param_int64(const vec_file *file, const vec_case *c, const char *name)
{
    char message[VEC_ERRLEN];
    vec_ctx ctx = param_context(file, c, message);
    int64_t value;
    return op_param_int64(&ctx, name, &value) == 0 ? value : 0;
}

int param_bool(const vec_file *file, const vec_case *c, const char *name)
{
    char message[VEC_ERRLEN];
    vec_ctx ctx = param_context(file, c, message);
    int value;
    return op_param_bool(&ctx, name, &value) == 0 ? value : 0;
}

const char *param_string(const vec_file *file, const vec_case *c,
                         const char *name)
{
    char message[VEC_ERRLEN];
    vec_ctx ctx = param_context(file, c, message);
    const char *value;
    return op_param_word(&ctx, name, &value) == 0 ? value : "";
}

/* calloc of count doubles (at least one), or NULL after a note. */
double *scratch(FILE *out, size_t count)
{
    double *buffer = calloc(count ? count : 1, sizeof(double));
    if (buffer == NULL)
        fprintf(out, "(out of memory for the explanation)\n");
    return buffer;
}

/* ---- what a formatter prints from ---------------------------------------- */

const double *quantity(const explained *e, const char *name)
{
    return cli_quantity_values(e->q, name);
}

const double *output_f64(const explained *e, const char *name)
{
    return ref_result_output(e->result, name)->f64;
}

const int64_t *output_i64(const explained *e, const char *name)
{
    return ref_result_output(e->result, name)->i64;
}

void put_terms(FILE *out, const double *terms /* (count) */,
                      size_t count)
{
    for (size_t i = 0; i < shown_count(count); i++) {
        if (i > 0 && signbit(terms[i]) && !isnan(terms[i]))
            fprintf(out, " - %s", num(-terms[i]).text);
        else
            fprintf(out, "%s%s", i ? " + " : "", num(terms[i]).text);
    }
    if (count > MAX)
        fprintf(out, " + ... (%zu more terms)", count - MAX);
    if (count == 0)
        fputc('0', out);
}

void reference_softmax(const double *u, size_t vocab, double tau, double *p)
{
    if (lmr_softmax(lmr_mat_out_of(p, 1, vocab), lmr_mat_of(u, 1, vocab), tau) !=
        LMR_OK)
        for (size_t i = 0; i < vocab; i++)
            p[i] = NAN;
}

/* ---- lookups: embed_lookup, embed_onehot, pos_learned ------------------ */

static void explain_row_copy(FILE *out, const char *table_name,
                             const double *table /* (rows, d) */, size_t d,
                             const char *index_name, const int64_t *indices /* (n) */,
                             size_t n)
{
    fprintf(out, "Y[t,:] = %s[%s_t,:]: a copy of one row, no arithmetic\n",
            table_name, index_name);
    for (size_t t = 0; t < shown_count(n); t++) {
        fprintf(out, "t = %zu: %s = %" PRId64 ", Y[%zu,:] = %s[%" PRId64 ",:] = ",
                t, index_name, indices[t], t, table_name, indices[t]);
        put_list(out, table + (size_t)indices[t] * d, d);
        fputc('\n', out);
    }
    put_more_rows(out, n, "rows");
}

static void explain_lookup(FILE *out, const vec_file *file, const vec_case *c)
{
    const vec_array *E = input(c, "E"), *ids = input(c, "ids");
    (void)file;
    explain_row_copy(out, "E", E->f64, E->shape[1], "w", ids->i64, ids->count);
}

static void explain_pos_learned(FILE *out, const vec_file *file,
                                const vec_case *c)
{
    const vec_array *P = input(c, "P"), *positions = input(c, "positions");
    (void)file;
    explain_row_copy(out, "P", P->f64, P->shape[1], "p", positions->i64,
                     positions->count);
}

static void explain_onehot(FILE *out, const vec_file *file, const vec_case *c)
{
    const vec_array *onehot = input(c, "onehot"), *E = input(c, "E");
    size_t n = onehot->shape[0], vocab = onehot->shape[1], d = E->shape[1];
    (void)file;
    fprintf(out, "Y[t,j] = sum_v O[t,v] E[v,j]: row t of O has one 1, at column "
            "w_t, so the sum has one non-zero term and Y[t,:] = E[w_t,:] exactly\n");
    for (size_t t = 0; t < shown_count(n); t++) {
        size_t hot = 0;
        while (hot + 1 < vocab && onehot->f64[t * vocab + hot] != 1.0)
            hot++;
        fprintf(out, "t = %zu: O[%zu,%zu] = 1, Y[%zu,:] = E[%zu,:] = ", t, t,
                hot, t, hot);
        put_list(out, E->f64 + hot * d, d);
        fputc('\n', out);
    }
    put_more_rows(out, n, "rows");
}

/* ---- pos_sinusoid and compose ------------------------------------------ */

static double frequency(size_t pair, size_t d, double base)
{
    return pow(base, -2.0 * (double)pair / (double)d);
}

static double sinusoid_value(int64_t p, size_t j, size_t d, double base)
{
    double theta = (double)p * frequency(j / 2, d, base);
    return j % 2 ? cos(theta) : sin(theta);
}

static void explain_frequencies(FILE *out, size_t d, double base)
{
    size_t pairs = (d + 1) / 2;
    fprintf(out, "omega_i = base^(-2i/d) with base = %s, d = %zu; column 2i is "
            "sin(p omega_i), column 2i+1 is cos(p omega_i)\n", num(base).text, d);
    for (size_t i = 0; i < shown_count(pairs); i++)
        fprintf(out, "  i = %zu: omega_%zu = %s^(-%zu/%zu) = %s\n", i, i,
                num(base).text, 2 * i, d, num(frequency(i, d, base)).text);
    if (pairs > MAX)
        fprintf(out, "  ... (%zu more pairs)\n", pairs - MAX);
}

static void explain_sinusoid_row(FILE *out, int64_t p, size_t d, double base)
{
    fprintf(out, "p = %" PRId64 ":\n", p);
    for (size_t j = 0; j < shown_count(d); j++) {
        double omega = frequency(j / 2, d, base), theta = (double)p * omega;
        fprintf(out, "  j = %zu: i = %zu, theta = p omega_%zu = %" PRId64
                " * %s = %s, %s(theta) = %s\n", j, j / 2, j / 2, p,
                num(omega).text, num(theta).text, j % 2 ? "cos" : "sin",
                num(sinusoid_value(p, j, d, base)).text);
    }
    if (d > MAX)
        fprintf(out, "  ... (%zu more columns)\n", d - MAX);
}

static void explain_sinusoid(FILE *out, const vec_file *file, const vec_case *c)
{
    const vec_array *positions = input(c, "positions");
    size_t d = (size_t)param_int64(file, c, "d");
    double base = param_double(file, c, "base");
    explain_frequencies(out, d, base);
    for (size_t t = 0; t < shown_count(positions->count); t++)
        explain_sinusoid_row(out, positions->i64[t], d, base);
    put_more_rows(out, positions->count, "positions");
}

/* How compose reads its position term. */
typedef struct {
    int learned;
    const vec_array *table; /* learned: P (L, d) */
    double base;            /* sinusoid */
    int64_t start;
    int scaled;             /* scale_by_sqrt_d */
    double scale;           /* c */
} compose_terms;

static compose_terms read_compose_terms(const vec_file *file, const vec_case *c,
                                        size_t d)
{
    compose_terms terms;
    terms.learned = strcmp(param_string(file, c, "positions"), "learned") == 0;
    terms.table = input(c, "P");
    terms.base = param_double(file, c, "base");
    terms.start = param_int64(file, c, "start");
    terms.scaled = param_bool(file, c, "scale_by_sqrt_d");
    terms.scale = terms.scaled ? sqrt((double)d) : 1.0;
    return terms;
}

static void explain_compose_header(FILE *out, const compose_terms *terms,
                                   size_t d)
{
    fprintf(out, "X[t,:] = c E[w_t,:] + P(start + t)\n");
    if (terms->scaled)
        fprintf(out, "c = sqrt(d) = sqrt(%zu) = %s (scale_by_sqrt_d)\n", d,
                num(terms->scale).text);
    else
        fprintf(out, "c = 1 (scale_by_sqrt_d is false)\n");
    if (terms->learned)
        fprintf(out, "P(p) = row p of the learned table P; start = %" PRId64 "\n",
                terms->start);
    else
        fprintf(out, "P(p) = the sinusoidal encoding at p, base %s (lmr "
                "pos_sinusoid --explain shows its steps); start = %" PRId64 "\n",
                num(terms->base).text, terms->start);
}

/* Prints row t of X: c E[w], P(p), and X[t,:] = x (d), the reference's. */
static void explain_compose_row(FILE *out, const compose_terms *terms,
                                const double *E /* (vocab, d) */, int64_t w,
                                size_t t, size_t d, const double *x /* (d) */,
                                double *scratch_row /* (d) */)
{
    int64_t p = terms->start + (int64_t)t;
    fprintf(out, "t = %zu: w = %" PRId64 ", p = start + t = %" PRId64 "\n", t, w, p);
    fprintf(out, "  c E[%" PRId64 ",:] = %s * ", w, num(terms->scale).text);
    put_list(out, E + (size_t)w * d, d);
    for (size_t j = 0; j < d; j++) /* for reading: one product per entry */
        scratch_row[j] = terms->scale * E[(size_t)w * d + j];
    fprintf(out, " = ");
    put_list(out, scratch_row, d);
    for (size_t j = 0; j < d; j++)
        scratch_row[j] = terms->learned ? terms->table->f64[(size_t)p * d + j]
                                        : sinusoid_value(p, j, d, terms->base);
    fprintf(out, "\n  P(%" PRId64 ") = ", p);
    put_list(out, scratch_row, d);
    fprintf(out, "\n  X[%zu,:] = c E[w] + P(p) = ", t);
    put_list(out, x, d);
    fputc('\n', out);
}

static void explain_layernorm_row(FILE *out, const explained *e, size_t t,
                                  const double *x /* (d) */, size_t d,
                                  const double *y /* (d) */, double eps);

/* compose (X is its output Y) and compose_layernorm (X is the reference's
 * composite, then its LayerNorm into Y). */
static void format_compose(FILE *out, const explained *e)
{
    int then_layernorm = strcmp(e->file->op, "compose_layernorm") == 0;
    const vec_array *E = input(e->c, "E"), *ids = input(e->c, "ids");
    size_t d = E->shape[1];
    compose_terms terms = read_compose_terms(e->file, e->c, d);
    const double *Y = output_f64(e, "Y");
    const double *X = then_layernorm ? quantity(e, "X") : Y;
    double *scratch_row = scratch(out, d);
    explain_compose_header(out, &terms, d);
    if (then_layernorm)
        fputs(LAYERNORM_SCALE_NOTE, out);
    for (size_t t = 0; scratch_row && t < shown_count(ids->count); t++) {
        explain_compose_row(out, &terms, E->f64, ids->i64[t], t, d,
                            X + t * d, scratch_row);
        if (then_layernorm) {
            fprintf(out, "  LayerNorm of X[%zu,:]:\n", t);
            explain_layernorm_row(out, e, t, X + t * d, d, Y + t * d,
                                  param_double(e->file, e->c, "eps"));
        }
    }
    put_more_rows(out, ids->count, "rows");
    free(scratch_row);
}

/* ---- layernorm ------------------------------------------------------------ */

/* Row t's statistics, as the reference computed them. */
static lmr_layernorm_row layernorm_row_of(const explained *e, size_t t)
{
    lmr_layernorm_row row = {quantity(e, "mu")[t], quantity(e, "var")[t],
                             quantity(e, "scale")[t], quantity(e, "r")[t]};
    return row;
}

/* The variance and r of row t: var + eps = s^2 (var' + eps/s^2) when the
 * reference rescaled the deviations by s. */
static void explain_variance(FILE *out, const lmr_layernorm_row *row,
                             double eps)
{
    if (row->scale == 1.0) {
        fprintf(out, "  var = (1/d) sum_j (x_j - mu)^2 = %s   (biased: "
                "divided by d)\n", num(row->variance).text);
        fprintf(out, "  r = 1/sqrt(var + eps) = 1/sqrt(%s + %s) = %s\n",
                num(row->variance).text, num(eps).text, num(row->inv_std).text);
        return;
    }
    fprintf(out, "  the deviations exceed 2^500 and would overflow when "
            "squared: scaled by s = max_j |x_j - mu| = %s\n"
            "  var = (1/d) sum_j ((x_j - mu)/s)^2 = %s   (biased; the true "
            "variance is s^2 var)\n"
            "  r = 1/sqrt(s^2 var + eps) = 1/(s sqrt(var + eps/s^2)) = %s\n",
            num(row->scale).text, num(row->variance).text,
            num(row->inv_std).text);
}

/* Row t of a LayerNorm: x (d) in, y (d) the reference's output. */
static void explain_layernorm_row(FILE *out, const explained *e, size_t t,
                                  const double *x /* (d) */, size_t d,
                                  const double *y /* (d) */, double eps)
{
    lmr_layernorm_row row = layernorm_row_of(e, t);
    const double *gamma = input(e->c, "gamma")->f64;
    const double *beta = input(e->c, "beta")->f64;
    double *z = scratch(out, d);
    if (z == NULL)
        return;
    fprintf(out, "  mu = (1/d) sum_j x_j = (");
    put_terms(out, x, d);
    fprintf(out, ") / %zu = %s\n", d, num(row.mean).text);
    explain_variance(out, &row, eps);
    for (size_t j = 0; j < d; j++)
        z[j] = lmr_layernorm_normalised(x[j], &row);
    fprintf(out, "  z_j = (x_j - mu) r = ");
    put_list(out, z, d);
    fprintf(out, "\n  y_j = gamma_j z_j + beta_j:\n");
    for (size_t j = 0; j < shown_count(d); j++)
        fprintf(out, "    y_%zu = (%s)(%s) + (%s) = %s\n", j,
                num(gamma[j]).text, num(z[j]).text, num(beta[j]).text,
                num(y[j]).text);
    if (d > MAX)
        fprintf(out, "    ... (%zu more columns)\n", d - MAX);
    free(z);
}

static void format_layernorm(FILE *out, const explained *e)
{
    const vec_array *x = input(e->c, "x");
    size_t n = x->shape[0], d = x->shape[1];
    double eps = param_double(e->file, e->c, "eps");
    const double *Y = output_f64(e, "Y");
    fprintf(out, "per row x: mu = mean, var = biased variance, r = "
            "1/sqrt(var + eps), y = gamma (x - mu) r + beta; eps = %s\n%s",
            num(eps).text, LAYERNORM_SCALE_NOTE);
    for (size_t t = 0; t < shown_count(n); t++) {
        fprintf(out, "row %zu: x = ", t);
        put_list(out, x->f64 + t * d, d);
        fputc('\n', out);
        explain_layernorm_row(out, e, t, x->f64 + t * d, d, Y + t * d, eps);
    }
    put_more_rows(out, n, "rows");
}

/* ---- the head -------------------------------------------------------------- */

/* One logit as the sum of its products. The weight of (j, v) is E[v,j]
 * (tied, W is E) or W[j,v] (untied, W is d x vocab). */
static void explain_logit(FILE *out, size_t t, size_t v,
                          const double *h_row /* (d) */, const double *W,
                          int untied, const double *bias /* (vocab) or NULL */,
                          size_t vocab, size_t d)
{
    double sum = 0.0;
    fprintf(out, "u[%zu,%zu] =", t, v);
    for (size_t j = 0; j < d; j++) {
        double weight = untied ? W[j * vocab + v] : W[v * d + j];
        sum += h_row[j] * weight;
        if (j < MAX)
            fprintf(out, "%s (%s)(%s)", j ? " +" : "", num(h_row[j]).text,
                    num(weight).text);
    }
    if (d > MAX)
        fprintf(out, " + ... (%zu more terms)", d - MAX);
    if (bias != NULL) {
        sum += bias[v];
        fprintf(out, " + (%s)", num(bias[v]).text);
    }
    fprintf(out, " = %s\n", num(sum).text);
}

static void explain_head(FILE *out, const vec_file *file, const vec_case *c)
{
    int untied = strcmp(file->op, "head_untied") == 0;
    const vec_array *h = input(c, "h"), *W = input(c, untied ? "W" : "E");
    const vec_array *b = untied ? input(c, "b") : NULL;
    size_t n = h->shape[0], d = h->shape[1];
    size_t vocab = untied ? W->shape[1] : W->shape[0];
    if (untied)
        fprintf(out, "u[t,v] = sum_j h[t,j] W[j,v]%s: the products of h[t,:] "
                "with column v of W%s\n", b ? " + b[v]" : "",
                b ? ", then the bias" : "");
    else
        fprintf(out, "u[t,v] = sum_j h[t,j] E[v,j]: the dot product of h[t,:] "
                "with row v of E, the embedding of token v\n");
    for (size_t t = 0; t < shown_count(n); t++) {
        for (size_t v = 0; v < shown_count(vocab); v++)
            explain_logit(out, t, v, h->f64 + t * d, W->f64, untied,
                          b ? b->f64 : NULL, vocab, d);
        put_more_rows(out, vocab, "logits in this row");
    }
    put_more_rows(out, n, "rows");
}

/* ---- softmax, log_softmax, cross_entropy ------------------------------------ */

/* Prints row t's a, z = (u - a)/tau, exp(z) and S, the reference's. */
static void explain_softmax_steps(FILE *out, const explained *e, size_t t,
                                  size_t vocab, double tau)
{
    const double *z = quantity(e, "z") + t * vocab;
    const double *exps = quantity(e, "exp(z_i)") + t * vocab;
    fprintf(out, "  a = max_j u_j = %s\n", num(quantity(e, "a")[t]).text);
    if (tau != 1.0)
        fprintf(out, "  z_i = (u_i - a) / tau, tau = %s: ", num(tau).text);
    else
        fprintf(out, "  z_i = (u_i - a) / tau = u_i - a (tau = 1): ");
    put_list(out, z, vocab);
    fprintf(out, "\n  exp(z_i) = ");
    put_list(out, exps, vocab);
    fprintf(out, "\n  S = sum_j exp(z_j) = ");
    put_terms(out, exps, vocab);
    fprintf(out, " = %s\n", num(quantity(e, "S")[t]).text);
}

static void explain_divisions(FILE *out, const explained *e, size_t t,
                              size_t vocab)
{
    const double *exps = quantity(e, "exp(z_i)") + t * vocab;
    const double *y = output_f64(e, "probs") + t * vocab;
    double S = quantity(e, "S")[t];
    fprintf(out, "  y_i = exp(z_i) / S:\n");
    for (size_t i = 0; i < shown_count(vocab); i++)
        fprintf(out, "    y_%zu = %s / %s = %s\n", i, num(exps[i]).text,
                num(S).text, num(y[i]).text);
    if (vocab > MAX)
        fprintf(out, "    ... (%zu more)\n", vocab - MAX);
}

static void explain_logs(FILE *out, const explained *e, size_t t, size_t vocab)
{
    const double *z = quantity(e, "z") + t * vocab;
    const double *log_y = output_f64(e, "logprobs") + t * vocab;
    double S = quantity(e, "S")[t], log_S = quantity(e, "log S")[t];
    fprintf(out, "  log S = log(%s) = %s\n  log y_i = z_i - log S:\n",
            num(S).text, num(log_S).text);
    for (size_t i = 0; i < shown_count(vocab); i++)
        fprintf(out, "    log y_%zu = %s - %s = %s\n", i, num(z[i]).text,
                num(log_S).text, num(log_y[i]).text);
    if (vocab > MAX)
        fprintf(out, "    ... (%zu more)\n", vocab - MAX);
}

static void format_softmax(FILE *out, const explained *e)
{
    int take_log = strcmp(e->file->op, "log_softmax") == 0;
    const vec_array *logits = input(e->c, "logits");
    size_t n = logits->shape[0], vocab = logits->shape[1];
    double tau = param_double(e->file, e->c, "tau");
    fprintf(out, "per row u: subtract the maximum a, divide by tau, "
            "exponentiate, %s\n", take_log ? "then log y_i = z_i - log S"
                                           : "then divide by the sum S");
    for (size_t t = 0; t < shown_count(n); t++) {
        fprintf(out, "row %zu: u = ", t);
        put_list(out, logits->f64 + t * vocab, vocab);
        fputc('\n', out);
        explain_softmax_steps(out, e, t, vocab, tau);
        if (take_log)
            explain_logs(out, e, t, vocab);
        else
            explain_divisions(out, e, t, vocab);
    }
    put_more_rows(out, n, "rows");
}

/* The loss of position t, from the reference's statistics. */
static void explain_position_loss(FILE *out, const explained *e, size_t t,
                                  const double *u /* (vocab) */, int64_t target)
{
    double a = quantity(e, "a")[t], S = quantity(e, "S")[t];
    double log_S = quantity(e, "log S")[t];
    double z_c = quantity(e, "z_c")[t];
    fprintf(out, "t = %zu: target c = %" PRId64 "\n", t, target);
    fprintf(out, "  a = max_j u_j = %s, S = sum_j exp(u_j - a) = %s, log S = %s\n",
            num(a).text, num(S).text, num(log_S).text);
    fprintf(out, "  z_c = u_c - a = %s - %s = %s\n", num(u[target]).text,
            num(a).text, num(z_c).text);
    fprintf(out, "  loss_%zu = log S - z_c = %s - %s = %s\n", t,
            num(log_S).text, num(z_c).text, num(quantity(e, "loss")[t]).text);
}

/* The reduction of the counted losses into the reference's loss. */
static void explain_reduction(FILE *out, const explained *e,
                              const char *reduction, const int64_t *targets,
                              size_t n, int64_t ignore_index)
{
    const double *losses = quantity(e, "loss");
    size_t count = (size_t)quantity(e, "count")[0], m = 0;
    double *counted = scratch(out, count);
    if (strcmp(reduction, "none") == 0 || counted == NULL) {
        fprintf(out, "reduction none: one loss per position (0 where ignored), "
                "%zu positions, count = %zu counted\n", n, count);
        free(counted);
        return;
    }
    for (size_t t = 0; t < n; t++)
        if (targets[t] != ignore_index)
            counted[m++] = losses[t];
    double loss = output_f64(e, "loss")[0];
    if (strcmp(reduction, "mean") == 0) {
        fprintf(out, "reduction mean: mean = sum / count = (");
        put_terms(out, counted, count);
        fprintf(out, ") / %zu = %s\n", count, num(loss).text);
    } else {
        fprintf(out, "reduction %s: sum over the %zu counted positions = ",
                reduction, count);
        put_terms(out, counted, count);
        fprintf(out, " = %s\n", num(loss).text);
    }
    free(counted);
}

static void format_cross_entropy(FILE *out, const explained *e)
{
    const vec_array *logits = input(e->c, "logits"),
                    *targets = input(e->c, "targets");
    size_t n = logits->shape[0], vocab = logits->shape[1];
    int64_t ignore_index = param_int64(e->file, e->c, "ignore_index");
    const char *reduction = param_string(e->file, e->c, "reduction");
    fprintf(out, "loss_t = -log y_{c_t} = log S - z_c, z_c = u_{c_t} - max u "
            "(natural log, tau = 1); ignore_index = %" PRId64 "\n", ignore_index);
    for (size_t t = 0; t < shown_count(n); t++) {
        int64_t target = targets->i64[t];
        if (target == ignore_index)
            fprintf(out, "t = %zu: target %" PRId64 " = ignore_index: not "
                    "counted\n", t, target);
        else
            explain_position_loss(out, e, t, logits->f64 + t * vocab, target);
    }
    put_more_rows(out, n, "positions (in the sum below, not shown)");
    explain_reduction(out, e, reduction, targets->i64, n, ignore_index);
}

/* ---- argmax and sample ------------------------------------------------------ */

/* The ranking of row t (quantity "ranking", (n, vocab)), with each token's
 * logit and, when p is not NULL, its probability p (vocab). */
static void put_ranking(FILE *out, const explained *e, size_t t,
                        const double *u /* (vocab) */, size_t vocab,
                        const double *p /* (vocab) or NULL */)
{
    const double *ranking = quantity(e, "ranked") + t * vocab;
    size_t count = (size_t)quantity(e, "unmasked")[t];
    fprintf(out, "  ranked by decreasing logit, ties to the lower index:");
    for (size_t m = 0; m < shown_count(count); m++) {
        size_t token = (size_t)ranking[m];
        fprintf(out, "%s %zu (u = %s", m ? "," : "", token, num(u[token]).text);
        if (p != NULL)
            fprintf(out, ", p = %s", num(p[token]).text);
        fputc(')', out);
    }
    if (count > MAX)
        fprintf(out, ", ... (%zu more)", count - MAX);
    fprintf(out, "; %zu unmasked\n", count);
}

static void format_argmax(FILE *out, const explained *e)
{
    const vec_array *logits = input(e->c, "logits");
    size_t n = logits->shape[0], vocab = logits->shape[1];
    const int64_t *token = output_i64(e, "token");
    fprintf(out, "token = the first of the ranking: the smallest index with "
            "the largest logit\n");
    for (size_t t = 0; t < shown_count(n); t++) {
        fprintf(out, "row %zu:\n", t);
        put_ranking(out, e, t, logits->f64 + t * vocab, vocab, NULL);
        fprintf(out, "  token = %" PRId64 "\n", token[t]);
    }
    put_more_rows(out, n, "rows");
}

/* Top-k of row t: how many ranked tokens it keeps. */
static void explain_top_k(FILE *out, const explained *e, size_t t,
                          size_t vocab, int64_t top_k)
{
    const double *ranking = quantity(e, "ranked") + t * vocab;
    size_t ranked = (size_t)quantity(e, "unmasked")[t];
    size_t kept = (size_t)quantity(e, "top-k")[t];
    const char *mass = num(quantity(e, "top-k sum")[t]).text;
    if (kept == ranked) {
        fprintf(out, "  top-k: %s, keep all %zu unmasked tokens (top-k sum "
                "%s)\n", top_k == 0 ? "off (top_k = 0)" : "top_k >= their "
                "number", ranked, mass);
        return;
    }
    fprintf(out, "  top-k: keep the first %zu of the ranking:", kept);
    for (size_t m = 0; m < shown_count(kept); m++)
        fprintf(out, " %zu", (size_t)ranking[m]);
    fprintf(out, "%s (top-k sum %s)\n", kept > MAX ? " ..." : "", mass);
}

/* Top-p of row t over the tokens top-k kept: the shortest prefix whose
 * renormalised cumulative probability reaches top_p. */
static void explain_top_p(FILE *out, const explained *e, size_t t,
                          size_t vocab, double top_p)
{
    const double *ranking = quantity(e, "ranked") + t * vocab;
    const double *p = quantity(e, "p") + t * vocab;
    const double *cumulative = quantity(e, "cumulative") + t * vocab;
    size_t kept = (size_t)quantity(e, "kept")[t];
    if (top_p >= 1.0) {
        fprintf(out, "  top-p: off (top_p = 1), no cumulative sum\n");
        return;
    }
    fprintf(out, "  top-p: renormalise the kept probabilities by the top-k "
            "sum, keep the shortest prefix with cumulative >= top_p = %s:\n",
            num(top_p).text);
    for (size_t m = 0; m < kept; m++) {
        int enough = cumulative[m] >= top_p;
        size_t token = (size_t)ranking[m];
        if (m < MAX || m + 1 == kept)
            fprintf(out, "    %stoken %zu: p = %s, cumulative %s %s top_p%s\n",
                    m >= MAX ? "... " : "", token, num(p[token]).text,
                    num(cumulative[m]).text, enough ? ">=" : "<",
                    enough ? ": stop" : "");
    }
}

/* The inverse CDF of row t: the C_i up to the token. */
static void explain_inverse_cdf(FILE *out, const explained *e, size_t t,
                                size_t vocab, double r)
{
    const double *C = quantity(e, "C") + t * vocab;
    size_t token = (size_t)quantity(e, "token")[t];
    fprintf(out, "  CDF in index order, C_i = q_0 + ... + q_i:");
    for (size_t i = 0; i <= token && i < MAX; i++)
        fprintf(out, " C_%zu = %s", i, num(C[i]).text);
    if (!(r < C[token])) {
        fprintf(out, "%s\n  r = %s is not below C_%zu = %s (the kept "
                "probabilities sum to just below 1): the last kept token, "
                "%zu\n", token >= MAX ? " ..." : "", num(r).text, token,
                num(C[token]).text, token);
        return;
    }
    char left[32] = "0";
    if (token > 0)
        snprintf(left, sizeof left, "C_%zu", token - 1);
    fprintf(out, "%s\n  r = %s falls in [%s, C_%zu) = [%s, %s): the smallest "
            "i with r < C_i is %zu: token = %zu\n", token >= MAX ? " ..." : "",
            num(r).text, left, token, num(token > 0 ? C[token - 1] : 0.0).text,
            num(C[token]).text, token, token);
}

static void explain_sample_row(FILE *out, const explained *e, size_t t,
                               const double *u /* (vocab) */, size_t vocab,
                               double r)
{
    const double *p = quantity(e, "p") + t * vocab;
    size_t kept = (size_t)quantity(e, "kept")[t];
    fprintf(out, "  p = softmax(u / tau) = ");
    put_list(out, p, vocab);
    fputc('\n', out);
    put_ranking(out, e, t, u, vocab, p);
    explain_top_k(out, e, t, vocab, param_int64(e->file, e->c, "top_k"));
    explain_top_p(out, e, t, vocab, param_double(e->file, e->c, "top_p"));
    fprintf(out, "  kept: %zu token%s; q_i = p_i / %s (the kept sum), 0 "
            "elsewhere: q = ", kept, kept == 1 ? "" : "s",
            num(quantity(e, "kept sum")[t]).text);
    put_list(out, quantity(e, "q") + t * vocab, vocab);
    fputc('\n', out);
    explain_inverse_cdf(out, e, t, vocab, r);
}

static void format_sample(FILE *out, const explained *e)
{
    const vec_array *logits = input(e->c, "logits"), *r = input(e->c, "r");
    size_t n = logits->shape[0], vocab = logits->shape[1];
    fprintf(out, "temperature, then top-k, then top-p, renormalise, then the "
            "inverse CDF in index order; tau = %s, top_k = %" PRId64
            ", top_p = %s\n", num(param_double(e->file, e->c, "tau")).text,
            param_int64(e->file, e->c, "top_k"),
            num(param_double(e->file, e->c, "top_p")).text);
    for (size_t t = 0; t < shown_count(n); t++) {
        fprintf(out, "row %zu: r = %s\n", t, num(r->f64[t]).text);
        explain_sample_row(out, e, t, logits->f64 + t * vocab, vocab,
                           r->f64[t]);
    }
    put_more_rows(out, n, "rows");
}

/* ---- logit_lens and param_count --------------------------------------------- */

/* Row `row` (layer l, position t) of the lens; x (d) is its hidden state. */
static void explain_lens_row(FILE *out, const explained *e, size_t row,
                             const double *x /* (d) */, size_t d, size_t vocab,
                             size_t top_k)
{
    const double *normalised = quantity(e, "x") + row * d;
    const int64_t *tokens = output_i64(e, "top_tokens") + row * top_k;
    const double *top = output_f64(e, "top_probs") + row * top_k;
    if (param_bool(e->file, e->c, "final_layernorm")) {
        explain_layernorm_row(out, e, row, x, d, normalised,
                              param_double(e->file, e->c, "eps"));
        fprintf(out, "  x = LayerNorm(x) = ");
        put_list(out, normalised, d);
        fputc('\n', out);
    }
    fprintf(out, "  u = x E^T = ");
    put_list(out, quantity(e, "u") + row * vocab, vocab);
    fprintf(out, "\n  probs = softmax(u) = ");
    put_list(out, output_f64(e, "probs") + row * vocab, vocab);
    fprintf(out, "\n  top %zu:", top_k);
    for (size_t m = 0; m < shown_count(top_k); m++)
        fprintf(out, "%s %" PRId64 " (p = %s)", m ? "," : "", tokens[m],
                num(top[m]).text);
    fprintf(out, "%s\n", top_k > MAX ? ", ..." : "");
}

static void format_lens(FILE *out, const explained *e)
{
    const vec_array *hidden = input(e->c, "hidden"), *E = input(e->c, "E");
    size_t n = hidden->shape[1], d = hidden->shape[2], rows = hidden->shape[0] * n;
    size_t vocab = E->shape[0];
    size_t top_k = (size_t)param_int64(e->file, e->c, "k");
    int final_layernorm = param_bool(e->file, e->c, "final_layernorm");
    fprintf(out, "for each layer l and position t: x = H[l,t,:]%s, u = x E^T, "
            "probs = softmax(u), the top %zu tokens by logit\n%s",
            final_layernorm ? ", x = LayerNorm(x)" : "", top_k,
            final_layernorm ? LAYERNORM_SCALE_NOTE : "");
    for (size_t row = 0; row < shown_count(rows); row++) {
        fprintf(out, "layer %zu, position %zu: x = ", row / n, row % n);
        put_list(out, hidden->f64 + row * d, d);
        fputc('\n', out);
        explain_lens_row(out, e, row, hidden->f64 + row * d, d, vocab, top_k);
    }
    put_more_rows(out, rows, "(layer, position) pairs");
}

static void explain_param_count(FILE *out, const vec_file *file,
                                const vec_case *c)
{
    int64_t vocab = param_int64(file, c, "vocab");
    int64_t d = param_int64(file, c, "d");
    int64_t blocks = param_int64(file, c, "block_params");
    int64_t table = vocab * d; /* fits: the reference accepted the counts */
    int64_t untied = 2 * table + blocks, tied = table + blocks;
    fprintf(out, "|V| d = %" PRId64 " * %" PRId64 " = %" PRId64 "\n", vocab, d,
            table);
    fprintf(out, "untied = |V|d + B + |V|d = %" PRId64 " + %" PRId64 " + %" PRId64
            " = %" PRId64 "\n", table, blocks, table, untied);
    fprintf(out, "tied = |V|d + B = %" PRId64 " + %" PRId64 " = %" PRId64 "\n",
            table, blocks, tied);
    fprintf(out, "saving = untied - tied = |V|d = %" PRId64 "\n", table);
    fprintf(out, "relative = saving / untied = %" PRId64 " / %" PRId64 " = %s\n",
            table, untied, num((double)table / (double)untied).text);
}

/* ---- dispatch ---------------------------------------------------------------- */

/* The forward ops of this file: an explainer, or a formatter (which prints
 * the reference's intermediates and outputs). */
static const struct {
    const char *op;
    explainer explain;
    formatter format;
} explainers[] = {
    {"embed_lookup", explain_lookup, NULL},
    {"embed_onehot", explain_onehot, NULL},
    {"pos_learned", explain_pos_learned, NULL},
    {"pos_sinusoid", explain_sinusoid, NULL},
    {"compose", NULL, format_compose},
    {"layernorm", NULL, format_layernorm},
    {"compose_layernorm", NULL, format_compose},
    {"head_tied", explain_head, NULL},
    {"head_untied", explain_head, NULL},
    {"softmax", NULL, format_softmax},
    {"log_softmax", NULL, format_softmax},
    {"cross_entropy", NULL, format_cross_entropy},
    {"argmax", NULL, format_argmax},
    {"sample", NULL, format_sample},
    {"logit_lens", NULL, format_lens},
    {"param_count", explain_param_count, NULL},
};

/* The formatter of op, from whichever file has it, or NULL. */
static formatter find_formatter(const char *op)
{
    for (size_t i = 0; i < sizeof explainers / sizeof explainers[0]; i++)
        if (strcmp(explainers[i].op, op) == 0)
            return explainers[i].format;
    return cli_explain_variants_formatter(op);
}

/* The explainer of op, from whichever file has it, or NULL. */
static explainer find_explainer(const char *op)
{
    for (size_t i = 0; i < sizeof explainers / sizeof explainers[0]; i++)
        if (strcmp(explainers[i].op, op) == 0)
            return explainers[i].explain;
    explainer other = cli_explain_variants_find(op);
    if (other == NULL)
        other = cli_explain_attention_find(op);
    if (other == NULL)
        other = cli_explain_pca_find(op);
    return other != NULL ? other : cli_explain_grad_find(op);
}

int cli_explain_known(const char *op)
{
    return find_formatter(op) != NULL || find_explainer(op) != NULL;
}

/* The heading every explanation starts with. */
static void put_heading(FILE *out, const char *op)
{
    fprintf(out, "\nexplanation of %s, for study; numbers are the shortest "
            "decimals that read back exactly, at most %d entries or terms are "
            "shown.\n%s\n", op, MAX,
            cli_explain_has_quantities(op)
                ? "Its intermediate quantities and results are the reference's "
                  "own (ref/lmr_intermediates.h), bit for bit."
                : "Sums of products are written out and added in plain double "
                  "arithmetic, for reading -- not an expected value: the "
                  "outputs above, from ref/, are.");
}

int cli_explain_from(FILE *out, const vec_file *file, const vec_case *c,
                     const ref_result *result, const cli_quantities *q)
{
    put_heading(out, file->op);
    formatter format = find_formatter(file->op);
    if (format != NULL) {
        explained e = {file, c, result, q};
        format(out, &e);
        return 0;
    }
    explainer explain = find_explainer(file->op);
    if (explain == NULL) {
        fprintf(out, "(no explanation for %s)\n", file->op);
        return -1;
    }
    explain(out, file, c);
    return 0;
}

int cli_explain(FILE *out, const vec_file *file, const vec_case *c,
                const ref_result *result)
{
    cli_quantities q;
    if (cli_explain_quantities(&q, file, c) != 0) {
        put_heading(out, file->op);
        fprintf(out, "(out of memory for the explanation)\n");
        return -1;
    }
    int status = cli_explain_from(out, file, c, result, &q);
    cli_quantities_free(&q);
    return status;
}
