#!/usr/bin/env bash
# The hub's line coverage from its unit tests alone (hub_tests), per file and
# in all, by gcovr (Debian's package, installed by ci/install-deps.sh):
# build/coverage is a Debug build with --coverage. Not part of ci/test.sh; a
# figure for reviews, not a gate. Writes build/coverage/hub-coverage.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ci/install-deps.sh >/dev/null
build=build/coverage
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DMUSTER_DEPS_DIR=/var/cache/muster-deps/linux-x86_64-static \
  -DCMAKE_CXX_FLAGS="--coverage" -DCMAKE_C_FLAGS="--coverage" -DCMAKE_EXE_LINKER_FLAGS="--coverage" >/dev/null
cmake --build "$build" --target hub_tests
find "$build" -name '*.gcda' -delete
"$build/hub/hub_tests" --gtest_brief=1
gcovr --root . --filter 'hub/src/' --object-directory "$build/hub" \
  --txt "$build/hub-coverage.txt" --print-summary "$build/hub"
cat "$build/hub-coverage.txt"
