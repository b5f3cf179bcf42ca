/*
 * main.c -- lmr-gen: regenerates every golden-vector file.
 *
 * Usage: lmr-gen OUTDIR
 * Writes OUTDIR/<op>.json for every op (each atomically). The output depends
 * only on this program's source: inputs come from fixed seeds, expected values
 * from the MPFR oracle, so running it twice, or on another machine, gives the
 * same bytes.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <mpfr.h>

#include "gen_ops.h"

typedef int (*generator)(const char *dir);

static const struct {
    const char *op;
    generator run;
} generators[] = {
    {"embed_lookup", gen_embed_lookup},
    {"embed_onehot", gen_embed_onehot},
    {"pos_learned", gen_pos_learned},
    {"pos_sinusoid", gen_pos_sinusoid},
    {"compose", gen_compose},
    {"layernorm", gen_layernorm},
    {"compose_layernorm", gen_compose_layernorm},
    {"head_tied", gen_head_tied},
    {"head_untied", gen_head_untied},
    {"softmax", gen_softmax},
    {"log_softmax", gen_log_softmax},
    {"cross_entropy", gen_cross_entropy},
    {"argmax", gen_argmax},
    {"sample", gen_sample},
    {"logit_lens", gen_logit_lens},
    {"param_count", gen_param_count},
    {"head_tied_gpt2", gen_head_tied_gpt2},
    {"softmax_gpt2", gen_softmax_gpt2},
    {"cross_entropy_gpt2", gen_cross_entropy_gpt2},
    {"cross_entropy_backward_gpt2", gen_cross_entropy_backward_gpt2},
    {"head_partial", gen_head_partial},
    {"head_transformed", gen_head_transformed},
    {"head_adaptive", gen_head_adaptive},
    {"head_mlp", gen_head_mlp},
    {"mos_fixed", gen_mos_fixed},
    {"mos_gated", gen_mos_gated},
    {"soft_tie_loss", gen_soft_tie_loss},
    {"embed_lookup_backward", gen_embed_lookup_backward},
    {"pos_learned_backward", gen_pos_learned_backward},
    {"layernorm_backward", gen_layernorm_backward},
    {"head_tied_backward", gen_head_tied_backward},
    {"head_untied_backward", gen_head_untied_backward},
    {"softmax_backward", gen_softmax_backward},
    {"log_softmax_backward", gen_log_softmax_backward},
    {"cross_entropy_backward", gen_cross_entropy_backward},
    {"head_partial_backward", gen_head_partial_backward},
    {"head_transformed_backward", gen_head_transformed_backward},
    {"head_adaptive_backward", gen_head_adaptive_backward},
    {"head_mlp_backward", gen_head_mlp_backward},
    {"mos_fixed_backward", gen_mos_fixed_backward},
    {"mos_gated_backward", gen_mos_gated_backward},
    {"soft_tie_loss_backward", gen_soft_tie_loss_backward},
    {"tied_lm", gen_tied_lm},
};

int main(int argc, char **argv)
{
    size_t count = sizeof generators / sizeof generators[0];
    int failed = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: lmr-gen OUTDIR\n");
        return 2;
    }
    int show_progress = isatty(STDERR_FILENO);
    for (size_t i = 0; i < count; i++) {
        time_t start = time(NULL);
        if (show_progress)
            fprintf(stderr, "[%2zu/%zu] %-20s ...", i + 1, count, generators[i].op);
        if (generators[i].run(argv[1]) != 0) {
            fprintf(stderr, "lmr-gen: %s: generation failed\n", generators[i].op);
            failed = 1;
        }
        if (show_progress)
            fprintf(stderr, " %lds\n", (long)(time(NULL) - start));
    }
    mpfr_free_cache();
    return failed;
}
