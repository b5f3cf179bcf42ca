/*
 * errors_grad.c -- TAP test of the backward functions of lmref
 * (ref/lmr_grad_input.h, lmr_grad_head.h, lmr_grad_variants.h,
 * lmr_tied_lm.h; spec/gradients.md, spec/errors.md).
 *
 * Three kinds of check, each function in turn:
 *
 * 1. Finite differences, the third witness of spec/gradients.md: for the
 *    scalar L = sum dY * forward(inputs), with the forward op of ref/ and a
 *    random upstream gradient dY, the central difference
 *        D_i = (L(x + h_i e_i) - L(x - h_i e_i)) / (2 h_i),  h_i = 2^-20 max(1,|x_i|)
 *    of every input element must match the backward function's gradient g_i
 *    within 1e-6 (|g_i| + max |g|). The forward ops are checked against the
 *    oracle's vectors elsewhere; here they judge the backward code, which
 *    shares no arithmetic with them beyond what it calls.
 *
 * 2. Properties that hold exactly or to rounding: rows of LayerNorm's dx
 *    and of the softmax family's dlogits sum to 0; repeated ids accumulate;
 *    absent tokens, masked entries and ignored rows get exact zeros;
 *    tied_lm's dE is dE_input + dE_output bit for bit; partial tying with
 *    k = |V| and adaptive tying with alpha = 1 are the tied head.
 *
 * 3. Bad input: each bad input is one TAP line asserting the exact status
 *    (spec/errors.md, plus LMR_ENONFINITE for a non-finite upstream gradient
 *    and the special cases of spec/gradients.md), then one line checking
 *    that every output buffer still holds its sentinel: nothing is written
 *    unless the call returns LMR_OK. Calls whose sizes overflow get small
 *    arrays whose last entry is a tripwire (NaN, a bad id), so a function
 *    that reads before it checks its sizes fails visibly, with a wrong code.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lmr.h"
#include "check.h"
#include "tap.h"

/* ---- random inputs -------------------------------------------------------- */

static uint64_t random_state = 0x243f6a8885a308d3u;

/* SplitMix64, mapped to a double in [-1, 1) with 53 random bits. */
static double random_uniform(void)
{
    uint64_t z = (random_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1p-52 - 1.0;
}

/* values (count) = offset + scale * uniform[-1, 1). */
static void fill_random(double *values, size_t count, double scale,
                        double offset)
{
    for (size_t i = 0; i < count; i++)
        values[i] = offset + scale * random_uniform();
}

/* ---- finite differences ----------------------------------------------------- */

/* Enough room for every array of the finite-difference cases. */
enum { MAX_VALUES = 256 };

/* A scalar loss of the inputs that a test case's context points at; NaN if
 * a library call failed. */
typedef double (*scalar_loss)(const void *context);

/* sum_i upstream_i * values_i (count), skipping entries whose upstream
 * gradient is 0 (so that a masked -inf output contributes nothing). */
static double weighted_sum(const double *upstream, const double *values,
                           size_t count)
{
    double sum = 0.0;
    for (size_t i = 0; i < count; i++)
        if (upstream[i] != 0.0)
            sum += upstream[i] * values[i];
    return sum;
}

/* One TAP line: gradient (count) matches central differences of loss with
 * respect to param (count; perturbed in place, then restored). Entries of
 * param that are not finite (masked logits) are skipped. */
static void check_gradient(scalar_loss loss, const void *context,
                           double *param, const double *gradient, size_t count,
                           const char *what)
{
    double largest = 0.0;
    for (size_t i = 0; i < count; i++)
        largest = fmax(largest, fabs(gradient[i]));
    struct worst worst = worst_start();
    for (size_t i = 0; i < count; i++) {
        double saved = param[i];
        if (!isfinite(saved))
            continue;
        double step = 0x1p-20 * fmax(1.0, fabs(saved));
        param[i] = saved + step;
        double up = loss(context);
        param[i] = saved - step;
        double down = loss(context);
        param[i] = saved;
        double difference = (up - down) / (2.0 * step);
        worst_update(&worst, fabs(difference - gradient[i]),
                     1e-6 * (fabs(gradient[i]) + largest) + 1e-13);
    }
    worst_report(&worst, "%s matches finite differences", what);
}

/* One TAP line: a library call returned LMR_OK. */
static int call_ok(int status, const char *what)
{
    tap_ok(status == LMR_OK, "%s returns LMR_OK", what);
    if (status != LMR_OK)
        tap_diag("got %s", lmr_status_name(status));
    return status == LMR_OK;
}

/* One TAP line: every row of matrix (rows,cols) sums to 0 within
 * 64 u sum |entries|. */
static void check_rows_sum_to_zero(const double *matrix, size_t rows,
                                   size_t cols, const char *what)
{
    struct worst worst = worst_start();
    for (size_t t = 0; t < rows; t++) {
        double sum = 0.0, magnitude = 0.0;
        for (size_t i = 0; i < cols; i++) {
            sum += matrix[t * cols + i];
            magnitude += fabs(matrix[t * cols + i]);
        }
        worst_update(&worst, fabs(sum), 64 * DBL_EPSILON * magnitude + 1e-300);
    }
    worst_report(&worst, "%s: every row sums to 0", what);
}

/* 1 if a (count) and b (count) are equal as numbers (-0 == +0). */
static int same_values(const double *a, const double *b, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!(a[i] == b[i]))
            return 0;
    return 1;
}

/* 1 if values (count) are all zero. */
static int all_zero(const double *values, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (values[i] != 0.0)
            return 0;
    return 1;
}

/* ---- lookup and positions ------------------------------------------------- */

struct lookup_case {
    const int64_t *index; /* (n) */
    double *table;        /* (rows,d) */
    const double *dY;     /* (n,d) */
    size_t n, rows, d;
    int positions;        /* 0: lmr_embed_lookup, 1: lmr_pos_learned */
};

static double lookup_loss(const void *context)
{
    const struct lookup_case *c = context;
    double out[MAX_VALUES]; /* (n,d) */
    lmr_mat_out Y = lmr_mat_out_of(out, c->n, c->d);
    lmr_mat table = lmr_mat_of(c->table, c->rows, c->d);
    lmr_ids index = lmr_ids_of(c->index, c->n);
    int status = c->positions ? lmr_pos_learned(Y, table, index)
                              : lmr_embed_lookup(Y, table, index);
    return status == LMR_OK ? weighted_sum(c->dY, out, c->n * c->d) : NAN;
}

/* dE of a lookup with ids 2, 0, 2, 2 (vocab 5, d 3): tokens 1, 3, 4 absent;
 * then positions 0, 1, 0, 1 in a table of 3 rows. */
static void test_lookup_gradients(void)
{
    enum { N = 4, VOCAB = 5, D = 3, MAX_LEN = 3 };
    const int64_t ids[N] = {2, 0, 2, 2}, positions[N] = {0, 1, 0, 1};
    double E[VOCAB * D], dY[N * D], dE[VOCAB * D]; /* (5,3), (4,3), (5,3) */
    fill_random(E, VOCAB * D, 1.0, 0.0);
    fill_random(dY, N * D, 1.0, 0.0);
    struct lookup_case c = {ids, E, dY, N, VOCAB, D, 0};
    if (call_ok(lmr_embed_lookup_backward(lmr_mat_out_of(dE, VOCAB, D),
                                          lmr_ids_of(ids, N),
                                          lmr_mat_of(dY, N, D)),
                "lmr_embed_lookup_backward"))
        check_gradient(lookup_loss, &c, E, dE, VOCAB * D,
                       "lmr_embed_lookup_backward: dE");
    int accumulated = 1;
    for (size_t j = 0; j < D; j++)
        accumulated &= dE[2 * D + j] == (dY[0 * D + j] + dY[2 * D + j]) + dY[3 * D + j];
    tap_ok(accumulated, "lmr_embed_lookup_backward: a token seen 3 times "
                        "gets the sum of its 3 rows");
    tap_ok(all_zero(dE + 1 * D, D) && all_zero(dE + 3 * D, 2 * D),
           "lmr_embed_lookup_backward: absent tokens get exact zeros");

    double P[MAX_LEN * D], dP[MAX_LEN * D]; /* (3,3) */
    fill_random(P, MAX_LEN * D, 1.0, 0.0);
    struct lookup_case p = {positions, P, dY, N, MAX_LEN, D, 1};
    if (call_ok(lmr_pos_learned_backward(lmr_mat_out_of(dP, MAX_LEN, D),
                                         lmr_ids_of(positions, N),
                                         lmr_mat_of(dY, N, D)),
                "lmr_pos_learned_backward"))
        check_gradient(lookup_loss, &p, P, dP, MAX_LEN * D,
                       "lmr_pos_learned_backward: dP");
    accumulated = 1;
    for (size_t j = 0; j < D; j++)
        accumulated &= dP[1 * D + j] == dY[1 * D + j] + dY[3 * D + j];
    tap_ok(accumulated && all_zero(dP + 2 * D, D),
           "lmr_pos_learned_backward: repeated positions add, unused row is 0");
}

/* ---- LayerNorm ---------------------------------------------------------------- */

struct layernorm_case {
    double *x, *gamma, *beta; /* (n,d), (d), (d) */
    const double *dY;         /* (n,d) */
    size_t n, d;
    double eps;
};

static double layernorm_loss(const void *context)
{
    const struct layernorm_case *c = context;
    double out[MAX_VALUES]; /* (n,d) */
    int status = lmr_layernorm(lmr_mat_out_of(out, c->n, c->d),
                               lmr_mat_of(c->x, c->n, c->d),
                               lmr_vec_of(c->gamma, c->d),
                               lmr_vec_of(c->beta, c->d), c->eps);
    return status == LMR_OK ? weighted_sum(c->dY, out, c->n * c->d) : NAN;
}

static void test_layernorm_gradients(void)
{
    enum { N = 3, D = 5 };
    double x[N * D], gamma[D], beta[D], dY[N * D]; /* (3,5), (5), (5), (3,5) */
    double dx[N * D], dgamma[D], dbeta[D];
    fill_random(x, N * D, 2.0, 0.5);
    fill_random(gamma, D, 1.0, 1.0);
    fill_random(beta, D, 1.0, 0.0);
    fill_random(dY, N * D, 1.0, 0.0);
    struct layernorm_case c = {x, gamma, beta, dY, N, D, 1e-3};
    if (!call_ok(lmr_layernorm_backward(lmr_mat_out_of(dx, N, D),
                                        lmr_vec_out_of(dgamma, D),
                                        lmr_vec_out_of(dbeta, D),
                                        lmr_mat_of(x, N, D),
                                        lmr_vec_of(gamma, D),
                                        lmr_mat_of(dY, N, D), c.eps),
                 "lmr_layernorm_backward"))
        return;
    check_gradient(layernorm_loss, &c, x, dx, N * D, "lmr_layernorm_backward: dx");
    check_gradient(layernorm_loss, &c, gamma, dgamma, D,
                   "lmr_layernorm_backward: dgamma");
    check_gradient(layernorm_loss, &c, beta, dbeta, D,
                   "lmr_layernorm_backward: dbeta");
    check_rows_sum_to_zero(dx, N, D, "lmr_layernorm_backward: dx");
}

/* ---- the heads ------------------------------------------------------------------ */

struct head_case {
    double *h, *weight, *bias; /* (n,d); E (vocab,d) or W (d,vocab); (vocab) */
    const double *dU;          /* (n,vocab) */
    size_t n, vocab, d;
    int tied;
};

static double head_loss(const void *context)
{
    const struct head_case *c = context;
    double logits[MAX_VALUES]; /* (n,vocab) */
    int status = c->tied ? lmr_head_tied(lmr_mat_out_of(logits, c->n, c->vocab),
                                         lmr_mat_of(c->h, c->n, c->d),
                                         lmr_mat_of(c->weight, c->vocab, c->d))
                         : lmr_head_untied(
                             lmr_mat_out_of(logits, c->n, c->vocab),
                             lmr_mat_of(c->h, c->n, c->d),
                             lmr_mat_of(c->weight, c->d, c->vocab),
                             c->bias ? lmr_vec_of(c->bias, c->vocab)
                                     : lmr_vec_absent());
    return status == LMR_OK ? weighted_sum(c->dU, logits, c->n * c->vocab) : NAN;
}

static void test_head_gradients(void)
{
    enum { N = 3, VOCAB = 5, D = 4 };
    double h[N * D], E[VOCAB * D], W[D * VOCAB], b[VOCAB], dU[N * VOCAB];
    double dh[N * D], dE[VOCAB * D], dW[D * VOCAB], db[VOCAB];
    fill_random(h, N * D, 1.0, 0.0);
    fill_random(E, VOCAB * D, 1.0, 0.0);
    fill_random(W, D * VOCAB, 1.0, 0.0);
    fill_random(b, VOCAB, 1.0, 0.0);
    fill_random(dU, N * VOCAB, 1.0, 0.0);
    struct head_case tied = {h, E, NULL, dU, N, VOCAB, D, 1};
    if (call_ok(lmr_head_tied_backward(lmr_mat_out_of(dh, N, D),
                                       lmr_mat_out_of(dE, VOCAB, D),
                                       lmr_mat_of(h, N, D),
                                       lmr_mat_of(E, VOCAB, D),
                                       lmr_mat_of(dU, N, VOCAB)),
                "lmr_head_tied_backward")) {
        check_gradient(head_loss, &tied, h, dh, N * D, "lmr_head_tied_backward: dh");
        check_gradient(head_loss, &tied, E, dE, VOCAB * D, "lmr_head_tied_backward: dE");
    }
    struct head_case untied = {h, W, b, dU, N, VOCAB, D, 0};
    if (call_ok(lmr_head_untied_backward(lmr_mat_out_of(dh, N, D),
                                         lmr_mat_out_of(dW, D, VOCAB),
                                         lmr_vec_out_of(db, VOCAB),
                                         lmr_mat_of(h, N, D),
                                         lmr_mat_of(W, D, VOCAB),
                                         lmr_mat_of(dU, N, VOCAB)),
                "lmr_head_untied_backward")) {
        check_gradient(head_loss, &untied, h, dh, N * D, "lmr_head_untied_backward: dh");
        check_gradient(head_loss, &untied, W, dW, D * VOCAB, "lmr_head_untied_backward: dW");
        check_gradient(head_loss, &untied, b, db, VOCAB, "lmr_head_untied_backward: db");
    }
}

/* ---- softmax and log-softmax -------------------------------------------------------- */

struct softmax_case {
    double *logits;     /* (n,vocab) */
    double *tau;        /* (1) */
    const double *dY;   /* (n,vocab): dprobs or dlogprobs */
    size_t n, vocab;
    int log_form;       /* 0: softmax, 1: log-softmax */
};

static double softmax_loss(const void *context)
{
    const struct softmax_case *c = context;
    double out[MAX_VALUES]; /* (n,vocab) */
    int status = c->log_form
                     ? lmr_log_softmax(lmr_mat_out_of(out, c->n, c->vocab),
                                       lmr_mat_of(c->logits, c->n, c->vocab),
                                       *c->tau)
                     : lmr_softmax(lmr_mat_out_of(out, c->n, c->vocab),
                                   lmr_mat_of(c->logits, c->n, c->vocab),
                                   *c->tau);
    return status == LMR_OK ? weighted_sum(c->dY, out, c->n * c->vocab) : NAN;
}

/* 1 if every masked logit (n*vocab) has dlogits exactly 0. */
static int masked_are_zero(const double *logits, const double *dlogits,
                           size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (logits[i] == -INFINITY && dlogits[i] != 0.0)
            return 0;
    return 1;
}

/* One softmax-family case: logits around offset with entry 3 masked. */
static void softmax_case_run(int log_form, double offset, double tau_value)
{
    enum { N = 3, VOCAB = 5 };
    double logits[N * VOCAB], dY[N * VOCAB], dlogits[N * VOCAB], dtau;
    double tau = tau_value;
    char name[128];
    fill_random(logits, N * VOCAB, 3.0, offset);
    fill_random(dY, N * VOCAB, 1.0, 0.0);
    logits[3] = -INFINITY;
    if (log_form)
        dY[3] = 0.0; /* required at a masked entry */
    snprintf(name, sizeof name, "%s (offset %g, tau %g)",
             log_form ? "lmr_log_softmax_backward" : "lmr_softmax_backward",
             offset, tau);
    struct softmax_case c = {logits, &tau, dY, N, VOCAB, log_form};
    int status = log_form
                     ? lmr_log_softmax_backward(
                         lmr_mat_out_of(dlogits, N, VOCAB), &dtau,
                         lmr_mat_of(logits, N, VOCAB), lmr_mat_of(dY, N, VOCAB),
                         tau)
                     : lmr_softmax_backward(lmr_mat_out_of(dlogits, N, VOCAB),
                                            &dtau,
                                            lmr_mat_of(logits, N, VOCAB),
                                            lmr_mat_of(dY, N, VOCAB), tau);
    if (!call_ok(status, name))
        return;
    char what[160];
    snprintf(what, sizeof what, "%s: dlogits", name);
    check_gradient(softmax_loss, &c, logits, dlogits, N * VOCAB, what);
    snprintf(what, sizeof what, "%s: dtau", name);
    check_gradient(softmax_loss, &c, &tau, &dtau, 1, what);
    snprintf(what, sizeof what, "%s: dlogits", name);
    check_rows_sum_to_zero(dlogits, N, VOCAB, what);
    tap_ok(masked_are_zero(logits, dlogits, N * VOCAB),
           "%s: a masked entry gets dlogits = 0", name);
}

static void test_softmax_gradients(void)
{
    softmax_case_run(0, 0.0, 0.7);
    softmax_case_run(0, 40.0, 2.5);
    softmax_case_run(1, 0.0, 0.7);
    softmax_case_run(1, -40.0, 1.0);
}

/* ---- cross-entropy -------------------------------------------------------------------- */

static const int64_t IGNORE = LMR_DEFAULT_IGNORE_INDEX;

struct cross_entropy_case {
    double *logits;          /* (n,vocab) */
    const int64_t *targets;  /* (n) */
    const double *dloss;     /* (n) for NONE, else (1) */
    size_t n, vocab;
    enum lmr_reduction reduction;
};

static double cross_entropy_loss(const void *context)
{
    const struct cross_entropy_case *c = context;
    double loss[MAX_VALUES]; /* (n) or (1) */
    int status = lmr_cross_entropy(
        lmr_vec_out_of(loss, c->reduction == LMR_REDUCE_NONE ? c->n : 1),
        lmr_mat_of(c->logits, c->n, c->vocab), lmr_ids_of(c->targets, c->n),
        c->reduction, IGNORE);
    size_t count = c->reduction == LMR_REDUCE_NONE ? c->n : 1;
    return status == LMR_OK ? weighted_sum(c->dloss, loss, count) : NAN;
}

static void cross_entropy_case_run(enum lmr_reduction reduction,
                                   const char *name)
{
    enum { N = 4, VOCAB = 5 };
    const int64_t targets[N] = {1, IGNORE, 3, 0};
    double logits[N * VOCAB], dloss[N], dlogits[N * VOCAB];
    char what[128];
    fill_random(logits, N * VOCAB, 3.0, 0.0);
    fill_random(dloss, N, 1.0, 0.0);
    logits[2] = -INFINITY; /* masked, not a target */
    struct cross_entropy_case c = {logits, targets, dloss, N, VOCAB, reduction};
    snprintf(what, sizeof what, "lmr_cross_entropy_backward (%s)", name);
    if (!call_ok(lmr_cross_entropy_backward(
        lmr_mat_out_of(dlogits, N, VOCAB), lmr_mat_of(logits, N, VOCAB),
        lmr_ids_of(targets, N),
        lmr_vec_of(dloss, reduction == LMR_REDUCE_NONE ? N : 1), reduction,
        IGNORE), what))
        return;
    check_gradient(cross_entropy_loss, &c, logits, dlogits, N * VOCAB, what);
    check_rows_sum_to_zero(dlogits, N, VOCAB, what);
    tap_ok(all_zero(dlogits + 1 * VOCAB, VOCAB) && dlogits[2] == 0.0,
           "%s: the ignored row and the masked entry are 0", what);
}

static void test_cross_entropy_gradients(void)
{
    cross_entropy_case_run(LMR_REDUCE_NONE, "none");
    cross_entropy_case_run(LMR_REDUCE_SUM, "sum");
    cross_entropy_case_run(LMR_REDUCE_MEAN, "mean");

    /* mean over no counted row: the forward is NaN, the gradient is 0 */
    const int64_t ignored[2] = {IGNORE, IGNORE};
    const double logits[2 * 3] = {1, 2, 3, -1, 0.5, 0};
    double dlogits[2 * 3], dloss = 1.0;
    int status = lmr_cross_entropy_backward(lmr_mat_out_of(dlogits, 2, 3),
                                            lmr_mat_of(logits, 2, 3),
                                            lmr_ids_of(ignored, 2),
                                            lmr_vec_of(&dloss, 1),
                                            LMR_REDUCE_MEAN, IGNORE);
    tap_ok(status == LMR_OK && all_zero(dlogits, 6),
           "lmr_cross_entropy_backward: mean with every row ignored gives zeros");
}

/* ---- partial, transformed and adaptive tying ---------------------------------------- */

struct variant_case {
    double *h;        /* (n,d) */
    double *E;        /* (vocab,d) */
    double *F;        /* partial: (d,vocab-k); adaptive: (d,vocab) */
    double *T;        /* (d,d) */
    double *alpha;    /* (1) */
    const double *dU; /* (n,vocab) */
    size_t n, vocab, d, k;
    int kind;         /* 0 partial, 1 transformed, 2 adaptive */
};

static double variant_loss(const void *context)
{
    const struct variant_case *c = context;
    double logits[MAX_VALUES]; /* (n,vocab) */
    lmr_mat_out out = lmr_mat_out_of(logits, c->n, c->vocab);
    lmr_mat h = lmr_mat_of(c->h, c->n, c->d), E = lmr_mat_of(c->E, c->vocab, c->d);
    int status;
    if (c->kind == 0)
        status = lmr_head_partial(out, h, E,
                                  lmr_mat_of(c->F, c->d, c->vocab - c->k),
                                  (int64_t)c->k);
    else if (c->kind == 1)
        status = lmr_head_transformed(out, h, lmr_mat_of(c->T, c->d, c->d), E);
    else
        status = lmr_head_adaptive(out, h, E, lmr_mat_of(c->F, c->d, c->vocab),
                                   *c->alpha);
    return status == LMR_OK ? weighted_sum(c->dU, logits, c->n * c->vocab) : NAN;
}

enum { VN = 3, VVOCAB = 5, VD = 4 }; /* n, |V|, d of the variant cases */

/* Partial tying with k shared rows; for k = |V| also the tied head. */
static void partial_case_run(size_t k)
{
    double h[VN * VD], E[VVOCAB * VD], F[VD * VVOCAB], dU[VN * VVOCAB];
    double dh[VN * VD], dE[VVOCAB * VD], dF[VD * VVOCAB];
    char name[96], what[128];
    fill_random(h, VN * VD, 1.0, 0.0);
    fill_random(E, VVOCAB * VD, 1.0, 0.0);
    fill_random(F, VD * VVOCAB, 1.0, 0.0);
    fill_random(dU, VN * VVOCAB, 1.0, 0.0);
    snprintf(name, sizeof name, "lmr_head_partial_backward (k = %zu)", k);
    struct variant_case c = {h, E, F, NULL, NULL, dU, VN, VVOCAB, VD, k, 0};
    if (!call_ok(lmr_head_partial_backward(lmr_mat_out_of(dh, VN, VD),
                                           lmr_mat_out_of(dE, VVOCAB, VD),
                                           lmr_mat_out_of(dF, VD, VVOCAB - k),
                                           lmr_mat_of(h, VN, VD),
                                           lmr_mat_of(E, VVOCAB, VD),
                                           lmr_mat_of(F, VD, VVOCAB - k),
                                           lmr_mat_of(dU, VN, VVOCAB),
                                           (int64_t)k), name))
        return;
    snprintf(what, sizeof what, "%s: dh", name);
    check_gradient(variant_loss, &c, h, dh, VN * VD, what);
    snprintf(what, sizeof what, "%s: dE", name);
    check_gradient(variant_loss, &c, E, dE, VVOCAB * VD, what);
    if (k < VVOCAB) {
        snprintf(what, sizeof what, "%s: dF", name);
        check_gradient(variant_loss, &c, F, dF, VD * (VVOCAB - k), what);
    }
    tap_ok(all_zero(dE + k * VD, (VVOCAB - k) * VD),
           "%s: rows >= k of dE are 0", name);
    if (k == VVOCAB) {
        double tied_dh[VN * VD], tied_dE[VVOCAB * VD];
        int status = lmr_head_tied_backward(lmr_mat_out_of(tied_dh, VN, VD),
                                            lmr_mat_out_of(tied_dE, VVOCAB, VD),
                                            lmr_mat_of(h, VN, VD),
                                            lmr_mat_of(E, VVOCAB, VD),
                                            lmr_mat_of(dU, VN, VVOCAB));
        tap_ok(status == LMR_OK && same_values(dh, tied_dh, VN * VD) &&
               same_values(dE, tied_dE, VVOCAB * VD),
               "%s equals lmr_head_tied_backward", name);
    }
}

static void test_transformed_gradients(void)
{
    double h[VN * VD], T[VD * VD], E[VVOCAB * VD], dU[VN * VVOCAB];
    double dh[VN * VD], dT[VD * VD], dE[VVOCAB * VD];
    fill_random(h, VN * VD, 1.0, 0.0);
    fill_random(T, VD * VD, 1.0, 0.0);
    fill_random(E, VVOCAB * VD, 1.0, 0.0);
    fill_random(dU, VN * VVOCAB, 1.0, 0.0);
    struct variant_case c = {h, E, NULL, T, NULL, dU, VN, VVOCAB, VD, 0, 1};
    if (!call_ok(lmr_head_transformed_backward(lmr_mat_out_of(dh, VN, VD),
                                               lmr_mat_out_of(dT, VD, VD),
                                               lmr_mat_out_of(dE, VVOCAB, VD),
                                               lmr_mat_of(h, VN, VD),
                                               lmr_mat_of(T, VD, VD),
                                               lmr_mat_of(E, VVOCAB, VD),
                                               lmr_mat_of(dU, VN, VVOCAB)),
                 "lmr_head_transformed_backward"))
        return;
    check_gradient(variant_loss, &c, h, dh, VN * VD, "lmr_head_transformed_backward: dh");
    check_gradient(variant_loss, &c, T, dT, VD * VD, "lmr_head_transformed_backward: dT");
    check_gradient(variant_loss, &c, E, dE, VVOCAB * VD,
                   "lmr_head_transformed_backward: dE");
}

static void test_adaptive_gradients(void)
{
    double h[VN * VD], E[VVOCAB * VD], F[VD * VVOCAB], dU[VN * VVOCAB];
    double dh[VN * VD], dE[VVOCAB * VD], dF[VD * VVOCAB], dalpha, alpha = 0.3;
    fill_random(h, VN * VD, 1.0, 0.0);
    fill_random(E, VVOCAB * VD, 1.0, 0.0);
    fill_random(F, VD * VVOCAB, 1.0, 0.0);
    fill_random(dU, VN * VVOCAB, 1.0, 0.0);
    struct variant_case c = {h, E, F, NULL, &alpha, dU, VN, VVOCAB, VD, 0, 2};
    lmr_head_adaptive_grads grads = {lmr_mat_out_of(dh, VN, VD),
                                     lmr_mat_out_of(dE, VVOCAB, VD),
                                     lmr_mat_out_of(dF, VD, VVOCAB), &dalpha};
    lmr_mat hv = lmr_mat_of(h, VN, VD), Ev = lmr_mat_of(E, VVOCAB, VD);
    lmr_mat Fv = lmr_mat_of(F, VD, VVOCAB), dUv = lmr_mat_of(dU, VN, VVOCAB);
    if (call_ok(lmr_head_adaptive_backward(&grads, hv, Ev, Fv, dUv, alpha),
                "lmr_head_adaptive_backward (alpha = 0.3)")) {
        check_gradient(variant_loss, &c, h, dh, VN * VD, "lmr_head_adaptive_backward: dh");
        check_gradient(variant_loss, &c, E, dE, VVOCAB * VD,
                       "lmr_head_adaptive_backward: dE");
        check_gradient(variant_loss, &c, F, dF, VD * VVOCAB,
                       "lmr_head_adaptive_backward: dF");
        check_gradient(variant_loss, &c, &alpha, &dalpha, 1,
                       "lmr_head_adaptive_backward: dalpha");
    }
    /* alpha = 1 is the tied head */
    double tied_dh[VN * VD], tied_dE[VVOCAB * VD];
    int status = lmr_head_adaptive_backward(&grads, hv, Ev, Fv, dUv, 1.0);
    if (status == LMR_OK)
        status = lmr_head_tied_backward(lmr_mat_out_of(tied_dh, VN, VD),
                                        lmr_mat_out_of(tied_dE, VVOCAB, VD), hv,
                                        Ev, dUv);
    tap_ok(status == LMR_OK && same_values(dh, tied_dh, VN * VD) &&
           same_values(dE, tied_dE, VVOCAB * VD) && all_zero(dF, VD * VVOCAB),
           "lmr_head_adaptive_backward with alpha = 1 equals the tied head (dF = 0)");
}

/* ---- MLP head ------------------------------------------------------------------------- */

struct mlp_case {
    double *h, *W1, *b1, *W2, *E, *b2; /* (n,d) (d,m) (m) (m,vocab) (vocab,d) (vocab) */
    const double *dU;                  /* (n,vocab) */
    size_t n, vocab, d, m;
};

/* The weights of c as views: W2 NULL is the tied form. */
static lmr_head_mlp_weights mlp_weights(const struct mlp_case *c, int with_bias)
{
    lmr_head_mlp_weights w = {
        lmr_mat_of(c->W1, c->d, c->m),
        with_bias ? lmr_vec_of(c->b1, c->m) : lmr_vec_absent(),
        c->W2 ? lmr_mat_of(c->W2, c->m, c->vocab) : lmr_mat_of(NULL, 0, 0),
        c->W2 ? lmr_mat_of(NULL, 0, 0) : lmr_mat_of(c->E, c->vocab, c->d),
        with_bias ? lmr_vec_of(c->b2, c->vocab) : lmr_vec_absent()};
    return w;
}

static double mlp_loss(const void *context)
{
    const struct mlp_case *c = context;
    double logits[MAX_VALUES]; /* (n,vocab) */
    lmr_head_mlp_weights w = mlp_weights(c, 1);
    int status = lmr_head_mlp(lmr_mat_out_of(logits, c->n, c->vocab),
                              lmr_mat_of(c->h, c->n, c->d), &w);
    return status == LMR_OK ? weighted_sum(c->dU, logits, c->n * c->vocab) : NAN;
}

/* tied: W2 = E^T (m = d); with_bias 0: the backward gets NULL biases and the
 * finite differences zero ones, whose gradient is what a bias would get. */
static void mlp_case_run(int tied, int with_bias)
{
    enum { N = 3, VOCAB = 5, D = 4, M_UNTIED = 3 };
    size_t m = tied ? D : M_UNTIED;
    double h[N * D], W1[D * D], b1[D], W2[D * VOCAB], E[VOCAB * D], b2[VOCAB];
    double dU[N * VOCAB], dh[N * D], dW1[D * D], db1[D], dW2[D * VOCAB];
    double dE[VOCAB * D], db2[VOCAB];
    char name[128], what[160];
    fill_random(h, N * D, 1.0, 0.0);
    fill_random(W1, D * m, 1.0, 0.0);
    fill_random(b1, m, with_bias ? 0.5 : 0.0, 0.0);
    fill_random(W2, m * VOCAB, 1.0, 0.0);
    fill_random(E, VOCAB * D, 1.0, 0.0);
    fill_random(b2, VOCAB, with_bias ? 0.5 : 0.0, 0.0);
    fill_random(dU, N * VOCAB, 1.0, 0.0);
    snprintf(name, sizeof name, "lmr_head_mlp_backward (%s, %s)",
             tied ? "tied" : "untied", with_bias ? "biases" : "no biases");
    struct mlp_case c = {h, W1, b1, tied ? NULL : W2, E, b2, dU, N, VOCAB, D, m};
    lmr_head_mlp_weights w = mlp_weights(&c, with_bias);
    lmr_head_mlp_grads grads = {
        lmr_mat_out_of(dh, N, D), lmr_mat_out_of(dW1, D, m), lmr_vec_out_of(db1, m),
        tied ? lmr_mat_out_of(NULL, 0, 0) : lmr_mat_out_of(dW2, m, VOCAB),
        tied ? lmr_mat_out_of(dE, VOCAB, D) : lmr_mat_out_of(NULL, 0, 0),
        lmr_vec_out_of(db2, VOCAB)};
    int status = lmr_head_mlp_backward(&grads, lmr_mat_of(h, N, D), &w,
                                       lmr_mat_of(dU, N, VOCAB));
    if (!call_ok(status, name))
        return;
    struct { double *param; const double *grad; size_t count; const char *label; } checks[] = {
        {h, dh, N * D, "dh"},   {W1, dW1, D * m, "dW1"}, {b1, db1, m, "db1"},
        {tied ? E : W2, tied ? dE : dW2, tied ? VOCAB * D : m * VOCAB,
         tied ? "dE" : "dW2"},
        {b2, db2, VOCAB, "db2"}};
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        snprintf(what, sizeof what, "%s: %s", name, checks[i].label);
        check_gradient(mlp_loss, &c, checks[i].param, checks[i].grad,
                       checks[i].count, what);
    }
}

static void test_mlp_gradients(void)
{
    mlp_case_run(0, 1);
    mlp_case_run(1, 1);
    mlp_case_run(0, 0);
    mlp_case_run(1, 0);
}

/* ---- mixtures of softmaxes ------------------------------------------------------------ */

struct mixture_case {
    double *h, *W, *alpha;                 /* fixed: (n,d) (K,d,vocab) (K) */
    double *W_pi, *W_comp, *b_comp;        /* gated: (d,K) (K,d,d) (K,d) */
    double *W_out, *E, *b_out;             /* (d,vocab) or NULL, (vocab,d), (vocab) */
    int gated, use_b_out;
    const double *G;                       /* (n,vocab): dlogprobs */
    size_t n, vocab, d, K;
};

/* The gated parameters of c as views: W_out NULL is the tied form. */
static lmr_mos_gated_params gated_params(const struct mixture_case *c,
                                         int use_b_out)
{
    size_t d = c->d, K = c->K, vocab = c->vocab;
    lmr_mos_gated_params p = {
        lmr_mat_of(c->W_pi, d, K), lmr_stack_of(c->W_comp, K, d, d),
        lmr_mat_of(c->b_comp, K, d),
        c->W_out ? lmr_mat_of(c->W_out, d, vocab) : lmr_mat_of(NULL, 0, 0),
        c->W_out ? lmr_mat_of(NULL, 0, 0) : lmr_mat_of(c->E, vocab, d),
        use_b_out ? lmr_vec_of(c->b_out, vocab) : lmr_vec_absent()};
    return p;
}

static double mixture_loss(const void *context)
{
    const struct mixture_case *c = context;
    double probs[MAX_VALUES], logprobs[MAX_VALUES]; /* (n,vocab) */
    lmr_mat_out p = lmr_mat_out_of(probs, c->n, c->vocab);
    lmr_mat_out lp = lmr_mat_out_of(logprobs, c->n, c->vocab);
    lmr_mat h = lmr_mat_of(c->h, c->n, c->d);
    lmr_mos_gated_params params = gated_params(c, c->use_b_out);
    int status = c->gated
                     ? lmr_mos_gated(p, lp, h, &params)
                     : lmr_mos_fixed(p, lp, h,
                                     lmr_stack_of(c->W, c->K, c->d, c->vocab),
                                     lmr_vec_of(c->alpha, c->K));
    return status == LMR_OK ? weighted_sum(c->G, logprobs, c->n * c->vocab) : NAN;
}

enum { MN = 3, MVOCAB = 5, MD = 3, MK = 3 }; /* n, |V|, d, K of the mixtures */

/* dalpha_k at a zero weight, by the one-sided second-order difference
 * (-3 L(0) + 4 L(h) - L(2h)) / (2h), since alpha may not go negative. */
static void check_zero_weight(struct mixture_case *c, size_t k, double dalpha_k)
{
    double step = 0x1p-20, values[3];
    for (int i = 0; i < 3; i++) {
        c->alpha[k] = i * step;
        values[i] = mixture_loss(c);
    }
    c->alpha[k] = 0.0;
    double difference = (-3 * values[0] + 4 * values[1] - values[2]) / (2 * step);
    struct worst worst = worst_start();
    worst_update(&worst, fabs(difference - dalpha_k), 1e-6 * (1 + fabs(dalpha_k)));
    worst_report(&worst, "lmr_mos_fixed_backward: dalpha at a zero weight "
                         "matches a one-sided difference");
}

static void fixed_case_run(int zero_weight)
{
    double h[MN * MD], W[MK * MD * MVOCAB], alpha[MK] = {0.5, 1.25, 2.0};
    double G[MN * MVOCAB], dh[MN * MD], dW[MK * MD * MVOCAB], dalpha[MK];
    fill_random(h, MN * MD, 1.0, 0.0);
    fill_random(W, MK * MD * MVOCAB, 1.5, 0.0);
    fill_random(G, MN * MVOCAB, 1.0, 0.0);
    if (zero_weight)
        alpha[1] = 0.0;
    struct mixture_case c = {h, W, alpha, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0,
                             G, MN, MVOCAB, MD, MK};
    const char *name = zero_weight ? "lmr_mos_fixed_backward (a zero weight)"
                                   : "lmr_mos_fixed_backward";
    char what[128];
    if (!call_ok(lmr_mos_fixed_backward(lmr_mat_out_of(dh, MN, MD),
                                        lmr_stack_out_of(dW, MK, MD, MVOCAB),
                                        lmr_vec_out_of(dalpha, MK),
                                        lmr_mat_of(h, MN, MD),
                                        lmr_stack_of(W, MK, MD, MVOCAB),
                                        lmr_vec_of(alpha, MK),
                                        lmr_mat_of(G, MN, MVOCAB)), name))
        return;
    snprintf(what, sizeof what, "%s: dh", name);
    check_gradient(mixture_loss, &c, h, dh, MN * MD, what);
    snprintf(what, sizeof what, "%s: dW", name);
    check_gradient(mixture_loss, &c, W, dW, MK * MD * MVOCAB, what);
    double scaled = 0.0, magnitude = 0.0; /* sum alpha_i dalpha_i = 0 */
    for (size_t k = 0; k < MK; k++) {
        scaled += alpha[k] * dalpha[k];
        magnitude += fabs(alpha[k] * dalpha[k]);
    }
    tap_close_enough(scaled, 0.0, 64 * DBL_EPSILON * magnitude,
                     "%s: sum alpha_i dalpha_i = 0", name);
    if (!zero_weight) {
        snprintf(what, sizeof what, "%s: dalpha", name);
        check_gradient(mixture_loss, &c, alpha, dalpha, MK, what);
        return;
    }
    tap_ok(all_zero(dW + 1 * MD * MVOCAB, MD * MVOCAB) && isfinite(dalpha[1]),
           "%s: dW_k = 0 and dalpha_k finite for the zero weight", name);
    check_zero_weight(&c, 1, dalpha[1]);
}

/* Gated mixture: untied (W_out), tied (E), each with or without b_out. */
static void gated_case_run(int tied, int use_b_out)
{
    enum { K = 2 };
    double h[MN * MD], W_pi[MD * K], W_comp[K * MD * MD], b_comp[K * MD];
    double W_out[MD * MVOCAB], E[MVOCAB * MD], b_out[MVOCAB], G[MN * MVOCAB];
    double dh[MN * MD], dW_pi[MD * K], dW_comp[K * MD * MD], db_comp[K * MD];
    double dW_out[MD * MVOCAB], dE[MVOCAB * MD], db_out[MVOCAB];
    char name[128], what[160];
    fill_random(h, MN * MD, 1.0, 0.0);
    fill_random(W_pi, MD * K, 1.0, 0.0);
    fill_random(W_comp, K * MD * MD, 1.0, 0.0);
    fill_random(b_comp, K * MD, 0.5, 0.0);
    fill_random(W_out, MD * MVOCAB, 2.0, 0.0);
    fill_random(E, MVOCAB * MD, 2.0, 0.0);
    fill_random(b_out, MVOCAB, use_b_out ? 0.5 : 0.0, 0.0);
    fill_random(G, MN * MVOCAB, 1.0, 0.0);
    snprintf(name, sizeof name, "lmr_mos_gated_backward (%s, %s)",
             tied ? "tied" : "untied", use_b_out ? "b_out" : "no b_out");
    /* finite differences always see b_out (zeros when the backward has none) */
    struct mixture_case c = {h, NULL, NULL, W_pi, W_comp, b_comp,
                             tied ? NULL : W_out, E, b_out, 1, 1,
                             G, MN, MVOCAB, MD, K};
    lmr_mos_gated_grads grads = {
        lmr_mat_out_of(dh, MN, MD), lmr_mat_out_of(dW_pi, MD, K),
        lmr_stack_out_of(dW_comp, K, MD, MD), lmr_mat_out_of(db_comp, K, MD),
        tied ? lmr_mat_out_of(NULL, 0, 0) : lmr_mat_out_of(dW_out, MD, MVOCAB),
        tied ? lmr_mat_out_of(dE, MVOCAB, MD) : lmr_mat_out_of(NULL, 0, 0),
        lmr_vec_out_of(db_out, MVOCAB)};
    lmr_mos_gated_params params = gated_params(&c, use_b_out);
    if (!call_ok(lmr_mos_gated_backward(&grads, lmr_mat_of(h, MN, MD), &params,
                                        lmr_mat_of(G, MN, MVOCAB)), name))
        return;
    struct { double *param; const double *grad; size_t count; const char *label; } checks[] = {
        {h, dh, MN * MD, "dh"},
        {W_pi, dW_pi, MD * K, "dW_pi"},
        {W_comp, dW_comp, K * MD * MD, "dW_comp"},
        {b_comp, db_comp, K * MD, "db_comp"},
        {tied ? E : W_out, tied ? dE : dW_out, MD * MVOCAB, tied ? "dE" : "dW_out"},
        {b_out, db_out, MVOCAB, "db_out"}};
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        snprintf(what, sizeof what, "%s: %s", name, checks[i].label);
        check_gradient(mixture_loss, &c, checks[i].param, checks[i].grad,
                       checks[i].count, what);
    }
}

static void test_mixture_gradients(void)
{
    fixed_case_run(0);
    fixed_case_run(1);
    gated_case_run(0, 1);
    gated_case_run(1, 1);
    gated_case_run(1, 0);
}

/* ---- soft tying --------------------------------------------------------------------- */

struct soft_tie_case {
    double *h, *E, *W;         /* (n,d) (vocab,d) (d,vocab) */
    const int64_t *targets;    /* (n) */
    size_t n, vocab, d;
    double lambda, dloss;
    enum lmr_reduction reduction;
};

static double soft_tie_loss(const void *context)
{
    const struct soft_tie_case *c = context;
    lmr_soft_tie out;
    lmr_soft_tie_weights w = {lmr_mat_of(c->E, c->vocab, c->d),
                              lmr_mat_of(c->W, c->d, c->vocab)};
    int status = lmr_soft_tie_loss(&out, lmr_mat_of(c->h, c->n, c->d), &w,
                                   lmr_ids_of(c->targets, c->n), c->lambda,
                                   c->reduction, IGNORE);
    return status == LMR_OK ? c->dloss * out.loss : NAN;
}

static void soft_tie_case_run(enum lmr_reduction reduction, const char *label)
{
    enum { N = 4, VOCAB = 5, D = 3 };
    const int64_t targets[N] = {4, 0, IGNORE, 2};
    double h[N * D], E[VOCAB * D], W[D * VOCAB];
    double dh[N * D], dE[VOCAB * D], dW[D * VOCAB];
    char name[96], what[128];
    fill_random(h, N * D, 1.0, 0.0);
    fill_random(E, VOCAB * D, 1.0, 0.0);
    fill_random(W, D * VOCAB, 1.0, 0.0);
    struct soft_tie_case c = {h, E, W, targets, N, VOCAB, D, 0.3, 0.75, reduction};
    snprintf(name, sizeof name, "lmr_soft_tie_loss_backward (%s)", label);
    lmr_soft_tie_grads grads = {lmr_mat_out_of(dh, N, D),
                                lmr_mat_out_of(dE, VOCAB, D),
                                lmr_mat_out_of(dW, D, VOCAB)};
    lmr_soft_tie_weights w = {lmr_mat_of(E, VOCAB, D), lmr_mat_of(W, D, VOCAB)};
    if (!call_ok(lmr_soft_tie_loss_backward(&grads, lmr_mat_of(h, N, D), &w,
                                            lmr_ids_of(targets, N),
                                            lmr_vec_of(&c.dloss, 1), c.lambda,
                                            reduction, IGNORE), name))
        return;
    snprintf(what, sizeof what, "%s: dh", name);
    check_gradient(soft_tie_loss, &c, h, dh, N * D, what);
    snprintf(what, sizeof what, "%s: dE", name);
    check_gradient(soft_tie_loss, &c, E, dE, VOCAB * D, what);
    snprintf(what, sizeof what, "%s: dW", name);
    check_gradient(soft_tie_loss, &c, W, dW, D * VOCAB, what);
}

static void test_soft_tie_gradients(void)
{
    soft_tie_case_run(LMR_REDUCE_SUM, "sum");
    soft_tie_case_run(LMR_REDUCE_MEAN, "mean");
}

/* ---- linear_cross_entropy ----------------------------------------------------------- */

/* |V| spans three of the reference's chunks, the last of 3 tokens. */
enum { LCE_N = 3, LCE_VOCAB = 2 * LMR_LCE_CHUNK + 3, LCE_D = 2 };

struct lce_case {
    const double *h, *E;      /* (n,d) (vocab,d) */
    const int64_t *targets;   /* (n) */
    const double *dloss;      /* (n) or (1) */
    enum lmr_reduction reduction;
};

/* sum dloss * loss for the loss of cross_entropy(h E^T), composed here from
 * the forward ops; NaN if a call fails. */
static double lce_loss(const void *context)
{
    const struct lce_case *c = context;
    static double logits[LCE_N * LCE_VOCAB];
    double loss[LCE_N];
    size_t count = c->reduction == LMR_REDUCE_NONE ? LCE_N : 1;
    lmr_mat h = lmr_mat_of(c->h, LCE_N, LCE_D);
    lmr_mat E = lmr_mat_of(c->E, LCE_VOCAB, LCE_D);
    if (lmr_head_tied(lmr_mat_out_of(logits, LCE_N, LCE_VOCAB), h, E) != LMR_OK ||
        lmr_cross_entropy(lmr_vec_out_of(loss, count),
                          lmr_mat_of(logits, LCE_N, LCE_VOCAB),
                          lmr_ids_of(c->targets, LCE_N), c->reduction,
                          IGNORE) != LMR_OK)
        return NAN;
    return weighted_sum(c->dloss, loss, count);
}

/* One TAP line: got (count) within 1e-13 of the largest |want| of want. */
static void check_close_to(const double *got, const double *want, size_t count,
                           const char *what)
{
    double largest = 0.0;
    for (size_t i = 0; i < count; i++)
        largest = fmax(largest, fabs(want[i]));
    struct worst worst = worst_start();
    for (size_t i = 0; i < count; i++)
        worst_update(&worst, fabs(got[i] - want[i]), 1e-13 * largest + 1e-300);
    worst_report(&worst, "%s", what);
}

/* The three ops lmr_linear_cross_entropy fuses, composed: the loss into
 * want_loss (count), dh and dE into want_dh (n,d), want_dE (vocab,d);
 * logits and dU are (n,vocab) scratch. 1 if every call succeeds. */
static int lce_composed(double *want_loss, double *want_dh, double *want_dE,
                        double *logits, double *dU, const struct lce_case *c,
                        size_t count)
{
    lmr_mat h = lmr_mat_of(c->h, LCE_N, LCE_D);
    lmr_mat E = lmr_mat_of(c->E, LCE_VOCAB, LCE_D);
    lmr_mat u = lmr_mat_of(logits, LCE_N, LCE_VOCAB);
    lmr_ids targets = lmr_ids_of(c->targets, LCE_N);
    return lmr_head_tied(lmr_mat_out_of(logits, LCE_N, LCE_VOCAB), h, E) == LMR_OK &&
           lmr_cross_entropy(lmr_vec_out_of(want_loss, count), u, targets,
                             c->reduction, IGNORE) == LMR_OK &&
           lmr_cross_entropy_backward(lmr_mat_out_of(dU, LCE_N, LCE_VOCAB), u,
                                      targets, lmr_vec_of(c->dloss, count),
                                      c->reduction, IGNORE) == LMR_OK &&
           lmr_head_tied_backward(lmr_mat_out_of(want_dh, LCE_N, LCE_D),
                                  lmr_mat_out_of(want_dE, LCE_VOCAB, LCE_D), h,
                                  E, lmr_mat_of(dU, LCE_N, LCE_VOCAB)) == LMR_OK;
}

/* lmr_linear_cross_entropy against finite differences of the composed loss
 * and against the composition of the three ops it fuses. */
static void lce_case_run(enum lmr_reduction reduction, const char *label)
{
    static double h[LCE_N * LCE_D], E[LCE_VOCAB * LCE_D];
    static double dh[LCE_N * LCE_D], dE[LCE_VOCAB * LCE_D];
    static double logits[LCE_N * LCE_VOCAB], dU[LCE_N * LCE_VOCAB];
    static double want_dh[LCE_N * LCE_D], want_dE[LCE_VOCAB * LCE_D];
    const int64_t targets[LCE_N] = {LCE_VOCAB - 1, IGNORE, LMR_LCE_CHUNK};
    const double dloss[LCE_N] = {0.75, -1.5, 1.25};
    double loss[LCE_N], want_loss[LCE_N];
    char name[96], what[160];
    fill_random(h, LCE_N * LCE_D, 2.0, 0.0);
    fill_random(E, LCE_VOCAB * LCE_D, 2.0, 0.0);
    struct lce_case c = {h, E, targets, dloss, reduction};
    size_t count = reduction == LMR_REDUCE_NONE ? LCE_N : 1;
    snprintf(name, sizeof name, "lmr_linear_cross_entropy (%s, |V| = %d)",
             label, LCE_VOCAB);
    lmr_linear_cross_entropy_outputs out = {
        lmr_vec_out_of(loss, count), lmr_mat_out_of(dh, LCE_N, LCE_D),
        lmr_mat_out_of(dE, LCE_VOCAB, LCE_D)};
    if (!call_ok(lmr_linear_cross_entropy(&out, lmr_mat_of(h, LCE_N, LCE_D),
                                          lmr_mat_of(E, LCE_VOCAB, LCE_D),
                                          lmr_ids_of(targets, LCE_N),
                                          lmr_vec_of(dloss, count), reduction,
                                          IGNORE), name))
        return;
    snprintf(what, sizeof what, "%s: dh", name);
    check_gradient(lce_loss, &c, h, dh, LCE_N * LCE_D, what);
    snprintf(what, sizeof what, "%s: dE", name);
    check_gradient(lce_loss, &c, E, dE, LCE_VOCAB * LCE_D, what);
    tap_ok(lce_composed(want_loss, want_dh, want_dE, logits, dU, &c, count),
           "%s: the composed ops run", name);
    snprintf(what, sizeof what, "%s: loss is cross_entropy of head_tied", name);
    check_close_to(loss, want_loss, count, what);
    snprintf(what, sizeof what, "%s: dh is head_tied_backward's of "
             "cross_entropy_backward", name);
    check_close_to(dh, want_dh, LCE_N * LCE_D, what);
    snprintf(what, sizeof what, "%s: dE is head_tied_backward's of "
             "cross_entropy_backward", name);
    check_close_to(dE, want_dE, LCE_VOCAB * LCE_D, what);
    tap_ok(dh[2] == 0.0 && dh[3] == 0.0, "%s: the ignored row's dh is 0", name);
}

static void test_lce_gradients(void)
{
    lce_case_run(LMR_REDUCE_NONE, "none");
    lce_case_run(LMR_REDUCE_SUM, "sum");
    lce_case_run(LMR_REDUCE_MEAN, "mean");
}

/* ---- tied_lm ------------------------------------------------------------------------ */

enum { LN = 4, LVOCAB = 5, LD = 3, LMAX_LEN = 6 }; /* n, |V|, d, max_len */

/* The model with the lookup's and the head's copies of E kept apart, so
 * that each share of dE can be differenced on its own. */
struct lm_case {
    lmr_tied_lm_model model; /* model.E unused by lm_loss */
    double *E_in, *E_out;    /* (vocab,d) each; the same array for dE */
    double *P, *gamma, *beta; /* (max_len,d) (d) (d) */
};

/* The loss of lmr_tied_lm's model, composed here from the forward ops:
 * X = E_in[ids] + P[0:n], LayerNorm, M, u = H E_out^T, cross-entropy. */
static double lm_loss(const void *context)
{
    const struct lm_case *c = context;
    const lmr_tied_lm_model *m = &c->model;
    double X[LN * LD], Z[LN * LD], H[LN * LD], logits[LN * LVOCAB], loss;
    int status = lmr_embed_lookup(lmr_mat_out_of(X, LN, LD),
                                  lmr_mat_of(c->E_in, LVOCAB, LD), m->ids);
    for (size_t i = 0; i < LN * LD; i++)
        X[i] += c->P[i]; /* P[t,j] for t < n */
    memcpy(Z, X, sizeof X);
    if (status == LMR_OK && m->gamma.len > 0)
        status = lmr_layernorm(lmr_mat_out_of(Z, LN, LD), lmr_mat_of(X, LN, LD),
                               lmr_vec_of(c->gamma, LD), lmr_vec_of(c->beta, LD),
                               m->eps);
    memcpy(H, Z, sizeof Z);
    if (status == LMR_OK && m->M.rows > 0)
        status = lmr_head_untied(lmr_mat_out_of(H, LN, LD), lmr_mat_of(Z, LN, LD),
                                 m->M, lmr_vec_absent());
    if (status == LMR_OK)
        status = lmr_head_tied(lmr_mat_out_of(logits, LN, LVOCAB),
                               lmr_mat_of(H, LN, LD),
                               lmr_mat_of(c->E_out, LVOCAB, LD));
    if (status == LMR_OK)
        status = lmr_cross_entropy(lmr_vec_out_of(&loss, 1),
                                   lmr_mat_of(logits, LN, LVOCAB), m->targets,
                                   m->reduction, m->ignore_index);
    return status == LMR_OK ? loss : NAN;
}

static void lm_case_run(int layernorm, int matrix, enum lmr_reduction reduction)
{
    const int64_t ids[LN] = {3, 1, 3, 0}, targets[LN] = {1, 3, IGNORE, 2};
    double E[LVOCAB * LD], E_copy[LVOCAB * LD], P[LMAX_LEN * LD], M[LD * LD];
    double gamma[LD], beta[LD], loss;
    double dE[LVOCAB * LD], dE_input[LVOCAB * LD], dE_output[LVOCAB * LD];
    double dP[LMAX_LEN * LD], dgamma[LD], dbeta[LD];
    char name[128], what[160];
    fill_random(E, LVOCAB * LD, 1.0, 0.0);
    fill_random(P, LMAX_LEN * LD, 1.0, 0.0);
    fill_random(M, LD * LD, 1.0, 0.0);
    fill_random(gamma, LD, 0.5, 1.0);
    fill_random(beta, LD, 0.5, 0.0);
    memcpy(E_copy, E, sizeof E);
    snprintf(name, sizeof name, "lmr_tied_lm (%s, %s, %s)",
             layernorm ? "LayerNorm" : "no LayerNorm",
             matrix ? "M" : "identity", reduction == LMR_REDUCE_SUM ? "sum" : "mean");
    size_t norm = layernorm ? LD : 0, middle = matrix ? LD : 0;
    struct lm_case c = {{lmr_ids_of(ids, LN), lmr_ids_of(targets, LN),
                         lmr_mat_of(E, LVOCAB, LD), lmr_mat_of(P, LMAX_LEN, LD),
                         lmr_vec_of(gamma, norm), lmr_vec_of(beta, norm),
                         lmr_mat_of(M, middle, middle), 1e-3, reduction, IGNORE,
                         matrix ? LMR_MIDDLE_MATRIX : LMR_MIDDLE_IDENTITY},
                        E, E, P, gamma, beta};
    lmr_tied_lm_grads grads = {
        lmr_vec_out_of(&loss, 1), lmr_mat_out_of(dE, LVOCAB, LD),
        lmr_mat_out_of(dE_input, LVOCAB, LD),
        lmr_mat_out_of(dE_output, LVOCAB, LD), lmr_mat_out_of(dP, LMAX_LEN, LD),
        lmr_vec_out_of(dgamma, norm), lmr_vec_out_of(dbeta, norm)};
    if (!call_ok(lmr_tied_lm(&grads, &c.model), name))
        return;
    tap_close_enough(loss, lm_loss(&c), 0.0, "%s: loss equals the composed forward", name);
    int split = 1;
    for (size_t i = 0; i < LVOCAB * LD; i++)
        split &= dE[i] == dE_input[i] + dE_output[i];
    tap_ok(split, "%s: dE == dE_input + dE_output exactly", name);
    snprintf(what, sizeof what, "%s: dE", name);
    check_gradient(lm_loss, &c, E, dE, LVOCAB * LD, what);
    c.E_out = E_copy; /* E_in = E alone is perturbed */
    snprintf(what, sizeof what, "%s: dE_input", name);
    check_gradient(lm_loss, &c, E, dE_input, LVOCAB * LD, what);
    c.E_in = E_copy;
    c.E_out = E; /* E_out = E alone is perturbed */
    snprintf(what, sizeof what, "%s: dE_output", name);
    check_gradient(lm_loss, &c, E, dE_output, LVOCAB * LD, what);
    snprintf(what, sizeof what, "%s: dP", name);
    check_gradient(lm_loss, &c, P, dP, LMAX_LEN * LD, what);
    tap_ok(all_zero(dP + LN * LD, (LMAX_LEN - LN) * LD) &&
           all_zero(dE_input + 2 * LD, LD) && all_zero(dE_input + 4 * LD, LD),
           "%s: rows of dP past n and dE_input rows of absent tokens are 0", name);
    if (layernorm) {
        snprintf(what, sizeof what, "%s: dgamma", name);
        check_gradient(lm_loss, &c, gamma, dgamma, LD, what);
        snprintf(what, sizeof what, "%s: dbeta", name);
        check_gradient(lm_loss, &c, beta, dbeta, LD, what);
    }
}

static void test_tied_lm_gradients(void)
{
    lm_case_run(0, 0, LMR_REDUCE_MEAN);
    lm_case_run(1, 1, LMR_REDUCE_SUM);
    lm_case_run(1, 0, LMR_REDUCE_MEAN);
    lm_case_run(0, 1, LMR_REDUCE_SUM);
}

/* ======================================================================== */
/* ---- bad input ----------------------------------------------------------- */

enum {
    BATCH = 3,        /* n of the error fixtures */
    VOCAB = 4,        /* |V| */
    WIDTH = 2,        /* d (and m, the MLP's hidden width) */
    MIXTURES = 2,     /* K */
    TABLE_LEN = 4,    /* max_len */
    GOOD_COUNT = 64,  /* entries of GOOD, enough for any fixture array */
    OUT_BUFFERS = 8,  /* output arrays a call may write */
    OUT_CAPACITY = 64 /* entries of each */
};

static const double SENTINEL = 12345.0;

/* Finite values for every double input of the fixtures: any array shape up
 * to 64 entries reads a prefix. GOOD: (GOOD_COUNT). */
static double GOOD[GOOD_COUNT];

static void fill_good(void)
{
    for (size_t i = 0; i < GOOD_COUNT; i++)
        GOOD[i] = (double)((int)(i * 37 % 17) - 8) / 8.0;
}

/* GOOD with entry position replaced by value, in buffer (GOOD_COUNT). */
static const double *good_with(double *buffer, size_t position, double value)
{
    copy_with(buffer, GOOD, GOOD_COUNT, position, value);
    return buffer;
}

/* ids, positions and targets of the fixtures: (BATCH), in range, repeated */
static const int64_t GOOD_IDS[BATCH] = {1, 3, 1};
static const int64_t GOOD_TARGETS[BATCH] = {2, LMR_DEFAULT_IGNORE_INDEX, 0};

/* Small arrays for calls whose sizes overflow; the last entry is a tripwire.
 * TRIPWIRE_VALUES, TRIPWIRE_IDS: (4) */
static const double TRIPWIRE_VALUES[4] = {1.0, 1.0, 1.0, NAN};
static const int64_t TRIPWIRE_IDS[4] = {0, 0, 0, -1};

/* A size whose product with anything >= 1 times 8 bytes overflows size_t. */
static const size_t HUGE_SIZE = SIZE_MAX / 2;
/* A count that fits times 8 bytes, but not times 3 * 8. */
static const size_t LARGE_SIZE = SIZE_MAX / 16;

/* Every output array a call may write: slot[i] points at buffer[i], or is
 * NULL for a test of a missing output. */
struct outputs {
    double buffer[OUT_BUFFERS][OUT_CAPACITY];
    double *slot[OUT_BUFFERS];
};

static void fill_sentinels(struct outputs *out)
{
    for (size_t b = 0; b < OUT_BUFFERS; b++) {
        for (size_t i = 0; i < OUT_CAPACITY; i++)
            out->buffer[b][i] = SENTINEL;
        out->slot[b] = out->buffer[b];
    }
}

/* 1 if every buffer still holds the sentinel, bit for bit. */
static int untouched(const struct outputs *out)
{
    for (size_t b = 0; b < OUT_BUFFERS; b++)
        for (size_t i = 0; i < OUT_CAPACITY; i++)
            if (memcmp(&out->buffer[b][i], &SENTINEL, sizeof SENTINEL) != 0)
                return 0;
    return 1;
}

/* Runs one function on args (its own struct) into out's slots. */
typedef int (*runner)(const void *args, struct outputs *out);

enum { NO_NULL_SLOT = -1 };

/* Two TAP lines: run(args), with output slot null_slot NULL (or none),
 * returns expected, and writes no output buffer. */
static void rejects_with_null(runner run, const void *args, int null_slot,
                              int expected, const char *what)
{
    struct outputs out;
    fill_sentinels(&out);
    if (null_slot != NO_NULL_SLOT)
        out.slot[null_slot] = NULL;
    expect_status(run(args, &out), expected, what);
    tap_ok(untouched(&out), "%s: output not written", what);
}

static void rejects(runner run, const void *args, int expected, const char *what)
{
    rejects_with_null(run, args, NO_NULL_SLOT, expected, what);
}

/* One TAP line: run(args) returns LMR_OK (the fixture is valid). */
static void accepts(runner run, const void *args, const char *what)
{
    struct outputs out;
    fill_sentinels(&out);
    expect_status(run(args, &out), LMR_OK, what);
}

/* "function: text", in a static buffer that the next call overwrites. */
static const char *named(const char *function, const char *text)
{
    static char what[192];
    snprintf(what, sizeof what, "%s: %s", function, text);
    return what;
}

/* ---- lmr_embed_lookup_backward, lmr_pos_learned_backward --------------------------------- */

struct scatter_args {
    const int64_t *index; /* (n) */
    const double *dY;     /* (n,d) */
    size_t n, rows, d;
    int positions;        /* 0: ids, 1: positions */
};

static struct scatter_args scatter_defaults(int positions)
{
    struct scatter_args args = {GOOD_IDS, GOOD, BATCH,
                                positions ? TABLE_LEN : VOCAB, WIDTH, positions};
    return args;
}

static int run_scatter(const void *context, struct outputs *out)
{
    const struct scatter_args *a = context;
    lmr_mat_out grad = lmr_mat_out_of(out->slot[0], a->rows, a->d);
    lmr_ids index = lmr_ids_of(a->index, a->n);
    lmr_mat dY = lmr_mat_of(a->dY, a->n, a->d);
    return a->positions ? lmr_pos_learned_backward(grad, index, dY)
                        : lmr_embed_lookup_backward(grad, index, dY);
}

static void test_scatter_errors(int positions)
{
    const char *f = positions ? "lmr_pos_learned_backward" : "lmr_embed_lookup_backward";
    int bad_index = positions ? LMR_EPOS : LMR_EINDEX;
    double buffer[GOOD_COUNT];
    int64_t index[BATCH];
    struct scatter_args a = scatter_defaults(positions);
    accepts(run_scatter, &a, named(f, "valid call"));
    rejects_with_null(run_scatter, &a, 0, LMR_EINVAL, named(f, "output NULL"));
    a.index = NULL;
    rejects(run_scatter, &a, LMR_EINVAL, named(f, "index NULL, n > 0"));
    a = scatter_defaults(positions);
    a.dY = NULL;
    rejects(run_scatter, &a, LMR_EINVAL, named(f, "dY NULL, n > 0"));
    a = scatter_defaults(positions);
    a.rows = 0;
    rejects(run_scatter, &a, LMR_EDIM, named(f, "table rows = 0"));
    a = scatter_defaults(positions);
    a.d = 0;
    rejects(run_scatter, &a, LMR_EDIM, named(f, "d = 0"));
    a = scatter_defaults(positions);
    memcpy(index, GOOD_IDS, sizeof index);
    index[BATCH - 1] = (int64_t)a.rows;
    a.index = index;
    rejects(run_scatter, &a, bad_index, named(f, "last index = table rows"));
    index[BATCH - 1] = -1;
    rejects(run_scatter, &a, bad_index, named(f, "index -1"));
    a = scatter_defaults(positions);
    a.dY = good_with(buffer, BATCH * WIDTH - 1, NAN);
    rejects(run_scatter, &a, LMR_ENONFINITE, named(f, "NaN in the last entry of dY"));
    a.dY = good_with(buffer, 0, -INFINITY);
    rejects(run_scatter, &a, LMR_ENONFINITE, named(f, "-inf in dY"));
    a = scatter_defaults(positions);
    a.index = TRIPWIRE_IDS;
    a.dY = TRIPWIRE_VALUES;
    a.rows = HUGE_SIZE;
    a.n = 1;
    rejects(run_scatter, &a, LMR_EOVERFLOW, named(f, "rows*d overflows"));
    a.rows = 2;
    a.n = HUGE_SIZE;
    rejects(run_scatter, &a, LMR_EOVERFLOW, named(f, "n*d overflows"));
    a.n = LARGE_SIZE;
    a.d = 3;
    rejects(run_scatter, &a, LMR_EOVERFLOW, named(f, "n*d overflows (n = SIZE_MAX/16, d = 3)"));
    /* n = 0: zeros, with NULL index and dY */
    struct outputs out;
    fill_sentinels(&out);
    a = scatter_defaults(positions);
    a.index = NULL;
    a.dY = NULL;
    a.n = 0;
    expect_status(run_scatter(&a, &out), LMR_OK, named(f, "n = 0, NULL index and dY"));
    tap_ok(all_zero(out.buffer[0], a.rows * WIDTH), "%s: n = 0 gives zeros", f);
}

/* ---- lmr_layernorm_backward ------------------------------------------------------------- */

struct layernorm_args {
    const double *x, *gamma, *dY; /* (n,d) (d) (n,d) */
    size_t n, d;
    double eps;
};

static struct layernorm_args layernorm_defaults(void)
{
    struct layernorm_args args = {GOOD, GOOD + 5, GOOD + 9, BATCH, WIDTH, 1e-5};
    return args;
}

/* slots: 0 dx, 1 dgamma, 2 dbeta */
static int run_layernorm(const void *context, struct outputs *out)
{
    const struct layernorm_args *a = context;
    return lmr_layernorm_backward(lmr_mat_out_of(out->slot[0], a->n, a->d),
                                  lmr_vec_out_of(out->slot[1], a->d),
                                  lmr_vec_out_of(out->slot[2], a->d),
                                  lmr_mat_of(a->x, a->n, a->d),
                                  lmr_vec_of(a->gamma, a->d),
                                  lmr_mat_of(a->dY, a->n, a->d), a->eps);
}

static void test_layernorm_errors(void)
{
    const char *f = "lmr_layernorm_backward";
    double buffer[GOOD_COUNT];
    struct layernorm_args a = layernorm_defaults();
    accepts(run_layernorm, &a, named(f, "valid call"));
    rejects_with_null(run_layernorm, &a, 0, LMR_EINVAL, named(f, "dx NULL"));
    rejects_with_null(run_layernorm, &a, 1, LMR_EINVAL, named(f, "dgamma NULL"));
    rejects_with_null(run_layernorm, &a, 2, LMR_EINVAL, named(f, "dbeta NULL"));
    a.gamma = NULL;
    rejects(run_layernorm, &a, LMR_EINVAL, named(f, "gamma NULL"));
    a = layernorm_defaults();
    a.x = NULL;
    rejects(run_layernorm, &a, LMR_EINVAL, named(f, "x NULL, n > 0"));
    a = layernorm_defaults();
    a.d = 0;
    rejects(run_layernorm, &a, LMR_EDIM, named(f, "d = 0"));
    a = layernorm_defaults();
    a.eps = 0.0;
    rejects(run_layernorm, &a, LMR_EDOMAIN, named(f, "eps = 0"));
    a.eps = -1e-5;
    rejects(run_layernorm, &a, LMR_EDOMAIN, named(f, "eps < 0"));
    a.eps = NAN;
    rejects(run_layernorm, &a, LMR_ENONFINITE, named(f, "eps NaN"));
    a.eps = INFINITY;
    rejects(run_layernorm, &a, LMR_ENONFINITE, named(f, "eps +inf"));
    a = layernorm_defaults();
    a.x = good_with(buffer, BATCH * WIDTH - 1, NAN);
    rejects(run_layernorm, &a, LMR_ENONFINITE, named(f, "NaN in the last entry of x"));
    a = layernorm_defaults();
    a.gamma = good_with(buffer, 1, INFINITY);
    rejects(run_layernorm, &a, LMR_ENONFINITE, named(f, "+inf in gamma"));
    a = layernorm_defaults();
    a.dY = good_with(buffer, BATCH * WIDTH - 1, NAN);
    rejects(run_layernorm, &a, LMR_ENONFINITE, named(f, "NaN in the last entry of dY"));
    a.dY = good_with(buffer, 2, -INFINITY);
    rejects(run_layernorm, &a, LMR_ENONFINITE, named(f, "-inf in dY"));
    a = layernorm_defaults();
    a.x = a.dY = TRIPWIRE_VALUES;
    a.gamma = TRIPWIRE_VALUES;
    a.n = HUGE_SIZE;
    rejects(run_layernorm, &a, LMR_EOVERFLOW, named(f, "n*d overflows"));
    a.n = 0;
    a.d = HUGE_SIZE;
    rejects(run_layernorm, &a, LMR_EOVERFLOW, named(f, "d overflows with n = 0"));
    struct outputs out;
    fill_sentinels(&out);
    a = layernorm_defaults();
    a.n = 0;
    a.x = a.dY = NULL;
    expect_status(run_layernorm(&a, &out), LMR_OK, named(f, "n = 0, NULL x and dY"));
    tap_ok(all_zero(out.buffer[1], WIDTH) && all_zero(out.buffer[2], WIDTH) &&
           out.buffer[0][0] == SENTINEL, "%s: n = 0 gives zero dgamma, dbeta", f);
}

/* ---- input side: shapes that must agree, and spec/api.md#error-order ------
 * One shape problem the views carry, or two problems at once of which the
 * one the order names first must be reported: the inputs (as the forward's
 * check has them), then the upstream gradient, then the outputs. */

/* out's buffers refilled with the sentinel; its slots are kept. */
static struct outputs *fresh(struct outputs *out)
{
    for (size_t b = 0; b < OUT_BUFFERS; b++)
        for (size_t i = 0; i < OUT_CAPACITY; i++)
            out->buffer[b][i] = SENTINEL;
    return out;
}

/* Two TAP lines: status is expected and no buffer of out was written. */
static void expect_first(int status, int expected, const struct outputs *out,
                         const char *what)
{
    expect_status(status, expected, what);
    tap_ok(untouched(out), "%s: output not written", what);
}

/* The scatter-add of GOOD_IDS, its last index replaced by last_index, and
 * dY into the (rows, WIDTH) gradient in out's slot 0. */
static int scatter_call(int positions, struct outputs *out, size_t rows,
                        int64_t last_index, lmr_mat dY)
{
    int64_t index[BATCH] = {GOOD_IDS[0], GOOD_IDS[1], last_index};
    lmr_mat_out grad = lmr_mat_out_of(fresh(out)->slot[0], rows, WIDTH);
    return positions
               ? lmr_pos_learned_backward(grad, lmr_ids_of(index, BATCH), dY)
               : lmr_embed_lookup_backward(grad, lmr_ids_of(index, BATCH), dY);
}

static void test_scatter_order(int positions)
{
    const char *f = positions ? "lmr_pos_learned_backward" : "lmr_embed_lookup_backward";
    int bad_index = positions ? LMR_EPOS : LMR_EINDEX;
    size_t rows = positions ? TABLE_LEN : VOCAB;
    double buffer[GOOD_COUNT];
    lmr_mat dY_nan = lmr_mat_of(good_with(buffer, 1, NAN), BATCH, WIDTH);
    struct outputs out;
    fill_sentinels(&out);
    expect_first(scatter_call(positions, &out, rows, 0,
                              lmr_mat_of(GOOD, BATCH + 1, WIDTH)),
                 LMR_EDIM, &out, named(f, "dY has n + 1 rows"));
    expect_first(scatter_call(positions, &out, rows, 0,
                              lmr_mat_of(GOOD, BATCH, WIDTH + 1)),
                 LMR_EDIM, &out, named(f, "dY has d + 1 columns"));
    expect_first(scatter_call(positions, &out, rows, (int64_t)rows, dY_nan),
                 bad_index, &out,
                 named(f, "a bad index and NaN in dY: the index first"));
    expect_first(scatter_call(positions, &out, rows, -1,
                              lmr_mat_of(GOOD, BATCH, 1)),
                 bad_index, &out,
                 named(f, "a bad index and dY's shape: the index first"));
    expect_first(scatter_call(positions, &out, 0, 0,
                              lmr_mat_of(NULL, BATCH, WIDTH)),
                 LMR_EDIM, &out,
                 named(f, "no table rows and dY NULL: the inputs' EDIM first"));
    out.slot[0] = NULL;
    expect_first(scatter_call(positions, &out, rows, 0,
                              lmr_mat_of(GOOD, BATCH - 1, WIDTH)),
                 LMR_EDIM, &out,
                 named(f, "dY's shape and the output NULL: dY first"));
    expect_first(scatter_call(positions, &out, rows, 0, dY_nan),
                 LMR_ENONFINITE, &out,
                 named(f, "NaN in dY and the output NULL: dY first"));
}

/* LayerNorm's backward on GOOD: x (BATCH, WIDTH), gamma (gamma_len), dY,
 * into dx (dx_cols wide), dgamma (WIDTH), dbeta (dbeta_len). */
struct layernorm_views {
    lmr_mat x, dY;
    lmr_vec gamma;
    size_t dx_cols, dbeta_len;
    double eps;
};

static struct layernorm_views layernorm_views_default(void)
{
    struct layernorm_views v = {lmr_mat_of(GOOD, BATCH, WIDTH),
                                lmr_mat_of(GOOD + 9, BATCH, WIDTH),
                                lmr_vec_of(GOOD + 5, WIDTH), WIDTH, WIDTH, 1e-5};
    return v;
}

static int layernorm_call(struct layernorm_views v, struct outputs *out)
{
    fresh(out);
    return lmr_layernorm_backward(lmr_mat_out_of(out->slot[0], BATCH, v.dx_cols),
                                  lmr_vec_out_of(out->slot[1], WIDTH),
                                  lmr_vec_out_of(out->slot[2], v.dbeta_len),
                                  v.x, v.gamma, v.dY, v.eps);
}

static void test_layernorm_backward_order(void)
{
    const char *f = "lmr_layernorm_backward";
    double buffer[GOOD_COUNT];
    struct outputs out;
    struct layernorm_views v = layernorm_views_default();
    fill_sentinels(&out);
    v.gamma.len = WIDTH + 1;
    expect_first(layernorm_call(v, &out), LMR_EDIM, &out,
                 named(f, "gamma of length d + 1"));
    v.eps = NAN;
    expect_first(layernorm_call(v, &out), LMR_EDIM, &out,
                 named(f, "gamma's length and eps NaN: EDIM first"));
    v = layernorm_views_default();
    v.dY.cols = WIDTH + 1;
    v.dY.rows = 1;
    expect_first(layernorm_call(v, &out), LMR_EDIM, &out, named(f, "dY is 1 x (d + 1)"));
    v = layernorm_views_default();
    v.dx_cols = WIDTH + 1;
    expect_first(layernorm_call(v, &out), LMR_EDIM, &out, named(f, "dx has d + 1 columns"));
    v = layernorm_views_default();
    v.dbeta_len = 1;
    expect_first(layernorm_call(v, &out), LMR_EDIM, &out, named(f, "dbeta of length 1"));
    v = layernorm_views_default();
    v.eps = 0.0;
    v.dY.data = good_with(buffer, 0, NAN);
    expect_first(layernorm_call(v, &out), LMR_EDOMAIN, &out,
                 named(f, "eps 0 and NaN in dY: eps first"));
    v.eps = 1e-5;
    v.dx_cols = 1;
    expect_first(layernorm_call(v, &out), LMR_ENONFINITE, &out,
                 named(f, "NaN in dY and dx's shape: dY first"));
    v = layernorm_views_default();
    v.dY.rows = BATCH - 1;
    out.slot[1] = NULL;
    expect_first(layernorm_call(v, &out), LMR_EDIM, &out,
                 named(f, "dY's shape and dgamma NULL: dY first"));
}

/* ---- lmr_head_tied_backward, lmr_head_untied_backward ----------------------------------- */

struct head_args {
    const double *h, *weight, *dU; /* (n,d); E (vocab,d) or W (d,vocab); (n,vocab) */
    size_t n, vocab, d;
    int tied;
};

static struct head_args head_defaults(int tied)
{
    struct head_args args = {GOOD, GOOD + 3, GOOD + 11, BATCH, VOCAB, WIDTH, tied};
    return args;
}

/* slots: 0 dh, 1 dE or dW, 2 db */
static int run_head(const void *context, struct outputs *out)
{
    const struct head_args *a = context;
    if (a->tied)
        return lmr_head_tied_backward(
            lmr_mat_out_of(out->slot[0], a->n, a->d),
            lmr_mat_out_of(out->slot[1], a->vocab, a->d),
            lmr_mat_of(a->h, a->n, a->d), lmr_mat_of(a->weight, a->vocab, a->d),
            lmr_mat_of(a->dU, a->n, a->vocab));
    return lmr_head_untied_backward(
        lmr_mat_out_of(out->slot[0], a->n, a->d),
        lmr_mat_out_of(out->slot[1], a->d, a->vocab),
        lmr_vec_out_of(out->slot[2], a->vocab), lmr_mat_of(a->h, a->n, a->d),
        lmr_mat_of(a->weight, a->d, a->vocab),
        lmr_mat_of(a->dU, a->n, a->vocab));
}

/* Two TAP lines: status is expected, and no buffer of out was written. */
static void rejected_untouched(int status, int expected,
                               const struct outputs *out, const char *what)
{
    expect_status(status, expected, what);
    tap_ok(untouched(out), "%s: output not written", what);
}

/* The tied or untied head's backward on views; db is ignored when tied. */
static int call_head_backward(int tied, lmr_mat_out dh, lmr_mat_out dweight,
                              lmr_vec_out db, lmr_mat h, lmr_mat weight,
                              lmr_mat dlogits)
{
    if (tied)
        return lmr_head_tied_backward(dh, dweight, h, weight, dlogits);
    return lmr_head_untied_backward(dh, dweight, db, h, weight, dlogits);
}

/* The weight's shape, (|V|,d) tied or (d,|V|) untied, with `extra` more
 * along d. */
static lmr_mat head_weight(int tied, const double *data, size_t extra)
{
    return tied ? lmr_mat_of(data, VOCAB, WIDTH + extra)
                : lmr_mat_of(data, WIDTH + extra, VOCAB);
}

/* The shapes the views carry, and two problems in one call: the first in
 * the order of spec/api.md#error-order wins. */
static void test_head_shapes_and_order(int tied)
{
    const char *f = tied ? "lmr_head_tied_backward" : "lmr_head_untied_backward";
    double weight_nan[GOOD_COUNT], upstream_nan[GOOD_COUNT], h_nan[GOOD_COUNT];
    struct outputs out;
    lmr_mat h = lmr_mat_of(GOOD, BATCH, WIDTH);
    lmr_mat weight = head_weight(tied, GOOD + 3, 0);
    lmr_mat dU = lmr_mat_of(GOOD + 11, BATCH, VOCAB);
    lmr_mat bad_weight = head_weight(tied, good_with(weight_nan, 3 + 7, NAN) + 3, 0);
    lmr_mat bad_dU = lmr_mat_of(good_with(upstream_nan, 11, INFINITY) + 11,
                                BATCH, VOCAB);
    lmr_mat bad_h = lmr_mat_of(good_with(h_nan, 0, NAN), BATCH, WIDTH);
    fill_sentinels(&out);
    lmr_mat_out dh = lmr_mat_out_of(out.slot[0], BATCH, WIDTH);
    lmr_mat_out dweight = tied ? lmr_mat_out_of(out.slot[1], VOCAB, WIDTH)
                               : lmr_mat_out_of(out.slot[1], WIDTH, VOCAB);
    lmr_mat_out dweight_wrong = tied ? lmr_mat_out_of(out.slot[1], VOCAB + 1, WIDTH)
                                     : lmr_mat_out_of(out.slot[1], WIDTH, VOCAB + 1);
    lmr_mat_out dh_wrong = lmr_mat_out_of(out.slot[0], BATCH, WIDTH + 1);
    lmr_vec_out db = lmr_vec_out_of(out.slot[2], VOCAB);

    rejected_untouched(call_head_backward(tied, dh, dweight, db, h,
                                          head_weight(tied, GOOD + 3, 1), dU),
                       LMR_EDIM, &out, named(f, "weight disagrees with h's d"));
    rejected_untouched(call_head_backward(tied, dh, dweight, db, h, weight,
                                          lmr_mat_of(GOOD + 11, BATCH, VOCAB - 1)),
                       LMR_EDIM, &out, named(f, "dlogits with |V| - 1 columns"));
    rejected_untouched(call_head_backward(tied, dh, dweight, db, h, weight,
                                          lmr_mat_of(GOOD + 11, BATCH - 1, VOCAB)),
                       LMR_EDIM, &out, named(f, "dlogits with n - 1 rows"));
    rejected_untouched(call_head_backward(tied, dh_wrong, dweight, db, h, weight,
                                          dU),
                       LMR_EDIM, &out, named(f, "dh not n x d"));
    rejected_untouched(call_head_backward(tied, dh, dweight_wrong, db, h, weight,
                                          dU),
                       LMR_EDIM, &out, named(f, "weight gradient of another shape"));
    rejected_untouched(call_head_backward(tied, dh, dweight, db, bad_h,
                                          head_weight(tied, GOOD + 3, 1), dU),
                       LMR_EDIM, &out,
                       named(f, "order: the weight's shape before NaN in h"));
    rejected_untouched(call_head_backward(tied, dh, dweight, db, h, bad_weight,
                                          lmr_mat_of(GOOD + 11, BATCH, VOCAB - 1)),
                       LMR_ENONFINITE, &out,
                       named(f, "order: NaN in the weight before dlogits' shape"));
    rejected_untouched(call_head_backward(tied, dh_wrong, dweight, db, h, weight,
                                          bad_dU),
                       LMR_ENONFINITE, &out,
                       named(f, "order: +inf in dlogits before dh's shape"));
    rejected_untouched(call_head_backward(tied, lmr_mat_out_of(NULL, BATCH, WIDTH),
                                          dweight, db, h, weight,
                                          lmr_mat_of(GOOD + 11, BATCH + 1, VOCAB)),
                       LMR_EDIM, &out,
                       named(f, "order: dlogits' shape before dh NULL"));
    if (tied)
        return;
    rejected_untouched(call_head_backward(tied, dh, dweight,
                                          lmr_vec_out_of(out.slot[2], VOCAB - 1),
                                          h, weight, dU),
                       LMR_EDIM, &out, named(f, "db of |V| - 1 entries"));
    struct outputs without;
    fill_sentinels(&without);
    int with_db = call_head_backward(tied, dh, dweight, db, h, weight, dU);
    int no_db = call_head_backward(
        tied, lmr_mat_out_of(without.slot[0], BATCH, WIDTH),
        lmr_mat_out_of(without.slot[1], WIDTH, VOCAB), lmr_vec_out_of(NULL, 0), h,
        weight, dU);
    tap_ok(with_db == LMR_OK && no_db == LMR_OK &&
           same_values(out.buffer[0], without.buffer[0], BATCH * WIDTH) &&
           same_values(out.buffer[1], without.buffer[1], WIDTH * VOCAB) &&
           without.buffer[2][0] == SENTINEL,
           "%s: db may be the empty view; dh and dW are the same", f);
}

static void test_head_errors(int tied)
{
    const char *f = tied ? "lmr_head_tied_backward" : "lmr_head_untied_backward";
    double buffer[GOOD_COUNT];
    struct head_args a = head_defaults(tied);
    accepts(run_head, &a, named(f, "valid call"));
    rejects_with_null(run_head, &a, 0, LMR_EINVAL, named(f, "dh NULL, n > 0"));
    rejects_with_null(run_head, &a, 1, LMR_EINVAL, named(f, "weight gradient NULL"));
    if (!tied)
        rejects_with_null(run_head, &a, 2, LMR_EINVAL, named(f, "db NULL"));
    a.weight = NULL;
    rejects(run_head, &a, LMR_EINVAL, named(f, "weight NULL"));
    a = head_defaults(tied);
    a.h = NULL;
    rejects(run_head, &a, LMR_EINVAL, named(f, "h NULL, n > 0"));
    a = head_defaults(tied);
    a.dU = NULL;
    rejects(run_head, &a, LMR_EINVAL, named(f, "dlogits NULL, n > 0"));
    a = head_defaults(tied);
    a.vocab = 0;
    rejects(run_head, &a, LMR_EDIM, named(f, "|V| = 0"));
    a = head_defaults(tied);
    a.d = 0;
    rejects(run_head, &a, LMR_EDIM, named(f, "d = 0"));
    a = head_defaults(tied);
    a.h = good_with(buffer, BATCH * WIDTH - 1, NAN);
    rejects(run_head, &a, LMR_ENONFINITE, named(f, "NaN in h"));
    a = head_defaults(tied);
    a.weight = good_with(buffer, 3 + VOCAB * WIDTH - 1, INFINITY);
    a.weight += 3;
    rejects(run_head, &a, LMR_ENONFINITE, named(f, "+inf in the last weight entry"));
    a.n = 0;
    rejects(run_head, &a, LMR_ENONFINITE, named(f, "+inf in the weight with n = 0"));
    a = head_defaults(tied);
    a.dU = good_with(buffer, 11 + BATCH * VOCAB - 1, NAN);
    a.dU += 11;
    rejects(run_head, &a, LMR_ENONFINITE, named(f, "NaN in the last entry of dlogits"));
    a.dU = good_with(buffer, 0, -INFINITY);
    rejects(run_head, &a, LMR_ENONFINITE, named(f, "-inf in dlogits"));
    a = head_defaults(tied);
    a.h = a.weight = a.dU = TRIPWIRE_VALUES;
    a.n = HUGE_SIZE;
    a.vocab = 1;
    rejects(run_head, &a, LMR_EOVERFLOW, named(f, "n*d overflows"));
    a.n = LARGE_SIZE;
    a.vocab = 3;
    a.d = 1;
    rejects(run_head, &a, LMR_EOVERFLOW, named(f, "only n*|V| overflows"));
    a.n = 1;
    a.vocab = LARGE_SIZE;
    a.d = 3;
    rejects(run_head, &a, LMR_EOVERFLOW, named(f, "only |V|*d overflows"));
    struct outputs out;
    fill_sentinels(&out);
    a = head_defaults(tied);
    a.n = 0;
    a.h = a.dU = NULL;
    expect_status(run_head(&a, &out), LMR_OK, named(f, "n = 0, NULL h and dlogits"));
    tap_ok(all_zero(out.buffer[1], VOCAB * WIDTH) && out.buffer[0][0] == SENTINEL,
           "%s: n = 0 gives a zero weight gradient", f);
    test_head_shapes_and_order(tied);
}

/* ---- lmr_softmax_backward, lmr_log_softmax_backward --------------------------------------- */

/* logits: (BATCH, VOCAB), entry 1 masked */
static const double MASKED_LOGITS[BATCH * VOCAB] = {
    1.0, -INFINITY, 0.5, 2.0,
    2.0, 2.0, -1.0, 0.0,
    0.25, 3.0, -2.0, 1.5};

/* dlogprobs: (BATCH, VOCAB), 0 at the masked entry */
static const double MASKED_UPSTREAM[BATCH * VOCAB] = {
    0.5, 0.0, -1.0, 0.25,
    1.0, -0.5, 0.75, 2.0,
    -1.5, 0.125, 1.0, -0.25};

struct softmax_args {
    const double *logits, *dY; /* (n,vocab) each */
    size_t n, vocab;
    double tau;
    int log_form;
};

static struct softmax_args softmax_defaults(int log_form)
{
    struct softmax_args args = {MASKED_LOGITS, MASKED_UPSTREAM, BATCH, VOCAB,
                                0.75, log_form};
    return args;
}

/* slots: 0 dlogits, 1 dtau */
static int run_softmax(const void *context, struct outputs *out)
{
    const struct softmax_args *a = context;
    if (a->log_form)
        return lmr_log_softmax_backward(
            lmr_mat_out_of(out->slot[0], a->n, a->vocab), out->slot[1],
            lmr_mat_of(a->logits, a->n, a->vocab),
            lmr_mat_of(a->dY, a->n, a->vocab), a->tau);
    return lmr_softmax_backward(lmr_mat_out_of(out->slot[0], a->n, a->vocab),
                                out->slot[1],
                                lmr_mat_of(a->logits, a->n, a->vocab),
                                lmr_mat_of(a->dY, a->n, a->vocab), a->tau);
}

/* The upstream gradient's and the output's shapes, and two problems in one
 * call (spec/api.md#error-order). */
static void test_softmax_shapes_and_order(int log_form)
{
    const char *f = log_form ? "lmr_log_softmax_backward" : "lmr_softmax_backward";
    double upstream[BATCH * VOCAB];
    struct outputs out;
    fill_sentinels(&out);
    lmr_mat logits = lmr_mat_of(MASKED_LOGITS, BATCH, VOCAB);
    lmr_mat dY = lmr_mat_of(MASKED_UPSTREAM, BATCH, VOCAB);
    lmr_mat dY_wide = lmr_mat_of(MASKED_UPSTREAM, BATCH - 1, VOCAB + 1);
    lmr_mat_out dlogits = lmr_mat_out_of(out.slot[0], BATCH, VOCAB);
    lmr_mat_out dlogits_wrong = lmr_mat_out_of(out.slot[0], BATCH, VOCAB - 1);
    double *dtau = out.slot[1];
    enum lmr_status (*op)(lmr_mat_out, double *, lmr_mat, lmr_mat, double) =
        log_form ? lmr_log_softmax_backward : lmr_softmax_backward;

    rejected_untouched(op(dlogits, dtau, logits, dY_wide, 1.0), LMR_EDIM, &out,
                       named(f, "upstream (n-1) x (|V|+1), as many entries"));
    rejected_untouched(op(dlogits, dtau, logits,
                          lmr_mat_of(MASKED_UPSTREAM, BATCH, VOCAB - 1), 1.0),
                       LMR_EDIM, &out, named(f, "upstream with |V| - 1 columns"));
    rejected_untouched(op(dlogits_wrong, dtau, logits, dY, 1.0), LMR_EDIM, &out,
                       named(f, "dlogits not n x |V|"));
    rejected_untouched(op(dlogits, dtau, logits, dY_wide, 0.0), LMR_EDOMAIN,
                       &out, named(f, "order: tau = 0 before the upstream's shape"));
    copy_with(upstream, MASKED_UPSTREAM, BATCH * VOCAB, BATCH * VOCAB - 1, NAN);
    rejected_untouched(op(dlogits_wrong, dtau, logits,
                          lmr_mat_of(upstream, BATCH, VOCAB), 1.0),
                       LMR_ENONFINITE, &out,
                       named(f, "order: NaN upstream before dlogits' shape"));
    rejected_untouched(op(dlogits, NULL, logits,
                          lmr_mat_of(upstream, BATCH, VOCAB), 1.0),
                       LMR_ENONFINITE, &out,
                       named(f, "order: NaN upstream before dtau NULL"));
    rejected_untouched(op(dlogits_wrong, NULL, logits, dY, 1.0), LMR_EINVAL,
                       &out, named(f, "order: dtau NULL before dlogits' shape"));
    if (!log_form)
        return;
    copy_with(upstream, MASKED_UPSTREAM, BATCH * VOCAB, 1, 0.5);
    rejected_untouched(op(dlogits_wrong, dtau, logits,
                          lmr_mat_of(upstream, BATCH, VOCAB), 1.0),
                       LMR_EDOMAIN, &out,
                       named(f, "order: upstream at a masked logit before "
                                "dlogits' shape"));
}

static void test_softmax_errors(int log_form)
{
    const char *f = log_form ? "lmr_log_softmax_backward" : "lmr_softmax_backward";
    double logits[BATCH * VOCAB], upstream[BATCH * VOCAB];
    struct softmax_args a = softmax_defaults(log_form);
    accepts(run_softmax, &a, named(f, "valid call"));
    rejects_with_null(run_softmax, &a, 0, LMR_EINVAL, named(f, "dlogits NULL"));
    rejects_with_null(run_softmax, &a, 1, LMR_EINVAL, named(f, "dtau NULL"));
    a.logits = NULL;
    rejects(run_softmax, &a, LMR_EINVAL, named(f, "logits NULL"));
    a = softmax_defaults(log_form);
    a.dY = NULL;
    rejects(run_softmax, &a, LMR_EINVAL, named(f, "upstream NULL"));
    a = softmax_defaults(log_form);
    a.vocab = 0;
    rejects(run_softmax, &a, LMR_EDIM, named(f, "|V| = 0"));
    a = softmax_defaults(log_form);
    a.tau = 0.0;
    rejects(run_softmax, &a, LMR_EDOMAIN, named(f, "tau = 0"));
    a.tau = -1.0;
    rejects(run_softmax, &a, LMR_EDOMAIN, named(f, "tau < 0"));
    a.tau = NAN;
    rejects(run_softmax, &a, LMR_ENONFINITE, named(f, "tau NaN"));
    a.tau = INFINITY;
    rejects(run_softmax, &a, LMR_ENONFINITE, named(f, "tau +inf"));
    a = softmax_defaults(log_form);
    a.logits = logits;
    copy_with(logits, MASKED_LOGITS, BATCH * VOCAB, BATCH * VOCAB - 1, INFINITY);
    rejects(run_softmax, &a, LMR_ENONFINITE, named(f, "+inf logit"));
    copy_with(logits, MASKED_LOGITS, BATCH * VOCAB, 5, NAN);
    rejects(run_softmax, &a, LMR_ENONFINITE, named(f, "NaN logit"));
    copy_with(logits, MASKED_LOGITS, BATCH * VOCAB, 0, -INFINITY);
    logits[2] = logits[3] = -INFINITY;
    rejects(run_softmax, &a, LMR_EDOMAIN, named(f, "a row of only -inf"));
    a = softmax_defaults(log_form);
    a.dY = upstream;
    copy_with(upstream, MASKED_UPSTREAM, BATCH * VOCAB, BATCH * VOCAB - 1, NAN);
    rejects(run_softmax, &a, LMR_ENONFINITE, named(f, "NaN in the last upstream entry"));
    copy_with(upstream, MASKED_UPSTREAM, BATCH * VOCAB, 1, INFINITY);
    rejects(run_softmax, &a, LMR_ENONFINITE, named(f, "+inf upstream at a masked entry"));
    copy_with(upstream, MASKED_UPSTREAM, BATCH * VOCAB, 1, 0.5);
    if (log_form)
        rejects(run_softmax, &a, LMR_EDOMAIN,
                named(f, "non-zero upstream at a masked entry"));
    else
        accepts(run_softmax, &a, named(f, "non-zero dprobs at a masked entry is valid"));
    a = softmax_defaults(log_form);
    a.logits = a.dY = TRIPWIRE_VALUES;
    a.n = HUGE_SIZE;
    a.vocab = 1;
    rejects(run_softmax, &a, LMR_EOVERFLOW, named(f, "n*|V| overflows"));
    a.n = LARGE_SIZE;
    a.vocab = 3;
    rejects(run_softmax, &a, LMR_EOVERFLOW,
            named(f, "n*|V| overflows (n = SIZE_MAX/16, |V| = 3)"));
    struct outputs out;
    fill_sentinels(&out);
    a = softmax_defaults(log_form);
    a.n = 0;
    a.logits = a.dY = NULL;
    expect_status(run_softmax(&a, &out), LMR_OK, named(f, "n = 0, NULL logits"));
    tap_ok(out.buffer[1][0] == 0.0 && out.buffer[0][0] == SENTINEL,
           "%s: n = 0 gives dtau = 0", f);
    test_softmax_shapes_and_order(log_form);
}

/* ---- lmr_cross_entropy_backward ------------------------------------------------------ */

struct cross_entropy_args {
    const double *logits;    /* (n,vocab) */
    const int64_t *targets;  /* (n) */
    const double *dloss;     /* (n) for NONE, else (1) */
    size_t n, vocab;
    enum lmr_reduction reduction;
    int64_t ignore_index;
};

static struct cross_entropy_args cross_entropy_defaults(enum lmr_reduction reduction)
{
    /* targets 2, ignored, 0: the masked entry 1 of row 0 is not a target */
    struct cross_entropy_args args = {MASKED_LOGITS, GOOD_TARGETS, GOOD + 1,
                                      BATCH, VOCAB, reduction, IGNORE};
    return args;
}

static int run_cross_entropy(const void *context, struct outputs *out)
{
    const struct cross_entropy_args *a = context;
    return lmr_cross_entropy_backward(
        lmr_mat_out_of(out->slot[0], a->n, a->vocab),
        lmr_mat_of(a->logits, a->n, a->vocab), lmr_ids_of(a->targets, a->n),
        lmr_vec_of(a->dloss, a->reduction == LMR_REDUCE_NONE ? a->n : 1),
        a->reduction, a->ignore_index);
}

/* The shapes of targets, dloss and dlogits, two problems in one call
 * (spec/api.md#error-order), and lmr_cross_entropy_weights's views. */
static void test_cross_entropy_shapes_and_order(void)
{
    const char *f = "lmr_cross_entropy_backward";
    double dloss_nan[BATCH], weights[BATCH + 1];
    int64_t targets_bad[BATCH] = {2, VOCAB, 0}; /* (BATCH), one out of range */
    int64_t targets_masked[BATCH] = {1, IGNORE, 0}; /* logit 1 of row 0 is -inf */
    size_t counted = 0;
    struct outputs out;
    fill_sentinels(&out);
    lmr_mat logits = lmr_mat_of(MASKED_LOGITS, BATCH, VOCAB);
    lmr_ids targets = lmr_ids_of(GOOD_TARGETS, BATCH);
    lmr_vec dloss_none = lmr_vec_of(GOOD + 1, BATCH), dloss_one = lmr_vec_of(GOOD + 1, 1);
    lmr_mat_out dlogits = lmr_mat_out_of(out.slot[0], BATCH, VOCAB);
    lmr_mat_out dlogits_wrong = lmr_mat_out_of(out.slot[0], VOCAB, BATCH);
    copy_with(dloss_nan, GOOD + 1, BATCH, BATCH - 1, NAN);

    rejected_untouched(lmr_cross_entropy_backward(dlogits, logits,
                                                  lmr_ids_of(GOOD_TARGETS, BATCH - 1),
                                                  dloss_one, LMR_REDUCE_SUM, IGNORE),
                       LMR_EDIM, &out, named(f, "targets of n - 1 entries"));
    rejected_untouched(lmr_cross_entropy_backward(dlogits, logits, targets,
                                                  lmr_vec_of(GOOD + 1, BATCH - 1),
                                                  LMR_REDUCE_NONE, IGNORE),
                       LMR_EDIM, &out, named(f, "none: dloss of n - 1 entries"));
    rejected_untouched(lmr_cross_entropy_backward(dlogits, logits, targets,
                                                  dloss_none, LMR_REDUCE_MEAN,
                                                  IGNORE),
                       LMR_EDIM, &out, named(f, "mean: dloss of n entries"));
    rejected_untouched(lmr_cross_entropy_backward(dlogits_wrong, logits, targets,
                                                  dloss_one, LMR_REDUCE_SUM, IGNORE),
                       LMR_EDIM, &out, named(f, "dlogits |V| x n"));
    rejected_untouched(lmr_cross_entropy_backward(dlogits, logits,
                                                  lmr_ids_of(targets_bad, BATCH),
                                                  dloss_none, LMR_REDUCE_SUM,
                                                  IGNORE),
                       LMR_EINDEX, &out,
                       named(f, "order: a target out of range before dloss's length"));
    rejected_untouched(lmr_cross_entropy_backward(dlogits_wrong, logits, targets,
                                                  lmr_vec_of(dloss_nan, BATCH),
                                                  LMR_REDUCE_NONE, IGNORE),
                       LMR_ENONFINITE, &out,
                       named(f, "order: NaN in dloss before dlogits' shape"));
    rejected_untouched(lmr_cross_entropy_backward(lmr_mat_out_of(NULL, BATCH, VOCAB),
                                                  logits,
                                                  lmr_ids_of(targets_masked, BATCH),
                                                  dloss_one, LMR_REDUCE_SUM, IGNORE),
                       LMR_EDOMAIN, &out,
                       named(f, "order: a counted target at a -inf logit before "
                                "dlogits NULL"));
    rejected_untouched(lmr_cross_entropy_backward(dlogits, logits,
                                                  lmr_ids_of(targets_masked, BATCH),
                                                  lmr_vec_of(dloss_nan + BATCH - 1, 1),
                                                  LMR_REDUCE_SUM, IGNORE),
                       LMR_ENONFINITE, &out,
                       named(f, "order: NaN in dloss before a counted target at "
                                "a -inf logit"));

    f = "lmr_cross_entropy_weights";
    expect_status(lmr_cross_entropy_weights(lmr_vec_out_of(weights, BATCH),
                                            &counted, targets, dloss_one,
                                            LMR_REDUCE_MEAN, IGNORE),
                  LMR_OK, named(f, "valid call"));
    tap_ok(counted == 2 && weights[1] == 0.0 && weights[0] == GOOD[1] / 2.0,
           "%s: mean over 2 counted rows, 0 for the ignored one", f);
    expect_status(lmr_cross_entropy_weights(lmr_vec_out_of(weights, BATCH + 1),
                                            &counted, targets, dloss_one,
                                            LMR_REDUCE_SUM, IGNORE),
                  LMR_EDIM, named(f, "weights of n + 1 entries"));
    expect_status(lmr_cross_entropy_weights(lmr_vec_out_of(weights, BATCH),
                                            &counted, targets, dloss_one,
                                            LMR_REDUCE_NONE, IGNORE),
                  LMR_EDIM, named(f, "none: dloss of 1 entry"));
    expect_status(lmr_cross_entropy_weights(lmr_vec_out_of(weights, BATCH),
                                            &counted, targets, dloss_none,
                                            (enum lmr_reduction)9, IGNORE),
                  LMR_EDOMAIN,
                  named(f, "order: an unknown reduction before dloss's length"));
    expect_status(lmr_cross_entropy_weights(lmr_vec_out_of(weights, BATCH), NULL,
                                            targets, lmr_vec_of(GOOD, 2),
                                            LMR_REDUCE_SUM, IGNORE),
                  LMR_EDIM, named(f, "order: dloss's length before counted NULL"));
}

static void test_cross_entropy_errors(void)
{
    const char *f = "lmr_cross_entropy_backward";
    double logits[BATCH * VOCAB], buffer[GOOD_COUNT];
    int64_t targets[BATCH];
    struct cross_entropy_args a = cross_entropy_defaults(LMR_REDUCE_NONE);
    accepts(run_cross_entropy, &a, named(f, "valid call (none)"));
    a.reduction = LMR_REDUCE_MEAN;
    accepts(run_cross_entropy, &a, named(f, "valid call (mean)"));
    rejects_with_null(run_cross_entropy, &a, 0, LMR_EINVAL, named(f, "dlogits NULL"));
    a.reduction = (enum lmr_reduction)7;
    rejects(run_cross_entropy, &a, LMR_EDOMAIN, named(f, "unknown reduction"));
    a = cross_entropy_defaults(LMR_REDUCE_SUM);
    a.dloss = NULL;
    rejects(run_cross_entropy, &a, LMR_EINVAL, named(f, "dloss NULL"));
    a = cross_entropy_defaults(LMR_REDUCE_SUM);
    a.targets = NULL;
    rejects(run_cross_entropy, &a, LMR_EINVAL, named(f, "targets NULL"));
    a = cross_entropy_defaults(LMR_REDUCE_SUM);
    a.vocab = 0;
    rejects(run_cross_entropy, &a, LMR_EDIM, named(f, "|V| = 0"));
    a = cross_entropy_defaults(LMR_REDUCE_SUM);
    a.ignore_index = 1;
    rejects(run_cross_entropy, &a, LMR_EDOMAIN, named(f, "ignore_index inside [0, |V|)"));
    a = cross_entropy_defaults(LMR_REDUCE_SUM);
    memcpy(targets, GOOD_TARGETS, sizeof targets);
    targets[BATCH - 1] = VOCAB;
    a.targets = targets;
    rejects(run_cross_entropy, &a, LMR_EINDEX, named(f, "target = |V|"));
    targets[BATCH - 1] = -1;
    rejects(run_cross_entropy, &a, LMR_EINDEX, named(f, "target -1, not ignore_index"));
    targets[BATCH - 1] = 0;
    targets[0] = 1; /* logit 1 of row 0 is masked */
    rejects(run_cross_entropy, &a, LMR_EDOMAIN, named(f, "counted target at a -inf logit"));
    targets[0] = IGNORE; /* row 0 and its masked entry are ignored */
    accepts(run_cross_entropy, &a, named(f, "a masked entry in an ignored row is valid"));
    a = cross_entropy_defaults(LMR_REDUCE_SUM);
    a.logits = logits;
    copy_with(logits, MASKED_LOGITS, BATCH * VOCAB, 6, INFINITY);
    rejects(run_cross_entropy, &a, LMR_ENONFINITE, named(f, "+inf logit"));
    a = cross_entropy_defaults(LMR_REDUCE_NONE);
    a.dloss = good_with(buffer, BATCH - 1, NAN);
    rejects(run_cross_entropy, &a, LMR_ENONFINITE, named(f, "NaN in the last dloss (none)"));
    a.reduction = LMR_REDUCE_MEAN;
    a.dloss = good_with(buffer, 0, INFINITY);
    rejects(run_cross_entropy, &a, LMR_ENONFINITE, named(f, "dloss +inf (mean)"));
    a = cross_entropy_defaults(LMR_REDUCE_NONE);
    a.logits = a.dloss = TRIPWIRE_VALUES;
    a.targets = TRIPWIRE_IDS;
    a.n = HUGE_SIZE;
    a.vocab = 1;
    rejects(run_cross_entropy, &a, LMR_EOVERFLOW, named(f, "n*|V| overflows"));
    a.n = LARGE_SIZE;
    a.vocab = 3;
    rejects(run_cross_entropy, &a, LMR_EOVERFLOW,
            named(f, "n*|V| overflows (n = SIZE_MAX/16, |V| = 3)"));
    struct outputs out;
    fill_sentinels(&out);
    a = cross_entropy_defaults(LMR_REDUCE_NONE);
    a.n = 0;
    a.logits = a.dloss = NULL;
    a.targets = NULL;
    expect_status(run_cross_entropy(&a, &out), LMR_OK,
                  named(f, "n = 0 (none), every array NULL"));
    tap_ok(untouched(&out), "%s: n = 0 writes nothing", f);
    test_cross_entropy_shapes_and_order();
}

/* ---- lmr_head_partial_backward ------------------------------------------------------- */

struct partial_args {
    const double *h, *E, *F, *dU; /* (n,d) (vocab,d) (d,vocab-k) (n,vocab) */
    size_t n, vocab, d, k;
};

static struct partial_args partial_defaults(void)
{
    struct partial_args args = {GOOD, GOOD + 7, GOOD + 17, GOOD + 23,
                                BATCH, VOCAB, WIDTH, 2};
    return args;
}

/* slots: 0 dh, 1 dE, 2 dF */
static int run_partial(const void *context, struct outputs *out)
{
    const struct partial_args *a = context;
    size_t free_cols = a->k <= a->vocab ? a->vocab - a->k : 0; /* F's width */
    return lmr_head_partial_backward(
        lmr_mat_out_of(out->slot[0], a->n, a->d),
        lmr_mat_out_of(out->slot[1], a->vocab, a->d),
        lmr_mat_out_of(out->slot[2], a->d, free_cols), lmr_mat_of(a->h, a->n, a->d),
        lmr_mat_of(a->E, a->vocab, a->d), lmr_mat_of(a->F, a->d, free_cols),
        lmr_mat_of(a->dU, a->n, a->vocab), (int64_t)a->k);
}

static void test_partial_errors(void)
{
    const char *f = "lmr_head_partial_backward";
    double buffer[GOOD_COUNT];
    struct partial_args a = partial_defaults();
    accepts(run_partial, &a, named(f, "valid call"));
    rejects_with_null(run_partial, &a, 1, LMR_EINVAL, named(f, "dE NULL"));
    rejects_with_null(run_partial, &a, 2, LMR_EINVAL, named(f, "dF NULL, k < |V|"));
    a.F = NULL;
    rejects(run_partial, &a, LMR_EINVAL, named(f, "F NULL, k < |V|"));
    a.k = VOCAB;
    struct outputs out;
    fill_sentinels(&out);
    out.slot[2] = NULL;
    expect_status(run_partial(&a, &out), LMR_OK, named(f, "F and dF NULL with k = |V|"));
    a = partial_defaults();
    a.k = VOCAB + 1;
    rejects(run_partial, &a, LMR_EDOMAIN, named(f, "k > |V|"));
    a = partial_defaults();
    a.d = 0;
    rejects(run_partial, &a, LMR_EDIM, named(f, "d = 0"));
    a = partial_defaults();
    a.E = good_with(buffer, 7 + VOCAB * WIDTH - 1, NAN) + 7;
    rejects(run_partial, &a, LMR_ENONFINITE, named(f, "NaN in a row of E past k"));
    a = partial_defaults();
    a.F = good_with(buffer, 17, INFINITY) + 17;
    rejects(run_partial, &a, LMR_ENONFINITE, named(f, "+inf in F"));
    a = partial_defaults();
    a.h = good_with(buffer, 1, NAN);
    rejects(run_partial, &a, LMR_ENONFINITE, named(f, "NaN in h"));
    a = partial_defaults();
    a.dU = good_with(buffer, 23 + BATCH * VOCAB - 1, NAN) + 23;
    rejects(run_partial, &a, LMR_ENONFINITE, named(f, "NaN in the last dlogits entry (free part)"));
    a.dU = good_with(buffer, 23, -INFINITY) + 23;
    rejects(run_partial, &a, LMR_ENONFINITE, named(f, "-inf in dlogits (tied part)"));
    a = partial_defaults();
    a.h = a.E = a.F = a.dU = TRIPWIRE_VALUES;
    a.n = HUGE_SIZE;
    rejects(run_partial, &a, LMR_EOVERFLOW, named(f, "n*d overflows"));
    a.n = 1;
    a.vocab = HUGE_SIZE;
    rejects(run_partial, &a, LMR_EOVERFLOW, named(f, "|V|*d overflows"));
}

/* ---- lmr_head_transformed_backward, lmr_head_adaptive_backward ---------------------------- */

struct transformed_args {
    const double *h, *T, *E, *F, *dU; /* (n,d) (d,d) (vocab,d) (d,vocab) (n,vocab) */
    size_t n, vocab, d;
    double alpha;
    int adaptive;
};

static struct transformed_args transformed_defaults(int adaptive)
{
    struct transformed_args args = {GOOD, GOOD + 5, GOOD + 13, GOOD + 29,
                                    GOOD + 37, BATCH, VOCAB, WIDTH, 0.25, adaptive};
    return args;
}

/* slots: transformed 0 dh, 1 dT, 2 dE; adaptive 0 dh, 1 dE, 2 dF, 3 dalpha */
static int run_transformed(const void *context, struct outputs *out)
{
    const struct transformed_args *a = context;
    lmr_mat h = lmr_mat_of(a->h, a->n, a->d), E = lmr_mat_of(a->E, a->vocab, a->d);
    lmr_mat dU = lmr_mat_of(a->dU, a->n, a->vocab);
    if (a->adaptive) {
        lmr_head_adaptive_grads grads = {
            lmr_mat_out_of(out->slot[0], a->n, a->d),
            lmr_mat_out_of(out->slot[1], a->vocab, a->d),
            lmr_mat_out_of(out->slot[2], a->d, a->vocab), out->slot[3]};
        return lmr_head_adaptive_backward(&grads, h, E,
                                          lmr_mat_of(a->F, a->d, a->vocab), dU,
                                          a->alpha);
    }
    return lmr_head_transformed_backward(
        lmr_mat_out_of(out->slot[0], a->n, a->d),
        lmr_mat_out_of(out->slot[1], a->d, a->d),
        lmr_mat_out_of(out->slot[2], a->vocab, a->d), h,
        lmr_mat_of(a->T, a->d, a->d), E, dU);
}

static void test_transformed_errors(int adaptive)
{
    const char *f = adaptive ? "lmr_head_adaptive_backward"
                             : "lmr_head_transformed_backward";
    double buffer[GOOD_COUNT];
    struct transformed_args a = transformed_defaults(adaptive);
    accepts(run_transformed, &a, named(f, "valid call"));
    for (int slot = 0; slot < (adaptive ? 4 : 3); slot++) {
        char what[64];
        snprintf(what, sizeof what, "output %d NULL", slot);
        rejects_with_null(run_transformed, &a, slot, LMR_EINVAL, named(f, what));
    }
    if (adaptive) {
        a.F = NULL;
        rejects(run_transformed, &a, LMR_EINVAL, named(f, "F NULL"));
        a = transformed_defaults(adaptive);
        a.alpha = NAN;
        rejects(run_transformed, &a, LMR_ENONFINITE, named(f, "alpha NaN"));
        a.alpha = 1.5;
        rejects(run_transformed, &a, LMR_EDOMAIN, named(f, "alpha > 1"));
        a.alpha = -0.25;
        rejects(run_transformed, &a, LMR_EDOMAIN, named(f, "alpha < 0"));
        a = transformed_defaults(adaptive);
        a.F = good_with(buffer, 29 + WIDTH * VOCAB - 1, NAN) + 29;
        rejects(run_transformed, &a, LMR_ENONFINITE, named(f, "NaN in F"));
    } else {
        a.T = NULL;
        rejects(run_transformed, &a, LMR_EINVAL, named(f, "T NULL"));
        a = transformed_defaults(adaptive);
        a.T = good_with(buffer, 5 + WIDTH * WIDTH - 1, INFINITY) + 5;
        rejects(run_transformed, &a, LMR_ENONFINITE, named(f, "+inf in T"));
    }
    a = transformed_defaults(adaptive);
    a.E = NULL;
    rejects(run_transformed, &a, LMR_EINVAL, named(f, "E NULL"));
    a = transformed_defaults(adaptive);
    a.vocab = 0;
    rejects(run_transformed, &a, LMR_EDIM, named(f, "|V| = 0"));
    a = transformed_defaults(adaptive);
    a.d = 0;
    rejects(run_transformed, &a, LMR_EDIM, named(f, "d = 0"));
    a = transformed_defaults(adaptive);
    a.E = good_with(buffer, 13 + VOCAB * WIDTH - 1, NAN) + 13;
    rejects(run_transformed, &a, LMR_ENONFINITE, named(f, "NaN in the last row of E"));
    a = transformed_defaults(adaptive);
    a.dU = good_with(buffer, 37 + BATCH * VOCAB - 1, NAN) + 37;
    rejects(run_transformed, &a, LMR_ENONFINITE, named(f, "NaN in the last dlogits entry"));
    a = transformed_defaults(adaptive);
    a.h = a.T = a.E = a.F = a.dU = TRIPWIRE_VALUES;
    a.n = HUGE_SIZE;
    rejects(run_transformed, &a, LMR_EOVERFLOW, named(f, "n*d overflows"));
    if (!adaptive) { /* d = 2^(bits/2): only d*d overflows */
        a.n = 1;
        a.d = (size_t)1 << (sizeof(size_t) * 4);
        rejects(run_transformed, &a, LMR_EOVERFLOW, named(f, "only d*d overflows"));
    }
}

/* ---- lmr_head_mlp_backward ------------------------------------------------------------ */

struct mlp_args {
    const double *h, *W1, *b1, *W2, *E, *b2, *dU; /* shapes as lmr_head_mlp */
    size_t n, vocab, d, m;
};

/* untied form with biases; m = d = WIDTH */
static struct mlp_args mlp_defaults(int tied)
{
    struct mlp_args args = {GOOD, GOOD + 3, GOOD + 9, tied ? NULL : GOOD + 12,
                            GOOD + 21, GOOD + 30, GOOD + 35,
                            BATCH, VOCAB, WIDTH, WIDTH};
    return args;
}

/* slots: 0 dh, 1 dW1, 2 db1, 3 dW2, 4 dE, 5 db2. W2 NULL: the tied form
 * (W2 the empty view); a bias NULL: absent. */
static int run_mlp(const void *context, struct outputs *out)
{
    const struct mlp_args *a = context;
    size_t n = a->n, vocab = a->vocab, d = a->d, m = a->m;
    lmr_head_mlp_weights w = {
        lmr_mat_of(a->W1, d, m),
        a->b1 ? lmr_vec_of(a->b1, m) : lmr_vec_absent(),
        a->W2 ? lmr_mat_of(a->W2, m, vocab) : lmr_mat_of(NULL, 0, 0),
        lmr_mat_of(a->E, vocab, d),
        a->b2 ? lmr_vec_of(a->b2, vocab) : lmr_vec_absent()};
    lmr_head_mlp_grads grads = {
        lmr_mat_out_of(out->slot[0], n, d), lmr_mat_out_of(out->slot[1], d, m),
        lmr_vec_out_of(out->slot[2], m), lmr_mat_out_of(out->slot[3], m, vocab),
        lmr_mat_out_of(out->slot[4], vocab, d), lmr_vec_out_of(out->slot[5], vocab)};
    return lmr_head_mlp_backward(&grads, lmr_mat_of(a->h, n, d), &w,
                                 lmr_mat_of(a->dU, n, vocab));
}

static void test_mlp_errors(void)
{
    const char *f = "lmr_head_mlp_backward";
    double buffer[GOOD_COUNT];
    struct mlp_args a = mlp_defaults(0);
    accepts(run_mlp, &a, named(f, "valid call (untied)"));
    rejects_with_null(run_mlp, &a, 3, LMR_EINVAL, named(f, "dW2 NULL, untied"));
    rejects_with_null(run_mlp, &a, 2, LMR_EINVAL, named(f, "db1 NULL"));
    rejects_with_null(run_mlp, &a, 5, LMR_EINVAL, named(f, "db2 NULL"));
    struct outputs out;
    fill_sentinels(&out);
    out.slot[4] = NULL;
    expect_status(run_mlp(&a, &out), LMR_OK, named(f, "dE NULL, untied"));
    a = mlp_defaults(1);
    accepts(run_mlp, &a, named(f, "valid call (tied)"));
    rejects_with_null(run_mlp, &a, 4, LMR_EINVAL, named(f, "dE NULL, tied"));
    a.E = NULL;
    rejects(run_mlp, &a, LMR_EINVAL, named(f, "W2 and E NULL"));
    a = mlp_defaults(1);
    a.m = WIDTH + 1;
    rejects(run_mlp, &a, LMR_EDIM, named(f, "tied with m != d"));
    a = mlp_defaults(0);
    a.m = 0;
    rejects(run_mlp, &a, LMR_EDIM, named(f, "m = 0"));
    a = mlp_defaults(0);
    a.W1 = NULL;
    rejects(run_mlp, &a, LMR_EINVAL, named(f, "W1 NULL"));
    a = mlp_defaults(0);
    a.b1 = good_with(buffer, 9 + WIDTH - 1, NAN) + 9;
    rejects(run_mlp, &a, LMR_ENONFINITE, named(f, "NaN in b1"));
    a = mlp_defaults(0);
    a.b2 = good_with(buffer, 30 + VOCAB - 1, INFINITY) + 30;
    rejects(run_mlp, &a, LMR_ENONFINITE, named(f, "+inf in b2 (untied)"));
    a.W2 = NULL;
    rejects(run_mlp, &a, LMR_ENONFINITE, named(f, "+inf in b2 (tied)"));
    a = mlp_defaults(0);
    a.W2 = good_with(buffer, 12 + WIDTH * VOCAB - 1, NAN) + 12;
    rejects(run_mlp, &a, LMR_ENONFINITE, named(f, "NaN in W2"));
    a = mlp_defaults(1);
    a.E = good_with(buffer, 21 + VOCAB * WIDTH - 1, NAN) + 21;
    rejects(run_mlp, &a, LMR_ENONFINITE, named(f, "NaN in E (tied)"));
    a = mlp_defaults(0);
    a.dU = good_with(buffer, 35 + BATCH * VOCAB - 1, NAN) + 35;
    rejects(run_mlp, &a, LMR_ENONFINITE, named(f, "NaN in the last dlogits entry"));
    a = mlp_defaults(0);
    a.h = a.W1 = a.b1 = a.W2 = a.b2 = a.dU = TRIPWIRE_VALUES;
    a.n = HUGE_SIZE;
    rejects(run_mlp, &a, LMR_EOVERFLOW, named(f, "n*d overflows"));
    a.n = 1;
    a.m = HUGE_SIZE;
    rejects(run_mlp, &a, LMR_EOVERFLOW, named(f, "m overflows (n*m, d*m)"));
}

/* ---- lmr_mos_fixed_backward --------------------------------------------------------- */

static const double GOOD_WEIGHTS[MIXTURES] = {0.25, 0.75};

struct fixed_args {
    const double *h, *W, *alpha, *G; /* (n,d) (K,d,vocab) (K) (n,vocab) */
    size_t n, vocab, d, K;
};

static struct fixed_args fixed_defaults(void)
{
    struct fixed_args args = {GOOD, GOOD + 6, GOOD_WEIGHTS, GOOD + 40,
                              BATCH, VOCAB, WIDTH, MIXTURES};
    return args;
}

/* slots: 0 dh, 1 dW, 2 dalpha */
static int run_fixed(const void *context, struct outputs *out)
{
    const struct fixed_args *a = context;
    return lmr_mos_fixed_backward(
        lmr_mat_out_of(out->slot[0], a->n, a->d),
        lmr_stack_out_of(out->slot[1], a->K, a->d, a->vocab),
        lmr_vec_out_of(out->slot[2], a->K), lmr_mat_of(a->h, a->n, a->d),
        lmr_stack_of(a->W, a->K, a->d, a->vocab), lmr_vec_of(a->alpha, a->K),
        lmr_mat_of(a->G, a->n, a->vocab));
}

static void test_fixed_errors(void)
{
    const char *f = "lmr_mos_fixed_backward";
    double buffer[GOOD_COUNT], weights[MIXTURES];
    struct fixed_args a = fixed_defaults();
    accepts(run_fixed, &a, named(f, "valid call"));
    rejects_with_null(run_fixed, &a, 0, LMR_EINVAL, named(f, "dh NULL"));
    rejects_with_null(run_fixed, &a, 1, LMR_EINVAL, named(f, "dW NULL"));
    rejects_with_null(run_fixed, &a, 2, LMR_EINVAL, named(f, "dalpha NULL"));
    a.alpha = NULL;
    rejects(run_fixed, &a, LMR_EINVAL, named(f, "alpha NULL"));
    a = fixed_defaults();
    a.K = 0;
    rejects(run_fixed, &a, LMR_EDIM, named(f, "K = 0"));
    a = fixed_defaults();
    a.alpha = weights;
    weights[0] = -0.25;
    weights[1] = 1.0;
    rejects(run_fixed, &a, LMR_EDOMAIN, named(f, "a negative weight"));
    weights[0] = weights[1] = 0.0;
    rejects(run_fixed, &a, LMR_EDOMAIN, named(f, "all weights zero"));
    weights[1] = NAN;
    rejects(run_fixed, &a, LMR_ENONFINITE, named(f, "a NaN weight"));
    a = fixed_defaults();
    a.W = good_with(buffer, 6 + MIXTURES * WIDTH * VOCAB - 1, INFINITY) + 6;
    rejects(run_fixed, &a, LMR_ENONFINITE, named(f, "+inf in the last component's W"));
    a = fixed_defaults();
    a.G = good_with(buffer, 40 + BATCH * VOCAB - 1, NAN) + 40;
    rejects(run_fixed, &a, LMR_ENONFINITE, named(f, "NaN in the last dlogprobs entry"));
    a = fixed_defaults();
    a.h = a.W = a.alpha = a.G = TRIPWIRE_VALUES;
    a.K = HUGE_SIZE;
    rejects(run_fixed, &a, LMR_EOVERFLOW, named(f, "K*d*|V| overflows"));
    a.K = LARGE_SIZE / 2; /* K*d*8 fits; K*d*|V|*8 = 5/4 SIZE_MAX does not */
    a.d = 1;
    a.vocab = 5;
    rejects(run_fixed, &a, LMR_EOVERFLOW, named(f, "only K*d*|V| overflows (K = SIZE_MAX/32, |V| = 5)"));
}

/* ---- lmr_mos_gated_backward ---------------------------------------------------------- */

struct gated_args {
    const double *h, *W_pi, *W_comp, *b_comp; /* (n,d) (d,K) (K,d,d) (K,d) */
    const double *W_out, *E, *b_out, *G;      /* (d,vocab) (vocab,d) (vocab) (n,vocab) */
    size_t n, vocab, d, K;
    int null_grads; /* pass grads = NULL */
};

static struct gated_args gated_defaults(int tied)
{
    struct gated_args args = {GOOD, GOOD + 2, GOOD + 6, GOOD + 14,
                              tied ? NULL : GOOD + 18, GOOD + 26, GOOD + 34,
                              GOOD + 40, BATCH, VOCAB, WIDTH, MIXTURES, 0};
    return args;
}

/* The parameters of a as views: W_out NULL is the tied form. */
static lmr_mos_gated_params gated_view(const struct gated_args *a)
{
    size_t vocab = a->vocab, d = a->d, K = a->K;
    lmr_mos_gated_params p = {
        lmr_mat_of(a->W_pi, d, K), lmr_stack_of(a->W_comp, K, d, d),
        lmr_mat_of(a->b_comp, K, d),
        a->W_out ? lmr_mat_of(a->W_out, d, vocab) : lmr_mat_of(NULL, 0, 0),
        lmr_mat_of(a->E, vocab, d),
        a->b_out ? lmr_vec_of(a->b_out, vocab) : lmr_vec_absent()};
    return p;
}

/* slots: 0 dh, 1 dW_pi, 2 dW_comp, 3 db_comp, 4 dW_out, 5 dE, 6 db_out */
static int run_gated(const void *context, struct outputs *out)
{
    const struct gated_args *a = context;
    size_t n = a->n, vocab = a->vocab, d = a->d, K = a->K;
    lmr_mos_gated_grads grads = {
        lmr_mat_out_of(out->slot[0], n, d), lmr_mat_out_of(out->slot[1], d, K),
        lmr_stack_out_of(out->slot[2], K, d, d), lmr_mat_out_of(out->slot[3], K, d),
        lmr_mat_out_of(out->slot[4], d, vocab), lmr_mat_out_of(out->slot[5], vocab, d),
        lmr_vec_out_of(out->slot[6], vocab)};
    lmr_mos_gated_params p = gated_view(a);
    return lmr_mos_gated_backward(a->null_grads ? NULL : &grads,
                                  lmr_mat_of(a->h, n, d), &p,
                                  lmr_mat_of(a->G, n, vocab));
}

static void test_gated_errors(void)
{
    const char *f = "lmr_mos_gated_backward";
    double buffer[GOOD_COUNT];
    struct gated_args a = gated_defaults(0);
    accepts(run_gated, &a, named(f, "valid call (untied)"));
    a.null_grads = 1;
    rejects(run_gated, &a, LMR_EINVAL, named(f, "grads NULL"));
    a = gated_defaults(0);
    for (int slot = 0; slot < 7; slot++) {
        char what[64];
        if (slot == 5)
            continue; /* dE is not needed in the untied form */
        snprintf(what, sizeof what, "output %d NULL (untied)", slot);
        rejects_with_null(run_gated, &a, slot, LMR_EINVAL, named(f, what));
    }
    a = gated_defaults(1);
    accepts(run_gated, &a, named(f, "valid call (tied)"));
    rejects_with_null(run_gated, &a, 5, LMR_EINVAL, named(f, "dE NULL (tied)"));
    a.E = NULL;
    rejects(run_gated, &a, LMR_EINVAL, named(f, "W_out and E NULL"));
    a = gated_defaults(0);
    a.b_comp = NULL;
    rejects(run_gated, &a, LMR_EINVAL, named(f, "b_comp NULL"));
    a = gated_defaults(0);
    a.K = 0;
    rejects(run_gated, &a, LMR_EDIM, named(f, "K = 0"));
    a = gated_defaults(0);
    a.W_comp = good_with(buffer, 6 + MIXTURES * WIDTH * WIDTH - 1, NAN) + 6;
    rejects(run_gated, &a, LMR_ENONFINITE, named(f, "NaN in the last W_comp"));
    a = gated_defaults(0);
    a.W_pi = good_with(buffer, 2, INFINITY) + 2;
    rejects(run_gated, &a, LMR_ENONFINITE, named(f, "+inf in W_pi"));
    a = gated_defaults(1);
    a.b_out = good_with(buffer, 34 + VOCAB - 1, NAN) + 34;
    rejects(run_gated, &a, LMR_ENONFINITE, named(f, "NaN in b_out (tied)"));
    a = gated_defaults(0);
    a.G = good_with(buffer, 40 + BATCH * VOCAB - 1, -INFINITY) + 40;
    rejects(run_gated, &a, LMR_ENONFINITE, named(f, "-inf in the last dlogprobs entry"));
    a = gated_defaults(0);
    a.h = a.W_pi = a.W_comp = a.b_comp = a.W_out = a.b_out = a.G = TRIPWIRE_VALUES;
    a.n = HUGE_SIZE;
    rejects(run_gated, &a, LMR_EOVERFLOW, named(f, "n*d overflows"));
    a.n = 1;
    a.K = HUGE_SIZE;
    rejects(run_gated, &a, LMR_EOVERFLOW, named(f, "K overflows (n*K, K*d*d)"));
}

/* ---- lmr_soft_tie_loss_backward --------------------------------------------------- */

struct soft_tie_args {
    const double *h, *E, *W;  /* (n,d) (vocab,d) (d,vocab) */
    const int64_t *targets;   /* (n) */
    size_t n, vocab, d;
    double lambda, dloss;
    enum lmr_reduction reduction;
};

static struct soft_tie_args soft_tie_defaults(void)
{
    struct soft_tie_args args = {GOOD, GOOD + 6, GOOD + 14, GOOD_TARGETS,
                                 BATCH, VOCAB, WIDTH, 0.5, 1.0, LMR_REDUCE_MEAN};
    return args;
}

/* slots: 0 dh, 1 dE, 2 dW */
static int run_soft_tie(const void *context, struct outputs *out)
{
    const struct soft_tie_args *a = context;
    size_t n = a->n, vocab = a->vocab, d = a->d;
    lmr_soft_tie_grads grads = {lmr_mat_out_of(out->slot[0], n, d),
                                lmr_mat_out_of(out->slot[1], vocab, d),
                                lmr_mat_out_of(out->slot[2], d, vocab)};
    lmr_soft_tie_weights w = {lmr_mat_of(a->E, vocab, d), lmr_mat_of(a->W, d, vocab)};
    return lmr_soft_tie_loss_backward(&grads, lmr_mat_of(a->h, n, d), &w,
                                      lmr_ids_of(a->targets, n),
                                      lmr_vec_of(&a->dloss, 1), a->lambda,
                                      a->reduction, IGNORE);
}

static void test_soft_tie_errors(void)
{
    const char *f = "lmr_soft_tie_loss_backward";
    double buffer[GOOD_COUNT];
    int64_t targets[BATCH];
    struct soft_tie_args a = soft_tie_defaults();
    accepts(run_soft_tie, &a, named(f, "valid call"));
    for (int slot = 0; slot < 3; slot++) {
        char what[64];
        snprintf(what, sizeof what, "output %d NULL", slot);
        rejects_with_null(run_soft_tie, &a, slot, LMR_EINVAL, named(f, what));
    }
    a.W = NULL;
    rejects(run_soft_tie, &a, LMR_EINVAL, named(f, "W NULL"));
    a = soft_tie_defaults();
    a.reduction = LMR_REDUCE_NONE;
    rejects(run_soft_tie, &a, LMR_EDOMAIN, named(f, "reduction none"));
    a = soft_tie_defaults();
    a.lambda = -0.5;
    rejects(run_soft_tie, &a, LMR_EDOMAIN, named(f, "lambda < 0"));
    a.lambda = NAN;
    rejects(run_soft_tie, &a, LMR_ENONFINITE, named(f, "lambda NaN"));
    a = soft_tie_defaults();
    a.dloss = NAN;
    rejects(run_soft_tie, &a, LMR_ENONFINITE, named(f, "dloss NaN"));
    a.dloss = -INFINITY;
    rejects(run_soft_tie, &a, LMR_ENONFINITE, named(f, "dloss -inf"));
    a = soft_tie_defaults();
    memcpy(targets, GOOD_TARGETS, sizeof targets);
    targets[BATCH - 1] = VOCAB;
    a.targets = targets;
    rejects(run_soft_tie, &a, LMR_EINDEX, named(f, "target = |V|"));
    a = soft_tie_defaults();
    a.E = good_with(buffer, 6 + VOCAB * WIDTH - 1, NAN) + 6;
    rejects(run_soft_tie, &a, LMR_ENONFINITE, named(f, "NaN in the last row of E"));
    a = soft_tie_defaults();
    a.vocab = 0;
    rejects(run_soft_tie, &a, LMR_EDIM, named(f, "|V| = 0"));
    a = soft_tie_defaults();
    a.h = a.E = a.W = TRIPWIRE_VALUES;
    a.targets = TRIPWIRE_IDS;
    a.n = HUGE_SIZE;
    rejects(run_soft_tie, &a, LMR_EOVERFLOW, named(f, "n*d overflows"));
    a.n = 1;
    a.vocab = HUGE_SIZE;
    rejects(run_soft_tie, &a, LMR_EOVERFLOW, named(f, "|V|*d overflows"));
}

/* ---- lmr_tied_lm -------------------------------------------------------------------- */

struct tied_lm_args {
    const int64_t *ids, *targets;              /* (n) (targets_len) */
    const double *E, *P, *gamma, *beta, *M;    /* NULL gamma, beta, M: absent */
    size_t n, vocab, d, max_len;
    double eps;
    enum lmr_reduction reduction;
    int64_t ignore_index;
    size_t targets_len, p_width, gamma_len, beta_len, m_rows, m_cols;
    int null_out, null_model; /* pass out = NULL, model = NULL */
    enum lmr_middle middle;
};

/* With LayerNorm and M; P has TABLE_LEN rows for BATCH positions. */
static struct tied_lm_args tied_lm_defaults(void)
{
    struct tied_lm_args args = {
        GOOD_IDS, GOOD_TARGETS, GOOD, GOOD + 8, GOOD + 16, GOOD + 18,
        GOOD + 20, BATCH, VOCAB, WIDTH, TABLE_LEN, 1e-5, LMR_REDUCE_MEAN,
        IGNORE, BATCH, WIDTH, WIDTH, WIDTH, WIDTH, WIDTH, 0, 0,
        LMR_MIDDLE_MATRIX};
    return args;
}

/* The model's views of a's arrays (an absent array is the empty view). */
static lmr_tied_lm_model tied_lm_model_of(const struct tied_lm_args *a)
{
    lmr_tied_lm_model model = {
        lmr_ids_of(a->ids, a->n), lmr_ids_of(a->targets, a->targets_len),
        lmr_mat_of(a->E, a->vocab, a->d), lmr_mat_of(a->P, a->max_len, a->p_width),
        lmr_vec_of(a->gamma, a->gamma ? a->gamma_len : 0),
        lmr_vec_of(a->beta, a->beta ? a->beta_len : 0),
        lmr_mat_of(a->M, a->M ? a->m_rows : 0, a->M ? a->m_cols : 0),
        a->eps, a->reduction, a->ignore_index, a->middle};
    return model;
}

/* The outputs' views for a, in out's slots: 0 loss, 1 dE, 2 dE_input,
 * 3 dE_output, 4 dP, 5 dgamma, 6 dbeta (empty without LayerNorm). */
static lmr_tied_lm_grads tied_lm_grads_of(const struct tied_lm_args *a,
                                          struct outputs *out)
{
    size_t norm = a->gamma || a->beta ? a->d : 0;
    lmr_tied_lm_grads grads = {
        lmr_vec_out_of(out->slot[0], 1),
        lmr_mat_out_of(out->slot[1], a->vocab, a->d),
        lmr_mat_out_of(out->slot[2], a->vocab, a->d),
        lmr_mat_out_of(out->slot[3], a->vocab, a->d),
        lmr_mat_out_of(out->slot[4], a->max_len, a->d),
        lmr_vec_out_of(out->slot[5], norm), lmr_vec_out_of(out->slot[6], norm)};
    return grads;
}

static int run_tied_lm(const void *context, struct outputs *out)
{
    const struct tied_lm_args *a = context;
    lmr_tied_lm_model model = tied_lm_model_of(a);
    lmr_tied_lm_grads grads = tied_lm_grads_of(a, out);
    return lmr_tied_lm(a->null_out ? NULL : &grads,
                       a->null_model ? NULL : &model);
}

static void test_tied_lm_overflow(void)
{
    const char *f = "lmr_tied_lm";
    struct tied_lm_args a = tied_lm_defaults();
    a.E = a.P = a.gamma = a.beta = a.M = TRIPWIRE_VALUES;
    a.ids = a.targets = TRIPWIRE_IDS;
    a.vocab = HUGE_SIZE;
    rejects(run_tied_lm, &a, LMR_EOVERFLOW, named(f, "|V|*d overflows"));
    a.vocab = VOCAB;
    a.n = a.targets_len = 1;
    a.max_len = HUGE_SIZE;
    rejects(run_tied_lm, &a, LMR_EOVERFLOW, named(f, "max_len*d overflows"));
    a.max_len = 4;
    a.d = a.p_width = a.gamma_len = a.beta_len = a.m_rows = a.m_cols =
        (size_t)1 << (sizeof(size_t) * 4);
    rejects(run_tied_lm, &a, LMR_EOVERFLOW, named(f, "only d*d overflows"));
}

/* The shapes the harness used to judge (targets, P's width, gamma, beta,
 * M), the outputs' shapes, and which problem comes first. */
static void test_tied_lm_shapes_and_order(void)
{
    const char *f = "lmr_tied_lm";
    double buffer[GOOD_COUNT];
    int64_t ids[BATCH];
    memcpy(ids, GOOD_IDS, sizeof ids);
    ids[0] = VOCAB;
    struct tied_lm_args a = tied_lm_defaults();
    a.targets_len = BATCH - 1;
    rejects(run_tied_lm, &a, LMR_EDIM, named(f, "n - 1 targets for n ids"));
    a = tied_lm_defaults();
    a.p_width = WIDTH + 1;
    rejects(run_tied_lm, &a, LMR_EDIM, named(f, "P has width d + 1"));
    a = tied_lm_defaults();
    a.gamma_len = WIDTH + 1;
    rejects(run_tied_lm, &a, LMR_EDIM, named(f, "gamma of d + 1 entries"));
    a = tied_lm_defaults();
    a.beta_len = WIDTH - 1;
    rejects(run_tied_lm, &a, LMR_EDIM, named(f, "beta of d - 1 entries"));
    a = tied_lm_defaults();
    a.m_cols = WIDTH + 1;
    rejects(run_tied_lm, &a, LMR_EDIM, named(f, "M is d x (d + 1)"));
    a.reduction = LMR_REDUCE_NONE;
    rejects(run_tied_lm, &a, LMR_EDIM, named(f, "M misshapen and reduction none: EDIM first"));
    a = tied_lm_defaults();
    a.middle = LMR_MIDDLE_IDENTITY;
    rejects(run_tied_lm, &a, LMR_EDIM, named(f, "middle identity with an M given"));
    a = tied_lm_defaults();
    a.middle = LMR_MIDDLE_MATRIX;
    a.M = NULL;
    rejects(run_tied_lm, &a, LMR_EDIM, named(f, "middle matrix without M"));
    a = tied_lm_defaults();
    a.middle = (enum lmr_middle)2;
    a.M = NULL;
    rejects(run_tied_lm, &a, LMR_EDOMAIN, named(f, "an unknown middle"));
    a.E = good_with(buffer, 0, NAN);
    rejects(run_tied_lm, &a, LMR_EDOMAIN, named(f, "an unknown middle and NaN in E: the middle first"));
    a = tied_lm_defaults();
    a.E = good_with(buffer, 0, NAN);
    a.ignore_index = 0;
    rejects(run_tied_lm, &a, LMR_EDOMAIN,
            named(f, "NaN in E and ignore_index in range: the parameter first"));
    a = tied_lm_defaults();
    a.E = good_with(buffer, 0, NAN);
    a.ids = ids;
    rejects(run_tied_lm, &a, LMR_EINDEX, named(f, "NaN in E and id = |V|: ids first"));
    a = tied_lm_defaults();
    a.eps = NAN;
    a.reduction = LMR_REDUCE_NONE;
    rejects(run_tied_lm, &a, LMR_ENONFINITE, named(f, "eps NaN and reduction none: eps first"));

    struct outputs out;
    a = tied_lm_defaults();
    lmr_tied_lm_model model = tied_lm_model_of(&a);
    for (int slot = 0; slot < 7; slot++) {
        char what[96];
        fill_sentinels(&out);
        lmr_tied_lm_grads grads = tied_lm_grads_of(&a, &out);
        size_t *extents[] = {&grads.loss.len, &grads.dE.rows, &grads.dE_input.cols,
                             &grads.dE_output.rows, &grads.dP.rows,
                             &grads.dgamma.len, &grads.dbeta.len};
        (*extents[slot])++;
        snprintf(what, sizeof what, "output %d one too long", slot);
        expect_status(lmr_tied_lm(&grads, &model), LMR_EDIM, named(f, what));
        tap_ok(untouched(&out), "%s: output not written", named(f, what));
    }
    fill_sentinels(&out);
    lmr_tied_lm_grads grads = tied_lm_grads_of(&a, &out);
    grads.dP.rows = BATCH; /* dP is (max_len, d), not (n, d) */
    expect_status(lmr_tied_lm(&grads, &model), LMR_EDIM, named(f, "dP (n, d)"));
    grads.dE.data = NULL;
    expect_status(lmr_tied_lm(&grads, &model), LMR_EINVAL,
                  named(f, "dP misshapen and dE without data: EINVAL first"));
    a.ids = ids;
    model = tied_lm_model_of(&a);
    expect_status(lmr_tied_lm(&grads, &model), LMR_EINDEX,
                  named(f, "id = |V| and bad outputs: the input first"));
    tap_ok(untouched(&out), "%s: output not written", named(f, "bad outputs"));
    a = tied_lm_defaults();
    model = tied_lm_model_of(&a);
    expect_status(lmr_tied_lm_check(&model), LMR_OK, named(f, "check: valid model"));
    expect_status(lmr_tied_lm_check(NULL), LMR_EINVAL, named(f, "check: model NULL"));
    a.ids = ids;
    model = tied_lm_model_of(&a);
    expect_status(lmr_tied_lm_check(&model), LMR_EINDEX, named(f, "check: id = |V|"));
}

static void test_tied_lm_errors(void)
{
    const char *f = "lmr_tied_lm";
    double buffer[GOOD_COUNT];
    int64_t ids[BATCH];
    struct tied_lm_args a = tied_lm_defaults();
    accepts(run_tied_lm, &a, named(f, "valid call"));
    a.null_out = 1;
    rejects(run_tied_lm, &a, LMR_EINVAL, named(f, "out NULL"));
    a = tied_lm_defaults();
    a.null_model = 1;
    rejects(run_tied_lm, &a, LMR_EINVAL, named(f, "model NULL"));
    a = tied_lm_defaults();
    for (int slot = 0; slot < 7; slot++) {
        char what[64];
        snprintf(what, sizeof what, "output %d without data (with LayerNorm)", slot);
        rejects_with_null(run_tied_lm, &a, slot, LMR_EINVAL, named(f, what));
    }
    a.gamma = a.beta = NULL;
    struct outputs out;
    fill_sentinels(&out);
    out.slot[5] = out.slot[6] = NULL;
    expect_status(run_tied_lm(&a, &out), LMR_OK,
                  named(f, "dgamma, dbeta empty without LayerNorm"));
    a = tied_lm_defaults();
    a.beta = NULL;
    rejects(run_tied_lm, &a, LMR_EDIM, named(f, "gamma without beta (beta empty)"));
    a = tied_lm_defaults();
    a.ids = NULL;
    rejects(run_tied_lm, &a, LMR_EINVAL, named(f, "ids without data"));
    a = tied_lm_defaults();
    a.reduction = LMR_REDUCE_NONE;
    rejects(run_tied_lm, &a, LMR_EDOMAIN, named(f, "reduction none"));
    a.reduction = (enum lmr_reduction)9;
    rejects(run_tied_lm, &a, LMR_EDOMAIN, named(f, "unknown reduction"));
    a = tied_lm_defaults();
    a.max_len = BATCH - 1;
    rejects(run_tied_lm, &a, LMR_EDIM, named(f, "max_len < n"));
    a.max_len = BATCH;
    accepts(run_tied_lm, &a, named(f, "max_len = n"));
    a = tied_lm_defaults();
    a.vocab = 0;
    rejects(run_tied_lm, &a, LMR_EDIM, named(f, "|V| = 0"));
    a = tied_lm_defaults();
    a.d = a.p_width = a.gamma_len = a.beta_len = a.m_rows = a.m_cols = 0;
    rejects(run_tied_lm, &a, LMR_EDIM, named(f, "d = 0"));
    a = tied_lm_defaults();
    memcpy(ids, GOOD_IDS, sizeof ids);
    ids[BATCH - 1] = VOCAB;
    a.ids = ids;
    rejects(run_tied_lm, &a, LMR_EINDEX, named(f, "id = |V|"));
    a.ids = GOOD_IDS;
    a.targets = ids;
    rejects(run_tied_lm, &a, LMR_EINDEX, named(f, "target = |V|"));
    a = tied_lm_defaults();
    a.ignore_index = 0;
    rejects(run_tied_lm, &a, LMR_EDOMAIN, named(f, "ignore_index inside [0, |V|)"));
    a = tied_lm_defaults();
    a.eps = 0.0;
    rejects(run_tied_lm, &a, LMR_EDOMAIN, named(f, "eps = 0 with LayerNorm"));
    a.gamma = a.beta = NULL;
    accepts(run_tied_lm, &a, named(f, "eps = 0 without LayerNorm is not used"));
    a = tied_lm_defaults();
    a.E = good_with(buffer, VOCAB * WIDTH - 1, NAN);
    rejects(run_tied_lm, &a, LMR_ENONFINITE, named(f, "NaN in the last row of E"));
    a = tied_lm_defaults();
    a.P = good_with(buffer, 8 + TABLE_LEN * WIDTH - 1, INFINITY) + 8;
    rejects(run_tied_lm, &a, LMR_ENONFINITE, named(f, "+inf in an unused row of P"));
    a = tied_lm_defaults();
    a.gamma = good_with(buffer, 17, NAN) + 16;
    rejects(run_tied_lm, &a, LMR_ENONFINITE, named(f, "NaN in gamma"));
    a = tied_lm_defaults();
    a.M = good_with(buffer, 23, NAN) + 20;
    rejects(run_tied_lm, &a, LMR_ENONFINITE, named(f, "NaN in M"));
    test_tied_lm_overflow();
    test_tied_lm_shapes_and_order();
}

/* ---- main ---------------------------------------------------------------------------- */

/* ---- lmr_linear_cross_entropy ----------------------------------------------------- */

struct lce_args {
    const double *h, *E;     /* (n,d) (vocab,e_width) */
    const int64_t *targets;  /* (targets_len) */
    const double *dloss;     /* (dloss_len) */
    size_t n, vocab, d;
    enum lmr_reduction reduction;
    int64_t ignore_index;
    size_t e_width, targets_len, dloss_len;
};

static const double ONE_DLOSS[1] = {1.0};

static struct lce_args lce_defaults(void)
{
    struct lce_args args = {GOOD, GOOD + 6, GOOD_TARGETS, ONE_DLOSS, BATCH,
                            VOCAB, WIDTH, LMR_REDUCE_MEAN, IGNORE,
                            WIDTH, BATCH, 1};
    return args;
}

/* slots: 0 loss, 1 dh, 2 dE (NULL: the empty view, dE not wanted) */
static lmr_linear_cross_entropy_outputs lce_outputs_of(const struct lce_args *a,
                                                       struct outputs *out)
{
    size_t loss_count = a->reduction == LMR_REDUCE_NONE ? a->n : 1;
    lmr_linear_cross_entropy_outputs views = {
        lmr_vec_out_of(out->slot[0], loss_count),
        lmr_mat_out_of(out->slot[1], a->n, a->d),
        out->slot[2] ? lmr_mat_out_of(out->slot[2], a->vocab, a->d)
                     : lmr_mat_out_of(NULL, 0, 0)};
    return views;
}

static int call_lce(const struct lce_args *a,
                    const lmr_linear_cross_entropy_outputs *views)
{
    return lmr_linear_cross_entropy(views, lmr_mat_of(a->h, a->n, a->d),
                                    lmr_mat_of(a->E, a->vocab, a->e_width),
                                    lmr_ids_of(a->targets, a->targets_len),
                                    lmr_vec_of(a->dloss, a->dloss_len),
                                    a->reduction, a->ignore_index);
}

static int run_lce(const void *context, struct outputs *out)
{
    const struct lce_args *a = context;
    lmr_linear_cross_entropy_outputs views = lce_outputs_of(a, out);
    return call_lce(a, &views);
}

/* The shapes the harness used to judge (E's width, targets, dloss), the
 * outputs' shapes, and which problem comes first. */
static void test_lce_shapes_and_order(void)
{
    const char *f = "lmr_linear_cross_entropy";
    double buffer[GOOD_COUNT], dloss[BATCH] = {1.0, NAN, 1.0};
    int64_t targets[BATCH];
    memcpy(targets, GOOD_TARGETS, sizeof targets);
    targets[0] = VOCAB;
    struct lce_args a = lce_defaults();
    a.e_width = WIDTH + 1;
    rejects(run_lce, &a, LMR_EDIM, named(f, "E is d + 1 wide"));
    a = lce_defaults();
    a.targets_len = BATCH - 1;
    rejects(run_lce, &a, LMR_EDIM, named(f, "n - 1 targets"));
    a = lce_defaults();
    a.dloss_len = 2;
    rejects(run_lce, &a, LMR_EDIM, named(f, "mean with 2 dloss entries"));
    a = lce_defaults();
    a.reduction = LMR_REDUCE_NONE;
    a.dloss_len = 1;
    rejects(run_lce, &a, LMR_EDIM, named(f, "none with 1 dloss entry for n rows"));
    a.targets = targets;
    rejects(run_lce, &a, LMR_EINDEX,
            named(f, "dloss misshapen and target = |V|: the input first"));
    a = lce_defaults();
    a.e_width = WIDTH + 1;
    a.reduction = (enum lmr_reduction)7;
    rejects(run_lce, &a, LMR_EDIM, named(f, "E misshapen and unknown reduction: EDIM first"));
    a = lce_defaults();
    a.h = good_with(buffer, 0, NAN);
    a.targets = targets;
    rejects(run_lce, &a, LMR_EINDEX, named(f, "NaN in h and target = |V|: targets first"));
    a = lce_defaults();
    a.h = good_with(buffer, 0, NAN);
    a.ignore_index = 1;
    rejects(run_lce, &a, LMR_EDOMAIN,
            named(f, "NaN in h and ignore_index in range: the parameter first"));
    a = lce_defaults();
    a.reduction = LMR_REDUCE_NONE;
    a.dloss = dloss;
    a.dloss_len = BATCH;
    struct outputs out;
    fill_sentinels(&out);
    lmr_linear_cross_entropy_outputs views = lce_outputs_of(&a, &out);
    views.dh.rows++;
    expect_status(call_lce(&a, &views), LMR_ENONFINITE,
                  named(f, "NaN in dloss and dh misshapen: the gradient first"));
    a = lce_defaults();
    views = lce_outputs_of(&a, &out);
    views.dh.rows++;
    expect_status(call_lce(&a, &views), LMR_EDIM, named(f, "dh (n + 1, d)"));
    views = lce_outputs_of(&a, &out);
    views.loss.len = BATCH;
    expect_status(call_lce(&a, &views), LMR_EDIM, named(f, "loss of n entries for mean"));
    views = lce_outputs_of(&a, &out);
    views.dE.cols = WIDTH + 1;
    expect_status(call_lce(&a, &views), LMR_EDIM, named(f, "dE (|V|, d + 1)"));
    views.dh.data = NULL;
    expect_status(call_lce(&a, &views), LMR_EINVAL,
                  named(f, "dE misshapen and dh without data: EINVAL first"));
    views = lce_outputs_of(&a, &out);
    views.dE.data = NULL;
    expect_status(call_lce(&a, &views), LMR_EINVAL,
                  named(f, "dE of (|V|, d) without data (not the empty view)"));
    expect_status(call_lce(&a, NULL), LMR_EINVAL, named(f, "out is NULL"));
    tap_ok(untouched(&out), "%s: bad outputs: nothing written", f);
    expect_status(lmr_linear_cross_entropy_check(lmr_mat_of(GOOD, BATCH, WIDTH),
                                                 lmr_mat_of(GOOD + 6, VOCAB, WIDTH),
                                                 lmr_ids_of(GOOD_TARGETS, BATCH),
                                                 LMR_REDUCE_MEAN, IGNORE),
                  LMR_OK, named(f, "check: valid inputs"));
    expect_status(lmr_linear_cross_entropy_check(lmr_mat_of(GOOD, BATCH, WIDTH),
                                                 lmr_mat_of(GOOD + 6, VOCAB, WIDTH),
                                                 lmr_ids_of(targets, BATCH),
                                                 LMR_REDUCE_MEAN, IGNORE),
                  LMR_EINDEX, named(f, "check: target = |V|"));
}

static void test_lce_errors(void)
{
    const char *f = "lmr_linear_cross_entropy";
    double buffer[GOOD_COUNT], dloss[BATCH] = {1.0, NAN, 1.0};
    const double huge[8] = {1e200, 1e200, 1e200, 1e200, 1e200, 1e200, 1e200,
                            1e200}; /* h (3 x 2) and E (4 x 2) */
    int64_t targets[BATCH];
    struct lce_args a = lce_defaults();
    accepts(run_lce, &a, named(f, "valid call"));
    for (int slot = 0; slot < 2; slot++) {
        char what[64];
        snprintf(what, sizeof what, "output %d without data", slot);
        rejects_with_null(run_lce, &a, slot, LMR_EINVAL, named(f, what));
    }
    struct outputs without_dE;
    fill_sentinels(&without_dE);
    without_dE.slot[2] = NULL;
    tap_ok(run_lce(&a, &without_dE) == LMR_OK &&
           without_dE.buffer[1][0] != SENTINEL &&
           without_dE.buffer[2][0] == SENTINEL,
           "%s: dE the empty view (not wanted): LMR_OK, dh written, dE's buffer not", f);
    a.E = NULL;
    rejects(run_lce, &a, LMR_EINVAL, named(f, "E without data"));
    a = lce_defaults();
    a.vocab = 0;
    rejects(run_lce, &a, LMR_EDIM, named(f, "|V| = 0"));
    a = lce_defaults();
    a.d = a.e_width = 0;
    rejects(run_lce, &a, LMR_EDIM, named(f, "d = 0"));
    a = lce_defaults();
    a.vocab = HUGE_SIZE;
    a.E = TRIPWIRE_VALUES;
    rejects(run_lce, &a, LMR_EOVERFLOW, named(f, "|V| d overflows"));
    a = lce_defaults();
    a.E = good_with(buffer, 6 + VOCAB * WIDTH - 1, NAN) + 6;
    rejects(run_lce, &a, LMR_ENONFINITE, named(f, "NaN in the last row of E"));
    a = lce_defaults();
    a.h = good_with(buffer, 1, INFINITY);
    rejects(run_lce, &a, LMR_ENONFINITE, named(f, "+inf in h"));
    a = lce_defaults();
    memcpy(targets, GOOD_TARGETS, sizeof targets);
    targets[0] = VOCAB;
    a.targets = targets;
    rejects(run_lce, &a, LMR_EINDEX, named(f, "target = |V|"));
    a = lce_defaults();
    a.ignore_index = 1;
    rejects(run_lce, &a, LMR_EDOMAIN, named(f, "ignore_index inside [0, |V|)"));
    a = lce_defaults();
    a.reduction = (enum lmr_reduction)7;
    rejects(run_lce, &a, LMR_EDOMAIN, named(f, "unknown reduction"));
    a = lce_defaults();
    a.reduction = LMR_REDUCE_NONE;
    a.dloss = dloss;
    a.dloss_len = BATCH;
    rejects(run_lce, &a, LMR_ENONFINITE, named(f, "NaN in dloss (none)"));
    a = lce_defaults();
    a.h = huge;
    a.E = huge;
    rejects(run_lce, &a, LMR_ERANGE, named(f, "a logit overflows to +inf"));
    a = lce_defaults();
    a.n = a.targets_len = 0;
    struct outputs out;
    fill_sentinels(&out);
    int status = run_lce(&a, &out);
    int zero = 1;
    for (size_t i = 0; i < VOCAB * WIDTH; i++)
        zero &= out.buffer[2][i] == 0.0;
    tap_ok(status == LMR_OK && isnan(out.buffer[0][0]) && zero,
           "%s: n = 0, mean: the loss is NaN and dE is 0", f);
    test_lce_shapes_and_order();
}

int main(void)
{
    fill_good();
    test_lookup_gradients();
    test_layernorm_gradients();
    test_head_gradients();
    test_softmax_gradients();
    test_cross_entropy_gradients();
    partial_case_run(0);
    partial_case_run(2);
    partial_case_run(VVOCAB);
    test_transformed_gradients();
    test_adaptive_gradients();
    test_mlp_gradients();
    test_mixture_gradients();
    test_soft_tie_gradients();
    test_tied_lm_gradients();
    test_lce_gradients();

    test_scatter_errors(0);
    test_scatter_errors(1);
    test_layernorm_errors();
    test_scatter_order(0);
    test_scatter_order(1);
    test_layernorm_backward_order();
    test_head_errors(1);
    test_head_errors(0);
    test_softmax_errors(0);
    test_softmax_errors(1);
    test_cross_entropy_errors();
    test_partial_errors();
    test_transformed_errors(0);
    test_transformed_errors(1);
    test_mlp_errors();
    test_fixed_errors();
    test_gated_errors();
    test_soft_tie_errors();
    test_tied_lm_errors();
    test_lce_errors();
    tap_done();
    return tap_exit_status();
}
