"""What the benchmark scripts share: medians, a minimal Redis client, /proc
readers, the machine and build a run was measured on, and the results block
of a README.
Stdlib only, under /usr/bin/python3."""

import os
import platform
import socket
import statistics
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def proc_status(pid):
    """/proc/PID/status as a dict of stripped strings ("VmRSS" → "1234 kB")."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def cpu_ticks(pid):
    """User + system CPU of the process so far, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def cpu_seconds(pid):
    return cpu_ticks(pid) / os.sysconf("SC_CLK_TCK")


def job_key(job_id):
    """The store hash of a job (hub/src/store/keys.hpp), which the benchmarks
    watch instead of polling the API."""
    return "muster:job:{%s}" % job_id


class Resp:
    """Just enough RESP for a benchmark's reads over one persistent connection."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def command(self, *parts):
        parts = [p if isinstance(p, bytes) else str(p).encode() for p in parts]
        out = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
        self.sock.sendall(out)
        return self._read()

    def _read(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2].decode("utf-8", "replace")
        if kind in (b"+", b":"):
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise RuntimeError(f"unexpected RESP reply {line!r}")

    def close(self):
        self.file.close()
        self.sock.close()


def build_origin(build, head):
    """Which Muster the binaries are: a build dir may carry MUSTER_GIT_REV (the
    commit it was built from, e.g. a `git archive` export); else the working
    tree's HEAD, which the build may not match exactly."""
    rev = Path(build) / "MUSTER_GIT_REV"
    if rev.exists():
        return f"Muster binaries from `{build}`, built from git {rev.read_text().strip()[:10]}"
    return (f"Muster binaries from `{build}` (working tree at git {head}; the build may "
            f"include uncommitted changes)")


def machine():
    return {
        "nproc": os.cpu_count(),
        "uname_r": platform.release(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu": next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                     if ln.startswith("model name")), "?"),
        "loadavg": open("/proc/loadavg").read().split()[:3],
        "git": subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              stdout=subprocess.PIPE).stdout.decode().strip(),
    }


def write_results(path, report, begin, end, head):
    """Replace the block between the `begin` and `end` markers of the README
    at `path` with `report` (appending it, or writing `head` first if needed)."""
    block = f"{begin}\n{report}\n{end}"
    if path.exists():
        text = path.read_text()
        if begin in text and end in text:
            before, rest = text.split(begin, 1)
            path.write_text(before + block + rest.split(end, 1)[1])
        else:
            path.write_text(text.rstrip("\n") + "\n\n" + block + "\n")
        return
    path.write_text(head + "## Results\n\n" + block + "\n")
