"""Tasks for an offline agent wait for it; cancelling them before dispatch ends them."""

import time
import unittest

from stackcase import StackTestCase, wait_until


class OfflineAgentTest(StackTestCase):
    AGENTS = 2

    def agent_status(self, i):
        status, body = self.stack.api("GET", f"/api/v1/agents/{self.uuid(i)}")
        self.assertEqual(status, 200, body)
        return body["status"]

    def take_offline(self, i):
        self.stack.stop_process(f"agent{i}")
        wait_until(lambda: self.agent_status(i) == "offline", 20,
                   f"agent {i} to show offline after a clean stop")

    def bring_online(self, i):
        self.stack.start_agent(i)
        self.stack.wait_agents_online([i], timeout=60)

    def test_task_waits_for_offline_agent(self):
        self.take_offline(2)
        self.addCleanup(lambda: self.stack.procs["agent2"].alive() or self.bring_online(2))
        job_id = self.stack.submit_job({"command": "echo delivered-late",
                                        "targets": {"agents": [self.uuid(2)]}, "timeout_s": 600})
        time.sleep(2)  # deliberately idle: nothing may happen to the task meanwhile
        job = self.stack.job(job_id)
        self.assertEqual(job["state"], "running", job)
        task = self.stack.tasks(job_id)[0]
        self.assertIn(task["state"], ("pending", "dispatched"), task)

        self.bring_online(2)
        job = self.stack.wait_job(job_id, timeout=60)
        self.assertEqual(job["state"], "succeeded", job)
        task = self.stack.tasks(job_id)[0]
        self.assertEqual(task["stdout"], "delivered-late\n", task)
        self.assertEqual(self.stack.agent_journal(2).count(task["task_id"]), 1)

    def test_cancel_before_dispatch(self):
        self.take_offline(2)
        self.addCleanup(lambda: self.stack.procs["agent2"].alive() or self.bring_online(2))
        job_id = self.stack.submit_job({"command": "echo must-not-run",
                                        "targets": {"agents": [self.uuid(2)]}, "timeout_s": 600})
        task_id = self.stack.tasks(job_id)[0]["task_id"]
        status, body = self.stack.api("POST", f"/api/v1/jobs/{job_id}/cancel")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["id"], job_id, body)
        job = self.stack.wait_job(job_id, timeout=20)
        self.assertEqual(job["state"], "cancelled", job)
        self.assertEqual(job["counts"]["cancelled"], 1, job)
        self.assertEqual(self.stack.tasks(job_id)[0]["state"], "cancelled")
        # Cancelling again: the job is finished.
        status, body = self.stack.api("POST", f"/api/v1/jobs/{job_id}/cancel")
        self.assertEqual((status, body["error"]["code"]), (409, "conflict"), body)

        # When the agent returns, the cancelled task is not delivered.
        self.bring_online(2)
        job, tasks = self.stack.run_job({"command": "echo barrier",
                                         "targets": {"agents": [self.uuid(2)]}}, timeout=60)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertNotIn(task_id, self.stack.agent_journal(2))
        self.assertEqual(self.stack.job(job_id)["state"], "cancelled")

    def test_undelivered_task_expires_at_deadline(self):
        self.take_offline(2)
        self.addCleanup(lambda: self.stack.procs["agent2"].alive() or self.bring_online(2))
        job_id = self.stack.submit_job({"command": "echo too-late", "deadline_s": 2,
                                        "targets": {"agents": [self.uuid(2)]}})
        task_id = self.stack.tasks(job_id)[0]["task_id"]
        job = self.stack.wait_job(job_id, timeout=45)
        self.assertEqual(job["state"], "failed", job)
        self.assertEqual(job["counts"]["expired"], 1, job)
        self.assertEqual(job.get("delivery_failures"), 1, job)
        self.assertEqual(job.get("execution_failures"), 0, job)
        self.assertEqual(self.stack.tasks(job_id)[0]["state"], "expired")
        # The agent comes back and never runs it.
        self.bring_online(2)
        job, _ = self.stack.run_job({"command": "echo barrier",
                                     "targets": {"agents": [self.uuid(2)]}}, timeout=60)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertNotIn(task_id, self.stack.agent_journal(2))

    def test_mixed_online_and_offline(self):
        self.take_offline(2)
        self.addCleanup(lambda: self.stack.procs["agent2"].alive() or self.bring_online(2))
        job_id = self.stack.submit_job({"command": "echo mixed", "targets": {"all": True}})
        wait_until(lambda: self.stack.job(job_id)["counts"]["succeeded"] == 1, 30,
                   "the online agent's task to succeed")
        self.assertEqual(self.stack.job(job_id)["state"], "running")
        self.bring_online(2)
        job = self.stack.wait_job(job_id, timeout=60)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["counts"]["succeeded"], 2, job)


if __name__ == "__main__":
    unittest.main()
