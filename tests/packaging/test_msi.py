#!/usr/bin/python3
"""The agent .msi (wixl) under wine, in a private wine prefix, against a
private Muster stack on loopback.

1. The executable's version resource and the installer's product version
   come from project(VERSION); the service's command line.
2. With C:\\ProgramData\\Muster\\agent.conf written first (as a GPO or
   Intune script would), `msiexec /i /qn` installs and starts the MusterAgent
   service; the agent enrolls itself, empties the token and runs a job.
3. With MUSTER_PACKAGING_NEXT_MSI=/path/to/a newer .msi: `msiexec /i` of it
   replaces the old version (MajorUpgrade), the service runs the new binary
   and the UUID is kept.
4. `msiexec /x /qn` stops and deletes the service and the program files and
   keeps the state (C:\\ProgramData\\Muster\\agent).
"""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from pkgtest import REPO_ROOT, Skip, build_packages, main, project_version, require_tool, run, say

sys.path.insert(0, str(REPO_ROOT / "tests" / "cross"))
from run_cross_test import SERVICE, WinePrefix, sc_state, wait_sc_state  # noqa: E402
from test_deb_systemd import HubOnlyStack  # noqa: E402
from muster_stack import StackError, wait_until  # noqa: E402

EXE = REPO_ROOT / "build" / "cross" / "windows-x86_64" / "muster-agent.exe"


def windows_path(path):
    return "Z:" + str(path).replace("/", "\\")


def msi_table(msi, table):
    out = run(["msiinfo", "export", msi, table]).stdout
    return [line.split("\t") for line in out.splitlines()[3:]]


class Installed:
    """The agent as the .msi installs it into one wine prefix."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.programdata = prefix.path / "drive_c" / "ProgramData" / "Muster"
        self.state = self.programdata / "agent" / "agent.json"
        self.program_files = prefix.path / "drive_c" / "Program Files" / "Muster" / "agent"

    def msiexec(self, *args):
        rc, text = self.prefix.wine("msiexec", *args, "/qn", timeout=300)
        assert rc == 0, f"msiexec {' '.join(args)} failed ({rc}):\n{text[-2000:]}"

    def uuid(self):
        return re.search(r'"uuid"\s*:\s*"([^"]+)"', self.state.read_text()).group(1)

    def log(self):
        try:
            return (self.programdata / "agent" / "agent.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""


def check_versions_and_service(msi, version):
    resource = run(["strings", "-el", EXE]).stdout.splitlines()
    for key in ("FileVersion", "ProductVersion"):
        assert resource[resource.index(key) + 1] == version, f"{EXE.name} {key} is not {version}"
    properties = dict(row[:2] for row in msi_table(msi, "Property") if len(row) >= 2)
    assert properties.get("ProductVersion") == version, properties
    files = msi_table(msi, "File")
    assert files and files[0][2] == "muster-agent.exe", files
    service = msi_table(msi, "ServiceInstall")
    assert service and service[0][1] == SERVICE, service
    arguments = next(col for col in service[0] if col.startswith("service "))
    assert arguments == 'service --config "[CommonAppDataFolder]Muster\\agent.conf"', arguments
    say(f"{msi.name}: ProductVersion {version}, {EXE.name} FileVersion/ProductVersion {version}; "
        f"service {SERVICE}: {arguments}")


def install_and_enroll(box, stack, msi):
    box.programdata.mkdir(parents=True, exist_ok=True)
    (box.programdata / "hub-ca.pem").write_bytes(Path(stack.ca_file).read_bytes())
    token = stack.create_enroll_token(1)
    # state_dir named: a service under wine sees %ProgramData% as
    # C:\users\Public, where Windows and the installer say C:\ProgramData.
    (box.programdata / "agent.conf").write_text(
        f"hub_url = {stack.hub_url}\r\nca_file = C:\\ProgramData\\Muster\\hub-ca.pem\r\n"
        f"enroll_token = {token}\r\nlabels = installed-by=msi\r\n"
        "state_dir = C:\\ProgramData\\Muster\\agent\r\n")
    box.msiexec("/i", windows_path(msi))
    wait_sc_state(box.prefix, "RUNNING", 60)
    try:
        wait_until(box.state.exists, 120, "the service agent to enroll", interval=0.5)
        uuid = box.uuid()
        wait_until(lambda: stack.agents().get(uuid, {}).get("status") == "online", 120,
                   "the hub to see the service agent online", interval=0.5)
    except StackError as e:
        raise AssertionError(f"{e}\nagent.log:\n{box.log()[-3000:]}") from e
    conf = (box.programdata / "agent.conf").read_text()
    assert token not in conf and "is not kept" in conf, conf
    say(f"msiexec /i: service RUNNING, enrolled as {uuid}, token removed from agent.conf")
    return uuid


def stop_service_first(box):
    """Windows Installer's StopServices waits for the service to stop before
    files are replaced or removed; wine's returns at once and its RemoveFiles
    then cannot delete the still running muster-agent.exe. The test stops the
    service itself first, which is what Windows does at that step."""
    box.prefix.wine("sc", "stop", SERVICE)
    wait_sc_state(box.prefix, "STOPPED", 60)


def run_job(stack, uuid, marker):
    done, tasks = stack.run_job({"argv": ["cmd", "/c", "echo", marker], "targets": {"agents": [uuid]},
                                 "timeout_s": 60}, timeout=120)
    task = tasks[uuid]
    assert task["state"] == "succeeded" and marker in task["stdout"], task
    say(f"job {done['id']}: {task['stdout'].strip()}")


def test():
    require_tool("wine")
    require_tool("wineserver")
    require_tool("wixl")
    require_tool("msiinfo")
    require_tool("redis-server")
    require_tool("prosody")
    if not EXE.is_file():
        raise Skip(f"{EXE} is missing: run ci/cross.sh windows-x86_64")
    version = project_version()
    next_msi = os.environ.get("MUSTER_PACKAGING_NEXT_MSI")
    with tempfile.TemporaryDirectory(prefix="muster-msi-") as tmp:
        tmp = Path(tmp)
        build_packages(tmp / "pkgs", targets=("windows-x86_64",))
        msi = tmp / "pkgs" / f"muster-agent-{version}-1-x64.msi"
        check_versions_and_service(msi, version)

        prefix = WinePrefix(tmp / "wine")
        stack = HubOnlyStack(tmp / "stack")
        try:
            prefix.start()
            stack.start()
            box = Installed(prefix)
            uuid = install_and_enroll(box, stack, msi)
            run_job(stack, uuid, "installed-by-msi")

            if next_msi:
                stop_service_first(box)
                box.msiexec("/i", windows_path(Path(next_msi).resolve()))
                wait_sc_state(prefix, "RUNNING", 60)
                folders = sorted(p.name for p in box.program_files.iterdir())
                assert len(folders) == 1 and folders[0] != version, f"version folders after upgrade: {folders}"
                assert box.uuid() == uuid, "the upgrade changed the UUID"
                running = [cmd for _, cmd in prefix.processes() if "muster-agent.exe service" in cmd]
                assert any(f"\\{folders[0]}\\muster-agent.exe" in cmd for cmd in running), running
                wait_until(lambda: stack.agents().get(uuid, {}).get("status") == "online", 120,
                           "the upgraded agent online", interval=0.5)
                say(f"MajorUpgrade to {folders[0]}: service RUNNING, UUID kept: {uuid}")
                run_job(stack, uuid, "upgraded-by-msi")

            stop_service_first(box)
            box.msiexec("/x", windows_path(Path(next_msi).resolve() if next_msi else msi))
            # wine's msiexec may return while the service is still STOP_PENDING.
            try:
                wait_until(lambda: sc_state(prefix)[1] is None, 60, "the service to be deleted", interval=0.5)
            except StackError as e:
                raise AssertionError(f"{e}\n{sc_state(prefix)[3]}") from e
            assert not list(box.program_files.glob("*/muster-agent.exe")), "program files left behind"
            assert box.uuid() == uuid, "uninstall removed the agent's state"
            say("msiexec /x: service deleted, program files removed, state kept")
        except StackError as e:
            raise AssertionError(str(e)) from e
        finally:
            stack.stop()
            try:
                prefix.kill()
            except (OSError, subprocess.SubprocessError):
                pass


if __name__ == "__main__":
    sys.exit(main(test))
