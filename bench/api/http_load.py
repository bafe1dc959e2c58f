#!/usr/bin/python3
"""Request rate and latency of the api under concurrent clients, with wrk.

Boots the test stack (tests/support/muster_stack.py: real Redis, Prosody,
hub, 3 agents; the build in $MUSTER_BUILD_DIR, default build/dev), adds
AGENTS agent records to the default tenant the way enrollment writes them
(record, tenant set, id index; no XMPP account: the listing reads the store only),
then runs wrk (TLS, keep-alive) for SECONDS against each endpoint at each
concurrency, RUNS times, and prints the median requests a second and the
median p50/p99 of the runs. GET /healthz (no token, no store) is the floor
each row is compared with, measured in the same run.

    /usr/bin/python3 bench/api/http_load.py [--agents 10000 --clients 1,16,256 --seconds 5 --runs 3]

Rate limits are off for the bench (loopback is exempt by default anyway);
POST /jobs submits `true` to one agent, so the agents' work stays small.
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))
import muster_stack  # noqa: E402


def seed_agents(stack, count, tenant="default"):
    """Agent records as enrollment writes them, piped to redis-cli in RESP."""
    def resp(*args):
        out = [f"*{len(args)}\r\n"]
        for a in args:
            a = str(a)
            out.append(f"${len(a.encode())}\r\n{a}\r\n")
        return "".join(out)
    now = int(time.time())
    commands = []
    for i in range(count):
        agent = str(uuid.uuid4())
        commands.append(resp("HSET", f"muster:agent:{{{agent}}}", "tenant", tenant, "hostname", f"bench-{i:05d}",
                             "os", "linux", "arch", "x86_64", "kernel", "6.1", "agent_version", "0.1.0",
                             "labels", "{\"rack\":\"r%d\"}" % (i % 40), "region", "default",
                             "shard", "master0.muster.test", "status", "offline", "enrolled_at", now,
                             "last_seen", "0"))
        commands.append(resp("SADD", f"muster:agents:{{{tenant}}}", agent))
        commands.append(resp("ZADD", f"muster:agents:{{{tenant}}}:by-id", 0, agent))
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(stack.ports["redis"]), "--pipe"],
                   input="".join(commands).encode(), check=True, stdout=subprocess.DEVNULL)


LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(url, clients, seconds, token=None, post_body=None, work_dir=None):
    """One wrk run: (requests a second, p50 ms, p99 ms, answers that were not 2xx)."""
    argv = ["wrk", "--latency", f"-t{min(clients, 2)}", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s"]
    if token:
        argv += ["-H", f"Authorization: Bearer {token}"]
    if post_body is not None:
        script = Path(work_dir) / "post.lua"
        script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                          f"wrk.body = {json.dumps(post_body)}\n")
        argv += ["-s", str(script)]
    out = subprocess.run(argv + [url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=True,
                         timeout=seconds + 60).stdout.decode()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {p: float(v) * UNIT_MS[u] for p, v, u in LATENCY.findall(out)}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return rate, lat.get("50"), lat.get("99"), int(bad.group(1)) if bad else 0, errors.group(1) if errors else ""


def list_everything(stack):
    """Seconds to read every agent in pages of 1,000, and how many came back."""
    t0 = time.monotonic()
    agents = stack.agents(timeout=120)
    return time.monotonic() - t0, len(agents)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=10000)
    parser.add_argument("--clients", default="1,16,256")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]

    work = tempfile.mkdtemp(prefix="muster-bench-http-")
    stack = muster_stack.MusterStack(work, agents=3)
    # Room for a run's connections while the hub still answers the last run's.
    stack.hub_api_settings = (f"max_connections_per_address = {2 * max(clients) + 64}\n"
                              "rate_per_token = 0\nrate_per_address = 0\n")
    stack.start()
    try:
        seed_agents(stack, args.agents)
        base = f"https://127.0.0.1:{stack.ports['api']}"
        one_agent = stack.agent_uuids[1]
        job_id = stack.submit_job({"command": "true", "targets": {"agents": [one_agent]}})
        endpoints = [
            ("GET /healthz (floor)", "/healthz", None, None),
            (f"GET /api/v1/agents?limit=100 ({args.agents + 3} agents)", "/api/v1/agents?limit=100",
             stack.admin_token, None),
            ("GET /api/v1/jobs/{id}", f"/api/v1/jobs/{job_id}", stack.admin_token, None),
            ("POST /api/v1/jobs (1 agent)", "/api/v1/jobs", stack.admin_token,
             json.dumps({"command": "true", "targets": {"agents": [one_agent]}})),
        ]
        rows = []
        for name, path, token, body in endpoints:
            for c in clients:
                runs = []
                for _ in range(args.runs):
                    runs.append(run_wrk(base + path, c, args.seconds, token, body, work))
                    time.sleep(1)  # the requests wrk left behind are answered before the next run
                rows.append({"endpoint": name, "clients": c,
                             "rps": statistics.median(r[0] for r in runs),
                             "p50_ms": statistics.median(r[1] for r in runs),
                             "p99_ms": statistics.median(r[2] for r in runs),
                             "not_2xx": sum(r[3] for r in runs),
                             "socket_errors": [r[4] for r in runs if r[4]]})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        floor = {r["clients"]: r["rps"] for r in rows if r["endpoint"].startswith("GET /healthz")}
        for r in rows:
            r["rps_vs_healthz"] = round(r["rps"] / floor[r["clients"]], 3)
        seconds, listed = list_everything(stack)
        print(json.dumps({"rows": rows, "list_all_agents": {"agents": listed, "pages_of": 1000,
                                                            "seconds": round(seconds, 3)}}, indent=1))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
