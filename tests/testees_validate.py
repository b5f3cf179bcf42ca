#!/usr/bin/python3
"""TAP: the Python testees' one validator (tools/testees/validate.py) against
every case of every vector file.

    /usr/bin/python3 tests/testees_validate.py [VECTOR_DIR]

A valid case must be accepted; an invalid case must be rejected with exactly
the status in its `error` field (the status ref/ returns, which the generator
wrote from spec/errors.md). Anything else -- a wrong status, an acceptance,
any exception other than Reject -- is a failure. Both Python testees reject
only through this validator, so this is the test of their rejections.
"""
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "testees"))
import protocol  # noqa: E402
import validate  # noqa: E402


def verdict(op, case):
    """None when the validator does what the case requires, else the problem."""
    request = protocol.Request({"id": case["id"], "op": op, "params": case["params"],
                                "inputs": case["inputs"]})
    try:
        validate.validate(op, request)
    except protocol.Reject as e:
        if case["result"] == "valid":
            return "a valid case rejected (%s)" % e
        if e.status != case["error"]:
            return "rejected with %s, the case says %s (%s)" % (e.status, case["error"], e)
        return None
    except protocol.Unsupported:
        return None  # a generated input this reader cannot rebuild: not a verdict
    except Exception as e:  # noqa: BLE001 -- a crash of the validator is a failure
        return "the validator raised %s: %s" % (type(e).__name__, e)
    if case["result"] == "invalid":
        return "an invalid case (%s) accepted" % case["error"]
    return None


def main(argv):
    vectors = argv[0] if argv else os.path.join(HERE, "..", "vectors")
    cases = []
    for path in sorted(glob.glob(os.path.join(vectors, "*.json"))):
        if path.endswith("_gpt2.json"):
            continue  # valid only, and their inputs are generated: nothing to reject
        with open(path) as f:
            vector_file = json.load(f)
        cases += [(vector_file["op"], c) for c in vector_file["cases"]]
    print("1..%d" % len(cases))
    failures = 0
    for number, (op, case) in enumerate(cases, 1):
        problem = verdict(op, case)
        if problem is None:
            print("ok %d - %s" % (number, case["id"]))
        else:
            failures += 1
            print("not ok %d - %s # %s" % (number, case["id"], problem))
    invalid = sum(1 for _, c in cases if c["result"] == "invalid")
    print("# %d cases (%d invalid), %d failures" % (len(cases), invalid, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
