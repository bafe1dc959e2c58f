"""`muster-agent run --config FILE`: enrollment on first start, as the Linux
packages use it. A refused token is logged and retried without the agent
exiting; a corrected token in the file is picked up at the next attempt; the
token is then emptied in the file; a restarted agent never enrolls again."""

import re
import unittest

from stackcase import StackTestCase, wait_until
from muster_stack import Proc


class AgentConfigEnrollTest(StackTestCase):
    AGENTS = 0

    def conf_text(self, token):
        return (f"# written by the test\nhub_url = {self.stack.hub_url}\nca_file = {self.stack.ca_file}\n"
                f"enroll_token = {token}\nlabels = env=test, source=config\n"
                f"state_dir = {self.state}\nlog_level = debug\n")

    def start_agent(self, name):
        proc = Proc(name, [str(self.stack.agent_bin), "run", "--config", str(self.conf)],
                    self.stack.dir / f"{name}.log", cwd=self.stack.dir)
        self.stack.procs[name] = proc
        proc.start()
        return proc

    def test_enrolls_once_and_forgets_the_token(self):
        self.state = self.stack.dir / "config-agent"
        self.conf = self.stack.dir / "agent.conf"
        self.conf.write_text(self.conf_text("not-a-valid-token"))
        proc = self.start_agent("agent-config")
        wait_until(lambda: "enrollment refused (HTTP 401" in proc.log.read_text(), 30,
                   "the refused enrollment to be logged", check=proc.check_running)
        self.assertIn("next attempt in about 10 s", proc.log.read_text())

        # Fixed in the file while the agent waits: no restart needed.
        self.conf.write_text(self.conf_text(self.stack.create_enroll_token(1)))
        wait_until(lambda: (self.state / "agent.json").exists(), 40, "enrollment with the corrected token",
                   check=proc.check_running)
        uuid = re.search(r'"uuid"\s*:\s*"([^"]+)"', (self.state / "agent.json").read_text()).group(1)
        wait_until(lambda: self.stack.agents().get(uuid, {}).get("status") == "online", 30, "the agent online")
        text = self.conf.read_text()
        self.assertRegex(text, r"(?m)^enroll_token =$")
        self.assertIn(f"enroll_token was used to enroll as {uuid} and is not kept", text)
        self.assertIn("labels = env=test, source=config", text, "other lines must stay as they were")
        self.assertEqual(self.stack.agents()[uuid]["labels"].get("source"), "config")

        job, tasks = self.stack.run_job({"command": "echo from-config", "targets": {"agents": [uuid]}})
        self.assertEqual(tasks[uuid]["stdout"], "from-config\n", tasks[uuid])

        # Restarted with a state file: no enrollment, even with a token in the file.
        proc.stop()
        self.conf.write_text(self.conf_text("another-token"))
        proc2 = self.start_agent("agent-config-2")
        wait_until(lambda: "connected (TLS on)" in proc2.log.read_text(), 30,
                   "the restarted agent to connect", check=proc2.check_running)
        log = proc2.log.read_text()
        self.assertNotIn("not enrolled yet", log)
        self.assertNotIn("enrolled as", log)
        self.assertIn("enroll_token = another-token", self.conf.read_text(), "an enrolled agent left the file alone")
        self.assertIn(uuid, (self.state / "agent.json").read_text())
        self.assertEqual(len(self.stack.agents()), 1)


if __name__ == "__main__":
    unittest.main()
