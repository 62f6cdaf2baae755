"""A kernel whose job waits in the queue is listed with SLURM's reason, and starts when it can."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest

from tests.slurm_cluster import fill_node

from .conftest import KERNEL_PROFILES, active_slurm_jobs, run_code, slurm_state, wait_until

DEFAULT = "jupyter-jobs-slurm-default"


@pytest.fixture
def jobs_config(slurm_cluster):
    return {
        "JobManager": {"enabled_backends": ["slurm"], "cancel_grace_period": 1.0},
        "SlurmSpawner": {"poll_interval": 0.5, "profiles": KERNEL_PROFILES},
        "JobKernelProvisioner": {"launch_timeout": 60.0},
    }


async def remote_sessions(kernels_api):
    r = await kernels_api.fetch("jupyter-jobs", "api", "remote-sessions")
    return json.loads(r.body)["sessions"]


async def test_queued_kernel_shows_its_queue_reason_and_starts_when_the_node_frees(kernels_api):
    await kernels_api.ready()
    filler = fill_node()
    start = None
    try:
        await wait_until(lambda: slurm_state(filler) == "RUNNING", 20, what="node full")
        start = asyncio.ensure_future(kernels_api.start(DEFAULT))

        async def queued_row():
            rows = await remote_sessions(kernels_api)
            job = rows[0]["job"] if rows else {}
            return job.get("status") == "queued" and "Resources" in (job.get("reason") or "")

        await wait_until(queued_row, 20, what="a queued session with a reason")
        (row,) = await remote_sessions(kernels_api)
        assert row["execution_state"] == "starting" and row["path"] is None
        assert not start.done()  # the notebook still shows the kernel starting
    finally:
        subprocess.run(["scancel", filler], capture_output=True)
    kernel = await asyncio.wait_for(start, 60)
    client = await kernels_api.client(kernel["id"])
    try:
        out, _ = await run_code(client, "print(1 + 1)")
    finally:
        client.stop_channels()
    assert out.strip() == "2"
    (row,) = await remote_sessions(kernels_api)
    assert row["job"]["status"] == "running" and row["execution_state"] in ("idle", "busy")
    ref = row["job"]["backend_ref"]
    await kernels_api.delete(kernel["id"])
    await wait_until(lambda: ref not in active_slurm_jobs(), 15, what="job gone")


async def test_queued_kernel_of_a_notebook_is_listed_with_that_notebook(kernels_api, jp_root_dir):
    """While its kernel waits in the queue a notebook has no session in jupyter_server yet: the
    row still names the notebook (from the kernel job), and keeps it once the kernel runs."""
    await kernels_api.ready()
    (jp_root_dir / "work").mkdir()
    (jp_root_dir / "work" / "analysis.ipynb").write_text("{}")
    filler = fill_node()
    create = None
    try:
        await wait_until(lambda: slurm_state(filler) == "RUNNING", 20, what="node full")
        body = {"path": "work/analysis.ipynb", "name": "analysis.ipynb", "type": "notebook"}
        create = asyncio.ensure_future(
            kernels_api.fetch(
                "api",
                "sessions",
                method="POST",
                body=json.dumps({**body, "kernel": {"name": DEFAULT}}),
            )
        )

        async def queued_row():
            rows = await remote_sessions(kernels_api)
            return bool(rows) and rows[0]["job"]["status"] == "queued"

        await wait_until(queued_row, 20, what="a queued session")
        (row,) = await remote_sessions(kernels_api)
        assert row["session_id"] is None  # jupyter_server saves the session once the kernel is up
        assert row["path"] == "work/analysis.ipynb"
        assert row["notebook_name"] == "analysis.ipynb"
    finally:
        subprocess.run(["scancel", filler], capture_output=True)
    session = json.loads((await asyncio.wait_for(create, 60)).body)
    (row,) = await remote_sessions(kernels_api)
    assert row["session_id"] == session["id"]
    assert row["path"] == "work/analysis.ipynb" and row["notebook_name"] == "analysis.ipynb"
    ref = row["job"]["backend_ref"]
    await kernels_api.fetch("api", "sessions", session["id"], method="DELETE")
    await wait_until(lambda: ref not in active_slurm_jobs(), 15, what="job gone")
