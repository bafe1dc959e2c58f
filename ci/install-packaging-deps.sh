#!/usr/bin/env bash
# Install the Debian packages that build, lint and test Muster's packages
# (packaging/build-packages.sh, CTest label `packaging`). Idempotent: only
# missing packages are installed, and `apt-get update` runs only then.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. ci/lib.sh

packages=(
  dpkg-dev lintian                   # build and lint .deb
  rpm rpmlint                        # rpmbuild, rpmsign, rpm --root, rpmlint
  createrepo-c                       # the yum/dnf repository metadata
  wixl msitools                      # the Windows .msi (wixl) and its inspection (msiinfo)
  apt-utils gnupg                    # apt-ftparchive and the signed test repository
  debootstrap systemd-container      # the Debian 12 test root, booted with systemd-nspawn
  qemu-user-static                   # `muster-agent version` of the ARM binaries at packaging time
)

apt_install_missing install-packaging-deps "${packages[@]}"
