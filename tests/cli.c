/*
 * cli.c -- TAP tests of the command-line tool lmr (tools/cli/cli.c), run in
 * process through cli_run with in-memory output streams.
 *
 * Expected numbers come from the reference library or from plain arithmetic
 * in this file, never typed by hand. Vector files are read from vectors/
 * (run from the top of the tree) or $LMR_VECTORS.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_explain.h"
#include "lmr.h"
#include "ref_ops.h"
#include "tap.h"
#include "vecio.h"

#define MAX_ARGS 32

typedef struct {
    int status;
    char *out; /* everything cli_run wrote to its output stream */
    char *err; /* and to its error stream */
} outcome;

/* Runs lmr with the NULL-terminated args (argv[0] is supplied). */
static outcome run_args(const char *const *args)
{
    const char *argv[MAX_ARGS + 1] = {"lmr"};
    int argc = 1;
    size_t out_len, err_len;
    outcome result = {0, NULL, NULL};
    while (args[argc - 1] != NULL && argc < MAX_ARGS) {
        argv[argc] = args[argc - 1];
        argc++;
    }
    FILE *out = open_memstream(&result.out, &out_len);
    FILE *err = open_memstream(&result.err, &err_len);
    result.status = cli_run(argc, argv, out, err);
    fclose(out);
    fclose(err);
    return result;
}

#define RUN(...) run_args((const char *const[]){__VA_ARGS__, NULL})

static void outcome_free(outcome *result)
{
    free(result->out);
    free(result->err);
}

static int contains(const char *text, const char *part)
{
    return text != NULL && strstr(text, part) != NULL;
}

/* contains(text, printf(fmt, ...)) */
static int contains_format(const char *text, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int contains_format(const char *text, const char *fmt, ...)
{
    char part[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(part, sizeof part, fmt, args);
    va_end(args);
    return contains(text, part);
}

/* text, or "" for NULL */
static const char *shown(const char *text)
{
    return text ? text : "";
}

/* The length of text's first line, for messages on one TAP line. */
static int line_length(const char *text)
{
    return text ? (int)strcspn(text, "\n") : 0;
}

static const char *vectors_dir(void)
{
    const char *dir = getenv("LMR_VECTORS");
    return dir ? dir : "vectors";
}

/* ---- the three-word example of spec/errata.md E8 ------------------------ */

#define EXAMPLE_H "[[0.2,-0.1,0.5,0.3,-0.2]]"
#define EXAMPLE_E "[[0.1,0.2,0.3,0.4,0.5],[0.6,0.7,0.8,0.9,1.0],[1.1,1.2,1.3,1.4,1.5]]"

static void test_head_tied_example(void)
{
    static const double h[5] = {0.2, -0.1, 0.5, 0.3, -0.2};
    static const double E[15] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8,
                                 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5};
    double logits[3];
    outcome result = RUN("head_tied", "--h", EXAMPLE_H, "--E", EXAMPLE_E,
                         "--explain");
    tap_ok(lmr_head_tied(lmr_mat_out_of(logits, 1, 3), lmr_mat_of(h, 1, 5),
                         lmr_mat_of(E, 3, 5)) == LMR_OK,
           "the reference computes the example's logits");
    tap_ok(result.status == CLI_OK && shown(result.err)[0] == '\0',
           "head_tied example: exit 0, nothing on the error stream");
    tap_ok(contains(result.out, "logits (shape 1 x 3, float64):"),
           "head_tied example: the output is named with its shape");
    tap_ok(contains_format(result.out, "[[%.17g, %.17g, %.17g]]", logits[0],
                           logits[1], logits[2]),
           "head_tied example: the reference's logits, 17 digits (%.17g ...)",
           logits[0]);
    tap_ok(fabs(logits[0] - 0.55) > 0.1 && fabs(logits[2] - 0.73) > 0.1,
           "head_tied example: the true logits are not the printed [0.55, 0.64, 0.73] (errata E8)");
    tap_ok(contains(result.out, "not an expected value"),
           "head_tied example: the explanation says it is not an expected value");
    tap_ok(contains(result.out, "u[0,1] = (0.2)(0.6) + (-0.1)(0.7) + (0.5)(0.8) "
                                "+ (0.3)(0.9) + (-0.2)(1) = "),
           "head_tied example: u[0,1] as the sum of its products");
    outcome_free(&result);
}

/* The printed logits pasted back as the input of softmax. */
static void test_output_pastes_back(void)
{
    outcome head = RUN("head_tied", "--h", EXAMPLE_H, "--E", EXAMPLE_E);
    const char *start = head.out ? strstr(head.out, "[[") : NULL;
    char pasted[256] = "";
    if (start != NULL)
        snprintf(pasted, sizeof pasted, "%.*s", (int)strcspn(start, "\n"), start);
    outcome soft = RUN("softmax", "--logits", pasted);
    tap_ok(soft.status == CLI_OK && contains(soft.out, "probs (shape 1 x 3"),
           "printed logits paste back as --logits (%s)", pasted);
    outcome_free(&head);
    outcome_free(&soft);
}

/* ---- softmax and cross-entropy ------------------------------------------ */

static void test_softmax_explain(void)
{
    static const double u[3] = {1.0, 2.0, 3.0};
    double probs[3], sum = 0.0;
    char shown[32];
    outcome result = RUN("softmax", "--logits", "[[1, 2, 3]]", "--explain");
    lmr_softmax(lmr_mat_out_of(probs, 1, 3), lmr_mat_of(u, 1, 3), 1.0);
    for (size_t i = 0; i < 3; i++)
        sum += exp(u[i] - 3.0);
    cli_format_number(shown, sizeof shown, sum);
    tap_ok(result.status == CLI_OK, "softmax --explain: exit 0");
    tap_ok(contains(result.out, "a = max_j u_j = 3\n"),
           "softmax --explain: shows the maximum");
    tap_ok(contains(result.out, "S = sum_j exp(z_j) = ") &&
           contains_format(result.out, " = %s\n", shown),
           "softmax --explain: shows the sum S = %s", shown);
    tap_ok(contains_format(result.out, "[[%.17g, %.17g, %.17g]]", probs[0],
                           probs[1], probs[2]),
           "softmax: the reference's probabilities");
    outcome_free(&result);
}

static void test_one_row_is_promoted(void)
{
    outcome result = RUN("softmax", "--logits", "[1, 2, 3]", "--tau", "0.5");
    tap_ok(result.status == CLI_OK && contains(result.out, "probs (shape 1 x 3"),
           "a bare list is one row (1 x 3)");
    outcome_free(&result);
}

static void test_masked_logit(void)
{
    outcome result = RUN("log_softmax", "--logits", "[[0, \"-inf\", 1]]");
    tap_ok(result.status == CLI_OK && contains(result.out, "\"-inf\""),
           "a masked logit \"-inf\" is read and printed in the format's spelling");
    outcome_free(&result);
}

static void test_cross_entropy_sum(void)
{
    static const double u[6] = {1, 2, 3, 0.5, 0.25, -1};
    static const int64_t targets[2] = {2, 0};
    double loss;
    lmr_cross_entropy(lmr_vec_out_of(&loss, 1), lmr_mat_of(u, 2, 3),
                      lmr_ids_of(targets, 2), LMR_REDUCE_SUM, -100);
    outcome result = RUN("cross_entropy", "--logits",
                         "[[1, 2, 3], [0.5, 0.25, -1]]", "--targets", "[2, 0]",
                         "--reduction", "sum", "--explain");
    tap_ok(result.status == CLI_OK &&
           contains_format(result.out, "loss (shape 1, float64):\n  [%.17g]", loss),
           "cross_entropy --reduction sum (a bare word): the reference's loss");
    tap_ok(contains(result.out, "log S = ") && contains(result.out, "z_c = u_c - a"),
           "cross_entropy --explain: log S and the target's z per position");
    outcome_free(&result);
}

/* ---- rejections and malformed arguments ---------------------------------- */

static void test_invalid_id(void)
{
    outcome result = RUN("embed_lookup", "--E", "[[1, 2], [3, 4]]", "--ids",
                         "[0, 2]");
    tap_ok(result.status == CLI_REJECTED, "an id past the table: exit 1");
    tap_ok(strcmp(result.err, "lmr: embed_lookup: rejected: LMR_EINDEX (a token "
                              "id is outside [0, |V|))\n") == 0,
           "an id past the table: the LMR_EINDEX message (got: %.*s)",
           line_length(result.err), shown(result.err));
    tap_ok(shown(result.out)[0] == '\0', "a rejected input prints no output");
    outcome_free(&result);
}

static void test_bad_json(void)
{
    outcome result = RUN("head_tied", "--h", "[[0.2,", "--E", "[[1]]");
    tap_ok(result.status == CLI_USAGE, "bad JSON: exit 2");
    tap_ok(contains(result.err, "--h") && contains(result.err, "[[0.2,") &&
           contains(result.err, "bad JSON") && strchr(result.err, '\n') ==
           result.err + strlen(result.err) - 1,
           "bad JSON: one line naming the argument and its value (%.*s)",
           line_length(result.err), shown(result.err));
    outcome_free(&result);
}

static void test_malformed_arguments(void)
{
    static const struct {
        const char *args[9];
        const char *named;
    } cases[] = {
        {{"frobnicate", "--x", "1"}, "'frobnicate'"},
        {{"softmax", "--logits", "[[1]]", "--bogus", "2"}, "--bogus"},
        {{"embed_lookup", "--E", "[[1]]", "--ids", "[0.5]"}, "--ids"},
        {{"embed_lookup", "--ids", "[0]"}, "missing --E"},
        {{"embed_lookup", "--E", "[[1, 2], [3]]", "--ids", "[0]"}, "rectangular"},
        {{"softmax", "--logits", "[[1]]", "--tau", "warm"}, "--tau"},
        {{"compose", "--E", "[[1]]", "--ids", "[0]", "--positions", "learned"},
         "inputs.P"},
        {{"softmax", "--logits", "[[1]]", "--logits", "[[2]]"}, "twice"},
        {{"--case", "/nonexistent/lmr.json"}, "/nonexistent/lmr.json"},
        /* a size beyond spec/conventions.md#limits: once 1.5 GB printed */
        {{"embed_lookup_backward", "--ids", "[0]", "--dY", "[[1, 2]]",
          "--vocab", "134217728"}, "limit of 67108864"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        outcome result = run_args(cases[i].args);
        tap_ok(result.status == CLI_USAGE && contains(result.err, cases[i].named),
               "malformed: lmr %s ... exits 2 naming %s (got %d: %.*s)",
               cases[i].args[0], cases[i].named, result.status,
               line_length(result.err), shown(result.err));
        outcome_free(&result);
    }
}

/* ---- --case ---------------------------------------------------------------- */

/* "[[a, b, ...]" as the CLI prints the first row of a 2-D output. */
static void first_row_text(char *buf, size_t len, const vec_array *array)
{
    size_t used = (size_t)snprintf(buf, len, "[[");
    for (size_t j = 0; j < array->shape[1] && used < len; j++)
        used += (size_t)snprintf(buf + used, len - used, "%s%.17g",
                                 j ? ", " : "", array->f64[j]);
}

static void test_case_from_file(void)
{
    char path[512], err[VEC_ERRLEN], row[1024] = "";
    vec_file file;
    snprintf(path, sizeof path, "%s/embed_lookup.json", vectors_dir());
    int loaded = vec_file_load(&file, path, err, sizeof err) == 0;
    for (size_t i = 0; loaded && i < file.n_cases; i++)
        if (strcmp(file.cases[i].id, "embed_lookup/small-dyadic") == 0)
            first_row_text(row, sizeof row, &file.cases[i].expected[0].value);
    tap_ok(loaded && row[0] != '\0', "%s loads, with its small-dyadic case", path);
    outcome result = RUN("--case", path, "--id", "embed_lookup/small-dyadic",
                         "--explain");
    tap_ok(result.status == CLI_OK && contains(result.out, row),
           "--case --id: the file's expected first row %s]", row);
    outcome_free(&result);
    vec_file_free(&file);

    result = RUN("--case", path, "--id", "index-negative");
    tap_ok(result.status == CLI_REJECTED && contains(result.err, "LMR_EINDEX") &&
           contains(result.out, "expects this case to be rejected with LMR_EINDEX"),
           "--case --id by slug: an invalid case is rejected like the file says");
    outcome_free(&result);

    result = RUN("--case", path);
    tap_ok(result.status == CLI_USAGE && contains(result.err, "choose one with --id"),
           "--case on a file of many cases without --id: exit 2");
    outcome_free(&result);
}

/* A lone case object (not a whole file) is run as it is. */
static void test_lone_case(void)
{
    char path[512], temporary[] = "/tmp/lmr-cli-case-XXXXXX";
    json_error_t error;
    snprintf(path, sizeof path, "%s/embed_lookup.json", vectors_dir());
    json_t *root = json_load_file(path, 0, &error);
    json_t *first = json_array_get(json_object_get(root, "cases"), 0);
    int fd = mkstemp(temporary);
    int written = fd >= 0 && first != NULL && json_dumpfd(first, fd, 0) == 0;
    if (fd >= 0)
        close(fd);
    outcome result = RUN("--case", temporary);
    tap_ok(written && result.status == CLI_OK && contains(result.out, "Y (shape"),
           "--case on a lone case object (got %d: %.*s)", result.status,
           line_length(result.err), shown(result.err));
    outcome_free(&result);
    if (fd >= 0)
        unlink(temporary);
    json_decref(root);
}

/* ---- --list ---------------------------------------------------------------- */

static const char *const all_ops[] = {
    "embed_lookup", "embed_onehot", "pos_learned", "pos_sinusoid", "compose",
    "layernorm", "compose_layernorm", "head_tied", "head_untied", "softmax",
    "log_softmax", "cross_entropy", "argmax", "sample", "logit_lens",
    "param_count", "head_partial", "head_transformed", "head_adaptive",
    "head_mlp", "mos_fixed", "mos_gated", "soft_tie_loss", "attention_weights", "pca",
    "embed_lookup_backward", "pos_learned_backward", "layernorm_backward",
    "head_tied_backward", "head_untied_backward", "softmax_backward",
    "log_softmax_backward", "cross_entropy_backward", "head_partial_backward",
    "head_transformed_backward", "head_adaptive_backward", "head_mlp_backward",
    "mos_fixed_backward", "mos_gated_backward", "soft_tie_loss_backward",
    "attention_weights_backward", "linear_cross_entropy", "tied_lm",
};
#define OP_COUNT (sizeof all_ops / sizeof all_ops[0])

static void test_list(void)
{
    outcome result = RUN("--list");
    size_t listed = 0, known = 0;
    tap_ok(result.status == CLI_OK, "--list: exit 0");
    for (size_t i = 0; i < OP_COUNT; i++)
        listed += contains_format(result.out, "\n\n%s\n", all_ops[i]);
    tap_ok(listed == OP_COUNT, "--list lists all %zu ops (%zu found)",
           OP_COUNT, listed);
    /* every op it lists is one ref_run can run */
    size_t blocks = 0;
    for (const char *at = result.out; (at = strstr(at, "\n\n")) != NULL; at += 2) {
        char op[64];
        snprintf(op, sizeof op, "%.*s", (int)strcspn(at + 2, "\n"), at + 2);
        blocks++;
        known += ref_op_known(op);
    }
    tap_ok(blocks == OP_COUNT && known == blocks,
           "--list: each of its %zu ops is known to ref_run", blocks);
    outcome_free(&result);
}

/* ---- --explain for every op -------------------------------------------------- */

static void test_explain_every_op(void)
{
    static const struct {
        const char *args[23];
        const char *shows;
    } cases[] = {
        {{"embed_lookup", "--E", "[[1, 2], [3, 4]]", "--ids", "[1, 0, 1]"},
         "Y[0,:] = E[1,:] = [3, 4]"},
        {{"embed_onehot", "--onehot", "[[0, 1]]", "--E", "[[1, 2], [3, 4]]"},
         "O[0,1] = 1"},
        {{"pos_learned", "--P", "[[1, 2], [3, 4]]", "--positions", "1"},
         "Y[0,:] = P[1,:]"},
        {{"pos_sinusoid", "--positions", "[0, 3]", "--d", "4"},
         "omega_1 = 10000^(-2/4) = 0.01"},
        {{"compose", "--E", "[[1, 2], [3, 4]]", "--ids", "[1]", "--positions",
          "sinusoid", "--scale_by_sqrt_d", "true", "--start", "2"},
         "c = sqrt(d) = sqrt(2)"},
        {{"layernorm", "--x", "[[1, 2, 3, 4]]", "--gamma", "[1, 1, 1, 1]",
          "--beta", "[0, 0, 0, 0]", "--eps", "1e-5"},
         "mu = (1/d) sum_j x_j = (1 + 2 + 3 + 4) / 4 = 2.5"},
        {{"compose_layernorm", "--E", "[[1, 2], [3, 5]]", "--ids", "[1]",
          "--P", "[[0, 0], [1, 1]]", "--positions", "learned", "--gamma",
          "[1, 1]", "--beta", "[0, 0]", "--eps", "1e-5"},
         "LayerNorm of X[0,:]"},
        {{"head_tied", "--h", "[[1, 2]]", "--E", "[[1, 0], [0, 1]]"},
         "u[0,1] = (1)(0) + (2)(1) = 2"},
        {{"head_untied", "--h", "[[1, 2]]", "--W", "[[1, 0, 1], [0, 1, 1]]",
          "--b", "[0.5, 0, 0]"},
         "u[0,0] = (1)(1) + (2)(0) + (0.5) = 1.5"},
        {{"softmax", "--logits", "[[0, 0]]", "--tau", "2"}, "y_0 = 1 / 2 = 0.5"},
        {{"log_softmax", "--logits", "[[0, 0]]"}, "log S = log(2)"},
        {{"cross_entropy", "--logits", "[[0, 0], [1, 2]]", "--targets",
          "[1, -100]"},
         "mean = sum / count"},
        {{"argmax", "--logits", "[[1, 3, 3]]"},
         "ranked by decreasing logit, ties to the lower index: 1 (u = 3), 2 (u = 3)"},
        {{"sample", "--logits", "[[1, 2, 3, 0]]", "--r", "[0.5]", "--top_k",
          "3", "--top_p", "0.9"},
         "falls in [C_1, C_2)"},
        {{"logit_lens", "--hidden", "[[[1, 0]], [[0, 1]]]", "--E",
          "[[1, 0], [0, 1]]", "--k", "1"},
         "layer 1, position 0"},
        {{"param_count", "--vocab", "10", "--d", "4", "--block_params", "5"},
         "untied = |V|d + B + |V|d = 40 + 5 + 40 = 85"},
        /* the forward head variants (tools/cli/cli_explain_variants.c) */
        {{"head_partial", "--h", "[[1, 2]]", "--E", "[[1, 0], [0, 1], [1, 1]]",
          "--F", "[[2], [3]]", "--k", "2"},
         "columns 0 .. 1 from E; column 2 from F"},
        {{"head_partial", "--h", "[[1, 2]]", "--E", "[[1, 0], [0, 1], [1, 1]]",
          "--F", "[[2], [3]]", "--k", "2"},
         "u[0,1] = h[0,:] . E[1,:] = (1)(0) + (2)(1) = 2   (v = 1 < k: tied)"},
        {{"head_partial", "--h", "[[1, 2]]", "--E", "[[1, 0], [0, 1], [1, 1]]",
          "--F", "[[2], [3]]", "--k", "2"},
         "u[0,2] = h[0,:] . F[:,0] = (1)(2) + (2)(3) = 8   (v = 2 >= k: free)"},
        {{"head_partial", "--h", "[[1, 2]]", "--E", "[[1, 0], [0, 1], [1, 1]]",
          "--k", "3"},
         "no column from F (k = |V|: the tied head)"},
        {{"head_transformed", "--h", "[[1, 2]]", "--T", "[[1, 1], [0, 2]]",
          "--E", "[[1, 0], [0, 1], [1, 1]]"},
         "q[0,:] = h[0,:] T = [1, 5]"},
        {{"head_transformed", "--h", "[[1, 2]]", "--T", "[[1, 1], [0, 2]]",
          "--E", "[[1, 0], [0, 1], [1, 1]]"},
         "u[0,0] = q[0,:] . E[0,:] = (1)(1) + (5)(0) = 1"},
        {{"head_adaptive", "--h", "[[1, 2]]", "--E", "[[1, 0], [0, 1], [1, 1]]",
          "--F", "[[3, 2, 3], [0, 1, 0]]", "--alpha", "0.25"},
         "b = h[0,:] . F[:,0] = (1)(3) + (2)(0) = 3"},
        {{"head_adaptive", "--h", "[[1, 2]]", "--E", "[[1, 0], [0, 1], [1, 1]]",
          "--F", "[[3, 2, 3], [0, 1, 0]]", "--alpha", "0.25"},
         "u[0,0] = alpha a + (1 - alpha) b = (0.25)(1) + (0.75)(3) = 2.5"},
        {{"head_mlp", "--h", "[[1, -2]]", "--W1", "[[1, -1, 0], [0, 1, 1]]",
          "--b1", "[0.5, 0, 0]", "--W2", "[[1, 0], [0, 1], [1, 1]]", "--b2",
          "[0, 1]"},
         "a[0,0] = (1)(1) + (-2)(0) + (0.5) = 1.5"},
        {{"head_mlp", "--h", "[[1, -2]]", "--W1", "[[1, -1, 0], [0, 1, 1]]",
          "--b1", "[0.5, 0, 0]", "--W2", "[[1, 0], [0, 1], [1, 1]]", "--b2",
          "[0, 1]"},
         "cut to 0 by ReLU (a <= 0), 2 of 3: a[0,1] = -3, a[0,2] = -2"},
        {{"head_mlp", "--h", "[[1, -2]]", "--W1", "[[1, -1, 0], [0, 1, 1]]",
          "--b1", "[0.5, 0, 0]", "--W2", "[[1, 0], [0, 1], [1, 1]]", "--b2",
          "[0, 1]"},
         "u[0,0] = h1[0,:] . W2[:,0] = (1.5)(1) + (0)(0) + (0)(1) + (0) = 1.5"},
        {{"head_mlp", "--h", "[[1, 2]]", "--W1", "[[1, 0], [0, 1]]", "--E",
          "[[1, 0], [0, 1], [1, 1]]", "--tied", "true"},
         "u[0,0] = h1[0,:] . E[0,:] = (1)(1) + (2)(0) = 1"},
        {{"mos_fixed", "--h", "[[1, 2]]", "--W",
          "[[[1, 1], [0, 0]], [[0, 0], [1, 1]]]", "--alpha", "[1, 3]"},
         "log abar = log(alpha / sum_j alpha_j) = [-1.3862943611198906, -0.2876820724517809]"},
        {{"mos_fixed", "--h", "[[1, 2]]", "--W",
          "[[[1, 1], [0, 0]], [[0, 0], [1, 1]]]", "--alpha", "[1, 3]"},
         "log p_1 = log softmax(l_1) = [-0.6931471805599453, -0.6931471805599453]"},
        {{"mos_fixed", "--h", "[[1, 2]]", "--W",
          "[[[1, 1], [0, 0]], [[0, 0], [1, 1]]]", "--alpha", "[1, 3]"},
         "log y_0: s_k = log abar_k + log p_k,0 = [-2.0794415416798357, -0.9808292530117262]"},
        {{"mos_gated", "--h", "[[1, 1]]", "--W_pi", "[[1, 1], [0, 0]]",
          "--W_comp", "[[[0, 0], [0, 0]], [[1, 0], [0, 1]]]", "--b_comp",
          "[[0, 0], [-1, -1]]", "--W_out", "[[1, 0], [0, 1]]"},
         "log pi = log softmax(h[0,:] W_pi) = [-0.6931471805599453, -0.6931471805599453]"},
        {{"mos_gated", "--h", "[[1, 1]]", "--W_pi", "[[1, 1], [0, 0]]",
          "--W_comp", "[[[0, 0], [0, 0]], [[1, 0], [0, 1]]]", "--b_comp",
          "[[0, 0], [-1, -1]]", "--W_out", "[[1, 0], [0, 1]]"},
         "g_1 = tanh(h[0,:] W_1 + b_1) = [0, 0]"},
        {{"mos_gated", "--h", "[[1, 1]]", "--W_pi", "[[1, 1], [0, 0]]",
          "--W_comp", "[[[0, 0], [0, 0]], [[1, 0], [0, 1]]]", "--b_comp",
          "[[0, 0], [-1, -1]]", "--W_out", "[[1, 0], [0, 1]]"},
         "y = probs[0,:] = [0.5, 0.5]"},
        {{"mos_gated", "--h", "[[1, 1]]", "--W_pi", "[[1, 1], [0, 0]]",
          "--W_comp", "[[[0, 0], [0, 0]], [[1, 0], [0, 1]]]", "--b_comp",
          "[[0, 0], [-1, -1]]", "--W_out", "[[1, 0], [0, 1]]"},
         "log y_0 = s_max + log sum_k exp(s_k - s_max) = -0.6931471805599453"},
        {{"attention_weights", "--Q", "[[1, 0], [0, 2]]", "--K",
          "[[1, 1], [0, 2], [3, 0]]", "--causal", "true"},
         "S[0,2] + M = -inf   (key 2 masked: causal)"},
        {{"attention_weights", "--Q", "[[1, 0], [0, 2]]", "--K",
          "[[1, 1], [0, 2], [3, 0]]", "--causal", "true"},
         "Q[1,:].K[1,:] = (0)(0) + (2)(2) = 4"},
        {{"attention_weights", "--Q", "[[1, 0], [0, 2]]", "--K",
          "[[2, 2], [0, 2], [3, 0]]", "--key_mask", "[1, 0, 1]"},
         "S[1,1] + M = -inf   (key 1 masked: padding)"},
        {{"attention_weights", "--Q", "[[1, 0]]", "--K", "[[2, 0], [2, 0]]"},
         "weights[row] = exp(S + M - a) / sum = [0.5, 0.5]"},
        {{"attention_weights_backward", "--Q", "[[1, 0]]", "--K", "[[2, 0], [2, 0]]",
          "--dweights", "[[1, 3]]"},
         "gbar = sum_j A[i,j] G[i,j] = 2"},
        {{"attention_weights_backward", "--Q", "[[1, 0]]", "--K", "[[2, 0], [2, 0]]",
          "--dweights", "[[1, 3]]"},
         "dK[1,0] = ((0.5)(1) = 0.5) / sqrt(2)"},
        {{"soft_tie_loss", "--h", "[[1, 2], [0, 0]]", "--E",
          "[[2, 0], [0, 1], [1, 1]]", "--W", "[[1, 0, 1], [0, 1, 2]]",
          "--targets", "[1, -100]", "--lambda", "0.5"},
         "t = 1: target -100 = ignore_index: not counted"},
        {{"soft_tie_loss", "--h", "[[1, 2], [0, 0]]", "--E",
          "[[2, 0], [0, 1], [1, 1]]", "--W", "[[1, 0, 1], [0, 1, 2]]",
          "--targets", "[1, -100]", "--lambda", "0.5"},
         "(2 - 1)^2 + (0 - 0)^2 + (0 - 0)^2 + (1 - 1)^2 + (1 - 1)^2 + "
         "(1 - 2)^2 = 2"},
        {{"soft_tie_loss", "--h", "[[1, 2], [0, 0]]", "--E",
          "[[2, 0], [0, 1], [1, 1]]", "--W", "[[1, 0, 1], [0, 1, 2]]",
          "--targets", "[1, -100]", "--lambda", "0.5"},
         "lambda penalty = 3.0658839037574293 + 0.5 * 2 = 4.065883903757429"},
        /* pca (tools/cli/cli_explain_pca.c) */
        {{"pca", "--X", "[[1, 2], [3, 1], [0, 0], [2, 5]]", "--k", "2"},
         "C[0,:] = [1.6666666666666667, 1]"},
        {{"pca", "--X", "[[1, 2], [3, 1], [0, 0], [2, 5]]", "--k", "2"},
         "T = trace C = 6.333333333333334"},
        {{"pca", "--X", "[[1, 2], [3, 1], [0, 0], [2, 5]]", "--k", "2"},
         "largest |entry| made positive: [0.2897841486884301, 0.9570920264890528]"},
        /* the backward ops (tools/cli_explain_grad*.c) */
        {{"embed_lookup_backward", "--ids", "[1, 2, 1]", "--dY",
          "[[1, 2], [3, 4], [5, 6]]", "--vocab", "3"},
         "dE[1,:] = dY[0,:] + dY[2,:] = [1, 2] + [5, 6] = [6, 8]"},
        {{"embed_lookup_backward", "--ids", "[1, 2, 1]", "--dY",
          "[[1, 2], [3, 4], [5, 6]]", "--vocab", "3"},
         "dE[0,:] = 0   (id 0 does not occur: a row of zeros)"},
        {{"pos_learned_backward", "--positions", "[0, 0, 1]", "--dY",
          "[[1, 2], [3, 4], [5, 6]]", "--max_len", "3"},
         "dP[0,:] = dY[0,:] + dY[1,:] = [1, 2] + [3, 4] = [4, 6]"},
        {{"layernorm_backward", "--x", "[[1, 2, 3, 4]]", "--gamma",
          "[2, 1, 1, 1]", "--dY", "[[1, 0, 0, -1]]", "--eps", "1e-5"},
         "mean(g) = (2 + 0 + 0 - 1 = 1) / 4 = 0.25"},
        {{"layernorm_backward", "--x", "[[1, 2], [3, 5]]", "--gamma", "[1, 1]",
          "--dY", "[[1, 0], [0.5, 0]]", "--eps", "1e-5"},
         "dbeta_0 = 1 + 0.5 = 1.5"},
        {{"head_tied_backward", "--h", "[[1, 2]]", "--E",
          "[[1, 0], [0, 1], [1, 1]]", "--dlogits", "[[1, 0, -1]]"},
         "dh[0,1] = (1)(0) + (0)(1) + (-1)(1) = -1"},
        {{"head_tied_backward", "--h", "[[1, 2]]", "--E",
          "[[1, 0], [0, 1], [1, 1]]", "--dlogits", "[[1, 0, -1]]"},
         "dE[2,1] = (-1)(2) = -2"},
        {{"head_untied_backward", "--h", "[[1, 2], [3, 4]]", "--W",
          "[[1, 0, 1], [0, 1, 1]]", "--dlogits", "[[1, 0, -1], [0.5, 0.5, 0]]"},
         "dW[0,0] = (1)(1) + (3)(0.5) = 2.5"},
        {{"softmax_backward", "--logits", "[[0, 0]]", "--dprobs", "[[1, 0]]"},
         "dlogits_0 = (0.5)((1) - (0.5)) / 1 = 0.25"},
        {{"softmax_backward", "--logits", "[[0, 0]]", "--dprobs", "[[1, 0]]"},
         "g-bar = sum_j y_j G_j = (0.5)(1) + (0.5)(0) = 0.5"},
        {{"log_softmax_backward", "--logits", "[[0, 0]]", "--dlogprobs",
          "[[1, 1]]"},
         "Gamma = sum_j G_j = 1 + 1 = 2"},
        {{"cross_entropy_backward", "--logits", "[[0, 0], [1, 2], [0, 0]]",
          "--targets", "[1, -100, 0]", "--dloss", "[1]"},
         "m = 2 counted rows (not n): w_t = 1 / 2 = 0.5"},
        {{"cross_entropy_backward", "--logits", "[[0, 0], [1, 2], [0, 0]]",
          "--targets", "[1, -100, 0]", "--dloss", "[1]"},
         "dlogits = w (y - onehot) = 0.5 * [0.5, -0.5] = [0.25, -0.25]"},
        {{"cross_entropy_backward", "--logits", "[[0, 0], [1, 2], [0, 0]]",
          "--targets", "[1, -100, 0]", "--dloss", "[1]"},
         "row 1: target -100 = ignore_index: w_1 = 0"},
        {{"head_partial_backward", "--h", "[[1, 2], [3, 4]]", "--E",
          "[[1, 0], [0, 1], [1, 1]]", "--F", "[[2], [3]]", "--k", "2",
          "--dlogits", "[[1, 0, -1], [0.5, 0.5, 0]]"},
         "dh[0,0] = (1) + (-2) = -1"},
        {{"head_transformed_backward", "--h", "[[1, 2]]", "--T",
          "[[1, 1], [0, 2]]", "--E", "[[1, 0], [0, 1], [1, 1]]", "--dlogits",
          "[[1, 0, -1]]"},
         "q[0,:] = h[0,:] T = [1, 5]"},
        {{"head_adaptive_backward", "--h", "[[1, 2], [3, 4]]", "--E",
          "[[1, 0], [0, 1], [1, 1]]", "--F", "[[1, 2, 3], [0, 1, 0]]",
          "--alpha", "0.25", "--dlogits", "[[1, 0, -1], [0.5, 0.5, 0]]"},
         "dE[0,0] = 0.25 * ((1)(1) + (0.5)(3) = 2.5) = 0.625"},
        {{"head_mlp_backward", "--h", "[[1, -2]]", "--W1", "[[1, -1], [0, 1]]",
          "--W2", "[[1, 0], [0, 1]]", "--dlogits", "[[1, -1]]"},
         "da[0,:] = the same where a > 0, 0 elsewhere = [1, 0]"},
        {{"mos_fixed_backward", "--h", "[[1, 2]]", "--W",
          "[[[1, 0], [0, 1]], [[0, 0], [1, 1]]]", "--alpha", "[1, 3]",
          "--dlogprobs", "[[1, -1]]"},
         "A = sum_k alpha_k = 4, abar = alpha / A = [0.25, 0.75]"},
        {{"mos_gated_backward", "--h", "[[1, 1]]", "--W_pi", "[[1, 1], [0, 0]]",
          "--W_comp", "[[[1, 0], [0, 1]], [[0, 1], [1, 0]]]", "--b_comp",
          "[[0, 0], [0, 0]]", "--W_out", "[[1, 0], [0, 1]]", "--dlogprobs",
          "[[1, 0]]"},
         "pi = softmax(h W_pi) = [0.5, 0.5]"},
        {{"soft_tie_loss_backward", "--h", "[[1, 2]]", "--E",
          "[[2, 0], [0, 1], [1, 1]]", "--W", "[[1, 0, 1], [0, 1, 2]]",
          "--targets", "[1]", "--dloss", "[2]", "--lambda", "0.5"},
         "dE[0,0] = 2 * (2 - 1) = 2"},
        {{"linear_cross_entropy", "--h", "[[1, 0], [0, 1]]", "--E",
          "[[0, 0], [1, 0], [0, 1], [1, 1], [0, 0]]", "--targets", "[1, -100]",
          "--dloss", "[1]"},
         "chunk [4, 5): a = 1, S = 3.103638323514327"},
        {{"tied_lm", "--ids", "[1, 2, 1]", "--targets", "[2, -100, 0]", "--E",
          "[[1, 0, 0.5], [0, 1, -1], [0.5, 0.5, 2]]", "--P",
          "[[0, 0, 1], [0.25, 0, 0], [1, 1, 1]]", "--layernorm", "true",
          "--gamma", "[1, 2, 0.5]", "--beta", "[0, 0.1, 0]", "--middle",
          "matrix", "--M", "[[1, 0, 0], [0, 2, 0], [1, 0, 1]]"},
         "H[0,:] = Z[0,:] M = "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[25] = {NULL};
        size_t count = 0;
        while (cases[i].args[count] != NULL)
            args[count] = cases[i].args[count], count++;
        args[count] = "--explain";
        outcome result = run_args(args);
        tap_ok(result.status == CLI_OK && contains(result.out, cases[i].shows),
               "%s --explain shows '%s' (exit %d%s%.*s)", cases[i].args[0],
               cases[i].shows, result.status, shown(result.err)[0] ? ": " : "",
               line_length(result.err), shown(result.err));
        outcome_free(&result);
    }
}

/* tied_lm's split of dE, on inputs whose arithmetic is exact: E[0] + P[t]
 * = [t+1, t+1] is orthogonal to E[0] - E[1], so both logits of a row are
 * equal and y = [0.5, 0.5]; token 1 is a target but never an input. */
static void test_tied_lm_explain(void)
{
    outcome result = RUN("tied_lm", "--ids", "[0, 0]", "--targets", "[1, 1]",
                         "--E", "[[1, 0], [0, 1]]", "--P", "[[0, 1], [1, 2]]",
                         "--reduction", "sum", "--explain");
    tap_ok(result.status == CLI_OK &&
           contains(result.out, "dU[0,:] = w_0 (y[0,:] - onehot(1)) = [0.5, -0.5]"),
           "tied_lm --explain: dU = w (y - onehot) (exit %d%s%.*s)",
           result.status, shown(result.err)[0] ? ": " : "",
           line_length(result.err), shown(result.err));
    tap_ok(contains(result.out, "dE_output[1,:] = sum_t dU[t,1] H[t,:] = "
                                "(-0.5) [1, 1] + (-0.5) [2, 2] = [-1.5, -1.5]"),
           "tied_lm --explain: the head's share of an absent token, dense");
    tap_ok(contains(result.out, "dE_input[1,:] = 0   (token 1 does not occur"),
           "tied_lm --explain: the lookup's share of an absent token is 0");
    tap_ok(contains(result.out, "dE_input[0,:] = dX[0,:] + dX[1,:] = "
                                "[0.5, -0.5] + [0.5, -0.5] = [1, -1]"),
           "tied_lm --explain: the lookup's share of a repeated id adds its rows");
    tap_ok(contains(result.out, "dE[1,:] = [0, 0] + [-1.5, -1.5] = [-1.5, -1.5]"),
           "tied_lm --explain: dE = dE_input + dE_output");
    tap_ok(contains(result.out, "why a token absent from the input still "
                                "moves: token 1"),
           "tied_lm --explain: says why the absent token still moves");
    outcome_free(&result);
}

/* Explanations are cut after CLI_EXPLAIN_MAX entries. */
static void test_explain_truncates(void)
{
    char logits[512];
    size_t used = (size_t)snprintf(logits, sizeof logits, "[[");
    for (int i = 0; i < 20; i++)
        used += (size_t)snprintf(logits + used, sizeof logits - used, "%s%d",
                                 i ? ", " : "", i);
    snprintf(logits + used, sizeof logits - used, "]]");
    outcome result = RUN("softmax", "--logits", logits, "--explain");
    tap_ok(result.status == CLI_OK && contains(result.out, "... (12 more)") &&
           !contains(result.out, "y_8 ="),
           "a row of 20 logits is explained up to 8 entries, then '...'");
    outcome_free(&result);
}

int main(void)
{
    test_head_tied_example();
    test_output_pastes_back();
    test_softmax_explain();
    test_one_row_is_promoted();
    test_masked_logit();
    test_cross_entropy_sum();
    test_invalid_id();
    test_bad_json();
    test_malformed_arguments();
    test_case_from_file();
    test_lone_case();
    test_list();
    test_explain_every_op();
    test_tied_lm_explain();
    test_explain_truncates();
    tap_done();
    return tap_exit_status();
}
