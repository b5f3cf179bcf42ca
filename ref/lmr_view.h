/*
 * lmr_view.h -- arrays that carry their shape (spec/api.md#views).
 *
 * Every array argument of the library is a view: a pointer to the first
 * element of a contiguous, row-major array and the array's extents. Because
 * the library sees the shapes, it checks that they agree and returns
 * LMR_EDIM itself; a caller states each size once, in the view of the array
 * it belongs to, and cannot swap (n, vocab, d) in a long argument list.
 *
 * Inputs are read through the const views (lmr_vec, lmr_mat, lmr_stack,
 * lmr_ids); outputs are written through the mutable ones (the *_out types).
 * A view with no elements may have data == NULL; a view with elements and
 * data == NULL is LMR_EINVAL. An optional input that is absent (the untied
 * head's bias, ...) is the empty view {NULL, 0}: lmr_vec_absent().
 *
 * The constructors below are plain functions so that C and C++ callers
 * write the same thing: lmr_mat_of(E, vocab, d).
 */
#ifndef LMR_VIEW_H
#define LMR_VIEW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A read-only vector of len doubles. */
typedef struct lmr_vec {
    const double *data;
    size_t len;
} lmr_vec;

/* A read-only rows x cols matrix of doubles, row-major. */
typedef struct lmr_mat {
    const double *data;
    size_t rows;
    size_t cols;
} lmr_mat;

/* A read-only stack of count matrices, each rows x cols: (count,rows,cols). */
typedef struct lmr_stack {
    const double *data;
    size_t count;
    size_t rows;
    size_t cols;
} lmr_stack;

/* A read-only vector of len 64-bit integers (token ids, targets,
 * positions, masks). */
typedef struct lmr_ids {
    const int64_t *data;
    size_t len;
} lmr_ids;

/* The writable counterparts, for outputs. */
typedef struct lmr_vec_out {
    double *data;
    size_t len;
} lmr_vec_out;

typedef struct lmr_mat_out {
    double *data;
    size_t rows;
    size_t cols;
} lmr_mat_out;

typedef struct lmr_stack_out {
    double *data;
    size_t count;
    size_t rows;
    size_t cols;
} lmr_stack_out;

typedef struct lmr_ids_out {
    int64_t *data;
    size_t len;
} lmr_ids_out;

static inline lmr_vec lmr_vec_of(const double *data, size_t len)
{
    lmr_vec view = {data, len};
    return view;
}

/* The empty view that stands for an absent optional input. */
static inline lmr_vec lmr_vec_absent(void)
{
    lmr_vec view = {NULL, 0};
    return view;
}

static inline lmr_mat lmr_mat_of(const double *data, size_t rows, size_t cols)
{
    lmr_mat view = {data, rows, cols};
    return view;
}

static inline lmr_stack lmr_stack_of(const double *data, size_t count,
                                     size_t rows, size_t cols)
{
    lmr_stack view = {data, count, rows, cols};
    return view;
}

static inline lmr_ids lmr_ids_of(const int64_t *data, size_t len)
{
    lmr_ids view = {data, len};
    return view;
}

static inline lmr_vec_out lmr_vec_out_of(double *data, size_t len)
{
    lmr_vec_out view = {data, len};
    return view;
}

static inline lmr_mat_out lmr_mat_out_of(double *data, size_t rows, size_t cols)
{
    lmr_mat_out view = {data, rows, cols};
    return view;
}

static inline lmr_stack_out lmr_stack_out_of(double *data, size_t count,
                                             size_t rows, size_t cols)
{
    lmr_stack_out view = {data, count, rows, cols};
    return view;
}

static inline lmr_ids_out lmr_ids_out_of(int64_t *data, size_t len)
{
    lmr_ids_out view = {data, len};
    return view;
}

/* An input view of an output, to pass a result on to the next op. */
static inline lmr_mat lmr_mat_in(lmr_mat_out out)
{
    lmr_mat view = {out.data, out.rows, out.cols};
    return view;
}

#ifdef __cplusplus
}
#endif

#endif
