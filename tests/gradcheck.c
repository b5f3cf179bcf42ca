/*
 * gradcheck.c -- the third witness for the gradient vectors
 * (spec/gradients.md#finite-differences): every gradient in the backward
 * vector files and in tied_lm.json is compared with central finite
 * differences of the FORWARD ops of ref/, so a misread derivative shared by
 * the oracle and the reference's backward code cannot hide.
 *
 * For a backward case, L(theta) = sum over the forward op's outputs o of
 * <d o, o(theta)>, with the upstream gradients d o taken from the case. Each
 * gradient "dX" is checked against dL/dX for the input X (or the parameter X:
 * tau, alpha). Biases absent from a case, and the embedding table of a plain
 * lookup, are added as zeros so that their gradients can be checked too.
 *
 * Step control: D(h) and D(h/2) are both computed; an element where they
 * disagree by more than the bound sits on a kink (ReLU at 0) or a
 * non-finite input and is skipped, and the count of skipped elements is
 * printed. At most CHECKS_PER_OUTPUT elements per output are checked (evenly
 * spaced), which keeps the test fast under Valgrind.
 *
 * The directory is vectors/ or $LMR_VECTORS.
 */
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmr.h"
#include "ref_ops.h"
#include "tap.h"
#include "vecio.h"

#define CHECKS_PER_OUTPUT 48
#define RELATIVE_BOUND 1e-6
#define MAX_EXTRA_INPUTS 4

/* Where a gradient's variable lives: an input array or a scalar param. */
typedef struct {
    double *values; /* (count) the variable's values, perturbed in place */
    size_t count;
    json_t *param;  /* a param object to update, or NULL for an input */
    const char *param_name;
} variable;

/* A forward evaluation: the scalar L at the case's current inputs, and the
 * sum of the magnitudes of its terms (what its rounding error scales with). */
typedef int (*loss_fn)(void *state, long double *loss, double *magnitude);

/* ---- L for a backward case: the forward op of ref/ through ref_ops ------ */

typedef struct {
    vec_file forward_file; /* the backward file seen as its forward op */
    vec_case forward_case; /* the case with zero arrays added */
    vec_array extra[MAX_EXTRA_INPUTS];
    char op[64];
} forward_view;

/* <upstream, output> summed over every forward output that has an upstream
 * gradient "d<output>" in the case. */
static int forward_loss(void *state, long double *loss, double *magnitude)
{
    forward_view *view = state;
    ref_result result;
    char err[VEC_ERRLEN];
    if (ref_run(&view->forward_file, &view->forward_case, &result, err,
                sizeof err) != 0 || result.status != LMR_OK) {
        ref_result_free(&result);
        return -1;
    }
    long double total = 0.0L, size = 0.0L;
    for (size_t i = 0; i < result.n_outputs; i++) {
        char name[64];
        snprintf(name, sizeof name, "d%s", result.outputs[i].name);
        const vec_array *up = vec_case_input(&view->forward_case, name);
        if (up == NULL || result.outputs[i].dtype != VEC_F64 ||
            up->count != result.outputs[i].count)
            continue;
        for (size_t k = 0; k < up->count; k++)
            if (up->f64[k] != 0.0) {
                long double term = (long double)up->f64[k] * result.outputs[i].f64[k];
                total += term;
                size += fabsl(term);
            }
    }
    ref_result_free(&result);
    *loss = total;
    *magnitude = (double)size;
    return 0;
}

/* Adds a zero input name of shape (rows, cols) unless the case has one. */
static void add_zero_input(forward_view *view, size_t *n_extra,
                           const char *name, size_t rows, size_t cols)
{
    if (vec_case_input(&view->forward_case, name) != NULL ||
        *n_extra == MAX_EXTRA_INPUTS)
        return;
    vec_array *a = &view->extra[(*n_extra)++];
    memset(a, 0, sizeof *a);
    a->name = (char *)name;
    a->dtype = VEC_F64;
    a->ndim = cols ? 2 : 1;
    a->shape[0] = rows;
    a->shape[1] = cols;
    a->count = rows * (cols ? cols : 1);
    a->f64 = calloc(a->count + 1, sizeof(double));
}

static size_t input_dim(const vec_case *c, const char *name, size_t axis)
{
    const vec_array *a = vec_case_input(c, name);
    return a != NULL && axis < a->ndim ? a->shape[axis] : 0;
}

static size_t param_size(const vec_case *c, const char *name)
{
    const json_t *v = json_object_get(c->params, name);
    return json_is_integer(v) ? (size_t)json_integer_value(v) : 0;
}

/* The zero arrays a backward op's forward needs, or whose gradient the
 * case checks, but which the backward case does not carry. */
static void add_zero_inputs(forward_view *view, size_t *n_extra)
{
    const vec_case *c = &view->forward_case;
    const char *op = view->op;
    int tied = json_is_true(json_object_get(c->params, "tied"));
    if (strcmp(op, "embed_lookup") == 0)
        add_zero_input(view, n_extra, "E", param_size(c, "vocab"),
                       input_dim(c, "dY", 1));
    else if (strcmp(op, "pos_learned") == 0)
        add_zero_input(view, n_extra, "P", param_size(c, "max_len"),
                       input_dim(c, "dY", 1));
    else if (strcmp(op, "layernorm") == 0)
        add_zero_input(view, n_extra, "beta", input_dim(c, "x", 1), 0);
    else if (strcmp(op, "head_untied") == 0)
        add_zero_input(view, n_extra, "b", input_dim(c, "W", 1), 0);
    else if (strcmp(op, "head_mlp") == 0) {
        add_zero_input(view, n_extra, "b1", input_dim(c, "W1", 1), 0);
        add_zero_input(view, n_extra, "b2",
                       tied ? input_dim(c, "E", 0) : input_dim(c, "W2", 1), 0);
    } else if (strcmp(op, "mos_gated") == 0)
        add_zero_input(view, n_extra, "b_out",
                       tied ? input_dim(c, "E", 0) : input_dim(c, "W_out", 1), 0);
}

static int forward_view_init(forward_view *view, const vec_file *file,
                             const vec_case *c)
{
    size_t n_extra = 0, len = strlen(file->op);
    const char *suffix = "_backward";
    memset(view, 0, sizeof *view);
    if (len <= strlen(suffix) || len - strlen(suffix) >= sizeof view->op ||
        strcmp(file->op + len - strlen(suffix), suffix) != 0)
        return -1;
    memcpy(view->op, file->op, len - strlen(suffix));
    view->forward_file = *file;
    view->forward_file.op = view->op;
    view->forward_case = *c;
    add_zero_inputs(view, &n_extra);
    vec_array *inputs = calloc(c->n_inputs + n_extra, sizeof *inputs);
    if (inputs == NULL)
        return -1;
    memcpy(inputs, c->inputs, c->n_inputs * sizeof *inputs);
    memcpy(inputs + c->n_inputs, view->extra, n_extra * sizeof *inputs);
    view->forward_case.inputs = inputs;
    view->forward_case.n_inputs = c->n_inputs + n_extra;
    return 0;
}

static void forward_view_free(forward_view *view)
{
    for (size_t i = 0; i < MAX_EXTRA_INPUTS; i++)
        free(view->extra[i].f64);
    free(view->forward_case.inputs);
}

/* ---- L for tied_lm: its forward written out with ref/'s forward ops ----- */

/* The tied model with separate tables for its two uses of E, so that the
 * finite differences can perturb either path alone. */
typedef struct {
    const vec_case *c;
    double *E_lookup, *E_head; /* (vocab,d) copies of E */
    const double *P, *gamma, *beta, *M;
    const int64_t *ids, *targets;
    size_t n, vocab, d;
    double eps;
    enum lmr_reduction reduction;
    int64_t ignore_index;
} tied_model;

/* H = LayerNorm?(E[ids] + P[0:n]) M?; (n,d) into H, scratch (n,d). */
static int tied_hidden(const tied_model *m, double *H, double *scratch)
{
    size_t n = m->n, d = m->d;
    for (size_t t = 0; t < n; t++)
        for (size_t j = 0; j < d; j++)
            scratch[t * d + j] = m->E_lookup[m->ids[t] * d + j] + m->P[t * d + j];
    int status = LMR_OK;
    if (m->gamma != NULL) {
        status = lmr_layernorm(H, scratch, m->gamma, m->beta, n, d, m->eps);
        memcpy(scratch, H, n * d * sizeof *H);
    }
    if (status == LMR_OK && m->M != NULL)
        return lmr_head_untied(lmr_mat_out_of(H, n, d),
                               lmr_mat_of(scratch, n, d),
                               lmr_mat_of(m->M, d, d), lmr_vec_absent());
    memcpy(H, scratch, n * d * sizeof *H);
    return status;
}

static int tied_loss(void *state, long double *loss, double *magnitude)
{
    const tied_model *m = state;
    size_t n = m->n, d = m->d;
    double *H = calloc(n * d + 1, sizeof *H), *scratch = calloc(n * d + 1, sizeof *H);
    double *logits = calloc(n * m->vocab + 1, sizeof *logits), value = NAN;
    int status = H && scratch && logits ? tied_hidden(m, H, scratch) : LMR_ENOMEM;
    if (status == LMR_OK)
        status = lmr_head_tied(lmr_mat_out_of(logits, n, m->vocab),
                               lmr_mat_of(H, n, d),
                               lmr_mat_of(m->E_head, m->vocab, d));
    if (status == LMR_OK)
        status = lmr_cross_entropy(
            lmr_vec_out_of(&value, m->reduction == LMR_REDUCE_NONE ? n : 1),
            lmr_mat_of(logits, n, m->vocab), lmr_ids_of(m->targets, n),
            m->reduction, m->ignore_index);
    free(H);
    free(scratch);
    free(logits);
    *loss = value;
    *magnitude = fabs(value); /* a cross-entropy: a sum of terms >= 0 */
    return status == LMR_OK ? 0 : -1;
}

/* ---- the finite differences --------------------------------------------- */

/* loss with values[i] set to theta (a param is updated too). */
static int loss_at(loss_fn loss, void *state, const variable *var, size_t i,
                   double theta, long double *value)
{
    double saved = var->values[i], magnitude;
    var->values[i] = theta;
    if (var->param)
        json_object_set_new(var->param, var->param_name, json_real(theta));
    int status = loss(state, value, &magnitude);
    var->values[i] = saved;
    if (var->param)
        json_object_set_new(var->param, var->param_name, json_real(saved));
    return status == 0 && isfinite((double)*value) ? 0 : -1;
}

/*
 * The derivative of loss along values[i] (spec/gradients.md#finite-differences):
 * the central difference with step h/2, and in *noise the bound on its
 * rounding error, 2^-50 M / h (M the magnitude of L's terms). Step control:
 * where the one-sided differences at h/2 disagree by more than bound plus
 * 2 * noise, the point is a kink and
 * -1 is returned (skip). Where the forward op rejects one side (a parameter
 * at the end of its range), a one-sided difference with Richardson
 * extrapolation from steps h and h/2 is used instead.
 */
static int derivative(loss_fn loss, void *state, const variable *var, size_t i,
                      double bound, double *result, double *noise)
{
    double theta = var->values[i], magnitude;
    double h = ldexp(1.0, ilogb(fmax(1.0, fabs(theta))) - 20);
    long double at, up, down, up2, down2;
    if (!isfinite(theta) || loss(state, &at, &magnitude) != 0 ||
        !isfinite((double)at))
        return -1;
    *noise = ldexp(magnitude, -50) / h;
    int has_up = loss_at(loss, state, var, i, theta + h, &up) == 0 &&
                 loss_at(loss, state, var, i, theta + h / 2, &up2) == 0;
    int has_down = loss_at(loss, state, var, i, theta - h, &down) == 0 &&
                   loss_at(loss, state, var, i, theta - h / 2, &down2) == 0;
    if (has_up && has_down) {
        double forward = (double)((up2 - at) / (h / 2));
        double backward = (double)((at - down2) / (h / 2));
        *result = (double)((up2 - down2) / h);
        return fabs(forward - backward) > bound + 2.0 * *noise ? -1 : 0;
    }
    if (!has_up && !has_down)
        return -1;
    double sign = has_up ? 1.0 : -1.0;
    double coarse = (double)(((has_up ? up : down) - at) / (sign * h));
    double fine = (double)(((has_up ? up2 : down2) - at) / (sign * h / 2));
    *result = 2.0 * fine - coarse;
    return 0;
}

typedef struct {
    size_t checked, skipped, failed;
    double worst; /* max |D - g| / bound */
} fd_tally;

/* Checks the gradient g (count, with scales) of variable var. */
static void check_gradient(loss_fn loss, void *state, const variable *var,
                           const vec_expected *g, fd_tally *tally)
{
    double largest = 0.0;
    for (size_t i = 0; i < g->value.count; i++)
        largest = fmax(largest, fabs(g->value.f64[i]));
    size_t stride = g->value.count > CHECKS_PER_OUTPUT
        ? (g->value.count + CHECKS_PER_OUTPUT - 1) / CHECKS_PER_OUTPUT : 1;
    for (size_t i = 0; i < g->value.count && i < var->count; i += stride) {
        double want = g->value.f64[i], got, noise;
        double bound = RELATIVE_BOUND * (g->scale[i] + largest);
        if (!isfinite(want) ||
            derivative(loss, state, var, i, bound, &got, &noise) != 0) {
            tally->skipped++;
            continue;
        }
        bound += noise;
        double ratio = bound > 0 ? fabs(got - want) / bound
                                 : (got == want ? 0.0 : INFINITY);
        tally->worst = fmax(tally->worst, ratio);
        tally->checked++;
        if (ratio > 1.0 && tally->failed++ < 3)
            tap_diag("element %zu: finite difference %.17g, vector %.17g, "
                     "bound %.3g", i, got, want, bound);
    }
}

/* The variable a gradient output "dX" differentiates in a backward case. */
static int find_variable(vec_case *c, const char *output, variable *var)
{
    const char *name = output + 1;
    memset(var, 0, sizeof *var);
    for (size_t i = 0; i < c->n_inputs; i++)
        if (strcmp(c->inputs[i].name, name) == 0 && c->inputs[i].dtype == VEC_F64) {
            var->values = c->inputs[i].f64;
            var->count = c->inputs[i].count;
            return 0;
        }
    json_t *param = json_object_get(c->params, name);
    if (!json_is_number(param))
        return -1;
    var->param = c->params;
    var->param_name = name;
    var->count = 1;
    return 0;
}

static void report(const char *id, const char *output, size_t count,
                   const fd_tally *tally)
{
    if (count == 0) {
        tap_ok(1, "%s: %s is empty", id, output);
        return;
    }
    if (tally->checked == 0 && tally->failed == 0) {
        tap_ok(1, "%s: %s # SKIP not differentiable here (%zu elements: "
               "undefined loss or a kink)", id, output, tally->skipped);
        return;
    }
    tap_ok(tally->failed == 0,
           "%s: %s, %zu elements against finite differences (worst %.3g of "
           "the bound, %zu skipped)", id, output, tally->checked, tally->worst,
           tally->skipped);
}

static void check_backward_case(const vec_file *file, vec_case *c)
{
    forward_view view;
    if (forward_view_init(&view, file, c) != 0) {
        tap_ok(0, "%s: cannot view as a forward op", c->id);
        return;
    }
    for (size_t o = 0; o < c->n_expected; o++) {
        vec_expected *g = &c->expected[o];
        variable var;
        fd_tally tally = {0, 0, 0, 0.0};
        double param_value;
        if (g->value.count == 0) {
            report(c->id, g->value.name, 0, &tally);
            continue;
        }
        if (find_variable(&view.forward_case, g->value.name, &var) != 0) {
            tap_ok(0, "%s: %s differentiates no input or param", c->id,
                   g->value.name);
            continue;
        }
        if (var.param != NULL) {
            param_value = json_number_value(json_object_get(var.param,
                                                            var.param_name));
            var.values = &param_value;
        }
        check_gradient(forward_loss, &view, &var, g, &tally);
        report(c->id, g->value.name, g->value.count, &tally);
    }
    forward_view_free(&view);
}

/* ---- tied_lm ---------------------------------------------------------------- */

static const vec_expected *expected_named(const vec_case *c, const char *name)
{
    for (size_t o = 0; o < c->n_expected; o++)
        if (strcmp(c->expected[o].value.name, name) == 0)
            return &c->expected[o];
    return NULL;
}

static int tied_model_init(tied_model *m, const vec_case *c)
{
    const vec_array *E = vec_case_input(c, "E"), *M = vec_case_input(c, "M");
    const vec_array *gamma = vec_case_input(c, "gamma");
    const char *reduction = json_string_value(json_object_get(c->params, "reduction"));
    const json_t *eps = json_object_get(c->params, "eps");
    const json_t *ignore = json_object_get(c->params, "ignore_index");
    memset(m, 0, sizeof *m);
    m->c = c;
    m->n = vec_case_input(c, "ids")->count;
    m->vocab = E->shape[0];
    m->d = E->shape[1];
    m->ids = vec_case_input(c, "ids")->i64;
    m->targets = vec_case_input(c, "targets")->i64;
    m->P = vec_case_input(c, "P")->f64;
    int layernorm = json_is_true(json_object_get(c->params, "layernorm"));
    m->gamma = layernorm && gamma ? gamma->f64 : NULL;
    m->beta = layernorm ? vec_case_input(c, "beta")->f64 : NULL;
    m->M = M != NULL && json_string_value(json_object_get(c->params, "middle")) &&
           strcmp(json_string_value(json_object_get(c->params, "middle")), "matrix") == 0
        ? M->f64 : NULL;
    m->eps = json_is_number(eps) ? json_number_value(eps) : LMR_LAYERNORM_DEFAULT_EPS;
    m->reduction = reduction && strcmp(reduction, "sum") == 0 ? LMR_REDUCE_SUM
                                                              : LMR_REDUCE_MEAN;
    m->ignore_index = json_is_integer(ignore) ? json_integer_value(ignore)
                                              : LMR_DEFAULT_IGNORE_INDEX;
    m->E_lookup = malloc(E->count * sizeof(double));
    m->E_head = malloc(E->count * sizeof(double));
    if (m->E_lookup == NULL || m->E_head == NULL)
        return -1;
    memcpy(m->E_lookup, E->f64, E->count * sizeof(double));
    memcpy(m->E_head, E->f64, E->count * sizeof(double));
    return 0;
}

/* Both uses of E at once: the head's copy follows the perturbed lookup's. */
static int tied_loss_both(void *state, long double *loss, double *magnitude)
{
    tied_model *m = state;
    memcpy(m->E_head, m->E_lookup, m->vocab * m->d * sizeof(double));
    return tied_loss(m, loss, magnitude);
}

static void check_tied_output(tied_model *m, loss_fn loss, double *values,
                              size_t count, const char *output)
{
    const vec_expected *g = expected_named(m->c, output);
    variable var = {values, count, NULL, NULL};
    fd_tally tally = {0, 0, 0, 0.0};
    if (g == NULL) {
        tap_ok(0, "%s: no output %s", m->c->id, output);
        return;
    }
    check_gradient(loss, m, &var, g, &tally);
    report(m->c->id, output, g->value.count, &tally);
}

static void check_tied_case(vec_case *c)
{
    tied_model m;
    if (tied_model_init(&m, c) != 0) {
        tap_ok(0, "%s: out of memory", c->id);
    } else {
        size_t table = m.vocab * m.d;
        const vec_array *P = vec_case_input(c, "P");
        check_tied_output(&m, tied_loss, m.E_lookup, table, "dE_input");
        check_tied_output(&m, tied_loss, m.E_head, table, "dE_output");
        check_tied_output(&m, tied_loss_both, m.E_lookup, table, "dE");
        check_tied_output(&m, tied_loss, P->f64, P->count, "dP");
        if (m.gamma != NULL) {
            check_tied_output(&m, tied_loss, vec_case_input(c, "gamma")->f64,
                              m.d, "dgamma");
            check_tied_output(&m, tied_loss, vec_case_input(c, "beta")->f64,
                              m.d, "dbeta");
        }
    }
    free(m.E_lookup);
    free(m.E_head);
}

/* ---- driver ----------------------------------------------------------------- */

static int is_gradient_file(const vec_file *file)
{
    size_t len = strlen(file->op);
    return strcmp(file->op, "tied_lm") == 0 ||
           (len > 9 && strcmp(file->op + len - 9, "_backward") == 0);
}

static int check_file(const char *path)
{
    vec_file file;
    char err[VEC_ERRLEN];
    if (vec_file_load(&file, path, err, sizeof err) != 0) {
        tap_ok(0, "%s", err);
        return -1;
    }
    if (is_gradient_file(&file))
        for (size_t i = 0; i < file.n_cases; i++) {
            if (!file.cases[i].valid)
                continue;
            if (strcmp(file.op, "tied_lm") == 0)
                check_tied_case(&file.cases[i]);
            else
                check_backward_case(&file, &file.cases[i]);
        }
    vec_file_free(&file);
    return 0;
}

int main(void)
{
    const char *dir = getenv("LMR_VECTORS");
    char pattern[4096];
    glob_t found;
    snprintf(pattern, sizeof pattern, "%s/*.json", dir ? dir : "vectors");
    if (glob(pattern, 0, NULL, &found) != 0 || found.gl_pathc == 0) {
        printf("1..0 # SKIP no vector files match %s\n", pattern);
        globfree(&found);
        return 1;
    }
    for (size_t i = 0; i < found.gl_pathc; i++)
        check_file(found.gl_pathv[i]);
    globfree(&found);
    tap_done();
    return tap_exit_status();
}
