/*
 * gen_ops.h -- the generators: one function per vector file, each building
 * its cases, asking the oracle for every expected value and scale, and
 * writing dir/<file>.json (returns 0, or -1 after printing an error).
 *
 * Each gen_<family>.c keeps its generators static and lists them, by vector
 * file, in its table gen_<family>_files[]; gen_ops.c collects the tables,
 * and main.c runs, for every vector file the op table (op_table.h) names,
 * the generator of that file. Adding an op to a family: a generator and a
 * row in that family's table. Adding a family: a new file, its table here
 * and in gen_ops.c.
 */
#ifndef LMR_GEN_OPS_H
#define LMR_GEN_OPS_H

#include <stddef.h>

typedef int (*gen_function)(const char *dir);

typedef struct {
    const char *file;   /* the vector file, without .json ("softmax_gpt2") */
    gen_function run;
} gen_entry;

/* The families' tables, each ended by {NULL, NULL}. */
extern const gen_entry gen_embed_files[];
extern const gen_entry gen_sinusoid_files[];
extern const gen_entry gen_compose_files[];
extern const gen_entry gen_layernorm_files[];
extern const gen_entry gen_head_files[];
extern const gen_entry gen_softmax_files[];
extern const gen_entry gen_loss_files[];
extern const gen_entry gen_sample_files[];
extern const gen_entry gen_lens_files[];
extern const gen_entry gen_params_files[];
extern const gen_entry gen_gpt2_files[];
extern const gen_entry gen_variants_files[];
extern const gen_entry gen_mixture_files[];
extern const gen_entry gen_grad_input_files[];
extern const gen_entry gen_grad_head_files[];
extern const gen_entry gen_grad_variants_files[];
extern const gen_entry gen_tied_lm_files[];
extern const gen_entry gen_attention_files[];
extern const gen_entry gen_pca_files[];
extern const gen_entry gen_linear_ce_files[];
extern const gen_entry gen_large_files[];

/* The generator of a vector file, or NULL. */
gen_function gen_find(const char *file);

/* Calls visit(file) for every file some family can generate; returns the
 * number of files. */
size_t gen_each_file(void (*visit)(const char *file, void *context),
                     void *context);

#endif
