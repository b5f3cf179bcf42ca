/*
 * ref_ops_internal.h -- what the per-family runner files of ref_ops share:
 * allocating named outputs, optional inputs, the reduction names, and the
 * table entry type. Not an interface outside tools/ref_ops*.c.
 */
#ifndef LMR_REF_OPS_INTERNAL_H
#define LMR_REF_OPS_INTERNAL_H

#include <stddef.h>

#include "lmr.h"
#include "op_table.h"
#include "ref_ops.h"
#include "vecio.h"

typedef int (*op_runner)(const vec_ctx *ctx, ref_result *result);

typedef struct {
    const char *op;
    op_runner run;
} ref_op_entry;

/* The gradient ops (tools/refops/ref_ops_grad.c). */
extern const ref_op_entry ref_grad_ops[];
extern const size_t ref_grad_op_count;

/* Adds an output called name of (rows, cols) elements to result; returns
 * it, or NULL with a message on overflow or lack of memory. */
ref_output *ref_add_output(const vec_ctx *ctx, ref_result *result,
                           const char *name, vec_dtype dtype, size_t rows,
                           size_t cols);
/* A float64 output of (rows, cols) elements; NULL after a message. */
double *ref_add_f64(const vec_ctx *ctx, ref_result *result, const char *name,
                    size_t rows, size_t cols);
/* An optional input: NULL when absent; -1 when present with the wrong kind. */
int ref_optional_input(const vec_ctx *ctx, const char *name, size_t ndim,
                       const vec_array **out);

/* ---- views (tools/refops/ref_views.c) ----------------------------------- */

/* Views of a case's arrays with the shapes the file gives them: array is
 * 1-D for ref_vec and ref_ids, 2-D for ref_mat, 3-D for ref_stack. ref_vec of
 * NULL (an absent optional input) is lmr_vec_absent(). */
lmr_vec ref_vec(const vec_array *array);
lmr_mat ref_mat(const vec_array *array);
lmr_stack ref_stack(const vec_array *array);
lmr_ids ref_ids(const vec_array *array);

/* Adds an output called name and stores its view: 0, or -1 after a message
 * (overflow, the element limit, lack of memory). A (rows, cols) matrix, a
 * vector of len doubles, a vector of len int64 ids. */
int ref_add_mat_out(const vec_ctx *ctx, ref_result *result, const char *name,
                    size_t rows, size_t cols, lmr_mat_out *view);
int ref_add_vec_out(const vec_ctx *ctx, ref_result *result, const char *name,
                    size_t len, lmr_vec_out *view);
int ref_add_ids_out(const vec_ctx *ctx, ref_result *result, const char *name,
                    size_t len, lmr_ids_out *view);

/* ---- the head variants' inputs (tools/refops/ref_ops.c) ----------------- */

/* A view of an optional matrix input: the empty view when array is NULL. */
lmr_mat ref_optional_mat(const vec_array *array);

/* The MLP head's weights, and the gated mixture's parameters, from a case:
 * W2 (W_out) in the untied form and E in the tied one, the other left empty;
 * *vocab from the output matrix. 0, or -1 after a message. */
int ref_read_mlp_weights(const vec_ctx *ctx, lmr_head_mlp_weights *weights,
                         size_t *vocab);
int ref_read_mos_gated_params(const vec_ctx *ctx, lmr_mos_gated_params *params,
                              size_t *vocab);

#endif
