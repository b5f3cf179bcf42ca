/*
 * errors_attention.c -- TAP test of every documented error of
 * lmr_attention_weights (ref/lmr_attention.h; spec/attention.md,
 * errors.md).
 *
 * Why: a reference that accepts bad input, or reports it with the wrong
 * code, lets the bug it exists to expose pass silently. Each bad input is
 * its own TAP line asserting the exact status, followed by a line checking
 * that the output still holds its sentinel everywhere: the library writes
 * nothing unless it returns LMR_OK, also when the problem (a fully masked
 * row, an overflowing score, a NaN) is in the last row. The backward
 * (lmr_attention_weights_backward) adds the checks of its upstream
 * gradient and keeps the forward's.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "lmr.h"
#include "check.h"
#include "tap.h"

enum { NQ = 3, NK = 4, DK = 2, CAP = 32 };

static const double SENTINEL = 12345.0;
/* Q: (NQ, DK); K: (NK, DK) */
static const double GOOD_Q[NQ * DK] = {1, 0.5, -0.25, 2, 0, -1};
static const double GOOD_K[NK * DK] = {1, 1, -1, 0.5, 0.25, 0, 2, -2};
/* key_mask: (NK) */
static const int64_t GOOD_MASK[NK] = {1, 0, 1, 1};

/* A size whose product with 2 or with 8 bytes overflows size_t. */
static const size_t HUGE_SIZE = SIZE_MAX / 2;

typedef struct {
    const double *Q, *K;
    const int64_t *key_mask; /* (mask_len), or NULL with mask_len 0 */
    size_t n_q, n_k, d_k;
    int causal;
    size_t k_width, mask_len; /* d_k and n_k unless a test says */
} attention_args;

static attention_args good_args(void)
{
    attention_args a = {GOOD_Q, GOOD_K, GOOD_MASK, NQ, NK, DK, 1, DK, NK};
    return a;
}

/* The arguments without a padding mask. */
static attention_args without_mask(attention_args a)
{
    a.key_mask = NULL;
    a.mask_len = 0;
    return a;
}

static lmr_mat view_Q(attention_args a) { return lmr_mat_of(a.Q, a.n_q, a.d_k); }
static lmr_mat view_K(attention_args a) { return lmr_mat_of(a.K, a.n_k, a.k_width); }
static lmr_ids view_mask(attention_args a)
{
    return lmr_ids_of(a.key_mask, a.mask_len);
}

static void fill(double *values /* (CAP) */)
{
    for (size_t i = 0; i < CAP; i++)
        values[i] = SENTINEL;
}

static int run(attention_args a, double *weights /* (CAP) */)
{
    fill(weights);
    return lmr_attention_weights(lmr_mat_out_of(weights, a.n_q, a.n_k),
                                 view_Q(a), view_K(a), view_mask(a), a.causal);
}

static int untouched(const double *weights /* (CAP) */)
{
    for (size_t i = 0; i < CAP; i++)
        if (memcmp(&weights[i], &SENTINEL, sizeof SENTINEL) != 0)
            return 0;
    return 1;
}

static void rejects(attention_args a, int expected, const char *what)
{
    double weights[CAP];
    expect_status(run(a, weights), expected, what);
    tap_ok(untouched(weights), "%s: output not written", what);
}

static void test_good(void)
{
    double weights[CAP];
    expect_status(run(good_args(), weights), LMR_OK, "the good arguments");
    tap_ok(weights[1] == 0.0 && weights[2 * NK + 1] == 0.0,
           "the padding key has weight 0 in every row");
}

static void test_values(void)
{
    double Q[NQ * DK], K[NK * DK];
    attention_args a = good_args();
    a.Q = Q;
    copy_with(Q, GOOD_Q, NQ * DK, NQ * DK - 1, NAN);
    rejects(a, LMR_ENONFINITE, "NaN in the last entry of Q");
    copy_with(Q, GOOD_Q, NQ * DK, 0, INFINITY);
    rejects(a, LMR_ENONFINITE, "+inf in Q");
    a = good_args();
    a.K = K;
    copy_with(K, GOOD_K, NK * DK, 2 * DK + 1, -INFINITY);
    rejects(a, LMR_ENONFINITE, "-inf in K (a mask is not given through K)");
    /* a NaN in a padding key's row is still bad input: the whole table */
    copy_with(K, GOOD_K, NK * DK, 1 * DK, NAN);
    rejects(a, LMR_ENONFINITE, "NaN in the row of a padding key");
}

static void test_masks(void)
{
    static const int64_t two[NK] = {1, 2, 1, 1};
    static const int64_t negative[NK] = {1, 1, -1, 1};
    static const int64_t none[NK] = {0, 0, 0, 0};
    static const int64_t last_only[NK] = {0, 0, 0, 1};
    attention_args a = good_args();
    a.key_mask = two;
    rejects(a, LMR_EDOMAIN, "key_mask entry 2");
    a.key_mask = negative;
    rejects(a, LMR_EDOMAIN, "key_mask entry -1");
    a.key_mask = none;
    a.causal = 0;
    rejects(a, LMR_EDOMAIN, "every key padding");
    a.key_mask = last_only;
    a.causal = 1;
    a.n_q = NK; /* n_q = n_k: query 0 reads key 0 alone, which is padding */
    a.Q = GOOD_K;
    rejects(a, LMR_EDOMAIN, "causal and padding together mask query 0's keys");
    a = good_args();
    a = without_mask(a);
    a.n_k = 2; /* n_q = 3 > n_k = 2: query 0 stands before every key */
    rejects(a, LMR_EDOMAIN, "causal with n_q > n_k: query 0 has no key");
    a.causal = 0;
    double weights[CAP];
    expect_status(run(a, weights), LMR_OK, "the same without causal");
}

static void test_sizes(void)
{
    attention_args a = good_args();
    a.d_k = a.k_width = 0;
    rejects(a, LMR_EDIM, "d_k = 0");
    a = good_args();
    a = without_mask(a);
    a.n_k = 0;
    rejects(a, LMR_EDIM, "n_k = 0");
    a = good_args();
    a.n_q = HUGE_SIZE;
    rejects(a, LMR_EOVERFLOW, "n_q * d_k overflows");
    a = good_args();
    a = without_mask(a);
    a.n_k = HUGE_SIZE;
    rejects(a, LMR_EOVERFLOW, "n_k * d_k overflows");
}

static void test_range(void)
{
    /* |Q K^T| = 2e300 / sqrt(2) overflows: reference only (spec/errors.md) */
    static const double big[2] = {1e300, 1e300};
    static const double one_key[2] = {1, 1};
    static const double big_key[2] = {1e10, 1e10};
    attention_args a = {big, one_key, NULL, 1, 1, 2, 0, 2, 0};
    double weights[CAP];
    expect_status(run(a, weights), LMR_OK,
                  "a score of 1.4e300 stays finite (a control)");
    a.K = big_key;
    rejects(a, LMR_ERANGE, "a score of 1.4e310 overflows");
}

static void test_null_and_empty(void)
{
    attention_args a = good_args();
    double weights[CAP];
    fill(weights);
    expect_status(lmr_attention_weights(lmr_mat_out_of(NULL, NQ, NK), view_Q(a),
                                        view_K(a), lmr_ids_of(NULL, 0), 0),
                  LMR_EINVAL, "weights without data");
    a.K = NULL;
    rejects(a, LMR_EINVAL, "K without data");
    a = good_args();
    a.Q = NULL;
    rejects(a, LMR_EINVAL, "Q without data");
    a = good_args();
    a.key_mask = NULL;
    rejects(a, LMR_EINVAL, "key_mask of n_k entries without data");
    a = good_args();
    a.n_q = 0;
    a.Q = NULL;
    expect_status(lmr_attention_weights(lmr_mat_out_of(NULL, 0, NK), view_Q(a),
                                        view_K(a), view_mask(a), 1),
                  LMR_OK, "n_q = 0 with no data for weights and Q");
    a = good_args();
    a.n_q = 0;
    expect_status(run(a, weights), LMR_OK, "n_q = 0");
    tap_ok(untouched(weights), "n_q = 0: nothing written");
}

/* The shapes the harness used to judge (K's width, key_mask's length), the
 * output's shape, and which problem comes first (spec/api.md#error-order). */
static void test_shapes_and_order(void)
{
    double Q[NQ * DK], weights[CAP];
    static const int64_t two[NK] = {1, 2, 1, 1};
    static const int64_t none[NK] = {0, 0, 0, 0};
    copy_with(Q, GOOD_Q, NQ * DK, 0, NAN);
    attention_args a = good_args();
    a.k_width = DK + 1;
    rejects(a, LMR_EDIM, "K is d_k + 1 wide");
    a = good_args();
    a.mask_len = NK - 1;
    rejects(a, LMR_EDIM, "key_mask of n_k - 1 entries");
    a.Q = Q;
    rejects(a, LMR_EDIM, "key_mask short and NaN in Q: EDIM first");
    a = good_args();
    a.key_mask = two;
    a.Q = Q;
    rejects(a, LMR_ENONFINITE, "key_mask entry 2 and NaN in Q: Q first");
    a = good_args();
    a.key_mask = none;
    a.Q = Q;
    rejects(a, LMR_ENONFINITE, "every key padding and NaN in Q: Q first");
    a = good_args();
    a.key_mask = NULL;
    a.k_width = DK + 1;
    rejects(a, LMR_EINVAL, "key_mask without data and K misshapen: EINVAL first");

    a = good_args();
    fill(weights);
    expect_status(lmr_attention_weights(lmr_mat_out_of(weights, NQ, NK + 1),
                                        view_Q(a), view_K(a), view_mask(a), 1),
                  LMR_EDIM, "weights n_q x (n_k + 1)");
    tap_ok(untouched(weights), "weights misshapen: output not written");
    a.Q = Q;
    expect_status(lmr_attention_weights(lmr_mat_out_of(weights, NQ, NK + 1),
                                        view_Q(a), view_K(a), view_mask(a), 1),
                  LMR_ENONFINITE, "weights misshapen and NaN in Q: the input first");
    a = good_args();
    expect_status(lmr_attention_weights_check(view_Q(a), view_K(a), view_mask(a), 1),
                  LMR_OK, "lmr_attention_weights_check: the good arguments");
    a.key_mask = none;
    expect_status(lmr_attention_weights_check(view_Q(a), view_K(a), view_mask(a), 0),
                  LMR_EDOMAIN, "lmr_attention_weights_check: every key padding");
}

/* Runs the backward into fresh sentinel-filled dQ and dK of the shapes
 * of Q and K; dweights (NQ, g_cols). */
static int run_backward(attention_args a, const double *G, size_t g_cols,
                        double *dQ, double *dK /* (CAP) each */)
{
    fill(dQ);
    fill(dK);
    return lmr_attention_weights_backward(
        lmr_mat_out_of(dQ, a.n_q, a.d_k), lmr_mat_out_of(dK, a.n_k, a.k_width),
        view_Q(a), view_K(a), view_mask(a), lmr_mat_of(G, a.n_q, g_cols),
        a.causal);
}

static void backward_rejects(attention_args a, const double *G, size_t g_cols,
                             int expected, const char *what)
{
    double dQ[CAP], dK[CAP];
    expect_status(run_backward(a, G, g_cols, dQ, dK), expected, what);
    tap_ok(untouched(dQ) && untouched(dK), "%s: outputs not written", what);
}

static void test_backward(void)
{
    static const double G[NQ * NK] = {1, 0.5, -1, 2, 0, 0, 0.25, -0.5,
                                      3, -2, 1, 0};
    static const int64_t none[NK] = {0, 0, 0, 0};
    double dQ[CAP], dK[CAP], bad[NQ * NK], Q[NQ * DK];
    attention_args a = good_args();
    expect_status(run_backward(a, G, NK, dQ, dK), LMR_OK,
                  "backward: the good arguments");
    tap_ok(dK[1 * DK] == 0.0 && dK[1 * DK + 1] == 0.0,
           "backward: the padding key's dK row is exactly 0");
    copy_with(bad, G, NQ * NK, NQ * NK - 1, NAN);
    backward_rejects(a, bad, NK, LMR_ENONFINITE, "backward: NaN in dweights");
    a.key_mask = none;
    a.causal = 0;
    backward_rejects(a, G, NK, LMR_EDOMAIN,
                     "backward: every key padding (the forward's error)");
    a = without_mask(good_args());
    a.causal = 0;
    fill(dQ);
    expect_status(lmr_attention_weights_backward(
                      lmr_mat_out_of(dQ, NQ, DK), lmr_mat_out_of(NULL, NK, DK),
                      view_Q(a), view_K(a), view_mask(a),
                      lmr_mat_of(G, NQ, NK), 0),
                  LMR_EINVAL, "backward: dK without data");
    backward_rejects(a, NULL, NK, LMR_EINVAL, "backward: dweights without data");
    fill(dK);
    a = good_args();
    a.n_q = 0;
    a.Q = NULL;
    expect_status(lmr_attention_weights_backward(
                      lmr_mat_out_of(NULL, 0, DK), lmr_mat_out_of(dK, NK, DK),
                      view_Q(a), view_K(a), view_mask(a),
                      lmr_mat_of(NULL, 0, NK), 1),
                  LMR_OK, "backward: n_q = 0 with no data for dQ, Q and dweights");
    tap_ok(dK[0] == 0.0 && dK[NK * DK - 1] == 0.0, "backward: n_q = 0: dK is 0");

    /* the shapes the harness used to judge, and the order */
    a = good_args();
    backward_rejects(a, G, NK - 1, LMR_EDIM, "backward: dweights n_q x (n_k - 1)");
    a.k_width = DK + 1;
    backward_rejects(a, G, NK, LMR_EDIM, "backward: K is d_k + 1 wide");
    a = good_args();
    a.mask_len = NK - 1;
    backward_rejects(a, G, NK, LMR_EDIM, "backward: key_mask of n_k - 1 entries");
    a = good_args();
    copy_with(Q, GOOD_Q, NQ * DK, 0, NAN);
    a.Q = Q;
    backward_rejects(a, G, NK - 1, LMR_ENONFINITE,
                     "backward: NaN in Q and dweights misshapen: the input first");
    a = good_args();
    double bad_first[NQ * NK];
    copy_with(bad_first, G, NQ * NK, 0, NAN); /* inside the misshapen view */
    backward_rejects(a, bad_first, NK - 1, LMR_EDIM,
                     "backward: dweights misshapen and NaN: EDIM first");
    fill(dQ);
    fill(dK);
    expect_status(lmr_attention_weights_backward(
                      lmr_mat_out_of(dQ, NQ, DK + 1), lmr_mat_out_of(dK, NK, DK),
                      view_Q(a), view_K(a), view_mask(a),
                      lmr_mat_of(G, NQ, NK), 1),
                  LMR_EDIM, "backward: dQ n_q x (d_k + 1)");
    expect_status(lmr_attention_weights_backward(
                      lmr_mat_out_of(dQ, NQ, DK), lmr_mat_out_of(dK, NK + 1, DK),
                      view_Q(a), view_K(a), view_mask(a),
                      lmr_mat_of(G, NQ, NK), 1),
                  LMR_EDIM, "backward: dK (n_k + 1) x d_k");
    expect_status(lmr_attention_weights_backward(
                      lmr_mat_out_of(dQ, NQ, DK + 1), lmr_mat_out_of(dK, NK, DK),
                      view_Q(a), view_K(a), view_mask(a),
                      lmr_mat_of(bad, NQ, NK), 1),
                  LMR_ENONFINITE,
                  "backward: NaN in dweights and dQ misshapen: the gradient first");
    expect_status(lmr_attention_weights_backward(
                      lmr_mat_out_of(dQ, NQ, DK + 1), lmr_mat_out_of(NULL, NK, DK),
                      view_Q(a), view_K(a), view_mask(a),
                      lmr_mat_of(G, NQ, NK), 1),
                  LMR_EINVAL,
                  "backward: dQ misshapen and dK without data: EINVAL first");
    tap_ok(untouched(dQ) && untouched(dK), "backward: bad outputs: nothing written");
}

int main(void)
{
    test_backward();
    test_good();
    test_values();
    test_masks();
    test_sizes();
    test_range();
    test_null_and_empty();
    test_shapes_and_order();
    tap_done();
    return tap_exit_status();
}
