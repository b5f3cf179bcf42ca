/*
 * errors_pca.c -- TAP test of lmr_pca's input checks (spec/pca.md#errors,
 * spec/errors.md): every status, and that a rejected call writes nothing.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "lmr.h"
#include "tap.h"

#define N 4
#define D 3
#define SENTINEL 12345.0

static const double GOOD_X[N * D] = {1, 2, 0.5, 3, 1, -1, 0, 0, 2, 2, 5, 0.25};

typedef struct {
    double mean[D], comp[D * D], var[D], ratio[D], proj[N * D], rec[N * D];
    lmr_pca_outputs out;
} buffers;

/* The outputs' views for n rows, d columns and k components (0 for a k
 * outside [1, ...]); the buffers hold N, D, D at most, and a call with
 * larger views must reject before writing. */
static lmr_pca_outputs views_of(buffers *b, size_t n, size_t d, int64_t k)
{
    size_t width = k >= 1 ? (size_t)k : 0;
    lmr_pca_outputs out = {lmr_vec_out_of(b->mean, d),
                           lmr_mat_out_of(b->comp, width, d),
                           lmr_vec_out_of(b->var, width),
                           lmr_vec_out_of(b->ratio, width),
                           lmr_mat_out_of(b->proj, n, width),
                           lmr_mat_out_of(b->rec, n, d)};
    return out;
}

/* Fills every buffer with the sentinel and sets out for (n, d, k). */
static void buffers_init(buffers *b, size_t n, size_t d, int64_t k)
{
    double *arrays[] = {b->mean, b->comp, b->var, b->ratio, b->proj, b->rec};
    size_t sizes[] = {D, D * D, D, D, N * D, N * D};
    for (size_t i = 0; i < 6; i++)
        for (size_t j = 0; j < sizes[i]; j++)
            arrays[i][j] = SENTINEL;
    b->out = views_of(b, n, d, k);
}

/* 1 if no output was written. */
static int untouched(const buffers *b)
{
    const double *arrays[] = {b->mean, b->comp, b->var, b->ratio, b->proj, b->rec};
    size_t sizes[] = {D, D * D, D, D, N * D, N * D};
    for (size_t i = 0; i < 6; i++)
        for (size_t j = 0; j < sizes[i]; j++)
            if (arrays[i][j] != SENTINEL)
                return 0;
    return 1;
}

static void rejects(const double *X, size_t n, size_t d, int64_t k, int status,
                    const char *what)
{
    buffers b;
    buffers_init(&b, n, d, k);
    expect_status(lmr_pca(&b.out, lmr_mat_of(X, n, d), k), status, what);
    tap_ok(untouched(&b), "%s: nothing written", what);
}

static void test_sizes(void)
{
    rejects(GOOD_X, 1, D, 1, LMR_EDIM, "lmr_pca: n = 1");
    rejects(GOOD_X, 0, D, 1, LMR_EDIM, "lmr_pca: n = 0");
    rejects(GOOD_X, N, 0, 1, LMR_EDIM, "lmr_pca: d = 0");
    rejects(GOOD_X, SIZE_MAX / 2, D, 1, LMR_EOVERFLOW, "lmr_pca: n*d overflows");
    rejects(GOOD_X, 2, SIZE_MAX / 4, 1, LMR_EOVERFLOW, "lmr_pca: d*d overflows");
}

static void test_k(void)
{
    rejects(GOOD_X, N, D, 0, LMR_EDOMAIN, "lmr_pca: k = 0");
    rejects(GOOD_X, N, D, -1, LMR_EDOMAIN, "lmr_pca: k = -1");
    rejects(GOOD_X, N, D, INT64_MIN, LMR_EDOMAIN, "lmr_pca: k = INT64_MIN");
    rejects(GOOD_X, N, D, D + 1, LMR_EDOMAIN, "lmr_pca: k = d + 1 (n > d)");
    rejects(GOOD_X, 2, 6, 3, LMR_EDOMAIN, "lmr_pca: k = n + 1 (n < d)");
    buffers b;
    buffers_init(&b, N, D, D);
    expect_status(lmr_pca(&b.out, lmr_mat_of(GOOD_X, N, D), D), LMR_OK,
                  "lmr_pca: k = min(n, d)");
}

static void test_values(void)
{
    double X[N * D];
    copy_with(X, GOOD_X, N * D, 4, NAN);
    rejects(X, N, D, 1, LMR_ENONFINITE, "lmr_pca: a NaN in X");
    copy_with(X, GOOD_X, N * D, 11, -INFINITY);
    rejects(X, N, D, 1, LMR_ENONFINITE, "lmr_pca: -inf in X");
    copy_with(X, GOOD_X, N * D, 0, 0x1p481);
    rejects(X, N, D, 1, LMR_EDOMAIN, "lmr_pca: an entry of 2^481");
    copy_with(X, GOOD_X, N * D, 0, -0x1p480);
    buffers b;
    buffers_init(&b, N, D, 1);
    expect_status(lmr_pca(&b.out, lmr_mat_of(X, N, D), 1), LMR_OK,
                  "lmr_pca: an entry of -2^480 is in range");
    tap_ok(isfinite(b.var[0]) && isfinite(b.rec[0]),
           "lmr_pca: -2^480 gives finite variances and reconstruction");
}

static void test_null(void)
{
    buffers b;
    buffers_init(&b, N, D, 1);
    lmr_mat X = lmr_mat_of(GOOD_X, N, D);
    expect_status(lmr_pca(NULL, X, 1), LMR_EINVAL, "lmr_pca: out is NULL");
    expect_status(lmr_pca(&b.out, lmr_mat_of(NULL, N, D), 1), LMR_EINVAL,
                  "lmr_pca: X has no data");
    for (size_t i = 0; i < 6; i++) {
        buffers_init(&b, N, D, 1);
        lmr_pca_outputs *o = &b.out;
        double **slots[] = {&o->mean.data, &o->components.data,
                            &o->variances.data, &o->ratios.data,
                            &o->projections.data, &o->reconstruction.data};
        *slots[i] = NULL;
        expect_status(lmr_pca(&b.out, X, 1), LMR_EINVAL,
                      "lmr_pca: an output view has no data");
        tap_ok(untouched(&b), "lmr_pca: an output view has no data: nothing written");
    }
}

/* The outputs' shapes, and which problem comes first (spec/api.md). */
static void test_shapes_and_order(void)
{
    double X[N * D];
    copy_with(X, GOOD_X, N * D, 4, NAN);
    rejects(X, N, D, 0, LMR_EDOMAIN, "lmr_pca: k = 0 and a NaN in X: k first");
    rejects(X, 1, D, 0, LMR_EDIM, "lmr_pca: n = 1 and k = 0: EDIM first");
    rejects(NULL, SIZE_MAX / 2, D, 1, LMR_EINVAL,
            "lmr_pca: X without data and n*d overflowing: EINVAL first");
    for (size_t i = 0; i < 6; i++) {
        buffers b;
        buffers_init(&b, N, D, 2);
        lmr_pca_outputs *o = &b.out;
        size_t *extents[] = {&o->mean.len, &o->components.rows,
                             &o->variances.len, &o->ratios.len,
                             &o->projections.cols, &o->reconstruction.rows};
        (*extents[i])--;
        expect_status(lmr_pca(&b.out, lmr_mat_of(GOOD_X, N, D), 2), LMR_EDIM,
                      "lmr_pca: an output one short");
        tap_ok(untouched(&b), "lmr_pca: an output one short: nothing written");
        expect_status(lmr_pca(&b.out, lmr_mat_of(X, N, D), 2), LMR_ENONFINITE,
                      "lmr_pca: an output one short and a NaN in X: X first");
        o->ratios.data = NULL;
        if (i != 3)
            expect_status(lmr_pca(&b.out, lmr_mat_of(GOOD_X, N, D), 2),
                          LMR_EINVAL,
                          "lmr_pca: an output one short, ratios without data: "
                          "EINVAL first");
    }
    expect_status(lmr_pca_check(lmr_mat_of(GOOD_X, N, D), 2), LMR_OK,
                  "lmr_pca_check: valid X and k");
    expect_status(lmr_pca_check(lmr_mat_of(GOOD_X, N, D), -1), LMR_EDOMAIN,
                  "lmr_pca_check: k = -1");
}

int main(void)
{
    test_sizes();
    test_k();
    test_values();
    test_null();
    test_shapes_and_order();
    tap_done();
    return tap_exit_status();
}
