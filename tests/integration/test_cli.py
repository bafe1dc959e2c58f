"""Command-line contract of muster-agent and muster-hub (docs/commands.md): exit
codes, refused enrollments, and the files enrollment leaves behind."""

import os
import stat
import subprocess
import tempfile
import unittest
from pathlib import Path

from stackcase import StackTestCase


def run(argv, timeout=60):
    res = subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return res.returncode, res.stdout.decode(errors="replace"), res.stderr.decode(errors="replace")


class CliTest(StackTestCase):
    AGENTS = 1

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(dir=self.state_dir, prefix="cli-"))
        self.agent = self.stack.agent_bin
        self.hub = self.stack.hub_bin

    def assertExit(self, result, code, what):
        rc, out, err = result
        self.assertEqual(rc, code, f"{what}: exit {rc}\nstdout: {out}\nstderr: {err}")

    def test_version(self):
        for binary in (self.agent, self.hub):
            rc, out, err = run([binary, "version"])
            self.assertEqual(rc, 0, err)
            self.assertIn("0.1.0", out + err)

    def test_usage_errors_exit_2(self):
        self.assertExit(run([self.agent]), 2, "agent without a command")
        self.assertExit(run([self.agent, "no-such-command"]), 2, "agent unknown command")
        self.assertExit(run([self.agent, "run", "--log-level", "loud", "--state-dir", self.tmp]),
                        2, "agent bad log level")
        self.assertExit(run([self.agent, "enroll", "--token", "x"]), 2, "enroll without --hub")
        self.assertExit(run([self.hub]), 2, "hub without --config")
        self.assertExit(run([self.hub, "--config", self.tmp / "missing.ini"]), 2,
                        "hub with a missing config file")
        bad = self.tmp / "bad.ini"
        bad.write_text("[hub]\nrole = everything\n")
        self.assertExit(run([self.hub, "--config", bad]), 2, "hub with an invalid role")

    def test_agent_without_state_exits_3(self):
        self.assertExit(run([self.agent, "run", "--state-dir", self.tmp / "empty"]), 3,
                        "agent run with no state file")
        broken = self.tmp / "broken"
        broken.mkdir()
        (broken / "agent.json").write_text("{ this is not json")
        self.assertExit(run([self.agent, "run", "--state-dir", broken]), 3,
                        "agent run with a corrupt state file")

    def enroll(self, token, state_dir, ca=None):
        return run([self.agent, "enroll", "--hub", self.stack.hub_url, "--token", token,
                    "--ca", ca or self.stack.ca_file, "--state-dir", state_dir])

    def test_enrollment_refusals_exit_1(self):
        self.assertExit(self.enroll("not-a-token", self.tmp / "a"), 1, "enroll with a bad token")
        self.assertFalse((self.tmp / "a" / "agent.json").exists())

        # The stack's own enrollment token had exactly one use, and it is spent.
        self.assertExit(self.enroll(self.stack.enroll_token, self.tmp / "b"), 1,
                        "enroll with a used-up token")
        self.assertFalse((self.tmp / "b" / "agent.json").exists())

        # An API token is not an enrollment token.
        self.assertExit(self.enroll(self.stack.admin_token, self.tmp / "c"), 1,
                        "enroll with an API token")

        # The hub's certificate does not verify against an unrelated CA.
        other_ca = self.tmp / "other-ca.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-keyout", self.tmp / "other-ca.key", "-out", other_ca,
                        "-subj", "/CN=Other CA"], check=True, capture_output=True)
        token = self.stack.create_enroll_token(1)
        self.assertExit(self.enroll(token, self.tmp / "d", ca=other_ca), 1,
                        "enroll against an untrusted certificate")
        self.assertFalse((self.tmp / "d" / "agent.json").exists())
        # The token was not spent by the failed TLS handshake.
        rc, out, err = self.enroll(token, self.tmp / "e")
        self.assertEqual(rc, 0, err)

    def test_enrollment_files(self):
        state = self.stack.agent_dir(1)
        info = self.stack.agent_info(1)
        mode = stat.S_IMODE(os.stat(state / "agent.json").st_mode)
        self.assertEqual(mode, 0o600, f"agent.json mode {mode:o}")
        self.assertEqual(info["jid"], f"{self.uuid(1)}@muster.localhost")
        self.assertEqual(int(info["xmpp_port"]), self.stack.ports["c2s"])
        self.assertEqual(info["master_jid"], "shard0.muster.localhost")
        ca = (state / "xmpp-ca.pem").read_text()
        self.assertEqual(ca.strip(), self.stack.ca_file.read_text().strip())


if __name__ == "__main__":
    unittest.main()
