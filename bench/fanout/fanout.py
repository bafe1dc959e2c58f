#!/usr/bin/python3
"""bench/fanout: one job to N connected agents, against the raw XMPP floor.

Boots a private stack on loopback (tests/support/muster_stack.py: generated
CA, redis-server, the XMPP server, muster-hub), enrolls the largest N agents
once through the real enrollment path (muster-swarm enroll), connects them
from a few muster-swarm processes (each agent its own account and TLS
session, the real agent code, built-in no-op task), then for each N:

  muster   POST /api/v1/jobs {"command": "true"} to the first N agents; time
           from the POST (the job's created_at) to the last result stored
           (its finished_at), tasks per second, and the peak RSS of the hub,
           the XMPP server(s) and Redis during those runs (VmHWM, reset first);
  floor    with the hub stopped, muster-floor (a bare component, libstrophe
           only) sends one iq set to each of the same N sessions and waits
           for every answer: what the XMPP server alone costs.

and the single-agent POST-to-result latency (p50, p99). Medians of --runs.

  --floor-payload B  the floor's iq carries B bytes of task-like text, to
                     tell what a task's bytes cost apart from the stanza
  --store-stats      Redis's own calls and CPU per command, and its round
                     trips, per task during the Muster runs of the largest N
  --perf NAME        perf record one process (hub, redis, prosody, swarm0...)

    bench/fanout/fanout.py --server prosody  --sizes 100,1000,10000
    bench/fanout/fanout.py --server prosody2 --sizes 10000     # two Prosody, one shard each
    bench/fanout/fanout.py --server ejabberd --sizes 100,1000,10000

Needs a build with the pinned libstrophe (poll(), no FD_SETSIZE limit):
    cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release \\
          -DMUSTER_DEPS_DIR=/var/cache/muster-deps/linux-x86_64-static -DMUSTER_BUILD_TESTS=OFF
    cmake --build build/bench
Writes <dir>/results.json and prints a markdown table.
"""

import argparse
import functools
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "support"))
import muster_stack as ms  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
import benchlib  # noqa: E402

FINAL_JOB_STATES = {"succeeded", "failed", "cancelled"}


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, file=sys.stderr, flush=True)


median = benchlib.median


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


# -- the stack ------------------------------------------------------------------

def make_stack(args):
    common = dict(build=args.build, agent_log_level="warn")
    if args.server == "prosody2":
        stack = ms.RegionStack(args.dir / "stack", regions=("r1", "r2"), shards_per_region=1,
                               agents_per_region=0, standbys=0, **common)
    else:
        stack = ms.MusterStack(args.dir / "stack", agents=0, xmpp_server=args.server, **common)
    # The test stacks log every stanza; a benchmark must not pay for that.
    stack.xmpp_log_level = "info"
    # Nor for the tests' 20 s liveness asks: at 10,000 idle sessions they are
    # 500 stanzas a second of Prosody's one core. A fleet this size would set
    # minutes (Prosody's own default is 840 s); 300 s keeps such asks at 33/s.
    stack.xmpp_read_timeout = 300
    return stack


def server_pids(stack):
    """name → pid of the hub, the XMPP server process(es) and Redis."""
    pids = {}
    for name, proc in stack.procs.items():
        if name == "hub" or name == "redis" or name.startswith("prosody") or name.startswith("ejabberd"):
            pids[name] = proc.pid
    if args_server(stack) == "ejabberd":
        # ejabberdctl foreground execs through a shell: take the BEAM itself.
        for name, pid in list(pids.items()):
            if name.startswith("ejabberd"):
                pids[name] = beam_pid(pid) or pid
    return pids


def args_server(stack):
    return getattr(stack, "xmpp_server", "prosody")


def beam_pid(root):
    """The beam.smp process under `root` (itself or a descendant)."""
    for pid in [root] + descendants(root):
        try:
            if "beam" in Path(f"/proc/{pid}/comm").read_text():
                return pid
        except OSError:
            pass
    return None


def descendants(pid):
    out = []
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for c in children:
        out.append(int(c))
        out.extend(descendants(int(c)))
    return out


def cpu_seconds(pid):
    try:
        return benchlib.cpu_seconds(pid)
    except OSError:
        return 0.0


def reset_peaks(pids):
    for pid in pids.values():
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            pass


def peaks_mb(pids):
    out = {}
    for name, pid in pids.items():
        try:
            out[name] = int(benchlib.proc_status(pid)["VmHWM"].split()[0]) / 1024
        except (OSError, KeyError):
            pass
    return out


# -- agents -----------------------------------------------------------------------

def tiers(sizes):
    """Label keys: agent i carries lt<N>=yes for every N in sizes with i < N,
    and agent 0 also one=yes (the single-agent latency target)."""
    bounds = sorted(set(sizes) | {1})
    lo = 0
    for hi in bounds:
        labels = {f"lt{n}": "yes" for n in sizes if n >= hi}
        if hi == 1:
            labels["one"] = "yes"
        yield lo, hi, labels
        lo = hi


def enroll(args, stack, swarm, agents_dir, total):
    started = time.time()
    for lo, hi, labels in tiers(args.sizes):
        if hi > total or hi <= lo:
            continue
        parts = [(lo, hi, None)]
        if args.server == "prosody2":
            mid = lo + (hi - lo) // 2
            parts = [(lo, mid, "r1"), (mid, hi, "r2")] if hi - lo > 1 else [(lo, hi, "r1")]
        for a, b, region in parts:
            if b <= a:
                continue
            if region:
                token = stack.create_region_enroll_token(region, b - a, labels=labels)
            else:
                token = stack.create_enroll_token(b - a, labels=labels)
            res = subprocess.run([swarm, "enroll", "--dir", agents_dir, "--first", str(a), "--count", str(b - a),
                                  "--hub", stack.hub_url, "--token", token, "--ca", str(stack.ca_file),
                                  "--parallel", "16"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            log(f"enroll [{a},{b}) {region or ''}: {res.stdout.strip()} {res.stderr.strip()[-300:]}")
            if res.returncode != 0:
                raise SystemExit("enrollment failed")
    return time.time() - started


def start_swarm(args, swarm, agents_dir, total):
    procs = []
    per = -(-total // args.processes)
    for k in range(args.processes):
        first, count = k * per, min(per, total - k * per)
        if count <= 0:
            break
        logf = open(args.dir / f"swarm-{k}.log", "w")
        procs.append(subprocess.Popen([swarm, "run", "--dir", agents_dir, "--first", str(first), "--count",
                                       str(count), "--noop", "--connect-rate", str(args.connect_rate)],
                                      stdout=logf, stderr=subprocess.STDOUT))
    return procs


def online_count(stack):
    try:
        agents = stack.agents(timeout=120)
    except ms.StackError:
        return 0
    return sum(1 for a in agents.values() if a.get("status") == "online")


def wait_online(stack, total, swarms, timeout):
    deadline = time.time() + timeout
    last = -1
    while time.time() < deadline:
        for p in swarms:
            if p.poll() is not None:
                raise SystemExit(f"a swarm process exited ({p.returncode}); see swarm-*.log")
        n = online_count(stack)
        if n != last:
            log(f"online {n}/{total}")
            last = n
        if n >= total:
            return
        time.sleep(3)
    raise SystemExit(f"only {last}/{total} agents online after {timeout} s")


# -- measurements -------------------------------------------------------------------

def run_job(stack, labels, timeout=600):
    t0 = time.time()
    status, body = stack.api("POST", "/api/v1/jobs", {"command": "true", "targets": {"labels": labels},
                                                      "timeout_s": 120})
    if status != 201:
        raise SystemExit(f"POST /api/v1/jobs -> {status} {body}")
    job_id = body["id"]
    if os.environ.get("FANOUT_DIAG"):
        log(f"POST answered in {(time.time() - t0) * 1000:.0f} ms")
    # The end is watched in the store over one RESP connection: polling the
    # API would cost the hub a TLS handshake per poll, on the cores the job
    # needs. The figures then come from the API, once.
    store = store_connection(stack.ports["redis"])
    while time.time() - t0 < timeout:
        if store.command("HGET", benchlib.job_key(job_id), "state") in FINAL_JOB_STATES:
            wall = time.time() - t0
            status, job = stack.api("GET", f"/api/v1/jobs/{job_id}")
            if status != 200:
                raise SystemExit(f"GET /api/v1/jobs/{job_id} -> {status} {job}")
            if os.environ.get("FANOUT_DIAG"):
                status, page = stack.api("GET", f"/api/v1/jobs/{job_id}/tasks?limit=1000")
                starts = sorted(t["started_at"] - job["created_at"] for t in page.get("tasks", []) if t.get("started_at"))
                if starts:
                    log("agents ran their task at +" + ", ".join(f"{percentile(starts, p) * 1000:.0f}" for p in (0, 10, 50, 90, 100)) + " ms (0/10/50/90/100%)")
            return {"seconds": job["finished_at"] - job["created_at"], "wall": wall, "total": job["total"],
                    "succeeded": job["counts"]["succeeded"], "state": job["state"]}
        # The figure comes from the job's own timestamps; polling faster would
        # only cost Redis wake-ups on the cores the job needs.
        time.sleep(0.01)
    raise SystemExit(f"job {job_id} did not finish in {timeout} s")


@functools.lru_cache(maxsize=None)
def store_connection(port):
    return benchlib.Resp(port)


def measure_muster(args, stack, pids):
    results = {}
    for n in args.sizes:
        reset_peaks(pids)
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        runs = []
        perf = None
        if args.perf and n == max(args.sizes):
            perf = subprocess.Popen(["perf", "record", "-g", "-o", str(args.dir / f"perf-{args.perf}.data"),
                                     "-p", str(pids[args.perf])], stderr=subprocess.DEVNULL)
        store = store_connection(stack.ports["redis"])
        if args.store_stats and n == max(args.sizes):
            store.command("CONFIG", "RESETSTAT")
        for r in range(args.runs):
            run = run_job(stack, {f"lt{n}": "yes"})
            if run["succeeded"] != n:
                raise SystemExit(f"N={n}: {run}")
            log(f"muster N={n} run {r + 1}: {run['seconds'] * 1000:.0f} ms (wall {run['wall'] * 1000:.0f} ms)")
            runs.append(run["seconds"])
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait()
        cpu = {name: round((cpu_seconds(pid) - cpu_before[name]) / len(runs), 3) for name, pid in pids.items()}
        log(f"N={n}: CPU seconds per run: {cpu}")
        results[n] = {"runs_s": runs, "median_s": median(runs), "tasks_per_s": n / median(runs),
                      "peak_rss_mb": peaks_mb(pids), "cpu_s_per_run": cpu}
        if args.store_stats and n == max(args.sizes):
            results[n]["store_per_task"] = store_costs(store.command("INFO", "commandstats"), n * len(runs))
            stats = dict(line.split(":", 1) for line in store.command("INFO", "stats").splitlines() if ":" in line)
            results[n]["store_reads_per_task"] = round(int(stats["total_reads_processed"]) / (n * len(runs)), 2)
            # Read events, the bench's own 10 ms polls included: about the round trips.
            log(f"store: {results[n]['store_reads_per_task']} reads (about the round trips) per task")
    return results


def store_costs(info, tasks):
    """Redis's own count of calls and CPU per command, per task of the runs."""
    costs = {}
    for line in info.splitlines():
        if not line.startswith("cmdstat_"):
            continue
        name, _, fields = line[len("cmdstat_"):].partition(":")
        stat = dict(f.split("=", 1) for f in fields.split(","))
        costs[name] = {"calls": round(int(stat["calls"]) / tasks, 2), "us": round(int(stat["usec"]) / tasks, 1)}
    costs = dict(sorted(costs.items(), key=lambda kv: -kv[1]["us"]))
    log("store, per task (calls, CPU µs as Redis counts it; commands run by scripts counted too): " +
        ", ".join(f"{k} {v['calls']}× {v['us']} µs" for k, v in costs.items()))
    return costs


def measure_latency(args, stack):
    seconds = []
    for _ in range(args.latency_jobs):
        seconds.append(run_job(stack, {"one": "yes"})["seconds"])
    return {"jobs": len(seconds), "p50_ms": percentile(seconds, 50) * 1000, "p99_ms": percentile(seconds, 99) * 1000}


def shard_groups(agents_dir, n):
    """master component domain → full JIDs of agents 0..n-1 on it."""
    groups = {}
    for i in range(n):
        state = json.loads((agents_dir / f"agent-{i:05d}" / "agent.json").read_text())
        groups.setdefault(state["master_jid"], []).append(state["jid"] + "/" + ms.AGENT_RESOURCE)
    return groups


def component_port(stack, domain):
    for key, port in stack.ports.items():
        if key.startswith("component.") and domain.endswith("." + key.split(".", 1)[1] + "." + ms.XMPP_DOMAIN):
            return port
    return stack.ports["component"]


def measure_floor(args, stack, floor, agents_dir, pids):
    """`pids`: the XMPP server(s) and swarm processes, whose CPU per round is
    reported as for the Muster runs (the floor's own processes are not)."""
    results = {}
    for n in args.sizes:
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        procs = []
        for domain, jids in shard_groups(agents_dir, n).items():
            jid_file = args.dir / f"floor-{n}-{domain}.jids"
            jid_file.write_text("\n".join(jids) + "\n")
            procs.append(subprocess.Popen([floor, "--port", str(component_port(stack, domain)), "--domain", domain,
                                           "--secret", stack.component_secret, "--jids", jid_file,
                                           "--rounds", str(args.runs), "--payload", str(args.floor_payload)],
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        per_round = [0.0] * args.runs
        for p in procs:
            out, err = p.communicate(timeout=900)
            rounds = [line for line in out.splitlines() if line.startswith("round ")]
            if p.returncode != 0 or len(rounds) != args.runs:
                raise SystemExit(f"muster-floor failed ({p.returncode}): {out}{err}")
            for k, line in enumerate(rounds):
                ms_taken = float(line.split(" in ")[1].split(" ms")[0])
                per_round[k] = max(per_round[k], ms_taken / 1000)  # shards run at once; the slowest ends it
        for k, s in enumerate(per_round):
            log(f"floor N={n} run {k + 1}: {s * 1000:.0f} ms")
        cpu = {name: round((cpu_seconds(pid) - cpu_before[name]) / args.runs, 3) for name, pid in pids.items()}
        log(f"floor N={n}: CPU seconds per round: {cpu}")
        results[n] = {"runs_s": per_round, "median_s": median(per_round), "tasks_per_s": n / median(per_round),
                      "cpu_s_per_run": cpu}
    return results


def table(args, muster, floor, latency, setup):
    lines = [f"server: {args.server}; machine: {platform.node()}, {os.cpu_count()} cores, "
             f"{platform.release()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
             f"median of {args.runs} runs",
             "",
             "| N | Muster POST→all results | tasks/s | floor (bare component) | Muster / floor | "
             "peak RSS hub | peak RSS XMPP | peak RSS Redis |",
             "|---|---|---|---|---|---|---|---|"]
    for n in args.sizes:
        m, f = muster[n], floor.get(n)
        rss = m["peak_rss_mb"]
        xmpp = sum(v for k, v in rss.items() if k.startswith(("prosody", "ejabberd")))
        ratio = f"{m['median_s'] / f['median_s']:.2f}×" if f else "n/a"
        floor_ms = f"{f['median_s'] * 1000:.0f} ms" if f else "not run"
        lines.append(f"| {n} | {m['median_s'] * 1000:.0f} ms | {m['tasks_per_s']:.0f} | {floor_ms} | {ratio} | "
                     f"{rss.get('hub', 0):.0f} MB | {xmpp:.0f} MB | {rss.get('redis', 0):.0f} MB |")
    if latency:
        lines += ["", f"single agent POST→result: p50 {latency['p50_ms']:.1f} ms, p99 {latency['p99_ms']:.1f} ms "
                      f"({latency['jobs']} jobs)"]
    lines += ["", f"setup: {json.dumps(setup)}"]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", choices=("prosody", "prosody2", "ejabberd"), default="prosody")
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-jobs", type=int, default=100)
    parser.add_argument("--processes", type=int, default=4, help="muster-swarm processes")
    parser.add_argument("--connect-rate", type=float, default=15,
                        help="logins per second per swarm process (a login costs ~13 ms of swarm CPU and "
                             "~8 ms of Prosody CPU here; more than the machine can take ends in timeouts)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/muster-fanout"))
    parser.add_argument("--build", type=Path, default=REPO / "build" / "bench")
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument("--floor-payload", type=int, default=0, metavar="BYTES",
                        help="the floor's iq carries this much task-like text (default none)")
    parser.add_argument("--store-stats", action="store_true",
                        help="Redis's per-command calls and CPU per task during the Muster runs of the largest N")
    parser.add_argument("--perf", metavar="NAME", help="perf record -g this process (hub, redis, prosody...) "
                        "during the Muster runs of the largest N, into <dir>/perf-NAME.data")
    args = parser.parse_args()
    args.sizes = sorted(int(s) for s in args.sizes.split(","))
    args.dir = args.dir.resolve() / args.server
    if args.dir.exists():
        subprocess.run(["rm", "-rf", str(args.dir)], check=True)
    args.dir.mkdir(parents=True)
    swarm = str(args.build / "bench" / "muster-swarm")
    floor = str(args.build / "bench" / "muster-floor")
    # Every session is an fd in the XMPP server and in a swarm process.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    total = max(args.sizes)

    stack = make_stack(args)
    setup = {}
    t = time.time()
    stack.start()
    setup["stack_s"] = round(time.time() - t, 1)
    # Agents journal and spool every task with fsync, as on a real machine;
    # thousands of simulated machines share one disk here, so their state
    # lives in memory (each real machine has its own disk).
    agents_dir = Path("/dev/shm") / f"muster-fanout-{args.server}"
    subprocess.run(["rm", "-rf", str(agents_dir)], check=True)
    swarms = []
    try:
        setup["enroll_s"] = round(enroll(args, stack, swarm, agents_dir, total), 1)
        t = time.time()
        swarms = start_swarm(args, swarm, agents_dir, total)
        wait_online(stack, total, swarms, timeout=max(120, total / 10))
        setup["connect_s"] = round(time.time() - t, 1)
        pids = server_pids(stack)
        pids.update({f"swarm{k}": p.pid for k, p in enumerate(swarms)})
        muster = measure_muster(args, stack, pids)
        latency = measure_latency(args, stack) if args.latency_jobs else None
        floor_results = {}
        if not args.no_floor:
            stack.stop_process("hub")
            time.sleep(1)
            floor_results = measure_floor(args, stack, floor, agents_dir,
                                          {k: v for k, v in pids.items() if k not in ("hub", "redis")})
        report = table(args, muster, floor_results, latency, setup)
        (args.dir / "results.json").write_text(json.dumps(
            {"server": args.server, "sizes": args.sizes, "muster": muster, "floor": floor_results,
             "latency": latency, "setup": setup}, indent=1))
        print(report)
    finally:
        subprocess.run(["rm", "-rf", str(agents_dir)])
        for p in swarms:
            p.send_signal(signal.SIGTERM)
        for p in swarms:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        stack.stop()


if __name__ == "__main__":
    main()
