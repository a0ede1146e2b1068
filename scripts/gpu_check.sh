#!/usr/bin/env bash
# GPU check of the CUDA kernels, in two halves:
#
#   scripts/gpu_check.sh build   on a CPU machine with nvcc (no GPU needed):
#                                builds the GPU binaries into .gpu-build/ (git-
#                                ignored) and copies them to .gpu-build/bin
#                                with BUILD_INFO (commit, date). Only libcublas
#                                stays dynamic; libstdc++ is linked statically
#                                so the binaries run on the GPU image.
#   scripts/gpu_check.sh run     on the GPU machine, from the repository root
#                                (with .gpu-build/bin carried there): GPU
#                                properties, compute-sanitizer (memcheck,
#                                racecheck, initcheck, synccheck) on
#                                fc_kernel_driver, `flashcheck bench` on the
#                                ANCHORS.md grid plus --memory, PyTorch SDPA on
#                                the same grid, and the merged report; then the
#                                same for the backward (`bench --backward`,
#                                sdpa_bench.py --backward, both with the
#                                GQA/MQA rows), then the issue-14 goal table
#                                (scripts/gpu_goals.py -> goals.md). $OUT
#                                (default ./gpu-out) gets summary.txt,
#                                report*.md, goals.md and gpu_check.tar.gz
#                                (every log and CSV); a short summary is
#                                printed last.
#   scripts/gpu_check.sh collect T [F...]   copies files F (default summary.txt,
#                                properties.log, accuracy.csv, sanitizer.log)
#                                of the run's tarball T into reports/gpu/.
#
# Environment: CUDA_ARCHS (build; default 90a), JOBS (build; default 2),
# TUNING=ON (build flash2_tune), BIN (run: the folder of the carried
# binaries, default .gpu-build/bin; relative to the repository root),
# OUT (run), REPEATS (bench, default 10), SKIP_BENCH=1 / SKIP_FWD_BENCH=1 /
# SKIP_BWD_BENCH=1 (the plain backward grid) / SKIP_SANITIZER=1 / SKIP_PROPERTIES=1 /
# SKIP_VARIANT_BENCH=1 / SKIP_HEADDIM_BENCH=1 (run), SANITIZER_TOOLS (default
# "memcheck racecheck initcheck synccheck"), SANITIZER_VARIANTS (fc_kernel_driver
# sanitize's variants; default: every registered one), SANITIZER_DTYPE (its
# --dtype: every head dim in that dtype only; default: d 64 / 128 in each
# dtype, a padded head dim and d 256 in one), SANITIZER_HEAD_DIMS (its
# --head-dim, one per dim; default: all),
# VARIANT_SDPA_TIMEOUT (default 90 s per PyTorch variant script), VARIANT_SDPA_SEQLENS
# (the PyTorch variant rows' N, default "4096"), PROPERTIES_TIMEOUT (default
# 900 s) / SANITIZER_TIMEOUT (default 600 s, per tool) (run). `run` exits 1
# when the properties or a sanitizer tool failed or timed out (rc in
# summary.txt), 0 only when every part that ran passed.
#
# In `run` the four sanitizer tools run in the background, each into its own
# log, while the properties run (separate processes on one GPU: neither
# measures time, so sharing it changes no verdict); run waits for all of
# them before the benchmarks.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=$ROOT/.gpu-build
BUILD_BIN=$BUILD/bin
BIN_ASKED=${BIN:-}  # as given, for the command line in summary.txt
BIN=${BIN:-$BUILD_BIN}
case "$BIN" in /*) ;; *) BIN=$ROOT/$BIN ;; esac

build() {
  set -e
  cmake -S "$ROOT" -B "$BUILD/tree" -DCMAKE_BUILD_TYPE=Release -DFLASHCHECK_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90a}" -DFLASHCHECK_TUNING="${TUNING:-OFF}" \
    -DCMAKE_EXE_LINKER_FLAGS="-static-libstdc++ -static-libgcc" >/dev/null
  cmake --build "$BUILD/tree" -j"${JOBS:-2}" --target flashcheck fc_kernel_driver kernels_gpu_properties fc_l2_probe fc_spill_probe
  mkdir -p "$BUILD_BIN"
  cp "$BUILD/tree/cli/flashcheck" "$BUILD/tree/kernels/fc_kernel_driver" "$BUILD/tree/kernels/fc_l2_probe" "$BUILD/tree/kernels/fc_spill_probe" \
     "$BUILD/tree/properties/kernels/kernels_gpu_properties" "$BUILD_BIN/"
  local commit dirty
  commit=$(git rev-parse HEAD 2>/dev/null || echo none)
  dirty=$([ -n "$(git status --porcelain -- kernels properties/kernels cli 2>/dev/null)" ] && echo "+dirty" || true)
  printf 'commit=%s%s\nbuilt=%s\narchs=%s\n' "$commit" "$dirty" "$(date -u +%FT%TZ)" \
    "${CUDA_ARCHS:-90a}" >"$BUILD_BIN/BUILD_INFO"
  du -sh "$BUILD_BIN"
  echo "built; carry .gpu-build/bin to the GPU machine and run: scripts/gpu_check.sh run"
}

# The GPU properties: one process per Catch test case, PROPERTIES_JOBS at a
# time (default: all at once on 8+ cores, else 1). Each case's float64
# oracle runs on the CPU, so on a GPU host with many cores this divides the
# wall time by the number of test cases; the verdicts do not depend on it
# (no timing is asserted). Writes properties.log (every case's log in
# order), accuracy.csv (the records of all cases merged) and a summary line.
run_properties() {
  local jobs=${PROPERTIES_JOBS:-$( [ "$(nproc)" -ge 8 ] && echo 64 || echo 1 )}
  local names=() pids=() i=0 rc=0 t
  mapfile -t names < <("$BIN/kernels_gpu_properties" --list-test-names-only | sed '/^[[:space:]]*$/d')
  [ "${#names[@]}" -gt 0 ] || { echo "properties: no test cases listed" >>"$summary"; return 1; }
  for t in "${names[@]}"; do
    # A Catch test spec: ',' '[' ']' escaped, as catch_discover_tests does.
    local spec=${t//,/\\,}
    spec=${spec//\[/\\[}
    spec=${spec//\]/\\]}
    ( FLASHCHECK_ACCURACY_CSV="$OUT/accuracy_$i.csv" FLASHCHECK_COMMIT="$commit" \
        timeout "${PROPERTIES_TIMEOUT:-900}" "$BIN/kernels_gpu_properties" "$spec" --durations yes \
        >"$OUT/properties_$i.log" 2>&1
      echo $? >"$OUT/properties_$i.rc" ) &
    pids+=($!)
    i=$((i + 1))
    while [ "$(for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && echo; done | wc -l)" -ge "$jobs" ]; do
      sleep 1
    done
  done
  wait "${pids[@]}"
  local passed=0 assertions=0 n
  : >"$OUT/properties.log"
  for i in "${!names[@]}"; do
    local r
    r=$(cat "$OUT/properties_$i.rc" 2>/dev/null || echo missing)
    [ "$r" = 0 ] && passed=$((passed + 1)) || rc=1
    { echo "=== test case: ${names[$i]} (rc=$r)"; cat "$OUT/properties_$i.log"; } >>"$OUT/properties.log"
    n=$(grep -oE '\(([0-9]+) assertions? in|assertions: +[0-9]+' "$OUT/properties_$i.log" | grep -oE '[0-9]+' | tail -1)
    assertions=$((assertions + ${n:-0}))
    rm -f "$OUT/properties_$i.log" "$OUT/properties_$i.rc"
  done
  cat "$OUT/properties.log"
  local parts=()
  for t in "$OUT"/accuracy_*.csv; do [ -f "$t" ] && parts+=("$t"); done
  python3 - "$OUT/accuracy.csv" "${parts[@]}" <<'PY'
import csv, sys
# Merge the per-process records: counts add up, worst values take the max.
out, parts = sys.argv[1], sys.argv[2:]
key = ("device", "date", "commit", "variant", "direction", "output", "dtype", "mask")
merged, fields = {}, None
for path in sorted(parts, key=lambda p: int(p.rsplit("_", 1)[1].split(".")[0])):
    with open(path) as f:
        for r in csv.DictReader(f):
            fields = fields or list(r.keys())
            k = tuple(r[c] for c in key[3:])
            m = merged.setdefault(k, dict(r, cases="0", passed="0/0", informative="0/0",
                                          max_err="0", mean_err="0", baseline_max_err="0",
                                          ratio_to_baseline="0"))
            m["date"] = max(m["date"], r["date"])
            m["cases"] = str(int(m["cases"]) + int(r["cases"]))
            for c in ("passed", "informative"):
                a, b = (int(x) for x in m[c].split("/"))
                x, y = (int(x) for x in r[c].split("/"))
                m[c] = f"{a + x}/{b + y}"
            for c in ("max_err", "mean_err", "baseline_max_err", "ratio_to_baseline"):
                m[c] = r[c] if float(r[c]) > float(m[c]) else m[c]
with open(out, "w", newline="") as f:
    if fields:
        w = csv.DictWriter(f, fieldnames=fields, quoting=csv.QUOTE_MINIMAL)
        w.writeheader()
        for k in sorted(merged):
            w.writerow(merged[k])
PY
  rm -f "$OUT"/accuracy_*.csv
  echo "properties: rc=$rc; ${#names[@]} test cases, $passed passed, $((${#names[@]} - passed)) failed or timed out; $assertions assertions" >>"$summary"
  return $rc
}

run() {
  FINAL=${OUT:-$ROOT/gpu-out}
  OUT=$(mktemp -d)  # everything lands here; FINAL gets the summary, the report and a tarball
  mkdir -p "$FINAL"
  trap 'cp "$OUT/summary.txt" "$OUT"/report*.md "$OUT"/goals.md "$FINAL/" 2>/dev/null; tar -C "$OUT" -czf "$FINAL/gpu_check.tar.gz" .' EXIT
  [ -x "$BIN/flashcheck" ] || { echo "no $BIN/flashcheck: run 'scripts/gpu_check.sh build' first"; exit 2; }
  local commit
  commit=$(sed -n 's/^commit=//p' "$BIN/BUILD_INFO")
  local summary=$OUT/summary.txt
  {
    echo "flashcheck GPU check"
    echo "commit: $commit"
    echo "date: $(date -u +%FT%TZ)"
    echo "command: ${BIN_ASKED:+BIN=$BIN_ASKED }$(env | grep -E '^(SKIP_[A-Z_]+|PROPERTIES_JOBS|PROPERTIES_TIMEOUT|SANITIZER_[A-Z_]+|RC_PARAMS|REPEATS)=' |
      sort | tr '\n' ' ')scripts/gpu_check.sh run"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/gpu: /'
  } >"$summary"

  local failed=0 sanitizer_pids=()
  if [ -z "${SKIP_SANITIZER:-}" ]; then
    echo "== compute-sanitizer (background)"
    local sanitize_variants=() d
    read -ra sanitize_variants <<<"${SANITIZER_VARIANTS:-}"
    [ -n "${SANITIZER_DTYPE:-}" ] && sanitize_variants+=(--dtype "$SANITIZER_DTYPE")
    for d in ${SANITIZER_HEAD_DIMS:-}; do sanitize_variants+=(--head-dim "$d"); done
    for tool in ${SANITIZER_TOOLS:-memcheck racecheck initcheck synccheck}; do
      ( timeout "${SANITIZER_TIMEOUT:-600}" compute-sanitizer --tool "$tool" --error-exitcode 99 "$BIN/fc_kernel_driver" \
          sanitize "${sanitize_variants[@]}" >"$OUT/sanitizer_$tool.log" 2>&1
        echo "rc=$?" >"$OUT/sanitizer_$tool.rc" ) &
      sanitizer_pids+=($!)
    done
  fi

  if [ -z "${SKIP_PROPERTIES:-}" ]; then
    echo "== GPU properties"
    run_properties || failed=1
  fi

  if [ -z "${SKIP_SANITIZER:-}" ]; then
    wait "${sanitizer_pids[@]}"
    echo "== compute-sanitizer${SANITIZER_VARIANTS:+ (variants: $SANITIZER_VARIANTS)}${SANITIZER_DTYPE:+ (dtype: $SANITIZER_DTYPE)}${SANITIZER_HEAD_DIMS:+ (head dims: $SANITIZER_HEAD_DIMS)}" >"$OUT/sanitizer.log"
    for tool in ${SANITIZER_TOOLS:-memcheck racecheck initcheck synccheck}; do
      { echo "-- $tool"; cat "$OUT/sanitizer_$tool.log"; } >>"$OUT/sanitizer.log"
      local rc line runs
      rc=$(sed -n 's/^rc=//p' "$OUT/sanitizer_$tool.rc")
      line=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/sanitizer_$tool.log" | tail -1)
      runs=$(grep -E "^sanitize: [0-9]+ runs done" "$OUT/sanitizer_$tool.log" | tail -1)
      [ "$rc" = 0 ] || failed=1
      echo "sanitizer $tool: rc=$rc; $line; $runs" | tee -a "$summary"
      rm -f "$OUT/sanitizer_$tool.log" "$OUT/sanitizer_$tool.rc"
    done
  fi

  if [ -z "${SKIP_BENCH:-}" ] && [ -z "${SKIP_FWD_BENCH:-}" ]; then
    echo "== bench"
    "$BIN/flashcheck" bench --repeats "${REPEATS:-10}" --commit "$commit" --csv "$OUT/bench.csv" 2>&1 | tail -60
    "$BIN/flashcheck" bench --memory --commit "$commit" --csv "$OUT/memory.csv"
    PYTHONUNBUFFERED=1 python3 scripts/sdpa_bench.py --repeats "${REPEATS:-10}" --commit "$commit" \
      --csv "$OUT/sdpa.csv" 2>&1 | tail -60
    python3 scripts/gpu_report.py "$OUT/bench.csv" "$OUT/sdpa.csv" --memory "$OUT/memory.csv" \
      >"$OUT/report.md" && grep -E "ratio to PyTorch flash" "$OUT/report.md" >>"$summary"
  fi
  if [ -z "${SKIP_BENCH:-}" ] && [ -z "${SKIP_BWD_BENCH:-}" ]; then
    echo "== bench backward"
    "$BIN/flashcheck" bench --backward --repeats "${REPEATS:-10}" --commit "$commit" \
      --csv "$OUT/bench_bwd.csv" 2>&1 | tail -30
    "$BIN/flashcheck" bench --backward --memory --commit "$commit" --csv "$OUT/memory_bwd.csv"
    "$BIN/flashcheck" bench --backward --deterministic --repeats "${REPEATS:-10}" --commit "$commit" \
      --csv "$OUT/bench_bwd_det.csv" 2>&1 | tail -30
    PYTHONUNBUFFERED=1 python3 scripts/sdpa_bench.py --backward --repeats "${REPEATS:-10}" \
      --commit "$commit" --csv "$OUT/sdpa_bwd.csv" 2>&1 | tail -30
    python3 - "$OUT/bench_bwd.csv" "$OUT/bench_bwd_det.csv" >>"$summary" <<'PY'
import csv, statistics, sys
rows = [list(csv.DictReader(open(f))) for f in sys.argv[1:3]]
key = lambda r: (r["variant"], r["head_dim"], r["mask"], r["seqlen"])
det = {key(r): float(r["bwd_median_ms"]) for r in rows[1]}
for v in sorted({r["variant"] for r in rows[0]}):
    x = [det[key(r)] / float(r["bwd_median_ms"]) for r in rows[0] if r["variant"] == v and key(r) in det]
    if x:
        print(f"deterministic-mode cost {v}: backward time x{statistics.median(x):.2f} (median over the grid; min {min(x):.2f}, max {max(x):.2f})")
PY
    for m in fwd_bwd_tflops bwd_tflops; do
      python3 scripts/gpu_report.py "$OUT/bench_bwd.csv" "$OUT/sdpa_bwd.csv" --metric $m \
        --memory "$OUT/memory_bwd.csv" \
        --title "$m (FLOPs: backward 2.5x, forward + backward 3.5x the forward's)" \
        >"$OUT/report_$m.md" && grep -E "ratio to PyTorch flash" "$OUT/report_$m.md" | sed "s/^/$m: /" >>"$summary"
    done
  fi
  if [ -z "${SKIP_BENCH:-}" ] && [ -z "${SKIP_VARIANT_BENCH:-}" ]; then
    # Softcap, ALiBi, varlen (issue 13): flash2 forward and backward on a
    # subset of the grid beside the PyTorch path that computes each variant
    # (scripts/sdpa_bench.py --variant) at N 4096, or VARIANT_SDPA_SEQLENS
    # (FlexAttention compiles every shape; the ALiBi bias is H N^2); report_variants.md.
    echo "== bench softcap / ALiBi / varlen"
    local grid=(--head-dims 64 128 --seqlens 1024 4096 16384) kind flag sgrid sns
    : >"$OUT/report_variants.md"
    for kind in softcap alibi varlen; do
      case $kind in softcap) flag=(--softcap 30) ;; alibi) flag=(--alibi) ;; varlen) flag=(--varlen) ;; esac
      read -ra sns <<<"${VARIANT_SDPA_SEQLENS:-4096}"
      sgrid=(--head-dims 64 128 --seqlens "${sns[@]}")
      "$BIN/flashcheck" bench --variant flash2_fwd "${flag[@]}" "${grid[@]}" --repeats "${REPEATS:-10}" \
        --commit "$commit" --csv "$OUT/bench_$kind.csv" 2>&1 | tail -12
      "$BIN/flashcheck" bench --backward --variant flash2_bwd "${flag[@]}" "${grid[@]}" --gqa-heads-kv 0 \
        --repeats "${REPEATS:-10}" --commit "$commit" --csv "$OUT/bench_bwd_$kind.csv" 2>&1 | tail -12
      PYTHONUNBUFFERED=1 timeout "${VARIANT_SDPA_TIMEOUT:-90}" python3 scripts/sdpa_bench.py --variant "$kind" \
        "${sgrid[@]}" --repeats "${REPEATS:-10}" --commit "$commit" --csv "$OUT/sdpa_$kind.csv" 2>&1 | tail -12
      PYTHONUNBUFFERED=1 timeout "${VARIANT_SDPA_TIMEOUT:-90}" python3 scripts/sdpa_bench.py --variant "$kind" \
        --backward "${sgrid[@]}" --repeats "${REPEATS:-10}" --commit "$commit" \
        --csv "$OUT/sdpa_bwd_$kind.csv" 2>&1 | tail -12
      python3 scripts/gpu_report.py "$OUT/bench_$kind.csv" "$OUT/sdpa_$kind.csv" --refs auto \
        --title "$kind: forward TFLOP/s" >>"$OUT/report_variants.md" &&
        grep -E "ratio to" "$OUT/report_variants.md" | tail -n +1 | grep "^flash2_fwd+$kind" | sed "s/^/fwd: /" >>"$summary"
      echo >>"$OUT/report_variants.md"
      python3 scripts/gpu_report.py "$OUT/bench_bwd_$kind.csv" "$OUT/sdpa_bwd_$kind.csv" \
        --refs auto --metric fwd_bwd_tflops --title "$kind: forward + backward TFLOP/s" >>"$OUT/report_variants.md" &&
        grep -E "ratio to" "$OUT/report_variants.md" | grep "^flash2_bwd+$kind" | sed "s/^/fwd+bwd: /" >>"$summary"
      echo >>"$OUT/report_variants.md"
    done
  fi
  if [ -z "${SKIP_BENCH:-}" ] && [ -z "${SKIP_HEADDIM_BENCH:-}" ]; then
    # Head dims 32, 96, 256 (issue 13): flash2 beside PyTorch at a few N,
    # forward and forward + backward; report_headdims.md.
    echo "== bench head dims 32 / 96 / 256"
    local hgrid=(--seqlens 1024 4096 16384)
    "$BIN/flashcheck" bench --variant flash2_fwd --head-dims 32 96 256 "${hgrid[@]}" --repeats "${REPEATS:-10}" \
      --commit "$commit" --csv "$OUT/bench_headdims.csv" 2>&1 | tail -20
    "$BIN/flashcheck" bench --backward --variant flash2_bwd --head-dims 32 96 256 "${hgrid[@]}" --gqa-heads-kv 0 \
      --repeats "${REPEATS:-10}" --commit "$commit" --csv "$OUT/bench_bwd_headdims.csv" 2>&1 | tail -20
    PYTHONUNBUFFERED=1 python3 scripts/sdpa_bench.py --head-dims 32 96 256 "${hgrid[@]}" --repeats "${REPEATS:-10}" \
      --commit "$commit" --csv "$OUT/sdpa_headdims.csv" 2>&1 | tail -20
    PYTHONUNBUFFERED=1 python3 scripts/sdpa_bench.py --backward --head-dims 32 96 256 "${hgrid[@]}" --gqa-heads-kv \
      --repeats "${REPEATS:-10}" --commit "$commit" --csv "$OUT/sdpa_bwd_headdims.csv" 2>&1 | tail -20
    : >"$OUT/report_headdims.md"
    python3 scripts/gpu_report.py "$OUT/bench_headdims.csv" "$OUT/sdpa_headdims.csv" \
      --title "head dims 32, 96, 256: forward TFLOP/s" >>"$OUT/report_headdims.md" &&
      grep -E "ratio to" "$OUT/report_headdims.md" | sed "s/^/head dims fwd: /" >>"$summary"
    echo >>"$OUT/report_headdims.md"
    python3 scripts/gpu_report.py "$OUT/bench_bwd_headdims.csv" "$OUT/sdpa_bwd_headdims.csv" \
      --metric fwd_bwd_tflops --title "head dims 32, 96, 256: forward + backward TFLOP/s" >>"$OUT/report_headdims.md" &&
      grep -E "ratio to" "$OUT/report_headdims.md" | grep "^flash2_bwd" | sed "s/^/head dims fwd+bwd: /" >>"$summary"
  fi
  if [ -z "${SKIP_BENCH:-}" ]; then
    # Issue 14's goal table from this run's CSVs, and one line per goal.
    python3 scripts/gpu_goals.py "$OUT" >"$OUT/goals.md" &&
      python3 scripts/gpu_goals.py --summary "$OUT" >>"$summary"
  fi
  echo "== summary"
  cat "$summary"
  return "$failed"
}

# Copies the results of a `run` (its gpu_check.tar.gz) into reports/gpu/:
# the files named after the tarball, as they came back, nothing edited.
collect() {
  local tarball=${1:?usage: scripts/gpu_check.sh collect gpu_check.tar.gz [file...]}
  shift
  local files=("$@")
  [ "${#files[@]}" -gt 0 ] || files=(summary.txt properties.log accuracy.csv sanitizer.log)
  local tmp
  tmp=$(mktemp -d)
  tar -C "$tmp" -xzf "$tarball"
  for f in "${files[@]}"; do
    [ -f "$tmp/$f" ] || { echo "collect: $f is not in $tarball" >&2; rm -rf "$tmp"; return 2; }
  done
  for f in "${files[@]}"; do cp "$tmp/$f" "$ROOT/reports/gpu/$f"; echo "reports/gpu/$f"; done
  rm -rf "$tmp"
}

case "${1:-}" in
  build) build ;;
  run) run ;;
  collect) shift; collect "$@" ;;
  *) echo "usage: scripts/gpu_check.sh build|run|collect TARBALL [FILE...]" >&2; exit 2 ;;
esac
