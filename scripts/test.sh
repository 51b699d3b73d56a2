#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit and end to end) with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
ctest --test-dir build --output-on-failure --timeout 300 -j "$(nproc)"
