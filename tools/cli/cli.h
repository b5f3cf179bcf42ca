/*
 * cli.h -- the command-line tool `lmr`, for studying the math one op at a
 * time (tools/cli/main.c is its main; tests/cli.c calls cli_run directly).
 *
 *   lmr OP [--NAME VALUE]... [--explain]
 *   lmr --case FILE.json [--id CASE_ID] [--explain]
 *   lmr --list
 *
 * OP is one of the ops of spec/README.md. Each --NAME VALUE is an input array
 * or a param of OP: an input is a JSON array whose nesting gives its shape
 * (int64 for ids, positions and targets, float64 otherwise; "-inf", "inf",
 * "nan" and "-0" as in the vector format; fewer dimensions than the op needs
 * are padded with leading 1s, so a bare list is one row); a param is a
 * scalar (a number, true/false, or a word such as --reduction sum).
 *
 * The arguments become an in-memory case in the vector format
 * (spec/format.md), decoded by vec_file_from_json and run by ref_run -- the
 * same code path as the golden vectors. --case reads such a case, or a whole
 * vector file with the case chosen by --id. The outputs of the reference
 * library are printed with their shapes, 17 significant digits, as JSON that
 * can be pasted back as an argument. --explain adds the intermediate steps,
 * recomputed in plain double arithmetic (cli_explain.h).
 *
 * Exit status: CLI_OK; CLI_REJECTED when the reference rejects the input
 * ("lmr: OP: rejected: LMR_EINDEX (...)"); CLI_USAGE for malformed
 * arguments (bad JSON, unknown op or --NAME, missing input, unreadable file).
 */
#ifndef LMR_CLI_H
#define LMR_CLI_H

#include <stdio.h>

enum cli_exit { CLI_OK = 0, CLI_REJECTED = 1, CLI_USAGE = 2 };

/* Runs lmr with argv[0 .. argc-1] (argv[0] is the program name), writing
 * results to out and messages to err; returns the exit status. */
int cli_run(int argc, const char *const *argv, FILE *out, FILE *err);

#endif
