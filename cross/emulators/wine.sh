#!/usr/bin/env bash
# Runs a Windows program under wine for tests: a private prefix (created on
# first use), no debug chatter, and wine's exit code passed through.
# wineserver and wine's own services inherit the file descriptors of whoever
# starts them; if that is a pipe a caller reads to EOF (ctest, execute_process,
# `wine x | grep`), the caller hangs. So the server is started here first,
# detached from our stdout/stderr, and kept alive for two minutes after the
# last client so consecutive test runs reuse it.
# `wine.sh --prepare` only creates the prefix (the install step does this, so
# that no test's first call pays for it).
set -euo pipefail
export WINEPREFIX="${WINEPREFIX:-/var/cache/muster-deps/wine-prefix}"
# Wine converts Windows (UTF-16) file names to Unix ones in the locale's
# charset: under the C/POSIX locale (no LANG, e.g. a fresh machine, cron or a
# CI runner) a non-ASCII name cannot be created. Tests always run in UTF-8.
export LC_ALL=C.UTF-8
export WINEDEBUG="${WINEDEBUG:--all}"
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}"
# Test programs that are not linked statically (proto_tests) find mingw's
# runtime DLLs (libstdc++, libgcc, winpthread) here; the agent needs none.
gcc_dll_dir="$(dirname "$(x86_64-w64-mingw32-g++-posix -print-file-name=libstdc++-6.dll)")"
export WINEPATH="${WINEPATH:+$WINEPATH;}$gcc_dll_dir;/usr/x86_64-w64-mingw32/lib"
mkdir -p "$WINEPREFIX"
if wineserver -p120 </dev/null >/dev/null 2>&1; then
  # A new server: start the prefix's services (services.exe, explorer, ...)
  # now, detached from our output, rather than from the program below.
  if [ ! -f "$WINEPREFIX/.muster-ready" ]; then
    wineboot --init </dev/null >/dev/null 2>&1 || true
    touch "$WINEPREFIX/.muster-ready"
  else
    wine wineboot </dev/null >/dev/null 2>&1 || true
  fi
fi
[ "${1:-}" = "--prepare" ] && exit 0
exec wine "$@"
