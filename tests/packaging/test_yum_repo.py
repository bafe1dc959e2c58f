#!/usr/bin/python3
"""A signed yum/dnf repository of the agent (packaging/publish-yum-repo.sh),
checked with rpm in a scratch Debian 12 root (no dnf there): with the
repository's key imported, its package passes `rpm -K` and installs with
signature checking enforced; the same package signed with another key is
refused; repomd.xml.asc verifies with the repository key only; the metadata
lists the package."""

import gzip
import sys
import tempfile
from pathlib import Path

from pkgtest import (ScratchRoot, agent_targets, build_packages, main, make_signing_key, project_version,
                     publish_repo, require_tool, run, say)


def test():
    require_tool("rpm")
    require_tool("rpmsign")
    require_tool("createrepo_c")
    require_tool("gpg")
    require_tool("gpgv")
    agent_targets()
    version = project_version()
    name = f"muster-agent-{version}-1.x86_64.rpm"
    with tempfile.TemporaryDirectory(prefix="muster-yum-") as tmp, ScratchRoot() as root:
        tmp = Path(tmp)
        build_packages(tmp / "pkgs")
        # RSA: rpm before 4.18 (EL7, EL8) cannot check EdDSA signatures.
        good = make_signing_key(tmp / "gnupg-good", "Muster test rpm", "rsa3072")
        wrong = make_signing_key(tmp / "gnupg-wrong", "Someone else", "rsa3072")
        publish_repo(tmp / "gnupg-good", good, tmp / "repo", [tmp / "pkgs" / name], kind="yum")
        publish_repo(tmp / "gnupg-wrong", wrong, tmp / "repo-wrong", [tmp / "pkgs" / name], kind="yum")

        primary = next((tmp / "repo" / "repodata").glob("*-primary.xml.gz"))
        assert f'ver="{version}" rel="1"' in gzip.decompress(primary.read_bytes()).decode(), "package not in metadata"

        keyring = tmp / "repo-key.gpg"
        run(["gpg", "--batch", "--yes", "--dearmor", "--output", keyring, tmp / "repo" / "RPM-GPG-KEY-muster"])
        run(["gpgv", "--keyring", keyring, tmp / "repo/repodata/repomd.xml.asc", tmp / "repo/repodata/repomd.xml"])
        forged = run(["gpgv", "--keyring", keyring, tmp / "repo-wrong/repodata/repomd.xml.asc",
                      tmp / "repo-wrong/repodata/repomd.xml"], check=False)
        assert forged.returncode != 0, "metadata signed by another key verified"

        rpm = ["rpm", "--root", root.path]
        run([*rpm, "--initdb"])
        run([*rpm, "--import", tmp / "repo" / "RPM-GPG-KEY-muster"])
        checked = run([*rpm, "-K", tmp / "repo" / name]).stdout
        assert "signatures OK" in checked, checked
        refused = run([*rpm, "-K", tmp / "repo-wrong" / name], check=False)
        assert refused.returncode != 0 and "NOT OK" in refused.stdout, refused.stdout
        say(f"rpm -K, repository key imported:\n  {checked.strip()}\n  {refused.stdout.strip()}")

        enforce = ["--define", "_pkgverify_level signature", "--nodeps"]
        blocked = run([*rpm, *enforce, "-i", tmp / "repo-wrong" / name], check=False)
        assert blocked.returncode != 0, "rpm installed a package signed by an unknown key"
        run([*rpm, *enforce, "-i", tmp / "repo" / name])
        assert run([*rpm, "-q", "muster-agent"]).stdout.strip() == f"muster-agent-{version}-1.x86_64"
        say(f"installed with signature checking enforced; the other key's package refused:\n"
            f"  {blocked.stdout.strip().splitlines()[-1]}")


if __name__ == "__main__":
    sys.exit(main(test))
