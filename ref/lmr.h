/*
 * lmr.h -- lmref, the reference implementation of the math at both ends of a
 * transformer language model. Include this one header; link with
 * `pkg-config --libs lmref`. The specification is in spec/ of the source tree.
 */
#ifndef LMR_H
#define LMR_H

#include "lmr_status.h"
#include "lmr_view.h"
#include "lmr_embed.h"
#include "lmr_sinusoid.h"
#include "lmr_compose.h"
#include "lmr_layernorm.h"
#include "lmr_head.h"
#include "lmr_softmax.h"
#include "lmr_sample.h"
#include "lmr_lens.h"
#include "lmr_params.h"
#include "lmr_variants.h"
#include "lmr_attention.h"
#include "lmr_grad_input.h"
#include "lmr_grad_head.h"
#include "lmr_grad_variants.h"
#include "lmr_tied_lm.h"
#include "lmr_intermediates.h"
#include "lmr_pca.h"
#include "lmr_linear_ce.h"

#endif
