"""The stack heals: store outages answer 503 and recover; restarts of the XMPP
server and of the hub bring every agent back online and jobs run again."""

import unittest

from stackcase import StackTestCase, wait_until


class RestartsTest(StackTestCase):
    AGENTS = 3

    def assert_jobs_work(self, word):
        job, tasks = self.stack.run_job({"command": f"echo {word}", "targets": {"all": True}},
                                        timeout=60)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(set(tasks), self.all_uuids())
        self.assertEqual({t["stdout"] for t in tasks.values()}, {f"{word}\n"})

    def test_1_store_outage(self):
        self.stack.stop_process("redis")
        try:
            status, body = self.stack.api("GET", "/api/v1/jobs", timeout=30)
            self.assertEqual(status, 503, body)
            self.assertEqual(body["error"]["code"], "unavailable", body)
            status, body = self.stack.api("POST", "/api/v1/jobs",
                                          {"command": "true", "targets": {"all": True}},
                                          timeout=30)
            self.assertEqual((status, body["error"]["code"]), (503, "unavailable"), body)
            status, body = self.stack.api("GET", "/healthz", token=None, timeout=30)
            self.assertNotEqual((status, body and body.get("store")), (200, "ok"),
                                "healthz claims the store is fine while it is down")
        finally:
            self.stack.start_process("redis")
        wait_until(lambda: self.stack.api("GET", "/api/v1/jobs")[0] == 200, 30,
                   "the API to answer again after the store came back")
        self.assert_jobs_work("after-store")

    def test_2_xmpp_server_restart(self):
        self.stack.restart_process("prosody")
        self.stack.wait_agents_online(timeout=90)
        self.assert_jobs_work("after-xmpp")

    def test_3_hub_restart(self):
        self.stack.restart_process("hub")
        self.stack.wait_agents_online(timeout=60)
        self.assert_jobs_work("after-hub")

    def test_4_hub_crash(self):
        self.stack.kill_process("hub")
        self.stack.start_process("hub")
        self.stack.wait_agents_online(timeout=60)
        self.assert_jobs_work("after-crash")


if __name__ == "__main__":
    unittest.main()
