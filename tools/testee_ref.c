/*
 * testee_ref.c -- lmr-testee-ref: the reference library (ref/) as a testee
 * of lmr-run (spec/protocol.md), class fp64, every op.
 *
 * Each request becomes a one-case vector file in memory, as in tools/cli.c:
 * its params and inputs as they came, its result a placeholder (the
 * expected outputs are not in a request, and ref_run does not read them).
 * vec_file_from_json decodes it -- regenerating generated inputs and
 * checking their checksums -- and ref_run runs it. The reply is "ok" with
 * every output and its shape, or "rejected" with the reference's status.
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
#include "ref_ops.h"
#include "vecio.h"

#define HELLO "{\"protocol\": 1, \"name\": \"lmref-reference\", " \
              "\"class\": \"fp64\", \"ops\": [\"*\"]}"
#define REQUEST_NAME "request"
#define MAX_RULE_DIMS 3

/* ---- output shapes ------------------------------------------------------- */

/* The shape of an output, from the op's section of spec/: each dimension is
 * "input.axis", alternatives "a.1|b.0" (the first input present), an
 * integer param, or a number. Outputs not listed, or whose listed shape does not match
 * the count the reference produced (cross_entropy's sum and mean), are
 * one-dimensional. */
typedef struct {
    const char *op;
    const char *output;
    const char *dims[MAX_RULE_DIMS]; /* NULL ends */
} shape_rule;

static const shape_rule shape_rules[] = {
    {"embed_lookup", "Y", {"ids.0", "E.1"}},
    {"embed_onehot", "Y", {"onehot.0", "E.1"}},
    {"pos_learned", "Y", {"positions.0", "P.1"}},
    {"pos_sinusoid", "Y", {"positions.0", "d"}},
    {"compose", "Y", {"ids.0", "E.1"}},
    {"layernorm", "Y", {"x.0", "x.1"}},
    {"compose_layernorm", "Y", {"ids.0", "E.1"}},
    {"head_tied", "logits", {"h.0", "E.0"}},
    {"head_untied", "logits", {"h.0", "W.1"}},
    {"softmax", "probs", {"logits.0", "logits.1"}},
    {"log_softmax", "logprobs", {"logits.0", "logits.1"}},
    {"sample", "probs", {"logits.0", "logits.1"}},
    {"logit_lens", "probs", {"hidden.0", "hidden.1", "E.0"}},
    {"logit_lens", "top_tokens", {"hidden.0", "hidden.1", "k"}},
    {"logit_lens", "top_probs", {"hidden.0", "hidden.1", "k"}},
    {"head_partial", "logits", {"h.0", "E.0"}},
    {"head_transformed", "logits", {"h.0", "E.0"}},
    {"head_adaptive", "logits", {"h.0", "E.0"}},
    {"head_mlp", "logits", {"h.0", "W2.1|E.0"}},
    {"mos_fixed", "probs", {"h.0", "W.2"}},
    {"mos_fixed", "logprobs", {"h.0", "W.2"}},
    {"mos_gated", "probs", {"h.0", "W_out.1|E.0"}},
    {"mos_gated", "logprobs", {"h.0", "W_out.1|E.0"}},
    /* Gradients: "dX" has the shape of the input X (below); these are the
     * ones without such an input. */
    {"embed_lookup_backward", "dE", {"vocab", "dY.1"}},
    {"pos_learned_backward", "dP", {"max_len", "dY.1"}},
    {"tied_lm", "dE_input", {"E.0", "E.1"}},
    {"tied_lm", "dE_output", {"E.0", "E.1"}},
    {"head_partial_backward", "dF", {"h.1", "0"}}, /* k = |V|: no F, d x 0 */
};

/* The size one alternative names ("E.1", "d", or a number); 0, or -1 if
 * absent. */
static int resolve_alternative(const vec_case *c, const char *text, size_t len,
                               size_t *size)
{
    char name[64];
    if (len > 0 && strspn(text, "0123456789") == len) {
        *size = (size_t)strtoul(text, NULL, 10);
        return 0;
    }
    const char *dot = memchr(text, '.', len);
    size_t name_len = dot ? (size_t)(dot - text) : len;
    snprintf(name, sizeof name, "%.*s", (int)name_len, text);
    if (dot != NULL) {
        const vec_array *input = vec_case_input(c, name);
        size_t axis = (size_t)strtoul(dot + 1, NULL, 10);
        if (input == NULL || axis >= input->ndim)
            return -1;
        *size = input->shape[axis];
        return 0;
    }
    const json_t *value = json_object_get(c->params, name);
    if (!json_is_integer(value) || json_integer_value(value) < 0)
        return -1;
    *size = (size_t)json_integer_value(value);
    return 0;
}

/* The size a dimension names: its first alternative that resolves. */
static int resolve_dim(const vec_case *c, const char *dim, size_t *size)
{
    while (*dim != '\0') {
        size_t len = strcspn(dim, "|");
        if (resolve_alternative(c, dim, len, size) == 0)
            return 0;
        dim += len + (dim[len] == '|');
    }
    return -1;
}

/* A gradient "dX" has the shape of input X (spec/gradients.md#conventions):
 * fills shape and returns its ndim, or 0 when there is no such input of the
 * same size. */
static size_t gradient_shape(const vec_case *c, const ref_output *output,
                             size_t *shape)
{
    const vec_array *input = output->name[0] == 'd'
        ? vec_case_input(c, output->name + 1) : NULL;
    size_t product = 1;
    if (input == NULL)
        return 0;
    for (size_t k = 0; k < input->ndim; k++)
        product *= input->shape[k];
    if (product != output->count)
        return 0;
    memcpy(shape, input->shape, input->ndim * sizeof *shape);
    return input->ndim;
}

/* Fills shape (VEC_MAX_DIMS) for the output; returns its ndim. */
static size_t output_shape(const char *op, const vec_case *c,
                           const ref_output *output, size_t *shape)
{
    size_t count = sizeof shape_rules / sizeof shape_rules[0];
    size_t gradient_ndim = gradient_shape(c, output, shape);
    if (gradient_ndim > 0)
        return gradient_ndim;
    for (size_t r = 0; r < count; r++) {
        const shape_rule *rule = &shape_rules[r];
        size_t ndim = 0, product = 1;
        if (strcmp(rule->op, op) != 0 || strcmp(rule->output, output->name) != 0)
            continue;
        for (; ndim < MAX_RULE_DIMS && rule->dims[ndim] != NULL; ndim++) {
            if (resolve_dim(c, rule->dims[ndim], &shape[ndim]) != 0)
                break;
            product *= shape[ndim];
        }
        if ((ndim == MAX_RULE_DIMS || rule->dims[ndim] == NULL) &&
            product == output->count)
            return ndim;
    }
    shape[0] = output->count;
    return 1;
}

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
        size_t ndim = output_shape(op, c, output, shape);
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
    return json_pack("{s:s, s:i, s:s, s:s, s:{}, s:i, s:[o]}",
                     "format", VEC_FORMAT_NAME,
                     "format_version", VEC_FORMAT_VERSION,
                     "generator", "lmr-testee-ref", "op", op, "notes",
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
