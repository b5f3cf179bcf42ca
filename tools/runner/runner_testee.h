/*
 * runner_testee.h -- the testee process of lmr-run: started with pipes on its
 * standard input, output and error, in a process group of its own so that
 * it can be killed with its children.
 *
 * testee_exchange() writes one request and reads one response line within a
 * time limit, with poll() on the three pipes: the runner never blocks on a
 * testee that stops reading or stops writing, it never holds more than the
 * exchange's max_line bytes of a line, and it notices when the testee
 * itself exits even if a descendant still holds its output open.
 *
 * Standard error is read as it comes and the last TESTEE_STDERR_KEPT bytes
 * are kept (spec/conventions.md#limits): a testee that writes gigabytes
 * there costs the runner that much and no more, on disk or in memory.
 *
 * Descendants (spec/protocol.md#process-hygiene): stopping a testee kills
 * its whole process group. On Linux the runner also makes itself a child
 * subreaper, so a descendant that left the group (setsid, setpgid) is
 * handed to the runner when the testee ends; testee_stop() then kills and
 * reaps every such process and counts them.
 */
#ifndef LMR_RUNNER_TESTEE_H
#define LMR_RUNNER_TESTEE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#define TESTEE_STDERR_KEPT ((size_t)65536) /* bytes of stderr kept per testee */

typedef struct {
    pid_t pid;            /* 0 when no process is running */
    int request_fd;       /* the write end of its standard input, or -1 */
    int response_fd;      /* the read end of its standard output, or -1 */
    int stderr_fd;        /* the read end of its standard error, or -1 */
    char *buffer;         /* bytes read from response_fd ... */
    size_t buffer_cap;    /* (its allocated size) */
    size_t buffer_len;    /* ... this many in all, */
    size_t line_start;    /* the pending ones from here, */
    size_t scanned;       /* of which these hold no newline */
    char *stderr_ring;    /* (TESTEE_STDERR_KEPT) the last bytes of stderr */
    size_t stderr_total;  /* bytes of stderr read in all */
    size_t stderr_mark;   /* stderr_total when testee_mark_stderr was called */
    int exited;           /* 1 once the process is known to have exited */
    int output_closed;    /* 1 once its standard output reached its end */
    int wait_status;      /* from waitpid, once reaped */
    int killed;           /* 1 if the runner killed it */
    size_t strays_killed; /* descendants outside its group, killed */
} testee_process;

typedef enum {
    TESTEE_LINE,      /* a line arrived */
    TESTEE_EARLY,     /* a line arrived before the request was written */
    TESTEE_TIMEOUT,   /* nothing within the time limit */
    TESTEE_CLOSED,    /* its output closed, or it exited, first */
    TESTEE_TOO_LONG   /* a line of more than max_line bytes */
} testee_event;

/* Makes the calling process a child subreaper where the system has them
 * (Linux), so that testee_stop can find descendants that left the
 * testee's process group. Harmless to call more than once. */
void testee_become_subreaper(void);

/* Starts argv[0] (looked up in PATH) with argv. 0, or -1 with a message in
 * err (the process could not be created). */
int testee_start(testee_process *testee, char *const *argv, char *err,
                 size_t errlen);

/* Writes request (len bytes, ending in a newline; len may be 0) and waits up
 * to timeout seconds for one line of at most max_line bytes. On TESTEE_LINE
 * and TESTEE_EARLY, *line (NUL-terminated, without the newline) stays
 * valid until the next call. */
testee_event testee_exchange(testee_process *testee, const char *request,
                             size_t len, double timeout, size_t max_line,
                             char **line, size_t *line_len);

/* Reads whatever the testee has already written, without waiting; returns
 * the number of bytes of its output not yet taken as a line (a testee that
 * answered twice has some). */
size_t testee_pending_output(testee_process *testee);

/* The first bytes of the pending output (for a message), and how many. */
const char *testee_pending_text(const testee_process *testee, size_t *len);

/* Marks the current end of the testee's standard error: testee_stderr_since
 * returns what came after it. */
void testee_mark_stderr(testee_process *testee);

/* Copies what the testee wrote to standard error since the mark (the last
 * size - 1 bytes of it at most, "..." first when cut, NUL bytes as '?')
 * into text, reading what is there first. */
void testee_stderr_since(testee_process *testee, char *text, size_t size);

/* Ends the testee: waits up to grace seconds for it to exit by itself, then
 * kills its process group and any descendant handed to the runner; reaps
 * it and closes the pipes. Copies its standard error since the mark into
 * text (as testee_stderr_since) unless text is NULL, then releases
 * everything. Safe to call twice. */
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
