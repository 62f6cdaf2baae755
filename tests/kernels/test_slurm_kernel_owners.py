"""A remote kernel belongs to the server that started it: a second server of the same job root
never touches it while that server lives; when its server is SIGKILLed, the other takes the job
over and takes the kernel up, with its state, in its own kernel manager."""

from __future__ import annotations

import asyncio
import signal

import pytest

from benchmarks._server import request, ws_execute
from tests.multi.servers import API, get, start_server, wait_until

from .conftest import KERNEL_PROFILES, active_slurm_jobs

pytestmark = pytest.mark.slow
DEFAULT = "jupyter-jobs-slurm-default"
CONFIG = {
    "JobManager": {"enabled_backends": ["local", "slurm"], "cancel_grace_period": 1.0},
    "SlurmSpawner": {"poll_interval": 0.5, "profiles": KERNEL_PROFILES},
}


async def kernel_jobs(server):
    _, data, _ = await request(server, "GET", f"{API}/jobs?kind=kernel", expect=200)
    return data["jobs"]


async def test_a_live_servers_kernel_is_left_alone_and_a_dead_ones_is_ended(
    slurm_cluster, tmp_path
):
    root, job_root = str(tmp_path / "root"), str(tmp_path / "job-root")
    a = start_server(str(tmp_path / "a"), job_root, root, config=CONFIG)
    b = None
    try:

        async def offered():
            _, specs, _ = await request(a, "GET", "api/kernelspecs", expect=200)
            return DEFAULT in specs["kernelspecs"]

        await wait_until(offered, 30, "the SLURM kernel spec is offered")
        code, kernel, _ = await request(a, "POST", "api/kernels", {"name": DEFAULT})
        assert code == 201, kernel
        [job] = await kernel_jobs(a)
        await wait_until(
            lambda: _status_is(a, job["id"], "running"), 10, "the kernel job is running"
        )
        assert job["backend_ref"] in active_slurm_jobs()

        b = start_server(str(tmp_path / "b"), job_root, root, config=CONFIG)
        await asyncio.sleep(3)  # several sync intervals of b
        assert [j["id"] for j in await kernel_jobs(b)] == [job["id"]]  # b sees it ...
        assert (await get(a, job["id"]))["status"] == "running"  # ... and leaves it alone
        assert job["backend_ref"] in active_slurm_jobs()
        code, _, _ = await request(a, "GET", f"api/kernels/{kernel['id']}")
        assert code == 200

        await ws_execute(a, kernel["id"], "x = 42")
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(10)

        async def taken_up():
            code, _, _ = await request(b, "GET", f"api/kernels/{kernel['id']}")
            return code == 200

        await wait_until(taken_up, 30, "b takes the dead server's kernel up")
        assert (await ws_execute(b, kernel["id"], "x")) == "42"
        assert (await get(b, job["id"]))["status"] == "running"
        await request(b, "DELETE", f"api/kernels/{kernel['id']}", expect=204)
        await wait_until(_gone(job["backend_ref"]), 30, "the allocation is released", interval=0.5)
    finally:
        a._terminate()
        if b is not None:
            b.stop()


async def _status_is(server, job_id, status):
    return (await get(server, job_id))["status"] == status


def _gone(ref):
    async def check():
        return ref not in active_slurm_jobs()

    return check
