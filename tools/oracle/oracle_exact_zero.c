/*
 * oracle_exact_zero.c -- which entries of softmax's and log-softmax's
 * backward are exactly 0 over the reals, decided in exact arithmetic.
 *
 * The oracle evaluates dlogits_i = y_i (G_i − ḡ)/τ (softmax) and
 * (G_i − y_i Γ)/τ (log-softmax) at its working precision, where y is
 * irrational: where the exact result is 0 (a constant upstream gradient, say)
 * it would leave a residue of rounding (1e-78) instead of the exact 0 the
 * golden must be. This file decides exactly where the result is 0, so that
 * the oracle stores ±0 there.
 *
 * The criterion. Group the row's unmasked entries into tie classes c of
 * equal logits (equal stored doubles, so equal ζ), each with n_c entries,
 * e_c = exp(ζ_c) and S_c = Σ_{j∈c} G_j. With Σ_j y_j = 1,
 *
 *   softmax:      dlogits_i ∝ Σ_j e_j (G_i − G_j) = Σ_c e_c (n_c G_i − S_c)
 *   log-softmax:  dlogits_i ∝ G_i Σ_j e_j − e_i Σ_j G_j
 *                           = Σ_c e_c (n_c G_i − [c = class(i)] Γ),  Γ = Σ_c S_c
 *
 * The ζ_c are distinct rational numbers (differences of doubles over a
 * double τ), so by the Lindemann–Weierstrass theorem the e_c are linearly
 * independent over the rationals: a sum Σ_c e_c q_c with rational q_c is 0
 * only if every q_c is. Hence, exactly:
 *
 *   softmax:      0 ⇔ n_c G_i = S_c for every class (G_i is the mean of G
 *                 over each class);
 *   log-softmax:  with one class, 0 ⇔ n G_i = Γ; with more, 0 ⇔ G_i = 0 and
 *                 Γ = 0.
 *
 * Sums and products of doubles are exact at EXACT_BITS bits.
 */
#include "oracle_internal.h"

#include <stdlib.h>

/* Bits that hold exactly a sum of up to 2^64 doubles (their exponents span
 * 2098 bits) and that sum times a count below 2^64. */
#define EXACT_BITS 2304

static const double *sort_logits; /* qsort has no context argument */

static int by_logit(const void *a, const void *b)
{
    double x = sort_logits[*(const size_t *)a], y = sort_logits[*(const size_t *)b];
    return (x > y) - (x < y);
}

/* The tie classes of the unmasked entries: order holds their indices sorted
 * by logit, start[c] .. start[c + 1] the entries of class c; returns the
 * number of classes, or 0 (with nothing allocated) if memory runs out or
 * every entry is masked. order, start: (V + 1), freed by the caller. */
static size_t tie_classes(size_t **order_out, size_t **start_out,
                          const double *logits, const unsigned char *masked,
                          size_t V)
{
    size_t *order = malloc((V + 1) * sizeof *order);
    size_t *start = malloc((V + 1) * sizeof *start);
    size_t unmasked = 0, classes = 0;
    if (order == NULL || start == NULL) {
        free(order);
        free(start);
        return 0;
    }
    for (size_t i = 0; i < V; i++)
        if (!masked[i])
            order[unmasked++] = i;
    sort_logits = logits;
    qsort(order, unmasked, sizeof *order, by_logit);
    for (size_t k = 0; k < unmasked; k++)
        if (k == 0 || logits[order[k]] != logits[order[k - 1]])
            start[classes++] = k;
    start[classes] = unmasked;
    *order_out = order;
    *start_out = start;
    return classes;
}

/* sum = Σ G over the entries order[from .. to), exactly. */
static void exact_sum(mpfr_t sum, const double *G, const size_t *order,
                      size_t from, size_t to)
{
    mpfr_set_zero(sum, 1);
    for (size_t k = from; k < to; k++)
        mpfr_add_d(sum, sum, G[order[k]], MPFR_RNDN); /* exact at EXACT_BITS */
}

/* 1 if count · g == sum exactly. */
static int is_mean(double g, size_t count, const mpfr_t sum, mpfr_t scratch)
{
    mpfr_set_d(scratch, g, MPFR_RNDN);
    mpfr_mul_ui(scratch, scratch, (unsigned long)count, MPFR_RNDN);
    return mpfr_equal_p(scratch, sum);
}

int oracle_softmax_grad_zeros(unsigned char *zero, const double *logits,
                              const double *G, const unsigned char *masked,
                              size_t V, int take_log)
{
    size_t *order, *start;
    for (size_t i = 0; i < V; i++)
        zero[i] = 0;
    size_t classes = tie_classes(&order, &start, logits, masked, V);
    if (classes == 0)
        return -1;
    mpfr_t *sums = malloc(classes * sizeof *sums);
    mpfr_t total, scratch;
    if (sums == NULL) {
        free(order);
        free(start);
        return -1;
    }
    mpfr_inits2(EXACT_BITS, total, scratch, (mpfr_ptr)0);
    mpfr_set_zero(total, 1);
    for (size_t c = 0; c < classes; c++) {
        mpfr_init2(sums[c], EXACT_BITS);
        exact_sum(sums[c], G, order, start[c], start[c + 1]);
        mpfr_add(total, total, sums[c], MPFR_RNDN);
    }
    for (size_t i = 0; i < V; i++) {
        if (masked[i])
            continue;
        int is_zero = 1;
        if (take_log && classes > 1) {
            is_zero = G[i] == 0.0 && mpfr_zero_p(total);
        } else if (take_log) {
            is_zero = is_mean(G[i], start[1], total, scratch);
        } else {
            for (size_t c = 0; c < classes && is_zero; c++)
                is_zero = is_mean(G[i], start[c + 1] - start[c], sums[c], scratch);
        }
        zero[i] = (unsigned char)is_zero;
    }
    for (size_t c = 0; c < classes; c++)
        mpfr_clear(sums[c]);
    mpfr_clears(total, scratch, (mpfr_ptr)0);
    free(sums);
    free(order);
    free(start);
    return 0;
}
