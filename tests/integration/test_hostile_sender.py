"""A task stanza from any JID but the master's is refused and never run.

Another agent's XMPP account (agent 2, a real enrolled account on the same
server) sends agent 1 a well-formed task. The agent must answer with an iq
error, run nothing and journal nothing, and keep working for its master.
"""

import asyncio
import json
import logging
import os
import shutil
import stat
import tempfile
import uuid
import unittest
import xml.etree.ElementTree as ET
from pathlib import Path

from stackcase import StackTestCase, StackError

import slixmpp  # python3-slixmpp (Debian); needs /usr/bin/python3
from slixmpp.exceptions import IqError, IqTimeout

logging.getLogger("slixmpp").setLevel(logging.CRITICAL)


def send_iq_as(jid, password, ca_file, host, port, to, payload_xml, timeout=20):
    """Log in as jid, send one iq set carrying payload_xml to `to`; return the reply stanza.

    Returns ("result" | "error", reply). Raises StackError if login or the reply times out.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    client = slixmpp.ClientXMPP(f"{jid}/intruder-{uuid.uuid4().hex[:6]}", password)
    client.ca_certs = Path(ca_file)
    ready = loop.create_future()
    client.add_event_handler("session_start",
                             lambda _e: ready.done() or ready.set_result(True))
    client.add_event_handler("failed_auth",
                             lambda _e: ready.done() or ready.set_exception(
                                 StackError(f"authentication as {jid} failed")))

    async def exchange():
        await asyncio.wait_for(ready, timeout)
        iq = client.Iq()
        iq["type"] = "set"
        iq["to"] = to
        iq.append(ET.fromstring(payload_xml))
        try:
            reply = await iq.send(timeout=timeout)
            return "result", reply
        except IqError as e:
            return "error", e.iq
        except IqTimeout as e:
            raise StackError(f"no reply from {to} within {timeout}s") from e

    try:
        client.connect((host, port))
        kind, reply = loop.run_until_complete(asyncio.wait_for(exchange(), timeout * 2 + 5))
        reply_xml = str(reply)
        condition = reply["error"]["condition"] if kind == "error" else None
        return kind, reply_xml, condition
    finally:
        disconnected = loop.create_future()
        client.add_event_handler("disconnected",
                                 lambda _e: disconnected.done() or disconnected.set_result(True))
        client.disconnect()
        try:
            loop.run_until_complete(asyncio.wait_for(disconnected, 5))
        except Exception:  # noqa: BLE001 - best effort close
            pass
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        asyncio.set_event_loop(None)


class HostileSenderTest(StackTestCase):
    def drop_dir(self):
        """A fresh world-writable sticky directory (mode 1777) on a path every
        user can reach: a task would be able to leave a file there whatever user
        it runs as (nobody, by default), so a missing marker means it never ran."""
        d = Path(tempfile.mkdtemp(prefix="muster-hostile-"))
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o1777)
        self.assertEqual(stat.S_IMODE(os.stat(d).st_mode), 0o1777)
        for p in d.parents:
            self.assertTrue(os.stat(p).st_mode & stat.S_IXOTH, f"{p} is not searchable by other users")
        return d

    def intruder_send(self, to, payload_xml):
        creds = self.stack.agent_info(2)
        for field in ("jid", "password", "xmpp_host", "xmpp_port"):
            self.assertIn(field, creds, f"agents/2/agent.json lacks {field}")
        ca = self.stack.agent_dir(2) / "xmpp-ca.pem"
        self.assertTrue(ca.is_file(), f"{ca} missing")
        return send_iq_as(creds["jid"], creds["password"], ca, creds["xmpp_host"],
                          int(creds["xmpp_port"]), to, payload_xml)

    def task_xml(self, task):
        el = ET.Element("{urn:muster:1}task")
        el.text = json.dumps(task)
        return ET.tostring(el, encoding="unicode")

    def test_task_from_other_account_is_refused(self):
        target = self.stack.agent_info(1)
        target_jid = f"{target['jid']}/muster"
        drop = self.drop_dir()
        marker = drop / f"intrusion-{uuid.uuid4().hex}"
        task_id = str(uuid.uuid4())
        task = {"v": 1, "task_id": task_id, "job_id": str(uuid.uuid4()),
                "command": f"touch {marker}", "timeout_s": 60, "output_quota": 65536}

        kind, reply, condition = self.intruder_send(target_jid, self.task_xml(task))
        self.assertEqual(kind, "error", f"agent accepted a task from another account: {reply}")
        self.assertEqual(condition, "not-authorized", reply)

        # A real job on the same agent afterwards works, and serves as a barrier:
        # anything the stanza could have started would have started by now. It
        # also leaves its own file in the drop directory, which shows that a
        # task that ran would have left the marker.
        control = drop / f"control-{uuid.uuid4().hex}"
        job, tasks = self.stack.run_job(
            {"command": f"touch {control} && echo still-here", "targets": {"agents": [self.uuid(1)]}},
            timeout=60)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(tasks[self.uuid(1)]["stdout"], "still-here\n")
        self.assertTrue(control.exists(), "a real task could not write to the drop directory")

        self.assertFalse(marker.exists(), "the refused task ran")
        self.assertNotIn(task_id, self.stack.agent_journal(1), "the refused task was journalled")
        self.assertNotIn(task_id, (self.stack.agent_dir(1) / "journal").read_text())
        self.assertTrue(self.stack.procs["agent1"].alive())

    def test_malformed_payload_from_other_account_is_refused(self):
        target = self.stack.agent_info(1)
        drop = self.drop_dir()
        marker = drop / f"intrusion-{uuid.uuid4().hex}"
        for payload in ("<task xmlns='urn:muster:1'>{not json</task>",
                        "<task xmlns='urn:muster:1'>{\"v\": 1, \"command\": \"touch "
                        f"{marker}\"}}</task>"):
            kind, reply, _ = self.intruder_send(f"{target['jid']}/muster", payload)
            self.assertEqual(kind, "error", reply)
        self.assertTrue(self.stack.procs["agent1"].alive())
        control = drop / f"control-{uuid.uuid4().hex}"
        job, tasks = self.stack.run_job({"command": f"touch {control}",
                                         "targets": {"agents": [self.uuid(1)]}}, timeout=60)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertTrue(control.exists(), "a real task could not write to the drop directory")
        self.assertFalse(marker.exists(), "the refused task ran")


if __name__ == "__main__":
    unittest.main()
