/*
 * errors_variants.c -- TAP test of the head variants' checks on views
 * (ref/lmr_variants.h, lmr_grad_variants.h; spec/api.md, spec/errors.md).
 *
 * For each op of the group, forward and backward:
 *
 * 1. Shapes: every disagreement of the views that the vector harness used
 *    to turn into LMR_EDIM itself (tools/refops before issue 16) is now the
 *    library's LMR_EDIM, and so is an output of another shape.
 * 2. Order (spec/api.md#error-order): calls with two problems get the first
 *    in the spec's order -- a shape before a non-finite entry, a parameter
 *    before the entries, an input before the upstream gradient, the
 *    upstream gradient before an output.
 * 3. The check alone (lmr_<op>_check) returns what the op returns for a
 *    problem of its inputs, and LMR_OK for a valid call whose outputs are
 *    bad (it does not see them).
 *
 * Every rejected call is also checked to write nothing: the outputs are
 * views of sentinel buffers.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "lmr.h"
#include "tap.h"

enum {
    N = 2,          /* rows of h */
    D = 2,          /* width d, and the MLP's m */
    V = 3,          /* |V| */
    K = 2,          /* mixture components */
    SLOTS = 8,      /* output buffers */
    CAPACITY = 64,  /* entries of each buffer and of GOOD */
    SHARED = 1      /* partial tying's k */
};

static const double SENTINEL = 12345.0;
static double GOOD[CAPACITY];         /* finite values, any prefix a fixture */
static double BAD[CAPACITY];          /* GOOD with a NaN in entry LAST_BAD */
static double OUT[SLOTS][CAPACITY];   /* output buffers */
static const int64_t TARGETS[N] = {2, LMR_DEFAULT_IGNORE_INDEX};
static const double WEIGHTS[K] = {0.25, 0.75};
static const double ONE[1] = {1.0};

static void fill_inputs(void)
{
    for (size_t i = 0; i < CAPACITY; i++)
        GOOD[i] = (double)((int)(i * 37 % 17) - 8) / 8.0;
    memcpy(BAD, GOOD, sizeof BAD);
    BAD[0] = NAN; /* the first entry: every view of BAD holds it */
}

static void reset_outputs(void)
{
    for (size_t s = 0; s < SLOTS; s++)
        for (size_t i = 0; i < CAPACITY; i++)
            OUT[s][i] = SENTINEL;
}

/* 1 if every output buffer still holds the sentinel, bit for bit. */
static int untouched(void)
{
    for (size_t s = 0; s < SLOTS; s++)
        for (size_t i = 0; i < CAPACITY; i++)
            if (memcmp(&OUT[s][i], &SENTINEL, sizeof SENTINEL) != 0)
                return 0;
    return 1;
}

/* Two TAP lines: status is expected, and nothing was written. */
static void rejects(int status, int expected, const char *what)
{
    expect_status(status, expected, what);
    tap_ok(untouched(), "%s: nothing written", what);
    reset_outputs();
}

/* One TAP line: status is LMR_OK. */
static void accepts(int status, const char *what)
{
    expect_status(status, LMR_OK, what);
    reset_outputs();
}

/* Views of GOOD (a finite input), BAD (NaN in its first entry), OUT[slot]. */
static lmr_mat good(size_t rows, size_t cols) { return lmr_mat_of(GOOD, rows, cols); }
static lmr_mat bad(size_t rows, size_t cols) { return lmr_mat_of(BAD, rows, cols); }
static lmr_vec good_vec(size_t len) { return lmr_vec_of(GOOD, len); }
static lmr_stack good_stack(size_t count, size_t rows, size_t cols)
{
    return lmr_stack_of(GOOD, count, rows, cols);
}
static lmr_mat_out out(int slot, size_t rows, size_t cols)
{
    return lmr_mat_out_of(OUT[slot], rows, cols);
}
static lmr_vec_out out_vec(int slot, size_t len)
{
    return lmr_vec_out_of(OUT[slot], len);
}
static lmr_stack_out out_stack(int slot, size_t count, size_t rows, size_t cols)
{
    return lmr_stack_out_of(OUT[slot], count, rows, cols);
}
static lmr_mat none(void) { return lmr_mat_of(NULL, 0, 0); }
static lmr_mat_out none_out(void) { return lmr_mat_out_of(NULL, 0, 0); }

/* "function: text", in a static buffer that the next call overwrites. */
static const char *named(const char *function, const char *text)
{
    static char what[192];
    snprintf(what, sizeof what, "%s: %s", function, text);
    return what;
}

/* ---- partial tying ------------------------------------------------------- */

static void test_partial(void)
{
    const char *f = "lmr_head_partial", *b = "lmr_head_partial_backward";
    lmr_mat h = good(N, D), E = good(V, D), F = good(D, V - SHARED);
    accepts(lmr_head_partial(out(0, N, V), h, E, F, SHARED), named(f, "valid call"));
    accepts(lmr_head_partial(out(0, N, V), h, E, none(), V),
            named(f, "k = |V| with F the empty view"));
    /* the harness's shape rules */
    rejects(lmr_head_partial(out(0, N, V), h, good(V, D + 1), F, SHARED), LMR_EDIM,
            named(f, "E.cols != d"));
    rejects(lmr_head_partial(out(0, N, V), h, E, good(D + 1, V - SHARED), SHARED),
            LMR_EDIM, named(f, "F.rows != d"));
    rejects(lmr_head_partial(out(0, N, V), h, E, good(D, V), SHARED), LMR_EDIM,
            named(f, "F.cols != |V| - k"));
    rejects(lmr_head_partial(out(0, N, V), h, E, none(), SHARED), LMR_EDIM,
            named(f, "F absent with k < |V|"));
    rejects(lmr_head_partial(out(0, N, V + 1), h, E, F, SHARED), LMR_EDIM,
            named(f, "logits of another shape"));
    rejects(lmr_head_partial(out(0, N, V), h, E, F, -1), LMR_EDOMAIN,
            named(f, "k = -1 (an int64_t reaches the library)"));
    /* the order */
    rejects(lmr_head_partial(out(0, N, V), bad(N, D), good(V, D + 1), F, SHARED),
            LMR_EDIM, named(f, "EDIM (E) before ENONFINITE (h)"));
    rejects(lmr_head_partial(out(0, N, V), h, good(V, D + 1), F, -1), LMR_EDIM,
            named(f, "EDIM (E) before EDOMAIN (k = -1)"));
    rejects(lmr_head_partial(out(0, N, V), bad(N, D), E, F, V + 1), LMR_EDOMAIN,
            named(f, "EDOMAIN (k > |V|, F not measured) before ENONFINITE (h)"));
    rejects(lmr_head_partial(out(0, N, V + 1), bad(N, D), E, F, SHARED),
            LMR_ENONFINITE, named(f, "an input (NaN in h) before an output's shape"));
    rejects(lmr_head_partial(lmr_mat_out_of(NULL, N, V), h, E, F, SHARED), LMR_EINVAL,
            named(f, "logits without data"));
    expect_status(lmr_head_partial_check(h, E, F, V + 1), LMR_EDOMAIN,
                  named(f, "the check alone: k > |V|"));
    expect_status(lmr_head_partial_check(h, E, F, SHARED), LMR_OK,
                  named(f, "the check alone: valid"));

    lmr_mat dU = good(N, V);
    lmr_mat_out dh = out(0, N, D), dE = out(1, V, D), dF = out(2, D, V - SHARED);
    accepts(lmr_head_partial_backward(dh, dE, dF, h, E, F, dU, SHARED),
            named(b, "valid call"));
    accepts(lmr_head_partial_backward(dh, dE, none_out(), h, E, none(), dU, V),
            named(b, "k = |V| with F and dF empty"));
    rejects(lmr_head_partial_backward(dh, dE, dF, h, E, F, good(N + 1, V), SHARED),
            LMR_EDIM, named(b, "dlogits.rows != n"));
    rejects(lmr_head_partial_backward(dh, dE, dF, h, E, F, good(N, V - 1), SHARED),
            LMR_EDIM, named(b, "dlogits.cols != |V|"));
    rejects(lmr_head_partial_backward(dh, dE, dF, h, E, good(D, V), dU, SHARED),
            LMR_EDIM, named(b, "F.cols != |V| - k"));
    rejects(lmr_head_partial_backward(dh, dE, out(2, D, V), h, E, F, dU, SHARED),
            LMR_EDIM, named(b, "dF of another shape"));
    rejects(lmr_head_partial_backward(dh, dE, dF, h, bad(V, D), F, good(N + 1, V),
                                      SHARED),
            LMR_ENONFINITE, named(b, "an input (NaN in E) before dlogits' shape"));
    rejects(lmr_head_partial_backward(out(0, N, D + 1), dE, dF, h, E, F, bad(N, V),
                                      SHARED),
            LMR_ENONFINITE, named(b, "dlogits (NaN) before an output's shape"));
    rejects(lmr_head_partial_backward(lmr_mat_out_of(NULL, N, D), dE, dF, h, E, F,
                                      good(N, V + 1), SHARED),
            LMR_EDIM, named(b, "dlogits' shape before an output without data"));
    rejects(lmr_head_partial_backward(dh, dE, dF, h, E, F, dU, -2), LMR_EDOMAIN,
            named(b, "k = -2"));
}

/* ---- transformed tying --------------------------------------------------- */

static void test_transformed(void)
{
    const char *f = "lmr_head_transformed", *b = "lmr_head_transformed_backward";
    lmr_mat h = good(N, D), T = good(D, D), E = good(V, D), dU = good(N, V);
    accepts(lmr_head_transformed(out(0, N, V), h, T, E), named(f, "valid call"));
    rejects(lmr_head_transformed(out(0, N, V), h, good(D + 1, D), E), LMR_EDIM,
            named(f, "T.rows != d"));
    rejects(lmr_head_transformed(out(0, N, V), h, good(D, D + 1), E), LMR_EDIM,
            named(f, "T.cols != d"));
    rejects(lmr_head_transformed(out(0, N, V), h, T, good(V, D + 1)), LMR_EDIM,
            named(f, "E.cols != d"));
    rejects(lmr_head_transformed(out(0, N + 1, V), h, T, E), LMR_EDIM,
            named(f, "logits of another shape"));
    rejects(lmr_head_transformed(out(0, N, V), bad(N, D), good(D, D + 1), E),
            LMR_EDIM, named(f, "EDIM (T) before ENONFINITE (h)"));
    rejects(lmr_head_transformed(out(0, N, V + 1), h, bad(D, D), E), LMR_ENONFINITE,
            named(f, "an input (NaN in T) before an output's shape"));
    expect_status(lmr_head_transformed_check(h, T, bad(V, D)), LMR_ENONFINITE,
                  named(f, "the check alone: NaN in E"));

    lmr_mat_out dh = out(0, N, D), dT = out(1, D, D), dE = out(2, V, D);
    accepts(lmr_head_transformed_backward(dh, dT, dE, h, T, E, dU),
            named(b, "valid call"));
    rejects(lmr_head_transformed_backward(dh, dT, dE, h, T, E, good(N, V + 1)),
            LMR_EDIM, named(b, "dlogits.cols != |V|"));
    rejects(lmr_head_transformed_backward(dh, dT, dE, h, T, E, good(N - 1, V)),
            LMR_EDIM, named(b, "dlogits.rows != n"));
    rejects(lmr_head_transformed_backward(dh, dT, dE, h, good(D, D + 1), E, dU),
            LMR_EDIM, named(b, "T.cols != d"));
    rejects(lmr_head_transformed_backward(dh, out(1, D, D + 1), dE, h, T, E, dU),
            LMR_EDIM, named(b, "dT of another shape"));
    rejects(lmr_head_transformed_backward(dh, dT, dE, bad(N, D), T, E, good(N, V + 1)),
            LMR_ENONFINITE, named(b, "an input (NaN in h) before dlogits' shape"));
    rejects(lmr_head_transformed_backward(dh, dT, out(2, V + 1, D), h, T, E, bad(N, V)),
            LMR_ENONFINITE, named(b, "dlogits (NaN) before an output's shape"));
}

/* ---- adaptive tying ------------------------------------------------------ */

static void test_adaptive(void)
{
    const char *f = "lmr_head_adaptive", *b = "lmr_head_adaptive_backward";
    lmr_mat h = good(N, D), E = good(V, D), F = good(D, V), dU = good(N, V);
    double dalpha = SENTINEL;
    accepts(lmr_head_adaptive(out(0, N, V), h, E, F, 0.5), named(f, "valid call"));
    rejects(lmr_head_adaptive(out(0, N, V), h, good(V, D + 1), F, 0.5), LMR_EDIM,
            named(f, "E.cols != d"));
    rejects(lmr_head_adaptive(out(0, N, V), h, E, good(D + 1, V), 0.5), LMR_EDIM,
            named(f, "F.rows != d"));
    rejects(lmr_head_adaptive(out(0, N, V), h, E, good(D, V + 1), 0.5), LMR_EDIM,
            named(f, "F.cols != |V|"));
    rejects(lmr_head_adaptive(out(0, N, V - 1), h, E, F, 0.5), LMR_EDIM,
            named(f, "logits of another shape"));
    rejects(lmr_head_adaptive(out(0, N, V), h, E, good(D, V + 1), NAN), LMR_EDIM,
            named(f, "EDIM (F) before ENONFINITE (alpha)"));
    rejects(lmr_head_adaptive(out(0, N, V), bad(N, D), E, F, 2.0), LMR_EDOMAIN,
            named(f, "EDOMAIN (alpha) before ENONFINITE (h)"));
    rejects(lmr_head_adaptive(out(0, N, V), h, E, F, NAN), LMR_ENONFINITE,
            named(f, "alpha NaN"));
    expect_status(lmr_head_adaptive_check(h, E, F, -0.5), LMR_EDOMAIN,
                  named(f, "the check alone: alpha < 0"));

    lmr_head_adaptive_grads grads = {out(0, N, D), out(1, V, D), out(2, D, V), &dalpha};
    accepts(lmr_head_adaptive_backward(&grads, h, E, F, dU, 0.5), named(b, "valid call"));
    dalpha = SENTINEL;
    rejects(lmr_head_adaptive_backward(&grads, h, E, F, good(N, V + 1), 0.5),
            LMR_EDIM, named(b, "dlogits.cols != |V|"));
    rejects(lmr_head_adaptive_backward(&grads, h, E, good(D + 1, V), dU, 0.5),
            LMR_EDIM, named(b, "F.rows != d"));
    rejects(lmr_head_adaptive_backward(&grads, h, E, F, good(N, V + 1), 1.5),
            LMR_EDOMAIN, named(b, "a parameter (alpha) before dlogits' shape"));
    lmr_head_adaptive_grads wrong = {out(0, N, D), out(1, V, D), out(2, V, D), &dalpha};
    rejects(lmr_head_adaptive_backward(&wrong, h, E, F, dU, 0.5), LMR_EDIM,
            named(b, "dF of another shape"));
    rejects(lmr_head_adaptive_backward(&wrong, h, E, F, bad(N, V), 0.5),
            LMR_ENONFINITE, named(b, "dlogits (NaN) before an output's shape"));
    lmr_head_adaptive_grads no_dalpha = {out(0, N, D), out(1, V, D), out(2, D, V), NULL};
    rejects(lmr_head_adaptive_backward(&no_dalpha, h, E, F, dU, 0.5), LMR_EINVAL,
            named(b, "dalpha NULL"));
    rejects(lmr_head_adaptive_backward(NULL, h, E, F, dU, 0.5), LMR_EINVAL,
            named(b, "grads NULL"));
    tap_ok(dalpha == SENTINEL, "%s: dalpha not written by a rejected call", b);
}

/* ---- MLP head ------------------------------------------------------------ */

/* The untied form with both biases, m = D. */
static lmr_head_mlp_weights mlp_weights(void)
{
    lmr_head_mlp_weights w = {good(D, D), good_vec(D), good(D, V), none(), good_vec(V)};
    return w;
}

static void test_mlp(void)
{
    const char *f = "lmr_head_mlp", *b = "lmr_head_mlp_backward";
    lmr_mat h = good(N, D), dU = good(N, V);
    lmr_head_mlp_weights w = mlp_weights();
    accepts(lmr_head_mlp(out(0, N, V), h, &w), named(f, "valid call (untied)"));
    w.W2 = none();
    w.E = good(V, D);
    accepts(lmr_head_mlp(out(0, N, V), h, &w), named(f, "valid call (tied)"));
    w.E = good(V, D + 1);
    rejects(lmr_head_mlp(out(0, N, V), h, &w), LMR_EDIM, named(f, "tied: E.cols != d"));
    w = mlp_weights();
    w.W1 = good(D + 1, D);
    rejects(lmr_head_mlp(out(0, N, V), h, &w), LMR_EDIM, named(f, "W1.rows != d"));
    w = mlp_weights();
    w.b1 = good_vec(D + 1);
    rejects(lmr_head_mlp(out(0, N, V), h, &w), LMR_EDIM, named(f, "b1.len != m"));
    rejects(lmr_head_mlp(out(0, N, V), bad(N, D), &w), LMR_EDIM,
            named(f, "EDIM (b1) before ENONFINITE (h)"));
    w = mlp_weights();
    w.b2 = good_vec(V - 1);
    rejects(lmr_head_mlp(out(0, N, V), bad(N, D), &w), LMR_EDIM,
            named(f, "EDIM (b2) before ENONFINITE (h)"));
    rejects(lmr_head_mlp(out(0, N, V), h, &w), LMR_EDIM, named(f, "b2.len != |V|"));
    w = mlp_weights();
    w.W2 = good(D + 1, V);
    rejects(lmr_head_mlp(out(0, N, V), h, &w), LMR_EDIM, named(f, "untied: W2.rows != m"));
    w = mlp_weights();
    w.W1 = good(D, D + 1);
    w.W2 = none();
    w.E = good(V, D);
    w.b1 = lmr_vec_absent();
    rejects(lmr_head_mlp(out(0, N, V), h, &w), LMR_EDIM, named(f, "tied with m != d"));
    rejects(lmr_head_mlp(out(0, N, V), bad(N, D), &w), LMR_EDIM,
            named(f, "EDIM (tied with m != d) before ENONFINITE (h)"));
    w = mlp_weights();
    rejects(lmr_head_mlp(out(0, N + 1, V), h, &w), LMR_EDIM,
            named(f, "logits of another shape"));
    w.W2 = good(D + 1, V);
    rejects(lmr_head_mlp(out(0, N, V), bad(N, D), &w), LMR_EDIM,
            named(f, "EDIM (W2) before ENONFINITE (h)"));
    w = mlp_weights();
    w.b2 = lmr_vec_of(BAD, V);
    rejects(lmr_head_mlp(out(0, N, V + 1), h, &w), LMR_ENONFINITE,
            named(f, "an input (NaN in b2) before an output's shape"));
    rejects(lmr_head_mlp(out(0, N, V), h, NULL), LMR_EINVAL, named(f, "weights NULL"));
    expect_status(lmr_head_mlp_check(h, &w), LMR_ENONFINITE,
                  named(f, "the check alone: NaN in b2"));

    w = mlp_weights();
    lmr_head_mlp_grads g = {out(0, N, D), out(1, D, D), out_vec(2, D), out(3, D, V),
                            none_out(), out_vec(4, V)};
    accepts(lmr_head_mlp_backward(&g, h, &w, dU), named(b, "valid call (untied)"));
    rejects(lmr_head_mlp_backward(&g, h, &w, good(N, V + 1)), LMR_EDIM,
            named(b, "dlogits.cols != |V|"));
    rejects(lmr_head_mlp_backward(&g, h, &w, good(N + 1, V)), LMR_EDIM,
            named(b, "dlogits.rows != n"));
    g.db1 = out_vec(2, D + 1);
    rejects(lmr_head_mlp_backward(&g, h, &w, dU), LMR_EDIM, named(b, "db1 of another length"));
    rejects(lmr_head_mlp_backward(&g, h, &w, bad(N, V)), LMR_ENONFINITE,
            named(b, "dlogits (NaN) before an output's shape"));
    g.db1 = out_vec(2, D);
    w.W1 = lmr_mat_of(BAD, D, D);
    rejects(lmr_head_mlp_backward(&g, h, &w, good(N, V + 1)), LMR_ENONFINITE,
            named(b, "an input (NaN in W1) before dlogits' shape"));
    w = mlp_weights();
    rejects(lmr_head_mlp_backward(NULL, h, &w, good(N, V + 1)), LMR_EDIM,
            named(b, "dlogits' shape before grads NULL"));
    w.W2 = none();
    w.E = good(V, D);
    rejects(lmr_head_mlp_backward(&g, h, &w, dU), LMR_EDIM,
            named(b, "tied form with dE the empty view"));
    g.dE = lmr_mat_out_of(NULL, V, D);
    rejects(lmr_head_mlp_backward(&g, h, &w, dU), LMR_EINVAL,
            named(b, "tied form with dE without data"));
    g.dW2 = none_out();
    g.dE = out(3, V, D);
    accepts(lmr_head_mlp_backward(&g, h, &w, dU), named(b, "valid call (tied)"));
}

/* ---- the fixed mixture --------------------------------------------------- */

static void test_fixed(void)
{
    const char *f = "lmr_mos_fixed", *b = "lmr_mos_fixed_backward";
    lmr_mat h = good(N, D), G = good(N, V);
    lmr_stack W = good_stack(K, D, V);
    lmr_vec alpha = lmr_vec_of(WEIGHTS, K);
    accepts(lmr_mos_fixed(out(0, N, V), out(1, N, V), h, W, alpha), named(f, "valid call"));
    rejects(lmr_mos_fixed(out(0, N, V), out(1, N, V), h, good_stack(K, D + 1, V), alpha),
            LMR_EDIM, named(f, "W.rows != d"));
    rejects(lmr_mos_fixed(out(0, N, V), out(1, N, V), h, W, lmr_vec_of(WEIGHTS, K - 1)),
            LMR_EDIM, named(f, "alpha.len != K"));
    rejects(lmr_mos_fixed(out(0, N, V), out(1, N + 1, V), h, W, alpha), LMR_EDIM,
            named(f, "logprobs of another shape"));
    rejects(lmr_mos_fixed(out(0, N, V), out(1, N, V), bad(N, D), W,
                          lmr_vec_of(WEIGHTS, K + 1)),
            LMR_EDIM, named(f, "EDIM (alpha) before ENONFINITE (h)"));
    double negative[K] = {-1.0, 2.0};
    rejects(lmr_mos_fixed(out(0, N, V), out(1, N, V), bad(N, D), W, lmr_vec_of(negative, K)),
            LMR_ENONFINITE, named(f, "entries in parameter order: h before alpha"));
    rejects(lmr_mos_fixed(out(0, N, V), out(1, N, V), h, W, lmr_vec_of(negative, K)),
            LMR_EDOMAIN, named(f, "a negative weight"));
    rejects(lmr_mos_fixed(out(0, N, V), lmr_mat_out_of(NULL, N, V), h, W,
                          lmr_vec_of(negative, K)),
            LMR_EDOMAIN, named(f, "an input (a negative weight) before an output"));
    expect_status(lmr_mos_fixed_check(h, W, lmr_vec_of(negative, K)), LMR_EDOMAIN,
                  named(f, "the check alone: a negative weight"));

    lmr_mat_out dh = out(0, N, D);
    lmr_stack_out dW = out_stack(1, K, D, V);
    lmr_vec_out dalpha = out_vec(2, K);
    accepts(lmr_mos_fixed_backward(dh, dW, dalpha, h, W, alpha, G), named(b, "valid call"));
    rejects(lmr_mos_fixed_backward(dh, dW, dalpha, h, W, alpha, good(N, V + 1)),
            LMR_EDIM, named(b, "dlogprobs.cols != |V|"));
    rejects(lmr_mos_fixed_backward(dh, dW, dalpha, h, W, alpha, good(N + 1, V)),
            LMR_EDIM, named(b, "dlogprobs.rows != n"));
    rejects(lmr_mos_fixed_backward(dh, out_stack(1, K, D, V + 1), dalpha, h, W, alpha, G),
            LMR_EDIM, named(b, "dW of another shape"));
    rejects(lmr_mos_fixed_backward(dh, dW, dalpha, h, W, lmr_vec_of(negative, K),
                                   good(N, V + 1)),
            LMR_EDOMAIN, named(b, "an input (a negative weight) before dlogprobs' shape"));
    rejects(lmr_mos_fixed_backward(dh, dW, out_vec(2, K + 1), h, W, alpha, bad(N, V)),
            LMR_ENONFINITE, named(b, "dlogprobs (NaN) before an output's shape"));
}

/* ---- the gated mixture --------------------------------------------------- */

/* The untied form with b_out. */
static lmr_mos_gated_params gated_params(void)
{
    lmr_mos_gated_params p = {good(D, K), good_stack(K, D, D), good(K, D), good(D, V),
                              none(), good_vec(V)};
    return p;
}

static void test_gated(void)
{
    const char *f = "lmr_mos_gated", *b = "lmr_mos_gated_backward";
    lmr_mat h = good(N, D), G = good(N, V);
    lmr_mos_gated_params p = gated_params();
    accepts(lmr_mos_gated(out(0, N, V), out(1, N, V), h, &p), named(f, "valid call"));
    struct {
        lmr_mos_gated_params params;
        const char *what;
    } shapes[] = {
        {p, "W_pi.rows != d"}, {p, "W_comp.count != K"}, {p, "W_comp.rows != d"},
        {p, "W_comp.cols != d"}, {p, "b_comp.rows != K"}, {p, "b_comp.cols != d"},
        {p, "b_out.len != |V|"}, {p, "untied: W_out.rows != d"}, {p, "tied: E.cols != d"}};
    shapes[0].params.W_pi = good(D + 1, K);
    shapes[1].params.W_comp = good_stack(K + 1, D, D);
    shapes[2].params.W_comp = good_stack(K, D + 1, D);
    shapes[3].params.W_comp = good_stack(K, D, D + 1);
    shapes[4].params.b_comp = good(K + 1, D);
    shapes[5].params.b_comp = good(K, D + 1);
    shapes[6].params.b_out = good_vec(V + 1);
    shapes[7].params.W_out = good(D + 1, V);
    shapes[8].params.W_out = none();
    shapes[8].params.E = good(V, D + 1);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        rejects(lmr_mos_gated(out(0, N, V), out(1, N, V), h, &shapes[i].params),
                LMR_EDIM, named(f, shapes[i].what));
        rejects(lmr_mos_gated_backward(NULL, h, &shapes[i].params, G), LMR_EDIM,
                named(b, shapes[i].what));
    }
    rejects(lmr_mos_gated(out(0, N, V), out(1, N, V), bad(N, D), &shapes[4].params),
            LMR_EDIM, named(f, "EDIM (b_comp) before ENONFINITE (h)"));
    lmr_mos_gated_params nan_b_comp = p;
    nan_b_comp.b_comp = bad(K, D);
    rejects(lmr_mos_gated(out(0, N, V), out(1, N, V + 1), h, &nan_b_comp),
            LMR_ENONFINITE, named(f, "an input (NaN in b_comp) before an output's shape"));
    rejects(lmr_mos_gated(out(0, N, V), out(1, N, V), h, NULL), LMR_EINVAL,
            named(f, "params NULL"));
    expect_status(lmr_mos_gated_check(h, &nan_b_comp), LMR_ENONFINITE,
                  named(f, "the check alone: NaN in b_comp"));

    lmr_mos_gated_grads g = {out(0, N, D), out(1, D, K), out_stack(2, K, D, D),
                             out(3, K, D), out(4, D, V), none_out(), out_vec(5, V)};
    accepts(lmr_mos_gated_backward(&g, h, &p, G), named(b, "valid call (untied)"));
    rejects(lmr_mos_gated_backward(&g, h, &p, good(N, V + 1)), LMR_EDIM,
            named(b, "dlogprobs.cols != |V|"));
    rejects(lmr_mos_gated_backward(&g, h, &p, good(N + 1, V)), LMR_EDIM,
            named(b, "dlogprobs.rows != n"));
    rejects(lmr_mos_gated_backward(&g, h, &nan_b_comp, good(N, V + 1)), LMR_ENONFINITE,
            named(b, "an input (NaN in b_comp) before dlogprobs' shape"));
    g.db_out = out_vec(5, V + 1);
    rejects(lmr_mos_gated_backward(&g, h, &p, G), LMR_EDIM, named(b, "db_out of another length"));
    rejects(lmr_mos_gated_backward(&g, h, &p, bad(N, V)), LMR_ENONFINITE,
            named(b, "dlogprobs (NaN) before an output's shape"));
    g.db_out = out_vec(5, V);
    lmr_mos_gated_params tied = p;
    tied.W_out = none();
    tied.E = good(V, D);
    rejects(lmr_mos_gated_backward(&g, h, &tied, G), LMR_EDIM,
            named(b, "tied form with dE the empty view"));
    g.dE = lmr_mat_out_of(NULL, V, D);
    rejects(lmr_mos_gated_backward(&g, h, &tied, G), LMR_EINVAL,
            named(b, "tied form with dE without data"));
    g.dW_out = none_out();
    g.dE = out(4, V, D);
    accepts(lmr_mos_gated_backward(&g, h, &tied, G), named(b, "valid call (tied)"));
}

/* ---- soft tying ---------------------------------------------------------- */

static void test_soft_tie(void)
{
    const char *f = "lmr_soft_tie_loss", *b = "lmr_soft_tie_loss_backward";
    const int64_t IGNORE = LMR_DEFAULT_IGNORE_INDEX;
    const enum lmr_reduction MEAN = LMR_REDUCE_MEAN;
    lmr_mat h = good(N, D);
    lmr_ids targets = lmr_ids_of(TARGETS, N);
    lmr_soft_tie_weights w = {good(V, D), good(D, V)};
    lmr_soft_tie value = {SENTINEL, SENTINEL, SENTINEL};
    tap_ok(lmr_soft_tie_loss(&value, h, &w, targets, 0.5, MEAN, IGNORE) == LMR_OK &&
           isfinite(value.loss) && value.loss != SENTINEL, "%s: valid call", f);
    struct {
        lmr_soft_tie_weights weights;
        size_t n_targets;
        const char *what;
    } shapes[] = {{w, N, "E.cols != d"}, {w, N, "W.rows != d"}, {w, N, "W.cols != |V|"},
                  {w, N - 1, "targets.len != n"}};
    shapes[0].weights.E = good(V, D + 1);
    shapes[1].weights.W = good(D + 1, V);
    shapes[2].weights.W = good(D, V + 1);
    lmr_soft_tie_grads g = {out(0, N, D), out(1, V, D), out(2, D, V)};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        lmr_ids t = lmr_ids_of(TARGETS, shapes[i].n_targets);
        value.loss = SENTINEL;
        expect_status(lmr_soft_tie_loss(&value, h, &shapes[i].weights, t, 0.5, MEAN,
                                        IGNORE),
                      LMR_EDIM, named(f, shapes[i].what));
        tap_ok(value.loss == SENTINEL, "%s: %s: nothing written", f, shapes[i].what);
        rejects(lmr_soft_tie_loss_backward(&g, h, &shapes[i].weights, t,
                                           lmr_vec_of(ONE, 1), 0.5, MEAN, IGNORE),
                LMR_EDIM, named(b, shapes[i].what));
    }
    lmr_soft_tie_weights nan_E = {bad(V, D), good(D, V)};
    expect_status(lmr_soft_tie_loss(&value, h, &shapes[2].weights, targets, NAN, MEAN,
                                    IGNORE),
                  LMR_EDIM, named(f, "EDIM (W) before ENONFINITE (lambda)"));
    expect_status(lmr_soft_tie_loss(&value, h, &nan_E, targets, -1.0, MEAN, IGNORE),
                  LMR_EDOMAIN, named(f, "EDOMAIN (lambda) before ENONFINITE (E)"));
    int64_t out_of_range[N] = {V, 0};
    expect_status(lmr_soft_tie_loss(&value, h, &nan_E, lmr_ids_of(out_of_range, N), 0.5,
                                    MEAN, IGNORE),
                  LMR_ENONFINITE, named(f, "entries in parameter order: E before targets"));
    expect_status(lmr_soft_tie_loss(&value, h, &w, targets, 0.5, MEAN, 1), LMR_EDOMAIN,
                  named(f, "ignore_index inside [0, |V|)"));
    expect_status(lmr_soft_tie_loss(NULL, h, &nan_E, targets, 0.5, MEAN, IGNORE),
                  LMR_ENONFINITE, named(f, "an input (NaN in E) before out NULL"));
    expect_status(lmr_soft_tie_loss_check(h, &w, targets, 0.5, LMR_REDUCE_NONE, IGNORE),
                  LMR_EDOMAIN, named(f, "the check alone: reduction none"));

    lmr_vec dloss = lmr_vec_of(ONE, 1);
    accepts(lmr_soft_tie_loss_backward(&g, h, &w, targets, dloss, 0.5, MEAN, IGNORE),
            named(b, "valid call"));
    rejects(lmr_soft_tie_loss_backward(&g, h, &w, targets, lmr_vec_of(GOOD, 2), 0.5,
                                       MEAN, IGNORE),
            LMR_EDIM, named(b, "dloss of length 2"));
    rejects(lmr_soft_tie_loss_backward(&g, h, &w, targets, lmr_vec_absent(), 0.5, MEAN,
                                       IGNORE),
            LMR_EDIM, named(b, "dloss empty"));
    rejects(lmr_soft_tie_loss_backward(&g, h, &w, targets, lmr_vec_of(GOOD, 2), 0.5,
                                       LMR_REDUCE_NONE, IGNORE),
            LMR_EDOMAIN, named(b, "reduction none before dloss' length"));
    rejects(lmr_soft_tie_loss_backward(&g, h, &nan_E, targets, lmr_vec_of(BAD, 1), 0.5,
                                       MEAN, IGNORE),
            LMR_ENONFINITE, named(b, "an input (NaN in E) before dloss"));
    lmr_soft_tie_grads wrong = {out(0, N, D), out(1, V, D), out(2, V, D)};
    rejects(lmr_soft_tie_loss_backward(&wrong, h, &w, targets, dloss, 0.5, MEAN, IGNORE),
            LMR_EDIM, named(b, "dW of another shape"));
    rejects(lmr_soft_tie_loss_backward(&wrong, h, &w, targets, lmr_vec_of(BAD, 1), 0.5,
                                       MEAN, IGNORE),
            LMR_ENONFINITE, named(b, "dloss (NaN) before an output's shape"));
    rejects(lmr_soft_tie_loss_backward(NULL, h, &w, targets, lmr_vec_of(GOOD, 3), 0.5,
                                       MEAN, IGNORE),
            LMR_EDIM, named(b, "dloss' length before grads NULL"));
    rejects(lmr_soft_tie_loss_backward(NULL, h, &w, targets, dloss, 0.5, MEAN, IGNORE),
            LMR_EINVAL, named(b, "grads NULL"));
}

/* ---- the intermediates ---------------------------------------------------- */

static void test_intermediates(void)
{
    lmr_mat h = good(N, D);
    rejects(lmr_head_transformed_hidden(out(0, N, D), h, good(D, D + 1)), LMR_EDIM,
            "lmr_head_transformed_hidden: T not square");
    rejects(lmr_head_transformed_hidden(out(0, N, D + 1), h, good(D, D + 1)), LMR_EDIM,
            "lmr_head_transformed_hidden: T not square, hT as wide as T");
    rejects(lmr_head_adaptive_parts(out(0, N, V), out(1, N, V), h, good(V, D),
                                    good(D, V + 1)),
            LMR_EDIM, "lmr_head_adaptive_parts: F.cols != |V|");
    rejects(lmr_head_mlp_hidden(out(0, N, D), out(1, N, D + 1), h, good(D, D),
                                lmr_vec_absent()),
            LMR_EDIM, "lmr_head_mlp_hidden: hidden of another shape");
    rejects(lmr_mos_fixed_components(out_vec(0, K), out_stack(1, K, N, V), h,
                                     good_stack(K, D, V), lmr_vec_of(WEIGHTS, K + 1)),
            LMR_EDIM, "lmr_mos_fixed_components: alpha.len != K");
    rejects(lmr_mos_gated_weights(out(0, N, K), h, good(D + 1, K)), LMR_EDIM,
            "lmr_mos_gated_weights: W_pi.rows != d");
}

int main(void)
{
    fill_inputs();
    reset_outputs();
    test_partial();
    test_transformed();
    test_adaptive();
    test_mlp();
    test_fixed();
    test_gated();
    test_soft_tie();
    test_intermediates();
    tap_done();
    return tap_exit_status();
}
