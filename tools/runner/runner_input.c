/* runner_input.c -- see runner_input.h. */
#include "runner_input.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "runner_scan.h"

#define KNOWN_MAX_LINE ((size_t)65536)
#define STRAY_MESSAGE_LEN 256
#define STRAY_PROBLEM_LEN 160 /* leaves room for "line N: " */

/* ---- bounded lines ------------------------------------------------------- */

/* Makes room for one more byte and the terminating NUL, up to max + 1 bytes
 * in all; 0, or -1 when the line would exceed max or memory is short. */
static int make_room(char **text, size_t *cap, size_t len, size_t max)
{
    if (len + 2 <= *cap)
        return 0;
    if (len >= max)
        return -1;
    size_t wanted = *cap ? 2 * *cap : 4096;
    if (wanted > max + 1)
        wanted = max + 1;
    char *grown = realloc(*text, wanted);
    if (grown == NULL)
        return -1;
    *text = grown;
    *cap = wanted;
    return len + 2 <= *cap ? 0 : -1;
}

/* Reads one line of file into *text without its newline, keeping at most max
 * bytes (*too_long is set when there were more: they are skipped). Returns
 * 1, or 0 at the end of the file. */
static int read_line(FILE *file, char **text, size_t *cap, size_t max,
                     size_t *len, int *too_long)
{
    int ch = getc(file);
    *len = 0;
    *too_long = 0;
    if (ch == EOF || make_room(text, cap, 0, max) != 0)
        return 0;
    for (; ch != EOF && ch != '\n'; ch = getc(file)) {
        if (*too_long || make_room(text, cap, *len, max) != 0) {
            *too_long = 1;
            continue;
        }
        (*text)[(*len)++] = (char)ch;
    }
    (*text)[*len] = '\0';
    return 1;
}

/* 1 if text holds only white space. */
static int is_blank(const char *text)
{
    while (isspace((unsigned char)*text))
        text++;
    return *text == '\0';
}

/* ---- known failures ------------------------------------------------------ */

/* Splits "ID REASON # comment" into an entry; 0 when the line is empty. */
static int parse_known_line(char *text, known_entry *entry)
{
    char *comment = strchr(text, '#');
    if (comment != NULL)
        *comment = '\0';
    while (isspace((unsigned char)*text))
        text++;
    if (*text == '\0')
        return 0;
    char *end = text;
    while (*end != '\0' && !isspace((unsigned char)*end))
        end++;
    char *reason = end;
    while (isspace((unsigned char)*reason))
        reason++;
    size_t reason_len = strlen(reason);
    while (reason_len > 0 && isspace((unsigned char)reason[reason_len - 1]))
        reason[--reason_len] = '\0';
    *end = '\0';
    entry->id = strdup(text);
    entry->reason = strdup(reason);
    entry->matched = 0;
    return 1;
}

/* Appends the entry of one line, if any; 0, or -1 when out of memory. */
static int add_known(known_list *list, char *text)
{
    known_entry entry;
    if (!parse_known_line(text, &entry))
        return 0;
    known_entry *grown = realloc(list->entries,
                                 (list->count + 1) * sizeof *grown);
    if (grown == NULL || entry.id == NULL || entry.reason == NULL) {
        free(entry.id);
        free(entry.reason);
        if (grown != NULL)
            list->entries = grown;
        return -1;
    }
    list->entries = grown;
    list->entries[list->count++] = entry;
    return 0;
}

int known_load(known_list *list, const char *path, char *err, size_t errlen)
{
    FILE *file = fopen(path, "r");
    char *text = NULL;
    size_t cap = 0, len, line_number = 0;
    int too_long, failed = 0;
    list->count = 0;
    list->entries = NULL;
    if (file == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    while (!failed && read_line(file, &text, &cap, KNOWN_MAX_LINE, &len,
                                &too_long)) {
        line_number++;
        failed = too_long || add_known(list, text) != 0;
        if (failed)
            snprintf(err, errlen, "%s: line %zu: %s", path, line_number,
                     too_long ? "too long" : "out of memory");
    }
    free(text);
    fclose(file);
    return failed ? -1 : 0;
}

known_entry *known_find(known_list *list, const char *id)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->entries[i].id, id) == 0) {
            list->entries[i].matched = 1;
            return &list->entries[i];
        }
    return NULL;
}

void known_free(known_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->entries[i].id);
        free(list->entries[i].reason);
    }
    free(list->entries);
    list->entries = NULL;
    list->count = 0;
}

/* ---- the results file ---------------------------------------------------- */

/* Counts a line without a usable id, keeping the first messages. */
static void add_stray(results_index *index, size_t line_number,
                      const char *problem)
{
    if (index->n_stray < RESULTS_MAX_STRAY_MESSAGES) {
        char *message = malloc(STRAY_MESSAGE_LEN);
        if (message != NULL)
            snprintf(message, STRAY_MESSAGE_LEN, "line %zu: %s", line_number,
                     problem);
        index->stray[index->n_stray] = message;
    }
    index->n_stray++;
}

/* Appends an index entry; 0, or -1 when out of memory. */
static int add_result(results_index *index, const char *id, long offset,
                      size_t line_number)
{
    result_entry *grown = realloc(index->entries,
                                  (index->count + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    index->entries = grown;
    grown[index->count].id = strdup(id);
    grown[index->count].offset = offset;
    grown[index->count].line_number = line_number;
    return grown[index->count++].id ? 0 : -1;
}

/* Indexes one line: its id, or a stray-line message. The id is read from
 * the top level of the line without parsing the rest (runner_scan.h): a
 * huge line costs no more than its bytes here; it is judged, within its
 * case's limits, when the case comes up. */
static int index_line(results_index *index, size_t len, int too_long,
                      long offset, size_t line_number)
{
    char problem[STRAY_PROBLEM_LEN];
    if (too_long) {
        snprintf(problem, sizeof problem, "longer than %zu bytes",
                 index->max_line);
        add_stray(index, line_number, problem);
        return 0;
    }
    if (is_blank(index->line))
        return 0;
    char *id = scan_top_level_id(index->line, len);
    int failed = id ? add_result(index, id, offset, line_number) : 0;
    if (id == NULL)
        add_stray(index, line_number, "not a JSON object with a string "
                  "\"id\"");
    free(id);
    return failed;
}

/* qsort order: by id, then by line number. */
static int compare_results(const void *a, const void *b)
{
    const result_entry *x = a, *y = b;
    int order = strcmp(x->id, y->id);
    if (order != 0)
        return order;
    return (x->line_number > y->line_number) - (x->line_number < y->line_number);
}

int results_open(results_index *index, const char *path, size_t max_line,
                 char *err, size_t errlen)
{
    size_t len, line_number = 0;
    int too_long, failed = 0;
    memset(index, 0, sizeof *index);
    index->max_line = max_line;
    index->file = fopen(path, "r");
    if (index->file == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    long offset = ftell(index->file);
    while (!failed && read_line(index->file, &index->line, &index->line_cap,
                                max_line, &len, &too_long)) {
        failed = index_line(index, len, too_long, offset, ++line_number);
        offset = ftell(index->file);
    }
    if (failed)
        snprintf(err, errlen, "%s: out of memory", path);
    else if (ferror(index->file))
        snprintf(err, errlen, "%s: read error", path);
    qsort(index->entries, index->count, sizeof *index->entries, compare_results);
    return failed || ferror(index->file) ? -1 : 0;
}

int results_fetch(results_index *index, const char *id, char **line,
                  size_t *len, size_t *copies, size_t *first_line_number)
{
    size_t low = 0, high = index->count;
    int too_long;
    while (low < high) { /* the first entry not before key */
        size_t middle = low + (high - low) / 2;
        if (strcmp(index->entries[middle].id, id) < 0)
            low = middle + 1;
        else
            high = middle;
    }
    *copies = 0;
    while (low + *copies < index->count &&
           strcmp(index->entries[low + *copies].id, id) == 0)
        (*copies)++;
    if (*copies == 0)
        return 0;
    *first_line_number = index->entries[low].line_number;
    if (fseek(index->file, index->entries[low].offset, SEEK_SET) != 0 ||
        !read_line(index->file, &index->line, &index->line_cap,
                   index->max_line, len, &too_long))
        return 0;
    *line = index->line;
    return 1;
}

void results_free(results_index *index)
{
    for (size_t i = 0; i < index->count; i++)
        free(index->entries[i].id);
    for (size_t i = 0; i < index->n_stray && i < RESULTS_MAX_STRAY_MESSAGES; i++)
        free(index->stray[i]);
    free(index->entries);
    free(index->line);
    if (index->file != NULL)
        fclose(index->file);
    memset(index, 0, sizeof *index);
}
