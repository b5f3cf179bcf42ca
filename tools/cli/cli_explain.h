/*
 * cli_explain.h -- the `--explain` of lmr (cli.h): the intermediate steps of
 * an op, in the style of a worked example.
 *
 * Where the reference computes an intermediate quantity (LayerNorm's row
 * statistics, softmax's maximum and sum, cross-entropy's row losses and
 * weights, sampling's ranking, kept set and CDF, the lens's logits:
 * ref/lmr_intermediates.h), the explanation prints the reference's own
 * number, gathered by cli_explain_quantities, and the reference's outputs;
 * it computes nothing of its own there. Elsewhere (the sums of products of
 * the heads and of most gradients) it writes the terms out and adds them in
 * plain double arithmetic, for reading: the outputs printed above it, from
 * ref/, are the values. Params are read with the op table's defaults
 * (tools/common/op_table.c). Large arrays are cut after CLI_EXPLAIN_MAX rows,
 * entries or terms.
 */
#ifndef LMR_CLI_EXPLAIN_H
#define LMR_CLI_EXPLAIN_H

#include <stddef.h>
#include <stdio.h>

#include "ref_ops.h"
#include "vecio.h"

#define CLI_EXPLAIN_MAX 8

/* The shortest decimal that reads back as value ("0.2", "-inf", "nan"). */
void cli_format_number(char *buf, size_t len, double value);

/* Explains case c of file, which ref_run has accepted with result (status
 * LMR_OK), so every input is present and every shape agrees. Returns 0, or
 * -1 (after a one-line note) when the op has no explanation. */
int cli_explain(FILE *out, const vec_file *file, const vec_case *c,
                const ref_result *result);

/* ---- the intermediate quantities an explanation prints ------------------ */

#define CLI_MAX_QUANTITIES 16

/* One quantity: its name as the explanation writes it ("mu", "log S"), and
 * its values, row after row (integers, such as token ids, exactly as
 * doubles). */
typedef struct {
    const char *name;
    size_t count;
    double *values; /* (count) */
} cli_quantity;

typedef struct {
    size_t count;
    cli_quantity items[CLI_MAX_QUANTITIES];
} cli_quantities;

/* The intermediate quantities of case c (accepted by ref_run, as for
 * cli_explain), from ref/ (lmr_intermediates.h, or the op that produces
 * them); q->count is 0 for an op without any. Returns 0, or -1 (nothing
 * to free) when memory runs out. */
int cli_explain_quantities(cli_quantities *q, const vec_file *file,
                           const vec_case *c);

/* cli_explain, printing the quantities q that cli_explain_quantities
 * gathered for the case. */
int cli_explain_from(FILE *out, const vec_file *file, const vec_case *c,
                     const ref_result *result, const cli_quantities *q);

/* 1 if op has intermediate quantities. */
int cli_explain_has_quantities(const char *op);

/* The values of the quantity called name, or NULL. */
const double *cli_quantity_values(const cli_quantities *q, const char *name);

void cli_quantities_free(cli_quantities *q);

/* 1 if op has an explainer. */
int cli_explain_known(const char *op);

#endif
