/*
 * testee_ref.c -- lmr-testee-ref: the reference library (ref/) as a testee
 * of lmr-run (spec/protocol.md), class fp64, every op.
 *
 * Each request becomes a one-case vector file in memory, as in tools/cli/cli.c:
 * its params and inputs as they came, its result a placeholder (the
 * expected outputs are not in a request, and ref_run does not read them).
 * vec_file_from_json decodes it -- regenerating generated inputs and
 * checking their checksums -- and ref_run runs it. The reply is "ok" with
 * every output and its shape (from tools/common/op_shapes.c, as lmr prints it), or
 * "rejected" with the reference's status.
 *
 * Usage: lmr-testee-ref (requests on standard input, responses on standard
 * output). Exit status 0 at the end of the input, 2 on a request that is
 * not a JSON object with a string id and op.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lmr.h"
#include "op_table.h"
#include "ref_ops.h"
#include "vecio.h"

#define HELLO "{\"protocol\": 1, \"name\": \"lmref-reference\", " \
              "\"class\": \"fp64\", \"ops\": [\"*\"]}"
#define REQUEST_NAME "request"

/* ---- requests and responses ---------------------------------------------- */

/* {"id", "status", "reason"}: a rejected or unsupported answer. */
static json_t *status_json(const char *id, const char *status,
                           const char *reason)
{
    return json_pack("{s:s, s:s, s:s}", "id", id, "status", status,
                     "reason", reason);
}

/* {"id", "status": "ok", "outputs": {name: {"shape", "data"}}}. */
static json_t *ok_json(const char *id, const char *op, const vec_case *c,
                       const ref_result *result)
{
    json_t *outputs = json_object();
    for (size_t i = 0; i < result->n_outputs; i++) {
        const ref_output *output = &result->outputs[i];
        size_t shape[VEC_MAX_DIMS];
        size_t ndim = op_result_shape(op, output->name, c, output->count,
                                      shape);
        json_t *array = output->dtype == VEC_F64
            ? vecw_f64_array(ndim, shape, output->f64)
            : vecw_i64_array(ndim, shape, output->i64);
        json_object_del(array, "dtype");
        json_object_set_new(outputs, output->name, array);
    }
    return json_pack("{s:s, s:s, s:o}", "id", id, "status", "ok",
                     "outputs", outputs);
}

/* A member of the request, or null (for vecio to reject). */
static json_t *member(const json_t *request, const char *name)
{
    json_t *value = json_object_get(request, name);
    return value ? json_incref(value) : json_null();
}

/* The request as a vector file of one case whose result is a placeholder. */
static json_t *one_case_file(const json_t *request, const char *id,
                             const char *op)
{
    json_t *c = json_pack(
        "{s:s, s:s, s:[], s:[s], s:o, s:o, s:s, s:s}", "id", id,
        "comment", "a request of lmr-run; the result is a placeholder",
        "flags", "classes", "fp64", "params", member(request, "params"),
        "inputs", member(request, "inputs"), "result", "invalid",
        "error", "LMR_EUNJUDGED");
    return json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:{}, s:i, s:[o]}",
                     "format", VEC_FORMAT_NAME,
                     "format_version", VEC_FORMAT_VERSION,
                     "generator", "lmr-testee-ref", "op", op,
                     "spec", "spec/protocol.md", "tolerance_model",
                     "spec/tolerance.md", "notes",
                     "number_of_cases", 1, "cases", c);
}

/* Runs the request through vecio and ref_run. */
static json_t *run_request(const json_t *request, const char *id,
                           const char *op)
{
    char message[VEC_ERRLEN], reason[VEC_ERRLEN + 64];
    vec_file file;
    ref_result result;
    json_t *response, *root = one_case_file(request, id, op);
    memset(&result, 0, sizeof result);
    if (vec_file_from_json(&file, root, REQUEST_NAME, message,
                           sizeof message) != 0 ||
        ref_run(&file, &file.cases[0], &result, message, sizeof message) != 0) {
        snprintf(reason, sizeof reason, "malformed request: %s", message);
        response = status_json(id, "rejected", reason);
    } else if (result.status != LMR_OK) {
        snprintf(reason, sizeof reason, "%s (%s)",
                 lmr_status_name(result.status), lmr_strerror(result.status));
        response = status_json(id, "rejected", reason);
    } else {
        response = ok_json(id, op, &file.cases[0], &result);
    }
    ref_result_free(&result);
    vec_file_free(&file);
    json_decref(root);
    return response;
}

/* The response to one request line, or NULL when it has no id and op. */
static json_t *answer(const char *line, size_t len)
{
    json_error_t error;
    json_t *response = NULL, *request = json_loadb(line, len, 0, &error);
    const char *id = json_string_value(json_object_get(request, "id"));
    const char *op = json_string_value(json_object_get(request, "op"));
    if (id != NULL && op != NULL && !ref_op_known(op))
        response = status_json(id, "unsupported", "not an op of the reference");
    else if (id != NULL && op != NULL)
        response = run_request(request, id, op);
    json_decref(request);
    return response;
}

/* Says hello, then answers each request line with one response line. */
int main(void)
{
    char *line = NULL;
    size_t capacity = 0;
    ssize_t len;
    int status = 0;
    printf("%s\n", HELLO);
    fflush(stdout);
    while (status == 0 && (len = getline(&line, &capacity, stdin)) > 0) {
        json_t *response = answer(line, (size_t)len);
        if (response == NULL) {
            fprintf(stderr, "lmr-testee-ref: not a request: %.60s\n", line);
            status = 2;
            break;
        }
        json_dumpf(response, stdout, JSON_COMPACT | JSON_REAL_PRECISION(17));
        putchar('\n');
        fflush(stdout);
        json_decref(response);
    }
    free(line);
    return status;
}
