#!/usr/bin/env bash
# Install the Debian packages Muster needs to build and test. Idempotent: only
# missing packages are installed, and `apt-get update` runs only then.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(
  build-essential cmake ninja-build pkg-config
  libstrophe-dev libcjson-dev libmbedtls-dev libcurl4-openssl-dev libpoco-dev
  googletest libgtest-dev
  redis-server prosody ejabberd openssl
  python3 python3-slixmpp procps
)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed$'; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"

# The packaged services are not used: tests start private instances on free
# ports. Stop the system ones the packages may have started, where systemd runs.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  for svc in prosody redis-server; do
    "${sudo[@]}" systemctl disable --now "$svc" >/dev/null 2>&1 || true
  done
fi
