"""Several regions (one Prosody each), several shards a region, standby masters."""

import time

from stacklib.util import XMPP_DOMAIN, StackError, require_tool, require_binary, free_port, wait_until
from stacklib.processes import Proc
from stacklib.stack import MusterStack


class RegionStack(MusterStack):
    """A stack with several regions, each with its own Prosody and shards, and
    several hub processes: "hub" (role all, started first so it holds every
    shard lease) plus `standbys` processes "master<k>" (--role master).

    Agents 1..N are spread over the regions in blocks (agent_region[i]);
    region r is served by Prosody "prosody.<r>" on domain <r>.muster.localhost
    with component domains shard<k>.<r>.muster.localhost.
    """

    def __init__(self, state_dir, regions=("r1", "r2"), shards_per_region=2,
                 agents_per_region=2, standbys=1, **kwargs):
        self.region_names = list(regions)
        self.shards_per_region = shards_per_region
        self.agents_per_region = agents_per_region
        self.n_standbys = standbys
        self.agent_region = {}
        if kwargs.get("xmpp_server") not in (None, "prosody"):
            raise ValueError("RegionStack runs one Prosody per region; it has no ejabberd mode")
        kwargs["xmpp_server"] = "prosody"
        super().__init__(state_dir, agents=agents_per_region * len(self.region_names), **kwargs)

    # -- names ----------------------------------------------------------------
    @staticmethod
    def region_domain(region):
        return f"{region}.{XMPP_DOMAIN}"

    def region_shards(self, region):
        return [f"shard{k}.{self.region_domain(region)}" for k in range(self.shards_per_region)]

    def all_shards(self):
        return [s for r in self.region_names for s in self.region_shards(r)]

    def region_agents(self, region):
        return sorted(i for i, r in self.agent_region.items() if r == region)

    # -- certificates -----------------------------------------------------------
    def make_certificates(self):
        super().make_certificates()
        if (self.pki / "regions.crt").exists():
            return
        names = ",".join(f"DNS:{self.region_domain(r)}" for r in self.region_names)
        (self.pki / "regions.ext").write_text(
            f"subjectAltName={names}\nbasicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
        self._openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "regions.key",
                      "-out", "regions.csr", "-subj", f"/CN={self.region_domain(self.region_names[0])}")
        self._openssl("x509", "-req", "-in", "regions.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                      "-CAcreateserial", "-days", "30", "-sha256", "-out", "regions.crt",
                      "-extfile", "regions.ext")
        (self.pki / "regions.key").chmod(0o600)

    # -- prosody, one per region ------------------------------------------------
    def start_prosody(self):
        for region in self.region_names:
            self.start_region_prosody(region)

    def start_region_prosody(self, region):
        pdir = self.dir / f"prosody-{region}"
        (pdir / "data").mkdir(parents=True, exist_ok=True)
        c2s = self.ports.setdefault(f"c2s.{region}", free_port())
        comp = self.ports.setdefault(f"component.{region}", free_port())
        (pdir / "prosody.cfg.lua").write_text(self.prosody_config(
            f"region {region}", pdir, c2s, comp, self.region_shards(region), self.region_domain(region),
            self.pki / "regions.crt", self.pki / "regions.key"))
        name = f"prosody.{region}"
        proc = Proc(name, [require_tool("prosody"), "-F", "--config", pdir / "prosody.cfg.lua"],
                    pdir / "prosody.out", cwd=pdir, tied=not self.detached).start()
        self.procs[name] = proc
        self._wait_port(proc, c2s)
        self._wait_port(proc, comp)

    def prosody_log(self):
        text = ""
        for region in self.region_names:
            try:
                text += (self.dir / f"prosody-{region}" / "prosody.log").read_text(errors="replace")
            except FileNotFoundError:
                pass
        return text

    def component_logins(self):
        """Component logins so far, summed over every shard of every region."""
        shards = self.all_shards()
        return sum(1 for line in self.prosody_log().splitlines()
                   if "External component successfully authenticated" in line
                   and any(f"{s}:component" in line for s in shards))

    # -- hub processes ------------------------------------------------------------
    def hub_regions(self):
        return [{"name": region, "domain": self.region_domain(region), "xmpp_host": "127.0.0.1",
                 "c2s_port": self.ports[f"c2s.{region}"], "component_port": self.ports[f"component.{region}"],
                 "shards": self.region_shards(region)} for region in self.region_names]

    def hub_proc(self, name, role=None):
        argv = [require_binary(self.hub_bin), "--config", self.hub_config]
        if role:
            argv += ["--role", role]
        return Proc(name, argv, self.dir / "hub" / f"{name}.log", cwd=self.dir / "hub",
                    tied=not self.detached)

    def start_hub(self, role=None):
        """Start "hub" (role all unless role is given) and wait until it serves."""
        self.write_hub_config()
        self.procs["hub"] = self.hub_proc("hub", role)
        self.procs["hub"].start()
        self.wait_hub(None)

    def wait_hub(self, logins_before, timeout=60):
        proc = self.procs["hub"]
        self.wait_healthy(proc, timeout)
        if "--role" not in proc.argv or proc.argv[proc.argv.index("--role") + 1] != "api":
            self.wait_leases(timeout, check=proc.check_running)

    def start_standbys(self):
        for k in range(1, self.n_standbys + 1):
            name = f"master{k}"
            self.procs[name] = self.hub_proc(name, "master")
            self.procs[name].start()
        time.sleep(1)
        for k in range(1, self.n_standbys + 1):
            self.procs[f"master{k}"].check_running()

    def lease(self, shard):
        """The lease value ("<holder>:<fence>") of a shard, or "" when nobody holds it."""
        return self.redis_cli("GET", f"muster:lease:{{{shard}}}").strip()

    def leases(self):
        return {s: self.lease(s) for s in self.all_shards()}

    def wait_leases(self, timeout=60, check=None, other_than=None):
        """Wait until every shard has a lease (held by someone else than the
        holder ids in other_than, when given); return {shard: lease}."""
        other_than = set(other_than or ())

        def held():
            got = self.leases()
            ok = all(v and v.split(":")[0] not in other_than for v in got.values())
            return got if ok else None

        return wait_until(held, timeout, "every shard to have a lease holder", interval=0.1,
                          check=check)

    def start(self, agents_timeout=120):
        super().start(agents_timeout=agents_timeout)
        try:
            self.start_standbys()
            self.save_state()
        except BaseException:
            self.stop()
            raise
        return self

    def start_process(self, name):
        proc = self.procs[name]
        if name.startswith("prosody."):
            region = name.split(".", 1)[1]
            logins_before = self.component_logins()
            proc.start()
            self._wait_port(proc, self.ports[f"c2s.{region}"])
            self._wait_port(proc, self.ports[f"component.{region}"])
            want = logins_before + len(self.region_shards(region))
            wait_until(lambda: self.component_logins() >= want, 60,
                       f"every component of {region} to log in to the restarted Prosody",
                       interval=0.2)
            self.save_state()
            return
        if name == "hub":
            proc.start()
            self.wait_hub(None)
            self.save_state()
            return
        super().start_process(name)

    def stop(self):
        order = sorted((n for n in self.procs if n.startswith("agent")), reverse=True)
        order += sorted(n for n in self.procs if n.startswith("master"))
        order += [n for n in self.procs if n == "hub"]
        order += sorted(n for n in self.procs if n.startswith("prosody"))
        order += [n for n in self.procs if n == "redis"]
        self.stop_in_order(order)

    # -- agents -------------------------------------------------------------------
    def create_region_enroll_token(self, region, uses, labels=None):
        status, body = self.api("POST", "/api/v1/tokens",
                                {"kind": "enroll", "uses": uses, "ttl_s": 3600, "region": region,
                                 "labels": dict(labels if labels is not None else self.labels)})
        if status != 201 or "token" not in (body or {}):
            raise StackError(f"POST /api/v1/tokens (enroll, region {region}) -> {status} {body}")
        return body["token"]

    def enroll_agents(self, n):
        i = 0
        for region in self.region_names:
            token = self.create_region_enroll_token(region, self.agents_per_region)
            for _ in range(self.agents_per_region):
                i += 1
                if i > n:
                    return
                self.agent_region[i] = region
                self.enroll_agent(i, token)
