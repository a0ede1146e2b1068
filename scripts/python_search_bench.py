#!/usr/bin/env python3
"""Benchmark (not a test): wall time of a 100-case forward property search
(flashcheck.check) on a trivial, correct NumPy candidate (standard attention in
float32, every mask), repeated REPEATS times; median and each run into
reports/python_bench/search_bench.csv with machine, date and commit.
Goal (issue 12): under 10 s on the 2-core development machine.

  .venv/bin/python scripts/python_search_bench.py [--cases 100] [--repeats 3] [--out CSV]
"""
import argparse
import csv
import datetime
import os
import platform
import statistics
import subprocess
import time

import numpy as np

import flashcheck


def standard_f32(case):
    """Standard attention in float32 with the problem's own mask."""
    p = case.problem
    q, k, v = (np.asarray(x, np.float32) for x in (case.q, case.k, case.v))
    g = p.heads_q // p.heads_kv
    k, v = np.repeat(k, g, axis=1), np.repeat(v, g, axis=1)
    s = q @ k.transpose(0, 1, 3, 2) * np.float32(p.scale)
    vis = np.array([[p.visible(i, j) for j in range(p.seqlen_k)] for i in range(p.seqlen_q)], bool)
    s = np.where(vis, s, -np.inf)
    m = s.max(-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.exp(s - m)
    den = e.sum(-1, keepdims=True)
    o = np.where(den > 0, (e / np.where(den > 0, den, 1)) @ v, 0)
    lse = np.where(den[..., 0] > 0, np.log(np.where(den[..., 0] > 0, den[..., 0], 1)) + m[..., 0], -np.inf)
    return {"o": o, "lse": lse}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--out", default=os.path.join(root, "reports", "python_bench", "search_bench.csv"))
    a = ap.parse_args()
    commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    times = []
    for r in range(a.repeats):
        t0 = time.perf_counter()
        res = flashcheck.check(standard_f32, cases=a.cases, seed=r, quiet=True)
        times.append(time.perf_counter() - t0)
        if not res.passed:
            raise SystemExit(f"search_bench: the correct candidate failed (seed {r}): {res.counterexample}")
        if res.cases_run != a.cases:
            raise SystemExit(f"search_bench: ran {res.cases_run} cases, asked for {a.cases}")
        print(f"search_bench: run {r + 1}/{a.repeats}: {a.cases} cases in {times[-1]:.2f} s", flush=True)
    med = statistics.median(times)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["machine", "cpus", "date", "commit", "cases", "run", "seconds", "median_seconds", "goal_seconds"])
        for r, t in enumerate(times):
            w.writerow([platform.node() or "unknown", os.cpu_count(), datetime.date.today().isoformat(), commit,
                        a.cases, r + 1, f"{t:.3f}", f"{med:.3f}", 10])
    print(f"search_bench: median {med:.2f} s for {a.cases} cases (goal < 10 s); wrote {a.out}")


if __name__ == "__main__":
    main()
