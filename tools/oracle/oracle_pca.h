/*
 * oracle_pca.h -- the MPFR oracle for principal component analysis
 * (spec/pca.md; tolerances in spec/tolerance.md#pca). Same contract as
 * oracle.h: exact double inputs, ORACLE_PREC bits, each expected value
 * rounded once to nearest, each scale rounded upward, no libm/BLAS/ref
 * code, -1 on a violated precondition.
 */
#ifndef LMR_ORACLE_PCA_H
#define LMR_ORACLE_PCA_H

#include <stddef.h>

/* Each output and its per-element scale, with the shapes in the comments. */
typedef struct {
    double *mean, *mean_scale;                       /* (d) */
    double *components, *components_scale;           /* (k, d) */
    double *variances, *variances_scale;             /* (k) */
    double *ratios, *ratios_scale;                   /* (k) */
    double *projections, *projections_scale;         /* (n, k) */
    double *reconstruction, *reconstruction_scale;   /* (n, d) */
} oracle_pca_outputs;

/* What the oracle found out about the case besides the values. */
typedef struct {
    double k_mean, k_variances, k_ratios; /* K of those outputs */
    double k_directions;  /* K of components, projections, reconstruction */
    int repeated_variances; /* a gap_i (i <= k) or gap_sub is 0 */
    int near_degenerate;    /* some 0 < gap_i < 1e-6 T, i <= k */
    int rank_deficient;     /* lambda_min(n,d) = 0 */
    int sign_ambiguous;     /* a direction not judged for its sign margin */
    int total_zero;         /* T = 0: every row equal */
    int unjudged;           /* how many of the k directions are not judged */
    unsigned classes;       /* bit c (fp64, fp32, bf16, fp16): the case can
                               apply to class c (centring and signs) */
} oracle_pca_report;

/* spec/pca.md: the first k principal components of the rows of X (n, d),
 * 2 <= n, 1 <= k <= min(n, d). */
int oracle_pca(const oracle_pca_outputs *out, oracle_pca_report *report,
               const double *X, size_t n, size_t d, size_t k);

#endif
