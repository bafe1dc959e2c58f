"""The stack's private redis-server (AOF on), and redis-cli against it."""

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

from stacklib.util import (  # noqa: F401
    REPO_ROOT,
    XMPP_DOMAIN,
    SHARD,
    AGENT_RESOURCE,
    MAX_BODY,
    XMPP_SERVERS,
    EJABBERD_USER,
    EJABBERD_COMPONENT_LOGIN,
    StackError,
    build_dir,
    require_tool,
    require_binary,
    free_port,
    tail,
    wait_until,
    port_open,
    pid_alive,
    pid_cmdline)
from stacklib.processes import Proc


class StoreMixin:
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
