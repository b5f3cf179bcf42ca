#!/usr/bin/python3
"""TAP: the bundled Python testees fail closed.

    /usr/bin/python3 tests/testees_fail_closed.py [RUNNER]

A testee may answer "rejected" only for a reason the spec names
(tools/testees/protocol.py); a bug of its own must never look like a
rejection, or a bug on an invalid case would count as a pass.  So each
testee is run through lmr-run with a bug injected where it rejects (its
validator raises a TypeError): every case, valid or invalid, must get the
verdict `crash` and the run must fail; and with a bug where it computes (the
op raises a ZeroDivisionError): the valid case must be a `crash`, while the
invalid ones are still rejected by the validator before the op runs.  A control runs the same injection through a
fail-open server (every exception answered as "rejected", what the testees
did before) and checks that the runner does pass its invalid cases there:
the check below tells the two apart.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
PYTHON = "/usr/bin/python3"

# Two invalid cases and one valid one of embed_lookup.
CASES = ["embed_lookup/index-equal-to-rows", "embed_lookup/index-negative",
         "embed_lookup/small-dyadic"]

# A testee started with one function replaced: `{module}.{name}` raises.
INJECT = r"""
import sys
sys.path.insert(0, {testees!r})
import protocol, validate, {testee} as testee
def broken(*args, **kwargs):
    raise {error}("an injected bug")
setattr({module}, {name!r}, broken)
if {fail_open}:
    def respond_fail_open(req, ops, check):
        try:
            return protocol_respond(req, ops, check)
        except Exception as e:
            return {{"id": req.get("id", ""), "status": "rejected", "reason": str(e)}}
    protocol_respond = protocol.respond
    protocol.respond = respond_fail_open
sys.exit(testee.main(["--class", "fp64"]))
"""


def run(runner, testee, module, name, error, fail_open=False):
    """{case id: verdict} of lmr-run against the testee with the injected bug."""
    script = INJECT.format(testees=os.path.join(ROOT, "tools", "testees"), testee=testee,
                           module=module, name=name, error=error, fail_open=fail_open)
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.json")
        command = [runner, "--vectors", os.path.join(ROOT, "vectors"), "--timeout", "60",
                   "--report", report]
        for case in CASES:
            command += ["--id", case]
        done = subprocess.run(command + ["--", PYTHON, "-c", script],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(report) as f:
            verdicts = {c["id"]: c["verdict"] for c in json.load(f)["cases"]}
    return done.returncode, verdicts


class Tap:
    def __init__(self):
        self.number = 0
        self.failed = 0

    def check(self, ok, what):
        self.number += 1
        self.failed += not ok
        print("%s %d - %s" % ("ok" if ok else "not ok", self.number, what))


def main(argv):
    runner = argv[0] if argv else os.path.join(ROOT, "build", "lmr-run")
    crash_all = {case: "crash" for case in CASES}
    crash_valid = {CASES[0]: "pass", CASES[1]: "pass", CASES[2]: "crash"}
    injections = [
        ("testee_numpy", "validate", "check_embed_lookup", "TypeError", "its validator", crash_all),
        ("testee_numpy", "testee", "op_embed_lookup", "ZeroDivisionError", "its op", crash_valid),
        ("testee_torch", "validate", "check_embed_lookup", "TypeError", "its validator", crash_all),
        ("testee_torch", "testee", "op_embed_lookup", "ZeroDivisionError", "its op", crash_valid),
    ]
    tap = Tap()
    print("1..%d" % (2 * len(injections) + 2))
    for testee, module, name, error, where, want in injections:
        code, verdicts = run(runner, testee, module, name, error)
        tap.check(code == 1, "%s with a bug in %s: the run fails (exit %d)" % (testee, where, code))
        tap.check(verdicts == want, "%s with a bug in %s: the verdicts are %s (got %s)"
                  % (testee, where, want, verdicts))
    # The control: the same bug served fail-open passes the invalid cases.
    code, verdicts = run(runner, "testee_numpy", "validate", "check_embed_lookup", "TypeError",
                         fail_open=True)
    tap.check(verdicts.get(CASES[0]) == "pass" and verdicts.get(CASES[1]) == "pass",
              "control: served fail-open, the injected bug passes the invalid cases (%s)" % verdicts)
    tap.check(code == 1 and verdicts.get(CASES[2]) == "fail",
              "control: and fails only the valid one (exit %d)" % code)
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
