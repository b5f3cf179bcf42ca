"""fig_attention.py -- attention weights as the heatmaps the source
documents describe (spec/attention.md): one vector case's queries and keys
three ways, with no mask, with the causal mask aligned bottom-right (5
queries, the last 5 of 8 positions), and with the causal mask and the
padding the case gives (keys 1, 4 and 7). Masked keys get weight exactly 0
and are marked; every row sums to 1.

Inputs from vectors/attention_weights.json (attention_weights/
random-causal-padded); every weight is the reference's (op
attention_weights).
"""

import numpy as np

from plot_style import SOURCE, footnote, plt, save
from ref_client import load_case

CASE = "attention_weights/random-causal-padded"


def draw_figure(path, context):
    ref = context["ref"]
    case = load_case(context["vectors"], "attention_weights", CASE)
    qk = {"Q": case["inputs"]["Q"], "K": case["inputs"]["K"]}
    key_mask = case["inputs"]["key_mask"]["data"]
    panels = [
        ("no mask", ref.run("attention_weights", {"causal": False}, qk)),
        ("causal (bottom-right)", ref.run("attention_weights",
                                          {"causal": True}, qk)),
        ("causal and padding (the case)", ref.run_case(case)),
    ]
    n_q, n_k = panels[0][1]["weights"].shape
    offset = n_k - n_q
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.6), sharey=True)
    for ax, (title, out) in zip(axes, panels):
        weights = out["weights"]
        image = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0,
                          aspect="auto", interpolation="nearest")
        for i in range(n_q):
            for j in range(n_k):
                value = weights[i, j]
                ax.text(j, i, "0" if value == 0 else f"{value:.2f}",
                        ha="center", va="center", fontsize=6.5,
                        color="0.6" if value == 0 else
                        "black" if value > 0.6 else "white")
        ax.set_title(title, fontsize=9)
        ax.set_xticks(range(n_k))
        ax.set_xticklabels([f"{j}" + ("\npad" if key_mask[j] == 0 else "")
                            for j in range(n_k)], fontsize=7)
        ax.set_xlabel("key position j")
    axes[1].plot(np.arange(n_q) + offset + 0.5, np.arange(n_q), "w--",
                 linewidth=0.8)
    axes[0].set_yticks(range(n_q))
    axes[0].set_yticklabels([f"query {i} (position {i + offset})"
                             for i in range(n_q)], fontsize=7)
    axes[0].set_ylabel("query i")
    fig.subplots_adjust(left=0.15, right=0.9, bottom=0.2, top=0.82,
                        wspace=0.08)
    bar = fig.colorbar(image, cax=fig.add_axes([0.915, 0.2, 0.012, 0.62]))
    bar.set_label("weight A[i, j] (dimensionless, rows sum to 1)")
    fig.suptitle(f"Attention weights softmax(Q Kᵀ/√d_k + M), n_q = {n_q}, "
                 f"n_k = {n_k}, d_k = {len(qk['Q']['data']) // n_q}: "
                 f"causal masks j > i + {offset}", fontsize=10)
    footnote(fig, f"weights {SOURCE}, op attention_weights; inputs from "
             f"vectors/attention_weights.json ({CASE})")
    save(fig, path)
