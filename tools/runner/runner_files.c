/* runner_files.c -- see runner_files.h. */
#include "runner_files.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* 0 if path is a regular file within the size limit, else -1 after a
 * message. */
static int check_vector_file(const char *path, FILE *err)
{
    struct stat info;
    if (stat(path, &info) != 0 || !S_ISREG(info.st_mode)) {
        fprintf(err, "lmr-run: %s: not a regular file (a FIFO, device or "
                "directory named *.json is refused)\n", path);
        return -1;
    }
    if (info.st_size > (off_t)VEC_MAX_FILE_BYTES) {
        fprintf(err, "lmr-run: %s: %lld bytes, more than the limit of %lld "
                "(spec/conventions.md#limits)\n", path,
                (long long)info.st_size, (long long)VEC_MAX_FILE_BYTES);
        return -1;
    }
    return 0;
}

int runner_find_vector_files(const char *dir, glob_t *found, FILE *err)
{
    size_t len = strlen(dir) + sizeof "/*.json";
    char *pattern = malloc(len);
    if (pattern == NULL)
        return -1;
    snprintf(pattern, len, "%s/*.json", dir);
    int status = glob(pattern, 0, NULL, found);
    free(pattern);
    if (status != 0) {
        if (status != GLOB_NOMATCH)
            globfree(found);
        fprintf(err, "lmr-run: no vector files (*.json) in %s\n", dir);
        return -1;
    }
    for (size_t i = 0; i < found->gl_pathc; i++)
        if (check_vector_file(found->gl_pathv[i], err) != 0) {
            globfree(found);
            return -1;
        }
    return 0;
}

/* A shallow copy of a vector file's root in which every case's inputs are
 * an empty object: vecio then decodes the expected values and tolerances
 * without decoding (or regenerating) inputs the runner only forwards. */
static json_t *judging_view(json_t *root)
{
    json_t *view = json_copy(root), *cases = json_object_get(root, "cases");
    json_t *stripped = json_array(), *c;
    size_t i;
    if (view == NULL || !json_is_object(root) || !json_is_array(cases)) {
        json_decref(stripped);
        return view;
    }
    json_array_foreach(cases, i, c) {
        json_t *copy = json_is_object(c) ? json_copy(c) : json_incref(c);
        if (json_is_object(json_object_get(copy, "inputs")))
            json_object_set_new(copy, "inputs", json_object());
        json_array_append_new(stripped, copy);
    }
    json_object_set_new(view, "cases", stripped);
    return view;
}

int runner_load_file(const char *path, vec_file *file, json_t **root,
                     char *message, size_t size)
{
    memset(file, 0, sizeof *file);
    if (vec_load_json(path, root, message, size) != 0)
        return -1;
    json_t *view = judging_view(*root);
    int loaded = view ? vec_file_from_json(file, view, path, message, size)
                      : -1;
    if (view == NULL)
        snprintf(message, size, "%s: out of memory", path);
    json_decref(view);
    if (loaded != 0) {
        vec_file_free(file);
        json_decref(*root);
        *root = NULL;
    }
    return loaded;
}

int runner_is_selected(const runner_options *options, const char *op,
                       const char *id)
{
    int op_matches = options->n_ops == 0, id_matches = options->n_id_globs == 0;
    for (size_t i = 0; i < options->n_ops && !op_matches; i++)
        op_matches = strcmp(options->ops[i], op) == 0;
    for (size_t i = 0; i < options->n_id_globs && !id_matches; i++)
        id_matches = fnmatch(options->id_globs[i], id, 0) == 0;
    return op_matches && id_matches;
}
