"""report_data.py -- a runner report (lmr-run --report FILE) read, checked
and summarised for the HTML report: one Run per report, one CaseRow per
case, one OpRow per vector file, in the order of the runner's summary.

The numbers all come from the runner (its judge) and the vector files; this
module only counts them and takes maxima. Bad input raises ReportError with
the file, the case and the field.
"""

import hashlib
import json
import math
import os

VERDICTS = ("pass", "fail", "unsupported", "timeout", "crash",
            "protocol_error", "known_failure", "unexpected_pass")
# The verdicts that fail a run (spec/protocol.md, "Verdicts").
FAILING = ("fail", "timeout", "crash", "protocol_error", "unexpected_pass")


class ReportError(Exception):
    """A report or vector file that cannot be used, with the reason."""


def number(value, where):
    """A JSON number or one of the strings "inf", "-inf", "nan", "-0"."""
    if isinstance(value, bool):
        raise ReportError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if value in ("inf", "-inf", "nan", "-0"):
        return float(value)
    raise ReportError(f"{where}: expected a number, got {value!r}")


def field(obj, name, kind, where):
    """obj[name], which must be of type kind (a type or a tuple of types)."""
    if not isinstance(obj, dict) or name not in obj:
        raise ReportError(f"{where}: missing field {name!r}")
    value = obj[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise ReportError(f"{where}: field {name!r} has the wrong type "
                          f"({type(value).__name__})")
    return value


# ---- the vector files ------------------------------------------------------

class Vectors:
    """The vector files of a directory: case id -> (file label, case), the
    manifest's hash and whether every file matches it."""

    def __init__(self, directory):
        self.directory = directory
        self.cases = {}        # id -> (label, case dict)
        self.labels = []       # file labels in file-name order
        manifest = os.path.join(directory, "SHA256SUMS")
        try:
            with open(manifest, "rb") as f:
                manifest_bytes = f.read()
        except OSError as e:
            raise ReportError(f"{manifest}: {e.strerror}") from None
        self.manifest_path = manifest
        self.manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
        listed = self._parse_manifest(manifest, manifest_bytes)
        self.mismatches = []   # file names whose hash differs or is unlisted
        names = sorted(n for n in os.listdir(directory) if n.endswith(".json"))
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                content = f.read()
            if listed.pop(name, None) != hashlib.sha256(content).hexdigest():
                self.mismatches.append(name)
            self._index(path, name[:-len(".json")], content)
        self.mismatches.extend(f"{name} (listed, missing)" for name in listed)
        self.file_count = len(names)

    @staticmethod
    def _parse_manifest(path, content):
        listed = {}
        for number_, line in enumerate(content.decode().splitlines(), 1):
            parts = line.split()
            if len(parts) != 2 or len(parts[0]) != 64:
                raise ReportError(f"{path}:{number_}: not a sha256sum line")
            listed[parts[1].lstrip("*")] = parts[0]
        return listed

    def _index(self, path, label, content):
        try:
            data = json.loads(content)
        except ValueError as e:
            raise ReportError(f"{path}: not JSON: {e}") from None
        for i, case in enumerate(field(data, "cases", list, path)):
            case_id = field(case, "id", str, f"{path}: cases[{i}]")
            self.cases[case_id] = (label, case)
        self.labels.append(label)


# ---- one report ------------------------------------------------------------

class OutputError:
    """The judge's worst element of one output of a case."""

    def __init__(self, name, entry, where):
        error = field(entry, "error", dict, where)
        expected = field(entry, "expected", dict, where)
        worst = field(error, "worst", dict, where + ": error")
        self.name = name
        self.passed = field(error, "passed", bool, where + ": error")
        self.failures = field(error, "failures", int, where + ": error")
        self.count = len(field(expected, "data", list, where + ": expected"))
        self.shape = field(expected, "shape", list, where + ": expected")
        self.is_index = expected.get("dtype") == "int64"
        self.k = number(field(error, "k", (int, float, str),
                              where + ": error"), where + ": error.k")
        self.fraction = number(field(error, "fraction_of_bound",
                                     (int, float, str), where + ": error"),
                               where + ": error.fraction_of_bound")
        self.worst_units = number(field(error, "worst_units",
                                        (int, float, str), where + ": error"),
                                  where + ": error.worst_units")
        self.index = field(worst, "index", int, where + ": error.worst")
        self.got = number(worst.get("got", 0), where + ": error.worst.got")
        self.want = number(worst.get("want", 0), where + ": error.worst.want")
        self.units = number(worst.get("units", 0), where + ": worst.units")
        self.bound_units = number(worst.get("bound_units", 0),
                                  where + ": worst.bound_units")

    def position(self):
        """The worst element's index as a tuple over the output's shape."""
        index, dims = self.index, []
        for extent in reversed(self.shape):
            dims.append(index % extent if extent else 0)
            index = index // extent if extent else 0
        return tuple(reversed(dims))


class CaseRow:
    """One case of a report, with its vector file's label and comment."""

    def __init__(self, entry, where, vectors):
        self.id = field(entry, "id", str, where)
        where = f"{where} ({self.id})"
        self.op = field(entry, "op", str, where)
        self.verdict = field(entry, "verdict", str, where)
        if self.verdict not in VERDICTS:
            raise ReportError(f"{where}: unknown verdict {self.verdict!r}")
        self.reason = field(entry, "reason", str, where)
        self.listed_reason = entry.get("known_failure")
        self.verdict_before_list = entry.get("verdict_before_list")
        self.stderr = entry.get("stderr", "")
        if self.id not in vectors.cases:
            raise ReportError(f"{where}: no case of that id in "
                              f"{vectors.directory}: were the vectors "
                              "changed since the run?")
        self.label, vector_case = vectors.cases[self.id]
        self.comment = vector_case.get("comment", "")
        self.valid = vector_case.get("result") == "valid"
        outputs = entry.get("outputs", {})
        self.outputs = [OutputError(name, value, f"{where}: outputs.{name}")
                        for name, value in outputs.items()]

    def fraction(self):
        """The case's worst error as a fraction of its bound, max over its
        bounded (floating-point) outputs; None when none was judged."""
        bounded = [o.fraction for o in self.outputs if not o.is_index]
        if not bounded:
            return None
        return max(bounded, key=lambda f: math.inf if math.isnan(f) else f)

    def index_failed(self):
        """1 if an index output (a token, a count) is wrong."""
        return any(o.is_index and not o.passed for o in self.outputs)


class OpRow:
    """The verdict counts of one vector file, and its worst case."""

    def __init__(self, label):
        self.label = label
        self.counts = dict.fromkeys(VERDICTS, 0)
        self.cases = []

    def add(self, case):
        self.counts[case.verdict] += 1
        self.cases.append(case)

    def total(self):
        return len(self.cases)

    def failing(self):
        return sum(self.counts[v] for v in FAILING)

    def worst(self):
        """(fraction, output) of the case and output closest to or furthest
        past the bound, or (None, None) when no output has a bound."""
        best = (None, None)
        for case in self.cases:
            for out in case.outputs:
                if out.is_index:
                    continue
                key = math.inf if math.isnan(out.fraction) else out.fraction
                if best[0] is None or key > best[0]:
                    best = (key, out)
        return best


class Run:
    """One runner report: the testee, its class and date, every case."""

    def __init__(self, path, vectors):
        self.path = path
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except OSError as e:
            raise ReportError(f"{path}: {e.strerror}") from None
        except ValueError as e:
            raise ReportError(f"{path}: not JSON: {e}") from None
        if not isinstance(data, dict) or data.get("format") != "lmr-run-report":
            raise ReportError(f"{path}: not an lmr-run report (field "
                              "'format' is not \"lmr-run-report\")")
        run = field(data, "run", dict, path)
        summary = field(data, "summary", dict, path)
        self.cls = field(summary, "class", str, f"{path}: summary")
        self.date = run.get("date") or "not recorded"
        self.vectors_recorded = run.get("vectors", "")
        self.exit_status = field(data, "exit_status", int, path)
        self.error = data.get("error", "")
        hello = run.get("testee") or {}
        if "results" in run:
            self.name = f"offline results {run['results']}"
            self.command = ""
        else:
            self.name = hello.get("name", "(no hello)")
            self.command = " ".join(run.get("command", []))
        self.not_applicable = run.get("not_applicable", 0)
        self.cases = [CaseRow(entry, f"{path}: cases[{i}]", vectors)
                      for i, entry in enumerate(field(data, "cases", list,
                                                      path))]
        self.ops = self._op_rows(vectors)
        self._check_summary(summary)

    def _op_rows(self, vectors):
        rows = {}
        for case in self.cases:
            rows.setdefault(case.label, OpRow(case.label)).add(case)
        order = {label: i for i, label in enumerate(vectors.labels)}
        return sorted(rows.values(), key=lambda r: order[r.label])

    def _check_summary(self, summary):
        """The counts of the cases must be the runner's own summary."""
        ops = field(summary, "ops", list, f"{self.path}: summary")
        ours = {row.label: row for row in self.ops}
        for i, entry in enumerate(ops):
            where = f"{self.path}: summary.ops[{i}]"
            label = field(entry, "op", str, where)
            row = ours.get(label)
            for verdict in VERDICTS:
                stated = field(entry, verdict, int, where)
                counted = row.counts[verdict] if row else 0
                if stated != counted:
                    raise ReportError(
                        f"{where} ({label}): {verdict} is {stated} in the "
                        f"summary but {counted} cases say so")
        missing = set(ours) - {e.get("op") for e in ops}
        if missing:
            raise ReportError(f"{self.path}: summary has no row for "
                              f"{sorted(missing)[0]}")

    def counts(self):
        """Verdict counts over every case."""
        total = dict.fromkeys(VERDICTS, 0)
        for case in self.cases:
            total[case.verdict] += 1
        return total

    def failing_cases(self):
        return [c for c in self.cases if c.verdict in FAILING]

    def known_failures(self):
        return [c for c in self.cases if c.verdict == "known_failure"]

    def unsupported(self):
        return [c for c in self.cases if c.verdict == "unsupported"]

    def worst_fraction(self):
        fractions = [row.worst()[0] for row in self.ops]
        fractions = [f for f in fractions if f is not None]
        return max(fractions) if fractions else None

    def passed(self):
        return self.exit_status == 0
