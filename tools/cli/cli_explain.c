/*
 * cli_explain.c -- see cli_explain.h. One explainer per op family, each
 * recomputing the op's steps in plain double arithmetic from the decoded
 * case (the same inputs ref_run read) and printing them with the shortest
 * decimals that read back exactly. The forward head variants are explained
 * in cli_explain_variants.c, the backward ops in cli_explain_grad.c and
 * cli_explain_grad_variants.c, which share the helpers of this file through
 * cli_explain_internal.h.
 */
#include "cli_explain.h"
#include "cli_explain_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX CLI_EXPLAIN_MAX

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

double param_double(const vec_file *file, const vec_case *c,
                    const char *name, double fallback)
{
    char message[VEC_ERRLEN];
    vec_ctx ctx = {file, c, message, sizeof message};
    double value;
    return vec_param_double(&ctx, name, 0, fallback, &value) == 0 ? value
                                                                   : fallback;
}

int64_t param_int64(const vec_file *file, const vec_case *c,
                    const char *name, int64_t fallback)
{
    char message[VEC_ERRLEN];
    vec_ctx ctx = {file, c, message, sizeof message};
    int64_t value;
    return vec_param_int64(&ctx, name, 0, fallback, &value) == 0 ? value
                                                                  : fallback;
}

int param_bool(const vec_file *file, const vec_case *c,
               const char *name, int fallback)
{
    char message[VEC_ERRLEN];
    vec_ctx ctx = {file, c, message, sizeof message};
    int value;
    return vec_param_bool(&ctx, name, 0, fallback, &value) == 0 ? value
                                                                 : fallback;
}

const char *param_string(const vec_file *file, const vec_case *c,
                         const char *name, const char *fallback)
{
    char message[VEC_ERRLEN];
    vec_ctx ctx = {file, c, message, sizeof message};
    const char *value;
    return vec_param_string(&ctx, name, 0, fallback, &value) == 0 ? value
                                                                   : fallback;
}

/* calloc of count doubles (at least one), or NULL after a note. */
double *scratch(FILE *out, size_t count)
{
    double *buffer = calloc(count ? count : 1, sizeof(double));
    if (buffer == NULL)
        fprintf(out, "(out of memory for the explanation)\n");
    return buffer;
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
    size_t d = (size_t)param_int64(file, c, "d", 1);
    double base = param_double(file, c, "base", 10000.0);
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
    terms.learned = strcmp(param_string(file, c, "positions", ""), "learned") == 0;
    terms.table = input(c, "P");
    terms.base = param_double(file, c, "base", 10000.0);
    terms.start = param_int64(file, c, "start", 0);
    terms.scaled = param_bool(file, c, "scale_by_sqrt_d", 0);
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

/* Computes row t of X into x (d), printing c E[w], P(p) and their sum. */
static void explain_compose_row(FILE *out, const compose_terms *terms,
                                const double *E /* (vocab, d) */, int64_t w,
                                size_t t, size_t d, double *x /* (d) */,
                                double *scratch_row /* (d) */)
{
    int64_t p = terms->start + (int64_t)t;
    for (size_t j = 0; j < d; j++) {
        x[j] = terms->scale * E[(size_t)w * d + j];
        scratch_row[j] = terms->learned ? terms->table->f64[(size_t)p * d + j]
                                        : sinusoid_value(p, j, d, terms->base);
    }
    fprintf(out, "t = %zu: w = %" PRId64 ", p = start + t = %" PRId64 "\n", t, w, p);
    fprintf(out, "  c E[%" PRId64 ",:] = %s * ", w, num(terms->scale).text);
    put_list(out, E + (size_t)w * d, d);
    fprintf(out, " = ");
    put_list(out, x, d);
    fprintf(out, "\n  P(%" PRId64 ") = ", p);
    put_list(out, scratch_row, d);
    for (size_t j = 0; j < d; j++)
        x[j] += scratch_row[j];
    fprintf(out, "\n  X[%zu,:] = c E[w] + P(p) = ", t);
    put_list(out, x, d);
    fputc('\n', out);
}

static void explain_layernorm_row(FILE *out, const double *x, const double *gamma,
                                  const double *beta, size_t d, double eps);

static void explain_compose_family(FILE *out, const vec_file *file,
                                   const vec_case *c, int then_layernorm)
{
    const vec_array *E = input(c, "E"), *ids = input(c, "ids");
    size_t d = E->shape[1];
    compose_terms terms = read_compose_terms(file, c, d);
    double *x = scratch(out, d), *scratch_row = scratch(out, d);
    explain_compose_header(out, &terms, d);
    for (size_t t = 0; x && scratch_row && t < shown_count(ids->count); t++) {
        explain_compose_row(out, &terms, E->f64, ids->i64[t], t, d, x, scratch_row);
        if (then_layernorm) {
            fprintf(out, "  LayerNorm of X[%zu,:]:\n", t);
            explain_layernorm_row(out, x, input(c, "gamma")->f64,
                                  input(c, "beta")->f64, d,
                                  param_double(file, c, "eps", 1e-5));
        }
    }
    put_more_rows(out, ids->count, "rows");
    free(x);
    free(scratch_row);
}

static void explain_compose(FILE *out, const vec_file *file, const vec_case *c)
{
    explain_compose_family(out, file, c, 0);
}

static void explain_compose_layernorm(FILE *out, const vec_file *file,
                                      const vec_case *c)
{
    explain_compose_family(out, file, c, 1);
}

/* ---- layernorm ------------------------------------------------------------ */

static void explain_layernorm_row(FILE *out, const double *x /* (d) */,
                                  const double *gamma /* (d) */,
                                  const double *beta /* (d) */, size_t d,
                                  double eps)
{
    double *deviation = scratch(out, d), *squares = scratch(out, d);
    if (deviation != NULL && squares != NULL) {
        fprintf(out, "  mu = (1/d) sum_j x_j = (");
        double mu = put_sum(out, x, d) / (double)d;
        fprintf(out, ") / %zu = %s\n", d, num(mu).text);
        for (size_t j = 0; j < d; j++) {
            deviation[j] = x[j] - mu;
            squares[j] = deviation[j] * deviation[j];
        }
        fprintf(out, "  x_j - mu = ");
        put_list(out, deviation, d);
        fprintf(out, "\n  var = (1/d) sum_j (x_j - mu)^2 = (");
        double var = put_sum(out, squares, d) / (double)d;
        double r = 1.0 / sqrt(var + eps);
        fprintf(out, ") / %zu = %s   (biased: divided by d)\n", d, num(var).text);
        fprintf(out, "  r = 1/sqrt(var + eps) = 1/sqrt(%s + %s) = %s\n",
                num(var).text, num(eps).text, num(r).text);
        for (size_t j = 0; j < d; j++)
            deviation[j] *= r;
        fprintf(out, "  z_j = (x_j - mu) r = ");
        put_list(out, deviation, d);
        fprintf(out, "\n  y_j = gamma_j z_j + beta_j:\n");
        for (size_t j = 0; j < shown_count(d); j++)
            fprintf(out, "    y_%zu = (%s)(%s) + (%s) = %s\n", j,
                    num(gamma[j]).text, num(deviation[j]).text,
                    num(beta[j]).text,
                    num(gamma[j] * deviation[j] + beta[j]).text);
        if (d > MAX)
            fprintf(out, "    ... (%zu more columns)\n", d - MAX);
    }
    free(deviation);
    free(squares);
}

static void explain_layernorm(FILE *out, const vec_file *file, const vec_case *c)
{
    const vec_array *x = input(c, "x");
    size_t n = x->shape[0], d = x->shape[1];
    double eps = param_double(file, c, "eps", 1e-5);
    fprintf(out, "per row x: mu = mean, var = biased variance, r = "
            "1/sqrt(var + eps), y = gamma (x - mu) r + beta; eps = %s\n",
            num(eps).text);
    for (size_t t = 0; t < shown_count(n); t++) {
        fprintf(out, "row %zu: x = ", t);
        put_list(out, x->f64 + t * d, d);
        fputc('\n', out);
        explain_layernorm_row(out, x->f64 + t * d, input(c, "gamma")->f64,
                              input(c, "beta")->f64, d, eps);
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

/* Prints and computes a, u - a, z = (u - a)/tau and exp(z) of one row into
 * z and e (vocab); returns S = sum exp(z). */
static double explain_softmax_steps(FILE *out, const double *u /* (vocab) */,
                                    size_t vocab, double tau,
                                    double *z /* (vocab) */,
                                    double *e /* (vocab) */)
{
    double a = -INFINITY;
    for (size_t i = 0; i < vocab; i++)
        a = u[i] > a ? u[i] : a;
    fprintf(out, "  a = max_j u_j = %s\n", num(a).text);
    for (size_t i = 0; i < vocab; i++)
        z[i] = u[i] - a;
    fprintf(out, "  u_i - a = ");
    put_list(out, z, vocab);
    for (size_t i = 0; i < vocab; i++) {
        z[i] /= tau;
        e[i] = exp(z[i]);
    }
    if (tau != 1.0) {
        fprintf(out, "\n  z_i = (u_i - a) / tau, tau = %s: ", num(tau).text);
        put_list(out, z, vocab);
    } else {
        fprintf(out, "\n  z_i = (u_i - a) / tau = u_i - a (tau = 1)");
    }
    fprintf(out, "\n  exp(z_i) = ");
    put_list(out, e, vocab);
    fprintf(out, "\n  S = sum_j exp(z_j) = ");
    double S = put_sum(out, e, vocab);
    fputc('\n', out);
    return S;
}

static void explain_divisions(FILE *out, const double *e, size_t vocab, double S)
{
    fprintf(out, "  y_i = exp(z_i) / S:\n");
    for (size_t i = 0; i < shown_count(vocab); i++)
        fprintf(out, "    y_%zu = %s / %s = %s\n", i, num(e[i]).text,
                num(S).text, num(e[i] / S).text);
    if (vocab > MAX)
        fprintf(out, "    ... (%zu more)\n", vocab - MAX);
}

static void explain_logs(FILE *out, const double *z, size_t vocab, double S)
{
    double log_S = log(S);
    fprintf(out, "  log S = log(%s) = %s\n  log y_i = z_i - log S:\n",
            num(S).text, num(log_S).text);
    for (size_t i = 0; i < shown_count(vocab); i++)
        fprintf(out, "    log y_%zu = %s - %s = %s\n", i, num(z[i]).text,
                num(log_S).text, num(z[i] - log_S).text);
    if (vocab > MAX)
        fprintf(out, "    ... (%zu more)\n", vocab - MAX);
}

static void explain_softmax(FILE *out, const vec_file *file, const vec_case *c)
{
    int take_log = strcmp(file->op, "log_softmax") == 0;
    const vec_array *logits = input(c, "logits");
    size_t n = logits->shape[0], vocab = logits->shape[1];
    double tau = param_double(file, c, "tau", 1.0);
    double *z = scratch(out, vocab), *e = scratch(out, vocab);
    fprintf(out, "per row u: subtract the maximum a, divide by tau, "
            "exponentiate, %s\n", take_log ? "then log y_i = z_i - log S"
                                           : "then divide by the sum S");
    for (size_t t = 0; z && e && t < shown_count(n); t++) {
        const double *u = logits->f64 + t * vocab;
        fprintf(out, "row %zu: u = ", t);
        put_list(out, u, vocab);
        fputc('\n', out);
        double S = explain_softmax_steps(out, u, vocab, tau, z, e);
        if (take_log)
            explain_logs(out, z, vocab, S);
        else
            explain_divisions(out, e, vocab, S);
    }
    put_more_rows(out, n, "rows");
    free(z);
    free(e);
}

/* The loss of one position (tau = 1), printed when out is not NULL. */
static double explain_position_loss(FILE *out, const double *u /* (vocab) */,
                                    size_t vocab, int64_t target, size_t t)
{
    double a = -INFINITY, S = 0.0;
    for (size_t i = 0; i < vocab; i++)
        a = u[i] > a ? u[i] : a;
    for (size_t i = 0; i < vocab; i++)
        S += exp(u[i] - a);
    double z_c = u[target] - a, loss = log(S) - z_c;
    if (out == NULL)
        return loss;
    fprintf(out, "t = %zu: target c = %" PRId64 "\n", t, target);
    fprintf(out, "  a = max_j u_j = %s, S = sum_j exp(u_j - a) = %s, log S = %s\n",
            num(a).text, num(S).text, num(log(S)).text);
    fprintf(out, "  z_c = u_c - a = %s - %s = %s\n", num(u[target]).text,
            num(a).text, num(z_c).text);
    fprintf(out, "  loss_%zu = log S - z_c = %s - %s = %s\n", t,
            num(log(S)).text, num(z_c).text, num(loss).text);
    return loss;
}

static void explain_reduction(FILE *out, const char *reduction,
                              const double *losses /* (count) */, size_t count,
                              size_t n)
{
    if (strcmp(reduction, "none") == 0) {
        fprintf(out, "reduction none: one loss per position (0 where ignored), "
                "%zu positions\n", n);
        return;
    }
    fprintf(out, "reduction %s: sum over the %zu counted positions = ",
            reduction, count);
    double sum = put_sum(out, losses, count);
    fputc('\n', out);
    if (strcmp(reduction, "mean") == 0)
        fprintf(out, "mean = sum / count = %s / %zu = %s\n", num(sum).text,
                count, num(sum / (double)count).text);
}

static void explain_cross_entropy(FILE *out, const vec_file *file,
                                  const vec_case *c)
{
    const vec_array *logits = input(c, "logits"), *targets = input(c, "targets");
    size_t n = logits->shape[0], vocab = logits->shape[1], count = 0;
    int64_t ignore_index = param_int64(file, c, "ignore_index", -100);
    const char *reduction = param_string(file, c, "reduction", "mean");
    double *losses = scratch(out, n);
    if (losses == NULL)
        return;
    fprintf(out, "loss_t = -log y_{c_t} = log S - z_{c_t}, z = u - max u "
            "(natural log, tau = 1); ignore_index = %" PRId64 "\n", ignore_index);
    for (size_t t = 0; t < n; t++) {
        int64_t target = targets->i64[t];
        FILE *sink = t < MAX ? out : NULL;
        if (target == ignore_index) {
            if (sink)
                fprintf(out, "t = %zu: target %" PRId64 " = ignore_index: not "
                        "counted\n", t, target);
            continue;
        }
        losses[count++] = explain_position_loss(sink, logits->f64 + t * vocab,
                                                vocab, target, t);
    }
    put_more_rows(out, n, "positions (in the sum below, not shown)");
    explain_reduction(out, reduction, losses, count, n);
    free(losses);
}

/* ---- argmax and sample ------------------------------------------------------ */

typedef struct {
    double logit;
    size_t index;
} ranked_token;

/* decreasing logit, ties to the lower index */
static int by_rank(const void *left, const void *right)
{
    const ranked_token *a = left, *b = right;
    if (a->logit != b->logit)
        return a->logit > b->logit ? -1 : 1;
    return a->index < b->index ? -1 : (a->index > b->index);
}

/* The unmasked tokens of u, ranked into ranked (vocab); returns how many. */
static size_t rank_tokens(const double *u /* (vocab) */, size_t vocab,
                          ranked_token *ranked /* (vocab) */)
{
    size_t count = 0;
    for (size_t i = 0; i < vocab; i++)
        if (u[i] > -INFINITY)
            ranked[count++] = (ranked_token){u[i], i};
    qsort(ranked, count, sizeof *ranked, by_rank);
    return count;
}

static void put_ranking(FILE *out, const ranked_token *ranked, size_t count,
                        const double *p /* (vocab) or NULL */)
{
    fprintf(out, "  ranked by decreasing logit, ties to the lower index:");
    for (size_t m = 0; m < shown_count(count); m++) {
        fprintf(out, "%s %zu (u = %s", m ? "," : "", ranked[m].index,
                num(ranked[m].logit).text);
        if (p != NULL)
            fprintf(out, ", p = %s", num(p[ranked[m].index]).text);
        fputc(')', out);
    }
    if (count > MAX)
        fprintf(out, ", ... (%zu more)", count - MAX);
    fputc('\n', out);
}

static void explain_argmax(FILE *out, const vec_file *file, const vec_case *c)
{
    const vec_array *logits = input(c, "logits");
    size_t n = logits->shape[0], vocab = logits->shape[1];
    ranked_token *ranked = calloc(vocab ? vocab : 1, sizeof *ranked);
    (void)file;
    if (ranked == NULL)
        return;
    fprintf(out, "token = the first of the ranking: the smallest index with "
            "the largest logit\n");
    for (size_t t = 0; t < shown_count(n); t++) {
        fprintf(out, "row %zu:\n", t);
        size_t count = rank_tokens(logits->f64 + t * vocab, vocab, ranked);
        put_ranking(out, ranked, count, NULL);
        fprintf(out, "  token = %zu\n", ranked[0].index);
    }
    put_more_rows(out, n, "rows");
    free(ranked);
}

typedef struct {
    double tau;
    int64_t top_k;
    double top_p;
} sampling_params;

/* p = softmax(u / tau) in plain arithmetic, into p (vocab). */
void plain_softmax(const double *u, size_t vocab, double tau, double *p)
{
    double a = -INFINITY, S = 0.0;
    for (size_t i = 0; i < vocab; i++)
        a = u[i] > a ? u[i] : a;
    for (size_t i = 0; i < vocab; i++)
        S += (p[i] = exp((u[i] - a) / tau));
    for (size_t i = 0; i < vocab; i++)
        p[i] /= S;
}

/* Top-k: how many of the count ranked tokens survive. */
static size_t explain_top_k(FILE *out, const ranked_token *ranked, size_t count,
                            int64_t top_k)
{
    if (top_k == 0 || (uint64_t)top_k >= count) {
        fprintf(out, "  top-k: %s, keep all %zu unmasked tokens\n",
                top_k == 0 ? "off (top_k = 0)" : "top_k >= their number", count);
        return count;
    }
    fprintf(out, "  top-k: keep the first %" PRId64 " of the ranking:", top_k);
    for (size_t m = 0; m < shown_count((size_t)top_k); m++)
        fprintf(out, " %zu", ranked[m].index);
    fprintf(out, "%s\n", (size_t)top_k > MAX ? " ..." : "");
    return (size_t)top_k;
}

/* Top-p over the kept prefix of the ranking: the shortest prefix whose
 * renormalised cumulative probability is >= top_p. */
static size_t explain_top_p(FILE *out, const ranked_token *ranked, size_t kept,
                            const double *p, double top_p)
{
    double total = 0.0, cumulative = 0.0;
    if (top_p >= 1.0) {
        fprintf(out, "  top-p: off (top_p = 1)\n");
        return kept;
    }
    for (size_t m = 0; m < kept; m++)
        total += p[ranked[m].index];
    fprintf(out, "  top-p: renormalise the kept probabilities (sum %s), keep "
            "the shortest prefix with cumulative >= top_p = %s:\n",
            num(total).text, num(top_p).text);
    for (size_t m = 0; m < kept; m++) {
        size_t token = ranked[m].index;
        cumulative += p[token] / total;
        int enough = cumulative >= top_p;
        if (m < MAX || enough)
            fprintf(out, "    %stoken %zu: %s / %s = %s, cumulative %s %s top_p%s\n",
                    m >= MAX ? "... " : "", token, num(p[token]).text,
                    num(total).text, num(p[token] / total).text,
                    num(cumulative).text, enough ? ">=" : "<",
                    enough ? ": stop" : "");
        if (enough)
            return m + 1;
    }
    return kept;
}

/* q (vocab): p renormalised over the kept tokens, 0 elsewhere. */
static void explain_renormalise(FILE *out, const ranked_token *ranked,
                                size_t kept, const double *p, size_t vocab,
                                double *q)
{
    double total = 0.0;
    for (size_t i = 0; i < vocab; i++)
        q[i] = 0.0;
    for (size_t m = 0; m < kept; m++)
        total += p[ranked[m].index];
    for (size_t m = 0; m < kept; m++)
        q[ranked[m].index] = p[ranked[m].index] / total;
    fprintf(out, "  kept: %zu token%s; q_i = p_i / %s (the kept sum), 0 "
            "elsewhere: q = ", kept, kept == 1 ? "" : "s", num(total).text);
    put_list(out, q, vocab);
    fputc('\n', out);
}

static void explain_inverse_cdf(FILE *out, const double *q, size_t vocab,
                                double r)
{
    double cdf = 0.0, below = 0.0;
    fprintf(out, "  CDF in index order, C_i = q_0 + ... + q_i:");
    for (size_t i = 0; i < vocab; i++) {
        below = cdf;
        cdf += q[i];
        if (i < MAX)
            fprintf(out, " C_%zu = %s", i, num(cdf).text);
        if (r < cdf) {
            char left[32] = "0";
            if (i > 0)
                snprintf(left, sizeof left, "C_%zu", i - 1);
            fprintf(out, "%s\n  r = %s falls in [%s, C_%zu) = [%s, %s): the "
                    "smallest i with r < C_i is %zu: token = %zu\n",
                    i >= MAX ? " ..." : "", num(r).text, left, i,
                    num(below).text, num(cdf).text, i, i);
            return;
        }
    }
    fprintf(out, "\n  r = %s is not below the last C_i in this plain "
            "arithmetic (the reference's token is printed above)\n", num(r).text);
}

static void explain_sample_row(FILE *out, const double *u /* (vocab) */,
                               size_t vocab, double r,
                               const sampling_params *params,
                               ranked_token *ranked /* (vocab) */,
                               double *p /* (vocab) */, double *q /* (vocab) */)
{
    plain_softmax(u, vocab, params->tau, p);
    fprintf(out, "  p = softmax(u / tau) = ");
    put_list(out, p, vocab);
    fputc('\n', out);
    size_t count = rank_tokens(u, vocab, ranked);
    put_ranking(out, ranked, count, p);
    size_t kept = explain_top_k(out, ranked, count, params->top_k);
    kept = explain_top_p(out, ranked, kept, p, params->top_p);
    explain_renormalise(out, ranked, kept, p, vocab, q);
    explain_inverse_cdf(out, q, vocab, r);
}

static void explain_sample(FILE *out, const vec_file *file, const vec_case *c)
{
    const vec_array *logits = input(c, "logits"), *r = input(c, "r");
    size_t n = logits->shape[0], vocab = logits->shape[1];
    sampling_params params = {param_double(file, c, "tau", 1.0),
                              param_int64(file, c, "top_k", 0),
                              param_double(file, c, "top_p", 1.0)};
    ranked_token *ranked = calloc(vocab ? vocab : 1, sizeof *ranked);
    double *p = scratch(out, vocab), *q = scratch(out, vocab);
    fprintf(out, "temperature, then top-k, then top-p, renormalise, then the "
            "inverse CDF in index order; tau = %s, top_k = %" PRId64
            ", top_p = %s\n", num(params.tau).text, params.top_k,
            num(params.top_p).text);
    for (size_t t = 0; ranked && p && q && t < shown_count(n); t++) {
        fprintf(out, "row %zu: r = %s\n", t, num(r->f64[t]).text);
        explain_sample_row(out, logits->f64 + t * vocab, vocab, r->f64[t],
                           &params, ranked, p, q);
    }
    put_more_rows(out, n, "rows");
    free(ranked);
    free(p);
    free(q);
}

/* ---- logit_lens and param_count --------------------------------------------- */

/* LayerNorm of one row in plain arithmetic, into y (d). */
static void plain_layernorm(const double *x, const double *gamma,
                            const double *beta, size_t d, double eps, double *y)
{
    double mu = 0.0, var = 0.0;
    for (size_t j = 0; j < d; j++)
        mu += x[j];
    mu /= (double)d;
    for (size_t j = 0; j < d; j++)
        var += (x[j] - mu) * (x[j] - mu);
    double r = 1.0 / sqrt(var / (double)d + eps);
    for (size_t j = 0; j < d; j++)
        y[j] = gamma[j] * (x[j] - mu) * r + beta[j];
}

typedef struct {
    const vec_array *E;
    const double *gamma, *beta; /* NULL without the final LayerNorm */
    double eps;
    size_t top_k;
} lens_params;

static void explain_lens_row(FILE *out, const double *hidden_row /* (d) */,
                             const lens_params *lens, double *x /* (d) */,
                             double *u /* (vocab) */, ranked_token *ranked)
{
    size_t vocab = lens->E->shape[0], d = lens->E->shape[1];
    memcpy(x, hidden_row, d * sizeof *x);
    if (lens->gamma != NULL) {
        plain_layernorm(hidden_row, lens->gamma, lens->beta, d, lens->eps, x);
        fprintf(out, "  x = LayerNorm(x) = ");
        put_list(out, x, d);
        fputc('\n', out);
    }
    for (size_t v = 0; v < vocab; v++) {
        u[v] = 0.0;
        for (size_t j = 0; j < d; j++)
            u[v] += x[j] * lens->E->f64[v * d + j];
    }
    fprintf(out, "  u = x E^T = ");
    put_list(out, u, vocab);
    size_t count = rank_tokens(u, vocab, ranked);
    plain_softmax(u, vocab, 1.0, u);
    fprintf(out, "\n  probs = softmax(u) = ");
    put_list(out, u, vocab);
    fprintf(out, "\n  top %zu:", lens->top_k);
    for (size_t m = 0; m < shown_count(lens->top_k) && m < count; m++)
        fprintf(out, "%s %zu (p = %s)", m ? "," : "", ranked[m].index,
                num(u[ranked[m].index]).text);
    fprintf(out, "%s\n", lens->top_k > MAX ? ", ..." : "");
}

static void explain_lens(FILE *out, const vec_file *file, const vec_case *c)
{
    const vec_array *hidden = input(c, "hidden");
    int final_layernorm = param_bool(file, c, "final_layernorm", 0);
    lens_params lens = {input(c, "E"), NULL, NULL,
                        param_double(file, c, "eps", 1e-5),
                        (size_t)param_int64(file, c, "k", 1)};
    size_t n = hidden->shape[1], d = hidden->shape[2], rows = hidden->shape[0] * n;
    size_t vocab = lens.E->shape[0];
    if (final_layernorm) {
        lens.gamma = input(c, "gamma")->f64;
        lens.beta = input(c, "beta")->f64;
    }
    double *x = scratch(out, d), *u = scratch(out, vocab);
    ranked_token *ranked = calloc(vocab ? vocab : 1, sizeof *ranked);
    fprintf(out, "for each layer l and position t: x = H[l,t,:]%s, u = x E^T, "
            "probs = softmax(u), the top %zu tokens by logit\n",
            final_layernorm ? ", x = LayerNorm(x)" : "", lens.top_k);
    for (size_t row = 0; x && u && ranked && row < shown_count(rows); row++) {
        fprintf(out, "layer %zu, position %zu: x = ", row / n, row % n);
        put_list(out, hidden->f64 + row * d, d);
        fputc('\n', out);
        explain_lens_row(out, hidden->f64 + row * d, &lens, x, u, ranked);
    }
    put_more_rows(out, rows, "(layer, position) pairs");
    free(x);
    free(u);
    free(ranked);
}

static void explain_param_count(FILE *out, const vec_file *file,
                                const vec_case *c)
{
    int64_t vocab = param_int64(file, c, "vocab", 1);
    int64_t d = param_int64(file, c, "d", 1);
    int64_t blocks = param_int64(file, c, "block_params", 0);
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

static const struct {
    const char *op;
    explainer explain;
} explainers[] = {
    {"embed_lookup", explain_lookup},
    {"embed_onehot", explain_onehot},
    {"pos_learned", explain_pos_learned},
    {"pos_sinusoid", explain_sinusoid},
    {"compose", explain_compose},
    {"layernorm", explain_layernorm},
    {"compose_layernorm", explain_compose_layernorm},
    {"head_tied", explain_head},
    {"head_untied", explain_head},
    {"softmax", explain_softmax},
    {"log_softmax", explain_softmax},
    {"cross_entropy", explain_cross_entropy},
    {"argmax", explain_argmax},
    {"sample", explain_sample},
    {"logit_lens", explain_lens},
    {"param_count", explain_param_count},
};

/* The explainer of op, from whichever file has it, or NULL. */
static explainer find_explainer(const char *op)
{
    for (size_t i = 0; i < sizeof explainers / sizeof explainers[0]; i++)
        if (strcmp(explainers[i].op, op) == 0)
            return explainers[i].explain;
    explainer other = cli_explain_variants_find(op);
    if (other == NULL)
        other = cli_explain_pca_find(op);
    return other != NULL ? other : cli_explain_grad_find(op);
}

int cli_explain_known(const char *op)
{
    return find_explainer(op) != NULL;
}

int cli_explain(FILE *out, const vec_file *file, const vec_case *c)
{
    fprintf(out, "\nexplanation of %s: straightforward double arithmetic in "
            "lmr, for study -- not an expected value (the outputs above, from "
            "ref/, are);\nnumbers are the shortest decimals that read back "
            "exactly, at most %d entries or terms are shown\n", file->op, MAX);
    explainer explain = find_explainer(file->op);
    if (explain == NULL) {
        fprintf(out, "(no explanation for %s)\n", file->op);
        return -1;
    }
    explain(out, file, c);
    return 0;
}
