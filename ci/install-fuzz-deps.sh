#!/usr/bin/env bash
# Install what the fuzz build needs on top of ci/install-deps.sh: clang and its
# runtime (libFuzzer, ASan, UBSan). Idempotent: apt runs only if something is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. ci/lib.sh

apt_install_missing install-fuzz-deps clang libclang-rt-14-dev
