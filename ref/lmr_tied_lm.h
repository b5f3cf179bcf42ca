/*
 * lmr_tied_lm.h -- the two ends of a tied language model, forward and
 * backward, with the tied matrix's gradient split by path
 * (spec/gradients.md#tied_lm; vectors/tied_lm.json).
 */
#ifndef LMR_TIED_LM_H
#define LMR_TIED_LM_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"
#include "lmr_softmax.h"
#include "lmr_status.h"
#include "lmr_view.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What sits between the (normalised) input and the head. */
enum lmr_middle {
    LMR_MIDDLE_IDENTITY = 0, /* H = Z; M is empty */
    LMR_MIDDLE_MATRIX = 1    /* H = Z M; M is d x d */
};

/* The model: X = E[ids] + P[0:n]; Z = LayerNorm(X) when gamma is given, else
 * X; H = Z M with middle MATRIX, Z with IDENTITY; logits = H E^T;
 * loss = CE(logits).
 * n comes from ids, vocab and d from E, max_len from P. */
typedef struct {
    lmr_ids ids;                  /* (n) */
    lmr_ids targets;              /* (n) */
    lmr_mat E;                    /* (vocab,d) */
    lmr_mat P;                    /* (max_len,d), max_len >= n */
    lmr_vec gamma;                /* (d), or empty: no LayerNorm */
    lmr_vec beta;                 /* (d) with gamma, else empty */
    lmr_mat M;                    /* (d,d) with middle MATRIX, else empty */
    double eps;                   /* LayerNorm's (read only with gamma) */
    enum lmr_reduction reduction; /* SUM or MEAN */
    int64_t ignore_index;
    enum lmr_middle middle; /* IDENTITY (the zero value) or MATRIX */
} lmr_tied_lm_model;

/* What lmr_tied_lm returns. dgamma and dbeta are empty without LayerNorm. */
typedef struct {
    lmr_vec_out loss;      /* (1) */
    lmr_mat_out dE;        /* (vocab,d): dE_input + dE_output */
    lmr_mat_out dE_input;  /* (vocab,d): the lookup's share */
    lmr_mat_out dE_output; /* (vocab,d): the head's share */
    lmr_mat_out dP;        /* (max_len,d) */
    lmr_vec_out dgamma;    /* (d) */
    lmr_vec_out dbeta;     /* (d) */
} lmr_tied_lm_grads;

/*
 * The model's inputs and parameters.
 * Errors, in this order: LMR_EINVAL (model NULL, or a view with elements
 * and no data); LMR_EDIM (vocab or d is 0, targets.len != n, P.cols != d,
 * max_len < n, gamma or beta not of length d while the other is given, M
 * not d x d with middle MATRIX, M not empty with IDENTITY); LMR_EOVERFLOW
 * (an input, or the (n,vocab) logits); eps as lmr_layernorm (with
 * LayerNorm); LMR_EDOMAIN (middle unknown; reduction NONE or unknown: the
 * op needs a scalar loss; ignore_index in [0, vocab));
 * LMR_EINDEX (an id, then a target other than ignore_index, outside
 * [0, vocab)); LMR_ENONFINITE (an entry of E, P (every row, read or not),
 * gamma, beta, then M).
 */
LMR_API
enum lmr_status lmr_tied_lm_check(const lmr_tied_lm_model *model);

/* The loss and the gradients into out (shapes there).
 * Errors: those of lmr_tied_lm_check; then LMR_EINVAL (out NULL, or a view
 * of out with elements and no data), LMR_EDIM (a view of out not of its
 * shape; dgamma, dbeta empty exactly when there is no LayerNorm);
 * LMR_ENOMEM; and whatever the forward ops meet on computed values (an
 * overflowing sum is LMR_ENONFINITE or LMR_ERANGE as they report it). */
LMR_API
enum lmr_status lmr_tied_lm(const lmr_tied_lm_grads *out,
                            const lmr_tied_lm_model *model);

#ifdef __cplusplus
}
#endif

#endif
