/* vecio.c -- see vecio.h and spec/format.md. */
#include "vecio.h"

#include "recipe.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char *const class_names[VEC_CLASS_COUNT] = {"fp64", "fp32",
                                                         "bf16", "fp16"};

const char *vec_class_name(int cls)
{
    return (cls >= 0 && cls < VEC_CLASS_COUNT) ? class_names[cls] : "?";
}

int vec_class_from_name(const char *name)
{
    for (int cls = 0; cls < VEC_CLASS_COUNT; cls++)
        if (strcmp(name, class_names[cls]) == 0)
            return cls;
    return -1;
}

/* ---- error messages ---------------------------------------------------- */

int vec_fail(const vec_ctx *ctx, const char *field, const char *fmt, ...)
{
    char detail[VEC_ERRLEN];
    va_list args;
    va_start(args, fmt);
    vsnprintf(detail, sizeof detail, fmt, args);
    va_end(args);
    if (ctx->c != NULL && ctx->c->id != NULL)
        snprintf(ctx->err, ctx->errlen, "%s: case '%s': field '%s': %s",
                 ctx->file->path, ctx->c->id, field, detail);
    else
        snprintf(ctx->err, ctx->errlen, "%s: field '%s': %s", ctx->file->path,
                 field, detail);
    return -1;
}

/* A short rendering of a JSON value for messages (caller frees). */
static char *render(const json_t *value)
{
    char *text = value ? json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT)
                       : NULL;
    if (text != NULL && strlen(text) > 60)
        strcpy(text + 57, "...");
    return text ? text : strdup("(missing)");
}

static int fail_value(const vec_ctx *ctx, const char *field,
                      const json_t *value, const char *problem)
{
    char *shown = render(value);
    vec_fail(ctx, field, "%s (value: %s)", problem, shown);
    free(shown);
    return -1;
}

/* ---- numbers ----------------------------------------------------------- */

int vec_decode_double(const json_t *value, double *out)
{
    if (json_is_real(value)) {
        *out = json_real_value(value);
        return 0;
    }
    if (json_is_integer(value)) {
        *out = (double)json_integer_value(value);
        return 0;
    }
    if (json_is_string(value)) {
        const char *text = json_string_value(value);
        if (strcmp(text, "inf") == 0)
            *out = INFINITY;
        else if (strcmp(text, "-inf") == 0)
            *out = -INFINITY;
        else if (strcmp(text, "nan") == 0)
            *out = NAN;
        else if (strcmp(text, "-0") == 0)
            *out = -0.0;
        else
            return -1;
        return 0;
    }
    return -1;
}

json_t *vecw_double(double value)
{
    if (isnan(value))
        return json_string("nan");
    if (isinf(value))
        return json_string(value > 0 ? "inf" : "-inf");
    if (value == 0.0 && signbit(value))
        return json_string("-0");
    return json_real(value);
}

/* ---- arrays ------------------------------------------------------------ */

static void array_free(vec_array *array)
{
    free(array->name);
    free(array->f64);
    free(array->i64);
    memset(array, 0, sizeof *array);
}

static int decode_shape(const vec_ctx *ctx, const char *field,
                        const json_t *shape, vec_array *array)
{
    size_t limit = SIZE_MAX / sizeof(double);
    if (!json_is_array(shape) || json_array_size(shape) == 0 ||
        json_array_size(shape) > VEC_MAX_DIMS)
        return fail_value(ctx, field, shape,
                          "shape must be an array of 1 to 4 sizes");
    array->ndim = json_array_size(shape);
    array->count = 1;
    for (size_t i = 0; i < array->ndim; i++) {
        const json_t *dim = json_array_get(shape, i);
        json_int_t size = json_is_integer(dim) ? json_integer_value(dim) : -1;
        if (size < 0)
            return fail_value(ctx, field, shape,
                              "shape entries must be non-negative integers");
        array->shape[i] = (size_t)size;
        if (size != 0 && array->count > limit / (size_t)size)
            return fail_value(ctx, field, shape, "shape product overflows");
        array->count *= (size_t)size;
    }
    return 0;
}

static int decode_data(const vec_ctx *ctx, const char *field,
                       const json_t *data, vec_array *array)
{
    if (!json_is_array(data) || json_array_size(data) != array->count) {
        char problem[96];
        snprintf(problem, sizeof problem,
                 "data must be an array of %zu elements (the shape's product)",
                 array->count);
        return fail_value(ctx, field, data, problem);
    }
    size_t bytes = array->count ? array->count : 1;
    if (array->dtype == VEC_F64)
        array->f64 = malloc(bytes * sizeof(double));
    else
        array->i64 = malloc(bytes * sizeof(int64_t));
    if (array->f64 == NULL && array->i64 == NULL)
        return vec_fail(ctx, field, "out of memory for %zu elements",
                        array->count);
    for (size_t i = 0; i < array->count; i++) {
        const json_t *element = json_array_get(data, i);
        char where[160];
        snprintf(where, sizeof where, "%s.data[%zu]", field, i);
        if (array->dtype == VEC_F64) {
            if (vec_decode_double(element, &array->f64[i]) != 0)
                return fail_value(ctx, where, element,
                                  "not a number, \"inf\", \"-inf\", \"nan\" or \"-0\"");
        } else {
            if (!json_is_integer(element))
                return fail_value(ctx, where, element, "not an integer");
            array->i64[i] = json_integer_value(element);
        }
    }
    return 0;
}

/* Regenerates a {"generator", "checksum"} input (spec/format.md#generated-
 * inputs) into array->f64 and checks its checksum. */
static int decode_generated(const vec_ctx *ctx, const char *field,
                            const json_t *object, vec_array *array)
{
    const json_t *generator = json_object_get(object, "generator");
    const char *name = json_string_value(json_object_get(generator, "name"));
    const json_t *seed = json_object_get(generator, "seed");
    const json_t *bits = json_object_get(generator, "bits");
    const json_t *shift = json_object_get(generator, "shift");
    const char *checksum = json_string_value(
        json_object_get(json_object_get(object, "checksum"), "fnv1a64"));
    char where[160], computed[17];
    snprintf(where, sizeof where, "%s.generator", field);
    if (array->dtype != VEC_F64 || name == NULL ||
        strcmp(name, RECIPE_NAME) != 0 || !json_is_integer(seed) ||
        json_integer_value(seed) < 0 || !json_is_integer(bits) ||
        json_integer_value(bits) < 1 || json_integer_value(bits) > 53 ||
        !json_is_integer(shift) || json_integer_value(shift) < 0 ||
        json_integer_value(shift) > 1074)
        return fail_value(ctx, where, generator,
                          "a float64 \"" RECIPE_NAME "\" recipe with seed >= 0, "
                          "bits in [1, 53] and shift in [0, 1074] is required");
    array->f64 = malloc((array->count ? array->count : 1) * sizeof(double));
    if (array->f64 == NULL)
        return vec_fail(ctx, field, "out of memory for %zu elements",
                        array->count);
    recipe_dyadic(array->f64, array->count,
                  (uint64_t)json_integer_value(seed),
                  (int)json_integer_value(bits), (int)json_integer_value(shift));
    snprintf(computed, sizeof computed, "%016llx",
             (unsigned long long)recipe_fnv1a64(array->f64, array->count));
    snprintf(where, sizeof where, "%s.checksum.fnv1a64", field);
    if (checksum == NULL || strcmp(checksum, computed) != 0)
        return fail_value(ctx, where,
                          json_object_get(json_object_get(object, "checksum"),
                                          "fnv1a64"),
                          "does not match the regenerated values");
    return 0;
}

/* Decodes {"dtype", "shape", "data"} (or a generated input) into array. */
static int decode_array(const vec_ctx *ctx, const char *field,
                        const char *name, const json_t *object,
                        vec_array *array)
{
    const char *dtype = json_string_value(json_object_get(object, "dtype"));
    char where[160];
    if (!json_is_object(object))
        return fail_value(ctx, field, object,
                          "must be an object with dtype, shape and data");
    array->name = strdup(name);
    snprintf(where, sizeof where, "%s.dtype", field);
    if (dtype != NULL && strcmp(dtype, "float64") == 0)
        array->dtype = VEC_F64;
    else if (dtype != NULL && strcmp(dtype, "int64") == 0)
        array->dtype = VEC_I64;
    else
        return fail_value(ctx, where, json_object_get(object, "dtype"),
                          "dtype must be \"float64\" or \"int64\"");
    snprintf(where, sizeof where, "%s.shape", field);
    if (decode_shape(ctx, where, json_object_get(object, "shape"), array) != 0)
        return -1;
    if (json_object_get(object, "generator") != NULL)
        return decode_generated(ctx, field, object, array);
    return decode_data(ctx, field, json_object_get(object, "data"), array);
}

/* ---- cases ------------------------------------------------------------- */

static int decode_inputs(const vec_ctx *ctx, vec_case *c, const json_t *inputs)
{
    const char *name;
    const json_t *object;
    if (!json_is_object(inputs))
        return fail_value(ctx, "inputs", inputs, "must be an object");
    c->inputs = calloc(json_object_size(inputs) + 1, sizeof *c->inputs);
    if (c->inputs == NULL)
        return vec_fail(ctx, "inputs", "out of memory");
    json_object_foreach((json_t *)inputs, name, object) {
        char field[128];
        snprintf(field, sizeof field, "inputs.%s", name);
        if (decode_array(ctx, field, name, object, &c->inputs[c->n_inputs++]))
            return -1;
    }
    return 0;
}

static int decode_scale_tolerance(const vec_ctx *ctx, const char *name,
                                  const json_t *entry, vec_expected *out)
{
    char field[128];
    const json_t *scale = json_object_get(entry, "scale");
    snprintf(field, sizeof field, "tolerance.%s", name);
    if (vec_decode_double(json_object_get(entry, "k"), &out->k) != 0 ||
        !(out->k >= 0) || isinf(out->k))
        return fail_value(ctx, field, json_object_get(entry, "k"),
                          "k must be a finite number >= 0");
    if (!json_is_array(scale) || json_array_size(scale) != out->value.count)
        return fail_value(ctx, field, scale,
                          "scale must have one entry per expected element");
    out->scale = malloc((out->value.count + 1) * sizeof(double));
    if (out->scale == NULL)
        return vec_fail(ctx, field, "out of memory");
    for (size_t i = 0; i < out->value.count; i++) {
        const json_t *element = json_array_get(scale, i);
        if (vec_decode_double(element, &out->scale[i]) != 0 ||
            !(out->scale[i] >= 0) || isinf(out->scale[i])) {
            snprintf(field, sizeof field, "tolerance.%s.scale[%zu]", name, i);
            return fail_value(ctx, field, element,
                              "a scale must be a finite number >= 0");
        }
    }
    return 0;
}

static int decode_class_list(const vec_ctx *ctx, const char *field,
                             const json_t *list, unsigned *classes);

/* One {"index", "classes", "values"} entry of an index output. */
static int decode_accept_entry(const vec_ctx *ctx, const char *field,
                               const json_t *entry, size_t count,
                               vec_accept *accept)
{
    const json_t *index = json_object_get(entry, "index");
    const json_t *values = json_object_get(entry, "values");
    if (!json_is_integer(index) || json_integer_value(index) < 0 ||
        (size_t)json_integer_value(index) >= count)
        return fail_value(ctx, field, index, "index must address an element");
    accept->index = (size_t)json_integer_value(index);
    if (decode_class_list(ctx, field, json_object_get(entry, "classes"),
                          &accept->classes) != 0)
        return -1;
    if (!json_is_array(values) || json_array_size(values) == 0)
        return fail_value(ctx, field, values, "values must be a non-empty array");
    accept->values = malloc(json_array_size(values) * sizeof(int64_t));
    if (accept->values == NULL)
        return vec_fail(ctx, field, "out of memory");
    for (size_t i = 0; i < json_array_size(values); i++) {
        const json_t *value = json_array_get(values, i);
        if (!json_is_integer(value))
            return fail_value(ctx, field, value, "values must be integers");
        accept->values[accept->count++] = json_integer_value(value);
    }
    return 0;
}

static int decode_exact_tolerance(const vec_ctx *ctx, const char *name,
                                  const json_t *entry, vec_expected *out)
{
    char field[128];
    const json_t *accept = json_object_get(entry, "accept");
    snprintf(field, sizeof field, "tolerance.%s", name);
    if (!json_is_true(json_object_get(entry, "exact")))
        return fail_value(ctx, field, entry,
                          "an int64 output needs {\"exact\": true}");
    if (accept == NULL)
        return 0;
    if (!json_is_array(accept))
        return fail_value(ctx, field, accept, "accept must be an array");
    out->accept = calloc(json_array_size(accept) + 1, sizeof *out->accept);
    if (out->accept == NULL)
        return vec_fail(ctx, field, "out of memory");
    for (size_t i = 0; i < json_array_size(accept); i++) {
        snprintf(field, sizeof field, "tolerance.%s.accept[%zu]", name, i);
        out->n_accept++;
        if (decode_accept_entry(ctx, field, json_array_get(accept, i),
                                out->value.count, &out->accept[i]) != 0)
            return -1;
    }
    return 0;
}

static int decode_tolerance(const vec_ctx *ctx, const char *name,
                            const json_t *tolerance, vec_expected *out)
{
    char field[128];
    const json_t *entry = json_object_get(tolerance, name);
    snprintf(field, sizeof field, "tolerance.%s", name);
    if (!json_is_object(entry))
        return fail_value(ctx, field, entry, "missing tolerance for output");
    if (out->value.dtype == VEC_F64)
        return decode_scale_tolerance(ctx, name, entry, out);
    return decode_exact_tolerance(ctx, name, entry, out);
}

static int decode_expected(const vec_ctx *ctx, vec_case *c,
                           const json_t *expected, const json_t *tolerance)
{
    const char *name;
    const json_t *object;
    if (!json_is_object(expected) || json_object_size(expected) == 0)
        return fail_value(ctx, "expected", expected,
                          "a valid case needs a non-empty expected object");
    if (!json_is_object(tolerance) ||
        json_object_size(tolerance) != json_object_size(expected))
        return fail_value(ctx, "tolerance", tolerance,
                          "needs one entry per expected output");
    c->expected = calloc(json_object_size(expected), sizeof *c->expected);
    if (c->expected == NULL)
        return vec_fail(ctx, "expected", "out of memory");
    json_object_foreach((json_t *)expected, name, object) {
        char field[128];
        vec_expected *out = &c->expected[c->n_expected++];
        snprintf(field, sizeof field, "expected.%s", name);
        if (decode_array(ctx, field, name, object, &out->value) != 0)
            return -1;
        if (decode_tolerance(ctx, name, tolerance, out) != 0)
            return -1;
    }
    return 0;
}

static int decode_class_list(const vec_ctx *ctx, const char *field,
                             const json_t *list, unsigned *classes)
{
    size_t i;
    const json_t *entry;
    *classes = 0;
    if (!json_is_array(list) || json_array_size(list) == 0)
        return fail_value(ctx, field, list,
                          "must be a non-empty array of class names");
    json_array_foreach(list, i, entry) {
        const char *name = json_string_value(entry);
        int cls = name ? vec_class_from_name(name) : -1;
        if (cls < 0)
            return fail_value(ctx, field, entry,
                              "unknown class (fp64, fp32, bf16, fp16)");
        *classes |= 1u << cls;
    }
    return 0;
}

static int decode_classes(const vec_ctx *ctx, vec_case *c, const json_t *list)
{
    return decode_class_list(ctx, "classes", list, &c->classes);
}

static int decode_flags(const vec_ctx *ctx, const json_t *flags,
                        const json_t *notes)
{
    size_t i;
    const json_t *flag;
    if (!json_is_array(flags))
        return fail_value(ctx, "flags", flags, "must be an array of strings");
    json_array_foreach(flags, i, flag) {
        const char *name = json_string_value(flag);
        if (name == NULL || json_object_get(notes, name) == NULL)
            return fail_value(ctx, "flags", flag,
                              "flag not explained in the file's notes");
    }
    return 0;
}

static int decode_result(const vec_ctx *ctx, vec_case *c, const json_t *json)
{
    const char *result = json_string_value(json_object_get(json, "result"));
    if (result != NULL && strcmp(result, "valid") == 0) {
        c->valid = 1;
        return decode_expected(ctx, c, json_object_get(json, "expected"),
                               json_object_get(json, "tolerance"));
    }
    if (result != NULL && strcmp(result, "invalid") == 0) {
        c->error = json_string_value(json_object_get(json, "error"));
        if (c->error == NULL || strncmp(c->error, "LMR_E", 5) != 0)
            return fail_value(ctx, "error", json_object_get(json, "error"),
                              "an invalid case names a status like \"LMR_EINDEX\"");
        return 0;
    }
    return fail_value(ctx, "result", json_object_get(json, "result"),
                      "must be \"valid\" or \"invalid\"");
}

static int decode_case(const vec_file *file, vec_case *c, const json_t *json,
                       size_t index, char *err, size_t errlen)
{
    vec_ctx ctx = {file, NULL, err, errlen};
    char field[32];
    snprintf(field, sizeof field, "cases[%zu].id", index);
    c->id = json_string_value(json_object_get(json, "id"));
    if (!json_is_object(json) || c->id == NULL || c->id[0] == '\0')
        return fail_value(&ctx, field, json_object_get(json, "id"),
                          "every case needs a non-empty string id");
    ctx.c = c;
    if (!json_is_string(json_object_get(json, "comment")))
        return fail_value(&ctx, "comment", json_object_get(json, "comment"),
                          "must be a string");
    c->params = json_object_get(json, "params");
    if (!json_is_object(c->params))
        return fail_value(&ctx, "params", c->params, "must be an object");
    if (decode_flags(&ctx, json_object_get(json, "flags"),
                     json_object_get(file->root, "notes")) != 0 ||
        decode_classes(&ctx, c, json_object_get(json, "classes")) != 0 ||
        decode_inputs(&ctx, c, json_object_get(json, "inputs")) != 0)
        return -1;
    return decode_result(&ctx, c, json);
}

static void case_free(vec_case *c)
{
    for (size_t i = 0; i < c->n_inputs; i++)
        array_free(&c->inputs[i]);
    for (size_t i = 0; i < c->n_expected; i++) {
        vec_expected *out = &c->expected[i];
        array_free(&out->value);
        free(out->scale);
        for (size_t a = 0; a < out->n_accept; a++)
            free(out->accept[a].values);
        free(out->accept);
    }
    free(c->inputs);
    free(c->expected);
}

/* ---- files ------------------------------------------------------------- */

static int check_header(const vec_file *file, char *err, size_t errlen)
{
    vec_ctx ctx = {file, NULL, err, errlen};
    const json_t *root = file->root;
    const char *format = json_string_value(json_object_get(root, "format"));
    const json_t *version = json_object_get(root, "format_version");
    if (!json_is_object(root))
        return vec_fail(&ctx, "(top level)", "must be a JSON object");
    if (format == NULL || strcmp(format, VEC_FORMAT_NAME) != 0)
        return fail_value(&ctx, "format", json_object_get(root, "format"),
                          "must be \"" VEC_FORMAT_NAME "\"");
    if (!json_is_integer(version) ||
        json_integer_value(version) != VEC_FORMAT_VERSION)
        return fail_value(&ctx, "format_version", version,
                          "unsupported version (this reader reads 1)");
    if (file->op == NULL)
        return fail_value(&ctx, "op", json_object_get(root, "op"),
                          "must be a string");
    if (!json_is_object(json_object_get(root, "notes")))
        return fail_value(&ctx, "notes", json_object_get(root, "notes"),
                          "must be an object explaining each flag");
    if (!json_is_array(json_object_get(root, "cases")))
        return fail_value(&ctx, "cases", json_object_get(root, "cases"),
                          "must be an array");
    return 0;
}

static int check_unique_ids(const vec_file *file, char *err, size_t errlen)
{
    for (size_t i = 0; i < file->n_cases; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(file->cases[i].id, file->cases[j].id) == 0) {
                vec_ctx ctx = {file, &file->cases[i], err, errlen};
                return vec_fail(&ctx, "id", "duplicate case id");
            }
    return 0;
}

int vec_file_load(vec_file *file, const char *path, char *err, size_t errlen)
{
    json_error_t json_error;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &json_error);
    if (root == NULL) {
        memset(file, 0, sizeof *file);
        file->path = strdup(path);
        snprintf(err, errlen, "%s: line %d column %d: %s", path,
                 json_error.line, json_error.column, json_error.text);
        return -1;
    }
    int loaded = vec_file_from_json(file, root, path, err, errlen);
    json_decref(root);
    return loaded;
}

void vec_file_free(vec_file *file)
{
    for (size_t i = 0; i < file->n_cases; i++)
        case_free(&file->cases[i]);
    free(file->cases);
    json_decref(file->root);
    free(file->path);
    memset(file, 0, sizeof *file);
}

const vec_array *vec_case_input(const vec_case *c, const char *name)
{
    for (size_t i = 0; i < c->n_inputs; i++)
        if (strcmp(c->inputs[i].name, name) == 0)
            return &c->inputs[i];
    return NULL;
}

/* ---- params ------------------------------------------------------------ */

static const json_t *param(const vec_ctx *ctx, const char *name, int required,
                           int *absent)
{
    const json_t *value = json_object_get(ctx->c->params, name);
    *absent = (value == NULL);
    if (value == NULL && required)
        vec_fail(ctx, name, "required parameter is missing");
    return value;
}

int vec_param_int64(const vec_ctx *ctx, const char *name, int required,
                    int64_t fallback, int64_t *out)
{
    int absent;
    const json_t *value = param(ctx, name, required, &absent);
    if (absent) {
        *out = fallback;
        return required ? -1 : 0;
    }
    if (!json_is_integer(value))
        return fail_value(ctx, name, value, "must be an integer");
    *out = json_integer_value(value);
    return 0;
}

int vec_param_size(const vec_ctx *ctx, const char *name, int required,
                   size_t fallback, size_t *out)
{
    int64_t value;
    if (vec_param_int64(ctx, name, required, (int64_t)fallback, &value) != 0)
        return -1;
    if (value < 0)
        return fail_value(ctx, name, json_object_get(ctx->c->params, name),
                          "a size must be >= 0");
    *out = (size_t)value;
    return 0;
}

int vec_param_double(const vec_ctx *ctx, const char *name, int required,
                     double fallback, double *out)
{
    int absent;
    const json_t *value = param(ctx, name, required, &absent);
    if (absent) {
        *out = fallback;
        return required ? -1 : 0;
    }
    if (vec_decode_double(value, out) != 0)
        return fail_value(ctx, name, value, "must be a number");
    return 0;
}

int vec_param_bool(const vec_ctx *ctx, const char *name, int required,
                   int fallback, int *out)
{
    int absent;
    const json_t *value = param(ctx, name, required, &absent);
    if (absent) {
        *out = fallback;
        return required ? -1 : 0;
    }
    if (!json_is_boolean(value))
        return fail_value(ctx, name, value, "must be true or false");
    *out = json_is_true(value);
    return 0;
}

int vec_param_string(const vec_ctx *ctx, const char *name, int required,
                     const char *fallback, const char **out)
{
    int absent;
    const json_t *value = param(ctx, name, required, &absent);
    if (absent) {
        *out = fallback;
        return required ? -1 : 0;
    }
    if (!json_is_string(value))
        return fail_value(ctx, name, value, "must be a string");
    *out = json_string_value(value);
    return 0;
}

int vec_input(const vec_ctx *ctx, const char *name, vec_dtype dtype,
              size_t ndim, const vec_array **out)
{
    char field[128];
    *out = vec_case_input(ctx->c, name);
    snprintf(field, sizeof field, "inputs.%s", name);
    if (*out == NULL)
        return vec_fail(ctx, field, "required input is missing");
    if ((*out)->dtype != dtype || (*out)->ndim != ndim)
        return vec_fail(ctx, field, "must be a %zu-dimensional %s array",
                        ndim, dtype == VEC_F64 ? "float64" : "int64");
    return 0;
}

/* ---- writing ----------------------------------------------------------- */

static json_t *shape_json(size_t ndim, const size_t *shape, size_t *count)
{
    json_t *list = json_array();
    *count = 1;
    for (size_t i = 0; i < ndim; i++) {
        json_array_append_new(list, json_integer((json_int_t)shape[i]));
        *count *= shape[i];
    }
    return list;
}

static json_t *array_object(const char *dtype, json_t *shape, json_t *data)
{
    json_t *object = json_object();
    json_object_set_new(object, "dtype", json_string(dtype));
    json_object_set_new(object, "shape", shape);
    json_object_set_new(object, "data", data);
    return object;
}

json_t *vecw_f64_array(size_t ndim, const size_t *shape, const double *data)
{
    size_t count;
    json_t *shape_list = shape_json(ndim, shape, &count);
    json_t *values = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(values, vecw_double(data[i]));
    return array_object("float64", shape_list, values);
}

json_t *vecw_i64_array(size_t ndim, const size_t *shape, const int64_t *data)
{
    size_t count;
    json_t *shape_list = shape_json(ndim, shape, &count);
    json_t *values = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(values, json_integer((json_int_t)data[i]));
    return array_object("int64", shape_list, values);
}

int vecw_write_file(const json_t *root, const char *path, char *err,
                    size_t errlen)
{
    char temporary[4096];
    size_t flags = JSON_INDENT(1) | JSON_PRESERVE_ORDER |
                   JSON_REAL_PRECISION(17);
    snprintf(temporary, sizeof temporary, "%s.tmp", path);
    FILE *out = fopen(temporary, "w");
    if (out == NULL) {
        snprintf(err, errlen, "%s: %s", temporary, strerror(errno));
        return -1;
    }
    int failed = json_dumpf(root, out, flags) != 0;
    failed |= fputc('\n', out) == EOF;
    failed |= fclose(out) != 0;
    if (failed || rename(temporary, path) != 0) {
        snprintf(err, errlen, "%s: could not write the file: %s", path,
                 strerror(errno));
        remove(temporary);
        return -1;
    }
    return 0;
}

/* ---- from an already-parsed root ---------------------------------------- */

int vec_file_from_json(vec_file *file, json_t *root, const char *name,
                       char *err, size_t errlen)
{
    const json_t *cases;
    memset(file, 0, sizeof *file);
    file->path = strdup(name);
    file->root = json_incref(root);
    file->op = json_string_value(json_object_get(file->root, "op"));
    if (check_header(file, err, errlen) != 0)
        return -1;
    cases = json_object_get(file->root, "cases");
    file->cases = calloc(json_array_size(cases) + 1, sizeof *file->cases);
    if (file->cases == NULL) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(cases); i++) {
        file->n_cases++;
        if (decode_case(file, &file->cases[i], json_array_get(cases, i), i,
                        err, errlen) != 0)
            return -1;
    }
    return check_unique_ids(file, err, errlen);
}
