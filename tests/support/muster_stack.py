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
"""

import argparse
import atexit
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
XMPP_DOMAIN = "muster.localhost"
SHARD = "shard0.muster.localhost"
AGENT_RESOURCE = "muster"
MAX_BODY = 1024 * 1024
XMPP_SERVERS = ("prosody", "ejabberd")
EJABBERD_USER = "ejabberd"  # Debian's ejabberdctl runs the node only as this user (or root → su)
# What ejabberd 23.01 logs (level info) when a component authenticates.
EJABBERD_COMPONENT_LOGIN = "Accepted external component"

_DEFAULT = object()  # "use the admin token" marker for MusterStack.api()


class StackError(RuntimeError):
    """The stack could not be started or a wait ran out of time."""


# ---------------------------------------------------------------------------
# small helpers


def build_dir():
    return Path(os.environ.get("MUSTER_BUILD_DIR") or REPO_ROOT / "build" / "dev").resolve()


def require_tool(name):
    path = shutil.which(name)
    if not path:
        raise StackError(f"required program '{name}' not found on PATH "
                         f"(a ci/install-*.sh script installs it; ci/check-tools.sh checks that one does)")
    return path


def require_binary(path):
    path = Path(path)
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise StackError(f"Muster binary {path} is missing: build it first "
                         f"(ci/build.sh dev) or point MUSTER_BUILD_DIR at a build")
    return str(path)


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 16384))
            data = f.read().decode("utf-8", "replace")
    except OSError as e:
        return f"<cannot read {path}: {e}>"
    return "\n".join(data.splitlines()[-lines:])


def wait_until(predicate, timeout, what, interval=0.1, check=None):
    """Call predicate() until it returns a true value or timeout seconds pass.

    check(), when given, is called on every round and may raise to abort early
    (e.g. because the process we wait for has exited).
    """
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        if check:
            check()
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - remembered for the message
            last_exc = e
        if time.monotonic() >= deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise StackError(f"timed out after {timeout:.0f}s waiting for {what}{extra}")
        time.sleep(interval)


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def pid_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


# ---------------------------------------------------------------------------
# processes


def _die_with_parent():
    """In the child before exec: get SIGTERM when the test process dies, even by SIGKILL
    (e.g. a CTest timeout), so no stack outlives its test."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort; stop() and atexit still apply
        pass


class Proc:
    """One child process in its own process group (session), logging to a file."""

    def __init__(self, name, argv, log, cwd=None, env=None, tied=True, user=None):
        self.tied = tied  # dies with the Python process that started it (not for `up`)
        self.user = user  # run as this user (name), e.g. ejabberd; None: as we are
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log = Path(log)
        self.cwd = str(cwd) if cwd else None
        self.env = env
        self.popen = None
        self.pid = None
        self.last_stop = None

    def start(self):
        if self.alive():
            raise StackError(f"{self.name} is already running (pid {self.pid})")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as logf:
            logf.write(f"==== {time.strftime('%H:%M:%S')} start: {' '.join(self.argv)}\n".encode())
            logf.flush()
            try:
                self.popen = subprocess.Popen(
                    self.argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                    cwd=self.cwd, env=self.env, start_new_session=True,
                    preexec_fn=_die_with_parent if self.tied else None,
                    **user_args(self.user))
            except OSError as e:
                raise StackError(f"cannot start {self.name} ({self.argv[0]}): {e}") from e
        self.pid = self.popen.pid
        return self

    def alive(self):
        if self.popen is not None:
            return self.popen.poll() is None
        return self.pid is not None and pid_alive(self.pid)

    def returncode(self):
        return self.popen.poll() if self.popen is not None else None

    def check_running(self):
        """Raise StackError (with the log's tail) if the process has exited."""
        if self.pid is not None and not self.alive():
            raise StackError(f"{self.name} exited (status {self.returncode()}); "
                             f"last lines of {self.log}:\n{tail(self.log)}")

    def _signal_group(self, sig):
        if self.pid is None:
            return
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            pass

    def _wait(self, timeout):
        if self.popen is not None:
            try:
                self.popen.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(self.pid):
                return True
            time.sleep(0.05)
        return not pid_alive(self.pid)

    def signal(self, sig):
        """Send sig to the main process only."""
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout=10.0):
        """SIGTERM the process group, SIGKILL it if it has not exited in time.

        Returns (and remembers in self.last_stop) how it ended: "exit 0",
        "exit N", "signal N", "needed SIGKILL" or "not running".
        """
        if self.pid is None:
            return "not running"
        how = "not running"
        if self.alive():
            self._signal_group(signal.SIGTERM)
            if self._wait(timeout):
                code = self.returncode()
                how = ("exited" if code is None else
                       f"exit {code}" if code >= 0 else f"signal {-code}")
            else:
                self._signal_group(signal.SIGKILL)
                self._wait(5)
                how = "needed SIGKILL"
        # Whatever else is left in the group (helpers, children) goes too.
        self._signal_group(signal.SIGKILL)
        self.last_stop = how
        return how

    def kill(self):
        """SIGKILL the process group at once (a crash, as far as peers can tell)."""
        if self.pid is None:
            return
        self._signal_group(signal.SIGKILL)
        self._wait(5)

    def record(self):
        return {"name": self.name, "pid": self.pid, "argv": self.argv, "log": str(self.log),
                "cwd": self.cwd}


def user_args(user):
    """subprocess keyword arguments that run a child as `user` (None: as we are)."""
    if user is None or pwd.getpwuid(os.geteuid()).pw_name == user:
        return {}
    pw = pwd.getpwnam(user)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


class EjabberdProc(Proc):
    """ejabberd in the foreground under ejabberdctl; stopped with `ejabberdctl stop`
    (a clean Erlang shutdown), then like any Proc if it is still there."""

    def __init__(self, name, ctl, log, cwd=None, env=None, tied=True, user=None):
        super().__init__(name, ctl + ["foreground"], log, cwd=cwd, env=env, tied=tied,
                         user=user)
        self.ctl = list(ctl)  # ejabberdctl with this node's options, without a command

    def ctl_run(self, *args, timeout=60):
        """Run one ejabberdctl command against this node; returns (status, output)."""
        try:
            res = subprocess.run(self.ctl + list(args), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.cwd,
                                 env=self.env, timeout=timeout, **user_args(self.user))
        except subprocess.TimeoutExpired as e:
            return None, f"timed out after {timeout}s: {(e.stdout or b'').decode(errors='replace')}"
        return res.returncode, res.stdout.decode("utf-8", "replace")

    def stop(self, timeout=10.0):
        if self.pid is None or not self.alive():
            return super().stop(timeout)
        status, out = self.ctl_run("stop", timeout=max(timeout, 30))
        if status == 0 and self._wait(max(timeout, 30)):
            code = self.returncode()
            self._signal_group(signal.SIGKILL)  # anything left in the group (helpers)
            self.last_stop = ("exited" if code is None else
                              f"exit {code}" if code >= 0 else f"signal {-code}")
            return self.last_stop
        with open(self.log, "ab") as logf:
            logf.write(f"==== ejabberdctl stop failed (status {status}): {out}\n".encode())
        return super().stop(timeout)


# ---------------------------------------------------------------------------
# the stack


class MusterStack:
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

    # -- paths ------------------------------------------------------------
    @property
    def pki(self):
        return self.dir / "pki"

    @property
    def ca_file(self):
        return self.pki / "ca.pem"

    @property
    def hub_bin(self):
        return self.build / "hub" / "muster-hub"

    @property
    def agent_bin(self):
        return self.build / "agent" / "muster-agent"

    @property
    def hub_config(self):
        return self.dir / "hub" / "hub.ini"

    @property
    def hub_url(self):
        return f"https://localhost:{self.ports['api']}"

    def agent_dir(self, i):
        return self.dir / "agents" / str(i)

    def agent_log_dir(self, i):
        """Where agent i's enroll.log and agent.log go (its state dir here)."""
        return self.agent_dir(i)

    def agent_argv(self, *args):
        """The command that runs muster-agent with `args` (subclasses may run
        another build, an emulator or a chroot)."""
        return [require_binary(self.agent_bin), *args]

    def agent_path(self, host_path):
        """A host path as the agent sees it (the same path here)."""
        return str(host_path)

    def agent_info(self, i):
        """The agent's state file (agent.json) as a dict."""
        with open(self.agent_dir(i) / "agent.json") as f:
            return json.load(f)

    def agent_journal(self, i):
        """Task ids the agent started, in order, one entry per start.

        The agent writes "start <task> <job>" lines; docs/commands.md speaks of
        one bare task id per line, which is read as a start too. Any other
        multi-word line (e.g. a later "done <task>" record) is not a start.
        """
        ids = []
        try:
            with open(self.agent_dir(i) / "journal") as f:
                for line in f:
                    words = line.split()
                    if len(words) == 1:
                        ids.append(words[0])
                    elif len(words) >= 2 and words[0] == "start":
                        ids.append(words[1])
        except FileNotFoundError:
            pass
        return ids

    def agent_spool(self, i):
        spool = self.agent_dir(i) / "spool"
        try:
            return sorted(p.name for p in spool.iterdir() if not p.name.startswith("."))
        except FileNotFoundError:
            return []

    # -- lifecycle ----------------------------------------------------------
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
        for name in order:
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

    # -- certificates -------------------------------------------------------
    def _openssl(self, *args):
        res = subprocess.run(["openssl", *args], cwd=self.pki, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        if res.returncode != 0:
            raise StackError(f"openssl {' '.join(args)} failed:\n{res.stdout.decode()}")

    def make_certificates(self):
        """A CA, a certificate for Prosody and one for the hub's HTTPS API."""
        self.pki.mkdir(parents=True, exist_ok=True)
        if (self.pki / "api.crt").exists() and self.ca_file.exists():
            return
        self._openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                      "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Muster test CA",
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        leaves = {
            "xmpp": ("muster.localhost",
                     "DNS:muster.localhost,DNS:*.muster.localhost,DNS:localhost"),
            "api": ("localhost", "DNS:localhost,IP:127.0.0.1"),
        }
        for name, (cn, san) in leaves.items():
            ext = self.pki / f"{name}.ext"
            ext.write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                           "keyUsage=critical,digitalSignature,keyEncipherment\n"
                           "extendedKeyUsage=serverAuth\n")
            self._openssl("req", "-new", "-newkey", "rsa:2048", "-nodes",
                          "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}")
            self._openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem",
                          "-CAkey", "ca.key", "-CAcreateserial", "-days", "30", "-sha256",
                          "-out", f"{name}.crt", "-extfile", ext.name)
        for key in self.pki.glob("*.key"):
            key.chmod(0o600)

    # -- redis --------------------------------------------------------------
    def start_redis(self):
        rdir = self.dir / "redis"
        rdir.mkdir(parents=True, exist_ok=True)
        port = self.ports.setdefault("redis", free_port())
        conf = rdir / "redis.conf"
        conf.write_text("\n".join([
            f"port {port}",
            "bind 127.0.0.1",
            "protected-mode yes",
            "daemonize no",
            f"dir {rdir}",
            f"logfile {rdir / 'redis.log'}",
            "appendonly yes",
            "save \"\"",
            "",
        ]))
        proc = Proc("redis", [require_tool("redis-server"), conf], rdir / "redis.out",
                    tied=not self.detached).start()
        self.procs["redis"] = proc
        self._wait_port(proc, port)
        wait_until(lambda: self.redis_cli("PING").strip() == "PONG", 15, "redis PING",
                   check=proc.check_running)

    def store_port(self):
        """The port the hub reaches the store on: Redis's, or its proxy's."""
        return self.store_proxy.port if self.store_proxy else self.ports["redis"]

    def redis_cli(self, *args):
        res = subprocess.run([require_tool("redis-cli"), "-h", "127.0.0.1",
                              "-p", str(self.ports["redis"]), *map(str, args)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=15)
        out = res.stdout.decode("utf-8", "replace")
        if res.returncode != 0:
            raise StackError(f"redis-cli {' '.join(map(str, args))}: {out}")
        return out

    def redis_dbsize(self):
        return int(self.redis_cli("DBSIZE").strip())

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

    # -- hub ----------------------------------------------------------------
    def write_hub_config(self):
        hdir = self.dir / "hub"
        hdir.mkdir(parents=True, exist_ok=True)
        api = self.ports.setdefault("api", free_port())
        self.hub_config.write_text(f"""[hub]
role = all

[api]
listen = 127.0.0.1:{api}
tls_cert = {self.pki / 'api.crt'}
tls_key = {self.pki / 'api.key'}
threads = 8

[store]
host = 127.0.0.1
port = {self.store_port()}
password =

[region]
name = default
xmpp_domain = {XMPP_DOMAIN}
xmpp_host = {self.agent_xmpp_host}
xmpp_port = {self.ports['c2s']}
xmpp_ca_file = {self.ca_file}
component_host = 127.0.0.1
component_port = {self.ports['component']}
shard = {SHARD}
component_secret = {self.component_secret}
""")

    def start_hub(self):
        self.write_hub_config()
        proc = Proc("hub", [require_binary(self.hub_bin), "--config", self.hub_config],
                    self.dir / "hub" / "hub.log", cwd=self.dir / "hub", tied=not self.detached)
        self.procs["hub"] = proc
        logins_before = self.component_logins()
        proc.start()
        self.wait_hub(logins_before)

    def wait_hub(self, logins_before, timeout=30):
        """Wait for /healthz and for the hub's component to log in to Prosody
        (more often than the logins_before counted before the hub started)."""
        proc = self.procs["hub"]

        def healthy():
            status, body = self.api("GET", "/healthz", token=None, timeout=3)
            return status == 200 and isinstance(body, dict) and body.get("status") == "ok"

        wait_until(healthy, timeout, f"GET {self.hub_url}/healthz", interval=0.2,
                   check=proc.check_running)
        wait_until(lambda: self.component_logins() > logins_before, timeout,
                   f"component {SHARD} to authenticate to Prosody", interval=0.2,
                   check=proc.check_running)

    def create_admin_token(self):
        res = subprocess.run([require_binary(self.hub_bin), "admin-token", "--config",
                              str(self.hub_config)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=30)
        lines = [ln.strip() for ln in res.stdout.decode().splitlines() if ln.strip()]
        if res.returncode != 0 or not lines:
            raise StackError(f"muster-hub admin-token failed (status {res.returncode}):\n"
                             f"{res.stdout.decode()}{res.stderr.decode()}")
        return lines[-1]

    # -- agents -------------------------------------------------------------
    def create_enroll_token(self, uses, labels=None, ttl_s=3600):
        status, body = self.api("POST", "/api/v1/tokens",
                                {"kind": "enroll", "uses": uses, "ttl_s": ttl_s,
                                 "labels": dict(labels if labels is not None else self.labels)})
        if status != 201 or "token" not in (body or {}):
            raise StackError(f"POST /api/v1/tokens (enroll) -> {status} {body}")
        return body["token"]

    def enroll_agents(self, n):
        self.enroll_token = self.create_enroll_token(n)
        for i in range(1, n + 1):
            self.enroll_agent(i, self.enroll_token)

    def enroll_agent(self, i, token):
        adir = self.agent_dir(i)
        adir.mkdir(parents=True, exist_ok=True)
        logdir = self.agent_log_dir(i)
        logdir.mkdir(parents=True, exist_ok=True)
        argv = self.agent_argv("enroll", "--hub", self.hub_url, "--token", token,
                               "--ca", self.agent_path(self.ca_file), "--label", f"idx={i}",
                               "--state-dir", self.agent_path(adir))
        res = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=self.enroll_timeout)
        out, err = res.stdout.decode(errors="replace"), res.stderr.decode(errors="replace")
        with open(logdir / "enroll.log", "a") as f:
            f.write(f"$ {' '.join(argv)}\n[status {res.returncode}]\n{out}{err}")
        lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
        if res.returncode != 0 or not lines:
            raise StackError(f"muster-agent enroll for agent {i} failed (status {res.returncode}):"
                             f"\n{out}{err}\nhub log:\n{tail(self.procs['hub'].log)}")
        self.agent_uuids[i] = lines[-1]
        return lines[-1]

    def start_agent(self, i):
        adir = self.agent_dir(i)
        logdir = self.agent_log_dir(i)
        name = f"agent{i}"
        if name not in self.procs:
            self.procs[name] = Proc(name, self.agent_argv("run", "--state-dir", self.agent_path(adir),
                                                          "--log-level", self.agent_log_level),
                                    logdir / "agent.log", cwd=logdir, tied=not self.detached)
        self.procs[name].start()
        return self.procs[name]

    def agents(self):
        status, body = self.api("GET", "/api/v1/agents")
        if status != 200:
            raise StackError(f"GET /api/v1/agents -> {status} {body}")
        return {a["id"]: a for a in body["agents"]}

    def wait_agents_online(self, indexes=None, timeout=60):
        indexes = list(indexes or self.agent_uuids)
        want = {self.agent_uuids[i] for i in indexes}

        def check():
            for i in indexes:
                self.procs[f"agent{i}"].check_running()
            self.procs["hub"].check_running()

        def online():
            agents = self.agents()
            return all(agents.get(u, {}).get("status") == "online" for u in want)

        try:
            wait_until(online, timeout, f"agents {sorted(indexes)} to be online", interval=0.25,
                       check=check)
        except StackError as e:
            logs = "\n".join(f"--- agent {i} log:\n{tail(self.procs[f'agent{i}'].log, 15)}"
                             for i in indexes)
            raise StackError(f"{e}\n{logs}\n--- hub log:\n{tail(self.procs['hub'].log, 20)}") from e

    # -- API client ---------------------------------------------------------
    def _ssl_context(self):
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        return ctx

    def api(self, method, path, body=None, token=_DEFAULT, headers=None, timeout=30):
        """One HTTPS request to the hub; returns (status, parsed JSON or raw text or None).

        body may be bytes (sent as is), a str (UTF-8) or any JSON-serialisable object.
        token=_DEFAULT uses the admin token; None sends no Authorization header.
        """
        if token is _DEFAULT:
            token = self.admin_token
        hdrs = {"Accept": "application/json"}
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        hdrs.update(headers or {})
        conn = http.client.HTTPSConnection("localhost", self.ports["api"], timeout=timeout,
                                           context=self._ssl_context())
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            if body is not None:
                hdrs.setdefault("Content-Length", str(len(body)))
            for k, v in hdrs.items():
                conn.putheader(k, v)
            conn.endheaders()
            if body:
                # Send in pieces: a server may answer (413) and close before reading it all.
                try:
                    view = memoryview(body)
                    for off in range(0, len(view), 65536):
                        conn.send(view[off:off + 65536])
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass
            resp = conn.getresponse()
            raw = resp.read()
            status = resp.status
        finally:
            conn.close()
        text = raw.decode("utf-8", "replace")
        if not text:
            return status, None
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    # -- jobs ---------------------------------------------------------------
    def submit_job(self, job, token=_DEFAULT):
        status, body = self.api("POST", "/api/v1/jobs", job, token=token)
        if status != 201 or not isinstance(body, dict) or "id" not in body:
            raise StackError(f"POST /api/v1/jobs {job} -> {status} {body}")
        return body["id"]

    def job(self, job_id):
        status, body = self.api("GET", f"/api/v1/jobs/{job_id}")
        if status != 200:
            raise StackError(f"GET /api/v1/jobs/{job_id} -> {status} {body}")
        return body

    def tasks(self, job_id):
        """Every task of the job, following next_cursor page by page."""
        tasks, cursor = [], None
        while True:
            path = f"/api/v1/jobs/{job_id}/tasks?limit=1000" + (f"&cursor={cursor}" if cursor else "")
            status, body = self.api("GET", path)
            if status != 200:
                raise StackError(f"GET {path} -> {status} {body}")
            tasks += body["tasks"]
            cursor = body.get("next_cursor")
            if not cursor:
                return tasks

    def wait_job(self, job_id, timeout=60):
        """Poll until the job has left state running; return the Job object."""
        last = {}

        def finished():
            last["job"] = self.job(job_id)
            return last["job"].get("state") not in ("running", None)

        try:
            wait_until(finished, timeout, f"job {job_id} to finish", interval=0.2)
        except StackError as e:
            raise StackError(f"{e}; last seen: {last.get('job')}") from e
        return last["job"]

    def run_job(self, job, timeout=60):
        """Submit a job, wait for it to finish; return (Job, {agent_id: Task})."""
        job_id = self.submit_job(job)
        done = self.wait_job(job_id, timeout)
        return done, {t["agent_id"]: t for t in self.tasks(job_id)}

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


class RegionStack(MusterStack):
    """A stack with several regions, each with its own Prosody and shards, and
    several hub processes: "hub" (role all, started first so it holds every
    shard lease) plus `standbys` processes "master<k>" (--role master).

    Agents 1..N are spread over the regions in blocks (agent_region[i]);
    region r is served by Prosody "prosody.<r>" on domain <r>.muster.localhost
    with component domains shard<k>.<r>.muster.localhost.
    """

    def __init__(self, state_dir, regions=("r1", "r2"), shards_per_region=2,
                 agents_per_region=2, standbys=1, **kwargs):
        self.region_names = list(regions)
        self.shards_per_region = shards_per_region
        self.agents_per_region = agents_per_region
        self.n_standbys = standbys
        self.agent_region = {}
        if kwargs.get("xmpp_server") not in (None, "prosody"):
            raise ValueError("RegionStack runs one Prosody per region; it has no ejabberd mode")
        kwargs["xmpp_server"] = "prosody"
        super().__init__(state_dir, agents=agents_per_region * len(self.region_names), **kwargs)

    # -- names ----------------------------------------------------------------
    @staticmethod
    def region_domain(region):
        return f"{region}.{XMPP_DOMAIN}"

    def region_shards(self, region):
        return [f"shard{k}.{self.region_domain(region)}" for k in range(self.shards_per_region)]

    def all_shards(self):
        return [s for r in self.region_names for s in self.region_shards(r)]

    def region_agents(self, region):
        return sorted(i for i, r in self.agent_region.items() if r == region)

    # -- certificates -----------------------------------------------------------
    def make_certificates(self):
        super().make_certificates()
        if (self.pki / "regions.crt").exists():
            return
        names = ",".join(f"DNS:{self.region_domain(r)}" for r in self.region_names)
        (self.pki / "regions.ext").write_text(
            f"subjectAltName={names}\nbasicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
        self._openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "regions.key",
                      "-out", "regions.csr", "-subj", f"/CN={self.region_domain(self.region_names[0])}")
        self._openssl("x509", "-req", "-in", "regions.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                      "-CAcreateserial", "-days", "30", "-sha256", "-out", "regions.crt",
                      "-extfile", "regions.ext")
        (self.pki / "regions.key").chmod(0o600)

    # -- prosody, one per region ------------------------------------------------
    def start_prosody(self):
        for region in self.region_names:
            self.start_region_prosody(region)

    def start_region_prosody(self, region):
        pdir = self.dir / f"prosody-{region}"
        (pdir / "data").mkdir(parents=True, exist_ok=True)
        c2s = self.ports.setdefault(f"c2s.{region}", free_port())
        comp = self.ports.setdefault(f"component.{region}", free_port())
        (pdir / "prosody.cfg.lua").write_text(self.prosody_config(
            f"region {region}", pdir, c2s, comp, self.region_shards(region), self.region_domain(region),
            self.pki / "regions.crt", self.pki / "regions.key"))
        name = f"prosody.{region}"
        proc = Proc(name, [require_tool("prosody"), "-F", "--config", pdir / "prosody.cfg.lua"],
                    pdir / "prosody.out", cwd=pdir, tied=not self.detached).start()
        self.procs[name] = proc
        self._wait_port(proc, c2s)
        self._wait_port(proc, comp)

    def prosody_log(self):
        text = ""
        for region in self.region_names:
            try:
                text += (self.dir / f"prosody-{region}" / "prosody.log").read_text(errors="replace")
            except FileNotFoundError:
                pass
        return text

    def component_logins(self):
        """Component logins so far, summed over every shard of every region."""
        shards = self.all_shards()
        return sum(1 for line in self.prosody_log().splitlines()
                   if "External component successfully authenticated" in line
                   and any(f"{s}:component" in line for s in shards))

    # -- hub processes ------------------------------------------------------------
    def write_hub_config(self):
        hdir = self.dir / "hub"
        hdir.mkdir(parents=True, exist_ok=True)
        api = self.ports.setdefault("api", free_port())
        text = f"""[hub]
role = all

[api]
listen = 127.0.0.1:{api}
tls_cert = {self.pki / 'api.crt'}
tls_key = {self.pki / 'api.key'}
threads = 8

[store]
host = 127.0.0.1
port = {self.store_port()}
password =

[master]
shards =
"""
        for region in self.region_names:
            text += f"""
[region.{region}]
xmpp_domain = {self.region_domain(region)}
xmpp_host = 127.0.0.1
xmpp_port = {self.ports[f'c2s.{region}']}
xmpp_ca_file = {self.ca_file}
component_host = 127.0.0.1
component_port = {self.ports[f'component.{region}']}
component_secret = {self.component_secret}
shards = {", ".join(self.region_shards(region))}
"""
        self.hub_config.write_text(text)

    def hub_proc(self, name, role=None):
        argv = [require_binary(self.hub_bin), "--config", self.hub_config]
        if role:
            argv += ["--role", role]
        return Proc(name, argv, self.dir / "hub" / f"{name}.log", cwd=self.dir / "hub",
                    tied=not self.detached)

    def start_hub(self, role=None):
        """Start "hub" (role all unless role is given) and wait until it serves."""
        self.write_hub_config()
        self.procs["hub"] = self.hub_proc("hub", role)
        self.procs["hub"].start()
        self.wait_hub(None)

    def wait_hub(self, logins_before, timeout=60):
        proc = self.procs["hub"]

        def healthy():
            status, body = self.api("GET", "/healthz", token=None, timeout=3)
            return status == 200 and isinstance(body, dict) and body.get("status") == "ok"

        wait_until(healthy, timeout, f"GET {self.hub_url}/healthz", interval=0.2,
                   check=proc.check_running)
        if "--role" not in proc.argv or proc.argv[proc.argv.index("--role") + 1] != "api":
            self.wait_leases(timeout, check=proc.check_running)

    def start_standbys(self):
        for k in range(1, self.n_standbys + 1):
            name = f"master{k}"
            self.procs[name] = self.hub_proc(name, "master")
            self.procs[name].start()
        time.sleep(1)
        for k in range(1, self.n_standbys + 1):
            self.procs[f"master{k}"].check_running()

    def lease(self, shard):
        """The lease value ("<holder>:<fence>") of a shard, or "" when nobody holds it."""
        return self.redis_cli("GET", f"muster:lease:{{{shard}}}").strip()

    def leases(self):
        return {s: self.lease(s) for s in self.all_shards()}

    def wait_leases(self, timeout=60, check=None, other_than=None):
        """Wait until every shard has a lease (held by someone else than the
        holder ids in other_than, when given); return {shard: lease}."""
        other_than = set(other_than or ())

        def held():
            got = self.leases()
            ok = all(v and v.split(":")[0] not in other_than for v in got.values())
            return got if ok else None

        return wait_until(held, timeout, "every shard to have a lease holder", interval=0.1,
                          check=check)

    def start(self, agents_timeout=120):
        super().start(agents_timeout=agents_timeout)
        try:
            self.start_standbys()
            self.save_state()
        except BaseException:
            self.stop()
            raise
        return self

    def start_process(self, name):
        proc = self.procs[name]
        if name.startswith("prosody."):
            region = name.split(".", 1)[1]
            logins_before = self.component_logins()
            proc.start()
            self._wait_port(proc, self.ports[f"c2s.{region}"])
            self._wait_port(proc, self.ports[f"component.{region}"])
            want = logins_before + len(self.region_shards(region))
            wait_until(lambda: self.component_logins() >= want, 60,
                       f"every component of {region} to log in to the restarted Prosody",
                       interval=0.2)
            self.save_state()
            return
        if name == "hub":
            proc.start()
            self.wait_hub(None)
            self.save_state()
            return
        super().start_process(name)

    def stop(self):
        order = sorted((n for n in self.procs if n.startswith("agent")), reverse=True)
        order += sorted(n for n in self.procs if n.startswith("master"))
        order += [n for n in self.procs if n == "hub"]
        order += sorted(n for n in self.procs if n.startswith("prosody"))
        order += [n for n in self.procs if n == "redis"]
        for name in order:
            try:
                self.procs[name].stop(timeout=10)
            except Exception as e:  # noqa: BLE001 - keep stopping the rest
                print(f"muster_stack: stopping {name}: {e}", file=sys.stderr)
        self._stopped = True

    # -- agents -------------------------------------------------------------------
    def create_region_enroll_token(self, region, uses, labels=None):
        status, body = self.api("POST", "/api/v1/tokens",
                                {"kind": "enroll", "uses": uses, "ttl_s": 3600, "region": region,
                                 "labels": dict(labels if labels is not None else self.labels)})
        if status != 201 or "token" not in (body or {}):
            raise StackError(f"POST /api/v1/tokens (enroll, region {region}) -> {status} {body}")
        return body["token"]

    def enroll_agents(self, n):
        i = 0
        for region in self.region_names:
            token = self.create_region_enroll_token(region, self.agents_per_region)
            for _ in range(self.agents_per_region):
                i += 1
                if i > n:
                    return
                self.agent_region[i] = region
                self.enroll_agent(i, token)


def down(state_dir, timeout=10.0):
    """Stop every process that `up` recorded in state_dir/pids.json."""
    path = Path(state_dir) / "pids.json"
    if not path.exists():
        print(f"nothing to stop: {path} does not exist")
        return 0
    state = json.loads(path.read_text())
    records = state.get("processes", [])
    # agents first, then hub, the XMPP server, epmd, redis
    rank = {"hub": 1, "prosody": 2, "ejabberd": 2, "epmd": 3, "redis": 4}
    records.sort(key=lambda r: rank.get(r["name"], 0))
    for rec in records:
        pid = rec.get("pid")
        cmd = pid_cmdline(pid) if pid else []
        if not pid or not pid_alive(pid):
            print(f"{rec['name']}: pid {pid} already gone")
            continue
        # Guard against a recycled pid: the program must be the one we started.
        want = Path(rec["argv"][0]).name
        if not any(Path(a).name == want or want in a for a in cmd[:2]):
            print(f"{rec['name']}: pid {pid} now runs {' '.join(cmd)!r}; not touching it")
            continue
        proc = Proc(rec["name"], rec["argv"], rec["log"])
        proc.pid = pid
        proc.stop(timeout)
        print(f"{rec['name']}: stopped pid {pid}")
    return 0


# ---------------------------------------------------------------------------
# CLI


def prepare_state_dir(path):
    """A fresh stack needs an empty directory; clear one a previous stack left behind."""
    if not path.exists() or not any(path.iterdir()):
        return
    if not ((path / "pids.json").exists() or (path / "pki" / "ca.pem").exists()):
        raise StackError(f"{path} is not empty and holds no earlier Muster stack; "
                         f"choose another --dir")
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def cmd_up(args):
    stack = MusterStack(args.dir, agents=args.agents, detached=True, xmpp_server=args.xmpp_server)
    stack.start()
    env_file = stack.dir / "demo.env"
    env_file.write_text(f"MUSTER_URL={stack.hub_url}\nMUSTER_TOKEN={stack.admin_token}\n"
                        f"MUSTER_CA={stack.ca_file}\n")
    env_file.chmod(0o600)
    print(f"hub URL:     {stack.hub_url}")
    print(f"admin token: {stack.admin_token}")
    print(f"CA file:     {stack.ca_file}")
    print(f"agents:      {', '.join(stack.agent_uuids[i] for i in sorted(stack.agent_uuids))}")
    print(f"env file:    {env_file}")
    print(f"stop with:   {Path(__file__).resolve()} down --dir {stack.dir}")
    return stack


def cmd_demo(args):
    args.agents = 3
    stack = cmd_up(args)
    command = "uname -a; id"
    print(f"\nrunning {command!r} on all agents through POST /api/v1/jobs ...")
    job, tasks = stack.run_job({"command": command, "targets": {"all": True}, "timeout_s": 60},
                               timeout=90)
    agents = stack.agents()
    print(f"job {job['id']}: {job['state']} {json.dumps(job.get('counts'))}\n")
    for agent_id, task in sorted(tasks.items(), key=lambda kv: agents.get(kv[0], {}).get(
            "labels", {}).get("idx", "")):
        host = agents.get(agent_id, {}).get("hostname", "?")
        print(f"agent {agent_id}  host {host}  state {task['state']}  exit {task['exit_code']}")
        for line in (task.get("stdout") or "").splitlines():
            print(f"    {line}")
        if task.get("stderr"):
            print(f"    stderr: {task['stderr']!r}")
    env_file = stack.dir / "demo.env"
    print(f"""
The stack keeps running. Use the API with curl:

    . {env_file}
    curl --cacert $MUSTER_CA -H "Authorization: Bearer $MUSTER_TOKEN" $MUSTER_URL/api/v1/agents
    curl --cacert $MUSTER_CA -H "Authorization: Bearer $MUSTER_TOKEN" \\
         -d '{{"command": "uptime", "targets": {{"all": true}}}}' $MUSTER_URL/api/v1/jobs
    curl --cacert $MUSTER_CA -H "Authorization: Bearer $MUSTER_TOKEN" $MUSTER_URL/api/v1/jobs/<id>/tasks

Stop it with: {Path(__file__).resolve()} down --dir {stack.dir}""")
    return 0 if job["state"] == "succeeded" else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name, help_text in (("up", "start a stack that keeps running"),
                            ("down", "stop a stack started with up or demo"),
                            ("demo", "up with 3 agents and run a first job")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--dir", required=True, help="state directory")
        if name == "up":
            p.add_argument("--agents", type=int, default=3)
        if name != "down":
            p.add_argument("--xmpp-server", choices=XMPP_SERVERS, default=None,
                           help="XMPP server (default: $MUSTER_XMPP_SERVER or prosody)")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "down":
            return down(args.dir)
        if Path(args.dir, "pids.json").exists():
            state = json.loads(Path(args.dir, "pids.json").read_text())
            if any(pid_alive(p["pid"]) for p in state.get("processes", [])):
                print(f"a stack already runs from {args.dir}; run `down --dir {args.dir}` first",
                      file=sys.stderr)
                return 1
        prepare_state_dir(Path(args.dir))
        if args.cmd == "up":
            cmd_up(args)
            return 0
        return cmd_demo(args)
    except StackError as e:
        print(f"muster_stack: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
