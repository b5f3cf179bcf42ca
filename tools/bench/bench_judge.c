/*
 * bench_judge.c -- part of `make bench`: how fast the judge of lmr-run is.
 *
 * Usage: lmr-bench-judge FILE.json...
 * Loads the vector files, then judges every float64 expected output against
 * itself, perturbed by one ulp (so every element takes the full path), as
 * many times as fit in about two seconds, and prints elements judged per
 * second. The target (issue: judging is never the bottleneck) is >= 10^7.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "judge.h"
#include "vecio.h"

static double now_seconds(void)
{
    struct timespec clock;
    clock_gettime(CLOCK_MONOTONIC, &clock);
    return (double)clock.tv_sec + 1e-9 * (double)clock.tv_nsec;
}

/* Judges every float64 output of file once with got (a scratch array of at
 * least the largest output's size); returns the elements judged. */
static size_t judge_file(const vec_file *file, double *got)
{
    size_t elements = 0;
    for (size_t i = 0; i < file->n_cases; i++)
        for (size_t o = 0; o < file->cases[i].n_expected; o++) {
            const vec_expected *want = &file->cases[i].expected[o];
            judge_verdict verdict;
            if (want->value.dtype != VEC_F64)
                continue;
            for (size_t e = 0; e < want->value.count; e++)
                got[e] = nextafter(want->value.f64[e], INFINITY);
            judge_output(&verdict, got, want, VEC_FP32);
            elements += want->value.count;
        }
    return elements;
}

static size_t largest_output(const vec_file *files, size_t count)
{
    size_t largest = 1;
    for (size_t f = 0; f < count; f++)
        for (size_t i = 0; i < files[f].n_cases; i++)
            for (size_t o = 0; o < files[f].cases[i].n_expected; o++)
                if (files[f].cases[i].expected[o].value.count > largest)
                    largest = files[f].cases[i].expected[o].value.count;
    return largest;
}

int main(int argc, char **argv)
{
    size_t count = (size_t)(argc - 1), elements = 0, loaded = 0;
    vec_file *files = calloc(count + 1, sizeof *files);
    char err[VEC_ERRLEN];
    for (; loaded < count; loaded++)
        if (vec_file_load(&files[loaded], argv[loaded + 1], err, sizeof err)) {
            fprintf(stderr, "lmr-bench-judge: %s\n", err);
            return 2;
        }
    double *got = malloc(largest_output(files, count) * sizeof(double));
    double start = now_seconds(), seconds = 0.0;
    while (seconds < 2.0) {
        for (size_t f = 0; f < count; f++)
            elements += judge_file(&files[f], got);
        seconds = now_seconds() - start;
    }
    printf("  judged %zu elements (each perturbed by one ulp) in %.2f s: "
           "%.3g elements/s (target >= 1e7)\n", elements, seconds,
           (double)elements / seconds);
    for (size_t f = 0; f < count; f++)
        vec_file_free(&files[f]);
    free(files);
    free(got);
    return 0;
}
