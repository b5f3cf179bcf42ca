/*
 * vectors.c -- every case of every vector file, run through the reference
 * library and judged by the tolerance model in class fp64: one TAP line per
 * case, with got, want, error and bound to 17 digits on failure.
 *
 * The directory is vectors/ (run from the top of the tree) or $LMR_VECTORS.
 */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>

#include "verify.h"
#include "vecio.h"

int main(void)
{
    const char *dir = getenv("LMR_VECTORS");
    char pattern[4096];
    glob_t found;
    snprintf(pattern, sizeof pattern, "%s/*.json", dir ? dir : "vectors");
    if (glob(pattern, 0, NULL, &found) != 0 || found.gl_pathc == 0) {
        printf("1..0 # SKIP no vector files match %s\n", pattern);
        globfree(&found);
        return 1; /* a suite without its vectors is a failure, not a pass */
    }
    int status = verify_files(found.gl_pathv, found.gl_pathc, VEC_FP64,
                              VERIFY_TAP, stdout);
    globfree(&found);
    return status;
}
