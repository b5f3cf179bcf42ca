/*
 * gen_pca.c -- cases for pca (spec/pca.md): well separated, near-degenerate
 * and exactly repeated variances, rank-deficient inputs (duplicate rows,
 * n <= d, constant columns), k = min(n, d), n = 2, d = 1, large offsets where
 * centring matters, every row equal, ambiguous signs; invalid sizes, k out
 * of range, non-finite and too large entries.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gen_case.h"
#include "gen_ops.h"
#include "gen_random.h"
#include "oracle_pca.h"

/* How X is made. */
enum rows_kind {
    ROWS_SCALED,   /* k/64 times 2^-j in column j: separated variances */
    ROWS_LATENT,   /* a rank-2 signal L W (k/8 entries) plus k/64 noise */
    ROWS_FULL,     /* 53-bit uniform in [-1, 1) */
    ROWS_OFFSET,   /* offset + (k/64) 2^-j: a large mean, a small spread */
    ROWS_PAIRS,    /* rows +-s_i q_i: the spectrum 2 s_i^2 / (n - 1) given */
    ROWS_HADAMARD, /* rows +-s_i h_i, h_i the rows of a 4 x 4 Hadamard / 2 */
    ROWS_REPEAT,   /* ROWS_SCALED with row t a copy of row t mod `distinct` */
    ROWS_CONSTANT_COLUMN, /* ROWS_LATENT with column 1 equal to 0.75 */
    ROWS_EQUAL,    /* every row the same k/64 row */
    ROWS_PLUS_MINUS, /* rows +a, -a, +a, ... (a = spectrum), a 0 row last
                        when n is odd: one direction, a/|a|, mean 0 */
    ROWS_ZERO      /* every entry 0 */
};

#define MAX_SPECTRUM 8

typedef struct {
    const char *slug, *comment;
    size_t n, d, k;
    enum rows_kind rows;
    double offset;          /* ROWS_OFFSET */
    size_t distinct;        /* ROWS_REPEAT: distinct rows */
    size_t rotate_from;     /* ROWS_PAIRS: rotate the planes (j, j+1), j >= it */
    double spectrum[MAX_SPECTRUM]; /* ROWS_PAIRS, ROWS_HADAMARD: s_i */
    unsigned long seed;
} pca_config;

static const char *recipe(const pca_config *cfg)
{
    switch (cfg->rows) {
    case ROWS_SCALED: return "X[t,j] = (k/64) 2^-j, k uniform in [-127, 127]";
    case ROWS_LATENT: return "X = L W + N: L (n x 2) and W (2 x d) k/8, k in [-15, 15]; N k/64";
    case ROWS_FULL: return "X: 53-bit uniform in [-1, 1)";
    case ROWS_OFFSET: return "X[t,j] = offset + (k/64) 2^-j, k uniform in [-127, 127]";
    case ROWS_PAIRS: return "rows 2i, 2i+1 = +s_i q_i, -s_i q_i; q_i the rows of a product "
                            "of plane rotations (3/5, 4/5), (5/13, 12/13), (8/17, 15/17)";
    case ROWS_HADAMARD: return "rows 2i, 2i+1 = +s_i h_i, -s_i h_i; h_i the rows of H4 / 2";
    case ROWS_REPEAT: return "X[t,j] = (k/64) 2^-j for the first rows, then copies of them";
    case ROWS_CONSTANT_COLUMN: return "X = L W + N as for the latent rows; column 1 = 0.75";
    case ROWS_EQUAL: return "one row of k/64, repeated";
    case ROWS_PLUS_MINUS: return "rows +a, -a (a given), then 0 when n is odd";
    default: return "every entry 0";
    }
}

/* 1 if the rows of kind are drawn at random (else they are constructed). */
static int drawn(enum rows_kind rows)
{
    return rows != ROWS_PAIRS && rows != ROWS_HADAMARD &&
           rows != ROWS_PLUS_MINUS && rows != ROWS_ZERO;
}

/* Q (d, d) = a product of plane rotations of the planes (j, j+1),
 * j >= from, with Pythagorean cosines and sines (rounded divisions: the
 * same doubles everywhere). */
static void rotations(double *Q, size_t d, size_t from)
{
    static const double triples[3][3] = {{3, 4, 5}, {5, 12, 13}, {8, 15, 17}};
    for (size_t i = 0; i < d * d; i++)
        Q[i] = (i % (d + 1)) == 0 ? 1.0 : 0.0;
    for (size_t j = from; j + 1 < d; j++) {
        const double *tr = triples[(j - from) % 3];
        double c = tr[0] / tr[2], s = tr[1] / tr[2];
        for (size_t r = 0; r < d; r++) {
            double a = Q[r * d + j], b = Q[r * d + j + 1];
            Q[r * d + j] = c * a - s * b;
            Q[r * d + j + 1] = s * a + c * b;
        }
    }
}

/* Rows +-s_i b_i for the rows b_i of basis (d, d); X: (n, d), n = 2 * terms. */
static void signed_pairs(double *X, const double *basis, const double *s,
                         size_t n, size_t d)
{
    for (size_t i = 0; 2 * i + 1 < n; i++)
        for (size_t j = 0; j < d; j++) {
            X[(2 * i) * d + j] = s[i] * basis[i * d + j];
            X[(2 * i + 1) * d + j] = -(s[i] * basis[i * d + j]);
        }
}

static void latent_rows(gsl_rng *rng, double *X, size_t n, size_t d)
{
    double *L = calloc(2 * n + 1, sizeof(double));
    double *W = calloc(2 * d + 1, sizeof(double));
    gen_dyadic(rng, L, 2 * n, 3, 15);
    gen_dyadic(rng, W, 2 * d, 3, 15);
    gen_dyadic(rng, X, n * d, 6, 127);
    for (size_t t = 0; t < n; t++)
        for (size_t j = 0; j < d; j++)
            X[t * d + j] += L[2 * t] * W[j] + L[2 * t + 1] * W[d + j];
    free(L);
    free(W);
}

static void hadamard(double *H, size_t d)
{
    static const int signs[4][4] = {{1, 1, 1, 1}, {1, -1, 1, -1},
                                    {1, 1, -1, -1}, {1, -1, -1, 1}};
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++)
            H[i * d + j] = 0.5 * signs[i % 4][j % 4];
}

/* X (n, d) as cfg says. */
static double *draw_rows(const pca_config *cfg)
{
    size_t n = cfg->n, d = cfg->d;
    double *X = calloc(n * d + 1, sizeof(double));
    double *basis = calloc(d * d + 1, sizeof(double));
    gsl_rng *rng = gen_rng(cfg->seed);
    switch (cfg->rows) {
    case ROWS_SCALED:
    case ROWS_OFFSET:
    case ROWS_REPEAT:
        gen_dyadic(rng, X, n * d, 6, 127);
        for (size_t t = 0; t < n; t++)
            for (size_t j = 0; j < d; j++) {
                size_t from = cfg->rows == ROWS_REPEAT ? t % cfg->distinct : t;
                X[t * d + j] = ldexp(X[from * d + j], -(int)j) +
                               (cfg->rows == ROWS_OFFSET ? cfg->offset : 0.0);
            }
        break;
    case ROWS_LATENT:
    case ROWS_CONSTANT_COLUMN:
        latent_rows(rng, X, n, d);
        for (size_t t = 0; cfg->rows == ROWS_CONSTANT_COLUMN && t < n; t++)
            X[t * d + 1] = 0.75;
        break;
    case ROWS_FULL:
        gen_uniform53(rng, X, n * d, -1.0, 1.0);
        break;
    case ROWS_PAIRS:
        rotations(basis, d, cfg->rotate_from);
        signed_pairs(X, basis, cfg->spectrum, n, d);
        break;
    case ROWS_HADAMARD:
        hadamard(basis, d);
        signed_pairs(X, basis, cfg->spectrum, n, d);
        break;
    case ROWS_EQUAL:
        gen_dyadic(rng, X, d, 6, 127);
        for (size_t t = 1; t < n; t++)
            for (size_t j = 0; j < d; j++)
                X[t * d + j] = X[j];
        break;
    case ROWS_PLUS_MINUS:
        for (size_t t = 0; t + 1 < n || (t < n && n % 2 == 0); t++)
            for (size_t j = 0; j < d; j++)
                X[t * d + j] = t % 2 == 0 ? cfg->spectrum[j] : -cfg->spectrum[j];
        break;
    case ROWS_ZERO:
        break;
    }
    gsl_rng_free(rng);
    free(basis);
    return X;
}

typedef struct {
    double *data[6], *scale[6];
} pca_buffers;

static const char *const output_names[6] = {"mean", "components", "variances",
                                            "ratios", "projections",
                                            "reconstruction"};

static int buffers_init(pca_buffers *b, oracle_pca_outputs *out, size_t n,
                        size_t d, size_t k)
{
    size_t sizes[6] = {d, k * d, k, k, n * k, n * d};
    int ok = 1;
    for (int i = 0; i < 6; i++) {
        b->data[i] = calloc(sizes[i] + 1, sizeof(double));
        b->scale[i] = calloc(sizes[i] + 1, sizeof(double));
        ok = ok && b->data[i] && b->scale[i];
    }
    *out = (oracle_pca_outputs){b->data[0], b->scale[0], b->data[1], b->scale[1],
                                b->data[2], b->scale[2], b->data[3], b->scale[3],
                                b->data[4], b->scale[4], b->data[5], b->scale[5]};
    return ok ? 0 : -1;
}

static void buffers_free(pca_buffers *b)
{
    for (int i = 0; i < 6; i++) {
        free(b->data[i]);
        free(b->scale[i]);
    }
}

static void add_flags(gen_case *c, const oracle_pca_report *r)
{
    if (r->repeated_variances)
        gen_flag(c, "repeated_variances");
    if (r->near_degenerate)
        gen_flag(c, "near_degenerate");
    if (r->rank_deficient)
        gen_flag(c, "rank_deficient");
    if (r->sign_ambiguous)
        gen_flag(c, "sign_ambiguous");
    if (r->total_zero)
        gen_flag(c, "zero_total_variance");
    if (r->unjudged)
        gen_flag(c, "unjudged_directions");
    if ((r->classes & 0xEu) != 0xEu)
        gen_flag(c, "narrow_classes_unresolved");
}

static void add_expected(gen_case *c, const pca_buffers *b,
                         const oracle_pca_report *r, size_t n, size_t d,
                         size_t k)
{
    size_t rows[6] = {d, k, k, k, n, n};
    size_t cols[6] = {GEN_1D, d, GEN_1D, GEN_1D, k, d};
    double K[6] = {r->k_mean, r->k_directions, r->k_variances, r->k_ratios,
                   r->k_directions, r->k_directions};
    for (int i = 0; i < 6; i++)
        gen_expect(c, output_names[i], rows[i], cols[i], b->data[i], K[i],
                   b->scale[i]);
}

static int valid_case(gen_file *file, const pca_config *cfg)
{
    double *X = draw_rows(cfg);
    pca_buffers b;
    oracle_pca_outputs out;
    oracle_pca_report report;
    gen_case c;
    int status = buffers_init(&b, &out, cfg->n, cfg->d, cfg->k);
    if (status == 0)
        status = oracle_pca(&out, &report, X, cfg->n, cfg->d, cfg->k);
    if (status == 0) {
        if (drawn(cfg->rows))
            gen_case_begin_random(&c, file, cfg->slug, cfg->comment, NULL,
                                  cfg->seed, recipe(cfg));
        else
            gen_case_begin(&c, file, cfg->slug, cfg->comment);
        add_flags(&c, &report);
        gen_param_int(&c, "k", (int64_t)cfg->k);
        gen_input_f64(&c, "X", cfg->n, cfg->d, X);
        add_expected(&c, &b, &report, cfg->n, cfg->d, cfg->k);
        gen_restrict_classes(&c, report.classes);
        gen_case_end(&c);
    } else {
        fprintf(stderr, "lmr-gen: pca/%s: oracle failed\n", cfg->slug);
    }
    buffers_free(&b);
    free(X);
    return status;
}

#define NONE 0.0, 0, 0, {0}

static const pca_config valid_configs[] = {
    {"separated", "well separated variances (columns scaled by 2^-j)",
     12, 5, 3, ROWS_SCALED, NONE, 9001},
    {"latent-k-one", "a rank-2 signal plus noise; only the first component",
     10, 6, 1, ROWS_LATENT, NONE, 9002},
    {"latent-two", "the embedding-like rows of the plot: 24 rows, 8 columns, k = 2",
     24, 8, 2, ROWS_LATENT, NONE, 9003},
    {"k-equals-d", "k = d = min(n, d): every direction, R = X",
     8, 4, 4, ROWS_LATENT, NONE, 9004},
    {"full-precision", "53-bit entries", 16, 6, 3, ROWS_FULL, NONE, 9005},
    {"n-below-d", "n = 4 < d = 7, k = n: rank n - 1, the last direction is "
     "one of 4 zero variances (not judged)", 4, 7, 4, ROWS_LATENT, NONE, 9006},
    {"square-null-direction", "n = d = 4, k = 4: rank 3; the one zero variance "
     "next to a positive one has a unique direction, judged", 4, 4, 4,
     ROWS_SCALED, NONE, 9007},
    {"duplicate-rows", "8 rows, copies of 3: rank 2, k = 2 (R = X)",
     8, 4, 2, ROWS_REPEAT, 0.0, 3, 0, {0}, 9008},
    {"duplicate-rows-beyond-rank", "copies of 3 rows, k = 3 past the rank 2: "
     "the third variance is 0, repeated, its direction not judged",
     8, 4, 3, ROWS_REPEAT, 0.0, 3, 0, {0}, 9009},
    {"constant-column", "column 1 is constant: a zero variance along e_1",
     10, 5, 3, ROWS_CONSTANT_COLUMN, NONE, 9010},
    {"large-offset", "1000 + small deviations: centring matters; narrow "
     "classes that cannot hold the deviations are left out",
     10, 4, 2, ROWS_OFFSET, 1000.0, 0, 0, {0}, 9011},
    {"huge-offset", "10^6 + k/64: fp64 only after the centring test",
     6, 3, 2, ROWS_OFFSET, 1e6, 0, 0, {0}, 9012},
    {"two-rows", "n = 2: one positive variance, divisor n - 1 = 1",
     2, 3, 1, ROWS_SCALED, NONE, 9013},
    {"two-rows-two-columns", "n = 2, d = 2, k = 2: the second variance 0 and "
     "its direction unique", 2, 2, 2, ROWS_SCALED, NONE, 9014},
    {"d-one", "d = 1: the direction is (1), the variance the sample variance",
     6, 1, 1, ROWS_SCALED, NONE, 9015},
    {"all-rows-equal", "every row equal: T = 0, ratios 0, directions not judged",
     4, 3, 2, ROWS_EQUAL, NONE, 9016},
    {"zero-matrix", "X = 0: every output 0", 3, 2, 2, ROWS_ZERO, NONE, 9017},
    {"repeated-middle", "variances 2, 1, 1, 0.25 (x 2/7) on the axes: "
     "directions 2 and 3 not judged, R judged (lambda_3 > lambda_4)",
     8, 4, 3, ROWS_PAIRS, 0.0, 0, 4, {2.0, 1.0, 1.0, 0.5}, 9018},
    {"repeated-top", "the two largest variances equal: only their span "
     "(R) is judged", 6, 3, 2, ROWS_PAIRS, 0.0, 0, 3, {2.0, 2.0, 1.0}, 9019},
    {"near-degenerate", "s = 3, 2 + 2^-24, 2, 1 in a rotated basis: a gap "
     "of 10^-7 relative; judged in fp64, vacuous in the narrow classes",
     8, 4, 3, ROWS_PAIRS, 0.0, 0, 0, {3.0, 2.0 + 0x1p-24, 2.0, 1.0}, 9020},
    {"moderate-gap", "s = 3, 2 + 2^-10, 2, 1 rotated: a gap of 10^-3 relative",
     8, 4, 3, ROWS_PAIRS, 0.0, 0, 0, {3.0, 2.0 + 0x1p-10, 2.0, 1.0}, 9021},
    {"rotated-separated", "s = 4, 2, 1, 0.5 in a rotated basis",
     8, 4, 4, ROWS_PAIRS, 0.0, 0, 0, {4.0, 2.0, 1.0, 0.5}, 9022},
    {"sign-tie", "Hadamard directions: every |entry| 1/2, the sign rule's tie; "
     "directions not judged, R judged", 8, 4, 2, ROWS_HADAMARD, 0.0, 0, 0,
     {4.0, 2.0, 1.0, 0.5}, 9023},
    {"pair-negative-first", "rows +-(-0.375, 1): the largest entry decides the "
     "sign, not the first (which is negative); resolved in fp16", 2, 2, 1,
     ROWS_PLUS_MINUS, 0.0, 0, 0, {-0.375, 1.0}, 9025},
    {"pair-largest-first", "rows +-(1, -0.375): k = d = 2, the second variance 0",
     2, 2, 2, ROWS_PLUS_MINUS, 0.0, 0, 0, {1.0, -0.375}, 9026},
    {"pair-three", "rows +-(-0.25, 1, 0.5)", 2, 3, 1, ROWS_PLUS_MINUS, 0.0, 0, 0,
     {-0.25, 1.0, 0.5}, 9027},
    {"pair-three-last", "rows +-(-0.25, 0.5, 1): the largest entry last",
     2, 3, 2, ROWS_PLUS_MINUS, 0.0, 0, 0, {-0.25, 0.5, 1.0}, 9028},
    {"pair-zero-column", "rows +-(-0.375, 0, 1): a constant (zero) column",
     2, 3, 1, ROWS_PLUS_MINUS, 0.0, 0, 0, {-0.375, 0.0, 1.0}, 9031},
    {"pair-d-one", "rows +-1.5, d = 1: the divisor n - 1 = 1 halves nothing "
     "(n would halve the variance)", 2, 1, 1, ROWS_PLUS_MINUS, 0.0, 0, 0,
     {1.5}, 9029},
    {"three-rows-d-one", "rows 1.5, -1.5, 0: n - 1 = 2 against n = 3",
     3, 1, 1, ROWS_PLUS_MINUS, 0.0, 0, 0, {1.5}, 9030},
    {"dominant", "one dominant direction (s = 8, 1, 0.5 rotated): resolved "
     "even in the narrow classes", 6, 3, 2, ROWS_PAIRS, 0.0, 0, 1,
     {8.0, 1.0, 0.5}, 9024},
};

/* An invalid case: X from cfg with at (< n*d) set to value when at is not
 * (size_t)-1. */
static void invalid_case(gen_file *file, const char *slug, const char *comment,
                         const char *status, size_t n, size_t d, int64_t k,
                         size_t at, double value)
{
    pca_config cfg = {slug, comment, n, d, 1, ROWS_SCALED, NONE, 9100};
    double *X = draw_rows(&cfg);
    gen_case c;
    if (at != (size_t)-1)
        X[at] = value;
    gen_case_begin_random(&c, file, slug, comment, NULL, cfg.seed, recipe(&cfg));
    gen_param_int(&c, "k", k);
    gen_input_f64(&c, "X", n, d, X);
    gen_invalid(&c, status);
    gen_case_end(&c);
    free(X);
}

static void invalid_cases(gen_file *file)
{
    size_t none = (size_t)-1;
    invalid_case(file, "one-row", "n = 1: no variance with divisor n - 1",
                 "LMR_EDIM", 1, 3, 1, none, 0);
    invalid_case(file, "empty", "n = 0", "LMR_EDIM", 0, 3, 1, none, 0);
    invalid_case(file, "zero-width", "d = 0", "LMR_EDIM", 3, 0, 1, none, 0);
    invalid_case(file, "k-zero", "k = 0", "LMR_EDOMAIN", 4, 3, 0, none, 0);
    invalid_case(file, "k-negative", "k = -1", "LMR_EDOMAIN", 4, 3, -1, none, 0);
    invalid_case(file, "k-above-d", "k = d + 1 with n > d", "LMR_EDOMAIN",
                 5, 3, 4, none, 0);
    invalid_case(file, "k-above-n", "k = n + 1 with n < d", "LMR_EDOMAIN",
                 3, 5, 4, none, 0);
    invalid_case(file, "nan-in-x", "a NaN in X", "LMR_ENONFINITE", 4, 3, 2, 5, NAN);
    invalid_case(file, "inf-in-x", "+infinity in X", "LMR_ENONFINITE", 4, 3, 2,
                 0, INFINITY);
    invalid_case(file, "minus-inf-in-x", "-infinity in X", "LMR_ENONFINITE",
                 4, 3, 2, 11, -INFINITY);
    invalid_case(file, "beyond-2-480", "an entry of 2^481 > 2^480",
                 "LMR_EDOMAIN", 4, 3, 2, 7, 0x1p481);
}

static int gen_pca(const char *dir)
{
    gen_file file;
    int status = 0;
    size_t count = sizeof valid_configs / sizeof valid_configs[0];
    gen_file_init(&file, "pca", "spec/pca.md");
    gen_note(&file, "repeated_variances", "two variances among the first k + 1 "
             "are equal: the directions of that group (and, when the group "
             "straddles k, the reconstruction) are not judged (spec/pca.md)");
    gen_note(&file, "near_degenerate", "a gap between neighbouring variances "
             "below 10^-6 of the total variance T: the direction's bound grows as S_E / gap");
    gen_note(&file, "rank_deficient", "the centred rows span fewer than "
             "min(n, d) dimensions: zero variances");
    gen_note(&file, "sign_ambiguous", "a direction's two largest |entries| are "
             "too close for the sign rule to decide within the tolerance: "
             "not judged");
    gen_note(&file, "zero_total_variance", "every row equal: T = 0, ratios 0");
    gen_note(&file, "unjudged_directions", "some directions (rows of "
             "components, columns of projections) are expected 0 with a "
             "scale that admits any unit vector (spec/tolerance.md#pca)");
    gen_note(&file, "narrow_classes_unresolved", "a narrow class is left out: "
             "its rounding of the rows exceeds their spread, or it cannot "
             "decide a judged direction's sign (spec/pca.md)");
    for (size_t i = 0; i < count && status == 0; i++)
        status = valid_case(&file, &valid_configs[i]);
    invalid_cases(&file);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* The vector files this file writes (gen_ops.h). */
const gen_entry gen_pca_files[] = {
    {"pca", gen_pca},
    {NULL, NULL},
};
