/* lmr_grad_head.c -- stub, being written. */
#include "lmr_grad_head.h"
typedef int stub_lmr_grad_head;
