#!/usr/bin/env python3
"""PyTorch SDPA (flash backend, bf16) forward and backward once per case of
sim/fidelity/cases.txt, for Nsight Compute to count. Before each case a tiny
marker kernel runs with grid (case number, 1, 1), so the ncu CSV can be split
into cases by that launch alone (sim/fidelity/ncu_measure.sh).
Usage: python3 sdpa_cases.py cases.txt
"""
import sys

import cupy
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

MARK = cupy.RawKernel(r'extern "C" __global__ void fc_case_marker(int* x) { if (x) *x = 1; }',
                      "fc_case_marker")


def cases(path):
    for line in open(path):
        f = line.split()
        if not f or f[0].startswith("#"):
            continue
        yield f[0], int(f[1]), int(f[2]), int(f[3]), int(f[4]), int(f[5]), f[6]


def run_cases(path, before=None, after_fwd=None, after_bwd=None):
    """Each case's forward and backward, the marker first. The hooks (sdpa_writeback.py's
    flushes) run on the stream: before() ahead of the marker, after_fwd() between the
    forward and the backward, after_bwd() at the end, each fenced by synchronisations."""
    torch.manual_seed(0)
    for n, (cid, b, hq, hkv, s, d, mask) in enumerate(cases(path), start=1):
        try:
            q = torch.randn(b, hq, s, d, device="cuda", dtype=torch.bfloat16, requires_grad=True)
            k = torch.randn(b, hkv, s, d, device="cuda", dtype=torch.bfloat16, requires_grad=True)
            v = torch.randn(b, hkv, s, d, device="cuda", dtype=torch.bfloat16, requires_grad=True)
            do = torch.randn(b, hq, s, d, device="cuda", dtype=torch.bfloat16)
            torch.cuda.synchronize()
            if before:
                before()
            MARK((n, 1, 1), (1, 1, 1), (0,))
            torch.cuda.synchronize()
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                o = F.scaled_dot_product_attention(q, k, v, is_causal=(mask == "causal"),
                                                   enable_gqa=(hq != hkv))
                if after_fwd:
                    torch.cuda.synchronize()
                    after_fwd()
                    torch.cuda.synchronize()
                o.backward(do)
            torch.cuda.synchronize()
            if after_bwd:
                after_bwd()
                torch.cuda.synchronize()
            print(f"case {n} {cid}: ok", flush=True)
        except Exception as e:  # recorded, the case is then missing from the CSV
            print(f"case {n} {cid}: FAILED {type(e).__name__}: {e}", flush=True)
        finally:
            q = k = v = do = o = None
            torch.cuda.empty_cache()


def main():
    run_cases(sys.argv[1])


if __name__ == "__main__":
    main()
