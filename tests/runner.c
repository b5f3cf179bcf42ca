/*
 * runner.c -- TAP tests of the conformance runner lmr-run (tools/runner/runner.c),
 * run in process through runner_parse_options and runner_run, against the
 * testees of tests/testees/: replay (answers from the vector files, and
 * misbehaves on request) and silent.sh (never says hello).
 *
 * The fixtures are copies of a few small files of vectors/ (or
 * $LMR_VECTORS), made in a temporary directory at run time, so the expected
 * values are the oracle's. Run from the top of the tree, after make.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "runner.h"
#include "tap.h"

#define REPLAY "build/tests/testees/replay"
#define SILENT "tests/testees/silent.sh"
#define MAX_ARGS 48
#define PATH_LEN 512
#define DIR_LEN 64 /* the temporary directory's name */
#define N_FIXTURES 3
#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NO_ARGS ((const char *const[]){NULL})

static const char *const fixture_names[N_FIXTURES] = {
    "argmax.json", "embed_lookup.json", "param_count.json"};

static char fixture_dir[DIR_LEN];
static char fixture_paths[N_FIXTURES][PATH_LEN];
static char report_path[PATH_LEN];
static char scratch_path[PATH_LEN]; /* results and known-failures files */
static size_t total_cases;          /* cases in the fixtures (all fp64) */

typedef struct {
    int status;
    char *out;        /* the TAP the runner wrote */
    char *err;        /* its messages */
    double seconds;
    json_t *report;   /* the JSON report, or NULL */
} run_result;

/* ---- fixtures ------------------------------------------------------------ */

/* Copies a file; 0 or -1. */
static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    char buffer[65536];
    size_t got;
    int failed = in == NULL || out == NULL;
    while (!failed && (got = fread(buffer, 1, sizeof buffer, in)) > 0)
        failed = fwrite(buffer, 1, got, out) != got;
    if (in != NULL)
        fclose(in);
    if (out != NULL)
        failed |= fclose(out) != 0;
    return failed ? -1 : 0;
}

/* The number of cases in a vector file. */
static size_t count_cases(const char *path)
{
    json_t *root = json_load_file(path, 0, NULL);
    size_t count = json_array_size(json_object_get(root, "cases"));
    json_decref(root);
    return count;
}

/* Copies the fixtures into a new temporary directory; 0 or -1. */
static int make_fixtures(void)
{
    const char *vectors = getenv("LMR_VECTORS") ? getenv("LMR_VECTORS")
                                                 : "vectors";
    char source[PATH_LEN];
    snprintf(fixture_dir, sizeof fixture_dir, "/tmp/lmr-runner-XXXXXX");
    if (mkdtemp(fixture_dir) == NULL)
        return -1;
    for (int i = 0; i < N_FIXTURES; i++) {
        snprintf(source, sizeof source, "%s/%s", vectors, fixture_names[i]);
        snprintf(fixture_paths[i], PATH_LEN, "%s/%s", fixture_dir,
                 fixture_names[i]);
        if (copy_file(source, fixture_paths[i]) != 0)
            return -1;
        total_cases += count_cases(fixture_paths[i]);
    }
    snprintf(report_path, sizeof report_path, "%s/report.out", fixture_dir);
    snprintf(scratch_path, sizeof scratch_path, "%s/scratch.txt", fixture_dir);
    return 0;
}

/* Removes the temporary directory and its files. */
static void remove_fixtures(void)
{
    for (int i = 0; i < N_FIXTURES; i++)
        remove(fixture_paths[i]);
    remove(report_path);
    remove(scratch_path);
    rmdir(fixture_dir);
}

/* ---- running the runner -------------------------------------------------- */

/* A monotonic clock, in seconds. */
static double now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* Appends the NULL-terminated args to argv. */
static void add_args(const char **argv, int *argc, const char *const *args)
{
    for (; *args != NULL && *argc < MAX_ARGS; args++)
        argv[(*argc)++] = *args;
}

/* Runs lmr-run with argv, its longest line max_line (0: the default). */
static run_result run_argv(char **argv, int argc, size_t max_line)
{
    runner_options options;
    run_result result = {0, NULL, NULL, 0.0, NULL};
    size_t out_len, err_len;
    FILE *out = open_memstream(&result.out, &out_len);
    FILE *err = open_memstream(&result.err, &err_len);
    double start = now_seconds();
    remove(report_path);
    result.status = runner_parse_options(&options, argc, argv, err);
    if (max_line != 0)
        options.max_line_bytes = max_line;
    options.show_progress = 0;
    if (result.status == RUNNER_OK)
        result.status = runner_run(&options, out, err);
    runner_options_free(&options);
    result.seconds = now_seconds() - start;
    fclose(out);
    fclose(err);
    result.report = json_load_file(report_path, 0, NULL);
    return result;
}

/* lmr-run --vectors FIXTURES --report REPORT RUNNER_ARGS -- replay
 * REPLAY_ARGS FIXTURE_FILES. */
static run_result run_replay(const char *const *runner_args,
                             const char *const *replay_args, size_t max_line)
{
    const char *argv[MAX_ARGS + 1] = {"lmr-run", "--vectors", fixture_dir,
                                      "--report", report_path};
    int argc = 5;
    add_args(argv, &argc, runner_args);
    add_args(argv, &argc, ARGS("--", REPLAY));
    add_args(argv, &argc, replay_args);
    for (int i = 0; i < N_FIXTURES && argc < MAX_ARGS; i++)
        argv[argc++] = fixture_paths[i];
    argv[argc] = NULL;
    return run_argv((char **)argv, argc, max_line);
}

/* lmr-run --vectors FIXTURES --report REPORT ARGS (ARGS bring the rest). */
static run_result run_plain(const char *const *args)
{
    const char *argv[MAX_ARGS + 1] = {"lmr-run", "--vectors", fixture_dir,
                                      "--report", report_path};
    int argc = 5;
    add_args(argv, &argc, args);
    argv[argc] = NULL;
    return run_argv((char **)argv, argc, 0);
}

/* Frees what a run collected. */
static void run_free(run_result *result)
{
    free(result->out);
    free(result->err);
    json_decref(result->report);
}

/* ---- reading the results ------------------------------------------------- */

/* The verdict of case id in the run's JSON report. */
static const char *verdict_of(const run_result *result, const char *id)
{
    size_t i;
    const json_t *entry;
    json_array_foreach(json_object_get(result->report, "cases"), i, entry)
        if (strcmp(json_string_value(json_object_get(entry, "id")), id) == 0)
            return json_string_value(json_object_get(entry, "verdict"));
    return "(absent)";
}

/* The reason of case id in the run's JSON report. */
static const char *reason_of(const run_result *result, const char *id)
{
    size_t i;
    const json_t *entry;
    json_array_foreach(json_object_get(result->report, "cases"), i, entry)
        if (strcmp(json_string_value(json_object_get(entry, "id")), id) == 0)
            return json_string_value(json_object_get(entry, "reason"));
    return "";
}

/* How many cases of the run's JSON report have this verdict. */
static size_t count_verdict(const run_result *result, const char *verdict)
{
    size_t i, count = 0;
    const json_t *entry;
    json_array_foreach(json_object_get(result->report, "cases"), i, entry)
        count += strcmp(json_string_value(json_object_get(entry, "verdict")),
                        verdict) == 0;
    return count;
}

/* How many lines of text start with prefix. */
static size_t count_lines_starting(const char *text, const char *prefix)
{
    size_t count = 0, len = strlen(prefix);
    for (const char *line = text; line != NULL && *line != '\0';) {
        count += strncmp(line, prefix, len) == 0;
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return count;
}

/* 1 if text contains part. */
static int contains(const char *text, const char *part)
{
    return text != NULL && part != NULL && strstr(text, part) != NULL;
}

/* Checks the verdict of one case, the others passing, and the exit status. */
static void expect_one(const run_result *result, const char *id,
                       const char *verdict, int status, const char *what)
{
    tap_ok(strcmp(verdict_of(result, id), verdict) == 0, "%s: %s is %s (got "
           "%s: %s)", what, id, verdict, verdict_of(result, id),
           reason_of(result, id));
    tap_ok(count_verdict(result, "pass") == total_cases - 1,
           "%s: the %zu other cases pass (%zu)", what, total_cases - 1,
           count_verdict(result, "pass"));
    tap_ok(result->status == status, "%s: exit status %d (got %d)", what,
           status, result->status);
}

/* ---- the tests ----------------------------------------------------------- */

/* A testee answering every case correctly passes, with a summary. */
static void test_correct_testee(void)
{
    run_result result = run_replay(NO_ARGS, NO_ARGS, 0);
    char plan[32];
    snprintf(plan, sizeof plan, "\n1..%zu\n", total_cases);
    tap_ok(result.status == RUNNER_OK, "a correct testee: exit status 0 (got %d)",
           result.status);
    tap_ok(count_lines_starting(result.out, "ok ") == total_cases,
           "a correct testee: %zu ok lines", total_cases);
    tap_ok(contains(result.out, plan), "a correct testee: the plan at the end");
    tap_ok(count_verdict(&result, "pass") == total_cases,
           "a correct testee: every case passes in the report");
    char verdicts[64];
    snprintf(verdicts, sizeof verdicts, "# verdicts: pass %zu, fail 0,",
             total_cases);
    tap_ok(contains(result.out, "# summary:") &&
           contains(result.out, "# embed_lookup") &&
           contains(result.out, verdicts), "a correct testee: the summary table");
    tap_ok(access(report_path, F_OK) == 0 && result.report != NULL,
           "the JSON report is written");
    run_free(&result);
}

/* A testee killed mid-answer: crash, restarted, its stderr shown. */
static void test_crash(void)
{
    run_result result = run_replay(NO_ARGS, ARGS("--bad",
        "embed_lookup/repeated-index", "crash"), 0);
    expect_one(&result, "embed_lookup/repeated-index", "crash", RUNNER_FAILED,
               "crash mid-run");
    tap_ok(contains(reason_of(&result, "embed_lookup/repeated-index"),
                    "killed by signal"), "crash: the reason says how it ended");
    tap_ok(contains(result.out, "# testee stderr: replay: crashing"),
           "crash: its standard error is shown");
    run_free(&result);
}

/* A testee that stops answering: timeout after 1 s, restarted. */
static void test_hang(void)
{
    run_result result = run_replay(ARGS("--timeout", "1"),
                                   ARGS("--bad", "argmax/near-tie", "hang"), 0);
    expect_one(&result, "argmax/near-tie", "timeout", RUNNER_FAILED, "hang");
    tap_ok(result.seconds < 30.0, "hang: the run ends soon after the timeout "
           "(%.2f s)", result.seconds);
    run_free(&result);
}

/* A line that is not JSON: protocol_error, restarted. */
static void test_garbage(void)
{
    run_result result = run_replay(NO_ARGS, ARGS("--bad",
        "param_count/gpt2-small", "garbage"), 0);
    expect_one(&result, "param_count/gpt2-small", "protocol_error",
               RUNNER_FAILED, "garbage");
    tap_ok(contains(reason_of(&result, "param_count/gpt2-small"), "not a JSON"),
           "garbage: the reason says the line is not JSON");
    run_free(&result);
}

/* An answer under another id: protocol_error. */
static void test_wrong_id(void)
{
    run_result result = run_replay(NO_ARGS, ARGS("--bad", "argmax/masked",
                                                  "wrong-id"), 0);
    expect_one(&result, "argmax/masked", "protocol_error", RUNNER_FAILED,
               "wrong id");
    tap_ok(contains(reason_of(&result, "argmax/masked"), "wrong id"),
           "wrong id: the reason says so");
    run_free(&result);
}

/* An output of the wrong shape: fail (not a protocol error). */
static void test_wrong_shape(void)
{
    run_result result = run_replay(NO_ARGS, ARGS("--bad",
        "embed_lookup/small-dyadic", "wrong-shape"), 0);
    expect_one(&result, "embed_lookup/small-dyadic", "fail", RUNNER_FAILED,
               "wrong shape");
    tap_ok(contains(reason_of(&result, "embed_lookup/small-dyadic"),
                    "output Y has shape [20], expected [5, 4]"),
           "wrong shape: the reason names both shapes (%s)",
           reason_of(&result, "embed_lookup/small-dyadic"));
    run_free(&result);
}

/* A value out of its bound: fail, with the worst element shown. */
static void test_perturbed_value(void)
{
    run_result result = run_replay(NO_ARGS, ARGS("--bad",
        "embed_lookup/full-precision", "perturb"), 0);
    expect_one(&result, "embed_lookup/full-precision", "fail", RUNNER_FAILED,
               "a wrong value");
    tap_ok(contains(result.out, "# fail: output Y: 1 of") &&
           contains(result.out, "got ") && contains(result.out, "u*s"),
           "a wrong value: got, want and the error in u*s as diagnostics");
    run_free(&result);
}

/* A testee that exits after its hello: crash for every case; five
 * restarts, then the remaining cases are not sent. */
static void test_exit_after_hello(void)
{
    run_result result = run_replay(NO_ARGS, ARGS("--start", "exit-after-hello"),
                                   0);
    tap_ok(count_verdict(&result, "crash") == total_cases,
           "exits after hello: every case is a crash (%zu)",
           count_verdict(&result, "crash"));
    tap_ok(contains(result.out, "not sent: the testee failed 6 times"),
           "exits after hello: restarted 5 times, then given up");
    tap_ok(result.status == RUNNER_FAILED, "exits after hello: exit status 1 "
           "(got %d)", result.status);
    run_free(&result);
}

/* A testee that never says hello: bail out after the timeout. */
static void test_no_hello(void)
{
    run_result result = run_plain(ARGS("--timeout", "1", "--", "sh", SILENT));
    tap_ok(result.status == RUNNER_FAILED, "never says hello: exit status 1 "
           "(got %d)", result.status);
    tap_ok(contains(result.out, "Bail out! the testee did not say hello: "
                                "timeout"), "never says hello: bails out");
    tap_ok(result.seconds < 30.0, "never says hello: gives up after the "
           "timeout (%.2f s)", result.seconds);
    tap_ok(result.report != NULL &&
           json_is_string(json_object_get(result.report, "error")),
           "never says hello: the report says why");
    run_free(&result);
}

/* A hello that is not one: bail out. */
static void test_garbage_hello(void)
{
    run_result result = run_replay(NO_ARGS, ARGS("--start", "garbage-hello"), 0);
    tap_ok(result.status == RUNNER_FAILED &&
           contains(result.out, "Bail out! the testee did not say hello: "
                                "protocol_error"),
           "a garbage hello: bails out with a protocol error, exit 1");
    run_free(&result);
}

/* An endless line: protocol_error at the line limit, memory bounded. */
static void test_flood(void)
{
    run_result result = run_replay(NO_ARGS, ARGS("--bad", "param_count/overflow",
                                                  "flood"), (size_t)1 << 20);
    expect_one(&result, "param_count/overflow", "protocol_error",
               RUNNER_FAILED, "an endless line");
    tap_ok(contains(reason_of(&result, "param_count/overflow"),
                    "longer than 1048576 bytes"),
           "an endless line: the reason gives the limit");
    run_free(&result);
}

/* Ops not in the hello: unsupported, TAP SKIP, the run passes. */
static void test_unsupported(void)
{
    run_result result = run_replay(NO_ARGS, ARGS("--ops", "argmax"), 0);
    size_t skipped = count_lines_starting(result.out, "ok ") -
                     count_verdict(&result, "pass");
    tap_ok(result.status == RUNNER_OK, "ops not in the hello: exit status 0");
    tap_ok(count_verdict(&result, "pass") == 11 &&
           count_verdict(&result, "unsupported") == total_cases - 11,
           "ops not in the hello: unsupported, the others pass");
    tap_ok(skipped == total_cases - 11 &&
           contains(result.out, "# SKIP unsupported: op embed_lookup"),
           "ops not in the hello: TAP lines with SKIP");
    run_free(&result);
}

/* Writes text to a new file at path. */
static void write_text(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");
    if (file != NULL) {
        fputs(text, file);
        fclose(file);
    }
}

/* Listed failures do not fail the run; listed passes do. */
static void test_known_failures(void)
{
    write_text(scratch_path, "# the known failures\n"
               "embed_lookup/full-precision   rounds to fp32 # for now\n");
    run_result result = run_replay(ARGS("--known-failures", scratch_path),
        ARGS("--bad", "embed_lookup/full-precision", "perturb"), 0);
    tap_ok(strcmp(verdict_of(&result, "embed_lookup/full-precision"),
                  "known_failure") == 0 && result.status == RUNNER_OK,
           "a listed failure is a known_failure and does not fail the run");
    tap_ok(contains(result.out, "# TODO known failure: rounds to fp32"),
           "a listed failure: TAP TODO with the listed reason");
    run_free(&result);
    result = run_replay(ARGS("--known-failures", scratch_path), NO_ARGS, 0);
    tap_ok(strcmp(verdict_of(&result, "embed_lookup/full-precision"),
                  "unexpected_pass") == 0 && result.status == RUNNER_FAILED,
           "a listed case that passes is an unexpected_pass and fails the run");
    run_free(&result);
}

/* --op and --id select cases; a selection of nothing is an error. */
static void test_filters(void)
{
    run_result result = run_replay(ARGS("--op", "argmax"), NO_ARGS, 0);
    tap_ok(count_lines_starting(result.out, "ok ") == 11 &&
           result.status == RUNNER_OK, "--op argmax: its 11 cases");
    run_free(&result);
    result = run_replay(ARGS("--id", "embed_lookup/index-*"), NO_ARGS, 0);
    tap_ok(count_lines_starting(result.out, "ok ") == 3,
           "--id embed_lookup/index-*: 3 cases");
    run_free(&result);
    result = run_replay(ARGS("--op", "param_count", "--op", "argmax", "--id",
                             "*overflow*", "--id", "*/masked"), NO_ARGS, 0);
    tap_ok(count_lines_starting(result.out, "ok ") == 3,
           "--op and --id together: the intersection of their unions (3)");
    run_free(&result);
    result = run_replay(ARGS("--op", "no_such_op"), NO_ARGS, 0);
    tap_ok(result.status == RUNNER_USAGE, "--op matching nothing: exit status 2");
    run_free(&result);
}

/* Cases not listing the testee's class are not sent. */
static void test_class_filter(void)
{
    run_result result = run_replay(NO_ARGS, ARGS("--class", "fp16"), 0);
    tap_ok(count_lines_starting(result.out, "ok ") == total_cases - 2 &&
           result.status == RUNNER_OK,
           "class fp16: the 2 fp64-only cases are not sent");
    tap_ok(contains(result.out, "2 selected cases do not apply to class fp16"),
           "class fp16: a note says so");
    run_free(&result);
}

/* ---- offline mode -------------------------------------------------------- */

/* Writes a results file answering every fixture case correctly, except:
 * skip_id is left out, perturb_id gets a wrong first element, and garbage
 * adds a line that is not JSON. */
static void write_results(const char *skip_id, const char *perturb_id,
                          int garbage)
{
    FILE *out = fopen(scratch_path, "w");
    for (int f = 0; out != NULL && f < N_FIXTURES; f++) {
        json_t *root = json_load_file(fixture_paths[f], 0, NULL), *c;
        size_t i;
        json_array_foreach(json_object_get(root, "cases"), i, c) {
            const char *id = json_string_value(json_object_get(c, "id"));
            json_t *expected = json_object_get(c, "expected"), *response;
            if (skip_id != NULL && strcmp(id, skip_id) == 0)
                continue;
            if (expected == NULL)
                response = json_pack("{s:s, s:s}", "id", id, "status",
                                     "rejected");
            else
                response = json_pack("{s:s, s:s, s:O}", "id", id, "status",
                                     "ok", "outputs", expected);
            if (perturb_id != NULL && strcmp(id, perturb_id) == 0) {
                json_t *first =
                    json_object_iter_value(json_object_iter(expected));
                json_array_set_new(json_object_get(first, "data"), 0,
                                   json_real(123.25));
            }
            json_dumpf(response, out, JSON_COMPACT | JSON_REAL_PRECISION(17));
            fputc('\n', out);
            json_decref(response);
        }
        json_decref(root);
    }
    if (out != NULL && garbage)
        fputs("not a response\n", out);
    if (out != NULL)
        fclose(out);
}

/* Offline mode judges a results file with the same verdicts. */
static void test_offline(void)
{
    write_results(NULL, NULL, 0);
    run_result result = run_plain(ARGS("--results", scratch_path, "--class",
                                       "fp32"));
    tap_ok(result.status == RUNNER_OK &&
           count_verdict(&result, "pass") == total_cases - 2,
           "offline: a correct results file passes (exit %d)", result.status);
    run_free(&result);
    write_results("argmax/random", "embed_lookup/single-row", 0);
    result = run_plain(ARGS("--results", scratch_path, "--class", "fp64"));
    tap_ok(strcmp(verdict_of(&result, "argmax/random"), "unsupported") == 0,
           "offline: a case without a response is unsupported");
    tap_ok(strcmp(verdict_of(&result, "embed_lookup/single-row"), "fail") == 0 &&
           result.status == RUNNER_FAILED,
           "offline: a wrong value fails the run");
    run_free(&result);
    write_results(NULL, NULL, 1);
    result = run_plain(ARGS("--results", scratch_path, "--class", "fp64"));
    char where[64];
    snprintf(where, sizeof where, "results file, line %zu: ", total_cases + 1);
    tap_ok(result.status == RUNNER_FAILED && contains(result.out, where),
           "offline: a line without an id fails the run, with its line number");
    run_free(&result);
}

/* ---- the tied model's hint ----------------------------------------------- */

/* Writes responses to every case of the tied_lm file: correct, except that
 * the first valid case returns dE_input as dE and the second dE_output.
 * Their ids go to lookup_only and head_only. */
static void write_tied_results(const char *path, char *lookup_only,
                               char *head_only, size_t id_len)
{
    json_t *root = json_load_file(path, 0, NULL), *c;
    FILE *out = fopen(scratch_path, "w");
    size_t i, valid = 0;
    json_array_foreach(json_object_get(root, "cases"), i, c) {
        const char *id = json_string_value(json_object_get(c, "id"));
        json_t *expected = json_object_get(c, "expected"), *response;
        if (expected == NULL) {
            response = json_pack("{s:s, s:s}", "id", id, "status", "rejected");
        } else {
            json_t *outputs = json_deep_copy(expected);
            const char *share = valid == 0 ? "dE_input" : "dE_output";
            if (valid < 2) {
                json_object_set(outputs, "dE", json_object_get(expected, share));
                snprintf(valid == 0 ? lookup_only : head_only, id_len, "%s", id);
            }
            valid++;
            response = json_pack("{s:s, s:s, s:o}", "id", id, "status", "ok",
                                 "outputs", outputs);
        }
        if (out != NULL) {
            json_dumpf(response, out, JSON_COMPACT | JSON_REAL_PRECISION(17));
            fputc('\n', out);
        }
        json_decref(response);
    }
    if (out != NULL)
        fclose(out);
    json_decref(root);
}

/* A tied model whose dE is one path's share alone fails with a reason that
 * names the missing path (spec/protocol.md#hints). */
static void test_tied_hint(void)
{
    const char *vectors = getenv("LMR_VECTORS") ? getenv("LMR_VECTORS")
                                                 : "vectors";
    char path[PATH_LEN], lookup_only[128] = "", head_only[128] = "";
    snprintf(path, sizeof path, "%s/tied_lm.json", vectors);
    write_tied_results(path, lookup_only, head_only, sizeof lookup_only);
    const char *argv[] = {"lmr-run", "--vectors", vectors, "--report",
                          report_path, "--op", "tied_lm", "--results",
                          scratch_path, "--class", "fp64", NULL};
    run_result result = run_argv((char **)argv, 11, 0);
    tap_ok(strcmp(verdict_of(&result, lookup_only), "fail") == 0 &&
           contains(reason_of(&result, lookup_only), "lookup's share alone"),
           "tied_lm: dE from the lookup alone fails, naming the missing head "
           "path (%s: %s)", lookup_only, reason_of(&result, lookup_only));
    tap_ok(strcmp(verdict_of(&result, head_only), "fail") == 0 &&
           contains(reason_of(&result, head_only), "head's share alone"),
           "tied_lm: dE from the head alone fails, naming the missing lookup "
           "path (%s: %s)", head_only, reason_of(&result, head_only));
    tap_ok(count_verdict(&result, "fail") == 2 && result.status == RUNNER_FAILED,
           "tied_lm: the other cases pass (%zu failures, exit %d)",
           count_verdict(&result, "fail"), result.status);
    run_free(&result);
}

/* ---- usage --------------------------------------------------------------- */

/* Bad usage and malformed vector files: exit status 2. */
static void test_usage(void)
{
    run_result result = run_plain(NO_ARGS);
    tap_ok(result.status == RUNNER_USAGE && contains(result.err, "no testee"),
           "no testee: exit status 2");
    run_free(&result);
    result = run_plain(ARGS("--results", scratch_path));
    tap_ok(result.status == RUNNER_USAGE, "--results without --class: 2");
    run_free(&result);
    result = run_plain(ARGS("--vectors", "/nonexistent", "--", REPLAY));
    tap_ok(result.status == RUNNER_USAGE && contains(result.err, "no vector"),
           "no vector files: exit status 2");
    run_free(&result);
    result = run_plain(ARGS("--", "/nonexistent/testee"));
    tap_ok(result.status == RUNNER_USAGE &&
           contains(result.err, "cannot run '/nonexistent/testee'"),
           "a testee that cannot run: exit status 2 (got %d)", result.status);
    run_free(&result);
    char bad_json[PATH_LEN];
    snprintf(bad_json, sizeof bad_json, "%s/zz-bad.json", fixture_dir);
    write_text(bad_json, "{\"format\": \"lmref-vectors\"");
    result = run_replay(NO_ARGS, NO_ARGS, 0);
    tap_ok(result.status == RUNNER_USAGE && contains(result.out, "Bail out!"),
           "a malformed vector file: bail out, exit status 2");
    run_free(&result);
    remove(bad_json);
}

/* Every test against fresh copies of the fixtures; a trailing plan. */
int main(void)
{
    if (make_fixtures() != 0) {
        printf("Bail out! cannot copy the fixtures from vectors/ to %s\n",
               fixture_dir);
        return 1;
    }
    test_correct_testee();
    test_crash();
    test_hang();
    test_garbage();
    test_wrong_id();
    test_wrong_shape();
    test_perturbed_value();
    test_exit_after_hello();
    test_no_hello();
    test_garbage_hello();
    test_flood();
    test_unsupported();
    test_known_failures();
    test_filters();
    test_class_filter();
    test_offline();
    test_tied_hint();
    test_usage();
    remove_fixtures();
    tap_done();
    return tap_exit_status();
}
