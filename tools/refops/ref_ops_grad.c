/*
 * ref_ops_grad.c -- runners for the backward ops and the end-to-end tied
 * model (spec/gradients.md). Each: fetch the case's inputs, allocate the
 * named gradient outputs, call ref/ with views of the file's shapes (ref/
 * judges whether they agree: spec/api.md#views).
 */
#include <stdint.h>
#include <string.h>

#include "ref_ops_internal.h"

/* rows * cols as the column count of a 3-D output (k, rows, cols); 0 with a
 * message when it overflows. */
static int inner_count(const vec_ctx *ctx, const char *name, size_t rows,
                       size_t cols, size_t *count)
{
    if (lmr_array_count(count, rows, cols) != LMR_OK)
        return vec_fail(ctx, name, "an output of %zu x %zu overflows", rows, cols);
    return 0;
}

/* ---- input side -------------------------------------------------------- */

/* Lookup and learned positions: the same scatter-add, into a gradient of
 * (rows_param, dY's width). */
static int run_scatter_backward(const vec_ctx *ctx, ref_result *result,
                                const char *index_name, const char *rows_param,
                                const char *output_name)
{
    const vec_array *index, *dY;
    size_t table_rows;
    lmr_mat_out grad;
    if (vec_input(ctx, index_name, VEC_I64, 1, &index) ||
        vec_input(ctx, "dY", VEC_F64, 2, &dY) ||
        op_param_size(ctx, rows_param, &table_rows))
        return -1;
    if (ref_add_mat_out(ctx, result, output_name, table_rows, dY->shape[1],
                        &grad))
        return -1;
    if (strcmp(index_name, "ids") == 0)
        result->status = lmr_embed_lookup_backward(grad, ref_ids(index),
                                                   ref_mat(dY));
    else
        result->status = lmr_pos_learned_backward(grad, ref_ids(index),
                                                  ref_mat(dY));
    return 0;
}

static int run_embed_lookup_backward(const vec_ctx *ctx, ref_result *result)
{
    return run_scatter_backward(ctx, result, "ids", "vocab", "dE");
}

static int run_pos_learned_backward(const vec_ctx *ctx, ref_result *result)
{
    return run_scatter_backward(ctx, result, "positions", "max_len", "dP");
}

static int run_layernorm_backward(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *x, *gamma, *dY;
    double eps;
    lmr_mat_out dx;
    lmr_vec_out dgamma, dbeta;
    if (vec_input(ctx, "x", VEC_F64, 2, &x) ||
        vec_input(ctx, "gamma", VEC_F64, 1, &gamma) ||
        vec_input(ctx, "dY", VEC_F64, 2, &dY) ||
        op_param_double(ctx, "eps", &eps))
        return -1;
    size_t n = x->shape[0], d = x->shape[1];
    if (ref_add_mat_out(ctx, result, "dx", n, d, &dx) ||
        ref_add_vec_out(ctx, result, "dgamma", d, &dgamma) ||
        ref_add_vec_out(ctx, result, "dbeta", d, &dbeta))
        return -1;
    result->status = lmr_layernorm_backward(dx, dgamma, dbeta, ref_mat(x),
                                            ref_vec(gamma), ref_mat(dY), eps);
    return 0;
}

/* ---- output side ------------------------------------------------------- */

static int run_head_tied_backward(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *h, *E, *dU;
    lmr_mat_out dh, dE;
    if (vec_input(ctx, "h", VEC_F64, 2, &h) || vec_input(ctx, "E", VEC_F64, 2, &E) ||
        vec_input(ctx, "dlogits", VEC_F64, 2, &dU))
        return -1;
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    if (ref_add_mat_out(ctx, result, "dh", n, d, &dh) ||
        ref_add_mat_out(ctx, result, "dE", vocab, d, &dE))
        return -1;
    result->status = lmr_head_tied_backward(dh, dE, ref_mat(h), ref_mat(E),
                                            ref_mat(dU));
    return 0;
}

static int run_head_untied_backward(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *h, *W, *dU;
    lmr_mat_out dh, dW;
    lmr_vec_out db;
    if (vec_input(ctx, "h", VEC_F64, 2, &h) || vec_input(ctx, "W", VEC_F64, 2, &W) ||
        vec_input(ctx, "dlogits", VEC_F64, 2, &dU))
        return -1;
    size_t n = h->shape[0], d = h->shape[1], vocab = W->shape[1];
    if (ref_add_mat_out(ctx, result, "dh", n, d, &dh) ||
        ref_add_mat_out(ctx, result, "dW", d, vocab, &dW) ||
        ref_add_vec_out(ctx, result, "db", vocab, &db))
        return -1;
    result->status = lmr_head_untied_backward(dh, dW, db, ref_mat(h), ref_mat(W),
                                              ref_mat(dU));
    return 0;
}

/* softmax and log_softmax backward share their inputs and outputs. */
static int run_softmax_like_backward(const vec_ctx *ctx, ref_result *result,
                                     int take_log)
{
    const char *upstream = take_log ? "dlogprobs" : "dprobs";
    const vec_array *logits, *G;
    double tau;
    lmr_mat_out dlogits;
    lmr_vec_out dtau;
    if (vec_input(ctx, "logits", VEC_F64, 2, &logits) ||
        vec_input(ctx, upstream, VEC_F64, 2, &G) ||
        op_param_double(ctx, "tau", &tau))
        return -1;
    if (ref_add_mat_out(ctx, result, "dlogits", logits->shape[0],
                        logits->shape[1], &dlogits) ||
        ref_add_vec_out(ctx, result, "dtau", 1, &dtau))
        return -1;
    if (take_log)
        result->status = lmr_log_softmax_backward(dlogits, dtau.data,
                                                  ref_mat(logits), ref_mat(G),
                                                  tau);
    else
        result->status = lmr_softmax_backward(dlogits, dtau.data,
                                              ref_mat(logits), ref_mat(G), tau);
    return 0;
}

static int run_softmax_backward(const vec_ctx *ctx, ref_result *result)
{
    return run_softmax_like_backward(ctx, result, 0);
}

static int run_log_softmax_backward(const vec_ctx *ctx, ref_result *result)
{
    return run_softmax_like_backward(ctx, result, 1);
}

/* Reads reduction and ignore_index, the cross-entropy's parameters. */
static int read_loss_params(const vec_ctx *ctx, enum lmr_reduction *reduction,
                            int64_t *ignore_index)
{
    const char *name;
    if (op_param_word(ctx, "reduction", &name) ||
        op_param_int64(ctx, "ignore_index", ignore_index))
        return -1;
    *reduction = ref_reduction_named(name);
    return 0;
}

static int run_cross_entropy_backward(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *logits, *targets, *dloss;
    enum lmr_reduction reduction;
    int64_t ignore_index;
    if (vec_input(ctx, "logits", VEC_F64, 2, &logits) ||
        vec_input(ctx, "targets", VEC_I64, 1, &targets) ||
        vec_input(ctx, "dloss", VEC_F64, 1, &dloss) ||
        read_loss_params(ctx, &reduction, &ignore_index))
        return -1;
    lmr_mat_out dlogits;
    if (ref_add_mat_out(ctx, result, "dlogits", logits->shape[0],
                        logits->shape[1], &dlogits))
        return -1;
    result->status = lmr_cross_entropy_backward(dlogits, ref_mat(logits),
                                                ref_ids(targets), ref_vec(dloss),
                                                reduction, ignore_index);
    return 0;
}

/* ---- head variants ----------------------------------------------------- */

static int run_head_partial_backward(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *h, *E, *F, *dU;
    lmr_mat_out dh, dE, dF;
    int64_t k;
    if (vec_input(ctx, "h", VEC_F64, 2, &h) || vec_input(ctx, "E", VEC_F64, 2, &E) ||
        ref_optional_input(ctx, "F", 2, &F) ||
        vec_input(ctx, "dlogits", VEC_F64, 2, &dU) ||
        op_param_int64(ctx, "k", &k))
        return -1;
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    if (ref_add_mat_out(ctx, result, "dh", n, d, &dh) ||
        ref_add_mat_out(ctx, result, "dE", vocab, d, &dE) ||
        ref_add_mat_out(ctx, result, "dF", d, F ? F->shape[1] : 0, &dF))
        return -1;
    result->status = lmr_head_partial_backward(dh, dE, dF, ref_mat(h), ref_mat(E),
                                               ref_optional_mat(F), ref_mat(dU), k);
    return 0;
}

static int run_head_transformed_backward(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *h, *T, *E, *dU;
    lmr_mat_out dh, dT, dE;
    if (vec_input(ctx, "h", VEC_F64, 2, &h) || vec_input(ctx, "T", VEC_F64, 2, &T) ||
        vec_input(ctx, "E", VEC_F64, 2, &E) ||
        vec_input(ctx, "dlogits", VEC_F64, 2, &dU))
        return -1;
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    if (ref_add_mat_out(ctx, result, "dh", n, d, &dh) ||
        ref_add_mat_out(ctx, result, "dT", d, d, &dT) ||
        ref_add_mat_out(ctx, result, "dE", vocab, d, &dE))
        return -1;
    result->status = lmr_head_transformed_backward(dh, dT, dE, ref_mat(h),
                                                   ref_mat(T), ref_mat(E),
                                                   ref_mat(dU));
    return 0;
}

static int run_head_adaptive_backward(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *h, *E, *F, *dU;
    lmr_head_adaptive_grads grads;
    lmr_vec_out dalpha;
    double alpha;
    if (vec_input(ctx, "h", VEC_F64, 2, &h) || vec_input(ctx, "E", VEC_F64, 2, &E) ||
        vec_input(ctx, "F", VEC_F64, 2, &F) ||
        vec_input(ctx, "dlogits", VEC_F64, 2, &dU) ||
        op_param_double(ctx, "alpha", &alpha))
        return -1;
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    if (ref_add_mat_out(ctx, result, "dh", n, d, &grads.dh) ||
        ref_add_mat_out(ctx, result, "dE", vocab, d, &grads.dE) ||
        ref_add_mat_out(ctx, result, "dF", d, vocab, &grads.dF) ||
        ref_add_vec_out(ctx, result, "dalpha", 1, &dalpha))
        return -1;
    grads.dalpha = dalpha.data;
    result->status = lmr_head_adaptive_backward(&grads, ref_mat(h), ref_mat(E),
                                                ref_mat(F), ref_mat(dU), alpha);
    return 0;
}

static int run_head_mlp_backward(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *h, *dU;
    lmr_head_mlp_weights weights;
    lmr_head_mlp_grads grads;
    size_t vocab;
    if (vec_input(ctx, "h", VEC_F64, 2, &h) ||
        ref_read_mlp_weights(ctx, &weights, &vocab) ||
        vec_input(ctx, "dlogits", VEC_F64, 2, &dU))
        return -1;
    int tied = weights.W2.rows == 0 || weights.W2.cols == 0;
    size_t n = h->shape[0], d = h->shape[1], m = weights.W1.cols;
    lmr_mat_out *dout = tied ? &grads.dE : &grads.dW2;
    grads.dW2 = grads.dE = lmr_mat_out_of(NULL, 0, 0);
    if (ref_add_mat_out(ctx, result, "dh", n, d, &grads.dh) ||
        ref_add_mat_out(ctx, result, "dW1", d, m, &grads.dW1) ||
        ref_add_vec_out(ctx, result, "db1", m, &grads.db1) ||
        ref_add_mat_out(ctx, result, tied ? "dE" : "dW2", tied ? vocab : m,
                        tied ? d : vocab, dout) ||
        ref_add_vec_out(ctx, result, "db2", vocab, &grads.db2))
        return -1;
    result->status = lmr_head_mlp_backward(&grads, ref_mat(h), &weights,
                                           ref_mat(dU));
    return 0;
}

static int run_mos_fixed_backward(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *h, *W, *alpha, *G;
    lmr_mat_out dh;
    lmr_vec_out dalpha;
    size_t inner;
    if (vec_input(ctx, "h", VEC_F64, 2, &h) || vec_input(ctx, "W", VEC_F64, 3, &W) ||
        vec_input(ctx, "alpha", VEC_F64, 1, &alpha) ||
        vec_input(ctx, "dlogprobs", VEC_F64, 2, &G))
        return -1;
    size_t n = h->shape[0], d = h->shape[1], K = W->shape[0], vocab = W->shape[2];
    if (inner_count(ctx, "dW", d, vocab, &inner))
        return -1;
    double *dW = NULL;
    if (ref_add_mat_out(ctx, result, "dh", n, d, &dh) ||
        (dW = ref_add_f64(ctx, result, "dW", K, inner)) == NULL ||
        ref_add_vec_out(ctx, result, "dalpha", K, &dalpha))
        return -1;
    result->status = lmr_mos_fixed_backward(dh, lmr_stack_out_of(dW, K, d, vocab),
                                            dalpha, ref_mat(h), ref_stack(W),
                                            ref_vec(alpha), ref_mat(G));
    return 0;
}

static int run_mos_gated_backward(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *h, *G;
    lmr_mos_gated_params params;
    lmr_mos_gated_grads grads;
    size_t vocab, inner;
    if (vec_input(ctx, "h", VEC_F64, 2, &h) ||
        ref_read_mos_gated_params(ctx, &params, &vocab) ||
        vec_input(ctx, "dlogprobs", VEC_F64, 2, &G))
        return -1;
    int tied = params.W_out.rows == 0 || params.W_out.cols == 0;
    size_t n = h->shape[0], d = h->shape[1], K = params.W_pi.cols;
    if (inner_count(ctx, "dW_comp", d, d, &inner))
        return -1;
    lmr_mat_out *dout = tied ? &grads.dE : &grads.dW_out;
    double *dW_comp = NULL;
    grads.dW_out = grads.dE = lmr_mat_out_of(NULL, 0, 0);
    if (ref_add_mat_out(ctx, result, "dh", n, d, &grads.dh) ||
        ref_add_mat_out(ctx, result, "dW_pi", d, K, &grads.dW_pi) ||
        (dW_comp = ref_add_f64(ctx, result, "dW_comp", K, inner)) == NULL ||
        ref_add_mat_out(ctx, result, "db_comp", K, d, &grads.db_comp) ||
        ref_add_mat_out(ctx, result, tied ? "dE" : "dW_out", tied ? vocab : d,
                        tied ? d : vocab, dout) ||
        ref_add_vec_out(ctx, result, "db_out", vocab, &grads.db_out))
        return -1;
    grads.dW_comp = lmr_stack_out_of(dW_comp, K, d, d);
    result->status = lmr_mos_gated_backward(&grads, ref_mat(h), &params,
                                            ref_mat(G));
    return 0;
}

static int run_soft_tie_loss_backward(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *h, *E, *W, *targets, *dloss;
    lmr_soft_tie_grads grads;
    enum lmr_reduction reduction;
    int64_t ignore_index;
    double lambda;
    if (vec_input(ctx, "h", VEC_F64, 2, &h) || vec_input(ctx, "E", VEC_F64, 2, &E) ||
        vec_input(ctx, "W", VEC_F64, 2, &W) ||
        vec_input(ctx, "targets", VEC_I64, 1, &targets) ||
        vec_input(ctx, "dloss", VEC_F64, 1, &dloss) ||
        op_param_double(ctx, "lambda", &lambda) ||
        read_loss_params(ctx, &reduction, &ignore_index))
        return -1;
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    if (ref_add_mat_out(ctx, result, "dh", n, d, &grads.dh) ||
        ref_add_mat_out(ctx, result, "dE", vocab, d, &grads.dE) ||
        ref_add_mat_out(ctx, result, "dW", d, vocab, &grads.dW))
        return -1;
    lmr_soft_tie_weights weights = {ref_mat(E), ref_mat(W)};
    result->status = lmr_soft_tie_loss_backward(&grads, ref_mat(h), &weights,
                                                ref_ids(targets), ref_vec(dloss),
                                                lambda, reduction, ignore_index);
    return 0;
}

/* ---- the fused linear cross-entropy ------------------------------------ */

static int run_linear_cross_entropy(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *h, *E, *targets, *dloss;
    enum lmr_reduction reduction;
    int64_t ignore_index;
    int return_dE;
    if (vec_input(ctx, "h", VEC_F64, 2, &h) || vec_input(ctx, "E", VEC_F64, 2, &E) ||
        vec_input(ctx, "targets", VEC_I64, 1, &targets) ||
        vec_input(ctx, "dloss", VEC_F64, 1, &dloss) ||
        read_loss_params(ctx, &reduction, &ignore_index) ||
        op_param_bool(ctx, "return_dE", &return_dE))
        return -1;
    size_t n = h->shape[0], d = h->shape[1], vocab = E->shape[0];
    size_t loss_count = reduction == LMR_REDUCE_NONE ? n : 1;
    lmr_linear_cross_entropy_outputs out = {.dE = {NULL, 0, 0}};
    if (ref_add_vec_out(ctx, result, "loss", loss_count, &out.loss) ||
        ref_add_mat_out(ctx, result, "dh", n, d, &out.dh) ||
        (return_dE && ref_add_mat_out(ctx, result, "dE", vocab, d, &out.dE)))
        return -1;
    result->status = lmr_linear_cross_entropy(&out, ref_mat(h), ref_mat(E),
                                              ref_ids(targets), ref_vec(dloss),
                                              reduction, ignore_index);
    return 0;
}

/* ---- the tied model end to end ----------------------------------------- */

/* The middle a word of the file names; an unknown word gives a value
 * lmr_tied_lm_check rejects (LMR_EDOMAIN). */
static enum lmr_middle middle_named(const char *name)
{
    if (strcmp(name, "identity") == 0)
        return LMR_MIDDLE_IDENTITY;
    if (strcmp(name, "matrix") == 0)
        return LMR_MIDDLE_MATRIX;
    return (enum lmr_middle)-1;
}

/* Reads tied_lm's case into model. */
static int read_tied_lm(const vec_ctx *ctx, lmr_tied_lm_model *model)
{
    const vec_array *ids, *targets, *E, *P, *gamma = NULL, *beta = NULL, *M = NULL;
    const char *middle, *reduction;
    int layernorm;
    memset(model, 0, sizeof *model);
    if (vec_input(ctx, "ids", VEC_I64, 1, &ids) ||
        vec_input(ctx, "targets", VEC_I64, 1, &targets) ||
        vec_input(ctx, "E", VEC_F64, 2, &E) || vec_input(ctx, "P", VEC_F64, 2, &P) ||
        op_param_bool(ctx, "layernorm", &layernorm) ||
        op_param_double(ctx, "eps", &model->eps) ||
        op_param_word(ctx, "middle", &middle) ||
        op_param_word(ctx, "reduction", &reduction) ||
        op_param_int64(ctx, "ignore_index", &model->ignore_index))
        return -1;
    if (layernorm && (vec_input(ctx, "gamma", VEC_F64, 1, &gamma) ||
                      vec_input(ctx, "beta", VEC_F64, 1, &beta)))
        return -1;
    model->middle = middle_named(middle);
    if (model->middle == LMR_MIDDLE_MATRIX && vec_input(ctx, "M", VEC_F64, 2, &M))
        return -1;
    model->ids = ref_ids(ids);
    model->targets = ref_ids(targets);
    model->E = ref_mat(E);
    model->P = ref_mat(P);
    model->gamma = ref_vec(gamma); /* absent: no LayerNorm */
    model->beta = ref_vec(beta);
    model->M = M ? ref_mat(M) : lmr_mat_of(NULL, 0, 0); /* absent: identity */
    model->reduction = ref_reduction_named(reduction);
    return 0;
}

static int run_tied_lm(const vec_ctx *ctx, ref_result *result)
{
    lmr_tied_lm_model model;
    if (read_tied_lm(ctx, &model))
        return -1;
    size_t vocab = model.E.rows, d = model.E.cols;
    lmr_tied_lm_grads grads = {.dgamma = {NULL, 0}, .dbeta = {NULL, 0}};
    if (ref_add_vec_out(ctx, result, "loss", 1, &grads.loss) ||
        ref_add_mat_out(ctx, result, "dE", vocab, d, &grads.dE) ||
        ref_add_mat_out(ctx, result, "dE_input", vocab, d, &grads.dE_input) ||
        ref_add_mat_out(ctx, result, "dE_output", vocab, d, &grads.dE_output) ||
        ref_add_mat_out(ctx, result, "dP", model.P.rows, d, &grads.dP))
        return -1;
    if ((model.gamma.len > 0 || model.beta.len > 0) &&
        (ref_add_vec_out(ctx, result, "dgamma", d, &grads.dgamma) ||
         ref_add_vec_out(ctx, result, "dbeta", d, &grads.dbeta)))
        return -1;
    result->status = lmr_tied_lm(&grads, &model);
    return 0;
}

/* ---- attention ----------------------------------------------------- */

static int run_attention_weights_backward(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *Q, *K, *G, *key_mask = vec_case_input(ctx->c, "key_mask");
    int causal;
    lmr_mat_out dQ, dK;
    if (vec_input(ctx, "Q", VEC_F64, 2, &Q) || vec_input(ctx, "K", VEC_F64, 2, &K) ||
        vec_input(ctx, "dweights", VEC_F64, 2, &G) || op_param_bool(ctx, "causal", &causal))
        return -1;
    if (key_mask != NULL && vec_input(ctx, "key_mask", VEC_I64, 1, &key_mask))
        return -1;
    if (ref_add_mat_out(ctx, result, "dQ", Q->shape[0], Q->shape[1], &dQ) ||
        ref_add_mat_out(ctx, result, "dK", K->shape[0], K->shape[1], &dK))
        return -1;
    lmr_ids mask = key_mask ? ref_ids(key_mask) : lmr_ids_of(NULL, 0);
    result->status = lmr_attention_weights_backward(dQ, dK, ref_mat(Q), ref_mat(K),
                                                    mask, ref_mat(G), causal);
    return 0;
}

const ref_op_entry ref_grad_ops[] = {
    {"embed_lookup_backward", run_embed_lookup_backward},
    {"pos_learned_backward", run_pos_learned_backward},
    {"layernorm_backward", run_layernorm_backward},
    {"head_tied_backward", run_head_tied_backward},
    {"head_untied_backward", run_head_untied_backward},
    {"softmax_backward", run_softmax_backward},
    {"log_softmax_backward", run_log_softmax_backward},
    {"cross_entropy_backward", run_cross_entropy_backward},
    {"head_partial_backward", run_head_partial_backward},
    {"head_transformed_backward", run_head_transformed_backward},
    {"head_adaptive_backward", run_head_adaptive_backward},
    {"head_mlp_backward", run_head_mlp_backward},
    {"mos_fixed_backward", run_mos_fixed_backward},
    {"mos_gated_backward", run_mos_gated_backward},
    {"soft_tie_loss_backward", run_soft_tie_loss_backward},
    {"attention_weights_backward", run_attention_weights_backward},
    {"linear_cross_entropy", run_linear_cross_entropy},
    {"tied_lm", run_tied_lm},
};

const size_t ref_grad_op_count = sizeof ref_grad_ops / sizeof ref_grad_ops[0];
