"""report_figures.py -- the HTML report's one chart, drawn with matplotlib:
per vector file (one row each), every case's worst error as a fraction of
its bound, e_f / K on a log axis, so that "how close to the bound" is seen
at a glance. Returned as PNG bytes for embedding.

Values come from the runner report (report_data.CaseRow.fraction); exact
results (0) get their own column at the left, failures past the bound are
red, infinite ones (a NaN or an infinity where a finite value was due) sit
in a column at the right.
"""

import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

from report_data import FAILING  # noqa: E402

COLOURS = {"pass": "#1f77b4", "known_failure": "#ff7f0e", "fail": "#d62728"}
FLOOR_DECADES = 8   # the axis starts no lower than 1e-8 of the bound


def axis_range(fractions):
    """(low, high): powers of ten around the finite non-zero fractions."""
    finite = [f for f in fractions if 0 < f < math.inf]
    low = min(finite, default=1e-3)
    high = max(finite, default=1.0)
    low = 10.0 ** max(-FLOOR_DECADES, min(-3, math.floor(math.log10(low))))
    high = 10.0 ** max(1, math.ceil(math.log10(high)))
    return low, high


def placed(fraction, low, high):
    """Where a fraction sits on the axis: 0 at low/4, infinity at 4 high."""
    if fraction == 0:
        return low / 4
    if math.isinf(fraction) or math.isnan(fraction):
        return high * 4
    return min(max(fraction, low), high)


def colour_of(case):
    """Orange for a known failure, red for a failing verdict, else blue."""
    if case.verdict == "known_failure":
        return COLOURS["known_failure"]
    if case.verdict in FAILING:
        return COLOURS["fail"]
    return COLOURS["pass"]


def strip_chart(run, title):
    """PNG bytes: one strip per vector file of run, each dot a case; None
    when no case was run (a run that stopped before its first case)."""
    rows = run.ops
    if not rows:
        return None
    fractions = [c.fraction() for row in rows for c in row.cases]
    fractions = [f for f in fractions if f is not None]
    low, high = axis_range(fractions)
    height = 1.2 + 0.2 * len(rows)
    fig, ax = plt.subplots(figsize=(8.0, height), dpi=90)
    for y, row in enumerate(rows):
        judged = [(c, c.fraction()) for c in row.cases
                  if c.fraction() is not None]
        for i, (case, fraction) in enumerate(judged):
            jitter = ((i % 7) - 3) * 0.07
            ax.plot(placed(fraction, low, high), y + jitter, "o",
                    markersize=3.5, alpha=0.75,
                    color=colour_of(case), markeredgewidth=0)
        if not judged:
            ax.text(low, y, "  no bounded output (exact tokens or counts)",
                    va="center", fontsize=7, color="0.45")
    ax.set_xscale("log")
    ax.set_xlim(low / 8, high * 8)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([row.label for row in rows], fontsize=7)
    ticks = [10.0 ** e for e in range(round(math.log10(low)),
                                      round(math.log10(high)) + 1)]
    ax.set_xticks([low / 4] + ticks + [high * 4])
    ax.set_xticklabels(["0"] + [f"$10^{{{round(math.log10(t))}}}$"
                                for t in ticks] + ["∞"], fontsize=8)
    ax.minorticks_off()
    ax.axvline(1.0, color=COLOURS["fail"], linewidth=1)
    ax.axvspan(1.0, high * 8, color=COLOURS["fail"], alpha=0.06)
    for x in (low / 2, high * 2):
        ax.axvline(x, color="0.6", linewidth=0.6, linestyle=":")
    ax.text(1.0, len(rows) - 0.5, " bound", color=COLOURS["fail"],
            fontsize=8, va="top")
    ax.grid(axis="x", color="0.9", linewidth=0.5)
    ax.set_xlabel("worst error of the case as a fraction of its bound, "
                  "e_f / K (dimensionless; > 1 fails)", fontsize=8)
    ax.set_title(title, fontsize=9, pad=16)
    legend = [plt.Line2D([], [], marker="o", linestyle="", markersize=4,
                         color=COLOURS[key], label=text)
              for key, text in (("pass", "passes"),
                                ("fail", "fails the run"),
                                ("known_failure", "known failure"))]
    ax.legend(handles=legend, loc="lower center", fontsize=7, ncol=3,
              bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()
