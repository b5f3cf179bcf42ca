/*
 * replay.c -- a testee for tests/runner.c that answers from the vector files
 * themselves: "ok" with the expected outputs for a valid case, "rejected"
 * for an invalid one, "unsupported" for an id it does not know. So it passes
 * every case -- unless told to misbehave:
 *
 *   replay [--class CLASS] [--ops OP,OP,...] [--start MODE]
 *          [--bad ID MODE]... VECTOR_FILE...
 *
 *   --start no-hello          never says hello (sleeps)
 *   --start exit-after-hello  says hello, then exits with status 0
 *   --start garbage-hello     says something that is not a hello
 *   --start long-hello        a hello whose name is 2 MiB long
 *   --bad ID crash            on case ID: half a line, then killed by SIGTERM
 *   --bad ID hang             on case ID: sleeps
 *   --bad ID garbage          on case ID: a line that is not JSON
 *   --bad ID wrong-id         on case ID: the answer under another id
 *   --bad ID wrong-shape      on case ID: the first output reshaped
 *   --bad ID perturb          on case ID: the first float element moved
 *   --bad ID flood            on case ID: an endless line
 *
 * and, for the engine features and the hostile cases of runner_hostile.c:
 *
 *   scalar          one-element outputs as shape [] with a bare number
 *   scalar-all      every output as shape [] (wrong for longer ones)
 *   stderr-perturb  a line on stderr, then perturb
 *   accept          "ok" with an output, whatever the case (invalid ones)
 *   slow            the right answer after 1.5 s
 *   twice           the right answer twice, in one write
 *   orphan-stdout   exits without answering; a child keeps stdout open
 *   setsid-child    a child leaves the process group (setsid), writes its
 *                   pid to $REPLAY_PID_FILE and sleeps; the testee hangs
 *   raw-bytes       a line that is not JSON and not UTF-8
 *   cut-utf8        a line that is not JSON, with a two-byte character
 *                   across the 80th byte
 *   bad-utf8-stderr bytes that are not UTF-8 on stderr, then crash
 *   huge-number     the first float element written as 1e400
 *   huge-negative   the first float element written as -1e400
 *   big-integer     the first float element written as 18446744073709551616
 *   int-off-by-one  the first integer element minus 1
 *   int-big         the first integer element written as 18446744073709551616
 *   shape-negative  the first output's shape [-1, 3]
 *   shape-real      the first output's shape [1e9, 5, 3]
 *   shape-huge      the first output's shape [2^62, 2^62]
 *   objects-flood   the answer with a member [{},{},...] of
 *                   $REPLAY_FLOOD_BYTES bytes (default 900000)
 *   pad             the answer with a 2 MiB string member
 *   stderr-flood    10 MB on stderr, then perturb
 *
 * The class defaults to fp64 and the ops to ["*"].
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define MAX_BAD 16

typedef struct {
    const char *id;
    const char *mode;
} misbehaviour;

typedef struct {
    const char *cls;
    const char *ops;     /* comma-separated, or NULL for "*" */
    const char *start;   /* a --start mode, or NULL */
    size_t n_bad;
    misbehaviour bad[MAX_BAD];
    json_t *cases;       /* every case of every file */
} replay;

/* Never returns; the runner kills the process. */
static void sleep_forever(void)
{
    struct timespec second = {1, 0};
    for (;;)
        nanosleep(&second, NULL);
}

/* Writes value (stolen) as one line and flushes. */
static void print_json(json_t *value)
{
    json_dumpf(value, stdout, JSON_COMPACT | JSON_REAL_PRECISION(17));
    putchar('\n');
    fflush(stdout);
    json_decref(value);
}

/* ---- the normal answers -------------------------------------------------- */

/* The case with this id in the vector files, or NULL. */
static const json_t *find_case(const replay *state, const char *id)
{
    size_t i;
    const json_t *c;
    json_array_foreach(state->cases, i, c)
        if (strcmp(json_string_value(json_object_get(c, "id")), id) == 0)
            return c;
    return NULL;
}

/* {"shape", "data"} of each expected output. */
static json_t *expected_outputs(const json_t *c)
{
    json_t *outputs = json_object();
    const char *name;
    json_t *array;
    json_object_foreach(json_object_get(c, "expected"), name, array)
        json_object_set_new(outputs, name, json_pack(
            "{s:O, s:O}", "shape", json_object_get(array, "shape"),
            "data", json_object_get(array, "data")));
    return outputs;
}

/* The correct answer to case id. */
static json_t *answer(const replay *state, const char *id)
{
    const json_t *c = find_case(state, id);
    if (c == NULL)
        return json_pack("{s:s, s:s, s:s}", "id", id, "status", "unsupported",
                         "reason", "not in my vector files");
    if (json_object_get(c, "expected") == NULL)
        return json_pack("{s:s, s:s, s:O}", "id", id, "status", "rejected",
                         "reason", json_object_get(c, "error"));
    return json_pack("{s:s, s:s, s:o}", "id", id, "status", "ok",
                     "outputs", expected_outputs(c));
}

/* ---- misbehaviour -------------------------------------------------------- */

/* The first output of an ok answer. */
static json_t *first_output(json_t *response)
{
    void *first = json_object_iter(json_object_get(response, "outputs"));
    return first ? json_object_iter_value(first) : NULL;
}

/* [a, b, ...] -> [a * b * ...] when it has several dimensions, else [1, n]. */
static void reshape(json_t *output)
{
    json_t *shape = json_object_get(output, "shape"), *dim;
    json_int_t product = 1;
    size_t i;
    json_array_foreach(shape, i, dim)
        product *= json_integer_value(dim);
    json_t *changed = json_array_size(shape) > 1
        ? json_pack("[I]", product) : json_pack("[i, I]", 1, product);
    json_object_set_new(output, "shape", changed);
}

/* Moves the first float element of the output far out of any bound. */
static void perturb(json_t *output)
{
    json_t *data = json_object_get(output, "data");
    json_t *first = json_array_get(data, 0);
    if (json_is_real(first))
        json_array_set_new(data, 0,
                           json_real(json_real_value(first) * 1.5 + 1.0));
    else if (json_is_integer(first))
        json_array_set_new(data, 0, json_integer(json_integer_value(first) + 1));
}

/* The first integer element of any output, minus 1 (an integer near the
 * int64 limit stays in range). */
static void decrement_first_integer(json_t *response)
{
    const char *name;
    json_t *output;
    json_object_foreach(json_object_get(response, "outputs"), name, output) {
        json_t *data = json_object_get(output, "data");
        json_t *first = json_array_get(data, 0);
        if (json_is_integer(first)) {
            json_array_set_new(data, 0,
                               json_integer(json_integer_value(first) - 1));
            return;
        }
    }
}

/* Writes value (stolen) as one line with the string "__RAW__" replaced by
 * the raw text raw (a number jansson could not write). */
static void print_with_raw(json_t *value, const char *raw)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_REAL_PRECISION(17));
    char *at = text ? strstr(text, "\"__RAW__\"") : NULL;
    if (at != NULL) {
        *at = '\0';
        printf("%s%s%s\n", text, raw, at + strlen("\"__RAW__\""));
    } else if (text != NULL) {
        printf("%s\n", text);
    }
    fflush(stdout);
    free(text);
    json_decref(value);
}

/* Sets the first element of the first output that has elements of the
 * given kind (1: integer, 0: float) to the placeholder "__RAW__". */
static void mark_first_element(json_t *response, int integer)
{
    const char *name;
    json_t *output;
    json_object_foreach(json_object_get(response, "outputs"), name, output) {
        json_t *data = json_object_get(output, "data");
        json_t *first = json_array_get(data, 0);
        if (first != NULL && (integer ? json_is_integer(first)
                                      : !json_is_integer(first))) {
            json_array_set_new(data, 0, json_string("__RAW__"));
            return;
        }
    }
}

/* [a, b, ...] -> [] with the bare first element, for one-element outputs
 * (or every output, if all). */
static void make_scalars(json_t *response, int all)
{
    const char *name;
    json_t *output;
    json_object_foreach(json_object_get(response, "outputs"), name, output) {
        json_t *data = json_object_get(output, "data");
        if (!all && json_array_size(data) != 1)
            continue;
        json_object_set_new(output, "shape", json_array());
        json_object_set(output, "data", json_array_get(data, 0));
    }
}

/* Every output renamed NAME -> NAME_x, as by an engine with its own names. */
static void rename_outputs(json_t *response)
{
    json_t *outputs = json_object_get(response, "outputs"), *renamed;
    const char *name;
    json_t *output;
    char new_name[128];
    if (!json_is_object(outputs))
        return;
    renamed = json_object();
    json_object_foreach(outputs, name, output) {
        snprintf(new_name, sizeof new_name, "%s_x", name);
        json_object_set(renamed, new_name, output);
    }
    json_object_set_new(response, "outputs", renamed);
}

/* The first output's shape replaced by the JSON text shape. */
static void set_first_shape(json_t *response, const char *shape)
{
    json_t *output = first_output(response);
    if (output != NULL)
        json_object_set_new(output, "shape", json_loads(shape, 0, NULL));
}

/* The answer, then a member of cheap-to-write, costly-to-parse JSON:
 * "junk": [{},{},...] of $REPLAY_FLOOD_BYTES bytes. */
static void print_objects_flood(json_t *response)
{
    char *text = json_dumps(response, JSON_COMPACT | JSON_REAL_PRECISION(17));
    const char *wanted = getenv("REPLAY_FLOOD_BYTES");
    size_t len = text ? strlen(text) : 0;
    size_t bytes = wanted ? (size_t)strtoull(wanted, NULL, 10) : 900000;
    if (len > 0) {
        fwrite(text, 1, len - 1, stdout); /* all but the closing brace */
        fputs(",\"junk\":[{}", stdout);
        for (size_t i = 0; i < bytes / 3; i++)
            fputs(",{}", stdout);
        fputs("]}\n", stdout);
        fflush(stdout);
    }
    free(text);
    json_decref(response);
}

/* A child that keeps the testee's output open for 30 s; the testee exits. */
static void orphan_stdout(void)
{
    if (fork() == 0) {
        struct timespec wait = {30, 0};
        nanosleep(&wait, NULL);
        _exit(0);
    }
    exit(0);
}

/* A child in a session of its own (so outside the testee's process group)
 * that sleeps; its pid goes to $REPLAY_PID_FILE. The testee hangs. */
static void setsid_child(void)
{
    pid_t child = fork();
    if (child == 0) {
        setsid();
        sleep_forever();
    }
    const char *path = getenv("REPLAY_PID_FILE");
    FILE *file = path ? fopen(path, "w") : NULL;
    if (file != NULL) {
        fprintf(file, "%ld\n", (long)child);
        fclose(file);
    }
    sleep_forever();
}

/* Many megabytes on stderr. */
static void flood_stderr(size_t bytes)
{
    static const char line[] = "replay: a line of noise on stderr\n";
    for (size_t written = 0; written < bytes; written += sizeof line - 1)
        fputs(line, stderr);
    fflush(stderr);
}

/* Modes that end the process or write a line of their own; 1 if mode was
 * one of them (response is then consumed). */
static int misbehave_raw(const char *mode, const char *id, json_t *response)
{
    if (strcmp(mode, "raw-bytes") == 0)
        printf("\xff\xfe this is neither JSON nor UTF-8 \xc3\n");
    else if (strcmp(mode, "cut-utf8") == 0)
        printf("%.*s\xc3\xa9 and more, not JSON\n", 79,
               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    else if (strcmp(mode, "twice") == 0) {
        char *text = json_dumps(response, JSON_COMPACT | JSON_REAL_PRECISION(17));
        printf("%s\n%s\n", text, text);
        free(text);
    } else if (strcmp(mode, "objects-flood") == 0) {
        print_objects_flood(response);
        return 1;
    } else if (strcmp(mode, "bad-utf8-stderr") == 0) {
        fprintf(stderr, "replay: \xff\xfe bytes that are not UTF-8 on %s\n",
                id);
        fflush(stderr);
        raise(SIGTERM);
    } else if (strcmp(mode, "orphan-stdout") == 0) {
        orphan_stdout();
    } else if (strcmp(mode, "setsid-child") == 0) {
        setsid_child();
    } else {
        return 0;
    }
    fflush(stdout);
    json_decref(response);
    return 1;
}

/* Modes that change the answer before it is written. */
static void misbehave_answer(const char *mode, json_t *response)
{
    if (strcmp(mode, "wrong-id") == 0)
        json_object_set_new(response, "id", json_string("somebody/else"));
    else if (strcmp(mode, "wrong-shape") == 0)
        reshape(first_output(response));
    else if (strcmp(mode, "perturb") == 0 || strcmp(mode, "stderr-perturb") == 0 ||
             strcmp(mode, "stderr-flood") == 0)
        perturb(first_output(response));
    else if (strcmp(mode, "int-off-by-one") == 0)
        decrement_first_integer(response);
    else if (strcmp(mode, "scalar") == 0 || strcmp(mode, "scalar-all") == 0)
        make_scalars(response, strcmp(mode, "scalar-all") == 0);
    else if (strcmp(mode, "misnamed") == 0)
        rename_outputs(response);
    else if (strcmp(mode, "shape-negative") == 0)
        set_first_shape(response, "[-1, 3]");
    else if (strcmp(mode, "shape-real") == 0)
        set_first_shape(response, "[1e9, 5, 3]");
    else if (strcmp(mode, "shape-huge") == 0)
        set_first_shape(response, "[4611686018427387904, 4611686018427387904]");
    else if (strcmp(mode, "pad") == 0) {
        char *padding = malloc((size_t)2 << 20);
        memset(padding, 'p', ((size_t)2 << 20) - 1);
        padding[((size_t)2 << 20) - 1] = '\0';
        json_object_set_new(response, "padding", json_string(padding));
        free(padding);
    }
}

/* "ok" with one made-up output, whatever the case. */
static json_t *accepted(const char *id)
{
    return json_pack("{s:s, s:s, s:{s:{s:[i], s:[f]}}}", "id", id, "status",
                     "ok", "outputs", "Y", "shape", 1, "data", 0.5);
}

/* Answers case id (response stolen) the way mode says. */
static void misbehave(const char *mode, const char *id, json_t *response)
{
    if (strcmp(mode, "crash") == 0) {
        fprintf(stderr, "replay: crashing on %s, as asked\n", id);
        printf("{\"id\": \"%s\", \"stat", id);
        fflush(stdout);
        raise(SIGTERM);
    } else if (strcmp(mode, "hang") == 0) {
        sleep_forever();
    } else if (strcmp(mode, "garbage") == 0) {
        printf("this is not JSON {{{\n");
        fflush(stdout);
        json_decref(response);
        return;
    } else if (strcmp(mode, "flood") == 0) {
        for (;;)
            fputs("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", stdout);
    }
    if (misbehave_raw(mode, id, response))
        return;
    if (strcmp(mode, "slow") == 0) {
        struct timespec wait = {1, 500000000L};
        nanosleep(&wait, NULL);
    } else if (strcmp(mode, "accept") == 0) {
        json_decref(response);
        response = accepted(id);
    } else if (strcmp(mode, "stderr-perturb") == 0) {
        fprintf(stderr, "replay: perturbing %s, as asked\n", id);
        fflush(stderr);
    } else if (strcmp(mode, "stderr-flood") == 0) {
        flood_stderr((size_t)10 << 20);
    }
    misbehave_answer(mode, response);
    if (strcmp(mode, "huge-number") == 0 || strcmp(mode, "big-integer") == 0 ||
        strcmp(mode, "huge-negative") == 0) {
        mark_first_element(response, 0);
        print_with_raw(response, strcmp(mode, "huge-number") == 0 ? "1e400"
                       : strcmp(mode, "huge-negative") == 0
                           ? "-1e400" : "18446744073709551616");
    } else if (strcmp(mode, "int-big") == 0) {
        mark_first_element(response, 1);
        print_with_raw(response, "18446744073709551616");
    } else {
        print_json(response);
    }
}

/* The --bad mode for case id, or NULL. */
static const char *bad_mode(const replay *state, const char *id)
{
    for (size_t i = 0; i < state->n_bad; i++)
        if (strcmp(state->bad[i].id, id) == 0)
            return state->bad[i].mode;
    return NULL;
}

/* ---- main ---------------------------------------------------------------- */

/* The hello, with the --class and --ops given. */
static void say_hello(const replay *state)
{
    json_t *ops = json_array();
    char list[1024];
    snprintf(list, sizeof list, "%s", state->ops ? state->ops : "*");
    for (char *op = strtok(list, ","); op != NULL; op = strtok(NULL, ","))
        json_array_append_new(ops, json_string(op));
    print_json(json_pack("{s:i, s:s, s:s, s:o}", "protocol", 1, "name",
                         "replay", "class", state->cls, "ops", ops));
}

/* A hello whose name is 2 MiB of 'n'. */
static void say_long_hello(void)
{
    printf("{\"protocol\": 1, \"class\": \"fp64\", \"ops\": [\"*\"], "
           "\"name\": \"");
    for (size_t i = 0; i < ((size_t)2 << 20); i++)
        putchar('n');
    printf("\"}\n");
}

/* Reads the options and the files; 0, or -1 after a message. */
static int parse(replay *state, int argc, char **argv)
{
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--class") == 0)
            state->cls = argv[i + 1];
        else if (strcmp(argv[i], "--ops") == 0)
            state->ops = argv[i + 1];
        else if (strcmp(argv[i], "--start") == 0)
            state->start = argv[i + 1];
        else if (strcmp(argv[i], "--bad") == 0 && i + 2 < argc &&
                 state->n_bad < MAX_BAD) {
            state->bad[state->n_bad].id = argv[i + 1];
            state->bad[state->n_bad++].mode = argv[i + 2];
            i++;
        } else {
            fprintf(stderr, "replay: bad option %s\n", argv[i]);
            return -1;
        }
    }
    for (; i < argc; i++) {
        json_error_t error;
        json_t *file = json_load_file(argv[i], 0, &error);
        if (file == NULL) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], error.text);
            return -1;
        }
        json_array_extend(state->cases, json_object_get(file, "cases"));
        json_decref(file);
    }
    return 0;
}

/* Answers request lines until the end of the input. */
static void serve(const replay *state)
{
    char *line = NULL;
    size_t capacity = 0;
    while (getline(&line, &capacity, stdin) > 0) {
        json_t *request = json_loads(line, 0, NULL);
        const char *id = json_string_value(json_object_get(request, "id"));
        const char *mode = id ? bad_mode(state, id) : NULL;
        json_t *response = id ? answer(state, id) : NULL;
        if (mode != NULL)
            misbehave(mode, id, response);
        else if (response != NULL)
            print_json(response);
        json_decref(request);
    }
    free(line);
}

/* Says hello (or not, as --start says), then serves the requests. */
int main(int argc, char **argv)
{
    replay state = {"fp64", NULL, NULL, 0, {{NULL, NULL}}, json_array()};
    if (parse(&state, argc, argv) != 0)
        return 2;
    if (state.start != NULL && strcmp(state.start, "no-hello") == 0)
        sleep_forever();
    if (state.start != NULL && strcmp(state.start, "garbage-hello") == 0)
        printf("Hello, world!\n");
    else if (state.start != NULL && strcmp(state.start, "long-hello") == 0)
        say_long_hello();
    else
        say_hello(&state);
    fflush(stdout);
    if (state.start == NULL || strcmp(state.start, "exit-after-hello") != 0)
        serve(&state);
    json_decref(state.cases);
    return 0;
}
