"""Output larger than a default XMPP stanza (Prosody's default c2s limit is 256 KiB).

output_quota may be up to 1 MiB per stream, so a complete result can reach
about 2 MiB; the test stack's Prosody allows 4 MiB stanzas. The result must
arrive whole, and the agent must keep working afterwards (a result the server
refused would otherwise be resent from the spool on every connect).
"""

import unittest

from stackcase import StackTestCase


class LargeOutputTest(StackTestCase):
    AGENTS = 1

    def test_output_bigger_than_a_stanza_arrives_whole(self):
        target = self.uuid(1)
        # 288,894 bytes of lines, under a 1 MiB quota: nothing may be dropped.
        job, tasks = self.stack.run_job({"command": "seq 1 50000", "output_quota": 1048576,
                                         "targets": {"agents": [target]}}, timeout=60)
        task = tasks[target]
        self.assertEqual(job["state"], "succeeded", job)
        expected = "".join(f"{i}\n" for i in range(1, 50001))
        self.assertEqual(len(task["stdout"]), len(expected))
        self.assertEqual(task["stdout"], expected)
        self.assertFalse(task["truncated"])
        self.assertEqual(task["stdout_dropped"], 0)

    def test_zz_agent_still_works_afterwards(self):
        target = self.uuid(1)
        job, tasks = self.stack.run_job({"command": "echo fine", "targets": {"agents": [target]}},
                                        timeout=60)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(tasks[target]["stdout"], "fine\n")


if __name__ == "__main__":
    unittest.main()
