/*
 * judge.c -- the pass criterion of spec/tolerance.md as tools/common/judge.c
 * implements it: |y - g| <= K u_c s + f_c per element, the non-finite rules,
 * signed zeros, the floor, and the per-class constants. Every bound here is
 * computed from the spec's formula, so an off-by-one in u or f would fail.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "judge.h"
#include "tap.h"

/* A one-element expected output g with scale s and constant k. */
typedef struct {
    double value;
    double scale;
    vec_expected expected;
} single;

static void make_single(single *one, double g, double s, double k)
{
    memset(one, 0, sizeof *one);
    one->value = g;
    one->scale = s;
    one->expected.value.dtype = VEC_F64;
    one->expected.value.ndim = 1;
    one->expected.value.shape[0] = 1;
    one->expected.value.count = 1;
    one->expected.value.f64 = &one->value;
    one->expected.k = k;
    one->expected.scale = &one->scale;
}

static int passes(double got, double want, double s, double k, int cls)
{
    single one;
    judge_verdict verdict;
    make_single(&one, want, s, k);
    judge_output(&verdict, &got, &one.expected, cls);
    return verdict.passed;
}

static void class_constants(void)
{
    tap_ok(judge_unit_roundoff(VEC_FP64) == ldexp(1, -53), "u(fp64) = 2^-53");
    tap_ok(judge_unit_roundoff(VEC_FP32) == ldexp(1, -24), "u(fp32) = 2^-24");
    tap_ok(judge_unit_roundoff(VEC_BF16) == ldexp(1, -8), "u(bf16) = 2^-8");
    tap_ok(judge_unit_roundoff(VEC_FP16) == ldexp(1, -11), "u(fp16) = 2^-11");
    tap_ok(judge_floor(VEC_FP64) == DBL_MIN, "floor(fp64) = smallest normal");
    tap_ok(judge_floor(VEC_FP32) == FLT_MIN, "floor(fp32) = smallest normal");
    tap_ok(judge_floor(VEC_BF16) == FLT_MIN, "floor(bf16) = 2^-126");
    tap_ok(judge_floor(VEC_FP16) == ldexp(1, -14), "floor(fp16) = 2^-14");
}

static void bound_edges(void)
{
    /* g = 1, s = 1, K = 4, fp32: bound = 4 * 2^-24 + 2^-126 */
    double bound = 4 * ldexp(1, -24) + FLT_MIN;
    tap_ok(passes(1.0, 1.0, 1.0, 4, VEC_FP32), "exact value passes");
    tap_ok(passes(1.0 + 4 * ldexp(1, -24), 1.0, 1.0, 4, VEC_FP32),
           "error of exactly K u s passes");
    tap_ok(!passes(1.0 + 2 * bound, 1.0, 1.0, 4, VEC_FP32),
           "error of twice the bound fails");
    tap_ok(!passes(1.0 - 5 * ldexp(1, -24), 1.0, 1.0, 4, VEC_FP32),
           "error of 5 u s below fails with K = 4");
    tap_ok(passes(1.0 + ldexp(1, -20), 1.0, 1.0, 4, VEC_BF16),
           "the same error passes in bf16, whose u is 2^-8");
    tap_ok(!passes(1.0 + ldexp(1, -50), 1.0, 1.0, 4, VEC_FP64),
           "2^-50 fails in fp64 with K = 4 (bound 2^-51)");
    tap_ok(passes(1.0, 1.0 + ldexp(1, -52), 1.0, 1.0, VEC_FP64) == 0,
           "one ulp of 1 (2 u) fails with K = 1");
    tap_ok(passes(3.0, 2.0, 1e20, 1.0, VEC_FP64),
           "a large scale widens the bound (s = 1e20)");
}

static void floors_and_zeros(void)
{
    tap_ok(passes(-0.0, 0.0, 0.0, 1, VEC_FP64), "-0 equals +0");
    tap_ok(passes(0.0, -0.0, 0.0, 1, VEC_FP64), "+0 equals -0");
    tap_ok(passes(ldexp(1, -1030), 0.0, 0.0, 1, VEC_FP64),
           "a subnormal where 0 is expected is within the fp64 floor");
    tap_ok(!passes(ldexp(1, -1020), 0.0, 0.0, 1, VEC_FP64),
           "4 times the smallest normal is past the fp64 floor");
    tap_ok(passes(ldexp(1, -15), 0.0, 0.0, 1, VEC_FP16),
           "2^-15 is within the fp16 floor of 2^-14");
    tap_ok(!passes(ldexp(1, -13), 0.0, 0.0, 1, VEC_FP16),
           "2^-13 is past the fp16 floor");
}

static void non_finite(void)
{
    tap_ok(!passes(NAN, 1.0, 1e300, 1e6, VEC_BF16),
           "NaN where a finite value is expected fails, however wide the bound");
    tap_ok(!passes(INFINITY, 1.0, 1e300, 1e6, VEC_BF16),
           "+inf where a finite value is expected fails");
    tap_ok(passes(INFINITY, INFINITY, 0, 1, VEC_FP64), "+inf matches +inf");
    tap_ok(!passes(-INFINITY, INFINITY, 0, 1, VEC_FP64),
           "-inf does not match +inf");
    tap_ok(!passes(DBL_MAX, INFINITY, 0, 1, VEC_FP64),
           "a finite value does not match +inf");
    tap_ok(passes(NAN, NAN, 0, 1, VEC_FP64), "NaN matches an expected NaN");
    tap_ok(!passes(0.0, NAN, 0, 1, VEC_FP64), "0 does not match an expected NaN");
}

static void worst_element(void)
{
    double want[3] = {1.0, 2.0, 3.0}, scale[3] = {1.0, 1.0, 1.0};
    double got[3] = {1.0, 2.0 + ldexp(1, -40), 3.0 + ldexp(1, -45)};
    vec_expected expected;
    judge_verdict verdict;
    memset(&expected, 0, sizeof expected);
    expected.value.count = 3;
    expected.value.f64 = want;
    expected.scale = scale;
    expected.k = 1;
    judge_output(&verdict, got, &expected, VEC_FP64);
    tap_ok(!verdict.passed && verdict.failures == 2,
           "two elements out of bound are counted");
    tap_ok(verdict.worst_index == 1, "the worst element is reported (index 1)");
    tap_close_enough(verdict.worst_units, ldexp(1, 13), 0.0,
                     "worst error in units of u s is 2^-40 / 2^-53 = 2^13");
}

int main(void)
{
    class_constants();
    bound_edges();
    floors_and_zeros();
    non_finite();
    worst_element();
    tap_done();
    return tap_exit_status();
}
