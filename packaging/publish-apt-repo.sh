#!/usr/bin/env bash
# Writes a signed flat apt repository of Muster's .deb packages.
#
# Usage: packaging/publish-apt-repo.sh --key KEY --out DIR DEB...
#   --key KEY   the GnuPG key (fingerprint, id or user id) that signs Release;
#               GNUPGHOME selects the key ring as usual
#   --out DIR   the repository folder, written afresh (serve it over HTTPS or
#               copy it; apt needs only the files)
#
# DIR then holds the packages, Packages(.xz), Release, InRelease,
# Release.gpg and muster-archive-keyring.gpg, the public key for machines:
#
#   install -m 0644 muster-archive-keyring.gpg /etc/apt/keyrings/muster.gpg
#   echo 'deb [signed-by=/etc/apt/keyrings/muster.gpg] https://repo.example/muster ./' \
#     > /etc/apt/sources.list.d/muster.list
#
# signed-by makes apt trust this key for this repository only, never for
# Debian's own archive (docs/packaging.md). Needs apt-utils and gnupg
# (ci/install-packaging-deps.sh).
set -euo pipefail

die() { echo "publish-apt-repo: $*" >&2; exit 1; }

key="" out=""
debs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --key) [ $# -ge 2 ] || die "--key needs a key"; key="$2"; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a folder"; out="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) debs+=("$1"); shift ;;
  esac
done
[ -n "$key" ] && [ -n "$out" ] && [ ${#debs[@]} -gt 0 ] || die "usage: publish-apt-repo.sh --key KEY --out DIR DEB..."
for tool in apt-ftparchive gpg; do
  command -v "$tool" >/dev/null || die "$tool is missing: run ci/install-packaging-deps.sh"
done
gpg --batch --list-secret-keys "$key" >/dev/null 2>&1 || die "no secret key '$key' in ${GNUPGHOME:-~/.gnupg}"

rm -rf "$out"
mkdir -p "$out"
for deb in "${debs[@]}"; do
  [ -f "$deb" ] || die "$deb: no such file"
  cp "$deb" "$out/"
done
cd "$out"
apt-ftparchive packages . > Packages
xz -9 -k Packages
apt-ftparchive -o APT::FTPArchive::Release::Origin=Muster -o APT::FTPArchive::Release::Label=Muster \
  -o APT::FTPArchive::Release::Suite=stable -o APT::FTPArchive::Release::Codename=stable \
  release . > Release
gpg --batch --yes --local-user "$key" --clearsign --output InRelease Release
gpg --batch --yes --local-user "$key" --armor --detach-sign --output Release.gpg Release
gpg --batch --export "$key" > muster-archive-keyring.gpg
echo "publish-apt-repo: $out: ${#debs[@]} package(s), signed by $(gpg --batch --with-colons --list-keys "$key" | awk -F: '/^fpr/ {print $10; exit}')"
