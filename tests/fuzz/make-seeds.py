#!/usr/bin/python3
"""make-seeds.py -- writes the seed corpora of the fuzz harnesses
(tests/fuzz/corpus/NAME/) from the vector files and the malformed fixtures.
Run from the top of the tree after a change to a harness's input format or
to the vectors: the seeds are committed, and tests/fuzz_seeds.py (in make
test) fails while they differ from what this script writes. An optional
argument names another corpus directory to write (the test uses one).

  vecio      the malformed fixtures, two crafted files, and one in eight
             of the one-case files
  reference  one-case files cut from every vector file (a valid and an
             invalid case of each, when small)
  response   for the cases fuzz_response.c loads, in its order: three
             header bytes (case, class, stderr length) and a response
             line, mostly correct (one case in three), a few broken
  cli        lmr command lines, arguments separated by NUL bytes
"""
import glob
import json
import os
import shutil
import sys

CORPUS = "tests/fuzz/corpus"
MAX_SEED = 2500
RESPONSE_FILES = ["argmax", "param_count", "embed_lookup", "tied_lm",
                  "cross_entropy"]


def fresh(name):
    """The seed directory of a harness, emptied of every seed but the inputs
    that once crashed it (crash-*), which stay as regressions."""
    path = os.path.join(CORPUS, name)
    os.makedirs(path, exist_ok=True)
    for seed in os.listdir(path):
        if not seed.startswith("crash-"):
            os.remove(os.path.join(path, seed))
    return path


def one_case_files():
    """(name, text) of small one-case files cut from each vector file."""
    for path in sorted(glob.glob("vectors/*.json")):
        document = json.load(open(path))
        for result in ("valid", "invalid"):
            case = next((c for c in document["cases"] if c["result"] == result
                         and len(json.dumps(c)) < MAX_SEED), None)
            if case is None:
                continue
            cut = dict(document, cases=[case], number_of_cases=1)
            stem = os.path.basename(path)[:-5]
            yield f"{stem}-{result}.json", json.dumps(cut, separators=(",", ":"))


def write(directory, name, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(directory, name), mode) as stream:
        stream.write(data)


def vecio_and_reference():
    vecio, reference = fresh("vecio"), fresh("reference")
    for path in sorted(glob.glob("tests/malformed/*.json")) + [
            "tests/data/lookup-without-ids.json", "tests/data/tied-int-share.json"]:
        shutil.copy(path, vecio)
    for number, (name, text) in enumerate(one_case_files()):
        if number % 8 == 0:
            write(vecio, name, text)
        write(reference, name, text)


def response_lines(case):
    """A correct response to the case, and broken ones."""
    if case["result"] == "invalid":
        yield {"id": case["id"], "status": "rejected", "reason": case["error"]}
        yield {"id": case["id"], "status": "ok", "outputs": {"Y": {"shape": [1], "data": [0.5]}}}
        return
    outputs = {k: {"shape": v["shape"], "data": v["data"]} for k, v in case["expected"].items()}
    yield {"id": case["id"], "status": "ok", "outputs": outputs}
    if all(len(v["data"]) == 1 for v in outputs.values()):
        yield {"id": case["id"], "status": "ok", "outputs":
               {k: {"shape": [], "data": v["data"][0]} for k, v in outputs.items()}}


def response():
    directory = fresh("response")
    index = 0
    for stem in RESPONSE_FILES:
        for case in json.load(open(f"vectors/{stem}.json"))["cases"]:
            for variant, line in enumerate(response_lines(case)):
                text = json.dumps(line, separators=(",", ":")).encode()
                if len(text) < MAX_SEED and index % 3 == 0:
                    header = bytes([index % 256, variant % 4, 0])
                    write(directory, f"{index:03d}-{variant}", header + text)
            index += 1
    write(directory, "big-numbers", bytes([0, 1, 4]) + b"oops" +
          b'{"id":"argmax/exact-tie","status":"ok","outputs":{"token":'
          b'{"shape":[1],"data":[18446744073709551616]}},"x":1e400}')
    write(directory, "not-utf8", bytes([1, 0, 2]) + b"\xff\xfe" + b"\xc3 not json")


def cli():
    directory = fresh("cli")
    lines = [
        ["softmax", "--logits", "[[1, 2, 3]]", "--tau", "0.5"],
        ["log_softmax", "--logits", "[[1e300, \"-inf\", 0]]"],
        ["embed_lookup", "--E", "[[1, 2], [3, 4]]", "--ids", "[1, 0]"],
        ["cross_entropy", "--logits", "[[1, 2], [3, 4]]", "--targets", "[0, 1]",
         "--reduction", "mean"],
        ["layernorm", "--x", "[[1, 2, 3]]", "--gamma", "[1, 1, 1]", "--beta",
         "[0, 0, 0]", "--explain"],
        ["pos_sinusoid", "--positions", "[0, 1]", "--d", "4"],
        ["sample", "--logits", "[[1, 2, 3]]", "--r", "[0.5]", "--top_k", "2"],
        ["tied_lm", "--explain"],
        ["--list"],
        ["--case", "tests/data/lookup-without-ids.json"],
        ["--case", "vectors/argmax.json", "--id", "argmax/exact-tie", "--explain"],
    ]
    for number, arguments in enumerate(lines):
        write(directory, f"{number:02d}", "\0".join(arguments).encode())


if __name__ == "__main__":
    if len(sys.argv) > 1:
        CORPUS = sys.argv[1]
    vecio_and_reference()
    response()
    cli()
