/*
 * gen_ops.h -- the case lists, one function per vector file. Each builds its
 * cases, asks the oracle (oracle.h) for every expected value and scale, and
 * writes dir/<op>.json. Returns 0, or -1 after printing an error.
 */
#ifndef LMR_GEN_OPS_H
#define LMR_GEN_OPS_H

int gen_embed_lookup(const char *dir);
int gen_embed_onehot(const char *dir);
int gen_pos_learned(const char *dir);
int gen_pos_sinusoid(const char *dir);
int gen_compose(const char *dir);
int gen_layernorm(const char *dir);
int gen_compose_layernorm(const char *dir);
int gen_head_tied(const char *dir);
int gen_head_untied(const char *dir);
int gen_softmax(const char *dir);
int gen_log_softmax(const char *dir);
int gen_cross_entropy(const char *dir);
int gen_argmax(const char *dir);
int gen_sample(const char *dir);
int gen_logit_lens(const char *dir);
int gen_param_count(const char *dir);
int gen_head_tied_gpt2(const char *dir);
int gen_softmax_gpt2(const char *dir);
int gen_cross_entropy_gpt2(const char *dir);
int gen_cross_entropy_backward_gpt2(const char *dir);
int gen_head_partial(const char *dir);
int gen_head_transformed(const char *dir);
int gen_head_adaptive(const char *dir);
int gen_head_mlp(const char *dir);
int gen_mos_fixed(const char *dir);
int gen_mos_gated(const char *dir);
int gen_soft_tie_loss(const char *dir);

/* Backward ops and the end-to-end tied model (spec/gradients.md). */
int gen_embed_lookup_backward(const char *dir);
int gen_pos_learned_backward(const char *dir);
int gen_layernorm_backward(const char *dir);
int gen_head_tied_backward(const char *dir);
int gen_head_untied_backward(const char *dir);
int gen_softmax_backward(const char *dir);
int gen_log_softmax_backward(const char *dir);
int gen_cross_entropy_backward(const char *dir);
int gen_head_partial_backward(const char *dir);
int gen_head_transformed_backward(const char *dir);
int gen_head_adaptive_backward(const char *dir);
int gen_head_mlp_backward(const char *dir);
int gen_mos_fixed_backward(const char *dir);
int gen_mos_gated_backward(const char *dir);
int gen_soft_tie_loss_backward(const char *dir);
int gen_tied_lm(const char *dir);

#endif
