"""A result produced while the hub is down survives an agent restart and arrives once.

Sequence: the task runs on agent 1; the hub is killed with SIGKILL; the task
finishes, so its result lands in the agent's spool (it cannot be acked); the
agent is stopped with SIGTERM and started again; the hub comes back. The job
must end succeeded with the late output, and the agent's journal must hold the
task id exactly once (it never ran twice).
"""

import time
import unittest

from stackcase import StackTestCase, wait_until


class ResultSpoolTest(StackTestCase):
    def test_unacked_result_survives_agent_and_hub_restart(self):
        stack = self.stack
        target = self.uuid(1)
        job_id = stack.submit_job({"command": "sleep 3; echo late",
                                   "targets": {"agents": [target]}, "timeout_s": 120})

        def running_task():
            tasks = stack.tasks(job_id)
            return tasks[0] if tasks and tasks[0]["state"] == "running" else None

        task = wait_until(running_task, 20, "the task to be running on agent 1", interval=0.1)
        task_id = task["task_id"]

        stack.kill_process("hub")
        self.assertFalse(stack.procs["hub"].alive())

        wait_until(lambda: stack.agent_spool(1), 30,
                   "agent 1 to spool its result while the hub is down", interval=0.2)
        self.assertEqual(stack.agent_journal(1).count(task_id), 1)

        stack.stop_process("agent1")
        self.assertFalse(stack.procs["agent1"].alive())
        self.assertTrue(stack.agent_spool(1), "the spool was emptied without an ack")
        stack.start_agent(1)

        stack.start_process("hub")
        started = time.monotonic()
        job = stack.wait_job(job_id, timeout=90)
        self.assertEqual(job["state"], "succeeded", job)
        task = stack.tasks(job_id)[0]
        self.assertEqual(task["task_id"], task_id)
        self.assertEqual(task["state"], "succeeded", task)
        self.assertEqual(task["exit_code"], 0, task)
        self.assertEqual(task["stdout"], "late\n", task)
        self.assertEqual(stack.agent_journal(1).count(task_id), 1,
                         "the task ran more than once")
        print(f"\nresult arrived {time.monotonic() - started:.1f}s after the hub restart")

        # Once acked, the spool is emptied.
        wait_until(lambda: not stack.agent_spool(1), 40, "agent 1's spool to be emptied")

        # Agent and hub are both fully usable again.
        stack.wait_agents_online(timeout=60)
        job, tasks = stack.run_job({"command": "echo again", "targets": {"all": True}}, timeout=60)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual({t["stdout"] for t in tasks.values()}, {"again\n"})
        self.assertEqual(stack.agent_journal(1).count(task_id), 1)


if __name__ == "__main__":
    unittest.main()
