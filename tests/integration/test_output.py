"""Output handling: the quota keeps head and tail and counts dropped bytes; bytes
that are not UTF-8 become U+FFFD; XML-special text survives the stanza."""

import unittest

from stackcase import StackTestCase


class OutputTest(StackTestCase):
    AGENTS = 1

    def run_one(self, job, timeout=60):
        job = dict(job, targets={"agents": [self.uuid(1)]})
        done, tasks = self.stack.run_job(job, timeout=timeout)
        return done, tasks[self.uuid(1)]

    def test_quota_keeps_head_and_tail(self):
        # 20000 bytes: "A" * 10000 then "B" * 10000, no newline; quota 1024.
        job, task = self.run_one({"command": "head -c 10000 /dev/zero | tr '\\0' A; "
                                             "head -c 10000 /dev/zero | tr '\\0' B",
                                  "output_quota": 1024})
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(task["stdout"], "A" * 512 + "B" * 512, task["stdout"][:80])
        self.assertEqual(task["stdout_dropped"], 20000 - 1024, task)
        self.assertTrue(task["truncated"], task)
        self.assertEqual(task["stderr_dropped"], 0, task)

    def test_stderr_quota_is_separate(self):
        job, task = self.run_one({"command": "echo out; head -c 5000 /dev/zero | tr '\\0' E >&2",
                                  "output_quota": 1024})
        self.assertEqual(task["stdout"], "out\n", task)
        self.assertEqual(task["stdout_dropped"], 0, task)
        self.assertEqual(task["stderr"], "E" * 1024, task)
        self.assertEqual(task["stderr_dropped"], 5000 - 1024, task)
        self.assertTrue(task["truncated"], task)

    def test_invalid_utf8_is_replaced(self):
        job, task = self.run_one({"command": "printf 'a\\377b\\n'; printf '\\303\\251\\n'"})
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(task["stdout"], "a\ufffdb\n\u00e9\n", task)

    def test_xml_special_characters_survive(self):
        text = "<task xmlns='x'>&amp; \"quoted\" ]]> </iq>"
        job, task = self.run_one({"argv": ["/bin/echo", text]})
        self.assertEqual(task["stdout"], text + "\n", task)


if __name__ == "__main__":
    unittest.main()
