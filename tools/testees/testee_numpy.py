#!/usr/bin/python3
"""NumPy testee for lmr-run (spec/protocol.md).

    /usr/bin/python3 tools/testees/testee_numpy.py --class fp64|fp32

Every op of spec/ in NumPy: inputs are converted to the class's dtype on
arrival (float64 or float32), every operation runs in that dtype, outputs are
written back as the exact values of that dtype.  Written from the spec text
only (not from ref/ or the oracle), so that it is an independent witness.
Gradients are the closed forms of spec/gradients.md, by hand.

Inputs are checked by validate.py before an op runs (protocol.respond), so
the op functions here only compute.  Every place where the spec decides
something (a tie rule, an order of steps, a boundary, a normalisation) is a
small named function, so that mutants.py can replace exactly that decision;
this file itself has no mutant in it.
"""
import math
import sys

import numpy as np

import protocol
from protocol import out_f, out_i
import validate

np.seterr(all="ignore")

CLASSES = {"fp64": np.float64, "fp32": np.float32}
T = np.float64  # the class's dtype: configure() sets it


def configure(klass):
    """Computes in the dtype of klass ("fp64" or "fp32") from now on."""
    global T
    T = CLASSES[klass]


def cls(a):
    """A double array in the class dtype."""
    return np.asarray(a, dtype=np.float64).astype(T)


def matmul(a, b):
    """a @ b in the class dtype (the products of the heads)."""
    return a @ b


# ------------------------------------------------------------ input side --


def gather_rows(table, index):
    """table[index[t], :] for every t: an n x d array (a lookup is a copy)."""
    return table[index].reshape(len(index), table.shape[1])


def learned_rows(P, positions):
    """The rows of the learned position table for the given positions."""
    return gather_rows(P, positions)


def op_embed_lookup(c):
    return {"Y": out_f(gather_rows(cls(c.f("E")), c.i("ids")))}


def onehot_product(O, E):
    return O @ E


def op_embed_onehot(c):
    return {"Y": out_f(onehot_product(cls(c.f("onehot")), cls(c.f("E"))))}


def op_pos_learned(c):
    return {"Y": out_f(learned_rows(cls(c.f("P")), c.i("positions")))}


def encoded_positions(positions):
    """The positions the encoding is evaluated at: the given ones, from 0."""
    return positions


def frequencies(d, base):
    """omega_i = base^(-2i/d) for the ceil(d/2) pairs, PyTorch's recipe."""
    i2 = (2 * np.arange((d + 1) // 2)).astype(T)
    return np.exp(i2 * (-np.log(T(base)) / T(d)))


def place_sin_cos(theta, d):
    """Columns 2i and 2i+1 hold sin and cos of the pair's angle (interleaved)."""
    Y = np.empty((theta.shape[0], d), dtype=T)
    Y[:, 0::2] = np.sin(theta)
    Y[:, 1::2] = np.cos(theta[:, : d // 2])
    return Y


def sinusoid(positions, d, base):
    """PE rows (n x d) for the int64 positions, in the class dtype."""
    p = encoded_positions(positions)
    theta = p.astype(T)[:, None] * frequencies(d, base)[None, :]
    return place_sin_cos(theta, d)


def op_pos_sinusoid(c):
    return {"Y": out_f(sinusoid(c.i("positions"), c.integer("d"), c.number("base")))}


def token_scale(d, scale_by_sqrt_d):
    """c = sqrt(d) or 1."""
    return np.sqrt(T(d)) if scale_by_sqrt_d else T(1)


def combine(scale, tokens, positions):
    """X = c E[w] + P: only the token term is scaled."""
    return scale * tokens + positions


def compose_positions(start, n):
    """The positions of the n tokens: start, start + 1, ..."""
    return np.arange(start, start + n, dtype=np.int64)


def compose(c):
    """The composite X = c E[w] + P(start + t), in the class dtype."""
    E = cls(c.f("E"))
    ids = c.i("ids")
    n, d = len(ids), E.shape[1]
    positions = compose_positions(c.integer("start"), n)
    if c.word("positions") == "learned":
        pe = learned_rows(cls(c.f("P")), positions)
    else:
        pe = sinusoid(positions, d, c.number("base"))
    return combine(token_scale(d, c.flag("scale_by_sqrt_d")), gather_rows(E, ids), pe)


def op_compose(c):
    return {"Y": out_f(compose(c))}


def row_mean(x):
    return np.mean(x, axis=-1, dtype=T)


def row_variance(x, mu):
    """The biased variance: the mean of the squared deviations."""
    dev = x - mu[..., None]
    return np.sum(dev * dev, axis=-1, dtype=T) / T(x.shape[-1])


def inverse_std(var, eps):
    """r = 1/sqrt(var + eps), eps inside the root."""
    return T(1) / np.sqrt(var + eps)


def row_stats(x, eps):
    """(mu, r) of every row (last axis)."""
    mu = row_mean(x)
    return mu, inverse_std(row_variance(x, mu), eps)


def affine(z, gamma, beta):
    return gamma * z + beta


def layernorm(x, gamma, beta, eps, stats=None):
    mu, r = row_stats(x, eps) if stats is None else stats
    return affine((x - mu[..., None]) * r[..., None], gamma, beta)


def ln_params(c):
    """(gamma, beta, eps) in the class dtype."""
    return cls(c.f("gamma")), cls(c.f("beta")), T(c.number("eps"))


def op_layernorm(c):
    return {"Y": out_f(layernorm(cls(c.f("x")), *ln_params(c)))}


def op_compose_layernorm(c):
    X = compose(c)
    if not np.all(np.isfinite(X)):
        raise protocol.Reject("LMR_ERANGE", "the composite overflowed")
    return {"Y": out_f(layernorm(X, *ln_params(c)))}


# ------------------------------------------------------------------ heads --


def tied_weight(E):
    """The tied head's d x |V| matrix: E^T, a view of E."""
    return E.T


def op_head_tied(c):
    return {"logits": out_f(matmul(cls(c.f("h")), tied_weight(cls(c.f("E")))))}


def untied_weight(W):
    """W (d x |V|) as the head multiplies it: as given."""
    return cls(W)


def untied_logits(h, W, b):
    u = matmul(cls(h), untied_weight(W))
    return u if b is None else u + cls(b)


def op_head_untied(c):
    return {"logits": out_f(untied_logits(c.f("h"), c.f("W"), c.optional("b")))}


# ---------------------------------------------------------------- softmax --


def row_max(u):
    """a = the row maximum (n x 1), what softmax subtracts."""
    return np.max(u, axis=1, keepdims=True)


def apply_temperature(z, tau):
    return z / T(tau)


def scaled(u, tau):
    """z = (u - a)/tau in the class dtype."""
    return apply_temperature(u - row_max(u), tau)


def row_sum(e):
    """The sum of each row (n x 1) of exponentials."""
    return np.sum(e, axis=1, keepdims=True, dtype=T)


def exponentials(z):
    return np.exp(z)


def softmax(u, tau=1.0):
    e = exponentials(scaled(u, tau))
    return e / row_sum(e)


def log_softmax(u, tau=1.0):
    """z - log sum exp z, never log of a computed probability."""
    z = scaled(u, tau)
    return z - np.log(row_sum(exponentials(z)))


def op_softmax(c):
    return {"probs": out_f(softmax(cls(c.f("logits")), c.number("tau")))}


def op_log_softmax(c):
    return {"logprobs": out_f(log_softmax(cls(c.f("logits")), c.number("tau")))}


def read_targets(c):
    """(targets, reduction, counted) of a loss: counted[t] says the target is
    not ignore_index."""
    tg = c.i("targets")
    return tg, c.word("reduction"), tg != c.integer("ignore_index")


def target_losses(u, tg, counted):
    """-log y[t, c_t] for every counted row, 0 for an ignored one (n)."""
    lp = log_softmax(u, 1.0)
    loss = np.zeros(u.shape[0], dtype=T)
    rows = np.nonzero(counted)[0]
    loss[rows] = -lp[rows, tg[rows]]
    return loss


def reduce_losses(loss, red, counted):
    """none: the n losses; sum: their sum; mean: the sum over the number of
    counted rows (NaN when there is none)."""
    if red == "none":
        return loss
    total = np.sum(loss, dtype=T) if loss.shape[0] else T(0)
    if red == "sum":
        return np.array([total], dtype=T)
    m = int(np.count_nonzero(counted))
    return np.array([total / T(m) if m else math.nan], dtype=T)


def cross_entropy(u, tg, red, counted):
    return reduce_losses(target_losses(u, tg, counted), red, counted)


def op_cross_entropy(c):
    tg, red, counted = read_targets(c)
    return {"loss": out_f(cross_entropy(cls(c.f("logits")), tg, red, counted))}


# --------------------------------------------------------------- sampling --


def argmax_rows(u):
    """The lowest index of each row's maximum."""
    return np.argmax(u, axis=1)


def op_argmax(c):
    return {"token": out_i(argmax_rows(cls(c.f("logits"))))}


def rank_order(row):
    """Indices by decreasing logit, ties by increasing index."""
    idx = np.arange(row.shape[0])
    return np.lexsort((idx, -row))


def top_k_cut(order, row, k):
    """The first k of the ranked tokens (exactly k, or all if fewer)."""
    return order[:k]


def reaches(cumulative, top_p):
    """Where the cumulative probability has reached top_p."""
    return cumulative >= T(top_p)


def top_p_cut(order, p, top_p):
    """The shortest prefix of order whose renormalised mass reaches top_p."""
    pk = p[order]
    cum = np.cumsum(pk / np.sum(pk, dtype=T), dtype=T)
    hit = np.nonzero(reaches(cum, top_p))[0]
    return order[: hit[0] + 1] if len(hit) else order


def top_p_probs(u, tau, p):
    """The distribution top-p reads: the tempered one, p."""
    return p


def cdf_walk(order, kept):
    """The kept tokens in the order the inverse CDF visits them: by index."""
    return np.nonzero(kept)[0]


def first_above(r, C):
    """The positions i with r < C_i."""
    return np.nonzero(r < C)[0]


def truncate(order, row, p_top, k, top_p):
    """The kept tokens, ranked: top-k (k >= 1), then top-p (top_p < 1)."""
    if k >= 1:
        order = top_k_cut(order, row, k)
    if top_p < 1.0:
        order = top_p_cut(order, p_top, top_p)
    return order


def inverse_cdf(q, walk, r):
    """The first token of walk whose cumulative q exceeds r (the last one
    when rounding leaves every sum at or below r)."""
    hit = first_above(r, np.cumsum(q[walk], dtype=T))
    return walk[hit[0]] if len(hit) else walk[-1]


def sample_row(row, p, p_top, r, k, top_p):
    """(q, token) for one row: the kept tokens' renormalised distribution and
    the token of the inverse CDF at r."""
    order = rank_order(row)
    order = truncate(order[np.isfinite(row[order])], row, p_top, k, top_p)
    kept = np.zeros(row.shape[0], dtype=bool)
    kept[order] = True
    q = np.where(kept, p, T(0))
    q = q / np.sum(q, dtype=T)
    return q, inverse_cdf(q, cdf_walk(order, kept), r)


def op_sample(c):
    u = cls(c.f("logits"))
    r = cls(c.f("r"))
    tau, k, top_p = c.number("tau"), c.integer("top_k"), c.number("top_p")
    p = softmax(u, tau)
    p_top = top_p_probs(u, tau, p)
    probs = np.zeros(u.shape, dtype=T)
    tokens = np.zeros(u.shape[0], dtype=np.int64)
    for t in range(u.shape[0]):
        probs[t], tokens[t] = sample_row(u[t], p[t], p_top[t], r[t], k, top_p)
    return {"probs": out_f(probs), "token": out_i(tokens)}


# ------------------------------------------------------------- logit lens --


def lens_normalise(X, gamma, beta, eps):
    """The final LayerNorm of every layer's vector, each with its own statistics."""
    return layernorm(X, gamma, beta, eps)


def op_logit_lens(c):
    X = cls(c.f("hidden"))
    E = cls(c.f("E"))
    k = c.integer("k")
    L, n, d = X.shape
    V = E.shape[0]
    if c.flag("final_layernorm"):
        X = lens_normalise(X, *ln_params(c))
    U = matmul(X.reshape(L * n, d), E.T)
    P = softmax(U, 1.0)
    top = np.array([rank_order(U[i])[:k] for i in range(L * n)],
                   dtype=np.int64).reshape(L * n, k)
    tp = np.take_along_axis(P, top, axis=1) if L * n else np.zeros((0, k), dtype=T)
    return {"probs": out_f(P.reshape(L, n, V)),
            "top_tokens": out_i(top.reshape(L, n, k)),
            "top_probs": out_f(tp.reshape(L, n, k))}


# ---------------------------------------------------------- param counts --


def op_param_count(c):
    V, d, B = c.integer("vocab"), c.integer("d"), c.integer("block_params")
    emb = V * d
    untied = 2 * emb + B
    return {"untied": out_i([untied]), "tied": out_i([emb + B]), "saving": out_i([emb]),
            "relative_reduction": out_f(np.array([T(emb) / T(untied)], dtype=T))}


# ---------------------------------------------------------- head variants --


def partial_logits(h, E, F, k):
    """Columns v < k from E's rows, the others from F."""
    return np.concatenate([matmul(h, E[:k].T), matmul(h, F)], axis=1)


def free_columns(c, k):
    """F (d x (|V| - k)), absent when k = |V|."""
    E = c.f("E")
    F = c.optional("F")
    return np.zeros((E.shape[1], 0)) if F is None else F


def op_head_partial(c):
    k = c.integer("k")
    u = partial_logits(cls(c.f("h")), cls(c.f("E")), cls(free_columns(c, k)), k)
    return {"logits": out_f(u)}


def transformed_logits(h, Tm, E):
    return matmul(matmul(h, Tm), E.T)


def op_head_transformed(c):
    return {"logits": out_f(transformed_logits(cls(c.f("h")), cls(c.f("T")), cls(c.f("E"))))}


def adaptive_mix(alpha, uE, uF):
    """alpha (h E^T) + (1 - alpha) (h F)."""
    a = T(alpha)
    return a * uE + (T(1) - a) * uF


def op_head_adaptive(c):
    h = cls(c.f("h"))
    u = adaptive_mix(c.number("alpha"), matmul(h, cls(c.f("E")).T), matmul(h, cls(c.f("F"))))
    return {"logits": out_f(u)}


def relu(a):
    return np.maximum(a, T(0))


def output_weight(c, name):
    """The output matrix (m x |V|): `name`, or E^T in the tied form; in double."""
    return c.f("E").T if c.flag("tied") else c.f(name)


def mlp_preactivation(h, W1, b1):
    a = matmul(h, W1)
    return a if b1 is None else a + cls(b1)


def op_head_mlp(c):
    h1 = relu(mlp_preactivation(cls(c.f("h")), cls(c.f("W1")), c.optional("b1")))
    u = matmul(h1, cls(output_weight(c, "W2")))
    b2 = c.optional("b2")
    return {"logits": out_f(u if b2 is None else u + cls(b2))}


def mixture_weights(alpha):
    """abar = alpha / sum alpha."""
    return alpha / np.sum(alpha, dtype=T)


def mix_log(logw, lps):
    """log sum_k exp(logw_k + lps[k]) with the largest term factored out;
    logw is K x n (or K x 1), lps K x n x V."""
    t = logw[:, :, None] + lps
    m = np.max(t, axis=0)
    m = np.where(np.isfinite(m), m, T(0))
    return m + np.log(np.sum(np.exp(t - m[None]), axis=0))


def op_mos_fixed(c):
    w = mixture_weights(cls(c.f("alpha")))
    h, W = cls(c.f("h")), cls(c.f("W"))
    logits = [matmul(h, W[k]) for k in range(W.shape[0])]
    y = sum(w[k] * softmax(logits[k]) for k in range(W.shape[0]))
    lps = np.stack([log_softmax(u) for u in logits])
    return {"probs": out_f(y), "logprobs": out_f(mix_log(np.log(w)[:, None], lps))}


def gated_components(h, W_comp, b_comp, W_out, b_out):
    """(g_k, the component logits) for each k: g_k = tanh(h W_k + b_k)."""
    gs, us = [], []
    for k in range(W_comp.shape[0]):
        g = np.tanh(matmul(h, W_comp[k]) + b_comp[k])
        u = matmul(g, W_out)
        gs.append(g)
        us.append(u if b_out is None else u + b_out)
    return gs, us


def gate(h, W_pi):
    """The gate logits h W_pi (n x K)."""
    return matmul(h, W_pi)


def read_mos_gated(c):
    """(h, W_pi, W_comp, b_comp, W_out, b_out) in the class dtype."""
    b_out = c.optional("b_out")
    return (cls(c.f("h")), cls(c.f("W_pi")), cls(c.f("W_comp")), cls(c.f("b_comp")),
            cls(output_weight(c, "W_out")), None if b_out is None else cls(b_out))


def op_mos_gated(c):
    h, W_pi, W_comp, b_comp, W_out, b_out = read_mos_gated(c)
    g = gate(h, W_pi)
    pi = softmax(g)
    _, us = gated_components(h, W_comp, b_comp, W_out, b_out)
    y = sum(pi[:, k:k + 1] * softmax(us[k]) for k in range(len(us)))
    lps = np.stack([log_softmax(u) for u in us])
    return {"probs": out_f(y), "logprobs": out_f(mix_log(log_softmax(g).T, lps))}


def tie_penalty(E, W):
    """||E - W^T||_F^2, the plain sum of squares."""
    diff = E - W.T
    return np.sum(diff * diff, dtype=T)


def op_soft_tie_loss(c):
    tg, red, counted = read_targets(c)
    h, E, W = cls(c.f("h")), cls(c.f("E")), cls(c.f("W"))
    ce = cross_entropy(matmul(h, W), tg, red, counted)[0]
    pen = tie_penalty(E, W)
    loss = ce + T(c.number("lambda")) * pen
    return {"loss": out_f(np.array([loss], dtype=T)),
            "cross_entropy": out_f(np.array([ce], dtype=T)),
            "penalty": out_f(np.array([pen], dtype=T))}


# -------------------------------------------------------------- attention --


def score_scale(d_k):
    """The scores' factor: 1/sqrt(d_k), the width of a query."""
    return T(1.0) / np.sqrt(T(d_k))


def causal_offset(n_q, n_k):
    """Query i stands at position i + offset: the queries are the last n_q of
    the n_k positions (bottom-right alignment)."""
    return n_k - n_q


def causal_future(i, j, offset):
    """Key j lies after query i's position: masked under causal."""
    return j > i + offset


def padding_keys(key_mask):
    """The keys that are padding: key_mask 0 (1 = the key takes part)."""
    return key_mask == 0


def attention_masked(n_q, n_k, causal, key_mask):
    """masked[i, j]: key j is masked for query i."""
    masked = np.zeros((n_q, n_k), dtype=bool)
    if key_mask is not None:
        masked |= padding_keys(key_mask)[None, :]
    if causal:
        i, j = np.arange(n_q)[:, None], np.arange(n_k)[None, :]
        masked |= causal_future(i, j, causal_offset(n_q, n_k))
    return masked


def attention_softmax(scores):
    """The softmax of each row (over the keys), masked scores at -inf."""
    return softmax(scores)


def attention_weights(c):
    """(Q, K, A) of the case in the class dtype."""
    Q, K = cls(c.f("Q")), cls(c.f("K"))
    key_mask = c.i("key_mask") if c.has("key_mask") else None
    n_q, n_k = Q.shape[0], K.shape[0]
    S = matmul(Q, K.T) * score_scale(Q.shape[1])
    S = np.where(attention_masked(n_q, n_k, c.flag("causal"), key_mask),
                 T(-np.inf), S).astype(T)
    return Q, K, attention_softmax(S)


def op_attention_weights(c):
    return {"weights": out_f(attention_weights(c)[2])}


# --------------------------------------------------------------- analysis --
# spec/pca.md: the covariance of the centred rows and numpy.linalg.eigh.


def column_mean(X):
    """mu_j = sum_t X[t,j] / n."""
    return X.sum(axis=0) / T(X.shape[0])


def centred(X, mu):
    """The rows minus the column mean (spec/pca.md: centring)."""
    return X - mu


def variance_divisor(n):
    """n - 1: the unbiased covariance (scikit-learn's explained_variance_)."""
    return n - 1


def descending(lam, V):
    """The eigenpairs largest first (eigh returns them ascending)."""
    order = np.argsort(-lam, kind="stable")
    return lam[order], V[:, order]


def signed_directions(V):
    """Each column times the sign of its entry of largest |value| (the first
    such entry on ties: numpy.argmax), as scikit-learn's svd_flip with
    u_based_decision=False."""
    largest = np.argmax(np.abs(V), axis=0)
    signs = np.sign(V[largest, np.arange(V.shape[1])])
    signs[signs == 0] = 1
    return V * signs


def pca(X, k):
    """mean, components (k x d), variances, ratios, projections, reconstruction."""
    mu = column_mean(X)
    Xc = centred(X, mu)
    C = (Xc.T @ Xc) / T(variance_divisor(X.shape[0]))
    lam, V = descending(*np.linalg.eigh(C))
    lam = np.maximum(lam[:k], T(0))
    V = signed_directions(V[:, :k])
    total = np.trace(C)
    ratios = lam / total if total > 0 else np.zeros_like(lam)
    Z = Xc @ V
    return mu, V.T, lam, ratios, Z, Z @ V.T + mu


def op_pca(c):
    mu, Vt, lam, ratios, Z, R = pca(cls(c.f("X")), c.integer("k"))
    return {"mean": out_f(mu), "components": out_f(Vt), "variances": out_f(lam),
            "ratios": out_f(ratios), "projections": out_f(Z),
            "reconstruction": out_f(R)}


# -------------------------------------------------------------- gradients --
#
# The backward ops of spec/gradients.md, computed by hand from the closed
# forms there (no autograd), in the class dtype.


def upstream(c, name):
    return cls(c.f(name))


def scatter_add(rows, index, nrows):
    """out[v,:] = sum of rows[t,:] over the t with index[t] = v (rows n x d).

    The backward of a table lookup; a row that no index names stays 0.
    """
    out = np.zeros((nrows, rows.shape[1]), dtype=T)
    np.add.at(out, index, rows)
    return out


def op_embed_lookup_backward(c):
    return {"dE": out_f(scatter_add(upstream(c, "dY"), c.i("ids"), c.integer("vocab")))}


def op_pos_learned_backward(c):
    return {"dP": out_f(scatter_add(upstream(c, "dY"), c.i("positions"), c.integer("max_len")))}


def layernorm_backward(x, g, eps, dY):
    """-> (dx n x d, dgamma d, dbeta d) of LayerNorm at x (n x d)."""
    d = x.shape[1]
    mu, r = row_stats(x, eps)
    z = (x - mu[:, None]) * r[:, None]
    gd = g * dY                                              # g_j = gamma_j dY_j
    gbar = np.sum(gd, axis=1, dtype=T) / T(d)
    m = np.sum(gd * z, axis=1, dtype=T) / T(d)
    dx = r[:, None] * (gd - gbar[:, None] - z * m[:, None])
    return dx, np.sum(dY * z, axis=0, dtype=T), np.sum(dY, axis=0, dtype=T)


def op_layernorm_backward(c):
    dx, dgamma, dbeta = layernorm_backward(cls(c.f("x")), cls(c.f("gamma")),
                                           T(c.number("eps")), upstream(c, "dY"))
    return {"dx": out_f(dx), "dgamma": out_f(dgamma), "dbeta": out_f(dbeta)}


def tied_embedding_grad(dU, h):
    """dE = dU^T h (|V| x d): the head's share of the tied matrix's gradient."""
    return dU.T @ h


def op_head_tied_backward(c):
    h, E, dU = cls(c.f("h")), cls(c.f("E")), upstream(c, "dlogits")
    return {"dh": out_f(dU @ E), "dE": out_f(tied_embedding_grad(dU, h))}


def untied_weight_grad(h, dU):
    """dW = h^T dU (d x |V|)."""
    return h.T @ dU


def op_head_untied_backward(c):
    h, W, dU = cls(c.f("h")), cls(c.f("W")), upstream(c, "dlogits")
    return {"dh": out_f(dU @ W.T), "dW": out_f(untied_weight_grad(h, dU)),
            "db": out_f(np.sum(dU, axis=0, dtype=T))}


def dtau_of(dl, zeta):
    """dtau = -sum dlogits * zeta over every unmasked entry of the batch (1)."""
    terms = np.where(np.isfinite(zeta), dl * zeta, T(0))
    return np.array([-np.sum(terms, dtype=T)], dtype=T)


def softmax_input_grad(y, G, tau):
    """dlogits = y (G - sum y G) / tau."""
    gbar = np.sum(y * G, axis=1, dtype=T)
    return y * (G - gbar[:, None]) / T(tau)


def op_softmax_backward(c):
    u, tau, G = cls(c.f("logits")), c.number("tau"), upstream(c, "dprobs")
    dl = softmax_input_grad(softmax(u, tau), G, tau)
    return {"dlogits": out_f(dl), "dtau": out_f(dtau_of(dl, scaled(u, tau)))}


def backward_scale(d_k):
    """The chain rule through S = Q K^T / sqrt(d_k): the same 1/sqrt(d_k)."""
    return score_scale(d_k)


def op_attention_weights_backward(c):
    """dS = A (G - sum_j A G) per row (softmax's backward, tau = 1), then
    dQ = dS K / sqrt(d_k), dK = dS^T Q / sqrt(d_k)."""
    Q, K, A = attention_weights(c)
    dS = softmax_input_grad(A, upstream(c, "dweights"), 1.0)
    scale = backward_scale(Q.shape[1])
    return {"dQ": out_f(matmul(dS, K) * scale), "dK": out_f(matmul(dS.T, Q) * scale)}


def log_softmax_input_grad(y, G, tau):
    """dlogits = (G - y sum G) / tau."""
    return (G - y * np.sum(G, axis=1, dtype=T)[:, None]) / T(tau)


def op_log_softmax_backward(c):
    u, tau, G = cls(c.f("logits")), c.number("tau"), upstream(c, "dlogprobs")
    dl = log_softmax_input_grad(softmax(u, tau), G, tau)
    return {"dlogits": out_f(dl), "dtau": out_f(dtau_of(dl, scaled(u, tau)))}


def ce_row_weights(red, counted, dloss):
    """w_t of spec/gradients.md: dloss[t] (none), dloss (sum), dloss/m (mean,
    m the counted rows); the caller zeroes the ignored rows."""
    n = counted.shape[0]
    if red == "none":
        return dloss
    if red == "sum":
        return np.full(n, dloss[0], dtype=T)
    m = int(np.count_nonzero(counted))
    return np.full(n, dloss[0] / T(m) if m else T(0), dtype=T)


def ce_backward(u, tg, red, counted, dloss):
    """dlogits (n x |V|) of cross-entropy at the logits u: w_t (y - onehot(c_t))
    for a counted row, 0 for an ignored one (and for every row of a mean
    with no counted row)."""
    n, V = u.shape
    w = ce_row_weights(red, counted, dloss)
    y = softmax(u, 1.0)
    rows = np.nonzero(counted)[0]
    target = np.zeros((n, V), dtype=T)
    target[rows, tg[rows]] = T(1)
    return np.where(counted[:, None], w[:, None] * (y - target), T(0))


def op_cross_entropy_backward(c):
    tg, red, counted = read_targets(c)
    dl = ce_backward(cls(c.f("logits")), tg, red, counted, upstream(c, "dloss"))
    return {"dlogits": out_f(dl)}


def partial_embedding_grad(dU, h, k, V):
    """dE: dU^T h in the k shared rows, 0 in the others."""
    dE = np.zeros((V, h.shape[1]), dtype=T)
    dE[:k] = dU[:, :k].T @ h
    return dE


def op_head_partial_backward(c):
    k = c.integer("k")
    h, E, dU = cls(c.f("h")), cls(c.f("E")), upstream(c, "dlogits")
    F = cls(free_columns(c, k))
    dh = dU[:, :k] @ E[:k] + dU[:, k:] @ F.T
    return {"dh": out_f(dh), "dE": out_f(partial_embedding_grad(dU, h, k, E.shape[0])),
            "dF": out_f(h.T @ dU[:, k:])}


def op_head_transformed_backward(c):
    h, Tm, E, dU = cls(c.f("h")), cls(c.f("T")), cls(c.f("E")), upstream(c, "dlogits")
    q = h @ Tm                                               # n x d
    r = dU @ E                                               # n x d
    return {"dh": out_f(r @ Tm.T), "dT": out_f(transform_grad(h, r)), "dE": out_f(dU.T @ q)}


def transform_grad(h, r):
    """dT = h^T r (d x d), r = dU E."""
    return h.T @ r


def adaptive_dalpha(dU, uE, uF):
    """dalpha = sum dU (h E^T - h F)."""
    return np.sum(dU * (uE - uF), dtype=T)


def op_head_adaptive_backward(c):
    a = T(c.number("alpha"))
    h, E, F, dU = cls(c.f("h")), cls(c.f("E")), cls(c.f("F")), upstream(c, "dlogits")
    W = a * E.T + (T(1) - a) * F                             # d x |V|, the mixed matrix
    dalpha = adaptive_dalpha(dU, h @ E.T, h @ F)
    return {"dh": out_f(dU @ W.T), "dE": out_f(a * (dU.T @ h)),
            "dF": out_f((T(1) - a) * (h.T @ dU)),
            "dalpha": out_f(np.array([dalpha], dtype=T))}


def relu_grad_mask(a):
    """ReLU's derivative: 1 where a > 0, 0 elsewhere (0 at a = 0)."""
    return a > 0


def op_head_mlp_backward(c):
    h, W1, dU = cls(c.f("h")), cls(c.f("W1")), upstream(c, "dlogits")
    W2 = cls(output_weight(c, "W2"))
    a = mlp_preactivation(h, W1, c.optional("b1"))
    h1 = relu(a)
    da = np.where(relu_grad_mask(a), dU @ W2.T, T(0))        # n x m
    out = {"dh": out_f(da @ W1.T), "dW1": out_f(h.T @ da),
           "db1": out_f(np.sum(da, axis=0, dtype=T)),
           "db2": out_f(np.sum(dU, axis=0, dtype=T))}
    out["dE" if c.flag("tied") else "dW2"] = out_f(dU.T @ h1 if c.flag("tied") else h1.T @ dU)
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
    return omega, oG - probs * rho[:, :, None], rho, y


def component_weight_grad(omega, p, G, y, abar):
    """c_k = dL/d abar_k = sum omega_k G / abar_k; for abar_k = 0 the finite
    form sum p_k G / y (spec/gradients.md#mos_fixed_backward)."""
    if abar > 0:
        return np.sum(omega * G, dtype=T) / abar
    safe = np.where(y > 0, y, T(1))
    return np.sum(np.where(y > 0, p * G / safe, T(0)), dtype=T)


def mixture_alpha_grad(ck, abar, A):
    """dalpha_i = (c_i - sum_k abar_k c_k) / A: the normalisation's Jacobian."""
    return (ck - np.sum(abar * ck, dtype=T)) / A


def op_mos_fixed_backward(c):
    h, W, al, G = cls(c.f("h")), cls(c.f("W")), cls(c.f("alpha")), upstream(c, "dlogprobs")
    K = W.shape[0]
    A = np.sum(al, dtype=T)
    abar = al / A                                            # K
    probs = np.stack([softmax(h @ W[k]) for k in range(K)])  # K x n x V
    omega, delta, rho, y = mixture_deltas(abar[None, :], probs, G)
    ck = np.array([component_weight_grad(omega[k], probs[k], G, y, abar[k])
                   for k in range(K)], dtype=T)
    return {"dh": out_f(sum(delta[k] @ W[k].T for k in range(K))),
            "dW": out_f(np.stack([h.T @ delta[k] for k in range(K)])),
            "dalpha": out_f(mixture_alpha_grad(ck, abar, A))}


def op_mos_gated_backward(c):
    h, W_pi, W_comp, b_comp, W_out, b_out = read_mos_gated(c)
    G = upstream(c, "dlogprobs")
    K = W_pi.shape[1]
    pi = softmax(gate(h, W_pi))                              # n x K
    gs, us = gated_components(h, W_comp, b_comp, W_out, b_out)
    probs = np.stack([softmax(u) for u in us])               # K x n x V
    omega, delta, rho, y = mixture_deltas(pi, probs, G)
    dgate = rho.T - pi * np.sum(rho, axis=0, dtype=T)[:, None]   # n x K
    dW_out = sum(gs[k].T @ delta[k] for k in range(K))      # d x V
    dc = [(delta[k] @ W_out.T) * (T(1) - gs[k] * gs[k]) for k in range(K)]
    out = {"dh": out_f(dgate @ W_pi.T + sum(dc[k] @ W_comp[k].T for k in range(K))),
           "dW_pi": out_f(h.T @ dgate),
           "dW_comp": out_f(np.stack([h.T @ dc[k] for k in range(K)])),
           "db_comp": out_f(np.stack([np.sum(dc[k], axis=0, dtype=T) for k in range(K)])),
           "db_out": out_f(np.sum(np.sum(delta, axis=0, dtype=T), axis=0, dtype=T))}
    out["dE" if c.flag("tied") else "dW_out"] = out_f(dW_out.T if c.flag("tied") else dW_out)
    return out


def penalty_pull(lam, dloss):
    """2 lambda dloss: the factor of (E - W^T) in dE."""
    return T(2) * T(lam) * dloss


def op_soft_tie_loss_backward(c):
    tg, red, counted = read_targets(c)
    h, E, W, dloss = cls(c.f("h")), cls(c.f("E")), cls(c.f("W")), upstream(c, "dloss")
    D = ce_backward(h @ W, tg, red, counted, dloss)
    pull = penalty_pull(c.number("lambda"), dloss[0])
    return {"dh": out_f(D @ W.T), "dE": out_f(pull * (E - W.T)),
            "dW": out_f(h.T @ D + pull * (W - E.T))}


# The fused linear cross-entropy (spec/linear_cross_entropy.md), streamed
# over the vocabulary as a fused kernel does: the logits of one chunk of
# LCE_CHUNK tokens at a time, an online maximum and sum of exponentials,
# then the gradient chunk by chunk.

LCE_CHUNK = 64


def vocab_chunks(V):
    """The chunks [first, last) of the vocabulary, in order, covering each token once."""
    return [(first, min(first + LCE_CHUNK, V)) for first in range(0, V, LCE_CHUNK)]


def accumulate(total, term):
    """total + term: each running sum across chunks (S, dh), in the class dtype."""
    return total + term


def online_lse(h, E, chunks):
    """(a, S) per row: the largest logit and sum exp(u - a) over the chunks,
    the sum rescaled by exp(a_old - a_new) when the maximum grows."""
    n = h.shape[0]
    a = np.full(n, -np.inf, dtype=T)
    S = np.zeros(n, dtype=T)
    for first, last in chunks:
        u = matmul(h, E[first:last].T)
        new = np.maximum(a, np.max(u, axis=1))
        S = accumulate(S * np.exp(a - new), row_sum(exponentials(u - new[:, None]))[:, 0])
        a = new
    return a, S


def label_grad(y, label, w):
    """D = w (y - label) for one chunk (n x chunk), the label subtracted from y as computed."""
    return w[:, None] * (y - label)


def op_linear_cross_entropy(c):
    tg, red, counted = read_targets(c)
    h, E, dloss = cls(c.f("h")), cls(c.f("E")), upstream(c, "dloss")
    n, V = h.shape[0], E.shape[0]
    want_dE = c.flag("return_dE")
    chunks = vocab_chunks(V)
    a, S = online_lse(h, E, chunks)
    rows = np.nonzero(counted)[0]
    losses = np.zeros(n, dtype=T)
    target_logits = np.sum(h[rows] * E[tg[rows]], axis=1, dtype=T)
    losses[rows] = np.log(S[rows]) - (target_logits - a[rows])
    w = np.where(counted, ce_row_weights(red, counted, dloss), T(0))
    dh = np.zeros_like(h)
    dE = np.zeros_like(E) if want_dE else None
    for first, last in chunks:
        u = matmul(h, E[first:last].T)
        y = exponentials(u - a[:, None]) / S[:, None]
        label = (tg[:, None] == np.arange(first, last)[None, :]).astype(T)
        D = np.where(counted[:, None], label_grad(y, label, w), T(0))
        dh = accumulate(dh, D @ E[first:last])
        if want_dE:
            dE[first:last] = D.T @ h
    out = {"loss": out_f(reduce_losses(losses, red, counted)), "dh": out_f(dh)}
    if want_dE:
        out["dE"] = out_f(dE)
    return out


def tied_dE(dE_input, dE_output):
    """The shared matrix's gradient: the sum of its two uses."""
    return dE_input + dE_output


def op_tied_lm(c):
    tg, red, counted = read_targets(c)
    ids = c.i("ids")
    n = len(ids)
    E, P = cls(c.f("E")), cls(c.f("P"))
    X = gather_rows(E, ids) + P[:n]
    ln = ln_params(c) if c.flag("layernorm") else None
    Z = X if ln is None else layernorm(X, *ln)
    M = cls(c.f("M")) if c.word("middle") == "matrix" else None
    H = Z if M is None else Z @ M
    u = H @ E.T
    loss = cross_entropy(u, tg, red, counted)
    dU = ce_backward(u, tg, red, counted, np.ones(1, dtype=T))
    dE_output = dU.T @ H
    dZ = dU @ E if M is None else (dU @ E) @ M.T
    out = {}
    if ln is None:
        dX = dZ
    else:
        dX, dgamma, dbeta = layernorm_backward(X, ln[0], ln[2], dZ)
        out.update({"dgamma": out_f(dgamma), "dbeta": out_f(dbeta)})
    dE_input = scatter_add(dX, ids, E.shape[0])
    dP = np.zeros_like(P)
    dP[:n] = dX
    out.update({"loss": out_f(loss), "dE": out_f(tied_dE(dE_input, dE_output)),
                "dE_input": out_f(dE_input), "dE_output": out_f(dE_output),
                "dP": out_f(dP)})
    return out


# Every op of the op table has its op_<name> (checked when this is imported).
OPS = protocol.op_functions(globals())


def parse_class(argv, usage):
    """The value of --class in argv (default fp64), or None after printing usage."""
    klass = "fp64"
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--class" and args:
            klass = args.pop(0)
        elif a.startswith("--class="):
            klass = a.split("=", 1)[1]
        else:
            print(usage, file=sys.stderr)
            return None
    return klass


def main(argv):
    klass = parse_class(argv, "usage: testee_numpy.py --class fp64|fp32")
    if klass is None:
        return 2
    if klass not in CLASSES:
        print("class must be fp64 or fp32", file=sys.stderr)
        return 2
    configure(klass)
    hello = {"protocol": 1, "name": "numpy-" + klass, "class": klass, "ops": OPS.names()}
    return protocol.serve(hello, OPS, validate.validate)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
