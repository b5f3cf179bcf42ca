/*
 * gen_sinusoid.c -- cases for pos_sinusoid (spec/sinusoid.md): widths from 1
 * to 768, odd widths, several bases, positions from 0 to 2^53.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gen_case.h"
#include "gen_ops.h"
#include "oracle.h"

#define MAX_POSITIONS 8

typedef struct {
    const char *slug, *comment;
    const char *flag_or_status; /* valid: an extra flag or NULL; invalid: the status */
    size_t d;
    double base;
    size_t n;
    int64_t positions[MAX_POSITIONS];
} sinusoid_config;

static const sinusoid_config valid_configs[] = {
    {"d8-first-positions", "the classic layout: positions 0..7, d = 8", NULL,
     8, 10000.0, 8, {0, 1, 2, 3, 4, 5, 6, 7}},
    {"position-zero-d6", "position 0 alone: sin columns 0, cos columns 1",
     "origin", 6, 10000.0, 1, {0}},
    {"odd-width-7", "odd d: the last column is an unpaired sine", "odd_width",
     7, 10000.0, 4, {0, 1, 10, 100}},
    {"odd-width-1", "d = 1: one sine column at frequency 1", "odd_width", 1,
     10000.0, 3, {0, 1, 2}},
    {"width-2", "d = 2: one pair at frequency 1", NULL, 2, 10000.0, 3,
     {0, 1, 3}},
    {"width-768", "GPT-2 width, a few positions", NULL, 768, 10000.0, 3,
     {0, 1, 1023}},
    {"width-512-spread", "positions 0 to 1000 at d = 512", NULL, 512, 10000.0,
     5, {0, 1, 2, 100, 1000}},
    {"large-positions", "positions up to 10^6 and past 2^24 and 2^31",
     "large_position", 16, 10000.0, 7,
     {10000, 100000, 1000000, 1000001, 16777216, 16777217, 2147483647}},
    {"huge-positions", "2^40 and 2^53, the largest position allowed",
     "large_position", 4, 10000.0, 2,
     {1099511627776, 9007199254740992}},
    {"base-2", "a small base: frequencies 2^(-2i/d)", "base", 6, 2.0, 3,
     {0, 5, 77}},
    {"base-500000", "a large base, as in some rotary setups", "base", 8,
     500000.0, 3, {0, 3, 4096}},
    {"base-non-integer", "base 1e4 + 0.5", "base", 6, 10000.5, 2, {1, 999}},
    {"empty-batch", "n = 0", "empty", 4, 10000.0, 0, {0}},
};

static const sinusoid_config invalid_configs[] = {
    {"negative-position", "position -1", "LMR_EPOS", 4, 10000.0, 2, {0, -1}},
    {"position-past-limit", "position 2^53 + 1", "LMR_EPOS", 4, 10000.0, 1,
     {9007199254740993}},
    {"zero-width", "d = 0", "LMR_EDIM", 0, 10000.0, 1, {0}},
};

static const struct {
    const char *slug, *comment, *status;
    double base;
} invalid_bases[] = {
    {"base-one", "base 1: every pair the same frequency", "LMR_EDOMAIN", 1.0},
    {"base-below-one", "base 0.5: rising frequencies", "LMR_EDOMAIN", 0.5},
    {"base-negative", "base -10000", "LMR_EDOMAIN", -10000.0},
    {"base-zero", "base 0", "LMR_EDOMAIN", 0.0},
    {"base-infinite", "base +infinity", "LMR_ENONFINITE", INFINITY},
    {"base-nan", "base NaN", "LMR_ENONFINITE", NAN},
};

static void add_params(gen_case *c, const sinusoid_config *cfg)
{
    gen_param_int(c, "d", (int64_t)cfg->d);
    gen_param_double(c, "base", cfg->base);
    gen_input_i64(c, "positions", cfg->n, GEN_1D, cfg->positions);
}

static int valid_case(gen_file *file, const sinusoid_config *cfg)
{
    gen_case c;
    double k;
    double *y = calloc(cfg->n * cfg->d + 1, sizeof(double));
    double *scale = calloc(cfg->n * cfg->d + 1, sizeof(double));
    int status = oracle_pos_sinusoid(y, scale, &k, cfg->positions, cfg->n,
                                     cfg->d, cfg->base);
    if (status == 0) {
        gen_case_begin(&c, file, cfg->slug, cfg->comment);
        gen_flag(&c, "edge");
        if (cfg->flag_or_status)
            gen_flag(&c, cfg->flag_or_status);
        add_params(&c, cfg);
        gen_expect(&c, "Y", cfg->n, cfg->d, y, k, scale);
        gen_case_end(&c);
    } else {
        fprintf(stderr, "lmr-gen: pos_sinusoid/%s: oracle failed\n", cfg->slug);
    }
    free(y);
    free(scale);
    return status;
}

static void invalid_case(gen_file *file, const sinusoid_config *cfg,
                         const char *status_name)
{
    gen_case c;
    gen_case_begin(&c, file, cfg->slug, cfg->comment);
    gen_flag(&c, "edge");
    add_params(&c, cfg);
    gen_invalid(&c, status_name);
    gen_case_end(&c);
}

static int gen_pos_sinusoid(const char *dir)
{
    gen_file file;
    int status = 0;
    size_t count = sizeof valid_configs / sizeof valid_configs[0];
    gen_file_init(&file, "pos_sinusoid", "spec/sinusoid.md");
    gen_note(&file, "origin", "position 0, whose row is (0, 1, 0, 1, ...)");
    gen_note(&file, "odd_width", "odd d: the last column has no cosine partner");
    gen_note(&file, "large_position", "positions of 10^4 and more; the "
             "tolerance grows with the angle (spec/tolerance.md#sinusoid)");
    gen_note(&file, "base", "a base other than 10000");
    gen_note(&file, "empty", "an empty batch (n = 0)");
    for (size_t i = 0; i < count && status == 0; i++)
        status = valid_case(&file, &valid_configs[i]);
    count = sizeof invalid_configs / sizeof invalid_configs[0];
    for (size_t i = 0; i < count; i++)
        invalid_case(&file, &invalid_configs[i], invalid_configs[i].flag_or_status);
    count = sizeof invalid_bases / sizeof invalid_bases[0];
    for (size_t i = 0; i < count; i++) {
        sinusoid_config cfg = {invalid_bases[i].slug, invalid_bases[i].comment,
                               NULL, 4, invalid_bases[i].base, 2, {0, 1}};
        invalid_case(&file, &cfg, invalid_bases[i].status);
    }
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* The vector files this file writes (gen_ops.h). */
const gen_entry gen_sinusoid_files[] = {
    {"pos_sinusoid", gen_pos_sinusoid},
    {NULL, NULL},
};
