#!/usr/bin/env bash
# The full test run: dependencies, then build and test the dev preset, then the
# same under AddressSanitizer/UBSan. Unit and integration tests run through CTest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ci/install-deps.sh

for preset in dev asan; do
  echo "=== build: $preset"
  ci/build.sh "$preset"
  echo "=== test: $preset"
  MUSTER_BUILD_DIR="$PWD/build/$preset" ctest --preset "$preset" --output-on-failure
done
