/* runner.c -- see runner.h and spec/protocol.md. */
#include "runner.h"

#include <fnmatch.h>
#include <glob.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "runner_input.h"
#include "runner_report.h"
#include "runner_testee.h"
#include "runner_verdict.h"
#include "vecio.h"

#define PROTOCOL_VERSION 1
#define MESSAGE_LEN 1024
#define STDERR_SHOWN 2048        /* bytes of a testee's stderr shown */
#define CRASH_GRACE_SECONDS 0.5  /* for a testee that closed its output to exit */

/* ---- options ------------------------------------------------------------- */

void runner_usage(FILE *out)
{
    fprintf(out,
        "usage: lmr-run [--vectors DIR] [--op OP]... [--id GLOB]...\n"
        "               [--timeout S] [--known-failures FILE] [--report FILE]\n"
        "               -- PROGRAM ARGS...\n"
        "       lmr-run [same options] --results FILE --class CLASS\n"
        "Runs the testee PROGRAM on the vector files of DIR (default: vectors)\n"
        "as spec/protocol.md says, or judges a results file (offline mode).\n"
        "--op and --id (a shell glob on case ids) select cases: a case is run\n"
        "when it matches one of the --op values (if any) and one of the --id\n"
        "globs (if any). CLASS is fp64, fp32, bf16 or fp16. Exit status:\n"
        "0 passed, 1 failed, 2 bad usage or malformed vector file.\n");
}

/* Prints "lmr-run: " and the problem, then the usage; RUNNER_USAGE. */
static int usage_error(FILE *err, const char *fmt, const char *detail)
{
    fprintf(err, "lmr-run: ");
    fprintf(err, fmt, detail);
    fprintf(err, "\n");
    runner_usage(err);
    return RUNNER_USAGE;
}

/* Applies one "--name value" option; RUNNER_OK or RUNNER_USAGE. */
static int set_option(runner_options *options, const char *name,
                      const char *value, FILE *err)
{
    char *end;
    if (strcmp(name, "--vectors") == 0)
        options->vectors_dir = value;
    else if (strcmp(name, "--op") == 0)
        options->ops[options->n_ops++] = value;
    else if (strcmp(name, "--id") == 0)
        options->id_globs[options->n_id_globs++] = value;
    else if (strcmp(name, "--known-failures") == 0)
        options->known_failures_path = value;
    else if (strcmp(name, "--report") == 0)
        options->report_path = value;
    else if (strcmp(name, "--results") == 0)
        options->results_path = value;
    else if (strcmp(name, "--class") == 0) {
        options->offline_class = vec_class_from_name(value);
        if (options->offline_class < 0)
            return usage_error(err, "unknown class '%s'", value);
    } else if (strcmp(name, "--timeout") == 0) {
        options->timeout_seconds = strtod(value, &end);
        if (*end != '\0' || !(options->timeout_seconds > 0.0) ||
            !(options->timeout_seconds < 1e6))
            return usage_error(err, "--timeout needs seconds > 0, not '%s'",
                               value);
    } else {
        return usage_error(err, "unknown option '%s'", name);
    }
    return RUNNER_OK;
}

/* The combinations the two forms of the command allow. */
static int check_mode(const runner_options *options, FILE *err)
{
    if (options->results_path != NULL) {
        if (options->program != NULL)
            return usage_error(err, "%s", "--results takes no PROGRAM");
        if (options->offline_class < 0)
            return usage_error(err, "%s", "--results needs --class");
        return RUNNER_OK;
    }
    if (options->offline_class >= 0)
        return usage_error(err, "%s", "--class goes with --results only "
                           "(a testee states its class in its hello)");
    if (options->program == NULL || options->program[0] == NULL)
        return usage_error(err, "%s", "no testee: put its command after --");
    return RUNNER_OK;
}

int runner_parse_options(runner_options *options, int argc, char **argv,
                         FILE *err)
{
    memset(options, 0, sizeof *options);
    options->vectors_dir = "vectors";
    options->timeout_seconds = RUNNER_DEFAULT_TIMEOUT;
    options->offline_class = -1;
    options->max_restarts = RUNNER_MAX_RESTARTS;
    options->max_line_bytes = RUNNER_MAX_LINE;
    options->show_progress = -1;
    options->ops = calloc((size_t)argc + 1, sizeof *options->ops);
    options->id_globs = calloc((size_t)argc + 1, sizeof *options->id_globs);
    if (options->ops == NULL || options->id_globs == NULL)
        return usage_error(err, "%s", "out of memory");
    int i = 1;
    while (i < argc && strcmp(argv[i], "--") != 0) {
        if (strcmp(argv[i], "--help") == 0) {
            options->help = 1;
            return RUNNER_OK;
        }
        if (i + 1 >= argc || strcmp(argv[i + 1], "--") == 0)
            return usage_error(err, "option '%s' needs a value", argv[i]);
        if (set_option(options, argv[i], argv[i + 1], err) != RUNNER_OK)
            return RUNNER_USAGE;
        i += 2;
    }
    if (i < argc)
        options->program = argv + i + 1;
    return check_mode(options, err);
}

void runner_options_free(runner_options *options)
{
    free(options->ops);
    free(options->id_globs);
    options->ops = options->id_globs = NULL;
}

/* ---- the state of a run -------------------------------------------------- */

typedef struct {
    const runner_options *options;
    FILE *err;
    run_report report;
    known_list known;
    results_index results;      /* offline mode */
    int offline;
    int cls;                    /* the class judged: the hello's, or --class */
    json_t *hello;              /* the testee's first hello */
    testee_process testee;
    int running;                /* the testee is up and has said hello */
    size_t failures;            /* timeouts, crashes and protocol errors */
    int gave_up;                /* too many: the testee is not restarted */
    verdict_kind last_failure;
    char last_reason[VERDICT_REASON_LEN];
    size_t selected;            /* cases matching --op and --id */
    size_t not_applicable;      /* of those, cases not listing the class */
} run_state;

/* The testee's process group, for the signal handler: a runner that is
 * interrupted takes its testee with it. */
static volatile sig_atomic_t active_group;

/* SIGINT, SIGTERM, SIGHUP: kills the testee's group, then dies of the
 * signal as if unhandled. Only async-signal-safe calls. */
static void on_fatal_signal(int signal_number)
{
    if (active_group > 0)
        kill(-(pid_t)active_group, SIGKILL);
    signal(signal_number, SIG_DFL);
    raise(signal_number);
}

/* Appends printf-style text to the outcome's reason. */
static void append_reason(case_outcome *outcome, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void append_reason(case_outcome *outcome, const char *fmt, ...)
{
    size_t used = strlen(outcome->reason);
    va_list args;
    va_start(args, fmt);
    vsnprintf(outcome->reason + used, sizeof outcome->reason - used, fmt, args);
    va_end(args);
}

/* ---- the testee's process ------------------------------------------------ */

/* The verdict of an exchange that brought no line. */
static void describe_event(const run_state *state, case_outcome *outcome,
                           testee_event event, const char *awaited)
{
    if (event == TESTEE_TIMEOUT)
        outcome_set(outcome, VERDICT_TIMEOUT, "no %s within %g s", awaited,
                    state->options->timeout_seconds);
    else if (event == TESTEE_CLOSED)
        outcome_set(outcome, VERDICT_CRASH, "the testee closed its output "
                    "before its %s", awaited);
    else if (event == TESTEE_TOO_LONG)
        outcome_set(outcome, VERDICT_PROTOCOL_ERROR, "a line longer than %zu "
                    "bytes", state->options->max_line_bytes);
    else
        outcome_set(outcome, VERDICT_PROTOCOL_ERROR, "a line before the whole "
                    "request was written");
}

/* Stops the testee after a timeout, crash or protocol error, collecting its
 * standard error; a crash's reason gets how the testee ended. */
static void stop_after_failure(run_state *state, case_outcome *outcome,
                               char *stderr_text)
{
    char ending[128];
    double grace = outcome->verdict == VERDICT_CRASH ? CRASH_GRACE_SECONDS : 0.0;
    testee_stop(&state->testee, grace, stderr_text, STDERR_SHOWN);
    active_group = 0;
    state->running = 0;
    testee_exit_text(&state->testee, ending, sizeof ending);
    if (outcome->verdict == VERDICT_CRASH)
        append_reason(outcome, " (it %s)", ending);
}

/* 1 if array is a JSON array of strings (possibly empty). */
static int is_array_of_strings(const json_t *array)
{
    size_t i;
    const json_t *element;
    if (!json_is_array(array))
        return 0;
    json_array_foreach(array, i, element)
        if (!json_is_string(element))
            return 0;
    return 1;
}

/* 0 if hello is a valid hello (spec/protocol.md#hello), else -1 with a
 * protocol error in outcome. */
static int check_hello(const json_t *hello, case_outcome *outcome)
{
    const char *cls = json_string_value(json_object_get(hello, "class"));
    const char *problem = NULL;
    if (!json_is_object(hello))
        problem = "not a JSON object";
    else if (json_integer_value(json_object_get(hello, "protocol")) !=
             PROTOCOL_VERSION)
        problem = "\"protocol\" must be 1";
    else if (!json_is_string(json_object_get(hello, "name")))
        problem = "\"name\" must be a string";
    else if (cls == NULL || vec_class_from_name(cls) < 0)
        problem = "\"class\" must be \"fp64\", \"fp32\", \"bf16\" or \"fp16\"";
    else if (!is_array_of_strings(json_object_get(hello, "ops")))
        problem = "\"ops\" must be an array of op names, or [\"*\"]";
    if (problem != NULL)
        outcome_set(outcome, VERDICT_PROTOCOL_ERROR, "bad hello: %s", problem);
    return problem ? -1 : 0;
}

/* Reads the hello of a testee just started: the first is kept, a later one
 * must claim the same class. 0, or -1 with the verdict in outcome. */
static int read_hello(run_state *state, case_outcome *outcome)
{
    char *line;
    size_t len;
    json_error_t error;
    testee_event event = testee_exchange(&state->testee, NULL, 0,
                                         state->options->timeout_seconds,
                                         &line, &len);
    if (event != TESTEE_LINE) {
        describe_event(state, outcome, event, "hello");
        return -1;
    }
    json_t *hello = json_loadb(line, len, JSON_REJECT_DUPLICATES, &error);
    int failed = check_hello(hello, outcome);
    if (failed)
        append_reason(outcome, " (the line: %.80s%s)", line,
                      len > 80 ? "..." : "");
    const char *cls = json_string_value(json_object_get(hello, "class"));
    if (!failed && state->hello == NULL) {
        state->hello = json_incref(hello);
        state->cls = vec_class_from_name(cls);
    } else if (!failed && vec_class_from_name(cls) != state->cls) {
        outcome_set(outcome, VERDICT_PROTOCOL_ERROR, "the restarted testee "
                    "claims class %s, not %s", cls, vec_class_name(state->cls));
        failed = -1;
    }
    json_decref(hello);
    return failed;
}

/* Starts the testee and reads its hello. 0; or -1 with the verdict in
 * outcome (the testee is stopped), or -2 when the program cannot be run. */
static int start_testee(run_state *state, case_outcome *outcome,
                        char *stderr_text)
{
    char message[MESSAGE_LEN];
    if (testee_start(&state->testee, state->options->program,
                     state->options->max_line_bytes, message,
                     sizeof message) != 0) {
        outcome_set(outcome, VERDICT_CRASH, "%s", message);
        return -2;
    }
    active_group = (sig_atomic_t)state->testee.pid;
    if (read_hello(state, outcome) != 0) {
        stop_after_failure(state, outcome, stderr_text);
        return -1;
    }
    state->running = 1;
    return 0;
}

/* Counts a failure of the testee; past the limit it is not restarted. */
static void note_failure(run_state *state, const case_outcome *outcome)
{
    state->failures++;
    state->last_failure = outcome->verdict;
    snprintf(state->last_reason, sizeof state->last_reason, "%s",
             outcome->reason);
    if (state->failures > state->options->max_restarts)
        state->gave_up = 1;
}

/* Closes the testee's input at the end of the run and notes an unclean
 * exit. */
static void finish_testee(run_state *state)
{
    char stderr_text[STDERR_SHOWN], ending[128];
    if (!state->running)
        return;
    testee_finish(&state->testee, state->options->timeout_seconds,
                  stderr_text, sizeof stderr_text);
    active_group = 0;
    state->running = 0;
    if (testee_exited_cleanly(&state->testee))
        return;
    testee_exit_text(&state->testee, ending, sizeof ending);
    report_comment(&state->report, "note: at the end, the testee %s "
                   "(expected: exit status 0)", ending);
    if (stderr_text[0] != '\0')
        report_comment(&state->report, "testee stderr: %s", stderr_text);
}

/* ---- one case ------------------------------------------------------------ */

/* {"id", "op", "params", "inputs"} from the case as it is in the file, as
 * one line ending in a newline (caller frees), or NULL. */
static char *request_line(const char *op, json_t *raw_case, size_t *len)
{
    json_t *request = json_pack("{s:O, s:s, s:O, s:O}",
                                "id", json_object_get(raw_case, "id"),
                                "op", op,
                                "params", json_object_get(raw_case, "params"),
                                "inputs", json_object_get(raw_case, "inputs"));
    char *text = request ? json_dumps(request, JSON_COMPACT |
                                      JSON_REAL_PRECISION(17)) : NULL;
    json_decref(request);
    if (text == NULL)
        return NULL;
    *len = strlen(text);
    char *line = realloc(text, *len + 2);
    if (line == NULL) {
        free(text);
        return NULL;
    }
    line[(*len)++] = '\n';
    line[*len] = '\0';
    return line;
}

/* 1 if the hello lists op, or "*". */
static int testee_supports(const run_state *state, const char *op)
{
    size_t i;
    const json_t *name;
    json_array_foreach(json_object_get(state->hello, "ops"), i, name)
        if (strcmp(json_string_value(name), "*") == 0 ||
            strcmp(json_string_value(name), op) == 0)
            return 1;
    return 0;
}

/* Sends the case to the testee (restarting it if needed) and judges the
 * answer. */
static void ask_testee(run_state *state, const char *op, const vec_case *c,
                       json_t *raw_case, case_outcome *outcome,
                       char *stderr_text)
{
    char *line;
    size_t request_len, line_len;
    if (state->gave_up) {
        outcome_set(outcome, state->last_failure, "not sent: the testee "
                    "failed %zu times and is not restarted again; the last "
                    "time: %s", state->failures, state->last_reason);
        return;
    }
    if (!state->running && start_testee(state, outcome, stderr_text) != 0) {
        note_failure(state, outcome);
        return;
    }
    char *request = request_line(op, raw_case, &request_len);
    if (request == NULL) {
        outcome_set(outcome, VERDICT_FAIL, "the runner is out of memory");
        return;
    }
    testee_event event = testee_exchange(&state->testee, request, request_len,
                                         state->options->timeout_seconds,
                                         &line, &line_len);
    free(request);
    if (event == TESTEE_LINE)
        judge_response(outcome, line, line_len, c, state->cls);
    else
        describe_event(state, outcome, event, "response");
    if (outcome->verdict == VERDICT_TIMEOUT ||
        outcome->verdict == VERDICT_CRASH ||
        outcome->verdict == VERDICT_PROTOCOL_ERROR) {
        stop_after_failure(state, outcome, stderr_text);
        note_failure(state, outcome);
    }
}

/* Offline mode: the case's line of the results file. */
static void judge_offline(run_state *state, const vec_case *c,
                          case_outcome *outcome)
{
    char *line;
    size_t len, copies, first_line;
    if (!results_fetch(&state->results, c->id, &line, &len, &copies,
                       &first_line))
        outcome_set(outcome, VERDICT_UNSUPPORTED, "no response in the results "
                    "file");
    else if (copies > 1)
        outcome_set(outcome, VERDICT_PROTOCOL_ERROR, "%zu responses in the "
                    "results file (the first on line %zu)", copies, first_line);
    else
        judge_response(outcome, line, len, c, state->cls);
}

/* A listed failure becomes known_failure; a listed pass, unexpected_pass. */
static void apply_known_failures(run_state *state, const char *id,
                                 case_outcome *outcome)
{
    known_entry *entry = known_find(&state->known, id);
    if (entry == NULL)
        return;
    outcome->listed_reason = entry->reason;
    if (verdict_is_failure(outcome->verdict)) {
        outcome->verdict = VERDICT_KNOWN_FAILURE;
    } else if (outcome->verdict == VERDICT_PASS) {
        outcome->verdict = VERDICT_UNEXPECTED_PASS;
        snprintf(outcome->reason, sizeof outcome->reason, "listed as a known "
                 "failure (%s) but passes: the list is stale",
                 entry->reason[0] ? entry->reason : "no reason listed");
    }
}

/* 1 if the case matches one --op (when any is given) and one --id glob
 * (when any is given). */
static int is_selected(const runner_options *options, const char *op,
                       const char *id)
{
    int op_matches = options->n_ops == 0, id_matches = options->n_id_globs == 0;
    for (size_t i = 0; i < options->n_ops && !op_matches; i++)
        op_matches = strcmp(options->ops[i], op) == 0;
    for (size_t i = 0; i < options->n_id_globs && !id_matches; i++)
        id_matches = fnmatch(options->id_globs[i], id, 0) == 0;
    return op_matches && id_matches;
}

/* Runs, judges and reports one case of file, unless it is not selected or
 * does not apply to the class judged. */
static void run_case(run_state *state, const vec_file *file, const vec_case *c,
                     json_t *raw_case, size_t file_index, size_t n_files)
{
    case_outcome outcome;
    char stderr_text[STDERR_SHOWN] = "";
    if (!is_selected(state->options, file->op, c->id))
        return;
    state->selected++;
    if (!((c->classes >> state->cls) & 1u)) {
        state->not_applicable++;
        return;
    }
    memset(&outcome, 0, sizeof outcome);
    report_progress(&state->report, file_index, n_files, c->id);
    if (state->offline)
        judge_offline(state, c, &outcome);
    else if (!testee_supports(state, file->op))
        outcome_set(&outcome, VERDICT_UNSUPPORTED, "op %s is not in the "
                    "testee's hello", file->op);
    else
        ask_testee(state, file->op, c, raw_case, &outcome, stderr_text);
    apply_known_failures(state, c->id, &outcome);
    report_case(&state->report, file->op, c, &outcome, stderr_text);
    outcome_free(&outcome);
}

/* ---- the vector files ---------------------------------------------------- */

/* A shallow copy of a vector file's root in which every case's inputs are
 * an empty object: vecio then decodes the expected values and tolerances
 * without decoding (or regenerating) inputs the runner only forwards. */
static json_t *judging_view(json_t *root)
{
    json_t *view = json_copy(root), *cases = json_object_get(root, "cases");
    json_t *stripped = json_array(), *c;
    size_t i;
    if (view == NULL || !json_is_object(root) || !json_is_array(cases)) {
        json_decref(stripped);
        return view;
    }
    json_array_foreach(cases, i, c) {
        json_t *copy = json_is_object(c) ? json_copy(c) : json_incref(c);
        if (json_is_object(json_object_get(copy, "inputs")))
            json_object_set_new(copy, "inputs", json_object());
        json_array_append_new(stripped, copy);
    }
    json_object_set_new(view, "cases", stripped);
    return view;
}

/* Runs the selected cases of one file; -1 when it is malformed. */
static int run_file(run_state *state, const char *path, size_t file_index,
                    size_t n_files)
{
    json_error_t error;
    vec_file file;
    char message[VEC_ERRLEN];
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &error);
    if (root == NULL) {
        report_bail_out(&state->report, "%s: line %d: %s", path, error.line,
                        error.text);
        return -1;
    }
    json_t *view = judging_view(root);
    int loaded = vec_file_from_json(&file, view, path, message, sizeof message);
    json_decref(view);
    if (loaded == 0 && report_begin_file(&state->report, path) != 0) {
        snprintf(message, sizeof message, "%s: out of memory", path);
        loaded = -1;
    }
    if (loaded != 0)
        report_bail_out(&state->report, "malformed vector file: %s", message);
    json_t *raw_cases = json_object_get(root, "cases");
    for (size_t i = 0; loaded == 0 && i < file.n_cases; i++)
        run_case(state, &file, &file.cases[i], json_array_get(raw_cases, i),
                 file_index, n_files);
    vec_file_free(&file);
    json_decref(root);
    return loaded;
}

/* The vector files of the directory, sorted. 0, or -1 after a message. */
static int find_vector_files(const char *dir, glob_t *found, FILE *err)
{
    size_t len = strlen(dir) + sizeof "/*.json";
    char *pattern = malloc(len);
    if (pattern == NULL)
        return -1;
    snprintf(pattern, len, "%s/*.json", dir);
    int status = glob(pattern, 0, NULL, found);
    free(pattern);
    if (status == 0)
        return 0;
    if (status != GLOB_NOMATCH)
        globfree(found);
    fprintf(err, "lmr-run: no vector files (*.json) in %s\n", dir);
    return -1;
}

/* ---- the run ------------------------------------------------------------- */

/* Opens what the run reads and writes. RUNNER_OK or RUNNER_USAGE. */
static int open_inputs(run_state *state, FILE *out)
{
    const runner_options *options = state->options;
    char message[MESSAGE_LEN];
    int show = options->show_progress >= 0 ? options->show_progress
                                           : isatty(fileno(state->err));
    if (options->known_failures_path != NULL &&
        known_load(&state->known, options->known_failures_path, message,
                   sizeof message) != 0) {
        fprintf(state->err, "lmr-run: --known-failures: %s\n", message);
        return RUNNER_USAGE;
    }
    if (state->offline &&
        results_open(&state->results, options->results_path,
                     options->max_line_bytes, message, sizeof message) != 0) {
        fprintf(state->err, "lmr-run: --results: %s\n", message);
        return RUNNER_USAGE;
    }
    if (report_open(&state->report, out, state->err, show, options->report_path,
                    message, sizeof message) != 0) {
        fprintf(state->err, "lmr-run: --report: %s\n", message);
        return RUNNER_USAGE;
    }
    return RUNNER_OK;
}

/* The first start of the testee. RUNNER_OK; RUNNER_USAGE when it cannot be
 * run; RUNNER_FAILED (after a bail-out) when it says no valid hello. */
static int first_start(run_state *state)
{
    case_outcome outcome;
    char stderr_text[STDERR_SHOWN] = "";
    memset(&outcome, 0, sizeof outcome);
    int started = start_testee(state, &outcome, stderr_text);
    if (started == -2) {
        fprintf(state->err, "lmr-run: %s\n", outcome.reason);
        report_bail_out(&state->report, "%s", outcome.reason);
    }
    if (started == -1) {
        report_bail_out(&state->report, "the testee did not say hello: %s: %s",
                        verdict_name(outcome.verdict), outcome.reason);
        if (stderr_text[0] != '\0')
            report_comment(&state->report, "testee stderr: %s", stderr_text);
    }
    state->report.cls = state->cls;
    if (started == 0)
        report_comment(&state->report, "testee %s, class %s",
                       json_string_value(json_object_get(state->hello, "name")),
                       vec_class_name(state->cls));
    if (started == -2)
        return RUNNER_USAGE;
    return started == 0 ? RUNNER_OK : RUNNER_FAILED;
}

/* Comments on what the run did not judge; 1 when that fails the run. */
static int report_leftovers(run_state *state)
{
    for (size_t i = 0; i < state->known.count; i++)
        if (!state->known.entries[i].matched)
            report_comment(&state->report, "note: the known failure %s matched "
                           "no case that was run", state->known.entries[i].id);
    if (state->not_applicable > 0)
        report_comment(&state->report, "note: %zu selected cases do not apply "
                       "to class %s and were not sent", state->not_applicable,
                       vec_class_name(state->cls));
    for (size_t i = 0; i < state->results.n_stray; i++)
        if (i < RESULTS_MAX_STRAY_MESSAGES)
            report_comment(&state->report, "results file, %s",
                           state->results.stray[i]);
    if (state->results.n_stray > 0)
        report_comment(&state->report, "%zu lines of the results file have no "
                       "usable id: this fails the run", state->results.n_stray);
    return state->results.n_stray > 0;
}

/* Now in UTC, ISO 8601 ("2024-05-01T12:00:00Z"), for the report. */
static json_t *date_json(void)
{
    char text[32] = "";
    struct tm utc;
    time_t now = time(NULL);
    if (now != (time_t)-1 && gmtime_r(&now, &utc) != NULL)
        strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return json_string(text);
}

/* {"vectors", "class", "timeout", "date" (when the run ended), and the
 * testee's command and hello, or the results file} for the JSON report. */
static json_t *run_json(const run_state *state)
{
    const runner_options *options = state->options;
    json_t *run = json_pack("{s:s, s:o, s:s, s:f, s:I, s:I}",
                            "vectors", options->vectors_dir,
                            "date", date_json(),
                            "class", vec_class_name(state->cls),
                            "timeout", options->timeout_seconds,
                            "selected", (json_int_t)state->selected,
                            "not_applicable", (json_int_t)state->not_applicable);
    if (state->offline) {
        json_object_set_new(run, "results", json_string(options->results_path));
        return run;
    }
    json_t *command = json_array();
    for (char **arg = options->program; *arg != NULL; arg++)
        json_array_append_new(command, json_string(*arg));
    json_object_set_new(run, "command", command);
    if (state->hello != NULL)
        json_object_set(run, "testee", state->hello);
    return run;
}

/* Runs every file; the exit status. */
static int run_all(run_state *state, const glob_t *files)
{
    int status = RUNNER_OK;
    if (!state->offline)
        status = first_start(state);
    for (size_t i = 0; status == RUNNER_OK && i < files->gl_pathc; i++)
        if (run_file(state, files->gl_pathv[i], i, files->gl_pathc) != 0)
            status = RUNNER_USAGE;
    finish_testee(state);
    if (status == RUNNER_OK && state->selected == 0) {
        report_bail_out(&state->report, "no case matches the --op and --id "
                        "selection");
        status = RUNNER_USAGE;
    }
    int leftovers_fail = report_leftovers(state);
    if (status == RUNNER_OK &&
        (report_any_failure(&state->report) || leftovers_fail))
        status = RUNNER_FAILED;
    return status;
}

/* The signal dispositions a run changes, to be restored at its end. */
typedef struct {
    struct sigaction pipe, interrupt, terminate, hangup;
} saved_signals;

/* Ignores SIGPIPE (a testee that closes its input is seen as a write
 * error) and kills the testee with the runner on SIGINT, SIGTERM, SIGHUP. */
static void install_signals(saved_signals *saved)
{
    struct sigaction ignore, fatal;
    memset(&ignore, 0, sizeof ignore);
    sigemptyset(&ignore.sa_mask);
    ignore.sa_handler = SIG_IGN;
    fatal = ignore;
    fatal.sa_handler = on_fatal_signal;
    sigaction(SIGPIPE, &ignore, &saved->pipe);
    sigaction(SIGINT, &fatal, &saved->interrupt);
    sigaction(SIGTERM, &fatal, &saved->terminate);
    sigaction(SIGHUP, &fatal, &saved->hangup);
}

/* Puts back the dispositions install_signals changed. */
static void restore_signals(const saved_signals *saved)
{
    sigaction(SIGPIPE, &saved->pipe, NULL);
    sigaction(SIGINT, &saved->interrupt, NULL);
    sigaction(SIGTERM, &saved->terminate, NULL);
    sigaction(SIGHUP, &saved->hangup, NULL);
}

int runner_run(const runner_options *options, FILE *out, FILE *err)
{
    saved_signals saved;
    run_state state;
    glob_t files;
    char message[MESSAGE_LEN];
    memset(&state, 0, sizeof state);
    state.options = options;
    state.err = err;
    state.offline = options->results_path != NULL;
    state.cls = state.offline ? options->offline_class : VEC_FP64;
    if (find_vector_files(options->vectors_dir, &files, err) != 0)
        return RUNNER_USAGE;
    int status = open_inputs(&state, out);
    if (status == RUNNER_OK) {
        install_signals(&saved);
        state.report.cls = state.cls;
        status = run_all(&state, &files);
        if (report_close(&state.report, run_json(&state), status, message,
                         sizeof message) != 0) {
            fprintf(err, "lmr-run: --report: %s\n", message);
            status = RUNNER_USAGE;
        }
        restore_signals(&saved);
    }
    globfree(&files);
    known_free(&state.known);
    results_free(&state.results);
    json_decref(state.hello);
    return status;
}
