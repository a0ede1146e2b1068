"""scripts/variant_clients.py and scripts/njt_suites.py without torch or a GPU.

The jagged convention verdict is driven end to end by the CLI binary
(FLASHCHECK_BIN, else build/cli/flashcheck; skipped when absent): a stand-in
client that returns one alignment's baseline outputs must be reported as that
convention, with every case a counterexample to the other. The FlexAttention
retry ladder is checked with a stand-in kernel that runs out of shared memory."""

import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("FLASHCHECK_BIN", ROOT / "build" / "cli" / "flashcheck"))


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def vc():
    """variant_clients with a torch stand-in: only the driver and report code run."""
    fake = types.ModuleType("torch")
    fake.__version__ = "stand-in"
    for n in ("float16", "bfloat16", "float32", "float64", "int16"):
        setattr(fake, n, object())  # distinct dtypes: the stand-in arrays are saved as they are
    fake.version = types.SimpleNamespace(cuda="none")
    fake.cuda = types.SimpleNamespace(is_available=lambda: True, get_device_name=lambda i: "CPU stand-in",
                                      synchronize=lambda: None)
    nn = types.ModuleType("torch.nn")
    nn.functional = types.ModuleType("torch.nn.functional")
    fake.nn = nn
    saved = {k: sys.modules.get(k) for k in ("torch", "torch.nn", "torch.nn.functional")}
    sys.modules.update({"torch": fake, "torch.nn": nn, "torch.nn.functional": nn.functional})
    try:
        yield load("variant_clients")
    finally:
        for k, m in saved.items():
            if m is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = m


class Arr:
    """What save() needs of a tensor."""

    def __init__(self, a):
        self.a, self.dtype = a, None

    def detach(self):
        return self

    cpu = contiguous = detach

    def numpy(self):
        return self.a


@pytest.fixture(scope="module")
def suites(tmp_path_factory):
    if not BIN.exists():
        pytest.skip(f"no flashcheck binary at {BIN}")
    out = tmp_path_factory.mktemp("njt")
    sys.argv = ["njt_suites.py", "--flashcheck", str(BIN), "--out", str(out)]
    load("njt_suites").main()
    return out


def test_suites_share_inputs_and_are_one_sided(vc, suites):
    cases = sorted(c for c in os.listdir(suites / "njt_tl") if c.startswith("case_"))
    assert len(cases) == 8
    for c in cases:
        assert vc.same_inputs(str(suites / "njt_tl"), str(suites / "njt_br"), c)
        assert vc.same_inputs(str(suites / "njt_tl"), str(suites / "njt_none"), c)
        nq, nk = (np.diff(np.load(suites / "njt_tl" / c / f"cu_seqlens_{s}.npy")) for s in "qk")
        assert (nq > 0).all() and (nk > 0).all() and ((nq < nk).all() or (nq > nk).all())
        for name, kind in (("njt_none", "none"), ("njt_tl", "causal_top_left"), ("njt_br", "causal_bottom_right")):
            assert json.load(open(suites / name / c / "problem.json"))["mask"]["kind"] == kind


@pytest.mark.parametrize("follows,expect,other", [("njt_br", "causal_bottom_right", "causal_top_left"),
                                                   ("njt_tl", "causal_top_left", "causal_bottom_right")])
def test_convention_is_measured(vc, suites, tmp_path, follows, expect, other):
    def client(p, t, ex, device):  # one alignment's baseline outputs stand in for is_causal
        base = suites / follows / p["case"] / "baseline"
        return {n: Arr(np.load(base / f"{n}.npy")) for n in ("o", "dq", "dk", "dv")}

    vc.CLIENTS["njt_causal"] = client
    vc.read_case = lambda case, device: (json.load(open(os.path.join(case, "problem.json"))), None, None)
    sys.argv = ["variant_clients.py", "--suite", f"njt_causal={suites / 'njt_tl'}", "--also",
                f"njt_causal={suites / 'njt_br'}", "--out", str(tmp_path), "--flashcheck", str(BIN)]
    vc.main()
    text = (tmp_path / "README.md").read_text()
    assert f"**Measured convention: {expect}.** Counterexamples to {other}: " + \
        ", ".join(f"case_{i:03d}" for i in range(8)) + "." in text
    assert "on 8/8" in text and "on 0/8" in text


def test_inputs_that_differ_are_refused(vc, suites, tmp_path):
    bad = tmp_path / "njt_other"
    shutil.copytree(suites / "njt_br", bad)
    shutil.copy(suites / "njt_tl" / "case_001" / "q.npy", bad / "case_000" / "q.npy")
    assert not vc.same_inputs(str(suites / "njt_tl"), str(bad), "case_000")
    assert vc.same_inputs(str(suites / "njt_tl"), str(bad), "case_001")


def test_flex_retries_smaller_tiles_only_on_shared_memory(vc, monkeypatch):
    seen = []

    def once(p, t, ex, device, opts):
        seen.append(opts)
        if opts is None:
            raise RuntimeError("No valid triton configs. OutOfMemoryError: out of resource: Required: 376832")
        return {"o": 1}

    monkeypatch.setattr(vc, "run_flex_once", once)
    out = vc.run_flex({}, {}, {}, "cuda")
    assert seen == vc.FLEX_KERNEL_OPTIONS[:2] and out["__note__"].startswith("kernel_options {\"BLOCK_M\":64")

    calls = []

    def broken(p, t, ex, device, opts):
        calls.append(opts)
        raise ValueError("a real error")

    monkeypatch.setattr(vc, "run_flex_once", broken)
    with pytest.raises(ValueError):  # anything else is the client's failure, reported as such, not retried
        vc.run_flex({}, {}, {}, "cuda")
    assert calls == [None]

    def never_fits(p, t, ex, device, opts):
        raise RuntimeError("out of resource: shared memory")

    monkeypatch.setattr(vc, "run_flex_once", never_fits)
    with pytest.raises(RuntimeError):  # the ladder ends: the last error stands
        vc.run_flex({}, {}, {}, "cuda")
    for o in vc.FLEX_KERNEL_OPTIONS[1:]:  # the backward's divisibility rules
        assert o["BLOCK_N1"] % o["BLOCK_M1"] == 0 and o["BLOCK_M2"] % o["BLOCK_N2"] == 0
        assert 128 % o["BLOCK_M"] == 0 and 128 % o["BLOCK_N"] == 0


@pytest.mark.parametrize("suite,client,verdict", [("njt_tl", "njt_causal", "0 passed, 2 failed"),
                                                  ("njt_br", "njt_causal", "2 passed, 0 failed"),
                                                  ("njt_tl", "njt_causal_efficient", "2 passed, 0 failed"),
                                                  ("njt_br", "njt_causal_efficient", "0 passed, 2 failed")])
def test_committed_counterexamples_rejudge(suite, client, verdict):
    """reports/variants/counterexamples: the H200 outputs pass one alignment's reference and fail the other."""
    if not BIN.exists():
        pytest.skip(f"no flashcheck binary at {BIN}")
    d = ROOT / "reports" / "variants" / "counterexamples"
    r = subprocess.run([str(BIN), "check", "verify", str(d / suite), "--candidate", str(d / client),
                        "--outputs", "o,dq,dk,dv"], capture_output=True, text=True)
    assert r.returncode == (1 if verdict.startswith("0 passed") else 0) and verdict + ", 0 skipped" in r.stdout
