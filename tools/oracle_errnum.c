/* oracle_errnum.c -- stub, being written. */
#include "oracle_errnum.h"
typedef int stub_oracle_errnum;
