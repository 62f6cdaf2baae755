"""Remote kernels outlive their Jupyter server: detached when it stops, taken up when it is back.

JupyterHub restarts and culls user servers; a four-hour GPU session must not die with them.

- While a server runs, each remote kernel's job records what it takes to reach the kernel again
  (``job.state["kernel"]``: kernel id and name, the connection file, and a snapshot of its sessions,
  refreshed every few seconds).
- When the server stops, :func:`detach` takes its remote kernels out of jupyter_server's kernel
  manager before it shuts kernels down: their jobs go on running.
- A server that takes the job over (the restarted one, or another of the job root) calls
  :func:`resume`: the kernel is registered again under the same kernel id, connected through its
  connection file, and its sessions are restored, so JupyterLab's open notebooks reconnect to the
  same kernel with its state.
- A kernel whose server does not come back is ended by the runner in its job after
  ``JobKernelProvisioner.server_grace``; one that cannot be taken up again is cancelled at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ..exceptions import NotFound
from ..models import CANCELLED, JobUpdate
from . import job_of_kernel, resuming

SNAPSHOT_INTERVAL = 5.0
#: seconds to keep trying to take a kernel up again (its kernel spec may come with its backend)
RESUME_PATIENCE = 120.0


async def _sessions_by_kernel(app: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    sm = getattr(app.serverapp, "session_manager", None)
    if sm is None:
        return out
    for s in await sm.list_sessions():
        kid = (s.get("kernel") or {}).get("id")
        if kid:
            out.setdefault(kid, []).append(
                {"id": s["id"], "path": s.get("path"), "name": s.get("name"), "type": s.get("type")}
            )
    return out


async def snapshot(app: Any) -> None:
    """Record each remote kernel's sessions in its job (what a restarted server restores)."""
    manager = app.manager
    sessions = await _sessions_by_kernel(app)
    for kernel_id, job_id in list(job_of_kernel.items()):
        try:
            job = manager.get(job_id)
        except NotFound:
            continue
        info = job.state.get("kernel") or {}
        if job.is_final or not manager.mine(job) or info.get("id") != kernel_id:
            continue
        now = sessions.get(kernel_id, [])
        if info.get("sessions") != now:
            manager.note_kernel(job_id, sessions=now)


async def _loop(app: Any) -> None:
    """Take up the kernel jobs the manager took over; record sessions every few seconds."""
    while True:
        try:
            todo, app.manager.kernels_to_resume = app.manager.kernels_to_resume, []
            if todo:
                await resume(app, todo)
            await snapshot(app)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            app.log.warning("jupyter-jobs: remote kernels across restarts: %s", e)
        await asyncio.sleep(SNAPSHOT_INTERVAL if not app.manager.kernels_to_resume else 0.1)


def start(app: Any) -> None:
    """Called once the server's kernel specs are written (after the manager started)."""
    app.resume_task = asyncio.ensure_future(_loop(app))


async def stop(app: Any) -> None:
    task = getattr(app, "resume_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    await detach(app)


async def detach(app: Any) -> list[str]:
    """The server stops: leave its resumable remote kernels running (returns their kernel ids)."""
    km = getattr(app.serverapp, "kernel_manager", None)
    if km is None:
        return []
    with contextlib.suppress(Exception):
        await snapshot(app)
    detached = []
    for kernel_id, job_id in list(job_of_kernel.items()):
        try:
            job = app.manager.get(job_id)
        except NotFound:
            continue
        if job.is_final or not app.manager.resumable(job) or kernel_id not in km:
            continue
        with contextlib.suppress(Exception):
            km.stop_watching_activity(kernel_id)
        km.remove_kernel(kernel_id)  # jupyter_server's shutdown of all kernels passes it by
        detached.append(kernel_id)
    if detached:
        app.log.info(
            "jupyter-jobs: %d remote kernel(s) left running for the next server: %s",
            len(detached),
            ", ".join(detached),
        )
    return detached


async def resume(app: Any, job_ids: list[str]) -> None:
    """Take up again the remote kernels of jobs this server took over."""
    pending = list(job_ids)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RESUME_PATIENCE
    while pending:
        still = []
        for job_id in pending:
            outcome = await _resume_one(app, job_id)
            if outcome == "retry" and loop.time() < deadline:
                still.append(job_id)
            elif outcome == "retry":
                await _give_up(app, job_id, "its kernel spec stayed unavailable")
        pending = still
        if pending:
            await asyncio.sleep(5.0)


async def _resume_one(app: Any, job_id: str) -> str:
    manager = app.manager
    try:
        job = manager.get(job_id)
    except NotFound:
        return "done"
    if job.is_final or not manager.mine(job):
        return "done"
    info = job.state.get("kernel") or {}
    kernel_id, name = info.get("id"), info.get("name")
    km = app.serverapp.kernel_manager
    if not kernel_id or not name:
        await _give_up(app, job_id, "it left no record of its kernel")
        return "done"
    if name not in app.serverapp.kernel_spec_manager.find_kernel_specs():
        return "retry"
    resuming[kernel_id] = job_id
    try:
        await km.start_kernel(kernel_id=kernel_id, kernel_name=name)
    except Exception as e:
        await _give_up(app, job_id, f"it could not be reached again: {e}")
        return "done"
    finally:
        resuming.pop(kernel_id, None)
    sm = app.serverapp.session_manager
    for s in info.get("sessions") or []:
        with contextlib.suppress(Exception):
            await sm.save_session(
                s["id"], path=s.get("path"), name=s.get("name"), type=s.get("type"),
                kernel_id=kernel_id,
            )  # fmt: skip
    app.log.info("jupyter-jobs: remote kernel %s (job %s) taken up again", kernel_id, job_id)
    return "done"


async def _give_up(app: Any, job_id: str, why: str) -> None:
    manager = app.manager
    try:
        job = manager.get(job_id)
        if not job.is_final and job.backend_ref:
            await manager.spawners[job.backend].cancel(job)
    except Exception as e:
        app.log.warning("jupyter-jobs: cancelling kernel job %s: %s", job_id, e)
    manager.apply_update(
        job_id,
        JobUpdate(status=CANCELLED, reason=f"the kernel was not taken up again ({why}): cancelled"),
    )
