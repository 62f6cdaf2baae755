"""A job root from before job records (the database was the truth) keeps its whole history: each
job gets its ``job.json`` at the first start, also when the index moves to local disk because
the job root is on a network filesystem."""

from __future__ import annotations

import os

import pytest

from benchmarks._server import request
from jupyter_jobs.models import Job, new_job_id
from jupyter_jobs.store import JobStore
from tests.multi.servers import API, get, index_files, integrity, list_ids, start_server

pytestmark = pytest.mark.slow


def old_job_root(job_root: str, n: int = 5) -> list[str]:
    """What an older jupyter-jobs left: job directories (log, status) and rows in jobs.db."""
    os.makedirs(job_root, mode=0o700, exist_ok=True)
    store = JobStore(os.path.join(job_root, "jobs.db"))
    ids = []
    for i in range(n):
        job = Job(
            id=new_job_id(),
            name=f"old-{i}",
            kind="command",
            backend="local",
            profile="default",
            command=["echo", str(i)],
            status="completed",
            exit_code=0,
            job_dir=os.path.join(job_root, "x"),
        )
        os.makedirs(os.path.join(job_root, job.id))
        with open(os.path.join(job_root, job.id, "output.log"), "w") as f:
            f.write(f"{i}\n")
        store.save(job)
        ids.append(job.id)
    store.close()
    return ids


async def _check(server, ids):
    assert await list_ids(server) == set(ids)
    for i, job_id in enumerate(ids):
        job = await get(server, job_id)
        assert job["name"] == f"old-{i}" and job["status"] == "completed"
        _, log, _ = await request(server, "GET", f"{API}/jobs/{job_id}/log", expect=200)
        assert log == f"{i}\n"


async def test_an_old_local_job_root_keeps_its_history(tmp_path):
    job_root = str(tmp_path / "job-root")
    ids = old_job_root(job_root)
    server = start_server(str(tmp_path / "s"), job_root, str(tmp_path / "root"))
    try:
        await _check(server, ids)
        for job_id in ids:
            assert os.path.exists(os.path.join(job_root, job_id, "job.json"))
    finally:
        server.stop()
    integrity(os.path.join(job_root, "jobs.db"))


async def test_an_old_job_root_on_a_network_filesystem_keeps_its_history(two_hosts, tmp_path):
    ids = old_job_root(str(two_hosts.shared / "job-root"))  # written where the file server is
    workdir = str(tmp_path / "s")
    root = str(two_hosts.a / "home")
    server = start_server(workdir, str(two_hosts.a / "job-root"), root, host="host-a")
    try:
        await _check(server, ids)
    finally:
        server.stop()
    files = index_files(workdir, str(two_hosts.a / "job-root"))
    local = [f for f in files if f.startswith(workdir)]
    assert local, files  # the index moved to local disk ...
    integrity(*local)
    for job_id in ids:  # ... and the records are in the shared job root
        assert os.path.exists(two_hosts.shared / "job-root" / job_id / "job.json")
