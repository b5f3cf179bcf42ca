/*
 * gen_sample.c -- cases for argmax and sample (spec/sampling.md): exact ties,
 * near-ties, every boundary decision the spec takes, and the order of
 * temperature and truncation.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_case.h"
#include "gen_ops.h"
#include "gen_random.h"
#include "oracle_head.h"

#define MAX_VOCAB 16
#define MAX_ROWS 4

typedef struct {
    const char *slug, *comment, *flag;
    size_t n, vocab;
    double logits[MAX_ROWS][MAX_VOCAB];
    double r[MAX_ROWS];
    double tau;
    int64_t top_k;
    double top_p;
} choice_config;

static void flatten(double *flat, const choice_config *cfg)
{
    for (size_t t = 0; t < cfg->n; t++)
        memcpy(flat + t * cfg->vocab, cfg->logits[t], cfg->vocab * sizeof(double));
}

/* Frees every choice of (count x classes) entries. */
static void free_choices(oracle_choices *choices, size_t count)
{
    oracle_choices_free(choices, count * ORACLE_CLASS_COUNT);
    free(choices);
}

/* ---- argmax ------------------------------------------------------------ */

static const choice_config argmax_configs[] = {
    {"exact-tie", "three equal maxima: the lowest index (1) wins", "ties",
     1, 5, {{1, 3, 3, 0, 3}}, {0}, 1, 0, 1},
    {"tie-first-and-last", "maxima at both ends: index 0", "ties", 1, 3,
     {{5, 0, 5}}, {0}, 1, 0, 1},
    {"all-equal", "every logit equal: index 0", "ties", 1, 6,
     {{-2, -2, -2, -2, -2, -2}}, {0}, 1, 0, 1},
    {"near-tie", "1 and the next double: fp64 must pick index 1; narrower "
     "classes may pick either", "near_tie", 1, 2,
     {{1.0, 1.0000000000000002}}, {0}, 1, 0, 1},
    {"masked", "-inf entries never win", "masked", 2, 4,
     {{-INFINITY, -2, -INFINITY, -3}, {-INFINITY, -INFINITY, 0.5, -INFINITY}},
     {0}, 1, 0, 1},
    {"huge-logits", "+-1e300 with a tie at 1e300", "wide_range", 1, 3,
     {{-1e300, 1e300, 1e300}}, {0}, 1, 0, 1},
    {"single-token", "|V| = 1", NULL, 1, 1, {{42}}, {0}, 1, 0, 1},
    {"probability-tie", "0 and 1e-17 differ, but exp(0 - 1e-17) is 1 in "
     "binary64 and binary32: the argmax of the probabilities ties, that of "
     "the logits is index 1", "probability_tie", 1, 3, {{0.0, 1e-17, -1.0}},
     {0}, 1, 0, 1},
    {"probability-tie-below", "-1e-17 and 0: index 1, though both "
     "probabilities round to 1", "probability_tie", 1, 3, {{-1e-17, 0.0, -0.5}},
     {0}, 1, 0, 1},
    {"large-logits", "logits near +-1000 (every class): exp of the raw logits "
     "overflows", "large_logits", 2, 3, {{1000, 1001, -5}, {-1000, -999.5, -1001}},
     {0}, 1, 0, 1},
    {"one-unmasked", "one finite logit per row, one of them -30000",
     "masked", 2, 4, {{-INFINITY, -INFINITY, -3, -INFINITY},
                      {-INFINITY, -30000, -INFINITY, -INFINITY}}, {0}, 1, 0, 1},
};

static int argmax_case(gen_file *file, const char *slug, const char *comment,
                       const char *flag, const double *logits, size_t n,
                       size_t vocab, unsigned long seed)
{
    gen_case c;
    int64_t *token = calloc(n + 1, sizeof(int64_t));
    oracle_choices *choices = calloc(n * ORACLE_CLASS_COUNT + 1, sizeof *choices);
    int status = oracle_argmax(token, choices, logits, n, vocab);
    if (status == 0) {
        gen_case_begin(&c, file, slug, comment);
        gen_flag(&c, seed ? "random" : "edge");
        if (seed)
            gen_source(&c, seed, "logits: k/16, k uniform in [-255, 255]");
        if (flag)
            gen_flag(&c, flag);
        gen_input_f64(&c, "logits", n, vocab, logits);
        json_t *accept = gen_accept_json(choices, n);
        if (json_array_size(accept) > 0)
            gen_flag(&c, "tie_sensitive");
        gen_expect_i64(&c, "token", n, GEN_1D, token, accept);
        gen_case_end(&c);
    } else {
        fprintf(stderr, "lmr-gen: argmax/%s: oracle failed\n", slug);
    }
    free(token);
    free_choices(choices, n);
    return status;
}

/* A row of |V| = vocab logits for the wide-tie cases: a saw-tooth of
 * values -0.5 - 0.25 (i mod 7), and `value` at the count indices `at`
 * (ties among several tokens in a row long enough that a stable sort is
 * not an accident). row: (vocab) */
static void wide_row(double *row, size_t vocab, const size_t *at, size_t count,
                     double value)
{
    for (size_t i = 0; i < vocab; i++)
        row[i] = -0.5 - 0.25 * (double)(i % 7);
    for (size_t j = 0; j < count; j++)
        row[at[j]] = value;
}

static int wide_argmax_cases(gen_file *file)
{
    enum { V1 = 40, V2 = 48 };
    static const size_t at1[] = {5, 17, 31}, at2[] = {9, 20, 44};
    double row1[V1], rows2[2 * V2];
    wide_row(row1, V1, at1, 3, 2.0);
    wide_row(rows2, V2, at2, 3, 1.25);
    wide_row(rows2 + V2, V2, at2 + 1, 2, 0.0);
    rows2[3] = -INFINITY;                 /* masked entries before the ties */
    rows2[V2 + 2] = -INFINITY;
    int status = argmax_case(file, "wide-tie", "|V| = 40, three maxima at 5, 17 "
                             "and 31: the lowest index wins", "ties", row1, 1,
                             V1, 0);
    if (status == 0)
        status = argmax_case(file, "wide-tie-masked", "|V| = 48, three maxima "
                             "(two in the second row) behind masked entries",
                             "ties", rows2, 2, V2, 0);
    return status;
}

static void choice_notes(gen_file *file)
{
    gen_note(file, "ties", "exactly equal logits: the lowest index must win");
    gen_note(file, "near_tie", "logits closer than a narrow class resolves");
    gen_note(file, "tie_sensitive", "some class accepts more than one answer "
             "for an index output (see the accept lists)");
    gen_note(file, "masked", "-inf entries (masked tokens)");
    gen_note(file, "wide_range", "logits near the ends of the double range");
    gen_note(file, "large_logits", "logits whose exp overflows without the "
             "max subtraction, within every class's range");
    gen_note(file, "probability_tie", "distinct logits whose probabilities "
             "are the same double: the argmax must read the logits");
}

static void invalid_logit_rows(gen_file *file, int with_sample_fields)
{
    static const struct {
        const char *slug, *comment, *status;
        double row[3];
    } cases[] = {
        {"all-masked", "a row of only -inf", "LMR_EDOMAIN",
         {-INFINITY, -INFINITY, -INFINITY}},
        {"plus-infinity", "+inf logit", "LMR_ENONFINITE", {0, INFINITY, 1}},
        {"nan-logit", "NaN logit", "LMR_ENONFINITE", {0, NAN, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gen_case c;
        double r[1] = {0.5};
        gen_case_begin(&c, file, cases[i].slug, cases[i].comment);
        gen_flag(&c, "edge");
        gen_input_f64(&c, "logits", 1, 3, cases[i].row);
        if (with_sample_fields)
            gen_input_f64(&c, "r", 1, GEN_1D, r);
        gen_invalid(&c, cases[i].status);
        gen_case_end(&c);
    }
}

static void invalid_empty_vocabulary(gen_file *file)
{
    gen_case c;
    double none[1] = {0};
    gen_case_begin(&c, file, "empty-vocabulary", "|V| = 0: no token to choose");
    gen_flag(&c, "edge");
    gen_input_f64(&c, "logits", 2, 0, none);
    gen_invalid(&c, "LMR_EDIM");
    gen_case_end(&c);
}

static int gen_argmax(const char *dir)
{
    gen_file file;
    int status = 0;
    gen_file_init(&file, "argmax", "spec/sampling.md#argmax");
    choice_notes(&file);
    for (size_t i = 0; i < sizeof argmax_configs / sizeof argmax_configs[0] &&
                       status == 0; i++) {
        const choice_config *cfg = &argmax_configs[i];
        double flat[MAX_ROWS * MAX_VOCAB];
        flatten(flat, cfg);
        status = argmax_case(&file, cfg->slug, cfg->comment, cfg->flag, flat,
                             cfg->n, cfg->vocab, 0);
    }
    if (status == 0) {
        double logits[4 * 12];
        gsl_rng *rng = gen_rng(8001);
        gen_dyadic(rng, logits, 4 * 12, 4, 255);
        gsl_rng_free(rng);
        status = argmax_case(&file, "random", "4 rows of 12 logits", NULL,
                             logits, 4, 12, 8001);
    }
    if (status == 0)
        status = wide_argmax_cases(&file);
    invalid_logit_rows(&file, 0);
    invalid_empty_vocabulary(&file);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* ---- sample ------------------------------------------------------------ */

#define LARGEST_BELOW_ONE 0x1.fffffffffffffp-1

static const choice_config sample_configs[] = {
    {"r-on-cdf-boundary", "4 equal logits: r = 0, 1/4, 1/2, 3/4 select tokens "
     "0..3 (r = C_i selects the next token)", "boundary", 4, 4,
     {{0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}},
     {0.0, 0.25, 0.5, 0.75}, 1, 0, 1},
    {"r-just-below-one", "r = 1 - 2^-53 selects the last token", "boundary",
     1, 4, {{0, 0, 0, 0}}, {LARGEST_BELOW_ONE}, 1, 0, 1},
    {"r-just-below-one-top-k", "r = 1 - 2^-53 with top_k = 2: the last kept "
     "token; r is in range as given, though binary32 rounds it to 1",
     "boundary", 1, 4, {{1, 2, 0, 0.5}}, {LARGEST_BELOW_ONE}, 1, 2, 1},
    {"top-k-tie-at-boundary", "top_k = 2 with a tie at the 2nd value: exactly "
     "2 kept, index 2 before index 3", "boundary", 1, 5, {{1, 3, 2, 2, 0}},
     {0.99}, 1, 2, 1},
    {"top-k-one", "top_k = 1 is greedy whatever r", NULL, 2, 5,
     {{1, 3, 2, 2, 0}, {0.5, -1, 0.25, 0.5, 0}}, {0.999, 0.0}, 1, 1, 1},
    {"top-k-beyond-unmasked", "top_k = 10 with 3 unmasked tokens", "masked",
     1, 5, {{-INFINITY, 1, -INFINITY, 0.5, 2}}, {0.6}, 1, 10, 1},
    {"top-p-exact-boundary", "4 equal logits, top_p = 0.5: the prefix reaching "
     "exactly 0.5 suffices (2 kept)", "boundary", 1, 4, {{0, 0, 0, 0}},
     {0.75}, 1, 0, 0.5},
    {"top-p-keep-one", "top_p = 1e-9 keeps only the most likely token",
     "boundary", 2, 3, {{0, 5, 1}, {0, 5, 1}}, {0.0, 0.999}, 1, 0, 1e-9},
    {"order-temperature-then-top-p", "tau = 2 then top_p = 0.6 keeps 2 tokens "
     "(top-p before the temperature would keep 1)", "order", 1, 3, {{2, 1, 0}},
     {0.9}, 2, 0, 0.6},
    {"top-k-then-top-p", "top_k = 3, then top_p = 0.7 of the renormalised "
     "three", "order", 1, 6, {{0.5, 2.5, 1.5, -1, 2, 0.25}}, {0.5}, 1, 3, 0.7},
    {"masked", "-inf entries are never sampled", "masked", 1, 6,
     {{-INFINITY, 0.5, -INFINITY, 1.5, 0.25, -INFINITY}}, {0.7}, 1, 0, 1},
    {"cold", "tau = 1e-3: the maximum takes all the mass", "temperature", 1, 4,
     {{1, 2, 1.5, 1.75}}, {0.5}, 1e-3, 0, 1},
    {"huge-logits", "+-1e300 logits", "wide_range", 1, 4,
     {{1e300, -1e300, 1e300, 0}}, {0.6}, 1, 0, 1},
    /* the cases below make every order and renormalisation of the steps
     * observable, each in every class (issue 12) */
    {"top-k-then-top-p-keeps-one", "top_k = 2 renormalises (0.56, 0.44), so "
     "top_p = 0.5 keeps one token; top-p first, or on the unrenormalised "
     "mass, keeps two", "order", 1, 4, {{2.0, 1.75, 1.0, 0.0}}, {0.3}, 1, 2, 0.5},
    {"top-k-then-top-p-keeps-two", "top_k = 3 then top_p = 0.7 keeps two; "
     "top-p first, or unrenormalised, keeps three", "order", 1, 5,
     {{1.5, 1.25, 1.0, -0.5, -1.0}}, {0.9}, 1, 3, 0.7},
    {"top-k-renormalised-draw", "top_k = 2, r = 0.5: below the renormalised "
     "first mass 0.56 (token 0), above the raw 0.44", "order", 1, 4,
     {{2.0, 1.75, 1.0, 0.0}}, {0.5}, 1, 2, 1},
    {"top-k-four-of-eight-equal", "8 equal logits, top_k = 4: tokens 0..3 "
     "with 1/4 each; r = 0.2 draws token 0", "boundary", 1, 8,
     {{0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}}, {0.2}, 1, 4, 1},
    {"top-p-exact-boundary-eighths", "8 equal logits, top_p = 0.25: the "
     "prefix of two reaches it exactly", "boundary", 1, 8,
     {{-1, -1, -1, -1, -1, -1, -1, -1}}, {0.4}, 1, 0, 0.25},
    {"r-on-cdf-boundary-eighths", "8 equal logits: r = 3/8 and 5/8 select "
     "tokens 3 and 5", "boundary", 2, 8,
     {{2, 2, 2, 2, 2, 2, 2, 2}, {2, 2, 2, 2, 2, 2, 2, 2}}, {0.375, 0.625}, 1, 0, 1},
    {"order-temperature-then-top-p-cold", "tau = 0.5 then top_p = 0.9 keeps 2 "
     "tokens (top-p before the temperature would keep 3)", "order", 1, 4,
     {{1.5, 1.0, 0.0, -0.5}}, {0.99}, 0.5, 0, 0.9},
    {"top-k-above-vocab", "top_k = 6 with |V| = 4: every token kept", NULL, 1,
     4, {{0.5, -1, 2, 0.25}}, {0.7}, 1, 6, 1},
    {"top-k-equals-vocab", "top_k = |V| = 5: every token kept", NULL, 1, 5,
     {{0.5, -1, 2, 0.25, 1}}, {0.3}, 1, 5, 1},
    {"one-unmasked", "one finite logit per row (one of them -30000, below a "
     "-10000 mask): it is drawn whatever r", "masked", 2, 4,
     {{-INFINITY, -INFINITY, 0.5, -INFINITY}, {-INFINITY, -30000, -INFINITY, -INFINITY}},
     {0.9, 0.1}, 1, 0, 1},
    {"large-logits", "logits near 100 (every class; exp overflows binary32 "
     "without the max subtraction)", "large_logits", 1, 4,
     {{100, 99, 98.5, 90}}, {0.6}, 1, 0, 1},
    {"order-temperature-then-top-p-sharp", "tau = 0.25 then top_p = 0.7 keeps "
     "token 0 alone (top-p before the temperature keeps three)", "order", 1, 5,
     {{1.5, 0, 0, 0, -1}}, {0.5}, 0.25, 0, 0.7},
    {"top-k-then-top-p-equal", "8 equal logits, top_k = 4 (1/4 each), top_p "
     "= 0.5 keeps two; top-p first or unrenormalised keeps four; every "
     "probability and sum exact in every class", "order", 1, 8,
     {{1, 1, 1, 1, 1, 1, 1, 1}}, {0.6}, 1, 4, 0.5},
    {"top-k-then-top-p-sixteen", "16 equal logits, top_k = 8 (1/8 each), "
     "top_p = 0.25 keeps two; top-p first or unrenormalised keeps four",
     "order", 1, 16, {{-2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2, -2,
                       -2, -2}}, {0.7}, 1, 8, 0.25},
    {"ascending-top-k", "logits rising with the index, top_k = 2: the CDF in "
     "index order draws token 2 at r = 0.3, in ranked order token 3", "order",
     1, 4, {{0.0, 1.0, 1.75, 2.0}}, {0.3}, 1, 2, 1},
    {"top-p-one-given", "top_p = 1 given explicitly with tau = 2: no top-p cut",
     "temperature", 1, 4, {{0.5, -1, 2, 0.25}}, {0.8}, 2, 0, 1},
};

/* Emits a valid sample case; fails if the kept set is uncertain in fp64. */
static int sample_case(gen_file *file, const choice_config *cfg,
                       const double *logits, unsigned long seed)
{
    gen_case c;
    double k;
    unsigned stable = 0;
    size_t count = cfg->n * cfg->vocab;
    double *probs = calloc(count + 1, sizeof(double));
    double *scale = calloc(count + 1, sizeof(double));
    int64_t *token = calloc(cfg->n + 1, sizeof(int64_t));
    oracle_choices *choices = calloc(cfg->n * ORACLE_CLASS_COUNT + 1, sizeof *choices);
    int status = oracle_sample(probs, scale, &k, token, choices, &stable,
                               logits, cfg->r, cfg->n, cfg->vocab, cfg->tau,
                               cfg->top_k, cfg->top_p);
    if (status == 0 && !(stable & 1u)) {
        fprintf(stderr, "lmr-gen: sample/%s: kept set uncertain in fp64\n", cfg->slug);
        status = -1;
    }
    if (status == 0) {
        gen_case_begin(&c, file, cfg->slug, cfg->comment);
        gen_flag(&c, seed ? "random" : "edge");
        if (seed)
            gen_source(&c, seed, "logits: k/16, k uniform in [-255, 255]");
        if (cfg->flag)
            gen_flag(&c, cfg->flag);
        if (stable != (1u << ORACLE_CLASS_COUNT) - 1)
            gen_flag(&c, "truncation_sensitive");
        gen_restrict_classes(&c, stable);
        gen_param_double(&c, "tau", cfg->tau);
        gen_param_int(&c, "top_k", cfg->top_k);
        gen_param_double(&c, "top_p", cfg->top_p);
        gen_input_f64(&c, "logits", cfg->n, cfg->vocab, logits);
        gen_input_f64(&c, "r", cfg->n, GEN_1D, cfg->r);
        gen_expect(&c, "probs", cfg->n, cfg->vocab, probs, k, scale);
        json_t *accept = gen_accept_json(choices, cfg->n);
        if (json_array_size(accept) > 0)
            gen_flag(&c, "tie_sensitive");
        gen_expect_i64(&c, "token", cfg->n, GEN_1D, token, accept);
        gen_case_end(&c);
    } else {
        fprintf(stderr, "lmr-gen: sample/%s: oracle failed\n", cfg->slug);
    }
    free(probs);
    free(scale);
    free(token);
    free_choices(choices, cfg->n);
    return status;
}

static int wide_sample_cases(gen_file *file)
{
    enum { V1 = 40, V2 = 36 };
    static const size_t at1[] = {7, 19, 33}, at2[] = {3, 11, 29};
    double row1[V1], row2[V2];
    wide_row(row1, V1, at1, 3, 2.0);
    wide_row(row2, V2, at2, 3, 1.5);
    choice_config top_k = {"wide-tie-top-k", "|V| = 40, three maxima at 7, 19, "
                           "33, top_k = 2: exactly tokens 7 and 19 are kept",
                           "ties", 1, V1, {{0}}, {0.3}, 1, 2, 1};
    choice_config top_p = {"wide-tie-top-p", "|V| = 36, three maxima at 3, 11, "
                           "29, top_p = 0.3: the first two of them (0.37 of "
                           "the mass) are kept", "ties", 1, V2, {{0}}, {0.6}, 1,
                           0, 0.3};
    int status = sample_case(file, &top_k, row1, 0);
    return status == 0 ? sample_case(file, &top_p, row2, 0) : status;
}

static int random_sample_case(gen_file *file)
{
    choice_config cfg = {"random", "4 rows of 16 logits, top_k = 5, top_p = "
                         "0.8, tau = 0.8", NULL, 4, 16, {{0}},
                         {0.05, 0.35, 0.65, 0.95}, 0.8, 5, 0.8};
    double logits[4 * 16];
    gsl_rng *rng = gen_rng(8101);
    gen_dyadic(rng, logits, 4 * 16, 4, 255);
    gsl_rng_free(rng);
    return sample_case(file, &cfg, logits, 8101);
}

static void invalid_sample(gen_file *file, const char *slug,
                           const char *comment, double r, size_t n_r,
                           double tau, int64_t top_k, double top_p,
                           const char *status_name)
{
    static const double logits[] = {0.5, 1.0, -1.0}; /* (1, 3) */
    double rs[2] = {r, r};
    gen_case c;
    gen_case_begin(&c, file, slug, comment);
    gen_flag(&c, "edge");
    gen_param_double(&c, "tau", tau);
    gen_param_int(&c, "top_k", top_k);
    gen_param_double(&c, "top_p", top_p);
    gen_input_f64(&c, "logits", 1, 3, logits);
    gen_input_f64(&c, "r", n_r, GEN_1D, rs);
    gen_invalid(&c, status_name);
    gen_case_end(&c);
}

/* r = 1 in the second row of two: the range applies to every r. */
static void invalid_second_r_one(gen_file *file)
{
    static const double logits[] = {0.5, 1.0, -1.0, 2.0, 0.0, 0.5}; /* (2, 3) */
    static const double r[] = {0.25, 1.0};
    gen_case c;
    gen_case_begin(&c, file, "r-one-second-row", "r = 1 in the second row");
    gen_flag(&c, "edge");
    gen_param_double(&c, "tau", 1.0);
    gen_param_int(&c, "top_k", 0);
    gen_param_double(&c, "top_p", 1.0);
    gen_input_f64(&c, "logits", 2, 3, logits);
    gen_input_f64(&c, "r", 2, GEN_1D, r);
    gen_invalid(&c, "LMR_EDOMAIN");
    gen_case_end(&c);
}

static void invalid_samples(gen_file *file)
{
    invalid_sample(file, "r-one", "r = 1 is outside [0, 1)", 1.0, 1, 1, 0, 1,
                   "LMR_EDOMAIN");
    invalid_sample(file, "r-negative", "r = -0.25", -0.25, 1, 1, 0, 1, "LMR_EDOMAIN");
    invalid_sample(file, "r-nan", "r NaN", NAN, 1, 1, 0, 1, "LMR_ENONFINITE");
    invalid_sample(file, "r-length", "two r for one row", 0.5, 2, 1, 0, 1, "LMR_EDIM");
    invalid_sample(file, "top-k-negative", "top_k = -1", 0.5, 1, 1, -1, 1, "LMR_EDOMAIN");
    invalid_sample(file, "top-p-zero", "top_p = 0", 0.5, 1, 1, 0, 0.0, "LMR_EDOMAIN");
    invalid_sample(file, "top-p-above-one", "top_p = 1.5", 0.5, 1, 1, 0, 1.5, "LMR_EDOMAIN");
    invalid_sample(file, "top-p-nan", "top_p NaN", 0.5, 1, 1, 0, NAN, "LMR_ENONFINITE");
    invalid_sample(file, "tau-zero", "tau = 0 (use argmax)", 0.5, 1, 0, 0, 1, "LMR_EDOMAIN");
    invalid_logit_rows(file, 1);
    invalid_second_r_one(file);
}

static int gen_sample(const char *dir)
{
    gen_file file;
    int status = 0;
    gen_file_init(&file, "sample", "spec/sampling.md#sample");
    choice_notes(&file);
    gen_note(&file, "boundary", "r, top_k or top_p exactly on a decision boundary");
    gen_note(&file, "order", "detects the order of temperature, top-k and top-p");
    gen_note(&file, "temperature", "a temperature other than 1");
    gen_note(&file, "truncation_sensitive", "some class could keep another set "
             "of tokens: those classes are omitted");
    gen_note(&file, "large_logits", "logits whose exp overflows binary32 "
             "without the max subtraction, within every class's range");
    for (size_t i = 0; i < sizeof sample_configs / sizeof sample_configs[0] &&
                       status == 0; i++) {
        double flat[MAX_ROWS * MAX_VOCAB];
        flatten(flat, &sample_configs[i]);
        status = sample_case(&file, &sample_configs[i], flat, 0);
    }
    if (status == 0)
        status = random_sample_case(&file);
    if (status == 0)
        status = wide_sample_cases(&file);
    invalid_samples(&file);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* The vector files this file writes (gen_ops.h). */
const gen_entry gen_sample_files[] = {
    {"argmax", gen_argmax},
    {"sample", gen_sample},
    {NULL, NULL},
};
