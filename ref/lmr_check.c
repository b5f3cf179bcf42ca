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

/* ---- views --------------------------------------------------------------- */

/* Non-zero when `count` elements of `size` bytes each do not fit in size_t
 * bytes; the product is formed only when it cannot overflow. */
static int bytes_overflow(size_t a, size_t b, size_t c)
{
    size_t count;
    if (lmr_array_count(&count, a, b) != LMR_OK)
        return 1;
    return lmr_array_count(&count, count, c) != LMR_OK;
}

int lmr_vec_missing(lmr_vec v) { return v.len > 0 && v.data == NULL; }

int lmr_mat_missing(lmr_mat m)
{
    return m.rows > 0 && m.cols > 0 && m.data == NULL;
}

int lmr_stack_missing(lmr_stack s)
{
    return s.count > 0 && s.rows > 0 && s.cols > 0 && s.data == NULL;
}

int lmr_ids_missing(lmr_ids ids) { return ids.len > 0 && ids.data == NULL; }

int lmr_vec_out_missing(lmr_vec_out v) { return v.len > 0 && v.data == NULL; }

int lmr_mat_out_missing(lmr_mat_out m)
{
    return m.rows > 0 && m.cols > 0 && m.data == NULL;
}

int lmr_stack_out_missing(lmr_stack_out s)
{
    return s.count > 0 && s.rows > 0 && s.cols > 0 && s.data == NULL;
}

int lmr_ids_out_missing(lmr_ids_out ids)
{
    return ids.len > 0 && ids.data == NULL;
}

int lmr_vec_too_big(lmr_vec v) { return bytes_overflow(v.len, 1, 1); }

int lmr_mat_too_big(lmr_mat m) { return bytes_overflow(m.rows, m.cols, 1); }

int lmr_stack_too_big(lmr_stack s)
{
    return bytes_overflow(s.count, s.rows, s.cols);
}

int lmr_ids_too_big(lmr_ids ids) { return bytes_overflow(ids.len, 1, 1); }

size_t lmr_mat_count(lmr_mat m) { return m.rows * m.cols; }

size_t lmr_stack_count(lmr_stack s) { return s.count * s.rows * s.cols; }

int lmr_check_finite_vec(lmr_vec v) { return lmr_check_finite(v.data, v.len); }

int lmr_check_finite_mat(lmr_mat m)
{
    return lmr_check_finite(m.data, lmr_mat_count(m));
}

int lmr_check_finite_stack(lmr_stack s)
{
    return lmr_check_finite(s.data, lmr_stack_count(s));
}
