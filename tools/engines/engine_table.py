#!/usr/bin/python3
"""engine_table.py [--markdown] --vectors DIR REPORT... -- the per-engine,
per-class table of lmr-run's JSON reports (tools/scripts/check-engines.sh).

For each report (one adapter in one class), the numerics family (valid
cases that list the class): cases, not sent (the op is not in the adapter's
hello), sent, and of those: passed, listed (known failures), unsupported
(the adapter answered so: no kernel or feature for this input), failed
(every other verdict). When the report holds invalid
cases too (a run without --numerics-only), the validation family: invalid
cases sent, rejected (correct), accepted (output given for bad input),
unsupported. Case validity comes from the vector files, not the report.
"""
import glob
import json
import os
import sys


def invalid_ids(vectors_dir):
    ids = set()
    for path in glob.glob(os.path.join(vectors_dir, "*.json")):
        with open(path) as f:
            for case in json.load(f)["cases"]:
                if case["result"] == "invalid":
                    ids.add(case["id"])
    return ids


def row_of(report, invalid):
    run = report["run"]
    hello = run.get("testee") or {}
    ops = set(hello.get("ops") or [])
    row = {"engine": hello.get("name", "?"), "class": run.get("class", "?"),
           "cases": 0, "sent": 0, "passed": 0, "listed": 0, "unsupported": 0, "failed": 0,
           "not_sent": 0,
           "invalid": 0, "invalid_sent": 0, "rejected": 0, "accepted": 0}
    for case in report["cases"]:
        verdict = case["verdict"]
        sent = "*" in ops or case["op"] in ops
        if case["id"] in invalid:
            row["invalid"] += 1
            row["invalid_sent"] += sent
            row["rejected"] += verdict == "pass"
            row["accepted"] += verdict == "fail"
            continue
        row["cases"] += 1
        row["sent"] += sent
        if not sent:
            row["not_sent"] += 1
        elif verdict == "pass":
            row["passed"] += 1
        elif verdict == "known_failure":
            row["listed"] += 1
        elif verdict == "unsupported":
            row["unsupported"] += 1
        else:
            row["failed"] += 1
    return row


NUMERIC = ["cases", "not_sent", "sent", "passed", "listed", "unsupported", "failed"]
VALIDATION = ["invalid_sent", "rejected", "accepted"]


def main(argv):
    markdown = "--markdown" in argv
    argv = [a for a in argv if a != "--markdown"]
    if len(argv) < 3 or argv[0] != "--vectors":
        print("usage: engine_table.py [--markdown] --vectors DIR REPORT...", file=sys.stderr)
        return 2
    invalid = invalid_ids(argv[1])
    rows = []
    for path in argv[2:]:
        with open(path) as f:
            rows.append(row_of(json.load(f), invalid))
    with_validation = any(r["invalid"] for r in rows)
    columns = NUMERIC + (VALIDATION if with_validation else [])
    if markdown:
        print("| engine | class | " + " | ".join(columns) + " |")
        print("|---|---|" + "---:|" * len(columns))
        for r in rows:
            print("| %s | %s | %s |" % (r["engine"], r["class"], " | ".join(str(r[c]) for c in columns)))
        return 0
    print("%-40s %-5s " % ("engine", "class") + " ".join("%11s" % c.replace("_", " ") for c in columns))
    for r in rows:
        print("%-40s %-5s " % (r["engine"], r["class"]) + " ".join("%11d" % r[c] for c in columns))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
