/*
 * main.c -- main of `lmr`, the command-line tool for studying the math
 * one op at a time (the work is in cli.c and cli_explain.c).
 *
 *   lmr OP [--NAME VALUE]... [--explain]
 *       Runs OP of the reference library on inputs given as JSON arrays
 *       (nesting gives the shape) and params given as scalars, e.g.
 *         lmr head_tied --h '[[0.2,-0.1,0.5,0.3,-0.2]]' \
 *             --E '[[0.1,0.2,0.3,0.4,0.5],[0.6,0.7,0.8,0.9,1.0]]' --explain
 *         lmr cross_entropy --logits '[[1,2,3]]' --targets '[0]' --reduction sum
 *   lmr --case FILE.json [--id CASE_ID] [--explain]
 *       Runs a case, or the case CASE_ID of a vector file (vectors/).
 *   lmr --list
 *       Lists the ops with their inputs, params and outputs.
 *
 * Outputs are printed with their shapes and 17 significant digits; --explain
 * adds the intermediate steps. Exit status: 0 ok, 1 the reference rejected
 * the input, 2 malformed arguments.
 */
#include <stdio.h>

#include "cli.h"

int main(int argc, char **argv)
{
    return cli_run(argc, (const char *const *)argv, stdout, stderr);
}
