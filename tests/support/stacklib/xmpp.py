"""The stack's private XMPP server: Prosody (the default) or ejabberd, with their
configurations, logs and component logins."""

import os
import pwd

from stacklib.util import (XMPP_DOMAIN, SHARD, EJABBERD_USER, EJABBERD_COMPONENT_LOGIN, StackError, require_tool, free_port)
from stacklib.processes import EjabberdProc, Proc


class XmppMixin:
    # -- prosody ------------------------------------------------------------
    def prosody_config(self, title, pdir, c2s, comp, shards, domain, cert, key):
        """A private Prosody's configuration: one virtual host, a component per shard."""
        components = "".join(f'\nComponent "{s}"\n    component_secret = "{self.component_secret}"\n'
                             for s in shards)
        return f"""-- private Prosody for {title}
run_as_root = true
pidfile = "{pdir / 'prosody.pid'}"
data_path = "{pdir / 'data'}"
log = {{ {self.xmpp_log_level} = "{pdir / 'prosody.log'}" }}
interfaces = {{ "127.0.0.1" }}
local_interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s} }}
c2s_direct_tls_ports = {{ }}
s2s_ports = {{ }}
component_ports = {{ {comp} }}
component_interfaces = {{ "127.0.0.1" }}
http_ports = {{ }}
https_ports = {{ }}
admins = {{ {", ".join(f'"{s}"' for s in shards)} }}
modules_enabled = {{ "disco", "roster", "saslauth", "tls", "ping", "smacks", "limits",
                    "admin_adhoc" }}
modules_disabled = {{ "s2s", "offline" }}
authentication = "internal_hashed"
allow_registration = false
c2s_require_encryption = true
-- Liveness: a silent client is asked for an ack after read_timeout and
-- dropped after a second one; its session hibernates smacks_hibernation_time
-- before the master hears it went offline: about a minute in all (tests).
smacks_hibernation_time = 30
limits = {{ c2s = {{ rate = "10mb/s" }} }}
-- Small stanzas both ways: send at once (no Nagle delay, no write batching).
network_settings = {{ nagle = false; opportunistic_writes = true; read_timeout = {self.xmpp_read_timeout} }}
-- Results carry up to twice the output quota (1 MiB per stream at most).
c2s_stanza_size_limit = 4 * 1024 * 1024
component_stanza_size_limit = 4 * 1024 * 1024
certificates = "{self.pki}"

VirtualHost "{domain}"
    ssl = {{ certificate = "{cert}", key = "{key}" }}
{components}"""

    def start_prosody(self):
        pdir = self.dir / "prosody"
        (pdir / "data").mkdir(parents=True, exist_ok=True)
        c2s = self.ports.setdefault("c2s", free_port())
        comp = self.ports.setdefault("component", free_port())
        conf = pdir / "prosody.cfg.lua"
        conf.write_text(self.prosody_config(
            "one Muster test stack", pdir, c2s, comp, [SHARD], XMPP_DOMAIN,
            self.pki / "xmpp.crt", self.pki / "xmpp.key"))
        proc = Proc("prosody", [require_tool("prosody"), "-F", "--config", conf],
                    pdir / "prosody.out", cwd=pdir, tied=not self.detached).start()
        self.procs["prosody"] = proc
        self._wait_port(proc, c2s)
        self._wait_port(proc, comp)

    def prosody_log(self):
        try:
            return (self.dir / "prosody" / "prosody.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def component_logins(self):
        """How often the hub's component has authenticated to the XMPP server so far."""
        if self.xmpp_server == "ejabberd":
            return self.ejabberd_component_logins([SHARD])
        return sum(1 for line in self.prosody_log().splitlines()
                   if f"{SHARD}:component" in line
                   and "External component successfully authenticated" in line)

    def xmpp_log(self):
        """The XMPP server's log so far (Prosody's or ejabberd's)."""
        return self.ejabberd_log() if self.xmpp_server == "ejabberd" else self.prosody_log()

    def start_xmpp(self):
        """Start the stack's XMPP server (self.xmpp_server) and wait until it listens."""
        if self.xmpp_server == "ejabberd":
            self.start_ejabberd()
        else:
            self.start_prosody()

    # -- ejabberd -------------------------------------------------------------
    # A private ejabberd node started the way Debian's unit starts it
    # (`ejabberdctl foreground`), with everything of its own under
    # <dir>/ejabberd: config, ejabberdctl.cfg, Mnesia spool, logs, Erlang cookie
    # ($HOME), node name, and an epmd on a free loopback port (ERL_EPMD_PORT), so
    # nothing is shared with a system ejabberd or another stack.
    @property
    def ejabberd_dir(self):
        return self.dir / "ejabberd"

    def ejabberd_user(self):
        """ejabberdctl runs the node only as user ejabberd (it su's to it from root)."""
        me = pwd.getpwuid(os.geteuid()).pw_name
        if os.geteuid() != 0 and me != EJABBERD_USER:
            raise StackError(f"Debian's ejabberdctl runs ejabberd only as root or as user "
                             f"{EJABBERD_USER}, not as {me}")
        try:
            pwd.getpwnam(EJABBERD_USER)
        except KeyError:
            raise StackError(f"user {EJABBERD_USER} does not exist: install Debian's ejabberd "
                             f"package (ci/install-deps.sh)") from None
        return EJABBERD_USER

    def _open_path_to(self, user):
        """Let `user` reach the ejabberd directory: search permission on the state
        directory (added here) and on every directory above it (checked)."""
        if os.geteuid() != 0:
            return
        mode = self.dir.stat().st_mode
        if not mode & 0o001:
            self.dir.chmod((mode & 0o7777) | 0o001)
        for parent in self.dir.parents:
            if not parent.stat().st_mode & 0o001:
                raise StackError(f"ejabberd runs as user {user} and cannot reach {self.dir}: "
                                 f"{parent} has no search permission for others; "
                                 f"choose a state directory under /tmp")

    def ejabberd_env(self):
        env = dict(os.environ)
        env.update({"HOME": str(self.ejabberd_dir),  # .erlang.cookie of this node only
                    "ERL_EPMD_PORT": str(self.ports["epmd"]),
                    "ERL_EPMD_ADDRESS": "127.0.0.1"})
        return env

    def ejabberd_ctl(self):
        """ejabberdctl with this node's options; append a command (status, stop, ...)."""
        edir = self.ejabberd_dir
        return [require_tool("ejabberdctl"), "--config-dir", str(edir),
                "--config", str(edir / "ejabberd.yml"), "--ctl-config", str(edir / "ejabberdctl.cfg"),
                "--spool", str(edir / "spool"), "--logs", str(edir / "logs"),
                "--node", self.ejabberd_node]

    def write_ejabberd_config(self, shards):
        edir = self.ejabberd_dir
        c2s, comp, epmd = self.ports["c2s"], self.ports["component"], self.ports["epmd"]
        # One PEM with the certificate and its key, readable by the ejabberd user only.
        pem = edir / "xmpp.pem"
        pem.write_bytes((self.pki / "xmpp.crt").read_bytes() + (self.pki / "xmpp.key").read_bytes())
        pem.chmod(0o600)
        (edir / "ca.pem").write_bytes(self.ca_file.read_bytes())
        hosts = "".join(f'      "{s}":\n        password: "{self.component_secret}"\n'
                        for s in shards)
        admins = "".join(f'\n      - "{s}"' for s in shards)
        (edir / "ejabberd.yml").write_text(f"""# private ejabberd for one Muster test stack
hosts:
  - "{XMPP_DOMAIN}"
loglevel: info
log_rotate_count: 0
hide_sensitive_log_data: true
certfiles:
  - "{pem}"
ca_file: "{edir / 'ca.pem'}"
acme:
  auto: false
# Agents log in with SCRAM only (hashed passwords, stored as SCRAM-SHA-256).
auth_method: internal
auth_password_format: scram
auth_scram_hash: sha256
disable_sasl_mechanisms: ["PLAIN", "DIGEST-MD5", "X-OAUTH2"]
s2s_access: none
listen:
  -
    port: {c2s}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: true
    protocol_options: ["no_sslv3", "no_tlsv1", "no_tlsv1_1"]
    # No rate limit on agents; a reconnect storm must not overflow the accept queue
    # (the default backlog is 5).
    shaper: none
    backlog: 1024
    # Results carry up to twice the output quota (1 MiB per stream at most).
    max_stanza_size: 4194304
  -
    # XEP-0114, plaintext: loopback only.
    port: {comp}
    ip: "127.0.0.1"
    module: ejabberd_service
    shaper: none
    backlog: 1024
    max_stanza_size: 4194304
    hosts:
{hosts}acl:
  admin:
    # The master components run XEP-0133 commands (add-user, delete-user,
    # end-user-session, get-online-users-list); nobody else may.
    server:{admins}
access_rules:
  configure:
    allow: admin
  local:
    allow: all
  c2s:
    allow: all
modules:
  mod_adhoc: {{}}
  mod_configure: {{}}
  mod_disco: {{}}
  mod_last: {{}}
  # Liveness about a minute, like the Prosody config: a silent agent is pinged
  # after 20 s and dropped 10 s later; its session then waits 30 s for a resume
  # before the master hears it went offline.
  mod_ping:
    send_pings: true
    ping_interval: 20
    ping_ack_timeout: 10
    timeout_action: kill
  mod_stream_mgmt:
    resume_timeout: 30
    max_resume_timeout: 30
""")
        (edir / "inetrc").write_text('{lookup,["file","native"]}.\n'
                                     '{host,{127,0,0,1}, ["localhost"]}.\n')
        erl = ""
        if not self.detached:
            # ejabberdctl runs erl as its child: make the node die with it, as
            # every process of a test stack dies with the test (PR_SET_PDEATHSIG).
            wrapper = edir / "erl-tied"
            wrapper.write_text(f'#!/bin/sh\nexec {require_tool("setpriv")} --pdeathsig TERM '
                               f'{require_tool("erl")} "$@"\n')
            wrapper.chmod(0o755)
            erl = f"ERL={wrapper}\n"
        (edir / "ejabberdctl.cfg").write_text(f"""# ejabberdctl settings of this private node (sourced by ejabberdctl)
ERLANG_NODE={self.ejabberd_node}
# The Erlang distribution listens on loopback only: the kernel option that
# INET_DIST_INTERFACE=127.0.0.1 turns into, given directly (ejabberdctl would
# boot an extra erl on every command to compute it).
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0 -kernel inet_dist_use_interface {{127,0,0,1}}"
ERL_MAX_PORTS=65536
ERL_PROCESSES=262144
# epmd on loopback, on this node's own port.
ERL_EPMD_ADDRESS=127.0.0.1
export ERL_EPMD_PORT={epmd}
EJABBERD_PID_PATH={edir / 'ejabberd.pid'}
EJABBERD_BYPASS_WARNINGS=true
{erl}""")

    def start_ejabberd(self):
        user = self.ejabberd_user()
        edir = self.ejabberd_dir
        for sub in ("spool", "logs"):
            (edir / sub).mkdir(parents=True, exist_ok=True)
        self.ports.setdefault("c2s", free_port())
        self.ports.setdefault("component", free_port())
        self.ports.setdefault("epmd", free_port())
        if not self.ejabberd_node:
            self.ejabberd_node = f"muster_{os.urandom(4).hex()}@localhost"
        self.write_ejabberd_config([SHARD])
        if os.geteuid() == 0:
            pw = pwd.getpwnam(user)
            for path in [edir, *edir.rglob("*")]:
                os.chown(path, pw.pw_uid, pw.pw_gid, follow_symlinks=False)
            self._open_path_to(user)
        env = self.ejabberd_env()
        tied = not self.detached
        epmd = Proc("epmd", [require_tool("epmd"), "-port", self.ports["epmd"],
                             "-address", "127.0.0.1"],
                    edir / "epmd.out", cwd=edir, env=env, tied=tied, user=user).start()
        self.procs["epmd"] = epmd
        self._wait_port(epmd, self.ports["epmd"])
        proc = EjabberdProc("ejabberd", self.ejabberd_ctl(), edir / "ejabberd.out", cwd=edir,
                            env=env, tied=tied, user=user).start()
        self.procs["ejabberd"] = proc
        self._wait_port(proc, self.ports["c2s"], timeout=60)
        self._wait_port(proc, self.ports["component"], timeout=60)

    def ejabberdctl(self, *args, timeout=60):
        """Run an ejabberdctl command on the stack's node; returns (status, output)."""
        return self.procs["ejabberd"].ctl_run(*args, timeout=timeout)

    def ejabberd_log(self):
        try:
            return (self.ejabberd_dir / "logs" / "ejabberd.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def ejabberd_component_logins(self, shards):
        return sum(1 for line in self.ejabberd_log().splitlines()
                   if EJABBERD_COMPONENT_LOGIN in line and any(s in line for s in shards))
