#!/usr/bin/env bash
# The L2's reuse of a stream every resident CTA reads wave after wave (kernels/tools/l2_probe.cu),
# under ncu: L2 flushed before each launch, DRAM and crossbar bytes per launch. Sweeps (MODE
# CTAS_PER_SM WAVES FROM TO STEP, sizes as fractions of the L2) one process each; a sweep's
# plan_*.csv (the probe's stdout) lists its launches in the order of its ncu_*.csv rows.
# Usage: ncu_l2_probe.sh OUT_DIR PROBE_BINARY
set -uo pipefail
OUT=$1
PROBE=$2
. "$(dirname "$0")/probe_device.sh"
probe_device_txt "$OUT" "$PROBE"
METRICS=dram__bytes_read.sum,dram__bytes_write.sum,l1tex__m_xbar2l1tex_read_bytes.sum,lts__t_sector_hit_rate.pct
SWEEPS=${SWEEPS:-"read 1 4 0.20 1.20 0.025
read 2 4 0.20 1.20 0.025
pair 1 4 0.10 0.80 0.025
pair 2 4 0.10 0.80 0.025"}
while read -r mode per waves from to step; do
  [ -n "$mode" ] || continue
  name=${mode}_c${per}_w${waves}
  timeout ${NCU_TIMEOUT:-150} ncu --cache-control all --clock-control none --print-units base --csv \
    --metrics "$METRICS" -k fc_l2_cycle --log-file "$OUT/ncu_$name.log" \
    "$PROBE" "$mode" "$per" "$waves" "$from" "$to" "$step" >"$OUT/plan_$name.csv.raw" 2>"$OUT/probe_$name.err"
  rc=$?
  # ncu's CSV goes to the log file; the probe's own lines (CSV, starting with a launch number or the header) to stdout.
  grep -E '^(launch,|[0-9]+,)' "$OUT/plan_$name.csv.raw" >"$OUT/plan_$name.csv"
  grep -E '^"' "$OUT/ncu_$name.log" >"$OUT/ncu_$name.csv"
  echo "$name rc=$rc launches=$(($(wc -l <"$OUT/plan_$name.csv") - 1))" >>"$OUT/device.txt"
done <<<"$SWEEPS"
