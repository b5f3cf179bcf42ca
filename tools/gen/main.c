/*
 * main.c -- lmr-gen: regenerates every golden-vector file.
 *
 * Usage: lmr-gen OUTDIR
 * Writes OUTDIR/<file>.json for every vector file of every op of the op
 * table (tools/common/op_table.c), each with its generator (gen_ops.h) and
 * each atomically. The output depends only on this program's source: inputs
 * come from fixed seeds, expected values from the MPFR oracle, so running it
 * twice, or on another machine, gives the same bytes.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <mpfr.h>

#include "gen_ops.h"
#include "op_table.h"

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
    if (argc != 2) {
        fprintf(stderr, "usage: lmr-gen OUTDIR\n");
        return 2;
    }
    gen_each_file(count_unknown, &failed);
    size_t count = table_file_count();
    int show_progress = isatty(STDERR_FILENO);
    for (size_t i = 0; i < op_table_count; i++)
        for (size_t f = 0; f < OP_MAX_FILES && op_table[i].files[f]; f++)
            failed |= generate(op_table[i].files[f], argv[1], ++number, count,
                               show_progress);
    mpfr_free_cache();
    return failed != 0;
}
