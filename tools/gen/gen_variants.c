/*
 * gen_variants.c -- cases for the head variants (spec/variants.md). Every
 * variant gets the settings in which it must equal a plain head (k = 0 and
 * k = |V|, T = I, alpha = 0 and 1, K = 1, W = E^T), random cases, and bad
 * input.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_case.h"
#include "gen_ops.h"
#include "gen_random.h"
#include "oracle_variants.h"

static int fail(const char *op, const char *slug)
{
    fprintf(stderr, "lmr-gen: %s/%s: oracle failed\n", op, slug);
    return -1;
}

/* One logits output (n, vocab) with its scale and K. */
typedef struct {
    double *values, *scale;
    double k;
} logits_out;

static logits_out logits_alloc(size_t n, size_t vocab)
{
    logits_out out = {calloc(n * vocab + 1, sizeof(double)),
                      calloc(n * vocab + 1, sizeof(double)), 0};
    return out;
}

static void logits_free(logits_out *out)
{
    free(out->values);
    free(out->scale);
}

/* An invalid case: the caller has added inputs and params. */
static void end_invalid(gen_case *c, const char *status_name)
{
    gen_invalid(c, status_name);
    gen_case_end(c);
}

static void variant_notes(gen_file *file)
{
    gen_note(file, "reduces_to_tied", "a setting in which the variant equals "
             "the tied head exactly");
    gen_note(file, "reduces_to_untied", "a setting in which the variant equals "
             "the untied head exactly");
    gen_note(file, "edge_value", "a parameter at the end of its range");
}

/* ---- partial tying ---------------------------------------------------- */

static int partial_case(gen_file *file, const char *slug, const char *comment,
                        const char *flag, size_t n, size_t vocab, size_t d,
                        size_t k, unsigned long seed, int full_precision)
{
    gen_draws bag;
    gen_case c;
    gen_draws_init(&bag, seed, full_precision);
    double *h = gen_draw(&bag, n * d), *E = gen_draw(&bag, vocab * d);
    double *F = gen_draw(&bag, d * (vocab - k));
    logits_out out = logits_alloc(n, vocab);
    int status = oracle_head_partial(out.values, out.scale, &out.k, h, E,
                                     k < vocab ? F : NULL, n, vocab, d, k);
    if (status == 0) {
        gen_case_begin_random(&c, file, slug, comment, flag, seed,
                              gen_draw_recipe(full_precision));
        gen_param_int(&c, "k", (int64_t)k);
        gen_input_f64(&c, "h", n, d, h);
        gen_input_f64(&c, "E", vocab, d, E);
        if (k < vocab)
            gen_input_f64(&c, "F", d, vocab - k, F);
        gen_expect(&c, "logits", n, vocab, out.values, out.k, out.scale);
        gen_case_end(&c);
    } else {
        status = fail(file->op, slug);
    }
    logits_free(&out);
    gen_draws_free(&bag);
    return status;
}

static void partial_invalid(gen_file *file, const char *slug,
                            const char *comment, size_t k, size_t f_cols,
                            double bad, size_t bad_at_e,
                            const char *status_name)
{
    gen_draws bag;
    gen_case c;
    gen_draws_init(&bag, 12900, 0);
    double *h = gen_draw(&bag, 2 * 3);
    double *E = gen_draw(&bag, 5 * 3);
    double *F = gen_draw(&bag, 3 * 5);
    if (bad_at_e < 15)
        E[bad_at_e] = bad;
    gen_case_begin_random(&c, file, slug, comment, NULL, 12900,
                          gen_draw_recipe(0));
    gen_param_int(&c, "k", (int64_t)k);
    gen_input_f64(&c, "h", 2, 3, h);
    gen_input_f64(&c, "E", 5, 3, E);
    gen_input_f64(&c, "F", 3, f_cols, F);
    end_invalid(&c, status_name);
    gen_draws_free(&bag);
}

static int gen_head_partial(const char *dir)
{
    gen_file file;
    gen_file_init(&file, "head_partial", "spec/variants.md#partial");
    variant_notes(&file);
    int status = partial_case(&file, "k-zero", "k = 0: the untied head with W "
                              "= F", "reduces_to_untied", 3, 10, 8, 0, 12001, 0);
    if (status == 0)
        status = partial_case(&file, "k-all", "k = |V|: the tied head, no F",
                              "reduces_to_tied", 3, 10, 8, 10, 12002, 0);
    if (status == 0)
        status = partial_case(&file, "k-four", "the first 4 of 10 tokens "
                              "shared", NULL, 3, 10, 8, 4, 12003, 0);
    if (status == 0)
        status = partial_case(&file, "k-one", "only token 0 shared", "edge_value",
                              2, 6, 4, 1, 12004, 0);
    if (status == 0)
        status = partial_case(&file, "full-precision", "53-bit inputs, k = 7 "
                              "of 12", NULL, 4, 12, 16, 7, 12005, 1);
    partial_invalid(&file, "k-above-vocab", "k = 6 > |V| = 5", 6, 0, 0, 99,
                    "LMR_EDOMAIN");
    partial_invalid(&file, "free-width", "F has |V| - k + 1 columns", 2, 4, 0,
                    99, "LMR_EDIM");
    partial_invalid(&file, "nan-in-unshared-embedding", "NaN in a row of E "
                    "past k", 2, 3, NAN, 13, "LMR_ENONFINITE");
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* ---- transformed tying ------------------------------------------------ */

static int transformed_case(gen_file *file, const char *slug,
                            const char *comment, const char *flag, size_t n,
                            size_t vocab, size_t d, int identity,
                            unsigned long seed, int full_precision)
{
    gen_draws bag;
    gen_case c;
    gen_draws_init(&bag, seed, full_precision);
    double *h = gen_draw(&bag, n * d);
    double *T = gen_draw(&bag, d * d);
    double *E = gen_draw(&bag, vocab * d);
    for (size_t i = 0; identity && i < d * d; i++)
        T[i] = (i % (d + 1) == 0) ? 1.0 : 0.0;
    logits_out out = logits_alloc(n, vocab);
    int status = oracle_head_transformed(out.values, out.scale, &out.k, h, T,
                                         E, n, vocab, d);
    if (status == 0) {
        gen_case_begin_random(&c, file, slug, comment, flag, seed,
                              gen_draw_recipe(full_precision));
        gen_input_f64(&c, "h", n, d, h);
        gen_input_f64(&c, "T", d, d, T);
        gen_input_f64(&c, "E", vocab, d, E);
        gen_expect(&c, "logits", n, vocab, out.values, out.k, out.scale);
        gen_case_end(&c);
    } else {
        status = fail(file->op, slug);
    }
    logits_free(&out);
    gen_draws_free(&bag);
    return status;
}

static int gen_head_transformed(const char *dir)
{
    gen_file file;
    gen_file_init(&file, "head_transformed", "spec/variants.md#transformed");
    variant_notes(&file);
    int status = transformed_case(&file, "identity", "T = I: the tied head",
                                  "reduces_to_tied", 3, 10, 8, 1, 13001, 0);
    if (status == 0)
        status = transformed_case(&file, "random", "a random T", NULL, 3, 10,
                                  8, 0, 13002, 0);
    if (status == 0)
        status = transformed_case(&file, "full-precision", "53-bit inputs, "
                                  "d = 16", NULL, 4, 20, 16, 0, 13003, 1);
    if (status == 0)
        status = transformed_case(&file, "width-one", "d = 1: T is a scalar",
                                  "edge_value", 2, 5, 1, 0, 13004, 0);
    for (int bad = 0; bad < 2; bad++) {
        gen_draws bag;
        gen_case c;
        gen_draws_init(&bag, 13900, 0);
        double *h = gen_draw(&bag, 6);
        double *T = gen_draw(&bag, 12);
        double *E = gen_draw(&bag, 12);
        if (bad)
            T[4] = NAN;
        gen_case_begin_random(&c, &file,
                              bad ? "nan-in-transform" : "transform-not-square",
                              bad ? "NaN in T" : "T is 3 x 4 for d = 3", NULL,
                              13900, gen_draw_recipe(0));
        gen_input_f64(&c, "h", 2, 3, h);
        gen_input_f64(&c, "T", 3, bad ? 3 : 4, T);
        gen_input_f64(&c, "E", 4, 3, E);
        end_invalid(&c, bad ? "LMR_ENONFINITE" : "LMR_EDIM");
        gen_draws_free(&bag);
    }
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* ---- adaptive tying --------------------------------------------------- */

static int adaptive_case(gen_file *file, const char *slug, const char *comment,
                         const char *flag, double alpha, unsigned long seed,
                         int full_precision)
{
    enum { N = 3, VOCAB = 10, D = 8 };
    gen_draws bag;
    gen_case c;
    gen_draws_init(&bag, seed, full_precision);
    double *h = gen_draw(&bag, N * D);
    double *E = gen_draw(&bag, VOCAB * D);
    double *F = gen_draw(&bag, D * VOCAB);
    logits_out out = logits_alloc(N, VOCAB);
    int status = oracle_head_adaptive(out.values, out.scale, &out.k, h, E, F,
                                      alpha, N, VOCAB, D);
    if (status == 0) {
        gen_case_begin_random(&c, file, slug, comment, flag, seed,
                              gen_draw_recipe(full_precision));
        gen_param_double(&c, "alpha", alpha);
        gen_input_f64(&c, "h", N, D, h);
        gen_input_f64(&c, "E", VOCAB, D, E);
        gen_input_f64(&c, "F", D, VOCAB, F);
        gen_expect(&c, "logits", N, VOCAB, out.values, out.k, out.scale);
        gen_case_end(&c);
    } else {
        status = fail(file->op, slug);
    }
    logits_free(&out);
    gen_draws_free(&bag);
    return status;
}

static int gen_head_adaptive(const char *dir)
{
    gen_file file;
    gen_file_init(&file, "head_adaptive", "spec/variants.md#adaptive");
    variant_notes(&file);
    int status = adaptive_case(&file, "alpha-one", "alpha = 1: the tied head",
                               "reduces_to_tied", 1.0, 14001, 0);
    if (status == 0)
        status = adaptive_case(&file, "alpha-zero", "alpha = 0: the untied "
                               "head with W = F", "reduces_to_untied", 0.0, 14002, 0);
    if (status == 0)
        status = adaptive_case(&file, "alpha-quarter", "alpha = 0.25", NULL,
                               0.25, 14003, 0);
    if (status == 0)
        status = adaptive_case(&file, "alpha-decimal", "alpha = 0.7 (not a "
                               "dyadic number), 53-bit inputs", NULL, 0.7, 14004, 1);
    static const struct {
        const char *slug, *comment, *status;
        double alpha;
        size_t f_rows;
    } bad[] = {
        {"alpha-above-one", "alpha = 1.5", "LMR_EDOMAIN", 1.5, 3},
        {"alpha-negative", "alpha = -0.1", "LMR_EDOMAIN", -0.1, 3},
        {"alpha-nan", "alpha NaN", "LMR_ENONFINITE", NAN, 3},
        {"free-shape", "F is (d + 1) x |V|", "LMR_EDIM", 0.5, 4},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gen_draws bag;
        gen_case c;
        gen_draws_init(&bag, 14900, 0);
        double *h = gen_draw(&bag, 6);
        double *E = gen_draw(&bag, 12);
        double *F = gen_draw(&bag, 16);
        gen_case_begin_random(&c, &file, bad[i].slug, bad[i].comment, NULL,
                              14900, gen_draw_recipe(0));
        gen_param_double(&c, "alpha", bad[i].alpha);
        gen_input_f64(&c, "h", 2, 3, h);
        gen_input_f64(&c, "E", 4, 3, E);
        gen_input_f64(&c, "F", bad[i].f_rows, 4, F);
        end_invalid(&c, bad[i].status);
        gen_draws_free(&bag);
    }
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* ---- MLP head --------------------------------------------------------- */

typedef struct {
    const char *slug, *comment, *flag;
    size_t n, vocab, d, m;
    int tied, with_b1, with_b2, dead_units;
    unsigned long seed;
    int full_precision;
} mlp_config;

static int mlp_case(gen_file *file, const mlp_config *cfg)
{
    gen_draws bag;
    gen_case c;
    gen_draws_init(&bag, cfg->seed, cfg->full_precision);
    double *h = gen_draw(&bag, cfg->n * cfg->d);
    double *W1 = gen_draw(&bag, cfg->d * cfg->m);
    double *b1 = gen_draw(&bag, cfg->m);
    double *W2 = gen_draw(&bag, cfg->m * cfg->vocab);
    double *E = gen_draw(&bag, cfg->vocab * cfg->d);
    double *b2 = gen_draw(&bag, cfg->vocab);
    for (size_t unit = 0; cfg->dead_units && unit < cfg->m; unit += 2) {
        for (size_t i = 0; i < cfg->d; i++) /* a column of zeros: a = b1 */
            W1[i * cfg->m + unit] = 0.0;
        b1[unit] = unit % 4 == 0 ? 0.0 : -0.5; /* exactly 0, or negative */
    }
    logits_out out = logits_alloc(cfg->n, cfg->vocab);
    int status = oracle_head_mlp(out.values, out.scale, &out.k, h, W1,
                                 cfg->with_b1 ? b1 : NULL,
                                 cfg->tied ? NULL : W2, cfg->tied ? E : NULL,
                                 cfg->with_b2 ? b2 : NULL, cfg->n, cfg->vocab,
                                 cfg->d, cfg->m);
    if (status == 0) {
        gen_case_begin_random(&c, file, cfg->slug, cfg->comment, cfg->flag,
                              cfg->seed, gen_draw_recipe(cfg->full_precision));
        gen_param_bool(&c, "tied", cfg->tied);
        gen_input_f64(&c, "h", cfg->n, cfg->d, h);
        gen_input_f64(&c, "W1", cfg->d, cfg->m, W1);
        if (cfg->with_b1)
            gen_input_f64(&c, "b1", cfg->m, GEN_1D, b1);
        if (cfg->tied)
            gen_input_f64(&c, "E", cfg->vocab, cfg->d, E);
        else
            gen_input_f64(&c, "W2", cfg->m, cfg->vocab, W2);
        if (cfg->with_b2)
            gen_input_f64(&c, "b2", cfg->vocab, GEN_1D, b2);
        gen_expect(&c, "logits", cfg->n, cfg->vocab, out.values, out.k, out.scale);
        gen_case_end(&c);
    } else {
        status = fail(file->op, cfg->slug);
    }
    logits_free(&out);
    gen_draws_free(&bag);
    return status;
}

static const mlp_config mlp_configs[] = {
    {"untied-biases", "hidden width 12, both biases", NULL, 3, 10, 8, 12,
     0, 1, 1, 0, 15001, 0},
    {"untied-no-bias", "no biases", NULL, 3, 10, 8, 6, 0, 0, 0, 0, 15002, 0},
    {"tied", "hidden width = d, W2 = E^T, with b2", "tied_form", 3, 10, 8, 8,
     1, 1, 1, 0, 15003, 0},
    {"relu-at-zero", "half the units have pre-activation exactly 0 or "
     "negative: ReLU gives 0", "relu_zero", 2, 6, 4, 8, 0, 1, 1, 1, 15004, 0},
    {"full-precision", "53-bit inputs, hidden width 32", NULL, 4, 20, 16, 32,
     0, 1, 1, 0, 15005, 1},
};

static void mlp_invalid(gen_file *file, const char *slug, const char *comment,
                        int tied, size_t b1_len, double bad, const char *status)
{
    gen_draws bag;
    gen_case c;
    gen_draws_init(&bag, 15900, 0);
    double *h = gen_draw(&bag, 6);
    double *W1 = gen_draw(&bag, 12);
    double *b1 = gen_draw(&bag, 5);
    double *W2 = gen_draw(&bag, 20), *E = gen_draw(&bag, 15);
    W1[2] = isnan(bad) ? bad : W1[2];
    gen_case_begin_random(&c, file, slug, comment, NULL, 15900,
                          gen_draw_recipe(0));
    gen_param_bool(&c, "tied", tied);
    gen_input_f64(&c, "h", 2, 3, h);
    gen_input_f64(&c, "W1", 3, 4, W1);   /* m = 4 */
    gen_input_f64(&c, "b1", b1_len, GEN_1D, b1);
    if (tied)
        gen_input_f64(&c, "E", 5, 3, E); /* m = 4 != d = 3 */
    else
        gen_input_f64(&c, "W2", 4, 5, W2);
    end_invalid(&c, status);
    gen_draws_free(&bag);
}

static int gen_head_mlp(const char *dir)
{
    gen_file file;
    int status = 0;
    gen_file_init(&file, "head_mlp", "spec/variants.md#mlp");
    variant_notes(&file);
    gen_note(&file, "tied_form", "W2 = E^T (the hidden width equals d)");
    gen_note(&file, "relu_zero", "pre-activations exactly 0 and negative");
    for (size_t i = 0; i < sizeof mlp_configs / sizeof mlp_configs[0] &&
                       status == 0; i++)
        status = mlp_case(&file, &mlp_configs[i]);
    mlp_invalid(&file, "tied-width-mismatch", "tied form with m = 4, d = 3",
                1, 4, 0, "LMR_EDIM");
    mlp_invalid(&file, "bias-length", "b1 has 5 entries for m = 4", 0, 5, 0,
                "LMR_EDIM");
    mlp_invalid(&file, "nan-in-first-weight", "NaN in W1", 0, 4, NAN, "LMR_ENONFINITE");
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* The vector files this file writes (gen_ops.h). */
const gen_entry gen_variants_files[] = {
    {"head_partial", gen_head_partial},
    {"head_transformed", gen_head_transformed},
    {"head_adaptive", gen_head_adaptive},
    {"head_mlp", gen_head_mlp},
    {NULL, NULL},
};
