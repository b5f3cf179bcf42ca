/*
 * gen_grad_input.c -- cases for the backward ops of the input side
 * (spec/gradients.md):
 *
 * - embed_lookup_backward and pos_learned_backward, the scatter-adds: ids
 *   and positions that occur two and three times (their rows of dY must be
 *   added, not overwritten), ids and positions that do not occur (their rows
 *   must be exactly 0), repeats whose rows cancel, a permutation, a table of
 *   one row, an empty batch, 53-bit upstream gradients;
 * - layernorm_backward: random rows with gamma not 1 at widths 1, 3, 6 and 8,
 *   a constant row (zero variance), a large common offset (x = 1000 + a
 *   small spread), eps from 1e-12 to 1, gamma = 1, 53-bit rows.
 *
 * Bad input in every file: the forward op's invalid cases, derived from its
 * generator (tools/gen/gen_derive.c: bad ids or positions, an empty table,
 * d = 0, bad eps, gamma of the wrong length, non-finite x or gamma), then
 * the backward's own: an upstream gradient dY of the wrong shape (LMR_EDIM)
 * or with NaN or infinity (LMR_ENONFINITE).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_case.h"
#include "gen_derive.h"
#include "gen_grad.h"
#include "gen_ops.h"
#include "gen_random.h"
#include "oracle_grad.h"

/* ==== scatter-adds: embed_lookup_backward, pos_learned_backward ======== */

enum scatter_op { LOOKUP, POSITIONS };

#define MAX_N 6

/* One scatter case. The indices are hand-picked unless draw_index is set;
 * dY is drawn from seed (k/64, or 53-bit when full_precision) unless
 * hand_dY is given. */
typedef struct {
    const char *slug, *comment, *flag;
    size_t n, rows, d;            /* rows: |V| or max_len */
    int64_t index[MAX_N];         /* ids or positions (n) */
    int draw_index;               /* 1: indices uniform in [0, rows) after dY */
    const double *hand_dY;        /* (n, d) or NULL */
    int full_precision;
    unsigned long seed;
} scatter_config;

static const char *index_name(enum scatter_op op)
{
    return op == LOOKUP ? "ids" : "positions";
}

static const char *rows_param(enum scatter_op op)
{
    return op == LOOKUP ? "vocab" : "max_len";
}

/* dY (n, d) and the indices (n) of cfg, in a new array and index. */
static double *scatter_inputs(const scatter_config *cfg, int64_t *index)
{
    double *dY = calloc(cfg->n * cfg->d + 1, sizeof(double));
    gsl_rng *rng = gen_rng(cfg->seed);
    if (cfg->hand_dY)
        memcpy(dY, cfg->hand_dY, cfg->n * cfg->d * sizeof(double));
    else if (cfg->full_precision)
        gen_uniform53(rng, dY, cfg->n * cfg->d, -1.0, 1.0);
    else
        gen_dyadic(rng, dY, cfg->n * cfg->d, 6, 127);
    memcpy(index, cfg->index, sizeof cfg->index);
    if (cfg->draw_index)
        gen_ids(rng, index, cfg->n, cfg->rows);
    gsl_rng_free(rng);
    return dY;
}

static void scatter_source(gen_case *c, const scatter_config *cfg,
                           enum scatter_op op)
{
    if (cfg->hand_dY) {
        gen_flag(c, "edge");
        return;
    }
    gen_flag(c, "random");
    if (cfg->draw_index)
        gen_source(c, cfg->seed, op == LOOKUP
                   ? "dY: k/64, k uniform in [-127, 127]; then ids uniform "
                     "in [0, |V|)"
                   : "dY: k/64, k uniform in [-127, 127]; then positions "
                     "uniform in [0, max_len)");
    else
        gen_source(c, cfg->seed, cfg->full_precision
                   ? "dY: 53-bit uniform in [-1, 1); the indices are "
                     "hand-picked"
                   : "dY: k/64, k uniform in [-127, 127]; the indices are "
                     "hand-picked");
}

static int scatter_case(gen_file *file, enum scatter_op op,
                        const scatter_config *cfg)
{
    gen_case c;
    int64_t index[MAX_N];
    double *dY = scatter_inputs(cfg, index);
    oracle_out table = gen_grad_out_alloc(cfg->rows * cfg->d);
    int status = op == LOOKUP
        ? oracle_embed_lookup_backward(table, index, dY, cfg->n, cfg->rows,
                                       cfg->d)
        : oracle_pos_learned_backward(table, index, dY, cfg->n, cfg->rows,
                                      cfg->d);
    if (status == 0) {
        gen_case_begin(&c, file, cfg->slug, cfg->comment);
        scatter_source(&c, cfg, op);
        if (cfg->flag)
            gen_flag(&c, cfg->flag);
        gen_param_int(&c, rows_param(op), (int64_t)cfg->rows);
        gen_input_i64(&c, index_name(op), cfg->n, GEN_1D, index);
        gen_input_f64(&c, "dY", cfg->n, cfg->d, dY);
        gen_expect_grad(&c, op == LOOKUP ? "dE" : "dP", cfg->rows, cfg->d, table);
        gen_case_end(&c);
    } else {
        status = gen_oracle_failed(file->op, cfg->slug);
    }
    gen_grad_out_free(&table);
    free(dY);
    return status;
}

/* Two pairs of rows that cancel: dY[1] = -dY[0], dY[3] = -dY[2]. */
static const double cancelling_dY[4 * 3] = {
    0.5, -1.25, 2.0,   -0.5, 1.25, -2.0,
    0.75, 0.125, -3.0, -0.75, -0.125, 3.0};

static const scatter_config lookup_configs[] = {
    {"repeated-ids", "ids [3, 1, 3, 6, 3, 1]: token 3 occurs three times, "
     "token 1 twice (their rows of dY add up), tokens 0, 2, 4, 5, 7 not at "
     "all (rows of 0)", "repeated", 6, 8, 4, {3, 1, 3, 6, 3, 1}, 0, NULL, 0,
     30001},
    {"random-ids", "6 ids drawn from |V| = 10, d = 8", NULL, 6, 10, 8, {0}, 1,
     NULL, 0, 30002},
    {"permutation", "ids [4, 2, 0, 3, 1]: every token once, so dE is dY with "
     "its rows permuted", NULL, 5, 5, 3, {4, 2, 0, 3, 1}, 0, NULL, 0, 30003},
    {"one-id-everywhere", "ids [2, 2, 2, 2]: one row of dE is the column sums "
     "of dY, the other five are 0", "repeated", 4, 6, 3, {2, 2, 2, 2}, 0,
     NULL, 0, 30004},
    {"cancelling-repeats", "ids [0, 0, 2, 2] whose rows of dY cancel: dE is "
     "0 over the reals in rows 0 and 2 (and in row 1, absent)", "repeated",
     4, 3, 3, {0, 0, 2, 2}, 0, cancelling_dY, 0, 0},
    {"single-token-vocabulary", "|V| = 1: every id is 0", "repeated", 3, 1,
     4, {0, 0, 0}, 0, NULL, 0, 30006},
    {"full-precision", "53-bit dY, ids [5, 0, 5, 2, 0, 5]", "repeated", 6, 7,
     5, {5, 0, 5, 2, 0, 5}, 0, NULL, 1, 30007},
    {"empty-batch", "n = 0: dE is all 0", "empty", 0, 4, 3, {0}, 0, NULL, 0,
     30008},
};

static const scatter_config position_configs[] = {
    {"two-sequences", "positions [0, 1, 2, 0, 1, 2] (two sequences of 3 in "
     "one batch): rows 0-2 of dP add two rows of dY; rows 3 and 4 are 0",
     "repeated", 6, 5, 4, {0, 1, 2, 0, 1, 2}, 0, NULL, 0, 31001},
    {"three-sequences", "positions [0, 1, 0, 1, 0, 1]: each used three times; "
     "rows 2-5 of dP are 0", "repeated", 6, 6, 3, {0, 1, 0, 1, 0, 1}, 0, NULL,
     0, 31002},
    {"one-sequence", "positions 0..5 of a table of 8: dP is dY followed by "
     "two rows of 0", NULL, 6, 8, 4, {0, 1, 2, 3, 4, 5}, 0, NULL, 0, 31003},
    {"random-positions", "6 positions drawn from max_len = 7, d = 8", NULL,
     6, 7, 8, {0}, 1, NULL, 0, 31004},
    {"cancelling-repeats", "positions [0, 0, 2, 2] whose rows of dY cancel",
     "repeated", 4, 3, 3, {0, 0, 2, 2}, 0, cancelling_dY, 0, 0},
    {"max-len-one", "max_len = 1: every position is 0", "repeated", 3, 1, 4,
     {0, 0, 0}, 0, NULL, 0, 31006},
    {"full-precision", "53-bit dY, positions [0, 1, 2, 0, 1, 0]", "repeated",
     6, 4, 5, {0, 1, 2, 0, 1, 0}, 0, NULL, 1, 31007},
    {"empty-batch", "n = 0: dP is all 0", "empty", 0, 4, 3, {0}, 0, NULL, 0,
     31008},
};

/* A bad scatter case: indices (n_index), dY (dy_rows, dy_cols). */
static void scatter_invalid(gen_file *file, enum scatter_op op,
                            const char *slug, const char *comment,
                            int64_t table_rows, const int64_t *index,
                            size_t n_index, size_t dy_rows, size_t dy_cols,
                            double bad_value, const char *status_name)
{
    gen_case c;
    double dY[4 * 4];
    gsl_rng *rng = gen_rng(op == LOOKUP ? 30900 : 31900);
    gen_dyadic(rng, dY, 16, 6, 127);
    gsl_rng_free(rng);
    if (bad_value != 0.0)
        dY[1] = bad_value;
    gen_case_begin(&c, file, slug, comment);
    gen_flag(&c, "edge");
    gen_param_int(&c, rows_param(op), table_rows);
    gen_input_i64(&c, index_name(op), n_index, GEN_1D, index);
    gen_input_f64(&c, "dY", dy_rows, dy_cols, dY);
    gen_invalid(&c, status_name);
    gen_case_end(&c);
}

static void scatter_invalid_cases(gen_file *file, enum scatter_op op)
{
    static const int64_t good[3] = {0, 2, 2};
    int lookup = op == LOOKUP;
    scatter_invalid(file, op, "upstream-rows", lookup
                    ? "dY has 4 rows for 3 ids" : "dY has 4 rows for 3 positions",
                    4, good, 3, 4, 4, 0, "LMR_EDIM");
    scatter_invalid(file, op, "nan-in-upstream", "NaN in dY", 4, good, 3, 3,
                    4, NAN, "LMR_ENONFINITE");
    scatter_invalid(file, op, "inf-in-upstream", "-infinity in dY", 4, good,
                    3, 3, 4, -INFINITY, "LMR_ENONFINITE");
}

static int scatter_file(const char *dir, enum scatter_op op)
{
    gen_file file;
    int status = 0;
    const scatter_config *list = op == LOOKUP ? lookup_configs : position_configs;
    size_t count = op == LOOKUP
        ? sizeof lookup_configs / sizeof lookup_configs[0]
        : sizeof position_configs / sizeof position_configs[0];
    gen_file_init(&file, op == LOOKUP ? "embed_lookup_backward"
                                      : "pos_learned_backward",
                  op == LOOKUP ? "spec/gradients.md#embed_lookup_backward"
                               : "spec/gradients.md#pos_learned_backward");
    gen_note(&file, "repeated", op == LOOKUP
             ? "an id occurs several times: its rows of dY must be added "
               "(a loop that assigns keeps only the last)"
             : "a position occurs several times (several sequences in one "
               "batch): its rows of dY must be added");
    gen_note(&file, "empty", "an empty batch (n = 0)");
    for (size_t i = 0; i < count && status == 0; i++)
        status = scatter_case(&file, op, &list[i]);
    if (status == 0)
        status = gen_derive_invalid(&file);
    scatter_invalid_cases(&file, op);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

static int gen_embed_lookup_backward(const char *dir)
{
    return scatter_file(dir, LOOKUP);
}

static int gen_pos_learned_backward(const char *dir)
{
    return scatter_file(dir, POSITIONS);
}

/* ==== layernorm_backward =============================================== */

/* How the rows x are drawn. */
enum row_kind {
    ROWS_DYADIC,   /* k/64, |k| <= 127 */
    ROWS_FULL,     /* 53-bit uniform in [-1, 1) */
    ROWS_OFFSET,   /* 1000 + k/64, |k| <= 63: a large mean, a small spread */
    ROWS_CONSTANT  /* every entry 0.75 */
};

typedef struct {
    const char *slug, *comment, *flag;
    size_t n, d;
    double eps;
    enum row_kind rows;
    int unit_gamma; /* 1: gamma = 1; 0: drawn */
    unsigned long seed;
} ln_config;

static const char *ln_recipe(enum row_kind rows)
{
    switch (rows) {
    case ROWS_DYADIC:
        return "x: k/64, |k| <= 127; then gamma (unless 1): k/64, "
               "|k| <= 127; then dY: k/64, |k| <= 127";
    case ROWS_FULL:
        return "x: 53-bit uniform in [-1, 1); then gamma: k/64, |k| <= 127; "
               "then dY: 53-bit uniform in [-1, 1)";
    case ROWS_OFFSET:
        return "x: 1000 + k/64, |k| <= 63; then gamma: k/64, |k| <= 127; "
               "then dY: k/64, |k| <= 127";
    default:
        return "x: constant 0.75; then gamma: k/64, |k| <= 127; then dY: "
               "k/64, |k| <= 127";
    }
}

typedef struct {
    double *x;     /* (n, d) */
    double *gamma; /* (d) */
    double *dY;    /* (n, d) */
} ln_inputs;

/* Draws x, gamma and dY; with room_for_bad_shapes, gamma gets d + 1
 * entries and dY d more (for the invalid cases). */
static void ln_draw(ln_inputs *in, const ln_config *cfg,
                    int room_for_bad_shapes)
{
    size_t count = cfg->n * cfg->d, extra = room_for_bad_shapes ? 1 : 0;
    gsl_rng *rng = gen_rng(cfg->seed);
    in->x = calloc(count + 1, sizeof(double));
    in->gamma = calloc(cfg->d + 2, sizeof(double));
    in->dY = calloc(count + cfg->d + 1, sizeof(double)); /* room for a bad shape */
    if (cfg->rows == ROWS_FULL)
        gen_uniform53(rng, in->x, count, -1.0, 1.0);
    else if (cfg->rows != ROWS_CONSTANT)
        gen_dyadic(rng, in->x, count, 6, cfg->rows == ROWS_OFFSET ? 63 : 127);
    for (size_t i = 0; i < count; i++) {
        if (cfg->rows == ROWS_OFFSET)
            in->x[i] += 1000.0; /* exact: 1000 + k/64 needs 16 bits */
        else if (cfg->rows == ROWS_CONSTANT)
            in->x[i] = 0.75;
    }
    if (cfg->unit_gamma)
        for (size_t j = 0; j < cfg->d + extra; j++)
            in->gamma[j] = 1.0;
    else
        gen_dyadic(rng, in->gamma, cfg->d + extra, 6, 127);
    if (cfg->rows == ROWS_FULL)
        gen_uniform53(rng, in->dY, count + extra * cfg->d, -1.0, 1.0);
    else
        gen_dyadic(rng, in->dY, count + extra * cfg->d, 6, 127);
    gsl_rng_free(rng);
}

static void ln_free(ln_inputs *in)
{
    free(in->x);
    free(in->gamma);
    free(in->dY);
}

/* The fields of a case; gamma_len and dy_cols differ from d only when bad. */
static void ln_fields(gen_case *c, const ln_config *cfg, const ln_inputs *in,
                      size_t gamma_len, size_t dy_cols)
{
    gen_flag(c, "random");
    gen_source(c, cfg->seed, ln_recipe(cfg->rows));
    if (cfg->flag)
        gen_flag(c, cfg->flag);
    gen_param_double(c, "eps", cfg->eps);
    gen_input_f64(c, "x", cfg->n, cfg->d, in->x);
    gen_input_f64(c, "gamma", gamma_len, GEN_1D, in->gamma);
    gen_input_f64(c, "dY", cfg->n, dy_cols, in->dY);
}

/* Classes for the large offset: fp64 and fp32 hold 1000 + k/64 exactly;
 * bf16 and fp16 would round x to a multiple of 4 or 0.5, which changes
 * the row's spread by more than a first-order bound can describe. */
#define CLASSES_FP64_FP32 ((1u << 0) | (1u << 1))

static int ln_case(gen_file *file, const ln_config *cfg)
{
    ln_inputs in;
    gen_case c;
    size_t count = cfg->n * cfg->d;
    ln_draw(&in, cfg, 0);
    oracle_out dx = gen_grad_out_alloc(count), dgamma = gen_grad_out_alloc(cfg->d);
    oracle_out dbeta = gen_grad_out_alloc(cfg->d);
    int status = oracle_layernorm_backward(dx, dgamma, dbeta, in.x, in.gamma,
                                           in.dY, cfg->n, cfg->d, cfg->eps);
    if (status == 0) {
        gen_case_begin(&c, file, cfg->slug, cfg->comment);
        ln_fields(&c, cfg, &in, cfg->d, cfg->d);
        if (cfg->rows == ROWS_OFFSET)
            gen_restrict_classes(&c, CLASSES_FP64_FP32);
        gen_expect_grad(&c, "dx", cfg->n, cfg->d, dx);
        gen_expect_grad(&c, "dgamma", cfg->d, GEN_1D, dgamma);
        gen_expect_grad(&c, "dbeta", cfg->d, GEN_1D, dbeta);
        gen_case_end(&c);
    } else {
        status = gen_oracle_failed(file->op, cfg->slug);
    }
    gen_grad_out_free(&dx);
    gen_grad_out_free(&dgamma);
    gen_grad_out_free(&dbeta);
    ln_free(&in);
    return status;
}

static const ln_config ln_configs[] = {
    {"small-dyadic", "4 rows of width 6, gamma drawn (not 1)", NULL, 4, 6,
     1e-5, ROWS_DYADIC, 0, 32001},
    {"width-three", "3 rows of width 3: the smallest width where the "
     "variance's share is not a multiple of the mean's", NULL, 3, 3, 1e-5,
     ROWS_DYADIC, 0, 32002},
    {"width-eight", "2 rows of width 8", NULL, 2, 8, 1e-5, ROWS_DYADIC, 0,
     32003},
    {"eps-one", "eps = 1, comparable to the variance: eps inside the square "
     "root matters", NULL, 3, 5, 1.0, ROWS_DYADIC, 0, 32004},
    {"eps-quarter", "eps = 0.25", NULL, 3, 4, 0.25, ROWS_DYADIC, 0, 32005},
    {"eps-1e-12", "BERT's eps: r is 1/sigma to many digits", NULL, 3, 6,
     1e-12, ROWS_DYADIC, 0, 32006},
    {"unit-gamma", "gamma = 1: dx is the plain normalisation's gradient", NULL,
     3, 6, 1e-5, ROWS_DYADIC, 1, 32007},
    {"large-offset", "rows 1000 + k/64: the mean is far larger than the "
     "spread; a one-pass variance E[x^2] - mu^2 loses digits (fp64 and fp32 "
     "only)", "ill_conditioned", 3, 6, 1e-5, ROWS_OFFSET, 0, 32008},
    {"constant-rows", "every entry 0.75: z = 0, so dgamma = 0 and "
     "dx = r (g - mean g) with r = 1/sqrt(eps)", "degenerate", 2, 5, 1e-5,
     ROWS_CONSTANT, 0, 32009},
    {"width-one", "d = 1: z = 0 and dx = 0 over the reals", "degenerate", 3,
     1, 1e-5, ROWS_DYADIC, 0, 32010},
    {"full-precision", "53-bit x and dY, width 7", NULL, 3, 7, 1e-5,
     ROWS_FULL, 0, 32011},
    {"empty-batch", "n = 0: dgamma and dbeta are 0", "empty", 0, 4, 1e-5,
     ROWS_DYADIC, 0, 32012},
};

static const struct {
    const char *slug, *comment, *status;
    double eps;
    size_t gamma_len, dy_cols, d;
    int bad_at;      /* 0: none; 1: x[1]; 2: dY[2] */
    double bad_value;
} ln_invalid_configs[] = {
    {"upstream-shape", "dY is 2 x 5 for x of 2 x 4", "LMR_EDIM", 1e-5, 4, 5, 4,
     0, 0},
    {"nan-in-upstream", "NaN in dY", "LMR_ENONFINITE", 1e-5, 4, 4, 4, 2, NAN},
    {"inf-in-upstream", "+infinity in dY", "LMR_ENONFINITE", 1e-5, 4, 4, 4, 2,
     INFINITY},
};

static void ln_invalid_cases(gen_file *file)
{
    size_t count = sizeof ln_invalid_configs / sizeof ln_invalid_configs[0];
    for (size_t i = 0; i < count; i++) {
        ln_config cfg = {ln_invalid_configs[i].slug, ln_invalid_configs[i].comment,
                         NULL, 2, ln_invalid_configs[i].d,
                         ln_invalid_configs[i].eps, ROWS_DYADIC, 0, 32900};
        ln_inputs in;
        gen_case c;
        ln_draw(&in, &cfg, 1);
        if (ln_invalid_configs[i].bad_at == 1)
            in.x[1] = ln_invalid_configs[i].bad_value;
        else if (ln_invalid_configs[i].bad_at == 2)
            in.dY[2] = ln_invalid_configs[i].bad_value;
        gen_case_begin(&c, file, cfg.slug, cfg.comment);
        ln_fields(&c, &cfg, &in, ln_invalid_configs[i].gamma_len,
                  ln_invalid_configs[i].dy_cols);
        gen_invalid(&c, ln_invalid_configs[i].status);
        gen_case_end(&c);
        ln_free(&in);
    }
}

static int gen_layernorm_backward(const char *dir)
{
    gen_file file;
    int status = 0;
    size_t count = sizeof ln_configs / sizeof ln_configs[0];
    gen_file_init(&file, "layernorm_backward",
                  "spec/gradients.md#layernorm_backward");
    gen_note(&file, "ill_conditioned", "a large common offset and a small "
             "spread; the inputs need 16 significant bits, so the case "
             "applies to fp64 and fp32 only (rounding x to bf16 or fp16 "
             "would change the spread itself)");
    gen_note(&file, "degenerate", "rows with zero variance (a constant row, "
             "or d = 1): z = 0");
    gen_note(&file, "empty", "an empty batch (n = 0)");
    for (size_t i = 0; i < count && status == 0; i++)
        status = ln_case(&file, &ln_configs[i]);
    if (status == 0)
        status = gen_derive_invalid(&file);
    ln_invalid_cases(&file);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* The vector files this file writes (gen_ops.h). */
const gen_entry gen_grad_input_files[] = {
    {"embed_lookup_backward", gen_embed_lookup_backward},
    {"pos_learned_backward", gen_pos_learned_backward},
    {"layernorm_backward", gen_layernorm_backward},
    {NULL, NULL},
};
