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

Each boots a private Redis + Prosody + muster-hub (MusterStack), enrolls one
agent (HTTPS, libcurl + mbedTLS), waits for it online (XMPP over TLS to the
server by host name, libstrophe + our mbedTLS backend), runs a job on it and
checks the reported result. Exit status: 0 pass, 1 fail, 77 skipped (artifact
not built: run ci/cross.sh TARGET).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cross_stack import (QEMU, ChrootRunner, CrossAgentStack, HOSTILE_NSSWITCH, Runner,  # noqa: E402
                         StackError, WineRunner, agent_binary, bullseye_rootfs, wait_until)

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
    if scenario in ("emulator", "wrong-ca", "wrong-name"):
        if target.startswith("windows"):
            return WineRunner(binary)
        if qemu:
            return Runner(binary, [qemu])
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


def run(target, scenario):
    work = Path(tempfile.mkdtemp(prefix=f"muster-cross-{target}-{scenario}-"))
    runner = make_runner(target, scenario, work)
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
        if not ok or os.environ.get("MUSTER_KEEP_STATE") == "1":
            say(f"state kept in {work}")
            log = stack.agent_log(1)
            if log and not ok:
                say("agent log tail:\n" + "\n".join(log.splitlines()[-25:]))
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    sys.exit(run(sys.argv[1], sys.argv[2]))
