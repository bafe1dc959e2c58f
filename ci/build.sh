#!/usr/bin/env bash
# Configure and build one CMake preset (see CMakePresets.json), after building
# (or finding cached, ~1 s) the pinned dependency set it links:
# linux-x86_64-static for the host presets (dev, asan, fuzz), the target's own
# set for cross-<target>.
# Usage: ci/build.sh [PRESET]    (default: dev)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

preset="${1:-dev}"
case "$preset" in
  cross-*) deps_target="${preset#cross-}" ;;
  *) deps_target=linux-x86_64-static ;;
esac
deps/build.sh "$deps_target"
cmake --preset "$preset"
cmake --build --preset "$preset"
