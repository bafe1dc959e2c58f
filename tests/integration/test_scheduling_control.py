"""Rate control and cancel over 10 agents: concurrency is never exceeded
(the agents record start and end times), max_failures stops dispatch, and a
cancel kills running process trees on the agents."""

import os
import sys
import time
import unittest
import uuid
from pathlib import Path

from stackcase import StackTestCase, wait_until


def report(line):
    print(f"\n[scheduling] {line}", file=sys.stderr, flush=True)


def max_overlap(intervals):
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals],
                    key=lambda e: (e[0], e[1]))  # an end before a start at the same instant
    most = cur = 0
    for _, d in events:
        cur += d
        most = max(most, cur)
    return most


def marked_pids(marker):
    """Pids whose environment carries marker (a task's whole tree inherits it)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if marker.encode() in f.read():
                    pids.append(int(entry))
        except OSError:
            pass
    return pids


class ControlTest(StackTestCase):
    AGENTS = 10

    def test_concurrency_never_exceeded(self):
        times = Path(self.state_dir) / f"times-{uuid.uuid4().hex[:8]}"
        command = (f't0=$(date +%s.%N); sleep 1; t1=$(date +%s.%N); '
                   f'echo "$t0 $t1" >> {times}')
        t0 = time.monotonic()
        job, tasks = self.stack.run_job({"command": command, "targets": {"all": True},
                                         "concurrency": 3, "as_root": True}, timeout=120)
        took = time.monotonic() - t0
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["concurrency"], 3, job)
        lines = times.read_text().split("\n")
        intervals = [tuple(map(float, ln.split())) for ln in lines if ln.strip()]
        self.assertEqual(len(intervals), self.AGENTS)
        on_agents = max_overlap(intervals)
        reported = max_overlap([(t["started_at"], t["finished_at"]) for t in tasks.values()])
        report(f"concurrency 3 over {self.AGENTS} agents: at most {on_agents} commands at once "
               f"(agents' clocks), {reported} by reported times; job took {took:.1f}s")
        self.assertLessEqual(on_agents, 3)
        self.assertLessEqual(reported, 3)
        self.assertGreaterEqual(on_agents, 2, "concurrency 3 should still run tasks in parallel")

    def test_concurrency_percentage(self):
        job, tasks = self.stack.run_job({"command": "true", "targets": {"all": True},
                                         "concurrency": "20%"}, timeout=120)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["concurrency"], 2, job)

    def test_max_failures_stops_dispatch(self):
        before = {i: len(self.stack.agent_journal(i)) for i in self.stack.agent_uuids}
        job, tasks = self.stack.run_job({"command": "sleep 0.2; exit 3", "targets": {"all": True},
                                         "concurrency": 1, "max_failures": 2}, timeout=120)
        started = sum(len(self.stack.agent_journal(i)) - before[i] for i in self.stack.agent_uuids)
        states = [t["state"] for t in tasks.values()]
        report(f"max_failures 2 (concurrency 1): counts {job['counts']}, halted {job['halted']}, "
               f"journal starts {started}")
        self.assertEqual(job["state"], "failed", job)
        self.assertTrue(job["halted"], job)
        self.assertEqual(job["max_failures"], 2, job)
        self.assertEqual(states.count("failed"), 2, states)
        self.assertEqual(states.count("skipped"), self.AGENTS - 2, states)
        self.assertEqual(job["execution_failures"], 2, job)
        self.assertEqual(job["counts"]["skipped"], self.AGENTS - 2, job)
        self.assertEqual(started, 2)

    def test_max_failures_without_concurrency_stops_the_rest(self):
        # All tasks go out at once; whatever had not ended when the limit was
        # reached still ends, and nothing is dispatched after.
        job, tasks = self.stack.run_job({"command": "exit 1", "targets": {"all": True},
                                         "max_failures": "10%"}, timeout=120)
        self.assertEqual(job["max_failures"], 1, job)
        self.assertTrue(job["halted"], job)
        self.assertEqual(job["state"], "failed", job)
        self.assertEqual(set(t["state"] for t in tasks.values()) - {"failed", "skipped"}, set())

    def test_cancel_kills_running_trees(self):
        marker = f"MUSTER_CANCEL_{uuid.uuid4().hex}"
        command = f"export MARK={marker}; sleep 300 & sh -c 'sleep 300'; wait"
        targets = [self.uuid(i) for i in (1, 2, 3)]
        job_id = self.stack.submit_job({"command": command, "targets": {"agents": targets},
                                        "timeout_s": 600})
        wait_until(lambda: self.stack.job(job_id)["counts"]["running"] == 3, 30,
                   "the three tasks to run")
        wait_until(lambda: len(marked_pids(marker)) >= 9, 15, "every task's tree to be up")
        before = len(marked_pids(marker))
        t0 = time.monotonic()
        status, body = self.stack.api("POST", f"/api/v1/jobs/{job_id}/cancel")
        self.assertEqual(status, 200, body)
        job = self.stack.wait_job(job_id, timeout=60)
        ended = time.monotonic() - t0
        wait_until(lambda: not marked_pids(marker), 15, "the tasks' processes to be gone")
        gone = time.monotonic() - t0
        tasks = self.stack.tasks(job_id)
        report(f"cancel: {before} processes over 3 agents; job {job['state']} after {ended:.1f}s, "
               f"processes gone after {gone:.1f}s; task states {[t['state'] for t in tasks]}")
        self.assertEqual(job["state"], "cancelled", job)
        self.assertEqual([t["state"] for t in tasks], ["cancelled"] * 3, tasks)
        self.assertEqual(job["counts"]["cancelled"], 3, job)
        self.assertTrue(job["cancel_requested"], job)
        status, body = self.stack.api("POST", f"/api/v1/jobs/{job_id}/cancel")
        self.assertEqual(status, 409, body)


if __name__ == "__main__":
    unittest.main()
