"""Output larger than one XMPP stanza may carry (Prosody: 256 KiB after auth).

The API allows output_quota up to 16 MiB per stream, so a complete result can
be far bigger than a single c2s stanza. It must still arrive, and must never
wedge the agent (a result the server refuses must not loop forever).
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
