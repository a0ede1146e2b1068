#!/usr/bin/env bash
# Eventual DRAM writes: ncu with --cache-control none (L2 not flushed by ncu) and only DRAM
# counters (one pass, so no kernel replay sees a warmed L2); each measured kernel is followed by
# a read-only drain kernel, fc_l2_flush (a never-written buffer of 4x the L2), whose DRAM writes
# are the lines the kernel left dirty. PyTorch SDPA's flash kernels: sdpa_writeback.py.
# flashcheck's flash2_fwd / flash2_bwd (with BIN_DIR): `flashcheck bench --backward
# --l2-flush read`, one process per case (the forward, then the backward, each between drains).
# Usage: ncu_writeback.sh OUT_DIR [CASES] [BIN_DIR]   (SKIP_SDPA=1: flashcheck's kernels only)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$1
CASES=${2:-$HERE/cases.txt}
BIN=${3:-}
mkdir -p "$OUT"
cp "$CASES" "$OUT/cases.txt"
NCU="ncu --cache-control none --clock-control none --print-units base --metrics dram__bytes_read.sum,dram__bytes_write.sum --csv --target-processes all"
{
  echo "date=$(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  ncu --version | tail -1
  [ -n "${SKIP_SDPA:-}" ] || python3 -c 'import torch; p=torch.cuda.get_device_properties(0); print("torch", torch.__version__, p.name, p.multi_processor_count, "SMs", p.L2_cache_size, "B L2")'
  [ -n "$BIN" ] && cat "$BIN/BUILD_INFO" 2>/dev/null
} >"$OUT/device.txt" 2>&1
if [ -n "$BIN" ]; then
  # One process per case (no GQA in flashcheck bench; --gqa-heads-kv 0: the MHA row only), in
  # cases.txt order: the report maps processes to cases by that order.
  DRV=$OUT/fc_driver.sh
  echo 'set -u' >"$DRV"
  while read -r id b hq hkv s d mask half; do
    case "$id" in ''|\#*) continue ;; esac
    [ "$hq" = "$hkv" ] || continue
    echo "echo CASE $id; $BIN/flashcheck bench --backward --variant flash2_bwd --dtype bf16 --head-dims $d --seqlens $s --masks $mask --tokens $((b * s)) --hidden $((hq * d)) --gqa-heads-kv 0 --warmup 0 --repeats 1 --l2-flush read >/dev/null" >>"$DRV"
  done <"$CASES"
  timeout ${NCU_TIMEOUT:-200} $NCU -k regex:'flash2|dot_do_o|dq_convert|fc_l2_flush' bash "$DRV" \
    >"$OUT/ncu_flashcheck_wb.csv" 2>"$OUT/ncu_flashcheck_wb.log"
  echo "flashcheck_writeback rc=$?" >>"$OUT/device.txt"
fi
if [ -z "${SKIP_SDPA:-}" ]; then
  timeout ${NCU_TIMEOUT:-200} $NCU -k regex:'flash|fc_case_marker|fc_l2_flush' python3 "$HERE/sdpa_writeback.py" "$CASES" \
    >"$OUT/ncu_sdpa_wb.csv" 2>"$OUT/ncu_sdpa_wb.log"
  echo "sdpa_writeback rc=$?" >>"$OUT/device.txt"
fi
