/*
 * lmr_sinusoid.h -- the sinusoidal position encoding (spec/sinusoid.md;
 * vectors/pos_sinusoid.json).
 */
#ifndef LMR_SINUSOID_H
#define LMR_SINUSOID_H

#include <stddef.h>
#include <stdint.h>

#include "lmr_api.h"
#include "lmr_status.h"
#include "lmr_view.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The default base of the frequencies, as in Vaswani et al. (2017). */
#define LMR_SINUSOID_DEFAULT_BASE 10000.0

/* The largest position accepted: every integer up to 2^53 is a double. */
#define LMR_SINUSOID_MAX_POSITION ((int64_t)1 << 53)

/*
 * The check of the encoding's inputs and parameters: positions is (n), d is
 * the width of the output. Errors, in this order: LMR_EINVAL (positions has
 * elements and no data), LMR_EDIM (d is 0), LMR_EOVERFLOW (the (n,d)
 * output too big), LMR_ENONFINITE then LMR_EDOMAIN for base (base <= 1),
 * LMR_EPOS (a position outside [0, 2^53]).
 */
LMR_API
enum lmr_status lmr_pos_sinusoid_check(lmr_ids positions, size_t d,
                                       double base);

/*
 * out[t,j] = sin(p w_i) for even j, cos(p w_i) for odd j, where p =
 * positions[t], i = floor(j/2) and w_i = base^(-2i/d). Interleaved layout;
 * odd d ends with an unpaired sine column.
 * out is (n,d): its width d is the encoding's; positions is (n).
 * Errors: those of lmr_pos_sinusoid_check for d = out.cols, then
 * LMR_EINVAL (out has elements and no data), LMR_EDIM (out.rows is not n).
 */
LMR_API
enum lmr_status lmr_pos_sinusoid(lmr_mat_out out, lmr_ids positions,
                                 double base);

/*
 * One element PE(p, j) of the encoding, for callers that have already checked
 * their arguments (0 <= p <= 2^53, j < d, base finite and > 1). Returns NaN
 * when they are not valid, so a misuse cannot pass for a value.
 */
LMR_API
double lmr_pos_sinusoid_element(int64_t p, size_t j, size_t d, double base);

#ifdef __cplusplus
}
#endif

#endif
