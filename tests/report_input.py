#!/usr/bin/python3
"""report_input.py -- TAP test: tools/report/html_report.py on bad input
says what is wrong (file, case, field), exits 2 and writes no output; on a
good report it writes the page.

Usage (prove passes the arguments after ::):
    prove -e /usr/bin/python3 tests/report_input.py :: RUN.json VECTORS_DIR

RUN.json is a real runner report (make report-check uses the reference's
runner-check run); each bad input is a copy of it with one thing broken.
"""

import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "tools", "report", "html_report.py")


def run_tool(arguments):
    result = subprocess.run(["/usr/bin/python3", TOOL, *arguments],
                            capture_output=True, text=True, timeout=120)
    return result.returncode, result.stderr


def main(argv):
    if len(argv) != 2:
        print("Bail out! usage: report_input.py RUN.json VECTORS_DIR")
        return 2
    run_path, vectors = argv
    with open(run_path, encoding="utf-8") as f:
        report = json.load(f)
    # A small report: the first file's cases only, and its summary row.
    first = report["summary"]["ops"][0]
    small = copy.deepcopy(report)
    small["cases"] = report["cases"][:first["cases"]]
    small["summary"]["ops"] = [first]
    scratch = tempfile.mkdtemp(prefix="lmr-report-input-")
    count = 0
    failed = 0

    def ok(condition, description, diagnostics=""):
        nonlocal count, failed
        count += 1
        print(f"{'ok' if condition else 'not ok'} {count} - {description}")
        if not condition:
            failed += 1
            for line in diagnostics.splitlines():
                print(f"# {line}")

    def write(name, data):
        path = os.path.join(scratch, name)
        with open(path, "w", encoding="utf-8") as f:
            if isinstance(data, str):
                f.write(data)
            else:
                json.dump(data, f)
        return path

    out = os.path.join(scratch, "out.html")
    try:
        good = write("good.json", small)
        status, err = run_tool(["--out", out, "--vectors", vectors, good])
        ok(status == 0 and os.path.getsize(out) > 0,
           "a good report gives a page", err)
        os.remove(out)

        stopped = copy.deepcopy(small)
        stopped["cases"], stopped["summary"]["ops"] = [], []
        stopped["error"] = "the testee did not say hello"
        status, err = run_tool(["--out", out, "--vectors", vectors,
                                write("stopped.json", stopped)])
        page = ""
        if os.path.exists(out):
            with open(out, encoding="utf-8") as f:
                page = f.read()
            os.remove(out)
        ok(status == 0 and "The run stopped: the testee did not say hello"
           in page and "No case was run" in page,
           "a run that stopped before its first case: a page saying why", err)

        broken_case = copy.deepcopy(small)
        del broken_case["cases"][1]["verdict"]
        second_id = small["cases"][1]["id"]
        wrong_count = copy.deepcopy(small)
        wrong_count["summary"]["ops"][0]["pass"] += 1
        unknown_id = copy.deepcopy(small)
        unknown_id["cases"][0]["id"] = "no-such-file/no-such-case"
        bad_verdict = copy.deepcopy(small)
        bad_verdict["cases"][0]["verdict"] = "passed"
        bad_inputs = [
            ("a missing report", os.path.join(scratch, "absent.json"),
             ["absent.json", "No such file"]),
            ("a file that is not JSON", write("text.json", "not json"),
             ["text.json", "not JSON"]),
            ("JSON that is not a runner report",
             write("other.json", {"format": "lmref-vectors"}),
             ["other.json", "'format'"]),
            ("a case without its verdict",
             write("case.json", broken_case),
             ["case.json", "cases[1]", second_id, "'verdict'"]),
            ("an unknown verdict", write("verdict.json", bad_verdict),
             ["verdict.json", "cases[0]", "'passed'"]),
            ("a case id in no vector file", write("id.json", unknown_id),
             ["id.json", "no-such-file/no-such-case"]),
            ("a summary that disagrees with the cases",
             write("count.json", wrong_count),
             ["count.json", "summary.ops[0]", "pass"]),
        ]
        for what, path, fragments in bad_inputs:
            status, err = run_tool(["--out", out, "--vectors", vectors, path])
            missing = [f for f in fragments if f not in err]
            leftovers = [n for n in os.listdir(scratch)
                         if n.startswith(".report-")]
            ok(status == 2 and not missing and not os.path.exists(out)
               and not leftovers,
               f"{what}: exit 2, the message names "
               f"{', '.join(fragments)}; no page",
               f"exit {status}; stderr: {err.strip()}; missing {missing}; "
               f"left behind {leftovers}")

        status, err = run_tool(["--out", out, "--vectors",
                                os.path.join(scratch, "none"), good])
        ok(status == 2 and "SHA256SUMS" in err and not os.path.exists(out),
           "a vectors directory without its manifest: exit 2, named",
           f"exit {status}; stderr: {err.strip()}")
        status, err = run_tool(["--out", out, "--vectors", vectors])
        ok(status == 2 and "no report" in err, "no report given: usage error",
           f"exit {status}; stderr: {err.strip()}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"1..{count}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
