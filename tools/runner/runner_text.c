/* runner_text.c -- see runner_text.h. */
#include "runner_text.h"

#include <stdlib.h>
#include <string.h>

/* The length of the valid UTF-8 character at text (len bytes available),
 * or 0 when the bytes there do not start one (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF). */
static size_t utf8_char_length(const unsigned char *text, size_t len)
{
    unsigned char first = text[0];
    size_t need;
    unsigned char low = 0x80, high = 0xBF; /* the range of the second byte */
    if (first < 0x80)
        return 1;
    if (first >= 0xC2 && first <= 0xDF)
        need = 2;
    else if (first >= 0xE0 && first <= 0xEF) {
        need = 3;
        low = first == 0xE0 ? 0xA0 : 0x80;
        high = first == 0xED ? 0x9F : 0xBF;
    } else if (first >= 0xF0 && first <= 0xF4) {
        need = 4;
        low = first == 0xF0 ? 0x90 : 0x80;
        high = first == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (len < need || text[1] < low || text[1] > high)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (text[i] < 0x80 || text[i] > 0xBF)
            return 0;
    return need;
}

/* 1 if the ASCII byte is shown as it is. */
static int is_shown_ascii(unsigned char byte, int keep_newlines)
{
    if (byte == '\t' || (byte == '\n' && keep_newlines))
        return 1;
    return byte >= 0x20 && byte != 0x7F;
}

size_t text_sanitize(char *dst, size_t size, const char *src, size_t len,
                     int keep_newlines)
{
    const unsigned char *bytes = (const unsigned char *)src;
    size_t in = 0, out = 0;
    if (size == 0)
        return 0;
    while (in < len) {
        size_t char_len = utf8_char_length(bytes + in, len - in);
        size_t put = char_len > 1 ? char_len : 1;
        if (out + put >= size)
            break;
        if (char_len > 1)
            memcpy(dst + out, src + in, char_len);
        else if (char_len == 1 && is_shown_ascii(bytes[in], keep_newlines))
            dst[out] = src[in];
        else
            dst[out] = '?';
        out += put;
        in += char_len ? char_len : 1;
    }
    dst[out] = '\0';
    return in;
}

char *text_sanitized_copy(const char *src)
{
    size_t len = strlen(src);
    char *copy = malloc(len + 1);
    if (copy != NULL)
        text_sanitize(copy, len + 1, src, len, 1);
    return copy;
}

json_t *text_json_string(const char *text)
{
    char *copy = text_sanitized_copy(text ? text : "");
    json_t *string = copy ? json_string(copy) : NULL;
    free(copy);
    return string;
}
