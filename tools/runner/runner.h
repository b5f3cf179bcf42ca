/*
 * runner.h -- lmr-run, the conformance runner of spec/protocol.md: checks an
 * implementation under test (the testee, any program speaking the protocol
 * on its standard input and output) against the vector files, or judges a
 * file of responses the implementation wrote itself (offline mode), or
 * lists what a selection would send (--list).
 *
 *   lmr-run [--vectors DIR] [--op OP]... [--id GLOB]... [--numerics-only]
 *           [--timeout S] [--timeout-per-million S] [--known-failures FILE]
 *           [--report FILE] [--transcript FILE] -- PROGRAM ARGS...
 *   lmr-run [same options] --results FILE --class CLASS
 *   lmr-run [--vectors DIR] [--op OP]... [--id GLOB]... [--numerics-only]
 *           [--class CLASS] --list
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
#define RUNNER_DEFAULT_TIMEOUT_PER_MILLION 1.0 /* s per million elements */
#define RUNNER_MAX_RESTARTS 5              /* then the remaining cases get the
                                              verdict of the last failure */
#define RUNNER_MAX_LINE ((size_t)64 << 20) /* the longest line read at all */

enum runner_exit { RUNNER_OK = 0, RUNNER_FAILED = 1, RUNNER_USAGE = 2 };

typedef struct {
    const char *vectors_dir;      /* --vectors, or the default directory */
    char *default_vectors;        /* owned: the default, when no --vectors */
    size_t n_ops;
    const char **ops;             /* (n_ops) --op values */
    size_t n_id_globs;
    const char **id_globs;        /* (n_id_globs) --id values */
    int numerics_only;            /* --numerics-only: no invalid case sent */
    double timeout_seconds;       /* per case (plus the size allowance), and
                                     for the hello */
    double timeout_per_million;   /* seconds added per million elements */
    const char *known_failures_path;
    const char *report_path;
    const char *results_path;     /* offline mode when not NULL */
    const char *transcript_path;  /* --transcript, or NULL */
    int cls;                      /* --class (offline mode, --list), or -1 */
    int list;                     /* --list: print the selection, run nothing */
    char **program;               /* the testee's argv, NULL-terminated */
    size_t max_restarts;
    size_t max_line_bytes;        /* the ceiling of every line's limit */
    int show_progress;            /* -1: when the error stream is a terminal */
    int help;                     /* --help was given */
} runner_options;

/* The usage text. */
void runner_usage(FILE *out);

/* Reads the command line (argv[0] is the program name; the strings are
 * borrowed). Without --vectors, the vector directory is the default one
 * (runner_default_vectors). Returns RUNNER_OK, or RUNNER_USAGE after a
 * message on err. Call runner_options_free either way. */
int runner_parse_options(runner_options *options, int argc, char **argv,
                         FILE *err);
void runner_options_free(runner_options *options);

/* The vector directory used when --vectors is not given: "vectors" next to
 * the directory of the running program (build/lmr-run -> vectors/ of the
 * clone), else share/lmref/vectors beside an installed bin/ directory,
 * else "vectors" in the working directory. Returns a new string. */
char *runner_default_vectors(void);

/* Runs the conformance check: TAP on out, messages and progress on err.
 * Returns the exit status: RUNNER_OK when no verdict fails the run,
 * RUNNER_FAILED otherwise (or when the testee never says hello),
 * RUNNER_USAGE for a malformed vector file or an unusable input file.
 * With options->list, prints the selection instead (runner_list). */
int runner_run(const runner_options *options, FILE *out, FILE *err);

/* --list: one line per selected case (what would be sent to the class of
 * --class, the case's op, result, classes, size and time limit), nothing
 * run. RUNNER_OK, or RUNNER_USAGE for a malformed vector file or an empty
 * selection. */
int runner_list(const runner_options *options, FILE *out, FILE *err);

#endif
