"""What a real server logs for the answers an admin does (not) need to hear about.

- a client resolving a job id prefix (``jupyter jobs show 1a2b3c4d``): no warning;
- a 503 for an unavailable backend: one warning line with the reason, no request headers;
- a Kubernetes 403 (RBAC): the user gets a 503 that says to ask the admin, the admin's log has
  the API server's own words, and nothing is created;
- a real 500: still an error with its traceback (and a body that gives nothing away).

The records are those of the server's own loggers (the handlers' ``log``, tornado's), as pytest
captures them.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from jupyter_jobs.client import JobsClient


class Records:
    """The log records pytest captured, DEBUG included (``caplog``)."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog

    @property
    def records(self) -> list[logging.LogRecord]:
        return self.caplog.records

    def clear(self) -> None:
        self.caplog.clear()

    def about(self, text: str) -> list[logging.LogRecord]:
        return [r for r in self.records if text in r.getMessage()]

    def at_least(self, level: int) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno >= level]


@pytest.fixture
def server_log(caplog):
    """Every record of the server's loggers (the extension's, the server's, tornado's)."""
    caplog.set_level(logging.DEBUG)
    return Records(caplog)


@pytest.fixture
def jobs_config(tmp_path, monkeypatch):
    # Kubernetes is enabled but has no credentials here: an unavailable backend
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return {"JobManager": {"enabled_backends": ["local", "kubernetes"]}}


def client_of(jp_serverapp, jp_http_port, jp_base_url) -> JobsClient:
    url = f"http://localhost:{jp_http_port}{jp_base_url}"
    token = jp_serverapp.identity_provider.token
    return JobsClient(url=url, token=token, root_dir=str(jp_serverapp.root_dir))


async def test_a_client_resolving_an_id_prefix_logs_no_warning(
    jobs_api, server_log, jp_serverapp, jp_http_port, jp_base_url
):
    job = await jobs_api.submit({"command": ["true"]})
    await jobs_api.wait(job["id"])
    client = client_of(jp_serverapp, jp_http_port, jp_base_url)
    prefix = job["id"][:8]
    server_log.clear()
    found = await asyncio.get_running_loop().run_in_executor(None, client.job, prefix)
    assert found.id == job["id"]
    lines = server_log.about(f"/jobs/{prefix}")
    assert lines, [r.getMessage() for r in server_log.records]  # the lookup was logged...
    assert all(r.levelno == logging.DEBUG for r in lines), [r.getMessage() for r in lines]
    assert not server_log.at_least(logging.WARNING), [
        r.getMessage() for r in server_log.at_least(logging.WARNING)
    ]


async def test_a_job_id_that_is_not_there_is_logged_at_debug(jobs_api, server_log):
    r = await jobs_api.request("GET", "jobs/0123456789abcdef")
    assert r.code == 404 and "0123456789abcdef" in json.loads(r.body)["message"]
    (line,) = server_log.about("/jobs/0123456789abcdef")
    assert line.levelno == logging.DEBUG and line.getMessage().startswith("404 GET ")
    assert not server_log.at_least(logging.WARNING)


async def test_an_unavailable_backend_is_one_warning_line_without_headers(jobs_api, server_log):
    r = await jobs_api.request("POST", "jobs", {"command": ["true"], "backend": "kubernetes"})
    assert r.code == 503, r.body
    body = json.loads(r.body)
    assert body["field"] == "backend" and "not available" in body["message"]
    mine = [r for r in server_log.records if "/jupyter-jobs/api/jobs" in r.getMessage()]
    assert [r.levelno for r in mine] == [logging.WARNING], [r.getMessage() for r in mine]
    line = mine[0].getMessage()
    assert line.startswith("503 POST ") and body["message"] in line and "\n" not in line
    assert not server_log.at_least(logging.ERROR), [
        r.getMessage() for r in server_log.at_least(logging.ERROR)
    ]
    assert not [r for r in server_log.records if "User-Agent" in r.getMessage()]
    assert json.loads((await jobs_api.request("GET", "jobs")).body)["jobs"] == []


async def test_a_real_500_still_logs_its_traceback(jobs_api, server_log, manager, monkeypatch):
    job = await jobs_api.submit({"command": ["true"]})

    def broken(job_id):
        raise RuntimeError("the usage reader broke")

    monkeypatch.setattr(manager, "usage", broken)
    r = await jobs_api.request("GET", f"jobs/{job['id']}/usage")
    assert r.code == 500
    assert "broke" not in r.body.decode()  # the body gives nothing away; the log does
    crashes = [r for r in server_log.at_least(logging.ERROR) if r.exc_info]
    assert crashes and isinstance(crashes[0].exc_info[1], RuntimeError)


# ---------------------------------------------------------------- a Kubernetes 403 (RBAC)

REFUSAL = (
    'jobs.batch is forbidden: User "system:serviceaccount:jupyter:notebook" cannot create'
    ' resource "jobs" in API group "batch" in the namespace "default"'
)


class TestKubernetesErrors:
    @pytest.fixture
    def jobs_config(self, kube, tmp_path, monkeypatch):
        monkeypatch.setenv("KUBECONFIG", kube.write_kubeconfig(str(tmp_path / "kubeconfig")))
        return {
            "JobManager": {"enabled_backends": ["local", "kubernetes"]},
            "KubernetesSpawner": {"image": "python:3.12-slim", "inherit_server_pod": False},
        }

    async def test_a_403_is_the_admins_503_with_the_detail_in_the_log(
        self, kube, jobs_api, manager, server_log, monkeypatch
    ):
        from tests.k8s import fake_api

        def refuse(handler, ns):
            handler.set_status(403)
            handler.set_header("Content-Type", "application/json")
            status = fake_api.status_body(403, "Forbidden", REFUSAL)
            status["details"] = {"group": "batch", "kind": "jobs"}
            handler.finish(json.dumps(status))

        monkeypatch.setattr(fake_api.JobsHandler, "post", refuse)
        await connected(manager)
        r = await jobs_api.request("POST", "jobs", {"command": ["true"], "backend": "kubernetes"})
        assert r.code == 503, r.body
        message = json.loads(r.body)["message"]
        assert "admin" in message and "create jobs.batch" in message, message
        assert "serviceaccount" not in message  # the detail is for the admin's log
        (detail,) = server_log.about("cannot create resource")
        assert detail.levelno == logging.WARNING and "403" in detail.getMessage()
        assert json.loads((await jobs_api.request("GET", "jobs")).body)["jobs"] == []
        assert not kube.jobs

    async def test_a_retried_create_takes_the_job_that_exists(self, kube, jobs_api, manager):
        """The API server's 409 is AlreadyExists: a second submit of the same job (a retry after
        a lost answer) takes the Kubernetes Job that is there instead of failing."""
        spawner = await connected(manager)
        created = await jobs_api.submit({"command": ["true"], "backend": "kubernetes"})
        job = manager.get(created["id"])
        before = len(kube.jobs)
        again = await spawner.submit(job)
        assert again.backend_ref == job.backend_ref and again.status == "queued"
        assert len(kube.jobs) == before  # nothing new was made


async def connected(manager):
    """The Kubernetes spawner once it has a client (pytest-jupyter runs no start hooks)."""
    spawner = manager.spawners["kubernetes"]
    if spawner.client is None:
        await manager.start()
    for _ in range(100):
        if spawner.client is not None:
            break
        await asyncio.sleep(0.05)
    assert spawner.client is not None, spawner._why_not
    return spawner
