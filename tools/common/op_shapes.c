/*
 * op_shapes.c -- see op_shapes.h.
 *
 * Adding an op: give a row below to each of its outputs that has two or
 * more dimensions, unless it is a gradient "dX" shaped like the op's input
 * X. One-dimensional outputs need no row.
 */
#include "op_shapes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One output's shape: each dimension is "input.axis" (the size of that
 * axis of an input), an integer param ("d"), a number ("0"), or
 * alternatives "a.1|b.0" (the first one that the case has). */
typedef struct {
    const char *op;
    const char *output;
    const char *dims[VEC_MAX_DIMS]; /* NULL ends */
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
    {"head_mlp", "logits", {"h.0", "W2.1|E.0"}},            /* untied|tied */
    {"mos_fixed", "probs", {"h.0", "W.2"}},
    {"mos_fixed", "logprobs", {"h.0", "W.2"}},
    {"mos_gated", "probs", {"h.0", "W_out.1|E.0"}},         /* untied|tied */
    {"mos_gated", "logprobs", {"h.0", "W_out.1|E.0"}},
    /* Gradients without an input of their own name: */
    {"embed_lookup_backward", "dE", {"vocab", "dY.1"}},
    {"pos_learned_backward", "dP", {"max_len", "dY.1"}},
    {"tied_lm", "dE_input", {"E.0", "E.1"}},
    {"tied_lm", "dE_output", {"E.0", "E.1"}},
    {"head_partial_backward", "dF", {"h.1", "0"}}, /* k = |V|: no F, d x 0 */
};

#define SHAPE_RULE_COUNT (sizeof shape_rules / sizeof shape_rules[0])

/* The size one alternative names ("E.1", "d" or "0", `len` characters of
 * text): 0, or -1 if the case has no such input axis or integer param. */
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

/* The size a dimension names: its first alternative that resolves; 0, or
 * -1 if none does. */
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

/* A gradient "dX" shaped like input X (spec/gradients.md#conventions):
 * fills shape and returns its ndim, or 0 when the case has no input X of
 * `count` elements. */
static size_t gradient_shape(const vec_case *c, const char *output,
                             size_t count, size_t *shape /* (VEC_MAX_DIMS) */)
{
    const vec_array *input = output[0] == 'd'
        ? vec_case_input(c, output + 1) : NULL;
    if (input == NULL || input->count != count)
        return 0;
    memcpy(shape, input->shape, input->ndim * sizeof *shape);
    return input->ndim;
}

/* The shape a rule gives in case c: fills shape and returns its ndim, or 0
 * when a dimension does not resolve or the sizes do not hold `count`
 * elements. */
static size_t rule_shape(const shape_rule *rule, const vec_case *c,
                         size_t count, size_t *shape /* (VEC_MAX_DIMS) */)
{
    size_t ndim = 0, product = 1;
    for (; ndim < VEC_MAX_DIMS && rule->dims[ndim] != NULL; ndim++) {
        if (resolve_dim(c, rule->dims[ndim], &shape[ndim]) != 0)
            return 0;
        product *= shape[ndim];
    }
    return product == count ? ndim : 0;
}

size_t op_output_shape(const char *op, const vec_case *c, const char *output,
                       size_t count, size_t *shape /* (VEC_MAX_DIMS) */)
{
    size_t ndim = gradient_shape(c, output, count, shape);
    for (size_t r = 0; ndim == 0 && r < SHAPE_RULE_COUNT; r++)
        if (strcmp(shape_rules[r].op, op) == 0 &&
            strcmp(shape_rules[r].output, output) == 0)
            ndim = rule_shape(&shape_rules[r], c, count, shape);
    if (ndim == 0) {
        shape[0] = count;
        ndim = 1;
    }
    return ndim;
}
