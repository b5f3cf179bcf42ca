/*
 * cli.c -- see cli.h. Arguments become a one-case vector file in memory,
 * which vec_file_from_json decodes and ref_run runs: the tool has no code
 * path of its own between the arguments and the reference library.
 */
#include "cli.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_explain.h"
#include "lmr.h"
#include "op_table.h"
#include "ref_ops.h"
#include "vecio.h"

/* The name that stands for a file path in messages about the arguments. */
#define ARGUMENTS_NAME "command line"
#define PROBLEM_LEN 256
#define SHOWN_VALUE_LEN 60

/* ---- the ops' arguments: the inputs and params of the op table ---------- */

/* An argument --NAME of an op: one of its inputs or one of its params. */
typedef struct {
    const op_input *input; /* or NULL */
    const op_param *param; /* or NULL */
} cli_arg;

static cli_arg find_arg(const op_desc *op, const char *name)
{
    cli_arg arg = {op_find_input(op, name), NULL};
    if (arg.input == NULL)
        arg.param = op_find_param(op, name);
    return arg;
}

static int arg_known(cli_arg arg)
{
    return arg.input != NULL || arg.param != NULL;
}

/* ---- usage and --list ------------------------------------------------- */

static void print_usage(FILE *out)
{
    fputs("usage: lmr OP [--NAME VALUE]... [--explain]\n"
          "       lmr --case FILE.json [--id CASE_ID] [--explain]\n"
          "       lmr --list [--json]\n"
          "Runs one op of the reference library (ref/) and prints its outputs\n"
          "with their shapes (17 significant digits). --NAME is an input (a JSON\n"
          "array; nesting gives the shape) or a param (a number, true/false or a\n"
          "word); --explain adds the intermediate steps. --case runs a case, or\n"
          "the case --id of a vector file. --list shows the ops and arguments\n"
          "(--json: the op table as JSON, as in tools/common/ops.json).\n"
          "Exit status: 0 ok, 1 rejected by the reference, 2 bad arguments.\n"
          "Example: lmr softmax --logits '[[1, 2, 3]]' --tau 0.5 --explain\n",
          out);
}

/* A param as --list shows it: its range (none for true/false), its default
 * unless a case must give it, and its meaning: "> 0, finite, default 1: the
 * temperature". */
static void print_param_about(FILE *out, const op_param *param)
{
    const char *separator = "";
    if (param->kind != PARAM_BOOL) {
        fprintf(out, "%s", param->range);
        separator = ", ";
    }
    if (!param->required) {
        fprintf(out, "%sdefault ", separator);
        if (param->kind == PARAM_DOUBLE)
            fprintf(out, "%.17g", param->default_number);
        else if (param->kind == PARAM_INT)
            fprintf(out, "%lld", (long long)param->default_integer);
        else if (param->kind == PARAM_BOOL)
            fprintf(out, "%s", param->default_integer ? "true" : "false");
        else
            fprintf(out, "%s", param->default_word);
    }
    fprintf(out, ": %s", param->about);
}

static void list_op(FILE *out, const op_desc *op)
{
    fprintf(out, "\n%s\n    %s\n", op->name, op->equation);
    for (size_t i = 0; i < op_input_count(op); i++) {
        const op_input *input = &op->inputs[i];
        fprintf(out, "  %c --%-16s %-14s %s\n", input->optional ? ' ' : '*',
                input->name, input->dtype == VEC_I64 ? "int64 array"
                : "float64 array", input->about);
    }
    for (size_t i = 0; i < op_param_count(op); i++) {
        const op_param *param = &op->params[i];
        fprintf(out, "  %c --%-16s %-14s ", param->required ? '*' : ' ',
                param->name, op_param_kind_name(param->kind));
        print_param_about(out, param);
        fputc('\n', out);
    }
    for (size_t i = 0; i < op_output_count(op); i++)
        fprintf(out, "    -> %-16s %s\n", op->outputs[i].name,
                op->outputs[i].about);
}

static void list_ops(FILE *out)
{
    fputs("lmr ops. Inputs are JSON arrays, params scalars; * marks a required"
          " argument\n(optional ones may be required by a mode, e.g. --P with"
          " --positions learned).\n", out);
    for (size_t i = 0; i < op_table_count; i++)
        list_op(out, &op_table[i]);
}

/* ---- the command line ------------------------------------------------- */

typedef struct {
    const char *name;  /* without the leading "--" */
    const char *value;
} named_arg;

typedef struct {
    const char *op;
    const char *case_path;
    const char *case_id;
    int explain, list, json, help;
    size_t n_named;
    named_arg *named;  /* (n_named), pointing into argv */
} cli_args;

/* The value shown in a message: at most SHOWN_VALUE_LEN characters. */
static void show_value(FILE *err, const char *value)
{
    if (strlen(value) <= SHOWN_VALUE_LEN)
        fprintf(err, "%s", value);
    else
        fprintf(err, "%.*s...", SHOWN_VALUE_LEN - 3, value);
}

static void take_option(cli_args *args, const char *option, const char *value)
{
    if (strcmp(option, "--case") == 0)
        args->case_path = value;
    else if (strcmp(option, "--id") == 0)
        args->case_id = value;
    else
        args->named[args->n_named++] = (named_arg){option + 2, value};
}

static int parse_args(int argc, const char *const *argv, cli_args *args,
                      FILE *err)
{
    memset(args, 0, sizeof *args);
    args->named = calloc((size_t)argc + 1, sizeof *args->named);
    if (args->named == NULL) {
        fprintf(err, "lmr: out of memory\n");
        return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--explain") == 0)
            args->explain = 1;
        else if (strcmp(arg, "--list") == 0)
            args->list = 1;
        else if (strcmp(arg, "--json") == 0)
            args->json = 1;
        else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            args->help = 1;
        else if (strncmp(arg, "--", 2) == 0 && i + 1 < argc)
            take_option(args, arg, argv[++i]);
        else if (strncmp(arg, "--", 2) == 0) {
            fprintf(err, "lmr: %s: missing value (arguments are --NAME VALUE)\n", arg);
            return -1;
        } else if (args->op == NULL)
            args->op = arg;
        else {
            fprintf(err, "lmr: unexpected argument '%s' after op '%s' "
                    "(arguments are --NAME VALUE)\n", arg, args->op);
            return -1;
        }
    }
    return 0;
}

static void list_arg_names(FILE *err, const op_desc *op)
{
    size_t shown = 0;
    for (size_t i = 0; i < op_input_count(op); i++)
        fprintf(err, "%s--%s", shown++ ? ", " : "", op->inputs[i].name);
    for (size_t i = 0; i < op_param_count(op); i++)
        fprintf(err, "%s--%s", shown++ ? ", " : "", op->params[i].name);
}

static int given(const cli_args *args, const char *name)
{
    for (size_t j = 0; j < args->n_named; j++)
        if (strcmp(args->named[j].name, name) == 0)
            return 1;
    return 0;
}

/* Every --NAME known to the op, none twice, every required one present. */
static int check_named_args(const op_desc *op, const cli_args *args,
                            FILE *err)
{
    for (size_t i = 0; i < args->n_named; i++) {
        const named_arg *named = &args->named[i];
        if (!arg_known(find_arg(op, named->name))) {
            fprintf(err, "lmr: %s: unknown argument --%s (value: ", op->name,
                    named->name);
            show_value(err, named->value);
            fprintf(err, "); %s takes ", op->name);
            list_arg_names(err, op);
            fprintf(err, "\n");
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(args->named[j].name, named->name) == 0) {
                fprintf(err, "lmr: %s: --%s given twice\n", op->name, named->name);
                return -1;
            }
    }
    for (size_t i = 0; i < op_input_count(op); i++) {
        const op_input *input = &op->inputs[i];
        if (!input->optional && !given(args, input->name)) {
            fprintf(err, "lmr: %s: missing --%s (%s array, %s)\n", op->name,
                    input->name, input->dtype == VEC_I64 ? "int64" : "float64",
                    input->about);
            return -1;
        }
    }
    for (size_t i = 0; i < op_param_count(op); i++) {
        const op_param *param = &op->params[i];
        if (param->required && !given(args, param->name)) {
            fprintf(err, "lmr: %s: missing --%s (%s, %s: %s)\n", op->name,
                    param->name, op_param_kind_name(param->kind), param->range,
                    param->about);
            return -1;
        }
    }
    return 0;
}

/* ---- values: JSON text -> the vector format ------------------------------ */

static json_t *parse_json_text(const char *text, char *problem, size_t len)
{
    json_error_t error;
    json_t *value = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                               &error);
    if (value == NULL)
        snprintf(problem, len, "bad JSON at column %d: %s", error.column,
                 error.text);
    return value;
}

/* The shape of a nested list, read along its first elements. */
static int measure_shape(const json_t *value, size_t *shape /* (VEC_MAX_DIMS) */,
                         size_t *ndim, char *problem, size_t len)
{
    *ndim = 0;
    while (json_is_array(value)) {
        if (*ndim == VEC_MAX_DIMS) {
            snprintf(problem, len, "more than %d nested levels", VEC_MAX_DIMS);
            return -1;
        }
        shape[(*ndim)++] = json_array_size(value);
        if (json_array_size(value) == 0)
            break;
        value = json_array_get(value, 0);
    }
    return 0;
}

static void format_where(char *buf, size_t len, const size_t *index,
                         size_t depth)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < depth && used < len; k++)
        used += (size_t)snprintf(buf + used, len - used, "[%zu]", index[k]);
}

static int leaf_ok(const json_t *leaf, vec_dtype dtype)
{
    double ignored;
    if (dtype == VEC_I64)
        return json_is_integer(leaf);
    return vec_decode_double(leaf, &ignored) == 0;
}

/* Appends the leaves of value to flat, checking that every sub-list has the
 * shape measured along the first elements. index is (VEC_MAX_DIMS). */
static int flatten(const json_t *value, const size_t *shape, size_t ndim,
                   size_t depth, size_t *index, vec_dtype dtype, json_t *flat,
                   char *problem, size_t len)
{
    char where[64];
    format_where(where, sizeof where, index, depth);
    if (depth == ndim) {
        if (leaf_ok(value, dtype))
            return json_array_append(flat, (json_t *)value);
        snprintf(problem, len, "element %s is not %s", where,
                 json_is_array(value) ? "a number (the lists are not rectangular)"
                 : dtype == VEC_I64 ? "an integer"
                 : "a number, \"inf\", \"-inf\", \"nan\" or \"-0\"");
        return -1;
    }
    if (!json_is_array(value) || json_array_size(value) != shape[depth]) {
        snprintf(problem, len, "element %s is not a list of %zu (the lists are "
                 "not rectangular)", where, shape[depth]);
        return -1;
    }
    for (index[depth] = 0; index[depth] < shape[depth]; index[depth]++)
        if (flatten(json_array_get(value, index[depth]), shape, ndim, depth + 1,
                    index, dtype, flat, problem, len) != 0)
            return -1;
    return 0;
}

/* A scalar is one element; fewer dimensions than the op reads get leading
 * 1s (a bare list is one row); more are an error. */
static int fit_shape(const op_input *arg, size_t *shape /* (VEC_MAX_DIMS) */,
                     size_t *ndim, char *problem, size_t len)
{
    if (*ndim == 0) {
        shape[0] = 1;
        *ndim = 1;
    }
    if (*ndim > arg->ndim) {
        snprintf(problem, len, "%zu nested levels, but %s has %zu dimensions (%s)",
                 *ndim, arg->name, arg->ndim, arg->about);
        return -1;
    }
    size_t pad = arg->ndim - *ndim;
    memmove(shape + pad, shape, *ndim * sizeof *shape);
    for (size_t k = 0; k < pad; k++)
        shape[k] = 1;
    *ndim = arg->ndim;
    return 0;
}

static json_t *array_object(vec_dtype dtype, const size_t *shape, size_t ndim,
                            json_t *flat)
{
    json_t *object = json_object();
    json_t *shape_list = json_array();
    for (size_t k = 0; k < ndim; k++)
        json_array_append_new(shape_list, json_integer((json_int_t)shape[k]));
    json_object_set_new(object, "dtype", json_string(
        dtype == VEC_I64 ? "int64" : "float64"));
    json_object_set_new(object, "shape", shape_list);
    json_object_set(object, "data", flat);
    return object;
}

/* An input array {"dtype", "shape", "data"} from JSON text, or NULL. */
static json_t *array_json(const op_input *arg, const char *text, char *problem,
                          size_t len)
{
    size_t shape[VEC_MAX_DIMS], index[VEC_MAX_DIMS], ndim;
    json_t *value = parse_json_text(text, problem, len);
    json_t *flat = json_array(), *result = NULL;
    if (value != NULL && measure_shape(value, shape, &ndim, problem, len) == 0 &&
        flatten(value, shape, ndim, 0, index, arg->dtype, flat, problem, len) == 0 &&
        fit_shape(arg, shape, &ndim, problem, len) == 0)
        result = array_object(arg->dtype, shape, ndim, flat);
    json_decref(flat);
    json_decref(value);
    return result;
}

static json_t *string_param(const char *text, char *problem, size_t len)
{
    json_t *value = json_loads(text, JSON_DECODE_ANY, NULL);
    if (json_is_string(value))
        return value;
    json_decref(value);
    value = json_string(text);
    if (value == NULL)
        snprintf(problem, len, "not valid UTF-8");
    return value;
}

static json_t *number_param(const char *text, char *problem, size_t len)
{
    static const char *const special[] = {"inf", "-inf", "nan", "-0"};
    for (size_t i = 0; i < 4; i++)
        if (strcmp(text, special[i]) == 0)
            return json_string(text);
    json_t *value = parse_json_text(text, problem, len);
    double ignored;
    if (value != NULL && vec_decode_double(value, &ignored) != 0) {
        snprintf(problem, len, "must be a number (or inf, -inf, nan, -0)");
        json_decref(value);
        return NULL;
    }
    return value;
}

/* integer and true/false params */
static json_t *exact_param(op_param_kind kind, const char *text, char *problem,
                           size_t len)
{
    json_t *value = parse_json_text(text, problem, len);
    int fits = kind == PARAM_INT ? json_is_integer(value) : json_is_boolean(value);
    if (value != NULL && !fits) {
        snprintf(problem, len, "must be %s",
                 kind == PARAM_INT ? "an integer" : "true or false");
        json_decref(value);
        return NULL;
    }
    return value;
}

static json_t *value_json(cli_arg arg, const char *text, char *problem,
                          size_t len)
{
    if (arg.input != NULL)
        return array_json(arg.input, text, problem, len);
    if (arg.param->kind == PARAM_WORD)
        return string_param(text, problem, len);
    if (arg.param->kind == PARAM_DOUBLE)
        return number_param(text, problem, len);
    return exact_param(arg.param->kind, text, problem, len);
}

/* ---- the in-memory case -------------------------------------------------- */

/* The case's "result" is a placeholder: the format requires the expected
 * outputs of a valid case, which the arguments do not have. ref_run reads
 * only the inputs and params. */
static json_t *case_json(const char *op, json_t *inputs, json_t *params)
{
    char id[128];
    json_t *c = json_object();
    snprintf(id, sizeof id, "%s/command-line", op);
    json_object_set_new(c, "id", json_string(id));
    json_object_set_new(c, "comment", json_string(
        "built by lmr from its arguments; the result is not known in advance, "
        "so it is recorded as invalid with the placeholder error "
        "LMR_EUNJUDGED, which nothing reads"));
    json_object_set_new(c, "flags", json_pack("[s]", "command_line"));
    json_object_set_new(c, "classes", json_pack("[s]", "fp64"));
    json_object_set_new(c, "params", params);
    json_object_set_new(c, "inputs", inputs);
    json_object_set_new(c, "result", json_string("invalid"));
    json_object_set_new(c, "error", json_string("LMR_EUNJUDGED"));
    return c;
}

/* The top level of a vector file (spec/format.md) holding cases. */
static json_t *file_json(const char *op, json_t *notes, json_t *cases)
{
    json_t *root = json_object();
    json_object_set_new(root, "format", json_string(VEC_FORMAT_NAME));
    json_object_set_new(root, "format_version", json_integer(VEC_FORMAT_VERSION));
    json_object_set_new(root, "generator", json_string("lmr"));
    json_object_set_new(root, "op", json_string(op));
    json_object_set_new(root, "spec", json_string("spec/README.md"));
    json_object_set_new(root, "tolerance_model", json_string("spec/tolerance.md"));
    json_object_set_new(root, "notes", notes);
    json_object_set_new(root, "number_of_cases",
                        json_integer((json_int_t)json_array_size(cases)));
    json_object_set_new(root, "cases", cases);
    return root;
}

/* The one-case file of the arguments, or NULL after a message. */
static json_t *arguments_json(const op_desc *op, const cli_args *args,
                              FILE *err)
{
    json_t *inputs = json_object(), *params = json_object();
    for (size_t i = 0; i < args->n_named; i++) {
        const named_arg *given = &args->named[i];
        cli_arg arg = find_arg(op, given->name);
        char problem[PROBLEM_LEN];
        json_t *value = value_json(arg, given->value, problem, sizeof problem);
        if (value == NULL) {
            fprintf(err, "lmr: %s: --%s: %s (value: ", op->name, given->name,
                    problem);
            show_value(err, given->value);
            fprintf(err, ")\n");
            json_decref(inputs);
            json_decref(params);
            return NULL;
        }
        json_object_set_new(arg.input != NULL ? inputs : params,
                            given->name, value);
    }
    json_t *notes = json_pack("{s:s}", "command_line",
                              "a case built by lmr from its arguments");
    return file_json(op->name, notes,
                     json_pack("[o]", case_json(op->name, inputs, params)));
}

/* ---- printing the outputs ------------------------------------------------ */

/* One element in the vector format's spelling: %.17g, or a quoted "inf",
 * "-inf", "nan", "-0", so the printed array can be pasted back. */
static void print_element(FILE *out, const ref_output *output, size_t i)
{
    if (output->dtype == VEC_I64) {
        fprintf(out, "%" PRId64, output->i64[i]);
        return;
    }
    double value = output->f64[i];
    if (isnan(value))
        fprintf(out, "\"nan\"");
    else if (isinf(value))
        fprintf(out, value > 0 ? "\"inf\"" : "\"-inf\"");
    else if (value == 0.0 && signbit(value))
        fprintf(out, "\"-0\"");
    else
        fprintf(out, "%.17g", value);
}

/* A nested JSON list, one innermost list per line. shape: (ndim), ndim <=
 * VEC_MAX_DIMS (op_result_shape's bound; the test of depth against it lets
 * the compiler see that shape is never read beyond it). */
static void print_nested(FILE *out, const ref_output *output,
                         const size_t *shape, size_t ndim, size_t depth,
                         size_t *offset)
{
    fputc('[', out);
    for (size_t i = 0; i < shape[depth]; i++) {
        if (depth + 1 == ndim || depth + 1 == VEC_MAX_DIMS) {
            fprintf(out, "%s", i ? ", " : "");
            print_element(out, output, (*offset)++);
        } else {
            if (i)
                fprintf(out, ",\n  %*s", (int)(depth + 1), "");
            print_nested(out, output, shape, ndim, depth + 1, offset);
        }
    }
    fputc(']', out);
}

static void print_output(FILE *out, const vec_file *file, const vec_case *c,
                         const ref_output *output)
{
    size_t shape[VEC_MAX_DIMS], offset = 0;
    size_t ndim = op_result_shape(file->op, output->name, c, output->count,
                                  shape);
    fprintf(out, "%s (shape ", output->name);
    for (size_t k = 0; k < ndim; k++)
        fprintf(out, "%s%zu", k ? " x " : "", shape[k]);
    fprintf(out, ", %s):\n  ", output->dtype == VEC_F64 ? "float64" : "int64");
    print_nested(out, output, shape, ndim, 0, &offset);
    fputc('\n', out);
}

/* ---- running a case ---------------------------------------------------- */

static int run_and_print(const vec_file *file, const vec_case *c, int explain,
                         FILE *out, FILE *err)
{
    ref_result result;
    char message[VEC_ERRLEN];
    int status = CLI_OK;
    if (ref_run(file, c, &result, message, sizeof message) != 0) {
        fprintf(err, "lmr: %s: %s\n", file->op, message);
        status = CLI_USAGE;
    } else if (result.status != LMR_OK) {
        fprintf(err, "lmr: %s: rejected: %s (%s)\n", file->op,
                lmr_status_name(result.status), lmr_strerror(result.status));
        status = CLI_REJECTED;
    } else {
        fprintf(out, "%s: the outputs of the reference library (ref/)\n",
                file->op);
        for (size_t i = 0; i < result.n_outputs; i++)
            print_output(out, file, c, &result.outputs[i]);
        if (explain)
            cli_explain(out, file, c, &result);
    }
    ref_result_free(&result);
    return status;
}

static int run_op(const cli_args *args, FILE *out, FILE *err)
{
    const op_desc *op = op_find(args->op);
    vec_file file;
    char message[VEC_ERRLEN];
    if (op == NULL) {
        fprintf(err, "lmr: unknown op '%s' (lmr --list shows the ops)\n", args->op);
        return CLI_USAGE;
    }
    if (check_named_args(op, args, err) != 0)
        return CLI_USAGE;
    json_t *root = arguments_json(op, args, err);
    if (root == NULL)
        return CLI_USAGE;
    int status = CLI_USAGE;
    if (vec_file_from_json(&file, root, ARGUMENTS_NAME, message, sizeof message) != 0)
        fprintf(err, "lmr: %s: %s\n", op->name, message);
    else
        status = run_and_print(&file, &file.cases[0], args->explain, out, err);
    vec_file_free(&file);
    json_decref(root);
    return status;
}

/* ---- --case ------------------------------------------------------------ */

/* A lone case object becomes a one-case file; its op is the prefix of its
 * id ("<op>/<slug>") and its flags are explained as "(from the case)". */
static json_t *wrap_lone_case(json_t *c, const char *path, FILE *err)
{
    const char *id = json_string_value(json_object_get(c, "id"));
    const char *slash = id ? strchr(id, '/') : NULL;
    size_t i;
    json_t *flag, *notes = json_object();
    char op[64];
    if (slash == NULL || slash == id || (size_t)(slash - id) >= sizeof op) {
        fprintf(err, "lmr: --case: %s: a lone case needs an id '<op>/<name>' "
                "(id: %s)\n", path, id ? id : "(missing)");
        json_decref(notes);
        return NULL;
    }
    snprintf(op, sizeof op, "%.*s", (int)(slash - id), id);
    json_array_foreach(json_object_get(c, "flags"), i, flag)
        if (json_is_string(flag))
            json_object_set_new(notes, json_string_value(flag),
                                json_string("(from the case)"));
    return file_json(op, notes, json_pack("[O]", c));
}

static int matches_id(const char *case_id, const char *wanted)
{
    const char *slash = strchr(case_id, '/');
    return strcmp(case_id, wanted) == 0 ||
           (slash != NULL && strcmp(slash + 1, wanted) == 0);
}

static const vec_case *choose_case(const vec_file *file, const char *id,
                                   FILE *err)
{
    if (id != NULL) {
        for (size_t i = 0; i < file->n_cases; i++)
            if (matches_id(file->cases[i].id, id))
                return &file->cases[i];
        fprintf(err, "lmr: --id: no case '%s' in %s\n", id, file->path);
        return NULL;
    }
    if (file->n_cases == 1)
        return &file->cases[0];
    if (file->n_cases == 0)
        fprintf(err, "lmr: --case: %s has no cases\n", file->path);
    else
        fprintf(err, "lmr: --case: %s has %zu cases; choose one with --id "
                "(e.g. --id %s)\n", file->path, file->n_cases,
                file->cases[0].id);
    return NULL;
}

static int run_file_case(const vec_file *file, const cli_args *args, FILE *out,
                         FILE *err)
{
    const vec_case *c = choose_case(file, args->case_id, err);
    if (c == NULL)
        return CLI_USAGE;
    const json_t *json = json_array_get(json_object_get(file->root, "cases"),
                                        (size_t)(c - file->cases));
    fprintf(out, "case %s: %s\n", c->id,
            json_string_value(json_object_get(json, "comment")));
    if (!c->valid)
        fprintf(out, "(the vector file expects this case to be rejected with %s)\n",
                c->error);
    return run_and_print(file, c, args->explain, out, err);
}

static int run_case_file(const cli_args *args, FILE *out, FILE *err)
{
    json_error_t error;
    vec_file file;
    char message[VEC_ERRLEN];
    if (args->op != NULL || args->n_named != 0) {
        fprintf(err, "lmr: --case takes no OP or --NAME arguments (got '%s')\n",
                args->op ? args->op : args->named[0].name);
        return CLI_USAGE;
    }
    json_t *root = json_load_file(args->case_path, JSON_REJECT_DUPLICATES, &error);
    if (root == NULL && error.line < 0) /* not opened: the text says why */
        fprintf(err, "lmr: --case: %s\n", error.text);
    else if (root == NULL)
        fprintf(err, "lmr: --case: %s: line %d column %d: %s\n", args->case_path,
                error.line, error.column, error.text);
    if (root == NULL)
        return CLI_USAGE;
    if (json_is_object(root) && json_object_get(root, "cases") == NULL &&
        json_object_get(root, "inputs") != NULL) {
        json_t *wrapped = wrap_lone_case(root, args->case_path, err);
        json_decref(root);
        if ((root = wrapped) == NULL)
            return CLI_USAGE;
    }
    int status = CLI_USAGE;
    if (vec_file_from_json(&file, root, args->case_path, message, sizeof message) != 0)
        fprintf(err, "lmr: --case: %s\n", message);
    else
        status = run_file_case(&file, args, out, err);
    vec_file_free(&file);
    json_decref(root);
    return status;
}

/* ---- main ---------------------------------------------------------------- */

static int dispatch(const cli_args *args, FILE *out, FILE *err)
{
    if (args->help) {
        print_usage(out);
        return CLI_OK;
    }
    if (args->json && !args->list) {
        fprintf(err, "lmr: --json goes with --list\n");
        return CLI_USAGE;
    }
    if (args->list && args->json) {
        json_t *table = op_table_json();
        json_dumpf(table, out, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        fputc('\n', out);
        json_decref(table);
        return CLI_OK;
    }
    if (args->list) {
        list_ops(out);
        return CLI_OK;
    }
    if (args->case_path != NULL)
        return run_case_file(args, out, err);
    if (args->case_id != NULL) {
        fprintf(err, "lmr: --id %s: needs --case FILE\n", args->case_id);
        return CLI_USAGE;
    }
    if (args->op != NULL)
        return run_op(args, out, err);
    print_usage(err);
    return CLI_USAGE;
}

int cli_run(int argc, const char *const *argv, FILE *out, FILE *err)
{
    cli_args args;
    int status = parse_args(argc, argv, &args, err) == 0
        ? dispatch(&args, out, err) : CLI_USAGE;
    free(args.named);
    return status;
}
