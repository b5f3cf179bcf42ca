/*
 * fuzz_cli.c -- libFuzzer harness: the command line of lmr (tools/cli),
 * arguments split at NUL bytes (at most FUZZ_MAX_ARGS), run as
 * `lmr ARG...` with output and messages to /dev/null. That reaches the
 * parser of op names, --NAME VALUE pairs and nested JSON arrays, the
 * in-memory case, the reference and the printer.
 *
 * An input holding a number of FUZZ_MAX_DIGITS digits or more is skipped:
 * such a size is legal up to the limit (tested in tests/cli.c) but makes a
 * run take seconds, and fuzzing is for the structure of the arguments.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define FUZZ_MAX_ARGS 24
#define FUZZ_MAX_DIGITS 6

static FILE *null_out;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    null_out = fopen("/dev/null", "w");
    return null_out == NULL;
}

/* 1 if text (size bytes) holds FUZZ_MAX_DIGITS digits in a row. */
static int has_long_number(const uint8_t *text, size_t size)
{
    size_t run = 0;
    for (size_t i = 0; i < size; i++) {
        run = (text[i] >= '0' && text[i] <= '9') ? run + 1 : 0;
        if (run >= FUZZ_MAX_DIGITS)
            return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *argv[FUZZ_MAX_ARGS + 2];
    int argc = 1;
    if (has_long_number(data, size))
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    argv[0] = "lmr";
    for (size_t start = 0; start <= size && argc <= FUZZ_MAX_ARGS;) {
        argv[argc++] = text + start;
        start += strlen(text + start) + 1;
    }
    argv[argc] = NULL;
    cli_run(argc, argv, null_out, null_out);
    free(text);
    return 0;
}
