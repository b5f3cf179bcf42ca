/*
 * gen_grad_variants.c -- cases for the backward ops of the head variants
 * (spec/gradients.md):
 *
 * - head_partial_backward: k = 0 (dE is 0), k = |V| (dF is d x 0), k = 1,
 *   k = 4 of 8, 53-bit inputs;
 * - head_transformed_backward: T = I, a random T, a square case
 *   (n = |V| = d), d = 1, 53-bit inputs;
 * - head_adaptive_backward: alpha = 1, 0, 0.25 and 0.3 (not dyadic), with
 *   the outputs dh, dE, dF, dalpha;
 * - head_mlp_backward: untied and tied, with both biases, with none, with
 *   b1 only, 53-bit inputs; a case whose pre-activations are exactly 0 over
 *   the reals, built from dyadic values whose products and partial sums
 *   every class computes exactly (ReLU's derivative there is 0). A class in
 *   which a pre-activation lies within 4 unit roundoffs of its error bound
 *   from 0 is dropped from the case (flag relu_sensitive);
 * - mos_fixed_backward: K = 1, 2, 3, unnormalised weights (1, 3), a zero
 *   weight, decimal weights, 53-bit inputs;
 * - mos_gated_backward: tied and untied output, with and without b_out,
 *   K = 1, 2 and 3, 53-bit inputs;
 * - soft_tie_loss_backward: lambda 0 and > 0, sum and mean, dloss 1 and
 *   other values, W = E^T (the penalty's gradient is 0), 53-bit inputs.
 *
 * Bad input in every file: the forward op's invalid cases, derived from its
 * generator (tools/gen/gen_derive.c: k > |V|, alpha outside [0, 1], bad
 * weights, shapes that disagree, lambda < 0, reduction "none", ...), then
 * the backward's own: an upstream gradient of the wrong shape (LMR_EDIM)
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

/* ---- helpers ------------------------------------------------------------ */

/* An invalid case: the caller has added inputs and params. */
static void end_invalid(gen_case *c, const char *status_name)
{
    gen_invalid(c, status_name);
    gen_case_end(c);
}

static void variant_notes(gen_file *file)
{
    gen_note(file, "reduces_to_tied", "a setting in which the variant equals "
             "the tied head exactly");
    gen_note(file, "reduces_to_untied", "a setting in which the variant equals "
             "the untied head exactly");
    gen_note(file, "edge_value", "a parameter or size at the end of its range");
}

/* The bad upstream gradients every file has: (rows, cols + 1) for EDIM, a
 * NaN and an infinity for ENONFINITE. kind: 0 shape, 1 NaN, 2 infinity. */
static const struct {
    const char *slug, *comment, *status;
} upstream_bad[3] = {
    {"upstream-shape", "the upstream gradient has one column too many",
     "LMR_EDIM"},
    {"nan-in-upstream", "NaN in the upstream gradient", "LMR_ENONFINITE"},
    {"inf-in-upstream", "-infinity in the upstream gradient", "LMR_ENONFINITE"},
};

/* The upstream gradient input name of rows x cols, broken as `kind` says;
 * values holds at least rows * (cols + 1) numbers. */
static void bad_upstream(gen_case *c, const char *name, size_t rows,
                         size_t cols, double *values, int kind)
{
    if (kind == 1)
        values[1] = NAN;
    if (kind == 2)
        values[1] = -INFINITY;
    gen_input_f64(c, name, rows, kind == 0 ? cols + 1 : cols, values);
}

/* ---- partial tying ---------------------------------------------------- */

static int partial_case(gen_file *file, const char *slug, const char *comment,
                        const char *flag, size_t n, size_t vocab, size_t d,
                        size_t k, unsigned long seed, int full_precision)
{
    gen_draws bag;
    gen_case c;
    gen_draws_init(&bag, seed, full_precision);
    double *h = gen_draw(&bag, n * d), *E = gen_draw(&bag, vocab * d);
    double *F = gen_draw(&bag, d * (vocab - k));
    double *dU = gen_draw(&bag, n * vocab);
    oracle_out dh = gen_grad_out_alloc(n * d), dE = gen_grad_out_alloc(vocab * d);
    oracle_out dF = gen_grad_out_alloc(d * (vocab - k));
    int status = oracle_head_partial_backward(dh, dE, dF, h, E, F, dU, n,
                                              vocab, d, k);
    if (status == 0) {
        gen_case_begin_random(&c, file, slug, comment, flag, seed,
                              gen_draw_recipe(full_precision));
        gen_param_int(&c, "k", (int64_t)k);
        gen_input_f64(&c, "h", n, d, h);
        gen_input_f64(&c, "E", vocab, d, E);
        if (k < vocab) /* as in the forward: no F when every token is shared */
            gen_input_f64(&c, "F", d, vocab - k, F);
        gen_input_f64(&c, "dlogits", n, vocab, dU);
        gen_expect_grad(&c, "dh", n, d, dh);
        gen_expect_grad(&c, "dE", vocab, d, dE);
        gen_expect_grad(&c, "dF", d, vocab - k, dF);
        gen_case_end(&c);
    } else {
        status = gen_oracle_failed(file->op, slug);
    }
    gen_grad_out_free(&dh);
    gen_grad_out_free(&dE);
    gen_grad_out_free(&dF);
    gen_draws_free(&bag);
    return status;
}

/* n = 2, d = 3, |V| = 5; F (3, f_cols); bad_at_e < 15 puts NaN in E;
 * upstream_kind >= 0 breaks dlogits. */
static void partial_invalid(gen_file *file, const char *slug,
                            const char *comment, size_t k, size_t f_cols,
                            size_t bad_at_e, int upstream_kind,
                            const char *status_name)
{
    gen_draws bag;
    gen_case c;
    gen_draws_init(&bag, 36900, 0);
    double *h = gen_draw(&bag, 2 * 3);
    double *E = gen_draw(&bag, 5 * 3);
    double *F = gen_draw(&bag, 3 * 5);
    double *dU = gen_draw(&bag, 2 * 6);
    if (bad_at_e < 15)
        E[bad_at_e] = NAN;
    gen_case_begin_random(&c, file, slug, comment, NULL, 36900,
                          gen_draw_recipe(0));
    gen_param_int(&c, "k", (int64_t)k);
    gen_input_f64(&c, "h", 2, 3, h);
    gen_input_f64(&c, "E", 5, 3, E);
    gen_input_f64(&c, "F", 3, f_cols, F);
    if (upstream_kind >= 0)
        bad_upstream(&c, "dlogits", 2, 5, dU, upstream_kind);
    else
        gen_input_f64(&c, "dlogits", 2, 5, dU);
    end_invalid(&c, status_name);
    gen_draws_free(&bag);
}

static int gen_head_partial_backward(const char *dir)
{
    gen_file file;
    gen_file_init(&file, "head_partial_backward",
                  "spec/gradients.md#head_partial_backward");
    variant_notes(&file);
    int status = partial_case(&file, "k-zero", "k = 0: the untied head with "
                              "W = F; dE is 0", "reduces_to_untied", 3, 6, 4,
                              0, 36001, 0);
    if (status == 0)
        status = partial_case(&file, "k-all", "k = |V|: the tied head, no F; "
                              "dF is d x 0", "reduces_to_tied", 3, 6, 4, 6,
                              36002, 0);
    if (status == 0)
        status = partial_case(&file, "k-four", "the first 4 of 8 tokens shared: "
                              "rows 4-7 of dE are 0", NULL, 3, 8, 5, 4, 36003, 0);
    if (status == 0)
        status = partial_case(&file, "k-one", "only token 0 shared",
                              "edge_value", 2, 6, 4, 1, 36004, 0);
    if (status == 0)
        status = partial_case(&file, "full-precision", "53-bit inputs, k = 3 "
                              "of 7", NULL, 3, 7, 6, 3, 36005, 1);
    if (status == 0)
        status = gen_derive_invalid(&file);
    for (int kind = 0; kind < 3; kind++)
        partial_invalid(&file, upstream_bad[kind].slug,
                        upstream_bad[kind].comment, 2, 3, 99, kind,
                        upstream_bad[kind].status);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* ---- transformed tying ------------------------------------------------ */

static int transformed_case(gen_file *file, const char *slug,
                            const char *comment, const char *flag, size_t n,
                            size_t vocab, size_t d, int identity,
                            unsigned long seed, int full_precision)
{
    gen_draws bag;
    gen_case c;
    gen_draws_init(&bag, seed, full_precision);
    double *h = gen_draw(&bag, n * d), *T = gen_draw(&bag, d * d);
    double *E = gen_draw(&bag, vocab * d), *dU = gen_draw(&bag, n * vocab);
    for (size_t i = 0; identity && i < d * d; i++)
        T[i] = (i % (d + 1) == 0) ? 1.0 : 0.0;
    oracle_out dh = gen_grad_out_alloc(n * d), dT = gen_grad_out_alloc(d * d);
    oracle_out dE = gen_grad_out_alloc(vocab * d);
    int status = oracle_head_transformed_backward(dh, dT, dE, h, T, E, dU, n,
                                                  vocab, d);
    if (status == 0) {
        gen_case_begin_random(&c, file, slug, comment, flag, seed,
                              gen_draw_recipe(full_precision));
        gen_input_f64(&c, "h", n, d, h);
        gen_input_f64(&c, "T", d, d, T);
        gen_input_f64(&c, "E", vocab, d, E);
        gen_input_f64(&c, "dlogits", n, vocab, dU);
        gen_expect_grad(&c, "dh", n, d, dh);
        gen_expect_grad(&c, "dT", d, d, dT);
        gen_expect_grad(&c, "dE", vocab, d, dE);
        gen_case_end(&c);
    } else {
        status = gen_oracle_failed(file->op, slug);
    }
    gen_grad_out_free(&dh);
    gen_grad_out_free(&dT);
    gen_grad_out_free(&dE);
    gen_draws_free(&bag);
    return status;
}

/* n = 2, d = 3, |V| = 4; T (3, t_cols); bad kinds: 10 NaN in T, 0-2 dlogits. */
static void transformed_invalid(gen_file *file, const char *slug,
                                const char *comment, size_t t_cols, int kind,
                                const char *status_name)
{
    gen_draws bag;
    gen_case c;
    gen_draws_init(&bag, 37900, 0);
    double *h = gen_draw(&bag, 6);
    double *T = gen_draw(&bag, 12);
    double *E = gen_draw(&bag, 12);
    double *dU = gen_draw(&bag, 10);
    if (kind == 10)
        T[4] = NAN;
    gen_case_begin_random(&c, file, slug, comment, NULL, 37900,
                          gen_draw_recipe(0));
    gen_input_f64(&c, "h", 2, 3, h);
    gen_input_f64(&c, "T", 3, t_cols, T);
    gen_input_f64(&c, "E", 4, 3, E);
    if (kind < 3)
        bad_upstream(&c, "dlogits", 2, 4, dU, kind);
    else
        gen_input_f64(&c, "dlogits", 2, 4, dU);
    end_invalid(&c, status_name);
    gen_draws_free(&bag);
}

static int gen_head_transformed_backward(const char *dir)
{
    gen_file file;
    gen_file_init(&file, "head_transformed_backward",
                  "spec/gradients.md#head_transformed_backward");
    variant_notes(&file);
    int status = transformed_case(&file, "identity", "T = I: dh and dE are "
                                  "the tied head's", "reduces_to_tied", 3, 8,
                                  5, 1, 37001, 0);
    if (status == 0)
        status = transformed_case(&file, "random", "a random T, d = 5", NULL,
                                  3, 8, 5, 0, 37002, 0);
    if (status == 0)
        status = transformed_case(&file, "square", "n = |V| = d = 4: a "
                                  "transposed T or product has the right "
                                  "shape, only its values are wrong", NULL,
                                  4, 4, 4, 0, 37003, 0);
    if (status == 0)
        status = transformed_case(&file, "width-one", "d = 1: T is a scalar",
                                  "edge_value", 2, 5, 1, 0, 37004, 0);
    if (status == 0)
        status = transformed_case(&file, "full-precision", "53-bit inputs, "
                                  "d = 6", NULL, 3, 7, 6, 0, 37005, 1);
    if (status == 0)
        status = gen_derive_invalid(&file);
    for (int kind = 0; kind < 3; kind++)
        transformed_invalid(&file, upstream_bad[kind].slug,
                            upstream_bad[kind].comment, 3, kind,
                            upstream_bad[kind].status);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* ---- adaptive tying --------------------------------------------------- */

static int adaptive_case(gen_file *file, const char *slug, const char *comment,
                         const char *flag, double alpha, unsigned long seed,
                         int full_precision)
{
    enum { N = 3, VOCAB = 8, D = 5 };
    gen_draws bag;
    gen_case c;
    gen_draws_init(&bag, seed, full_precision);
    double *h = gen_draw(&bag, N * D), *E = gen_draw(&bag, VOCAB * D);
    double *F = gen_draw(&bag, D * VOCAB), *dU = gen_draw(&bag, N * VOCAB);
    oracle_out dh = gen_grad_out_alloc(N * D), dE = gen_grad_out_alloc(VOCAB * D);
    oracle_out dF = gen_grad_out_alloc(D * VOCAB), dalpha = gen_grad_out_alloc(1);
    int status = oracle_head_adaptive_backward(dh, dE, dF, dalpha, h, E, F,
                                               alpha, dU, N, VOCAB, D);
    if (status == 0) {
        gen_case_begin_random(&c, file, slug, comment, flag, seed,
                              gen_draw_recipe(full_precision));
        gen_param_double(&c, "alpha", alpha);
        gen_input_f64(&c, "h", N, D, h);
        gen_input_f64(&c, "E", VOCAB, D, E);
        gen_input_f64(&c, "F", D, VOCAB, F);
        gen_input_f64(&c, "dlogits", N, VOCAB, dU);
        gen_expect_grad(&c, "dh", N, D, dh);
        gen_expect_grad(&c, "dE", VOCAB, D, dE);
        gen_expect_grad(&c, "dF", D, VOCAB, dF);
        gen_expect_grad(&c, "dalpha", 1, GEN_1D, dalpha);
        gen_case_end(&c);
    } else {
        status = gen_oracle_failed(file->op, slug);
    }
    gen_grad_out_free(&dh);
    gen_grad_out_free(&dE);
    gen_grad_out_free(&dF);
    gen_grad_out_free(&dalpha);
    gen_draws_free(&bag);
    return status;
}

static int gen_head_adaptive_backward(const char *dir)
{
    gen_file file;
    gen_file_init(&file, "head_adaptive_backward",
                  "spec/gradients.md#head_adaptive_backward");
    variant_notes(&file);
    int status = adaptive_case(&file, "alpha-one", "alpha = 1: the tied head; "
                               "dF is 0", "reduces_to_tied", 1.0, 38001, 0);
    if (status == 0)
        status = adaptive_case(&file, "alpha-zero", "alpha = 0: the untied "
                               "head with W = F; dE is 0", "reduces_to_untied",
                               0.0, 38002, 0);
    if (status == 0)
        status = adaptive_case(&file, "alpha-quarter", "alpha = 0.25", NULL,
                               0.25, 38003, 0);
    if (status == 0)
        status = adaptive_case(&file, "alpha-decimal", "alpha = 0.3 (not a "
                               "dyadic number)", NULL, 0.3, 38004, 0);
    if (status == 0)
        status = adaptive_case(&file, "full-precision", "53-bit inputs, "
                               "alpha = 0.625", NULL, 0.625, 38005, 1);
    static const struct {
        const char *slug, *comment, *status;
        double alpha;
        size_t f_rows;
        int upstream_kind; /* -1: good dlogits */
    } bad[] = { /* the forward's own errors: gen_derive_invalid */
        {"upstream-shape", "dlogits has one column too many", "LMR_EDIM", 0.5,
         3, 0},
        {"nan-in-upstream", "NaN in dlogits", "LMR_ENONFINITE", 0.5, 3, 1},
        {"inf-in-upstream", "-infinity in dlogits", "LMR_ENONFINITE", 0.5, 3, 2},
    };
    if (status == 0)
        status = gen_derive_invalid(&file);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gen_draws bag;
        gen_case c;
        gen_draws_init(&bag, 38900, 0);
        double *h = gen_draw(&bag, 6);
        double *E = gen_draw(&bag, 12);
        double *F = gen_draw(&bag, 16);
        double *dU = gen_draw(&bag, 10);
        gen_case_begin_random(&c, &file, bad[i].slug, bad[i].comment, NULL,
                              38900, gen_draw_recipe(0));
        gen_param_double(&c, "alpha", bad[i].alpha);
        gen_input_f64(&c, "h", 2, 3, h);
        gen_input_f64(&c, "E", 4, 3, E);
        gen_input_f64(&c, "F", bad[i].f_rows, 4, F);
        if (bad[i].upstream_kind >= 0)
            bad_upstream(&c, "dlogits", 2, 4, dU, bad[i].upstream_kind);
        else
            gen_input_f64(&c, "dlogits", 2, 4, dU);
        end_invalid(&c, bad[i].status);
        gen_draws_free(&bag);
    }
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* ---- MLP head --------------------------------------------------------- */

/* Unit roundoff of each class, in the order of enum vec_class. */
static const double class_unit[4] = {0x1p-53, 0x1p-24, 0x1p-8, 0x1p-11};

/* The classes in which every non-zero pre-activation's sign is safe:
 * min |a| / E(a) > 4 u_c. */
static unsigned relu_safe_classes(double min_margin)
{
    unsigned classes = 0;
    for (int cls = 0; cls < 4; cls++)
        if (min_margin > 4.0 * class_unit[cls])
            classes |= 1u << cls;
    return classes;
}

/* The inputs of one MLP case; `exact` cases give them by hand. */
typedef struct {
    const char *slug, *comment, *flag;
    size_t n, vocab, d, m;
    int tied, with_b1, with_b2;
    unsigned long seed;
    int full_precision;
    int exact; /* 1: the hand-made exact-arithmetic inputs below */
} mlp_config;

/* Pre-activations a = h W1 + b1 for n = 2, d = 3, m = 4: row 0 is
 * [0, 0.25, -0.5, 0] (the first 0 from h W1 alone, the last from
 * h W1 = 0.5 cancelled by b1 = -0.5), row 1 is [0.75, -0.5, 0.625, 1.25].
 * Every value is a multiple of 1/64 below 4 in magnitude: every product and
 * every partial sum, in any order, is exact even in bfloat16. */
static const double exact_h[2 * 3] = {1.0, 0.5, -1.0, 0.5, 1.0, 0.25};
static const double exact_W1[3 * 4] = {1.0, 0.5, 0.0, 1.0,
                                       0.0, -1.0, 1.0, 1.0,
                                       1.0, 0.0, 0.5, 1.0};
static const double exact_b1[4] = {0.0, 0.25, -0.5, -0.5};

static const mlp_config mlp_configs[] = {
    {"untied-biases", "hidden width 8, both biases; a pre-activation lies too "
     "close to 0 for bf16", NULL, 3, 8, 6, 8, 0, 1, 1, 39001, 0, 0},
    {"untied-biases-every-class", "the same sizes with a seed chosen so that "
     "every pre-activation is clear of 0 in every class", NULL, 3, 8, 6, 8, 0,
     1, 1, 39213, 0, 0},
    {"untied-no-bias", "no biases (db1 and db2 are still returned); seed "
     "chosen so that every class applies", NULL, 3, 6, 5, 4, 0, 0, 0, 39022,
     0, 0},
    {"untied-first-bias-only", "b1 but no b2; seed chosen so that every class "
     "applies", NULL, 2, 5, 4, 6, 0, 1, 0, 39018, 0, 0},
    {"tied-biases", "hidden width = d = 6, W2 = E^T, both biases; seed chosen "
     "so that every class applies", "tied_form", 3, 8, 6, 6, 1, 1, 1, 39046,
     0, 0},
    {"tied-no-bias", "hidden width = d = 4, W2 = E^T, no biases", "tied_form",
     3, 5, 4, 4, 1, 0, 0, 39005, 0, 0},
    {"relu-exact-zero", "pre-activations exactly 0 over the reals (one from "
     "h W1 alone, one where b1 cancels h W1) in exact dyadic arithmetic: "
     "ReLU's derivative there is 0", "exact_arithmetic", 2, 4, 3, 4, 0, 1, 1,
     39006, 0, 1},
    {"relu-exact-zero-no-b2", "the same exact pre-activations (two exactly 0) "
     "with another W2 and upstream gradient and no b2", "exact_arithmetic", 2,
     5, 3, 4, 0, 1, 0, 39009, 0, 1},
    {"full-precision", "53-bit inputs, hidden width 8", NULL, 3, 7, 6, 8, 0,
     1, 1, 39007, 1, 0},
    {"full-precision-tied", "53-bit inputs, tied, d = 5", "tied_form", 3, 6,
     5, 5, 1, 1, 1, 39008, 1, 0},
};

/* All seven arrays, drawn in the order h, W1, b1, W2, E, b2, dlogits
 * (each drawn whether or not the case uses it). */
typedef struct {
    double *h, *W1, *b1, *W2, *E, *b2, *dU;
} mlp_inputs;

static mlp_inputs mlp_draw(gen_draws *bag, const mlp_config *cfg)
{
    mlp_inputs in;
    in.h = gen_draw(bag, cfg->n * cfg->d);
    in.W1 = gen_draw(bag, cfg->d * cfg->m);
    in.b1 = gen_draw(bag, cfg->m);
    in.W2 = gen_draw(bag, cfg->m * cfg->vocab);
    in.E = gen_draw(bag, cfg->vocab * cfg->d);
    in.b2 = gen_draw(bag, cfg->vocab);
    in.dU = gen_draw(bag, cfg->n * (cfg->vocab + 1)); /* room for a bad shape */
    if (cfg->exact) {
        memcpy(in.h, exact_h, sizeof exact_h);
        memcpy(in.W1, exact_W1, sizeof exact_W1);
        memcpy(in.b1, exact_b1, sizeof exact_b1);
    }
    return in;
}

static const char *mlp_recipe(const mlp_config *cfg)
{
    if (cfg->exact)
        return "h, W1, b1, W2, E, b2, dlogits drawn in that order (each "
               "whether used or not): k/64, |k| <= 127; then h, W1, b1 "
               "replaced by hand-written values";
    return cfg->full_precision
        ? "h, W1, b1, W2, E, b2, dlogits drawn in that order (each whether "
          "used or not): 53-bit uniform in [-1, 1)"
        : "h, W1, b1, W2, E, b2, dlogits drawn in that order (each whether "
          "used or not): k/64, |k| <= 127";
}

static void mlp_fields(gen_case *c, const mlp_config *cfg, const mlp_inputs *in)
{
    gen_param_bool(c, "tied", cfg->tied);
    gen_input_f64(c, "h", cfg->n, cfg->d, in->h);
    gen_input_f64(c, "W1", cfg->d, cfg->m, in->W1);
    if (cfg->with_b1)
        gen_input_f64(c, "b1", cfg->m, GEN_1D, in->b1);
    if (cfg->tied)
        gen_input_f64(c, "E", cfg->vocab, cfg->d, in->E);
    else
        gen_input_f64(c, "W2", cfg->m, cfg->vocab, in->W2);
    if (cfg->with_b2)
        gen_input_f64(c, "b2", cfg->vocab, GEN_1D, in->b2);
}

typedef struct {
    oracle_out dh, dW1, db1, dW2, dE, db2;
} mlp_outputs;

static mlp_outputs mlp_outputs_alloc(const mlp_config *cfg)
{
    mlp_outputs out;
    out.dh = gen_grad_out_alloc(cfg->n * cfg->d);
    out.dW1 = gen_grad_out_alloc(cfg->d * cfg->m);
    out.db1 = gen_grad_out_alloc(cfg->m);
    out.dW2 = gen_grad_out_alloc(cfg->m * cfg->vocab);
    out.dE = gen_grad_out_alloc(cfg->vocab * cfg->d);
    out.db2 = gen_grad_out_alloc(cfg->vocab);
    if (cfg->tied) { /* not wanted */
        gen_grad_out_free(&out.dW2);
        out.dW2.value = out.dW2.scale = NULL;
    } else {
        gen_grad_out_free(&out.dE);
        out.dE.value = out.dE.scale = NULL;
    }
    return out;
}

static void mlp_outputs_free(mlp_outputs *out)
{
    gen_grad_out_free(&out->dh);
    gen_grad_out_free(&out->dW1);
    gen_grad_out_free(&out->db1);
    gen_grad_out_free(&out->dW2);
    gen_grad_out_free(&out->dE);
    gen_grad_out_free(&out->db2);
}

/* Checks the oracle's ReLU report against the case's intent; on success
 * restricts c to the classes whose signs are safe. */
static int mlp_check_relu(gen_case *c, const mlp_config *cfg,
                          double min_margin, int has_zero)
{
    unsigned safe = relu_safe_classes(min_margin);
    if (has_zero != cfg->exact) {
        fprintf(stderr, "lmr-gen: head_mlp_backward/%s: %s\n", cfg->slug,
                has_zero ? "a pre-activation is exactly 0 in a case not built "
                           "for exact arithmetic: choose another seed"
                         : "the exact-arithmetic case has no zero "
                           "pre-activation");
        return -1;
    }
    if (!(safe & 1u)) {
        fprintf(stderr, "lmr-gen: head_mlp_backward/%s: a pre-activation is "
                "too close to 0 even for fp64 (margin %g)\n", cfg->slug,
                min_margin);
        return -1;
    }
    if (safe != 0xFu) {
        gen_flag(c, "relu_sensitive");
        gen_restrict_classes(c, safe);
    }
    return 0;
}

static int mlp_case(gen_file *file, const mlp_config *cfg)
{
    gen_draws bag;
    gen_case c;
    double min_margin = 0;
    int has_zero = 0;
    gen_draws_init(&bag, cfg->seed, cfg->full_precision);
    mlp_inputs in = mlp_draw(&bag, cfg);
    mlp_outputs out = mlp_outputs_alloc(cfg);
    oracle_mlp_inputs oracle_in = {
        in.h, in.W1, cfg->with_b1 ? in.b1 : NULL, cfg->tied ? NULL : in.W2,
        cfg->tied ? in.E : NULL, cfg->with_b2 ? in.b2 : NULL, in.dU,
        cfg->n, cfg->vocab, cfg->d, cfg->m};
    int status = oracle_head_mlp_backward(out.dh, out.dW1, out.db1, out.dW2,
                                          out.dE, out.db2, &min_margin,
                                          &has_zero, &oracle_in);
    if (status == 0) {
        gen_case_begin(&c, file, cfg->slug, cfg->comment);
        gen_flag(&c, "random");
        gen_source(&c, cfg->seed, mlp_recipe(cfg));
        if (cfg->flag)
            gen_flag(&c, cfg->flag);
        status = mlp_check_relu(&c, cfg, min_margin, has_zero);
        mlp_fields(&c, cfg, &in);
        gen_input_f64(&c, "dlogits", cfg->n, cfg->vocab, in.dU);
        gen_expect_grad(&c, "dh", cfg->n, cfg->d, out.dh);
        gen_expect_grad(&c, "dW1", cfg->d, cfg->m, out.dW1);
        gen_expect_grad(&c, "db1", cfg->m, GEN_1D, out.db1);
        if (cfg->tied)
            gen_expect_grad(&c, "dE", cfg->vocab, cfg->d, out.dE);
        else
            gen_expect_grad(&c, "dW2", cfg->m, cfg->vocab, out.dW2);
        gen_expect_grad(&c, "db2", cfg->vocab, GEN_1D, out.db2);
        gen_case_end(&c);
    } else {
        status = gen_oracle_failed(file->op, cfg->slug);
    }
    mlp_outputs_free(&out);
    gen_draws_free(&bag);
    return status;
}

/* n = 2, d = 3, m = 4, |V| = 5. */
static void mlp_invalid(gen_file *file, const char *slug, const char *comment,
                        int tied, size_t b1_len, int bad_kind,
                        const char *status)
{
    mlp_config cfg = {slug, comment, NULL, 2, 5, 3, 4, tied, 1, 0, 39900, 0, 0};
    gen_draws bag;
    gen_case c;
    gen_draws_init(&bag, cfg.seed, 0);
    mlp_inputs in = mlp_draw(&bag, &cfg);
    if (bad_kind == 10)
        in.W1[2] = NAN;
    gen_case_begin_random(&c, file, slug, comment, NULL, cfg.seed,
                          gen_draw_recipe(0));
    gen_param_bool(&c, "tied", tied);
    gen_input_f64(&c, "h", 2, 3, in.h);
    gen_input_f64(&c, "W1", 3, 4, in.W1);
    gen_input_f64(&c, "b1", b1_len, GEN_1D, in.b1);
    if (tied)
        gen_input_f64(&c, "E", 5, 3, in.E); /* m = 4 != d = 3 */
    else
        gen_input_f64(&c, "W2", 4, 5, in.W2);
    if (bad_kind < 3)
        bad_upstream(&c, "dlogits", 2, 5, in.dU, bad_kind);
    else
        gen_input_f64(&c, "dlogits", 2, 5, in.dU);
    end_invalid(&c, status);
    gen_draws_free(&bag);
}

static int gen_head_mlp_backward(const char *dir)
{
    gen_file file;
    int status = 0;
    gen_file_init(&file, "head_mlp_backward",
                  "spec/gradients.md#head_mlp_backward");
    gen_note(&file, "tied_form", "W2 = E^T (the hidden width equals d); the "
             "output dE replaces dW2");
    gen_note(&file, "relu_sensitive", "some pre-activation lies so close to 0 "
             "that a narrow class could get its sign wrong (min |a| / E(a) "
             "<= 4 u): those classes are left out of the case");
    gen_note(&file, "exact_arithmetic", "pre-activations exactly 0 over the "
             "reals, from inputs whose products and partial sums every class "
             "computes exactly, so every class sees a = 0 and ReLU's "
             "derivative 0");
    for (size_t i = 0; i < sizeof mlp_configs / sizeof mlp_configs[0] &&
                       status == 0; i++)
        status = mlp_case(&file, &mlp_configs[i]);
    if (status == 0)
        status = gen_derive_invalid(&file);
    for (int kind = 0; kind < 3; kind++)
        mlp_invalid(&file, upstream_bad[kind].slug, upstream_bad[kind].comment,
                    0, 4, kind, upstream_bad[kind].status);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* ---- mixture of softmaxes, fixed weights ------------------------------ */

typedef struct {
    const char *slug, *comment, *flag;
    size_t n, vocab, d, K;
    double alpha[3];
    unsigned long seed;
    int full_precision;
} fixed_config;

static const fixed_config fixed_configs[] = {
    {"one-component", "K = 1: the log-softmax of the untied head; dalpha is "
     "0 over the reals", "reduces_to_softmax", 3, 6, 4, 1, {1}, 40001, 0},
    {"unnormalised-weights", "K = 2, weights 1 and 3 (normalised to 1/4 and "
     "3/4)", "normalised", 3, 6, 4, 2, {1, 3}, 40002, 0},
    {"zero-weight", "K = 3, weights 0.5, 0, 1.5: dW of the middle component "
     "is 0, its dalpha is not", "zero_weight", 3, 6, 4, 3, {0.5, 0, 1.5},
     40003, 0},
    {"three-components", "K = 3, weights 2, 1, 1", "normalised", 2, 8, 5, 3,
     {2, 1, 1}, 40004, 0},
    {"decimal-weights", "weights 0.2, 0.3, 0.5 (their double sum is not 1)",
     NULL, 2, 5, 4, 3, {0.2, 0.3, 0.5}, 40005, 0},
    {"full-precision", "53-bit inputs, K = 2, weights 0.25, 0.75", NULL, 3, 7,
     6, 2, {0.25, 0.75}, 40006, 1},
    {"zero-weight-first", "K = 2, weights 0, 2: the first component's dalpha "
     "is finite, its dW is 0", "zero_weight", 2, 5, 4, 2, {0, 2}, 40007, 0},
};

static int fixed_case(gen_file *file, const fixed_config *cfg)
{
    gen_draws bag;
    gen_case c;
    size_t n = cfg->n, vocab = cfg->vocab, d = cfg->d, K = cfg->K;
    gen_draws_init(&bag, cfg->seed, cfg->full_precision);
    double *h = gen_draw(&bag, n * d), *W = gen_draw(&bag, K * d * vocab);
    double *G = gen_draw(&bag, n * vocab);
    oracle_out dh = gen_grad_out_alloc(n * d), dW = gen_grad_out_alloc(K * d * vocab);
    oracle_out dalpha = gen_grad_out_alloc(K);
    int status = oracle_mos_fixed_backward(dh, dW, dalpha, h, W, cfg->alpha,
                                           G, n, vocab, d, K);
    if (status == 0) {
        size_t w_shape[3] = {K, d, vocab};
        gen_case_begin_random(&c, file, cfg->slug, cfg->comment, cfg->flag,
                              cfg->seed, gen_draw_recipe(cfg->full_precision));
        gen_input_f64(&c, "h", n, d, h);
        gen_input_f64_nd(&c, "W", 3, w_shape, W);
        gen_input_f64(&c, "alpha", K, GEN_1D, cfg->alpha);
        gen_input_f64(&c, "dlogprobs", n, vocab, G);
        gen_expect_grad(&c, "dh", n, d, dh);
        gen_expect_grad_3d(&c, "dW", K, d, vocab, dW);
        gen_expect_grad(&c, "dalpha", K, GEN_1D, dalpha);
        gen_case_end(&c);
    } else {
        status = gen_oracle_failed(file->op, cfg->slug);
    }
    gen_grad_out_free(&dh);
    gen_grad_out_free(&dW);
    gen_grad_out_free(&dalpha);
    gen_draws_free(&bag);
    return status;
}

/* n = 2, d = 3, |V| = 4, K = 2. */
static void fixed_invalid(gen_file *file, const char *slug, const char *comment,
                          const double *alpha, size_t alpha_len,
                          int upstream_kind, const char *status_name)
{
    static const size_t w_shape[3] = {2, 3, 4};
    gen_draws bag;
    gen_case c;
    gen_draws_init(&bag, 40900, 0);
    double *h = gen_draw(&bag, 6);
    double *W = gen_draw(&bag, 24);
    double *G = gen_draw(&bag, 10);
    gen_case_begin_random(&c, file, slug, comment, NULL, 40900,
                          gen_draw_recipe(0));
    gen_input_f64(&c, "h", 2, 3, h);
    gen_input_f64_nd(&c, "W", 3, w_shape, W);
    gen_input_f64(&c, "alpha", alpha_len, GEN_1D, alpha);
    if (upstream_kind >= 0)
        bad_upstream(&c, "dlogprobs", 2, 4, G, upstream_kind);
    else
        gen_input_f64(&c, "dlogprobs", 2, 4, G);
    end_invalid(&c, status_name);
    gen_draws_free(&bag);
}

static void mixture_notes(gen_file *file)
{
    gen_note(file, "reduces_to_softmax", "K = 1: a plain softmax head");
    gen_note(file, "normalised", "weights that do not sum to 1: the "
             "normalisation enters the gradients");
    gen_note(file, "zero_weight", "a component with weight 0");
    gen_note(file, "tied_output", "the output matrix is the tied E^T; the "
             "output dE replaces dW_out");
}

static int gen_mos_fixed_backward(const char *dir)
{
    static const double good[2] = {1, 3};
    gen_file file;
    int status = 0;
    gen_file_init(&file, "mos_fixed_backward",
                  "spec/gradients.md#mos_fixed_backward");
    mixture_notes(&file);
    for (size_t i = 0; i < sizeof fixed_configs / sizeof fixed_configs[0] &&
                       status == 0; i++)
        status = fixed_case(&file, &fixed_configs[i]);
    if (status == 0)
        status = gen_derive_invalid(&file);
    for (int kind = 0; kind < 3; kind++)
        fixed_invalid(&file, upstream_bad[kind].slug, upstream_bad[kind].comment,
                      good, 2, kind, upstream_bad[kind].status);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* ---- mixture of softmaxes, gated -------------------------------------- */

typedef struct {
    const char *slug, *comment, *flag;
    size_t n, vocab, d, K;
    int tied, with_bias;
    unsigned long seed;
    int full_precision;
} gated_config;

static const gated_config gated_configs[] = {
    {"one-component", "K = 1: pi = 1, so dW_pi is 0 over the reals; untied, "
     "no b_out", "reduces_to_softmax", 3, 6, 4, 1, 0, 0, 41001, 0},
    {"three-components-bias", "K = 3, untied, with b_out", NULL, 3, 6, 4, 3, 0,
     1, 41002, 0},
    {"three-components-tied", "K = 3, W_out = E^T, no b_out", "tied_output", 3,
     6, 4, 3, 1, 0, 41003, 0},
    {"one-component-tied-bias", "K = 1, W_out = E^T, with b_out",
     "tied_output", 2, 5, 3, 1, 1, 1, 41004, 0},
    {"two-components-tied-bias", "K = 2, W_out = E^T, with b_out",
     "tied_output", 3, 7, 4, 2, 1, 1, 41005, 0},
    {"full-precision", "53-bit inputs, K = 2, untied, with b_out", NULL, 2, 6,
     5, 2, 0, 1, 41006, 1},
};

/* h, W_pi, W_comp (K, d, comp_cols), b_comp, W_out, E, b_out, dlogprobs
 * (n, g_cols), drawn in that order (each whether used or not). */
typedef struct {
    double *h, *W_pi, *W_comp, *b_comp, *W_out, *E, *b_out, *G;
} gated_inputs;

static gated_inputs gated_draw(gen_draws *bag, size_t n, size_t vocab, size_t d,
                               size_t K, size_t comp_cols, size_t g_cols)
{
    gated_inputs in;
    in.h = gen_draw(bag, n * d);
    in.W_pi = gen_draw(bag, d * K);
    in.W_comp = gen_draw(bag, K * d * comp_cols);
    in.b_comp = gen_draw(bag, K * d);
    in.W_out = gen_draw(bag, d * vocab);
    in.E = gen_draw(bag, vocab * d);
    in.b_out = gen_draw(bag, vocab);
    in.G = gen_draw(bag, n * g_cols);
    return in;
}

static void gated_fields(gen_case *c, const gated_inputs *in, size_t n,
                         size_t vocab, size_t d, size_t K, int tied,
                         int with_bias, size_t comp_cols)
{
    size_t comp_shape[3] = {K, d, comp_cols};
    gen_param_bool(c, "tied", tied);
    gen_input_f64(c, "h", n, d, in->h);
    gen_input_f64(c, "W_pi", d, K, in->W_pi);
    gen_input_f64_nd(c, "W_comp", 3, comp_shape, in->W_comp);
    gen_input_f64(c, "b_comp", K, d, in->b_comp);
    if (tied)
        gen_input_f64(c, "E", vocab, d, in->E);
    else
        gen_input_f64(c, "W_out", d, vocab, in->W_out);
    if (with_bias)
        gen_input_f64(c, "b_out", vocab, GEN_1D, in->b_out);
}

static int gated_case(gen_file *file, const gated_config *cfg)
{
    gen_draws bag;
    gen_case c;
    size_t n = cfg->n, d = cfg->d, K = cfg->K, vocab = cfg->vocab;
    gen_draws_init(&bag, cfg->seed, cfg->full_precision);
    gated_inputs in = gated_draw(&bag, n, vocab, d, K, d, vocab);
    oracle_mos_gated_outputs out = {
        gen_grad_out_alloc(n * d), gen_grad_out_alloc(d * K),
        gen_grad_out_alloc(K * d * d), gen_grad_out_alloc(K * d),
        {NULL, NULL}, {NULL, NULL}, gen_grad_out_alloc(vocab)};
    if (cfg->tied)
        out.dE = gen_grad_out_alloc(vocab * d);
    else
        out.dW_out = gen_grad_out_alloc(d * vocab);
    oracle_mos_gated_inputs oracle_in = {
        in.h, in.W_pi, in.W_comp, in.b_comp, cfg->tied ? NULL : in.W_out,
        cfg->tied ? in.E : NULL, cfg->with_bias ? in.b_out : NULL, in.G,
        n, vocab, d, K};
    int status = oracle_mos_gated_backward(&out, &oracle_in);
    if (status == 0) {
        gen_case_begin(&c, file, cfg->slug, cfg->comment);
        gen_flag(&c, "random");
        gen_source(&c, cfg->seed, cfg->full_precision
                       ? "h, W_pi, W_comp, b_comp, W_out, E, b_out, dlogprobs "
                         "drawn in that order (each whether used or not): "
                         "53-bit uniform in [-1, 1)"
                       : "h, W_pi, W_comp, b_comp, W_out, E, b_out, dlogprobs "
                         "drawn in that order (each whether used or not): "
                         "k/64, |k| <= 127");
        if (cfg->flag)
            gen_flag(&c, cfg->flag);
        gated_fields(&c, &in, n, vocab, d, K, cfg->tied, cfg->with_bias, d);
        gen_input_f64(&c, "dlogprobs", n, vocab, in.G);
        gen_expect_grad(&c, "dh", n, d, out.dh);
        gen_expect_grad(&c, "dW_pi", d, K, out.dW_pi);
        gen_expect_grad_3d(&c, "dW_comp", K, d, d, out.dW_comp);
        gen_expect_grad(&c, "db_comp", K, d, out.db_comp);
        if (cfg->tied)
            gen_expect_grad(&c, "dE", vocab, d, out.dE);
        else
            gen_expect_grad(&c, "dW_out", d, vocab, out.dW_out);
        gen_expect_grad(&c, "db_out", vocab, GEN_1D, out.db_out);
        gen_case_end(&c);
    } else {
        status = gen_oracle_failed(file->op, cfg->slug);
    }
    gen_grad_out_free(&out.dh);
    gen_grad_out_free(&out.dW_pi);
    gen_grad_out_free(&out.dW_comp);
    gen_grad_out_free(&out.db_comp);
    gen_grad_out_free(&out.dW_out);
    gen_grad_out_free(&out.dE);
    gen_grad_out_free(&out.db_out);
    gen_draws_free(&bag);
    return status;
}

/* n = 2, d = 3, |V| = 4, K = 2, untied without b_out. kind: 0-2 bad
 * dlogprobs, 10 NaN in W_pi, 11 W_comp of K x d x (d + 1). */
static void gated_invalid(gen_file *file, const char *slug,
                          const char *comment, int kind,
                          const char *status_name)
{
    gen_draws bag;
    gen_case c;
    gen_draws_init(&bag, 41900, 0);
    gated_inputs in = gated_draw(&bag, 2, 4, 3, 2, 4, 5);
    if (kind == 10)
        in.W_pi[1] = NAN;
    gen_case_begin_random(&c, file, slug, comment, NULL, 41900,
                          gen_draw_recipe(0));
    gated_fields(&c, &in, 2, 4, 3, 2, 0, 0, kind == 11 ? 4 : 3);
    if (kind < 3)
        bad_upstream(&c, "dlogprobs", 2, 4, in.G, kind);
    else
        gen_input_f64(&c, "dlogprobs", 2, 4, in.G);
    end_invalid(&c, status_name);
    gen_draws_free(&bag);
}

static int gen_mos_gated_backward(const char *dir)
{
    gen_file file;
    int status = 0;
    gen_file_init(&file, "mos_gated_backward",
                  "spec/gradients.md#mos_gated_backward");
    mixture_notes(&file);
    for (size_t i = 0; i < sizeof gated_configs / sizeof gated_configs[0] &&
                       status == 0; i++)
        status = gated_case(&file, &gated_configs[i]);
    if (status == 0)
        status = gen_derive_invalid(&file);
    for (int kind = 0; kind < 3; kind++)
        gated_invalid(&file, upstream_bad[kind].slug, upstream_bad[kind].comment,
                      kind, upstream_bad[kind].status);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* ---- soft-tying regulariser ------------------------------------------- */

typedef struct {
    const char *slug, *comment, *flag;
    double lambda;
    enum oracle_reduction reduction; /* SUM or MEAN */
    double dloss;
    int w_is_e_transposed;
    unsigned long seed;
    int full_precision;
    int ignore_minus_one; /* 1: ignore_index = -1 (target 2 is -1), else -100 */
} soft_config;

static const soft_config soft_configs[] = {
    {"lambda-zero-mean", "lambda = 0: the cross-entropy's gradient only, dE "
     "is 0; mean, dloss = 1", NULL, 0.0, ORACLE_REDUCE_MEAN, 1.0, 0, 42001, 0, 0},
    {"lambda-zero-sum", "lambda = 0, sum, dloss = 0.5", NULL, 0.0,
     ORACLE_REDUCE_SUM, 0.5, 0, 42002, 0, 0},
    {"lambda-half-sum", "lambda = 0.5, sum, dloss = 1", NULL, 0.5,
     ORACLE_REDUCE_SUM, 1.0, 0, 42003, 0, 0},
    {"lambda-small-mean", "lambda = 0.01, mean, dloss = 2.5: the penalty's "
     "gradient 2 lambda dloss (W - E^T) is scaled by dloss too", NULL, 0.01,
     ORACLE_REDUCE_MEAN, 2.5, 0, 42004, 0, 0},
    {"lambda-one-sum", "lambda = 1, sum, dloss = -0.75", NULL, 1.0,
     ORACLE_REDUCE_SUM, -0.75, 0, 42005, 0, 0},
    {"tied-weights", "W = E^T: the penalty's gradient is exactly 0 (dE is 0)",
     "reduces_to_tied", 0.5, ORACLE_REDUCE_MEAN, 1.0, 1, 42006, 0, 0},
    {"full-precision", "53-bit inputs, lambda = 0.3, mean, dloss = 1", NULL,
     0.3, ORACLE_REDUCE_MEAN, 1.0, 0, 42007, 1, 0},
    {"custom-ignore-index", "ignore_index = -1 (target 2 is -1), lambda = "
     "0.5, mean over the 4 counted, dloss = 1.5", NULL, 0.5,
     ORACLE_REDUCE_MEAN, 1.5, 0, 42008, 0, 1},
};

static const char *const soft_reduction_names[] = {"none", "sum", "mean"};

static int soft_case(gen_file *file, const soft_config *cfg)
{
    enum { N = 5, VOCAB = 8, D = 4 };
    gen_draws bag;
    gen_case c;
    int64_t targets[N];
    gen_draws_init(&bag, cfg->seed, cfg->full_precision);
    double *h = gen_draw(&bag, N * D), *E = gen_draw(&bag, VOCAB * D);
    double *W = gen_draw(&bag, D * VOCAB);
    int64_t ignore_index = cfg->ignore_minus_one ? -1 : -100;
    gen_ids(bag.rng, targets, N, VOCAB);
    targets[2] = ignore_index; /* one ignored position */
    for (size_t v = 0; cfg->w_is_e_transposed && v < VOCAB; v++)
        for (size_t j = 0; j < D; j++)
            W[j * VOCAB + v] = E[v * D + j];
    oracle_out dh = gen_grad_out_alloc(N * D), dE = gen_grad_out_alloc(VOCAB * D);
    oracle_out dW = gen_grad_out_alloc(D * VOCAB);
    int status = oracle_soft_tie_loss_backward(dh, dE, dW, h, E, W, targets,
                                               N, VOCAB, D, cfg->lambda,
                                               cfg->reduction, ignore_index,
                                               cfg->dloss);
    if (status == 0) {
        gen_case_begin(&c, file, cfg->slug, cfg->comment);
        gen_flag(&c, "random");
        gen_source(&c, cfg->seed, cfg->full_precision
                       ? "h, E, W: 53-bit uniform in [-1, 1); then targets "
                         "uniform in [0, |V|), target 2 set to -100"
                       : cfg->ignore_minus_one
                       ? "h, E, W: k/64, |k| <= 127; then targets uniform in "
                         "[0, |V|), target 2 set to -1"
                       : "h, E, W: k/64, |k| <= 127; then targets uniform in "
                         "[0, |V|), target 2 set to -100");
        if (cfg->flag)
            gen_flag(&c, cfg->flag);
        gen_param_double(&c, "lambda", cfg->lambda);
        gen_param_string(&c, "reduction", soft_reduction_names[cfg->reduction]);
        gen_param_int(&c, "ignore_index", ignore_index);
        gen_input_f64(&c, "h", N, D, h);
        gen_input_f64(&c, "E", VOCAB, D, E);
        gen_input_f64(&c, "W", D, VOCAB, W);
        gen_input_i64(&c, "targets", N, GEN_1D, targets);
        gen_input_f64(&c, "dloss", 1, GEN_1D, &cfg->dloss);
        gen_expect_grad(&c, "dh", N, D, dh);
        gen_expect_grad(&c, "dE", VOCAB, D, dE);
        gen_expect_grad(&c, "dW", D, VOCAB, dW);
        gen_case_end(&c);
    } else {
        status = gen_oracle_failed(file->op, cfg->slug);
    }
    gen_grad_out_free(&dh);
    gen_grad_out_free(&dE);
    gen_grad_out_free(&dW);
    gen_draws_free(&bag);
    return status;
}

/* n = 2, d = 3, |V| = 4. */
static void soft_invalid(gen_file *file, const char *slug, const char *comment,
                         double lambda, const char *reduction, int64_t target,
                         const double *dloss, size_t dloss_len,
                         const char *status_name)
{
    gen_draws bag;
    gen_case c;
    int64_t targets[2] = {1, target};
    gen_draws_init(&bag, 42900, 0);
    double *h = gen_draw(&bag, 6);
    double *E = gen_draw(&bag, 12);
    double *W = gen_draw(&bag, 12);
    gen_case_begin_random(&c, file, slug, comment, NULL, 42900,
                          gen_draw_recipe(0));
    gen_param_double(&c, "lambda", lambda);
    gen_param_string(&c, "reduction", reduction);
    gen_param_int(&c, "ignore_index", -100);
    gen_input_f64(&c, "h", 2, 3, h);
    gen_input_f64(&c, "E", 4, 3, E);
    gen_input_f64(&c, "W", 3, 4, W);
    gen_input_i64(&c, "targets", 2, GEN_1D, targets);
    gen_input_f64(&c, "dloss", dloss_len, GEN_1D, dloss);
    end_invalid(&c, status_name);
    gen_draws_free(&bag);
}

static int gen_soft_tie_loss_backward(const char *dir)
{
    static const double one[2] = {1.0, 1.0}, nan_loss[1] = {NAN};
    static const double inf_loss[1] = {INFINITY};
    gen_file file;
    int status = 0;
    gen_file_init(&file, "soft_tie_loss_backward",
                  "spec/gradients.md#soft_tie_loss_backward");
    gen_note(&file, "reduces_to_tied", "W = E^T: the penalty and its "
             "gradient are 0");
    for (size_t i = 0; i < sizeof soft_configs / sizeof soft_configs[0] &&
                       status == 0; i++)
        status = soft_case(&file, &soft_configs[i]);
    if (status == 0)
        status = gen_derive_invalid(&file);
    soft_invalid(&file, "upstream-shape", "dloss has 2 entries", 0.5, "mean",
                 0, one, 2, "LMR_EDIM");
    soft_invalid(&file, "nan-in-upstream", "dloss NaN", 0.5, "sum", 0,
                 nan_loss, 1, "LMR_ENONFINITE");
    soft_invalid(&file, "inf-in-upstream", "dloss +infinity", 0.5, "sum", 0,
                 inf_loss, 1, "LMR_ENONFINITE");
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* The vector files this file writes (gen_ops.h). */
const gen_entry gen_grad_variants_files[] = {
    {"head_partial_backward", gen_head_partial_backward},
    {"head_transformed_backward", gen_head_transformed_backward},
    {"head_adaptive_backward", gen_head_adaptive_backward},
    {"head_mlp_backward", gen_head_mlp_backward},
    {"mos_fixed_backward", gen_mos_fixed_backward},
    {"mos_gated_backward", gen_mos_gated_backward},
    {"soft_tie_loss_backward", gen_soft_tie_loss_backward},
    {NULL, NULL},
};
