"""Fault: kill -9 of the active master during a 200-task workload over 20
agents in 2 regions (2 shards each) with a standby master. Every task ends,
none is lost, none runs twice, and the standby holds every shard afterwards.

Counts come from the API and from the agents' journals ("start <task> <job>"
lines), never from log text. Times are printed for the report.
"""

import shutil
import sys
import tempfile
import time
import unittest
from collections import Counter

from stackcase import StackTestCase, wait_until
from muster_stack import RegionStack

FINAL = {"succeeded", "failed", "timed_out", "cancelled", "expired", "skipped"}


def report(line):
    print(f"\n[faults] {line}", file=sys.stderr, flush=True)


class RegionStackCase(StackTestCase):
    """StackTestCase on a RegionStack (several regions, standby masters)."""

    REGIONS = ("r1", "r2")
    SHARDS_PER_REGION = 2
    AGENTS_PER_REGION = 10
    STANDBYS = 1

    @classmethod
    def setUpClass(cls):
        cls._failed = False
        cls.state_dir = tempfile.mkdtemp(prefix=f"muster-{cls.__name__}-")
        cls.stack = RegionStack(cls.state_dir, regions=cls.REGIONS,
                                shards_per_region=cls.SHARDS_PER_REGION,
                                agents_per_region=cls.AGENTS_PER_REGION, standbys=cls.STANDBYS,
                                agent_log_level="info")
        cls.addClassCleanup(cls._tear_down_stack)
        try:
            cls.stack.start(agents_timeout=180)
        except BaseException:
            cls._failed = True
            raise


class MasterKillTest(RegionStackCase):
    JOBS = 10          # x 20 agents = 200 tasks
    SLEEPS = [1 + 0.4 * k for k in range(JOBS)]

    def submit_wave(self, jobs):
        return [self.stack.submit_job({"command": f"sleep {s}; echo ok", "targets": {"all": True},
                                       "timeout_s": 120}) for s in jobs]

    def wait_jobs(self, job_ids, timeout):
        deadline = time.monotonic() + timeout
        return [self.stack.wait_job(j, timeout=max(1, deadline - time.monotonic()))
                for j in job_ids]

    def audit(self, job_ids):
        """(tasks by id, lost, doubled, misplaced) over the given jobs."""
        uuid_index = {u: i for i, u in self.stack.agent_uuids.items()}
        starts = Counter()
        where = {}
        for i in self.stack.agent_uuids:
            for t in self.stack.agent_journal(i):
                starts[t] += 1
                where.setdefault(t, set()).add(i)
        tasks = {}
        for j in job_ids:
            for t in self.stack.tasks(j):
                tasks[t["task_id"]] = t
        lost = [t for t in tasks if starts[t] == 0]
        doubled = {t: starts[t] for t in tasks if starts[t] > 1}
        misplaced = [t for t, task in tasks.items()
                     if starts[t] and where[t] != {uuid_index[task["agent_id"]]}]
        return tasks, lost, doubled, misplaced

    def test_kill_active_master(self):
        stack = self.stack
        n_agents = len(stack.agent_uuids)
        self.assertEqual(n_agents, 20)
        leases = stack.leases()
        holders = {v.split(":")[0] for v in leases.values()}
        self.assertEqual(len(holders), 1, f"one process should hold every shard: {leases}")
        active = holders.pop()

        # Baseline: the same workload without a fault.
        t0 = time.monotonic()
        base = self.submit_wave(self.SLEEPS[:5])
        time.sleep(1.5)
        base += self.submit_wave(self.SLEEPS[5:])
        jobs = self.wait_jobs(base, 180)
        baseline_s = time.monotonic() - t0
        self.assertEqual([j["state"] for j in jobs], ["succeeded"] * self.JOBS, jobs)
        report(f"master kill: baseline workload {self.JOBS * n_agents} tasks in {baseline_s:.1f}s")

        # The same workload; kill -9 the active master 1.5 s in.
        t0 = time.monotonic()
        first = self.submit_wave(self.SLEEPS[:5])
        time.sleep(1.5)
        counts_at_kill = Counter(t["state"] for j in first for t in stack.tasks(j))
        stack.kill_process("hub")
        t_kill = time.monotonic()
        report(f"master kill: killed the role-all hub (holder {active}) with tasks {dict(counts_at_kill)}")
        # The API comes back as its own process; the standby must take the shards.
        stack.procs["hub"] = stack.hub_proc("hub", "api")
        stack.procs["hub"].start()
        stack.wait_hub(None)
        second = self.submit_wave(self.SLEEPS[5:])
        taken = {}

        def all_taken():
            for shard, value in stack.leases().items():
                if shard not in taken and value and value.split(":")[0] != active:
                    taken[shard] = (time.monotonic() - t_kill, value)
            return len(taken) == len(leases)

        wait_until(all_taken, 30, "the standby to take every shard", interval=0.1)
        takeover = max(t for t, _ in taken.values())
        report("master kill: takeover per shard: " + ", ".join(
            f"{s.split('.muster')[0]} {t:.1f}s ({leases[s]} -> {v})" for s, (t, v) in sorted(taken.items())))
        report(f"master kill: takeover time {takeover:.1f}s after kill -9")
        standby = {v.split(":")[0] for _, v in taken.values()}
        self.assertEqual(len(standby), 1, taken)
        self.assertTrue(stack.procs["master1"].alive())

        job_ids = first + second
        jobs = self.wait_jobs(job_ids, 240)
        faulted_s = time.monotonic() - t0
        states = Counter(t["state"] for j in job_ids for t in stack.tasks(j))
        tasks, lost, doubled, misplaced = self.audit(job_ids)
        report(f"master kill: workload with kill took {faulted_s:.1f}s "
               f"(fault cost {faulted_s - baseline_s:+.1f}s); task states {dict(states)}")
        report(f"master kill: tasks {len(tasks)}, final {sum(states[s] for s in FINAL)}, "
               f"lost {len(lost)}, doubled {len(doubled)}, misplaced {len(misplaced)}")
        self.assertEqual(len(tasks), self.JOBS * n_agents)
        self.assertEqual(sum(states[s] for s in FINAL), self.JOBS * n_agents, states)
        self.assertEqual(states["succeeded"], self.JOBS * n_agents, states)
        self.assertEqual(lost, [])
        self.assertEqual(doubled, {})
        self.assertEqual(misplaced, [])
        self.assertEqual([j["state"] for j in jobs], ["succeeded"] * self.JOBS)
        # The standby still holds everything a few lease periods later.
        time.sleep(3)
        self.assertEqual({v.split(":")[0] for v in stack.leases().values()}, standby)


if __name__ == "__main__":
    unittest.main()
