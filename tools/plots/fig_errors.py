"""fig_errors.py -- how close each bundled testee runs to its bounds, per
class: the distribution (an empirical CDF) of every case's worst error as
a fraction of its bound, e_f / K, as the runner's judge measured it.

The numbers are the runner's: each report's per-output fraction_of_bound
(lmr-run --report, spec/protocol.md). A case's value is the largest over
its floating-point outputs; cases with only exact outputs (tokens, counts)
or none (invalid cases, rejected as they must be) are left out and counted
in the legend. make plots passes build/reports/*.json, one per bundled
testee and class (tools/scripts/check-testees.sh --reports).
"""

import json
import os

import numpy as np

from plot_style import footnote, plt, save

CLASS_COLOURS = {"fp64": "#1f77b4", "fp32": "#ff7f0e", "bf16": "#2ca02c",
                 "fp16": "#d62728"}
CLASS_ORDER = ("fp64", "fp32", "bf16", "fp16")
LOW = 1e-6           # the axis's left end; smaller values and 0 sit here


def case_fractions(path):
    """(testee, class, [worst e_f / K per case with a bounded output])."""
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    if report.get("format") != "lmr-run-report":
        raise ValueError(f"{path}: not an lmr-run report")
    name = (report["run"].get("testee") or {}).get("name", path)
    fractions = []
    for case in report["cases"]:
        bounded = [float(out["error"]["fraction_of_bound"])
                   for out in case.get("outputs", {}).values()
                   if out["expected"].get("dtype") != "int64"]
        if bounded:
            fractions.append(max(bounded))
    return name, report["summary"]["class"], fractions


def style_of(name):
    """Line style by implementation: reference, NumPy, PyTorch, other."""
    if "reference" in name:
        return "-", 2.4
    if name.startswith("numpy"):
        return "--", 1.4
    if name.startswith("torch"):
        return ":", 1.8
    return "-.", 1.2


def draw_figure(path, context):
    reports = context["reports"]
    if not reports:
        return "skipped: no runner reports given (make plots passes them)"
    runs = [case_fractions(p) for p in reports]
    runs.sort(key=lambda r: (CLASS_ORDER.index(r[1])
                             if r[1] in CLASS_ORDER else 9, r[0]))
    fig, ax = plt.subplots(figsize=(8.0, 4.6))
    for name, cls, fractions in runs:
        values = np.sort(np.clip(np.array(fractions), LOW, None))
        share = np.arange(1, len(values) + 1) / len(values)
        exact = sum(1 for f in fractions if f == 0)
        worst = max(fractions)
        linestyle, width = style_of(name)
        ax.step(np.concatenate(([LOW], values)),
                np.concatenate(([0], share)), where="post",
                linestyle=linestyle, linewidth=width,
                color=CLASS_COLOURS.get(cls, "black"),
                label=f"{name} ({cls}): {len(fractions)} cases, "
                      f"{exact} exact, worst {worst:.2g}")
    ax.axvline(1.0, color="crimson", linewidth=1)
    ax.text(1.0, 0.02, " bound", color="crimson", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(LOW, 2.0)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("worst error of a case as a fraction of its bound, e_f / K "
                  f"(dimensionless; exact and < {LOW:g} at the left edge)")
    ax.set_ylabel("share of the testee's cases at or below (cumulative)")
    ax.set_title("How close the bundled testees run to their bounds, per "
                 "precision class")
    ax.grid(color="0.92", linewidth=0.6)
    ax.legend(fontsize=7, loc="lower right", bbox_to_anchor=(0.97, 0.03))
    where = os.path.dirname(reports[0]) or "."
    footnote(fig, "e_f / K from the runner's judge (lmr-run --report, "
             f"fraction_of_bound), {len(reports)} reports in {where}/")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    save(fig, path)
    return f"{len(runs)} runs"
