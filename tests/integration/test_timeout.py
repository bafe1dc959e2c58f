"""A job that outlives timeout_s ends timed_out and its whole process tree is gone."""

import os
import random
import signal
import time
import unittest

from stackcase import StackTestCase, wait_until


def pids_with_marker(marker):
    """Live (non-zombie) processes whose command line contains marker."""
    found = {}
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().decode("ascii", "replace").rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if marker in cmd and state not in ("Z", "X"):
            found[int(entry)] = cmd
    return found


class TimeoutTest(StackTestCase):
    AGENTS = 3

    def kill_leftovers(self, marker):
        for pid in pids_with_marker(marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def test_timeout_kills_whole_process_tree(self):
        marker = str(random.randint(10**8, 10**9 - 1))
        self.addCleanup(self.kill_leftovers, marker)
        # Two background sleepers plus the waiting shell, each carrying the marker.
        command = f"sh -c 'sleep 301.{marker} & sleep 302.{marker} & wait' ; echo never"
        target = self.uuid(1)
        started = time.monotonic()
        job_id = self.stack.submit_job(
            {"command": command, "targets": {"agents": [target]}, "timeout_s": 2})

        # The tree really runs (otherwise the check below proves nothing).
        tree = wait_until(lambda: len([c for c in pids_with_marker(marker).values()
                                       if c.startswith("sleep ")]) >= 2 and pids_with_marker(marker),
                          20, "the task's sleep processes to appear")
        self.assertGreaterEqual(len(tree), 3, tree)

        job = self.stack.wait_job(job_id, timeout=30)
        elapsed = time.monotonic() - started
        leftovers = pids_with_marker(marker)
        self.assertEqual(leftovers, {}, "processes of the timed-out tree survived")

        self.assertEqual(job["state"], "failed", job)
        self.assertEqual(job["counts"]["timed_out"], 1, job)
        self.assertLess(elapsed, 12, f"timeout_s 2 took {elapsed:.1f}s to finish the job")
        task = self.stack.tasks(job_id)[0]
        self.assertEqual(task["agent_id"], target)
        self.assertEqual(task["state"], "timed_out", task)
        self.assertNotIn("never", task["stdout"], task)
        self.assertGreaterEqual(task["duration_ms"], 1500, task)
        self.assertLess(task["duration_ms"], 10000, task)

        # The agent is still useful afterwards.
        job, tasks = self.stack.run_job({"command": "echo after", "targets": {"agents": [target]}},
                                        timeout=60)
        self.assertEqual(tasks[target]["stdout"], "after\n", tasks[target])

    def test_cancel_kills_running_tree(self):
        marker = str(random.randint(10**8, 10**9 - 1))
        self.addCleanup(self.kill_leftovers, marker)
        target = self.uuid(2)
        job_id = self.stack.submit_job(
            {"command": f"sh -c 'sleep 304.{marker} & sleep 305.{marker} & wait'",
             "targets": {"agents": [target]}, "timeout_s": 600})
        wait_until(lambda: len(pids_with_marker(marker)) >= 3, 20,
                   "the task's processes to appear")
        wait_until(lambda: self.stack.tasks(job_id)[0]["state"] == "running", 20,
                   "the task to be running")
        status, body = self.stack.api("POST", f"/api/v1/jobs/{job_id}/cancel")
        self.assertEqual(status, 200, body)
        job = self.stack.wait_job(job_id, timeout=30)
        self.assertEqual(job["state"], "cancelled", job)
        task = self.stack.tasks(job_id)[0]
        self.assertEqual(task["state"], "cancelled", task)
        self.assertEqual(pids_with_marker(marker), {}, "processes of the cancelled task survived")

    def test_timeout_on_all_agents(self):
        marker = str(random.randint(10**8, 10**9 - 1))
        self.addCleanup(self.kill_leftovers, marker)
        job, tasks = self.stack.run_job(
            {"command": f"sleep 303.{marker}", "targets": {"all": True}, "timeout_s": 1},
            timeout=30)
        self.assertEqual(job["counts"]["timed_out"], 3, job)
        self.assertEqual({t["state"] for t in tasks.values()}, {"timed_out"}, tasks)
        self.assertEqual(pids_with_marker(marker), {})


if __name__ == "__main__":
    unittest.main()
