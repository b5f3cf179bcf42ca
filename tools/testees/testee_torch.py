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

Inputs are checked by validate.py (spec/errors.md, written once for both
Python testees and tested against every invalid case by
tests/testees_validate.py) before an op runs; the protocol plumbing is
protocol.py.  Every number is computed here, by torch.  Nothing here reads or
sets another module's state.
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
import protocol  # noqa: E402
import validate  # noqa: E402

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
    return protocol.out_f(x.detach().to(STORE).to(torch.float64).cpu().numpy())


def oi(x):
    return protocol.out_i(x.detach().cpu().numpy())


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
    E = c.f("E")
    ids = c.i("ids")
    emb = embedding(tt(E))
    return {"Y": of(emb(ti(ids)).reshape(len(ids), E.shape[1]))}


def op_embed_onehot(c):
    return {"Y": of(torch.matmul(tt(c.f("onehot")), tt(c.f("E"))))}


def op_pos_learned(c):
    P = c.f("P")
    pos = c.i("positions")
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
    return {"Y": of(sinusoid(c.i("positions"), c.integer("d"), c.number("base")))}


def compose(c):
    E = c.f("E")
    ids = c.i("ids")
    start = c.integer("start")
    n, d = len(ids), E.shape[1]
    wte = embedding(tt(E))
    if c.word("positions") == "learned":
        wpe = embedding(tt(c.f("P")))
        pe = wpe(torch.arange(start, start + n, dtype=torch.int64))
    else:
        pe = sinusoid(np.arange(start, start + n, dtype=np.int64), d, c.number("base"))
    tok = wte(ti(ids)).reshape(n, d)
    if c.flag("scale_by_sqrt_d"):
        tok = tok * math.sqrt(d)
    return tok + pe


def op_compose(c):
    return {"Y": of(compose(c))}


def ln_module(c, d):
    ln = nn.LayerNorm(d, eps=c.number("eps"), dtype=COMP)
    ln.weight = param(tt(c.f("gamma")))
    ln.bias = param(tt(c.f("beta")))
    return ln


def op_layernorm(c):
    x = c.f("x")
    d = x.shape[1]
    ln = ln_module(c, d)
    return {"Y": of(Fn.layer_norm(tt(x), (d,), ln.weight, ln.bias, ln.eps))}


def op_compose_layernorm(c):
    ln = ln_module(c, c.f("E").shape[1])
    X = compose(c)
    if not bool(torch.all(torch.isfinite(X))):
        raise protocol.Reject("LMR_ERANGE", "the composite overflowed")
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
    _, lm_head = tied_head(c.f("E"))
    return {"logits": of(lm_head(tt(c.f("h"))))}


def op_head_untied(c):
    W = c.f("W")
    b = c.optional("b")
    d, V = W.shape
    lm_head = linear(d, V, tt(W).T.contiguous(), None if b is None else tt(b))
    return {"logits": of(lm_head(tt(c.f("h"))))}


# ---------------------------------------------------------------- softmax --


def op_softmax(c):
    return {"probs": of(Fn.softmax(tt(c.f("logits")) / c.number("tau"), dim=-1))}


def op_log_softmax(c):
    return {"logprobs": of(Fn.log_softmax(tt(c.f("logits")) / c.number("tau"), dim=-1))}


def ce(c, logits):
    """F.cross_entropy of the logits tensor with the case's targets,
    reduction and ignore_index: n losses (none) or one."""
    red = c.word("reduction")
    loss = Fn.cross_entropy(logits, ti(c.i("targets")), reduction=red,
                            ignore_index=c.integer("ignore_index"))
    return loss.reshape(-1) if red == "none" else loss.reshape(1)


def op_cross_entropy(c):
    return {"loss": of(ce(c, tt(c.f("logits"))))}


# --------------------------------------------------------------- sampling --


def op_argmax(c):
    return {"token": oi(torch.argmax(tt(c.f("logits")), dim=-1))}


def ranked(u):
    """Indices by decreasing logit, ties by increasing index (stable sort)."""
    return torch.sort(u, dim=-1, descending=True, stable=True).indices


def op_sample(c):
    ut = tt(c.f("logits"))
    rt = tt(c.f("r"))
    tau, k, top_p = c.number("tau"), c.integer("top_k"), c.number("top_p")
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
    x = tt(c.f("hidden"))
    k = c.integer("k")
    if c.flag("final_layernorm"):
        ln_f = ln_module(c, x.shape[2])
        x = ln_f(x)                                     # per layer and position
    _, unembed = tied_head(c.f("E"))
    logits = unembed(x)                                 # L x n x V
    probs = Fn.softmax(logits, dim=-1)
    top = ranked(logits)[..., :k]
    return {"probs": of(probs), "top_tokens": oi(top), "top_probs": of(torch.gather(probs, -1, top))}


# ---------------------------------------------------------- param counts --


def op_param_count(c):
    V, d, B = c.integer("vocab"), c.integer("d"), c.integer("block_params")
    # count the parameters of real modules, on the meta device (no memory)
    wte = nn.Embedding(V, d, device="meta", dtype=torch.bfloat16)
    lm_head = nn.Linear(d, V, bias=False, device="meta", dtype=torch.bfloat16)
    model = nn.ModuleList([wte, lm_head])
    untied = sum(p.numel() for p in model.parameters()) + B
    lm_head.weight = wte.weight                         # tie: parameters() now yields it once
    tied = sum(p.numel() for p in model.parameters()) + B
    saving = untied - tied
    rel = torch.tensor(saving, dtype=COMP) / torch.tensor(untied, dtype=COMP)
    return {"untied": oi(torch.tensor([untied])), "tied": oi(torch.tensor([tied])),
            "saving": oi(torch.tensor([saving])), "relative_reduction": of(rel.reshape(1))}


# ---------------------------------------------------------- head variants --


def free_columns(c):
    """F (d x (|V| - k)), an empty d x 0 when absent (k = |V|)."""
    F = c.optional("F")
    return np.zeros((c.f("E").shape[1], 0)) if F is None else F


def op_head_partial(c):
    E = c.f("E")
    k = c.integer("k")
    F = free_columns(c)
    wte = embedding(tt(E))
    ht = tt(c.f("h"))
    shared = Fn.linear(ht, wte.weight[:k])              # a view of the embedding's first k rows
    free = linear(E.shape[1], F.shape[1], tt(F).T.contiguous())
    return {"logits": of(torch.cat([shared, free(ht)], dim=-1))}


def op_head_transformed(c):
    Tm = c.f("T")
    d = Tm.shape[0]
    transform = linear(d, d, tt(Tm).T.contiguous())
    _, lm_head = tied_head(c.f("E"))
    return {"logits": of(lm_head(transform(tt(c.f("h")))))}


def op_head_adaptive(c):
    alpha = c.number("alpha")
    F = c.f("F")
    d, V = F.shape
    _, tied = tied_head(c.f("E"))
    free = linear(d, V, tt(F).T.contiguous())
    ht = tt(c.f("h"))
    return {"logits": of(alpha * tied(ht) + (1.0 - alpha) * free(ht))}


def output_matrix(c, name):
    """The output matrix (m x |V|) in double: `name`, or E^T when tied."""
    return c.f("E").T if c.flag("tied") else c.f(name)


def op_head_mlp(c):
    W1 = c.f("W1")
    b1, b2 = c.optional("b1"), c.optional("b2")
    d, m = W1.shape
    fc = linear(d, m, tt(W1).T.contiguous(), None if b1 is None else tt(b1))
    if c.flag("tied"):
        _, out = tied_head(c.f("E"))
        if b2 is not None:
            out.bias = param(tt(b2))
    else:
        W2 = c.f("W2")
        out = linear(m, W2.shape[1], tt(W2).T.contiguous(), None if b2 is None else tt(b2))
    mlp = nn.Sequential(fc, nn.ReLU(), out)
    return {"logits": of(mlp(tt(c.f("h"))))}


def op_mos_fixed(c):
    a = tt(c.f("alpha"))
    w = a / a.sum()
    ht = tt(c.f("h"))
    logits = torch.stack([ht @ wk for wk in tt(c.f("W"))])           # K x n x V
    probs = (w[:, None, None] * Fn.softmax(logits, dim=-1)).sum(dim=0)
    logprobs = torch.logsumexp(torch.log(w)[:, None, None] + Fn.log_softmax(logits, dim=-1), dim=0)
    return {"probs": of(probs), "logprobs": of(logprobs)}


def op_mos_gated(c):
    Wpi, Wc, bc, bo = c.f("W_pi"), c.f("W_comp"), c.f("b_comp"), c.optional("b_out")
    d, K = Wpi.shape
    ht = tt(c.f("h"))
    gate = linear(d, K, tt(Wpi).T.contiguous())
    comps = [linear(d, d, tt(Wc[k]).T.contiguous(), tt(bc[k])) for k in range(K)]
    if c.flag("tied"):
        _, out = tied_head(c.f("E"))
        if bo is not None:
            out.bias = param(tt(bo))
    else:
        Wo = c.f("W_out")
        out = linear(d, Wo.shape[1], tt(Wo).T.contiguous(), None if bo is None else tt(bo))
    g = gate(ht)                                                    # n x K
    u = torch.stack([out(torch.tanh(comp(ht))) for comp in comps])  # K x n x V
    pi = Fn.softmax(g, dim=-1).T[:, :, None]
    probs = (pi * Fn.softmax(u, dim=-1)).sum(dim=0)
    logprobs = torch.logsumexp(Fn.log_softmax(g, dim=-1).T[:, :, None] + Fn.log_softmax(u, dim=-1), dim=0)
    return {"probs": of(probs), "logprobs": of(logprobs)}


def op_soft_tie_loss(c):
    W = c.f("W")
    d, V = W.shape
    lm_head = linear(d, V, tt(W).T.contiguous())
    wte = embedding(tt(c.f("E")))
    ce_loss = ce(c, lm_head(tt(c.f("h"))))
    penalty = ((wte.weight - lm_head.weight) ** 2).sum().reshape(1)
    loss = ce_loss + c.number("lambda") * penalty
    return {"loss": of(loss), "cross_entropy": of(ce_loss), "penalty": of(penalty)}


# -------------------------------------------------------------- attention --


def op_attention_weights(c):
    """The weights of scaled dot-product attention in the explicit form of
    PyTorch's documentation of F.scaled_dot_product_attention (not in torch
    1.13, and it returns A V, not A): Q K^T * scale + bias, softmax over the
    last axis.  PyTorch's is_causal is top-left aligned (tril(diagonal=0));
    spec/attention.md aligns bottom-right, so the causal bias here is
    tril(diagonal=n_k - n_q).  The padding enters as nn.MultiheadAttention's
    key_padding_mask, True at the padding: key_mask == 0."""
    return {"weights": of(attention(c, tt(c.f("Q")), tt(c.f("K"))))}


def attention(c, Q, K):
    """softmax(Q K^T / sqrt(d_k) + bias) with the case's masks (see above)."""
    n_q, d_k = Q.shape
    n_k = K.shape[0]
    scores = Q @ K.T * (1.0 / math.sqrt(d_k))
    masked = torch.zeros(n_q, n_k, dtype=torch.bool)
    if c.flag("causal"):
        masked |= torch.ones(n_q, n_k, dtype=torch.bool).tril(diagonal=n_k - n_q).logical_not()
    if c.has("key_mask"):
        key_padding_mask = ti(c.i("key_mask")) == 0
        masked |= key_padding_mask[None, :]
    scores = scores.masked_fill(masked, float("-inf"))
    return Fn.softmax(scores, dim=-1)


# --------------------------------------------------------------- analysis --
# spec/pca.md with torch.linalg.svd of the centred rows (scikit-learn's
# method), signed by the rule of spec/pca.md; torch's own sign is unspecified.

def op_pca(c):
    X = tt(c.f("X"))
    n, d = X.shape
    k = c.integer("k")
    mu = X.mean(dim=0)
    Xc = X - mu
    _, S, Vh = torch.linalg.svd(Xc, full_matrices=False)
    V = Vh[:k]
    largest = torch.argmax(V.abs(), dim=1)          # the first on ties
    signs = torch.sign(V.gather(1, largest.unsqueeze(1)))
    signs[signs == 0] = 1
    V = V * signs
    lam = S[:k] ** 2 / (n - 1)
    total = (Xc ** 2).sum() / (n - 1)
    ratios = lam / total if bool(total > 0) else torch.zeros_like(lam)
    Z = Xc @ V.T
    return {"mean": of(mu), "components": of(V), "variances": of(lam),
            "ratios": of(ratios), "projections": of(Z), "reconstruction": of(Z @ V + mu)}


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


def upstream(c, name):
    """The upstream gradient input `name` as a class tensor."""
    return tt(c.f(name))


def lookup_backward(c, index_name, rows_name):
    """dTable (rows x d) of an nn.Embedding lookup at the given indices, for dY (n x d)."""
    idx = c.i(index_name)
    rows = c.integer(rows_name)
    dY = c.f("dY")
    table = embedding(torch.zeros(rows, dY.shape[1], dtype=COMP), trainable=True)   # values do not enter
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
    x, g = c.f("x"), c.f("gamma")
    d = x.shape[1]
    ln = nn.LayerNorm(d, eps=c.number("eps"), dtype=COMP)
    ln.weight = trainable(g)
    ln.bias = trainable(np.zeros(d))        # beta does not enter the backward; dbeta is its .grad
    xl = trainable(x)
    ln(xl).backward(upstream(c, "dY"))
    return {"dx": of(grad(xl)), "dgamma": of(grad(ln.weight)), "dbeta": of(grad(ln.bias))}


@with_autograd
def op_head_tied_backward(c):
    wte, lm_head = tied_head(c.f("E"), trainable=True)
    hl = trainable(c.f("h"))
    lm_head(hl).backward(upstream(c, "dlogits"))
    return {"dh": of(grad(hl)), "dE": of(grad(wte.weight))}


@with_autograd
def op_head_untied_backward(c):
    W = c.f("W")
    d, V = W.shape
    lm_head = linear(d, V, trainable(W.T), trainable(np.zeros(V)))   # db: what a bias receives
    hl = trainable(c.f("h"))
    lm_head(hl).backward(upstream(c, "dlogits"))
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
    ul = trainable(c.f("logits"))
    tau_leaf = nn.Parameter(torch.tensor(c.number("tau"), dtype=COMP))   # binary32 at least, as the classes say
    fn(scaled(ul, tau_leaf), dim=-1).backward(upstream(c, upstream_name))
    return {"dlogits": of(grad(ul)), "dtau": of(grad(tau_leaf).reshape(1))}


@with_autograd
def op_softmax_backward(c):
    return softmax_family_backward(c, Fn.softmax, "dprobs")


@with_autograd
def op_log_softmax_backward(c):
    # A masked output is the constant -inf, so a non-zero upstream gradient
    # there is bad input (validate.py rejects it).  PyTorch differs: it
    # accepts one, and its backward G - exp(o) sum(G) passes G_i to the
    # masked logit and counts it in the sum.
    return softmax_family_backward(c, Fn.log_softmax, "dlogprobs")


@with_autograd
def op_attention_weights_backward(c):
    # Autograd of the forward's explicit form; the masked scores are -inf
    # constants, and softmax's backward gives them y (g - sum y g) = 0.
    Q, K = trainable(c.f("Q")), trainable(c.f("K"))
    attention(c, Q, K).backward(upstream(c, "dweights"))
    return {"dQ": of(grad(Q)), "dK": of(grad(K))}


@with_autograd
def op_cross_entropy_backward(c):
    # With reduction "mean" and every target ignored the loss is NaN (0/0);
    # the spec wants dlogits = 0, and PyTorch 1.13's nll_loss backward gives
    # exactly that (it skips ignored rows and never divides by the zero count).
    # A counted row whose target logit is -inf is bad input (validate.py);
    # PyTorch differs: F.cross_entropy returns loss inf there and still a
    # finite gradient (y - onehot, -1 at the masked target).
    ul = trainable(c.f("logits"))
    ce(c, ul).backward(upstream(c, "dloss"))
    return {"dlogits": of(grad(ul))}


@with_autograd
def op_head_partial_backward(c):
    E = c.f("E")
    k = c.integer("k")
    F = free_columns(c)
    wte = embedding(tt(E), trainable=True)
    free = linear(E.shape[1], F.shape[1], trainable(F.T))
    hl = trainable(c.f("h"))
    shared = Fn.linear(hl, wte.weight[:k])   # a view of the embedding's first k rows
    torch.cat([shared, free(hl)], dim=-1).backward(upstream(c, "dlogits"))
    return {"dh": of(grad(hl)), "dE": of(grad(wte.weight)), "dF": of(grad(free.weight).T)}


@with_autograd
def op_head_transformed_backward(c):
    Tm = c.f("T")
    d = Tm.shape[0]
    transform = linear(d, d, trainable(Tm.T))
    wte, lm_head = tied_head(c.f("E"), trainable=True)
    hl = trainable(c.f("h"))
    lm_head(transform(hl)).backward(upstream(c, "dlogits"))
    return {"dh": of(grad(hl)), "dT": of(grad(transform.weight).T), "dE": of(grad(wte.weight))}


@with_autograd
def op_head_adaptive_backward(c):
    F = c.f("F")
    d, V = F.shape
    wte, tied = tied_head(c.f("E"), trainable=True)
    free = linear(d, V, trainable(F.T))
    a = nn.Parameter(torch.tensor(c.number("alpha"), dtype=COMP))
    hl = trainable(c.f("h"))
    (a * tied(hl) + (1.0 - a) * free(hl)).backward(upstream(c, "dlogits"))
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
    W1, b1, b2, tied = c.f("W1"), c.optional("b1"), c.optional("b2"), c.flag("tied")
    d, m = W1.shape
    # absent biases are zero Parameters: their .grad is what a bias would receive
    fc = linear(d, m, trainable(W1.T), trainable(np.zeros(m) if b1 is None else b1))
    out = output_layer(output_matrix(c, "W2"), b2, tied)
    mlp = nn.Sequential(fc, nn.ReLU(), out)             # ReLU's derivative at 0 is 0, as the spec
    hl = trainable(c.f("h"))
    mlp(hl).backward(upstream(c, "dlogits"))
    grads = {"dh": of(grad(hl)), "dW1": of(grad(fc.weight).T), "db1": of(grad(fc.bias)),
             "db2": of(grad(out.bias))}
    return output_grads(grads, out, tied, "dW2")


@with_autograd
def op_mos_fixed_backward(c):
    hl, Wl, al_leaf = trainable(c.f("h")), trainable(c.f("W")), trainable(c.f("alpha"))
    w = al_leaf / al_leaf.sum()
    p = Fn.softmax(torch.matmul(hl, Wl), dim=-1)                   # K x n x V
    # The log of the mixture is taken in probability space.  PyTorch differs
    # with the log-space form of the forward op, logsumexp(log w_k + log p_k):
    # a weight alpha_k = 0 makes every dalpha NaN (log's backward, 0 * 1/0),
    # where the spec wants the finite sum of p G / y.
    logprobs = torch.log((w[:, None, None] * p).sum(dim=0))
    logprobs.backward(upstream(c, "dlogprobs"))
    return {"dh": of(grad(hl)), "dW": of(grad(Wl)), "dalpha": of(grad(al_leaf))}


@with_autograd
def op_mos_gated_backward(c):
    Wpi, Wc, bc, tied = c.f("W_pi"), c.f("W_comp"), c.f("b_comp"), c.flag("tied")
    d, K = Wpi.shape
    gate = linear(d, K, trainable(Wpi.T))
    comps = [linear(d, d, trainable(Wc[k].T), trainable(bc[k])) for k in range(K)]
    out = output_layer(output_matrix(c, "W_out"), c.optional("b_out"), tied)   # db_out with or without a bias
    hl = trainable(c.f("h"))
    g = gate(hl)                                                    # n x K
    u = torch.stack([out(torch.tanh(comp(hl))) for comp in comps])  # K x n x V
    logprobs = torch.logsumexp(Fn.log_softmax(g, dim=-1).T[:, :, None] + Fn.log_softmax(u, dim=-1), dim=0)
    logprobs.backward(upstream(c, "dlogprobs"))
    grads = {"dh": of(grad(hl)), "dW_pi": of(grad(gate.weight).T),
             "dW_comp": of(torch.stack([grad(comp.weight).T for comp in comps])),
             "db_comp": of(torch.stack([grad(comp.bias) for comp in comps])),
             "db_out": of(grad(out.bias))}
    return output_grads(grads, out, tied, "dW_out")


@with_autograd
def op_soft_tie_loss_backward(c):
    W = c.f("W")
    d, V = W.shape
    wte = embedding(tt(c.f("E")), trainable=True)
    lm_head = linear(d, V, trainable(W.T))
    hl = trainable(c.f("h"))
    ce_loss = ce(c, lm_head(hl))
    penalty = ((wte.weight - lm_head.weight) ** 2).sum().reshape(1)
    (ce_loss + c.number("lambda") * penalty).backward(upstream(c, "dloss"))
    return {"dh": of(grad(hl)), "dE": of(grad(wte.weight)), "dW": of(grad(lm_head.weight).T)}


@with_autograd
def op_linear_cross_entropy(c):
    # The fused op by its definition (spec/linear_cross_entropy.md): the tied
    # head sharing nn.Embedding's Parameter, F.cross_entropy, and autograd
    # through both; the logits are formed in full (no fusion here).
    # With return_dE false the embedding is frozen, so autograd never forms
    # the |V| x d gradient.
    want_dE = c.flag("return_dE")
    wte, lm_head = tied_head(c.f("E"), trainable=want_dE)
    hl = trainable(c.f("h"))
    loss = ce(c, lm_head(hl))
    loss.backward(upstream(c, "dloss"))
    out = {"loss": of(loss), "dh": of(grad(hl))}
    if want_dE:
        out["dE"] = of(grad(wte.weight))
    return out


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


@with_autograd
def op_tied_lm(c):
    E, P, ids = c.f("E"), c.f("P"), c.i("ids")
    layernorm = c.flag("layernorm")
    V, d = E.shape
    n = len(ids)
    wte, lm_head = tied_head(E, trainable=True)          # lm_head.weight is wte.weight
    wpe = embedding(tt(P), trainable=True)
    ln_f = ln_module(c, d).requires_grad_() if layernorm else nn.Identity()
    M = c.f("M") if c.word("middle") == "matrix" else None
    middle = linear(d, d, tt(M).T.contiguous()) if M is not None else nn.Identity()   # frozen
    tok = wte(ti(ids))                                   # n x d
    X = tok + wpe(torch.arange(n, dtype=torch.int64))
    logits = lm_head(middle(ln_f(X)))
    loss = ce(c, logits)
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


# (storage, compute) dtypes of each class: bf16 and fp16 are storage formats
# with binary32 arithmetic (spec/tolerance.md#precision-classes).
CLASS_DTYPES = {"fp64": (torch.float64, torch.float64),
                "fp32": (torch.float32, torch.float32),
                "bf16": (torch.bfloat16, torch.float32),
                "fp16": (torch.float16, torch.float32)}

# Every op of the op table has its op_<name> (checked when this is imported).
OPS = protocol.op_functions(globals())


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
    if klass not in CLASS_DTYPES:
        print("class must be fp64, fp32, bf16 or fp16", file=sys.stderr)
        return 2
    STORE, COMP = CLASS_DTYPES[klass]
    hello = {"protocol": 1, "name": "torch-%s-%s" % (torch.__version__, klass),
             "class": klass, "ops": OPS.names()}
    return protocol.serve(hello, OPS, validate.validate)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
