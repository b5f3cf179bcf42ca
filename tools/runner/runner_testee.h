/*
 * runner_testee.h -- the testee process of lmr-run: started with pipes on its
 * standard input and output, its standard error sent to a temporary file,
 * in a process group of its own so that it can be killed with its children.
 *
 * testee_exchange() writes one request and reads one response line within a
 * time limit, with poll() on both pipes: the runner never blocks on a testee
 * that stops reading or stops writing, and it never holds more than
 * max_line bytes of a line.
 */
#ifndef LMR_RUNNER_TESTEE_H
#define LMR_RUNNER_TESTEE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct {
    pid_t pid;            /* 0 when no process is running */
    int request_fd;       /* the write end of its standard input, or -1 */
    int response_fd;      /* the read end of its standard output, or -1 */
    FILE *stderr_log;     /* its standard error */
    char *buffer;         /* bytes read from response_fd ... */
    size_t buffer_cap;    /* (its allocated size) */
    size_t buffer_len;    /* ... this many in all, */
    size_t line_start;    /* the pending ones from here, */
    size_t scanned;       /* of which these hold no newline */
    size_t max_line;      /* the longest line accepted, in bytes */
    int wait_status;      /* from waitpid, once reaped */
    int killed;           /* 1 if the runner killed it */
} testee_process;

typedef enum {
    TESTEE_LINE,      /* a line arrived */
    TESTEE_EARLY,     /* a line arrived before the request was written */
    TESTEE_TIMEOUT,   /* nothing within the time limit */
    TESTEE_CLOSED,    /* its output closed first */
    TESTEE_TOO_LONG   /* a line of more than max_line bytes */
} testee_event;

/* Starts argv[0] (looked up in PATH) with argv. 0, or -1 with a message in
 * err (the process could not be created). */
int testee_start(testee_process *testee, char *const *argv, size_t max_line,
                 char *err, size_t errlen);

/* Writes request (len bytes, ending in a newline; len may be 0) and waits up
 * to timeout seconds for one line. On TESTEE_LINE and TESTEE_EARLY, *line
 * (NUL-terminated, without the newline) stays valid until the next call. */
testee_event testee_exchange(testee_process *testee, const char *request,
                             size_t len, double timeout, char **line,
                             size_t *line_len);

/* Ends the testee: waits up to grace seconds for it to exit by itself, then
 * kills its process group; reaps it and closes the pipes. Copies what it
 * wrote to standard error (at most the last size - 1 bytes) into text
 * unless text is NULL, then releases everything. Safe to call twice. */
void testee_stop(testee_process *testee, double grace, char *text,
                 size_t size);

/* Closes the testee's standard input and gives it timeout seconds to exit
 * (it is then killed); as testee_stop otherwise. */
void testee_finish(testee_process *testee, double timeout, char *text,
                   size_t size);

/* How the stopped testee ended: "exited with status 3", "was killed by
 * signal 11 (Segmentation fault)", "was killed by the runner". */
void testee_exit_text(const testee_process *testee, char *text, size_t size);

/* 1 if the stopped testee exited with status 0. */
int testee_exited_cleanly(const testee_process *testee);

#endif
