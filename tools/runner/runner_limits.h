/*
 * runner_limits.h -- what one case may cost the runner and the testee
 * (spec/conventions.md#limits, spec/protocol.md#time-limits): its size in
 * elements, the time the testee gets for it, and the longest response line
 * and the most JSON values the runner parses for it.
 *
 * A response needs room for the case's expected output elements (for an
 * invalid case, whose outputs are unknown, as many as its inputs hold), so
 * the limits grow with them: a hostile line is refused before jansson
 * builds a tree of it, and a GPT-2-size case still gets the seconds a slow
 * adapter needs to regenerate its inputs.
 */
#ifndef LMR_RUNNER_LIMITS_H
#define LMR_RUNNER_LIMITS_H

#include <stddef.h>

#include <jansson.h>

#include "vecio.h"

#define RESPONSE_BASE_BYTES ((size_t)1 << 20)  /* for the envelope, reasons */
#define RESPONSE_BYTES_PER_ELEMENT ((size_t)128)
#define RESPONSE_BASE_VALUES ((size_t)65536)
#define HELLO_MAX_BYTES RESPONSE_BASE_BYTES
#define HELLO_MAX_VALUES RESPONSE_BASE_VALUES

typedef struct {
    size_t input_elements;  /* the product of each input's shape, summed */
    size_t output_elements; /* the expected outputs' elements, summed */
    double timeout;         /* seconds the testee gets for its response */
    size_t max_line;        /* the longest response line read, in bytes */
    size_t max_values;      /* the most JSON values parsed in it */
} case_limits;

/* The limits of case c, whose inputs object in the vector file is
 * raw_inputs (the runner forwards it without decoding it, so its shapes
 * are read here, saturating at SIZE_MAX), under --timeout base_timeout,
 * --timeout-per-million per_million and the ceiling max_line_ceiling. */
void case_limits_compute(case_limits *limits, const vec_case *c,
                         const json_t *raw_inputs, double base_timeout,
                         double per_million, size_t max_line_ceiling);

#endif
