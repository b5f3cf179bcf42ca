/* runner_report.c -- see runner_report.h. */
#include "runner_report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"
#include "runner_text.h"

#define JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(17))

/* ---- TAP ----------------------------------------------------------------- */

/* Writes text as TAP comment lines: "# " + prefix + each line, sanitized
 * (runner_text.h): text from a testee never starts a line of its own. */
static void comment_lines(FILE *out, const char *prefix, const char *text)
{
    char *safe = text_sanitized_copy(text);
    for (const char *line = safe ? safe : ""; *line != '\0';) {
        size_t len = strcspn(line, "\n");
        fprintf(out, "# %s%.*s\n", prefix, (int)len, line);
        line += len;
        line += (*line == '\n');
    }
    free(safe);
}

/* A test description: the id, with '#' and '\\' escaped as TAP requires
 * and any control character shown as '?' (the reader allows none). */
static void write_description(FILE *out, const char *id)
{
    for (; *id != '\0'; id++) {
        if (*id == '#' || *id == '\\')
            fputc('\\', out);
        fputc((unsigned char)*id < 0x20 || *id == 0x7F ? '?' : *id, out);
    }
}

/* The first line of text, sanitized, for a SKIP or TODO directive. */
static void write_first_line(FILE *out, const char *text)
{
    char line[512];
    text_sanitize(line, sizeof line, text, strcspn(text, "\n"), 0);
    fputs(line, out);
}

/* "ok N - id", "not ok N - id", with a SKIP or TODO directive for
 * unsupported cases and known failures. */
static void write_tap_line(run_report *report, const vec_case *c,
                           const case_outcome *outcome)
{
    FILE *out = report->out;
    int passed = outcome->verdict == VERDICT_PASS ||
                 outcome->verdict == VERDICT_UNSUPPORTED;
    fprintf(out, "%s %zu - ", passed ? "ok" : "not ok", ++report->test_number);
    write_description(out, c->id);
    if (outcome->verdict == VERDICT_UNSUPPORTED) {
        fprintf(out, " # SKIP unsupported: ");
        write_first_line(out, outcome->reason);
    } else if (outcome->verdict == VERDICT_KNOWN_FAILURE) {
        fprintf(out, " # TODO known failure: ");
        write_first_line(out, outcome->listed_reason[0] ? outcome->listed_reason
                                                        : "(no reason listed)");
    }
    fputc('\n', out);
}

/* After a failing line: "# verdict: reason" and the testee's stderr. */
static void write_tap_diagnostics(run_report *report,
                                  const case_outcome *outcome,
                                  const char *stderr_text)
{
    char prefix[64];
    if (outcome->verdict == VERDICT_PASS ||
        outcome->verdict == VERDICT_UNSUPPORTED)
        return;
    if (outcome->verdict == VERDICT_UNEXPECTED_PASS)
        snprintf(prefix, sizeof prefix, "unexpected_pass: ");
    else
        snprintf(prefix, sizeof prefix, "%s: ", verdict_name(outcome->original));
    comment_lines(report->out, prefix, outcome->reason);
    if (stderr_text != NULL && stderr_text[0] != '\0')
        comment_lines(report->out, "testee stderr: ", stderr_text);
}

/* ---- the JSON entry of a case -------------------------------------------- */

/* An expected array in the vector format. */
static json_t *array_json(const vec_array *array)
{
    if (array->dtype == VEC_F64)
        return vecw_f64_array(array->ndim, array->shape, array->f64);
    return vecw_i64_array(array->ndim, array->shape, array->i64);
}

/* The provided values of a decoded output, in the vector format. */
static json_t *provided_json(const output_outcome *out)
{
    if (out->f64 != NULL)
        return vecw_f64_array(out->ndim, out->shape, out->f64);
    return vecw_i64_array(out->ndim, out->shape, out->i64);
}

/* The output's worst error beyond the floor as a fraction of its bound,
 * e_f / K: at most 1 exactly when every element passes (0 or infinity for
 * an index output, whose K is 0). */
static double fraction_of_bound(const judge_verdict *v)
{
    if (v->k > 0.0)
        return v->worst_units / v->k;
    return v->worst_units == 0.0 ? 0.0 : INFINITY;
}

/* {"passed", "failures", "worst_units", "k", "fraction_of_bound",
 *  "worst": {index, got, want, ...}} */
static json_t *error_json(const output_outcome *out, int cls)
{
    const judge_verdict *v = &out->judged;
    json_t *worst = json_object();
    json_object_set_new(worst, "index", json_integer((json_int_t)v->worst_index));
    if (out->f64 != NULL) {
        double units, bound_units;
        output_worst_element(out, cls, &units, &bound_units);
        json_object_set_new(worst, "got", vecw_double(v->worst_got));
        json_object_set_new(worst, "want", vecw_double(v->worst_want));
        json_object_set_new(worst, "units", vecw_double(units));
        json_object_set_new(worst, "bound_units", vecw_double(bound_units));
        json_object_set_new(worst, "bound", vecw_double(v->worst_bound));
    } else {
        json_object_set_new(worst, "got", json_integer(v->worst_got_index));
        json_object_set_new(worst, "want", json_integer(v->worst_want_index));
    }
    return json_pack("{s:b, s:I, s:o, s:o, s:o, s:o}", "passed", v->passed,
                     "failures", (json_int_t)v->failures, "worst_units",
                     vecw_double(v->worst_units), "k", vecw_double(v->k),
                     "fraction_of_bound", vecw_double(fraction_of_bound(v)),
                     "worst", worst);
}

/* {name: {"expected", "provided", "error"}} for every decoded output. */
static json_t *outputs_json(const case_outcome *outcome, int cls)
{
    json_t *outputs = json_object();
    for (size_t i = 0; i < outcome->n_outputs; i++) {
        const output_outcome *out = &outcome->outputs[i];
        if (out->f64 == NULL && out->i64 == NULL)
            continue;
        json_object_set_new(outputs, out->want->value.name, json_pack(
            "{s:o, s:o, s:o}", "expected", array_json(&out->want->value),
            "provided", provided_json(out), "error", error_json(out, cls)));
    }
    return outputs;
}

/* Sets key to a sanitized copy of text (runner_text.h). */
static void set_text(json_t *entry, const char *key, const char *text)
{
    json_object_set_new(entry, key, text_json_string(text));
}

/* The report's entry of one case: id, op, verdict and reason; the known
 * failure's reason; the testee's reason of a rejection; the outputs it
 * gave to an invalid case; its standard error during a failing case; the
 * judged outputs. */
json_t *report_case_json(const run_report *report, const char *op,
                         const vec_case *c, const case_outcome *outcome,
                         const char *stderr_text)
{
    json_t *entry = json_object();
    set_text(entry, "id", c->id);
    set_text(entry, "op", op);
    set_text(entry, "verdict", verdict_name(outcome->verdict));
    set_text(entry, "reason", outcome->reason);
    json_object_set_new(entry, "valid", json_boolean(c->valid));
    if (outcome->listed_reason != NULL) {
        set_text(entry, "known_failure", outcome->listed_reason);
        set_text(entry, "verdict_before_list", verdict_name(outcome->original));
    }
    if (outcome->testee_reason != NULL)
        set_text(entry, "testee_reason", outcome->testee_reason);
    if (outcome->accepted_outputs != NULL)
        json_object_set(entry, "provided_outputs", outcome->accepted_outputs);
    if (stderr_text != NULL && stderr_text[0] != '\0')
        set_text(entry, "stderr", stderr_text);
    if (outcome->n_outputs > 0)
        json_object_set_new(entry, "outputs", outputs_json(outcome, report->cls));
    return entry;
}

/* An entry that cannot fail to encode, for when the full one could not be
 * built (out of memory): the report never loses a case. */
static void write_minimal_entry(FILE *json, const vec_case *c,
                                const case_outcome *outcome)
{
    fprintf(json, "{\"id\": ");
    json_t *id = text_json_string(c->id);
    json_dumpf(id, json, JSON_ENCODE_ANY);
    json_decref(id);
    fprintf(json, ", \"verdict\": \"%s\", \"reason\": \"the runner could not "
            "encode this entry (out of memory)\"}", verdict_name(outcome->verdict));
}

/* Appends the entry (stolen) of case c to the report's "cases" array,
 * encoded whole before a byte is written. */
static void write_json_entry(run_report *report, json_t *entry,
                             const vec_case *c, const case_outcome *outcome)
{
    char *text = entry ? json_dumps(entry, JSON_FLAGS) : NULL;
    if (report->json != NULL) {
        fputs(report->json_entries++ ? ",\n" : "\n", report->json);
        if (text != NULL)
            fputs(text, report->json);
        else
            write_minimal_entry(report->json, c, outcome);
    }
    free(text);
    json_decref(entry);
}

/* ---- the summary --------------------------------------------------------- */

/* A sum of squares kept as scale^2 * sum, so that squares of values near
 * the double range (logits of 1e300) neither overflow nor vanish. */
static void add_square(scaled_sum *sum, double value)
{
    double magnitude = fabs(value);
    if (magnitude == 0.0)
        return;
    if (isinf(magnitude) || magnitude > sum->scale) {
        double ratio = isinf(magnitude) ? 0.0 : sum->scale / magnitude;
        sum->sum = 1.0 + sum->sum * ratio * ratio;
        sum->scale = magnitude;
    } else {
        double ratio = magnitude / sum->scale;
        sum->sum += ratio * ratio;
    }
}

/* numerator / denominator of two scaled sums; 0/0 is 0. */
static double ratio_of_sums(const scaled_sum *numerator,
                            const scaled_sum *denominator)
{
    if (numerator->sum == 0.0)
        return 0.0;
    if (denominator->sum == 0.0 || isinf(numerator->scale))
        return INFINITY;
    double scale_ratio = numerator->scale / denominator->scale;
    return scale_ratio * scale_ratio * (numerator->sum / denominator->sum);
}

/* Counts the case in its file's row: verdict, worst error, NMSE terms. */
static void add_to_stats(op_stats *stats, const case_outcome *outcome)
{
    stats->cases++;
    stats->counts[outcome->verdict]++;
    for (size_t i = 0; i < outcome->n_outputs; i++) {
        const output_outcome *out = &outcome->outputs[i];
        if (out->f64 == NULL)
            continue;
        if (out->judged.worst_units > stats->worst_units)
            stats->worst_units = out->judged.worst_units;
        for (size_t k = 0; k < out->want->value.count; k++) {
            double want = out->want->value.f64[k], got = out->f64[k];
            if (!isfinite(want))
                continue;
            stats->float_elements++;
            add_square(&stats->squared_error,
                       isfinite(got) ? got - want : INFINITY);
            add_square(&stats->squared_expected, want);
        }
    }
}

/* How many of the counted verdicts fail the run. */
static size_t failing_count(const size_t *counts)
{
    size_t failing = 0;
    for (int v = 0; v < VERDICT_COUNT; v++)
        if (verdict_fails_run((verdict_kind)v))
            failing += counts[v];
    return failing;
}

/* NMSE = sum (y - g)^2 / sum g^2, or NAN when there is nothing to measure. */
static double stats_nmse(const op_stats *stats)
{
    if (stats->float_elements == 0)
        return NAN;
    return ratio_of_sums(&stats->squared_error, &stats->squared_expected);
}

/* One row of the summary table ("-" for what was not measured). */
static void print_stats_row(FILE *out, const char *label, const size_t *counts,
                            size_t cases, double worst_units, double nmse)
{
    char worst[32] = "-", error[32] = "-";
    if (worst_units >= 0.0)
        snprintf(worst, sizeof worst, "%.3g", worst_units);
    if (!isnan(nmse))
        snprintf(error, sizeof error, "%.3g", nmse);
    fprintf(out, "# %-25s %6zu %6zu %6zu %6zu %6zu %14s %10s\n", label, cases,
            counts[VERDICT_PASS], failing_count(counts),
            counts[VERDICT_UNSUPPORTED], counts[VERDICT_KNOWN_FAILURE], worst,
            error);
}

/* The total of a family's counts. */
static size_t family_cases(const size_t *counts)
{
    size_t cases = 0;
    for (int v = 0; v < VERDICT_COUNT; v++)
        cases += counts[v];
    return cases;
}

/* The two verdict families (spec/protocol.md#verdict-families) as rows of
 * the table: numerics, the valid cases; input validation, the invalid
 * ones, or a line saying they were not sent. */
static void print_families(const run_report *report, double worst)
{
    const size_t *numerics = report->families[FAMILY_NUMERICS];
    const size_t *validation = report->families[FAMILY_VALIDATION];
    print_stats_row(report->out, "numerics (valid cases)", numerics,
                    family_cases(numerics), worst, NAN);
    if (report->invalid_not_sent > 0 && family_cases(validation) == 0)
        fprintf(report->out, "# %-25s %6zu not sent (--numerics-only): judge "
                "them in a run without it\n", "validation (invalid)",
                report->invalid_not_sent);
    else
        print_stats_row(report->out, "validation (invalid)", validation,
                        family_cases(validation), -1.0, NAN);
}

/* The summary table, as TAP comments. */
static void print_summary(const run_report *report)
{
    FILE *out = report->out;
    double worst = -1.0;
    size_t cases = 0;
    fprintf(out, "# summary: class %s, e = |y - g| / (u s) with u = 2^%d; "
            "NMSE = sum (y - g)^2 / sum g^2\n", vec_class_name(report->cls),
            (int)lround(log2(judge_unit_roundoff(report->cls))));
    fprintf(out, "# %-25s %6s %6s %6s %6s %6s %14s %10s\n", "op", "cases",
            "pass", "fail", "unsupp", "known", "worst e (u*s)", "NMSE");
    for (size_t i = 0; i < report->n_ops; i++) {
        const op_stats *stats = &report->ops[i];
        double op_worst = stats->float_elements ? stats->worst_units : -1.0;
        if (stats->cases == 0)
            continue;
        print_stats_row(out, stats->label, stats->counts, stats->cases,
                        op_worst, stats_nmse(stats));
        worst = op_worst > worst ? op_worst : worst;
        cases += stats->cases;
    }
    print_stats_row(out, "total", report->counts, cases, worst, NAN);
    print_families(report, worst);
    fprintf(out, "# verdicts:");
    for (int v = 0; v < VERDICT_COUNT; v++)
        fprintf(out, "%s %s %zu", v ? "," : "", verdict_name((verdict_kind)v),
                report->counts[v]);
    fprintf(out, "\n");
}

/* {"cases", "failing", verdict: count...} of one family. */
static json_t *family_json(const size_t *counts)
{
    json_t *row = json_pack("{s:I, s:I}", "cases",
                            (json_int_t)family_cases(counts), "failing",
                            (json_int_t)failing_count(counts));
    for (int v = 0; v < VERDICT_COUNT; v++)
        json_object_set_new(row, verdict_name((verdict_kind)v),
                            json_integer((json_int_t)counts[v]));
    return row;
}

/* {"numerics": ..., "input_validation": {..., "not_sent"}} */
static json_t *families_json(const run_report *report)
{
    json_t *validation = family_json(report->families[FAMILY_VALIDATION]);
    json_object_set_new(validation, "not_sent",
                        json_integer((json_int_t)report->invalid_not_sent));
    return json_pack("{s:o, s:o}", "numerics",
                     family_json(report->families[FAMILY_NUMERICS]),
                     "input_validation", validation);
}

/* The summary table for the JSON report. */
static json_t *summary_json(const run_report *report)
{
    json_t *ops = json_array(), *verdicts = json_object();
    for (size_t i = 0; i < report->n_ops; i++) {
        const op_stats *stats = &report->ops[i];
        json_t *row = json_pack("{s:s, s:I, s:I}", "op", stats->label, "cases",
                                (json_int_t)stats->cases, "failing",
                                (json_int_t)failing_count(stats->counts));
        for (int v = 0; v < VERDICT_COUNT; v++)
            json_object_set_new(row, verdict_name((verdict_kind)v),
                                json_integer((json_int_t)stats->counts[v]));
        json_object_set_new(row, "worst_units", stats->float_elements
                            ? vecw_double(stats->worst_units) : json_null());
        json_object_set_new(row, "nmse", stats->float_elements
                            ? vecw_double(stats_nmse(stats)) : json_null());
        if (stats->cases > 0)
            json_array_append_new(ops, row);
        else
            json_decref(row);
    }
    for (int v = 0; v < VERDICT_COUNT; v++)
        json_object_set_new(verdicts, verdict_name((verdict_kind)v),
                            json_integer((json_int_t)report->counts[v]));
    return json_pack("{s:s, s:o, s:o, s:o}", "class",
                     vec_class_name(report->cls), "ops", ops, "verdicts",
                     verdicts, "families", families_json(report));
}

/* ---- the public functions ------------------------------------------------ */

int report_open(run_report *report, FILE *out, FILE *err, int show_progress,
                const char *json_path, char *message, size_t size)
{
    memset(report, 0, sizeof *report);
    report->out = out;
    report->err = err;
    report->show_progress = show_progress;
    if (json_path == NULL)
        return 0;
    size_t len = strlen(json_path);
    report->json_path = strdup(json_path);
    report->json_temporary = malloc(len + sizeof ".tmp");
    if (report->json_path != NULL && report->json_temporary != NULL) {
        memcpy(report->json_temporary, json_path, len);
        memcpy(report->json_temporary + len, ".tmp", sizeof ".tmp");
        report->json = fopen(report->json_temporary, "w");
    }
    if (report->json == NULL) {
        snprintf(message, size, "%s.tmp: %s", json_path, strerror(errno));
        free(report->json_path);
        free(report->json_temporary);
        memset(report, 0, sizeof *report);
        return -1;
    }
    fputs("{\"format\": \"lmr-run-report\", \"protocol\": 1, \"cases\": [",
          report->json);
    return 0;
}

int report_begin_file(run_report *report, const char *path)
{
    op_stats *grown = realloc(report->ops, (report->n_ops + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    report->ops = grown;
    op_stats *stats = &grown[report->n_ops++];
    memset(stats, 0, sizeof *stats);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".json") == 0)
        len -= 5;
    text_sanitize(stats->label, sizeof stats->label, base, len, 0);
    return 0;
}

void report_case(run_report *report, const char *op, const vec_case *c,
                 const case_outcome *outcome, const char *stderr_text)
{
    write_tap_line(report, c, outcome);
    write_tap_diagnostics(report, outcome, stderr_text);
    fflush(report->out);
    write_json_entry(report, report_case_json(report, op, c, outcome,
                                              stderr_text), c, outcome);
    report->counts[outcome->verdict]++;
    report->families[c->valid ? FAMILY_NUMERICS
                              : FAMILY_VALIDATION][outcome->verdict]++;
    if (report->n_ops > 0)
        add_to_stats(&report->ops[report->n_ops - 1], outcome);
}

void report_progress(const run_report *report, size_t file_index,
                     size_t n_files, const char *id)
{
    if (!report->show_progress)
        return;
    fprintf(report->err, "\r\033[K[file %zu/%zu] %s", file_index + 1,
            n_files, id);
    fflush(report->err);
}

void report_comment(const run_report *report, const char *fmt, ...)
{
    char text[2048];
    va_list args;
    va_start(args, fmt);
    vsnprintf(text, sizeof text, fmt, args);
    va_end(args);
    comment_lines(report->out, "", text);
}

void report_bail_out(run_report *report, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(report->bail_reason, sizeof report->bail_reason, fmt, args);
    va_end(args);
    fprintf(report->out, "Bail out! ");
    write_first_line(report->out, report->bail_reason);
    fputc('\n', report->out);
}

int report_any_failure(const run_report *report)
{
    return failing_count(report->counts) > 0;
}

/* Writes value, or null when it is missing or cannot be encoded, so that
 * the report stays JSON whatever happens. */
static void write_value(FILE *json, const json_t *value)
{
    char *text = value ? json_dumps(value, JSON_FLAGS | JSON_ENCODE_ANY)
                       : NULL;
    fputs(text ? text : "null", json);
    free(text);
}

/* Ends the JSON report and renames it into place; 0 or -1. */
static int finish_json(run_report *report, json_t *run, int exit_status,
                       char *message, size_t size)
{
    json_t *summary = summary_json(report);
    FILE *json = report->json;
    fputs("\n], \"run\": ", json);
    write_value(json, run);
    fputs(", \"summary\": ", json);
    write_value(json, summary);
    if (report->bail_reason[0] != '\0') {
        fputs(", \"error\": ", json);
        json_t *error = text_json_string(report->bail_reason);
        write_value(json, error);
        json_decref(error);
    }
    fprintf(json, ", \"exit_status\": %d}\n", exit_status);
    json_decref(summary);
    report->json = NULL;
    int failed = ferror(json) != 0;
    failed |= fclose(json) != 0;
    if (failed || rename(report->json_temporary, report->json_path) != 0) {
        snprintf(message, size, "%s: cannot write the report: %s",
                 report->json_path, strerror(errno));
        remove(report->json_temporary);
        return -1;
    }
    return 0;
}

int report_close(run_report *report, json_t *run, int exit_status,
                 char *message, size_t size)
{
    int result = 0;
    if (report->show_progress) {
        fprintf(report->err, "\r\033[K");
        fflush(report->err);
    }
    if (report->bail_reason[0] == '\0' || report->test_number > 0)
        print_summary(report);
    if (report->bail_reason[0] == '\0')
        fprintf(report->out, "1..%zu\n", report->test_number);
    fflush(report->out);
    if (report->json != NULL)
        result = finish_json(report, run, exit_status, message, size);
    json_decref(run);
    free(report->ops);
    free(report->json_path);
    free(report->json_temporary);
    memset(report, 0, sizeof *report);
    return result;
}
