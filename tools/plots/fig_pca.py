"""fig_pca.py -- principal component analysis (spec/pca.md) of an embedding
table: every row projected on the first two principal directions, each
point labelled with its token id (the vector files carry no vocabulary,
so the ids are the tokens' names), and beside it the explained-variance
ratio of every direction with its running sum.

The table is E of the logit-lens case of fig_lens.py (vectors/
logit_lens.json, 32 tokens x 16 dimensions); the projections, variances
and ratios are the reference's (op pca, k = 16, every direction).
"""

import numpy as np

from plot_style import SOURCE, footnote, plt, save
from ref_client import floats, load_case

CASE = "logit_lens/full-precision-layernorm"


def draw_figure(path, context):
    table = load_case(context["vectors"], "logit_lens", CASE)["inputs"]["E"]
    E = np.asarray(table["data"], dtype=np.float64).reshape(table["shape"])
    tokens, width = E.shape
    out = context["ref"].run("pca", {"k": min(tokens, width)}, {"X": floats(E)})
    Z, ratios, variances = out["projections"], out["ratios"], out["variances"]
    fig, (scatter, scree) = plt.subplots(
        1, 2, figsize=(9.5, 4.2), gridspec_kw={"width_ratios": [1.25, 1]})
    scatter.scatter(Z[:, 0], Z[:, 1], s=14, color="tab:blue")
    for v in range(tokens):
        scatter.annotate(str(v), (Z[v, 0], Z[v, 1]), fontsize=7,
                         xytext=(3, 2), textcoords="offset points")
    scatter.axhline(0, color="0.7", linewidth=0.6)
    scatter.axvline(0, color="0.7", linewidth=0.6)
    scatter.set_xlabel(f"projection on v_1 ({100 * ratios[0]:.1f} % of the "
                       "variance; embedding units)")
    scatter.set_ylabel(f"projection on v_2 ({100 * ratios[1]:.1f} %)")
    scatter.set_title("each token's row (x − μ) · v_i, labelled by token id")
    directions = np.arange(1, len(ratios) + 1)
    scree.bar(directions, ratios, color="tab:orange", label="ratio λ_i / T")
    scree.plot(directions, np.cumsum(ratios), "o-", color="tab:green",
               markersize=3, label="running sum")
    scree.set_xlabel("direction i (descending variance)")
    scree.set_ylabel("explained-variance ratio (dimensionless)")
    scree.set_ylim(0, 1.05)
    scree.set_xticks(directions)
    scree.tick_params(axis="x", labelsize=7)
    scree.set_title(f"λ_1 = {variances[0]:.3g}, λ_{len(ratios)} = "
                    f"{variances[-1]:.3g} (divisor n − 1)")
    scree.legend(fontsize=7)
    fig.suptitle(f"PCA of the embedding table E of {CASE} "
                 f"({tokens} tokens x d = {width}, random entries, centred)",
                 fontsize=10)
    footnote(fig, f"components {SOURCE}, op pca; sign: largest |entry| of each "
             "direction positive; E from vectors/logit_lens.json")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    save(fig, path)
    return f"{tokens} tokens, first two ratios {ratios[0]:.3f}, {ratios[1]:.3f}"
