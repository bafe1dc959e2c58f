"""Helpers of the package tests (CTest label `packaging`).

Every test installs into a scratch root, never into this machine: an overlay
on a Debian 12 root made once with debootstrap and cached outside the
checkout, under a name keyed by everything that went into it. Packages are
built by packaging/build-packages.sh from the agents in build/cross/.
Exit status of each test: 0 pass, 1 fail, 77 skipped (with the reason).
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("MUSTER_DEPS_CACHE", "/var/cache/muster-deps"))
SKIP = 77

sys.path.insert(0, str(REPO_ROOT / "tests" / "cross"))
from cross_stack import debian_mirror  # noqa: E402


class Skip(Exception):
    """The test cannot run here; the message says why."""


def say(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(argv, check=True, timeout=600, **kwargs):
    """Runs argv, returns its CompletedProcess (text); on failure raises with its output."""
    res = subprocess.run([str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=timeout, **kwargs)
    if check and res.returncode != 0:
        raise AssertionError(f"$ {' '.join(map(str, argv))}\n[exit {res.returncode}]\n{res.stdout[-4000:]}")
    return res


def main(test):
    """Runs test() and turns its outcome into the exit status CTest reads."""
    began = time.monotonic()
    try:
        test()
    except Skip as e:
        say(f"SKIPPED: {e}")
        return SKIP
    except AssertionError as e:
        say(f"FAILED: {e}")
        return 1
    say(f"passed in {time.monotonic() - began:.0f} s")
    return 0


def require_tool(name):
    """Skips the test unless program `name` is on PATH (one name a call, so
    ci/check-tools.sh finds it and checks that an install script provides it)."""
    if shutil.which(name) is None:
        raise Skip(f"{name} is missing: run ci/install-packaging-deps.sh (or ci/install-deps.sh)")


def require_root():
    if os.geteuid() != 0:
        raise Skip("needs root (chroot, overlay mounts, systemd-nspawn)")


def agent_targets():
    """The Linux targets whose agent is built (ci/cross.sh TARGET)."""
    targets = [t for t in ("linux-x86_64-static", "linux-aarch64", "linux-armhf")
               if (REPO_ROOT / "build" / "cross" / t / "muster-agent").is_file()]
    if "linux-x86_64-static" not in targets:
        raise Skip("build/cross/linux-x86_64-static/muster-agent is missing: run ci/cross.sh linux-x86_64-static")
    return targets


def build_packages(out, targets=("linux-x86_64-static",), release=1, epoch=None, lint=False):
    """packaging/build-packages.sh into `out`; returns its output."""
    env = dict(os.environ)
    if epoch is not None:
        env["SOURCE_DATE_EPOCH"] = str(epoch)
    argv = [REPO_ROOT / "packaging" / "build-packages.sh", "--out", out, "--release", release]
    if lint:
        argv.append("--lint")
    return run([*argv, *targets], env=env).stdout


def project_version():
    for line in (REPO_ROOT / "CMakeLists.txt").read_text().splitlines():
        if line.startswith("project(muster VERSION "):
            return line.split()[2]
    raise AssertionError("no project(muster VERSION ...) in CMakeLists.txt")


# -- Debian roots ------------------------------------------------------------------

ROOT_SUITE = os.environ.get("MUSTER_PACKAGING_SUITE", "bookworm")  # Debian 12; bullseye: Debian 11
ROOT_PACKAGES = ("systemd", "systemd-sysv", "dbus", "gpgv")


def debian_root(suite=ROOT_SUITE):
    """A Debian minbase root of `suite` with systemd, made once with
    debootstrap (~2 min) and cached as CACHE/rootfs/<suite>-systemd-<key>; the
    key hashes suite, packages and mirror, so changing any of them makes a new
    root. Tests never write to it: they mount an overlay (ScratchRoot)."""
    mirror = debian_mirror()
    key = hashlib.sha256(f"{suite}|minbase|{','.join(ROOT_PACKAGES)}|{mirror}".encode()).hexdigest()[:12]
    root = CACHE / "rootfs" / f"{suite}-systemd-{key}"
    if (root / ".complete").exists():
        return root
    require_tool("debootstrap")
    say(f"debootstrap {suite} into {root} (cached for later runs)")
    shutil.rmtree(root, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    run(["debootstrap", "--variant=minbase", f"--include={','.join(ROOT_PACKAGES)}", suite, root, mirror],
        timeout=1200)
    # The root's apt must never reach the network: tests install from files.
    (root / "etc" / "apt" / "sources.list").write_text("")
    # debootstrap writes no /etc/hosts; the agent finds the hub as localhost.
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n")
    (root / ".complete").touch()
    return root


class ScratchRoot:
    """A writable copy of the cached root: an overlay whose changes land in a
    temporary folder and vanish with it."""

    def __init__(self):
        require_root()
        self.base = debian_root()
        self.tmp = Path(tempfile.mkdtemp(prefix="muster-pkgroot-"))
        self.path = self.tmp / "root"
        for d in ("upper", "work", "root"):
            (self.tmp / d).mkdir()
        run(["mount", "-t", "overlay", "overlay", "-o",
             f"lowerdir={self.base},upperdir={self.tmp / 'upper'},workdir={self.tmp / 'work'}", self.path])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def file(self, path):
        return self.path / str(path).lstrip("/")

    def chroot(self, *argv, check=True, timeout=600):
        return run(["chroot", self.path, *argv], check=check, timeout=timeout)

    def close(self):
        if self.path is None:
            return
        for _ in range(10):
            if run(["umount", self.path], check=False).returncode == 0:
                break
            time.sleep(1)
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.path = None


# -- GnuPG keys for signed repositories ------------------------------------------

def make_signing_key(home, name, algo="ed25519"):
    """A new passphrase-less signing key in GNUPGHOME `home`; returns its fingerprint."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = dict(os.environ, GNUPGHOME=str(home))
    run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", f"{name} <repo@muster.test>", algo, "sign",
         "never"], env=env)
    out = run(["gpg", "--batch", "--with-colons", "--list-keys", name], env=env).stdout
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr"))


def publish_repo(home, key, out, packages, kind="apt"):
    """packaging/publish-{apt,yum}-repo.sh with the key of GNUPGHOME `home`."""
    env = dict(os.environ, GNUPGHOME=str(home))
    run([REPO_ROOT / "packaging" / f"publish-{kind}-repo.sh", "--key", key, "--out", out, *packages], env=env)
