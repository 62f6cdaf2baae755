"""Remote kernels on the real SLURM cluster, through the server's kernels API (``api/kernels``)."""

from __future__ import annotations

import json
import os
import subprocess

from jupyter_jobs.kernels.specs import TIMES

from .conftest import (
    active_slurm_jobs,
    check_interrupt_keeps_the_kernel,
    job_of,
    jobs_app,
    run_code,
    wait_until,
)

DEFAULT = "jupyter-jobs-slurm-default"
GPU = "jupyter-jobs-slurm-gpu"


async def test_kernel_specs_of_kernel_profiles_are_offered_by_the_server(kernels_api):
    await kernels_api.ready()
    r = await kernels_api.fetch("api", "kernelspecs")
    specs = json.loads(r.body)["kernelspecs"]
    assert (
        specs[GPU]["spec"]["display_name"]
        == f"Python 3 — SLURM: GPU 1{TIMES}, 2 CPUs, 1G, 00:10:00"
    )
    assert specs[GPU]["spec"]["interrupt_mode"] == "message"
    assert specs[GPU]["spec"]["metadata"]["kernel_provisioner"]["config"] == {
        "backend": "slurm",
        "profile": "gpu",
    }
    assert "jupyter-jobs-slurm-batch" not in specs  # that profile offers no kernels


async def test_kernel_runs_inside_the_allocation_and_sees_its_cpus_and_gpus(kernels_api, manager):
    kernel = await kernels_api.start(GPU)
    job = job_of(manager, kernel["id"])
    assert job.kind == "kernel" and job.backend == "slurm" and job.profile == "gpu"
    client = await kernels_api.client(kernel["id"])
    try:
        out, reply = await run_code(
            client,
            "import os; print(os.environ['SLURM_JOB_ID'], os.environ.get('SLURM_CPUS_PER_TASK'),"
            " os.environ.get('CUDA_VISIBLE_DEVICES'), len(os.sched_getaffinity(0)) > 0)",
        )
    finally:
        client.stop_channels()
    assert reply["status"] == "ok", out
    slurm_id, cpus, gpus, _ = out.split()
    assert slurm_id == job.backend_ref
    assert cpus == "2"
    assert gpus not in ("", "None") and len(gpus.split(",")) == 1
    await kernels_api.delete(kernel["id"])


async def test_interrupt_stops_a_long_sleep_and_the_kernel_lives_on(kernels_api, manager):
    await check_interrupt_keeps_the_kernel(kernels_api, manager, DEFAULT)


async def test_restart_keeps_the_allocation_and_clears_the_state(kernels_api, manager):
    """A restart starts a fresh kernel inside the same SLURM job: no new queue wait."""
    kernel = await kernels_api.start(DEFAULT)
    first = job_of(manager, kernel["id"])
    client = await kernels_api.client(kernel["id"])
    try:
        await run_code(client, "x = 42")
    finally:
        client.stop_channels()
    r = await kernels_api.post(kernel["id"], "restart")
    assert r.code == 200, r.body
    second = job_of(manager, kernel["id"])
    assert second.id == first.id and second.backend_ref in active_slurm_jobs()
    client = await kernels_api.client(kernel["id"])
    try:
        out, _ = await run_code(
            client, "import os; print(os.environ['SLURM_JOB_ID'], 'x' in dir())"
        )
    finally:
        client.stop_channels()
    assert out.split() == [first.backend_ref, "False"]
    await kernels_api.delete(kernel["id"])
    await wait_until(lambda: first.backend_ref not in active_slurm_jobs(), 20, what="job end")


async def test_shutdown_leaves_no_job_in_the_queue(kernels_api, manager):
    kernel = await kernels_api.start(DEFAULT)
    job = job_of(manager, kernel["id"])
    assert job.backend_ref in active_slurm_jobs()
    await kernels_api.delete(kernel["id"])
    await wait_until(lambda: job.backend_ref not in active_slurm_jobs(), 15, what="job gone")
    await wait_until(lambda: manager.get(job.id).is_final, 15, what="job final")
    assert manager.get(job.id).status in ("completed", "cancelled")


async def test_failed_start_shows_the_log_tail_instead_of_kernel_died(
    kernels_api, jp_serverapp, tmp_path
):
    from jupyter_jobs.kernels.specs import kernel_name

    bad = tmp_path / "bad-python"
    bad.write_text("#!/bin/sh\necho 'no ipykernel in this environment' >&2\nexit 3\n")
    bad.chmod(0o755)
    spawner = jp_serverapp.web_app.settings["jupyter_jobs_manager"].spawners["slurm"]
    spawner.profiles = [
        *spawner.profiles,
        {"name": "broken", "python": str(bad), "resources": {"cpus": 1}, "kernels": True},
    ]
    from jupyter_jobs.kernels import server

    await server.start(jobs_app(jp_serverapp))
    r = await kernels_api.fetch(
        "api",
        "kernels",
        method="POST",
        body=json.dumps({"name": kernel_name("slurm", "broken")}),
        raise_error=False,
    )
    assert r.code == 502
    message = json.loads(r.body)["message"]
    assert "ended before the kernel started" in message
    assert "no ipykernel in this environment" in message


async def test_server_stop_leaves_the_kernel_job_running_for_the_next_server(kernels_api, manager):
    """The next server takes it up (tests/kernels/test_slurm_kernel_restarts.py); its runner ends
    it after server_grace if none comes."""
    kernel = await kernels_api.start(DEFAULT)
    job = job_of(manager, kernel["id"])
    await manager.stop()
    assert not manager.get(job.id).is_final and job.backend_ref in active_slurm_jobs()
    with open(os.path.join(job.job_dir, "spec.json")) as f:
        assert json.load(f)["server_grace"] == 600  # JobKernelProvisioner.server_grace
    subprocess.run(["scancel", job.backend_ref], check=True)
    await wait_until(lambda: job.backend_ref not in active_slurm_jobs(), 15, what="job gone")


async def test_sessions_list_each_remote_kernel_with_its_notebook_and_job(kernels_api, jp_root_dir):
    await kernels_api.ready()
    (jp_root_dir / "analysis.ipynb").write_text("{}")
    r = await kernels_api.fetch(
        "api",
        "sessions",
        method="POST",
        body=json.dumps(
            {"path": "analysis.ipynb", "type": "notebook", "kernel": {"name": DEFAULT}}
        ),
    )
    session = json.loads(r.body)
    r = await kernels_api.fetch("jupyter-jobs", "api", "remote-sessions")
    rows = json.loads(r.body)["sessions"]
    assert len(rows) == 1
    row = rows[0]
    assert row["kernel_id"] == session["kernel"]["id"]
    assert row["path"] == "analysis.ipynb"
    assert row["kernel_name"] == DEFAULT
    job = row["job"]
    assert job["backend"] == "slurm" and job["profile"] == "default" and job["kind"] == "kernel"
    assert job["backend_ref"] in active_slurm_jobs()
    assert 0 < row["time_left"] <= 600 and row["elapsed"] >= 0
    r = await kernels_api.fetch("api", "sessions", session["id"], method="DELETE")
    await wait_until(lambda: job["backend_ref"] not in active_slurm_jobs(), 15, what="job gone")
    r = await kernels_api.fetch("jupyter-jobs", "api", "remote-sessions")
    assert json.loads(r.body)["sessions"] == []
