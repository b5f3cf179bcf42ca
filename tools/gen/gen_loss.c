/*
 * gen_loss.c -- cases for cross_entropy (spec/softmax.md#cross_entropy):
 * every reduction, ignored targets, a custom ignore_index, the all-ignored
 * mean (NaN), a masked target (+inf), huge logits, logits of +-1000 (in
 * every class), empty batches.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_case.h"
#include "gen_ops.h"
#include "gen_random.h"
#include "oracle_head.h"

static const char *const reduction_names[] = {"none", "sum", "mean"};

typedef struct {
    const char *slug, *comment, *flag;
    size_t n, vocab;
    const double *logits;   /* (n, vocab) */
    const int64_t *targets; /* (n) */
    int64_t ignore_index;
    enum oracle_reduction reduction;
    unsigned long seed;     /* 0: hand-written */
} loss_config;

static int loss_case(gen_file *file, const loss_config *cfg)
{
    gen_case c;
    double k;
    size_t outputs = cfg->reduction == ORACLE_REDUCE_NONE ? cfg->n : 1;
    double *loss = calloc(outputs + 1, sizeof(double));
    double *scale = calloc(outputs + 1, sizeof(double));
    int status = oracle_cross_entropy(loss, scale, &k, cfg->logits,
                                      cfg->targets, cfg->n, cfg->vocab,
                                      cfg->reduction, cfg->ignore_index);
    if (status == 0) {
        gen_case_begin(&c, file, cfg->slug, cfg->comment);
        gen_flag(&c, cfg->seed ? "random" : "edge");
        if (cfg->seed)
            gen_source(&c, cfg->seed, "logits: k/16, k uniform in [-255, "
                       "255]; then targets uniform in [0, |V|)");
        if (cfg->flag)
            gen_flag(&c, cfg->flag);
        gen_param_string(&c, "reduction", reduction_names[cfg->reduction]);
        gen_param_int(&c, "ignore_index", cfg->ignore_index);
        gen_input_f64(&c, "logits", cfg->n, cfg->vocab, cfg->logits);
        gen_input_i64(&c, "targets", cfg->n, GEN_1D, cfg->targets);
        gen_expect(&c, "loss", outputs, GEN_1D, loss, k, scale);
        gen_case_end(&c);
    } else {
        fprintf(stderr, "lmr-gen: cross_entropy/%s: oracle failed\n", cfg->slug);
    }
    free(loss);
    free(scale);
    return status;
}

/* Random logits (n, vocab) and targets; a few targets set to ignore. */
static int random_cases(gen_file *file)
{
    enum { N = 6, VOCAB = 10 };
    double logits[N * VOCAB];
    int64_t targets[N];
    gsl_rng *rng = gen_rng(7001);
    gen_dyadic(rng, logits, N * VOCAB, 4, 255);
    gen_ids(rng, targets, N, VOCAB);
    gsl_rng_free(rng);
    targets[1] = -100;
    targets[4] = -100;
    static const char *const slugs[] = {"random-none", "random-sum", "random-mean"};
    int status = 0;
    for (int r = 0; r < 3 && status == 0; r++) {
        loss_config cfg = {slugs[r], "6 positions, 2 of them ignored (-100)",
                           "ignored", N, VOCAB, logits, targets, -100,
                           (enum oracle_reduction)r, 7001};
        status = loss_case(file, &cfg);
    }
    return status;
}

static int hand_cases(gen_file *file)
{
    static const double logits[] = {2.0, 1.0, 0.5,  -1.0, 0.0, 3.0,
                                    0.0, 0.0, 0.0,  1e300, -1e300, 0.0};
    /* Rows of +-1000: exp(1000) overflows in every format, so a loss
     * without the max subtraction is inf or NaN, yet the logits and the
     * loss 2000 fit binary16 (65504): these cases reach every class. */
    static const double large[] = {2.0, 1.0, 0.5,  -1.0, 0.0, 3.0,
                                   1000.0, -1000.0, 0.0,  -1000.0, 1000.0, 0.0};
    static const double masked[] = {0.0, -INFINITY, 1.0,  0.5, 0.25, -INFINITY};
    static const int64_t all_ignored[] = {-100, -100, -100, -100};
    static const int64_t custom[] = {0, -1, 2, -1};
    static const int64_t some[] = {0, 2, 1, 0};
    static const int64_t masked_target[] = {1, 0};
    static const int64_t large_all[] = {0, 2, 1, 1}, large_some[] = {0, -100, 1, 1};
    /* The rows of `logits` with the +-1e300 row replaced by moderate values,
     * so that these cases reach every class (issue 12: the all-ignored
     * mean, a custom ignore_index and a tie at the maximum were fp64-only). */
    static const double moderate[] = {2.0, 1.0, 0.5,  -1.0, 0.0, 3.0,
                                      0.0, 0.0, 0.0,  1.5, -1.5, 0.0};
    /* Rows with a single unmasked entry; the second's logit lies far below
     * the -10000 some masks use instead of -inf. */
    static const double one_unmasked[] = {-INFINITY, 0.5, -INFINITY,
                                          -INFINITY, -30000.0, -INFINITY};
    static const int64_t one_unmasked_targets[] = {1, 1};
    static const double single[] = {3.5, -2.25, 0.0};
    static const int64_t single_targets[] = {0, 0, -100};
    loss_config list[] = {
        {"mean-all-ignored", "every target ignored: the mean is NaN (0/0)",
         "all_ignored", 4, 3, logits, all_ignored, -100, ORACLE_REDUCE_MEAN, 0},
        {"sum-all-ignored", "every target ignored: the sum is 0", "all_ignored",
         4, 3, logits, all_ignored, -100, ORACLE_REDUCE_SUM, 0},
        {"none-all-ignored", "every target ignored: zeros", "all_ignored",
         4, 3, logits, all_ignored, -100, ORACLE_REDUCE_NONE, 0},
        {"custom-ignore-index", "ignore_index = -1; mean over the 2 counted",
         "ignored", 4, 3, logits, custom, -1, ORACLE_REDUCE_MEAN, 0},
        {"huge-logits", "a row with +-1e300: loss 0 or 2e300 exactly as the "
         "reals say", "wide_range", 4, 3, logits, some, -100,
         ORACLE_REDUCE_NONE, 0},
        {"large-logits", "rows of +-1000: losses 2000 and 0 (exp(1000) "
         "overflows without the max subtraction)", "large_logits", 4, 3,
         large, large_all, -100, ORACLE_REDUCE_NONE, 0},
        {"large-logits-sum", "rows of +-1000, one target ignored: the sum",
         "large_logits", 4, 3, large, large_some, -100, ORACLE_REDUCE_SUM, 0},
        {"large-logits-mean", "rows of +-1000, one target ignored: the mean "
         "over the 3 counted", "large_logits", 4, 3, large, large_some, -100,
         ORACLE_REDUCE_MEAN, 0},
        {"masked-target", "the target's logit is -inf: loss +inf",
         "masked", 2, 3, masked, masked_target, -100, ORACLE_REDUCE_NONE, 0},
        {"masked-target-mean", "an infinite loss makes the mean +inf",
         "masked", 2, 3, masked, masked_target, -100, ORACLE_REDUCE_MEAN, 0},
        {"empty-batch-mean", "n = 0: the mean is NaN", "empty", 0, 3, logits,
         some, -100, ORACLE_REDUCE_MEAN, 0},
        {"empty-batch-sum", "n = 0: the sum is 0", "empty", 0, 3, logits, some,
         -100, ORACLE_REDUCE_SUM, 0},
        {"mean-all-ignored-moderate", "every target ignored, moderate logits "
         "(every class): the mean is NaN", "all_ignored", 4, 3, moderate,
         all_ignored, -100, ORACLE_REDUCE_MEAN, 0},
        {"none-all-ignored-moderate", "every target ignored, moderate logits: "
         "zeros", "all_ignored", 4, 3, moderate, all_ignored, -100,
         ORACLE_REDUCE_NONE, 0},
        {"custom-ignore-index-moderate", "ignore_index = -1 in every class; "
         "the sum over the 2 counted (row 2 is a three-way tie)", "ignored", 4,
         3, moderate, custom, -1, ORACLE_REDUCE_SUM, 0},
        {"custom-ignore-index-none", "ignore_index = -1, reduction none: 0 at "
         "the ignored rows", "ignored", 4, 3, moderate, custom, -1,
         ORACLE_REDUCE_NONE, 0},
        {"one-unmasked", "rows with one unmasked entry, the target: loss 0 (the "
         "second row's logit -30000 is below a -10000 mask)", "masked", 2, 3,
         one_unmasked, one_unmasked_targets, -100, ORACLE_REDUCE_NONE, 0},
        {"single-token", "|V| = 1: every counted loss is 0; the mean over 2",
         "edge_shape", 3, 1, single, single_targets, -100, ORACLE_REDUCE_MEAN, 0},
    };
    int status = 0;
    for (size_t i = 0; i < sizeof list / sizeof list[0] && status == 0; i++)
        status = loss_case(file, &list[i]);
    return status;
}

static void invalid_loss(gen_file *file, const char *slug, const char *comment,
                         const int64_t *targets, size_t n_targets,
                         int64_t ignore_index, const char *reduction,
                         const char *status_name)
{
    static const double logits[] = {2.0, 1.0, 0.5, -1.0, 0.0, 3.0}; /* (2, 3) */
    gen_case c;
    gen_case_begin(&c, file, slug, comment);
    gen_flag(&c, "edge");
    gen_param_string(&c, "reduction", reduction);
    gen_param_int(&c, "ignore_index", ignore_index);
    gen_input_f64(&c, "logits", 2, 3, logits);
    gen_input_i64(&c, "targets", n_targets, GEN_1D, targets);
    gen_invalid(&c, status_name);
    gen_case_end(&c);
}

/* An invalid case whose second row holds bad (a NaN or +inf). */
static void invalid_logits(gen_file *file, const char *slug,
                           const char *comment, double bad,
                           const char *status_name)
{
    double logits[] = {2.0, 1.0, 0.5, -1.0, bad, 3.0}; /* (2, 3) */
    static const int64_t targets[] = {0, 2};
    gen_case c;
    gen_case_begin(&c, file, slug, comment);
    gen_flag(&c, "edge");
    gen_param_string(&c, "reduction", "mean");
    gen_param_int(&c, "ignore_index", -100);
    gen_input_f64(&c, "logits", 2, 3, logits);
    gen_input_i64(&c, "targets", 2, GEN_1D, targets);
    gen_invalid(&c, status_name);
    gen_case_end(&c);
}

static void invalid_cases(gen_file *file)
{
    static const int64_t too_large[] = {0, 3}, negative[] = {-5, 1};
    static const int64_t good[] = {0, 1}, one[] = {0};
    invalid_loss(file, "target-equal-to-vocab", "target 3 with |V| = 3",
                 too_large, 2, -100, "mean", "LMR_EINDEX");
    invalid_loss(file, "target-negative", "target -5, not the ignore_index",
                 negative, 2, -100, "mean", "LMR_EINDEX");
    invalid_loss(file, "ignore-index-in-range", "ignore_index 1 would drop "
                 "a real token", good, 2, 1, "mean", "LMR_EDOMAIN");
    invalid_loss(file, "unknown-reduction", "reduction \"avg\"", good, 2,
                 -100, "avg", "LMR_EDOMAIN");
    invalid_loss(file, "targets-length", "one target for two rows", one, 1,
                 -100, "sum", "LMR_EDIM");
    invalid_logits(file, "nan-logit", "a NaN logit", NAN, "LMR_ENONFINITE");
    invalid_logits(file, "plus-infinity", "+inf is not a logit", INFINITY,
                   "LMR_ENONFINITE");
}

static int gen_cross_entropy(const char *dir)
{
    gen_file file;
    gen_file_init(&file, "cross_entropy", "spec/softmax.md#cross_entropy");
    gen_note(&file, "ignored", "some targets equal ignore_index");
    gen_note(&file, "all_ignored", "every target equals ignore_index");
    gen_note(&file, "wide_range", "logits near the ends of the double range");
    gen_note(&file, "large_logits", "logits of +-1000: exp overflows in "
             "every format without the max subtraction; the values fit "
             "binary16");
    gen_note(&file, "masked", "-inf logits (masked tokens), the target's or others'");
    gen_note(&file, "edge_shape", "a vocabulary of one token");
    gen_note(&file, "empty", "an empty batch (n = 0)");
    int status = random_cases(&file);
    if (status == 0)
        status = hand_cases(&file);
    invalid_cases(&file);
    if (status == 0)
        status = gen_file_write(&file, dir);
    gen_file_free(&file);
    return status;
}

/* The vector files this file writes (gen_ops.h). */
const gen_entry gen_loss_files[] = {
    {"cross_entropy", gen_cross_entropy},
    {NULL, NULL},
};
