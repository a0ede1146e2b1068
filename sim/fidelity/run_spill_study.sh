#!/usr/bin/env bash
# One GPU call for the spill study (sim/README.md, "Spills"): PyTorch's forward on the design
# cases (spill_cases.txt) under ncu with L2 write lookups and local-memory counters, their
# write-back pass, the spill probe with a written-once frame part, and the SASS of PyTorch's
# bf16 d 64 / 128 forwards. Usage: run_spill_study.sh BIN_DIR OUT_DIR
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$1
OUT=$2
mkdir -p "$OUT"
NCU_TIMEOUT=150 "$HERE/ncu_spill_scan.sh" "$OUT/scan" "$HERE/spill_cases.txt"
NCU_TIMEOUT=120 "$HERE/ncu_writeback.sh" "$OUT/scan_wb" "$HERE/spill_cases.txt"
SWEEPS="16 16 0.5 4 0.5 1 64
16 4 0.5 4 0.5 1 64
16 16 0.5 4 0.5 1 32
16 16 0.5 4 0.5 256 64
64 16 0.5 4 0.5 1 0" NCU_TIMEOUT=100 "$HERE/ncu_spill_probe.sh" "$OUT/spillprobe_p3" "$BIN/fc_spill_probe"
LIB=$(python3 -c "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib', 'libtorch_cuda.so'))")
# The mangled prefix of PyTorch's flash_fwd_kernel<Flash_fwd_kernel_traits<...>>; sass_frame_slots.py --match picks d and dtype.
timeout 120 "$HERE/sass_dump.sh" "$LIB" sm_90 _ZN13pytorch_flash16flash_fwd_kernelI23Flash_fwd_kernel_traitsILi "$OUT/torch_fwd_sass" \
  >"$OUT/sass_dump.log" 2>&1
echo "sass_dump rc=$?" >>"$OUT/sass_dump.log"
