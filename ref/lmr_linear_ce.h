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
#include "lmr_status.h"
#include "lmr_view.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Rows of E per chunk of the vocabulary: the logits held at any time are
 * (n, LMR_LCE_CHUNK). */
#define LMR_LCE_CHUNK 256

/* Where lmr_linear_cross_entropy writes; shapes in the comments. */
typedef struct {
    lmr_vec_out loss; /* (n) for LMR_REDUCE_NONE, else (1) */
    lmr_mat_out dh;   /* (n,d) */
    lmr_mat_out dE;   /* (vocab,d), or the empty view: not wanted (the op's
                         return_dE false), neither computed nor written */
} lmr_linear_cross_entropy_outputs;

/*
 * The inputs and parameters of lmr_linear_cross_entropy: h (n,d), E
 * (vocab,d), targets (n), reduction, ignore_index.
 * Errors, in this order: LMR_EINVAL (a view with elements and no data);
 * LMR_EDIM (vocab or d is 0, E.cols != h.cols, targets.len != n);
 * LMR_EOVERFLOW (h, E, or one chunk of logits (n, LMR_LCE_CHUNK));
 * LMR_EDOMAIN (an unknown reduction, then an ignore_index in [0, vocab),
 * which would silently drop a real token); LMR_EINDEX (a target other than
 * ignore_index outside [0, vocab)); LMR_ENONFINITE (an entry of h, then E).
 * A masked target cannot occur: the logits are computed.
 */
LMR_API
enum lmr_status lmr_linear_cross_entropy_check(lmr_mat h, lmr_mat E,
                                               lmr_ids targets,
                                               enum lmr_reduction reduction,
                                               int64_t ignore_index);

/*
 * loss = cross_entropy(h E^T, targets; reduction, ignore_index). With D =
 * cross_entropy_backward's dlogits for the upstream gradient dloss ((n) for
 * NONE, else (1)): dh = D E and dE = D^T h, into out (shapes there).
 * Errors: those of lmr_linear_cross_entropy_check; then dloss (LMR_EINVAL,
 * LMR_EDIM for a length other than loss's, LMR_ENONFINITE); then LMR_EINVAL
 * (out NULL, or an output with elements and no data), LMR_EDIM (an output
 * not of its shape); LMR_ENOMEM; LMR_ERANGE for a logit that rounds to
 * +-inf. Writes nothing unless it returns LMR_OK.
 */
LMR_API
enum lmr_status lmr_linear_cross_entropy(
    const lmr_linear_cross_entropy_outputs *out, lmr_mat h, lmr_mat E,
    lmr_ids targets, lmr_vec dloss, enum lmr_reduction reduction,
    int64_t ignore_index);

#ifdef __cplusplus
}
#endif

#endif
