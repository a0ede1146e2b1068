#!/usr/bin/env bash
# Eventual DRAM writes of PyTorch SDPA's flash kernels: ncu with --cache-control none (L2 not
# flushed by ncu) and only DRAM counters (one pass, so no kernel replay sees a warmed L2);
# sdpa_writeback.py brackets each kernel with a read-only flush kernel. flashcheck's bench flushes
# with a memset (a write), so its kernels are not measured this way.
# Usage: ncu_writeback.sh OUT_DIR [CASES]
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$1
CASES=${2:-$HERE/cases.txt}
mkdir -p "$OUT"
cp "$CASES" "$OUT/cases.txt"
{
  echo "date=$(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  ncu --version | tail -1
  python3 -c 'import torch; p=torch.cuda.get_device_properties(0); print("torch", torch.__version__, p.name, p.multi_processor_count, "SMs", p.L2_cache_size, "B L2")'
} >"$OUT/device.txt" 2>&1
timeout ${NCU_TIMEOUT:-200} ncu --cache-control none --clock-control none --print-units base \
  --metrics dram__bytes_read.sum,dram__bytes_write.sum --csv --target-processes all \
  -k regex:'flash|fc_case_marker|fc_l2_flush' python3 "$HERE/sdpa_writeback.py" "$CASES" \
  >"$OUT/ncu_sdpa_wb.csv" 2>"$OUT/ncu_sdpa_wb.log"
echo "sdpa_writeback rc=$?" >>"$OUT/device.txt"
