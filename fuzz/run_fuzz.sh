#!/usr/bin/env bash
# Builds the libFuzzer targets with clang + ASan + UBSan (build-fuzz/) and
# fuzzes each for SECONDS (default 660). New coverage is merged back into
# fuzz/corpus/<target> (kept small: -max_len), crashes land in
# fuzz/crashes/<target>/ and become CTest regressions (fuzz_replay_<target>).
# Usage: fuzz/run_fuzz.sh [SECONDS] [TARGET...]   (targets: npy problem_json)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-660}; shift || true
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(npy problem_json)
flags="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=all"
cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFLASHCHECK_CUDA=OFF -DFLASHCHECK_TESTS=OFF -DFLASHCHECK_FUZZ=ON \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build build-fuzz -j2 --target $(printf 'fuzz_%s ' "${targets[@]}")
for t in "${targets[@]}"; do
  work=build-fuzz/corpus-$t; mkdir -p "$work" "fuzz/crashes/$t"
  echo "fuzz: $t for ${secs}s"
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
  build-fuzz/fuzz/fuzz_$t "$work" "fuzz/corpus/$t" -dict="fuzz/$t.dict" -max_len=4096 \
    -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="fuzz/crashes/$t/" 2>&1 | tee "build-fuzz/fuzz-$t.log" | grep -v '^#' || true
  # Keep only the inputs that add coverage.
  min="build-fuzz/min-$t"; rm -rf "$min"; mkdir -p "$min"
  build-fuzz/fuzz/fuzz_$t -merge=1 "$min" "fuzz/corpus/$t" "$work" > "build-fuzz/merge-$t.log" 2>&1 || true
  if [ -n "$(ls -A "$min")" ]; then rm -rf "fuzz/corpus/$t" && mv "$min" "fuzz/corpus/$t"; fi
  echo "fuzz: $t corpus $(ls "fuzz/corpus/$t" | wc -l) files, crashes: $(ls "fuzz/crashes/$t" | wc -l)"
done
