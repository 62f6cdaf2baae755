"""Fixtures for the Kubernetes flow tests: the loopback fake API server and spawners on it."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest

from jupyter_jobs.models import Job, JobUpdate, new_job_id
from jupyter_jobs.spawners.kubernetes import KubernetesSpawner


@pytest.fixture
def kubeconfig(kube, tmp_path, monkeypatch):
    path = kube.write_kubeconfig(str(tmp_path / "kubeconfig"), namespace="jobs")
    monkeypatch.setenv("KUBECONFIG", path)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return path


class Recorder:
    """Collects what the spawner pushes through ``notify``, like the manager does."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, JobUpdate]] = []

    def __call__(self, job_id: str, update: JobUpdate) -> None:
        self.updates.append((job_id, update))

    def statuses(self, job_id: str) -> list[str]:
        return [u.status for j, u in self.updates if j == job_id and u.status]

    def last(self, job_id: str) -> JobUpdate | None:
        found = [u for j, u in self.updates if j == job_id]
        return found[-1] if found else None

    def reason(self, job_id: str) -> str:
        last = self.last(job_id)
        return (last.reason if last else None) or ""

    async def wait_for(self, job_id: str, status: str, timeout: float = 10) -> JobUpdate:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for j, u in self.updates:
                if j == job_id and u.status == status:
                    return u
            await asyncio.sleep(0.02)
        raise AssertionError(f"{job_id} never became {status}: {self.statuses(job_id)}")


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def make_spawner(kubeconfig, recorder, tmp_path, jp_asyncio_loop):
    made: list[KubernetesSpawner] = []

    async def make(**config: Any) -> KubernetesSpawner:
        config.setdefault("image", "python:3.12-slim")
        config.setdefault("user", "alice")
        config.setdefault("retry_delay", 0.05)
        config.setdefault("max_retry_delay", 0.2)
        config.setdefault("inherit_server_pod", False)
        spawner = KubernetesSpawner(**config)
        spawner.job_root = str(tmp_path / "jobs")
        spawner.notify = recorder
        await spawner.start()
        made.append(spawner)
        return spawner

    yield make
    for s in made:
        jp_asyncio_loop.run_until_complete(s.stop())


@pytest.fixture
def make_job(tmp_path):
    def make(kind: str = "command", argv: list[str] | None = None, **resources: Any) -> Job:
        job_id = new_job_id()
        job_dir = tmp_path / "jobs" / job_id
        job_dir.mkdir(parents=True)
        return Job(
            id=job_id,
            name="train",
            kind=kind,
            backend="kubernetes",
            profile="default",
            argv=argv or ["python", "-c", "print('hi')"],
            resources=resources,
            job_dir=str(job_dir),
            state={"cwd": str(tmp_path)},
        )

    return make


async def eventually(check, timeout: float = 10.0):
    """Wait until ``check()`` is truthy (the watch is asynchronous); returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0.02)


def read(path: str) -> str:
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        return f.read()


@pytest.fixture
def started(manager):
    """The extension starts its backends just after the server starts: wait for the watch."""

    async def wait():
        spawner = manager.spawners["kubernetes"]
        if spawner.client is None:
            # pytest-jupyter's server does not run the extensions' start hook: do what it does
            await manager.start()
        await eventually(lambda: spawner.reflector is not None and spawner.reflector.healthy)
        return spawner

    return wait
