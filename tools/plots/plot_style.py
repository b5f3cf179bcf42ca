"""plot_style.py -- what every study figure shares: the Agg backend, one
font size, and saving a PNG without a timestamp or version stamp, so that
the same numbers give the same bytes."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

plt.rcParams.update({"font.size": 9, "axes.titlesize": 10,
                     "figure.dpi": 100, "savefig.dpi": 100})

# The source of every figure's numbers, for its footnote.
SOURCE = "computed by the reference library (build/lmr-testee-ref)"


def footnote(fig, text):
    """A small line at the bottom left: where the numbers come from."""
    fig.text(0.01, 0.005, text, fontsize=7, color="0.4", ha="left",
             va="bottom")


def save(fig, path):
    """Writes fig as a PNG at path and closes it."""
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)
