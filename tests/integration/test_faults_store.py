"""Faults of the store and the XMPP server under jobs with a concurrency
limit, counted by side effects on the agents (their journals), not by the API:
Redis stopped and killed -9 (AOF, appendfsync everysec: a kill may lose the
last second of writes), Prosody stopped and killed -9, each for 2 s once the
workload has started a dozen tasks. Every task must run exactly once and
every job must finish; what each fault cost over a baseline run is printed.

MUSTER_FAULT_REPEAT (default 1) repeats each fault; the long suite
(ci/long-faults.sh) runs 20 of each."""

import os
import statistics
import sys
import time
import unittest
from collections import Counter

from stackcase import StackTestCase, wait_until

FINAL = {"succeeded", "failed", "timed_out", "cancelled", "expired", "skipped"}
REPEAT = int(os.environ.get("MUSTER_FAULT_REPEAT", "1"))
JOBS = 4
COMMAND = "sleep 1; echo ok"
# Each server stays down this long: results and acks arrive meanwhile.
DOWN_S = 2.0


def report(line):
    print(f"\n[store-faults] {line}", file=sys.stderr, flush=True)


class StoreFaultsTest(StackTestCase):
    AGENTS = 10
    results = {}  # scenario -> list of (seconds, lost, doubled, stuck, not succeeded)

    def workload(self, fault=None):
        """JOBS jobs to every agent, concurrency 3; the fault once 12 tasks have
        started. Returns (seconds from the fault (or 12th start) to the last
        job's end, job ids, jobs not final in time)."""
        before = Counter(t for i in self.stack.agent_uuids for t in self.stack.agent_journal(i))
        job_ids = [self.stack.submit_job({"command": COMMAND, "targets": {"all": True}, "concurrency": 3,
                                          "timeout_s": 60, "deadline_s": 120}) for _ in range(JOBS)]

        def started():
            now = Counter(t for i in self.stack.agent_uuids for t in self.stack.agent_journal(i))
            return sum(1 for t in now if now[t] > before[t]) >= 12
        wait_until(started, 60, "12 tasks to start", interval=0.05)
        t0 = time.monotonic()
        if fault:
            fault()
        stuck = []
        deadline = time.monotonic() + 150
        for j in job_ids:
            try:
                self.stack.wait_job(j, timeout=max(1, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001 (counted below)
                stuck.append(j)
        return time.monotonic() - t0, job_ids, stuck

    def audit(self, name, seconds, job_ids, stuck):
        starts = Counter(t for i in self.stack.agent_uuids for t in self.stack.agent_journal(i))
        tasks = {t["task_id"]: t for j in job_ids for t in self.stack.tasks(j)}
        lost = [t for t in tasks if starts[t] == 0]
        doubled = [t for t in tasks if starts[t] > 1]
        states = Counter(t["state"] for t in tasks.values())
        not_ok = len(tasks) - states["succeeded"]
        self.results.setdefault(name, []).append((seconds, len(lost), len(doubled), len(stuck), not_ok))
        report(f"{name}: {len(tasks)} tasks, last job done {seconds:.1f}s after the fault; states "
               f"{dict(states)}; lost {len(lost)}, doubled {len(doubled)}, stuck jobs {len(stuck)}")
        self.assertEqual(len(tasks), JOBS * self.AGENTS)
        self.assertEqual(stuck, [], "every job finishes")
        self.assertEqual(lost, [], "no task is lost")
        self.assertEqual(doubled, [], "no task runs twice")

    def scenario(self, name, fault):
        for _ in range(REPEAT):
            self.stack.wait_agents_online(timeout=60)
            seconds, job_ids, stuck = self.workload(fault)
            self.audit(name, seconds, job_ids, stuck)

    def test_0_baseline(self):
        self.scenario("baseline", None)

    def down_for(self, name, kill):
        """Stop (or kill -9) a server, leave it down DOWN_S, start it again."""
        def fault():
            if kill:
                self.stack.kill_process(name)
            else:
                self.stack.stop_process(name)
            time.sleep(DOWN_S)
            self.stack.start_process(name)
        return fault

    def test_1_redis_restart(self):
        self.scenario("redis restart", self.down_for("redis", kill=False))

    def test_2_redis_kill(self):
        self.scenario("redis kill -9", self.down_for("redis", kill=True))

    def test_3_prosody_restart(self):
        self.scenario("prosody restart", self.down_for("prosody", kill=False))

    def test_4_prosody_kill(self):
        self.scenario("prosody kill -9", self.down_for("prosody", kill=True))

    def test_5_job_submitted_while_prosody_is_down(self):
        # Killed, Prosody tells nobody its agents left: they still look online.
        # Tasks the master took while its component link was down would go
        # nowhere: it takes none until the link is back, then sends at once.
        for _ in range(REPEAT):
            self.stack.wait_agents_online(timeout=60)
            self.stack.kill_process("prosody")
            job_id = self.stack.submit_job({"command": "echo late", "targets": {"all": True}, "timeout_s": 60})
            time.sleep(DOWN_S)
            self.stack.start_process("prosody")  # returns once the hub's component is back in
            back = time.monotonic()
            job = self.stack.wait_job(job_id, timeout=60)
            took = time.monotonic() - back
            self.results.setdefault("job sent while prosody down", []).append((took, 0, 0, 0, 0))
            report(f"job submitted while Prosody was down: {job['state']} {took:.1f}s after Prosody was back")
            self.assertEqual(job["state"], "succeeded", job)
            self.assertLess(took, 10, "the tasks start within seconds of the server's return")

    @classmethod
    def tearDownClass(cls):
        base = [r[0] for r in cls.results.get("baseline", [])]
        base_median = statistics.median(base) if base else None
        for name, runs in cls.results.items():
            secs = [r[0] for r in runs]
            extra = ("" if base_median is None or name.startswith("job sent")
                     else f", extra over baseline {statistics.median(secs) - base_median:+.1f}s")
            report(f"summary {name}: {len(runs)} run(s); median {statistics.median(secs):.1f}s{extra}; "
                   f"lost {sum(r[1] for r in runs)}, doubled {sum(r[2] for r in runs)}, "
                   f"stuck {sum(r[3] for r in runs)}, tasks not succeeded {sum(r[4] for r in runs)}")
        super().tearDownClass()


if __name__ == "__main__":
    unittest.main()
