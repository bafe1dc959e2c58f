"""Constants and small helpers every part of the stack uses: paths, ports,
programs, waiting with a timeout."""

import os
import shutil
import socket
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
XMPP_DOMAIN = "muster.localhost"
SHARD = "shard0.muster.localhost"
AGENT_RESOURCE = "muster"
MAX_BODY = 1024 * 1024
XMPP_SERVERS = ("prosody", "ejabberd")
EJABBERD_USER = "ejabberd"  # Debian's ejabberdctl runs the node only as this user (or root → su)
# What ejabberd 23.01 logs (level info) when a component authenticates.
EJABBERD_COMPONENT_LOGIN = "Accepted external component"


class StackError(RuntimeError):
    """The stack could not be started or a wait ran out of time."""


# ---------------------------------------------------------------------------
# small helpers


def build_dir():
    return Path(os.environ.get("MUSTER_BUILD_DIR") or REPO_ROOT / "build" / "dev").resolve()


def require_tool(name):
    path = shutil.which(name)
    if not path:
        raise StackError(f"required program '{name}' not found on PATH "
                         f"(a ci/install-*.sh script installs it; ci/check-tools.sh checks that one does)")
    return path


def require_binary(path):
    path = Path(path)
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise StackError(f"Muster binary {path} is missing: build it first "
                         f"(ci/build.sh dev) or point MUSTER_BUILD_DIR at a build")
    return str(path)


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 16384))
            data = f.read().decode("utf-8", "replace")
    except OSError as e:
        return f"<cannot read {path}: {e}>"
    return "\n".join(data.splitlines()[-lines:])


def wait_until(predicate, timeout, what, interval=0.1, check=None):
    """Call predicate() until it returns a true value or timeout seconds pass.

    check(), when given, is called on every round and may raise to abort early
    (e.g. because the process we wait for has exited).
    """
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        if check:
            check()
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - remembered for the message
            last_exc = e
        if time.monotonic() >= deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise StackError(f"timed out after {timeout:.0f}s waiting for {what}{extra}")
        time.sleep(interval)


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def pid_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []
