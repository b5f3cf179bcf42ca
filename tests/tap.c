/* tap.c -- see tap.h. */
#include "tap.h"

#include <math.h>

static int tests_run;
static int tests_failed;
static int plan_printed;

void tap_plan(int count)
{
    printf("1..%d\n", count);
    plan_printed = 1;
}

static int report(int passed, const char *fmt, va_list args)
{
    tests_run++;
    if (!passed)
        tests_failed++;
    printf("%s %d - ", passed ? "ok" : "not ok", tests_run);
    vprintf(fmt, args);
    printf("\n");
    return passed;
}

int tap_ok(int passed, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    report(passed, fmt, args);
    va_end(args);
    return passed;
}

void tap_diag(const char *fmt, ...)
{
    va_list args;
    printf("# ");
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    printf("\n");
}

int tap_close_enough(double got, double want, double bound,
                     const char *fmt, ...)
{
    double error = fabs(got - want);
    int passed = !(error > bound) && !isnan(got) == !isnan(want);
    va_list args;
    va_start(args, fmt);
    report(passed, fmt, args);
    va_end(args);
    if (!passed)
        tap_diag("got %.17g want %.17g error %.17g bound %.17g",
                 got, want, error, bound);
    return passed;
}

void tap_done(void)
{
    if (!plan_printed)
        printf("1..%d\n", tests_run);
    fflush(stdout);
}

int tap_exit_status(void)
{
    return tests_failed != 0;
}
