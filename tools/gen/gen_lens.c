/*
 * gen_lens.c -- cases for logit_lens (spec/logit_lens.md): with and without
 * the final LayerNorm, exact ties, and the top-k order.
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

typedef struct {
    const char *slug, *comment, *flag;
    size_t layers, n, vocab, d, top_k;
    int final_layernorm;
    double eps;
    unsigned long seed;
    int full_precision;
    int duplicate_rows; /* E's row 1 copied into rows 3 and 5: exact ties */
} lens_config;

typedef struct {
    double *hidden; /* (layers, n, d) */
    double *E;      /* (vocab, d) */
    double *gamma;  /* (d) */
    double *beta;   /* (d) */
} lens_inputs;

static void draw_lens_inputs(lens_inputs *in, const lens_config *cfg)
{
    size_t hidden_count = cfg->layers * cfg->n * cfg->d;
    gsl_rng *rng = gen_rng(cfg->seed);
    in->hidden = calloc(hidden_count + 1, sizeof(double));
    in->E = calloc(cfg->vocab * cfg->d + 1, sizeof(double));
    in->gamma = calloc(cfg->d + 1, sizeof(double));
    in->beta = calloc(cfg->d + 1, sizeof(double));
    if (cfg->full_precision) {
        gen_uniform53(rng, in->hidden, hidden_count, -2.0, 2.0);
        gen_uniform53(rng, in->E, cfg->vocab * cfg->d, -1.0, 1.0);
    } else {
        gen_dyadic(rng, in->hidden, hidden_count, 4, 31);
        gen_dyadic(rng, in->E, cfg->vocab * cfg->d, 4, 31);
    }
    gen_dyadic(rng, in->gamma, cfg->d, 6, 127);
    gen_dyadic(rng, in->beta, cfg->d, 6, 127);
    gsl_rng_free(rng);
    for (size_t copy = 3; cfg->duplicate_rows && copy < cfg->vocab; copy += 2)
        memcpy(in->E + copy * cfg->d, in->E + cfg->d, cfg->d * sizeof(double));
}

static void free_lens_inputs(lens_inputs *in)
{
    free(in->hidden);
    free(in->E);
    free(in->gamma);
    free(in->beta);
}

static void add_lens_fields(gen_case *c, const lens_config *cfg,
                            const lens_inputs *in, size_t e_width)
{
    size_t hidden_shape[3] = {cfg->layers, cfg->n, cfg->d};
    gen_flag(c, "random");
    gen_source(c, cfg->seed, cfg->full_precision
                   ? "hidden 53-bit in [-2, 2), then E in [-1, 1), then gamma, "
                     "beta: k/64"
                   : "hidden, then E: k/16 with |k| <= 31; then gamma, beta: k/64");
    if (cfg->flag)
        gen_flag(c, cfg->flag);
    gen_param_int(c, "k", (int64_t)cfg->top_k);
    gen_param_bool(c, "final_layernorm", cfg->final_layernorm);
    if (cfg->final_layernorm)
        gen_param_double(c, "eps", cfg->eps);
    gen_input_f64_nd(c, "hidden", 3, hidden_shape, in->hidden);
    gen_input_f64(c, "E", cfg->vocab, e_width, in->E);
    if (cfg->final_layernorm) {
        gen_input_f64(c, "gamma", cfg->d, GEN_1D, in->gamma);
        gen_input_f64(c, "beta", cfg->d, GEN_1D, in->beta);
    }
}

static int lens_case(gen_file *file, const lens_config *cfg)
{
    lens_inputs in;
    gen_case c;
    double k;
    int exact = 0;
    size_t rows = cfg->layers * cfg->n;
    draw_lens_inputs(&in, cfg);
    double *probs = calloc(rows * cfg->vocab + 1, sizeof(double));
    double *probs_scale = calloc(rows * cfg->vocab + 1, sizeof(double));
    int64_t *tokens = calloc(rows * cfg->top_k + 1, sizeof(int64_t));
    double *top = calloc(rows * cfg->top_k + 1, sizeof(double));
    double *top_scale = calloc(rows * cfg->top_k + 1, sizeof(double));
    oracle_choices *choices = calloc(rows * cfg->top_k * ORACLE_CLASS_COUNT + 1,
                                     sizeof *choices);
    int status = oracle_logit_lens(probs, probs_scale, &k, tokens, choices, top,
                                   top_scale, &exact, in.hidden, in.E,
                                   cfg->final_layernorm ? in.gamma : NULL,
                                   cfg->final_layernorm ? in.beta : NULL,
                                   cfg->layers, cfg->n, cfg->vocab, cfg->d,
                                   cfg->top_k, cfg->eps);
    if (status == 0) {
        size_t probs_shape[3] = {cfg->layers, cfg->n, cfg->vocab};
        size_t top_shape[3] = {cfg->layers, cfg->n, cfg->top_k};
        gen_case_begin(&c, file, cfg->slug, cfg->comment);
        add_lens_fields(&c, cfg, &in, cfg->d);
        if (exact)
            gen_flag(&c, "exact_arithmetic");
        gen_expect_nd(&c, "probs", 3, probs_shape, probs, k, probs_scale);
        json_t *accept = gen_accept_json(choices, rows * cfg->top_k);
        if (json_array_size(accept) > 0)
            gen_flag(&c, "tie_sensitive");
        gen_expect_i64_nd(&c, "top_tokens", 3, top_shape, tokens, accept);
        gen_expect_nd(&c, "top_probs", 3, top_shape, top, k, top_scale);
        gen_case_end(&c);
    } else {
        fprintf(stderr, "lmr-gen: logit_lens/%s: oracle failed\n", cfg->slug);
    }
    free(probs);
    free(probs_scale);
    free(tokens);
    free(top);
    free(top_scale);
    oracle_choices_free(choices, rows * cfg->top_k * ORACLE_CLASS_COUNT);
    free(choices);
    free_lens_inputs(&in);
    return status;
}

static const lens_config valid_configs[] = {
    {"raw-small", "3 layers (embedding + 2 blocks), no final LayerNorm, "
     "dyadic inputs", NULL, 3, 2, 12, 8, 3, 0, 1e-5, 9001, 0, 0},
    {"final-layernorm", "the same kind of inputs through the final LayerNorm "
     "first, statistics per layer and position", "layernorm", 3, 2, 12, 8, 3,
     1, 1e-5, 9002, 0, 0},
    {"exact-ties", "E has three identical rows (1, 3, 5): their logits tie "
     "exactly and the lower index ranks first", "ties", 2, 2, 8, 6, 8, 0, 1e-5,
     9003, 0, 1},
    {"full-precision-layernorm", "53-bit inputs, 4 layers, final LayerNorm",
     "layernorm", 4, 3, 32, 16, 5, 1, 1e-5, 9004, 1, 0},
    {"final-layernorm-eps-quarter", "the final LayerNorm with eps = 0.25 "
     "(the eps parameter, not its default)", "layernorm", 3, 2, 10, 6, 4, 1,
     0.25, 9005, 0, 0},
    {"top-one", "k = 1: the most probable token of each layer", NULL, 3, 2, 10,
     8, 1, 0, 1e-5, 9006, 0, 0},
    {"final-layernorm-top-one", "k = 1 through the final LayerNorm, 4 layers",
     "layernorm", 4, 2, 9, 8, 1, 1, 1e-5, 9007, 0, 0},
};

static void invalid_lens(gen_file *file, const char *slug, const char *comment,
                         size_t top_k, int final_layernorm, double eps,
                         size_t e_width, double hidden_value,
                         const char *status_name)
{
    lens_config cfg = {slug, comment, NULL, 2, 1, 6, 4, top_k, final_layernorm,
                       eps, 9100, 0, 0};
    lens_inputs in;
    gen_case c;
    draw_lens_inputs(&in, &cfg);
    in.hidden[2] = isnan(hidden_value) ? hidden_value : in.hidden[2];
    if (e_width != cfg.d) {
        /* E of another width: the drawn values, repeated in flat order (the
         * drawn table has vocab x d entries, fewer than needed here) */
        double *wide = calloc(cfg.vocab * e_width + 1, sizeof(double));
        for (size_t i = 0; wide != NULL && i < cfg.vocab * e_width; i++)
            wide[i] = in.E[i % (cfg.vocab * cfg.d)];
        free(in.E);
        in.E = wide;
    }
    gen_case_begin(&c, file, slug, comment);
    add_lens_fields(&c, &cfg, &in, e_width);
    gen_invalid(&c, status_name);
    gen_case_end(&c);
    free_lens_inputs(&in);
}

static int gen_logit_lens(const char *dir)
{
    gen_file file;
    int status = 0;
    gen_file_init(&file, "logit_lens", "spec/logit_lens.md");
    gen_note(&file, "layernorm", "the final LayerNorm is applied before the head");
    gen_note(&file, "ties", "exactly equal logits: the lower index ranks first");
    gen_note(&file, "exact_arithmetic", "every logit is exact in binary32, so "
             "exact ties stay exact in every class");
    gen_note(&file, "tie_sensitive", "some class accepts more than one token "
             "at some rank (see the accept lists)");
    for (size_t i = 0; i < sizeof valid_configs / sizeof valid_configs[0] &&
                       status == 0; i++)
        status = lens_case(&file, &valid_configs[i]);
    invalid_lens(&file, "k-zero", "k = 0", 0, 0, 1e-5, 4, 0, "LMR_EDOMAIN");
    invalid_lens(&file, "k-above-vocab", "k = 7 > |V| = 6", 7, 0, 1e-5, 4, 0,
                 "LMR_EDOMAIN");
    invalid_lens(&file, "eps-zero", "eps = 0 with the final LayerNorm", 2, 1,
                 0.0, 4, 0, "LMR_EDOMAIN");
    invalid_lens(&file, "width-mismatch", "E is 5 wide, hidden 4", 2, 0, 1e-5,
                 5, 0, "LMR_EDIM");
    invalid_lens(&file, "nan-hidden", "NaN in a hidden state", 2, 0, 1e-5, 4,
                 NAN, "LMR_ENONFINITE");
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* The vector files this file writes (gen_ops.h). */
const gen_entry gen_lens_files[] = {
    {"logit_lens", gen_logit_lens},
    {NULL, NULL},
};
