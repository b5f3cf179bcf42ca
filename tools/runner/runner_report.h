/*
 * runner_report.h -- what lmr-run writes (spec/protocol.md#output): TAP on
 * its output stream, one test line per case with diagnostics; the per-op
 * summary table as TAP comments at the end; progress on the error stream;
 * and the JSON report, streamed case by case into FILE.tmp and renamed to
 * FILE when the run is over, so that a reader never sees half a report.
 */
#ifndef LMR_RUNNER_REPORT_H
#define LMR_RUNNER_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "runner_verdict.h"
#include "vecio.h"

#define REPORT_LABEL_LEN 64

/* A sum of squares as scale^2 * sum (see add_square in runner_report.c). */
typedef struct {
    double scale;
    double sum;
} scaled_sum;

/* The summary row of one vector file (an op, or a variant such as
 * softmax_gpt2). */
typedef struct {
    char label[REPORT_LABEL_LEN]; /* the file's name without .json */
    size_t cases;
    size_t counts[VERDICT_COUNT];
    size_t float_elements;        /* judged float64 elements */
    double worst_units;           /* largest e = |y - g| / (u s) among them */
    scaled_sum squared_error;     /* sum (y - g)^2 over them */
    scaled_sum squared_expected;  /* sum g^2 over them */
} op_stats;

/* The verdict families (spec/protocol.md#verdict-families). */
enum { FAMILY_NUMERICS = 0, FAMILY_VALIDATION = 1, FAMILY_COUNT = 2 };

typedef struct {
    FILE *out;             /* TAP */
    FILE *err;             /* progress, when show_progress */
    int show_progress;
    int cls;               /* the class outputs are judged in */
    size_t test_number;
    size_t counts[VERDICT_COUNT];
    size_t families[FAMILY_COUNT][VERDICT_COUNT]; /* valid, invalid cases */
    size_t invalid_not_sent; /* invalid cases held back by --numerics-only */
    size_t n_ops;
    op_stats *ops;         /* (n_ops) */
    char bail_reason[512]; /* set by report_bail_out */
    FILE *json;            /* the report being written, or NULL */
    char *json_path;
    char *json_temporary;
    size_t json_entries;
} run_report;

/* Starts a report; json_path may be NULL (no JSON report). 0, or -1 with a
 * message (the temporary file cannot be created; nothing to free then). */
int report_open(run_report *report, FILE *out, FILE *err, int show_progress,
                const char *json_path, char *message, size_t size);

/* Starts the summary row of a vector file. 0, or -1 when out of memory. */
int report_begin_file(run_report *report, const char *path);

/* One case: its TAP line and diagnostics (with the testee's standard error,
 * when not empty), its JSON entry, its share of the summary. */
void report_case(run_report *report, const char *op, const vec_case *c,
                 const case_outcome *outcome, const char *stderr_text);

/* The JSON report's entry of one case (what report_case writes), or NULL
 * only when out of memory: every string in it sanitized (runner_text.h),
 * so that it always encodes. */
json_t *report_case_json(const run_report *report, const char *op,
                         const vec_case *c, const case_outcome *outcome,
                         const char *stderr_text);

/* "[3/26] softmax/huge-logits" on the error stream, when enabled. */
void report_progress(const run_report *report, size_t file_index,
                     size_t n_files, const char *id);

/* A TAP comment line, or several when the text has newlines. */
void report_comment(const run_report *report, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "Bail out! reason": the run stops here. */
void report_bail_out(run_report *report, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* 1 if some case so far has a verdict that fails the run. */
int report_any_failure(const run_report *report);

/* Ends the run: the summary table and the TAP plan (unless bailed out); the
 * JSON report gets run (stolen; about the testee), the summary and
 * exit_status, and is renamed into place. Frees the report. 0, or -1 with a
 * message when the JSON report cannot be written. */
int report_close(run_report *report, json_t *run, int exit_status,
                 char *message, size_t size);

#endif
