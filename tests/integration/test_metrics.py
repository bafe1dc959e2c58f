"""The operations listener of a running hub: /metrics in the Prometheus text
format that promtool accepts, /healthz and /readyz with their conventions,
JSON errors for anything else, and a real Prometheus server that scrapes the
stack and answers a PromQL query about the tasks of a job the test ran.
"""

import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from stackcase import StackTestCase, wait_until
from muster_stack import free_port, require_tool


class MetricsTest(StackTestCase):
    AGENTS = 3

    def ops(self, path, method="GET"):
        url = f"http://127.0.0.1:{self.stack.ports['metrics']}{path}"
        request = urllib.request.Request(url, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return resp.status, resp.headers.get("Content-Type"), resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type"), e.read().decode()

    def test_metrics_pass_promtool_and_count_what_happened(self):
        job, _ = self.stack.run_job({"command": "true", "targets": {"all": True}})
        status, ctype, text = self.ops("/metrics")
        self.assertEqual(status, 200, text)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        check = subprocess.run([require_tool("promtool"), "check", "metrics"], input=text.encode(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout.decode())
        self.assertEqual(check.stdout.decode().strip(), "", "promtool has remarks")
        for needle in ('muster_task_results_total{state="succeeded"} ', "muster_jobs_created_total ",
                       'muster_http_requests_total{route="/api/v1/jobs",method="POST",code="201"} ',
                       "muster_shard_leases_held 1", 'muster_component_link_up{shard="',
                       "process_resident_memory_bytes ", "process_cpu_seconds_total ",
                       "muster_task_run_seconds_count ", "muster_store_round_trip_seconds_count ",
                       'muster_dispatch_window_in_flight{shard="', 'muster_agents_online{region="'):
            self.assertIn(needle, text)
        self.assertNotIn(job["id"], text, "a job id became a label")
        online = [line for line in text.splitlines() if line.startswith("muster_agents_online{")]
        self.assertEqual([line.rsplit(" ", 1)[1] for line in online], ["3"], online)

    def test_the_sample_alert_rules_are_valid(self):
        rules = Path(__file__).resolve().parents[2] / "docs" / "alerts.yml"
        check = subprocess.run([require_tool("promtool"), "check", "rules", str(rules)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout.decode())
        self.assertIn("SUCCESS: 6 rules found", check.stdout.decode())

    def test_health_readiness_and_errors(self):
        self.assertEqual(self.ops("/healthz")[::2], (200, '{"status":"ok"}'))
        self.assertEqual(self.ops("/readyz")[::2], (200, '{"status":"ready"}'))
        status, _, body = self.ops("/nothing")
        self.assertEqual((status, json.loads(body)["error"]["code"]), (404, "not_found"))
        status, _, body = self.ops("/metrics", method="POST")
        self.assertEqual((status, json.loads(body)["error"]["code"]), (405, "method_not_allowed"))
        # The store gone: not ready, and it says why; ready again once it is back.
        self.stack.stop_process("redis")
        try:
            status, _, body = self.ops("/readyz")
            self.assertEqual(status, 503, body)
            self.assertIn("store", json.loads(body)["reason"])
            self.assertEqual(self.ops("/healthz")[0], 200)
        finally:
            self.stack.start_process("redis")
        wait_until(lambda: self.ops("/readyz")[0] == 200, 60, "readyz to be 200 again", interval=0.5)

    def test_a_real_prometheus_scrapes_the_stack(self):
        work = self.stack.dir / "prometheus"
        work.mkdir(exist_ok=True)
        port = free_port()
        (work / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: muster\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{self.stack.ports['metrics']}']\n")
        log = open(work / "prometheus.log", "wb")
        server = subprocess.Popen([require_tool("prometheus"), f"--config.file={work / 'prometheus.yml'}",
                                   f"--storage.tsdb.path={work / 'data'}",
                                   f"--web.listen-address=127.0.0.1:{port}"],
                                  stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(log.close)
        self.addCleanup(server.wait, 30)
        self.addCleanup(server.terminate)
        self.stack.run_job({"command": "echo scraped", "targets": {"all": True}})

        def succeeded():
            query = urllib.parse.quote('sum(muster_task_results_total{state="succeeded"})')
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query?query={query}",
                                            timeout=5) as resp:
                    result = json.loads(resp.read())["data"]["result"]
            except (urllib.error.URLError, ConnectionError):
                return False
            return bool(result) and float(result[0]["value"][1]) >= 3 and result[0]["value"][1]

        value = wait_until(succeeded, 60, "Prometheus to see the job's 3 succeeded tasks", interval=0.5)
        print(f"\nPromQL sum(muster_task_results_total{{state=\"succeeded\"}}) = {value}")


if __name__ == "__main__":
    import unittest
    unittest.main()
