/*
 * ref_ops.h -- runs the reference library (ref/) on one vector case.
 *
 * Maps a case's params and inputs to the lmr_* call of its op. A case whose
 * fields are missing or of the wrong type is a malformed file (returns -1
 * with a message naming file, case, field and value); a well-formed case
 * whose shapes disagree is bad input, reported as status LMR_EDIM like any
 * other rejection by the reference.
 */
#ifndef LMR_REF_OPS_H
#define LMR_REF_OPS_H

#include <stddef.h>

#include "lmr_softmax.h"
#include "vecio.h"

#define REF_MAX_OUTPUTS 8

/* One named output of the reference, as many elements as the op produced. */
typedef struct {
    const char *name;
    vec_dtype dtype;
    size_t count;
    double *f64;    /* (count) when dtype == VEC_F64 */
    int64_t *i64;   /* (count) when dtype == VEC_I64 */
} ref_output;

typedef struct {
    int status;     /* the reference's return code (LMR_OK on success) */
    size_t n_outputs;
    ref_output outputs[REF_MAX_OUTPUTS]; /* meaningful when status == LMR_OK */
} ref_result;

/* The output called name, or NULL. */
const ref_output *ref_result_output(const ref_result *result, const char *name);

/* 1 if op is an op this program can run. */
int ref_op_known(const char *op);

/* The i-th op this program can run, or NULL when i is past the last. */
const char *ref_op_name(size_t i);

/* Runs case c of file; 0 with *result filled, or -1 with err set. */
int ref_run(const vec_file *file, const vec_case *c, ref_result *result,
            char *err, size_t errlen);
void ref_result_free(ref_result *result);

/* The reduction called "none", "sum" or "mean"; anything else maps to a
 * value ref rejects. */
enum lmr_reduction ref_reduction_named(const char *name);

#endif
