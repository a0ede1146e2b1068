#!/usr/bin/env bash
# Nsight Compute counts of the fidelity grid (sim/fidelity/cases.txt) on the
# GPU machine: flashcheck's flash2_fwd and flash2_bwd (`flashcheck bench`, one
# process per case and direction) and PyTorch's SDPA flash backend
# (sdpa_cases.py). L2 is flushed before every profiled kernel (ncu's default
# --cache-control all); clocks are left alone (--clock-control none).
# SM-side reads are l1tex__m_xbar2l1tex_read_bytes (bytes the crossbar delivers to
# the SMs); lts__t_sectors_srcunit_tex_op_read is kept beside it: on the H200 it
# misses the sectors served across the L2's partition fabric (sim/README.md).
# Usage: ncu_measure.sh BIN_DIR OUT_DIR [CASES]   (BIN_DIR holds flashcheck;
# CASES defaults to cases.txt here, and is copied to OUT_DIR/cases.txt)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$1
OUT=$2
CASES=${3:-$HERE/cases.txt}
mkdir -p "$OUT"
cp "$CASES" "$OUT/cases.txt"
METRICS=dram__bytes_read.sum,dram__bytes_write.sum,l1tex__m_xbar2l1tex_read_bytes.sum,lts__t_sectors_srcunit_ltcfabric.sum,lts__t_sectors_srcunit_tex_op_read.sum,lts__t_sector_hit_rate.pct,lts__t_sectors_srcunit_tex_op_write.sum,lts__t_sectors_srcunit_tex_op_red.sum,launch__occupancy_limit_registers,launch__occupancy_limit_shared_mem,launch__occupancy_limit_warps,launch__registers_per_thread,gpu__time_duration.sum
NCU="ncu --clock-control none --print-units base --metrics $METRICS --csv --target-processes all"
{
  echo "date=$(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  ncu --version | tail -1
  python3 -c "import torch; p=torch.cuda.get_device_properties(0); print('torch', torch.__version__, p.name, p.multi_processor_count, 'SMs', p.L2_cache_size, 'B L2')"
  cat "$BIN/BUILD_INFO" 2>/dev/null
} >"$OUT/device.txt" 2>&1
# flashcheck: a driver script, one bench process per case and direction.
DRV=$OUT/fc_driver.sh
echo 'set -u' >"$DRV"
while read -r id b hq hkv s d mask half; do
  case "$id" in ''|\#*) continue ;; esac
  [ "$hq" = "$hkv" ] || continue   # flashcheck bench has no GQA
  echo "echo CASE $id fwd; $BIN/flashcheck bench --variant flash2_fwd --dtype bf16 --head-dims $d --seqlens $s --masks $mask --tokens $((b * s)) --hidden $((hq * d)) --warmup 0 --repeats 1 --l2-flush off >/dev/null" >>"$DRV"
  echo "echo CASE $id bwd; $BIN/flashcheck bench --backward --variant flash2_bwd --dtype bf16 --head-dims $d --seqlens $s --masks $mask --tokens $((b * s)) --hidden $((hq * d)) --warmup 0 --repeats 1 --l2-flush off >/dev/null" >>"$DRV"
done <"$CASES"
timeout ${NCU_TIMEOUT:-200} $NCU -k regex:'flash2|dot_do_o|dq_convert' bash "$DRV" >"$OUT/ncu_flashcheck.csv" 2>"$OUT/ncu_flashcheck.log"
echo "flashcheck rc=$?" >>"$OUT/device.txt"
timeout ${NCU_TIMEOUT:-200} $NCU -k regex:'flash|fc_case_marker' python3 "$HERE/sdpa_cases.py" "$CASES" \
  >"$OUT/ncu_sdpa.csv" 2>"$OUT/ncu_sdpa.log"
echo "sdpa rc=$?" >>"$OUT/device.txt"
