#!/usr/bin/python3
"""TAP: the committed fuzz seeds (tests/fuzz/corpus/) are what
tests/fuzz/make-seeds.py writes from the current vectors and fixtures, so a
change to the vectors cannot leave the harnesses starting from stale files.

    /usr/bin/python3 tests/fuzz_seeds.py

Runs make-seeds.py into a temporary directory and compares, harness by
harness, the set of seed names and each seed's bytes. The crash-* seeds
(regressions kept by hand) are not written by the script and are left out.
"""
import os
import subprocess
import sys
import tempfile

CORPUS = "tests/fuzz/corpus"


def seeds(directory):
    """{harness/name: bytes} of a corpus, crash-* seeds left out."""
    found = {}
    for harness in sorted(os.listdir(directory)):
        for name in sorted(os.listdir(os.path.join(directory, harness))):
            if not name.startswith("crash-"):
                with open(os.path.join(directory, harness, name), "rb") as f:
                    found[harness + "/" + name] = f.read()
    return found


def main():
    with tempfile.TemporaryDirectory() as scratch:
        written = os.path.join(scratch, "corpus")
        subprocess.run([sys.executable, "tests/fuzz/make-seeds.py", written],
                       check=True)
        fresh, committed = seeds(written), seeds(CORPUS)
    harnesses = sorted({key.split("/")[0] for key in fresh} |
                       {key.split("/")[0] for key in committed})
    print("1..%d" % len(harnesses))
    for number, harness in enumerate(harnesses, 1):
        mine = {k for k in fresh if k.startswith(harness + "/")}
        theirs = {k for k in committed if k.startswith(harness + "/")}
        stale = sorted(k for k in mine & theirs if fresh[k] != committed[k])
        problems = ["missing " + k for k in sorted(mine - theirs)] + \
                   ["extra " + k for k in sorted(theirs - mine)] + \
                   ["stale " + k for k in stale]
        ok = "ok" if not problems else "not ok"
        print("%s %d - %s: %d seeds as make-seeds.py writes them"
              % (ok, number, harness, len(mine)))
        for problem in problems[:10]:
            print("#   %s (run /usr/bin/python3 tests/fuzz/make-seeds.py)" % problem)


if __name__ == "__main__":
    main()
