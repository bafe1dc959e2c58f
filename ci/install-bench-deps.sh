#!/usr/bin/env bash
# Install the Debian packages the benchmarks in bench/ need on top of
# ci/install-deps.sh: the peers Muster is compared with (Ansible, parallel-ssh
# and the OpenSSH server and client it runs against on loopback) and the tools
# the benchmarks measure and profile with (wrk: HTTP load for bench/api). Idempotent: apt runs only if
# something is missing. The packaged ssh service is not used: bench/peers
# starts a private sshd on a free loopback port.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. ci/lib.sh

apt_install_missing install-bench-deps \
  ansible pssh openssh-server openssh-client binutils procps linux-perf wrk
if [[ " ${APT_INSTALLED[*]} " == *" openssh-server "* ]]; then
  disable_services ssh
fi
