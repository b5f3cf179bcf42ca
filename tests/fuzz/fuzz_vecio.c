/*
 * fuzz_vecio.c -- libFuzzer harness: the vector-file reader
 * (tools/common/vecio.c) on any bytes. The input is parsed as JSON as
 * vec_load_json would parse a file, then decoded by vec_file_from_json,
 * and every decoded case's params read through the typed accessors. Any
 * crash, leak or sanitizer report is a bug; a refusal is not.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "vecio.h"

/* Reads a few params of every case the way the op runners do. */
static void read_params(const vec_file *file)
{
    char err[VEC_ERRLEN];
    for (size_t i = 0; i < file->n_cases; i++) {
        vec_ctx ctx = {file, &file->cases[i], err, sizeof err};
        size_t size;
        int64_t integer;
        double number;
        int flag;
        const char *text;
        const vec_array *input;
        vec_param_size(&ctx, "d", 0, 1, &size);
        vec_param_int64(&ctx, "vocab", 0, 1, &integer);
        vec_param_double(&ctx, "tau", 0, 1.0, &number);
        vec_param_bool(&ctx, "final_layernorm", 0, 0, &flag);
        vec_param_string(&ctx, "reduction", 0, "mean", &text);
        vec_input(&ctx, "logits", VEC_F64, 2, &input);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[VEC_ERRLEN];
    vec_file file;
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
                              NULL);
    if (root == NULL)
        return 0;
    if (vec_file_from_json(&file, root, "fuzz.json", err, sizeof err) == 0)
        read_params(&file);
    vec_file_free(&file);
    json_decref(root);
    return 0;
}
