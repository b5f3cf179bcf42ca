/*
 * gen_mixture.c -- cases for the mixtures of softmaxes (mos_fixed,
 * mos_gated) and the soft-tying regulariser (soft_tie_loss), from
 * spec/variants.md.
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

/* probs and logprobs (n, vocab) with their scales. */
typedef struct {
    double *probs, *probs_scale, *logprobs, *log_scale;
    double k;
} mixture_out;

static mixture_out mixture_alloc(size_t count)
{
    mixture_out out = {calloc(count + 1, sizeof(double)),
                       calloc(count + 1, sizeof(double)),
                       calloc(count + 1, sizeof(double)),
                       calloc(count + 1, sizeof(double)), 0};
    return out;
}

static void mixture_expect(gen_case *c, const mixture_out *out, size_t n,
                           size_t vocab)
{
    gen_expect(c, "probs", n, vocab, out->probs, out->k, out->probs_scale);
    gen_expect(c, "logprobs", n, vocab, out->logprobs, out->k, out->log_scale);
}

static void mixture_free(mixture_out *out)
{
    free(out->probs);
    free(out->probs_scale);
    free(out->logprobs);
    free(out->log_scale);
}

/* ---- mos_fixed -------------------------------------------------------- */

typedef struct {
    const char *slug, *comment, *flag;
    size_t n, vocab, d, K;
    double alpha[4];
    unsigned long seed;
    int full_precision;
    double spread; /* W scaled by this: large values make probabilities underflow */
} fixed_config;

static const fixed_config fixed_configs[] = {
    {"one-component", "K = 1: the softmax of the untied head", "reduces_to_softmax",
     3, 10, 8, 1, {1}, 16001, 0, 1},
    {"decimal-weights", "weights 0.1, 0.2, 0.7 (their double sum is not 1)",
     NULL, 3, 10, 8, 3, {0.1, 0.2, 0.7}, 16002, 0, 1},
    {"unnormalised-weights", "weights 1, 1: normalised to 1/2 each",
     "normalised", 2, 6, 4, 2, {1, 1}, 16003, 0, 1},
    {"zero-weight", "weights 0, 3: the first component drops out", NULL,
     2, 6, 4, 2, {0, 3}, 16004, 0, 1},
    {"underflow", "W times 4000: most probabilities underflow to 0 while the "
     "log-probabilities stay finite", "log_space", 2, 6, 4, 2, {0.5, 0.5},
     16005, 0, 4000},
    {"full-precision", "53-bit inputs, K = 4", NULL, 3, 16, 8, 4,
     {0.4, 0.3, 0.2, 0.1}, 16006, 1, 1},
    {"unnormalised-weights-three", "weights 2, 1, 1: normalised to 1/2, 1/4, "
     "1/4", "normalised", 3, 8, 4, 3, {2, 1, 1}, 16007, 0, 1},
    {"underflow-three", "K = 3, W times 3000: probabilities underflow, the "
     "log-probabilities (in log space) do not", "log_space", 2, 6, 4, 3,
     {1, 2, 1}, 16008, 0, 3000},
};

static int fixed_case(gen_file *file, const fixed_config *cfg)
{
    gen_case c;
    gsl_rng *rng = gen_rng(cfg->seed);
    double *h = gen_draw_values(rng, cfg->n * cfg->d, cfg->full_precision);
    double *W = gen_draw_values(rng, cfg->K * cfg->d * cfg->vocab,
                                cfg->full_precision);
    gsl_rng_free(rng);
    for (size_t i = 0; i < cfg->K * cfg->d * cfg->vocab; i++)
        W[i] *= cfg->spread;
    mixture_out out = mixture_alloc(cfg->n * cfg->vocab);
    int status = oracle_mos_fixed(out.probs, out.probs_scale, out.logprobs,
                                  out.log_scale, &out.k, h, W, cfg->alpha,
                                  cfg->n, cfg->vocab, cfg->d, cfg->K);
    if (status == 0) {
        size_t w_shape[3] = {cfg->K, cfg->d, cfg->vocab};
        gen_case_begin(&c, file, cfg->slug, cfg->comment);
        gen_flag(&c, "random");
        gen_source(&c, cfg->seed, gen_draw_recipe(cfg->full_precision));
        if (cfg->flag)
            gen_flag(&c, cfg->flag);
        gen_input_f64(&c, "h", cfg->n, cfg->d, h);
        gen_input_f64_nd(&c, "W", 3, w_shape, W);
        gen_input_f64(&c, "alpha", cfg->K, GEN_1D, cfg->alpha);
        mixture_expect(&c, &out, cfg->n, cfg->vocab);
        gen_case_end(&c);
    } else {
        fprintf(stderr, "lmr-gen: mos_fixed/%s: oracle failed\n", cfg->slug);
    }
    mixture_free(&out);
    free(h);
    free(W);
    return status;
}

static void fixed_invalid(gen_file *file, const char *slug, const char *comment,
                          const double *alpha, size_t alpha_len,
                          const char *status_name)
{
    gen_case c;
    gsl_rng *rng = gen_rng(16900);
    double *h = gen_draw_values(rng, 6, 0);
    double *W = gen_draw_values(rng, 2 * 3 * 4, 0);
    gsl_rng_free(rng);
    size_t w_shape[3] = {2, 3, 4};
    gen_case_begin(&c, file, slug, comment);
    gen_flag(&c, "edge");
    gen_input_f64(&c, "h", 2, 3, h);
    gen_input_f64_nd(&c, "W", 3, w_shape, W);
    gen_input_f64(&c, "alpha", alpha_len, GEN_1D, alpha);
    gen_invalid(&c, status_name);
    gen_case_end(&c);
    free(h);
    free(W);
}

static void mixture_notes(gen_file *file)
{
    gen_note(file, "reduces_to_softmax", "K = 1: a plain softmax head");
    gen_note(file, "normalised", "weights that do not sum to 1");
    gen_note(file, "log_space", "probabilities underflow; log-probabilities "
             "must not");
    gen_note(file, "tied_output", "the output matrix is the tied E^T");
}

static int gen_mos_fixed(const char *dir)
{
    static const double negative[2] = {1.5, -0.5}, zeros[2] = {0, 0};
    static const double nan_weight[2] = {NAN, 1}, three[3] = {1, 1, 1};
    gen_file file;
    int status = 0;
    gen_file_init(&file, "mos_fixed", "spec/variants.md#mos_fixed");
    mixture_notes(&file);
    for (size_t i = 0; i < sizeof fixed_configs / sizeof fixed_configs[0] &&
                       status == 0; i++)
        status = fixed_case(&file, &fixed_configs[i]);
    fixed_invalid(&file, "negative-weight", "weights 1.5, -0.5", negative, 2,
                  "LMR_EDOMAIN");
    fixed_invalid(&file, "all-zero-weights", "weights 0, 0", zeros, 2,
                  "LMR_EDOMAIN");
    fixed_invalid(&file, "nan-weight", "a NaN weight", nan_weight, 2,
                  "LMR_ENONFINITE");
    fixed_invalid(&file, "weights-length", "3 weights for K = 2", three, 3,
                  "LMR_EDIM");
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* ---- mos_gated -------------------------------------------------------- */

typedef struct {
    const char *slug, *comment, *flag;
    size_t n, vocab, d, K;
    int tied, with_bias;
    unsigned long seed;
    int full_precision;
} gated_config;

static const gated_config gated_configs[] = {
    {"one-component", "K = 1: pi = 1, softmax(tanh(h W_1 + b_1) W_out)",
     "reduces_to_softmax", 3, 10, 8, 1, 0, 0, 17001, 0},
    {"three-components-bias", "K = 3 with an output bias", NULL, 3, 10, 8, 3,
     0, 1, 17002, 0},
    {"tied-output", "K = 2 with W_out = E^T", "tied_output", 3, 10, 8, 2, 1,
     0, 17003, 0},
    {"full-precision", "53-bit inputs, K = 4, d = 12", NULL, 2, 24, 12, 4, 0,
     1, 17004, 1},
};

static int gated_case(gen_file *file, const gated_config *cfg)
{
    gen_case c;
    size_t n = cfg->n, d = cfg->d, K = cfg->K, vocab = cfg->vocab;
    gsl_rng *rng = gen_rng(cfg->seed);
    double *h = gen_draw_values(rng, n * d, cfg->full_precision);
    double *W_pi = gen_draw_values(rng, d * K, cfg->full_precision);
    double *W_comp = gen_draw_values(rng, K * d * d, cfg->full_precision);
    double *b_comp = gen_draw_values(rng, K * d, cfg->full_precision);
    double *W_out = gen_draw_values(rng, d * vocab, cfg->full_precision);
    double *E = gen_draw_values(rng, vocab * d, cfg->full_precision);
    double *b_out = gen_draw_values(rng, vocab, cfg->full_precision);
    gsl_rng_free(rng);
    mixture_out out = mixture_alloc(n * vocab);
    int status = oracle_mos_gated(out.probs, out.probs_scale, out.logprobs,
                                  out.log_scale, &out.k, h, W_pi, W_comp,
                                  b_comp, cfg->tied ? NULL : W_out,
                                  cfg->tied ? E : NULL,
                                  cfg->with_bias ? b_out : NULL, n, vocab, d, K);
    if (status == 0) {
        size_t comp_shape[3] = {K, d, d};
        gen_case_begin(&c, file, cfg->slug, cfg->comment);
        gen_flag(&c, "random");
        gen_source(&c, cfg->seed, gen_draw_recipe(cfg->full_precision));
        if (cfg->flag)
            gen_flag(&c, cfg->flag);
        gen_param_bool(&c, "tied", cfg->tied);
        gen_input_f64(&c, "h", n, d, h);
        gen_input_f64(&c, "W_pi", d, K, W_pi);
        gen_input_f64_nd(&c, "W_comp", 3, comp_shape, W_comp);
        gen_input_f64(&c, "b_comp", K, d, b_comp);
        if (cfg->tied)
            gen_input_f64(&c, "E", vocab, d, E);
        else
            gen_input_f64(&c, "W_out", d, vocab, W_out);
        if (cfg->with_bias)
            gen_input_f64(&c, "b_out", vocab, GEN_1D, b_out);
        mixture_expect(&c, &out, n, vocab);
        gen_case_end(&c);
    } else {
        fprintf(stderr, "lmr-gen: mos_gated/%s: oracle failed\n", cfg->slug);
    }
    mixture_free(&out);
    free(h);
    free(W_pi);
    free(W_comp);
    free(b_comp);
    free(W_out);
    free(E);
    free(b_out);
    return status;
}

static void gated_invalid(gen_file *file, const char *slug,
                          const char *comment, size_t comp_d, double bad,
                          const char *status_name)
{
    gen_case c;
    gsl_rng *rng = gen_rng(17900);
    double *h = gen_draw_values(rng, 6, 0), *W_pi = gen_draw_values(rng, 6, 0);
    double *W_comp = gen_draw_values(rng, 2 * 3 * 4, 0);
    double *b_comp = gen_draw_values(rng, 6, 0);
    double *W_out = gen_draw_values(rng, 12, 0);
    gsl_rng_free(rng);
    W_pi[1] = isnan(bad) ? bad : W_pi[1];
    size_t comp_shape[3] = {2, 3, comp_d};
    gen_case_begin(&c, file, slug, comment);
    gen_flag(&c, "edge");
    gen_input_f64(&c, "h", 2, 3, h);
    gen_input_f64(&c, "W_pi", 3, 2, W_pi);
    gen_input_f64_nd(&c, "W_comp", 3, comp_shape, W_comp);
    gen_input_f64(&c, "b_comp", 2, 3, b_comp);
    gen_input_f64(&c, "W_out", 3, 4, W_out);
    gen_invalid(&c, status_name);
    gen_case_end(&c);
    free(h);
    free(W_pi);
    free(W_comp);
    free(b_comp);
    free(W_out);
}

static int gen_mos_gated(const char *dir)
{
    gen_file file;
    int status = 0;
    gen_file_init(&file, "mos_gated", "spec/variants.md#mos_gated");
    mixture_notes(&file);
    for (size_t i = 0; i < sizeof gated_configs / sizeof gated_configs[0] &&
                       status == 0; i++)
        status = gated_case(&file, &gated_configs[i]);
    gated_invalid(&file, "component-shape", "W_comp is K x d x (d + 1)", 4, 0,
                  "LMR_EDIM");
    gated_invalid(&file, "nan-in-gate", "NaN in W_pi", 3, NAN, "LMR_ENONFINITE");
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* ---- soft_tie_loss ---------------------------------------------------- */

typedef struct {
    const char *slug, *comment, *flag;
    double lambda;
    const char *reduction;
    enum oracle_reduction reduction_code;
    int w_is_e_transposed;
    unsigned long seed;
    int full_precision;
    int ignore_minus_one; /* 1: ignore_index = -1 (target 2 is -1), else -100 */
} soft_config;

static const soft_config soft_configs[] = {
    {"tied-weights", "W = E^T: the penalty is exactly 0", "reduces_to_tied",
     0.5, "mean", ORACLE_REDUCE_MEAN, 1, 18001, 0, 0},
    {"lambda-zero", "lambda = 0: the plain cross-entropy", NULL, 0.0, "mean",
     ORACLE_REDUCE_MEAN, 0, 18002, 0, 0},
    {"lambda-small-mean", "lambda = 0.01, mean reduction", NULL, 0.01, "mean",
     ORACLE_REDUCE_MEAN, 0, 18003, 0, 0},
    {"lambda-one-sum", "lambda = 1, sum reduction (the penalty is not "
     "affected by the reduction)", NULL, 1.0, "sum", ORACLE_REDUCE_SUM, 0,
     18004, 0, 0},
    {"full-precision", "53-bit inputs, lambda = 0.3", NULL, 0.3, "mean",
     ORACLE_REDUCE_MEAN, 0, 18005, 1, 0},
    {"custom-ignore-index", "ignore_index = -1 (target 2 is -1), lambda = "
     "0.5, sum", NULL, 0.5, "sum", ORACLE_REDUCE_SUM, 0, 18006, 0, 1},
};

static int soft_case(gen_file *file, const soft_config *cfg)
{
    enum { N = 5, VOCAB = 10, D = 8 };
    gen_case c;
    int64_t targets[N];
    gsl_rng *rng = gen_rng(cfg->seed);
    double *h = gen_draw_values(rng, N * D, cfg->full_precision);
    double *E = gen_draw_values(rng, VOCAB * D, cfg->full_precision);
    double *W = gen_draw_values(rng, D * VOCAB, cfg->full_precision);
    int64_t ignore_index = cfg->ignore_minus_one ? -1 : -100;
    gen_ids(rng, targets, N, VOCAB);
    gsl_rng_free(rng);
    targets[2] = ignore_index; /* one ignored position */
    for (size_t v = 0; cfg->w_is_e_transposed && v < VOCAB; v++)
        for (size_t j = 0; j < D; j++)
            W[j * VOCAB + v] = E[v * D + j];
    double loss, loss_scale, ce, ce_scale, penalty, penalty_scale, k;
    int status = oracle_soft_tie_loss(&loss, &loss_scale, &ce, &ce_scale,
                                      &penalty, &penalty_scale, &k, h, E, W,
                                      targets, N, VOCAB, D, cfg->lambda,
                                      cfg->reduction_code, ignore_index);
    if (status == 0) {
        gen_case_begin(&c, file, cfg->slug, cfg->comment);
        gen_flag(&c, "random");
        gen_source(&c, cfg->seed, cfg->full_precision
                       ? "h, E, W: 53-bit uniform in [-1, 1); then targets"
                       : "h, E, W: k/64, |k| <= 127; then targets");
        if (cfg->flag)
            gen_flag(&c, cfg->flag);
        gen_param_double(&c, "lambda", cfg->lambda);
        gen_param_string(&c, "reduction", cfg->reduction);
        gen_param_int(&c, "ignore_index", ignore_index);
        gen_input_f64(&c, "h", N, D, h);
        gen_input_f64(&c, "E", VOCAB, D, E);
        gen_input_f64(&c, "W", D, VOCAB, W);
        gen_input_i64(&c, "targets", N, GEN_1D, targets);
        gen_expect(&c, "loss", 1, GEN_1D, &loss, k, &loss_scale);
        gen_expect(&c, "cross_entropy", 1, GEN_1D, &ce, k, &ce_scale);
        gen_expect(&c, "penalty", 1, GEN_1D, &penalty, k, &penalty_scale);
        gen_case_end(&c);
    } else {
        fprintf(stderr, "lmr-gen: soft_tie_loss/%s: oracle failed\n", cfg->slug);
    }
    free(h);
    free(E);
    free(W);
    return status;
}

/* n = 2, d = 3, |V| = 4; w_columns is |V| unless the case's W is wrong. */
static void soft_invalid_shaped(gen_file *file, const char *slug,
                                const char *comment, double lambda,
                                const char *reduction, int64_t target,
                                size_t w_columns, const char *status_name)
{
    gen_case c;
    int64_t targets[2] = {1, target};
    gsl_rng *rng = gen_rng(18900);
    double *h = gen_draw_values(rng, 6, 0);
    double *E = gen_draw_values(rng, 12, 0);
    double *W = gen_draw_values(rng, 3 * w_columns, 0);
    gsl_rng_free(rng);
    gen_case_begin(&c, file, slug, comment);
    gen_flag(&c, "edge");
    gen_param_double(&c, "lambda", lambda);
    gen_param_string(&c, "reduction", reduction);
    gen_input_f64(&c, "h", 2, 3, h);
    gen_input_f64(&c, "E", 4, 3, E);
    gen_input_f64(&c, "W", 3, w_columns, W);
    gen_input_i64(&c, "targets", 2, GEN_1D, targets);
    gen_invalid(&c, status_name);
    gen_case_end(&c);
    free(h);
    free(E);
    free(W);
}

static void soft_invalid(gen_file *file, const char *slug, const char *comment,
                         double lambda, const char *reduction, int64_t target,
                         const char *status_name)
{
    soft_invalid_shaped(file, slug, comment, lambda, reduction, target, 4,
                        status_name);
}

static int gen_soft_tie_loss(const char *dir)
{
    gen_file file;
    int status = 0;
    gen_file_init(&file, "soft_tie_loss", "spec/variants.md#soft_tie");
    gen_note(&file, "reduces_to_tied", "W = E^T: no penalty");
    for (size_t i = 0; i < sizeof soft_configs / sizeof soft_configs[0] &&
                       status == 0; i++)
        status = soft_case(&file, &soft_configs[i]);
    soft_invalid(&file, "lambda-negative", "lambda = -1", -1.0, "mean", 0,
                 "LMR_EDOMAIN");
    soft_invalid(&file, "lambda-nan", "lambda NaN", NAN, "mean", 0,
                 "LMR_ENONFINITE");
    soft_invalid(&file, "reduction-none", "reduction none: the loss must be "
                 "a scalar", 0.5, "none", 0, "LMR_EDOMAIN");
    soft_invalid(&file, "target-out-of-range", "target 4 with |V| = 4", 0.5,
                 "mean", 4, "LMR_EINDEX");
    soft_invalid_shaped(&file, "weight-shape", "W is d x (|V| + 1)", 0.5, "mean",
                        0, 5, "LMR_EDIM");
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* The vector files this file writes (gen_ops.h). */
const gen_entry gen_mixture_files[] = {
    {"mos_fixed", gen_mos_fixed},
    {"mos_gated", gen_mos_gated},
    {"soft_tie_loss", gen_soft_tie_loss},
    {NULL, NULL},
};
