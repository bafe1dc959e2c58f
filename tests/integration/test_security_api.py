"""Hostile API input (issue 4, item 6): every refusal is a 4xx JSON error and
leaves the store as it was.

"The store" is every key and the content of every key but the audit streams
(refused writes by valid tokens are audited on purpose), the shard lease keys
(renewed every second) and the agents' own hashes (their last_seen moves with
presence); agent hashes still count by name, so no agent may appear or go.
"""

import json
import time
import unittest
import urllib.parse
import uuid

from stackcase import StackTestCase, wait_until

VALID = {"command": "true", "targets": {"all": True}}
RESP = "\r\n*3\r\n$3\r\nDEL\r\n$1\r\nx\r\n"  # a Redis protocol fragment
FLUSH = "*1\r\n$8\r\nFLUSHALL\r\n"
IGNORED_PREFIXES = ("muster:audit:", "muster:lease:", "muster:fence:")


class SecurityApiTest(StackTestCase):
    AGENTS = 2

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        status, body = cls.stack.api("POST", "/api/v1/tokens",
                                     {"kind": "api", "role": "operator", "ttl_s": 3600})
        assert status == 201, (status, body)
        cls.operator = body["token"]
        cls.enroll_token = cls.stack.create_enroll_token(5)

    # -- the store ---------------------------------------------------------
    def redis(self, *args):
        return self.stack.redis_cli(*args)

    def store_state(self):
        """{key: content} of every key that counts (see the module docstring)."""
        keys = sorted(k for k in self.redis("--raw", "KEYS", "*").splitlines() if k)
        state = {}
        for key in keys:
            if key.startswith(IGNORED_PREFIXES):
                continue
            kind = self.redis("TYPE", key).strip()
            if key.startswith("muster:agent:"):
                state[key] = kind
            elif kind == "hash":
                state[key] = (kind, self.redis("--raw", "HGETALL", key))
            elif kind == "set":
                state[key] = (kind, sorted(self.redis("--raw", "SMEMBERS", key).splitlines()))
            elif kind == "zset":
                state[key] = (kind, self.redis("--raw", "ZRANGE", key, "0", "-1", "WITHSCORES"))
            elif kind == "stream":
                state[key] = (kind, self.redis("XLEN", key).strip())
            elif kind == "list":
                state[key] = (kind, self.redis("--raw", "LRANGE", key, "0", "-1"))
            else:
                state[key] = (kind, self.redis("--raw", "DUMP", key))
        return state

    def snapshot(self):
        """The store once no job runs and two readings 0.5 s apart agree."""
        def quiet():
            status, body = self.stack.api("GET", "/api/v1/jobs")
            if status != 200 or any(j["state"] == "running" for j in body["jobs"]):
                return None
            first = self.store_state()
            time.sleep(0.5)
            second = self.store_state()
            return (first,) if first == second else None

        return wait_until(quiet, 60, "a quiet store")[0]

    def assertStoreUnchanged(self, before):
        after = self.snapshot()
        if after != before:
            added = sorted(set(after) - set(before))
            removed = sorted(set(before) - set(after))
            changed = sorted(k for k in set(after) & set(before) if after[k] != before[k])
            self.fail(f"a refused request changed the store: added {added}, removed {removed}, "
                      f"changed {changed}: " +
                      "; ".join(f"{k}: {before[k]!r} -> {after[k]!r}" for k in changed[:3]))

    def assertAll4xx(self, requests):
        """requests: [(label, method, path, body, token, status, code)]; code None = any."""
        for label, method, path, body, token, status, code in requests:
            with self.subTest(label):
                got_status, got = self.stack.api(method, path, body, token=token)
                detail = f"{label}: {method} {path[:80]} -> {got_status} {str(got)[:300]}"
                self.assertTrue(400 <= got_status < 500, detail)
                if status is not None:
                    self.assertEqual(got_status, status, detail)
                self.assertIsInstance(got, dict, detail)
                self.assertIsInstance(got.get("error"), dict, detail)
                self.assertIsInstance(got["error"].get("code"), str, detail)
                self.assertTrue(got["error"].get("message"), detail)
                if code is not None:
                    self.assertEqual(got["error"]["code"], code, detail)

    # -- the tests ---------------------------------------------------------
    def test_malformed_json(self):
        admin = self.stack.admin_token
        bodies = [b"{not json", b"", b"[]", b"\"x\"", b"{\"command\": \"true\",", b"\xff\xfe{}",
                  b"{\"command\": \"true\"} {}", b"{\"command\": \"tr\x00ue\"}", b"{'command': 'x'}",
                  b"{\"command\": \"x\", \"command\": 1, \"targets\": {\"all\": true}}",
                  b"[" * 100000, b"{\"a\":" * 5000 + b"1" + b"}" * 5000, b"\xc3\x28", b"NaN"]
        before = self.snapshot()
        requests = []
        for i, raw in enumerate(bodies):
            requests += [
                (f"jobs body {i}", "POST", "/api/v1/jobs", raw, admin, 400, None),
                (f"tokens body {i}", "POST", "/api/v1/tokens", raw, admin, 400, None),
                (f"enroll body {i}", "POST", "/api/v1/enroll", raw, self.enroll_token, 400, None),
            ]
        self.assertAll4xx(requests)
        self.assertStoreUnchanged(before)

    def test_wrong_types(self):
        admin = self.stack.admin_token
        jobs = [
            {"command": 1, "targets": {"all": True}},
            {"command": ["true"], "targets": {"all": True}},
            {"argv": "true", "targets": {"all": True}},
            {"argv": [1, 2], "targets": {"all": True}},
            {"command": "true", "targets": "all"},
            {"command": "true", "targets": {"all": "yes"}},
            {"command": "true", "targets": {"agents": "x"}},
            {"command": "true", "targets": {"labels": ["a"]}},
            {"command": "true", "targets": {"labels": {"env": 1}}},
            {"command": "true", "targets": {"all": True}, "timeout_s": "60"},
            {"command": "true", "targets": {"all": True}, "timeout_s": 1.5},
            {"command": "true", "targets": {"all": True}, "timeout_s": 1e300},
            {"command": "true", "targets": {"all": True}, "timeout_s": -1},
            {"command": "true", "targets": {"all": True}, "as_root": "true"},
            {"command": "true", "targets": {"all": True}, "concurrency": [1]},
            {"command": "true", "targets": {"all": True}, "max_failures": "-5%"},
        ]
        tokens = [
            {"kind": 1, "role": "viewer", "ttl_s": 60},
            {"kind": "api", "role": ["admin"], "ttl_s": 60},
            {"kind": "api", "role": "viewer", "ttl_s": "60"},
            {"kind": "api", "role": "root", "ttl_s": 60},
            {"kind": "enroll", "uses": "5", "ttl_s": 60},
            {"kind": "enroll", "uses": 5, "ttl_s": 60, "labels": "a=b"},
        ]
        enroll = [{"hostname": 7, "os": "linux", "arch": "x86_64"},
                  {"hostname": "h", "os": "linux", "arch": "x86_64", "labels": ["a"]}]
        before = self.snapshot()
        self.assertAll4xx(
            [(f"job {b}", "POST", "/api/v1/jobs", b, admin, 400, None) for b in jobs] +
            [(f"token {b}", "POST", "/api/v1/tokens", b, admin, 400, None) for b in tokens] +
            [(f"enroll {b}", "POST", "/api/v1/enroll", b, self.enroll_token, 400, None)
             for b in enroll])
        self.assertStoreUnchanged(before)

    def test_huge_bodies(self):
        admin = self.stack.admin_token
        big = {"command": "x" * (2 << 20), "targets": {"all": True}}
        long_command = {"command": "x" * ((64 << 10) + 1), "targets": {"all": True}}
        many_agents = {"command": "true", "targets": {"agents": [str(uuid.uuid4())] * 20000}}
        many_labels = {"command": "true",
                       "targets": {"labels": {f"k{i}": "v" for i in range(20000)}}}
        before = self.snapshot()
        self.assertAll4xx([
            ("2 MiB job", "POST", "/api/v1/jobs", big, admin, 413, "too_large"),
            ("2 MiB token", "POST", "/api/v1/tokens", b" " * (2 << 20), admin, 413, "too_large"),
            ("2 MiB enrollment", "POST", "/api/v1/enroll", b"{" + b" " * (2 << 20) + b"}",
             self.enroll_token, 413, "too_large"),
            ("command over 64 KiB", "POST", "/api/v1/jobs", long_command, admin, 400, None),
            ("20000 unknown agents", "POST", "/api/v1/jobs", many_agents, admin, 400, None),
            ("20000 labels", "POST", "/api/v1/jobs", many_labels, admin, 400, None),
        ])
        self.assertStoreUnchanged(before)

    def test_unknown_fields(self):
        admin = self.stack.admin_token
        before = self.snapshot()
        self.assertAll4xx([
            ("job", "POST", "/api/v1/jobs", dict(VALID, tenant="other"), admin, 400, "unknown_field"),
            ("job targets", "POST", "/api/v1/jobs",
             {"command": "true", "targets": {"all": True, "tenant": "other"}}, admin, 400,
             "unknown_field"),
            ("job facts", "POST", "/api/v1/jobs",
             {"command": "true", "targets": {"facts": {"hostname": "x"}}}, admin, 400,
             "unknown_field"),
            ("token", "POST", "/api/v1/tokens",
             {"kind": "api", "role": "viewer", "ttl_s": 60, "tenant": "other"}, admin, 400,
             "unknown_field"),
            ("enroll", "POST", "/api/v1/enroll",
             {"hostname": "h", "os": "linux", "arch": "x86_64", "uuid": str(uuid.uuid4())},
             self.enroll_token, 400, "unknown_field"),
        ])
        self.assertStoreUnchanged(before)

    def test_injection_in_labels_and_metadata(self):
        admin = self.stack.admin_token
        nasty = ["a\"b", "a\nb", "a\u0000b", RESP, FLUSH, "a b", "k" * 64, "x" * 100000,
                 "muster:token:*", "{tenant}", "\u00e9", "../../etc", "$(id)"]
        requests = []
        for i, value in enumerate(nasty):
            requests += [
                (f"label key {i}", "POST", "/api/v1/jobs",
                 {"command": "true", "targets": {"labels": {value: "v"}}}, admin, 400, None),
                (f"enroll token label key {i}", "POST", "/api/v1/tokens",
                 {"kind": "enroll", "uses": 1, "ttl_s": 60, "labels": {value: "v"}}, admin, 400,
                 None),
                (f"enrollment label key {i}", "POST", "/api/v1/enroll",
                 {"hostname": "h", "os": "linux", "arch": "x86_64", "labels": {value: "v"}},
                 self.enroll_token, 400, None),
                (f"agent id {i}", "POST", "/api/v1/jobs",
                 {"command": "true", "targets": {"agents": [value]}}, admin, 400, None),
                (f"region {i}", "POST", "/api/v1/jobs",
                 {"command": "true", "targets": {"regions": [value]}}, admin, 400, None),
                (f"facts os {i}", "POST", "/api/v1/jobs",
                 {"command": "true", "targets": {"facts": {"os": value}}}, admin, 400, None),
                (f"concurrency {i}", "POST", "/api/v1/jobs", dict(VALID, concurrency=value), admin,
                 400, None),
                (f"max_failures {i}", "POST", "/api/v1/jobs", dict(VALID, max_failures=value),
                 admin, 400, None),
                (f"enroll region {i}", "POST", "/api/v1/tokens",
                 {"kind": "enroll", "uses": 1, "ttl_s": 60, "region": value}, admin, 400, None),
            ]
            quoted = urllib.parse.quote(value[:2000], safe="")
            requests += [
                (f"job id in path {i}", "GET", f"/api/v1/jobs/{quoted}", None, admin, 404, None),
                (f"job cancel path {i}", "POST", f"/api/v1/jobs/{quoted}/cancel", None, admin,
                 404, None),
                (f"agent id in path {i}", "DELETE", f"/api/v1/agents/{quoted}", None, admin, 404,
                 None),
                (f"token id in path {i}", "DELETE", f"/api/v1/tokens/{quoted}", None, admin, 404,
                 None),
            ]
        # Label values: anything but printable ASCII up to 255 bytes is refused.
        for i, value in enumerate(["a\nb", "a\u0000b", RESP, "v" * 256, "\u00e9"]):
            requests.append((f"label value {i}", "POST", "/api/v1/jobs",
                             {"command": "true", "targets": {"labels": {"env": value}}}, admin,
                             400, None))
        # Tokens that look like tokens but carry protocol fragments.
        for i, token in enumerate(["mst_" + ("*3$3DEL" * 10)[:64], "mst_" + "0" * 64,
                                   "mse_" + "f" * 64, "mst_" + "%0d%0a" * 10 + "0" * 4]):
            requests.append((f"fake token {i}", "POST", "/api/v1/jobs", VALID, token, 401,
                             "unauthorized"))
        before = self.snapshot()
        self.assertAll4xx(requests)
        self.assertStoreUnchanged(before)

    def test_commands_are_stored_and_run_verbatim(self):
        """A command full of quotes, newlines and Redis protocol is data, not protocol:
        it runs byte for byte and adds only its own job's keys."""
        text = "q'\"`$x;" + RESP + FLUSH + "\\n end"
        before = self.snapshot()
        job, tasks = self.stack.run_job(
            {"argv": ["/usr/bin/printf", "%s", text], "targets": {"agents": [self.uuid(1)]}})
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(tasks[self.uuid(1)]["stdout"], text)
        after = self.snapshot()
        self.assertTrue(set(before) <= set(after), "a job removed keys")
        for key in set(after) - set(before):
            if key.startswith("muster:jobs:{"):  # the tenant's job index, on its first job
                self.assertIn(job["id"], after[key][1], key)
            else:
                self.assertIn(job["id"], key, f"a job with a hostile command added {key}")

    def test_expired_token(self):
        status, body = self.stack.api("POST", "/api/v1/tokens",
                                      {"kind": "api", "role": "admin", "ttl_s": 3600})
        self.assertEqual(status, 201, body)
        token, token_id = body["token"], body["id"]
        self.assertEqual(self.stack.api("GET", "/api/v1/agents", token=token)[0], 200)
        # Expire it in the store (the minimum ttl is 60 s): expires_at in the past.
        keys = [k for k in self.redis("--raw", "KEYS", f"muster:token:{token_id}*").splitlines() if k]
        self.assertEqual(len(keys), 1, keys)
        self.redis("HSET", keys[0], "expires_at", str(int(time.time()) - 1))
        before = self.snapshot()
        self.assertAll4xx([
            ("expired: list agents", "GET", "/api/v1/agents", None, token, 401, "unauthorized"),
            ("expired: submit", "POST", "/api/v1/jobs", VALID, token, 401, "unauthorized"),
            ("expired: create token", "POST", "/api/v1/tokens",
             {"kind": "api", "role": "admin", "ttl_s": 60}, token, 401, "unauthorized"),
            ("expired: delete agent", "DELETE", f"/api/v1/agents/{self.uuid(2)}", None, token, 401,
             "unauthorized"),
            ("expired: audit", "GET", "/api/v1/audit", None, token, 401, "unauthorized"),
        ])
        self.assertStoreUnchanged(before)

    def test_revoked_token(self):
        status, body = self.stack.api("POST", "/api/v1/tokens",
                                      {"kind": "api", "role": "operator", "ttl_s": 3600})
        self.assertEqual(status, 201, body)
        token, token_id = body["token"], body["id"]
        self.assertEqual(self.stack.api("GET", "/api/v1/jobs", token=token)[0], 200)
        status, body = self.stack.api("DELETE", f"/api/v1/tokens/{token_id}")
        self.assertEqual((status, body), (200, {"id": token_id, "revoked": True}))
        status, body = self.stack.api("GET", "/api/v1/tokens")
        self.assertNotIn(token_id, [t["id"] for t in body["tokens"]])
        before = self.snapshot()
        self.assertAll4xx([
            ("revoked: list jobs", "GET", "/api/v1/jobs", None, token, 401, "unauthorized"),
            ("revoked: submit", "POST", "/api/v1/jobs", VALID, token, 401, "unauthorized"),
            ("revoked: cancel", "POST", f"/api/v1/jobs/{uuid.uuid4()}/cancel", None, token, 401,
             "unauthorized"),
            ("revoke again", "DELETE", f"/api/v1/tokens/{token_id}", None,
             self.stack.admin_token, 404, "not_found"),
        ])
        self.assertStoreUnchanged(before)

    def test_spent_enrollment_token(self):
        """A refused enrollment (no uses left) must not change the token either."""
        token = self.stack.create_enroll_token(1)
        facts = {"hostname": "spent-test", "os": "linux", "arch": "x86_64"}
        status, body = self.stack.api("POST", "/api/v1/enroll", facts, token=token)
        self.assertEqual(status, 201, body)
        before = self.snapshot()
        self.assertAll4xx([(f"spent enrollment token {i}", "POST", "/api/v1/enroll", facts, token,
                            401, "unauthorized") for i in range(3)])
        self.assertStoreUnchanged(before)


if __name__ == "__main__":
    unittest.main()
