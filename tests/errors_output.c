/*
 * errors_output.c -- TAP test of every documented error of the output-side
 * functions of lmref: lmr_head_tied, lmr_head_untied, lmr_softmax,
 * lmr_log_softmax, lmr_cross_entropy, lmr_argmax, lmr_sample,
 * lmr_logit_lens and lmr_param_count (ref/lmr_head.h, lmr_softmax.h,
 * lmr_sample.h, lmr_lens.h, lmr_params.h; spec/head.md, softmax.md,
 * sampling.md, logit_lens.md, param_count.md, errors.md).
 *
 * Why: a reference that accepts bad input, or reports it with the wrong code,
 * lets the bug it exists to expose pass silently. So each bad input is its own
 * TAP line asserting the exact status the headers and the spec document,
 * followed by a line checking that every output array still holds its
 * sentinel: the library promises to write nothing unless it returns LMR_OK
 * (lmr_status.h), including when the bad entry is in the last row or in a row
 * of E that no logit needs before the others are done.
 *
 * Calls whose size products overflow pass small dummy arrays whose last entry
 * is a tripwire (a NaN, an out-of-range target): a library that reads before
 * it checks the sizes stops there with a wrong code instead of running off the
 * end of the array, so the failure is visible without a crash.
 *
 * n = 0 (an empty batch) must be accepted, with NULL for every array of zero
 * elements (spec/errors.md: "an array may be NULL only when its element count
 * is 0"; spec/conventions.md: "n = 0 ... is allowed"), and cross-entropy's
 * documented values for an empty or all-ignored batch are checked: none
 * writes nothing, sum gives 0, mean gives NaN (spec/softmax.md).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lmr.h"
#include "check.h"
#include "tap.h"

/* ---- fixtures ------------------------------------------------------------ */

enum {
    VOCAB = 3,        /* |V| of every fixture */
    WIDTH = 2,        /* d of every fixture */
    BATCH = 3,        /* n of every fixture */
    LAYERS = 2,       /* L of the lens fixture */
    TOP_K = 2,        /* k of the lens fixture */
    OUT_CAPACITY = 64 /* entries in every output buffer */
};

static const double SENTINEL = 12345.0;
static const int64_t TOKEN_SENTINEL = 987654321;
static const int64_t IGNORE = LMR_DEFAULT_IGNORE_INDEX;
static const double EPS = LMR_LAYERNORM_DEFAULT_EPS;

/* E: (VOCAB, WIDTH) */
static const double TABLE_E[VOCAB * WIDTH] = {0.5, -1.0, 2.0, 0.25, -3.0, 4.0};
/* W: (WIDTH, VOCAB), the transpose of TABLE_E */
static const double TABLE_W[WIDTH * VOCAB] = {0.5, 2.0, -3.0, -1.0, 0.25, 4.0};
/* b: (VOCAB) */
static const double GOOD_BIAS[VOCAB] = {0.125, -1.0, 2.0};
/* h: (BATCH, WIDTH) */
static const double GOOD_H[BATCH * WIDTH] = {1, 2, -3, 5, 0.5, 0.25};
/* logits: (BATCH, VOCAB), one masked entry in rows 0 and 2 */
static const double GOOD_LOGITS[BATCH * VOCAB] = {
    1.0, -INFINITY, 0.5,
    2.0, 2.0, -1.0,
    -INFINITY, 0.25, 3.0};
/* targets: (BATCH), the middle one ignored */
static const int64_t GOOD_TARGETS[BATCH] = {0, LMR_DEFAULT_IGNORE_INDEX, 2};
/* r: (BATCH) */
static const double GOOD_R[BATCH] = {0.0, 0.5, 0.75};
/* hidden: (LAYERS, BATCH, WIDTH) */
static const double GOOD_HIDDEN[LAYERS * BATCH * WIDTH] = {
    1, 2, -3, 5, 0.5, 0.25,
    -1, 0.5, 2, 2, 0.75, -4};
/* gamma, beta: (WIDTH) */
static const double GOOD_GAMMA[WIDTH] = {1.5, -2.0};
static const double GOOD_BETA[WIDTH] = {0.0, 0.125};

/* Dummy arrays for calls whose sizes overflow; the last entry is a tripwire.
 * TRIPWIRE_VALUES, TRIPWIRE_TARGETS, TRIPWIRE_R: (4) */
static const double TRIPWIRE_VALUES[4] = {1.0, 1.0, 1.0, NAN};
static const int64_t TRIPWIRE_TARGETS[4] = {0, 0, 0, -1};
static const double TRIPWIRE_R[4] = {0.5, 0.5, 0.5, NAN};

/* A size whose product with 2, 3 or 8 (bytes) overflows size_t. */
static const size_t HUGE_SIZE = SIZE_MAX / 2;
/* A count whose product with 8 bytes fits, but not with 3 * 8. */
static const size_t LARGE_SIZE = SIZE_MAX / 16;

/* ---- helpers ------------------------------------------------------------- */

/* Every output buffer a call may write. */
struct outputs {
    double values[OUT_CAPACITY];    /* logits, probs, logprobs or loss */
    int64_t tokens[OUT_CAPACITY];   /* argmax, sample, lens top_tokens */
    double top_probs[OUT_CAPACITY]; /* lens top_probs */
};

static void fill_sentinels(struct outputs *out)
{
    for (size_t i = 0; i < OUT_CAPACITY; i++) {
        out->values[i] = SENTINEL;
        out->tokens[i] = TOKEN_SENTINEL;
        out->top_probs[i] = SENTINEL;
    }
}

/* 1 if values[from..OUT_CAPACITY) all hold the sentinel, bit for bit. */
static int values_untouched_from(const double *values, size_t from)
{
    for (size_t i = from; i < OUT_CAPACITY; i++)
        if (memcmp(&values[i], &SENTINEL, sizeof SENTINEL) != 0)
            return 0;
    return 1;
}

/* 1 if every buffer of out still holds its sentinel everywhere. */
static int untouched(const struct outputs *out)
{
    for (size_t i = 0; i < OUT_CAPACITY; i++)
        if (out->tokens[i] != TOKEN_SENTINEL)
            return 0;
    return values_untouched_from(out->values, 0)
           && values_untouched_from(out->top_probs, 0);
}

/* Two TAP lines: the call returned `expected` and left every output
 * buffer of out untouched. */
static void expect_rejected(int status, int expected,
                            const struct outputs *out, const char *what)
{
    expect_status(status, expected, what);
    tap_ok(untouched(out), "%s: output not written", what);
}

/* ---- lmr_head_tied ------------------------------------------------------- */

struct tied_args {
    const double *h;     /* (n, d) */
    const double *table; /* E: (vocab, d) */
    size_t n, vocab, d;
};

static struct tied_args tied_defaults(void)
{
    struct tied_args args = {GOOD_H, TABLE_E, BATCH, VOCAB, WIDTH};
    return args;
}

/* Runs lmr_head_tied into fresh sentinel-filled outputs. */
static int run_tied(struct tied_args args, struct outputs *out)
{
    fill_sentinels(out);
    return lmr_head_tied(lmr_mat_out_of(out->values, args.n, args.vocab),
                         lmr_mat_of(args.h, args.n, args.d),
                         lmr_mat_of(args.table, args.vocab, args.d));
}

static void tied_rejects(struct tied_args args, int expected, const char *what)
{
    struct outputs out;
    expect_rejected(run_tied(args, &out), expected, &out, what);
}

/* A non-finite value at `position` of h or of E. */
static void tied_bad_h(size_t position, double value, const char *what)
{
    double h[BATCH * WIDTH]; /* (BATCH, WIDTH) */
    struct tied_args args = tied_defaults();
    copy_with(h, GOOD_H, BATCH * WIDTH, position, value);
    args.h = h;
    tied_rejects(args, LMR_ENONFINITE, what);
}

static void tied_bad_table(size_t position, double value, size_t n,
                           const char *what)
{
    double table[VOCAB * WIDTH]; /* (VOCAB, WIDTH) */
    struct tied_args args = tied_defaults();
    copy_with(table, TABLE_E, VOCAB * WIDTH, position, value);
    args.table = table;
    args.n = n;
    tied_rejects(args, LMR_ENONFINITE, what);
}

static void test_tied_values(void)
{
    tied_bad_h(BATCH * WIDTH - 1, NAN, "lmr_head_tied: NaN in the last row of h");
    tied_bad_h(0, INFINITY, "lmr_head_tied: +inf in h");
    tied_bad_h(3, -INFINITY, "lmr_head_tied: -inf in h");
    tied_bad_table(0, NAN, BATCH, "lmr_head_tied: NaN in the first row of E");
    tied_bad_table(VOCAB * WIDTH - 1, INFINITY, BATCH,
                   "lmr_head_tied: +inf in the last row of E");
    tied_bad_table(WIDTH, -INFINITY, BATCH, "lmr_head_tied: -inf in row 1 of E");
    tied_bad_table(VOCAB * WIDTH - 1, NAN, 0,
                   "lmr_head_tied: NaN in E with n = 0");
}

static void test_tied_sizes(void)
{
    struct tied_args args = tied_defaults();
    args.d = 0;
    tied_rejects(args, LMR_EDIM, "lmr_head_tied: d = 0");
    args = tied_defaults();
    args.vocab = 0;
    tied_rejects(args, LMR_EDIM, "lmr_head_tied: |V| = 0");
    args.n = 0;
    tied_rejects(args, LMR_EDIM, "lmr_head_tied: |V| = 0 with n = 0");

    args = tied_defaults();
    args.h = TRIPWIRE_VALUES;
    args.table = TRIPWIRE_VALUES;
    args.n = HUGE_SIZE;
    args.vocab = 1;
    args.d = 3;
    tied_rejects(args, LMR_EOVERFLOW,
                 "lmr_head_tied: n*d overflows (n = SIZE_MAX/2, d = 3)");
    args.n = LARGE_SIZE;
    args.vocab = 3;
    args.d = 1;
    tied_rejects(args, LMR_EOVERFLOW,
                 "lmr_head_tied: only n*|V| overflows (n = SIZE_MAX/16, |V| = 3, d = 1)");
    args.n = 1;
    args.vocab = LARGE_SIZE;
    args.d = 3;
    tied_rejects(args, LMR_EOVERFLOW,
                 "lmr_head_tied: only |V|*d overflows (|V| = SIZE_MAX/16, d = 3, n = 1)");
}

static void test_tied_null_and_empty(void)
{
    struct outputs out;
    struct tied_args args = tied_defaults();
    expect_status(run_tied(args, &out), LMR_OK, "lmr_head_tied: valid call");
    args.table = NULL;
    tied_rejects(args, LMR_EINVAL, "lmr_head_tied: E is NULL");
    args.n = 0;
    tied_rejects(args, LMR_EINVAL, "lmr_head_tied: E is NULL with n = 0");
    args = tied_defaults();
    args.h = NULL;
    tied_rejects(args, LMR_EINVAL, "lmr_head_tied: h is NULL, n > 0");
    expect_status(lmr_head_tied(lmr_mat_out_of(NULL, BATCH, VOCAB),
                                lmr_mat_of(GOOD_H, BATCH, WIDTH),
                                lmr_mat_of(TABLE_E, VOCAB, WIDTH)),
                  LMR_EINVAL, "lmr_head_tied: logits is NULL, n > 0");

    expect_status(lmr_head_tied(lmr_mat_out_of(NULL, 0, VOCAB),
                                lmr_mat_of(NULL, 0, WIDTH),
                                lmr_mat_of(TABLE_E, VOCAB, WIDTH)),
                  LMR_OK, "lmr_head_tied: n = 0 with NULL logits and h");
    args = tied_defaults();
    args.n = 0;
    expect_rejected(run_tied(args, &out), LMR_OK, &out, "lmr_head_tied: n = 0");
}

/* The shapes the views carry (spec/api.md#views): each disagreement is
 * LMR_EDIM from the library itself, and a call with two problems reports the
 * first in the order of spec/api.md#error-order. */
static void test_tied_shapes_and_order(void)
{
    struct outputs out;
    double h_nan[BATCH * WIDTH], table_nan[VOCAB * WIDTH];
    lmr_mat h = lmr_mat_of(GOOD_H, BATCH, WIDTH);
    lmr_mat E = lmr_mat_of(TABLE_E, VOCAB, WIDTH);
    lmr_mat E_wide = lmr_mat_of(TABLE_E, 2, 3); /* width 3, not d = 2 */
    copy_with(h_nan, GOOD_H, BATCH * WIDTH, 0, NAN);
    copy_with(table_nan, TABLE_E, VOCAB * WIDTH, VOCAB * WIDTH - 1, NAN);
    lmr_mat h_bad = lmr_mat_of(h_nan, BATCH, WIDTH);
    lmr_mat E_bad = lmr_mat_of(table_nan, VOCAB, WIDTH);

    fill_sentinels(&out);
    expect_rejected(lmr_head_tied(lmr_mat_out_of(out.values, BATCH, 2), h,
                                  E_wide),
                    LMR_EDIM, &out, "lmr_head_tied: E.cols != h.cols");
    fill_sentinels(&out);
    expect_rejected(lmr_head_tied(lmr_mat_out_of(out.values, BATCH, VOCAB + 1),
                                  h, E),
                    LMR_EDIM, &out, "lmr_head_tied: logits with |V| + 1 columns");
    fill_sentinels(&out);
    expect_rejected(lmr_head_tied(lmr_mat_out_of(out.values, BATCH - 1, VOCAB),
                                  h, E),
                    LMR_EDIM, &out, "lmr_head_tied: logits with n - 1 rows");
    fill_sentinels(&out);
    expect_rejected(lmr_head_tied(lmr_mat_out_of(out.values, BATCH, 2), h_bad,
                                  E_wide),
                    LMR_EDIM, &out,
                    "lmr_head_tied order: E's width (EDIM) before NaN in h");
    fill_sentinels(&out);
    expect_rejected(lmr_head_tied(lmr_mat_out_of(out.values, BATCH, 2),
                                  lmr_mat_of(NULL, BATCH, WIDTH), E_wide),
                    LMR_EINVAL, &out,
                    "lmr_head_tied order: h NULL (EINVAL) before E's width");
    fill_sentinels(&out);
    expect_rejected(lmr_head_tied(lmr_mat_out_of(out.values, BATCH, VOCAB + 1),
                                  h, E_bad),
                    LMR_ENONFINITE, &out,
                    "lmr_head_tied order: NaN in E's last row before the "
                    "logits' shape");
    expect_status(lmr_head_tied(lmr_mat_out_of(NULL, BATCH, VOCAB), h, E_bad),
                  LMR_ENONFINITE,
                  "lmr_head_tied order: NaN in E before logits NULL");
    expect_status(lmr_head_tied_check(h, E), LMR_OK,
                  "lmr_head_tied_check: valid inputs");
    expect_status(lmr_head_tied_check(h, E_bad), LMR_ENONFINITE,
                  "lmr_head_tied_check: NaN in E's last row");
    expect_status(lmr_head_tied_check(h, E_wide), LMR_EDIM,
                  "lmr_head_tied_check: E.cols != h.cols");
}

static void test_head_tied(void)
{
    test_tied_null_and_empty();
    test_tied_values();
    test_tied_sizes();
    test_tied_shapes_and_order();
}

/* ---- lmr_head_untied ----------------------------------------------------- */

struct untied_args {
    const double *h;      /* (n, d) */
    const double *weight; /* W: (d, vocab) */
    const double *bias;   /* (vocab) or NULL */
    size_t n, vocab, d;
};

static struct untied_args untied_defaults(void)
{
    struct untied_args args = {GOOD_H, TABLE_W, GOOD_BIAS, BATCH, VOCAB, WIDTH};
    return args;
}

/* Runs lmr_head_untied into fresh sentinel-filled outputs. */
static int run_untied(struct untied_args args, struct outputs *out)
{
    fill_sentinels(out);
    return lmr_head_untied(lmr_mat_out_of(out->values, args.n, args.vocab),
                           lmr_mat_of(args.h, args.n, args.d),
                           lmr_mat_of(args.weight, args.d, args.vocab),
                           args.bias ? lmr_vec_of(args.bias, args.vocab)
                                     : lmr_vec_absent());
}

static void untied_rejects(struct untied_args args, int expected,
                           const char *what)
{
    struct outputs out;
    expect_rejected(run_untied(args, &out), expected, &out, what);
}

static void test_untied_values(void)
{
    double h[BATCH * WIDTH], weight[WIDTH * VOCAB], bias[VOCAB];
    struct untied_args args = untied_defaults();
    copy_with(h, GOOD_H, BATCH * WIDTH, BATCH * WIDTH - 1, NAN);
    args.h = h;
    untied_rejects(args, LMR_ENONFINITE, "lmr_head_untied: NaN in the last row of h");
    copy_with(h, GOOD_H, BATCH * WIDTH, 1, -INFINITY);
    untied_rejects(args, LMR_ENONFINITE, "lmr_head_untied: -inf in h");

    args = untied_defaults();
    args.weight = weight;
    copy_with(weight, TABLE_W, WIDTH * VOCAB, WIDTH * VOCAB - 1, NAN);
    untied_rejects(args, LMR_ENONFINITE, "lmr_head_untied: NaN in the last row of W");
    copy_with(weight, TABLE_W, WIDTH * VOCAB, 0, INFINITY);
    untied_rejects(args, LMR_ENONFINITE, "lmr_head_untied: +inf in the first row of W");
    args.bias = NULL;
    untied_rejects(args, LMR_ENONFINITE, "lmr_head_untied: +inf in W, no bias");
    args.n = 0;
    untied_rejects(args, LMR_ENONFINITE, "lmr_head_untied: +inf in W with n = 0");

    args = untied_defaults();
    args.bias = bias;
    copy_with(bias, GOOD_BIAS, VOCAB, VOCAB - 1, NAN);
    untied_rejects(args, LMR_ENONFINITE, "lmr_head_untied: NaN in the bias");
    copy_with(bias, GOOD_BIAS, VOCAB, 0, -INFINITY);
    untied_rejects(args, LMR_ENONFINITE, "lmr_head_untied: -inf in the bias");
}

static void test_untied_sizes(void)
{
    struct untied_args args = untied_defaults();
    args.d = 0;
    untied_rejects(args, LMR_EDIM, "lmr_head_untied: d = 0");
    args = untied_defaults();
    args.vocab = 0;
    untied_rejects(args, LMR_EDIM, "lmr_head_untied: |V| = 0");

    args = untied_defaults();
    args.h = TRIPWIRE_VALUES;
    args.weight = TRIPWIRE_VALUES;
    args.bias = TRIPWIRE_VALUES;
    args.n = HUGE_SIZE;
    args.vocab = 1;
    args.d = 3;
    untied_rejects(args, LMR_EOVERFLOW,
                   "lmr_head_untied: n*d overflows (n = SIZE_MAX/2, d = 3)");
    args.n = LARGE_SIZE;
    args.vocab = 3;
    args.d = 1;
    untied_rejects(args, LMR_EOVERFLOW,
                   "lmr_head_untied: only n*|V| overflows (n = SIZE_MAX/16, |V| = 3, d = 1)");
    args.n = 1;
    args.vocab = LARGE_SIZE;
    args.d = 3;
    untied_rejects(args, LMR_EOVERFLOW,
                   "lmr_head_untied: only d*|V| overflows (|V| = SIZE_MAX/16, d = 3, n = 1)");
}

static void test_untied_null_and_empty(void)
{
    struct outputs out;
    struct untied_args args = untied_defaults();
    expect_status(run_untied(args, &out), LMR_OK, "lmr_head_untied: valid call");
    args.bias = NULL;
    expect_status(run_untied(args, &out), LMR_OK,
                  "lmr_head_untied: valid call without bias");
    args = untied_defaults();
    args.weight = NULL;
    untied_rejects(args, LMR_EINVAL, "lmr_head_untied: W is NULL");
    args = untied_defaults();
    args.h = NULL;
    untied_rejects(args, LMR_EINVAL, "lmr_head_untied: h is NULL, n > 0");
    expect_status(lmr_head_untied(lmr_mat_out_of(NULL, BATCH, VOCAB),
                                  lmr_mat_of(GOOD_H, BATCH, WIDTH),
                                  lmr_mat_of(TABLE_W, WIDTH, VOCAB),
                                  lmr_vec_of(GOOD_BIAS, VOCAB)),
                  LMR_EINVAL, "lmr_head_untied: logits is NULL, n > 0");

    expect_status(lmr_head_untied(lmr_mat_out_of(NULL, 0, VOCAB),
                                  lmr_mat_of(NULL, 0, WIDTH),
                                  lmr_mat_of(TABLE_W, WIDTH, VOCAB),
                                  lmr_vec_absent()),
                  LMR_OK, "lmr_head_untied: n = 0 with NULL logits and h");
    args = untied_defaults();
    args.n = 0;
    expect_rejected(run_untied(args, &out), LMR_OK, &out, "lmr_head_untied: n = 0");
}

/* As test_tied_shapes_and_order, for the untied head: W (d,|V|) and a
 * present bias (|V|) must agree with h (n,d). */
static void test_untied_shapes_and_order(void)
{
    struct outputs out;
    double weight_nan[WIDTH * VOCAB], bias_nan[VOCAB];
    lmr_mat h = lmr_mat_of(GOOD_H, BATCH, WIDTH);
    lmr_mat W = lmr_mat_of(TABLE_W, WIDTH, VOCAB);
    lmr_mat W_tall = lmr_mat_of(TABLE_W, 3, 2); /* 3 rows, not d = 2 */
    lmr_vec b = lmr_vec_of(GOOD_BIAS, VOCAB);
    lmr_vec b_short = lmr_vec_of(GOOD_BIAS, VOCAB - 1);
    copy_with(weight_nan, TABLE_W, WIDTH * VOCAB, WIDTH * VOCAB - 1, NAN);
    copy_with(bias_nan, GOOD_BIAS, VOCAB, VOCAB - 1, NAN);
    lmr_mat W_bad = lmr_mat_of(weight_nan, WIDTH, VOCAB);
    lmr_vec b_bad = lmr_vec_of(bias_nan, VOCAB);
    lmr_mat_out logits = lmr_mat_out_of(NULL, 0, 0);

    fill_sentinels(&out);
    logits = lmr_mat_out_of(out.values, BATCH, 2);
    expect_rejected(lmr_head_untied(logits, h, W_tall, lmr_vec_absent()),
                    LMR_EDIM, &out, "lmr_head_untied: W.rows != h.cols");
    fill_sentinels(&out);
    logits = lmr_mat_out_of(out.values, BATCH, VOCAB);
    expect_rejected(lmr_head_untied(logits, h, W, b_short), LMR_EDIM, &out,
                    "lmr_head_untied: a bias of |V| - 1 entries");
    fill_sentinels(&out);
    expect_rejected(lmr_head_untied(lmr_mat_out_of(out.values, VOCAB, BATCH + 1),
                                    h, W, b),
                    LMR_EDIM, &out, "lmr_head_untied: logits not n x |V|");
    fill_sentinels(&out);
    expect_rejected(lmr_head_untied(logits, h, W_bad, b_short), LMR_EDIM, &out,
                    "lmr_head_untied order: the bias's length (EDIM) before "
                    "NaN in W");
    fill_sentinels(&out);
    expect_rejected(lmr_head_untied(lmr_mat_out_of(out.values, BATCH, 1), h, W,
                                    b_bad),
                    LMR_ENONFINITE, &out,
                    "lmr_head_untied order: NaN in the bias before the "
                    "logits' shape");
    fill_sentinels(&out);
    expect_rejected(lmr_head_untied(lmr_mat_out_of(out.values, BATCH, 1), h,
                                    W_bad, b),
                    LMR_ENONFINITE, &out,
                    "lmr_head_untied order: NaN in W's last row before the "
                    "logits' shape");
    expect_status(lmr_head_untied_check(h, W, b), LMR_OK,
                  "lmr_head_untied_check: valid inputs");
    expect_status(lmr_head_untied_check(h, W, b_bad), LMR_ENONFINITE,
                  "lmr_head_untied_check: NaN in the bias");
    expect_status(lmr_head_untied_check(h, W, b_short), LMR_EDIM,
                  "lmr_head_untied_check: a bias of another length");
}

static void test_head_untied(void)
{
    test_untied_null_and_empty();
    test_untied_values();
    test_untied_sizes();
    test_untied_shapes_and_order();
}

/* ---- bad logits, shared by every op that reads logits -------------------- */

/* One bad (BATCH, VOCAB) logits array and the status it must produce. */
struct bad_logits {
    double logits[BATCH * VOCAB];
    int expected;
    const char *what;
};

enum { BAD_LOGITS_COUNT = 6 };

/* spec/softmax.md: +inf and NaN are LMR_ENONFINITE, a row of only -inf is
 * LMR_EDOMAIN, wherever they are. cases: (BAD_LOGITS_COUNT) */
static void make_bad_logits(struct bad_logits *cases)
{
    static const struct {
        size_t position; /* entry of GOOD_LOGITS replaced */
        double value;
        int expected;
        const char *what;
    } single[] = {
        {BATCH * VOCAB - 1, INFINITY, LMR_ENONFINITE, "+inf logit in the last row"},
        {0, INFINITY, LMR_ENONFINITE, "+inf logit in the first row"},
        {BATCH * VOCAB - 2, NAN, LMR_ENONFINITE, "NaN logit in the last row"},
        {1, NAN, LMR_ENONFINITE, "NaN in place of a -inf logit"},
    };
    enum { SINGLE_COUNT = sizeof single / sizeof single[0] };
    for (size_t i = 0; i < SINGLE_COUNT; i++) {
        copy_with(cases[i].logits, GOOD_LOGITS, BATCH * VOCAB,
                  single[i].position, single[i].value);
        cases[i].expected = single[i].expected;
        cases[i].what = single[i].what;
    }
    for (size_t k = 0; k < 2; k++) {
        struct bad_logits *masked = &cases[SINGLE_COUNT + k];
        size_t row = k == 0 ? BATCH - 1 : 0;
        memcpy(masked->logits, GOOD_LOGITS, sizeof masked->logits);
        for (size_t i = 0; i < VOCAB; i++)
            masked->logits[row * VOCAB + i] = -INFINITY;
        masked->expected = LMR_EDOMAIN;
        masked->what = k == 0 ? "last row all -inf" : "first row all -inf";
    }
}

/* ---- lmr_softmax, lmr_log_softmax ---------------------------------------- */

typedef enum lmr_status (*row_op)(lmr_mat_out out, lmr_mat logits,
                                  double tau);

struct rows_args {
    row_op op;          /* lmr_softmax or lmr_log_softmax */
    const char *name;   /* its name, for the TAP lines */
    const double *logits; /* (n, vocab) */
    size_t n, vocab;
    double tau;
};

static struct rows_args rows_defaults(row_op op, const char *name)
{
    struct rows_args args = {op, name, GOOD_LOGITS, BATCH, VOCAB, 1.0};
    return args;
}

/* Runs the op into fresh sentinel-filled outputs. */
static int run_rows(struct rows_args args, struct outputs *out)
{
    fill_sentinels(out);
    return args.op(lmr_mat_out_of(out->values, args.n, args.vocab),
                   lmr_mat_of(args.logits, args.n, args.vocab), args.tau);
}

static void rows_rejects(struct rows_args args, int expected, const char *what)
{
    struct outputs out;
    char line[200];
    snprintf(line, sizeof line, "%s: %s", args.name, what);
    expect_rejected(run_rows(args, &out), expected, &out, line);
}

static void rows_bad_logits(struct rows_args args)
{
    struct bad_logits cases[BAD_LOGITS_COUNT];
    make_bad_logits(cases);
    for (size_t i = 0; i < BAD_LOGITS_COUNT; i++) {
        args.logits = cases[i].logits;
        rows_rejects(args, cases[i].expected, cases[i].what);
    }
}

static void rows_bad_tau(struct rows_args args)
{
    static const struct {
        double tau;
        int expected;
        const char *what;
    } cases[] = {
        {0.0, LMR_EDOMAIN, "tau = 0"},
        {-0.0, LMR_EDOMAIN, "tau = -0"},
        {-1.0, LMR_EDOMAIN, "tau = -1"},
        {-DBL_MAX, LMR_EDOMAIN, "tau = -DBL_MAX"},
        {NAN, LMR_ENONFINITE, "tau NaN"},
        {INFINITY, LMR_ENONFINITE, "tau +inf"},
        {-INFINITY, LMR_ENONFINITE, "tau -inf"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        args.tau = cases[i].tau;
        rows_rejects(args, cases[i].expected, cases[i].what);
    }
}

/* spec/softmax.md: any finite tau > 0 is accepted, 1e-300 and 1e300 too. */
static void rows_extreme_tau(struct rows_args args)
{
    struct outputs out;
    char line[200];
    static const double taus[] = {1e-300, 0x1p-1074, 1e300, DBL_MAX};
    for (size_t i = 0; i < sizeof taus / sizeof taus[0]; i++) {
        args.tau = taus[i];
        snprintf(line, sizeof line, "%s: tau = %g is accepted", args.name,
                 taus[i]);
        expect_status(run_rows(args, &out), LMR_OK, line);
    }
}

static void rows_sizes(struct rows_args args)
{
    struct rows_args base = args;
    args.vocab = 0;
    rows_rejects(args, LMR_EDIM, "|V| = 0");
    args.n = 0;
    rows_rejects(args, LMR_EDIM, "|V| = 0 with n = 0");
    args = base;
    args.logits = TRIPWIRE_VALUES;
    args.n = HUGE_SIZE;
    args.vocab = 3;
    rows_rejects(args, LMR_EOVERFLOW, "n*|V| overflows (n = SIZE_MAX/2, |V| = 3)");
    args.n = 3;
    args.vocab = HUGE_SIZE;
    rows_rejects(args, LMR_EOVERFLOW, "n*|V| overflows (n = 3, |V| = SIZE_MAX/2)");
    args.n = 1;
    args.vocab = SIZE_MAX / 8 + 1;
    rows_rejects(args, LMR_EOVERFLOW, "|V|*8 bytes overflow (n = 1, |V| = SIZE_MAX/8 + 1)");
}

static void rows_null_and_empty(struct rows_args args)
{
    struct outputs out;
    char line[200];
    snprintf(line, sizeof line, "%s: valid call", args.name);
    expect_status(run_rows(args, &out), LMR_OK, line);
    snprintf(line, sizeof line, "%s: output is NULL, n > 0", args.name);
    expect_status(args.op(lmr_mat_out_of(NULL, BATCH, VOCAB),
                          lmr_mat_of(GOOD_LOGITS, BATCH, VOCAB), 1.0),
                  LMR_EINVAL, line);
    args.logits = NULL;
    rows_rejects(args, LMR_EINVAL, "logits is NULL, n > 0");
    snprintf(line, sizeof line, "%s: n = 0 with NULL output and logits",
             args.name);
    expect_status(args.op(lmr_mat_out_of(NULL, 0, VOCAB),
                          lmr_mat_of(NULL, 0, VOCAB), 1.0),
                  LMR_OK, line);
    args.logits = GOOD_LOGITS;
    args.n = 0;
    snprintf(line, sizeof line, "%s: n = 0", args.name);
    expect_rejected(run_rows(args, &out), LMR_OK, &out, line);
}

/* The output's shape and the order of two problems (spec/api.md). */
static void rows_shapes_and_order(struct rows_args args)
{
    struct outputs out;
    char line[200];
    double bad[BATCH * VOCAB];
    lmr_mat logits = lmr_mat_of(GOOD_LOGITS, BATCH, VOCAB);
    copy_with(bad, GOOD_LOGITS, BATCH * VOCAB, BATCH * VOCAB - 1, NAN);
    lmr_mat logits_bad = lmr_mat_of(bad, BATCH, VOCAB);

    fill_sentinels(&out);
    snprintf(line, sizeof line, "%s: output with |V| + 1 columns", args.name);
    expect_rejected(args.op(lmr_mat_out_of(out.values, BATCH, VOCAB + 1),
                            logits, 1.0),
                    LMR_EDIM, &out, line);
    fill_sentinels(&out);
    snprintf(line, sizeof line, "%s: output with n + 1 rows", args.name);
    expect_rejected(args.op(lmr_mat_out_of(out.values, BATCH + 1, VOCAB),
                            logits, 1.0),
                    LMR_EDIM, &out, line);
    fill_sentinels(&out);
    snprintf(line, sizeof line,
             "%s order: tau = 0 (a parameter) before a NaN logit", args.name);
    expect_rejected(args.op(lmr_mat_out_of(out.values, BATCH, VOCAB),
                            logits_bad, 0.0),
                    LMR_EDOMAIN, &out, line);
    fill_sentinels(&out);
    snprintf(line, sizeof line, "%s order: |V| = 0 before tau NaN", args.name);
    expect_rejected(args.op(lmr_mat_out_of(out.values, BATCH, 0),
                            lmr_mat_of(GOOD_LOGITS, BATCH, 0), NAN),
                    LMR_EDIM, &out, line);
    fill_sentinels(&out);
    snprintf(line, sizeof line,
             "%s order: a NaN logit before the output's shape", args.name);
    expect_rejected(args.op(lmr_mat_out_of(out.values, BATCH, 1), logits_bad,
                            1.0),
                    LMR_ENONFINITE, &out, line);
    snprintf(line, sizeof line,
             "%s order: a NaN logit before the output NULL", args.name);
    expect_status(args.op(lmr_mat_out_of(NULL, BATCH, VOCAB), logits_bad, 1.0),
                  LMR_ENONFINITE, line);
}

/* lmr_softmax_check alone, and lmr_softmax_stats's optional outputs. */
static void test_softmax_check_and_stats(void)
{
    lmr_softmax_row rows[BATCH];
    double shifted[BATCH * VOCAB], exps[BATCH * VOCAB], bad[BATCH * VOCAB];
    lmr_mat logits = lmr_mat_of(GOOD_LOGITS, BATCH, VOCAB);
    lmr_mat_out none = lmr_mat_out_of(NULL, 0, 0);
    copy_with(bad, GOOD_LOGITS, BATCH * VOCAB, 0, INFINITY);
    expect_status(lmr_softmax_check(logits, 0.5), LMR_OK,
                  "lmr_softmax_check: valid logits and tau");
    expect_status(lmr_softmax_check(lmr_mat_of(bad, BATCH, VOCAB), 0.5),
                  LMR_ENONFINITE, "lmr_softmax_check: a +inf logit");
    expect_status(lmr_softmax_check(logits, -1.0), LMR_EDOMAIN,
                  "lmr_softmax_check: tau < 0");
    expect_status(lmr_softmax_stats(rows, none, none, logits, 1.0), LMR_OK,
                  "lmr_softmax_stats: empty views for shifted and exps");
    expect_status(lmr_softmax_stats(rows, lmr_mat_out_of(shifted, BATCH, VOCAB),
                                    lmr_mat_out_of(exps, BATCH, VOCAB),
                                    logits, 1.0),
                  LMR_OK, "lmr_softmax_stats: valid call");
    expect_status(lmr_softmax_stats(rows, lmr_mat_out_of(shifted, BATCH, 2),
                                    none, logits, 1.0),
                  LMR_EDIM, "lmr_softmax_stats: shifted not n x |V|");
    expect_status(lmr_softmax_stats(rows, none,
                                    lmr_mat_out_of(exps, BATCH - 1, VOCAB),
                                    logits, 1.0),
                  LMR_EDIM, "lmr_softmax_stats: exps not n x |V|");
    expect_status(lmr_softmax_stats(NULL, none, none, logits, 1.0),
                  LMR_EINVAL, "lmr_softmax_stats: rows NULL, n > 0");
    expect_status(lmr_softmax_stats(NULL, none, none, logits, 0.0),
                  LMR_EDOMAIN,
                  "lmr_softmax_stats order: tau = 0 before rows NULL");
}

static void test_rows(row_op op, const char *name)
{
    struct rows_args args = rows_defaults(op, name);
    rows_null_and_empty(args);
    rows_bad_logits(args);
    rows_bad_tau(args);
    rows_extreme_tau(args);
    rows_sizes(args);
    rows_shapes_and_order(args);
    if (op == lmr_softmax)
        test_softmax_check_and_stats();
}

/* ---- lmr_cross_entropy --------------------------------------------------- */

struct entropy_args {
    const double *logits;   /* (n, vocab) */
    const int64_t *targets; /* (n) */
    size_t n, vocab;
    enum lmr_reduction reduction;
    int64_t ignore_index;
};

static struct entropy_args entropy_defaults(void)
{
    struct entropy_args args = {GOOD_LOGITS, GOOD_TARGETS, BATCH, VOCAB,
                                LMR_REDUCE_MEAN, LMR_DEFAULT_IGNORE_INDEX};
    return args;
}

/* Runs lmr_cross_entropy into fresh sentinel-filled outputs. */
static int run_entropy(struct entropy_args args, struct outputs *out)
{
    size_t loss_len = args.reduction == LMR_REDUCE_NONE ? args.n : 1;
    fill_sentinels(out);
    return lmr_cross_entropy(lmr_vec_out_of(out->values, loss_len),
                             lmr_mat_of(args.logits, args.n, args.vocab),
                             lmr_ids_of(args.targets, args.n), args.reduction,
                             args.ignore_index);
}

static void entropy_rejects(struct entropy_args args, int expected,
                            const char *what)
{
    struct outputs out;
    expect_rejected(run_entropy(args, &out), expected, &out, what);
}

static void entropy_bad_logits(void)
{
    char what[160];
    struct bad_logits cases[BAD_LOGITS_COUNT];
    struct entropy_args args = entropy_defaults();
    make_bad_logits(cases);
    for (size_t i = 0; i < BAD_LOGITS_COUNT; i++) {
        snprintf(what, sizeof what, "lmr_cross_entropy: %s", cases[i].what);
        args.logits = cases[i].logits;
        entropy_rejects(args, cases[i].expected, what);
    }
}

/* A bad target in the last slot of the batch. */
static void entropy_bad_target(int64_t target, int64_t ignore_index,
                               const char *what)
{
    int64_t targets[BATCH] = {0, 1, target}; /* (BATCH) */
    char line[200];
    struct entropy_args args = entropy_defaults();
    args.targets = targets;
    args.ignore_index = ignore_index;
    entropy_rejects(args, LMR_EINDEX, what);
    args.reduction = LMR_REDUCE_NONE;
    snprintf(line, sizeof line, "%s, reduction none", what);
    entropy_rejects(args, LMR_EINDEX, line);
}

static void test_entropy_targets(void)
{
    entropy_bad_target(VOCAB, IGNORE, "lmr_cross_entropy: target == |V|");
    entropy_bad_target(-1, IGNORE, "lmr_cross_entropy: target -1 (ignore_index -100)");
    entropy_bad_target(INT64_MAX, IGNORE, "lmr_cross_entropy: target INT64_MAX");
    entropy_bad_target(INT64_MIN, IGNORE, "lmr_cross_entropy: target INT64_MIN");
    entropy_bad_target(IGNORE, -1,
                       "lmr_cross_entropy: target -100 with ignore_index -1");
    entropy_bad_target(VOCAB + 1, VOCAB,
                       "lmr_cross_entropy: target |V|+1 with ignore_index |V|");

    struct outputs out;
    int64_t targets[BATCH] = {VOCAB, 0, VOCAB}; /* (BATCH) */
    struct entropy_args args = entropy_defaults();
    args.targets = targets;
    args.ignore_index = VOCAB;
    expect_status(run_entropy(args, &out), LMR_OK,
                  "lmr_cross_entropy: ignore_index |V| (outside [0, |V|)) ignores target |V|");
    targets[0] = targets[2] = INT64_MIN;
    args.ignore_index = INT64_MIN;
    expect_status(run_entropy(args, &out), LMR_OK,
                  "lmr_cross_entropy: ignore_index INT64_MIN ignores target INT64_MIN");
}

static void test_entropy_parameters(void)
{
    static const struct {
        int64_t ignore_index;
        const char *what;
    } inside[] = {
        {0, "lmr_cross_entropy: ignore_index 0 (inside [0, |V|))"},
        {VOCAB - 1, "lmr_cross_entropy: ignore_index |V|-1 (inside [0, |V|))"},
    };
    struct entropy_args args = entropy_defaults();
    for (size_t i = 0; i < sizeof inside / sizeof inside[0]; i++) {
        args.ignore_index = inside[i].ignore_index;
        entropy_rejects(args, LMR_EDOMAIN, inside[i].what);
    }
    args.n = 0;
    args.ignore_index = 1;
    entropy_rejects(args, LMR_EDOMAIN,
                    "lmr_cross_entropy: ignore_index 1 (inside [0, |V|)) with n = 0");
    args = entropy_defaults();
    args.reduction = (enum lmr_reduction)3;
    entropy_rejects(args, LMR_EDOMAIN, "lmr_cross_entropy: reduction 3 (unknown)");
    args.reduction = (enum lmr_reduction)-1;
    entropy_rejects(args, LMR_EDOMAIN, "lmr_cross_entropy: reduction -1 (unknown)");
}

static void test_entropy_sizes(void)
{
    struct entropy_args args = entropy_defaults();
    args.vocab = 0;
    entropy_rejects(args, LMR_EDIM, "lmr_cross_entropy: |V| = 0");
    args = entropy_defaults();
    args.logits = TRIPWIRE_VALUES;
    args.targets = TRIPWIRE_TARGETS;
    args.n = HUGE_SIZE;
    args.vocab = 3;
    entropy_rejects(args, LMR_EOVERFLOW,
                    "lmr_cross_entropy: n*|V| overflows (n = SIZE_MAX/2, |V| = 3)");
    args.reduction = LMR_REDUCE_NONE;
    entropy_rejects(args, LMR_EOVERFLOW,
                    "lmr_cross_entropy: n*|V| overflows, reduction none");
    args.reduction = LMR_REDUCE_SUM;
    args.n = 1;
    args.vocab = HUGE_SIZE;
    entropy_rejects(args, LMR_EOVERFLOW,
                    "lmr_cross_entropy: n*|V| overflows (n = 1, |V| = SIZE_MAX/2)");
}

static void test_entropy_null(void)
{
    struct entropy_args args = entropy_defaults();
    args.logits = NULL;
    entropy_rejects(args, LMR_EINVAL, "lmr_cross_entropy: logits is NULL, n > 0");
    args = entropy_defaults();
    args.targets = NULL;
    entropy_rejects(args, LMR_EINVAL, "lmr_cross_entropy: targets is NULL, n > 0");
    lmr_mat logits = lmr_mat_of(GOOD_LOGITS, BATCH, VOCAB);
    lmr_ids targets = lmr_ids_of(GOOD_TARGETS, BATCH);
    expect_status(lmr_cross_entropy(lmr_vec_out_of(NULL, BATCH), logits,
                                    targets, LMR_REDUCE_NONE, IGNORE),
                  LMR_EINVAL, "lmr_cross_entropy: loss is NULL, n > 0, none");
    expect_status(lmr_cross_entropy(lmr_vec_out_of(NULL, 1), logits, targets,
                                    LMR_REDUCE_MEAN, IGNORE),
                  LMR_EINVAL, "lmr_cross_entropy: loss is NULL, mean");
    expect_status(lmr_cross_entropy(lmr_vec_out_of(NULL, 1),
                                    lmr_mat_of(NULL, 0, VOCAB),
                                    lmr_ids_of(NULL, 0), LMR_REDUCE_SUM,
                                    IGNORE),
                  LMR_EINVAL, "lmr_cross_entropy: loss is NULL, n = 0, sum (loss has 1 entry)");
}

/* spec/softmax.md: n = 0 gives an empty array (none), 0 (sum), NaN (mean). */
static void test_entropy_empty(void)
{
    struct outputs out;
    struct entropy_args args = entropy_defaults();
    args.logits = NULL;
    args.targets = NULL;
    args.n = 0;
    args.reduction = LMR_REDUCE_NONE;
    expect_rejected(run_entropy(args, &out), LMR_OK, &out,
                    "lmr_cross_entropy: n = 0, none, NULL logits and targets");
    /* loss has n = 0 entries under none, so it may be NULL (spec/errors.md) */
    expect_status(lmr_cross_entropy(lmr_vec_out_of(NULL, 0),
                                    lmr_mat_of(NULL, 0, VOCAB),
                                    lmr_ids_of(NULL, 0), LMR_REDUCE_NONE,
                                    IGNORE),
                  LMR_OK, "lmr_cross_entropy: n = 0, none, NULL loss (0 entries)");
    args.reduction = LMR_REDUCE_SUM;
    int status = run_entropy(args, &out);
    tap_ok(status == LMR_OK && out.values[0] == 0.0
               && values_untouched_from(out.values, 1),
           "lmr_cross_entropy: n = 0, sum gives 0 and writes one entry");
    args.reduction = LMR_REDUCE_MEAN;
    status = run_entropy(args, &out);
    tap_ok(status == LMR_OK && isnan(out.values[0])
               && values_untouched_from(out.values, 1),
           "lmr_cross_entropy: n = 0, mean gives NaN and writes one entry");
}

/* Every target ignored: none gives zeros, sum 0, mean NaN (spec/softmax.md). */
static void test_entropy_all_ignored(void)
{
    static const int64_t ignored[BATCH] = {-7, -7, -7}; /* (BATCH) */
    struct outputs out;
    struct entropy_args args = entropy_defaults();
    args.targets = ignored;
    args.ignore_index = -7;
    args.reduction = LMR_REDUCE_NONE;
    int status = run_entropy(args, &out);
    tap_ok(status == LMR_OK && out.values[0] == 0.0 && out.values[1] == 0.0
               && out.values[2] == 0.0 && values_untouched_from(out.values, BATCH),
           "lmr_cross_entropy: all ignored, none gives n zeros");
    args.reduction = LMR_REDUCE_SUM;
    status = run_entropy(args, &out);
    tap_ok(status == LMR_OK && out.values[0] == 0.0
               && values_untouched_from(out.values, 1),
           "lmr_cross_entropy: all ignored, sum gives 0");
    args.reduction = LMR_REDUCE_MEAN;
    status = run_entropy(args, &out);
    tap_ok(status == LMR_OK && isnan(out.values[0])
               && values_untouched_from(out.values, 1),
           "lmr_cross_entropy: all ignored, mean gives NaN");
}

/* The shapes and the order of two problems (spec/api.md). */
static void test_entropy_shapes_and_order(void)
{
    struct outputs out;
    double bad[BATCH * VOCAB];
    int64_t bad_targets[BATCH] = {0, VOCAB, 2}; /* (BATCH), one out of range */
    lmr_mat logits = lmr_mat_of(GOOD_LOGITS, BATCH, VOCAB);
    lmr_ids targets = lmr_ids_of(GOOD_TARGETS, BATCH);
    lmr_ids short_targets = lmr_ids_of(GOOD_TARGETS, BATCH - 1);
    copy_with(bad, GOOD_LOGITS, BATCH * VOCAB, BATCH * VOCAB - 1, NAN);
    lmr_mat logits_bad = lmr_mat_of(bad, BATCH, VOCAB);
    lmr_vec_out one = lmr_vec_out_of(out.values, 1);
    lmr_vec_out per_row = lmr_vec_out_of(out.values, BATCH);

    fill_sentinels(&out);
    expect_rejected(lmr_cross_entropy(one, logits, short_targets,
                                      LMR_REDUCE_MEAN, IGNORE),
                    LMR_EDIM, &out, "lmr_cross_entropy: targets of n - 1 entries");
    fill_sentinels(&out);
    expect_rejected(lmr_cross_entropy(lmr_vec_out_of(out.values, BATCH + 1),
                                      logits, targets, LMR_REDUCE_NONE, IGNORE),
                    LMR_EDIM, &out, "lmr_cross_entropy: none, loss of n + 1 entries");
    fill_sentinels(&out);
    expect_rejected(lmr_cross_entropy(per_row, logits, targets, LMR_REDUCE_SUM,
                                      IGNORE),
                    LMR_EDIM, &out, "lmr_cross_entropy: sum, loss of n entries");
    fill_sentinels(&out);
    expect_rejected(lmr_cross_entropy(one, logits_bad, short_targets,
                                      LMR_REDUCE_MEAN, IGNORE),
                    LMR_EDIM, &out,
                    "lmr_cross_entropy order: targets' length (EDIM) before a "
                    "NaN logit");
    fill_sentinels(&out);
    expect_rejected(lmr_cross_entropy(one, logits, lmr_ids_of(bad_targets, BATCH),
                                      (enum lmr_reduction)5, IGNORE),
                    LMR_EDOMAIN, &out,
                    "lmr_cross_entropy order: an unknown reduction before a "
                    "target out of range");
    fill_sentinels(&out);
    expect_rejected(lmr_cross_entropy(one, logits_bad, targets, LMR_REDUCE_MEAN,
                                      1),
                    LMR_EDOMAIN, &out,
                    "lmr_cross_entropy order: ignore_index inside [0, |V|) "
                    "before a NaN logit");
    fill_sentinels(&out);
    expect_rejected(lmr_cross_entropy(one, logits_bad,
                                      lmr_ids_of(bad_targets, BATCH),
                                      LMR_REDUCE_MEAN, IGNORE),
                    LMR_ENONFINITE, &out,
                    "lmr_cross_entropy order: a NaN logit before a target out "
                    "of range");
    fill_sentinels(&out);
    expect_rejected(lmr_cross_entropy(per_row, logits,
                                      lmr_ids_of(bad_targets, BATCH),
                                      LMR_REDUCE_MEAN, IGNORE),
                    LMR_EINDEX, &out,
                    "lmr_cross_entropy order: a target out of range before the "
                    "loss's length");
    expect_status(lmr_cross_entropy_check(logits, targets, LMR_REDUCE_NONE,
                                          IGNORE),
                  LMR_OK, "lmr_cross_entropy_check: valid inputs");
    expect_status(lmr_cross_entropy_check(logits, lmr_ids_of(bad_targets, BATCH),
                                          LMR_REDUCE_NONE, IGNORE),
                  LMR_EINDEX, "lmr_cross_entropy_check: a target out of range");
    expect_status(lmr_cross_entropy_check(logits, short_targets,
                                          LMR_REDUCE_NONE, IGNORE),
                  LMR_EDIM, "lmr_cross_entropy_check: targets of n - 1 entries");
}

/* lmr_cross_entropy_terms: the views of its outputs. */
static void test_entropy_terms(void)
{
    double losses[BATCH + 1];
    size_t counted = 0;
    lmr_mat logits = lmr_mat_of(GOOD_LOGITS, BATCH, VOCAB);
    lmr_ids targets = lmr_ids_of(GOOD_TARGETS, BATCH);
    expect_status(lmr_cross_entropy_terms(lmr_vec_out_of(losses, BATCH),
                                          &counted, logits, targets, IGNORE),
                  LMR_OK, "lmr_cross_entropy_terms: valid call");
    tap_ok(counted == 2, "lmr_cross_entropy_terms: 2 of 3 rows counted");
    expect_status(lmr_cross_entropy_terms(lmr_vec_out_of(losses, BATCH + 1),
                                          &counted, logits, targets, IGNORE),
                  LMR_EDIM, "lmr_cross_entropy_terms: losses of n + 1 entries");
    expect_status(lmr_cross_entropy_terms(lmr_vec_out_of(losses, BATCH), NULL,
                                          logits, targets, IGNORE),
                  LMR_EINVAL, "lmr_cross_entropy_terms: counted NULL");
    expect_status(lmr_cross_entropy_terms(lmr_vec_out_of(losses, BATCH), NULL,
                                          logits, targets, 0),
                  LMR_EDOMAIN,
                  "lmr_cross_entropy_terms order: ignore_index inside [0, |V|) "
                  "before counted NULL");
}

static void test_cross_entropy(void)
{
    struct outputs out;
    struct entropy_args args = entropy_defaults();
    expect_status(run_entropy(args, &out), LMR_OK, "lmr_cross_entropy: valid call");
    entropy_bad_logits();
    test_entropy_targets();
    test_entropy_parameters();
    test_entropy_sizes();
    test_entropy_null();
    test_entropy_empty();
    test_entropy_all_ignored();
    test_entropy_shapes_and_order();
    test_entropy_terms();
}

/* ---- lmr_argmax ---------------------------------------------------------- */

/* The view of logits (n, vocab). */
static lmr_mat logits_view(const double *logits, size_t n, size_t vocab)
{
    return lmr_mat_of(logits, n, vocab);
}

/* Runs lmr_argmax into fresh sentinel-filled outputs, token of n entries. */
static int run_argmax(const double *logits, size_t n, size_t vocab,
                      struct outputs *out)
{
    fill_sentinels(out);
    return lmr_argmax(lmr_ids_out_of(out->tokens, n),
                      logits_view(logits, n, vocab));
}

static void argmax_rejects(const double *logits, size_t n, size_t vocab,
                           int expected, const char *what)
{
    struct outputs out;
    expect_rejected(run_argmax(logits, n, vocab, &out), expected, &out, what);
}

static void argmax_bad_logits(void)
{
    char what[160];
    struct bad_logits cases[BAD_LOGITS_COUNT];
    make_bad_logits(cases);
    for (size_t i = 0; i < BAD_LOGITS_COUNT; i++) {
        snprintf(what, sizeof what, "lmr_argmax: %s", cases[i].what);
        argmax_rejects(cases[i].logits, BATCH, VOCAB, cases[i].expected, what);
    }
}

/* The output's shape, and which problem comes first (spec/api.md). */
static void argmax_output_and_order(void)
{
    struct outputs out;
    struct bad_logits cases[BAD_LOGITS_COUNT];
    make_bad_logits(cases);
    lmr_mat good = logits_view(GOOD_LOGITS, BATCH, VOCAB);
    fill_sentinels(&out);
    expect_rejected(lmr_argmax(lmr_ids_out_of(out.tokens, BATCH - 1), good),
                    LMR_EDIM, &out, "lmr_argmax: token of n - 1 entries");
    expect_rejected(lmr_argmax(lmr_ids_out_of(NULL, BATCH), good), LMR_EINVAL,
                    &out, "lmr_argmax: token with entries and no data");
    expect_rejected(lmr_argmax(lmr_ids_out_of(out.tokens, BATCH + 1),
                               logits_view(cases[0].logits, BATCH, VOCAB)),
                    LMR_ENONFINITE, &out,
                    "lmr_argmax: +inf logit and token of n + 1: the input first");
    expect_rejected(lmr_argmax(lmr_ids_out_of(out.tokens, BATCH),
                               logits_view(NULL, BATCH, 0)),
                    LMR_EDIM, &out, "lmr_argmax: |V| = 0 and no data: EDIM "
                    "(no entries, so no EINVAL)");
    expect_status(lmr_argmax_check(logits_view(cases[0].logits, BATCH, VOCAB)),
                  LMR_ENONFINITE, "lmr_argmax_check: +inf logit");
    expect_status(lmr_argmax_check(good), LMR_OK, "lmr_argmax_check: valid logits");
}

static void test_argmax(void)
{
    struct outputs out;
    expect_status(run_argmax(GOOD_LOGITS, BATCH, VOCAB, &out), LMR_OK,
                  "lmr_argmax: valid call");
    argmax_bad_logits();
    argmax_rejects(GOOD_LOGITS, BATCH, 0, LMR_EDIM, "lmr_argmax: |V| = 0");
    argmax_rejects(TRIPWIRE_VALUES, HUGE_SIZE, 3, LMR_EOVERFLOW,
                   "lmr_argmax: n*|V| overflows (n = SIZE_MAX/2, |V| = 3)");
    argmax_rejects(TRIPWIRE_VALUES, 1, HUGE_SIZE, LMR_EOVERFLOW,
                   "lmr_argmax: n*|V| overflows (n = 1, |V| = SIZE_MAX/2)");
    argmax_rejects(NULL, BATCH, VOCAB, LMR_EINVAL, "lmr_argmax: logits has no data, n > 0");
    expect_status(lmr_argmax(lmr_ids_out_of(NULL, BATCH),
                             logits_view(GOOD_LOGITS, BATCH, VOCAB)),
                  LMR_EINVAL, "lmr_argmax: token has no data, n > 0");
    expect_status(lmr_argmax(lmr_ids_out_of(NULL, 0), logits_view(NULL, 0, VOCAB)),
                  LMR_OK, "lmr_argmax: n = 0 with no data for token and logits");
    expect_rejected(run_argmax(GOOD_LOGITS, 0, VOCAB, &out), LMR_OK, &out,
                    "lmr_argmax: n = 0");
    argmax_output_and_order();
}

/* ---- lmr_sample ---------------------------------------------------------- */

struct sample_args {
    const double *logits; /* (n, vocab) */
    const double *r;      /* (r_len) */
    size_t n, vocab, r_len;
    double tau;
    int64_t top_k;
    double top_p;
};

static struct sample_args sample_defaults(void)
{
    struct sample_args args = {GOOD_LOGITS, GOOD_R, BATCH, VOCAB, BATCH,
                               1.0, 2, 0.9};
    return args;
}

/* Runs lmr_sample into fresh sentinel-filled outputs of the shapes n and
 * vocab imply. */
static int run_sample(struct sample_args args, struct outputs *out)
{
    fill_sentinels(out);
    return lmr_sample(lmr_mat_out_of(out->values, args.n, args.vocab),
                      lmr_ids_out_of(out->tokens, args.n),
                      logits_view(args.logits, args.n, args.vocab),
                      lmr_vec_of(args.r, args.r_len), args.tau, args.top_k,
                      args.top_p);
}

static void sample_rejects(struct sample_args args, int expected,
                           const char *what)
{
    struct outputs out;
    expect_rejected(run_sample(args, &out), expected, &out, what);
}

static void sample_accepts(struct sample_args args, const char *what)
{
    struct outputs out;
    expect_status(run_sample(args, &out), LMR_OK, what);
}

static void sample_bad_logits(void)
{
    char what[160];
    struct bad_logits cases[BAD_LOGITS_COUNT];
    struct sample_args args = sample_defaults();
    make_bad_logits(cases);
    for (size_t i = 0; i < BAD_LOGITS_COUNT; i++) {
        snprintf(what, sizeof what, "lmr_sample: %s", cases[i].what);
        args.logits = cases[i].logits;
        sample_rejects(args, cases[i].expected, what);
    }
}

/* r in the last slot of the batch. */
static void sample_with_r(double last_r, int expected, const char *what)
{
    double r[BATCH]; /* (BATCH) */
    struct sample_args args = sample_defaults();
    copy_with(r, GOOD_R, BATCH, BATCH - 1, last_r);
    args.r = r;
    if (expected == LMR_OK)
        sample_accepts(args, what);
    else
        sample_rejects(args, expected, what);
}

static void test_sample_r(void)
{
    sample_with_r(1.0, LMR_EDOMAIN, "lmr_sample: r = 1");
    sample_with_r(-0x1p-1074, LMR_EDOMAIN, "lmr_sample: r = -2^-1074");
    sample_with_r(-0.5, LMR_EDOMAIN, "lmr_sample: r = -0.5");
    sample_with_r(2.0, LMR_EDOMAIN, "lmr_sample: r = 2");
    sample_with_r(NAN, LMR_ENONFINITE, "lmr_sample: r NaN");
    sample_with_r(INFINITY, LMR_ENONFINITE, "lmr_sample: r +inf");
    sample_with_r(-INFINITY, LMR_ENONFINITE, "lmr_sample: r -inf");
    sample_with_r(1.0 - 0x1p-53, LMR_OK, "lmr_sample: r = 1 - 2^-53 is accepted");
    sample_with_r(0.0, LMR_OK, "lmr_sample: r = 0 is accepted");
    sample_with_r(-0.0, LMR_OK, "lmr_sample: r = -0 is accepted (it equals 0)");
}

static void test_sample_parameters(void)
{
    static const struct {
        double top_p;
        int expected;
        const char *what;
    } top_p_cases[] = {
        {0.0, LMR_EDOMAIN, "lmr_sample: top_p = 0"},
        {-0.25, LMR_EDOMAIN, "lmr_sample: top_p = -0.25"},
        {1.0 + 0x1p-52, LMR_EDOMAIN, "lmr_sample: top_p = 1 + 2^-52"},
        {2.0, LMR_EDOMAIN, "lmr_sample: top_p = 2"},
        {NAN, LMR_ENONFINITE, "lmr_sample: top_p NaN"},
        {INFINITY, LMR_ENONFINITE, "lmr_sample: top_p +inf"},
        {-INFINITY, LMR_ENONFINITE, "lmr_sample: top_p -inf"},
    };
    static const struct {
        double tau;
        int expected;
        const char *what;
    } tau_cases[] = {
        {0.0, LMR_EDOMAIN, "lmr_sample: tau = 0"},
        {-2.0, LMR_EDOMAIN, "lmr_sample: tau = -2"},
        {NAN, LMR_ENONFINITE, "lmr_sample: tau NaN"},
        {INFINITY, LMR_ENONFINITE, "lmr_sample: tau +inf"},
        {-INFINITY, LMR_ENONFINITE, "lmr_sample: tau -inf"},
    };
    struct sample_args args = sample_defaults();
    for (size_t i = 0; i < sizeof top_p_cases / sizeof top_p_cases[0]; i++) {
        args.top_p = top_p_cases[i].top_p;
        sample_rejects(args, top_p_cases[i].expected, top_p_cases[i].what);
    }
    args = sample_defaults();
    for (size_t i = 0; i < sizeof tau_cases / sizeof tau_cases[0]; i++) {
        args.tau = tau_cases[i].tau;
        sample_rejects(args, tau_cases[i].expected, tau_cases[i].what);
    }
    args = sample_defaults();
    args.top_k = -1;
    sample_rejects(args, LMR_EDOMAIN, "lmr_sample: top_k = -1");
    args.top_k = INT64_MIN;
    sample_rejects(args, LMR_EDOMAIN, "lmr_sample: top_k = INT64_MIN");
    args.top_k = INT64_MAX;
    sample_accepts(args, "lmr_sample: top_k = INT64_MAX (> |V|) is accepted");
    args = sample_defaults();
    args.top_p = 0x1p-1074;
    sample_accepts(args, "lmr_sample: top_p = 2^-1074 is accepted");
    args.top_p = 1.0;
    args.top_k = 0;
    sample_accepts(args, "lmr_sample: top_k = 0, top_p = 1 (both off) is accepted");
}

static void test_sample_sizes_and_null(void)
{
    struct outputs out;
    struct sample_args args = sample_defaults();
    args.vocab = 0;
    sample_rejects(args, LMR_EDIM, "lmr_sample: |V| = 0");
    args = sample_defaults();
    args.logits = TRIPWIRE_VALUES;
    args.r = TRIPWIRE_R;
    args.n = args.r_len = HUGE_SIZE;
    args.vocab = 3;
    sample_rejects(args, LMR_EOVERFLOW,
                   "lmr_sample: n*|V| overflows (n = SIZE_MAX/2, |V| = 3)");
    args.n = args.r_len = 1;
    args.vocab = HUGE_SIZE;
    sample_rejects(args, LMR_EOVERFLOW,
                   "lmr_sample: n*|V| overflows (n = 1, |V| = SIZE_MAX/2)");

    args = sample_defaults();
    args.logits = NULL;
    sample_rejects(args, LMR_EINVAL, "lmr_sample: logits has no data, n > 0");
    args = sample_defaults();
    args.r = NULL;
    sample_rejects(args, LMR_EINVAL, "lmr_sample: r has no data, n > 0");
    lmr_mat good = logits_view(GOOD_LOGITS, BATCH, VOCAB);
    lmr_vec r = lmr_vec_of(GOOD_R, BATCH);
    fill_sentinels(&out);
    expect_status(lmr_sample(lmr_mat_out_of(NULL, BATCH, VOCAB),
                             lmr_ids_out_of(out.tokens, BATCH), good, r, 1.0, 0,
                             1.0),
                  LMR_EINVAL, "lmr_sample: probs has no data, n > 0");
    tap_ok(untouched(&out), "lmr_sample: probs has no data: token not written");
    expect_status(lmr_sample(lmr_mat_out_of(out.values, BATCH, VOCAB),
                             lmr_ids_out_of(NULL, BATCH), good, r, 1.0, 0, 1.0),
                  LMR_EINVAL, "lmr_sample: token has no data, n > 0");
    tap_ok(untouched(&out), "lmr_sample: token has no data: probs not written");

    expect_status(lmr_sample(lmr_mat_out_of(NULL, 0, VOCAB),
                             lmr_ids_out_of(NULL, 0), logits_view(NULL, 0, VOCAB),
                             lmr_vec_of(NULL, 0), 1.0, 0, 1.0),
                  LMR_OK, "lmr_sample: n = 0 with no data anywhere");
    args = sample_defaults();
    args.n = args.r_len = 0;
    expect_rejected(run_sample(args, &out), LMR_OK, &out, "lmr_sample: n = 0");
}

/* The shapes the harness used to judge (r against logits), the outputs'
 * shapes, and which problem comes first (spec/api.md#error-order). */
static void test_sample_shapes_and_order(void)
{
    struct outputs out;
    struct bad_logits cases[BAD_LOGITS_COUNT];
    make_bad_logits(cases);
    struct sample_args args = sample_defaults();
    args.r_len = BATCH - 1;
    sample_rejects(args, LMR_EDIM, "lmr_sample: r of n - 1 entries");
    args.r_len = BATCH + 1;
    sample_rejects(args, LMR_EDIM, "lmr_sample: r of n + 1 entries");
    args.tau = 0.0;
    sample_rejects(args, LMR_EDIM, "lmr_sample: r of n + 1 and tau = 0: EDIM first");
    args = sample_defaults();
    args.tau = 0.0;
    args.logits = cases[0].logits;
    sample_rejects(args, LMR_EDOMAIN,
                   "lmr_sample: tau = 0 and a +inf logit: the parameter first");
    args = sample_defaults();
    args.top_k = -1;
    args.top_p = NAN;
    sample_rejects(args, LMR_EDOMAIN,
                   "lmr_sample: top_k = -1 and top_p NaN: parameter order");
    args = sample_defaults();
    double r[BATCH];
    copy_with(r, GOOD_R, BATCH, 0, 1.0);
    args.r = r;
    args.logits = cases[0].logits;
    sample_rejects(args, LMR_ENONFINITE,
                   "lmr_sample: +inf logit and r = 1: logits before r");

    lmr_mat good = logits_view(GOOD_LOGITS, BATCH, VOCAB);
    lmr_vec good_r = lmr_vec_of(GOOD_R, BATCH);
    fill_sentinels(&out);
    expect_rejected(lmr_sample(lmr_mat_out_of(out.values, BATCH, VOCAB + 1),
                               lmr_ids_out_of(out.tokens, BATCH), good, good_r,
                               1.0, 0, 1.0),
                    LMR_EDIM, &out, "lmr_sample: probs n x (|V| + 1)");
    expect_rejected(lmr_sample(lmr_mat_out_of(out.values, BATCH, VOCAB),
                               lmr_ids_out_of(out.tokens, BATCH - 1), good,
                               good_r, 1.0, 0, 1.0),
                    LMR_EDIM, &out, "lmr_sample: token of n - 1 entries");
    expect_rejected(lmr_sample(lmr_mat_out_of(out.values, BATCH, VOCAB + 1),
                               lmr_ids_out_of(NULL, BATCH), good, good_r, 1.0,
                               0, 1.0),
                    LMR_EINVAL, &out,
                    "lmr_sample: probs misshapen and token without data: EINVAL first");
    expect_rejected(lmr_sample(lmr_mat_out_of(out.values, BATCH, VOCAB + 1),
                               lmr_ids_out_of(out.tokens, BATCH), good, good_r,
                               0.0, 0, 1.0),
                    LMR_EDOMAIN, &out,
                    "lmr_sample: tau = 0 and probs misshapen: the input first");
    expect_status(lmr_sample_check(good, good_r, 1.0, 0, 1.0), LMR_OK,
                  "lmr_sample_check: valid inputs");
    expect_status(lmr_sample_check(good, lmr_vec_of(GOOD_R, 1), 1.0, 0, 1.0),
                  LMR_EDIM, "lmr_sample_check: r of 1 entry for n rows");
}

static void test_sample(void)
{
    sample_accepts(sample_defaults(), "lmr_sample: valid call");
    sample_bad_logits();
    test_sample_r();
    test_sample_parameters();
    test_sample_sizes_and_null();
    test_sample_shapes_and_order();
}

/* ---- lmr_logit_lens ------------------------------------------------------ */

struct lens_args {
    const double *hidden; /* (layers, n, d) */
    const double *table;  /* E: (vocab, e_width) */
    const double *gamma;  /* (gamma_len) or NULL */
    const double *beta;   /* (beta_len) or NULL */
    size_t layers, n, vocab, d;
    int64_t top_k;
    double eps;
    size_t e_width, gamma_len, beta_len; /* d, d, d unless a test says */
};

static struct lens_args lens_defaults(void)
{
    struct lens_args args = {GOOD_HIDDEN, TABLE_E, GOOD_GAMMA, GOOD_BETA,
                             LAYERS, BATCH, VOCAB, WIDTH, TOP_K, EPS,
                             WIDTH, WIDTH, WIDTH};
    return args;
}

/* The lens without LayerNorm: gamma and beta empty. */
static struct lens_args lens_without_layernorm(struct lens_args args)
{
    args.gamma = args.beta = NULL;
    args.gamma_len = args.beta_len = 0;
    return args;
}

/* The outputs of the lens in out's buffers, of the shapes args implies
 * (top_k below 1 taken as 0). */
static lmr_logit_lens_outputs lens_outputs(struct lens_args args,
                                           struct outputs *out)
{
    size_t k = args.top_k >= 1 ? (size_t)args.top_k : 0;
    lmr_logit_lens_outputs views = {
        lmr_stack_out_of(out->values, args.layers, args.n, args.vocab),
        lmr_ids_out_of(out->tokens, args.layers * args.n * k),
        lmr_stack_out_of(out->top_probs, args.layers, args.n, k)};
    return views;
}

/* Runs lmr_logit_lens on views, into the outputs given. */
static int call_lens(struct lens_args args, const lmr_logit_lens_outputs *views)
{
    return lmr_logit_lens(views,
                          lmr_stack_of(args.hidden, args.layers, args.n, args.d),
                          lmr_mat_of(args.table, args.vocab, args.e_width),
                          lmr_vec_of(args.gamma, args.gamma_len),
                          lmr_vec_of(args.beta, args.beta_len), args.top_k,
                          args.eps);
}

/* Runs lmr_logit_lens into fresh sentinel-filled outputs: probs in values,
 * top_tokens in tokens, top_probs in top_probs. */
static int run_lens(struct lens_args args, struct outputs *out)
{
    fill_sentinels(out);
    lmr_logit_lens_outputs views = lens_outputs(args, out);
    return call_lens(args, &views);
}

static void lens_rejects(struct lens_args args, int expected, const char *what)
{
    struct outputs out;
    expect_rejected(run_lens(args, &out), expected, &out, what);
}

static void test_lens_parameters(void)
{
    struct outputs out;
    struct lens_args args = lens_defaults();
    args.top_k = 0;
    lens_rejects(args, LMR_EDOMAIN, "lmr_logit_lens: k = 0");
    args.top_k = -1;
    lens_rejects(args, LMR_EDOMAIN, "lmr_logit_lens: k = -1");
    args.top_k = INT64_MIN;
    lens_rejects(args, LMR_EDOMAIN, "lmr_logit_lens: k = INT64_MIN");
    args.top_k = VOCAB + 1;
    lens_rejects(args, LMR_EDOMAIN, "lmr_logit_lens: k = |V| + 1");
    args.top_k = INT64_MAX;
    lens_rejects(args, LMR_EDOMAIN, "lmr_logit_lens: k = INT64_MAX");
    args.top_k = VOCAB;
    expect_status(run_lens(args, &out), LMR_OK, "lmr_logit_lens: k = |V| is accepted");

    static const struct {
        double eps;
        int expected;
        const char *what;
    } eps_cases[] = {
        {0.0, LMR_EDOMAIN, "lmr_logit_lens: eps = 0 with LayerNorm"},
        {-1e-5, LMR_EDOMAIN, "lmr_logit_lens: eps = -1e-5 with LayerNorm"},
        {NAN, LMR_ENONFINITE, "lmr_logit_lens: eps NaN with LayerNorm"},
        {INFINITY, LMR_ENONFINITE, "lmr_logit_lens: eps +inf with LayerNorm"},
    };
    args = lens_defaults();
    for (size_t i = 0; i < sizeof eps_cases / sizeof eps_cases[0]; i++) {
        args.eps = eps_cases[i].eps;
        lens_rejects(args, eps_cases[i].expected, eps_cases[i].what);
    }
    args = lens_without_layernorm(lens_defaults());
    args.eps = NAN;
    expect_status(run_lens(args, &out), LMR_OK,
                  "lmr_logit_lens: eps NaN without LayerNorm is not read");
    args = lens_defaults();
    args.beta = NULL;
    args.beta_len = 0;
    lens_rejects(args, LMR_EDIM, "lmr_logit_lens: gamma without beta (beta empty)");
    args = lens_defaults();
    args.gamma = NULL;
    args.gamma_len = 0;
    lens_rejects(args, LMR_EDIM, "lmr_logit_lens: beta without gamma (gamma empty)");
}

/* A non-finite value at `position` of one input of the lens. */
static void test_lens_values(void)
{
    double hidden[LAYERS * BATCH * WIDTH], table[VOCAB * WIDTH];
    double gamma[WIDTH], beta[WIDTH];
    struct lens_args args = lens_defaults();
    copy_with(hidden, GOOD_HIDDEN, LAYERS * BATCH * WIDTH,
              LAYERS * BATCH * WIDTH - 1, NAN);
    args.hidden = hidden;
    lens_rejects(args, LMR_ENONFINITE, "lmr_logit_lens: NaN in the last layer of hidden");
    args = lens_without_layernorm(args);
    lens_rejects(args, LMR_ENONFINITE,
                 "lmr_logit_lens: NaN in the last layer of hidden, no LayerNorm");
    copy_with(hidden, GOOD_HIDDEN, LAYERS * BATCH * WIDTH, 0, -INFINITY);
    lens_rejects(args, LMR_ENONFINITE, "lmr_logit_lens: -inf in hidden");

    args = lens_defaults();
    copy_with(table, TABLE_E, VOCAB * WIDTH, VOCAB * WIDTH - 1, INFINITY);
    args.table = table;
    lens_rejects(args, LMR_ENONFINITE, "lmr_logit_lens: +inf in the last row of E");
    copy_with(table, TABLE_E, VOCAB * WIDTH, 0, NAN);
    args.n = 0;
    lens_rejects(args, LMR_ENONFINITE, "lmr_logit_lens: NaN in E with n = 0");

    args = lens_defaults();
    copy_with(gamma, GOOD_GAMMA, WIDTH, WIDTH - 1, NAN);
    args.gamma = gamma;
    lens_rejects(args, LMR_ENONFINITE, "lmr_logit_lens: NaN in gamma");
    args = lens_defaults();
    copy_with(beta, GOOD_BETA, WIDTH, 0, INFINITY);
    args.beta = beta;
    lens_rejects(args, LMR_ENONFINITE, "lmr_logit_lens: +inf in beta");
}

static void test_lens_sizes(void)
{
    struct lens_args args = lens_defaults();
    args.layers = 0;
    lens_rejects(args, LMR_EDIM, "lmr_logit_lens: L = 0");
    args = lens_defaults();
    args.d = args.e_width = args.gamma_len = args.beta_len = 0;
    lens_rejects(args, LMR_EDIM, "lmr_logit_lens: d = 0");
    args = lens_defaults();
    args.vocab = 0;
    args.top_k = 1;
    lens_rejects(args, LMR_EDIM, "lmr_logit_lens: |V| = 0");

    /* every array a tripwire; gamma and beta off, so only sizes matter */
    struct lens_args huge = {TRIPWIRE_VALUES, TRIPWIRE_VALUES, NULL, NULL,
                             1, 1, LARGE_SIZE, 3, 1, EPS, 3, 0, 0};
    lens_rejects(huge, LMR_EOVERFLOW,
                 "lmr_logit_lens: only |V|*d overflows (|V| = SIZE_MAX/16, d = 3)");
    huge.layers = 2;
    huge.n = LARGE_SIZE;
    huge.vocab = 1;
    huge.d = huge.e_width = 3;
    lens_rejects(huge, LMR_EOVERFLOW,
                 "lmr_logit_lens: L*n*d overflows (L = 2, n = SIZE_MAX/16, d = 3)");
    huge.layers = 1;
    huge.vocab = 3;
    huge.d = huge.e_width = 1;
    lens_rejects(huge, LMR_EOVERFLOW,
                 "lmr_logit_lens: only L*n*|V| overflows (n = SIZE_MAX/16, |V| = 3, d = 1)");
    huge.layers = HUGE_SIZE;
    huge.n = 4;
    huge.vocab = 1;
    lens_rejects(huge, LMR_EOVERFLOW,
                 "lmr_logit_lens: L*n overflows size_t (L = SIZE_MAX/2, n = 4)");
}

/* The shapes the harness used to judge (E's width, gamma's and beta's
 * lengths against d), the outputs' shapes, and which problem comes first
 * (spec/api.md#error-order). */
static void test_lens_shapes_and_order(void)
{
    double hidden[LAYERS * BATCH * WIDTH];
    copy_with(hidden, GOOD_HIDDEN, LAYERS * BATCH * WIDTH, 0, NAN);
    struct lens_args args = lens_defaults();
    args.e_width = WIDTH - 1;
    lens_rejects(args, LMR_EDIM, "lmr_logit_lens: E is d - 1 wide");
    args = lens_defaults();
    args.gamma_len = WIDTH - 1;
    lens_rejects(args, LMR_EDIM, "lmr_logit_lens: gamma of d - 1 entries");
    args = lens_defaults();
    args.beta_len = WIDTH - 1;
    lens_rejects(args, LMR_EDIM, "lmr_logit_lens: beta of d - 1 entries");
    args.top_k = 0;
    lens_rejects(args, LMR_EDIM, "lmr_logit_lens: beta misshapen and k = 0: EDIM first");
    args = lens_defaults();
    args.top_k = 0;
    args.hidden = hidden;
    lens_rejects(args, LMR_EDOMAIN,
                 "lmr_logit_lens: k = 0 and NaN in hidden: the parameter first");
    args = lens_defaults();
    args.eps = 0.0;
    args.hidden = hidden;
    lens_rejects(args, LMR_EDOMAIN,
                 "lmr_logit_lens: eps = 0 and NaN in hidden: the parameter first");

    struct outputs out;
    args = lens_defaults();
    fill_sentinels(&out);
    lmr_logit_lens_outputs views = lens_outputs(args, &out);
    views.probs.cols = VOCAB + 1;
    expect_rejected(call_lens(args, &views), LMR_EDIM, &out,
                    "lmr_logit_lens: probs (L, n, |V| + 1)");
    views = lens_outputs(args, &out);
    views.top_tokens.len--;
    expect_rejected(call_lens(args, &views), LMR_EDIM, &out,
                    "lmr_logit_lens: top_tokens one entry short");
    views = lens_outputs(args, &out);
    views.top_probs.cols = TOP_K + 1;
    expect_rejected(call_lens(args, &views), LMR_EDIM, &out,
                    "lmr_logit_lens: top_probs (L, n, k + 1)");
    views.top_tokens.data = NULL;
    expect_rejected(call_lens(args, &views), LMR_EINVAL, &out,
                    "lmr_logit_lens: top_probs misshapen, top_tokens without "
                    "data: EINVAL first");
    args.hidden = hidden;
    expect_rejected(call_lens(args, &views), LMR_ENONFINITE, &out,
                    "lmr_logit_lens: NaN in hidden and bad outputs: the input first");
    expect_rejected(call_lens(lens_defaults(), NULL), LMR_EINVAL, &out,
                    "lmr_logit_lens: out is NULL");
    args = lens_defaults();
    expect_status(lmr_logit_lens_check(lmr_stack_of(GOOD_HIDDEN, LAYERS, BATCH, WIDTH),
                                       lmr_mat_of(TABLE_E, VOCAB, WIDTH),
                                       lmr_vec_of(GOOD_GAMMA, WIDTH),
                                       lmr_vec_of(GOOD_BETA, WIDTH), TOP_K, EPS),
                  LMR_OK, "lmr_logit_lens_check: valid inputs");
    expect_status(lmr_logit_lens_check(lmr_stack_of(GOOD_HIDDEN, LAYERS, BATCH, WIDTH),
                                       lmr_mat_of(TABLE_E, VOCAB, WIDTH),
                                       lmr_vec_absent(), lmr_vec_absent(), 0,
                                       EPS),
                  LMR_EDOMAIN, "lmr_logit_lens_check: k = 0");
}

static void test_lens_null_and_empty(void)
{
    struct outputs out;
    struct lens_args args = lens_defaults();
    expect_status(run_lens(args, &out), LMR_OK,
                  "lmr_logit_lens: valid call with LayerNorm");
    args = lens_without_layernorm(args);
    expect_status(run_lens(args, &out), LMR_OK,
                  "lmr_logit_lens: valid call without LayerNorm");
    args = lens_defaults();
    args.table = NULL;
    lens_rejects(args, LMR_EINVAL, "lmr_logit_lens: E has no data");
    args = lens_defaults();
    args.hidden = NULL;
    lens_rejects(args, LMR_EINVAL, "lmr_logit_lens: hidden has no data, n > 0");

    args = lens_without_layernorm(lens_defaults());
    lmr_logit_lens_outputs views;
    fill_sentinels(&out);
    views = lens_outputs(args, &out);
    views.probs.data = NULL;
    expect_status(call_lens(args, &views), LMR_EINVAL,
                  "lmr_logit_lens: probs has no data, n > 0");
    views = lens_outputs(args, &out);
    views.top_tokens.data = NULL;
    expect_status(call_lens(args, &views), LMR_EINVAL,
                  "lmr_logit_lens: top_tokens has no data, n > 0");
    views = lens_outputs(args, &out);
    views.top_probs.data = NULL;
    expect_status(call_lens(args, &views), LMR_EINVAL,
                  "lmr_logit_lens: top_probs has no data, n > 0");
    tap_ok(untouched(&out), "lmr_logit_lens: outputs without data: the others not written");

    args = lens_defaults();
    args.n = 0;
    args.hidden = NULL;
    lmr_logit_lens_outputs empty = {lmr_stack_out_of(NULL, LAYERS, 0, VOCAB),
                                    lmr_ids_out_of(NULL, 0),
                                    lmr_stack_out_of(NULL, LAYERS, 0, TOP_K)};
    expect_status(call_lens(args, &empty), LMR_OK,
                  "lmr_logit_lens: n = 0 with no data for the outputs and hidden");
    args = lens_defaults();
    args.n = 0;
    expect_rejected(run_lens(args, &out), LMR_OK, &out, "lmr_logit_lens: n = 0");
}

static void test_logit_lens(void)
{
    test_lens_null_and_empty();
    test_lens_parameters();
    test_lens_values();
    test_lens_sizes();
    test_lens_shapes_and_order();
}

/* ---- lmr_param_count ----------------------------------------------------- */

/* counts filled with a byte pattern no valid result has */
static void fill_counts(lmr_param_counts *counts)
{
    memset(counts, 0xA5, sizeof *counts);
}

static int counts_untouched(const lmr_param_counts *counts)
{
    lmr_param_counts pattern;
    fill_counts(&pattern);
    return memcmp(counts, &pattern, sizeof pattern) == 0;
}

static void counts_rejected(int64_t vocab, int64_t d, int64_t block_params,
                            int expected, const char *what)
{
    lmr_param_counts counts;
    fill_counts(&counts);
    expect_status(lmr_param_count(&counts, vocab, d, block_params), expected,
                  what);
    tap_ok(counts_untouched(&counts), "%s: output not written", what);
}

/* One TAP line: the call succeeds with exactly these integer counts, and
 * relative within 3u |relative| (spec/tolerance.md#param_count: K = 3,
 * s = |g|, u = 2^-53). */
static void counts_exact(int64_t vocab, int64_t d, int64_t block_params,
                         int64_t untied, int64_t tied, int64_t saving,
                         double relative, const char *what)
{
    lmr_param_counts counts;
    fill_counts(&counts);
    int status = lmr_param_count(&counts, vocab, d, block_params);
    double bound = 3 * (DBL_EPSILON / 2) * fabs(relative);
    tap_ok(status == LMR_OK && counts.untied == untied && counts.tied == tied
               && counts.saving == saving
               && fabs(counts.relative - relative) <= bound,
           "%s", what);
    if (status == LMR_OK && counts.untied != untied)
        tap_diag("untied %lld, want %lld", (long long)counts.untied,
                 (long long)untied);
}

static void test_param_count_domain(void)
{
    counts_rejected(0, 768, 0, LMR_EDIM, "lmr_param_count: |V| = 0");
    counts_rejected(-1, 768, 0, LMR_EDOMAIN, "lmr_param_count: |V| = -1");
    counts_rejected(INT64_MIN, 768, 0, LMR_EDOMAIN, "lmr_param_count: |V| = INT64_MIN");
    counts_rejected(50257, 0, 0, LMR_EDIM, "lmr_param_count: d = 0");
    counts_rejected(50257, -768, 0, LMR_EDOMAIN, "lmr_param_count: d = -768");
    counts_rejected(50257, INT64_MIN, 0, LMR_EDOMAIN, "lmr_param_count: d = INT64_MIN");
    counts_rejected(50257, 768, -1, LMR_EDOMAIN, "lmr_param_count: B = -1");
    counts_rejected(50257, 768, INT64_MIN, LMR_EDOMAIN, "lmr_param_count: B = INT64_MIN");
    expect_status(lmr_param_count(NULL, 50257, 768, 0), LMR_EINVAL,
                  "lmr_param_count: counts is NULL");
}

/* Two problems at once: the first in spec/api.md#error-order wins. */
static void test_param_count_order(void)
{
    const int64_t two_31 = (int64_t)1 << 31;
    counts_rejected(-1, 0, 0, LMR_EDIM,
                    "lmr_param_count: |V| = -1 and d = 0: the zero size first");
    counts_rejected(0, 768, -1, LMR_EDIM,
                    "lmr_param_count: |V| = 0 and B = -1: the zero size first");
    counts_rejected(50257, 768, -1, LMR_EDOMAIN,
                    "lmr_param_count: B = -1 alone");
    expect_status(lmr_param_count(NULL, 0, 768, 0), LMR_EDIM,
                  "lmr_param_count: |V| = 0 and counts NULL: the input first");
    expect_status(lmr_param_count(NULL, two_31 - 1, two_31 + 1, 2),
                  LMR_EOVERFLOW,
                  "lmr_param_count: a count past 2^63 - 1 and counts NULL: "
                  "the input first");
    expect_status(lmr_param_count_check(0, -1, 0), LMR_EDIM,
                  "lmr_param_count_check: |V| = 0, d = -1");
    expect_status(lmr_param_count_check(two_31 - 1, two_31 + 1, 2),
                  LMR_EOVERFLOW, "lmr_param_count_check: untied = 2^63");
    expect_status(lmr_param_count_check(two_31 - 1, two_31 + 1, 1), LMR_OK,
                  "lmr_param_count_check: untied = 2^63 - 1");
}

static void test_param_count_overflow(void)
{
    const int64_t two_31 = (int64_t)1 << 31;
    const int64_t two_62 = (int64_t)1 << 62;
    /* (2^31 - 1)(2^31 + 1) = 2^62 - 1; untied = 2^63 - 2 + B */
    counts_exact(two_31 - 1, two_31 + 1, 1, INT64_MAX, two_62, two_62 - 1, 0.5,
                 "lmr_param_count: |V| = 2^31-1, d = 2^31+1, B = 1: untied = 2^63-1 exactly");
    counts_rejected(two_31 - 1, two_31 + 1, 2, LMR_EOVERFLOW,
                    "lmr_param_count: |V| = 2^31-1, d = 2^31+1, B = 2: untied = 2^63");
    counts_rejected((int64_t)1 << 32, two_31, 0, LMR_EOVERFLOW,
                    "lmr_param_count: |V| d = 2^63 overflows");
    counts_rejected(INT64_MAX, 2, 0, LMR_EOVERFLOW,
                    "lmr_param_count: |V| = INT64_MAX, d = 2");
    counts_rejected(INT64_MAX, 1, 0, LMR_EOVERFLOW,
                    "lmr_param_count: |V| d = INT64_MAX fits, untied = 2|V|d does not");
    counts_rejected(1, 1, INT64_MAX, LMR_EOVERFLOW,
                    "lmr_param_count: |V| = d = 1, B = INT64_MAX: tied overflows");
    counts_rejected(1, 1, INT64_MAX - 1, LMR_EOVERFLOW,
                    "lmr_param_count: |V| = d = 1, B = INT64_MAX - 1: untied overflows");
    counts_exact(1, 1, INT64_MAX - 2, INT64_MAX, INT64_MAX - 1, 1,
                 1.0 / 0x1p63,
                 "lmr_param_count: |V| = d = 1, B = INT64_MAX - 2: untied = INT64_MAX");
    counts_exact(1, 1, 0, 2, 1, 1, 0.5, "lmr_param_count: |V| = d = 1, B = 0");
}

static void test_param_count(void)
{
    test_param_count_domain();
    test_param_count_order();
    test_param_count_overflow();
}

int main(void)
{
    test_head_tied();
    test_head_untied();
    test_rows(lmr_softmax, "lmr_softmax");
    test_rows(lmr_log_softmax, "lmr_log_softmax");
    test_cross_entropy();
    test_argmax();
    test_sample();
    test_logit_lens();
    test_param_count();
    tap_done();
    return tap_exit_status();
}
