"""Fixtures for tests against the real one-node SLURM cluster of ``scripts/slurm-up.sh``.

The test command starts the cluster and exports ``JUPYTER_JOBS_SLURM_BASE`` (or ``SLURM_CONF``);
without a cluster that answers, every test here is skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time

import pytest

from jupyter_jobs import jobfiles
from jupyter_jobs.models import Job, new_job_id, normalize_resources
from tests.slurm_cluster import cluster_problem

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


@pytest.hookimpl(tryfirst=True)  # before tests/conftest.py groups the slurm tests
def pytest_collection_modifyitems(config, items):
    for item in items:
        if str(item.fspath).startswith(HERE):
            item.add_marker(pytest.mark.slurm)


@pytest.fixture(scope="session", autouse=True)
def slurm_cluster():
    """The cluster's slurm.conf; skips the test when no cluster answers."""
    problem = cluster_problem()
    if problem:
        pytest.skip(problem)
    return os.environ["SLURM_CONF"]


@pytest.fixture
def slurm_base(slurm_cluster):
    return os.path.dirname(os.path.dirname(slurm_cluster))


@pytest.fixture
def node_cpus(slurm_cluster) -> int:
    out = subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True).stdout
    return int(out.split()[0])


@pytest.fixture(autouse=True)
def _cancel_leftovers(slurm_cluster):
    """Tests share one node: cancel this user's jobs a test left behind."""
    yield
    user = os.environ.get("USER") or "root"
    subprocess.run(["scancel", "-u", user], capture_output=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        out = subprocess.run(
            ["squeue", "-h", "-u", user, "-o", "%i"], capture_output=True, text=True
        ).stdout
        if not out.strip():
            break
        time.sleep(0.2)


def slurm_field(job_ref: str, field: str) -> str:
    """A field of ``scontrol show job`` (the job must be within SLURM's MinJobAge)."""
    out = subprocess.run(
        ["scontrol", "show", "job", "-o", job_ref], capture_output=True, text=True
    ).stdout
    for part in out.split():
        key, _, value = part.partition("=")
        if key == field:
            return value
    raise AssertionError(f"no {field} in: {out}")


def make_job(root, argv, resources=None, name="test job", env=None) -> Job:
    """A Job with its spec.json, as the manager writes them (docs/CONTRACT.md)."""
    job_id = new_job_id()
    job_dir = os.path.join(str(root), job_id)
    os.makedirs(job_dir, mode=0o700)
    job = Job(
        id=job_id,
        name=name,
        kind="command",
        backend="slurm",
        profile="default",
        command=list(argv),
        argv=list(argv),
        resources=normalize_resources(resources or {}),
        job_dir=job_dir,
    )
    jobfiles.write_json(
        os.path.join(job_dir, jobfiles.SPEC),
        {
            "id": job_id,
            "argv": list(argv),
            "env": env or {},
            "cwd": job_dir,
            "cancel_grace": 2.0,
            "usage_interval": 0.5,
        },
    )
    return job


async def poll_until(spawner, job, statuses, timeout=60.0, interval=0.3):
    """Poll as the manager does, applying updates, until the job's status is in ``statuses``."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        update = (await spawner.poll([job])).get(job.id)
        if update is not None:
            if update.status:
                job.status = update.status
            for f in ("exit_code", "reason", "host", "expected_start"):
                if getattr(update, f) is not None:
                    setattr(job, f, getattr(update, f))
            if update.state:
                job.state.update(update.state)
            seen.append(job.status)
        if job.status in statuses:
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"job stayed {job.status} ({job.reason}); seen {seen}")
        await asyncio.sleep(interval)


@pytest.fixture
def running_manager(manager, jp_asyncio_loop):
    """pytest-jupyter does not run the extension's async start: the poll loops start here."""
    if manager._tasks:
        yield manager
        return
    jp_asyncio_loop.run_until_complete(manager.start())
    yield manager
    jp_asyncio_loop.run_until_complete(manager.stop())
