#!/usr/bin/python3
"""The muster-hub .deb on a booted Debian 12 (systemd-nspawn -b), its
Depends resolved from Debian's archive.

1. Installed, the package creates the muster-hub account and enables the
   service, which its condition keeps from starting before there is a
   configuration.
2. `muster-hub init --group muster-hub` writes /etc/muster/hub.ini 0640
   root:muster-hub that `muster-hub config` accepts; a second init refuses to
   overwrite it.
3. The service, with its full sandbox, serves a real stack: a private Redis
   and Prosody on loopback (tests/support/muster_stack.py) whose own hub is
   stopped and replaced by the packaged one (same settings, its certificates
   copied in). The API answers, an agent enrolls with the packaged hub, runs
   a job, and the hub wrote its signing key into /var/lib/muster-hub.
4. purge deletes /var/lib/muster-hub and keeps hub.ini (init's, not the
   package's).
"""

import re
import shutil
import sys
import tempfile
from pathlib import Path

from pkgtest import (ScratchRoot, build_packages, debian_mirror, main, project_version, require_root, require_tool,
                     say)
from test_deb_systemd import BootedRoot, HubOnlyStack
from muster_stack import StackError, wait_until  # noqa: E402  (path set by test_deb_systemd)

UNIT = "muster-hub.service"


def packaged_hub_config(stack):
    """The stack's hub.ini with its files where the package's hub reads them."""
    text = stack.hub_config.read_text()
    for name in ("api.crt", "api.key"):
        text = text.replace(str(stack.pki / name), f"/etc/muster/{name}")
    text = text.replace(str(stack.ca_file), "/etc/muster/xmpp-ca.pem")
    return text.replace("[api]\n", "[api]\nsigning_key = /var/lib/muster-hub/signing-key.pem\n", 1)


def install_config(root, box, stack):
    etc = root.file("/etc/muster")
    for src, name in ((stack.pki / "api.crt", "api.crt"), (stack.pki / "api.key", "api.key"),
                      (stack.ca_file, "xmpp-ca.pem")):
        shutil.copyfile(src, etc / name)
    (etc / "hub.ini").write_text(packaged_hub_config(stack))
    box.run("chgrp", "muster-hub", "/etc/muster/hub.ini", "/etc/muster/api.key", "/etc/muster/api.crt",
            "/etc/muster/xmpp-ca.pem")
    box.run("chmod", "0640", "/etc/muster/hub.ini", "/etc/muster/api.key")


def check_init(root, box):
    args = ["muster-hub", "init", "--config", "/etc/muster/hub.ini", "--xmpp-domain", "muster.example.net",
            "--group", "muster-hub"]
    out = box.run(*args).stdout
    assert 'Component "shard0.muster.example.net"' in out, out
    owner = box.run("stat", "-c", "%a %U:%G", "/etc/muster/hub.ini").stdout.strip()
    assert owner == "640 root:muster-hub", owner
    box.run("muster-hub", "config", "--config", "/etc/muster/hub.ini")
    again = box.run(*args, check=False)
    assert again.returncode == 1 and "exists; keep it, or replace it with --force" in again.stdout, again.stdout
    say(f"muster-hub init: hub.ini {owner}, accepted by `muster-hub config`, not overwritten twice")


def serve_the_stack(root, box, stack):
    logins = stack.component_logins()
    stack.stop_process("hub")
    install_config(root, box, stack)
    box.run("systemctl", "start", UNIT)

    def healthy():
        status, body = stack.api("GET", "/healthz", token=None, timeout=3)
        return status == 200 and body.get("status") == "ok"

    try:
        wait_until(healthy, 60, "the packaged hub's /healthz", interval=0.5)
        wait_until(lambda: stack.component_logins() > logins, 60, "the packaged hub's master to log in to Prosody")
    except StackError as e:
        journal = box.run("journalctl", "-u", UNIT, "--no-pager", "-o", "cat", check=False).stdout
        raise AssertionError(f"{e}\njournal:\n{journal[-3000:]}") from e
    pid = box.show("MainPID", UNIT)
    user = box.run("stat", "-c", "%U", f"/proc/{pid}").stdout.strip()
    assert user == "muster-hub", f"the hub runs as {user}"
    say(f"packaged hub (PID {pid}, user {user}, full sandbox) serves the API and the master")

    uuid = stack.enroll_agent(1, stack.create_enroll_token(1))
    stack.start_agent(1)
    wait_until(lambda: stack.agents().get(uuid, {}).get("status") == "online", 60, "the agent online")
    job, tasks = stack.run_job({"command": "echo via-packaged-hub", "targets": {"agents": [uuid]}})
    assert tasks[uuid]["stdout"] == "via-packaged-hub\n", tasks[uuid]
    key = box.run("stat", "-c", "%a %U", "/var/lib/muster-hub/signing-key.pem").stdout.strip()
    assert key.endswith(" muster-hub"), key
    say(f"agent {uuid} enrolled with the packaged hub and ran job {job['id']}; signing key {key}")


def test():
    require_root()
    for tool in ("systemd-nspawn", "nsenter", "redis-server", "prosody"):
        require_tool(tool)
    version = project_version()
    with tempfile.TemporaryDirectory(prefix="muster-hubdeb-") as tmp, ScratchRoot() as root:
        tmp = Path(tmp)
        build_packages(tmp / "pkgs", targets=("hub",))
        deb = f"muster-hub_{version}-1_amd64.deb"
        shutil.copyfile(tmp / "pkgs" / deb, root.file(f"/srv/{deb}"))
        # Poco and the rest of the Depends come from Debian's archive.
        root.file("/etc/apt/sources.list").write_text(f"deb {debian_mirror()} bookworm main\n")
        stack = HubOnlyStack(tmp / "stack")
        stack.start()
        box = None
        try:
            box = BootedRoot(root, tmp / "nspawn.log")
            box.run("apt-get", "update")
            box.run("apt-get", "install", "-y", "--no-install-recommends", f"/srv/{deb}", timeout=600)
            assert box.run("id", "-un", "muster-hub").stdout.strip() == "muster-hub"
            assert box.run("systemctl", "is-enabled", UNIT).stdout.strip() == "enabled"
            assert box.run("systemctl", "is-active", UNIT, check=False).stdout.strip() == "inactive"
            say("installed: account muster-hub, service enabled, not started without hub.ini")
            check_init(root, box)
            serve_the_stack(root, box, stack)
            box.run("apt-get", "purge", "-y", "muster-hub")
            assert not root.file("/var/lib/muster-hub").exists(), "purge kept /var/lib/muster-hub"
            assert root.file("/etc/muster/hub.ini").exists(), "purge deleted init's hub.ini"
            say("purged: /var/lib/muster-hub deleted, /etc/muster/hub.ini kept")
        except StackError as e:
            raise AssertionError(str(e)) from e
        finally:
            if box is not None:
                box.stop()
            stack.stop()


if __name__ == "__main__":
    sys.exit(main(test))
