#!/usr/bin/env bash
# Checks that every program the tests and benchmarks require comes from a
# Debian package that a ci/install-*.sh script installs. CI runs on a machine
# where anything once installed by hand stays installed, so a missing install
# step is invisible there and fails only on a fresh machine; this makes it
# fail here. Run after the install scripts (it reads dpkg's database).
#
# The programs: every require_tool("name") under tests/ and bench/, the
# qemu-user emulators named in tests/cross and cross/*.cmake, and what
# cross/emulators/wine.sh runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

programs=$( {
  grep -rhoE 'require_tool\("[A-Za-z0-9_.+-]+"\)' tests bench | sed -E 's/.*\("([^"]+)"\).*/\1/'
  grep -rhoE 'qemu-[a-z0-9]+-static' tests/cross cross/*.cmake
  grep -hoE '\b(wine|wineserver|wineboot)\b' cross/emulators/wine.sh
} | sort -u)

scripts=(ci/install-*.sh)
named_in_scripts() { grep -qw -- "$1" "${scripts[@]}"; }

missing=()
for prog in $programs; do
  if ! path=$(command -v "$prog"); then
    missing+=("$prog (not on PATH: no install script installs it)")
    continue
  fi
  pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n1 | cut -d: -f1) || true
  [ -n "$pkg" ] || pkg=$(dpkg -S "$path" 2>/dev/null | head -n1 | cut -d: -f1) || true
  if [ -z "$pkg" ]; then
    missing+=("$prog ($path belongs to no Debian package)")
    continue
  fi
  named_in_scripts "$pkg" && continue
  case "$(dpkg-query -W -f='${Priority}' "$pkg" 2>/dev/null)" in required|important) continue ;; esac
  # Installed as a dependency of a package a script names.
  found=0
  for r in $(apt-cache rdepends --installed "$pkg" 2>/dev/null | tail -n +3 | tr -d ' |'); do
    if named_in_scripts "$r"; then found=1; break; fi
  done
  [ $found = 1 ] || missing+=("$prog (package $pkg)")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "check-tools: programs the tests require that no ci/install-*.sh installs:" >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 1
fi
echo "check-tools: all $(wc -w <<<"$programs") required programs come from packages the install scripts name"
