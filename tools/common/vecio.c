/* vecio.c -- see vecio.h and spec/format.md. */
#include "vecio.h"

#include "recipe.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


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

/* The shape of an input or output: 1 to VEC_MAX_DIMS sizes, each at most
 * VEC_MAX_ELEMENTS, and at most VEC_MAX_ELEMENTS elements in all
 * (spec/conventions.md#limits), checked before anything is allocated. */
static int decode_shape(const vec_ctx *ctx, const char *field,
                        const json_t *shape, vec_array *array)
{
    char problem[160];
    int has_zero = 0;
    if (!json_is_array(shape) || json_array_size(shape) == 0 ||
        json_array_size(shape) > VEC_MAX_DIMS)
        return fail_value(ctx, field, shape,
                          "shape must be an array of 1 to 4 sizes");
    array->ndim = json_array_size(shape);
    for (size_t i = 0; i < array->ndim; i++) {
        const json_t *dim = json_array_get(shape, i);
        json_int_t size = json_is_integer(dim) ? json_integer_value(dim) : -1;
        if (size < 0)
            return fail_value(ctx, field, shape,
                              "shape entries must be non-negative integers");
        if (size > VEC_MAX_ELEMENTS) {
            snprintf(problem, sizeof problem, "size %lld is more than the "
                     "limit of %lld elements (spec/conventions.md#limits)",
                     (long long)size, (long long)VEC_MAX_ELEMENTS);
            return fail_value(ctx, field, shape, problem);
        }
        array->shape[i] = (size_t)size;
        has_zero |= size == 0;
    }
    array->count = has_zero ? 0 : 1;
    for (size_t i = 0; i < array->ndim && !has_zero; i++) {
        if (array->count > VEC_MAX_ELEMENTS / array->shape[i]) {
            snprintf(problem, sizeof problem, "more than the limit of %lld "
                     "elements (spec/conventions.md#limits)",
                     (long long)VEC_MAX_ELEMENTS);
            return fail_value(ctx, field, shape, problem);
        }
        array->count *= array->shape[i];
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

/* The FNV-1a checksum of the recipe's count values, computed in blocks so
 * that a wrong checksum is found before the whole array is allocated. */
static uint64_t recipe_checksum(size_t count, uint64_t seed, int bits,
                                int shift)
{
    enum { BLOCK = 4096 };
    double block[BLOCK];
    uint64_t hash = RECIPE_FNV_OFFSET, state = seed;
    for (size_t done = 0; done < count; done += BLOCK) {
        size_t n = count - done < BLOCK ? count - done : BLOCK;
        recipe_dyadic_continue(block, n, &state, bits, shift);
        hash = recipe_fnv1a64_continue(hash, block, n);
    }
    return hash;
}

/* Regenerates a {"generator", "checksum"} input (spec/format.md#generated-
 * inputs) into array->f64, after checking its checksum on the fly. */
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
    uint64_t seed_value = (uint64_t)json_integer_value(seed);
    int bits_value = (int)json_integer_value(bits);
    int shift_value = (int)json_integer_value(shift);
    snprintf(computed, sizeof computed, "%016llx", (unsigned long long)
             recipe_checksum(array->count, seed_value, bits_value, shift_value));
    snprintf(where, sizeof where, "%s.checksum.fnv1a64", field);
    if (checksum == NULL || strcmp(checksum, computed) != 0)
        return fail_value(ctx, where,
                          json_object_get(json_object_get(object, "checksum"),
                                          "fnv1a64"),
                          "does not match the regenerated values");
    array->f64 = malloc((array->count ? array->count : 1) * sizeof(double));
    if (array->f64 == NULL)
        return vec_fail(ctx, field, "out of memory for %zu elements",
                        array->count);
    recipe_dyadic(array->f64, array->count, seed_value, bits_value,
                  shift_value);
    return 0;
}

/* Decodes {"dtype", "shape", "data"} (or, if generated_allowed, a
 * generated input) into array. */
static int decode_array(const vec_ctx *ctx, const char *field,
                        const char *name, const json_t *object,
                        int generated_allowed, vec_array *array)
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
    if (json_object_get(object, "generator") != NULL && !generated_allowed)
        return fail_value(ctx, field, json_object_get(object, "generator"),
                          "a generated array is allowed in inputs only "
                          "(spec/format.md#generated-inputs)");
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
        if (decode_array(ctx, field, name, object, 1, &c->inputs[c->n_inputs++]))
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
        if (decode_array(ctx, field, name, object, 0, &out->value) != 0)
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

static int is_lower_or_digit(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* 1 if id has the form of spec/format.md#cases, OP/NAME with OP matching
 * [a-z][a-z0-9_]* and NAME [a-z0-9][a-z0-9-]*, and at most VEC_MAX_ID_LEN
 * bytes: an id is printed in TAP lines and file names, so it never holds a
 * newline, a '#' or anything a terminal would act on. */
static int is_case_id(const char *id)
{
    size_t i = 0, len = strlen(id);
    if (len > VEC_MAX_ID_LEN || !(id[0] >= 'a' && id[0] <= 'z'))
        return 0;
    while (is_lower_or_digit(id[i]) || id[i] == '_')
        i++;
    if (id[i++] != '/' || !is_lower_or_digit(id[i]))
        return 0;
    while (is_lower_or_digit(id[i]) || id[i] == '-')
        i++;
    return id[i] == '\0';
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
    if (!is_case_id(c->id))
        return fail_value(&ctx, field, json_object_get(json, "id"),
                          "an id is OP/NAME: OP of a-z, 0-9 and _ (a letter "
                          "first), NAME of a-z, 0-9 and -, at most "
                          VEC_MAX_ID_TEXT " bytes");
    ctx.c = c;
    c->op = file->op;
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
    static const char *const described_by[] = {"generator", "spec",
                                               "tolerance_model"};
    for (size_t i = 0; i < sizeof described_by / sizeof *described_by; i++)
        if (!json_is_string(json_object_get(root, described_by[i])))
            return fail_value(&ctx, described_by[i],
                              json_object_get(root, described_by[i]),
                              "must be a string");
    if (!json_is_object(json_object_get(root, "notes")))
        return fail_value(&ctx, "notes", json_object_get(root, "notes"),
                          "must be an object explaining each flag");
    const json_t *cases = json_object_get(root, "cases");
    const json_t *count = json_object_get(root, "number_of_cases");
    if (!json_is_array(cases))
        return fail_value(&ctx, "cases", cases, "must be an array");
    if (!json_is_integer(count) ||
        json_integer_value(count) != (json_int_t)json_array_size(cases)) {
        char problem[96];
        snprintf(problem, sizeof problem, "must be the number of cases, %zu",
                 json_array_size(cases));
        return fail_value(&ctx, "number_of_cases", count, problem);
    }
    return 0;
}

/* qsort order of case pointers: by id. */
static int compare_case_ids(const void *a, const void *b)
{
    const vec_case *const *x = a, *const *y = b;
    return strcmp((*x)->id, (*y)->id);
}

/* No two cases share an id: sorted, then neighbours compared (n log n; a
 * file of 100k cases is checked in milliseconds). */
static int check_unique_ids(const vec_file *file, char *err, size_t errlen)
{
    const vec_case **sorted = malloc((file->n_cases + 1) * sizeof *sorted);
    int status = 0;
    if (sorted == NULL) {
        snprintf(err, errlen, "%s: out of memory", file->path);
        return -1;
    }
    for (size_t i = 0; i < file->n_cases; i++)
        sorted[i] = &file->cases[i];
    qsort(sorted, file->n_cases, sizeof *sorted, compare_case_ids);
    for (size_t i = 1; i < file->n_cases && status == 0; i++)
        if (strcmp(sorted[i]->id, sorted[i - 1]->id) == 0) {
            vec_ctx ctx = {file, sorted[i], err, errlen};
            status = vec_fail(&ctx, "id", "duplicate case id");
        }
    free(sorted);
    return status;
}

/* ---- opening files --------------------------------------------------------- */

int vec_load_json(const char *path, json_t **root, char *err, size_t errlen)
{
    json_error_t json_error;
    struct stat info;
    *root = NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file (a FIFO, device or "
                 "directory is refused)", path);
        close(fd);
        return -1;
    }
    if (info.st_size > (off_t)VEC_MAX_FILE_BYTES) {
        snprintf(err, errlen, "%s: %lld bytes, more than the limit of %lld "
                 "(spec/conventions.md#limits)", path,
                 (long long)info.st_size, (long long)VEC_MAX_FILE_BYTES);
        close(fd);
        return -1;
    }
    size_t size = (size_t)info.st_size, got = 0;
    char *text = malloc(size + 1);
    while (text != NULL && got < size) {
        ssize_t n = read(fd, text + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (text == NULL || got != size) {
        snprintf(err, errlen, "%s: %s", path, text ? "could not be read whole"
                                                   : "out of memory");
        free(text);
        return -1;
    }
    *root = json_loadb(text, size, JSON_REJECT_DUPLICATES, &json_error);
    free(text);
    if (*root == NULL) {
        snprintf(err, errlen, "%s: line %d column %d: %s", path,
                 json_error.line, json_error.column, json_error.text);
        return -1;
    }
    return 0;
}

int vec_file_load(vec_file *file, const char *path, char *err, size_t errlen)
{
    json_t *root;
    if (vec_load_json(path, &root, err, errlen) != 0) {
        memset(file, 0, sizeof *file);
        file->path = strdup(path);
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
    if (value > VEC_MAX_ELEMENTS)
        return fail_value(ctx, name, json_object_get(ctx->c->params, name),
                          "a size must be at most the limit of "
                          VEC_MAX_ELEMENTS_TEXT " (spec/conventions.md#limits)");
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
