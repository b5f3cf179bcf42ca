/* ref_ops.c -- see ref_ops.h. One runner per op, each: fetch, check, call. */
#include "ref_ops.h"

#include <stdlib.h>
#include <string.h>

#include "lmr.h"
#include "ref_ops_internal.h"

ref_output *ref_add_output(const vec_ctx *ctx, ref_result *result,
                              const char *name, vec_dtype dtype, size_t rows,
                              size_t cols)
{
    size_t count;
    ref_output *out = &result->outputs[result->n_outputs];
    if (lmr_array_count(&count, rows, cols) != LMR_OK) {
        vec_fail(ctx, name, "an output of %zu x %zu overflows", rows, cols);
        return NULL;
    }
    if (count > VEC_MAX_ELEMENTS) { /* checked before allocating */
        vec_fail(ctx, name, "an output of %zu x %zu elements is more than "
                 "the limit of " VEC_MAX_ELEMENTS_TEXT " (spec/conventions.md"
                 "#limits)", rows, cols);
        return NULL;
    }
    out->name = name;
    out->dtype = dtype;
    out->count = count;
    if (dtype == VEC_F64)
        out->f64 = calloc(count + 1, sizeof(double));
    else
        out->i64 = calloc(count + 1, sizeof(int64_t));
    if (out->f64 == NULL && out->i64 == NULL) {
        vec_fail(ctx, name, "out of memory");
        return NULL;
    }
    result->n_outputs++;
    return out;
}

double *ref_add_f64(const vec_ctx *ctx, ref_result *result, const char *name,
                    size_t rows, size_t cols)
{
    ref_output *out = ref_add_output(ctx, result, name, VEC_F64, rows, cols);
    return out ? out->f64 : NULL;
}

static int run_embed_lookup(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *E, *ids;
    lmr_mat_out Y;
    if (vec_input(ctx, "E", VEC_F64, 2, &E) || vec_input(ctx, "ids", VEC_I64, 1, &ids))
        return -1;
    if (ref_add_mat_out(ctx, result, "Y", ids->shape[0], E->shape[1], &Y))
        return -1;
    result->status = lmr_embed_lookup(Y, ref_mat(E), ref_ids(ids));
    return 0;
}

static int run_embed_onehot(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *onehot, *E;
    lmr_mat_out Y;
    if (vec_input(ctx, "onehot", VEC_F64, 2, &onehot) ||
        vec_input(ctx, "E", VEC_F64, 2, &E))
        return -1;
    if (ref_add_mat_out(ctx, result, "Y", onehot->shape[0], E->shape[1], &Y))
        return -1;
    result->status = lmr_embed_onehot(Y, ref_mat(onehot), ref_mat(E));
    return 0;
}

static int run_pos_learned(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *P, *positions;
    lmr_mat_out Y;
    if (vec_input(ctx, "P", VEC_F64, 2, &P) ||
        vec_input(ctx, "positions", VEC_I64, 1, &positions))
        return -1;
    if (ref_add_mat_out(ctx, result, "Y", positions->shape[0], P->shape[1], &Y))
        return -1;
    result->status = lmr_pos_learned(Y, ref_mat(P), ref_ids(positions));
    return 0;
}

static int run_pos_sinusoid(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *positions;
    size_t d;
    double base;
    lmr_mat_out Y;
    if (vec_input(ctx, "positions", VEC_I64, 1, &positions) ||
        op_param_size(ctx, "d", &d) ||
        op_param_double(ctx, "base", &base))
        return -1;
    if (ref_add_mat_out(ctx, result, "Y", positions->shape[0], d, &Y))
        return -1;
    result->status = lmr_pos_sinusoid(Y, ref_ids(positions), base);
    return 0;
}

/* Reads the composite's params and optional table into *positions. */
static int read_positions(const vec_ctx *ctx, lmr_positions *positions)
{
    const char *kind;
    memset(positions, 0, sizeof *positions);
    if (op_param_word(ctx, "positions", &kind) ||
        op_param_int64(ctx, "start", &positions->start) ||
        op_param_bool(ctx, "scale_by_sqrt_d", &positions->scale_by_sqrt_d) ||
        op_param_double(ctx, "base", &positions->base))
        return -1;
    if (strcmp(kind, "learned") == 0) {
        const vec_array *P;
        if (vec_input(ctx, "P", VEC_F64, 2, &P))
            return -1;
        positions->kind = LMR_POSITIONS_LEARNED;
        positions->table = ref_mat(P);
    } else if (strcmp(kind, "sinusoid") == 0) {
        positions->kind = LMR_POSITIONS_SINUSOID;
    } else {
        positions->kind = (enum lmr_position_kind)-1; /* rejected by ref */
    }
    return 0;
}

static int run_compose(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *E, *ids;
    lmr_positions positions;
    lmr_mat_out Y;
    if (vec_input(ctx, "E", VEC_F64, 2, &E) ||
        vec_input(ctx, "ids", VEC_I64, 1, &ids) ||
        read_positions(ctx, &positions))
        return -1;
    if (ref_add_mat_out(ctx, result, "Y", ids->shape[0], E->shape[1], &Y))
        return -1;
    result->status = lmr_compose(Y, ref_mat(E), ref_ids(ids), &positions);
    return 0;
}

/* gamma, beta and eps of LayerNorm. */
static int read_affine(const vec_ctx *ctx, const vec_array **gamma,
                       const vec_array **beta, double *eps)
{
    return vec_input(ctx, "gamma", VEC_F64, 1, gamma) ||
           vec_input(ctx, "beta", VEC_F64, 1, beta) ||
           op_param_double(ctx, "eps", eps);
}

static int run_layernorm(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *x, *gamma, *beta;
    double eps;
    lmr_mat_out Y;
    if (vec_input(ctx, "x", VEC_F64, 2, &x) ||
        read_affine(ctx, &gamma, &beta, &eps))
        return -1;
    if (ref_add_mat_out(ctx, result, "Y", x->shape[0], x->shape[1], &Y))
        return -1;
    result->status = lmr_layernorm(Y, ref_mat(x), ref_vec(gamma), ref_vec(beta),
                                   eps);
    return 0;
}

static int run_compose_layernorm(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *E, *ids, *gamma, *beta;
    lmr_positions positions;
    double eps;
    lmr_mat_out Y;
    if (vec_input(ctx, "E", VEC_F64, 2, &E) ||
        vec_input(ctx, "ids", VEC_I64, 1, &ids) ||
        read_positions(ctx, &positions) ||
        read_affine(ctx, &gamma, &beta, &eps))
        return -1;
    if (ref_add_mat_out(ctx, result, "Y", ids->shape[0], E->shape[1], &Y))
        return -1;
    result->status = lmr_compose_layernorm(Y, ref_mat(E), ref_ids(ids),
                                           &positions, ref_vec(gamma),
                                           ref_vec(beta), eps);
    return 0;
}

/* ---- output side ---------------------------------------------------- */

static int run_head_tied(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *h, *E;
    if (vec_input(ctx, "h", VEC_F64, 2, &h) || vec_input(ctx, "E", VEC_F64, 2, &E))
        return -1;
    lmr_mat_out logits;
    if (ref_add_mat_out(ctx, result, "logits", h->shape[0], E->shape[0],
                        &logits))
        return -1;
    result->status = lmr_head_tied(logits, ref_mat(h), ref_mat(E));
    return 0;
}

static int run_head_untied(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *h, *W, *b = vec_case_input(ctx->c, "b");
    if (vec_input(ctx, "h", VEC_F64, 2, &h) || vec_input(ctx, "W", VEC_F64, 2, &W))
        return -1;
    if (b != NULL && vec_input(ctx, "b", VEC_F64, 1, &b))
        return -1;
    lmr_mat_out logits;
    if (ref_add_mat_out(ctx, result, "logits", h->shape[0], W->shape[1],
                        &logits))
        return -1;
    result->status = lmr_head_untied(logits, ref_mat(h), ref_mat(W), ref_vec(b));
    return 0;
}

/* softmax and log_softmax share their inputs and parameter. */
static int run_softmax_like(const vec_ctx *ctx, ref_result *result, int take_log)
{
    const vec_array *logits;
    double tau;
    if (vec_input(ctx, "logits", VEC_F64, 2, &logits) ||
        op_param_double(ctx, "tau", &tau))
        return -1;
    lmr_mat_out out;
    if (ref_add_mat_out(ctx, result, take_log ? "logprobs" : "probs",
                        logits->shape[0], logits->shape[1], &out))
        return -1;
    result->status = take_log ? lmr_log_softmax(out, ref_mat(logits), tau)
                              : lmr_softmax(out, ref_mat(logits), tau);
    return 0;
}

static int run_softmax(const vec_ctx *ctx, ref_result *result)
{
    return run_softmax_like(ctx, result, 0);
}

static int run_log_softmax(const vec_ctx *ctx, ref_result *result)
{
    return run_softmax_like(ctx, result, 1);
}

enum lmr_reduction ref_reduction_named(const char *name)
{
    if (strcmp(name, "none") == 0)
        return LMR_REDUCE_NONE;
    if (strcmp(name, "sum") == 0)
        return LMR_REDUCE_SUM;
    if (strcmp(name, "mean") == 0)
        return LMR_REDUCE_MEAN;
    return (enum lmr_reduction)-1;
}

static int run_cross_entropy(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *logits, *targets;
    const char *reduction_name;
    int64_t ignore_index;
    if (vec_input(ctx, "logits", VEC_F64, 2, &logits) ||
        vec_input(ctx, "targets", VEC_I64, 1, &targets) ||
        op_param_word(ctx, "reduction", &reduction_name) ||
        op_param_int64(ctx, "ignore_index", &ignore_index))
        return -1;
    enum lmr_reduction reduction = ref_reduction_named(reduction_name);
    lmr_vec_out loss;
    if (ref_add_vec_out(ctx, result, "loss",
                        reduction == LMR_REDUCE_NONE ? logits->shape[0] : 1,
                        &loss))
        return -1;
    result->status = lmr_cross_entropy(loss, ref_mat(logits), ref_ids(targets),
                                       reduction, ignore_index);
    return 0;
}

static int run_argmax(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *logits;
    lmr_ids_out token;
    if (vec_input(ctx, "logits", VEC_F64, 2, &logits) ||
        ref_add_ids_out(ctx, result, "token", logits->shape[0], &token))
        return -1;
    result->status = lmr_argmax(token, ref_mat(logits));
    return 0;
}

static int run_sample(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *logits, *r;
    double tau, top_p;
    int64_t top_k;
    lmr_mat_out probs;
    lmr_ids_out token;
    if (vec_input(ctx, "logits", VEC_F64, 2, &logits) ||
        vec_input(ctx, "r", VEC_F64, 1, &r) ||
        op_param_double(ctx, "tau", &tau) ||
        op_param_int64(ctx, "top_k", &top_k) ||
        op_param_double(ctx, "top_p", &top_p))
        return -1;
    size_t n = logits->shape[0], vocab = logits->shape[1];
    if (ref_add_mat_out(ctx, result, "probs", n, vocab, &probs) ||
        ref_add_ids_out(ctx, result, "token", n, &token))
        return -1;
    result->status = lmr_sample(probs, token, ref_mat(logits), ref_vec(r), tau,
                                top_k, top_p);
    return 0;
}

/* gamma and beta of the lens when final_layernorm is true, else absent. */
static int read_lens_affine(const vec_ctx *ctx, int final_layernorm,
                            lmr_vec *gamma, lmr_vec *beta)
{
    const vec_array *g, *b;
    *gamma = *beta = lmr_vec_absent();
    if (!final_layernorm)
        return 0;
    if (vec_input(ctx, "gamma", VEC_F64, 1, &g) ||
        vec_input(ctx, "beta", VEC_F64, 1, &b))
        return -1;
    *gamma = ref_vec(g);
    *beta = ref_vec(b);
    return 0;
}

/* A float64 output called name of (count * rows, cols) in the file, seen as
 * the stack (count, rows, cols); 0, or -1 after a message. */
static int add_stack_out(const vec_ctx *ctx, ref_result *result,
                         const char *name, size_t count, size_t rows,
                         size_t cols, lmr_stack_out *view)
{
    double *data = ref_add_f64(ctx, result, name, count * rows, cols);
    if (data == NULL)
        return -1;
    *view = lmr_stack_out_of(data, count, rows, cols);
    return 0;
}

static int run_logit_lens(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *hidden, *E;
    lmr_vec gamma, beta;
    int64_t top_k;
    int final_layernorm;
    double eps;
    if (vec_input(ctx, "hidden", VEC_F64, 3, &hidden) ||
        vec_input(ctx, "E", VEC_F64, 2, &E) ||
        op_param_int64(ctx, "k", &top_k) ||
        op_param_bool(ctx, "final_layernorm", &final_layernorm) ||
        op_param_double(ctx, "eps", &eps) ||
        read_lens_affine(ctx, final_layernorm, &gamma, &beta))
        return -1;
    size_t layers = hidden->shape[0], n = hidden->shape[1];
    size_t vocab = E->shape[0], rows = layers * n;
    /* a top_k below 1 allocates nothing: ref rejects it */
    size_t width = top_k >= 1 ? (size_t)top_k : 0;
    lmr_logit_lens_outputs out;
    if (add_stack_out(ctx, result, "probs", layers, n, vocab, &out.probs) ||
        ref_add_ids_out(ctx, result, "top_tokens", rows * width,
                        &out.top_tokens) ||
        add_stack_out(ctx, result, "top_probs", layers, n, width,
                      &out.top_probs))
        return -1;
    result->status = lmr_logit_lens(&out, ref_stack(hidden), ref_mat(E), gamma,
                                    beta, top_k, eps);
    return 0;
}

static int run_param_count(const vec_ctx *ctx, ref_result *result)
{
    int64_t vocab, d, block_params;
    lmr_param_counts counts = {0, 0, 0, 0.0};
    if (op_param_int64(ctx, "vocab", &vocab) ||
        op_param_int64(ctx, "d", &d) ||
        op_param_int64(ctx, "block_params", &block_params))
        return -1;
    static const char *const names[] = {"untied", "tied", "saving"};
    ref_output *integers[3];
    for (size_t i = 0; i < 3; i++)
        if ((integers[i] = ref_add_output(ctx, result, names[i], VEC_I64, 1, 1)) == NULL)
            return -1;
    ref_output *relative = ref_add_output(ctx, result, "relative_reduction",
                                      VEC_F64, 1, 1);
    if (relative == NULL)
        return -1;
    result->status = lmr_param_count(&counts, vocab, d, block_params);
    integers[0]->i64[0] = counts.untied;
    integers[1]->i64[0] = counts.tied;
    integers[2]->i64[0] = counts.saving;
    relative->f64[0] = counts.relative;
    return 0;
}

/* ---- head variants --------------------------------------------------- */

int ref_optional_input(const vec_ctx *ctx, const char *name, size_t ndim,
                          const vec_array **out)
{
    *out = vec_case_input(ctx->c, name);
    return *out != NULL ? vec_input(ctx, name, VEC_F64, ndim, out) : 0;
}

lmr_mat ref_optional_mat(const vec_array *array)
{
    return array != NULL ? ref_mat(array) : lmr_mat_of(NULL, 0, 0);
}

static int run_head_partial(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *h, *E, *F;
    int64_t k;
    lmr_mat_out logits;
    if (vec_input(ctx, "h", VEC_F64, 2, &h) || vec_input(ctx, "E", VEC_F64, 2, &E) ||
        ref_optional_input(ctx, "F", 2, &F) || op_param_int64(ctx, "k", &k))
        return -1;
    if (ref_add_mat_out(ctx, result, "logits", h->shape[0], E->shape[0], &logits))
        return -1;
    result->status = lmr_head_partial(logits, ref_mat(h), ref_mat(E),
                                      ref_optional_mat(F), k);
    return 0;
}

static int run_head_transformed(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *h, *T, *E;
    lmr_mat_out logits;
    if (vec_input(ctx, "h", VEC_F64, 2, &h) || vec_input(ctx, "T", VEC_F64, 2, &T) ||
        vec_input(ctx, "E", VEC_F64, 2, &E))
        return -1;
    if (ref_add_mat_out(ctx, result, "logits", h->shape[0], E->shape[0], &logits))
        return -1;
    result->status = lmr_head_transformed(logits, ref_mat(h), ref_mat(T),
                                          ref_mat(E));
    return 0;
}

static int run_head_adaptive(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *h, *E, *F;
    double alpha;
    lmr_mat_out logits;
    if (vec_input(ctx, "h", VEC_F64, 2, &h) || vec_input(ctx, "E", VEC_F64, 2, &E) ||
        vec_input(ctx, "F", VEC_F64, 2, &F) ||
        op_param_double(ctx, "alpha", &alpha))
        return -1;
    if (ref_add_mat_out(ctx, result, "logits", h->shape[0], E->shape[0], &logits))
        return -1;
    result->status = lmr_head_adaptive(logits, ref_mat(h), ref_mat(E),
                                       ref_mat(F), alpha);
    return 0;
}

int ref_read_mlp_weights(const vec_ctx *ctx, lmr_head_mlp_weights *weights,
                         size_t *vocab)
{
    const vec_array *W1, *b1, *W2, *E, *b2;
    int tied;
    if (vec_input(ctx, "W1", VEC_F64, 2, &W1) ||
        ref_optional_input(ctx, "b1", 1, &b1) || ref_optional_input(ctx, "W2", 2, &W2) ||
        ref_optional_input(ctx, "E", 2, &E) || ref_optional_input(ctx, "b2", 1, &b2) ||
        op_param_bool(ctx, "tied", &tied))
        return -1;
    if (tied ? E == NULL : W2 == NULL)
        return vec_fail(ctx, tied ? "inputs.E" : "inputs.W2",
                        "required input is missing");
    weights->W1 = ref_mat(W1);
    weights->b1 = ref_vec(b1);
    weights->W2 = tied ? lmr_mat_of(NULL, 0, 0) : ref_mat(W2);
    weights->E = tied ? ref_mat(E) : lmr_mat_of(NULL, 0, 0);
    weights->b2 = ref_vec(b2);
    *vocab = tied ? E->shape[0] : W2->shape[1];
    return 0;
}

static int run_head_mlp(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *h;
    lmr_head_mlp_weights weights;
    lmr_mat_out logits;
    size_t vocab;
    if (vec_input(ctx, "h", VEC_F64, 2, &h) || ref_read_mlp_weights(ctx, &weights, &vocab))
        return -1;
    if (ref_add_mat_out(ctx, result, "logits", h->shape[0], vocab, &logits))
        return -1;
    result->status = lmr_head_mlp(logits, ref_mat(h), &weights);
    return 0;
}

/* probs and logprobs (n, vocab) of a mixture. */
static int add_mixture_outputs(const vec_ctx *ctx, ref_result *result,
                               size_t n, size_t vocab, lmr_mat_out *probs,
                               lmr_mat_out *logprobs)
{
    return ref_add_mat_out(ctx, result, "probs", n, vocab, probs) ||
           ref_add_mat_out(ctx, result, "logprobs", n, vocab, logprobs);
}

static int run_mos_fixed(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *h, *W, *alpha;
    lmr_mat_out probs, logprobs;
    if (vec_input(ctx, "h", VEC_F64, 2, &h) || vec_input(ctx, "W", VEC_F64, 3, &W) ||
        vec_input(ctx, "alpha", VEC_F64, 1, &alpha))
        return -1;
    if (add_mixture_outputs(ctx, result, h->shape[0], W->shape[2], &probs, &logprobs))
        return -1;
    result->status = lmr_mos_fixed(probs, logprobs, ref_mat(h), ref_stack(W),
                                   ref_vec(alpha));
    return 0;
}

int ref_read_mos_gated_params(const vec_ctx *ctx, lmr_mos_gated_params *params,
                              size_t *vocab)
{
    const vec_array *W_pi, *W_comp, *b_comp, *W_out, *E, *b_out;
    int tied;
    if (vec_input(ctx, "W_pi", VEC_F64, 2, &W_pi) ||
        vec_input(ctx, "W_comp", VEC_F64, 3, &W_comp) ||
        vec_input(ctx, "b_comp", VEC_F64, 2, &b_comp) ||
        ref_optional_input(ctx, "W_out", 2, &W_out) || ref_optional_input(ctx, "E", 2, &E) ||
        ref_optional_input(ctx, "b_out", 1, &b_out) ||
        op_param_bool(ctx, "tied", &tied))
        return -1;
    if (tied ? E == NULL : W_out == NULL)
        return vec_fail(ctx, tied ? "inputs.E" : "inputs.W_out",
                        "required input is missing");
    params->W_pi = ref_mat(W_pi);
    params->W_comp = ref_stack(W_comp);
    params->b_comp = ref_mat(b_comp);
    params->W_out = tied ? lmr_mat_of(NULL, 0, 0) : ref_mat(W_out);
    params->E = tied ? ref_mat(E) : lmr_mat_of(NULL, 0, 0);
    params->b_out = ref_vec(b_out);
    *vocab = tied ? E->shape[0] : W_out->shape[1];
    return 0;
}

static int run_mos_gated(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *h;
    lmr_mos_gated_params params;
    lmr_mat_out probs, logprobs;
    size_t vocab;
    if (vec_input(ctx, "h", VEC_F64, 2, &h) ||
        ref_read_mos_gated_params(ctx, &params, &vocab))
        return -1;
    if (add_mixture_outputs(ctx, result, h->shape[0], vocab, &probs, &logprobs))
        return -1;
    result->status = lmr_mos_gated(probs, logprobs, ref_mat(h), &params);
    return 0;
}

static int run_soft_tie_loss(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *h, *E, *W, *targets;
    const char *reduction_name;
    double lambda;
    int64_t ignore_index;
    lmr_soft_tie values = {0.0, 0.0, 0.0};
    if (vec_input(ctx, "h", VEC_F64, 2, &h) || vec_input(ctx, "E", VEC_F64, 2, &E) ||
        vec_input(ctx, "W", VEC_F64, 2, &W) ||
        vec_input(ctx, "targets", VEC_I64, 1, &targets) ||
        op_param_double(ctx, "lambda", &lambda) ||
        op_param_word(ctx, "reduction", &reduction_name) ||
        op_param_int64(ctx, "ignore_index", &ignore_index))
        return -1;
    static const char *const names[] = {"loss", "cross_entropy", "penalty"};
    ref_output *outputs[3];
    for (size_t i = 0; i < 3; i++)
        if ((outputs[i] = ref_add_output(ctx, result, names[i], VEC_F64, 1, 1)) == NULL)
            return -1;
    lmr_soft_tie_weights weights = {ref_mat(E), ref_mat(W)};
    result->status = lmr_soft_tie_loss(&values, ref_mat(h), &weights,
                                       ref_ids(targets), lambda,
                                       ref_reduction_named(reduction_name),
                                       ignore_index);
    outputs[0]->f64[0] = values.loss;
    outputs[1]->f64[0] = values.cross_entropy;
    outputs[2]->f64[0] = values.penalty;
    return 0;
}

/* ---- attention ------------------------------------------------------ */

static int run_attention_weights(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *Q, *K, *key_mask = vec_case_input(ctx->c, "key_mask");
    int causal;
    lmr_mat_out weights;
    if (vec_input(ctx, "Q", VEC_F64, 2, &Q) || vec_input(ctx, "K", VEC_F64, 2, &K) ||
        op_param_bool(ctx, "causal", &causal))
        return -1;
    if (key_mask != NULL && vec_input(ctx, "key_mask", VEC_I64, 1, &key_mask))
        return -1;
    if (ref_add_mat_out(ctx, result, "weights", Q->shape[0], K->shape[0],
                        &weights))
        return -1;
    lmr_ids mask = key_mask ? ref_ids(key_mask) : lmr_ids_of(NULL, 0);
    result->status = lmr_attention_weights(weights, ref_mat(Q), ref_mat(K),
                                           mask, causal);
    return 0;
}

/* ---- analysis --------------------------------------------------------- */

static int run_pca(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *X;
    int64_t k;
    if (vec_input(ctx, "X", VEC_F64, 2, &X) || op_param_int64(ctx, "k", &k))
        return -1;
    size_t n = X->shape[0], d = X->shape[1];
    /* a k outside [1, min(n, d)] allocates nothing: ref rejects it */
    size_t width = (k >= 1 && (uint64_t)k <= (n < d ? n : d)) ? (size_t)k : 0;
    lmr_pca_outputs out;
    if (ref_add_vec_out(ctx, result, "mean", d, &out.mean) ||
        ref_add_mat_out(ctx, result, "components", width, d, &out.components) ||
        ref_add_vec_out(ctx, result, "variances", width, &out.variances) ||
        ref_add_vec_out(ctx, result, "ratios", width, &out.ratios) ||
        ref_add_mat_out(ctx, result, "projections", n, width,
                        &out.projections) ||
        ref_add_mat_out(ctx, result, "reconstruction", n, d,
                        &out.reconstruction))
        return -1;
    result->status = lmr_pca(&out, ref_mat(X), k);
    return 0;
}

static const ref_op_entry runners[] = {
    {"embed_lookup", run_embed_lookup},
    {"embed_onehot", run_embed_onehot},
    {"pos_learned", run_pos_learned},
    {"pos_sinusoid", run_pos_sinusoid},
    {"compose", run_compose},
    {"layernorm", run_layernorm},
    {"compose_layernorm", run_compose_layernorm},
    {"head_tied", run_head_tied},
    {"head_untied", run_head_untied},
    {"softmax", run_softmax},
    {"log_softmax", run_log_softmax},
    {"cross_entropy", run_cross_entropy},
    {"argmax", run_argmax},
    {"sample", run_sample},
    {"logit_lens", run_logit_lens},
    {"param_count", run_param_count},
    {"head_partial", run_head_partial},
    {"head_transformed", run_head_transformed},
    {"head_adaptive", run_head_adaptive},
    {"head_mlp", run_head_mlp},
    {"mos_fixed", run_mos_fixed},
    {"mos_gated", run_mos_gated},
    {"soft_tie_loss", run_soft_tie_loss},
    {"attention_weights", run_attention_weights},
    {"pca", run_pca},
};

static op_runner find_runner(const char *op)
{
    for (size_t i = 0; i < sizeof runners / sizeof runners[0]; i++)
        if (strcmp(runners[i].op, op) == 0)
            return runners[i].run;
    for (size_t i = 0; i < ref_grad_op_count; i++)
        if (strcmp(ref_grad_ops[i].op, op) == 0)
            return ref_grad_ops[i].run;
    return NULL;
}

int ref_op_known(const char *op)
{
    return find_runner(op) != NULL;
}

const char *ref_op_name(size_t i)
{
    size_t forward = sizeof runners / sizeof runners[0];
    if (i < forward)
        return runners[i].op;
    return i - forward < ref_grad_op_count ? ref_grad_ops[i - forward].op : NULL;
}

int ref_run(const vec_file *file, const vec_case *c, ref_result *result,
            char *err, size_t errlen)
{
    vec_ctx ctx = {file, c, err, errlen};
    op_runner run = find_runner(file->op);
    memset(result, 0, sizeof *result);
    if (run == NULL)
        return vec_fail(&ctx, "op", "unknown op '%s'", file->op);
    return run(&ctx, result);
}

const ref_output *ref_result_output(const ref_result *result, const char *name)
{
    for (size_t i = 0; i < result->n_outputs; i++)
        if (strcmp(result->outputs[i].name, name) == 0)
            return &result->outputs[i];
    return NULL;
}

void ref_result_free(ref_result *result)
{
    for (size_t i = 0; i < result->n_outputs; i++) {
        free(result->outputs[i].f64);
        free(result->outputs[i].i64);
    }
    memset(result, 0, sizeof *result);
}
