"""An agent is offline only when its presence or its pings say so. An
`iq type=error` sent from the agent's own account to its master, with an id
shaped like one of the master's task ids (`t:<uuid>`) though no such task
exists, changes nothing: the agent stays online and its new jobs run."""

import time
import uuid

from stackcase import StackTestCase
from test_security_xmpp import Session


class AgentIqErrorTest(StackTestCase):
    AGENTS = 2

    def test_a_stray_task_error_does_not_mark_the_agent_offline(self):
        info = self.stack.agent_info(1)
        session = Session(info["jid"], info["password"], self.stack.agent_dir(1) / "xmpp-ca.pem",
                          info["xmpp_host"], int(info["xmpp_port"]))
        try:
            for _ in range(3):
                session.raw(f"<iq type='error' id='t:{uuid.uuid4()}' to='{info['master_jid']}'>"
                            "<error type='cancel'><item-not-found "
                            "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>", wait=0.5)
        finally:
            session.close()
        time.sleep(2)  # what the master does with them, it has done by now
        self.assertEqual(self.stack.agents()[self.uuid(1)]["status"], "online")
        job, tasks = self.stack.run_job({"command": "echo still-here",
                                         "targets": {"agents": [self.uuid(1)]}}, timeout=30)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(tasks[self.uuid(1)]["stdout"], "still-here\n")


if __name__ == "__main__":
    import unittest
    unittest.main()
