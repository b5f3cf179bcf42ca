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
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
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
    /* what the schema requires and the reader once let through (issue 13) */
    {"missing-generator", {"field 'generator'", "(missing)", NULL}},
    {"missing-spec", {"field 'spec'", "(missing)", NULL}},
    {"missing-tolerance-model", {"field 'tolerance_model'", "(missing)", NULL}},
    {"missing-number-of-cases", {"field 'number_of_cases'", "(missing)", NULL}},
    {"wrong-number-of-cases", {"field 'number_of_cases'", "value: 3", "1"}},
    {"id-with-newline", {"cases[0].id", "OP/NAME", "\\nok 99"}},
    {"generated-expected", {"expected.Y", "inputs only", NULL}},
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

/* ---- the limits of spec/conventions.md#limits ---------------------------- */

/* The peak resident memory of this process so far, in MiB. */
static double peak_mib(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_maxrss / 1024.0;
}

/* Loading path fails with a message holding both fragments. */
static void check_refused(const char *path, const char *first,
                          const char *second, const char *what)
{
    char err[VEC_ERRLEN] = "";
    vec_file file;
    int status = vec_file_load(&file, path, err, sizeof err);
    tap_ok(status != 0 && strstr(err, first) != NULL &&
           (second == NULL || strstr(err, second) != NULL), "%s (%s)", what,
           err);
    vec_file_free(&file);
}

/* The reference's op runner on the one case of path fails with a message
 * holding fragment. */
static void check_run_refused(const char *path, const char *fragment,
                              const char *what)
{
    char err[VEC_ERRLEN] = "";
    vec_file file;
    ref_result result;
    memset(&result, 0, sizeof result);
    int status = vec_file_load(&file, path, err, sizeof err);
    if (status == 0)
        status = ref_run(&file, &file.cases[0], &result, err, sizeof err);
    tap_ok(status != 0 && strstr(err, fragment) != NULL, "%s (%s)", what, err);
    ref_result_free(&result);
    vec_file_free(&file);
}

/* Element limits: checked before a byte is allocated for the array. */
static void check_element_limits(void)
{
    check_refused("tests/data/generator-too-large.json", "inputs.logits.shape",
                  "limit of 67108864 elements",
                  "a [16384, 16384] generator is refused by the element limit");
    double before = peak_mib();
    check_refused("tests/data/generator-bad-checksum.json",
                  "checksum.fnv1a64", "does not match",
                  "a [4096, 4096] generator with a wrong checksum is refused");
    tap_ok(peak_mib() - before < 64.0, "... before its 128 MiB are allocated "
           "(peak grew by %.0f MiB)", peak_mib() - before);
    check_refused("tests/data/lookup-huge-width.json", "inputs.E.shape",
                  "size 1099511627776 is more than the limit",
                  "E of shape [0, 2^40] is refused by the size limit");
    check_run_refused("tests/data/sinusoid-huge-d.json", "limit of 67108864",
                      "pos_sinusoid with d = 2^27: the size param's limit");
    check_run_refused("tests/data/sinusoid-large-output.json",
                      "2 x 67108864 elements is more than the limit",
                      "pos_sinusoid of 2 x 2^26: the output's limit");
}

/* A FIFO or a directory named like a vector file is refused at once (a
 * FIFO would block the reader forever). */
static void check_special_files(void)
{
    char dir[] = "/tmp/lmr-format-XXXXXX", path[64];
    if (mkdtemp(dir) == NULL) {
        tap_ok(0, "a temporary directory for the FIFO test");
        return;
    }
    snprintf(path, sizeof path, "%s/fifo.json", dir);
    mkfifo(path, 0600);
    check_refused(path, "not a regular file", NULL, "a FIFO is refused");
    remove(path);
    snprintf(path, sizeof path, "%s/dir.json", dir);
    mkdir(path, 0700);
    check_refused(path, "not a regular file", NULL, "a directory is refused");
    rmdir(path);
    rmdir(dir);
}

/* 1 when this process runs under Valgrind (which sets LD_PRELOAD). */
static int under_valgrind(void)
{
    const char *preload = getenv("LD_PRELOAD");
    return preload != NULL && strstr(preload, "vgpreload") != NULL;
}

/* A file of n cases with distinct ids, and one duplicate at the end. */
static json_t *many_cases(size_t n)
{
    json_t *cases = json_array();
    for (size_t i = 0; i <= n; i++) {
        char id[64];
        snprintf(id, sizeof id, "argmax/case-%zu", i < n ? i : n / 2);
        json_array_append_new(cases, json_pack(
            "{s:s, s:s, s:[], s:[s], s:{}, s:{}, s:s, s:s}", "id", id,
            "comment", "one of many", "flags", "classes", "fp64", "params",
            "inputs", "result", "invalid", "error", "LMR_EDIM"));
    }
    return json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:{}, s:I, s:o}",
                     "format", VEC_FORMAT_NAME, "format_version",
                     VEC_FORMAT_VERSION, "generator", "test", "op", "argmax",
                     "spec", "-", "tolerance_model", "-", "notes",
                     "number_of_cases", (json_int_t)(n + 1), "cases", cases);
}

/* Duplicate ids are found in n log n: 100k cases (33 s of CPU with the old
 * quadratic check) load in well under 5 s. A guard against a return of the
 * quadratic check, not a benchmark: the bound is 6 times the old cost's
 * fraction, and under Valgrind only 2k cases are checked, untimed. */
static void check_many_ids(void)
{
    size_t n = under_valgrind() ? 2000 : 100000;
    json_t *root = many_cases(n);
    char err[VEC_ERRLEN] = "";
    vec_file file;
    clock_t start = clock();
    int status = vec_file_from_json(&file, root, "many.json", err, sizeof err);
    double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
    tap_ok(status != 0 && strstr(err, "duplicate case id") != NULL,
           "%zu cases: the duplicate at the end is found (%s)", n + 1, err);
    tap_ok(under_valgrind() || seconds < 5.0, "%zu cases load in %.2f s of "
           "CPU (< 5 s)", n + 1, seconds);
    vec_file_free(&file);
    json_decref(root);
}

int main(void)
{
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        check_malformed(&malformed[i]);
    check_round_trip();
    check_missing_input();
    check_element_limits();
    check_special_files();
    check_many_ids();
    tap_done();
    return tap_exit_status();
}
