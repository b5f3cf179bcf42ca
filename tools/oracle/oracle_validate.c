/*
 * oracle_validate.c -- the oracle's checks of its inputs (contract:
 * tools/oracle/oracle_validate.h). Each rule is one small function that
 * returns ORACLE_OK or the status of its violation; each op's check lists
 * its rules in the order of spec/api.md#error-order and returns the first
 * that fails. The rules read every array only within its own shape, so they
 * may all be evaluated even when an earlier one has failed.
 */
#include <math.h> /* isfinite, isnan, isinf: classifications only */
#include <stdint.h>

#include "oracle_head.h" /* enum oracle_reduction */
#include "oracle_validate.h"

/* The number of entries of a list of rules. */
#define RULE_COUNT(list) (sizeof(list) / sizeof((list)[0]))

const char *oracle_status_name(enum oracle_status status)
{
    static const char *const names[] = {
        "LMR_OK", "LMR_EINVAL", "LMR_EDIM", "LMR_EOVERFLOW", "LMR_EINDEX",
        "LMR_EPOS", "LMR_ENONFINITE", "LMR_EDOMAIN", "LMR_ENOMEM",
        "LMR_ERANGE"};
    if ((unsigned)status >= sizeof names / sizeof names[0])
        return "LMR_UNKNOWN";
    return names[status];
}

/* ---- views ---- */

oracle_reals oracle_vec(const double *data, size_t len)
{
    oracle_reals a = {data, 1, {len, 0, 0}};
    return a;
}

oracle_reals oracle_mat(const double *data, size_t rows, size_t cols)
{
    oracle_reals a = {data, 2, {rows, cols, 0}};
    return a;
}

oracle_reals oracle_stack(const double *data, size_t count, size_t rows,
                          size_t cols)
{
    oracle_reals a = {data, 3, {count, rows, cols}};
    return a;
}

oracle_reals oracle_absent(void)
{
    oracle_reals a = {NULL, 0, {0, 0, 0}};
    return a;
}

oracle_reals oracle_optional_vec(const double *data, size_t len)
{
    return data == NULL ? oracle_absent() : oracle_vec(data, len);
}

oracle_reals oracle_optional_mat(const double *data, size_t rows, size_t cols)
{
    return data == NULL ? oracle_absent() : oracle_mat(data, rows, cols);
}

oracle_ints oracle_ints_of(const int64_t *data, size_t len)
{
    oracle_ints a = {data, len};
    return a;
}

oracle_ints oracle_ints_absent(void)
{
    oracle_ints a = {NULL, 0};
    return a;
}

/* Extent axis of a (0 past its last axis). */
static size_t extent(oracle_reals a, size_t axis)
{
    return axis < a.ndim ? a.dim[axis] : 0;
}

static size_t rows(oracle_reals a)
{
    return extent(a, 0);
}

static size_t cols(oracle_reals a)
{
    return extent(a, 1);
}

static int absent(oracle_reals a)
{
    return a.ndim == 0 && a.data == NULL;
}

/* 1 if the element count of a fits in size_t; *count receives it. */
static int element_count(oracle_reals a, size_t *count)
{
    size_t total = (a.ndim == 0) ? 0 : 1;
    for (size_t i = 0; i < a.ndim; i++) {
        if (a.dim[i] != 0 && total > SIZE_MAX / a.dim[i])
            return 0;
        total *= a.dim[i];
    }
    *count = total;
    return 1;
}

/* The element count of a, SIZE_MAX when it does not fit. */
static size_t count_of(oracle_reals a)
{
    size_t count;
    return element_count(a, &count) ? count : SIZE_MAX;
}

static enum oracle_status first_of(const enum oracle_status *found,
                                   size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (found[i] != ORACLE_OK)
            return found[i];
    return ORACLE_OK;
}

/* ---- the rules ---- */

/* EINVAL: an array with elements and no data. */
static enum oracle_status has_data(oracle_reals a)
{
    return (a.data == NULL && count_of(a) > 0) ? ORACLE_EINVAL : ORACLE_OK;
}

static enum oracle_status ints_have_data(oracle_ints a)
{
    return (a.data == NULL && a.len > 0) ? ORACLE_EINVAL : ORACLE_OK;
}

/* EDIM: a size that must be at least 1 is 0. */
static enum oracle_status at_least_one(size_t size)
{
    return size == 0 ? ORACLE_EDIM : ORACLE_OK;
}

/* EDIM: two sizes that must agree do not. */
static enum oracle_status same_size(size_t size, size_t required)
{
    return size != required ? ORACLE_EDIM : ORACLE_OK;
}

/* EDIM: a is not an array of ndim axes with extents d0, d1, d2 (the
 * extents past ndim are ignored). An absent array has no axes. */
static enum oracle_status shape_is(oracle_reals a, size_t ndim, size_t d0,
                                   size_t d1, size_t d2)
{
    const size_t want[3] = {d0, d1, d2};
    if (a.ndim != ndim)
        return ORACLE_EDIM;
    for (size_t i = 0; i < ndim; i++)
        if (a.dim[i] != want[i])
            return ORACLE_EDIM;
    return ORACLE_OK;
}

/* shape_is for an optional input: an absent one is fine. */
static enum oracle_status optional_shape_is(oracle_reals a, size_t ndim,
                                            size_t d0, size_t d1, size_t d2)
{
    return absent(a) ? ORACLE_OK : shape_is(a, ndim, d0, d1, d2);
}

/* EOVERFLOW: a's element count times 8 bytes does not fit in size_t. */
static enum oracle_status fits(oracle_reals a)
{
    size_t count;
    if (!element_count(a, &count) || count > SIZE_MAX / sizeof(double))
        return ORACLE_EOVERFLOW;
    return ORACLE_OK;
}

/* EOVERFLOW for a derived rows x cols array of doubles (an output). */
static enum oracle_status table_fits(size_t table_rows, size_t table_cols)
{
    return fits(oracle_mat(NULL, table_rows, table_cols));
}

/* ENONFINITE: a NaN or an infinity in a scalar parameter. */
static enum oracle_status finite_scalar(double value)
{
    return isfinite(value) ? ORACLE_OK : ORACLE_ENONFINITE;
}

/* A parameter that must be finite and > 0 (tau, eps): ENONFINITE, then
 * EDOMAIN. */
static enum oracle_status positive_scalar(double value)
{
    if (!isfinite(value))
        return ORACLE_ENONFINITE;
    return value > 0.0 ? ORACLE_OK : ORACLE_EDOMAIN;
}

/* ENONFINITE: a NaN or an infinity among a's entries. */
static enum oracle_status finite_entries(oracle_reals a)
{
    size_t count = count_of(a);
    for (size_t i = 0; a.data != NULL && i < count; i++)
        if (!isfinite(a.data[i]))
            return ORACLE_ENONFINITE;
    return ORACLE_OK;
}

/* The entries of an n x V array of logits (spec/softmax.md): ENONFINITE
 * for a +inf or a NaN anywhere, then EDOMAIN for a row of only -inf. */
static enum oracle_status logit_entries(oracle_reals logits)
{
    size_t n = rows(logits), V = cols(logits);
    if (logits.data == NULL || count_of(logits) == SIZE_MAX)
        return ORACLE_OK;
    for (size_t i = 0; i < n * V; i++) {
        double u = logits.data[i];
        if (isnan(u) || (isinf(u) && u > 0))
            return ORACLE_ENONFINITE;
    }
    for (size_t t = 0; t < n; t++) {
        size_t finite = 0;
        for (size_t i = 0; i < V; i++)
            finite += isfinite(logits.data[t * V + i]) != 0;
        if (finite == 0)
            return ORACLE_EDOMAIN;
    }
    return ORACLE_OK;
}

/* code (EINDEX or EPOS): an index outside [0, limit). */
static enum oracle_status indices_below(oracle_ints index, size_t limit,
                                        enum oracle_status code)
{
    for (size_t t = 0; index.data != NULL && t < index.len; t++)
        if (index.data[t] < 0 || (uint64_t)index.data[t] >= (uint64_t)limit)
            return code;
    return ORACLE_OK;
}

/* EDOMAIN: a reduction other than the three of spec/softmax.md. */
static enum oracle_status reduction_known(oracle_reduction_code reduction)
{
    return (reduction == ORACLE_REDUCE_NONE || reduction == ORACLE_REDUCE_SUM
            || reduction == ORACLE_REDUCE_MEAN) ? ORACLE_OK : ORACLE_EDOMAIN;
}

/* EDOMAIN: a reduction that does not give one number (the soft tie). */
static enum oracle_status reduction_scalar(oracle_reduction_code reduction)
{
    return (reduction == ORACLE_REDUCE_SUM || reduction == ORACLE_REDUCE_MEAN)
           ? ORACLE_OK : ORACLE_EDOMAIN;
}

/* EDOMAIN: ignore_index is a token id of a vocabulary of V. */
static enum oracle_status ignore_index_outside(int64_t ignore_index, size_t V)
{
    return (ignore_index >= 0 && (uint64_t)ignore_index < (uint64_t)V)
           ? ORACLE_EDOMAIN : ORACLE_OK;
}

/* EINDEX: a target that is not ignore_index and lies outside [0, V). */
static enum oracle_status targets_in_range(oracle_ints targets, size_t V,
                                           int64_t ignore_index)
{
    for (size_t t = 0; targets.data != NULL && t < targets.len; t++) {
        int64_t c = targets.data[t];
        if (c != ignore_index && (c < 0 || (uint64_t)c >= (uint64_t)V))
            return ORACLE_EINDEX;
    }
    return ORACLE_OK;
}

/* An upstream gradient that must have the given shape (the output it
 * stands for): EINVAL, EDIM, ENONFINITE. */
static enum oracle_status upstream(oracle_reals g, size_t ndim, size_t d0,
                                   size_t d1)
{
    const enum oracle_status found[] = {
        has_data(g), shape_is(g, ndim, d0, d1, 0), finite_entries(g)};
    return first_of(found, RULE_COUNT(found));
}

/* ---- the input side ---- */

/* The rules of a row lookup into a table of table_rows x d (the lookup, the
 * learned positions, and their backward, which has the table's shape but
 * not its entries): table may be NULL (not read). code: EINDEX or EPOS. */
static enum oracle_status lookup_check(const oracle_reals *table,
                                       size_t table_rows, size_t d,
                                       oracle_ints index,
                                       enum oracle_status code)
{
    oracle_reals shape = oracle_mat(NULL, table_rows, d);
    const enum oracle_status found[] = {
        table != NULL ? has_data(*table) : ORACLE_OK, ints_have_data(index),
        at_least_one(table_rows), at_least_one(d),
        fits(shape), table_fits(index.len, d),
        table != NULL ? finite_entries(*table) : ORACLE_OK,
        indices_below(index, table_rows, code)};
    return first_of(found, RULE_COUNT(found));
}

enum oracle_status oracle_check_embed_lookup(oracle_reals E, oracle_ints ids)
{
    return lookup_check(&E, rows(E), cols(E), ids, ORACLE_EINDEX);
}

/* A size given as a parameter: EDIM unless >= 1. */
static size_t size_parameter(int64_t value)
{
    return value > 0 ? (size_t)value : 0;
}

enum oracle_status oracle_check_embed_lookup_backward(oracle_ints ids,
                                                      oracle_reals dY,
                                                      int64_t vocab)
{
    enum oracle_status found = lookup_check(NULL, size_parameter(vocab),
                                            cols(dY), ids, ORACLE_EINDEX);
    if (found != ORACLE_OK)
        return found;
    return upstream(dY, 2, ids.len, cols(dY));
}

enum oracle_status oracle_check_pos_learned(oracle_reals P,
                                            oracle_ints positions)
{
    return lookup_check(&P, rows(P), cols(P), positions, ORACLE_EPOS);
}

enum oracle_status oracle_check_pos_learned_backward(oracle_ints positions,
                                                     oracle_reals dY,
                                                     int64_t max_len)
{
    enum oracle_status found = lookup_check(NULL, size_parameter(max_len),
                                            cols(dY), positions, ORACLE_EPOS);
    if (found != ORACLE_OK)
        return found;
    return upstream(dY, 2, positions.len, cols(dY));
}

enum oracle_status oracle_check_layernorm(oracle_reals x, oracle_reals gamma,
                                          oracle_reals beta, double eps)
{
    size_t d = cols(x);
    const enum oracle_status found[] = {
        has_data(x), has_data(gamma), has_data(beta),
        at_least_one(d), shape_is(gamma, 1, d, 0, 0),
        optional_shape_is(beta, 1, d, 0, 0),
        fits(x),
        positive_scalar(eps),
        finite_entries(x), finite_entries(gamma), finite_entries(beta)};
    return first_of(found, RULE_COUNT(found));
}

enum oracle_status oracle_check_layernorm_backward(oracle_reals x,
                                                   oracle_reals gamma,
                                                   oracle_reals dY,
                                                   double eps)
{
    enum oracle_status found = oracle_check_layernorm(x, gamma,
                                                      oracle_absent(), eps);
    if (found != ORACLE_OK)
        return found;
    return upstream(dY, 2, rows(x), cols(x));
}

/* ---- the heads ---- */

enum oracle_status oracle_check_head_tied(oracle_reals h, oracle_reals E)
{
    size_t d = cols(h);
    const enum oracle_status found[] = {
        has_data(h), has_data(E),
        at_least_one(d), at_least_one(rows(E)), same_size(cols(E), d),
        fits(h), fits(E), table_fits(rows(h), rows(E)),
        finite_entries(h), finite_entries(E)};
    return first_of(found, RULE_COUNT(found));
}

enum oracle_status oracle_check_head_tied_backward(oracle_reals h,
                                                   oracle_reals E,
                                                   oracle_reals dlogits)
{
    enum oracle_status found = oracle_check_head_tied(h, E);
    if (found != ORACLE_OK)
        return found;
    return upstream(dlogits, 2, rows(h), rows(E));
}

enum oracle_status oracle_check_head_untied(oracle_reals h, oracle_reals W,
                                            oracle_reals b)
{
    size_t d = cols(h), V = cols(W);
    const enum oracle_status found[] = {
        has_data(h), has_data(W), has_data(b),
        at_least_one(d), same_size(rows(W), d), at_least_one(V),
        optional_shape_is(b, 1, V, 0, 0),
        fits(h), fits(W), table_fits(rows(h), V),
        finite_entries(h), finite_entries(W), finite_entries(b)};
    return first_of(found, RULE_COUNT(found));
}

enum oracle_status oracle_check_head_untied_backward(oracle_reals h,
                                                     oracle_reals W,
                                                     oracle_reals dlogits)
{
    enum oracle_status found = oracle_check_head_untied(h, W,
                                                        oracle_absent());
    if (found != ORACLE_OK)
        return found;
    return upstream(dlogits, 2, rows(h), cols(W));
}

/* EDIM: the free columns F of a head tying k of V rows are not d x (V - k)
 * (absent or d x 0 when k = V); no rule when k is out of range (EDOMAIN). */
static enum oracle_status free_columns_shape(oracle_reals F, size_t d,
                                             size_t V, int64_t k)
{
    if (k < 0 || (uint64_t)k > (uint64_t)V)
        return ORACLE_OK;
    size_t free_count = V - (size_t)k;
    if (free_count == 0 && absent(F))
        return ORACLE_OK;
    return shape_is(F, 2, d, free_count, 0);
}

/* EDOMAIN: k outside [0, V]. */
static enum oracle_status tied_count_in_range(int64_t k, size_t V)
{
    return (k < 0 || (uint64_t)k > (uint64_t)V) ? ORACLE_EDOMAIN : ORACLE_OK;
}

enum oracle_status oracle_check_head_partial(oracle_reals h, oracle_reals E,
                                             oracle_reals F, int64_t k)
{
    size_t d = cols(h), V = rows(E);
    const enum oracle_status found[] = {
        has_data(h), has_data(E), has_data(F),
        at_least_one(d), at_least_one(V), same_size(cols(E), d),
        free_columns_shape(F, d, V, k),
        fits(h), fits(E), fits(F), table_fits(rows(h), V),
        tied_count_in_range(k, V),
        finite_entries(h), finite_entries(E), finite_entries(F)};
    return first_of(found, RULE_COUNT(found));
}

enum oracle_status oracle_check_head_partial_backward(oracle_reals h,
                                                      oracle_reals E,
                                                      oracle_reals F,
                                                      oracle_reals dlogits,
                                                      int64_t k)
{
    enum oracle_status found = oracle_check_head_partial(h, E, F, k);
    if (found != ORACLE_OK)
        return found;
    return upstream(dlogits, 2, rows(h), rows(E));
}

enum oracle_status oracle_check_head_transformed(oracle_reals h,
                                                 oracle_reals T,
                                                 oracle_reals E)
{
    size_t d = cols(h), V = rows(E);
    const enum oracle_status found[] = {
        has_data(h), has_data(T), has_data(E),
        at_least_one(d), shape_is(T, 2, d, d, 0), at_least_one(V),
        same_size(cols(E), d),
        fits(h), fits(T), fits(E), table_fits(rows(h), V),
        finite_entries(h), finite_entries(T), finite_entries(E)};
    return first_of(found, RULE_COUNT(found));
}

enum oracle_status oracle_check_head_transformed_backward(oracle_reals h,
                                                          oracle_reals T,
                                                          oracle_reals E,
                                                          oracle_reals dlogits)
{
    enum oracle_status found = oracle_check_head_transformed(h, T, E);
    if (found != ORACLE_OK)
        return found;
    return upstream(dlogits, 2, rows(h), rows(E));
}

/* alpha of the adaptive head: ENONFINITE, then EDOMAIN outside [0, 1]. */
static enum oracle_status mixing_weight(double alpha)
{
    if (!isfinite(alpha))
        return ORACLE_ENONFINITE;
    return (alpha < 0.0 || alpha > 1.0) ? ORACLE_EDOMAIN : ORACLE_OK;
}

enum oracle_status oracle_check_head_adaptive(oracle_reals h, oracle_reals E,
                                              oracle_reals F, double alpha)
{
    size_t d = cols(h), V = rows(E);
    const enum oracle_status found[] = {
        has_data(h), has_data(E), has_data(F),
        at_least_one(d), at_least_one(V), same_size(cols(E), d),
        shape_is(F, 2, d, V, 0),
        fits(h), fits(E), fits(F), table_fits(rows(h), V),
        mixing_weight(alpha),
        finite_entries(h), finite_entries(E), finite_entries(F)};
    return first_of(found, RULE_COUNT(found));
}

enum oracle_status oracle_check_head_adaptive_backward(oracle_reals h,
                                                       oracle_reals E,
                                                       oracle_reals F,
                                                       oracle_reals dlogits,
                                                       double alpha)
{
    enum oracle_status found = oracle_check_head_adaptive(h, E, F, alpha);
    if (found != ORACLE_OK)
        return found;
    return upstream(dlogits, 2, rows(h), rows(E));
}

/* The vocabulary of the MLP head: E's rows (tied) or W2's columns. */
static size_t mlp_vocab(const oracle_mlp_views *in)
{
    return in->tied ? rows(in->E) : cols(in->W2);
}

/* EDIM: the second layer of the MLP head (W2 (m, V) untied; tied: E (V, d)
 * with m = d). */
static enum oracle_status mlp_second_layer(const oracle_mlp_views *in,
                                           size_t d, size_t m)
{
    if (!in->tied)
        return shape_is(in->W2, 2, m, cols(in->W2), 0);
    if (shape_is(in->E, 2, rows(in->E), d, 0) != ORACLE_OK)
        return ORACLE_EDIM;
    return same_size(m, d);
}

enum oracle_status oracle_check_head_mlp(const oracle_mlp_views *in)
{
    size_t d = cols(in->h), m = cols(in->W1), V = mlp_vocab(in);
    const enum oracle_status found[] = {
        has_data(in->h), has_data(in->W1), has_data(in->b1),
        has_data(in->W2), has_data(in->E), has_data(in->b2),
        at_least_one(d), same_size(rows(in->W1), d), at_least_one(m),
        optional_shape_is(in->b1, 1, m, 0, 0), mlp_second_layer(in, d, m),
        at_least_one(V), optional_shape_is(in->b2, 1, V, 0, 0),
        fits(in->h), fits(in->W1), fits(in->W2), fits(in->E),
        table_fits(rows(in->h), V),
        finite_entries(in->h), finite_entries(in->W1),
        finite_entries(in->b1), finite_entries(in->W2),
        finite_entries(in->E), finite_entries(in->b2)};
    return first_of(found, RULE_COUNT(found));
}

enum oracle_status oracle_check_head_mlp_backward(const oracle_mlp_views *in,
                                                  oracle_reals dlogits)
{
    enum oracle_status found = oracle_check_head_mlp(in);
    if (found != ORACLE_OK)
        return found;
    return upstream(dlogits, 2, rows(in->h), mlp_vocab(in));
}

/* ---- softmax and the losses ---- */

enum oracle_status oracle_check_softmax(oracle_reals logits, double tau)
{
    const enum oracle_status found[] = {
        has_data(logits), at_least_one(cols(logits)), fits(logits),
        positive_scalar(tau), logit_entries(logits)};
    return first_of(found, RULE_COUNT(found));
}

enum oracle_status oracle_check_log_softmax(oracle_reals logits, double tau)
{
    return oracle_check_softmax(logits, tau);
}

enum oracle_status oracle_check_softmax_backward(oracle_reals logits,
                                                 oracle_reals dprobs,
                                                 double tau)
{
    enum oracle_status found = oracle_check_softmax(logits, tau);
    if (found != ORACLE_OK)
        return found;
    return upstream(dprobs, 2, rows(logits), cols(logits));
}

/* EDOMAIN: a non-zero upstream gradient at a masked (-inf) logit (the
 * log-softmax backward). logits, G: (n, V), already checked */
static enum oracle_status zero_at_masked(oracle_reals logits, oracle_reals G)
{
    size_t count = count_of(logits);
    for (size_t i = 0; logits.data != NULL && i < count; i++)
        if (isinf(logits.data[i]) && G.data[i] != 0.0)
            return ORACLE_EDOMAIN;
    return ORACLE_OK;
}

enum oracle_status oracle_check_log_softmax_backward(oracle_reals logits,
                                                     oracle_reals dlogprobs,
                                                     double tau)
{
    enum oracle_status found = oracle_check_softmax_backward(logits,
                                                             dlogprobs, tau);
    if (found != ORACLE_OK)
        return found;
    return zero_at_masked(logits, dlogprobs);
}

enum oracle_status oracle_check_cross_entropy(oracle_reals logits,
                                              oracle_ints targets,
                                              oracle_reduction_code reduction,
                                              int64_t ignore_index)
{
    size_t V = cols(logits);
    const enum oracle_status found[] = {
        has_data(logits), ints_have_data(targets),
        at_least_one(V), same_size(targets.len, rows(logits)),
        fits(logits),
        reduction_known(reduction), ignore_index_outside(ignore_index, V),
        logit_entries(logits), targets_in_range(targets, V, ignore_index)};
    return first_of(found, RULE_COUNT(found));
}

/* The length of a loss's upstream gradient: n for "none", else 1. */
static size_t loss_length(oracle_reduction_code reduction, size_t n)
{
    return reduction == ORACLE_REDUCE_NONE ? n : 1;
}

/* EDOMAIN: a counted target whose logit is -inf (an infinite loss has no
 * gradient). logits (n, V) and targets (n), already checked */
static enum oracle_status counted_targets_finite(oracle_reals logits,
                                                 oracle_ints targets,
                                                 int64_t ignore_index)
{
    size_t V = cols(logits);
    for (size_t t = 0; logits.data != NULL && t < targets.len; t++) {
        int64_t c = targets.data[t];
        if (c != ignore_index && isinf(logits.data[t * V + (size_t)c]))
            return ORACLE_EDOMAIN;
    }
    return ORACLE_OK;
}

enum oracle_status oracle_check_cross_entropy_backward(
    oracle_reals logits, oracle_ints targets, oracle_reals dloss,
    oracle_reduction_code reduction, int64_t ignore_index)
{
    enum oracle_status found = oracle_check_cross_entropy(logits, targets,
                                                          reduction,
                                                          ignore_index);
    if (found != ORACLE_OK)
        return found;
    found = upstream(dloss, 1, loss_length(reduction, rows(logits)), 0);
    if (found != ORACLE_OK)
        return found;
    return counted_targets_finite(logits, targets, ignore_index);
}

/* ---- the mixtures and the soft tie ---- */

/* The fixed mixture's weights (spec/variants.md#mos_fixed): ENONFINITE,
 * then EDOMAIN for a negative weight or all weights zero. */
static enum oracle_status mixture_weights(oracle_reals alpha)
{
    enum oracle_status found = finite_entries(alpha);
    if (found != ORACLE_OK)
        return found;
    int any_positive = 0;
    for (size_t k = 0; alpha.data != NULL && k < rows(alpha); k++) {
        if (alpha.data[k] < 0.0)
            return ORACLE_EDOMAIN;
        any_positive |= alpha.data[k] > 0.0;
    }
    return any_positive ? ORACLE_OK : ORACLE_EDOMAIN;
}

enum oracle_status oracle_check_mos_fixed(oracle_reals h, oracle_reals W,
                                          oracle_reals alpha)
{
    size_t d = cols(h), K = extent(W, 0), V = extent(W, 2);
    const enum oracle_status found[] = {
        has_data(h), has_data(W), has_data(alpha),
        at_least_one(d), at_least_one(K), at_least_one(V),
        shape_is(W, 3, K, d, V), shape_is(alpha, 1, K, 0, 0),
        fits(h), fits(W), table_fits(rows(h), V),
        finite_entries(h), finite_entries(W), mixture_weights(alpha)};
    return first_of(found, RULE_COUNT(found));
}

enum oracle_status oracle_check_mos_fixed_backward(oracle_reals h,
                                                   oracle_reals W,
                                                   oracle_reals alpha,
                                                   oracle_reals dlogprobs)
{
    enum oracle_status found = oracle_check_mos_fixed(h, W, alpha);
    if (found != ORACLE_OK)
        return found;
    return upstream(dlogprobs, 2, rows(h), extent(W, 2));
}

/* The vocabulary of the gated mixture: E's rows (tied) or W_out's columns. */
static size_t gated_vocab(const oracle_mos_gated_views *in)
{
    return in->tied ? rows(in->E) : cols(in->W_out);
}

enum oracle_status oracle_check_mos_gated(const oracle_mos_gated_views *in)
{
    size_t d = cols(in->h), K = cols(in->W_pi), V = gated_vocab(in);
    const enum oracle_status found[] = {
        has_data(in->h), has_data(in->W_pi), has_data(in->W_comp),
        has_data(in->b_comp), has_data(in->W_out), has_data(in->E),
        has_data(in->b_out),
        at_least_one(d), same_size(rows(in->W_pi), d), at_least_one(K),
        shape_is(in->W_comp, 3, K, d, d), shape_is(in->b_comp, 2, K, d, 0),
        in->tied ? shape_is(in->E, 2, V, d, 0)
                 : shape_is(in->W_out, 2, d, V, 0),
        at_least_one(V), optional_shape_is(in->b_out, 1, V, 0, 0),
        fits(in->h), fits(in->W_pi), fits(in->W_comp), fits(in->b_comp),
        fits(in->W_out), fits(in->E), table_fits(rows(in->h), V),
        finite_entries(in->h), finite_entries(in->W_pi),
        finite_entries(in->W_comp), finite_entries(in->b_comp),
        finite_entries(in->W_out), finite_entries(in->E),
        finite_entries(in->b_out)};
    return first_of(found, RULE_COUNT(found));
}

enum oracle_status oracle_check_mos_gated_backward(
    const oracle_mos_gated_views *in, oracle_reals dlogprobs)
{
    enum oracle_status found = oracle_check_mos_gated(in);
    if (found != ORACLE_OK)
        return found;
    return upstream(dlogprobs, 2, rows(in->h), gated_vocab(in));
}

/* lambda of the soft tie: ENONFINITE, then EDOMAIN below 0. */
static enum oracle_status penalty_weight(double lambda)
{
    enum oracle_status found = finite_scalar(lambda);
    if (found != ORACLE_OK)
        return found;
    return lambda < 0.0 ? ORACLE_EDOMAIN : ORACLE_OK;
}

enum oracle_status oracle_check_soft_tie_loss(oracle_reals h, oracle_reals E,
                                              oracle_reals W,
                                              oracle_ints targets,
                                              double lambda,
                                              oracle_reduction_code reduction,
                                              int64_t ignore_index)
{
    size_t d = cols(h), V = rows(E);
    const enum oracle_status found[] = {
        has_data(h), has_data(E), has_data(W), ints_have_data(targets),
        at_least_one(d), at_least_one(V), same_size(cols(E), d),
        shape_is(W, 2, d, V, 0), same_size(targets.len, rows(h)),
        fits(h), fits(E), fits(W), table_fits(rows(h), V),
        penalty_weight(lambda), reduction_scalar(reduction),
        ignore_index_outside(ignore_index, V),
        finite_entries(h), finite_entries(E), finite_entries(W),
        targets_in_range(targets, V, ignore_index)};
    return first_of(found, RULE_COUNT(found));
}

enum oracle_status oracle_check_soft_tie_loss_backward(
    oracle_reals h, oracle_reals E, oracle_reals W, oracle_ints targets,
    oracle_reals dloss, double lambda, oracle_reduction_code reduction,
    int64_t ignore_index)
{
    enum oracle_status found = oracle_check_soft_tie_loss(
        h, E, W, targets, lambda, reduction, ignore_index);
    if (found != ORACLE_OK)
        return found;
    return upstream(dloss, 1, 1, 0);
}

/* ---- attention ---- */

int oracle_attention_key_masked(const int64_t *key_mask, size_t i, size_t j,
                                size_t n_q, size_t n_k, int causal)
{
    if (key_mask != NULL && key_mask[j] == 0)
        return 1;
    /* j > i + (n_k - n_q), over the integers */
    return causal && (uintmax_t)j + n_q > (uintmax_t)i + n_k;
}

/* EDOMAIN: a key_mask entry other than 0 or 1. */
static enum oracle_status mask_entries(oracle_ints key_mask)
{
    for (size_t j = 0; key_mask.data != NULL && j < key_mask.len; j++)
        if (key_mask.data[j] != 0 && key_mask.data[j] != 1)
            return ORACLE_EDOMAIN;
    return ORACLE_OK;
}

/* EDOMAIN: a query whose every key is masked. key_mask is absent or of
 * length n_k, its entries 0 or 1 (already checked). */
static enum oracle_status every_query_keeps_a_key(size_t n_q, size_t n_k,
                                                  oracle_ints key_mask,
                                                  int causal)
{
    for (size_t i = 0; i < n_q; i++) {
        size_t kept = 0;
        for (size_t j = 0; j < n_k; j++)
            kept += !oracle_attention_key_masked(key_mask.data, i, j, n_q,
                                                 n_k, causal);
        if (kept == 0)
            return ORACLE_EDOMAIN;
    }
    return ORACLE_OK;
}

enum oracle_status oracle_check_attention_weights(oracle_reals Q,
                                                  oracle_reals K,
                                                  oracle_ints key_mask,
                                                  int causal)
{
    size_t d_k = cols(Q), n_q = rows(Q), n_k = rows(K);
    const enum oracle_status found[] = {
        has_data(Q), has_data(K), ints_have_data(key_mask),
        at_least_one(d_k), at_least_one(n_k), same_size(cols(K), d_k),
        key_mask.data == NULL ? ORACLE_OK : same_size(key_mask.len, n_k),
        fits(Q), fits(K), table_fits(n_q, n_k),
        finite_entries(Q), finite_entries(K), mask_entries(key_mask)};
    enum oracle_status status = first_of(found, RULE_COUNT(found));
    if (status != ORACLE_OK)
        return status;
    return every_query_keeps_a_key(n_q, n_k, key_mask, causal);
}

enum oracle_status oracle_check_attention_weights_backward(
    oracle_reals Q, oracle_reals K, oracle_ints key_mask,
    oracle_reals dweights, int causal)
{
    enum oracle_status found = oracle_check_attention_weights(Q, K, key_mask,
                                                              causal);
    if (found != ORACLE_OK)
        return found;
    return upstream(dweights, 2, rows(Q), rows(K));
}

/* ---- the fused and end-to-end ops ---- */

enum oracle_status oracle_check_linear_cross_entropy(
    oracle_reals h, oracle_reals E, oracle_ints targets, oracle_reals dloss,
    oracle_reduction_code reduction, int64_t ignore_index)
{
    size_t d = cols(h), V = rows(E);
    const enum oracle_status found[] = {
        has_data(h), has_data(E), ints_have_data(targets),
        at_least_one(d), at_least_one(V), same_size(cols(E), d),
        same_size(targets.len, rows(h)),
        fits(h), fits(E), table_fits(rows(h), V),
        reduction_known(reduction), ignore_index_outside(ignore_index, V),
        finite_entries(h), finite_entries(E),
        targets_in_range(targets, V, ignore_index)};
    enum oracle_status status = first_of(found, RULE_COUNT(found));
    if (status != ORACLE_OK)
        return status;
    return upstream(dloss, 1, loss_length(reduction, rows(h)), 0);
}

/* EDIM: the tied model's LayerNorm needs both gamma and beta (d) or
 * neither. */
static enum oracle_status affine_pair(oracle_reals gamma, oracle_reals beta,
                                      size_t d)
{
    if (absent(gamma) && absent(beta))
        return ORACLE_OK;
    if (shape_is(gamma, 1, d, 0, 0) != ORACLE_OK)
        return ORACLE_EDIM;
    return shape_is(beta, 1, d, 0, 0);
}

/* eps, when the tied model has its LayerNorm. */
static enum oracle_status optional_eps(oracle_reals gamma, double eps)
{
    return absent(gamma) ? ORACLE_OK : positive_scalar(eps);
}

enum oracle_status oracle_check_tied_lm(const oracle_tied_lm_views *in)
{
    size_t n = in->ids.len, V = rows(in->E), d = cols(in->E);
    size_t L = rows(in->P);
    const enum oracle_status found[] = {
        ints_have_data(in->ids), ints_have_data(in->targets),
        has_data(in->E), has_data(in->P), has_data(in->gamma),
        has_data(in->beta), has_data(in->M),
        at_least_one(V), at_least_one(d), at_least_one(L),
        same_size(cols(in->P), d), L < n ? ORACLE_EDIM : ORACLE_OK,
        same_size(in->targets.len, n), affine_pair(in->gamma, in->beta, d),
        optional_shape_is(in->M, 2, d, d, 0),
        fits(in->E), fits(in->P), fits(in->M), table_fits(n, V),
        optional_eps(in->gamma, in->eps), reduction_scalar(in->reduction),
        ignore_index_outside(in->ignore_index, V),
        indices_below(in->ids, V, ORACLE_EINDEX),
        targets_in_range(in->targets, V, in->ignore_index),
        finite_entries(in->E), finite_entries(in->P),
        finite_entries(in->gamma), finite_entries(in->beta),
        finite_entries(in->M)};
    return first_of(found, RULE_COUNT(found));
}

size_t oracle_counted_targets(oracle_ints targets, int64_t ignore_index)
{
    size_t m = 0;
    for (size_t t = 0; targets.data != NULL && t < targets.len; t++)
        m += targets.data[t] != ignore_index;
    return m;
}

/* ---- the forward ops without a backward ---- */

/* EDOMAIN: a one-hot matrix (n, V) with an entry other than 0 or 1, or a
 * row without exactly one 1. */
static enum oracle_status onehot_entries(oracle_reals onehot)
{
    size_t n = rows(onehot), V = cols(onehot);
    if (onehot.data == NULL || count_of(onehot) == SIZE_MAX)
        return ORACLE_OK;
    for (size_t t = 0; t < n; t++) {
        size_t ones = 0;
        for (size_t v = 0; v < V; v++) {
            double x = onehot.data[t * V + v];
            if (x != 0.0 && x != 1.0)
                return ORACLE_EDOMAIN;
            ones += x == 1.0;
        }
        if (ones != 1)
            return ORACLE_EDOMAIN;
    }
    return ORACLE_OK;
}

enum oracle_status oracle_check_embed_onehot(oracle_reals onehot,
                                             oracle_reals E)
{
    size_t V = rows(E), d = cols(E);
    const enum oracle_status found[] = {
        has_data(onehot), has_data(E),
        at_least_one(V), at_least_one(d), same_size(cols(onehot), V),
        fits(onehot), fits(E), table_fits(rows(onehot), d),
        onehot_entries(onehot), finite_entries(E)};
    return first_of(found, RULE_COUNT(found));
}

/* The largest position of spec/sinusoid.md: 2^53. */
static const int64_t MAX_SINUSOID_POSITION = (int64_t)1 << 53;

/* A base that must be finite and > 1: ENONFINITE, then EDOMAIN. */
static enum oracle_status sinusoid_base(double base)
{
    if (!isfinite(base))
        return ORACLE_ENONFINITE;
    return base > 1.0 ? ORACLE_OK : ORACLE_EDOMAIN;
}

/* EPOS: a position outside [0, 2^53]. */
static enum oracle_status sinusoid_positions(oracle_ints positions)
{
    for (size_t t = 0; positions.data != NULL && t < positions.len; t++)
        if (positions.data[t] < 0
            || positions.data[t] > MAX_SINUSOID_POSITION)
            return ORACLE_EPOS;
    return ORACLE_OK;
}

enum oracle_status oracle_check_pos_sinusoid(oracle_ints positions, size_t d,
                                             double base)
{
    const enum oracle_status found[] = {
        ints_have_data(positions), at_least_one(d),
        table_fits(positions.len, d), sinusoid_base(base),
        sinusoid_positions(positions)};
    return first_of(found, RULE_COUNT(found));
}

/* EPOS: the composite's positions start ... start + n - 1 leave the
 * source: start < 0; past L rows (learned) or past 2^53 (sinusoidal). */
static enum oracle_status composite_positions(
    const oracle_position_views *pos, size_t n)
{
    if (pos->start < 0)
        return ORACLE_EPOS;
    uint64_t start = (uint64_t)pos->start;
    uint64_t end = pos->learned ? (uint64_t)rows(pos->P)
                                : (uint64_t)MAX_SINUSOID_POSITION + 1;
    return (start <= end && (uint64_t)n <= end - start) ? ORACLE_OK
                                                        : ORACLE_EPOS;
}

enum oracle_status oracle_check_compose(oracle_reals E, oracle_ints ids,
                                        const oracle_position_views *pos)
{
    size_t V = rows(E), d = cols(E);
    const enum oracle_status found[] = {
        has_data(E), ints_have_data(ids), has_data(pos->P),
        at_least_one(V), at_least_one(d),
        pos->learned ? at_least_one(rows(pos->P)) : ORACLE_OK,
        pos->learned ? same_size(cols(pos->P), d) : ORACLE_OK,
        fits(E), fits(pos->P), table_fits(ids.len, d),
        composite_positions(pos, ids.len),
        pos->learned ? ORACLE_OK : sinusoid_base(pos->base),
        finite_entries(E), indices_below(ids, V, ORACLE_EINDEX),
        finite_entries(pos->P)};
    return first_of(found, RULE_COUNT(found));
}

enum oracle_status oracle_check_compose_layernorm(
    oracle_reals E, oracle_ints ids, const oracle_position_views *pos,
    oracle_reals gamma, oracle_reals beta, double eps)
{
    size_t d = cols(E);
    const enum oracle_status found[] = {
        has_data(gamma), has_data(beta),
        shape_is(gamma, 1, d, 0, 0), shape_is(beta, 1, d, 0, 0),
        positive_scalar(eps),
        finite_entries(gamma), finite_entries(beta)};
    enum oracle_status status = oracle_check_compose(E, ids, pos);
    if (status != ORACLE_OK)
        return status;
    return first_of(found, RULE_COUNT(found));
}

enum oracle_status oracle_check_argmax(oracle_reals logits)
{
    const enum oracle_status found[] = {
        has_data(logits), at_least_one(cols(logits)), fits(logits),
        logit_entries(logits)};
    return first_of(found, RULE_COUNT(found));
}

/* top_p: ENONFINITE, then EDOMAIN outside (0, 1]. */
static enum oracle_status nucleus_mass(double top_p)
{
    if (!isfinite(top_p))
        return ORACLE_ENONFINITE;
    return (top_p > 0.0 && top_p <= 1.0) ? ORACLE_OK : ORACLE_EDOMAIN;
}

/* The draws r of the sampler: ENONFINITE, then EDOMAIN outside [0, 1). */
static enum oracle_status uniform_draws(oracle_reals r)
{
    enum oracle_status found = finite_entries(r);
    if (found != ORACLE_OK)
        return found;
    for (size_t t = 0; r.data != NULL && t < count_of(r); t++)
        if (r.data[t] < 0.0 || r.data[t] >= 1.0)
            return ORACLE_EDOMAIN;
    return ORACLE_OK;
}

enum oracle_status oracle_check_sample(oracle_reals logits, oracle_reals r,
                                       double tau, int64_t top_k,
                                       double top_p)
{
    const enum oracle_status found[] = {
        has_data(logits), has_data(r),
        at_least_one(cols(logits)), shape_is(r, 1, rows(logits), 0, 0),
        fits(logits),
        positive_scalar(tau), top_k < 0 ? ORACLE_EDOMAIN : ORACLE_OK,
        nucleus_mass(top_p),
        logit_entries(logits), uniform_draws(r)};
    return first_of(found, RULE_COUNT(found));
}

/* EDOMAIN: the lens' k outside [1, V]. */
static enum oracle_status top_count(int64_t k, size_t V)
{
    return (k < 1 || (uint64_t)k > (uint64_t)V) ? ORACLE_EDOMAIN : ORACLE_OK;
}

enum oracle_status oracle_check_logit_lens(oracle_reals hidden,
                                           oracle_reals E, oracle_reals gamma,
                                           oracle_reals beta, int64_t k,
                                           double eps)
{
    size_t layers = extent(hidden, 0), n = extent(hidden, 1);
    size_t d = extent(hidden, 2), V = rows(E);
    const enum oracle_status found[] = {
        has_data(hidden), has_data(E), has_data(gamma), has_data(beta),
        at_least_one(layers), at_least_one(d), at_least_one(V),
        same_size(cols(E), d), affine_pair(gamma, beta, d),
        fits(hidden), fits(E), table_fits(layers * n, V),
        top_count(k, V), optional_eps(gamma, eps),
        finite_entries(hidden), finite_entries(E), finite_entries(gamma),
        finite_entries(beta)};
    return first_of(found, RULE_COUNT(found));
}

/* 1 if a + b fits in int64 (a, b >= 0). */
static int sum_fits(int64_t a, int64_t b)
{
    return a <= INT64_MAX - b;
}

enum oracle_status oracle_check_param_count(int64_t vocab, int64_t d,
                                            int64_t block_params)
{
    if (vocab < 1 || d < 1 || block_params < 0)
        return ORACLE_EDOMAIN;
    if (vocab > INT64_MAX / d)
        return ORACLE_EOVERFLOW;
    int64_t shared = vocab * d;
    if (!sum_fits(shared, block_params)
        || !sum_fits(shared + block_params, shared))
        return ORACLE_EOVERFLOW;
    return ORACLE_OK;
}

/* The largest magnitude of a PCA input (spec/pca.md): 2^480. */
static const double MAX_PCA_MAGNITUDE = 0x1p480;

/* PCA's entries: ENONFINITE, then EDOMAIN beyond 2^480. */
static enum oracle_status pca_entries(oracle_reals X)
{
    enum oracle_status found = finite_entries(X);
    if (found != ORACLE_OK)
        return found;
    for (size_t i = 0; X.data != NULL && i < count_of(X); i++)
        if (X.data[i] > MAX_PCA_MAGNITUDE || X.data[i] < -MAX_PCA_MAGNITUDE)
            return ORACLE_EDOMAIN;
    return ORACLE_OK;
}

enum oracle_status oracle_check_pca(oracle_reals X, int64_t k)
{
    size_t n = rows(X), d = cols(X), rank = n < d ? n : d;
    const enum oracle_status found[] = {
        has_data(X), n < 2 ? ORACLE_EDIM : ORACLE_OK, at_least_one(d),
        fits(X), table_fits(d, d),
        (k < 1 || (uint64_t)k > (uint64_t)rank) ? ORACLE_EDOMAIN : ORACLE_OK,
        pca_entries(X)};
    return first_of(found, RULE_COUNT(found));
}
