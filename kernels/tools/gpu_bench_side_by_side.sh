#!/usr/bin/env bash
# Forward benchmark of registered variants beside PyTorch SDPA (flash and
# cuDNN backends) in ONE run on the GPU machine, plus an Nsight Compute
# summary of one variant; from the repository root:
#
#   kernels/tools/gpu_bench_side_by_side.sh BIN OUT NCU_VARIANT VARIANT...
#
# OUT gets bench.csv (`flashcheck bench`, ANCHORS.md grid: 16k tokens, hidden
# 2048, d 64/128, N 512..16384, causal and not, bf16), sdpa.csv
# (scripts/sdpa_bench.py, same grid), report.md (scripts/gpu_report.py:
# TFLOP/s and ratios) and ncu.txt (ncu --clock-control none, sections
# SpeedOfLight, ComputeWorkloadAnalysis, WarpStateStats and Occupancy, of
# NCU_VARIANT's kernel at N 8192, d 64 and 128, not causal).
# NCU_STALLS=1 adds ncu_stalls.txt: the per-issue stall breakdown (raw
# smsp__average_warps_issue_stalled_* metrics of WarpStateStats) of the same
# two timed launches.
# REPEATS (default 10), SEQLENS, HEAD_DIMS (default 64 128, e.g. 256)
# override the grid; BACKWARD=1 times forward + backward instead (`bench
# --backward`, sdpa_bench.py --backward, no GQA rows; report.md in
# fwd_bwd_tflops); SKIP_BENCH=1 (bench and SDPA), SKIP_SDPA=1, SKIP_NCU=1.
set -uo pipefail
BIN=${1:?BIN} OUT=${2:?OUT} NV=${3:?NCU_VARIANT}
shift 3
mkdir -p "$OUT"
commit=$(sed -n 's/^commit=//p' "$BIN/BUILD_INFO")
args=()
for v in "$@"; do args+=(--variant "$v"); done
SEQ=${SEQLENS:-512 1024 2048 4096 8192 16384}
DIMS=${HEAD_DIMS:-64 128}
bwd=() sbwd=() metric=()
if [ -n "${BACKWARD:-}" ]; then
  bwd=(--backward --gqa-heads-kv 0) sbwd=(--backward --gqa-heads-kv) metric=(--metric fwd_bwd_tflops)
fi
if [ -z "${SKIP_BENCH:-}" ]; then
timeout 300 "$BIN/flashcheck" bench "${bwd[@]}" "${args[@]}" --head-dims $DIMS --seqlens $SEQ \
  --repeats "${REPEATS:-10}" --commit "$commit" --csv "$OUT/bench.csv" >"$OUT/bench.log" 2>&1
echo "bench: rc=$?"
if [ -z "${SKIP_SDPA:-}" ]; then
  PYTHONUNBUFFERED=1 timeout 300 python3 scripts/sdpa_bench.py "${sbwd[@]}" --head-dims $DIMS --seqlens $SEQ \
    --repeats "${REPEATS:-10}" --commit "$commit" --csv "$OUT/sdpa.csv" >"$OUT/sdpa.log" 2>&1
  echo "sdpa_bench: rc=$?"
  python3 scripts/gpu_report.py "$OUT/bench.csv" "$OUT/sdpa.csv" "${metric[@]}" >"$OUT/report.md"
  echo "gpu_report: rc=$?"
fi
fi
if [ -z "${SKIP_NCU:-}" ]; then
  # Launches: d 64 warm-up, d 64 timed, d 128 warm-up, d 128 timed, all
  # profiled (ncu clears the caches before each one itself).
  timeout 300 ncu --clock-control none -k "regex:${NV}_kernel" --launch-count 4 \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section WarpStateStats \
    --section Occupancy "$BIN/flashcheck" bench --variant "$NV" --head-dims 64 128 \
    --seqlens 8192 --masks none --warmup 1 --repeats 1 --csv /dev/null >"$OUT/ncu.txt" 2>&1
  echo "ncu: rc=$?"
fi
if [ -n "${NCU_STALLS:-}" ]; then
  for d in 64 128; do
    echo "== d $d, N 8192, not causal (timed launch)" >>"$OUT/ncu_stalls.txt"
    timeout 300 ncu --clock-control none -k "regex:${NV}_kernel" --launch-skip 1 --launch-count 1 \
      --section WarpStateStats --page raw "$BIN/flashcheck" bench --variant "$NV" --head-dims $d \
      --seqlens 8192 --masks none --warmup 1 --repeats 1 --csv /dev/null >"$OUT/ncu_raw_$d.txt" 2>&1
    echo "ncu stalls d $d: rc=$?"
    grep -E "issue_stalled_[a-z_]+_per_issue_active.ratio|warp_latency_per_inst_issued|inst_executed.sum " \
      "$OUT/ncu_raw_$d.txt" >>"$OUT/ncu_stalls.txt"
  done
fi
