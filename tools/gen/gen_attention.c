/*
 * gen_attention.c -- cases for attention_weights (spec/attention.md): the
 * causal mask with n_q = n_k and n_q < n_k, the padding mask, both, rows
 * left with one key, scores past exp's overflow, d_k = 1 and an irrational
 * sqrt(d_k), ties, and the invalid inputs (fully masked rows, non-finite
 * entries, sizes that disagree). Inputs are multiples of 1/8 or 1/4 with
 * few bits, exact in every class, so that the narrow classes judge only
 * their arithmetic. attention_weights_backward (spec/gradients.md) reuses
 * the forward's cases with an upstream gradient dweights of k/16.
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
#include "oracle_attention.h"

#define MAX_ROWS 6
#define MAX_WIDTH 4
#define MAX_KEYS 6

/* A hand-written case. k_width and mask_length are 0 when they are d_k and
 * n_k (they differ only in the invalid cases of mismatched sizes). */
typedef struct {
    const char *slug, *comment;
    size_t n_q, n_k, d_k;
    int causal;
    int has_mask;
    int64_t key_mask[MAX_KEYS];
    double Q[MAX_ROWS][MAX_WIDTH];
    double K[MAX_KEYS][MAX_WIDTH];
    const char *error;  /* NULL for a valid case */
    size_t k_width;
    size_t mask_length;
} attention_config;

#define NO_MASK 0, {0}
#define MASK(...) 1, {__VA_ARGS__}
/* Four queries and five keys of width 4 that most cases share: scores
 * between -2 and 2, weights far from each other. */
#define Q4 {{1, 0.5, -0.5, 0.25}, {-0.5, 1, 0.25, 0.5}, {0.25, -1, 1, 0}, \
            {0.5, 0.5, 0.5, -1}}
#define K5 {{1, 1, 0, -0.5}, {-1, 0.5, 0.5, 1}, {0.5, -0.5, 1, 0.25}, \
            {0, 1, -1, 0.5}, {-0.25, -0.5, -0.5, -1}}

static const attention_config hand_cases[] = {
    {"plain", "no mask: every query reads every key (n_q, n_k, d_k "
     "pairwise different, so a transposition shows)",
     3, 5, 4, 0, NO_MASK, Q4, K5, NULL, 0, 0},
    {"causal-square", "causal with n_q = n_k: the lower triangle, the "
     "diagonal kept; query 0 reads key 0 alone",
     4, 4, 4, 1, NO_MASK, Q4, K5, NULL, 0, 0},
    {"causal-fewer-queries", "causal with n_q = 2 < n_k = 5, bottom-right: "
     "query 0 reads keys 0-3, query 1 every key (top-left alignment would "
     "give keys 0 and 0-1)",
     2, 5, 4, 1, NO_MASK, Q4, K5, NULL, 0, 0},
    {"causal-one-query", "causal with one query and four keys, a decoding "
     "step with a cache: the query reads every key",
     1, 4, 4, 1, NO_MASK, {{0.5, -1, 0.25, 1}}, K5, NULL, 0, 0},
    {"causal-three-of-five", "causal with n_q = 3, n_k = 5: query i reads "
     "keys 0 to i + 2",
     3, 5, 4, 1, NO_MASK, Q4, K5, NULL, 0, 0},
    {"padding", "keys 2 and 4 are padding (key_mask 0) for every query",
     3, 5, 4, 0, MASK(1, 1, 0, 1, 0), Q4, K5, NULL, 0, 0},
    {"padding-all-kept", "a key_mask of ones: the same weights as no mask",
     2, 3, 4, 0, MASK(1, 1, 1), Q4, K5, NULL, 0, 0},
    {"padding-one-key-left", "every key but key 3 is padding: weight 1 on "
     "key 3 in every row",
     2, 5, 4, 0, MASK(0, 0, 0, 1, 0), Q4, K5, NULL, 0, 0},
    {"causal-and-padding", "both masks: causal with n_q = n_k = 4 and key "
     "2 padding; a key is masked when either masks it",
     4, 4, 4, 1, MASK(1, 1, 0, 1), Q4, K5, NULL, 0, 0},
    {"causal-and-padding-fewer-queries", "both masks with n_q = 2 < n_k = "
     "5: key 0 padding, query 0 reads keys 1-3",
     2, 5, 4, 1, MASK(0, 1, 1, 1, 1), Q4, K5, NULL, 0, 0},
    {"large-scores", "scores near 800, past exp's overflow in binary64: "
     "only the subtraction of the row's largest score keeps exp finite",
     2, 3, 4, 0, NO_MASK,
     {{20, 20, 20, 20}, {20, 20, 20, 19.5}},
     {{20, 20, 20, 20}, {20, 20, 20, 19.5}, {20, 20, 19.75, 20}}, NULL, 0, 0},
    {"scores-near-100", "scores near 100, past exp's overflow in binary32 "
     "(88.7) but small enough for bf16 and fp16 to judge",
     2, 3, 1, 0, NO_MASK, {{10}, {-10}}, {{10}, {9.75}, {-10}}, NULL, 0, 0},
    {"d-one", "d_k = 1: the scores are plain products, sqrt(1) = 1",
     3, 3, 1, 0, NO_MASK, {{1}, {-0.5}, {2}}, {{1}, {0.5}, {-1}}, NULL, 0, 0},
    {"d-one-causal", "d_k = 1 and causal with n_q = n_k = 3",
     3, 3, 1, 1, NO_MASK, {{1}, {-0.5}, {2}}, {{1}, {0.5}, {-1}}, NULL, 0, 0},
    {"d-three", "d_k = 3: sqrt(3) is irrational, the exact scores are not "
     "doubles", 2, 4, 3, 0, NO_MASK,
     {{1, 0.5, -0.5}, {-0.5, 1, 0.25}},
     {{1, 1, 0}, {-1, 0.5, 0.5}, {0.5, -0.5, 1}, {0, 1, -1}}, NULL, 0, 0},
    {"ties", "keys 0 and 2 are equal: tied largest scores share the weight "
     "exactly", 2, 4, 4, 0, NO_MASK, Q4,
     {{1, 1, 0, -0.5}, {-1, 0.5, 0.5, 1}, {1, 1, 0, -0.5}, {0, 0, 0, 0}},
     NULL, 0, 0},
    {"equal-keys", "every key equal: the uniform row, 1/4 each",
     2, 4, 4, 0, NO_MASK, Q4,
     {{0.5, 0.5, 0.5, 0.5}, {0.5, 0.5, 0.5, 0.5}, {0.5, 0.5, 0.5, 0.5},
      {0.5, 0.5, 0.5, 0.5}}, NULL, 0, 0},
    {"one-key", "n_k = 1: weight 1 for every query", 3, 1, 4, 0, NO_MASK, Q4,
     K5, NULL, 0, 0},
    {"empty-queries", "n_q = 0: an empty 0 x n_k output", 0, 3, 4, 0,
     NO_MASK, Q4, K5, NULL, 0, 0},
    {"empty-queries-causal", "n_q = 0 with causal: still empty", 0, 3, 4, 1,
     NO_MASK, Q4, K5, NULL, 0, 0},

    /* invalid: one problem each */
    {"fully-masked-padding", "every key is padding: a row with no key, "
     "rejected as softmax rejects a row of only -inf",
     2, 3, 4, 0, MASK(0, 0, 0), Q4, K5, "LMR_EDOMAIN", 0, 0},
    {"fully-masked-causal", "causal with n_q = 3 > n_k = 2: query 0 stands "
     "before every key (bottom-right alignment)",
     3, 2, 4, 1, NO_MASK, Q4, K5, "LMR_EDOMAIN", 0, 0},
    {"fully-masked-both", "causal with n_q = n_k = 3 and key 0 padding: "
     "query 0's only key is padding",
     3, 3, 4, 1, MASK(0, 1, 1), Q4, K5, "LMR_EDOMAIN", 0, 0},
    {"key-mask-two", "a key_mask entry of 2 is not 0 or 1",
     2, 3, 4, 0, MASK(1, 2, 1), Q4, K5, "LMR_EDOMAIN", 0, 0},
    {"key-mask-negative", "a key_mask entry of -1",
     2, 3, 4, 0, MASK(1, 1, -1), Q4, K5, "LMR_EDOMAIN", 0, 0},
    {"nan-query", "a NaN in Q", 2, 3, 4, 0, NO_MASK,
     {{1, NAN, 0, 0}, {0, 1, 0, 0}}, K5, "LMR_ENONFINITE", 0, 0},
    {"inf-key", "+inf in K", 2, 3, 4, 0, NO_MASK, Q4,
     {{1, 0, 0, 0}, {0, INFINITY, 0, 0}, {0, 0, 1, 0}}, "LMR_ENONFINITE", 0, 0},
    {"minus-inf-key", "-inf in K is not a mask: masks are given by "
     "key_mask and causal", 2, 3, 4, 0, NO_MASK, Q4,
     {{1, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, -INFINITY, 0}}, "LMR_ENONFINITE",
     0, 0},
    {"width-mismatch", "K is 3 x 3 while Q is 2 x 4", 2, 3, 4, 0, NO_MASK,
     Q4, K5, "LMR_EDIM", 3, 0},
    {"key-mask-length", "key_mask of length 2 for 3 keys", 2, 3, 4, 0,
     MASK(1, 1), Q4, K5, "LMR_EDIM", 0, 2},
    {"d-zero", "d_k = 0: no score has a scale", 2, 3, 0, 0, NO_MASK, Q4, K5,
     "LMR_EDIM", 0, 0},
    {"no-keys", "n_k = 0: no distribution over an empty set of keys", 2, 0,
     4, 0, NO_MASK, Q4, K5, "LMR_EDIM", 0, 0},
};

/* The case's inputs as flat arrays. q: (n_q, d_k); k: (n_k, k_width) */
static void flatten(const attention_config *cfg, double *q, double *k,
                    size_t k_width)
{
    for (size_t i = 0; i < cfg->n_q; i++)
        for (size_t l = 0; l < cfg->d_k; l++)
            q[i * cfg->d_k + l] = cfg->Q[i][l];
    for (size_t j = 0; j < cfg->n_k; j++)
        for (size_t l = 0; l < k_width; l++)
            k[j * k_width + l] = cfg->K[j][l];
}

/* Expected weights from the oracle; 0, or -1 after printing an error.
 * q: (n_q, d_k); k: (n_k, d_k); key_mask: (n_k) or NULL */
static int expect_weights(gen_case *c, const double *q, const double *k,
                          const int64_t *key_mask, size_t n_q, size_t n_k,
                          size_t d_k, int causal)
{
    double tolerance_k;
    double *weights = calloc(n_q * n_k + 1, sizeof(double));
    double *scale = calloc(n_q * n_k + 1, sizeof(double));
    int status = weights && scale
                     ? oracle_attention_weights(weights, scale, &tolerance_k,
                                                q, k, key_mask, n_q, n_k, d_k,
                                                causal)
                     : -1;
    if (status == 0)
        gen_expect(c, "weights", n_q, n_k, weights, tolerance_k, scale);
    else
        fprintf(stderr, "lmr-gen: %s: oracle failed\n", c->id);
    free(weights);
    free(scale);
    return status;
}

static int hand_case(gen_file *file, const attention_config *cfg)
{
    gen_case c;
    size_t k_width = cfg->k_width ? cfg->k_width : cfg->d_k;
    size_t mask_length = cfg->mask_length ? cfg->mask_length : cfg->n_k;
    double q[MAX_ROWS * MAX_WIDTH + 1], k[MAX_KEYS * MAX_WIDTH + 1];
    flatten(cfg, q, k, k_width);
    gen_case_begin(&c, file, cfg->slug, cfg->comment);
    gen_flag(&c, "edge");
    if (cfg->causal)
        gen_flag(&c, "causal");
    if (cfg->has_mask)
        gen_flag(&c, "padding");
    gen_param_bool(&c, "causal", cfg->causal);
    gen_input_f64(&c, "Q", cfg->n_q, cfg->d_k, q);
    gen_input_f64(&c, "K", cfg->n_k, k_width, k);
    if (cfg->has_mask)
        gen_input_i64(&c, "key_mask", mask_length, GEN_1D, cfg->key_mask);
    int status = 0;
    if (cfg->error != NULL)
        gen_invalid(&c, cfg->error);
    else
        status = expect_weights(&c, q, k, cfg->has_mask ? cfg->key_mask : NULL,
                                cfg->n_q, cfg->n_k, cfg->d_k, cfg->causal);
    gen_case_end(&c);
    return status;
}

/* A random case: Q and K of gen_draw_values (k/64, or 53 bits), the mask
 * with some padding when padded (never every key). */
static int random_case(gen_file *file, const char *slug, const char *comment,
                       size_t n_q, size_t n_k, size_t d_k, int causal,
                       int padded, unsigned long seed, int full_precision)
{
    gen_case c;
    gen_draws bag;
    gen_draws_init(&bag, seed, full_precision);
    double *q = gen_draw(&bag, n_q * d_k);
    double *k = gen_draw(&bag, n_k * d_k);
    int64_t *key_mask = calloc(n_k + 1, sizeof(int64_t));
    for (size_t j = 0; j < n_k; j++)
        key_mask[j] = (j % 3 == 1) ? 0 : 1; /* keys 1, 4, 7, ... padding */
    gen_case_begin_random(&c, file, slug, comment, causal ? "causal" : NULL,
                          seed, gen_draw_recipe(full_precision));
    if (padded)
        gen_flag(&c, "padding");
    gen_param_bool(&c, "causal", causal);
    gen_input_f64(&c, "Q", n_q, d_k, q);
    gen_input_f64(&c, "K", n_k, d_k, k);
    if (padded)
        gen_input_i64(&c, "key_mask", n_k, GEN_1D, key_mask);
    int status = expect_weights(&c, q, k, padded ? key_mask : NULL, n_q, n_k,
                                d_k, causal);
    gen_case_end(&c);
    free(key_mask);
    gen_draws_free(&bag);
    return status;
}

static int gen_attention_weights(const char *dir)
{
    gen_file file;
    int status = 0;
    gen_file_init(&file, "attention_weights",
                  "spec/attention.md#attention_weights");
    gen_note(&file, "causal", "the causal mask, aligned bottom-right");
    gen_note(&file, "padding", "a key_mask is given");
    for (size_t i = 0; i < sizeof hand_cases / sizeof hand_cases[0]; i++)
        if (hand_case(&file, &hand_cases[i]) != 0)
            status = -1;
    if (status == 0)
        status = random_case(&file, "random-small", "6 queries, 8 keys of "
                             "width 16, k/64", 6, 8, 16, 0, 0, 7101, 0);
    if (status == 0)
        status = random_case(&file, "random-causal-padded", "causal over 8 "
                             "keys with 5 queries and keys 1, 4, 7 padding, "
                             "k/64", 5, 8, 16, 1, 1, 7102, 0);
    if (status == 0)
        status = random_case(&file, "random-full-precision", "53-bit inputs, "
                             "causal, 7 queries and 7 keys of width 12", 7, 7,
                             12, 1, 0, 7103, 1);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* ==== attention_weights_backward ======================================= */

/* How dweights is made for a backward case: k/16 with |k| <= 32 from a
 * seed, or a constant per row (the upstream gradient of a loss that reads
 * only each row's sum, whose gradient is exactly 0). */
typedef enum { UPSTREAM_RANDOM, UPSTREAM_CONSTANT } upstream_kind;

/* A backward case: a forward case (by slug) and how G is made. */
typedef struct {
    const char *forward_slug;
    const char *slug, *comment;
    upstream_kind upstream;
    unsigned long seed;
    const char *error; /* NULL, or a problem of the upstream gradient */
    size_t g_cols;     /* 0: n_k (else the invalid shape) */
} backward_config;

static const backward_config backward_cases[] = {
    {"plain", "plain", "no mask, n_q, n_k, d_k pairwise different",
     UPSTREAM_RANDOM, 7201, NULL, 0},
    {"causal-square", "causal-square", "causal with n_q = n_k: masked keys "
     "get dS = 0", UPSTREAM_RANDOM, 7202, NULL, 0},
    {"causal-fewer-queries", "causal-fewer-queries", "causal with n_q < n_k, "
     "bottom-right", UPSTREAM_RANDOM, 7203, NULL, 0},
    {"padding", "padding", "keys 2 and 4 padding: their dK rows are exactly "
     "0, the upstream gradient there is ignored", UPSTREAM_RANDOM, 7204, NULL,
     0},
    {"causal-and-padding", "causal-and-padding", "both masks",
     UPSTREAM_RANDOM, 7205, NULL, 0},
    {"padding", "constant-upstream", "a constant upstream row: dS = 0, so dQ "
     "and dK are exactly 0", UPSTREAM_CONSTANT, 7206, NULL, 0},
    {"padding-one-key-left", "one-key-left", "one key left per row: its "
     "weight is the constant 1, every gradient is exactly 0",
     UPSTREAM_RANDOM, 7207, NULL, 0},
    {"d-one", "d-one", "d_k = 1", UPSTREAM_RANDOM, 7208, NULL, 0},
    {"d-three", "d-three", "d_k = 3, an irrational 1/sqrt(3)",
     UPSTREAM_RANDOM, 7209, NULL, 0},
    {"equal-keys", "equal-keys", "every key equal: dQ is exactly 0 (each row "
     "of dS sums to 0), dK is not", UPSTREAM_RANDOM, 7210, NULL, 0},
    {"scores-near-100", "scores-near-100", "scores near 100: weights of "
     "1e-87 and their gradients", UPSTREAM_RANDOM, 7211, NULL, 0},
    {"empty-queries", "empty-queries", "n_q = 0: dQ empty, dK zeros",
     UPSTREAM_RANDOM, 7212, NULL, 0},
    {"plain", "upstream-nan", "a NaN in dweights", UPSTREAM_RANDOM, 7216,
     "LMR_ENONFINITE", 0},
    {"plain", "upstream-shape", "dweights of n_q x (n_k - 1)",
     UPSTREAM_RANDOM, 7217, "LMR_EDIM", 4},
};

static const attention_config *forward_case(const char *slug)
{
    for (size_t i = 0; i < sizeof hand_cases / sizeof hand_cases[0]; i++)
        if (strcmp(hand_cases[i].slug, slug) == 0)
            return &hand_cases[i];
    return NULL;
}

/* G (n_q, g_cols) as the case says. */
static void make_upstream(double *G, const backward_config *b, size_t n_q,
                          size_t g_cols)
{
    gsl_rng *rng = gen_rng(b->seed);
    gen_dyadic(rng, G, n_q * g_cols, 4, 32);
    gsl_rng_free(rng);
    for (size_t i = 0; b->upstream == UPSTREAM_CONSTANT && i < n_q; i++)
        for (size_t j = 0; j < g_cols; j++)
            G[i * g_cols + j] = G[i * g_cols];
    if (b->error != NULL && strcmp(b->slug, "upstream-nan") == 0)
        G[n_q * g_cols - 1] = NAN;
}

static int expect_gradients(gen_case *c, const attention_config *cfg,
                            const double *q, const double *k,
                            const double *G)
{
    oracle_out dQ = gen_grad_out_alloc(cfg->n_q * cfg->d_k);
    oracle_out dK = gen_grad_out_alloc(cfg->n_k * cfg->d_k);
    int status = oracle_attention_weights_backward(
        dQ, dK, q, k, cfg->has_mask ? cfg->key_mask : NULL, G, cfg->n_q,
        cfg->n_k, cfg->d_k, cfg->causal);
    if (status == 0) {
        gen_expect_grad(c, "dQ", cfg->n_q, cfg->d_k, dQ);
        gen_expect_grad(c, "dK", cfg->n_k, cfg->d_k, dK);
    } else {
        status = gen_oracle_failed("attention_weights_backward", c->id);
    }
    gen_grad_out_free(&dQ);
    gen_grad_out_free(&dK);
    return status;
}

static int backward_case(gen_file *file, const backward_config *b)
{
    const attention_config *cfg = forward_case(b->forward_slug);
    if (cfg == NULL)
        return gen_oracle_failed("attention_weights_backward", b->slug);
    gen_case c;
    size_t k_width = cfg->k_width ? cfg->k_width : cfg->d_k;
    size_t mask_length = cfg->mask_length ? cfg->mask_length : cfg->n_k;
    size_t g_cols = b->g_cols ? b->g_cols : cfg->n_k;
    double q[MAX_ROWS * MAX_WIDTH + 1], k[MAX_KEYS * MAX_WIDTH + 1];
    double G[MAX_ROWS * MAX_KEYS + 1];
    flatten(cfg, q, k, k_width);
    make_upstream(G, b, cfg->n_q, g_cols);
    gen_case_begin(&c, file, b->slug, b->comment);
    gen_flag(&c, "edge");
    if (cfg->causal)
        gen_flag(&c, "causal");
    if (cfg->has_mask)
        gen_flag(&c, "padding");
    gen_source(&c, b->seed, b->upstream == UPSTREAM_CONSTANT
                                ? "dweights: row i all equal to k/16, k uniform in [-32, 32]"
                                : "dweights: k/16, k uniform in [-32, 32]");
    gen_param_bool(&c, "causal", cfg->causal);
    gen_input_f64(&c, "Q", cfg->n_q, cfg->d_k, q);
    gen_input_f64(&c, "K", cfg->n_k, k_width, k);
    if (cfg->has_mask)
        gen_input_i64(&c, "key_mask", mask_length, GEN_1D, cfg->key_mask);
    gen_input_f64(&c, "dweights", cfg->n_q, g_cols, G);
    int status = 0;
    const char *error = b->error ? b->error : cfg->error;
    if (error != NULL)
        gen_invalid(&c, error);
    else
        status = expect_gradients(&c, cfg, q, k, G);
    gen_case_end(&c);
    return status;
}

/* A random backward case: Q, K and dweights of gen_draw_values. */
static int random_backward_case(gen_file *file, const char *slug,
                                const char *comment, size_t n_q, size_t n_k,
                                size_t d_k, int causal, unsigned long seed,
                                int full_precision)
{
    gen_case c;
    gen_draws bag;
    gen_draws_init(&bag, seed, full_precision);
    double *q = gen_draw(&bag, n_q * d_k);
    double *k = gen_draw(&bag, n_k * d_k);
    double *G = gen_draw(&bag, n_q * n_k);
    int64_t key_mask[MAX_KEYS * 2];
    for (size_t j = 0; j < n_k; j++)
        key_mask[j] = (j % 3 == 1) ? 0 : 1;
    gen_case_begin_random(&c, file, slug, comment, causal ? "causal" : NULL,
                          seed, gen_draw_recipe(full_precision));
    gen_flag(&c, "padding");
    gen_param_bool(&c, "causal", causal);
    gen_input_f64(&c, "Q", n_q, d_k, q);
    gen_input_f64(&c, "K", n_k, d_k, k);
    gen_input_i64(&c, "key_mask", n_k, GEN_1D, key_mask);
    gen_input_f64(&c, "dweights", n_q, n_k, G);
    attention_config cfg = {slug, comment, n_q, n_k, d_k, causal, 1, {0},
                            {{0}}, {{0}}, NULL, 0, 0};
    memcpy(cfg.key_mask, key_mask, n_k * sizeof key_mask[0]);
    int status = expect_gradients(&c, &cfg, q, k, G);
    gen_case_end(&c);
    gen_draws_free(&bag);
    return status;
}

static int gen_attention_weights_backward(const char *dir)
{
    gen_file file;
    int status = 0;
    gen_file_init(&file, "attention_weights_backward",
                  "spec/gradients.md#attention_weights_backward");
    gen_note(&file, "causal", "the causal mask, aligned bottom-right");
    gen_note(&file, "padding", "a key_mask is given");
    for (size_t i = 0; i < sizeof backward_cases / sizeof backward_cases[0]; i++)
        if (backward_case(&file, &backward_cases[i]) != 0)
            status = -1;
    if (status == 0) /* the forward's errors */
        status = gen_derive_invalid(&file);
    if (status == 0)
        status = random_backward_case(&file, "random-causal-padded", "causal "
                                      "over 6 keys with 4 queries, keys 1 and "
                                      "4 padding, k/64", 4, 6, 8, 1, 7221, 0);
    if (status == 0)
        status = random_backward_case(&file, "random-full-precision", "53-bit "
                                      "inputs, 5 queries, 6 keys of width 5 "
                                      "with padding", 5, 6, 5, 0, 7222, 1);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* The vector files this file writes (gen_ops.h). */
const gen_entry gen_attention_files[] = {
    {"attention_weights", gen_attention_weights},
    {"attention_weights_backward", gen_attention_weights_backward},
    {NULL, NULL},
};
