#!/usr/bin/env bash
# Builds the agent for one target (or all) from the pinned static dependency
# set, runs its unit tests under the target's emulator, and with --e2e also
# the end-to-end tests of the artifact (CTest label `cross`).
#
# Usage: ci/cross.sh TARGET|all [--e2e]
#   TARGET: linux-x86_64-static linux-aarch64 linux-armhf windows-x86_64
#
# Output: build/cross/<target>/agent/muster-agent[.exe] (unstripped) and
# build/cross/<target>/muster-agent[.exe] (stripped, the artifact); for the
# Linux targets also the command line, build/cross/<target>/muster (stripped).
# Dependencies are cached in /var/cache/muster-deps (deps/build.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

all_targets=(linux-x86_64-static linux-aarch64 linux-armhf windows-x86_64)
[ $# -ge 1 ] || { echo "usage: ci/cross.sh TARGET|all [--e2e]   targets: ${all_targets[*]}" >&2; exit 2; }
if [ "$1" = all ]; then targets=("${all_targets[@]}"); else targets=("$1"); fi
e2e=0
[ "${2:-}" = "--e2e" ] && e2e=1

ci/install-cross-deps.sh >/dev/null
cache="${MUSTER_DEPS_CACHE:-/var/cache/muster-deps}"

strip_for() {
  case "$1" in
    linux-aarch64) echo aarch64-linux-gnu-strip ;;
    linux-armhf) echo arm-linux-gnueabihf-strip ;;
    windows-x86_64) echo x86_64-w64-mingw32-strip ;;
    *) echo strip ;;
  esac
}

summary=()
failed=()
for t in "${targets[@]}"; do
  [ -f "cross/$t.cmake" ] || { echo "cross: unknown target $t" >&2; exit 2; }
  exe=muster-agent; [[ "$t" == windows-* ]] && exe=muster-agent.exe
  bdir="build/cross/$t"
  # A failed build must not leave the previous artifact for the e2e tests.
  rm -f "$bdir/$exe" "$bdir/muster"
  echo "== $t: dependencies"
  t0=$(date +%s)
  if ! deps/build.sh "$t"; then
    failed+=("$t:deps"); summary+=("$t: dependencies FAILED"); continue
  fi
  t1=$(date +%s)
  echo "== $t: agent"
  if ! { cmake -S . -B "$bdir" -G Ninja --log-level=WARNING \
           -DCMAKE_TOOLCHAIN_FILE="$PWD/cross/$t.cmake" \
           -DCMAKE_BUILD_TYPE=MinSizeRel \
           -DMUSTER_DEPS_DIR="$cache/$t" \
           -DMUSTER_BUILD_HUB=OFF && cmake --build "$bdir"; }; then
    failed+=("$t:build"); summary+=("$t: build FAILED"); continue
  fi
  t2=$(date +%s)
  "$(strip_for "$t")" -o "$bdir/$exe" "$bdir/agent/$exe"
  size=$(stat -c %s "$bdir/$exe")
  cli_size=""
  if [[ "$t" != windows-* ]]; then  # the command line's terminal code is POSIX
    "$(strip_for "$t")" -o "$bdir/muster" "$bdir/cli/muster"
    cli_size=", stripped muster $(stat -c %s "$bdir/muster") bytes"
  fi
  echo "== $t: unit tests (under the target's emulator)"
  unit=passed
  ctest --test-dir "$bdir" -L unit -j "$(nproc)" --output-on-failure --timeout 120 || { unit=FAILED; failed+=("$t:unit"); }
  t3=$(date +%s)
  summary+=("$t: deps $((t1 - t0)) s, agent build $((t2 - t1)) s, unit tests $((t3 - t2)) s ($unit), stripped $exe $size bytes$cli_size")
done

if [ "$e2e" = 1 ]; then
  echo "== end-to-end tests (label cross), hub from build/dev"
  t0=$(date +%s)
  [ -x build/dev/hub/muster-hub ] || ci/build.sh dev
  regex="$(printf '%s|' "${targets[@]}")"
  ctest --test-dir build/dev -L cross -R "cross\\.(${regex%|})\\." --output-on-failure || failed+=("e2e")
  summary+=("end-to-end (label cross): $(( $(date +%s) - t0 )) s")
fi

printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "cross: FAILED: ${failed[*]}"
  exit 1
fi
