/* check.c -- see check.h. */
#include "check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lmr_status.h"
#include "tap.h"

void expect_status(int status, int expected, const char *what)
{
    tap_ok(status == expected, "%s -> %s", what, lmr_status_name(expected));
    if (status != expected)
        tap_diag("got %s (%d)", lmr_status_name(status), status);
}

void copy_with(double *dst, const double *src, size_t count, size_t position,
               double value)
{
    memcpy(dst, src, count * sizeof *dst);
    dst[position] = value;
}

struct worst worst_start(void)
{
    struct worst worst = {0.0, 0.0, 0.0, 1};
    return worst;
}

void worst_update(struct worst *worst, double error, double bound)
{
    double ratio;
    if (!isfinite(error) || (error > 0 && !(bound > 0 && isfinite(bound))))
        ratio = INFINITY;
    else
        ratio = error > 0 ? error / bound : 0.0;
    if (ratio > worst->ratio) {
        worst->ratio = ratio;
        worst->error = error;
        worst->bound = bound;
    }
}

void worst_report(const struct worst *worst, const char *fmt, ...)
{
    char name[256];
    va_list args;
    va_start(args, fmt);
    vsnprintf(name, sizeof name, fmt, args);
    va_end(args);
    tap_ok(worst->calls_ok && worst->ratio <= 1.0, "%s", name);
    if (!worst->calls_ok)
        tap_diag("a library call did not return LMR_OK");
    else if (!(worst->ratio <= 1.0))
        tap_diag("worst error %.17g bound %.17g", worst->error, worst->bound);
}
