#!/usr/bin/env bash
# Stack frame per thread (bytes) of the attention kernels in a CUDA binary, for one SASS arch:
# `cuobjdump -res-usage -arch ARCH BINARY`, demangled with c++filt, kernels whose name matches
# REGEX (matched after demangling; mangled names are kept where c++filt is absent). Prints TSV: stack_bytes, registers, kernel. The GPU model's frame table
# (sim/variants.cpp) is checked against these files by `flashcheck report`.
# Usage: stack_frames.sh BINARY ARCH REGEX   (CUOBJDUMP=path if cuobjdump is not on PATH)
set -euo pipefail
BINARY=$1
ARCH=$2
REGEX=$3
CU=${CUOBJDUMP:-$(command -v cuobjdump || echo /usr/local/cuda/bin/cuobjdump)}
echo "# $("$CU" --version | tail -1): $CU -res-usage -arch $ARCH $(basename "$BINARY"), kernels matching '$REGEX'"
echo -e "stack_bytes\tregisters\tkernel"
"$CU" -res-usage -arch "$ARCH" "$BINARY" 2>/dev/null |
  awk '/^ *Function / { name = $2; sub(/:$/, "", name); next }
       name != "" && /REG:/ { match($0, /REG:[0-9]+/); reg = substr($0, RSTART + 4, RLENGTH - 4);
                              match($0, /STACK:[0-9]+/); st = substr($0, RSTART + 6, RLENGTH - 6);
                              print st "\t" reg "\t" name; name = "" }' |
  sort -u |
  while IFS=$'\t' read -r stack reg name; do
    printf '%s\t%s\t%s\n' "$stack" "$reg" "$(command -v c++filt >/dev/null && c++filt "$name" || echo "$name")"
  done | grep -E "$REGEX" | sort -t$'\t' -k3 || true
