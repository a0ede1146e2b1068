#!/usr/bin/env python3
"""Research prototype, not the GPU model (sim/gpu_model.cpp): DRAM stream reads of a tiled attention kernel from a CTA timeline and LRU stack distances.
CTAs launch in grid order onto W slots (a CTA takes the earliest free slot; one step per inner block).
CTA x streams inner blocks [a, b); it reads block i at start + (i - a). Every read of a (head, block)
key after its first is a hit if the distinct bytes touched since that key's previous read (its LRU
stack distance, each key weighted by its footprint bytes, plus the resident tiles) are under the
effective L2 (L/2), else a miss; the H200 reuse curve softens the edge.
The distinct bytes between two reads also count the K/V (or Q) tiles of CTAs that start in between and,
at weight 1/2, the outputs of CTAs that end in between. Compares, for rows of reports/fidelity/fidelity.csv
(no GQA), the measured DRAM reads with the wave model's and with the all-hit prediction (flashcheck sim
--l2 1000GB) plus this timeline's misses: the question of stop 25's note, whether a CTA timeline explains
the causal backward rows (c04, c10) that the per-wave decision misses.
Usage (numpy; from the repository root): timeline_prototype.py FLASHCHECK [CASE:KERNEL ...] > out.txt"""
import heapq, sys
import numpy as np

L2 = 62914560
LEFF = L2 / 2
KNOTS = [(0.94, 0), (0.95, 0.012), (0.96, 0.116), (0.97, 0.18), (0.99, 0.18), (1.00, 0.217), (1.10, 0.986), (1.11, 1)]


def curve(x):
    return np.interp(x, [k[0] for k in KNOTS], [k[1] for k in KNOTS], left=0, right=1)


def kernel(name, d, causal, n, units):
    """(W, outer count T, inner count, inner rows, per-inner-row footprint bytes, resident bytes per CTA,
    function outer x -> (a, b) inner range, order of (unit, x))"""
    if name == "flash2_bwd":
        br, bc, per_sm = (32 if d > 64 else 64), 64, 2
        T, Ti = n // bc, n // br
        row = 2 * d * 2 + 8 + 0.5 * 4 * d  # Q, dO, LSE, D + dQaccum atomics at weight 1/2
        res = bc * 2 * d * 2
        rng = (lambda x: ((x * bc) // br, Ti)) if causal else (lambda x: (0, Ti))
        order = [(u, x) for u in range(units) for x in range(T)]
    elif name == "torch_flash_bwd":
        br, bc, per_sm = (64 if d > 64 else 128), 128, 1
        T, Ti = n // bc, n // br
        row = 2 * d * 2 + 8 + 0.5 * 4 * d
        res = bc * 2 * d * 2
        rng = (lambda x: ((x * bc) // br, Ti)) if causal else (lambda x: (0, Ti))
        order = [(u, x) for u in range(units) for x in range(T)]
    elif name == "torch_flash_fwd":
        br, bc, per_sm = 128, (64 if d > 64 else 128), 2
        T, Ti = n // br, n // bc
        row = 2 * d * 2  # K, V
        res = br * d * 2
        rng = (lambda x: (0, ((x + 1) * br + bc - 1) // bc)) if causal else (lambda x: (0, Ti))
        order = [(u, x) for u in range(units) for x in range(T)]
    elif name == "flash2_fwd":
        br, bc = 128, (64 if d <= 64 else 128)
        per_sm = 2 if d <= 64 else 1
        T, Ti = n // br, n // bc
        row = 2 * d * 2
        res = br * d * 2
        rng = (lambda x: (0, ((x + 1) * br + bc - 1) // bc)) if causal else (lambda x: (0, Ti))
        order = [(u, T - 1 - x) for u in range(units) for x in range(T)]  # heaviest first
    else:
        raise SystemExit("unknown kernel " + name)
    inner_rows = br if name.endswith("bwd") else bc
    # written at a CTA's end (weight 1/2: home slice only): dK, dV (bwd) or O, LSE (fwd)
    wr = 0.5 * (bc * 2 * d * 2 if name.endswith("bwd") else br * (d * 2 + 4))
    return 132 * per_sm, T, Ti, inner_rows, row, res, rng, order, wr


def simulate(name, d, causal, n, units):
    W, T, Ti, rows, row, res, rng, order, wr = kernel(name, d, causal, n, units)
    starts, ends = [], []
    slots = [0] * W
    heapq.heapify(slots)
    reads = []  # (time, key)
    for u, x in order:
        a, b = rng(x)
        s = heapq.heappop(slots)
        heapq.heappush(slots, s + max(b - a, 0))
        starts.append(s)
        ends.append(s + max(b - a, 0))
        t = np.arange(b - a) + s
        reads.append((t, u * Ti + np.arange(a, b)))
    t = np.concatenate([r[0] for r in reads])
    k = np.concatenate([r[1] for r in reads])
    o = np.lexsort((k, t))  # time order (ties: by key)
    t, k = t[o], k[o]
    # Stack distance in keys: distinct keys read strictly between a key's previous read and this one.
    nkeys = units * Ti
    last = np.full(nkeys, -1, dtype=np.int64)
    fen = np.zeros(len(k) + 1, dtype=np.int64)

    def add(i, v):
        i += 1
        while i < len(fen):
            fen[i] += v
            i += i & -i

    def pref(i):  # sum over [0, i)
        s = 0
        while i > 0:
            s += fen[i]
            i -= i & -i
        return s

    dist = np.full(len(k), -1, dtype=np.int64)
    prev_t = np.full(len(k), -1, dtype=np.int64)
    for idx in range(len(k)):
        key = k[idx]
        p = last[key]
        if p >= 0:
            dist[idx] = pref(idx) - pref(p + 1)
            prev_t[idx] = t[p]
            add(p, -1)
        add(idx, 1)
        last[key] = idx
    block_bytes = rows * row
    reread = dist >= 0
    starts, ends = np.sort(np.array(starts)), np.sort(np.array(ends))
    t0, t1 = prev_t[reread], t[reread]
    began = np.searchsorted(starts, t1, side="right") - np.searchsorted(starts, t0, side="right")
    ended = np.searchsorted(ends, t1, side="right") - np.searchsorted(ends, t0, side="right")
    fp = dist[reread] * block_bytes + (W + began) * res + ended * wr
    miss = curve(fp / LEFF)
    first = int((~reread).sum())
    return first, float(miss.sum()), int(reread.sum()), block_bytes


import csv, json, subprocess  # noqa: E402


def allhit_reads(fc, kernel, c):
    _, b, hq, hkv, n, d, mask, _ = c
    out = subprocess.run([fc, "sim", "--variant", kernel, "--preset", "h200", "--l2", "1000GB", "--batch", b, "--heads", hq,
                          "--kv-heads", hkv, "--seqlen", n, "--head-dim", d, "--mask", mask, "--dtype", "bf16",
                          "--direction", "bwd" if kernel.endswith("bwd") else "fwd", "--format", "json"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)[0]["dram_read_bytes"]


def main(argv):
    fc, want = argv[0], argv[1:]
    rows = list(csv.DictReader(open("reports/fidelity/fidelity.csv")))
    cases = {l.split()[0]: l.split() for l in open("reports/fidelity/cases.txt") if l.strip() and not l.startswith("#")}
    print("# generated by sim/fidelity/timeline_prototype.py (a research prototype; the model is sim/gpu_model.cpp)")
    for r in rows:
        key = r["case"] + ":" + r["kernel"]
        c = cases[r["case"]]
        if (want and key not in want) or c[2] != c[3]:
            continue
        first, misses, rereads, bb = simulate(r["kernel"], int(c[5]), c[6] == "causal", int(c[4]), int(c[1]) * int(c[2]))
        proto = allhit_reads(fc, r["kernel"], c) + misses * bb
        meas, model = float(r["dram_read_gb"]) * 1e9, float(r["dram_read_pred_gb"]) * 1e9
        print(f"{key:22s} measured {meas / 1e9:.4f} GB  wave model {model / 1e9:.4f} ({model / meas:.2f})  "
              f"timeline {proto / 1e9:.4f} ({proto / meas:.2f})  re-reads missing {misses / max(rereads, 1):.4f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
