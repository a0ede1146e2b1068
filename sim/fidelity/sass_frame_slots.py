#!/usr/bin/env python3
"""Stack-frame slots of each kernel in a `cuobjdump -sass` listing (plain or .gz), split by
where they are stored: a slot stored inside some loop (the address range of a backward
branch) is rewritten every trip, "hot"; one stored only outside every loop is written O(1)
times per CTA, "cold", the part whose lines may age out of L2 and be written back once per CTA.
Usage: sass_frame_slots.py [--match REGEX] LISTING... > slots.tsv"""
import argparse, gzip, re, sys

INSN = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(.*?);")
STL = re.compile(r"\bSTL(\.(8|U8|S8|16|U16|S16|64|128))?\s+\[R1(\+(0x[0-9a-f]+|\d+))?\]")
BRA = re.compile(r"\bBRA\s+(?:\S+\s+)?(0x[0-9a-f]+)")
WIDTH = {None: 4, "8": 1, "U8": 1, "S8": 1, "16": 2, "U16": 2, "S16": 2, "64": 8, "128": 16}


def functions(path):
    opener = gzip.open if path.endswith(".gz") else open
    name, body = None, []
    with opener(path, "rt", errors="replace") as f:
        for line in f:
            if "Function :" in line:
                if name:
                    yield name, body
                name, body = line.split("Function :", 1)[1].strip(), []
            elif name:
                m = INSN.search(line)
                if m:
                    body.append((int(m.group(1), 16), m.group(2)))
    if name:
        yield name, body


def slots(body):
    loops = []  # [target, branch] of every backward branch
    for addr, text in body:
        m = BRA.search(text)
        if m and int(m.group(1), 16) <= addr:
            loops.append((int(m.group(1), 16), addr))
    hot, cold = set(), set()
    stores_in, stores_out = 0, 0
    for addr, text in body:
        m = STL.search(text)
        if not m:
            continue
        off = int(m.group(4), 0) if m.group(4) else 0
        byte_range = range(off, off + WIDTH[m.group(2)])
        if any(a <= addr <= b for a, b in loops):
            hot.update(byte_range)
            stores_in += 1
        else:
            cold.update(byte_range)
            stores_out += 1
    cold -= hot
    return len(hot | cold), len(hot), len(cold), stores_in, stores_out, len(loops)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--match", default="")
    ap.add_argument("listings", nargs="+")
    a = ap.parse_args()
    print("stored_bytes\thot_bytes\tcold_bytes\tstl_in_loops\tstl_outside\tloops\tkernel")
    found = 0
    for path in a.listings:
        for name, body in functions(path):
            if re.search(a.match, name):
                found += 1
                print("\t".join(map(str, slots(body))) + "\t" + name)
    if not found:
        sys.exit(f"no kernel matching {a.match!r} in {a.listings}")


if __name__ == "__main__":
    main()
