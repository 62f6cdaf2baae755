"""The manager's bookkeeping of one job root, without a server: every change of an owned job,
a change of its private state alone included, reaches its ``job.json`` and the index; news of a job
another server owns is ignored; a cancelled job has no exit code."""

from __future__ import annotations

import json
import os
from collections import deque

from jupyter_jobs.manager import JobManager
from jupyter_jobs.models import Job, JobUpdate, new_job_id
from jupyter_jobs.spawners.local import LocalSpawner
from jupyter_jobs.store import JobStore


def make_manager(tmp_path, monkeypatch) -> JobManager:
    monkeypatch.setenv("JUPYTER_JOBS_LOCAL_STATE", str(tmp_path / "local"))
    job_root = tmp_path / "job-root"
    manager = JobManager(
        store=JobStore(str(tmp_path / "index.db")),
        job_root=str(job_root),
        root_dir=str(tmp_path),
        emit=None,
    )
    manager.spawners["local"] = LocalSpawner(parent=manager)
    manager.waiting["local"] = deque()
    return manager


def record(manager: JobManager, job_id: str) -> dict:
    with open(os.path.join(manager.job_root, job_id, "job.json")) as f:
        return json.load(f)


def add_job(manager: JobManager, owner: str | None = None) -> Job:
    job = Job(id=new_job_id(), name="j", kind="command", backend="local", profile="default")
    job.job_dir = manager.root.job_dir(job.id)
    job.owner = owner or manager.server_id
    job.status = "running"
    manager.root.create(job, {})
    manager.store.save(job)
    manager.active[job.id] = job
    return job


def test_a_state_only_update_is_saved(tmp_path, monkeypatch):
    manager = make_manager(tmp_path, monkeypatch)
    job = add_job(manager)
    manager.apply_update(job.id, JobUpdate(state={"scancel_done": True}))
    assert record(manager, job.id)["state"]["scancel_done"] is True
    assert manager.store.get(job.id).state["scancel_done"] is True
    manager.apply_update(job.id, JobUpdate(state={"kernel": {"sessions": [{"id": "s"}]}}))
    assert record(manager, job.id)["state"]["kernel"] == {"sessions": [{"id": "s"}]}


def test_to_record_is_a_snapshot_of_the_state(tmp_path):
    job = Job(id=new_job_id(), name="j", kind="command", backend="local", profile="default")
    job.state = {"a": {"b": 1}}
    before = job.to_record()
    job.state["a"]["b"] = 2
    assert before["state"] == {"a": {"b": 1}}


def test_news_of_another_servers_job_is_ignored(tmp_path, monkeypatch):
    manager = make_manager(tmp_path, monkeypatch)
    job = add_job(manager, owner="someone-else")
    manager.apply_update(job.id, JobUpdate(status="completed", exit_code=0))
    assert record(manager, job.id)["status"] == "running"
    assert manager.active[job.id].status == "running"


def test_a_cancelled_job_has_no_exit_code(tmp_path, monkeypatch):
    manager = make_manager(tmp_path, monkeypatch)
    job = add_job(manager)
    manager.apply_update(job.id, JobUpdate(status="cancelled", exit_code=143, reason="cancelled"))
    saved = record(manager, job.id)
    assert saved["status"] == "cancelled" and saved["exit_code"] is None
