/* lmr_grad_input.c -- stub, being written. */
#include "lmr_grad_input.h"
typedef int stub_lmr_grad_input;
