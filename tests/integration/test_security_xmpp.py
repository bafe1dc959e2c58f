"""Hostile XMPP senders (issue 4, item 6): another enrolled agent and a
stranger account send agent 1 unsigned, forged, tampered, expired, misaddressed
and replayed tasks, oversized stanzas and malformed payloads. Nothing runs, and
agent 1 stays connected and keeps working for its master.

Every task carries a command that would create a marker file; the checks are
that no marker exists, the agent's journal gained no line, the agent process
lives, the hub still sees it online and a normal job still runs on it.

What this cannot send: a replay from the master's own JID (only the hub's
component may use it). The agent's journal refuses a repeated task id; unit
evidence: agent/tests/journal_spool_test.cpp (Journal.RecordedIdsSurviveARestart)
and proto/tests/signing_test.cpp (SigningTest.RefusesUnsignedTamperedExpiredAndMisaddressed)
for the signature checks behind the sender check.
"""

import asyncio
import base64
import hashlib
import json
import logging
import shutil
import subprocess
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from stackcase import StackTestCase, StackError, wait_until
from muster_stack import XMPP_DOMAIN

import slixmpp  # python3-slixmpp (Debian); needs /usr/bin/python3
from slixmpp.exceptions import IqError, IqTimeout

logging.getLogger("slixmpp").setLevel(logging.CRITICAL)
NS = "urn:muster:1"


class Session:
    """One logged-in slixmpp client on its own event loop."""

    def __init__(self, jid, password, ca_file, host, port, timeout=20):
        self.timeout = timeout
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.client = slixmpp.ClientXMPP(f"{jid}/hostile-{uuid.uuid4().hex[:6]}", password)
        self.client.ca_certs = Path(ca_file)
        self.disconnected = self.loop.create_future()
        ready = self.loop.create_future()
        self.client.add_event_handler("session_start",
                                      lambda _e: ready.done() or ready.set_result(True))
        self.client.add_event_handler("failed_auth", lambda _e: ready.done() or ready.set_exception(
            StackError(f"authentication as {jid} failed")))
        self.client.add_event_handler("disconnected", lambda _e: self.disconnected.done()
                                      or self.disconnected.set_result(True))
        self.client.connect((host, port))
        self.loop.run_until_complete(asyncio.wait_for(ready, timeout))

    def iq(self, to, payload_xml):
        """Send one iq set; returns ("result" | "error" | "timeout", reply text, condition)."""
        async def exchange():
            iq = self.client.Iq()
            iq["type"] = "set"
            iq["to"] = to
            iq.append(ET.fromstring(payload_xml))
            try:
                reply = await iq.send(timeout=self.timeout)
                return "result", str(reply), None
            except IqError as e:
                return "error", str(e.iq), e.iq["error"]["condition"]
            except IqTimeout:
                return "timeout", "", None
        return self.loop.run_until_complete(exchange())

    def raw(self, text, wait=3.0):
        """Send raw bytes on the stream; True if the server closed the stream within `wait` s."""
        self.client.send_raw(text)
        try:
            self.loop.run_until_complete(asyncio.wait_for(asyncio.shield(self.disconnected), wait))
            return True
        except asyncio.TimeoutError:
            return False

    def close(self):
        if not self.disconnected.done():
            self.client.disconnect()
            try:
                self.loop.run_until_complete(asyncio.wait_for(self.disconnected, 5))
            except Exception:  # noqa: BLE001 - best effort close
                pass
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for t in pending:
            t.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()
        asyncio.set_event_loop(None)


def task_xml(task):
    el = ET.Element(f"{{{NS}}}task")
    el.text = task if isinstance(task, str) else json.dumps(task)
    return ET.tostring(el, encoding="unicode")


class SecurityXmppTest(StackTestCase):
    AGENTS = 2
    STRANGER = "stranger"
    STRANGER_PASSWORD = "stranger-" + uuid.uuid4().hex[:8]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cfg = cls.stack.dir / "prosody" / "prosody.cfg.lua"
        res = subprocess.run(["prosodyctl", "--config", str(cfg), "register", cls.STRANGER,
                              XMPP_DOMAIN, cls.STRANGER_PASSWORD], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=60)
        if res.returncode != 0:
            raise StackError(f"prosodyctl register failed: {res.stdout.decode()}")
        cls.marker_dir = Path(tempfile.mkdtemp(prefix="muster-markers-"))
        cls.marker_dir.chmod(0o1777)
        cls.addClassCleanup(shutil.rmtree, cls.marker_dir, True)

    # -- helpers -----------------------------------------------------------
    def target_jid(self):
        return f"{self.stack.agent_info(1)['jid']}/muster"

    def session(self, who):
        info = self.stack.agent_info(2)
        ca = self.stack.agent_dir(2) / "xmpp-ca.pem"
        if who == "agent2":
            jid, password = info["jid"], info["password"]
        else:
            jid, password = f"{self.STRANGER}@{XMPP_DOMAIN}", self.STRANGER_PASSWORD
        return Session(jid, password, ca, info["xmpp_host"], int(info["xmpp_port"]))

    def marker(self):
        # Tasks run as the unprivileged task user: the marker's folder must be writable for it.
        return self.marker_dir / f"ran-{uuid.uuid4().hex}"

    def real_task(self, job_id, agent_id):
        """The task stanza payload the master sends for (job, agent), rebuilt from the store."""
        r = self.stack.redis_cli
        job_key = f"muster:job:{{{job_id}}}"
        task_key = f"{job_key}:task:{agent_id}"
        field = lambda key, name: r("--raw", "HGET", key, name).rstrip("\n")  # noqa: E731
        # The command and its options travel only inside the signed statement.
        return {"v": 1, "task_id": field(task_key, "task_id"),
                "auth": {"key": field(job_key, "key_id"), "sig": field(job_key, "signature"),
                         "statement": field(job_key, "statement"), "proof": field(task_key, "proof")}}

    @staticmethod
    def restated(task, **changes):
        """The task with its statement changed after signing (the signature kept)."""
        statement = dict(json.loads(task["auth"]["statement"]), **changes)
        return dict(task, auth=dict(task["auth"], statement=json.dumps(statement, separators=(",", ":"))))

    def forged(self, task, claim_pinned_key):
        """The task re-signed with a key the agent never pinned."""
        with tempfile.TemporaryDirectory() as d:
            key, msg = Path(d) / "k.pem", Path(d) / "m"
            subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
                            "-out", str(key)], check=True, capture_output=True)
            msg.write_text(task["auth"]["statement"])
            sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(key), str(msg)],
                                 check=True, capture_output=True).stdout
            der = subprocess.run(["openssl", "ec", "-in", str(key), "-pubout", "-outform", "DER"],
                                 check=True, capture_output=True).stdout
        forged = json.loads(json.dumps(task))
        forged["auth"]["sig"] = base64.b64encode(sig).decode()
        if not claim_pinned_key:
            forged["auth"]["key"] = hashlib.sha256(der).hexdigest()[:16]
        return forged

    def assertNothingRan(self, markers, journal_before, what):
        # A real job on agent 1 is the barrier: whatever a stanza could have
        # started would have started before it.
        job, tasks = self.stack.run_job(
            {"command": "echo still-here", "targets": {"agents": [self.uuid(1)]}}, timeout=60)
        self.assertEqual(job["state"], "succeeded", f"{what}: {job}")
        self.assertEqual(tasks[self.uuid(1)]["stdout"], "still-here\n", what)
        for m in markers:
            self.assertFalse(m.exists(), f"{what}: {m.name} was created: a hostile task ran")
        journal = self.stack.agent_journal(1)
        self.assertEqual(journal[:len(journal_before)], journal_before, what)
        self.assertEqual(len(journal), len(journal_before) + 1,
                         f"{what}: the journal gained more than the barrier job: "
                         f"{journal[len(journal_before):]}")
        self.assertTrue(self.stack.procs["agent1"].alive(), f"{what}: agent 1 died")
        self.assertEqual(self.stack.agents()[self.uuid(1)]["status"], "online", what)

    # -- the tests ---------------------------------------------------------
    def hostile_tasks(self):
        """[(label, payload xml, marker)] of task stanzas that must all be refused."""
        out = []
        # A real signed job for agent 1 (already run: the replay) and one for agent 2.
        m_real = self.marker()
        job1, _ = self.stack.run_job({"command": f"echo real > /dev/null",
                                      "targets": {"agents": [self.uuid(1)]}})
        real = self.real_task(job1["id"], self.uuid(1))
        job2, _ = self.stack.run_job({"command": f"touch {m_real}-2",
                                      "targets": {"agents": [self.uuid(2)]}})
        for_agent2 = self.real_task(job2["id"], self.uuid(2))
        Path(f"{m_real}-2").unlink(missing_ok=True)  # agent 2 ran it (same machine); reset

        def add(label, task, marker):
            out.append((label, task_xml(task), marker))

        m = self.marker()
        add("unsigned", {"v": 1, "task_id": str(uuid.uuid4()), "job_id": str(uuid.uuid4()),
                         "command": f"touch {m}", "timeout_s": 60, "output_quota": 65536}, m)
        m = self.marker()
        base = self.restated(dict(real, task_id=str(uuid.uuid4())), command=f"touch {m}")
        add("forged (unpinned key, own key id)", self.forged(self.restated(real, command=f"touch {m}"), False), m)
        m = self.marker()
        add("forged (claims the pinned key id)", self.forged(self.restated(real, command=f"touch {m}"), True), m)
        m = self.marker()
        add("tampered (command changed after signing)", self.restated(real, command=f"touch {m}"), m)
        m = self.marker()
        add("tampered (command sent beside the signed statement)", dict(real, command=f"touch {m}"), m)
        m = self.marker()
        add("tampered (as_root flipped)", self.restated(real, as_root=True), m)
        m = self.marker()
        add("expired (not_after in the past, statement rewritten)",
            self.restated(real, not_after=time.time() - 3600, command=f"touch {m}"), m)
        add("meant for another agent (agent 2's valid task and proof)", for_agent2, Path(f"{m_real}-2"))
        add("replay of a real signed task agent 1 already ran", real, None)
        m = self.marker()
        add("tampered (new task id and command)", dict(base), m)
        # Malformed JSON and XML-ish payloads.
        m = self.marker()
        for i, text in enumerate(["{not json", "", "[]", "null", "{\"v\": 2}",
                                  "{\"v\":1,\"command\":\"touch " + str(m) + "\"}",
                                  json.dumps(dict(real, v="1")), json.dumps(real) + " trailing",
                                  "{\"a\":" * 200 + "1" + "}" * 200, "{\"v\":1,\"command\":\"a\\u0000b\"}",
                                  json.dumps(dict(real, extra=True))]):
            add(f"malformed JSON {i}", text, m)
        for i, xml in enumerate([
                f"<task xmlns='{NS}'/>",
                f"<task xmlns='{NS}'><task>{json.dumps(real)}</task></task>",
                f"<task xmlns='{NS}'><![CDATA[{json.dumps(real)}]]></task>",
                f"<task xmlns='urn:other'>{json.dumps(real)}</task>",
                f"<task xmlns='{NS}' command='touch {m}'>&lt;&amp;&gt;&quot;&apos;</task>",
                f"<result xmlns='{NS}'>{json.dumps(real)}</result>",
                f"<cancel xmlns='{NS}'>{{\"v\":1,\"task_id\":\"{real['task_id']}\","
                f"\"job_id\":\"{job1['id']}\"}}</cancel>"]):
            out.append((f"XML-ish {i}", xml, m))
        return out

    def test_hostile_tasks_from_another_agent_and_a_stranger(self):
        cases = self.hostile_tasks()
        journal_before = self.stack.agent_journal(1)
        for who in ("agent2", "stranger"):
            s = self.session(who)
            try:
                for label, payload, _ in cases:
                    with self.subTest(sender=who, case=label):
                        kind, reply, condition = s.iq(self.target_jid(), payload)
                        self.assertEqual(kind, "error", f"{who} / {label}: agent answered {reply}")
                        self.assertEqual(condition, "not-authorized", f"{who} / {label}: {reply}")
            finally:
                s.close()
        self.assertNothingRan([m for _, _, m in cases if m is not None], journal_before,
                              "hostile task stanzas")

    def test_results_the_master_never_asked_for(self):
        """The master side: results naming a task that was not sent to their
        sender, or from a stranger, or malformed, are refused with their own
        error and change nothing."""
        r = self.stack.redis_cli
        state_of = lambda job_id, agent: r("--raw", "HGET", f"muster:job:{{{job_id}}}:task:{agent}",  # noqa: E731
                                           "state").strip()
        done, _ = self.stack.run_job({"command": "true", "targets": {"agents": [self.uuid(1)]}})
        status, running = self.stack.api("POST", "/api/v1/jobs", {"command": "sleep 60",
                                                                  "targets": {"agents": [self.uuid(2)]}})
        self.assertEqual(status, 201, running)
        wait_until(lambda: state_of(running["id"], self.uuid(2)) == "running", 30, "the sleep to start")
        real_task_id = r("--raw", "HGET", f"muster:job:{{{running['id']}}}:task:{self.uuid(2)}", "task_id").strip()
        agent1_task_id = r("--raw", "HGET", f"muster:job:{{{done['id']}}}:task:{self.uuid(1)}", "task_id").strip()

        def result(job_id, task_id):
            now = time.time()
            return (f"<result xmlns='{NS}'>" + json.dumps(
                {"v": 1, "task_id": task_id, "job_id": job_id, "state": "succeeded", "exit_code": 0,
                 "stdout": "forged", "stderr": "", "started_at": now, "finished_at": now,
                 "duration_ms": 0}) + "</result>")

        master = self.stack.agent_info(2)["master_jid"]
        cases = [
            ("agent2", "its own running task under another task id", result(running["id"], str(uuid.uuid4())),
             "item-not-found"),
            ("agent2", "agent 1's finished task", result(done["id"], agent1_task_id), "item-not-found"),
            ("agent2", "a job that does not exist", result(str(uuid.uuid4()), real_task_id), "item-not-found"),
            ("agent2", "malformed JSON", f"<result xmlns='{NS}'>{{not json</result>", "bad-request"),
            ("stranger", "a stranger's result for agent 2's task", result(running["id"], real_task_id),
             "forbidden"),
        ]
        try:
            for who, label, payload, condition in cases:
                s = self.session(who)
                try:
                    with self.subTest(sender=who, case=label):
                        kind, reply, got = s.iq(master, payload)
                        self.assertEqual((kind, got), ("error", condition), f"{who} / {label}: {reply}")
                finally:
                    s.close()
            self.assertEqual(state_of(running["id"], self.uuid(2)), "running", "a refused result ended the task")
            shard = r("--raw", "HGET", f"muster:job:{{{running['id']}}}:task:{self.uuid(2)}", "shard").strip()
            self.assertIsNotNone(r("ZSCORE", f"muster:inflight:{{{shard}}}",
                                   f"{running['id']}|{self.uuid(2)}").strip() or None,
                                 "a refused result took the task off the master's watch list")
        finally:
            self.stack.api("POST", f"/api/v1/jobs/{running['id']}/cancel")
            wait_until(lambda: state_of(running["id"], self.uuid(2)) == "cancelled", 30, "the sleep to be cancelled")

    def test_malformed_stream_and_oversized_stanzas(self):
        journal_before = self.stack.agent_journal(1)
        to = self.target_jid()
        m = self.marker()
        task = task_xml({"v": 1, "task_id": str(uuid.uuid4()), "job_id": str(uuid.uuid4()),
                         "command": f"touch {m}", "timeout_s": 60, "output_quota": 65536})
        raws = [
            ("not well-formed XML", f"<iq type='set' to='{to}' id='x1'><task xmlns='{NS}'>{{</iq>"),
            ("unclosed element soup", f"<iq type='set' to='{to}' id='x2'><task xmlns='{NS}'><<>>"),
            ("a DTD (entity expansion)", "<!DOCTYPE x [<!ENTITY a 'aaaa'>]>"
                                         f"<iq type='set' to='{to}' id='x3'>{task}</iq>"),
            ("a processing instruction", f"<?xml version='1.0'?><iq type='set' to='{to}' id='x4'>{task}</iq>"),
            ("oversized (5 MiB, over the 4 MiB stanza limit)",
             f"<iq type='set' to='{to}' id='x5'><task xmlns='{NS}'>" + "A" * (5 << 20) + "</task></iq>"),
        ]
        for who in ("agent2", "stranger"):
            for label, raw in raws:
                with self.subTest(sender=who, case=label):
                    s = self.session(who)
                    try:
                        closed = s.raw(raw, wait=10)
                        self.assertTrue(closed, f"{who} / {label}: the server kept the stream open")
                    finally:
                        s.close()
        # An oversized but well-formed message to the agent's bare and full JID.
        s = self.session("stranger")
        try:
            big = f"<message to='{to}'><body>" + "B" * (5 << 20) + "</body></message>"
            self.assertTrue(s.raw(big, wait=10), "an oversized message was let through")
        finally:
            s.close()
        self.assertNothingRan([m], journal_before, "malformed and oversized stanzas")


if __name__ == "__main__":
    import unittest
    unittest.main()
