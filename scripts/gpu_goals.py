#!/usr/bin/env python3
"""Render the issue-14 goal table from the benchmark CSVs of one
`scripts/gpu_check.sh run` (bench.csv, sdpa.csv, bench_bwd.csv, sdpa_bwd.csv
and, if present, bench_bwd_det.csv in one folder): per goal the measured
ratio range over its scope, how many grid points it covers, and met / not
met (met: every point in scope meets the goal). Plain csv module.

  python3 scripts/gpu_goals.py RUN_DIR > goals.md
  python3 scripts/gpu_goals.py --summary RUN_DIR   # one "goal: ..." line per goal
"""
import argparse
import csv
import os
import sys


def load(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def kv(r):
    """KV heads of a row (forward files and older backward files: MHA)."""
    return int(r.get("heads_kv") or r["heads"])


def point(r):
    return (int(r["head_dim"]), r["mask"], int(r["seqlen"]))


def by_point(rows, variant, metric, mha=True):
    """(d, mask, N) -> metric of one variant's MHA rows."""
    return {point(r): float(r[metric]) for r in rows
            if r["variant"] == variant and (not mha or kv(r) == int(r["heads"]))}


def ratios(ours, ref, keep):
    return {k: ours[k] / ref[k] for k in ours if k in ref and keep(k)}


def verdict(rs, goal, at_least):
    """Table cells: range, points, met (every point on the right side of goal)."""
    if not rs:
        return "no data", "0", "not measured"
    lo, hi = min(rs.values()), max(rs.values())
    met = lo >= goal if at_least else hi <= goal
    worst = min(rs, key=rs.get) if at_least else max(rs, key=rs.get)
    where = f"d {worst[0]}, {worst[1]}, N {worst[2]}"
    return f"{lo:.2f} - {hi:.2f} (worst: {where})", str(len(rs)), "met" if met else "not met"


def mqa_ratios(rows, variant, group_kv):
    """(d, mask, N) -> backward time with group_kv KV heads over the time with
    as many KV heads as query heads, for the rows with 32 query heads."""
    t = {}
    for r in rows:
        if r["variant"] == variant and int(r["heads"]) == 32:
            t[(point(r), kv(r))] = float(r["bwd_median_ms"])
    return {p: t[(p, group_kv)] / t[(p, 32)] for (p, h) in t if h == group_kv and (p, 32) in t}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--summary", action="store_true", help="only one line per goal")
    a = ap.parse_args()
    d = a.run_dir
    fwd, sdpa = load(f"{d}/bench.csv"), load(f"{d}/sdpa.csv")
    bwd, sdpa_bwd, det = load(f"{d}/bench_bwd.csv"), load(f"{d}/sdpa_bwd.csv"), load(f"{d}/bench_bwd_det.csv")
    rows = fwd + bwd + det
    if not rows:
        sys.exit(f"gpu_goals.py: no bench CSVs in {d}")
    pick = lambda c: ", ".join(sorted({r[c] for r in rows}))
    flash, cudnn = by_point(sdpa, "torch_flash", "tflops"), by_point(sdpa, "torch_cudnn", "tflops")
    hopper, f2 = by_point(fwd, "hopper_fwd", "tflops"), by_point(fwd, "flash2_fwd", "tflops")
    goals = [
        ("hopper_fwd >= 1.3x PyTorch flash", "forward, d 128, N >= 4096, both masks",
         ratios(hopper, flash, lambda k: k[0] == 128 and k[2] >= 4096), 1.3, True),
        ("hopper_fwd >= 1.2x PyTorch flash", "forward, d 64, N >= 4096, both masks",
         ratios(hopper, flash, lambda k: k[0] == 64 and k[2] >= 4096), 1.2, True),
        ("moonshot: hopper_fwd >= 1.0x cuDNN", "forward, d 128, N >= 4096, both masks",
         ratios(hopper, cudnn, lambda k: k[0] == 128 and k[2] >= 4096), 1.0, True),
        ("flash2_fwd >= 0.95x PyTorch flash", "forward, d 64 and 128, N >= 512, causal included",
         ratios(f2, flash, lambda k: k[2] >= 512), 0.95, True),
    ]
    # Forward + backward: the best of our measured (forward, backward) pairs
    # at each point (bench --backward times each backward with its paired forward).
    ours_bwd = sorted({r["variant"] for r in bwd})
    best = {}
    for v in ours_bwd:
        for k, x in by_point(bwd, v, "fwd_bwd_tflops").items():
            best[k] = max(best.get(k, 0.0), x)
    flash_fb = by_point(sdpa_bwd, "torch_flash", "fwd_bwd_tflops")
    goals.append(("forward + backward (best variant) >= 1.0x PyTorch flash",
                  "best of " + ", ".join(ours_bwd) + " with its paired forward, N >= 2048",
                  ratios(best, flash_fb, lambda k: k[2] >= 2048), 1.0, True))
    goals.append(("MQA backward time <= 1.3x the same problem with 32 KV heads",
                  "flash2_bwd, Hq 32, Hkv 1 over Hkv 32, every d, mask, N with Hq 32",
                  mqa_ratios(bwd, "flash2_bwd", 1), 1.3, False))
    if a.summary:
        for name, scope, rs, goal, at_least in goals:
            rng, n, v = verdict(rs, goal, at_least)
            print(f"goal: {name}: {v} ({rng}; {n} points)")
        return
    print(f"Device: {pick('device')}  \nDate: {pick('date')}  \nCommit: {pick('commit')}\n")
    print("Issue 14 goals, measured in one `scripts/gpu_check.sh run` (bf16, FlashAttention FLOP "
          "convention, CUDA events, median of repeats, L2 cleared; PyTorch SDPA timed in the same "
          "run). A goal is met when every grid point in its scope meets it; the range is over those "
          "points.\n")
    print("| goal | scope | measured ratio (min - max) | points | verdict |")
    print("|---|---|---|---|---|")
    for name, scope, rs, goal, at_least in goals:
        rng, n, v = verdict(rs, goal, at_least)
        print(f"| {name} | {scope} | {rng} | {n} | **{v}** |")
    print("\nFor information (not goals):\n")
    print("| what | measured ratio (min - max) | points |\n|---|---|---|")
    info = [("GQA backward time, flash2_bwd, Hq 32 Hkv 8 over Hkv 32", mqa_ratios(bwd, "flash2_bwd", 8)),
            ("MQA backward time, flash2_bwd deterministic, Hq 32 Hkv 1 over Hkv 32",
             mqa_ratios(det, "flash2_bwd", 1)),
            ("MQA backward time, PyTorch flash, Hq 32 Hkv 1 over Hkv 32",
             mqa_ratios(sdpa_bwd, "torch_flash", 1))]
    # What the best forward and the fastest backward would give together:
    # each timed on its own in this run, added (not a measured pair).
    fwd_ms = {}
    for r in fwd:
        if not r["variant"].startswith("torch_"):
            k = point(r)
            fwd_ms[k] = min(fwd_ms.get(k, (float("inf"), 0.0)),
                            (float(r["median_ms"]), float(r["tflops"]) * float(r["median_ms"])))
    bwd_ms = {}
    for r in bwd:
        if kv(r) == int(r["heads"]):
            bwd_ms[point(r)] = min(bwd_ms.get(point(r), float("inf")), float(r["bwd_median_ms"]))
    composed = {k: 3.5 * fwd_ms[k][1] / (fwd_ms[k][0] + bwd_ms[k]) / flash_fb[k]
                for k in fwd_ms if k in bwd_ms and k in flash_fb and k[2] >= 2048}
    info.insert(0, ("forward + backward, fastest forward + fastest backward of ours, each timed "
                    "alone and added, over PyTorch flash, N >= 2048", composed))
    for name, rs in info:
        rng = f"{min(rs.values()):.2f} - {max(rs.values()):.2f}" if rs else "no data"
        print(f"| {name} | {rng} | {len(rs)} |")
    print("\nPer-point MQA backward (flash2_bwd, Hq 32):\n")
    print("| d | mask | N | Hkv 32 (ms) | Hkv 8 (ms) | Hkv 1 (ms) | Hkv 1 / Hkv 32 |\n|---|---|---|---|---|---|---|")
    t = {(point(r), kv(r)): float(r["bwd_median_ms"]) for r in bwd
         if r["variant"] == "flash2_bwd" and int(r["heads"]) == 32}
    for p in sorted({p for (p, h) in t}):
        cell = lambda h: f"{t[(p, h)]:.3f}" if (p, h) in t else "-"
        ratio = f"{t[(p, 1)] / t[(p, 32)]:.2f}" if (p, 1) in t and (p, 32) in t else "-"
        print(f"| {p[0]} | {p[1]} | {p[2]} | {cell(32)} | {cell(8)} | {cell(1)} | {ratio} |")


if __name__ == "__main__":
    main()
