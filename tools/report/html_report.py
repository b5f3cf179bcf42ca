#!/usr/bin/python3
"""html_report.py -- one self-contained HTML conformance report from one or
more runner reports (lmr-run --report FILE) and the vector files.

Usage:
    /usr/bin/python3 tools/report/html_report.py --out build/report.html \\
        [--vectors DIR] [--engine ENGINE.json]... REPORT.json...

Each REPORT gets a section (testee, class, date, a per-file verdict table,
a strip chart of every case's worst error as a fraction of its bound, the
failures with their worst elements, the known failures); each --engine
report gets one in the "Real engines" section. --vectors defaults to the
directory the first report names, as seen from the current directory.

Exit status 0 on success, 2 for bad usage or an unusable report or vector
file (the message names the file, the case and the field). The output is
written to a temporary file and renamed, so it is never half-written.
"""

import argparse
import datetime
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import report_data  # noqa: E402
import report_html  # noqa: E402


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        prog="html_report.py",
        description="An HTML conformance report from lmr-run reports.")
    parser.add_argument("--out", required=True, help="the HTML file to write")
    parser.add_argument("--vectors", help="the vector directory of the runs")
    parser.add_argument("--engine", action="append", default=[],
                        metavar="REPORT", help="a real engine's run report")
    parser.add_argument("reports", nargs="*", metavar="REPORT",
                        help="a bundled testee's run report")
    arguments = parser.parse_args(argv)
    if not arguments.reports and not arguments.engine:
        parser.error("no report given")
    return arguments


def recorded_vectors(path):
    """The vectors directory a report names, or None."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f).get("run", {}).get("vectors")
    except (OSError, ValueError, AttributeError):
        return None


def write_atomically(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".report-", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def main(argv):
    arguments = parse_arguments(argv)
    first = (arguments.reports + arguments.engine)[0]
    directory = arguments.vectors or recorded_vectors(first) or "vectors"
    try:
        vectors = report_data.Vectors(directory)
        runs = [report_data.Run(p, vectors) for p in arguments.reports]
        engines = [report_data.Run(p, vectors) for p in arguments.engine]
    except report_data.ReportError as e:
        print(f"html_report: {e}", file=sys.stderr)
        return 2
    import report_figures  # matplotlib: only once the input is known good
    charts = {id(run): report_figures.strip_chart(
                  run, f"{run.name}, class {run.cls}: worst error of each "
                       "case against its bound")
              for run in runs + engines}
    built = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    text = report_html.page(vectors, built, runs, engines, charts)
    try:
        write_atomically(arguments.out, text)
    except OSError as e:
        print(f"html_report: {arguments.out}: {e.strerror}", file=sys.stderr)
        return 2
    total = sum(len(run.cases) for run in runs + engines)
    print(f"html_report: {arguments.out}: {len(runs) + len(engines)} run(s), "
          f"{total} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
