/*
 * oracle_attention.c -- the oracle of spec/attention.md, written from the
 * spec alone.
 *
 * Per query i, at ORACLE_PREC bits:
 *   D_j = Q[i,:].K[j,:]       exact (oracle_exact_dot)
 *   S_j = D_j / sqrt(d_k)     rounded once (sqrt(d_k) is irrational unless
 *                             d_k is a square)
 *   then the softmax row of tools/oracle/oracle_softmax.c with tau = 1 over
 *   the unmasked keys, masked keys carrying weight 0 and scale 0, and the
 *   score uncertainty Lambda_j = (d_k + 6) sum_l |Q[i,l] K[j,l]| / sqrt(d_k)
 *   of spec/tolerance.md#attention_weights.
 * Each weight is rounded once to the nearest double; each scale upward.
 */
#include <stdint.h>

#include <mpfr.h>

#include "oracle_attention.h"
#include "oracle_internal.h"
#include "oracle_validate.h"

/* K of spec/tolerance.md#attention_weights. */
static const double ATTENTION_K = 2.0;

/* The extra roundings of a score beyond the dot product's d_k: two for
 * storing Q and K, four for the scaling and the stored score. */
static const unsigned long SCORE_EXTRA_ROUNDINGS = 6;

/* What a row needs besides the softmax row itself. */
typedef struct {
    mpfr_t *q;          /* (d_k): Q[i,:], exact */
    mpfr_t *lambda;     /* (n_k): Lambda_j, rounded upward */
    mpfr_t root;        /* sqrt(d_k), rounded to nearest */
    mpfr_t root_down;   /* sqrt(d_k), rounded downward */
    mpfr_t dot, magnitude; /* exact, at the dot product's precision */
} score_state;

/* Loads row i of the scores into row (u and masked) and lambda. Returns -1
 * if every key of the row is masked. Q: (n_q, d_k); K: (n_k, d_k) */
static int load_scores(oracle_softmax_row *row, score_state *st,
                       const double *Q, const double *K,
                       const int64_t *key_mask, size_t i, size_t n_q,
                       size_t n_k, size_t d_k, int causal)
{
    size_t kept = 0;
    for (size_t l = 0; l < d_k; l++)
        mpfr_set_d(st->q[l], Q[i * d_k + l], MPFR_RNDN); /* exact */
    for (size_t j = 0; j < n_k; j++) {
        row->masked[j] = (unsigned char)oracle_attention_key_masked(
            key_mask, i, j, n_q, n_k, causal);
        if (row->masked[j])
            continue;
        kept++;
        oracle_exact_dot(st->dot, st->magnitude, st->q, K + j * d_k, 1, d_k);
        mpfr_div(row->u[j], st->dot, st->root, MPFR_RNDN);
        /* Lambda_j = (d_k + 6) * magnitude / sqrt(d_k), upward */
        mpfr_div(st->lambda[j], st->magnitude, st->root_down, MPFR_RNDU);
        mpfr_mul_ui(st->lambda[j], st->lambda[j],
                    (unsigned long)d_k + SCORE_EXTRA_ROUNDINGS, MPFR_RNDU);
    }
    return kept > 0 ? 0 : -1;
}

/* The precision at which every dot product of Q's rows with K's is exact. */
static mpfr_prec_t dot_bits(const double *Q, const double *K, size_t n_q,
                            size_t n_k, size_t d_k)
{
    oracle_bit_span q_span, k_span;
    oracle_bit_span_of_doubles(&q_span, Q, n_q * d_k);
    oracle_bit_span_of_doubles(&k_span, K, n_k * d_k);
    return oracle_dot_precision(&q_span, &k_span, NULL);
}

/* spec/attention.md#attention_weights. Contract: oracle_attention.h. */
int oracle_attention_weights(double *weights, double *scale, double *k,
                             const double *Q, const double *K,
                             const int64_t *key_mask, size_t n_q, size_t n_k,
                             size_t d_k, int causal)
{
    oracle_ints mask = key_mask != NULL ? oracle_ints_of(key_mask, n_k)
                                        : oracle_ints_absent();
    if (oracle_check_attention_weights(oracle_mat(Q, n_q, d_k),
                                       oracle_mat(K, n_k, d_k), mask, causal)
            != ORACLE_OK
        || !oracle_outputs_ok(weights, scale, k, n_q * n_k))
        return -1;
    oracle_softmax_row row;
    if (oracle_softmax_row_init(&row, n_k) != 0)
        return -1;
    score_state st;
    st.q = oracle_numbers_new(d_k);
    st.lambda = oracle_numbers_new(n_k);
    mpfr_prec_t bits = dot_bits(Q, K, n_q, n_k, d_k);
    mpfr_inits2(bits, st.dot, st.magnitude, (mpfr_ptr)0);
    mpfr_inits2(ORACLE_PREC, st.root, st.root_down, (mpfr_ptr)0);
    oracle_set_size(st.root, d_k);
    mpfr_sqrt(st.root_down, st.root, MPFR_RNDD);
    mpfr_sqrt(st.root, st.root, MPFR_RNDN);
    int status = st.q != NULL && st.lambda != NULL ? 0 : -1;
    for (size_t i = 0; status == 0 && i < n_q; i++) {
        status = load_scores(&row, &st, Q, K, key_mask, i, n_q, n_k, d_k,
                             causal);
        if (status != 0)
            break;
        oracle_softmax_row_compute(&row, 1.0, st.lambda);
        for (size_t j = 0; j < n_k; j++) {
            weights[i * n_k + j] = mpfr_get_d(row.y[j], MPFR_RNDN);
            scale[i * n_k + j] = mpfr_get_d(row.scale[j], MPFR_RNDU);
        }
    }
    mpfr_clears(st.dot, st.magnitude, st.root, st.root_down, (mpfr_ptr)0);
    oracle_numbers_free(st.q, d_k);
    oracle_numbers_free(st.lambda, n_k);
    oracle_softmax_row_clear(&row);
    if (status == 0)
        *k = ATTENTION_K;
    return status;
}
