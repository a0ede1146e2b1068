#!/usr/bin/env bash
# Stack frames in L2 (kernels/tools/spill_probe.cu) under ncu: L2 left alone (--cache-control
# none), DRAM counters only; the probe follows each launch with a read-only drain, so a launch's
# dram__bytes_write is the frame lines evicted while it ran and the drain's those dirty at its end.
# Sweeps (FRAME_WORDS WAVES FILL_FROM FILL_TO FILL_STEP [STAGGER [COLD_WORDS [REREADS [HOT_FRAC [GROUP]]]]]), one process each; plan_<sweep>.csv (the
# probe's stdout) lists its launches in the order of ncu_<sweep>.csv's fc_spill_cycle rows.
# Usage: ncu_spill_probe.sh OUT_DIR PROBE_BINARY
set -uo pipefail
OUT=$1
PROBE=$2
. "$(dirname "$0")/probe_device.sh"
probe_device_txt "$OUT" "$PROBE"
SWEEPS=${SWEEPS:-"64 4 0.5 8 0.5
32 4 0.5 8 0.5
16 4 0.5 8 0.5
64 1 1 8 1
64 16 1 8 1"}
while read -r words waves from to step stagger cold rr hf grp; do
  [ -n "$words" ] || continue
  name=f${words}_w${waves}${stagger:+_s$stagger}${cold:+_c$cold}${rr:+_r$rr}${hf:+_h$hf}${grp:+_g$grp}
  timeout ${NCU_TIMEOUT:-150} ncu --cache-control none --clock-control none --print-units base --csv \
    --metrics dram__bytes_read.sum,dram__bytes_write.sum -k regex:'fc_spill_cycle|fc_l2_flush' \
    --log-file "$OUT/ncu_$name.log" "$PROBE" "$words" "$waves" "$from" "$to" "$step" ${stagger:+"$stagger"} ${cold:+"$cold"} ${rr:+"$rr"} ${hf:+"$hf"} ${grp:+"$grp"} \
    >"$OUT/plan_$name.raw" 2>"$OUT/probe_$name.err"
  rc=$?
  grep -E '^(launch,|[0-9]+,)' "$OUT/plan_$name.raw" >"$OUT/plan_$name.csv"
  grep -E '^"' "$OUT/ncu_$name.log" >"$OUT/ncu_$name.csv"
  rm -f "$OUT/plan_$name.raw"
  echo "$name rc=$rc launches=$(($(wc -l <"$OUT/plan_$name.csv") - 1))" >>"$OUT/device.txt"
done <<<"$SWEEPS"
