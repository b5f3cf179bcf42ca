/* oracle_precision.c -- the oracle's working precision (oracle.h). */
#include "oracle.h"

long oracle_precision = 256;
