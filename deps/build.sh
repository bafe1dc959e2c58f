#!/usr/bin/env bash
# Builds the agent's pinned static dependency set for one target:
#   mbedTLS, expat, cJSON, libcurl (HTTP only, mbedTLS) and libstrophe 0.14.0
#   (our CMake build, our mbedTLS backend and patches, deps/libstrophe/),
#   plus GoogleTest (from Debian's googletest package) for the unit tests.
#
# Usage: deps/build.sh TARGET        TARGET = a toolchain name in cross/
#        deps/build.sh fetch         only download and unpack the sources
#
# Sources come from Debian's source archive through a private apt
# configuration (the machine's own apt sources are never touched); apt checks
# them against the signed Sources index and this script against the sha256
# pins in deps/versions.txt. Everything is cached outside the checkout:
#   $MUSTER_DEPS_CACHE/src/<name>_<debian-version>/   unpacked, Debian patches applied
#   $MUSTER_DEPS_CACHE/<target>/<name>-<version>-<key>/   installed static lib
# where <key> hashes the toolchain file and the build options (and our
# libstrophe files), so a rerun with nothing changed does nothing. The last
# step writes $MUSTER_DEPS_CACHE/<target>/muster-deps.cmake, which
# cmake/dependencies.cmake reads when MUSTER_DEPS_DIR points at that folder.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cache="${MUSTER_DEPS_CACHE:-/var/cache/muster-deps}"
jobs="${MUSTER_JOBS:-$(nproc)}"

log() { printf 'deps: %s\n' "$*" >&2; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- sources --

mirror() {
  # The Debian archive URI this machine's apt already uses.
  local uri
  uri="$(grep -rhoE '(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
        | awk '{print $2}' | head -n1 || true)"
  echo "${uri:-http://deb.debian.org/debian}"
}

apt_private() {
  local dir="$cache/apt"
  if [ ! -f "$dir/sources.list" ] || [ "$(cat "$dir/mirror" 2>/dev/null)" != "$(mirror)" ]; then
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
    : > "$dir/sources.list"
    for suite in bookworm trixie; do
      printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' "$(mirror)" "$suite" >> "$dir/sources.list"
    done
    mirror > "$dir/mirror"
    rm -f "$dir/updated"
  fi
  APTO=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o APT::Sandbox::User=root)
  if [ ! -f "$dir/updated" ]; then
    log "apt-get update (private source lists in $dir)"
    apt-get "${APTO[@]}" -q update >&2
    touch "$dir/updated"
  fi
}

# pin NAME -> sets DEBVER SUITE DEBPATCH SHA
pin() {
  local line
  line="$(awk -v n="$1" '$1 == n {print; exit}' "$here/versions.txt")"
  [ -n "$line" ] || die "no pin for $1 in deps/versions.txt"
  read -r _ DEBVER SUITE DEBPATCH SHA <<<"$line"
  UPVER="${DEBVER%-*}"
}

# fetch NAME -> prints the unpacked source directory
fetch() {
  local name="$1" dir dl orig
  pin "$name"
  dir="$cache/src/${name}_${DEBVER}"
  if [ -f "$dir/.complete" ]; then echo "$dir/tree"; return; fi
  apt_private
  dl="$dir/download"
  rm -rf "$dir"; mkdir -p "$dl"
  log "fetching $name $DEBVER from Debian's source archive"
  # A missing .dsc/.debian.tar for a package whose patches we do not apply is
  # fine; the upstream tarball itself must arrive and match the pin.
  (cd "$dl" && apt-get "${APTO[@]}" -q source --download-only "$name=$DEBVER" >&2) || \
    [ "$DEBPATCH" = no ] || die "apt-get source $name=$DEBVER failed"
  orig="$(ls "$dl"/"${name}_${UPVER}".orig.tar.* 2>/dev/null | grep -v '\.asc$' | head -n1)"
  [ -n "$orig" ] || die "$name: upstream tarball did not arrive"
  echo "$SHA  $orig" | sha256sum -c --quiet - >&2 || die "$name: sha256 mismatch for $orig"
  mkdir -p "$dir/tree"
  tar -xf "$orig" -C "$dir/tree" --strip-components=1
  if [ "$DEBPATCH" = yes ]; then
    tar -xf "$dl"/"${name}_${DEBVER}".debian.tar.* -C "$dir/tree"
    local series="$dir/tree/debian/patches/series" n=0
    if [ -f "$series" ]; then
      while read -r p _; do
        case "$p" in ''|\#*) continue ;; esac
        patch -d "$dir/tree" -p1 -s -N < "$dir/tree/debian/patches/$p" >&2 || die "$name: Debian patch $p does not apply"
        n=$((n + 1))
      done < "$series"
    fi
    log "$name: applied $n Debian patches"
  fi
  touch "$dir/.complete"
  echo "$dir/tree"
}

# -------------------------------------------------------------- building --

toolchain=""
target=""
built=()   # "NAME=PREFIX" lines for muster-deps.cmake

hash_of() { sha256sum | cut -c1-12; }

# build NAME SOURCE_DIR [cmake args...]: configure, build and install into a
# prefix keyed by version, toolchain and options; skipped when already there.
build() {
  local name="$1" src="$2"; shift 2
  local extra_key="${EXTRA_KEY:-}"
  local key prefix bdir start
  # Paths into the checkout are left out: every checkout shares one cache.
  key="$( { cat "$toolchain"; printf '%s\n' "$@" | sed "s|$here/|deps/|g"; echo "$extra_key"; } | hash_of)"
  prefix="$cache/$target/$name-$UPVER-$key"
  built+=("$name=$prefix")
  if [ -f "$prefix/.complete" ]; then
    log "$name $UPVER: cached ($prefix)"
    return
  fi
  bdir="$cache/$target/build/$name-$UPVER-$key"
  rm -rf "$bdir" "$prefix"; mkdir -p "$bdir"
  start=$(date +%s)
  log "$name $UPVER: building for $target"
  cmake -S "$src" -B "$bdir" -G Ninja -Wno-dev \
    -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
    -DCMAKE_BUILD_TYPE=MinSizeRel \
    -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DCMAKE_INSTALL_LIBDIR=lib \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DBUILD_SHARED_LIBS=OFF \
    "$@" > "$bdir.log" 2>&1 || { tail -n 30 "$bdir.log" >&2; die "$name: configure failed (log: $bdir.log)"; }
  cmake --build "$bdir" -j "$jobs" >> "$bdir.log" 2>&1 || { tail -n 30 "$bdir.log" >&2; die "$name: build failed (log: $bdir.log)"; }
  cmake --install "$bdir" >> "$bdir.log" 2>&1 || die "$name: install failed (log: $bdir.log)"
  touch "$prefix/.complete"
  rm -rf "$bdir"
  # Older builds of this library for this target (other key or version) are
  # no longer referenced by muster-deps.cmake once this run finishes.
  local old
  for old in "$cache/$target/$name"-*; do
    [ "$old" != "$prefix" ] && [ -d "$old" ] && rm -rf "$old" "$cache/$target/build/${old##*/}.log"
  done
  log "$name $UPVER: built in $(( $(date +%s) - start )) s"
}

# with_our_patches NAME SOURCE_DIR: prints SOURCE_DIR, or, when deps/NAME/patches
# holds patches of ours, a copy of it with them applied (in name order), kept
# next to the source and keyed by the patches' content.
with_our_patches() {
  local name="$1" src="$2" key dir p
  local patches=("$here/$name"/patches/*.patch)
  [ -e "${patches[0]}" ] || { echo "$src"; return; }
  key="$(cat "${patches[@]}" | hash_of)"
  dir="$(dirname "$src")/ours-$key"
  if [ ! -f "$dir/.complete" ]; then
    rm -rf "$(dirname "$src")"/ours-*
    cp -a "$src" "$dir"
    for p in "${patches[@]}"; do
      patch -d "$dir" -p1 -s -N < "$p" >&2 || die "$name: our patch ${p##*/} does not apply"
    done
    log "$name: applied ${#patches[@]} patches of ours"
    touch "$dir/.complete"
  fi
  echo "$dir"
}

prefix_of() {
  local entry
  for entry in "${built[@]}"; do
    [ "${entry%%=*}" = "$1" ] && { echo "${entry#*=}"; return; }
  done
  die "internal: $1 not built yet"
}

build_all() {
  local src mbed expat

  pin mbedtls; src="$(with_our_patches mbedtls "$(fetch mbedtls)")"
  # The patched copy's name carries the patches' hash: a changed patch rebuilds.
  EXTRA_KEY="$src" build mbedtls "$src" \
    -DENABLE_TESTING=OFF -DENABLE_PROGRAMS=OFF -DMBEDTLS_FATAL_WARNINGS=OFF \
    -DUSE_SHARED_MBEDTLS_LIBRARY=OFF -DUSE_STATIC_MBEDTLS_LIBRARY=ON -DINSTALL_MBEDTLS_HEADERS=ON
  mbed="$(prefix_of mbedtls)"

  # No DTD support: XMPP forbids DTDs, and Debian's patches expect XML_DTD to be
  # 1 or undefined, which expat's CMake (an empty define) does not give.
  pin expat; src="$(fetch expat)"
  build expat "$src/expat" \
    -DEXPAT_SHARED_LIBS=OFF -DEXPAT_BUILD_TOOLS=OFF -DEXPAT_BUILD_EXAMPLES=OFF \
    -DEXPAT_BUILD_TESTS=OFF -DEXPAT_BUILD_DOCS=OFF -DEXPAT_BUILD_FUZZERS=OFF \
    -DEXPAT_BUILD_PKGCONFIG=OFF -DEXPAT_MSVC_STATIC_CRT=OFF -DEXPAT_DTD=OFF
  expat="$(prefix_of expat)"

  pin cjson; src="$(fetch cjson)"
  build cjson "$src" \
    -DENABLE_CJSON_TEST=OFF -DENABLE_CJSON_UTILS=OFF -DENABLE_CUSTOM_COMPILER_FLAGS=OFF \
    -DENABLE_TARGET_EXPORT=OFF -DCJSON_OVERRIDE_BUILD_SHARED_LIBS=ON -DCJSON_BUILD_SHARED_LIBS=OFF

  pin curl; src="$(fetch curl)"
  # The agent only sends JSON requests with its own headers and CA: no DoH,
  # multipart forms, .netrc (whose lookup of the home directory would call
  # getpwuid_r in a static binary), option introspection, date parsing (only
  # cookies/HSTS/alt-svc, all off) or progress meter (x86_64 agent: -26 KB).
  # curl detects a working poll() with a test program it cannot run when
  # cross-compiling, and then falls back to select(), refusing every socket
  # with fd >= FD_SETSIZE. Linux's poll() is fine; Windows uses Winsock.
  local curl_poll=()
  case "$target" in windows-*) ;; *) curl_poll=(-DHAVE_POLL_FINE=1) ;; esac
  local mbedlib=(-DMBEDTLS_INCLUDE_DIRS="$mbed/include" -DMBEDTLS_LIBRARY="$mbed/lib/libmbedtls.a"
                 -DMBEDX509_LIBRARY="$mbed/lib/libmbedx509.a" -DMBEDCRYPTO_LIBRARY="$mbed/lib/libmbedcrypto.a")
  build curl "$src" "${mbedlib[@]}" "${curl_poll[@]}" \
    -DBUILD_CURL_EXE=OFF -DBUILD_TESTING=OFF -DHTTP_ONLY=ON -DCURL_USE_MBEDTLS=ON \
    -DCURL_USE_OPENSSL=OFF -DCURL_USE_SCHANNEL=OFF -DCURL_DISABLE_COOKIES=ON \
    -DCURL_USE_LIBSSH2=OFF -DCURL_USE_LIBSSH=OFF -DCURL_USE_LIBPSL=OFF -DUSE_LIBIDN2=OFF \
    -DUSE_NGHTTP2=OFF -DCURL_ZLIB=OFF -DCURL_BROTLI=OFF -DCURL_ZSTD=OFF -DENABLE_UNIX_SOCKETS=OFF \
    -DCURL_DISABLE_LDAP=ON -DCURL_USE_GSSAPI=OFF -DCURL_DISABLE_NTLM=ON -DCURL_CA_BUNDLE=none \
    -DCURL_CA_PATH=none -DCURL_CA_FALLBACK=OFF -DENABLE_MANUAL=OFF -DPICKY_COMPILER=OFF \
    -DCURL_DISABLE_ALTSVC=ON -DCURL_DISABLE_HSTS=ON -DUSE_WIN32_IDN=OFF -DCURL_WINDOWS_SSPI=OFF \
    -DENABLE_WEBSOCKETS=OFF \
    -DCURL_DISABLE_DOH=ON -DCURL_DISABLE_MIME=ON -DCURL_DISABLE_NETRC=ON -DCURL_DISABLE_GETOPTIONS=ON \
    -DCURL_DISABLE_PARSEDATE=ON -DCURL_DISABLE_PROGRESS_METER=ON -DCURL_DISABLE_LIBCURL_OPTION=ON

  pin libstrophe; src="$(fetch libstrophe)"
  # Our recipe files are part of the key: a changed patch or backend rebuilds.
  EXTRA_KEY="$(cat "$here/libstrophe/CMakeLists.txt" "$here/libstrophe/tls_mbedtls.c" "$here"/libstrophe/patches/*.patch | hash_of)" \
  build libstrophe "$here/libstrophe" \
    -DSTROPHE_SOURCE_DIR="$src" -DSTROPHE_VERSION="$UPVER" \
    -DSTROPHE_PATCH_DIR="$here/libstrophe/patches" \
    -DMBEDTLS_ROOT="$mbed" -DEXPAT_ROOT="$expat"

  # GoogleTest for the unit tests of the target, from Debian's googletest
  # package (already verified by dpkg); keyed by its package version.
  local gtver
  gtver="$(dpkg-query -W -f='${Version}' googletest 2>/dev/null || true)"
  [ -n "$gtver" ] && [ -d /usr/src/googletest ] || die "googletest is missing: run ci/install-cross-deps.sh"
  UPVER="${gtver%-*}" build googletest /usr/src/googletest -DBUILD_GMOCK=OFF -DINSTALL_GTEST=ON -Dgtest_force_shared_crt=OFF
}

write_deps_file() {
  local out="$cache/$target/muster-deps.cmake" entry name
  {
    echo "# Written by deps/build.sh for target $target; read by cmake/dependencies.cmake."
    echo "set(MUSTER_DEPS_TARGET \"$target\")"
    for entry in "${built[@]}"; do
      name="${entry%%=*}"
      printf 'set(MUSTER_DEP_%s "%s")\n' "$(echo "$name" | tr a-z A-Z)" "${entry#*=}"
    done
  } > "$out.tmp"
  # Unchanged content keeps its time stamp, so builds that include it do not
  # reconfigure.
  if cmp -s "$out.tmp" "$out"; then
    rm -f "$out.tmp"
    log "$out unchanged"
  else
    mv "$out.tmp" "$out"
    log "wrote $out"
  fi
}

case "${1:-}" in
  ""|-h|--help)
    echo "usage: deps/build.sh TARGET | fetch    (targets: $(cd "$root/cross" && ls *.cmake | sed 's/\.cmake$//' | tr '\n' ' '))"
    exit 2 ;;
  fetch)
    for n in mbedtls expat cjson curl libstrophe; do fetch "$n" >/dev/null; done
    exit 0 ;;
esac

target="$1"
toolchain="$root/cross/$target.cmake"
[ -f "$toolchain" ] || die "unknown target $target (no cross/$target.cmake)"
mkdir -p "$cache/$target"
# One build of a target at a time: ci/build.sh runs this before every host
# build, so two builds started together would otherwise build (and prune) the
# same prefixes at once. The second waits, then finds everything cached.
exec 9>"$cache/$target/.lock"
flock 9
t0=$(date +%s)
build_all
write_deps_file
log "all dependencies for $target ready in $(( $(date +%s) - t0 )) s"
