/*
 * gen_compose.c -- cases for compose and compose_layernorm
 * (spec/embedding.md#compose, spec/layernorm.md#compose).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_case.h"
#include "gen_ops.h"
#include "gen_random.h"
#include "oracle.h"

typedef struct {
    const char *slug, *comment;
    const char *flag;       /* an extra flag, or NULL */
    size_t vocab, d, n;
    int learned;            /* 1: learned table of max_len rows; 0: sinusoid */
    size_t max_len;
    int64_t start;
    int scale_by_sqrt_d;
    double base;
    unsigned long seed;
    int full_precision;     /* 53-bit inputs instead of dyadic ones */
    double eps;             /* compose_layernorm only */
} compose_config;

/* The drawn inputs of one case. */
typedef struct {
    double *E;      /* (vocab, d) */
    int64_t *ids;   /* (n) */
    double *P;      /* (max_len, d) when learned */
    double *gamma;  /* (d) */
    double *beta;   /* (d) */
} compose_inputs;

static void draw(gsl_rng *rng, double *out, size_t count, int full_precision)
{
    if (full_precision)
        gen_uniform53(rng, out, count, -1.0, 1.0);
    else
        gen_dyadic(rng, out, count, 6, 127);
}

static void draw_inputs(compose_inputs *in, const compose_config *cfg)
{
    gsl_rng *rng = gen_rng(cfg->seed);
    in->E = calloc(cfg->vocab * cfg->d + 1, sizeof(double));
    in->ids = calloc(cfg->n + 1, sizeof(int64_t));
    in->P = calloc(cfg->max_len * cfg->d + 1, sizeof(double));
    in->gamma = calloc(cfg->d + 1, sizeof(double));
    in->beta = calloc(cfg->d + 1, sizeof(double));
    draw(rng, in->E, cfg->vocab * cfg->d, cfg->full_precision);
    gen_ids(rng, in->ids, cfg->n, cfg->vocab);
    if (cfg->learned)
        draw(rng, in->P, cfg->max_len * cfg->d, cfg->full_precision);
    draw(rng, in->gamma, cfg->d, cfg->full_precision);
    draw(rng, in->beta, cfg->d, cfg->full_precision);
    gsl_rng_free(rng);
}

static void free_inputs(compose_inputs *in)
{
    free(in->E);
    free(in->ids);
    free(in->P);
    free(in->gamma);
    free(in->beta);
}

static oracle_positions oracle_source(const compose_config *cfg,
                                      const compose_inputs *in)
{
    oracle_positions pos = {cfg->learned, cfg->learned ? in->P : NULL,
                            cfg->max_len, cfg->base, cfg->start,
                            cfg->scale_by_sqrt_d};
    return pos;
}

/* Params and inputs common to both ops. */
static void add_compose_fields(gen_case *c, const compose_config *cfg,
                               const compose_inputs *in, size_t p_width)
{
    gen_flag(c, "random");
    gen_source(c, cfg->seed, cfg->full_precision
                   ? "E, then ids, then P, gamma, beta: 53-bit uniform in [-1, 1)"
                   : "E, then ids, then P, gamma, beta: k/64, k in [-127, 127]");
    if (cfg->flag)
        gen_flag(c, cfg->flag);
    gen_param_string(c, "positions", cfg->learned ? "learned" : "sinusoid");
    gen_param_int(c, "start", cfg->start);
    gen_param_bool(c, "scale_by_sqrt_d", cfg->scale_by_sqrt_d);
    if (!cfg->learned)
        gen_param_double(c, "base", cfg->base);
    gen_input_f64(c, "E", cfg->vocab, cfg->d, in->E);
    gen_input_i64(c, "ids", cfg->n, GEN_1D, in->ids);
    if (cfg->learned)
        gen_input_f64(c, "P", cfg->max_len, p_width, in->P);
}

static void add_layernorm_fields(gen_case *c, const compose_config *cfg,
                                 const compose_inputs *in, size_t gamma_len)
{
    gen_param_double(c, "eps", cfg->eps);
    gen_input_f64(c, "gamma", gamma_len, GEN_1D, in->gamma);
    gen_input_f64(c, "beta", cfg->d, GEN_1D, in->beta);
}

/* Emits a valid case of either op (with_layernorm selects). */
static int valid_case(gen_file *file, const compose_config *cfg,
                      int with_layernorm)
{
    compose_inputs in;
    gen_case c;
    double k;
    draw_inputs(&in, cfg);
    oracle_positions pos = oracle_source(cfg, &in);
    double *y = calloc(cfg->n * cfg->d + 1, sizeof(double));
    double *scale = calloc(cfg->n * cfg->d + 1, sizeof(double));
    int status = with_layernorm
        ? oracle_compose_layernorm(y, scale, &k, in.E, in.ids, &pos, in.gamma,
                                   in.beta, cfg->n, cfg->vocab, cfg->d,
                                   cfg->eps)
        : oracle_compose(y, scale, &k, in.E, in.ids, &pos, cfg->n, cfg->vocab,
                         cfg->d);
    if (status == 0) {
        gen_case_begin(&c, file, cfg->slug, cfg->comment);
        add_compose_fields(&c, cfg, &in, cfg->d);
        if (with_layernorm)
            add_layernorm_fields(&c, cfg, &in, cfg->d);
        gen_expect(&c, "Y", cfg->n, cfg->d, y, k, scale);
        gen_case_end(&c);
    } else {
        fprintf(stderr, "lmr-gen: %s/%s: oracle failed\n", file->op, cfg->slug);
    }
    free(y);
    free(scale);
    free_inputs(&in);
    return status;
}

/* How an invalid case breaks an otherwise valid configuration. */
enum breakage { NONE, WIDE_P, BAD_ID, NAN_IN_P, UNKNOWN_KIND, NAN_GAMMA,
                SHORT_GAMMA };

static void invalid_case(gen_file *file, const compose_config *cfg,
                         int with_layernorm, enum breakage how,
                         const char *status_name)
{
    compose_inputs in;
    gen_case c;
    size_t p_width = cfg->d + (how == WIDE_P ? 1 : 0);
    draw_inputs(&in, cfg);
    if (how == WIDE_P) { /* redraw P one column wider */
        free(in.P);
        in.P = calloc(cfg->max_len * p_width + 1, sizeof(double));
    }
    if (how == BAD_ID)
        in.ids[0] = (int64_t)cfg->vocab;
    if (how == NAN_IN_P)
        in.P[1] = NAN;
    if (how == NAN_GAMMA)
        in.gamma[0] = NAN;
    gen_case_begin(&c, file, cfg->slug, cfg->comment);
    add_compose_fields(&c, cfg, &in, p_width);
    if (how == UNKNOWN_KIND)
        gen_param_string(&c, "positions", "rotary");
    if (with_layernorm)
        add_layernorm_fields(&c, cfg, &in, cfg->d - (how == SHORT_GAMMA));
    gen_invalid(&c, status_name);
    gen_case_end(&c);
    free_inputs(&in);
}

/* ---- compose ----------------------------------------------------------- */

static const compose_config compose_valid[] = {
    {"learned-basic", "learned positions from 0, no scaling", NULL,
     10, 6, 4, 1, 8, 0, 0, 0, 2001, 0, 0},
    {"learned-start-offset", "start 3: rows 3..7 of an 8-row table (the last "
     "row is used)", "start_offset", 10, 6, 5, 1, 8, 3, 0, 0, 2002, 0, 0},
    {"learned-sqrt-d-6", "E[w] scaled by sqrt(6), an irrational factor",
     "sqrt_d_scale", 10, 6, 3, 1, 4, 0, 1, 0, 2003, 0, 0},
    {"learned-sqrt-d-16", "E[w] scaled by sqrt(16) = 4, exactly", "sqrt_d_scale",
     12, 16, 3, 1, 4, 0, 1, 0, 2004, 0, 0},
    {"learned-full-precision", "53-bit inputs, start 2", "start_offset",
     20, 8, 6, 1, 10, 2, 0, 0, 2005, 1, 0},
    {"sinusoid-basic", "sinusoidal positions from 0", NULL,
     10, 8, 4, 0, 0, 0, 0, 10000.0, 2006, 0, 0},
    {"sinusoid-scaled-offset", "sqrt(d) scaling and start 1000", "start_offset",
     10, 8, 4, 0, 0, 1000, 1, 10000.0, 2007, 0, 0},
    {"sinusoid-odd-width", "d = 5 with sinusoidal positions", NULL,
     6, 5, 3, 0, 0, 0, 0, 10000.0, 2008, 0, 0},
    {"sinusoid-far-start", "start 10^6, 53-bit embeddings", "start_offset",
     6, 6, 2, 0, 0, 1000000, 0, 10000.0, 2009, 1, 0},
    {"empty-batch", "n = 0", "empty", 4, 4, 0, 1, 4, 0, 0, 0, 2010, 0, 0},
    {"sinusoid-base-500000", "base 500000 (a long-context base), start 7",
     "start_offset", 8, 6, 4, 0, 0, 7, 0, 500000.0, 2011, 0, 0},
};

static int gen_compose(const char *dir)
{
    static const compose_config base = {"", "", NULL, 6, 4, 3, 1, 4, 0, 0, 0,
                                        2100, 0, 0};
    gen_file file;
    int status = 0;
    size_t count = sizeof compose_valid / sizeof compose_valid[0];
    gen_file_init(&file, "compose", "spec/embedding.md#compose");
    gen_note(&file, "start_offset", "the first token is at a position > 0");
    gen_note(&file, "sqrt_d_scale", "the token term is multiplied by sqrt(d)");
    gen_note(&file, "empty", "an empty batch (n = 0)");
    for (size_t i = 0; i < count && status == 0; i++)
        status = valid_case(&file, &compose_valid[i], 0);

    compose_config cfg = base;
    cfg.slug = "past-table"; cfg.comment = "start 2 with n = 3 needs row 4 of a 4-row table";
    cfg.start = 2;
    invalid_case(&file, &cfg, 0, NONE, "LMR_EPOS");
    cfg = base; cfg.slug = "negative-start"; cfg.comment = "start -1";
    cfg.start = -1;
    invalid_case(&file, &cfg, 0, NONE, "LMR_EPOS");
    cfg = base; cfg.slug = "width-mismatch"; cfg.comment = "P has d + 1 columns";
    invalid_case(&file, &cfg, 0, WIDE_P, "LMR_EDIM");
    cfg = base; cfg.slug = "id-out-of-range"; cfg.comment = "an id equal to |V|";
    invalid_case(&file, &cfg, 0, BAD_ID, "LMR_EINDEX");
    cfg = base; cfg.slug = "nan-in-table"; cfg.comment = "NaN in the position table P";
    invalid_case(&file, &cfg, 0, NAN_IN_P, "LMR_ENONFINITE");
    cfg = base; cfg.slug = "unknown-kind"; cfg.comment = "positions = \"rotary\", not an option";
    invalid_case(&file, &cfg, 0, UNKNOWN_KIND, "LMR_EDOMAIN");
    cfg = base; cfg.slug = "sinusoid-base-one"; cfg.comment = "sinusoid with base 1";
    cfg.learned = 0; cfg.max_len = 0; cfg.base = 1.0;
    invalid_case(&file, &cfg, 0, NONE, "LMR_EDOMAIN");
    cfg = base; cfg.slug = "sinusoid-negative-start"; cfg.comment = "sinusoid, start -5";
    cfg.learned = 0; cfg.max_len = 0; cfg.base = 10000.0; cfg.start = -5;
    invalid_case(&file, &cfg, 0, NONE, "LMR_EPOS");

    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* ---- compose_layernorm ------------------------------------------------- */

static const compose_config compose_layernorm_valid[] = {
    {"learned-basic", "learned positions, eps 1e-5", NULL,
     10, 8, 4, 1, 8, 0, 0, 0, 3001, 0, 1e-5},
    {"sinusoid-scaled", "sqrt(d) scaling, start 5, eps 1e-12", "sqrt_d_scale",
     10, 8, 3, 0, 0, 5, 1, 10000.0, 3002, 0, 1e-12},
    {"sinusoid-odd-width", "d = 5, sinusoidal positions", NULL,
     6, 5, 3, 0, 0, 0, 0, 10000.0, 3003, 0, 1e-5},
    {"bert-like", "learned positions, d = 32, eps 1e-12, 53-bit inputs", NULL,
     40, 32, 6, 1, 16, 0, 0, 0, 3004, 1, 1e-12},
    {"large-eps", "eps = 1 dominates a small variance", NULL,
     5, 4, 2, 1, 2, 0, 0, 0, 3005, 0, 1.0},
    {"learned-start-offset", "learned positions from start 2: rows 2..5 of a "
     "6-row table, the last one included", "start_offset", 8, 6, 4, 1, 6, 2,
     0, 0, 3006, 0, 1e-5},
    {"sinusoid-base-500000", "sinusoidal positions with base 500000, start 3",
     "start_offset", 8, 6, 3, 0, 0, 3, 0, 500000.0, 3007, 0, 1e-5},
};

static int gen_compose_layernorm(const char *dir)
{
    static const compose_config base = {"", "", NULL, 6, 4, 3, 1, 4, 0, 0, 0,
                                        3100, 0, 1e-5};
    gen_file file;
    int status = 0;
    size_t count = sizeof compose_layernorm_valid /
                   sizeof compose_layernorm_valid[0];
    gen_file_init(&file, "compose_layernorm", "spec/layernorm.md#compose");
    gen_note(&file, "sqrt_d_scale", "the token term is multiplied by sqrt(d)");
    gen_note(&file, "start_offset", "the first token is at a position > 0");
    for (size_t i = 0; i < count && status == 0; i++)
        status = valid_case(&file, &compose_layernorm_valid[i], 1);

    compose_config cfg = base;
    cfg.slug = "eps-zero"; cfg.comment = "eps = 0"; cfg.eps = 0.0;
    invalid_case(&file, &cfg, 1, NONE, "LMR_EDOMAIN");
    cfg = base; cfg.slug = "nan-gamma"; cfg.comment = "NaN in gamma";
    invalid_case(&file, &cfg, 1, NAN_GAMMA, "LMR_ENONFINITE");
    cfg = base; cfg.slug = "gamma-too-short"; cfg.comment = "gamma has d - 1 entries";
    invalid_case(&file, &cfg, 1, SHORT_GAMMA, "LMR_EDIM");
    cfg = base; cfg.slug = "past-table"; cfg.comment = "start 2 with n = 3 in a 4-row table";
    cfg.start = 2;
    invalid_case(&file, &cfg, 1, NONE, "LMR_EPOS");
    cfg = base; cfg.slug = "id-out-of-range"; cfg.comment = "an id equal to |V|";
    invalid_case(&file, &cfg, 1, BAD_ID, "LMR_EINDEX");

    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* The vector files this file writes (gen_ops.h). */
const gen_entry gen_compose_files[] = {
    {"compose", gen_compose},
    {"compose_layernorm", gen_compose_layernorm},
    {NULL, NULL},
};
