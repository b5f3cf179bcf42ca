/*
 * main.c -- lmr-gen: regenerates every golden-vector file.
 *
 * Usage: lmr-gen [--precision BITS] [--file NAME]... OUTDIR
 * Writes OUTDIR/<file>.json for every vector file of every op of the op
 * table (tools/common/op_table.c), each with its generator (gen_ops.h) and
 * each atomically. The output depends only on this program's source: inputs
 * come from fixed seeds, expected values from the MPFR oracle, so running it
 * twice, or on another machine, gives the same bytes.
 *
 * --file NAME writes only that file (repeatable); --precision BITS runs the
 * oracle at BITS instead of 256 (tools/scripts/check-exactness.py: every
 * expected value must come out the same double at a second precision).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpfr.h>

#include "gen_ops.h"
#include "op_table.h"
#include "oracle.h"

#define MAX_SELECTED 64

/* The command line: the files to write (all when none is named). */
typedef struct {
    const char *dir;
    const char *selected[MAX_SELECTED];
    size_t n_selected;
} gen_options;

static int usage(void)
{
    fprintf(stderr, "usage: lmr-gen [--precision BITS] [--file NAME]... OUTDIR\n");
    return 2;
}

/* Parses argv into options (and oracle_precision); 0, or 2 after a message. */
static int parse_options(gen_options *options, int argc, char **argv)
{
    memset(options, 0, sizeof *options);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--precision") == 0 && i + 1 < argc) {
            char *end;
            long bits = strtol(argv[++i], &end, 10);
            if (*end != '\0' || bits < 64 || bits > 65536) {
                fprintf(stderr, "lmr-gen: --precision: %s is not a number of bits "
                        "in [64, 65536]\n", argv[i]);
                return 2;
            }
            oracle_precision = bits;
        } else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc) {
            if (options->n_selected == MAX_SELECTED)
                return usage();
            options->selected[options->n_selected++] = argv[++i];
        } else if (options->dir == NULL && argv[i][0] != '-') {
            options->dir = argv[i];
        } else {
            return usage();
        }
    }
    return options->dir == NULL ? usage() : 0;
}

/* 1 if the file is to be written. */
static int wanted(const gen_options *options, const char *file)
{
    if (options->n_selected == 0)
        return 1;
    for (size_t i = 0; i < options->n_selected; i++)
        if (strcmp(options->selected[i], file) == 0)
            return 1;
    return 0;
}

/* Counts the files a family can generate that the op table does not name. */
static void count_unknown(const char *file, void *context)
{
    if (op_find_by_file(file) == NULL) {
        fprintf(stderr, "lmr-gen: a generator writes '%s', which no op of the "
                "op table names (tools/common/op_table.c)\n", file);
        ++*(int *)context;
    }
}

/* How many vector files the op table names. */
static size_t table_file_count(void)
{
    size_t count = 0;
    for (size_t i = 0; i < op_table_count; i++)
        for (size_t f = 0; f < OP_MAX_FILES && op_table[i].files[f]; f++)
            count++;
    return count;
}

/* Writes dir/<file>.json with the file's generator; 0, or 1 after a message. */
static int generate(const char *file, const char *dir, size_t number,
                    size_t count, int show_progress)
{
    gen_function run = gen_find(file);
    time_t start = time(NULL);
    if (run == NULL) {
        fprintf(stderr, "lmr-gen: %s: the op table names this vector file, "
                "but no generator writes it (tools/gen/gen_ops.h)\n", file);
        return 1;
    }
    if (show_progress)
        fprintf(stderr, "[%2zu/%zu] %-28s ...", number, count, file);
    int failed = run(dir) != 0;
    if (failed)
        fprintf(stderr, "lmr-gen: %s: generation failed\n", file);
    if (show_progress)
        fprintf(stderr, " %lds\n", (long)(time(NULL) - start));
    return failed;
}

int main(int argc, char **argv)
{
    int failed = 0;
    size_t number = 0;
    gen_options options;
    int status = parse_options(&options, argc, argv);
    if (status != 0)
        return status;
    for (size_t i = 0; i < options.n_selected; i++)
        if (op_find_by_file(options.selected[i]) == NULL) {
            fprintf(stderr, "lmr-gen: --file %s: no op of the op table names "
                    "this vector file\n", options.selected[i]);
            return 2;
        }
    gen_each_file(count_unknown, &failed);
    size_t count = options.n_selected ? options.n_selected : table_file_count();
    int show_progress = isatty(STDERR_FILENO);
    for (size_t i = 0; i < op_table_count; i++)
        for (size_t f = 0; f < OP_MAX_FILES && op_table[i].files[f]; f++)
            if (wanted(&options, op_table[i].files[f]))
                failed |= generate(op_table[i].files[f], options.dir, ++number,
                                   count, show_progress);
    mpfr_free_cache();
    return failed != 0;
}
