/*
 * oracle_grad.c -- the MPFR oracle for the backward ops of the core
 * (spec/gradients.md: embed_lookup_backward, pos_learned_backward,
 * layernorm_backward, head_tied_backward, head_untied_backward,
 * softmax_backward, log_softmax_backward, cross_entropy_backward) and for
 * the end-to-end tied model tied_lm.
 *
 * Method. Every op is evaluated step by step as its formula is written in
 * spec/gradients.md, after the forward quantities it needs as described in
 * spec/tolerance.md#gradients, with errnums (tools/oracle/oracle_errnum.h): each
 * step is one row of the table there, so every quantity carries its exact
 * value and its running error bound E. An output's value is its exact value
 * rounded once to nearest; its scale is E rounded upward.
 *
 * Conventions of this file (the choices the spec leaves open are listed in
 * the comments where they are made):
 *  - stored numbers (inputs, parameters, upstream gradients, eps, tau) enter
 *    with errnum_input (E = |x|); counts (d, m) with errnum_count; the
 *    constants 0 and 1 of a formula with errnum_exact (E = 0);
 *  - a dot product, and every sum the spec writes with one Σ (also a double
 *    Σ_t Σ_i), is one application of the sum rule;
 *  - a gradient entry that receives no contribution (an absent token, a
 *    masked logit, an ignored row) is exactly 0 with scale 0.
 */
#include "oracle_grad.h"

#include <math.h> /* isfinite, isnan, isinf: classification only */
#include <stdlib.h>

#include "oracle_errnum.h"
#include "oracle_internal.h"
#include "oracle_validate.h"

/* ---- errnum arrays and outputs ------------------------------------------ */

/* count errnums, each exactly 0, or NULL if memory runs out. Free with
 * errnums_free. */
static errnum *errnums_new(size_t count)
{
    if (count > SIZE_MAX / sizeof(errnum))
        return NULL;
    errnum *xs = malloc(count == 0 ? 1 : count * sizeof(errnum));
    if (xs != NULL)
        errnum_init_array(xs, count);
    return xs;
}

/* xs: (count) from errnums_new, or NULL */
static void errnums_free(errnum *xs, size_t count)
{
    if (xs == NULL)
        return;
    errnum_clear_array(xs, count);
    free(xs);
}

/* 1 if an output is either not wanted or has room for its scales. */
static int out_ok(oracle_out out)
{
    return out.value == NULL || out.scale != NULL;
}

/* out[index] = x's value rounded to nearest (a zero as +0), scale = E
 * rounded upward. Nothing if the output is not wanted. */
static void put(oracle_out out, size_t index, const errnum *x)
{
    if (out.value == NULL)
        return;
    double value, scale;
    errnum_get(&value, &scale, x);
    out.value[index] = (value == 0.0) ? 0.0 : value;
    out.scale[index] = scale;
}

/* out[index] = 0 with scale 0: an entry without any contribution. */
static void put_zero(oracle_out out, size_t index)
{
    if (out.value == NULL)
        return;
    out.value[index] = 0.0;
    out.scale[index] = 0.0;
}

/* ---- dot products -------------------------------------------------------- */

/* One operand of a dot product: either computed errnums or stored doubles
 * (which enter as inputs, E = |x|); element k is at k * stride. */
typedef struct {
    const errnum *computed; /* NULL when the operand is stored */
    const double *stored;
    size_t stride;
} operand;

static operand stored_operand(const double *x, size_t stride)
{
    operand a = {NULL, x, stride};
    return a;
}

static operand computed_operand(const errnum *x, size_t stride)
{
    operand a = {x, NULL, stride};
    return a;
}

/* dst = element k of a. */
static void operand_get(errnum *dst, operand a, size_t k)
{
    if (a.computed != NULL)
        errnum_set(dst, &a.computed[k * a.stride]);
    else
        errnum_input(dst, a.stored[k * a.stride]);
}

/* r = Σ_{k < N} a_k b_k, one sum of N products. */
static void dot(errnum *r, operand a, operand b, size_t N)
{
    errnum x, y;
    errnum_init(&x);
    errnum_init(&y);
    errnum_sum sum;
    errnum_sum_begin(&sum);
    for (size_t k = 0; k < N; k++) {
        operand_get(&x, a, k);
        operand_get(&y, b, k);
        errnum_mul(&x, &x, &y);
        errnum_sum_add(&sum, &x);
    }
    errnum_sum_end(r, &sum);
    errnum_clear(&x);
    errnum_clear(&y);
}

/* ---- scatter-add (embed_lookup_backward, pos_learned_backward, tied_lm) -- */

#define NO_ROW SIZE_MAX

/* Where each row of a table occurs in an index array: first[v] is the
 * first t with index[t] == v (NO_ROW if none), next[t] the following
 * occurrence of the same row (NO_ROW after the last). */
typedef struct {
    size_t *first; /* (rows) */
    size_t *next;  /* (n) */
} occurrences;

/* Builds the occurrence lists of index (every entry in [0, rows)).
 * Returns -1 if memory runs out. index: (n) */
static int occurrences_build(occurrences *occ, const int64_t *index, size_t n,
                             size_t rows)
{
    occ->first = malloc((rows == 0 ? 1 : rows) * sizeof(size_t));
    occ->next = malloc((n == 0 ? 1 : n) * sizeof(size_t));
    if (occ->first == NULL || occ->next == NULL)
        return -1;
    for (size_t v = 0; v < rows; v++)
        occ->first[v] = NO_ROW;
    for (size_t t = n; t-- > 0;) { /* backwards, so each list is in order */
        size_t v = (size_t)index[t];
        occ->next[t] = occ->first[v];
        occ->first[v] = t;
    }
    return 0;
}

static void occurrences_free(occurrences *occ)
{
    free(occ->first);
    free(occ->next);
}

/* row_out[j] = Σ_{t : index[t] = v} terms[t * d + j] for j < d, one sum per
 * j over the occurrences of v; exactly 0 (E = 0) if v does not occur.
 * row_out: (d); terms: (n, d) */
static void scatter_row(errnum *row_out, operand terms,
                        const occurrences *occ, size_t v, size_t d)
{
    errnum term;
    errnum_init(&term);
    for (size_t j = 0; j < d; j++) {
        errnum_sum sum;
        errnum_sum_begin(&sum);
        for (size_t t = occ->first[v]; t != NO_ROW; t = occ->next[t]) {
            operand_get(&term, terms, t * d + j);
            errnum_sum_add(&sum, &term);
        }
        errnum_sum_end(&row_out[j], &sum);
    }
    errnum_clear(&term);
}

/* out[v,j] = Σ_{t : index[t] = v} dY[t,j]; rows that do not occur are 0
 * with scale 0. out: (rows, d); index: (n); dY: (n, d) */
static int scatter_add(oracle_out out, const int64_t *index, const double *dY,
                       size_t n, size_t rows, size_t d)
{
    occurrences occ;
    errnum *row = errnums_new(d);
    int status = -1;
    if (occurrences_build(&occ, index, n, rows) == 0 && row != NULL) {
        for (size_t v = 0; v < rows; v++) {
            if (occ.first[v] == NO_ROW) {
                for (size_t j = 0; j < d; j++)
                    put_zero(out, v * d + j);
                continue;
            }
            scatter_row(row, stored_operand(dY, 1), &occ, v, d);
            for (size_t j = 0; j < d; j++)
                put(out, v * d + j, &row[j]);
        }
        status = 0;
    }
    occurrences_free(&occ);
    errnums_free(row, d);
    return status;
}

/* A table size as the checks take it: past INT64_MAX, 0 (an EDIM). */
static int64_t size_argument(size_t size)
{
    return size <= (size_t)INT64_MAX ? (int64_t)size : 0;
}

/* spec/gradients.md#embed_lookup_backward. Contract: tools/oracle/oracle_grad.h. */
int oracle_embed_lookup_backward(oracle_out dE, const int64_t *ids,
                                 const double *dY, size_t n, size_t V, size_t d)
{
    if (!out_ok(dE)
        || oracle_check_embed_lookup_backward(oracle_ints_of(ids, n),
                                              oracle_mat(dY, n, d),
                                              size_argument(V)) != ORACLE_OK)
        return -1;
    return scatter_add(dE, ids, dY, n, V, d);
}

/* spec/gradients.md#pos_learned_backward. Contract: tools/oracle/oracle_grad.h. */
int oracle_pos_learned_backward(oracle_out dP, const int64_t *positions,
                                const double *dY, size_t n, size_t L, size_t d)
{
    if (!out_ok(dP)
        || oracle_check_pos_learned_backward(oracle_ints_of(positions, n),
                                             oracle_mat(dY, n, d),
                                             size_argument(L)) != ORACLE_OK)
        return -1;
    return scatter_add(dP, positions, dY, n, L, d);
}

/* ---- LayerNorm of one row ------------------------------------------------ */

/* The forward quantities of LayerNorm for one row, in the order of
 * spec/tolerance.md#gradients: μ = (Σ_k x_k)/d, centered_k = x_k − μ,
 * σ² = (Σ_k centered_k²)/d, r = 1/√(σ² + ε), z_j = centered_j · r. */
typedef struct {
    size_t d;
    errnum *centered; /* (d) */
    errnum *z;        /* (d) */
    errnum r;
} layernorm_row;

/* Returns -1 if memory runs out (the row is then cleared). */
static int layernorm_row_init(layernorm_row *row, size_t d)
{
    row->d = d;
    row->centered = errnums_new(d);
    row->z = errnums_new(d);
    errnum_init(&row->r);
    if (row->centered == NULL || row->z == NULL) {
        errnums_free(row->centered, d);
        errnums_free(row->z, d);
        errnum_clear(&row->r);
        return -1;
    }
    return 0;
}

static void layernorm_row_clear(layernorm_row *row)
{
    errnums_free(row->centered, row->d);
    errnums_free(row->z, row->d);
    errnum_clear(&row->r);
}

/* mean = (Σ_k values_k) / count, count an integer used as a real.
 * values: (count) */
static void mean_of(errnum *mean, const errnum *values, size_t count)
{
    errnum width;
    errnum_sum sum;
    errnum_init(&width);
    errnum_count(&width, count);
    errnum_sum_begin(&sum);
    for (size_t k = 0; k < count; k++)
        errnum_sum_add(&sum, &values[k]);
    errnum_sum_end(mean, &sum);
    errnum_div(mean, mean, &width);
    errnum_clear(&width);
}

/* Sets centered, r and z from the row x and eps (an errnum: stored or
 * exact). x: (d) */
static void layernorm_row_forward(layernorm_row *row, const errnum *x,
                                  const errnum *eps)
{
    size_t d = row->d;
    errnum width, mean, square, variance;
    errnum_init(&width);
    errnum_init(&mean);
    errnum_init(&square);
    errnum_init(&variance);
    errnum_count(&width, d);
    mean_of(&mean, x, d);

    errnum_sum sum;
    errnum_sum_begin(&sum);
    for (size_t k = 0; k < d; k++) {
        errnum_sub(&row->centered[k], &x[k], &mean);
        errnum_mul(&square, &row->centered[k], &row->centered[k]);
        errnum_sum_add(&sum, &square);
    }
    errnum_sum_end(&variance, &sum);
    errnum_div(&variance, &variance, &width);

    errnum_add(&variance, &variance, eps);
    errnum_sqrt(&variance, &variance);
    errnum_exact(&square, 1.0); /* the 1 of 1/√(σ² + ε) */
    errnum_div(&row->r, &square, &variance);
    for (size_t j = 0; j < d; j++)
        errnum_mul(&row->z[j], &row->centered[j], &row->r);

    errnum_clear(&width);
    errnum_clear(&mean);
    errnum_clear(&square);
    errnum_clear(&variance);
}

/* dx_j = r · ((g_j − ḡ) − z_j · m), with ḡ = (Σ_k g_k)/d and
 * m = (Σ_k g_k z_k)/d (spec/gradients.md#layernorm_backward).
 * dx, g: (d) */
static void layernorm_row_backward(errnum *dx, const layernorm_row *row,
                                   const errnum *g)
{
    size_t d = row->d;
    errnum width, g_mean, gz_mean, term;
    errnum_init(&width);
    errnum_init(&g_mean);
    errnum_init(&gz_mean);
    errnum_init(&term);
    errnum_count(&width, d);
    mean_of(&g_mean, g, d);

    dot(&gz_mean, computed_operand(g, 1), computed_operand(row->z, 1), d);
    errnum_div(&gz_mean, &gz_mean, &width);

    for (size_t j = 0; j < d; j++) {
        errnum_mul(&term, &row->z[j], &gz_mean);
        errnum_sub(&dx[j], &g[j], &g_mean);
        errnum_sub(&dx[j], &dx[j], &term);
        errnum_mul(&dx[j], &row->r, &dx[j]);
    }

    errnum_clear(&width);
    errnum_clear(&g_mean);
    errnum_clear(&gz_mean);
    errnum_clear(&term);
}

/* The sums over the rows of a batch that give dγ and dβ:
 * dβ_j = Σ_t dY[t,j], dγ_j = Σ_t dY[t,j] · z[t,j]. */
typedef struct {
    size_t d;
    errnum_sum *dgamma; /* (d) */
    errnum_sum *dbeta;  /* (d) */
} affine_sums;

/* Returns -1 if memory runs out. */
static int affine_sums_begin(affine_sums *sums, size_t d)
{
    sums->d = d;
    sums->dgamma = malloc((d == 0 ? 1 : d) * sizeof(errnum_sum));
    sums->dbeta = malloc((d == 0 ? 1 : d) * sizeof(errnum_sum));
    if (sums->dgamma == NULL || sums->dbeta == NULL) {
        free(sums->dgamma);
        free(sums->dbeta);
        return -1;
    }
    for (size_t j = 0; j < d; j++) {
        errnum_sum_begin(&sums->dgamma[j]);
        errnum_sum_begin(&sums->dbeta[j]);
    }
    return 0;
}

/* Adds one row's contributions. dY, z: (d) */
static void affine_sums_add(affine_sums *sums, const errnum *dY,
                            const errnum *z)
{
    errnum term;
    errnum_init(&term);
    for (size_t j = 0; j < sums->d; j++) {
        errnum_mul(&term, &dY[j], &z[j]);
        errnum_sum_add(&sums->dgamma[j], &term);
        errnum_sum_add(&sums->dbeta[j], &dY[j]);
    }
    errnum_clear(&term);
}

/* Ends the sums into the outputs (not wanted: NULL values) and frees them. */
static void affine_sums_end(affine_sums *sums, oracle_out dgamma,
                            oracle_out dbeta)
{
    errnum result;
    errnum_init(&result);
    for (size_t j = 0; j < sums->d; j++) {
        errnum_sum_end(&result, &sums->dgamma[j]);
        put(dgamma, j, &result);
        errnum_sum_end(&result, &sums->dbeta[j]);
        put(dbeta, j, &result);
    }
    errnum_clear(&result);
    free(sums->dgamma);
    free(sums->dbeta);
}

/* Working rows of oracle_layernorm_backward. */
typedef struct {
    errnum *x, *dY, *g, *dx; /* (d) each */
    layernorm_row row;
} layernorm_work;

static void layernorm_work_free(layernorm_work *w, size_t d)
{
    errnums_free(w->x, d);
    errnums_free(w->dY, d);
    errnums_free(w->g, d);
    errnums_free(w->dx, d);
}

/* Returns -1 if memory runs out (everything is then freed). */
static int layernorm_work_new(layernorm_work *w, size_t d)
{
    w->x = errnums_new(d);
    w->dY = errnums_new(d);
    w->g = errnums_new(d);
    w->dx = errnums_new(d);
    if (w->x == NULL || w->dY == NULL || w->g == NULL || w->dx == NULL) {
        layernorm_work_free(w, d);
        return -1;
    }
    if (layernorm_row_init(&w->row, d) != 0) {
        layernorm_work_free(w, d);
        return -1;
    }
    return 0;
}

/* spec/gradients.md#layernorm_backward. Contract: tools/oracle/oracle_grad.h. */
int oracle_layernorm_backward(oracle_out dx, oracle_out dgamma,
                              oracle_out dbeta, const double *x,
                              const double *gamma, const double *dY, size_t n,
                              size_t d, double eps)
{
    if (!out_ok(dx) || !out_ok(dgamma) || !out_ok(dbeta))
        return -1;
    if (oracle_check_layernorm_backward(oracle_mat(x, n, d),
                                        oracle_vec(gamma, d),
                                        oracle_mat(dY, n, d), eps) != ORACLE_OK)
        return -1;

    layernorm_work w;
    if (layernorm_work_new(&w, d) != 0)
        return -1;
    affine_sums sums;
    if (affine_sums_begin(&sums, d) != 0) {
        layernorm_row_clear(&w.row);
        layernorm_work_free(&w, d);
        return -1;
    }
    errnum eps_number, gamma_j;
    errnum_init(&eps_number);
    errnum_init(&gamma_j);
    errnum_input(&eps_number, eps);

    for (size_t t = 0; t < n; t++) {
        for (size_t j = 0; j < d; j++) {
            errnum_input(&w.x[j], x[t * d + j]);
            errnum_input(&w.dY[j], dY[t * d + j]);
            errnum_input(&gamma_j, gamma[j]);
            errnum_mul(&w.g[j], &gamma_j, &w.dY[j]);
        }
        layernorm_row_forward(&w.row, w.x, &eps_number);
        layernorm_row_backward(w.dx, &w.row, w.g);
        affine_sums_add(&sums, w.dY, w.row.z);
        for (size_t j = 0; j < d; j++)
            put(dx, t * d + j, &w.dx[j]);
    }
    affine_sums_end(&sums, dgamma, dbeta);

    errnum_clear(&eps_number);
    errnum_clear(&gamma_j);
    layernorm_row_clear(&w.row);
    layernorm_work_free(&w, d);
    return 0;
}

/* ---- heads --------------------------------------------------------------- */

/* spec/gradients.md#head_tied_backward. Contract: tools/oracle/oracle_grad.h. */
int oracle_head_tied_backward(oracle_out dh, oracle_out dE, const double *h,
                              const double *E, const double *dU, size_t n,
                              size_t V, size_t d)
{
    if (!out_ok(dh) || !out_ok(dE))
        return -1;
    if (oracle_check_head_tied_backward(oracle_mat(h, n, d), oracle_mat(E, V, d),
                                        oracle_mat(dU, n, V)) != ORACLE_OK)
        return -1;

    errnum result;
    errnum_init(&result);
    /* dh[t,j] = Σ_v dU[t,v] E[v,j] */
    for (size_t t = 0; t < n; t++)
        for (size_t j = 0; j < d; j++) {
            dot(&result, stored_operand(dU + t * V, 1),
                stored_operand(E + j, d), V);
            put(dh, t * d + j, &result);
        }
    /* dE[v,j] = Σ_t dU[t,v] h[t,j] */
    for (size_t v = 0; v < V; v++)
        for (size_t j = 0; j < d; j++) {
            dot(&result, stored_operand(dU + v, V), stored_operand(h + j, d),
                n);
            put(dE, v * d + j, &result);
        }
    errnum_clear(&result);
    return 0;
}

/* spec/gradients.md#head_untied_backward. Contract: tools/oracle/oracle_grad.h. */
int oracle_head_untied_backward(oracle_out dh, oracle_out dW, oracle_out db,
                                const double *h, const double *W,
                                const double *dU, size_t n, size_t V, size_t d)
{
    if (!out_ok(dh) || !out_ok(dW) || !out_ok(db))
        return -1;
    if (oracle_check_head_untied_backward(oracle_mat(h, n, d),
                                          oracle_mat(W, d, V),
                                          oracle_mat(dU, n, V)) != ORACLE_OK)
        return -1;

    errnum result, term;
    errnum_init(&result);
    errnum_init(&term);
    /* dh[t,j] = Σ_v dU[t,v] W[j,v] */
    for (size_t t = 0; t < n; t++)
        for (size_t j = 0; j < d; j++) {
            dot(&result, stored_operand(dU + t * V, 1),
                stored_operand(W + j * V, 1), V);
            put(dh, t * d + j, &result);
        }
    /* dW[j,v] = Σ_t h[t,j] dU[t,v] */
    for (size_t j = 0; j < d; j++)
        for (size_t v = 0; v < V; v++) {
            dot(&result, stored_operand(h + j, d), stored_operand(dU + v, V),
                n);
            put(dW, j * V + v, &result);
        }
    /* db[v] = Σ_t dU[t,v] */
    for (size_t v = 0; v < V; v++) {
        errnum_sum sum;
        errnum_sum_begin(&sum);
        for (size_t t = 0; t < n; t++) {
            errnum_input(&term, dU[t * V + v]);
            errnum_sum_add(&sum, &term);
        }
        errnum_sum_end(&result, &sum);
        put(db, v, &result);
    }
    errnum_clear(&result);
    errnum_clear(&term);
    return 0;
}

/* ---- softmax of one row -------------------------------------------------- */

/* The forward quantities of softmax for one row, as spec/softmax.md#softmax
 * evaluates them: a = u[top] the row maximum over the unmasked entries,
 * ζ_i = (u_i − a)/τ (no division without τ), S = Σ_j exp(ζ_j),
 * y_i = exp(ζ_i)/S. A maximal entry has ζ = 0 exactly with E = 0 (the rule
 * for x − x of the table); a masked entry has ζ = y = 0 exactly and is left
 * out of every sum. */
typedef struct {
    size_t V;
    unsigned char *masked; /* (V): 1 where u_i = −∞ */
    errnum *u;             /* (V): the logits; unused where masked */
    errnum *zeta;          /* (V) */
    errnum *y;             /* (V) */
    errnum S;
    size_t top;            /* the lowest index of a maximal logit */
    size_t unmasked;       /* the number of unmasked entries */
} softmax_row;

/* Returns -1 if memory runs out (the row is then cleared). */
static int softmax_row_init(softmax_row *row, size_t V)
{
    row->V = V;
    row->masked = calloc(V == 0 ? 1 : V, 1);
    row->u = errnums_new(V);
    row->zeta = errnums_new(V);
    row->y = errnums_new(V);
    errnum_init(&row->S);
    row->top = 0;
    row->unmasked = V;
    if (row->masked == NULL || row->u == NULL || row->zeta == NULL ||
        row->y == NULL) {
        free(row->masked);
        errnums_free(row->u, V);
        errnums_free(row->zeta, V);
        errnums_free(row->y, V);
        errnum_clear(&row->S);
        return -1;
    }
    return 0;
}

static void softmax_row_clear(softmax_row *row)
{
    free(row->masked);
    errnums_free(row->u, row->V);
    errnums_free(row->zeta, row->V);
    errnums_free(row->y, row->V);
    errnum_clear(&row->S);
}

/* Loads a row of stored logits (finite or −∞, checked by the caller).
 * logits: (V) */
static void softmax_row_load(softmax_row *row, const double *logits)
{
    for (size_t i = 0; i < row->V; i++) {
        row->masked[i] = isinf(logits[i]) ? 1 : 0;
        if (row->masked[i])
            errnum_exact(&row->u[i], 0.0);
        else
            errnum_input(&row->u[i], logits[i]);
    }
}

/* Computes top, ζ, S and y from u and masked (at least one entry unmasked).
 * tau: the temperature, or NULL for none. stored: 1 when the logits are
 * stored values, so that every entry equal to the maximum is the same
 * stored number and its ζ is exactly 0; 0 when they are computed (tied_lm),
 * where only the entry chosen as the maximum is. */
static void softmax_row_forward(softmax_row *row, const errnum *tau,
                                int stored)
{
    size_t V = row->V;
    row->top = V;
    row->unmasked = 0;
    for (size_t i = 0; i < V; i++) {
        if (row->masked[i])
            continue;
        row->unmasked++;
        if (row->top == V ||
            mpfr_greater_p(row->u[i].v, row->u[row->top].v))
            row->top = i;
    }
    const errnum *max = &row->u[row->top];

    errnum_sum sum;
    errnum_sum_begin(&sum);
    for (size_t i = 0; i < V; i++) {
        int is_max = (i == row->top) ||
                     (stored && mpfr_equal_p(row->u[i].v, max->v));
        if (row->masked[i] || is_max) {
            errnum_exact(&row->zeta[i], 0.0);
        } else {
            errnum_sub(&row->zeta[i], &row->u[i], max);
            if (tau != NULL)
                errnum_div(&row->zeta[i], &row->zeta[i], tau);
        }
        if (row->masked[i]) {
            errnum_exact(&row->y[i], 0.0);
            continue;
        }
        errnum_exp(&row->y[i], &row->zeta[i]); /* exp(ζ_i), for now */
        errnum_sum_add(&sum, &row->y[i]);
    }
    errnum_sum_end(&row->S, &sum);
    for (size_t i = 0; i < V; i++)
        if (!row->masked[i])
            errnum_div(&row->y[i], &row->y[i], &row->S);
}

/* ---- softmax and log-softmax backward ---------------------------------- */

/* One row of dlogits: softmax (take_log 0) or log-softmax (1), into
 * dlogits (errnums); masked entries are exactly 0, and so is every entry
 * that zero marks (exactly 0 over the reals, oracle_softmax_grad_zeros):
 * its bound is that of the formula, its value the exact 0 rather than the
 * residue the formula leaves at the working precision. Adds the row's
 * terms dlogits_i · ζ_i (unmasked i) to dtau_sum, and dlogits_i · (u_i/τ)
 * to dtau_unshifted (the bound of the unshifted form,
 * spec/tolerance.md#gradients).
 * G, zero: (V); dlogits: (V) */
static void softmax_backward_row(errnum *dlogits, errnum_sum *dtau_sum,
                                 errnum_sum *dtau_unshifted,
                                 const softmax_row *row, const double *G,
                                 const unsigned char *zero,
                                 const errnum *tau, int take_log)
{
    size_t V = row->V;
    errnum g_i, weighted, term;
    errnum_init(&g_i);
    errnum_init(&weighted);
    errnum_init(&term);

    /* softmax: ḡ = Σ_j y_j G_j; log-softmax: Γ = Σ_j G_j (unmasked j) */
    errnum_sum sum;
    errnum_sum_begin(&sum);
    for (size_t j = 0; j < V; j++) {
        if (row->masked[j])
            continue;
        errnum_input(&g_i, G[j]);
        if (take_log) {
            errnum_sum_add(&sum, &g_i);
        } else {
            errnum_mul(&term, &row->y[j], &g_i);
            errnum_sum_add(&sum, &term);
        }
    }
    errnum_sum_end(&weighted, &sum);

    for (size_t i = 0; i < V; i++) {
        if (row->masked[i]) {
            errnum_exact(&dlogits[i], 0.0);
            continue;
        }
        errnum_input(&g_i, G[i]);
        if (take_log) { /* (G_i − y_i Γ) / τ */
            errnum_mul(&term, &row->y[i], &weighted);
            errnum_sub(&term, &g_i, &term);
        } else {        /* y_i (G_i − ḡ) / τ */
            errnum_sub(&term, &g_i, &weighted);
            errnum_mul(&term, &row->y[i], &term);
        }
        errnum_div(&dlogits[i], &term, tau);
        if (zero[i])
            mpfr_set_zero(dlogits[i].v, 1);
        errnum_mul(&term, &dlogits[i], &row->zeta[i]);
        errnum_sum_add(dtau_sum, &term);
        errnum_div(&term, &row->u[i], tau);
        errnum_mul(&term, &dlogits[i], &term);
        errnum_sum_add(dtau_unshifted, &term);
    }
    errnum_clear(&g_i);
    errnum_clear(&weighted);
    errnum_clear(&term);
}

/* spec/gradients.md#softmax_backward and #log_softmax_backward.
 * Contract: tools/oracle/oracle_grad.h. */
int oracle_softmax_backward(oracle_out dlogits, oracle_out dtau,
                            const double *logits, const double *G, size_t n,
                            size_t V, double tau, int take_log)
{
    if (!out_ok(dlogits) || !out_ok(dtau) || (take_log != 0 && take_log != 1))
        return -1;
    oracle_reals logit_view = oracle_mat(logits, n, V);
    oracle_reals upstream_view = oracle_mat(G, n, V);
    enum oracle_status checked =
        take_log ? oracle_check_log_softmax_backward(logit_view, upstream_view,
                                                     tau)
                 : oracle_check_softmax_backward(logit_view, upstream_view,
                                                 tau);
    if (checked != ORACLE_OK)
        return -1;

    softmax_row row;
    if (softmax_row_init(&row, V) != 0)
        return -1;
    errnum *row_grad = errnums_new(V);
    unsigned char *zero = malloc(V);
    if (row_grad == NULL || zero == NULL) {
        errnums_free(row_grad, V);
        free(zero);
        softmax_row_clear(&row);
        return -1;
    }
    int status = 0;
    errnum tau_number, result, unshifted;
    errnum_init(&tau_number);
    errnum_init(&result);
    errnum_init(&unshifted);
    errnum_input(&tau_number, tau);

    /* dtau = −Σ_t Σ_i dlogits[t,i] ζ[t,i], one sum over the whole batch;
     * its bound is the larger of this form's and the unshifted form's
     * −Σ dlogits (u/τ), which autograd evaluates */
    errnum_sum dtau_sum, dtau_unshifted;
    errnum_sum_begin(&dtau_sum);
    errnum_sum_begin(&dtau_unshifted);
    for (size_t t = 0; t < n; t++) {
        softmax_row_load(&row, logits + t * V);
        softmax_row_forward(&row, &tau_number, 1);
        if (oracle_softmax_grad_zeros(zero, logits + t * V, G + t * V,
                                      row.masked, V, take_log) != 0)
            status = -1;
        softmax_backward_row(row_grad, &dtau_sum, &dtau_unshifted, &row,
                             G + t * V, zero, &tau_number, take_log);
        for (size_t i = 0; i < V; i++) {
            if (row.masked[i])
                put_zero(dlogits, t * V + i);
            else
                put(dlogits, t * V + i, &row_grad[i]);
        }
    }
    errnum_sum_end(&result, &dtau_sum);
    errnum_sum_end(&unshifted, &dtau_unshifted);
    mpfr_max(result.e, result.e, unshifted.e, MPFR_RNDU);
    errnum_neg(&result, &result);
    put(dtau, 0, &result);

    errnum_clear(&tau_number);
    errnum_clear(&result);
    errnum_clear(&unshifted);
    errnums_free(row_grad, V);
    free(zero);
    softmax_row_clear(&row);
    return status;
}

/* ---- cross-entropy backward ---------------------------------------------- */

/* 1 if target is counted (not ignore_index). */
static int counted(int64_t target, int64_t ignore_index)
{
    return target != ignore_index;
}

/* dlogits_i = w · (y_i − 1[i = target]) for one counted row. The
 * subtraction is made only at the target: elsewhere it subtracts an exact
 * 0, which no arithmetic rounds. Masked entries are exactly 0.
 * dlogits: (V) */
static void cross_entropy_row(errnum *dlogits, const softmax_row *row,
                              size_t target, const errnum *weight)
{
    errnum one;
    errnum_init(&one);
    errnum_exact(&one, 1.0);
    for (size_t i = 0; i < row->V; i++) {
        if (row->masked[i]) {
            errnum_exact(&dlogits[i], 0.0);
            continue;
        }
        if (i == target)
            errnum_sub(&dlogits[i], &row->y[i], &one);
        else
            errnum_set(&dlogits[i], &row->y[i]);
        errnum_mul(&dlogits[i], weight, &dlogits[i]);
    }
    errnum_clear(&one);
}

/* The weight w_t of row t of spec/gradients.md#cross_entropy_backward for
 * a counted row: dloss[t] (none), dloss (sum) or dloss/m (mean). */
static void row_weight(errnum *weight, const double *dloss, size_t t,
                       enum oracle_reduction reduction, size_t m)
{
    if (reduction == ORACLE_REDUCE_NONE) {
        errnum_input(weight, dloss[t]);
        return;
    }
    errnum_input(weight, dloss[0]);
    if (reduction == ORACLE_REDUCE_MEAN) {
        errnum count;
        errnum_init(&count);
        errnum_count(&count, m);
        errnum_div(weight, weight, &count);
        errnum_clear(&count);
    }
}

/* spec/gradients.md#cross_entropy_backward. Contract: tools/oracle/oracle_grad.h. */
int oracle_cross_entropy_backward(oracle_out dlogits, const double *logits,
                                  const int64_t *targets, const double *dloss,
                                  size_t n, size_t V,
                                  enum oracle_reduction reduction,
                                  int64_t ignore_index)
{
    size_t dloss_count = (reduction == ORACLE_REDUCE_NONE) ? n : 1;
    if (!out_ok(dlogits)
        || oracle_check_cross_entropy_backward(
               oracle_mat(logits, n, V), oracle_ints_of(targets, n),
               oracle_vec(dloss, dloss_count), reduction, ignore_index)
               != ORACLE_OK)
        return -1;
    size_t m = oracle_counted_targets(oracle_ints_of(targets, n), ignore_index);

    softmax_row row;
    if (softmax_row_init(&row, V) != 0)
        return -1;
    errnum *row_grad = errnums_new(V);
    if (row_grad == NULL) {
        softmax_row_clear(&row);
        return -1;
    }
    errnum weight;
    errnum_init(&weight);
    for (size_t t = 0; t < n; t++) {
        if (!counted(targets[t], ignore_index)) {
            for (size_t i = 0; i < V; i++)
                put_zero(dlogits, t * V + i);
            continue;
        }
        row_weight(&weight, dloss, t, reduction, m);
        softmax_row_load(&row, logits + t * V);
        softmax_row_forward(&row, NULL, 1);
        cross_entropy_row(row_grad, &row, (size_t)targets[t], &weight);
        for (size_t i = 0; i < V; i++) {
            if (row.masked[i])
                put_zero(dlogits, t * V + i);
            else
                put(dlogits, t * V + i, &row_grad[i]);
        }
    }
    errnum_clear(&weight);
    errnums_free(row_grad, V);
    softmax_row_clear(&row);
    return 0;
}

/* ---- tied_lm ------------------------------------------------------------- */

/* 1 if the inputs and outputs of spec/gradients.md#tied_lm are valid;
 * *m receives the number of counted targets. */
static int tied_lm_args_ok(const oracle_tied_lm_outputs *out,
                           const oracle_tied_lm_inputs *in, size_t *m)
{
    if (out == NULL || in == NULL)
        return 0;
    if (!out_ok(out->loss) || !out_ok(out->dE) || !out_ok(out->dE_input) ||
        !out_ok(out->dE_output) || !out_ok(out->dP) || !out_ok(out->dgamma) ||
        !out_ok(out->dbeta))
        return 0;
    size_t n = in->n, V = in->V, d = in->d;
    oracle_tied_lm_views views = {
        oracle_ints_of(in->ids, n), oracle_ints_of(in->targets, n),
        oracle_mat(in->E, V, d), oracle_mat(in->P, in->L, d),
        oracle_optional_vec(in->gamma, d), oracle_optional_vec(in->beta, d),
        oracle_optional_mat(in->M, d, d), in->eps, in->reduction,
        in->ignore_index};
    if (oracle_check_tied_lm(&views) != ORACLE_OK)
        return 0;
    *m = oracle_counted_targets(views.targets, in->ignore_index);
    return 1;
}

/* Every intermediate of tied_lm, each (rows, columns) row-major. Z, H, dZ
 * and dX point into other arrays when a stage is the identity. */
typedef struct {
    size_t n, V, d;
    errnum *X;  /* (n, d) E[w_t] + P[t] */
    errnum *Zn; /* (n, d) LayerNorm(X), or NULL */
    errnum *Hm; /* (n, d) Z M, or NULL */
    errnum *dU; /* (n, V) */
    errnum *dH; /* (n, d) */
    errnum *dZm; /* (n, d) dH Mᵀ, or NULL */
    errnum *dXn; /* (n, d) LayerNorm backward, or NULL */
    layernorm_row *rows; /* (n) LayerNorm's forward quantities, or NULL */
    size_t rows_ready;   /* how many of rows are initialised */
    const errnum *Z, *H, *dZ, *dX;
} tied_lm_work;

static void tied_lm_work_free(tied_lm_work *w)
{
    size_t nd = w->n * w->d;
    errnums_free(w->X, nd);
    errnums_free(w->Zn, nd);
    errnums_free(w->Hm, nd);
    errnums_free(w->dU, w->n * w->V);
    errnums_free(w->dH, nd);
    errnums_free(w->dZm, nd);
    errnums_free(w->dXn, nd);
    for (size_t t = 0; t < w->rows_ready; t++)
        layernorm_row_clear(&w->rows[t]);
    free(w->rows);
}

/* Allocates the intermediates. Returns -1 if memory runs out (free with
 * tied_lm_work_free in any case). */
static int tied_lm_work_new(tied_lm_work *w, const oracle_tied_lm_inputs *in)
{
    size_t n = in->n, d = in->d, nd = n * d;
    int layernorm = in->gamma != NULL, matrix = in->M != NULL;
    *w = (tied_lm_work){0};
    w->n = n;
    w->V = in->V;
    w->d = d;
    w->X = errnums_new(nd);
    w->dU = errnums_new(n * in->V);
    w->dH = errnums_new(nd);
    if (w->X == NULL || w->dU == NULL || w->dH == NULL)
        return -1;
    if (layernorm) {
        w->Zn = errnums_new(nd);
        w->dXn = errnums_new(nd);
        w->rows = malloc((n == 0 ? 1 : n) * sizeof(layernorm_row));
        if (w->Zn == NULL || w->dXn == NULL || w->rows == NULL)
            return -1;
        for (; w->rows_ready < n; w->rows_ready++)
            if (layernorm_row_init(&w->rows[w->rows_ready], d) != 0)
                return -1;
    }
    if (matrix) {
        w->Hm = errnums_new(nd);
        w->dZm = errnums_new(nd);
        if (w->Hm == NULL || w->dZm == NULL)
            return -1;
    }
    w->Z = layernorm ? w->Zn : w->X;
    w->H = matrix ? w->Hm : w->Z;
    w->dZ = matrix ? w->dZm : w->dH;
    w->dX = layernorm ? w->dXn : w->dZ;
    return 0;
}

/* X, then Z = γ z + β (LayerNorm), then H = Z M. */
static void tied_lm_forward_hidden(tied_lm_work *w,
                                   const oracle_tied_lm_inputs *in)
{
    size_t n = w->n, d = w->d;
    errnum a, b;
    errnum_init(&a);
    errnum_init(&b);
    for (size_t t = 0; t < n; t++)
        for (size_t j = 0; j < d; j++) {
            errnum_input(&a, in->E[(size_t)in->ids[t] * d + j]);
            errnum_input(&b, in->P[t * d + j]);
            errnum_add(&w->X[t * d + j], &a, &b);
        }
    if (in->gamma != NULL) {
        errnum eps;
        errnum_init(&eps);
        errnum_input(&eps, in->eps);
        for (size_t t = 0; t < n; t++) {
            layernorm_row_forward(&w->rows[t], &w->X[t * d], &eps);
            for (size_t j = 0; j < d; j++) {
                errnum_input(&a, in->gamma[j]);
                errnum_input(&b, in->beta[j]);
                errnum_mul(&w->Zn[t * d + j], &a, &w->rows[t].z[j]);
                errnum_add(&w->Zn[t * d + j], &w->Zn[t * d + j], &b);
            }
        }
        errnum_clear(&eps);
    }
    if (in->M != NULL) /* H[t,b] = Σ_a Z[t,a] M[a,b] */
        for (size_t t = 0; t < n; t++)
            for (size_t col = 0; col < d; col++)
                dot(&w->Hm[t * d + col], computed_operand(w->Z + t * d, 1),
                    stored_operand(in->M + col, d), d);
    errnum_clear(&a);
    errnum_clear(&b);
}

/* The logits u = H Eᵀ, softmax, the loss and dU = ∂L/∂u, row by row. The
 * upstream gradient of the loss is the exact constant 1, so w = 1 (sum) or
 * 1/m (mean), and dU[t,i] = w (y_i − 1[i = c_t]); an ignored row's dU is
 * exactly 0. The loss is Σ_t (log S_t − ζ_{t,c_t}) over the counted rows,
 * divided by m for the mean. Returns -1 if memory runs out. */
static int tied_lm_loss(tied_lm_work *w, const oracle_tied_lm_inputs *in,
                        size_t m, oracle_out loss)
{
    size_t n = w->n, V = w->V, d = w->d;
    softmax_row row;
    if (softmax_row_init(&row, V) != 0)
        return -1;
    errnum weight, count, term;
    errnum_init(&weight);
    errnum_init(&count);
    errnum_init(&term);
    errnum_exact(&weight, 1.0);
    errnum_count(&count, m);
    if (in->reduction == ORACLE_REDUCE_MEAN && m > 0)
        errnum_div(&weight, &weight, &count);

    errnum_sum loss_sum;
    errnum_sum_begin(&loss_sum);
    for (size_t t = 0; t < n; t++) {
        errnum *dU_row = w->dU + t * V;
        if (!counted(in->targets[t], in->ignore_index)) {
            for (size_t i = 0; i < V; i++)
                errnum_exact(&dU_row[i], 0.0);
            continue;
        }
        size_t target = (size_t)in->targets[t];
        for (size_t v = 0; v < V; v++) /* u[t,v] = Σ_j H[t,j] E[v,j] */
            dot(&row.u[v], computed_operand(w->H + t * d, 1),
                stored_operand(in->E + v * d, 1), d);
        softmax_row_forward(&row, NULL, 0);
        errnum_log(&term, &row.S);
        errnum_sub(&term, &term, &row.zeta[target]);
        errnum_sum_add(&loss_sum, &term);
        cross_entropy_row(dU_row, &row, target, &weight);
    }
    errnum_sum_end(&term, &loss_sum);
    if (in->reduction == ORACLE_REDUCE_MEAN && m > 0)
        errnum_div(&term, &term, &count);
    if (in->reduction == ORACLE_REDUCE_MEAN && m == 0) {
        if (loss.value != NULL) { /* 0/0, as the forward */
            loss.value[0] = NAN;
            loss.scale[0] = 0.0;
        }
    } else {
        put(loss, 0, &term);
    }

    errnum_clear(&weight);
    errnum_clear(&count);
    errnum_clear(&term);
    softmax_row_clear(&row);
    return 0;
}

/* dH = dU E, dZ = dH Mᵀ, then LayerNorm's backward into dX, dgamma and
 * dbeta. Returns -1 if memory runs out. */
static int tied_lm_backward_hidden(tied_lm_work *w,
                                   const oracle_tied_lm_inputs *in,
                                   const oracle_tied_lm_outputs *out)
{
    size_t n = w->n, V = w->V, d = w->d;
    for (size_t t = 0; t < n; t++) /* dH[t,j] = Σ_v dU[t,v] E[v,j] */
        for (size_t j = 0; j < d; j++)
            dot(&w->dH[t * d + j], computed_operand(w->dU + t * V, 1),
                stored_operand(in->E + j, d), V);
    if (in->M != NULL) /* dZ[t,a] = Σ_b dH[t,b] M[a,b] */
        for (size_t t = 0; t < n; t++)
            for (size_t a = 0; a < d; a++)
                dot(&w->dZm[t * d + a], computed_operand(w->dH + t * d, 1),
                    stored_operand(in->M + a * d, 1), d);
    if (in->gamma == NULL)
        return 0;

    errnum *g = errnums_new(d);
    affine_sums sums;
    if (g == NULL || affine_sums_begin(&sums, d) != 0) {
        errnums_free(g, d);
        return -1;
    }
    errnum gamma_j;
    errnum_init(&gamma_j);
    for (size_t t = 0; t < n; t++) {
        for (size_t j = 0; j < d; j++) {
            errnum_input(&gamma_j, in->gamma[j]);
            errnum_mul(&g[j], &gamma_j, &w->dZ[t * d + j]);
        }
        layernorm_row_backward(w->dXn + t * d, &w->rows[t], g);
        affine_sums_add(&sums, w->dZ + t * d, w->rows[t].z);
    }
    affine_sums_end(&sums, out->dgamma, out->dbeta);
    errnum_clear(&gamma_j);
    errnums_free(g, d);
    return 0;
}

/* dP[t,:] = dX[t,:] for t < n and 0 below; for every row v of E:
 * dE_output[v,j] = Σ_t dU[t,v] H[t,j], dE_input = the scatter-add of dX by
 * ids, dE = dE_input + dE_output. Returns -1 if memory runs out. */
static int tied_lm_parameter_grads(const tied_lm_work *w,
                                   const oracle_tied_lm_inputs *in,
                                   const oracle_tied_lm_outputs *out)
{
    size_t n = w->n, V = w->V, d = w->d;
    for (size_t t = 0; t < in->L; t++)
        for (size_t j = 0; j < d; j++) {
            if (t < n)
                put(out->dP, t * d + j, &w->dX[t * d + j]);
            else
                put_zero(out->dP, t * d + j);
        }

    occurrences occ;
    errnum *input_row = errnums_new(d);
    int status = -1;
    if (occurrences_build(&occ, in->ids, n, V) == 0 && input_row != NULL) {
        errnum output_share, total;
        errnum_init(&output_share);
        errnum_init(&total);
        for (size_t v = 0; v < V; v++) {
            scatter_row(input_row, computed_operand(w->dX, 1), &occ, v, d);
            for (size_t j = 0; j < d; j++) {
                dot(&output_share, computed_operand(w->dU + v, V),
                    computed_operand(w->H + j, d), n);
                errnum_add(&total, &input_row[j], &output_share);
                put(out->dE_input, v * d + j, &input_row[j]);
                put(out->dE_output, v * d + j, &output_share);
                put(out->dE, v * d + j, &total);
            }
        }
        errnum_clear(&output_share);
        errnum_clear(&total);
        status = 0;
    }
    occurrences_free(&occ);
    errnums_free(input_row, d);
    return status;
}

/* spec/gradients.md#tied_lm. Contract: tools/oracle/oracle_grad.h. */
int oracle_tied_lm(const oracle_tied_lm_outputs *out,
                   const oracle_tied_lm_inputs *in)
{
    size_t m = 0;
    if (!tied_lm_args_ok(out, in, &m))
        return -1;
    tied_lm_work w;
    int status = tied_lm_work_new(&w, in);
    if (status == 0) {
        tied_lm_forward_hidden(&w, in);
        status = tied_lm_loss(&w, in, m, out->loss);
    }
    if (status == 0)
        status = tied_lm_backward_hidden(&w, in, out);
    if (status == 0)
        status = tied_lm_parameter_grads(&w, in, out);
    tied_lm_work_free(&w);
    return status;
}

/* ---- attention weights backward ------------------------------------------ */

/* Row i's weights: u_j = (Q[i,:] . K[j,:]) / root for the unmasked keys,
 * then softmax's forward of computed logits (tau = 1). */
static void attention_row_forward(softmax_row *row, const double *Q,
                                  const double *K, const int64_t *key_mask,
                                  size_t i, size_t n_q, size_t d_k,
                                  int causal, const errnum *root)
{
    for (size_t j = 0; j < row->V; j++) {
        row->masked[j] = (unsigned char)oracle_attention_key_masked(key_mask, i, j,
                                                             n_q, row->V, causal);
        if (row->masked[j]) {
            errnum_exact(&row->u[j], 0.0);
            continue;
        }
        dot(&row->u[j], stored_operand(Q + i * d_k, 1),
            stored_operand(K + j * d_k, 1), d_k);
        errnum_div(&row->u[j], &row->u[j], root);
    }
    softmax_row_forward(row, NULL, 0);
}

/* The value of dS_j = y_j (G_j - gbar) in a form without cancellation,
 * y_j sum_m y_m (G_j - G_m) (equal over the reals since sum_m y_m = 1):
 * exactly 0 where the row's upstream gradients are equal, and accurate where
 * G_j - gbar is far below G_j (weights of 1e-87). G: (n_k) */
static void attention_ds_value(mpfr_t value, const softmax_row *row,
                               const double *G, size_t j)
{
    mpfr_t term, factor;
    mpfr_inits2(ORACLE_PREC, term, factor, (mpfr_ptr)0);
    mpfr_set_zero(value, 1);
    for (size_t m = 0; m < row->V; m++) {
        if (row->masked[m] || m == j)
            continue;
        mpfr_set_d(factor, G[j], MPFR_RNDN);
        mpfr_sub_d(factor, factor, G[m], MPFR_RNDN); /* exact: the vectors' doubles lie within 2^200 of each other */
        mpfr_mul(term, row->y[m].v, factor, MPFR_RNDN);
        mpfr_add(value, value, term, MPFR_RNDN);
    }
    mpfr_mul(value, value, row->y[j].v, MPFR_RNDN);
    mpfr_clears(term, factor, (mpfr_ptr)0);
}

/* dS[j] = y_j (G_j - gbar), gbar = sum_j y_j G_j, 0 at a masked key: the
 * bound of that formula, the value of attention_ds_value. dS, G: (n_k) */
static void attention_row_backward(errnum *dS, const softmax_row *row,
                                   const double *G)
{
    errnum g, gbar, term;
    errnum_init(&g);
    errnum_init(&gbar);
    errnum_init(&term);
    errnum_sum sum;
    errnum_sum_begin(&sum);
    for (size_t j = 0; j < row->V; j++) {
        if (row->masked[j])
            continue;
        errnum_input(&g, G[j]);
        errnum_mul(&term, &row->y[j], &g);
        errnum_sum_add(&sum, &term);
    }
    errnum_sum_end(&gbar, &sum);
    for (size_t j = 0; j < row->V; j++) {
        if (row->masked[j]) {
            errnum_exact(&dS[j], 0.0);
            continue;
        }
        errnum_input(&g, G[j]);
        errnum_sub(&term, &g, &gbar);
        errnum_mul(&dS[j], &row->y[j], &term);
        attention_ds_value(dS[j].v, row, G, j);
    }
    errnum_clear(&g);
    errnum_clear(&gbar);
    errnum_clear(&term);
}

/* value = sum_{j < m} y_j y_m (G_j - G_m)(K[j,l] - K[m,l]) / root over the
 * unmasked keys: dQ[i,l] in a form that is exactly 0 where every term is
 * (equal upstream gradients, or equal key entries), equal to
 * sum_j dS_j K[j,l] / root over the reals since sum_j y_j = 1.
 * G: (n_k); K: (n_k, d_k) */
static void attention_dq_value(mpfr_t value, const softmax_row *row,
                               const double *G, const double *K, size_t l,
                               size_t d_k, const errnum *root)
{
    mpfr_t term, factor;
    mpfr_inits2(ORACLE_PREC, term, factor, (mpfr_ptr)0);
    mpfr_set_zero(value, 1);
    for (size_t j = 0; j < row->V; j++)
        for (size_t m = j + 1; m < row->V; m++) {
            if (row->masked[j] || row->masked[m])
                continue;
            mpfr_mul(term, row->y[j].v, row->y[m].v, MPFR_RNDN);
            mpfr_set_d(factor, G[j], MPFR_RNDN);
            mpfr_sub_d(factor, factor, G[m], MPFR_RNDN); /* exact: the vectors' doubles lie within 2^200 of each other */
            mpfr_mul(term, term, factor, MPFR_RNDN);
            mpfr_set_d(factor, K[j * d_k + l], MPFR_RNDN);
            mpfr_sub_d(factor, factor, K[m * d_k + l], MPFR_RNDN);
            mpfr_mul(term, term, factor, MPFR_RNDN);
            mpfr_add(value, value, term, MPFR_RNDN);
        }
    mpfr_div(value, value, root->v, MPFR_RNDN);
    mpfr_clears(term, factor, (mpfr_ptr)0);
}

/* spec/gradients.md#attention_weights_backward. Contract:
 * tools/oracle/oracle_grad.h. */
int oracle_attention_weights_backward(oracle_out dQ, oracle_out dK,
                                      const double *Q, const double *K,
                                      const int64_t *key_mask, const double *G,
                                      size_t n_q, size_t n_k, size_t d_k,
                                      int causal)
{
    oracle_ints mask = key_mask != NULL ? oracle_ints_of(key_mask, n_k)
                                        : oracle_ints_absent();
    if (!out_ok(dQ) || !out_ok(dK)
        || oracle_check_attention_weights_backward(
               oracle_mat(Q, n_q, d_k), oracle_mat(K, n_k, d_k), mask,
               oracle_mat(G, n_q, n_k), causal) != ORACLE_OK)
        return -1;
    softmax_row row;
    if (softmax_row_init(&row, n_k) != 0)
        return -1;
    errnum *dS = errnums_new(n_q * n_k);
    if (dS == NULL) {
        softmax_row_clear(&row);
        return -1;
    }
    errnum root, x;
    errnum_init(&root);
    errnum_init(&x);
    errnum_count(&root, d_k);
    errnum_sqrt(&root, &root);
    for (size_t i = 0; i < n_q; i++) {
        attention_row_forward(&row, Q, K, key_mask, i, n_q, d_k, causal, &root);
        attention_row_backward(dS + i * n_k, &row, G + i * n_k);
        for (size_t l = 0; l < d_k; l++) { /* dQ[i,l] = sum_j dS_j K[j,l] / root */
            dot(&x, computed_operand(dS + i * n_k, 1), stored_operand(K + l, d_k),
                n_k);
            errnum_div(&x, &x, &root);
            attention_dq_value(x.v, &row, G + i * n_k, K, l, d_k, &root);
            put(dQ, i * d_k + l, &x);
        }
    }
    for (size_t j = 0; j < n_k; j++) /* dK[j,l] = sum_i dS[i,j] Q[i,l] / root */
        for (size_t l = 0; l < d_k; l++) {
            dot(&x, computed_operand(dS + j, n_k), stored_operand(Q + l, d_k), n_q);
            errnum_div(&x, &x, &root);
            put(dK, j * d_k + l, &x);
        }
    errnum_clear(&root);
    errnum_clear(&x);
    errnums_free(dS, n_q * n_k);
    softmax_row_clear(&row);
    return 0;
}
/* ---- linear_cross_entropy ----------------------------------------------- */

/* 1 if the inputs and outputs of spec/linear_cross_entropy.md are valid;
 * *m receives the number of counted targets. */
static int lce_args_ok(oracle_out loss, oracle_out dh, oracle_out dE,
                       const oracle_lce_inputs *in, size_t *m)
{
    if (in == NULL || !out_ok(loss) || !out_ok(dh) || !out_ok(dE))
        return 0;
    size_t n = in->n, dloss_count = in->reduction == ORACLE_REDUCE_NONE ? n : 1;
    oracle_ints targets = oracle_ints_of(in->targets, n);
    if (oracle_check_linear_cross_entropy(
            oracle_mat(in->h, n, in->d), oracle_mat(in->E, in->V, in->d),
            targets, oracle_vec(in->dloss, dloss_count), in->reduction,
            in->ignore_index) != ORACLE_OK)
        return 0;
    *m = oracle_counted_targets(targets, in->ignore_index);
    return 1;
}

/* ---- exact sums for dyadic inputs (linear_cross_entropy) ---------------- */

/* The largest numerator of the exact integer dot products, and of the
 * grouped sums of dh. */
#define DYADIC_NUMERATOR_LIMIT (1 << 24)

/* GCC's and Clang's 128-bit integers (an extension of ISO C): a dot product
 * of d < 2^60 products of numerators below 2^24 is exact in them. */
__extension__ typedef __int128 int128;
__extension__ typedef unsigned __int128 uint128;
#define GROUP_NUMERATOR_LIMIT 256

/* x (count) as integers num (count) at one exponent: x[i] = num[i] 2^-shift
 * with |num[i]| <= limit. Returns 0 (and leaves num partly written) when x
 * is not of that form with shift <= 60. Exact: every step scales by 2. */
static int dyadic_numerators(int64_t *num, int *shift, const double *x,
                             size_t count, int64_t limit)
{
    int largest = 0;
    for (size_t i = 0; i < count; i++) {
        double y = x[i];
        int s = 0;
        while (!(y > -0x1p62 && y < 0x1p62 && (double)(int64_t)y == y)) {
            if (++s > 60 || !isfinite(y))
                return 0;
            y *= 2.0;
        }
        largest = s > largest ? s : largest;
    }
    double scale = 1.0;
    for (int s = 0; s < largest; s++)
        scale *= 2.0;
    for (size_t i = 0; i < count; i++) {
        double y = x[i] * scale; /* exact: a power of 2 */
        if (!(y >= -(double)limit && y <= (double)limit))
            return 0;
        num[i] = (int64_t)y;
    }
    *shift = largest;
    return 1;
}

/* r = z 2^-shift, exactly (z has at most 128 bits). */
static void set_int128(mpfr_t r, int128 z, int shift)
{
    uint128 magnitude = z < 0 ? -(uint128)z : (uint128)z;
    mpfr_t low;
    mpfr_init2(low, 64);
    mpfr_set_uj(r, (uintmax_t)(magnitude >> 64), MPFR_RNDN);
    mpfr_mul_2ui(r, r, 64, MPFR_RNDN);
    mpfr_set_uj(low, (uintmax_t)(magnitude & UINT64_MAX), MPFR_RNDN);
    mpfr_add(r, r, low, MPFR_RNDN); /* exact: ORACLE_PREC >= 128 */
    mpfr_clear(low);
    if (z < 0)
        mpfr_neg(r, r, MPFR_RNDN);
    mpfr_div_2ui(r, r, (unsigned long)shift, MPFR_RNDN);
}

/* The dyadic forms of h and E, when they have them. */
typedef struct {
    int64_t *h, *E;   /* (n,d), (V,d) numerators, or NULL */
    int h_shift, E_shift;
    int grouped;      /* 1: E's numerators have at most 8 bits */
} lce_dyadic;

static void lce_dyadic_free(lce_dyadic *x)
{
    free(x->h);
    free(x->E);
}

/* Fills x when in allows the exact paths; x->h NULL otherwise (or when
 * memory runs out: the plain path is then taken). */
static void lce_dyadic_find(lce_dyadic *x, const oracle_lce_inputs *in)
{
    size_t nd = in->n * in->d, Vd = in->V * in->d;
    *x = (lce_dyadic){NULL, NULL, 0, 0, 0};
    if (in->plain_sums)
        return;
    x->h = malloc((nd ? nd : 1) * sizeof(int64_t));
    x->E = malloc(Vd * sizeof(int64_t));
    if (x->h == NULL || x->E == NULL ||
        !dyadic_numerators(x->h, &x->h_shift, in->h, nd, DYADIC_NUMERATOR_LIMIT) ||
        !dyadic_numerators(x->E, &x->E_shift, in->E, Vd, DYADIC_NUMERATOR_LIMIT)) {
        lce_dyadic_free(x);
        *x = (lce_dyadic){NULL, NULL, 0, 0, 0};
        return;
    }
    x->grouped = 1;
    for (size_t i = 0; i < Vd && x->grouped; i++)
        x->grouped = x->E[i] >= -GROUP_NUMERATOR_LIMIT &&
                     x->E[i] <= GROUP_NUMERATOR_LIMIT;
}

/* u = Σ_j h[t,j] E[v,j] exactly, with the bound of the dot rule:
 * E(u) = (d + 2) Σ_j |h E| + |u| (each stored product 3|hE|, the sum
 * (d − 1) Σ|hE| + |u|), both from integers. */
static void exact_logit(errnum *u, const lce_dyadic *x, size_t t, size_t v,
                        size_t d)
{
    int128 sum = 0, magnitude = 0;
    const int64_t *a = x->h + t * d, *b = x->E + v * d;
    for (size_t j = 0; j < d; j++) {
        int128 product = (int128)a[j] * b[j];
        sum += product;
        magnitude += product < 0 ? -product : product;
    }
    int128 bound = (int128)(d + 2) * magnitude + (sum < 0 ? -sum : sum);
    set_int128(u->v, sum, x->h_shift + x->E_shift);
    set_int128(u->e, bound, x->h_shift + x->E_shift);
}

/* dh[t,:] = Σ_v dU[t,v] E[v,:] with the dot rule's bound, grouped by the
 * value of E[v,j] = k 2^-E_shift: dh_j = Σ_k k 2^-E_shift B_jk with B_jk the
 * sum of dU[t,v] over the v with numerator k at column j, and
 * E(dh_j) = Σ_k |k| 2^-E_shift C_jk + |dh_j|, C_jk the sum of
 * (V + 1)|dU[t,v]| + E(dU[t,v]) over the same v (the stored factor's
 * E = |E[v,j]| and the sum rule's (V − 1) Σ|terms| rearranged), plus the
 * working precision's own rounding of the bins. dU_row: (V). Returns -1 if
 * memory runs out. */
static int grouped_dh_row(oracle_out dh, size_t t, const errnum *dU_row,
                          const lce_dyadic *x, size_t V, size_t d)
{
    size_t bins = 2 * GROUP_NUMERATOR_LIMIT + 1, count = bins;
    mpfr_t *B = malloc(count * sizeof(mpfr_t)), *C = malloc(count * sizeof(mpfr_t));
    mpfr_t *q = malloc(V * sizeof(mpfr_t));
    if (B == NULL || C == NULL || q == NULL) {
        free(B);
        free(C);
        free(q);
        return -1;
    }
    /* the bound's sums need no more than 64 bits: they round upward */
    for (size_t i = 0; i < count; i++) {
        mpfr_init2(B[i], ORACLE_PREC);
        mpfr_init2(C[i], 64);
    }
    mpfr_t total, bound, term;
    mpfr_inits2(ORACLE_PREC, total, bound, term, (mpfr_ptr)0);
    mpfr_set_zero(total, 1); /* Σ_v |dU_v|, for the bins' own rounding */
    for (size_t v = 0; v < V; v++) {
        mpfr_init2(q[v], 64);
        mpfr_abs(q[v], dU_row[v].v, MPFR_RNDU);
        mpfr_add(total, total, q[v], MPFR_RNDU);
        mpfr_mul_ui(q[v], q[v], (unsigned long)(V + 1), MPFR_RNDU);
        mpfr_add(q[v], q[v], dU_row[v].e, MPFR_RNDU);
    }
    errnum result;
    errnum_init(&result);
    /* one column at a time, so that its bins stay in cache */
    for (size_t j = 0; j < d; j++) {
        for (size_t k = 0; k < bins; k++) {
            mpfr_set_zero(B[k], 1);
            mpfr_set_zero(C[k], 1);
        }
        for (size_t v = 0; v < V; v++) {
            size_t k = (size_t)(x->E[v * d + j] + GROUP_NUMERATOR_LIMIT);
            mpfr_add(B[k], B[k], dU_row[v].v, MPFR_RNDN);
            mpfr_add(C[k], C[k], q[v], MPFR_RNDU);
        }
        mpfr_set_zero(result.v, 1);
        mpfr_set_zero(bound, 1);
        for (size_t k = 0; k < bins; k++) {
            long numerator = (long)k - GROUP_NUMERATOR_LIMIT;
            mpfr_mul_si(term, B[k], numerator, MPFR_RNDN);
            mpfr_add(result.v, result.v, term, MPFR_RNDN);
            mpfr_mul_ui(term, C[k], (unsigned long)labs(numerator), MPFR_RNDU);
            mpfr_add(bound, bound, term, MPFR_RNDU);
        }
        mpfr_div_2ui(result.v, result.v, (unsigned long)x->E_shift, MPFR_RNDN);
        mpfr_div_2ui(bound, bound, (unsigned long)x->E_shift, MPFR_RNDU);
        /* + |dh_j| + the bins' rounding: (V + bins) additions, each within
         * 2^-ORACLE_PREC of GROUP_NUMERATOR_LIMIT 2^-E_shift Σ|dU| */
        mpfr_abs(term, result.v, MPFR_RNDU);
        mpfr_add(bound, bound, term, MPFR_RNDU);
        mpfr_mul_ui(term, total, (unsigned long)(V + bins) * GROUP_NUMERATOR_LIMIT,
                    MPFR_RNDU);
        mpfr_div_2ui(term, term, (unsigned long)(ORACLE_PREC + x->E_shift - 2),
                     MPFR_RNDU);
        mpfr_add(result.e, bound, term, MPFR_RNDU);
        put(dh, t * d + j, &result);
    }
    errnum_clear(&result);
    for (size_t i = 0; i < count; i++) {
        mpfr_clear(B[i]);
        mpfr_clear(C[i]);
    }
    for (size_t v = 0; v < V; v++)
        mpfr_clear(q[v]);
    mpfr_clears(total, bound, term, (mpfr_ptr)0);
    free(B);
    free(C);
    free(q);
    return 0;
}

/* The forward of the composition, row by row: u[t,v] = Σ_j h[t,j] E[v,j]
 * (one sum of d products), the softmax of computed logits, the row's loss
 * log S − ζ_{c_t} and dU[t,:] = w_t (y − onehot(c_t)); an ignored row has
 * loss 0 and dU exactly 0. The reduced loss is one sum over the counted
 * rows, divided by m for the mean (NaN when m = 0, as the forward).
 * dU: (n, V). Returns -1 if memory runs out. */
static int lce_forward(errnum *dU, oracle_out loss, const oracle_lce_inputs *in,
                       const lce_dyadic *exact, size_t m)
{
    size_t n = in->n, V = in->V, d = in->d;
    softmax_row row;
    if (softmax_row_init(&row, V) != 0)
        return -1;
    errnum weight, term, count;
    errnum_init(&weight);
    errnum_init(&term);
    errnum_init(&count);
    errnum_sum loss_sum;
    errnum_sum_begin(&loss_sum);
    for (size_t t = 0; t < n; t++) {
        errnum *dU_row = dU + t * V;
        if (!counted(in->targets[t], in->ignore_index)) {
            for (size_t v = 0; v < V; v++)
                errnum_exact(&dU_row[v], 0.0);
            if (in->reduction == ORACLE_REDUCE_NONE)
                put_zero(loss, t);
            continue;
        }
        size_t target = (size_t)in->targets[t];
        for (size_t v = 0; v < V; v++) {
            if (exact->h != NULL)
                exact_logit(&row.u[v], exact, t, v, d);
            else
                dot(&row.u[v], stored_operand(in->h + t * d, 1),
                    stored_operand(in->E + v * d, 1), d);
        }
        softmax_row_forward(&row, NULL, 0);
        errnum_log(&term, &row.S);
        errnum_sub(&term, &term, &row.zeta[target]);
        if (in->reduction == ORACLE_REDUCE_NONE)
            put(loss, t, &term);
        errnum_sum_add(&loss_sum, &term);
        row_weight(&weight, in->dloss, t, in->reduction, m);
        cross_entropy_row(dU_row, &row, target, &weight);
    }
    errnum_sum_end(&term, &loss_sum);
    if (in->reduction == ORACLE_REDUCE_SUM) {
        put(loss, 0, &term);
    } else if (in->reduction == ORACLE_REDUCE_MEAN && m > 0) {
        errnum_count(&count, m);
        errnum_div(&term, &term, &count);
        put(loss, 0, &term);
    } else if (in->reduction == ORACLE_REDUCE_MEAN && loss.value != NULL) {
        loss.value[0] = NAN; /* 0/0, as the forward */
        loss.scale[0] = 0.0;
    }
    errnum_clear(&weight);
    errnum_clear(&term);
    errnum_clear(&count);
    softmax_row_clear(&row);
    return 0;
}

/* spec/linear_cross_entropy.md. Contract: tools/oracle/oracle_grad.h. */
int oracle_linear_cross_entropy(oracle_out loss, oracle_out dh, oracle_out dE,
                                const oracle_lce_inputs *in)
{
    size_t m = 0;
    if (!lce_args_ok(loss, dh, dE, in, &m))
        return -1;
    size_t n = in->n, V = in->V, d = in->d;
    lce_dyadic exact;
    lce_dyadic_find(&exact, in);
    errnum *dU = errnums_new(n * V); /* (n, V) */
    int status = dU != NULL ? lce_forward(dU, loss, in, &exact, m) : -1;
    errnum result;
    errnum_init(&result);
    for (size_t t = 0; status == 0 && t < n; t++) { /* dh[t,j] = Σ_v dU[t,v] E[v,j] */
        if (counted(in->targets[t], in->ignore_index) && exact.grouped) {
            status = grouped_dh_row(dh, t, dU + t * V, &exact, V, d);
            continue;
        }
        for (size_t j = 0; j < d; j++) {
            if (!counted(in->targets[t], in->ignore_index)) {
                put_zero(dh, t * d + j);
                continue;
            }
            dot(&result, computed_operand(dU + t * V, 1),
                stored_operand(in->E + j, d), V);
            put(dh, t * d + j, &result);
        }
    }
    lce_dyadic_free(&exact);
    if (status != 0) {
        errnum_clear(&result);
        errnums_free(dU, n * V);
        return -1;
    }
    for (size_t v = 0; dE.value != NULL && v < V; v++) /* dE[v,j] = Σ_t dU[t,v] h[t,j] */
        for (size_t j = 0; j < d; j++) {
            dot(&result, computed_operand(dU + v, V),
                stored_operand(in->h + j, d), n);
            put(dE, v * d + j, &result);
        }
    errnum_clear(&result);
    errnums_free(dU, n * V);
    return 0;
}
