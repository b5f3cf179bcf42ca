/*
 * runner.h -- lmr-run, the conformance runner of spec/protocol.md: checks an
 * implementation under test (the testee, any program speaking the protocol
 * on its standard input and output) against the vector files, or judges a
 * file of responses the implementation wrote itself (offline mode).
 *
 *   lmr-run [--vectors DIR] [--op OP]... [--id GLOB]... [--timeout S]
 *           [--known-failures FILE] [--report FILE] -- PROGRAM ARGS...
 *   lmr-run [same options] --results FILE --class CLASS
 *
 * The vector files are read one at a time and freed after use; the runner
 * decodes their expected values and tolerances only, and copies each
 * case's params and inputs verbatim into its request. tools/runner/main.c is
 * the main program; tests/runner.c calls these functions in process.
 */
#ifndef LMR_RUNNER_H
#define LMR_RUNNER_H

#include <stddef.h>
#include <stdio.h>

#define RUNNER_DEFAULT_TIMEOUT 10.0
#define RUNNER_MAX_RESTARTS 5              /* then the remaining cases get the
                                              verdict of the last failure */
#define RUNNER_MAX_LINE ((size_t)64 << 20) /* the longest response line */

enum runner_exit { RUNNER_OK = 0, RUNNER_FAILED = 1, RUNNER_USAGE = 2 };

typedef struct {
    const char *vectors_dir;
    size_t n_ops;
    const char **ops;             /* (n_ops) --op values */
    size_t n_id_globs;
    const char **id_globs;        /* (n_id_globs) --id values */
    double timeout_seconds;       /* per case, and for the hello */
    const char *known_failures_path;
    const char *report_path;
    const char *results_path;     /* offline mode when not NULL */
    int offline_class;            /* --class, or -1 */
    char **program;               /* the testee's argv, NULL-terminated */
    size_t max_restarts;
    size_t max_line_bytes;
    int show_progress;            /* -1: when the error stream is a terminal */
    int help;                     /* --help was given */
} runner_options;

/* The usage text. */
void runner_usage(FILE *out);

/* Reads the command line (argv[0] is the program name; the strings are
 * borrowed). Returns RUNNER_OK, or RUNNER_USAGE after a message on err.
 * Call runner_options_free either way. */
int runner_parse_options(runner_options *options, int argc, char **argv,
                         FILE *err);
void runner_options_free(runner_options *options);

/* Runs the conformance check: TAP on out, messages and progress on err.
 * Returns the exit status: RUNNER_OK when no verdict fails the run,
 * RUNNER_FAILED otherwise (or when the testee never says hello),
 * RUNNER_USAGE for a malformed vector file or an unusable input file. */
int runner_run(const runner_options *options, FILE *out, FILE *err);

#endif
