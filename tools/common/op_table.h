/*
 * op_table.h -- one description of every op: its equation in one line, its
 * inputs, its params with their defaults and ranges, its outputs with their
 * shapes, the ref/ function and the spec section that define it, and the
 * vector files that check it (tools/common/op_table.c holds the data).
 *
 * Every program reads the ops from here: the command-line tool (its --list,
 * argument parsing and help), the reference runner (tools/refops/: which
 * params default to what, and the shape of every output it allocates), the
 * reference testee and lmr (the shapes they print), the generator (which
 * vector files exist), the runner (the outputs an op has) and, through
 * tools/common/ops.json, which `lmr-ops --json` writes from this table, the
 * Python testees. The table is plain data: the code that runs an op lives
 * with its program (refops, gen, cli), found by the op's name, and
 * tests/op_table.c fails when an op of the table lacks one, or a program has
 * one for an op the table does not know.
 *
 * Adding an op: README.md, "Adding an op".
 */
#ifndef LMR_OP_TABLE_H
#define LMR_OP_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "vecio.h"

#define OP_MAX_INPUTS 12
#define OP_MAX_PARAMS 8
#define OP_MAX_OUTPUTS 8
#define OP_MAX_FILES 3

/* ---- inputs ---------------------------------------------------------------- */

typedef struct {
    const char *name;
    vec_dtype dtype;   /* VEC_F64 or VEC_I64 */
    size_t ndim;       /* its number of dimensions */
    int optional;      /* 1: may be absent (the op's section says when) */
    const char *about; /* its shape in words and its meaning, for --list */
} op_input;

/* ---- params ---------------------------------------------------------------- */

typedef enum {
    PARAM_DOUBLE, /* a JSON number (or "inf", "-inf", "nan", "-0") */
    PARAM_INT,    /* a JSON integer (int64) */
    PARAM_BOOL,   /* true or false */
    PARAM_WORD    /* a JSON string from a documented list ("sum") */
} op_param_kind;

typedef struct {
    const char *name;
    op_param_kind kind;
    int required;            /* 1: no default; a case must give it */
    /* The default when the param is absent (required == 0), in the field of
     * its kind: */
    double default_number;   /* PARAM_DOUBLE */
    int64_t default_integer; /* PARAM_INT, and PARAM_BOOL (0 or 1) */
    const char *default_word; /* PARAM_WORD */
    const char *range;       /* the valid values, in words ("> 0") */
    const char *about;       /* its meaning */
} op_param;

/* ---- outputs and their shapes ------------------------------------------------ */

/* One dimension of an output: the size of an axis of an input, the value of
 * an integer param, or 0. An axis dimension may name a second input for
 * when the first is absent (head_mlp's |V| is W2's axis 1, or E's axis 0
 * when tied). */
typedef enum { DIM_END = 0, DIM_AXIS, DIM_PARAM, DIM_ZERO } op_dim_kind;

typedef struct {
    op_dim_kind kind;
    const char *name;        /* DIM_AXIS: the input; DIM_PARAM: the param */
    size_t axis;             /* DIM_AXIS */
    const char *alternative; /* DIM_AXIS: the input used when name is absent */
    size_t alternative_axis;
} op_dim;

typedef enum {
    SHAPE_DIMS,       /* the dims below */
    SHAPE_LIKE_INPUT, /* the shape of the input `like` (dX of input X) */
    SHAPE_ONE,        /* one element: shape [1] */
    SHAPE_PER_ROW     /* [n] (n = axis 0 of `like`) when the param reduction
                         is "none", else [1]: a loss per row or reduced */
} op_shape_kind;

typedef struct {
    const char *name;
    vec_dtype dtype;
    op_shape_kind shape;
    op_dim dims[VEC_MAX_DIMS + 1]; /* SHAPE_DIMS; ends at DIM_END */
    const char *like;              /* SHAPE_LIKE_INPUT, SHAPE_PER_ROW */
    int optional;                  /* 1: only in some modes (the about says) */
    const char *about;             /* its shape in words and meaning */
} op_output;

/* ---- ops --------------------------------------------------------------------- */

typedef struct {
    const char *name;       /* "softmax", as in requests and vector files */
    const char *equation;   /* one line, plain text */
    const char *ref_function; /* the ref/ function, "lmr_softmax" */
    const char *spec;       /* its section, "softmax.md#softmax" */
    const char *files[OP_MAX_FILES]; /* its vector files, without .json */
    op_input inputs[OP_MAX_INPUTS];  /* ends at the first NULL name */
    op_param params[OP_MAX_PARAMS];  /* ends at the first NULL name */
    op_output outputs[OP_MAX_OUTPUTS]; /* ends at the first NULL name */
} op_desc;

/* Every op, in the order of spec/README.md (op_table.c). */
extern const op_desc op_table[];
extern const size_t op_table_count;

/* The op called name, or NULL. */
const op_desc *op_find(const char *name);

/* The input, param or output of op called name, or NULL. */
const op_input *op_find_input(const op_desc *op, const char *name);
const op_param *op_find_param(const op_desc *op, const char *name);
const op_output *op_find_output(const op_desc *op, const char *name);

/* How many inputs, params and outputs op has. */
size_t op_input_count(const op_desc *op);
size_t op_param_count(const op_desc *op);
size_t op_output_count(const op_desc *op);

/* The op whose vector files include `file` ("head_tied_gpt2" -> head_tied),
 * or NULL. */
const op_desc *op_find_by_file(const char *file);

/*
 * The shape of output `output` of op in case c, by the table's rule: fills
 * shape (VEC_MAX_DIMS) and returns its number of dimensions, or returns 0
 * when the case lacks what the rule is made of (an input or an integer
 * param it names).
 */
size_t op_output_shape(const op_desc *op, const op_output *output,
                       const vec_case *c, size_t *shape /* (VEC_MAX_DIMS) */);

/*
 * The shape to print or send for an output of `count` elements that the
 * reference produced for op `op_name` in case c: the table's shape when it
 * holds `count` elements, else one dimension of `count` (so nothing is
 * ever lost). Returns the number of dimensions.
 */
size_t op_result_shape(const char *op_name, const char *output_name,
                       const vec_case *c, size_t count,
                       size_t *shape /* (VEC_MAX_DIMS) */);

/*
 * A param of the case, read with the table's rule for it: the case's value
 * when present (checked against the param's kind), else its default; a
 * required param that is absent is an error. Each returns 0, or -1 with a
 * message naming file, case, field and value (vecio.h). name must be a
 * param of the case's op in the table.
 */
int op_param_double(const vec_ctx *ctx, const char *name, double *out);
int op_param_int64(const vec_ctx *ctx, const char *name, int64_t *out);
int op_param_size(const vec_ctx *ctx, const char *name, size_t *out);
int op_param_bool(const vec_ctx *ctx, const char *name, int *out);
int op_param_word(const vec_ctx *ctx, const char *name, const char **out);

/* The whole table as JSON (op_json.c; the format of tools/common/ops.json);
 * the caller owns the reference. */
json_t *op_table_json(void);

/* The name of a param kind ("number", "integer", "true/false", "word"). */
const char *op_param_kind_name(op_param_kind kind);

#endif
