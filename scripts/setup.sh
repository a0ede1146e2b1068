#!/usr/bin/env bash
# Installs the Debian packages flashcheck builds with. Idempotent: when every
# package is already installed it changes nothing and skips apt-get update.
# The CUDA Toolkit (nvcc, cuBLAS, CUB) is expected at /usr/local/cuda; without
# it the build goes on without the CUDA kernels (FLASHCHECK_CUDA=AUTO).
set -euo pipefail
packages=(cmake g++ make libeigen3-dev librapidcheck-dev catch2 libcli11-dev
          nlohmann-json3-dev libbenchmark-dev gnuplot-nox)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  echo "setup: CUDA compiler found; the CUDA kernels will be built"
else
  echo "setup: no CUDA compiler; building without the CUDA kernels"
fi

# The Python package (python/): a virtual environment at .venv/ with the
# build and test dependencies from PyPI, and flashcheck installed into it.
packages_py=(python3-venv python3-dev)
missing_py=()
for p in "${packages_py[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing_py+=("$p")
done
if [ ${#missing_py[@]} -gt 0 ] && ! python3 -c "import venv, ensurepip" 2>/dev/null; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing_py[@]}"
fi
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q nanobind scikit-build-core pytest numpy ml-dtypes
echo "setup: installing the Python package into .venv/"
.venv/bin/python -m pip install -q --no-build-isolation .
