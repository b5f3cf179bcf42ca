/*
 * fuzz_reference.c -- libFuzzer harness: reader + reference + judge, the
 * path of lmr-verify. The input is a vector file; each of its first cases
 * is run through the reference (tools/refops, ref/) and every output the
 * reference gives is judged (tools/common/judge.c) against the case's
 * expected output of the same name and size, in every class.
 *
 * Cases with an integer param above FUZZ_MAX_PARAM are skipped: a size of
 * millions is legal (and its limit is tested in tests/format.c) but makes
 * a run take seconds, and fuzzing is for the structure of the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "judge.h"
#include "lmr.h"
#include "ref_ops.h"
#include "vecio.h"

#define FUZZ_MAX_CASES 8
#define FUZZ_MAX_PARAM 4096

/* 1 if some integer param of the case is above FUZZ_MAX_PARAM. */
static int has_large_param(const vec_case *c)
{
    const char *name;
    const json_t *value;
    json_object_foreach(c->params, name, value)
        if (json_is_integer(value) &&
            (json_integer_value(value) > FUZZ_MAX_PARAM ||
             json_integer_value(value) < -FUZZ_MAX_PARAM))
            return 1;
    return 0;
}

/* Judges each output of the reference that has an expected counterpart. */
static void judge_result(const vec_case *c, const ref_result *result)
{
    for (size_t i = 0; i < c->n_expected; i++) {
        const vec_expected *want = &c->expected[i];
        const ref_output *got = ref_result_output(result, want->value.name);
        if (got == NULL || got->count != want->value.count ||
            got->dtype != want->value.dtype)
            continue;
        for (int cls = 0; cls < VEC_CLASS_COUNT; cls++) {
            judge_verdict verdict;
            if (got->dtype == VEC_F64)
                judge_output(&verdict, got->f64, want, cls);
            else
                judge_index_output(&verdict, got->i64, want, cls);
        }
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
    if (vec_file_from_json(&file, root, "fuzz.json", err, sizeof err) == 0) {
        for (size_t i = 0; i < file.n_cases && i < FUZZ_MAX_CASES; i++) {
            ref_result result;
            const vec_case *c = &file.cases[i];
            memset(&result, 0, sizeof result);
            if (has_large_param(c))
                continue;
            if (ref_run(&file, c, &result, err, sizeof err) == 0 &&
                result.status == LMR_OK)
                judge_result(c, &result);
            ref_result_free(&result);
        }
    }
    vec_file_free(&file);
    json_decref(root);
    return 0;
}
