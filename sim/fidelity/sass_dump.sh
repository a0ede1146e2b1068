#!/usr/bin/env bash
# The SASS of the ARCH cubins of BINARY that hold a kernel whose mangled name contains PATTERN, for
# reading a kernel's local-memory stores (STL) and where its loops are (sass_frame_slots.py). Every
# cubin is extracted once (`cuobjdump -arch ARCH -xelf all`: no rescan of a large library per
# kernel); each one naming PATTERN is listed with `cuobjdump -sass` into OUT_DIR/<cubin>.sass.gz,
# and OUT_DIR/index.tsv names them. A kernel's frame per thread is stack_frames.sh's to read.
# Usage: sass_dump.sh BINARY ARCH PATTERN OUT_DIR   (CUOBJDUMP=path if cuobjdump is not on PATH)
set -euo pipefail
BINARY=$(realpath "$1")
ARCH=$2
PATTERN=$3
mkdir -p "$4"
OUT=$(realpath "$4")
CU=${CUOBJDUMP:-$(command -v cuobjdump || echo /usr/local/cuda/bin/cuobjdump)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && "$CU" -arch "$ARCH" -xelf all "$BINARY" >/dev/null)
echo -e "cubin\tkernels_naming_pattern" >"$OUT/index.tsv"
n=0
for cubin in "$work"/*.cubin; do
  [ -e "$cubin" ] || continue
  grep -qaF "$PATTERN" "$cubin" || continue
  n=$((n + 1))
  name=$(basename "$cubin" .cubin)
  "$CU" -sass "$cubin" | gzip -9 >"$OUT/$name.sass.gz"
  printf '%s\t%s\n' "$name" "$(grep -aoF "$PATTERN" "$cubin" | wc -l)" >>"$OUT/index.tsv"
done
echo "sass_dump: $n of $(ls "$work" | wc -l) $ARCH cubins name $PATTERN"
[ "$n" -gt 0 ]
