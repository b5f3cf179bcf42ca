/*
 * gen_params.c -- cases for param_count (spec/param_count.md), including
 * every count a source document gives, each checked in spec/errata.md
 * (E11, E13; the case comments name the documents D0 and D1, as errata.md
 * explains).
 */
#include <stdint.h>
#include <stdio.h>

#include "gen_case.h"
#include "gen_ops.h"
#include "oracle_head.h"

typedef struct {
    const char *slug, *comment, *flag;
    int64_t vocab, d, block_params;
} count_config;

static const count_config valid_configs[] = {
    {"seed-10000-by-512", "D1: |V| = 10000, d = 512; E and W alone (B = 0): "
     "5 120 000 each, 10 240 000 in all", "seed_example", 10000, 512, 0},
    {"seed-50000-by-768", "D0's question: |V| = 50000, d = 768 saves "
     "|V| d parameters", "seed_example", 50000, 768, 0},
    {"seed-50000-by-1024", "D0: 'about 50 million' saved at |V| = 50000, "
     "d = 1024 (it is 51 200 000)", "seed_example", 50000, 1024, 0},
    {"gpt2-small", "GPT-2 small: B = 12 blocks + position table + final "
     "LayerNorm", NULL, 50257, 768, 85842432},
    {"no-blocks", "B = 0: the relative saving is exactly 1/2", NULL, 32000, 4096, 0},
    {"huge-blocks", "B = 10^15: the relative saving tends to 0, not 1/2",
     "limit", 50257, 12288, 1000000000000000},
    {"largest-documented", "|V| = 10^7, d = 10^5, B = 10^15", "limit",
     10000000, 100000, 1000000000000000},
    {"near-int64-limit", "2 |V| d + B = 2^63 - 1 exactly", "limit",
     2147483647, 2147483649, 1},
    {"beyond-2-53", "|V| = 2^27 + 1, d = 2^27 - 1: |V| d = 2^54 - 1 and the "
     "counts are not doubles, so they must be computed in integers", "limit",
     134217729, 134217727, 12345},
};

static int count_case(gen_file *file, const count_config *cfg)
{
    gen_case c;
    int64_t untied, tied, saving;
    double relative, scale, k;
    int status = oracle_param_count(&untied, &tied, &saving, &relative, &scale,
                                    &k, cfg->vocab, cfg->d, cfg->block_params);
    if (status != 0) {
        fprintf(stderr, "lmr-gen: param_count/%s: oracle failed\n", cfg->slug);
        return status;
    }
    gen_case_begin(&c, file, cfg->slug, cfg->comment);
    gen_flag(&c, "edge");
    if (cfg->flag)
        gen_flag(&c, cfg->flag);
    gen_param_int(&c, "vocab", cfg->vocab);
    gen_param_int(&c, "d", cfg->d);
    gen_param_int(&c, "block_params", cfg->block_params);
    gen_expect_i64(&c, "untied", 1, GEN_1D, &untied, NULL);
    gen_expect_i64(&c, "tied", 1, GEN_1D, &tied, NULL);
    gen_expect_i64(&c, "saving", 1, GEN_1D, &saving, NULL);
    gen_expect(&c, "relative_reduction", 1, GEN_1D, &relative, k, &scale);
    gen_case_end(&c);
    return 0;
}

static void invalid_count(gen_file *file, const char *slug, const char *comment,
                          int64_t vocab, int64_t d, int64_t block_params,
                          const char *status_name)
{
    gen_case c;
    gen_case_begin(&c, file, slug, comment);
    gen_flag(&c, "edge");
    gen_param_int(&c, "vocab", vocab);
    gen_param_int(&c, "d", d);
    gen_param_int(&c, "block_params", block_params);
    gen_invalid(&c, status_name);
    gen_case_end(&c);
}

static int gen_param_count(const char *dir)
{
    gen_file file;
    int status = 0;
    gen_file_init(&file, "param_count", "spec/param_count.md");
    gen_note(&file, "seed_example", "a count from the source documents, with "
             "the correct value (spec/errata.md)");
    gen_note(&file, "limit", "large counts: the relative saving's limit, or "
             "the int64 range");
    for (size_t i = 0; i < sizeof valid_configs / sizeof valid_configs[0] &&
                       status == 0; i++)
        status = count_case(&file, &valid_configs[i]);
    /* a size that must be >= 1 and is 0 is LMR_EDIM, as for every op
     * (spec/errors.md#codes); a negative one is out of its domain */
    invalid_count(&file, "vocab-zero", "|V| = 0", 0, 768, 0, "LMR_EDIM");
    invalid_count(&file, "width-zero", "d = 0", 50257, 0, 0, "LMR_EDIM");
    invalid_count(&file, "vocab-negative", "|V| = -1", -1, 768, 0, "LMR_EDOMAIN");
    invalid_count(&file, "width-negative", "d = -768", 50257, -768, 0, "LMR_EDOMAIN");
    invalid_count(&file, "blocks-negative", "B = -1", 50257, 768, -1, "LMR_EDOMAIN");
    invalid_count(&file, "overflow", "2 |V| d + B exceeds 2^63 - 1 by one",
                  2147483647, 2147483649, 2, "LMR_EOVERFLOW");
    invalid_count(&file, "product-overflow", "|V| d alone exceeds int64",
                  10000000000, 1000000000, 0, "LMR_EOVERFLOW");
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* The vector files this file writes (gen_ops.h). */
const gen_entry gen_params_files[] = {
    {"param_count", gen_param_count},
    {NULL, NULL},
};
