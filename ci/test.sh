#!/usr/bin/env bash
# The full test run: dependencies, then build and test the dev preset, then the
# same under AddressSanitizer/UBSan and under ThreadSanitizer (unit and
# integration tests; the long fault tests only in dev and asan), then the
# cross-built agents (all four
# targets: unit tests under their emulators, end-to-end tests of label `cross`
# against the dev hub), then the fuzzers. Unit and integration tests run
# through CTest; the dev and asan test presets leave label `cross` to the cross
# step; the agent packages are built, linted and installed into scratch roots
# (label packaging) after the cross step. Every step runs even if an earlier
# one fails; the exit status reports any failure. Prints the time of each step.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ci/install-deps.sh
ci/install-cross-deps.sh
ci/install-packaging-deps.sh
ci/check-tools.sh
/usr/bin/python3 ci/check-size.py

failed=()
times=()
step_start=$SECONDS
step_done() { times+=("$1: $((SECONDS - step_start)) s"); step_start=$SECONDS; }

for preset in dev asan tsan; do
  echo "=== build: $preset"
  if ! ci/build.sh "$preset"; then
    failed+=("build:$preset")
    step_done "build+test $preset"
    continue
  fi
  echo "=== test: $preset"
  if ! MUSTER_BUILD_DIR="$PWD/build/$preset" ctest --preset "$preset" --output-on-failure; then
    failed+=("test:$preset")
  fi
  step_done "build+test $preset"
done

# Static and cross agents: build, unit tests under qemu-user/wine, then the
# end-to-end tests (label cross) with the dev build's hub.
echo "=== cross"; ci/cross.sh all --e2e || failed+=("cross")
step_done "cross (4 targets, --e2e)"

# The agent's packages from those binaries: lintian/rpmlint, then installed
# into scratch roots (rpm --root, a booted Debian 12 under systemd-nspawn).
echo "=== packaging"
ctest --test-dir build/dev -L packaging --output-on-failure || failed+=("packaging")
step_done "packaging (lint, label packaging)"

echo "=== fuzz"; ci/fuzz.sh || failed+=("fuzz")  # libFuzzer targets, FUZZ_SECONDS each (default 20)
step_done "fuzz"

printf '=== time: %s\n' "${times[@]}" "total: $SECONDS s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "=== FAILED: ${failed[*]}"
  exit 1
fi
echo "=== all builds and tests passed"
