#!/usr/bin/python3
"""sensitivity.py REPORTS_DIR MUTANTS_JSON -- the README's sensitivity table.

For every op, from the runner's JSON reports of the plain correct fp32
implementations (the NumPy and PyTorch testees, kept by
check-testees.sh --reports REPORTS_DIR) the worst error beyond the floor as
a fraction of the fp32 bound (e_f / K over every real output of every case
of the op: how much room a bug has before the bound catches it), and from
the mutant loop's results (mutants.py --score ... --json MUTANTS_JSON) how
many mutants the op's cases catch in fp64 and fp32. Prints a Markdown table.
"""
import json
import os
import sys


def worst_fractions(path):
    """{op: (worst e_f/K, the case)} over the real outputs of passed cases."""
    with open(path) as f:
        report = json.load(f)
    worst = {}
    for case in report["cases"]:
        for out in (case.get("outputs") or {}).values():
            err = out.get("error") or {}
            if not err.get("k"):
                continue                     # an index output: exact, no bound
            frac = err.get("fraction_of_bound", 0.0)
            if case["op"] not in worst or frac > worst[case["op"]][0]:
                worst[case["op"]] = (frac, case["id"])
    return worst


def caught_per_op(path):
    """{op: {class: number of mutants some case of the op catches}}."""
    with open(path) as f:
        results = json.load(f)
    per_op = {}
    for caught in results.values():
        for klass, ids in caught.items():
            for op in {i.split("/")[0] for i in ids}:
                per_op.setdefault(op, {}).setdefault(klass, 0)
                per_op[op][klass] += 1
    return per_op, len(results)


def main(argv):
    if len(argv) != 2:
        print(__doc__.split("\n")[0], file=sys.stderr)
        return 2
    reports, mutants_json = argv
    numpy = worst_fractions(os.path.join(reports, "numpy-fp32.json"))
    torch = worst_fractions(os.path.join(reports, "torch-fp32.json"))
    caught, total = caught_per_op(mutants_json)
    ops = sorted(set(numpy) | set(torch) | set(caught))
    print("| op | NumPy fp32: worst e_f / K | PyTorch fp32: worst e_f / K | "
          "mutants its cases catch (fp64 / fp32, of %d) |" % total)
    print("|---|---:|---:|---:|")
    for op in ops:
        cells = []
        for table in (numpy, torch):
            cells.append("%.3g" % table[op][0] if op in table else "—")
        c = caught.get(op, {})
        print("| `%s` | %s | %s | %d / %d |" % (op, cells[0], cells[1], c.get("fp64", 0),
                                              c.get("fp32", 0)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
