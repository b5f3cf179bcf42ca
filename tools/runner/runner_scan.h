/*
 * runner_scan.h -- a look at a response line before jansson parses it.
 *
 * jansson builds a tree of the whole line, and a line of "{}," costs it
 * about 75 bytes per 3 bytes of input: a testee could make the runner use
 * gigabytes with a line of a few megabytes. scan_line() counts the line's
 * JSON values in one pass without allocating, so that the runner refuses a
 * line with more values than the case's outputs can need
 * (spec/conventions.md#limits) before any tree is built.
 *
 * The same pass finds the numbers jansson cannot hold -- integers outside
 * int64 (18446744073709551616) and reals beyond the double range (1e400) --
 * which the protocol allows in float outputs ("any number of digits"):
 * quote_big_numbers() turns each into a string ("1e400"), which the runner
 * decodes like any number string (strtod: 1e400 is +inf).
 */
#ifndef LMR_RUNNER_SCAN_H
#define LMR_RUNNER_SCAN_H

#include <stddef.h>

typedef struct {
    size_t values;       /* 1 + commas + colons + opening brackets outside
                            strings: at least the number of JSON values */
    size_t big_numbers;  /* number tokens jansson rejects as too big */
} scan_result;

/* Scans line (len bytes, followed by a NUL byte). Returns 0, or -1 as soon
 * as more than max_values values are seen (out->values is then
 * max_values + 1). Malformed JSON is not an error here: jansson says what
 * is wrong with it. */
int scan_line(const char *line, size_t len, size_t max_values,
              scan_result *out);

/* A copy of line (len bytes, NUL after) with every too-big number token in
 * double quotes, NUL-terminated, its length in *out_len; NULL when out of
 * memory. big_numbers is scan_line's count. */
char *quote_big_numbers(const char *line, size_t len, size_t big_numbers,
                        size_t *out_len);

/* The value of the top-level "id" member of a JSON object line, when it is
 * a string, decoded (a new string); NULL otherwise. Reads no deeper than
 * the top level and allocates only the id: for indexing a results file
 * whose lines may be huge. */
char *scan_top_level_id(const char *line, size_t len);

#endif
