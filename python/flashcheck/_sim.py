"""flashcheck.simulate: the IO simulator's rows as dicts, the JSON contract of
`flashcheck sim --format json` (sim/README.md), built by the same C++ code."""

import json

from . import _flashcheck

_SCHEDULES = ("standard", "flash1", "flash2")


def _names(name, x, all_values):
    if isinstance(x, str):
        x = all_values if x in ("all", "both") else x.split(",")
    try:
        x = [str(s) for s in x]
    except TypeError:
        raise TypeError(f"{name}: expected a name, a comma list or a list of names, got {type(x).__name__}")
    if not x:
        raise ValueError(f"{name}: empty list")
    return x


def _sizes(sram):
    if sram is None:
        return []
    if isinstance(sram, (str, int)):
        sram = [sram]
    out = []
    for s in sram:
        if isinstance(s, bool) or not isinstance(s, (str, int)):
            raise TypeError(f"sram: expected bytes (int) or a size like '96KiB', got {s!r}")
        if isinstance(s, int) and s <= 0:
            raise ValueError(f"sram: must be positive, got {s}")
        out.append(str(s))
    return out


def _lengths(name, x):
    """A length list as the comma string the C++ side parses (and checks)."""
    if x is None or isinstance(x, str):
        return x
    try:
        items = list(x)
    except TypeError:
        raise TypeError(f"{name}: expected a list of lengths or '100,2000', got {type(x).__name__}") from None
    if any(isinstance(v, bool) or not isinstance(v, int) for v in items):
        raise TypeError(f"{name}: expected ints, got {items!r}")
    return ",".join(str(v) for v in items)


def simulate(problem=None, *, batch=64, heads=16, kv_heads=None, seqlen=1024, seqlen_q=None,
             seqlen_k=None, head_dim=64, dtype="fp16", mask="none", window=None,
             schedule="all", direction="both", sram=None, preset="all", l2=None, sms=None,
             hbm_gbps=None, matmul_tflops=None, vector_tflops=None, variant=None,
             block_r=0, block_c=0, splits=None, page_size=None, page_read="sector", varlen=None,
             varlen_k=None, l2_edge="measured"):
    """Simulate tiled attention schedules; returns a list of dicts, one per run
    (the fields of `flashcheck sim --format json`). Options mirror the CLI:
    a `problem` (flashcheck.Problem) or its fields (defaults: GPT-2 medium, as
    `flashcheck sim`); schedule 'standard'/'flash1'/'flash2'/'all' or a list;
    direction 'fwd'/'bwd'/'both'; sram one size or a list (bytes or '96KiB';
    default the preset's shared memory per block); preset 'a100'/'h100'/'h200'/
    'all'/'custom'; l2 ('50MB', '0' off), l2_edge ('measured': the preset's
    L2 reuse curve near its edge, 'lru': a cliff at L/2), sms, hbm_gbps, matmul_tflops,
    vector_tflops; variant a kernel's schedule (e.g. 'flash2_fwd'); block_r,
    block_c tile overrides (0: the block rule); splits the splitkv schedule's
    KV chunks; page_size rows per page of paged K/V, page_read 'sector' or
    'page'; varlen the sequence lengths of a packed batch (a list or
    '100,2000,517', varlen_k the key lengths): then the rows of
    `flashcheck sim --varlen --format json` (packed against padded)."""
    if problem is None:
        problem = _flashcheck.Problem(batch=batch, heads_q=heads, heads_kv=kv_heads,
                                      seqlen_q=seqlen if seqlen_q is None else seqlen_q,
                                      seqlen_k=seqlen if seqlen_k is None else seqlen_k,
                                      head_dim=head_dim, dtype=dtype, mask=mask, window=window)
    elif not isinstance(problem, _flashcheck.Problem):
        raise TypeError(f"problem: expected flashcheck.Problem, got {type(problem).__name__}")
    if not isinstance(preset, str):
        raise TypeError(f"preset: expected a name, got {type(preset).__name__}")
    if l2 is not None:
        l2 = str(l2)
    for name, v in (("block_r", block_r), ("block_c", block_c)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{name}: expected an int, got {v!r}")
    for name, v in (("splits", splits), ("page_size", page_size)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise TypeError(f"{name}: expected an int, got {v!r}")
    if not isinstance(page_read, str):
        raise TypeError(f"page_read: expected 'sector' or 'page', got {page_read!r}")
    if not isinstance(l2_edge, str):
        raise TypeError(f"l2_edge: expected 'measured' or 'lru', got {l2_edge!r}")
    text = _flashcheck._simulate_json(
        problem, _names("schedule", schedule, _SCHEDULES), _names("direction", direction, ("fwd", "bwd")),
        preset, _sizes(sram), l2, sms, hbm_gbps, matmul_tflops, vector_tflops, variant,
        block_r, block_c, splits, page_size, page_read, _lengths("varlen", varlen), _lengths("varlen_k", varlen_k),
        l2_edge)
    return json.loads(text)
