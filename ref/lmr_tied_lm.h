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

#ifdef __cplusplus
extern "C" {
#endif

/* The model: X = E[ids] + P[0:n]; Z = LayerNorm(X) when gamma is given, else
 * X; H = Z M when M is given, else Z; logits = H E^T; loss = CE(logits). */
typedef struct {
    const int64_t *ids;     /* (n) */
    const int64_t *targets; /* (n) */
    const double *E;        /* (vocab,d) */
    const double *P;        /* (max_len,d), max_len >= n */
    const double *gamma;    /* (d), or NULL: no LayerNorm */
    const double *beta;     /* (d), with gamma */
    const double *M;        /* (d,d), or NULL: the identity */
    size_t n, vocab, d, max_len;
    double eps;
    enum lmr_reduction reduction; /* SUM or MEAN */
    int64_t ignore_index;
} lmr_tied_lm_model;

/* What lmr_tied_lm returns. dgamma and dbeta may be NULL without LayerNorm. */
typedef struct {
    double *loss;      /* (1) */
    double *dE;        /* (vocab,d): dE_input + dE_output */
    double *dE_input;  /* (vocab,d): the lookup's share */
    double *dE_output; /* (vocab,d): the head's share */
    double *dP;        /* (max_len,d) */
    double *dgamma;    /* (d) */
    double *dbeta;     /* (d) */
} lmr_tied_lm_grads;

/* Errors: those of the forward ops; LMR_EDOMAIN for reduction NONE;
 * LMR_EDIM for max_len < n. */
LMR_API
int lmr_tied_lm(const lmr_tied_lm_grads *out, const lmr_tied_lm_model *model);

#ifdef __cplusplus
}
#endif

#endif
