# Shared by the ci/install-*.sh scripts; source it, do not run it:
#   . ci/lib.sh

# as_root COMMAND...: runs COMMAND as root (through sudo unless we are root).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# apt_install_missing NAME PACKAGE...: installs those of the Debian packages
# that are not installed yet, running `apt-get update` only then; NAME prefixes
# the messages. Idempotent. Leaves the packages it installed in APT_INSTALLED.
apt_install_missing() {
  local name="$1" pkg
  shift
  APT_INSTALLED=()
  for pkg in "$@"; do
    if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed$'; then
      APT_INSTALLED+=("$pkg")
    fi
  done
  if [ ${#APT_INSTALLED[@]} -eq 0 ]; then
    echo "$name: all $# packages present"
    return 0
  fi
  echo "$name: installing ${APT_INSTALLED[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${APT_INSTALLED[@]}"
}

# disable_services SERVICE...: stops and disables system services a package
# just started (tests start private instances instead), where systemd runs.
disable_services() {
  local svc
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    for svc in "$@"; do
      as_root systemctl disable --now "$svc" >/dev/null 2>&1 || true
    done
  fi
}
