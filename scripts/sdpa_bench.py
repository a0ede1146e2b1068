#!/usr/bin/env python3
"""Time PyTorch SDPA (flash and cuDNN backends) forward on the FlashAttention
benchmark grid of shared/ANCHORS.md, the same grid and method as
`flashcheck bench`: batch x seqlen = --tokens, heads = --hidden / d, bf16,
[B, H, N, d] tensors, device events around each call after warm-up, L2
cleared (256 MiB memset) before each timed call, median of --repeats; FLOPs
4 B H N^2 d, halved when causal. Writes CSV with the same columns as
`flashcheck bench`, variant = torch_flash / torch_cudnn. --backward adds the
GQA/MQA rows of `flashcheck bench --backward` (each point again with
--gqa-heads-kv KV heads, SDPA's enable_gqa; column heads_kv); a backend
that refuses a row is reported on stderr and skipped.

--variant alibi / softcap time the attention variants instead, each through
the PyTorch path that computes it (named in the variant column):
  alibi    SDPA with a float attn_mask holding the bottom-right ALiBi bias
           -slope_h |i + Nk - Nq - j| (slopes 2^(-8 (h + 1) / H), as
           `flashcheck bench --alibi`; -inf above the diagonal when causal),
           broadcast over the batch, on the efficient and cuDNN backends
           (torch_efficient+alibi, torch_cudnn+alibi)
  softcap  FlexAttention (torch.compile'd flex_attention) with score_mod
           cap tanh(s / cap) and a causal block mask when causal
           (torch_flex+softcap); compile time is not timed (warm-up)
  varlen   nested jagged tensors (torch.nested, layout=torch.jagged) of the
           lengths `flashcheck bench --varlen` packs (B sequences from N down
           to about N / 2, odd ones 37 shorter) through SDPA on the flash and
           efficient backends (torch_flash+varlen, torch_efficient+varlen);
           FLOPs from the real lengths

Run on the GPU machine: python3 scripts/sdpa_bench.py --csv out.csv --commit SHA
"""
import argparse
import datetime
import statistics
import sys

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
import torch.nn.functional as F

BACKENDS = {"torch_flash": SDPBackend.FLASH_ATTENTION, "torch_cudnn": SDPBackend.CUDNN_ATTENTION}
VARLEN_BACKENDS = {"torch_flash+varlen": SDPBackend.FLASH_ATTENTION,
                   "torch_efficient+varlen": SDPBackend.EFFICIENT_ATTENTION}
ALIBI_BACKENDS = {"torch_efficient+alibi": SDPBackend.EFFICIENT_ATTENTION,
                  "torch_cudnn+alibi": SDPBackend.CUDNN_ATTENTION}


def alibi_bias(h, n, causal):
    """[1, h, n, n] bf16: -slope_h |i - j| (Nq = Nk), -inf above the diagonal when causal."""
    slopes = torch.exp2(-8.0 * torch.arange(1, h + 1, device="cuda", dtype=torch.float32) / h)
    i = torch.arange(n, device="cuda")
    dist = (i[:, None] - i[None, :]).abs().to(torch.float32)
    bias = (-slopes[:, None, None] * dist[None]).to(torch.bfloat16)
    if causal:
        bias.masked_fill_((i[None, :] > i[:, None])[None], float("-inf"))
    return bias[None]


def varlen_lens(b, n):
    """The sequence lengths of `flashcheck bench --varlen` (cli/bench_cmd.cpp varlen_lens)."""
    return [max(1, n - i * n // (2 * b) - (37 if i % 2 else 0)) for i in range(b)]


def jagged(lens, h, d, gen):
    """A [B, h, j, d] nested jagged bf16 tensor of uniform [-1, 1) values."""
    parts = [torch.rand(m, h, d, device="cuda", dtype=torch.bfloat16, generator=gen) * 2 - 1
             for m in lens]
    return torch.nested.nested_tensor(parts, layout=torch.jagged).transpose(1, 2)


def variant_call(a, name, h, n, causal):
    """(context manager, call(q, k, v)) of one variant row's PyTorch path."""
    import contextlib
    if a.variant == "alibi":
        bias = alibi_bias(h, n, causal)
        return (sdpa_kernel(ALIBI_BACKENDS[name]),
                lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=bias))
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    import torch._dynamo
    cap = a.softcap
    # Every grid shape is a recompile of flex_attention: past dynamo's limit (8) it silently
    # runs eager, 20x slower (measured: 6 TFLOP/s rows). Raise the limit; hitting it is an error.
    for key, value in (("recompile_limit", 256), ("cache_size_limit", 256), ("accumulated_recompile_limit", 4096),
                       ("accumulated_cache_size_limit", 4096), ("fail_on_recompile_limit_hit", True)):
        if hasattr(torch._dynamo.config, key):
            setattr(torch._dynamo.config, key, value)
    flex = torch.compile(flex_attention, dynamic=False)
    mask = (create_block_mask(lambda b, hh, qi, ki: qi >= ki, None, None, n, n, device="cuda")
            if causal else None)
    mod = lambda score, b, hh, qi, ki: cap * torch.tanh(score / cap)
    return (contextlib.nullcontext(),
            lambda q, k, v: flex(q, k, v, score_mod=mod, block_mask=mask))


def time_ms(fn, warmup, repeats, flush):
    for _ in range(warmup):
        fn()
    start = torch.cuda.Event(enable_timing=True)
    stop = torch.cuda.Event(enable_timing=True)
    out = []
    for _ in range(repeats):
        flush.zero_()
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        out.append(start.elapsed_time(stop))
    return statistics.median(out), min(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", required=True)
    ap.add_argument("--commit", default="unknown")
    ap.add_argument("--tokens", type=int, default=16384)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--head-dims", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--seqlens", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192, 16384])
    ap.add_argument("--gqa-heads-kv", type=int, nargs="*", default=[8, 1],
                    help="backward: each point again with these KV heads (dividing the heads)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--backward", action="store_true",
                    help="time backward alone and forward + backward (columns as "
                         "`flashcheck bench --backward`)")
    ap.add_argument("--variant", choices=["plain", "alibi", "softcap", "varlen"], default="plain",
                    help="time ALiBi (float attn_mask bias) or softcap (FlexAttention) rows instead")
    ap.add_argument("--softcap", type=float, default=30.0, help="--variant softcap: the cap")
    a = ap.parse_args()

    p = torch.cuda.get_device_properties(0)
    device = f"{p.name} (sm_{p.major}{p.minor}, {p.multi_processor_count} SMs)"
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    flush = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
    with open(a.csv, "w") as f:
        if a.backward:
            f.write("device,date,commit,variant,dtype,head_dim,seqlen,batch,heads,mask,schedule,"
                    "deterministic,bwd_median_ms,bwd_tflops,fwd_bwd_ms,fwd_bwd_tflops,heads_kv\n")
        else:
            f.write("device,date,commit,variant,dtype,head_dim,seqlen,batch,heads,mask,schedule,"
                    "median_ms,min_ms,tflops\n")
        kv_list = [0] + (a.gqa_heads_kv if a.backward else [])  # 0: as many KV heads as heads
        if a.variant != "plain":
            kv_list = [0]
        backends = {"plain": BACKENDS, "alibi": ALIBI_BACKENDS, "varlen": VARLEN_BACKENDS,
                    "softcap": {"torch_flex+softcap": None}}[a.variant]
        for name, backend in backends.items():
            for hkv in kv_list:
                for d in a.head_dims:
                    for causal in (False, True):
                        for n in a.seqlens:
                            h = a.hidden // d
                            if hkv and (hkv >= h or h % hkv):
                                continue
                            point(a, f, flush, device, date, name, backend, d, causal, n, hkv or h)


def point(a, f, flush, device, date, name, backend, d, causal, n, hkv):
    """Times one grid point (heads = hidden / d query heads, hkv KV heads) and writes its row."""
    b, h = max(1, a.tokens // n), a.hidden // d
    gen = torch.Generator(device="cuda").manual_seed(0)
    q = torch.rand(b, h, n, d, device="cuda", dtype=torch.bfloat16, generator=gen) * 2 - 1
    k, v = (torch.rand(b, hkv, n, d, device="cuda", dtype=torch.bfloat16, generator=gen) * 2 - 1
            for _ in range(2))
    gqa = {"enable_gqa": True} if hkv != h else {}
    flops = 4 * b * h * n * n * d / (2 if causal else 1)
    if a.variant == "varlen":
        lens = varlen_lens(b, n)
        q, k, v = (jagged(lens, h, d, gen) for _ in range(3))
        flops = 4 * h * sum(m * m for m in lens) * d / (2 if causal else 1)
    mask = "causal" if causal else "none"
    label = f"{name} d={d} N={n} Hq={h} Hkv={hkv} causal={causal}"
    if a.variant not in ("plain", "varlen"):
        try:
            ctx, call = variant_call(a, name, h, n, causal)
        except Exception as e:  # e.g. no FlexAttention in this torch
            print(f"{label}: {e}", file=sys.stderr)
            return
    else:
        ctx = sdpa_kernel(backend)
        call = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=causal, **gqa)
    if a.backward:
        try:
            with ctx:
                for t in (q, k, v):
                    t.requires_grad_(True)
                fwd = lambda: call(q, k, v)
                out = fwd()
                dout = torch.rand_like(out) * 2 - 1
                bwd = lambda: torch.autograd.grad(out, (q, k, v), dout, retain_graph=True)
                fmed, _ = time_ms(fwd, a.warmup, a.repeats, flush)
                bmed, _ = time_ms(bwd, a.warmup, a.repeats, flush)
        except Exception as e:  # a backend refusing the row; TypeError: a torch without enable_gqa
            print(f"{label}: {e}", file=sys.stderr)
            return
        btf = 2.5 * flops / (bmed * 1e-3) / 1e12
        fbtf = 3.5 * flops / ((fmed + bmed) * 1e-3) / 1e12
        f.write(f'"{device}",{date},{a.commit},{name},bf16,{d},{n},{b},{h},{mask},'
                f'sdpa,0,{bmed},{btf},{fmed + bmed},{fbtf},{hkv}\n')
        f.flush()
        print(f"{label}: bwd {btf:.1f}, fwd+bwd {fbtf:.1f} TFLOP/s", file=sys.stderr)
        return
    try:
        with ctx:
            fn = lambda: call(q, k, v)
            med, mn = time_ms(fn, a.warmup, a.repeats, flush)
    except Exception as e:  # a backend refusing the row (or FlexAttention failing to compile)
        print(f"{label}: {e}", file=sys.stderr)
        return
    tf = flops / (med * 1e-3) / 1e12
    f.write(f'"{device}",{date},{a.commit},{name},bf16,{d},{n},{b},{h},{mask},'
            f'sdpa,{med},{mn},{tf}\n')
    f.flush()
    print(f"{label}: {med:.3f} ms, {tf:.1f} TFLOP/s", file=sys.stderr)

if __name__ == "__main__":
    main()
