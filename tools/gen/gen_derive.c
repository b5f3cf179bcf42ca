/*
 * gen_derive.c -- a backward op's invalid cases derived from its forward
 * op's (contract: tools/gen/gen_derive.h).
 *
 * One derivation per backward op: which of the forward's inputs it takes,
 * the shape of its upstream gradient (from the forward case's shapes), the
 * params the backward adds, and the oracle's checks of the two ops on the
 * case's arrays. The upstream gradient's entries are (i mod 7 - 3)/4,
 * valid in every class (and 0 at the masked logits of log-softmax, where
 * the backward requires 0).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gen_derive.h"
#include "gen_ops.h"
#include "op_table.h"
#include "oracle_head.h"
#include "oracle_validate.h"
#include "vecio.h"

/* ---- a forward case's arrays and params ---- */

/* The named real input of c as a view, absent when c has none. */
static oracle_reals reals(const vec_case *c, const char *name)
{
    const vec_array *a = vec_case_input(c, name);
    oracle_reals view = oracle_absent();
    if (a == NULL || a->dtype != VEC_F64 || a->ndim > 3)
        return view;
    view.data = a->f64;
    view.ndim = a->ndim;
    for (size_t i = 0; i < a->ndim; i++)
        view.dim[i] = a->shape[i];
    return view;
}

/* The named integer input of c, absent when c has none. */
static oracle_ints ints(const vec_case *c, const char *name)
{
    const vec_array *a = vec_case_input(c, name);
    if (a == NULL || a->dtype != VEC_I64)
        return oracle_ints_absent();
    return oracle_ints_of(a->i64, a->count);
}

/* Extent axis of a view (0 past its last axis). */
static size_t extent(oracle_reals a, size_t axis)
{
    return axis < a.ndim ? a.dim[axis] : 0;
}

/* A param by the op table's rule (its default when absent); -1 after
 * printing the error. */
static int param_double(const vec_ctx *ctx, const char *name, double *out)
{
    if (op_param_double(ctx, name, out) == 0)
        return 0;
    fprintf(stderr, "lmr-gen: %s\n", ctx->err);
    return -1;
}

static int param_int64(const vec_ctx *ctx, const char *name, int64_t *out)
{
    if (op_param_int64(ctx, name, out) == 0)
        return 0;
    fprintf(stderr, "lmr-gen: %s\n", ctx->err);
    return -1;
}

static int param_bool(const vec_ctx *ctx, const char *name, int *out)
{
    if (op_param_bool(ctx, name, out) == 0)
        return 0;
    fprintf(stderr, "lmr-gen: %s\n", ctx->err);
    return -1;
}

/* The reduction param as the checks take it (unknown names included). */
static int param_reduction(const vec_ctx *ctx, oracle_reduction_code *out)
{
    const char *name;
    if (op_param_word(ctx, "reduction", &name) != 0) {
        fprintf(stderr, "lmr-gen: %s\n", ctx->err);
        return -1;
    }
    if (strcmp(name, "none") == 0)
        *out = ORACLE_REDUCE_NONE;
    else if (strcmp(name, "sum") == 0)
        *out = ORACLE_REDUCE_SUM;
    else if (strcmp(name, "mean") == 0)
        *out = ORACLE_REDUCE_MEAN;
    else
        *out = ORACLE_REDUCTION_UNKNOWN;
    return 0;
}

/* ---- the derivations ---- */

/* The shape of an upstream gradient: (shape[0]) or (shape[0], shape[1]). */
typedef struct {
    size_t ndim;
    size_t shape[2];
} upstream_shape;

/* What the backward of one forward case is: the upstream gradient's shape,
 * and the two checks' statuses with the upstream gradient G. */
typedef struct {
    upstream_shape upstream;
    enum oracle_status forward, backward;
} derived_status;

/* Fills *out->upstream from the forward case (G not yet known). */
typedef int (*shape_function)(const vec_ctx *ctx, upstream_shape *out);
/* Fills out->forward and out->backward for the upstream gradient G. */
typedef int (*status_function)(const vec_ctx *ctx, oracle_reals G,
                               derived_status *out);
/* Adds the params the backward has and the forward has not. */
typedef void (*params_function)(gen_case *c, const vec_case *forward);

typedef struct {
    const char *backward, *forward;
    const char *upstream;          /* the upstream gradient's input name */
    const char *const *inputs;     /* the forward inputs the backward takes */
    int zero_at_masked_logits;     /* log-softmax's rule on the upstream */
    shape_function shape;
    status_function status;
    params_function params;        /* or NULL */
} derivation;

static upstream_shape matrix_shape(size_t rows, size_t cols)
{
    upstream_shape s = {2, {rows, cols}};
    return s;
}

static upstream_shape vector_shape(size_t len)
{
    upstream_shape s = {1, {len, 0}};
    return s;
}

/* embed_lookup_backward: ids, vocab = |V| of E, dY (n, d) */
static int lookup_shape(const vec_ctx *ctx, upstream_shape *out)
{
    oracle_reals E = reals(ctx->c, "E");
    *out = matrix_shape(ints(ctx->c, "ids").len, extent(E, 1));
    return 0;
}

static int lookup_status(const vec_ctx *ctx, oracle_reals G,
                         derived_status *out)
{
    oracle_reals E = reals(ctx->c, "E");
    oracle_ints ids = ints(ctx->c, "ids");
    out->forward = oracle_check_embed_lookup(E, ids);
    out->backward = oracle_check_embed_lookup_backward(
        ids, G, (int64_t)extent(E, 0));
    return 0;
}

static void lookup_params(gen_case *c, const vec_case *forward)
{
    gen_param_int(c, "vocab", (int64_t)extent(reals(forward, "E"), 0));
}

/* pos_learned_backward: positions, max_len = L of P, dY (n, d) */
static int positions_shape(const vec_ctx *ctx, upstream_shape *out)
{
    oracle_reals P = reals(ctx->c, "P");
    *out = matrix_shape(ints(ctx->c, "positions").len, extent(P, 1));
    return 0;
}

static int positions_status(const vec_ctx *ctx, oracle_reals G,
                            derived_status *out)
{
    oracle_reals P = reals(ctx->c, "P");
    oracle_ints positions = ints(ctx->c, "positions");
    out->forward = oracle_check_pos_learned(P, positions);
    out->backward = oracle_check_pos_learned_backward(
        positions, G, (int64_t)extent(P, 0));
    return 0;
}

static void positions_params(gen_case *c, const vec_case *forward)
{
    gen_param_int(c, "max_len", (int64_t)extent(reals(forward, "P"), 0));
}

/* An upstream gradient of the shape of the named input (an n x V or n x d
 * matrix). */
static upstream_shape like_input(const vec_ctx *ctx, const char *name)
{
    oracle_reals a = reals(ctx->c, name);
    return matrix_shape(extent(a, 0), extent(a, 1));
}

static int layernorm_shape(const vec_ctx *ctx, upstream_shape *out)
{
    *out = like_input(ctx, "x");
    return 0;
}

static int layernorm_status(const vec_ctx *ctx, oracle_reals G,
                            derived_status *out)
{
    double eps;
    if (param_double(ctx, "eps", &eps) != 0)
        return -1;
    oracle_reals x = reals(ctx->c, "x"), gamma = reals(ctx->c, "gamma");
    out->forward = oracle_check_layernorm(x, gamma, reals(ctx->c, "beta"),
                                          eps);
    out->backward = oracle_check_layernorm_backward(x, gamma, G, eps);
    return 0;
}

/* The heads' dlogits: (rows of h, the vocabulary: rows of E). */
static int head_shape(const vec_ctx *ctx, upstream_shape *out)
{
    *out = matrix_shape(extent(reals(ctx->c, "h"), 0),
                        extent(reals(ctx->c, "E"), 0));
    return 0;
}

static int tied_status(const vec_ctx *ctx, oracle_reals G,
                       derived_status *out)
{
    oracle_reals h = reals(ctx->c, "h"), E = reals(ctx->c, "E");
    out->forward = oracle_check_head_tied(h, E);
    out->backward = oracle_check_head_tied_backward(h, E, G);
    return 0;
}

static int untied_shape(const vec_ctx *ctx, upstream_shape *out)
{
    *out = matrix_shape(extent(reals(ctx->c, "h"), 0),
                        extent(reals(ctx->c, "W"), 1));
    return 0;
}

static int untied_status(const vec_ctx *ctx, oracle_reals G,
                         derived_status *out)
{
    oracle_reals h = reals(ctx->c, "h"), W = reals(ctx->c, "W");
    out->forward = oracle_check_head_untied(h, W, reals(ctx->c, "b"));
    out->backward = oracle_check_head_untied_backward(h, W, G);
    return 0;
}

static int logits_shape(const vec_ctx *ctx, upstream_shape *out)
{
    *out = like_input(ctx, "logits");
    return 0;
}

static int softmax_status(const vec_ctx *ctx, oracle_reals G,
                          derived_status *out)
{
    double tau;
    if (param_double(ctx, "tau", &tau) != 0)
        return -1;
    oracle_reals logits = reals(ctx->c, "logits");
    out->forward = oracle_check_softmax(logits, tau);
    out->backward = oracle_check_softmax_backward(logits, G, tau);
    return 0;
}

static int log_softmax_status(const vec_ctx *ctx, oracle_reals G,
                              derived_status *out)
{
    double tau;
    if (param_double(ctx, "tau", &tau) != 0)
        return -1;
    oracle_reals logits = reals(ctx->c, "logits");
    out->forward = oracle_check_log_softmax(logits, tau);
    out->backward = oracle_check_log_softmax_backward(logits, G, tau);
    return 0;
}

/* cross_entropy_backward's dloss: (n) for "none", else (1). */
static int loss_shape(const vec_ctx *ctx, upstream_shape *out)
{
    oracle_reduction_code reduction;
    if (param_reduction(ctx, &reduction) != 0)
        return -1;
    size_t n = extent(reals(ctx->c, "logits"), 0);
    *out = vector_shape(reduction == ORACLE_REDUCE_NONE ? n : 1);
    return 0;
}

static int cross_entropy_status(const vec_ctx *ctx, oracle_reals G,
                                derived_status *out)
{
    oracle_reduction_code reduction;
    int64_t ignore_index;
    if (param_reduction(ctx, &reduction) != 0
        || param_int64(ctx, "ignore_index", &ignore_index) != 0)
        return -1;
    oracle_reals logits = reals(ctx->c, "logits");
    oracle_ints targets = ints(ctx->c, "targets");
    out->forward = oracle_check_cross_entropy(logits, targets, reduction,
                                              ignore_index);
    out->backward = oracle_check_cross_entropy_backward(
        logits, targets, G, reduction, ignore_index);
    return 0;
}

static int partial_status(const vec_ctx *ctx, oracle_reals G,
                          derived_status *out)
{
    int64_t k;
    if (param_int64(ctx, "k", &k) != 0)
        return -1;
    oracle_reals h = reals(ctx->c, "h"), E = reals(ctx->c, "E");
    oracle_reals F = reals(ctx->c, "F");
    out->forward = oracle_check_head_partial(h, E, F, k);
    out->backward = oracle_check_head_partial_backward(h, E, F, G, k);
    return 0;
}

static int transformed_status(const vec_ctx *ctx, oracle_reals G,
                              derived_status *out)
{
    oracle_reals h = reals(ctx->c, "h"), T = reals(ctx->c, "T");
    oracle_reals E = reals(ctx->c, "E");
    out->forward = oracle_check_head_transformed(h, T, E);
    out->backward = oracle_check_head_transformed_backward(h, T, E, G);
    return 0;
}

static int adaptive_status(const vec_ctx *ctx, oracle_reals G,
                           derived_status *out)
{
    double alpha;
    if (param_double(ctx, "alpha", &alpha) != 0)
        return -1;
    oracle_reals h = reals(ctx->c, "h"), E = reals(ctx->c, "E");
    oracle_reals F = reals(ctx->c, "F");
    out->forward = oracle_check_head_adaptive(h, E, F, alpha);
    out->backward = oracle_check_head_adaptive_backward(h, E, F, G, alpha);
    return 0;
}

/* The MLP head's views from the case; -1 if its tied param is bad. */
static int mlp_views(const vec_ctx *ctx, oracle_mlp_views *in)
{
    if (param_bool(ctx, "tied", &in->tied) != 0)
        return -1;
    in->h = reals(ctx->c, "h");
    in->W1 = reals(ctx->c, "W1");
    in->b1 = reals(ctx->c, "b1");
    in->W2 = reals(ctx->c, "W2");
    in->E = reals(ctx->c, "E");
    in->b2 = reals(ctx->c, "b2");
    return 0;
}

static int mlp_shape(const vec_ctx *ctx, upstream_shape *out)
{
    oracle_mlp_views in;
    if (mlp_views(ctx, &in) != 0)
        return -1;
    *out = matrix_shape(extent(in.h, 0), in.tied ? extent(in.E, 0)
                                                 : extent(in.W2, 1));
    return 0;
}

static int mlp_status(const vec_ctx *ctx, oracle_reals G, derived_status *out)
{
    oracle_mlp_views in;
    if (mlp_views(ctx, &in) != 0)
        return -1;
    out->forward = oracle_check_head_mlp(&in);
    out->backward = oracle_check_head_mlp_backward(&in, G);
    return 0;
}

static int fixed_shape(const vec_ctx *ctx, upstream_shape *out)
{
    *out = matrix_shape(extent(reals(ctx->c, "h"), 0),
                        extent(reals(ctx->c, "W"), 2));
    return 0;
}

static int fixed_status(const vec_ctx *ctx, oracle_reals G,
                        derived_status *out)
{
    oracle_reals h = reals(ctx->c, "h"), W = reals(ctx->c, "W");
    oracle_reals alpha = reals(ctx->c, "alpha");
    out->forward = oracle_check_mos_fixed(h, W, alpha);
    out->backward = oracle_check_mos_fixed_backward(h, W, alpha, G);
    return 0;
}

/* The gated mixture's views from the case; -1 if its tied param is bad. */
static int gated_views(const vec_ctx *ctx, oracle_mos_gated_views *in)
{
    if (param_bool(ctx, "tied", &in->tied) != 0)
        return -1;
    in->h = reals(ctx->c, "h");
    in->W_pi = reals(ctx->c, "W_pi");
    in->W_comp = reals(ctx->c, "W_comp");
    in->b_comp = reals(ctx->c, "b_comp");
    in->W_out = reals(ctx->c, "W_out");
    in->E = reals(ctx->c, "E");
    in->b_out = reals(ctx->c, "b_out");
    return 0;
}

static int gated_shape(const vec_ctx *ctx, upstream_shape *out)
{
    oracle_mos_gated_views in;
    if (gated_views(ctx, &in) != 0)
        return -1;
    *out = matrix_shape(extent(in.h, 0), in.tied ? extent(in.E, 0)
                                                 : extent(in.W_out, 1));
    return 0;
}

static int gated_status(const vec_ctx *ctx, oracle_reals G,
                        derived_status *out)
{
    oracle_mos_gated_views in;
    if (gated_views(ctx, &in) != 0)
        return -1;
    out->forward = oracle_check_mos_gated(&in);
    out->backward = oracle_check_mos_gated_backward(&in, G);
    return 0;
}

static int scalar_shape(const vec_ctx *ctx, upstream_shape *out)
{
    (void)ctx;
    *out = vector_shape(1);
    return 0;
}

static int soft_tie_status(const vec_ctx *ctx, oracle_reals G,
                           derived_status *out)
{
    double lambda;
    oracle_reduction_code reduction;
    int64_t ignore_index;
    if (param_double(ctx, "lambda", &lambda) != 0
        || param_reduction(ctx, &reduction) != 0
        || param_int64(ctx, "ignore_index", &ignore_index) != 0)
        return -1;
    oracle_reals h = reals(ctx->c, "h"), E = reals(ctx->c, "E");
    oracle_reals W = reals(ctx->c, "W");
    oracle_ints targets = ints(ctx->c, "targets");
    out->forward = oracle_check_soft_tie_loss(h, E, W, targets, lambda,
                                              reduction, ignore_index);
    out->backward = oracle_check_soft_tie_loss_backward(
        h, E, W, targets, G, lambda, reduction, ignore_index);
    return 0;
}

static int attention_shape(const vec_ctx *ctx, upstream_shape *out)
{
    *out = matrix_shape(extent(reals(ctx->c, "Q"), 0),
                        extent(reals(ctx->c, "K"), 0));
    return 0;
}

static int attention_status(const vec_ctx *ctx, oracle_reals G,
                            derived_status *out)
{
    int causal;
    if (param_bool(ctx, "causal", &causal) != 0)
        return -1;
    oracle_reals Q = reals(ctx->c, "Q"), K = reals(ctx->c, "K");
    oracle_ints key_mask = ints(ctx->c, "key_mask");
    out->forward = oracle_check_attention_weights(Q, K, key_mask, causal);
    out->backward = oracle_check_attention_weights_backward(Q, K, key_mask,
                                                            G, causal);
    return 0;
}

static const char *const lookup_inputs[] = {"ids", NULL};
static const char *const positions_inputs[] = {"positions", NULL};
static const char *const layernorm_inputs[] = {"x", "gamma", NULL};
static const char *const tied_inputs[] = {"h", "E", NULL};
static const char *const untied_inputs[] = {"h", "W", NULL};
static const char *const logits_inputs[] = {"logits", NULL};
static const char *const loss_inputs[] = {"logits", "targets", NULL};
static const char *const partial_inputs[] = {"h", "E", "F", NULL};
static const char *const transformed_inputs[] = {"h", "T", "E", NULL};
static const char *const mlp_inputs[] = {"h", "W1", "b1", "W2", "E", "b2",
                                         NULL};
static const char *const fixed_inputs[] = {"h", "W", "alpha", NULL};
static const char *const gated_inputs[] = {"h", "W_pi", "W_comp", "b_comp",
                                           "W_out", "E", "b_out", NULL};
static const char *const soft_tie_inputs[] = {"h", "E", "W", "targets", NULL};
static const char *const attention_inputs[] = {"Q", "K", "key_mask", NULL};

static const derivation derivations[] = {
    {"embed_lookup_backward", "embed_lookup", "dY", lookup_inputs, 0,
     lookup_shape, lookup_status, lookup_params},
    {"pos_learned_backward", "pos_learned", "dY", positions_inputs, 0,
     positions_shape, positions_status, positions_params},
    {"layernorm_backward", "layernorm", "dY", layernorm_inputs, 0,
     layernorm_shape, layernorm_status, NULL},
    {"head_tied_backward", "head_tied", "dlogits", tied_inputs, 0,
     head_shape, tied_status, NULL},
    {"head_untied_backward", "head_untied", "dlogits", untied_inputs, 0,
     untied_shape, untied_status, NULL},
    {"softmax_backward", "softmax", "dprobs", logits_inputs, 0,
     logits_shape, softmax_status, NULL},
    {"log_softmax_backward", "log_softmax", "dlogprobs", logits_inputs, 1,
     logits_shape, log_softmax_status, NULL},
    {"cross_entropy_backward", "cross_entropy", "dloss", loss_inputs, 0,
     loss_shape, cross_entropy_status, NULL},
    {"head_partial_backward", "head_partial", "dlogits", partial_inputs, 0,
     head_shape, partial_status, NULL},
    {"head_transformed_backward", "head_transformed", "dlogits",
     transformed_inputs, 0, head_shape, transformed_status, NULL},
    {"head_adaptive_backward", "head_adaptive", "dlogits", partial_inputs, 0,
     head_shape, adaptive_status, NULL},
    {"head_mlp_backward", "head_mlp", "dlogits", mlp_inputs, 0, mlp_shape,
     mlp_status, NULL},
    {"mos_fixed_backward", "mos_fixed", "dlogprobs", fixed_inputs, 0,
     fixed_shape, fixed_status, NULL},
    {"mos_gated_backward", "mos_gated", "dlogprobs", gated_inputs, 0,
     gated_shape, gated_status, NULL},
    {"soft_tie_loss_backward", "soft_tie_loss", "dloss", soft_tie_inputs, 0,
     scalar_shape, soft_tie_status, NULL},
    {"attention_weights_backward", "attention_weights", "dweights",
     attention_inputs, 0, attention_shape, attention_status, NULL},
};

static const derivation *find_derivation(const char *backward)
{
    for (size_t i = 0; i < sizeof derivations / sizeof derivations[0]; i++)
        if (strcmp(derivations[i].backward, backward) == 0)
            return &derivations[i];
    return NULL;
}

/* ---- writing the derived cases ---- */

/* The valid upstream gradient: (i mod 7 - 3)/4, and 0 where the forward's
 * logits are -inf when the backward requires it. Free with free(). */
static double *upstream_values(const derivation *dv, const vec_case *forward,
                               const upstream_shape *shape, size_t *count)
{
    *count = shape->shape[0] * (shape->ndim == 2 ? shape->shape[1] : 1);
    double *G = calloc(*count + 1, sizeof(double));
    if (G == NULL)
        return NULL;
    for (size_t i = 0; i < *count; i++)
        G[i] = (double)((int)(i % 7) - 3) / 4.0;
    oracle_reals logits = reals(forward, "logits");
    if (dv->zero_at_masked_logits && logits.data != NULL
        && extent(logits, 0) * extent(logits, 1) == *count)
        for (size_t i = 0; i < *count; i++)
            if (isinf(logits.data[i]))
                G[i] = 0.0;
    return G;
}

/* Copies the forward case's flags into c, with their notes when the
 * backward's file has none (exact_in_bf16_fp16 is decided anew). */
static void copy_flags(gen_case *c, json_t *forward_case, json_t *notes)
{
    size_t i;
    json_t *flag;
    json_array_foreach(json_object_get(forward_case, "flags"), i, flag) {
        const char *name = json_string_value(flag);
        if (name == NULL || strcmp(name, "exact_in_bf16_fp16") == 0)
            continue;
        json_t *note = json_object_get(notes, name);
        if (json_object_get(c->file->notes, name) == NULL && note != NULL)
            gen_note(c->file, name, json_string_value(note));
        gen_flag(c, name);
    }
}

/* The forward case's inputs that the backward takes, unchanged. */
static void copy_inputs(gen_case *c, const derivation *dv,
                        const vec_case *forward)
{
    for (const char *const *name = dv->inputs; *name != NULL; name++) {
        const vec_array *a = vec_case_input(forward, *name);
        if (a == NULL)
            continue;
        if (a->dtype == VEC_F64)
            gen_input_f64_nd(c, *name, a->ndim, a->shape, a->f64);
        else
            gen_input_i64(c, *name, a->shape[0], GEN_1D, a->i64);
    }
}

/* Writes the backward case of the forward's invalid case number index (if
 * the backward rejects it). 0, or -1 after printing the error. */
static int derive_case(gen_file *file, const derivation *dv,
                       const vec_file *forward, size_t index,
                       json_t *forward_root)
{
    const vec_case *fc = &forward->cases[index];
    json_t *case_json = json_array_get(json_object_get(forward_root, "cases"),
                                       index);
    char err[512];
    vec_ctx ctx = {forward, fc, err, sizeof err};
    upstream_shape shape;
    derived_status status;
    size_t count;
    if (dv->shape(&ctx, &shape) != 0)
        return -1;
    double *G = upstream_values(dv, fc, &shape, &count);
    if (G == NULL)
        return -1;
    oracle_reals G_view = shape.ndim == 2
        ? oracle_mat(G, shape.shape[0], shape.shape[1])
        : oracle_vec(G, shape.shape[0]);
    if (dv->status(&ctx, G_view, &status) != 0) {
        free(G);
        return -1;
    }
    if (strcmp(oracle_status_name(status.forward), fc->error) != 0) {
        fprintf(stderr, "lmr-gen: %s: the case states %s, the oracle's check "
                "gives %s\n", fc->id, fc->error,
                oracle_status_name(status.forward));
        free(G);
        return -1;
    }
    if (status.backward != ORACLE_OK) {
        char comment[1024];
        gen_case c;
        snprintf(comment, sizeof comment, "%s (the inputs of %s, with a "
                 "valid %s)", json_string_value(json_object_get(case_json,
                                                                "comment")),
                 fc->id, dv->upstream);
        gen_case_begin(&c, file, strchr(fc->id, '/') + 1, comment);
        copy_flags(&c, case_json, json_object_get(forward_root, "notes"));
        json_t *source = json_object_get(case_json, "input_source");
        if (source != NULL)
            c.source = json_deep_copy(source);
        json_object_update(c.params, json_object_get(case_json, "params"));
        if (dv->params != NULL)
            dv->params(&c, fc);
        copy_inputs(&c, dv, fc);
        gen_input_f64_nd(&c, dv->upstream, shape.ndim, shape.shape, G);
        gen_invalid(&c, oracle_status_name(status.backward));
        gen_case_end(&c);
    }
    free(G);
    return 0;
}

/* Runs the generator of the vector file name without writing it; *root
 * receives its JSON. 0, or -1 after printing the error. */
static int build_in_memory(const char *name, json_t **root)
{
    gen_function run = gen_find(name);
    *root = NULL;
    if (run == NULL || run(gen_capture_dir) != 0) {
        fprintf(stderr, "lmr-gen: cannot build %s in memory\n", name);
        return -1;
    }
    *root = gen_take_captured();
    return *root != NULL ? 0 : -1;
}

int gen_derive_invalid(gen_file *file)
{
    const derivation *dv = find_derivation(file->op);
    if (dv == NULL) {
        fprintf(stderr, "lmr-gen: %s: no forward op to derive from\n",
                file->op);
        return -1;
    }
    json_t *root;
    if (build_in_memory(dv->forward, &root) != 0)
        return -1;
    vec_file forward;
    char err[512];
    int status = vec_file_from_json(&forward, root, dv->forward, err,
                                    sizeof err);
    if (status != 0)
        fprintf(stderr, "lmr-gen: %s\n", err);
    for (size_t i = 0; status == 0 && i < forward.n_cases; i++)
        if (!forward.cases[i].valid)
            status = derive_case(file, dv, &forward, i, root);
    vec_file_free(&forward);
    json_decref(root);
    return status;
}
