#!/usr/bin/python3
"""TAP: spec/errors.md checked against the op table, the vectors and ref/.

    /usr/bin/python3 tests/spec_errors.py [VECTOR_DIR [SPEC_DIR [REF_DIR]]]

Reads spec/errors.md's three tables (the codes, the statuses of each op, the
codes no vector case can carry), tools/common/ops.json (generated from
tools/common/op_table.c), every vector file's invalid cases, ref/lmr_status.h
and the C sources of ref/, and checks:

  codes      the codes table has every code of enum lmr_status, with its
             value, and nothing else;
  ops        every op of ops.json has one row in the op table, and every row
             names an op of ops.json;
  labels     each condition of a row is labelled with a status its row lists
             ("EDIM: ...");
  vectors    every status an invalid case of an op's files expects is listed
             for the op (a file of an unknown op fails);
  exercised  every status listed for an op has an invalid case; the codes of
             the library-only table are the stated waivers and are not listed
             in the op table unless a case exercises them;
  code       every status listed for an op (in either table) is a code that
             the op's ref/ function can reach, by a static call graph of
             ref/*.c; the library-only rows of LMR_ENOMEM and LMR_ERANGE name
             exactly the ops whose function reaches an allocation
             (malloc/calloc/realloc) or LMR_ERANGE; LMR_EINVAL and
             LMR_EOVERFLOW "every op" are reachable from every op.
"""
import glob
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
VECTORS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "vectors")
SPEC = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "spec")
REF = sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "ref")
OPS_JSON = os.path.join(ROOT, "tools", "common", "ops.json")

OP_TABLE = "which-inputs-are-invalid-op-by-op"
LIBRARY_ONLY = "library-only"
CODES = "codes"
EVERY_OP = "every op"
ALLOCATION = "allocation"    # the pseudo-code of a call to malloc/calloc/realloc


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, detail=()):
        self.n += 1
        if not cond:
            self.failed += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, name))
        for line in (detail if not cond else ()):
            print("#   " + line)

    def done(self):
        print("1..%d" % self.n)
        return 1 if self.failed else 0


# ------------------------------------------------------------ the spec --

def split_row(line):
    """The cells of a table row. A | inside `code` does not split, and \\|
    is a literal | (GitHub's escape); every other backslash is kept."""
    cells, cell, in_code = [], "", False
    text = line.strip()[1:]
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and text[i + 1:i + 2] == "|":
            cell += "|"
            i += 2
            continue
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code:
            cells.append(cell.strip())
            cell = ""
        else:
            cell += ch
        i += 1
    return cells


def spec_table(text, anchor):
    """The rows (lists of cells) of the first table after <a id="anchor">."""
    start = text.index('<a id="%s">' % anchor)
    rows = []
    in_table = False
    for line in text[start:].splitlines()[1:]:
        if line.startswith("|"):
            cells = split_row(line)
            if not in_table:
                in_table = True              # the header
                continue
            if set("".join(cells)) <= set("-: "):
                continue                     # the rule under the header
            rows.append(cells)
        elif in_table:
            break
    return rows


def words(cell):
    """`a`, `b` and `c` -> [a, b, c] (the names in backticks)."""
    return re.findall(r"`([^`]+)`", cell)


def load_errors(spec_dir=SPEC):
    """(codes {name: value}, op rows {op: (statuses, conditions)} with the ops
    in table order, library-only {code: ops or EVERY_OP}) of spec/errors.md."""
    with open(os.path.join(spec_dir, "errors.md"), encoding="utf-8") as f:
        text = f.read()
    codes = {}
    for row in spec_table(text, CODES):
        codes[words(row[0])[0]] = int(row[1])
    op_rows = {}
    duplicates = []
    for op_cell, status_cell, conditions in spec_table(text, OP_TABLE):
        for op in words(op_cell):
            if op in op_rows:
                duplicates.append(op)
            op_rows[op] = (words(status_cell), conditions)
    library = {}
    for code_cell, ops_cell, _ in spec_table(text, LIBRARY_ONLY):
        code = words(code_cell)[0]
        library[code] = EVERY_OP if ops_cell.strip() == EVERY_OP else words(ops_cell)
    return codes, op_rows, library, duplicates


def statuses_by_op(spec_dir=SPEC):
    """{op: [statuses a vector case can carry]}, for tests/coverage.py."""
    return {op: row[0] for op, row in load_errors(spec_dir)[1].items()}


# ------------------------------------------------------------- the code --

def header_codes(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    body = re.search(r"enum lmr_status\s*\{(.*?)\}", text, re.S).group(1)
    return {name: int(value) for name, value in re.findall(r"\b(LMR_\w+)\s*=\s*(\d+)", body)}


def strip_c(text):
    """C text without comments and string literals (whose words are not calls)."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return re.sub(r'"(\\.|[^"\\])*"', '""', text)


DEFINITION = re.compile(r"^[A-Za-z_][\w \t*]*?\b(\w+)\s*\(([^;{}]*?)\)\s*\{", re.M)
NOT_FUNCTIONS = {"if", "for", "while", "switch", "return", "sizeof"}


def c_functions(ref_dir=REF):
    """{key: (file, body)} of every function defined at file scope in ref/*.c.
    A static function's key is "file:name", since two files may each have a
    static function of the same name; any other function's key is its name."""
    functions = {}
    for path in sorted(glob.glob(os.path.join(ref_dir, "*.c"))):
        with open(path, encoding="utf-8") as f:
            text = strip_c(f.read())
        name_of_file = os.path.basename(path)
        for m in DEFINITION.finditer(text):
            if m.group(1) in NOT_FUNCTIONS:
                continue
            depth = 0
            for end in range(m.end() - 1, len(text)):
                depth += {"{": 1, "}": -1}.get(text[end], 0)
                if depth == 0:
                    break
            is_static = re.match(r"\s*static\b", m.group(0)) is not None
            key = "%s:%s" % (name_of_file, m.group(1)) if is_static else m.group(1)
            functions[key] = (name_of_file, text[m.end() - 1:end + 1])
    return functions


def resolve_calls(functions, file, body):
    """The keys of the functions body calls: a static of its own file first."""
    keys = set()
    for name in set(re.findall(r"\b(\w+)\s*\(", body)):
        if "%s:%s" % (file, name) in functions:
            keys.add("%s:%s" % (file, name))
        elif name in functions:
            keys.add(name)
    return keys


def reachable_codes(functions):
    """{function: the LMR_E* codes (and ALLOCATION) it or its callees name}."""
    calls = {key: resolve_calls(functions, file, body)
             for key, (file, body) in functions.items()}
    direct = {}
    for key, (_, body) in functions.items():
        found = set(re.findall(r"\bLMR_E[A-Z]+\b", body))
        if re.search(r"\b(malloc|calloc|realloc)\s*\(", body):
            found.add(ALLOCATION)
        direct[key] = found
    memo = {}

    def reach(name, stack):
        if name in memo:
            return memo[name]
        found = set(direct[name])
        for callee in calls[name] - stack:
            found |= reach(callee, stack | {callee})
        if not stack - {name}:
            memo[name] = found
        return found

    return {name: reach(name, {name}) for name in functions}


# ---------------------------------------------------------- the checks --

def vector_statuses(ops, vectors=VECTORS):
    """({op: {status: [case ids]}}, [files whose op is not in ops.json])."""
    op_of_file = {f: o["name"] for o in ops for f in o["files"]}
    found = {o["name"]: {} for o in ops}
    unknown = []
    for path in sorted(glob.glob(os.path.join(vectors, "*.json"))):
        with open(path, encoding="utf-8") as f:
            vf = json.load(f)
        stem = os.path.basename(path)[:-len(".json")]
        op = op_of_file.get(stem)
        if op is None or op != vf["op"]:
            unknown.append(stem)
            continue
        for case in vf["cases"]:
            if case["result"] == "invalid":
                found[op].setdefault(case["error"], []).append(case["id"])
    return found, unknown


def library_ops(library, code, all_ops):
    ops = library.get(code, [])
    return list(all_ops) if ops == EVERY_OP else ops


def main():
    tap = Tap()
    with open(OPS_JSON, encoding="utf-8") as f:
        ops = json.load(f)["ops"]
    names = [o["name"] for o in ops]
    codes, op_rows, library, duplicates = load_errors()

    wanted = header_codes(os.path.join(REF, "lmr_status.h"))
    tap.ok(codes == wanted, "the codes table is enum lmr_status (%d codes)" % len(wanted),
           ["spec: %s" % sorted(codes.items(), key=lambda kv: kv[1]),
            "code: %s" % sorted(wanted.items(), key=lambda kv: kv[1])])

    missing = [op for op in names if op not in op_rows]
    extra = [op for op in op_rows if op not in names]
    tap.ok(not missing and not extra and not duplicates,
           "every op of ops.json has one row (%d ops)" % len(names),
           ["no row: " + op for op in missing] + ["not an op: " + op for op in extra]
           + ["two rows: " + op for op in duplicates])
    for code, listed in library.items():
        if listed != EVERY_OP:
            bad = [op for op in listed if op not in names]
            tap.ok(not bad, "library-only %s names ops of ops.json" % code,
                   ["not an op: " + op for op in bad])

    found, unknown = vector_statuses(ops)
    tap.ok(not unknown, "every vector file belongs to an op of ops.json",
           ["unknown: " + stem for stem in unknown])

    functions = c_functions()
    reach = reachable_codes(functions)
    checks = 0
    for op in names:
        statuses, conditions = op_rows.get(op, ([], ""))
        problems = []
        unknown_codes = [s for s in statuses if s not in wanted]
        problems += ["%s is not a code" % s for s in unknown_codes]
        for label in re.findall(r"\b(E[A-Z]+):", conditions):
            if "LMR_" + label not in statuses:
                problems.append("a condition is labelled %s, which the row does not list" % label)
        for status, ids in sorted(found[op].items()):
            if status not in statuses:
                problems.append("%s is expected by %s but not listed" % (status, ids[0]))
        for status in statuses:
            checks += 1
            if status not in found[op]:
                problems.append("%s is listed but no invalid case expects it" % status)
        function = next(o["ref_function"] for o in ops if o["name"] == op)
        if function not in functions:
            problems.append("%s: no definition in ref/*.c" % function)
        else:
            library_codes = [c for c in library if op in library_ops(library, c, names)]
            for status in statuses + library_codes:
                if status not in reach[function]:
                    problems.append("%s is listed, but %s cannot reach it" % (status, function))
        tap.ok(not problems, "%s: statuses %s agree with its %d invalid cases and %s"
               % (op, ",".join(s.replace("LMR_", "") for s in statuses),
                  sum(len(v) for v in found[op].values()), function), problems)

    for code, marker in (("LMR_ENOMEM", ALLOCATION), ("LMR_ERANGE", "LMR_ERANGE")):
        listed = set(library_ops(library, code, names))
        by_code = {o["name"] for o in ops
                   if marker in reach.get(o["ref_function"], set())}
        tap.ok(listed == by_code,
               "library-only %s names exactly the ops whose function reaches %s (%d)"
               % (code, "an allocation" if marker == ALLOCATION else marker, len(by_code)),
               ["listed, not in the code: " + op for op in sorted(listed - by_code)]
               + ["in the code, not listed: " + op for op in sorted(by_code - listed)])
    allocating = [o["name"] for o in ops if ALLOCATION in reach.get(o["ref_function"], set())
                  and "LMR_ENOMEM" not in reach[o["ref_function"]]]
    tap.ok(not allocating, "every op that allocates can report LMR_ENOMEM",
           ["allocates without LMR_ENOMEM: " + op for op in allocating])
    print("# %d (op, status) pairs of the op table checked against the vectors and ref/" % checks)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
