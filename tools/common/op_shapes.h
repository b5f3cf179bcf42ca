/*
 * op_shapes.h -- the shape of every output of every op, as the op's section
 * of spec/ gives it, in one table (tools/common/op_shapes.c) that lmr-testee-ref
 * and lmr both use.
 *
 * The reference library returns each output as a flat row-major list of
 * `count` elements; the shape is worked out from the case's inputs and
 * params: a gradient "dX" has the shape of its input X
 * (spec/gradients.md#conventions), every other output of two or more
 * dimensions has a row in the table, and the rest are one-dimensional.
 */
#ifndef LMR_OP_SHAPES_H
#define LMR_OP_SHAPES_H

#include <stddef.h>

#include "vecio.h"

/* Fills shape (VEC_MAX_DIMS) with the shape of the output named `output`
 * of `op` in case c, which has `count` elements; returns its number of
 * dimensions. An output with no known shape, or whose known shape does not
 * hold `count` elements (cross_entropy's sum and mean), is one-dimensional:
 * shape[0] = count, returns 1. */
size_t op_output_shape(const char *op, const vec_case *c, const char *output,
                       size_t count, size_t *shape /* (VEC_MAX_DIMS) */);

#endif
