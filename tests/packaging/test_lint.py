#!/usr/bin/python3
"""lintian and rpmlint report no error on the agent packages of every target
built in build/cross/ (overrides: packaging/agent/deb/lintian-overrides and
packaging/agent/rpm/rpmlintrc, each with its reason)."""

import sys
import tempfile

from pkgtest import agent_targets, build_packages, main, require_tool, say


def test():
    require_tool("lintian")
    require_tool("rpmlint")
    targets = agent_targets()
    with tempfile.TemporaryDirectory(prefix="muster-lint-") as tmp:
        say(build_packages(tmp, targets=targets, lint=True))


if __name__ == "__main__":
    sys.exit(main(test))
