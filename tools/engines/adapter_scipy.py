#!/usr/bin/python3
"""SciPy (Debian's python3-scipy) behind lmr-run.

    /usr/bin/python3 tools/engines/adapter_scipy.py --class fp64|fp32

Each case's inputs, converted to the class's dtype (float64 or float32),
go to SciPy's own functions; what they return is answered "ok", what they
raise is "rejected"; ops SciPy has no function for are left out of the
hello (the runner reports them as unsupported).

The spec's op and SciPy's:
    softmax, log_softmax   scipy.special.softmax / log_softmax(logits / tau, axis=-1)
    cross_entropy          scipy.special.logsumexp(logits, axis=-1) - logits[t, c_t]
                           (the target's logit picked by NumPy indexing; an
                           ignored row contributes 0 and is not counted)
    head_tied              scipy.linalg.blas dgemm / sgemm(1, h, E, trans_b=True)
    head_untied            gemm(1, h, W, beta=1, c=b broadcast to n x |V|) (no b: gemm(1, h, W))
    embed_onehot           gemm(1, onehot, E)
    head_transformed       gemm(1, gemm(1, h, T), E, trans_b=True)
SciPy has no layer normalisation (scipy.stats.zscore has no epsilon), no
sampler taking a given uniform number, no top-k, no embedding lookup.
"""
import json
import math
import os
import sys

import numpy as np
import scipy
import scipy.linalg.blas as blas
import scipy.special

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
import recipe  # noqa: E402  (generated inputs, spec/format.md)

np.seterr(all="ignore")

OPS_JSON = os.path.join(HERE, "..", "common", "ops.json")
DEFAULTS = {op["name"]: {p["name"]: p["default"] for p in op["params"]}
            for op in json.load(open(OPS_JSON))["ops"]}
SPECIAL = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan, "-0": -0.0}

T = np.float64   # the class's dtype, set in main()
GEMM = blas.dgemm


class Unsupported(Exception):
    pass


# ------------------------------------------------------------- plumbing --

def number(v):
    return SPECIAL[v] if isinstance(v, str) and v in SPECIAL else v


def param(req, name):
    """The request's value of a param, else the op's default (ops.json)."""
    params = req.get("params") or {}
    if name in params:
        return number(params[name])
    return DEFAULTS[req["op"]].get(name)


def real(req, name):
    """A real input in the class's dtype, or None when absent."""
    obj = req["inputs"].get(name)
    if obj is None:
        return None
    if "generator" in obj:
        values = recipe.regenerate(obj)
    else:
        values = np.array([number(v) for v in obj["data"]], dtype=np.float64)
    return values.reshape(obj["shape"]).astype(T)


def integers(req, name):
    obj = req["inputs"][name]
    return np.array(obj["data"], dtype=np.int64).reshape(obj["shape"])


def encode(x):
    if x != x:
        return "nan"
    if x in (math.inf, -math.inf):
        return "inf" if x > 0 else "-inf"
    if x == 0.0 and math.copysign(1.0, x) < 0:
        return "-0"
    return x


def output(a):
    a = np.asarray(a)
    return {"shape": list(a.shape), "data": [encode(x) for x in a.astype(np.float64).ravel().tolist()]}


# ------------------------------------------------------------------ ops --

def op_softmax(req):
    z = real(req, "logits") / T(param(req, "tau"))
    return {"probs": output(scipy.special.softmax(z, axis=-1))}


def op_log_softmax(req):
    z = real(req, "logits") / T(param(req, "tau"))
    return {"logprobs": output(scipy.special.log_softmax(z, axis=-1))}


def op_cross_entropy(req):
    logits = real(req, "logits")
    targets = integers(req, "targets")
    counted = targets != param(req, "ignore_index")
    rows = np.arange(logits.shape[0])
    picked = logits[rows, np.where(counted, targets, 0)]
    losses = np.where(counted, scipy.special.logsumexp(logits, axis=-1) - picked, T(0))
    reduction = param(req, "reduction")
    if reduction == "none":
        return {"loss": output(losses)}
    if reduction == "sum":
        return {"loss": output(np.sum(losses, dtype=T))}
    if reduction == "mean":
        return {"loss": output(np.sum(losses, dtype=T) / T(np.count_nonzero(counted)))}
    raise Unsupported("no SciPy function for reduction %r" % reduction)


def op_head_tied(req):
    return {"logits": output(GEMM(1.0, real(req, "h"), real(req, "E"), trans_b=True))}


def op_head_untied(req):
    h, W, b = real(req, "h"), real(req, "W"), real(req, "b")
    if b is None:
        return {"logits": output(GEMM(1.0, h, W))}
    c = np.array(np.broadcast_to(b, (h.shape[0], W.shape[1])), order="F")
    return {"logits": output(GEMM(1.0, h, W, beta=1.0, c=c))}


def op_embed_onehot(req):
    return {"Y": output(GEMM(1.0, real(req, "onehot"), real(req, "E")))}


def op_head_transformed(req):
    hT = GEMM(1.0, real(req, "h"), real(req, "T"))
    return {"logits": output(GEMM(1.0, hT, real(req, "E"), trans_b=True))}


OPS = {name[3:]: fn for name, fn in globals().items() if name.startswith("op_")}


# -------------------------------------------------------- conversation --

def respond(req):
    try:
        return {"id": req["id"], "status": "ok", "outputs": OPS[req["op"]](req)}
    except Unsupported as e:
        return {"id": req["id"], "status": "unsupported", "reason": str(e)}
    except Exception as e:  # what SciPy (or NumPy under it) raises
        return {"id": req["id"], "status": "rejected", "reason": "%s: %s" % (type(e).__name__, e)}


def main(argv):
    global T, GEMM
    if len(argv) != 2 or argv[0] != "--class" or argv[1] not in ("fp64", "fp32"):
        print("usage: adapter_scipy.py --class fp64|fp32", file=sys.stderr)
        return 2
    klass = argv[1]
    T, GEMM = (np.float64, blas.dgemm) if klass == "fp64" else (np.float32, blas.sgemm)
    hello = {"protocol": 1, "name": "scipy-%s-%s" % (scipy.__version__, klass),
             "class": klass, "ops": sorted(OPS)}
    sys.stdout.write(json.dumps(hello) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        if line.strip():
            sys.stdout.write(json.dumps(respond(json.loads(line)), allow_nan=False) + "\n")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
