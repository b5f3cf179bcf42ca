"""fig_sinusoid.py -- the sinusoidal position encoding as a heatmap,
positions down, columns across (spec/sinusoid.md), with each pair's
wavelength marked.

The encoding comes from the reference (op pos_sinusoid). So do the
wavelengths: the row of position 1 holds sin(w_i) and cos(w_i) in columns
2i and 2i + 1, so w_i = atan2(PE[1, 2i], PE[1, 2i + 1]) and the wavelength
is 2 pi / w_i positions (w_i < pi for every pair, so atan2 recovers it).
"""

import math

import numpy as np

from plot_style import SOURCE, footnote, plt, save
from ref_client import integers

POSITIONS = 256
WIDTH = 128          # d
BASE = 10000.0


def wavelengths(pe):
    """2 pi / w_i per pair, from the rows of positions 0 and 1."""
    sines, cosines = pe[1, 0::2], pe[1, 1::2]
    return 2 * math.pi / np.arctan2(sines, cosines)


def draw_figure(path, context):
    pe = context["ref"].run("pos_sinusoid", {"d": WIDTH, "base": BASE},
                 {"positions": integers(range(POSITIONS))})["Y"]
    lam = wavelengths(pe)
    fig, ax = plt.subplots(figsize=(8.0, 5.4))
    image = ax.imshow(pe, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1,
                      interpolation="nearest", origin="upper")
    # Mark one full period of each sine column: position p = wavelength.
    seen = [(2 * i, wave) for i, wave in enumerate(lam) if wave < POSITIONS]
    ax.plot([c for c, _ in seen], [w for _, w in seen], "o", color="black",
            markersize=3, label="one full period of column 2i (p = λ_i)")
    ax.set_xlabel(f"dimension j (column of PE; d = {WIDTH}; "
                  "even j = sin, odd j = cos)")
    ax.set_ylabel("position p (tokens)")
    ax.set_title(f"Sinusoidal position encoding PE[p, j], base {BASE:g}: "
                 "wavelength grows geometrically across the columns")
    top = ax.secondary_xaxis("top")
    pairs = [0, 8, 16, 24, 32, 48, 63]
    top.set_xticks([2 * i for i in pairs])
    top.set_xticklabels([f"{lam[i]:.3g}" for i in pairs])
    top.set_xlabel("wavelength λ_i = 2π / ω_i of the pair (positions)")
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.set_label("PE[p, j] (dimensionless, in [−1, 1])")
    footnote(fig, f"PE {SOURCE}, op pos_sinusoid; λ_i from its row p = 1: "
             "ω_i = atan2(PE[1, 2i], PE[1, 2i+1])")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    save(fig, path)
