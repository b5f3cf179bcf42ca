/*
 * gen_tied_lm.c -- cases for tied_lm (spec/gradients.md#tied_lm), the two
 * ends of a tied language model with a stand-in for the blocks:
 *
 *     X = E[ids] + P[0 .. n-1],  Z = LayerNorm(X) or X,  H = Z M or Z,
 *     u = H E^T,  L = cross_entropy(u, targets).
 *
 * The tied matrix E is used twice, so its gradient is the sum of two
 * shares, and the op returns all three: dE = dE_input + dE_output, where
 * dE_input is the lookup's share (a scatter-add of dX by ids: rows of
 * tokens absent from ids are 0, repeated ids add up) and dE_output the
 * head's share (dU^T H: dense, except that ignored rows give nothing).
 * An implementation that ties by copying E into the head loses dE_output;
 * one that detaches the lookup loses dE_input.
 *
 * Cases: identity and matrix middles, with and without LayerNorm (eps from
 * 1e-5 to 1), sum and mean, ignored targets (-100 and ignore_index = -1),
 * ids that occur two and three times, a case where one token occurs only
 * as an input id and another only as a target (so dE_input and dE_output
 * have different supports), max_len > n (the rows of dP past n are 0),
 * n = 1, every target ignored under "sum", 53-bit inputs. Bad input:
 * reduction "none", P with fewer than n rows, ids and targets out of range,
 * NaN in E or P, shapes that disagree, eps <= 0, an unknown reduction.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_case.h"
#include "gen_grad.h"
#include "gen_ops.h"
#include "gen_random.h"
#include "oracle_grad.h"

#define MAX_N 6

static const char *const reduction_names[] = {"none", "sum", "mean"};

/* One case: sizes, hand-picked ids and targets, the model's settings.
 * E, P, gamma, beta, M are drawn from seed in that order (each whether
 * used or not). */
typedef struct {
    const char *slug, *comment, *flag;
    size_t n, vocab, d, max_len;
    int64_t ids[MAX_N], targets[MAX_N];
    int layernorm;
    double eps;
    int matrix; /* middle = "matrix" (else "identity") */
    enum oracle_reduction reduction;
    int64_t ignore_index;
    int full_precision;
    unsigned long seed;
} lm_config;

static const lm_config lm_configs[] = {
    {"identity-mean", "no LayerNorm, no middle, mean; id 2 occurs three "
     "times, target 1 is ignored (the mean is over 5 rows); max_len 8 > n = 6",
     "repeated_ids", 6, 8, 4, 8, {2, 5, 2, 0, 7, 2}, {5, -100, 1, 2, 2, 3},
     0, 0, 0, ORACLE_REDUCE_MEAN, -100, 0, 43001},
    {"identity-sum", "no LayerNorm, no middle, sum; ids 1 and 4 twice each",
     "repeated_ids", 5, 6, 4, 7, {1, 4, 1, 4, 3}, {4, 1, 3, 0, 1}, 0, 0, 0,
     ORACLE_REDUCE_SUM, -100, 0, 43002},
    {"layernorm-sum", "LayerNorm (eps 1e-5, gamma and beta drawn), no middle, "
     "sum; id 3 three times", "repeated_ids", 5, 7, 5, 6, {3, 0, 3, 6, 3},
     {0, 3, 6, 2, 2}, 1, 1e-5, 0, ORACLE_REDUCE_SUM, -100, 0, 43003},
    {"matrix-layernorm-mean", "LayerNorm and a d x d middle, mean with two "
     "targets ignored", "repeated_ids", 6, 8, 4, 8, {1, 6, 6, 2, 1, 4},
     {6, -100, 2, 1, -100, 0}, 1, 1e-5, 1, ORACLE_REDUCE_MEAN, -100, 0, 43004},
    {"matrix-sum", "a d x d middle without LayerNorm, sum", "repeated_ids", 4,
     6, 4, 5, {5, 0, 5, 2}, {0, 5, 2, 3}, 0, 0, 1, ORACLE_REDUCE_SUM, -100, 0,
     43005},
    {"split-support", "token 4 occurs only as an input id, token 5 only as a "
     "target, tokens 1 and 3 in neither: dE_input is 0 in rows 1, 3 and 5 "
     "while dE_output is dense; id 0 twice", "split_support", 4, 6, 4, 6,
     {0, 2, 0, 4}, {2, 5, 5, 0}, 0, 0, 0, ORACLE_REDUCE_MEAN, -100, 0, 43006},
    {"split-support-layernorm-matrix", "the split-support ids and targets "
     "with LayerNorm, a middle and the sum", "split_support", 4, 6, 4, 6,
     {0, 2, 0, 4}, {2, 5, 5, 0}, 1, 1e-5, 1, ORACLE_REDUCE_SUM, -100, 0,
     43007},
    {"custom-ignore-index", "ignore_index = -1, LayerNorm with eps 0.25, mean "
     "over the 3 counted rows", "repeated_ids", 5, 6, 3, 6, {2, 2, 0, 5, 1},
     {0, -1, 5, -1, 2}, 1, 0.25, 0, ORACLE_REDUCE_MEAN, -1, 0, 43008},
    {"eps-one", "LayerNorm with eps = 1, a middle, mean", NULL, 3, 5, 4, 4,
     {4, 1, 3}, {1, 3, 0}, 1, 1.0, 1, ORACLE_REDUCE_MEAN, -100, 0, 43009},
    {"single-position", "n = 1 with max_len 4: dP has one non-zero row",
     NULL, 1, 5, 4, 4, {3}, {1}, 1, 1e-5, 0, ORACLE_REDUCE_MEAN, -100, 0,
     43010},
    {"all-ignored-sum", "every target ignored under sum: the loss and every "
     "gradient are 0", "all_ignored", 3, 5, 3, 4, {1, 2, 1}, {-100, -100, -100},
     1, 1e-5, 1, ORACLE_REDUCE_SUM, -100, 0, 43011},
    {"full-precision", "53-bit E, P, gamma, beta, M; LayerNorm, a middle, "
     "mean, one target ignored", "repeated_ids", 6, 9, 6, 7, {8, 3, 8, 0, 3, 5},
     {3, 8, -100, 5, 1, 8}, 1, 1e-5, 1, ORACLE_REDUCE_MEAN, -100, 1, 43012},
};

/* The real inputs, drawn in the order E, P, gamma, beta, M. */
typedef struct {
    double *E, *P, *gamma, *beta, *M;
} lm_inputs;

static lm_inputs lm_draw(const lm_config *cfg)
{
    gsl_rng *rng = gen_rng(cfg->seed);
    size_t d = cfg->d;
    lm_inputs in;
    in.E = gen_draw_values(rng, cfg->vocab * d, cfg->full_precision);
    in.P = gen_draw_values(rng, cfg->max_len * d, cfg->full_precision);
    in.gamma = gen_draw_values(rng, d, cfg->full_precision);
    in.beta = gen_draw_values(rng, d, cfg->full_precision);
    in.M = gen_draw_values(rng, d * d, cfg->full_precision);
    gsl_rng_free(rng);
    return in;
}

static void lm_free(lm_inputs *in)
{
    free(in->E);
    free(in->P);
    free(in->gamma);
    free(in->beta);
    free(in->M);
}

static void lm_source(gen_case *c, const lm_config *cfg)
{
    gen_flag(c, "random");
    gen_source(c, cfg->seed, cfg->full_precision
                   ? "E, P, gamma, beta, M drawn in that order (each whether "
                     "used or not): 53-bit uniform in [-1, 1); ids and "
                     "targets hand-picked"
                   : "E, P, gamma, beta, M drawn in that order (each whether "
                     "used or not): k/64, |k| <= 127; ids and targets "
                     "hand-picked");
    if (cfg->flag)
        gen_flag(c, cfg->flag);
}

/* Params and inputs; the shapes of P (p_rows, p_cols) and M (d, m_cols)
 * and the lengths of gamma, targets differ from cfg's only in bad cases. */
typedef struct {
    const char *reduction, *middle;
    size_t p_rows, p_cols, m_cols, gamma_len, n_targets;
} lm_shapes;

static lm_shapes lm_good_shapes(const lm_config *cfg)
{
    lm_shapes shapes = {reduction_names[cfg->reduction],
                        cfg->matrix ? "matrix" : "identity", cfg->max_len,
                        cfg->d, cfg->d, cfg->d, cfg->n};
    return shapes;
}

static void lm_fields(gen_case *c, const lm_config *cfg, const lm_inputs *in,
                      const lm_shapes *shapes)
{
    gen_param_bool(c, "layernorm", cfg->layernorm);
    if (cfg->layernorm)
        gen_param_double(c, "eps", cfg->eps);
    gen_param_string(c, "middle", shapes->middle);
    gen_param_string(c, "reduction", shapes->reduction);
    gen_param_int(c, "ignore_index", cfg->ignore_index);
    gen_input_i64(c, "ids", cfg->n, GEN_1D, cfg->ids);
    gen_input_i64(c, "targets", shapes->n_targets, GEN_1D, cfg->targets);
    gen_input_f64(c, "E", cfg->vocab, cfg->d, in->E);
    gen_input_f64(c, "P", shapes->p_rows, shapes->p_cols, in->P);
    if (cfg->layernorm) {
        gen_input_f64(c, "gamma", shapes->gamma_len, GEN_1D, in->gamma);
        gen_input_f64(c, "beta", cfg->d, GEN_1D, in->beta);
    }
    if (cfg->matrix)
        gen_input_f64(c, "M", cfg->d, shapes->m_cols, in->M);
}

typedef struct {
    oracle_out loss, dE, dE_input, dE_output, dP, dgamma, dbeta;
} lm_outputs;

static lm_outputs lm_outputs_alloc(const lm_config *cfg)
{
    size_t table = cfg->vocab * cfg->d;
    lm_outputs out = {gen_grad_out_alloc(1), gen_grad_out_alloc(table),
                      gen_grad_out_alloc(table), gen_grad_out_alloc(table),
                      gen_grad_out_alloc(cfg->max_len * cfg->d),
                      {NULL, NULL}, {NULL, NULL}};
    if (cfg->layernorm) {
        out.dgamma = gen_grad_out_alloc(cfg->d);
        out.dbeta = gen_grad_out_alloc(cfg->d);
    }
    return out;
}

static void lm_outputs_free(lm_outputs *out)
{
    gen_grad_out_free(&out->loss);
    gen_grad_out_free(&out->dE);
    gen_grad_out_free(&out->dE_input);
    gen_grad_out_free(&out->dE_output);
    gen_grad_out_free(&out->dP);
    gen_grad_out_free(&out->dgamma);
    gen_grad_out_free(&out->dbeta);
}

static void lm_expect(gen_case *c, const lm_config *cfg, const lm_outputs *out)
{
    gen_expect_grad(c, "loss", 1, GEN_1D, out->loss);
    gen_expect_grad(c, "dE", cfg->vocab, cfg->d, out->dE);
    gen_expect_grad(c, "dE_input", cfg->vocab, cfg->d, out->dE_input);
    gen_expect_grad(c, "dE_output", cfg->vocab, cfg->d, out->dE_output);
    gen_expect_grad(c, "dP", cfg->max_len, cfg->d, out->dP);
    if (cfg->layernorm) {
        gen_expect_grad(c, "dgamma", cfg->d, GEN_1D, out->dgamma);
        gen_expect_grad(c, "dbeta", cfg->d, GEN_1D, out->dbeta);
    }
}

static int lm_case(gen_file *file, const lm_config *cfg)
{
    gen_case c;
    lm_inputs in = lm_draw(cfg);
    lm_outputs out = lm_outputs_alloc(cfg);
    lm_shapes shapes = lm_good_shapes(cfg);
    oracle_tied_lm_outputs oracle_out_set = {
        out.loss, out.dE, out.dE_input, out.dE_output, out.dP, out.dgamma,
        out.dbeta};
    oracle_tied_lm_inputs oracle_in = {
        cfg->ids, cfg->targets, in.E, in.P,
        cfg->layernorm ? in.gamma : NULL, cfg->layernorm ? in.beta : NULL,
        cfg->matrix ? in.M : NULL, cfg->n, cfg->vocab, cfg->d, cfg->max_len,
        cfg->eps, cfg->reduction, cfg->ignore_index};
    int status = oracle_tied_lm(&oracle_out_set, &oracle_in);
    if (status == 0) {
        gen_case_begin(&c, file, cfg->slug, cfg->comment);
        lm_source(&c, cfg);
        lm_fields(&c, cfg, &in, &shapes);
        lm_expect(&c, cfg, &out);
        gen_case_end(&c);
    } else {
        fprintf(stderr, "lmr-gen: tied_lm/%s: the oracle rejected a case "
                "meant to be valid\n", cfg->slug);
    }
    lm_outputs_free(&out);
    lm_free(&in);
    return status;
}

/* ---- bad input ---------------------------------------------------------- */

/* The base of every bad case: n = 3, |V| = 5, d = 3, max_len 4, LayerNorm
 * and a middle, mean. */
static const lm_config bad_base = {
    "", "", NULL, 3, 5, 3, 4, {1, 4, 1}, {4, 0, 2}, 1, 1e-5, 1,
    ORACLE_REDUCE_MEAN, -100, 0, 43900};

/* What a bad case changes in bad_base. */
typedef struct {
    const char *slug, *comment, *status;
    const char *reduction, *middle; /* NULL: the base's */
    size_t p_rows, p_cols, m_cols, gamma_len, n_targets; /* 0: the base's */
    int64_t bad_id, bad_target;     /* -1000: none; else ids[1] / targets[1] */
    int64_t ignore_index;           /* 0: the base's */
    double eps;                     /* 0: the base's; < 0: eps = 0 */
    int nan_in;                     /* 0: none; 1: E; 2: P (a row past n) */
} lm_bad;

static const lm_bad lm_bad_list[] = {
    {"reduction-none", "reduction none: the op needs a scalar loss",
     "LMR_EDOMAIN", "none", NULL, 0, 0, 0, 0, 0, -1000, -1000, 0, 0, 0},
    {"unknown-reduction", "reduction \"avg\"", "LMR_EDOMAIN", "avg", NULL, 0,
     0, 0, 0, 0, -1000, -1000, 0, 0, 0},
    {"unknown-middle", "middle \"mlp\": neither identity nor matrix",
     "LMR_EDOMAIN", NULL, "mlp", 0, 0, 0, 0, 0, -1000, -1000, 0, 0, 0},
    {"positions-short", "P has 2 rows for n = 3 positions", "LMR_EDIM", NULL,
     NULL, 2, 0, 0, 0, 0, -1000, -1000, 0, 0, 0},
    {"positions-width", "P has width d + 1", "LMR_EDIM", NULL, NULL, 0, 4, 0,
     0, 0, -1000, -1000, 0, 0, 0},
    {"middle-shape", "M is d x (d + 1)", "LMR_EDIM", NULL, NULL, 0, 0, 4, 0, 0,
     -1000, -1000, 0, 0, 0},
    {"gamma-length", "gamma has d + 1 entries", "LMR_EDIM", NULL, NULL, 0, 0,
     0, 4, 0, -1000, -1000, 0, 0, 0},
    {"targets-length", "2 targets for 3 ids", "LMR_EDIM", NULL, NULL, 0, 0, 0,
     0, 2, -1000, -1000, 0, 0, 0},
    {"id-equal-to-vocab", "id 5 with |V| = 5", "LMR_EINDEX", NULL, NULL, 0, 0,
     0, 0, 0, 5, -1000, 0, 0, 0},
    {"id-negative", "id -1", "LMR_EINDEX", NULL, NULL, 0, 0, 0, 0, 0, -1,
     -1000, 0, 0, 0},
    {"target-equal-to-vocab", "target 5 with |V| = 5", "LMR_EINDEX", NULL,
     NULL, 0, 0, 0, 0, 0, -1000, 5, 0, 0, 0},
    {"ignore-index-in-range", "ignore_index 2 would drop a real token",
     "LMR_EDOMAIN", NULL, NULL, 0, 0, 0, 0, 0, -1000, -1000, 2, 0, 0},
    {"eps-zero", "LayerNorm with eps = 0", "LMR_EDOMAIN", NULL, NULL, 0, 0, 0,
     0, 0, -1000, -1000, 0, -1, 0},
    {"nan-in-embedding", "NaN in E", "LMR_ENONFINITE", NULL, NULL, 0, 0, 0, 0,
     0, -1000, -1000, 0, 0, 1},
    {"nan-in-unread-position", "NaN in the row of P past n", "LMR_ENONFINITE",
     NULL, NULL, 0, 0, 0, 0, 0, -1000, -1000, 0, 0, 2},
};

static void lm_invalid(gen_file *file, const lm_bad *bad)
{
    lm_config cfg = bad_base;
    gen_case c;
    cfg.slug = bad->slug;
    cfg.comment = bad->comment;
    if (bad->bad_id != -1000)
        cfg.ids[1] = bad->bad_id;
    if (bad->bad_target != -1000)
        cfg.targets[1] = bad->bad_target;
    if (bad->ignore_index != 0)
        cfg.ignore_index = bad->ignore_index;
    if (bad->eps != 0)
        cfg.eps = bad->eps < 0 ? 0.0 : bad->eps;
    cfg.max_len = 5; /* room for P with d + 1 columns */
    cfg.d = 4;       /* room for M, gamma with d + 1 */
    lm_inputs in = lm_draw(&cfg);
    cfg.max_len = bad_base.max_len;
    cfg.d = bad_base.d;
    if (bad->nan_in == 1)
        in.E[4] = NAN;
    if (bad->nan_in == 2)
        in.P[3 * cfg.d + 1] = NAN; /* row 3, not read for n = 3 */
    lm_shapes shapes = lm_good_shapes(&cfg);
    if (bad->reduction)
        shapes.reduction = bad->reduction;
    if (bad->middle)
        shapes.middle = bad->middle;
    if (bad->p_rows)
        shapes.p_rows = bad->p_rows;
    if (bad->p_cols)
        shapes.p_cols = bad->p_cols;
    if (bad->m_cols)
        shapes.m_cols = bad->m_cols;
    if (bad->gamma_len)
        shapes.gamma_len = bad->gamma_len;
    if (bad->n_targets)
        shapes.n_targets = bad->n_targets;
    gen_case_begin(&c, file, cfg.slug, cfg.comment);
    lm_source(&c, &cfg);
    lm_fields(&c, &cfg, &in, &shapes);
    gen_invalid(&c, bad->status);
    gen_case_end(&c);
    lm_free(&in);
}

static int gen_tied_lm(const char *dir)
{
    gen_file file;
    int status = 0;
    gen_file_init(&file, "tied_lm", "spec/gradients.md#tied_lm");
    gen_note(&file, "repeated_ids", "an id occurs more than once: its rows "
             "of dX add up in dE_input");
    gen_note(&file, "split_support", "a token occurs only as an input id and "
             "another only as a target: dE_input and dE_output are non-zero "
             "in different rows, so dE = dE_input + dE_output shows which "
             "share is missing");
    gen_note(&file, "all_ignored", "every target equals ignore_index");
    for (size_t i = 0; i < sizeof lm_configs / sizeof lm_configs[0] &&
                       status == 0; i++)
        status = lm_case(&file, &lm_configs[i]);
    for (size_t i = 0; i < sizeof lm_bad_list / sizeof lm_bad_list[0]; i++)
        lm_invalid(&file, &lm_bad_list[i]);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* The vector files this file writes (gen_ops.h). */
const gen_entry gen_tied_lm_files[] = {
    {"tied_lm", gen_tied_lm},
    {NULL, NULL},
};
