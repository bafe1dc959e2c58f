#!/usr/bin/env bash
# Configure and build one CMake preset (dev or asan; see CMakePresets.json).
# Usage: ci/build.sh [PRESET]    (default: dev)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

preset="${1:-dev}"
cmake --preset "$preset"
cmake --build --preset "$preset"
