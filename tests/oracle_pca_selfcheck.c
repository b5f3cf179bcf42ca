/*
 * oracle_pca_selfcheck.c -- TAP self-test of the MPFR oracle of pca
 * (tools/oracle/oracle_pca.h).
 *
 * Every expected value here is derived without the oracle's Jacobi
 * rotations: rows +-s_i e_i, whose covariance is diagonal (variances
 * 2 s_i^2 / (n - 1), directions e_i, computed here with MPFR from the
 * formula); the closed form of a 2 x 2 eigenproblem; the sign rule on
 * vectors chosen so that it matters; the invariances the spec implies
 * (a common offset changes the mean only; exact zeros stay zeros); the
 * flags and classes of spec/pca.md; and the eigen-equation C v = lambda v
 * checked in plain double arithmetic on a random-looking matrix.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <mpfr.h>

#include "oracle_pca.h"
#include "tap.h"

#define MAX_N 16
#define MAX_D 8

typedef struct {
    double mean[MAX_D], mean_s[MAX_D];
    double comp[MAX_D * MAX_D], comp_s[MAX_D * MAX_D];
    double var[MAX_D], var_s[MAX_D], ratio[MAX_D], ratio_s[MAX_D];
    double proj[MAX_N * MAX_D], proj_s[MAX_N * MAX_D];
    double rec[MAX_N * MAX_D], rec_s[MAX_N * MAX_D];
    oracle_pca_outputs out;
    oracle_pca_report report;
} result;

static int run(result *r, const double *X, size_t n, size_t d, size_t k)
{
    memset(r, 0, sizeof *r);
    r->out = (oracle_pca_outputs){r->mean, r->mean_s, r->comp, r->comp_s,
                                  r->var, r->var_s, r->ratio, r->ratio_s,
                                  r->proj, r->proj_s, r->rec, r->rec_s};
    return oracle_pca(&r->out, &r->report, X, n, d, k);
}

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* a * b / c rounded once (MPFR at 256 bits, then to nearest). */
static double exact_ratio(double a, double b, double c)
{
    mpfr_t x;
    mpfr_init2(x, 256);
    mpfr_set_d(x, a, MPFR_RNDN);
    mpfr_mul_d(x, x, b, MPFR_RNDN);
    mpfr_div_d(x, x, c, MPFR_RNDN);
    double value = mpfr_get_d(x, MPFR_RNDN);
    mpfr_clear(x);
    return value;
}

/* X (2d, d): rows +s_i e_i, -s_i e_i. */
static void axis_pairs(double *X, const double *s, size_t d)
{
    memset(X, 0, 2 * d * d * sizeof *X);
    for (size_t i = 0; i < d; i++) {
        X[(2 * i) * d + i] = s[i];
        X[(2 * i + 1) * d + i] = -s[i];
    }
}

static void test_axis_pairs(void)
{
    static const double s[4] = {2.0, 1.5, 1.0, 0.25};
    double X[8 * 4];
    result r;
    axis_pairs(X, s, 4);
    int ok = run(&r, X, 8, 4, 4) == 0;
    tap_ok(ok, "axis pairs: the oracle accepts 8 x 4, k = 4");
    int var_ok = 1, dir_ok = 1, proj_ok = 1, rec_ok = 1, ratio_ok = 1;
    double total = 0.0;
    for (size_t i = 0; i < 4; i++)
        total += s[i] * s[i]; /* exact: few bits */
    for (size_t i = 0; i < 4; i++) {
        var_ok &= same_bits(r.var[i], exact_ratio(2.0 * s[i], s[i], 7.0));
        ratio_ok &= same_bits(r.ratio[i], exact_ratio(s[i], s[i], total));
        for (size_t j = 0; j < 4; j++)
            dir_ok &= same_bits(r.comp[i * 4 + j], i == j ? 1.0 : 0.0);
        for (size_t t = 0; t < 8; t++) {
            double want = t / 2 == i ? (t % 2 == 0 ? s[i] : -s[i]) : 0.0;
            proj_ok &= same_bits(r.proj[t * 4 + i] + 0.0, want);
        }
    }
    for (size_t e = 0; e < 32; e++)
        rec_ok &= r.rec[e] == X[e];
    tap_ok(ok && var_ok, "axis pairs: variances 2 s_i^2 / (n - 1), rounded once");
    tap_ok(ok && ratio_ok, "axis pairs: ratios s_i^2 / sum s^2");
    tap_ok(ok && dir_ok, "axis pairs: the directions are e_i, exactly");
    tap_ok(ok && proj_ok, "axis pairs: the projections are +-s_i and exact zeros");
    tap_ok(ok && rec_ok, "axis pairs: k = d reconstructs X exactly");
    tap_ok(ok && (r.report.classes & 3u) == 3u && !r.report.repeated_variances &&
           !r.report.rank_deficient && r.report.unjudged == 0,
           "axis pairs: fp64 and fp32, no flag (classes %#x)", r.report.classes);
    tap_ok(ok && r.mean[0] == 0.0 && r.var_s[0] >= r.var[0] && r.comp_s[0] >= 1.0,
           "axis pairs: mean 0, scales cover the values");
}

/* lambda = (a + c)/2 +- sqrt(((a - c)/2)^2 + b^2) and v_1 ~ (b, lambda_1 - a)
 * for C = [[a, b], [b, c]], at 256 bits. */
static void closed_form(double *lambda, double *v, const double *C3)
{
    mpfr_t a, b, c, h, root, l1, norm;
    mpfr_inits2(256, a, b, c, h, root, l1, norm, (mpfr_ptr)0);
    mpfr_set_d(a, C3[0], MPFR_RNDN);
    mpfr_set_d(b, C3[1], MPFR_RNDN);
    mpfr_set_d(c, C3[2], MPFR_RNDN);
    mpfr_div_ui(a, a, 3, MPFR_RNDN); /* C = [[5, 3], [3, 14]] / 3 */
    mpfr_div_ui(b, b, 3, MPFR_RNDN);
    mpfr_div_ui(c, c, 3, MPFR_RNDN);
    mpfr_sub(h, a, c, MPFR_RNDN);
    mpfr_div_2ui(h, h, 1, MPFR_RNDN);
    mpfr_sqr(h, h, MPFR_RNDN);
    mpfr_fma(root, b, b, h, MPFR_RNDN);
    mpfr_sqrt(root, root, MPFR_RNDN);
    mpfr_add(h, a, c, MPFR_RNDN);
    mpfr_div_2ui(h, h, 1, MPFR_RNDN);
    mpfr_add(l1, h, root, MPFR_RNDN);
    lambda[0] = mpfr_get_d(l1, MPFR_RNDN);
    mpfr_sub(h, h, root, MPFR_RNDN);
    lambda[1] = mpfr_get_d(h, MPFR_RNDN);
    mpfr_sub(l1, l1, a, MPFR_RNDN); /* v_1 ~ (b, lambda_1 - a) */
    mpfr_hypot(norm, b, l1, MPFR_RNDN);
    mpfr_div(b, b, norm, MPFR_RNDN);
    mpfr_div(l1, l1, norm, MPFR_RNDN);
    v[0] = mpfr_get_d(b, MPFR_RNDN);
    v[1] = mpfr_get_d(l1, MPFR_RNDN);
    mpfr_clears(a, b, c, h, root, l1, norm, (mpfr_ptr)0);
}

static void test_two_by_two(void)
{
    /* mean (1.5, 2); C = [[5/3, 1], [1, 14/3]] */
    static const double X[8] = {1, 2, 3, 1, 0, 0, 2, 5};
    static const double C3[3] = {5.0, 3.0, 14.0};
    double lambda[2], v[2];
    result r;
    closed_form(lambda, v, C3);
    int ok = run(&r, X, 4, 2, 2) == 0;
    tap_ok(ok && same_bits(r.var[0], lambda[0]) && same_bits(r.var[1], lambda[1]),
           "2 x 2: the variances are the closed form's, bit for bit");
    tap_ok(ok && same_bits(r.comp[0], v[0]) && same_bits(r.comp[1], v[1]),
           "2 x 2: the first direction is the closed form's, largest entry positive");
    tap_ok(ok && r.mean[0] == 1.5 && r.mean[1] == 2.0, "2 x 2: the mean");
    tap_ok(ok && fabs(r.comp[2] * r.comp[0] + r.comp[3] * r.comp[1]) < 1e-15 &&
           r.comp[2] > 0.0, "2 x 2: the second direction is orthogonal, signed by "
           "its largest entry");
}

static void test_sign_rule(void)
{
    static const double negative_first[4] = {-0.375, 1.0, 0.375, -1.0};
    static const double positive_first[4] = {1.0, -0.375, -1.0, 0.375};
    result r;
    int ok = run(&r, negative_first, 2, 2, 1) == 0;
    tap_ok(ok && r.comp[0] < 0.0 && r.comp[1] > 0.0 &&
           same_bits(r.comp[0] / r.comp[1], -0.375),
           "sign rule: (-0.375, 1) keeps its sign (the largest entry decides, "
           "not the first)");
    ok = run(&r, positive_first, 2, 2, 1) == 0;
    tap_ok(ok && r.comp[0] > 0.0 && r.comp[1] < 0.0,
           "sign rule: (1, -0.375) from rows whose first is negative too");
    tap_ok(ok && r.proj[0] > 0.0 && r.proj[1] < 0.0,
           "sign rule: the projections follow the direction's sign");
}

static void test_repeated(void)
{
    static const double s[2] = {1.0, 1.0};
    double X[4 * 2];
    result r;
    axis_pairs(X, s, 2);
    int ok = run(&r, X, 4, 2, 1) == 0;
    tap_ok(ok && r.report.repeated_variances && r.report.unjudged == 1 &&
           r.comp[0] == 0.0 && r.comp[1] == 0.0,
           "repeated variances: flagged, the direction expected 0, not judged");
    double K = r.report.k_directions;
    tap_ok(ok && K * 0x1p-53 * r.comp_s[0] >= 0x1p20 &&
           K * 0x1p-53 * r.proj_s[0] >= 0x1p20 * 1.0,
           "repeated variances: bounds of at least 2^20 (times |x_t - mu|)");
    tap_ok(ok && r.var[0] == r.var[1 - 1] && r.ratio[0] == 0.5,
           "repeated variances: the variance and ratio still judged (1/2)");
    tap_ok(ok && K * 0x1p-53 * r.rec_s[0] >= 0x1p20 && r.rec[0] == 0.0,
           "repeated variances: k = 1 splits the group, R not judged (mean)");
    ok = run(&r, X, 4, 2, 2) == 0;
    tap_ok(ok && r.rec[0] == 1.0 && r.rec[1] == 0.0 &&
           K * 0x1p-53 * r.rec_s[0] < 1e-10,
           "repeated variances: k = 2 covers the group, R = X judged");
}

static void test_rank_and_zero(void)
{
    static const double dup[12] = {1, 2, 3, 1, 2, 3, 0.5, 0, 1, 0.5, 0, 1};
    static const double equal[6] = {0.75, -1, 0.75, -1, 0.75, -1};
    result r;
    int ok = run(&r, dup, 4, 3, 3) == 0;
    tap_ok(ok && r.report.rank_deficient && same_bits(r.var[1], 0.0) &&
           same_bits(r.var[2], 0.0) && r.report.repeated_variances,
           "duplicate rows: rank 1, the other variances exactly +0, repeated");
    int zeros = 1;
    for (size_t t = 0; t < 4; t++)
        zeros &= same_bits(r.proj[t * 3 + 1] + 0.0, 0.0);
    tap_ok(ok && zeros, "duplicate rows: projections on unjudged directions 0");
    ok = run(&r, equal, 3, 2, 1) == 0;
    tap_ok(ok && r.report.total_zero && r.ratio[0] == 0.0 && r.var[0] == 0.0 &&
           r.report.classes == 1u,
           "every row equal: T = 0, ratio 0, fp64 only (no spread to resolve)");
}

static void test_offset(void)
{
    static const double base[8] = {1, 2, 3, 1, 0, 0, 2, 5};
    double shifted[8];
    result a, b;
    for (size_t i = 0; i < 8; i++)
        shifted[i] = base[i] + 1048576.0; /* exact */
    int ok = run(&a, base, 4, 2, 2) == 0 && run(&b, shifted, 4, 2, 2) == 0;
    tap_ok(ok && same_bits(a.var[0], b.var[0]) && same_bits(a.comp[1], b.comp[1]) &&
           same_bits(a.proj[3], b.proj[3]) && b.mean[0] == 1.5 + 1048576.0,
           "an offset of 2^20 changes the mean only");
    tap_ok(ok && (b.report.classes & 0xCu) == 0 && (a.report.classes & 0x2u),
           "the offset removes bf16 and fp16 (their rounding exceeds the spread)");
    tap_ok(ok && b.var_s[0] > a.var_s[0], "the offset widens the variance scale");
}

/* Davis-Kahan: halving the gap doubles the direction's scale, roughly. */
static void test_gap_scaling(void)
{
    static const double s1[3] = {1.0 + 0x1p-20, 1.0, 0.5};
    static const double s2[3] = {1.0 + 0x1p-21, 1.0, 0.5};
    double X1[6 * 3], X2[6 * 3];
    result a, b;
    axis_pairs(X1, s1, 3);
    axis_pairs(X2, s2, 3);
    int ok = run(&a, X1, 6, 3, 2) == 0 && run(&b, X2, 6, 3, 2) == 0;
    double q = ok ? b.comp_s[0] / a.comp_s[0] : 0.0;
    tap_ok(ok && q > 1.99 && q < 2.01, "half the gap, twice the direction's "
           "scale (%.6g)", q);
    tap_ok(ok && a.report.near_degenerate && a.report.unjudged == 0,
           "a gap of 2^-19 relative: near_degenerate, still judged");
}

static void test_eigen_equation(void)
{
    static const double X[5 * 4] = {0.3, -1.2, 0.7, 2.1, 1.1, 0.4, -0.6, 0.2,
                                    -0.9, 0.8, 1.5, -0.3, 0.0, -0.5, 0.25, 1.75,
                                    2.2, 0.1, -1.0, -0.6};
    result r;
    int ok = run(&r, X, 5, 4, 4) == 0;
    double mean[4] = {0}, worst = 0.0, dots = 0.0;
    for (size_t j = 0; j < 4; j++) {
        for (size_t t = 0; t < 5; t++)
            mean[j] += X[t * 4 + j] / 5.0;
    }
    for (size_t i = 0; ok && i < 4; i++) {
        for (size_t a = 0; a < 4; a++) {
            double cv = 0.0;
            for (size_t b = 0; b < 4; b++) {
                double c = 0.0;
                for (size_t t = 0; t < 5; t++)
                    c += (X[t * 4 + a] - mean[a]) * (X[t * 4 + b] - mean[b]) / 4.0;
                cv += c * r.comp[i * 4 + b];
            }
            worst = fmax(worst, fabs(cv - r.var[i] * r.comp[i * 4 + a]));
        }
        for (size_t l = 0; l < 4; l++) {
            double dot = 0.0;
            for (size_t j = 0; j < 4; j++)
                dot += r.comp[i * 4 + j] * r.comp[l * 4 + j];
            dots = fmax(dots, fabs(dot - (i == l ? 1.0 : 0.0)));
        }
    }
    tap_ok(ok && worst < 1e-14, "C v_i = lambda_i v_i in double (worst %.3g)", worst);
    tap_ok(ok && dots < 1e-15, "the directions are orthonormal (worst %.3g)", dots);
    int descending = 1;
    for (size_t i = 1; i < 4; i++)
        descending &= r.var[i] <= r.var[i - 1];
    tap_ok(ok && descending, "the variances descend");
}

static void test_errors(void)
{
    double X[6] = {1, 2, 3, 4, 5, 6};
    result r;
    tap_ok(run(&r, X, 1, 6, 1) == -1, "n = 1 is refused");
    tap_ok(run(&r, X, 3, 2, 0) == -1, "k = 0 is refused");
    tap_ok(run(&r, X, 3, 2, 3) == -1, "k = 3 > min(3, 2) is refused");
    X[2] = NAN;
    tap_ok(run(&r, X, 3, 2, 1) == -1, "a NaN is refused");
    X[2] = 0x1p481;
    tap_ok(run(&r, X, 3, 2, 1) == -1, "an entry of 2^481 is refused");
    X[2] = 0x1p480;
    tap_ok(run(&r, X, 3, 2, 1) == 0, "an entry of 2^480 is accepted");
}

int main(void)
{
    test_axis_pairs();
    test_two_by_two();
    test_sign_rule();
    test_repeated();
    test_rank_and_zero();
    test_offset();
    test_gap_scaling();
    test_eigen_equation();
    test_errors();
    mpfr_free_cache();
    tap_done();
    return tap_exit_status();
}
