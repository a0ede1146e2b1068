"""The flashcheck pytest plugin (entry point pytest11): readable ids for
flashcheck.Problem parameters (e.g. bf16-causal_top_left-B1-H2x1-Nq7-Nk5-d16),
the `flashcheck` marker, and options that @flashcheck.property tests honour."""

from . import _flashcheck


def pytest_addoption(parser):
    g = parser.getgroup("flashcheck")
    g.addoption("--flashcheck-cases", type=int, default=None,
                help="cases per @flashcheck.property test (overrides the decorator)")
    g.addoption("--flashcheck-seed", type=int, default=None,
                help="RapidCheck seed for @flashcheck.property tests")
    g.addoption("--flashcheck-repro", default=None,
                help="folder for shrunk counterexamples (one sub-folder per failing test)")


def pytest_configure(config):
    config.addinivalue_line("markers", "flashcheck: a flashcheck property test")


def pytest_make_parametrize_id(config, val, argname):
    if isinstance(val, _flashcheck.Problem):
        return val.id
    return None


def pytest_collection_modifyitems(config, items):
    import pytest
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "flashcheck_dtype" in callspec.params:
            item.add_marker(pytest.mark.flashcheck)
