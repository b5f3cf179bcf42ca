/*
 * lmr_head.h -- the language-modeling head (spec/head.md;
 * vectors/head_tied.json, head_untied.json, head_tied_gpt2.json).
 */
#ifndef LMR_HEAD_H
#define LMR_HEAD_H

#include <stddef.h>

#include "lmr_api.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Tied head: logits[t,v] = sum_j h[t,j] * E[v,j], i.e. logits = h E^T, with
 * E the same (vocab,d) matrix as the token lookup, read in place.
 * logits is (n,vocab), h is (n,d), E is (vocab,d).
 * Errors: LMR_EDIM (d or vocab is 0), LMR_EOVERFLOW, LMR_ENONFINITE (h, E),
 * LMR_EINVAL (NULL array), LMR_ENOMEM (it allocates an (n,vocab) scratch
 * array, so that logits stays untouched until every row of E has passed).
 */
LMR_API
int lmr_head_tied(double *logits, const double *h, const double *E, size_t n,
                  size_t vocab, size_t d);

/*
 * Untied head: logits = h W + b. W is (d,vocab) -- the transpose of
 * PyTorch's nn.Linear(d, vocab).weight -- and bias is (vocab) or NULL.
 * logits is (n,vocab), h is (n,d).
 * Errors: as lmr_head_tied, plus LMR_ENONFINITE for W and bias.
 */
LMR_API
int lmr_head_untied(double *logits, const double *h, const double *W,
                    const double *bias, size_t n, size_t vocab, size_t d);

#ifdef __cplusplus
}
#endif

#endif
