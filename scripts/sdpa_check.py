#!/usr/bin/env python3
"""Runs PyTorch SDPA backends on a flashcheck case suite and writes their outputs.

For a machine with PyTorch and a GPU. For every case folder written by
`flashcheck check gen` and each backend (math, flash, efficient, cudnn) it runs
the forward and the backward (loss <dO, O>) and writes
    OUT/<backend>/case_NNN/{o,dq,dk,dv}.npy   (in the case's dtype)
or, when the backend declines the case, OUT/<backend>/case_NNN/skip.txt with
the reason. Judge each backend afterwards with
    flashcheck check verify SUITE --candidate OUT/<backend>

Masks: SDPA's is_causal is the top-left causal mask; bottom-right causal uses
torch.nn.attention.bias.causal_lower_right; a sliding window is passed as a
boolean attn_mask (which the flash backend does not take).
bf16 arrays travel as uint16 raw bits ('<u2'), as flashcheck writes them.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

BACKENDS = {
    "math": SDPBackend.MATH,
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
}
TORCH_DTYPE = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32, "f64": torch.float64}


def load(path, dtype):
    a = np.load(path)
    if dtype == "bf16":
        return torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16)
    return torch.from_numpy(a).to(TORCH_DTYPE[dtype])


def save(path, t, dtype):
    t = t.detach().cpu().contiguous()
    if dtype == "bf16":
        np.save(path, t.view(torch.int16).numpy().view(np.uint16))
    else:
        np.save(path, t.numpy())


def mask_args(p, device):
    kind, sq, sk = p["mask"]["kind"], p["seqlen_q"], p["seqlen_k"]
    if kind == "none":
        return {}
    if kind == "causal_top_left":
        return {"is_causal": True}
    if kind == "causal_bottom_right":
        from torch.nn.attention.bias import causal_lower_right
        return {"attn_mask": causal_lower_right(sq, sk)}
    # Sliding window, bottom-right aligned: k - q in [off - left, off + right].
    q = torch.arange(sq, device=device)[:, None]
    k = torch.arange(sk, device=device)[None, :]
    off = sk - sq
    d = k - q
    allowed = (d >= off - p["mask"]["window_left"]) & (d <= off + p["mask"]["window_right"])
    return {"attn_mask": allowed}


def run_case(case_dir, backend, out_dir, device):
    p = json.load(open(os.path.join(case_dir, "problem.json")))
    dt = p["dtype"]
    q, k, v, do = (load(os.path.join(case_dir, n + ".npy"), dt).to(device) for n in ("q", "k", "v", "do"))
    q.requires_grad_(True), k.requires_grad_(True), v.requires_grad_(True)
    os.makedirs(out_dir, exist_ok=True)
    try:
        with sdpa_kernel([BACKENDS[backend]]):
            o = F.scaled_dot_product_attention(q, k, v, scale=p["scale"],
                                               enable_gqa=p["heads_q"] != p["heads_kv"],
                                               **mask_args(p, device))
            o.backward(do)
        torch.cuda.synchronize()
    except Exception as e:  # the backend declined: record why
        msg = " ".join(str(e).split())[:300]
        open(os.path.join(out_dir, "skip.txt"), "w").write(f"{backend}: {msg}\n")
        return "skip"
    for name, t in (("o", o), ("dq", q.grad), ("dk", k.grad), ("dv", v.grad)):
        save(os.path.join(out_dir, name + ".npy"), t, dt)
    return "ok"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("suite", help="folder written by flashcheck check gen")
    ap.add_argument("--out", required=True, help="output root, one folder per backend")
    ap.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated subset of " + ",".join(BACKENDS))
    a = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("sdpa_check: no CUDA device")
    import warnings
    warnings.filterwarnings("ignore")
    cases = sorted(d for d in os.listdir(a.suite) if os.path.exists(os.path.join(a.suite, d, "problem.json")))
    for backend in a.backends.split(","):
        counts = {"ok": 0, "skip": 0}
        for c in cases:
            counts[run_case(os.path.join(a.suite, c), backend, os.path.join(a.out, backend, c), "cuda")] += 1
        print(f"sdpa_check: {backend}: {counts['ok']} run, {counts['skip']} declined", flush=True)
    print(f"sdpa_check: torch {torch.__version__}, device {torch.cuda.get_device_name()}")


if __name__ == "__main__":
    main()
