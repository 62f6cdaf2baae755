"""Helpers for the kernel tests that run real Jupyter servers in subprocesses
(``tests/multi/servers.py``): the restarts of SLURM and Kubernetes kernels."""

from __future__ import annotations

from benchmarks._server import request
from tests.multi.servers import API, wait_until


async def spec_offered(server, kernel: str) -> None:
    """Wait (30 s at most) until ``server`` offers the kernel spec ``kernel``."""

    async def offered():
        _, specs, _ = await request(server, "GET", "api/kernelspecs", expect=200)
        return kernel in specs["kernelspecs"]

    await wait_until(offered, 30, f"the kernel spec {kernel} is offered")


async def kernel_job(server) -> dict:
    """The one kernel job of ``server`` that has not ended."""
    _, data, _ = await request(server, "GET", f"{API}/jobs?kind=kernel", expect=200)
    [job] = [j for j in data["jobs"] if j["status"] not in ("cancelled", "completed", "failed")]
    return job


async def notebook_session(server, kernel: str) -> dict:
    """Once ``server`` offers ``kernel``, a session of ``analysis.ipynb`` (in its root) with that
    kernel, as JupyterLab opens one."""
    await spec_offered(server, kernel)
    _, session, _ = await request(
        server,
        "POST",
        "api/sessions",
        {"path": "analysis.ipynb", "type": "notebook", "kernel": {"name": kernel}},
        expect=201,
    )
    return session
