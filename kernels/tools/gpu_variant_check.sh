#!/usr/bin/env bash
# GPU check of ONE forward variant, for a device lease too short for the full
# scripts/gpu_check.sh run: on the GPU machine, from the repository root,
#
#   kernels/tools/gpu_variant_check.sh BIN OUT VARIANT [BASELINE]
#
# BIN holds the binaries of `scripts/gpu_check.sh build` (with BUILD_INFO),
# OUT receives the logs, the bench CSV and summary_<VARIANT>.txt.
#  1. fc_kernel_driver compare VARIANT: every small awkward problem against
#     `standard` (a quick cross-check that needs no float64 reference);
#  2. the GPU properties, restricted to VARIANT's sections (Catch2 -c with the
#     section names of properties/kernels/forward_properties.cpp; the fixed
#     awkward shapes and unsupported-problem test cases have no per-variant
#     section and run for every forward variant; SKIP_SHARED=1 leaves them out);
#  3. compute-sanitizer memcheck and racecheck on fc_kernel_driver sanitize VARIANT
#     (SANITIZERS="memcheck racecheck initcheck synccheck" for all four);
#  4. flashcheck bench of VARIANT beside BASELINE (default flash2_fwd) on the
#     ANCHORS.md grid subset d 64/128, N 2048/8192, causal and not, bf16
#     (SEQLENS, REPEATS override).
# Every step has a timeout; the summary records each step's exit status.
# When step 1 fails, steps 2 and 3 are skipped (ONLY_BENCH=1 forces that).
set -uo pipefail
BIN=${1:?BIN} OUT=${2:?OUT} V=${3:?VARIANT} BASE=${4:-flash2_fwd}
mkdir -p "$OUT"
S=$OUT/summary_$V.txt
commit=$(sed -n 's/^commit=//p' "$BIN/BUILD_INFO")
{
  echo "flashcheck GPU check of $V (kernels/tools/gpu_variant_check.sh)"
  echo "commit: $commit"
  echo "date: $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/gpu: /'
} >"$S"

step() {  # step NAME TIMEOUT LOG CMD...: runs CMD, records its status
  local name=$1 t=$2 log=$3
  shift 3
  echo "== $name" | tee -a "$log"
  timeout "$t" "$@" >>"$log" 2>&1
  local rc=$?
  echo "$name: rc=$rc; $(grep -E "$SUMMARY_RE" "$log" | tail -1)" | tee -a "$S"
  return $rc
}

SUMMARY_RE='compare: |test cases|All tests passed|ERROR SUMMARY|RACECHECK SUMMARY|sanitize: .* runs'
# A variant that already disagrees with `standard` skips to the bench: the
# properties would only spend the lease shrinking the same failure.
step "compare" 60 "$OUT/compare.log" "$BIN/fc_kernel_driver" compare "$V"
rc=$?
if [ $rc -ne 0 ]; then
  grep -E "^FAIL" "$OUT/compare.log" | head -20 >>"$S"
  ONLY_BENCH=1
  [ $rc -eq 124 ] && NO_BENCH=1  # a hang: nothing else would finish either
fi
if [ -z "${ONLY_BENCH:-}" ]; then

P=$BIN/kernels_gpu_properties
step "properties: accuracy" 150 "$OUT/properties.log" "$P" --durations yes \
  "forward variants agree with the float64 reference" \
  -c "$V: O within the accuracy rule and LSE within the float32 bound, on lengths 1..2049"
step "properties: large logits" 90 "$OUT/properties.log" "$P" --durations yes \
  "forward variants stay finite and accurate for large logits" \
  -c "$V: no NaN or Inf and the accuracy rule holds for logits up to 1e4"
step "properties: deterministic" 90 "$OUT/properties.log" "$P" --durations yes \
  "forward variants are deterministic" -c "$V: 20 reruns give bitwise identical O and LSE"
if [ -z "${SKIP_SHARED:-}" ]; then  # SKIP_SHARED=1: already run for another variant
  step "properties: fixed shapes (every fwd variant)" 150 "$OUT/properties.log" "$P" --durations yes \
    "forward variants pass fixed awkward shapes"
  # Catch2 splits test specs at commas: the comma in the name is escaped.
  step "properties: unsupported (every fwd variant)" 60 "$OUT/properties.log" "$P" \
    'unsupported problems are reported as errors\, never run'
fi
grep -E "^fixed shapes: |^property '" "$OUT/properties.log" >>"$S"

for tool in ${SANITIZERS:-memcheck racecheck}; do
  step "sanitizer $tool" 150 "$OUT/sanitizer.log" compute-sanitizer --tool "$tool" \
    --error-exitcode 99 "$BIN/fc_kernel_driver" sanitize "$V"
done

fi

SUMMARY_RE='^$'
[ -z "${NO_BENCH:-}" ] && step "bench" 150 "$OUT/bench.log" "$BIN/flashcheck" bench --variant "$V" --variant "$BASE" \
  --head-dims 64 128 --seqlens ${SEQLENS:-2048 8192} --masks none causal \
  --repeats "${REPEATS:-10}" --commit "$commit" --csv "$OUT/bench_$V.csv"
echo "== summary"
cat "$S"
