/*
 * gen_derive.h -- a backward op's invalid cases derived from its forward
 * op's (spec/api.md#checks: the backward's check is the forward's, then
 * its upstream gradient).
 *
 * The forward's generator is the only list of the forward's invalid cases.
 * gen_derive_invalid runs it without writing its file and, for each of its
 * invalid cases, writes a backward case of the same slug: the inputs the
 * backward takes (the same values, the same shapes), the same params, and
 * an upstream gradient of the right shape with valid entries. Its expected
 * status is the oracle's check of the backward (tools/oracle/
 * oracle_validate.h), and the oracle's check of the forward must give the
 * status the forward's case states, or the generator fails. A forward case
 * whose problem lies in an input the backward does not take (the untied
 * head's bias, LayerNorm's beta, the lookup's table entries) passes the
 * backward's check and yields no case.
 *
 * The backward's own cases (its upstream gradient of the wrong shape or
 * not finite, its own rules) stay in the backward's generator.
 */
#ifndef LMR_GEN_DERIVE_H
#define LMR_GEN_DERIVE_H

#include "gen_case.h"

/* Appends to file (a backward op's) the cases derived from the invalid
 * cases of its forward op's vector file. 0, or -1 after printing the error
 * (a backward op without a derivation, a forward case whose stated status
 * is not the oracle's). */
int gen_derive_invalid(gen_file *file);

#endif
