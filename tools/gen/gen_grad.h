/*
 * gen_grad.h -- what the gradient files of the generator share
 * (tools/gen/gen_grad_input.c, gen_grad_head.c, gen_grad_variants.c,
 * gen_tied_lm.c, gen_gpt2.c): one oracle output (values and scales) and how
 * it is written into a case, with K = ORACLE_GRAD_K.
 */
#ifndef LMR_GEN_GRAD_H
#define LMR_GEN_GRAD_H

#include <stddef.h>

#include "gen_case.h"
#include "oracle_grad.h"

/* Values and scales of one output of count elements (zeroed; free with
 * gen_grad_out_free). */
oracle_out gen_grad_out_alloc(size_t count);
void gen_grad_out_free(oracle_out *out);

/* Writes an output (rows, cols), or (rows) with GEN_1D, with K = ORACLE_GRAD_K. */
void gen_expect_grad(gen_case *c, const char *name, size_t rows, size_t cols,
                     oracle_out out);
/* The same for a 3-D output (K, rows, cols). */
void gen_expect_grad_3d(gen_case *c, const char *name, size_t K, size_t rows,
                        size_t cols, oracle_out out);

/* Reports that the oracle rejected case op/slug, which was meant to be
 * valid; returns -1. */
int gen_oracle_failed(const char *op, const char *slug);

#endif
