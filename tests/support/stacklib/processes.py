"""Processes of the stack: started in their own process group, tied to the
test process (they die with it), stopped with their whole group."""

import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

from stacklib.util import StackError, tail, pid_alive


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
