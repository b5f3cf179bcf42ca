"""fig_tied_grad.py -- the gradient of a tied model's loss with respect to
its one embedding matrix E, split into its two shares (spec/gradients.md,
tied_lm): dE_input, the input lookup's scatter-add, non-zero only in the
rows of tokens that occur as input ids; dE_output = dUᵀ H, the head's,
dense because the softmax gives every token some probability; and their
sum dE, the gradient a trainer applies.

The case comes from vectors/tied_lm.json; the three matrices are the
reference's (op tied_lm).
"""

from collections import Counter

import numpy as np

from plot_style import SOURCE, footnote, plt, save
from ref_client import load_case

CASE = "tied_lm/split-support"


def row_label(token, ids, targets):
    """"3: id x2, target" -- how a token occurs in the case."""
    parts = []
    if ids[token]:
        parts.append("id" + (f" ×{ids[token]}" if ids[token] > 1 else ""))
    if targets[token]:
        parts.append("target" + (f" ×{targets[token]}"
                                 if targets[token] > 1 else ""))
    return f"token {token}: " + (", ".join(parts) if parts else "neither")


def cell_text(value):
    """Exact zeros as "0"; tiny non-zero values in full, not as 0.000."""
    if value == 0:
        return "0"
    return f"{value:.0e}" if abs(value) < 5e-4 else f"{value:.3f}"


def draw_figure(path, context):
    case = load_case(context["vectors"], "tied_lm", CASE)
    out = context["ref"].run_case(case)
    shares = [("dE_input: the lookup's share", out["dE_input"]),
              ("dE_output: the head's share", out["dE_output"]),
              ("dE = dE_input + dE_output", out["dE"])]
    ids = Counter(case["inputs"]["ids"]["data"])
    targets = Counter(t for t in case["inputs"]["targets"]["data"]
                      if t != case["params"].get("ignore_index", -100))
    vocabulary, width = out["dE"].shape
    limit = max(float(np.max(np.abs(m))) for _, m in shares)
    fig, axes = plt.subplots(1, 3, figsize=(10.0, 3.9), sharey=True)
    for ax, (title, matrix) in zip(axes, shares):
        image = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit,
                          aspect="auto", interpolation="nearest")
        for v in range(vocabulary):
            for j in range(width):
                value = matrix[v, j]
                ax.text(j, v, cell_text(value),
                        ha="center", va="center", fontsize=7,
                        color=("0.55" if value == 0 else
                               "white" if abs(value) > 0.6 * limit else "black"))
        ax.set_title(title, fontsize=9)
        ax.set_xticks(range(width))
        ax.set_xlabel("embedding dimension j")
    axes[0].set_yticks(range(vocabulary))
    axes[0].set_yticklabels([row_label(v, ids, targets)
                             for v in range(vocabulary)], fontsize=8)
    axes[0].set_ylabel("row v of E")
    fig.subplots_adjust(left=0.17, right=0.9, bottom=0.16, top=0.84,
                        wspace=0.08)
    bar = fig.colorbar(image, cax=fig.add_axes([0.915, 0.16, 0.012, 0.68]))
    bar.set_label("∂L/∂E[v, j] (nats per unit of E)")
    ids_text = case["inputs"]["ids"]["data"]
    targets_text = case["inputs"]["targets"]["data"]
    fig.suptitle(f"The tied gradient's two shares, case {CASE}: ids "
                 f"{ids_text}, targets {targets_text}, mean loss "
                 f"{float(out['loss'].ravel()[0]):.4f} nats", fontsize=10)
    footnote(fig, f"gradients {SOURCE}, op tied_lm; inputs from "
             "vectors/tied_lm.json")
    save(fig, path)
