"""muster-agents: enrollment, start, their state (journal, spool) as the tests
read it, and waiting for them to be online."""

import json
import subprocess

from stacklib.util import StackError, require_binary, tail, wait_until
from stacklib.processes import Proc


class AgentsMixin:
    @property
    def agent_bin(self):
        return self.build / "agent" / "muster-agent"

    def agent_dir(self, i):
        return self.dir / "agents" / str(i)

    def agent_log_dir(self, i):
        """Where agent i's enroll.log and agent.log go (its state dir here)."""
        return self.agent_dir(i)

    def agent_argv(self, *args):
        """The command that runs muster-agent with `args` (subclasses may run
        another build, an emulator or a chroot)."""
        return [require_binary(self.agent_bin), *args]

    def agent_path(self, host_path):
        """A host path as the agent sees it (the same path here)."""
        return str(host_path)

    def agent_info(self, i):
        """The agent's state file (agent.json) as a dict."""
        with open(self.agent_dir(i) / "agent.json") as f:
            return json.load(f)

    def agent_journal(self, i):
        """Task ids the agent started, in order, one entry per start.

        The agent writes "start <task> <job>" lines; docs/commands.md speaks of
        one bare task id per line, which is read as a start too. Any other
        multi-word line (e.g. a later "done <task>" record) is not a start.
        """
        ids = []
        try:
            with open(self.agent_dir(i) / "journal") as f:
                for line in f:
                    words = line.split()
                    if len(words) == 1:
                        ids.append(words[0])
                    elif len(words) >= 2 and words[0] == "start":
                        ids.append(words[1])
        except FileNotFoundError:
            pass
        return ids

    def agent_spool(self, i):
        spool = self.agent_dir(i) / "spool"
        try:
            return sorted(p.name for p in spool.iterdir() if not p.name.startswith("."))
        except FileNotFoundError:
            return []

    def enroll_agents(self, n):
        self.enroll_token = self.create_enroll_token(n)
        for i in range(1, n + 1):
            self.enroll_agent(i, self.enroll_token)

    def enroll_agent(self, i, token):
        adir = self.agent_dir(i)
        adir.mkdir(parents=True, exist_ok=True)
        logdir = self.agent_log_dir(i)
        logdir.mkdir(parents=True, exist_ok=True)
        argv = self.agent_argv("enroll", "--hub", self.hub_url, "--token", token,
                               "--ca", self.agent_path(self.ca_file), "--label", f"idx={i}",
                               "--state-dir", self.agent_path(adir))
        res = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=self.enroll_timeout)
        out, err = res.stdout.decode(errors="replace"), res.stderr.decode(errors="replace")
        with open(logdir / "enroll.log", "a") as f:
            f.write(f"$ {' '.join(argv)}\n[status {res.returncode}]\n{out}{err}")
        lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
        if res.returncode != 0 or not lines:
            raise StackError(f"muster-agent enroll for agent {i} failed (status {res.returncode}):"
                             f"\n{out}{err}\nhub log:\n{tail(self.procs['hub'].log)}")
        self.agent_uuids[i] = lines[-1]
        return lines[-1]

    def start_agent(self, i):
        adir = self.agent_dir(i)
        logdir = self.agent_log_dir(i)
        name = f"agent{i}"
        if name not in self.procs:
            self.procs[name] = Proc(name, self.agent_argv("run", "--state-dir", self.agent_path(adir),
                                                          "--log-level", self.agent_log_level),
                                    logdir / "agent.log", cwd=logdir, tied=not self.detached)
        self.procs[name].start()
        return self.procs[name]

    def agents(self, token=None, timeout=30):
        """Every agent of the token's tenant (default: the admin's), page by page."""
        found, cursor = {}, None
        while True:
            path = "/api/v1/agents?limit=1000" + (f"&cursor={cursor}" if cursor else "")
            status, body = self.api("GET", path, token=token or self.admin_token, timeout=timeout)
            if status != 200:
                raise StackError(f"GET {path} -> {status} {body}")
            found.update((a["id"], a) for a in body["agents"])
            cursor = body["next_cursor"]
            if not cursor:
                return found

    def wait_agents_online(self, indexes=None, timeout=60):
        indexes = list(indexes or self.agent_uuids)
        want = {self.agent_uuids[i] for i in indexes}

        def check():
            for i in indexes:
                self.procs[f"agent{i}"].check_running()
            self.procs["hub"].check_running()

        def online():
            agents = self.agents()
            return all(agents.get(u, {}).get("status") == "online" for u in want)

        try:
            wait_until(online, timeout, f"agents {sorted(indexes)} to be online", interval=0.25,
                       check=check)
        except StackError as e:
            logs = "\n".join(f"--- agent {i} log:\n{tail(self.procs[f'agent{i}'].log, 15)}"
                             for i in indexes)
            raise StackError(f"{e}\n{logs}\n--- hub log:\n{tail(self.procs['hub'].log, 20)}") from e
