/* runner_session.c -- see runner_session.h and spec/protocol.md. */
#include "runner_session.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "runner_scan.h"
#include "runner_text.h"

#define PROTOCOL_VERSION 1
#define MESSAGE_LEN 1024
#define SHOWN_LEN 80             /* bytes of an offending line shown */
#define CRASH_GRACE_SECONDS 0.5  /* for a testee that closed its output to exit */

/* ---- the transcript ------------------------------------------------------ */

/* "> request" (it ends in a newline) or "< line" on the transcript. */
static void transcribe(const testee_session *session, char direction,
                       const char *line, size_t len)
{
    if (session->transcript == NULL)
        return;
    fputc(direction, session->transcript);
    fputc(' ', session->transcript);
    fwrite(line, 1, len, session->transcript);
    if (len == 0 || line[len - 1] != '\n')
        fputc('\n', session->transcript);
    fflush(session->transcript);
}

/* "# start: PROGRAM ARGS...": the next line read is a hello. */
static void transcribe_start(const testee_session *session)
{
    if (session->transcript == NULL)
        return;
    fputs("# start:", session->transcript);
    for (char **arg = session->options->program; *arg != NULL; arg++) {
        char *safe = text_sanitized_copy(*arg);
        fprintf(session->transcript, " %s", safe ? safe : "?");
        free(safe);
    }
    fputc('\n', session->transcript);
}

/* ---- helpers ------------------------------------------------------------- */

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

/* The first SHOWN_LEN bytes of raw text, "..." after when cut. */
static void show_raw(char *shown, size_t size, const char *text, size_t len)
{
    size_t taken = text_sanitize(shown, size - 4, text,
                                 len < SHOWN_LEN ? len : SHOWN_LEN, 0);
    if (taken < len)
        strcat(shown, "...");
}

/* The verdict of an exchange that brought no line. */
static void describe_event(const testee_session *session,
                           case_outcome *outcome, testee_event event,
                           const char *awaited, double timeout,
                           size_t max_line)
{
    if (event == TESTEE_TIMEOUT)
        outcome_set(outcome, VERDICT_TIMEOUT, "no %s within %g s", awaited,
                    timeout);
    else if (event == TESTEE_CLOSED && session->testee.exited &&
             !session->testee.output_closed)
        outcome_set(outcome, VERDICT_CRASH, "the testee exited before its "
                    "%s, while a process it started still held its standard "
                    "output open", awaited);
    else if (event == TESTEE_CLOSED)
        outcome_set(outcome, VERDICT_CRASH, "the testee closed its output "
                    "before its %s", awaited);
    else if (event == TESTEE_TOO_LONG)
        outcome_set(outcome, VERDICT_PROTOCOL_ERROR, "a line longer than %zu "
                    "bytes, the most this %s can need "
                    "(spec/conventions.md#limits)", max_line, awaited);
    else
        outcome_set(outcome, VERDICT_PROTOCOL_ERROR, "a line before the whole "
                    "request was written (an extra answer to an earlier "
                    "case?)");
}

/* Stops the testee after a timeout, crash or protocol error, collecting its
 * standard error; a crash's reason gets how the testee ended. */
static void stop_after_failure(testee_session *session, case_outcome *outcome,
                               char *stderr_text)
{
    char ending[128];
    double grace = outcome->verdict == VERDICT_CRASH ? CRASH_GRACE_SECONDS : 0.0;
    testee_stop(&session->testee, grace, stderr_text, SESSION_STDERR_SHOWN);
    session_forget_group();
    session->strays_killed += session->testee.strays_killed;
    session->running = 0;
    testee_exit_text(&session->testee, ending, sizeof ending);
    if (outcome->verdict == VERDICT_CRASH)
        append_reason(outcome, " (it %s)", ending);
}

/* Counts a failure of the testee; past the limit it is not restarted. */
static void note_failure(testee_session *session, const case_outcome *outcome)
{
    session->failures++;
    session->last_failure = outcome->verdict;
    snprintf(session->last_reason, sizeof session->last_reason, "%s",
             outcome->reason);
    if (session->failures > session->options->max_restarts)
        session->gave_up = 1;
}

/* ---- the hello ----------------------------------------------------------- */

/* 1 if array is a non-empty JSON array of strings. */
static int is_list_of_names(const json_t *array)
{
    size_t i;
    const json_t *element;
    if (!json_is_array(array) || json_array_size(array) == 0)
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
    const json_t *protocol = json_object_get(hello, "protocol");
    const char *problem = NULL;
    if (!json_is_object(hello))
        problem = "not a JSON object";
    else if (!json_is_integer(protocol) ||
             json_integer_value(protocol) != PROTOCOL_VERSION)
        problem = "\"protocol\" must be 1";
    else if (!json_is_string(json_object_get(hello, "name")))
        problem = "\"name\" must be a string";
    else if (cls == NULL || vec_class_from_name(cls) < 0)
        problem = "\"class\" must be \"fp64\", \"fp32\", \"bf16\" or \"fp16\"";
    else if (!is_list_of_names(json_object_get(hello, "ops")))
        problem = "\"ops\" must be a non-empty array of op names, or [\"*\"]";
    if (problem != NULL)
        outcome_set(outcome, VERDICT_PROTOCOL_ERROR, "bad hello: %s", problem);
    return problem ? -1 : 0;
}

/* The hello line parsed, if it is within the hello's limits; else NULL
 * (and a protocol error in outcome). */
static json_t *parse_hello(const char *line, size_t len, case_outcome *outcome,
                           int *too_big)
{
    scan_result scan;
    json_error_t error;
    *too_big = len > HELLO_MAX_BYTES ||
               scan_line(line, len, HELLO_MAX_VALUES, &scan) != 0;
    if (*too_big) {
        outcome_set(outcome, VERDICT_PROTOCOL_ERROR, "bad hello: more than "
                    "%zu bytes or %zu JSON values", HELLO_MAX_BYTES,
                    HELLO_MAX_VALUES);
        return NULL;
    }
    return json_loadb(line, len, JSON_REJECT_DUPLICATES, &error);
}

/* Reads the hello of a testee just started: the first is kept, a later one
 * must claim the same class. 0, or -1 with the verdict in outcome. */
static int read_hello(testee_session *session, case_outcome *outcome)
{
    char *line, shown[SHOWN_LEN + 8];
    size_t len;
    double timeout = session->options->timeout_seconds;
    testee_event event = testee_exchange(&session->testee, NULL, 0, timeout,
                                         HELLO_MAX_BYTES, &line, &len);
    if (event != TESTEE_LINE) {
        describe_event(session, outcome, event, "hello", timeout,
                       HELLO_MAX_BYTES);
        return -1;
    }
    transcribe(session, '<', line, len);
    int too_big;
    json_t *hello = parse_hello(line, len, outcome, &too_big);
    int failed = too_big ? -1 : check_hello(hello, outcome);
    if (failed) {
        show_raw(shown, sizeof shown, line, len);
        append_reason(outcome, " (the line: %s)", shown);
    }
    const char *cls = json_string_value(json_object_get(hello, "class"));
    if (!failed && session->hello == NULL) {
        session->hello = json_incref(hello);
        session->cls = vec_class_from_name(cls);
    } else if (!failed && vec_class_from_name(cls) != session->cls) {
        outcome_set(outcome, VERDICT_PROTOCOL_ERROR, "the restarted testee "
                    "claims class %s, not %s", cls,
                    vec_class_name(session->cls));
        failed = -1;
    }
    json_decref(hello);
    return failed;
}

/* ---- the process group, for the signal handler ----------------------------- */

/* The testee's process group: a runner that is interrupted takes its
 * testee with it. */
static volatile sig_atomic_t active_group;

void session_forget_group(void)
{
    active_group = 0;
}

/* SIGINT, SIGTERM, SIGHUP: kills the testee's group, then dies of the
 * signal as if unhandled. Only async-signal-safe calls. */
static void on_fatal_signal(int signal_number)
{
    if (active_group > 0)
        kill(-(pid_t)active_group, SIGKILL);
    signal(signal_number, SIG_DFL);
    raise(signal_number);
}

void session_install_signals(session_signals *saved)
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

void session_restore_signals(const session_signals *saved)
{
    sigaction(SIGPIPE, &saved->pipe, NULL);
    sigaction(SIGINT, &saved->interrupt, NULL);
    sigaction(SIGTERM, &saved->terminate, NULL);
    sigaction(SIGHUP, &saved->hangup, NULL);
}

/* ---- the public functions ------------------------------------------------ */

void session_init(testee_session *session, const runner_options *options,
                  FILE *transcript)
{
    memset(session, 0, sizeof *session);
    session->options = options;
    session->transcript = transcript;
    session->cls = VEC_FP64;
    session->testee.request_fd = session->testee.response_fd = -1;
    session->testee.stderr_fd = -1;
    testee_become_subreaper();
}

int session_start(testee_session *session, case_outcome *outcome,
                  char *stderr_text)
{
    char message[MESSAGE_LEN];
    transcribe_start(session);
    if (testee_start(&session->testee, session->options->program, message,
                     sizeof message) != 0) {
        outcome_set(outcome, VERDICT_CRASH, "%s", message);
        return -2;
    }
    active_group = (sig_atomic_t)session->testee.pid;
    if (read_hello(session, outcome) != 0) {
        stop_after_failure(session, outcome, stderr_text);
        return -1;
    }
    session->running = 1;
    return 0;
}

int session_supports(const testee_session *session, const char *op)
{
    size_t i;
    const json_t *name;
    json_array_foreach(json_object_get(session->hello, "ops"), i, name)
        if (strcmp(json_string_value(name), "*") == 0 ||
            strcmp(json_string_value(name), op) == 0)
            return 1;
    return 0;
}

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

/* A testee that wrote more after its response answered twice: the case is
 * a protocol error (spec/protocol.md#details-the-runner-decides), whatever
 * the first answer was worth. */
static void check_single_answer(testee_session *session, case_outcome *outcome)
{
    size_t pending_len;
    char shown[SHOWN_LEN + 8];
    if (testee_pending_output(&session->testee) == 0)
        return;
    const char *pending = testee_pending_text(&session->testee, &pending_len);
    verdict_kind alone = outcome->verdict;
    show_raw(shown, sizeof shown, pending, pending_len);
    outcome_free(outcome);
    outcome_set(outcome, VERDICT_PROTOCOL_ERROR, "more than one line in "
                "answer to this case (the first alone: %s); then came: %s",
                verdict_name(alone), shown);
}

/* 1 for the verdicts after which the testee is restarted. */
static int needs_restart(verdict_kind verdict)
{
    return verdict == VERDICT_TIMEOUT || verdict == VERDICT_CRASH ||
           verdict == VERDICT_PROTOCOL_ERROR;
}

void session_ask(testee_session *session, const char *op, const vec_case *c,
                 json_t *raw_case, const case_limits *limits,
                 case_outcome *outcome, char *stderr_text)
{
    char *line;
    size_t request_len, line_len;
    if (session->gave_up) {
        outcome_set(outcome, session->last_failure, "not sent: the testee "
                    "failed %zu times and is not restarted again; the last "
                    "time: %s", session->failures, session->last_reason);
        return;
    }
    if (!session->running && session_start(session, outcome, stderr_text) != 0) {
        note_failure(session, outcome);
        return;
    }
    char *request = request_line(op, raw_case, &request_len);
    if (request == NULL) {
        outcome_set(outcome, VERDICT_FAIL, "the runner is out of memory");
        return;
    }
    testee_mark_stderr(&session->testee);
    transcribe(session, '>', request, request_len);
    testee_event event = testee_exchange(&session->testee, request,
                                         request_len, limits->timeout,
                                         limits->max_line, &line, &line_len);
    free(request);
    if (event == TESTEE_LINE) {
        transcribe(session, '<', line, line_len);
        judge_response(outcome, line, line_len, c, session->cls, limits);
        check_single_answer(session, outcome);
    } else {
        describe_event(session, outcome, event, "response", limits->timeout,
                       limits->max_line);
    }
    if (needs_restart(outcome->verdict)) {
        stop_after_failure(session, outcome, stderr_text);
        note_failure(session, outcome);
    } else if (verdict_is_failure(outcome->verdict)) {
        testee_stderr_since(&session->testee, stderr_text,
                            SESSION_STDERR_SHOWN);
    }
}

int session_finish(testee_session *session, char *ending, size_t size,
                   char *stderr_text)
{
    if (!session->running)
        return 1;
    testee_mark_stderr(&session->testee);
    testee_finish(&session->testee, session->options->timeout_seconds,
                  stderr_text, SESSION_STDERR_SHOWN);
    session_forget_group();
    session->strays_killed += session->testee.strays_killed;
    session->running = 0;
    if (testee_exited_cleanly(&session->testee))
        return 1;
    testee_exit_text(&session->testee, ending, size);
    return 0;
}

void session_free(testee_session *session)
{
    if (session->testee.pid > 0 || session->testee.stderr_ring != NULL) {
        testee_stop(&session->testee, 0.0, NULL, 0);
        session_forget_group();
    }
    json_decref(session->hello);
    session->hello = NULL;
}
