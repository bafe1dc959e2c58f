#!/usr/bin/python3
"""The agent .deb on a booted Debian 12 (systemd as PID 1 under
systemd-nspawn), against a private Muster stack on loopback (Redis, Prosody,
muster-hub from build/dev; tests/support/muster_stack.py).

1. apt installs the agent from a signed repository (signed-by=) with
   /etc/muster/agent.conf preseeded (hub URL, CA, token, labels); the
   package enables and starts the service, the agent enrolls itself, empties
   the token in agent.conf and runs a job.
2. An upgrade to the next package revision restarts the service (new PID)
   and keeps the machine's UUID; the agent runs a job again. With
   MUSTER_PACKAGING_NEXT_DEB=/path/to/muster-agent_X_amd64.deb (a package of
   an agent built with another project(VERSION)) the upgrade goes to that
   package instead, so the versioned folder and /usr/sbin link move too.
3. remove stops the service and keeps /var/lib/muster-agent; purge deletes it
   and /etc/muster.
4. Installed again with a token the hub refuses: the journal says why, the
   agent retries after a delay, the service stays active (no restarts).
"""

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pkgtest import (REPO_ROOT, ScratchRoot, agent_targets, build_packages, main, make_signing_key,
                     project_version, publish_repo, require_tool, require_root, run, say)

sys.path.insert(0, str(REPO_ROOT / "tests" / "support"))
from muster_stack import MusterStack, StackError, wait_until  # noqa: E402

UNIT = "muster-agent.service"
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class HubOnlyStack(MusterStack):
    """Redis, Prosody and the hub; the agent comes from the package."""

    def __init__(self, state_dir):
        super().__init__(state_dir, agents=0)
        # The packaged agent resolves the XMPP server by name, as in production.
        self.agent_xmpp_host = "localhost"


class BootedRoot:
    """systemd-nspawn -b on a ScratchRoot, sharing this machine's network (so
    the agent reaches the hub on loopback); commands run inside via nsenter."""

    def __init__(self, root, log_path):
        self.root = root
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "--register=no", "--keep-unit", "-q", "--console=pipe", "-D", str(root.path), "-b"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        self.init_pid = None
        wait_until(self._find_init, 60, "systemd to start in the container", interval=0.5)
        wait_until(self._booted, 120, "the container to finish booting", interval=1)

    def _find_init(self):
        """The host PID of the container's PID 1 (NSpid ends in 1, below nspawn)."""
        if self.proc.poll() is not None:
            raise StackError(f"systemd-nspawn exited {self.proc.returncode}: {Path(self.log.name).read_text()[-2000:]}")
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            except OSError:
                continue
            nspid = fields.get("NSpid", "").split()
            if len(nspid) > 1 and nspid[-1] == "1" and self._below_nspawn(int(nspid[0])):
                self.init_pid = int(nspid[0])
                return True
        return False

    def _below_nspawn(self, pid):
        while pid > 1:
            if pid == self.proc.pid:
                return True
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                return False
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        return False

    def _booted(self):
        state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
        return state in ("running", "degraded")

    def run(self, *argv, check=True, timeout=300):
        res = subprocess.run(["nsenter", "-t", str(self.init_pid), "-m", "-u", "-i", "-n", "-p", "-r", "-w",
                              "env", "-i", PATH, "DEBIAN_FRONTEND=noninteractive", *argv],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"in the container: $ {' '.join(argv)}\n[exit {res.returncode}]\n{res.stdout[-3000:]}")
        return res

    def show(self, prop, unit=UNIT):
        return self.run("systemctl", "show", "-p", prop, "--value", unit).stdout.strip()

    def journal(self):
        return self.run("journalctl", "-u", UNIT, "--no-pager", "-o", "cat", check=False).stdout

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # systemd-nspawn powers the container off
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def agent_conf(stack, token):
    return (f"hub_url = {stack.hub_url}\nca_file = /etc/muster/hub-ca.pem\nenroll_token = {token}\n"
            "labels = installed-by=package\nstate_dir = /var/lib/muster-agent\ntask_user = nobody\n"
            "log_level = info\n")


def preseed(root, stack, token):
    """What an image build or a config management run writes before the install."""
    etc = root.file("/etc/muster")
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "hub-ca.pem").write_bytes(Path(stack.ca_file).read_bytes())
    conf = etc / "agent.conf"
    conf.write_text(agent_conf(stack, token))
    conf.chmod(0o600)


def apt_install(box, spec):
    # --force-confold: keep the preseeded agent.conf (the package's copy goes to .dpkg-dist).
    return box.run("apt-get", "install", "-y", "-o", "Dpkg::Options::=--force-confold", spec).stdout


def wait_state_uuid(root, box, timeout=90):
    state = root.file("/var/lib/muster-agent/agent.json")

    def enrolled():
        return state.exists() and '"uuid"' in state.read_text()

    try:
        wait_until(enrolled, timeout, "the packaged agent to enroll", interval=0.5)
    except StackError as e:
        raise AssertionError(f"{e}\njournal:\n{box.journal()[-3000:]}") from e
    return re.search(r'"uuid"\s*:\s*"([^"]+)"', state.read_text()).group(1)


def wait_online(stack, uuid, box, timeout=90):
    try:
        wait_until(lambda: stack.agents().get(uuid, {}).get("status") == "online", timeout,
                   f"agent {uuid} to be online", interval=0.5)
    except StackError as e:
        raise AssertionError(f"{e}\njournal:\n{box.journal()[-3000:]}") from e


def run_job_on(stack, uuid, marker):
    job, tasks = stack.run_job({"command": f"echo {marker}; id -un", "targets": {"agents": [uuid]},
                                "timeout_s": 60}, timeout=90)
    task = tasks[uuid]
    assert job["state"] == "succeeded" and task["exit_code"] == 0, (job, task)
    assert task["stdout"].split() == [marker, "nobody"], task
    say(f"job {job['id']} on {uuid}: {task['stdout'].split()}")


def install_enroll_and_run(root, box, stack, version):
    apt_install(box, f"muster-agent={version}-1")
    assert box.run("systemctl", "is-enabled", UNIT).stdout.strip() == "enabled"
    uuid = wait_state_uuid(root, box)
    say(f"enrolled from agent.conf as {uuid}")
    wait_online(stack, uuid, box)
    conf = root.file("/etc/muster/agent.conf").read_text()
    assert re.search(r"^enroll_token =$", conf, re.M) and "is not kept" in conf, f"token still in agent.conf:\n{conf}"
    assert oct(root.file("/etc/muster/agent.conf").stat().st_mode & 0o777) == "0o600"
    run_job_on(stack, uuid, "installed")
    return uuid


def upgrade_keeps_uuid(root, box, stack, next_version, uuid):
    pid_before = box.show("MainPID")
    apt_install(box, f"muster-agent={next_version}")
    status = box.run("dpkg-query", "-W", "-f=${Version}", "muster-agent").stdout
    assert status == next_version, status
    binary_version = next_version.rsplit("-", 1)[0]
    printed = box.run("/usr/sbin/muster-agent", "version").stdout.strip()
    assert printed == f"muster-agent {binary_version}", printed
    old_dirs = [p.name for p in root.file("/usr/lib/muster-agent").iterdir()]
    assert old_dirs == [binary_version], f"versioned folders after the upgrade: {old_dirs}"
    wait_until(lambda: box.show("MainPID") not in ("0", pid_before), 30, "the upgrade to restart the agent")
    assert wait_state_uuid(root, box) == uuid, "the upgrade changed the agent's UUID"
    time.sleep(1)
    wait_online(stack, uuid, box)
    assert len(stack.agents()) == 1, stack.agents()
    say(f"upgraded to {next_version} ({printed}): agent PID {pid_before} -> {box.show('MainPID')}, "
        f"UUID kept: {uuid}")
    run_job_on(stack, uuid, "upgraded")


def remove_then_purge(root, box, uuid):
    box.run("apt-get", "remove", "-y", "muster-agent")
    assert box.run("systemctl", "is-active", UNIT, check=False).stdout.strip() in ("inactive", "unknown")
    left = box.run("pidof", "muster-agent", check=False).stdout
    assert not left, f"the agent still runs after remove:\n{left}\n{box.run('systemctl', 'status', UNIT, check=False).stdout}"
    assert uuid in root.file("/var/lib/muster-agent/agent.json").read_text(), "remove lost the agent's state"
    assert root.file("/etc/muster/agent.conf").exists(), "remove deleted the conffile"
    say("removed: service stopped, state and agent.conf kept")
    box.run("apt-get", "purge", "-y", "muster-agent")
    assert not root.file("/var/lib/muster-agent").exists(), "purge kept /var/lib/muster-agent"
    assert not root.file("/etc/muster/agent.conf").exists(), "purge kept agent.conf"
    say("purged: /var/lib/muster-agent and agent.conf deleted")


def refused_token_backs_off(root, box, stack, next_version):
    preseed(root, stack, "not-a-valid-token")
    apt_install(box, f"muster-agent={next_version}")

    def failures():
        return box.journal().count("enrollment failed: enrollment refused (HTTP 401")

    try:
        wait_until(lambda: failures() >= 2, 60, "two refused enrollment attempts", interval=1)
    except StackError as e:
        raise AssertionError(f"{e}\njournal:\n{box.journal()[-3000:]}") from e
    assert box.show("ActiveState") == "active" and box.show("NRestarts") == "0", box.journal()
    assert not root.file("/var/lib/muster-agent/agent.json").exists()
    line = next(ln for ln in box.journal().splitlines() if "enrollment failed" in ln)
    say(f"refused token: service active, 0 restarts, {failures()} attempts; the log says:\n  {line}")


def test():
    require_root()
    require_tool("systemd-nspawn")
    require_tool("nsenter")
    require_tool("apt-ftparchive")
    require_tool("gpg")
    require_tool("redis-server")
    require_tool("prosody")
    agent_targets()
    version = project_version()
    with tempfile.TemporaryDirectory(prefix="muster-deb-") as tmp, ScratchRoot() as root:
        tmp = Path(tmp)
        say(f"root: Debian {root.file('/etc/debian_version').read_text().strip()}")
        build_packages(tmp / "r1", release=1)
        first = tmp / "r1" / f"muster-agent_{version}-1_amd64.deb"
        following = os.environ.get("MUSTER_PACKAGING_NEXT_DEB")
        if following:
            following = Path(following).resolve()
        else:
            build_packages(tmp / "r2", release=2)
            following = tmp / "r2" / f"muster-agent_{version}-2_amd64.deb"
        next_version = run(["dpkg-deb", "-f", following, "Version"]).stdout.strip()
        assert run(["dpkg", "--compare-versions", next_version, "gt", f"{version}-1"], check=False).returncode == 0, \
            f"{following} ({next_version}) is not newer than {version}-1"
        key = make_signing_key(tmp / "gnupg", "Muster test archive")
        debs = [first, following]
        publish_repo(tmp / "gnupg", key, root.file("/srv/muster-repo"), debs)
        keyring = root.file("/etc/apt/keyrings/muster.gpg")
        keyring.parent.mkdir(parents=True, exist_ok=True)
        keyring.write_bytes(root.file("/srv/muster-repo/muster-archive-keyring.gpg").read_bytes())
        root.file("/etc/apt/sources.list.d/muster.list").write_text(
            "deb [signed-by=/etc/apt/keyrings/muster.gpg] file:/srv/muster-repo ./\n")

        stack = HubOnlyStack(tmp / "stack")
        stack.start()
        box = None
        try:
            preseed(root, stack, stack.create_enroll_token(1, labels={"env": "test"}))
            box = BootedRoot(root, tmp / "nspawn.log")
            say(f"container booted: PID 1 is host PID {box.init_pid}, "
                f"{box.run('cat', '/proc/1/comm').stdout.strip()}")
            box.run("apt-get", "update")
            uuid = install_enroll_and_run(root, box, stack, version)
            upgrade_keeps_uuid(root, box, stack, next_version, uuid)
            remove_then_purge(root, box, uuid)
            refused_token_backs_off(root, box, stack, next_version)
        except StackError as e:
            raise AssertionError(str(e)) from e
        finally:
            if box is not None:
                box.stop()
            stack.stop()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main(test))
