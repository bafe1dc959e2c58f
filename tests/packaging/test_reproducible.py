#!/usr/bin/python3
"""Two package builds from the same binaries and SOURCE_DATE_EPOCH are
byte-identical (every target built in build/cross/), and a build with
another SOURCE_DATE_EPOCH is not (the time stamps really come from it)."""

import hashlib
import sys
import tempfile
from pathlib import Path

from pkgtest import agent_targets, build_packages, main, require_tool, say

EPOCH = 1767225600  # 2026-01-01 00:00:00 UTC


def digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test():
    require_tool("dpkg-deb")
    require_tool("rpmbuild")
    targets = agent_targets()
    with tempfile.TemporaryDirectory(prefix="muster-repro-") as tmp:
        tmp = Path(tmp)
        for name, epoch in (("a", EPOCH), ("b", EPOCH), ("c", EPOCH + 86400)):
            build_packages(tmp / name, targets=targets, epoch=epoch)
        a, b, c = digests(tmp / "a"), digests(tmp / "b"), digests(tmp / "c")
        assert len(a) == 2 * len(targets), a
        assert a == b, f"two builds differ:\n{a}\n{b}"
        assert all(a[n] != c[n] for n in a), "SOURCE_DATE_EPOCH did not change the packages"
        for name, digest in a.items():
            say(f"{digest}  {name}  ({(tmp / 'a' / name).stat().st_size} bytes, identical twice)")


if __name__ == "__main__":
    sys.exit(main(test))
