#!/usr/bin/python3
"""The agent .rpm through install, upgrade and erase with `rpm --root` in a
scratch Debian 12 root (rpm runs the scriptlets chrooted there; no systemd
runs in it, so they enable and disable the unit without starting it).

Checks: the layout (versioned binary, /usr/sbin link, modes), that %post
enabled the unit, that an edited /etc/muster/agent.conf survives an upgrade
(%config(noreplace)), that %postun of the upgrade ran, that erase disables
the unit, keeps the edited config as .rpmsave and keeps the agent's state.
"""

import sys
import tempfile
from pathlib import Path

from pkgtest import ScratchRoot, agent_targets, build_packages, main, project_version, require_tool, run, say

WANTS_LINK = "etc/systemd/system/multi-user.target.wants/muster-agent.service"


def rpm(root, *args):
    return run(["rpm", "--root", root.path, *args]).stdout


def test():
    require_tool("rpm")
    require_tool("rpmbuild")
    agent_targets()
    version = project_version()
    with tempfile.TemporaryDirectory(prefix="muster-rpm-") as tmp, ScratchRoot() as root:
        pkgs = Path(tmp)
        build_packages(pkgs / "r1", release=1)
        build_packages(pkgs / "r2", release=2)
        first = pkgs / "r1" / f"muster-agent-{version}-1.x86_64.rpm"
        second = pkgs / "r2" / f"muster-agent-{version}-2.x86_64.rpm"

        rpm(root, "--initdb")
        # --nodeps: the rpm database of a Debian root does not know /bin/sh.
        say(rpm(root, "-ivh", "--nodeps", first))
        link = root.file("/usr/sbin/muster-agent")
        assert link.is_symlink() and str(link.readlink()) == f"../lib/muster-agent/{version}/muster-agent", link
        printed = root.chroot("/usr/sbin/muster-agent", "version").stdout.strip()
        assert printed == f"muster-agent {version}", printed
        conf = root.file("/etc/muster/agent.conf")
        assert oct(conf.stat().st_mode & 0o777) == "0o600", oct(conf.stat().st_mode)
        state = root.file("/var/lib/muster-agent")
        assert oct(state.stat().st_mode & 0o777) == "0o700", oct(state.stat().st_mode)
        assert root.file(WANTS_LINK).is_symlink(), "%post did not enable muster-agent.service"

        conf.write_text(conf.read_text() + "labels = site=edited-by-admin\n")
        (state / "agent.json").write_text('{"uuid": "kept"}\n')

        say(rpm(root, "-Uvh", "--nodeps", second))
        assert rpm(root, "-q", "muster-agent").strip() == f"muster-agent-{version}-2.x86_64"
        assert "site=edited-by-admin" in conf.read_text(), "upgrade replaced the edited agent.conf"
        assert not root.file("/etc/muster/agent.conf.rpmnew").exists()
        assert (state / "agent.json").exists()
        verify = run(["rpm", "--root", root.path, "-V", "--nodeps", "muster-agent"], check=False).stdout
        assert "/etc/muster/agent.conf" in verify and verify.count("\n") == 1, f"rpm -V:\n{verify}"
        say(f"rpm -V after the edit (only the config differs):\n{verify}")

        say(rpm(root, "-e", "muster-agent"))
        assert not link.exists() and not root.file(f"/usr/lib/muster-agent/{version}").exists()
        assert not root.file(WANTS_LINK).is_symlink(), "%preun did not disable muster-agent.service"
        assert root.file("/etc/muster/agent.conf.rpmsave").exists(), "erase lost the edited config"
        assert (state / "agent.json").read_text() == '{"uuid": "kept"}\n', "erase removed the agent's state"


if __name__ == "__main__":
    sys.exit(main(test))
