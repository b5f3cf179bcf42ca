/* verify.c -- see verify.h. */
#include "verify.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"
#include "lmr_status.h"
#include "ref_ops.h"
#include "vecio.h"

typedef struct {
    char label[64];       /* the file's name without .json: the op, or a variant */
    size_t valid, invalid, passed, failed, skipped;
    double worst_units;   /* over every element of every valid case */
    double k_at_worst;
    const char *worst_case;
} op_summary;

typedef struct {
    enum verify_mode mode;
    FILE *out;
    int cls;
    size_t case_number;   /* TAP test number */
    size_t passed, failed;
} verify_state;

/* Prints one TAP line (and diagnostics) for a case. */
static void report_case(verify_state *state, const vec_case *c, int passed,
                        const char *diagnostic)
{
    state->case_number++;
    if (passed)
        state->passed++;
    else
        state->failed++;
    if (state->mode != VERIFY_TAP)
        return;
    fprintf(state->out, "%s %zu - %s\n", passed ? "ok" : "not ok",
            state->case_number, c->id);
    if (!passed && diagnostic[0])
        fprintf(state->out, "# %s\n", diagnostic);
}

/* An invalid case passes when the reference returns the expected status. */
static int judge_invalid(const vec_case *c, const ref_result *result,
                         char *diagnostic, size_t size)
{
    if (strcmp(lmr_status_name(result->status), c->error) == 0)
        return 1;
    snprintf(diagnostic, size, "expected rejection with %s, got %s",
             c->error, lmr_status_name(result->status));
    return 0;
}

/* Judges one expected output against the reference's output of that name;
 * 1 if it passes, else 0 with a diagnostic. */
static int judge_one_output(const vec_case *c, const vec_expected *want,
                            const ref_result *result, int cls,
                            op_summary *summary, char *diagnostic, size_t size)
{
    const ref_output *got = ref_result_output(result, want->value.name);
    judge_verdict verdict;
    if (got == NULL || got->dtype != want->value.dtype ||
        got->count != want->value.count) {
        snprintf(diagnostic, size, "output %s: missing or %zu elements, "
                 "expected %zu", want->value.name, got ? got->count : 0,
                 want->value.count);
        return 0;
    }
    if (want->value.dtype == VEC_F64)
        judge_output(&verdict, got->f64, want, cls);
    else
        judge_index_output(&verdict, got->i64, want, cls);
    if (want->value.dtype == VEC_F64 &&
        verdict.worst_units >= summary->worst_units) {
        summary->worst_units = verdict.worst_units;
        summary->k_at_worst = verdict.k;
        summary->worst_case = c->id;
    }
    if (!verdict.passed)
        snprintf(diagnostic, size,
                 "output %s: %zu element(s) out of bound; worst at [%zu]: got "
                 "%.17g want %.17g error %.17g bound %.17g (K = %g)",
                 want->value.name, verdict.failures, verdict.worst_index,
                 verdict.worst_got, verdict.worst_want,
                 fabs(verdict.worst_got - verdict.worst_want),
                 verdict.worst_bound, verdict.k);
    return verdict.passed;
}

static int judge_valid(const vec_case *c, const ref_result *result, int cls,
                       op_summary *summary, char *diagnostic, size_t size)
{
    int passed = 1;
    if (result->status != LMR_OK) {
        snprintf(diagnostic, size, "rejected valid input: %s (%s)",
                 lmr_status_name(result->status), lmr_strerror(result->status));
        return 0;
    }
    for (size_t i = 0; i < c->n_expected && passed; i++)
        passed = judge_one_output(c, &c->expected[i], result, cls, summary,
                                  diagnostic, size);
    return passed;
}

/* Runs and judges one case; -1 when the case is malformed. */
static int verify_case(verify_state *state, const vec_file *file,
                       const vec_case *c, op_summary *summary)
{
    char err[VEC_ERRLEN], diagnostic[1024] = "";
    ref_result result;
    int passed;
    if (!(c->classes & (1u << state->cls))) {
        summary->skipped++;
        return 0;
    }
    if (ref_run(file, c, &result, err, sizeof err) != 0) {
        fprintf(stderr, "lmr-verify: %s\n", err);
        ref_result_free(&result);
        return -1;
    }
    if (c->valid) {
        summary->valid++;
        passed = judge_valid(c, &result, state->cls, summary, diagnostic,
                             sizeof diagnostic);
    } else {
        summary->invalid++;
        passed = judge_invalid(c, &result, diagnostic, sizeof diagnostic);
    }
    if (passed)
        summary->passed++;
    else
        summary->failed++;
    report_case(state, c, passed, diagnostic);
    ref_result_free(&result);
    return 0;
}

/* "vectors/softmax_gpt2.json" -> "softmax_gpt2". */
static void file_label(char *label, size_t size, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(label, size, "%s", base);
    char *extension = strstr(label, ".json");
    if (extension != NULL)
        *extension = '\0';
}

static void print_summary(FILE *out, const op_summary *summaries, size_t count,
                          int cls)
{
    fprintf(out, "%-25s %6s %6s %8s %7s %7s %14s %7s  %s\n", "op", "valid",
            "invalid", "passed", "failed", "skipped", "worst e (u*s)", "K",
            "worst case");
    for (size_t i = 0; i < count; i++) {
        const op_summary *s = &summaries[i];
        fprintf(out, "%-25s %6zu %6zu %8zu %7zu %7zu %14.3g %7g  %s\n", s->label,
                s->valid, s->invalid, s->passed, s->failed, s->skipped,
                s->worst_units, s->k_at_worst,
                s->worst_case ? s->worst_case : "-");
    }
    fprintf(out, "(class %s: e = |y - g| / (u s) with u = 2^%d; a case passes "
                 "when e <= K)\n",
            vec_class_name(cls), (int)round(log2(judge_unit_roundoff(cls))));
}

int verify_files(char *const *paths, size_t n_paths, int cls,
                 enum verify_mode mode, FILE *out)
{
    vec_file *files = calloc(n_paths + 1, sizeof *files);
    op_summary *summaries = calloc(n_paths + 1, sizeof *summaries);
    verify_state state = {mode, out, cls, 0, 0, 0};
    char err[VEC_ERRLEN];
    size_t total = 0, loaded = 0;
    int malformed = 0;
    for (; loaded < n_paths && !malformed; loaded++) {
        malformed = vec_file_load(&files[loaded], paths[loaded], err,
                                  sizeof err) != 0;
        if (malformed)
            fprintf(stderr, "lmr-verify: %s\n", err);
        for (size_t i = 0; i < files[loaded].n_cases; i++)
            total += (files[loaded].cases[i].classes >> cls) & 1u;
    }
    if (!malformed && mode == VERIFY_TAP)
        fprintf(out, "1..%zu\n", total);
    for (size_t f = 0; f < n_paths && !malformed; f++) {
        file_label(summaries[f].label, sizeof summaries[f].label, paths[f]);
        for (size_t i = 0; i < files[f].n_cases && !malformed; i++)
            malformed = verify_case(&state, &files[f], &files[f].cases[i],
                                    &summaries[f]) != 0;
    }
    if (!malformed && mode == VERIFY_SUMMARY) {
        print_summary(out, summaries, n_paths, cls);
        fprintf(out, "%zu passed, %zu failed\n", state.passed, state.failed);
    }
    for (size_t f = 0; f < loaded; f++)
        vec_file_free(&files[f]);
    free(files);
    free(summaries);
    return malformed ? 2 : (state.failed ? 1 : 0);
}
