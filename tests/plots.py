#!/usr/bin/python3
"""plots.py -- TAP test of the study figures (tools/plots): every figure is
written and is not blank; the figures committed in docs/figures/ that the
reference alone determines are what the plots program draws today (pixel
for pixel); and the reference client says clearly when the reference
rejects a request or cannot be started.

Usage (prove passes the arguments after ::):
    prove -e /usr/bin/python3 tests/plots.py :: TESTEE VECTORS_DIR RUN.json...
"""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools", "plots"))

from ref_client import Reference, ReferenceError, floats  # noqa: E402

FIGURES = ("sinusoid", "temperature", "logit_lens", "tied_gradient",
           "error_to_bound", "attention", "pca_projection")
# Committed figures whose every number comes from the reference and the
# vectors (error_to_bound depends on which runs are given, so it is not
# compared).
COMMITTED = ("sinusoid", "temperature", "tied_gradient")
MAX_BYTES = 150 * 1024


def pixels(path):
    from PIL import Image
    with Image.open(path) as image:
        image = image.convert("RGB")
        return image.size, image.tobytes()


def not_blank(path):
    """(share of pixels unlike the most common colour, distinct colours)."""
    from PIL import Image
    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 24)
        total = image.width * image.height
    return 1.0 - max(colours)[0] / total, len(colours)


def main(argv):
    if len(argv) < 3:
        print("Bail out! usage: plots.py TESTEE VECTORS_DIR RUN.json...")
        return 2
    testee, vectors, reports = argv[0], argv[1], argv[2:]
    count = failed = 0

    def ok(condition, description, diagnostics=""):
        nonlocal count, failed
        count += 1
        print(f"{'ok' if condition else 'not ok'} {count} - {description}")
        if not condition:
            failed += 1
            for line in str(diagnostics).splitlines():
                print(f"# {line}")

    out = tempfile.mkdtemp(prefix="lmr-plots-test-")
    try:
        result = subprocess.run(
            ["/usr/bin/python3", os.path.join(ROOT, "tools/plots/plots.py"),
             "--out", out, "--testee", testee, "--vectors", vectors,
             *reports], capture_output=True, text=True, timeout=300)
        ok(result.returncode == 0, "plots.py writes every figure",
           result.stderr + result.stdout)
        for name in FIGURES:
            path = os.path.join(out, f"{name}.png")
            if not os.path.exists(path):
                ok(False, f"{name}.png is written")
                continue
            share, distinct = not_blank(path)
            size = os.path.getsize(path)
            ok(share > 0.05 and distinct > 32 and size < MAX_BYTES,
               f"{name}.png is drawn ({share:.0%} of its pixels not "
               f"background, {distinct} colours, {size // 1024} KB)")
        for name in COMMITTED:
            committed = os.path.join(ROOT, "docs", "figures", f"{name}.png")
            fresh = os.path.join(out, f"{name}.png")
            same = (os.path.exists(committed) and os.path.exists(fresh) and
                    pixels(committed) == pixels(fresh))
            ok(same, f"docs/figures/{name}.png is what make plots draws "
               "today (else: make docs-figures)")

        with Reference(testee) as ref:
            try:
                ref.run("softmax", {"tau": 0.0},
                        {"logits": floats([[0.0, 1.0]])})
                ok(False, "a rejected request raises ReferenceError")
            except ReferenceError as e:
                ok("softmax" in str(e) and "LMR_EDOMAIN" in str(e),
                   "a rejected request raises ReferenceError with the op "
                   "and the reference's status", str(e))
            probs = ref.run("softmax", {"tau": 1.0},
                            {"logits": floats([[0.0, 0.0]])})["probs"]
            ok(probs.shape == (1, 2) and list(probs[0]) == [0.5, 0.5],
               "after a rejection the client still talks to the reference",
               str(probs))
        try:
            Reference(os.path.join(out, "no-such-program"))
            ok(False, "a missing reference program raises ReferenceError")
        except ReferenceError as e:
            ok("no-such-program" in str(e),
               "a missing reference program raises ReferenceError naming "
               "it", str(e))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"1..{count}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
