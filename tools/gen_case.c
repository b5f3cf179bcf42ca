/* gen_case.c -- see gen_case.h. */
#include "gen_case.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "vecio.h"

#define GENERATOR_NAME "lmref-gen 1"

void gen_file_init(gen_file *file, const char *op, const char *spec_ref)
{
    file->op = op;
    file->root = json_object();
    file->notes = json_object();
    file->cases = json_array();
    json_object_set_new(file->root, "format", json_string(VEC_FORMAT_NAME));
    json_object_set_new(file->root, "format_version",
                        json_integer(VEC_FORMAT_VERSION));
    json_object_set_new(file->root, "generator", json_string(GENERATOR_NAME));
    json_object_set_new(file->root, "op", json_string(op));
    json_object_set_new(file->root, "spec", json_string(spec_ref));
    json_object_set_new(file->root, "tolerance_model",
                        json_string("spec/tolerance.md"));
    json_object_set(file->root, "notes", file->notes);
    gen_note(file, "exact_in_bf16_fp16",
             "every real input is exactly representable in bfloat16 and in "
             "binary16, so every class reads the same inputs");
    gen_note(file, "random", "inputs drawn from GSL's mt19937 with the seed in "
                             "input_source; the values are written out in full");
    gen_note(file, "edge", "a hand-picked edge case");
}

void gen_note(gen_file *file, const char *flag, const char *meaning)
{
    json_object_set_new(file->notes, flag, json_string(meaning));
}

int gen_file_write(gen_file *file, const char *dir)
{
    char path[4096], err[VEC_ERRLEN];
    json_object_set_new(file->root, "number_of_cases",
                        json_integer((json_int_t)json_array_size(file->cases)));
    json_object_set(file->root, "cases", file->cases);
    snprintf(path, sizeof path, "%s/%s.json", dir, file->op);
    if (vecw_write_file(file->root, path, err, sizeof err) != 0) {
        fprintf(stderr, "lmr-gen: %s\n", err);
        return -1;
    }
    return 0;
}

void gen_file_free(gen_file *file)
{
    json_decref(file->notes);
    json_decref(file->cases);
    json_decref(file->root);
}

void gen_case_begin(gen_case *c, gen_file *file, const char *slug,
                    const char *comment)
{
    memset(c, 0, sizeof *c);
    c->file = file;
    snprintf(c->id, sizeof c->id, "%s/%s", file->op, slug);
    c->comment = comment;
    c->flags = json_array();
    c->params = json_object();
    c->inputs = json_object();
    c->fits = (1u << VEC_CLASS_COUNT) - 1;
    c->inputs_exact_16 = 1;
}

void gen_flag(gen_case *c, const char *flag)
{
    if (json_object_get(c->file->notes, flag) == NULL)
        fprintf(stderr, "lmr-gen: %s: flag '%s' has no note\n", c->id, flag);
    json_array_append_new(c->flags, json_string(flag));
}

void gen_param_int(gen_case *c, const char *name, int64_t value)
{
    json_object_set_new(c->params, name, json_integer((json_int_t)value));
}

void gen_param_double(gen_case *c, const char *name, double value)
{
    json_object_set_new(c->params, name, vecw_double(value));
}

void gen_param_bool(gen_case *c, const char *name, int value)
{
    json_object_set_new(c->params, name, json_boolean(value));
}

void gen_param_string(gen_case *c, const char *name, const char *value)
{
    json_object_set_new(c->params, name, json_string(value));
}

void gen_source(gen_case *c, unsigned long seed, const char *recipe)
{
    c->source = json_object();
    json_object_set_new(c->source, "rng", json_string("gsl_rng_mt19937"));
    json_object_set_new(c->source, "seed", json_integer((json_int_t)seed));
    json_object_set_new(c->source, "recipe", json_string(recipe));
}

/* ---- class ranges ------------------------------------------------------ */

/* Normal range and significand bits of each class. */
static const double class_min_normal[VEC_CLASS_COUNT] = {
    DBL_MIN, FLT_MIN, FLT_MIN, 0x1p-14};
static const double class_max[VEC_CLASS_COUNT] = {
    DBL_MAX, FLT_MAX, 0x1.fep127, 65504.0};

/* 1 if x survives rounding to a float with `bits` significand bits and
 * normal exponents in [min_exp, max_exp]. */
static int exactly_representable(double x, int bits, int min_exp, int max_exp)
{
    int exponent;
    if (x == 0.0)
        return 1;
    double mantissa = frexp(fabs(x), &exponent); /* x = m 2^e, m in [0.5,1) */
    if (exponent - 1 < min_exp || exponent - 1 > max_exp)
        return 0;
    double scaled = ldexp(mantissa, bits); /* an integer iff exact */
    return scaled == floor(scaled);
}

static void note_input_value(gen_case *c, double x)
{
    double magnitude = fabs(x);
    c->has_real_input = 1;
    /* fp64 reads every double exactly, subnormals included: it always applies */
    for (int cls = VEC_FP32; cls < VEC_CLASS_COUNT; cls++)
        if (!isfinite(x) || (magnitude != 0.0 &&
                             (magnitude < class_min_normal[cls] ||
                              magnitude > class_max[cls])))
            c->fits &= ~(1u << cls);
    if (!exactly_representable(x, 8, -126, 127) ||
        !exactly_representable(x, 11, -14, 15))
        c->inputs_exact_16 = 0;
}

static void note_output_value(gen_case *c, double g)
{
    for (int cls = VEC_FP32; cls < VEC_CLASS_COUNT; cls++)
        if (fabs(g) > class_max[cls])
            c->fits &= ~(1u << cls);
}

/* ---- inputs and outputs ------------------------------------------------ */

/* Fills shape and returns ndim and the element count. */
static size_t shape_of(size_t rows, size_t cols, size_t shape[2],
                       size_t *count)
{
    shape[0] = rows;
    shape[1] = cols;
    *count = rows * (cols == GEN_1D ? 1 : cols);
    return cols == GEN_1D ? 1 : 2;
}

void gen_input_f64(gen_case *c, const char *name, size_t rows, size_t cols,
                   const double *data)
{
    size_t shape[2], count, ndim = shape_of(rows, cols, shape, &count);
    for (size_t i = 0; i < count; i++)
        note_input_value(c, data[i]);
    json_object_set_new(c->inputs, name, vecw_f64_array(ndim, shape, data));
}

void gen_input_i64(gen_case *c, const char *name, size_t rows, size_t cols,
                   const int64_t *data)
{
    size_t shape[2], count, ndim = shape_of(rows, cols, shape, &count);
    json_object_set_new(c->inputs, name, vecw_i64_array(ndim, shape, data));
}

void gen_expect(gen_case *c, const char *name, size_t rows, size_t cols,
                const double *data, double k, const double *scale)
{
    size_t shape[2], count, ndim = shape_of(rows, cols, shape, &count);
    json_t *entry = json_object(), *scales = json_array();
    if (c->expected == NULL) {
        c->expected = json_object();
        c->tolerance = json_object();
    }
    for (size_t i = 0; i < count; i++) {
        note_output_value(c, data[i]);
        json_array_append_new(scales, vecw_double(scale[i]));
    }
    json_object_set_new(c->expected, name, vecw_f64_array(ndim, shape, data));
    json_object_set_new(entry, "k", vecw_double(k));
    json_object_set_new(entry, "scale", scales);
    json_object_set_new(c->tolerance, name, entry);
}

void gen_invalid(gen_case *c, const char *status_name)
{
    c->error = status_name;
}

static json_t *class_list(const gen_case *c)
{
    json_t *list = json_array();
    /* an input every implementation must reject applies to every class */
    unsigned classes = c->error ? (1u << VEC_CLASS_COUNT) - 1 : c->fits;
    for (int cls = 0; cls < VEC_CLASS_COUNT; cls++)
        if (classes & (1u << cls))
            json_array_append_new(list, json_string(vec_class_name(cls)));
    return list;
}

void gen_case_end(gen_case *c)
{
    json_t *object = json_object();
    if (c->has_real_input && c->inputs_exact_16)
        gen_flag(c, "exact_in_bf16_fp16");
    json_object_set_new(object, "id", json_string(c->id));
    json_object_set_new(object, "comment", json_string(c->comment));
    json_object_set_new(object, "flags", c->flags);
    json_object_set_new(object, "classes", class_list(c));
    json_object_set_new(object, "params", c->params);
    if (c->source)
        json_object_set_new(object, "input_source", c->source);
    json_object_set_new(object, "inputs", c->inputs);
    json_object_set_new(object, "result",
                        json_string(c->error ? "invalid" : "valid"));
    if (c->error) {
        json_object_set_new(object, "error", json_string(c->error));
        json_decref(c->expected);
        json_decref(c->tolerance);
    } else {
        json_object_set_new(object, "expected", c->expected);
        json_object_set_new(object, "tolerance", c->tolerance);
    }
    json_array_append_new(c->file->cases, object);
}
