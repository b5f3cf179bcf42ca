/*
 * properties_attention.c -- TAP property tests of lmr_attention_weights
 * (spec/attention.md) besides the golden vectors: identities that hold for
 * every input, checked on random dyadic inputs (GSL's mt19937 with fixed
 * seeds, so every run sees the same cases).
 *
 *   (a) with d_k = 1 and q = 1 the scores are the keys: the weights are
 *       lmr_softmax of them, bit for bit, and a key_mask 0 is a -inf logit;
 *   (b) the scale is 1/sqrt(d_k): q and k padded with zeros to d_k = 4
 *       give the weights of q/2 and k at d_k = 1, bit for bit;
 *   (c) bottom-right alignment: causal with n_q < n_k gives, bit for bit,
 *       the last n_q rows of causal with the same keys and n_k queries
 *       whose last n_q are those queries;
 *   (d) rows are independent: permuting the queries (no causal) permutes
 *       the rows, bit for bit; a key_mask of ones is no mask;
 *   (e) every row sums to 1 within (3 n_k + 2) u (the weights share their
 *       computed sum S, so exp's own errors cancel: sum_j e_j / S with S the
 *       rounded sum of the e_j), masked keys are exactly 0, and causal with
 *       n_q = n_k gives row 0 = [1, 0, ...].
 *
 * Why: the vectors pin the reference at chosen points; these identities
 * tie it to softmax and to the spec's decisions (the scale, the alignment,
 * the masks) everywhere else.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "lmr.h"
#include "check.h"
#include "tap.h"

static const double UNIT_ROUNDOFF = DBL_EPSILON / 2;

enum { MAX_Q = 8, MAX_K = 9, MAX_D = 6, ROUNDS = 20 };

/* values[i] = k / 16, k uniform in [-48, 48]. values: (count) */
static void fill_dyadic(double *values, size_t count, gsl_rng *rng)
{
    for (size_t i = 0; i < count; i++)
        values[i] = ((double)gsl_rng_uniform_int(rng, 97) - 48.0) / 16.0;
}

static int same_bits(const double *a, const double *b, size_t count)
{
    return memcmp(a, b, count * sizeof *a) == 0;
}

static void test_softmax_of_keys(gsl_rng *rng)
{
    int same = 1, masked_same = 1;
    for (int round = 0; round < ROUNDS; round++) {
        size_t n_k = 1 + gsl_rng_uniform_int(rng, MAX_K);
        double one = 1.0, keys[MAX_K], w[MAX_K], p[MAX_K];
        int64_t mask[MAX_K];
        fill_dyadic(keys, n_k, rng);
        same &= lmr_attention_weights(w, &one, keys, NULL, 1, n_k, 1, 0) == LMR_OK
                && lmr_softmax(lmr_mat_out_of(p, 1, n_k),
                               lmr_mat_of(keys, 1, n_k), 1.0) == LMR_OK
                && same_bits(w, p, n_k);
        for (size_t j = 0; j < n_k; j++) {
            mask[j] = j == 0 || gsl_rng_uniform_int(rng, 2);
            if (!mask[j])
                keys[j] = -INFINITY;
        }
        double finite_keys[MAX_K];
        for (size_t j = 0; j < n_k; j++)
            finite_keys[j] = isfinite(keys[j]) ? keys[j] : 0.5;
        masked_same &=
            lmr_attention_weights(w, &one, finite_keys, mask, 1, n_k, 1, 0) == LMR_OK
            && lmr_softmax(lmr_mat_out_of(p, 1, n_k),
                           lmr_mat_of(keys, 1, n_k), 1.0) == LMR_OK && same_bits(w, p, n_k);
    }
    tap_ok(same, "d_k = 1, q = 1: the weights are lmr_softmax of the keys, "
           "bit for bit (%d rows)", ROUNDS);
    tap_ok(masked_same, "a key_mask 0 is a -inf logit, bit for bit");
}

static void test_scale(gsl_rng *rng)
{
    int same = 1;
    for (int round = 0; round < ROUNDS; round++) {
        size_t n_q = 1 + gsl_rng_uniform_int(rng, MAX_Q);
        size_t n_k = 1 + gsl_rng_uniform_int(rng, MAX_K);
        double q[MAX_Q], k[MAX_K], q_half[MAX_Q];
        double q4[MAX_Q * 4] = {0}, k4[MAX_K * 4] = {0};
        double w1[MAX_Q * MAX_K], w4[MAX_Q * MAX_K];
        fill_dyadic(q, n_q, rng);
        fill_dyadic(k, n_k, rng);
        for (size_t i = 0; i < n_q; i++) {
            q_half[i] = q[i] / 2;
            q4[i * 4] = q[i];
        }
        for (size_t j = 0; j < n_k; j++)
            k4[j * 4] = k[j];
        same &= lmr_attention_weights(w1, q_half, k, NULL, n_q, n_k, 1, 0) == LMR_OK
                && lmr_attention_weights(w4, q4, k4, NULL, n_q, n_k, 4, 0) == LMR_OK
                && same_bits(w1, w4, n_q * n_k);
    }
    tap_ok(same, "d_k = 4 (zeros) gives the weights of q/2 at d_k = 1: the "
           "scale is 1/sqrt(d_k)");
}

static void test_alignment(gsl_rng *rng)
{
    int same = 1;
    for (int round = 0; round < ROUNDS; round++) {
        size_t n_k = 2 + gsl_rng_uniform_int(rng, MAX_K - 1);
        size_t d_k = 1 + gsl_rng_uniform_int(rng, MAX_D);
        size_t n_q = 1 + gsl_rng_uniform_int(rng, n_k - 1); /* < n_k */
        double Q[MAX_K * MAX_D], K[MAX_K * MAX_D];
        double full[MAX_K * MAX_K], tail[MAX_K * MAX_K];
        fill_dyadic(Q, n_k * d_k, rng);
        fill_dyadic(K, n_k * d_k, rng);
        const double *last = Q + (n_k - n_q) * d_k; /* the last n_q queries */
        same &= lmr_attention_weights(full, Q, K, NULL, n_k, n_k, d_k, 1) == LMR_OK
                && lmr_attention_weights(tail, last, K, NULL, n_q, n_k, d_k, 1) == LMR_OK
                && same_bits(tail, full + (n_k - n_q) * n_k, n_q * n_k);
    }
    tap_ok(same, "causal with n_q < n_k: the last n_q rows of the square "
           "causal weights (bottom-right alignment)");
}

static void test_rows_independent(gsl_rng *rng)
{
    int permuted = 1, ones = 1;
    for (int round = 0; round < ROUNDS; round++) {
        size_t n_q = 2 + gsl_rng_uniform_int(rng, MAX_Q - 1);
        size_t n_k = 1 + gsl_rng_uniform_int(rng, MAX_K);
        size_t d_k = 1 + gsl_rng_uniform_int(rng, MAX_D);
        double Q[MAX_Q * MAX_D], R[MAX_Q * MAX_D], K[MAX_K * MAX_D];
        double w[MAX_Q * MAX_K], v[MAX_Q * MAX_K];
        int64_t all[MAX_K];
        fill_dyadic(Q, n_q * d_k, rng);
        fill_dyadic(K, n_k * d_k, rng);
        for (size_t i = 0; i < n_q; i++) /* R = Q's rows reversed */
            memcpy(R + i * d_k, Q + (n_q - 1 - i) * d_k, d_k * sizeof *R);
        int ok = lmr_attention_weights(w, Q, K, NULL, n_q, n_k, d_k, 0) == LMR_OK
                 && lmr_attention_weights(v, R, K, NULL, n_q, n_k, d_k, 0) == LMR_OK;
        for (size_t i = 0; ok && i < n_q; i++)
            ok = same_bits(w + i * n_k, v + (n_q - 1 - i) * n_k, n_k);
        permuted &= ok;
        for (size_t j = 0; j < n_k; j++)
            all[j] = 1;
        ones &= lmr_attention_weights(v, Q, K, all, n_q, n_k, d_k, 0) == LMR_OK
                && same_bits(w, v, n_q * n_k);
    }
    tap_ok(permuted, "reversing the queries reverses the rows, bit for bit");
    tap_ok(ones, "a key_mask of ones is no mask, bit for bit");
}

static void test_sums_and_zeros(gsl_rng *rng)
{
    struct worst sums = worst_start();
    int zeros = 1, first_row = 1;
    for (int round = 0; round < ROUNDS; round++) {
        size_t n = 1 + gsl_rng_uniform_int(rng, MAX_Q);
        size_t d_k = 1 + gsl_rng_uniform_int(rng, MAX_D);
        double Q[MAX_Q * MAX_D], K[MAX_Q * MAX_D], w[MAX_Q * MAX_Q];
        int64_t mask[MAX_Q];
        fill_dyadic(Q, n * d_k, rng);
        fill_dyadic(K, n * d_k, rng);
        for (size_t j = 0; j < n; j++)
            mask[j] = j == 0 || gsl_rng_uniform_int(rng, 3) > 0;
        if (lmr_attention_weights(w, Q, K, mask, n, n, d_k, 1) != LMR_OK) {
            worst_update(&sums, INFINITY, 0.0);
            continue;
        }
        first_row &= w[0] == 1.0;
        for (size_t i = 0; i < n; i++) {
            double sum = 0.0;
            for (size_t j = 0; j < n; j++) {
                sum += w[i * n + j];
                if (j > i || !mask[j])
                    zeros &= w[i * n + j] == 0.0;
            }
            worst_update(&sums, fabs(sum - 1.0), (3.0 * n + 2.0) * UNIT_ROUNDOFF);
        }
    }
    worst_report(&sums, "causal and padded rows sum to 1 within (3 n_k + 2) u");
    tap_ok(zeros, "every masked key has weight exactly 0");
    tap_ok(first_row, "causal, n_q = n_k: row 0 is [1, 0, ...] exactly");
}

int main(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 14004);
    test_softmax_of_keys(rng);
    test_scale(rng);
    test_alignment(rng);
    test_rows_independent(rng);
    test_sums_and_zeros(rng);
    gsl_rng_free(rng);
    tap_done();
    return tap_exit_status();
}
