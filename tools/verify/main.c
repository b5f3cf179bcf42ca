/*
 * main.c -- lmr-verify: checks the reference library against vector
 * files and prints a per-op summary (or TAP with --tap).
 *
 * Usage: lmr-verify [--tap] [--class fp64|fp32|bf16|fp16] FILE.json...
 * Exit status: 0 all passed, 1 a case failed, 2 bad usage or malformed file.
 */
#include <stdio.h>
#include <string.h>

#include "verify.h"
#include "vecio.h"

static int usage(void)
{
    fprintf(stderr, "usage: lmr-verify [--tap] [--class fp64|fp32|bf16|fp16] "
                    "FILE.json...\n");
    return 2;
}

int main(int argc, char **argv)
{
    enum verify_mode mode = VERIFY_SUMMARY;
    int cls = VEC_FP64, first = 1;
    while (first < argc && strncmp(argv[first], "--", 2) == 0) {
        if (strcmp(argv[first], "--tap") == 0) {
            mode = VERIFY_TAP;
            first++;
        } else if (strcmp(argv[first], "--class") == 0 && first + 1 < argc) {
            cls = vec_class_from_name(argv[first + 1]);
            if (cls < 0) {
                fprintf(stderr, "lmr-verify: unknown class '%s'\n",
                        argv[first + 1]);
                return usage();
            }
            first += 2;
        } else {
            return usage();
        }
    }
    if (first >= argc)
        return usage();
    return verify_files(argv + first, (size_t)(argc - first), cls, mode, stdout);
}
