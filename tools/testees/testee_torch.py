#!/usr/bin/python3
"""PyTorch testee for lmr-run (spec/protocol.md).

    /usr/bin/python3 tools/testees/testee_torch.py --class fp64|fp32|bf16|fp16

Uses PyTorch's real modules wherever one exists: nn.Embedding for lookups and
learned positions, nn.Linear for the heads (the tied head shares the
embedding's Parameter: lm_head.weight = embedding.weight; the untied head
loads weight = W.T), F.layer_norm / nn.LayerNorm, F.softmax, F.log_softmax,
F.cross_entropy (reduction, ignore_index), torch.argmax.  Orders with ties
(top-k, the lens's top tokens) use a stable sort rather than torch.topk,
whose order among equal values is not specified.

Classes: fp64 and fp32 store and compute in that dtype; bf16 and fp16 are
storage formats: they round every real input to bfloat16 (or IEEE binary16),
compute in float32 on those values and round every output to bfloat16 (or
binary16) (spec/tolerance.md#precision-classes).

Gradients (spec/gradients.md): every <op>_backward builds the forward with
the same modules, marks the differentiated inputs as leaves (nn.Parameter or
requires_grad), calls backward() with the upstream gradient and returns the
leaves' .grad.  No gradient formula is written by hand.  In bf16 and fp16
autograd runs on float32 tensors holding the 16-bit-rounded inputs (binary32
arithmetic, as the classes define), and the gradients are rounded to 16 bits.
Where PyTorch's autograd disagrees with the spec, the op says so in a
comment marked "PyTorch differs".

The protocol plumbing and the input checks that are pure bookkeeping (shapes,
finiteness, parameter ranges) come from tools/testees/testee_numpy.py; every number
is computed here, by torch.
"""
import functools
import math
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as Fn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testee_numpy as tn  # noqa: E402
from testee_numpy import Reject, finite, check_table, check_logits, check_tau  # noqa: E402

torch.set_grad_enabled(False)
warnings.filterwarnings("ignore", message="Initializing zero-element tensors")

STORE = torch.float64
COMP = torch.float64


def tt(a):
    """A double numpy array -> a tensor of the class (rounded to storage, widened to compute).

    PyTorch converts float64 to bfloat16 and float16 through float32, so a
    double just off a 16-bit halfway point can round twice and land one ulp
    from the correctly rounded value; the error stays below u|x|, as the
    tolerance's input rounding assumes.
    """
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64)).to(STORE).to(COMP)


def ti(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))


def of(x):
    return tn.out_f(x.detach().to(STORE).to(torch.float64).cpu().numpy())


def oi(x):
    return tn.out_i(x.detach().cpu().numpy())


def param(x):
    """x as a frozen Parameter, unless it is a Parameter already (then as it is)."""
    return x if isinstance(x, nn.Parameter) else nn.Parameter(x, requires_grad=False)


def linear(in_f, out_f, weight, bias=None):
    """nn.Linear(in_f, out_f) holding the given |out| x |in| weight (and bias)."""
    lin = nn.utils.skip_init(nn.Linear, in_f, out_f, bias=bias is not None, dtype=COMP)
    lin.weight = param(weight)
    if bias is not None:
        lin.bias = param(bias)
    return lin


def embedding(table, trainable=False):
    return nn.Embedding.from_pretrained(table, freeze=not trainable)


# ------------------------------------------------------------ input side --


def op_embed_lookup(c):
    E = c.f("E", 2)
    ids = c.i("ids")
    check_table(E, "E")
    finite(E, "E")
    emb = embedding(tt(E))
    return {"Y": of(emb(ti(ids)).reshape(len(ids), E.shape[1]))}     # IndexError on a bad id


def op_embed_onehot(c):
    O = c.f("onehot", 2)
    E = c.f("E", 2)
    check_table(E, "E")
    finite(E, "E")
    if O.shape[1] != E.shape[0]:
        raise Reject("one-hot width differs from |V|")
    Ot = torch.from_numpy(O)
    if not bool(torch.all((Ot == 0) | (Ot == 1))):
        raise Reject("entry other than 0 or 1")
    if O.shape[0] and not bool(torch.all((Ot == 1).sum(dim=1) == 1)):
        raise Reject("row without exactly one 1")
    return {"Y": of(torch.matmul(tt(O), tt(E)))}


def op_pos_learned(c):
    P = c.f("P", 2)
    pos = c.i("positions")
    check_table(P, "P")
    finite(P, "P")
    if np.any(pos < 0):
        raise Reject("negative position")        # nn.Embedding would raise too
    wpe = embedding(tt(P))
    return {"Y": of(wpe(ti(pos)).reshape(len(pos), P.shape[1]))}


def sinusoid(pos, d, base):
    """The PyTorch tutorial's recipe, interleaved, odd d allowed."""
    position = ti(pos).to(COMP).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d, 2, dtype=COMP) * (-math.log(base) / d))
    pe = torch.zeros(len(pos), d, dtype=COMP)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term[: d // 2])
    return pe


def op_pos_sinusoid(c):
    d = c.pi("d")
    base = c.pf("base", 10000.0)
    pos = c.i("positions")
    if d < 1:
        raise Reject("d = 0")
    tn.check_base(base)
    if np.any(pos < 0) or np.any(pos > tn.SIN_MAX_POS):
        raise Reject("position out of range")
    return {"Y": of(sinusoid(pos, d, base))}


def compose(c):
    E = c.f("E", 2)
    ids = c.i("ids")
    if "positions" not in c.params:
        raise Reject("missing positions kind")
    kind = c.ps("positions", "")
    start = c.pi("start", 0)
    scale = c.pb("scale_by_sqrt_d", False)
    check_table(E, "E")
    finite(E, "E")
    V, d = E.shape
    n = len(ids)
    if start < 0:
        raise Reject("negative start")
    wte = embedding(tt(E))
    if kind == "learned":
        P = c.f("P", 2)
        check_table(P, "P")
        if P.shape[1] != d:
            raise Reject("P and E widths differ")
        finite(P, "P")
        wpe = embedding(tt(P))
        pe = wpe(torch.arange(start, start + n, dtype=torch.int64))     # IndexError past the table
    elif kind == "sinusoid":
        base = c.pf("base", 10000.0)
        tn.check_base(base)
        if n and start + n - 1 > tn.SIN_MAX_POS:
            raise Reject("position out of range")
        pe = sinusoid(np.arange(start, start + n, dtype=np.int64), d, base)
    else:
        raise Reject("unknown positions kind %r" % kind)
    tok = wte(ti(ids)).reshape(n, d)
    if scale:
        tok = tok * math.sqrt(d)
    return tok + pe


def op_compose(c):
    return {"Y": of(compose(c))}


def check_eps(eps):
    if not math.isfinite(eps):
        raise Reject("eps not finite")
    if eps <= 0:
        raise Reject("eps <= 0")


def ln_module(c, d):
    g = c.f("gamma", 1)
    b = c.f("beta", 1)
    eps = c.pf("eps", 1e-5)
    if g.shape[0] != d or b.shape[0] != d:
        raise Reject("gamma/beta length differs from d")
    finite(g, "gamma")
    finite(b, "beta")
    check_eps(eps)
    ln = nn.LayerNorm(d, eps=eps, dtype=COMP)
    ln.weight = param(tt(g))
    ln.bias = param(tt(b))
    return ln


def op_layernorm(c):
    x = c.f("x", 2)
    d = x.shape[1]
    if d < 1:
        raise Reject("d = 0")
    finite(x, "x")
    ln = ln_module(c, d)
    return {"Y": of(Fn.layer_norm(tt(x), (d,), ln.weight, ln.bias, ln.eps))}


def op_compose_layernorm(c):
    E = c.f("E", 2)
    ln = ln_module(c, E.shape[1])
    X = compose(c)
    if not bool(torch.all(torch.isfinite(X))):
        raise Reject("composite overflowed")
    return {"Y": of(ln(X))}


# ------------------------------------------------------------------ heads --


def tied_head(E, trainable=False):
    """An nn.Embedding and an nn.Linear sharing one Parameter, GPT-2 style."""
    V, d = E.shape
    wte = embedding(tt(E), trainable)
    lm_head = linear(d, V, wte.weight)
    lm_head.weight = wte.weight
    assert lm_head.weight is wte.weight
    return wte, lm_head


def op_head_tied(c):
    h, E = tn.read_head_tied(c)
    _, lm_head = tied_head(E)
    return {"logits": of(lm_head(tt(h)))}


def op_head_untied(c):
    h, W, b, d, V = tn.read_head_untied(c)
    lm_head = linear(d, V, tt(W).T.contiguous(), None if b is None else tt(b))
    return {"logits": of(lm_head(tt(h)))}


# ---------------------------------------------------------------- softmax --


def op_softmax(c):
    u = c.f("logits")
    tau = c.pf("tau", 1.0)
    check_tau(tau)
    check_logits(u)
    return {"probs": of(Fn.softmax(tt(u) / tau, dim=-1))}


def op_log_softmax(c):
    u = c.f("logits")
    tau = c.pf("tau", 1.0)
    check_tau(tau)
    check_logits(u)
    return {"logprobs": of(Fn.log_softmax(tt(u) / tau, dim=-1))}


def ce(c, logits, n, V):
    tg = c.i("targets")
    red = c.ps("reduction", "mean")
    ig = c.pi("ignore_index", -100)
    if 0 <= ig < V:
        raise Reject("ignore_index inside [0, |V|)")     # PyTorch would silently drop that token
    if red not in ("none", "sum", "mean"):
        raise Reject("unknown reduction %r" % red)
    if len(tg) != n:
        raise Reject("targets length differs from n")
    tgt = ti(tg)
    if bool(torch.any((tgt != ig) & ((tgt < 0) | (tgt >= V)))):
        raise Reject("target out of range")             # PyTorch raises (or asserts on GPU)
    loss = Fn.cross_entropy(logits, tgt, reduction=red, ignore_index=ig)
    return loss.reshape(-1) if red == "none" else loss.reshape(1)


def op_cross_entropy(c):
    u = c.f("logits")
    check_logits(u)
    return {"loss": of(ce(c, tt(u), u.shape[0], u.shape[1]))}


# --------------------------------------------------------------- sampling --


def op_argmax(c):
    u = c.f("logits")
    check_logits(u)
    return {"token": oi(torch.argmax(tt(u), dim=-1))}


def ranked(u):
    """Indices by decreasing logit, ties by increasing index (stable sort)."""
    return torch.sort(u, dim=-1, descending=True, stable=True).indices


def op_sample(c):
    u, r, tau, k, top_p = tn.read_sample(c)
    ut = tt(u)
    rt = tt(r)
    n, V = ut.shape
    p = Fn.softmax(ut / tau, dim=-1)                    # 1. temperature
    order = ranked(ut)
    probs = torch.zeros_like(p)
    tokens = torch.zeros(n, dtype=torch.int64)
    for t in range(n):
        o = order[t]
        o = o[torch.isfinite(ut[t, o])]
        if k >= 1:                                      # 2. top-k, exactly k
            o = o[:k]
        if top_p < 1.0:                                 # 3. top-p, shortest prefix >= top_p
            pk = p[t, o] / p[t, o].sum()
            cum = torch.cumsum(pk, dim=0)
            hit = torch.nonzero(cum >= top_p).flatten()
            o = o[: int(hit[0]) + 1] if len(hit) else o
        keep = torch.zeros(V, dtype=torch.bool)
        keep[o] = True
        q = torch.where(keep, p[t], torch.zeros((), dtype=p.dtype))
        q = q / q.sum()                                 # 4. renormalise
        probs[t] = q
        C = torch.cumsum(q, dim=0)                      # 5. inverse CDF in index order
        i = int(torch.searchsorted(C, rt[t:t + 1], right=True)[0])
        last = int(torch.nonzero(keep).flatten()[-1])
        tokens[t] = min(i, last)
    return {"probs": of(probs), "token": oi(tokens)}


# ------------------------------------------------------------- logit lens --


def op_logit_lens(c):
    H, E, k, fl, _, _, d, V = tn.read_logit_lens(c)
    x = tt(H)
    if fl:
        ln_f = ln_module(c, d)
        x = ln_f(x)                                     # per layer and position
    _, unembed = tied_head(E)
    logits = unembed(x)                                 # L x n x V
    probs = Fn.softmax(logits, dim=-1)
    top = ranked(logits)[..., :k]
    return {"probs": of(probs), "top_tokens": oi(top), "top_probs": of(torch.gather(probs, -1, top))}


# ---------------------------------------------------------- param counts --


def op_param_count(c):
    V = c.pi("vocab")
    d = c.pi("d")
    B = c.pi("block_params")
    if V < 1 or d < 1 or B < 0:
        raise Reject("vocab < 1, d < 1 or B < 0")
    if V * d > tn.I64_MAX:
        raise Reject("|V| d overflows int64")
    # count the parameters of real modules, on the meta device (no memory)
    wte = nn.Embedding(V, d, device="meta", dtype=torch.bfloat16)
    lm_head = nn.Linear(d, V, bias=False, device="meta", dtype=torch.bfloat16)
    model = nn.ModuleList([wte, lm_head])
    untied = sum(p.numel() for p in model.parameters()) + B
    lm_head.weight = wte.weight                         # tie: parameters() now yields it once
    tied = sum(p.numel() for p in model.parameters()) + B
    if untied > tn.I64_MAX:
        raise Reject("count overflows int64")
    saving = untied - tied
    rel = torch.tensor(saving, dtype=COMP) / torch.tensor(untied, dtype=COMP)
    return {"untied": oi(torch.tensor([untied])), "tied": oi(torch.tensor([tied])),
            "saving": oi(torch.tensor([saving])), "relative_reduction": of(rel.reshape(1))}


# ---------------------------------------------------------- head variants --


def op_head_partial(c):
    h, E, k, V, d, F = tn.read_head_partial(c)
    wte = embedding(tt(E))
    ht = tt(h)
    shared = Fn.linear(ht, wte.weight[:k])              # a view of the embedding's first k rows
    free = linear(d, V - k, tt(F).T.contiguous())
    return {"logits": of(torch.cat([shared, free(ht)], dim=-1))}


def op_head_transformed(c):
    h, Tm, E, d = tn.read_head_transformed(c)
    transform = linear(d, d, tt(Tm).T.contiguous())
    _, lm_head = tied_head(E)
    return {"logits": of(lm_head(transform(tt(h))))}


def op_head_adaptive(c):
    h, E, F, alpha, V, d = tn.read_head_adaptive(c)
    if not (0.0 <= alpha <= 1.0):
        raise Reject("alpha outside [0, 1]")
    finite(h, "h")
    finite(E, "E")
    finite(F, "F")
    _, tied = tied_head(E)
    free = linear(d, V, tt(F).T.contiguous())
    ht = tt(h)
    return {"logits": of(alpha * tied(ht) + (1.0 - alpha) * free(ht))}


def op_head_mlp(c):
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
        V = E.shape[0]
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
    for a, nm in ((h, "h"), (W1, "W1"), (b1, "b1"), (b2, "b2")):
        finite(a, nm)
    fc = linear(d, m, tt(W1).T.contiguous(), None if b1 is None else tt(b1))
    if tied:
        wte, out = tied_head(E)
        if b2 is not None:
            out.bias = param(tt(b2))
    else:
        out = linear(m, V, tt(W2).T.contiguous(), None if b2 is None else tt(b2))
    mlp = nn.Sequential(fc, nn.ReLU(), out)
    return {"logits": of(mlp(tt(h)))}


def op_mos_fixed(c):
    h, W, al, K, V = tn.read_mos_fixed(c)
    a = tt(al)
    w = a / a.sum()
    ht = tt(h)
    logits = torch.stack([ht @ wk for wk in tt(W)])                 # K x n x V
    probs = (w[:, None, None] * Fn.softmax(logits, dim=-1)).sum(dim=0)
    logprobs = torch.logsumexp(torch.log(w)[:, None, None] + Fn.log_softmax(logits, dim=-1), dim=0)
    return {"probs": of(probs), "logprobs": of(logprobs)}


def op_mos_gated(c):
    h = c.f("h", 2)
    Wpi = c.f("W_pi", 2)
    Wc = c.f("W_comp", 3)
    bc = c.f("b_comp", 2)
    tied = c.pb("tied", False)
    bo = c.f("b_out", 1, optional=True)
    n, d = h.shape
    if d < 1 or Wpi.shape[0] != d:
        raise Reject("W_pi not d x K")
    K = Wpi.shape[1]
    if K < 1 or Wc.shape != (K, d, d) or bc.shape != (K, d):
        raise Reject("component shapes")
    if tied:
        E = c.f("E", 2)
        check_table(E, "E")
        if E.shape[1] != d:
            raise Reject("E width differs")
        finite(E, "E")
        V = E.shape[0]
    else:
        Wo = c.f("W_out", 2)
        if Wo.shape[0] != d or Wo.shape[1] < 1:
            raise Reject("W_out not d x |V|")
        finite(Wo, "W_out")
        V = Wo.shape[1]
    if bo is not None and bo.shape[0] != V:
        raise Reject("b_out length differs from |V|")
    for a, nm in ((h, "h"), (Wpi, "W_pi"), (Wc, "W_comp"), (bc, "b_comp"), (bo, "b_out")):
        finite(a, nm)
    ht = tt(h)
    gate = linear(d, K, tt(Wpi).T.contiguous())
    comps = [linear(d, d, tt(Wc[k]).T.contiguous(), tt(bc[k])) for k in range(K)]
    if tied:
        _, out = tied_head(E)
        if bo is not None:
            out.bias = param(tt(bo))
    else:
        out = linear(d, V, tt(Wo).T.contiguous(), None if bo is None else tt(bo))
    g = gate(ht)                                                    # n x K
    u = torch.stack([out(torch.tanh(comp(ht))) for comp in comps])  # K x n x V
    pi = Fn.softmax(g, dim=-1).T[:, :, None]
    probs = (pi * Fn.softmax(u, dim=-1)).sum(dim=0)
    logprobs = torch.logsumexp(Fn.log_softmax(g, dim=-1).T[:, :, None] + Fn.log_softmax(u, dim=-1), dim=0)
    return {"probs": of(probs), "logprobs": of(logprobs)}


def op_soft_tie_loss(c):
    h, E, W, lam, red, V, d = tn.read_soft_tie_loss(c)
    Wt = tt(W)
    lm_head = linear(d, V, Wt.T.contiguous())
    wte = embedding(tt(E))
    ce_loss = ce(c, lm_head(tt(h)), h.shape[0], V)
    penalty = ((wte.weight - lm_head.weight) ** 2).sum().reshape(1)
    loss = ce_loss + lam * penalty
    return {"loss": of(loss), "cross_entropy": of(ce_loss), "penalty": of(penalty)}


# -------------------------------------------------------------- gradients --
#
# spec/gradients.md.  Each backward op builds its forward from the same
# modules as the forward op, with the differentiated inputs as leaves
# (nn.Parameter, so requires_grad), calls backward() with the upstream
# gradient, and returns the leaves' .grad.  Autograd is off in the rest of
# this file; with_autograd switches it on for one op.


def with_autograd(op):
    @functools.wraps(op)
    def run(c):
        with torch.enable_grad():
            return op(c)
    return run


def trainable(a):
    """A double array as a leaf of the class that autograd differentiates."""
    return nn.Parameter(tt(a))


def grad(leaf):
    """The gradient autograd accumulated in leaf (zeros if no path reached it)."""
    return leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)


def upstream(c, name, shape):
    """The upstream gradient input `name` (of the given shape, finite) as a class tensor."""
    g = c.f(name)
    if g.shape != tuple(shape):
        raise Reject("%s is %s, not %s" % (name, list(g.shape), list(shape)))
    finite(g, name)
    return tt(g)


def lookup_backward(c, index_name, rows_name):
    """dTable (rows x d) of an nn.Embedding lookup at the given indices, for dY (n x d)."""
    idx = c.i(index_name)
    rows = c.pi(rows_name)
    dY = c.f("dY", 2)
    n, d = dY.shape
    if rows < 1:
        raise Reject("%s < 1" % rows_name)
    if d < 1:
        raise Reject("d = 0")
    if len(idx) != n:
        raise Reject("dY has %d rows for %d indices" % (n, len(idx)))
    if np.any(idx < 0) or np.any(idx >= rows):
        raise Reject("index outside [0, %s)" % rows_name)   # nn.Embedding would raise too
    finite(dY, "dY")
    table = embedding(torch.zeros(rows, d, dtype=COMP), trainable=True)   # values do not enter
    table(ti(idx)).backward(tt(dY))
    return grad(table.weight)


@with_autograd
def op_embed_lookup_backward(c):
    return {"dE": of(lookup_backward(c, "ids", "vocab"))}


@with_autograd
def op_pos_learned_backward(c):
    return {"dP": of(lookup_backward(c, "positions", "max_len"))}


@with_autograd
def op_layernorm_backward(c):
    x, g, eps = tn.read_layernorm_backward_inputs(c)
    d = x.shape[1]
    dY = upstream(c, "dY", x.shape)
    ln = nn.LayerNorm(d, eps=eps, dtype=COMP)
    ln.weight = trainable(g)
    ln.bias = trainable(np.zeros(d))        # beta does not enter the backward; dbeta is its .grad
    xl = trainable(x)
    ln(xl).backward(dY)
    return {"dx": of(grad(xl)), "dgamma": of(grad(ln.weight)), "dbeta": of(grad(ln.bias))}


@with_autograd
def op_head_tied_backward(c):
    h, E = tn.read_head_tied(c)
    dU = upstream(c, "dlogits", (h.shape[0], E.shape[0]))
    wte, lm_head = tied_head(E, trainable=True)
    hl = trainable(h)
    lm_head(hl).backward(dU)
    return {"dh": of(grad(hl)), "dE": of(grad(wte.weight))}


@with_autograd
def op_head_untied_backward(c):
    h, W, _, d, V = tn.read_head_untied(c)
    dU = upstream(c, "dlogits", (h.shape[0], V))
    lm_head = linear(d, V, trainable(W.T), trainable(np.zeros(V)))   # db: what a bias receives
    hl = trainable(h)
    lm_head(hl).backward(dU)
    return {"dh": of(grad(hl)), "dW": of(grad(lm_head.weight).T), "db": of(grad(lm_head.bias))}


def scaled(u, tau):
    """u / tau for softmax and log-softmax, masked entries (-inf) kept out of the division.

    PyTorch differs: with the plain u / tau, a masked entry sends
    0 * (-inf) = NaN into dtau (its softmax gradient is 0 and d(u/tau)/dtau =
    -u/tau^2 is infinite); the spec says it contributes nothing.  So the
    division sees 0 there and torch.where puts -inf back; where() passes no
    gradient to the branch it did not take.
    """
    masked = torch.isneginf(u)
    u_finite = torch.where(masked, torch.zeros((), dtype=COMP), u)
    return torch.where(masked, torch.full((), -math.inf, dtype=COMP), u_finite / tau)


def softmax_family_backward(c, fn, upstream_name):
    """dlogits and dtau of fn(logits / tau) for the upstream gradient `upstream_name`."""
    u = c.f("logits")
    tau = c.pf("tau", 1.0)
    check_tau(tau)
    check_logits(u)
    G = upstream(c, upstream_name, u.shape)
    ul = trainable(u)
    tau_leaf = nn.Parameter(torch.tensor(tau, dtype=COMP))   # binary32 at least, as the classes say
    fn(scaled(ul, tau_leaf), dim=-1).backward(G)
    return {"dlogits": of(grad(ul)), "dtau": of(grad(tau_leaf).reshape(1))}


@with_autograd
def op_softmax_backward(c):
    return softmax_family_backward(c, Fn.softmax, "dprobs")


@with_autograd
def op_log_softmax_backward(c):
    # A masked output is the constant -inf, so a non-zero upstream gradient
    # there is bad input.  PyTorch differs: it accepts one, and its backward
    # G - exp(o) sum(G) passes G_i to the masked logit and counts it in the sum.
    u = c.f("logits")
    G = c.f("dlogprobs")
    if G.shape == u.shape and np.any((u == -math.inf) & (G != 0)):
        raise Reject("non-zero dlogprobs at a masked entry")
    return softmax_family_backward(c, Fn.log_softmax, "dlogprobs")


def check_target_logits(c, u):
    """A counted row whose target logit is -inf has an infinite loss: bad input.

    PyTorch differs: F.cross_entropy returns loss inf there and still a finite
    gradient (y - onehot, -1 at the masked target).
    """
    tg = c.i("targets")
    rows = np.nonzero(tg != c.pi("ignore_index", -100))[0]
    if np.any(u[rows, tg[rows]] == -math.inf):
        raise Reject("counted row with a -inf target logit")


@with_autograd
def op_cross_entropy_backward(c):
    # With reduction "mean" and every target ignored the loss is NaN (0/0);
    # the spec wants dlogits = 0, and PyTorch 1.13's nll_loss backward gives
    # exactly that (it skips ignored rows and never divides by the zero count).
    u = c.f("logits")
    check_logits(u)
    n, V = u.shape
    ul = trainable(u)
    loss = ce(c, ul, n, V)                  # checks targets, reduction, ignore_index
    check_target_logits(c, u)
    dloss = upstream(c, "dloss", (n,) if c.ps("reduction", "mean") == "none" else (1,))
    loss.backward(dloss)
    return {"dlogits": of(grad(ul))}


@with_autograd
def op_head_partial_backward(c):
    h, E, k, V, d, F = tn.read_head_partial(c)
    dU = upstream(c, "dlogits", (h.shape[0], V))
    wte = embedding(tt(E), trainable=True)
    free = linear(d, V - k, trainable(F.T))
    hl = trainable(h)
    shared = Fn.linear(hl, wte.weight[:k])   # a view of the embedding's first k rows
    torch.cat([shared, free(hl)], dim=-1).backward(dU)
    return {"dh": of(grad(hl)), "dE": of(grad(wte.weight)), "dF": of(grad(free.weight).T)}


@with_autograd
def op_head_transformed_backward(c):
    h, Tm, E, d = tn.read_head_transformed(c)
    dU = upstream(c, "dlogits", (h.shape[0], E.shape[0]))
    transform = linear(d, d, trainable(Tm.T))
    wte, lm_head = tied_head(E, trainable=True)
    hl = trainable(h)
    lm_head(transform(hl)).backward(dU)
    return {"dh": of(grad(hl)), "dT": of(grad(transform.weight).T), "dE": of(grad(wte.weight))}


@with_autograd
def op_head_adaptive_backward(c):
    h, E, F, alpha, V, d = tn.read_head_adaptive(c)
    if not (0.0 <= alpha <= 1.0):
        raise Reject("alpha outside [0, 1]")
    finite(h, "h")
    finite(E, "E")
    finite(F, "F")
    dU = upstream(c, "dlogits", (h.shape[0], V))
    wte, tied = tied_head(E, trainable=True)
    free = linear(d, V, trainable(F.T))
    a = nn.Parameter(torch.tensor(alpha, dtype=COMP))
    hl = trainable(h)
    (a * tied(hl) + (1.0 - a) * free(hl)).backward(dU)
    return {"dh": of(grad(hl)), "dE": of(grad(wte.weight)), "dF": of(grad(free.weight).T),
            "dalpha": of(grad(a).reshape(1))}


def output_layer(W, b, tied):
    """The trainable output layer u = x W + b of the MLP head and the gated
    mixture: W (m x V) is E^T in the tied form, whose Linear then shares the
    embedding's Parameter. An absent bias is a zero Parameter: its .grad is
    what a bias would receive."""
    m, V = W.shape
    if tied:
        _, out = tied_head(W.T, trainable=True)         # out.weight is the embedding's E
    else:
        out = linear(m, V, trainable(W.T))
    out.bias = trainable(np.zeros(V) if b is None else b)
    return out


def output_grads(grads, out, tied, untied_name):
    """Adds the output layer's weight gradient to grads: dE when tied, else
    untied_name (m x V)."""
    if tied:
        grads["dE"] = of(grad(out.weight))
    else:
        grads[untied_name] = of(grad(out.weight).T)
    return grads


@with_autograd
def op_head_mlp_backward(c):
    h, W1, b1, W2, b2, tied = tn.read_head_mlp(c)
    n, d = h.shape
    m, V = W2.shape
    dU = upstream(c, "dlogits", (n, V))
    # absent biases are zero Parameters: their .grad is what a bias would receive
    fc = linear(d, m, trainable(W1.T), trainable(np.zeros(m) if b1 is None else b1))
    out = output_layer(W2, b2, tied)
    mlp = nn.Sequential(fc, nn.ReLU(), out)             # ReLU's derivative at 0 is 0, as the spec
    hl = trainable(h)
    mlp(hl).backward(dU)
    grads = {"dh": of(grad(hl)), "dW1": of(grad(fc.weight).T), "db1": of(grad(fc.bias)),
             "db2": of(grad(out.bias))}
    return output_grads(grads, out, tied, "dW2")


@with_autograd
def op_mos_fixed_backward(c):
    h, W, al, K, V = tn.read_mos_fixed(c)
    G = upstream(c, "dlogprobs", (h.shape[0], V))
    hl, Wl, al_leaf = trainable(h), trainable(W), trainable(al)
    w = al_leaf / al_leaf.sum()
    p = Fn.softmax(torch.matmul(hl, Wl), dim=-1)                   # K x n x V
    # The log of the mixture is taken in probability space.  PyTorch differs
    # with the log-space form of the forward op, logsumexp(log w_k + log p_k):
    # a weight alpha_k = 0 makes every dalpha NaN (log's backward, 0 * 1/0),
    # where the spec wants the finite sum of p G / y.
    logprobs = torch.log((w[:, None, None] * p).sum(dim=0))
    logprobs.backward(G)
    return {"dh": of(grad(hl)), "dW": of(grad(Wl)), "dalpha": of(grad(al_leaf))}


@with_autograd
def op_mos_gated_backward(c):
    h, Wpi, Wc, bc, Wo, bo, tied = tn.read_mos_gated(c)
    n, d = h.shape
    K = Wpi.shape[1]
    V = Wo.shape[1]
    G = upstream(c, "dlogprobs", (n, V))
    gate = linear(d, K, trainable(Wpi.T))
    comps = [linear(d, d, trainable(Wc[k].T), trainable(bc[k])) for k in range(K)]
    out = output_layer(Wo, bo, tied)                    # db_out with or without a bias
    hl = trainable(h)
    g = gate(hl)                                                    # n x K
    u = torch.stack([out(torch.tanh(comp(hl))) for comp in comps])  # K x n x V
    logprobs = torch.logsumexp(Fn.log_softmax(g, dim=-1).T[:, :, None] + Fn.log_softmax(u, dim=-1), dim=0)
    logprobs.backward(G)
    grads = {"dh": of(grad(hl)), "dW_pi": of(grad(gate.weight).T),
             "dW_comp": of(torch.stack([grad(comp.weight).T for comp in comps])),
             "db_comp": of(torch.stack([grad(comp.bias) for comp in comps])),
             "db_out": of(grad(out.bias))}
    return output_grads(grads, out, tied, "dW_out")


@with_autograd
def op_soft_tie_loss_backward(c):
    h, E, W, lam, _, V, d = tn.read_soft_tie_loss(c)
    dloss = upstream(c, "dloss", (1,))
    wte = embedding(tt(E), trainable=True)
    lm_head = linear(d, V, trainable(W.T))
    hl = trainable(h)
    ce_loss = ce(c, lm_head(hl), h.shape[0], V)
    penalty = ((wte.weight - lm_head.weight) ** 2).sum().reshape(1)
    (ce_loss + lam * penalty).backward(dloss)
    return {"dh": of(grad(hl)), "dE": of(grad(wte.weight)), "dW": of(grad(lm_head.weight).T)}


# ------------------------------------------------- the tied model, end to end --


def edges_into(leaf, root):
    """The (node, slot) pairs of root's graph whose gradient goes straight into leaf.

    Each pair is one use of leaf in the forward; autograd sums what they send.
    """
    edges, seen, todo = [], set(), [root]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        for slot, (nxt, _) in enumerate(node.next_functions):
            if nxt is None:
                continue
            if getattr(nxt, "variable", None) is leaf:
                edges.append((node, slot))
            else:
                todo.append(nxt)
    return edges


def record_shares(leaf, root, lookup_node):
    """Hooks that catch, during the next backward, each path's share of leaf's gradient.

    -> a dict that the backward fills: "input" (what lookup_node sends into
    leaf) and "output" (what every other use sends).
    """
    shares = {}

    def catch(path, slot, grad_inputs, _grad_outputs):
        g = grad_inputs[slot]
        if g is None:
            return
        g = g.detach().clone()      # autograd may add the other share into this buffer in place
        shares[path] = shares[path] + g if path in shares else g

    for node, slot in edges_into(leaf, root):
        path = "input" if node is lookup_node else "output"
        node.register_hook(functools.partial(catch, path, slot))
    return shares


def read_tied_lm(c):
    """The validated inputs of tied_lm: (ids, E, P, M or None, layernorm)."""
    E = c.f("E", 2)
    ids = c.i("ids")
    P = c.f("P", 2)
    layernorm = c.pb("layernorm", False)
    middle = c.ps("middle", "identity")
    check_table(E, "E")
    check_table(P, "P")
    V, d = E.shape
    if c.ps("reduction", "mean") == "none":
        raise Reject("reduction none: tied_lm needs a scalar loss")
    if middle not in ("identity", "matrix"):
        raise Reject("unknown middle %r" % middle)
    if P.shape[1] != d:
        raise Reject("P and E widths differ")
    if P.shape[0] < len(ids):
        raise Reject("max_len < n")
    if np.any(ids < 0) or np.any(ids >= V):
        raise Reject("token id out of range")
    finite(E, "E")
    finite(P, "P")
    M = None
    if middle == "matrix":
        M = c.f("M", 2)
        if M.shape != (d, d):
            raise Reject("M not d x d")
        finite(M, "M")
    return ids, E, P, M, layernorm


@with_autograd
def op_tied_lm(c):
    ids, E, P, M, layernorm = read_tied_lm(c)
    V, d = E.shape
    n = len(ids)
    wte, lm_head = tied_head(E, trainable=True)          # lm_head.weight is wte.weight
    wpe = embedding(tt(P), trainable=True)
    ln_f = ln_module(c, d).requires_grad_() if layernorm else nn.Identity()
    middle = linear(d, d, tt(M).T.contiguous()) if M is not None else nn.Identity()   # frozen
    tok = wte(ti(ids))                                   # n x d
    X = tok + wpe(torch.arange(n, dtype=torch.int64))
    logits = lm_head(middle(ln_f(X)))
    loss = ce(c, logits, n, V)                           # checks targets, reduction, ignore_index
    # The split by path: the shared Parameter is used twice (the lookup and
    # the head); a hook on each of those two autograd nodes records what it
    # sends into the Parameter, and autograd itself adds them into .grad.
    shares = record_shares(wte.weight, loss.grad_fn, tok.grad_fn)
    loss.backward(torch.ones(1, dtype=COMP))
    zeros = torch.zeros_like(wte.weight)
    grads = {"loss": of(loss), "dE": of(grad(wte.weight)),
             "dE_input": of(shares.get("input", zeros)), "dE_output": of(shares.get("output", zeros)),
             "dP": of(grad(wpe.weight))}
    if layernorm:
        grads["dgamma"] = of(grad(ln_f.weight))
        grads["dbeta"] = of(grad(ln_f.bias))
    return grads


OPS = tn.op_table(globals())


def main(argv):
    global STORE, COMP
    klass = "fp64"
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--class" and args:
            klass = args.pop(0)
        elif a.startswith("--class="):
            klass = a.split("=", 1)[1]
        else:
            print("usage: testee_torch.py --class fp64|fp32|bf16|fp16", file=sys.stderr)
            return 2
    if klass == "fp64":
        STORE = COMP = torch.float64
    elif klass == "fp32":
        STORE = COMP = torch.float32
    elif klass == "bf16":
        STORE, COMP = torch.bfloat16, torch.float32
    elif klass == "fp16":
        STORE, COMP = torch.float16, torch.float32
    else:
        print("class must be fp64, fp32, bf16 or fp16", file=sys.stderr)
        return 2
    tn.T = {"fp64": np.float64, "fp32": np.float32, "bf16": np.float32, "fp16": np.float32}[klass]
    hello = {"protocol": 1, "name": "torch-%s-%s" % (torch.__version__, klass),
             "class": klass, "ops": sorted(OPS)}
    # IndexError and RuntimeError are how PyTorch refuses a bad index or shape
    return tn.serve(hello, OPS, tn.Case, refusals=(IndexError, RuntimeError))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
