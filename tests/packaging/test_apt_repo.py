#!/usr/bin/python3
"""A signed apt repository of the agent (packaging/publish-apt-repo.sh), used
from a scratch Debian 12 root through `signed-by=`: apt installs from the
repository signed with the pinned key, and refuses the same repository signed
with another key (nothing installable from it)."""

import sys
import tempfile
from pathlib import Path

from pkgtest import (ScratchRoot, agent_targets, build_packages, main, make_signing_key, project_version,
                     publish_repo, require_tool, say)

KEYRING = "/etc/apt/keyrings/muster.gpg"


def use_repo(root, repo_dir):
    root.file("/etc/apt/sources.list.d/muster.list").write_text(
        f"deb [signed-by={KEYRING}] file:{repo_dir} ./\n")


def test():
    require_tool("apt-ftparchive")
    require_tool("gpg")
    agent_targets()
    version = project_version()
    with tempfile.TemporaryDirectory(prefix="muster-apt-") as tmp, ScratchRoot() as root:
        tmp = Path(tmp)
        build_packages(tmp / "pkgs")
        deb = tmp / "pkgs" / f"muster-agent_{version}-1_amd64.deb"
        good = make_signing_key(tmp / "gnupg-good", "Muster test archive")
        wrong = make_signing_key(tmp / "gnupg-wrong", "Someone else")
        publish_repo(tmp / "gnupg-good", good, root.file("/srv/repo-good"), [deb])
        publish_repo(tmp / "gnupg-wrong", wrong, root.file("/srv/repo-wrong"), [deb])
        keyring = root.file(KEYRING)
        keyring.parent.mkdir(parents=True, exist_ok=True)
        keyring.write_bytes(root.file("/srv/repo-good/muster-archive-keyring.gpg").read_bytes())

        use_repo(root, "/srv/repo-wrong")
        refused = root.chroot("apt-get", "update", check=False)
        say(f"repository signed by the wrong key: apt-get update exit {refused.returncode}\n{refused.stdout}")
        assert refused.returncode != 0, "apt accepted a repository signed by a key it was not given"
        assert "NO_PUBKEY" in refused.stdout or "not signed" in refused.stdout, refused.stdout
        policy = root.chroot("apt-cache", "policy", "muster-agent").stdout
        assert f"{version}-1" not in policy, f"a package from the refused repository is installable:\n{policy}"

        use_repo(root, "/srv/repo-good")
        root.chroot("apt-get", "update")
        installed = root.chroot("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y",
                                "muster-agent").stdout
        say(f"repository signed by the pinned key: installed\n{installed[-600:]}")
        status = root.chroot("dpkg-query", "-W", "-f=${Version} ${Status}", "muster-agent").stdout
        assert status == f"{version}-1 install ok installed", status


if __name__ == "__main__":
    sys.exit(main(test))
