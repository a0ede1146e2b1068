# Sourced by the probe scripts (ncu_l2_probe.sh, ncu_spill_probe.sh): writes OUT/device.txt, the
# date, GPU, ncu version and the probe binary's BUILD_INFO.
probe_device_txt() {
  local out=$1 probe=$2
  mkdir -p "$out"
  {
    echo "date=$(date -u +%FT%TZ)"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    ncu --version | tail -1
    cat "$(dirname "$probe")/BUILD_INFO" 2>/dev/null
  } >"$out/device.txt" 2>&1
}
