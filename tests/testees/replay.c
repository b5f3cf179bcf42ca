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
 *   --bad ID crash            on case ID: half a line, then killed by SIGTERM
 *   --bad ID hang             on case ID: sleeps
 *   --bad ID garbage          on case ID: a line that is not JSON
 *   --bad ID wrong-id         on case ID: the answer under another id
 *   --bad ID wrong-shape      on case ID: the first output reshaped
 *   --bad ID perturb          on case ID: the first float element moved
 *   --bad ID flood            on case ID: an endless line
 *
 * The class defaults to fp64 and the ops to ["*"].
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    } else if (strcmp(mode, "wrong-id") == 0) {
        json_object_set_new(response, "id", json_string("somebody/else"));
    } else if (strcmp(mode, "wrong-shape") == 0) {
        reshape(first_output(response));
    } else if (strcmp(mode, "perturb") == 0) {
        perturb(first_output(response));
    }
    print_json(response);
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
    else
        say_hello(&state);
    fflush(stdout);
    if (state.start == NULL || strcmp(state.start, "exit-after-hello") != 0)
        serve(&state);
    json_decref(state.cases);
    return 0;
}
