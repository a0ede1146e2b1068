#!/usr/bin/env python3
"""The spill aging curve (sim/README.md, "Spills"): from the spill probe's launches, the share of a
written-once stack-frame part that L2 writes back before the slot's next CTA overwrites it, against
y = the distinct bytes all resident CTAs touch during one CTA lifetime over the effective L2 (L/2).
Each launch of fc_spill_probe (kernels/tools/spill_probe.cu) with a cold part, re-reads >= 8 a step
(hit-rich, as attention kernels' K/V re-reads are), CTAs all alike (stagger 1) is a point:
  F = the streamed fill over the waves (fills during one lifetime),
  D = the re-read buffer's lines one lifetime touches (scattered: min(buffer, W x 8191 lines + one
      CTA's range); group G: min(buffer, (W / G + 1) streams x one CTA's range)),
  frames = W x 128 threads x (hot + cold) bytes at weight 1/2 (written lines sit at one slice),
  y = (F + D + frames) / (L2 / 2); share = in-kernel DRAM writes / ((CTAs - W) x 128 x cold), at most 1.
The knots are the isotonic (pool-adjacent-violators) fit of share on y, points of one y (to 3
places) pooled first, one knot per pooled block at its mean y. Usage: spill_aging.py PROBE_DIR... [--check HARDWARE_CPP] (--check: exit 1 unless
hardware.cpp's spill_aging knots are these, to 3 places)."""
import csv, glob, math, os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spill_study_summary import launches  # noqa: E402


def points(probe):
    out = []
    for f in sorted(glob.glob(os.path.join(probe, "plan_*.csv"))):
        name = os.path.basename(f)[5:-4]
        ls = launches(os.path.join(probe, f"ncu_{name}.csv"))
        for k, p in enumerate(csv.DictReader(open(f))):
            cold, rr = int(p["cold_bytes_per_thread"]), int(p.get("rereads_per_step") or 0)
            if cold == 0 or rr < 8 or int(p["stagger"]) != 1:
                continue
            grid, sms, l2 = int(p["grid"]), int(p["sms"]), int(p["l2_bytes"])
            threads, W = int(p["threads_per_cta"]), 2 * int(p["sms"])
            group, buf = int(p.get("reread_group") or 0), int(p["reread_buffer_bytes"])
            steps = math.ceil(int(p["fill_bytes"]) / 16 / grid / threads)
            span = steps * rr * threads * 16  # one CTA's re-read range over its lifetime
            D = min(buf, W * 8191 * 16 + span) if group == 0 else min(buf, (W / group + 1) * span)
            F = int(p["fill_bytes"]) / (grid / W)
            frames = 0.5 * W * threads * (int(p["frame_bytes_per_thread"]) + cold)
            y = (F + D + frames) / (l2 / 2)
            share = min(1.0, ls[1 + 2 * k]["dram__bytes_write.sum"] / ((grid - W) * threads * cold))
            out.append((y, share, f"{os.path.basename(probe)}/{name}#{k}"))
    return out


def isotonic(pts):
    same = {}  # points of one y (to 3 places) pool first: one knot per y
    for y, s, _ in pts:
        same.setdefault(round(y, 3), []).append(s)
    blocks = []  # [sum y, sum share, n]
    for y in sorted(same):
        blocks.append([y * len(same[y]), sum(same[y]), len(same[y])])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            b = blocks.pop()
            for i in range(3):
                blocks[-1][i] += b[i]
    return [(round(b[0] / b[2], 3), round(b[1] / b[2], 3)) for b in blocks]


def main(argv):
    check = None
    if "--check" in argv:
        i = argv.index("--check")
        check = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    pts = [p for d in argv for p in points(d)]
    if not pts:
        sys.exit("spill_aging: no probe launch with a cold part and >= 8 re-reads in " + " ".join(argv))
    knots = isotonic(pts)
    text = "{" + ", ".join(f"{{{y:g}, {s:g}}}" for y, s in knots) + "}"
    if check:
        m = re.search(r"spill_aging\(\)\s*\{\s*static const L2Reuse r\{(\{.*?\})\};", open(check).read(), re.S)
        got = re.sub(r"\s+", " ", m.group(1)) if m else None
        if got != text:
            sys.exit(f"spill_aging: {check} has {got}, the probe data give {text}")
        print(f"spill_aging: {len(pts)} probe points; knots match {check}")
        return
    print("| y | share | launch |\n|---|---|---|")
    for y, s, n in sorted(pts):
        print(f"| {y:.3f} | {s:.3f} | {n} |")
    print(f"\nknots: {text}")


if __name__ == "__main__":
    main(sys.argv[1:])
