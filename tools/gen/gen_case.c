/* gen_case.c -- see gen_case.h. */
#include "gen_case.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "recipe.h"
#include "vecio.h"

#define GENERATOR_NAME "lmref-gen 1"

void gen_file_init(gen_file *file, const char *op, const char *spec_ref)
{
    file->op = op;
    file->stem = op;
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

void gen_file_rename(gen_file *file, const char *stem)
{
    file->stem = stem;
}

void gen_note(gen_file *file, const char *flag, const char *meaning)
{
    json_object_set_new(file->notes, flag, json_string(meaning));
}

const char gen_capture_dir[] = "(kept in memory)";

/* The root of the last file written to gen_capture_dir, or NULL. */
static json_t *captured_root;

json_t *gen_take_captured(void)
{
    json_t *root = captured_root;
    captured_root = NULL;
    return root;
}

int gen_file_write(gen_file *file, const char *dir)
{
    char path[4096], err[VEC_ERRLEN];
    json_object_set_new(file->root, "number_of_cases",
                        json_integer((json_int_t)json_array_size(file->cases)));
    json_object_set(file->root, "cases", file->cases);
    if (dir == gen_capture_dir) { /* kept in memory, not written */
        json_decref(captured_root);
        captured_root = json_incref(file->root);
        return 0;
    }
    snprintf(path, sizeof path, "%s/%s.json", dir, file->stem);
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
    c->allowed = (1u << VEC_CLASS_COUNT) - 1;
    c->inputs_exact_16 = 1;
}

void gen_case_begin_random(gen_case *c, gen_file *file, const char *slug,
                           const char *comment, const char *flag,
                           unsigned long seed, const char *recipe)
{
    gen_case_begin(c, file, slug, comment);
    gen_flag(c, "random");
    gen_source(c, seed, recipe);
    if (flag)
        gen_flag(c, flag);
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

/* Scalar parameters are held in binary32 (at least) by the narrow classes:
 * one outside binary32's normal range makes the case fp64-only. */
static void note_param_value(gen_case *c, double x)
{
    double magnitude = fabs(x);
    if (!isfinite(x) || (magnitude != 0.0 &&
                         (magnitude < FLT_MIN || magnitude > FLT_MAX)))
        c->fits &= 1u; /* fp64 only */
}

void gen_param_double(gen_case *c, const char *name, double value)
{
    note_param_value(c, value);
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

/* The range rule for an input (spec/tolerance.md#precision-classes): a
 * non-zero finite input outside a class's normal range leaves the class
 * out. An infinity is exact in every format (-inf is a masked logit), and
 * so is zero; a NaN input (bad input only) leaves every narrow class out,
 * which never matters since an invalid case applies to every class. */
static void note_input_value(gen_case *c, double x)
{
    double magnitude = fabs(x);
    c->has_real_input = 1;
    /* fp64 reads every double exactly, subnormals included: it always applies */
    for (int cls = VEC_FP32; cls < VEC_CLASS_COUNT; cls++)
        if (isnan(x) || (isfinite(x) && magnitude != 0.0 &&
                         (magnitude < class_min_normal[cls] ||
                          magnitude > class_max[cls])))
            c->fits &= ~(1u << cls);
    if (!isinf(x) && (!exactly_representable(x, 8, -126, 127) ||
                      !exactly_representable(x, 11, -14, 15)))
        c->inputs_exact_16 = 0;
}

/* An expected value beyond a class's largest finite number leaves the
 * class out; an infinite expected value (the loss of a masked target, the
 * log-probability of a masked token) is matched exactly in every class. */
static void note_output_value(gen_case *c, double g)
{
    for (int cls = VEC_FP32; cls < VEC_CLASS_COUNT; cls++)
        if (isfinite(g) && fabs(g) > class_max[cls])
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

static size_t count_of(size_t ndim, const size_t *shape)
{
    size_t count = 1;
    for (size_t i = 0; i < ndim; i++)
        count *= shape[i];
    return count;
}

void gen_input_f64_nd(gen_case *c, const char *name, size_t ndim,
                      const size_t *shape, const double *data)
{
    size_t count = count_of(ndim, shape);
    for (size_t i = 0; i < count; i++)
        note_input_value(c, data[i]);
    json_object_set_new(c->inputs, name, vecw_f64_array(ndim, shape, data));
}

void gen_input_f64(gen_case *c, const char *name, size_t rows, size_t cols,
                   const double *data)
{
    size_t shape[2], count, ndim = shape_of(rows, cols, shape, &count);
    gen_input_f64_nd(c, name, ndim, shape, data);
}

void gen_input_recipe(gen_case *c, const char *name, size_t rows, size_t cols,
                      const double *data, uint64_t seed, int bits, int shift)
{
    size_t shape[2], count, ndim = shape_of(rows, cols, shape, &count);
    char checksum[17];
    json_t *shape_list = json_array(), *object = json_object();
    for (size_t i = 0; i < count; i++)
        note_input_value(c, data[i]);
    for (size_t i = 0; i < ndim; i++)
        json_array_append_new(shape_list, json_integer((json_int_t)shape[i]));
    snprintf(checksum, sizeof checksum, "%016llx",
             (unsigned long long)recipe_fnv1a64(data, count));
    json_object_set_new(object, "dtype", json_string("float64"));
    json_object_set_new(object, "shape", shape_list);
    json_object_set_new(object, "generator",
                        json_pack("{s:s, s:I, s:i, s:i}", "name", RECIPE_NAME,
                                  "seed", (json_int_t)seed, "bits", bits,
                                  "shift", shift));
    json_object_set_new(object, "checksum",
                        json_pack("{s:s}", "fnv1a64", checksum));
    json_object_set_new(c->inputs, name, object);
}

void gen_input_i64(gen_case *c, const char *name, size_t rows, size_t cols,
                   const int64_t *data)
{
    size_t shape[2], count, ndim = shape_of(rows, cols, shape, &count);
    json_object_set_new(c->inputs, name, vecw_i64_array(ndim, shape, data));
}

static void ensure_expected(gen_case *c)
{
    if (c->expected == NULL) {
        c->expected = json_object();
        c->tolerance = json_object();
    }
}

void gen_expect_nd(gen_case *c, const char *name, size_t ndim,
                   const size_t *shape, const double *data, double k,
                   const double *scale)
{
    size_t count = count_of(ndim, shape);
    json_t *entry = json_object(), *scales = json_array();
    ensure_expected(c);
    for (size_t i = 0; i < count; i++) {
        note_output_value(c, data[i]);
        json_array_append_new(scales, vecw_double(scale[i]));
    }
    json_object_set_new(c->expected, name, vecw_f64_array(ndim, shape, data));
    json_object_set_new(entry, "k", vecw_double(k));
    json_object_set_new(entry, "scale", scales);
    json_object_set_new(c->tolerance, name, entry);
}

void gen_expect(gen_case *c, const char *name, size_t rows, size_t cols,
                const double *data, double k, const double *scale)
{
    size_t shape[2], count, ndim = shape_of(rows, cols, shape, &count);
    gen_expect_nd(c, name, ndim, shape, data, k, scale);
}

void gen_expect_i64_nd(gen_case *c, const char *name, size_t ndim,
                       const size_t *shape, const int64_t *data, json_t *accept)
{
    json_t *entry = json_object();
    ensure_expected(c);
    json_object_set_new(c->expected, name, vecw_i64_array(ndim, shape, data));
    json_object_set_new(entry, "exact", json_true());
    if (accept != NULL && json_array_size(accept) > 0)
        json_object_set(entry, "accept", accept);
    json_decref(accept);
    json_object_set_new(c->tolerance, name, entry);
}

void gen_expect_i64(gen_case *c, const char *name, size_t rows, size_t cols,
                    const int64_t *data, json_t *accept)
{
    size_t shape[2], count, ndim = shape_of(rows, cols, shape, &count);
    gen_expect_i64_nd(c, name, ndim, shape, data, accept);
}

/* 1 if choices a and b list the same alternatives. */
static int same_choices(const oracle_choices *a, const oracle_choices *b)
{
    if (a->count != b->count)
        return 0;
    for (size_t i = 1; i < a->count; i++)
        if (a->values[i] != b->values[i])
            return 0;
    return 1;
}

/* {"index": i, "classes": [...], "values": [...]} for element i: the
 * alternatives of choices[cls] and of every later class with the same ones. */
static json_t *accept_entry(const oracle_choices *element, size_t i, int cls,
                            unsigned *done)
{
    json_t *entry = json_object(), *classes = json_array(), *values = json_array();
    for (int other = cls; other < ORACLE_CLASS_COUNT; other++)
        if (!(*done & (1u << other)) && same_choices(&element[cls], &element[other])) {
            json_array_append_new(classes, json_string(vec_class_name(other)));
            *done |= 1u << other;
        }
    for (size_t v = 1; v < element[cls].count; v++)
        json_array_append_new(values, json_integer((json_int_t)element[cls].values[v]));
    json_object_set_new(entry, "index", json_integer((json_int_t)i));
    json_object_set_new(entry, "classes", classes);
    json_object_set_new(entry, "values", values);
    return entry;
}

json_t *gen_accept_json(const oracle_choices *choices, size_t count)
{
    json_t *accept = json_array();
    for (size_t i = 0; i < count; i++) {
        const oracle_choices *element = choices + i * ORACLE_CLASS_COUNT;
        unsigned done = 0;
        for (int cls = 0; cls < ORACLE_CLASS_COUNT; cls++)
            if (element[cls].count > 1 && !(done & (1u << cls)))
                json_array_append_new(accept, accept_entry(element, i, cls, &done));
    }
    return accept;
}

void gen_restrict_classes(gen_case *c, unsigned classes)
{
    c->allowed &= classes | 1u; /* fp64 always applies */
}

void gen_invalid(gen_case *c, const char *status_name)
{
    c->error = status_name;
}

static json_t *class_list(const gen_case *c)
{
    json_t *list = json_array();
    /* an input every implementation must reject applies to every class */
    unsigned classes = c->error ? (1u << VEC_CLASS_COUNT) - 1
                                : (c->fits & c->allowed);
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
