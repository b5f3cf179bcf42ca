/*
 * cli_explain_internal.h -- what the explainers of lmr's --explain share
 * between their files: cli_explain.c (the forward ops, and the helpers
 * below), cli_explain_variants.c (the forward head variants of
 * spec/variants.md), cli_explain_grad.c (the backward ops of
 * spec/gradients.md and tied_lm) and cli_explain_grad_variants.c (the
 * backward ops of the head variants). Not part of lmr's interface:
 * cli_explain.h is.
 */
#ifndef LMR_CLI_EXPLAIN_INTERNAL_H
#define LMR_CLI_EXPLAIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli_explain.h"
#include "vecio.h"

/* ---- numbers and lists (cli_explain.c) ---------------------------------- */

typedef struct {
    char text[32];
} number_text;

/* The shortest decimal of value, for use inside one printf call:
 * num(x).text. */
number_text num(double value);

/* How many of count entries are shown: at most CLI_EXPLAIN_MAX. */
size_t shown_count(size_t count);

/* [v_0, v_1, ..., (k more)] */
void put_list(FILE *out, const double *values /* (count) */, size_t count);

/* a + b - c ... (the first CLI_EXPLAIN_MAX terms), without their sum. */
void put_terms(FILE *out, const double *terms /* (count) */, size_t count);

/* a + b - c ... = sum, summing every term in order; returns the sum. */
double put_sum(FILE *out, const double *terms /* (count) */, size_t count);

/* "... (k more what)" on a line of its own when count > CLI_EXPLAIN_MAX. */
void put_more_rows(FILE *out, size_t count, const char *what);

/* ---- reading the accepted case (cli_explain.c) -------------------------- */

const vec_array *input(const vec_case *c, const char *name); /* or NULL */

/* A param of the case's op, with the op table's default when the case does
 * not give it (tools/common/op_table.c: the one place defaults are written).
 * ref_run has read the same param by the same rule, so it cannot fail; if
 * it did, the value would be NaN, 0, 0 or "". */
double param_double(const vec_file *file, const vec_case *c, const char *name);
int64_t param_int64(const vec_file *file, const vec_case *c, const char *name);
int param_bool(const vec_file *file, const vec_case *c, const char *name);
const char *param_string(const vec_file *file, const vec_case *c,
                         const char *name);

/* calloc of count doubles (at least one), or NULL after a note. */
double *scratch(FILE *out, size_t count);

/* p = softmax(u / tau) of one row by the reference (lmr_softmax), into p
 * (vocab); NaN if it rejects u. */
void reference_softmax(const double *u /* (vocab) */, size_t vocab, double tau,
                       double *p /* (vocab) */);

/* ---- formatters: what they print from (cli_explain.c) -------------------- */

/* The case, the reference's outputs for it and its intermediate
 * quantities: a formatter prints these and computes none of them. */
typedef struct {
    const vec_file *file;
    const vec_case *c;
    const ref_result *result;
    const cli_quantities *q;
} explained;

typedef void (*formatter)(FILE *out, const explained *e);

/* The values of quantity name, which the op's gatherer stored
 * (cli_quantities.c). */
const double *quantity(const explained *e, const char *name);

/* The reference's output called name (ref_run produced it). */
const double *output_f64(const explained *e, const char *name);
const int64_t *output_i64(const explained *e, const char *name);

/* The formatter of a forward head variant, or NULL
 * (cli_explain_variants.c). */
formatter cli_explain_variants_formatter(const char *op);

/* ---- explainers ---------------------------------------------------------- */

typedef void (*explainer)(FILE *out, const vec_file *file, const vec_case *c);

/* The explainer of a backward op or tied_lm, or NULL (cli_explain_grad.c). */
explainer cli_explain_grad_find(const char *op);

/* The explainer of a forward head variant of spec/variants.md, or NULL
 * (cli_explain_variants.c). */
explainer cli_explain_variants_find(const char *op);

/* The explainer of attention_weights (spec/attention.md), or NULL
 * (cli_explain_attention.c). */
explainer cli_explain_attention_find(const char *op);
/* The explainer of pca, or NULL (cli_explain_pca.c). */
explainer cli_explain_pca_find(const char *op);

/* Shared by the two gradient files (cli_explain_grad.c). */

/* (a_0)(b_0) + (a_1)(b_1) + ... = sum over count pairs, a and b read with
 * the given strides (so a column of a matrix is a stride of its width);
 * returns the sum, accumulated in order. */
double put_products(FILE *out, const double *a, size_t a_stride,
                    const double *b, size_t b_stride, size_t count);

/* A matrix in a product sum_k A(i,k) B(k,j), read with strides: entry
 * (i,k) of a left factor, or (k,j) of a right one, is
 * data[i_or_j * out_stride + k * sum_stride]. So a matrix and its transpose
 * are the same data with the two strides swapped. */
typedef struct {
    const double *data;
    size_t out_stride; /* from one row i (left) or column j (right) to the next */
    size_t sum_stride; /* from one term k of the sum to the next */
} factor;

/* One entry of a product written out, on a line of its own:
 * name[i,j] = (A(i,0))(B(0,j)) + ... = value; returns the value. */
double explain_product_entry(FILE *out, const char *name, size_t i, size_t j,
                             size_t terms, factor left, factor right);

/* The cross-entropy weights w_t of spec/gradients.md, the reference's
 * (lmr_cross_entropy_weights): dloss[t] (none), dloss[0] (sum) or
 * dloss[0] / m (mean, m counted rows), 0 for an ignored row; into weights
 * (n). Returns m. */
size_t cross_entropy_weights(const int64_t *targets /* (n) */, size_t n,
                             const double *dloss, const char *reduction,
                             int64_t ignore_index, double *weights /* (n) */);

/* Allocates count zeroed arrays, arrays[i] of sizes[i] doubles; on failure
 * frees them all, notes it on out and returns -1. */
int scratch_arrays(FILE *out, double **arrays[], const size_t sizes[],
                   size_t count);
void free_arrays(double **arrays[], size_t count);

/* The fused linear cross-entropy's explainer (cli_explain_linear_ce.c). */
void explain_linear_cross_entropy(FILE *out, const vec_file *file,
                                  const vec_case *c);

/* The variants' explainers (cli_explain_grad_variants.c). */
void explain_head_partial_backward(FILE *out, const vec_file *file,
                                   const vec_case *c);
void explain_head_transformed_backward(FILE *out, const vec_file *file,
                                       const vec_case *c);
void explain_head_adaptive_backward(FILE *out, const vec_file *file,
                                    const vec_case *c);
void explain_head_mlp_backward(FILE *out, const vec_file *file,
                               const vec_case *c);
void explain_mos_fixed_backward(FILE *out, const vec_file *file,
                                const vec_case *c);
void explain_mos_gated_backward(FILE *out, const vec_file *file,
                                const vec_case *c);
void explain_soft_tie_loss_backward(FILE *out, const vec_file *file,
                                    const vec_case *c);

#endif
