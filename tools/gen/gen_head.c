/*
 * gen_head.c -- cases for head_tied and head_untied (spec/head.md), including
 * the three-word worked example corrected in spec/errata.md (E8).
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

/* A source document's worked example, corrected in spec/errata.md (E8): a
 * tied head with d = 5 and |V| = 3, whose printed logits are wrong. The
 * decimals are inputs, read as the nearest doubles. (The case comment below
 * names the document D1, the label errata.md explains.) */
static const double seed_h[5] = {0.2, -0.1, 0.5, 0.3, -0.2};
static const double seed_E[15] = {0.1, 0.2, 0.3, 0.4, 0.5,
                                  0.6, 0.7, 0.8, 0.9, 1.0,
                                  1.1, 1.2, 1.3, 1.4, 1.5};

/* Inputs of one head case: h (n,d), E (vocab,d) or W (d,vocab), bias (vocab). */
typedef struct {
    const char *slug, *comment, *flag;
    size_t n, vocab, d;
    double *h, *E, *bias;
    unsigned long seed;
    const char *recipe;
} head_config;

enum value_kind { DYADIC, FULL, SPREAD };

static void draw_values(gsl_rng *rng, double *out, size_t count,
                        enum value_kind kind)
{
    if (kind == DYADIC)
        gen_dyadic(rng, out, count, 6, 127);
    else
        gen_uniform53(rng, out, count, -1.0, 1.0);
    for (size_t i = 0; kind == SPREAD && i < count; i++)
        out[i] *= ldexp(1.0, (int)(i % 7) * 40 - 120); /* 2^-120 .. 2^120 */
}

static head_config random_config(const char *slug, const char *comment,
                                 const char *flag, size_t n, size_t vocab,
                                 size_t d, unsigned long seed,
                                 enum value_kind kind, int with_bias)
{
    static const char *const recipes[] = {
        "h, E, bias in that order: k/64, k uniform in [-127, 127]",
        "h, E, bias in that order: 53-bit uniform in [-1, 1)",
        "h, E, bias: 53-bit uniform in [-1, 1) times 2^(40 (i mod 7) - 120)"};
    head_config cfg = {slug, comment, flag, n, vocab, d, NULL, NULL, NULL, seed,
                       recipes[kind]};
    gsl_rng *rng = gen_rng(seed);
    cfg.h = calloc(n * d + 1, sizeof(double));
    cfg.E = calloc(vocab * d + 1, sizeof(double));
    draw_values(rng, cfg.h, n * d, kind);
    draw_values(rng, cfg.E, vocab * d, kind);
    if (with_bias) {
        cfg.bias = calloc(vocab + 1, sizeof(double));
        draw_values(rng, cfg.bias, vocab, kind);
    }
    gsl_rng_free(rng);
    return cfg;
}

static head_config seed_config(void)
{
    head_config cfg = {"seed-three-words",
                       "document D1's example: h = [0.2, -0.1, 0.5, 0.3, -0.2] "
                       "and a 3 x 5 E; D1's logits [0.55, 0.64, 0.73] are wrong "
                       "(spec/errata.md)", "seed_example", 1, 3, 5,
                       NULL, NULL, NULL, 0, NULL};
    cfg.h = malloc(sizeof seed_h);
    cfg.E = malloc(sizeof seed_E);
    memcpy(cfg.h, seed_h, sizeof seed_h);
    memcpy(cfg.E, seed_E, sizeof seed_E);
    return cfg;
}

/* Hand-made cancellation: large terms summing to a small logit. */
static head_config cancellation_config(void)
{
    head_config cfg = {"cancellation", "terms of 2^30 that cancel to a small "
                       "logit: the bound follows sum|h_j E_vj|, not |u|",
                       "ill_conditioned", 1, 2, 4, NULL, NULL, NULL, 0, NULL};
    static const double h[4] = {0x1p30, -0x1p30, 1.0, 0.5};
    static const double E[8] = {1.0, 1.0, 0.25, 0.0, 1.0, 0.75, 0.5, 1.0};
    cfg.h = malloc(sizeof h);
    cfg.E = malloc(sizeof E);
    memcpy(cfg.h, h, sizeof h);
    memcpy(cfg.E, E, sizeof E);
    return cfg;
}

static void free_config(head_config *cfg)
{
    free(cfg->h);
    free(cfg->E);
    free(cfg->bias);
}

static void add_source(gen_case *c, const head_config *cfg)
{
    gen_flag(c, cfg->seed ? "random" : "edge");
    if (cfg->seed)
        gen_source(c, cfg->seed, cfg->recipe);
    if (cfg->flag)
        gen_flag(c, cfg->flag);
}

/* W = E^T: W (d, vocab) from E (vocab, d). */
static double *transpose(const double *E, size_t vocab, size_t d)
{
    double *W = calloc(vocab * d + 1, sizeof(double));
    for (size_t v = 0; v < vocab; v++)
        for (size_t j = 0; j < d; j++)
            W[j * vocab + v] = E[v * d + j];
    return W;
}

/* Emits cfg as a tied case, or as an untied one with W = E^T (+ bias). */
static int head_case(gen_file *file, const head_config *cfg, int untied)
{
    gen_case c;
    double k;
    size_t count = cfg->n * cfg->vocab;
    double *logits = calloc(count + 1, sizeof(double));
    double *scale = calloc(count + 1, sizeof(double));
    double *W = transpose(cfg->E, cfg->vocab, cfg->d);
    int status = untied
        ? oracle_head_untied(logits, scale, &k, cfg->h, W, cfg->bias, cfg->n,
                             cfg->vocab, cfg->d)
        : oracle_head_tied(logits, scale, &k, cfg->h, cfg->E, cfg->n,
                           cfg->vocab, cfg->d);
    if (status == 0) {
        gen_case_begin(&c, file, cfg->slug, cfg->comment);
        add_source(&c, cfg);
        gen_input_f64(&c, "h", cfg->n, cfg->d, cfg->h);
        if (untied) {
            gen_input_f64(&c, "W", cfg->d, cfg->vocab, W);
            if (cfg->bias)
                gen_input_f64(&c, "b", cfg->vocab, GEN_1D, cfg->bias);
        } else {
            gen_input_f64(&c, "E", cfg->vocab, cfg->d, cfg->E);
        }
        gen_expect(&c, "logits", cfg->n, cfg->vocab, logits, k, scale);
        gen_case_end(&c);
    } else {
        fprintf(stderr, "lmr-gen: %s/%s: oracle failed\n", file->op, cfg->slug);
    }
    free(logits);
    free(scale);
    free(W);
    return status;
}

/* The configurations shared by both files (bias only used when untied). */
static size_t head_configs(head_config *list, int with_bias)
{
    size_t count = 0;
    list[count++] = seed_config();
    list[count++] = random_config("small-dyadic", "3 positions, d = 8, |V| = 10",
                                  NULL, 3, 10, 8, 5001, DYADIC, with_bias);
    list[count++] = random_config("full-precision", "53-bit inputs, d = 16",
                                  NULL, 4, 20, 16, 5002, FULL, with_bias);
    list[count++] = random_config("wide-magnitudes", "inputs from 2^-120 to "
                                  "2^120 in one dot product", "wide_range",
                                  2, 7, 14, 5003, SPREAD, with_bias);
    list[count++] = random_config("width-768", "GPT-2's width with a small "
                                  "vocabulary", NULL, 2, 64, 768, 5004, FULL,
                                  with_bias);
    list[count++] = cancellation_config();
    list[count++] = random_config("empty-batch", "n = 0", "empty", 0, 5, 4,
                                  5005, DYADIC, with_bias);
    return count;
}

static void head_notes(gen_file *file)
{
    gen_note(file, "seed_example", "an example from the source documents, "
             "with the correct values (spec/errata.md)");
    gen_note(file, "wide_range", "magnitudes far apart in one dot product");
    gen_note(file, "ill_conditioned", "large terms cancel: the scale is much "
             "larger than the result");
    gen_note(file, "empty", "an empty batch (n = 0)");
}

/* An invalid case: cfg's inputs with one field broken by the caller. */
static void invalid_head(gen_file *file, const char *slug, const char *comment,
                         int untied, const double *h, size_t n, size_t h_width,
                         const double *weight, size_t rows, size_t cols,
                         const double *bias, size_t bias_len,
                         const char *status_name)
{
    gen_case c;
    gen_case_begin(&c, file, slug, comment);
    gen_flag(&c, "edge");
    gen_input_f64(&c, "h", n, h_width, h);
    gen_input_f64(&c, untied ? "W" : "E", rows, cols, weight);
    if (bias)
        gen_input_f64(&c, "b", bias_len, GEN_1D, bias);
    gen_invalid(&c, status_name);
    gen_case_end(&c);
}

static void invalid_heads(gen_file *file, int untied)
{
    double h[6] = {0.5, -1, 2, 0.25, 1, -0.5}; /* (2, 3) */
    double weight[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    double bias[4] = {0, 0.5, -0.5, 1};
    /* tied: E is (4, 3); untied: W is (3, 4) */
    size_t rows = untied ? 3 : 4, cols = untied ? 4 : 3;
    invalid_head(file, "width-mismatch", "h has d = 3, the weight another width",
                 untied, h, 2, 3, weight, untied ? 4 : 3, untied ? 3 : 4,
                 NULL, 0, "LMR_EDIM");
    invalid_head(file, "zero-width", "d = 0", untied, h, 2, 0, weight,
                 untied ? 0 : 4, untied ? 4 : 0, NULL, 0, "LMR_EDIM");
    invalid_head(file, "empty-vocabulary", "|V| = 0", untied, h, 2, 3, weight,
                 untied ? 3 : 0, untied ? 0 : 3, NULL, 0, "LMR_EDIM");
    weight[5] = NAN;
    invalid_head(file, "nan-in-weight", "NaN in the weight matrix", untied, h,
                 2, 3, weight, rows, cols, NULL, 0, "LMR_ENONFINITE");
    weight[5] = 6;
    h[4] = INFINITY;
    invalid_head(file, "inf-in-h", "+infinity in h", untied, h, 2, 3, weight,
                 rows, cols, NULL, 0, "LMR_ENONFINITE");
    h[4] = 1;
    if (!untied)
        return;
    invalid_head(file, "bias-length", "b has |V| - 1 entries", 1, h, 2, 3,
                 weight, 3, 4, bias, 3, "LMR_EDIM");
    bias[2] = NAN;
    invalid_head(file, "nan-in-bias", "NaN in b", 1, h, 2, 3, weight, 3, 4,
                 bias, 4, "LMR_ENONFINITE");
}

static int head_file(const char *dir, int untied)
{
    gen_file file;
    head_config list[8];
    int status = 0;
    gen_file_init(&file, untied ? "head_untied" : "head_tied",
                  untied ? "spec/head.md#untied" : "spec/head.md#tied");
    head_notes(&file);
    size_t count = head_configs(list, untied);
    for (size_t i = 0; i < count && status == 0; i++)
        status = head_case(&file, &list[i], untied);
    if (untied && status == 0) { /* W = E^T without bias: the tied values */
        head_config tied = random_config("tied-equivalent", "W = E^T of "
                                         "head_tied/small-dyadic, no bias: the "
                                         "same logits as the tied head", NULL,
                                         3, 10, 8, 5001, DYADIC, 0);
        status = head_case(&file, &tied, 1);
        free_config(&tied);
    }
    for (size_t i = 0; i < count; i++)
        free_config(&list[i]);
    invalid_heads(&file, untied);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

static int gen_head_tied(const char *dir)
{
    return head_file(dir, 0);
}

static int gen_head_untied(const char *dir)
{
    return head_file(dir, 1);
}

/* The vector files this file writes (gen_ops.h). */
const gen_entry gen_head_files[] = {
    {"head_tied", gen_head_tied},
    {"head_untied", gen_head_untied},
    {NULL, NULL},
};
