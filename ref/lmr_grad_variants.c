/* lmr_grad_variants.c -- stub, being written. */
#include "lmr_grad_variants.h"
typedef int stub_lmr_grad_variants;
