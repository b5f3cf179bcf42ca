/*
 * errors.c -- TAP test of every documented error of every public lmref
 * function (ref/lmr_*.h, spec/conventions.md, spec/embedding.md,
 * spec/sinusoid.md, spec/layernorm.md).
 *
 * Why: a reference that accepts bad input, or reports it with the wrong code,
 * lets the bug it exists to expose pass silently. So each bad input is its own
 * TAP line that asserts the exact status the headers and the spec document,
 * followed by a line checking that the output array still holds a sentinel:
 * the library promises to write nothing unless it returns LMR_OK
 * (lmr_status.h), including when the bad entry is in the last row.
 *
 * Calls whose size products overflow pass small dummy arrays whose last entry
 * is a tripwire (a NaN, an out-of-range id): a library that reads before it
 * checks the sizes stops there with a wrong code instead of running off the
 * end of the array, so the failure is visible without a crash.
 *
 * The status-name functions are checked for every code, and n = 0 (an empty
 * batch) must be accepted by every op.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lmr.h"
#include "check.h"
#include "tap.h"

/* ---- fixtures ------------------------------------------------------------ */

enum {
    VOCAB = 3,        /* rows of TABLE_E */
    WIDTH = 2,        /* d of every fixture */
    BATCH = 3,        /* n of every fixture */
    MAX_LEN = 4,      /* rows of TABLE_P */
    OUT_CAPACITY = 64 /* doubles in every output buffer */
};

static const double SENTINEL = 12345.0;
static const double BASE = LMR_SINUSOID_DEFAULT_BASE;
static const double EPS = LMR_LAYERNORM_DEFAULT_EPS;
static const int64_t TWO_POW_53 = LMR_SINUSOID_MAX_POSITION;

/* E: (VOCAB, WIDTH) */
static const double TABLE_E[VOCAB * WIDTH] = {0.5, -1.0, 2.0, 0.25, -3.0, 4.0};
/* P: (MAX_LEN, WIDTH) */
static const double TABLE_P[MAX_LEN * WIDTH] = {1, 2, 3, 4, 5, 6, 7, 8};
/* ids, positions: (BATCH), all valid for the tables above */
static const int64_t GOOD_IDS[BATCH] = {2, 0, 1};
static const int64_t GOOD_POSITIONS[BATCH] = {3, 0, 1};
/* one-hot of GOOD_IDS: (BATCH, VOCAB) */
static const double GOOD_ONEHOT[BATCH * VOCAB] = {0, 0, 1, 1, 0, 0, 0, 1, 0};
/* LayerNorm input: (BATCH, WIDTH); gamma, beta: (WIDTH) */
static const double GOOD_X[BATCH * WIDTH] = {1, 2, -3, 5, 0.5, 0.25};
static const double GOOD_GAMMA[WIDTH] = {1.5, -2.0};
static const double GOOD_BETA[WIDTH] = {0.0, 0.125};

/* Views of the fixtures. */
static lmr_mat e_view(void) { return lmr_mat_of(TABLE_E, VOCAB, WIDTH); }
static lmr_mat p_view(void) { return lmr_mat_of(TABLE_P, MAX_LEN, WIDTH); }
static lmr_mat x_view(void) { return lmr_mat_of(GOOD_X, BATCH, WIDTH); }
static lmr_vec gamma_view(void) { return lmr_vec_of(GOOD_GAMMA, WIDTH); }
static lmr_vec beta_view(void) { return lmr_vec_of(GOOD_BETA, WIDTH); }

/* Dummy arrays for calls whose sizes overflow; the last entry is a tripwire.
 * TRIPWIRE_VALUES, TRIPWIRE_IDS: (4) */
static const double TRIPWIRE_VALUES[4] = {1.0, 1.0, 1.0, NAN};
static const int64_t TRIPWIRE_IDS[4] = {0, 0, 0, -1};

/* Sizes whose products with 2, 3 or 8 (bytes) overflow size_t. */
static const size_t HUGE_SIZE = SIZE_MAX / 2;
/* A count whose product with 8 bytes fits, but not with 3 * 8. */
static const size_t LARGE_SIZE = SIZE_MAX / 16;

/* ---- helpers ------------------------------------------------------------- */

/* out: (OUT_CAPACITY) */
static void fill_sentinel(double *out)
{
    for (size_t i = 0; i < OUT_CAPACITY; i++)
        out[i] = SENTINEL;
}

/* 1 if out (OUT_CAPACITY) still holds the sentinel everywhere. */
static int untouched(const double *out)
{
    for (size_t i = 0; i < OUT_CAPACITY; i++)
        if (memcmp(&out[i], &SENTINEL, sizeof SENTINEL) != 0)
            return 0;
    return 1;
}

/* Two TAP lines: the call returned `expected` and left out (OUT_CAPACITY)
 * untouched. */
static void expect_rejected(int status, int expected, const double *out,
                            const char *what)
{
    expect_status(status, expected, what);
    tap_ok(untouched(out), "%s: output not written", what);
}

/* ---- status names -------------------------------------------------------- */

struct status_case {
    int code;
    const char *name;
};

static const struct status_case STATUS_CODES[] = {
    {LMR_OK, "LMR_OK"},
    {LMR_EINVAL, "LMR_EINVAL"},
    {LMR_EDIM, "LMR_EDIM"},
    {LMR_EOVERFLOW, "LMR_EOVERFLOW"},
    {LMR_EINDEX, "LMR_EINDEX"},
    {LMR_EPOS, "LMR_EPOS"},
    {LMR_ENONFINITE, "LMR_ENONFINITE"},
    {LMR_EDOMAIN, "LMR_EDOMAIN"},
    {LMR_ENOMEM, "LMR_ENOMEM"},
    {LMR_ERANGE, "LMR_ERANGE"},
};
enum { STATUS_COUNT = sizeof STATUS_CODES / sizeof STATUS_CODES[0] };

/* 1 if no two known codes share a description. */
static int descriptions_distinct(void)
{
    for (size_t a = 0; a < STATUS_COUNT; a++)
        for (size_t b = a + 1; b < STATUS_COUNT; b++)
            if (strcmp(lmr_strerror(STATUS_CODES[a].code),
                       lmr_strerror(STATUS_CODES[b].code)) == 0)
                return 0;
    return 1;
}

static void test_status_names(void)
{
    const char *unknown_text = lmr_strerror(-1);
    for (size_t i = 0; i < STATUS_COUNT; i++) {
        int code = STATUS_CODES[i].code;
        const char *name = STATUS_CODES[i].name;
        const char *text = lmr_strerror(code);
        tap_ok(strcmp(lmr_status_name(code), name) == 0,
               "lmr_status_name(%d) is %s", code, name);
        tap_ok(lmr_status_from_name(lmr_status_name(code)) == code,
               "lmr_status_from_name(lmr_status_name(%s)) round-trips", name);
        tap_ok(text != NULL && text[0] != '\0' && unknown_text != NULL
                   && strcmp(text, unknown_text) != 0,
               "lmr_strerror(%s) has its own description", name);
    }
    tap_ok(descriptions_distinct(), "lmr_strerror: descriptions are distinct");
    tap_ok(strcmp(lmr_status_name(-1), "LMR_UNKNOWN") == 0
               && strcmp(lmr_status_name(LMR_ERANGE + 1), "LMR_UNKNOWN") == 0,
           "lmr_status_name of an unknown code is LMR_UNKNOWN");
    tap_ok(unknown_text != NULL && lmr_strerror(LMR_ERANGE + 1) != NULL,
           "lmr_strerror of an unknown code is a string");
    tap_ok(lmr_status_from_name("LMR_UNKNOWN") == -1
               && lmr_status_from_name("LMR_BOGUS") == -1
               && lmr_status_from_name("") == -1
               && lmr_status_from_name("LMR_OKAY") == -1,
           "lmr_status_from_name of an unknown name is -1");
}

static void test_array_count(void)
{
    size_t count = 7;
    tap_ok(lmr_array_count(&count, 3, 4) == LMR_OK && count == 12,
           "lmr_array_count(3, 4) is 12");
    count = 7;
    tap_ok(lmr_array_count(&count, 0, SIZE_MAX) == LMR_OK && count == 0,
           "lmr_array_count(0, SIZE_MAX) is 0");
    count = 7;
    tap_ok(lmr_array_count(&count, SIZE_MAX / 8, 1) == LMR_OK
               && count == SIZE_MAX / 8,
           "lmr_array_count(SIZE_MAX/8, 1) fits");
    count = 7;
    expect_status(lmr_array_count(&count, SIZE_MAX / 8 + 1, 1), LMR_EOVERFLOW,
                  "lmr_array_count(SIZE_MAX/8 + 1, 1): bytes overflow");
    tap_ok(count == 7, "lmr_array_count: count not written on overflow");
    expect_status(lmr_array_count(&count, HUGE_SIZE, 3), LMR_EOVERFLOW,
                  "lmr_array_count(SIZE_MAX/2, 3): product overflows");
}

/* ---- lmr_embed_lookup ----------------------------------------------------- */

struct lookup_args {
    const double *table; /* E: (vocab, d) */
    const int64_t *ids;  /* (n) */
    size_t n, vocab, d;
};

static struct lookup_args lookup_defaults(void)
{
    struct lookup_args args = {TABLE_E, GOOD_IDS, BATCH, VOCAB, WIDTH};
    return args;
}

/* Runs lmr_embed_lookup into a fresh sentinel-filled out (OUT_CAPACITY). */
static int run_lookup(struct lookup_args args, double *out)
{
    fill_sentinel(out);
    return lmr_embed_lookup(lmr_mat_out_of(out, args.n, args.d),
                            lmr_mat_of(args.table, args.vocab, args.d),
                            lmr_ids_of(args.ids, args.n));
}

static void lookup_rejects(struct lookup_args args, int expected,
                           const char *what)
{
    double out[OUT_CAPACITY];
    expect_rejected(run_lookup(args, out), expected, out, what);
}

/* Rejections of a bad id placed in the last slot of the batch. */
static void lookup_bad_id(int64_t bad_id, const char *what)
{
    int64_t ids[BATCH] = {0, 1, bad_id}; /* (BATCH) */
    struct lookup_args args = lookup_defaults();
    args.ids = ids;
    lookup_rejects(args, LMR_EINDEX, what);
}

/* Rejections of a non-finite entry in a row no id reads. */
static void lookup_bad_table(double bad_value, const char *what)
{
    double table[VOCAB * WIDTH]; /* (VOCAB, WIDTH) */
    int64_t ids[BATCH] = {0, 0, 1}; /* row 2 is never read */
    struct lookup_args args = lookup_defaults();
    copy_with(table, TABLE_E, VOCAB * WIDTH, 2 * WIDTH + 1, bad_value);
    args.table = table;
    args.ids = ids;
    lookup_rejects(args, LMR_ENONFINITE, what);
}

static void test_lookup_valid(void)
{
    double out[OUT_CAPACITY];
    struct lookup_args args = lookup_defaults();
    int status = run_lookup(args, out);
    tap_ok(status == LMR_OK
               && memcmp(out, TABLE_E + 2 * WIDTH, WIDTH * sizeof *out) == 0
               && memcmp(out + 2 * WIDTH, TABLE_E + WIDTH,
                         WIDTH * sizeof *out) == 0,
           "lmr_embed_lookup: valid call copies the rows");
    args.ids = (const int64_t[1]){VOCAB - 1};
    args.n = 1;
    expect_status(run_lookup(args, out), LMR_OK,
                  "lmr_embed_lookup: id |V|-1 is accepted");
}

static void test_lookup_sizes(void)
{
    struct lookup_args args = lookup_defaults();
    args.d = 0;
    lookup_rejects(args, LMR_EDIM, "lmr_embed_lookup: d = 0");
    args = lookup_defaults();
    args.vocab = 0;
    lookup_rejects(args, LMR_EDIM, "lmr_embed_lookup: |V| = 0");

    args = lookup_defaults();
    args.table = TRIPWIRE_VALUES;
    args.ids = (const int64_t[1]){0};
    args.n = 1;
    args.vocab = HUGE_SIZE;
    args.d = 3;
    lookup_rejects(args, LMR_EOVERFLOW,
                   "lmr_embed_lookup: |V|*d overflows (|V| = SIZE_MAX/2, d = 3)");
    args = lookup_defaults();
    args.table = TRIPWIRE_VALUES;
    args.ids = TRIPWIRE_IDS;
    args.n = HUGE_SIZE;
    args.vocab = 1;
    args.d = 3;
    lookup_rejects(args, LMR_EOVERFLOW,
                   "lmr_embed_lookup: n*d overflows (n = SIZE_MAX/2, d = 3)");
}

static void test_lookup_null_and_empty(void)
{
    double out[OUT_CAPACITY];
    struct lookup_args args = lookup_defaults();
    args.table = NULL;
    lookup_rejects(args, LMR_EINVAL, "lmr_embed_lookup: E is NULL");
    args = lookup_defaults();
    args.ids = NULL;
    lookup_rejects(args, LMR_EINVAL, "lmr_embed_lookup: ids is NULL, n > 0");
    expect_status(lmr_embed_lookup(lmr_mat_out_of(NULL, BATCH, WIDTH), e_view(),
                                   lmr_ids_of(GOOD_IDS, BATCH)),
                  LMR_EINVAL, "lmr_embed_lookup: out is NULL, n > 0");

    expect_status(lmr_embed_lookup(lmr_mat_out_of(NULL, 0, WIDTH), e_view(),
                                   lmr_ids_of(NULL, 0)),
                  LMR_OK, "lmr_embed_lookup: n = 0 with NULL out and ids");
    args = lookup_defaults();
    args.n = 0;
    expect_rejected(run_lookup(args, out), LMR_OK, out,
                    "lmr_embed_lookup: n = 0");
}

static void test_lookup(void)
{
    test_lookup_valid();
    lookup_bad_id(VOCAB, "lmr_embed_lookup: id == |V|");
    lookup_bad_id(-1, "lmr_embed_lookup: id -1");
    lookup_bad_id(INT64_MAX, "lmr_embed_lookup: id INT64_MAX");
    lookup_bad_id(INT64_MIN, "lmr_embed_lookup: id INT64_MIN");
    lookup_bad_table(NAN, "lmr_embed_lookup: NaN in an unread row of E");
    lookup_bad_table(INFINITY, "lmr_embed_lookup: +inf in an unread row of E");
    lookup_bad_table(-INFINITY, "lmr_embed_lookup: -inf in an unread row of E");
    test_lookup_sizes();
    test_lookup_null_and_empty();
}

/* ---- lmr_embed_onehot ----------------------------------------------------- */

struct onehot_args {
    const double *onehot; /* (n, vocab) */
    const double *table;  /* E: (vocab, d) */
    size_t n, vocab, d;
};

static struct onehot_args onehot_defaults(void)
{
    struct onehot_args args = {GOOD_ONEHOT, TABLE_E, BATCH, VOCAB, WIDTH};
    return args;
}

/* Runs lmr_embed_onehot into a fresh sentinel-filled out (OUT_CAPACITY). */
static int run_onehot(struct onehot_args args, double *out)
{
    fill_sentinel(out);
    return lmr_embed_onehot(lmr_mat_out_of(out, args.n, args.d),
                            lmr_mat_of(args.onehot, args.n, args.vocab),
                            lmr_mat_of(args.table, args.vocab, args.d));
}

static void onehot_rejects(struct onehot_args args, int expected,
                           const char *what)
{
    double out[OUT_CAPACITY];
    expect_rejected(run_onehot(args, out), expected, out, what);
}

/* The last row of the one-hot matrix replaced by last_row (VOCAB). */
static void onehot_bad_row(const double *last_row, const char *what)
{
    double onehot[BATCH * VOCAB]; /* (BATCH, VOCAB) */
    struct onehot_args args = onehot_defaults();
    memcpy(onehot, GOOD_ONEHOT, sizeof onehot);
    memcpy(onehot + (BATCH - 1) * VOCAB, last_row, VOCAB * sizeof *onehot);
    args.onehot = onehot;
    onehot_rejects(args, LMR_EDOMAIN, what);
}

/* A non-finite entry in row 2 of E (multiplied by zeros only). */
static void onehot_bad_table(double bad_value, const char *what)
{
    double table[VOCAB * WIDTH]; /* (VOCAB, WIDTH) */
    /* (BATCH, VOCAB): never selects row 2 */
    static const double onehot[BATCH * VOCAB] = {1, 0, 0, 0, 1, 0, 1, 0, 0};
    struct onehot_args args = onehot_defaults();
    copy_with(table, TABLE_E, VOCAB * WIDTH, 2 * WIDTH, bad_value);
    args.table = table;
    args.onehot = onehot;
    onehot_rejects(args, LMR_ENONFINITE, what);
}

static void test_onehot_not_onehot(void)
{
    onehot_bad_row((const double[VOCAB]){1, 1, 0},
                   "lmr_embed_onehot: row with two ones");
    onehot_bad_row((const double[VOCAB]){0, 0, 0},
                   "lmr_embed_onehot: row with no one");
    onehot_bad_row((const double[VOCAB]){0.5, 0.5, 0},
                   "lmr_embed_onehot: entries 0.5");
    onehot_bad_row((const double[VOCAB]){0, 0.5, 1},
                   "lmr_embed_onehot: a one plus an entry 0.5");
    onehot_bad_row((const double[VOCAB]){2, 0, 0},
                   "lmr_embed_onehot: entry 2");
    onehot_bad_row((const double[VOCAB]){-1, 1, 1},
                   "lmr_embed_onehot: entry -1 (row sums to 1)");
    onehot_bad_row((const double[VOCAB]){NAN, 1, 0},
                   "lmr_embed_onehot: entry NaN");
    onehot_bad_row((const double[VOCAB]){0, 1, INFINITY},
                   "lmr_embed_onehot: entry +inf");
    onehot_bad_row((const double[VOCAB]){0x1p-1074, 1, 0},
                   "lmr_embed_onehot: entry 2^-1074 (not exactly 0)");
}

static void test_onehot_sizes(void)
{
    struct onehot_args args = onehot_defaults();
    args.d = 0;
    onehot_rejects(args, LMR_EDIM, "lmr_embed_onehot: d = 0");
    args = onehot_defaults();
    args.vocab = 0;
    onehot_rejects(args, LMR_EDIM, "lmr_embed_onehot: |V| = 0");

    args.onehot = (const double[1]){1};
    args.table = TRIPWIRE_VALUES;
    args.n = 1;
    args.vocab = HUGE_SIZE;
    args.d = 3;
    onehot_rejects(args, LMR_EOVERFLOW,
                   "lmr_embed_onehot: |V|*d overflows (|V| = SIZE_MAX/2, d = 3)");
    args.onehot = TRIPWIRE_VALUES;
    args.n = LARGE_SIZE;
    args.vocab = 3;
    args.d = 1;
    onehot_rejects(args, LMR_EOVERFLOW,
                   "lmr_embed_onehot: n*|V| overflows (n = SIZE_MAX/16, |V| = 3)");
    args.onehot = TRIPWIRE_VALUES;
    args.n = LARGE_SIZE;
    args.vocab = 1;
    args.d = 3;
    onehot_rejects(args, LMR_EOVERFLOW,
                   "lmr_embed_onehot: n*d overflows (n = SIZE_MAX/16, d = 3)");
}

static void test_onehot_null_and_empty(void)
{
    double out[OUT_CAPACITY];
    struct onehot_args args = onehot_defaults();
    args.table = NULL;
    onehot_rejects(args, LMR_EINVAL, "lmr_embed_onehot: E is NULL");
    args = onehot_defaults();
    args.onehot = NULL;
    onehot_rejects(args, LMR_EINVAL, "lmr_embed_onehot: onehot is NULL, n > 0");
    expect_status(lmr_embed_onehot(lmr_mat_out_of(NULL, BATCH, WIDTH),
                                   lmr_mat_of(GOOD_ONEHOT, BATCH, VOCAB),
                                   e_view()),
                  LMR_EINVAL, "lmr_embed_onehot: out is NULL, n > 0");

    expect_status(lmr_embed_onehot(lmr_mat_out_of(NULL, 0, WIDTH),
                                   lmr_mat_of(NULL, 0, VOCAB), e_view()),
                  LMR_OK, "lmr_embed_onehot: n = 0 with NULL out and onehot");
    args = onehot_defaults();
    args.n = 0;
    expect_rejected(run_onehot(args, out), LMR_OK, out,
                    "lmr_embed_onehot: n = 0");
}

static void test_onehot(void)
{
    double out[OUT_CAPACITY];
    expect_status(run_onehot(onehot_defaults(), out), LMR_OK,
                  "lmr_embed_onehot: valid call");
    test_onehot_not_onehot();
    onehot_bad_table(NAN, "lmr_embed_onehot: NaN in an unselected row of E");
    onehot_bad_table(INFINITY, "lmr_embed_onehot: +inf in an unselected row of E");
    onehot_bad_table(-INFINITY, "lmr_embed_onehot: -inf in an unselected row of E");
    test_onehot_sizes();
    test_onehot_null_and_empty();
}

/* ---- lmr_pos_learned ------------------------------------------------------ */

struct learned_args {
    const double *table;      /* P: (max_len, d) */
    const int64_t *positions; /* (n) */
    size_t n, max_len, d;
};

static struct learned_args learned_defaults(void)
{
    struct learned_args args = {TABLE_P, GOOD_POSITIONS, BATCH, MAX_LEN, WIDTH};
    return args;
}

/* Runs lmr_pos_learned into a fresh sentinel-filled out (OUT_CAPACITY). */
static int run_learned(struct learned_args args, double *out)
{
    fill_sentinel(out);
    return lmr_pos_learned(lmr_mat_out_of(out, args.n, args.d),
                           lmr_mat_of(args.table, args.max_len, args.d),
                           lmr_ids_of(args.positions, args.n));
}

static void learned_rejects(struct learned_args args, int expected,
                            const char *what)
{
    double out[OUT_CAPACITY];
    expect_rejected(run_learned(args, out), expected, out, what);
}

/* A bad position in the last slot of the batch. */
static void learned_bad_position(int64_t bad_position, const char *what)
{
    int64_t positions[BATCH] = {0, 1, bad_position}; /* (BATCH) */
    struct learned_args args = learned_defaults();
    args.positions = positions;
    learned_rejects(args, LMR_EPOS, what);
}

/* A non-finite entry in row 2 of P, which no position reads. */
static void learned_bad_table(double bad_value, const char *what)
{
    double table[MAX_LEN * WIDTH]; /* (MAX_LEN, WIDTH) */
    int64_t positions[BATCH] = {0, 1, 3}; /* (BATCH) */
    struct learned_args args = learned_defaults();
    copy_with(table, TABLE_P, MAX_LEN * WIDTH, 2 * WIDTH, bad_value);
    args.table = table;
    args.positions = positions;
    learned_rejects(args, LMR_ENONFINITE, what);
}

static void test_learned_sizes(void)
{
    struct learned_args args = learned_defaults();
    args.d = 0;
    learned_rejects(args, LMR_EDIM, "lmr_pos_learned: d = 0");
    args = learned_defaults();
    args.max_len = 0;
    learned_rejects(args, LMR_EDIM, "lmr_pos_learned: L = 0");

    args.table = TRIPWIRE_VALUES;
    args.positions = (const int64_t[1]){0};
    args.n = 1;
    args.max_len = HUGE_SIZE;
    args.d = 3;
    learned_rejects(args, LMR_EOVERFLOW,
                    "lmr_pos_learned: L*d overflows (L = SIZE_MAX/2, d = 3)");
    args.positions = TRIPWIRE_IDS;
    args.n = HUGE_SIZE;
    args.max_len = 1;
    learned_rejects(args, LMR_EOVERFLOW,
                    "lmr_pos_learned: n*d overflows (n = SIZE_MAX/2, d = 3)");
}

static void test_learned_null_and_empty(void)
{
    double out[OUT_CAPACITY];
    struct learned_args args = learned_defaults();
    args.table = NULL;
    learned_rejects(args, LMR_EINVAL, "lmr_pos_learned: P is NULL");
    args = learned_defaults();
    args.positions = NULL;
    learned_rejects(args, LMR_EINVAL, "lmr_pos_learned: positions is NULL, n > 0");
    expect_status(lmr_pos_learned(lmr_mat_out_of(NULL, BATCH, WIDTH), p_view(),
                                  lmr_ids_of(GOOD_POSITIONS, BATCH)),
                  LMR_EINVAL, "lmr_pos_learned: out is NULL, n > 0");

    expect_status(lmr_pos_learned(lmr_mat_out_of(NULL, 0, WIDTH), p_view(),
                                  lmr_ids_of(NULL, 0)),
                  LMR_OK, "lmr_pos_learned: n = 0 with NULL out and positions");
    args = learned_defaults();
    args.n = 0;
    expect_rejected(run_learned(args, out), LMR_OK, out,
                    "lmr_pos_learned: n = 0");
}

static void test_learned(void)
{
    double out[OUT_CAPACITY];
    struct learned_args args = learned_defaults();
    args.positions = (const int64_t[1]){MAX_LEN - 1};
    args.n = 1;
    expect_status(run_learned(args, out), LMR_OK,
                  "lmr_pos_learned: position L-1 is accepted");
    learned_bad_position(MAX_LEN, "lmr_pos_learned: position == L");
    learned_bad_position(-1, "lmr_pos_learned: position -1");
    learned_bad_position(INT64_MAX, "lmr_pos_learned: position INT64_MAX");
    learned_bad_position(INT64_MIN, "lmr_pos_learned: position INT64_MIN");
    learned_bad_table(NAN, "lmr_pos_learned: NaN in an unread row of P");
    learned_bad_table(INFINITY, "lmr_pos_learned: +inf in an unread row of P");
    learned_bad_table(-INFINITY, "lmr_pos_learned: -inf in an unread row of P");
    test_learned_sizes();
    test_learned_null_and_empty();
}

/* ---- lmr_pos_sinusoid ------------------------------------------------------ */

struct sinusoid_args {
    const int64_t *positions; /* (n) */
    size_t n, d;
    double base;
};

static struct sinusoid_args sinusoid_defaults(void)
{
    struct sinusoid_args args = {GOOD_POSITIONS, BATCH, WIDTH, BASE};
    return args;
}

/* Runs lmr_pos_sinusoid into a fresh sentinel-filled out (OUT_CAPACITY). */
static int run_sinusoid(struct sinusoid_args args, double *out)
{
    fill_sentinel(out);
    return lmr_pos_sinusoid(lmr_mat_out_of(out, args.n, args.d),
                            lmr_ids_of(args.positions, args.n), args.base);
}

static void sinusoid_rejects(struct sinusoid_args args, int expected,
                             const char *what)
{
    double out[OUT_CAPACITY];
    expect_rejected(run_sinusoid(args, out), expected, out, what);
}

static void sinusoid_bad_position(int64_t bad_position, const char *what)
{
    int64_t positions[BATCH] = {0, 1, bad_position}; /* (BATCH) */
    struct sinusoid_args args = sinusoid_defaults();
    args.positions = positions;
    sinusoid_rejects(args, LMR_EPOS, what);
}

static void sinusoid_bad_base(double base, int expected, const char *what)
{
    struct sinusoid_args args = sinusoid_defaults();
    args.base = base;
    sinusoid_rejects(args, expected, what);
}

static void test_sinusoid_accepts(void)
{
    double out[OUT_CAPACITY];
    struct sinusoid_args args = sinusoid_defaults();
    args.positions = (const int64_t[1]){TWO_POW_53};
    args.n = 1;
    expect_status(run_sinusoid(args, out), LMR_OK,
                  "lmr_pos_sinusoid: position 2^53 is accepted");
    args = sinusoid_defaults();
    args.base = nextafter(1.0, 2.0);
    expect_status(run_sinusoid(args, out), LMR_OK,
                  "lmr_pos_sinusoid: base 1 + 2^-52 is accepted");
    args = sinusoid_defaults();
    args.d = 1;
    expect_status(run_sinusoid(args, out), LMR_OK,
                  "lmr_pos_sinusoid: d = 1 is accepted");
}

static void test_sinusoid_params(void)
{
    struct sinusoid_args args = sinusoid_defaults();
    args.d = 0;
    sinusoid_rejects(args, LMR_EDIM, "lmr_pos_sinusoid: d = 0");
    sinusoid_bad_base(NAN, LMR_ENONFINITE, "lmr_pos_sinusoid: base NaN");
    sinusoid_bad_base(INFINITY, LMR_ENONFINITE, "lmr_pos_sinusoid: base +inf");
    sinusoid_bad_base(-INFINITY, LMR_ENONFINITE, "lmr_pos_sinusoid: base -inf");
    sinusoid_bad_base(1.0, LMR_EDOMAIN, "lmr_pos_sinusoid: base 1");
    sinusoid_bad_base(nextafter(1.0, 0.0), LMR_EDOMAIN,
                      "lmr_pos_sinusoid: base 1 - 2^-53");
    sinusoid_bad_base(0.5, LMR_EDOMAIN, "lmr_pos_sinusoid: base 0.5");
    sinusoid_bad_base(0.0, LMR_EDOMAIN, "lmr_pos_sinusoid: base 0");
    sinusoid_bad_base(-10000.0, LMR_EDOMAIN, "lmr_pos_sinusoid: base -10000");
}

static void test_sinusoid_null_and_empty(void)
{
    double out[OUT_CAPACITY];
    struct sinusoid_args args = sinusoid_defaults();
    args.positions = NULL;
    sinusoid_rejects(args, LMR_EINVAL, "lmr_pos_sinusoid: positions is NULL, n > 0");
    expect_status(lmr_pos_sinusoid(lmr_mat_out_of(NULL, BATCH, WIDTH),
                                   lmr_ids_of(GOOD_POSITIONS, BATCH), BASE),
                  LMR_EINVAL, "lmr_pos_sinusoid: out is NULL, n > 0");

    args.positions = TRIPWIRE_IDS;
    args.n = HUGE_SIZE;
    args.d = 3;
    sinusoid_rejects(args, LMR_EOVERFLOW,
                     "lmr_pos_sinusoid: n*d overflows (n = SIZE_MAX/2, d = 3)");

    expect_status(lmr_pos_sinusoid(lmr_mat_out_of(NULL, 0, WIDTH),
                                   lmr_ids_of(NULL, 0), BASE),
                  LMR_OK, "lmr_pos_sinusoid: n = 0 with NULL out and positions");
    args = sinusoid_defaults();
    args.n = 0;
    expect_rejected(run_sinusoid(args, out), LMR_OK, out,
                    "lmr_pos_sinusoid: n = 0");
}

/* lmr_pos_sinusoid_element documents NaN for arguments it does not accept. */
static void test_sinusoid_element(void)
{
    tap_ok(isnan(lmr_pos_sinusoid_element(-1, 0, 4, BASE)),
           "lmr_pos_sinusoid_element: position -1 gives NaN");
    tap_ok(isnan(lmr_pos_sinusoid_element(TWO_POW_53 + 1, 0, 4, BASE)),
           "lmr_pos_sinusoid_element: position 2^53 + 1 gives NaN");
    tap_ok(isnan(lmr_pos_sinusoid_element(1, 4, 4, BASE)),
           "lmr_pos_sinusoid_element: column j == d gives NaN");
    tap_ok(isnan(lmr_pos_sinusoid_element(1, 0, 0, BASE)),
           "lmr_pos_sinusoid_element: d = 0 gives NaN");
    tap_ok(isnan(lmr_pos_sinusoid_element(1, 0, 4, 1.0)),
           "lmr_pos_sinusoid_element: base 1 gives NaN");
    tap_ok(isnan(lmr_pos_sinusoid_element(1, 0, 4, NAN))
               && isnan(lmr_pos_sinusoid_element(1, 0, 4, INFINITY)),
           "lmr_pos_sinusoid_element: base NaN or +inf gives NaN");
    tap_ok(isfinite(lmr_pos_sinusoid_element(TWO_POW_53, 3, 4, BASE)),
           "lmr_pos_sinusoid_element: position 2^53, column d-1 is a value");
}

static void test_sinusoid(void)
{
    test_sinusoid_accepts();
    sinusoid_bad_position(-1, "lmr_pos_sinusoid: position -1");
    sinusoid_bad_position(TWO_POW_53 + 1, "lmr_pos_sinusoid: position 2^53 + 1");
    sinusoid_bad_position(INT64_MAX, "lmr_pos_sinusoid: position INT64_MAX");
    sinusoid_bad_position(INT64_MIN, "lmr_pos_sinusoid: position INT64_MIN");
    test_sinusoid_params();
    test_sinusoid_null_and_empty();
    test_sinusoid_element();
}

/* ---- lmr_layernorm ----------------------------------------------------------- */

struct layernorm_args {
    const double *in;    /* x: (n, d) */
    const double *gamma; /* (d) */
    const double *beta;  /* (d) */
    size_t n, d;
    double eps;
};

static struct layernorm_args layernorm_defaults(void)
{
    struct layernorm_args args = {GOOD_X, GOOD_GAMMA, GOOD_BETA,
                                  BATCH, WIDTH, EPS};
    return args;
}

/* Runs lmr_layernorm into a fresh sentinel-filled out (OUT_CAPACITY). */
static int run_layernorm(struct layernorm_args args, double *out)
{
    fill_sentinel(out);
    return lmr_layernorm(lmr_mat_out_of(out, args.n, args.d),
                         lmr_mat_of(args.in, args.n, args.d),
                         lmr_vec_of(args.gamma, args.d),
                         lmr_vec_of(args.beta, args.d), args.eps);
}

static void layernorm_rejects(struct layernorm_args args, int expected,
                              const char *what)
{
    double out[OUT_CAPACITY];
    expect_rejected(run_layernorm(args, out), expected, out, what);
}

/* A non-finite value in the last element of x, gamma or beta. */
static void layernorm_bad_input(double bad_value, const char *what)
{
    double x[BATCH * WIDTH], gamma[WIDTH], beta[WIDTH]; /* (BATCH, WIDTH), (WIDTH) x2 */
    char name[128];
    struct layernorm_args args = layernorm_defaults();
    copy_with(x, GOOD_X, BATCH * WIDTH, BATCH * WIDTH - 1, bad_value);
    args.in = x;
    snprintf(name, sizeof name, "lmr_layernorm: %s in the last row of x", what);
    layernorm_rejects(args, LMR_ENONFINITE, name);

    args = layernorm_defaults();
    copy_with(gamma, GOOD_GAMMA, WIDTH, WIDTH - 1, bad_value);
    args.gamma = gamma;
    snprintf(name, sizeof name, "lmr_layernorm: %s in gamma", what);
    layernorm_rejects(args, LMR_ENONFINITE, name);

    args = layernorm_defaults();
    copy_with(beta, GOOD_BETA, WIDTH, WIDTH - 1, bad_value);
    args.beta = beta;
    snprintf(name, sizeof name, "lmr_layernorm: %s in beta", what);
    layernorm_rejects(args, LMR_ENONFINITE, name);

    args = layernorm_defaults();
    args.eps = bad_value;
    snprintf(name, sizeof name, "lmr_layernorm: eps %s", what);
    layernorm_rejects(args, LMR_ENONFINITE, name);
}

static void layernorm_bad_eps(double eps, const char *what)
{
    struct layernorm_args args = layernorm_defaults();
    args.eps = eps;
    layernorm_rejects(args, LMR_EDOMAIN, what);
}

static void test_layernorm_sizes(void)
{
    struct layernorm_args args = layernorm_defaults();
    args.d = 0;
    layernorm_rejects(args, LMR_EDIM, "lmr_layernorm: d = 0");

    args.in = TRIPWIRE_VALUES;
    args.gamma = TRIPWIRE_VALUES;
    args.beta = TRIPWIRE_VALUES;
    args.n = HUGE_SIZE;
    args.d = 3;
    layernorm_rejects(args, LMR_EOVERFLOW,
                      "lmr_layernorm: n*d overflows (n = SIZE_MAX/2, d = 3)");
    /* gamma and beta hold d doubles, so d*8 bytes must fit even when n = 0 */
    args.n = 0;
    args.d = HUGE_SIZE;
    expect_status(lmr_layernorm(lmr_mat_out_of(NULL, 0, args.d),
                                lmr_mat_of(NULL, 0, args.d),
                                lmr_vec_of(args.gamma, args.d),
                                lmr_vec_of(args.beta, args.d), args.eps),
                  LMR_EOVERFLOW,
                  "lmr_layernorm: d*8 bytes overflow (n = 0, d = SIZE_MAX/2)");
}

static void test_layernorm_null_and_empty(void)
{
    double out[OUT_CAPACITY];
    struct layernorm_args args = layernorm_defaults();
    args.in = NULL;
    layernorm_rejects(args, LMR_EINVAL, "lmr_layernorm: x is NULL, n > 0");
    args = layernorm_defaults();
    args.gamma = NULL;
    layernorm_rejects(args, LMR_EINVAL, "lmr_layernorm: gamma is NULL");
    args = layernorm_defaults();
    args.beta = NULL;
    layernorm_rejects(args, LMR_EINVAL, "lmr_layernorm: beta is NULL");
    expect_status(lmr_layernorm(lmr_mat_out_of(NULL, BATCH, WIDTH), x_view(),
                                gamma_view(), beta_view(), EPS),
                  LMR_EINVAL, "lmr_layernorm: out is NULL, n > 0");

    expect_status(lmr_layernorm(lmr_mat_out_of(NULL, 0, WIDTH),
                                lmr_mat_of(NULL, 0, WIDTH), gamma_view(),
                                beta_view(), EPS),
                  LMR_OK, "lmr_layernorm: n = 0 with NULL out and x");
    args = layernorm_defaults();
    args.n = 0;
    expect_rejected(run_layernorm(args, out), LMR_OK, out,
                    "lmr_layernorm: n = 0");
}

/* out and in may be the same array: a rejected in-place call keeps x. */
static void test_layernorm_in_place(void)
{
    double x[OUT_CAPACITY]; /* (BATCH, WIDTH) used, the rest sentinel */
    fill_sentinel(x);
    memcpy(x, GOOD_X, sizeof GOOD_X);
    x[BATCH * WIDTH - 1] = NAN;
    int status = lmr_layernorm(lmr_mat_out_of(x, BATCH, WIDTH),
                               lmr_mat_of(x, BATCH, WIDTH), gamma_view(),
                               beta_view(), EPS);
    expect_status(status, LMR_ENONFINITE, "lmr_layernorm: in place, NaN in x");
    tap_ok(memcmp(x, GOOD_X, (BATCH * WIDTH - 1) * sizeof *x) == 0
               && isnan(x[BATCH * WIDTH - 1]),
           "lmr_layernorm: in place, NaN in x: x not written");
}

static void test_layernorm(void)
{
    double out[OUT_CAPACITY];
    expect_status(run_layernorm(layernorm_defaults(), out), LMR_OK,
                  "lmr_layernorm: valid call");
    layernorm_bad_input(NAN, "NaN");
    layernorm_bad_input(INFINITY, "+inf");
    layernorm_bad_input(-INFINITY, "-inf");
    layernorm_bad_eps(0.0, "lmr_layernorm: eps 0");
    layernorm_bad_eps(-0.0, "lmr_layernorm: eps -0");
    layernorm_bad_eps(-1e-5, "lmr_layernorm: eps -1e-5");
    layernorm_bad_eps(-0x1p-1074, "lmr_layernorm: eps -2^-1074");
    test_layernorm_sizes();
    test_layernorm_null_and_empty();
    test_layernorm_in_place();
}

/* ---- lmr_compose -------------------------------------------------------------- */

struct compose_args {
    const double *table;     /* E: (vocab, d) */
    const int64_t *ids;      /* (n) */
    lmr_positions positions; /* learned: P is (max_len, width) */
    size_t n, vocab, d;
};

/* Learned positions from TABLE_P starting at 1, so rows 1..3 are read. */
static struct compose_args compose_learned_defaults(void)
{
    struct compose_args args = {
        TABLE_E, GOOD_IDS,
        {LMR_POSITIONS_LEARNED, {TABLE_P, MAX_LEN, WIDTH}, 0.0, 1, 0},
        BATCH, VOCAB, WIDTH};
    return args;
}

static struct compose_args compose_sinusoid_defaults(void)
{
    struct compose_args args = {
        TABLE_E, GOOD_IDS,
        {LMR_POSITIONS_SINUSOID, {NULL, 0, 0}, BASE, 5, 1},
        BATCH, VOCAB, WIDTH};
    return args;
}

/* Runs lmr_compose into a fresh sentinel-filled out (OUT_CAPACITY). */
static int run_compose(struct compose_args args, double *out)
{
    fill_sentinel(out);
    return lmr_compose(lmr_mat_out_of(out, args.n, args.d),
                       lmr_mat_of(args.table, args.vocab, args.d),
                       lmr_ids_of(args.ids, args.n), &args.positions);
}

static void compose_rejects(struct compose_args args, int expected,
                            const char *what)
{
    double out[OUT_CAPACITY];
    expect_rejected(run_compose(args, out), expected, out, what);
}

static void compose_bad_id(struct compose_args args, int64_t bad_id,
                           const char *what)
{
    int64_t ids[BATCH] = {0, 1, bad_id}; /* (BATCH) */
    args.ids = ids;
    compose_rejects(args, LMR_EINDEX, what);
}

/* A non-finite entry in row 2 of E, which no id reads. */
static void compose_bad_table(struct compose_args args, double bad_value,
                              const char *what)
{
    double table[VOCAB * WIDTH]; /* (VOCAB, WIDTH) */
    int64_t ids[BATCH] = {0, 1, 0}; /* (BATCH) */
    copy_with(table, TABLE_E, VOCAB * WIDTH, 2 * WIDTH + 1, bad_value);
    args.table = table;
    args.ids = ids;
    compose_rejects(args, LMR_ENONFINITE, what);
}

static void compose_bad_start(struct compose_args args, int64_t start,
                              const char *what)
{
    args.positions.start = start;
    compose_rejects(args, LMR_EPOS, what);
}

/* The errors of lmr_embed_lookup, for either kind of positions. */
static void test_compose_lookup_errors(struct compose_args defaults,
                                       const char *kind)
{
    char name[128];
    struct compose_args args = defaults;
    snprintf(name, sizeof name, "lmr_compose %s: id == |V|", kind);
    compose_bad_id(args, VOCAB, name);
    snprintf(name, sizeof name, "lmr_compose %s: id -1", kind);
    compose_bad_id(args, -1, name);
    snprintf(name, sizeof name, "lmr_compose %s: id INT64_MAX", kind);
    compose_bad_id(args, INT64_MAX, name);
    snprintf(name, sizeof name, "lmr_compose %s: NaN in an unread row of E", kind);
    compose_bad_table(args, NAN, name);
    snprintf(name, sizeof name, "lmr_compose %s: +inf in an unread row of E", kind);
    compose_bad_table(args, INFINITY, name);
    snprintf(name, sizeof name, "lmr_compose %s: -inf in an unread row of E", kind);
    compose_bad_table(args, -INFINITY, name);
    args.vocab = 0;
    snprintf(name, sizeof name, "lmr_compose %s: |V| = 0", kind);
    compose_rejects(args, LMR_EDIM, name);
    args = defaults;
    args.d = 0;
    args.positions.table.cols = 0;
    snprintf(name, sizeof name, "lmr_compose %s: d = 0", kind);
    compose_rejects(args, LMR_EDIM, name);
    snprintf(name, sizeof name, "lmr_compose %s: start -1", kind);
    compose_bad_start(defaults, -1, name);
    snprintf(name, sizeof name, "lmr_compose %s: start INT64_MIN", kind);
    compose_bad_start(defaults, INT64_MIN, name);
    snprintf(name, sizeof name, "lmr_compose %s: start INT64_MAX", kind);
    compose_bad_start(defaults, INT64_MAX, name);
}

/* The errors of the table and the range of learned positions. */
static void test_compose_learned_table(void)
{
    double table[MAX_LEN * WIDTH]; /* (MAX_LEN, WIDTH) */
    struct compose_args args = compose_learned_defaults();
    args.positions.table.cols = WIDTH + 1;
    compose_rejects(args, LMR_EDIM, "lmr_compose learned: table width != d");
    args = compose_learned_defaults();
    args.positions.table.rows = 0;
    args.positions.start = 0;
    compose_rejects(args, LMR_EDIM, "lmr_compose learned: L = 0");
    args = compose_learned_defaults();
    args.positions.table.data = NULL;
    compose_rejects(args, LMR_EINVAL, "lmr_compose learned: P is NULL");

    args = compose_learned_defaults();
    copy_with(table, TABLE_P, MAX_LEN * WIDTH, 1, NAN); /* row 0: unread */
    args.positions.table.data = table;
    compose_rejects(args, LMR_ENONFINITE, "lmr_compose learned: NaN in an unread row of P");
    copy_with(table, TABLE_P, MAX_LEN * WIDTH, 0, INFINITY);
    compose_rejects(args, LMR_ENONFINITE, "lmr_compose learned: +inf in an unread row of P");
    copy_with(table, TABLE_P, MAX_LEN * WIDTH, 0, -INFINITY);
    compose_rejects(args, LMR_ENONFINITE, "lmr_compose learned: -inf in an unread row of P");

    args = compose_learned_defaults();
    args.positions.table.data = TRIPWIRE_VALUES;
    args.positions.table.rows = HUGE_SIZE;
    args.positions.table.cols = 3;
    args.table = TRIPWIRE_VALUES;
    args.ids = (const int64_t[1]){0};
    args.n = 1;
    args.vocab = 1;
    args.d = 3;
    compose_rejects(args, LMR_EOVERFLOW,
                    "lmr_compose learned: L*d overflows (L = SIZE_MAX/2, d = 3)");
}

static void test_compose_learned_range(void)
{
    double out[OUT_CAPACITY];
    struct compose_args args = compose_learned_defaults();
    compose_bad_start(args, MAX_LEN - BATCH + 1,
                      "lmr_compose learned: start + n == L + 1");
    compose_bad_start(args, MAX_LEN, "lmr_compose learned: start == L");
    args.positions.start = MAX_LEN - BATCH;
    expect_status(run_compose(args, out), LMR_OK,
                  "lmr_compose learned: start + n == L is accepted");
    args.n = 0;
    args.positions.start = MAX_LEN;
    expect_status(run_compose(args, out), LMR_OK,
                  "lmr_compose learned: n = 0, start == L is accepted");
}

static void test_compose_sinusoid_params(void)
{
    double out[OUT_CAPACITY];
    struct compose_args args = compose_sinusoid_defaults();
    args.positions.base = NAN;
    compose_rejects(args, LMR_ENONFINITE, "lmr_compose sinusoid: base NaN");
    args.positions.base = INFINITY;
    compose_rejects(args, LMR_ENONFINITE, "lmr_compose sinusoid: base +inf");
    args.positions.base = -INFINITY;
    compose_rejects(args, LMR_ENONFINITE, "lmr_compose sinusoid: base -inf");
    args.positions.base = 1.0;
    compose_rejects(args, LMR_EDOMAIN, "lmr_compose sinusoid: base 1");
    args.positions.base = 0.5;
    compose_rejects(args, LMR_EDOMAIN, "lmr_compose sinusoid: base 0.5");

    args = compose_sinusoid_defaults();
    args.positions.start = TWO_POW_53 - (int64_t)BATCH + 2;
    compose_rejects(args, LMR_EPOS,
                    "lmr_compose sinusoid: last position 2^53 + 1");
    args.positions.start = TWO_POW_53 - (int64_t)BATCH + 1;
    expect_status(run_compose(args, out), LMR_OK,
                  "lmr_compose sinusoid: last position 2^53 is accepted");
}

/* An unknown kind, NULL pointers, n*d and |V|*d overflow, and n = 0. */
static void test_compose_common(void)
{
    double out[OUT_CAPACITY];
    struct compose_args args = compose_learned_defaults();
    args.positions.kind = (enum lmr_position_kind)2;
    compose_rejects(args, LMR_EDOMAIN, "lmr_compose: unknown position kind 2");
    args.positions.kind = (enum lmr_position_kind)99;
    compose_rejects(args, LMR_EDOMAIN, "lmr_compose: unknown position kind 99");

    args = compose_learned_defaults();
    args.table = NULL;
    compose_rejects(args, LMR_EINVAL, "lmr_compose: E is NULL");
    args = compose_learned_defaults();
    args.ids = NULL;
    compose_rejects(args, LMR_EINVAL, "lmr_compose: ids is NULL, n > 0");
    fill_sentinel(out);
    expect_rejected(lmr_compose(lmr_mat_out_of(out, BATCH, WIDTH), e_view(),
                                lmr_ids_of(GOOD_IDS, BATCH), NULL),
                    LMR_EINVAL, out, "lmr_compose: positions is NULL");
    args = compose_learned_defaults();
    expect_status(lmr_compose(lmr_mat_out_of(NULL, args.n, args.d),
                              lmr_mat_of(args.table, args.vocab, args.d),
                              lmr_ids_of(args.ids, args.n), &args.positions),
                  LMR_EINVAL, "lmr_compose: out is NULL, n > 0");

    args = compose_sinusoid_defaults();
    args.table = TRIPWIRE_VALUES;
    args.ids = (const int64_t[1]){0};
    args.n = 1;
    args.vocab = HUGE_SIZE;
    args.d = 3;
    compose_rejects(args, LMR_EOVERFLOW,
                    "lmr_compose: |V|*d overflows (|V| = SIZE_MAX/2, d = 3)");
    args.ids = TRIPWIRE_IDS;
    args.n = HUGE_SIZE;
    args.vocab = 1;
    compose_rejects(args, LMR_EOVERFLOW,
                    "lmr_compose: n*d overflows (n = SIZE_MAX/2, d = 3)");
}

static void test_compose_empty(void)
{
    double out[OUT_CAPACITY];
    struct compose_args args = compose_learned_defaults();
    expect_status(lmr_compose(lmr_mat_out_of(NULL, 0, WIDTH), e_view(),
                              lmr_ids_of(NULL, 0), &args.positions),
                  LMR_OK, "lmr_compose learned: n = 0 with NULL out and ids");
    args.n = 0;
    expect_rejected(run_compose(args, out), LMR_OK, out,
                    "lmr_compose learned: n = 0");
    args = compose_sinusoid_defaults();
    expect_status(lmr_compose(lmr_mat_out_of(NULL, 0, WIDTH), e_view(),
                              lmr_ids_of(NULL, 0), &args.positions),
                  LMR_OK, "lmr_compose sinusoid: n = 0 with NULL out and ids");
    args.n = 0;
    expect_rejected(run_compose(args, out), LMR_OK, out,
                    "lmr_compose sinusoid: n = 0");
}

static void test_compose(void)
{
    double out[OUT_CAPACITY];
    expect_status(run_compose(compose_learned_defaults(), out), LMR_OK,
                  "lmr_compose learned: valid call");
    expect_status(run_compose(compose_sinusoid_defaults(), out), LMR_OK,
                  "lmr_compose sinusoid: valid call");
    test_compose_lookup_errors(compose_learned_defaults(), "learned");
    test_compose_lookup_errors(compose_sinusoid_defaults(), "sinusoid");
    test_compose_learned_table();
    test_compose_learned_range();
    test_compose_sinusoid_params();
    test_compose_common();
    test_compose_empty();
}

/* ---- lmr_compose_layernorm ---------------------------------------------------- */

struct compose_layernorm_args {
    struct compose_args compose;
    const double *gamma; /* (d) */
    const double *beta;  /* (d) */
    double eps;
};

static struct compose_layernorm_args compose_layernorm_defaults(void)
{
    struct compose_layernorm_args args = {compose_learned_defaults(),
                                          GOOD_GAMMA, GOOD_BETA, EPS};
    return args;
}

/* Runs lmr_compose_layernorm into a fresh sentinel-filled out (OUT_CAPACITY). */
static int run_compose_layernorm(struct compose_layernorm_args args,
                                 double *out)
{
    fill_sentinel(out);
    size_t n = args.compose.n, d = args.compose.d;
    return lmr_compose_layernorm(lmr_mat_out_of(out, n, d),
                                 lmr_mat_of(args.compose.table,
                                            args.compose.vocab, d),
                                 lmr_ids_of(args.compose.ids, n),
                                 &args.compose.positions,
                                 lmr_vec_of(args.gamma, d),
                                 lmr_vec_of(args.beta, d), args.eps);
}

static void compose_layernorm_rejects(struct compose_layernorm_args args,
                                      int expected, const char *what)
{
    double out[OUT_CAPACITY];
    expect_rejected(run_compose_layernorm(args, out), expected, out, what);
}

/* Errors that belong to the composite part. */
static void test_compose_layernorm_compose_errors(void)
{
    int64_t ids[BATCH] = {0, 1, VOCAB}; /* (BATCH), last id out of range */
    double table[VOCAB * WIDTH];        /* (VOCAB, WIDTH) */
    struct compose_layernorm_args args = compose_layernorm_defaults();
    args.compose.ids = ids;
    compose_layernorm_rejects(args, LMR_EINDEX, "lmr_compose_layernorm: id == |V|");
    args = compose_layernorm_defaults();
    copy_with(table, TABLE_E, VOCAB * WIDTH, 0, NAN);
    args.compose.table = table;
    args.compose.ids = (const int64_t[BATCH]){1, 2, 1};
    compose_layernorm_rejects(args, LMR_ENONFINITE,
                              "lmr_compose_layernorm: NaN in an unread row of E");
    args = compose_layernorm_defaults();
    args.compose.positions.start = MAX_LEN - BATCH + 1;
    compose_layernorm_rejects(args, LMR_EPOS, "lmr_compose_layernorm: start + n == L + 1");
    args = compose_layernorm_defaults();
    args.compose.positions.table.cols = WIDTH + 1;
    compose_layernorm_rejects(args, LMR_EDIM, "lmr_compose_layernorm: table width != d");
    args = compose_layernorm_defaults();
    args.compose.positions.kind = (enum lmr_position_kind)2;
    compose_layernorm_rejects(args, LMR_EDOMAIN, "lmr_compose_layernorm: unknown kind");
    args = compose_layernorm_defaults();
    args.compose.d = 0;
    args.compose.positions.table.cols = 0;
    compose_layernorm_rejects(args, LMR_EDIM, "lmr_compose_layernorm: d = 0");
    args = compose_layernorm_defaults();
    args.compose.table = NULL;
    compose_layernorm_rejects(args, LMR_EINVAL, "lmr_compose_layernorm: E is NULL");
}

/* Errors that belong to the LayerNorm part. */
static void test_compose_layernorm_norm_errors(void)
{
    double gamma[WIDTH], beta[WIDTH]; /* (WIDTH) each */
    struct compose_layernorm_args args = compose_layernorm_defaults();
    copy_with(gamma, GOOD_GAMMA, WIDTH, 1, NAN);
    args.gamma = gamma;
    compose_layernorm_rejects(args, LMR_ENONFINITE, "lmr_compose_layernorm: NaN in gamma");
    args = compose_layernorm_defaults();
    copy_with(beta, GOOD_BETA, WIDTH, 0, -INFINITY);
    args.beta = beta;
    compose_layernorm_rejects(args, LMR_ENONFINITE, "lmr_compose_layernorm: -inf in beta");
    args = compose_layernorm_defaults();
    args.eps = INFINITY;
    compose_layernorm_rejects(args, LMR_ENONFINITE, "lmr_compose_layernorm: eps +inf");
    args.eps = NAN;
    compose_layernorm_rejects(args, LMR_ENONFINITE, "lmr_compose_layernorm: eps NaN");
    args.eps = 0.0;
    compose_layernorm_rejects(args, LMR_EDOMAIN, "lmr_compose_layernorm: eps 0");
    args.eps = -1.0;
    compose_layernorm_rejects(args, LMR_EDOMAIN, "lmr_compose_layernorm: eps -1");
    args = compose_layernorm_defaults();
    args.gamma = NULL;
    compose_layernorm_rejects(args, LMR_EINVAL, "lmr_compose_layernorm: gamma is NULL");
    args = compose_layernorm_defaults();
    args.beta = NULL;
    compose_layernorm_rejects(args, LMR_EINVAL, "lmr_compose_layernorm: beta is NULL");
}

static void test_compose_layernorm_sizes(void)
{
    struct compose_layernorm_args args = compose_layernorm_defaults();
    args.compose.table = TRIPWIRE_VALUES;
    args.compose.ids = TRIPWIRE_IDS;
    args.compose.positions = compose_sinusoid_defaults().positions;
    args.compose.n = HUGE_SIZE;
    args.compose.vocab = 1;
    args.compose.d = 3;
    args.gamma = TRIPWIRE_VALUES;
    args.beta = TRIPWIRE_VALUES;
    compose_layernorm_rejects(args, LMR_EOVERFLOW,
                              "lmr_compose_layernorm: n*d overflows (n = SIZE_MAX/2, d = 3)");
    /* E is (1, d) and gamma, beta are (d): d*8 bytes overflow even for n = 0 */
    args.compose.n = 0;
    args.compose.d = HUGE_SIZE;
    compose_layernorm_rejects(args, LMR_EOVERFLOW,
                              "lmr_compose_layernorm: d*8 bytes overflow (n = 0, d = SIZE_MAX/2)");
}

/* E and P entries near DBL_MAX whose double sum rounds to infinity: the
 * composite leaves the double range, so the call reports LMR_ERANGE
 * (spec/errors.md) and must not have written out. */
static void test_compose_layernorm_overflowing_sum(void)
{
    static const double big_e[WIDTH] = {0x1.8p1023, -0x1.8p1023}; /* (1, WIDTH) */
    static const double big_p[WIDTH] = {0x1.8p1023, 0.0};         /* (1, WIDTH) */
    double out[OUT_CAPACITY];
    struct compose_layernorm_args args = compose_layernorm_defaults();
    args.compose.table = big_e;
    args.compose.ids = (const int64_t[1]){0};
    args.compose.positions.table.data = big_p;
    args.compose.positions.table.rows = 1;
    args.compose.positions.start = 0;
    args.compose.n = 1;
    args.compose.vocab = 1;
    int status = run_compose_layernorm(args, out);
    expect_status(status, LMR_ERANGE,
                  "lmr_compose_layernorm: a composite that rounds to inf");
    tap_ok(untouched(out),
           "lmr_compose_layernorm: out not written when the composite overflows");
}

static void test_compose_layernorm(void)
{
    double out[OUT_CAPACITY];
    struct compose_layernorm_args args = compose_layernorm_defaults();
    expect_status(run_compose_layernorm(args, out), LMR_OK,
                  "lmr_compose_layernorm: valid call");
    test_compose_layernorm_compose_errors();
    test_compose_layernorm_norm_errors();
    test_compose_layernorm_sizes();
    test_compose_layernorm_overflowing_sum();

    expect_status(lmr_compose_layernorm(lmr_mat_out_of(NULL, 0, WIDTH), e_view(),
                                        lmr_ids_of(NULL, 0),
                                        &args.compose.positions, gamma_view(),
                                        beta_view(), EPS),
                  LMR_OK, "lmr_compose_layernorm: n = 0 with NULL out and ids");
    args.compose.n = 0;
    expect_rejected(run_compose_layernorm(args, out), LMR_OK, out,
                    "lmr_compose_layernorm: n = 0");
}

/* ---- shapes that must agree, and spec/api.md#error-order -------------------
 * Each call below has one shape problem the views carry (the library, not
 * its caller, answers LMR_EDIM), or two problems at once, of which the one
 * spec/api.md#error-order names first must be reported: EINVAL, EDIM,
 * EOVERFLOW, the scalar parameters, the entries in parameter order, then
 * the outputs. Every output stays unwritten. */

/* out (OUT_CAPACITY) filled with the sentinel, as a (rows, cols) output. */
static lmr_mat_out fresh_out(double *out, size_t rows, size_t cols)
{
    fill_sentinel(out);
    return lmr_mat_out_of(out, rows, cols);
}

/* E (VOCAB, WIDTH) with a NaN in row 2, which no id of the tests reads. */
static lmr_mat e_with_nan(double *buffer /* (VOCAB * WIDTH) */)
{
    copy_with(buffer, TABLE_E, VOCAB * WIDTH, 2 * WIDTH, NAN);
    return lmr_mat_of(buffer, VOCAB, WIDTH);
}

/* P (MAX_LEN, WIDTH) with a NaN in row 2. */
static lmr_mat p_with_nan(double *buffer /* (MAX_LEN * WIDTH) */)
{
    copy_with(buffer, TABLE_P, MAX_LEN * WIDTH, 2 * WIDTH, NAN);
    return lmr_mat_of(buffer, MAX_LEN, WIDTH);
}

/* ids (BATCH) whose last one is bad_id, the others 0 and 1 */
static lmr_ids ids_ending(int64_t *buffer /* (BATCH) */, int64_t bad_id)
{
    buffer[0] = 0;
    buffer[1] = 1;
    buffer[BATCH - 1] = bad_id;
    return lmr_ids_of(buffer, BATCH);
}

static void test_lookup_order(void)
{
    double out[OUT_CAPACITY], nan_e[VOCAB * WIDTH];
    int64_t ids[BATCH];
    lmr_ids good = lmr_ids_of(GOOD_IDS, BATCH);
    expect_rejected(lmr_embed_lookup(fresh_out(out, BATCH, WIDTH + 1),
                                     e_view(), good),
                    LMR_EDIM, out, "lmr_embed_lookup: out has d + 1 columns");
    expect_rejected(lmr_embed_lookup(fresh_out(out, BATCH - 1, WIDTH),
                                     e_view(), good),
                    LMR_EDIM, out, "lmr_embed_lookup: out has n - 1 rows");
    expect_rejected(lmr_embed_lookup(fresh_out(out, BATCH, WIDTH + 1),
                                     e_view(), ids_ending(ids, VOCAB)),
                    LMR_EINDEX, out,
                    "lmr_embed_lookup: bad id and out's shape: the input first");
    expect_rejected(lmr_embed_lookup(fresh_out(out, BATCH, WIDTH),
                                     e_with_nan(nan_e), ids_ending(ids, -1)),
                    LMR_ENONFINITE, out,
                    "lmr_embed_lookup: NaN in E and a bad id: E first");
    expect_rejected(lmr_embed_lookup(fresh_out(out, BATCH, WIDTH),
                                     lmr_mat_of(NULL, VOCAB, WIDTH),
                                     ids_ending(ids, -1)),
                    LMR_EINVAL, out,
                    "lmr_embed_lookup: E NULL and a bad id: EINVAL first");
    expect_status(lmr_embed_lookup_check(e_with_nan(nan_e), good),
                  LMR_ENONFINITE, "lmr_embed_lookup_check: NaN in E");
    expect_status(lmr_embed_lookup_check(e_view(), good), LMR_OK,
                  "lmr_embed_lookup_check: valid inputs");
}

static void test_onehot_order(void)
{
    double out[OUT_CAPACITY], nan_e[VOCAB * WIDTH];
    double wide[BATCH * (VOCAB + 1)] = {0}; /* (BATCH, VOCAB + 1) one-hot */
    double bad[BATCH * VOCAB];              /* (BATCH, VOCAB), row 0 all 0 */
    for (size_t t = 0; t < BATCH; t++)
        wide[t * (VOCAB + 1) + t] = 1.0;
    copy_with(bad, GOOD_ONEHOT, BATCH * VOCAB, 2, 0.0);
    expect_rejected(lmr_embed_onehot(fresh_out(out, BATCH, WIDTH), lmr_mat_of(wide, BATCH, VOCAB + 1),
                                     e_view()),
                    LMR_EDIM, out, "lmr_embed_onehot: onehot width |V| + 1");
    expect_rejected(lmr_embed_onehot(fresh_out(out, BATCH, WIDTH - 1),
                                     lmr_mat_of(GOOD_ONEHOT, BATCH, VOCAB),
                                     e_view()),
                    LMR_EDIM, out, "lmr_embed_onehot: out has d - 1 columns");
    expect_rejected(lmr_embed_onehot(fresh_out(out, BATCH, WIDTH), lmr_mat_of(bad, BATCH, VOCAB),
                                     e_with_nan(nan_e)),
                    LMR_EDOMAIN, out,
                    "lmr_embed_onehot: not one-hot and NaN in E: onehot first");
    expect_rejected(lmr_embed_onehot(fresh_out(out, BATCH, WIDTH), lmr_mat_of(wide, BATCH, VOCAB + 1),
                                     e_with_nan(nan_e)),
                    LMR_EDIM, out,
                    "lmr_embed_onehot: onehot width and NaN in E: EDIM first");
    expect_rejected(lmr_embed_onehot(fresh_out(out, 1, 1),
                                     lmr_mat_of(GOOD_ONEHOT, BATCH, VOCAB),
                                     e_with_nan(nan_e)),
                    LMR_ENONFINITE, out,
                    "lmr_embed_onehot: NaN in E and out's shape: the input first");
    expect_status(lmr_embed_onehot_check(lmr_mat_of(bad, BATCH, VOCAB),
                                         e_view()),
                  LMR_EDOMAIN, "lmr_embed_onehot_check: a row without a 1");
}

static void test_learned_order(void)
{
    double out[OUT_CAPACITY], nan_p[MAX_LEN * WIDTH];
    int64_t positions[BATCH];
    lmr_ids good = lmr_ids_of(GOOD_POSITIONS, BATCH);
    expect_rejected(lmr_pos_learned(fresh_out(out, BATCH + 1, WIDTH),
                                    p_view(), good),
                    LMR_EDIM, out, "lmr_pos_learned: out has n + 1 rows");
    expect_rejected(lmr_pos_learned(fresh_out(out, BATCH, WIDTH),
                                    p_with_nan(nan_p),
                                    ids_ending(positions, MAX_LEN)),
                    LMR_ENONFINITE, out,
                    "lmr_pos_learned: NaN in P and a bad position: P first");
    expect_rejected(lmr_pos_learned(fresh_out(out, BATCH, 1), p_view(),
                                    ids_ending(positions, -1)),
                    LMR_EPOS, out,
                    "lmr_pos_learned: bad position and out's shape: the input first");
    expect_status(lmr_pos_learned_check(p_view(), ids_ending(positions, MAX_LEN)),
                  LMR_EPOS, "lmr_pos_learned_check: position L");
}

static void test_sinusoid_order(void)
{
    double out[OUT_CAPACITY];
    int64_t positions[BATCH];
    lmr_ids good = lmr_ids_of(GOOD_POSITIONS, BATCH);
    expect_rejected(lmr_pos_sinusoid(fresh_out(out, BATCH - 1, WIDTH),
                                     good, BASE),
                    LMR_EDIM, out, "lmr_pos_sinusoid: out has n - 1 rows");
    expect_rejected(lmr_pos_sinusoid(fresh_out(out, BATCH, WIDTH),
                                     ids_ending(positions, -1), NAN),
                    LMR_ENONFINITE, out,
                    "lmr_pos_sinusoid: base NaN and a bad position: base first");
    expect_rejected(lmr_pos_sinusoid(fresh_out(out, BATCH, 0),
                                     lmr_ids_of(NULL, BATCH), BASE),
                    LMR_EINVAL, out,
                    "lmr_pos_sinusoid: positions NULL and d = 0: EINVAL first");
    expect_rejected(lmr_pos_sinusoid(fresh_out(out, BATCH + 1, WIDTH),
                                     ids_ending(positions, -1), BASE),
                    LMR_EPOS, out,
                    "lmr_pos_sinusoid: bad position and out's shape: the input first");
    expect_status(lmr_pos_sinusoid_check(good, 0, 1.0), LMR_EDIM,
                  "lmr_pos_sinusoid_check: d = 0 and base 1: EDIM first");
    expect_status(lmr_pos_sinusoid_check(good, WIDTH, BASE), LMR_OK,
                  "lmr_pos_sinusoid_check: valid inputs");
}

static void test_layernorm_order(void)
{
    double out[OUT_CAPACITY], nan_x[BATCH * WIDTH], nan_beta[WIDTH];
    const double long_gamma[WIDTH + 1] = {1.0, 2.0, 3.0};
    copy_with(nan_x, GOOD_X, BATCH * WIDTH, 0, NAN);
    copy_with(nan_beta, GOOD_BETA, WIDTH, 0, NAN);
    lmr_mat x_nan = lmr_mat_of(nan_x, BATCH, WIDTH);
    expect_rejected(lmr_layernorm(fresh_out(out, BATCH, WIDTH), x_view(), lmr_vec_of(long_gamma, WIDTH + 1),
                                  beta_view(), EPS),
                    LMR_EDIM, out, "lmr_layernorm: gamma of length d + 1");
    expect_rejected(lmr_layernorm(fresh_out(out, BATCH, WIDTH), x_view(), gamma_view(),
                                  lmr_vec_of(GOOD_BETA, WIDTH - 1), EPS),
                    LMR_EDIM, out, "lmr_layernorm: beta of length d - 1");
    expect_rejected(lmr_layernorm(fresh_out(out, BATCH, WIDTH), x_view(), gamma_view(), lmr_vec_absent(),
                                  EPS),
                    LMR_EDIM, out, "lmr_layernorm: beta absent (it is required)");
    expect_rejected(lmr_layernorm(fresh_out(out, BATCH, WIDTH + 1),
                                  x_view(), gamma_view(), beta_view(), EPS),
                    LMR_EDIM, out, "lmr_layernorm: out has d + 1 columns");
    expect_rejected(lmr_layernorm(fresh_out(out, BATCH, WIDTH), x_view(), lmr_vec_of(long_gamma, WIDTH + 1),
                                  beta_view(), NAN),
                    LMR_EDIM, out,
                    "lmr_layernorm: gamma's length and eps NaN: EDIM first");
    expect_rejected(lmr_layernorm(fresh_out(out, BATCH, WIDTH), x_nan, gamma_view(), beta_view(), 0.0),
                    LMR_EDOMAIN, out,
                    "lmr_layernorm: eps 0 and NaN in x: eps first");
    expect_rejected(lmr_layernorm(fresh_out(out, BATCH, WIDTH), lmr_mat_of(NULL, BATCH, WIDTH),
                                  lmr_vec_of(long_gamma, WIDTH + 1),
                                  beta_view(), EPS),
                    LMR_EINVAL, out,
                    "lmr_layernorm: x NULL and gamma's length: EINVAL first");
    expect_rejected(lmr_layernorm(fresh_out(out, 1, WIDTH), x_nan,
                                  gamma_view(), beta_view(), EPS),
                    LMR_ENONFINITE, out,
                    "lmr_layernorm: NaN in x and out's shape: the input first");
    expect_status(lmr_layernorm_check(x_view(), gamma_view(), lmr_vec_absent(),
                                      EPS),
                  LMR_OK, "lmr_layernorm_check: beta absent is not checked");
    expect_status(lmr_layernorm_check(x_view(), gamma_view(),
                                      lmr_vec_of(nan_beta, WIDTH), EPS),
                  LMR_ENONFINITE, "lmr_layernorm_check: NaN in a present beta");
    expect_status(lmr_layernorm_check(x_view(), gamma_view(),
                                      lmr_vec_of(GOOD_BETA, 1), EPS),
                  LMR_EDIM, "lmr_layernorm_check: a present beta of length 1");
}

static void test_compose_order(void)
{
    double out[OUT_CAPACITY], nan_e[VOCAB * WIDTH], nan_p[MAX_LEN * WIDTH];
    int64_t ids[BATCH];
    lmr_ids good = lmr_ids_of(GOOD_IDS, BATCH);
    struct compose_args args = compose_learned_defaults();
    lmr_positions learned = args.positions, sinusoid, odd;
    sinusoid = compose_sinusoid_defaults().positions;
    expect_rejected(lmr_compose(fresh_out(out, BATCH, WIDTH + 1), e_view(),
                                good, &learned),
                    LMR_EDIM, out, "lmr_compose: out has d + 1 columns");
    odd = learned;
    odd.kind = (enum lmr_position_kind)7;
    expect_rejected(lmr_compose(fresh_out(out, BATCH, WIDTH), e_with_nan(nan_e), good, &odd), LMR_EDOMAIN,
                    out, "lmr_compose: unknown kind and NaN in E: the kind first");
    expect_rejected(lmr_compose(fresh_out(out, BATCH, WIDTH), e_with_nan(nan_e), ids_ending(ids, VOCAB),
                                &learned),
                    LMR_ENONFINITE, out,
                    "lmr_compose: NaN in E and a bad id: E first");
    odd = learned;
    odd.table = p_with_nan(nan_p);
    expect_rejected(lmr_compose(fresh_out(out, BATCH, WIDTH), e_view(), ids_ending(ids, VOCAB), &odd),
                    LMR_EINDEX, out,
                    "lmr_compose: a bad id and NaN in P: the ids first");
    odd.start = -1;
    expect_rejected(lmr_compose(fresh_out(out, BATCH, WIDTH), e_view(), good, &odd), LMR_ENONFINITE, out,
                    "lmr_compose: NaN in P and start -1: P first");
    odd = learned;
    odd.table.cols = WIDTH + 1;
    expect_rejected(lmr_compose(fresh_out(out, BATCH, WIDTH), e_with_nan(nan_e), good, &odd), LMR_EDIM, out,
                    "lmr_compose: P's width and NaN in E: EDIM first");
    odd = sinusoid;
    odd.base = NAN;
    expect_rejected(lmr_compose(fresh_out(out, BATCH, WIDTH), e_view(), ids_ending(ids, -1), &odd),
                    LMR_ENONFINITE, out,
                    "lmr_compose: base NaN and a bad id: base first");
    expect_rejected(lmr_compose(fresh_out(out, BATCH, WIDTH), lmr_mat_of(TABLE_E, VOCAB, 0), good, NULL),
                    LMR_EINVAL, out,
                    "lmr_compose: positions NULL and d = 0: EINVAL first");
    expect_rejected(lmr_compose(fresh_out(out, 2, 2), e_view(),
                                ids_ending(ids, VOCAB), &sinusoid),
                    LMR_EINDEX, out,
                    "lmr_compose: a bad id and out's shape: the input first");
    expect_status(lmr_compose_check(e_view(), good, &sinusoid), LMR_OK,
                  "lmr_compose_check: valid inputs");
}

static void test_compose_layernorm_order(void)
{
    double out[OUT_CAPACITY], nan_e[VOCAB * WIDTH], nan_gamma[WIDTH];
    const double short_gamma[1] = {1.0};
    int64_t ids[BATCH];
    lmr_ids good = lmr_ids_of(GOOD_IDS, BATCH);
    lmr_positions learned = compose_learned_defaults().positions;
    lmr_positions sinusoid = compose_sinusoid_defaults().positions;
    copy_with(nan_gamma, GOOD_GAMMA, WIDTH, 1, NAN);
    expect_rejected(lmr_compose_layernorm(fresh_out(out, BATCH, WIDTH), e_view(), good, &learned,
                                          lmr_vec_of(short_gamma, 1),
                                          beta_view(), EPS),
                    LMR_EDIM, out, "lmr_compose_layernorm: gamma of length 1");
    expect_rejected(lmr_compose_layernorm(fresh_out(out, BATCH, WIDTH), e_view(), good, &learned,
                                          gamma_view(),
                                          lmr_vec_of(short_gamma, 1), EPS),
                    LMR_EDIM, out, "lmr_compose_layernorm: beta of length 1");
    expect_rejected(lmr_compose_layernorm(fresh_out(out, BATCH, WIDTH), e_with_nan(nan_e), good, &learned,
                                          lmr_vec_of(short_gamma, 1),
                                          beta_view(), EPS),
                    LMR_EDIM, out,
                    "lmr_compose_layernorm: NaN in E and gamma's length: EDIM first");
    expect_rejected(lmr_compose_layernorm(fresh_out(out, BATCH, WIDTH), e_view(), ids_ending(ids, VOCAB),
                                          &learned, gamma_view(), beta_view(),
                                          NAN),
                    LMR_ENONFINITE, out,
                    "lmr_compose_layernorm: eps NaN and a bad id: eps first");
    expect_rejected(lmr_compose_layernorm(fresh_out(out, BATCH, WIDTH), e_view(), ids_ending(ids, VOCAB),
                                          &learned, lmr_vec_of(nan_gamma, WIDTH),
                                          beta_view(), EPS),
                    LMR_EINDEX, out,
                    "lmr_compose_layernorm: a bad id and NaN in gamma: the ids first");
    sinusoid.base = 1.0;
    expect_rejected(lmr_compose_layernorm(fresh_out(out, BATCH, WIDTH), e_view(), good, &sinusoid,
                                          gamma_view(), beta_view(), NAN),
                    LMR_EDOMAIN, out,
                    "lmr_compose_layernorm: base 1 and eps NaN: positions first");
    expect_rejected(lmr_compose_layernorm(fresh_out(out, BATCH, 1),
                                          e_view(), good, &learned,
                                          gamma_view(), beta_view(), EPS),
                    LMR_EDIM, out, "lmr_compose_layernorm: out has 1 column");
    expect_rejected(lmr_compose_layernorm(fresh_out(out, BATCH, 1),
                                          e_with_nan(nan_e), good, &learned,
                                          gamma_view(), beta_view(), EPS),
                    LMR_ENONFINITE, out,
                    "lmr_compose_layernorm: NaN in E and out's shape: the input first");
    expect_status(lmr_compose_layernorm_check(e_view(), good, &learned,
                                              gamma_view(), lmr_vec_absent(),
                                              EPS),
                  LMR_EDIM, "lmr_compose_layernorm_check: beta is required");
    expect_status(lmr_compose_layernorm_check(e_view(), good, &learned,
                                              gamma_view(), beta_view(), EPS),
                  LMR_OK, "lmr_compose_layernorm_check: valid inputs");
}

static void test_order(void)
{
    test_lookup_order();
    test_onehot_order();
    test_learned_order();
    test_sinusoid_order();
    test_layernorm_order();
    test_compose_order();
    test_compose_layernorm_order();
}

int main(void)
{
    test_status_names();
    test_array_count();
    test_lookup();
    test_onehot();
    test_learned();
    test_sinusoid();
    test_layernorm();
    test_compose();
    test_compose_layernorm();
    test_order();
    tap_done();
    return tap_exit_status();
}
