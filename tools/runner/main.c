/*
 * main.c -- lmr-run: the conformance runner (tools/runner/runner.h,
 * spec/protocol.md). Exit status: 0 when no verdict fails the run, 1
 * otherwise, 2 for bad usage or a malformed vector file.
 */
#include <stdio.h>

#include "runner.h"

/* Parses the options and runs; --help prints the usage. */
int main(int argc, char **argv)
{
    runner_options options;
    int status = runner_parse_options(&options, argc, argv, stderr);
    if (status == RUNNER_OK && options.help)
        runner_usage(stdout);
    else if (status == RUNNER_OK)
        status = runner_run(&options, stdout, stderr);
    runner_options_free(&options);
    return status;
}
