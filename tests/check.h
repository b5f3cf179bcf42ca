/*
 * check.h -- helpers shared by the TAP programs that call the reference
 * library directly (errors.c, errors_output.c, properties.c,
 * properties_output.c).
 */
#ifndef LMR_CHECK_TESTS_H
#define LMR_CHECK_TESTS_H

#include <stddef.h>

/* One TAP line: status is exactly `expected`; the names of both otherwise. */
void expect_status(int status, int expected, const char *what);

/* dst = src with dst[position] replaced by value. dst, src: (count) */
void copy_with(double *dst, const double *src, size_t count, size_t position,
               double value);

/* The largest ratio error / bound seen by one property check. */
struct worst {
    double ratio, error, bound;
    int calls_ok; /* 0 once a library call has failed */
};

struct worst worst_start(void);

/* Records one error against its bound. An infinite or NaN error, or a
 * nonzero error against a bound that is not a positive finite number, counts
 * as a failure (ratio +inf): a wrong infinity can never slip through as
 * inf/inf. */
void worst_update(struct worst *worst, double error, double bound);

/* One TAP line: every library call succeeded and every error was within its
 * bound; prints the worst error and its bound on failure. */
void worst_report(const struct worst *worst, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
