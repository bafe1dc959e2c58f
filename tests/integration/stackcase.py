"""Shared base class for the integration tests: one private stack per test class."""

import os
import shutil
import sys
import tempfile
import unittest
from pathlib import Path

sys.dont_write_bytecode = True  # keep the source tree clean of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import muster_stack  # noqa: E402  (path set above)
from muster_stack import MusterStack, StackError, tail, wait_until  # noqa: E402,F401


SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                      "SUMMARY: UndefinedBehaviorSanitizer", "WARNING: ThreadSanitizer")


class StackTestCase(unittest.TestCase):
    """Boots a stack with AGENTS agents before the first test of the class.

    The state directory is removed afterwards unless a test failed or
    MUSTER_KEEP_STATE=1; on failure the tails of all logs are printed.
    """

    AGENTS = 3
    XMPP_SERVER = None  # "prosody" or "ejabberd"; None: $MUSTER_XMPP_SERVER or Prosody
    stack = None
    _failed = False

    @classmethod
    def setUpClass(cls):
        cls._failed = False
        cls.state_dir = tempfile.mkdtemp(prefix=f"muster-{cls.__name__}-")
        cls.stack = MusterStack(cls.state_dir, agents=cls.AGENTS, xmpp_server=cls.XMPP_SERVER)
        cls.addClassCleanup(cls._tear_down_stack)
        try:
            cls.prepare_stack(cls.stack)
            cls.stack.start()
        except BaseException:
            cls._failed = True
            raise

    @classmethod
    def prepare_stack(cls, stack):
        """Called before the stack starts: a test class may change it here."""

    @classmethod
    def _tear_down_stack(cls):
        problems = []
        if cls.stack is not None:
            cls.stack.stop()
            problems = cls.shutdown_problems()
        if cls._failed or problems:
            cls.dump_logs()
        if cls._failed or problems or os.environ.get("MUSTER_KEEP_STATE") == "1":
            print(f"\nstack state kept in {cls.state_dir}", file=sys.stderr)
        else:
            shutil.rmtree(cls.state_dir, ignore_errors=True)
        if problems:
            raise AssertionError("Muster processes misbehaved:\n" + "\n".join(problems))

    @classmethod
    def shutdown_problems(cls):
        """Muster processes must exit 0 on SIGTERM and log no sanitizer report."""
        problems = []
        for name, proc in sorted(cls.stack.procs.items()):
            if name not in ("hub",) and not name.startswith("agent"):
                continue
            if proc.last_stop not in (None, "exit 0", "not running"):
                problems.append(f"{name}: on SIGTERM: {proc.last_stop}")
            try:
                text = proc.log.read_text(errors="replace")
            except OSError:
                continue
            for pattern in SANITIZER_PATTERNS:
                at = text.find(pattern)
                if at >= 0:
                    problems.append(f"{name}: sanitizer report in {proc.log}:\n"
                                    f"{text[max(0, at - 200):at + 3000]}")
                    break
        return problems

    @classmethod
    def dump_logs(cls, lines=30):
        if cls.stack is None:
            return
        for name, proc in sorted(cls.stack.procs.items()):
            print(f"\n----- {name}: {proc.log} (last {lines} lines)\n{tail(proc.log, lines)}",
                  file=sys.stderr)

    def run(self, result=None):
        before = (len(result.failures) + len(result.errors)) if result is not None else 0
        outcome = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            type(self)._failed = True
        return outcome

    # -- helpers ------------------------------------------------------------
    def uuid(self, i):
        return self.stack.agent_uuids[i]

    def all_uuids(self):
        return {self.stack.agent_uuids[i] for i in self.stack.agent_uuids}

    def assertApiError(self, response, status, code, msg=None):
        got_status, body = response
        detail = f"{msg + ': ' if msg else ''}got {got_status} {body!r}"
        self.assertEqual(got_status, status, detail)
        self.assertIsInstance(body, dict, detail)
        self.assertIsInstance(body.get("error"), dict, detail)
        self.assertEqual(body["error"].get("code"), code, detail)
        self.assertIsInstance(body["error"].get("message"), str, detail)
        self.assertTrue(body["error"]["message"], detail)
