"""Case folders: generate, load, save outputs (bf16 as '<u2' bits), verify."""

import numpy as np

import flashcheck
from candidates import standard


def test_generate_load_save_verify(tmp_path):
    dirs = flashcheck.cases.generate(tmp_path, seed=3, count=3, max_seqlen=24, max_head_dim=16)
    assert len(dirs) == 3
    for d in dirs:
        case = flashcheck.cases.load_case(d)
        assert case.q.dtype == flashcheck.numpy_dtype(case.problem.dtype)
        assert case.q.shape == case.problem.q_shape and case.do.shape == case.problem.q_shape
        flashcheck.cases.save_outputs(d, standard(case))
    passed, failed, skipped = flashcheck.cases.verify(tmp_path)
    assert (passed, failed, skipped) == (3, 0, 0)


def test_saved_bf16_is_u2_bits(tmp_path):
    dirs = flashcheck.cases.generate(tmp_path, seed=5, count=8, max_seqlen=16, max_head_dim=16)
    bf16 = [d for d in dirs if flashcheck.cases.load_case(d).problem.dtype == "bf16"]
    assert bf16, "the suite has a bf16 case"
    case = flashcheck.cases.load_case(bf16[0])
    assert np.load(f"{bf16[0]}/q.npy").dtype == np.uint16
    out = standard(case)
    flashcheck.cases.save_outputs(bf16[0], {"o": out["o"]})
    assert np.load(f"{bf16[0]}/o.npy").dtype == np.uint16
    np.testing.assert_array_equal(np.load(f"{bf16[0]}/o.npy").view(out["o"].dtype), out["o"])


def test_variant_cases_load_their_fields_and_tensors(tmp_path):
    import json
    import pytest
    dirs = flashcheck.cases.generate(tmp_path, seed=4, count=4, max_seqlen=24, max_head_dim=16,
                                     variants=["softcap", "varlen"])
    seen = set()
    for d in dirs:
        case = flashcheck.cases.load_case(d)
        j = json.load(open(f"{d}/problem.json"))
        assert case.variants == j.get("variants", {})
        assert sorted(case.extras) == sorted(j.get("extras", {}))
        for name, file in j.get("extras", {}).items():
            np.testing.assert_array_equal(case.extras[name], np.load(f"{d}/{file}"))
        seen |= set(case.variants)
        if case.variants:
            assert "variants=" in repr(case)
    assert {"softcap", "varlen"} <= seen
    # plain attention on softcap cases is wrong, and verify says so
    soft = flashcheck.cases.generate(tmp_path / "soft", seed=4, count=3, max_seqlen=24,
                                     max_head_dim=16, variants="softcap")
    for d in soft:
        case = flashcheck.cases.load_case(d)
        assert "softcap" in case.variants
        flashcheck.cases.save_outputs(d, standard(case))
    passed, failed, skipped = flashcheck.cases.verify(tmp_path / "soft")
    assert failed >= 1 and passed + failed + skipped == 3
    with pytest.raises(ValueError, match="nosuch"):
        flashcheck.cases.generate(tmp_path / "x", count=1, variants=["nosuch"])
