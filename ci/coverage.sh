#!/usr/bin/env bash
# The hub's line coverage from its unit tests alone (hub_tests), per file and
# in all, with gcc's own gcov: build/coverage is a Debug build with --coverage.
# Not part of ci/test.sh; a figure for reviews, not a gate.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=build/coverage
deps/build.sh linux-x86_64-static >/dev/null
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DMUSTER_DEPS_DIR=/var/cache/muster-deps/linux-x86_64-static \
  -DCMAKE_CXX_FLAGS="--coverage" -DCMAKE_C_FLAGS="--coverage" -DCMAKE_EXE_LINKER_FLAGS="--coverage" >/dev/null
cmake --build "$build" --target hub_tests
find "$build" -name '*.gcda' -delete
"$build/hub/hub_tests" --gtest_brief=1
objects="$build/hub/CMakeFiles/muster_hub_core.dir"
total=0 hit=0
while read -r gcno; do
  # The source this object file was compiled from (its headers are counted with the .cpp files that own them).
  source="$PWD/hub/${gcno#"$objects"/}"
  source="${source%.gcno}"
  line=$(gcov -n -o "$(dirname "$gcno")" "$gcno" 2>/dev/null |
         awk -v file="File '$source'" '!done && $0 == file {getline; print; done = 1}')
  case "$line" in "Lines executed:"*) ;; *) continue ;; esac
  pct=$(sed -E 's/Lines executed:([0-9.]+)% of ([0-9]+)/\1/' <<<"$line")
  n=$(sed -E 's/Lines executed:([0-9.]+)% of ([0-9]+)/\2/' <<<"$line")
  printf '%7s%% of %5s  %s\n' "$pct" "$n" "${source#"$PWD"/}"
  total=$((total + n))
  hit=$(awk -v h="$hit" -v p="$pct" -v n="$n" 'BEGIN {printf "%.0f", h + p * n / 100}')
done < <(find "$objects" -name '*.gcno' | sort)
awk -v h="$hit" -v t="$total" 'BEGIN {printf "hub/src line coverage from unit tests alone: %.1f%% (%d of %d lines)\n", 100 * h / t, h, t}'
