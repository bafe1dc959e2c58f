"""A TCP proxy between the hub and Redis that can take the store away at an
exact step: it reads the RESP traffic both ways, pairs each reply with its
command, and when an armed trigger matches a (command, reply) pair it passes
that reply on, then cuts every connection and refuses new ones for a while,
as a Redis restart would, but at the moment the test chose rather than at
whatever moment a restart happens to land.

    proxy = StoreProxy(lambda: ("127.0.0.1", stack.ports["redis"])).start()
    proxy.arm(lambda cmd, reply: cmd[0] == b"EVALSHA" and ..., outage_s=2)
    proxy.fired.wait(30)      # set once the trigger matched
"""

import socket
import threading
import time


class _Incomplete(Exception):
    pass


def parse_resp(buf, pos=0):
    """One RESP value from buf at pos: (value, next pos). Raises _Incomplete.
    Bulk strings are bytes (None for nil), errors are RespError, arrays lists."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise _Incomplete
    kind, line, nxt = buf[pos:pos + 1], buf[pos + 1:end], end + 2
    if kind == b"+":
        return line, nxt
    if kind == b"-":
        return RespError(line.decode("utf-8", "replace")), nxt
    if kind == b":":
        return int(line), nxt
    if kind == b"$":
        n = int(line)
        if n < 0:
            return None, nxt
        if len(buf) < nxt + n + 2:
            raise _Incomplete
        return buf[nxt:nxt + n], nxt + n + 2
    if kind == b"*":
        n = int(line)
        if n < 0:
            return None, nxt
        items = []
        for _ in range(n):
            item, nxt = parse_resp(buf, nxt)
            items.append(item)
        return items, nxt
    raise ValueError(f"not RESP at {pos}: {buf[pos:pos + 20]!r}")


class RespError(str):
    pass


class StoreProxy:
    def __init__(self, upstream):
        self.upstream = upstream  # () -> (host, port), read at each connection
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.conns = []        # (client socket, upstream socket)
        self.down_until = 0.0  # monotonic: refuse connections until then
        self.trigger = None    # (predicate, outage seconds)
        self.fired = threading.Event()
        self.fired_on = None   # the (command, reply) that fired
        self.cuts = 0
        self._stop = False

    def start(self):
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        self._stop = True
        self.listener.close()
        self.cut(0)

    def arm(self, predicate, outage_s):
        """Cut the store for outage_s after the first reply for which
        predicate(command as a list of bytes, reply) is true."""
        with self.lock:
            self.fired.clear()
            self.trigger = (predicate, outage_s)

    def cut(self, outage_s):
        """Drop every connection now and refuse new ones for outage_s."""
        with self.lock:
            self.down_until = time.monotonic() + outage_s
            conns, self.conns = self.conns, []
            self.cuts += 1
        for pair in conns:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def _accept(self):
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if time.monotonic() < self.down_until:
                client.close()  # the store is "down"
                continue
            try:
                server = socket.create_connection(self.upstream(), timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            pending = []  # commands sent, not yet answered, in order
            with self.lock:
                self.conns.append((client, server))
            threading.Thread(target=self._pump, args=(client, server, pending, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, pending, False), daemon=True).start()

    def _pump(self, src, dst, pending, from_client):
        buf = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                buf += data
                pos, fire = 0, None
                while True:
                    try:
                        value, nxt = parse_resp(buf, pos)
                    except _Incomplete:
                        break
                    if from_client:
                        pending.append(value if isinstance(value, list) else [value])
                    else:
                        command = pending.pop(0) if pending else []
                        if fire is None:
                            fire = self._check(command, value, nxt)
                    pos = nxt
                # Forward whole values only, and when a trigger fired, only up
                # to (and including) the reply that fired it.
                cut_at = fire[0] if fire else pos
                dst.sendall(buf[:cut_at])
                buf = buf[pos:]
                if fire:
                    self.cut(fire[1])
                    return
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _check(self, command, reply, end):
        with self.lock:
            if self.trigger is None:
                return None
            predicate, outage_s = self.trigger
            name = command[0].upper() if command and isinstance(command[0], bytes) else b""
            if not predicate([name, *command[1:]], reply):
                return None
            self.trigger = None
            self.fired_on = (command, reply)
        self.fired.set()
        return end, outage_s
