#!/usr/bin/env bash
# Install the Debian packages the cross and static agent builds need:
# cross compilers, emulators for running target binaries in tests (qemu-user,
# wine) and debootstrap for the old-distro test chroot. Idempotent: only
# missing packages are installed, and `apt-get update` runs only then.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(
  build-essential cmake ninja-build pkg-config xz-utils
  g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix
  g++-aarch64-linux-gnu g++-arm-linux-gnueabihf
  qemu-user-static wine wine64 debootstrap
  googletest debian-archive-keyring binutils-multiarch
)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed$'; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-cross-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-cross-deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
