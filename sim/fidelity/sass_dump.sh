#!/usr/bin/env bash
# The SASS of the kernels of BINARY whose demangled name matches REGEX, one gzipped file each
# (OUT_DIR/k<N>.sass.gz) and OUT_DIR/index.tsv (N, stack bytes, registers, demangled name), for
# reading a kernel's local-memory stores (STL) and where its loops are.
# Usage: sass_dump.sh BINARY ARCH REGEX OUT_DIR   (CUOBJDUMP=path if cuobjdump is not on PATH)
set -euo pipefail
BINARY=$1 ARCH=$2 REGEX=$3 OUT=$4
CU=${CUOBJDUMP:-$(command -v cuobjdump || echo /usr/local/cuda/bin/cuobjdump)}
mkdir -p "$OUT"
n=0
"$CU" -res-usage -arch "$ARCH" "$BINARY" 2>/dev/null |
  awk '/^ *Function / { name = $2; sub(/:$/, "", name); next }
       name != "" && /REG:/ { match($0, /REG:[0-9]+/); reg = substr($0, RSTART + 4, RLENGTH - 4);
                              match($0, /STACK:[0-9]+/); st = substr($0, RSTART + 6, RLENGTH - 6);
                              print st "\t" reg "\t" name; name = "" }' | sort -u >"$OUT/all.tsv"
while IFS=$'\t' read -r stack reg name; do
  dem=$(c++filt "$name")
  echo "$dem" | grep -qE "$REGEX" || continue
  n=$((n + 1))
  printf '%s\t%s\t%s\t%s\n' "$n" "$stack" "$reg" "$dem" >>"$OUT/index.tsv"
  "$CU" -sass -arch "$ARCH" -fun "$name" "$BINARY" 2>/dev/null | gzip -9 >"$OUT/k$n.sass.gz"
done <"$OUT/all.tsv"
rm -f "$OUT/all.tsv"
echo "sass_dump: $n kernels"
