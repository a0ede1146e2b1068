"""flashcheck.check: correct NumPy candidates pass; planted bugs are found and
shrunk to small problems; errors inside fn surface as Python exceptions."""

import os
import subprocess
import sys

import numpy as np
import pytest

import flashcheck
from candidates import flash2, standard

# Small limits keep the suite fast on CI; shrinking targets are far below them.
SMALL = dict(max_seqlen=40, max_head_dim=24, cases=60, seed=7, quiet=True)


def test_correct_standard_passes_forward_and_backward():
    r = flashcheck.check(standard, backward=True, dtypes=("bf16", "f16", "f32"), **SMALL)
    assert r.passed and r.cases_run == 60 and r.counterexample is None


def test_correct_flash2_passes():
    r = flashcheck.check(flash2, dtypes=("bf16", "f32"), **SMALL)
    assert r.passed, r.report()


@pytest.mark.parametrize("name, fn, backward, masks", [
    ("causal off by one", lambda c: standard(c, causal_shift=1), False,
     ("causal_top_left", "causal_bottom_right")),
    ("missing scale", lambda c: standard(c, scale_missing=True), False, flashcheck.ALL_MASKS),
    ("dK sign", lambda c: standard(c, dk_sign=-1.0), True, flashcheck.ALL_MASKS),
])
def test_planted_bug_is_found_and_shrunk(name, fn, backward, masks, tmp_path):
    r = flashcheck.check(fn, backward=backward, masks=masks, repro_dir=str(tmp_path / "repro"), **SMALL)
    assert not r.passed, name
    p = r.counterexample
    assert p.seqlen_q <= 8 and p.seqlen_k <= 8 and p.head_dim <= 16, p.describe()
    assert r.verdict is not None and not r.verdict.passed
    if name == "dK sign":
        assert not r.verdict["dk"].passed
    # The repro folder replays the same verdict without Python's candidate.
    assert os.path.isfile(tmp_path / "repro" / "case_000" / "problem.json")
    assert os.path.isfile(tmp_path / "repro" / "case_000" / "o.npy")
    assert "python -m flashcheck verify" in r.replay
    rc = subprocess.run([sys.executable, "-m", "flashcheck", "verify", r.repro_dir],
                        capture_output=True, text=True)
    assert rc.returncode == 1 and "FAIL" in rc.stdout, rc.stdout + rc.stderr
    # The shrunk case given back reproduces the failure.
    assert not flashcheck.judge(p, r.case, fn(r.case)).passed


def test_same_seed_same_counterexample():
    fn = lambda c: standard(c, causal_shift=1)  # noqa: E731
    a = flashcheck.check(fn, masks=("causal_top_left",), **SMALL)
    b = flashcheck.check(fn, masks=("causal_top_left",), **SMALL)
    assert a.counterexample == b.counterexample and a.cases_run == b.cases_run


def test_failure_prints_one_replay_line(capsys):
    r = flashcheck.check(lambda c: standard(c, scale_missing=True), max_seqlen=16, max_head_dim=8,
                         cases=20, seed=1)
    err = capsys.readouterr().err
    assert not r.passed and err.count("replay: python -m flashcheck verify") == 1
    assert "counterexample:" in err


class Boom(RuntimeError):
    pass


def test_exception_inside_fn_is_reraised():
    calls = []

    def fn(case):
        calls.append(case)
        if len(calls) == 3:
            raise Boom("kernel exploded")
        return standard(case)

    with pytest.raises(Boom, match="kernel exploded") as e:
        flashcheck.check(fn, **SMALL)
    assert len(calls) == 3  # the search stopped at once
    if sys.version_info >= (3, 11):
        assert any("raised by fn on Problem(" in n for n in e.value.__notes__)


@pytest.mark.parametrize("ret, err, match", [
    (lambda c: None, TypeError, "expected a dict"),
    (lambda c: {"out": standard(c)["o"]}, ValueError, "has no 'o'"),
    (lambda c: {"o": standard(c)["o"], "x": 1}, ValueError, "unknown key 'x'"),
    (lambda c: {"o": standard(c)["o"][..., :1]}, ValueError, r"\['o'\]: shape"),
    (lambda c: {"o": "garbage"}, TypeError, "floating-point"),
])
def test_garbage_from_fn_raises(ret, err, match):
    with pytest.raises(err, match=match):
        flashcheck.check(ret, **SMALL)


def test_backward_requires_gradients():
    with pytest.raises(ValueError, match="backward=True but no dq, dk, dv"):
        flashcheck.check(lambda c: {"o": standard(c)["o"]}, backward=True, **SMALL)


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(dtypes=("int8",)), ValueError, "dtypes"),
    (dict(masks=("diagonal",)), ValueError, "masks"),
    (dict(values=("gaussian",)), ValueError, "values"),
    (dict(cases=0), ValueError, "cases"),
    (dict(max_seqlen="8"), TypeError, "max_seqlen"),
    (dict(head_dims=(0,)), ValueError, "head_dims"),
    (dict(masks=()), ValueError, "masks: empty"),
])
def test_bad_check_arguments(kwargs, err, match):
    with pytest.raises(err, match=match):
        flashcheck.check(standard, **kwargs)


def test_fn_not_callable():
    with pytest.raises(TypeError, match="fn: expected a callable"):
        flashcheck.check(42)


def test_head_dims_restrict_the_search():
    seen = set()

    def fn(case):
        seen.add(case.problem.head_dim)
        return standard(case)

    assert flashcheck.check(fn, head_dims=(16, 32), max_seqlen=20, cases=30, quiet=True).passed
    assert seen <= {16, 32}


def test_case_dtypes_are_the_problems():
    seen = {}

    def fn(case):
        seen[case.problem.dtype] = (case.q.dtype, case.do)
        return standard(case)

    r = flashcheck.check(fn, dtypes=("bf16", "f16", "f32"), max_seqlen=8, max_head_dim=8,
                         cases=60, quiet=True)
    assert r.passed, r.report()
    assert str(seen["bf16"][0]) == "bfloat16" and seen["f16"][0] == np.float16
    assert seen["f32"][0] == np.float32 and seen["f32"][1] is None
