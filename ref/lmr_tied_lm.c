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
 * The model is checked once, by lmr_tied_lm_check (every input, in the
 * order of spec/api.md#error-order); the ops then meet only the problems
 * of computed values. Everything is computed in scratch arrays and copied
 * out at the end: nothing is written unless lmr_tied_lm returns LMR_OK.
 */
#include "lmr_tied_lm.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lmr_check.h"
#include "lmr_compose.h"
#include "lmr_grad_head.h"
#include "lmr_grad_input.h"
#include "lmr_head.h"
#include "lmr_layernorm.h"
#include "lmr_layernorm_stats.h"
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
    double loss;
} tied_lm_scratch;

enum { SCRATCH_ARRAYS = 13 };

/* Points every array of s at one of arrays[] (SCRATCH_ARRAYS entries). */
static void scratch_assign(tied_lm_scratch *s, double **arrays)
{
    double **fields[SCRATCH_ARRAYS] = {
        &s->X,      &s->Z,     &s->H,        &s->logits,   &s->dlogits,
        &s->dH,     &s->dZ,    &s->dX,       &s->dE_input, &s->dE_output,
        &s->dgamma, &s->dbeta, &s->dM_unused};
    for (size_t i = 0; i < SCRATCH_ARRAYS; i++)
        *fields[i] = arrays[i];
}

/* Allocates arrays[] (SCRATCH_ARRAYS) with the sizes of tied_lm_scratch,
 * zeroed; LMR_ENOMEM (and nothing left allocated) on failure. */
static int scratch_alloc(double **arrays, const lmr_tied_lm_model *model)
{
    size_t n = model->ids.len, vocab = model->E.rows, d = model->E.cols;
    const size_t counts[SCRATCH_ARRAYS] = {
        n * d, n * d,     n * d,     n * vocab, n * vocab, n * d, n * d,
        n * d, vocab * d, vocab * d, d,         d,         d * d};
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

/* Non-zero when the model has a LayerNorm: gamma or beta given. */
static int has_layernorm(const lmr_tied_lm_model *m)
{
    return m->gamma.len > 0 || m->beta.len > 0;
}

/* Non-zero when the model has a middle matrix M. */
static int has_middle(const lmr_tied_lm_model *m)
{
    return m->middle == LMR_MIDDLE_MATRIX;
}

/* Non-zero when M's shape is not the one middle asks for (an unknown
 * middle asks for none: check_params reports it). */
static int middle_shape_wrong(const lmr_tied_lm_model *m, size_t d)
{
    int M_empty = m->M.rows == 0 && m->M.cols == 0;
    if (m->middle == LMR_MIDDLE_MATRIX)
        return m->M.rows != d || m->M.cols != d;
    return m->middle == LMR_MIDDLE_IDENTITY && !M_empty;
}

/* LMR_EINVAL, LMR_EDIM and LMR_EOVERFLOW for the model's views. */
static int check_views(const lmr_tied_lm_model *m)
{
    size_t n = m->ids.len, vocab = m->E.rows, d = m->E.cols;
    if (lmr_ids_missing(m->ids) || lmr_ids_missing(m->targets) ||
        lmr_mat_missing(m->E) || lmr_mat_missing(m->P) ||
        lmr_vec_missing(m->gamma) || lmr_vec_missing(m->beta) ||
        lmr_mat_missing(m->M))
        return LMR_EINVAL;
    if (vocab == 0 || d == 0 || m->targets.len != n || m->P.cols != d ||
        m->P.rows < n)
        return LMR_EDIM;
    if (has_layernorm(m) && (m->gamma.len != d || m->beta.len != d))
        return LMR_EDIM;
    if (middle_shape_wrong(m, d))
        return LMR_EDIM;
    if (lmr_mat_too_big(m->E) || lmr_mat_too_big(m->P) ||
        lmr_mat_too_big(m->M) || lmr_mat_too_big(lmr_mat_of(NULL, n, vocab)) ||
        lmr_mat_too_big(lmr_mat_of(NULL, n, d)) ||
        lmr_mat_too_big(lmr_mat_of(NULL, d, d)))
        return LMR_EOVERFLOW;
    return LMR_OK;
}

/* eps (with LayerNorm), the middle, the reduction, then ignore_index. */
static int check_params(const lmr_tied_lm_model *m)
{
    int status = has_layernorm(m) ? lmr_layernorm_eps_problem(m->eps) : LMR_OK;
    if (status != LMR_OK)
        return status;
    if (m->middle != LMR_MIDDLE_IDENTITY && m->middle != LMR_MIDDLE_MATRIX)
        return LMR_EDOMAIN;
    if (m->reduction != LMR_REDUCE_SUM && m->reduction != LMR_REDUCE_MEAN)
        return LMR_EDOMAIN; /* NONE: the op needs a scalar loss */
    if (m->ignore_index >= 0 && (uint64_t)m->ignore_index < m->E.rows)
        return LMR_EDOMAIN; /* it would silently drop a real token */
    return LMR_OK;
}

/* The ids, then the targets other than ignore_index, in [0, vocab). */
static int check_tokens(const lmr_tied_lm_model *m)
{
    size_t vocab = m->E.rows;
    int status = lmr_check_ids(m->ids.data, m->ids.len, vocab);
    for (size_t t = 0; status == LMR_OK && t < m->targets.len; t++) {
        int64_t target = m->targets.data[t];
        if (target != m->ignore_index &&
            (target < 0 || (uint64_t)target >= vocab))
            status = LMR_EINDEX;
    }
    return status;
}

enum lmr_status lmr_tied_lm_check(const lmr_tied_lm_model *model)
{
    if (model == NULL)
        return LMR_EINVAL;
    int status = check_views(model);
    if (status == LMR_OK)
        status = check_params(model);
    if (status == LMR_OK)
        status = check_tokens(model);
    if (status == LMR_OK)
        status = lmr_check_finite_mat(model->E);
    if (status == LMR_OK)
        status = lmr_check_finite_mat(model->P);
    if (status == LMR_OK)
        status = lmr_check_finite_vec(model->gamma);
    if (status == LMR_OK)
        status = lmr_check_finite_vec(model->beta);
    if (status == LMR_OK)
        status = lmr_check_finite_mat(model->M);
    return (enum lmr_status)status;
}

/* LMR_EINVAL, then LMR_EDIM, for the outputs. */
static int check_grads(const lmr_tied_lm_grads *out, const lmr_tied_lm_model *m)
{
    size_t vocab = m->E.rows, d = m->E.cols, norm = has_layernorm(m) ? d : 0;
    if (out == NULL || lmr_vec_out_missing(out->loss) ||
        lmr_mat_out_missing(out->dE) || lmr_mat_out_missing(out->dE_input) ||
        lmr_mat_out_missing(out->dE_output) || lmr_mat_out_missing(out->dP) ||
        lmr_vec_out_missing(out->dgamma) || lmr_vec_out_missing(out->dbeta))
        return LMR_EINVAL;
    if (out->loss.len != 1 || out->dE.rows != vocab || out->dE.cols != d ||
        out->dE_input.rows != vocab || out->dE_input.cols != d ||
        out->dE_output.rows != vocab || out->dE_output.cols != d ||
        out->dP.rows != m->P.rows || out->dP.cols != d ||
        out->dgamma.len != norm || out->dbeta.len != norm)
        return LMR_EDIM;
    return LMR_OK;
}

/* The forward pass into s: X, Z, H, logits and the loss. With no LayerNorm
 * Z is X, with no M H is Z (the same arrays). */
static int tied_lm_forward(tied_lm_scratch *s, const lmr_tied_lm_model *m)
{
    size_t n = m->ids.len, vocab = m->E.rows, d = m->E.cols;
    lmr_positions positions = {.kind = LMR_POSITIONS_LEARNED,
                               .table = m->P,
                               .start = 0,
                               .scale_by_sqrt_d = 0};
    int status = lmr_compose(lmr_mat_out_of(s->X, n, d), m->E, m->ids,
                             &positions);
    if (!has_layernorm(m))
        s->Z = s->X;
    else if (status == LMR_OK)
        status = lmr_layernorm(lmr_mat_out_of(s->Z, n, d),
                               lmr_mat_of(s->X, n, d), m->gamma, m->beta,
                               m->eps);
    if (!has_middle(m))
        s->H = s->Z;
    else if (status == LMR_OK)
        status = lmr_head_untied(lmr_mat_out_of(s->H, n, d),
                                 lmr_mat_of(s->Z, n, d), m->M,
                                 lmr_vec_absent());
    if (status == LMR_OK) /* the tied head: the same E as the lookup */
        status = lmr_head_tied(lmr_mat_out_of(s->logits, n, vocab),
                               lmr_mat_of(s->H, n, d), m->E);
    if (status == LMR_OK)
        status = lmr_cross_entropy(lmr_vec_out_of(&s->loss, 1),
                                   lmr_mat_of(s->logits, n, vocab), m->targets,
                                   m->reduction, m->ignore_index);
    return status;
}

/* The backward pass into s, from the forward values in s. */
static int tied_lm_backward(tied_lm_scratch *s, const lmr_tied_lm_model *m)
{
    size_t n = m->ids.len, vocab = m->E.rows, d = m->E.cols;
    const double one = 1.0; /* dL/dL */
    lmr_mat dlogits = lmr_mat_of(s->dlogits, n, vocab);
    int status = lmr_cross_entropy_backward(
        lmr_mat_out_of(s->dlogits, n, vocab), lmr_mat_of(s->logits, n, vocab),
        m->targets, lmr_vec_of(&one, 1), m->reduction, m->ignore_index);
    if (status == LMR_OK) /* dH = dU E; the head's share dE_output = dU^T H */
        status = lmr_head_tied_backward(lmr_mat_out_of(s->dH, n, d),
                                        lmr_mat_out_of(s->dE_output, vocab, d),
                                        lmr_mat_of(s->H, n, d), m->E, dlogits);
    if (!has_middle(m))
        s->dZ = s->dH;
    else if (status == LMR_OK) /* dZ = dH M^T; M gets no gradient */
        status = lmr_head_untied_backward(
            lmr_mat_out_of(s->dZ, n, d), lmr_mat_out_of(s->dM_unused, d, d),
            lmr_vec_out_of(NULL, 0), lmr_mat_of(s->Z, n, d), m->M,
            lmr_mat_of(s->dH, n, d));
    if (!has_layernorm(m))
        s->dX = s->dZ;
    else if (status == LMR_OK)
        status = lmr_layernorm_backward(
            lmr_mat_out_of(s->dX, n, d), lmr_vec_out_of(s->dgamma, d),
            lmr_vec_out_of(s->dbeta, d), lmr_mat_of(s->X, n, d), m->gamma,
            lmr_mat_of(s->dZ, n, d), m->eps);
    if (status == LMR_OK) /* the lookup's share */
        status = lmr_embed_lookup_backward(
            lmr_mat_out_of(s->dE_input, vocab, d), m->ids,
            lmr_mat_of(s->dX, n, d));
    return status;
}

/* Copies the results out of s: dP[0:n] = dX, rows n..max_len-1 zero. */
static void tied_lm_publish(const lmr_tied_lm_grads *out,
                            const tied_lm_scratch *s,
                            const lmr_tied_lm_model *m)
{
    size_t d = m->E.cols, table = m->E.rows * d, used = m->ids.len * d;
    for (size_t i = 0; i < table; i++)
        out->dE.data[i] = s->dE_input[i] + s->dE_output[i];
    memcpy(out->dE_input.data, s->dE_input, table * sizeof(double));
    memcpy(out->dE_output.data, s->dE_output, table * sizeof(double));
    for (size_t i = 0; i < m->P.rows * d; i++)
        out->dP.data[i] = i < used ? s->dX[i] : 0.0;
    if (has_layernorm(m)) {
        memcpy(out->dgamma.data, s->dgamma, d * sizeof(double));
        memcpy(out->dbeta.data, s->dbeta, d * sizeof(double));
    }
    out->loss.data[0] = s->loss;
}

enum lmr_status lmr_tied_lm(const lmr_tied_lm_grads *out,
                            const lmr_tied_lm_model *model)
{
    double *arrays[SCRATCH_ARRAYS];
    tied_lm_scratch s;
    int status = lmr_tied_lm_check(model);
    if (status == LMR_OK)
        status = check_grads(out, model);
    if (status == LMR_OK)
        status = scratch_alloc(arrays, model);
    if (status != LMR_OK)
        return (enum lmr_status)status;
    scratch_assign(&s, arrays);
    status = tied_lm_forward(&s, model);
    if (status == LMR_OK)
        status = tied_lm_backward(&s, model);
    if (status == LMR_OK)
        tied_lm_publish(out, &s, model);
    for (size_t i = 0; i < SCRATCH_ARRAYS; i++)
        free(arrays[i]);
    return (enum lmr_status)status;
}
