/*
 * runner_files.h -- the vector files as lmr-run reads them, for a run and
 * for --list: found in the vector directory (each checked to be a regular
 * file of a sane size before any testee starts), loaded one at a time with
 * only what judging needs decoded, and the --op/--id selection.
 */
#ifndef LMR_RUNNER_FILES_H
#define LMR_RUNNER_FILES_H

#include <glob.h>
#include <stdio.h>

#include <jansson.h>

#include "runner.h"
#include "vecio.h"

/* The vector files of dir (dir/ *.json), sorted. 0; or -1 after a message
 * on err when there is none, or when one is not a regular file (a FIFO
 * would block the runner, a device never end) or is larger than
 * VEC_MAX_FILE_BYTES. globfree(found) after a 0. */
int runner_find_vector_files(const char *dir, glob_t *found, FILE *err);

/* Loads path for judging: *root is the file as it is (the runner copies
 * each case's params and inputs from it into the request) and file its
 * decoded view, in which the inputs are not decoded (nor regenerated).
 * 0, or -1 with a message; on 0, vec_file_free(file) and
 * json_decref(*root) when done. */
int runner_load_file(const char *path, vec_file *file, json_t **root,
                     char *message, size_t size);

/* 1 if the case matches one --op (when any is given) and one --id glob
 * (when any is given). */
int runner_is_selected(const runner_options *options, const char *op,
                       const char *id);

#endif
