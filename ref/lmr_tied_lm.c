/*
 * lmr_tied_lm.c -- the two ends of a tied language model, forward and
 * backward, with the tied matrix's gradient split by path
 * (spec/gradients.md#tied_lm).
 *
 * Method. Nothing new: the forward is lmr_compose (X = E[ids] + P[0:n]),
 * lmr_layernorm, lmr_head_untied (H = Z M), lmr_head_tied (u = H E^T) and
 * lmr_cross_entropy; the backward runs their backward ops in reverse order
 * with upstream gradient 1 on the loss:
 *     dU = cross-entropy backward,  (dH, dE_output) = tied head backward,
 *     dZ = dH M^T,  dX = LayerNorm backward of dZ,
 *     dE_input = scatter-add of dX by ids,  dP[0:n] = dX,
 *     dE = dE_input + dE_output.
 * E reaches the loss twice, through the lookup and through the head; the two
 * shares are kept apart so that a caller can see which one is missing.
 *
 * Everything is computed in scratch arrays and copied out at the end:
 * nothing is written unless lmr_tied_lm returns LMR_OK.
 */
#include "lmr_tied_lm.h"

#include <stdlib.h>
#include <string.h>

#include "lmr_compose.h"
#include "lmr_grad_head.h"
#include "lmr_grad_input.h"
#include "lmr_head.h"
#include "lmr_layernorm.h"
#include "lmr_status.h"

/* The scratch arrays of one call. */
typedef struct {
    double *X;         /* (n,d): E[ids] + P[0:n] */
    double *Z;         /* (n,d): LayerNorm(X) */
    double *H;         /* (n,d): Z M */
    double *logits;    /* (n,vocab): H E^T */
    double *dlogits;   /* (n,vocab) */
    double *dH;        /* (n,d) */
    double *dZ;        /* (n,d) */
    double *dX;        /* (n,d) */
    double *dE_input;  /* (vocab,d) */
    double *dE_output; /* (vocab,d) */
    double *dgamma;    /* (d) */
    double *dbeta;     /* (d) */
    double *dM_unused; /* (d,d) */
    double *db_unused; /* (d) */
    double loss;
} tied_lm_scratch;

enum { SCRATCH_ARRAYS = 14 };

/* Points every array of s at one of arrays[] (SCRATCH_ARRAYS entries). */
static void scratch_assign(tied_lm_scratch *s, double **arrays)
{
    double **fields[SCRATCH_ARRAYS] = {
        &s->X,  &s->Z,        &s->H,         &s->logits, &s->dlogits,
        &s->dH, &s->dZ,       &s->dX,        &s->dE_input, &s->dE_output,
        &s->dgamma, &s->dbeta, &s->dM_unused, &s->db_unused};
    for (size_t i = 0; i < SCRATCH_ARRAYS; i++)
        *fields[i] = arrays[i];
}

/* Allocates arrays[] (SCRATCH_ARRAYS) with the sizes of tied_lm_scratch,
 * zeroed; LMR_ENOMEM (and nothing left allocated) on failure. */
static int scratch_alloc(double **arrays, const lmr_tied_lm_model *model)
{
    size_t n = model->n, vocab = model->vocab, d = model->d;
    const size_t counts[SCRATCH_ARRAYS] = {
        n * d, n * d, n * d, n * vocab, n * vocab, n * d, n * d, n * d,
        vocab * d, vocab * d, d, d, d * d, d};
    int failed = 0;
    for (size_t i = 0; i < SCRATCH_ARRAYS; i++) {
        arrays[i] = calloc(counts[i] ? counts[i] : 1, sizeof(double));
        failed |= arrays[i] == NULL;
    }
    if (!failed)
        return LMR_OK;
    for (size_t i = 0; i < SCRATCH_ARRAYS; i++)
        free(arrays[i]);
    return LMR_ENOMEM;
}

/* Pointers, the reduction, max_len >= n, and every size product. */
static int check_tied_lm(const lmr_tied_lm_grads *out,
                         const lmr_tied_lm_model *model)
{
    size_t count;
    if (out == NULL || model == NULL || out->loss == NULL || out->dE == NULL ||
        out->dE_input == NULL || out->dE_output == NULL || out->dP == NULL)
        return LMR_EINVAL;
    if (model->gamma != NULL &&
        (model->beta == NULL || out->dgamma == NULL || out->dbeta == NULL))
        return LMR_EINVAL;
    if (model->reduction != LMR_REDUCE_SUM &&
        model->reduction != LMR_REDUCE_MEAN)
        return LMR_EDOMAIN; /* NONE: the op needs a scalar loss */
    if (model->max_len < model->n)
        return LMR_EDIM;
    size_t n = model->n, vocab = model->vocab, d = model->d;
    if (lmr_array_count(&count, n, d) != LMR_OK ||
        lmr_array_count(&count, n, vocab) != LMR_OK ||
        lmr_array_count(&count, vocab, d) != LMR_OK ||
        lmr_array_count(&count, model->max_len, d) != LMR_OK ||
        lmr_array_count(&count, d, d) != LMR_OK)
        return LMR_EOVERFLOW;
    return LMR_OK;
}

/* The forward pass into s: X, Z, H, logits and the loss. With no LayerNorm
 * Z is X, with no M H is Z (the same arrays). Validates every input. */
static int tied_lm_forward(tied_lm_scratch *s, const lmr_tied_lm_model *m)
{
    lmr_positions positions = {.kind = LMR_POSITIONS_LEARNED, .table = m->P,
                               .max_len = m->max_len, .width = m->d,
                               .start = 0, .scale_by_sqrt_d = 0};
    int status = lmr_compose(s->X, m->E, m->ids, &positions, m->n, m->vocab,
                             m->d);
    if (m->gamma == NULL)
        s->Z = s->X;
    else if (status == LMR_OK)
        status = lmr_layernorm(s->Z, s->X, m->gamma, m->beta, m->n, m->d,
                               m->eps);
    if (m->M == NULL)
        s->H = s->Z;
    else if (status == LMR_OK)
        status = lmr_head_untied(lmr_mat_out_of(s->H, m->n, m->d),
                                 lmr_mat_of(s->Z, m->n, m->d),
                                 lmr_mat_of(m->M, m->d, m->d), lmr_vec_absent());
    if (status == LMR_OK) /* the tied head: the same E as the lookup */
        status = lmr_head_tied(lmr_mat_out_of(s->logits, m->n, m->vocab),
                               lmr_mat_of(s->H, m->n, m->d),
                               lmr_mat_of(m->E, m->vocab, m->d));
    if (status == LMR_OK)
        status = lmr_cross_entropy(lmr_vec_out_of(&s->loss, 1),
                                   lmr_mat_of(s->logits, m->n, m->vocab),
                                   lmr_ids_of(m->targets, m->n), m->reduction,
                                   m->ignore_index);
    return status;
}

/* The backward pass into s, from the forward values in s. */
static int tied_lm_backward(tied_lm_scratch *s, const lmr_tied_lm_model *m)
{
    const double one = 1.0; /* dL/dL */
    int status = lmr_cross_entropy_backward(
        lmr_mat_out_of(s->dlogits, m->n, m->vocab),
        lmr_mat_of(s->logits, m->n, m->vocab), lmr_ids_of(m->targets, m->n),
        lmr_vec_of(&one, 1), m->reduction, m->ignore_index);
    if (status == LMR_OK) /* dH = dU E; the head's share dE_output = dU^T H */
        status = lmr_head_tied_backward(
            lmr_mat_out_of(s->dH, m->n, m->d),
            lmr_mat_out_of(s->dE_output, m->vocab, m->d),
            lmr_mat_of(s->H, m->n, m->d), lmr_mat_of(m->E, m->vocab, m->d),
            lmr_mat_of(s->dlogits, m->n, m->vocab));
    if (m->M == NULL)
        s->dZ = s->dH;
    else if (status == LMR_OK) /* dZ = dH M^T; M gets no gradient */
        status = lmr_head_untied_backward(
            lmr_mat_out_of(s->dZ, m->n, m->d),
            lmr_mat_out_of(s->dM_unused, m->d, m->d),
            lmr_vec_out_of(s->db_unused, m->d), lmr_mat_of(s->Z, m->n, m->d),
            lmr_mat_of(m->M, m->d, m->d), lmr_mat_of(s->dH, m->n, m->d));
    if (m->gamma == NULL)
        s->dX = s->dZ;
    else if (status == LMR_OK)
        status = lmr_layernorm_backward(s->dX, s->dgamma, s->dbeta, s->X,
                                        m->gamma, s->dZ, m->n, m->d, m->eps);
    if (status == LMR_OK) /* the lookup's share */
        status = lmr_embed_lookup_backward(s->dE_input, m->ids, s->dX, m->n,
                                           m->vocab, m->d);
    return status;
}

/* Copies the results out of s: dP[0:n] = dX, rows n..max_len-1 zero. */
static void tied_lm_publish(const lmr_tied_lm_grads *out,
                            const tied_lm_scratch *s,
                            const lmr_tied_lm_model *m)
{
    size_t table = m->vocab * m->d, used = m->n * m->d;
    for (size_t i = 0; i < table; i++)
        out->dE[i] = s->dE_input[i] + s->dE_output[i];
    memcpy(out->dE_input, s->dE_input, table * sizeof(double));
    memcpy(out->dE_output, s->dE_output, table * sizeof(double));
    for (size_t i = 0; i < m->max_len * m->d; i++)
        out->dP[i] = i < used ? s->dX[i] : 0.0;
    if (m->gamma != NULL) {
        memcpy(out->dgamma, s->dgamma, m->d * sizeof(double));
        memcpy(out->dbeta, s->dbeta, m->d * sizeof(double));
    }
    *out->loss = s->loss;
}

int lmr_tied_lm(const lmr_tied_lm_grads *out, const lmr_tied_lm_model *model)
{
    double *arrays[SCRATCH_ARRAYS];
    tied_lm_scratch s;
    int status = check_tied_lm(out, model);
    if (status == LMR_OK)
        status = scratch_alloc(arrays, model);
    if (status != LMR_OK)
        return status;
    scratch_assign(&s, arrays);
    status = tied_lm_forward(&s, model);
    if (status == LMR_OK)
        status = tied_lm_backward(&s, model);
    if (status == LMR_OK)
        tied_lm_publish(out, &s, model);
    for (size_t i = 0; i < SCRATCH_ARRAYS; i++)
        free(arrays[i]);
    return status;
}
