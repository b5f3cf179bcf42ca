/* runner_verdict.c -- see runner_verdict.h and spec/protocol.md#verdicts. */
#include "runner_verdict.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_table.h"
#include "runner_scan.h"

/* How much of an offending value a message shows. */
#define SHOWN_LEN 80

static const char *const verdict_names[VERDICT_COUNT] = {
    "pass", "fail", "unsupported", "timeout", "crash", "protocol_error",
    "known_failure", "unexpected_pass"};

const char *verdict_name(verdict_kind verdict)
{
    return verdict_names[verdict];
}

int verdict_fails_run(verdict_kind verdict)
{
    return verdict != VERDICT_PASS && verdict != VERDICT_UNSUPPORTED &&
           verdict != VERDICT_KNOWN_FAILURE;
}

int verdict_is_failure(verdict_kind verdict)
{
    return verdict == VERDICT_FAIL || verdict == VERDICT_TIMEOUT ||
           verdict == VERDICT_CRASH || verdict == VERDICT_PROTOCOL_ERROR;
}

void outcome_set(case_outcome *outcome, verdict_kind verdict,
                 const char *fmt, ...)
{
    va_list args;
    outcome->verdict = outcome->original = verdict;
    va_start(args, fmt);
    vsnprintf(outcome->reason, sizeof outcome->reason, fmt, args);
    va_end(args);
}

void outcome_free(case_outcome *outcome)
{
    for (size_t i = 0; i < outcome->n_outputs; i++) {
        free(outcome->outputs[i].f64);
        free(outcome->outputs[i].i64);
    }
    free(outcome->outputs);
    outcome->outputs = NULL;
    outcome->n_outputs = 0;
    free(outcome->testee_reason);
    outcome->testee_reason = NULL;
    json_decref(outcome->accepted_outputs);
    outcome->accepted_outputs = NULL;
}

/* ---- showing offending values -------------------------------------------- */

/* The first bytes of raw text, non-printable bytes as '?'. */
static void show_text(char *shown, size_t size, const char *text, size_t len)
{
    size_t n = 0;
    for (; n < len && n + 4 < size && n < SHOWN_LEN; n++) {
        unsigned char byte = (unsigned char)text[n];
        shown[n] = (isprint(byte) || byte >= 0x80) ? (char)byte : '?';
    }
    if (n < len && n + 4 <= size) {
        memcpy(shown + n, "...", 3);
        n += 3;
    }
    shown[n] = '\0';
}

/* A JSON value in compact form, shortened. */
static void show_json(char *shown, size_t size, const json_t *value)
{
    char *text = value ? json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT)
                       : NULL;
    if (text == NULL)
        snprintf(shown, size, "(missing)");
    else
        show_text(shown, size, text, strlen(text));
    free(text);
}

/* ---- decoding one provided output ---------------------------------------- */

typedef enum {
    OUTPUT_DECODED, OUTPUT_MISSING, OUTPUT_WRONG_SHAPE, OUTPUT_MALFORMED
} output_state;

/* A float element: a JSON number, "inf", "-inf", "nan", "-0", or any string
 * that strtod reads completely (spec/protocol.md#response). */
static int decode_float(const json_t *value, double *out)
{
    if (vec_decode_double(value, out) == 0)
        return 0;
    const char *text = json_string_value(value);
    if (text == NULL || text[0] == '\0' || isspace((unsigned char)text[0]))
        return -1;
    char *end;
    errno = 0;
    *out = strtod(text, &end);
    return *end == '\0' ? 0 : -1;
}

/* 1 if value is a string of an optional '-' and digits only: an integer
 * too big for int64, which the runner quoted before parsing. */
static int is_quoted_integer(const json_t *value)
{
    const char *text = json_string_value(value);
    if (text == NULL)
        return 0;
    text += text[0] == '-';
    if (*text == '\0')
        return 0;
    for (; *text != '\0'; text++)
        if (*text < '0' || *text > '9')
            return 0;
    return 1;
}

/* Reads "shape" into out (sizes saturate at SIZE_MAX: the comparison with
 * the expected shape then fails); 0, or -1 with the problem in reason. */
static int decode_shape(const json_t *shape, output_outcome *out,
                        const char *name, char *reason, size_t size)
{
    char shown[SHOWN_LEN + 8];
    if (!json_is_array(shape) || json_array_size(shape) > VEC_MAX_DIMS) {
        show_json(shown, sizeof shown, shape);
        snprintf(reason, size, "output %s: shape must be an array of at most "
                 "%d sizes (value: %s)", name, VEC_MAX_DIMS, shown);
        return -1;
    }
    out->ndim = json_array_size(shape);
    for (size_t i = 0; i < out->ndim; i++) {
        const json_t *dim = json_array_get(shape, i);
        const char *problem = !json_is_integer(dim) ? "is not an integer"
                            : json_integer_value(dim) < 0 ? "is negative"
                            : NULL;
        if (problem != NULL) {
            show_json(shown, sizeof shown, dim);
            snprintf(reason, size, "output %s: shape[%zu] %s (value: %s); "
                     "sizes are non-negative JSON integers", name, i, problem,
                     shown);
            return -1;
        }
        json_int_t dim_size = json_integer_value(dim);
        out->shape[i] = (uintmax_t)dim_size > SIZE_MAX ? SIZE_MAX
                                                       : (size_t)dim_size;
    }
    return 0;
}

/* 1 if the provided shape is the expected one, or [] for an output of one
 * element (spec/protocol.md#scalars). */
static int same_shape(const output_outcome *out)
{
    const vec_array *want = &out->want->value;
    if (out->ndim == 0 && want->count == 1)
        return 1;
    if (out->ndim != want->ndim)
        return 0;
    for (size_t i = 0; i < out->ndim; i++)
        if (out->shape[i] != want->shape[i])
            return 0;
    return 1;
}

/* "[2, 3]" */
static void format_shape(char *text, size_t size, size_t ndim,
                         const size_t *shape)
{
    size_t used = (size_t)snprintf(text, size, "[");
    for (size_t i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(text + used, size - used, "%s%zu",
                                 i ? ", " : "", shape[i]);
    if (used < size)
        snprintf(text + used, size - used, "]");
}

/* The problem with one provided element, or NULL when it decodes. */
static const char *decode_element(output_outcome *out, size_t i,
                                  const json_t *element)
{
    if (out->f64 != NULL)
        return decode_float(element, &out->f64[i]) == 0
            ? NULL : "is not a number or a number string";
    if (json_is_integer(element)) {
        out->i64[i] = json_integer_value(element);
        return NULL;
    }
    return is_quoted_integer(element) ? "is outside the int64 range"
                                      : "is not an integer";
}

/* Decodes the data (count elements: an array of them, or for a shape of
 * [] the element itself). */
static output_state decode_values(output_outcome *out, const json_t *data,
                                  char *reason, size_t size)
{
    const char *name = out->want->value.name;
    size_t count = out->want->value.count;
    int is_float = out->want->value.dtype == VEC_F64;
    int bare = out->ndim == 0 && !json_is_array(data);
    if (is_float)
        out->f64 = malloc((count + 1) * sizeof *out->f64);
    else
        out->i64 = malloc((count + 1) * sizeof *out->i64);
    if (out->f64 == NULL && out->i64 == NULL) {
        snprintf(reason, size, "output %s: the runner is out of memory", name);
        return OUTPUT_MALFORMED;
    }
    for (size_t i = 0; i < count; i++) {
        const json_t *element = bare ? data : json_array_get(data, i);
        const char *problem = decode_element(out, i, element);
        if (problem != NULL) {
            char shown[SHOWN_LEN + 8];
            show_json(shown, sizeof shown, element);
            snprintf(reason, size, "output %s: data[%zu] %s (value: %s)",
                     name, i, problem, shown);
            return OUTPUT_MALFORMED;
        }
    }
    return OUTPUT_DECODED;
}

/* Checks and decodes the provided object of one expected output: its
 * shape first (a wrong one is a failure, the other outputs being judged),
 * then its data (malformed data is a protocol error). */
static output_state decode_output(output_outcome *out, const json_t *provided,
                                  char *reason, size_t size)
{
    const char *name = out->want->value.name;
    const json_t *data = json_object_get(provided, "data");
    char shown[SHOWN_LEN + 8], got[96], want[96];
    size_t count = out->want->value.count;
    if (provided == NULL) {
        snprintf(reason, size, "output %s is missing", name);
        return OUTPUT_MISSING;
    }
    if (!json_is_object(provided)) {
        show_json(shown, sizeof shown, provided);
        snprintf(reason, size, "output %s: not an object with a shape and "
                 "data (value: %s)", name, shown);
        return OUTPUT_MALFORMED;
    }
    if (decode_shape(json_object_get(provided, "shape"), out, name, reason,
                     size) != 0)
        return OUTPUT_MALFORMED;
    if (!same_shape(out)) {
        format_shape(got, sizeof got, out->ndim, out->shape);
        format_shape(want, sizeof want, out->want->value.ndim,
                     out->want->value.shape);
        snprintf(reason, size, "output %s has shape %s, expected %s", name,
                 got, want);
        return OUTPUT_WRONG_SHAPE;
    }
    int bare = out->ndim == 0 && data != NULL && !json_is_array(data);
    if (!bare && (!json_is_array(data) || json_array_size(data) != count)) {
        show_json(shown, sizeof shown, data);
        snprintf(reason, size, "output %s: data must be an array of %zu "
                 "elements, the shape's product (value: %s)", name, count,
                 shown);
        return OUTPUT_MALFORMED;
    }
    return decode_values(out, data, reason, size);
}

/* ---- judging ------------------------------------------------------------- */

void output_worst_element(const output_outcome *out, int cls, double *units,
                          double *bound_units)
{
    size_t i = out->judged.worst_index;
    double u = judge_unit_roundoff(cls);
    double s = out->want->value.count ? out->want->scale[i] : 0.0;
    double error = fabs(out->judged.worst_got - out->judged.worst_want);
    *units = (error == 0.0) ? 0.0 : (s > 0.0 ? error / (u * s) : INFINITY);
    *bound_units = s > 0.0 ? out->want->k + judge_floor(cls) / (u * s)
                           : INFINITY;
}

/* The diagnostic of a failed output: the worst element. */
static void describe_failure(const output_outcome *out, int cls, char *reason,
                             size_t size)
{
    const judge_verdict *v = &out->judged;
    const char *name = out->want->value.name;
    double units, bound_units;
    if (out->want->value.dtype == VEC_I64) {
        snprintf(reason, size, "output %s: %zu of %zu elements not accepted; "
                 "first at [%zu]: got %" PRId64 " want %" PRId64, name,
                 v->failures, out->want->value.count, v->worst_index,
                 v->worst_got_index, v->worst_want_index);
        return;
    }
    output_worst_element(out, cls, &units, &bound_units);
    snprintf(reason, size, "output %s: %zu of %zu elements out of bound; "
             "worst at [%zu]: got %.17g want %.17g, error %.4g u*s, bound "
             "%.4g u*s (|y - g| = %.3g, bound %.3g)", name, v->failures,
             out->want->value.count, v->worst_index, v->worst_got, v->worst_want,
             units, bound_units, fabs(v->worst_got - v->worst_want),
             v->worst_bound);
}

/* Judges every decoded output; the first failure gives the reason. */
static void judge_decoded(case_outcome *outcome, int cls)
{
    outcome_set(outcome, VERDICT_PASS, "%s", "");
    for (size_t i = 0; i < outcome->n_outputs; i++) {
        output_outcome *out = &outcome->outputs[i];
        if (out->f64 != NULL)
            judge_output(&out->judged, out->f64, out->want, cls);
        else if (out->i64 != NULL)
            judge_index_output(&out->judged, out->i64, out->want, cls);
        else
            continue;
        if (!out->judged.passed && outcome->verdict == VERDICT_PASS) {
            outcome->verdict = outcome->original = VERDICT_FAIL;
            describe_failure(out, cls, outcome->reason, sizeof outcome->reason);
        }
    }
}

/* The decoded output called name, or NULL. */
static const output_outcome *outcome_output(const case_outcome *outcome,
                                            const char *name)
{
    for (size_t i = 0; i < outcome->n_outputs; i++)
        if (strcmp(outcome->outputs[i].want->value.name, name) == 0)
            return &outcome->outputs[i];
    return NULL;
}

/* 1 if the provided values of out pass as the expected output other. */
static int passes_as(const output_outcome *out, const output_outcome *other,
                     int cls)
{
    judge_verdict verdict;
    if (out->f64 == NULL || other->want->value.dtype != VEC_F64 ||
        other->want->value.count != out->want->value.count)
        return 0; /* an int64 share has no scales to judge against */
    judge_output(&verdict, out->f64, other->want, cls);
    return verdict.passed;
}

/* tied_lm (spec/gradients.md#tied_lm): when dE fails, says whether it is one
 * path's share alone, the two bugs real code has. */
static void explain_tied_gradient(case_outcome *outcome, int cls)
{
    const output_outcome *total = outcome_output(outcome, "dE");
    const output_outcome *input = outcome_output(outcome, "dE_input");
    const output_outcome *output = outcome_output(outcome, "dE_output");
    const char *hint = NULL;
    if (total == NULL || input == NULL || output == NULL ||
        total->f64 == NULL || total->judged.passed)
        return;
    if (passes_as(total, output, cls))
        hint = "dE is the head's share alone (dE_output): the gradient of "
               "the input lookup never reached E";
    else if (passes_as(total, input, cls))
        hint = "dE is the lookup's share alone (dE_input): the head's "
               "gradient never reached E -- is the head's weight a copy of E "
               "instead of the same tensor?";
    if (hint != NULL) {
        size_t used = strlen(outcome->reason);
        snprintf(outcome->reason + used, sizeof outcome->reason - used,
                 "%s%s", used ? "; " : "", hint);
    }
}

/* Appends to reason, after a missing output, the names the response did
 * give and the names the op table gives op's outputs, so that a testee
 * which calls softmax's "probs" "P" sees both lists at once:
 *   output probs is missing; the response's outputs: ["P"]; softmax's
 *   outputs (spec/softmax.md#softmax): probs */
static void name_the_outputs(char *reason, size_t size, const json_t *outputs,
                             const char *op_name)
{
    const op_desc *op = op_name != NULL ? op_find(op_name) : NULL;
    size_t used = strlen(reason);
    json_t *names = json_array();
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)outputs, key, value)
        json_array_append_new(names, json_string(key));
    char *given = json_dumps(names, JSON_COMPACT);
    json_decref(names);
    snprintf(reason + used, size - used, "; the response's outputs: %.200s",
             given != NULL ? given : "?");
    free(given);
    if (op == NULL)
        return;
    used = strlen(reason);
    snprintf(reason + used, size - used, "; %s's outputs (spec/%s):",
             op->name, op->spec);
    for (size_t i = 0; i < op_output_count(op); i++) {
        used = strlen(reason);
        snprintf(reason + used, size - used, "%s %s", i ? "," : "",
                 op->outputs[i].name);
    }
}

/* An ok response to a valid case: every expected output, decoded, then
 * judged. A malformed output is a protocol error (and nothing is kept); a
 * missing output or a wrong shape is a failure, the other outputs being
 * judged all the same. */
static void judge_outputs(case_outcome *outcome, const json_t *outputs,
                          const vec_case *c, int cls)
{
    char problem[VERDICT_REASON_LEN] = "", reason[VERDICT_REASON_LEN];
    if (!json_is_object(outputs)) {
        outcome_set(outcome, VERDICT_PROTOCOL_ERROR,
                    "status ok without an outputs object");
        return;
    }
    outcome->outputs = calloc(c->n_expected + 1, sizeof *outcome->outputs);
    if (outcome->outputs == NULL) {
        outcome_set(outcome, VERDICT_FAIL, "the runner is out of memory");
        return;
    }
    outcome->n_outputs = c->n_expected;
    for (size_t i = 0; i < c->n_expected; i++) {
        output_outcome *out = &outcome->outputs[i];
        out->want = &c->expected[i];
        output_state state = decode_output(
            out, json_object_get(outputs, out->want->value.name), reason,
            sizeof reason);
        if (state == OUTPUT_MALFORMED) {
            outcome_free(outcome);
            outcome_set(outcome, VERDICT_PROTOCOL_ERROR, "%s", reason);
            return;
        }
        if (state == OUTPUT_MISSING)
            name_the_outputs(reason, sizeof reason, outputs, c->op);
        if (state != OUTPUT_DECODED && problem[0] == '\0')
            snprintf(problem, sizeof problem, "%s", reason);
    }
    judge_decoded(outcome, cls);
    if (problem[0] != '\0')
        outcome_set(outcome, VERDICT_FAIL, "%s", problem);
    explain_tied_gradient(outcome, cls);
}

/* A copy of the testee's reason, at most VERDICT_REASON_LEN - 1 bytes. */
static char *copy_reason(const char *said)
{
    size_t len = strlen(said);
    if (len > VERDICT_REASON_LEN - 1)
        len = VERDICT_REASON_LEN - 1;
    char *copy = malloc(len + 1);
    if (copy != NULL) {
        memcpy(copy, said, len);
        copy[len] = '\0';
    }
    return copy;
}

/* The status of a response with the right id. The testee's reason of a
 * rejection or an unsupported case, and the outputs it gave for an invalid
 * case, are kept for the report. */
static void judge_status(case_outcome *outcome, const json_t *response,
                         const vec_case *c, int cls)
{
    const char *status = json_string_value(json_object_get(response, "status"));
    const char *said = json_string_value(json_object_get(response, "reason"));
    json_t *outputs = json_object_get(response, "outputs");
    char shown[SHOWN_LEN + 8];
    said = said ? said : "(no reason given)";
    if (status != NULL && (strcmp(status, "rejected") == 0 ||
                           strcmp(status, "unsupported") == 0))
        outcome->testee_reason = copy_reason(said);
    if (status != NULL && strcmp(status, "ok") == 0) {
        if (c->valid) {
            judge_outputs(outcome, outputs, c, cls);
            return;
        }
        outcome_set(outcome, VERDICT_FAIL, "accepted an invalid case "
                    "(the reference rejects it with %s)", c->error);
        if (json_is_object(outputs))
            outcome->accepted_outputs = json_incref(outputs);
    } else if (status != NULL && strcmp(status, "rejected") == 0) {
        if (c->valid)
            outcome_set(outcome, VERDICT_FAIL, "rejected a valid case: %s", said);
        else
            outcome_set(outcome, VERDICT_PASS, "%s", "");
    } else if (status != NULL && strcmp(status, "unsupported") == 0) {
        outcome_set(outcome, VERDICT_UNSUPPORTED, "%s", said);
    } else {
        show_json(shown, sizeof shown, json_object_get(response, "status"));
        outcome_set(outcome, VERDICT_PROTOCOL_ERROR, "unknown status (value: "
                    "%s); expected \"ok\", \"rejected\" or \"unsupported\"",
                    shown);
    }
}

/* 0 if the line is within the case's limits, else -1 with a protocol
 * error; a scan that finds numbers too big for jansson sets *big_numbers. */
static int check_size(case_outcome *outcome, const char *line, size_t len,
                      const case_limits *limits, size_t *big_numbers)
{
    scan_result scan;
    if (len > limits->max_line) {
        outcome_set(outcome, VERDICT_PROTOCOL_ERROR, "a response of %zu "
                    "bytes, more than the %zu this case's outputs can need "
                    "(spec/conventions.md#limits)", len, limits->max_line);
        return -1;
    }
    if (scan_line(line, len, limits->max_values, &scan) != 0) {
        outcome_set(outcome, VERDICT_PROTOCOL_ERROR, "a response of more "
                    "than %zu JSON values, more than this case's outputs can "
                    "need (spec/conventions.md#limits)", limits->max_values);
        return -1;
    }
    *big_numbers = scan.big_numbers;
    return 0;
}

/* Parses the line (quoting numbers too big for jansson first) and judges
 * the object it holds. */
static void judge_parsed(case_outcome *outcome, const char *line, size_t len,
                         size_t big_numbers, const vec_case *c, int cls)
{
    json_error_t error;
    char shown[SHOWN_LEN + 8], *quoted = NULL;
    size_t parsed_len = len;
    if (big_numbers > 0 &&
        (quoted = quote_big_numbers(line, len, big_numbers, &parsed_len)) == NULL) {
        outcome_set(outcome, VERDICT_FAIL, "the runner is out of memory");
        return;
    }
    json_t *response = json_loadb(quoted ? quoted : line, parsed_len,
                                  JSON_REJECT_DUPLICATES, &error);
    free(quoted);
    const json_t *id = json_object_get(response, "id");
    if (response == NULL || !json_is_object(response)) {
        show_text(shown, sizeof shown, line, len);
        outcome_set(outcome, VERDICT_PROTOCOL_ERROR, "not a JSON object "
                    "(%s): %s", response ? "another JSON value" : error.text,
                    shown);
    } else if (!json_is_string(id) || strcmp(json_string_value(id), c->id)) {
        show_json(shown, sizeof shown, id);
        outcome_set(outcome, VERDICT_PROTOCOL_ERROR, "wrong id %s, expected "
                    "\"%s\"", shown, c->id);
    } else {
        judge_status(outcome, response, c, cls);
    }
    json_decref(response);
}

void judge_response(case_outcome *outcome, const char *line, size_t len,
                    const vec_case *c, int cls, const case_limits *limits)
{
    size_t big_numbers = 0;
    if (check_size(outcome, line, len, limits, &big_numbers) == 0)
        judge_parsed(outcome, line, len, big_numbers, c, cls);
}
