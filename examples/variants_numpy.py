"""A worked example of the variant case files (README, "Variant case files"):
an outside attention forward written from the format's documentation alone,
in float32 NumPy, run on every case of a `flashcheck check gen --variants`
suite; it writes o.npy and lse.npy into each case folder for

    flashcheck check verify SUITE --outputs o,lse

Usage: python examples/variants_numpy.py SUITE   (needs only numpy)
"""
import json
import os
import sys

import numpy as np


def load(case, name, dtype):
    a = np.load(os.path.join(case, name))
    if dtype == "bf16":  # bf16 travels as '<u2' raw bits: widen to float32
        a = (a.astype(np.uint32) << 16).view(np.float32)
    return a.astype(np.float64 if dtype == "f64" else np.float32)


def visible(kind, wl, wr, nq, nk):
    """The band mask of one sequence (bottom-right aligned except causal_top_left)."""
    i = np.arange(nq)[:, None]
    j = np.arange(nk)[None, :]
    if kind == "none":
        return np.ones((nq, nk), bool)
    if kind == "causal_top_left":
        return j <= i
    if kind == "causal_bottom_right":
        return j <= i + nk - nq
    return (j >= i + nk - nq - wl) & (j <= i + nk - nq + wr)  # sliding_window


def run_case(case):
    with open(os.path.join(case, "problem.json")) as f:
        pj = json.load(f)
    dt, v, ex = pj["dtype"], pj.get("variants", {}), pj.get("extras", {})
    extra = {k: np.load(os.path.join(case, name)) for k, name in ex.items()}
    q, k, val = (load(case, f"{n}.npy", dt) for n in ("q", "k", "v"))
    B, Hq, Hkv, scale = pj["batch"], pj["heads_q"], pj["heads_kv"], pj["scale"]
    m = pj["mask"]
    o = np.zeros(q.shape, np.float32)
    lse = np.full(q.shape[:3], -np.inf, np.float32)
    for b in range(B):
        if v.get("varlen"):  # packed: [1][H][total][d], sequence b at cu_seqlens[b]
            q0, q1 = extra["cu_seqlens_q"][b], extra["cu_seqlens_q"][b + 1]
            k0, k1 = extra["cu_seqlens_k"][b], extra["cu_seqlens_k"][b + 1]
            qb, kb, vb, ob = slice(q0, q1), slice(k0, k1), slice(k0, k1), (0, slice(q0, q1))
            Q, K, V = q[0, :, qb], k[0, :, kb], val[0, :, vb]
        elif "page_size" in v:  # paged: key j of sequence b is row j % ps of page table[b][j // ps]
            ps, nk = v["page_size"], pj["seqlen_k"]
            pages = extra["block_table"][b]
            K = np.concatenate([k[p] for p in pages], axis=1)[:, :nk]  # [Hkv][Nk][d]
            V = np.concatenate([val[p] for p in pages], axis=1)[:, :nk]
            Q, ob = q[b], (b, slice(None))
        else:
            Q, K, V, ob = q[b], k[b], val[b], (b, slice(None))
        nq, nk = Q.shape[1], K.shape[1]
        group = Hq // Hkv
        for h in range(Hq):
            s = scale * (Q[h] @ K[h // group].T)
            if "softcap" in v:
                s = v["softcap"] * np.tanh(s / v["softcap"])
            if v.get("alibi"):  # -slope |i + Nk - Nq - j|, bottom-right aligned per sequence
                i, j = np.arange(nq)[:, None], np.arange(nk)[None, :]
                s = s - extra["alibi_slopes"][h] * np.abs(i + nk - nq - j)
            if v.get("bias"):  # [B][Hq][Nq][Nk], top-left corner = the sequence's own rows
                s = s + extra["bias"][b, h, :nq, :nk]
            seen = visible(m["kind"], m["window_left"], m["window_right"], nq, nk)
            if v.get("bool_mask"):
                seen &= extra["mask"][b, h, :nq, :nk] != 0
            s = np.where(seen, s, -np.inf)
            cols = [s]
            if v.get("sinks"):  # one more logit in the denominator, no value
                cols.append(np.full((nq, 1), extra["sinks"][h], s.dtype))
            full = np.concatenate(cols, axis=1)
            mx = np.max(full, axis=1, keepdims=True, initial=-np.inf)
            mx = np.where(np.isfinite(mx), mx, 0)
            z = np.sum(np.exp(full - mx), axis=1, keepdims=True)
            row_lse = (np.log(z) + mx)[:, 0]
            p = np.exp(s - row_lse[:, None]) if nk else np.zeros((nq, 0), np.float32)
            p = np.where(np.isfinite(row_lse)[:, None], p, 0)
            if "dropout_p" in v:  # P * keep / (1 - p) after normalisation; LSE unchanged
                p = p * (extra["keep"][b, h, :nq, :nk] != 0) / (1 - v["dropout_p"])
            o[ob[0], h, ob[1]] = p @ V[h // group]
            lse[ob[0], h, ob[1]] = row_lse
    out_dt = {"f16": np.float16, "f32": np.float32, "f64": np.float64, "bf16": np.float32}[dt]
    if dt == "bf16":  # round to bf16 (nearest even) and store the raw bits
        bits = o.astype(np.float32).view(np.uint32)
        bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
        np.save(os.path.join(case, "o.npy"), bits)
    else:
        np.save(os.path.join(case, "o.npy"), o.astype(out_dt))
    np.save(os.path.join(case, "lse.npy"), lse.astype(np.float64 if dt == "f64" else np.float32))


def main():
    suite = sys.argv[1]
    np.seterr(all="ignore")  # rows that see nothing: exp(-inf - -inf); masked out below
    for name in sorted(os.listdir(suite)):
        case = os.path.join(suite, name)
        if os.path.isfile(os.path.join(case, "problem.json")):
            run_case(case)
    print(f"wrote o.npy, lse.npy into the cases of {suite}")


if __name__ == "__main__":
    main()
