/* gen_grad.c -- see gen_grad.h. */
#include "gen_grad.h"

#include <stdio.h>
#include <stdlib.h>

oracle_out gen_grad_out_alloc(size_t count)
{
    oracle_out out = {calloc(count + 1, sizeof(double)),
                      calloc(count + 1, sizeof(double))};
    return out;
}

void gen_grad_out_free(oracle_out *out)
{
    free(out->value);
    free(out->scale);
}

void gen_expect_grad(gen_case *c, const char *name, size_t rows, size_t cols,
                     oracle_out out)
{
    gen_expect(c, name, rows, cols, out.value, ORACLE_GRAD_K, out.scale);
}

void gen_expect_grad_3d(gen_case *c, const char *name, size_t K, size_t rows,
                        size_t cols, oracle_out out)
{
    size_t shape[3] = {K, rows, cols};
    gen_expect_nd(c, name, 3, shape, out.value, ORACLE_GRAD_K, out.scale);
}

int gen_oracle_failed(const char *op, const char *slug)
{
    fprintf(stderr, "lmr-gen: %s/%s: the oracle rejected a case meant to be "
            "valid\n", op, slug);
    return -1;
}
