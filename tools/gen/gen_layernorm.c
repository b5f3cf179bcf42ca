/*
 * gen_layernorm.c -- cases for layernorm (spec/layernorm.md): random rows,
 * widths from 1 to 768, constant rows, ill-conditioned rows with a large
 * common offset, extreme magnitudes, several eps.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gen_case.h"
#include "gen_ops.h"
#include "gen_random.h"
#include "oracle.h"

/* How the rows x are drawn. */
enum row_kind {
    ROWS_DYADIC,    /* k/64, k in [-127, 127] */
    ROWS_FULL,      /* 53-bit uniform in [-1, 1) */
    ROWS_OFFSET,    /* 10^6 + k/64: a large mean, a small spread */
    ROWS_HUGE,      /* 53-bit uniform times 10^100 */
    ROWS_TINY,      /* 53-bit uniform times 10^-200 */
    ROWS_CONSTANT   /* every entry 0.75 */
};

typedef struct {
    const char *slug, *comment;
    const char *flag; /* an extra flag, or NULL */
    size_t n, d;
    double eps;
    enum row_kind rows;
    int identity_affine; /* 1: gamma = 1, beta = 0; 0: drawn like the rows */
    unsigned long seed;
} layernorm_config;

static const char *recipe(enum row_kind rows)
{
    switch (rows) {
    case ROWS_DYADIC: return "x: k/64, k uniform in [-127, 127]; then gamma, beta alike";
    case ROWS_FULL: return "x: 53-bit uniform in [-1, 1); then gamma, beta: k/64";
    case ROWS_OFFSET: return "x: 1e6 + k/64, k uniform in [-127, 127]; then gamma, beta: k/64";
    case ROWS_HUGE: return "x: 53-bit uniform in [-1, 1) times 1e100; then gamma, beta: k/64";
    case ROWS_TINY: return "x: 53-bit uniform in [-1, 1) times 1e-200; then gamma, beta: k/64";
    default: return "x: constant 0.75; then gamma, beta: k/64";
    }
}

static void draw_rows(gsl_rng *rng, double *x, size_t count,
                      enum row_kind rows)
{
    if (rows == ROWS_DYADIC || rows == ROWS_OFFSET)
        gen_dyadic(rng, x, count, 6, 127);
    else
        gen_uniform53(rng, x, count, -1.0, 1.0);
    for (size_t i = 0; i < count; i++) {
        if (rows == ROWS_OFFSET)
            x[i] += 1e6; /* exact: 1e6 + k/64 needs 27 bits */
        else if (rows == ROWS_HUGE)
            x[i] *= 1e100;
        else if (rows == ROWS_TINY)
            x[i] *= 1e-200;
        else if (rows == ROWS_CONSTANT)
            x[i] = 0.75;
    }
}

typedef struct {
    double *x;     /* (n, d) */
    double *gamma; /* (d) */
    double *beta;  /* (d) */
} layernorm_inputs;

static void draw_inputs(layernorm_inputs *in, const layernorm_config *cfg)
{
    gsl_rng *rng = gen_rng(cfg->seed);
    in->x = calloc(cfg->n * cfg->d + 1, sizeof(double));
    in->gamma = calloc(cfg->d + 1, sizeof(double));
    in->beta = calloc(cfg->d + 1, sizeof(double));
    draw_rows(rng, in->x, cfg->n * cfg->d, cfg->rows);
    if (cfg->identity_affine) {
        for (size_t j = 0; j < cfg->d; j++)
            in->gamma[j] = 1.0;
    } else {
        gen_dyadic(rng, in->gamma, cfg->d, 6, 127);
        gen_dyadic(rng, in->beta, cfg->d, 6, 127);
    }
    gsl_rng_free(rng);
}

static void free_inputs(layernorm_inputs *in)
{
    free(in->x);
    free(in->gamma);
    free(in->beta);
}

static void add_fields(gen_case *c, const layernorm_config *cfg,
                       const layernorm_inputs *in, size_t gamma_len)
{
    gen_flag(c, "random");
    gen_source(c, cfg->seed, recipe(cfg->rows));
    if (cfg->flag)
        gen_flag(c, cfg->flag);
    gen_param_double(c, "eps", cfg->eps);
    gen_input_f64(c, "x", cfg->n, cfg->d, in->x);
    gen_input_f64(c, "gamma", gamma_len, GEN_1D, in->gamma);
    gen_input_f64(c, "beta", cfg->d, GEN_1D, in->beta);
}

static int valid_case(gen_file *file, const layernorm_config *cfg)
{
    layernorm_inputs in;
    gen_case c;
    double k;
    draw_inputs(&in, cfg);
    double *y = calloc(cfg->n * cfg->d + 1, sizeof(double));
    double *scale = calloc(cfg->n * cfg->d + 1, sizeof(double));
    int status = oracle_layernorm(y, scale, &k, in.x, in.gamma, in.beta,
                                  cfg->n, cfg->d, cfg->eps);
    if (status == 0) {
        gen_case_begin(&c, file, cfg->slug, cfg->comment);
        add_fields(&c, cfg, &in, cfg->d);
        gen_expect(&c, "Y", cfg->n, cfg->d, y, k, scale);
        gen_case_end(&c);
    } else {
        fprintf(stderr, "lmr-gen: layernorm/%s: oracle failed\n", cfg->slug);
    }
    free(y);
    free(scale);
    free_inputs(&in);
    return status;
}

static const layernorm_config valid_configs[] = {
    {"small-dyadic", "3 rows of width 8", NULL, 3, 8, 1e-5, ROWS_DYADIC, 0, 4001},
    {"identity-affine", "gamma = 1, beta = 0: the plain normalisation", NULL,
     4, 16, 1e-5, ROWS_DYADIC, 1, 4002},
    {"width-one", "d = 1: the variance is 0 and Y = beta", "degenerate",
     3, 1, 1e-5, ROWS_DYADIC, 0, 4003},
    {"constant-row", "every entry equal: Y = beta exactly", "degenerate",
     2, 6, 1e-5, ROWS_CONSTANT, 0, 4004},
    {"full-precision", "53-bit rows", NULL, 4, 12, 1e-5, ROWS_FULL, 0, 4005},
    {"gpt2-width", "d = 768, 53-bit rows", NULL, 2, 768, 1e-5, ROWS_FULL, 0, 4006},
    {"large-offset", "rows 1e6 + k/64: mean >> spread, ill-conditioned",
     "ill_conditioned", 3, 16, 1e-5, ROWS_OFFSET, 0, 4007},
    {"huge-magnitude", "entries around 1e100 (fp64 only)", "wide_range",
     2, 8, 1e-5, ROWS_HUGE, 0, 4008},
    {"tiny-magnitude", "entries around 1e-200: the variance is far below eps, "
     "so the output is nearly beta", "wide_range", 2, 8, 1e-5, ROWS_TINY, 0, 4009},
    {"eps-1e-12", "BERT's eps", NULL, 3, 8, 1e-12, ROWS_DYADIC, 0, 4010},
    {"eps-one", "eps = 1, comparable to the variance", NULL,
     3, 8, 1.0, ROWS_DYADIC, 0, 4011},
    {"empty-batch", "n = 0", "empty", 0, 8, 1e-5, ROWS_DYADIC, 0, 4012},
};

static const struct {
    const char *slug, *comment, *status;
    double eps;
    size_t bad_at; /* index into x, gamma (100 + j) or beta (200 + j); 999: none */
    double bad_value;
} invalid_configs[] = {
    {"eps-zero", "eps = 0", "LMR_EDOMAIN", 0.0, 999, 0},
    {"eps-negative", "eps = -1e-5", "LMR_EDOMAIN", -1e-5, 999, 0},
    {"eps-nan", "eps NaN", "LMR_ENONFINITE", NAN, 999, 0},
    {"eps-inf", "eps +infinity", "LMR_ENONFINITE", INFINITY, 999, 0},
    {"nan-in-x", "NaN in the second row", "LMR_ENONFINITE", 1e-5, 5, NAN},
    {"inf-in-x", "-infinity in x", "LMR_ENONFINITE", 1e-5, 0, -INFINITY},
    {"nan-in-gamma", "NaN in gamma", "LMR_ENONFINITE", 1e-5, 101, NAN},
    {"inf-in-beta", "+infinity in beta", "LMR_ENONFINITE", 1e-5, 203, INFINITY},
};

static void invalid_cases(gen_file *file)
{
    static const layernorm_config base = {"", "", NULL, 2, 4, 1e-5,
                                          ROWS_DYADIC, 0, 4100};
    size_t count = sizeof invalid_configs / sizeof invalid_configs[0];
    for (size_t i = 0; i < count; i++) {
        layernorm_config cfg = base;
        layernorm_inputs in;
        gen_case c;
        size_t at = invalid_configs[i].bad_at;
        cfg.slug = invalid_configs[i].slug;
        cfg.comment = invalid_configs[i].comment;
        cfg.eps = invalid_configs[i].eps;
        draw_inputs(&in, &cfg);
        if (at < 100)
            in.x[at] = invalid_configs[i].bad_value;
        else if (at < 200)
            in.gamma[at - 100] = invalid_configs[i].bad_value;
        else if (at < 999)
            in.beta[at - 200] = invalid_configs[i].bad_value;
        gen_case_begin(&c, file, cfg.slug, cfg.comment);
        add_fields(&c, &cfg, &in, cfg.d);
        gen_invalid(&c, invalid_configs[i].status);
        gen_case_end(&c);
        free_inputs(&in);
    }
}

static void shape_errors(gen_file *file)
{
    layernorm_config cfg = {"zero-width", "d = 0: x is 2 x 0", NULL, 2, 0,
                            1e-5, ROWS_DYADIC, 0, 4200};
    layernorm_inputs in;
    gen_case c;
    draw_inputs(&in, &cfg);
    gen_case_begin(&c, file, cfg.slug, cfg.comment);
    add_fields(&c, &cfg, &in, 0);
    gen_invalid(&c, "LMR_EDIM");
    gen_case_end(&c);
    free_inputs(&in);

    cfg = (layernorm_config){"gamma-too-long", "gamma has d + 1 entries", NULL,
                             2, 4, 1e-5, ROWS_DYADIC, 0, 4201};
    draw_inputs(&in, &cfg);
    gen_case_begin(&c, file, cfg.slug, cfg.comment);
    add_fields(&c, &cfg, &in, 5);
    gen_invalid(&c, "LMR_EDIM");
    gen_case_end(&c);
    free_inputs(&in);
}

static int gen_layernorm(const char *dir)
{
    gen_file file;
    int status = 0;
    size_t count = sizeof valid_configs / sizeof valid_configs[0];
    gen_file_init(&file, "layernorm", "spec/layernorm.md");
    gen_note(&file, "degenerate", "a row with zero variance: the output is beta");
    gen_note(&file, "ill_conditioned", "a large common offset and a small "
             "spread; the tolerance grows with mean|x|/sqrt(var + eps)");
    gen_note(&file, "wide_range", "magnitudes near the ends of the double range");
    gen_note(&file, "empty", "an empty batch (n = 0)");
    for (size_t i = 0; i < count && status == 0; i++)
        status = valid_case(&file, &valid_configs[i]);
    invalid_cases(&file);
    shape_errors(&file);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* The vector files this file writes (gen_ops.h). */
const gen_entry gen_layernorm_files[] = {
    {"layernorm", gen_layernorm},
    {NULL, NULL},
};
