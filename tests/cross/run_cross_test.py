#!/usr/bin/python3
"""End-to-end test of one agent artifact: run_cross_test.py TARGET SCENARIO

Scenarios:
  empty-chroot     static agent alone in an empty chroot: itself, /etc/hosts,
                   /etc/resolv.conf, the CA and /etc/passwd+group naming the
                   task account "nobody" (x86_64 natively, ARM through a
                   static qemu-user copied in)
  bullseye-chroot  static agent in a Debian 11 chroot (glibc 2.31) whose
                   nsswitch.conf names modules a static binary must not load
  emulator         the agent under its emulator on the host file system
                   (qemu-user for ARM, wine for Windows)
  wrong-ca         the agent enrolls, then its pinned XMPP CA is replaced by
                   another CA: it must refuse the server and never come online
  wrong-name       the XMPP server's certificate is replaced by one from the
                   right CA for another host name: the agent must refuse it
  high-fd          the agent starts with descriptors 3..1199 taken, so its
                   XMPP and HTTPS sockets are all above FD_SETSIZE (libstrophe's
                   event loop is patched from select() to poll())
  windows-service  the Windows agent as a service of wine's Service Control
                   Manager in a private wine prefix: sc create / start, a
                   job, sc stop (STOPPED, exit code 0, the agent process gone,
                   its log says it stopped), sc delete

Each boots a private Redis + Prosody + muster-hub (MusterStack), enrolls one
agent (HTTPS, libcurl + mbedTLS), waits for it online (XMPP over TLS to the
server by host name, libstrophe + our mbedTLS backend), runs a job on it and
checks the reported result. Exit status: 0 pass, 1 fail, 77 skipped (artifact
not built: run ci/cross.sh TARGET).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cross_stack import (QEMU, ChrootRunner, CrossAgentStack, HOSTILE_NSSWITCH, Runner,  # noqa: E402
                         StackError, WineRunner, agent_binary, bullseye_rootfs, wait_until)
from muster_stack import pid_alive, require_tool  # noqa: E402

SKIP = 77


def say(msg):
    print(f"[cross] {msg}", flush=True)


def job_for(target, scenario, runner):
    """A job that proves the task really ran where the agent runs."""
    if target.startswith("windows"):
        return {"command": "echo hello-from-windows", "targets": {"all": True}}, "hello-from-windows"
    if scenario == "bullseye-chroot":
        return ({"command": "echo hello-from-$(cat /etc/debian_version | cut -d. -f1)",
                 "targets": {"all": True}}, "hello-from-11")
    if scenario == "empty-chroot":
        # The chroot holds no shell: the agent binary is the only program.
        argv = ["/muster-agent", "version"]
        if getattr(runner, "qemu", None):
            argv = [f"/{runner.qemu}", *argv]
        return {"argv": argv, "targets": {"all": True}}, "muster-agent"
    return {"command": "echo hello-from-$(uname -m)", "targets": {"all": True}}, "hello-from-"


def make_runner(target, scenario, work):
    binary = agent_binary(target)
    if not binary.exists():
        say(f"SKIP: {binary} is not built (ci/cross.sh {target})")
        sys.exit(SKIP)
    qemu = QEMU.get(target)
    if scenario == "empty-chroot":
        return ChrootRunner(binary, work / "root", qemu=qemu)
    if scenario == "bullseye-chroot":
        base = bullseye_rootfs()
        return ChrootRunner(binary, base, qemu=qemu, nsswitch=HOSTILE_NSSWITCH)
    if scenario == "high-fd":
        return Runner(binary, [sys.executable, str(Path(__file__).resolve().parent / "high_fds.py")])
    if scenario in ("emulator", "wrong-ca", "wrong-name", "windows-service"):
        if target.startswith("windows"):
            return WineRunner(binary)
        if qemu:
            return Runner(binary, [require_tool(qemu)])
        return Runner(binary)
    raise SystemExit(f"unknown scenario {scenario}")


def other_ca(work):
    """A CA that never signed the XMPP server's certificate."""
    d = work / "other-ca"
    d.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                    "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"),
                    "-subj", "/CN=Not the Muster CA", "-addext", "basicConstraints=critical,CA:TRUE"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (d / "ca.pem").read_text()


def socket_fds(pid):
    fds = []
    for entry in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(entry).startswith("socket:"):
                fds.append(int(entry.name))
        except OSError:
            continue
    return sorted(fds)


def idle_rss_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def make_leaf(pki, cn, san):
    """Replaces the XMPP server's certificate by one for `cn`, signed by the
    stack's own CA."""
    ext = pki / "other.ext"
    ext.write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    for argv in (["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "xmpp.key",
                  "-out", "other.csr", "-subj", f"/CN={cn}"],
                 ["x509", "-req", "-in", "other.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                  "-CAcreateserial", "-days", "30", "-sha256", "-out", "xmpp.crt", "-extfile", "other.ext"]):
        subprocess.run(["openssl", *argv], cwd=pki, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def expect_refusal(stack, uuid, before, reason):
    """The agent's log after offset `before` shows refused TLS handshakes
    (mentioning `reason`) and no connection; the hub sees the agent offline."""
    def refused():
        later = stack.agent_log(1)[before:]
        return reason in later and "connection failed" in later
    wait_until(refused, 90, f"the agent to refuse the server certificate ({reason})", interval=0.5)
    # An agent stopped without a clean stream close (wine kills the Windows
    # process outright) stays "online" until the server's stream-management
    # hibernation (60 s in this stack) ends; after that it must be offline,
    # since it never got back in.
    wait_until(lambda: stack.agents()[uuid].get("status") != "online", 120,
               "the hub to see the agent offline", interval=1)
    later = stack.agent_log(1)[before:]
    if "connected (TLS" in later:
        raise StackError("the agent connected although the server certificate is wrong")
    shown = 0
    for line in later.splitlines():
        if ("certificate" in line.lower() or "connection failed" in line) and shown < 4:
            say(f"agent log: {line.strip()}")
            shown += 1
    say(f"hub sees the agent as: {stack.agents()[uuid].get('status')}")


# -- windows-service --------------------------------------------------------

SERVICE = "MusterAgent"


class WinePrefix:
    """A private wine prefix (registry, services, its own wineserver) under
    the test's directory, so the service the test registers can never outlive
    it or start at another prefix's next boot. wine's output goes to files,
    never pipes: services and wineserver inherit the descriptors."""

    def __init__(self, path):
        self.path = Path(path)
        self.logs = self.path.parent / "wine-logs"
        self.env = {**os.environ, "WINEPREFIX": str(self.path), "WINEDEBUG": "-all",
                    "WINEDLLOVERRIDES": "mscoree,mshtml="}
        self.calls = 0

    def _run(self, argv, timeout=120):
        self.calls += 1
        out = self.logs / f"{self.calls:02d}-{Path(argv[0]).name}.log"
        with open(out, "wb") as f:
            res = subprocess.run(argv, env=self.env, stdin=subprocess.DEVNULL, stdout=f,
                                 stderr=subprocess.STDOUT, timeout=timeout)
        return res.returncode, out.read_text(errors="replace")

    def start(self):
        self.path.mkdir(parents=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        self._run([require_tool("wineserver"), "-p"])
        rc, text = self._run([require_tool("wineboot"), "--init"], timeout=600)
        if rc != 0:
            raise StackError(f"wineboot --init failed ({rc}): {text[-2000:]}")
        # Measured here: services created right after the first boot are not
        # seen by the services.exe that boot left (sc start: 1053 or 1060);
        # after a restart of the prefix's server they are.
        self.kill()
        self._run([require_tool("wineserver"), "-p"])  # persistent: the service must not die with the last client
        # Start the prefix's own services (services.exe, winedevice, ...) now,
        # with output to a file: started by the first wine client instead
        # (the enrollment), they would inherit its pipes and hold them open.
        self.wine("wineboot")
        (self.path / ".muster-ready").touch()  # cross/emulators/wine.sh: prefix initialised
        say(f"private wine prefix {self.path} ready in {time.time() - t0:.1f} s")

    def wine(self, *args, timeout=120):
        return self._run([require_tool("wine"), *args], timeout=timeout)

    def kill(self):
        self._run(["wineserver", "-k"])
        self._run(["wineserver", "-w"], timeout=60)

    def processes(self):
        """(pid, command line) of every process running in this prefix."""
        found = []
        needle = f"WINEPREFIX={self.path}".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                env = (entry / "environ").read_bytes().split(b"\0")
                if needle in env:
                    cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    found.append((int(entry.name), cmd.strip()))
            except OSError:
                continue
        return found


def sc_state(prefix):
    rc, text = prefix.wine("sc", "query", SERVICE)
    state = re.search(r"STATE\s*:\s*\d+\s+(\w+)", text)
    code = re.search(r"WIN32_EXIT_CODE\s*:\s*(\d+)", text)
    return rc, (state.group(1) if state else None), (int(code.group(1)) if code else None), text


def keep_or_remove(work, stack, ok):
    """A failed test (or MUSTER_KEEP_STATE=1) keeps its state and shows the agent's log tail."""
    if ok and os.environ.get("MUSTER_KEEP_STATE") != "1":
        shutil.rmtree(work, ignore_errors=True)
        return
    say(f"state kept in {work}")
    log = stack.agent_log(1)
    if log and not ok:
        say("agent log tail:\n" + "\n".join(log.splitlines()[-25:]))


def sc(prefix, *args, explain=lambda: ""):
    """Runs `wine sc ARGS...` and fails the test with its output unless it succeeds."""
    rc, text = prefix.wine("sc", *args)
    if rc != 0:
        raise StackError(f"sc {args[0]} failed ({rc}): {text}{explain()}")
    return text


def wait_sc_state(prefix, state, timeout):
    wait_until(lambda: sc_state(prefix)[1] == state, timeout, f"sc query to show {state}", interval=0.5)


def agent_pids(prefix):
    return [pid for pid, cmd in prefix.processes() if "muster-agent.exe" in cmd and " service" in cmd]


def run_service(target, work, runner):
    """windows-service: see the module docstring."""
    prefix = WinePrefix(work / "wine")
    stack = CrossAgentStack(work / "stack", runner, agents=0, agent_log_level="debug")
    ok = False
    try:
        t0 = time.time()
        prefix.start()
        # wine.sh (enrollment) uses the prefix named by the environment.
        os.environ["WINEPREFIX"] = str(prefix.path)
        stack.start()
        stack.enroll_agents(1)
        uuid = stack.agent_uuids[1]
        say(f"stack up and agent enrolled in {time.time() - t0:.1f} s: {uuid}")

        exe = runner.agent_path(runner.binary)
        state_dir = runner.agent_path(stack.agent_dir(1))
        # One binPath= value: sc.exe takes the next argument as it is (no
        # spaces in these paths, so no inner quotes to survive two parsers).
        bin_path = f"{exe} service --state-dir {state_dir} --log-level debug"
        if " " in exe or " " in state_dir:
            raise StackError(f"paths with spaces are not supported by this test: {bin_path}")
        sc(prefix, "create", SERVICE, "binPath=", bin_path)
        say(f"sc create {SERVICE} binPath= {bin_path}")
        t1 = time.time()
        sc(prefix, "start", SERVICE, explain=lambda: f"\nagent log:\n{stack.agent_log(1)[-3000:]}")
        wait_sc_state(prefix, "RUNNING", 60)
        pids = agent_pids(prefix)
        say(f"service RUNNING after {time.time() - t1:.1f} s; agent process(es) {pids}")
        if not pids:
            raise StackError("no muster-agent.exe service process found in the prefix")
        wait_until(lambda: stack.agents().get(uuid, {}).get("status") == "online", 90,
                   "the hub to see the service agent online", interval=0.5)
        say(f"hub sees the agent online {time.time() - t1:.1f} s after sc start")
        log = stack.agent_log(1)
        for key in ("started as a service", "service account", "connected (TLS"):
            line = next((ln for ln in log.splitlines() if key in ln), None)
            if line is None:
                raise StackError(f"agent.log has no line with {key!r}:\n{log[-3000:]}")
            say(f"agent log: {line.strip()}")
        if "connected (TLS on)" not in log:
            raise StackError("the agent did not report a TLS connection")

        # cmd /c echo, as argv: cmd.exe found on PATH, run in the job's Job Object.
        t2 = time.time()
        done, tasks = stack.run_job({"argv": ["cmd", "/c", "echo", "hello-from-windows-service"],
                                     "targets": {"all": True}, "timeout_s": 60}, timeout=120)
        task = tasks[uuid]
        say(f"job {done['id']} {done['state']} in {time.time() - t2:.1f} s; task: state={task['state']} "
            f"exit_code={task['exit_code']} stdout={task['stdout']!r} stderr={task['stderr']!r}")
        if task["state"] != "succeeded" or "hello-from-windows-service" not in task["stdout"]:
            raise StackError(f"unexpected task result: {task}")

        t3 = time.time()
        sc(prefix, "stop", SERVICE)
        wait_sc_state(prefix, "STOPPED", 30)
        _, state, exit_code, text = sc_state(prefix)
        say(f"sc query after sc stop ({time.time() - t3:.1f} s): STATE {state}, WIN32_EXIT_CODE {exit_code}")
        if exit_code != 0:
            raise StackError(f"the service stopped with WIN32_EXIT_CODE {exit_code}:\n{text}")
        wait_until(lambda: not any(pid_alive(p) for p in pids), 30, "the agent process to exit", interval=0.2)
        say(f"agent process(es) {pids} exited")
        lines = stack.agent_log(1).splitlines()
        control = [i for i, ln in enumerate(lines) if "service control stop: stopping" in ln]
        if not control or not lines[-1].rstrip().endswith("agent: stopped"):
            raise StackError("agent.log does not end with a clean stop:\n" + "\n".join(lines[-15:]))
        say(f"agent log: {lines[control[-1]].strip()}")
        say(f"agent log: {lines[-1].strip()}")
        # A clean stop says goodbye (unavailable presence): offline at once,
        # not after the server's stream-management hibernation.
        wait_until(lambda: stack.agents()[uuid].get("status") != "online", 20,
                   "the hub to see the stopped agent offline", interval=0.5)
        say(f"hub sees the agent as: {stack.agents()[uuid].get('status')} "
            f"{time.time() - t3:.1f} s after sc stop")

        sc(prefix, "delete", SERVICE)
        rc, _, _, text = sc_state(prefix)
        if rc == 0:
            raise StackError(f"the service is still there after sc delete:\n{text}")
        say("sc delete: the service is gone")
        say(f"PASS: {target} windows-service ({time.time() - t0:.1f} s)")
        ok = True
        return 0
    except (StackError, subprocess.TimeoutExpired) as e:
        say(f"FAIL: {e}")
        return 1
    finally:
        stack.stop()
        if prefix.path.exists():
            prefix.kill()
        deadline = time.time() + 15
        left = prefix.processes()
        while left and time.time() < deadline:
            time.sleep(0.2)
            left = prefix.processes()
        if left:
            say(f"FAIL: processes of the wine prefix left behind: {left}")
            for pid, _ in left:
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
            ok = False
        if not ok or os.environ.get("MUSTER_KEEP_STATE") == "1":
            shutil.rmtree(prefix.path, ignore_errors=True)  # 0.7 GB; its logs stay in wine-logs/
        keep_or_remove(work, stack, ok)
        if left:
            sys.exit(1)


def run(target, scenario):
    work = Path(tempfile.mkdtemp(prefix=f"muster-cross-{target}-{scenario}-"))
    runner = make_runner(target, scenario, work)
    if scenario == "windows-service":
        if not target.startswith("windows"):
            raise SystemExit("windows-service is a scenario for Windows targets")
        return run_service(target, work, runner)
    stack = CrossAgentStack(work / "stack", runner, agents=1, agent_log_level="debug")
    ok = False
    try:
        t0 = time.time()
        stack.start(agents_timeout=90)
        uuid = stack.agent_uuids[1]
        info = stack.agents()[uuid]
        say(f"enrolled and online in {time.time() - t0:.1f} s: {uuid} "
            f"os={info.get('os')} arch={info.get('arch')} status={info.get('status')}")
        log = stack.agent_log(1)
        connected = [ln for ln in log.splitlines() if "connected (TLS" in ln]
        say(f"agent log: {connected[-1].strip() if connected else '(no connected line)'}")
        if not connected or "TLS on" not in connected[-1]:
            raise StackError("the agent did not report a TLS connection")

        pid = stack.procs["agent1"].pid
        if not target.startswith("windows"):
            time.sleep(5)
            rss = idle_rss_kib(pid)
            what = "agent" if target == "linux-x86_64-static" else "agent + qemu-user emulator"
            say(f"idle RSS after 5 s connected: {rss} KiB ({what}, pid {pid})")

        if scenario == "high-fd":
            sockets = socket_fds(pid)
            say(f"agent socket descriptors: {sockets}")
            if not sockets or min(sockets) < 1024:
                raise StackError("expected every socket of the agent above FD_SETSIZE (1024)")

        if scenario == "wrong-name":
            # A certificate from the right CA, for another host name: the
            # agent must check the name, not only the chain.
            make_leaf(stack.pki, "other.example", "DNS:other.example")
            before = len(stack.agent_log(1))
            stack.restart_process("prosody")
            expect_refusal(stack, uuid, before, "does not match")
            say("PASS: a server certificate for another host name is refused")
            ok = True
            return 0

        if scenario == "wrong-ca":
            stack.stop_process("agent1")
            ca_path = stack.agent_dir(1) / "xmpp-ca.pem"
            ca_path.write_text(other_ca(work))
            before = len(stack.agent_log(1))
            stack.start_agent(1)
            expect_refusal(stack, uuid, before, "not correctly signed by the trusted CA")
            say("PASS: a server certificate from another CA is refused")
            ok = True
            return 0

        job, expect = job_for(target, scenario, runner)
        t1 = time.time()
        done, tasks = stack.run_job({**job, "timeout_s": 60}, timeout=120)
        task = tasks[uuid]
        say(f"job {done['id']} {done['state']} in {time.time() - t1:.1f} s; task: state={task['state']} "
            f"exit_code={task['exit_code']} stdout={task['stdout']!r} stderr={task['stderr']!r}")
        if task["state"] != "succeeded" or expect not in task["stdout"]:
            raise StackError(f"unexpected task result: {task}")
        say(f"PASS: {target} {scenario}")
        ok = True
        return 0
    except StackError as e:
        say(f"FAIL: {e}")
        return 1
    finally:
        stack.stop()
        keep_or_remove(work, stack, ok)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    sys.exit(run(sys.argv[1], sys.argv[2]))
