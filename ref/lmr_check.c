/* lmr_check.c -- see lmr_check.h. */
#include "lmr_check.h"

#include <math.h>

#include "lmr_status.h"

int lmr_check_finite(const double *values, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!isfinite(values[i]))
            return LMR_ENONFINITE;
    return LMR_OK;
}

int lmr_check_ids(const int64_t *ids, size_t n, size_t vocab)
{
    for (size_t t = 0; t < n; t++)
        if (ids[t] < 0 || (uint64_t)ids[t] >= vocab)
            return LMR_EINDEX;
    return LMR_OK;
}

int lmr_check_table(const double *table, size_t rows, size_t cols)
{
    size_t count;
    if (rows == 0 || cols == 0)
        return LMR_EDIM;
    if (lmr_array_count(&count, rows, cols) != LMR_OK)
        return LMR_EOVERFLOW;
    return lmr_check_finite(table, count);
}
