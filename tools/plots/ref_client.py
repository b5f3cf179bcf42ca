"""ref_client.py -- the reference library as the plots see it: the program
build/lmr-testee-ref, spoken to in the runner's protocol (spec/protocol.md),
one JSON request line on its standard input, one response line on its
standard output. The plots never bind the C API: this protocol is the
stable interface, and every number they draw comes back through it.

    with Reference("build/lmr-testee-ref") as ref:
        out = ref.run("softmax", {"tau": 0.5}, {"logits": floats([[1, 2]])})
        out["probs"]          # a numpy array of the reference's output

Raises ReferenceError with the op and the reason when the reference
rejects a request or breaks the protocol.
"""

import json
import subprocess

import numpy as np


class ReferenceError(Exception):
    """The reference rejected a request, or did not answer as specified."""


def _encode(value):
    """A double for the vector format: the four special values as strings."""
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return value


def floats(values):
    """A float64 input array in the vector format, from nested lists."""
    array = np.asarray(values, dtype=np.float64)
    return {"dtype": "float64", "shape": list(array.shape),
            "data": [_encode(float(v)) for v in array.ravel()]}


def integers(values):
    """An int64 input array in the vector format."""
    array = np.asarray(values, dtype=np.int64)
    return {"dtype": "int64", "shape": list(array.shape),
            "data": [int(v) for v in array.ravel()]}


def _decode(name, output, where):
    try:
        shape = output["shape"]
        data = [float(v) if isinstance(v, str) else v for v in output["data"]]
    except (KeyError, TypeError, ValueError) as e:
        raise ReferenceError(f"{where}: output {name} is malformed: {e}")
    kind = np.int64 if all(isinstance(v, int) for v in data) and data \
        else np.float64
    return np.asarray(data, dtype=kind).reshape(shape)


class Reference:
    """A running lmr-testee-ref; use as a context manager."""

    def __init__(self, program):
        self.program = program
        self.next_id = 0
        try:
            self.process = subprocess.Popen(
                [program], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                text=True)
        except OSError as e:
            raise ReferenceError(f"{program}: {e.strerror} (run make first)")
        hello = self._read_line("hello")
        if hello.get("protocol") != 1 or hello.get("class") != "fp64":
            raise ReferenceError(f"{program}: unexpected hello {hello}")

    def _read_line(self, what):
        line = self.process.stdout.readline()
        if not line:
            raise ReferenceError(f"{self.program}: exited before its {what}")
        try:
            return json.loads(line)
        except ValueError:
            raise ReferenceError(f"{self.program}: {what} is not JSON: "
                                 f"{line[:200]!r}")

    def run(self, op, params, inputs):
        """The outputs of one call of op, as numpy arrays by name."""
        self.next_id += 1
        request_id = f"plots/{self.next_id}"
        request = {"id": request_id, "op": op, "params": params,
                   "inputs": inputs}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        where = f"{op} ({request_id})"
        response = self._read_line(f"answer to {where}")
        if response.get("id") != request_id:
            raise ReferenceError(f"{where}: answer for {response.get('id')}")
        if response.get("status") != "ok":
            raise ReferenceError(f"{where}: {response.get('status')}: "
                                 f"{response.get('reason', '')}")
        return {name: _decode(name, output, where)
                for name, output in response["outputs"].items()}

    def run_case(self, case):
        """The outputs for a case of load_case (its params and inputs)."""
        return self.run(case["op"], case.get("params", {}), case["inputs"])

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def load_case(vectors, label, case_id):
    """Case case_id of vectors/label.json, with its file's op added as
    "op"; KeyError if absent."""
    path = f"{vectors}/{label}.json"
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    for case in data["cases"]:
        if case["id"] == case_id:
            case = dict(case)
            case["op"] = data["op"]
            return case
    raise KeyError(f"{path}: no case {case_id}")
