/*
 * bench_head.c -- how fast is the reference tied head (lmr_head_tied) next to
 * this machine's memory bandwidth? Run by `make bench`; not a test, and not
 * part of `make check`.
 *
 * What is measured, all in one run of this program:
 *
 * 1. The reference head at GPT-2 size, |V| = 50257, d = 768 (E is
 *    50257 x 768 doubles, 309 MB, far larger than any cache), for batches of
 *    n = 1, 4, 16 and 64 positions: the best wall time (CLOCK_MONOTONIC) of
 *    several calls after one untimed warm-up call, and the bytes a call must
 *    move at the least -- E read once, h read, the logits written:
 *    (|V| d + n d + n |V|) * 8 -- divided by that time.
 * 2. Peak memory, getrusage's ru_maxrss, taken right after the head phase
 *    (before the bandwidth arrays exist), next to the minimum the head needs:
 *    E + h + logits at the largest n.
 * 3. Memory bandwidth with a STREAM-like Copy kernel, a[i] = b[i] over two
 *    arrays of 256 MiB each, best of several repetitions, counting read and
 *    write bytes (16 per element) as STREAM's Copy does; once on one thread
 *    (the reference is single-threaded) and once on every core.
 *
 * The head's bytes/s is then reported as a fraction of the one-thread Copy
 * bandwidth: 1.0 would mean the head streams E as fast as memory allows.
 *
 * To explain the head's time, the cost of each further position is read off
 * the slope between the smallest and largest n: lmr_head_tied reads E once
 * per call (checking each row while it is in cache), so beyond one pass over
 * E the time is the arithmetic of the extra positions.
 *
 * Checks, so that the benchmark is not timing a broken call: every timed call
 * must return LMR_OK, and a few sampled logits of the largest-n call are
 * compared with a long-double dot product, as a ratio to the tied head's
 * tolerance (d + 2) 2^-53 sum_j |h_j E_vj| (spec/tolerance.md#head).
 *
 * Inputs are deterministic: entry i of E (and of h) is a dyadic value in
 * [-1, 1) with 53 significant bits (so the sums do round), made from
 * SplitMix64 of (seed, i); the seeds are written to the results file so
 * tools/bench/bench_torch.py builds the very same E and h.
 *
 * Usage: lmr-bench-head RESULTS_FILE. Prints a report on stdout and writes
 * the figures, one "key values..." line each, to RESULTS_FILE.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "lmr.h"

#define VOCAB 50257u
#define D_MODEL 768u
#define COPY_BYTES_PER_ARRAY (256u * 1024u * 1024u)
#define COPY_REPS 10
#define HEAD_MIN_REPS 2
#define HEAD_MAX_REPS 5
#define HEAD_BUDGET_SECONDS 6.0 /* stop repeating one n after this long */
#define SAMPLE_COUNT 32
#define SEED_E 0x6c6d7265665f4555u /* "lmref_EU" */
#define SEED_H 0x6c6d7265665f6855u /* "lmref_hU" */
#define SEED_SAMPLE 0x6c6d7265665f7355u
#define MAX_THREADS 64

static const size_t batch_sizes[] = {1, 4, 16, 64};
#define BATCH_COUNT (sizeof batch_sizes / sizeof batch_sizes[0])

/* One timed batch size of the reference head. */
struct head_timing {
    size_t n;
    double best_seconds;
    int reps;
};

/* One sampled logit of the largest-n call and its tolerance scale. */
struct logit_sample {
    size_t t, v;
    double logit;  /* the reference's logits[t, v] */
    double scale;  /* sum_j |h[t,j] E[v,j]| */
    double ratio;  /* |logit - long double dot| / ((d + 2) u scale) */
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Counter-based SplitMix64: the index-th output of the stream `seed`. */
static uint64_t splitmix64(uint64_t seed, uint64_t index)
{
    uint64_t z = seed + (index + 1u) * 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* values[i] = (top 53 bits of splitmix64(seed, i) - 2^52) * 2^-52, a dyadic
 * value in [-1, 1), exact in a double. values is (count). */
static void fill_dyadic(double *values, size_t count, uint64_t seed)
{
    const int64_t half = INT64_C(1) << 52;
    for (size_t i = 0; i < count; i++) {
        int64_t numerator = (int64_t)(splitmix64(seed, i) >> 11) - half;
        values[i] = (double)numerator * 0x1p-52;
    }
}

static void *checked_malloc(size_t bytes, const char *what)
{
    void *memory = malloc(bytes);
    if (memory == NULL) {
        fprintf(stderr, "bench_head: cannot allocate %zu bytes for %s\n",
                bytes, what);
        exit(1);
    }
    return memory;
}

/* ---- memory bandwidth: STREAM-like Copy ------------------------------------ */

/* The Copy kernel. dst and src are (count). */
static void copy_kernel(double *dst, const double *src, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dst[i] = src[i];
}

struct copy_slice {
    double *dst;       /* (count) */
    const double *src; /* (count) */
    size_t count;
};

static void *copy_slice_thread(void *argument)
{
    struct copy_slice *slice = argument;
    copy_kernel(slice->dst, slice->src, slice->count);
    return NULL;
}

/* One Copy of src into dst split over `threads` threads; returns seconds.
 * dst and src are (count). */
static double time_copy_once(double *dst, const double *src, size_t count,
                             int threads)
{
    pthread_t ids[MAX_THREADS];
    struct copy_slice slices[MAX_THREADS];
    size_t per_thread = count / (size_t)threads;
    double start = now_seconds();
    for (int k = 0; k < threads; k++) {
        size_t first = (size_t)k * per_thread;
        slices[k].dst = dst + first;
        slices[k].src = src + first;
        slices[k].count = k == threads - 1 ? count - first : per_thread;
        if (k > 0 && pthread_create(&ids[k], NULL, copy_slice_thread,
                                    &slices[k]) != 0) {
            fprintf(stderr, "bench_head: pthread_create failed\n");
            exit(1);
        }
    }
    copy_slice_thread(&slices[0]); /* the calling thread takes slice 0 */
    for (int k = 1; k < threads; k++)
        pthread_join(ids[k], NULL);
    return now_seconds() - start;
}

/* Best Copy bandwidth over COPY_REPS repetitions, in bytes/s, counting the
 * bytes read and the bytes written. */
static double measure_copy_bandwidth(int threads)
{
    size_t count = COPY_BYTES_PER_ARRAY / sizeof(double);
    double *dst = checked_malloc(COPY_BYTES_PER_ARRAY, "copy destination");
    double *src = checked_malloc(COPY_BYTES_PER_ARRAY, "copy source");
    fill_dyadic(src, count, SEED_E); /* touches every page before timing */
    fill_dyadic(dst, count, SEED_H);
    double best = INFINITY;
    for (int rep = 0; rep < COPY_REPS; rep++) {
        double seconds = time_copy_once(dst, src, count, threads);
        best = seconds < best ? seconds : best;
    }
    free(dst);
    free(src);
    return 2.0 * (double)COPY_BYTES_PER_ARRAY / best;
}

/* ---- the reference head ------------------------------------------------------ */

/* Bytes a tied-head call must move at the least: E and h read once, the
 * logits written once. */
static double head_min_bytes(size_t n)
{
    return 8.0 * ((double)VOCAB * D_MODEL + (double)n * D_MODEL +
                  (double)n * VOCAB);
}

/* One call of the reference; returns seconds, exits unless it is LMR_OK.
 * logits is (n,VOCAB), h is (n,D_MODEL), E is (VOCAB,D_MODEL). */
static double time_head_once(double *logits, const double *h, const double *E,
                             size_t n)
{
    double start = now_seconds();
    int status = lmr_head_tied(lmr_mat_out_of(logits, n, VOCAB),
                               lmr_mat_of(h, n, D_MODEL),
                               lmr_mat_of(E, VOCAB, D_MODEL));
    double seconds = now_seconds() - start;
    if (status != LMR_OK) {
        fprintf(stderr, "bench_head: lmr_head_tied(n = %zu) returned %s\n", n,
                lmr_status_name(status));
        exit(1);
    }
    return seconds;
}

/* Best time of one batch size: a warm-up call, then HEAD_MIN_REPS to
 * HEAD_MAX_REPS timed calls within HEAD_BUDGET_SECONDS.
 * logits is (n,VOCAB), h is (n,D_MODEL), E is (VOCAB,D_MODEL). */
static struct head_timing measure_head(double *logits, const double *h,
                                       const double *E, size_t n)
{
    struct head_timing timing = {n, INFINITY, 0};
    double spent = time_head_once(logits, h, E, n);
    while (timing.reps < HEAD_MAX_REPS &&
           (timing.reps < HEAD_MIN_REPS || spent < HEAD_BUDGET_SECONDS)) {
        double seconds = time_head_once(logits, h, E, n);
        spent += seconds;
        timing.reps++;
        if (seconds < timing.best_seconds)
            timing.best_seconds = seconds;
    }
    return timing;
}

/* Fills samples[SAMPLE_COUNT] with logits[t, v] of the reference, their
 * scale and their error ratio against a long-double dot product.
 * logits is (n,VOCAB), h is (n,D_MODEL), E is (VOCAB,D_MODEL). */
static void sample_logits(struct logit_sample *samples, const double *logits,
                          const double *h, const double *E, size_t n)
{
    const double unit = 0x1p-53;
    for (size_t k = 0; k < SAMPLE_COUNT; k++) {
        struct logit_sample *sample = &samples[k];
        sample->t = k % n;
        sample->v = k == 0 ? 0 : k == 1 ? VOCAB - 1
                  : (size_t)(splitmix64(SEED_SAMPLE, k) % VOCAB);
        const double *h_row = h + sample->t * D_MODEL;
        const double *e_row = E + sample->v * D_MODEL;
        long double dot = 0.0L, scale = 0.0L;
        for (size_t j = 0; j < D_MODEL; j++) {
            dot += (long double)h_row[j] * e_row[j];
            scale += fabsl((long double)h_row[j] * e_row[j]);
        }
        sample->logit = logits[sample->t * VOCAB + sample->v];
        sample->scale = (double)scale;
        double bound = (D_MODEL + 2) * unit * sample->scale;
        double error = (double)fabsl((long double)sample->logit - dot);
        sample->ratio = bound > 0 ? error / bound : error;
    }
}

static double peak_rss_bytes(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return 1024.0 * (double)usage.ru_maxrss; /* Linux: ru_maxrss is in KiB */
}

/* ---- the report ------------------------------------------------------------------ */

/* Where the time of a call goes: one pass over E, and each position. */
static void print_head_explanation(const struct head_timing *timings,
                                   double copy_one_thread)
{
    const struct head_timing *first = &timings[0];
    const struct head_timing *last = &timings[BATCH_COUNT - 1];
    double e_bytes = 8.0 * VOCAB * D_MODEL;
    double floor_seconds = head_min_bytes(first->n) / copy_one_thread;
    double per_position = (last->best_seconds - first->best_seconds) /
                          (double)(last->n - first->n);
    printf("  At n = %zu, moving the minimum bytes at the 1-thread Copy rate "
           "would take %.1f ms;\n  the reference takes %.1f ms, %.1fx that. "
           "It reads E once per call (each row\n  is checked for NaN/inf "
           "while in cache); each further position adds %.1f ms of\n  "
           "arithmetic (%.2f GB/s of E per position).\n",
           first->n, 1e3 * floor_seconds, 1e3 * first->best_seconds,
           first->best_seconds / floor_seconds, 1e3 * per_position,
           e_bytes / per_position / 1e9);
    if (head_min_bytes(first->n) / first->best_seconds >=
        0.5 * copy_one_thread)
        printf("  At small n the reference is close to memory-bound; at "
               "larger n it is bound by\n  its plain scalar loops, as a "
               "reference should be.\n");
    else
        printf("  The reference is NOT memory-bound, even at n = %zu.\n",
               first->n);
}

static void print_head_table(const struct head_timing *timings,
                             double copy_one_thread)
{
    printf("\n-- reference tied head, lmr_head_tied "
           "(plain loops, 1 thread) --\n");
    printf("  %4s  %12s  %5s  %13s  %9s  %16s\n", "n", "best time", "calls",
           "min bytes", "GB/s", "of 1-thread Copy");
    for (size_t b = 0; b < BATCH_COUNT; b++) {
        const struct head_timing *timing = &timings[b];
        double bytes = head_min_bytes(timing->n);
        double rate = bytes / timing->best_seconds;
        printf("  %4zu  %9.2f ms  %5d  %10.1f MB  %9.2f  %15.1f%%\n",
               timing->n, 1e3 * timing->best_seconds, timing->reps,
               bytes / 1e6, rate / 1e9, 100.0 * rate / copy_one_thread);
    }
    print_head_explanation(timings, copy_one_thread);
}

static void print_report(const struct head_timing *timings,
                         const struct logit_sample *samples,
                         double head_peak_rss, double total_peak_rss,
                         double copy_one_thread, double copy_all,
                         int cores)
{
    size_t n_max = batch_sizes[BATCH_COUNT - 1];
    double minimum = head_min_bytes(n_max);
    double worst = 0;
    for (size_t k = 0; k < SAMPLE_COUNT; k++)
        worst = samples[k].ratio > worst ? samples[k].ratio : worst;

    printf("\n-- memory bandwidth, STREAM-like Copy a[i] = b[i], "
           "2 x %u MiB, best of %d, read + write bytes --\n",
           COPY_BYTES_PER_ARRAY >> 20, COPY_REPS);
    printf("  1 thread:    %7.2f GB/s\n", copy_one_thread / 1e9);
    printf("  %d threads:   %7.2f GB/s\n", cores, copy_all / 1e9);
    print_head_table(timings, copy_one_thread);
    printf("\n-- peak memory of the head phase (ru_maxrss, before the "
           "Copy arrays exist) --\n");
    printf("  %.1f MB; minimum E + h + logits at n = %zu is %.1f MB: "
           "ratio %.3f\n", head_peak_rss / 1e6, n_max, minimum / 1e6,
           head_peak_rss / minimum);
    printf("  (whole run, including the 2 x %u MiB Copy arrays: %.1f MB)\n",
           COPY_BYTES_PER_ARRAY >> 20, total_peak_rss / 1e6);
    printf("\n-- checks --\n");
    printf("  every timed call returned LMR_OK\n");
    printf("  %d sampled logits at n = %zu vs a long-double dot product: "
           "max error / ((d+2) u sum|h E|) = %.3g\n", SAMPLE_COUNT, n_max,
           worst);
}

/* The figures bench_torch.py needs, one "key values..." line each. */
static int write_results(const char *path, const struct head_timing *timings,
                         const struct logit_sample *samples,
                         double copy_one_thread, double copy_all, int cores)
{
    FILE *out = fopen(path, "w");
    if (out == NULL) {
        perror(path);
        return 1;
    }
    fprintf(out, "vocab %u\nd %u\ncores %d\n", VOCAB, D_MODEL, cores);
    fprintf(out, "seed_E %llu\nseed_h %llu\n", (unsigned long long)SEED_E,
            (unsigned long long)SEED_H);
    fprintf(out, "copy_bytes_per_s_1thread %.6e\n", copy_one_thread);
    fprintf(out, "copy_bytes_per_s_all %.6e\n", copy_all);
    for (size_t b = 0; b < BATCH_COUNT; b++)
        fprintf(out, "ref_seconds %zu %.9e\n", timings[b].n,
                timings[b].best_seconds);
    for (size_t k = 0; k < SAMPLE_COUNT; k++)
        fprintf(out, "sample %zu %zu %.17g %.17g\n", samples[k].t,
                samples[k].v, samples[k].logit, samples[k].scale);
    return fclose(out) == 0 ? 0 : 1;
}

/* The 1-minute load average, or -1 if /proc/loadavg cannot be read: other
 * busy processes on this machine slow every figure here. */
static double load_average(void)
{
    double load = -1;
    FILE *in = fopen("/proc/loadavg", "r");
    if (in == NULL)
        return load;
    if (fscanf(in, "%lf", &load) != 1)
        load = -1;
    fclose(in);
    return load;
}

static int core_count(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        return 1;
    return cores > MAX_THREADS ? MAX_THREADS : (int)cores;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s RESULTS_FILE\n", argv[0]);
        return 2;
    }
    size_t n_max = batch_sizes[BATCH_COUNT - 1];
    int cores = core_count();
    printf("== lmref benchmark: the tied LM head at GPT-2 size "
           "(|V| = %u, d = %u) ==\n", VOCAB, D_MODEL);
    printf("E is %u x %u doubles = %.1f MB; %d cores; load average %.2f "
           "(other busy processes skew all figures)\n", VOCAB, D_MODEL,
           8.0 * VOCAB * D_MODEL / 1e6, cores, load_average());
    fflush(stdout);

    double *E = checked_malloc(sizeof(double) * VOCAB * D_MODEL, "E");
    double *h = checked_malloc(sizeof(double) * n_max * D_MODEL, "h");
    double *logits = checked_malloc(sizeof(double) * n_max * VOCAB, "logits");
    fill_dyadic(E, (size_t)VOCAB * D_MODEL, SEED_E);
    fill_dyadic(h, n_max * D_MODEL, SEED_H);

    struct head_timing timings[BATCH_COUNT];
    for (size_t b = 0; b < BATCH_COUNT; b++) {
        printf("  timing the reference at n = %zu ...\n", batch_sizes[b]);
        fflush(stdout);
        timings[b] = measure_head(logits, h, E, batch_sizes[b]);
    }
    struct logit_sample samples[SAMPLE_COUNT];
    sample_logits(samples, logits, h, E, n_max); /* the last call's logits */
    double head_peak_rss = peak_rss_bytes();
    free(E);
    free(h);
    free(logits);

    printf("  timing the Copy kernel ...\n");
    fflush(stdout);
    double copy_one_thread = measure_copy_bandwidth(1);
    double copy_all = measure_copy_bandwidth(cores);
    print_report(timings, samples, head_peak_rss,
                 peak_rss_bytes(), copy_one_thread, copy_all, cores);
    return write_results(argv[1], timings, samples,
                         copy_one_thread, copy_all, cores);
}
