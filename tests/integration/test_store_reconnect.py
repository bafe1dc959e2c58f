"""The hub's pooled store connections outlive a Redis restart: the first API
requests after the restart succeed (each dead pooled connection is dropped,
reopened and its command retried once) instead of answering 503."""

import threading
import unittest

from stackcase import StackTestCase

JOB = {"command": "echo after-restart", "targets": {"all": True}}
PARALLEL = 6


class StoreReconnectTest(StackTestCase):
    AGENTS = 1

    def parallel(self, method, path, body=None):
        """PARALLEL requests at once; their (status, body) in order."""
        results = [None] * PARALLEL

        def one(i):
            results[i] = self.stack.api(method, path, body, timeout=30)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(PARALLEL)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    def test_first_requests_after_redis_restart(self):
        # Fill the hub's pool with several connections, all idle when Redis goes.
        for status, body in self.parallel("GET", "/api/v1/jobs"):
            self.assertEqual(status, 200, body)
        self.stack.restart_process("redis")  # returns once Redis answers PING

        status, body = self.stack.api("POST", "/api/v1/jobs", JOB, timeout=30)
        self.assertEqual(status, 201, f"first POST /api/v1/jobs after the restart: {status} {body}")
        job_id = body["id"]
        # Requests that meet the other dead pooled connections get through too.
        for status, body in self.parallel("GET", "/api/v1/jobs"):
            self.assertEqual(status, 200, f"GET /api/v1/jobs after the restart: {status} {body}")

        job = self.stack.wait_job(job_id, timeout=60)
        self.assertEqual(job["state"], "succeeded", job)

    def test_a_store_that_lost_its_scripts(self):
        # The claim and the result's transition meet NOSCRIPT, load the
        # script and run again; the in-flight removal that shares the
        # result's round trip runs once, and nothing stays on the master's
        # watch list.
        self.assertEqual(self.stack.redis_cli("SCRIPT", "FLUSH").strip(), "OK")
        job, tasks = self.stack.run_job({"command": "echo scripts-reloaded", "targets": {"all": True}}, timeout=60)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual([t["stdout"] for t in tasks.values()], ["scripts-reloaded\n"])
        inflight = [k for k in self.stack.redis_cli("--raw", "KEYS", "muster:inflight:*").split() if k]
        for key in inflight:
            self.assertEqual(self.stack.redis_cli("ZCARD", key).strip(), "0", key)


if __name__ == "__main__":
    unittest.main()
