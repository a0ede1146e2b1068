#!/usr/bin/env python3
"""flashcheck.check on real attention implementations: PyTorch SDPA's four
backends (math, flash, efficient, cudnn, chosen with sdpa_kernel) and
FlexAttention (eager and torch.compile'd), per mask and direction.

    python3 scripts/python_clients.py --out reports/python            # on the GPU machine
    python3 scripts/python_clients.py --standin --out /tmp/x          # no torch: NumPy stand-ins

Each (client, direction, mask) is one property search with shrinking. A
backend that refuses a case (SDPA: "No available kernel", with the reasons it
warned; anything else it raises) is neither a counterexample nor a pass: the
case is counted as refused and the search goes on (fn hands back the oracle's
outputs so RapidCheck moves on), and judged = cases run - refused. A client
has a time slice; a search that runs past it is stopped and reported so.
Writes OUT/results.csv, OUT/refusals.csv, OUT/README.md (rendered from
them) and OUT/cases/<check>/ (each counterexample's replayable case folder).
"""
import argparse
import csv
import datetime
import os
import platform
import re
import shutil
import sys
import time
import warnings

import numpy as np

import flashcheck

MASKS = ("none", "causal_top_left", "causal_bottom_right", "sliding_window")
FIELDS = ("client", "direction", "mask", "dtypes", "head_dims", "max_seqlen", "cases_asked", "cases_run",
          "judged", "refused_search", "refused_shrink", "skipped", "status", "counterexample", "values", "failing",
          "worst", "shrink_calls", "seconds", "replay")


class Refusal(Exception):
    """The implementation declined this case (no kernel for it)."""


def band_matrix(p, xp=np):
    """The mask as a boolean [Nq, Nk] matrix, from Problem.band (one definition)."""
    lo, hi = p.band
    d = xp.arange(p.seqlen_k)[None, :] - xp.arange(p.seqlen_q)[:, None]
    return (d >= lo) & (d <= hi)


def normalise(msg):
    """A refusal reason with its numbers blanked, so equal reasons count together."""
    line = " ".join(str(msg).split())
    return re.sub(r"\d+", "N", line)[:160]


class Tally:
    """Calls of one search: call k <= cases_run is the search, later ones shrinking.
    Refused calls and calls past the time slice (skipped) are recorded by index."""

    def __init__(self):
        self.calls = 0
        self.refused_at = []
        self.skipped_at = []
        self.reasons = {}

    def refuse(self, reason):
        self.refused_at.append(self.calls)
        r = normalise(reason)
        self.reasons[r] = self.reasons.get(r, 0) + 1


def oracle_outputs(case, backward):
    ref = flashcheck.reference(case.problem, case.q, case.k, case.v, case.do)
    return {n: ref[n] for n in (("o", "dq", "dk", "dv") if backward else ("o",))}


def searched(client, backward, tally, deadline):
    """fn for flashcheck.check. A refused case, and every call once the time
    slice is spent, gets the oracle's outputs (so RapidCheck moves on, and
    shrinking ends at the smallest failure found so far); both are counted."""
    def fn(case):
        tally.calls += 1
        if tally.skipped_at or time.monotonic() > deadline:
            tally.skipped_at.append(tally.calls)
            return oracle_outputs(case, backward)
        try:
            return client(case, backward)
        except Refusal as r:
            tally.refuse(r)
            return oracle_outputs(case, backward)
    return fn


# --- NumPy stand-ins: the torch-free path (tests of this script) ---------------------------

def _np_attention(case, backward, empty_rows="zero"):
    p = case.problem
    q, k, v = (np.asarray(x, np.float32) for x in (case.q, case.k, case.v))
    g = p.heads_q // p.heads_kv
    k, v = np.repeat(k, g, axis=1), np.repeat(v, g, axis=1)
    vis = band_matrix(p)
    s = np.where(vis, q @ k.transpose(0, 1, 3, 2) * np.float32(p.scale), -np.inf)
    seen = vis.any(-1)[:, None]
    if empty_rows == "uniform":  # the planted bug: a row that sees no key averages every value
        s = np.where(seen, s, 0.0)
    m = np.where(np.isfinite(s.max(-1, keepdims=True)), s.max(-1, keepdims=True), 0.0)
    e = np.exp(s - m)
    den = e.sum(-1, keepdims=True)
    o = np.where(den > 0, (e / np.where(den > 0, den, 1)) @ v, 0.0)
    if backward:
        raise Refusal("stand-ins have no backward")
    return {"o": o}


def standin_clients():
    def correct(case, backward):
        return _np_attention(case, backward)

    def empty_rows_uniform(case, backward):
        return _np_attention(case, backward, empty_rows="uniform")

    def refuses_odd_head_dim(case, backward):
        if case.problem.head_dim % 8:
            raise Refusal(f"head_dim {case.problem.head_dim} is not a multiple of 8")
        return _np_attention(case, backward)

    return {"numpy_f32": correct, "numpy_empty_rows_uniform": empty_rows_uniform,
            "numpy_refuses_odd_d": refuses_odd_head_dim}


# --- PyTorch clients -----------------------------------------------------------------------

def torch_clients(device, flex_lse=True):
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.attention.bias import causal_lower_right
    from torch.nn.attention import flex_attention as flex_mod

    def tensor(a, grad=False):
        a = np.ascontiguousarray(a)
        if a.dtype == flashcheck.numpy_dtype("bf16"):
            t = torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
        else:
            t = torch.from_numpy(a)
        return t.to(device).requires_grad_(grad)

    def inputs(case, backward):
        q, k, v = (tensor(x, backward) for x in (case.q, case.k, case.v))
        return q, k, v, (tensor(case.do) if backward else None)

    def grads(out, q, k, v, do):
        out["o"].backward(do)
        out.update(dq=q.grad, dk=k.grad, dv=v.grad)
        return out

    def sdpa(backend):
        def run(case, backward):
            p = case.problem
            q, k, v, do = inputs(case, backward)
            kw = {"scale": p.scale, "enable_gqa": p.heads_q != p.heads_kv}
            if p.mask == "causal_top_left":
                kw["is_causal"] = True
            elif p.mask == "causal_bottom_right":
                kw["attn_mask"] = causal_lower_right(p.seqlen_q, p.seqlen_k)
            elif p.mask == "sliding_window":
                kw["attn_mask"] = torch.from_numpy(band_matrix(p)).to(device)
            with warnings.catch_warnings(record=True) as said, sdpa_kernel([backend]):
                warnings.simplefilter("always")
                try:
                    out = {"o": F.scaled_dot_product_attention(q, k, v, **kw)}
                    if backward:
                        grads(out, q, k, v, do)
                except RuntimeError as e:
                    if "No available kernel" in str(e) or "No viable backend" in str(e):
                        why = [str(w.message) for w in said if "Memory efficient" in str(w.message)
                               or "Flash" in str(w.message) or "CuDNN" in str(w.message)
                               or "cuDNN" in str(w.message) or "Expected" in str(w.message)]
                        raise Refusal("declined: " + ("; ".join(why[:2]) or str(e))) from None
                    if "CUDA error" in str(e) or "illegal" in str(e):
                        raise  # the context is gone: this is a failure, not a refusal
                    raise Refusal(f"raised {type(e).__name__}: {str(e).splitlines()[0]}") from None
            if backward and any(out[n] is None for n in ("dq", "dk", "dv")):
                raise Refusal("no gradient")
            return out
        return run

    # One mask_mod object for every band mask: its bounds live in tensors that
    # are updated in place, so a compiled flex_attention does not recompile per mask.
    lo = torch.zeros((), dtype=torch.int64, device=device)
    hi = torch.zeros((), dtype=torch.int64, device=device)

    def band_mod(b, h, q_idx, kv_idx):
        d = kv_idx - q_idx
        return (d >= lo) & (d <= hi)

    aux = getattr(flex_mod, "AuxRequest", None)

    def flex(attn):
        def run(case, backward):
            p = case.problem
            q, k, v, do = inputs(case, backward)
            block = None
            if p.mask != "none":
                lo.fill_(p.band[0])
                hi.fill_(p.band[1])
                block = flex_mod.create_block_mask(band_mod, None, None, p.seqlen_q, p.seqlen_k, device=device)
            # enable_gqa always (a group of 1 is allowed): a compiled call does not recompile on it.
            kw = {"block_mask": block, "scale": p.scale, "enable_gqa": True}
            try:
                if not flex_lse:
                    out = {"o": attn(q, k, v, **kw)}
                elif aux is not None:
                    o, a = attn(q, k, v, return_aux=aux(lse=True), **kw)
                    out = {"o": o, "lse": a.lse.detach()}
                else:
                    o, lse = attn(q, k, v, return_lse=True, **kw)
                    out = {"o": o, "lse": lse.detach()}
                if backward:
                    grads(out, q, k, v, do)
            except (RuntimeError, ValueError, NotImplementedError, AssertionError) as e:
                if "CUDA error" in str(e) or "illegal" in str(e):
                    raise
                raise Refusal(f"raised {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
            return out
        return run

    dyn = torch._dynamo.config
    for name in ("cache_size_limit", "recompile_limit", "accumulated_cache_size_limit",
                 "accumulated_recompile_limit"):
        if hasattr(dyn, name):
            setattr(dyn, name, 4096)
    if hasattr(dyn, "fail_on_recompile_limit_hit"):
        dyn.fail_on_recompile_limit_hit = True  # never fall back to eager silently
    compiled = torch.compile(flex_mod.flex_attention, dynamic=True)
    B = SDPBackend
    return {"sdpa_math": sdpa(B.MATH), "sdpa_flash": sdpa(B.FLASH_ATTENTION),
            "sdpa_efficient": sdpa(B.EFFICIENT_ATTENTION), "sdpa_cudnn": sdpa(B.CUDNN_ATTENTION),
            "flex_eager": flex(flex_mod.flex_attention), "flex_compiled": flex(compiled)}


# --- the searches and the report ------------------------------------------------------------

def failing_tensors(verdict):
    bad = [t for t in verdict.tensors if not t.passed]
    names = ",".join(t.name for t in bad)
    worst = "; ".join(t.reason for t in bad)
    return names, worst


def run_check(name, client, backward, mask, a, deadline, out_dir):
    tally = Tally()
    row = {"client": name, "direction": "bwd" if backward else "fwd", "mask": mask,
           "dtypes": "/".join(a["dtypes"]), "head_dims": "/".join(map(str, a["head_dims"])) or "any",
           "max_seqlen": a["max_seqlen"], "cases_asked": a["cases"]}
    repro = os.path.join(out_dir, "cases", f"{name}-{row['direction']}-{mask}")
    t0 = time.monotonic()
    try:
        r = flashcheck.check(searched(client, backward, tally, deadline), backward=backward,
                             dtypes=a["dtypes"], masks=(mask,), max_seqlen=a["max_seqlen"],
                             max_head_dim=a["max_head_dim"], head_dims=a["head_dims"], cases=a["cases"],
                             seed=a["seed"], repro_dir=repro, quiet=True)
        n = r.cases_run
        row.update(cases_run=n, shrink_calls=r.shrink_calls)
        skipped = sum(1 for c in tally.skipped_at if c <= n)
        if r.passed:
            judged = n - skipped - sum(1 for c in tally.refused_at if c <= n)
            row["status"] = ("stopped: time slice spent" if skipped else
                             "passed" if judged > 0 else "all refused")
        else:
            replay = r.replay
            if tally.skipped_at:  # the final call got the oracle's outputs: save the client's own
                outputs = client(r.case, backward)
                flashcheck.cases.save_outputs(os.path.join(repro, "case_000"), outputs)
                given = ",".join(k for k in ("o", "lse", "dq", "dk", "dv") if outputs.get(k) is not None)
                replay = f"python -m flashcheck verify {repro} --outputs {given}"
            v = r.values
            names, worst = failing_tensors(r.verdict)
            row.update(status="COUNTEREXAMPLE" + (" (shrinking cut by the time slice)" if tally.skipped_at else ""),
                       counterexample=r.counterexample.describe(), values=f"{v.kind} seed={v.seed}",
                       failing=names, worst=worst, replay=replay.split("   #")[0].replace(os.path.abspath(out_dir), "OUT"))
    except Exception as e:  # a crash of the implementation: neither a pass nor a counterexample
        n = tally.calls
        skipped = len(tally.skipped_at)
        row.update(status=f"error: {type(e).__name__}: {normalise(e)}", cases_run=n)
    row["refused_search"] = sum(1 for c in tally.refused_at if c <= n)
    row["refused_shrink"] = len(tally.refused_at) - row["refused_search"]
    row["judged"] = n - row["refused_search"] - skipped - (1 if row["status"].startswith("error") and n else 0)
    row["skipped"] = skipped
    row["seconds"] = f"{time.monotonic() - t0:.1f}"
    return row, {(name, r_): c for r_, c in tally.reasons.items()}


def write_csv(path, fields, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in fields})


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def render(out_dir):
    """OUT/README.md from OUT/meta.csv, results.csv and refusals.csv (nothing typed by hand)."""
    meta = {r["key"]: r["value"] for r in read_csv(os.path.join(out_dir, "meta.csv"))}
    rows = read_csv(os.path.join(out_dir, "results.csv"))
    refusals = read_csv(os.path.join(out_dir, "refusals.csv"))
    L = ["# flashcheck.check on PyTorch SDPA and FlexAttention", "",
         "<!-- Generated by scripts/python_clients.py from the CSV files beside it; do not edit. -->",
         f"Device: {meta['device']}. Date: {meta['date']}. torch {meta['torch']}, Python {meta['python']}, "
         f"flashcheck commit {meta['commit']}.", "",
         f"Command: `{meta['command']}` ({meta['seconds']} s). Each row is one `flashcheck.check` search "
         "(RapidCheck generation and shrinking, float64 oracle, the one accuracy rule) over the given "
         "dtypes, one mask, seed " + meta["seed"] + ". SDPA is judged on O (and dQ, dK, dV backward, the "
         "gradients of <dO, O>); FlexAttention " + ("also on its LSE" if meta.get("flex_lse") == "yes" else
                                                 "on O (and gradients) only, its LSE not asked for") +
         ". Masks: `is_causal` (top-left), "
         "`causal_lower_right` (bottom-right), a boolean `attn_mask` from `Problem.band` (window); Flex "
         "gets one band `mask_mod`. A refused case (the backend declined it) is neither a pass nor a "
         "counterexample: judged = run - refused - skipped (skipped: cases after the client's time slice "
         "was spent, also neither).", "",
         "| client | dir | mask | dtypes | head dims | max N | run | judged | refused | skipped | status |",
         "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        L.append(f"| {r['client']} | {r['direction']} | {r['mask']} | {r['dtypes']} | {r['head_dims']} | "
                 f"{r['max_seqlen']} | {r['cases_run']} | {r['judged']} | {r['refused_search']} | {r['skipped'] or 0} | {r['status']} |")
    tot = {k: sum(int(r[k] or 0) for r in rows) for k in ("cases_run", "judged", "refused_search")}
    cx = [r for r in rows if r["status"] == "COUNTEREXAMPLE"]
    L += ["", f"Total: {len(rows)} searches, {tot['cases_run']} cases run, {tot['judged']} judged, "
          f"{tot['refused_search']} refused; {len(cx)} counterexamples.", "", "## Counterexamples (shrunk)", ""]
    if not cx:
        L.append("None.")
    for r in cx:
        L += [f"- **{r['client']} {r['direction']} {r['mask']}** after {r['cases_run']} cases, shrunk in "
              f"{r['shrink_calls']} calls: `{r['counterexample']}` values {r['values']}; failing: {r['failing']}.",
              f"  {r['worst']}", f"  Replay (OUT = this folder): `{r['replay']}`"]
    L += ["", "## Refusals", "", "Reasons as the backend gave them (numbers blanked), over search and "
          "shrinking calls.", "", "| client | count | reason |", "|---|---|---|"]
    for r in refusals:
        L.append(f"| {r['client']} | {r['count']} | {r['reason'].replace('|', '/')} |")
    if not refusals:
        L.append("| - | 0 | none |")
    L += ["", meta.get("notes", ""), ""]
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write("\n".join(L))


DEFAULTS = {  # per client: search sizes chosen so the whole run stays within ~4 minutes on an H200
    "sdpa": {"cases": 150, "max_seqlen": 256, "head_dims": ()},
    "flex_eager": {"cases": 100, "max_seqlen": 256, "head_dims": ()},
    # Compiles per dtype, head dim and graph (no mask / band, fwd / bwd): one dtype, one head dim.
    "flex_compiled": {"cases": 20, "max_seqlen": 256, "head_dims": (64,), "dtypes": ("bf16",)},
    "numpy": {"cases": 30, "max_seqlen": 64, "head_dims": ()},
}
SLICE = 0.1  # the most of the budget a client may take; the last client gets what is left


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--standin", action="store_true", help="NumPy stand-ins instead of torch (no GPU)")
    ap.add_argument("--clients", default="", help="comma list (default: all)")
    ap.add_argument("--masks", default=",".join(MASKS))
    ap.add_argument("--directions", default="fwd,bwd")
    ap.add_argument("--dtypes", default="bf16,f16")
    ap.add_argument("--cases", type=int, default=0, help="override every client's case count")
    ap.add_argument("--max-seqlen", type=int, default=0)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--budget-s", type=float, default=200.0,
                    help="time for all searches: each client at most a tenth, the last what is left")
    ap.add_argument("--device", default="")
    ap.add_argument("--commit", default="")
    ap.add_argument("--no-flex-lse", action="store_true",
                    help="judge Flex on O only (torch.compile on CPU has no LSE)")
    a = ap.parse_args(argv)
    # Said once per call otherwise; what they warn of is what the searches judge.
    warnings.filterwarnings("ignore", message="Lower right causal bias will produce NaNs")
    warnings.filterwarnings("ignore", message="flex_attention called without torch.compile")
    t_start = time.monotonic()
    out = os.path.abspath(a.out)
    shutil.rmtree(os.path.join(out, "cases"), ignore_errors=True)
    os.makedirs(out, exist_ok=True)
    notes = []
    if a.standin:
        clients, device_name, torch_version = standin_clients(), "CPU stand-in (NumPy, no torch)", "none"
        directions = ["fwd"]
        notes.append("Stand-in run: NumPy clients, forward only (a test of this script, not of PyTorch).")
    else:
        import torch
        dev = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
        clients = torch_clients(dev, flex_lse=not a.no_flex_lse)
        device_name = (torch.cuda.get_device_name() if dev.startswith("cuda")
                       else f"CPU ({platform.machine()}, {os.cpu_count()} cores; no GPU)")
        torch_version = torch.__version__
        directions = a.directions.split(",")
        notes.append("FlexAttention compiled: `torch.compile(flex_attention, dynamic=True)`, recompile "
                     "limit raised and fail_on_recompile_limit_hit set, so no case silently runs eager; "
                     "bf16 and head dim 64 only (each dtype and head dim is a new compile). "
                     "SDPA's LSE is not public, so only O and gradients are judged there.")
    if a.clients:
        clients = {k: clients[k] for k in a.clients.split(",")}
    masks = a.masks.split(",")
    dtypes = tuple(a.dtypes.split(","))
    budget = a.budget_s
    rows, reasons = [], {}
    for name, client in clients.items():
        d = dict(DEFAULTS["numpy" if a.standin else ("sdpa" if name.startswith("sdpa") else name)])
        if a.cases:
            d["cases"] = a.cases
        if a.max_seqlen:
            d["max_seqlen"] = a.max_seqlen
        d.setdefault("dtypes", dtypes)
        d.update(seed=a.seed, max_head_dim=128)
        last = name == list(clients)[-1]
        deadline = t_start + budget if last else min(t_start + budget, time.monotonic() + budget * SLICE)
        for direction in directions:
            for mask in masks:
                if time.monotonic() > deadline:
                    rows.append({"client": name, "direction": direction, "mask": mask, "dtypes": "/".join(d["dtypes"]),
                                 "cases_asked": d["cases"], "status": "not run: time slice spent",
                                 "cases_run": 0, "judged": 0, "refused_search": 0, "refused_shrink": 0,
                                 "skipped": 0})
                    continue
                row, rs = run_check(name, client, direction == "bwd", mask, d, deadline, out)
                rows.append(row)
                for k, c in rs.items():
                    reasons[k] = reasons.get(k, 0) + c
                print(f"{name:16s} {direction} {mask:20s} run {row['cases_run']:>3} judged {row['judged']:>3} "
                      f"refused {row['refused_search']:>3} {row['seconds']:>6}s  {row['status']}"
                      + (f"  {row['counterexample']}" if row.get("counterexample") else ""), flush=True)
    if not a.standin and "flex_compiled" in clients:
        from torch._dynamo.utils import counters
        notes.append(f"Graphs compiled by torch.compile in this run: {counters['stats']['unique_graphs']}.")
    if a.no_flex_lse:
        notes.append("Flex LSE not judged (--no-flex-lse).")
    write_csv(os.path.join(out, "results.csv"), FIELDS, rows)
    write_csv(os.path.join(out, "refusals.csv"), ("client", "count", "reason"),
              [{"client": c, "count": n, "reason": r} for (c, r), n in sorted(reasons.items())])
    meta = {"device": device_name, "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "torch": torch_version, "python": platform.python_version(), "commit": a.commit[:7] or "unknown",
            "seed": str(a.seed), "seconds": f"{time.monotonic() - t_start:.0f}",
            "command": "python3 scripts/python_clients.py " + " ".join(
                x if not x.startswith("/") else "OUT" for x in (argv if argv is not None else sys.argv[1:])),
            "flex_lse": "no" if a.standin or a.no_flex_lse else "yes", "notes": " ".join(notes)}
    write_csv(os.path.join(out, "meta.csv"), ("key", "value"), [{"key": k, "value": v} for k, v in meta.items()])
    render(out)
    n_cx = sum(1 for r in rows if r["status"] == "COUNTEREXAMPLE")
    print(f"{len(rows)} searches, {sum(int(r['cases_run']) for r in rows)} cases run, {n_cx} counterexamples; "
          f"{out}/README.md", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
