#!/usr/bin/env bash
# Install the Debian packages Muster needs to build and test, then build the
# host's pinned dependency set (deps/build.sh linux-x86_64-static). Idempotent:
# only missing packages are installed, and `apt-get update` runs only then.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. ci/lib.sh

# The C/C++ libraries of the agent and the hub's XMPP link (mbedTLS, expat,
# cJSON, curl, libstrophe, GoogleTest) are the pinned set deps/build.sh builds
# from Debian's source archive (debian-archive-keyring, xz-utils, patch; the
# googletest package supplies GoogleTest's sources); only Poco (with OpenSSL
# and the shared libexpat its XML uses) comes from a binary package.
packages=(
  build-essential cmake ninja-build pkg-config xz-utils patch debian-archive-keyring
  libpoco-dev libexpat1-dev googletest
  redis-server prosody openssl
  ejabberd erlang-base
  python3 python3-slixmpp procps util-linux curl
  tmux   # the terminal view of `muster run`, read from a tmux pane (tests/integration/test_muster_cli.py)
  gcovr  # ci/coverage.sh
  prometheus  # promtool and a real server scraping the test stack's /metrics
  python3-yaml python3-jsonschema  # docs/openapi.yaml: built into the hub; tests check answers against it
)

apt_install_missing install-deps "${packages[@]}"
# The packaged services are not used: tests start private instances on free
# ports. Stop the system ones the packages may have started.
if [ ${#APT_INSTALLED[@]} -gt 0 ]; then
  disable_services prosody redis-server ejabberd epmd prometheus
fi

# The pinned libraries of the host build (presets dev, asan, fuzz); cached,
# about a second when nothing changed.
deps/build.sh linux-x86_64-static
