/*
 * gen_embed.c -- cases for embed_lookup, embed_onehot and pos_learned
 * (spec/embedding.md). The same tables and ids serve the lookup and its
 * one-hot form, so an implementation can check that both forms agree.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_case.h"
#include "gen_ops.h"
#include "gen_random.h"
#include "oracle.h"

/* One table-and-ids configuration shared by the lookup-like ops. */
typedef struct {
    const char *slug;
    const char *comment;
    size_t rows, d, n;  /* table is (rows, d); n indices */
    double *table;      /* (rows, d) */
    int64_t *index;     /* (n) */
    unsigned long seed; /* 0 for hand-written inputs */
    const char *recipe;
    const char *extra_flag; /* NULL or one more flag */
} table_config;

enum table_op { LOOKUP, ONEHOT, LEARNED };

static void add_flags(gen_case *c, const table_config *cfg)
{
    if (cfg->seed) {
        gen_flag(c, "random");
        gen_source(c, cfg->seed, cfg->recipe);
    } else {
        gen_flag(c, "edge");
    }
    if (cfg->extra_flag)
        gen_flag(c, cfg->extra_flag);
}

/* onehot (n, rows) with a 1 at index[t] in row t. */
static double *onehot_matrix(const int64_t *index, size_t n, size_t rows)
{
    double *onehot = calloc(n * rows + 1, sizeof(double));
    for (size_t t = 0; t < n; t++)
        onehot[t * rows + (size_t)index[t]] = 1.0;
    return onehot;
}

static int expected_values(enum table_op op, const table_config *cfg,
                           const double *onehot, double *y, double *scale,
                           double *k)
{
    if (op == LOOKUP)
        return oracle_embed_lookup(y, scale, k, cfg->table, cfg->index,
                                   cfg->n, cfg->rows, cfg->d);
    if (op == ONEHOT)
        return oracle_embed_onehot(y, scale, k, onehot, cfg->table, cfg->n,
                                   cfg->rows, cfg->d);
    return oracle_pos_learned(y, scale, k, cfg->table, cfg->index, cfg->n,
                              cfg->rows, cfg->d);
}

static void add_inputs(gen_case *c, enum table_op op, const table_config *cfg,
                       const double *onehot)
{
    if (op == LOOKUP) {
        gen_input_f64(c, "E", cfg->rows, cfg->d, cfg->table);
        gen_input_i64(c, "ids", cfg->n, GEN_1D, cfg->index);
    } else if (op == ONEHOT) {
        gen_input_f64(c, "onehot", cfg->n, cfg->rows, onehot);
        gen_input_f64(c, "E", cfg->rows, cfg->d, cfg->table);
    } else {
        gen_input_f64(c, "P", cfg->rows, cfg->d, cfg->table);
        gen_input_i64(c, "positions", cfg->n, GEN_1D, cfg->index);
    }
}

/* A valid case: inputs from cfg, expected values from the oracle. */
static int valid_case(gen_file *file, enum table_op op,
                      const table_config *cfg)
{
    gen_case c;
    double k;
    double *onehot = onehot_matrix(cfg->index, cfg->n, cfg->rows);
    double *y = calloc(cfg->n * cfg->d + 1, sizeof(double));
    double *scale = calloc(cfg->n * cfg->d + 1, sizeof(double));
    int status = expected_values(op, cfg, onehot, y, scale, &k);
    if (status == 0) {
        gen_case_begin(&c, file, cfg->slug, cfg->comment);
        add_flags(&c, cfg);
        add_inputs(&c, op, cfg, onehot);
        gen_expect(&c, "Y", cfg->n, cfg->d, y, k, scale);
        gen_case_end(&c);
    } else {
        fprintf(stderr, "lmr-gen: %s/%s: the oracle rejected valid inputs\n",
                file->op, cfg->slug);
    }
    free(onehot);
    free(y);
    free(scale);
    return status;
}

/* An invalid case: inputs from cfg (onehot given explicitly for ONEHOT). */
static void invalid_case(gen_file *file, enum table_op op,
                         const table_config *cfg, const double *onehot,
                         const char *status_name)
{
    gen_case c;
    double *own = onehot ? NULL : onehot_matrix(cfg->index, cfg->n, cfg->rows);
    gen_case_begin(&c, file, cfg->slug, cfg->comment);
    gen_flag(&c, "edge");
    add_inputs(&c, op, cfg, onehot ? onehot : own);
    gen_invalid(&c, status_name);
    gen_case_end(&c);
    free(own);
}

/* ---- shared configurations --------------------------------------------- */

#define MAX_CONFIGS 8

typedef struct {
    table_config items[MAX_CONFIGS];
    size_t count;
} config_list;

static table_config *add_config(config_list *list, const char *slug,
                                const char *comment, size_t rows, size_t d,
                                size_t n)
{
    table_config *cfg = &list->items[list->count++];
    memset(cfg, 0, sizeof *cfg);
    cfg->slug = slug;
    cfg->comment = comment;
    cfg->rows = rows;
    cfg->d = d;
    cfg->n = n;
    cfg->table = calloc(rows * d + 1, sizeof(double));
    cfg->index = calloc(n + 1, sizeof(int64_t));
    return cfg;
}

static void random_config(config_list *list, const char *slug,
                          const char *comment, size_t rows, size_t d, size_t n,
                          unsigned long seed, int full_precision)
{
    table_config *cfg = add_config(list, slug, comment, rows, d, n);
    gsl_rng *rng = gen_rng(seed);
    cfg->seed = seed;
    if (full_precision) {
        gen_uniform53(rng, cfg->table, rows * d, -1.0, 1.0);
        cfg->recipe = "table: 53-bit uniform in [-1, 1); indices: uniform";
    } else {
        gen_dyadic(rng, cfg->table, rows * d, 6, 127);
        cfg->recipe = "table: k/64, k uniform in [-127, 127]; indices: uniform";
    }
    gen_ids(rng, cfg->index, n, rows);
    gsl_rng_free(rng);
}

/* Edge values: zeros of both signs, subnormals, extremes (fp64 only). */
static void wide_range_config(config_list *list, const char *slug,
                              const char *comment)
{
    static const double values[] = {
        -0.0, 0.0, 5e-324, -2.2250738585072014e-308, 1e-300, -1e300,
        DBL_MAX, -DBL_MAX, 1.0, -1.5, 0x1.fffffffffffffp-1, 3.0e-5};
    table_config *cfg = add_config(list, slug, comment, 3, 4, 4);
    memcpy(cfg->table, values, sizeof values);
    cfg->index[0] = 0;
    cfg->index[1] = 2;
    cfg->index[2] = 1;
    cfg->index[3] = 0;
    cfg->extra_flag = "wide_range";
}

static void repeated_config(config_list *list, const char *slug,
                            const char *comment)
{
    static const int64_t ids[] = {2, 2, 0, 2, 4};
    table_config *cfg = add_config(list, slug, comment, 5, 3, 5);
    gsl_rng *rng = gen_rng(7);
    gen_dyadic(rng, cfg->table, 15, 4, 100);
    memcpy(cfg->index, ids, sizeof ids);
    cfg->extra_flag = "repeated";
    gsl_rng_free(rng);
}

static void boundary_config(config_list *list, const char *slug,
                            const char *comment)
{
    table_config *cfg = add_config(list, slug, comment, 64, 48, 3);
    gsl_rng *rng = gen_rng(11);
    gen_dyadic(rng, cfg->table, 64 * 48, 7, 255);
    cfg->index[0] = 63; /* the last row */
    cfg->index[1] = 0;  /* the first row */
    cfg->index[2] = 63;
    cfg->extra_flag = "boundary";
    gsl_rng_free(rng);
}

/* Small dyadic entries with zeros of both signs, within every class's range. */
static void signed_zero_config(config_list *list, const char *slug,
                               const char *comment)
{
    static const double values[] = {
        -0.0, 0.5, 0.0, -1.25,  0.75, -0.0, -0.0, 2.0,  0.0, -0.5, 1.5, -0.0};
    table_config *cfg = add_config(list, slug, comment, 3, 4, 4);
    memcpy(cfg->table, values, sizeof values);
    cfg->index[0] = 1;
    cfg->index[1] = 0;
    cfg->index[2] = 2;
    cfg->index[3] = 1;
    cfg->extra_flag = "signed_zero";
}

static void shared_configs(config_list *list)
{
    list->count = 0;
    random_config(list, "small-dyadic", "8 rows of width 4, 5 draws",
                  8, 4, 5, 1001, 0);
    random_config(list, "full-precision", "53-bit table entries",
                  16, 8, 6, 1002, 1);
    repeated_config(list, "repeated-index",
                    "the same row read three times: each is an exact copy");
    boundary_config(list, "first-and-last-row",
                    "index 0 and the last index of a 64-row table");
    random_config(list, "single-row", "a table of one row: every index is 0",
                  1, 6, 2, 1003, 0);
    add_config(list, "empty-batch", "n = 0: the output is an empty 0 x 5 array",
               4, 5, 0);
    list->items[list->count - 1].extra_flag = "empty";
    wide_range_config(list, "wide-range",
                      "signed zeros, a subnormal, 1e-300 to DBL_MAX: copies "
                      "are exact whatever the magnitude");
    signed_zero_config(list, "signed-zeros", "-0 and +0 among small dyadic "
                       "entries (every class): a copy keeps the sign");
}

static void free_configs(config_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].table);
        free(list->items[i].index);
    }
}

static void common_notes(gen_file *file)
{
    gen_note(file, "repeated", "an index occurs more than once");
    gen_note(file, "boundary", "indices at both ends of the valid range");
    gen_note(file, "empty", "an empty batch (n = 0)");
    gen_note(file, "wide_range", "values near the ends of the double range, "
                                 "signed zeros and subnormals");
    gen_note(file, "signed_zero", "-0 entries in a table every class holds");
}

static int valid_cases(gen_file *file, enum table_op op)
{
    config_list list;
    int status = 0;
    shared_configs(&list);
    for (size_t i = 0; i < list.count && status == 0; i++)
        status = valid_case(file, op, &list.items[i]);
    free_configs(&list);
    return status;
}

/* ---- invalid inputs ---------------------------------------------------- */

/* A 4 x 3 dyadic table with n = 2 indices {1, 2}; caller edits it. */
static table_config small_config(const char *slug, const char *comment,
                                 double *table, int64_t *index)
{
    table_config cfg = {slug, comment, 4, 3, 2, table, index, 0, NULL, NULL};
    for (size_t i = 0; i < 12; i++)
        table[i] = ldexp((double)i - 6.0, -2);
    index[0] = 1;
    index[1] = 2;
    return cfg;
}

static void index_errors(gen_file *file, enum table_op op, const char *code)
{
    static const struct {
        const char *slug, *comment;
        int64_t bad;
    } cases[] = {
        {"index-equal-to-rows", "an index equal to the number of rows", 4},
        {"index-negative", "an index of -1 (must not wrap to the last row)", -1},
        {"index-huge", "an index of 2^63 - 1", INT64_MAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double table[12];
        int64_t index[2];
        table_config cfg = small_config(cases[i].slug, cases[i].comment, table,
                                        index);
        index[1] = cases[i].bad;
        invalid_case(file, op, &cfg, NULL, code);
    }
}

static void table_errors(gen_file *file, enum table_op op)
{
    static const struct {
        const char *slug, *comment;
        double bad;
    } cases[] = {
        {"nan-in-unread-row", "NaN in a row no index reads", NAN},
        {"inf-in-unread-row", "+infinity in a row no index reads", INFINITY},
        {"minus-inf-in-read-row", "-infinity in a row that is read", -INFINITY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double table[12];
        int64_t index[2];
        table_config cfg = small_config(cases[i].slug, cases[i].comment, table,
                                        index);
        table[i == 2 ? 4 : 10] = cases[i].bad; /* row 1 is read, row 3 is not */
        invalid_case(file, op, &cfg, NULL, "LMR_ENONFINITE");
    }
}

static void size_errors(gen_file *file, enum table_op op)
{
    double table[12];
    int64_t index[2];
    table_config cfg = small_config("zero-width", "d = 0: a 4 x 0 table",
                                    table, index);
    cfg.d = 0;
    invalid_case(file, op, &cfg, NULL, "LMR_EDIM");
    cfg = small_config("zero-rows", "a table with no rows (0 x 3)", table,
                       index);
    cfg.rows = 0;
    cfg.n = 0;
    invalid_case(file, op, &cfg, NULL, "LMR_EDIM");
}

/* ---- the three files --------------------------------------------------- */

static int gen_embed_lookup(const char *dir)
{
    gen_file file;
    gen_file_init(&file, "embed_lookup", "spec/embedding.md#lookup");
    common_notes(&file);
    int status = valid_cases(&file, LOOKUP);
    index_errors(&file, LOOKUP, "LMR_EINDEX");
    table_errors(&file, LOOKUP);
    size_errors(&file, LOOKUP);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

static int gen_pos_learned(const char *dir)
{
    gen_file file;
    gen_file_init(&file, "pos_learned", "spec/embedding.md#learned");
    common_notes(&file);
    int status = valid_cases(&file, LEARNED);
    index_errors(&file, LEARNED, "LMR_EPOS");
    table_errors(&file, LEARNED);
    size_errors(&file, LEARNED);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* Rows that sum to 1 without being one-hot: only a check of every entry
 * rejects them, not a check of the row sums. */
static void onehot_split_rows(gen_file *file)
{
    static const struct {
        const char *slug, *comment;
        double row[4];
    } cases[] = {
        {"two-halves", "a row 0, 0.5, 0.5, 0: it sums to 1", {0, 0.5, 0.5, 0}},
        {"quarter-and-three-quarters", "a row 0.25, 0.75, 0, 0: it sums to 1",
         {0.25, 0.75, 0, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double table[12];
        int64_t index[2];
        table_config cfg = small_config(cases[i].slug, cases[i].comment, table,
                                        index);
        double *onehot = onehot_matrix(index, cfg.n, cfg.rows);
        memcpy(onehot, cases[i].row, sizeof cases[i].row); /* row 0 */
        invalid_case(file, ONEHOT, &cfg, onehot, "LMR_EDOMAIN");
        free(onehot);
    }
}

/* One-hot matrices that are not one-hot. */
static void onehot_errors(gen_file *file)
{
    static const struct {
        const char *slug, *comment;
        size_t at;
        double value;
    } cases[] = {
        {"two-ones", "a row with two entries equal to 1", 0, 1.0},
        {"no-one", "a row of zeros", 2, 0.0},
        {"half", "an entry of 0.5 beside the 1", 3, 0.5},
        {"two", "an entry of 2 instead of 1", 2, 2.0},
        {"nan-entry", "a NaN in the one-hot matrix", 0, NAN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double table[12];
        int64_t index[2];
        table_config cfg = small_config(cases[i].slug, cases[i].comment, table,
                                        index);
        /* row 0 selects index 1, row 1 selects index 2; edit row 0 */
        double *onehot = onehot_matrix(index, cfg.n, cfg.rows);
        if (cases[i].at == 2) /* the 1 of row 0 is at column 1 */
            onehot[1] = cases[i].value;
        else
            onehot[cases[i].at] = cases[i].value;
        invalid_case(file, ONEHOT, &cfg, onehot, "LMR_EDOMAIN");
        free(onehot);
    }
    onehot_split_rows(file);
}

static int gen_embed_onehot(const char *dir)
{
    gen_file file;
    gen_file_init(&file, "embed_onehot", "spec/embedding.md#onehot");
    common_notes(&file);
    int status = valid_cases(&file, ONEHOT);
    onehot_errors(&file);
    table_errors(&file, ONEHOT);
    size_errors(&file, ONEHOT);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* The vector files this file writes (gen_ops.h). */
const gen_entry gen_embed_files[] = {
    {"embed_lookup", gen_embed_lookup},
    {"pos_learned", gen_pos_learned},
    {"embed_onehot", gen_embed_onehot},
    {NULL, NULL},
};
