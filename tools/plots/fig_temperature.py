"""fig_temperature.py -- the three-word worked example of spec/errata.md E8
(h = [0.2, -0.1, 0.5, 0.3, -0.2] and a 3 x 5 E) through the tied head and
the softmax at several temperatures: tau < 1 sharpens, tau > 1 flattens.

Inputs are read from the vector files (head_tied/seed-three-words, and
softmax/seed-document-logits for the logits the source document prints,
which are wrong: spec/errata.md E8, E9); the logits and every probability are the
reference's (ops head_tied and softmax).
"""

import numpy as np

from plot_style import SOURCE, footnote, plt, save
from ref_client import floats, load_case

TEMPERATURES = (0.25, 0.5, 1.0, 2.0, 4.0)
CURVE = np.geomspace(0.05, 20.0, 61)     # tau for the right-hand panel


def softmax_rows(ref, logits, taus):
    """[len(taus), |V|]: the reference's softmax of logits at each tau."""
    return np.array([ref.run("softmax", {"tau": float(tau)},
                             {"logits": floats([logits])})["probs"][0]
                     for tau in taus])


def draw_figure(path, context):
    ref, vectors = context["ref"], context["vectors"]
    example = load_case(vectors, "head_tied", "head_tied/seed-three-words")
    logits = ref.run_case(example)["logits"][0]
    printed = load_case(vectors, "softmax", "softmax/seed-document-logits")
    printed_logits = printed["inputs"]["logits"]["data"]
    printed_probs = ref.run_case(printed)["probs"][0]
    bars = softmax_rows(ref, logits, TEMPERATURES)
    curve = softmax_rows(ref, logits, CURVE)

    fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.9),
                                      gridspec_kw={"width_ratios": [1.1, 1]})
    words = np.arange(len(logits))
    width = 0.8 / len(TEMPERATURES)
    colours = plt.cm.viridis(np.linspace(0.05, 0.9, len(TEMPERATURES)))
    for k, (tau, row) in enumerate(zip(TEMPERATURES, bars)):
        left.bar(words + (k - (len(TEMPERATURES) - 1) / 2) * width, row,
                 width, color=colours[k], label=f"τ = {tau:g}")
    at_one = TEMPERATURES.index(1.0)
    offset = (at_one - (len(TEMPERATURES) - 1) / 2) * width
    for w, p, q in zip(words, bars[at_one], printed_probs):
        left.text(w + offset, max(p, q) + 0.03, f"{p:.3f}", ha="center",
                  fontsize=7, rotation=90, va="bottom")
    left.plot(words + offset,
              printed_probs, "x", color="crimson", markersize=7,
              label="τ = 1 from the wrong printed logits (errata E9)")
    left.set_xticks(words)
    left.set_xticklabels([f"word {w}\nu = {u:.2f}" for w, u in
                          zip(words, logits)])
    left.set_ylabel("probability softmax(u/τ) (dimensionless)")
    left.set_ylim(0, 1)
    left.set_title("h Eᵀ then softmax at five temperatures")
    left.legend(fontsize=7, loc="upper left")
    for w in words:
        right.plot(CURVE, curve[:, w], label=f"word {w} (u = {logits[w]:.2f})")
    right.axhline(1 / len(logits), color="0.5", linewidth=0.8, linestyle=":",
                  label="uniform, 1/|V|")
    right.axvline(1.0, color="0.7", linewidth=0.8)
    right.set_xscale("log")
    right.set_xlabel("temperature τ (dimensionless, log scale)")
    right.set_ylabel("probability (dimensionless)")
    right.set_ylim(0, 1)
    right.set_title("τ → 0: one-hot on the largest logit; τ → ∞: uniform")
    right.legend(fontsize=7)
    fig.suptitle("The three-word example of errata E8: logits "
                 f"[{', '.join(f'{u:.2f}' for u in logits)}], not the "
                 f"printed [{', '.join(f'{u:g}' for u in printed_logits)}]",
                 fontsize=10)
    footnote(fig, f"logits and probabilities {SOURCE}, ops head_tied and "
             "softmax;\ninputs from vectors/head_tied.json "
             "(head_tied/seed-three-words) and vectors/softmax.json "
             "(softmax/seed-document-logits); spec/errata.md E8, E9")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    save(fig, path)
