/* runner_options.c -- lmr-run's command line (runner.h, spec/protocol.md
 * #options) and the default vector directory. */
#include "runner.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vecio.h"

#define EXE_PATH_LEN 4096

void runner_usage(FILE *out)
{
    fprintf(out,
        "usage: lmr-run [--vectors DIR] [--op OP]... [--id GLOB]...\n"
        "               [--numerics-only] [--timeout S] [--timeout-per-million S]\n"
        "               [--known-failures FILE] [--report FILE]\n"
        "               [--transcript FILE] -- PROGRAM ARGS...\n"
        "       lmr-run [same options] --results FILE --class CLASS\n"
        "       lmr-run [--vectors DIR] [--op OP]... [--id GLOB]...\n"
        "               [--numerics-only] [--class CLASS] --list\n"
        "Runs the testee PROGRAM on the vector files of DIR (default: the\n"
        "vectors/ next to this program's directory) as spec/protocol.md says,\n"
        "judges a results file (offline mode), or lists what a selection\n"
        "would send without running anything (--list).\n"
        "--op and --id (a shell glob on case ids) select cases: a case is run\n"
        "when it matches one of the --op values (if any) and one of the --id\n"
        "globs (if any). --numerics-only sends no invalid case (input\n"
        "validation is judged separately, in a later full run). Each case may\n"
        "take --timeout seconds (default 10) plus --timeout-per-million\n"
        "seconds (default 1) per million elements of its inputs and outputs.\n"
        "--transcript writes every line exchanged (\"> \" sent, \"< \" read).\n"
        "CLASS is fp64, fp32, bf16 or fp16. Exit status: 0 passed, 1 failed,\n"
        "2 bad usage or malformed vector file.\n");
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

/* Reads seconds in [0, 1e6) (> 0 unless zero_allowed); 0 or -1. */
static int parse_seconds(const char *text, int zero_allowed, double *out)
{
    char *end;
    double value = strtod(text, &end);
    if (end == text || *end != '\0' || !(value < 1e6) ||
        !(zero_allowed ? value >= 0.0 : value > 0.0))
        return -1;
    *out = value;
    return 0;
}

/* Applies one option that takes no value; 1 if name is one, else 0. */
static int set_flag(runner_options *options, const char *name)
{
    if (strcmp(name, "--help") == 0)
        options->help = 1;
    else if (strcmp(name, "--list") == 0)
        options->list = 1;
    else if (strcmp(name, "--numerics-only") == 0)
        options->numerics_only = 1;
    else
        return 0;
    return 1;
}

/* Applies one "--name value" option; RUNNER_OK or RUNNER_USAGE. */
static int set_option(runner_options *options, const char *name,
                      const char *value, FILE *err)
{
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
    else if (strcmp(name, "--transcript") == 0)
        options->transcript_path = value;
    else if (strcmp(name, "--class") == 0) {
        options->cls = vec_class_from_name(value);
        if (options->cls < 0)
            return usage_error(err, "unknown class '%s'", value);
    } else if (strcmp(name, "--timeout") == 0) {
        if (parse_seconds(value, 0, &options->timeout_seconds) != 0)
            return usage_error(err, "--timeout needs seconds > 0, not '%s'",
                               value);
    } else if (strcmp(name, "--timeout-per-million") == 0) {
        if (parse_seconds(value, 1, &options->timeout_per_million) != 0)
            return usage_error(err, "--timeout-per-million needs seconds "
                               ">= 0, not '%s'", value);
    } else {
        return usage_error(err, "unknown option '%s'", name);
    }
    return RUNNER_OK;
}

/* The combinations the three forms of the command allow. */
static int check_mode(const runner_options *options, FILE *err)
{
    if (options->list) {
        if (options->program != NULL || options->results_path != NULL)
            return usage_error(err, "%s", "--list runs nothing: it takes no "
                               "PROGRAM and no --results (give --class)");
        return RUNNER_OK;
    }
    if (options->results_path != NULL) {
        if (options->program != NULL)
            return usage_error(err, "%s", "--results takes no PROGRAM");
        if (options->cls < 0)
            return usage_error(err, "%s", "--results needs --class");
        return RUNNER_OK;
    }
    if (options->cls >= 0)
        return usage_error(err, "%s", "--class goes with --results or --list "
                           "only (a testee states its class in its hello)");
    if (options->program == NULL || options->program[0] == NULL)
        return usage_error(err, "%s", "no testee: put its command after --");
    return RUNNER_OK;
}

int runner_parse_options(runner_options *options, int argc, char **argv,
                         FILE *err)
{
    memset(options, 0, sizeof *options);
    options->timeout_seconds = RUNNER_DEFAULT_TIMEOUT;
    options->timeout_per_million = RUNNER_DEFAULT_TIMEOUT_PER_MILLION;
    options->cls = -1;
    options->max_restarts = RUNNER_MAX_RESTARTS;
    options->max_line_bytes = RUNNER_MAX_LINE;
    options->show_progress = -1;
    options->ops = calloc((size_t)argc + 1, sizeof *options->ops);
    options->id_globs = calloc((size_t)argc + 1, sizeof *options->id_globs);
    if (options->ops == NULL || options->id_globs == NULL)
        return usage_error(err, "%s", "out of memory");
    int i = 1;
    while (i < argc && strcmp(argv[i], "--") != 0) {
        if (set_flag(options, argv[i])) {
            if (options->help)
                return RUNNER_OK;
            i++;
            continue;
        }
        if (i + 1 >= argc || strcmp(argv[i + 1], "--") == 0)
            return usage_error(err, "option '%s' needs a value", argv[i]);
        if (set_option(options, argv[i], argv[i + 1], err) != RUNNER_OK)
            return RUNNER_USAGE;
        i += 2;
    }
    if (i < argc)
        options->program = argv + i + 1;
    if (options->vectors_dir == NULL) {
        options->default_vectors = runner_default_vectors();
        if (options->default_vectors == NULL)
            return usage_error(err, "%s", "out of memory");
        options->vectors_dir = options->default_vectors;
    }
    return check_mode(options, err);
}

void runner_options_free(runner_options *options)
{
    free(options->ops);
    free(options->id_globs);
    free(options->default_vectors);
    options->ops = options->id_globs = NULL;
    options->default_vectors = NULL;
}

/* ---- the default vector directory ----------------------------------------- */

/* 1 if path is a directory. */
static int is_directory(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0 && S_ISDIR(info.st_mode);
}

/* dir + "/" + tail as a new string if that is a directory, else NULL. */
static char *directory_under(const char *dir, const char *tail)
{
    size_t len = strlen(dir) + strlen(tail) + 2;
    char *path = malloc(len);
    if (path == NULL)
        return NULL;
    snprintf(path, len, "%s/%s", dir, tail);
    if (is_directory(path))
        return path;
    free(path);
    return NULL;
}

char *runner_default_vectors(void)
{
    char exe[EXE_PATH_LEN];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *found = NULL;
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            found = directory_under(exe, "../vectors");
            if (found == NULL)
                found = directory_under(exe, "../share/lmref/vectors");
        }
    }
    return found != NULL ? found : strdup("vectors");
}
