/*
 * op_table.c -- the op table (tools/common/op_table.c) against everything
 * that depends on it: every op has a reference runner (tools/refops/), an
 * explainer (tools/cli/), a spec page and its vector files; every op the
 * reference runner knows is in the table; and every case of every vector
 * file uses only inputs and params the table lists, with the dtype, number
 * of dimensions and JSON kind it gives, and expects only outputs the table
 * lists, with the shape its rule gives. The vectors come from the oracle,
 * so the last check tests the table's shape rules against the oracle's own
 * shapes. (That the generator writes exactly the table's files, lmr-gen
 * checks itself when it starts; that each Python testee implements every op,
 * it checks when it starts.)
 *
 * Run from the top of the tree (vectors/ and spec/ are read).
 */
#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli_explain.h"
#include "op_table.h"
#include "ref_ops.h"
#include "tap.h"
#include "vecio.h"

static void check_programs_know_every_op(void)
{
    for (size_t i = 0; i < op_table_count; i++) {
        const op_desc *op = &op_table[i];
        char path[256];
        snprintf(path, sizeof path, "spec/%.*s", (int)strcspn(op->spec, "#"),
                 op->spec);
        tap_ok(ref_op_known(op->name), "%s: the reference runner runs it", op->name);
        tap_ok(cli_explain_known(op->name), "%s: lmr --explain explains it", op->name);
        tap_ok(access(path, R_OK) == 0, "%s: its spec page %s exists", op->name, path);
        tap_ok(strncmp(op->ref_function, "lmr_", 4) == 0,
               "%s: its ref function is named (%s)", op->name, op->ref_function);
        for (size_t f = 0; f < OP_MAX_FILES && op->files[f]; f++) {
            snprintf(path, sizeof path, "vectors/%s.json", op->files[f]);
            tap_ok(access(path, R_OK) == 0, "%s: its vector file %s exists",
                   op->name, path);
        }
    }
    for (size_t i = 0; ref_op_name(i) != NULL; i++)
        tap_ok(op_find(ref_op_name(i)) != NULL,
               "the reference runner's op %s is in the op table", ref_op_name(i));
}

static int json_kind_matches(const json_t *value, op_param_kind kind)
{
    double ignored;
    switch (kind) {
    case PARAM_DOUBLE: return vec_decode_double(value, &ignored) == 0;
    case PARAM_INT: return json_is_integer(value);
    case PARAM_BOOL: return json_is_boolean(value);
    case PARAM_WORD: return json_is_string(value);
    }
    return 0;
}

/* One problem of case c against the table, in problem; 0 if none. */
static int case_problem(const op_desc *op, const vec_case *c, char *problem,
                        size_t len)
{
    const char *key;
    json_t *value;
    for (size_t i = 0; i < c->n_inputs; i++) {
        const vec_array *in = &c->inputs[i];
        const op_input *known = op_find_input(op, in->name);
        if (known == NULL || known->dtype != in->dtype || known->ndim != in->ndim) {
            snprintf(problem, len, "input %s (%zu dimensions) is not in the table "
                     "as it is", in->name, in->ndim);
            return -1;
        }
    }
    json_object_foreach(c->params, key, value) {
        const op_param *known = op_find_param(op, key);
        if (known == NULL || !json_kind_matches(value, known->kind)) {
            snprintf(problem, len, "param %s is not in the table as it is", key);
            return -1;
        }
    }
    for (size_t i = 0; i < c->n_expected; i++) {
        const vec_array *want = &c->expected[i].value;
        const op_output *known = op_find_output(op, want->name);
        size_t shape[VEC_MAX_DIMS];
        size_t ndim = known ? op_output_shape(op, known, c, shape) : 0;
        if (known == NULL || known->dtype != want->dtype || ndim != want->ndim ||
            memcmp(shape, want->shape, ndim * sizeof *shape) != 0) {
            snprintf(problem, len, "output %s: the table's shape rule does not "
                     "give the vector's shape", want->name);
            return -1;
        }
    }
    return 0;
}

static void check_file(const char *path)
{
    vec_file file;
    char err[VEC_ERRLEN], problem[256], name[128];
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    snprintf(name, sizeof name, "%.*s", (int)strcspn(base, "."), base);
    if (!tap_ok(vec_file_load(&file, path, err, sizeof err) == 0, "%s loads", path)) {
        tap_diag("%s", err);
        return;
    }
    const op_desc *op = op_find_by_file(name);
    if (tap_ok(op != NULL && strcmp(op->name, file.op) == 0,
               "%s: the table names this file for its op %s", path, file.op)) {
        size_t bad = 0;
        for (size_t i = 0; i < file.n_cases; i++)
            if (case_problem(op, &file.cases[i], problem, sizeof problem) != 0) {
                if (bad++ == 0)
                    tap_diag("case %s: %s", file.cases[i].id, problem);
            }
        tap_ok(bad == 0, "%s: all %zu cases use the table's inputs, params and "
               "output shapes (%zu do not)", path, file.n_cases, bad);
    }
    vec_file_free(&file);
}

int main(void)
{
    glob_t found;
    check_programs_know_every_op();
    if (!tap_ok(glob("vectors/*.json", 0, NULL, &found) == 0, "vectors/ has files")) {
        tap_done();
        return tap_exit_status();
    }
    for (size_t i = 0; i < found.gl_pathc; i++)
        check_file(found.gl_pathv[i]);
    globfree(&found);
    tap_done();
    return tap_exit_status();
}
