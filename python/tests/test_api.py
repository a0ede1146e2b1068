"""Problem, reference and judge: the C++ oracle and rule through Python, and
clear exceptions for bad arguments."""

import ml_dtypes
import numpy as np
import pytest

import flashcheck
from candidates import standard


def rand_inputs(p, rng, backward=False):
    dt = flashcheck.numpy_dtype(p.dtype)
    q = rng.standard_normal(p.q_shape).astype(dt)
    k = rng.standard_normal(p.kv_shape).astype(dt)
    v = rng.standard_normal(p.kv_shape).astype(dt)
    do = rng.standard_normal(p.q_shape).astype(dt) if backward else None
    return flashcheck.Case(p, q, k, v, do)


def test_problem_fields_and_id():
    p = flashcheck.Problem(batch=2, heads_q=4, heads_kv=2, seqlen_q=7, seqlen_k=5, head_dim=16,
                           dtype="bf16", mask="causal_top_left")
    assert (p.batch, p.heads_q, p.heads_kv, p.seqlen_q, p.seqlen_k, p.head_dim) == (2, 4, 2, 7, 5, 16)
    assert p.mask == "causal_top_left" and p.dtype == "bf16" and p.window is None
    assert p.scale == pytest.approx(0.25)
    assert p.id == "bf16-causal_top_left-B2-H4x2-Nq7-Nk5-d16"
    w = flashcheck.Problem(seqlen_q=4, head_dim=8, mask="sliding_window", window=(1, 0), scale=0.5)
    assert w.window == (1, 0) and w.scale == 0.5 and w.seqlen_k == 4


@pytest.mark.parametrize("kwargs, word", [
    (dict(heads_q=3, heads_kv=2), "heads"),
    (dict(seqlen_q=0), "seqlen_q"),
    (dict(dtype="int8"), "dtype"),
    (dict(mask="diagonal"), "mask"),
    (dict(mask="sliding_window"), "window"),
    (dict(mask="none", window=(1, 1)), "window"),
    (dict(scale=-1.0), "scale"),
])
def test_bad_problem_names_the_argument(kwargs, word):
    with pytest.raises(ValueError, match=word):
        flashcheck.Problem(**kwargs)


def test_reference_matches_float64_numpy():
    p = flashcheck.Problem(heads_q=2, seqlen_q=5, seqlen_k=6, head_dim=8, dtype="f32",
                           mask="causal_bottom_right")
    c = rand_inputs(p, np.random.default_rng(0), backward=True)
    ref = flashcheck.reference(p, c.q, c.k, c.v, do=c.do)
    assert set(ref) == {"o", "lse", "dq", "dk", "dv"}
    assert ref["o"].dtype == np.float64 and ref["lse"].shape == p.lse_shape
    q, k, v = (x.astype(np.float64) for x in (c.q, c.k, c.v))
    s = p.scale * q @ k.transpose(0, 1, 3, 2)
    vis = np.array([[p.visible(i, j) for j in range(6)] for i in range(5)])
    s = np.where(vis, s, -np.inf)
    pr = np.exp(s - s.max(-1, keepdims=True))
    pr /= pr.sum(-1, keepdims=True)
    np.testing.assert_allclose(ref["o"], pr @ v, rtol=1e-12, atol=1e-12)
    assert set(flashcheck.reference(p, c.q, c.k, c.v)) == {"o", "lse"}


@pytest.mark.parametrize("mask,window", [("none", None), ("causal_top_left", None),
                                         ("causal_bottom_right", None), ("sliding_window", (2, 1))])
@pytest.mark.parametrize("sq,sk", [(7, 4), (4, 7), (5, 5)])
def test_band_is_the_visible_set(mask, window, sq, sk):
    p = flashcheck.Problem(seqlen_q=sq, seqlen_k=sk, head_dim=4, mask=mask, window=window)
    lo, hi = p.band
    d = np.arange(sk)[None, :] - np.arange(sq)[:, None]
    vis = np.array([[p.visible(i, j) for j in range(sk)] for i in range(sq)])
    np.testing.assert_array_equal((d >= lo) & (d <= hi), vis)
    if mask == "causal_bottom_right" and sq > sk:
        assert not vis[: sq - sk].any()  # the rows that see no key


def test_reference_accepts_bf16_and_lists():
    p = flashcheck.Problem(seqlen_q=2, head_dim=2, dtype="bf16")
    q = np.ones(p.q_shape, dtype=ml_dtypes.bfloat16)
    ref = flashcheck.reference(p, q, q.tolist(), q)
    np.testing.assert_allclose(ref["o"], 1.0)


def test_reference_bad_inputs_name_the_argument():
    p = flashcheck.Problem(seqlen_q=3, head_dim=4, dtype="bf16")
    good = np.zeros(p.q_shape, dtype=np.float32)
    with pytest.raises(ValueError, match=r"k: shape \(1, 1, 3, 5\) expected \(1, 1, 3, 4\)"):
        flashcheck.reference(p, good, np.zeros((1, 1, 3, 5)), good)
    with pytest.raises(ValueError, match="v: holds values not representable in bf16"):
        flashcheck.reference(p, good, good, np.full(p.kv_shape, 1 + 2 ** -12))
    with pytest.raises(TypeError, match="q: expected an array"):
        flashcheck.reference(p, object(), good, good)
    with pytest.raises(TypeError, match="problem"):
        flashcheck.reference("B=1", good, good, good)
    with pytest.raises(ValueError, match="q: holds NaN"):
        flashcheck.reference(p, np.full(p.q_shape, np.nan), good, good)


def test_judge_correct_passes_and_wrong_fails():
    p = flashcheck.Problem(heads_q=2, heads_kv=1, seqlen_q=9, seqlen_k=7, head_dim=16,
                           dtype="bf16", mask="causal_top_left")
    c = rand_inputs(p, np.random.default_rng(1), backward=True)
    good = standard(c)
    v = flashcheck.judge(p, c, good)
    assert v.passed, str(v)
    assert [t.name for t in v.tensors] == ["o", "lse", "dq", "dk", "dv"]
    assert v["o"].passed and v["o"].worst_bound > 0
    bad = standard(c, dk_sign=-1.0)
    v = flashcheck.judge(p, {"q": c.q, "k": c.k, "v": c.v, "do": c.do}, bad)
    assert not v.passed and not v["dk"].passed and v["dq"].passed
    assert "FAIL" in v.summary()


def test_judge_required_and_bad_outputs():
    p = flashcheck.Problem(seqlen_q=4, head_dim=8, dtype="f16")
    c = rand_inputs(p, np.random.default_rng(2))
    out = standard(c)
    v = flashcheck.judge(p, c, {"o": out["o"]}, required=["o", "lse"])
    assert not v.passed and v.missing == ["lse"]
    with pytest.raises(ValueError, match="unknown key 'out'"):
        flashcheck.judge(p, c, {"out": out["o"]})
    with pytest.raises(ValueError, match=r"outputs\['o'\]: shape"):
        flashcheck.judge(p, c, {"o": out["o"][..., :4]})
    with pytest.raises(ValueError, match="dq needs inputs"):
        flashcheck.judge(p, c, {"o": out["o"], "dq": out["o"]})
    with pytest.raises(TypeError, match="outputs: expected a dict"):
        flashcheck.judge(p, c, out["o"])
    nan = out["o"].astype(np.float64)
    nan[0, 0, 0, 0] = np.nan
    assert not flashcheck.judge(p, c, {"o": nan}).passed
