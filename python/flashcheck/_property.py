"""@flashcheck.property: a pytest test that runs flashcheck.check on fn, one
test per (dtype, mask) with readable ids, e.g.

    @flashcheck.property(dtypes=("bf16", "f16"), masks=("none", "causal_top_left"))
    def test_my_kernel(case):
        return {"o": my_kernel(case.q, case.k, case.v)}

gives test_my_kernel[bf16-none], test_my_kernel[bf16-causal_top_left], ...
(select with -k "causal and bf16"). A failure's message holds the shrunk
problem, the verdict and the replay line. The pytest plugin's options
--flashcheck-cases, --flashcheck-seed and --flashcheck-repro override the
decorator's cases, seed and repro_dir."""

import functools
import os

from ._check import ALL_MASKS, check


def _option(config, name, default):
    if config is None:
        return default
    try:
        v = config.getoption(name)
    except (ValueError, AttributeError):
        return default
    return default if v is None else v


def property(*, dtypes=("bf16",), masks=ALL_MASKS, **check_kwargs):  # noqa: A001 (the API's name)
    dtypes = (dtypes,) if isinstance(dtypes, str) else tuple(dtypes)
    masks = (masks,) if isinstance(masks, str) else tuple(masks)

    def decorate(fn):
        def run(flashcheck_dtype, flashcheck_mask, pytestconfig=None):
            kw = dict(check_kwargs)
            kw["cases"] = _option(pytestconfig, "flashcheck_cases", kw.get("cases", 100))
            kw["seed"] = _option(pytestconfig, "flashcheck_seed", kw.get("seed", 0))
            repro = _option(pytestconfig, "flashcheck_repro", kw.get("repro_dir"))
            if repro is not None:
                repro = os.path.join(repro, f"{fn.__name__}-{flashcheck_dtype}-{flashcheck_mask}")
            kw["repro_dir"] = repro
            kw.setdefault("quiet", True)
            result = check(fn, dtypes=(flashcheck_dtype,), masks=(flashcheck_mask,), **kw)
            if not result.passed:
                raise AssertionError(result.report())

        @functools.wraps(fn)
        def test(flashcheck_dtype, flashcheck_mask, pytestconfig):
            run(flashcheck_dtype, flashcheck_mask, pytestconfig)

        del test.__wrapped__  # pytest must see test's own arguments, not fn's
        test.run = run  # callable without pytest: test.run("bf16", "none")
        try:
            import pytest
        except ImportError:
            return test
        params = [pytest.param(d, m, id=f"{d}-{m}") for d in dtypes for m in masks]
        return pytest.mark.parametrize(("flashcheck_dtype", "flashcheck_mask"), params)(test)

    return decorate


property.__doc__ = __doc__
