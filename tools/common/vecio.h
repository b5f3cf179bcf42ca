/*
 * vecio.h -- reading and writing golden-vector files (spec/format.md) with
 * jansson.
 *
 * Reading: vec_file_load() parses a whole file, checks every field the format
 * requires and decodes every array, so later code never sees a malformed
 * value. Any problem is reported as one line naming the file, the case id,
 * the field and the offending value.
 *
 * Writing: vecw_* build the JSON values with the format's number encoding
 * (17 significant digits; "inf", "-inf", "nan" and "-0" spelled out) and
 * vecw_write_file() writes a file atomically (temporary file, then rename).
 */
#ifndef LMR_VECIO_H
#define LMR_VECIO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define VEC_FORMAT_NAME "lmref-vectors"
#define VEC_FORMAT_VERSION 1
#define VEC_MAX_DIMS 4
#define VEC_ERRLEN 512

/* The limits of spec/conventions.md#limits, checked before anything is
 * allocated: the most elements of any input, output, generated input or
 * size param (2^26, 512 MiB of doubles; GPT-2's E has 38.6 million), the
 * largest vector file, the longest case id. */
#define VEC_MAX_ELEMENTS 67108864
#define VEC_MAX_ELEMENTS_TEXT "67108864"
#define VEC_MAX_FILE_BYTES ((long long)64 << 20)
#define VEC_MAX_ID_LEN 200
#define VEC_MAX_ID_TEXT "200"

/* Precision classes (spec/tolerance.md), as bits of vec_case.classes. */
enum vec_class { VEC_FP64 = 0, VEC_FP32 = 1, VEC_BF16 = 2, VEC_FP16 = 3 };
#define VEC_CLASS_COUNT 4
const char *vec_class_name(int cls);
int vec_class_from_name(const char *name); /* -1 if unknown */

typedef enum { VEC_F64 = 0, VEC_I64 = 1 } vec_dtype;

typedef struct {
    char *name;
    vec_dtype dtype;
    size_t ndim;
    size_t shape[VEC_MAX_DIMS];
    size_t count;   /* product of shape */
    double *f64;    /* (count) when dtype == VEC_F64, else NULL */
    int64_t *i64;   /* (count) when dtype == VEC_I64, else NULL */
} vec_array;

/* Other acceptable values of one element of an index output, for some
 * classes (spec/tolerance.md#index-outputs). */
typedef struct {
    size_t index;     /* the element, in the output's flat row-major order */
    unsigned classes; /* bit (1u << class) for each class it applies to */
    size_t count;
    int64_t *values;  /* (count) acceptable values besides the expected one */
} vec_accept;

typedef struct {
    vec_array value;   /* the expected output g */
    /* float64 outputs: */
    double k;          /* the op's K for this output */
    double *scale;     /* (value.count) the per-element scales s */
    /* int64 outputs are exact, with per-class alternatives: */
    size_t n_accept;
    vec_accept *accept; /* (n_accept) */
} vec_expected;

typedef struct {
    const char *id;        /* borrowed from the file's JSON */
    int valid;             /* 1: "result": "valid"; 0: "invalid" */
    const char *error;     /* invalid only: the reference's status name */
    unsigned classes;      /* bit (1u << class) for each class the case applies to */
    json_t *params;        /* borrowed: the case's params object */
    size_t n_inputs;
    vec_array *inputs;     /* (n_inputs) */
    size_t n_expected;
    vec_expected *expected; /* (n_expected); 0 for invalid cases */
    const char *op;        /* borrowed: the file's op, "softmax" */
} vec_case;

typedef struct {
    char *path;
    const char *op;        /* borrowed from root */
    json_t *root;
    size_t n_cases;
    vec_case *cases;       /* (n_cases) */
} vec_file;

/* Loads and checks path. Returns 0, or -1 with a message in err. */
int vec_file_load(vec_file *file, const char *path, char *err, size_t errlen);

/* Parses the JSON of path into *root (the caller's reference), refusing,
 * before reading a byte, anything but a regular file (a FIFO would block,
 * a device never end) and a file larger than VEC_MAX_FILE_BYTES. 0, or -1
 * with a message naming the file. */
int vec_load_json(const char *path, json_t **root, char *err, size_t errlen);
void vec_file_free(vec_file *file);

/* The named input of a case, or NULL. */
const vec_array *vec_case_input(const vec_case *c, const char *name);

/* Decodes a number in the format's encoding; 0 on success, -1 otherwise. */
int vec_decode_double(const json_t *value, double *out);

/*
 * Typed access to a case's params, with a default when the key is absent
 * (pass required = 1 to make absence an error). Each returns 0, or -1 with a
 * message naming file, case, field and value.
 */
typedef struct {
    const vec_file *file;
    const vec_case *c;
    char *err;
    size_t errlen;
} vec_ctx;
int vec_param_size(const vec_ctx *ctx, const char *name, int required,
                   size_t fallback, size_t *out);
int vec_param_int64(const vec_ctx *ctx, const char *name, int required,
                    int64_t fallback, int64_t *out);
int vec_param_double(const vec_ctx *ctx, const char *name, int required,
                     double fallback, double *out);
int vec_param_bool(const vec_ctx *ctx, const char *name, int required,
                   int fallback, int *out);
int vec_param_string(const vec_ctx *ctx, const char *name, int required,
                     const char *fallback, const char **out);
/* An input that must exist with the given dtype and ndim. */
int vec_input(const vec_ctx *ctx, const char *name, vec_dtype dtype,
              size_t ndim, const vec_array **out);
/* Formats "path: case 'id': field 'field': message" into ctx->err; returns -1. */
int vec_fail(const vec_ctx *ctx, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writing. */
json_t *vecw_double(double value);
json_t *vecw_f64_array(size_t ndim, const size_t *shape, const double *data);
json_t *vecw_i64_array(size_t ndim, const size_t *shape, const int64_t *data);
/* Writes root to path via path.tmp + rename; 0, or -1 with err. */
int vecw_write_file(const json_t *root, const char *path, char *err,
                    size_t errlen);

/*
 * As vec_file_load, from an already-parsed root: the file takes its own
 * reference to root (the caller keeps, and later releases, its own), and
 * name stands for the path in every message. 0, or -1 with a message in err;
 * call vec_file_free either way.
 */
int vec_file_from_json(vec_file *file, json_t *root, const char *name,
                       char *err, size_t errlen);

#endif
