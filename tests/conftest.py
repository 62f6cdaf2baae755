"""Shared fixtures: a real Jupyter server (pytest-jupyter) with the jupyter_jobs extension."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from traitlets.config import Config

pytest_plugins = ["pytest_jupyter.jupyter_server"]

#: fixtures that mean "this test uses the one shared SLURM node" (they count and cancel its jobs)
SLURM_FIXTURES = {"slurm_cluster", "slurm_base", "node_cpus"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``-n N --dist loadgroup``), every test of the one-node SLURM cluster runs
    in one group, one after the other on one worker: they count, fill and cancel the node's jobs.
    The rule is by marker and fixture, so new SLURM tests are grouped without being listed.

    tryfirst: it must run before xdist's own hook, which turns the ``xdist_group`` marker into the
    ``@slurm`` suffix of the node id it schedules by; the folders' conftests that add the ``slurm``
    marker (tests/slurm, tests/kernels) are tryfirst too, and registered later, so they run first."""
    for item in items:
        if item.get_closest_marker("slurm") or SLURM_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.xdist_group("slurm"))


class _GroupSuffix:
    """xdist 3.8 groups by the node id's ``@group`` suffix, which it sets as ``item._nodeid``;
    pytest 9.2 keeps the node id in ``item._id`` instead, so that suffix is lost and a group's
    tests are spread over the workers. This sets it where this pytest reads it, after xdist's hook
    (trylast): where xdist's own setting works, the suffix is there already and nothing changes."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config, items):
        # set in xdist's workers by --dist loadgroup
        if not getattr(config.option, "loadgroup", False):
            return
        for item in items:
            marks = item.iter_markers("xdist_group")
            names = sorted(
                {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks}
            )
            if not names:
                continue
            suffix = "@" + "_".join(names)
            if not item.nodeid.endswith(suffix) and hasattr(item, "_id"):
                from _pytest.nodeid import NodeId

                item._id = NodeId.parse(item.nodeid + suffix)
            if not item.nodeid.endswith(suffix):
                raise pytest.UsageError(f"pytest-xdist cannot group {item.nodeid} ({suffix})")


def pytest_configure(config):
    config.pluginmanager.register(_GroupSuffix(), "jupyter-jobs-xdist-group-suffix")


@pytest.fixture
def jobs_config() -> dict:
    """Extra config merged into the server's; tests override it to set traits."""
    return {}


@pytest.fixture
def jp_server_config(tmp_path, jobs_config):
    config = {
        "ServerApp": {"jpserver_extensions": {"jupyter_jobs": True}},
        "JobsApp": {"job_root": str(tmp_path / "job-root")},
        "JobManager": {"cancel_grace_period": 2.0, "usage_interval": 0.5},
        "LocalSpawner": {"poll_interval": 0.5},
    }
    for section, values in jobs_config.items():
        config.setdefault(section, {}).update(values)
    return Config(config)


class JobsAPI:
    """Small helper over jp_fetch for the jupyter-jobs REST API."""

    def __init__(self, fetch, root):
        self.fetch = fetch
        self.root = root

    async def request(self, method, path, body=None, **params):
        kwargs = {"method": method, "raise_error": False}
        if body is not None:
            kwargs["body"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
            kwargs["headers"] = {"Content-Type": "application/json"}
        elif method == "POST":
            kwargs["body"] = ""
        if params:
            kwargs["params"] = params
        r = await self.fetch("jupyter-jobs", "api", *path.split("/"), **kwargs)
        return r

    async def submit(self, body, expect=201):
        r = await self.request("POST", "jobs", body)
        assert r.code == expect, r.body
        return json.loads(r.body)

    async def get(self, job_id):
        r = await self.request("GET", f"jobs/{job_id}")
        assert r.code == 200, r.body
        return json.loads(r.body)

    async def wait(self, job_id, statuses=("completed", "failed", "cancelled", "lost"), timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            job = await self.get(job_id)
            if job["status"] in statuses:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job stayed {job['status']}: {job}")
            await asyncio.sleep(0.1)

    async def log(self, job_id, offset=0, limit=None):
        params = {"offset": str(offset)}
        if limit:
            params["limit"] = str(limit)
        r = await self.request("GET", f"jobs/{job_id}/log", **params)
        assert r.code == 200, r.body
        return r.body.decode()


@pytest.fixture
def kube(jp_asyncio_loop):
    """A started loopback fake Kubernetes API server (tests/k8s/fake_api.py); pytest-jupyter runs
    async tests, not async fixtures."""
    from tests.k8s.fake_api import FakeKube

    fake = FakeKube()
    jp_asyncio_loop.run_until_complete(fake.start())
    yield fake
    jp_asyncio_loop.run_until_complete(fake.stop())


@pytest.fixture
def manager(jp_serverapp, jp_asyncio_loop):
    """The server's JobManager, started as a real server starts it.

    pytest-jupyter's ``jp_serverapp`` calls ``start_app()`` but never the extensions' start hooks
    (``ServerApp._post_start``), so poll loops and re-attachment would not run without this.
    """
    manager = jp_serverapp.web_app.settings["jupyter_jobs_manager"]
    jp_asyncio_loop.run_until_complete(manager.start())
    return manager


@pytest.fixture
def jobs_api(jp_fetch, jp_root_dir, manager):
    return JobsAPI(jp_fetch, jp_root_dir)
