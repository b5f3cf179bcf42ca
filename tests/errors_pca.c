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

static void buffers_init(buffers *b)
{
    double *arrays[] = {b->mean, b->comp, b->var, b->ratio, b->proj, b->rec};
    size_t sizes[] = {D, D * D, D, D, N * D, N * D};
    for (size_t i = 0; i < 6; i++)
        for (size_t j = 0; j < sizes[i]; j++)
            arrays[i][j] = SENTINEL;
    b->out = (lmr_pca_outputs){b->mean, b->comp, b->var, b->ratio, b->proj, b->rec};
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

static void rejects(const double *X, size_t n, size_t d, size_t k, int status,
                    const char *what)
{
    buffers b;
    buffers_init(&b);
    expect_status(lmr_pca(&b.out, X, n, d, k), status, what);
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
    rejects(GOOD_X, N, D, D + 1, LMR_EDOMAIN, "lmr_pca: k = d + 1 (n > d)");
    rejects(GOOD_X, 2, 6, 3, LMR_EDOMAIN, "lmr_pca: k = n + 1 (n < d)");
    buffers b;
    buffers_init(&b);
    expect_status(lmr_pca(&b.out, GOOD_X, N, D, D), LMR_OK, "lmr_pca: k = min(n, d)");
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
    buffers_init(&b);
    expect_status(lmr_pca(&b.out, X, N, D, 1), LMR_OK,
                  "lmr_pca: an entry of -2^480 is in range");
    tap_ok(isfinite(b.var[0]) && isfinite(b.rec[0]),
           "lmr_pca: -2^480 gives finite variances and reconstruction");
}

static void test_null(void)
{
    buffers b;
    buffers_init(&b);
    expect_status(lmr_pca(NULL, GOOD_X, N, D, 1), LMR_EINVAL, "lmr_pca: out is NULL");
    expect_status(lmr_pca(&b.out, NULL, N, D, 1), LMR_EINVAL, "lmr_pca: X is NULL");
    double **slots[] = {&b.out.mean, &b.out.components, &b.out.variances,
                        &b.out.ratios, &b.out.projections, &b.out.reconstruction};
    for (size_t i = 0; i < 6; i++) {
        buffers_init(&b);
        *slots[i] = NULL;
        expect_status(lmr_pca(&b.out, GOOD_X, N, D, 1), LMR_EINVAL,
                      "lmr_pca: an output array is NULL");
    }
}

int main(void)
{
    test_sizes();
    test_k();
    test_values();
    test_null();
    tap_done();
    return tap_exit_status();
}
