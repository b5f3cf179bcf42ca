#!/usr/bin/python3
"""NumPy testee for lmr-run (spec/protocol.md).

    /usr/bin/python3 tools/testees/testee_numpy.py --class fp64|fp32 [--mutant NAME]
    /usr/bin/python3 tools/testees/testee_numpy.py --list-mutants

Every op of spec/ in NumPy: inputs are converted to the class's dtype on
arrival (float64 or float32), every operation runs in that dtype, outputs are
written back as the exact values of that dtype.  Written from the spec text
only (not from ref/ or the oracle), so that it is an independent witness.

--mutant NAME switches on one deliberate, realistic bug (see MUTANTS and the
"Mutants" section of spec/protocol.md); the runner must fail at least one
case for each.
"""
import json
import math
import os
import sys
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))  # recipe.py
import recipe  # noqa: E402

np.seterr(all="ignore")

# ---------------------------------------------------------------- mutants --

MUTANTS = {
    "softmax-no-max": "softmax/log-softmax/cross-entropy as exp(u/tau)/sum exp(u/tau), no max subtraction (overflows)",
    "sinusoid-concat": "sinusoid columns as concatenated halves [sin | cos] instead of interleaved",
    "positions-from-one": "sinusoid positions counted from 1 (row p holds PE(p+1))",
    "sinusoid-d-minus-1": "sinusoid frequency b^(-2i/(d-1)) instead of b^(-2i/d)",
    "ln-unbiased-var": "LayerNorm variance divided by d-1 (unbiased) instead of d",
    "ln-eps-outside": "LayerNorm 1/(sqrt(var)+eps) instead of 1/sqrt(var+eps)",
    "ln-rms": "LayerNorm without the mean subtraction (RMSNorm)",
    "ln-one-pass": "LayerNorm variance by the one-pass formula E[x^2] - mu^2",
    "temperature-multiply": "temperature multiplied instead of divided: z = (u - a) * tau",
    "untied-no-transpose": "untied head reads the d x |V| buffer of W as a |V| x d nn.Linear weight",
    "partial-off-by-one": "partial tying shares the first k+1 tokens (1-based slice read as inclusive)",
    "adaptive-swapped": "adaptive head with alpha and 1-alpha swapped",
    "adaptive-unchecked": "adaptive head accepts alpha outside [0, 1] (extrapolates)",
    "mos-unnormalised": "mixture of softmaxes with the fixed weights not normalised",
    "ce-mean-over-all": "cross-entropy mean divides by n, ignored positions included",
    "ce-all-ignored-zero": "cross-entropy mean returns 0 when every target is ignored",
    "topk-tie-highest": "top-k (and lens ranking) breaks ties by highest index",
    "topk-keep-ties": "top-k keeps every token tied with the k-th (Hugging Face TopKLogitsWarper)",
    "topp-strict": "top-p keeps the shortest prefix with cumulative probability > top_p (not >=)",
    "topp-before-temperature": "top-p computed on softmax(u), before the temperature",
    "cdf-sorted-order": "inverse CDF walks the tokens in sorted (decreasing logit) order",
    "cdf-le": "inverse CDF picks the smallest i with r <= C_i (not r < C_i)",
    "argmax-last-tie": "argmax returns the highest index among tied maxima",
    "position-wraparound": "learned position p >= L read as row p mod L instead of an error",
    "lookup-clamp": "token ids clamped to [0, |V|-1] instead of rejected",
    "lookup-unread-nan": "non-finite entries checked only in the rows read",
    "onehot-unchecked": "one-hot product computed without checking the matrix is one-hot",
    "log-softmax-via-log": "log_softmax computed as log(softmax) (underflows to -inf)",
    "missing-sqrt-d": "composite input ignores scale_by_sqrt_d",
    "soft-tie-half": "soft-tying penalty with a factor 1/2",
    "lens-last-layer-stats": "logit lens normalises every layer with the last layer's LayerNorm statistics",
    "all-masked-uniform": "a row of only -inf gives a uniform distribution instead of an error",
    # gradients (spec/gradients.md)
    "tied-one-path-output": "tied_lm: dE only from the head (the lookup's share dropped: dE = dE_output)",
    "tied-copy": "tied_lm ties by copying E into the head, whose gradient lands on the copy: dE = dE_input",
    "ce-mean-no-1-over-n": "cross-entropy backward (and tied_lm) with reduction mean misses the factor 1/m",
    "ce-ignored-counted": "cross-entropy backward mean divides by n, ignored rows counted in m",
    "ln-backward-unbiased": "LayerNorm backward uses the unbiased variance 1/(d-1) (the forward the biased one)",
    "scatter-overwrite": "lookup backward (tokens, learned positions, tied_lm) overwrites repeated ids instead of adding",
    "softmax-dtau-sign": "softmax and log-softmax backward return dtau with the wrong sign",
    "mlp-relu-grad-at-zero-one": "MLP head backward takes ReLU's derivative as 1 at a = 0 (a >= 0 instead of a > 0)",
    "adaptive-dalpha-missing-f": "adaptive head dalpha = sum dU * (h E^T), the -h F term forgotten",
    "mos-fixed-alpha-unnormalised": "mixture dalpha = dL/d(abar) = c_i, the normalisation's Jacobian (c_i - sum abar c)/A ignored",
}

MUT = None


def mut(name):
    assert name in MUTANTS, name
    return MUT == name


# ------------------------------------------------------------- plumbing --


class Reject(Exception):
    pass


class Unsupported(Exception):
    pass


T = np.float64  # the class's dtype, set in main()

SPECIAL = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan, "-0": -0.0}


def num(v):
    if isinstance(v, bool):
        raise Reject("boolean where a number is expected")
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str) and v in SPECIAL:
        return SPECIAL[v]
    raise Reject("not a number: %r" % (v,))


def read_array(obj):
    """-> (float64 or int64 ndarray of the given shape)."""
    shape = tuple(int(s) for s in obj["shape"])
    dtype = obj.get("dtype", "float64")
    if "generator" in obj:
        return recipe.regenerate(obj)
    data = obj["data"]
    if dtype == "int64":
        try:
            a = np.array(data, dtype=np.int64)
        except OverflowError:
            raise Reject("integer outside int64")
    else:
        try:
            a = np.array(data, dtype=np.float64)
        except (ValueError, TypeError):
            a = np.array([num(v) for v in data], dtype=np.float64)
    return a.reshape(shape)


class Case:
    def __init__(self, req):
        self.params = req.get("params", {}) or {}
        self.raw = req.get("inputs", {}) or {}
        self._cache = {}

    def has(self, name):
        return name in self.raw

    def f(self, name, ndim=None, optional=False):
        """A real input: finite-checked in double, then converted to the class dtype."""
        if name not in self.raw:
            if optional:
                return None
            raise Reject("missing input %s" % name)
        a = read_array(self.raw[name])
        if ndim is not None and a.ndim != ndim:
            raise Reject("%s must have %d dimensions" % (name, ndim))
        if a.dtype != np.float64:
            a = a.astype(np.float64)
        return a

    def i(self, name, ndim=1):
        if name not in self.raw:
            raise Reject("missing input %s" % name)
        obj = self.raw[name]
        if obj.get("dtype") not in (None, "int64"):
            raise Reject("%s must be int64" % name)
        a = read_array(obj)
        if a.ndim != ndim:
            raise Reject("%s must have %d dimensions" % (name, ndim))
        return a.astype(np.int64)

    def pf(self, name, default=None):
        if name not in self.params:
            if default is None:
                raise Reject("missing parameter %s" % name)
            return float(default)
        return num(self.params[name])

    def pi(self, name, default=None):
        if name not in self.params:
            if default is None:
                raise Reject("missing parameter %s" % name)
            return default
        v = self.params[name]
        if isinstance(v, bool) or not isinstance(v, int):
            raise Reject("parameter %s must be an integer" % name)
        return v

    def pb(self, name, default=False):
        v = self.params.get(name, default)
        if not isinstance(v, bool):
            raise Reject("parameter %s must be a boolean" % name)
        return v

    def ps(self, name, default):
        v = self.params.get(name, default)
        if not isinstance(v, str):
            raise Reject("parameter %s must be a string" % name)
        return v


def finite(a, what):
    if a is not None and a.size and not np.all(np.isfinite(a)):
        raise Reject("non-finite entry in %s" % what)


def cls(a):
    """Convert a double array to the class dtype."""
    return np.asarray(a, dtype=np.float64).astype(T)


def out_f(a):
    a = np.asarray(a)
    flat = a.astype(np.float64).ravel().tolist()
    data = []
    for x in flat:
        if x != x:
            data.append("nan")
        elif x == math.inf:
            data.append("inf")
        elif x == -math.inf:
            data.append("-inf")
        elif x == 0.0 and math.copysign(1.0, x) < 0:
            data.append("-0")
        else:
            data.append(x)
    return {"shape": list(a.shape), "data": data}


def out_i(a):
    a = np.asarray(a, dtype=np.int64)
    return {"shape": list(a.shape), "data": [int(x) for x in a.ravel().tolist()]}


# ------------------------------------------------------------ input side --

SIN_MAX_POS = 2 ** 53


def check_table(E, what):
    if E.shape[0] < 1 or E.shape[1] < 1:
        raise Reject("%s has a zero size" % what)


def op_embed_lookup(c):
    E = c.f("E", 2)
    ids = c.i("ids")
    check_table(E, "E")
    V = E.shape[0]
    if mut("lookup-unread-nan"):
        ok = ids[(ids >= 0) & (ids < V)]
        finite(E[ok], "E")
    else:
        finite(E, "E")
    if mut("lookup-clamp"):
        ids = np.clip(ids, 0, V - 1)
    elif np.any(ids < 0) or np.any(ids >= V):
        raise Reject("token id out of range")
    Ec = cls(E)
    return {"Y": out_f(Ec[ids].reshape(len(ids), E.shape[1]))}


def op_embed_onehot(c):
    O = c.f("onehot", 2)
    E = c.f("E", 2)
    check_table(E, "E")
    finite(E, "E")
    if O.shape[1] != E.shape[0]:
        raise Reject("one-hot width differs from |V|")
    if not mut("onehot-unchecked"):
        if not np.all((O == 0.0) | (O == 1.0)):
            raise Reject("entry other than 0 or 1")
        if O.shape[0] and not np.all(np.sum(O == 1.0, axis=1) == 1):
            raise Reject("row without exactly one 1")
    Y = cls(O) @ cls(E)
    return {"Y": out_f(Y)}


def op_pos_learned(c):
    P = c.f("P", 2)
    pos = c.i("positions")
    check_table(P, "P")
    finite(P, "P")
    L = P.shape[0]
    if np.any(pos < 0):
        raise Reject("negative position")
    if np.any(pos >= L):
        if mut("position-wraparound"):
            pos = pos % L
        else:
            raise Reject("position past the table")
    return {"Y": out_f(cls(P)[pos].reshape(len(pos), P.shape[1]))}


def sinusoid(pos, d, base):
    """PE rows for the int64 positions, computed in the class dtype."""
    n = len(pos)
    if mut("positions-from-one"):
        pos = pos + 1
    npairs = (d + 1) // 2
    i2 = (2 * np.arange(npairs)).astype(T)
    denom = T(d - 1) if mut("sinusoid-d-minus-1") else T(d)
    omega = np.exp(i2 * (-np.log(T(base)) / denom))          # b^(-2i/d)
    theta = pos.astype(T)[:, None] * omega[None, :]          # n x npairs
    Y = np.empty((n, d), dtype=T)
    if mut("sinusoid-concat"):
        h = (d + 1) // 2
        Y[:, :h] = np.sin(theta)
        Y[:, h:] = np.cos(theta[:, : d - h])
    else:
        Y[:, 0::2] = np.sin(theta)
        Y[:, 1::2] = np.cos(theta[:, : d // 2])
    return Y


def check_base(base):
    if not math.isfinite(base):
        raise Reject("base not finite")
    if base <= 1.0:
        raise Reject("base <= 1")


def op_pos_sinusoid(c):
    d = c.pi("d")
    base = c.pf("base", 10000.0)
    pos = c.i("positions")
    if d < 1:
        raise Reject("d = 0")
    check_base(base)
    if np.any(pos < 0) or np.any(pos > SIN_MAX_POS):
        raise Reject("position out of range")
    return {"Y": out_f(sinusoid(pos, d, base))}


def compose(c):
    """Validated composite X in the class dtype."""
    E = c.f("E", 2)
    ids = c.i("ids")
    kind = c.ps("positions", None) if "positions" in c.params else None
    if kind is None:
        raise Reject("missing positions kind")
    start = c.pi("start", 0)
    scale = c.pb("scale_by_sqrt_d", False)
    check_table(E, "E")
    finite(E, "E")
    V, d = E.shape
    n = len(ids)
    if np.any(ids < 0) or np.any(ids >= V):
        raise Reject("token id out of range")
    if start < 0:
        raise Reject("negative start")
    if kind == "learned":
        P = c.f("P", 2)
        check_table(P, "P")
        if P.shape[1] != d:
            raise Reject("P and E widths differ")
        finite(P, "P")
        if start + n > P.shape[0]:
            if mut("position-wraparound"):
                pass
            else:
                raise Reject("positions run past the table")
        pos = np.arange(start, start + n, dtype=np.int64)
        if mut("position-wraparound"):
            pos = pos % P.shape[0]
        Pt = cls(P)[pos]
    elif kind == "sinusoid":
        base = c.pf("base", 10000.0)
        check_base(base)
        if n and start + n - 1 > SIN_MAX_POS:
            raise Reject("position out of range")
        Pt = sinusoid(np.arange(start, start + n, dtype=np.int64), d, base)
    else:
        raise Reject("unknown positions kind %r" % kind)
    tok = cls(E)[ids].reshape(n, d)
    if scale and not mut("missing-sqrt-d"):
        tok = np.sqrt(T(d)) * tok
    return tok + Pt


def op_compose(c):
    return {"Y": out_f(compose(c))}


def ln_params(c, d, eps_name="eps"):
    g = c.f("gamma", 1)
    b = c.f("beta", 1)
    eps = c.pf(eps_name, 1e-5)
    if g.shape[0] != d or b.shape[0] != d:
        raise Reject("gamma/beta length differs from d")
    finite(g, "gamma")
    finite(b, "beta")
    if not math.isfinite(eps):
        raise Reject("eps not finite")
    if eps <= 0:
        raise Reject("eps <= 0")
    return cls(g), cls(b), T(eps)


def ln_stats(x, eps):
    """Mean and 1/sqrt(var + eps) per row (last axis) in the class dtype."""
    d = x.shape[-1]
    if mut("ln-rms"):
        mu = np.zeros(x.shape[:-1], dtype=T)
    else:
        mu = np.mean(x, axis=-1, dtype=T)
    if mut("ln-one-pass"):
        var = np.mean(x * x, axis=-1, dtype=T) - mu * mu
    else:
        dev = x - mu[..., None]
        ss = np.sum(dev * dev, axis=-1, dtype=T)
        var = ss / T(d - 1) if mut("ln-unbiased-var") else ss / T(d)
    if mut("ln-eps-outside"):
        r = T(1) / (np.sqrt(var) + eps)
    else:
        r = T(1) / np.sqrt(var + eps)
    return mu, r


def layernorm(x, g, b, eps, stats=None):
    mu, r = ln_stats(x, eps) if stats is None else stats
    z = (x - mu[..., None]) * r[..., None]
    return g * z + b


def op_layernorm(c):
    x = c.f("x", 2)
    d = x.shape[1]
    if d < 1:
        raise Reject("d = 0")
    finite(x, "x")
    g, b, eps = ln_params(c, d)
    return {"Y": out_f(layernorm(cls(x), g, b, eps))}


def op_compose_layernorm(c):
    E = c.f("E", 2)
    d = E.shape[1]
    g, b, eps = ln_params(c, d)
    X = compose(c)
    if not np.all(np.isfinite(X)):
        raise Reject("composite overflowed")
    return {"Y": out_f(layernorm(X, g, b, eps))}


# ------------------------------------------------------------------ heads --


def read_head_tied(c):
    """The validated inputs of head_tied (shared with the PyTorch testee)."""
    h = c.f("h", 2)
    E = c.f("E", 2)
    check_table(E, "E")
    if h.shape[1] != E.shape[1]:
        raise Reject("h and E widths differ")
    finite(h, "h")
    finite(E, "E")
    return h, E


def op_head_tied(c):
    h, E = read_head_tied(c)
    return {"logits": out_f(cls(h) @ cls(E).T)}


def read_head_untied(c):
    """The validated inputs of head_untied (shared with the PyTorch testee)."""
    h = c.f("h", 2)
    W = c.f("W", 2)
    b = c.f("b", 1, optional=True)
    d, V = W.shape
    if d < 1 or V < 1:
        raise Reject("zero size")
    if h.shape[1] != d:
        raise Reject("h and W widths differ")
    if b is not None and b.shape[0] != V:
        raise Reject("b length differs from |V|")
    finite(h, "h")
    finite(W, "W")
    finite(b, "b")
    return h, W, b, d, V


def op_head_untied(c):
    h, W, b, d, V = read_head_untied(c)
    if mut("untied-no-transpose"):
        Wc = cls(W).reshape(V, d).T          # the buffer read as nn.Linear's |V| x d weight
    else:
        Wc = cls(W)
    u = cls(h) @ Wc
    if b is not None:
        u = u + cls(b)
    return {"logits": out_f(u)}


# ---------------------------------------------------------------- softmax --


def check_logits(u):
    if u.ndim != 2:
        raise Reject("logits must be n x |V|")
    if u.shape[1] < 1:
        raise Reject("|V| = 0")
    if np.any(np.isnan(u)) or np.any(u == math.inf):
        raise Reject("NaN or +inf logit")
    if u.shape[0] and not mut("all-masked-uniform"):
        if not np.all(np.any(np.isfinite(u), axis=1)):
            raise Reject("a row of only -inf")


def check_tau(tau):
    if not math.isfinite(tau):
        raise Reject("tau not finite")
    if tau <= 0:
        raise Reject("tau <= 0")


def scaled(u, tau):
    """z = (u - a)/tau in the class dtype, a the row maximum."""
    if mut("all-masked-uniform"):
        u = np.where(np.all(u == -math.inf, axis=1, keepdims=True), T(0), u)
    if mut("softmax-no-max"):
        a = np.zeros((u.shape[0], 1), dtype=T)
    else:
        a = np.max(u, axis=1, keepdims=True)
    if mut("temperature-multiply"):
        return (u - a) * T(tau)
    return (u - a) / T(tau)


def softmax(u, tau=1.0):
    z = scaled(u, tau)
    e = np.exp(z)
    return e / np.sum(e, axis=1, keepdims=True)


def log_softmax(u, tau=1.0):
    if mut("log-softmax-via-log"):
        return np.log(softmax(u, tau))
    z = scaled(u, tau)
    return z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))


def op_softmax(c):
    u = c.f("logits")
    tau = c.pf("tau", 1.0)
    check_tau(tau)
    check_logits(u)
    return {"probs": out_f(softmax(cls(u), tau))}


def op_log_softmax(c):
    u = c.f("logits")
    tau = c.pf("tau", 1.0)
    check_tau(tau)
    check_logits(u)
    return {"logprobs": out_f(log_softmax(cls(u), tau))}


def ce_check(c, n, V):
    tg = c.i("targets")
    red = c.ps("reduction", "mean")
    ig = c.pi("ignore_index", -100)
    if red not in ("none", "sum", "mean"):
        raise Reject("unknown reduction %r" % red)
    if len(tg) != n:
        raise Reject("targets length differs from n")
    if 0 <= ig < V:
        raise Reject("ignore_index inside [0, |V|)")
    counted = tg != ig
    if np.any(counted & ((tg < 0) | (tg >= V))):
        raise Reject("target out of range")
    return tg, red, counted


def cross_entropy(u, tg, red, counted):
    n = u.shape[0]
    lp = log_softmax(u, 1.0)
    loss = np.zeros(n, dtype=T)
    rows = np.nonzero(counted)[0]
    loss[rows] = -lp[rows, tg[rows]]
    if red == "none":
        return loss
    s = np.sum(loss, dtype=T) if n else T(0)
    if red == "sum":
        return np.array([s], dtype=T)
    m = n if mut("ce-mean-over-all") else int(np.count_nonzero(counted))
    if m == 0:
        if mut("ce-all-ignored-zero"):
            return np.array([0.0], dtype=T)
        return np.array([math.nan], dtype=T)
    return np.array([s / T(m)], dtype=T)


def op_cross_entropy(c):
    u = c.f("logits")
    check_logits(u)
    tg, red, counted = ce_check(c, u.shape[0], u.shape[1])
    return {"loss": out_f(cross_entropy(cls(u), tg, red, counted))}


# --------------------------------------------------------------- sampling --


def op_argmax(c):
    u = c.f("logits")
    check_logits(u)
    uc = cls(u)
    if mut("argmax-last-tie"):
        V = uc.shape[1]
        tok = V - 1 - np.argmax(uc[:, ::-1], axis=1)
    else:
        tok = np.argmax(uc, axis=1)
    return {"token": out_i(tok)}


def rank_order(row):
    """Indices by decreasing logit, ties by increasing index."""
    idx = np.arange(row.shape[0])
    if mut("topk-tie-highest"):
        return np.lexsort((-idx, -row))
    return np.lexsort((idx, -row))


def read_sample(c):
    """The validated inputs of sample (shared with the PyTorch testee)."""
    u = c.f("logits")
    r = c.f("r", 1)
    tau = c.pf("tau", 1.0)
    k = c.pi("top_k", 0)
    top_p = c.pf("top_p", 1.0)
    check_tau(tau)
    if k < 0:
        raise Reject("top_k < 0")
    if not math.isfinite(top_p):
        raise Reject("top_p not finite")
    if not (0.0 < top_p <= 1.0):
        raise Reject("top_p outside (0, 1]")
    if not np.all(np.isfinite(r)):
        raise Reject("r not finite")
    if np.any(r < 0) or np.any(r >= 1):
        raise Reject("r outside [0, 1)")
    check_logits(u)
    if len(r) != u.shape[0]:
        raise Reject("r length differs from n")
    return u, r, tau, k, top_p


def op_sample(c):
    u, r, tau, k, top_p = read_sample(c)
    uc = cls(u)
    rc = cls(r)
    n, V = uc.shape
    p_all = softmax(uc, tau)
    p_plain = softmax(uc, 1.0) if mut("topp-before-temperature") else p_all
    probs = np.zeros((n, V), dtype=T)
    tokens = np.zeros(n, dtype=np.int64)
    for t in range(n):
        row = uc[t]
        order = rank_order(row)
        order = order[np.isfinite(row[order])]              # unmasked tokens only
        if k >= 1:
            if mut("topk-keep-ties") and k <= len(order):
                kth = row[order[k - 1]]
                order = order[row[order] >= kth]
            else:
                order = order[:k]
        if top_p < 1.0:
            pk = p_plain[t, order]
            pk = pk / np.sum(pk, dtype=T)
            cum = np.cumsum(pk, dtype=T)
            if mut("topp-strict"):
                hit = np.nonzero(cum > T(top_p))[0]
            else:
                hit = np.nonzero(cum >= T(top_p))[0]
            m = hit[0] + 1 if len(hit) else len(order)
            order = order[:m]
        kept = np.zeros(V, dtype=bool)
        kept[order] = True
        q = np.where(kept, p_all[t], T(0))
        q = q / np.sum(q, dtype=T)
        probs[t] = q
        walk = order if mut("cdf-sorted-order") else np.nonzero(kept)[0]
        C = np.cumsum(q[walk], dtype=T)
        if mut("cdf-le"):
            hit = np.nonzero(rc[t] <= C)[0]
        else:
            hit = np.nonzero(rc[t] < C)[0]
        tokens[t] = walk[hit[0]] if len(hit) else walk[-1]
    return {"probs": out_f(probs), "token": out_i(tokens)}


# ------------------------------------------------------------- logit lens --


def read_logit_lens(c):
    """The validated inputs of logit_lens (shared with the PyTorch testee)."""
    H = c.f("hidden", 3)
    E = c.f("E", 2)
    k = c.pi("k")
    fl = c.pb("final_layernorm", False)
    L, n, d = H.shape
    check_table(E, "E")
    if L < 1 or d < 1:
        raise Reject("zero size")
    if E.shape[1] != d:
        raise Reject("hidden and E widths differ")
    V = E.shape[0]
    if k < 1 or k > V:
        raise Reject("k outside [1, |V|]")
    finite(H, "hidden")
    finite(E, "E")
    return H, E, k, fl, L, n, d, V


def op_logit_lens(c):
    H, E, k, fl, L, n, d, V = read_logit_lens(c)
    X = cls(H)
    if fl:
        g, b, eps = ln_params(c, d)
        if mut("lens-last-layer-stats"):
            mu, r = ln_stats(X[L - 1], eps)
            X = np.stack([layernorm(X[l], g, b, eps, (mu, r)) for l in range(L)])
        else:
            X = layernorm(X, g, b, eps)
    U = X.reshape(L * n, d) @ cls(E).T
    P = softmax(U, 1.0)
    top = np.array([rank_order(U[i])[:k] for i in range(L * n)], dtype=np.int64).reshape(L * n, k)
    tp = np.take_along_axis(P, top, axis=1) if L * n else np.zeros((0, k), dtype=T)
    return {"probs": out_f(P.reshape(L, n, V)),
            "top_tokens": out_i(top.reshape(L, n, k)),
            "top_probs": out_f(tp.reshape(L, n, k))}


# ---------------------------------------------------------- param counts --

I64_MAX = 2 ** 63 - 1


def op_param_count(c):
    V = c.pi("vocab")
    d = c.pi("d")
    B = c.pi("block_params")
    if V < 1 or d < 1 or B < 0:
        raise Reject("vocab < 1, d < 1 or B < 0")
    emb = V * d
    untied = 2 * emb + B
    if emb > I64_MAX or untied > I64_MAX:
        raise Reject("count overflows int64")
    tied = emb + B
    rel = T(emb) / T(untied)
    return {"untied": out_i([untied]), "tied": out_i([tied]), "saving": out_i([emb]),
            "relative_reduction": out_f(np.array([rel], dtype=T))}


# ---------------------------------------------------------- head variants --


def read_head_partial(c):
    """The validated inputs of head_partial (shared with the PyTorch testee)."""
    h = c.f("h", 2)
    E = c.f("E", 2)
    k = c.pi("k")
    check_table(E, "E")
    V, d = E.shape
    if k < 0 or k > V:
        raise Reject("k outside [0, |V|]")
    F = c.f("F", 2, optional=True)
    if F is None:
        if k != V:
            raise Reject("missing F")
        F = np.zeros((d, 0))
    if F.shape != (d, V - k):
        raise Reject("F not d x (|V| - k)")
    if h.shape[1] != d:
        raise Reject("h and E widths differ")
    finite(h, "h")
    finite(E, "E")
    finite(F, "F")
    return h, E, k, V, d, F


def op_head_partial(c):
    h, E, k, V, d, F = read_head_partial(c)
    hc, Ec, Fc = cls(h), cls(E), cls(F)
    if mut("partial-off-by-one"):
        ks = min(k + 1, V)
        u = np.concatenate([hc @ Ec[:ks].T, hc @ Fc[:, ks - k:]], axis=1)
    else:
        u = np.concatenate([hc @ Ec[:k].T, hc @ Fc], axis=1)
    return {"logits": out_f(u)}


def read_head_transformed(c):
    """The validated inputs of head_transformed (shared with the PyTorch testee)."""
    h = c.f("h", 2)
    Tm = c.f("T", 2)
    E = c.f("E", 2)
    check_table(E, "E")
    d = E.shape[1]
    if Tm.shape != (d, d) or h.shape[1] != d:
        raise Reject("T not d x d or h width differs")
    finite(h, "h")
    finite(Tm, "T")
    finite(E, "E")
    return h, Tm, E, d


def op_head_transformed(c):
    h, Tm, E, d = read_head_transformed(c)
    return {"logits": out_f((cls(h) @ cls(Tm)) @ cls(E).T)}


def read_head_adaptive(c):
    """The validated inputs of head_adaptive (shared with the PyTorch testee)."""
    h = c.f("h", 2)
    E = c.f("E", 2)
    F = c.f("F", 2)
    alpha = c.pf("alpha")
    check_table(E, "E")
    V, d = E.shape
    if F.shape != (d, V) or h.shape[1] != d:
        raise Reject("F not d x |V| or h width differs")
    if not math.isfinite(alpha):
        raise Reject("alpha not finite")
    return h, E, F, alpha, V, d


def op_head_adaptive(c):
    h, E, F, alpha, V, d = read_head_adaptive(c)
    if not mut("adaptive-unchecked") and not (0.0 <= alpha <= 1.0):
        raise Reject("alpha outside [0, 1]")
    finite(h, "h")
    finite(E, "E")
    finite(F, "F")
    a = T(alpha)
    hc = cls(h)
    if mut("adaptive-swapped"):
        u = (T(1) - a) * (hc @ cls(E).T) + a * (hc @ cls(F))
    else:
        u = a * (hc @ cls(E).T) + (T(1) - a) * (hc @ cls(F))
    return {"logits": out_f(u)}


def read_head_mlp(c):
    """The validated inputs of head_mlp (and its backward), in double.

    -> (h, W1, b1, W2, b2, tied); W2 is E^T (m x |V|) in the tied form, and
    b1, b2 are None when absent.
    """
    h = c.f("h", 2)
    W1 = c.f("W1", 2)
    b1 = c.f("b1", 1, optional=True)
    b2 = c.f("b2", 1, optional=True)
    tied = c.pb("tied", False)
    n, d = h.shape
    if d < 1 or W1.shape[0] != d:
        raise Reject("h and W1 widths differ")
    m = W1.shape[1]
    if m < 1:
        raise Reject("m = 0")
    if tied:
        E = c.f("E", 2)
        check_table(E, "E")
        if E.shape[1] != d or m != d:
            raise Reject("tied MLP head needs m = d")
        finite(E, "E")
        W2 = E.T
    else:
        W2 = c.f("W2", 2)
        if W2.shape[0] != m or W2.shape[1] < 1:
            raise Reject("W2 not m x |V|")
        finite(W2, "W2")
    V = W2.shape[1]
    if b1 is not None and b1.shape[0] != m:
        raise Reject("b1 length differs from m")
    if b2 is not None and b2.shape[0] != V:
        raise Reject("b2 length differs from |V|")
    finite(h, "h")
    finite(W1, "W1")
    finite(b1, "b1")
    finite(b2, "b2")
    return h, W1, b1, W2, b2, tied


def op_head_mlp(c):
    h, W1, b1, W2, b2, tied = read_head_mlp(c)
    a = cls(h) @ cls(W1)
    if b1 is not None:
        a = a + cls(b1)
    h1 = np.maximum(a, T(0))
    u = h1 @ cls(W2)
    if b2 is not None:
        u = u + cls(b2)
    return {"logits": out_f(u)}


def mix_log(logw, lps):
    """log sum_k exp(logw_k + lps[k]) with the largest term factored out."""
    t = logw[:, None, None] + lps                      # K x n x V
    m = np.max(t, axis=0)
    m = np.where(np.isfinite(m), m, T(0))
    return m + np.log(np.sum(np.exp(t - m[None]), axis=0))


def read_mos_fixed(c):
    """The validated inputs of mos_fixed (shared with the PyTorch testee)."""
    h = c.f("h", 2)
    W = c.f("W", 3)
    al = c.f("alpha", 1)
    K, d, V = W.shape
    if K < 1 or d < 1 or V < 1 or h.shape[1] != d:
        raise Reject("shape mismatch")
    if al.shape[0] != K:
        raise Reject("alpha length differs from K")
    finite(h, "h")
    finite(W, "W")
    finite(al, "alpha")
    if np.any(al < 0) or not np.any(al > 0):
        raise Reject("negative weight, or all zero")
    return h, W, al, K, V


def op_mos_fixed(c):
    h, W, al, K, V = read_mos_fixed(c)
    alc = cls(al)
    w = alc if mut("mos-unnormalised") else alc / np.sum(alc, dtype=T)
    hc = cls(h)
    Wc = cls(W)
    logits = [hc @ Wc[k] for k in range(K)]
    y = sum(w[k] * softmax(logits[k]) for k in range(K))
    lps = np.stack([log_softmax(logits[k]) for k in range(K)])
    ly = mix_log(np.log(w), lps)
    return {"probs": out_f(y), "logprobs": out_f(ly)}


def read_mos_gated(c):
    """The validated inputs of mos_gated (and its backward), in double.

    -> (h, W_pi, W_comp, b_comp, W_out, b_out, tied); W_out is E^T
    (d x |V|) in the tied form, b_out None when absent.
    """
    h = c.f("h", 2)
    Wpi = c.f("W_pi", 2)
    Wc_ = c.f("W_comp", 3)
    bc = c.f("b_comp", 2)
    tied = c.pb("tied", False)
    bo = c.f("b_out", 1, optional=True)
    n, d = h.shape
    if d < 1 or Wpi.shape[0] != d:
        raise Reject("W_pi not d x K")
    K = Wpi.shape[1]
    if K < 1 or Wc_.shape != (K, d, d) or bc.shape != (K, d):
        raise Reject("component shapes")
    if tied:
        E = c.f("E", 2)
        check_table(E, "E")
        if E.shape[1] != d:
            raise Reject("E width differs")
        finite(E, "E")
        Wo = E.T
    else:
        Wo = c.f("W_out", 2)
        if Wo.shape[0] != d or Wo.shape[1] < 1:
            raise Reject("W_out not d x |V|")
        finite(Wo, "W_out")
    V = Wo.shape[1]
    if bo is not None and bo.shape[0] != V:
        raise Reject("b_out length differs from |V|")
    for a, nm in ((h, "h"), (Wpi, "W_pi"), (Wc_, "W_comp"), (bc, "b_comp"), (bo, "b_out")):
        finite(a, nm)
    return h, Wpi, Wc_, bc, Wo, bo, tied


def op_mos_gated(c):
    h, Wpi, Wc_, bc, Wo, bo, tied = read_mos_gated(c)
    K = Wpi.shape[1]
    Wout = cls(Wo)
    hc = cls(h)
    gate = hc @ cls(Wpi)                             # n x K
    pi = softmax(gate)
    lpi = log_softmax(gate)
    comps, lps = [], []
    for k in range(K):
        g = np.tanh(hc @ cls(Wc_)[k] + cls(bc)[k])
        u = g @ Wout
        if bo is not None:
            u = u + cls(bo)
        comps.append(softmax(u))
        lps.append(log_softmax(u))
    y = sum(pi[:, k:k + 1] * comps[k] for k in range(K))
    t = lpi.T[:, :, None] + np.stack(lps)            # K x n x V
    m = np.max(t, axis=0)
    m = np.where(np.isfinite(m), m, T(0))
    ly = m + np.log(np.sum(np.exp(t - m[None]), axis=0))
    return {"probs": out_f(y), "logprobs": out_f(ly)}


def read_soft_tie_loss(c):
    """The validated inputs of soft_tie_loss (shared with the PyTorch testee)."""
    h = c.f("h", 2)
    E = c.f("E", 2)
    W = c.f("W", 2)
    lam = c.pf("lambda")
    red = c.ps("reduction", "mean")
    if red == "none":
        raise Reject("reduction none is not a scalar")
    check_table(E, "E")
    V, d = E.shape
    if W.shape != (d, V) or h.shape[1] != d:
        raise Reject("W not d x |V| or h width differs")
    if not math.isfinite(lam):
        raise Reject("lambda not finite")
    if lam < 0:
        raise Reject("lambda < 0")
    finite(h, "h")
    finite(E, "E")
    finite(W, "W")
    return h, E, W, lam, red, V, d


def op_soft_tie_loss(c):
    h, E, W, lam, red, V, d = read_soft_tie_loss(c)
    tg, red, counted = ce_check(c, h.shape[0], V)
    u = cls(h) @ cls(W)
    ce = cross_entropy(u, tg, red, counted)[0]
    diff = cls(E) - cls(W).T
    pen = np.sum(diff * diff, dtype=T)
    if mut("soft-tie-half"):
        pen = pen / T(2)
    loss = ce + T(lam) * pen
    return {"loss": out_f(np.array([loss], dtype=T)),
            "cross_entropy": out_f(np.array([ce], dtype=T)),
            "penalty": out_f(np.array([pen], dtype=T))}


# -------------------------------------------------------------- gradients --
#
# The backward ops of spec/gradients.md, computed by hand from the closed
# forms there (no autograd): each op_<op>_backward validates the forward op's
# inputs as the forward op does, then the upstream gradient, then evaluates
# the formulas in the class dtype.


def upstream(c, name, shape):
    """The upstream gradient `name` in the class dtype: must have `shape` and be finite."""
    g = c.f(name)
    if g.shape != tuple(shape):
        raise Reject("%s is %s, not %s" % (name, list(g.shape), list(shape)))
    finite(g, name)
    return cls(g)


def scatter_add(rows, index, nrows):
    """out[v,:] = sum of rows[t,:] over the t with index[t] = v (rows n x d).

    The backward of a table lookup; a row that no index names stays 0.
    """
    out = np.zeros((nrows, rows.shape[1]), dtype=T)
    if mut("scatter-overwrite"):
        for t, v in enumerate(index):
            out[v] = rows[t]                     # keeps only the last occurrence
    else:
        np.add.at(out, index, rows)
    return out


def check_index(index, size, what):
    if np.any(index < 0) or np.any(index >= size):
        raise Reject("%s out of range" % what)


def read_scatter_backward(c, index_name, size_name):
    """(index, dY, size) of a lookup's backward: index n, dY n x d, size >= 1."""
    size = c.pi(size_name)
    index = c.i(index_name)
    if size < 1:
        raise Reject("%s < 1" % size_name)
    dY = c.f("dY", 2)
    if dY.shape[1] < 1:
        raise Reject("d = 0")
    check_index(index, size, index_name)
    dY = upstream(c, "dY", (len(index), dY.shape[1]))
    return index, dY, size


def op_embed_lookup_backward(c):
    ids, dY, V = read_scatter_backward(c, "ids", "vocab")
    return {"dE": out_f(scatter_add(dY, ids, V))}


def op_pos_learned_backward(c):
    pos, dY, L = read_scatter_backward(c, "positions", "max_len")
    return {"dP": out_f(scatter_add(dY, pos, L))}


def layernorm_backward(x, g, eps, dY):
    """-> (dx n x d, dgamma d, dbeta d) of LayerNorm at x (n x d), all in the class dtype."""
    d = x.shape[1]
    mu, r = ln_stats(x, eps)
    z = (x - mu[:, None]) * r[:, None]
    gd = g * dY                                              # g_j = gamma_j dY_j
    gbar = np.sum(gd, axis=1, dtype=T) / T(d)
    # the variance's share; the mutant divides by d - 1 here only
    vshare = T(d - 1) if mut("ln-backward-unbiased") else T(d)
    m = np.sum(gd * z, axis=1, dtype=T) / vshare
    dx = r[:, None] * (gd - gbar[:, None] - z * m[:, None])
    dgamma = np.sum(dY * z, axis=0, dtype=T)
    dbeta = np.sum(dY, axis=0, dtype=T)
    return dx, dgamma, dbeta


def read_layernorm_backward(c):
    """(x, gamma, eps, dY) of layernorm_backward; beta is not an input."""
    x, g, eps = read_layernorm_backward_inputs(c)
    dY = upstream(c, "dY", x.shape)
    return x, g, eps, dY


def read_layernorm_backward_inputs(c):
    """(x, gamma, eps) of layernorm_backward, checked; the upstream gradient
    is read by the caller."""
    x = c.f("x", 2)
    g = c.f("gamma", 1)
    eps = c.pf("eps", 1e-5)
    d = x.shape[1]
    if d < 1:
        raise Reject("d = 0")
    if g.shape[0] != d:
        raise Reject("gamma length differs from d")
    finite(x, "x")
    finite(g, "gamma")
    if not math.isfinite(eps):
        raise Reject("eps not finite")
    if eps <= 0:
        raise Reject("eps <= 0")
    return x, g, eps


def op_layernorm_backward(c):
    x, g, eps, dY = read_layernorm_backward(c)
    dx, dgamma, dbeta = layernorm_backward(cls(x), cls(g), T(eps), dY)
    return {"dx": out_f(dx), "dgamma": out_f(dgamma), "dbeta": out_f(dbeta)}


def op_head_tied_backward(c):
    h, E = read_head_tied(c)
    dU = upstream(c, "dlogits", (h.shape[0], E.shape[0]))
    return {"dh": out_f(dU @ cls(E)), "dE": out_f(dU.T @ cls(h))}


def op_head_untied_backward(c):
    h, W, b, d, V = read_head_untied(c)
    dU = upstream(c, "dlogits", (h.shape[0], V))
    return {"dh": out_f(dU @ cls(W).T), "dW": out_f(cls(h).T @ dU),
            "db": out_f(np.sum(dU, axis=0, dtype=T))}


def dtau_of(dl, zeta):
    """dtau = -sum dlogits * zeta over every unmasked entry of the batch (shape 1)."""
    terms = np.where(np.isfinite(zeta), dl * zeta, T(0))
    s = np.sum(terms, dtype=T)
    return np.array([s if mut("softmax-dtau-sign") else -s], dtype=T)


def read_softmax_backward(c, grad_name):
    """(logits, tau, G) of softmax_backward / log_softmax_backward; G in the class dtype."""
    u = c.f("logits")
    tau = c.pf("tau", 1.0)
    check_tau(tau)
    check_logits(u)
    G = upstream(c, grad_name, u.shape)
    return u, tau, G


def op_softmax_backward(c):
    u, tau, G = read_softmax_backward(c, "dprobs")
    uc = cls(u)
    y = softmax(uc, tau)
    gbar = np.sum(y * G, axis=1, dtype=T)
    dl = y * (G - gbar[:, None]) / T(tau)
    return {"dlogits": out_f(dl), "dtau": out_f(dtau_of(dl, scaled(uc, tau)))}


def op_log_softmax_backward(c):
    u, tau, G = read_softmax_backward(c, "dlogprobs")
    if np.any((u == -math.inf) & (G != 0)):
        raise Reject("nonzero upstream gradient at a masked entry")
    uc = cls(u)
    y = softmax(uc, tau)
    gamma = np.sum(G, axis=1, dtype=T)
    dl = (G - y * gamma[:, None]) / T(tau)
    return {"dlogits": out_f(dl), "dtau": out_f(dtau_of(dl, scaled(uc, tau)))}


def ce_backward(u, tg, red, counted, dloss):
    """dlogits (n x |V|) of cross-entropy from logits u, both in the class dtype.

    dloss holds n entries for reduction "none", 1 otherwise.  Ignored rows get
    0, and so does every row of a mean with no counted row.
    """
    n, V = u.shape
    if red == "none":
        w = dloss
    elif red == "sum":
        w = np.full(n, dloss[0], dtype=T)
    else:
        m = n if mut("ce-ignored-counted") else int(np.count_nonzero(counted))
        if mut("ce-mean-no-1-over-n"):
            w = np.full(n, dloss[0], dtype=T)
        else:
            w = np.full(n, dloss[0] / T(m) if m else T(0), dtype=T)
    y = softmax(u, 1.0)
    rows = np.nonzero(counted)[0]
    target = np.zeros((n, V), dtype=T)
    target[rows, tg[rows]] = T(1)
    return np.where(counted[:, None], w[:, None] * (y - target), T(0))


def check_dloss(c, red, n):
    """The upstream gradient of a loss: n entries for "none", 1 for "sum"/"mean"."""
    return upstream(c, "dloss", (n,) if red == "none" else (1,))


def op_cross_entropy_backward(c):
    u = c.f("logits")
    check_logits(u)
    n = u.shape[0]
    tg, red, counted = ce_check(c, n, u.shape[1])
    rows = np.nonzero(counted)[0]
    if np.any(u[rows, tg[rows]] == -math.inf):
        raise Reject("a counted target has a -inf logit")
    dloss = check_dloss(c, red, n)
    return {"dlogits": out_f(ce_backward(cls(u), tg, red, counted, dloss))}


def op_head_partial_backward(c):
    h, E, k, V, d, F = read_head_partial(c)
    dU = upstream(c, "dlogits", (h.shape[0], V))
    hc, Ec, Fc = cls(h), cls(E), cls(F)
    dh = dU[:, :k] @ Ec[:k] + dU[:, k:] @ Fc.T
    dE = np.zeros((V, d), dtype=T)
    dE[:k] = dU[:, :k].T @ hc
    dF = hc.T @ dU[:, k:]
    return {"dh": out_f(dh), "dE": out_f(dE), "dF": out_f(dF)}


def op_head_transformed_backward(c):
    h, Tm, E, d = read_head_transformed(c)
    dU = upstream(c, "dlogits", (h.shape[0], E.shape[0]))
    hc, Tc, Ec = cls(h), cls(Tm), cls(E)
    q = hc @ Tc                                              # n x d
    r = dU @ Ec                                              # n x d
    return {"dh": out_f(r @ Tc.T), "dT": out_f(hc.T @ r), "dE": out_f(dU.T @ q)}


def op_head_adaptive_backward(c):
    h, E, F, alpha, V, d = read_head_adaptive(c)
    if not (0.0 <= alpha <= 1.0):
        raise Reject("alpha outside [0, 1]")
    finite(h, "h")
    finite(E, "E")
    finite(F, "F")
    dU = upstream(c, "dlogits", (h.shape[0], V))
    a = T(alpha)
    hc, Ec, Fc = cls(h), cls(E), cls(F)
    W = a * Ec.T + (T(1) - a) * Fc                           # d x |V|, the mixed matrix
    uE = hc @ Ec.T
    uF = hc @ Fc
    if mut("adaptive-dalpha-missing-f"):
        dalpha = np.sum(dU * uE, dtype=T)
    else:
        dalpha = np.sum(dU * (uE - uF), dtype=T)
    return {"dh": out_f(dU @ W.T), "dE": out_f(a * (dU.T @ hc)),
            "dF": out_f((T(1) - a) * (hc.T @ dU)),
            "dalpha": out_f(np.array([dalpha], dtype=T))}


def op_head_mlp_backward(c):
    h, W1, b1, W2, b2, tied = read_head_mlp(c)
    V = W2.shape[1]
    dU = upstream(c, "dlogits", (h.shape[0], V))
    hc, W1c, W2c = cls(h), cls(W1), cls(W2)
    a = hc @ W1c
    if b1 is not None:
        a = a + cls(b1)
    h1 = np.maximum(a, T(0))
    on = a >= 0 if mut("mlp-relu-grad-at-zero-one") else a > 0
    da = np.where(on, dU @ W2c.T, T(0))                      # n x m
    out = {"dh": out_f(da @ W1c.T), "dW1": out_f(hc.T @ da),
           "db1": out_f(np.sum(da, axis=0, dtype=T)),
           "db2": out_f(np.sum(dU, axis=0, dtype=T))}
    if tied:
        out["dE"] = out_f(dU.T @ h1)
    else:
        out["dW2"] = out_f(h1.T @ dU)
    return out


def mixture_deltas(weights, probs, G):
    """The mixture's shared backward quantities, per row of the batch.

    weights: n x K (or 1 x K) mixture weights, probs: K x n x V component
    distributions, G: n x V upstream gradient of log y.
    -> (omega, delta, rho, y): the responsibilities omega_k = w_k p_k / y
    (K x n x V), delta_k = omega_k G - p_k rho_k, the gradient of component
    k's logits (K x n x V), rho_k = sum_v omega_k G (K x n), and the mixture
    y (n x V).
    """
    wk = weights.T[:, :, None]                               # K x n x 1
    y = np.sum(wk * probs, axis=0, dtype=T)                  # n x V
    safe = np.where(y > 0, y, T(1))
    omega = np.where(y > 0, wk * probs / safe, T(0))
    oG = omega * G[None]
    rho = np.sum(oG, axis=2, dtype=T)                        # K x n
    delta = oG - probs * rho[:, :, None]
    return omega, delta, rho, y


def op_mos_fixed_backward(c):
    h, W, al, K, V = read_mos_fixed(c)
    n = h.shape[0]
    G = upstream(c, "dlogprobs", (n, V))
    hc, Wc, alc = cls(h), cls(W), cls(al)
    A = np.sum(alc, dtype=T)
    abar = alc / A                                           # K
    probs = np.stack([softmax(hc @ Wc[k]) for k in range(K)])     # K x n x V
    omega, delta, rho, y = mixture_deltas(abar[None, :], probs, G)
    dW = np.stack([hc.T @ delta[k] for k in range(K)])      # K x d x V
    dh = sum(delta[k] @ Wc[k].T for k in range(K))
    ck = np.empty(K, dtype=T)                                # dL/d abar_k
    safe = np.where(y > 0, y, T(1))
    for k in range(K):
        if abar[k] > 0:
            ck[k] = np.sum(omega[k] * G, dtype=T) / abar[k]
        else:
            ck[k] = np.sum(np.where(y > 0, probs[k] * G / safe, T(0)), dtype=T)
    if mut("mos-fixed-alpha-unnormalised"):
        dalpha = ck
    else:
        dalpha = (ck - np.sum(abar * ck, dtype=T)) / A
    return {"dh": out_f(dh), "dW": out_f(dW), "dalpha": out_f(dalpha)}


def op_mos_gated_backward(c):
    h, Wpi, Wcomp, bcomp, Wo, bo, tied = read_mos_gated(c)
    n = h.shape[0]
    K = Wpi.shape[1]
    V = Wo.shape[1]
    G = upstream(c, "dlogprobs", (n, V))
    hc, Wpic, Wcc, bcc, Woc = cls(h), cls(Wpi), cls(Wcomp), cls(bcomp), cls(Wo)
    pi = softmax(hc @ Wpic)                                  # n x K
    gs, probs = [], []
    for k in range(K):
        g = np.tanh(hc @ Wcc[k] + bcc[k])                    # n x d
        u = g @ Woc
        if bo is not None:
            u = u + cls(bo)
        gs.append(g)
        probs.append(softmax(u))
    probs = np.stack(probs)                                  # K x n x V
    omega, delta, rho, y = mixture_deltas(pi, probs, G)
    dgate = rho.T - pi * np.sum(rho, axis=0, dtype=T)[:, None]   # n x K
    dWout = sum(gs[k].T @ delta[k] for k in range(K))       # d x V
    dbout = np.sum(np.sum(delta, axis=0, dtype=T), axis=0, dtype=T)
    dc = [(delta[k] @ Woc.T) * (T(1) - gs[k] * gs[k]) for k in range(K)]
    dh = dgate @ Wpic.T + sum(dc[k] @ Wcc[k].T for k in range(K))
    out = {"dh": out_f(dh), "dW_pi": out_f(hc.T @ dgate),
           "dW_comp": out_f(np.stack([hc.T @ dc[k] for k in range(K)])),
           "db_comp": out_f(np.stack([np.sum(dc[k], axis=0, dtype=T) for k in range(K)])),
           "db_out": out_f(dbout)}
    if tied:
        out["dE"] = out_f(dWout.T)
    else:
        out["dW_out"] = out_f(dWout)
    return out


def op_soft_tie_loss_backward(c):
    h, E, W, lam, red, V, d = read_soft_tie_loss(c)
    tg, red, counted = ce_check(c, h.shape[0], V)
    dloss = check_dloss(c, red, h.shape[0])
    hc, Ec, Wc = cls(h), cls(E), cls(W)
    D = ce_backward(hc @ Wc, tg, red, counted, dloss)
    pull = (T(1) if mut("soft-tie-half") else T(2)) * T(lam) * dloss[0]
    return {"dh": out_f(D @ Wc.T), "dE": out_f(pull * (Ec - Wc.T)),
            "dW": out_f(hc.T @ D + pull * (Wc - Ec.T))}


def read_tied_lm(c):
    """The validated inputs of tied_lm, in double.

    -> (ids, tg, red, counted, E, P, ln, M); ln is None or (gamma, beta,
    eps), M None for the identity middle.
    """
    E = c.f("E", 2)
    ids = c.i("ids")
    P = c.f("P", 2)
    check_table(E, "E")
    check_table(P, "P")
    V, d = E.shape
    n = len(ids)
    check_index(ids, V, "token id")
    if P.shape[1] != d:
        raise Reject("P and E widths differ")
    if P.shape[0] < n:
        raise Reject("more tokens than positions")
    if c.ps("reduction", "mean") == "none":
        raise Reject("reduction none is not a scalar loss")
    tg, red, counted = ce_check(c, n, V)
    middle = c.ps("middle", "identity")
    if middle not in ("identity", "matrix"):
        raise Reject("unknown middle %r" % middle)
    finite(E, "E")
    finite(P, "P")
    ln = ln_params(c, d) if c.pb("layernorm", False) else None
    M = None
    if middle == "matrix":
        M = c.f("M", 2)
        if M.shape != (d, d):
            raise Reject("M not d x d")
        finite(M, "M")
    return ids, tg, red, counted, E, P, ln, M


def op_tied_lm(c):
    ids, tg, red, counted, E, P, ln, M = read_tied_lm(c)
    n = len(ids)
    Ec, Pc = cls(E), cls(P)
    X = Ec[ids].reshape(n, Ec.shape[1]) + Pc[:n]
    Z = X if ln is None else layernorm(X, ln[0], ln[1], ln[2])
    H = Z if M is None else Z @ cls(M)
    u = H @ Ec.T
    loss = cross_entropy(u, tg, red, counted)
    dU = ce_backward(u, tg, red, counted, np.ones(1, dtype=T))
    dE_output = dU.T @ H
    dZ = dU @ Ec
    if M is not None:
        dZ = dZ @ cls(M).T
    out = {}
    if ln is None:
        dX = dZ
    else:
        dX, dgamma, dbeta = layernorm_backward(X, ln[0], ln[2], dZ)
        out["dgamma"] = out_f(dgamma)
        out["dbeta"] = out_f(dbeta)
    dE_input = scatter_add(dX, ids, Ec.shape[0])
    dP = np.zeros_like(Pc)
    dP[:n] = dX
    if mut("tied-one-path-output"):
        dE = dE_output
    elif mut("tied-copy"):
        dE = dE_input
    else:
        dE = dE_input + dE_output
    out.update({"loss": out_f(loss), "dE": out_f(dE), "dE_input": out_f(dE_input),
                "dE_output": out_f(dE_output), "dP": out_f(dP)})
    return out


def load_op_table():
    """{op name: {output name, ...}} from tools/common/ops.json, the op table
    written from tools/common/op_table.c (and checked against it by CI)."""
    with open(os.path.join(HERE, "..", "common", "ops.json")) as f:
        table = json.load(f)
    return {op["name"]: {out["name"] for out in op["outputs"]} for op in table["ops"]}


# Every op of the op table, with the names of its outputs.
OP_OUTPUTS = load_op_table()


def op_table(namespace):
    """{op name: its function op_<name> in namespace} for every op of the op
    table; an op without its function is an error of this testee."""
    missing = sorted(name for name in OP_OUTPUTS if "op_" + name not in namespace)
    if missing:
        raise SystemExit("testee: no function for op(s) %s of tools/common/ops.json"
                         % ", ".join(missing))
    return {name: namespace["op_" + name] for name in OP_OUTPUTS}


def check_output_names(op, outputs):
    """The outputs an op function returned must be outputs of that op in the
    op table: a misspelt name is this testee's bug, not the vector's."""
    unknown = sorted(set(outputs) - OP_OUTPUTS.get(op, set()))
    if unknown:
        raise AssertionError("op %s returned output(s) %s, which the op table "
                             "does not list" % (op, ", ".join(unknown)))
    return outputs


OPS = op_table(globals())


def respond(req, ops, make_case, refusals=()):
    """One response line for request req: run ops[op] on make_case(req).

    Reject, and any exception type in refusals (how a library says no), give
    "rejected"; Unsupported and a bad generated input give "unsupported";
    any other exception is reported on stderr and counts as a refusal.
    """
    rid = req.get("id", "")
    op = req.get("op")
    fn = ops.get(op)
    if fn is None:
        return {"id": rid, "status": "unsupported", "reason": "no op %r here" % (op,)}
    try:
        return {"id": rid, "status": "ok",
                "outputs": check_output_names(op, fn(make_case(req)))}
    except Reject as e:
        return {"id": rid, "status": "rejected", "reason": str(e)}
    except Unsupported as e:
        return {"id": rid, "status": "unsupported", "reason": str(e)}
    except refusals as e:
        return {"id": rid, "status": "rejected", "reason": "%s: %s" % (type(e).__name__, e)}
    except ValueError as e:
        if "checksum" in str(e) or "generator" in str(e):
            return {"id": rid, "status": "unsupported", "reason": "generated input: %s" % e}
        traceback.print_exc(file=sys.stderr)
        return {"id": rid, "status": "rejected", "reason": "exception: %s" % e}
    except Exception as e:  # an exception is this implementation's way of refusing
        traceback.print_exc(file=sys.stderr)
        return {"id": rid, "status": "rejected", "reason": "exception: %s: %s" % (type(e).__name__, e)}


def serve(hello, ops, make_case, refusals=()):
    """The protocol loop: the hello line, then one response per request line."""
    out = sys.stdout
    out.write(json.dumps(hello) + "\n")
    out.flush()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
        except ValueError:
            out.write(json.dumps({"id": "", "status": "rejected", "reason": "bad request line"}) + "\n")
            out.flush()
            continue
        out.write(json.dumps(respond(req, ops, make_case, refusals), allow_nan=False) + "\n")
        out.flush()
    return 0


def main(argv):
    global T, MUT
    klass = "fp64"
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--class" and args:
            klass = args.pop(0)
        elif a.startswith("--class="):
            klass = a.split("=", 1)[1]
        elif a == "--mutant" and args:
            MUT = args.pop(0)
        elif a.startswith("--mutant="):
            MUT = a.split("=", 1)[1]
        elif a == "--list-mutants":
            for k, v in MUTANTS.items():
                print("%s\t%s" % (k, v))
            return 0
        else:
            print("usage: testee_numpy.py --class fp64|fp32 [--mutant NAME] | --list-mutants", file=sys.stderr)
            return 2
    if klass not in ("fp64", "fp32"):
        print("class must be fp64 or fp32", file=sys.stderr)
        return 2
    if MUT is not None and MUT not in MUTANTS:
        print("unknown mutant %r (see --list-mutants)" % MUT, file=sys.stderr)
        return 2
    T = np.float64 if klass == "fp64" else np.float32
    name = "numpy-" + klass + ("" if MUT is None else "-mutant-" + MUT)
    hello = {"protocol": 1, "name": name, "class": klass, "ops": sorted(OPS)}
    return serve(hello, OPS, Case)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
