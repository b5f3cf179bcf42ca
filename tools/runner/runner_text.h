/*
 * runner_text.h -- text that came from outside (a testee's reason, its
 * standard error, a raw response line, a path) made safe to print: valid
 * UTF-8 (so that the JSON report can always hold it), no control character
 * that could start a new TAP line or drive a terminal, and never cut in
 * the middle of a character.
 */
#ifndef LMR_RUNNER_TEXT_H
#define LMR_RUNNER_TEXT_H

#include <stddef.h>

#include <jansson.h>

/* Copies at most size - 1 bytes of src (len bytes, NUL bytes allowed) into
 * dst, NUL-terminated: each byte that does not belong to a valid UTF-8
 * character, and each control character other than newline and tab
 * (newline too unless keep_newlines), becomes '?'; a character that does
 * not fit whole is left out. Returns the number of bytes of src consumed. */
size_t text_sanitize(char *dst, size_t size, const char *src, size_t len,
                     int keep_newlines);

/* A new sanitized copy of the NUL-terminated src (newlines kept), or NULL
 * when out of memory. */
char *text_sanitized_copy(const char *src);

/* A JSON string of the sanitized text (newlines kept): never NULL for a
 * reason of invalid UTF-8, as json_string would be. NULL only when out of
 * memory. */
json_t *text_json_string(const char *text);

#endif
