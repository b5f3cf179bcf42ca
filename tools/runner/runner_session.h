/*
 * runner_session.h -- one conversation with the testee over a run
 * (spec/protocol.md#conversation): its start and hello, a request and its
 * response per case, the restarts after a timeout, crash or protocol
 * error (at most max_restarts, then the remaining cases are not sent),
 * and its end. The transcript, when asked for, gets every line.
 */
#ifndef LMR_RUNNER_SESSION_H
#define LMR_RUNNER_SESSION_H

#include <signal.h>
#include <stdio.h>

#include <jansson.h>

#include "runner.h"
#include "runner_limits.h"
#include "runner_testee.h"
#include "runner_verdict.h"

#define SESSION_STDERR_SHOWN 2048 /* bytes of a testee's stderr shown */

typedef struct {
    const runner_options *options;
    FILE *transcript;           /* --transcript, or NULL */
    testee_process testee;
    json_t *hello;              /* the testee's first hello */
    int cls;                    /* the class it claims */
    int running;                /* the testee is up and has said hello */
    size_t failures;            /* timeouts, crashes and protocol errors */
    int gave_up;                /* too many: the testee is not restarted */
    verdict_kind last_failure;
    char last_reason[VERDICT_REASON_LEN];
    size_t strays_killed;       /* descendants that had left its group */
} testee_session;

/* Prepares a session (nothing started; the runner becomes a subreaper,
 * runner_testee.h). transcript may be NULL. */
void session_init(testee_session *session, const runner_options *options,
                  FILE *transcript);

/* Starts the testee and reads its hello. 0; -1 with the verdict in
 * outcome and the testee's stderr in stderr_text (SESSION_STDERR_SHOWN
 * bytes) when it gives no valid hello; -2 when the program cannot be run. */
int session_start(testee_session *session, case_outcome *outcome,
                  char *stderr_text);

/* 1 if the hello lists op, or "*". */
int session_supports(const testee_session *session, const char *op);

/* Sends case c (raw_case as it is in the vector file) of op, restarting
 * the testee if needed, and judges the response within limits. A failing
 * verdict gets the testee's stderr during the case in stderr_text
 * (SESSION_STDERR_SHOWN bytes). */
void session_ask(testee_session *session, const char *op, const vec_case *c,
                 json_t *raw_case, const case_limits *limits,
                 case_outcome *outcome, char *stderr_text);

/* Ends the conversation: closes the testee's input and waits for it to
 * exit. 1 if it did so cleanly (or was not running), else 0 with how it
 * ended in ending and its last stderr in stderr_text. */
int session_finish(testee_session *session, char *ending, size_t size,
                   char *stderr_text);

/* Releases the session (stops a testee still running). */
void session_free(testee_session *session);

/* The signal dispositions a run changes, to be restored at its end. */
typedef struct {
    struct sigaction pipe, interrupt, terminate, hangup;
} session_signals;

/* Ignores SIGPIPE (a testee that closes its input is seen as a write
 * error) and kills the testee's group with the runner on SIGINT, SIGTERM,
 * SIGHUP. */
void session_install_signals(session_signals *saved);
/* Puts back the dispositions session_install_signals changed. */
void session_restore_signals(const session_signals *saved);
/* The testee has been stopped: the signal handler has nothing to kill. */
void session_forget_group(void);

#endif
