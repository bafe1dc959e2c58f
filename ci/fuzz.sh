#!/usr/bin/env bash
# Builds the libFuzzer harnesses (preset `fuzz`: clang, ASan+UBSan) and runs
# each for FUZZ_SECONDS (default 20) from its checked-in seed corpus, FUZZ_JOBS
# (default one per core) at once. New
# inputs go to a scratch corpus under build/fuzz/corpus (the seeds in the
# repository are never written to). Any crash, leak, sanitizer report or
# harness check fails the run; the crashing input is kept under
# build/fuzz/artifacts. Prints executions and time per target.
#   FUZZ_SECONDS=60 ci/fuzz.sh            all targets
#   ci/fuzz.sh fuzz_decode_task ...       only these
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${FUZZ_SECONDS:-20}"
ci/install-deps.sh
ci/install-fuzz-deps.sh

echo "=== build: fuzz"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

build="$PWD/build/fuzz"
mkdir -p "$build/corpus" "$build/artifacts" "$build/logs"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# One target: its fuzzing run, then its line of the summary in NAME.result
# (and NAME.failed when it found something).
fuzz_one() {
  local binary="$1" seeds="$2" name work log start status elapsed execs corpus line
  name="$(basename "$binary")"
  work="$build/corpus/$name"
  mkdir -p "$work"
  log="$build/logs/$name.log"
  rm -f "$build/logs/$name.failed"
  start=$(date +%s.%N)
  status=0
  "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$name-" "$work" "$seeds" >"$log" 2>&1 || status=$?
  elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  corpus=$(find "$work" -type f | wc -l)
  line="$(printf '%-28s %10s execs  %6ss  corpus %s' "$name" "${execs:-?}" "$elapsed" "$corpus")"
  [ "$status" -eq 0 ] || { line="$line  FAILED (status $status)"; touch "$build/logs/$name.failed"; }
  echo "$line" >"$build/logs/$name.result"
  echo "$line"
}

# FUZZ_JOBS targets at once (default: one per core).
parallel="${FUZZ_JOBS:-$(nproc)}"
names=()
while read -r binary seeds; do
  [ -n "$binary" ] || continue
  name="$(basename "$binary")"
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
  echo "=== fuzz: $name for ${seconds}s (seeds: ${seeds#"$PWD"/})"
  fuzz_one "$binary" "$seeds" &
  names+=("$name")
done <"$build/fuzz-targets.txt"
wait

summary=()
failed=()
for name in "${names[@]}"; do
  summary+=("$(cat "$build/logs/$name.result")")
  if [ -e "$build/logs/$name.failed" ]; then
    failed+=("$name")
    echo "--- $name: last lines of $build/logs/$name.log"
    tail -n 60 "$build/logs/$name.log"
  fi
done

echo "=== fuzz summary (FUZZ_SECONDS=$seconds)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "=== fuzz FAILED: ${failed[*]} (inputs in $build/artifacts)"
  exit 1
fi
echo "=== all fuzz targets ran clean"
