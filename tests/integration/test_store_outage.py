"""The store goes away at the worst moment, deterministically: a proxy between
the hub and Redis cuts every connection (and refuses new ones for a while)
right after the script that records a result and frees a concurrency slot
has committed, before the master hands that slot to the next waiting task.
The job still completes, every task runs exactly once, and it takes seconds,
not a resend timer.

The window comes from the proxy reading the RESP traffic, not from timing
luck: the trigger is the reply to the transition script that names the
waiting agent to release."""

import os
import re
import sys
import time
import unittest
from collections import Counter

from stackcase import StackTestCase
from store_proxy import StoreProxy

UUID = re.compile(rb"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
OUTAGE_S = 2.0
# The job watch looks at every running job as soon as the store answers
# again, and the greeted agents resend what was refused: seconds, not the
# agents' 30 s resend timer.
RECOVERY_BUDGET_S = 12


def releases_a_slot(command, reply):
    """The reply of a transition (move()'s {moved, agent to release, halted,
    finished}) that took a waiting task off the job's waiting list."""
    return (command[0] == b"EVALSHA" and isinstance(reply, list) and len(reply) == 4
            and reply[0] == 1 and isinstance(reply[1], bytes) and UUID.match(reply[1]) is not None)


def report(line):
    print(f"\n[store-outage] {line}", file=sys.stderr, flush=True)


class StoreOutageTest(StackTestCase):
    AGENTS = 4

    @classmethod
    def prepare_stack(cls, stack):
        cls.proxy = StoreProxy(lambda: ("127.0.0.1", stack.ports["redis"])).start()
        stack.store_proxy = cls.proxy
        cls.addClassCleanup(cls.proxy.stop)

    def run_once(self, label, command="echo one"):
        proxy = self.proxy
        proxy.arm(releases_a_slot, OUTAGE_S)
        t0 = time.monotonic()
        job_id = self.stack.submit_job({"command": command, "targets": {"all": True}, "concurrency": 1,
                                        "timeout_s": 60, "deadline_s": 120})
        self.assertTrue(proxy.fired.wait(60), "no result released a concurrency slot")
        fired = time.monotonic()
        job = self.stack.wait_job(job_id, timeout=90)
        took = time.monotonic() - fired
        tasks = self.stack.tasks(job_id)
        starts = Counter(t for i in self.stack.agent_uuids for t in self.stack.agent_journal(i))
        ran = Counter(starts[t["task_id"]] for t in tasks)
        report(f"{label}: store cut {OUTAGE_S:.0f} s after the slot's release; job {job['state']} "
               f"{took:.1f} s after the cut ({time.monotonic() - t0:.1f} s in all); "
               f"tasks run once {ran[1]}, never {ran[0]}, twice or more {sum(ran[n] for n in ran if n > 1)}")
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(len(tasks), self.AGENTS)
        self.assertEqual(dict(ran), {1: self.AGENTS}, "every task runs exactly once")
        self.assertLess(took, OUTAGE_S + RECOVERY_BUDGET_S, "recovery took too long")
        return took

    def test_cut_after_a_slot_release(self):
        self.run_once("quick tasks")

    def test_cut_after_a_slot_release_repeated(self):
        # The same window, again and again (the long suite repeats it more).
        for i in range(int(os.environ.get("MUSTER_FAULT_REPEAT", "3"))):
            self.run_once(f"repeat {i + 1}", command="sleep 0.2; echo again")


if __name__ == "__main__":
    unittest.main()
