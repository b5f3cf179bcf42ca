/* judge.c -- see judge.h and spec/tolerance.md. */
#include "judge.h"

#include <float.h>
#include <math.h>

static const double unit_roundoff[VEC_CLASS_COUNT] = {
    0x1p-53, 0x1p-24, 0x1p-8, 0x1p-11};
static const double floor_value[VEC_CLASS_COUNT] = {
    DBL_MIN, FLT_MIN, FLT_MIN, 0x1p-14};

double judge_unit_roundoff(int cls)
{
    return unit_roundoff[cls];
}

double judge_floor(int cls)
{
    return floor_value[cls];
}

/* One element: how far it is past its bound (ratio > 1 fails) and its error
 * beyond the floor in units of u s, max(0, |y - g| - f) / (u s), which is
 * <= K exactly when the element passes. Non-finite rules first. */
static void judge_element(double y, double g, double k, double s, int cls,
                          double *ratio, double *units, double *bound)
{
    double u = unit_roundoff[cls];
    *bound = k * u * s + floor_value[cls];
    if (isnan(g) || isinf(g)) {
        int same = isnan(g) ? isnan(y) : (y == g);
        *ratio = same ? 0.0 : INFINITY;
        *units = *ratio;
        return;
    }
    if (!isfinite(y)) {
        *ratio = *units = INFINITY;
        return;
    }
    double error = fabs(y - g); /* +0 and -0 compare equal */
    *ratio = error / *bound;
    double beyond_floor = error - floor_value[cls];
    *units = (beyond_floor <= 0.0) ? 0.0
           : (s > 0.0 ? beyond_floor / (u * s) : INFINITY);
}

void judge_output(judge_verdict *verdict, const double *got,
                  const vec_expected *want, int cls)
{
    double worst_ratio = -1.0;
    verdict->passed = 1;
    verdict->failures = 0;
    verdict->worst_index = 0;
    verdict->worst_units = 0.0;
    verdict->worst_got = verdict->worst_want = verdict->worst_bound = 0.0;
    verdict->worst_got_index = verdict->worst_want_index = 0;
    verdict->k = want->k;
    for (size_t i = 0; i < want->value.count; i++) {
        double ratio, units, bound;
        double g = want->value.f64[i];
        judge_element(got[i], g, want->k, want->scale[i], cls, &ratio, &units,
                      &bound);
        if (!(ratio <= 1.0)) {
            verdict->passed = 0;
            verdict->failures++;
        }
        if (units > verdict->worst_units)
            verdict->worst_units = units;
        if (ratio > worst_ratio) {
            worst_ratio = ratio;
            verdict->worst_index = i;
            verdict->worst_got = got[i];
            verdict->worst_want = g;
            verdict->worst_bound = bound;
        }
    }
}

/* 1 if value is listed as acceptable for element index under class cls. */
static int accepted(const vec_expected *want, size_t index, int cls,
                    int64_t value)
{
    for (size_t a = 0; a < want->n_accept; a++) {
        const vec_accept *entry = &want->accept[a];
        if (entry->index != index || !(entry->classes & (1u << cls)))
            continue;
        for (size_t v = 0; v < entry->count; v++)
            if (entry->values[v] == value)
                return 1;
    }
    return 0;
}

void judge_index_output(judge_verdict *verdict, const int64_t *got,
                        const vec_expected *want, int cls)
{
    verdict->passed = 1;
    verdict->failures = 0;
    verdict->worst_index = 0;
    verdict->worst_units = 0.0;
    verdict->worst_got = verdict->worst_want = verdict->worst_bound = 0.0;
    verdict->worst_got_index = verdict->worst_want_index = 0;
    verdict->k = 0.0;
    for (size_t i = 0; i < want->value.count; i++) {
        int64_t expected = want->value.i64[i];
        if (got[i] == expected || accepted(want, i, cls, got[i]))
            continue;
        if (verdict->passed) { /* report the first mismatch */
            verdict->worst_index = i;
            verdict->worst_got = (double)got[i];
            verdict->worst_want = (double)expected;
            verdict->worst_got_index = got[i];
            verdict->worst_want_index = expected;
        }
        verdict->passed = 0;
        verdict->failures++;
        verdict->worst_units = INFINITY;
    }
}
