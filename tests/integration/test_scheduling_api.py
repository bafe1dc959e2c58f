"""Targeting (agents, labels, regions, facts), dry runs, pagination, live
events and concurrency across shards, on a stack with two regions of two
shards each."""

import http.client
import json
import platform
import sys
import tempfile
import time
import unittest
import uuid
from pathlib import Path

from stackcase import StackTestCase, wait_until
from muster_stack import RegionStack


def report(line):
    print(f"\n[scheduling] {line}", file=sys.stderr, flush=True)


class RegionApiTest(StackTestCase):
    @classmethod
    def setUpClass(cls):
        cls._failed = False
        cls.state_dir = tempfile.mkdtemp(prefix=f"muster-{cls.__name__}-")
        cls.stack = RegionStack(cls.state_dir, regions=("r1", "r2"), shards_per_region=2,
                                agents_per_region=3, standbys=0)
        cls.addClassCleanup(cls._tear_down_stack)
        try:
            cls.stack.start()
        except BaseException:
            cls._failed = True
            raise

    def region_uuids(self, region):
        return {self.uuid(i) for i in self.stack.region_agents(region)}

    def dry_run(self, targets):
        return self.stack.api("POST", "/api/v1/jobs?dry_run=1",
                              {"command": "true", "targets": targets})

    def store_keys(self):
        return set(self.stack.redis_cli("--scan").split())

    def job_ids(self):
        status, body = self.stack.api("GET", "/api/v1/jobs?limit=1000")
        self.assertEqual(status, 200, body)
        return [j["id"] for j in body["jobs"]]

    # -- targeting and dry run ---------------------------------------------------
    def test_agents_are_placed_in_their_regions(self):
        agents = self.stack.agents()
        for i, region in self.stack.agent_region.items():
            a = agents[self.uuid(i)]
            self.assertEqual(a["region"], region, a)
            self.assertIn(a["shard"], self.stack.region_shards(region), a)
            self.assertEqual(a["status"], "online", a)

    def test_dry_run_writes_nothing(self):
        jobs_before = self.job_ids()
        keys_before = self.store_keys()
        status, body = self.dry_run({"all": True})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["dry_run"], True, body)
        self.assertEqual(set(body["agents"]), self.all_uuids(), body)
        self.assertEqual(body["tasks"], len(self.all_uuids()), body)
        added = self.store_keys() - keys_before
        self.assertEqual(added, set(), "a dry run created store keys")
        self.assertEqual(self.job_ids(), jobs_before)

    def test_targeting(self):
        r1, r2 = self.region_uuids("r1"), self.region_uuids("r2")
        arch = platform.machine()
        one_of_r1 = self.uuid(self.stack.region_agents("r1")[0])
        idx = self.stack.region_agents("r1")[1]
        cases = [
            ({"regions": ["r1"]}, r1),
            ({"regions": ["r2"]}, r2),
            ({"regions": ["r1", "r2"]}, r1 | r2),
            ({"facts": {"os": "linux"}}, r1 | r2),
            ({"facts": {"os": "linux", "arch": arch}, "regions": ["r2"]}, r2),
            ({"labels": {"idx": str(idx)}}, {self.uuid(idx)}),
            ({"labels": {"idx": str(idx)}, "regions": ["r1"]}, {self.uuid(idx)}),
            ({"agents": [one_of_r1], "regions": ["r2"]}, {one_of_r1} | r2),
            ({"agents": [one_of_r1]}, {one_of_r1}),
        ]
        for targets, want in cases:
            with self.subTest(targets=targets):
                status, body = self.dry_run(targets)
                self.assertEqual(status, 200, body)
                self.assertEqual(set(body["agents"]), want, body)
                self.assertEqual(body["tasks"], len(want), body)
        for targets in ({"facts": {"os": "windows"}}, {"facts": {"arch": "no-such-arch"}},
                        {"labels": {"idx": str(idx)}, "regions": ["r2"]}):
            with self.subTest(targets=targets):
                status, body = self.dry_run(targets)
                self.assertEqual(status, 400, body)
                self.assertEqual(body["error"]["code"], "no_targets", body)
        # A region that is not configured is a mistake in the request.
        status, body = self.dry_run({"regions": ["nowhere"]})
        self.assertEqual((status, body["error"]["code"]), (400, "invalid_field"), body)
        # A real job by region runs on exactly that region.
        job, tasks = self.stack.run_job({"command": "echo here", "targets": {"regions": ["r2"]}})
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(set(tasks), r2)

    # -- pagination ----------------------------------------------------------------
    def test_job_pagination_walks_every_job_once(self):
        made = [self.stack.submit_job({"command": "true", "targets": {"agents": [self.uuid(1)]}})
                for _ in range(23)]
        seen, cursor, pages = [], None, 0
        while True:
            path = "/api/v1/jobs?limit=5" + (f"&cursor={cursor}" if cursor else "")
            status, body = self.stack.api("GET", path)
            self.assertEqual(status, 200, body)
            pages += 1
            self.assertLessEqual(len(body["jobs"]), 5)
            seen += [j["id"] for j in body["jobs"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
            self.assertLess(pages, 100)
        self.assertEqual(len(seen), len(set(seen)), "a job appeared on two pages")
        self.assertEqual(set(seen), set(self.job_ids()))
        self.assertTrue(set(made) <= set(seen))
        # Newest first.
        self.assertEqual([j for j in seen if j in made], list(reversed(made)))
        for j in made:
            self.stack.wait_job(j, timeout=60)

    def test_task_pagination_walks_every_task_once(self):
        job_id = self.stack.submit_job({"command": "true", "targets": {"all": True}})
        self.stack.wait_job(job_id, timeout=60)
        for limit in (1, 4, 6, 100):
            with self.subTest(limit=limit):
                seen, cursor = [], None
                while True:
                    path = f"/api/v1/jobs/{job_id}/tasks?limit={limit}" + (
                        f"&cursor={cursor}" if cursor else "")
                    status, body = self.stack.api("GET", path)
                    self.assertEqual(status, 200, body)
                    self.assertLessEqual(len(body["tasks"]), limit)
                    seen += [t["task_id"] for t in body["tasks"]]
                    cursor = body["next_cursor"]
                    if cursor is None:
                        break
                    self.assertLess(len(seen), 1000)
                self.assertEqual(len(seen), len(self.all_uuids()))
                self.assertEqual(len(set(seen)), len(seen))

    # -- live events -------------------------------------------------------------------
    def read_events(self, job_id, last_event_id=None, timeout=90):
        conn = http.client.HTTPSConnection("localhost", self.stack.ports["api"], timeout=timeout,
                                           context=self.stack._ssl_context())
        headers = {"Authorization": f"Bearer {self.stack.admin_token}",
                   "Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        conn.request("GET", f"/api/v1/jobs/{job_id}/events", headers=headers)
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertTrue(resp.getheader("Content-Type", "").startswith("text/event-stream"))
        events, current = [], {}
        t0 = time.monotonic()
        for raw in resp:  # ends when the server ends the stream
            line = raw.decode().rstrip("\r\n")
            if not line:
                if "event" in current:
                    events.append(current)
                current = {}
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(":")
            current[key] = value[1:] if value.startswith(" ") else value
            self.assertLess(time.monotonic() - t0, timeout, "the event stream did not end")
        conn.close()
        for e in events:
            e["json"] = json.loads(e["data"])
        return events

    def test_events_stream(self):
        job_id = self.stack.submit_job({"command": "echo sse-first; sleep 1; echo sse-second",
                                        "targets": {"all": True}})
        t0 = time.monotonic()
        events = self.read_events(job_id)
        took = time.monotonic() - t0
        kinds = [e["event"] for e in events]
        report(f"events: {len(events)} events ({kinds.count('state')} state, "
               f"{kinds.count('output')} output, {kinds.count('job')} job), stream ended "
               f"after {took:.1f}s")
        self.assertTrue(all("id" in e for e in events), events)
        self.assertEqual(len({e["id"] for e in events}), len(events), "event ids repeat")
        self.assertEqual(kinds[-1], "job", kinds)
        self.assertEqual(kinds.count("job"), 1, kinds)
        self.assertEqual(events[-1]["json"], {"job_id": job_id, "state": "succeeded"})
        finals = {e["json"]["agent_id"]: e["json"]["state"] for e in events
                  if e["event"] == "state"}
        self.assertEqual(finals, {u: "succeeded" for u in self.all_uuids()})
        running = {e["json"]["agent_id"] for e in events
                   if e["event"] == "state" and e["json"]["state"] == "running"}
        self.assertEqual(running, self.all_uuids())
        outputs = {}
        for e in events:
            if e["event"] == "output":
                self.assertEqual(e["json"]["stream"], "stdout", e)
                outputs.setdefault(e["json"]["agent_id"], []).append(e["json"])
        self.assertEqual(set(outputs), self.all_uuids())
        for agent, chunks in outputs.items():
            self.assertEqual([c["seq"] for c in chunks], sorted(c["seq"] for c in chunks))
            self.assertEqual("".join(c["data"] for c in chunks), "sse-first\nsse-second\n", agent)

        # Resume after the first event: exactly the rest again, then the end.
        resumed = self.read_events(job_id, last_event_id=events[0]["id"], timeout=30)
        self.assertEqual([e["id"] for e in resumed], [e["id"] for e in events[1:]])

    # -- concurrency across shards ----------------------------------------------------
    def test_concurrency_across_shards(self):
        times = Path(self.state_dir) / f"times-{uuid.uuid4().hex[:8]}"
        command = (f't0=$(date +%s.%N); sleep 1; t1=$(date +%s.%N); '
                   f'echo "$t0 $t1" >> {times}')
        shards = {a["shard"] for a in self.stack.agents().values()}
        job, tasks = self.stack.run_job({"command": command, "targets": {"all": True},
                                         "concurrency": 2, "as_root": True}, timeout=120)
        self.assertEqual(job["state"], "succeeded", job)
        intervals = [tuple(map(float, ln.split())) for ln in times.read_text().splitlines()
                     if ln.strip()]
        events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
        most = cur = 0
        for _, d in events:
            cur += d
            most = max(most, cur)
        report(f"concurrency 2 over {len(intervals)} agents on {len(shards)} shards: "
               f"at most {most} at once")
        self.assertEqual(len(intervals), len(self.all_uuids()))
        self.assertLessEqual(most, 2)


if __name__ == "__main__":
    unittest.main()
