#!/usr/bin/python3
"""TAP: the coverage rule of spec/coverage.md, checked on the vectors.

    /usr/bin/python3 tests/coverage.py [--table | --markdown | --write-table] [VECTOR_DIR]

Reads every vector file, tools/common/ops.json (the ops, their params with
defaults and ranges), spec/coverage.md (the edges and the decisions the
rule names, and the waivers) and spec/errors.md (the statuses of each op),
and checks, op by op:

  params     every param takes at least two values in valid cases, one of
             them not its default; in every class, a non-default value (two
             values for a required param) and every value of a param with a
             finite set of values (booleans, words);
  edges      every edge of the op's list appears in a valid case of every
             class;
  statuses   every status the op can return has an invalid case;
  decisions  every decision of the spec's list names a mutant of
             tools/testees/mutants.py that takes it the other way (the
             mutant loop of check-testees.sh then requires it caught in
             every class but those the decision's waivers name);

each unless spec/coverage.md waives that item for that class, with a
reason. A waiver that waives nothing (the item is covered after all) is a
failure too, so the list stays true. --table prints the per-op table (also
printed as TAP comments on a failure); --markdown prints its summary, the
table of spec/coverage.md, and --write-table writes it there (the test
fails when the committed table is out of date).
"""
import glob
import json
import math
import os
import re
import sys

import numpy as np

import spec_errors  # noqa: E402 -- tests/spec_errors.py: the statuses of spec/errors.md

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "tools", "testees"))

CLASSES = ("fp64", "fp32", "bf16", "fp16")
SPECIAL = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan, "-0": -0.0}
# exp(x) overflows for x above these in the class's arithmetic (binary64;
# binary32 for the other three)
EXP_OVERFLOW = {"fp64": 709.78, "fp32": 88.72, "bf16": 88.72, "fp16": 88.72}
ARITHMETIC = {"fp64": np.float64, "fp32": np.float32, "bf16": np.float32, "fp16": np.float32}


# ------------------------------------------------------------- a case --

class Case:
    def __init__(self, op, raw, params):
        self.op = op
        self.raw = raw
        self.id = raw["id"]
        self.valid = raw["result"] == "valid"
        self.classes = set(raw["classes"])
        self.error = raw.get("error")
        self.param_entries = params
        self._arrays = {}

    def param(self, name):
        if name in self.raw["params"]:
            return self.raw["params"][name]
        return self.param_entries[name]["default"]

    def has(self, name):
        return name in self.raw["inputs"]

    def a(self, name):
        """Input `name` as a float64 array, or None (absent or generated)."""
        if name not in self._arrays:
            obj = self.raw["inputs"].get(name)
            if obj is None or "data" not in obj:
                self._arrays[name] = None
            else:
                data = [SPECIAL[v] if isinstance(v, str) else v for v in obj["data"]]
                self._arrays[name] = np.array(data, dtype=np.float64).reshape(obj["shape"])
        return self._arrays[name]

    def out(self, name):
        obj = (self.raw.get("expected") or {}).get(name)
        if obj is None or "data" not in obj:
            return None
        data = [SPECIAL[v] if isinstance(v, str) else v for v in obj["data"]]
        return np.array(data, dtype=np.float64).reshape(obj["shape"])


# ---------------------------------------------------------- predicates --
# Each edge is a function (case, class) -> bool: the case shows the edge
# when it is judged in that class. Most do not depend on the class.

def rows(c, name="logits"):
    u = c.a(name)
    return [] if u is None or u.ndim != 2 else list(u)


def masked(c, k):
    return any(np.any(r == -math.inf) for r in rows(c))


def one_unmasked(c, k):
    return any(len(r) >= 2 and np.sum(np.isfinite(r)) == 1 for r in rows(c))


def overflow_scale(c, k):
    return any(np.any(np.abs(r[np.isfinite(r)]) > EXP_OVERFLOW[k]) for r in rows(c))


def single_token(c, k):
    u = c.a("logits")
    return u is not None and u.ndim == 2 and u.shape[1] == 1 and u.shape[0] > 0


def tie_at_max(c, k):
    return any(np.sum(r == np.max(r)) >= 2 for r in rows(c) if np.any(np.isfinite(r)))


def wide_tie_at_max(c, k):
    """At least three tokens tied for the maximum in a row of |V| >= 32."""
    return any(len(r) >= 32 and np.sum(r == np.max(r)) >= 3 for r in rows(c)
               if np.any(np.isfinite(r)))


def wide_tie(c, k):
    """At least three tokens sharing a finite logit in a row of |V| >= 32."""
    for r in rows(c):
        f = r[np.isfinite(r)]
        if len(r) >= 32 and len(f) and np.max(np.unique(f, return_counts=True)[1]) >= 3:
            return True
    return False


def accepted_alternatives(c, output, k):
    """{element index: other accepted values} of an index output in class k."""
    tol = (c.raw.get("tolerance") or {}).get(output) or {}
    return {a["index"]: a["values"] for a in tol.get("accept", []) if k in a["classes"]}


def probability_tie(c, k):
    """Two distinct logits of a row, one the maximum, whose probabilities are
    the same number in the class's arithmetic, and a class that must still
    return the maximum of the logits (no alternative accepted): an argmax
    over probabilities cannot tell them apart."""
    dtype = ARITHMETIC[k]
    loose = accepted_alternatives(c, "token", k)
    for t, r in enumerate(rows(c)):
        if t in loose:
            continue
        f = np.isfinite(r)
        if not np.any(f):
            continue
        a = np.max(r[f])
        with np.errstate(all="ignore"):
            e = np.exp((r.astype(dtype) - dtype(a)))
        top = e[r == a][0]
        if np.any((r != a) & f & (e == top)):
            return True
    return False


def ignored(c, k):
    tg = c.a("targets")
    return tg is not None and np.any(tg == c.param("ignore_index"))


def all_ignored(c, k):
    tg = c.a("targets")
    return tg is not None and len(tg) > 0 and np.all(tg == c.param("ignore_index"))


def counted_rows(c):
    tg = c.a("targets")
    u = c.a("logits")
    if tg is None or u is None:
        return []
    ig = c.param("ignore_index")
    return [(u[t], int(tg[t])) for t in range(len(tg)) if tg[t] != ig]


def masked_target(c, k):
    return any(r[t] == -math.inf for r, t in counted_rows(c))


def masked_non_target(c, k):
    return any(np.any((r == -math.inf) & (np.arange(len(r)) != t)) for r, t in counted_rows(c))


def upstream_not_one(c, k):
    g = c.a("dloss")
    return g is not None and np.any(g != 1.0)


def constant_upstream(name):
    def edge(c, k):
        g = c.a(name)
        return g is not None and g.ndim == 2 and g.shape[1] >= 2 and any(
            np.all(row == row[0]) and row[0] != 0 for row in g)
    return edge


def top_k_is(what):
    def edge(c, k):
        u = c.a("logits")
        tk = c.param("top_k")
        if u is None or tk < 1:
            return False
        unmasked = int(np.min(np.sum(np.isfinite(u), axis=1))) if u.shape[0] else 0
        return {"one": tk == 1, "vocab": tk == u.shape[1],
                "beyond": tk > unmasked and tk != u.shape[1]}[what]
    return edge


def top_p_one_given(c, k):
    return "top_p" in c.raw["params"] and c.param("top_p") == 1.0


def top_k_and_top_p(c, k):
    return c.param("top_k") >= 1 and c.param("top_p") < 1.0


def temperature_and_top_p(c, k):
    return c.param("tau") != 1.0 and c.param("top_p") < 1.0


def r_zero(c, k):
    r = c.a("r")
    return r is not None and np.any(r == 0.0)


def x_rows(c):
    x = c.a("x")
    return [] if x is None else list(x)


def constant_row(c, k):
    return any(len(r) >= 2 and np.all(r == r[0]) for r in x_rows(c))


def width_one(name, axis):
    def edge(c, k):
        a = c.a(name)
        return a is not None and a.shape[axis] == 1 and a.size > 0
    return edge


def ill_conditioned(c, k):
    """A row whose mean magnitude is over 1000 times its spread."""
    for r in x_rows(c):
        s = np.std(r)
        if len(r) >= 2 and s > 0 and np.mean(np.abs(r)) > 1000 * s:
            return True
    return False


def affine_nontrivial(c, k):
    g, b = c.a("gamma"), c.a("beta")
    return g is not None and b is not None and np.any(g != 1.0) and np.any(b != 0.0) \
        and np.any(g != b)


def position_zero(c, k):
    p = c.a("positions")
    return p is not None and np.any(p == 0)


def large_position(c, k):
    p = c.a("positions")
    return p is not None and np.any(p > 2 ** 24)


def odd_width(c, k):
    return c.param("d") % 2 == 1 and c.param("d") > 1


def d_is_one(c, k):
    return c.param("d") == 1


def compose_learned_to_last_row(c, k):
    P, ids = c.a("P"), c.a("ids")
    return c.param("positions") == "learned" and P is not None and \
        c.param("start") + len(ids) == P.shape[0] and len(ids) > 0


def compose_sinusoid_start(c, k):
    return c.param("positions") == "sinusoid" and c.param("start") > 0


def compose_learned_start(c, k):
    return c.param("positions") == "learned" and c.param("start") > 0


def sqrt_d_irrational(c, k):
    E = c.a("E")
    return c.param("scale_by_sqrt_d") and E is not None and \
        int(math.isqrt(E.shape[1])) ** 2 != E.shape[1]


def repeated(name):
    def edge(c, k):
        i = c.a(name)
        return i is not None and len(np.unique(i)) < len(i)
    return edge


def first_and_last_row(table, index):
    def edge(c, k):
        t, i = c.a(table), c.a(index)
        return t is not None and i is not None and t.shape[0] >= 2 and \
            np.any(i == 0) and np.any(i == t.shape[0] - 1)
    return edge


def table_rows_one(table):
    def edge(c, k):
        t = c.a(table)
        return t is not None and t.shape[0] == 1
    return edge


def empty_batch(name):
    def edge(c, k):
        a = c.a(name)
        return a is not None and a.shape[0] == 0
    return edge


def negative_zero(name):
    def edge(c, k):
        a = c.a(name)
        return a is not None and np.any((a == 0) & np.signbit(a))
    return edge


def absent_rows(index, size_param):
    def edge(c, k):
        i = c.a(index)
        return i is not None and len(np.unique(i)) < c.param(size_param)
    return edge


def non_square(*names):
    """The sizes n, d, |V| (from the named inputs' shapes) pairwise distinct."""
    def edge(c, k):
        sizes = []
        for name, axis in names:
            a = c.a(name)
            if a is None:
                return False
            sizes.append(a.shape[axis])
        return len(set(sizes)) == len(sizes) and min(sizes) >= 2
    return edge


def present(name):
    def edge(c, k):
        return c.has(name)
    return edge


def absent(name):
    def edge(c, k):
        return not c.has(name)
    return edge


def param_equals(name, value):
    def edge(c, k):
        return c.param(name) == value
    return edge


def partial_k_between(c, k):
    E = c.a("E")
    return E is not None and 0 < c.param("k") < E.shape[0]


def partial_k_vocab(c, k):
    E = c.a("E")
    return E is not None and c.param("k") == E.shape[0]


def alpha_between(c, k):
    return 0.0 < c.param("alpha") < 1.0


def non_symmetric(name):
    def edge(c, k):
        a = c.a(name)
        if a is None:
            return False
        mats = a if a.ndim == 3 else [a]
        return any(m.shape[0] == m.shape[1] and np.any(m != m.T) for m in mats)
    return edge


def identity(name):
    def edge(c, k):
        a = c.a(name)
        return a is not None and a.shape[0] == a.shape[1] and np.all(a == np.eye(a.shape[0]))
    return edge


def mlp_preactivations(c):
    h, W1 = c.a("h"), c.a("W1")
    if h is None or W1 is None:
        return None
    a = h @ W1
    b1 = c.a("b1")
    return a if b1 is None else a + b1


def relu_exact_zero(c, k):
    a = mlp_preactivations(c)
    return a is not None and np.any(a == 0.0)


def relu_negative(c, k):
    a = mlp_preactivations(c)
    return a is not None and np.any(a < 0.0)


def components_one(name, axis):
    def edge(c, k):
        a = c.a(name)
        return a is not None and a.shape[axis] == 1
    return edge


def weights_unnormalised(c, k):
    al = c.a("alpha")
    return al is not None and np.sum(al) != 1.0


def zero_weight(c, k):
    al = c.a("alpha")
    return al is not None and np.any(al == 0.0)


def mixture_underflow(c, k):
    """Some y_v so small that log(y) is below the class's range: the log of
    the mixture must be taken in log space."""
    lp = c.out("logprobs")
    if lp is None:
        return False
    limit = {"fp64": -745.0, "fp32": -103.0, "bf16": -103.0, "fp16": -103.0}[k]
    return np.any(np.isfinite(lp) & (lp < limit))


def w_is_e_transposed(c, k):
    E, W = c.a("E"), c.a("W")
    return E is not None and W is not None and W.shape == E.T.shape and np.all(W == E.T)


def lens_k(what):
    def edge(c, k):
        E = c.a("E")
        if E is None:
            return False
        return c.param("k") == (1 if what == "one" else E.shape[0])
    return edge


def lens_top_tie(c, k):
    """Two tokens within the top k with equal logits (exact ties)."""
    H, E = c.a("hidden"), c.a("E")
    if H is None or E is None:
        return False
    kk = c.param("k")
    for x in H.reshape(-1, H.shape[-1]):
        if c.param("final_layernorm"):
            return "ties" in c.raw["flags"]
        u = x @ E.T
        top = np.sort(u)[::-1][:kk + 1]
        if len(np.unique(top)) < len(top):
            return True
    return False


def blocks_zero(c, k):
    return c.param("block_params") == 0


def beyond_2_53(c, k):
    return 2 * c.param("vocab") * c.param("d") + c.param("block_params") > 2 ** 53


def sparse_upstream(name):
    def edge(c, k):
        g = c.a(name)
        return g is not None and g.size and np.any(g == 0.0) and np.any(g != 0.0)
    return edge


def token_only_as(where):
    def edge(c, k):
        ids, tg = c.a("ids"), c.a("targets")
        if ids is None or tg is None:
            return False
        ids_set = set(int(i) for i in ids)
        tg_set = set(int(t) for t in tg if t != c.param("ignore_index"))
        return bool(tg_set - ids_set) if where == "target" else bool(ids_set - tg_set)
    return edge


def any_of(*edges):
    def edge(c, k):
        return any(e(c, k) for e in edges)
    return edge


def attention_masked(c):
    """masked[i, j] of an attention case (spec/attention.md), or None."""
    Q, K = c.a("Q"), c.a("K")
    if Q is None or K is None or Q.ndim != 2 or K.ndim != 2:
        return None
    n_q, n_k = Q.shape[0], K.shape[0]
    masked = np.zeros((n_q, n_k), dtype=bool)
    m = c.a("key_mask")
    if m is not None:
        masked |= (m == 0)[None, :]
    if c.param("causal"):
        masked |= np.arange(n_k)[None, :] > np.arange(n_q)[:, None] + (n_k - n_q)
    return masked


def attention_scores(c):
    Q, K = c.a("Q"), c.a("K")
    return Q @ K.T / math.sqrt(Q.shape[1])


def attention_causal(shape):
    """Causal with n_q = n_k >= 2 ("square") or 1 <= n_q < n_k ("fewer")."""
    def edge(c, k):
        Q, K = c.a("Q"), c.a("K")
        if not c.param("causal") or Q is None or K is None:
            return False
        n_q, n_k = Q.shape[0], K.shape[0]
        return n_q == n_k >= 2 if shape == "square" else 1 <= n_q < n_k
    return edge


def attention_padding(c, k):
    m = c.a("key_mask")
    return m is not None and np.any(m == 0) and c.a("Q").shape[0] > 0


def attention_both_masks(c, k):
    return attention_padding(c, k) and bool(c.param("causal"))


def attention_one_unmasked(c, k):
    masked = attention_masked(c)
    return masked is not None and masked.shape[1] >= 2 and \
        np.any(np.sum(~masked, axis=1) == 1)


def attention_tie_at_max(c, k):
    """Two unmasked keys tied for a row's largest score (exact products)."""
    masked = attention_masked(c)
    if masked is None or masked.shape[0] == 0:
        return False
    S = np.where(masked, -math.inf, attention_scores(c))
    return any(np.sum(r == np.max(r)) >= 2 for r in S)


def attention_overflow_scale(c, k):
    masked = attention_masked(c)
    if masked is None or masked.shape[0] == 0:
        return False
    return np.any(~masked & (np.abs(attention_scores(c)) > EXP_OVERFLOW[k]))


def attention_sqrt_irrational(c, k):
    Q = c.a("Q")
    return Q is not None and Q.shape[0] > 0 and math.isqrt(Q.shape[1]) ** 2 != Q.shape[1]


def flagged(flag):
    def edge(c, k):
        return flag in c.raw["flags"]
    return edge


def pca_k_min(c, k):
    X = c.a("X")
    return X is not None and c.param("k") == min(X.shape)


def rows_are(count):
    def edge(c, k):
        X = c.a("X")
        return X is not None and X.shape[0] == count
    return edge


def constant_column(c, k):
    X = c.a("X")
    return X is not None and X.size and bool(np.any(np.all(X == X[0], axis=0)))


def offset_over_spread(c, k):
    """A column whose mean magnitude is over 1000 times its spread."""
    X = c.a("X")
    if X is None or X.shape[0] < 2:
        return False
    spread = X.std(axis=0)
    return bool(np.any((spread > 0) & (np.abs(X.mean(axis=0)) > 1000 * spread)))


def lce_logits(c):
    """u = h E^T of a linear_cross_entropy case in binary64, or None."""
    h, E = c.a("h"), c.a("E")
    if h is None or E is None or h.ndim != 2 or E.ndim != 2 or h.shape[1] != E.shape[1]:
        return None
    return h @ E.T


def lce_confident(c, k):
    """A counted target whose probability is within 2^-9 of 1: bfloat16
    rounds it to 1, and y - 1 to 0."""
    u, tg = lce_logits(c), c.a("targets")
    if u is None or tg is None:
        return False
    for t in range(u.shape[0]):
        if tg[t] == c.param("ignore_index"):
            continue
        target = int(tg[t])
        rest = np.exp(np.delete(u[t], target) - u[t, target])
        if u.shape[1] >= 2 and np.sum(rest) / (1 + np.sum(rest)) < 2.0 ** -9:
            return True
    return False


def lce_masked_like(c, k):
    """A computed logit of -1000 or below next to ordinary ones."""
    u = lce_logits(c)
    return u is not None and u.size > 0 and np.min(u) <= -1000 and np.max(u) > -100


def lce_chunk_boundary(c, k):
    """|V| >= 63 one below, at or one above a multiple of 64, the last token a target."""
    E, tg = c.a("E"), c.a("targets")
    if E is None or tg is None or E.ndim != 2:
        return False
    V = E.shape[0]
    return V >= 63 and V % 64 in (63, 0, 1) and np.any(tg == V - 1)


LOGIT_EDGES = {"masked": masked, "one-unmasked": one_unmasked,
               "overflow-scale": overflow_scale, "single-token": single_token,
               "tie-at-max": tie_at_max}
CE_EDGES = {"ignored": ignored, "all-ignored": all_ignored,
            "masked-non-target": masked_non_target}
LN_EDGES = {"constant-row": constant_row, "d-one": width_one("x", 1),
            "ill-conditioned": ill_conditioned, "affine": affine_nontrivial}
HEAD_SIZES = (("h", 0), ("h", 1), ("E", 0))
UNTIED_SIZES = (("h", 0), ("h", 1), ("W", 1))

EDGES = {
    "embed_lookup": {"repeated": repeated("ids"), "first-and-last-row": first_and_last_row("E", "ids"),
                     "one-row": table_rows_one("E"), "empty": empty_batch("ids"),
                     "negative-zero": negative_zero("E")},
    "embed_onehot": {"repeated": lambda c, k: c.a("onehot") is not None and
                     len({tuple(r) for r in c.a("onehot")}) < len(c.a("onehot")),
                     "one-row": table_rows_one("E"), "empty": empty_batch("onehot")},
    "pos_learned": {"repeated": repeated("positions"),
                    "first-and-last-row": first_and_last_row("P", "positions"),
                    "one-row": table_rows_one("P"), "empty": empty_batch("positions")},
    "pos_sinusoid": {"position-zero": position_zero, "odd-width": odd_width, "d-one": d_is_one,
                     "large-position": large_position, "empty": empty_batch("positions")},
    "compose": {"learned-to-last-row": compose_learned_to_last_row,
                "learned-start": compose_learned_start, "sinusoid-start": compose_sinusoid_start,
                "sqrt-d-irrational": sqrt_d_irrational, "repeated": repeated("ids")},
    "layernorm": dict(LN_EDGES),
    "compose_layernorm": {"learned-start": compose_learned_start,
                          "sinusoid-start": compose_sinusoid_start,
                          "sqrt-d-irrational": sqrt_d_irrational},
    "head_tied": {"non-square": non_square(*HEAD_SIZES), "empty": empty_batch("h")},
    "head_untied": {"non-square": non_square(*UNTIED_SIZES), "bias": present("b"),
                    "no-bias": absent("b")},
    "softmax": dict(LOGIT_EDGES),
    "log_softmax": dict(LOGIT_EDGES),
    "cross_entropy": dict(LOGIT_EDGES, **CE_EDGES, **{"masked-target": masked_target}),
    "argmax": {"masked": masked, "one-unmasked": one_unmasked, "tie-at-max": tie_at_max,
               "wide-tie-at-max": wide_tie_at_max, "probability-tie": probability_tie,
               "overflow-scale": overflow_scale},
    "sample": {"masked": masked, "one-unmasked": one_unmasked, "wide-tie": wide_tie,
               "overflow-scale": overflow_scale, "top-k-one": top_k_is("one"),
               "top-k-vocab": top_k_is("vocab"), "top-k-beyond-unmasked": top_k_is("beyond"),
               "top-p-one-given": top_p_one_given, "top-k-and-top-p": top_k_and_top_p,
               "temperature-and-top-p": temperature_and_top_p, "r-zero": r_zero},
    "logit_lens": {"k-one": lens_k("one"), "k-vocab": lens_k("vocab"), "top-tie": lens_top_tie},
    "param_count": {"blocks-zero": blocks_zero, "beyond-2^53": beyond_2_53},
    "head_partial": {"k-zero": param_equals("k", 0), "k-vocab": partial_k_vocab,
                     "k-between": partial_k_between, "non-square": non_square(*HEAD_SIZES)},
    "head_transformed": {"T-non-symmetric": non_symmetric("T"), "T-identity": identity("T"),
                         "non-square": non_square(*HEAD_SIZES)},
    "head_adaptive": {"alpha-zero": param_equals("alpha", 0.0),
                      "alpha-one": param_equals("alpha", 1.0), "alpha-between": alpha_between,
                      "non-square": non_square(*HEAD_SIZES)},
    "head_mlp": {"b1": present("b1"), "no-b1": absent("b1"), "b2": present("b2"),
                 "no-b2": absent("b2"), "relu-zero": relu_exact_zero,
                 "relu-negative": relu_negative},
    "mos_fixed": {"one-component": components_one("W", 0), "unnormalised": weights_unnormalised,
                  "zero-weight": zero_weight, "underflow": mixture_underflow},
    "mos_gated": {"one-component": components_one("W_pi", 1), "b_out": present("b_out"),
                  "no-b_out": absent("b_out"), "W_comp-non-symmetric": non_symmetric("W_comp")},
    "soft_tie_loss": {"lambda-zero": param_equals("lambda", 0.0), "W-is-E-transposed": w_is_e_transposed,
                      "ignored": ignored},
    "pca": {"repeated-variances": flagged("repeated_variances"),
            "near-degenerate": flagged("near_degenerate"),
            "rank-deficient": flagged("rank_deficient"),
            "sign-tie": flagged("sign_ambiguous"),
            "zero-total": flagged("zero_total_variance"),
            "k-min": pca_k_min, "n-two": rows_are(2), "d-one": width_one("X", 1),
            "constant-column": constant_column, "ill-conditioned": offset_over_spread},
    "embed_lookup_backward": {"repeated": repeated("ids"), "absent-rows": absent_rows("ids", "vocab")},
    "pos_learned_backward": {"repeated": repeated("positions"),
                             "absent-rows": absent_rows("positions", "max_len")},
    "layernorm_backward": {"constant-row": constant_row, "d-one": width_one("x", 1),
                           "ill-conditioned": ill_conditioned},
    "head_tied_backward": {"non-square": non_square(*HEAD_SIZES),
                           "sparse-upstream": sparse_upstream("dlogits")},
    "head_untied_backward": {"non-square": non_square(*UNTIED_SIZES),
                             "sparse-upstream": sparse_upstream("dlogits")},
    "softmax_backward": {"masked": masked, "one-unmasked": one_unmasked, "tie-at-max": tie_at_max,
                         "constant-upstream": constant_upstream("dprobs")},
    "log_softmax_backward": {"masked": masked, "one-unmasked": one_unmasked,
                             "tie-at-max": tie_at_max,
                             "constant-upstream": constant_upstream("dlogprobs")},
    "cross_entropy_backward": dict(CE_EDGES, **{"masked": masked, "upstream-not-one": upstream_not_one}),
    "head_partial_backward": {"k-zero": param_equals("k", 0), "k-vocab": partial_k_vocab,
                              "k-between": partial_k_between},
    "head_transformed_backward": {"T-non-symmetric": non_symmetric("T"),
                                  "non-square": non_square(*HEAD_SIZES)},
    "head_adaptive_backward": {"alpha-zero": param_equals("alpha", 0.0),
                               "alpha-one": param_equals("alpha", 1.0),
                               "alpha-between": alpha_between},
    "head_mlp_backward": {"relu-zero": relu_exact_zero, "relu-negative": relu_negative,
                          "b1": present("b1"), "no-b1": absent("b1")},
    "mos_fixed_backward": {"one-component": components_one("W", 0), "zero-weight": zero_weight,
                           "unnormalised": weights_unnormalised},
    "mos_gated_backward": {"one-component": components_one("W_pi", 1), "b_out": present("b_out"),
                           "no-b_out": absent("b_out")},
    "soft_tie_loss_backward": {"lambda-zero": param_equals("lambda", 0.0),
                               "W-is-E-transposed": w_is_e_transposed, "ignored": ignored},
    "attention_weights": {"causal-square": attention_causal("square"),
                          "causal-fewer-queries": attention_causal("fewer"),
                          "padding": attention_padding, "causal-and-padding": attention_both_masks,
                          "one-unmasked": attention_one_unmasked,
                          "tie-at-max": attention_tie_at_max,
                          "overflow-scale": attention_overflow_scale,
                          "d-one": width_one("Q", 1), "one-key": table_rows_one("K"),
                          "sqrt-d-irrational": attention_sqrt_irrational,
                          "non-square": non_square(("Q", 0), ("Q", 1), ("K", 0)),
                          "empty": empty_batch("Q")},
    "attention_weights_backward": {"causal-square": attention_causal("square"),
                                   "causal-fewer-queries": attention_causal("fewer"),
                                   "padding": attention_padding,
                                   "one-unmasked": attention_one_unmasked,
                                   "constant-upstream": constant_upstream("dweights"),
                                   "d-one": width_one("Q", 1),
                                   "sqrt-d-irrational": attention_sqrt_irrational,
                                   "empty": empty_batch("Q")},


    "linear_cross_entropy": dict(ignored=ignored, **{
        "all-ignored": all_ignored, "upstream-not-one": upstream_not_one,
        "single-token": table_rows_one("E"), "empty": empty_batch("h"),
        "non-square": non_square(*HEAD_SIZES), "confident": lce_confident,
        "masked-like": lce_masked_like, "chunk-boundary": lce_chunk_boundary}),
    "tied_lm": {"repeated": repeated("ids"), "target-only-token": token_only_as("target"),
                "input-only-token": token_only_as("input"), "all-ignored": all_ignored},
}


# ------------------------------------------------------------ the spec --

def spec_table(text, anchor):
    """The rows (lists of cells) of the first table after <a id="anchor">."""
    start = text.index('<a id="%s">' % anchor)
    rows_out = []
    in_table = False
    for line in text[start:].splitlines()[1:]:
        if line.startswith("|"):
            cells = [cell.strip().replace("\\|", "|")
                     for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not in_table:
                in_table = True              # the header
                continue
            if set("".join(cells)) <= set("-: "):
                continue                     # the rule under the header
            rows_out.append(cells)
        elif in_table:
            break
    return rows_out


def words(cell):
    """`a`, `b` and `c` -> [a, b, c] (the names in backticks)."""
    return re.findall(r"`([^`]+)`", cell)


def load_spec(path):
    with open(path) as f:
        text = f.read()
    edges = {}
    for op_cell, edge_cell, _ in spec_table(text, "edges"):
        for op in words(op_cell):
            edges.setdefault(op, []).extend(words(edge_cell))
    statuses = spec_errors.statuses_by_op(os.path.dirname(path))
    decisions = {}
    for name_cell, _, mutant_cell in spec_table(text, "decisions"):
        decisions[words(name_cell)[0]] = words(mutant_cell)
    waivers = {}
    for op_cell, item_cell, class_cell, reason in spec_table(text, "waivers"):
        for op in words(op_cell):
            for item in words(item_cell):
                for klass in words(class_cell):
                    waivers[(op, item, klass)] = reason
    return edges, statuses, decisions, waivers


# ----------------------------------------------------------- the checks --

def finite_values(entry):
    """The values of a param with a finite set (booleans and words), or None."""
    if entry["type"] == "boolean":
        return [False, True]
    if entry["type"] == "string":
        return [w.strip() for w in re.split(r",| or ", entry["range"]) if w.strip()]
    return None


def key(value):
    return json.dumps(value)


class Report:
    def __init__(self):
        self.gaps = []          # (op, item, class, what)
        self.waived = []        # (op, item, class, reason)
        self.lines = {}         # op -> [table lines]
        self.tally = {}         # (op, kind, class) -> [covered, waived, total]

    def need(self, op, item, klass, ok, what, waivers, used):
        kind = item.split(":")[0]
        t = self.tally.setdefault((op, kind, klass), [0, 0, 0])
        t[2] += 1
        w = waivers.get((op, item, klass))
        t[0] += bool(ok)
        t[1] += w is not None and not ok
        if w is not None:
            used.add((op, item, klass))
            if ok:
                self.gaps.append((op, item, klass, "waived but covered: remove the waiver"))
            else:
                self.waived.append((op, item, klass, w))
            return
        if not ok:
            self.gaps.append((op, item, klass, what))


def check_params(op, entry, cases, report, waivers, used):
    lines = []
    for p in entry["params"]:
        name, default, required = p["name"], p["default"], p["required"]
        item = "param:" + name
        per_class = {}
        for klass in CLASSES:
            per_class[klass] = {key(c.param(name)) for c in cases if c.valid and klass in c.classes}
        everywhere = set().union(*per_class.values())
        report.need(op, item, "all", len(everywhere) >= 2 and
                    (required or everywhere - {key(default)}),
                    "fewer than two values, or only the default, in the valid cases",
                    waivers, used)
        values = finite_values(p)
        for klass in CLASSES:
            got = per_class[klass]
            if values is not None:
                missing = [v for v in values if key(v) not in got]
                report.need(op, item, klass, not missing,
                            "no valid case with %s = %s" % (name, ", ".join(map(str, missing))),
                            waivers, used)
            elif required:
                report.need(op, item, klass, len(got) >= 2, "fewer than two values", waivers, used)
            else:
                report.need(op, item, klass, bool(got - {key(default)}),
                            "only the default %r" % (default,), waivers, used)
        shown = " ".join("%s:%s" % (k, "/".join(sorted(per_class[k], key=str))[:40]) for k in CLASSES)
        lines.append("  param %-16s %s" % (name, shown))
    return lines


def check_edges(op, names, cases, report, waivers, used):
    lines = []
    predicates = EDGES.get(op, {})
    for name in names:
        pred = predicates[name]
        where = []
        for klass in CLASSES:
            hits = [c.id for c in cases if c.valid and klass in c.classes and pred(c, klass)]
            where.append("%s:%d" % (klass, len(hits)))
            report.need(op, "edge:" + name, klass, bool(hits),
                        "no valid case shows it in this class", waivers, used)
        lines.append("  edge  %-24s %s" % (name, " ".join(where)))
    return lines


def check_statuses(op, statuses, cases, report, waivers, used):
    found = {}
    for c in cases:
        if not c.valid:
            found[c.error] = found.get(c.error, 0) + 1
    for status in statuses:
        report.need(op, "status:" + status, "all", status in found,
                    "no invalid case", waivers, used)
    for status in found:
        if status not in statuses:
            report.gaps.append((op, "status:" + status, "all",
                                "an invalid case has a status spec/errors.md does not list for the op"))
    return ["  statuses " + " ".join("%s:%d" % (s, found.get(s, 0)) for s in statuses)]


def markdown_table(report, ops, by_op):
    """The per-op summary of the rule, as a Markdown table: for params and
    edges, covered (+ waived) of those checked in each class; statuses."""
    def cell(op, kind, klass):
        t = report.tally.get((op, kind, klass))
        if t is None:
            return "—"
        return "%d/%d" % (t[0], t[2]) + (" (+%d waived)" % t[1] if t[1] else "")
    lines = ["| op | valid | invalid | params: fp64, fp32, bf16, fp16 | "
             "edges: fp64, fp32, bf16, fp16 | statuses |",
             "|---|---:|---:|---|---|---|"]
    for op in ops:
        cases = by_op.get(op, [])
        params = ", ".join(cell(op, "param", k) for k in CLASSES) \
            if (op, "param", "fp64") in report.tally else "—"
        edges = ", ".join(cell(op, "edge", k) for k in CLASSES)
        lines.append("| `%s` | %d | %d | %s | %s | %s |" % (
            op, sum(c.valid for c in cases), sum(not c.valid for c in cases),
            params, edges, cell(op, "status", "all")))
    return "\n".join(lines)


TABLE_BEGIN = "<!-- the coverage table: written by tests/coverage.py --markdown -->\n"
TABLE_END = "<!-- end of the coverage table -->\n"


def committed_table(path):
    """The table between the markers of spec/coverage.md (without them)."""
    with open(path) as f:
        text = f.read()
    start = text.index(TABLE_BEGIN) + len(TABLE_BEGIN)
    return text, start, text.index(TABLE_END, start)


def write_table(path, table):
    text, start, end = committed_table(path)
    with open(path + ".tmp", "w") as f:
        f.write(text[:start] + table + "\n" + text[end:])
    os.replace(path + ".tmp", path)


def main(argv):
    show_table = "--table" in argv
    show_markdown = "--markdown" in argv
    rewrite = "--write-table" in argv
    argv = [a for a in argv if a not in ("--table", "--markdown", "--write-table")]
    spec_path = os.path.join(ROOT, "spec", "coverage.md")
    vectors = argv[0] if argv else os.path.join(ROOT, "vectors")
    with open(os.path.join(ROOT, "tools", "common", "ops.json")) as f:
        ops = {o["name"]: o for o in json.load(f)["ops"]}
    edges, statuses, decisions, waivers = load_spec(spec_path)
    by_op = {}
    for path in sorted(glob.glob(os.path.join(vectors, "*.json"))):
        with open(path) as f:
            vf = json.load(f)
        params = {p["name"]: p for p in ops[vf["op"]]["params"]}
        by_op.setdefault(vf["op"], []).extend(Case(vf["op"], c, params) for c in vf["cases"])

    report = Report()
    used = set()
    problems = []
    for op in ops:
        if set(edges.get(op, [])) != set(EDGES.get(op, {})):
            problems.append("edges of %s: spec/coverage.md lists %s, this test knows %s"
                            % (op, sorted(edges.get(op, [])), sorted(EDGES.get(op, {}))))
        if op not in statuses:
            problems.append("statuses of %s: not listed in spec/errors.md" % op)
    import mutants  # noqa: E402 -- tools/testees/mutants.py
    by_decision = {}
    for m in mutants.MUTANTS:
        if m.decision is not None:
            by_decision.setdefault(m.decision, []).append(m.name)
    for decision, names in decisions.items():
        if sorted(names) != sorted(by_decision.get(decision, [])):
            problems.append("decision %s: spec/coverage.md names mutant(s) %s, mutants.py %s"
                            % (decision, names, by_decision.get(decision, [])))
    for decision in by_decision:
        if decision not in decisions:
            problems.append("decision %s of mutants.py is not in spec/coverage.md" % decision)
    for m in mutants.MUTANTS:
        for klass, reason in (m.unresolved or {}).items():
            if (m.decision, "decision:" + m.decision, klass) not in \
                    {(op, item, k) for (op, item, k) in waivers}:
                problems.append("mutant %s says its decision cannot be resolved in %s; "
                                "spec/coverage.md must waive decision:%s for %s"
                                % (m.name, klass, m.decision, klass))
            used.add((m.decision, "decision:" + m.decision, klass))

    for op, entry in ops.items():
        cases = by_op.get(op, [])
        lines = ["%s: %d valid, %d invalid cases" % (op, sum(c.valid for c in cases),
                                                     sum(not c.valid for c in cases))]
        lines += check_params(op, entry, cases, report, waivers, used)
        if op in EDGES and set(edges.get(op, [])) == set(EDGES[op]):
            lines += check_edges(op, edges[op], cases, report, waivers, used)
        lines += check_statuses(op, statuses.get(op, []), cases, report, waivers, used)
        report.lines[op] = lines
    for w in waivers:
        if w not in used:
            problems.append("waiver %s %s %s names nothing this test checks" % w)

    table = markdown_table(report, ops, by_op)
    if show_markdown or rewrite:
        if rewrite:
            write_table(spec_path, table)
        else:
            print(table)
        return 1 if report.gaps or problems else 0
    text, start, end = committed_table(spec_path)
    if text[start:end] != table + "\n":
        problems.append("the table of spec/coverage.md is out of date: run "
                        "/usr/bin/python3 tests/coverage.py --write-table")
    checks = [(op, report.lines[op]) for op in ops]
    print("1..%d" % (len(checks) + 1))
    n = 0
    for op, lines in checks:
        n += 1
        gaps = [g for g in report.gaps if g[0] == op]
        print("%s %d - %s%s" % ("not ok" if gaps else "ok", n, op,
                                "" if not gaps else " # %d gap(s)" % len(gaps)))
        if gaps or show_table:
            for line in lines:
                print("# " + line)
        for g in gaps:
            print("#   GAP %s [%s]: %s" % (g[1], g[2], g[3]))
    n += 1
    print("%s %d - the lists of spec/coverage.md agree with this test and mutants.py"
          % ("not ok" if problems else "ok", n))
    for p in problems:
        print("#   " + p)
    print("# %d gaps, %d waived items (each with its reason in spec/coverage.md)"
          % (len(report.gaps), len(report.waived)))
    return 1 if report.gaps or problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
