#!/usr/bin/env bash
# The whole test suite from a fresh machine: set-up, build, then ctest. GPU
# tests report "Skipped" without a GPU. ctest lists skipped tests after its
# summary, so the summary line is repeated last: a run that executed no test
# is visible at the end of the output.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
set +e
ctest --test-dir build --output-on-failure -j"$(nproc)" 2>&1 | tee build/ctest.log
rc=${PIPESTATUS[0]}
set -e
# The Python package's tests (python/tests); ctest's summary line stays last.
set +e
.venv/bin/python -m pytest -q python/tests 2>&1 | tee build/pytest.log
py_rc=${PIPESTATUS[0]}
set -e
[ "$rc" -ne 0 ] || rc=$py_rc
echo
grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" build/ctest.log | tail -n 1 || echo "ctest printed no summary"
exit "$rc"
