/*
 * op_json.c -- the op table as JSON (op_table.h): what `lmr --list --json`
 * prints and tools/common/ops.json holds, for programs that are not in C
 * (the Python testees read op, input, param and output names from it).
 * spec/protocol.md#the-op-table describes the format.
 */
#include "op_table.h"

static json_t *input_json(const op_input *input)
{
    return json_pack("{s:s, s:s, s:I, s:b, s:s}", "name", input->name,
                     "dtype", input->dtype == VEC_I64 ? "int64" : "float64",
                     "ndim", (json_int_t)input->ndim, "optional", input->optional,
                     "about", input->about);
}

static const char *kind_word(op_param_kind kind)
{
    switch (kind) {
    case PARAM_DOUBLE: return "number";
    case PARAM_INT: return "integer";
    case PARAM_BOOL: return "boolean";
    case PARAM_WORD: return "string";
    }
    return "?";
}

/* The default in JSON, or null for a required param. */
static json_t *default_json(const op_param *param)
{
    if (param->required)
        return json_null();
    switch (param->kind) {
    case PARAM_DOUBLE: return vecw_double(param->default_number);
    case PARAM_INT: return json_integer((json_int_t)param->default_integer);
    case PARAM_BOOL: return json_boolean(param->default_integer);
    case PARAM_WORD: return json_string(param->default_word);
    }
    return json_null();
}

static json_t *param_json(const op_param *param)
{
    return json_pack("{s:s, s:s, s:b, s:o, s:s, s:s}", "name", param->name,
                     "type", kind_word(param->kind), "required", param->required,
                     "default", default_json(param), "range", param->range,
                     "about", param->about);
}

static json_t *dim_json(const op_dim *dim)
{
    if (dim->kind == DIM_PARAM)
        return json_pack("{s:s}", "param", dim->name);
    if (dim->kind == DIM_ZERO)
        return json_pack("{s:i}", "size", 0);
    json_t *object = json_pack("{s:s, s:I}", "input", dim->name,
                               "axis", (json_int_t)dim->axis);
    if (dim->alternative != NULL && dim->alternative[0] == '\0')
        json_object_set_new(object, "when_absent", json_integer(0));
    else if (dim->alternative != NULL)
        json_object_set_new(object, "when_absent", json_pack(
            "{s:s, s:I}", "input", dim->alternative,
            "axis", (json_int_t)dim->alternative_axis));
    return object;
}

static json_t *shape_json(const op_output *output)
{
    json_t *dims;
    switch (output->shape) {
    case SHAPE_ONE:
        return json_pack("{s:s}", "rule", "one");
    case SHAPE_PER_ROW:
        return json_pack("{s:s, s:s}", "rule", "per_row", "input", output->like);
    case SHAPE_LIKE_INPUT:
        return json_pack("{s:s, s:s}", "rule", "like", "input", output->like);
    case SHAPE_DIMS:
        dims = json_array();
        for (size_t k = 0; k < VEC_MAX_DIMS && output->dims[k].kind != DIM_END; k++)
            json_array_append_new(dims, dim_json(&output->dims[k]));
        return json_pack("{s:s, s:o}", "rule", "dims", "dims", dims);
    }
    return json_null();
}

static json_t *output_json(const op_output *output)
{
    return json_pack("{s:s, s:s, s:o, s:b, s:s}", "name", output->name,
                     "dtype", output->dtype == VEC_I64 ? "int64" : "float64",
                     "shape", shape_json(output), "optional", output->optional,
                     "about", output->about);
}

static json_t *op_json(const op_desc *op)
{
    json_t *files = json_array(), *inputs = json_array();
    json_t *params = json_array(), *outputs = json_array();
    for (size_t f = 0; f < OP_MAX_FILES && op->files[f]; f++)
        json_array_append_new(files, json_string(op->files[f]));
    for (size_t i = 0; i < op_input_count(op); i++)
        json_array_append_new(inputs, input_json(&op->inputs[i]));
    for (size_t i = 0; i < op_param_count(op); i++)
        json_array_append_new(params, param_json(&op->params[i]));
    for (size_t i = 0; i < op_output_count(op); i++)
        json_array_append_new(outputs, output_json(&op->outputs[i]));
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "name", op->name,
                     "equation", op->equation, "ref_function", op->ref_function,
                     "spec", op->spec, "files", files, "inputs", inputs,
                     "params", params, "outputs", outputs);
}

json_t *op_table_json(void)
{
    json_t *ops = json_array();
    for (size_t i = 0; i < op_table_count; i++)
        json_array_append_new(ops, op_json(&op_table[i]));
    return json_pack("{s:s, s:i, s:s, s:o}", "format", "lmref-ops",
                     "format_version", 1, "source", "tools/common/op_table.c",
                     "ops", ops);
}
