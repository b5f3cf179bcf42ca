/* runner_list.c -- lmr-run --list (runner.h, spec/protocol.md#list): what a
 * selection would send to a class, without starting anything. */
#include "runner.h"

#include <string.h>

#include "runner_files.h"
#include "runner_limits.h"

typedef struct {
    size_t selected, sent, sent_valid, not_in_class, held_back;
} list_counts;

/* "fp64,fp32" */
static void format_classes(char *text, size_t size, unsigned classes)
{
    size_t used = 0;
    text[0] = '\0';
    for (int cls = 0; cls < VEC_CLASS_COUNT; cls++)
        if ((classes >> cls) & 1u)
            used += (size_t)snprintf(text + used, size - used, "%s%s",
                                     used ? "," : "", vec_class_name(cls));
}

/* Whether the case is sent to the class: "yes", "no:class", "no:invalid"
 * (--numerics-only), or "-" without --class; counted. */
static const char *send_column(const runner_options *options,
                               const vec_case *c, list_counts *counts)
{
    if (!c->valid && options->numerics_only) {
        counts->held_back++;
        return "no:invalid";
    }
    if (options->cls < 0)
        return "-";
    if (!((c->classes >> options->cls) & 1u)) {
        counts->not_in_class++;
        return "no:class";
    }
    counts->sent++;
    counts->sent_valid += (size_t)c->valid;
    return "yes";
}

/* One line per selected case of a file. */
static void list_file(const runner_options *options, const vec_file *file,
                      json_t *root, FILE *out, list_counts *counts)
{
    json_t *raw_cases = json_object_get(root, "cases");
    for (size_t i = 0; i < file->n_cases; i++) {
        const vec_case *c = &file->cases[i];
        char classes[64], result[64];
        case_limits limits;
        if (!runner_is_selected(options, file->op, c->id))
            continue;
        counts->selected++;
        case_limits_compute(&limits, c, json_object_get(
                                json_array_get(raw_cases, i), "inputs"),
                            options->timeout_seconds,
                            options->timeout_per_million,
                            options->max_line_bytes);
        format_classes(classes, sizeof classes, c->classes);
        snprintf(result, sizeof result, "%s%s%s", c->valid ? "valid"
                 : "invalid", c->valid ? "" : ":", c->valid ? "" : c->error);
        fprintf(out, "%s\t%s\t%s\t%s\t%s\t%zu\t%.3g\n",
                send_column(options, c, counts), c->id, file->op, result,
                classes, limits.input_elements + limits.output_elements,
                limits.timeout);
    }
}

/* The closing comment: how many cases, and what the class would get. */
static void print_counts(const runner_options *options,
                         const list_counts *counts, FILE *out)
{
    fprintf(out, "# %zu cases selected", counts->selected);
    if (options->cls >= 0)
        fprintf(out, "; sent to class %s: %zu (%zu valid, %zu invalid); "
                "not sent: %zu not in the class", vec_class_name(options->cls),
                counts->sent, counts->sent_valid,
                counts->sent - counts->sent_valid, counts->not_in_class);
    if (options->numerics_only)
        fprintf(out, "%s%zu invalid (--numerics-only)",
                options->cls >= 0 ? ", " : "; not sent: ", counts->held_back);
    fputc('\n', out);
}

int runner_list(const runner_options *options, FILE *out, FILE *err)
{
    glob_t files;
    list_counts counts;
    int status = RUNNER_OK;
    memset(&counts, 0, sizeof counts);
    if (runner_find_vector_files(options->vectors_dir, &files, err) != 0)
        return RUNNER_USAGE;
    fprintf(out, "# sent\tid\top\tresult\tclasses\telements\ttimeout_s "
            "(class %s%s; vectors %s)\n",
            options->cls >= 0 ? vec_class_name(options->cls) : "not given",
            options->numerics_only ? ", --numerics-only" : "",
            options->vectors_dir);
    for (size_t i = 0; status == RUNNER_OK && i < files.gl_pathc; i++) {
        vec_file file;
        json_t *root;
        char message[VEC_ERRLEN];
        if (runner_load_file(files.gl_pathv[i], &file, &root, message,
                             sizeof message) != 0) {
            fprintf(err, "lmr-run: malformed vector file: %s\n", message);
            status = RUNNER_USAGE;
            break;
        }
        list_file(options, &file, root, out, &counts);
        vec_file_free(&file);
        json_decref(root);
    }
    globfree(&files);
    if (status == RUNNER_OK && counts.selected == 0) {
        fprintf(err, "lmr-run: no case matches the --op and --id selection\n");
        status = RUNNER_USAGE;
    }
    if (status == RUNNER_OK)
        print_counts(options, &counts, out);
    return status;
}
