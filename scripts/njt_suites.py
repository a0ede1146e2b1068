#!/usr/bin/env python3
"""The case suites for PyTorch's nested-jagged SDPA client (scripts/variant_clients.py).

Writes three `flashcheck check gen --spec ... --variants varlen` suites with the
same inputs case by case (same spec entries and seeds; only the mask differs):

  OUT/njt_none  mask none            (judges the client with is_causal=False)
  OUT/njt_tl    causal_top_left      (PyTorch's documented is_causal convention)
  OUT/njt_br    causal_bottom_right  (FlashAttention's varlen convention)

so one set of is_causal=True outputs can be judged against both conventions.
Each case has one (max Nq, max Nk) pair from PAIRS; its seed is the first one
(from a fixed list) whose drawn per-sequence lengths are all non-zero (nested
tensors have no empty components) and all on the same side of Nq = Nk, so a
case measures one direction. Needs numpy and the flashcheck binary.

Usage: python3 scripts/njt_suites.py --flashcheck BIN --out OUT
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np

# (max Nq, max Nk, head_dim, dtype, heads_q, heads_kv): Nq < Nk first, then Nq > Nk.
PAIRS = [(1, 77, 64, "bf16", 2, 2), (16, 128, 64, "f16", 2, 1), (40, 100, 128, "bf16", 2, 2),
         (64, 200, 64, "bf16", 4, 2), (128, 16, 64, "f16", 2, 1), (100, 40, 128, "bf16", 2, 2),
         (200, 64, 64, "bf16", 4, 2), (77, 5, 64, "f16", 2, 2)]
BATCH = 3
TRIES = 40  # seeds tried per pair


def entry(pair, seed, mask):
    nq, nk, d, dt, hq, hkv = pair
    return {"batch": BATCH, "heads_q": hq, "heads_kv": hkv, "seqlen_q": nq, "seqlen_k": nk, "head_dim": d,
            "dtype": dt, "mask": mask, "values": "normal", "seed": seed}


def gen(flashcheck, entries, out):
    """check gen of ENTRIES into OUT; the spec is kept beside it as OUT.spec.json (named in suite.json)."""
    spec = out.rstrip("/") + ".spec.json"
    with open(spec, "w") as f:
        json.dump({"cases": entries}, f, indent=1)
    subprocess.run([flashcheck, "check", "gen", "--out", out, "--spec", spec, "--variants", "varlen"],
                   check=True, capture_output=True, text=True)


def lengths(case_dir):
    cq, ck = (np.load(os.path.join(case_dir, f"cu_seqlens_{s}.npy")).astype(np.int64) for s in "qk")
    return np.diff(cq), np.diff(ck)


def pick_seeds(flashcheck, work):
    """One seed per pair: the first whose lengths are non-zero and one-sided."""
    entries = [entry(pr, 1000 * i + s, "none") for i, pr in enumerate(PAIRS) for s in range(TRIES)]
    gen(flashcheck, entries, work)
    seeds = []
    for i, pr in enumerate(PAIRS):
        for s in range(TRIES):
            nq, nk = lengths(os.path.join(work, f"case_{i * TRIES + s:03d}"))
            side = nq < nk if pr[0] < pr[1] else nq > nk
            if (nq > 0).all() and (nk > 0).all() and side.all():
                seeds.append(1000 * i + s)
                break
        else:
            raise SystemExit(f"njt_suites.py: no seed of {TRIES} gives pair {pr} non-empty one-sided lengths")
    return seeds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flashcheck", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="njt_seeds_")
    try:
        seeds = pick_seeds(a.flashcheck, os.path.join(work, "s"))
    finally:
        shutil.rmtree(work)
    os.makedirs(a.out, exist_ok=True)
    for name, mask in (("njt_none", "none"), ("njt_tl", "causal_top_left"), ("njt_br", "causal_bottom_right")):
        dest = os.path.join(a.out, name)
        if os.path.exists(dest):
            shutil.rmtree(dest)
        gen(a.flashcheck, [entry(pr, s, mask) for pr, s in zip(PAIRS, seeds)], dest)
    for i, _ in enumerate(PAIRS):
        nq, nk = lengths(os.path.join(a.out, "njt_tl", f"case_{i:03d}"))
        print(f"case_{i:03d} seed {seeds[i]}: Nq per sequence {nq.tolist()}, Nk {nk.tolist()}")


if __name__ == "__main__":
    main()
