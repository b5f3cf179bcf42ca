/*
 * bench_lce.c -- `make bench`: the reference's fused linear cross-entropy
 * (ref/lmr_linear_ce.c) at Gemma 3's vocabulary, |V| = 262144, d = 128,
 * for n = 4 and n = 16 positions: the time of one call and its peak memory
 * as a ratio of the minimum any implementation needs, the bytes of h, E,
 * targets, dh and dE (the loss and dloss are a few bytes). Inputs come from
 * the recipe of spec/format.md#generated-inputs (tools/common/recipe.c).
 *
 * Each configuration runs in a child process of its own, so that its
 * ru_maxrss (the peak resident set) is its own; the child touches nothing
 * but the inputs, the outputs and what the call allocates.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lmr.h"
#include "recipe.h"

#define VOCAB 262144
#define WIDTH 128

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The minimum bytes of a call with n positions: h, E, targets, dh, dE. */
static double minimum_bytes(size_t n)
{
    return 8.0 * (double)(2 * n * WIDTH + 2 * (size_t)VOCAB * WIDTH + n);
}

/* In the child: one call with n positions; prints its line and exits 0, or
 * 1 on failure. */
static int run_child(size_t n)
{
    double *h = malloc(n * WIDTH * sizeof(double));
    double *E = malloc((size_t)VOCAB * WIDTH * sizeof(double));
    double *dh = malloc(n * WIDTH * sizeof(double));
    double *dE = malloc((size_t)VOCAB * WIDTH * sizeof(double));
    int64_t *targets = malloc(n * sizeof(int64_t));
    if (!h || !E || !dh || !dE || !targets)
        return 1;
    recipe_dyadic(h, n * WIDTH, 71, 8, 6);
    recipe_dyadic(E, (size_t)VOCAB * WIDTH, 72, 8, 7);
    for (size_t t = 0; t < n; t++)
        targets[t] = (int64_t)((t * 40503u + 7) % VOCAB);
    targets[n - 1] = LMR_DEFAULT_IGNORE_INDEX;
    double loss, dloss = 1.0;
    double start = now_seconds();
    lmr_linear_cross_entropy_outputs out = {
        lmr_vec_out_of(&loss, 1), lmr_mat_out_of(dh, n, WIDTH),
        lmr_mat_out_of(dE, VOCAB, WIDTH)};
    int status = lmr_linear_cross_entropy(
        &out, lmr_mat_of(h, n, WIDTH), lmr_mat_of(E, VOCAB, WIDTH),
        lmr_ids_of(targets, n), lmr_vec_of(&dloss, 1), LMR_REDUCE_MEAN,
        LMR_DEFAULT_IGNORE_INDEX);
    double elapsed = now_seconds() - start;
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double peak = 1024.0 * (double)usage.ru_maxrss; /* Linux: KiB */
    if (status != LMR_OK)
        return 1;
    double flops = 2.0 * 3.0 * (double)n * VOCAB * WIDTH; /* two passes + dE */
    printf("| %zu | %.0f ms | %.2f GFLOP/s | %.1f MB | %.1f MB | %.3f |\n", n,
           1e3 * elapsed, flops / elapsed / 1e9, peak / 1e6,
           minimum_bytes(n) / 1e6, peak / minimum_bytes(n));
    fflush(stdout);
    free(h);
    free(E);
    free(dh);
    free(dE);
    free(targets);
    return 0;
}

int main(void)
{
    static const size_t positions[] = {4, 16};
    printf("== the fused linear cross-entropy (lmr_linear_cross_entropy), "
           "|V| = %d, d = %d, chunks of %d ==\n", VOCAB, WIDTH, LMR_LCE_CHUNK);
    printf("| n | time of one call | GFLOP/s (3 products of n x |V| x d) | peak "
           "memory | minimum (h, E, targets, dh, dE) | ratio |\n"
           "|---:|---:|---:|---:|---:|---:|\n");
    fflush(stdout);
    int failed = 0;
    for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++) {
        pid_t child = fork();
        if (child == 0)
            _exit(run_child(positions[i]));
        int wstatus = 0;
        if (child < 0 || waitpid(child, &wstatus, 0) < 0 ||
            !WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
            fprintf(stderr, "bench_lce: the call with n = %zu failed\n",
                    positions[i]);
            failed = 1;
        }
    }
    return failed;
}
