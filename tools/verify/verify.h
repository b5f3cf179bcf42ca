/*
 * verify.h -- checks the reference library against vector files: every case
 * of every file is run through ref/ (ref_ops.h) and judged (judge.h).
 *
 * Output is either TAP (one line per case, with got, want, error and bound to
 * 17 digits on failure) or a per-op summary table with the worst error in
 * units of u*s next to each op's K.
 */
#ifndef LMR_VERIFY_H
#define LMR_VERIFY_H

#include <stddef.h>
#include <stdio.h>

enum verify_mode { VERIFY_TAP, VERIFY_SUMMARY };

/*
 * Verifies the files at paths (n_paths of them) under class cls.
 * Returns 0 when every case passed, 1 when some case failed, 2 when a file
 * was malformed or unreadable (the message names file, case, field, value).
 */
int verify_files(char *const *paths, size_t n_paths, int cls,
                 enum verify_mode mode, FILE *out);

#endif
