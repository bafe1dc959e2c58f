#!/usr/bin/env bash
# Start a demo stack (Redis, Prosody, muster-hub, 3 agents) on loopback and run
# a first job on every agent. The stack keeps running afterwards.
#   ci/demo.sh         start (state in $MUSTER_DEMO_DIR, default /var/tmp/muster-demo)
#   ci/demo.sh stop    stop it
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dir="${MUSTER_DEMO_DIR:-/var/tmp/muster-demo}"
stack=(/usr/bin/python3 tests/support/muster_stack.py)

case "${1:-start}" in
  stop|down)
    exec "${stack[@]}" down --dir "$dir"
    ;;
  start|up|"")
    ci/install-deps.sh
    ci/build.sh dev
    export MUSTER_BUILD_DIR="$PWD/build/dev"
    "${stack[@]}" demo --dir "$dir"
    echo "(or: ci/demo.sh stop${MUSTER_DEMO_DIR:+, with the same MUSTER_DEMO_DIR})"
    ;;
  *)
    echo "usage: ci/demo.sh [stop]" >&2
    exit 2
    ;;
esac
