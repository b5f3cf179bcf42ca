/* lmr_tied_lm.c -- stub, being written. */
#include "lmr_tied_lm.h"
typedef int stub_lmr_tied_lm;
