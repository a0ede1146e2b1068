"""flashcheck.simulate returns the rows of `flashcheck sim --format json`: the
same C++ row builder (sim/rows.hpp) behind both. Compared against the built
CLI binary (FLASHCHECK_BIN, else build/cli/flashcheck), skipped when absent."""

import json
import os
import pathlib
import subprocess

import pytest

import flashcheck

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("FLASHCHECK_BIN", ROOT / "build" / "cli" / "flashcheck"))

CONFIGS = [
    ({"seqlen": 2048, "schedule": "flash2", "preset": "h100", "direction": "fwd"},
     ["--seqlen", "2048", "--schedule", "flash2", "--preset", "h100", "--direction", "fwd"]),
    ({"seqlen_q": 300, "seqlen_k": 1000, "heads": 4, "kv_heads": 2, "batch": 2, "head_dim": 128,
      "mask": "causal_bottom_right", "dtype": "bf16", "sram": ["48KiB", 100000], "preset": "a100"},
     ["--seqlen-q", "300", "--seqlen-k", "1000", "--heads", "4", "--kv-heads", "2", "--batch", "2",
      "--head-dim", "128", "--mask", "causal_bottom_right", "--dtype", "bf16", "--sram", "48KiB",
      "--preset", "a100"]),
    ({"seqlen": 4096, "variant": "flash2_fwd", "preset": "h200", "l2": "0", "sms": 66},
     ["--seqlen", "4096", "--variant", "flash2_fwd", "--preset", "h200", "--l2", "0", "--sms", "66"]),
    ({"seqlen": 512, "schedule": ["standard", "flash1"], "block_r": 16, "block_c": 32},
     ["--seqlen", "512", "--schedule", "standard,flash1", "--block-r", "16", "--block-c", "32"]),
    ({"seqlen_q": 1, "seqlen_k": 8192, "schedule": "splitkv", "direction": "fwd", "splits": 6, "preset": "h100"},
     ["--seqlen-q", "1", "--seqlen-k", "8192", "--schedule", "splitkv", "--direction", "fwd", "--splits", "6",
      "--preset", "h100"]),
    ({"seqlen": 1024, "schedule": "flash2", "direction": "fwd", "page_size": 32, "page_read": "page",
      "preset": "h200"},
     ["--seqlen", "1024", "--schedule", "flash2", "--direction", "fwd", "--page-size", "32", "--page-read",
      "page", "--preset", "h200"]),
    ({"varlen": [4, 1, 16], "varlen_k": [100, 2000, 517], "schedule": ["flash2", "splitkv"],
      "direction": "fwd", "splits": 3, "page_size": 16},
     ["--varlen", "4,1,16", "--varlen-k", "100,2000,517", "--schedule", "flash2,splitkv", "--direction", "fwd",
      "--splits", "3", "--page-size", "16"]),
    ({"varlen": "64,300", "varlen_k": [500, 20], "variant": "flash2_fwd", "sram": "96KiB", "mask": "causal",
      "preset": "a100"},
     ["--varlen", "64,300", "--varlen-k", "500,20", "--variant", "flash2_fwd", "--sram", "96KiB", "--mask",
      "causal", "--preset", "a100"]),
    ({"seqlen": 65536, "batch": 1, "heads": 1, "variant": "flash2_bwd", "dtype": "bf16", "preset": "h200",
      "l2_edge": "lru"},
     ["--seqlen", "65536", "--batch", "1", "--heads", "1", "--variant", "flash2_bwd", "--dtype", "bf16",
      "--preset", "h200", "--l2-edge", "lru"]),
]


def cli_rows(args):
    return json.loads(subprocess.check_output([str(BIN), "sim", *args, "--format", "json"]))


@pytest.mark.skipif(not BIN.exists(), reason=f"no flashcheck binary at {BIN}")
@pytest.mark.parametrize("kwargs,args", CONFIGS, ids=["flash2-h100", "gqa-causal-br", "variant-l2off", "blocks", "splits", "paged",
                                                   "varlen", "varlen-k-variant", "l2-edge-lru"])
def test_simulate_rows_equal_cli_json(kwargs, args):
    rows = flashcheck.simulate(**kwargs)
    if isinstance(kwargs.get("sram"), list):  # the CLI takes one --sram: compare the first size's rows
        rows = [r for r in rows if r["sram_bytes"] == 48 * 1024]
    assert rows == cli_rows(args)


def test_varlen_packed_moves_fewer_bytes_than_padded():
    rows = flashcheck.simulate(varlen=[64, 4096, 64], schedule="flash2", direction="fwd", preset="h100")
    (r,) = rows
    assert (r["sequences"], r["tokens_q"], r["tokens_k"]) == (3, 4224, 4224)
    assert r["packed_bytes"] < r["padded_bytes"] and r["padded_over_packed"] > 2
    equal = flashcheck.simulate(varlen=[512, 512], schedule="flash2", direction="fwd", preset="h100")
    assert equal[0]["packed_bytes"] == equal[0]["padded_bytes"]


def test_splits_and_paging_change_the_rows():
    def bytes_of(**kw):
        (r,) = flashcheck.simulate(seqlen_q=1, seqlen_k=4096, batch=1, heads=8, schedule="splitkv",
                                   direction="fwd", preset="h100", **kw)
        return r["hbm_bytes"]
    assert bytes_of(splits=16) > bytes_of(splits=1)  # partial results written and re-read
    assert bytes_of(splits=4, page_size=128, page_read="page") > bytes_of(splits=4, page_size=128)


def test_l2_edge_measured_curve_against_lru_cliff():
    # c09's backward (reports/fidelity): its waves sit at 1.05x L/2, where the H200 misses about
    # 60% of the re-reads (the measured curve) and LRU's cliff says all of them.
    def row(edge):
        (r,) = flashcheck.simulate(batch=1, heads=1, seqlen=65536, dtype="bf16", variant="flash2_bwd",
                                   schedule="flash2", direction="bwd", preset="h200", l2_edge=edge)
        return r
    measured, lru = row("measured"), row("lru")
    assert measured["gpu_model"]["l2_edge"] == "measured" and lru["gpu_model"]["l2_edge"] == "lru"
    assert lru["gpu_model"]["fitting_wave_share"] == 0
    assert 0 < measured["gpu_model"]["fitting_wave_share"] < 1
    assert measured["dram_read_bytes"] < lru["dram_read_bytes"]
    assert measured["hbm_read_bytes"] == lru["hbm_read_bytes"]  # the SM-side count does not depend on L2
    (a100,) = flashcheck.simulate(seqlen=4096, variant="flash2_fwd", preset="a100")
    assert a100["gpu_model"]["l2_edge"] == "lru"  # no measured curve there


def test_simulate_takes_a_problem():
    p = flashcheck.Problem(batch=1, heads_q=2, seqlen_q=256, seqlen_k=256, head_dim=64, dtype="f16")
    rows = flashcheck.simulate(p, schedule="flash1", direction="fwd", sram="64KiB", preset="h100")
    assert len(rows) == 1 and rows[0]["seqlen_q"] == 256 and rows[0]["sram_bytes"] == 65536
    assert rows == flashcheck.simulate(batch=1, heads=2, seqlen=256, dtype="f16", schedule="flash1",
                                       direction="fwd", sram=65536, preset="h100")


@pytest.mark.parametrize("kwargs,exc,words", [
    ({"schedule": "flash9"}, ValueError, "flash9"),
    ({"direction": "sideways"}, ValueError, "sideways"),
    ({"preset": "z80"}, ValueError, "z80"),
    ({"sram": "lots"}, ValueError, "lots"),
    ({"sram": -5}, ValueError, "sram"),
    ({"preset": "custom", "hbm_gbps": 1000, "matmul_tflops": 100}, ValueError, "sram"),
    ({"variant": "nope"}, ValueError, "nope"),
    ({"head_dim": 0}, ValueError, "head_dim"),
    ({"problem": "B1"}, TypeError, "problem"),
    ({"block_r": 1.5}, TypeError, "block_r"),
    ({"schedule": []}, ValueError, "schedule"),
    ({"schedule": "flash2", "splits": 4}, ValueError, "splits"),
    ({"schedule": "splitkv", "splits": 0}, ValueError, "splits"),
    ({"schedule": "splitkv", "splits": True}, TypeError, "splits"),
    ({"page_size": 0}, ValueError, "page size"),
    ({"page_read": "page"}, ValueError, "page size"),
    ({"page_size": 16, "page_read": "lines"}, ValueError, "lines"),
    ({"varlen": [5, 0]}, ValueError, "varlen"),
    ({"varlen": "5,x"}, ValueError, "varlen"),
    ({"varlen": []}, ValueError, "varlen"),
    ({"varlen": [5, 1.5]}, TypeError, "varlen"),
    ({"varlen_k": [5]}, ValueError, "varlen_k"),
    ({"varlen": [5, 6], "varlen_k": [5]}, ValueError, "key lengths"),
    ({"l2_edge": "fifo"}, ValueError, "fifo"),
    ({"l2_edge": 1}, TypeError, "l2_edge"),
])
def test_simulate_bad_input_names_the_argument(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        flashcheck.simulate(**kwargs)
