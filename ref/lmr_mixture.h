/*
 * lmr_mixture.h -- internal to ref/: the fixed mixture of softmaxes's
 * forward quantities, computed once into the caller's scratch, shared by the
 * forward (lmr_variants.c) and the backward (lmr_grad_variants.c) so that the
 * backward differentiates the very log-probabilities the forward returned
 * instead of computing them a second time.
 */
#ifndef LMR_MIXTURE_H
#define LMR_MIXTURE_H

#include <stddef.h>

#include "lmr_status.h"
#include "lmr_view.h"

/* Scratch the caller owns, n = h.rows, K = W.count, vocab = W.cols. */
typedef struct {
    double *components; /* (K,n,vocab): log p_k = log_softmax(h W_k) */
    double *log_weight; /* (n,K): log(alpha_k / sum alpha), the same each row */
    double *probs;      /* (n,vocab): y = sum_k abar_k p_k */
    double *logprobs;   /* (n,vocab): log y, the largest term factored out */
} lmr_mos_fixed_parts;

/* Fills parts for arguments that passed lmr_mos_fixed_check; returns the
 * status of the heads and log-softmaxes it calls. */
enum lmr_status lmr_mos_fixed_compute(const lmr_mos_fixed_parts *parts,
                                      lmr_mat h, lmr_stack W, lmr_vec alpha);

#endif
