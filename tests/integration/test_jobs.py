"""Jobs on three agents through the REST API: output, exit codes, stderr, targeting."""

import os
import pwd
import socket
import unittest
from pathlib import Path

import yaml

from stackcase import StackTestCase

FINAL = {"succeeded", "failed", "timed_out", "cancelled", "expired"}


class JobsTest(StackTestCase):
    def check_task_shape(self, task):
        for field in ("agent_id", "task_id", "state", "exit_code", "signal", "stdout", "stderr",
                      "truncated", "stdout_dropped", "stderr_dropped", "started_at",
                      "finished_at", "duration_ms", "error"):
            self.assertIn(field, task, f"task lacks {field}: {task}")
        self.assertIn(task["state"], FINAL, task)

    def test_command_runs_on_every_agent(self):
        command = "echo hello-$(hostname); uname -a; id"
        job, tasks = self.stack.run_job(
            {"command": command, "targets": {"all": True}, "timeout_s": 60}, timeout=60)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["command"], command)
        self.assertEqual(job["total"], 3, job)
        self.assertEqual(job["counts"]["succeeded"], 3, job)
        self.assertIsNotNone(job["finished_at"], job)
        self.assertEqual(set(tasks), self.all_uuids(), "one task per enrolled agent")

        agents = self.stack.agents()
        hostname = socket.gethostname()
        for agent_id, task in tasks.items():
            self.check_task_shape(task)
            self.assertEqual(task["state"], "succeeded", task)
            self.assertEqual(task["exit_code"], 0, task)
            self.assertIsNone(task["signal"], task)
            self.assertEqual(task["stderr"], "", task)
            lines = task["stdout"].splitlines()
            self.assertEqual(len(lines), 3, task)
            self.assertEqual(lines[0], f"hello-{hostname}", task)
            self.assertEqual(lines[0], f"hello-{agents[agent_id]['hostname']}", task)
            self.assertTrue(lines[1].startswith("Linux "), task)
            self.assertIn(hostname, lines[1], task)
            # The user tasks run as is the agent's choice (docs do not fix it); only
            # the shape of `id` output is checked.
            self.assertRegex(lines[2], r"^uid=\d+\(.*\) gid=\d+\(", task)
            self.assertLessEqual(task["started_at"], task["finished_at"], task)
            self.assertGreaterEqual(task["duration_ms"], 0, task)

        # The job shows up in the list, newest first.
        status, body = self.stack.api("GET", "/api/v1/jobs")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["jobs"][0]["id"], job["id"], body)

    def test_failing_command_reports_exit_code_and_stderr(self):
        target = self.uuid(2)
        job, tasks = self.stack.run_job(
            {"command": "echo out-line; echo err-line >&2; exit 3",
             "targets": {"agents": [target]}, "timeout_s": 30}, timeout=60)
        self.assertEqual(job["state"], "failed", job)
        self.assertEqual(job["total"], 1, job)
        self.assertEqual(job["counts"]["failed"], 1, job)
        self.assertEqual(set(tasks), {target})
        task = tasks[target]
        self.check_task_shape(task)
        self.assertEqual(task["state"], "failed", task)
        self.assertEqual(task["exit_code"], 3, task)
        self.assertIsNone(task["signal"], task)
        self.assertEqual(task["stdout"], "out-line\n", task)
        self.assertEqual(task["stderr"], "err-line\n", task)

    def test_argv_job_runs_without_shell(self):
        target = self.uuid(3)
        job, tasks = self.stack.run_job(
            {"argv": ["/bin/echo", "two words", "$HOME"], "targets": {"agents": [target]}},
            timeout=60)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(tasks[target]["stdout"], "two words $HOME\n", tasks[target])

    def test_missing_program_fails(self):
        target = self.uuid(1)
        job, tasks = self.stack.run_job(
            {"argv": ["/nonexistent/muster-no-such-program"], "targets": {"agents": [target]}},
            timeout=60)
        self.assertEqual(job["state"], "failed", job)
        self.assertEqual(tasks[target]["state"], "failed", tasks[target])

    def test_label_targets_select_agents(self):
        job, tasks = self.stack.run_job(
            {"command": "echo labelled", "targets": {"labels": {"idx": "2"}}}, timeout=60)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(set(tasks), {self.uuid(2)}, tasks)
        # Enrollment-token labels are kept under the agent's own.
        job, tasks = self.stack.run_job(
            {"command": "echo all-env", "targets": {"labels": {"env": "test"}}}, timeout=60)
        self.assertEqual(set(tasks), self.all_uuids(), tasks)
        # A union of an explicit agent and a label.
        job, tasks = self.stack.run_job(
            {"command": "true", "targets": {"agents": [self.uuid(1)], "labels": {"idx": "3"}}},
            timeout=60)
        self.assertEqual(set(tasks), {self.uuid(1), self.uuid(3)}, tasks)

    def test_agent_indexes_are_rebuilt_for_agents_enrolled_before_them(self):
        # A store from before the label index: no label sets, no version mark.
        r = self.stack.redis_cli
        label_sets = r("--raw", "KEYS", "muster:agents:{*}:label:*").split()
        self.assertIn("muster:agents:{default}:label:idx=2", label_sets)
        r("DEL", "muster:agent-index-version", "muster:agents:{default}:by-id", *label_sets)
        self.stack.restart_process("hub")
        self.stack.wait_agents_online(timeout=60)
        self.assertEqual(r("--raw", "GET", "muster:agent-index-version").strip(), "1")
        self.assertEqual(sorted(r("--raw", "KEYS", "muster:agents:{*}:label:*").split()), sorted(label_sets))
        self.assertEqual(set(r("--raw", "ZRANGE", "muster:agents:{default}:by-id", "0", "-1").split()),
                         self.all_uuids())
        job, tasks = self.stack.run_job(
            {"command": "true", "targets": {"labels": {"idx": "2", "env": "test"}}}, timeout=60)
        self.assertEqual((job["state"], set(tasks)), ("succeeded", {self.uuid(2)}), job)

    def test_task_user(self):
        """An agent running as root runs tasks as `nobody` unless an admin signs as_root."""
        if os.getuid() != 0:
            self.fail("the stack's agents must run as root for this test")
        nobody = pwd.getpwnam("nobody").pw_uid
        target = self.uuid(1)
        job, tasks = self.stack.run_job({"command": "id -u", "targets": {"agents": [target]}},
                                        timeout=60)
        self.assertEqual(tasks[target]["stdout"], f"{nobody}\n", tasks[target])
        job, tasks = self.stack.run_job({"command": "id -u", "as_root": True,
                                         "targets": {"agents": [target]}}, timeout=60)
        self.assertEqual(tasks[target]["stdout"], "0\n", tasks[target])
        # Only an admin may ask for root.
        status, body = self.stack.api("POST", "/api/v1/tokens",
                                      {"kind": "api", "role": "operator", "ttl_s": 3600})
        self.assertEqual(status, 201, body)
        status, body = self.stack.api("POST", "/api/v1/jobs",
                                      {"command": "id -u", "as_root": True,
                                       "targets": {"agents": [target]}}, token=body["token"])
        self.assertEqual(status, 403, body)
        self.assertEqual(body["error"]["code"], "forbidden", body)

    def test_the_openapi_document_is_served_without_a_token(self):
        status, served = self.stack.api("GET", "/api/v1/openapi.json", token=None)
        self.assertEqual(status, 200, served)
        document = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
        self.assertEqual(served, yaml.safe_load(document.read_text()))

    def test_agents_endpoint_describes_agents(self):
        status, body = self.stack.api("GET", "/api/v1/agents")
        self.assertEqual(status, 200, body)
        self.assertEqual({a["id"] for a in body["agents"]}, self.all_uuids())
        self.assertEqual((body["total"], body["next_cursor"]), (len(self.all_uuids()), None), body)
        # Pages in id order, each naming the next.
        first = self.stack.api("GET", "/api/v1/agents?limit=2")[1]
        self.assertEqual([a["id"] for a in first["agents"]], sorted(self.all_uuids())[:2], first)
        self.assertEqual(first["next_cursor"], first["agents"][-1]["id"])
        rest = self.stack.api("GET", f"/api/v1/agents?limit=2&cursor={first['next_cursor']}")[1]
        self.assertEqual([a["id"] for a in rest["agents"]], sorted(self.all_uuids())[2:], rest)
        self.assertApiError(self.stack.api("GET", "/api/v1/agents?cursor=12.5"), 400, "invalid_field")
        for i, agent_id in self.stack.agent_uuids.items():
            status, agent = self.stack.api("GET", f"/api/v1/agents/{agent_id}")
            self.assertEqual(status, 200, agent)
            self.assertEqual(agent["id"], agent_id)
            self.assertEqual(agent["status"], "online", agent)
            self.assertEqual(agent["labels"].get("idx"), str(i), agent)
            self.assertEqual(agent["labels"].get("env"), "test", agent)
            self.assertEqual(agent["shard"], "shard0.muster.localhost", agent)
            self.assertEqual(agent["os"], "linux", agent)


if __name__ == "__main__":
    unittest.main()
