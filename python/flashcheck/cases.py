"""Case folders (the format of `flashcheck check gen` / `check verify`,
cases/case_files.hpp): generate a suite, load a case, save a candidate's
outputs, verify. bf16 tensors are stored as '<u2' raw bits on disk and are
ml_dtypes.bfloat16 arrays in Python."""

import json
import os

import ml_dtypes
import numpy as np

from . import _flashcheck
from ._arrays import numpy_dtype
from ._check import Case

_BF16 = np.dtype(ml_dtypes.bfloat16)


def generate(out_dir, *, seed=1, count=24, max_seqlen=300, max_head_dim=128, variants=()):
    """Writes `count` case folders under out_dir (= flashcheck check gen, with
    `variants` = --variants: names such as "softcap", "varlen", or "all");
    returns their paths."""
    if isinstance(variants, str):
        variants = [variants]
    _flashcheck._generate(os.fspath(out_dir), seed, count, max_seqlen, max_head_dim, list(variants))
    return sorted(os.path.join(out_dir, d) for d in os.listdir(out_dir)
                  if os.path.isfile(os.path.join(out_dir, d, "problem.json")))


def _problem_from_json(j):
    m = j["mask"]
    window = (m["window_left"], m["window_right"]) if m["kind"] == "sliding_window" else None
    return _flashcheck.Problem(batch=j["batch"], heads_q=j["heads_q"], heads_kv=j["heads_kv"],
                               seqlen_q=j["seqlen_q"], seqlen_k=j["seqlen_k"],
                               head_dim=j["head_dim"], dtype=j["dtype"], mask=m["kind"],
                               window=window, scale=j["scale"])


def _load(path, dtype_name):
    a = np.load(path)
    if a.dtype == np.uint16:  # bf16 bits
        if dtype_name != "bf16":
            raise ValueError(f"{path}: '<u2' (bf16 bits) in a {dtype_name} case")
        return a.view(_BF16)
    return a


def load_case(case_dir):
    """A Case (problem, q, k, v, do in the case's dtype) from a case folder."""
    path = os.path.join(case_dir, "problem.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"case_dir: {path} does not exist")
    with open(path) as f:
        j = json.load(f)
    p = _problem_from_json(j)
    arrays = [_load(os.path.join(case_dir, f"{n}.npy"), p.dtype) for n in ("q", "k", "v", "do")]
    extras = {}
    for name, file in j.get("extras", {}).items():
        path = os.path.join(case_dir, file)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"case_dir: {path} (extras.{name} of problem.json) does not exist")
        extras[name] = np.load(path)
    return Case(p, *arrays, variants=j.get("variants", {}), extras=extras)


def save_outputs(case_dir, outputs):
    """Writes a candidate's outputs ({'o', 'lse', 'dq', 'dk', 'dv'}, any subset)
    as .npy files in the case folder, for `check verify`. bf16 arrays are
    stored as '<u2' bits; torch tensors are accepted. Where the folder holds
    problem.json, each output is stored in the case's dtype (LSE in float32,
    float64 for f64 cases), as `check verify` requires."""
    dtype = None
    pj = os.path.join(case_dir, "problem.json")
    if os.path.exists(pj):
        with open(pj) as f:
            dtype = json.load(f).get("dtype")
    for name, x in outputs.items():
        if name not in ("o", "lse", "dq", "dk", "dv"):
            raise ValueError(f"outputs: unknown key {name!r} (expected o, lse, dq, dk, dv)")
        if x is None:
            continue
        if hasattr(x, "detach"):
            x = x.detach().cpu()
            x = x.float().numpy() if str(x.dtype) == "torch.bfloat16" else x.numpy()
        a = np.ascontiguousarray(np.asarray(x))
        if dtype is not None:
            want = "f32" if name == "lse" and dtype != "f64" else dtype
            a = np.ascontiguousarray(a.astype(numpy_dtype(want)))
        if a.dtype == _BF16:
            a = a.view(np.uint16)
        elif a.dtype not in (np.float64, np.float32, np.float16):
            a = a.astype(np.float64)
        np.save(os.path.join(case_dir, f"{name}.npy"), a)


def verify(suite_dir, candidate_dir="", outputs=None):
    """= flashcheck check verify [--outputs o,lse,...]: prints the per-tensor
    table; returns (passed, failed, skipped). outputs: the names required
    (default: every output the suite has a reference for)."""
    passed, failed, skipped, text = _flashcheck._verify(os.fspath(suite_dir), os.fspath(candidate_dir),
                                                        list(outputs or []))
    print(text, end="")
    return passed, failed, skipped
