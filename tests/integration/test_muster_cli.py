"""`muster`, the operators' command line (docs/cli.md), against a real stack:
the agents table, `run` in its three views (a terminal under tmux, plain lines
when stdout is not a terminal, --json), exit statuses, API errors with their
code, TLS and connection failures with advice, Ctrl-C, and the admin commands."""

import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from stackcase import StackTestCase, StackError, wait_until
from stacklib.util import free_port, require_tool

ESCAPE = "\x1b"


class MusterCliCase(StackTestCase):
    AGENTS = 3

    @classmethod
    def muster_bin(cls):
        return cls.stack.build / "cli" / "muster"

    def setUp(self):
        self.home = Path(tempfile.mkdtemp(dir=self.state_dir, prefix="home-"))

    def env(self, **overrides):
        """The environment demo.env gives, with a private HOME (no profile file)."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home), "LANG": "C.UTF-8",
               "MUSTER_URL": self.stack.hub_url, "MUSTER_TOKEN": self.stack.admin_token,
               "MUSTER_CA": str(self.stack.ca_file)}
        env.update({k: str(v) for k, v in overrides.items()})
        return {k: v for k, v in env.items() if v != ""}

    def muster(self, *args, timeout=90, **env):
        # A new session has no controlling terminal: nothing can ask on /dev/tty.
        res = subprocess.run([str(self.muster_bin()), *map(str, args)], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                             env=self.env(**env), start_new_session=True)
        return res.returncode, res.stdout.decode(errors="replace"), res.stderr.decode(errors="replace")

    def assertExit(self, result, code):
        rc, out, err = result
        self.assertEqual(rc, code, f"exit {rc}\nstdout:\n{out}\nstderr:\n{err}")
        return out, err

    def hostnames(self):
        """What `muster` prints before each line of an agent: host/id-prefix
        here, where every agent runs on this one machine."""
        return {a["id"]: f"{a['hostname']}/{a['id'][:8]}" for a in self.stack.agents().values()}


class PlainAndJsonTest(MusterCliCase):
    def test_agents_table_and_filters(self):
        out, _ = self.assertExit(self.muster("agents"), 0)
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^ID\s+HOSTNAME\s+STATUS\s+REGION\s+VERSION\s+LABELS$")
        for agent_id in self.all_uuids():
            row = next(line for line in lines if line.startswith(agent_id))
            self.assertRegex(row, r"\sonline\s+default\s+0\.1\.0\s+env=test,idx=\d+$")
        self.assertEqual(lines[-1], "3 agents: 3 online")

        out, _ = self.assertExit(self.muster("agents", "--label", "env=other"), 0)
        self.assertEqual(out, "0 agents\n")
        out, _ = self.assertExit(self.muster("agents", "--json", "--status", "online"), 0)
        self.assertEqual({a["id"] for a in json.loads(out)["agents"]}, self.all_uuids())

    def test_run_plain_when_stdout_is_not_a_terminal(self):
        began = time.monotonic()
        out, err = self.assertExit(self.muster("run", "--all", "--", "echo", "hello-from", "'$HOME'"), 0)
        self.assertNotIn(ESCAPE, out + err)
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^job [0-9a-f-]{36}: 3 tasks$")
        for agent_id, name in self.hostnames().items():
            self.assertIn(f"{name}: hello-from $HOME", lines, out)
        self.assertRegex(lines[-2], r"^3 tasks: 3 succeeded in [0-9.]+s$")
        self.assertRegex(lines[-1], r"^job [0-9a-f-]{36} succeeded$")
        print(f"\n  plain run of 3 tasks: {time.monotonic() - began:.2f} s", end=" ")

    def test_run_failure_exits_1_with_stderr_apart(self):
        target = self.uuid(2)
        name = self.hostnames()[target]
        out, err = self.assertExit(
            self.muster("run", "--agent", target, "--", "echo out-line; echo err-line >&2; exit 3"), 1)
        self.assertIn(f"{name}: out-line\n{name}: task failed\n", out)
        self.assertIn(f"{name}: err-line\n", err)
        self.assertNotIn("err-line", out)
        self.assertIn("1 task: 1 failed", out)
        self.assertIn(f"not succeeded: {name} (details: muster job ", out)

    def test_run_json_lines(self):
        out, err = self.assertExit(self.muster("run", "--all", "--json", "--", "echo json-$((20+22))"), 0)
        events = [json.loads(line) for line in out.splitlines()]  # every line is one JSON object
        self.assertEqual(events[0]["event"], "submitted")
        self.assertEqual(events[0]["tasks"], 3)
        job_id = events[0]["job_id"]
        kinds = [e["event"] for e in events]
        self.assertEqual(kinds[-1], "end")
        self.assertEqual(events[-1]["state"], "succeeded")
        self.assertEqual(events[-1]["job"]["counts"]["succeeded"], 3)
        results = [e for e in events if e["event"] == "result"]
        self.assertEqual({r["agent_id"] for r in results}, self.all_uuids())
        for r in results:
            self.assertEqual((r["state"], r["exit_code"], r["stdout"]), ("succeeded", 0, "json-42\n"), r)
        finals = [e for e in events if e["event"] == "state" and e["state"] == "succeeded"]
        self.assertEqual(len(finals), 3)
        outputs = [e for e in events if e["event"] == "output"]
        self.assertTrue(all(e["data"] == "json-42\n" for e in outputs), outputs)
        self.assertEqual(self.stack.job(job_id)["state"], "succeeded")

    def test_dry_run_submits_nothing(self):
        jobs_before = self.stack.api("GET", "/api/v1/jobs")[1]["jobs"]
        out, _ = self.assertExit(self.muster("run", "--label", "env=test", "--dry-run", "--", "reboot"), 0)
        self.assertIn("would run on 3 agents (dry run: nothing submitted)", out)
        self.assertEqual(self.stack.api("GET", "/api/v1/jobs")[1]["jobs"], jobs_before)

    def test_job_jobs_and_cancel_of_a_finished_job(self):
        out, _ = self.assertExit(self.muster("run", "--agent", self.uuid(1), "--", "echo kept-output"), 0)
        job_id = re.search(r"^job ([0-9a-f-]{36}):", out, re.M).group(1)
        out, _ = self.assertExit(self.muster("jobs", "--limit", "5"), 0)
        self.assertRegex(out, rf"(?m)^{job_id}\s+succeeded\s+.*\s1\s+1\s+0\s+echo kept-output$")
        out, _ = self.assertExit(self.muster("job", job_id), 0)
        self.assertIn("state:    succeeded", out)
        self.assertRegex(out, rf"(?m)^\S+\s+{self.uuid(1)}\s+succeeded\s+0\s")
        out, _ = self.assertExit(self.muster("job", job_id, "--output"), 0)
        self.assertEqual(out.splitlines()[-1], f"{self.hostnames()[self.uuid(1)]}: kept-output")
        _, err = self.assertExit(self.muster("cancel", job_id), 3)
        self.assertRegex(err, r"^muster: POST /api/v1/jobs/\S+/cancel: conflict: .* \(HTTP 409\)\n$")


class ErrorsTest(MusterCliCase):
    AGENTS = 1

    def test_api_error_is_one_line_with_its_code(self):
        _, err = self.assertExit(self.muster("agents", MUSTER_TOKEN="not-a-token"), 3)
        self.assertRegex(err, r"^muster: GET /api/v1/agents: unauthorized: .+ \(HTTP 401\)\n$")
        _, err = self.assertExit(self.muster("job", "00000000-0000-4000-8000-000000000000"), 3)
        self.assertRegex(err, r"^muster: GET /api/v1/jobs/\S+: not_found: .+ \(HTTP 404\)\n$")

    def test_agent_by_host_name(self):
        hostname = self.stack.agents()[self.uuid(1)]["hostname"]
        out, _ = self.assertExit(self.muster("run", "--agent", hostname, "--", "echo by-name"), 0)
        self.assertIn(f"{hostname}: by-name\n", out)  # one agent: its host name needs no id
        _, err = self.assertExit(self.muster("run", "--agent", "no-such-host", "--", "true"), 2)
        self.assertIn("--agent no-such-host: no agent has this ID or host name", err)

    def test_wrong_ca_file_says_to_check_it(self):
        other = self.home / "other-ca.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-days", "1", "-subj", "/CN=not the hub's CA", "-keyout",
                        self.home / "other-ca.key", "-out", other], check=True, capture_output=True)
        _, err = self.assertExit(self.muster("agents", MUSTER_CA=other), 4)
        self.assertIn("the hub's certificate does not verify", err)
        self.assertIn(f"check --ca / MUSTER_CA / ca_file ({other})", err)
        self.assertEqual(err.count("\n"), 1, err)

        _, err = self.assertExit(self.muster("agents", MUSTER_CA=self.home / "missing.pem"), 4)
        self.assertIn("cannot use the CA file", err)

        _, err = self.assertExit(self.muster("agents", "--ca", "", MUSTER_CA=""), 4)  # system store only
        self.assertIn("the system CA store; pass --ca FILE or set MUSTER_CA", err)

    def test_unreachable_hub_says_to_check_the_url(self):
        url = f"https://127.0.0.1:{free_port()}"
        _, err = self.assertExit(self.muster("agents", MUSTER_URL=url), 4)
        self.assertRegex(err, rf"^muster: {re.escape(url)}: cannot connect \(.*\); check the hub URL")

    def test_usage_errors_exit_2(self):
        jobs_before = self.stack.api("GET", "/api/v1/jobs")[1]["jobs"]
        for args in (["bogus"], ["run", "--", "uptime"], ["run", "--all"], ["tokens"],
                     ["run", "--all", "--max-failures", "lots", "--", "x"], ["jobs", "--limit", "0"],
                     ["run", "--all", "--show", "some", "--", "x"]):
            _, err = self.assertExit(self.muster(*args), 2)
            self.assertTrue(err.startswith("muster: "), err)
        self.assertEqual(self.stack.api("GET", "/api/v1/jobs")[1]["jobs"], jobs_before, "nothing submitted")
        _, err = self.assertExit(self.muster("agents", MUSTER_URL="", HOME=self.home), 2)
        self.assertIn("no hub URL", err)

    def test_help_documents_every_command(self):
        out, _ = self.assertExit(self.muster("help"), 0)
        for command in ("agents", "agents revoke", "run", "jobs", "job", "cancel", "tokens create",
                        "tokens list", "tokens revoke", "enroll-token create", "audit"):
            self.assertRegex(out, rf"(?m)^  {command}\s")
            page, _ = self.assertExit(self.muster(*command.split(), "--help"), 0)
            self.assertTrue(page.startswith(f"usage: muster {command}"), page)
            self.assertIn("common options:", page)

    def test_profile_file(self):
        token_file = self.home / "token"
        token_file.write_text(self.stack.admin_token + "\n")
        config = self.home / ".config" / "muster" / "config"
        config.parent.mkdir(parents=True)
        config.write_text(f"[lab]\nurl = {self.stack.hub_url}\nca_file = {self.stack.ca_file}\n"
                          f"token_file = ~/token\n")
        self.assertExit(self.muster("agents", "--profile", "lab", MUSTER_URL="", MUSTER_TOKEN="", MUSTER_CA=""), 0)
        _, err = self.assertExit(self.muster("agents", "--profile", "prod"), 2)
        self.assertIn(f"no profile [prod] in {config}", err)

    def test_tokens_and_audit(self):
        out, _ = self.assertExit(self.muster("tokens", "create", "--role", "viewer", "--ttl", "600"), 0)
        token = re.search(r"(?m)^token:\s+(\S+)$", out).group(1)
        token_id = re.search(r"(?m)^id:\s+(\S+)$", out).group(1)
        self.assertExit(self.muster("agents", MUSTER_TOKEN=token), 0)
        _, err = self.assertExit(self.muster("run", "--all", "--", "true", MUSTER_TOKEN=token), 3)
        self.assertIn("forbidden", err)
        out, _ = self.assertExit(self.muster("tokens", "list"), 0)
        self.assertRegex(out, rf"(?m)^{token_id}\s+api\s+viewer\s")
        self.assertExit(self.muster("tokens", "revoke", token_id), 0)
        _, err = self.assertExit(self.muster("agents", MUSTER_TOKEN=token), 3)
        self.assertIn("unauthorized", err)
        out, _ = self.assertExit(self.muster("enroll-token", "create", "--label", "role=web", "--uses", "2"), 0)
        self.assertRegex(out, r"(?m)^labels:\s+role=web$")
        out, _ = self.assertExit(self.muster("audit", "--limit", "10"), 0)
        self.assertRegex(out, rf"(?m)\s201\s+POST\s+/api/v1/tokens\s")
        self.assertRegex(out, rf"(?m)\s200\s+DELETE\s+/api/v1/tokens/{token_id}\s")


class RevokeTest(MusterCliCase):
    AGENTS = 1

    def test_agents_revoke(self):
        agent_id = self.uuid(1)
        out, _ = self.assertExit(self.muster("tokens", "create", "--role", "operator", "--json"), 0)
        operator = json.loads(out)["token"]
        _, err = self.assertExit(self.muster("agents", "revoke", agent_id, MUSTER_TOKEN=operator), 3)
        self.assertIn("forbidden", err)
        out, _ = self.assertExit(self.muster("agents", "revoke", agent_id), 0)
        self.assertRegex(out, rf"^agent {agent_id} \(\S+\) revoked: ")
        out, _ = self.assertExit(self.muster("agents"), 0)
        self.assertEqual(out, "0 agents\n")  # the list leaves revoked agents out
        _, err = self.assertExit(self.muster("run", "--agent", agent_id, "--", "true"), 3)
        self.assertIn("unknown_agent", err)


class InterruptAndResumeTest(MusterCliCase):
    AGENTS = 2

    def start_run(self, *extra, command="sleep 60"):
        proc = subprocess.Popen([str(self.muster_bin()), "run", "--all", *extra, "--", command],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=self.env(), start_new_session=True)
        line = proc.stdout.readline().decode()
        job_id = re.match(r"job (\S+): 2 tasks", line).group(1)
        wait_until(lambda: self.stack.job(job_id)["counts"]["running"] == 2, 30, "both tasks to run")
        return proc, job_id

    def test_cancel_on_interrupt(self):
        proc, job_id = self.start_run("--cancel-on-interrupt")
        proc.send_signal(signal.SIGINT)
        out, err = (s.decode() for s in proc.communicate(timeout=60))
        self.assertEqual(proc.returncode, 5, f"{out}\n{err}")
        self.assertIn(f"cancelling job {job_id}", err)
        self.assertIn("2 tasks: 2 cancelled", out)
        self.assertEqual(self.stack.job(job_id)["state"], "cancelled")

    def test_interrupt_without_a_terminal_leaves_the_job_running(self):
        proc, job_id = self.start_run()
        proc.send_signal(signal.SIGINT)
        out, err = (s.decode() for s in proc.communicate(timeout=30))
        self.assertEqual(proc.returncode, 130, f"{out}\n{err}")
        self.assertIn(f"job {job_id} keeps running; follow it again with: muster job {job_id} --follow", err)
        self.assertEqual(self.stack.job(job_id)["state"], "running")

        # Picked up again: the whole job from its start, to its end.
        follow = subprocess.Popen([str(self.muster_bin()), "job", job_id, "--follow"], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env(),
                                  start_new_session=True)
        self.assertEqual(follow.stdout.readline().decode(), f"job {job_id}: 2 tasks\n")
        self.assertExit(self.muster("cancel", job_id), 0)
        out, err = (s.decode() for s in follow.communicate(timeout=60))
        self.assertEqual(follow.returncode, 5, f"{out}\n{err}")
        self.assertIn("2 tasks: 2 cancelled", out)

    def test_a_restarted_hub_is_followed_where_the_stream_stopped(self):
        proc, job_id = self.start_run(command="sleep 6; echo after-restart")
        began = time.monotonic()
        self.stack.restart_process("hub")
        print(f"\n  hub restarted in {time.monotonic() - began:.1f} s", end=" ")
        out, err = (s.decode() for s in proc.communicate(timeout=90))
        self.assertEqual(proc.returncode, 0, f"{out}\n{err}")
        self.assertIn("; reconnecting", err)
        for name in self.hostnames().values():
            self.assertEqual(out.count(f"{name}: after-restart\n"), 1, out)  # nothing lost, nothing twice
        self.assertIn("2 tasks: 2 succeeded", out)


class TerminalTest(MusterCliCase):
    """The terminal view, read from a tmux pane: a progress line redrawn in
    place that ends in the summary, and Ctrl-C asking whether to cancel."""

    AGENTS = 3

    def setUp(self):
        super().setUp()
        require_tool("tmux")  # ci/install-deps.sh installs it; ci/check-tools.sh checks that

        # One tmux server per test: a server still exiting must not meet the next test.
        self.socket = f"muster-cli-{os.getpid()}-{self._testMethodName}"
        self.addCleanup(subprocess.run, ["tmux", "-L", self.socket, "kill-server"], capture_output=True)

    def tmux(self, *args):
        res = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                             env=self.env(TERM="xterm-256color"))
        if res.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)}: exit {res.returncode}: {res.stderr}")
        return res.stdout

    def start(self, command):
        script = self.home / "run.sh"
        exports = "".join(f"export {k}='{v}'\n" for k, v in self.env().items())
        script.write_text(f"{exports}{self.muster_bin()} {command}\necho EXIT=$?\nsleep 600\n")
        self.tmux("-f", "/dev/null", "new-session", "-d", "-x", "150", "-y", "50", "bash", str(script))

    def pane(self):
        return self.tmux("capture-pane", "-p", "-J")

    def wait_pane(self, pattern, timeout=60):
        try:
            return wait_until(lambda: re.search(pattern, self.pane(), re.M), timeout, f"{pattern!r} in the pane")
        except StackError as e:
            raise AssertionError(f"{e}\npane:\n{self.pane()}") from None

    def test_progress_line_updates_in_place_then_summary(self):
        began = time.monotonic()
        self.start("run --all -- 'sleep 3; echo done-$((6*7))'")
        seen = set()
        def progress_shown():
            text = self.pane()
            lines = [l for l in text.splitlines() if re.search(r"\d+/3 done", l)]
            self.assertLessEqual(len(lines), 1, f"the progress line must be redrawn, not repeated:\n{text}")
            seen.update(re.search(r"(\d+/3 done.*)", l).group(1).split("  ")[0] for l in lines)
            return "EXIT=" in text
        wait_until(progress_shown, 60, "the run to end", interval=0.05)
        text = self.pane()
        self.assertIn("0/3 done", seen, f"no live progress line seen; pane:\n{text}")
        self.assertIn("EXIT=0", text)
        for name in self.hostnames().values():
            self.assertIn(f"{name}: done-42", text)
        self.assertRegex(text, r"(?m)^3 tasks: 3 succeeded in \d")
        self.assertNotRegex(text, r"\d/3 done")  # the summary replaced the progress line
        colored = self.tmux("capture-pane", "-p", "-e")
        self.assertIn(ESCAPE + "[", colored)
        print(f"\n  terminal run (3 tasks of 3 s): {time.monotonic() - began:.2f} s; progress seen: "
              f"{sorted(seen)}", end=" ")

    def test_ctrl_c_asks_then_cancels(self):
        self.start("run --all -- 'sleep 60'")
        self.wait_pane(r"0/3 done  0 ok  0 failed  3 running")
        job_id = re.search(r"job (\S+): 3 tasks", self.pane()).group(1)
        self.tmux("send-keys", "C-c")
        self.wait_pane(rf"Cancel job {job_id}\? \[y/N\]")
        self.tmux("send-keys", "y", "Enter")
        self.wait_pane(r"EXIT=5")
        text = self.pane()
        self.assertIn(f"cancelling job {job_id}", text)
        self.assertRegex(text, r"(?m)^3 tasks: 3 cancelled in ")
        self.assertEqual(self.stack.job(job_id)["state"], "cancelled")


if __name__ == "__main__":
    unittest.main()
