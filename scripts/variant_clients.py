#!/usr/bin/env python3
"""Real attention clients on `flashcheck check gen --variants` suites (issue 13 item 6).

For a GPU machine with PyTorch. Two clients:

  flex         torch.compile'd FlexAttention: softcap, ALiBi and the bias tensor as
               score_mod, the band masks and the boolean mask as mask_mod (a
               BlockMask), varlen as a document mask over the packed batch, paged
               K/V gathered through the block table (autograd scatters dK, dV back
               to the pages), sinks through the returned LSE
               (O * exp(LSE - logaddexp(LSE, sink))). Dropout after normalisation
               is not a score_mod: those cases are skipped with the reason.
               Writes o, lse, dq, dk, dv (and dbias, dsinks).
               When Triton finds no config that fits shared memory at the
               default tiles, the case is retried with smaller ones
               (FLEX_KERNEL_OPTIONS; the status names the options used).
  sdpa_varlen  PyTorch's varlen path: nested jagged tensors through
               F.scaled_dot_product_attention (mask none or is_causal; other
               variants skipped). Writes o, dq, dk, dv (SDPA returns no LSE).
  njt_causal[_flash|_efficient|_math]
               the same with is_causal=True on every causal case, whichever
               alignment problem.json names (default backend, or one forced
               through sdpa_kernel): with --also CLIENT=SUITE2 (same inputs,
               other alignment; scripts/njt_suites.py writes both) the outputs
               are judged against both references, so the report says which
               convention is_causal follows on jagged inputs, measured.

Outputs go to OUT/<client>/case_NNN/*.npy (or skip.txt with the reason, which
`check verify` reports as skipped, never as passed). With --flashcheck BIN each
client is then judged by `BIN check verify SUITE --candidate OUT/<client>`
(text and JSON kept), and OUT/README.md summarises it with the torch version,
device, date and command.

Usage: python scripts/variant_clients.py --suite flex=S1 --suite sdpa_varlen=S2 \
           [--suite njt_causal=TL --also njt_causal=BR] --out OUT \
           [--flashcheck BIN] [--time-limit SECONDS] [--commit SHA]
"""
import argparse
import datetime
import functools
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

TORCH_DTYPE = {"f16": torch.float16, "bf16": torch.bfloat16, "f32": torch.float32, "f64": torch.float64}
OUTPUTS = {"flex": "o,lse,dq,dk,dv,dbias,dsinks", "sdpa_varlen": "o,dq,dk,dv"}
NJT_BACKENDS = {"njt_causal": None, "njt_causal_flash": "FLASH_ATTENTION",
                "njt_causal_efficient": "EFFICIENT_ATTENTION", "njt_causal_math": "MATH"}
OUTPUTS.update({c: "o,dq,dk,dv" for c in NJT_BACKENDS})
# FlexAttention tiles tried in turn when Triton has no config within shared memory
# (the H200's 227 KiB: the mask and bias cases at the default tiles). The backward
# needs BLOCK_N1 % BLOCK_M1 == 0 and BLOCK_M2 % BLOCK_N2 == 0; all divide the
# BlockMask's 128.
FLEX_KERNEL_OPTIONS = [
    None,
    {"BLOCK_M": 64, "BLOCK_N": 32, "num_stages": 1, "BLOCK_M1": 32, "BLOCK_N1": 64, "BLOCK_M2": 64, "BLOCK_N2": 32},
    {"BLOCK_M": 32, "BLOCK_N": 32, "num_stages": 1, "num_warps": 4,
     "BLOCK_M1": 16, "BLOCK_N1": 32, "BLOCK_M2": 32, "BLOCK_N2": 16},
]


class Skip(Exception):
    """The client cannot express this case; the message says why."""


def load(path, dtype, device):
    a = np.load(path)
    if dtype == "bf16":
        return torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16).to(device)
    return torch.from_numpy(a).to(TORCH_DTYPE[dtype]).to(device)


def save(path, t, dtype):
    t = t.detach().cpu().contiguous()
    if dtype == "bf16" and t.dtype == torch.bfloat16:
        np.save(path, t.view(torch.int16).numpy().view(np.uint16))
    else:
        np.save(path, t.numpy())


def read_case(case_dir, device):
    p = json.load(open(os.path.join(case_dir, "problem.json")))
    dt = p["dtype"]
    t = {n: load(os.path.join(case_dir, n + ".npy"), dt, device) for n in ("q", "k", "v", "do")}
    ex = {}
    for field, name in p.get("extras", {}).items():
        a = np.load(os.path.join(case_dir, name))
        ex[field] = torch.from_numpy(a.astype(np.float32) if a.dtype.kind == "f" else a.astype(np.int64)).to(device)
    return p, t, ex


def band(kind, wl, wr, qi, ki, nq, nk):
    """The mask kinds of problem.json as tensor expressions (bottom-right alignment off = nk - nq)."""
    if kind == "none":
        return qi >= 0
    if kind == "causal_top_left":
        return ki <= qi
    off = nk - nq
    if kind == "causal_bottom_right":
        return ki <= qi + off
    return (ki >= qi + off - wl) & (ki <= qi + off + wr)


# ---- FlexAttention ----------------------------------------------------------

_flex = None


def flex_fn():
    global _flex
    if _flex is None:
        from torch.nn.attention.flex_attention import flex_attention
        import torch._dynamo
        for knob in ("cache_size_limit", "recompile_limit", "accumulated_cache_size_limit",
                     "accumulated_recompile_limit"):
            if hasattr(torch._dynamo.config, knob):
                setattr(torch._dynamo.config, knob, 4096)  # every case has its own shapes
        _flex = torch.compile(flex_attention, dynamic=False)
    return _flex


def flex_with_lse(q, k, v, score_mod, block_mask, scale, gqa, kernel_options):
    f = flex_fn()
    kw = {"kernel_options": kernel_options} if kernel_options else {}
    try:
        from torch.nn.attention.flex_attention import AuxRequest
        o, aux = f(q, k, v, score_mod=score_mod, block_mask=block_mask, scale=scale, enable_gqa=gqa,
                   return_aux=AuxRequest(lse=True), **kw)
        return o, aux.lse
    except ImportError:
        return f(q, k, v, score_mod=score_mod, block_mask=block_mask, scale=scale, enable_gqa=gqa, return_lse=True,
                 **kw)


def out_of_shared_memory(e):
    m = str(e)
    return "out of resource" in m or "No valid triton configs" in m


def run_flex(p, t, ex, device):
    """run_flex_once at the default tiles, then at each smaller FLEX_KERNEL_OPTIONS entry."""
    for i, opts in enumerate(FLEX_KERNEL_OPTIONS):
        try:
            out = run_flex_once(p, t, ex, device, opts)
        except Exception as e:
            if not out_of_shared_memory(e) or i + 1 == len(FLEX_KERNEL_OPTIONS):
                raise
            continue
        if opts:
            out["__note__"] = "kernel_options " + json.dumps(opts, separators=(",", ":"))
        return out


def run_flex_once(p, t, ex, device, kernel_options):
    from torch.nn.attention.flex_attention import create_block_mask
    v = p.get("variants", {})
    if "dropout_p" in v:
        raise Skip("dropout after normalisation (P * keep / (1 - p)) is not expressible as a score_mod")
    B, Hq, Hkv, Nq, Nk = p["batch"], p["heads_q"], p["heads_kv"], p["seqlen_q"], p["seqlen_k"]
    m = p["mask"]
    kind, wl, wr = m["kind"], m["window_left"], m["window_right"]
    q = t["q"].detach().clone().requires_grad_(True)
    k = t["k"].detach().clone().requires_grad_(True)
    val = t["v"].detach().clone().requires_grad_(True)
    bias = ex["bias"].clone().requires_grad_(True) if v.get("bias") else None
    sinks = ex["sinks"].clone().requires_grad_(True) if v.get("sinks") else None
    slopes = ex.get("alibi_slopes")
    bmask = ex.get("mask")
    cap = v.get("softcap")
    if v.get("varlen"):
        cq, ck = ex["cu_seqlens_q"], ex["cu_seqlens_k"]
        tq, tk = int(cq[-1]), int(ck[-1])
        if tq == 0 or tk == 0:
            raise Skip("every sequence of the packed batch is empty")
        doc_q = torch.searchsorted(cq[1:], torch.arange(tq, device=device), right=True)
        doc_k = torch.searchsorted(ck[1:], torch.arange(tk, device=device), right=True)
        nq_of, nk_of = cq[1:] - cq[:-1], ck[1:] - ck[:-1]

        def local(b, q_idx, kv_idx):  # (sequence, local q, local k, nq, nk) of a packed pair
            d = doc_q[q_idx]
            return d, q_idx - cq[d], kv_idx - ck[d], nq_of[d], nk_of[d]
        Bf, Qlen, Klen = 1, tq, tk
        kk, vv = k, val
    else:
        def local(b, q_idx, kv_idx):
            return b, q_idx, kv_idx, Nq, Nk
        Bf, Qlen, Klen = B, Nq, Nk
        if "page_size" in v:  # gather the pages: [B][pages][Hkv][ps][d] -> [B][Hkv][Nk][d]
            bt, ps = ex["block_table"], v["page_size"]
            g = k[bt]
            kk = g.permute(0, 2, 1, 3, 4).reshape(B, Hkv, -1, p["head_dim"])[:, :, :Nk]
            vv = val[bt].permute(0, 2, 1, 3, 4).reshape(B, Hkv, -1, p["head_dim"])[:, :, :Nk]
        else:
            kk, vv = k, val

    def mask_mod(b, h, q_idx, kv_idx):
        d, qi, ki, nq, nk = local(b, q_idx, kv_idx)
        ok = band(kind, wl, wr, qi, ki, nq, nk)
        if v.get("varlen"):
            ok = ok & (doc_k[kv_idx] == d)
        if bmask is not None:
            ok = ok & (bmask[d, h, qi.clamp(0, Nq - 1), ki.clamp(0, Nk - 1)] != 0)
        return ok

    def score_mod(score, b, h, q_idx, kv_idx):
        d, qi, ki, nq, nk = local(b, q_idx, kv_idx)
        if cap is not None:
            score = cap * torch.tanh(score / cap)
        if slopes is not None:
            score = score - slopes[h] * torch.abs(qi + nk - nq - ki)
        if bias is not None:
            score = score + bias[d, h, qi.clamp(0, Nq - 1), ki.clamp(0, Nk - 1)]
        return score

    block_mask = create_block_mask(mask_mod, Bf, Hq, Qlen, Klen, device=device)
    o, lse = flex_with_lse(q, kk, vv, score_mod, block_mask, p["scale"], Hq != Hkv, kernel_options)
    if sinks is not None:  # the sink logit joins the denominator: rescale O, LSE
        total = torch.logaddexp(lse, sinks.view(1, Hq, 1))
        o = o * torch.exp(lse - total).unsqueeze(-1).to(o.dtype)
        lse = total
    o.backward(t["do"])
    out = {"o": o, "lse": lse.float(), "dq": q.grad, "dk": k.grad, "dv": val.grad}
    if bias is not None:
        out["dbias"] = bias.grad
    if sinks is not None:
        out["dsinks"] = sinks.grad
    return out


# ---- PyTorch varlen: nested jagged tensors through SDPA ---------------------

def run_sdpa_varlen(p, t, ex, device, causal_only=False, backend=None):
    """causal_only: is_causal=True on a causal case of either alignment (the convention
    suites); backend: an SDPBackend name forced through sdpa_kernel."""
    v = p.get("variants", {})
    if set(v) != {"varlen"}:
        raise Skip("SDPA's jagged path has no " + ",".join(sorted(set(v) - {"varlen"})))
    kind = p["mask"]["kind"]
    if causal_only:
        if kind not in ("causal_top_left", "causal_bottom_right"):
            raise Skip(f"the is_causal convention client runs causal cases only, not {kind}")
    elif kind not in ("none", "causal_top_left"):
        raise Skip(f"SDPA's jagged path takes is_causal (top-left) only, not {kind}")
    Hq, Hkv = p["heads_q"], p["heads_kv"]
    cq, ck = ex["cu_seqlens_q"], ex["cu_seqlens_k"]
    if bool(((cq[1:] - cq[:-1]) == 0).any()) or bool(((ck[1:] - ck[:-1]) == 0).any()):
        raise Skip("a sequence of length 0 (nested tensors have no empty components here)")
    qv = t["q"][0].transpose(0, 1).contiguous().requires_grad_(True)  # [total][Hq][d]
    kv = t["k"][0].transpose(0, 1).contiguous().requires_grad_(True)
    vv = t["v"][0].transpose(0, 1).contiguous().requires_grad_(True)
    g = Hq // Hkv
    kx, vx = (kv.repeat_interleave(g, dim=1), vv.repeat_interleave(g, dim=1)) if g > 1 else (kv, vv)
    nt = torch.nested.nested_tensor_from_jagged
    qn = nt(qv, cq).transpose(1, 2)
    kn = nt(kx, ck).transpose(1, 2)
    vn = nt(vx, ck).transpose(1, 2)
    import contextlib
    from torch.nn.attention import SDPBackend, sdpa_kernel
    with sdpa_kernel(getattr(SDPBackend, backend)) if backend else contextlib.nullcontext():
        on = F.scaled_dot_product_attention(qn, kn, vn, scale=p["scale"], is_causal=kind != "none")
        ov = on.transpose(1, 2).values()  # [total][Hq][d]
        ov.backward(t["do"][0].transpose(0, 1))
    tr = lambda x: x.transpose(0, 1).unsqueeze(0)
    return {"o": tr(ov), "dq": tr(qv.grad), "dk": tr(kv.grad), "dv": tr(vv.grad)}


CLIENTS = {"flex": run_flex, "sdpa_varlen": run_sdpa_varlen}
CLIENTS.update({c: functools.partial(run_sdpa_varlen, causal_only=True, backend=b) for c, b in NJT_BACKENDS.items()})


def run_suite(client, suite, out_root, device, deadline, log):
    rows = []
    for name in sorted(os.listdir(suite)):
        case = os.path.join(suite, name)
        if not os.path.isfile(os.path.join(case, "problem.json")):
            continue
        out = os.path.join(out_root, client, name)
        os.makedirs(out, exist_ok=True)
        t0 = time.time()
        status = "ran"
        try:
            if time.time() > deadline:
                raise Skip("not run: the script's --time-limit was reached")
            p, t, ex = read_case(case, device)
            res = CLIENTS[client](p, t, ex, device)
            torch.cuda.synchronize()
            if "__note__" in res:
                status += " with " + res.pop("__note__")
            for n, x in res.items():
                save(os.path.join(out, n + ".npy"), x, p["dtype"])
        except Skip as e:
            status = "skip: " + str(e)
        except Exception as e:  # the client failed on the case: recorded, judged as skipped with the error
            status = f"error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
        if not status.startswith("ran"):
            with open(os.path.join(out, "skip.txt"), "w") as f:
                f.write(status + "\n")
        rows.append({"case": name, "status": status, "seconds": round(time.time() - t0, 2)})
        print(f"{client} {name}: {status} ({rows[-1]['seconds']} s)", file=log, flush=True)
    return rows


def same_inputs(suite_a, suite_b, case):
    """True when the case's input files (q, k, v, do and the extras) are byte-identical."""
    pa = json.load(open(os.path.join(suite_a, case, "problem.json")))
    names = ["q.npy", "k.npy", "v.npy", "do.npy"] + sorted(pa.get("extras", {}).values())
    for n in names:
        fa, fb = os.path.join(suite_a, case, n), os.path.join(suite_b, case, n)
        if not os.path.isfile(fb) or open(fa, "rb").read() != open(fb, "rb").read():
            return False
    return True


def judge(flashcheck, suite, candidate, outputs, stem):
    """`check verify` in text and JSON, both kept as STEM.txt / STEM.json."""
    cmd = [flashcheck, "check", "verify", suite, "--candidate", candidate, "--outputs", outputs]
    text = subprocess.run(cmd, capture_output=True, text=True)
    js = subprocess.run(cmd + ["--format", "json"], capture_output=True, text=True)
    open(stem + ".txt", "w").write(text.stdout + text.stderr)
    open(stem + ".json", "w").write(js.stdout)
    print(text.stdout + text.stderr)
    return {"verify_command": " ".join(cmd), "verify_exit": text.returncode,
            "verify_summary": (text.stdout.strip().splitlines() or [""])[-1]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", action="append", required=True,
                    help="CLIENT=SUITE_DIR (clients: " + ", ".join(CLIENTS) + ")")
    ap.add_argument("--also", action="append", default=[],
                    help="CLIENT=SUITE_DIR: judge CLIENT's outputs against this suite too (same inputs required)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--flashcheck", help="the flashcheck binary: judge each client with check verify")
    ap.add_argument("--time-limit", type=float, default=1e9, help="seconds; later cases are skipped (said so)")
    ap.add_argument("--commit", default="", help="the flashcheck commit, for the report")
    a = ap.parse_args()
    also = dict(x.split("=", 1) for x in a.also)
    device = "cuda"
    if not torch.cuda.is_available():
        sys.exit("variant_clients.py: no CUDA device")
    deadline = time.time() + a.time_limit
    os.makedirs(a.out, exist_ok=True)
    meta = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": torch.cuda.get_device_name(0),
            "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": a.commit, "command": " ".join(["python", "scripts/variant_clients.py"] + sys.argv[1:]),
            "clients": {}}
    for spec in a.suite:
        client, suite = spec.split("=", 1)
        if client not in CLIENTS:
            sys.exit(f"--suite {spec}: unknown client {client!r} (expected {', '.join(CLIENTS)})")
        rows = run_suite(client, suite, a.out, device, deadline, sys.stdout)
        entry = {"suite": suite, "outputs": OUTPUTS[client], "cases": rows}
        if a.flashcheck:
            cand = os.path.join(a.out, client)
            entry.update(judge(a.flashcheck, suite, cand, OUTPUTS[client], os.path.join(a.out, client + "_verify")))
            if client in also:
                bad = [r["case"] for r in rows if not same_inputs(suite, also[client], r["case"])]
                if bad:
                    sys.exit(f"--also {client}={also[client]}: inputs differ from {suite} in {', '.join(bad)}")
                entry["also"] = {"suite": also[client]}
                entry["also"].update(judge(a.flashcheck, also[client], cand, OUTPUTS[client],
                                           os.path.join(a.out, client + "_verify_also")))
        meta["clients"][client] = entry
    json.dump(meta, open(os.path.join(a.out, "meta.json"), "w"), indent=2)
    write_report(a.out, meta)


def verdicts_of(path):
    """case -> (status, problem, failing outputs) from a `check verify --format json` file."""
    out = {}
    if os.path.exists(path) and os.path.getsize(path):
        try:
            for c in json.load(open(path)).get("cases", []):
                bad = [x["name"] for x in c.get("tensors", []) if not x["pass"]] + \
                      [m + "(missing)" for m in c.get("missing", [])]
                out[c["case"]] = (c["status"], c.get("problem", ""), " ".join(bad))
        except ValueError:
            pass
    return out


def seq_lengths(suite, case):
    """'Nq/Nk' per sequence of a varlen case, from its cu_seqlens files."""
    d = os.path.join(suite, case)
    try:
        cq, ck = (np.load(os.path.join(d, f"cu_seqlens_{s}.npy")).astype(np.int64) for s in "qk")
    except OSError:
        return ""
    return " ".join(f"{a}/{b}" for a, b in zip(np.diff(cq), np.diff(ck)))


def mask_of(suite):
    """The one mask kind of a suite's cases, or 'mixed'."""
    kinds = {json.load(open(os.path.join(suite, c, "problem.json")))["mask"]["kind"]
             for c in sorted(os.listdir(suite)) if os.path.isfile(os.path.join(suite, c, "problem.json"))}
    return kinds.pop() if len(kinds) == 1 else "mixed"


def convention_lines(e, main_v, also_v):
    """Which reference is_causal's outputs pass, counted over the cases that ran."""
    ran = [r["case"] for r in e["cases"] if r["status"].startswith("ran")]
    if not ran:
        return ["No case ran: no convention measured."]
    ka, kb = mask_of(e["suite"]), mask_of(e["also"]["suite"])
    pa = [c for c in ran if main_v.get(c, ("",))[0] == "pass"]
    pb = [c for c in ran if also_v.get(c, ("",))[0] == "pass"]
    lines = [f"is_causal=True outputs pass the `{ka}` reference on {len(pa)}/{len(ran)} cases run and the "
             f"`{kb}` reference on {len(pb)}/{len(ran)}."]
    for k, passed, other, opassed in ((ka, pa, kb, pb), (kb, pb, ka, pa)):
        if len(passed) == len(ran) and len(opassed) < len(ran):
            fails = [c for c in ran if c not in opassed]
            lines.append(f"**Measured convention: {k}.** Counterexamples to {other}: {', '.join(fails)}.")
    if len(pa) < len(ran) and len(pb) < len(ran):
        lines.append("**Neither convention holds on every case.**")
    return lines


def write_report(out, meta):
    lines = ["# Real variant clients judged by `flashcheck check verify`", "",
             "<!-- Generated by scripts/variant_clients.py; do not edit. -->",
             f"Torch {meta['torch']} (CUDA {meta['cuda']}) on {meta['device']}, {meta['date_utc']}"
             + (f", flashcheck commit {meta['commit']}" if meta.get("commit") else "") + ".", "",
             f"Command: `{meta['command']}`", ""]
    for client, e in meta["clients"].items():
        lines += [f"## {client}", "", f"Suite `{e['suite']}`, outputs judged: {e['outputs']}."]
        if "verify_command" in e:
            lines += ["", f"`{e['verify_command']}` exit {e['verify_exit']}: **{e['verify_summary']}**"]
        v = verdicts_of(os.path.join(out, client + "_verify.json"))
        if "also" in e:
            x = e["also"]
            va = verdicts_of(os.path.join(out, client + "_verify_also.json"))
            lines += ["", f"`{x['verify_command']}` exit {x['verify_exit']}: **{x['verify_summary']}**", ""]
            lines += convention_lines(e, v, va)
            ka, kb = mask_of(e["suite"]), mask_of(x["suite"])
            lines += ["", f"| case | problem | Nq/Nk per sequence | client | vs {ka} | failing | vs {kb} | failing |",
                      "|---|---|---|---|---|---|---|---|"]
            for r in e["cases"]:
                st, prob, bad = v.get(r["case"], ("-", "", ""))
                sb, _, badb = va.get(r["case"], ("-", "", ""))
                lines.append(f"| {r['case']} | {prob} | {seq_lengths(e['suite'], r['case'])} | "
                             f"{r['status'].replace('|', '/')} ({r['seconds']} s) | {st} | {bad} | {sb} | {badb} |")
        else:
            lines += ["", "| case | problem | client | verdict | failing |", "|---|---|---|---|---|"]
            for r in e["cases"]:
                st, prob, bad = v.get(r["case"], ("-", "", ""))
                lines.append(f"| {r['case']} | {prob} | {r['status'].replace('|', '/')} ({r['seconds']} s) | {st} | {bad} |")
        lines.append("")
    open(os.path.join(out, "README.md"), "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
