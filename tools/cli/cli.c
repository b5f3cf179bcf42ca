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
#include "op_shapes.h"
#include "ref_ops.h"
#include "vecio.h"

/* The name that stands for a file path in messages about the arguments. */
#define ARGUMENTS_NAME "command line"
#define PROBLEM_LEN 256
#define SHOWN_VALUE_LEN 60

/* ---- the ops: their arguments and outputs (the spec's input tables) ---- */

typedef enum {
    ARG_F64_ARRAY, ARG_I64_ARRAY, ARG_DOUBLE, ARG_INT, ARG_BOOL, ARG_STRING
} arg_kind;

typedef struct {
    const char *name;
    arg_kind kind;
    size_t ndim;       /* arrays: the number of dimensions the op reads */
    int required;      /* 0: optional, or required only in some modes */
    const char *about; /* shape and meaning, for --list */
} arg_spec;

/* An output, for --list; its shape comes from tools/common/op_shapes.c. */
typedef struct {
    const char *name;
    const char *about; /* shape and meaning */
} output_spec;

#define OP_MAX_ARGS 12
#define OP_MAX_OUTPUTS 7

typedef struct {
    const char *op;
    const char *equation;
    arg_spec args[OP_MAX_ARGS];          /* ends at the first NULL name */
    output_spec outputs[OP_MAX_OUTPUTS]; /* ends at the first NULL name */
} op_spec;

#define IN_F64(name, ndim, about) {name, ARG_F64_ARRAY, ndim, 1, about}
#define OPT_F64(name, ndim, about) {name, ARG_F64_ARRAY, ndim, 0, about}
#define IN_I64(name, about) {name, ARG_I64_ARRAY, 1, 1, about}
#define PARAM(name, kind, required, about) {name, kind, 0, required, about}

#define ARG_E IN_F64("E", 2, "|V| x d: the embedding table")
#define ARG_IDS IN_I64("ids", "n: token ids in [0, |V|)")
#define ARG_LOGITS IN_F64("logits", 2, "n x |V|: finite or \"-inf\" (masked)")
#define ARG_TAU PARAM("tau", ARG_DOUBLE, 0, "> 0, default 1: the temperature")
#define ARG_GAMMA IN_F64("gamma", 1, "d: the LayerNorm scale")
#define ARG_BETA IN_F64("beta", 1, "d: the LayerNorm shift")
#define ARG_EPS PARAM("eps", ARG_DOUBLE, 1, "> 0 (usually 1e-5): inside the square root")
#define COMPOSE_ARGS                                                          \
    ARG_E, ARG_IDS,                                                           \
    OPT_F64("P", 2, "L x d: the learned position table (positions = learned)"), \
    PARAM("positions", ARG_STRING, 1, "learned or sinusoid"),                 \
    PARAM("start", ARG_INT, 0, ">= 0, default 0: the first position"),        \
    PARAM("scale_by_sqrt_d", ARG_BOOL, 0, "default false: c = sqrt(d), else c = 1"), \
    PARAM("base", ARG_DOUBLE, 0, "> 1, default 10000 (sinusoid)")

static const op_spec op_specs[] = {
    {"embed_lookup", "Y[t,:] = E[w_t,:]",
     {ARG_E, ARG_IDS},
     {{"Y", "n x d"}}},
    {"embed_onehot", "Y = O E (one one-hot row per token)",
     {IN_F64("onehot", 2, "n x |V|: exactly one 1 per row, 0 elsewhere"), ARG_E},
     {{"Y", "n x d"}}},
    {"pos_learned", "Y[t,:] = P[p_t,:]",
     {IN_F64("P", 2, "L x d: the learned position table"),
      IN_I64("positions", "n: positions in [0, L)")},
     {{"Y", "n x d"}}},
    {"pos_sinusoid", "Y[t,2i] = sin(p_t w_i), Y[t,2i+1] = cos(p_t w_i), w_i = base^(-2i/d)",
     {IN_I64("positions", "n: positions in [0, 2^53]"),
      PARAM("d", ARG_INT, 1, ">= 1: the width"),
      PARAM("base", ARG_DOUBLE, 0, "> 1, default 10000")},
     {{"Y", "n x d"}}},
    {"compose", "X[t,:] = c E[w_t,:] + P(start + t), c = sqrt(d) or 1",
     {COMPOSE_ARGS},
     {{"Y", "n x d"}}},
    {"layernorm", "Y[t,:] = gamma (x - mu) / sqrt(var + eps) + beta",
     {IN_F64("x", 2, "n x d: the rows to normalise"), ARG_GAMMA, ARG_BETA, ARG_EPS},
     {{"Y", "n x d"}}},
    {"compose_layernorm", "Y = LayerNorm(compose(E, ids, P, start, c))",
     {COMPOSE_ARGS, ARG_GAMMA, ARG_BETA, ARG_EPS},
     {{"Y", "n x d"}}},
    {"head_tied", "u[t,v] = sum_j h[t,j] E[v,j]   (u = h E^T)",
     {IN_F64("h", 2, "n x d: hidden states"), ARG_E},
     {{"logits", "n x |V|"}}},
    {"head_untied", "u[t,v] = sum_j h[t,j] W[j,v] + b[v]   (u = h W + b)",
     {IN_F64("h", 2, "n x d: hidden states"),
      IN_F64("W", 2, "d x |V|: PyTorch's Linear weight, transposed"),
      OPT_F64("b", 1, "|V|: the bias (optional)")},
     {{"logits", "n x |V|"}}},
    {"softmax", "y_i = exp(z_i) / sum_j exp(z_j), z_i = (u_i - max u) / tau",
     {ARG_LOGITS, ARG_TAU},
     {{"probs", "n x |V|"}}},
    {"log_softmax", "log y_i = z_i - log sum_j exp(z_j), z_i = (u_i - max u) / tau",
     {ARG_LOGITS, ARG_TAU},
     {{"logprobs", "n x |V|"}}},
    {"cross_entropy", "loss_t = log sum_j exp(z_j) - z_{c_t}, z = u - max u",
     {ARG_LOGITS,
      IN_I64("targets", "n: target ids in [0, |V|), or ignore_index"),
      PARAM("reduction", ARG_STRING, 0, "none, sum or mean (default)"),
      PARAM("ignore_index", ARG_INT, 0, "default -100: targets not counted")},
     {{"loss", "n (none) or 1 (sum, mean)"}}},
    {"argmax", "token_t = the smallest i with u[t,i] maximal",
     {ARG_LOGITS},
     {{"token", "n"}}},
    {"sample", "q = softmax(u/tau) cut by top-k then top-p, renormalised; "
               "token = the smallest i with r < C_i",
     {ARG_LOGITS, IN_F64("r", 1, "n: uniform numbers in [0, 1)"), ARG_TAU,
      PARAM("top_k", ARG_INT, 0, ">= 0, default 0 (off)"),
      PARAM("top_p", ARG_DOUBLE, 0, "in (0, 1], default 1 (off)")},
     {{"probs", "n x |V|"}, {"token", "n"}}},
    {"logit_lens", "probs[l,t,:] = softmax(LN?(H[l,t,:]) E^T), and the top k tokens",
     {IN_F64("hidden", 3, "L x n x d: hidden states per layer"), ARG_E,
      OPT_F64("gamma", 1, "d: final LayerNorm scale (final_layernorm)"),
      OPT_F64("beta", 1, "d: final LayerNorm shift (final_layernorm)"),
      PARAM("k", ARG_INT, 1, "in [1, |V|]: how many top tokens"),
      PARAM("final_layernorm", ARG_BOOL, 0, "default false"),
      PARAM("eps", ARG_DOUBLE, 0, "> 0, default 1e-5 (final_layernorm)")},
     {{"probs", "L x n x |V|"}, {"top_tokens", "L x n x k"},
      {"top_probs", "L x n x k"}}},
    {"param_count", "untied = 2|V|d + B, tied = |V|d + B, saving = |V|d",
     {PARAM("vocab", ARG_INT, 1, ">= 1: |V|"), PARAM("d", ARG_INT, 1, ">= 1"),
      PARAM("block_params", ARG_INT, 1, ">= 0: B, everything else")},
     {{"untied", "1"}, {"tied", "1"}, {"saving", "1"},
      {"relative_reduction", "1"}}},
    {"head_partial", "u[t,v] = h[t,:].E[v,:] for v < k, h[t,:].F[:,v-k] for v >= k",
     {IN_F64("h", 2, "n x d: hidden states"), ARG_E,
      OPT_F64("F", 2, "d x (|V| - k): free output columns (absent when k = |V|)"),
      PARAM("k", ARG_INT, 1, "in [0, |V|]: how many tokens share E")},
     {{"logits", "n x |V|"}}},
    {"head_transformed", "u = h T E^T",
     {IN_F64("h", 2, "n x d: hidden states"), IN_F64("T", 2, "d x d: the transform"),
      ARG_E},
     {{"logits", "n x |V|"}}},
    {"head_adaptive", "u = alpha h E^T + (1 - alpha) h F",
     {IN_F64("h", 2, "n x d: hidden states"), ARG_E,
      IN_F64("F", 2, "d x |V|: the free output matrix"),
      PARAM("alpha", ARG_DOUBLE, 1, "in [0, 1]: the share of the tied matrix")},
     {{"logits", "n x |V|"}}},
    {"head_mlp", "u = ReLU(h W1 + b1) W2 + b2 (W2 = E^T when tied)",
     {IN_F64("h", 2, "n x d: hidden states"), IN_F64("W1", 2, "d x m"),
      OPT_F64("b1", 1, "m (optional)"), OPT_F64("W2", 2, "m x |V| (untied)"),
      OPT_F64("E", 2, "|V| x d (tied, m = d)"), OPT_F64("b2", 1, "|V| (optional)"),
      PARAM("tied", ARG_BOOL, 0, "default false: W2 = E^T")},
     {{"logits", "n x |V|"}}},
    {"mos_fixed", "y = sum_k abar_k softmax(h W_k), abar = alpha / sum alpha",
     {IN_F64("h", 2, "n x d: hidden states"), IN_F64("W", 3, "K x d x |V|"),
      IN_F64("alpha", 1, "K: weights >= 0, normalised")},
     {{"probs", "n x |V|"}, {"logprobs", "n x |V|"}}},
    {"mos_gated", "y = sum_k pi_k softmax(tanh(h W_k + b_k) W_out + b_out), "
                  "pi = softmax(h W_pi)",
     {IN_F64("h", 2, "n x d: hidden states"), IN_F64("W_pi", 2, "d x K"),
      IN_F64("W_comp", 3, "K x d x d"), IN_F64("b_comp", 2, "K x d"),
      OPT_F64("W_out", 2, "d x |V| (untied)"), OPT_F64("E", 2, "|V| x d (tied)"),
      OPT_F64("b_out", 1, "|V| (optional)"),
      PARAM("tied", ARG_BOOL, 0, "default false: W_out = E^T")},
     {{"probs", "n x |V|"}, {"logprobs", "n x |V|"}}},
    {"soft_tie_loss", "L = CE(h W, targets) + lambda ||E - W^T||_F^2",
     {IN_F64("h", 2, "n x d: hidden states"), ARG_E, IN_F64("W", 2, "d x |V|"),
      IN_I64("targets", "n: target ids, or ignore_index"),
      PARAM("lambda", ARG_DOUBLE, 1, ">= 0"),
      PARAM("reduction", ARG_STRING, 0, "sum or mean (default)"),
      PARAM("ignore_index", ARG_INT, 0, "default -100")},
     {{"loss", "1"}, {"cross_entropy", "1"}, {"penalty", "1"}}},

    /* Gradients (spec/gradients.md): the forward inputs, the upstream
     * gradient d<output>, and d<input> for every real input. */
    {"embed_lookup_backward", "dE[v,:] = sum of dY[t,:] over t with w_t = v",
     {ARG_IDS, IN_F64("dY", 2, "n x d: upstream gradient"),
      PARAM("vocab", ARG_INT, 1, ">= 1: |V|")},
     {{"dE", "|V| x d"}}},
    {"pos_learned_backward", "dP[i,:] = sum of dY[t,:] over t with p_t = i",
     {IN_I64("positions", "n: positions in [0, L)"),
      IN_F64("dY", 2, "n x d: upstream gradient"),
      PARAM("max_len", ARG_INT, 1, ">= 1: L")},
     {{"dP", "L x d"}}},
    {"layernorm_backward", "dx = r (g - mean g - z mean(g z)), g = gamma dY; "
                           "dgamma = sum_t dY z; dbeta = sum_t dY",
     {IN_F64("x", 2, "n x d"), ARG_GAMMA, IN_F64("dY", 2, "n x d: upstream gradient"),
      ARG_EPS},
     {{"dx", "n x d"}, {"dgamma", "d"}, {"dbeta", "d"}}},
    {"head_tied_backward", "dh = dU E, dE = dU^T h",
     {IN_F64("h", 2, "n x d"), ARG_E,
      IN_F64("dlogits", 2, "n x |V|: upstream gradient dU")},
     {{"dh", "n x d"}, {"dE", "|V| x d"}}},
    {"head_untied_backward", "dh = dU W^T, dW = h^T dU, db = sum_t dU",
     {IN_F64("h", 2, "n x d"), IN_F64("W", 2, "d x |V|"),
      IN_F64("dlogits", 2, "n x |V|: upstream gradient dU")},
     {{"dh", "n x d"}, {"dW", "d x |V|"}, {"db", "|V|"}}},
    {"softmax_backward", "dlogits = y (G - sum y G) / tau; dtau = -sum dlogits (u - max u)/tau",
     {ARG_LOGITS, IN_F64("dprobs", 2, "n x |V|: upstream gradient G"), ARG_TAU},
     {{"dlogits", "n x |V|"}, {"dtau", "1"}}},
    {"log_softmax_backward", "dlogits = (G - y sum G) / tau; dtau as softmax_backward",
     {ARG_LOGITS, IN_F64("dlogprobs", 2, "n x |V|: upstream gradient G, 0 where masked"),
      ARG_TAU},
     {{"dlogits", "n x |V|"}, {"dtau", "1"}}},
    {"cross_entropy_backward", "dlogits[t,:] = w_t (y[t,:] - onehot(c_t)), w_t from "
                               "dloss and the reduction",
     {ARG_LOGITS, IN_I64("targets", "n: target ids, or ignore_index"),
      IN_F64("dloss", 1, "n (none) or 1 (sum, mean): upstream gradient"),
      PARAM("reduction", ARG_STRING, 0, "none, sum or mean (default)"),
      PARAM("ignore_index", ARG_INT, 0, "default -100")},
     {{"dlogits", "n x |V|"}}},
    {"head_partial_backward", "dh = dU W^T with W = [E[0:k]^T | F]; dE rows < k, dF",
     {IN_F64("h", 2, "n x d"), ARG_E, OPT_F64("F", 2, "d x (|V| - k)"),
      IN_F64("dlogits", 2, "n x |V|"), PARAM("k", ARG_INT, 1, "in [0, |V|]")},
     {{"dh", "n x d"}, {"dE", "|V| x d"}, {"dF", "d x (|V| - k)"}}},
    {"head_transformed_backward", "dh = dU E T^T, dT = h^T dU E, dE = dU^T h T",
     {IN_F64("h", 2, "n x d"), IN_F64("T", 2, "d x d"), ARG_E,
      IN_F64("dlogits", 2, "n x |V|")},
     {{"dh", "n x d"}, {"dT", "d x d"}, {"dE", "|V| x d"}}},
    {"head_adaptive_backward", "dE = alpha dU^T h, dF = (1 - alpha) h^T dU, "
                               "dalpha = sum dU (h E^T - h F)",
     {IN_F64("h", 2, "n x d"), ARG_E, IN_F64("F", 2, "d x |V|"),
      IN_F64("dlogits", 2, "n x |V|"), PARAM("alpha", ARG_DOUBLE, 1, "in [0, 1]")},
     {{"dh", "n x d"}, {"dE", "|V| x d"}, {"dF", "d x |V|"}, {"dalpha", "1"}}},
    {"head_mlp_backward", "da = (dU W2^T) [a > 0]; dW1 = h^T da, dW2 = h1^T dU, ...",
     {IN_F64("h", 2, "n x d"), IN_F64("W1", 2, "d x m"), OPT_F64("b1", 1, "m"),
      OPT_F64("W2", 2, "m x |V| (untied)"), OPT_F64("E", 2, "|V| x d (tied)"),
      OPT_F64("b2", 1, "|V|"), IN_F64("dlogits", 2, "n x |V|"),
      PARAM("tied", ARG_BOOL, 0, "default false")},
     {{"dh", "n x d"}, {"dW1", "d x m"}, {"db1", "m"}, {"dW2", "m x |V|"},
      {"dE", "|V| x d"}, {"db2", "|V|"}}},
    {"mos_fixed_backward", "delta_k = omega_k G - p_k sum(omega_k G); dW_k = h^T delta_k",
     {IN_F64("h", 2, "n x d"), IN_F64("W", 3, "K x d x |V|"), IN_F64("alpha", 1, "K"),
      IN_F64("dlogprobs", 2, "n x |V|: upstream gradient of logprobs")},
     {{"dh", "n x d"}, {"dW", "K x d x |V|"}, {"dalpha", "K"}}},
    {"mos_gated_backward", "the gate, components and shared output matrix of mos_gated",
     {IN_F64("h", 2, "n x d"), IN_F64("W_pi", 2, "d x K"),
      IN_F64("W_comp", 3, "K x d x d"), IN_F64("b_comp", 2, "K x d"),
      OPT_F64("W_out", 2, "d x |V| (untied)"), OPT_F64("E", 2, "|V| x d (tied)"),
      OPT_F64("b_out", 1, "|V|"), IN_F64("dlogprobs", 2, "n x |V|"),
      PARAM("tied", ARG_BOOL, 0, "default false")},
     {{"dh", "n x d"}, {"dW_pi", "d x K"}, {"dW_comp", "K x d x d"},
      {"db_comp", "K x d"}, {"dW_out", "d x |V|"}, {"dE", "|V| x d"},
      {"db_out", "|V|"}}},
    {"soft_tie_loss_backward", "dh = D W^T, dW = h^T D + 2 lambda dloss (W - E^T), "
                               "dE = 2 lambda dloss (E - W^T)",
     {IN_F64("h", 2, "n x d"), ARG_E, IN_F64("W", 2, "d x |V|"),
      IN_I64("targets", "n"), IN_F64("dloss", 1, "1: upstream gradient"),
      PARAM("lambda", ARG_DOUBLE, 1, ">= 0"),
      PARAM("reduction", ARG_STRING, 0, "sum or mean (default)"),
      PARAM("ignore_index", ARG_INT, 0, "default -100")},
     {{"dh", "n x d"}, {"dE", "|V| x d"}, {"dW", "d x |V|"}}},
    {"tied_lm", "L = CE((LN?(E[ids] + P) M?) E^T); dE = dE_input + dE_output",
     {ARG_IDS, IN_I64("targets", "n: target ids, or ignore_index"), ARG_E,
      IN_F64("P", 2, "L x d, L >= n: learned positions"),
      OPT_F64("gamma", 1, "d (layernorm)"), OPT_F64("beta", 1, "d (layernorm)"),
      OPT_F64("M", 2, "d x d (middle = matrix)"),
      PARAM("layernorm", ARG_BOOL, 0, "default false"),
      PARAM("eps", ARG_DOUBLE, 0, "default 1e-5"),
      PARAM("middle", ARG_STRING, 0, "identity (default) or matrix"),
      PARAM("reduction", ARG_STRING, 0, "sum or mean (default)"),
      PARAM("ignore_index", ARG_INT, 0, "default -100")},
     {{"loss", "1"}, {"dE", "|V| x d"}, {"dE_input", "|V| x d"},
      {"dE_output", "|V| x d"}, {"dP", "L x d"}, {"dgamma", "d"},
      {"dbeta", "d"}}},
};

#define OP_COUNT (sizeof op_specs / sizeof op_specs[0])

static const op_spec *find_op(const char *op)
{
    for (size_t i = 0; i < OP_COUNT; i++)
        if (strcmp(op_specs[i].op, op) == 0)
            return &op_specs[i];
    return NULL;
}

static const arg_spec *find_arg(const op_spec *spec, const char *name)
{
    for (size_t i = 0; i < OP_MAX_ARGS && spec->args[i].name; i++)
        if (strcmp(spec->args[i].name, name) == 0)
            return &spec->args[i];
    return NULL;
}

static int is_array_kind(arg_kind kind)
{
    return kind == ARG_F64_ARRAY || kind == ARG_I64_ARRAY;
}

static const char *kind_name(arg_kind kind)
{
    static const char *const names[] = {"float64 array", "int64 array",
                                        "number", "integer", "true/false",
                                        "string"};
    return names[kind];
}

/* ---- usage and --list ------------------------------------------------- */

static void print_usage(FILE *out)
{
    fputs("usage: lmr OP [--NAME VALUE]... [--explain]\n"
          "       lmr --case FILE.json [--id CASE_ID] [--explain]\n"
          "       lmr --list\n"
          "Runs one op of the reference library (ref/) and prints its outputs\n"
          "with their shapes (17 significant digits). --NAME is an input (a JSON\n"
          "array; nesting gives the shape) or a param (a number, true/false or a\n"
          "word); --explain adds the intermediate steps. --case runs a case, or\n"
          "the case --id of a vector file. --list shows the ops and arguments.\n"
          "Exit status: 0 ok, 1 rejected by the reference, 2 bad arguments.\n"
          "Example: lmr softmax --logits '[[1, 2, 3]]' --tau 0.5 --explain\n",
          out);
}

static void list_op(FILE *out, const op_spec *spec)
{
    fprintf(out, "\n%s\n    %s\n", spec->op, spec->equation);
    for (size_t i = 0; i < OP_MAX_ARGS && spec->args[i].name; i++) {
        const arg_spec *arg = &spec->args[i];
        fprintf(out, "  %c --%-16s %-14s %s\n", arg->required ? '*' : ' ',
                arg->name, kind_name(arg->kind), arg->about);
    }
    for (size_t i = 0; i < OP_MAX_OUTPUTS && spec->outputs[i].name; i++)
        fprintf(out, "    -> %-16s %s\n", spec->outputs[i].name,
                spec->outputs[i].about);
}

static void list_ops(FILE *out)
{
    fputs("lmr ops. Inputs are JSON arrays, params scalars; * marks a required"
          " argument\n(optional ones may be required by a mode, e.g. --P with"
          " --positions learned).\n", out);
    for (size_t i = 0; i < OP_COUNT; i++)
        list_op(out, &op_specs[i]);
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
    int explain, list, help;
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

static void list_arg_names(FILE *err, const op_spec *spec)
{
    for (size_t i = 0; i < OP_MAX_ARGS && spec->args[i].name; i++)
        fprintf(err, "%s--%s", i ? ", " : "", spec->args[i].name);
}

/* Every --NAME known to the op, none twice, every required one present. */
static int check_named_args(const op_spec *spec, const cli_args *args,
                            FILE *err)
{
    for (size_t i = 0; i < args->n_named; i++) {
        const named_arg *given = &args->named[i];
        if (find_arg(spec, given->name) == NULL) {
            fprintf(err, "lmr: %s: unknown argument --%s (value: ", spec->op,
                    given->name);
            show_value(err, given->value);
            fprintf(err, "); %s takes ", spec->op);
            list_arg_names(err, spec);
            fprintf(err, "\n");
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(args->named[j].name, given->name) == 0) {
                fprintf(err, "lmr: %s: --%s given twice\n", spec->op, given->name);
                return -1;
            }
    }
    for (size_t i = 0; i < OP_MAX_ARGS && spec->args[i].name; i++) {
        const arg_spec *arg = &spec->args[i];
        int present = 0;
        for (size_t j = 0; j < args->n_named; j++)
            present |= strcmp(args->named[j].name, arg->name) == 0;
        if (arg->required && !present) {
            fprintf(err, "lmr: %s: missing --%s (%s, %s)\n", spec->op,
                    arg->name, kind_name(arg->kind), arg->about);
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

static int leaf_ok(const json_t *leaf, arg_kind kind)
{
    double ignored;
    if (kind == ARG_I64_ARRAY)
        return json_is_integer(leaf);
    return vec_decode_double(leaf, &ignored) == 0;
}

/* Appends the leaves of value to flat, checking that every sub-list has the
 * shape measured along the first elements. index is (VEC_MAX_DIMS). */
static int flatten(const json_t *value, const size_t *shape, size_t ndim,
                   size_t depth, size_t *index, arg_kind kind, json_t *flat,
                   char *problem, size_t len)
{
    char where[64];
    format_where(where, sizeof where, index, depth);
    if (depth == ndim) {
        if (leaf_ok(value, kind))
            return json_array_append(flat, (json_t *)value);
        snprintf(problem, len, "element %s is not %s", where,
                 json_is_array(value) ? "a number (the lists are not rectangular)"
                 : kind == ARG_I64_ARRAY ? "an integer"
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
                    index, kind, flat, problem, len) != 0)
            return -1;
    return 0;
}

/* A scalar is one element; fewer dimensions than the op reads get leading
 * 1s (a bare list is one row); more are an error. */
static int fit_shape(const arg_spec *arg, size_t *shape /* (VEC_MAX_DIMS) */,
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

static json_t *array_object(arg_kind kind, const size_t *shape, size_t ndim,
                            json_t *flat)
{
    json_t *object = json_object();
    json_t *shape_list = json_array();
    for (size_t k = 0; k < ndim; k++)
        json_array_append_new(shape_list, json_integer((json_int_t)shape[k]));
    json_object_set_new(object, "dtype", json_string(
        kind == ARG_I64_ARRAY ? "int64" : "float64"));
    json_object_set_new(object, "shape", shape_list);
    json_object_set(object, "data", flat);
    return object;
}

/* An input array {"dtype", "shape", "data"} from JSON text, or NULL. */
static json_t *array_json(const arg_spec *arg, const char *text, char *problem,
                          size_t len)
{
    size_t shape[VEC_MAX_DIMS], index[VEC_MAX_DIMS], ndim;
    json_t *value = parse_json_text(text, problem, len);
    json_t *flat = json_array(), *result = NULL;
    if (value != NULL && measure_shape(value, shape, &ndim, problem, len) == 0 &&
        flatten(value, shape, ndim, 0, index, arg->kind, flat, problem, len) == 0 &&
        fit_shape(arg, shape, &ndim, problem, len) == 0)
        result = array_object(arg->kind, shape, ndim, flat);
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
static json_t *exact_param(arg_kind kind, const char *text, char *problem,
                           size_t len)
{
    json_t *value = parse_json_text(text, problem, len);
    int fits = kind == ARG_INT ? json_is_integer(value) : json_is_boolean(value);
    if (value != NULL && !fits) {
        snprintf(problem, len, "must be %s",
                 kind == ARG_INT ? "an integer" : "true or false");
        json_decref(value);
        return NULL;
    }
    return value;
}

static json_t *value_json(const arg_spec *arg, const char *text, char *problem,
                          size_t len)
{
    if (is_array_kind(arg->kind))
        return array_json(arg, text, problem, len);
    if (arg->kind == ARG_STRING)
        return string_param(text, problem, len);
    if (arg->kind == ARG_DOUBLE)
        return number_param(text, problem, len);
    return exact_param(arg->kind, text, problem, len);
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
static json_t *arguments_json(const op_spec *spec, const cli_args *args,
                              FILE *err)
{
    json_t *inputs = json_object(), *params = json_object();
    for (size_t i = 0; i < args->n_named; i++) {
        const named_arg *given = &args->named[i];
        const arg_spec *arg = find_arg(spec, given->name);
        char problem[PROBLEM_LEN];
        json_t *value = value_json(arg, given->value, problem, sizeof problem);
        if (value == NULL) {
            fprintf(err, "lmr: %s: --%s: %s (value: ", spec->op, given->name,
                    problem);
            show_value(err, given->value);
            fprintf(err, ")\n");
            json_decref(inputs);
            json_decref(params);
            return NULL;
        }
        json_object_set_new(is_array_kind(arg->kind) ? inputs : params,
                            given->name, value);
    }
    json_t *notes = json_pack("{s:s}", "command_line",
                              "a case built by lmr from its arguments");
    return file_json(spec->op, notes,
                     json_pack("[o]", case_json(spec->op, inputs, params)));
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

/* A nested JSON list, one innermost list per line. */
static void print_nested(FILE *out, const ref_output *output,
                         const size_t *shape, size_t ndim, size_t depth,
                         size_t *offset)
{
    fputc('[', out);
    for (size_t i = 0; i < shape[depth]; i++) {
        if (depth + 1 == ndim) {
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
    size_t ndim = op_output_shape(file->op, c, output->name, output->count,
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
            cli_explain(out, file, c);
    }
    ref_result_free(&result);
    return status;
}

static int run_op(const cli_args *args, FILE *out, FILE *err)
{
    const op_spec *spec = find_op(args->op);
    vec_file file;
    char message[VEC_ERRLEN];
    if (spec == NULL) {
        fprintf(err, "lmr: unknown op '%s' (lmr --list shows the ops)\n", args->op);
        return CLI_USAGE;
    }
    if (check_named_args(spec, args, err) != 0)
        return CLI_USAGE;
    json_t *root = arguments_json(spec, args, err);
    if (root == NULL)
        return CLI_USAGE;
    int status = CLI_USAGE;
    if (vec_file_from_json(&file, root, ARGUMENTS_NAME, message, sizeof message) != 0)
        fprintf(err, "lmr: %s: %s\n", spec->op, message);
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
