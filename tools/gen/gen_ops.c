/* gen_ops.c -- the families' tables of generators, collected (gen_ops.h). */
#include "gen_ops.h"

#include <string.h>

static const gen_entry *const families[] = {
    gen_embed_files, gen_sinusoid_files, gen_compose_files,
    gen_layernorm_files, gen_head_files, gen_softmax_files, gen_loss_files,
    gen_sample_files, gen_lens_files, gen_params_files, gen_gpt2_files,
    gen_variants_files, gen_mixture_files, gen_grad_input_files,
    gen_grad_head_files, gen_grad_variants_files, gen_tied_lm_files,
    gen_attention_files,
    gen_pca_files,
    gen_linear_ce_files, gen_large_files,
};

#define FAMILY_COUNT (sizeof families / sizeof families[0])

gen_function gen_find(const char *file)
{
    for (size_t f = 0; f < FAMILY_COUNT; f++)
        for (const gen_entry *entry = families[f]; entry->file; entry++)
            if (strcmp(entry->file, file) == 0)
                return entry->run;
    return NULL;
}

size_t gen_each_file(void (*visit)(const char *file, void *context),
                     void *context)
{
    size_t count = 0;
    for (size_t f = 0; f < FAMILY_COUNT; f++)
        for (const gen_entry *entry = families[f]; entry->file; entry++, count++)
            if (visit != NULL)
                visit(entry->file, context);
    return count;
}
