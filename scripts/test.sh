#!/usr/bin/env bash
# The whole test suite from a fresh machine: set-up, build, then ctest, whose
# summary line closes the output. GPU tests report "Skipped" without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
