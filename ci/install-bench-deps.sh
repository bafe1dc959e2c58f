#!/usr/bin/env bash
# Install the Debian packages the benchmarks in bench/ need besides what
# ci/install-deps.sh installs: the peers Muster is compared with (Ansible,
# parallel-ssh and an OpenSSH server/client to run it against on loopback) and
# the profilers. Idempotent: only missing packages are installed, and
# `apt-get update` runs only then. The packaged ssh service is not used:
# bench/peers starts a private sshd on a free loopback port.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(
  ansible pssh openssh-server openssh-client
  binutils procps linux-perf
)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed$'; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-bench-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-bench-deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"

# Stop the system sshd the package may have started, where systemd runs.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  if [[ " ${missing[*]} " == *" openssh-server "* ]]; then
    "${sudo[@]}" systemctl disable --now ssh >/dev/null 2>&1 || true
  fi
fi
