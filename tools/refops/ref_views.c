/* ref_views.c -- views (ref/lmr_view.h) of a case's arrays and of the
 * outputs the runners allocate; see ref_ops_internal.h. The views carry the
 * shapes the vector file gives, unchanged: whether they agree is for the
 * library to say (spec/api.md#views). */
#include "ref_ops_internal.h"

lmr_vec ref_vec(const vec_array *array)
{
    if (array == NULL)
        return lmr_vec_absent();
    return lmr_vec_of(array->f64, array->count);
}

lmr_mat ref_mat(const vec_array *array)
{
    return lmr_mat_of(array->f64, array->shape[0], array->shape[1]);
}

lmr_stack ref_stack(const vec_array *array)
{
    return lmr_stack_of(array->f64, array->shape[0], array->shape[1],
                        array->shape[2]);
}

lmr_ids ref_ids(const vec_array *array)
{
    return lmr_ids_of(array->i64, array->count);
}

int ref_add_mat_out(const vec_ctx *ctx, ref_result *result, const char *name,
                    size_t rows, size_t cols, lmr_mat_out *view)
{
    ref_output *out = ref_add_output(ctx, result, name, VEC_F64, rows, cols);
    if (out == NULL)
        return -1;
    *view = lmr_mat_out_of(out->f64, rows, cols);
    return 0;
}

int ref_add_vec_out(const vec_ctx *ctx, ref_result *result, const char *name,
                    size_t len, lmr_vec_out *view)
{
    ref_output *out = ref_add_output(ctx, result, name, VEC_F64, 1, len);
    if (out == NULL)
        return -1;
    *view = lmr_vec_out_of(out->f64, len);
    return 0;
}

int ref_add_ids_out(const vec_ctx *ctx, ref_result *result, const char *name,
                    size_t len, lmr_ids_out *view)
{
    ref_output *out = ref_add_output(ctx, result, name, VEC_I64, 1, len);
    if (out == NULL)
        return -1;
    *view = lmr_ids_out_of(out->i64, len);
    return 0;
}
