"""@flashcheck.property and the plugin's readable ids."""

import pytest

import flashcheck
from candidates import standard


@flashcheck.property(dtypes=("bf16", "f16"), masks=("none", "causal_top_left"), max_seqlen=24,
                     max_head_dim=16, cases=15)
def test_standard_is_correct(case):
    return standard(case)


@pytest.mark.parametrize("problem", [flashcheck.Problem(seqlen_q=3, head_dim=8, mask="causal_top_left")])
def test_problem_ids_are_readable(problem, request):
    assert request.node.name == "test_problem_ids_are_readable[bf16-causal_top_left-B1-H1x1-Nq3-Nk3-d8]"


def test_property_failure_message_has_replay():
    @flashcheck.property(masks="none", max_seqlen=16, max_head_dim=8, cases=20)
    def wrong(case):
        return standard(case, scale_missing=True)

    with pytest.raises(AssertionError) as e:
        wrong.run("bf16", "none")
    msg = str(e.value)
    assert "counterexample:" in msg and "replay: python -m flashcheck verify" in msg and "FAIL" in msg


def test_property_ids(pytestconfig):
    items = [m for m in test_standard_is_correct.pytestmark if m.name == "parametrize"]
    ids = [p.id for p in items[0].args[1]]
    assert ids == ["bf16-none", "bf16-causal_top_left", "f16-none", "f16-causal_top_left"]
