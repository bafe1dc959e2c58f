"""muster-hub: its one configuration writer (every layout: one region or many),
start-up, and the tokens the tests use."""

import subprocess

from stacklib.util import SHARD, StackError, require_binary, free_port, wait_until
from stacklib.processes import Proc


class HubMixin:
    @property
    def hub_bin(self):
        return self.build / "hub" / "muster-hub"

    @property
    def hub_config(self):
        return self.dir / "hub" / "hub.ini"

    @property
    def hub_url(self):
        return f"https://localhost:{self.ports['api']}"

    # -- hub ----------------------------------------------------------------
    def write_hub_config(self):
        """The hub's configuration, for every layout: one [region.NAME] section
        per region that hub_regions() lists."""
        hdir = self.dir / "hub"
        hdir.mkdir(parents=True, exist_ok=True)
        api = self.ports.setdefault("api", free_port())
        metrics = self.ports.setdefault("metrics", free_port())
        text = f"""[hub]
role = all

[api]
listen = 127.0.0.1:{api}
tls_cert = {self.pki / 'api.crt'}
tls_key = {self.pki / 'api.key'}
threads = 8
{self.hub_api_settings}
[metrics]
listen = 127.0.0.1:{metrics}

[store]
host = 127.0.0.1
port = {self.store_port()}
password =
"""
        for r in self.hub_regions():
            text += f"""
[region.{r['name']}]
xmpp_domain = {r['domain']}
xmpp_host = {r['xmpp_host']}
xmpp_port = {r['c2s_port']}
xmpp_ca_file = {self.ca_file}
component_host = 127.0.0.1
component_port = {r['component_port']}
component_secret = {self.component_secret}
shards = {", ".join(r['shards'])}
"""
        self.hub_config.write_text(text)

    def start_hub(self):
        self.write_hub_config()
        proc = Proc("hub", [require_binary(self.hub_bin), "--config", self.hub_config],
                    self.dir / "hub" / "hub.log", cwd=self.dir / "hub", tied=not self.detached)
        self.procs["hub"] = proc
        logins_before = self.component_logins()
        proc.start()
        self.wait_hub(logins_before)

    def wait_healthy(self, proc, timeout):
        """Wait until GET /healthz answers ok (the hub serves and reaches its store)."""
        def healthy():
            status, body = self.api("GET", "/healthz", token=None, timeout=3)
            return status == 200 and isinstance(body, dict) and body.get("status") == "ok"

        wait_until(healthy, timeout, f"GET {self.hub_url}/healthz", interval=0.2, check=proc.check_running)

    def wait_hub(self, logins_before, timeout=30):
        """Wait for /healthz and for the hub's component to log in to Prosody
        (more often than the logins_before counted before the hub started)."""
        proc = self.procs["hub"]
        self.wait_healthy(proc, timeout)
        wait_until(lambda: self.component_logins() > logins_before, timeout,
                   f"component {SHARD} to authenticate to Prosody", interval=0.2,
                   check=proc.check_running)

    def create_admin_token(self):
        res = subprocess.run([require_binary(self.hub_bin), "admin-token", "--config",
                              str(self.hub_config)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=30)
        lines = [ln.strip() for ln in res.stdout.decode().splitlines() if ln.strip()]
        if res.returncode != 0 or not lines:
            raise StackError(f"muster-hub admin-token failed (status {res.returncode}):\n"
                             f"{res.stdout.decode()}{res.stderr.decode()}")
        return lines[-1]

    # -- agents -------------------------------------------------------------
    def create_enroll_token(self, uses, labels=None, ttl_s=3600):
        status, body = self.api("POST", "/api/v1/tokens",
                                {"kind": "enroll", "uses": uses, "ttl_s": ttl_s,
                                 "labels": dict(labels if labels is not None else self.labels)})
        if status != 201 or "token" not in (body or {}):
            raise StackError(f"POST /api/v1/tokens (enroll) -> {status} {body}")
        return body["token"]
