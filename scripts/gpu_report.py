#!/usr/bin/env python3
"""Merge `flashcheck bench` and scripts/sdpa_bench.py CSVs into a Markdown
table of forward TFLOP/s with each kernel's ratio to PyTorch SDPA's flash and
cuDNN backends (same device, same run). Plain csv module: runs anywhere.

  python3 scripts/gpu_report.py bench.csv sdpa.csv [--memory memory.csv] > report.md
"""
import argparse
import csv
from collections import OrderedDict


def load(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench")
    ap.add_argument("sdpa")
    ap.add_argument("--memory")
    ap.add_argument("--metric", default="tflops",
                    help="column to tabulate (backward CSVs: bwd_tflops, fwd_bwd_tflops)")
    ap.add_argument("--refs", nargs="+", default=["torch_flash", "torch_cudnn"],
                    help="PyTorch variants to divide by; 'auto': every torch_* variant in the CSVs")
    ap.add_argument("--title", default="Forward TFLOP/s (FlashAttention convention: 4 B H N^2 d, "
                    "halved when causal)")
    a = ap.parse_args()
    # MHA rows only: the backward grid's GQA/MQA rows (heads_kv < heads) share
    # (d, mask, N) with them; scripts/gpu_goals.py tabulates those.
    rows = [r for r in load(a.bench) + load(a.sdpa)
            if int(r.get("heads_kv") or r["heads"]) == int(r["heads"])]
    key = lambda r: (int(r["head_dim"]), r["mask"], int(r["seqlen"]))
    table = OrderedDict()
    variants = []
    for r in rows:
        table.setdefault(key(r), {})[r["variant"]] = float(r[a.metric])
        if r["variant"] not in variants:
            variants.append(r["variant"])
    ours = [v for v in variants if not v.startswith("torch_")]
    refs = [v for v in variants if v.startswith("torch_")] if a.refs == ["auto"] else a.refs
    short = {"torch_flash": "flash", "torch_cudnn": "cuDNN"}
    # Provenance of our rows (one run, or every run a merged CSV holds).
    def each(col):
        return ", ".join(sorted({r[col] for r in rows if r["variant"] in ours}))
    print(f"Device: {each('device')}  \nDate: {each('date')}  \nCommit: {each('commit')}\n")
    print(f"{a.title}, bf16, batch x seqlen = 16384, hidden 2048, median of repeats with L2 "
          "cleared.\n")
    head = ["d", "mask", "N"] + variants
    for v in ours:
        head += [f"{v}/{short.get(r, r)}" for r in refs]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for (d, mask, n), vals in sorted(table.items()):
        cells = [str(d), mask, str(n)] + [f"{vals[v]:.1f}" if v in vals else "-" for v in variants]
        for v in ours:
            for ref in refs:
                cells.append(f"{vals[v] / vals[ref]:.2f}" if v in vals and ref in vals else "-")
        print("| " + " | ".join(cells) + " |")
    for v in ours:
        for ref in refs if a.refs == ["auto"] else refs[:1]:
            rs = [vals[v] / vals[ref] for (d, m, n), vals in table.items()
                  if n >= 2048 and v in vals and ref in vals]
            what = "PyTorch flash" if ref == "torch_flash" else ref
            if rs:
                print(f"\n{v}: ratio to {what} for N >= 2048: min {min(rs):.2f}, max {max(rs):.2f}")
    traffic = [r for r in load(a.bench) if r.get("sim_hbm_bytes")]
    if traffic:
        print("\nSM-side traffic the simulator's two-level count predicts for each variant's own "
              "schedule (Br, Bc; between the SMs and L2, not DRAM), beside the measured time:\n")
        print("| variant | schedule | d | mask | N | predicted SM-side (GB) | median (ms) | "
              "implied (TB/s) |\n|---|---|---|---|---|---|---|---|")
        for r in traffic:
            gb = float(r["sim_hbm_bytes"]) / 1e9
            print(f"| {r['variant']} | {r['schedule']} | {r['head_dim']} | {r['mask']} | "
                  f"{r['seqlen']} | {gb:.2f} | {float(r['median_ms']):.3f} | "
                  f"{float(r['sim_bytes_per_s']) / 1e12:.2f} |")
        print("\nThis count is what L2 delivers to the SMs (ncu l1tex__m_xbar2l1tex_read_bytes "
              "plus stores), so its rate may exceed the HBM's bandwidth: L2 serves the re-reads. The "
              "GPU model's DRAM prediction for the plain kernels is in reports/traffic.")
    if a.memory:
        what = ("one forward (beyond Q, K, V, O)" if a.metric == "tflops" else
                "one backward (beyond Q, K, V, O, dO, LSE, dQ, dK, dV)")
        print(f"\nExtra device memory of {what}:\n")
        print("| variant | problem | declared (MiB) | measured (MiB) |\n|---|---|---|---|")
        for r in load(a.memory):
            print(f"| {r['variant']} | {r['problem']} | {int(r['declared_extra_bytes']) / 2**20:.1f} | "
                  f"{int(r['measured_extra_bytes']) / 2**20:.1f} |")


if __name__ == "__main__":
    main()
