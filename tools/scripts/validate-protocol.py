#!/usr/bin/python3
"""validate-protocol.py -- checks the lines of lmr-run transcripts against the
protocol's JSON Schemas (spec/protocol-{hello,request,response}.schema.json).

Usage: validate-protocol.py SPEC_DIR TRANSCRIPT...

A transcript is what `lmr-run --transcript FILE` writes: "# start: ..." when
the testee is started (the next line it writes is its hello), "> LINE" for
each request the runner sent, "< LINE" for each line the testee wrote. Every
hello, request and response is validated with Debian's python3-jsonschema
(Draft 2020-12), plus the rule a schema cannot state: an output's data holds
the product of its shape (one bare element for the shape []). A line that is
not JSON is a violation too, so run this on transcripts of correct testees.
Exit status: 0 when every line is valid, 1 otherwise, 2 for bad usage.
"""
import json
import math
import sys

import jsonschema

SCHEMAS = ("vector", "protocol-hello", "protocol-request", "protocol-response")
MAX_MESSAGES = 10


def load_validators(spec_dir):
    """The hello, request and response validators, with vector.schema.json
    available to the request schema's references."""
    schemas = {}
    for name in SCHEMAS:
        with open(f"{spec_dir}/{name}.schema.json", encoding="utf-8") as stream:
            schemas[name] = json.load(stream)
        jsonschema.Draft202012Validator.check_schema(schemas[name])
    store = {schema["$id"]: schema for schema in schemas.values()}
    validators = {}
    for kind in ("hello", "request", "response"):
        schema = schemas["protocol-" + kind]
        resolver = jsonschema.RefResolver(schema["$id"], schema, store=store)
        validators[kind] = jsonschema.Draft202012Validator(schema, resolver=resolver)
    return validators


def count_errors(response):
    """Outputs whose data does not hold the product of their shape."""
    outputs = response.get("outputs")
    if not isinstance(outputs, dict):
        return
    for name, output in outputs.items():
        if not isinstance(output, dict):
            continue
        shape, data = output.get("shape"), output.get("data")
        if not isinstance(shape, list) or not all(isinstance(n, int) for n in shape):
            continue
        count = len(data) if isinstance(data, list) else 1
        if isinstance(data, list) or shape:
            if count != math.prod(shape):
                yield f"outputs.{name}: {count} elements for shape {shape}"


def line_problems(validators, kind, text):
    """The problems of one line of the given kind."""
    try:
        value = json.loads(text)
    except ValueError as error:
        return [f"{kind}: not JSON: {error}"]
    found = [f"{kind}: {'/'.join(str(p) for p in e.path) or '(top level)'}: "
             f"{e.message[:160]}" for e in validators[kind].iter_errors(value)]
    if kind == "response" and not found:
        found = [f"response: {problem}" for problem in count_errors(value)]
    return found


def transcript_problems(validators, path):
    """(line number, problem) for every invalid line of a transcript, and
    the number of lines checked."""
    found, checked, expect_hello = [], 0, False
    with open(path, encoding="utf-8", errors="surrogateescape") as stream:
        for number, line in enumerate(stream, 1):
            line = line.rstrip("\n")
            if line.startswith("# start:"):
                expect_hello = True
                continue
            if line.startswith("> "):
                kind = "request"
            elif line.startswith("< "):
                kind = "hello" if expect_hello else "response"
                expect_hello = False
            else:
                found.append((number, "neither '> ', '< ' nor '# start:'"))
                continue
            checked += 1
            found += [(number, p) for p in line_problems(validators, kind, line[2:])]
    return found, checked


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    validators = load_validators(argv[1])
    failed = 0
    for path in argv[2:]:
        found, checked = transcript_problems(validators, path)
        for number, problem in found[:MAX_MESSAGES]:
            print(f"{path}: line {number}: {problem}", file=sys.stderr)
        if found:
            failed += 1
        else:
            print(f"protocol: {path}: {checked} lines valid")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
