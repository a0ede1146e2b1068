#!/usr/bin/env bash
# Where PyTorch's spilling forward (flash_fwd_kernel, 255 registers) sends its stores: ncu of its
# forward on design cases (not the fidelity grid's), L2 flushed before the kernel, with the grid's
# DRAM/L2 counters plus L2 write lookups (hit/miss) and L1's local-memory sectors, each kept only
# where this ncu knows it (ncu --query-metrics). Measured on the H200 (reports/fidelity/spillstudy/s23):
# the write-lookup miss counter reads 0 for every kernel, O's first writes included (writes look
# up as hits), so it cannot count re-allocated frame lines; DRAM writes beyond O + LSE are the measure.
# Usage: ncu_spill_scan.sh OUT_DIR CASES
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$1
CASES=$2
mkdir -p "$OUT"
cp "$CASES" "$OUT/cases.txt"
BASE=dram__bytes_read.sum,dram__bytes_write.sum,l1tex__m_xbar2l1tex_read_bytes.sum,lts__t_sectors_srcunit_tex_op_write.sum,lts__t_sectors_srcunit_tex_op_read.sum,launch__registers_per_thread,launch__grid_size,launch__occupancy_limit_registers,gpu__time_duration.sum
EXTRA="lts__t_sectors_srcunit_tex_op_write_lookup_hit lts__t_sectors_srcunit_tex_op_write_lookup_miss
lts__t_sectors_srcunit_tex_op_read_lookup_miss l1tex__t_sectors_pipe_lsu_mem_local_op_st
l1tex__t_sectors_pipe_lsu_mem_local_op_ld l1tex__t_sectors_pipe_lsu_mem_local_op_ld_lookup_hit
l1tex__t_sectors_pipe_lsu_mem_local_op_ld_lookup_miss l1tex__m_l1tex2xbar_write_bytes
lts__t_sectors_aperture_device_op_write lts__t_sectors_srcunit_tex_aperture_device_op_write"
ncu --query-metrics --chip gh100 >"$OUT/metrics_gh100.txt" 2>&1
METRICS=$BASE
for m in $EXTRA; do
  grep -qw "^$m" "$OUT/metrics_gh100.txt" && METRICS=$METRICS,$m.sum || echo "not in ncu: $m" >>"$OUT/device.txt"
done
{
  echo "date=$(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  ncu --version | tail -1
  python3 -c "import torch; print('torch', torch.__version__)"
  echo "metrics=$METRICS"
} >>"$OUT/device.txt" 2>&1
timeout ${NCU_TIMEOUT:-200} ncu --clock-control none --print-units base --metrics "$METRICS" --csv --target-processes all \
  -k regex:'flash_fwd|fc_case_marker' python3 "$HERE/sdpa_cases.py" "$CASES" >"$OUT/ncu_sdpa_scan.csv" 2>"$OUT/ncu_sdpa_scan.log"
echo "scan rc=$?" >>"$OUT/device.txt"
