"""Run a cross-built or static muster-agent against a real private stack.

The stack (Redis, Prosody, muster-hub) is tests/support/muster_stack.py's
MusterStack, booted with the host's hub build; only how the agent is started
differs. A Runner says how: directly, under an emulator (qemu-user, wine), or
inside a chroot (an empty one, or a Debian 11 root file system with a hostile
nsswitch.conf). The hub hands out the XMPP server by host name ("localhost"),
so every agent resolves it itself (glibc's built-in files/dns in the static
builds) and checks the server certificate against the CA it enrolled with.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from muster_stack import (MusterStack, StackError, require_binary, require_tool, wait_until,  # noqa: E402
                          XMPP_DOMAIN)

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("MUSTER_DEPS_CACHE", "/var/cache/muster-deps"))


def cross_build_dir(target):
    root = Path(os.environ.get("MUSTER_CROSS_BUILD_ROOT") or REPO_ROOT / "build" / "cross")
    return root / target


def agent_binary(target):
    name = "muster-agent.exe" if target.startswith("windows") else "muster-agent"
    return cross_build_dir(target) / "agent" / name


QEMU = {"linux-aarch64": "qemu-aarch64-static", "linux-armhf": "qemu-arm-static"}


class Runner:
    """Starts the agent directly or under an emulator; paths are the host's."""

    def __init__(self, binary, prefix=()):
        self.binary = Path(binary)
        self.prefix = list(prefix)

    def prepare(self, stack):
        pass

    def state_dir(self, stack, i):
        """Where agent i keeps its state, as a host path."""
        return stack.dir / "agents" / str(i)

    def agent_path(self, host_path):
        """A host path as the agent sees it."""
        return str(host_path)

    def argv(self, *args):
        return [*self.prefix, str(self.binary), *args]


class WineRunner(Runner):
    def __init__(self, binary):
        super().__init__(binary, [str(REPO_ROOT / "cross" / "emulators" / "wine.sh")])

    def agent_path(self, host_path):
        # wine maps the host's / to drive Z:
        return "Z:" + str(host_path).replace("/", "\\")


class ChrootRunner(Runner):
    """Runs the static agent inside `root`: only the binary, /etc/hosts,
    /etc/resolv.conf and the CA it is given; for ARM targets, the static
    qemu-user binary as well (a static agent needs nothing else)."""

    def __init__(self, binary, root, qemu=None, nsswitch=None):
        super().__init__(binary)
        self.root = Path(root)
        self.qemu = qemu
        self.nsswitch = nsswitch

    def prepare(self, stack):
        etc = self.root / "etc"
        etc.mkdir(parents=True, exist_ok=True)
        (self.root / "tmp").mkdir(mode=0o1777, exist_ok=True)
        shutil.copy2(self.binary, self.root / "muster-agent")
        shutil.copy2(stack.ca_file, self.root / "muster-ca.pem")
        (etc / "hosts").write_text(f"127.0.0.1 localhost {XMPP_DOMAIN}\n")
        # Nothing answers DNS on loopback: names must come from /etc/hosts.
        (etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        # A root agent runs tasks as "nobody" (--task-user): the one account
        # an otherwise empty root must know (read through glibc's built-in
        # "files" service).
        if not (etc / "passwd").exists():
            (etc / "passwd").write_text("root:x:0:0:root:/:/nonexistent\n"
                                        "nobody:x:65534:65534:nobody:/nonexistent:/nonexistent\n")
            (etc / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
        if self.nsswitch is not None:
            (etc / "nsswitch.conf").write_text(self.nsswitch)
        if self.qemu:
            shutil.copy2(require_tool(self.qemu), self.root / self.qemu)

    def state_dir(self, stack, i):
        return self.root / "muster-state" / str(i)

    def agent_path(self, host_path):
        host_path = Path(host_path)
        if host_path == Path(self._stack_ca):
            return "/muster-ca.pem"
        return "/" + str(host_path.relative_to(self.root))

    def argv(self, *args):
        inner = ["/muster-agent", *args]
        if self.qemu:
            inner = [f"/{self.qemu}", *inner]
        return ["chroot", str(self.root), *inner]


class CrossAgentStack(MusterStack):
    """A MusterStack whose agents are started by a Runner: MusterStack enrolls
    and runs them through its agent_argv/agent_path/agent_log_dir hooks."""

    def __init__(self, state_dir, runner, agents=1, **kwargs):
        hub_build = os.environ.get("MUSTER_BUILD_DIR") or REPO_ROOT / "build" / "dev"
        super().__init__(state_dir, agents=agents, build=hub_build, **kwargs)
        self.runner = runner
        # Agents must reach the XMPP server by name, not by address.
        self.agent_xmpp_host = "localhost"
        self.enroll_timeout = 120  # under qemu-user or wine

    @property
    def agent_bin(self):
        return self.runner.binary

    def agent_dir(self, i):
        return self.runner.state_dir(self, i)

    def agent_log_dir(self, i):
        # On the host, outside any chroot (whose state dir may be the cached
        # Debian 11 root).
        return self.dir / "agents" / str(i)

    def agent_argv(self, *args):
        require_binary(self.agent_bin)
        return self.runner.argv(*args)

    def agent_path(self, host_path):
        return self.runner.agent_path(host_path)

    def enroll_agents(self, n):
        self.runner._stack_ca = self.ca_file
        self.runner.prepare(self)
        super().enroll_agents(n)

    def agent_log(self, i):
        try:
            return (self.agent_log_dir(i) / "agent.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""


# -- root file systems ------------------------------------------------------

def debian_mirror():
    for src in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]:
        try:
            for line in src.read_text().splitlines():
                for word in line.split():
                    if word.startswith("http") and word.rstrip("/").endswith("/debian"):
                        return word
        except OSError:
            continue
    return "http://deb.debian.org/debian"


def bullseye_rootfs():
    """A Debian 11 (glibc 2.31) minbase root with libnss-myhostname, made once
    with debootstrap and cached; tests write only under /muster-state."""
    root = CACHE / "rootfs" / "bullseye"
    if (root / ".complete").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    res = subprocess.run([require_tool("debootstrap"), "--variant=minbase", "--include=libnss-myhostname",
                          "bullseye", str(root), debian_mirror()],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
    if res.returncode != 0:
        raise StackError("debootstrap bullseye failed:\n" + res.stdout.decode()[-3000:])
    (root / ".complete").touch()
    return root


# Services that a static glibc binary would have to dlopen from the host
# (with the host's libc): exactly what must never happen.
HOSTILE_NSSWITCH = """passwd: files systemd sss
group: files systemd sss
hosts: myhostname mdns4_minimal [NOTFOUND=return] files dns
networks: files
"""
