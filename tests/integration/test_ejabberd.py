"""Muster on ejabberd 23.01 (Debian's package) instead of Prosody.

The stack runs a private ejabberd node (tests/support/muster_stack.py,
xmpp_server="ejabberd"): c2s with STARTTLS required and SCRAM, an XEP-0114
listener for the shard, the shard's component in ACL admin for XEP-0133. Shown
here, through standard XEPs only:

- enrollment creates the agents' accounts (XEP-0133 add-user: success is a
  completed result without note, failure an IQ error); the agents log in with
  SCRAM over TLS and come online; everything listens on loopback only, epmd
  and the Erlang distribution included;
- `uname -a; id` runs on all three agents with the right output, and a failing
  command reports its exit code and stderr;
- a master that reconnects finds the agents that are online although
  ejabberd 23.01 refuses XEP-0133 get-online-users-list (the disco#items
  fallback), and dispatches to them again;
- deleting an agent removes its account (delete-user), ends its session, and
  its logins are refused from then on.
"""

import ipaddress
import os
import socket
import sys
import re
import unittest

from stackcase import StackTestCase, wait_until

DOMAIN = "muster.localhost"


def process_group(pgid):
    """Pids of every process in process group pgid."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().decode("ascii", "replace").rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            pids.append(int(entry))
    return pids


def listening_addresses(pids):
    """(address, port) of every TCP socket in LISTEN state that one of pids holds."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            continue
    found = []
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] != "0A" or cols[9] not in inodes:  # 0A: LISTEN
                continue
            addr_hex, port_hex = cols[1].split(":")
            raw = bytes.fromhex(addr_hex)
            # /proc prints the address as host-order 32-bit words.
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.append((socket.inet_ntop(family, raw), int(port_hex, 16)))
    return found


class EjabberdTest(StackTestCase):
    AGENTS = 3
    XMPP_SERVER = "ejabberd"

    def ctl(self, *args):
        status, out = self.stack.ejabberdctl(*args)
        self.assertEqual(status, 0, f"ejabberdctl {' '.join(args)}: {out}")
        return out

    def registered(self):
        return set(self.ctl("registered_users", DOMAIN).split())

    def sessions(self):
        return set(self.ctl("connected_users").split())

    def test_1_enrollment_creates_accounts_and_agents_log_in(self):
        print(f"\nejabberd stack: XMPP server up in {self.stack.timings['xmpp']:.2f} s",
              file=sys.stderr)
        uuids = self.all_uuids()
        self.assertEqual(len(uuids), 3)
        # One account per agent, made by the master through XEP-0133 add-user.
        self.assertEqual(self.registered(), uuids)
        self.assertEqual(self.sessions(), {f"{u}@{DOMAIN}/muster" for u in uuids})
        agents = self.stack.agents()
        for i, agent_id in self.stack.agent_uuids.items():
            self.assertEqual(agents[agent_id]["status"], "online", agents[agent_id])
            info = self.stack.agent_info(i)
            self.assertEqual(info["xmpp_port"], self.stack.ports["c2s"], info)
        log = self.stack.ejabberd_log()
        for agent_id in uuids:
            self.assertRegex(log, rf"\(tls\|[^)]*\) Accepted c2s SCRAM-SHA-256 authentication "
                                  rf"for {agent_id}@{DOMAIN}")
        # The component stays connected: one login, never kicked (a stanza without
        # 'from' would get an invalid-from stream error from ejabberd).
        self.assertEqual(self.stack.component_logins(), 1)
        hub_log = self.stack.procs["hub"].log.read_text(errors="replace")
        self.assertNotIn("component link down", hub_log)
        self.assertIn("greeting 0 online agent(s)", hub_log)  # fallback listing works
        # ejabberd, its Erlang distribution and its epmd listen on loopback only.
        pids = process_group(self.stack.procs["ejabberd"].pid) + [self.stack.procs["epmd"].pid]
        listening = listening_addresses(pids)
        ports = {port for _, port in listening}
        for name in ("c2s", "component", "epmd"):
            self.assertIn(self.stack.ports[name], ports, listening)
        self.assertGreaterEqual(len(listening), 4, listening)  # + the distribution port
        for addr, port in listening:  # epmd adds ::1 to the -address it is given
            self.assertTrue(ipaddress.ip_address(addr).is_loopback,
                            f"port {port} listens on {addr}: {listening}")

    def test_2_job_runs_on_all_three_agents(self):
        job, tasks = self.stack.run_job(
            {"command": "uname -a; id", "targets": {"all": True}, "timeout_s": 60}, timeout=90)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["total"], 3, job)
        self.assertEqual(job["counts"]["succeeded"], 3, job)
        self.assertEqual(set(tasks), self.all_uuids())
        uname = " ".join(os.uname())
        for task in tasks.values():
            self.assertEqual(task["state"], "succeeded", task)
            self.assertEqual(task["exit_code"], 0, task)
            self.assertEqual(task["stderr"], "", task)
            lines = task["stdout"].splitlines()
            self.assertEqual(len(lines), 2, task)
            self.assertEqual(lines[0].split()[:3], uname.split()[:3], task)  # Linux <host> <release>
            self.assertRegex(lines[1], r"^uid=\d+\(\w+\) gid=\d+\(", task)

    def test_3_failing_command_reports_its_exit_code(self):
        target = self.uuid(2)
        job, tasks = self.stack.run_job(
            {"command": "echo out-line; echo err-line >&2; exit 7",
             "targets": {"agents": [target]}, "timeout_s": 30}, timeout=60)
        self.assertEqual(job["state"], "failed", job)
        self.assertEqual(job["counts"]["failed"], 1, job)
        task = tasks[target]
        self.assertEqual(task["state"], "failed", task)
        self.assertEqual(task["exit_code"], 7, task)
        self.assertIsNone(task["signal"], task)
        self.assertEqual(task["stdout"], "out-line\n", task)
        self.assertEqual(task["stderr"], "err-line\n", task)

    def test_4_reconnecting_master_finds_online_agents(self):
        stack = self.stack
        stack.stop_process("hub")
        # Forget what the store knew: only the master's listing can bring them back.
        for agent_id in self.all_uuids():
            stack.redis_cli("HSET", f"muster:agent:{{{agent_id}}}", "status", "offline")
        log = stack.procs["hub"].log
        log_start = log.stat().st_size
        stack.start_process("hub")
        stack.wait_agents_online(timeout=30)
        with open(log, "rb") as f:
            f.seek(log_start)
            text = f.read().decode("utf-8", "replace")
        self.assertIn("get-online-users-list refused", text)
        self.assertIn("greeting 3 online agent(s)", text)
        # The agents never left: the same sessions, no new logins.
        for i in stack.agent_uuids:
            self.assertTrue(stack.procs[f"agent{i}"].alive())
        job, tasks = stack.run_job({"command": "echo again", "targets": {"all": True}},
                                   timeout=60)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual({t["stdout"] for t in tasks.values()}, {"again\n"}, tasks)

    def test_5_deleted_agent_loses_its_account_and_is_refused(self):
        victim = self.uuid(3)
        log = self.stack.procs["agent3"].log
        log_start = log.stat().st_size
        status, body = self.stack.api("DELETE", f"/api/v1/agents/{victim}")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["status"], "revoked", body)
        # The account is gone (XEP-0133 delete-user) and so is its session.
        self.assertNotIn(victim, self.registered())
        self.assertEqual(self.registered(), self.all_uuids() - {victim})
        wait_until(lambda: f"{victim}@{DOMAIN}/muster" not in self.sessions(), 30,
                   "the deleted agent's session to end")

        def refused_login():
            with open(log, "rb") as f:
                f.seek(log_start)
                text = f.read().decode("utf-8", "replace")
            return "auth failed" in text or "Cannot authenticate" in text

        wait_until(refused_login, 60, "agent 3's log to show its XMPP login refused", interval=0.5)
        # ejabberd's logger writes asynchronously: the line may follow the refusal.
        refusal = re.compile(rf"Failed c2s SCRAM-SHA-\d+ authentication for {victim}@{DOMAIN}")
        wait_until(lambda: refusal.search(self.stack.ejabberd_log()), 10,
                   "ejabberd to log the deleted agent's refused login", interval=0.2)
        self.assertTrue(self.stack.procs["agent3"].alive())  # it keeps trying, and keeps failing
        self.assertNotIn(f"{victim}@{DOMAIN}/muster", self.sessions())
        self.assertNotIn(victim, self.stack.agents())
        self.assertApiError(self.stack.api("POST", "/api/v1/jobs",
                                           {"command": "id", "targets": {"agents": [victim]}}),
                            400, "unknown_agent")
        job, tasks = self.stack.run_job({"command": "true", "targets": {"all": True}}, timeout=60)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(set(tasks), self.all_uuids() - {victim})


if __name__ == "__main__":
    unittest.main()
