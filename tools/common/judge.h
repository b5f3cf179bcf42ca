/*
 * judge.h -- the pass criterion of spec/tolerance.md, element by element:
 * |y - g| <= K u_c s + f_c, with the non-finite rules of that file.
 */
#ifndef LMR_JUDGE_H
#define LMR_JUDGE_H

#include <stddef.h>
#include <stdint.h>

#include "vecio.h"

/* Unit roundoff u_c and floor f_c of a precision class. */
double judge_unit_roundoff(int cls);
double judge_floor(int cls);

typedef struct {
    int passed;          /* every element within its bound */
    size_t failures;     /* elements outside their bound */
    size_t worst_index;  /* element closest to (or furthest past) its bound */
    double worst_got, worst_want, worst_bound;
    int64_t worst_got_index, worst_want_index; /* index outputs: exact */
    double worst_units;  /* largest max(0, |y - g| - f) / (u s) */
    double k;            /* the output's K */
} judge_verdict;

/* Judges got (want->value.count elements) against want under class cls. */
void judge_output(judge_verdict *verdict, const double *got,
                  const vec_expected *want, int cls);

/* Judges an index output: each element must equal the expected value or one
 * of the alternatives listed for class cls. worst_got_index and
 * worst_want_index report the first mismatch exactly (worst_got and
 * worst_want as doubles, which round above 2^53); worst_units is 0 (pass)
 * or infinity (fail). */
void judge_index_output(judge_verdict *verdict, const int64_t *got,
                        const vec_expected *want, int cls);

#endif
