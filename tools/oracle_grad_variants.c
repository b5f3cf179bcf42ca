/* oracle_grad_variants.c -- stub, being written. */
#include "oracle_grad.h"
typedef int stub_oracle_grad_variants;
