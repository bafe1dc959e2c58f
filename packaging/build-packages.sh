#!/usr/bin/env bash
# Builds the muster-agent .deb and .rpm of each Linux target, and the .msi of
# the Windows one, from the static and cross-built binaries that ci/cross.sh
# leaves in build/cross/<target>/.
#
# Usage: packaging/build-packages.sh [--release N] [--out DIR] [--lint] [TARGET...]
#   TARGET   linux-x86_64-static, linux-aarch64, linux-armhf, windows-x86_64:
#            the agent; hub: the muster-hub .deb from build/dev (ci/build.sh dev)
#            (default: the three Linux agents, and Windows if its agent is built)
#   --release N   package revision (deb VERSION-N, rpm Release N; default 1):
#                 a new package of the same agent version, e.g. a packaging fix
#   --out DIR     where the packages go (default: build/packages)
#   --lint        run lintian and rpmlint on what was built; fails on any error
#
# The version is project(VERSION) of the root CMakeLists.txt; the build folder
# must have been configured with it (muster-version.txt) and the binary must
# print it, or nothing is built. SOURCE_DATE_EPOCH (default: the time of the
# last commit) fixes every time stamp, so the same inputs give byte-identical
# packages. Needs the packages of ci/install-packaging-deps.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"

die() { echo "build-packages: $*" >&2; exit 1; }

release=1
out="$root/build/packages"
lint=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --release) [ $# -ge 2 ] || die "--release needs a number"; release="$2"; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a folder"; out="$2"; shift 2 ;;
    --lint) lint=1; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  targets=(linux-x86_64-static linux-aarch64 linux-armhf)
  [ -f build/cross/windows-x86_64/muster-agent.exe ] && targets+=(windows-x86_64)
fi
[[ "$release" =~ ^[1-9][0-9]*$ ]] || die "--release must be a positive number, not '$release'"
for tool in dpkg-deb rpmbuild; do
  command -v "$tool" >/dev/null || die "$tool is missing: run ci/install-packaging-deps.sh"
done

version="$(sed -n 's/^project(muster VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)"
[ -n "$version" ] || die "no project(muster VERSION x.y.z) line in CMakeLists.txt"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
export TZ=UTC LC_ALL=C.UTF-8
umask 022

# target -> Debian architecture, rpm architecture, how to run its binary here
deb_arch() { case "$1" in linux-x86_64-static) echo amd64 ;; linux-aarch64) echo arm64 ;; linux-armhf) echo armhf ;; esac; }
rpm_arch() { case "$1" in linux-x86_64-static) echo x86_64 ;; linux-aarch64) echo aarch64 ;; linux-armhf) echo armv7hl ;; esac; }
emulator() {
  case "$1" in
    linux-aarch64) echo qemu-aarch64-static ;;
    linux-armhf) echo qemu-arm-static ;;
    windows-x86_64) echo "$root/cross/emulators/wine.sh" ;;
  esac
}

# The static libraries inside the binary, with their licenses, for the
# copyright file (versions from deps/versions.txt, the pins the build used).
bundled_licenses() {
  local name ver
  while read -r name ver _; do
    case "$name" in
      mbedtls) echo " mbed TLS $ver: Apache-2.0" ;;
      expat) echo " Expat $ver: MIT" ;;
      cjson) echo " cJSON $ver: MIT" ;;
      curl) echo " libcurl $ver: curl (MIT-like)" ;;
      libstrophe) echo " libstrophe $ver: MIT (dual MIT/GPL-3, used under MIT)" ;;
    esac
  done < <(grep -v '^#' deps/versions.txt)
  echo " GNU C library and GCC runtime (static): LGPL-2.1+ and GPL-3+ with the GCC Runtime Library Exception"
}

write_copyright() {
  cat > "$1" <<EOF
muster-agent $version

Copyright $(date -u -d "@$SOURCE_DATE_EPOCH" +%Y) the Muster authors.
License: see the Muster source tree.

This static binary also contains these libraries, built from Debian's
source archive (deps/versions.txt in the Muster sources):
$(bundled_licenses)
Their license texts are in /usr/share/common-licenses on Debian systems and at
https://spdx.org/licenses/.
EOF
}

# stage_files TARGET DIR UNIT_DIR: the installed tree, shared by deb and rpm.
stage_files() {
  local target="$1" dir="$2" unitdir="$3"
  install -D -m 0755 "build/cross/$target/muster-agent" "$dir/usr/lib/muster-agent/$version/muster-agent"
  mkdir -p "$dir/usr/sbin"
  # Relative, so it resolves inside a chroot or an image being built too.
  ln -s "../lib/muster-agent/$version/muster-agent" "$dir/usr/sbin/muster-agent"
  install -D -m 0600 packaging/agent/agent.conf "$dir/etc/muster/agent.conf"
  install -D -m 0644 packaging/agent/muster-agent.service "$dir/$unitdir/muster-agent.service"
  install -D -m 0644 packaging/agent/README "$dir/usr/share/doc/muster-agent/README"
  mkdir -p "$dir/usr/share/man/man8"
  gzip -9n < packaging/agent/muster-agent.8 > "$dir/usr/share/man/man8/muster-agent.8.gz"
  chmod 0644 "$dir/usr/share/man/man8/muster-agent.8.gz"
  write_copyright "$dir/usr/share/doc/muster-agent/copyright"
}

# Every time stamp becomes SOURCE_DATE_EPOCH.
clamp_times() { find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +; }

build_deb() {
  local target="$1" arch work dir debversion
  arch="$(deb_arch "$target")"
  debversion="$version-$release"
  work="$scratch/deb-$target"
  dir="$work/muster-agent"
  stage_files "$target" "$dir" lib/systemd/system
  install -D -m 0644 packaging/agent/deb/lintian-overrides "$dir/usr/share/lintian/overrides/muster-agent"
  printf 'muster-agent (%s) unstable; urgency=medium\n\n  * Package of muster-agent %s.\n\n -- Muster maintainers <muster@example.org>  %s\n' \
    "$debversion" "$version" "$(date -u -d "@$SOURCE_DATE_EPOCH" -R)" \
    | gzip -9n > "$dir/usr/share/doc/muster-agent/changelog.Debian.gz"
  chmod 0644 "$dir/usr/share/doc/muster-agent/changelog.Debian.gz"
  mkdir -p "$dir/DEBIAN"
  install -m 0755 packaging/agent/deb/postinst packaging/agent/deb/prerm packaging/agent/deb/postrm "$dir/DEBIAN/"
  install -m 0644 packaging/agent/deb/conffiles "$dir/DEBIAN/"
  (cd "$dir" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z \
     | xargs -0 md5sum) > "$dir/DEBIAN/md5sums"
  chmod 0644 "$dir/DEBIAN/md5sums"
  local kib
  kib="$(du -s -k --apparent-size --exclude=DEBIAN "$dir" | cut -f1)"
  sed -e "s/@DEB_VERSION@/$debversion/" -e "s/@DEB_ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$kib/" \
    packaging/agent/deb/control.in > "$dir/DEBIAN/control"
  clamp_times "$dir"
  local deb="$out/muster-agent_${debversion}_${arch}.deb"
  dpkg-deb --root-owner-group -Zxz -z9 --build "$dir" "$deb" >/dev/null
  built+=("$deb")
}

build_rpm() {
  local target="$1" arch work
  arch="$(rpm_arch "$target")"
  work="$scratch/rpm-$target"
  stage_files "$target" "$work/stage" usr/lib/systemd/system
  install -d -m 0700 "$work/stage/var/lib/muster-agent"
  clamp_times "$work/stage"
  mkdir -p "$work/top"
  sed -e "s|@STAGE@|$work/stage|" -e "s/@VERSION@/$version/g" -e "s/@RELEASE@/$release/g" \
      -e "s/@RPM_ARCH@/$arch/g" -e "s/@LICENSE@/LicenseRef-Muster/" \
      -e "s/@CHANGELOG_DATE@/$(date -u -d "@$SOURCE_DATE_EPOCH" '+%a %b %d %Y')/" \
      packaging/agent/rpm/muster-agent.spec.in > "$work/muster-agent.spec"
  # Build time, host and file times from SOURCE_DATE_EPOCH: reproducible.
  rpmbuild -bb --quiet --target "$arch-linux" \
    --define "_topdir $work/top" --define "_rpmdir $out" \
    --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
    --define "use_source_date_epoch_as_buildtime 1" --define "clamp_mtime_to_source_date_epoch 1" \
    --define "_buildhost muster-build" --define "optflags -O2" \
    "$work/muster-agent.spec" > "$work/rpmbuild.log" 2>&1 \
    || { cat "$work/rpmbuild.log" >&2; die "rpmbuild for $target failed"; }
  built+=("$out/muster-agent-$version-$release.$arch.rpm")
}

# A deterministic GUID (the same inputs give the same installer) from a name.
guid_of() { python3 -c 'import sys, uuid; print(uuid.uuid5(uuid.NAMESPACE_URL, sys.argv[1]))' "$1"; }

# The .msi for Windows (wixl): product code and component GUID follow the
# version (the component's folder is the version's). wixl itself writes the
# time and a new package code into every .msi, so it is not byte-reproducible.
build_msi() {
  local exe="build/cross/$1/muster-agent.exe" msi
  msi="$out/muster-agent-$version-$release-x64.msi"
  # wixl resolves Source relative to the current folder (the checkout).
  wixl -a x64 -o "$msi" -D Version="$version" -D AgentExe="$exe" \
    -D ProductCode="$(guid_of "muster-agent/product/$version")" \
    -D ComponentGuid="$(guid_of "muster-agent/component/$version")" \
    packaging/msi/muster-agent.wxs 2> "$scratch/wixl.log" || { cat "$scratch/wixl.log" >&2; die "wixl failed for $exe"; }
  built+=("$msi")
}

# The hub for this Debian release: dynamically linked (Poco from Debian), so
# its Depends come from dpkg-shlibdeps; built by ci/build.sh dev.
build_hub_deb() {
  local build="$root/build/dev" work dir debversion kib deps printed
  [ -x "$build/hub/muster-hub" ] || die "$build/hub/muster-hub is missing: run ci/build.sh dev"
  [ "$(cat "$build/muster-version.txt" 2>/dev/null)" = "$version" ] \
    || die "build/dev was configured for another version than $version: run ci/build.sh dev"
  printed="$("$build/hub/muster-hub" version)"
  [ "$printed" = "muster-hub $version" ] || die "muster-hub prints '$printed', expected 'muster-hub $version'"
  debversion="$version-$release"
  work="$scratch/deb-hub"
  dir="$work/muster-hub"
  install -d "$dir/usr/bin"
  objcopy --strip-unneeded "$build/hub/muster-hub" "$dir/usr/bin/muster-hub"
  chmod 0755 "$dir/usr/bin/muster-hub"
  install -D -m 0644 packaging/hub/muster-hub.service "$dir/lib/systemd/system/muster-hub.service"
  install -D -m 0644 packaging/hub/README "$dir/usr/share/doc/muster-hub/README"
  mkdir -p "$dir/usr/share/man/man8"
  gzip -9n < packaging/hub/muster-hub.8 > "$dir/usr/share/man/man8/muster-hub.8.gz"
  chmod 0644 "$dir/usr/share/man/man8/muster-hub.8.gz"
  printf 'muster-hub %s\n\nCopyright %s the Muster authors.\nLicense: see the Muster source tree.\n' \
    "$version" "$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y)" > "$dir/usr/share/doc/muster-hub/copyright"
  install -D -m 0644 packaging/hub/deb/lintian-overrides "$dir/usr/share/lintian/overrides/muster-hub"
  printf 'muster-hub (%s) unstable; urgency=medium\n\n  * Package of muster-hub %s.\n\n -- Muster maintainers <muster@example.org>  %s\n' \
    "$debversion" "$version" "$(date -u -d "@$SOURCE_DATE_EPOCH" -R)" \
    | gzip -9n > "$dir/usr/share/doc/muster-hub/changelog.Debian.gz"
  chmod 0644 "$dir/usr/share/doc/muster-hub/changelog.Debian.gz"
  # dpkg-shlibdeps reads debian/control from the folder it runs in.
  mkdir -p "$work/debian"
  printf 'Source: muster\n\nPackage: muster-hub\nArchitecture: any\n' > "$work/debian/control"
  deps="$(cd "$work" && dpkg-shlibdeps -O -e muster-hub/usr/bin/muster-hub 2>/dev/null | sed -n 's/^shlibs:Depends=//p')"
  [ -n "$deps" ] || die "dpkg-shlibdeps found no dependencies for muster-hub"
  mkdir -p "$dir/DEBIAN"
  install -m 0755 packaging/hub/deb/postinst packaging/hub/deb/prerm packaging/hub/deb/postrm "$dir/DEBIAN/"
  (cd "$dir" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) \
    > "$dir/DEBIAN/md5sums"
  chmod 0644 "$dir/DEBIAN/md5sums"
  kib="$(du -s -k --apparent-size --exclude=DEBIAN "$dir" | cut -f1)"
  sed -e "s/@DEB_VERSION@/$debversion/" -e "s/@DEB_ARCH@/$(dpkg --print-architecture)/" \
      -e "s/@INSTALLED_SIZE@/$kib/" -e "s/@SHLIBS_DEPENDS@/$deps/" \
      packaging/hub/deb/control.in > "$dir/DEBIAN/control"
  clamp_times "$dir"
  local deb="$out/muster-hub_${debversion}_$(dpkg --print-architecture).deb"
  dpkg-deb --root-owner-group -Zxz -z9 --build "$dir" "$deb" >/dev/null
  built+=("$deb")
}

check_binary() {
  local target="$1" bin="build/cross/$1/muster-agent" configured printed emu
  [[ "$target" == windows-* ]] && bin="$bin.exe"
  [ -f "$bin" ] || die "$bin is missing: build it with ci/cross.sh $target"
  configured="$(cat "build/cross/$target/muster-version.txt" 2>/dev/null || true)"
  [ "$configured" = "$version" ] \
    || die "build/cross/$target was configured for version '${configured:-unknown}' but CMakeLists.txt says $version: run ci/cross.sh $target"
  emu="$(emulator "$target")"
  # wine's server inherits our descriptors: its output goes to a file.
  ${emu:+$emu} "$bin" version > "$scratch/version.txt" 2>&1 || die "$bin version failed${emu:+ (under $emu)}"
  printed="$(tr -d '\r' < "$scratch/version.txt")"
  [ "$printed" = "muster-agent $version" ] || die "$bin prints '$printed', expected 'muster-agent $version'"
}

mkdir -p "$out"
out="$(cd "$out" && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
built=()
for target in "${targets[@]}"; do
  if [ "$target" = hub ]; then
    build_hub_deb
    continue
  fi
  if [ "$target" = windows-x86_64 ]; then
    command -v wixl >/dev/null || die "wixl is missing: run ci/install-packaging-deps.sh"
    check_binary "$target"
    build_msi "$target"
    continue
  fi
  [ -n "$(deb_arch "$target")" ] || die "unknown target $target (linux-x86_64-static, linux-aarch64, linux-armhf, windows-x86_64, hub)"
  check_binary "$target"
  build_deb "$target"
  build_rpm "$target"
done

for f in "${built[@]}"; do
  printf '%-60s %8d bytes\n' "${f#"$root"/}" "$(stat -c %s "$f")"
done

if [ "$lint" = 1 ]; then
  status=0
  for f in "${built[@]}"; do
    case "$f" in
      *.deb) echo "== lintian ${f##*/}"; lintian --fail-on error --info "$f" || status=1 ;;
      *.rpm) echo "== rpmlint ${f##*/}"; rpmlint -r packaging/agent/rpm/rpmlintrc "$f" || status=1 ;;
    esac
  done
  [ "$status" = 0 ] || die "lint errors (above)"
fi
