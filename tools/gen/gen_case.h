/*
 * gen_case.h -- building one vector file case by case (used by the generator).
 *
 * A gen_file collects cases for one op; gen_case_begin() opens a case,
 * gen_param_* / gen_input_* / gen_expect() / gen_invalid() fill it, and
 * gen_case_end() appends it, deciding which precision classes it applies to
 * (spec/tolerance.md) and whether its inputs are exact in bf16 and fp16.
 */
#ifndef LMR_GEN_CASE_H
#define LMR_GEN_CASE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "oracle_head.h"

typedef struct {
    json_t *root;
    json_t *notes;
    json_t *cases;
    const char *op;
    const char *stem;  /* the file is <stem>.json; the op's name by default */
} gen_file;

typedef struct {
    gen_file *file;
    char id[160];
    const char *comment;
    json_t *flags, *params, *inputs, *expected, *tolerance, *source;
    const char *error;           /* invalid cases: status name */
    unsigned fits;               /* classes whose range holds every value */
    unsigned allowed;            /* classes not excluded by gen_restrict_classes */
    int inputs_exact_16;         /* every real input exact in bf16 and fp16 */
    int has_real_input;
} gen_case;

/* A new file for op, documented in spec_ref (e.g. "spec/sinusoid.md"). */
void gen_file_init(gen_file *file, const char *op, const char *spec_ref);
/* Writes the file as <stem>.json instead of <op>.json (large variants). */
void gen_file_rename(gen_file *file, const char *stem);
/* Explains a flag in the file's notes dictionary. */
void gen_note(gen_file *file, const char *flag, const char *meaning);
/* Writes the file to dir/<op>.json; 0, or -1 after printing the error.
 * With dir = gen_capture_dir the file is kept in memory instead, for
 * gen_take_captured. */
int gen_file_write(gen_file *file, const char *dir);
extern const char gen_capture_dir[];
/* The JSON of the last file written to gen_capture_dir (the caller's
 * reference), or NULL; the next call returns NULL. */
json_t *gen_take_captured(void);
void gen_file_free(gen_file *file);

/* Opens a case with id "<op>/<slug>". */
void gen_case_begin(gen_case *c, gen_file *file, const char *slug,
                    const char *comment);
/* gen_case_begin for a random case: flag "random", its source (seed and
 * recipe), and flag (when not NULL). */
void gen_case_begin_random(gen_case *c, gen_file *file, const char *slug,
                           const char *comment, const char *flag,
                           unsigned long seed, const char *recipe);
void gen_flag(gen_case *c, const char *flag);
void gen_param_int(gen_case *c, const char *name, int64_t value);
void gen_param_double(gen_case *c, const char *name, double value);
void gen_param_bool(gen_case *c, const char *name, int value);
void gen_param_string(gen_case *c, const char *name, const char *value);
/* Records how random inputs were drawn: GSL mt19937 with seed. */
void gen_source(gen_case *c, unsigned long seed, const char *recipe);
/* Pass GEN_1D as cols for a 1-D array of length rows. */
#define GEN_1D ((size_t)-1)

/* Inputs: data is row-major with shape (rows, cols), or (rows) for GEN_1D. */
void gen_input_f64(gen_case *c, const char *name, size_t rows, size_t cols,
                   const double *data);
void gen_input_i64(gen_case *c, const char *name, size_t rows, size_t cols,
                   const int64_t *data);
/* A float64 input given by its recipe (spec/format.md#generated-inputs):
 * data (rows, cols) must be what recipe_dyadic(seed, bits, shift) makes;
 * the file gets the recipe and the checksum, not the values. */
void gen_input_recipe(gen_case *c, const char *name, size_t rows, size_t cols,
                      const double *data, uint64_t seed, int bits, int shift);
/* Any shape (ndim <= 4): the 1-D/2-D functions above and below are
 * shorthands for these. */
void gen_input_f64_nd(gen_case *c, const char *name, size_t ndim,
                      const size_t *shape, const double *data);
void gen_expect_nd(gen_case *c, const char *name, size_t ndim,
                   const size_t *shape, const double *data, double k,
                   const double *scale);
void gen_expect_i64_nd(gen_case *c, const char *name, size_t ndim,
                       const size_t *shape, const int64_t *data, json_t *accept);
/* An expected output (rows, cols) or (rows) with its K and per-element scales. */
void gen_expect(gen_case *c, const char *name, size_t rows, size_t cols,
                const double *data, double k, const double *scale);
/* An exact int64 output (rows, cols) or (rows); accept (may be NULL, and is
 * taken over) lists other acceptable values per class (spec/format.md). */
void gen_expect_i64(gen_case *c, const char *name, size_t rows, size_t cols,
                    const int64_t *data, json_t *accept);
/* The "accept" list of an index output from the oracle's choices
 * (count elements x ORACLE_CLASS_COUNT classes): one entry per element and
 * set of alternatives, naming the classes it applies to. */
json_t *gen_accept_json(const oracle_choices *choices, size_t count);
/* Removes classes from the case (e.g. those in which a sampled case is
 * truncation-sensitive): keeps only the bits set in classes. */
void gen_restrict_classes(gen_case *c, unsigned classes);
/* Marks the case invalid: implementations must reject it. */
void gen_invalid(gen_case *c, const char *status_name);
/* Appends the case to its file. */
void gen_case_end(gen_case *c);

#endif
