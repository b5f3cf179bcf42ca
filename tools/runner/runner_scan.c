/* runner_scan.c -- see runner_scan.h. */
#include "runner_scan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define INT64_MAX_DIGITS "9223372036854775807"
#define INT64_MIN_DIGITS "9223372036854775808" /* without its sign */
#define INT64_DIGITS 19
#define DOUBLE_MAX_ORDER 308 /* below 10^308 a real cannot overflow */
#define EXPONENT_CAP 100000  /* exponents are read up to here */

/* ---- tokens --------------------------------------------------------------- */

/* The index just past the string token that opens at line[i] (a '"'), or
 * len when it is not closed. */
static size_t string_end(const char *line, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (line[i] == '\\')
            i++;
        else if (line[i] == '"')
            return i + 1;
    }
    return len;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* 1 for the characters a number token is made of. */
static int is_number_char(char c)
{
    return is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' ||
           c == 'E';
}

/* The index just past the number-like token that starts at line[i]. */
static size_t number_end(const char *line, size_t len, size_t i)
{
    while (i < len && is_number_char(line[i]))
        i++;
    return i;
}

static size_t skip_digits(const char *token, size_t n, size_t i)
{
    while (i < n && is_digit(token[i]))
        i++;
    return i;
}

/* The parts of a number token in JSON's grammar,
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
typedef struct {
    int negative;
    size_t int_start, int_digits; /* the integer part */
    int is_integer;               /* no fraction, no exponent */
    long exponent;                /* capped at +-EXPONENT_CAP */
} number_parts;

/* Splits a token into its parts; 0, or -1 when it is not a JSON number. */
static int parse_number(const char *token, size_t n, number_parts *parts)
{
    size_t i = 0;
    memset(parts, 0, sizeof *parts);
    parts->negative = i < n && token[i] == '-';
    i += (size_t)parts->negative;
    parts->int_start = i;
    if (i >= n || !is_digit(token[i]))
        return -1;
    i = token[i] == '0' ? i + 1 : skip_digits(token, n, i);
    parts->int_digits = i - parts->int_start;
    parts->is_integer = 1;
    if (i < n && token[i] == '.') {
        size_t fraction = i + 1;
        i = skip_digits(token, n, fraction);
        if (i == fraction)
            return -1;
        parts->is_integer = 0;
    }
    if (i < n && (token[i] == 'e' || token[i] == 'E')) {
        int sign = 1;
        i++;
        if (i < n && (token[i] == '+' || token[i] == '-'))
            sign = token[i++] == '-' ? -1 : 1;
        if (i >= n || !is_digit(token[i]))
            return -1;
        for (; i < n && is_digit(token[i]); i++)
            if (parts->exponent < EXPONENT_CAP)
                parts->exponent = parts->exponent * 10 + (token[i] - '0');
        parts->exponent *= sign;
        parts->is_integer = 0;
    }
    return i == n ? 0 : -1;
}

/* 1 if the token (n bytes; a NUL or a non-number byte follows it in
 * memory) is a JSON number that jansson refuses as too big. */
static int is_big_number(const char *token, size_t n)
{
    number_parts parts;
    if (parse_number(token, n, &parts) != 0)
        return 0;
    if (parts.is_integer) {
        const char *limit = parts.negative ? INT64_MIN_DIGITS : INT64_MAX_DIGITS;
        if (parts.int_digits != INT64_DIGITS)
            return parts.int_digits > INT64_DIGITS;
        return strncmp(token + parts.int_start, limit, INT64_DIGITS) > 0;
    }
    if ((long)parts.int_digits + parts.exponent < DOUBLE_MAX_ORDER)
        return 0;
    return isinf(strtod(token, NULL)) != 0; /* glibc: -1 for -inf */
}

/* ---- the scan ------------------------------------------------------------- */

int scan_line(const char *line, size_t len, size_t max_values,
              scan_result *out)
{
    size_t i = 0;
    out->values = 1;
    out->big_numbers = 0;
    while (i < len) {
        char c = line[i];
        if (c == '"') {
            i = string_end(line, len, i);
            continue;
        }
        if (c == '-' || is_digit(c)) {
            size_t end = number_end(line, len, i);
            out->big_numbers += (size_t)is_big_number(line + i, end - i);
            i = end;
            continue;
        }
        if (c == ',' || c == ':' || c == '[' || c == '{') {
            if (++out->values > max_values)
                return -1;
        }
        i++;
    }
    return 0;
}

char *quote_big_numbers(const char *line, size_t len, size_t big_numbers,
                        size_t *out_len)
{
    char *copy = malloc(len + 2 * big_numbers + 1);
    size_t i = 0, used = 0, quoted = 0;
    if (copy == NULL)
        return NULL;
    while (i < len) {
        size_t end = i + 1;
        int quote = 0;
        if (line[i] == '"') {
            end = string_end(line, len, i);
        } else if (line[i] == '-' || is_digit(line[i])) {
            end = number_end(line, len, i);
            quote = quoted < big_numbers && is_big_number(line + i, end - i);
            quoted += (size_t)quote;
        }
        if (quote)
            copy[used++] = '"';
        memcpy(copy + used, line + i, end - i);
        used += end - i;
        if (quote)
            copy[used++] = '"';
        i = end;
    }
    copy[used] = '\0';
    *out_len = used;
    return copy;
}

/* ---- the id of a results line --------------------------------------------- */

static size_t skip_space(const char *line, size_t len, size_t i)
{
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' ||
                       line[i] == '\n'))
        i++;
    return i;
}

/* The decoded string of the token line[start .. end), or NULL. */
static char *decode_string(const char *line, size_t start, size_t end)
{
    json_t *value = json_loadb(line + start, end - start, JSON_DECODE_ANY,
                               NULL);
    char *text = json_is_string(value) ? strdup(json_string_value(value))
                                       : NULL;
    json_decref(value);
    return text;
}

/* 1 if the key token line[start .. end) says "id". */
static int is_id_key(const char *line, size_t start, size_t end)
{
    if (end - start == 4 && memcmp(line + start, "\"id\"", 4) == 0)
        return 1;
    if (end - start > 64 || memchr(line + start, '\\', end - start) == NULL)
        return 0;
    char *key = decode_string(line, start, end);
    int is_id = key != NULL && strcmp(key, "id") == 0;
    free(key);
    return is_id;
}

char *scan_top_level_id(const char *line, size_t len)
{
    size_t i = skip_space(line, len, 0);
    int depth = 1, expecting_key = 1;
    if (i >= len || line[i] != '{')
        return NULL;
    for (i++; i < len;) {
        char c = line[i];
        if (c == '"' && depth == 1 && expecting_key) {
            size_t end = string_end(line, len, i);
            int wanted = is_id_key(line, i, end);
            i = skip_space(line, len, end);
            if (i >= len || line[i] != ':')
                return NULL;
            i = skip_space(line, len, i + 1);
            if (wanted)
                return i < len && line[i] == '"'
                    ? decode_string(line, i, string_end(line, len, i)) : NULL;
            expecting_key = 0;
            continue;
        }
        if (c == '"') {
            i = string_end(line, len, i);
            continue;
        }
        if (c == '{' || c == '[')
            depth++;
        else if ((c == '}' || c == ']') && --depth == 0)
            return NULL;
        else if (c == ',' && depth == 1)
            expecting_key = 1;
        i++;
    }
    return NULL;
}
