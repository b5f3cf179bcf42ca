/*
 * format.c -- the vector-file reader (tools/common/vecio.c) on good and bad files.
 *
 * Every file in tests/malformed/ has exactly one defect; loading it must fail
 * with a message that names the file, the case id (where there is one), the
 * field and the offending value. Then: the number encoding round-trips every
 * double bit for bit (17 digits; "inf", "-inf", "nan", "-0" spelled out), and
 * a well-formed case missing an op's input is reported by the op runner.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ref_ops.h"
#include "tap.h"
#include "vecio.h"

typedef struct {
    const char *file;
    const char *fragments[3]; /* each must appear in the message */
} malformed_case;

static const malformed_case malformed[] = {
    {"not-json", {"line", NULL, NULL}},
    {"wrong-format", {"field 'format'", "onnx-node-test", NULL}},
    {"bad-version", {"field 'format_version'", "value: 2", NULL}},
    {"missing-id", {"cases[0].id", "(missing)", NULL}},
    {"duplicate-id", {"case 'embed_lookup/fixture'", "duplicate case id", NULL}},
    {"bad-number", {"case 'embed_lookup/fixture'", "inputs.E.data[3]", "\"infinity\""}},
    {"shape-mismatch", {"field 'inputs.E'", "6 elements", "[1.0,2.0,3.0,4.0]"}},
    {"bad-result", {"field 'result'", "\"maybe\"", NULL}},
    {"unknown-flag", {"field 'flags'", "\"mystery\"", NULL}},
    {"bad-class", {"field 'classes'", "\"fp8\"", NULL}},
    {"missing-tolerance", {"field 'tolerance'", "(missing)", NULL}},
    {"negative-scale", {"tolerance.Y.scale[1]", "-1.0", NULL}},
    {"bad-dtype", {"inputs.E.dtype", "\"float32\"", NULL}},
    {"invalid-without-error", {"field 'error'", "(missing)", NULL}},
    {"scale-length", {"field 'tolerance.Y'", "[3.0]", NULL}},
    {"fractional-id", {"inputs.ids.data[0]", "1.5", NULL}},
};

static void check_malformed(const malformed_case *entry)
{
    char path[256], err[VEC_ERRLEN] = "";
    vec_file file;
    snprintf(path, sizeof path, "tests/malformed/%s.json", entry->file);
    int status = vec_file_load(&file, path, err, sizeof err);
    int named = strstr(err, path) != NULL;
    for (int i = 0; i < 3 && entry->fragments[i]; i++)
        named = named && strstr(err, entry->fragments[i]) != NULL;
    tap_ok(status != 0 && named, "%s is rejected with file, field and value named",
           entry->file);
    if (status == 0 || !named)
        tap_diag("message: %s", err);
    vec_file_free(&file);
}

/* Writes values with vecw_* into a one-case file, reads it back. */
static void check_round_trip(void)
{
    static const double values[] = {
        0.1, -0.0, 0.0, INFINITY, -INFINITY, NAN, 5e-324, 2.2250738585072009e-308,
        1.7976931348623157e308, 1.0 / 3.0, -123456789.01234567, 1e-300};
    size_t count = sizeof values / sizeof values[0];
    size_t shape[1] = {count};
    char path[] = "/tmp/lmr-format-test-XXXXXX", err[VEC_ERRLEN];
    int fd = mkstemp(path);
    json_t *root = json_pack(
        "{s:s, s:i, s:s, s:s, s:s, s:s, s:{}, s:i, s:[{s:s, s:s, s:[], s:[s], s:{}, s:{s:o}, s:s, s:s}]}",
        "format", VEC_FORMAT_NAME, "format_version", VEC_FORMAT_VERSION,
        "generator", "test", "op", "round_trip", "spec", "-", "tolerance_model", "-",
        "notes", "number_of_cases", 1, "cases", "id", "round_trip/all", "comment",
        "special values", "flags", "classes", "fp64", "params", "inputs", "x",
        vecw_f64_array(1, shape, values), "result", "invalid", "error", "LMR_EDOMAIN");
    vec_file file;
    close(fd);
    int written = vecw_write_file(root, path, err, sizeof err) == 0;
    int loaded = written && vec_file_load(&file, path, err, sizeof err) == 0;
    tap_ok(loaded, "a file written with vecw_* loads back");
    if (!loaded)
        tap_diag("%s", err);
    for (size_t i = 0; loaded && i < count; i++) {
        double back = file.cases[0].inputs[0].f64[i];
        int same = isnan(values[i]) ? isnan(back)
                   : (memcmp(&back, &values[i], sizeof back) == 0);
        tap_ok(same, "%.17g survives the round trip bit for bit", values[i]);
    }
    if (loaded)
        vec_file_free(&file);
    json_decref(root);
    remove(path);
}

/* A schema-valid case without the op's "ids" input. */
static void check_missing_input(void)
{
    char err[VEC_ERRLEN] = "";
    vec_file file;
    ref_result result;
    int status = vec_file_load(&file, "tests/malformed/bad-result.json", err,
                               sizeof err);
    tap_ok(status != 0, "bad-result.json stays rejected");
    vec_file_free(&file);
    status = vec_file_load(&file, "tests/data/lookup-without-ids.json", err,
                           sizeof err);
    tap_ok(status == 0, "lookup-without-ids.json is well-formed");
    if (status == 0) {
        status = ref_run(&file, &file.cases[0], &result, err, sizeof err);
        tap_ok(status != 0 && strstr(err, "inputs.ids") &&
                   strstr(err, "case 'embed_lookup/no-ids'"),
               "a missing op input is reported with case and field");
        if (status == 0 || !strstr(err, "inputs.ids"))
            tap_diag("message: %s", err);
        ref_result_free(&result);
    }
    vec_file_free(&file);
}

int main(void)
{
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        check_malformed(&malformed[i]);
    check_round_trip();
    check_missing_input();
    tap_done();
    return tap_exit_status();
}
