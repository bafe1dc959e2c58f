"""muster_stack.py as a command: up, down, demo."""

import json
import shutil
import sys
from pathlib import Path

from stacklib.util import REPO_ROOT, XMPP_SERVERS, StackError, pid_alive, pid_cmdline
import argparse
from stacklib.processes import Proc
from stacklib.stack import MusterStack


def down(state_dir, timeout=10.0):
    """Stop every process that `up` recorded in state_dir/pids.json."""
    path = Path(state_dir) / "pids.json"
    if not path.exists():
        print(f"nothing to stop: {path} does not exist")
        return 0
    state = json.loads(path.read_text())
    records = state.get("processes", [])
    # agents first, then hub, the XMPP server, epmd, redis
    rank = {"hub": 1, "prosody": 2, "ejabberd": 2, "epmd": 3, "redis": 4}
    records.sort(key=lambda r: rank.get(r["name"], 0))
    for rec in records:
        pid = rec.get("pid")
        cmd = pid_cmdline(pid) if pid else []
        if not pid or not pid_alive(pid):
            print(f"{rec['name']}: pid {pid} already gone")
            continue
        # Guard against a recycled pid: the program must be the one we started.
        want = Path(rec["argv"][0]).name
        if not any(Path(a).name == want or want in a for a in cmd[:2]):
            print(f"{rec['name']}: pid {pid} now runs {' '.join(cmd)!r}; not touching it")
            continue
        proc = Proc(rec["name"], rec["argv"], rec["log"])
        proc.pid = pid
        proc.stop(timeout)
        print(f"{rec['name']}: stopped pid {pid}")
    return 0


# ---------------------------------------------------------------------------
# CLI


def prepare_state_dir(path):
    """A fresh stack needs an empty directory; clear one a previous stack left behind."""
    if not path.exists() or not any(path.iterdir()):
        return
    if not ((path / "pids.json").exists() or (path / "pki" / "ca.pem").exists()):
        raise StackError(f"{path} is not empty and holds no earlier Muster stack; "
                         f"choose another --dir")
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def cmd_up(args):
    stack = MusterStack(args.dir, agents=args.agents, detached=True, xmpp_server=args.xmpp_server)
    stack.start()
    env_file = stack.dir / "demo.env"
    # Exported, so `. demo.env; muster agents` hands them to the command line.
    env_file.write_text(f"export MUSTER_URL={stack.hub_url}\nexport MUSTER_TOKEN={stack.admin_token}\n"
                        f"export MUSTER_CA={stack.ca_file}\n")
    env_file.chmod(0o600)
    print(f"hub URL:     {stack.hub_url}")
    print(f"admin token: {stack.admin_token}")
    print(f"CA file:     {stack.ca_file}")
    print(f"agents:      {', '.join(stack.agent_uuids[i] for i in sorted(stack.agent_uuids))}")
    print(f"env file:    {env_file}")
    print(f"stop with:   {REPO_ROOT / 'tests' / 'support' / 'muster_stack.py'} down --dir {stack.dir}")
    return stack


def cmd_demo(args):
    args.agents = 3
    stack = cmd_up(args)
    command = "uname -a; id"
    print(f"\nrunning {command!r} on all agents through POST /api/v1/jobs ...")
    job, tasks = stack.run_job({"command": command, "targets": {"all": True}, "timeout_s": 60},
                               timeout=90)
    agents = stack.agents()
    print(f"job {job['id']}: {job['state']} {json.dumps(job.get('counts'))}\n")
    for agent_id, task in sorted(tasks.items(), key=lambda kv: agents.get(kv[0], {}).get(
            "labels", {}).get("idx", "")):
        host = agents.get(agent_id, {}).get("hostname", "?")
        print(f"agent {agent_id}  host {host}  state {task['state']}  exit {task['exit_code']}")
        for line in (task.get("stdout") or "").splitlines():
            print(f"    {line}")
        if task.get("stderr"):
            print(f"    stderr: {task['stderr']!r}")
    env_file = stack.dir / "demo.env"
    print(f"""
The stack keeps running. Use it with the command line (docs/cli.md):

    . {env_file}
    {stack.build / 'cli' / 'muster'} agents
    {stack.build / 'cli' / 'muster'} run --all -- uptime

or the API with curl:

    curl --cacert $MUSTER_CA -H "Authorization: Bearer $MUSTER_TOKEN" $MUSTER_URL/api/v1/agents
    curl --cacert $MUSTER_CA -H "Authorization: Bearer $MUSTER_TOKEN" \\
         -d '{{"command": "uptime", "targets": {{"all": true}}}}' $MUSTER_URL/api/v1/jobs
    curl --cacert $MUSTER_CA -H "Authorization: Bearer $MUSTER_TOKEN" $MUSTER_URL/api/v1/jobs/<id>/tasks

Stop it with: {REPO_ROOT / 'tests' / 'support' / 'muster_stack.py'} down --dir {stack.dir}""")
    return 0 if job["state"] == "succeeded" else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name, help_text in (("up", "start a stack that keeps running"),
                            ("down", "stop a stack started with up or demo"),
                            ("demo", "up with 3 agents and run a first job")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--dir", required=True, help="state directory")
        if name == "up":
            p.add_argument("--agents", type=int, default=3)
        if name != "down":
            p.add_argument("--xmpp-server", choices=XMPP_SERVERS, default=None,
                           help="XMPP server (default: $MUSTER_XMPP_SERVER or prosody)")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "down":
            return down(args.dir)
        if Path(args.dir, "pids.json").exists():
            state = json.loads(Path(args.dir, "pids.json").read_text())
            if any(pid_alive(p["pid"]) for p in state.get("processes", [])):
                print(f"a stack already runs from {args.dir}; run `down --dir {args.dir}` first",
                      file=sys.stderr)
                return 1
        prepare_state_dir(Path(args.dir))
        if args.cmd == "up":
            cmd_up(args)
            return 0
        return cmd_demo(args)
    except StackError as e:
        print(f"muster_stack: {e}", file=sys.stderr)
        return 1
