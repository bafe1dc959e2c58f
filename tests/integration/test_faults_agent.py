"""Faults at the agent: kill -9 mid-task, offline past or within a job's
delivery deadline, and an agent that goes silent without closing its stream.
Counts come from the API and the agents' journals; times are printed."""

import shutil
import signal
import sys
import tempfile
import time
import unittest
from pathlib import Path

from stackcase import StackTestCase, wait_until
from muster_stack import pid_alive  # noqa: E402  (stackcase puts tests/support on the path)


def report(line):
    print(f"\n[faults] {line}", file=sys.stderr, flush=True)


class AgentFaultsTest(StackTestCase):
    AGENTS = 3

    def status(self, i):
        return self.stack.agents()[self.uuid(i)]["status"]

    def ensure_online(self, i):
        if not self.stack.procs[f"agent{i}"].alive():
            self.stack.start_agent(i)
        self.stack.wait_agents_online([i], timeout=120)

    def take_offline(self, i):
        self.stack.stop_agent(i)
        wait_until(lambda: self.status(i) == "offline", 30, f"agent {i} to show offline")

    def test_1_agent_killed_mid_task(self):
        # The task's tree must not outlive its agent unnoticed: the restarted
        # agent finds what is left of it (the journal's tree record), kills it
        # and says so; the task does not reach its end anywhere.
        self.addCleanup(self.ensure_online, 1)
        marks = Path(tempfile.mkdtemp(prefix="muster-kill-"))
        marks.chmod(0o777)
        self.addCleanup(shutil.rmtree, marks, True)
        pid_file, end_file = marks / "pid", marks / "reached-its-end"
        job_id = self.stack.submit_job({"command": f"echo $$ > {pid_file}; sleep 6; touch {end_file}",
                                        "targets": {"agents": [self.uuid(1)]}, "timeout_s": 60})
        task = wait_until(lambda: [t for t in self.stack.tasks(job_id) if t["state"] == "running"],
                          30, "the task to run")[0]
        wait_until(lambda: task["task_id"] in self.stack.agent_journal(1) and pid_file.exists()
                   and pid_file.read_text().strip(), 10, "the journal to record the start")
        task_pid = int(pid_file.read_text())
        time.sleep(1)
        self.stack.kill_agent(1)
        time.sleep(1)
        left_running = pid_alive(task_pid)
        t_restart = time.monotonic()
        self.stack.start_agent(1)
        job = self.stack.wait_job(job_id, timeout=90)
        took = time.monotonic() - t_restart
        task = self.stack.tasks(job_id)[0]
        starts = self.stack.agent_journal(1).count(task["task_id"])
        wait_until(lambda: not pid_alive(task_pid), 10, "the task's shell to be gone")
        time.sleep(7)  # past the task's own end
        report(f"agent kill -9 mid-task: task shell alive while the agent was dead: {left_running}; "
               f"final state {task['state']} {took:.1f}s after the restart; duration "
               f"{task['duration_ms']} ms; error {task['error']!r}; journal starts {starts}; "
               f"reached its end: {end_file.exists()}")
        self.assertEqual(job["state"], "failed", job)
        self.assertEqual(task["state"], "failed", task)
        self.assertTrue((task["error"] or "").startswith("interrupted"), task)
        if left_running:
            self.assertIn("killed when the agent restarted", task["error"])
        self.assertGreater(task["duration_ms"] or 0, 1000, "the duration runs from the task's real start")
        self.assertFalse(end_file.exists(), "no process of the task outlived the agent's restart")
        self.assertEqual(starts, 1)
        # Waiting longer (a resend period and more) does not start it again.
        self.stack.wait_agents_online([1], timeout=60)
        job2, _ = self.stack.run_job({"command": "true", "targets": {"agents": [self.uuid(1)]}})
        self.assertEqual(job2["state"], "succeeded", job2)
        self.assertEqual(self.stack.agent_journal(1).count(task["task_id"]), 1)

    def test_2_offline_within_and_past_deadline(self):
        self.addCleanup(self.ensure_online, 2)
        self.addCleanup(self.ensure_online, 3)
        self.take_offline(2)
        self.take_offline(3)
        deadline_s = 15
        t0 = time.monotonic()
        job_id = self.stack.submit_job({"command": "echo delivered",
                                        "targets": {"agents": [self.uuid(2), self.uuid(3)]},
                                        "deadline_s": deadline_s})
        tasks = {t["agent_id"]: t for t in self.stack.tasks(job_id)}
        time.sleep(3)
        self.assertEqual({t["state"] for t in self.stack.tasks(job_id)}, {"pending"})
        self.stack.start_agent(2)  # back before the deadline
        self.stack.wait_agents_online([2], timeout=60)
        job = self.stack.wait_job(job_id, timeout=deadline_s + 60)
        ended = time.monotonic() - t0
        final = {t["agent_id"]: t for t in self.stack.tasks(job_id)}
        report(f"deadline {deadline_s}s: job ended {ended:.1f}s after submit; states "
               f"{ {k[:8]: t['state'] for k, t in final.items()} }; delivery_failures "
               f"{job.get('delivery_failures')}, execution_failures {job.get('execution_failures')}")
        self.assertGreaterEqual(ended, deadline_s - 1)
        self.assertEqual(final[self.uuid(2)]["state"], "succeeded", final)
        self.assertEqual(final[self.uuid(2)]["stdout"], "delivered\n")
        self.assertEqual(final[self.uuid(3)]["state"], "expired", final)
        self.assertEqual(job["counts"]["expired"], 1, job)
        self.assertEqual(job["counts"]["succeeded"], 1, job)
        self.assertEqual(job["delivery_failures"], 1, job)
        self.assertEqual(job["execution_failures"], 0, job)
        self.assertEqual(job["state"], "failed", job)

        self.stack.start_agent(3)  # back after the deadline
        self.stack.wait_agents_online([3], timeout=60)
        barrier, _ = self.stack.run_job({"command": "true", "targets": {"agents": [self.uuid(3)]}})
        self.assertEqual(barrier["state"], "succeeded", barrier)
        time.sleep(2)
        self.assertEqual(self.stack.agent_journal(2).count(tasks[self.uuid(2)]["task_id"]), 1)
        self.assertNotIn(tasks[self.uuid(3)]["task_id"], self.stack.agent_journal(3))

    def test_3_silent_agent_shown_offline(self):
        proc = self.stack.procs["agent3"]
        self.addCleanup(self.ensure_online, 3)
        self.addCleanup(lambda: proc.alive() and proc.signal(signal.SIGCONT))
        self.stack.wait_agents_online([3], timeout=60)
        t0 = time.monotonic()
        proc.signal(signal.SIGSTOP)  # the TCP connection stays open, nothing answers
        wait_until(lambda: self.status(3) == "offline", 150,
                   "the silenced agent to be shown offline", interval=1)
        detected = time.monotonic() - t0
        report(f"silent agent (SIGSTOP): shown offline after {detected:.1f}s")
        self.assertLessEqual(detected, 100)
        proc.signal(signal.SIGCONT)
        t1 = time.monotonic()
        self.stack.wait_agents_online([3], timeout=120)
        report(f"silent agent (SIGCONT): online again after {time.monotonic() - t1:.1f}s")
        job, tasks = self.stack.run_job({"command": "echo back",
                                         "targets": {"agents": [self.uuid(3)]}}, timeout=90)
        self.assertEqual(job["state"], "succeeded", job)

    def test_4_killed_agent_shown_offline(self):
        # kill -9: the kernel closes the agent's TCP connection; the XMPP
        # server keeps the session for resumption (smacks hibernation, 30 s in
        # the test configuration), then tells the master it left.
        self.addCleanup(self.ensure_online, 2)
        self.stack.wait_agents_online([2], timeout=60)
        t0 = time.monotonic()
        self.stack.kill_agent(2)
        wait_until(lambda: self.status(2) == "offline", 90, "the killed agent to be shown offline", interval=0.5)
        detected = time.monotonic() - t0
        report(f"killed agent (kill -9): shown offline after {detected:.1f}s")
        self.assertLessEqual(detected, 45)


if __name__ == "__main__":
    unittest.main()
