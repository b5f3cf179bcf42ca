/* ref_ops.c -- see ref_ops.h. One runner per op, each: fetch, check, call. */
#include "ref_ops.h"

#include <stdlib.h>
#include <string.h>

#include "lmr.h"

/* Allocates result->Y for (rows, cols); -1 with a message on overflow. */
static int allocate_output(const vec_ctx *ctx, ref_result *result,
                           size_t rows, size_t cols)
{
    size_t count;
    result->rows = rows;
    result->cols = cols;
    if (lmr_array_count(&count, rows, cols) != LMR_OK)
        return vec_fail(ctx, "expected.Y", "output of %zu x %zu overflows",
                        rows, cols);
    result->Y = calloc(count + 1, sizeof(double));
    if (result->Y == NULL)
        return vec_fail(ctx, "expected.Y", "out of memory");
    return 0;
}

static int run_embed_lookup(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *E, *ids;
    if (vec_input(ctx, "E", VEC_F64, 2, &E) || vec_input(ctx, "ids", VEC_I64, 1, &ids))
        return -1;
    size_t vocab = E->shape[0], d = E->shape[1], n = ids->shape[0];
    if (allocate_output(ctx, result, n, d))
        return -1;
    result->status = lmr_embed_lookup(result->Y, E->f64, ids->i64, n, vocab, d);
    return 0;
}

static int run_embed_onehot(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *onehot, *E;
    if (vec_input(ctx, "onehot", VEC_F64, 2, &onehot) ||
        vec_input(ctx, "E", VEC_F64, 2, &E))
        return -1;
    size_t n = onehot->shape[0], vocab = E->shape[0], d = E->shape[1];
    if (allocate_output(ctx, result, n, d))
        return -1;
    if (onehot->shape[1] != vocab)
        result->status = LMR_EDIM;
    else
        result->status = lmr_embed_onehot(result->Y, onehot->f64, E->f64, n,
                                          vocab, d);
    return 0;
}

static int run_pos_learned(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *P, *positions;
    if (vec_input(ctx, "P", VEC_F64, 2, &P) ||
        vec_input(ctx, "positions", VEC_I64, 1, &positions))
        return -1;
    size_t max_len = P->shape[0], d = P->shape[1], n = positions->shape[0];
    if (allocate_output(ctx, result, n, d))
        return -1;
    result->status = lmr_pos_learned(result->Y, P->f64, positions->i64, n,
                                     max_len, d);
    return 0;
}

static int run_pos_sinusoid(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *positions;
    size_t d;
    double base;
    if (vec_input(ctx, "positions", VEC_I64, 1, &positions) ||
        vec_param_size(ctx, "d", 1, 0, &d) ||
        vec_param_double(ctx, "base", 0, LMR_SINUSOID_DEFAULT_BASE, &base))
        return -1;
    size_t n = positions->shape[0];
    if (allocate_output(ctx, result, n, d))
        return -1;
    result->status = lmr_pos_sinusoid(result->Y, positions->i64, n, d, base);
    return 0;
}

/* Reads the composite's params and optional table into *positions. */
static int read_positions(const vec_ctx *ctx, lmr_positions *positions)
{
    const char *kind;
    memset(positions, 0, sizeof *positions);
    if (vec_param_string(ctx, "positions", 1, NULL, &kind) ||
        vec_param_int64(ctx, "start", 0, 0, &positions->start) ||
        vec_param_bool(ctx, "scale_by_sqrt_d", 0, 0,
                       &positions->scale_by_sqrt_d) ||
        vec_param_double(ctx, "base", 0, LMR_SINUSOID_DEFAULT_BASE,
                         &positions->base))
        return -1;
    if (strcmp(kind, "learned") == 0) {
        const vec_array *P;
        if (vec_input(ctx, "P", VEC_F64, 2, &P))
            return -1;
        positions->kind = LMR_POSITIONS_LEARNED;
        positions->table = P->f64;
        positions->max_len = P->shape[0];
        positions->width = P->shape[1];
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
    if (vec_input(ctx, "E", VEC_F64, 2, &E) ||
        vec_input(ctx, "ids", VEC_I64, 1, &ids) ||
        read_positions(ctx, &positions))
        return -1;
    size_t vocab = E->shape[0], d = E->shape[1], n = ids->shape[0];
    if (allocate_output(ctx, result, n, d))
        return -1;
    result->status = lmr_compose(result->Y, E->f64, ids->i64, &positions, n,
                                 vocab, d);
    return 0;
}

/* gamma and beta, which must both have d entries (else status LMR_EDIM). */
static int read_affine(const vec_ctx *ctx, size_t d, const vec_array **gamma,
                       const vec_array **beta, double *eps, int *shapes_agree)
{
    if (vec_input(ctx, "gamma", VEC_F64, 1, gamma) ||
        vec_input(ctx, "beta", VEC_F64, 1, beta) ||
        vec_param_double(ctx, "eps", 1, 0.0, eps))
        return -1;
    *shapes_agree = (*gamma)->shape[0] == d && (*beta)->shape[0] == d;
    return 0;
}

static int run_layernorm(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *x, *gamma, *beta;
    double eps;
    int shapes_agree;
    if (vec_input(ctx, "x", VEC_F64, 2, &x))
        return -1;
    size_t n = x->shape[0], d = x->shape[1];
    if (read_affine(ctx, d, &gamma, &beta, &eps, &shapes_agree) ||
        allocate_output(ctx, result, n, d))
        return -1;
    result->status = shapes_agree
        ? lmr_layernorm(result->Y, x->f64, gamma->f64, beta->f64, n, d, eps)
        : LMR_EDIM;
    return 0;
}

static int run_compose_layernorm(const vec_ctx *ctx, ref_result *result)
{
    const vec_array *E, *ids, *gamma, *beta;
    lmr_positions positions;
    double eps;
    int shapes_agree;
    if (vec_input(ctx, "E", VEC_F64, 2, &E) ||
        vec_input(ctx, "ids", VEC_I64, 1, &ids) ||
        read_positions(ctx, &positions))
        return -1;
    size_t vocab = E->shape[0], d = E->shape[1], n = ids->shape[0];
    if (read_affine(ctx, d, &gamma, &beta, &eps, &shapes_agree) ||
        allocate_output(ctx, result, n, d))
        return -1;
    result->status = shapes_agree
        ? lmr_compose_layernorm(result->Y, E->f64, ids->i64, &positions,
                                gamma->f64, beta->f64, n, vocab, d, eps)
        : LMR_EDIM;
    return 0;
}

typedef int (*op_runner)(const vec_ctx *ctx, ref_result *result);

static const struct {
    const char *op;
    op_runner run;
} runners[] = {
    {"embed_lookup", run_embed_lookup},
    {"embed_onehot", run_embed_onehot},
    {"pos_learned", run_pos_learned},
    {"pos_sinusoid", run_pos_sinusoid},
    {"compose", run_compose},
    {"layernorm", run_layernorm},
    {"compose_layernorm", run_compose_layernorm},
};

static op_runner find_runner(const char *op)
{
    for (size_t i = 0; i < sizeof runners / sizeof runners[0]; i++)
        if (strcmp(runners[i].op, op) == 0)
            return runners[i].run;
    return NULL;
}

int ref_op_known(const char *op)
{
    return find_runner(op) != NULL;
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

void ref_result_free(ref_result *result)
{
    free(result->Y);
    memset(result, 0, sizeof *result);
}
