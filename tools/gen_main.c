/*
 * gen_main.c -- lmr-gen: regenerates every golden-vector file.
 *
 * Usage: lmr-gen OUTDIR
 * Writes OUTDIR/<op>.json for every op (each atomically). The output depends
 * only on this program's source: inputs come from fixed seeds, expected values
 * from the MPFR oracle, so running it twice, or on another machine, gives the
 * same bytes.
 */
#include <stdio.h>

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
};

int main(int argc, char **argv)
{
    size_t count = sizeof generators / sizeof generators[0];
    int failed = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: lmr-gen OUTDIR\n");
        return 2;
    }
    for (size_t i = 0; i < count; i++) {
        if (generators[i].run(argv[1]) != 0) {
            fprintf(stderr, "lmr-gen: %s: generation failed\n", generators[i].op);
            failed = 1;
        }
    }
    mpfr_free_cache();
    return failed;
}
