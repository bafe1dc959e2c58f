"""The single-region stack: one state directory, Redis, one XMPP server, the hub
and N agents (see muster_stack.py for the whole story)."""

import atexit
import json
import os
import sys
import time
from pathlib import Path

from stacklib.util import (XMPP_DOMAIN, SHARD, XMPP_SERVERS, build_dir, require_tool, require_binary, wait_until, port_open)
from stacklib.agents import AgentsMixin
from stacklib.api import ApiMixin
from stacklib.hub import HubMixin
from stacklib.pki import PkiMixin
from stacklib.store import StoreMixin
from stacklib.xmpp import XmppMixin


class MusterStack(PkiMixin, StoreMixin, XmppMixin, HubMixin, AgentsMixin, ApiMixin):
    """A private Muster installation under one state directory."""

    def __init__(self, state_dir, agents=3, build=None, labels=None, agent_log_level="debug",
                 detached=False, xmpp_server=None):
        self.xmpp_server = xmpp_server or os.environ.get("MUSTER_XMPP_SERVER") or "prosody"
        if self.xmpp_server not in XMPP_SERVERS:
            raise ValueError(f"xmpp_server must be one of {XMPP_SERVERS}, "
                             f"not {self.xmpp_server!r}")
        self.dir = Path(state_dir).resolve()
        self.n_agents = agents
        self.build = Path(build).resolve() if build else build_dir()
        self.labels = dict(labels or {"env": "test"})
        # More [api] lines for the hub ("key = value\n" each), e.g. short timeouts.
        self.hub_api_settings = ""
        self.agent_log_level = agent_log_level
        self.detached = detached
        self.procs = {}
        self.agent_uuids = {}
        self.admin_token = None
        self.enroll_token = None
        self.ports = {}
        self.component_secret = os.urandom(12).hex()
        self.timings = {}  # seconds each step of start() took, e.g. timings["xmpp"]
        # Tests read every stanza in the XMPP server's log; benchmarks set "info".
        self.xmpp_log_level = "debug"
        # Prosody asks a silent client for an ack after this many seconds (and
        # drops it after a second one): short, so fault tests see a vanished
        # agent within a minute. Each ask is work for Prosody: 10,000 idle
        # sessions at 20 s are 500 asks a second, so benchmarks set more.
        self.xmpp_read_timeout = 20
        self.ejabberd_node = None  # Erlang node name, when xmpp_server is ejabberd
        # A StoreProxy (store_proxy.py) the hub reaches Redis through, if set.
        self.store_proxy = None
        # The XMPP host name the hub hands to enrolling agents, and how long an
        # enrollment may take (subclasses: by name, or under an emulator).
        self.agent_xmpp_host = "127.0.0.1"
        self.enroll_timeout = 60
        self._stopped = False
        if not detached:
            atexit.register(self.stop)

    # -- lifecycle ----------------------------------------------------------
    def hub_regions(self):
        """The regions the hub's configuration lists (see HubMixin.write_hub_config)."""
        return [{"name": "default", "domain": XMPP_DOMAIN, "xmpp_host": self.agent_xmpp_host,
                 "c2s_port": self.ports["c2s"], "component_port": self.ports["component"], "shards": [SHARD]}]

    def check_dependencies(self):
        tools = ("ejabberdctl", "erl", "epmd") if self.xmpp_server == "ejabberd" else ("prosody",)
        for tool in ("openssl", "redis-server", "redis-cli", *tools):
            require_tool(tool)
        require_binary(self.hub_bin)
        require_binary(self.agent_bin)

    def start(self, agents_timeout=60):
        """Bring the whole stack up; on any failure stop what was started and raise."""
        self.check_dependencies()
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            self.make_certificates()
            self.start_redis()
            began = time.monotonic()
            self.start_xmpp()
            self.timings["xmpp"] = time.monotonic() - began
            self.start_hub()
            self.admin_token = self.create_admin_token()
            if self.n_agents:
                self.enroll_agents(self.n_agents)
                for i in range(1, self.n_agents + 1):
                    self.start_agent(i)
                self.wait_agents_online(timeout=agents_timeout)
            self.save_state()
        except BaseException:
            self.save_state()
            self.stop()
            raise
        return self

    def stop(self):
        """Stop everything this stack started, agents first. Safe to call twice."""
        order = sorted((n for n in self.procs if n.startswith("agent")), reverse=True)
        order += [n for n in ("hub", "prosody", "ejabberd", "epmd", "redis") if n in self.procs]
        self.stop_in_order(order)

    def stop_in_order(self, names):
        for name in names:
            try:
                self.procs[name].stop(timeout=10)
            except Exception as e:  # noqa: BLE001 - keep stopping the rest
                print(f"muster_stack: stopping {name}: {e}", file=sys.stderr)
        self._stopped = True

    def stop_process(self, name, timeout=10.0):
        self.procs[name].stop(timeout)

    def kill_process(self, name):
        self.procs[name].kill()

    def start_process(self, name):
        """Start a stopped process again with the same command line and wait until it serves."""
        proc = self.procs[name]
        logins_before = self.component_logins()
        if name == "ejabberd" and not self.procs["epmd"].alive():
            self.start_process("epmd")
        proc.start()
        if name == "redis":
            self._wait_port(proc, self.ports["redis"])
            # Serving means loaded: until its AOF is read Redis answers LOADING.
            wait_until(lambda: self.redis_cli("PING").strip() == "PONG", 30, "redis PING after restart",
                       interval=0.1, check=proc.check_running)
        elif name == "epmd":
            self._wait_port(proc, self.ports["epmd"])
        elif name in ("prosody", "ejabberd"):
            self._wait_port(proc, self.ports["c2s"], timeout=60)
            self._wait_port(proc, self.ports["component"], timeout=60)
            hub = self.procs.get("hub")
            if hub is not None and hub.alive():
                wait_until(lambda: self.component_logins() > logins_before, 60,
                           f"the hub's component to log in to the restarted {name}",
                           interval=0.2, check=hub.check_running)
        elif name == "hub":
            self.wait_hub(logins_before)
        self.save_state()

    def restart_process(self, name, timeout=10.0):
        self.stop_process(name, timeout)
        self.start_process(name)

    # Agents by index: the process names are "agent<i>".
    def stop_agent(self, i, timeout=10.0):
        self.stop_process(f"agent{i}", timeout)

    def kill_agent(self, i):
        self.kill_process(f"agent{i}")

    def restart_agent(self, i, timeout=10.0):
        self.stop_agent(i, timeout)
        self.start_agent(i)

    def _wait_port(self, proc, port, timeout=30):
        wait_until(lambda: port_open(port), timeout, f"{proc.name} to listen on port {port}",
                   check=proc.check_running)

    # -- state on disk (for `down`) ------------------------------------------
    def save_state(self):
        if not self.dir.exists():
            return
        state = {
            "dir": str(self.dir),
            "build": str(self.build),
            "hub_url": self.hub_url if "api" in self.ports else None,
            "ports": self.ports,
            "xmpp_server": self.xmpp_server,
            "agents": {str(i): u for i, u in self.agent_uuids.items()},
            "processes": [p.record() for p in self.procs.values() if p.pid],
        }
        tmp = self.dir / "pids.json.tmp"
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.dir / "pids.json")
