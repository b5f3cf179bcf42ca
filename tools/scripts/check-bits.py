#!/usr/bin/python3
"""check-bits.py --runner RUNNER --vectors DIR --digests FILE [--write]
NAME=TESTEE... -- the reference's outputs, bit for bit, across builds
(make bits-check; make bits-digests passes --write).

Each TESTEE is the reference testee (lmr-testee-ref) of one build: another
compiler, optimisation level or -march (the Makefile builds them in
build-bits/NAME/). The runner sends it every case of the vectors and keeps
the transcript; every response is reduced to one SHA-256 digest per case,
of the exact bytes of its outputs: for each output, in name order, its name,
its shape and its elements as little-endian binary64 (float64 outputs) or
int64 (int64 outputs; the dtype comes from the op table,
tools/common/ops.json, since the protocol writes the double 1 as "1"); for a
rejected case, the word "rejected" and the reason. The wire format cannot
carry a NaN's sign or payload, so every NaN hashes alike.

Every build's digests must equal FILE's, case by case: a difference means
that the reference's result depends on the compiler or its flags (a
contraction to FMA, a reassociated sum, a long double intermediate) -- or
that it changed on purpose, and then --write records the new digests, which
it refuses to do unless every build agrees with every other. The digests
also depend on the C library's libm (exp, log, sin, cos, ... are not
correctly rounded, spec/tolerance.md#libm), so on another platform a
difference points there first.

Exit status: 0 every build matches (or FILE written), 1 a difference,
2 bad usage or a testee that did not answer every case.
"""
import argparse
import hashlib
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OPS_JSON = os.path.join(HERE, "..", "common", "ops.json")
SPECIAL = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan, "-0": -0.0}
HEADER = ("# reference-digests.txt: SHA-256 of lmr-testee-ref's outputs, one "
          "line per case (tools/scripts/check-bits.py; make bits-digests "
          "rewrites it)\n")


def output_dtypes():
    """{op: {output name: "float64" or "int64"}} from the op table."""
    with open(OPS_JSON) as f:
        table = json.load(f)
    return {op["name"]: {o["name"]: o["dtype"] for o in op["outputs"]}
            for op in table["ops"]}


def pack_elements(data, dtype):
    """The elements of a (flattened) output as little-endian bytes."""
    if dtype == "int64":
        return b"".join(struct.pack("<q", int(x)) for x in data)
    return b"".join(struct.pack("<d", SPECIAL[x] if isinstance(x, str)
                                else float(x)) for x in data)


def flatten(data):
    """A nested list's elements in row-major order."""
    if not isinstance(data, list):
        return [data]
    return [x for item in data for x in flatten(item)]


def case_digest(response, dtypes):
    """The SHA-256 (hex) of one response; dtypes: {output name: dtype}."""
    h = hashlib.sha256()
    if response.get("status") != "ok":
        h.update(b"%s\0%s" % (str(response.get("status")).encode(),
                              str(response.get("reason")).encode()))
        return h.hexdigest()
    for name in sorted(response["outputs"]):
        output = response["outputs"][name]
        shape = output["shape"]
        h.update(name.encode() + b"\0")
        h.update(struct.pack("<Q", len(shape)))
        h.update(b"".join(struct.pack("<Q", n) for n in shape))
        h.update(pack_elements(flatten(output["data"]), dtypes[name]))
    return h.hexdigest()


def run_testee(runner, vectors, testee):
    """{case id: digest} of one testee's answers to every case, and the
    runner's exit status."""
    dtypes = output_dtypes()
    with tempfile.TemporaryDirectory() as tmp:
        transcript = os.path.join(tmp, "transcript")
        run = subprocess.run([runner, "--vectors", vectors, "--transcript",
                              transcript, "--", testee],
                             stdout=subprocess.DEVNULL)
        ops, digests = {}, {}
        with open(transcript) as f:
            for line in f:
                direction, text = line[:2], line[2:]
                if direction not in ("> ", "< "):
                    continue
                try:
                    message = json.loads(text)
                except ValueError:
                    continue
                if not isinstance(message, dict) or "id" not in message:
                    continue  # the hello, or a line the runner rejected
                if direction == "> ":
                    ops[message["id"]] = message["op"]
                elif message["id"] in ops:
                    digests[message["id"]] = case_digest(
                        message, dtypes[ops[message["id"]]])
    missing = sorted(set(ops) - set(digests))
    return digests, missing, run.returncode


def read_digests(path):
    digests = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            digest, case_id = line.split()
            digests[case_id] = digest
    return digests


def write_digests(path, digests):
    with open(path, "w") as f:
        f.write(HEADER)
        for case_id in sorted(digests):
            f.write("%s  %s\n" % (digests[case_id], case_id))


def differences(got, want):
    """The case ids whose digests differ, and those only one side has."""
    changed = sorted(i for i in got if i in want and got[i] != want[i])
    return changed, sorted(set(want) - set(got)), sorted(set(got) - set(want))


def list_some(label, ids, limit=8):
    if ids:
        more = " ..." if len(ids) > limit else ""
        print("  %s (%d): %s%s" % (label, len(ids), " ".join(ids[:limit]), more))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runner", required=True)
    parser.add_argument("--vectors", required=True)
    parser.add_argument("--digests", required=True)
    parser.add_argument("--write", action="store_true",
                        help="rewrite the digests file (every build must agree)")
    parser.add_argument("builds", nargs="+", metavar="NAME=TESTEE")
    args = parser.parse_args()

    results = {}
    for build in args.builds:
        name, _, testee = build.partition("=")
        digests, missing, status = run_testee(args.runner, args.vectors, testee)
        if missing or not digests:
            print("bits-check: %s: no answer to %d cases (runner exit %d)"
                  % (name, len(missing), status))
            list_some("unanswered", missing)
            return 2
        results[name] = digests

    names = list(results)
    if args.write:
        first = results[names[0]]
        for name in names[1:]:
            changed, lost, extra = differences(results[name], first)
            if changed or lost or extra:
                print("bits-digests: %s and %s disagree on %d cases; not written"
                      % (name, names[0], len(changed) + len(lost) + len(extra)))
                list_some("differ", changed)
                return 1
        write_digests(args.digests, first)
        print("bits-digests: %d digests written to %s (%d builds agree)"
              % (len(first), args.digests, len(names)))
        return 0

    want = read_digests(args.digests)
    failed = False
    for name in names:
        changed, lost, extra = differences(results[name], want)
        if changed or lost or extra:
            failed = True
            print("bits-check: %s: %d of %d cases differ from %s"
                  % (name, len(changed), len(want), args.digests))
            list_some("outputs differ", changed)
            list_some("not run", lost)
            list_some("not in the digests", extra)
        else:
            print("bits-check: %s: all %d cases bit for bit as recorded"
                  % (name, len(want)))
    if failed:
        print("bits-check: the reference's outputs depend on the build; if "
              "the change is intended, make bits-digests")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
