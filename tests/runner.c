/*
 * runner.c -- TAP tests of the conformance runner lmr-run (tools/runner/),
 * run in process through runner_parse_options and runner_run, against the
 * testees of tests/testees/: replay (answers from the vector files, and
 * misbehaves on request) and silent.sh (never says hello). The features
 * for real engines (--numerics-only, --list, the scalar rule, the report's
 * testee reasons, timeouts that grow with a case) are tested here too;
 * hostile testees and files are in tests/runner_hostile.c.
 *
 * The fixtures (tests/runner_fixture.h) are copies of a few small files of
 * vectors/, so the expected values are the oracle's. Run from the top of
 * the tree, after make.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "runner.h"
#include "runner_fixture.h"
#include "runner_limits.h"
#include "tap.h"

#define SILENT "tests/testees/silent.sh"

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
    size_t argmax = fixture_cases("argmax", NULL, -1);
    tap_ok(result.status == RUNNER_OK, "ops not in the hello: exit status 0");
    tap_ok(count_verdict(&result, "pass") == argmax &&
           count_verdict(&result, "unsupported") == total_cases - argmax,
           "ops not in the hello: unsupported, the others pass");
    tap_ok(skipped == total_cases - argmax &&
           contains(result.out, "# SKIP unsupported: op embed_lookup"),
           "ops not in the hello: TAP lines with SKIP");
    run_free(&result);
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
    size_t argmax = fixture_cases("argmax", NULL, -1);
    tap_ok(count_lines_starting(result.out, "ok ") == argmax &&
           result.status == RUNNER_OK, "--op argmax: its %zu cases", argmax);
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
    size_t not_fp16 = fixture_cases(NULL, "!fp16", -1);
    char note[128];
    snprintf(note, sizeof note, "%zu selected cases do not apply to class fp16",
             not_fp16);
    tap_ok(count_lines_starting(result.out, "ok ") == total_cases - not_fp16 &&
           result.status == RUNNER_OK,
           "class fp16: the %zu cases without fp16 are not sent", not_fp16);
    tap_ok(contains(result.out, note), "class fp16: a note says so");
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
    const char *vectors = fixture_vectors();
    char path[FIXTURE_PATH_LEN], lookup_only[128] = "", head_only[128] = "";
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

/* ---- for real engines ------------------------------------------------------ */


/* Outputs of one element may come back as 0-d scalars: shape [] and a bare
 * number (spec/protocol.md#scalars); a longer output may not. */
static void test_scalars(void)
{
    run_result result = run_replay(NO_ARGS, ARGS("--bad",
        "param_count/gpt2-small", "scalar", "--bad", "argmax/exact-tie",
        "scalar"), 0);
    tap_ok(result.status == RUNNER_OK &&
           count_verdict(&result, "pass") == total_cases,
           "scalars: shape [] for outputs of one element passes (exit %d, %s)",
           result.status, reason_of(&result, "param_count/gpt2-small"));
    run_free(&result);
    result = run_replay(NO_ARGS, ARGS("--bad", "argmax/random", "scalar-all"),
                        0);
    expect_one(&result, "argmax/random", "fail", RUNNER_FAILED,
               "a scalar for four elements");
    tap_ok(contains(reason_of(&result, "argmax/random"),
                    "has shape [], expected [4]"),
           "a scalar for four elements: the reason names both shapes");
    run_free(&result);
}

/* An output under another name fails, and the reason lists both the
 * response's names and the op's (spec/protocol.md#verdicts). */
static void test_misnamed_output(void)
{
    const char *id = "embed_lookup/repeated-index";
    run_result result = run_replay(NO_ARGS, ARGS("--bad", id, "misnamed"), 0);
    expect_one(&result, id, "fail", RUNNER_FAILED, "outputs under other names");
    tap_ok(contains(reason_of(&result, id), "the response's outputs: "
                    "[\"Y_x\"]; embed_lookup's outputs "
                    "(spec/embedding.md#lookup): Y"),
           "a misnamed output: the reason lists both sets of names (%s)",
           reason_of(&result, id));
    run_free(&result);
}

/* --numerics-only sends no invalid case; the summary shows both families,
 * and an engine that accepts invalid input can pass on its numerics. */
static void test_numerics_only(void)
{
    const char *accepting[] = {"--bad", "embed_lookup/index-huge", "accept",
                               NULL};
    char not_sent[64];
    run_result result = run_replay(NO_ARGS, accepting, 0);
    tap_ok(result.status == RUNNER_FAILED &&
           strcmp(verdict_of(&result, "embed_lookup/index-huge"), "fail") == 0,
           "an accepted invalid case fails a full run");
    tap_ok(contains(result.out, "# validation (invalid)")  &&
           contains(result.out, "# numerics (valid cases)"),
           "a full run: the summary has a row per verdict family");
    json_t *validation = json_object_get(json_object_get(json_object_get(
        result.report, "summary"), "families"), "input_validation");
    tap_ok(json_integer_value(json_object_get(validation, "fail")) == 1 &&
           json_integer_value(json_object_get(validation, "cases")) ==
               (json_int_t)fixture_cases(NULL, NULL, 0),
           "a full run: the report counts the validation family apart");
    run_free(&result);
    result = run_replay(ARGS("--numerics-only"), accepting, 0);
    tap_ok(result.status == RUNNER_OK && count_verdict(&result, "pass") ==
           fixture_cases(NULL, NULL, 1),
           "--numerics-only: only the %zu valid cases are sent, and pass "
           "(exit %d)", fixture_cases(NULL, NULL, 1), result.status);
    snprintf(not_sent, sizeof not_sent, "%zu not sent (--numerics-only)",
             fixture_cases(NULL, NULL, 0));
    tap_ok(contains(result.out, not_sent),
           "--numerics-only: the summary says the invalid cases were not sent");
    validation = json_object_get(json_object_get(json_object_get(
        result.report, "summary"), "families"), "input_validation");
    tap_ok(json_integer_value(json_object_get(validation, "not_sent")) ==
           (json_int_t)fixture_cases(NULL, NULL, 0),
           "--numerics-only: the report counts them");
    run_free(&result);
}

/* --list: what a class would be sent, nothing run. */
static void test_list(void)
{
    size_t fp16 = fixture_cases(NULL, "fp16", -1);
    size_t fp16_valid = fixture_cases(NULL, "fp16", 1);
    size_t not_fp16 = fixture_cases(NULL, "!fp16", -1);
    char counts[160];
    run_result result = run_plain(ARGS("--list", "--class", "fp16"));
    tap_ok(result.status == RUNNER_OK &&
           count_lines_starting(result.out, "yes\t") == fp16 &&
           count_lines_starting(result.out, "no:class\t") == not_fp16,
           "--list --class fp16: %zu sent, the %zu fp64-only cases not", fp16,
           not_fp16);
    tap_ok(contains(result.out, "yes\tparam_count/near-int64-limit\t"
                    "param_count\tvalid\tfp64,fp32,bf16,fp16\t4\t10\n"),
           "--list: id, op, result, classes, elements and time limit");
    snprintf(counts, sizeof counts, "# %zu cases selected; sent to class fp16: "
             "%zu (%zu valid, %zu invalid); not sent: %zu not in the class",
             total_cases, fp16, fp16_valid, fp16 - fp16_valid, not_fp16);
    tap_ok(contains(result.out, counts), "--list: the counts at the end (%s)",
           counts);
    run_free(&result);
    result = run_plain(ARGS("--list", "--numerics-only", "--op", "argmax"));
    tap_ok(result.status == RUNNER_OK &&
           count_lines_starting(result.out, "no:invalid\t") ==
               fixture_cases("argmax", NULL, 0) &&
           count_lines_starting(result.out, "-\t") ==
               fixture_cases("argmax", NULL, 1),
           "--list --numerics-only without a class: invalid cases held back");
    run_free(&result);
    result = run_plain(ARGS("--list", "--", fixture_replay()));
    tap_ok(result.status == RUNNER_USAGE && contains(result.err, "runs nothing"),
           "--list with a PROGRAM: usage error");
    run_free(&result);
}

/* Without --vectors, the runner finds the vectors next to its build
 * directory, from any working directory. (embed_lookup: an op whose only
 * vector file is one of the fixture's, unlike argmax, which also has
 * argmax_large.json.) */
static void test_default_vectors(void)
{
    char command[FIXTURE_PATH_LEN * 3], line[512], here[FIXTURE_PATH_LEN];
    const char *runner = fixture_built("lmr-run");
    size_t listed = 0;
    if (getcwd(here, sizeof here) == NULL)
        here[0] = '\0';
    snprintf(command, sizeof command, "cd / && %s%s%s --list --op embed_lookup "
             "--class fp32", runner[0] == '/' ? "" : here,
             runner[0] == '/' ? "" : "/", runner);
    FILE *pipe = popen(command, "r");
    while (pipe != NULL && fgets(line, sizeof line, pipe) != NULL)
        listed += strncmp(line, "yes\tembed_lookup/",
                          strlen("yes\tembed_lookup/")) == 0;
    int status = pipe ? pclose(pipe) : -1;
    tap_ok(status == 0 && listed == fixture_cases("embed_lookup", "fp32", -1),
           "lmr-run --list from / finds the "
           "vectors next to its build directory (%zu embed_lookup cases, status %d)",
           listed, status);
}

/* The report keeps the testee's reason for a rejection, the outputs it
 * gave for an invalid case, and its stderr during a failing case. */
static void test_report_keeps(void)
{
    run_result result = run_replay(NO_ARGS, ARGS("--bad",
        "embed_lookup/index-huge", "accept", "--bad",
        "embed_lookup/full-precision", "stderr-perturb"), 0);
    const json_t *provided = json_object_get(
        entry_of(&result, "embed_lookup/index-huge"), "provided_outputs");
    tap_ok(json_is_object(json_object_get(provided, "Y")),
           "an accepted invalid case: the report keeps the outputs given");
    tap_ok(strcmp(entry_text(&result, "embed_lookup/index-negative",
                             "testee_reason"), "LMR_EINDEX") == 0,
           "a rejected case: the report keeps the testee's reason (%s)",
           entry_text(&result, "embed_lookup/index-negative", "testee_reason"));
    tap_ok(contains(entry_text(&result, "embed_lookup/full-precision",
                               "stderr"), "replay: perturbing"),
           "a failing case: the report keeps the testee's stderr");
    tap_ok(contains(result.out, "# testee stderr: replay: perturbing"),
           "a failing case: its stderr in the TAP diagnostics");
    tap_ok(strcmp(entry_text(&result, "embed_lookup/small-dyadic", "stderr"),
                  "") == 0, "a passing case: no stderr kept");
    run_free(&result);
}

/* The time limit of a case grows with its size (--timeout-per-million). */
static void test_timeout_scaling(void)
{
    run_result result = run_replay(ARGS("--timeout", "1",
        "--timeout-per-million", "0"), ARGS("--bad",
        "embed_lookup/full-precision", "slow"), 0);
    expect_one(&result, "embed_lookup/full-precision", "timeout",
               RUNNER_FAILED, "1.5 s for a 1 s limit");
    run_free(&result);
    result = run_replay(ARGS("--timeout", "1", "--timeout-per-million",
        "10000"), ARGS("--bad", "embed_lookup/full-precision", "slow"), 0);
    tap_ok(result.status == RUNNER_OK, "1.5 s for 1 s + 182 elements at "
           "0.01 s each: passes (exit %d)", result.status);
    run_free(&result);
    vec_expected logits = {{NULL, VEC_F64, 2, {2, 50257, 0, 0}, 100514, NULL,
                            NULL}, 0.0, NULL, 0, NULL};
    vec_case gpt2 = {"head_tied/gpt2", 1, NULL, 1u, NULL, 0, NULL, 1, &logits,
                     "head_tied"};
    json_t *inputs = json_loads("{\"E\": {\"shape\": [50257, 768]}, "
                                "\"h\": {\"shape\": [2, 768]}}", 0, NULL);
    case_limits limits;
    case_limits_compute(&limits, &gpt2, inputs, 10.0, 1.0, RUNNER_MAX_LINE);
    tap_ok(limits.timeout > 48.6 && limits.timeout < 48.8 &&
           limits.max_line == ((size_t)1 << 20) + 128 * (size_t)100514,
           "a GPT-2-size head: 10 s + 38.7 s for its 38.7 million elements "
           "(%g s), a line of up to 1 MiB + 128 B per output element",
           limits.timeout);
    json_decref(inputs);
}

/* --transcript: every line, sent ("> ") and read ("< "). */
static void test_transcript(void)
{
    run_result result = run_replay(ARGS("--transcript", scratch_path,
                                         "--op", "argmax"), NO_ARGS, 0);
    FILE *file = fopen(scratch_path, "r");
    char line[4096];
    size_t starts = 0, sent = 0, read = 0;
    while (file != NULL && fgets(line, sizeof line, file) != NULL) {
        starts += strncmp(line, "# start: ", 9) == 0;
        sent += strncmp(line, "> {\"id\": \"argmax/", 17) == 0 ||
                strncmp(line, "> {\"id\":\"argmax/", 16) == 0;
        read += strncmp(line, "< {", 3) == 0;
    }
    if (file != NULL)
        fclose(file);
    size_t argmax = fixture_cases("argmax", NULL, -1);
    tap_ok(result.status == RUNNER_OK && starts == 1 && sent == argmax &&
           read == argmax + 1, "--transcript: the start, %zu requests, the "
           "hello and %zu responses (%zu, %zu, %zu)", argmax, argmax, starts,
           sent, read);
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
    result = run_plain(ARGS("--vectors", "/nonexistent", "--", fixture_replay()));
    tap_ok(result.status == RUNNER_USAGE && contains(result.err, "no vector"),
           "no vector files: exit status 2");
    run_free(&result);
    result = run_plain(ARGS("--", "/nonexistent/testee"));
    tap_ok(result.status == RUNNER_USAGE &&
           contains(result.err, "cannot run '/nonexistent/testee'"),
           "a testee that cannot run: exit status 2 (got %d)", result.status);
    run_free(&result);
    char bad_json[FIXTURE_PATH_LEN];
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
    test_scalars();
    test_misnamed_output();
    test_numerics_only();
    test_list();
    test_default_vectors();
    test_report_keeps();
    test_timeout_scaling();
    test_transcript();
    test_usage();
    remove_fixtures();
    tap_done();
    return tap_exit_status();
}
