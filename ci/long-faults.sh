#!/usr/bin/env bash
# The long fault suite (not part of CI: about 15 minutes on 2 cores): each
# store fault repeated MUSTER_FAULT_REPEAT times (default 20), against the dev
# build. Races show in 1 run of 20; CI runs each fault once.
# Usage: ci/long-faults.sh [unittest names...]   (default: every store fault)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export MUSTER_FAULT_REPEAT="${MUSTER_FAULT_REPEAT:-20}"
export MUSTER_BUILD_DIR="${MUSTER_BUILD_DIR:-$PWD/build/dev}"
cd tests/integration
if [ $# -eq 0 ]; then
  set -- test_store_outage test_faults_store
fi
exec /usr/bin/python3 -m unittest -v "$@"
