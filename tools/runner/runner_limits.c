/* runner_limits.c -- see runner_limits.h. */
#include "runner_limits.h"

#include <stdint.h>

/* A case is never given time for more elements than this (a hostile shape
 * in an input the runner does not decode could ask for years). */
#define TIMEOUT_ELEMENTS_CAP (16 * (size_t)VEC_MAX_ELEMENTS)

/* a * b, or SIZE_MAX when it overflows. */
static size_t saturating_product(size_t a, size_t b)
{
    return (b != 0 && a > SIZE_MAX / b) ? SIZE_MAX : a * b;
}

/* a + b, or SIZE_MAX when it overflows. */
static size_t saturating_sum(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* The product of an input's "shape" (each size a non-negative integer;
 * anything else counts as 0: the testee is there to reject it). */
static size_t shape_elements(const json_t *input)
{
    const json_t *shape = json_object_get(input, "shape"), *dim;
    size_t i, count = 1;
    if (!json_is_array(shape))
        return 0;
    json_array_foreach(shape, i, dim) {
        json_int_t size = json_integer_value(dim);
        if (!json_is_integer(dim) || size < 0)
            return 0;
        count = saturating_product(count, (size_t)size);
    }
    return count;
}

void case_limits_compute(case_limits *limits, const vec_case *c,
                         const json_t *raw_inputs, double base_timeout,
                         double per_million, size_t max_line_ceiling)
{
    const char *name;
    const json_t *input;
    limits->input_elements = limits->output_elements = 0;
    json_object_foreach((json_t *)raw_inputs, name, input)
        limits->input_elements = saturating_sum(limits->input_elements,
                                                shape_elements(input));
    for (size_t i = 0; i < c->n_expected; i++)
        limits->output_elements = saturating_sum(limits->output_elements,
                                                 c->expected[i].value.count);
    size_t elements = saturating_sum(limits->input_elements,
                                     limits->output_elements);
    if (elements > TIMEOUT_ELEMENTS_CAP)
        elements = TIMEOUT_ELEMENTS_CAP;
    limits->timeout = base_timeout + per_million * ((double)elements / 1e6);
    size_t answer_elements = c->valid ? limits->output_elements
                                      : limits->input_elements;
    limits->max_line = saturating_sum(
        RESPONSE_BASE_BYTES,
        saturating_product(RESPONSE_BYTES_PER_ELEMENT, answer_elements));
    if (limits->max_line > max_line_ceiling)
        limits->max_line = max_line_ceiling;
    limits->max_values = saturating_sum(RESPONSE_BASE_VALUES, answer_elements);
}
