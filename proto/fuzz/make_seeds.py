#!/usr/bin/python3
"""Writes the seed corpora of the fuzz harnesses (corpus/<target>/*): a few
valid messages of each kind and a few near misses. Run it again after a
protocol change; the files are checked in and small.

The verify_task seeds start with a mode byte (see fuzz_verify_task.cpp):
0x01 asks the harness to sign the statement with its pinned key, so the seeds
address the harness's agent id with real Merkle proofs.
"""

import base64
import hashlib
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROTO = HERE / "corpus"
HUB = HERE.parents[1] / "hub" / "fuzz" / "corpus"

AGENT = "11111111-1111-4111-8111-111111111111"
OTHER = "22222222-2222-4222-8222-222222222222"
TASK = "33333333-3333-4333-8333-333333333333"
TASK2 = "44444444-4444-4444-8444-444444444444"
JOB = "55555555-5555-4555-8555-555555555555"


def js(obj):
    return json.dumps(obj, separators=(",", ":"))


def write(folder, name, data):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def leaf(agent, task):
    return hashlib.sha256(b"\x00" + f"{agent}:{task}".encode()).digest()


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def step(side, sibling):
    """One Merkle proof step as sent: the sibling's side and its hash in base64."""
    return side + base64.b64encode(sibling).decode()


def main():
    facts = {"v": 1, "hostname": "web-1", "os": "linux", "arch": "x86_64", "kernel": "6.1.0",
             "agent_version": "0.1.0", "labels": {"role": "web", "env": "prod"}}
    task = {"v": 1, "task_id": TASK, "job_id": JOB, "command": "uname -a; id", "timeout_s": 60,
            "output_quota": 65536, "as_root": False}
    argv_task = dict(task, argv=["/bin/echo", "hi"])
    del argv_task["command"]
    result = {"v": 1, "task_id": TASK, "job_id": JOB, "state": "succeeded", "exit_code": 0, "signal": None,
              "error": None, "stdout": "Linux\n", "stderr": "", "stdout_dropped": 0, "stderr_dropped": 0,
              "started_at": 1764200000.1, "finished_at": 1764200000.2, "duration_ms": 100}
    killed = dict(result, state="timed_out", exit_code=None, signal=9, error="timed out")
    chunk = {"v": 1, "task_id": TASK, "job_id": JOB, "stream": "stdout", "seq": 0, "data": "hello\u00e9\n"}
    enrollment = {"uuid": AGENT, "jid": f"{AGENT}@muster.localhost", "password": "secret",
                  "xmpp_host": "127.0.0.1", "xmpp_port": 5222, "xmpp_domain": "muster.localhost",
                  "ca_pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                  "master_jid": "shard0.muster.localhost",
                  "signing_keys": ["-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"]}
    cancel = {"v": 1, "task_id": TASK, "job_id": JOB}

    # A two-agent job: this agent's leaf and another's.
    mine, theirs = leaf(AGENT, TASK), leaf(OTHER, TASK2)
    root = node(mine, theirs).hex()
    statement = {"v": 1, "job_id": JOB, "command": "uname -a; id", "timeout_s": 60, "output_quota": 65536,
                 "as_root": False, "not_after": 1800000000, "merkle_root": root}
    expired = dict(statement, not_after=1600000000)
    argv_statement = dict(statement, argv=["/bin/echo", "hi"])
    del argv_statement["command"]

    def signed(stmt, proof, key="0000000000000000", task_id=TASK):
        # A signed task sends its command and options only inside the statement.
        return {"v": 1, "task_id": task_id,
                "auth": {"key": key, "sig": "MA==", "statement": js(stmt), "proof": proof}}

    sets = {
        "decode_facts": [facts, dict(facts, labels={}), {"v": 1, "hostname": "h", "os": "linux", "arch": "arm"}],
        "decode_task": [task, argv_task, signed(statement, step("r", theirs))],
        "decode_task_result": [result, killed],
        "decode_output_chunk": [chunk, dict(chunk, stream="stderr", seq=7)],
        "decode_enrollment": [enrollment],
        "decode_cancel": [cancel],
        "decode_statement": [statement, argv_statement, dict(statement, as_root=True)],
    }
    for target, docs in sets.items():
        for i, doc in enumerate(docs):
            write(PROTO / target, f"seed-{i}.json", js(doc))
    write(PROTO / "decode_task", "near-miss-0.json", js(dict(task, timeout_s=0)))
    write(PROTO / "decode_statement", "near-miss-0.json", js(dict(statement, merkle_root="zz")))

    for i, doc in enumerate([facts, task, result, {"a": [1, 2.5, -3e10, True, False, None, {"b": "\\u0000"}]},
                             {"nested": {"x": {"y": {"z": []}}}}]):
        write(PROTO / "parse_object", f"seed-{i}.json", js(doc))
    write(PROTO / "parse_object", "trailing.json", '{"a":1} x')
    write(PROTO / "parse_object", "escapes.json", '{"s":"\\ud83d\\ude00\\n\\"\\\\\\/\\b\\f\\r\\t"}')

    vt = PROTO / "verify_task"
    cases = {
        "valid": signed(statement, step("r", theirs)),
        "argv": signed(dict(argv_statement), step("r", theirs)),
        "single": signed(dict(statement, merkle_root=mine.hex()), ""),
        "expired": signed(expired, step("r", theirs)),
        "tampered": dict(signed(statement, step("r", theirs)), command="rm -rf /"),
        "other-agent": signed(statement, step("l", mine), task_id=TASK2),
    }
    for name, doc in cases.items():
        write(vt, f"{name}.bin", b"\x01" + js(doc).encode())
    write(vt, "unsigned.bin", b"\x00" + js(task).encode())
    write(vt, "forged.bin", b"\x00" + js(cases["valid"]).encode())

    jr = HUB / "job_request"
    requests = [
        {"command": "uname -a", "targets": {"all": True}},
        {"argv": ["/bin/echo", "x"], "targets": {"agents": [AGENT, OTHER]}, "timeout_s": 60},
        {"command": "id", "targets": {"labels": {"role": "web"}, "regions": ["eu"],
                                      "facts": {"os": "linux", "arch": "x86_64"}},
         "output_quota": 4096, "deadline_s": 600, "concurrency": "10%", "max_failures": 3, "as_root": True},
        {"command": "id", "targets": {"all": True}, "concurrency": 5, "max_failures": "100%"},
    ]
    for i, doc in enumerate(requests):
        write(jr, f"seed-{i}.json", js(doc))
    write(jr, "null.json", '{"command":null,"targets":{"all":true}}')
    write(jr, "unknown.json", '{"command":"x","targets":{"all":true},"bogus":1}')
    write(jr, "percent.json", '{"command":"x","targets":{"all":true},"concurrency":"0%"}')


if __name__ == "__main__":
    main()
