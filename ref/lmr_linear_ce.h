/*
 * lmr_linear_ce.h -- the fused linear cross-entropy: the tied head, the
 * cross-entropy and their backward in one call, streaming over the
 * vocabulary without holding the (n, vocab) logits
 * (spec/linear_cross_entropy.md; vectors/linear_cross_entropy.json).
 *
 * Orientation as in lmr_head.h: h is (n,d), E is (vocab,d), u = h E^T.
 */
#ifndef LMR_LINEAR_CE_H
#define LMR_LINEAR_CE_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"
#include "lmr_softmax.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Rows of E per chunk of the vocabulary: the logits held at any time are
 * (n, LMR_LCE_CHUNK). */
#define LMR_LCE_CHUNK 256

/*
 * loss = cross_entropy(h E^T, targets; reduction, ignore_index): (n) for
 * LMR_REDUCE_NONE, else (1). With D = cross_entropy_backward's dlogits for
 * the upstream gradient dloss ((n) for NONE, else (1)):
 * dh = D E (n,d) and dE = D^T h (vocab,d); dE may be NULL (not wanted:
 * the op's return_dE false), and is then neither computed nor written.
 * h: (n,d); E: (vocab,d); targets: (n).
 * Errors: those of lmr_head_tied and lmr_cross_entropy (a masked target
 * cannot occur: the logits are computed), LMR_ENONFINITE for a NaN or
 * infinite dloss, LMR_ERANGE for a logit that rounds to +-inf, LMR_ENOMEM.
 * Writes nothing unless it returns LMR_OK.
 */
LMR_API
int lmr_linear_cross_entropy(double *loss, double *dh, double *dE,
                             const double *h, const double *E,
                             const int64_t *targets, const double *dloss,
                             size_t n, size_t vocab, size_t d,
                             enum lmr_reduction reduction,
                             int64_t ignore_index);

#ifdef __cplusplus
}
#endif

#endif
