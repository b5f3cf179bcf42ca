/*
 * lmr_status.h -- status codes shared by every lmref function.
 *
 * Every function of the library returns one of these codes. The library never
 * prints, never calls exit() or abort(), and writes no output array when it
 * returns anything but LMR_OK. spec/errors.md lists which input produces which
 * code, op by op.
 */
#ifndef LMR_STATUS_H
#define LMR_STATUS_H

#include <stddef.h>

#include "lmr_api.h"

#ifdef __cplusplus
extern "C" {
#endif

enum lmr_status {
    LMR_OK = 0,
    LMR_EINVAL = 1, /* a required pointer argument is NULL */
    /* a size is 0 where >= 1 is required, or two sizes disagree */
    LMR_EDIM = 2,
    LMR_EOVERFLOW = 3,  /* a product of sizes does not fit in size_t bytes */
    LMR_EINDEX = 4,     /* a token id is negative or >= |V| */
    LMR_EPOS = 5,       /* a position is negative or beyond the table/limit */
    LMR_ENONFINITE = 6, /* NaN or +-infinity where a finite value is required */
    LMR_EDOMAIN = 7,    /* a parameter outside its documented range */
    LMR_ENOMEM = 8,     /* an allocation failed */
    LMR_ERANGE = 9      /* an intermediate result overflows the double range */
};

/* The symbolic name of a code, e.g. "LMR_EINDEX"; "LMR_UNKNOWN" otherwise. */
LMR_API
const char *lmr_status_name(int status);

/* A one-line English description of a code. */
LMR_API
const char *lmr_strerror(int status);

/* Parses a symbolic name back to its code; returns -1 for an unknown name. */
LMR_API
int lmr_status_from_name(const char *name);

/*
 * Element count of a rows x cols array: stores rows*cols in *count and
 * returns LMR_OK, or returns LMR_EOVERFLOW when rows*cols*sizeof(double)
 * would not fit in size_t.
 */
LMR_API
int lmr_array_count(size_t *count, size_t rows, size_t cols);

#ifdef __cplusplus
}
#endif

#endif
