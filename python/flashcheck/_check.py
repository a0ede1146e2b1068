"""flashcheck.check: property search with shrinking for any attention function.

Generation and shrinking are RapidCheck's, in C++ (cases/generators.hpp: the
generators of every C++ property suite); each case calls back into Python
(``_call``), and judge_case gives the verdict. A failing search writes the
shrunk case as a ``flashcheck check verify``-compatible folder (with the
candidate's outputs) and prints one line that replays it."""

import os
import sys
import tempfile

from . import _flashcheck
from ._arrays import in_dtype
from ._oracle import outputs_as_float64

ALL_MASKS = ("none", "causal_top_left", "causal_bottom_right", "sliding_window")
ALL_VALUES = ("normal", "uniform", "large_logits", "dominant_key", "positive")


class Case:
    """What fn receives: problem and q, k, v, do (None in a forward search) as
    NumPy arrays in the case's dtype (bf16: ml_dtypes.bfloat16). A case folder
    written with variants (`check gen --variants`) also carries `variants` (its
    problem.json "variants" fields, e.g. {"softcap": 5.0}) and `extras` (its
    extra tensors by name, e.g. "cu_seqlens_q", "alibi"); both are empty for a
    plain case, and `problem` alone does not describe a variant case."""

    __slots__ = ("problem", "q", "k", "v", "do", "values", "variants", "extras")

    def __init__(self, problem, q, k, v, do=None, values=None, variants=None, extras=None):
        self.problem, self.q, self.k, self.v, self.do, self.values = problem, q, k, v, do, values
        self.variants = dict(variants or {})
        self.extras = dict(extras or {})

    def __repr__(self):
        extra = f" variants={sorted(self.variants)}" if self.variants else ""
        return f"Case({self.problem.describe()}{extra})"


class CheckResult:
    """passed, cases_run, shrink_calls, counterexample (a shrunk Problem or None),
    case (the shrunk Case), verdict, outputs (fn's on the shrunk case), repro_dir,
    replay (the one line that replays it)."""

    def __init__(self, raw, case, outputs, repro_dir, replay):
        self.passed = raw.passed
        self.cases_run = raw.cases_run
        self.shrink_calls = raw.shrink_calls
        self.counterexample = raw.counterexample
        self.values = raw.values
        self.verdict = raw.verdict
        self.case = case
        self.outputs = outputs
        self.repro_dir = repro_dir
        self.replay = replay

    def __bool__(self):
        return self.passed

    def report(self):
        """Several lines: the shrunk problem, the verdict, the replay line."""
        if self.passed:
            return f"flashcheck: {self.cases_run} cases passed"
        v = self.values
        return (f"flashcheck: FAILED after {self.cases_run} cases "
                f"(shrunk in {self.shrink_calls} calls)\n"
                f"  counterexample: {self.counterexample.describe()} values={v.kind} "
                f"seed={v.seed}\n  {str(self.verdict).replace(chr(10), chr(10) + '  ')}\n"
                f"  replay: {self.replay}")

    def __repr__(self):
        return f"<CheckResult {'passed' if self.passed else 'FAILED'} cases_run={self.cases_run}>"


def _call(fn, backward):
    """The callback C++ calls per case: builds the Case, calls fn, checks and
    converts what it returns. Exceptions propagate (the search stops and
    re-raises them), with a note naming the case."""
    def call(problem, q, k, v, do):
        dt = problem.dtype
        case = Case(problem, in_dtype(q, dt), in_dtype(k, dt), in_dtype(v, dt),
                    None if do is None else in_dtype(do, dt))
        try:
            out = fn(case)
        except Exception as e:
            e.add_note(f"flashcheck.check: raised by fn on {problem!r}") if hasattr(e, "add_note") else None
            raise
        what = f"fn's return value on {problem!r}"
        if not isinstance(out, dict):
            raise TypeError(f"{what}: expected a dict with 'o' (and lse, dq, dk, dv), "
                            f"got {type(out).__name__}")
        if "o" not in out or out["o"] is None:
            raise ValueError(f"{what}: has no 'o'")
        if backward:
            missing = [n for n in ("dq", "dk", "dv") if out.get(n) is None]
            if missing:
                raise ValueError(f"{what}: backward=True but no {', '.join(missing)}")
        return outputs_as_float64(problem, out, what)
    return call


def _as_tuple(name, x):
    if isinstance(x, str):
        return (x,)
    try:
        t = tuple(x)
    except TypeError:
        raise TypeError(f"{name}: expected a string or a sequence of strings") from None
    if not all(isinstance(s, str) for s in t):
        raise TypeError(f"{name}: expected strings, got {t!r}")
    return t


def _int(name, x, lo=1):
    if isinstance(x, bool) or not isinstance(x, int):
        raise TypeError(f"{name}: expected an int, got {type(x).__name__}")
    if x < lo:
        raise ValueError(f"{name}: must be >= {lo} (got {x})")
    return x


def check(fn, *, backward=False, dtypes=("bf16",), masks=ALL_MASKS, values=ALL_VALUES,
          max_seqlen=256, max_head_dim=128, head_dims=(), max_batch=2, max_heads_kv=2,
          max_group=3, cases=100, seed=0, shrink=True, repro_dir=None, quiet=False):
    """Searches for a case where fn disagrees with the float64 oracle beyond the
    accuracy rule, and shrinks it.

    fn(case) gets a Case (problem, q, k, v, do) and returns a dict with 'o'
    and optionally 'lse'; with backward=True also 'dq', 'dk', 'dv' (case.do is
    then the upstream gradient). Every returned tensor is judged.
    head_dims: non-empty restricts head_dim to these (a kernel's supported set).
    On failure the shrunk case is written to repro_dir (a new temporary folder
    when None) as a `flashcheck check verify` suite with fn's outputs, and one
    replay line is printed to stderr (unless quiet)."""
    if not callable(fn):
        raise TypeError(f"fn: expected a callable, got {type(fn).__name__}")
    if not isinstance(backward, bool):
        raise TypeError("backward: expected a bool")
    dtypes, masks, values = _as_tuple("dtypes", dtypes), _as_tuple("masks", masks), _as_tuple("values", values)
    head_dims = tuple(_int("head_dims", d) for d in head_dims)
    raw = _flashcheck._search(
        _call(fn, backward), backward, list(dtypes), list(masks), list(values),
        _int("max_seqlen", max_seqlen), _int("max_head_dim", max_head_dim), list(head_dims),
        _int("max_batch", max_batch), _int("max_heads_kv", max_heads_kv), _int("max_group", max_group),
        _int("cases", cases), _int("seed", seed, 0), bool(shrink))
    if raw.passed:
        return CheckResult(raw, None, None, None, None)
    p = raw.counterexample
    q, k, v, do = raw.inputs()
    case = Case(p, in_dtype(q, p.dtype), in_dtype(k, p.dtype), in_dtype(v, p.dtype),
                in_dtype(do, p.dtype) if backward else None, raw.values)
    outputs = _call(fn, backward)(p, q, k, v, do if backward else None)
    if repro_dir is None:
        repro_dir = tempfile.mkdtemp(prefix="flashcheck-")
    repro_dir = os.path.abspath(repro_dir)
    raw.write_case(repro_dir)
    from .cases import save_outputs
    save_outputs(os.path.join(repro_dir, "case_000"), outputs)
    given = ",".join(n for n in ("o", "lse", "dq", "dk", "dv") if outputs.get(n) is not None)
    replay = (f"python -m flashcheck verify {repro_dir} --outputs {given}"
              f"   # = flashcheck check verify {repro_dir} --outputs {given}")
    result = CheckResult(raw, case, outputs, repro_dir, replay)
    if not quiet:
        print(result.report(), file=sys.stderr)
    return result
