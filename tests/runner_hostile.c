/*
 * runner_hostile.c -- lmr-run against hostile testees and hostile vector
 * files (issue 13): each finding that once crashed the runner, lost a
 * report entry, exhausted its memory, hung it or blamed the wrong case, and
 * each limit of spec/conventions.md#limits the runner enforces. The
 * testee is tests/testees/replay.c, told how to misbehave; the vector files
 * are the fixtures of tests/runner_fixture.h, or crafted ones in tests/data.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner.h"
#include "runner_fixture.h"
#include "runner_scan.h"
#include "runner_text.h"
#include "tap.h"

/* The peak resident memory of this process (and so of the runner, which
 * runs in it) so far, in MiB. */
static double peak_mib(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_maxrss / 1024.0;
}

/* The number of entries in the run's JSON report. */
static size_t report_entries(const run_result *result)
{
    return json_array_size(json_object_get(result->report, "cases"));
}

/* A directory of its own under the fixture directory; path gets its name. */
static void make_subdir(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", fixture_dir, name);
    mkdir(path, 0700);
}

/* Copies the fixture file index into dir. */
static void copy_fixture(const char *dir, int index)
{
    char command[FIXTURE_PATH_LEN * 3];
    snprintf(command, sizeof command, "cp '%s' '%s/'", fixture_paths[index],
             dir);
    if (system(command) != 0)
        tap_diag("could not run %s", command);
}

/* ---- 1: a gradient share declared int64 ---------------------------------- */

/* Offline responses to tests/data/tied-int-share.json: every output as
 * expected, except dE, all zeros (it fails, and passes as neither share). */
static void write_int_share_results(void)
{
    json_t *root = json_load_file("tests/data/tied-int-share.json", 0, NULL);
    json_t *c = json_array_get(json_object_get(root, "cases"), 0);
    json_t *outputs = json_deep_copy(json_object_get(c, "expected"));
    json_t *data = json_object_get(json_object_get(outputs, "dE"), "data");
    for (size_t i = 0; i < json_array_size(data); i++)
        json_array_set_new(data, i, json_real(0.0));
    json_t *response = json_pack("{s:O, s:s, s:o}", "id",
                                 json_object_get(c, "id"), "status", "ok",
                                 "outputs", outputs);
    FILE *out = fopen(scratch_path, "w");
    if (out != NULL) {
        json_dumpf(response, out, JSON_COMPACT);
        fputc('\n', out);
        fclose(out);
    }
    json_decref(response);
    json_decref(root);
}

/* Once a NULL dereference (judge.c <- passes_as <- explain_tied_gradient):
 * exit 139, no TAP line, no report entry. */
static void test_int_share(void)
{
    char dir[FIXTURE_PATH_LEN];
    make_subdir(dir, sizeof dir, "int-share");
    if (system("cp tests/data/tied-int-share.json \"$LMR_SCRATCH_DIR\"/int-share/") != 0)
        tap_diag("cannot copy tests/data/tied-int-share.json");
    write_int_share_results();
    const char *argv[] = {"lmr-run", "--vectors", dir, "--report", report_path,
                          "--results", scratch_path, "--class", "fp64", NULL};
    run_result result = run_argv((char **)argv, 9, 0);
    tap_ok(result.status == RUNNER_FAILED &&
           strcmp(verdict_of(&result, "tied_lm/int64-share"), "fail") == 0 &&
           contains(reason_of(&result, "tied_lm/int64-share"), "output dE"),
           "an int64 dE_input and a failing dE: a fail verdict, no crash "
           "(exit %d: %s)", result.status,
           reason_of(&result, "tied_lm/int64-share"));
    tap_ok(count_lines_starting(result.out, "not ok 1 - tied_lm/int64-share")
           == 1, "an int64 dE_input: its TAP line is written");
    run_free(&result);
}

/* ---- 2: int64 values beyond 2^53 ------------------------------------------ */

/* Once undefined behaviour (a double cast to json_int_t) in the report, and
 * got and want printed identical through %.17g. */
static void test_int64_exact(void)
{
    const char *id = "param_count/near-int64-limit";
    run_result result = run_replay(NO_ARGS, ARGS("--bad", id, "int-off-by-one"),
                                   0);
    expect_one(&result, id, "fail", RUNNER_FAILED, "an int64 off by one");
    tap_ok(contains(reason_of(&result, id),
                    "got 9223372036854775806 want 9223372036854775807"),
           "an int64 off by one: got and want exact in the reason (%s)",
           reason_of(&result, id));
    const json_t *worst = json_object_get(json_object_get(json_object_get(
        json_object_get(entry_of(&result, id), "outputs"), "untied"), "error"),
        "worst");
    tap_ok(json_integer_value(json_object_get(worst, "got")) ==
               9223372036854775806LL &&
           json_integer_value(json_object_get(worst, "want")) ==
               9223372036854775807LL,
           "an int64 off by one: got and want exact in the report");
    run_free(&result);
}

/* ---- 3: bytes that are not UTF-8 ------------------------------------------- */

/* Once a lost report entry (json_pack failing on the reason) or a lost
 * stderr field. */
static void test_not_utf8(void)
{
    run_result result = run_replay(NO_ARGS, ARGS("--bad", "argmax/near-tie",
        "raw-bytes", "--bad", "argmax/random", "cut-utf8", "--bad",
        "embed_lookup/single-row", "bad-utf8-stderr"), 0);
    tap_ok(result.report != NULL && report_entries(&result) == total_cases,
           "bytes that are not UTF-8: every case has its report entry (%zu "
           "of %zu)", report_entries(&result), total_cases);
    tap_ok(strcmp(verdict_of(&result, "argmax/near-tie"), "protocol_error") == 0
           && contains(reason_of(&result, "argmax/near-tie"), "?? this is"),
           "a raw line of bytes: protocol_error, the bytes shown as '?' (%s)",
           reason_of(&result, "argmax/near-tie"));
    tap_ok(strcmp(verdict_of(&result, "argmax/random"), "protocol_error") == 0,
           "a line cut inside a character: protocol_error, entry kept");
    tap_ok(contains(entry_text(&result, "embed_lookup/single-row", "stderr"),
                    "replay: ?? bytes"),
           "stderr that is not UTF-8: kept, the bytes shown as '?'");
    run_free(&result);
}

/* Once a report that was not JSON, with exit status 0. */
static void test_not_utf8_path(void)
{
    char dir[FIXTURE_PATH_LEN];
    make_subdir(dir, sizeof dir, "bad-\xff\xfe-name");
    copy_fixture(dir, 0);
    const char *argv[] = {"lmr-run", "--vectors", dir, "--report", report_path,
                          "--", fixture_replay(), fixture_paths[0], NULL};
    run_result result = run_argv((char **)argv, 8, 0);
    tap_ok(result.status == RUNNER_OK && result.report != NULL &&
           contains(json_string_value(json_object_get(json_object_get(
               result.report, "run"), "vectors")), "bad-?" "?-name"),
           "a --vectors path that is not UTF-8: the report is JSON (exit %d)",
           result.status);
    run_free(&result);
}

/* ---- 4 and the line limits: memory ----------------------------------------- */

/* Once 1.26 GB for a 16 MiB line of "{}," (63 MiB: 4.9 GB), parsed before
 * the outputs were looked at. */
static void test_memory(void)
{
    const char *id = "embed_lookup/first-and-last-row";
    double before = peak_mib();
    run_result result = run_replay(NO_ARGS, ARGS("--bad", id, "objects-flood"),
                                   0);
    expect_one(&result, id, "protocol_error", RUNNER_FAILED,
               "900 kB of {}, (under the byte limit)");
    tap_ok(contains(reason_of(&result, id), "more than 65680 JSON values"),
           "too many JSON values: the limit in the reason (%s)",
           reason_of(&result, id));
    run_free(&result);
    setenv("REPLAY_FLOOD_BYTES", "16777216", 1);
    result = run_replay(NO_ARGS, ARGS("--bad", id, "objects-flood"), 0);
    unsetenv("REPLAY_FLOOD_BYTES");
    expect_one(&result, id, "protocol_error", RUNNER_FAILED, "16 MiB of {},");
    tap_ok(contains(reason_of(&result, id), "a line longer than 1067008 bytes"),
           "a 16 MiB line: the case's byte limit in the reason (%s)",
           reason_of(&result, id));
    run_free(&result);
    tap_ok(peak_mib() - before < 200.0, "the runner's peak memory grew by %.0f "
           "MiB (< 200; was 1260 for the 16 MiB line)", peak_mib() - before);
}

/* The same line in a results file (offline mode): indexed without being
 * parsed, then refused under its case's limits. */
static void test_memory_offline(void)
{
    const char *id = "param_count/gpt2-small";
    FILE *out = fopen(scratch_path, "w");
    double before = peak_mib();
    if (out != NULL) {
        fprintf(out, "{\"id\": \"%s\", \"status\": \"ok\", \"junk\": [{}", id);
        for (size_t i = 0; i < ((size_t)16 << 20) / 3; i++)
            fputs(",{}", out);
        fputs("]}\n", out);
        fclose(out);
    }
    run_result result = run_plain(ARGS("--results", scratch_path, "--class",
                                       "fp64", "--op", "param_count"));
    tap_ok(strcmp(verdict_of(&result, id), "protocol_error") == 0 &&
           contains(reason_of(&result, id), "bytes, more than the"),
           "offline, a 16 MiB line: protocol_error under the case's byte "
           "limit (%s)", reason_of(&result, id));
    tap_ok(peak_mib() - before < 100.0, "offline: the peak grew by %.0f MiB "
           "(< 100)", peak_mib() - before);
    run_free(&result);
}

/* A line longer than the case's outputs can need, without a flood of
 * values: refused by its length. */
static void test_line_limit(void)
{
    const char *id = "argmax/exact-tie";
    run_result result = run_replay(NO_ARGS, ARGS("--bad", id, "pad"), 0);
    expect_one(&result, id, "protocol_error", RUNNER_FAILED,
               "a 2 MiB string in the answer");
    tap_ok(contains(reason_of(&result, id), "the most this response can need"),
           "a 2 MiB answer: the limit named (%s)", reason_of(&result, id));
    run_free(&result);
}

/* A hello of 2 MiB: refused at the hello's limit. */
static void test_hello_limit(void)
{
    run_result result = run_replay(NO_ARGS, ARGS("--start", "long-hello"), 0);
    tap_ok(result.status == RUNNER_FAILED &&
           contains(result.out, "Bail out! the testee did not say hello: "
                                "protocol_error: a line longer than 1048576"),
           "a 2 MiB hello: bail out at the hello's limit");
    run_free(&result);
}

/* 10 MB on stderr: the testee is never blocked, the runner keeps 64 KiB
 * and shows the last 2 KiB. */
static void test_stderr_limit(void)
{
    const char *id = "embed_lookup/full-precision";
    double before = peak_mib();
    run_result result = run_replay(NO_ARGS, ARGS("--bad", id, "stderr-flood"),
                                   0);
    expect_one(&result, id, "fail", RUNNER_FAILED, "10 MB on stderr");
    const char *kept = entry_text(&result, id, "stderr");
    tap_ok(strncmp(kept, "...", 3) == 0 && strlen(kept) < 2048 &&
           contains(kept, "a line of noise"),
           "10 MB on stderr: the report keeps its last 2 KiB (%zu bytes)",
           strlen(kept));
    tap_ok(peak_mib() - before < 50.0, "10 MB on stderr: the peak grew by "
           "%.0f MiB", peak_mib() - before);
    run_free(&result);
}

/* ---- 7: special files and the file limit ------------------------------------ */

/* A testee that leaves a mark when started. */
static run_result run_marked(const char *dir, const char *mark)
{
    char command[FIXTURE_PATH_LEN * 3];
    snprintf(command, sizeof command, "touch '%s' && exec %s %s", mark,
             fixture_replay(), fixture_paths[0]);
    const char *argv[] = {"lmr-run", "--vectors", dir, "--report", report_path,
                          "--timeout", "2", "--", "sh", "-c", command, NULL};
    return run_argv((char **)argv, 11, 0);
}

/* Once a hang forever, with the testee already started. */
static void test_special_files(void)
{
    char dir[FIXTURE_PATH_LEN], special[FIXTURE_PATH_LEN + 16];
    char mark[FIXTURE_PATH_LEN + 16];
    make_subdir(dir, sizeof dir, "special");
    copy_fixture(dir, 0);
    snprintf(mark, sizeof mark, "%s/started", dir);
    snprintf(special, sizeof special, "%s/zz-fifo.json", dir);
    mkfifo(special, 0600);
    run_result result = run_marked(dir, mark);
    tap_ok(result.status == RUNNER_USAGE &&
           contains(result.err, "zz-fifo.json: not a regular file") &&
           access(mark, F_OK) != 0,
           "a FIFO named *.json: refused before the testee starts (exit %d)",
           result.status);
    run_free(&result);
    remove(special);
    snprintf(special, sizeof special, "%s/zz-dir.json", dir);
    mkdir(special, 0700);
    result = run_marked(dir, mark);
    tap_ok(result.status == RUNNER_USAGE && access(mark, F_OK) != 0,
           "a directory named *.json: refused before the testee starts");
    run_free(&result);
    rmdir(special);
    snprintf(special, sizeof special, "%s/zz-big.json", dir);
    int fd = open(special, O_WRONLY | O_CREAT, 0600);
    if (fd >= 0 && ftruncate(fd, ((off_t)64 << 20) + 1) != 0)
        tap_diag("ftruncate failed");
    if (fd >= 0)
        close(fd);
    result = run_marked(dir, mark);
    tap_ok(result.status == RUNNER_USAGE &&
           contains(result.err, "more than the limit of 67108864") &&
           access(mark, F_OK) != 0,
           "a vector file over 64 MiB: refused before the testee starts");
    run_free(&result);
    remove(special);
}

/* ---- 8: blaming the right case, and the testee's children ---------------- */

/* Once ok for the guilty case and a protocol error for the next one. */
static void test_answer_twice(void)
{
    run_result result = run_replay(NO_ARGS, ARGS("--bad", "argmax/near-tie",
                                                 "twice"), 0);
    expect_one(&result, "argmax/near-tie", "protocol_error", RUNNER_FAILED,
               "an answer given twice");
    tap_ok(contains(reason_of(&result, "argmax/near-tie"),
                    "more than one line in answer to this case (the first "
                    "alone: pass)"), "an answer given twice: the reason says so");
    run_free(&result);
}

/* Once a timeout: a child holding the testee's output kept it open. */
static void test_orphan_stdout(void)
{
    run_result result = run_replay(ARGS("--timeout", "20"), ARGS("--bad",
        "argmax/near-tie", "orphan-stdout"), 0);
    expect_one(&result, "argmax/near-tie", "crash", RUNNER_FAILED,
               "exits while a child holds its output");
    tap_ok(contains(reason_of(&result, "argmax/near-tie"),
                    "still held its standard output open") &&
           result.seconds < 15.0,
           "exits while a child holds its output: seen at once (%.1f s)",
           result.seconds);
    run_free(&result);
}

/* Once a survivor: a child that called setsid outlived the runner. */
static void test_setsid_child(void)
{
    char pid_file[FIXTURE_PATH_LEN];
    long pid = 0;
    snprintf(pid_file, sizeof pid_file, "%s/child.pid", fixture_dir);
    setenv("REPLAY_PID_FILE", pid_file, 1);
    run_result result = run_replay(ARGS("--timeout", "1"), ARGS("--bad",
        "argmax/near-tie", "setsid-child"), 0);
    unsetenv("REPLAY_PID_FILE");
    FILE *file = fopen(pid_file, "r");
    if (file == NULL || fscanf(file, "%ld", &pid) != 1)
        pid = 0;
    if (file != NULL)
        fclose(file);
    expect_one(&result, "argmax/near-tie", "timeout", RUNNER_FAILED,
               "a child in a session of its own");
    int gone = pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
    tap_ok(gone && contains(result.out, "# note: 1 processes started by the "
                                        "testee had left its process group"),
           "a child in a session of its own: killed and reaped, and noted "
           "(pid %ld)", pid);
    if (!gone && pid > 0)
        kill((pid_t)pid, SIGKILL);
    run_free(&result);
}

/* ---- 9: numbers and shapes ----------------------------------------------- */

/* Once "not JSON" for the whole line: the protocol allows any digits. */
static void test_big_numbers(void)
{
    const char *id = "embed_lookup/small-dyadic";
    run_result result = run_replay(NO_ARGS, ARGS("--bad", id, "huge-number"),
                                   0);
    expect_one(&result, id, "fail", RUNNER_FAILED, "1e400 in a float output");
    tap_ok(contains(reason_of(&result, id), "got inf"),
           "1e400 is read as +inf (%s)", reason_of(&result, id));
    run_free(&result);
    result = run_replay(NO_ARGS, ARGS("--bad", id, "huge-negative"), 0);
    expect_one(&result, id, "fail", RUNNER_FAILED, "-1e400 in a float output");
    tap_ok(contains(reason_of(&result, id), "got -inf"),
           "-1e400 is read as -inf (found by fuzz_response: isinf() is -1 "
           "for -inf, once counted as SIZE_MAX big numbers) (%s)",
           reason_of(&result, id));
    run_free(&result);
    result = run_replay(NO_ARGS, ARGS("--bad", id, "big-integer"), 0);
    expect_one(&result, id, "fail", RUNNER_FAILED,
               "18446744073709551616 in a float output");
    tap_ok(contains(reason_of(&result, id), "got 1.8446744073709552e+19"),
           "2^64 is read as a double (%s)", reason_of(&result, id));
    run_free(&result);
    result = run_replay(NO_ARGS, ARGS("--bad", "argmax/random", "int-big"), 0);
    expect_one(&result, "argmax/random", "protocol_error", RUNNER_FAILED,
               "2^64 in an int64 output");
    tap_ok(contains(reason_of(&result, "argmax/random"),
                    "data[0] is outside the int64 range"),
           "2^64 in an int64 output: the reason says so (%s)",
           reason_of(&result, "argmax/random"));
    run_free(&result);
}

/* Once "not an object with a shape of at most 4 sizes" for all three. */
static void test_bad_shapes(void)
{
    static const char *const modes[3][2] = {
        {"shape-negative", "shape[0] is negative (value: -1)"},
        {"shape-real", "shape[0] is not an integer (value: 1000000000.0)"},
        {"shape-huge", "has shape [4611686018427387904, 4611686018427387904], "
                       "expected [5, 4]"}};
    const char *id = "embed_lookup/small-dyadic";
    for (int i = 0; i < 3; i++) {
        run_result result = run_replay(NO_ARGS, ARGS("--bad", id, modes[i][0]),
                                       0);
        tap_ok(contains(reason_of(&result, id), modes[i][1]) &&
               result.status == RUNNER_FAILED, "%s: %s (%s)", modes[i][0],
               modes[i][1], reason_of(&result, id));
        run_free(&result);
    }
}

/* ---- 10: what the reader and the hello once let through ------------------- */

/* Once "ok 99 - injected" and "Bail out!" lines with exit 0. */
static void test_injected_id(void)
{
    char dir[FIXTURE_PATH_LEN];
    make_subdir(dir, sizeof dir, "injected");
    if (system("cp tests/malformed/id-with-newline.json "
               "\"$LMR_SCRATCH_DIR\"/injected/") != 0)
        tap_diag("cannot copy tests/malformed/id-with-newline.json");
    const char *argv[] = {"lmr-run", "--vectors", dir, "--report", report_path,
                          "--", fixture_replay(), NULL};
    run_result result = run_argv((char **)argv, 7, 0);
    tap_ok(result.status == RUNNER_USAGE &&
           count_lines_starting(result.out, "ok 99") == 0 &&
           count_lines_starting(result.out, "Bail out! malformed vector file")
           == 1, "an id with a newline: a malformed file, no injected line "
           "(exit %d)", result.status);
    run_free(&result);
}

/* Once all unsupported and exit 0. */
static void test_empty_ops(void)
{
    run_result result = run_replay(NO_ARGS, ARGS("--ops", ","), 0);
    tap_ok(result.status == RUNNER_FAILED &&
           contains(result.out, "bad hello: \"ops\" must be a non-empty array"),
           "a hello with \"ops\": []: a bad hello, exit 1 (got %d)",
           result.status);
    run_free(&result);
    result = run_replay(NO_ARGS, ARGS("--ops", "no_such_op"), 0);
    tap_ok(result.status == RUNNER_FAILED &&
           count_verdict(&result, "unsupported") == total_cases &&
           contains(result.out, "no case was judged"),
           "a hello whose ops match no case: nothing judged, exit 1 (got %d)",
           result.status);
    run_free(&result);
}

/* ---- the pieces: the line scan and the text sanitizer ---------------------- */

/* How many big numbers scan_line finds in text, and what quoting makes
 * of it. */
static void check_quoting(const char *text, size_t big, const char *quoted)
{
    scan_result scan;
    size_t len;
    scan_line(text, strlen(text), 1000, &scan);
    char *copy = quote_big_numbers(text, strlen(text), scan.big_numbers, &len);
    tap_ok(scan.big_numbers == big && copy != NULL && strcmp(copy, quoted) == 0,
           "scan: %s has %zu numbers too big for jansson, quoted %s (got %zu, "
           "%s)", text, big, quoted, scan.big_numbers, copy ? copy : "NULL");
    free(copy);
}

static void test_scan(void)
{
    scan_result scan;
    check_quoting("[1e400, -1e400, 1.7e308, 1.8e308]", 3,
                  "[\"1e400\", \"-1e400\", 1.7e308, \"1.8e308\"]");
    check_quoting("[9223372036854775807, 9223372036854775808, "
                  "-9223372036854775808, -9223372036854775809]", 2,
                  "[9223372036854775807, \"9223372036854775808\", "
                  "-9223372036854775808, \"-9223372036854775809\"]");
    check_quoting("{\"s\": \"1e400 \\\" 1e999\", \"n\": 01e999}", 0,
                  "{\"s\": \"1e400 \\\" 1e999\", \"n\": 01e999}");
    tap_ok(scan_line("[{},{},{}]", 10, 7, &scan) == 0 && scan.values == 7 &&
           scan_line("[{},{},{}]", 10, 6, &scan) != 0,
           "scan: [{},{},{}] counts 7 (1 + brackets + commas), and stops "
           "past a limit of 6");
    static const char *const lines[4][2] = {
        {"{\"outputs\": {\"id\": \"inner\"}, \"id\": \"outer\"}", "outer"},
        {"{\"\\u0069d\": \"escaped\"}", "escaped"},
        {"[{\"id\": \"in an array\"}]", NULL},
        {"{\"id\": 7}", NULL}};
    for (int i = 0; i < 4; i++) {
        char *id = scan_top_level_id(lines[i][0], strlen(lines[i][0]));
        tap_ok(lines[i][1] ? id != NULL && strcmp(id, lines[i][1]) == 0
                           : id == NULL,
               "scan: the top-level id of %s is %s (got %s)", lines[i][0],
               lines[i][1] ? lines[i][1] : "none", id ? id : "none");
        free(id);
    }
}

static void test_sanitize(void)
{
    static const char *const cases[6][2] = {
        {"plain \xc3\xa9 \xf0\x9f\x98\x80", "plain \xc3\xa9 \xf0\x9f\x98\x80"},
        {"bad \xff\xfe", "bad ??"},
        {"overlong \xc0\xaf", "overlong ??"},
        {"surrogate \xed\xa0\x80", "surrogate ???"},
        {"cut \xc3", "cut ?"},
        {"esc \x1b[2J\r", "esc ?[2J?"}};
    char out[64];
    for (int i = 0; i < 6; i++) {
        text_sanitize(out, sizeof out, cases[i][0], strlen(cases[i][0]), 1);
        tap_ok(strcmp(out, cases[i][1]) == 0, "sanitize: case %d as expected "
               "(got %s)", i, out);
    }
    text_sanitize(out, 8, "abcdef\xc3\xa9", 8, 1);
    tap_ok(strcmp(out, "abcdef") == 0, "sanitize: a character that does not "
           "fit whole is left out (got %s)", out);
}

int main(void)
{
    test_scan();
    test_sanitize();
    if (make_fixtures() != 0) {
        printf("Bail out! cannot copy the fixtures from vectors/ to %s\n",
               fixture_dir);
        return 1;
    }
    setenv("LMR_SCRATCH_DIR", fixture_dir, 1);
    test_int_share();
    test_int64_exact();
    test_not_utf8();
    test_not_utf8_path();
    test_memory();
    test_memory_offline();
    test_line_limit();
    test_hello_limit();
    test_stderr_limit();
    test_special_files();
    test_answer_twice();
    test_orphan_stdout();
    test_setsid_child();
    test_big_numbers();
    test_bad_shapes();
    test_injected_id();
    test_empty_ops();
    remove_fixtures();
    tap_done();
    return tap_exit_status();
}
