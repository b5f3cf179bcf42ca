"""The protocol plumbing of the Python testees (spec/protocol.md).

What every Python testee shares and nothing else: reading a request into
double-precision NumPy arrays, the parameters with the op table's defaults,
writing outputs, and the conversation with lmr-run.  No arithmetic of any op
lives here, and no validity rule: those are in validate.py (written once from
spec/errors.md) and in each testee.

Failing closed.  A testee answers "rejected" only when a rule of the spec
says the input is bad: validate.py (or an op) raises Reject with the status
the spec names (LMR_EDIM, ...).  Any other exception is a bug of the testee,
never a refusal: serve() prints the traceback on standard error and exits
with status 70 without answering, so lmr-run records a `crash` for that case
and restarts the testee (spec/protocol.md#verdicts).  A bug on an invalid
case is therefore a failure, not a pass.
"""
import json
import math
import os
import sys
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))  # recipe.py
import recipe  # noqa: E402

# The statuses of spec/errors.md that make an input bad.  LMR_OK is not one,
# and LMR_ENOMEM is a failure of the machine, not of the input.
SPEC_STATUSES = ("LMR_EINVAL", "LMR_EDIM", "LMR_EOVERFLOW", "LMR_EINDEX",
                 "LMR_EPOS", "LMR_ENONFINITE", "LMR_EDOMAIN", "LMR_ERANGE")

# serve()'s exit status when the testee itself is broken (BSD's EX_SOFTWARE).
EXIT_TESTEE_BUG = 70


class Reject(Exception):
    """Bad input, for a reason the spec names: status is one of SPEC_STATUSES."""

    def __init__(self, status, message):
        if status not in SPEC_STATUSES:
            raise ValueError("Reject with %r, which is not a status of "
                             "spec/errors.md" % (status,))
        super().__init__("%s: %s" % (status, message))
        self.status = status


class Unsupported(Exception):
    """This testee cannot run the case (say, a generated input it cannot rebuild)."""


# ---------------------------------------------------------------- the op table

def load_op_table():
    """{op name: its entry of tools/common/ops.json} (written from the op
    table, tools/common/op_table.c, and checked against it by CI)."""
    with open(os.path.join(HERE, "..", "common", "ops.json")) as f:
        table = json.load(f)
    return {op["name"]: op for op in table["ops"]}


OP_TABLE = load_op_table()


class OpFunctions:
    """The functions <prefix><op> of a module, looked up when called (so that
    a mutant that replaces one in the module replaces it here too)."""

    def __init__(self, namespace, prefix):
        self.namespace = namespace
        self.prefix = prefix

    def get(self, op):
        return self.namespace.get(self.prefix + op) if op in OP_TABLE else None

    def names(self):
        return sorted(OP_TABLE)


def op_functions(namespace, prefix="op_"):
    """The functions namespace[prefix + name] of every op of the op table; an
    op without its function is an error of the testee, found when it starts."""
    missing = sorted(name for name in OP_TABLE if prefix + name not in namespace)
    if missing:
        raise SystemExit("testee: no function %s<op> for op(s) %s of "
                         "tools/common/ops.json" % (prefix, ", ".join(missing)))
    return OpFunctions(namespace, prefix)


# -------------------------------------------------------------- the request

SPECIAL = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan, "-0": -0.0}


def number(value, where):
    """A JSON number or one of the four strings of spec/format.md -> float."""
    if isinstance(value, bool):
        raise Reject("LMR_EINVAL", "%s: a boolean where a number belongs" % where)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value in SPECIAL:
        return SPECIAL[value]
    raise Reject("LMR_EINVAL", "%s: not a number (%r)" % (where, value))


def read_array(obj, name):
    """An array object of the request -> a float64 or int64 ndarray of its shape."""
    shape = tuple(int(s) for s in obj["shape"])
    if "generator" in obj:
        try:
            return recipe.regenerate(obj)
        except ValueError as e:
            raise Unsupported("generated input %s: %s" % (name, e))
    data = obj["data"]
    if obj.get("dtype", "float64") == "int64":
        try:
            values = np.array(data, dtype=np.int64)
        except OverflowError:
            raise Reject("LMR_EINDEX", "%s: an integer outside int64" % name)
    else:
        try:
            values = np.array(data, dtype=np.float64)
        except (ValueError, TypeError):
            values = np.array([number(v, name) for v in data], dtype=np.float64)
    return values.reshape(shape)


class Request:
    """One request: its op, its inputs as double (or int64) arrays, and its
    params with the op table's defaults.  Arrays are read once, on first use."""

    def __init__(self, req):
        self.id = req.get("id", "")
        self.op = req.get("op")
        self.params = req.get("params") or {}
        self.raw = req.get("inputs") or {}
        entry = OP_TABLE.get(self.op, {})
        self.param_entries = {p["name"]: p for p in entry.get("params", [])}
        self._arrays = {}

    def has(self, name):
        return name in self.raw

    def array(self, name, ndim=None):
        """Input `name` as given (float64 or int64); LMR_EINVAL when absent,
        LMR_EDIM when it has another number of dimensions than ndim."""
        if name not in self.raw:
            raise Reject("LMR_EINVAL", "input %s is missing" % name)
        if name not in self._arrays:
            self._arrays[name] = read_array(self.raw[name], name)
        a = self._arrays[name]
        if ndim is not None and a.ndim != ndim:
            raise Reject("LMR_EDIM", "%s has %d dimensions, not %d" % (name, a.ndim, ndim))
        return a

    def f(self, name, ndim=None):
        """A real input, in double."""
        a = self.array(name, ndim)
        return a if a.dtype == np.float64 else a.astype(np.float64)

    def optional(self, name, ndim=None):
        """A real input that may be absent (None)."""
        return self.f(name, ndim) if name in self.raw else None

    def i(self, name, ndim=1):
        """An integer input (ids, positions, targets)."""
        obj = self.raw.get(name)
        if obj is not None and obj.get("dtype", "int64") != "int64":
            raise Reject("LMR_EINVAL", "%s must be int64" % name)
        return self.array(name, ndim).astype(np.int64)

    def param(self, name):
        """The param as given, or the op table's default; LMR_EINVAL when a
        required param is absent."""
        if name in self.params:
            return self.params[name]
        entry = self.param_entries.get(name)
        if entry is None or entry.get("required"):
            raise Reject("LMR_EINVAL", "parameter %s is missing" % name)
        return entry["default"]

    def number(self, name):
        return number(self.param(name), "parameter " + name)

    def integer(self, name):
        v = self.param(name)
        if isinstance(v, bool) or not isinstance(v, int):
            raise Reject("LMR_EINVAL", "parameter %s must be an integer" % name)
        return v

    def flag(self, name):
        v = self.param(name)
        if not isinstance(v, bool):
            raise Reject("LMR_EINVAL", "parameter %s must be a boolean" % name)
        return v

    def word(self, name):
        v = self.param(name)
        if not isinstance(v, str):
            raise Reject("LMR_EINVAL", "parameter %s must be a string" % name)
        return v


# -------------------------------------------------------------- the response

def out_f(a):
    """A real output: its shape and its values as JSON numbers or the strings
    of spec/format.md."""
    a = np.asarray(a)
    data = []
    for x in a.astype(np.float64).ravel().tolist():
        if x != x:
            data.append("nan")
        elif x == math.inf:
            data.append("inf")
        elif x == -math.inf:
            data.append("-inf")
        elif x == 0.0 and math.copysign(1.0, x) < 0:
            data.append("-0")
        else:
            data.append(x)
    return {"shape": list(a.shape), "data": data}


def out_i(a):
    a = np.asarray(a, dtype=np.int64)
    return {"shape": list(a.shape), "data": [int(x) for x in a.ravel().tolist()]}


def check_output_names(op, outputs):
    """An op must return outputs of that op in the op table: a misspelt name
    is the testee's bug (it raises, so the case crashes)."""
    known = {out["name"] for out in OP_TABLE[op]["outputs"]}
    unknown = sorted(set(outputs) - known)
    if unknown:
        raise AssertionError("op %s returned output(s) %s, which the op table "
                             "does not list" % (op, ", ".join(unknown)))
    return outputs


def respond(req, ops, validate):
    """The response to one request: validate(op, request), then ops[op](request).

    Reject gives "rejected" and Unsupported "unsupported"; every other
    exception propagates to the caller: it is a bug, not an answer.
    """
    request = Request(req)
    fn = ops.get(request.op)
    if fn is None:
        return {"id": request.id, "status": "unsupported",
                "reason": "no op %r here" % (request.op,)}
    try:
        validate(request.op, request)
        outputs = check_output_names(request.op, fn(request))
    except Reject as e:
        return {"id": request.id, "status": "rejected", "reason": str(e)}
    except Unsupported as e:
        return {"id": request.id, "status": "unsupported", "reason": str(e)}
    return {"id": request.id, "status": "ok", "outputs": outputs}


def serve(hello, ops, validate, stdin=None, stdout=None):
    """The conversation with lmr-run: the hello line, then one response per
    request line.  A testee bug (any exception but Reject and Unsupported, a
    request line that is not JSON, an output that cannot be encoded) ends the
    process with EXIT_TESTEE_BUG after its traceback, without an answer."""
    stdin = sys.stdin if stdin is None else stdin
    out = sys.stdout if stdout is None else stdout
    out.write(json.dumps(hello) + "\n")
    out.flush()
    for line in stdin:
        line = line.strip()
        if not line:
            continue
        try:
            response = json.dumps(respond(json.loads(line), ops, validate),
                                  allow_nan=False)
        except Exception:  # noqa: BLE001 -- every one of them is a testee bug
            traceback.print_exc(file=sys.stderr)
            sys.stderr.write("testee: the exception above is a bug of this "
                             "testee, not a rejection; exiting\n")
            sys.stderr.flush()
            return EXIT_TESTEE_BUG
        out.write(response + "\n")
        out.flush()
    return 0
