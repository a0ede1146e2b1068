"""NumPy candidates for the tests: correct float32 implementations (standard
attention and an online-softmax FlashAttention-2) and planted bugs."""

import numpy as np


def _visible(p, causal_shift=0):
    """[Nq][Nk] bool: the mask, with causal masks optionally off by causal_shift."""
    vis = np.array([[p.visible(i, j) for j in range(p.seqlen_k)] for i in range(p.seqlen_q)],
                   dtype=bool).reshape(p.seqlen_q, p.seqlen_k)
    if causal_shift and p.mask in ("causal_top_left", "causal_bottom_right"):
        off = 0 if p.mask == "causal_top_left" else p.seqlen_k - p.seqlen_q
        i = np.arange(p.seqlen_q)[:, None]
        j = np.arange(p.seqlen_k)[None, :]
        vis = j <= i + off + causal_shift
    return vis


def _expand(p, x):
    """K or V [B][Hkv][N][d] repeated to the query heads (GQA)."""
    return np.repeat(x, p.heads_q // p.heads_kv, axis=1)


def _reduce(p, dx):
    """dK or dV per query head summed over each KV head's group."""
    g = p.heads_q // p.heads_kv
    return dx.reshape(p.batch, p.heads_kv, g, p.seqlen_k, p.head_dim).sum(axis=2)


def standard(case, *, scale_missing=False, causal_shift=0, dk_sign=1.0):
    """Standard attention in float32: S, P = softmax(S), O = P V; the backward
    by the textbook formulas. Rows that see no key: O = 0, LSE = -inf."""
    p = case.problem
    f = np.float32
    q, k, v = (np.asarray(x, dtype=f) for x in (case.q, case.k, case.v))
    k, v = _expand(p, k), _expand(p, v)
    scale = f(1.0) if scale_missing else f(p.scale)
    vis = _visible(p, causal_shift)
    s = np.where(vis, scale * (q @ k.transpose(0, 1, 3, 2)), -np.inf).astype(f)
    m = s.max(axis=-1, keepdims=True)
    m_safe = np.where(np.isfinite(m), m, 0).astype(f)
    e = np.exp(s - m_safe)
    l = e.sum(axis=-1, keepdims=True)
    pr = np.where(l > 0, e / np.where(l > 0, l, 1), 0).astype(f)
    o = pr @ v
    with np.errstate(divide="ignore"):
        lse = np.where(l[..., 0] > 0, m_safe[..., 0] + np.log(l[..., 0]), -np.inf)
    out = {"o": o.astype(case.q.dtype), "lse": lse.astype(f)}
    if case.do is not None:
        do = np.asarray(case.do, dtype=f)
        dv = pr.transpose(0, 1, 3, 2) @ do
        dp = do @ v.transpose(0, 1, 3, 2)
        d = (do * o).sum(axis=-1, keepdims=True)
        ds = pr * (dp - d)
        dq = scale * (ds @ k)
        dk = dk_sign * scale * (ds.transpose(0, 1, 3, 2) @ q)
        out.update(dq=dq.astype(case.q.dtype), dk=_reduce(p, dk).astype(case.q.dtype),
                   dv=_reduce(p, dv).astype(case.q.dtype))
    return out


def flash2(case, block=16):
    """Forward by FlashAttention-2's online softmax over KV blocks, float32."""
    p = case.problem
    f = np.float32
    q = np.asarray(case.q, dtype=f)
    k, v = _expand(p, np.asarray(case.k, dtype=f)), _expand(p, np.asarray(case.v, dtype=f))
    vis = _visible(p)
    scale = f(p.scale)
    shape = (p.batch, p.heads_q, p.seqlen_q, 1)
    m = np.full(shape, -np.inf, dtype=f)
    l = np.zeros(shape, dtype=f)
    acc = np.zeros((p.batch, p.heads_q, p.seqlen_q, p.head_dim), dtype=f)
    for j0 in range(0, p.seqlen_k, block):
        j1 = min(j0 + block, p.seqlen_k)
        s = np.where(vis[:, j0:j1], scale * (q @ k[:, :, j0:j1].transpose(0, 1, 3, 2)), -np.inf).astype(f)
        m_new = np.maximum(m, s.max(axis=-1, keepdims=True))
        m_safe = np.where(np.isfinite(m_new), m_new, 0).astype(f)
        alpha = np.where(np.isfinite(m), np.exp(m - m_safe), 0).astype(f)
        e = np.exp(s - m_safe).astype(f)
        l = alpha * l + e.sum(axis=-1, keepdims=True)
        acc = alpha * acc + e @ v[:, :, j0:j1]
        m = m_new
    o = np.where(l > 0, acc / np.where(l > 0, l, 1), 0)
    with np.errstate(divide="ignore"):
        lse = np.where(l[..., 0] > 0, np.where(np.isfinite(m[..., 0]), m[..., 0], 0) + np.log(l[..., 0]), -np.inf)
    return {"o": o.astype(case.q.dtype), "lse": lse.astype(f)}
