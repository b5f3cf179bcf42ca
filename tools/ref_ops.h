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

#include "vecio.h"

typedef struct {
    int status;   /* the reference's return code (LMR_OK on success) */
    size_t rows;  /* shape of Y */
    size_t cols;
    double *Y;    /* (rows, cols), meaningful when status == LMR_OK */
} ref_result;

/* 1 if op is an op this program can run. */
int ref_op_known(const char *op);

/* Runs case c of file; 0 with *result filled, or -1 with err set. */
int ref_run(const vec_file *file, const vec_case *c, ref_result *result,
            char *err, size_t errlen);
void ref_result_free(ref_result *result);

#endif
