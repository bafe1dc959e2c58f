#!/usr/bin/python3
"""Muster side by side with Ansible and parallel-ssh: `true` on N targets.

In one run, for each N (default 10, 50, 100) and each repetition, the three
tools run one after the other (interleaved, so machine noise hits all three
alike):

  muster   a private Muster stack (tests/support/muster_stack.py: generated CA,
           redis-server, Prosody, muster-hub role all) with max(N) real
           muster-agent processes; a job {"command": "true"} aimed at the
           first N agents by id. Timed from sending POST /api/v1/jobs (on a
           fresh HTTPS connection; the TLS handshake before it is timed
           separately) until the job's `remaining` counter in the store is 0,
           i.e. every task's result is stored. Polled over one persistent
           RESP connection so the poll costs microseconds.
  ansible  `ansible all -i <inventory> -m command -a true -f 50`, the
           inventory holding N distinct host names h000.. with
           ansible_connection=local (and ansible_python_interpreter set, so no
           interpreter discovery is timed). Wall time of the whole command.
  pssh     `parallel-ssh -h <hosts> -p 100 -t 0 -x "-F <ssh_config>" true`
           against a private sshd started for the run on 127.0.0.1 (free
           port, own ed25519 host key, one authorized key generated for the
           run, MaxStartups raised so no connection is refused). The hosts
           file holds N distinct names h000.. that the private ssh_config maps
           to 127.0.0.1:<port>; host key checking uses a private known_hosts
           (StrictHostKeyChecking no). Wall time of the whole command.

Each tool's output is checked (N successes), or the run fails. One warm-up
round of each tool at the smallest N is not counted. Prints the medians and
the ratios Ansible/Muster and pssh/Muster (ratio of the medians, and the
median of the per-repetition ratios, both from this run), and writes them
with the machine and the command into bench/peers/README.md between the
results markers (the rest of the README is kept).

    /usr/bin/python3 bench/peers/peers.py [--n 10,50,100] [--runs 5]
                                          [--forks 50] [--pssh-par 100]
                                          [--perf-jobs K] [--tools ...]
                                          [--no-write] [--keep]

--perf-jobs K: after the timed runs, K more Muster jobs at the largest N
under system-wide `perf record -a`; the share of samples per process and
inside the agents goes into the report.

Needs ci/install-deps.sh and ci/install-bench-deps.sh (ansible, pssh,
openssh-server, openssh-client, perf), a build in $MUSTER_BUILD_DIR (default
build/dev). Tested as root (sshd then needs /run/sshd, which it creates);
binds 127.0.0.1 only. Not a test.
"""

import argparse
import http.client
import json
import os
import platform
import shlex
import socket
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
from benchlib import Resp, build_origin, machine, median  # noqa: E402,F401

BEGIN = "<!-- peers.py results: begin -->"
END = "<!-- peers.py results: end -->"


# ---------------------------------------------------------------------------
# small helpers







def run_timed(argv, env=None, cwd=None, timeout=900):
    start = time.perf_counter()
    res = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                         cwd=cwd, timeout=timeout)
    elapsed = time.perf_counter() - start
    return elapsed, res.returncode, res.stdout.decode("utf-8", "replace")





# ---------------------------------------------------------------------------
# Muster

class MusterRunner:
    name = "muster"

    def __init__(self, work, n_agents, timeout, prosody_log="info"):
        self.stack = muster_stack.MusterStack(work / "muster", agents=n_agents,
                                              agent_log_level="info")
        # The tests log every stanza (debug); an operator's server logs at info.
        self.stack.xmpp_log_level = prosody_log
        self.timeout = timeout
        self.store = None
        self.splits = {}  # N -> list of dicts (per run)
        self.cpu = {}  # N -> list of {component: CPU ms during the job}
        self.handshakes = []
        self.clk = os.sysconf("SC_CLK_TCK")

    def start(self):
        t0 = time.perf_counter()
        self.stack.start(agents_timeout=max(120, self.stack.n_agents * 2))
        self.store = Resp(self.stack.ports["redis"])
        print(f"muster: stack with {self.stack.n_agents} agents up in "
              f"{time.perf_counter() - t0:.1f} s (build {self.stack.build})", flush=True)

    def stop(self):
        if self.store:
            self.store.close()
        self.stack.stop()

    def pids(self):
        return {name: p.pid for name, p in self.stack.procs.items()}

    def cpu_snapshot(self):
        """CPU ms (user+system) so far per component; agents include their
        reaped children (the `true` processes), read from /proc/PID/stat."""
        out = {"hub": 0.0, "prosody": 0.0, "redis": 0.0, "agents": 0.0}
        for name, proc in self.stack.procs.items():
            try:
                with open(f"/proc/{proc.pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
            key = "agents" if name.startswith("agent") else name
            ticks = utime + stime + (cutime + cstime if key == "agents" else 0)
            out[key] = out.get(key, 0.0) + ticks * 1000.0 / self.clk
        return out

    def run(self, n, record=True):
        stack = self.stack
        agents = [stack.agent_uuids[i] for i in range(1, n + 1)]
        body = json.dumps({"command": "true", "targets": {"agents": agents}, "timeout_s": 60})
        headers = {"Authorization": f"Bearer {stack.admin_token}",
                   "Content-Type": "application/json"}
        conn = http.client.HTTPSConnection("localhost", stack.ports["api"], timeout=60,
                                           context=stack._ssl_context())
        cpu0 = self.cpu_snapshot()
        h0 = time.perf_counter()
        conn.connect()
        h1 = time.perf_counter()
        wall0 = time.time()
        start = time.perf_counter()
        conn.request("POST", "/api/v1/jobs", body, headers)
        resp = conn.getresponse()
        reply = json.loads(resp.read())
        created = time.perf_counter()
        conn.close()
        if resp.status != 201:
            raise SystemExit(f"muster: POST /api/v1/jobs -> {resp.status} {reply}")
        key = benchlib.job_key(reply["id"])
        deadline = start + self.timeout
        while self.store.command("HGET", key, "remaining") != "0":
            if time.perf_counter() > deadline:
                raise SystemExit(f"muster: job {reply['id']} not done in {self.timeout} s")
            time.sleep(0.0002)
        elapsed = time.perf_counter() - start
        cpu1 = self.cpu_snapshot()
        # Check: every task succeeded (read after the clock stopped).
        job = stack.job(reply["id"])
        ok = job.get("counts", {}).get("succeeded")
        if ok != n:
            raise SystemExit(f"muster: job {reply['id']}: {ok} of {n} succeeded: {job}")
        if record:
            self.handshakes.append(h1 - h0)
            status, tasks = stack.api("GET", f"/api/v1/jobs/{reply['id']}/tasks?limit=1000")
            tasks = tasks["tasks"] if status == 200 else []

            def rel(field, fn):
                vals = [t[field] for t in tasks if isinstance(t.get(field), (int, float))]
                return (fn(vals) - wall0) * 1000 if vals else float("nan")

            self.cpu.setdefault(n, []).append({k: cpu1[k] - cpu0.get(k, 0.0) for k in cpu1})
            self.splits.setdefault(n, []).append({
                "post_201": (created - start) * 1000,
                "first_dispatch": rel("dispatched_at", min),
                "last_dispatch": rel("dispatched_at", max),
                "first_start": rel("started_at", min),
                "last_start": rel("started_at", max),
                "last_finish": rel("finished_at", max),
                "all_stored": elapsed * 1000,
            })
        return elapsed


# ---------------------------------------------------------------------------
# Ansible

class AnsibleRunner:
    name = "ansible"

    def __init__(self, work, forks):
        self.dir = work / "ansible"
        self.forks = forks
        self.env = None

    def start(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "ansible.cfg").write_text("[defaults]\nhost_key_checking = False\n"
                                              "retry_files_enabled = False\n")
        self.env = dict(os.environ,
                        ANSIBLE_CONFIG=str(self.dir / "ansible.cfg"),
                        ANSIBLE_HOME=str(self.dir / "home"),
                        ANSIBLE_LOCAL_TEMP=str(self.dir / "tmp"),
                        ANSIBLE_REMOTE_TEMP=str(self.dir / "remote-tmp"),
                        ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
        self.env.pop("ANSIBLE_STDOUT_CALLBACK", None)
        version = subprocess.run(["ansible", "--version"], stdout=subprocess.PIPE,
                                 env=self.env).stdout.decode().splitlines()[0]
        print(f"ansible: {version}", flush=True)
        self.version = version

    def inventory(self, n):
        path = self.dir / f"inventory-{n}.ini"
        if not path.exists():
            lines = ["[all]"] + [f"h{i:03d} ansible_connection=local "
                                 f"ansible_python_interpreter=/usr/bin/python3"
                                 for i in range(n)]
            path.write_text("\n".join(lines) + "\n")
        return path

    def argv(self, n):
        return ["ansible", "all", "-i", str(self.inventory(n)), "-m", "command", "-a", "true",
                "-f", str(self.forks)]

    def run(self, n, record=True):
        elapsed, rc, out = run_timed(self.argv(n), env=self.env, cwd=self.dir)
        ok = sum(1 for line in out.splitlines() if "| CHANGED | rc=0" in line)
        if rc != 0 or ok != n:
            raise SystemExit(f"ansible: rc {rc}, {ok} of {n} ok:\n{out[-3000:]}")
        return elapsed

    def stop(self):
        pass


# ---------------------------------------------------------------------------
# parallel-ssh against a private sshd

class PsshRunner:
    name = "pssh"

    def __init__(self, work, par):
        self.dir = work / "ssh"
        self.par = par
        self.sshd = None

    def keygen(self, name):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"muster-bench-{name}",
                        "-f", str(self.dir / name)], check=True)

    def start(self):
        d = self.dir
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o700)
        self.keygen("host_key")
        self.keygen("client_key")
        (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
        (d / "authorized_keys").chmod(0o600)
        self.port = muster_stack.free_port()
        user = os.environ.get("USER") or __import__("pwd").getpwuid(os.getuid()).pw_name
        (d / "sshd_config").write_text(f"""# private sshd for bench/peers (loopback only)
Port {self.port}
ListenAddress 127.0.0.1
HostKey {d / 'host_key'}
PidFile {d / 'sshd.pid'}
AuthorizedKeysFile {d / 'authorized_keys'}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
# up to 1000 unauthenticated connections at once: pssh opens -p of them
MaxStartups 1000
MaxSessions 1000
""")
        (d / "ssh_config").write_text(f"""# private client config for bench/peers
Host h*
  HostName 127.0.0.1
  Port {self.port}
  User {user}
  IdentityFile {d / 'client_key'}
  IdentitiesOnly yes
  UserKnownHostsFile {d / 'known_hosts'}
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking no
  BatchMode yes
  LogLevel ERROR
""")
        sshd = "/usr/sbin/sshd"
        if os.getuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
        check = subprocess.run([sshd, "-t", "-f", str(d / "sshd_config")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if check.returncode != 0:
            raise SystemExit(f"sshd -t: {check.stdout.decode()}")
        self.sshd = muster_stack.Proc("sshd", [sshd, "-D", "-f", d / "sshd_config",
                                               "-E", d / "sshd.log"], d / "sshd.out").start()
        muster_stack.wait_until(lambda: muster_stack.port_open(self.port), 15, "sshd to listen",
                                check=self.sshd.check_running)
        version = subprocess.run(["ssh", "-V"], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT).stdout.decode().strip()
        print(f"pssh: private sshd on 127.0.0.1:{self.port} ({version})", flush=True)
        self.version = version

    def hosts(self, n):
        path = self.dir / f"hosts-{n}"
        if not path.exists():
            path.write_text("".join(f"h{i:03d}\n" for i in range(n)))
        return path

    def argv(self, n):
        return ["parallel-ssh", "-h", str(self.hosts(n)), "-p", str(self.par), "-t", "0",
                "-x", f"-F {self.dir / 'ssh_config'}", "true"]

    def run(self, n, record=True):
        elapsed, rc, out = run_timed(self.argv(n))
        ok = sum(1 for line in out.splitlines() if "[SUCCESS]" in line)
        if rc != 0 or ok != n:
            raise SystemExit(f"pssh: rc {rc}, {ok} of {n} ok:\n{out[-3000:]}\nsshd log:\n"
                             f"{muster_stack.tail(self.dir / 'sshd.log')}")
        return elapsed

    def stop(self):
        if self.sshd:
            self.sshd.stop()
            self.sshd = None


# ---------------------------------------------------------------------------
# profile: system-wide perf samples while Muster runs jobs back to back

AGENT_CATEGORIES = (
    ("ECDSA P-256 verify (mbedTLS bignum/ECP)",
     r"^(mbedtls_mpi|mpi_|add32|sub32|ecp_|mbedtls_ecp|mbedtls_ct_|mbedtls_ecdsa|add_sub_mpi|"
     r"mbedtls_internal_sha512)"),
    ("TLS records, SHA-256 (mbedTLS)", r"^(mbedtls_|aes|gcm|chacha|poly1305)"),
    ("libstrophe (XML, SHA-1 DRBG for ids)", r"^(xmpp_|crypto_|SHA1_|hash_|parser_|_start_element|"
     r"_end_element|_characters|XML_|sha1)"),
)


def perf_profile(muster, n, jobs, data):
    import re
    import signal
    perf = subprocess.Popen(["perf", "record", "-a", "-F", "999", "-o", str(data)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    t0 = time.perf_counter()
    walls = [muster.run(n, record=False) for _ in range(jobs)]
    window = time.perf_counter() - t0
    time.sleep(0.2)
    perf.send_signal(signal.SIGINT)
    perf.wait(120)

    def report(*extra):
        res = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "-g", "none",
                              "--percent-limit", "0.05", *extra],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        rows = []
        for line in res.stdout.decode("utf-8", "replace").splitlines():
            m = re.match(r"\s*([\d.]+)%\s+(.*\S)", line)
            if m and not line.lstrip().startswith("#"):
                rows.append((float(m.group(1)), m.group(2)))
        return rows

    by_comm = report("--sort", "comm")
    comms = {"muster-agent": "agents", "lua5.4": "Prosody", "lua5.3": "Prosody",
             "lua5.2": "Prosody", "muster-hub": "hub", "redis-server": "Redis",
             "sh": "sh -c true (the task)", "true": "sh -c true (the task)",
             "swapper": "idle"}
    ours = {}
    others = 0.0
    for pct, comm in by_comm:
        name = comms.get(comm.split()[0])
        if name:
            ours[name] = ours.get(name, 0.0) + pct
        else:
            others += pct
    agent_syms = report("--comm", "muster-agent", "--sort", "sym")
    cats = {}
    for pct, sym in agent_syms:
        kernel = sym.startswith("[k]")
        name = sym.split("]", 1)[-1].strip()
        cat = "kernel (fork/exec/exit, scheduling, TCP)" if kernel else None
        if cat is None:
            for label, rx in AGENT_CATEGORIES:
                if re.match(rx, name):
                    cat = label
                    break
        cats[cat or "other (libc, Muster's own code, ...)"] = \
            cats.get(cat or "other (libc, Muster's own code, ...)", 0.0) + pct
    tops = {}
    for comm in ("muster-agent", "lua5.4", "muster-hub", "redis-server"):
        tops[comm] = report("--comm", comm, "--sort", "dso,sym")[:8]
    return {"jobs": jobs, "walls": walls, "window": window, "ours": ours, "others": others,
            "agent_categories": cats, "tops": tops}


def profile_report(prof, n):
    L = []
    busy = sum(v for k, v in prof["ours"].items() if k != "idle")
    L.append(f"System-wide `perf record -a -F 999` while Muster ran {prof['jobs']} jobs of N={n} "
             f"back to back (median {median(prof['walls']) * 1000:.0f} ms each, "
             f"{prof['window']:.1f} s window; share of all samples on both cores):")
    L.append("")
    L.append("| where | share of samples |")
    L.append("| --- | ---: |")
    for name, pct in sorted(prof["ours"].items(), key=lambda kv: -kv[1]):
        L.append(f"| {name} | {pct:.1f} % |")
    L.append(f"| other processes on the machine | {prof['others']:.1f} % |")
    L.append(f"| **Muster's processes together** | **{busy:.1f} %** |")
    L.append("")
    L.append("Inside the agents (share of all samples):")
    L.append("")
    L.append("| agent CPU spent in | share |")
    L.append("| --- | ---: |")
    for name, pct in sorted(prof["agent_categories"].items(), key=lambda kv: -kv[1]):
        L.append(f"| {name} | {pct:.1f} % |")
    L.append("")
    L.append("Top symbols per process (share of all samples):")
    L.append("")
    L.append("```")
    for comm, rows in prof["tops"].items():
        L.append(f"{comm}:")
        for pct, sym in rows:
            L.append(f"  {pct:5.2f}%  {' '.join(sym.split())}")
    L.append("```")
    return "\n".join(L)


# ---------------------------------------------------------------------------
# report

def fmt_s(seconds):
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def build_report(args, results, muster, ansible, pssh, mach_start, mach_end, command):
    lines = []
    lines.append(f"Run {mach_start['date']} → {mach_end['date']}; `nproc` = {mach_start['nproc']}, "
                 f"`uname -r` = {mach_start['uname_r']}, CPU {mach_start['cpu']}; "
                 f"load average at start {' '.join(mach_start['loadavg'])}, at end "
                 f"{' '.join(mach_end['loadavg'])} (shared, noisy machine); "
                 f"{build_origin(muster.stack.build, mach_start['git'])}; "
                 f"XMPP server {muster.stack.xmpp_server} (log level "
                 f"{muster.stack.xmpp_log_level}).")
    lines.append("")
    lines.append(f"Command: `{command}`")
    lines.append("")
    lines.append(f"Peers: {ansible.version}; `parallel-ssh` (pssh 2.3.4) over {pssh.version}.")
    lines.append("")
    lines.append(f"Medians of {args.runs} runs per tool per N (tools interleaved within each "
                 f"repetition; one warm-up round not counted). Ratios are from this run: "
                 f"ratio of the medians, and in brackets the median of the per-repetition ratios.")
    lines.append("")
    lines.append("| N | Muster (POST → all results stored) | Ansible `-f %d` | parallel-ssh `-p %d` "
                 "| Ansible / Muster | pssh / Muster |" % (args.forks, args.pssh_par))
    lines.append("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in args.n:
        r = results[n]
        m, a, p = median(r["muster"]), median(r["ansible"]), median(r["pssh"])
        ra = median([x / y for x, y in zip(r["ansible"], r["muster"])])
        rp = median([x / y for x, y in zip(r["pssh"], r["muster"])])
        lines.append(f"| {n} | {fmt_s(m)} | {fmt_s(a)} | {fmt_s(p)} | "
                     f"{a / m:.0f}× ({ra:.0f}×) | {p / m:.0f}× ({rp:.0f}×) |")
    lines.append("")
    top = max(args.n)
    r = results[top]
    ga = median(r["ansible"]) / median(r["muster"])
    gp = median(r["pssh"]) / median(r["muster"])
    lines.append(f"Goals at N={top}: Muster ≥ 50× faster than Ansible: "
                 f"{'met' if ga >= 50 else 'NOT met'} ({ga:.0f}×); ≥ 100× faster than "
                 f"parallel-ssh: {'met' if gp >= 100 else 'NOT met'} ({gp:.0f}×).")
    lines.append("")
    lines.append("Muster time splits (medians, ms after sending the POST; dispatch times are the "
                 "master's clock, start/finish the agents', all on this machine):")
    lines.append("")
    lines.append("| N | 201 Created | first dispatched | last dispatched | first started "
                 "| last started | last finished | all stored |")
    lines.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in args.n:
        s = muster.splits.get(n, [])
        cols = ["post_201", "first_dispatch", "last_dispatch", "first_start", "last_start",
                "last_finish", "all_stored"]
        lines.append(f"| {n} | " + " | ".join(f"{median([x[c] for x in s]):.1f}" for c in cols)
                     + " |")
    lines.append("")
    lines.append("CPU used by each part of the Muster stack during one job (medians, ms of "
                 "user+system time from /proc/PID/stat; agents include the `true` processes "
                 f"they ran; this machine has {mach_start['nproc']} cores):")
    lines.append("")
    lines.append("| N | hub | Prosody | Redis | agents (all) | sum | wall |")
    lines.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in args.n:
        c = muster.cpu.get(n, [])
        parts = [median([x[k] for x in c]) for k in ("hub", "prosody", "redis", "agents")]
        lines.append(f"| {n} | " + " | ".join(f"{v:.0f}" for v in parts)
                     + f" | {median([sum(x.values()) for x in c]):.0f}"
                     + f" | {median(results[n]['muster']) * 1000:.0f} |")
    lines.append("")
    lines.append(f"TLS connect + handshake to the API before each POST (not in the Muster "
                 f"figure): median {median(muster.handshakes) * 1000:.1f} ms.")
    lines.append("")
    lines.append("Every run, in seconds:")
    lines.append("")
    lines.append("```")
    for n in args.n:
        for tool in ("muster", "ansible", "pssh"):
            lines.append(f"N={n:<4} {tool:<8} " + " ".join(f"{v:.3f}" for v in results[n][tool]))
    lines.append("```")
    return "\n".join(lines)


README_HEAD = """# bench/peers: Muster, Ansible and parallel-ssh side by side

`true` on N = 10, 50 and 100 targets, all three tools in one run on this
machine; see the docstring of [peers.py](peers.py) for exactly what is timed.
Install the peers with `ci/install-bench-deps.sh`.

"""


def write_readme(path, report):
    benchlib.write_results(path, report, BEGIN, END, README_HEAD)


# ---------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", default="10,50,100",
                        type=lambda s: sorted({int(x) for x in s.split(",") if x}))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--forks", type=int, default=50, help="ansible -f")
    parser.add_argument("--pssh-par", type=int, default=100, help="parallel-ssh -p")
    parser.add_argument("--tools", default="muster,ansible,pssh")
    parser.add_argument("--readme", default=str(HERE / "README.md"))
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--keep", action="store_true", help="keep the state directory")
    parser.add_argument("--perf-jobs", type=int, default=0,
                        help="after the timed runs, profile this many Muster jobs at the "
                             "largest N with system-wide perf record (needs perf)")
    parser.add_argument("--prosody-log", default="info", choices=("debug", "info", "warn"),
                        help="the XMPP server's log level (the tests use debug; default info)")
    parser.add_argument("--state-root", default="/var/tmp",
                        help="where the run's state directory goes (agents' journals and "
                             "spools live there; default /var/tmp, a disk)")
    parser.add_argument("--hold", type=float, default=0,
                        help="after the stack is up, print its pids and wait this many "
                             "seconds (attach a profiler)")
    args = parser.parse_args()
    # SIGTERM (and SIGINT, which a background job started by a script ignores)
    # unwind through the finally clauses, so every process we started stops.
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.runs < 1 or not args.n:
        parser.error("need --runs >= 1 and at least one N")
    tools = args.tools.split(",")
    command = "/usr/bin/python3 bench/peers/peers.py " + " ".join(
        shlex.quote(a) for a in sys.argv[1:])
    if os.environ.get("MUSTER_BUILD_DIR"):
        command = f"MUSTER_BUILD_DIR={shlex.quote(os.environ['MUSTER_BUILD_DIR'])} {command}"
    mach_start = machine()
    work = Path(tempfile.mkdtemp(prefix="muster-peers-", dir=args.state_root))
    print(f"state under {work}", flush=True)
    muster = MusterRunner(work, max(args.n), timeout=120, prosody_log=args.prosody_log)
    ansible = AnsibleRunner(work, args.forks)
    pssh = PsshRunner(work, args.pssh_par)
    runners = [r for r in (muster, ansible, pssh) if r.name in tools]
    results = {n: {r.name: [] for r in (muster, ansible, pssh)} for n in args.n}
    prof = None
    try:
        for r in runners:
            r.start()
        if args.hold:
            print(f"pids: {json.dumps(muster.pids()) if muster in runners else '-'}; "
                  f"holding {args.hold:.0f} s", flush=True)
            time.sleep(args.hold)
        for r in runners:  # warm-up, not counted
            r.run(min(args.n), record=False)
        for rep in range(args.runs):
            for n in args.n:
                for r in runners:
                    t = r.run(n)
                    results[n][r.name].append(t)
                    print(f"run {rep + 1}/{args.runs} N={n:<4} {r.name:<8} {fmt_s(t):>10}",
                          flush=True)
        if args.perf_jobs and muster in runners:
            for r in runners:
                if r is not muster:
                    r.stop()
            prof = perf_profile(muster, max(args.n), args.perf_jobs, work / "perf.data")
            print(profile_report(prof, max(args.n)), flush=True)
    finally:
        for r in runners:
            try:
                r.stop()
            except Exception as e:  # noqa: BLE001
                print(f"stopping {r.name}: {e}", file=sys.stderr)
        if not args.keep:
            subprocess.run(["rm", "-rf", str(work)])
    mach_end = machine()
    if set(tools) != {"muster", "ansible", "pssh"}:
        for n in args.n:
            print(f"N={n}: " + ", ".join(f"{t} {fmt_s(median(results[n][t]))}" for t in tools))
            if muster in runners:
                c = muster.cpu[n]
                print("   muster CPU ms: " + ", ".join(
                    f"{k} {median([x[k] for x in c]):.0f}" for k in c[0]))
                s = muster.splits[n]
                print("   muster splits ms: " + ", ".join(
                    f"{k} {median([x[k] for x in s]):.1f}" for k in s[0]))
        return 0
    report = build_report(args, results, muster, ansible, pssh, mach_start, mach_end, command)
    if prof:
        report += "\n\n" + profile_report(prof, max(args.n))
    print()
    print(report)
    if not args.no_write:
        write_readme(Path(args.readme), report)
        print(f"\nwritten to {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
