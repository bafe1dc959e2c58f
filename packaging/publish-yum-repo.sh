#!/usr/bin/env bash
# Writes a signed yum/dnf repository of Muster's .rpm packages.
#
# Usage: packaging/publish-yum-repo.sh --key KEY --out DIR RPM...
#   --key KEY   the GnuPG key (fingerprint, id or user id) that signs each
#               package (rpmsign) and the metadata (repomd.xml.asc); an RSA
#               key: rpm before 4.18 (EL7, EL8) cannot check EdDSA signatures
#   --out DIR   the repository folder, written afresh
#
# DIR then holds the signed packages, repodata/ (createrepo_c) with
# repomd.xml.asc, and RPM-GPG-KEY-muster, the public key. On each machine,
# /etc/yum.repos.d/muster.repo:
#
#   [muster]
#   name=Muster
#   baseurl=https://repo.example.net/muster/rpm
#   gpgcheck=1
#   repo_gpgcheck=1
#   gpgkey=https://repo.example.net/muster/rpm/RPM-GPG-KEY-muster
#
# gpgcheck checks every package's signature, repo_gpgcheck the metadata.
# Needs rpm, createrepo-c and gnupg (ci/install-packaging-deps.sh).
set -euo pipefail

die() { echo "publish-yum-repo: $*" >&2; exit 1; }

key="" out=""
rpms=()
while [ $# -gt 0 ]; do
  case "$1" in
    --key) [ $# -ge 2 ] || die "--key needs a key"; key="$2"; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a folder"; out="$2"; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) rpms+=("$1"); shift ;;
  esac
done
[ -n "$key" ] && [ -n "$out" ] && [ ${#rpms[@]} -gt 0 ] || die "usage: publish-yum-repo.sh --key KEY --out DIR RPM..."
for tool in rpmsign createrepo_c gpg; do
  command -v "$tool" >/dev/null || die "$tool is missing: run ci/install-packaging-deps.sh"
done
gpg --batch --list-secret-keys "$key" >/dev/null 2>&1 || die "no secret key '$key' in ${GNUPGHOME:-~/.gnupg}"

rm -rf "$out"
mkdir -p "$out"
for rpm in "${rpms[@]}"; do
  [ -f "$rpm" ] || die "$rpm: no such file"
  cp "$rpm" "$out/"
done
cd "$out"
rpmsign --addsign --define "_gpg_name $key" --define "_gpg_path ${GNUPGHOME:-$HOME/.gnupg}" \
  --define "__gpg $(command -v gpg)" ./*.rpm > rpmsign.log 2>&1 || { cat rpmsign.log >&2; die "rpmsign failed"; }
rm -f rpmsign.log
createrepo_c --quiet .
gpg --batch --yes --local-user "$key" --armor --detach-sign --output repodata/repomd.xml.asc repodata/repomd.xml
gpg --batch --armor --export "$key" > RPM-GPG-KEY-muster
echo "publish-yum-repo: $out: ${#rpms[@]} package(s), signed by $(gpg --batch --with-colons --list-keys "$key" | awk -F: '/^fpr/ {print $10; exit}')"
