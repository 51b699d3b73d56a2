#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test with CTest:
#   1. unit, fuzz-corpus replay and end-to-end tests on the release build (build/);
#   2. the same unit and end-to-end tests on an ASan+UBSan build made with clang and
#      libFuzzer's coverage (build-asan/), then each fuzz target for 20 s on that build;
#   3. the threaded modules' unit tests (net, dispatch, routing, store, queue, observe, …)
#      on a TSan build (build-tsan/), which builds only those tests.
# `scripts/test.sh --quick` runs step 1 only, for local iteration.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = --quick ] && quick=1

[ $quick = 1 ] || export EG_SANITIZERS=1
scripts/deps.sh
scripts/build.sh
ctest --test-dir build --output-on-failure --timeout 300 -j "$(nproc)"
[ $quick = 1 ] && exit 0

sanitizers=$PWD/scripts/sanitizers
export ASAN_OPTIONS=detect_leaks=1:strict_init_order=1:check_initialization_order=1
export LSAN_OPTIONS=suppressions=$sanitizers/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$sanitizers/tsan.supp

# One clang build serves ASan+UBSan and the fuzz targets (scripts/fuzz.sh reuses it).
if grep -qs '^CMAKE_CXX_COMPILER:.*g++' build-asan/CMakeCache.txt; then rm -rf build-asan; fi
CC=clang CXX=clang++ cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DEG_SANITIZE=address -DEG_FUZZ=ON >/dev/null
cmake --build build-asan
ctest --test-dir build-asan --output-on-failure --timeout 600 -j "$(nproc)"
scripts/fuzz.sh 20

cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEG_SANITIZE=thread >/dev/null
threaded=(net dispatch routing store queue limits access observe metrics)
cmake --build build-tsan --target "${threaded[@]/%/_test}"
ctest --test-dir build-tsan --output-on-failure --timeout 600 -j "$(nproc)" \
  -R "^($(IFS='|'; echo "${threaded[*]}"))\."
