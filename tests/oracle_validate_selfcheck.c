/*
 * oracle_validate_selfcheck.c -- TAP self-test of the oracle's checks
 * (tools/oracle/oracle_validate.h): each rule reports its status, a call
 * with two problems reports the first in the order of spec/api.md#error-order
 * (EINVAL, EDIM, EOVERFLOW, the scalar parameters, the entries in parameter
 * order, then the upstream gradient, then the backward's own rules), and
 * each backward check is its forward's check first.
 *
 * Every expected status is read off spec/errors.md and spec/api.md.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "oracle_head.h"
#include "oracle_validate.h"
#include "tap.h"

static int is(enum oracle_status got, enum oracle_status want,
              const char *what)
{
    return tap_ok(got == want, "%s: %s (want %s)", what,
                  oracle_status_name(got), oracle_status_name(want));
}

/* h (2, 3) and E (4, 3) of a tied head, finite. */
static const double H[6] = {0.5, -1, 2, 0.25, 1, -0.5};
static const double E[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static const double G[8] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5};

static void heads(void)
{
    double bad_h[6], bad_E[12];
    memcpy(bad_h, H, sizeof H);
    memcpy(bad_E, E, sizeof E);
    bad_h[1] = NAN;
    bad_E[2] = INFINITY;
    oracle_reals h = oracle_mat(H, 2, 3), e = oracle_mat(E, 4, 3);
    is(oracle_check_head_tied(h, e), ORACLE_OK, "head_tied valid");
    is(oracle_check_head_tied(oracle_mat(NULL, 2, 3), e), ORACLE_EINVAL,
       "head_tied: h without data");
    is(oracle_check_head_tied(h, oracle_mat(E, 3, 4)), ORACLE_EDIM,
       "head_tied: widths differ");
    is(oracle_check_head_tied(oracle_mat(H, 2, 0), oracle_mat(E, 4, 0)),
       ORACLE_EDIM, "head_tied: d = 0");
    is(oracle_check_head_tied(oracle_mat(bad_h, 2, 3), oracle_mat(bad_E, 4, 3)),
       ORACLE_ENONFINITE, "head_tied: non-finite h and E");
    /* EINVAL before EDIM, EDIM before ENONFINITE */
    is(oracle_check_head_tied(oracle_mat(bad_h, 2, 3), oracle_mat(NULL, 3, 4)),
       ORACLE_EINVAL, "head_tied: NULL E and a NaN in h gives EINVAL");
    is(oracle_check_head_tied(oracle_mat(bad_h, 2, 3), oracle_mat(E, 3, 4)),
       ORACLE_EDIM, "head_tied: a width mismatch before a NaN in h");
    /* the backward: the forward's problem first, then the upstream's */
    is(oracle_check_head_tied_backward(h, e, oracle_mat(G, 2, 4)), ORACLE_OK,
       "head_tied_backward valid");
    is(oracle_check_head_tied_backward(h, e, oracle_mat(G, 2, 3)), ORACLE_EDIM,
       "head_tied_backward: dlogits 2 x 3 for 2 x 4");
    is(oracle_check_head_tied_backward(oracle_mat(bad_h, 2, 3), e,
                                       oracle_mat(G, 2, 3)),
       ORACLE_ENONFINITE,
       "head_tied_backward: the forward's NaN before the upstream's shape");
    is(oracle_check_head_untied(h, oracle_mat(E, 3, 4), oracle_vec(G, 3)),
       ORACLE_EDIM, "head_untied: b of |V| - 1 entries");
    is(oracle_check_head_untied(h, oracle_mat(E, 3, 4), oracle_absent()),
       ORACLE_OK, "head_untied: no bias");
}

static void softmax_and_losses(void)
{
    const double logits[6] = {0, 0.5, 1, -INFINITY, -INFINITY, -INFINITY};
    const double plus_inf[6] = {0, INFINITY, 1, -INFINITY, -INFINITY,
                                -INFINITY};
    const double masked_target[6] = {0, -INFINITY, 1, 2, 3, 4};
    const int64_t targets[2] = {1, 2}, out_of_range[2] = {3, 0};
    const double dloss[2] = {1, 1};
    oracle_reals all_masked = oracle_mat(logits, 2, 3);
    oracle_reals first_row = oracle_mat(logits, 1, 3);
    is(oracle_check_softmax(first_row, 1.0), ORACLE_OK, "softmax valid");
    is(oracle_check_softmax(all_masked, 1.0), ORACLE_EDOMAIN,
       "softmax: a row of only -inf");
    is(oracle_check_softmax(oracle_mat(plus_inf, 2, 3), 1.0),
       ORACLE_ENONFINITE, "softmax: +inf before the all--inf row");
    is(oracle_check_softmax(all_masked, 0.0), ORACLE_EDOMAIN, "softmax: tau 0");
    is(oracle_check_softmax(oracle_mat(plus_inf, 2, 3), 0.0), ORACLE_EDOMAIN,
       "softmax: tau (a parameter) before the logits' entries");
    is(oracle_check_softmax(oracle_mat(plus_inf, 2, 3), NAN),
       ORACLE_ENONFINITE, "softmax: tau NaN");
    is(oracle_check_softmax(oracle_mat(logits, 2, 0), 1.0), ORACLE_EDIM,
       "softmax: |V| = 0");
    is(oracle_check_log_softmax_backward(oracle_mat(masked_target, 2, 3),
                                         oracle_mat(G, 2, 3), 1.0),
       ORACLE_EDOMAIN, "log_softmax_backward: upstream at a masked logit");
    is(oracle_check_log_softmax_backward(oracle_mat(masked_target, 2, 3),
                                         oracle_mat(G, 2, 4), 1.0),
       ORACLE_EDIM, "log_softmax_backward: the upstream's shape first");
    oracle_reals rows = oracle_mat(masked_target, 2, 3);
    is(oracle_check_cross_entropy(rows, oracle_ints_of(targets, 2),
                                  ORACLE_REDUCE_MEAN, -100),
       ORACLE_OK, "cross_entropy: a masked target is valid forward");
    is(oracle_check_cross_entropy_backward(rows, oracle_ints_of(targets, 2),
                                           oracle_vec(dloss, 1),
                                           ORACLE_REDUCE_MEAN, -100),
       ORACLE_EDOMAIN, "cross_entropy_backward: the masked target");
    is(oracle_check_cross_entropy_backward(rows, oracle_ints_of(targets, 2),
                                           oracle_vec(dloss, 2),
                                           ORACLE_REDUCE_MEAN, -100),
       ORACLE_EDIM, "cross_entropy_backward: dloss of 2 for mean, first");
    is(oracle_check_cross_entropy(rows, oracle_ints_of(out_of_range, 2),
                                  ORACLE_REDUCE_SUM, -100),
       ORACLE_EINDEX, "cross_entropy: target 3 with |V| = 3");
    is(oracle_check_cross_entropy(rows, oracle_ints_of(out_of_range, 2),
                                  ORACLE_REDUCE_SUM, 1),
       ORACLE_EDOMAIN, "cross_entropy: ignore_index (a parameter) first");
    is(oracle_check_cross_entropy(rows, oracle_ints_of(targets, 1),
                                  ORACLE_REDUCTION_UNKNOWN, -100),
       ORACLE_EDIM, "cross_entropy: the targets' length before the "
       "reduction");
    is(oracle_check_cross_entropy(rows, oracle_ints_of(targets, 2),
                                  ORACLE_REDUCTION_UNKNOWN, -100),
       ORACLE_EDOMAIN, "cross_entropy: an unknown reduction");
}

static void inputs(void)
{
    const int64_t ids[3] = {0, 4, -1};
    double table[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    oracle_reals E4 = oracle_mat(table, 4, 2);
    is(oracle_check_embed_lookup(E4, oracle_ints_of(ids, 1)), ORACLE_OK,
       "embed_lookup valid");
    is(oracle_check_embed_lookup(E4, oracle_ints_of(ids, 2)), ORACLE_EINDEX,
       "embed_lookup: id 4 with |V| = 4");
    table[7] = NAN;
    is(oracle_check_embed_lookup(E4, oracle_ints_of(ids, 2)),
       ORACLE_ENONFINITE, "embed_lookup: E (the first input) before ids");
    is(oracle_check_pos_learned(E4, oracle_ints_of(ids + 2, 1)), ORACLE_ENONFINITE,
       "pos_learned: P before the positions");
    table[7] = 8;
    is(oracle_check_pos_learned(E4, oracle_ints_of(ids + 2, 1)), ORACLE_EPOS,
       "pos_learned: position -1");
    is(oracle_check_embed_lookup_backward(oracle_ints_of(ids, 1),
                                          oracle_mat(G, 1, 2), 0),
       ORACLE_EDIM, "embed_lookup_backward: vocab 0");
    is(oracle_check_embed_lookup_backward(oracle_ints_of(ids, 2),
                                          oracle_mat(G, 3, 2), 4),
       ORACLE_EINDEX, "embed_lookup_backward: the id before dY's rows");
    is(oracle_check_layernorm(oracle_mat(table, 2, 4), oracle_vec(G, 4),
                              oracle_vec(G, 5), 1e-5),
       ORACLE_EDIM, "layernorm: beta of d + 1");
    is(oracle_check_layernorm(oracle_mat(table, 2, 4), oracle_vec(G, 4),
                              oracle_vec(G, 4), -1.0),
       ORACLE_EDOMAIN, "layernorm: eps < 0");
    is(oracle_check_layernorm_backward(oracle_mat(table, 2, 4),
                                       oracle_vec(G, 4), oracle_mat(G, 2, 4),
                                       1e-5),
       ORACLE_OK, "layernorm_backward: no beta");
    is(oracle_check_param_count(INT64_MAX / 2 + 1, 2, 0), ORACLE_EOVERFLOW,
       "param_count: |V| d past 2^63 - 1");
    is(oracle_check_param_count(0, 2, -1), ORACLE_EDOMAIN,
       "param_count: |V| = 0");
}

int main(void)
{
    tap_plan(40);
    heads();
    softmax_and_losses();
    inputs();
    tap_done();
    return tap_exit_status();
}
