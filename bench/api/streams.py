#!/usr/bin/python3
"""Event streams at scale: many watchers of live jobs while a client submits.

Boots the test stack (tests/support/muster_stack.py) with 3 agents, starts
JOBS jobs that print a line every 50 ms for a few seconds on every agent,
opens STREAMS_PER_JOB event streams on each (TLS, from many loopback
addresses, all in one client thread), and meanwhile submits `true` jobs one
after another. Reports the submit latency (p50, p99), whether every stream
got every event of its job exactly once and in order, and the hub's RSS per
open stream.

    /usr/bin/python3 bench/api/streams.py [--jobs 1 --streams-per-job 1000]
    /usr/bin/python3 bench/api/streams.py --jobs 100 --streams-per-job 10
"""

import argparse
import json
import re
import resource
import selectors
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))
import muster_stack  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchlib import proc_status  # noqa: E402


class Stream:
    def __init__(self, stack, job_id, index):
        src = f"127.0.{10 + index // 5000}.{(index // 25) % 200 + 1}"
        raw = socket.create_connection(("127.0.0.1", stack.ports["api"]), timeout=30, source_address=(src, 0))
        self.sock = stack._ssl_context().wrap_socket(raw, server_hostname="localhost")
        self.sock.sendall(f"GET /api/v1/jobs/{job_id}/events HTTP/1.1\r\nHost: localhost\r\n"
                          f"Authorization: Bearer {stack.admin_token}\r\n\r\n".encode())
        self.sock.setblocking(False)
        self.job_id = job_id
        self.data = b""
        self.done = False

    def pump(self):
        try:
            got = self.sock.recv(1 << 16)
        except (ssl.SSLWantReadError, BlockingIOError):
            return
        except OSError:
            got = b""
        self.data += got
        if not got or self.data.endswith(b"\r\n0\r\n\r\n"):
            self.done = True

    def event_ids(self):
        return [line[4:] for line in self.data.split(b"\n") if line.startswith(b"id: ")]


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def submit_loop(stack, stop, latencies):
    while not stop.is_set():
        t0 = time.perf_counter()
        stack.submit_job({"command": "true", "targets": {"all": True}})
        latencies.append((time.perf_counter() - t0) * 1000)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--streams-per-job", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=60, help="output lines per task, one each 50 ms")
    args = parser.parse_args()
    total = args.jobs * args.streams_per_job
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, total + 1024)), hard))

    stack = muster_stack.MusterStack(tempfile.mkdtemp(prefix="muster-bench-api-"), agents=3)
    # One token opens every stream: neither its stream cap nor the rate limits may refuse them.
    stack.hub_api_settings = (f"max_streams_per_token = {total + 10}\nmax_connections = {total + 1024}\n"
                              "rate_per_token = 0\nrate_per_address = 0\n")
    stack.start()
    try:
        hub_pid = stack.procs["hub"].popen.pid
        rss_before = int(proc_status(hub_pid)["VmRSS"].split()[0])
        command = f"for i in $(seq 1 {args.lines}); do echo line-$i; sleep 0.05; done"
        jobs = [stack.submit_job({"command": command, "targets": {"all": True}}) for _ in range(args.jobs)]
        sel = selectors.DefaultSelector()
        t0 = time.monotonic()
        streams = []
        for j, job_id in enumerate(jobs):
            for k in range(args.streams_per_job):
                s = Stream(stack, job_id, len(streams))
                streams.append(s)
                sel.register(s.sock, selectors.EVENT_READ, s)
        opened_s = time.monotonic() - t0
        time.sleep(0.5)
        rss_open = int(proc_status(hub_pid)["VmRSS"].split()[0])
        stop, latencies = threading.Event(), []
        submitter = threading.Thread(target=submit_loop, args=(stack, stop, latencies))
        submitter.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(s.done for s in streams):
            for key, _ in sel.select(timeout=0.2):
                key.data.pump()
        stop.set()
        submitter.join()
        stored = {j: store_event_ids(stack, j) for j in jobs}
        report(args, streams, stored, latencies, opened_s, rss_before, rss_open)
    finally:
        stack.stop()


def store_event_ids(stack, job_id):
    """Every event id of the job as the store holds them, in order."""
    out = stack.redis_cli("--raw", "XRANGE", "muster:job:{%s}:events" % job_id, "-", "+")
    return [line.encode() for line in out.split("\n") if re.fullmatch(r"\d+-\d+", line.strip())]


def report(args, streams, stored, latencies, opened_s, rss_before, rss_open):
    # A stream is complete when it got exactly the store's events of its job, in order, and ended.
    complete = sum(1 for s in streams if s.done and s.event_ids() == stored[s.job_id])
    events = max(len(ids) for ids in stored.values())
    for s in streams:
        if s.event_ids() != stored[s.job_id]:
            got = set(s.event_ids())
            missing = [i for i, e in enumerate(stored[s.job_id]) if e not in got]
            print(f"first incomplete stream: {len(missing)} of {len(stored[s.job_id])} events missing, at "
                  f"positions {missing[:20]}; ended: {s.data[-40:]!r}", file=sys.stderr)
            break
    print(json.dumps({
        "jobs": args.jobs, "streams_per_job": args.streams_per_job, "streams": len(streams),
        "opened_in_s": round(opened_s, 1), "events_per_job": events,
        "streams_complete": complete,
        "streams_ended": sum(1 for s in streams if s.done),
        "events_missed_by_incomplete": sorted({len(stored[s.job_id]) - len(s.event_ids()) for s in streams
                                               if s.event_ids() != stored[s.job_id]})[:10],
        "submits": len(latencies),
        "submit_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "submit_p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
        "hub_rss_kb_before": rss_before, "hub_rss_kb_streams_open": rss_open,
        "hub_rss_kb_per_stream": round((rss_open - rss_before) / max(1, len(streams)), 1),
    }, indent=1))


if __name__ == "__main__":
    main()
