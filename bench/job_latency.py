#!/usr/bin/python3
"""POST /api/v1/jobs to all results stored: latency on a private local stack.

Boots the same stack as the tests (tests/support/muster_stack.py) with 3
agents, then submits `true` N times to all 3 agents and N times to one agent,
one job at a time. "Stored" means the job's `remaining` counter in the store
reached 0, i.e. every task's result was written; it is watched with a
persistent RESP connection so polling costs microseconds, not an HTTPS
round trip. Prints medians and the 3-agent/1-agent ratio measured in the
same run.

    /usr/bin/python3 bench/job_latency.py [--jobs 20] [--agents 3]
"""

import argparse
import http.client
import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
import muster_stack  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import Resp, job_key  # noqa: E402


def run_jobs(stack, api, store, targets, count):
    latencies = []
    for _ in range(count):
        body = json.dumps({"command": "true", "targets": targets, "timeout_s": 30})
        start = time.perf_counter()
        api.request("POST", "/api/v1/jobs", body,
                    {"Authorization": f"Bearer {stack.admin_token}", "Content-Type": "application/json"})
        resp = api.getresponse()
        job = json.loads(resp.read())
        if resp.status != 201:
            raise SystemExit(f"POST /api/v1/jobs -> {resp.status} {job}")
        key = job_key(job["id"])
        deadline = start + 30
        while store.command("HGET", key, "remaining") != "0":
            if time.perf_counter() > deadline:
                raise SystemExit(f"job {job['id']} did not finish in 30 s")
            time.sleep(0.0002)
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def describe(name, values):
    values = sorted(values)
    p90 = values[int(len(values) * 0.9) - 1] if len(values) >= 10 else values[-1]
    print(f"{name:<28} median {statistics.median(values):7.1f} ms   min {values[0]:6.1f}   "
          f"p90 {p90:6.1f}   max {values[-1]:6.1f}   (n={len(values)})")
    return statistics.median(values)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--agents", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="muster-bench-") as tmp:
        stack = muster_stack.MusterStack(Path(tmp), agents=args.agents, agent_log_level="info")
        # The test stacks log every stanza; a benchmark must not pay for that.
        stack.xmpp_log_level = "info"
        stack.start()
        try:
            api = http.client.HTTPSConnection("localhost", stack.ports["api"], context=stack._ssl_context())
            store = Resp(stack.ports["redis"])
            one = {"agents": [stack.agent_uuids[1]]}
            run_jobs(stack, api, store, {"all": True}, 3)  # warm-up: connections, TLS sessions
            all_ms = run_jobs(stack, api, store, {"all": True}, args.jobs)
            one_ms = run_jobs(stack, api, store, one, args.jobs)
            print(f"machine: {socket.gethostname()}, {len(__import__('os').sched_getaffinity(0))} cores")
            m_all = describe(f"POST -> {args.agents} results stored", all_ms)
            m_one = describe("POST -> 1 result stored", one_ms)
            print(f"ratio {args.agents} agents / 1 agent: {m_all / m_one:.2f}")
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
