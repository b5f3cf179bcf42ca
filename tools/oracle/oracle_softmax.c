/*
 * oracle_softmax.c -- the oracle of spec/softmax.md: softmax with
 * temperature, log-softmax and cross-entropy, and the exact row machinery
 * that tools/oracle/oracle_sample.c and tools/oracle/oracle_lens.c share.
 *
 * Per row u with temperature tau, at ORACLE_PREC bits:
 *   a       = max_j u_j over the unmasked entries        (exact)
 *   z_i     = (u_i - a)/tau     the difference is formed exactly, the
 *                               quotient rounded once
 *   w_i     = exp(z_i)          in (0, 1]; exactly 1 where u_i = a
 *   S       = sum_j w_j,   log S
 *   y_i     = w_i / S,     log y_i = z_i - log S
 * Masked entries (-inf) have y_i = 0 and log y_i = -inf, with scale 0.
 * Each expected double is its 256-bit value rounded once to nearest. Each
 * scale is its formula in spec/tolerance.md ("Output side") evaluated with
 * upward rounding at every step, then rounded upward to a double.
 */
#include <math.h> /* isfinite, isnan, isinf: classification, not arithmetic */
#include <stdint.h>
#include <stdlib.h>

#include <mpfr.h>

#include "oracle_head.h"
#include "oracle_internal.h"
#include "oracle_validate.h"

/* K of spec/tolerance.md#softmax, #log_softmax and #cross_entropy. */
static const double SOFTMAX_K = 2.0;

/* ---- MPFR vectors ---- */

mpfr_t *oracle_numbers_new(size_t count)
{
    if (count > SIZE_MAX / sizeof(mpfr_t))
        return NULL;
    mpfr_t *numbers = malloc(count > 0 ? count * sizeof *numbers : 1);
    if (numbers == NULL)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        mpfr_init2(numbers[i], ORACLE_PREC);
        mpfr_set_zero(numbers[i], 1);
    }
    return numbers;
}

void oracle_numbers_free(mpfr_t *numbers, size_t count)
{
    if (numbers == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        mpfr_clear(numbers[i]);
    free(numbers);
}

/* The arithmetic of a size with a number: x = x + v, x * v or x / v,
 * rounded in direction rnd (v is exact at ORACLE_PREC bits). */
enum size_operation { ADD_SIZE, MUL_SIZE, DIV_SIZE };

static void with_size(mpfr_t x, enum size_operation operation, size_t v,
                      mpfr_rnd_t rnd)
{
    mpfr_t size;
    mpfr_init2(size, ORACLE_PREC);
    oracle_set_size(size, v);
    if (operation == ADD_SIZE)
        mpfr_add(x, x, size, rnd);
    else if (operation == MUL_SIZE)
        mpfr_mul(x, x, size, rnd);
    else
        mpfr_div(x, x, size, rnd);
    mpfr_clear(size);
}

/* ---- one row ---- */

int oracle_softmax_row_init(oracle_softmax_row *row, size_t V)
{
    row->V = V;
    row->masked = malloc(V > 0 ? V : 1);
    row->u = oracle_numbers_new(V);
    row->z = oracle_numbers_new(V);
    row->weight = oracle_numbers_new(V);
    row->y = oracle_numbers_new(V);
    row->e = oracle_numbers_new(V);
    row->scale = oracle_numbers_new(V);
    mpfr_inits2(ORACLE_PREC, row->max, row->sum, row->log_sum,
                row->mean_error, (mpfr_ptr)0);
    row->unmasked = 0;
    row->argmax = 0;
    if (row->masked == NULL || row->u == NULL || row->z == NULL
        || row->weight == NULL || row->y == NULL || row->e == NULL
        || row->scale == NULL) {
        oracle_softmax_row_clear(row);
        return -1;
    }
    return 0;
}

void oracle_softmax_row_clear(oracle_softmax_row *row)
{
    free(row->masked);
    oracle_numbers_free(row->u, row->V);
    oracle_numbers_free(row->z, row->V);
    oracle_numbers_free(row->weight, row->V);
    oracle_numbers_free(row->y, row->V);
    oracle_numbers_free(row->e, row->V);
    oracle_numbers_free(row->scale, row->V);
    mpfr_clears(row->max, row->sum, row->log_sum, row->mean_error,
                (mpfr_ptr)0);
    row->masked = NULL;
    row->u = row->z = row->weight = row->y = row->e = row->scale = NULL;
}

int oracle_softmax_row_load(oracle_softmax_row *row, const double *logits)
{
    size_t finite = 0;
    for (size_t i = 0; i < row->V; i++) {
        if (isnan(logits[i]) || (isinf(logits[i]) && logits[i] > 0))
            return -1;
        row->masked[i] = isinf(logits[i]) ? 1 : 0;
        if (!row->masked[i]) {
            mpfr_set_d(row->u[i], logits[i], MPFR_RNDN); /* exact */
            finite++;
        }
    }
    return finite > 0 ? 0 : -1;
}

/* a = max u_i over the unmasked entries; also sets argmax and unmasked. */
static void find_max(oracle_softmax_row *row)
{
    int seen = 0;
    row->unmasked = 0;
    for (size_t i = 0; i < row->V; i++) {
        if (row->masked[i])
            continue;
        row->unmasked++;
        if (!seen || mpfr_greater_p(row->u[i], row->max)) {
            mpfr_set(row->max, row->u[i], MPFR_RNDN); /* same precision */
            row->argmax = i;
            seen = 1;
        }
    }
}

/* difference = x - y exactly: its precision is first raised to the number
 * of bits between the highest and lowest bit either operand can hold. */
static void exact_difference(mpfr_t difference, const mpfr_t x,
                             const mpfr_t y)
{
    mpfr_prec_t bits = mpfr_get_prec(x) > mpfr_get_prec(y)
                           ? mpfr_get_prec(x) : mpfr_get_prec(y);
    if (!mpfr_zero_p(x) && !mpfr_zero_p(y)) {
        mpfr_exp_t top = mpfr_get_exp(x) > mpfr_get_exp(y)
                             ? mpfr_get_exp(x) : mpfr_get_exp(y);
        mpfr_exp_t low_x = mpfr_get_exp(x) - mpfr_get_prec(x);
        mpfr_exp_t low_y = mpfr_get_exp(y) - mpfr_get_prec(y);
        mpfr_exp_t bottom = low_x < low_y ? low_x : low_y;
        bits = (mpfr_prec_t)(top - bottom) + 2;
    }
    mpfr_set_prec(difference, bits);
    mpfr_sub(difference, x, y, MPFR_RNDN); /* exact */
}

/* z_i = (u_i - a)/tau and weight_i = exp(z_i) for every unmasked i. */
static void set_exponents(oracle_softmax_row *row, double tau)
{
    mpfr_t difference;
    mpfr_init2(difference, ORACLE_PREC);
    for (size_t i = 0; i < row->V; i++) {
        if (row->masked[i])
            continue;
        exact_difference(difference, row->u[i], row->max);
        mpfr_div_d(row->z[i], difference, tau, MPFR_RNDN);
        mpfr_exp(row->weight[i], row->z[i], MPFR_RNDN);
    }
    mpfr_clear(difference);
}

/* S = sum_j w_j, log S, and y_i = w_i / S (0 where masked). */
static void normalise(oracle_softmax_row *row)
{
    mpfr_set_zero(row->sum, 1);
    for (size_t i = 0; i < row->V; i++)
        if (!row->masked[i])
            mpfr_add(row->sum, row->sum, row->weight[i], MPFR_RNDN);
    mpfr_log(row->log_sum, row->sum, MPFR_RNDN);
    for (size_t i = 0; i < row->V; i++) {
        if (row->masked[i])
            mpfr_set_zero(row->y[i], 1);
        else
            mpfr_div(row->y[i], row->weight[i], row->sum, MPFR_RNDN);
    }
}

/* e_i = 3|z_i| + (|u_i| + |a| + lambda_i + lambda_a)/tau, rounded upward
 * (lambda terms only when lambda is not NULL), and e-bar = sum_j y_j e_j.
 * A maximal input logit (u_i = a, no lambda) has e_i = 0: every class
 * rounds u_i and a alike, so z_i = 0 exactly (spec/tolerance.md#softmax).
 * lambda: (V) or NULL */
static void set_errors(oracle_softmax_row *row, double tau, mpfr_t *lambda)
{
    mpfr_t logit_error, magnitude; /* (|u_i| + |a| + ...)/tau; scratch */
    mpfr_inits2(ORACLE_PREC, logit_error, magnitude, (mpfr_ptr)0);
    mpfr_set_zero(row->mean_error, 1);
    for (size_t i = 0; i < row->V; i++) {
        if (row->masked[i])
            continue;
        if (lambda == NULL && mpfr_equal_p(row->u[i], row->max)) {
            mpfr_set_zero(row->e[i], 1);
            continue;
        }
        mpfr_abs(logit_error, row->u[i], MPFR_RNDU);
        mpfr_abs(magnitude, row->max, MPFR_RNDU);
        mpfr_add(logit_error, logit_error, magnitude, MPFR_RNDU);
        if (lambda != NULL) {
            mpfr_add(logit_error, logit_error, lambda[i], MPFR_RNDU);
            mpfr_add(logit_error, logit_error, lambda[row->argmax],
                     MPFR_RNDU);
        }
        mpfr_div_d(logit_error, logit_error, tau, MPFR_RNDU);
        mpfr_abs(magnitude, row->z[i], MPFR_RNDU);
        mpfr_mul_ui(row->e[i], magnitude, 3, MPFR_RNDU);
        mpfr_add(row->e[i], row->e[i], logit_error, MPFR_RNDU);
        mpfr_mul(magnitude, row->y[i], row->e[i], MPFR_RNDU);
        mpfr_add(row->mean_error, row->mean_error, magnitude, MPFR_RNDU);
    }
    mpfr_clears(logit_error, magnitude, (mpfr_ptr)0);
}

/* s_i = y_i (e_i + e-bar + |V| + 5), rounded upward; 0 where masked. */
static void set_scales(oracle_softmax_row *row)
{
    mpfr_t factor;
    mpfr_init2(factor, ORACLE_PREC);
    for (size_t i = 0; i < row->V; i++) {
        if (row->masked[i]) {
            mpfr_set_zero(row->scale[i], 1);
            continue;
        }
        mpfr_add(factor, row->e[i], row->mean_error, MPFR_RNDU);
        mpfr_add_ui(factor, factor, 5, MPFR_RNDU);
        with_size(factor, ADD_SIZE, row->V, MPFR_RNDU);
        mpfr_mul(row->scale[i], row->y[i], factor, MPFR_RNDU);
    }
    mpfr_clear(factor);
}

void oracle_softmax_row_compute(oracle_softmax_row *row, double tau,
                                mpfr_t *lambda)
{
    find_max(row);
    set_exponents(row, tau);
    normalise(row);
    set_errors(row, tau, lambda);
    set_scales(row);
}

/* log_y = log y_i = z_i - log S for an unmasked i. */
static void log_probability(mpfr_t log_y, const oracle_softmax_row *row,
                            size_t i)
{
    mpfr_sub(log_y, row->z[i], row->log_sum, MPFR_RNDN);
}

/* scale = e_i + e-bar + |V| + 2 + |log S| + 2|log y_i| of
 * spec/tolerance.md#log_softmax, rounded upward, for an unmasked i. */
static void log_probability_scale(mpfr_t scale, const oracle_softmax_row *row,
                                  size_t i)
{
    mpfr_t magnitude;
    mpfr_init2(magnitude, ORACLE_PREC);
    mpfr_add(scale, row->e[i], row->mean_error, MPFR_RNDU);
    with_size(scale, ADD_SIZE, row->V, MPFR_RNDU);
    mpfr_add_ui(scale, scale, 2, MPFR_RNDU);
    mpfr_abs(magnitude, row->log_sum, MPFR_RNDU);
    mpfr_add(scale, scale, magnitude, MPFR_RNDU);
    log_probability(magnitude, row, i);
    mpfr_abs(magnitude, magnitude, MPFR_RNDU);
    mpfr_mul_ui(magnitude, magnitude, 2, MPFR_RNDU);
    mpfr_add(scale, scale, magnitude, MPFR_RNDU);
    mpfr_clear(magnitude);
}

/* ---- the ops ---- */

/* spec/softmax.md#softmax. Contract: tools/oracle/oracle_head.h.
 * probs, scale, logits: (n, V) */
int oracle_softmax(double *probs, double *scale, double *k,
                   const double *logits, size_t n, size_t V, double tau)
{
    if (oracle_check_softmax(oracle_mat(logits, n, V), tau) != ORACLE_OK
        || !oracle_outputs_ok(probs, scale, k, n * V))
        return -1;
    oracle_softmax_row row;
    if (oracle_softmax_row_init(&row, V) != 0)
        return -1;
    int status = 0;
    for (size_t t = 0; status == 0 && t < n; t++) {
        status = oracle_softmax_row_load(&row, logits + t * V);
        if (status != 0)
            break;
        oracle_softmax_row_compute(&row, tau, NULL);
        for (size_t i = 0; i < V; i++) {
            probs[t * V + i] = mpfr_get_d(row.y[i], MPFR_RNDN);
            scale[t * V + i] = mpfr_get_d(row.scale[i], MPFR_RNDU);
        }
    }
    oracle_softmax_row_clear(&row);
    if (status == 0)
        *k = SOFTMAX_K;
    return status;
}

/* spec/softmax.md#log_softmax. Contract: tools/oracle/oracle_head.h.
 * logprobs, scale, logits: (n, V) */
int oracle_log_softmax(double *logprobs, double *scale, double *k,
                       const double *logits, size_t n, size_t V, double tau)
{
    if (oracle_check_log_softmax(oracle_mat(logits, n, V), tau) != ORACLE_OK
        || !oracle_outputs_ok(logprobs, scale, k, n * V))
        return -1;
    oracle_softmax_row row;
    if (oracle_softmax_row_init(&row, V) != 0)
        return -1;
    mpfr_t value;
    mpfr_init2(value, ORACLE_PREC);
    int status = 0;
    for (size_t t = 0; status == 0 && t < n; t++) {
        status = oracle_softmax_row_load(&row, logits + t * V);
        if (status != 0)
            break;
        oracle_softmax_row_compute(&row, tau, NULL);
        for (size_t i = 0; i < V; i++) {
            if (row.masked[i]) {
                logprobs[t * V + i] = -INFINITY;
                scale[t * V + i] = 0.0;
                continue;
            }
            log_probability(value, &row, i);
            logprobs[t * V + i] = mpfr_get_d(value, MPFR_RNDN);
            log_probability_scale(value, &row, i);
            scale[t * V + i] = mpfr_get_d(value, MPFR_RNDU);
        }
    }
    mpfr_clear(value);
    oracle_softmax_row_clear(&row);
    if (status == 0)
        *k = SOFTMAX_K;
    return status;
}

/* ---- cross-entropy ---- */

/* The losses of a batch, accumulated (spec/tolerance.md#cross_entropy). */
typedef struct {
    size_t counted;     /* m, the targets that are not ignore_index */
    int infinite;       /* 1 if a counted target is masked */
    mpfr_t total;       /* L = sum of the counted finite losses */
    mpfr_t total_scale; /* sum_t s_t, rounded upward */
} loss_sum;

/* The loss of one counted position with target c: loss = log S - z_c and
 * scale = s^{log_softmax}_c, or loss = +inf with scale 0 if c is masked.
 * Adds both to sums. */
static void position_loss(double *loss, double *scale, loss_sum *sums,
                          const oracle_softmax_row *row, size_t c)
{
    sums->counted++;
    if (row->masked[c]) {
        sums->infinite = 1;
        *loss = INFINITY;
        *scale = 0.0;
        return;
    }
    mpfr_t value;
    mpfr_init2(value, ORACLE_PREC);
    mpfr_sub(value, row->log_sum, row->z[c], MPFR_RNDN);
    mpfr_add(sums->total, sums->total, value, MPFR_RNDN);
    *loss = mpfr_get_d(value, MPFR_RNDN);
    log_probability_scale(value, row, c);
    mpfr_add(sums->total_scale, sums->total_scale, value, MPFR_RNDU);
    *scale = mpfr_get_d(value, MPFR_RNDU);
    mpfr_clear(value);
}

/* The reduced loss and its scale from the sums over n positions:
 *   sum:  L,    s = sum_t s_t + (n + 1) L
 *   mean: L/m,  s = (sum_t s_t + (n + 1) L)/m + |L/m|
 * +inf (scale 0) if a counted target was masked; the mean of no counted
 * target is NaN (scale 0). */
static void reduce(double *loss, double *scale, const loss_sum *sums,
                   size_t n, enum oracle_reduction reduction)
{
    int mean = reduction == ORACLE_REDUCE_MEAN;
    if (sums->infinite || (mean && sums->counted == 0)) {
        *loss = sums->infinite ? INFINITY : NAN;
        *scale = 0.0;
        return;
    }
    mpfr_t value, bound;
    mpfr_inits2(ORACLE_PREC, value, bound, (mpfr_ptr)0);
    mpfr_set(value, sums->total, MPFR_RNDN);
    mpfr_set(bound, sums->total, MPFR_RNDU);
    with_size(bound, MUL_SIZE, n, MPFR_RNDU);
    mpfr_add(bound, bound, sums->total, MPFR_RNDU); /* (n + 1) L */
    mpfr_add(bound, bound, sums->total_scale, MPFR_RNDU);
    if (mean) {
        with_size(value, DIV_SIZE, sums->counted, MPFR_RNDN);
        with_size(bound, DIV_SIZE, sums->counted, MPFR_RNDU);
        mpfr_add(bound, bound, value, MPFR_RNDU); /* L/m >= 0 */
    }
    *loss = mpfr_get_d(value, MPFR_RNDN);
    *scale = mpfr_get_d(bound, MPFR_RNDU);
    mpfr_clears(value, bound, (mpfr_ptr)0);
}

/* spec/softmax.md#cross_entropy. Contract: tools/oracle/oracle_head.h.
 * loss, scale: (n) for NONE, (1) otherwise; logits: (n, V); targets: (n) */
int oracle_cross_entropy(double *loss, double *scale, double *k,
                         const double *logits, const int64_t *targets,
                         size_t n, size_t V, enum oracle_reduction reduction,
                         int64_t ignore_index)
{
    int per_position = reduction == ORACLE_REDUCE_NONE;
    if (oracle_check_cross_entropy(oracle_mat(logits, n, V),
                                   oracle_ints_of(targets, n), reduction,
                                   ignore_index) != ORACLE_OK
        || !oracle_outputs_ok(loss, scale, k, per_position ? n : 1))
        return -1;
    oracle_softmax_row row;
    if (oracle_softmax_row_init(&row, V) != 0)
        return -1;
    loss_sum sums;
    sums.counted = 0;
    sums.infinite = 0;
    mpfr_inits2(ORACLE_PREC, sums.total, sums.total_scale, (mpfr_ptr)0);
    mpfr_set_zero(sums.total, 1);
    mpfr_set_zero(sums.total_scale, 1);
    int status = 0;
    for (size_t t = 0; status == 0 && t < n; t++) {
        status = oracle_softmax_row_load(&row, logits + t * V);
        double row_loss = 0.0, row_scale = 0.0; /* an ignored position */
        if (status == 0 && targets[t] != ignore_index) {
            oracle_softmax_row_compute(&row, 1.0, NULL);
            position_loss(&row_loss, &row_scale, &sums, &row,
                          (size_t)targets[t]);
        }
        if (status == 0 && per_position) {
            loss[t] = row_loss;
            scale[t] = row_scale;
        }
    }
    if (status == 0 && !per_position)
        reduce(loss, scale, &sums, n, reduction);
    mpfr_clears(sums.total, sums.total_scale, (mpfr_ptr)0);
    oracle_softmax_row_clear(&row);
    if (status == 0)
        *k = SOFTMAX_K;
    return status;
}
