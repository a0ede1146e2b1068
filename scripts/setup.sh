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
# The Python package (python/README.md): a virtual environment at .venv/ with
# its build and test tools from PyPI, and flashcheck installed into it.
# Idempotent: the venv is created once; pip skips what is already installed.
[ -x "$(dirname "$0")/../.venv/bin/python" ] || python3 -m venv "$(dirname "$0")/../.venv"
venv_py="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python"
"$venv_py" -m pip install -q nanobind scikit-build-core pytest numpy ml-dtypes
(cd "$(dirname "$0")/.." && "$venv_py" -m pip install -q --no-build-isolation .)
echo "setup: flashcheck Python package installed in .venv/"
