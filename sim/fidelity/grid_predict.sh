#!/usr/bin/env bash
# The GPU model's predictions for a fidelity grid: for every case of CASES and every kernel the
# report judges there (flashcheck's flash2_fwd / flash2_bwd where heads_q = heads_kv, PyTorch's
# torch_flash_fwd / torch_flash_bwd always), a '## id kernel' line and the GPU model's lines of
# `flashcheck sim --format json` of it (traffic, shares, CTAs; not the roofline's times). Deterministic: the frozen copy (reports/fidelity/grid2/frozen_predictions.txt) is
# what ctest grid2_frozen and measure_grid2.sh compare against, so a model change shows.
# Usage: grid_predict.sh FLASHCHECK CASES
set -euo pipefail
FC=$1
CASES=$2
while read -r id b hq hkv s d mask half; do
  case "$id" in ''|\#*) continue ;; esac
  kernels="torch_flash_fwd torch_flash_bwd"
  [ "$hq" = "$hkv" ] && kernels="flash2_fwd flash2_bwd $kernels"
  for k in $kernels; do
    dir=fwd
    case "$k" in *bwd) dir=bwd ;; esac
    echo "## $id $k"
    "$FC" sim --variant "$k" --preset h200 --batch "$b" --heads "$hq" --kv-heads "$hkv" --seqlen "$s" \
      --head-dim "$d" --mask "$mask" --dtype bf16 --direction "$dir" --format json |
      grep -E '"(dram_|l2_|sm_|spill_|stack_|hbm_read|hbm_write|simulated_|concurrent_|fitting_|reuse|modelled|block_)'
  done
done <"$CASES"
