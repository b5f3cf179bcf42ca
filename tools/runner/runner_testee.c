/* runner_testee.c -- see runner_testee.h. */
#include "runner_testee.h"

#include <ctype.h>
#include <dirent.h>
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
#ifdef __linux__
#include <sys/prctl.h>
#endif

extern char **environ;

#define READ_CHUNK ((size_t)65536)
#define POLL_SLICE_SECONDS 0.05          /* between checks for an exit */
#define EXIT_CHECK_NANOSECONDS 10000000L /* 10 ms between checks for an exit */
#define STRAY_ROUNDS 100                 /* generations of descendants reaped */

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

void testee_become_subreaper(void)
{
#ifdef __linux__
    prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L);
#endif
}

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

/* posix_spawnp with the pipes as standard input, output and error, a
 * process group of its own, and SIGPIPE back to its default (the runner
 * ignores it). Returns posix_spawnp's error number. */
static int spawn(testee_process *testee, char *const *argv, const int fds[3])
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    sigset_t defaults;
    posix_spawn_file_actions_init(&actions);
    for (int i = 0; i < 3; i++)
        posix_spawn_file_actions_adddup2(&actions, fds[i], i);
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

/* Creates the three pipes: in[] for standard input, out[] and err[]. */
static int make_pipes(int in[2], int out[2], int err[2])
{
    if (pipe(in) != 0 || pipe(out) != 0 || pipe(err) != 0)
        return -1;
    set_fd_flags(in[0], 0);
    set_fd_flags(in[1], 1);
    set_fd_flags(out[0], 1);
    set_fd_flags(out[1], 0);
    set_fd_flags(err[0], 1);
    set_fd_flags(err[1], 0);
    return 0;
}

int testee_start(testee_process *testee, char *const *argv, char *err,
                 size_t errlen)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errs[2] = {-1, -1};
    memset(testee, 0, sizeof *testee);
    testee->request_fd = testee->response_fd = testee->stderr_fd = -1;
    if (!is_runnable(argv[0])) {
        snprintf(err, errlen, "cannot run '%s': not found, or not executable",
                 argv[0]);
        return -1;
    }
    testee->stderr_ring = malloc(TESTEE_STDERR_KEPT);
    if (testee->stderr_ring == NULL || make_pipes(in, out, errs) != 0) {
        snprintf(err, errlen, "cannot create the pipes to the testee: %s",
                 strerror(errno));
        int *ends[6] = {&in[0], &in[1], &out[0], &out[1], &errs[0], &errs[1]};
        for (int i = 0; i < 6; i++)
            close_fd(ends[i]);
        testee_stop(testee, 0.0, NULL, 0);
        return -1;
    }
    int child_ends[3] = {in[0], out[1], errs[1]};
    int error = spawn(testee, argv, child_ends);
    close_fd(&in[0]);
    close_fd(&out[1]);
    close_fd(&errs[1]);
    testee->request_fd = in[1];
    testee->response_fd = out[0];
    testee->stderr_fd = errs[0];
    if (error == 0)
        return 0;
    snprintf(err, errlen, "cannot run '%s': %s", argv[0], strerror(error));
    testee_stop(testee, 0.0, NULL, 0);
    return -1;
}

/* ---- standard error -------------------------------------------------------- */

/* Appends bytes to the ring of the last TESTEE_STDERR_KEPT bytes. */
static void ring_append(testee_process *testee, const char *bytes, size_t n)
{
    while (n > 0) {
        size_t at = testee->stderr_total % TESTEE_STDERR_KEPT;
        size_t room = TESTEE_STDERR_KEPT - at;
        size_t put = n < room ? n : room;
        memcpy(testee->stderr_ring + at, bytes, put);
        testee->stderr_total += put;
        bytes += put;
        n -= put;
    }
}

/* Reads what is waiting on standard error (closing it at its end). */
static void drain_stderr(testee_process *testee)
{
    char chunk[4096];
    while (testee->stderr_fd >= 0) {
        ssize_t got = read(testee->stderr_fd, chunk, sizeof chunk);
        if (got > 0) {
            ring_append(testee, chunk, (size_t)got);
            continue;
        }
        if (got < 0 && errno == EINTR)
            continue;
        if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            close_fd(&testee->stderr_fd);
        return;
    }
}

void testee_mark_stderr(testee_process *testee)
{
    drain_stderr(testee);
    testee->stderr_mark = testee->stderr_total;
}

void testee_stderr_since(testee_process *testee, char *text, size_t size)
{
    if (text == NULL || size == 0)
        return;
    text[0] = '\0';
    if (testee->stderr_ring == NULL || size < 8)
        return;
    drain_stderr(testee);
    size_t total = testee->stderr_total;
    size_t start = testee->stderr_mark;
    if (total - start > TESTEE_STDERR_KEPT)
        start = total - TESTEE_STDERR_KEPT;
    size_t offset = 0;
    if (total - start > size - 1) {
        start = total - (size - 4);
        memcpy(text, "...", 3);
        offset = 3;
    }
    size_t n = total - start;
    for (size_t i = 0; i < n; i++) {
        char byte = testee->stderr_ring[(start + i) % TESTEE_STDERR_KEPT];
        text[offset + i] = byte == '\0' ? '?' : byte;
    }
    text[offset + n] = '\0';
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
 * error), -1 when nothing was ready. The buffer grows by READ_CHUNK steps
 * (doubling), never past max_line + READ_CHUNK bytes. */
static long read_some(testee_process *testee, size_t max_line)
{
    size_t needed = testee->buffer_len + READ_CHUNK;
    if (needed > testee->buffer_cap) {
        size_t wanted = 2 * testee->buffer_cap;
        if (wanted > max_line + READ_CHUNK)
            wanted = max_line + READ_CHUNK; /* all a too-long line needs */
        if (wanted < needed)
            wanted = needed;
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
    if (got <= 0) {
        testee->output_closed = 1;
        return 0;
    }
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

/* 1 if the testee has exited (left unreaped, so that its process group id
 * stays valid until testee_stop). */
static int has_exited(testee_process *testee)
{
    siginfo_t info;
    if (testee->exited || testee->pid <= 0)
        return 1;
    info.si_pid = 0;
    if (waitid(P_PID, (id_t)testee->pid, &info,
               WEXITED | WNOHANG | WNOWAIT) != 0 && errno != EINTR)
        testee->exited = 1; /* nothing to wait for */
    else if (info.si_pid == testee->pid)
        testee->exited = 1;
    return testee->exited;
}

/* After the testee exited: reads what it left in the pipe (without
 * waiting: a descendant may hold the pipe open) and takes a line. */
static testee_event after_exit(testee_process *testee, size_t max_line,
                               size_t written, size_t len, char **line,
                               size_t *line_len)
{
    while (read_some(testee, max_line) > 0 &&
           testee->buffer_len - testee->line_start <= max_line)
        continue;
    drain_stderr(testee);
    if (take_line(testee, line, line_len))
        return written < len ? TESTEE_EARLY : TESTEE_LINE;
    if (testee->buffer_len - testee->line_start > max_line)
        return TESTEE_TOO_LONG;
    return TESTEE_CLOSED;
}

testee_event testee_exchange(testee_process *testee, const char *request,
                             size_t len, double timeout, size_t max_line,
                             char **line, size_t *line_len)
{
    double deadline = now_seconds() + timeout;
    size_t written = 0;
    int writable = testee->request_fd >= 0;
    compact(testee);
    for (;;) {
        if (take_line(testee, line, line_len))
            return written < len ? TESTEE_EARLY : TESTEE_LINE;
        if (testee->buffer_len - testee->line_start > max_line)
            return TESTEE_TOO_LONG;
        double left = deadline - now_seconds();
        if (left <= 0.0)
            return TESTEE_TIMEOUT;
        if (has_exited(testee))
            return after_exit(testee, max_line, written, len, line, line_len);
        double slice = left < POLL_SLICE_SECONDS ? left : POLL_SLICE_SECONDS;
        struct pollfd fds[3] = {{testee->response_fd, POLLIN, 0},
                                {testee->stderr_fd, POLLIN, 0},
                                {writable && written < len
                                     ? testee->request_fd : -1, POLLOUT, 0}};
        int ready = poll(fds, 3, (int)(slice * 1000.0) + 1);
        if (ready < 0 && errno != EINTR)
            return TESTEE_CLOSED;
        if (ready <= 0)
            continue;
        if (fds[1].revents != 0)
            drain_stderr(testee);
        if (fds[2].revents != 0)
            writable = write_some(testee, request, len, &written) == 0;
        if (fds[0].revents != 0 && read_some(testee, max_line) == 0)
            return take_line(testee, line, line_len)
                ? (written < len ? TESTEE_EARLY : TESTEE_LINE) : TESTEE_CLOSED;
    }
}

size_t testee_pending_output(testee_process *testee)
{
    if (testee->response_fd >= 0)
        read_some(testee, READ_CHUNK);
    drain_stderr(testee);
    return testee->buffer_len - testee->line_start;
}

const char *testee_pending_text(const testee_process *testee, size_t *len)
{
    *len = testee->buffer_len - testee->line_start;
    return testee->buffer ? testee->buffer + testee->line_start : "";
}

/* ---- stopping ------------------------------------------------------------ */

/* 1 if the testee has exited within grace seconds (still unreaped). Its
 * standard error is read meanwhile, so that it is never blocked on it. */
static int wait_for_exit(testee_process *testee, double grace)
{
    double deadline = now_seconds() + grace;
    struct timespec pause = {0, EXIT_CHECK_NANOSECONDS};
    for (;;) {
        drain_stderr(testee);
        if (has_exited(testee))
            return 1;
        if (now_seconds() >= deadline)
            return 0;
        nanosleep(&pause, NULL);
    }
}

#ifdef __linux__
/* Reads the parent and the process group of pid from /proc; 0 or -1. */
static int read_parent_and_group(long pid, long *parent, long *group)
{
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *stat = fopen(path, "r");
    if (stat == NULL)
        return -1;
    size_t got = fread(text, 1, sizeof text - 1, stat);
    fclose(stat);
    text[got] = '\0';
    const char *after_name = strrchr(text, ')'); /* the name may hold spaces */
    char state;
    if (after_name == NULL ||
        sscanf(after_name + 1, " %c %ld %ld", &state, parent, group) != 3)
        return -1;
    return 0;
}

/* Kills and reaps every child of the runner's (descendants of stopped
 * testees handed over by the subreaper flag) once; returns how many there
 * were, and adds to *strays those that were outside the group. */
static size_t reap_children_once(pid_t group, size_t *strays)
{
    DIR *proc = opendir("/proc");
    struct dirent *entry;
    long self = (long)getpid();
    size_t found = 0;
    if (proc == NULL)
        return 0;
    while ((entry = readdir(proc)) != NULL) {
        long parent, its_group;
        if (!isdigit((unsigned char)entry->d_name[0]))
            continue;
        long pid = strtol(entry->d_name, NULL, 10);
        if (read_parent_and_group(pid, &parent, &its_group) != 0 ||
            parent != self)
            continue;
        kill((pid_t)pid, SIGKILL);
        while (waitpid((pid_t)pid, NULL, 0) < 0 && errno == EINTR)
            continue;
        found++;
        *strays += its_group != (long)group;
    }
    closedir(proc);
    return found;
}
#endif

/* After the testee itself is reaped: the descendants handed to the runner,
 * generation after generation, killed and reaped. */
static void reap_descendants(testee_process *testee, pid_t group)
{
#ifdef __linux__
    for (int round = 0; round < STRAY_ROUNDS; round++)
        if (reap_children_once(group, &testee->strays_killed) == 0)
            break;
#else
    (void)testee;
    (void)group;
#endif
}

void testee_stop(testee_process *testee, double grace, char *text, size_t size)
{
    if (testee->pid > 0) {
        pid_t group = testee->pid;
        testee->killed = !wait_for_exit(testee, grace);
        drain_stderr(testee);
        kill(-group, SIGKILL); /* the group: children it left behind */
        while (waitpid(testee->pid, &testee->wait_status, 0) < 0 &&
               errno == EINTR)
            continue;
        testee->pid = 0;
        reap_descendants(testee, group);
    }
    close_fd(&testee->request_fd);
    close_fd(&testee->response_fd);
    testee_stderr_since(testee, text, size);
    close_fd(&testee->stderr_fd);
    free(testee->stderr_ring);
    testee->stderr_ring = NULL;
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
