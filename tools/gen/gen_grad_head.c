/*
 * gen_grad_head.c -- cases for the backward ops of the output side
 * (spec/gradients.md):
 *
 * - head_tied_backward, head_untied_backward: random heads, a square case
 *   (n = |V| = d, so a transposed product has the right shape and only its
 *   values can tell), an upstream gradient that is 0 in whole columns (those
 *   rows of dE, columns of dW and entries of db are exactly 0), one row, one
 *   token, 53-bit inputs, an empty batch;
 * - softmax_backward, log_softmax_backward (the same rows): tau 1, 0.5, 2
 *   and 0.7 (not dyadic), masked (-inf) logits (the log-softmax's upstream
 *   gradient is 0 there), rows with a tie for the maximum, a constant
 *   upstream gradient, one token, 53-bit inputs, an empty batch; every case
 *   has the dtau output;
 * - cross_entropy_backward: all three reductions, ignored targets with the
 *   default -100 and with ignore_index = -1, the mean over fewer counted rows
 *   than rows, every target ignored (zeros, also for the mean), masked
 *   non-target logits, dloss other than 1 (and per-row dloss for "none",
 *   non-zero on ignored rows too), one token, 53-bit logits.
 *
 * Bad input in every file: the forward op's invalid cases, derived from its
 * generator (tools/gen/gen_derive.c), then the backward's own: an upstream
 * gradient of the wrong shape (LMR_EDIM) or with NaN or infinity
 * (LMR_ENONFINITE), a counted target whose logit is -inf, log-softmax's
 * non-zero upstream gradient at a masked logit.
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

/* ==== head_tied_backward, head_untied_backward ========================= */

typedef struct {
    const char *slug, *comment, *flag;
    size_t n, vocab, d;
    int sparse_upstream; /* 1: dlogits is 0 in every column v with v % 3 != 1 */
    int full_precision;
    unsigned long seed;
} head_config;

static const head_config head_configs[] = {
    {"small-dyadic", "3 rows, |V| = 10, d = 8", NULL, 3, 10, 8, 0, 0, 33001},
    {"square", "n = |V| = d = 4: a product taken in the wrong orientation has "
     "the right shape, only its values are wrong", NULL, 4, 4, 4, 0, 0, 33002},
    {"sparse-upstream", "dlogits is 0 in columns 0, 2, 3, 5: the weight's "
     "gradient is exactly 0 for those tokens", "sparse_upstream", 4, 6, 4, 1,
     0, 33003},
    {"single-row", "n = 1", NULL, 1, 5, 3, 0, 0, 33004},
    {"single-token", "|V| = 1", NULL, 3, 1, 4, 0, 0, 33005},
    {"full-precision", "53-bit inputs, |V| = 7, d = 6", NULL, 3, 7, 6, 0, 1,
     33006},
    {"empty-batch", "n = 0: dh is empty, the weight's gradient is 0", "empty",
     0, 4, 3, 0, 0, 33007},
};

/* h (n, d), the weight (vocab, d) for E or (d, vocab) for W, dlogits (n,
 * vocab), drawn in that order. */
typedef struct {
    double *h, *weight, *dU;
} head_inputs;

static head_inputs head_draw(const head_config *cfg)
{
    gsl_rng *rng = gen_rng(cfg->seed);
    head_inputs in;
    in.h = gen_draw_values(rng, cfg->n * cfg->d, cfg->full_precision);
    in.weight = gen_draw_values(rng, cfg->vocab * cfg->d, cfg->full_precision);
    in.dU = gen_draw_values(rng, cfg->n * cfg->vocab, cfg->full_precision);
    gsl_rng_free(rng);
    for (size_t t = 0; cfg->sparse_upstream && t < cfg->n; t++)
        for (size_t v = 0; v < cfg->vocab; v++)
            if (v % 3 != 1)
                in.dU[t * cfg->vocab + v] = 0.0;
    return in;
}

static void head_free(head_inputs *in)
{
    free(in->h);
    free(in->weight);
    free(in->dU);
}

static const char *head_recipe(const head_config *cfg, int untied)
{
    if (cfg->full_precision)
        return untied ? "h, W, dlogits in that order: 53-bit uniform in [-1, 1)"
                      : "h, E, dlogits in that order: 53-bit uniform in [-1, 1)";
    return untied ? "h, W, dlogits in that order: k/64, |k| <= 127"
                  : "h, E, dlogits in that order: k/64, |k| <= 127";
}

static void head_fields(gen_case *c, const head_config *cfg,
                        const head_inputs *in, int untied)
{
    gen_flag(c, "random");
    gen_source(c, cfg->seed, head_recipe(cfg, untied));
    if (cfg->flag)
        gen_flag(c, cfg->flag);
    gen_input_f64(c, "h", cfg->n, cfg->d, in->h);
    if (untied)
        gen_input_f64(c, "W", cfg->d, cfg->vocab, in->weight);
    else
        gen_input_f64(c, "E", cfg->vocab, cfg->d, in->weight);
    gen_input_f64(c, "dlogits", cfg->n, cfg->vocab, in->dU);
}

static int head_case(gen_file *file, const head_config *cfg, int untied)
{
    gen_case c;
    head_inputs in = head_draw(cfg);
    size_t n = cfg->n, vocab = cfg->vocab, d = cfg->d;
    oracle_out dh = gen_grad_out_alloc(n * d);
    oracle_out dweight = gen_grad_out_alloc(vocab * d);
    oracle_out db = gen_grad_out_alloc(vocab);
    int status = untied
        ? oracle_head_untied_backward(dh, dweight, db, in.h, in.weight, in.dU,
                                      n, vocab, d)
        : oracle_head_tied_backward(dh, dweight, in.h, in.weight, in.dU, n,
                                    vocab, d);
    if (status == 0) {
        gen_case_begin(&c, file, cfg->slug, cfg->comment);
        head_fields(&c, cfg, &in, untied);
        gen_expect_grad(&c, "dh", n, d, dh);
        if (untied) {
            gen_expect_grad(&c, "dW", d, vocab, dweight);
            gen_expect_grad(&c, "db", vocab, GEN_1D, db);
        } else {
            gen_expect_grad(&c, "dE", vocab, d, dweight);
        }
        gen_case_end(&c);
    } else {
        status = gen_oracle_failed(file->op, cfg->slug);
    }
    gen_grad_out_free(&dh);
    gen_grad_out_free(&dweight);
    gen_grad_out_free(&db);
    head_free(&in);
    return status;
}

/* A bad head case: h (n, h_width), the weight (rows, cols), dlogits
 * (du_rows, du_cols); bad_value (if not 0) goes into element 1 of the array
 * named by bad_in (0: h, 1: weight, 2: dlogits). */
typedef struct {
    const char *slug, *comment, *status;
    size_t n, h_width, rows, cols, du_rows, du_cols;
    int bad_in;
    double bad_value;
} head_invalid_config;

static void head_invalid(gen_file *file, const head_invalid_config *cfg,
                         int untied)
{
    head_config base = {cfg->slug, cfg->comment, NULL, 4, 4, 4, 0, 0, 33900};
    head_inputs in = head_draw(&base); /* 16 values each, enough for all */
    double *arrays[3] = {in.h, in.weight, in.dU};
    gen_case c;
    if (cfg->bad_value != 0.0)
        arrays[cfg->bad_in][1] = cfg->bad_value;
    gen_case_begin(&c, file, cfg->slug, cfg->comment);
    gen_flag(&c, "random");
    gen_source(&c, base.seed, head_recipe(&base, untied));
    gen_input_f64(&c, "h", cfg->n, cfg->h_width, in.h);
    gen_input_f64(&c, untied ? "W" : "E", cfg->rows, cfg->cols, in.weight);
    gen_input_f64(&c, "dlogits", cfg->du_rows, cfg->du_cols, in.dU);
    gen_invalid(&c, cfg->status);
    gen_case_end(&c);
    head_free(&in);
}

static void head_invalid_cases(gen_file *file, int untied)
{
    /* Shapes for n = 2, d = 3, |V| = 4: E is (4, 3), W is (3, 4). */
    size_t r = untied ? 3 : 4, k = untied ? 4 : 3;
    const head_invalid_config list[] = {
        {"upstream-columns", "dlogits is 2 x 5 for |V| = 4", "LMR_EDIM",
         2, 3, r, k, 2, 5, 0, 0},
        {"upstream-rows", "dlogits has 3 rows for 2 rows of h", "LMR_EDIM",
         2, 3, r, k, 3, 4, 0, 0},
        {"nan-in-upstream", "NaN in dlogits", "LMR_ENONFINITE",
         2, 3, r, k, 2, 4, 2, NAN},
        {"inf-in-upstream", "+infinity in dlogits", "LMR_ENONFINITE",
         2, 3, r, k, 2, 4, 2, INFINITY},
    };
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++)
        head_invalid(file, &list[i], untied);
}

static int head_file(const char *dir, int untied)
{
    gen_file file;
    int status = 0;
    gen_file_init(&file, untied ? "head_untied_backward" : "head_tied_backward",
                  untied ? "spec/gradients.md#head_untied_backward"
                         : "spec/gradients.md#head_tied_backward");
    gen_note(&file, "sparse_upstream", "the upstream gradient is 0 in whole "
             "columns: the tokens of those columns get an exact 0");
    gen_note(&file, "empty", "an empty batch (n = 0)");
    for (size_t i = 0; i < sizeof head_configs / sizeof head_configs[0] &&
                       status == 0; i++)
        status = head_case(&file, &head_configs[i], untied);
    if (status == 0)
        status = gen_derive_invalid(&file);
    head_invalid_cases(&file, untied);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

static int gen_head_tied_backward(const char *dir)
{
    return head_file(dir, 0);
}

static int gen_head_untied_backward(const char *dir)
{
    return head_file(dir, 1);
}

/* ==== softmax_backward, log_softmax_backward =========================== */

#define MAX_ROW 6

/* Rows of logits: drawn (k/16, |k| <= 255, or 53-bit in [-10, 10)) when
 * hand_rows is 0, else the hand-written ones. The upstream gradient is
 * drawn (k/64, |k| <= 127, or 53-bit in [-1, 1)), then constant per row
 * when constant_upstream; in the log-softmax it is set to 0 where the logit
 * is -inf. */
typedef struct {
    const char *slug, *comment, *flag;
    size_t n, vocab;
    double tau;
    int hand_rows;
    double logits[3][MAX_ROW];
    int constant_upstream;
    int full_precision;
    unsigned long seed;
} rows_config;

static const rows_config rows_configs[] = {
    {"random-tau-one", "3 rows of 6 logits k/16, tau = 1", NULL, 3, 6, 1.0,
     0, {{0}}, 0, 0, 34001},
    {"random-tau-half", "tau = 0.5: dlogits is (1/tau) times the shape-1 "
     "gradient at u/tau", "temperature", 3, 6, 0.5, 0, {{0}}, 0, 0, 34002},
    {"random-tau-two", "tau = 2", "temperature", 3, 6, 2.0, 0, {{0}}, 0, 0,
     34003},
    {"random-tau-decimal", "tau = 0.7, not a dyadic number", "temperature",
     3, 6, 0.7, 0, {{0}}, 0, 0, 34004},
    {"masked", "-inf entries: dlogits is 0 there and they add nothing to dtau",
     "masked", 3, 5, 1.0, 1,
     {{-INFINITY, 1.0, 0.5, -INFINITY, -2.0},
      {0.25, -INFINITY, -INFINITY, -INFINITY, -INFINITY},
      {2.0, -1.5, -INFINITY, 0.75, 0.0}}, 0, 0, 34005},
    {"masked-temperature", "masked entries with tau = 0.7", "masked", 2, 5,
     0.7, 1,
     {{-INFINITY, 1.0, 0.5, -INFINITY, -2.0},
      {2.0, -1.5, -INFINITY, 0.75, 0.0}}, 0, 0, 34006},
    {"tied-maximum", "rows whose maximum occurs twice (and a uniform row): "
     "the shift's choice must not matter", "ties", 3, 4, 1.0, 1,
     {{2.0, -1.0, 2.0, 0.5}, {0.25, 0.25, 0.25, 0.25}, {-3.0, 1.5, 1.5, 1.5}},
     0, 0, 34007},
    {"tied-maximum-tau-half", "a tie for the maximum with tau = 0.5", "ties",
     2, 4, 0.5, 1, {{2.0, -1.0, 2.0, 0.5}, {-3.0, 1.5, 1.5, 1.0}}, 0, 0,
     34008},
    {"constant-upstream", "the upstream gradient is constant in each row: "
     "softmax's dlogits is 0 over the reals, log-softmax's is not",
     "constant_upstream", 3, 6, 1.0, 0, {{0}}, 1, 0, 34009},
    {"single-token", "|V| = 1: dlogits and dtau are 0 over the reals", NULL,
     2, 1, 1.5, 1, {{3.5}, {-2.0}}, 0, 0, 34010},
    {"full-precision", "53-bit logits in [-10, 10) and upstream gradients, "
     "tau = 1.3", "temperature", 3, 6, 1.3, 0, {{0}}, 0, 1, 34011},
    {"empty-batch", "n = 0: dtau is 0", "empty", 0, 4, 1.0, 0, {{0}}, 0, 0,
     34012},
};

typedef struct {
    double *logits, *G; /* (n, vocab) each */
} rows_inputs;

static rows_inputs rows_draw(const rows_config *cfg, int take_log)
{
    size_t n = cfg->n, vocab = cfg->vocab;
    gsl_rng *rng = gen_rng(cfg->seed);
    rows_inputs in = {calloc(n * vocab + 1, sizeof(double)), NULL};
    if (cfg->hand_rows)
        for (size_t t = 0; t < n; t++)
            memcpy(in.logits + t * vocab, cfg->logits[t], vocab * sizeof(double));
    else if (cfg->full_precision)
        gen_uniform53(rng, in.logits, n * vocab, -10.0, 10.0);
    else
        gen_dyadic(rng, in.logits, n * vocab, 4, 255);
    in.G = gen_draw_values(rng, n * vocab, cfg->full_precision);
    gsl_rng_free(rng);
    for (size_t i = 0; i < n * vocab; i++) {
        if (cfg->constant_upstream)
            in.G[i] = in.G[i - i % vocab]; /* the row's first value */
        if (take_log && in.logits[i] == -INFINITY)
            in.G[i] = 0.0;
    }
    return in;
}

static void rows_free(rows_inputs *in)
{
    free(in->logits);
    free(in->G);
}

static const char *rows_recipe(const rows_config *cfg, int take_log)
{
    if (cfg->full_precision)
        return take_log ? "logits: 53-bit uniform in [-10, 10); then "
                          "dlogprobs: 53-bit uniform in [-1, 1)"
                        : "logits: 53-bit uniform in [-10, 10); then dprobs: "
                          "53-bit uniform in [-1, 1)";
    if (cfg->hand_rows)
        return take_log ? "logits hand-written; dlogprobs: k/64, |k| <= 127, "
                          "then 0 where the logit is -inf"
                        : "logits hand-written; dprobs: k/64, |k| <= 127";
    if (cfg->constant_upstream)
        return take_log ? "logits: k/16, |k| <= 255; then dlogprobs: k/64, "
                          "|k| <= 127, each row's first value repeated"
                        : "logits: k/16, |k| <= 255; then dprobs: k/64, "
                          "|k| <= 127, each row's first value repeated";
    return take_log ? "logits: k/16, |k| <= 255; then dlogprobs: k/64, |k| <= 127"
                    : "logits: k/16, |k| <= 255; then dprobs: k/64, |k| <= 127";
}

static int rows_case(gen_file *file, const rows_config *cfg, int take_log)
{
    gen_case c;
    size_t n = cfg->n, vocab = cfg->vocab;
    rows_inputs in = rows_draw(cfg, take_log);
    oracle_out dlogits = gen_grad_out_alloc(n * vocab), dtau = gen_grad_out_alloc(1);
    int status = oracle_softmax_backward(dlogits, dtau, in.logits, in.G, n,
                                         vocab, cfg->tau, take_log);
    if (status == 0) {
        gen_case_begin(&c, file, cfg->slug, cfg->comment);
        gen_flag(&c, "random");
        gen_source(&c, cfg->seed, rows_recipe(cfg, take_log));
        if (cfg->flag)
            gen_flag(&c, cfg->flag);
        gen_param_double(&c, "tau", cfg->tau);
        gen_input_f64(&c, "logits", n, vocab, in.logits);
        gen_input_f64(&c, take_log ? "dlogprobs" : "dprobs", n, vocab, in.G);
        gen_expect_grad(&c, "dlogits", n, vocab, dlogits);
        gen_expect_grad(&c, "dtau", 1, GEN_1D, dtau);
        gen_case_end(&c);
    } else {
        status = gen_oracle_failed(file->op, cfg->slug);
    }
    gen_grad_out_free(&dlogits);
    gen_grad_out_free(&dtau);
    rows_free(&in);
    return status;
}

/* A bad rows case: logits (2, 3) with a good first row and `row` second;
 * the upstream gradient (2, g_cols) is 0.5 everywhere except bad_g at [1][0]. */
typedef struct {
    const char *slug, *comment, *status;
    double tau;
    double row[3];
    size_t g_cols;
    double bad_g;
    int log_only;
} rows_invalid_config;

static const rows_invalid_config rows_invalid_configs[] = {
    {"upstream-shape", "the upstream gradient is 2 x 4 for 2 x 3 logits",
     "LMR_EDIM", 1.0, {0.0, 0.5, 1.0}, 4, 0.5, 0},
    {"nan-in-upstream", "NaN in the upstream gradient", "LMR_ENONFINITE", 1.0,
     {0.0, 0.5, 1.0}, 3, NAN, 0},
    {"inf-in-upstream", "+infinity in the upstream gradient", "LMR_ENONFINITE",
     1.0, {0.0, 0.5, 1.0}, 3, INFINITY, 0},
    {"upstream-at-masked", "dlogprobs = 0.5 at a masked logit: no finite loss "
     "depends on that output", "LMR_EDOMAIN", 1.0, {-INFINITY, 0.5, 1.0}, 3,
     0.5, 1},
    {"upstream-at-masked-temperature", "tau = 2, dlogprobs = 0.5 at the "
     "masked middle logit", "LMR_EDOMAIN", 2.0, {0.5, -INFINITY, 1.0}, 3,
     -1.0, 1},
};

static void rows_invalid(gen_file *file, const rows_invalid_config *cfg,
                         int take_log)
{
    gen_case c;
    double logits[6] = {1.0, 2.0, 3.0, 0, 0, 0};
    double G[8] = {0.5, -0.25, 0.125, 0.5, 0.5, 0.5, 0.5, 0.5};
    memcpy(logits + 3, cfg->row, sizeof cfg->row);
    G[cfg->g_cols] = cfg->bad_g; /* row 1, column 0 */
    for (size_t j = 1; cfg->bad_g == 0.0 && j < cfg->g_cols; j++)
        G[cfg->g_cols + j] = 0.0; /* all-masked: 0 upstream on the whole row */
    gen_case_begin(&c, file, cfg->slug, cfg->comment);
    gen_flag(&c, "edge");
    gen_param_double(&c, "tau", cfg->tau);
    gen_input_f64(&c, "logits", 2, 3, logits);
    gen_input_f64(&c, take_log ? "dlogprobs" : "dprobs", 2, cfg->g_cols, G);
    gen_invalid(&c, cfg->status);
    gen_case_end(&c);
}

static int rows_file(const char *dir, int take_log)
{
    gen_file file;
    int status = 0;
    gen_file_init(&file, take_log ? "log_softmax_backward" : "softmax_backward",
                  take_log ? "spec/gradients.md#log_softmax_backward"
                           : "spec/gradients.md#softmax_backward");
    gen_note(&file, "temperature", "a temperature other than 1");
    gen_note(&file, "masked", take_log
             ? "-inf logits (masked tokens), with upstream gradient 0 there"
             : "-inf logits (masked tokens); the upstream gradient there is "
               "not 0 and must have no effect");
    gen_note(&file, "ties", "the row maximum occurs more than once");
    gen_note(&file, "constant_upstream", "the upstream gradient is the same "
             "in every entry of a row");
    gen_note(&file, "empty", "an empty batch (n = 0)");
    for (size_t i = 0; i < sizeof rows_configs / sizeof rows_configs[0] &&
                       status == 0; i++)
        status = rows_case(&file, &rows_configs[i], take_log);
    if (status == 0)
        status = gen_derive_invalid(&file);
    for (size_t i = 0; i < sizeof rows_invalid_configs / sizeof rows_invalid_configs[0]; i++)
        if (take_log || !rows_invalid_configs[i].log_only)
            rows_invalid(&file, &rows_invalid_configs[i], take_log);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

static int gen_softmax_backward(const char *dir)
{
    return rows_file(dir, 0);
}

static int gen_log_softmax_backward(const char *dir)
{
    return rows_file(dir, 1);
}

/* ==== cross_entropy_backward =========================================== */

static const char *const reduction_names[] = {"none", "sum", "mean"};

#define CE_N 6

/* Logits are hand-written (hand_logits) or drawn (k/16, |k| <= 255, or
 * 53-bit in [-10, 10)); targets hand-written or drawn in [0, |V|) with
 * `ignored_rows` of them then set to ignore_index; dloss is `dloss` for
 * sum and mean, drawn (k/64, |k| <= 127) per row for none. */
typedef struct {
    const char *slug, *comment, *flag;
    size_t n, vocab;
    const double *hand_logits;  /* (n, vocab) or NULL */
    const int64_t *hand_targets; /* (n) or NULL */
    int ignored_rows;           /* drawn targets: rows 1 and 4, or none */
    int64_t ignore_index;
    enum oracle_reduction reduction;
    double dloss;
    int full_precision;
    unsigned long seed;
} ce_config;

static const double masked_logits[4 * 5] = {
    -INFINITY, 1.0, 0.5, -INFINITY, -2.0,
    0.25, -INFINITY, 3.0, -INFINITY, 1.0,
    2.0, -1.5, -INFINITY, 0.75, 0.0,
    -INFINITY, -INFINITY, 1.5, -0.5, -INFINITY};
static const int64_t masked_targets[4] = {1, 2, -100, 3};
static const int64_t all_ignored[4] = {-100, -100, -100, -100};
static const int64_t custom_targets[5] = {0, -1, 2, -1, 4};
static const double small_logits[4 * 5] = {
    2.0, 1.0, 0.5, -1.0, 0.0,
    0.0, 0.0, 0.0, 0.0, 0.0,
    -3.0, 1.5, 1.5, 0.25, 2.0,
    0.5, -0.5, 1.0, -1.0, 0.125};
static const int64_t small_targets[4] = {0, 3, 2, 4};
static const double one_token_logits[3] = {1.5, -2.0, 0.0};
static const int64_t one_token_targets[3] = {0, -100, 0};

static const ce_config ce_configs[] = {
    {"random-none", "6 rows, |V| = 10, rows 1 and 4 ignored (-100); dloss per "
     "row, not 0 on the ignored rows (they must still get 0)", "ignored",
     CE_N, 10, NULL, NULL, 1, -100, ORACLE_REDUCE_NONE, 0, 0, 35001},
    {"random-sum", "rows 1 and 4 ignored; dloss = 0.75", "ignored", CE_N, 10,
     NULL, NULL, 1, -100, ORACLE_REDUCE_SUM, 0.75, 0, 35002},
    {"random-mean", "rows 1 and 4 ignored: the mean divides by the 4 counted "
     "rows, not by 6; dloss = 1", "ignored", CE_N, 10, NULL, NULL, 1, -100,
     ORACLE_REDUCE_MEAN, 1.0, 0, 35003},
    {"random-mean-scaled", "rows 1 and 4 ignored; dloss = -2.5", "ignored",
     CE_N, 10, NULL, NULL, 1, -100, ORACLE_REDUCE_MEAN, -2.5, 0, 35004},
    {"mean-nothing-ignored", "every row counted, dloss = 1", NULL, CE_N, 8,
     NULL, NULL, 0, -100, ORACLE_REDUCE_MEAN, 1.0, 0, 35005},
    {"sum-dloss-one", "the plain summed loss", NULL, 4, 5, small_logits,
     small_targets, 0, -100, ORACLE_REDUCE_SUM, 1.0, 0, 35006},
    {"custom-ignore-index", "ignore_index = -1: rows 1 and 3 ignored, the "
     "mean over the other 3; dloss = 0.5", "ignored", 5, 5, NULL,
     custom_targets, 0, -1, ORACLE_REDUCE_MEAN, 0.5, 0, 35007},
    {"custom-ignore-index-none", "ignore_index = -1 with reduction none",
     "ignored", 5, 5, NULL, custom_targets, 0, -1, ORACLE_REDUCE_NONE, 0, 0,
     35008},
    {"mean-all-ignored", "every target ignored: the forward mean is NaN (0/0) "
     "but no row contributes, so dlogits is 0", "all_ignored", 4, 5,
     small_logits, all_ignored, 0, -100, ORACLE_REDUCE_MEAN, 1.0, 0, 35009},
    {"sum-all-ignored", "every target ignored: dlogits is 0", "all_ignored",
     4, 5, small_logits, all_ignored, 0, -100, ORACLE_REDUCE_SUM, 1.5, 0,
     35010},
    {"none-all-ignored", "every target ignored, dloss not 0: dlogits is 0",
     "all_ignored", 4, 5, small_logits, all_ignored, 0, -100,
     ORACLE_REDUCE_NONE, 0, 0, 35011},
    {"masked-non-target", "-inf at non-target logits: their gradient is 0; "
     "row 2 ignored; mean with dloss = 2", "masked", 4, 5, masked_logits,
     masked_targets, 0, -100, ORACLE_REDUCE_MEAN, 2.0, 0, 35012},
    {"masked-non-target-none", "the masked rows with reduction none",
     "masked", 4, 5, masked_logits, masked_targets, 0, -100,
     ORACLE_REDUCE_NONE, 0, 0, 35013},
    {"single-token", "|V| = 1: y = 1 at the target, so dlogits is 0 over the "
     "reals", NULL, 3, 1, one_token_logits, one_token_targets, 0, -100,
     ORACLE_REDUCE_MEAN, 1.0, 0, 35014},
    {"full-precision", "53-bit logits in [-10, 10), rows 1 and 4 ignored, "
     "mean, dloss = 1", "ignored", CE_N, 9, NULL, NULL, 1, -100,
     ORACLE_REDUCE_MEAN, 1.0, 1, 35015},
    {"mean-all-ignored-random", "every target ignored, random logits, "
     "dloss = -1.5: still every dlogits entry is 0", "all_ignored", 4, 6, NULL,
     all_ignored, 0, -100, ORACLE_REDUCE_MEAN, -1.5, 0, 35016},
};

typedef struct {
    double *logits;   /* (n, vocab) */
    int64_t targets[CE_N];
    double dloss[CE_N];
} ce_inputs;

static ce_inputs ce_draw(const ce_config *cfg)
{
    size_t n = cfg->n, vocab = cfg->vocab;
    gsl_rng *rng = gen_rng(cfg->seed);
    ce_inputs in;
    in.logits = calloc(n * vocab + 1, sizeof(double));
    if (cfg->hand_logits)
        memcpy(in.logits, cfg->hand_logits, n * vocab * sizeof(double));
    else if (cfg->full_precision)
        gen_uniform53(rng, in.logits, n * vocab, -10.0, 10.0);
    else
        gen_dyadic(rng, in.logits, n * vocab, 4, 255);
    if (cfg->hand_targets)
        memcpy(in.targets, cfg->hand_targets, n * sizeof(int64_t));
    else
        gen_ids(rng, in.targets, n, vocab);
    if (cfg->ignored_rows) {
        in.targets[1] = cfg->ignore_index;
        in.targets[4] = cfg->ignore_index;
    }
    if (cfg->reduction == ORACLE_REDUCE_NONE)
        gen_dyadic(rng, in.dloss, n, 6, 127);
    else
        in.dloss[0] = cfg->dloss;
    gsl_rng_free(rng);
    return in;
}

static const char *ce_recipe(const ce_config *cfg)
{
    int none = cfg->reduction == ORACLE_REDUCE_NONE;
    if (cfg->hand_logits)
        return none ? "logits and targets hand-written; dloss: k/64, "
                      "|k| <= 127"
                    : "logits, targets and dloss hand-written";
    if (cfg->hand_targets)
        return none ? "logits: k/16, |k| <= 255; targets hand-written; "
                      "then dloss: k/64, |k| <= 127"
                    : "logits: k/16, |k| <= 255; targets and dloss "
                      "hand-written";
    if (cfg->full_precision)
        return "logits: 53-bit uniform in [-10, 10); then targets uniform in "
               "[0, |V|), rows 1 and 4 set to ignore_index";
    if (cfg->ignored_rows)
        return none ? "logits: k/16, |k| <= 255; then targets uniform in "
                      "[0, |V|), rows 1 and 4 set to ignore_index; then "
                      "dloss: k/64, |k| <= 127"
                    : "logits: k/16, |k| <= 255; then targets uniform in "
                      "[0, |V|), rows 1 and 4 set to ignore_index";
    return "logits: k/16, |k| <= 255; then targets uniform in [0, |V|)";
}

static int ce_case(gen_file *file, const ce_config *cfg)
{
    gen_case c;
    size_t n = cfg->n, vocab = cfg->vocab;
    size_t dloss_len = cfg->reduction == ORACLE_REDUCE_NONE ? n : 1;
    ce_inputs in = ce_draw(cfg);
    oracle_out dlogits = gen_grad_out_alloc(n * vocab);
    int status = oracle_cross_entropy_backward(dlogits, in.logits, in.targets,
                                               in.dloss, n, vocab,
                                               cfg->reduction,
                                               cfg->ignore_index);
    if (status == 0) {
        gen_case_begin(&c, file, cfg->slug, cfg->comment);
        gen_flag(&c, "random");
        gen_source(&c, cfg->seed, ce_recipe(cfg));
        if (cfg->flag)
            gen_flag(&c, cfg->flag);
        gen_param_string(&c, "reduction", reduction_names[cfg->reduction]);
        gen_param_int(&c, "ignore_index", cfg->ignore_index);
        gen_input_f64(&c, "logits", n, vocab, in.logits);
        gen_input_i64(&c, "targets", n, GEN_1D, in.targets);
        gen_input_f64(&c, "dloss", dloss_len, GEN_1D, in.dloss);
        gen_expect_grad(&c, "dlogits", n, vocab, dlogits);
        gen_case_end(&c);
    } else {
        status = gen_oracle_failed(file->op, cfg->slug);
    }
    gen_grad_out_free(&dlogits);
    free(in.logits);
    return status;
}

/* A bad case on logits (2, 3): one row's entries replaced by `row` (if
 * replace_row), targets (n_targets), dloss (dloss_len). */
typedef struct {
    const char *slug, *comment, *status;
    const char *reduction;
    int64_t ignore_index;
    int64_t targets[3];
    size_t n_targets;
    double dloss[2];
    size_t dloss_len;
    int replace_row;
    double row[3];
} ce_invalid_config;

static const ce_invalid_config ce_invalid_configs[] = {
    {"upstream-length-none", "reduction none with 1 dloss for 2 rows",
     "LMR_EDIM", "none", -100, {0, 1}, 2, {1.0}, 1, 0, {0}},
    {"upstream-length-sum", "reduction sum with 2 dloss entries", "LMR_EDIM",
     "sum", -100, {0, 1}, 2, {1.0, 1.0}, 2, 0, {0}},
    {"nan-in-upstream", "dloss NaN", "LMR_ENONFINITE", "mean", -100, {0, 1},
     2, {NAN}, 1, 0, {0}},
    {"inf-in-upstream", "dloss +infinity", "LMR_ENONFINITE", "sum", -100,
     {0, 1}, 2, {INFINITY}, 1, 0, {0}},
    {"masked-target", "a counted target whose logit is -inf: infinite loss, "
     "no gradient", "LMR_EDOMAIN", "mean", -100, {0, 1}, 2, {1.0}, 1, 1,
     {0.5, -INFINITY, 1.0}},
    {"masked-target-sum", "reduction sum, the second row's target masked: "
     "no gradient", "LMR_EDOMAIN", "sum", -100, {0, 2}, 2, {1.0}, 1, 1,
     {0.5, 1.0, -INFINITY}},
};

static void ce_invalid(gen_file *file, const ce_invalid_config *cfg)
{
    gen_case c;
    double logits[6] = {2.0, 1.0, 0.5, -1.0, 0.0, 3.0};
    if (cfg->replace_row)
        memcpy(logits + 3, cfg->row, sizeof cfg->row);
    gen_case_begin(&c, file, cfg->slug, cfg->comment);
    gen_flag(&c, "edge");
    gen_param_string(&c, "reduction", cfg->reduction);
    gen_param_int(&c, "ignore_index", cfg->ignore_index);
    gen_input_f64(&c, "logits", 2, 3, logits);
    gen_input_i64(&c, "targets", cfg->n_targets, GEN_1D, cfg->targets);
    gen_input_f64(&c, "dloss", cfg->dloss_len, GEN_1D, cfg->dloss);
    gen_invalid(&c, cfg->status);
    gen_case_end(&c);
}

static int gen_cross_entropy_backward(const char *dir)
{
    gen_file file;
    int status = 0;
    gen_file_init(&file, "cross_entropy_backward",
                  "spec/gradients.md#cross_entropy_backward");
    gen_note(&file, "ignored", "some targets equal ignore_index: their rows "
             "get 0 and, for the mean, do not count");
    gen_note(&file, "all_ignored", "every target equals ignore_index: "
             "dlogits is 0 (also for the mean)");
    gen_note(&file, "masked", "-inf logits other than the target: gradient 0");
    for (size_t i = 0; i < sizeof ce_configs / sizeof ce_configs[0] &&
                       status == 0; i++)
        status = ce_case(&file, &ce_configs[i]);
    if (status == 0)
        status = gen_derive_invalid(&file);
    for (size_t i = 0; i < sizeof ce_invalid_configs / sizeof ce_invalid_configs[0]; i++)
        ce_invalid(&file, &ce_invalid_configs[i]);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* The vector files this file writes (gen_ops.h). */
const gen_entry gen_grad_head_files[] = {
    {"head_tied_backward", gen_head_tied_backward},
    {"head_untied_backward", gen_head_untied_backward},
    {"softmax_backward", gen_softmax_backward},
    {"log_softmax_backward", gen_log_softmax_backward},
    {"cross_entropy_backward", gen_cross_entropy_backward},
    {NULL, NULL},
};
