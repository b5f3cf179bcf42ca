/*
 * oracle_validate.h -- the oracle's checks of its inputs: one function per
 * op, oracle_check_<op>, that returns the first problem of the op's inputs
 * and parameters, or ORACLE_OK (spec/api.md#checks, spec/errors.md).
 *
 * Written from spec/ alone, like the rest of the oracle. Each rule (a view
 * with elements and no data, a size that must be at least 1, two shapes
 * that must agree, finite entries, ids below a limit, targets with
 * ignore_index, the temperature, the reduction) is written once, in
 * tools/oracle/oracle_validate.c, and every check is a list of those rules
 * in the order of spec/api.md#error-order:
 *
 *   1. the inputs and parameters: ORACLE_EINVAL, then ORACLE_EDIM, then
 *      ORACLE_EOVERFLOW, then the scalar parameters in parameter order
 *      (ORACLE_ENONFINITE before ORACLE_EDOMAIN), then the inputs' entries
 *      in parameter order;
 *   2. the upstream gradient of a backward op: ORACLE_EINVAL, ORACLE_EDIM
 *      (not the shape of the output it stands for), ORACLE_ENONFINITE;
 *   3. last, a backward op's own rules on its inputs and upstream gradient
 *      together (a counted target at a masked logit, a non-zero upstream
 *      gradient at a masked logit).
 *
 * A backward op's check is its forward's check, then its upstream gradient
 * (spec/api.md#checks). The parameter order is that of the op table
 * (tools/common/ops.json, the op's spec page).
 *
 * The generator calls these checks for the expected status of an invalid
 * case; the oracle's compute functions call them with the shapes their
 * sizes imply before computing, and return -1 unless the check passes.
 */
#ifndef LMR_ORACLE_VALIDATE_H
#define LMR_ORACLE_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

/* The status codes of spec/errors.md#codes, with their values. */
enum oracle_status {
    ORACLE_OK = 0,
    ORACLE_EINVAL = 1,
    ORACLE_EDIM = 2,
    ORACLE_EOVERFLOW = 3,
    ORACLE_EINDEX = 4,
    ORACLE_EPOS = 5,
    ORACLE_ENONFINITE = 6,
    ORACLE_EDOMAIN = 7,
    ORACLE_ENOMEM = 8,
    ORACLE_ERANGE = 9
};

/* The code's name as spec/errors.md spells it ("LMR_EDIM"). */
const char *oracle_status_name(enum oracle_status status);

/* A real array and its shape: ndim extents (ndim <= 3), row-major data.
 * ndim = 0 with data NULL is an absent optional input. */
typedef struct {
    const double *data;
    size_t ndim;
    size_t dim[3];
} oracle_reals;

/* An integer array (ids, targets, positions, a key mask) of length len. */
typedef struct {
    const int64_t *data;
    size_t len;
} oracle_ints;

oracle_reals oracle_vec(const double *data, size_t len);
oracle_reals oracle_mat(const double *data, size_t rows, size_t cols);
oracle_reals oracle_stack(const double *data, size_t count, size_t rows,
                          size_t cols);
/* The absent optional input. */
oracle_reals oracle_absent(void);
/* A vector, or the absent input when data is NULL (an optional bias). */
oracle_reals oracle_optional_vec(const double *data, size_t len);
/* A matrix, or the absent input when data is NULL. */
oracle_reals oracle_optional_mat(const double *data, size_t rows, size_t cols);
oracle_ints oracle_ints_of(const int64_t *data, size_t len);
/* The absent optional integer input (no key mask). */
oracle_ints oracle_ints_absent(void);

/* The reduction of a loss as a check sees it: the three of
 * spec/softmax.md#cross_entropy (enum oracle_reduction's values) or any
 * other number, an unknown name. */
typedef int oracle_reduction_code;
#define ORACLE_REDUCTION_UNKNOWN (-1)

/* ---- the input side ---- */

/* spec/embedding.md#lookup: E (V, d); ids (n) */
enum oracle_status oracle_check_embed_lookup(oracle_reals E, oracle_ints ids);
/* spec/gradients.md#embed_lookup_backward: the lookup's rules on the table
 * shape vocab x dY's width (no table entries to read), then dY (n, d). */
enum oracle_status oracle_check_embed_lookup_backward(oracle_ints ids,
                                                      oracle_reals dY,
                                                      int64_t vocab);
/* spec/embedding.md#learned: P (L, d); positions (n) */
enum oracle_status oracle_check_pos_learned(oracle_reals P,
                                            oracle_ints positions);
enum oracle_status oracle_check_pos_learned_backward(oracle_ints positions,
                                                     oracle_reals dY,
                                                     int64_t max_len);

/* spec/layernorm.md: x (n, d); gamma, beta (d). beta may be absent: the
 * backward, which does not read it. */
enum oracle_status oracle_check_layernorm(oracle_reals x, oracle_reals gamma,
                                          oracle_reals beta, double eps);
/* dY (n, d) like x */
enum oracle_status oracle_check_layernorm_backward(oracle_reals x,
                                                   oracle_reals gamma,
                                                   oracle_reals dY,
                                                   double eps);

/* ---- the heads ---- */

/* spec/head.md#tied: h (n, d); E (V, d) */
enum oracle_status oracle_check_head_tied(oracle_reals h, oracle_reals E);
/* dlogits (n, V) */
enum oracle_status oracle_check_head_tied_backward(oracle_reals h,
                                                   oracle_reals E,
                                                   oracle_reals dlogits);
/* spec/head.md#untied: h (n, d); W (d, V); b (V) or absent */
enum oracle_status oracle_check_head_untied(oracle_reals h, oracle_reals W,
                                            oracle_reals b);
/* The backward reads no bias: b absent. dlogits (n, V) */
enum oracle_status oracle_check_head_untied_backward(oracle_reals h,
                                                     oracle_reals W,
                                                     oracle_reals dlogits);
/* spec/variants.md#partial: h (n, d); E (V, d); F (d, V - k), absent when
 * k = V; k the number of tied rows */
enum oracle_status oracle_check_head_partial(oracle_reals h, oracle_reals E,
                                             oracle_reals F, int64_t k);
enum oracle_status oracle_check_head_partial_backward(oracle_reals h,
                                                      oracle_reals E,
                                                      oracle_reals F,
                                                      oracle_reals dlogits,
                                                      int64_t k);
/* spec/variants.md#transformed: h (n, d); T (d, d); E (V, d) */
enum oracle_status oracle_check_head_transformed(oracle_reals h,
                                                 oracle_reals T,
                                                 oracle_reals E);
enum oracle_status oracle_check_head_transformed_backward(oracle_reals h,
                                                          oracle_reals T,
                                                          oracle_reals E,
                                                          oracle_reals dlogits);
/* spec/variants.md#adaptive: h (n, d); E (V, d); F (d, V); alpha in [0, 1] */
enum oracle_status oracle_check_head_adaptive(oracle_reals h, oracle_reals E,
                                              oracle_reals F, double alpha);
enum oracle_status oracle_check_head_adaptive_backward(oracle_reals h,
                                                       oracle_reals E,
                                                       oracle_reals F,
                                                       oracle_reals dlogits,
                                                       double alpha);

/* The MLP head's arrays (spec/variants.md#mlp): h (n, d); W1 (d, m);
 * b1 (m) or absent; untied: W2 (m, V), E absent; tied: E (V, d) with
 * m = d, W2 absent; b2 (V) or absent. */
typedef struct {
    oracle_reals h, W1, b1, W2, E, b2;
    int tied;
} oracle_mlp_views;
enum oracle_status oracle_check_head_mlp(const oracle_mlp_views *in);
enum oracle_status oracle_check_head_mlp_backward(const oracle_mlp_views *in,
                                                  oracle_reals dlogits);

/* ---- softmax and the losses ---- */

/* spec/softmax.md#softmax (and #log_softmax): logits (n, V) */
enum oracle_status oracle_check_softmax(oracle_reals logits, double tau);
enum oracle_status oracle_check_log_softmax(oracle_reals logits, double tau);
/* dprobs (n, V) */
enum oracle_status oracle_check_softmax_backward(oracle_reals logits,
                                                 oracle_reals dprobs,
                                                 double tau);
/* dlogprobs (n, V), 0 at every masked logit */
enum oracle_status oracle_check_log_softmax_backward(oracle_reals logits,
                                                     oracle_reals dlogprobs,
                                                     double tau);
/* spec/softmax.md#cross_entropy: logits (n, V); targets (n) */
enum oracle_status oracle_check_cross_entropy(oracle_reals logits,
                                              oracle_ints targets,
                                              oracle_reduction_code reduction,
                                              int64_t ignore_index);
/* dloss (n) for "none", else (1); no counted target at a masked logit */
enum oracle_status oracle_check_cross_entropy_backward(
    oracle_reals logits, oracle_ints targets, oracle_reals dloss,
    oracle_reduction_code reduction, int64_t ignore_index);

/* ---- the mixtures and the soft tie ---- */

/* spec/variants.md#mos_fixed: h (n, d); W (K, d, V); alpha (K) */
enum oracle_status oracle_check_mos_fixed(oracle_reals h, oracle_reals W,
                                          oracle_reals alpha);
enum oracle_status oracle_check_mos_fixed_backward(oracle_reals h,
                                                   oracle_reals W,
                                                   oracle_reals alpha,
                                                   oracle_reals dlogprobs);

/* The gated mixture's arrays (spec/variants.md#mos_gated): h (n, d);
 * W_pi (d, K); W_comp (K, d, d); b_comp (K, d); untied: W_out (d, V), E
 * absent; tied: E (V, d), W_out absent; b_out (V) or absent. */
typedef struct {
    oracle_reals h, W_pi, W_comp, b_comp, W_out, E, b_out;
    int tied;
} oracle_mos_gated_views;
enum oracle_status oracle_check_mos_gated(const oracle_mos_gated_views *in);
enum oracle_status oracle_check_mos_gated_backward(
    const oracle_mos_gated_views *in, oracle_reals dlogprobs);

/* spec/variants.md#soft_tie_loss: h (n, d); E (V, d); W (d, V); targets (n);
 * reduction sum or mean */
enum oracle_status oracle_check_soft_tie_loss(oracle_reals h, oracle_reals E,
                                              oracle_reals W,
                                              oracle_ints targets,
                                              double lambda,
                                              oracle_reduction_code reduction,
                                              int64_t ignore_index);
/* dloss (1) */
enum oracle_status oracle_check_soft_tie_loss_backward(
    oracle_reals h, oracle_reals E, oracle_reals W, oracle_ints targets,
    oracle_reals dloss, double lambda, oracle_reduction_code reduction,
    int64_t ignore_index);

/* ---- attention ---- */

/* spec/attention.md: Q (n_q, d_k); K (n_k, d_k); key_mask (n_k) or absent;
 * every query keeps a key */
enum oracle_status oracle_check_attention_weights(oracle_reals Q,
                                                  oracle_reals K,
                                                  oracle_ints key_mask,
                                                  int causal);
/* dweights (n_q, n_k) */
enum oracle_status oracle_check_attention_weights_backward(
    oracle_reals Q, oracle_reals K, oracle_ints key_mask,
    oracle_reals dweights, int causal);

/* 1 if key j is masked for query i (spec/attention.md: key_mask[j] = 0,
 * or causal with j > i + n_k - n_q). key_mask: (n_k) or NULL */
int oracle_attention_key_masked(const int64_t *key_mask, size_t i, size_t j,
                                size_t n_q, size_t n_k, int causal);

/* ---- the fused and end-to-end ops ---- */

/* spec/linear_cross_entropy.md: the tied head's rules on h (n, d) and
 * E (V, d), cross_entropy's on targets (n), reduction and ignore_index,
 * then dloss ((n) for "none", else (1)) as an upstream gradient. */
enum oracle_status oracle_check_linear_cross_entropy(
    oracle_reals h, oracle_reals E, oracle_ints targets, oracle_reals dloss,
    oracle_reduction_code reduction, int64_t ignore_index);

/* The tied model's inputs (spec/gradients.md#tied_lm): ids, targets (n);
 * E (V, d); P (L, d) with L >= n; gamma, beta (d), both absent without
 * the LayerNorm; M (d, d) or absent (the identity); reduction sum or mean. */
typedef struct {
    oracle_ints ids, targets;
    oracle_reals E, P, gamma, beta, M;
    double eps;
    oracle_reduction_code reduction;
    int64_t ignore_index;
} oracle_tied_lm_views;
enum oracle_status oracle_check_tied_lm(const oracle_tied_lm_views *in);

/* The number of targets that are not ignore_index. targets: (n) */
size_t oracle_counted_targets(oracle_ints targets, int64_t ignore_index);

/* ---- the forward ops without a backward ---- */

/* spec/embedding.md#onehot: onehot (n, V); E (V, d). An entry of onehot
 * other than 0 or 1 (a NaN included), or a row without exactly one 1, is
 * EDOMAIN. */
enum oracle_status oracle_check_embed_onehot(oracle_reals onehot,
                                             oracle_reals E);
/* spec/sinusoid.md: positions (n) in [0, 2^53]; d >= 1; base > 1 */
enum oracle_status oracle_check_pos_sinusoid(oracle_ints positions, size_t d,
                                             double base);

/* The position source of spec/embedding.md#compose: learned (P (L, d)) or
 * sinusoidal (base), from position start. */
typedef struct {
    int learned;
    oracle_reals P; /* absent unless learned */
    int64_t start;
    double base;    /* sinusoidal only */
} oracle_position_views;
/* spec/embedding.md#compose: E (V, d); ids (n) */
enum oracle_status oracle_check_compose(oracle_reals E, oracle_ints ids,
                                        const oracle_position_views *pos);
/* spec/layernorm.md#compose: compose's rules, then gamma, beta (d) and eps */
enum oracle_status oracle_check_compose_layernorm(
    oracle_reals E, oracle_ints ids, const oracle_position_views *pos,
    oracle_reals gamma, oracle_reals beta, double eps);

/* spec/sampling.md#argmax: logits (n, V) */
enum oracle_status oracle_check_argmax(oracle_reals logits);
/* spec/sampling.md#sample: logits (n, V); r (n) in [0, 1); tau > 0;
 * top_k >= 0; top_p in (0, 1] */
enum oracle_status oracle_check_sample(oracle_reals logits, oracle_reals r,
                                       double tau, int64_t top_k,
                                       double top_p);
/* spec/logit_lens.md: hidden (N_l, n, d); E (V, d); gamma, beta (d), both
 * absent without the final LayerNorm (then eps is not read); k in [1, V] */
enum oracle_status oracle_check_logit_lens(oracle_reals hidden,
                                           oracle_reals E, oracle_reals gamma,
                                           oracle_reals beta, int64_t k,
                                           double eps);
/* spec/param_count.md: vocab, d >= 1, block_params >= 0 (EDOMAIN), then
 * every count within 2^63 - 1 (EOVERFLOW). */
enum oracle_status oracle_check_param_count(int64_t vocab, int64_t d,
                                            int64_t block_params);
/* spec/pca.md: X (n, d) with n >= 2, d >= 1; k in [1, min(n, d)]; finite
 * entries of magnitude at most 2^480 */
enum oracle_status oracle_check_pca(oracle_reals X, int64_t k);

#endif
