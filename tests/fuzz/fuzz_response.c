/*
 * fuzz_response.c -- libFuzzer harness: lmr-run's judging of one response
 * line and the report entry it writes (tools/runner/runner_verdict.c,
 * runner_report.c), the code that meets every byte a testee writes.
 *
 * At start the cases of a few vector files are loaded as the runner loads
 * them (vectors/ in the working directory). An input is
 *
 *   byte 0: which case; byte 1: the class; byte 2: how many of the next
 *   bytes are the testee's "stderr"; the rest: the response line.
 *
 * Each input is judged within the case's limits, then given to
 * report_case (TAP to /dev/null, the per-op summary) and to
 * report_case_json, whose entry must exist and encode to JSON that parses
 * back: the report never loses a case. The results-file id scanner reads
 * the same line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "runner_files.h"
#include "runner_limits.h"
#include "runner_report.h"
#include "runner_scan.h"
#include "runner_verdict.h"
#include "vecio.h"

#define N_FILES 5

static const char *const file_names[N_FILES] = {
    "vectors/argmax.json", "vectors/param_count.json",
    "vectors/embed_lookup.json", "vectors/tied_lm.json",
    "vectors/cross_entropy.json"};

typedef struct {
    const vec_file *file;
    const vec_case *c;
    const json_t *raw_case;
} loaded_case;

static vec_file files[N_FILES];
static json_t *roots[N_FILES];
static loaded_case *cases;
static size_t n_cases;
static run_report report;

/* Stops the fuzzer: a broken invariant is a finding. */
static void broken(const char *what)
{
    fprintf(stderr, "fuzz_response: %s\n", what);
    abort();
}

/* Loads the vector files and opens a report without a JSON file. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char message[VEC_ERRLEN];
    (void)argc;
    (void)argv;
    for (int f = 0; f < N_FILES; f++) {
        if (runner_load_file(file_names[f], &files[f], &roots[f], message,
                             sizeof message) != 0)
            broken(message);
        n_cases += files[f].n_cases;
    }
    cases = calloc(n_cases, sizeof *cases);
    size_t k = 0;
    for (int f = 0; f < N_FILES; f++)
        for (size_t i = 0; i < files[f].n_cases; i++, k++) {
            cases[k].file = &files[f];
            cases[k].c = &files[f].cases[i];
            cases[k].raw_case = json_array_get(json_object_get(roots[f],
                                                               "cases"), i);
        }
    FILE *null_out = fopen("/dev/null", "w");
    if (cases == NULL || null_out == NULL ||
        report_open(&report, null_out, null_out, 0, NULL, message,
                    sizeof message) != 0 ||
        report_begin_file(&report, "fuzz.json") != 0)
        broken("cannot set up the report");
    return 0;
}

/* The entry of the case must be built, encode, and parse back. */
static void check_entry(const loaded_case *lc, const case_outcome *outcome,
                        const char *stderr_text)
{
    json_t *entry = report_case_json(&report, lc->file->op, lc->c, outcome,
                                     stderr_text);
    char *text = entry ? json_dumps(entry, JSON_COMPACT) : NULL;
    json_t *back = text ? json_loads(text, 0, NULL) : NULL;
    if (entry == NULL || text == NULL || back == NULL)
        broken("a report entry was not written");
    json_decref(back);
    free(text);
    json_decref(entry);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    const loaded_case *lc = &cases[data[0] % n_cases];
    int cls = data[1] % VEC_CLASS_COUNT;
    size_t stderr_len = data[2] < size - 3 ? data[2] : size - 3;
    size_t line_len = size - 3 - stderr_len;
    char *stderr_text = malloc(stderr_len + 1);
    char *line = malloc(line_len + 1);
    memcpy(stderr_text, data + 3, stderr_len);
    stderr_text[stderr_len] = '\0';
    memcpy(line, data + 3 + stderr_len, line_len);
    line[line_len] = '\0'; /* the runner's lines end in a NUL */
    case_outcome outcome;
    case_limits limits;
    memset(&outcome, 0, sizeof outcome);
    case_limits_compute(&limits, lc->c, json_object_get(lc->raw_case, "inputs"),
                        10.0, 1.0, RUNNER_MAX_LINE);
    report.cls = cls;
    judge_response(&outcome, line, line_len, lc->c, cls, &limits);
    report_case(&report, lc->file->op, lc->c, &outcome, stderr_text);
    check_entry(lc, &outcome, stderr_text);
    free(scan_top_level_id(line, line_len));
    outcome_free(&outcome);
    free(line);
    free(stderr_text);
    return 0;
}
