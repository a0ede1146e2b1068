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


def simulate(problem=None, *, batch=64, heads=16, kv_heads=None, seqlen=1024, seqlen_q=None,
             seqlen_k=None, head_dim=64, dtype="fp16", mask="none", window=None,
             schedule="all", direction="both", sram=None, preset="all", l2=None, sms=None,
             hbm_gbps=None, matmul_tflops=None, vector_tflops=None, variant=None,
             block_r=0, block_c=0):
    """Simulate tiled attention schedules; returns a list of dicts, one per run
    (the fields of `flashcheck sim --format json`). Options mirror the CLI:
    a `problem` (flashcheck.Problem) or its fields (defaults: GPT-2 medium, as
    `flashcheck sim`); schedule 'standard'/'flash1'/'flash2'/'all' or a list;
    direction 'fwd'/'bwd'/'both'; sram one size or a list (bytes or '96KiB';
    default the preset's shared memory per block); preset 'a100'/'h100'/'h200'/
    'all'/'custom'; l2 ('50MB', '0' off), sms, hbm_gbps, matmul_tflops,
    vector_tflops; variant a kernel's schedule (e.g. 'flash2_fwd'); block_r,
    block_c tile overrides (0: the block rule)."""
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
    text = _flashcheck._simulate_json(
        problem, _names("schedule", schedule, _SCHEDULES), _names("direction", direction, ("fwd", "bwd")),
        preset, _sizes(sram), l2, sms, hbm_gbps, matmul_tflops, vector_tflops, variant,
        block_r, block_c)
    return json.loads(text)
