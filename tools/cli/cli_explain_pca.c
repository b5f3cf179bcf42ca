/*
 * cli_explain_pca.c -- the --explain of pca (spec/pca.md): the column means,
 * the covariance C = X_c^T X_c / (n - 1) entry by entry (its first rows),
 * and the first principal direction by power iteration in plain double
 * arithmetic, with its Rayleigh quotient and the sign rule applied, so a
 * reader can see where the reference's first component and variance come
 * from. (The reference itself uses GSL's Jacobi SVD of the centred rows.)
 */
#include "cli_explain_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX CLI_EXPLAIN_MAX
#define POWER_STEPS 200

/* mean (d) and C (d, d) of X (n, d), n >= 2; Xc (n, d) the centred rows. */
static void covariance(const double *X, size_t n, size_t d, double *mean,
                       double *Xc, double *C)
{
    for (size_t j = 0; j < d; j++) {
        double sum = 0.0;
        for (size_t t = 0; t < n; t++)
            sum += X[t * d + j];
        mean[j] = sum / (double)n;
        for (size_t t = 0; t < n; t++)
            Xc[t * d + j] = X[t * d + j] - mean[j];
    }
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double sum = 0.0;
            for (size_t t = 0; t < n; t++)
                sum += Xc[t * d + i] * Xc[t * d + j];
            C[i * d + j] = sum / (double)(n - 1);
        }
}

/* v (d) = the dominant eigenvector of C (d, d) by power iteration from the
 * all-ones vector, signed by the rule of spec/pca.md; returns v^T C v.
 * w (d) is scratch. */
static double power_direction(const double *C, size_t d, double *v, double *w)
{
    for (size_t j = 0; j < d; j++)
        v[j] = 1.0 / sqrt((double)d);
    for (int step = 0; step < POWER_STEPS; step++) {
        double norm = 0.0;
        for (size_t i = 0; i < d; i++) {
            w[i] = 0.0;
            for (size_t j = 0; j < d; j++)
                w[i] += C[i * d + j] * v[j];
            norm += w[i] * w[i];
        }
        if (norm == 0.0)
            break; /* C = 0: every direction has variance 0 */
        for (size_t i = 0; i < d; i++)
            v[i] = w[i] / sqrt(norm);
    }
    size_t largest = 0;
    for (size_t j = 1; j < d; j++)
        if (fabs(v[j]) > fabs(v[largest]))
            largest = j;
    double sign = v[largest] < 0.0 ? -1.0 : 1.0, quotient = 0.0;
    for (size_t i = 0; i < d; i++) {
        v[i] *= sign;
        for (size_t j = 0; j < d; j++)
            quotient += v[i] * C[i * d + j] * v[j];
    }
    return quotient;
}

static void explain_pca(FILE *out, const vec_file *file, const vec_case *c)
{
    const vec_array *X = input(c, "X");
    int64_t k = param_int64(file, c, "k");
    if (X == NULL || X->ndim != 2 || X->shape[0] < 2 || X->shape[1] < 1)
        return;
    size_t n = X->shape[0], d = X->shape[1];
    double *mean = scratch(out, d), *Xc = scratch(out, n * d);
    double *C = scratch(out, d * d), *v = scratch(out, d), *w = scratch(out, d);
    if (mean && Xc && C && v && w) {
        fprintf(out, "X_c = X - 1 mu^T (centring), C = X_c^T X_c / (n - 1) "
                "with n - 1 = %zu; k = %lld of d = %zu directions\n", n - 1,
                (long long)k, d);
        covariance(X->f64, n, d, mean, Xc, C);
        fprintf(out, "mu = ");
        put_list(out, mean, d);
        fputc('\n', out);
        double trace = 0.0;
        for (size_t i = 0; i < d; i++) {
            trace += C[i * d + i];
            if (i < MAX) {
                fprintf(out, "C[%zu,:] = ", i);
                put_list(out, C + i * d, d);
                fputc('\n', out);
            }
        }
        put_more_rows(out, d, "rows of C");
        double lambda = power_direction(C, d, v, w);
        fprintf(out, "T = trace C = %s (the total variance, every direction)\n"
                "v_1 by %d steps of power iteration, largest |entry| made "
                "positive: ", num(trace).text, POWER_STEPS);
        put_list(out, v, d);
        fprintf(out, "\nlambda_1 = v_1^T C v_1 = %s, ratio_1 = lambda_1 / T = "
                "%s\n(power iteration converges as (lambda_2/lambda_1)^steps; "
                "where lambda_2 = lambda_1 it returns a vector of the span)\n",
                num(lambda).text, num(trace > 0.0 ? lambda / trace : 0.0).text);
    }
    free(mean);
    free(Xc);
    free(C);
    free(v);
    free(w);
}

explainer cli_explain_pca_find(const char *op)
{
    return strcmp(op, "pca") == 0 ? explain_pca : NULL;
}
