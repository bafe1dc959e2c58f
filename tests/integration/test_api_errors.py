"""Bad API input gets the documented 4xx status and error code, and changes nothing."""

import json
import unittest
import uuid

from stackcase import StackTestCase, wait_until

VALID = {"command": "true", "targets": {"all": True}}


class ApiErrorsTest(StackTestCase):
    AGENTS = 3

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        stack = cls.stack
        status, body = stack.api("POST", "/api/v1/tokens",
                                 {"kind": "api", "role": "viewer", "ttl_s": 3600})
        assert status == 201, (status, body)
        cls.viewer_token = body["token"]
        cls.enroll_only_token = stack.create_enroll_token(5)

    def snapshot(self):
        """(job count, job ids, store key count) once no job runs and the store is quiet."""
        def quiet_jobs():
            status, body = self.stack.api("GET", "/api/v1/jobs")
            self.assertEqual(status, 200, body)
            if any(j["state"] == "running" for j in body["jobs"]):
                return None
            return (body["jobs"],)  # a tuple, so that an empty list counts as done

        (jobs,) = wait_until(quiet_jobs, 60, "every job to finish before comparing the store")
        return len(jobs), [j["id"] for j in jobs], self.settled_dbsize()

    def settled_dbsize(self, readings=5, timeout=20):
        """DBSIZE once it read the same value `readings` times in a row, 0.2 s apart
        (background work of the hub, e.g. leases, must not count as a change)."""
        seen = []

        def stable():
            seen.append(self.stack.redis_dbsize())
            return len(seen) >= readings and len(set(seen[-readings:])) == 1

        wait_until(stable, timeout, "the store's key count to settle", interval=0.2)
        return seen[-1]

    def assertUnchanged(self, before):
        self.assertEqual(self.snapshot(), before, "a refused request changed the store")

    def post_job(self, body, **kw):
        return self.stack.api("POST", "/api/v1/jobs", body, **kw)

    def test_bad_json(self):
        before = self.snapshot()
        for raw in (b"{not json", b"", b"[1, 2]", b"\"text\"", b"null", b"{\"command\": \"true\",",
                    b"\xff\xfe{}", b"{\"command\": \"true\", \"targets\": {\"all\": true}} trailing"):
            with self.subTest(body=raw):
                self.assertApiError(self.post_job(raw), 400, "bad_json")
        self.assertUnchanged(before)

    def test_wrong_types_and_values(self):
        before = self.snapshot()
        cases = [
            {"command": 42, "targets": {"all": True}},
            {"command": "", "targets": {"all": True}},
            {"argv": "echo hi", "targets": {"all": True}},
            {"argv": ["echo", 1], "targets": {"all": True}},
            {"argv": [], "targets": {"all": True}},
            {"command": "true", "targets": "all"},
            {"command": "true", "targets": {"all": "yes"}},
            {"command": "true", "targets": {"agents": "x"}},
            {"command": "true", "targets": {"labels": {"k": 1}}},
            {"command": "true", "targets": {"all": True}, "timeout_s": "60"},
            {"command": "true", "targets": {"all": True}, "timeout_s": 0},
            {"command": "true", "targets": {"all": True}, "timeout_s": 86401},
            {"command": "true", "targets": {"all": True}, "timeout_s": 1.5},
            {"command": "true", "targets": {"all": True}, "output_quota": 1023},
            {"command": "true", "targets": {"all": True}, "output_quota": 1048577},
            {"command": "true", "targets": {"all": True}, "output_quota": 16777216},
        ]
        for body in cases:
            with self.subTest(body=body):
                self.assertApiError(self.post_job(body), 400, "invalid_field")
        self.assertUnchanged(before)

    def test_missing_fields(self):
        before = self.snapshot()
        for body in ({"targets": {"all": True}}, {"command": "true"}, {}):
            with self.subTest(body=body):
                self.assertApiError(self.post_job(body), 400, "missing_field")
        # Both command and argv: exactly one is allowed. The spec names no code for
        # this case; either of the two field errors is acceptable.
        status, resp = self.post_job({"command": "true", "argv": ["true"],
                                      "targets": {"all": True}})
        self.assertEqual(status, 400, resp)
        self.assertIn(resp["error"]["code"], ("invalid_field", "missing_field"), resp)
        self.assertUnchanged(before)

    def test_null_is_not_a_value(self):
        """null has the wrong type for every field (the spec knows no "null means default")."""
        before = self.snapshot()
        for body in (dict(VALID, timeout_s=None), dict(VALID, output_quota=None),
                     dict(VALID, argv=None)):
            with self.subTest(body=body):
                status, resp = self.post_job(body)
                self.assertEqual(status, 400, f"null accepted: {body} -> {status} {resp}")
                self.assertIn(resp["error"]["code"], ("invalid_field", "missing_field"), resp)
        self.assertUnchanged(before)

    def test_unknown_fields(self):
        before = self.snapshot()
        for body in (dict(VALID, priority=5), dict(VALID, timeout=60),
                     {"command": "true", "targets": {"all": True, "hosts": ["a"]}}):
            with self.subTest(body=body):
                self.assertApiError(self.post_job(body), 400, "unknown_field")
        self.assertApiError(self.stack.api("POST", "/api/v1/tokens",
                                           {"kind": "api", "role": "viewer", "ttl_s": 60,
                                            "colour": "red"}), 400, "unknown_field")
        self.assertUnchanged(before)

    def test_unknown_agent_and_no_targets(self):
        before = self.snapshot()
        ghost = str(uuid.uuid4())
        self.assertApiError(self.post_job({"command": "true", "targets": {"agents": [ghost]}}),
                            400, "unknown_agent")
        # One real and one unknown agent: refused as a whole.
        self.assertApiError(self.post_job({"command": "true",
                                           "targets": {"agents": [self.uuid(1), ghost]}}),
                            400, "unknown_agent")
        self.assertApiError(self.post_job({"command": "true",
                                           "targets": {"labels": {"idx": "no-such"}}}),
                            400, "no_targets")
        # Empty selectors: the spec does not say whether they are missing or resolve to
        # nothing, so either code is accepted.
        for targets in ({}, {"agents": []}, {"all": False}):
            with self.subTest(targets=targets):
                status, resp = self.post_job({"command": "true", "targets": targets})
                self.assertEqual(status, 400, resp)
                self.assertIn(resp["error"]["code"], ("no_targets", "missing_field"), resp)
        self.assertUnchanged(before)

    def test_authentication(self):
        before = self.snapshot()
        api = self.stack.api
        self.assertApiError(self.post_job(VALID, token=None), 401, "unauthorized", "no token")
        self.assertApiError(self.post_job(VALID, token="not-a-real-token"), 401, "unauthorized",
                            "wrong token")
        self.assertApiError(self.post_job(VALID, token=self.stack.admin_token + "x"), 401,
                            "unauthorized", "token with extra character")
        self.assertApiError(api("POST", "/api/v1/jobs", VALID, token=None,
                                headers={"Authorization": f"Basic {self.stack.admin_token}"}),
                            401, "unauthorized", "malformed Authorization header")
        self.assertApiError(api("GET", "/api/v1/jobs", token=None), 401, "unauthorized")
        self.assertApiError(api("GET", "/api/v1/agents", token="wrong"), 401, "unauthorized")
        # Valid tokens that may not do this.
        self.assertApiError(self.post_job(VALID, token=self.viewer_token), 403, "forbidden",
                            "viewer submits a job")
        self.assertApiError(self.post_job(VALID, token=self.enroll_only_token), 403, "forbidden",
                            "enrollment token submits a job")
        self.assertApiError(api("POST", "/api/v1/tokens",
                                {"kind": "api", "role": "admin", "ttl_s": 60},
                                token=self.viewer_token), 403, "forbidden")
        self.assertUnchanged(before)
        # A viewer can read.
        status, body = api("GET", "/api/v1/jobs", token=self.viewer_token)
        self.assertEqual(status, 200, body)

    def test_token_roles(self):
        api = self.stack.api
        status, body = api("POST", "/api/v1/tokens",
                           {"kind": "api", "role": "operator", "ttl_s": 3600})
        self.assertEqual(status, 201, body)
        self.assertEqual((body["kind"], body["role"]), ("api", "operator"), body)
        operator = body["token"]
        before = self.snapshot()
        self.assertApiError(api("POST", "/api/v1/tokens",
                                {"kind": "api", "role": "viewer", "ttl_s": 60}, token=operator),
                            403, "forbidden", "operator creates a token")
        self.assertApiError(api("POST", "/api/v1/tokens", {"kind": "root", "ttl_s": 60}),
                            400, "invalid_field", "unknown token kind")
        self.assertApiError(api("POST", "/api/v1/tokens", {"kind": "api", "role": "god",
                                                            "ttl_s": 60}),
                            400, "invalid_field", "unknown role")
        self.assertApiError(api("POST", "/api/v1/tokens", {"kind": "enroll", "uses": 0,
                                                            "ttl_s": 60}),
                            400, "invalid_field", "enrollment token with no uses")
        self.assertUnchanged(before)

        # A revoked token stops working at once.
        status, body = api("POST", "/api/v1/tokens", {"kind": "api", "role": "viewer",
                                                      "ttl_s": 3600})
        self.assertEqual(status, 201, body)
        doomed, doomed_id = body["token"], body["id"]
        self.assertEqual(api("GET", "/api/v1/jobs", token=doomed)[0], 200)
        status, body = api("DELETE", f"/api/v1/tokens/{doomed_id}")
        self.assertEqual(status, 200, body)
        self.assertEqual(body, {"id": doomed_id, "revoked": True})
        self.assertApiError(api("GET", "/api/v1/jobs", token=doomed), 401, "unauthorized",
                            "revoked token")
        status, body = api("GET", "/api/v1/tokens")
        self.assertEqual(status, 200, body)
        self.assertNotIn(doomed, json.dumps(body), "token listing shows a secret")
        self.assertFalse(any(doomed in json.dumps(t) for t in body["tokens"]))

        # An operator may submit.
        status, body = api("POST", "/api/v1/jobs",
                           {"command": "true", "targets": {"agents": [self.uuid(1)]}},
                           token=operator)
        self.assertEqual(status, 201, body)
        self.assertEqual(self.stack.wait_job(body["id"], timeout=60)["state"], "succeeded")

    def test_dry_run_writes_nothing(self):
        before = self.snapshot()
        status, body = self.stack.api("POST", "/api/v1/jobs?dry_run=1",
                                      {"command": "echo never", "targets": {"labels": {"idx": "2"}}})
        self.assertEqual(status, 200, body)
        self.assertIs(body.get("dry_run"), True, body)
        self.assertEqual(body.get("tasks"), 1, body)
        self.assertEqual(len(body.get("agents", [])), 1, body)
        self.assertIn(self.uuid(2), json.dumps(body["agents"]), body)
        status, body = self.stack.api("POST", "/api/v1/jobs?dry_run=1",
                                      {"command": "true", "targets": {"all": True}})
        self.assertEqual((status, body.get("tasks")), (200, 3), body)
        # A dry run validates like a real submission.
        self.assertApiError(self.stack.api("POST", "/api/v1/jobs?dry_run=1",
                                           {"command": "true", "targets": {"all": True},
                                            "bogus": 1}), 400, "unknown_field")
        self.assertUnchanged(before)

    def test_oversized_body(self):
        before = self.snapshot()
        big = json.dumps({"command": "echo " + "x" * (1024 * 1024 + 100),
                          "targets": {"all": True}}).encode()
        self.assertGreater(len(big), 1024 * 1024)
        self.assertApiError(self.post_job(big), 413, "too_large")
        # Just over the limit, not valid JSON either: size is judged first.
        self.assertApiError(self.post_job(b" " * (1024 * 1024 + 1)), 413, "too_large")
        self.assertUnchanged(before)
        # The hub still serves normally afterwards.
        status, body = self.stack.api("GET", "/healthz", token=None)
        self.assertEqual(status, 200, body)

    def test_routes_and_methods(self):
        before = self.snapshot()
        api = self.stack.api
        self.assertApiError(api("GET", "/api/v1/no-such-route"), 404, "not_found")
        self.assertApiError(api("GET", f"/api/v1/jobs/{uuid.uuid4()}"), 404, "not_found")
        self.assertApiError(api("GET", f"/api/v1/jobs/{uuid.uuid4()}/tasks"), 404, "not_found")
        self.assertApiError(api("GET", f"/api/v1/agents/{uuid.uuid4()}"), 404, "not_found")
        self.assertApiError(api("POST", f"/api/v1/jobs/{uuid.uuid4()}/cancel"), 404, "not_found")
        self.assertApiError(api("DELETE", "/api/v1/jobs"), 405, "method_not_allowed")
        self.assertApiError(api("PUT", "/api/v1/agents"), 405, "method_not_allowed")
        self.assertUnchanged(before)

    def test_valid_job_after_refusals_is_stored(self):
        """Control: the snapshot does see a change when a job is accepted."""
        count, _, _ = self.snapshot()
        job, tasks = self.stack.run_job({"command": "echo ok", "targets": {"all": True}},
                                        timeout=60)
        self.assertEqual(job["state"], "succeeded", job)
        after, ids, _ = self.snapshot()
        self.assertEqual(after, count + 1)
        self.assertEqual(ids[0], job["id"])
        # Cancelling a finished job is a conflict.
        self.assertApiError(self.stack.api("POST", f"/api/v1/jobs/{job['id']}/cancel"),
                            409, "conflict")


if __name__ == "__main__":
    unittest.main()
