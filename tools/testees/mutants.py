#!/usr/bin/python3
"""Mutants: the NumPy testee with one deliberate bug each (spec/protocol.md#mutants).

    /usr/bin/python3 tools/testees/mutants.py --list
    /usr/bin/python3 tools/testees/mutants.py --class fp64|fp32 --mutant NAME
    /usr/bin/python3 tools/testees/mutants.py --score RUNNER [--classes fp64,fp32]
            [--jobs N] [--mutant NAME]... [--vectors DIR] [--markdown FILE]

A mutant replaces named functions of the correct testee (testee_numpy.py)
or of its validator (validate.py) while it runs; the correct witness has no
mutant code in it.  Each is a mistake real code has made (the `about` line
says which, and spec/protocol.md cites where), and each is a single change.

--class/--mutant serves the protocol like the testee itself, for lmr-run.

--score is the fast mutant loop of check-testees.sh: it reads every vector
case once, computes the correct testee's responses in each class, and for
every mutant writes only the responses that differ from the correct ones to
a results file, which RUNNER judges offline (lmr-run --results, the same
judge); a response equal to the correct testee's passes, since the correct
testee passes every case (it is judged in the same run).  A mutant's
exception is a crash, written as a response the judge refuses.  The fp32
responses are also judged with the bf16 and fp16 bounds: fp32 arithmetic is
well inside those classes' tolerance, so a failure there means that class's
cases and bounds resolve the bug.  The GPT-2-size and production-size files
(*_gpt2, *_large) are left out (their inputs are generated; every mutant is
caught without them).  A mutant must
fail at least two cases in every class its bug shows in (`shows`), unless its
`single` says why only one case can.
"""
import contextlib
import glob
import json
import math
import multiprocessing
import os
import subprocess
import sys
import tempfile

import numpy as np

import protocol
import testee_numpy as tn
import validate

T = lambda x: tn.T(x)  # noqa: E731 -- a scalar in the class dtype, at call time


CLASS_ORDER = ("fp64", "fp32", "bf16", "fp16")


class Mutant:
    """One bug: the functions it replaces, where it shows, what it is."""

    def __init__(self, name, about, patches, shows=None, single=None,
                 decision=None, pending=None, unresolved=None):
        self.name = name
        self.about = about
        self.patches = patches          # [(module, function name, replacement)]
        # the classes whose cases must catch it: fp64 and fp32 (where its
        # arithmetic shows the bug); a decision mutant also bf16 and fp16,
        # but those its decision cannot be resolved in (unresolved: {class:
        # reason}, each waived in spec/coverage.md)
        self.unresolved = unresolved or {}
        if shows is None:
            shows = CLASS_ORDER if decision is not None else ("fp64", "fp32")
            shows = tuple(k for k in shows if k not in self.unresolved)
        self.shows = shows
        self.single = single            # why at most one case can catch it, or None
        self.decision = decision        # the spec decision it takes the other way
        self.pending = pending          # why it may still be missed (the cases to come)

    @contextlib.contextmanager
    def applied(self):
        saved = [(module, name, getattr(module, name)) for module, name, _ in self.patches]
        try:
            for module, name, replacement in self.patches:
                if not hasattr(module, name):
                    raise AttributeError("mutant %s: %s has no %s" % (self.name, module.__name__, name))
                setattr(module, name, replacement)
            yield self
        finally:
            for module, name, original in saved:
                setattr(module, name, original)


# The correct functions, as they are before any mutant replaces them.
ORIGINAL = {name: getattr(tn, name) for name in dir(tn) if callable(getattr(tn, name))}
ORIGINAL_CHECK = {name: getattr(validate, name) for name in dir(validate)
                  if callable(getattr(validate, name))}
F32 = np.float32


def in_binary32(fn):
    """fn computed in binary32 and widened back to the class dtype."""
    def run(*args):
        args = [a.astype(F32) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
                for a in args]
        with class_dtype(F32):
            return np.asarray(fn(*args)).astype(tn.T)
    return run


@contextlib.contextmanager
def class_dtype(dtype):
    saved = tn.T
    tn.T = dtype
    try:
        yield
    finally:
        tn.T = saved


# ------------------------------------------------ the replacement functions --
# Each is the correct function of testee_numpy.py (or validate.py) with one
# change; the comment says what changed.

def row_max_zero(u):                          # no max subtraction
    return np.zeros((u.shape[0], 1), dtype=tn.T)


def place_concatenated(theta, d):             # [sin | cos] halves
    Y = np.empty((theta.shape[0], d), dtype=tn.T)
    half = (d + 1) // 2
    Y[:, :half] = np.sin(theta)
    Y[:, half:] = np.cos(theta[:, : d - half])
    return Y


def place_cos_first(theta, d):                # cos in the even columns
    Y = np.empty((theta.shape[0], d), dtype=tn.T)
    Y[:, 0::2] = np.cos(theta)
    Y[:, 1::2] = np.sin(theta[:, : d // 2])
    return Y


def place_odd_zero_column(theta, d):          # odd d: the last column 0 (fairseq's pad)
    Y = ORIGINAL["place_sin_cos"](theta, d)
    if d % 2 == 1:
        Y[:, -1] = 0
    return Y


def frequencies_d_minus_1(d, base):           # b^(-2i/(d-1))
    i2 = (2 * np.arange((d + 1) // 2)).astype(tn.T)
    return np.exp(i2 * (-np.log(T(base)) / T(d - 1)))


def frequencies_pair_index(d, base):          # b^(-i/d): arange(d/2), the 2 forgotten
    i = np.arange((d + 1) // 2).astype(tn.T)
    return np.exp(i * (-np.log(T(base)) / T(d)))


def frequencies_base_10000(d, base):          # the base parameter ignored
    return ORIGINAL["frequencies"](d, 10000.0)


def variance_unbiased(x, mu):                 # / (d - 1)
    dev = x - mu[..., None]
    return np.sum(dev * dev, axis=-1, dtype=tn.T) / T(x.shape[-1] - 1)


def variance_one_pass(x, mu):                 # E[x^2] - mu^2
    return np.mean(x * x, axis=-1, dtype=tn.T) - mu * mu


def inverse_std_eps_outside(var, eps):        # 1/(sqrt(var) + eps)
    return T(1) / (np.sqrt(var) + eps)


def inverse_std_eps_fixed(var, eps):          # eps hard-coded to 1e-5
    return T(1) / np.sqrt(var + T(1e-5))


def mean_zero(x):                             # RMSNorm: no mean subtraction
    return np.zeros(x.shape[:-1], dtype=tn.T)


def affine_swapped(z, gamma, beta):           # beta z + gamma
    return beta * z + gamma


def temperature_multiplied(z, tau):           # z * tau
    return z * T(tau)


def untied_read_as_linear(W):                 # the d x |V| buffer read as |V| x d
    return tn.cls(W).reshape(W.shape[1], W.shape[0]).T


def tied_buffer_read_as_d_by_v(E):            # E's |V| x d buffer read as d x |V|
    return E.reshape(E.shape[1], E.shape[0])


def untied_logits_no_bias(h, W, b):           # the bias dropped
    return tn.matmul(tn.cls(h), tn.untied_weight(W))


def partial_one_more(h, E, F, k):             # the first k + 1 tokens shared
    ks = min(k + 1, E.shape[0])
    return np.concatenate([tn.matmul(h, E[:ks].T), tn.matmul(h, F[:, ks - k:])], axis=1)


def partial_last_k(h, E, F, k):               # the last k tokens shared, not the first
    V = E.shape[0]
    return np.concatenate([tn.matmul(h, F), tn.matmul(h, E[V - k:].T)], axis=1)


def adaptive_swapped(alpha, uE, uF):          # alpha and 1 - alpha swapped
    a = T(alpha)
    return (T(1) - a) * uE + a * uF


def transformed_T_transposed(h, Tm, E):       # h T^T E^T
    return tn.matmul(tn.matmul(h, Tm.T), E.T)


def weights_unnormalised(alpha):              # alpha used as is
    return alpha


def reduce_mean_over_n(loss, red, counted):   # mean over n, ignored rows counted
    if red == "mean":
        return np.array([np.sum(loss, dtype=tn.T) / T(loss.shape[0])
                         if loss.shape[0] else math.nan], dtype=tn.T)
    return ORIGINAL["reduce_losses"](loss, red, counted)


def reduce_none_counted_zero(loss, red, counted):   # mean of no counted row is 0
    if red == "mean" and not np.any(counted):
        return np.array([0.0], dtype=tn.T)
    return ORIGINAL["reduce_losses"](loss, red, counted)


def target_losses_clamped(u, tg, counted):    # -log max(y, 1e-30): a masked target finite
    lp = tn.log_softmax(u, 1.0)
    loss = np.zeros(u.shape[0], dtype=tn.T)
    rows = np.nonzero(counted)[0]
    loss[rows] = -np.maximum(lp[rows, tg[rows]], T(math.log(1e-30)))
    return loss


def read_targets_default_ignore(c):           # ignore_index hard-coded to -100
    tg = c.i("targets")
    return tg, c.word("reduction"), tg != -100


def rank_ties_highest(row):                   # ties by decreasing index
    idx = np.arange(row.shape[0])
    return np.lexsort((-idx, -row))


def top_k_keep_ties(order, row, k):           # every token tied with the k-th kept
    if k > len(order):
        return order
    return order[row[order] >= row[order[k - 1]]]


def top_k_one_more(order, row, k):            # k + 1 kept (an index compared with >)
    return order[:k + 1]


def reaches_strictly(cumulative, top_p):      # > top_p
    return cumulative > T(top_p)


def top_p_on_untempered(u, tau, p):           # top-p reads softmax(u), not softmax(u/tau)
    return tn.softmax(u, 1.0)


def top_p_cut_unrenormalised(order, p, top_p):   # the kept mass assumed to be 1
    cum = np.cumsum(p[order], dtype=tn.T)
    hit = np.nonzero(tn.reaches(cum, top_p))[0]
    return order[: hit[0] + 1] if len(hit) else order


def truncate_top_p_first(order, row, p_top, k, top_p):   # top-p, then top-k
    if top_p < 1.0:
        order = tn.top_p_cut(order, p_top, top_p)
    if k >= 1:
        order = tn.top_k_cut(order, row, k)
    return order


def walk_sorted(order, kept):                 # the CDF in ranked order
    return order


def first_at_or_above(r, C):                  # r <= C_i
    return np.nonzero(r <= C)[0]


def inverse_cdf_rank(q, walk, r):             # the rank in walk returned, not the token
    hit = tn.first_above(r, np.cumsum(q[walk], dtype=tn.T))
    return hit[0] if len(hit) else len(walk) - 1


def sample_row_unrenormalised_cdf(row, p, p_top, r, k, top_p):
    """probs renormalised, but the token drawn from the kept p as they are."""
    q, _ = ORIGINAL["sample_row"](row, p, p_top, r, k, top_p)
    kept = q > 0
    order = tn.rank_order(row)
    walk = tn.cdf_walk(order[kept[order]], kept)
    return q, tn.inverse_cdf(np.where(kept, p, T(0)), walk, r)


def argmax_highest(u):                        # the highest tied index
    return u.shape[1] - 1 - np.argmax(u[:, ::-1], axis=1)


def argmax_of_probabilities(u):               # the argmax of softmax(u), not of u
    return np.argmax(tn.softmax(u, 1.0), axis=1)


def learned_rows_wrapped(P, positions):       # p mod L
    return P[positions % P.shape[0]].reshape(len(positions), P.shape[1])


def positions_negative_only(positions, length):   # only p < 0 rejected
    if np.any(positions < 0):
        raise protocol.Reject("LMR_EPOS", "a negative position")


def learned_run_unchecked(start, n, length):
    pass


def op_embed_lookup_clamped(c):               # ids clamped into the table
    E = tn.cls(c.f("E"))
    ids = np.clip(c.i("ids"), 0, E.shape[0] - 1)
    return {"Y": protocol.out_f(tn.gather_rows(E, ids))}


def check_embed_lookup_no_ids(c):
    validate.table(c, "E")


def check_embed_lookup_rows_read(c):          # finite-check only the rows read
    E = c.f("E", 2)
    validate.require_sizes("E", rows=E.shape[0], width=E.shape[1])
    ids = c.i("ids")
    validate.token_ids(ids, E.shape[0])
    validate.require_finite(E[ids], "E")


def onehot_unchecked(O):
    pass


def onehot_row_sums(O):                       # rows must sum to 1, nothing else
    if O.shape[0] and not np.all(np.sum(O, axis=1) == 1.0):
        raise protocol.Reject("LMR_EDOMAIN", "a row that does not sum to 1")


def log_softmax_via_log(u, tau=1.0):          # log(softmax(u))
    return np.log(tn.softmax(u, tau))


def scale_one(d, scale_by_sqrt_d):            # scale_by_sqrt_d ignored
    return T(1)


def combine_scaled_sum(scale, tokens, positions):   # c (E[w] + P)
    return scale * (tokens + positions)


def positions_start_plus_one(start, n):       # the first token at start + 1
    return np.arange(start + 1, start + n + 1, dtype=np.int64)


def positions_start_ignored(start, n):        # the cached prefix forgotten
    return np.arange(0, n, dtype=np.int64)


def penalty_half(E, W):                       # 1/2 ||E - W^T||^2
    return ORIGINAL["tie_penalty"](E, W) / T(2)


def pull_half(lam, dloss):                    # the backward of that
    return T(lam) * dloss


def penalty_mean(E, W):                       # divided by |V| d
    return ORIGINAL["tie_penalty"](E, W) / T(E.size)


def pull_sign(lam, dloss):                    # E and W^T pushed apart
    return -T(2) * T(lam) * dloss


def lens_last_layer_stats(X, gamma, beta, eps):   # every layer with the last one's stats
    mu, r = tn.row_stats(X[-1], eps)
    return np.stack([tn.layernorm(X[l], gamma, beta, eps, (mu, r)) for l in range(X.shape[0])])


def lens_no_affine(X, gamma, beta, eps):      # the final LayerNorm without gamma, beta
    return tn.layernorm(X, np.ones_like(gamma), np.zeros_like(beta), eps)


def rows_not_all_masked_unchecked(u):
    pass


def scaled_all_masked_uniform(u, tau):        # a row of only -inf read as zeros
    u = np.where(np.all(u == -math.inf, axis=1, keepdims=True), T(0), u)
    return ORIGINAL["scaled"](u, tau)


def scaled_mask_fill(u, tau):                 # -inf replaced by -10000 before softmax
    return ORIGINAL["scaled"](np.where(u == -math.inf, T(-1e4), u), tau)


def softmax_mask_after(u, tau=1.0):           # softmax over every entry, then the mask
    masked = u == -math.inf
    y = ORIGINAL["softmax"](np.where(masked, T(0), u), tau)
    return np.where(masked, T(0), y)


def row_sum_batch_axis(e):                    # normalised over the batch (dim=0)
    return np.sum(e, axis=0, keepdims=True, dtype=tn.T)


def tied_dE_output_only(dE_input, dE_output):
    return dE_output


def tied_dE_input_only(dE_input, dE_output):
    return dE_input


def weights_mean_no_1_over_m(red, counted, dloss):   # mean: w = dloss
    if red == "mean":
        return np.full(counted.shape[0], dloss[0], dtype=tn.T)
    return ORIGINAL["ce_row_weights"](red, counted, dloss)


def weights_mean_over_n(red, counted, dloss):        # mean: w = dloss / n
    if red == "mean":
        return np.full(counted.shape[0], dloss[0] / T(counted.shape[0]), dtype=tn.T)
    return ORIGINAL["ce_row_weights"](red, counted, dloss)


def weights_none_ignore_dloss(red, counted, dloss):  # none: w = 1
    if red == "none":
        return np.ones(counted.shape[0], dtype=tn.T)
    return ORIGINAL["ce_row_weights"](red, counted, dloss)


def ce_backward_nan_mean(u, tg, red, counted, dloss):
    """mean of no counted row: w = dloss/0 = NaN, and the ignored rows are
    masked by a multiplication, 0 * NaN = NaN."""
    n, V = u.shape
    m = int(np.count_nonzero(counted))
    if red == "mean":
        with np.errstate(all="ignore"):
            w = np.full(n, dloss[0] / T(m) if m else math.nan, dtype=tn.T)
    else:
        w = ORIGINAL["ce_row_weights"](red, counted, dloss)
    y = tn.softmax(u, 1.0)
    rows = np.nonzero(counted)[0]
    target = np.zeros((n, V), dtype=tn.T)
    target[rows, tg[rows]] = T(1)
    return (w[:, None] * (y - target)) * counted[:, None].astype(tn.T)


def to_bf16(x):
    """x rounded to bfloat16 (to nearest, ties to even), back in the class dtype."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return bits.astype(np.uint32).view(np.float32).astype(tn.T)


def label_grad_bf16_probs(y, label, w):      # y rounded to bf16 before the label is subtracted
    return w[:, None] * (to_bf16(y) - label)


def accumulate_bf16(total, term):            # the running sums across chunks kept in bf16
    return to_bf16(total + term)


def vocab_chunks_short(V):                   # each chunk ends one token early: [first, first + C - 1)
    return [(first, min(first + tn.LCE_CHUNK - 1, V)) for first in range(0, V, tn.LCE_CHUNK)]


def layernorm_backward_unbiased(x, g, eps, dY):   # the variance's share over d - 1
    d = x.shape[1]
    mu, r = tn.row_stats(x, eps)
    z = (x - mu[:, None]) * r[:, None]
    gd = g * dY
    gbar = np.sum(gd, axis=1, dtype=tn.T) / T(d)
    m = np.sum(gd * z, axis=1, dtype=tn.T) / T(d - 1)
    dx = r[:, None] * (gd - gbar[:, None] - z * m[:, None])
    return dx, np.sum(dY * z, axis=0, dtype=tn.T), np.sum(dY, axis=0, dtype=tn.T)


def layernorm_backward_no_mean(x, g, eps, dY):    # the mean's share forgotten
    d = x.shape[1]
    mu, r = tn.row_stats(x, eps)
    z = (x - mu[:, None]) * r[:, None]
    gd = g * dY
    m = np.sum(gd * z, axis=1, dtype=tn.T) / T(d)
    dx = r[:, None] * (gd - z * m[:, None])
    return dx, np.sum(dY * z, axis=0, dtype=tn.T), np.sum(dY, axis=0, dtype=tn.T)


def layernorm_backward_dgamma_centred(x, g, eps, dY):   # dgamma = sum dY (x - mu)
    dx, _, dbeta = ORIGINAL["layernorm_backward"](x, g, eps, dY)
    mu, _ = tn.row_stats(x, eps)
    return dx, np.sum(dY * (x - mu[:, None]), axis=0, dtype=tn.T), dbeta


def scatter_overwrite(rows, index, nrows):    # the last occurrence wins
    out = np.zeros((nrows, rows.shape[1]), dtype=tn.T)
    for t, v in enumerate(index):
        out[v] = rows[t]
    return out


def dtau_sign(dl, zeta):                      # +sum dlogits zeta
    return -ORIGINAL["dtau_of"](dl, zeta)


def dtau_masked_terms(dl, zeta):              # masked entries summed too: 0 * -inf
    return np.array([-np.sum(dl * zeta, dtype=tn.T)], dtype=tn.T)


def softmax_grad_no_tau(y, G, tau):           # the 1/tau forgotten
    return ORIGINAL["softmax_input_grad"](y, G, 1.0)


def log_softmax_grad_no_sum(y, G, tau):       # G - y G instead of G - y sum G
    return (G - y * G) / T(tau)


def relu_grad_at_zero_one(a):                 # a >= 0
    return a >= 0


def relu_identity(a):                         # the activation forgotten
    return a


def dalpha_without_free(dU, uE, uF):          # the -h F term forgotten
    return np.sum(dU * uE, dtype=tn.T)


def alpha_grad_unnormalised(ck, abar, A):     # dL/d abar returned as dL/d alpha
    return ck


def weight_grad_zero_weight_nan(omega, p, G, y, abar):   # omega G / abar, also at abar = 0
    with np.errstate(all="ignore"):
        return np.sum(omega * G, dtype=tn.T) / abar


def untied_dW_reshaped(h, dU):                # (dU^T h) reshaped, not transposed
    return (dU.T @ h).reshape(h.shape[1], dU.shape[1])


def tied_dE_reshaped(dU, h):                  # (h^T dU) reshaped to |V| x d, not transposed
    return (h.T @ dU).reshape(dU.shape[1], h.shape[1])


def transform_grad_transposed(h, r):          # dT = r^T h: the square dT transposed
    return r.T @ h


def partial_dE_every_row(dU, h, k, V):        # rows past k get a gradient too
    return dU.T @ h


def gated_no_tanh(h, W_comp, b_comp, W_out, b_out):
    gs, us = [], []
    for k in range(W_comp.shape[0]):
        g = tn.matmul(h, W_comp[k]) + b_comp[k]
        u = tn.matmul(g, W_out)
        gs.append(g)
        us.append(u if b_out is None else u + b_out)
    return gs, us


def gated_comp_transposed(h, W_comp, b_comp, W_out, b_out):   # tanh(h W_k^T + b_k)
    return ORIGINAL["gated_components"](h, np.transpose(W_comp, (0, 2, 1)), b_comp, W_out, b_out)


def mix_log_direct(logw, lps):                # log sum exp without factoring out the max
    return np.log(np.sum(np.exp(logw[:, :, None] + lps), axis=0))


def op_param_count_float(c):                  # the counts in binary64
    V, d, B = float(c.integer("vocab")), float(c.integer("d")), float(c.integer("block_params"))
    emb = V * d
    untied = 2.0 * emb + B
    return {"untied": protocol.out_i([int(untied)]), "tied": protocol.out_i([int(emb + B)]),
            "saving": protocol.out_i([int(emb)]),
            "relative_reduction": protocol.out_f(np.array([emb / untied], dtype=tn.T))}


def op_param_count_over_tied(c):              # saving / tied
    out = ORIGINAL["op_param_count"](c)
    V, d, B = c.integer("vocab"), c.integer("d"), c.integer("block_params")
    out["relative_reduction"] = protocol.out_f(np.array([T(V * d) / T(V * d + B)], dtype=tn.T))
    return out


def alpha_only_finite(alpha):                 # alpha outside [0, 1] accepted
    validate.require_finite_number(alpha, "alpha")


def temperature_zero_accepted(tau):           # tau >= 0 accepted
    validate.require_finite_number(tau, "tau")
    if tau < 0.0:
        raise protocol.Reject("LMR_EDOMAIN", "tau < 0")


def eps_zero_accepted(eps):                   # eps >= 0 accepted
    validate.require_finite_number(eps, "eps")
    if eps < 0.0:
        raise protocol.Reject("LMR_EDOMAIN", "eps < 0")


def ignore_index_unchecked(index, vocab):     # a real token may be ignored
    pass


def targets_negative_wrap(c, n, vocab):       # negative targets index from the end
    tg = c.i("targets")
    validate.require_equal("targets' length", tg.shape[0], n)
    ig = c.integer("ignore_index")
    validate.ignore_index(ig, vocab)
    counted = tg != ig
    if np.any(tg[counted] >= vocab):
        raise protocol.Reject("LMR_EINDEX", "a target >= |V|")
    return tg, counted


def read_targets_wrapped(c):
    tg, red, counted = ORIGINAL["read_targets"](c)
    return np.where(counted & (tg < 0), tg + (c.f("logits").shape[1] if c.has("logits")
                                              else c.f("E").shape[0]), tg), red, counted


def masked_upstream_accepted(u, G):           # PyTorch's: G_i at a masked entry passes
    pass


def counted_targets_finite_unchecked(u, tg, counted):   # PyTorch's y - onehot at -inf
    pass


def uniform_numbers_rounded(r):               # the range checked after rounding to the class
    ORIGINAL_CHECK["uniform_numbers"](tn.cls(r).astype(np.float64))


def logit_values_nan_passed(u):               # only +inf rejected: NaN propagates
    if np.any(u == math.inf):
        raise protocol.Reject("LMR_ENONFINITE", "a +inf logit")


def uniform_numbers_closed(r):                # r = 1 accepted
    validate.require_finite(r, "r")
    if np.any(r < 0.0) or np.any(r > 1.0):
        raise protocol.Reject("LMR_EDOMAIN", "an r outside [0, 1]")


def check_sample_top_k_vocab(c):              # top_k > |V| refused (torch.topk raises)
    ORIGINAL_CHECK["check_sample"](c)
    if c.integer("top_k") > c.f("logits").shape[1]:
        raise protocol.Reject("LMR_EDOMAIN", "top_k > |V|")


# --------------------------------------------------------------- the list --

# attention_weights (spec/attention.md)

def causal_future_one_more(i, j, offset):     # j > i + offset + 1: one future key read
    return j > i + offset + 1


def causal_offset_top_left(n_q, n_k):         # PyTorch's is_causal: tril(diagonal=0)
    return 0


def score_scale_over_d(d_k):                  # 1/d_k instead of 1/sqrt(d_k)
    return T(1.0) / T(d_k)


def attention_softmax_over_queries(scores):   # softmax over dim=0, the queries
    return tn.softmax(scores.T).T


def padding_keys_inverted(key_mask):          # key_mask read as key_padding_mask (1 = padding)
    return key_mask == 1


def backward_scale_forgotten(d_k):            # dQ = dS K, dK = dS^T Q: the 1/sqrt(d_k) dropped
    return T(1.0)


def check_attention_backward_masked_rejected(c):  # a non-zero dweights at a masked key refused
    ORIGINAL_CHECK["check_attention_weights_backward"](c)
    key_mask = c.i("key_mask") if c.has("key_mask") else None
    masked = validate.attention_mask(c.f("Q").shape[0], c.f("K").shape[0],
                                     c.flag("causal"), key_mask)
    if np.any(masked & (c.f("dweights") != 0.0)):
        raise protocol.Reject("LMR_EDOMAIN", "a non-zero upstream gradient at a masked key")


def rows_keep_a_key_unchecked(masked):
    pass


def attention_softmax_mask_fill(scores):      # masked scores filled with -1e9, not -inf
    return ORIGINAL["attention_softmax"](np.where(scores == -math.inf, T(-1e9), scores))


def pca_uncentred(X, mu):                       # no centring: the SVD of X itself
    return X


def pca_divisor_n(n):                            # / n: the maximum-likelihood variance
    return n


def pca_ascending(lam, V):                       # eigh's ascending order kept
    order = np.argsort(lam, kind="stable")
    return lam[order], V[:, order]


def pca_sign_ignored(V):                         # the eigensolver's own sign
    return V


def pca_sign_first_nonzero(V):                   # the first non-zero entry made positive
    first = np.argmax(V != 0, axis=0)
    signs = np.sign(V[first, np.arange(V.shape[1])])
    signs[signs == 0] = 1
    return V * signs


def pca_one_row_accepted(X):                     # n = 1 accepted (then a 0/0 variance)
    if X.shape[1] < 1 or X.shape[0] < 1:
        raise protocol.Reject("LMR_EDIM", "pca needs n >= 1 and d >= 1")


V_, N_ = validate, tn

MUTANTS = [
    # the forward ops
    Mutant("softmax-no-max", "softmax, log-softmax and cross-entropy as exp(u/tau)/sum exp(u/tau), "
           "no max subtraction (overflows)", [(N_, "row_max", row_max_zero)]),
    Mutant("sinusoid-concat", "sinusoid columns as concatenated halves [sin | cos] instead of "
           "interleaved (tensor2tensor, fairseq)", [(N_, "place_sin_cos", place_concatenated)],
           decision="sinusoid-layout"),
    Mutant("sinusoid-odd-zero-column", "odd d: the last column padded with 0 "
           "(fairseq) instead of its unpaired sine", [(N_, "place_sin_cos", place_odd_zero_column)],
           decision="sinusoid-odd-width"),
    Mutant("sinusoid-cos-first", "sinusoid columns cos, sin, cos, ... instead of sin, cos, ...",
           [(N_, "place_sin_cos", place_cos_first)]),
    Mutant("positions-from-one", "sinusoid positions counted from 1 (row p holds PE(p+1))",
           [(N_, "encoded_positions", lambda p: p + 1)], decision="sinusoid-origin"),
    Mutant("sinusoid-d-minus-1", "sinusoid frequency b^(-2i/(d-1)) instead of b^(-2i/d)",
           [(N_, "frequencies", frequencies_d_minus_1)], decision="sinusoid-exponent"),
    Mutant("sinusoid-pair-index", "sinusoid frequency b^(-i/d): arange(d/2) without the factor 2",
           [(N_, "frequencies", frequencies_pair_index)]),
    Mutant("sinusoid-base-ignored", "the sinusoid's base parameter ignored (always 10000)",
           [(N_, "frequencies", frequencies_base_10000)]),
    Mutant("ln-unbiased-var", "LayerNorm variance divided by d-1 (unbiased) instead of d",
           [(N_, "row_variance", variance_unbiased)], decision="layernorm-biased-variance"),
    Mutant("ln-eps-outside", "LayerNorm 1/(sqrt(var)+eps) instead of 1/sqrt(var+eps)",
           [(N_, "inverse_std", inverse_std_eps_outside)], decision="layernorm-eps-inside"),
    Mutant("ln-eps-ignored", "LayerNorm eps hard-coded to 1e-5, the parameter ignored",
           [(N_, "inverse_std", inverse_std_eps_fixed)]),
    Mutant("ln-rms", "LayerNorm without the mean subtraction (RMSNorm)",
           [(N_, "row_mean", mean_zero)]),
    Mutant("ln-one-pass", "LayerNorm variance by the one-pass formula E[x^2] - mu^2",
           [(N_, "row_variance", variance_one_pass)]),
    Mutant("ln-affine-swapped", "LayerNorm beta z + gamma: the affine parameters swapped",
           [(N_, "affine", affine_swapped)]),
    Mutant("temperature-multiply", "temperature multiplied instead of divided: z = (u - a) * tau",
           [(N_, "apply_temperature", temperature_multiplied)]),
    Mutant("untied-no-transpose", "untied head reads the d x |V| buffer of W as a |V| x d nn.Linear weight",
           [(N_, "untied_weight", untied_read_as_linear)]),
    Mutant("tied-buffer-misread", "tied head reads E's |V| x d buffer as a d x |V| matrix "
           "(a reshape where a transpose belongs)", [(N_, "tied_weight", tied_buffer_read_as_d_by_v)]),
    Mutant("untied-bias-dropped", "untied head without its bias b", [(N_, "untied_logits", untied_logits_no_bias)]),
    Mutant("partial-off-by-one", "partial tying shares the first k+1 tokens (1-based slice read as inclusive)",
           [(N_, "partial_logits", partial_one_more)]),
    Mutant("partial-last-k", "partial tying shares the last k tokens instead of the first k",
           [(N_, "partial_logits", partial_last_k)], decision="partial-first-k"),
    Mutant("transformed-T-transposed", "transformed head u = h T^T E^T (T read in the other orientation)",
           [(N_, "transformed_logits", transformed_T_transposed)]),
    Mutant("adaptive-swapped", "adaptive head with alpha and 1-alpha swapped",
           [(N_, "adaptive_mix", adaptive_swapped)]),
    Mutant("adaptive-unchecked", "adaptive head accepts alpha outside [0, 1] (extrapolates)",
           [(V_, "unit_interval", alpha_only_finite)], decision="adaptive-alpha-range"),
    Mutant("mlp-no-relu", "MLP head without its ReLU", [(N_, "relu", relu_identity)]),
    Mutant("mos-unnormalised", "mixture of softmaxes with the fixed weights not normalised",
           [(N_, "mixture_weights", weights_unnormalised)], decision="mixture-normalised"),
    Mutant("mos-gated-no-tanh", "gated mixture without the tanh of the components",
           [(N_, "gated_components", gated_no_tanh)]),
    Mutant("mos-gated-comp-transposed", "gated mixture tanh(h W_j^T + b_j): the square W_j transposed",
           [(N_, "gated_components", gated_comp_transposed)]),
    Mutant("mos-logprobs-direct", "mixture log-probabilities as log sum exp without the largest term "
           "factored out (-inf where y underflows)", [(N_, "mix_log", mix_log_direct)],
           decision="mixture-log-space"),
    Mutant("ce-mean-over-all", "cross-entropy mean divides by n, ignored positions included",
           [(N_, "reduce_losses", reduce_mean_over_n)], decision="ce-mean-counted"),
    Mutant("ce-all-ignored-zero", "cross-entropy mean returns 0 when every target is ignored",
           [(N_, "reduce_losses", reduce_none_counted_zero)], decision="ce-all-ignored-nan"),
    Mutant("ce-masked-target-clamped", "cross-entropy -log max(y, 1e-30): a masked "
           "target gives a finite loss instead of +inf",
           [(N_, "target_losses", target_losses_clamped)], decision="ce-masked-target-infinite"),
    Mutant("ce-ignore-index-default", "cross-entropy ignores targets equal to -100, whatever ignore_index says",
           [(N_, "read_targets", read_targets_default_ignore)]),
    Mutant("topk-tie-highest", "top-k (and lens ranking) breaks ties by highest index",
           [(N_, "rank_order", rank_ties_highest)], decision="rank-ties-lowest"),
    Mutant("topk-keep-ties", "top-k keeps every token tied with the k-th (Hugging Face TopKLogitsWarper)",
           [(N_, "top_k_cut", top_k_keep_ties)], decision="top-k-exactly-k"),
    Mutant("topk-one-more", "top-k keeps k + 1 tokens (an index compared with > instead of >=)",
           [(N_, "top_k_cut", top_k_one_more)]),
    Mutant("topk-over-vocab-rejected", "top_k larger than |V| refused instead of keeping every token "
           "(torch.topk raises)", [(V_, "check_sample", check_sample_top_k_vocab)],
           decision="top-k-fewer-tokens"),
    Mutant("topp-strict", "top-p keeps the shortest prefix with cumulative probability > top_p (not >=)",
           [(N_, "reaches", reaches_strictly)], decision="top-p-reaches"),
    Mutant("topp-before-temperature", "top-p computed on softmax(u), before the temperature",
           [(N_, "top_p_probs", top_p_on_untempered)], decision="temperature-first"),
    Mutant("topp-before-topk", "top-p applied before top-k", [(N_, "truncate", truncate_top_p_first)],
           decision="top-k-then-top-p"),
    Mutant("topp-unrenormalised", "top-p after top-k reads the kept probabilities without "
           "renormalising them (their mass assumed to be 1)",
           [(N_, "top_p_cut", top_p_cut_unrenormalised)], decision="top-p-renormalised"),
    Mutant("cdf-sorted-order", "inverse CDF walks the tokens in sorted (decreasing logit) order",
           [(N_, "cdf_walk", walk_sorted)], decision="cdf-index-order"),
    Mutant("cdf-le", "inverse CDF picks the smallest i with r <= C_i (not r < C_i)",
           [(N_, "first_above", first_at_or_above)], decision="cdf-strict"),
    Mutant("cdf-unrenormalised", "the token drawn from the kept probabilities before their "
           "renormalisation (probs itself renormalised)",
           [(N_, "sample_row", sample_row_unrenormalised_cdf)], decision="sample-renormalised"),
    Mutant("sample-kept-rank", "the sampled token is its position among the kept tokens, not its id",
           [(N_, "inverse_cdf", inverse_cdf_rank)]),
    Mutant("argmax-last-tie", "argmax returns the highest index among tied maxima",
           [(N_, "argmax_rows", argmax_highest)], decision="argmax-lowest"),
    Mutant("argmax-of-probs", "argmax of the rounded probabilities instead of the logits",
           [(N_, "argmax_rows", argmax_of_probabilities)], decision="argmax-of-logits",
           unresolved={"fp16": "binary16 cannot hold two logits close enough "
                       "that their binary32 probabilities are equal"}),
    Mutant("position-wraparound", "learned position p >= L read as row p mod L instead of an error",
           [(V_, "learned_positions", positions_negative_only), (V_, "learned_run", learned_run_unchecked),
            (N_, "learned_rows", learned_rows_wrapped)], decision="no-wraparound"),
    Mutant("lookup-clamp", "token ids clamped to [0, |V|-1] instead of rejected",
           [(V_, "check_embed_lookup", check_embed_lookup_no_ids),
            (N_, "op_embed_lookup", op_embed_lookup_clamped)], decision="no-clamp"),
    Mutant("lookup-unread-nan", "non-finite entries checked only in the rows read",
           [(V_, "check_embed_lookup", check_embed_lookup_rows_read)], decision="whole-table-finite"),
    Mutant("onehot-unchecked", "one-hot product computed without checking the matrix is one-hot",
           [(V_, "onehot_matrix", onehot_unchecked)]),
    Mutant("onehot-row-sums", "a one-hot matrix checked only by its row sums (0.5 + 0.5 accepted)",
           [(V_, "onehot_matrix", onehot_row_sums)]),
    Mutant("log-softmax-via-log", "log_softmax computed as log(softmax) (underflows to -inf)",
           [(N_, "log_softmax", log_softmax_via_log)], decision="log-softmax-form"),
    Mutant("missing-sqrt-d", "composite input ignores scale_by_sqrt_d", [(N_, "token_scale", scale_one)]),
    Mutant("sqrt-d-on-sum", "composite input scales the sum: sqrt(d) (E[w] + P)",
           [(N_, "combine", combine_scaled_sum)], decision="sqrt-d-token-only"),
    Mutant("start-plus-one", "composite positions from start + 1 (an off-by-one in the cache offset)",
           [(N_, "compose_positions", positions_start_plus_one)]),
    Mutant("start-ignored", "composite positions from 0 whatever start is (the cached prefix forgotten)",
           [(N_, "compose_positions", positions_start_ignored)]),
    Mutant("soft-tie-half", "soft-tying penalty with a factor 1/2",
           [(N_, "tie_penalty", penalty_half), (N_, "penalty_pull", pull_half)],
           decision="penalty-plain-sum"),
    Mutant("soft-tie-mean", "soft-tying penalty divided by |V| d (a mean of squares)",
           [(N_, "tie_penalty", penalty_mean)]),
    Mutant("lens-last-layer-stats", "logit lens normalises every layer with the last layer's LayerNorm statistics",
           [(N_, "lens_normalise", lens_last_layer_stats)], decision="lens-own-stats"),
    Mutant("lens-no-affine", "logit lens's final LayerNorm without gamma and beta",
           [(N_, "lens_normalise", lens_no_affine)]),
    Mutant("pca-uncentred", "PCA of the rows without subtracting the column mean",
           [(N_, "centred", pca_uncentred)], decision="pca-centred"),
    Mutant("pca-divisor-n", "PCA variances divided by n instead of n - 1",
           [(N_, "variance_divisor", pca_divisor_n)], decision="pca-divisor-n-minus-1"),
    Mutant("pca-ascending", "PCA components in ascending order of variance (eigh's order)",
           [(N_, "descending", pca_ascending)], decision="pca-descending"),
    Mutant("pca-sign-ignored", "PCA directions with the eigensolver's sign, no sign rule",
           [(N_, "signed_directions", pca_sign_ignored)], decision="pca-sign-rule",
           unresolved={"bf16": "no input lets bfloat16 decide a sign: a direction's "
                                  "bound is at least 0.66 (spec/coverage.md)"}),
    Mutant("pca-sign-first-nonzero", "PCA sign rule on the first non-zero entry, not the largest",
           [(N_, "signed_directions", pca_sign_first_nonzero)], decision="pca-sign-rule",
           unresolved={"bf16": "no input lets bfloat16 decide a sign: a direction's "
                                  "bound is at least 0.66 (spec/coverage.md)"}),
    Mutant("pca-one-row", "PCA accepts n = 1 (whose variance divides by n - 1 = 0)",
           [(V_, "pca_rows", pca_one_row_accepted)], decision="pca-one-row-invalid",
           single="pca/one-row is the one input with n = 1"),
    Mutant("all-masked-uniform", "a row of only -inf gives a uniform distribution instead of an error",
           [(V_, "rows_not_all_masked", rows_not_all_masked_unchecked),
            (N_, "scaled", scaled_all_masked_uniform)], decision="all-masked-invalid"),
    Mutant("mask-fill-1e4", "masked logits replaced by -10000 (BERT's additive mask) instead of kept -inf",
           [(N_, "scaled", scaled_mask_fill)]),
    Mutant("mask-after-softmax", "softmax over every entry (masked read as 0), the mask applied "
           "to the probabilities afterwards", [(N_, "softmax", softmax_mask_after)]),
    Mutant("softmax-batch-axis", "softmax normalised over the batch axis (dim=0)",
           [(N_, "row_sum", row_sum_batch_axis)]),
    Mutant("param-count-float", "parameter counts computed in binary64 (inexact past 2^53)",
           [(N_, "op_param_count", op_param_count_float)]),
    Mutant("relative-over-tied", "relative reduction as saving / tied instead of saving / untied",
           [(N_, "op_param_count", op_param_count_over_tied)]),
    # precision: binary32 where the testee claims fp64 (shows in fp64 only)
    Mutant("softmax-sum-binary32", "softmax's sum of exponentials accumulated in binary32",
           [(N_, "row_sum", in_binary32(ORIGINAL["row_sum"]))], shows=("fp64",)),
    Mutant("exp-binary32", "softmax's and log-softmax's exponentials in binary32 (a fast expf)",
           [(N_, "exponentials", in_binary32(ORIGINAL["exponentials"]))], shows=("fp64",)),
    Mutant("log-softmax-binary32", "log-softmax (and so cross-entropy) computed in binary32",
           [(N_, "log_softmax", in_binary32(ORIGINAL["log_softmax"]))], shows=("fp64",)),
    Mutant("head-matmul-binary32", "the heads' and the lens's products in binary32 (a float32 GEMM)",
           [(N_, "matmul", in_binary32(ORIGINAL["matmul"]))], shows=("fp64",)),
    Mutant("layernorm-stats-binary32", "LayerNorm's mean and variance accumulated in binary32",
           [(N_, "row_mean", in_binary32(ORIGINAL["row_mean"])),
            (N_, "row_variance", in_binary32(ORIGINAL["row_variance"]))], shows=("fp64",)),
    Mutant("sinusoid-binary32", "the sinusoid's frequencies in binary32 (a float32 div_term)",
           [(N_, "frequencies", in_binary32(ORIGINAL["frequencies"]))], shows=("fp64",)),
    # gradients (spec/gradients.md)
    Mutant("tied-one-path-output", "tied_lm: dE only from the head (the lookup's share dropped: dE = dE_output)",
           [(N_, "tied_dE", tied_dE_output_only)], decision="tied-gradient-sum"),
    Mutant("tied-copy", "tied_lm ties by copying E into the head, whose gradient lands on the copy: dE = dE_input",
           [(N_, "tied_dE", tied_dE_input_only)], decision="tied-gradient-sum"),
    Mutant("ce-mean-no-1-over-n", "cross-entropy backward (and tied_lm) with reduction mean misses the factor 1/m",
           [(N_, "ce_row_weights", weights_mean_no_1_over_m)]),
    Mutant("ce-ignored-counted", "cross-entropy backward mean divides by n, ignored rows counted in m",
           [(N_, "ce_row_weights", weights_mean_over_n)], decision="ce-mean-counted"),
    Mutant("ce-backward-dloss-ignored", "cross-entropy backward with reduction none ignores dloss (w = 1)",
           [(N_, "ce_row_weights", weights_none_ignore_dloss)]),
    Mutant("ce-backward-all-ignored-nan", "cross-entropy backward of a mean with every target ignored "
           "gives NaN (0 * NaN) instead of zeros", [(N_, "ce_backward", ce_backward_nan_mean)],
           decision="ce-backward-all-ignored"),
    Mutant("ln-backward-unbiased", "LayerNorm backward uses the unbiased variance 1/(d-1) (the forward the biased one)",
           [(N_, "layernorm_backward", layernorm_backward_unbiased)]),
    Mutant("ln-backward-no-mean", "LayerNorm backward without the mean's share (g - z m, no mean(g))",
           [(N_, "layernorm_backward", layernorm_backward_no_mean)]),
    Mutant("ln-backward-dgamma-centred", "LayerNorm backward dgamma = sum dY (x - mu), not sum dY z",
           [(N_, "layernorm_backward", layernorm_backward_dgamma_centred)]),
    Mutant("scatter-overwrite", "lookup backward (tokens, learned positions, tied_lm) overwrites repeated ids instead of adding",
           [(N_, "scatter_add", scatter_overwrite)], decision="gradient-accumulates"),
    Mutant("softmax-dtau-sign", "softmax and log-softmax backward return dtau with the wrong sign",
           [(N_, "dtau_of", dtau_sign)]),
    Mutant("dtau-masked-nan", "dtau sums over masked entries too (0 * -inf = NaN, PyTorch's autograd)",
           [(N_, "dtau_of", dtau_masked_terms)], decision="dtau-masked"),
    Mutant("softmax-backward-no-tau", "softmax backward without the factor 1/tau",
           [(N_, "softmax_input_grad", softmax_grad_no_tau)]),
    Mutant("log-softmax-backward-no-sum", "log-softmax backward G - y G instead of G - y sum G",
           [(N_, "log_softmax_input_grad", log_softmax_grad_no_sum)]),
    Mutant("mlp-relu-grad-at-zero-one", "MLP head backward takes ReLU's derivative as 1 at a = 0 (a >= 0 instead of a > 0)",
           [(N_, "relu_grad_mask", relu_grad_at_zero_one)], decision="relu-derivative-at-zero"),
    Mutant("adaptive-dalpha-missing-f", "adaptive head dalpha = sum dU * (h E^T), the -h F term forgotten",
           [(N_, "adaptive_dalpha", dalpha_without_free)]),
    Mutant("mos-fixed-alpha-unnormalised", "mixture dalpha = dL/d(abar) = c_i, the normalisation's Jacobian ignored",
           [(N_, "mixture_alpha_grad", alpha_grad_unnormalised)]),
    Mutant("mos-fixed-zero-weight-nan", "mixture dalpha of a zero weight as 0/0 = NaN (the log-space autograd)",
           [(N_, "component_weight_grad", weight_grad_zero_weight_nan)], decision="mixture-zero-weight"),
    Mutant("untied-dW-reshaped", "untied head backward dW = (dU^T h) reshaped to d x |V| instead of transposed",
           [(N_, "untied_weight_grad", untied_dW_reshaped)]),
    Mutant("tied-dE-reshaped", "tied head backward dE = (h^T dU) reshaped to |V| x d "
           "instead of transposed", [(N_, "tied_embedding_grad", tied_dE_reshaped)]),
    Mutant("transformed-dT-transposed", "transformed head backward dT = (dU E)^T h: the "
           "square dT transposed", [(N_, "transform_grad", transform_grad_transposed)]),
    Mutant("partial-dE-every-row", "partial tying backward gives the rows past k a gradient too",
           [(N_, "partial_embedding_grad", partial_dE_every_row)]),
    Mutant("soft-tie-pull-sign", "soft-tying backward pushes E and W^T apart (the penalty's sign)",
           [(N_, "penalty_pull", pull_sign)]),
    # validation that fails open
    Mutant("tau-zero-accepted", "tau = 0 accepted (and divided by)", [(V_, "temperature", temperature_zero_accepted)]),
    Mutant("eps-zero-accepted", "LayerNorm eps = 0 accepted", [(V_, "layernorm_eps", eps_zero_accepted)]),
    Mutant("ignore-index-unchecked", "ignore_index inside [0, |V|) accepted: a real token silently ignored",
           [(V_, "ignore_index", ignore_index_unchecked)]),
    Mutant("target-negative-wraps", "a negative target (not ignore_index) indexes from the end of the row",
           [(V_, "targets", targets_negative_wrap), (N_, "read_targets", read_targets_wrapped)]),
    Mutant("nan-logit-propagated", "a NaN logit accepted and propagated", [(V_, "logit_values", logit_values_nan_passed)]),
    Mutant("r-one-accepted", "sample accepts r = 1", [(V_, "uniform_numbers", uniform_numbers_closed)]),
    Mutant("r-checked-after-rounding", "r's range checked after rounding it to the class: "
           "r = 1 - 2^-53 refused in binary32", [(V_, "uniform_numbers", uniform_numbers_rounded)],
           decision="range-on-given-double",
           unresolved={"fp64": "binary64 holds every r exactly: rounding to the class "
                       "changes nothing"}),
    Mutant("masked-upstream-accepted", "log-softmax backward accepts a non-zero upstream "
           "gradient at a masked entry (PyTorch does)",
           [(V_, "masked_upstream_zero", masked_upstream_accepted)],
           decision="log-softmax-masked-upstream"),
    Mutant("ce-backward-masked-target-accepted", "cross-entropy backward answers a counted "
           "target at -inf with y - onehot (PyTorch does) instead of refusing it",
           [(V_, "counted_targets_finite", counted_targets_finite_unchecked)],
           decision="ce-backward-masked-target"),
    Mutant("attention-causal-off-by-one", "causal attention masks j > i + 1 + (n_k - n_q): "
           "each query reads one future key", [(N_, "causal_future", causal_future_one_more)],
           decision="causal-excludes-future"),
    Mutant("attention-causal-top-left", "causal mask aligned top-left (PyTorch's is_causal, "
           "tril(diagonal=0)) when n_q != n_k", [(N_, "causal_offset", causal_offset_top_left)],
           decision="causal-bottom-right"),
    Mutant("attention-scale-d", "scores scaled by 1/d_k instead of 1/sqrt(d_k)",
           [(N_, "score_scale", score_scale_over_d)], decision="attention-scale-sqrt-dk"),
    Mutant("attention-softmax-queries", "softmax over the wrong axis: the queries (dim=0)",
           [(N_, "attention_softmax", attention_softmax_over_queries)],
           decision="attention-softmax-over-keys"),
    Mutant("attention-padding-inverted", "key_mask read as PyTorch's key_padding_mask "
           "(1 marks the padding)", [(N_, "padding_keys", padding_keys_inverted)],
           decision="key-mask-one-attends"),
    Mutant("attention-fully-masked-uniform", "masked scores filled with -1e9 and a fully "
           "masked row accepted: a uniform row instead of an error",
           [(V_, "rows_keep_a_key", rows_keep_a_key_unchecked),
            (N_, "attention_softmax", attention_softmax_mask_fill)],
           decision="attention-fully-masked-invalid"),
    Mutant("attention-backward-unscaled", "attention's backward forgets the 1/sqrt(d_k) "
           "of the scores: dQ = dS K, dK = dS^T Q",
           [(N_, "backward_scale", backward_scale_forgotten)]),
    Mutant("attention-masked-upstream-rejected", "attention's backward refuses a non-zero "
           "upstream gradient at a masked key, as log-softmax's must (a weight of 0 is "
           "a finite output a loss may read)",
           [(V_, "check_attention_weights_backward", check_attention_backward_masked_rejected)],
           decision="attention-masked-upstream-accepted"),


    # the fused linear cross-entropy (linear_cross_entropy)
    Mutant("lce-bf16-prob-grad", "fused linear cross-entropy rounds the probabilities to bf16 "
           "before subtracting the label (a target with y near 1 gets gradient 0)",
           [(N_, "label_grad", label_grad_bf16_probs)]),
    Mutant("lce-bf16-accumulator", "fused linear cross-entropy keeps its running sums across "
           "vocabulary chunks (the sum of exponentials, dh) in bf16, the storage format",
           [(N_, "accumulate", accumulate_bf16)]),
    Mutant("lce-mean-over-n", "fused linear cross-entropy's mean (loss and gradient) divides by n, "
           "ignored rows counted", [(N_, "reduce_losses", reduce_mean_over_n),
                                    (N_, "ce_row_weights", weights_mean_over_n)],
           decision="ce-mean-counted"),
    Mutant("lce-chunk-short", "fused linear cross-entropy's vocabulary chunks end one token "
           "early (the last token of every full chunk skipped)",
           [(N_, "vocab_chunks", vocab_chunks_short)]),
]

BY_NAME = {m.name: m for m in MUTANTS}
assert len(BY_NAME) == len(MUTANTS), "two mutants with one name"


# ------------------------------------------------------------ serving one --

def serve_mutant(klass, name):
    """The protocol, as testee_numpy.py serves it, with mutant `name` applied."""
    mutant = BY_NAME[name]
    tn.configure(klass)
    hello = {"protocol": 1, "name": "numpy-%s-mutant-%s" % (klass, name), "class": klass,
             "ops": tn.OPS.names()}
    with mutant.applied():
        return protocol.serve(hello, tn.OPS, validate.validate)


# ------------------------------------------------------- the mutant loop --

# The classes whose responses are computed, and the classes judged from each.
JUDGED_FROM = {"fp64": ("fp64",), "fp32": ("fp32", "bf16", "fp16")}


class Case:
    def __init__(self, path, op, case):
        self.id = case["id"]
        self.path = path                # its vector file
        self.op = op
        self.classes = set(case["classes"])
        self.request = {"id": case["id"], "op": op, "params": case["params"],
                        "inputs": case["inputs"]}


def load_cases(vectors):
    """Every case of the vector files (the GPT-2-size and production-size
    files left out: their inputs are generated, and every mutant is caught
    without them)."""
    cases = []
    for path in sorted(glob.glob(os.path.join(vectors, "*.json"))):
        if path.endswith("_gpt2.json") or path.endswith("_large.json"):
            continue
        with open(path) as f:
            vector_file = json.load(f)
        cases += [Case(os.path.abspath(path), vector_file["op"], c) for c in vector_file["cases"]]
    return cases


def response_line(case):
    """The testee's response to one case, as it is patched now; a testee
    exception is a response with status "crash", which the judge refuses."""
    try:
        return json.dumps(protocol.respond(case.request, tn.OPS, validate.validate),
                          allow_nan=False)
    except Exception as e:  # noqa: BLE001 -- a mutant's crash is a verdict
        return json.dumps({"id": case.id, "status": "crash",
                           "reason": "testee exception %s: %s" % (type(e).__name__, e)})


def responses(cases, klass):
    """{case id: response line} for the cases judged from klass's arithmetic."""
    tn.configure(klass)
    judged = set(JUDGED_FROM[klass])
    return {c.id: response_line(c) for c in cases if c.classes & judged}


def judge(runner, lines, klass, files, workdir):
    """The ids of the cases lmr-run fails (any failing verdict) among lines,
    judged offline in klass; lines is {id: response line}, files the vector
    files that hold those cases (lmr-run reads only them: a directory of
    links to them)."""
    if not lines:
        return []
    results = os.path.join(workdir, "results-%s.jsonl" % klass)
    report = os.path.join(workdir, "report-%s.json" % klass)
    vectors = os.path.join(workdir, "vectors-%s" % klass)
    os.mkdir(vectors)
    for path in files:
        os.symlink(path, os.path.join(vectors, os.path.basename(path)))
    with open(results, "w") as f:
        f.write("\n".join(lines.values()) + "\n")
    command = [runner, "--vectors", vectors, "--results", results, "--class", klass,
               "--report", report]
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode not in (0, 1):
        raise RuntimeError("lmr-run exited %d: %s" % (done.returncode, done.stderr.strip()))
    with open(report) as f:
        verdicts = json.load(f)["cases"]
    return [c["id"] for c in verdicts
            if c["verdict"] not in ("pass", "unsupported") and c["id"] in lines]


class Loop:
    """The state shared by the workers: the cases and the correct responses."""

    def __init__(self, runner, cases, correct):
        self.runner, self.cases, self.correct = runner, cases, correct


LOOP = None


def caught_by(name):
    """{class: [failing case ids]} for mutant `name` in every judged class."""
    mutant = BY_NAME[name]
    file_of = {c.id: c.path for c in LOOP.cases}
    result = {}
    for klass, judged in JUDGED_FROM.items():
        with mutant.applied():
            got = responses(LOOP.cases, klass)
        changed = {i: line for i, line in got.items() if line != LOOP.correct[klass][i]}
        files = {file_of[i] for i in changed}
        for judged_class in judged:
            with tempfile.TemporaryDirectory() as workdir:
                result[judged_class] = judge(LOOP.runner, changed, judged_class, files, workdir)
    return name, result


def correct_failures(runner, cases, correct):
    """The correct testee's own failures in every judged class (must be none)."""
    failures = {}
    for klass, judged in JUDGED_FROM.items():
        for judged_class in judged:
            with tempfile.TemporaryDirectory() as workdir:
                failures[judged_class] = judge(runner, correct[klass], judged_class,
                                               {c.path for c in cases}, workdir)
    return failures




def verdict_of(mutant, caught, min_cases):
    """'ok' or the reason the mutant does not meet the rule: min_cases
    failing cases in every class its bug shows in (one where its `single`
    says only one case can catch it)."""
    for klass in mutant.shows:
        n = len(caught.get(klass, []))
        if n == 0:
            problem = "MISSED in %s" % klass
        elif n < min_cases and mutant.single is None:
            problem = "caught by %d case(s) only in %s" % (n, klass)
        else:
            continue
        return problem if mutant.pending is None else "pending (%s): %s" % (mutant.pending, problem)
    return "ok"


def report(mutants, results, min_cases, out):
    """The per-mutant table and the score per class; returns the number of
    mutants that break the rule."""
    bad = 0
    out.write("%-30s %s  %s\n" % ("mutant", "  ".join("%5s" % k for k in CLASS_ORDER),
                                   "two catching cases (fp64; fp32 when fp64 does not show it)"))
    for mutant in mutants:
        caught = results[mutant.name]
        v = verdict_of(mutant, caught, min_cases)
        bad += v != "ok" and not v.startswith("pending")
        counts = "  ".join("%5d" % len(caught.get(k, [])) if k in mutant.shows or caught.get(k)
                           else "    -" for k in CLASS_ORDER)
        first = caught.get(mutant.shows[0], [])[:2]
        out.write("%-30s %s  %s%s\n" % (mutant.name, counts, ", ".join(first),
                                        "" if v == "ok" else "   <-- " + v))
    out.write("\nmutation score per class (caught / mutants whose bug shows in the class):\n")
    for klass in CLASS_ORDER:
        showing = [m for m in mutants if klass in m.shows]
        caught = [m for m in showing if results[m.name].get(klass)]
        two = [m for m in showing if len(results[m.name].get(klass, [])) >= 2]
        if klass in ("bf16", "fp16"):
            showing = [m for m in mutants if "fp32" in m.shows]
            caught = [m for m in showing if results[m.name].get(klass)]
            two = [m for m in showing if len(results[m.name].get(klass, [])) >= 2]
            out.write("  %s (fp32 arithmetic judged by the %s bounds): %d of %d caught, "
                      "%d by two cases or more\n" % (klass, klass, len(caught), len(showing), len(two)))
        else:
            out.write("  %s: %d of %d caught, %d by two cases or more\n"
                      % (klass, len(caught), len(showing), len(two)))
    out.write("  (%d mutants in all; %d show in fp64 only)\n"
              % (len(mutants), sum(1 for m in mutants if m.shows == ("fp64",))))
    return bad


def markdown(mutants, results, path):
    """The table of spec/protocol.md#mutants: each mutant with its two catching cases."""
    with open(path, "w") as f:
        f.write("| mutant | the bug | fp64 | fp32 | bf16 | fp16 | caught by (two of the cases) |\n")
        f.write("|---|---|---:|---:|---:|---:|---|\n")
        for m in mutants:
            caught = results[m.name]
            cells = []
            for k in CLASS_ORDER:
                judged = k in m.shows or (k in ("bf16", "fp16") and "fp32" in m.shows)
                count = "%d" % len(caught.get(k, [])) if judged else "—"
                cells.append(count + ("*" if k in m.shows and k in ("bf16", "fp16") else ""))
            first = caught.get(m.shows[0], [])[:2]
            f.write("| `%s` | %s | %s | %s |\n" % (m.name, m.about.replace("|", "\\|"),
                                                " | ".join(cells),
                                                ", ".join("`%s`" % i for i in first)))


def score(runner, vectors, names, jobs, min_cases, markdown_path, json_path=None):
    global LOOP
    cases = load_cases(vectors)
    correct = {klass: responses(cases, klass) for klass in JUDGED_FROM}
    failures = correct_failures(runner, cases, correct)
    bad = [(k, ids) for k, ids in failures.items() if ids]
    for klass, ids in bad:
        print("the correct testee fails %d cases in %s (%s): the mutant loop is void"
              % (len(ids), klass, ", ".join(ids[:5])))
    if bad:
        return 1
    LOOP = Loop(runner, cases, correct)
    if jobs > 1:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            results = dict(pool.map(caught_by, names, chunksize=1))
    else:
        results = dict(map(caught_by, names))
    mutants = [BY_NAME[n] for n in names]
    broken = report(mutants, results, min_cases, sys.stdout)
    if markdown_path:
        markdown(mutants, results, markdown_path)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
    print("%d of %d mutants meet the rule (caught in every class their bug shows in, "
          "by %d case(s) at least unless only one can)" % (len(names) - broken, len(names), min_cases))
    return 1 if broken else 0


def main(argv):
    args = list(argv)
    klass, runner, jobs, min_cases, markdown_path, json_path = "fp64", None, 1, 2, None, None
    names = []
    vectors = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "vectors")
    usage = ("usage: mutants.py --list | --class fp64|fp32 --mutant NAME | --score RUNNER "
             "[--jobs N] [--min-cases N] [--mutant NAME]... [--vectors DIR] [--markdown FILE] "
             "[--json FILE]")
    while args:
        a = args.pop(0)
        if a == "--list":
            for m in MUTANTS:
                print("%s\t%s\t%s" % (m.name, ",".join(m.shows), m.about))
            return 0
        if a in ("--class", "--mutant", "--score", "--jobs", "--vectors", "--markdown",
                 "--min-cases", "--json") and args:
            value = args.pop(0)
            if a == "--class":
                klass = value
            elif a == "--mutant":
                names.append(value)
            elif a == "--score":
                runner = value
            elif a == "--jobs":
                jobs = int(value)
            elif a == "--min-cases":
                min_cases = int(value)
            elif a == "--json":
                json_path = value
            elif a == "--vectors":
                vectors = value
            else:
                markdown_path = value
        else:
            print(usage, file=sys.stderr)
            return 2
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        print("unknown mutant(s) %s (see --list)" % ", ".join(unknown), file=sys.stderr)
        return 2
    if runner is not None:
        return score(runner, vectors, names or [m.name for m in MUTANTS], jobs, min_cases,
                     markdown_path, json_path)
    if len(names) != 1 or klass not in tn.CLASSES:
        print(usage, file=sys.stderr)
        return 2
    return serve_mutant(klass, names[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
