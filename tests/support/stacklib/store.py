"""The stack's private redis-server (AOF on), and redis-cli against it."""

import subprocess

from stacklib.util import StackError, require_tool, free_port, wait_until
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
