#!/usr/bin/python3
"""validate-schema.py -- validates vector files against spec/vector.schema.json.

Usage: validate-schema.py [--expect-invalid] SCHEMA FILE...

Checks every file with Debian's python3-jsonschema (Draft 2020-12) plus the
cross-field rules a JSON Schema cannot express: each data array holds the
product of its shape, each scale array matches its expected array, every flag
is explained in the notes, ids are unique, and number_of_cases is right.
With --expect-invalid, every file must FAIL (used on tests/malformed/).
Exit status: 0 when every file is as expected, 1 otherwise.
"""
import json
import math
import sys

import jsonschema


def product(shape):
    return math.prod(shape)


def cross_field_errors(document):
    """Rules beyond the schema; yields (case id, field, message)."""
    notes = document.get("notes", {})
    cases = document.get("cases", [])
    if document.get("number_of_cases") != len(cases):
        yield ("-", "number_of_cases", "does not match the number of cases")
    seen = set()
    for case in cases:
        case_id = case.get("id", "?")
        if case_id in seen:
            yield (case_id, "id", "duplicate id")
        seen.add(case_id)
        for flag in case.get("flags", []):
            if flag not in notes:
                yield (case_id, "flags", f"flag {flag!r} has no note")
        arrays = [("inputs." + k, v) for k, v in case.get("inputs", {}).items()]
        arrays += [("expected." + k, v) for k, v in case.get("expected", {}).items()]
        for field, array in arrays:
            if "data" in array and len(array["data"]) != product(array["shape"]):
                yield (case_id, field, "data length differs from the shape's product")
        expected = case.get("expected", {})
        tolerance = case.get("tolerance", {})
        if set(expected) != set(tolerance):
            yield (case_id, "tolerance", "keys differ from expected's")
        for name, entry in tolerance.items():
            output = expected.get(name)
            if output is None:
                continue
            integer = output["dtype"] == "int64"
            if integer != ("exact" in entry):
                yield (case_id, f"tolerance.{name}", "int64 outputs are exact, float64 ones scaled")
            elif not integer and len(entry["scale"]) != len(output["data"]):
                yield (case_id, f"tolerance.{name}.scale", "length differs from the output's")
            for accept in entry.get("accept", []):
                if accept["index"] >= len(output["data"]):
                    yield (case_id, f"tolerance.{name}.accept", "index past the output")


def problems(validator, path):
    try:
        with open(path, encoding="utf-8") as stream:
            document = json.load(stream)
    except (OSError, ValueError) as error:
        return [f"{path}: cannot read JSON: {error}"]
    found = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path)):
        where = "/".join(str(p) for p in error.path) or "(top level)"
        found.append(f"{path}: {where}: {error.message[:200]}")
        if len(found) >= 10:
            break
    if not found:
        for case_id, field, message in cross_field_errors(document):
            found.append(f"{path}: case {case_id!r}: field {field!r}: {message}")
    return found


def main(argv):
    expect_invalid = "--expect-invalid" in argv
    args = [a for a in argv[1:] if a != "--expect-invalid"]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as stream:
        schema = json.load(stream)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    failed = 0
    for path in args[1:]:
        found = problems(validator, path)
        if expect_invalid and not found:
            print(f"{path}: expected the schema check to fail, but it passed", file=sys.stderr)
            failed += 1
        elif not expect_invalid and found:
            print("\n".join(found), file=sys.stderr)
            failed += 1
    kind = "rejected as expected" if expect_invalid else "valid"
    if failed == 0:
        print(f"schema: {len(args) - 1} files {kind} against {args[0]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
