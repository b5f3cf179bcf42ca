/* runner.c -- see runner.h and spec/protocol.md: a run over the vector
 * files, case by case. */
#include "runner.h"

#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "runner_files.h"
#include "runner_input.h"
#include "runner_limits.h"
#include "runner_report.h"
#include "runner_session.h"
#include "runner_text.h"
#include "runner_verdict.h"
#include "vecio.h"

#define MESSAGE_LEN 1024

/* ---- the state of a run -------------------------------------------------- */

typedef struct {
    const runner_options *options;
    FILE *err;
    run_report report;
    known_list known;
    results_index results;      /* offline mode */
    int offline;
    int cls;                    /* the class judged: the hello's, or --class */
    testee_session session;     /* online mode */
    FILE *transcript;           /* --transcript, or NULL */
    size_t selected;            /* cases matching --op and --id */
    size_t not_applicable;      /* of those, cases not listing the class */
    size_t judged;              /* cases whose verdict is not unsupported */
} run_state;

/* ---- one case ------------------------------------------------------------ */

/* Offline mode: the case's line of the results file. */
static void judge_offline(run_state *state, const vec_case *c,
                          const case_limits *limits, case_outcome *outcome)
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
        judge_response(outcome, line, len, c, state->cls, limits);
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

/* 1 if the case is sent to (or, offline, looked up for) the class judged;
 * else 0, counting why not. */
static int is_sent(run_state *state, const vec_case *c)
{
    if (!((c->classes >> state->cls) & 1u)) {
        state->not_applicable++;
        return 0;
    }
    if (!c->valid && state->options->numerics_only) {
        state->report.invalid_not_sent++;
        return 0;
    }
    return 1;
}

/* Runs, judges and reports one case of file, unless it is not selected or
 * not sent (runner_list says which). */
static void run_case(run_state *state, const vec_file *file, const vec_case *c,
                     json_t *raw_case, size_t file_index, size_t n_files)
{
    const runner_options *options = state->options;
    case_outcome outcome;
    case_limits limits;
    char stderr_text[SESSION_STDERR_SHOWN] = "";
    if (!runner_is_selected(options, file->op, c->id))
        return;
    state->selected++;
    if (!is_sent(state, c))
        return;
    memset(&outcome, 0, sizeof outcome);
    case_limits_compute(&limits, c, json_object_get(raw_case, "inputs"),
                        options->timeout_seconds, options->timeout_per_million,
                        options->max_line_bytes);
    report_progress(&state->report, file_index, n_files, c->id);
    if (state->offline)
        judge_offline(state, c, &limits, &outcome);
    else if (!session_supports(&state->session, file->op))
        outcome_set(&outcome, VERDICT_UNSUPPORTED, "op %s is not in the "
                    "testee's hello", file->op);
    else
        session_ask(&state->session, file->op, c, raw_case, &limits, &outcome,
                    stderr_text);
    state->judged += outcome.verdict != VERDICT_UNSUPPORTED;
    apply_known_failures(state, c->id, &outcome);
    report_case(&state->report, file->op, c, &outcome, stderr_text);
    outcome_free(&outcome);
}

/* ---- the vector files ---------------------------------------------------- */

/* Runs the selected cases of one file; -1 when it is malformed. */
static int run_file(run_state *state, const char *path, size_t file_index,
                    size_t n_files)
{
    vec_file file;
    json_t *root;
    char message[VEC_ERRLEN];
    if (runner_load_file(path, &file, &root, message, sizeof message) != 0) {
        report_bail_out(&state->report, "malformed vector file: %s", message);
        return -1;
    }
    int status = 0;
    if (report_begin_file(&state->report, path) != 0) {
        report_bail_out(&state->report, "%s: out of memory", path);
        status = -1;
    }
    json_t *raw_cases = json_object_get(root, "cases");
    for (size_t i = 0; status == 0 && i < file.n_cases; i++)
        run_case(state, &file, &file.cases[i], json_array_get(raw_cases, i),
                 file_index, n_files);
    vec_file_free(&file);
    json_decref(root);
    return status;
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
    if (options->transcript_path != NULL &&
        (state->transcript = fopen(options->transcript_path, "w")) == NULL) {
        fprintf(state->err, "lmr-run: --transcript: cannot write %s\n",
                options->transcript_path);
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
    char stderr_text[SESSION_STDERR_SHOWN] = "";
    memset(&outcome, 0, sizeof outcome);
    int started = session_start(&state->session, &outcome, stderr_text);
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
    state->cls = state->session.cls;
    state->report.cls = state->cls;
    if (started == 0) {
        const json_t *hello = state->session.hello;
        char *name = text_sanitized_copy(
            json_string_value(json_object_get(hello, "name")));
        report_comment(&state->report, "testee %s, class %s",
                       name ? name : "?", vec_class_name(state->cls));
        free(name);
    }
    if (started == -2)
        return RUNNER_USAGE;
    return started == 0 ? RUNNER_OK : RUNNER_FAILED;
}

/* Closes the testee's input at the end of the run and notes an unclean
 * exit, and the descendants the runner had to kill. */
static void finish_session(run_state *state)
{
    char stderr_text[SESSION_STDERR_SHOWN] = "", ending[128];
    if (state->offline)
        return;
    if (!session_finish(&state->session, ending, sizeof ending, stderr_text)) {
        report_comment(&state->report, "note: at the end, the testee %s "
                       "(expected: exit status 0)", ending);
        if (stderr_text[0] != '\0')
            report_comment(&state->report, "testee stderr: %s", stderr_text);
    }
    if (state->session.strays_killed > 0)
        report_comment(&state->report, "note: %zu processes started by the "
                       "testee had left its process group and outlived it; "
                       "the runner killed them (spec/protocol.md"
                       "#process-hygiene)", state->session.strays_killed);
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
    if (state->report.invalid_not_sent > 0)
        report_comment(&state->report, "note: %zu invalid cases were not sent "
                       "(--numerics-only): input validation is not judged",
                       state->report.invalid_not_sent);
    for (size_t i = 0; i < state->results.n_stray; i++)
        if (i < RESULTS_MAX_STRAY_MESSAGES)
            report_comment(&state->report, "results file, %s",
                           state->results.stray[i]);
    if (state->results.n_stray > 0)
        report_comment(&state->report, "%zu lines of the results file have no "
                       "usable id: this fails the run", state->results.n_stray);
    if (state->selected > 0 && state->judged == 0)
        report_comment(&state->report, "no case was judged: every case sent "
                       "was unsupported, or none applies to class %s; this "
                       "fails the run", vec_class_name(state->cls));
    return state->results.n_stray > 0 ||
           (state->selected > 0 && state->judged == 0);
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
 * testee's command and hello, or the results file} for the JSON report.
 * Paths and arguments are sanitized: the report stays JSON whatever bytes
 * they hold. */
static json_t *run_json(const run_state *state)
{
    const runner_options *options = state->options;
    json_t *run = json_object();
    json_object_set_new(run, "vectors", text_json_string(options->vectors_dir));
    json_object_set_new(run, "date", date_json());
    json_object_set_new(run, "class",
                        json_string(vec_class_name(state->cls)));
    json_object_set_new(run, "timeout", json_real(options->timeout_seconds));
    json_object_set_new(run, "timeout_per_million",
                        json_real(options->timeout_per_million));
    json_object_set_new(run, "numerics_only",
                        json_boolean(options->numerics_only));
    json_object_set_new(run, "selected",
                        json_integer((json_int_t)state->selected));
    json_object_set_new(run, "not_applicable",
                        json_integer((json_int_t)state->not_applicable));
    if (state->offline) {
        json_object_set_new(run, "results",
                            text_json_string(options->results_path));
        return run;
    }
    json_t *command = json_array();
    for (char **arg = options->program; *arg != NULL; arg++)
        json_array_append_new(command, text_json_string(*arg));
    json_object_set_new(run, "command", command);
    if (state->session.hello != NULL)
        json_object_set(run, "testee", state->session.hello);
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
    finish_session(state);
    if (status == RUNNER_OK && state->selected == 0) {
        report_bail_out(&state->report, "no case matches the --op and --id "
                        "selection");
        status = RUNNER_USAGE;
    }
    int leftovers_fail = status == RUNNER_OK && report_leftovers(state);
    if (status == RUNNER_OK &&
        (report_any_failure(&state->report) || leftovers_fail))
        status = RUNNER_FAILED;
    return status;
}

int runner_run(const runner_options *options, FILE *out, FILE *err)
{
    session_signals saved;
    run_state state;
    glob_t files;
    char message[MESSAGE_LEN];
    if (options->list)
        return runner_list(options, out, err);
    memset(&state, 0, sizeof state);
    state.options = options;
    state.err = err;
    state.offline = options->results_path != NULL;
    state.cls = state.offline ? options->cls : VEC_FP64;
    if (runner_find_vector_files(options->vectors_dir, &files, err) != 0)
        return RUNNER_USAGE;
    int status = open_inputs(&state, out);
    if (status == RUNNER_OK) {
        session_install_signals(&saved);
        session_init(&state.session, options, state.transcript);
        state.report.cls = state.cls;
        status = run_all(&state, &files);
        if (report_close(&state.report, run_json(&state), status, message,
                         sizeof message) != 0) {
            fprintf(err, "lmr-run: --report: %s\n", message);
            status = RUNNER_USAGE;
        }
        session_free(&state.session);
        session_restore_signals(&saved);
    }
    if (state.transcript != NULL)
        fclose(state.transcript);
    globfree(&files);
    known_free(&state.known);
    results_free(&state.results);
    return status;
}
