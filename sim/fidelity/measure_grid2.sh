#!/usr/bin/env bash
# The fresh held-out grid (reports/fidelity/grid2) on the GPU machine, in one call. First the
# measuring build predicts (grid_predict.sh) and stops unless that is the frozen copy
# (grid2/frozen_predictions.txt); then ncu's main pass (ncu_measure.sh), a write-back pass
# (ncu_writeback.sh: flashcheck's kernels and PyTorch's), and up to REPS (default 2) repeats of
# both (reps/repK, writeback/wbK+1), each repeat begun only while BUDGET_S (default 540) seconds
# from the start leave room for one as long as the first; every ncu call gets half the seconds left. Copy OUT_DIR's files into
# reports/fidelity/grid2/ (beside cases.txt and the frozen files) and run `flashcheck report`.
# Usage: measure_grid2.sh BIN_DIR OUT_DIR   (BIN_DIR: flashcheck and its BUILD_INFO)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
GRID=$HERE/../../reports/fidelity/grid2
BIN=$1
OUT=$2
mkdir -p "$OUT"
start=$(date +%s)
bash "$HERE/grid_predict.sh" "$BIN/flashcheck" "$GRID/cases.txt" >"$OUT/predictions.txt" || exit 1
if ! cmp -s "$OUT/predictions.txt" "$GRID/frozen_predictions.txt"; then
  echo "measure_grid2: $BIN/flashcheck does not predict the frozen grid2 predictions; nothing measured" >&2
  exit 1
fi
echo "predicted $(date -u +%FT%TZ), before any grid2 measurement: the frozen predictions" >"$OUT/predicted.txt"
pass() {  # what, then the command: run with each of its (at most two) ncu calls given half the
  # seconds left, skipped with under 60 left; its wall time goes to timing.txt
  local p0=$(date +%s) what=$1 left
  shift
  left=$((${BUDGET_S:-540} - (p0 - start)))
  if [ "$left" -lt 60 ]; then
    echo "$what skipped: ${left} s left" >>"$OUT/timing.txt"
    return 1
  fi
  NCU_TIMEOUT=$((left / 2)) "$@"
  echo "$what $(($(date +%s) - p0)) s (ncu limit $((left / 2)) s each)" >>"$OUT/timing.txt"
}
t0=$(date +%s)
pass main bash "$HERE/ncu_measure.sh" "$BIN" "$OUT" "$GRID/cases.txt" || exit 1
pass writeback/wb1 bash "$HERE/ncu_writeback.sh" "$OUT/writeback/wb1" "$GRID/cases.txt" "$BIN"
cycle=$(($(date +%s) - t0))  # a main pass and a write-back pass
for k in $(seq 1 "${REPS:-2}"); do
  left=$((${BUDGET_S:-540} - ($(date +%s) - start)))
  [ "$left" -gt $((cycle + 30)) ] || { echo "rep$k skipped: ${left} s left, a repeat takes ${cycle} s" >>"$OUT/timing.txt"; break; }
  pass "reps/rep$k" bash "$HERE/ncu_measure.sh" "$BIN" "$OUT/reps/rep$k" "$GRID/cases.txt"
  pass "writeback/wb$((k + 1))" bash "$HERE/ncu_writeback.sh" "$OUT/writeback/wb$((k + 1))" "$GRID/cases.txt" "$BIN"
done
