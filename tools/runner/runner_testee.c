/* runner_testee.c -- see runner_testee.h. */
#include "runner_testee.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define READ_CHUNK ((size_t)65536)
#define EXIT_CHECK_NANOSECONDS 10000000L /* 10 ms between checks for an exit */

/* A monotonic clock, in seconds. */
static double now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* Marks fd close-on-exec, and non-blocking if asked. */
static void set_fd_flags(int fd, int nonblocking)
{
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (nonblocking)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Closes *fd if open and marks it closed. */
static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* ---- starting ------------------------------------------------------------ */

/* 1 if program names an executable file, directly (with a '/') or in PATH,
 * as posix_spawnp will look for it. Checked before spawning, so that a
 * missing program is an error of the runner's own, not a child's exit. */
static int is_runnable(const char *program)
{
    const char *path = getenv("PATH");
    char candidate[4096];
    if (strchr(program, '/') != NULL)
        return access(program, X_OK) == 0;
    for (path = path ? path : "/usr/bin:/bin"; ; path++) {
        size_t len = strcspn(path, ":");
        snprintf(candidate, sizeof candidate, "%.*s%s%s", (int)len, path,
                 len ? "/" : "", program);
        if (access(candidate, X_OK) == 0)
            return 1;
        path += len;
        if (*path == '\0')
            return 0;
    }
}

/* posix_spawnp with the pipes as standard input and output, the log as
 * standard error, a process group of its own, and SIGPIPE back to its
 * default (the runner ignores it). Returns posix_spawnp's error number. */
static int spawn(testee_process *testee, char *const *argv, int stdin_fd,
                 int stdout_fd)
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    sigset_t defaults;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
    posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, fileno(testee->stderr_log), 2);
    posix_spawnattr_init(&attributes);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawnattr_setflags(&attributes,
                             POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);
    int error = posix_spawnp(&testee->pid, argv[0], &actions, &attributes,
                             argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (error != 0)
        testee->pid = 0;
    return error;
}

int testee_start(testee_process *testee, char *const *argv, size_t max_line,
                 char *err, size_t errlen)
{
    int request[2] = {-1, -1}, response[2] = {-1, -1};
    memset(testee, 0, sizeof *testee);
    testee->request_fd = testee->response_fd = -1;
    testee->max_line = max_line;
    if (!is_runnable(argv[0])) {
        snprintf(err, errlen, "cannot run '%s': not found, or not executable",
                 argv[0]);
        return -1;
    }
    if (pipe(request) != 0 || pipe(response) != 0 ||
        (testee->stderr_log = tmpfile()) == NULL) {
        snprintf(err, errlen, "cannot create the pipes to the testee: %s",
                 strerror(errno));
        close_fd(&request[0]);
        close_fd(&request[1]);
        close_fd(&response[0]);
        close_fd(&response[1]);
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        set_fd_flags(request[i], i == 1);
        set_fd_flags(response[i], i == 0);
    }
    set_fd_flags(fileno(testee->stderr_log), 0);
    int error = spawn(testee, argv, request[0], response[1]);
    close_fd(&request[0]);
    close_fd(&response[1]);
    testee->request_fd = request[1];
    testee->response_fd = response[0];
    if (error == 0)
        return 0;
    snprintf(err, errlen, "cannot run '%s': %s", argv[0], strerror(error));
    testee_stop(testee, 0.0, NULL, 0);
    return -1;
}

/* ---- one exchange -------------------------------------------------------- */

/* Moves the pending bytes to the front of the buffer. */
static void compact(testee_process *testee)
{
    size_t pending = testee->buffer_len - testee->line_start;
    if (testee->line_start == 0)
        return;
    memmove(testee->buffer, testee->buffer + testee->line_start, pending);
    testee->scanned -= testee->line_start;
    testee->buffer_len = pending;
    testee->line_start = 0;
}

/* 1 with the next complete line in *line, or 0. */
static int take_line(testee_process *testee, char **line, size_t *line_len)
{
    size_t unscanned = testee->buffer_len - testee->scanned;
    char *newline = unscanned ? memchr(testee->buffer + testee->scanned, '\n',
                                       unscanned)
                              : NULL;
    if (newline == NULL) {
        testee->scanned = testee->buffer_len;
        return 0;
    }
    *newline = '\0';
    *line = testee->buffer + testee->line_start;
    *line_len = (size_t)(newline - *line);
    testee->line_start = testee->scanned = (size_t)(newline - testee->buffer) + 1;
    return 1;
}

/* Reads what is there: > 0 bytes read, 0 at the end of the output (or an
 * error), -1 when nothing was ready. */
static long read_some(testee_process *testee)
{
    if (testee->buffer_len + READ_CHUNK > testee->buffer_cap) {
        size_t wanted = 2 * testee->buffer_cap;
        if (wanted < testee->buffer_len + READ_CHUNK)
            wanted = testee->buffer_len + READ_CHUNK;
        char *grown = realloc(testee->buffer, wanted);
        if (grown == NULL)
            return 0;
        testee->buffer = grown;
        testee->buffer_cap = wanted;
    }
    ssize_t got = read(testee->response_fd, testee->buffer + testee->buffer_len,
                       READ_CHUNK);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return -1;
    if (got <= 0)
        return 0;
    testee->buffer_len += (size_t)got;
    return (long)got;
}

/* Writes what the pipe takes; 0, or -1 when the testee cannot be written
 * to any more (it closed its input or exited). */
static int write_some(testee_process *testee, const char *request, size_t len,
                      size_t *written)
{
    ssize_t put = write(testee->request_fd, request + *written, len - *written);
    if (put > 0)
        *written += (size_t)put;
    else if (put < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
             errno != EINTR)
        return -1;
    return 0;
}

testee_event testee_exchange(testee_process *testee, const char *request,
                             size_t len, double timeout, char **line,
                             size_t *line_len)
{
    double deadline = now_seconds() + timeout;
    size_t written = 0;
    int writable = testee->request_fd >= 0;
    compact(testee);
    for (;;) {
        if (take_line(testee, line, line_len))
            return written < len ? TESTEE_EARLY : TESTEE_LINE;
        if (testee->buffer_len - testee->line_start > testee->max_line)
            return TESTEE_TOO_LONG;
        double left = deadline - now_seconds();
        if (left <= 0.0)
            return TESTEE_TIMEOUT;
        struct pollfd fds[2] = {{testee->response_fd, POLLIN, 0},
                                {testee->request_fd, POLLOUT, 0}};
        nfds_t count = (writable && written < len) ? 2 : 1;
        int ready = poll(fds, count, (int)(left * 1000.0) + 1);
        if (ready < 0 && errno != EINTR)
            return TESTEE_CLOSED;
        if (ready <= 0)
            continue;
        if (count == 2 && fds[1].revents != 0)
            writable = write_some(testee, request, len, &written) == 0;
        if (fds[0].revents != 0 && read_some(testee) == 0)
            return take_line(testee, line, line_len)
                ? (written < len ? TESTEE_EARLY : TESTEE_LINE) : TESTEE_CLOSED;
    }
}

/* ---- stopping ------------------------------------------------------------ */

/* 1 if the testee has exited within grace seconds (it is left unreaped, so
 * that its process group id stays valid). */
static int wait_for_exit(const testee_process *testee, double grace)
{
    double deadline = now_seconds() + grace;
    struct timespec pause = {0, EXIT_CHECK_NANOSECONDS};
    for (;;) {
        siginfo_t info;
        info.si_pid = 0;
        if (waitid(P_PID, (id_t)testee->pid, &info,
                   WEXITED | WNOHANG | WNOWAIT) != 0 && errno != EINTR)
            return 1; /* nothing to wait for */
        if (info.si_pid == testee->pid)
            return 1;
        if (now_seconds() >= deadline)
            return 0;
        nanosleep(&pause, NULL);
    }
}

/* The last size - 1 bytes of the testee's standard error, NUL bytes shown
 * as '?', "..." first when cut. */
static void read_stderr(testee_process *testee, char *text, size_t size)
{
    if (text == NULL || size == 0)
        return;
    text[0] = '\0';
    if (testee->stderr_log == NULL || size < 8 ||
        fseek(testee->stderr_log, 0, SEEK_END) != 0)
        return;
    long end = ftell(testee->stderr_log);
    long start = end > (long)size - 1 ? end - ((long)size - 4) : 0;
    size_t offset = start > 0 ? 3 : 0;
    memcpy(text, "...", offset);
    if (end <= 0 || fseek(testee->stderr_log, start, SEEK_SET) != 0)
        return;
    size_t got = fread(text + offset, 1, (size_t)(end - start),
                       testee->stderr_log);
    for (size_t i = offset; i < offset + got; i++)
        if (text[i] == '\0')
            text[i] = '?';
    text[offset + got] = '\0';
}

void testee_stop(testee_process *testee, double grace, char *text, size_t size)
{
    if (testee->pid > 0) {
        testee->killed = !wait_for_exit(testee, grace);
        kill(-testee->pid, SIGKILL); /* the group: children it left behind */
        while (waitpid(testee->pid, &testee->wait_status, 0) < 0 &&
               errno == EINTR)
            continue;
        testee->pid = 0;
    }
    close_fd(&testee->request_fd);
    close_fd(&testee->response_fd);
    read_stderr(testee, text, size);
    if (testee->stderr_log != NULL)
        fclose(testee->stderr_log);
    testee->stderr_log = NULL;
    free(testee->buffer);
    testee->buffer = NULL;
    testee->buffer_cap = testee->buffer_len = 0;
    testee->line_start = testee->scanned = 0;
}

void testee_finish(testee_process *testee, double timeout, char *text,
                   size_t size)
{
    close_fd(&testee->request_fd);
    testee_stop(testee, timeout, text, size);
}

void testee_exit_text(const testee_process *testee, char *text, size_t size)
{
    int status = testee->wait_status;
    if (testee->killed)
        snprintf(text, size, "was killed by the runner");
    else if (WIFEXITED(status))
        snprintf(text, size, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(text, size, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(text, size, "ended");
}

int testee_exited_cleanly(const testee_process *testee)
{
    return !testee->killed && WIFEXITED(testee->wait_status) &&
           WEXITSTATUS(testee->wait_status) == 0;
}
