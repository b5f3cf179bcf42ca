/*
 * runner_input.h -- the files lmr-run reads besides the vectors: the
 * known-failures list and, in offline mode, the results file
 * (spec/protocol.md#options).
 *
 * The results file is indexed, not held: results_open() reads it once,
 * keeping each response's id and byte offset; results_fetch() reads one
 * response line again when its case comes up. Lines are bounded by
 * max_line bytes like the testee's.
 */
#ifndef LMR_RUNNER_INPUT_H
#define LMR_RUNNER_INPUT_H

#include <stddef.h>
#include <stdio.h>

/* ---- known failures ------------------------------------------------------ */

typedef struct {
    char *id;
    char *reason;     /* the rest of the line, possibly empty */
    int matched;      /* set when a case with this id was judged */
} known_entry;

typedef struct {
    size_t count;
    known_entry *entries; /* (count) */
} known_list;

/* Reads "ID [REASON]" lines ('#' starts a comment). 0, or -1 with a message
 * in err; call known_free either way. */
int known_load(known_list *list, const char *path, char *err, size_t errlen);
/* The entry for id (marked as matched), or NULL. */
known_entry *known_find(known_list *list, const char *id);
void known_free(known_list *list);

/* ---- the offline results file ---------------------------------------------- */

#define RESULTS_MAX_STRAY_MESSAGES 20

typedef struct {
    char *id;
    long offset;        /* where its line starts */
    size_t line_number; /* 1-based */
} result_entry;

typedef struct {
    FILE *file;
    size_t max_line;
    size_t count;
    result_entry *entries; /* (count) sorted by id, then line number */
    char *line;            /* the last line read, and its buffer's size */
    size_t line_cap;
    size_t n_stray;        /* lines without a usable id */
    char *stray[RESULTS_MAX_STRAY_MESSAGES]; /* messages about the first ones */
} results_index;

/* Indexes path. 0, or -1 with a message in err; call results_free either
 * way. Lines that are not JSON objects with a string id are counted as
 * stray, with a message each (up to RESULTS_MAX_STRAY_MESSAGES). */
int results_open(results_index *index, const char *path, size_t max_line,
                 char *err, size_t errlen);

/* The response line for id in *line (NUL-terminated, valid until the next
 * call), with the number of responses given for id in *copies. Returns 0
 * when there is none (*copies is then 0). */
int results_fetch(results_index *index, const char *id, char **line,
                  size_t *len, size_t *copies, size_t *first_line_number);

void results_free(results_index *index);

#endif
