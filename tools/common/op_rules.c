/*
 * op_rules.c -- the functions of op_table.h that read the table: finding an
 * op, its inputs, params and outputs; the shape of an output in a case; a
 * param of a case with the table's default.
 */
#include "op_table.h"

#include <string.h>

/* ---- finding ------------------------------------------------------------- */

const op_desc *op_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < op_table_count; i++)
        if (strcmp(op_table[i].name, name) == 0)
            return &op_table[i];
    return NULL;
}

const op_desc *op_find_by_file(const char *file)
{
    for (size_t i = 0; file != NULL && i < op_table_count; i++)
        for (size_t f = 0; f < OP_MAX_FILES && op_table[i].files[f]; f++)
            if (strcmp(op_table[i].files[f], file) == 0)
                return &op_table[i];
    return NULL;
}

size_t op_input_count(const op_desc *op)
{
    size_t count = 0;
    while (count < OP_MAX_INPUTS && op->inputs[count].name != NULL)
        count++;
    return count;
}

size_t op_param_count(const op_desc *op)
{
    size_t count = 0;
    while (count < OP_MAX_PARAMS && op->params[count].name != NULL)
        count++;
    return count;
}

size_t op_output_count(const op_desc *op)
{
    size_t count = 0;
    while (count < OP_MAX_OUTPUTS && op->outputs[count].name != NULL)
        count++;
    return count;
}

const op_input *op_find_input(const op_desc *op, const char *name)
{
    for (size_t i = 0; i < op_input_count(op); i++)
        if (strcmp(op->inputs[i].name, name) == 0)
            return &op->inputs[i];
    return NULL;
}

const op_param *op_find_param(const op_desc *op, const char *name)
{
    for (size_t i = 0; i < op_param_count(op); i++)
        if (strcmp(op->params[i].name, name) == 0)
            return &op->params[i];
    return NULL;
}

const op_output *op_find_output(const op_desc *op, const char *name)
{
    for (size_t i = 0; i < op_output_count(op); i++)
        if (strcmp(op->outputs[i].name, name) == 0)
            return &op->outputs[i];
    return NULL;
}

const char *op_param_kind_name(op_param_kind kind)
{
    switch (kind) {
    case PARAM_DOUBLE: return "number";
    case PARAM_INT: return "integer";
    case PARAM_BOOL: return "true/false";
    case PARAM_WORD: return "word";
    }
    return "?";
}

/* ---- shapes ---------------------------------------------------------------- */

/* The size of `axis` of the case's input `name`: 0, or -1 if the case has
 * no such input or the input has no such axis. */
static int input_axis(const vec_case *c, const char *name, size_t axis,
                      size_t *size)
{
    const vec_array *input = vec_case_input(c, name);
    if (input == NULL || axis >= input->ndim)
        return -1;
    *size = input->shape[axis];
    return 0;
}

/* The value of the case's integer param `name`, if >= 0: 0, or -1. */
static int param_value(const vec_case *c, const char *name, size_t *size)
{
    const json_t *value = json_object_get(c->params, name);
    if (!json_is_integer(value) || json_integer_value(value) < 0)
        return -1;
    *size = (size_t)json_integer_value(value);
    return 0;
}

/* One dimension of a SHAPE_DIMS rule: 0, or -1 when it does not resolve. */
static int resolve_dim(const op_dim *dim, const vec_case *c, size_t *size)
{
    switch (dim->kind) {
    case DIM_AXIS:
        if (input_axis(c, dim->name, dim->axis, size) == 0)
            return 0;
        if (dim->alternative == NULL)
            return -1;
        if (dim->alternative[0] == '\0') { /* AXIS_OR_ZERO: input absent */
            *size = 0;
            return vec_case_input(c, dim->name) == NULL ? 0 : -1;
        }
        return input_axis(c, dim->alternative, dim->alternative_axis, size);
    case DIM_PARAM:
        return param_value(c, dim->name, size);
    case DIM_ZERO:
        *size = 0;
        return 0;
    case DIM_END:
        break;
    }
    return -1;
}

/* PER_ROW: [n] under reduction "none", else [1]. */
static size_t per_row_shape(const op_desc *op, const op_output *output,
                            const vec_case *c, size_t *shape)
{
    const char *reduction = json_string_value(json_object_get(c->params,
                                                              "reduction"));
    const op_param *param = op_find_param(op, "reduction");
    if (reduction == NULL && param != NULL)
        reduction = param->default_word;
    if (reduction != NULL && strcmp(reduction, "none") == 0)
        return input_axis(c, output->like, 0, &shape[0]) == 0 ? 1 : 0;
    shape[0] = 1;
    return 1;
}

size_t op_output_shape(const op_desc *op, const op_output *output,
                       const vec_case *c, size_t *shape /* (VEC_MAX_DIMS) */)
{
    const vec_array *like;
    size_t ndim = 0;
    switch (output->shape) {
    case SHAPE_ONE:
        shape[0] = 1;
        return 1;
    case SHAPE_PER_ROW:
        return per_row_shape(op, output, c, shape);
    case SHAPE_LIKE_INPUT:
        like = vec_case_input(c, output->like);
        if (like == NULL)
            return 0;
        memcpy(shape, like->shape, like->ndim * sizeof *shape);
        return like->ndim;
    case SHAPE_DIMS:
        for (; ndim < VEC_MAX_DIMS && output->dims[ndim].kind != DIM_END; ndim++)
            if (resolve_dim(&output->dims[ndim], c, &shape[ndim]) != 0)
                return 0;
        return ndim;
    }
    return 0;
}

size_t op_result_shape(const char *op_name, const char *output_name,
                       const vec_case *c, size_t count,
                       size_t *shape /* (VEC_MAX_DIMS) */)
{
    const op_desc *op = op_find(op_name);
    const op_output *output = op ? op_find_output(op, output_name) : NULL;
    size_t ndim = output ? op_output_shape(op, output, c, shape) : 0;
    size_t product = 1;
    for (size_t k = 0; k < ndim; k++)
        product *= shape[k];
    if (ndim == 0 || product != count) {
        shape[0] = count;
        ndim = 1;
    }
    return ndim;
}

/* ---- params ------------------------------------------------------------------ */

/* The table's entry for param `name` of the context's op. An op or param the
 * table does not know is a programming error of the caller, reported as a
 * malformed case so that it cannot pass unnoticed. */
static const op_param *context_param(const vec_ctx *ctx, const char *name)
{
    const op_desc *op = op_find(ctx->file->op);
    const op_param *param = op ? op_find_param(op, name) : NULL;
    if (param == NULL)
        vec_fail(ctx, name, "the op table has no param '%s' for op '%s'",
                 name, ctx->file->op);
    return param;
}

int op_param_double(const vec_ctx *ctx, const char *name, double *out)
{
    const op_param *param = context_param(ctx, name);
    return param ? vec_param_double(ctx, name, param->required,
                                    param->default_number, out) : -1;
}

int op_param_int64(const vec_ctx *ctx, const char *name, int64_t *out)
{
    const op_param *param = context_param(ctx, name);
    return param ? vec_param_int64(ctx, name, param->required,
                                   param->default_integer, out) : -1;
}

int op_param_size(const vec_ctx *ctx, const char *name, size_t *out)
{
    const op_param *param = context_param(ctx, name);
    return param ? vec_param_size(ctx, name, param->required,
                                  (size_t)param->default_integer, out) : -1;
}

int op_param_bool(const vec_ctx *ctx, const char *name, int *out)
{
    const op_param *param = context_param(ctx, name);
    return param ? vec_param_bool(ctx, name, param->required,
                                  (int)param->default_integer, out) : -1;
}

int op_param_word(const vec_ctx *ctx, const char *name, const char **out)
{
    const op_param *param = context_param(ctx, name);
    return param ? vec_param_string(ctx, name, param->required,
                                    param->default_word, out) : -1;
}
