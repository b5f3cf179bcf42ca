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
    const int64_t *key_mask;
    size_t n_q, n_k, d_k;
    int causal;
} attention_args;

static attention_args good_args(void)
{
    attention_args a = {GOOD_Q, GOOD_K, GOOD_MASK, NQ, NK, DK, 1};
    return a;
}

static int run(attention_args a, double *weights /* (CAP) */)
{
    for (size_t i = 0; i < CAP; i++)
        weights[i] = SENTINEL;
    return lmr_attention_weights(weights, a.Q, a.K, a.key_mask, a.n_q, a.n_k,
                                 a.d_k, a.causal);
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
    a.key_mask = NULL;
    a.n_k = 2; /* n_q = 3 > n_k = 2: query 0 stands before every key */
    rejects(a, LMR_EDOMAIN, "causal with n_q > n_k: query 0 has no key");
    a.causal = 0;
    double weights[CAP];
    expect_status(run(a, weights), LMR_OK, "the same without causal");
}

static void test_sizes(void)
{
    attention_args a = good_args();
    a.d_k = 0;
    rejects(a, LMR_EDIM, "d_k = 0");
    a = good_args();
    a.n_k = 0;
    rejects(a, LMR_EDIM, "n_k = 0");
    a = good_args();
    a.n_q = HUGE_SIZE;
    rejects(a, LMR_EOVERFLOW, "n_q * d_k overflows");
    a = good_args();
    a.n_k = HUGE_SIZE;
    a.key_mask = NULL;
    rejects(a, LMR_EOVERFLOW, "n_k * d_k overflows");
}

static void test_range(void)
{
    /* |Q K^T| = 2e300 / sqrt(2) overflows: reference only (spec/errors.md) */
    static const double big[2] = {1e300, 1e300};
    static const double one_key[2] = {1, 1};
    static const double big_key[2] = {1e10, 1e10};
    attention_args a = {big, one_key, NULL, 1, 1, 2, 0};
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
    expect_status(lmr_attention_weights(NULL, GOOD_Q, GOOD_K, NULL, NQ, NK, DK, 0),
                  LMR_EINVAL, "NULL weights");
    a.K = NULL;
    rejects(a, LMR_EINVAL, "NULL K");
    a = good_args();
    a.Q = NULL;
    rejects(a, LMR_EINVAL, "NULL Q");
    expect_status(lmr_attention_weights(NULL, NULL, GOOD_K, GOOD_MASK, 0, NK, DK, 1),
                  LMR_OK, "n_q = 0 with NULL weights and Q");
    a = good_args();
    a.n_q = 0;
    expect_status(run(a, weights), LMR_OK, "n_q = 0");
    tap_ok(untouched(weights), "n_q = 0: nothing written");
}

static void test_backward(void)
{
    static const double G[NQ * NK] = {1, 0.5, -1, 2, 0, 0, 0.25, -0.5,
                                      3, -2, 1, 0};
    double dQ[CAP], dK[CAP], bad[NQ * NK];
    for (size_t i = 0; i < CAP; i++)
        dQ[i] = dK[i] = SENTINEL;
    expect_status(lmr_attention_weights_backward(dQ, dK, GOOD_Q, GOOD_K, GOOD_MASK,
                                                 G, NQ, NK, DK, 1),
                  LMR_OK, "backward: the good arguments");
    tap_ok(dK[1 * DK] == 0.0 && dK[1 * DK + 1] == 0.0,
           "backward: the padding key's dK row is exactly 0");
    copy_with(bad, G, NQ * NK, NQ * NK - 1, NAN);
    for (size_t i = 0; i < CAP; i++)
        dQ[i] = dK[i] = SENTINEL;
    expect_status(lmr_attention_weights_backward(dQ, dK, GOOD_Q, GOOD_K, GOOD_MASK,
                                                 bad, NQ, NK, DK, 1),
                  LMR_ENONFINITE, "backward: NaN in dweights");
    tap_ok(untouched(dQ) && untouched(dK), "backward: NaN in dweights: "
           "outputs not written");
    static const int64_t none[NK] = {0, 0, 0, 0};
    expect_status(lmr_attention_weights_backward(dQ, dK, GOOD_Q, GOOD_K, none,
                                                 G, NQ, NK, DK, 0),
                  LMR_EDOMAIN, "backward: every key padding (the forward's error)");
    tap_ok(untouched(dQ) && untouched(dK), "backward: every key padding: "
           "outputs not written");
    expect_status(lmr_attention_weights_backward(dQ, NULL, GOOD_Q, GOOD_K, NULL,
                                                 G, NQ, NK, DK, 0),
                  LMR_EINVAL, "backward: NULL dK");
    expect_status(lmr_attention_weights_backward(dQ, dK, GOOD_Q, GOOD_K, NULL,
                                                 NULL, NQ, NK, DK, 0),
                  LMR_EINVAL, "backward: NULL dweights");
    expect_status(lmr_attention_weights_backward(NULL, dK, NULL, GOOD_K, NULL,
                                                 NULL, 0, NK, DK, 1),
                  LMR_OK, "backward: n_q = 0 with NULL dQ, Q and dweights");
    tap_ok(dK[0] == 0.0 && dK[NK * DK - 1] == 0.0, "backward: n_q = 0: dK is 0");
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
    tap_done();
    return tap_exit_status();
}
