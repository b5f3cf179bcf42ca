#!/usr/bin/python3
"""plots.py -- the study figures (make plots), as PNGs in one directory.

Usage:
    /usr/bin/python3 tools/plots/plots.py [--out build/plots]
        [--testee build/lmr-testee-ref] [--vectors vectors]
        [--only NAME]... [REPORT.json...]

Every number drawn comes from the reference library through its protocol
program (tools/plots/ref_client.py), from the vector files' inputs, or, for
the error-to-bound figure, from the runner reports given (one per bundled
testee and class; make plots passes build/reports/*.json). Without reports
that figure is skipped with a note.

Exit status 0 when every figure asked for was written, 1 if one failed
(the message says which and why), 2 for bad usage.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fig_attention  # noqa: E402
import fig_errors  # noqa: E402
import fig_lens  # noqa: E402
import fig_pca  # noqa: E402
import fig_sinusoid  # noqa: E402
import fig_temperature  # noqa: E402
import fig_tied_grad  # noqa: E402
from ref_client import Reference, ReferenceError  # noqa: E402

# name -> (module, what it shows); the file is build/plots/NAME.png
FIGURES = {
    "sinusoid": (fig_sinusoid, "the sinusoid heatmap with wavelengths"),
    "temperature": (fig_temperature, "the three-word example at several "
                    "temperatures"),
    "logit_lens": (fig_lens, "a logit-lens case, layers x positions"),
    "tied_gradient": (fig_tied_grad, "the two shares of the tied gradient"),
    "error_to_bound": (fig_errors, "error-to-bound per bundled testee"),
    "attention": (fig_attention, "attention weights with and without masks"),
    "pca_projection": (fig_pca, "an embedding table on its first two "
                       "principal directions"),
}


def main(argv):
    parser = argparse.ArgumentParser(prog="plots.py", description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--out", default="build/plots")
    parser.add_argument("--testee", default="build/lmr-testee-ref")
    parser.add_argument("--vectors", default="vectors")
    parser.add_argument("--only", action="append", choices=sorted(FIGURES))
    parser.add_argument("reports", nargs="*", metavar="REPORT")
    arguments = parser.parse_args(argv)
    os.makedirs(arguments.out, exist_ok=True)
    failed = 0
    with Reference(arguments.testee) as ref:
        for name in arguments.only or FIGURES:
            module, what = FIGURES[name]
            path = os.path.join(arguments.out, f"{name}.png")
            context = {"ref": ref, "vectors": arguments.vectors,
                       "reports": arguments.reports}
            try:
                note = module.draw_figure(path, context)
            except (ReferenceError, KeyError, OSError, ValueError) as e:
                print(f"plots: {name}: {e}", file=sys.stderr)
                failed = 1
                continue
            print(f"plots: {path}: {what}" + (f" ({note})" if note else ""))
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
