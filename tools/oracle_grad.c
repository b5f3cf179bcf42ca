/* oracle_grad.c -- stub, being written. */
#include "oracle_grad.h"
typedef int stub_oracle_grad;
