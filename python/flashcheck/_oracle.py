"""flashcheck.reference and flashcheck.judge: thin wrappers of the C++ oracle
and of its one accuracy rule (reference/oracle.hpp: make_oracle, judge_case)."""

from . import _flashcheck
from ._arrays import as_float64, as_input

OUTPUT_NAMES = ("o", "lse", "dq", "dk", "dv")


def _shapes(problem):
    return {"q": problem.q_shape, "k": problem.kv_shape, "v": problem.kv_shape,
            "do": problem.q_shape, "o": problem.q_shape, "lse": problem.lse_shape,
            "dq": problem.q_shape, "dk": problem.kv_shape, "dv": problem.kv_shape}


def _check_problem(problem):
    if not isinstance(problem, _flashcheck.Problem):
        raise TypeError(f"problem: expected flashcheck.Problem, got {type(problem).__name__}")


def _inputs(problem, q, k, v, do):
    s = _shapes(problem)
    qa = as_input("q", q, s["q"], problem.dtype)
    ka = as_input("k", k, s["k"], problem.dtype)
    va = as_input("v", v, s["v"], problem.dtype)
    da = None if do is None else as_input("do", do, s["do"], problem.dtype)
    return qa, ka, va, da


def outputs_as_float64(problem, outputs, what="outputs"):
    """{name: array} checked (known names, shapes, finite dtype) as float64."""
    if not isinstance(outputs, dict):
        raise TypeError(f"{what}: expected a dict with any of {', '.join(OUTPUT_NAMES)}, "
                        f"got {type(outputs).__name__}")
    s = _shapes(problem)
    out = {}
    for name, x in outputs.items():
        if name not in OUTPUT_NAMES:
            raise ValueError(f"{what}: unknown key {name!r} (expected {', '.join(OUTPUT_NAMES)})")
        if x is None:
            continue
        out[name] = as_float64(f"{what}[{name!r}]", x, s[name])
    return out


def reference(problem, q, k, v, do=None):
    """The float64 oracle: {'o', 'lse'} and, when do is given, {'dq', 'dk', 'dv'}.

    q, do: [B][heads_q][seqlen_q][head_dim]; k, v: [B][heads_kv][seqlen_k][head_dim];
    values must be representable in problem.dtype. lse is [B][heads_q][seqlen_q]
    (natural log, scale applied; -inf for a row that sees no key)."""
    _check_problem(problem)
    return _flashcheck._reference(problem, *_inputs(problem, q, k, v, do))


def _unpack_inputs(inputs):
    if isinstance(inputs, dict):
        unknown = set(inputs) - {"q", "k", "v", "do"}
        if unknown:
            raise ValueError(f"inputs: unknown keys {sorted(unknown)} (expected q, k, v, do)")
        missing = [n for n in ("q", "k", "v") if inputs.get(n) is None]
        if missing:
            raise ValueError(f"inputs: missing {', '.join(missing)}")
        return inputs["q"], inputs["k"], inputs["v"], inputs.get("do")
    if all(hasattr(inputs, n) for n in ("q", "k", "v")):
        return inputs.q, inputs.k, inputs.v, getattr(inputs, "do", None)
    raise TypeError("inputs: expected a dict {'q', 'k', 'v'[, 'do']} or a flashcheck Case, "
                    f"got {type(inputs).__name__}")


def judge(problem, inputs, outputs, required=None):
    """The accuracy rule's verdict on a candidate's outputs.

    inputs: {'q', 'k', 'v'[, 'do']} or a Case; outputs: any of o, lse, dq, dk, dv.
    required: the tensors to judge (default: those in outputs); an asked-for
    tensor that is absent fails the case. Gradients need inputs['do']."""
    _check_problem(problem)
    q, k, v, do = _unpack_inputs(inputs)
    args = _inputs(problem, q, k, v, do)
    outs = outputs_as_float64(problem, outputs)
    if required is None:
        required = list(outs)
    if not required:
        raise ValueError("outputs: empty (give at least 'o')")
    for name in required:
        if name not in OUTPUT_NAMES:
            raise ValueError(f"required: unknown tensor {name!r}")
        if name in ("dq", "dk", "dv") and do is None:
            raise ValueError(f"required: {name} needs inputs['do']")
    return _flashcheck._judge(problem, *args, outs, list(required))
