"""Tenants, revocation, least privilege and the audit trail (issue 4, items 1, 3, 4, 5).

- A second tenant's admin (`muster-hub admin-token --tenant other`) never sees
  or touches the first tenant's agents, jobs or tokens, on every endpoint.
- A deleted agent leaves the list, cannot log in to XMPP any more, cannot be
  targeted, and its UUID is not given out again.
- Tasks run as the unprivileged task user (nobody) unless an admin signs
  "as_root"; an operator asking for root is refused.
- Every write shows up in the tenant's audit trail; only admins read it.
- A platform token creates, lists, suspends, resumes and deletes tenants; the
  tenant's quotas (agents, jobs a minute, event streams) refuse what is over
  them; a suspended tenant's tokens and agents are refused and its running
  jobs cancelled; deleting it revokes its agents and tokens for good.
"""

import http.client
import pwd
import subprocess
import time
import unittest
import uuid

from stackcase import StackTestCase, wait_until


class SecurityTenantsTest(StackTestCase):
    AGENTS = 3

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        stack = cls.stack
        res = subprocess.run([str(stack.hub_bin), "admin-token", "--config", str(stack.hub_config),
                              "--tenant", "other"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=30, check=True)
        cls.other = res.stdout.decode().split()[-1]
        cls.tokens = {}
        for role in ("operator", "viewer"):
            status, body = stack.api("POST", "/api/v1/tokens",
                                     {"kind": "api", "role": role, "ttl_s": 3600})
            assert status == 201, (status, body)
            cls.tokens[role] = body

    def api(self, *args, **kw):
        return self.stack.api(*args, **kw)

    def audit(self, token=None):
        status, body = self.api("GET", "/api/v1/audit?limit=1000",
                                token=token or self.stack.admin_token)
        self.assertEqual(status, 200, body)
        return body["entries"]

    def assertAudited(self, method, path, status, token_id=None, entries=None):
        entries = entries if entries is not None else self.audit()
        hits = [e for e in entries if e["method"] == method and e["path"] == path
                and e["status"] == status and (token_id is None or e["token"] == token_id)]
        self.assertTrue(hits, f"no audit entry for {method} {path} -> {status} "
                              f"(token {token_id}); have {entries[:5]}")
        for field in ("token", "kind", "role", "from", "at"):
            self.assertTrue(hits[0].get(field), f"audit entry lacks {field}: {hits[0]}")
        return hits[0]

    # -- tenants -----------------------------------------------------------
    def test_other_tenant_never_sees_or_touches_ours(self):
        other = self.other
        job, _ = self.stack.run_job({"command": "echo mine",
                                     "targets": {"agents": [self.uuid(1), self.uuid(2)]}})
        running = self.stack.submit_job({"command": "sleep 30",
                                         "targets": {"agents": [self.uuid(1)]}})
        agent = self.uuid(1)
        admin_id = self.tokens["operator"]["id"]

        status, body = self.api("GET", "/api/v1/agents", token=other)
        self.assertEqual((status, body), (200, {"agents": [], "total": 0, "next_cursor": None}))
        status, body = self.api("GET", "/api/v1/jobs", token=other)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["jobs"], [])
        status, body = self.api("GET", "/api/v1/tokens", token=other)
        self.assertEqual(status, 200, body)
        self.assertNotIn(admin_id, [t["id"] for t in body["tokens"]])
        ours = {e["token"] for e in self.audit()}
        theirs = {e["token"] for e in self.audit(other)}
        self.assertFalse(ours & theirs, "the other tenant reads our audit trail")

        not_found = [
            ("GET", f"/api/v1/agents/{agent}", None),
            ("DELETE", f"/api/v1/agents/{agent}", None),
            ("GET", f"/api/v1/jobs/{job['id']}", None),
            ("GET", f"/api/v1/jobs/{job['id']}/tasks", None),
            ("GET", f"/api/v1/jobs/{job['id']}/events", None),
            ("POST", f"/api/v1/jobs/{running}/cancel", None),
            ("DELETE", f"/api/v1/tokens/{admin_id}", None),
        ]
        for method, path, body in not_found:
            with self.subTest(f"{method} {path}"):
                self.assertApiError(self.api(method, path, body, token=other), 404, "not_found")
        targeting = [
            ({"agents": [agent]}, "unknown_agent"),
            ({"agents": [self.uuid(2), self.uuid(3)]}, "unknown_agent"),
            ({"labels": {"env": "test"}}, "no_targets"),
            ({"labels": {"idx": "1"}}, "no_targets"),
            ({"all": True}, "no_targets"),
            ({"regions": ["default"]}, "no_targets"),
            ({"facts": {"os": "linux"}}, "no_targets"),
        ]
        for targets, code in targeting:
            for path in ("/api/v1/jobs", "/api/v1/jobs?dry_run=1"):
                with self.subTest(f"{path} {targets}"):
                    self.assertApiError(self.api("POST", path, {"command": "id", "targets": targets},
                                                 token=other), 400, code)

        # Nothing of ours moved: the agent is there and online, the job still runs,
        # our tokens work, and the other tenant's refusals are in its own trail only.
        self.assertEqual(self.stack.agents()[agent]["status"], "online")
        self.assertEqual(self.stack.job(running)["state"], "running")
        self.assertFalse(self.stack.job(running).get("cancel_requested"))
        self.assertEqual(self.api("GET", "/api/v1/jobs", token=self.tokens["operator"]["token"])[0],
                         200)
        self.assertAudited("DELETE", f"/api/v1/agents/{agent}", 404, entries=self.audit(other))
        self.assertFalse([e for e in self.audit() if e["token"] in theirs])
        # And the other way: our admin does not see the other tenant's tokens.
        status, body = self.api("POST", "/api/v1/tokens", {"kind": "api", "role": "viewer",
                                                           "ttl_s": 600}, token=other)
        self.assertEqual(status, 201, body)
        status, listed = self.api("GET", "/api/v1/tokens")
        self.assertNotIn(body["id"], [t["id"] for t in listed["tokens"]])
        self.assertApiError(self.api("DELETE", f"/api/v1/tokens/{body['id']}"), 404, "not_found")
        self.api("POST", f"/api/v1/jobs/{running}/cancel")

    # -- revocation --------------------------------------------------------
    def test_deleted_agent_is_gone_for_good(self):
        victim = self.uuid(3)
        log = self.stack.procs["agent3"].log
        log_start = log.stat().st_size
        status, body = self.api("DELETE", f"/api/v1/agents/{victim}")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["status"], "revoked", body)
        self.assertNotIn(victim, self.stack.agents())
        status, body = self.api("GET", f"/api/v1/agents/{victim}")  # kept as a record, or gone
        self.assertTrue(status == 404 or (status == 200 and body["status"] == "revoked"), body)
        self.assertApiError(self.api("POST", "/api/v1/jobs",
                                     {"command": "id", "targets": {"agents": [victim]}}),
                            400, "unknown_agent")
        status, body = self.api("POST", "/api/v1/jobs?dry_run=1",
                                {"command": "id", "targets": {"all": True}})
        self.assertEqual(status, 200, body)
        self.assertNotIn(victim, body["agents"])
        # Its session ends and it can no longer log in: its log shows refused logins.
        def refused_login():
            with open(log, "rb") as f:
                f.seek(log_start)
                text = f.read().decode("utf-8", "replace")
            return "auth failed" in text or "Cannot authenticate" in text

        wait_until(refused_login, 90, "agent 3's log to show its XMPP login refused", interval=0.5)
        self.assertTrue(self.stack.procs["agent3"].alive())  # it keeps trying, and keeps failing
        self.assertIn(victim, self.stack.redis_cli("--raw", "SMEMBERS",
                                                   "muster:refused-agents").split())
        # Its UUID is never given out again.
        token = self.stack.create_enroll_token(3)
        for i in range(3):
            status, body = self.api("POST", "/api/v1/enroll",
                                    {"hostname": f"new-{i}", "os": "linux", "arch": "x86_64"},
                                    token=token)
            self.assertEqual(status, 201, body)
            self.assertNotEqual(body["uuid"], victim)
        self.assertAudited("DELETE", f"/api/v1/agents/{victim}", 200)

    # -- least privilege ---------------------------------------------------
    def test_tasks_run_unprivileged_unless_an_admin_signs_root(self):
        nobody = pwd.getpwnam("nobody").pw_uid
        agent = self.uuid(2)
        job, tasks = self.stack.run_job({"command": "id -u", "targets": {"agents": [agent]}})
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(tasks[agent]["stdout"].strip(), str(nobody), tasks[agent])
        job, tasks = self.stack.run_job({"command": "id -u", "as_root": True,
                                         "targets": {"agents": [agent]}})
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(tasks[agent]["stdout"].strip(), "0", tasks[agent])
        operator = self.tokens["operator"]
        self.assertApiError(self.api("POST", "/api/v1/jobs", {"command": "id -u", "as_root": True,
                                                              "targets": {"agents": [agent]}},
                                     token=operator["token"]), 403, "forbidden")
        status, body = self.api("POST", "/api/v1/jobs", {"command": "id -u",
                                                         "targets": {"agents": [agent]}},
                                token=operator["token"])
        self.assertEqual(status, 201, body)
        self.assertEqual(self.stack.wait_job(body["id"])["state"], "succeeded")
        self.assertAudited("POST", "/api/v1/jobs", 403, operator["id"])
        self.assertAudited("POST", "/api/v1/jobs", 201, operator["id"])

    # -- audit -------------------------------------------------------------
    def test_audit_records_every_write_and_only_admins_read_it(self):
        admin_entries_before = len(self.audit())
        status, created = self.api("POST", "/api/v1/tokens",
                                   {"kind": "api", "role": "viewer", "ttl_s": 600})
        self.assertEqual(status, 201, created)
        status, _ = self.api("DELETE", f"/api/v1/tokens/{created['id']}")
        self.assertEqual(status, 200)
        job_id = self.stack.submit_job({"command": "sleep 20", "targets": {"agents": [self.uuid(1)]}})
        status, _ = self.api("POST", f"/api/v1/jobs/{job_id}/cancel")
        self.assertEqual(status, 200)
        viewer = self.tokens["viewer"]
        self.assertApiError(self.api("POST", "/api/v1/jobs", {"command": "id",
                                                              "targets": {"all": True}},
                                     token=viewer["token"]), 403, "forbidden")
        bad = self.api("POST", "/api/v1/jobs", b"{not json")
        self.assertEqual(bad[0], 400)
        entries = self.audit()
        self.assertGreaterEqual(len(entries), admin_entries_before + 5)
        self.assertAudited("POST", "/api/v1/tokens", 201, entries=entries)
        self.assertAudited("DELETE", f"/api/v1/tokens/{created['id']}", 200, entries=entries)
        self.assertAudited("POST", "/api/v1/jobs", 201, entries=entries)
        self.assertAudited("POST", f"/api/v1/jobs/{job_id}/cancel", 200, entries=entries)
        self.assertAudited("POST", "/api/v1/jobs", 403, viewer["id"], entries=entries)
        self.assertAudited("POST", "/api/v1/jobs", 400, entries=entries)
        # Reads are not audited; only admins read the trail.
        self.assertFalse([e for e in entries if e["method"] == "GET"])
        self.assertApiError(self.api("GET", "/api/v1/audit", token=viewer["token"]), 403,
                            "forbidden")
        self.assertApiError(self.api("GET", "/api/v1/audit",
                                     token=self.tokens["operator"]["token"]), 403, "forbidden")
        self.assertApiError(self.api("GET", "/api/v1/audit", token=self.stack.enroll_token), 403,
                            "forbidden")


    # -- tenants through the API ---------------------------------------------
    def raw_request(self, method, path, token, body=None):
        """(status, headers, connection) with the answer's body unread: for streams."""
        conn = http.client.HTTPSConnection("localhost", self.stack.ports["api"], timeout=15,
                                           context=self.stack._ssl_context())
        conn.request(method, path, body=body, headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        return resp.status, resp, conn

    def beta_job(self, token, command, wait=True):
        job = {"command": command, "targets": {"all": True}}
        if not wait:
            return self.stack.submit_job(job, token=token)
        job_id = self.stack.submit_job(job, token=token)

        def finished():
            status, body = self.api("GET", f"/api/v1/jobs/{job_id}", token=token)
            return status == 200 and body["state"] != "running" and body
        return wait_until(finished, 60, f"job {job_id} to finish", interval=0.25)

    def test_platform_manages_tenants_and_their_quotas(self):
        stack = self.stack
        res = subprocess.run([str(stack.hub_bin), "admin-token", "--config", str(stack.hub_config),
                              "--tenant", "ops", "--platform"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=30, check=True)
        platform = res.stdout.decode().split()[-1]
        self.assertApiError(self.api("GET", "/api/v1/tenants"), 403, "forbidden")  # an admin is not enough
        status, created = self.api("POST", "/api/v1/tenants", token=platform, body={
            "name": "beta", "quotas": {"agents": 1, "jobs_per_minute": 50, "streams": 1}})
        self.assertEqual(status, 201, created)
        self.assertEqual(created["tenant"]["quotas"], {"agents": 1, "jobs_per_minute": 50, "streams": 1})
        beta = created["admin_token"]["token"]
        self.assertApiError(self.api("POST", "/api/v1/tenants", token=platform, body={"name": "beta"}),
                            409, "conflict")
        self.assertApiError(self.api("POST", "/api/v1/tenants", token=platform, body={"name": "Beta!"}),
                            400, "invalid_field")
        status, listed = self.api("GET", "/api/v1/tenants", token=platform)
        self.assertEqual(status, 200, listed)
        self.assertEqual({t["name"] for t in listed["tenants"]} >= {"ops", "beta"}, True, listed)

        # Agents: one enrolls and runs jobs; the second is over the quota.
        status, enroll = self.api("POST", "/api/v1/tokens", token=beta, body={"kind": "enroll", "uses": 3})
        self.assertEqual(status, 201, enroll)
        agent = stack.enroll_agent(4, enroll["token"])
        self.assertApiError(self.api("POST", "/api/v1/enroll", token=enroll["token"],
                                     body={"hostname": "extra", "os": "linux", "arch": "x86_64"}),
                            403, "quota_exceeded")
        stack.start_agent(4)
        wait_until(lambda: self.api("GET", f"/api/v1/agents/{agent}", token=beta)[1]["status"] == "online",
                   60, "beta's agent to be online", interval=0.25)
        self.assertEqual(self.beta_job(beta, "echo beta")["state"], "succeeded")

        # Jobs a minute: away from a minute's end, the third of a quota of 2 is refused.
        self.assertEqual(self.api("PATCH", "/api/v1/tenants/beta", token=platform,
                                  body={"quotas": {"jobs_per_minute": 2}})[0], 200)
        wait_until(lambda: time.time() % 60 < 45, 20, "the start of a minute", interval=0.5)
        running = self.beta_job(beta, "sleep 60", wait=False)
        status, resp, conn = self.raw_request("POST", "/api/v1/jobs", beta,
                                              '{"command": "true", "targets": {"all": true}}')
        resp.read()
        conn.close()
        if status == 201:  # the job of the quota's first test counts in the same minute only
            status, resp, conn = self.raw_request("POST", "/api/v1/jobs", beta,
                                                  '{"command": "true", "targets": {"all": true}}')
            resp.read()
            conn.close()
        self.assertEqual(status, 429)
        self.assertTrue(1 <= int(resp.getheader("Retry-After")) <= 60, resp.getheaders())

        # Streams: one open stream is the tenant's quota.
        status, first, first_conn = self.raw_request("GET", f"/api/v1/jobs/{running}/events", beta)
        self.assertEqual(status, 200)
        status, resp, conn = self.raw_request("GET", f"/api/v1/jobs/{running}/events", beta)
        self.assertEqual(status, 429)
        self.assertEqual(resp.getheader("Retry-After"), "5")
        self.assertIn(b"too_many_streams", resp.read())
        conn.close()
        first_conn.close()

        # Suspended: tokens refused, agents refused, the running job cancelled.
        status, body = self.api("PATCH", "/api/v1/tenants/beta", token=platform, body={"state": "suspended"})
        self.assertEqual((status, body["state"]), (200, "suspended"), body)
        self.assertApiError(self.api("GET", "/api/v1/jobs", token=beta), 403, "tenant_suspended")
        self.assertApiError(self.api("POST", "/api/v1/enroll", token=enroll["token"],
                                     body={"hostname": "x", "os": "linux", "arch": "x86_64"}),
                            403, "tenant_suspended")
        self.assertEqual(stack.redis_cli("SISMEMBER", "muster:refused-agents", agent).strip(), "1")
        self.assertApiError(self.api("PATCH", "/api/v1/tenants/ops", token=platform,
                                     body={"state": "suspended"}), 409, "conflict")

        # Resumed: the same token and agent work again; the sleeping job was cancelled.
        self.assertEqual(self.api("PATCH", "/api/v1/tenants/beta", token=platform,
                                  body={"state": "active", "quotas": {"jobs_per_minute": 0}})[0], 200)
        self.assertEqual(stack.redis_cli("SISMEMBER", "muster:refused-agents", agent).strip(), "0")
        status, job = self.api("GET", f"/api/v1/jobs/{running}", token=beta)
        self.assertEqual((status, job["state"]), (200, "cancelled"), job)
        self.assertEqual(self.beta_job(beta, "echo again")["state"], "succeeded")

        # Deleted: agents and tokens revoked for good, the name stays taken; all audited.
        status, body = self.api("DELETE", "/api/v1/tenants/beta", token=platform)
        self.assertEqual(status, 200, body)
        self.assertEqual((body["agents_revoked"], body["state"]), (1, "deleted"), body)
        self.assertApiError(self.api("GET", "/api/v1/jobs", token=beta), 401, "unauthorized")
        self.assertEqual(stack.redis_cli("--raw", "HGET", f"muster:agent:{{{agent}}}", "status").strip(),
                         "revoked")
        self.assertApiError(self.api("POST", "/api/v1/tenants", token=platform, body={"name": "beta"}),
                            409, "conflict")
        status, body = self.api("GET", "/api/v1/tenants/beta", token=platform)
        self.assertEqual((status, body["state"], body["agents"]), (200, "deleted", 0), body)
        entries = self.audit(platform)
        for method, path, code in (("POST", "/api/v1/tenants", 201), ("PATCH", "/api/v1/tenants/beta", 200),
                                   ("DELETE", "/api/v1/tenants/beta", 200)):
            self.assertAudited(method, path, code, entries=entries)
        stack.stop_agent(4)


if __name__ == "__main__":
    unittest.main()
