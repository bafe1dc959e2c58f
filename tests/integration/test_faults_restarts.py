"""Faults: the region's XMPP server (Prosody) and the store (Redis, AOF on)
restart in the middle of a 100-task workload over 10 agents. Each workload
completes with 0 lost and 0 doubled; what the fault cost is printed against a
baseline run of the same workload."""

import sys
import time
import unittest
from collections import Counter

from stackcase import StackTestCase

FINAL = {"succeeded", "failed", "timed_out", "cancelled", "expired", "skipped"}


def report(line):
    print(f"\n[faults] {line}", file=sys.stderr, flush=True)


class RestartFaultsTest(StackTestCase):
    AGENTS = 10
    JOBS = 10
    SLEEPS = [1 + 0.4 * k for k in range(JOBS)]
    baseline_s = None

    def submit_wave(self, sleeps):
        return [self.stack.submit_job({"command": f"sleep {s}; echo ok", "targets": {"all": True},
                                       "timeout_s": 120}) for s in sleeps]

    def workload(self, name, fault=None):
        """Run the workload (faulting 1.5 s in); return (seconds, job ids)."""
        t0 = time.monotonic()
        job_ids = self.submit_wave(self.SLEEPS[:5])
        time.sleep(1.5)
        if fault:
            counts = Counter(t["state"] for j in job_ids for t in self.stack.tasks(j))
            tf = time.monotonic()
            fault()
            report(f"{name}: fault with tasks {dict(counts)}; the restart itself took "
                   f"{time.monotonic() - tf:.1f}s")
        job_ids += self.submit_wave(self.SLEEPS[5:])
        deadline = time.monotonic() + 240
        for j in job_ids:
            self.stack.wait_job(j, timeout=max(1, deadline - time.monotonic()))
        return time.monotonic() - t0, job_ids

    def audit(self, name, seconds, job_ids):
        starts = Counter(t for i in self.stack.agent_uuids for t in self.stack.agent_journal(i))
        tasks = {t["task_id"]: t for j in job_ids for t in self.stack.tasks(j)}
        states = Counter(t["state"] for t in tasks.values())
        lost = [t for t in tasks if starts[t] == 0]
        doubled = {t: n for t, n in starts.items() if t in tasks and n > 1}
        cost = "" if self.baseline_s is None else f" (fault cost {seconds - self.baseline_s:+.1f}s)"
        report(f"{name}: {len(tasks)} tasks in {seconds:.1f}s{cost}; states {dict(states)}; "
               f"final {sum(states[s] for s in FINAL)}, lost {len(lost)}, doubled {len(doubled)}")
        self.assertEqual(len(tasks), self.JOBS * self.AGENTS)
        self.assertEqual(states["succeeded"], len(tasks), states)
        self.assertEqual(lost, [])
        self.assertEqual(doubled, {})
        for j in job_ids:
            self.assertEqual(self.stack.job(j)["state"], "succeeded")

    def baseline(self):
        if type(self).baseline_s is None:
            seconds, job_ids = self.workload("baseline")
            self.audit("baseline", seconds, job_ids)
            type(self).baseline_s = seconds

    def test_1_prosody_restart(self):
        self.baseline()

        def fault():
            self.stack.restart_process("prosody")

        seconds, job_ids = self.workload("prosody restart", fault)
        self.audit("prosody restart", seconds, job_ids)

    def test_2_redis_restart(self):
        self.baseline()

        def fault():
            self.stack.restart_process("redis")

        seconds, job_ids = self.workload("redis restart", fault)
        self.audit("redis restart", seconds, job_ids)


if __name__ == "__main__":
    unittest.main()
