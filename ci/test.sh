#!/usr/bin/env bash
# The full test run: dependencies, then build and test the dev preset, then the
# same under AddressSanitizer/UBSan. Unit and integration tests run through CTest.
# Both presets run even if the first fails; the exit status reports any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ci/install-deps.sh

failed=()
for preset in dev asan; do
  echo "=== build: $preset"
  if ! ci/build.sh "$preset"; then
    failed+=("build:$preset")
    continue
  fi
  echo "=== test: $preset"
  if ! MUSTER_BUILD_DIR="$PWD/build/$preset" ctest --preset "$preset" --output-on-failure; then
    failed+=("test:$preset")
  fi
done

echo "=== fuzz"; ci/fuzz.sh || failed+=("fuzz")  # libFuzzer targets, FUZZ_SECONDS each (default 20)

if [ ${#failed[@]} -gt 0 ]; then
  echo "=== FAILED: ${failed[*]}"
  exit 1
fi
echo "=== all builds and tests passed"
