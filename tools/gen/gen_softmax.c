/*
 * gen_softmax.c -- cases for softmax, log_softmax (the same rows) and
 * cross_entropy (spec/softmax.md).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_case.h"
#include "gen_ops.h"
#include "gen_random.h"
#include "oracle_head.h"

#define MAX_ROW 8

/* A hand-written case: rows of up to MAX_ROW logits. */
typedef struct {
    const char *slug, *comment, *flag;
    size_t n, vocab;
    double tau;
    double logits[4][MAX_ROW];
} row_config;

static const row_config hand_rows[] = {
    {"seed-document-logits", "D1's logits [0.55, 0.64, 0.73] (themselves "
     "wrong, spec/errata.md); D1 rounds the result to [0.304, 0.332, 0.364]",
     "seed_example", 1, 3, 1.0, {{0.55, 0.64, 0.73}}},
    {"huge-logits", "logits of +-1e300: a softmax without the max "
     "subtraction overflows", "wide_range", 2, 4, 1.0,
     {{1e300, -1e300, 1e300, 0.0}, {-1e300, -1e300 * 0.5, -1e300, -0.75e300}}},
    {"large-logits", "logits near 1000: exp overflows binary64 without the "
     "max subtraction", "overflow_naive", 1, 4, 1.0, {{1000, 1002, 996, 1001}}},
    {"masked", "-inf entries are masked tokens with probability 0", "masked",
     2, 5, 1.0, {{-INFINITY, 1.0, 0.5, -INFINITY, -2.0},
                 {0.25, -INFINITY, -INFINITY, -INFINITY, -INFINITY}}},
    {"single-token", "|V| = 1: probability 1", "edge_shape", 2, 1, 1.0,
     {{3.5}, {-1e300}}},
    {"equal-logits", "equal logits: the uniform distribution", "ties", 1, 8,
     1.0, {{0.75, 0.75, 0.75, 0.75, 0.75, 0.75, 0.75, 0.75}}},
    {"temperature-half", "tau = 0.5 sharpens", "temperature", 1, 5, 0.5,
     {{1.0, 2.0, 0.5, -1.0, 2.25}}},
    {"temperature-two", "tau = 2 flattens", "temperature", 1, 5, 2.0,
     {{1.0, 2.0, 0.5, -1.0, 2.25}}},
    {"temperature-tiny", "tau = 1e-3: nearly one-hot on the maximum",
     "temperature", 1, 5, 1e-3, {{1.0, 2.0, 0.5, -1.0, 1.9990234375}}},
    {"temperature-1e-300", "tau = 1e-300: every non-maximal entry underflows "
     "to exactly 0; two maximal entries share 1/2", "temperature", 1, 4,
     1e-300, {{1.0, 2.0, 2.0, 1.5}}},
    {"temperature-1e300", "tau = 1e300: uniform to the last bit", "temperature",
     1, 4, 1e300, {{1.0, 2.0, -3.0, 1.5}}},
    {"single-token-moderate", "|V| = 1 with moderate logits (every class): "
     "probability 1", "edge_shape", 2, 1, 1.0, {{3.5}, {-2.25}}},
    {"one-unmasked-far-below-mask", "one unmasked entry per row, one of them "
     "-30000: far below the -10000 that some masks use instead of -inf",
     "masked", 2, 4, 1.0, {{-INFINITY, -30000.0, -INFINITY, -INFINITY},
                           {-INFINITY, -INFINITY, -INFINITY, 2.5}}},
    {"masked-temperature", "masked entries at tau = 0.5 (every class)",
     "masked", 2, 5, 0.5, {{-INFINITY, 1.0, 0.5, -INFINITY, -2.0},
                           {0.25, 1.5, -INFINITY, 0.75, -INFINITY}}},
};

static void add_hand_inputs(gen_case *c, const row_config *cfg, double *flat)
{
    for (size_t t = 0; t < cfg->n; t++)
        memcpy(flat + t * cfg->vocab, cfg->logits[t], cfg->vocab * sizeof(double));
    gen_flag(c, "edge");
    if (cfg->flag)
        gen_flag(c, cfg->flag);
    gen_param_double(c, "tau", cfg->tau);
    gen_input_f64(c, "logits", cfg->n, cfg->vocab, flat);
}

typedef int (*row_oracle)(double *out, double *scale, double *k,
                          const double *logits, size_t n, size_t V, double tau);

/* One valid softmax or log_softmax case from flat logits (n, vocab). */
static int emit_rows(gen_file *file, const char *slug, const char *comment,
                     gen_case *c, const double *logits, size_t n, size_t vocab,
                     double tau, int take_log)
{
    double k;
    double *out = calloc(n * vocab + 1, sizeof(double));
    double *scale = calloc(n * vocab + 1, sizeof(double));
    row_oracle oracle = take_log ? oracle_log_softmax : oracle_softmax;
    int status = oracle(out, scale, &k, logits, n, vocab, tau);
    if (status == 0) {
        gen_expect(c, take_log ? "logprobs" : "probs", n, vocab, out, k, scale);
        gen_case_end(c);
    } else {
        fprintf(stderr, "lmr-gen: %s/%s: oracle failed\n", file->op, slug);
        (void)comment;
        gen_case_end(c); /* keeps the JSON tree consistent; status fails */
    }
    free(out);
    free(scale);
    return status;
}

static int hand_case(gen_file *file, const row_config *cfg, int take_log)
{
    gen_case c;
    double flat[4 * MAX_ROW];
    gen_case_begin(&c, file, cfg->slug, cfg->comment);
    add_hand_inputs(&c, cfg, flat);
    return emit_rows(file, cfg->slug, cfg->comment, &c, flat, cfg->n,
                     cfg->vocab, cfg->tau, take_log);
}

/* Random rows: n x vocab logits, k/16 with |k| <= 255, or 53-bit * spread. */
static int random_case(gen_file *file, const char *slug, const char *comment,
                       size_t n, size_t vocab, double tau, unsigned long seed,
                       int full_precision, int take_log)
{
    gen_case c;
    double *logits = calloc(n * vocab + 1, sizeof(double));
    gsl_rng *rng = gen_rng(seed);
    if (full_precision)
        gen_uniform53(rng, logits, n * vocab, -20.0, 20.0);
    else
        gen_dyadic(rng, logits, n * vocab, 4, 255);
    gsl_rng_free(rng);
    gen_case_begin(&c, file, slug, comment);
    gen_flag(&c, "random");
    gen_source(&c, seed, full_precision
                             ? "logits: 53-bit uniform in [-20, 20)"
                             : "logits: k/16, k uniform in [-255, 255]");
    gen_param_double(&c, "tau", tau);
    gen_input_f64(&c, "logits", n, vocab, logits);
    int status = emit_rows(file, slug, comment, &c, logits, n, vocab, tau,
                           take_log);
    free(logits);
    return status;
}

/* The softmax of the correct logits of the three-word example
 * (spec/errata.md E8, E9; D1 in the case comments), from the oracle. */
static int seed_correct_case(gen_file *file, int take_log)
{
    static const double h[5] = {0.2, -0.1, 0.5, 0.3, -0.2};
    static const double E[15] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8,
                                 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5};
    double logits[3], scale[3], k;
    gen_case c;
    if (oracle_head_tied(logits, scale, &k, h, E, 1, 3, 5) != 0)
        return -1;
    gen_case_begin(&c, file, "seed-three-words-correct", "the correct logits "
                   "of D1's example (head_tied/seed-three-words, rounded to "
                   "double) through the softmax");
    gen_flag(&c, "edge");
    gen_flag(&c, "seed_example");
    gen_param_double(&c, "tau", 1.0);
    gen_input_f64(&c, "logits", 1, 3, logits);
    return emit_rows(file, "seed-three-words-correct", "", &c, logits, 1, 3,
                     1.0, take_log);
}

static void invalid_rows(gen_file *file)
{
    static const struct {
        const char *slug, *comment, *status;
        double tau;
        double row[3];
    } cases[] = {
        {"all-masked", "a row of only -inf", "LMR_EDOMAIN", 1.0,
         {-INFINITY, -INFINITY, -INFINITY}},
        {"plus-infinity", "+inf is not a logit", "LMR_ENONFINITE", 1.0,
         {0.0, INFINITY, 1.0}},
        {"nan-logit", "NaN logit", "LMR_ENONFINITE", 1.0, {0.0, NAN, 1.0}},
        {"tau-zero", "tau = 0", "LMR_EDOMAIN", 0.0, {0.0, 0.5, 1.0}},
        {"tau-negative", "tau = -1", "LMR_EDOMAIN", -1.0, {0.0, 0.5, 1.0}},
        {"tau-infinite", "tau = +inf", "LMR_ENONFINITE", INFINITY, {0.0, 0.5, 1.0}},
        {"tau-nan", "tau NaN", "LMR_ENONFINITE", NAN, {0.0, 0.5, 1.0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gen_case c;
        double second_row[3] = {1.0, 2.0, 3.0};
        double flat[6];
        memcpy(flat, second_row, sizeof second_row); /* a good row first */
        memcpy(flat + 3, cases[i].row, sizeof cases[i].row);
        gen_case_begin(&c, file, cases[i].slug, cases[i].comment);
        gen_flag(&c, "edge");
        gen_param_double(&c, "tau", cases[i].tau);
        gen_input_f64(&c, "logits", 2, 3, flat);
        gen_invalid(&c, cases[i].status);
        gen_case_end(&c);
    }
    gen_case c;
    double none[1] = {0};
    gen_case_begin(&c, file, "empty-vocabulary", "|V| = 0");
    gen_flag(&c, "edge");
    gen_input_f64(&c, "logits", 2, 0, none);
    gen_invalid(&c, "LMR_EDIM");
    gen_case_end(&c);
}

static void row_notes(gen_file *file)
{
    gen_note(file, "seed_example", "an example from the source documents, "
             "with the correct values (spec/errata.md)");
    gen_note(file, "wide_range", "logits near the ends of the double range");
    gen_note(file, "overflow_naive", "exp of the raw logits overflows");
    gen_note(file, "masked", "-inf entries (masked tokens)");
    gen_note(file, "edge_shape", "a vocabulary of one token");
    gen_note(file, "ties", "equal logits");
    gen_note(file, "temperature", "a temperature other than 1");
}

static int rows_file(const char *dir, int take_log)
{
    gen_file file;
    int status = 0;
    gen_file_init(&file, take_log ? "log_softmax" : "softmax",
                  take_log ? "spec/softmax.md#log_softmax"
                           : "spec/softmax.md#softmax");
    row_notes(&file);
    for (size_t i = 0; i < sizeof hand_rows / sizeof hand_rows[0] && status == 0; i++)
        status = hand_case(&file, &hand_rows[i], take_log);
    if (status == 0)
        status = seed_correct_case(&file, take_log);
    if (status == 0)
        status = random_case(&file, "small-dyadic", "4 rows of 10 logits k/16",
                             4, 10, 1.0, 6001, 0, take_log);
    if (status == 0)
        status = random_case(&file, "full-precision", "53-bit logits in "
                             "[-20, 20), tau 0.7", 3, 50, 0.7, 6002, 1, take_log);
    if (status == 0)
        status = random_case(&file, "wide-vocabulary", "2 rows of 4096 "
                             "logits", 2, 4096, 1.0, 6003, 1, take_log);
    invalid_rows(&file);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

static int gen_softmax(const char *dir)
{
    return rows_file(dir, 0);
}

static int gen_log_softmax(const char *dir)
{
    return rows_file(dir, 1);
}

/* The vector files this file writes (gen_ops.h). */
const gen_entry gen_softmax_files[] = {
    {"softmax", gen_softmax},
    {"log_softmax", gen_log_softmax},
    {NULL, NULL},
};
