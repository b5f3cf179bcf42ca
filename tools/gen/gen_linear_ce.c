/*
 * gen_linear_ce.c -- cases for the fused linear cross-entropy
 * (spec/linear_cross_entropy.md): every reduction, ignored rows with the
 * default -100 and with ignore_index = -1, every target ignored (sum, mean
 * and none), an empty batch, one token, one row, 53-bit inputs, tokens with
 * a logit near -8192 (what a large negative embedding direction does: their
 * probability is below the double range), confident rows (the target's
 * embedding a multiple of the hidden state, so 1 - y is small and a
 * probability rounded to bfloat16 before the label is subtracted loses it),
 * a flat tail of many nearly equal logits behind a few dominant ones, and
 * vocabularies one below, at and one above the chunk sizes 64, 128 and 256,
 * with the last token as a target.
 *
 * Bad input: widths that disagree, d = 0, |V| = 0, non-finite h or E, bad
 * targets, ignore_index inside the vocabulary, an unknown reduction,
 * targets and dloss of the wrong length, non-finite dloss.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gen_case.h"
#include "gen_grad.h"
#include "gen_ops.h"
#include "gen_random.h"
#include "oracle_grad.h"

static const char *const reduction_names[] = {"none", "sum", "mean"};

/* How the drawn inputs are then shaped (each documented in the recipe). */
typedef enum {
    LCE_PLAIN,       /* as drawn */
    LCE_MASKED_LIKE, /* h[t,0] = 1; E[v,0] = -8192 for v % 3 == 2 */
    LCE_CONFIDENT,   /* E[c_t,:] = 4 h[t,:] for the counted rows */
    LCE_FLAT_TAIL    /* E[v,:] = E[3,:] + (v % 5 - 2)/4096 at column v % d
                        for v >= 3: rows 0..2 dominate a flat tail */
} lce_shape;

#define LCE_MAX_N 8

typedef struct {
    const char *slug, *comment, *flag;
    size_t n, vocab, d;
    enum oracle_reduction reduction;
    int64_t ignore_index;
    unsigned ignored;      /* bit t: row t's target is ignore_index */
    double dloss;          /* sum, mean; none draws one per row */
    lce_shape shape;
    int last_target;       /* 1: row 0's target is |V| - 1 */
    int full_precision;
    unsigned long seed;
} lce_config;

#define ALL_ROWS 0xffu

static const lce_config lce_configs[] = {
    {"random-mean", "6 rows, |V| = 10, d = 8, rows 1 and 4 ignored: the mean "
     "divides by 4; dloss = 1", "ignored", 6, 10, 8, ORACLE_REDUCE_MEAN, -100,
     0x12u, 1.0, LCE_PLAIN, 0, 0, 36001},
    {"random-sum", "rows 1 and 4 ignored; dloss = 0.75", "ignored", 6, 10, 8,
     ORACLE_REDUCE_SUM, -100, 0x12u, 0.75, LCE_PLAIN, 0, 0, 36002},
    {"random-none", "rows 1 and 4 ignored; dloss per row, not 0 on the "
     "ignored rows (they must still get 0)", "ignored", 6, 10, 8,
     ORACLE_REDUCE_NONE, -100, 0x12u, 0.0, LCE_PLAIN, 0, 0, 36003},
    {"mean-nothing-ignored", "every row counted, |V| = 12, d = 5, "
     "dloss = -2.5", NULL, 4, 12, 5, ORACLE_REDUCE_MEAN, -100, 0u, -2.5,
     LCE_PLAIN, 0, 0, 36004},
    {"custom-ignore-index", "ignore_index = -1: rows 1 and 3 ignored, the "
     "mean over the other 3; dloss = 0.5", "ignored", 5, 7, 4,
     ORACLE_REDUCE_MEAN, -1, 0x0au, 0.5, LCE_PLAIN, 0, 0, 36005},
    {"mean-all-ignored", "every target ignored: the loss is NaN (0/0), dh "
     "and dE are 0", "all_ignored", 3, 6, 4, ORACLE_REDUCE_MEAN, -100,
     ALL_ROWS, 1.0, LCE_PLAIN, 0, 0, 36006},
    {"sum-all-ignored", "every target ignored: the loss is 0, dh and dE are "
     "0", "all_ignored", 3, 6, 4, ORACLE_REDUCE_SUM, -100, ALL_ROWS, 1.5,
     LCE_PLAIN, 0, 0, 36007},
    {"none-all-ignored", "every target ignored, dloss not 0: every loss, dh "
     "and dE are 0", "all_ignored", 3, 6, 4, ORACLE_REDUCE_NONE, -100,
     ALL_ROWS, 0.0, LCE_PLAIN, 0, 0, 36008},
    {"empty-batch-mean", "n = 0: the mean is NaN, dh is empty, dE is 0",
     "empty", 0, 5, 3, ORACLE_REDUCE_MEAN, -100, 0u, 1.0, LCE_PLAIN, 0, 0,
     36009},
    {"empty-batch-none", "n = 0 with reduction none: the loss is empty",
     "empty", 0, 5, 3, ORACLE_REDUCE_NONE, -100, 0u, 0.0, LCE_PLAIN, 0, 0,
     36010},
    {"single-token", "|V| = 1: y = 1 at the target, so D, dh and dE are 0 "
     "over the reals", NULL, 3, 1, 4, ORACLE_REDUCE_MEAN, -100, 0u, 1.0,
     LCE_PLAIN, 0, 0, 36011},
    {"single-row", "n = 1, |V| = 9, d = 6, sum", NULL, 1, 9, 6,
     ORACLE_REDUCE_SUM, -100, 0u, 1.0, LCE_PLAIN, 0, 0, 36012},
    {"full-precision", "53-bit inputs, |V| = 9, d = 6, row 2 ignored, mean",
     "ignored", 4, 9, 6, ORACLE_REDUCE_MEAN, -100, 0x04u, 1.0, LCE_PLAIN, 0, 1,
     36013},
    {"masked-like", "every third token's logit is near -8192: its "
     "probability is below the double range, its D and its row of dE are 0 "
     "to the double; none", "masked_like", 4, 12, 4, ORACLE_REDUCE_NONE,
     -100, 0u, 0.0, LCE_MASKED_LIKE, 0, 0, 36014},
    {"masked-like-mean", "the near -8192 logits with the mean, row 3 "
     "ignored", "masked_like", 4, 12, 4, ORACLE_REDUCE_MEAN, -100, 0x08u,
     1.0, LCE_MASKED_LIKE, 0, 0, 36015},
    {"confident-targets", "the target's embedding is 4 h: the target's "
     "probability is close to 1, so 1 - y is small and must survive the "
     "subtraction; mean", "confident", 4, 16, 8, ORACLE_REDUCE_MEAN, -100, 0u,
     1.0, LCE_CONFIDENT, 0, 0, 36016},
    {"confident-targets-none", "the confident rows with reduction none",
     "confident", 4, 16, 8, ORACLE_REDUCE_NONE, -100, 0u, 0.0, LCE_CONFIDENT,
     0, 0, 36017},
    {"flat-tail", "|V| = 300: three dominant tokens and a tail of 297 "
     "nearly equal logits (spread 2^-11 of a row), across the chunk of 256; "
     "row 1 ignored, mean", "flat_tail", 3, 300, 4, ORACLE_REDUCE_MEAN, -100,
     0x02u, 1.0, LCE_FLAT_TAIL, 1, 0, 36018},
    {"vocab-63", "|V| = 63, one below a chunk of 64; the last token is a "
     "target", "chunk_boundary", 3, 63, 3, ORACLE_REDUCE_MEAN, -100, 0u, 1.0,
     LCE_PLAIN, 1, 0, 36019},
    {"vocab-64", "|V| = 64, a chunk of 64 exactly", "chunk_boundary", 3, 64,
     3, ORACLE_REDUCE_SUM, -100, 0u, 1.0, LCE_PLAIN, 1, 0, 36020},
    {"vocab-65", "|V| = 65: the last token alone in a second chunk of 64",
     "chunk_boundary", 3, 65, 3, ORACLE_REDUCE_MEAN, -100, 0u, 1.0, LCE_PLAIN,
     1, 0, 36021},
    {"vocab-127", "|V| = 127, one below two chunks of 64 and one of 128",
     "chunk_boundary", 3, 127, 3, ORACLE_REDUCE_NONE, -100, 0u, 0.0, LCE_PLAIN,
     1, 0, 36022},
    {"vocab-129", "|V| = 129, one above a chunk of 128", "chunk_boundary", 3,
     129, 3, ORACLE_REDUCE_MEAN, -100, 0u, 1.0, LCE_PLAIN, 1, 0, 36023},
    {"vocab-255", "|V| = 255, one below a chunk of 256", "chunk_boundary", 3,
     255, 3, ORACLE_REDUCE_SUM, -100, 0u, 1.0, LCE_PLAIN, 1, 0, 36024},
    {"vocab-256", "|V| = 256, a chunk of 256 exactly", "chunk_boundary", 3,
     256, 3, ORACLE_REDUCE_MEAN, -100, 0u, 1.0, LCE_PLAIN, 1, 0, 36025},
    {"vocab-257", "|V| = 257: the last token alone in a second chunk of 256",
     "chunk_boundary", 3, 257, 3, ORACLE_REDUCE_MEAN, -100, 0u, 1.0,
     LCE_PLAIN, 1, 0, 36026},
};

typedef struct {
    double *h, *E; /* (n, d), (vocab, d) */
    int64_t targets[LCE_MAX_N];
    double dloss[LCE_MAX_N];
} lce_inputs;

/* Applies cfg->shape to the drawn h and E (after the targets are known). */
static void lce_shape_inputs(lce_inputs *in, const lce_config *cfg)
{
    size_t n = cfg->n, V = cfg->vocab, d = cfg->d;
    switch (cfg->shape) {
    case LCE_PLAIN:
        break;
    case LCE_MASKED_LIKE:
        for (size_t t = 0; t < n; t++)
            in->h[t * d] = 1.0;
        for (size_t v = 2; v < V; v += 3)
            in->E[v * d] = -8192.0;
        break;
    case LCE_CONFIDENT:
        for (size_t t = 0; t < n; t++)
            if (in->targets[t] != cfg->ignore_index)
                for (size_t j = 0; j < d; j++)
                    in->E[(size_t)in->targets[t] * d + j] = 4.0 * in->h[t * d + j];
        break;
    case LCE_FLAT_TAIL:
        for (size_t v = 4; v < V; v++) {
            memcpy(in->E + v * d, in->E + 3 * d, d * sizeof(double));
            in->E[v * d + v % d] += ((double)(v % 5) - 2.0) / 4096.0;
        }
        for (size_t v = 0; v < 3; v++) /* the dominant ones */
            for (size_t j = 0; j < d; j++)
                in->E[v * d + j] = 2.0 * in->h[(v % (n ? n : 1)) * d + j];
        break;
    }
}

static lce_inputs lce_draw(const lce_config *cfg)
{
    size_t n = cfg->n, V = cfg->vocab, d = cfg->d;
    gsl_rng *rng = gen_rng(cfg->seed);
    lce_inputs in;
    in.h = gen_draw_values(rng, n * d, cfg->full_precision);
    in.E = gen_draw_values(rng, V * d, cfg->full_precision);
    gen_ids(rng, in.targets, n, V);
    if (cfg->last_target && n > 0)
        in.targets[0] = (int64_t)V - 1;
    for (size_t t = 0; t < n; t++)
        if (cfg->ignored & (1u << t))
            in.targets[t] = cfg->ignore_index;
    if (cfg->reduction == ORACLE_REDUCE_NONE)
        gen_dyadic(rng, in.dloss, n, 6, 127);
    else
        in.dloss[0] = cfg->dloss;
    gsl_rng_free(rng);
    lce_shape_inputs(&in, cfg);
    return in;
}

static const char *lce_shape_recipe(lce_shape shape)
{
    switch (shape) {
    case LCE_MASKED_LIKE:
        return "; then h[t,0] = 1 and E[v,0] = -8192 for v % 3 = 2";
    case LCE_CONFIDENT:
        return "; then E[c_t,:] = 4 h[t,:] for every counted row";
    case LCE_FLAT_TAIL:
        return "; then for v >= 4, E[v,:] = E[3,:] with (v % 5 - 2)/4096 "
               "added at column v % d, and E[v,:] = 2 h[v % n,:] for v < 3";
    case LCE_PLAIN:
        break;
    }
    return "";
}

/* The recipe of a case, in text that says how each input was drawn. */
static void lce_recipe(char *text, size_t size, const lce_config *cfg)
{
    snprintf(text, size, "h, E in that order: %s; then targets uniform in "
             "[0, |V|)%s%s%s%s", gen_draw_recipe(cfg->full_precision),
             cfg->last_target ? ", row 0's set to |V| - 1" : "",
             cfg->ignored ? ", the ignored rows' set to ignore_index" : "",
             cfg->reduction == ORACLE_REDUCE_NONE
                 ? "; then dloss: k/64, |k| <= 127" : "",
             lce_shape_recipe(cfg->shape));
}

static int lce_case(gen_file *file, const lce_config *cfg, int return_dE)
{
    size_t n = cfg->n, V = cfg->vocab, d = cfg->d;
    size_t loss_count = cfg->reduction == ORACLE_REDUCE_NONE ? n : 1;
    lce_inputs in = lce_draw(cfg);
    oracle_out loss = gen_grad_out_alloc(loss_count);
    oracle_out dh = gen_grad_out_alloc(n * d);
    oracle_out dE = {NULL, NULL}; /* not wanted unless return_dE */
    if (return_dE)
        dE = gen_grad_out_alloc(V * d);
    oracle_lce_inputs args = {in.h, in.E, in.targets, in.dloss, n, V, d,
                              cfg->reduction, cfg->ignore_index, 0};
    int status = oracle_linear_cross_entropy(loss, dh, dE, &args);
    if (status == 0) {
        gen_case c;
        char recipe[512];
        lce_recipe(recipe, sizeof recipe, cfg);
        gen_case_begin_random(&c, file, cfg->slug, cfg->comment, cfg->flag,
                              cfg->seed, recipe);
        gen_param_string(&c, "reduction", reduction_names[cfg->reduction]);
        gen_param_int(&c, "ignore_index", cfg->ignore_index);
        if (!return_dE)
            gen_param_bool(&c, "return_dE", 0);
        gen_input_f64(&c, "h", n, d, in.h);
        gen_input_f64(&c, "E", V, d, in.E);
        gen_input_i64(&c, "targets", n, GEN_1D, in.targets);
        gen_input_f64(&c, "dloss", loss_count, GEN_1D, in.dloss);
        gen_expect_grad(&c, "loss", loss_count, GEN_1D, loss);
        gen_expect_grad(&c, "dh", n, d, dh);
        if (return_dE)
            gen_expect_grad(&c, "dE", V, d, dE);
        gen_case_end(&c);
    } else {
        status = gen_oracle_failed(file->op, cfg->slug);
    }
    gen_grad_out_free(&loss);
    gen_grad_out_free(&dh);
    gen_grad_out_free(&dE);
    free(in.h);
    free(in.E);
    return status;
}

/* Cases of lce_configs again with return_dE false: loss and dh only. */
typedef struct {
    const char *slug, *comment;
    size_t base; /* the index in lce_configs of the case repeated */
} lce_without_dE;

static const lce_without_dE lce_without_dE_cases[] = {
    {"random-mean-no-de", "random-mean with return_dE false: only the loss "
     "and dh are computed and returned", 0},
    {"vocab-257-no-de", "vocab-257 with return_dE false", 25},
    {"random-none-no-de", "random-none with return_dE false", 2},
};

/* A bad case: h (n, h_width), E (rows, width), targets (n_targets),
 * dloss (dloss_len); bad_value (if not 0) goes into element 1 of h
 * (bad_in 0), E (1) or dloss (2, element 0). */
typedef struct {
    const char *slug, *comment, *status;
    const char *reduction;
    int64_t ignore_index;
    size_t n, h_width, rows, width;
    int64_t targets[3];
    size_t n_targets;
    size_t dloss_len;
    int bad_in;
    double bad_value;
} lce_invalid_config;

static const lce_invalid_config lce_invalid_configs[] = {
    {"width-mismatch", "h has d = 3, E has width 4", "LMR_EDIM", "mean", -100,
     2, 3, 4, 4, {0, 1}, 2, 1, 0, 0},
    {"zero-width", "d = 0", "LMR_EDIM", "mean", -100, 2, 0, 4, 0, {0, 1}, 2,
     1, 0, 0},
    {"empty-vocabulary", "|V| = 0", "LMR_EDIM", "sum", -100, 2, 3, 0, 3,
     {-100, -100}, 2, 1, 0, 0},
    {"nan-in-e", "NaN in E", "LMR_ENONFINITE", "mean", -100, 2, 3, 4, 3,
     {0, 1}, 2, 1, 1, NAN},
    {"inf-in-h", "-infinity in h", "LMR_ENONFINITE", "mean", -100, 2, 3, 4, 3,
     {0, 1}, 2, 1, 0, -INFINITY},
    {"target-equal-to-vocab", "target 4 with |V| = 4", "LMR_EINDEX", "mean",
     -100, 2, 3, 4, 3, {0, 4}, 2, 1, 0, 0},
    {"target-negative", "target -5, not the ignore_index", "LMR_EINDEX",
     "sum", -100, 2, 3, 4, 3, {-5, 1}, 2, 1, 0, 0},
    {"ignore-index-in-range", "ignore_index 1 would drop a real token",
     "LMR_EDOMAIN", "mean", 1, 2, 3, 4, 3, {0, 2}, 2, 1, 0, 0},
    {"unknown-reduction", "reduction \"avg\"", "LMR_EDOMAIN", "avg", -100, 2,
     3, 4, 3, {0, 1}, 2, 1, 0, 0},
    {"targets-length", "one target for two rows", "LMR_EDIM", "sum", -100, 2,
     3, 4, 3, {0}, 1, 1, 0, 0},
    {"upstream-length-none", "reduction none with 1 dloss for 2 rows",
     "LMR_EDIM", "none", -100, 2, 3, 4, 3, {0, 1}, 2, 1, 0, 0},
    {"upstream-length-mean", "reduction mean with 2 dloss entries",
     "LMR_EDIM", "mean", -100, 2, 3, 4, 3, {0, 1}, 2, 2, 0, 0},
    {"nan-in-upstream", "dloss NaN", "LMR_ENONFINITE", "mean", -100, 2, 3, 4,
     3, {0, 1}, 2, 1, 2, NAN},
    {"inf-in-upstream", "dloss +infinity", "LMR_ENONFINITE", "sum", -100, 2,
     3, 4, 3, {0, 1}, 2, 1, 2, INFINITY},
};

static void lce_invalid(gen_file *file, const lce_invalid_config *cfg)
{
    double h[8] = {0.5, -1.0, 0.25, 1.5, 0.75, -0.5, 2.0, 1.0};
    double E[16] = {1.0, 0.5, -0.25, -1.0, 0.125, 2.0, 0.75, -1.5,
                    0.5, 0.25, 1.0, -0.75, 1.25, -2.0, 0.375, 0.5};
    double dloss[2] = {1.0, 1.0};
    if (cfg->bad_value != 0.0) {
        double *arrays[3] = {h, E, dloss};
        arrays[cfg->bad_in][cfg->bad_in == 2 ? 0 : 1] = cfg->bad_value;
    }
    gen_case c;
    gen_case_begin(&c, file, cfg->slug, cfg->comment);
    gen_flag(&c, "edge");
    gen_param_string(&c, "reduction", cfg->reduction);
    gen_param_int(&c, "ignore_index", cfg->ignore_index);
    gen_input_f64(&c, "h", cfg->n, cfg->h_width, h);
    gen_input_f64(&c, "E", cfg->rows, cfg->width, E);
    gen_input_i64(&c, "targets", cfg->n_targets, GEN_1D, cfg->targets);
    gen_input_f64(&c, "dloss", cfg->dloss_len, GEN_1D, dloss);
    gen_invalid(&c, cfg->status);
    gen_case_end(&c);
}

static int gen_linear_cross_entropy(const char *dir)
{
    gen_file file;
    int status = 0;
    gen_file_init(&file, "linear_cross_entropy",
                  "spec/linear_cross_entropy.md#linear_cross_entropy");
    gen_note(&file, "ignored", "some targets equal ignore_index: their rows "
             "get loss 0 and D = 0, and, for the mean, do not count");
    gen_note(&file, "all_ignored", "every target equals ignore_index: dh "
             "and dE are 0 (the mean's loss is NaN)");
    gen_note(&file, "empty", "an empty batch (n = 0)");
    gen_note(&file, "masked_like", "logits near -8192 from a large negative "
             "embedding entry: probabilities below the double range");
    gen_note(&file, "confident", "targets with a probability close to 1: "
             "1 - y is small and must not be rounded away");
    gen_note(&file, "flat_tail", "a few dominant logits and a long tail of "
             "nearly equal ones");
    gen_note(&file, "chunk_boundary", "|V| one below, at or one above a "
             "chunk size in use (64, 128, 256), the last token a target");
    for (size_t i = 0; i < sizeof lce_configs / sizeof lce_configs[0] &&
                       status == 0; i++)
        status = lce_case(&file, &lce_configs[i], 1);
    for (size_t i = 0; i < sizeof lce_without_dE_cases / sizeof lce_without_dE_cases[0] &&
                       status == 0; i++) {
        lce_config cfg = lce_configs[lce_without_dE_cases[i].base];
        cfg.slug = lce_without_dE_cases[i].slug;
        cfg.comment = lce_without_dE_cases[i].comment;
        status = lce_case(&file, &cfg, 0);
    }
    for (size_t i = 0; i < sizeof lce_invalid_configs / sizeof lce_invalid_configs[0]; i++)
        lce_invalid(&file, &lce_invalid_configs[i]);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* The vector files this file writes (gen_ops.h). */
const gen_entry gen_linear_ce_files[] = {
    {"linear_cross_entropy", gen_linear_cross_entropy},
    {NULL, NULL},
};
