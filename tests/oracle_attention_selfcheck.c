/*
 * oracle_attention_selfcheck.c -- TAP self-test of the MPFR oracle of the
 * attention weights (tools/oracle/oracle_attention.h).
 *
 * Every expected value here is derived without the attention oracle: the
 * reductions spec/attention.md implies (scores that are exactly given
 * logits, so the weights are the softmax oracle's bit for bit; the padding
 * mask as -inf logits; the causal rows as softmaxes of their prefixes), an
 * exact uniform row and a single key, one constant computed separately with
 * Python's mpmath at 3000 bits (a hexadecimal double, nearest), the
 * decisions on scales (0 at a masked key, and never below the plain
 * softmax's, which has no score error), and every invalid input refused;
 * for the backward (tools/oracle/oracle_grad.h), softmax_backward's
 * dlogits as dK of one query of width 1, and the exact zeros of a
 * constant upstream row, of padding keys and of equal keys.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <mpfr.h>

#include "oracle_attention.h"
#include "oracle_grad.h"
#include "oracle_head.h"
#include "tap.h"

enum { NK = 5, DK = 4, NQ = 3, CAP = 64 };

/* 1 if got and want agree bit for bit. got, want: (count) */
static int same_bits(const double *got, const double *want, size_t count)
{
    return memcmp(got, want, count * sizeof *got) == 0;
}

/* Logits that every test shares: one row, one of them large. */
static const double LOGITS[NK] = {0.75, -1.5, 2.25, 0.0, -0.125};

/* Q (1, DK) and K (NK, DK) whose scores are LOGITS exactly:
 * Q = [2, 0, 0, 0], K[j] = [LOGITS[j], 1, -1, 3], sqrt(4) = 2. */
static void logits_as_scores(double *Q, double *K)
{
    memset(Q, 0, DK * sizeof *Q);
    Q[0] = 2.0;
    for (size_t j = 0; j < NK; j++) {
        K[j * DK + 0] = LOGITS[j];
        K[j * DK + 1] = 1.0;
        K[j * DK + 2] = -1.0;
        K[j * DK + 3] = 3.0;
    }
}

static void test_reduces_to_softmax(void)
{
    double Q[DK], K[NK * DK], w[CAP], s[CAP], p[CAP], ps[CAP], k, pk;
    logits_as_scores(Q, K);
    int rc = oracle_attention_weights(w, s, &k, Q, K, NULL, 1, NK, DK, 0);
    int prc = oracle_softmax(p, ps, &pk, LOGITS, 1, NK, 1.0);
    tap_ok(rc == 0 && prc == 0 && same_bits(w, p, NK),
           "scores equal to given logits: the weights are softmax's, bit for bit");
    tap_ok(rc == 0 && k == 2.0, "K = 2");
    int wider = 1;
    for (size_t j = 0; j < NK; j++)
        wider &= s[j] > ps[j] && isfinite(s[j]);
    tap_ok(rc == 0 && wider, "every scale exceeds the plain softmax's (the "
           "scores carry an error of their own)");
}

static void test_padding_as_minus_inf(void)
{
    static const int64_t mask[NK] = {1, 0, 1, 1, 0};
    double Q[DK], K[NK * DK], w[CAP], s[CAP], p[CAP], ps[CAP], k, pk;
    double masked_logits[NK];
    logits_as_scores(Q, K);
    for (size_t j = 0; j < NK; j++)
        masked_logits[j] = mask[j] ? LOGITS[j] : -INFINITY;
    int rc = oracle_attention_weights(w, s, &k, Q, K, mask, 1, NK, DK, 0);
    int prc = oracle_softmax(p, ps, &pk, masked_logits, 1, NK, 1.0);
    tap_ok(rc == 0 && prc == 0 && same_bits(w, p, NK),
           "padding: the softmax of the logits with -inf at key_mask 0");
    tap_ok(rc == 0 && w[1] == 0.0 && s[1] == 0.0 && w[4] == 0.0 && s[4] == 0.0,
           "padding: a masked key has weight 0 and scale 0");
}

/* Q (NQ, DK) with every row [2, 0, 0, 0]: every query scores LOGITS. */
static void repeated_queries(double *Q)
{
    memset(Q, 0, NQ * DK * sizeof *Q);
    for (size_t i = 0; i < NQ; i++)
        Q[i * DK] = 2.0;
}

static void test_causal_prefixes(void)
{
    double Q[NQ * DK], K[NK * DK], Q1[DK], w[CAP], s[CAP], k;
    logits_as_scores(Q1, K);
    repeated_queries(Q);
    /* n_q = 3, n_k = 5: query i reads keys 0 .. i + 2 (bottom-right) */
    int rc = oracle_attention_weights(w, s, &k, Q, K, NULL, NQ, NK, DK, 1);
    int ok = rc == 0;
    for (size_t i = 0; ok && i < NQ; i++) {
        double p[CAP], ps[CAP], pk;
        size_t kept = i + NK - NQ + 1;
        ok = oracle_softmax(p, ps, &pk, LOGITS, 1, kept, 1.0) == 0
             && same_bits(w + i * NK, p, kept);
        for (size_t j = kept; ok && j < NK; j++)
            ok = w[i * NK + j] == 0.0 && s[i * NK + j] == 0.0;
    }
    tap_ok(ok, "causal, n_q = 3 < n_k = 5: row i is the softmax of keys "
           "0 .. i + 2, zeros after");
    double sq[CAP], ss[CAP];
    rc = oracle_attention_weights(sq, ss, &k, Q, K, NULL, NQ, NQ, DK, 1);
    tap_ok(rc == 0 && sq[0] == 1.0 && sq[1] == 0.0 && sq[2] == 0.0,
           "causal, n_q = n_k: query 0 reads key 0 alone, weight 1");
}

static void test_exact_rows(void)
{
    static const double Q[2 * DK] = {1, -2, 0.5, 3, 0.25, 0, 0, -1};
    static const double K[4 * DK] = {1, 1, 1, 1, 1, 1, 1, 1,
                                     1, 1, 1, 1, 1, 1, 1, 1};
    double w[CAP], s[CAP], k;
    int rc = oracle_attention_weights(w, s, &k, Q, K, NULL, 2, 4, DK, 0);
    int uniform = rc == 0;
    for (size_t i = 0; i < 8 && uniform; i++)
        uniform = w[i] == 0.25;
    tap_ok(uniform, "equal keys: every weight exactly 1/4");
    rc = oracle_attention_weights(w, s, &k, Q, K, NULL, 2, 1, DK, 0);
    tap_ok(rc == 0 && w[0] == 1.0 && w[1] == 1.0, "one key: weight 1");
    rc = oracle_attention_weights(NULL, NULL, &k, NULL, K, NULL, 0, 4, DK, 1);
    tap_ok(rc == 0 && k == 2.0, "n_q = 0: accepted, nothing written");
}

static void test_mpmath_constant(void)
{
    /* d_k = 3, q = [1, 1, 1], keys [1, 1, 1] and [0, 0, 0]: scores sqrt(3)
     * and 0; weights 1/(1 + e^-sqrt 3) and e^-sqrt 3/(1 + e^-sqrt 3),
     * mpmath at 3000 bits, nearest */
    static const double Q[3] = {1, 1, 1};
    static const double K[6] = {1, 1, 1, 0, 0, 0};
    const double want[2] = {0x1.b3088b03874ebp-1, 0x1.33ddd3f1e2c52p-3};
    double w[2], s[2], k;
    int rc = oracle_attention_weights(w, s, &k, Q, K, NULL, 1, 2, 3, 0);
    tap_ok(rc == 0 && same_bits(w, want, 2),
           "d_k = 3: the irrational score sqrt(3), weights as mpmath's "
           "(%a, %a)", w[0], w[1]);
}

static void test_refused(void)
{
    double Q[NQ * DK], K[NK * DK], Q1[DK], w[CAP], s[CAP], k = -1;
    logits_as_scores(Q1, K);
    repeated_queries(Q);
    static const int64_t none[NK] = {0, 0, 0, 0, 0};
    static const int64_t two[NK] = {1, 2, 1, 1, 1};
    static const int64_t first_only[NK] = {1, 0, 0, 0, 0};
    tap_ok(oracle_attention_weights(w, s, &k, Q, K, none, NQ, NK, DK, 0) == -1,
           "every key padding: refused");
    tap_ok(oracle_attention_weights(w, s, &k, Q, K, NULL, NQ, 2, DK, 1) == -1,
           "causal with n_q = 3 > n_k = 2: query 0 has no key, refused");
    tap_ok(oracle_attention_weights(w, s, &k, Q, K, first_only, NQ, NK, DK, 1)
               == 0,
           "causal with n_q < n_k and only key 0 kept: every row keeps it");
    static const int64_t last_only[NK] = {0, 0, 0, 0, 1};
    tap_ok(oracle_attention_weights(w, s, &k, Q, K, last_only, NQ, NK, DK, 1)
               == -1,
           "causal with only the last key kept: query 0 cannot see it, refused");
    tap_ok(oracle_attention_weights(w, s, &k, Q, K, two, NQ, NK, DK, 0) == -1,
           "a key_mask entry of 2: refused");
    K[7] = NAN;
    tap_ok(oracle_attention_weights(w, s, &k, Q, K, NULL, NQ, NK, DK, 0) == -1,
           "a NaN in K: refused");
    K[7] = 3.0;
    Q[5] = -INFINITY;
    tap_ok(oracle_attention_weights(w, s, &k, Q, K, NULL, NQ, NK, DK, 0) == -1,
           "-inf in Q: refused");
    Q[5] = 0.0;
    tap_ok(oracle_attention_weights(w, s, &k, Q, K, NULL, NQ, NK, 0, 0) == -1
               && oracle_attention_weights(w, s, &k, Q, K, NULL, NQ, 0, DK, 0)
                      == -1,
           "d_k = 0 and n_k = 0: refused");
}

/* 1 if a and b are at most one ulp apart. */
static int within_ulp(double a, double b)
{
    return a == b || nextafter(a, b) == b;
}

static void test_backward_as_softmax(void)
{
    /* d_k = 1, q = [1]: S = K, so dK (one query) is softmax_backward's
     * dlogits at tau = 1, and dQ = sum_j dS_j K_j */
    static const double G[NK] = {0.5, -1, 0.25, 2, 0};
    double one = 1.0, dQ[1], dQs[1], dK[NK], dKs[NK], dl[NK], dls[NK];
    double dtau[1], dtaus[1];
    oracle_out q = {dQ, dQs}, k = {dK, dKs}, l = {dl, dls}, t = {dtau, dtaus};
    int rc = oracle_attention_weights_backward(q, k, &one, LOGITS, NULL, G, 1,
                                               NK, 1, 0);
    int src = oracle_softmax_backward(l, t, LOGITS, G, 1, NK, 1.0, 0);
    int close = rc == 0 && src == 0;
    for (size_t j = 0; close && j < NK; j++)
        close = within_ulp(dK[j], dl[j]);
    tap_ok(close, "backward, d_k = 1 and q = 1: dK is softmax_backward's "
           "dlogits (within an ulp)");
    static const int64_t padding[NK] = {1, 0, 1, 1, 0};
    rc = oracle_attention_weights_backward(q, k, &one, LOGITS, padding, G, 1,
                                           NK, 1, 0);
    tap_ok(rc == 0 && dK[1] == 0.0 && dKs[1] == 0.0 && dK[4] == 0.0
               && dKs[4] == 0.0 && dK[0] != 0.0,
           "backward: a padding key's dK is exactly 0 with scale 0");
}

static void test_backward_exact_zeros(void)
{
    double Q[NQ * DK], K[NK * DK], Q1[DK];
    double dQ[CAP], dQs[CAP], dK[CAP], dKs[CAP];
    oracle_out q = {dQ, dQs}, k = {dK, dKs};
    logits_as_scores(Q1, K);
    repeated_queries(Q);
    double G[NQ * NK];
    for (size_t i = 0; i < NQ; i++)
        for (size_t j = 0; j < NK; j++)
            G[i * NK + j] = 0.75 * (double)(i + 1); /* constant per row */
    int rc = oracle_attention_weights_backward(q, k, Q, K, NULL, G, NQ, NK, DK, 1);
    int zero = rc == 0, scaled = rc == 0;
    for (size_t x = 0; x < NQ * DK; x++) {
        zero &= dQ[x] == 0.0;
        scaled &= dQs[x] > 0.0 || Q[x % DK] == 0.0;
    }
    for (size_t x = 0; x < NK * DK; x++)
        zero &= dK[x] == 0.0;
    tap_ok(zero, "backward: a constant upstream row gives dQ = dK = 0 exactly");
    tap_ok(scaled, "backward: ... with the formula's non-zero bounds");
    /* every key equal: each row of dS sums to 0, so dQ = 0 exactly */
    static const double equal[4 * DK] = {1, -2, 0.5, 3, 1, -2, 0.5, 3,
                                         1, -2, 0.5, 3, 1, -2, 0.5, 3};
    for (size_t x = 0; x < NQ * 4; x++)
        G[x] = (double)(x % 5) - 2.0;
    rc = oracle_attention_weights_backward(q, k, Q, equal, NULL, G, NQ, 4, DK, 0);
    zero = rc == 0;
    for (size_t x = 0; x < NQ * DK; x++)
        zero &= dQ[x] == 0.0;
    tap_ok(zero, "backward: equal keys give dQ = 0 exactly (not a residue)");
    G[NQ * 4 - 1] = NAN;
    tap_ok(oracle_attention_weights_backward(q, k, Q, equal, NULL, G, NQ, 4, DK, 0)
               == -1, "backward: a NaN upstream gradient is refused");
}

int main(void)
{
    test_backward_as_softmax();
    test_backward_exact_zeros();
    test_reduces_to_softmax();
    test_padding_as_minus_inf();
    test_causal_prefixes();
    test_exact_rows();
    test_mpmath_constant();
    test_refused();
    mpfr_free_cache();
    tap_done();
    return tap_exit_status();
}
