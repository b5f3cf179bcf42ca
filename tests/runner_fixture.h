/*
 * runner_fixture.h -- what the runner's TAP tests (tests/runner.c,
 * tests/runner_hostile.c) share: a temporary directory holding copies of a
 * few small vector files (so the expected values are the oracle's), and
 * lmr-run called in process on them, against the testee
 * build/tests/testees/replay (tests/testees/replay.c), with its TAP, its
 * messages and its JSON report collected.
 *
 * Paths: the vectors come from $LMR_VECTORS (default vectors), the built
 * programs from $LMR_BUILD (default build), so that the sanitizer build
 * (make sanitize, build-sanitize/) runs the same tests on its own testee.
 * Run from the top of the tree, after make.
 */
#ifndef LMR_RUNNER_FIXTURE_H
#define LMR_RUNNER_FIXTURE_H

#include <stddef.h>

#include <jansson.h>

#define FIXTURE_PATH_LEN 512
#define FIXTURE_MAX_ARGS 64
#define FIXTURE_DIR_LEN 128 /* the temporary directory's name */
#define N_FIXTURES 3
#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NO_ARGS ((const char *const[]){NULL})

extern char fixture_dir[FIXTURE_DIR_LEN];
extern char fixture_paths[N_FIXTURES][FIXTURE_PATH_LEN];
extern char report_path[FIXTURE_PATH_LEN];
extern char scratch_path[FIXTURE_PATH_LEN]; /* results, known failures */
extern size_t total_cases;                  /* cases in the fixtures */

typedef struct {
    int status;
    char *out;        /* the TAP the runner wrote */
    char *err;        /* its messages */
    double seconds;
    json_t *report;   /* the JSON report, or NULL */
} run_result;

/* $LMR_VECTORS, or "vectors". */
const char *fixture_vectors(void);
/* $LMR_BUILD/relative (default build/relative), in a static buffer. */
const char *fixture_built(const char *relative);
/* The replay testee. */
const char *fixture_replay(void);

/* Copies argmax.json, embed_lookup.json and param_count.json into a new
 * temporary directory; 0 or -1. */
int make_fixtures(void);
/* Removes the temporary directory and everything in it. */
void remove_fixtures(void);

/* lmr-run with argv (argc of them), its longest line max_line (0: the
 * default). */
run_result run_argv(char **argv, int argc, size_t max_line);
/* lmr-run --vectors FIXTURES --report REPORT RUNNER_ARGS -- replay
 * REPLAY_ARGS FIXTURE_FILES. */
run_result run_replay(const char *const *runner_args,
                      const char *const *replay_args, size_t max_line);
/* lmr-run --vectors FIXTURES --report REPORT ARGS (ARGS bring the rest). */
run_result run_plain(const char *const *args);
void run_free(run_result *result);

/* How many fixture cases are of op (NULL: any), list class cls (NULL:
 * any; "!fp16": do not list fp16), and are valid (1), invalid (0) or
 * either (-1): counts for the checks, read from the fixtures themselves so
 * that the tests follow the vectors. */
size_t fixture_cases(const char *op, const char *cls, int valid);

/* The report's entry of case id, or NULL. */
const json_t *entry_of(const run_result *result, const char *id);
/* Its verdict ("(absent)" without an entry) and reason ("" without). */
const char *verdict_of(const run_result *result, const char *id);
const char *reason_of(const run_result *result, const char *id);
/* A string member of the entry of case id, or "". */
const char *entry_text(const run_result *result, const char *id,
                       const char *key);
/* How many cases of the report have this verdict. */
size_t count_verdict(const run_result *result, const char *verdict);
/* How many lines of text start with prefix. */
size_t count_lines_starting(const char *text, const char *prefix);
/* 1 if text contains part. */
int contains(const char *text, const char *part);
/* The verdict of one case is verdict, every other case passes, and the
 * exit status is status (three checks). */
void expect_one(const run_result *result, const char *id, const char *verdict,
                int status, const char *what);
/* Writes text to a new file at path. */
void write_text(const char *path, const char *text);

#endif
