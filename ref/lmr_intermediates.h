/*
 * lmr_intermediates.h -- the intermediate quantities the reference computes
 * on its way to an op's outputs: LayerNorm's row statistics, softmax's row
 * maximum and sum, cross-entropy's per-row losses and gradient weights,
 * sampling's ranking, kept set and CDF, the logit lens's normalised states
 * and logits, and the parts the head variants combine.
 *
 * They are the reference's own numbers, not a second computation: each
 * forward (and backward) function of ref/ computes through the same helper
 * as the function here, so an intermediate printed from here equals, bit for
 * bit, the one the output was made from (tests/explain.c checks it on every
 * vector case). `lmr --explain` prints them. The functions validate their
 * inputs as the op does (spec/errors.md) and write nothing unless they
 * return LMR_OK. Implemented in the modules of their ops.
 */
#ifndef LMR_INTERMEDIATES_H
#define LMR_INTERMEDIATES_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"
#include "lmr_softmax.h"
#include "lmr_status.h"
#include "lmr_view.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- LayerNorm (lmr_layernorm.c) ----------------------------------------- */

/* The statistics of one row x (d) (spec/layernorm.md):
 *     var + eps = scale^2 (variance + eps / scale^2),
 * so for an ordinary row scale = 1 and variance is the biased variance
 * (1/d) sum_j (x_j - mean)^2; for a row whose deviations exceed 2^500 (which
 * would overflow when squared) scale is the largest |x_j - mean| and
 * variance that of the deviations divided by it. */
typedef struct {
    double mean;     /* mu = (1/d) sum_j x_j */
    double variance; /* of the deviations divided by scale; biased */
    double scale;    /* 1, or the largest deviation of a huge row */
    double inv_std;  /* r = 1/sqrt(var + eps) */
} lmr_layernorm_row;

/* The statistics of each row of x (n,d) into rows (n = x.rows), as
 * lmr_layernorm normalises them. Errors: those of lmr_layernorm_check for x
 * and eps (there is no gamma or beta), then LMR_EINVAL for a NULL rows with
 * n >= 1. */
LMR_API
enum lmr_status lmr_layernorm_stats(lmr_layernorm_row *rows, lmr_mat x,
                                    double eps);

/* z = (x - mean) r, the normalised value of x in a row with these
 * statistics; the forward writes gamma_j z_j + beta_j. */
LMR_API
double lmr_layernorm_normalised(double x, const lmr_layernorm_row *row);

/* ---- softmax, log-softmax, cross-entropy (lmr_softmax.c) ------------------ */

/* The statistics of one row u (vocab) under temperature tau. */
typedef struct {
    double max;     /* a = max_j u_j, finite */
    double sum;     /* S = sum_j exp((u_j - a) / tau), in [1, vocab] */
    double log_sum; /* log S */
} lmr_softmax_row;

/*
 * For each row u = logits[t,:] (logits (n,vocab)): its statistics into rows
 * (n), and, unless the view is empty, z_i = (u_i - a)/tau into shifted
 * (n,vocab) and exp(z_i) into exps (n,vocab). softmax is exps / S,
 * log-softmax z - log S, cross-entropy log S - z_target (tau = 1).
 * Errors: those of lmr_softmax_check; then LMR_EINVAL (rows NULL when n > 0,
 * shifted or exps with elements and no data), LMR_EDIM (shifted or exps
 * with elements, not of logits' shape).
 */
LMR_API
enum lmr_status lmr_softmax_stats(lmr_softmax_row *rows, lmr_mat_out shifted,
                                  lmr_mat_out exps, lmr_mat logits, double tau);

/* The cross-entropy of each row into losses (n): log S - z_{c_t}, 0 for a
 * row whose target is ignore_index; *counted = the number of other rows.
 * The reductions sum these in order (and the mean divides by *counted).
 * logits (n,vocab), targets (n). Errors: those of lmr_cross_entropy_check
 * (reduction LMR_REDUCE_NONE); then LMR_EINVAL (losses with elements and no
 * data, counted NULL), LMR_EDIM (losses not of length n). */
LMR_API
enum lmr_status lmr_cross_entropy_terms(lmr_vec_out losses, size_t *counted,
                                        lmr_mat logits, lmr_ids targets,
                                        int64_t ignore_index);

/* The weight w_t the backward of cross-entropy gives row t, into weights
 * (n): dloss[t] (NONE, dloss (n)), dloss[0] (SUM, dloss (1)), dloss[0] / m
 * (MEAN, m counted rows), 0 for an ignored row; *counted = m; targets (n).
 * The entries of targets and dloss are not checked (lmr_cross_entropy_
 * backward has). Errors, in this order: LMR_EINVAL (targets with elements
 * and no data); LMR_EOVERFLOW; LMR_EDOMAIN (unknown reduction); LMR_EINVAL,
 * then LMR_EDIM, for dloss (length n for NONE, else 1); LMR_EINVAL
 * (weights with elements and no data, counted NULL), LMR_EDIM (weights not
 * of length n). */
LMR_API
enum lmr_status lmr_cross_entropy_weights(lmr_vec_out weights, size_t *counted,
                                          lmr_ids targets, lmr_vec dloss,
                                          enum lmr_reduction reduction,
                                          int64_t ignore_index);

/* ---- sampling (lmr_sample.c) ------------------------------------------------ */

/* The unmasked tokens of one row of logits (vocab) in rank order (logit
 * descending, index ascending) into order (vocab): order[0..*ranked), the
 * rest untouched; *ranked = their number. lmr_argmax's token is order[0].
 * Errors: those of lmr_argmax_check for the row; then LMR_EINVAL (ranked
 * NULL, order with elements and no data), LMR_EDIM (order.len != vocab);
 * LMR_ENOMEM. */
LMR_API
enum lmr_status lmr_rank_tokens(lmr_ids_out order, size_t *ranked,
                                lmr_vec logits);

/* What lmr_sample does with one row. The caller provides the five arrays,
 * each a view of vocab entries; the function fills them and the counts. */
typedef struct {
    lmr_ids_out order;      /* the unmasked tokens in rank order,
                               order[0..ranked) */
    lmr_vec_out probs;      /* p = softmax(u / tau) */
    lmr_vec_out cumulative; /* top_p < 1: top-p's renormalised running sum
                               over the first m+1 ranked tokens, m < kept */
    lmr_vec_out kept_probs; /* q: p renormalised over the kept tokens, 0
                               elsewhere (lmr_sample's probs) */
    lmr_vec_out cdf;        /* C_i = the running sum of q in index order,
                               i <= token */
    size_t ranked;          /* the number of unmasked tokens */
    size_t top_k_kept; /* after top-k (ranked when top_k is 0 or >= ranked) */
    size_t kept;       /* after top-p */
    double top_k_mass; /* sum of p over the first top_k_kept ranked tokens */
    double kept_mass;  /* sum of p over the kept tokens (q's divisor) */
    int64_t token;     /* the smallest i with r < C_i (lmr_sample's token) */
} lmr_sample_trace;

/* Samples one row of logits (vocab) with uniform r as lmr_sample does,
 * recording its steps in trace. Errors: those of lmr_sample_check for the
 * row (r as one entry); then LMR_EINVAL (trace NULL, or one of its arrays
 * with elements and no data), LMR_EDIM (an array of trace not of vocab
 * entries); LMR_ENOMEM. */
LMR_API
enum lmr_status lmr_sample_row_trace(lmr_sample_trace *trace, lmr_vec logits,
                                     double r, double tau, int64_t top_k,
                                     double top_p);

/* ---- the logit lens (lmr_lens.c) --------------------------------------------- */

/* For each layer: x = hidden[l,:,:], LayerNorm'd into normalised
 * (layers,n,d) when gamma and beta are given (else copied), and the logits
 * u = x E^T into logits (layers,n,vocab), as lmr_logit_lens computes them
 * before ranking and the softmax. hidden (layers,n,d), E (vocab,d), gamma
 * and beta (d) or both empty.
 * Errors: those of lmr_logit_lens_check (with top_k = 1, always in range
 * once vocab >= 1); then LMR_EINVAL, LMR_EDIM for normalised and logits. */
LMR_API
enum lmr_status lmr_logit_lens_logits(lmr_stack_out normalised,
                                      lmr_stack_out logits, lmr_stack hidden,
                                      lmr_mat E, lmr_vec gamma, lmr_vec beta,
                                      double eps);

/* ---- the head variants (lmr_variants.c) ---------------------------------- */

/* Transformed tying's hidden state q = h T (n,d) into hT, which the tied
 * head then unembeds; h (n,d), T (d,d). Errors: those of lmr_head_untied,
 * and LMR_EDIM for a T that is not square. */
LMR_API
enum lmr_status lmr_head_transformed_hidden(lmr_mat_out hT, lmr_mat h,
                                            lmr_mat T);

/* Adaptive tying's two logits, tied = h E^T and untied = h F (n,vocab each),
 * which it mixes as alpha tied + (1 - alpha) untied. Errors: those of
 * lmr_head_adaptive_check without alpha, then the outputs'. */
LMR_API
enum lmr_status lmr_head_adaptive_parts(lmr_mat_out tied, lmr_mat_out untied,
                                        lmr_mat h, lmr_mat E, lmr_mat F);

/* The MLP head's pre-activation pre = h W1 + b1 and hidden = ReLU(pre),
 * (n,m) each; h (n,d), W1 (d,m), b1 (m) or lmr_vec_absent(). Errors: those
 * of lmr_head_untied; LMR_EDIM (m = 0). */
LMR_API
enum lmr_status lmr_head_mlp_hidden(lmr_mat_out pre, lmr_mat_out hidden,
                                    lmr_mat h, lmr_mat W1, lmr_vec b1);

/* The fixed mixture's weights as logs, log(alpha_k / sum_j alpha_j), into
 * log_weight (K), and each component's log softmax(h W_k) into components
 * (K,n,vocab); lmr_mos_fixed mixes them as log sum_k exp(log_weight_k +
 * components_k). Errors: those of lmr_mos_fixed. */
LMR_API
enum lmr_status lmr_mos_fixed_components(lmr_vec_out log_weight,
                                         lmr_stack_out components, lmr_mat h,
                                         lmr_stack W, lmr_vec alpha);

/* The gated mixture's weights as logs, log softmax(h W_pi), into log_pi
 * (n,K); h (n,d), W_pi (d,K). Errors: those of lmr_head_untied; LMR_EDIM
 * (K = 0). */
LMR_API
enum lmr_status lmr_mos_gated_weights(lmr_mat_out log_pi, lmr_mat h,
                                      lmr_mat W_pi);

#ifdef __cplusplus
}
#endif

#endif
