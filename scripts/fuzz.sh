#!/usr/bin/env bash
# Builds the fuzz targets of fuzz/ with clang, libFuzzer, ASan and UBSan into build-asan/,
# and runs each for SECONDS (default 60), as many at once as there are cores.
#   scripts/fuzz.sh [SECONDS] [TARGET...]     e.g. scripts/fuzz.sh 900 json_roundtrip
# Each run starts from the seeds in fuzz/corpus/<target>/ and keeps what it finds in
# build-asan/corpus/<target>/, so the next run goes on from there. A crash stops that
# target: its input lands in build-asan/artifacts/<target>/, and the script fails. Make
# it a regression input by copying it into fuzz/corpus/<target>/, where every test build
# replays it (the fuzz.* CTest tests). The table at the end gives executions, coverage
# (edges) and features per target; the full output is in build-asan/logs/.
# The build is the ASan one scripts/test.sh makes; EG_FUZZ_DIR names another.
# FUZZ_JOBS targets run at once (default: the number of cores).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${EG_FUZZ_DIR:-build-asan}
seconds=${1:-60}
shift || true

EG_SANITIZERS=1 scripts/deps.sh
CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DEG_FUZZ=ON -DEG_SANITIZE=address >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/*_fuzz.cc; do
    f=${f#fuzz/}
    targets+=("${f%_fuzz.cc}")
  done
fi
cmake --build "$dir" --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run() {
  local t=$1
  mkdir -p "$dir/corpus/$t" "$dir/artifacts/$t" "$dir/logs"
  local dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
  if "$dir/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$dir/artifacts/$t/" "${dict[@]}" \
       "$dir/corpus/$t" "fuzz/corpus/$t" >"$dir/logs/$t.log" 2>&1; then
    echo ok >"$dir/logs/$t.result"
  else
    echo FAILED >"$dir/logs/$t.result"
  fi
}
jobs=${FUZZ_JOBS:-$(nproc)}
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run "$t" &
done
wait

status=0
printf '%-20s %8s %12s %10s %8s %9s %s\n' target seconds executions exec/s edges features result
for t in "${targets[@]}"; do
  log=$dir/logs/$t.log
  stat() { grep -o "stat::$1: *[0-9]*" "$log" | grep -o '[0-9]*$' | tail -1; }
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  edges=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
  features=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
  result=$(cat "$dir/logs/$t.result")
  [ "$result" = ok ] || status=1
  printf '%-20s %8s %12s %10s %8s %9s %s\n' "$t" "$(stat total_time_seconds || echo "$seconds")" \
    "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" "${edges:-?}" \
    "${features:-?}" "$result"
done
if [ $status -ne 0 ]; then
  echo "a target failed: see $dir/logs/ and $dir/artifacts/" >&2
fi
exit $status
