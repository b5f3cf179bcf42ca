/*
 * runner_verdict.h -- the verdicts of spec/protocol.md and the judging of one
 * response line against one vector case (lmr-run, online and offline).
 *
 * judge_response() decodes a response line, checks its id, status and
 * outputs, and judges every expected output with judge.c under the testee's
 * class. The case_outcome it fills keeps the provided values, so that the
 * report can show them next to the expected ones.
 */
#ifndef LMR_RUNNER_VERDICT_H
#define LMR_RUNNER_VERDICT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "judge.h"
#include "runner_limits.h"
#include "vecio.h"

#define VERDICT_REASON_LEN 2048

typedef enum {
    VERDICT_PASS,
    VERDICT_FAIL,
    VERDICT_UNSUPPORTED,
    VERDICT_TIMEOUT,
    VERDICT_CRASH,
    VERDICT_PROTOCOL_ERROR,
    VERDICT_KNOWN_FAILURE,
    VERDICT_UNEXPECTED_PASS
} verdict_kind;
#define VERDICT_COUNT 8

/* "pass", "fail", ..., "unexpected_pass". */
const char *verdict_name(verdict_kind verdict);
/* 1 for the verdicts that fail the run (the protocol's table). */
int verdict_fails_run(verdict_kind verdict);
/* 1 for fail, timeout, crash and protocol_error: the verdicts a
 * known-failures entry turns into known_failure. */
int verdict_is_failure(verdict_kind verdict);

/* One expected output and what the testee provided for it. */
typedef struct {
    const vec_expected *want; /* borrowed from the vector file */
    size_t ndim;
    size_t shape[VEC_MAX_DIMS]; /* the provided shape: want's, or [] for a
                                   one-element output (spec/protocol.md
                                   #scalars) */
    double *f64;              /* (want->value.count) provided, float64 outputs */
    int64_t *i64;             /* (want->value.count) provided, int64 outputs */
    judge_verdict judged;
} output_outcome;

typedef struct {
    verdict_kind verdict;
    verdict_kind original;     /* the verdict before the known-failures list */
    char reason[VERDICT_REASON_LEN];
    const char *listed_reason; /* borrowed: the known-failures entry, or NULL */
    size_t n_outputs;
    output_outcome *outputs;   /* (n_outputs) judged outputs of an ok response */
    char *testee_reason;       /* owned: the reason of a rejected or
                                  unsupported response, or NULL */
    json_t *accepted_outputs;  /* owned: the outputs of an ok response to an
                                  invalid case, or NULL */
} case_outcome;

/* Sets the verdict and a printf-style reason (any earlier reason is
 * replaced). */
void outcome_set(case_outcome *outcome, verdict_kind verdict,
                 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Judges the response line (len bytes, no newline, a NUL byte after it)
 * to case c under class cls, filling outcome (which must be zeroed). A line
 * longer than limits->max_line or with more than limits->max_values JSON
 * values is a protocol error, found before it is parsed. */
void judge_response(case_outcome *outcome, const char *line, size_t len,
                    const vec_case *c, int cls, const case_limits *limits);

/* For a judged float64 output: the error of its worst element (the one
 * nearest to, or furthest past, its bound) and that element's bound, both
 * in units of u*s of class cls (infinity where the scale is 0). */
void output_worst_element(const output_outcome *out, int cls, double *units,
                          double *bound_units);

/* Frees the provided values and the kept testee reason and outputs; the
 * outcome can then be zeroed and reused. */
void outcome_free(case_outcome *outcome);

#endif
