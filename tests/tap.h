/*
 * tap.h -- a minimal Test Anything Protocol emitter for the tests/ programs.
 *
 * Usage: tap_plan(n) once (or tap_done() at the end for a trailing plan),
 * then tap_ok(cond, fmt, ...) per check; tap_close_enough() compares doubles
 * and prints got, want and error with 17 significant digits on failure.
 * tap_exit_status() is what main() returns: non-zero if any check failed.
 */
#ifndef LMR_TAP_H
#define LMR_TAP_H

#include <stdarg.h>
#include <stdio.h>

void tap_plan(int count);
int tap_ok(int passed, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* passes when |got - want| <= bound; prints all digits otherwise */
int tap_close_enough(double got, double want, double bound,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void tap_done(void);
int tap_exit_status(void);

#endif
