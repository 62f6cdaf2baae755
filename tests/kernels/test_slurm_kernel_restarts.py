"""Remote SLURM kernels outlive their Jupyter server: a server that stops (or is killed) and comes
back takes its kernels up again with their state and their notebooks' sessions; a kernel whose
server never comes back ends its own job after the grace period; idle culling ends them too."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import pytest

from benchmarks._server import request, ws_execute
from tests.multi.servers import get, start_server, wait_until

from .conftest import KERNEL_PROFILES, active_slurm_jobs
from .servers import kernel_job, notebook_session, spec_offered

pytestmark = pytest.mark.slow
KERNEL = "jupyter-jobs-slurm-default"


def config(**provisioner):
    return {
        "JobManager": {"enabled_backends": ["slurm"], "cancel_grace_period": 1.0},
        "SlurmSpawner": {"poll_interval": 0.5, "profiles": KERNEL_PROFILES},
        "JobKernelProvisioner": {"server_grace": 60.0, **provisioner},
    }


@pytest.fixture
def place(slurm_cluster, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "analysis.ipynb").write_text("{}")
    before = set(active_slurm_jobs())
    yield {"root": str(root), "job_root": str(tmp_path / "job-root"), "work": str(tmp_path / "s")}

    async def settled():
        return not (set(active_slurm_jobs()) - before)

    asyncio.run(wait_until(settled, 30, "no allocation left", interval=0.5))


async def test_a_kernel_keeps_its_state_and_session_across_server_restarts(place):
    server = start_server(place["work"], place["job_root"], place["root"], config=config())
    try:
        session = await notebook_session(server, KERNEL)
        kernel_id = session["kernel"]["id"]
        assert (await ws_execute(server, kernel_id, "x = 42; x")) == "42"
        job = await kernel_job(server)
        await asyncio.sleep(6)  # one snapshot of the sessions (every 5 s)

        for how in ("stop", "kill"):  # a clean stop (an upgrade, culling), then a crash
            if how == "stop":
                server.stop()
            else:
                server.proc.send_signal(signal.SIGKILL)
                server.proc.wait(10)
            assert job["backend_ref"] in active_slurm_jobs()  # the allocation goes on
            server = start_server(place["work"], place["job_root"], place["root"], config=config())

            async def back(server=server):
                code, _, _ = await request(server, "GET", f"api/kernels/{kernel_id}")
                return code == 200

            await spec_offered(server, KERNEL)
            await wait_until(back, 20, f"the kernel taken up again after a {how}")
            _, again, _ = await request(server, "GET", f"api/sessions/{session['id']}", expect=200)
            assert again["path"] == "analysis.ipynb" and again["kernel"]["id"] == kernel_id
            assert (await ws_execute(server, kernel_id, "x")) == "42", how
            assert (await kernel_job(server))["id"] == job["id"]  # the same job

        await request(server, "DELETE", f"api/sessions/{session['id']}", expect=204)

        async def ended():
            return (await get(server, job["id"]))["status"] in ("cancelled", "completed")

        await wait_until(ended, 30, "the kernel job ends with its session")
    finally:
        server._terminate()


async def test_a_kernel_whose_server_never_returns_ends_its_own_job(place):
    server = start_server(
        place["work"], place["job_root"], place["root"], config=config(server_grace=4.0)
    )
    try:
        await spec_offered(server, KERNEL)
        await request(server, "POST", "api/kernels", {"name": KERNEL}, expect=201)
        job = await kernel_job(server)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)
    finally:
        server._terminate()

    async def gone():
        return job["backend_ref"] not in active_slurm_jobs()

    await wait_until(gone, 40, "the allocation released by the kernel job itself", interval=0.5)
    with open(os.path.join(place["job_root"], job["id"], "status.json")) as f:
        status = json.load(f)
    assert status["state"] == "cancelled" and "server has been gone" in status["reason"], status


async def test_idle_culling_ends_a_remote_kernel_and_its_job(place):
    cull = {"MappingKernelManager": {"cull_idle_timeout": 3, "cull_interval": 1}}
    server = start_server(place["work"], place["job_root"], place["root"], config=config() | cull)
    try:
        await spec_offered(server, KERNEL)
        _, kernel, _ = await request(server, "POST", "api/kernels", {"name": KERNEL}, expect=201)
        job = await kernel_job(server)

        async def culled():
            code, _, _ = await request(server, "GET", f"api/kernels/{kernel['id']}")
            status = (await get(server, job["id"]))["status"]
            return code == 404 and status in ("completed", "cancelled")  # it exits when told

        await wait_until(culled, 40, "the idle kernel culled and its job ended", interval=0.5)
    finally:
        server.stop()
