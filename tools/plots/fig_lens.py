"""fig_lens.py -- the logit lens (spec/logit_lens.md) of one vector case
as a layers x positions table: each cell is the top token of that layer's
reading at that position and its probability; beside it, the probability
each layer gives to the token the last layer ends up predicting.

The case's inputs come from vectors/logit_lens.json; the lens (probs,
top_tokens, top_probs) is the reference's (op logit_lens).
"""

import numpy as np

from plot_style import SOURCE, footnote, plt, save
from ref_client import load_case

CASE = "logit_lens/full-precision-layernorm"


def draw_figure(path, context):
    case = load_case(context["vectors"], "logit_lens", CASE)
    out = context["ref"].run_case(case)
    probs, top_tokens, top_probs = (out["probs"], out["top_tokens"],
                                    out["top_probs"])
    layers, positions, vocabulary = probs.shape
    fig, (table, lines) = plt.subplots(
        1, 2, figsize=(9.0, 4.0), gridspec_kw={"width_ratios": [1.15, 1]})
    image = table.imshow(top_probs[:, :, 0], cmap="Blues", vmin=0, vmax=1,
                         aspect="auto", origin="lower")
    for layer in range(layers):
        for t in range(positions):
            p = top_probs[layer, t, 0]
            table.text(t, layer, f"token {top_tokens[layer, t, 0]}\n{p:.3f}",
                       ha="center", va="center", fontsize=8,
                       color="white" if p > 0.55 else "black")
    table.set_xticks(range(positions))
    table.set_yticks(range(layers))
    table.set_yticklabels(["0 (embedding)"] +
                          [f"{l} (block {l})" for l in range(1, layers)])
    table.set_xlabel("position t (tokens)")
    table.set_ylabel("layer l")
    table.set_title("top token and its probability")
    bar = fig.colorbar(image, ax=table, fraction=0.05, pad=0.03)
    bar.set_label("top-1 probability (dimensionless)")

    final = top_tokens[layers - 1, :, 0]
    for t in range(positions):
        lines.plot(range(layers), probs[:, t, final[t]], "o-",
                   label=f"position {t}: token {final[t]}")
    lines.axhline(1 / vocabulary, color="0.5", linestyle=":", linewidth=0.8,
                  label=f"uniform, 1/|V| = 1/{vocabulary}")
    lines.set_xticks(range(layers))
    lines.set_xlabel("layer l")
    lines.set_ylabel("probability of the last layer's top token")
    lines.set_ylim(0, 1)
    lines.set_title("each layer's probability of the final top token")
    lines.legend(fontsize=7)
    fig.suptitle(f"Logit lens softmax(LayerNorm(H[l, t]) Eᵀ) of {CASE} "
                 f"(|V| = {vocabulary}, random inputs)", fontsize=10)
    footnote(fig, f"lens {SOURCE}, op logit_lens; inputs from "
             "vectors/logit_lens.json")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    save(fig, path)
