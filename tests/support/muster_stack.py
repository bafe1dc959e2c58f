#!/usr/bin/python3
"""Boot a complete private Muster stack on loopback, for tests and demos.

One state directory holds everything: a generated CA and certificates, a
private redis-server, a private XMPP server (Prosody by default, or ejabberd),
muster-hub (role all) and N enrolled muster-agents. All listeners bind
127.0.0.1 on free ports.

As a module (tests):

    stack = MusterStack(tempdir, agents=3)
    stack.start()                 # raises StackError with log excerpts on failure
    try:
        job = stack.run_job({"command": "id", "targets": {"all": True}})
    finally:
        stack.stop()

    MusterStack(tempdir, agents=3, xmpp_server="ejabberd")   # a private ejabberd instead

The XMPP server is `xmpp_server` ("prosody" or "ejabberd"), else
$MUSTER_XMPP_SERVER, else Prosody. ejabberd runs from ejabberdctl (Debian's
package) as user ejabberd when started by root, with its own config, spool,
logs, Erlang cookie and node name, and its own epmd on a free loopback port.

As a command:

    muster_stack.py up   --dir D [--agents N] [--xmpp-server S]   start detached, write D/pids.json, D/demo.env
    muster_stack.py down --dir D                stop what D/pids.json records
    muster_stack.py demo --dir D [--xmpp-server S]   up with 3 agents, run `uname -a; id` everywhere

Binaries come from $MUSTER_BUILD_DIR (default <repo>/build/dev):
agent/muster-agent and hub/muster-hub. Runs under /usr/bin/python3, stdlib only.

The parts live in stacklib/: util (paths, ports, waiting), processes, pki,
store (Redis), xmpp (Prosody, ejabberd), hub (its one configuration writer),
agents, api (the HTTPS client), stack (MusterStack), regions (RegionStack),
cli. This module gathers them under the one name tests and benchmarks import.
"""

import sys

from stacklib.util import (  # noqa: F401  (re-exported)
    AGENT_RESOURCE, EJABBERD_COMPONENT_LOGIN, EJABBERD_USER, MAX_BODY, REPO_ROOT, SHARD, XMPP_DOMAIN,
    XMPP_SERVERS, StackError, build_dir, free_port, pid_alive, pid_cmdline, port_open, require_binary,
    require_tool, tail, wait_until)
from stacklib.processes import EjabberdProc, Proc, user_args  # noqa: F401
from stacklib.stack import MusterStack  # noqa: F401
from stacklib.regions import RegionStack  # noqa: F401
from stacklib.cli import down, main, prepare_state_dir  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
