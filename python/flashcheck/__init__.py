"""flashcheck for Python: the float64 attention oracle, the one accuracy rule
and RapidCheck property search with shrinking for any attention function.

    import flashcheck
    p = flashcheck.Problem(batch=1, heads_q=2, seqlen_q=7, seqlen_k=5, head_dim=16,
                           dtype="bf16", mask="causal_top_left")
    ref = flashcheck.reference(p, q, k, v, do=None)       # {'o', 'lse'[, 'dq', 'dk', 'dv']}
    verdict = flashcheck.judge(p, {"q": q, "k": k, "v": v}, {"o": o})
    result = flashcheck.check(my_attention, backward=False, cases=100)
    rows = flashcheck.simulate(seqlen=4096, schedule='flash2', preset='h100')  # `flashcheck sim` rows

bf16 tensors are ml_dtypes.bfloat16 arrays. See python/README.md.
"""

from ._flashcheck import Problem, TensorVerdict, Verdict, ErrorStats, ValueSpec
from ._arrays import numpy_dtype
from ._oracle import reference, judge
from ._check import Case, CheckResult, check, ALL_MASKS, ALL_VALUES
from ._property import property
from ._sim import simulate
from . import cases

__all__ = ["Problem", "Verdict", "TensorVerdict", "ErrorStats", "ValueSpec", "Case",
           "CheckResult", "reference", "judge", "check", "simulate", "property", "cases", "numpy_dtype",
           "ALL_MASKS", "ALL_VALUES"]
