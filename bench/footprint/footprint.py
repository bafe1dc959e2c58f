#!/usr/bin/python3
"""Muster's footprint: agent size, idle agent memory and CPU, and what each
connected agent and each task costs the hub, Prosody and the store.

1. Size: the dev build's muster-agent (and muster-hub) as built and stripped
   (`strip --strip-all` into a temporary copy), and the static release agent
   build/cross/linux-x86_64-static/agent/muster-agent stripped, if present.
2. Idle agent: a private stack (tests/support/muster_stack.py) with one agent
   (plus, if the static agent exists, a second one running the static binary
   on its own enrollment). Once online and after a settling pause, each agent
   is watched for --idle-s seconds (default 60): CPU as utime+stime from
   /proc/PID/stat (clock ticks) and, finer, the sum of /proc/PID/task/*/schedstat
   run time (ns); VmRSS (sampled every second: median and max) and VmHWM
   from /proc/PID/status; threads; open fds; context switches (wakeups).
   Repeated --idle-runs times, each on a fresh stack; medians reported.
3. Per connected agent and per task: a stack started with no agent; then
   (a) baseline: hub and Prosody VmRSS (median of 5 samples 1 s apart) and
       Redis INFO used_memory;
   (b) --agents N agents enrolled (store grows by the agent records);
   (c) the N agents started and online, settled: hub and Prosody RSS again;
   (d) --jobs jobs of `true` on all N agents, one after the other, each
       waited for: store growth divided by jobs x N is the memory per stored
       task (results kept for the job retention), hub RSS after.
   Repeated --scale-runs times, each on a fresh stack; medians reported.

Writes the tables with the machine and the command to bench/footprint/README.md
between the results markers (the rest of the README is kept).

    /usr/bin/python3 bench/footprint/footprint.py [--idle-s 60] [--idle-runs 3]
                                                  [--agents 100] [--jobs 5]
                                                  [--scale-runs 3] [--no-write]

Needs ci/install-deps.sh and a build in $MUSTER_BUILD_DIR (default
build/dev). Binds 127.0.0.1 only. Not a test.
"""

import argparse
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "support"))
import muster_stack  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
import benchlib  # noqa: E402
from benchlib import Resp, build_origin, median  # noqa: E402

BEGIN = "<!-- footprint.py results: begin -->"
END = "<!-- footprint.py results: end -->"
STATIC_AGENT = REPO / "build" / "cross" / "linux-x86_64-static" / "agent" / "muster-agent"
CLK = os.sysconf("SC_CLK_TCK")



# ---------------------------------------------------------------------------
# /proc

status = benchlib.proc_status
cpu_ticks = benchlib.cpu_ticks


def kib(value):
    return int(value.split()[0]) if value else 0


def rss_kib(pid):
    return kib(status(pid).get("VmRSS"))


def run_ns(pid):
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def ctx_switches(pid):
    st = status(pid)
    return int(st.get("voluntary_ctxt_switches", 0)) + int(st.get("nonvoluntary_ctxt_switches", 0))


def n_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_median(pid, samples=5, interval=1.0):
    values = []
    for i in range(samples):
        if i:
            time.sleep(interval)
        values.append(rss_kib(pid))
    return statistics.median(values)





def key_breakdown(stack):
    """{key pattern: (keys, bytes by MEMORY USAGE)}, ids replaced by *."""
    import re
    r = Resp(stack.ports["redis"])
    try:
        out = {}
        cursor = "0"
        while True:
            cursor, keys = r.command("SCAN", cursor, "COUNT", 1000)
            for key in keys:
                pattern = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                                 "<uuid>", key)
                pattern = re.sub(r"[0-9a-f]{16,}", "<hex>", pattern)
                used = int(r.command("MEMORY", "USAGE", key, "SAMPLES", 0) or 0)
                n, b = out.get(pattern, (0, 0))
                out[pattern] = (n + 1, b + used)
            if cursor == "0":
                return out
    finally:
        r.close()


def redis_memory(stack):
    """INFO memory: used_memory (all the server's allocations: data, client
    buffers, AOF buffer, scripts) and used_memory_dataset (used_memory minus
    Redis's own overhead)."""
    info = dict(line.split(":", 1) for line in stack.redis_cli("INFO", "memory").splitlines()
                if ":" in line)
    return int(info["used_memory"]), int(info["used_memory_dataset"])


def store_into(r, name, stack):
    r[f"store_{name}"], r[f"dataset_{name}"] = redis_memory(stack)


# ---------------------------------------------------------------------------
# 1. sizes

def stripped_size(path, work):
    copy = work / (Path(path).name + ".stripped")
    subprocess.run(["strip", "--strip-all", "-o", str(copy), str(path)], check=True)
    size = copy.stat().st_size
    copy.unlink()
    return size


def sizes(build, work):
    rows = []
    for label, path in (("muster-agent, development build (RelWithDebInfo, links libc, "
                         "libstdc++, expat dynamically)", build / "agent" / "muster-agent"),
                        ("muster-agent, static release build (MinSizeRel, static-pie)",
                         STATIC_AGENT),
                        ("muster-hub, development build", build / "hub" / "muster-hub")):
        if not path.exists():
            rows.append((label, str(path), None, None, None))
            continue
        built = time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
        rows.append((label, str(path), built, path.stat().st_size, stripped_size(path, work)))
    return rows


# ---------------------------------------------------------------------------
# 2. idle agent

class IdleStack(muster_stack.MusterStack):
    """One or two agents: agent 1 runs the dev build, agent 2 (when the static
    release agent exists) runs that binary on its own enrollment."""

    def __init__(self, state_dir, static_agent=None, **kwargs):
        self.static_agent = static_agent
        super().__init__(state_dir, agents=2 if static_agent else 1, **kwargs)

    def start_agent(self, i):
        if i == 2 and self.static_agent:
            adir = self.agent_dir(i)
            self.procs["agent2"] = muster_stack.Proc(
                "agent2", [self.static_agent, "run", "--state-dir", adir, "--log-level",
                           self.agent_log_level], adir / "agent.log", cwd=adir)
            return self.procs["agent2"].start()
        return super().start_agent(i)


def watch_idle(pids, seconds):
    """{name: figures} for each pid over `seconds`, sampling every second."""
    start = {n: (cpu_ticks(p), run_ns(p), ctx_switches(p)) for n, p in pids.items()}
    t0 = time.monotonic()
    rss = {n: [] for n in pids}
    while time.monotonic() - t0 < seconds:
        time.sleep(1)
        for n, p in pids.items():
            rss[n].append(rss_kib(p))
    elapsed = time.monotonic() - t0
    out = {}
    for n, p in pids.items():
        st = status(p)
        ticks, ns, cs = start[n]
        out[n] = {
            "seconds": elapsed,
            "cpu_ms_stat": (cpu_ticks(p) - ticks) * 1000.0 / CLK,
            "cpu_ms_sched": (run_ns(p) - ns) / 1e6,
            "wakeups": ctx_switches(p) - cs,
            "rss_median_kib": statistics.median(rss[n]),
            "rss_max_kib": max(rss[n]),
            "hwm_kib": kib(st.get("VmHWM")),
            "threads": int(st.get("Threads", 0)),
            "fds": n_fds(p),
        }
    return out


def idle_run(work, seconds, settle, use_static):
    stack = IdleStack(work, static_agent=STATIC_AGENT if use_static else None,
                      agent_log_level="info")
    stack.xmpp_log_level = "info"  # what an operator runs; the tests log every stanza
    stack.start()
    try:
        time.sleep(settle)
        pids = {"dev": stack.procs["agent1"].pid}
        if use_static:
            pids["static"] = stack.procs["agent2"].pid
        result = watch_idle(pids, seconds)
        for name, proc in (("dev", stack.procs["agent1"]),
                           ("static", stack.procs.get("agent2"))):
            if proc is not None and not proc.alive():
                raise muster_stack.StackError(f"the {name} agent died during the idle watch")
        online = stack.agents()
        for i in stack.agent_uuids:
            if online.get(stack.agent_uuids[i], {}).get("status") != "online":
                raise muster_stack.StackError(f"agent {i} not online after the idle watch")
        return result
    finally:
        stack.stop()


# ---------------------------------------------------------------------------
# 3. per agent, per task

def scale_run(work, n_agents, jobs):
    stack = muster_stack.MusterStack(work, agents=0, agent_log_level="info")
    stack.xmpp_log_level = "info"
    stack.start()
    try:
        hub, prosody = stack.procs["hub"].pid, stack.procs["prosody"].pid
        time.sleep(2)
        r = {"hub_0": rss_median(hub), "prosody_0": rss_median(prosody)}
        store_into(r, "0", stack)
        stack.n_agents = n_agents
        stack.enroll_agents(n_agents)
        store_into(r, "enrolled", stack)
        r["hub_enrolled"] = rss_median(hub, 3)
        for i in range(1, n_agents + 1):
            stack.start_agent(i)
        stack.wait_agents_online(timeout=max(120, 2 * n_agents))
        time.sleep(5)
        r["hub_connected"] = rss_median(hub)
        r["prosody_connected"] = rss_median(prosody)
        store_into(r, "connected", stack)
        agents_rss = sorted(rss_kib(stack.procs[f"agent{i}"].pid)
                            for i in range(1, n_agents + 1))
        r["agent_rss_median"] = statistics.median(agents_rss)
        stack.wait_job(stack.submit_job({"command": "true", "targets": {"all": True},
                                         "timeout_s": 60}), timeout=300)  # warm-up
        time.sleep(1)
        store_into(r, "before_jobs", stack)
        r["hub_before_jobs"] = rss_median(hub, 3)
        for _ in range(jobs):
            job_id = stack.submit_job({"command": "true", "targets": {"all": True},
                                       "timeout_s": 60})
            job = stack.wait_job(job_id, timeout=300)
            ok = job.get("counts", {}).get("succeeded")
            if ok != n_agents:
                raise muster_stack.StackError(f"job {job['id']}: {ok} of {n_agents} succeeded")
        time.sleep(1)
        store_into(r, "after_jobs", stack)
        r["hub_after_jobs"] = rss_median(hub)
        r["prosody_after_jobs"] = rss_median(prosody)
        r["keys_after_jobs"] = stack.redis_dbsize()
        return r, key_breakdown(stack)
    finally:
        stack.stop()


# ---------------------------------------------------------------------------
# report

def machine():
    return {
        **benchlib.machine(),
        "redis": subprocess.run(["redis-server", "--version"], stdout=subprocess.PIPE)
        .stdout.decode().split()[2],
        "prosody": subprocess.run(["prosodyctl", "about"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL).stdout.decode()
        .split("Prosody ", 1)[-1].split("\n", 1)[0].strip() or "?",
    }


def mb(n_bytes):
    return f"{n_bytes / 1e6:.2f} MB"


def build_report(args, mach0, mach1, build, size_rows, idle, scale, breakdown, command):
    L = []
    L.append(f"Run {mach0['date']} → {mach1['date']}; `nproc` = {mach0['nproc']}, "
             f"`uname -r` = {mach0['uname_r']}, CPU {mach0['cpu']}; load average at start "
             f"{' '.join(mach0['loadavg'])}, at end {' '.join(mach1['loadavg'])} (shared, noisy "
             f"machine); {build_origin(build, mach0['git'])}; "
             f"redis-server {mach0['redis']}, Prosody {mach0['prosody']}.")
    L.append("")
    L.append(f"Command: `{command}`")
    L.append("")
    L.append("### Binary size")
    L.append("")
    L.append("| binary | file | as built | stripped |")
    L.append("| --- | --- | ---: | ---: |")
    for label, path, built, raw, stripped in size_rows:
        if raw is None:
            L.append(f"| {label} | `{path}` | not built | |")
        else:
            L.append(f"| {label} | `{path}` (built {built}) | {raw:,} B ({raw / 1048576:.2f} MiB) | "
                     f"{stripped:,} B ({stripped / 1048576:.2f} MiB) |")
    L.append("")
    if idle:
        L.append(f"### One connected idle agent over {args.idle_s} s")
        L.append("")
        L.append(f"Medians of {len(idle)} runs (fresh stack each; {args.settle} s settling "
                 f"after it came online). CPU from /proc/PID/stat (utime+stime, "
                 f"{CLK} ticks/s) and, finer, /proc/PID/task/*/schedstat.")
        L.append("")
        L.append("| agent binary | CPU (stat) | CPU (schedstat) | CPU share | wakeups "
                 "| VmRSS median | VmRSS max | VmHWM | threads | fds |")
        L.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name in idle[0]:
            rows = [r[name] for r in idle]
            m = {k: median([r[k] for r in rows]) for k in rows[0]}
            L.append(f"| {name} | {m['cpu_ms_stat']:.0f} ms | {m['cpu_ms_sched']:.1f} ms | "
                     f"{m['cpu_ms_sched'] / (m['seconds'] * 1000) * 100:.3f} % | "
                     f"{m['wakeups']:.0f} ({m['wakeups'] / m['seconds']:.2f}/s) | "
                     f"{m['rss_median_kib'] / 1024:.2f} MiB | {m['rss_max_kib'] / 1024:.2f} MiB | "
                     f"{m['hwm_kib'] / 1024:.2f} MiB | {m['threads']:.0f} | {m['fds']:.0f} |")
        L.append("")
    for n in args.agents:
        if n not in scale:
            continue
        runs = scale[n]
        m = {k: median([r[k] for r in runs]) for k in runs[0]}
        per = lambda a, b, d: (m[a] - m[b]) / d  # noqa: E731
        L.append(f"### Memory per connected agent and per task ({n} real agents)")
        L.append("")
        L.append(f"Medians of {len(runs)} runs (fresh stack each). RSS in KiB from "
                 f"/proc/PID/status VmRSS (median of samples 1 s apart); store from Redis "
                 f"`INFO memory` used_memory. Tasks: {args.jobs} jobs of `true` on all {n} "
                 f"agents after one warm-up job; their results stay stored for the job "
                 f"retention.")
        L.append("")
        L.append("| part | before | after | per agent / per task |")
        L.append("| --- | ---: | ---: | ---: |")
        L.append(f"| hub RSS, {n} agents enrolled, none connected | {m['hub_0']:,.0f} KiB | "
                 f"{m['hub_enrolled']:,.0f} KiB | {per('hub_enrolled', 'hub_0', n):.1f} KiB "
                 f"per agent |")
        L.append(f"| hub RSS, 0 → {n} agents connected | {m['hub_0']:,.0f} KiB | "
                 f"{m['hub_connected']:,.0f} KiB | {per('hub_connected', 'hub_0', n):.1f} KiB "
                 f"per agent |")
        L.append(f"| hub RSS, {args.jobs}×{n} tasks run | {m['hub_before_jobs']:,.0f} KiB | "
                 f"{m['hub_after_jobs']:,.0f} KiB | "
                 f"{per('hub_after_jobs', 'hub_before_jobs', args.jobs * n) * 1024:.0f} B "
                 f"per task |")
        L.append(f"| Prosody RSS, 0 → {n} agents connected | {m['prosody_0']:,.0f} KiB | "
                 f"{m['prosody_connected']:,.0f} KiB | "
                 f"{per('prosody_connected', 'prosody_0', n):.1f} KiB per agent |")
        L.append(f"| store used_memory, 0 → {n} agents enrolled | {mb(m['store_0'])} | "
                 f"{mb(m['store_enrolled'])} | "
                 f"{per('store_enrolled', 'store_0', n):,.0f} B per agent |")
        L.append(f"| store used_memory, 0 → {n} agents enrolled and online | "
                 f"{mb(m['store_0'])} | {mb(m['store_connected'])} | "
                 f"{per('store_connected', 'store_0', n):,.0f} B per agent |")
        L.append(f"| store used_memory, {args.jobs}×{n} tasks stored | "
                 f"{mb(m['store_before_jobs'])} | {mb(m['store_after_jobs'])} | "
                 f"{per('store_after_jobs', 'store_before_jobs', args.jobs * n):,.0f} B "
                 f"per task |")
        L.append(f"| store used_memory_dataset, 0 → {n} agents enrolled and online | "
                 f"{mb(m['dataset_0'])} | {mb(m['dataset_connected'])} | "
                 f"{per('dataset_connected', 'dataset_0', n):,.0f} B per agent |")
        L.append(f"| store used_memory_dataset, {args.jobs}×{n} tasks stored | "
                 f"{mb(m['dataset_before_jobs'])} | {mb(m['dataset_after_jobs'])} | "
                 f"{per('dataset_after_jobs', 'dataset_before_jobs', args.jobs * n):,.0f} B "
                 f"per task |")
        L.append("")
        L.append(f"Each of the {n} agents held a median VmRSS of "
                 f"{m['agent_rss_median'] / 1024:.2f} MiB (dev build, connected, after the "
                 f"settle). Store keys after the jobs: {m['keys_after_jobs']:.0f}.")
        L.append("")
        keys = breakdown.get(n) or {}
        if keys:
            L.append(f"Where the store's bytes are after the jobs (last run; `MEMORY USAGE` "
                     f"summed per key pattern, {args.jobs + 1} jobs of {n} tasks incl. the "
                     f"warm-up):")
            L.append("")
            L.append("| key pattern | keys | bytes | bytes per key |")
            L.append("| --- | ---: | ---: | ---: |")
            for pattern, (count, used) in sorted(keys.items(), key=lambda kv: -kv[1][1])[:15]:
                L.append(f"| `{pattern}` | {count} | {used:,} | {used / count:,.0f} |")
            L.append("")
        L.append("Every run:")
        L.append("")
        L.append("```")
        for k in runs[0]:
            L.append(f"{k:<20} " + " ".join(f"{r[k]:.0f}" for r in runs))
        L.append("```")
        L.append("")
    done = [n for n in args.agents if n in scale]
    if len(done) >= 2:
        a, b = done[0], done[-1]
        ma = {k: median([r[k] for r in scale[a]]) for k in scale[a][0]}
        mb_ = {k: median([r[k] for r in scale[b]]) for k in scale[b][0]}

        def slope(key, base):
            return ((mb_[key] - mb_[base]) - (ma[key] - ma[base])) / (b - a)

        L.append(f"### Marginal cost per agent (slope between {a} and {b} agents)")
        L.append("")
        L.append("Fixed costs (first connections, script loading, buffers) cancel out here.")
        L.append("")
        L.append("| part | per additional agent |")
        L.append("| --- | ---: |")
        L.append(f"| hub RSS, agent connected | {slope('hub_connected', 'hub_0'):.1f} KiB |")
        L.append(f"| Prosody RSS, agent connected | "
                 f"{slope('prosody_connected', 'prosody_0'):.1f} KiB |")
        L.append(f"| store used_memory, agent enrolled and online | "
                 f"{slope('store_connected', 'store_0'):,.0f} B |")
        L.append(f"| store used_memory_dataset, agent enrolled and online | "
                 f"{slope('dataset_connected', 'dataset_0'):,.0f} B |")
        L.append("")
    return "\n".join(L)


README_HEAD = """# bench/footprint: what an agent, a connection and a task cost

See the docstring of [footprint.py](footprint.py) for exactly what is measured.

"""


def write_readme(path, report):
    benchlib.write_results(path, report, BEGIN, END, README_HEAD)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle-s", type=int, default=60)
    parser.add_argument("--idle-runs", type=int, default=3)
    parser.add_argument("--settle", type=int, default=10,
                        help="seconds between the agent coming online and the idle watch")
    parser.add_argument("--agents", default="100",
                        type=lambda v: sorted({int(x) for x in v.split(",") if x}),
                        help="agent counts for the per-agent/per-task part, e.g. 100,300")
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument("--scale-runs", type=int, default=3)
    parser.add_argument("--no-static", action="store_true",
                        help="do not run the static release agent in the idle watch")
    parser.add_argument("--readme", default=str(HERE / "README.md"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    # SIGTERM (and SIGINT, which a background job started by a script ignores)
    # unwind through the finally clauses, so every process we started stops.
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    command = "/usr/bin/python3 bench/footprint/footprint.py " + " ".join(
        shlex.quote(a) for a in sys.argv[1:])
    if os.environ.get("MUSTER_BUILD_DIR"):
        command = f"MUSTER_BUILD_DIR={shlex.quote(os.environ['MUSTER_BUILD_DIR'])} {command}"
    mach0 = machine()
    build = muster_stack.build_dir()
    work = Path(tempfile.mkdtemp(prefix="muster-footprint-", dir="/var/tmp"))
    try:
        size_rows = sizes(build, work)
        for label, path, built, raw, stripped in size_rows:
            print(f"size: {label}: {raw} B, stripped {stripped} B", flush=True)
        use_static = STATIC_AGENT.exists() and not args.no_static
        idle = []
        for k in range(args.idle_runs):
            res = idle_run(work / f"idle{k}", args.idle_s, args.settle, use_static)
            idle.append(res)
            print(f"idle run {k + 1}/{args.idle_runs}: {res}", flush=True)
        scale = {}  # N -> [figures per run]
        breakdown = {}  # N -> the last run's store bytes per key pattern
        for n in args.agents:
            for k in range(args.scale_runs):
                res, breakdown[n] = scale_run(work / f"scale{n}-{k}", n, args.jobs)
                scale.setdefault(n, []).append(res)
                print(f"scale run {k + 1}/{args.scale_runs} with {n} agents: {res}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mach1 = machine()
    report = build_report(args, mach0, mach1, build, size_rows, idle, scale, breakdown,
                          command)
    print()
    print(report)
    if not args.no_write:
        write_readme(Path(args.readme), report)
        print(f"\nwritten to {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
