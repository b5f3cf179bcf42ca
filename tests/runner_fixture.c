/* runner_fixture.c -- see runner_fixture.h. */
#include "runner_fixture.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"
#include "tap.h"

static const char *const fixture_names[N_FIXTURES] = {
    "argmax.json", "embed_lookup.json", "param_count.json"};

char fixture_dir[FIXTURE_DIR_LEN];
char fixture_paths[N_FIXTURES][FIXTURE_PATH_LEN];
char report_path[FIXTURE_PATH_LEN];
char scratch_path[FIXTURE_PATH_LEN];
size_t total_cases;

/* ---- paths and fixtures -------------------------------------------------- */

const char *fixture_vectors(void)
{
    const char *vectors = getenv("LMR_VECTORS");
    return vectors ? vectors : "vectors";
}

const char *fixture_built(const char *relative)
{
    static char path[FIXTURE_PATH_LEN];
    const char *build = getenv("LMR_BUILD");
    snprintf(path, sizeof path, "%s/%s", build ? build : "build", relative);
    return path;
}

const char *fixture_replay(void)
{
    static char path[FIXTURE_PATH_LEN];
    snprintf(path, sizeof path, "%s", fixture_built("tests/testees/replay"));
    return path;
}

/* Copies a file; 0 or -1. */
static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    char buffer[65536];
    size_t got;
    int failed = in == NULL || out == NULL;
    while (!failed && (got = fread(buffer, 1, sizeof buffer, in)) > 0)
        failed = fwrite(buffer, 1, got, out) != got;
    if (in != NULL)
        fclose(in);
    if (out != NULL)
        failed |= fclose(out) != 0;
    return failed ? -1 : 0;
}

/* The number of cases in a vector file. */
static size_t count_cases(const char *path)
{
    json_t *root = json_load_file(path, 0, NULL);
    size_t count = json_array_size(json_object_get(root, "cases"));
    json_decref(root);
    return count;
}

int make_fixtures(void)
{
    char source[FIXTURE_PATH_LEN];
    snprintf(fixture_dir, sizeof fixture_dir, "/tmp/lmr-runner-XXXXXX");
    if (mkdtemp(fixture_dir) == NULL)
        return -1;
    for (int i = 0; i < N_FIXTURES; i++) {
        snprintf(source, sizeof source, "%s/%s", fixture_vectors(),
                 fixture_names[i]);
        snprintf(fixture_paths[i], FIXTURE_PATH_LEN, "%s/%s", fixture_dir,
                 fixture_names[i]);
        if (copy_file(source, fixture_paths[i]) != 0)
            return -1;
        total_cases += count_cases(fixture_paths[i]);
    }
    snprintf(report_path, sizeof report_path, "%s/report.out", fixture_dir);
    snprintf(scratch_path, sizeof scratch_path, "%s/scratch.txt", fixture_dir);
    return 0;
}

/* Removes dir and what it holds (one level of subdirectories). */
static void remove_tree(const char *dir, int depth)
{
    DIR *listing = opendir(dir);
    struct dirent *entry;
    char path[FIXTURE_PATH_LEN * 2];
    while (listing != NULL && (entry = readdir(listing)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, entry->d_name);
        if (remove(path) != 0 && depth < 2)
            remove_tree(path, depth + 1);
    }
    if (listing != NULL)
        closedir(listing);
    rmdir(dir);
}

void remove_fixtures(void)
{
    remove_tree(fixture_dir, 0);
}

/* 1 if the case's classes list cls. */
static int lists_class(const json_t *c, const char *cls)
{
    size_t i;
    const json_t *name;
    json_array_foreach(json_object_get(c, "classes"), i, name)
        if (strcmp(json_string_value(name), cls) == 0)
            return 1;
    return 0;
}

/* 1 if the case counts for fixture_cases. */
static int case_matches(const json_t *root, const json_t *c, const char *op,
                        const char *cls, int valid)
{
    const char *result = json_string_value(json_object_get(c, "result"));
    int is_valid = result != NULL && strcmp(result, "valid") == 0;
    if (op != NULL && strcmp(json_string_value(json_object_get(root, "op")),
                             op) != 0)
        return 0;
    if (cls != NULL && (cls[0] == '!' ? lists_class(c, cls + 1)
                                      : !lists_class(c, cls)))
        return 0;
    return valid < 0 || valid == is_valid;
}

size_t fixture_cases(const char *op, const char *cls, int valid)
{
    size_t count = 0;
    for (int f = 0; f < N_FIXTURES; f++) {
        json_t *root = json_load_file(fixture_paths[f], 0, NULL), *c;
        size_t i;
        json_array_foreach(json_object_get(root, "cases"), i, c)
            count += (size_t)case_matches(root, c, op, cls, valid);
        json_decref(root);
    }
    return count;
}

/* ---- running the runner -------------------------------------------------- */

/* A monotonic clock, in seconds. */
static double now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* Appends the NULL-terminated args to argv. */
static void add_args(const char **argv, int *argc, const char *const *args)
{
    for (; *args != NULL && *argc < FIXTURE_MAX_ARGS; args++)
        argv[(*argc)++] = *args;
}

run_result run_argv(char **argv, int argc, size_t max_line)
{
    runner_options options;
    run_result result = {0, NULL, NULL, 0.0, NULL};
    size_t out_len, err_len;
    FILE *out = open_memstream(&result.out, &out_len);
    FILE *err = open_memstream(&result.err, &err_len);
    double start = now_seconds();
    remove(report_path);
    result.status = runner_parse_options(&options, argc, argv, err);
    if (max_line != 0)
        options.max_line_bytes = max_line;
    options.show_progress = 0;
    if (result.status == RUNNER_OK)
        result.status = runner_run(&options, out, err);
    runner_options_free(&options);
    result.seconds = now_seconds() - start;
    fclose(out);
    fclose(err);
    result.report = json_load_file(report_path, 0, NULL);
    return result;
}

run_result run_replay(const char *const *runner_args,
                      const char *const *replay_args, size_t max_line)
{
    const char *argv[FIXTURE_MAX_ARGS + 1] = {"lmr-run", "--vectors",
                                              fixture_dir, "--report",
                                              report_path};
    int argc = 5;
    add_args(argv, &argc, runner_args);
    add_args(argv, &argc, ARGS("--", fixture_replay()));
    add_args(argv, &argc, replay_args);
    for (int i = 0; i < N_FIXTURES && argc < FIXTURE_MAX_ARGS; i++)
        argv[argc++] = fixture_paths[i];
    argv[argc] = NULL;
    return run_argv((char **)argv, argc, max_line);
}

run_result run_plain(const char *const *args)
{
    const char *argv[FIXTURE_MAX_ARGS + 1] = {"lmr-run", "--vectors",
                                              fixture_dir, "--report",
                                              report_path};
    int argc = 5;
    add_args(argv, &argc, args);
    argv[argc] = NULL;
    return run_argv((char **)argv, argc, 0);
}

void run_free(run_result *result)
{
    free(result->out);
    free(result->err);
    json_decref(result->report);
}

/* ---- reading the results ------------------------------------------------- */

const json_t *entry_of(const run_result *result, const char *id)
{
    size_t i;
    const json_t *entry;
    json_array_foreach(json_object_get(result->report, "cases"), i, entry) {
        const char *entry_id = json_string_value(json_object_get(entry, "id"));
        if (entry_id != NULL && strcmp(entry_id, id) == 0)
            return entry;
    }
    return NULL;
}

const char *verdict_of(const run_result *result, const char *id)
{
    const json_t *entry = entry_of(result, id);
    return entry ? json_string_value(json_object_get(entry, "verdict"))
                 : "(absent)";
}

const char *entry_text(const run_result *result, const char *id,
                       const char *key)
{
    const char *text = json_string_value(json_object_get(entry_of(result, id),
                                                         key));
    return text ? text : "";
}

const char *reason_of(const run_result *result, const char *id)
{
    return entry_text(result, id, "reason");
}

size_t count_verdict(const run_result *result, const char *verdict)
{
    size_t i, count = 0;
    const json_t *entry;
    json_array_foreach(json_object_get(result->report, "cases"), i, entry) {
        const char *its = json_string_value(json_object_get(entry, "verdict"));
        count += its != NULL && strcmp(its, verdict) == 0;
    }
    return count;
}

size_t count_lines_starting(const char *text, const char *prefix)
{
    size_t count = 0, len = strlen(prefix);
    for (const char *line = text; line != NULL && *line != '\0';) {
        count += strncmp(line, prefix, len) == 0;
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return count;
}

int contains(const char *text, const char *part)
{
    return text != NULL && part != NULL && strstr(text, part) != NULL;
}

void expect_one(const run_result *result, const char *id, const char *verdict,
                int status, const char *what)
{
    tap_ok(strcmp(verdict_of(result, id), verdict) == 0, "%s: %s is %s (got "
           "%s: %s)", what, id, verdict, verdict_of(result, id),
           reason_of(result, id));
    tap_ok(count_verdict(result, "pass") == total_cases - 1,
           "%s: the %zu other cases pass (%zu)", what, total_cases - 1,
           count_verdict(result, "pass"));
    tap_ok(result->status == status, "%s: exit status %d (got %d)", what,
           status, result->status);
}

void write_text(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");
    if (file != NULL) {
        fputs(text, file);
        fclose(file);
    }
}
