"""The HTTPS client of the hub's API that tests and demos use."""

import http.client
import json
import ssl

from stacklib.openapi import check_answer
from stacklib.util import StackError, wait_until

_DEFAULT = object()  # "use the admin token" marker for ApiMixin.api()


class ApiMixin:
    # -- API client ---------------------------------------------------------
    def _ssl_context(self):
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        return ctx

    def api(self, method, path, body=None, token=_DEFAULT, headers=None, timeout=30):
        """One HTTPS request to the hub; returns (status, parsed JSON or raw text or None).

        body may be bytes (sent as is), a str (UTF-8) or any JSON-serialisable object.
        token=_DEFAULT uses the admin token; None sends no Authorization header.
        """
        if token is _DEFAULT:
            token = self.admin_token
        hdrs = {"Accept": "application/json"}
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        hdrs.update(headers or {})
        conn = http.client.HTTPSConnection("localhost", self.ports["api"], timeout=timeout,
                                           context=self._ssl_context())
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            if body is not None:
                hdrs.setdefault("Content-Length", str(len(body)))
            for k, v in hdrs.items():
                conn.putheader(k, v)
            conn.endheaders()
            if body:
                # Send in pieces: a server may answer (413) and close before reading it all.
                try:
                    view = memoryview(body)
                    for off in range(0, len(view), 65536):
                        conn.send(view[off:off + 65536])
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass
            resp = conn.getresponse()
            raw = resp.read()
            status = resp.status
        finally:
            conn.close()
        text = raw.decode("utf-8", "replace")
        if not text:
            return status, None
        try:
            answer = json.loads(text)
        except ValueError:
            return status, text
        check_answer(method, path, status, answer)  # every answer as docs/openapi.yaml describes it
        return status, answer

    # -- jobs ---------------------------------------------------------------
    def submit_job(self, job, token=_DEFAULT):
        status, body = self.api("POST", "/api/v1/jobs", job, token=token)
        if status != 201 or not isinstance(body, dict) or "id" not in body:
            raise StackError(f"POST /api/v1/jobs {job} -> {status} {body}")
        return body["id"]

    def job(self, job_id):
        status, body = self.api("GET", f"/api/v1/jobs/{job_id}")
        if status != 200:
            raise StackError(f"GET /api/v1/jobs/{job_id} -> {status} {body}")
        return body

    def tasks(self, job_id):
        """Every task of the job, following next_cursor page by page."""
        tasks, cursor = [], None
        while True:
            path = f"/api/v1/jobs/{job_id}/tasks?limit=1000" + (f"&cursor={cursor}" if cursor else "")
            status, body = self.api("GET", path)
            if status != 200:
                raise StackError(f"GET {path} -> {status} {body}")
            tasks += body["tasks"]
            cursor = body.get("next_cursor")
            if not cursor:
                return tasks

    def wait_job(self, job_id, timeout=60):
        """Poll until the job has left state running; return the Job object."""
        last = {}

        def finished():
            last["job"] = self.job(job_id)
            return last["job"].get("state") not in ("running", None)

        try:
            wait_until(finished, timeout, f"job {job_id} to finish", interval=0.2)
        except StackError as e:
            raise StackError(f"{e}; last seen: {last.get('job')}") from e
        return last["job"]

    def run_job(self, job, timeout=60):
        """Submit a job, wait for it to finish; return (Job, {agent_id: Task})."""
        job_id = self.submit_job(job)
        done = self.wait_job(job_id, timeout)
        return done, {t["agent_id"]: t for t in self.tasks(job_id)}
