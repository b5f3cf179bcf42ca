"""Which inputs are bad, op by op: spec/errors.md as Python, written once.

validate(op, request) raises protocol.Reject with the status the spec names
(LMR_EDIM, LMR_EINDEX, ...) when the request's input is bad, and returns
None when it is good.  Both Python testees call it before they compute, so an
op function may assume valid input.  It is written from spec/errors.md and
the op sections (spec/embedding.md, softmax.md, ...), not from ref/ or the
generator; tests/testees_validate.py checks it against every case of every
vector file: each valid case accepted, each invalid one rejected with the
status in the case's `error` field.

Each check is a named function so that a mutant (mutants.py) can replace
exactly one rule.  The rules of a forward op are a function check_<op>; the
backward op runs its forward's check, then those of its upstream gradient.
"""
import math

import numpy as np

from protocol import Reject, op_functions

SIN_MAX_POSITION = 2 ** 53
INT64_MAX = 2 ** 63 - 1


# ------------------------------------------------------------ shared rules

def require_sizes(what, **sizes):
    """Each named size must be >= 1 (LMR_EDIM)."""
    for name, size in sizes.items():
        if size < 1:
            raise Reject("LMR_EDIM", "%s: %s = %d" % (what, name, size))


def require_equal(what, got, want):
    if got != want:
        raise Reject("LMR_EDIM", "%s is %s, not %s" % (what, got, want))


def require_shape(a, shape, name):
    require_equal(name + "'s shape", list(a.shape), list(shape))


def require_finite(a, name):
    """No NaN or infinity anywhere in a (LMR_ENONFINITE)."""
    if a is not None and a.size and not np.all(np.isfinite(a)):
        raise Reject("LMR_ENONFINITE", "a NaN or infinity in %s" % name)


def require_finite_number(x, name):
    if not math.isfinite(x):
        raise Reject("LMR_ENONFINITE", "%s = %r" % (name, x))


def table(c, name):
    """A |rows| x d table with both sizes >= 1, checked finite everywhere."""
    t = c.f(name, 2)
    require_sizes(name, rows=t.shape[0], width=t.shape[1])
    require_finite(t, name)
    return t


def token_ids(ids, vocab, name="token id"):
    if np.any(ids < 0) or np.any(ids >= vocab):
        raise Reject("LMR_EINDEX", "a %s outside [0, %d)" % (name, vocab))


def learned_positions(positions, length):
    if np.any(positions < 0) or np.any(positions >= length):
        raise Reject("LMR_EPOS", "a position outside [0, %d)" % length)


def sinusoid_base(base):
    require_finite_number(base, "base")
    if base <= 1.0:
        raise Reject("LMR_EDOMAIN", "base %r <= 1" % base)


def sinusoid_positions(positions):
    if np.any(positions < 0) or np.any(positions > SIN_MAX_POSITION):
        raise Reject("LMR_EPOS", "a position outside [0, 2^53]")


def layernorm_eps(eps):
    require_finite_number(eps, "eps")
    if eps <= 0.0:
        raise Reject("LMR_EDOMAIN", "eps %r <= 0" % eps)


def layernorm_affine(c, d):
    """gamma and beta: length d, finite."""
    for name in ("gamma", "beta"):
        a = c.f(name, 1)
        require_equal(name + "'s length", a.shape[0], d)
        require_finite(a, name)


def temperature(tau):
    require_finite_number(tau, "tau")
    if tau <= 0.0:
        raise Reject("LMR_EDOMAIN", "tau %r <= 0" % tau)


def logit_values(u):
    """Finite or -inf: NaN and +inf are not scores."""
    if np.any(np.isnan(u)) or np.any(u == math.inf):
        raise Reject("LMR_ENONFINITE", "a NaN or +inf logit")


def rows_not_all_masked(u):
    """Every row needs one finite logit: no distribution over an empty set."""
    if u.shape[0] and not np.all(np.any(np.isfinite(u), axis=1)):
        raise Reject("LMR_EDOMAIN", "a row of only -inf")


def logits(c, name="logits"):
    """An n x |V| array of logits, |V| >= 1 (spec/softmax.md)."""
    u = c.f(name, 2)
    require_sizes(name, vocab=u.shape[1])
    logit_values(u)
    rows_not_all_masked(u)
    return u


def reduction(word, allowed):
    if word not in allowed:
        raise Reject("LMR_EDOMAIN", "reduction %r is not one of %s" % (word, ", ".join(allowed)))


def ignore_index(index, vocab):
    """ignore_index must not name a real token."""
    if 0 <= index < vocab:
        raise Reject("LMR_EDOMAIN", "ignore_index %d inside [0, %d)" % (index, vocab))


def targets(c, n, vocab):
    """targets: n entries, each in [0, |V|) or ignore_index; returns them."""
    tg = c.i("targets")
    require_equal("targets' length", tg.shape[0], n)
    ig = c.integer("ignore_index")
    ignore_index(ig, vocab)
    counted = tg != ig
    token_ids(tg[counted], vocab, "target")
    return tg, counted


def head_input(c, d):
    """h: n x d, finite."""
    h = c.f("h", 2)
    require_equal("h's width", h.shape[1], d)
    require_finite(h, "h")
    return h


def matrix(c, name, shape):
    """A real input of the given shape (LMR_EDIM), finite."""
    a = c.f(name, len(shape))
    require_shape(a, shape, name)
    require_finite(a, name)
    return a


def unit_interval(alpha):
    require_finite_number(alpha, "alpha")
    if not (0.0 <= alpha <= 1.0):
        raise Reject("LMR_EDOMAIN", "alpha %r outside [0, 1]" % alpha)


def upstream(c, name, shape):
    """The upstream gradient `name`: the given shape, finite."""
    g = c.f(name)
    require_equal(name + "'s shape", list(g.shape), list(shape))
    require_finite(g, name)


# ---------------------------------------------------------- the input side

def check_embed_lookup(c):
    E = table(c, "E")
    token_ids(c.i("ids"), E.shape[0])


def onehot_matrix(O):
    """Exactly 0 or 1 everywhere, exactly one 1 per row (LMR_EDOMAIN)."""
    if not np.all((O == 0.0) | (O == 1.0)):
        raise Reject("LMR_EDOMAIN", "an entry other than 0 or 1")
    if O.shape[0] and not np.all(np.sum(O == 1.0, axis=1) == 1):
        raise Reject("LMR_EDOMAIN", "a row without exactly one 1")


def check_embed_onehot(c):
    O = c.f("onehot", 2)
    E = table(c, "E")
    require_equal("the one-hot width", O.shape[1], E.shape[0])
    onehot_matrix(O)


def check_pos_learned(c):
    P = table(c, "P")
    learned_positions(c.i("positions"), P.shape[0])


def check_pos_sinusoid(c):
    require_sizes("pos_sinusoid", d=c.integer("d"))
    sinusoid_base(c.number("base"))
    sinusoid_positions(c.i("positions"))


def position_kind(kind):
    if kind not in ("learned", "sinusoid"):
        raise Reject("LMR_EDOMAIN", "unknown positions kind %r" % (kind,))


def compose_start(start):
    if start < 0:
        raise Reject("LMR_EPOS", "start %d < 0" % start)


def learned_run(start, n, length):
    """Positions start .. start + n - 1 must be rows of the table."""
    if start + n > length:
        raise Reject("LMR_EPOS", "start %d + n %d runs past %d rows" % (start, n, length))


def check_compose(c):
    E = table(c, "E")
    ids = c.i("ids")
    token_ids(ids, E.shape[0])
    kind = c.word("positions")
    position_kind(kind)
    start = c.integer("start")
    compose_start(start)
    c.flag("scale_by_sqrt_d")
    n = ids.shape[0]
    if kind == "learned":
        P = table(c, "P")
        require_equal("P's width", P.shape[1], E.shape[1])
        learned_run(start, n, P.shape[0])
    else:
        sinusoid_base(c.number("base"))
        if n and start + n - 1 > SIN_MAX_POSITION:
            raise Reject("LMR_EPOS", "position %d past 2^53" % (start + n - 1))


def check_layernorm(c):
    x = c.f("x", 2)
    require_sizes("x", d=x.shape[1])
    require_finite(x, "x")
    layernorm_affine(c, x.shape[1])
    layernorm_eps(c.number("eps"))


def check_compose_layernorm(c):
    check_compose(c)
    layernorm_affine(c, c.f("E", 2).shape[1])
    layernorm_eps(c.number("eps"))


# ------------------------------------------------------------------ heads

def check_head_tied(c):
    E = table(c, "E")
    head_input(c, E.shape[1])


def untied_weight(c):
    """W: d x |V|, both >= 1, finite."""
    W = c.f("W", 2)
    require_sizes("W", d=W.shape[0], vocab=W.shape[1])
    require_finite(W, "W")
    return W


def check_head_untied(c):
    W = untied_weight(c)
    head_input(c, W.shape[0])
    b = c.optional("b", 1)
    if b is not None:
        require_equal("b's length", b.shape[0], W.shape[1])
        require_finite(b, "b")


# ---------------------------------------------------------------- softmax

def check_softmax(c):
    logits(c)
    temperature(c.number("tau"))


def check_log_softmax(c):
    check_softmax(c)


def check_cross_entropy(c):
    u = logits(c)
    reduction(c.word("reduction"), ("none", "sum", "mean"))
    targets(c, u.shape[0], u.shape[1])


def check_argmax(c):
    logits(c)


def top_k(k):
    if k < 0:
        raise Reject("LMR_EDOMAIN", "top_k %d < 0" % k)


def top_p(p):
    require_finite_number(p, "top_p")
    if not (0.0 < p <= 1.0):
        raise Reject("LMR_EDOMAIN", "top_p %r outside (0, 1]" % p)


def uniform_numbers(r):
    """r in [0, 1), finite; checked on the double as given (spec/sampling.md)."""
    require_finite(r, "r")
    if np.any(r < 0.0) or np.any(r >= 1.0):
        raise Reject("LMR_EDOMAIN", "an r outside [0, 1)")


def check_sample(c):
    u = logits(c)
    temperature(c.number("tau"))
    top_k(c.integer("top_k"))
    top_p(c.number("top_p"))
    r = c.f("r", 1)
    require_equal("r's length", r.shape[0], u.shape[0])
    uniform_numbers(r)


def lens_k(k, vocab):
    if k < 1 or k > vocab:
        raise Reject("LMR_EDOMAIN", "k %d outside [1, %d]" % (k, vocab))


def check_logit_lens(c):
    H = c.f("hidden", 3)
    E = c.f("E", 2)
    require_sizes("logit_lens", layers=H.shape[0], d=H.shape[2], vocab=E.shape[0])
    require_equal("E's width", E.shape[1], H.shape[2])
    lens_k(c.integer("k"), E.shape[0])
    require_finite(H, "hidden")
    require_finite(E, "E")
    if c.flag("final_layernorm"):
        layernorm_affine(c, H.shape[2])
        layernorm_eps(c.number("eps"))


def check_param_count(c):
    V, d, B = c.integer("vocab"), c.integer("d"), c.integer("block_params")
    if V == 0 or d == 0:
        raise Reject("LMR_EDIM", "vocab %d, d %d: a size is 0" % (V, d))
    if V < 0 or d < 0 or B < 0:
        raise Reject("LMR_EDOMAIN", "vocab %d, d %d, block_params %d" % (V, d, B))
    if V * d > INT64_MAX or 2 * V * d + B > INT64_MAX:
        raise Reject("LMR_EOVERFLOW", "a count past 2^63 - 1")


# --------------------------------------------------------- head variants

def partial_k(k, vocab):
    if k < 0 or k > vocab:
        raise Reject("LMR_EDOMAIN", "k %d outside [0, %d]" % (k, vocab))


def check_head_partial(c):
    E = table(c, "E")
    V, d = E.shape
    k = c.integer("k")
    partial_k(k, V)
    if c.has("F") or k < V:
        matrix(c, "F", (d, V - k))
    head_input(c, d)


def check_head_transformed(c):
    E = table(c, "E")
    d = E.shape[1]
    matrix(c, "T", (d, d))
    head_input(c, d)


def check_head_adaptive(c):
    E = table(c, "E")
    V, d = E.shape
    matrix(c, "F", (d, V))
    head_input(c, d)
    unit_interval(c.number("alpha"))


def output_matrix(c, name, rows):
    """The output matrix of the MLP head or the gated mixture: `name` (rows x
    |V|) untied, E (|V| x rows) tied; returns |V|."""
    if c.flag("tied"):
        E = table(c, "E")
        require_equal("E's width", E.shape[1], rows)
        return E.shape[0]
    W = c.f(name, 2)
    require_equal(name + "'s rows", W.shape[0], rows)
    require_sizes(name, vocab=W.shape[1])
    require_finite(W, name)
    return W.shape[1]


def optional_bias(c, name, length):
    b = c.optional(name, 1)
    if b is not None:
        require_equal(name + "'s length", b.shape[0], length)
        require_finite(b, name)


def check_head_mlp(c):
    h = c.f("h", 2)
    d = h.shape[1]
    W1 = c.f("W1", 2)
    require_sizes("head_mlp", d=d, m=W1.shape[1])
    require_equal("W1's rows", W1.shape[0], d)
    m = W1.shape[1]
    if c.flag("tied"):
        require_equal("m (the tied form needs m = d)", m, d)
    V = output_matrix(c, "W2", m)
    optional_bias(c, "b1", m)
    optional_bias(c, "b2", V)
    require_finite(h, "h")
    require_finite(W1, "W1")


def mixture_weights(alpha):
    if np.any(alpha < 0.0) or not np.any(alpha > 0.0):
        raise Reject("LMR_EDOMAIN", "a negative weight, or every weight 0")


def check_mos_fixed(c):
    W = c.f("W", 3)
    K, d, V = W.shape
    require_sizes("W", components=K, d=d, vocab=V)
    require_finite(W, "W")
    head_input(c, d)
    alpha = c.f("alpha", 1)
    require_equal("alpha's length", alpha.shape[0], K)
    require_finite(alpha, "alpha")
    mixture_weights(alpha)


def check_mos_gated(c):
    h = c.f("h", 2)
    d = h.shape[1]
    require_sizes("h", d=d)
    W_pi = c.f("W_pi", 2)
    require_equal("W_pi's rows", W_pi.shape[0], d)
    K = W_pi.shape[1]
    require_sizes("W_pi", components=K)
    matrix(c, "W_comp", (K, d, d))
    matrix(c, "b_comp", (K, d))
    V = output_matrix(c, "W_out", d)
    optional_bias(c, "b_out", V)
    require_finite(h, "h")
    require_finite(W_pi, "W_pi")


def penalty_weight(lam):
    require_finite_number(lam, "lambda")
    if lam < 0.0:
        raise Reject("LMR_EDOMAIN", "lambda %r < 0" % lam)


def check_soft_tie_loss(c):
    E = table(c, "E")
    V, d = E.shape
    matrix(c, "W", (d, V))
    h = head_input(c, d)
    penalty_weight(c.number("lambda"))
    reduction(c.word("reduction"), ("sum", "mean"))
    targets(c, h.shape[0], V)


# -------------------------------------------------------------- attention

def key_mask_values(m):
    """Each key_mask entry is 0 (padding) or 1 (the key takes part)."""
    if np.any((m != 0) & (m != 1)):
        raise Reject("LMR_EDOMAIN", "a key_mask entry other than 0 or 1")


def attention_mask(n_q, n_k, causal, key_mask):
    """masked[i, j]: key j is masked for query i (spec/attention.md): padding
    (key_mask 0), or causal with j > i + (n_k - n_q), bottom-right aligned."""
    masked = np.zeros((n_q, n_k), dtype=bool)
    if key_mask is not None:
        masked |= (key_mask == 0)[None, :]
    if causal:
        i, j = np.arange(n_q)[:, None], np.arange(n_k)[None, :]
        masked |= j > i + (n_k - n_q)
    return masked


def rows_keep_a_key(masked):
    """Every query keeps one key: a fully masked row is bad input, as a
    softmax row of only -inf."""
    if masked.shape[0] and not np.all(np.any(~masked, axis=1)):
        raise Reject("LMR_EDOMAIN", "a query whose every key is masked")


def check_attention_weights(c):
    Q, K = c.f("Q", 2), c.f("K", 2)
    n_q, d_k = Q.shape
    require_sizes("attention", d_k=d_k, n_k=K.shape[0])
    require_equal("K's width", K.shape[1], d_k)
    key_mask = c.i("key_mask") if c.has("key_mask") else None
    if key_mask is not None:
        require_equal("key_mask's length", key_mask.shape[0], K.shape[0])
    require_finite(Q, "Q")
    require_finite(K, "K")
    if key_mask is not None:
        key_mask_values(key_mask)
    rows_keep_a_key(attention_mask(n_q, K.shape[0], c.flag("causal"), key_mask))


# -------------------------------------------------------------- analysis

PCA_MAX_ABS = 2.0 ** 480


def pca_rows(X):
    """n >= 2 rows (divisor n - 1), d >= 1 (LMR_EDIM)."""
    if X.shape[0] < 2 or X.shape[1] < 1:
        raise Reject("LMR_EDIM", "pca needs n >= 2 and d >= 1, not %s" % (list(X.shape),))


def pca_magnitude(X):
    """|x| <= 2^480 (spec/pca.md: no square or sum overflows)."""
    if X.size and np.max(np.abs(X)) > PCA_MAX_ABS:
        raise Reject("LMR_EDOMAIN", "an entry beyond 2^480")


def pca_components(k, n, d):
    if k < 1 or k > min(n, d):
        raise Reject("LMR_EDOMAIN", "k = %d outside [1, min(n, d) = %d]" % (k, min(n, d)))


def check_pca(c):
    X = c.f("X", 2)
    pca_rows(X)
    require_finite(X, "X")
    pca_magnitude(X)
    pca_components(c.integer("k"), X.shape[0], X.shape[1])


# -------------------------------------------------------------- gradients

def scatter_backward(c, index_name, size_name, index_rule):
    """The backward of a lookup: size >= 1, dY n x d with d >= 1, the index
    in the table (index_rule), dY finite."""
    size = c.integer(size_name)
    index = c.i(index_name)
    dY = c.f("dY", 2)
    require_sizes("lookup backward", **{size_name: size, "d": dY.shape[1]})
    require_equal("dY's rows", dY.shape[0], index.shape[0])
    index_rule(index, size)
    require_finite(dY, "dY")


def check_embed_lookup_backward(c):
    scatter_backward(c, "ids", "vocab", token_ids)


def check_pos_learned_backward(c):
    scatter_backward(c, "positions", "max_len", learned_positions)


def check_layernorm_backward(c):
    x = c.f("x", 2)
    d = x.shape[1]
    require_sizes("x", d=d)
    require_finite(x, "x")
    gamma = c.f("gamma", 1)
    require_equal("gamma's length", gamma.shape[0], d)
    require_finite(gamma, "gamma")
    layernorm_eps(c.number("eps"))
    upstream(c, "dY", x.shape)


def logits_shape(c, vocab):
    return (c.f("h", 2).shape[0], vocab)


def check_head_tied_backward(c):
    check_head_tied(c)
    upstream(c, "dlogits", logits_shape(c, c.f("E", 2).shape[0]))


def check_head_untied_backward(c):
    W = untied_weight(c)
    head_input(c, W.shape[0])
    upstream(c, "dlogits", logits_shape(c, W.shape[1]))


def check_softmax_backward(c):
    check_softmax(c)
    upstream(c, "dprobs", c.f("logits").shape)


def masked_upstream_zero(u, G):
    """No finite loss depends on the constant -inf of a masked entry."""
    if np.any((u == -math.inf) & (G != 0.0)):
        raise Reject("LMR_EDOMAIN", "a non-zero upstream gradient at a masked logit")


def check_log_softmax_backward(c):
    check_softmax(c)
    u = c.f("logits")
    upstream(c, "dlogprobs", u.shape)
    masked_upstream_zero(u, c.f("dlogprobs"))


def counted_targets_finite(u, tg, counted):
    """A counted target whose logit is -inf has an infinite loss and no gradient."""
    rows = np.nonzero(counted)[0]
    if np.any(u[rows, tg[rows]] == -math.inf):
        raise Reject("LMR_EDOMAIN", "a counted target with a -inf logit")


def loss_upstream(c, n, word):
    upstream(c, "dloss", (n,) if word == "none" else (1,))


def check_cross_entropy_backward(c):
    check_cross_entropy(c)
    u = c.f("logits")
    tg, counted = targets(c, u.shape[0], u.shape[1])
    counted_targets_finite(u, tg, counted)
    loss_upstream(c, u.shape[0], c.word("reduction"))


def check_head_partial_backward(c):
    check_head_partial(c)
    upstream(c, "dlogits", logits_shape(c, c.f("E", 2).shape[0]))


def check_head_transformed_backward(c):
    check_head_transformed(c)
    upstream(c, "dlogits", logits_shape(c, c.f("E", 2).shape[0]))


def check_head_adaptive_backward(c):
    check_head_adaptive(c)
    upstream(c, "dlogits", logits_shape(c, c.f("E", 2).shape[0]))


def output_vocab(c, name):
    return c.f("E", 2).shape[0] if c.flag("tied") else c.f(name, 2).shape[1]


def check_head_mlp_backward(c):
    check_head_mlp(c)
    upstream(c, "dlogits", logits_shape(c, output_vocab(c, "W2")))


def check_mos_fixed_backward(c):
    check_mos_fixed(c)
    upstream(c, "dlogprobs", logits_shape(c, c.f("W", 3).shape[2]))


def check_mos_gated_backward(c):
    check_mos_gated(c)
    upstream(c, "dlogprobs", logits_shape(c, output_vocab(c, "W_out")))


def check_soft_tie_loss_backward(c):
    check_soft_tie_loss(c)
    upstream(c, "dloss", (1,))


def check_attention_weights_backward(c):
    check_attention_weights(c)
    upstream(c, "dweights", (c.f("Q").shape[0], c.f("K").shape[0]))


def check_linear_cross_entropy(c):
    E = table(c, "E")
    vocab, d = E.shape
    h = head_input(c, d)
    word = c.word("reduction")
    reduction(word, ("none", "sum", "mean"))
    targets(c, h.shape[0], vocab)
    loss_upstream(c, h.shape[0], word)


def middle_kind(word):
    if word not in ("identity", "matrix"):
        raise Reject("LMR_EDOMAIN", "unknown middle %r" % (word,))


def check_tied_lm(c):
    E = table(c, "E")
    V, d = E.shape
    ids = c.i("ids")
    n = ids.shape[0]
    token_ids(ids, V)
    P = c.f("P", 2)
    require_equal("P's width", P.shape[1], d)
    if P.shape[0] < n:
        raise Reject("LMR_EDIM", "P has %d rows for n = %d" % (P.shape[0], n))
    require_finite(P, "P")
    reduction(c.word("reduction"), ("sum", "mean"))
    targets(c, n, V)
    middle = c.word("middle")
    middle_kind(middle)
    if c.flag("layernorm"):
        layernorm_affine(c, d)
        layernorm_eps(c.number("eps"))
    if middle == "matrix":
        matrix(c, "M", (d, d))


# ------------------------------------------------------------- the entry

# Every op of the op table has its check_<op> (checked when this is imported).
VALIDATORS = op_functions(globals(), prefix="check_")


def validate(op, request):
    """Raises Reject (the spec's status and a reason) when the request's input
    is bad for op; returns None when it is good."""
    VALIDATORS.get(op)(request)
