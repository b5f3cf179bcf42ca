#!/usr/bin/python3
"""check-exactness.py GEN [VECTORS] [--precision BITS] -- the oracle's
exactness self-check.

Regenerates every vector file (the GPT-2-size ones aside) with the oracle at
a second working precision (1024 bits by default, instead of 256) and
requires every expected float64 value to come out as the same double.

Why this is the check that a golden which is exactly representable is
stored exactly: the oracle rounds each expected value once from a result it
computes at its working precision. A result that is exact over the reals
(an exact 0, a dyadic value) is stored exactly only if the oracle's formula
produces it exactly; if instead it is left as a residue of rounding (a
difference of two 256-bit values that are equal over the reals, 1e-78
where 0 belongs), that residue shrinks with the precision (to 1e-310 at
1024 bits) and the stored double changes. A value that is not exact is
correctly rounded at both precisions, so it is the same double. Any
difference is therefore a golden that depends on the oracle's precision:
a bug of the oracle (spec/tolerance.md, "rounded once").

Scales are not compared: they are upper bounds rounded upward, and their
last bits may follow the precision.
"""
import glob
import json
import math
import os
import subprocess
import sys
import tempfile

SPECIAL = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan, "-0": -0.0}


def value(x):
    return SPECIAL[x] if isinstance(x, str) else float(x)


def same(a, b):
    """Equal doubles (+0 and -0 equal, NaN equal to NaN)."""
    a, b = value(a), value(b)
    return a == b or (a != a and b != b)


def expected_values(path):
    """{(case id, output): data} of the float64 expected outputs of a file."""
    with open(path) as f:
        vector_file = json.load(f)
    out = {}
    for case in vector_file["cases"]:
        for name, array in (case.get("expected") or {}).items():
            if array.get("dtype") == "float64" and "data" in array:
                out[(case["id"], name)] = array["data"]
    return out


def main(argv):
    args = list(argv)
    bits = "1024"
    if "--precision" in args:
        i = args.index("--precision")
        bits = args[i + 1]
        del args[i:i + 2]
    if not args:
        print(__doc__.split("\n")[0], file=sys.stderr)
        return 2
    gen = args[0]
    vectors = args[1] if len(args) > 1 else "vectors"
    files = sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(vectors, "*.json"))
                   if not p.endswith("_gpt2.json"))
    with tempfile.TemporaryDirectory() as tmp:
        command = [gen, "--precision", bits]
        for name in files:
            command += ["--file", name]
        subprocess.run(command + [tmp], check=True)
        compared = zeros = 0
        differences = []
        for name in files:
            committed = expected_values(os.path.join(vectors, name + ".json"))
            again = expected_values(os.path.join(tmp, name + ".json"))
            for key, data in committed.items():
                other = again.get(key)
                if other is None or len(other) != len(data):
                    differences.append("%s %s: missing at %s bits" % (key[0], key[1], bits))
                    continue
                for i, (a, b) in enumerate(zip(data, other)):
                    compared += 1
                    zeros += value(a) == 0.0
                    if not same(a, b):
                        differences.append("%s output %s[%d]: %r at 256 bits, %r at %s bits"
                                           % (key[0], key[1], i, a, b, bits))
    for line in differences[:40]:
        print("exactness: " + line)
    if differences:
        print("exactness: %d of %d expected values depend on the oracle's precision "
              "(%d more not shown): the oracle leaves a rounding residue where the "
              "exact result is representable" % (len(differences), compared,
                                                max(0, len(differences) - 40)))
        return 1
    print("exactness: %d expected values of %d files (%d of them exact zeros) are the "
          "same doubles at 256 and %s bits" % (compared, len(files), zeros, bits))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
