/*
 * cli_explain.h -- the `--explain` of lmr (cli.h): the intermediate steps of
 * an op, written out term by term like a worked example, recomputed
 * in straightforward double arithmetic.
 *
 * The explanation is for reading, not an expected value: the outputs lmr
 * prints come from the reference library (ref/), whose arithmetic is more
 * careful, and an explanation may differ from them in the last digits.
 * Large arrays are cut after CLI_EXPLAIN_MAX rows, entries or terms.
 */
#ifndef LMR_CLI_EXPLAIN_H
#define LMR_CLI_EXPLAIN_H

#include <stddef.h>
#include <stdio.h>

#include "vecio.h"

#define CLI_EXPLAIN_MAX 8

/* The shortest decimal that reads back as value ("0.2", "-inf", "nan"). */
void cli_format_number(char *buf, size_t len, double value);

/* Explains case c of file, which ref_run has accepted (status LMR_OK), so
 * every input is present and every shape agrees. Returns 0, or -1 (after a
 * one-line note) when the op has no explanation. */
int cli_explain(FILE *out, const vec_file *file, const vec_case *c);

/* 1 if op has an explainer. */
int cli_explain_known(const char *op);

#endif
