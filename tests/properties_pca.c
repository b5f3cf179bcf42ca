/*
 * properties_pca.c -- TAP test of properties of lmr_pca that spec/pca.md
 * implies, on random inputs (GSL's mt19937, fixed seeds): orthonormal
 * directions in descending order of variance, each signed by the rule,
 * projections that are the centred rows times the directions, the full
 * reconstruction equal to X, ratios summing to 1 over every direction,
 * exact behaviour under scaling by a power of two, and invariance under a
 * common offset and a permutation of the rows.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "check.h"
#include "lmr.h"
#include "tap.h"

#define MAX_N 24
#define MAX_D 12

typedef struct {
    double mean[MAX_D], comp[MAX_D * MAX_D], var[MAX_D], ratio[MAX_D];
    double proj[MAX_N * MAX_D], rec[MAX_N * MAX_D];
    lmr_pca_outputs out;
} result;

static int run(result *r, const double *X, size_t n, size_t d, size_t k)
{
    r->out = (lmr_pca_outputs){lmr_vec_out_of(r->mean, d),
                               lmr_mat_out_of(r->comp, k, d),
                               lmr_vec_out_of(r->var, k),
                               lmr_vec_out_of(r->ratio, k),
                               lmr_mat_out_of(r->proj, n, k),
                               lmr_mat_out_of(r->rec, n, d)};
    return lmr_pca(&r->out, lmr_mat_of(X, n, d), (int64_t)k);
}

static void fill(double *X, size_t count, gsl_rng *rng)
{
    for (size_t i = 0; i < count; i++)
        X[i] = 2.0 * gsl_rng_uniform(rng) - 1.0;
}

/* The worst |<v_i, v_l> - delta_il|. comp: (k, d) */
static double orthonormality(const double *comp, size_t k, size_t d)
{
    double worst = 0.0;
    for (size_t i = 0; i < k; i++)
        for (size_t l = 0; l < k; l++) {
            double dot = 0.0;
            for (size_t j = 0; j < d; j++)
                dot += comp[i * d + j] * comp[l * d + j];
            worst = fmax(worst, fabs(dot - (i == l)));
        }
    return worst;
}

/* 1 if every direction's entry of largest |value| is positive. */
static int signed_by_rule(const double *comp, size_t k, size_t d)
{
    for (size_t i = 0; i < k; i++) {
        size_t largest = 0;
        for (size_t j = 1; j < d; j++)
            if (fabs(comp[i * d + j]) > fabs(comp[i * d + largest]))
                largest = j;
        if (!(comp[i * d + largest] > 0.0))
            return 0;
    }
    return 1;
}

static void check_shape(gsl_rng *rng, size_t n, size_t d)
{
    double X[MAX_N * MAX_D];
    result r;
    size_t k = n < d ? n : d;
    fill(X, n * d, rng);
    int ok = run(&r, X, n, d, k) == LMR_OK;
    int descending = 1;
    double ratio_sum = 0.0, proj_err = 0.0, rec_err = 0.0;
    for (size_t i = 0; ok && i < k; i++) {
        descending &= i == 0 || r.var[i] <= r.var[i - 1];
        descending &= r.var[i] >= 0.0;
        ratio_sum += r.ratio[i];
    }
    for (size_t t = 0; ok && t < n; t++) {
        for (size_t i = 0; i < k; i++) {
            double z = 0.0;
            for (size_t j = 0; j < d; j++)
                z += (X[t * d + j] - r.mean[j]) * r.comp[i * d + j];
            proj_err = fmax(proj_err, fabs(z - r.proj[t * k + i]));
        }
        for (size_t j = 0; j < d; j++)
            rec_err = fmax(rec_err, fabs(r.rec[t * d + j] - X[t * d + j]));
    }
    tap_ok(ok && orthonormality(r.comp, k, d) < 1e-14,
           "%zu x %zu: orthonormal directions", n, d);
    tap_ok(ok && descending, "%zu x %zu: variances >= 0, descending", n, d);
    tap_ok(ok && signed_by_rule(r.comp, k, d), "%zu x %zu: the sign rule", n, d);
    tap_ok(ok && proj_err < 1e-14, "%zu x %zu: Z = X_c V^T (worst %.3g)", n, d,
           proj_err);
    tap_ok(ok && rec_err < 1e-14, "%zu x %zu: k = min(n, d) reconstructs X "
           "(worst %.3g)", n, d, rec_err);
    tap_ok(ok && fabs(ratio_sum - 1.0) < 1e-14, "%zu x %zu: the ratios of every "
           "direction sum to 1", n, d);
}

static void check_scaling(gsl_rng *rng)
{
    double X[8 * 5], Y[8 * 5];
    result a, b;
    fill(X, 40, rng);
    for (size_t i = 0; i < 40; i++)
        Y[i] = ldexp(X[i], 3);
    int ok = run(&a, X, 8, 5, 3) == LMR_OK && run(&b, Y, 8, 5, 3) == LMR_OK;
    int exact = ok;
    for (size_t i = 0; ok && i < 3; i++) {
        exact &= b.var[i] == ldexp(a.var[i], 6) && b.ratio[i] == a.ratio[i];
        for (size_t j = 0; j < 5; j++)
            exact &= b.comp[i * 5 + j] == a.comp[i * 5 + j];
    }
    tap_ok(exact, "X times 8: variances times 64, directions and ratios the "
           "same bits");
}

static void check_offset_and_order(gsl_rng *rng)
{
    double X[10 * 4], shifted[10 * 4], reversed[10 * 4];
    result a, b, c;
    fill(X, 40, rng);
    for (size_t t = 0; t < 10; t++)
        for (size_t j = 0; j < 4; j++) {
            shifted[t * 4 + j] = X[t * 4 + j] + 64.0;
            reversed[t * 4 + j] = X[(9 - t) * 4 + j];
        }
    int ok = run(&a, X, 10, 4, 2) == LMR_OK && run(&b, shifted, 10, 4, 2) == LMR_OK &&
             run(&c, reversed, 10, 4, 2) == LMR_OK;
    double var_err = 0.0, dir_err = 0.0, order_err = 0.0;
    for (size_t i = 0; ok && i < 2; i++) {
        var_err = fmax(var_err, fabs(b.var[i] - a.var[i]) / a.var[0]);
        order_err = fmax(order_err, fabs(c.var[i] - a.var[i]) / a.var[0]);
        for (size_t j = 0; j < 4; j++) {
            dir_err = fmax(dir_err, fabs(b.comp[i * 4 + j] - a.comp[i * 4 + j]));
            order_err = fmax(order_err, fabs(c.comp[i * 4 + j] - a.comp[i * 4 + j]));
        }
    }
    tap_ok(ok && var_err < 1e-12 && dir_err < 1e-11,
           "an offset of 64 moves the mean only (variances %.3g, directions %.3g)",
           var_err, dir_err);
    tap_ok(ok && order_err < 1e-14, "reversing the rows changes nothing (%.3g)",
           order_err);
}

int main(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 14005);
    static const size_t shapes[][2] = {{12, 5}, {4, 9}, {6, 6}, {2, 3}, {24, 12},
                                       {7, 1}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        check_shape(rng, shapes[i][0], shapes[i][1]);
    check_scaling(rng);
    check_offset_and_order(rng);
    gsl_rng_free(rng);
    tap_done();
    return tap_exit_status();
}
