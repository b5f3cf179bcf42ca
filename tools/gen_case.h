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

typedef struct {
    json_t *root;
    json_t *notes;
    json_t *cases;
    const char *op;
} gen_file;

typedef struct {
    gen_file *file;
    char id[160];
    const char *comment;
    json_t *flags, *params, *inputs, *expected, *tolerance, *source;
    const char *error;           /* invalid cases: status name */
    unsigned fits;               /* classes whose range holds every value */
    int inputs_exact_16;         /* every real input exact in bf16 and fp16 */
    int has_real_input;
} gen_case;

/* A new file for op, documented in spec_ref (e.g. "spec/sinusoid.md"). */
void gen_file_init(gen_file *file, const char *op, const char *spec_ref);
/* Explains a flag in the file's notes dictionary. */
void gen_note(gen_file *file, const char *flag, const char *meaning);
/* Writes the file to dir/<op>.json; 0, or -1 after printing the error. */
int gen_file_write(gen_file *file, const char *dir);
void gen_file_free(gen_file *file);

/* Opens a case with id "<op>/<slug>". */
void gen_case_begin(gen_case *c, gen_file *file, const char *slug,
                    const char *comment);
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
/* An expected output (rows, cols) or (rows) with its K and per-element scales. */
void gen_expect(gen_case *c, const char *name, size_t rows, size_t cols,
                const double *data, double k, const double *scale);
/* Marks the case invalid: implementations must reject it. */
void gen_invalid(gen_case *c, const char *status_name);
/* Appends the case to its file. */
void gen_case_end(gen_case *c);

#endif
