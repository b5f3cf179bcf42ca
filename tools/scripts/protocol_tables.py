#!/usr/bin/python3
"""protocol_tables.py [--check] -- the generated tables of spec/protocol.md.

Three tables of the implementers' notes are written between marker lines,
so that they cannot drift from what they describe:

- params:  every param of every op with its type and default, from
           tools/common/ops.json (the op table);
- outputs: every op's output names, types and shapes, from the same file;
- int64:   every case of vectors/ holding an integer beyond 2^53 in
           magnitude, which a JSON reader that turns numbers into doubles
           (JavaScript's JSON.parse, and others) cannot read exactly.

Without --check the file is rewritten in place (temp file, then rename);
with --check it is left alone and the exit status is 1 when a table is out
of date (make protocol-tables-check, part of make check).
"""
import glob
import json
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
PROTOCOL = os.path.join(ROOT, "spec", "protocol.md")
OPS_JSON = os.path.join(ROOT, "tools", "common", "ops.json")
VECTORS = os.path.join(ROOT, "vectors")
SCRIPT = "tools/scripts/protocol_tables.py"
TWO53 = 2 ** 53


def cell(value):
    """A JSON value as the text of a table cell."""
    if value is None:
        return "(required)"
    return "`%s`" % json.dumps(value)


def params_table(ops):
    lines = ["| op | param | type | default | range |", "|---|---|---|---|---|"]
    for op in ops:
        for p in op["params"]:
            default = "(required)" if p["required"] else cell(p["default"])
            lines.append("| `%s` | `%s` | %s | %s | %s |" % (
                op["name"], p["name"], p["type"], default, p["range"].replace("|", "\\|")))
    return lines


def shape_text(output):
    """The shape part of an output's description ("n x |V|"), else its rule."""
    about = output["about"]
    shape = about.split(":", 1)[0] if ":" in about else about
    return shape.replace("|", "\\|")


def outputs_table(ops):
    lines = ["| op | outputs (name: type, shape) |", "|---|---|"]
    for op in ops:
        parts = []
        for o in op["outputs"]:
            kind = "int64" if o["dtype"] == "int64" else "float"
            optional = ", optional" if o["optional"] else ""
            parts.append("`%s`: %s, %s%s" % (o["name"], kind, shape_text(o), optional))
        lines.append("| `%s` | %s |" % (op["name"], "; ".join(parts)))
    return lines


def big_integers(value, where, found):
    """Collects (where, integer) for every JSON integer beyond 2^53."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > TWO53:
            found.append((where, value))
    elif isinstance(value, dict):
        for key, item in value.items():
            big_integers(item, where if key == "data" else where + [key], found)
    elif isinstance(value, list):
        for item in value:
            big_integers(item, where, found)


def int64_table():
    lines = ["| case | result | where | integer | as a double |", "|---|---|---|---|---|"]
    for path in sorted(glob.glob(os.path.join(VECTORS, "*.json"))):
        with open(path) as f:
            vector_file = json.load(f)
        for case in vector_file["cases"]:
            found = []
            for part in ("params", "inputs", "expected"):
                big_integers(case.get(part, {}), [part], found)
            for where, value in found:
                rounded = int(float(value))
                lines.append("| `%s` | %s | `%s` | %d | %s |" % (
                    case["id"], case["result"], ".".join(where), value,
                    "exact" if rounded == value else "%d" % rounded))
    return lines


def tables():
    with open(OPS_JSON) as f:
        ops = json.load(f)["ops"]
    return {"params": params_table(ops), "outputs": outputs_table(ops), "int64": int64_table()}


def render(text, generated):
    """text with each marked block replaced; raises on a missing marker."""
    for name, lines in generated.items():
        begin = "<!-- BEGIN GENERATED %s by %s -->" % (name, SCRIPT)
        end = "<!-- END GENERATED %s -->" % name
        if text.count(begin) != 1 or text.count(end) != 1:
            raise ValueError("%s: markers of table '%s' missing or repeated" % (PROTOCOL, name))
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + begin + "\n" + "\n".join(lines) + "\n" + end + tail
    return text


def main(argv):
    check = argv == ["--check"]
    if argv not in ([], ["--check"]):
        print("usage: protocol_tables.py [--check]", file=sys.stderr)
        return 2
    with open(PROTOCOL) as f:
        text = f.read()
    try:
        new = render(text, tables())
    except ValueError as e:
        print("protocol_tables: %s" % e, file=sys.stderr)
        return 1
    if check:
        if new != text:
            print("protocol-tables-check: the tables of spec/protocol.md are out of date; "
                  "run 'make protocol-tables'")
            return 1
        print("protocol-tables-check: the tables of spec/protocol.md match ops.json and vectors/")
        return 0
    if new != text:
        with open(PROTOCOL + ".tmp", "w") as f:
            f.write(new)
        os.replace(PROTOCOL + ".tmp", PROTOCOL)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
