"""scripts/python_clients.py without torch: its NumPy stand-ins are searched
like the PyTorch clients, so refusal counting, the time slice, the CSV files
and the rendered README are tested on CPU. A correct client passes, a planted
bug (a row that sees no key averages V) is found and shrunk, a refusing
client's refusals are counted and never pass as judged cases."""

import csv
import importlib.util
import pathlib
import time

import pytest

import flashcheck

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clients():
    spec = importlib.util.spec_from_file_location("python_clients", ROOT / "scripts" / "python_clients.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def rows_of(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def standin_run(clients, tmp_path_factory):
    out = tmp_path_factory.mktemp("clients")
    assert clients.main(["--standin", "--out", str(out), "--cases", "20", "--seed", "7"]) == 0
    return out


def test_standin_results(standin_run):
    rows = {(r["client"], r["mask"]): r for r in rows_of(standin_run / "results.csv")}
    assert len(rows) == 12
    for mask in ("none", "causal_top_left", "causal_bottom_right", "sliding_window"):
        ok = rows[("numpy_f32", mask)]
        assert (ok["status"], ok["cases_run"], ok["judged"], ok["refused_search"]) == ("passed", "20", "20", "0")
        ref = rows[("numpy_refuses_odd_d", mask)]
        assert ref["status"] == "passed" and int(ref["refused_search"]) > 0
        assert int(ref["judged"]) + int(ref["refused_search"]) == int(ref["cases_run"]) == 20
    for mask in ("none", "causal_top_left"):  # every row sees a key: the bug cannot show
        assert rows[("numpy_empty_rows_uniform", mask)]["status"] == "passed"
    for mask in ("causal_bottom_right", "sliding_window"):
        bad = rows[("numpy_empty_rows_uniform", mask)]
        assert bad["status"] == "COUNTEREXAMPLE" and bad["failing"] == "o"
        f = dict(kv.split("=") for kv in bad["counterexample"].split() if "=" in kv)
        assert int(f["Nq"]) > int(f["Nk"]) and int(f["Nq"]) <= 8 and int(f["d"]) <= 16
        assert bad["replay"].startswith("python -m flashcheck verify OUT/cases/numpy_empty_rows_uniform-fwd-")
        case = standin_run / "cases" / f"numpy_empty_rows_uniform-fwd-{mask}"
        assert flashcheck.cases.verify(case, outputs=["o"])[1] == 1  # the replay fails


def test_standin_readme_is_rendered_from_the_csv(clients, standin_run):
    readme = (standin_run / "README.md").read_text()
    assert "Device: CPU stand-in" in readme and "2 counterexamples" in readme
    for r in rows_of(standin_run / "results.csv"):
        if r["replay"]:
            assert r["replay"] in readme
    refusals = rows_of(standin_run / "refusals.csv")
    assert [r["client"] for r in refusals] == ["numpy_refuses_odd_d"]
    assert f"| numpy_refuses_odd_d | {refusals[0]['count']} | head_dim N is not a multiple of N |" in readme
    (standin_run / "README.md").unlink()
    clients.render(str(standin_run))
    assert (standin_run / "README.md").read_text() == readme


def test_all_refused_is_not_a_pass(clients, tmp_path):
    def never(case, backward):
        raise clients.Refusal("no kernel")
    a = {"dtypes": ("bf16",), "head_dims": (), "max_seqlen": 16, "max_head_dim": 16, "cases": 10, "seed": 1}
    row, reasons = clients.run_check("never", never, False, "none", a, time.monotonic() + 60, str(tmp_path))
    assert (row["status"], row["judged"], row["refused_search"]) == ("all refused", 0, 10)
    assert reasons == {("never", "no kernel"): 10}


def test_spent_time_slice_is_reported(clients, tmp_path):
    calls = []

    def client(case, backward):
        calls.append(case)
        return {"o": flashcheck.reference(case.problem, case.q, case.k, case.v)["o"]}
    a = {"dtypes": ("bf16",), "head_dims": (), "max_seqlen": 16, "max_head_dim": 16, "cases": 10, "seed": 1}
    row, _ = clients.run_check("late", client, False, "none", a, time.monotonic() - 1, str(tmp_path))
    assert not calls
    assert (row["status"], row["judged"], row["skipped"]) == ("stopped: time slice spent", 0, 10)
