#!/usr/bin/env bash
# Install the Debian packages the cross and static agent builds need:
# cross compilers, emulators for running target binaries in tests (qemu-user,
# wine) and debootstrap for the old-distro test chroot. Idempotent: only
# missing packages are installed, and `apt-get update` runs only then.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. ci/lib.sh

packages=(
  build-essential cmake ninja-build pkg-config xz-utils
  g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix
  g++-aarch64-linux-gnu g++-arm-linux-gnueabihf
  qemu-user-static wine wine64 debootstrap
  googletest debian-archive-keyring binutils-multiarch
)

apt_install_missing install-cross-deps "${packages[@]}"

# What is slow on first use is prepared here, not by a test's first call
# (ctest's test discovery under wine allows 60 s; creating the prefix alone
# takes several): the shared wine prefix and the Debian 11 test chroot.
cross/emulators/wine.sh --prepare
/usr/bin/python3 -c 'import sys; sys.path.insert(0, "tests/cross"); import cross_stack; cross_stack.bullseye_rootfs()'
echo "install-cross-deps: wine prefix and bullseye chroot ready"
