"""``GET jupyter-jobs/api/remote-sessions``: each remote kernel with its notebook and its job.

Joins three things the server keeps apart: the kernel (jupyter_server's kernel manager: name,
execution state), the session (the notebook it serves) and the job that runs it (backend, profile,
job id, node, status, queue reason, elapsed time and time left). A kernel still waiting in the
queue is listed too (execution state ``starting``) so the sidebar can show the queue reason.
"""

from __future__ import annotations

import time
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..exceptions import NotFound
from ..handlers import JobsHandler, json_errors
from ..models import Job
from . import kernel_jobs


def time_left(job: Job, now: float) -> int | None:
    """Seconds left of the job's time limit (None without a limit or before it runs)."""
    limit = (job.resources or {}).get("time_limit")
    if not limit or job.started_at is None or job.is_final:
        return None
    return max(0, int(job.started_at.timestamp() + int(limit) - now))


def elapsed(job: Job, now: float) -> int | None:
    if job.started_at is None:
        return None
    end = job.finished_at.timestamp() if job.finished_at else now
    return max(0, int(end - job.started_at.timestamp()))


def session_row(
    kernel_id: str,
    job: Job,
    kernel: dict[str, Any] | None,
    session: dict[str, Any] | None,
    now: float,
) -> dict[str, Any]:
    """One row of the answer (pure)."""
    return {
        "kernel_id": kernel_id,
        "kernel_name": (kernel or {}).get("name"),
        "execution_state": (kernel or {}).get("execution_state") or "starting",
        "connections": (kernel or {}).get("connections", 0),
        "last_activity": (kernel or {}).get("last_activity"),
        "session_id": (session or {}).get("id"),
        "path": (session or {}).get("path"),
        "notebook_name": (session or {}).get("name"),
        "elapsed": elapsed(job, now),
        "time_left": time_left(job, now),
        "job": job.to_dict(),
    }


class SessionsHandler(JobsHandler):
    """Remote kernels of this server, newest first."""

    @web.authenticated
    @authorized
    @json_errors
    async def get(self):
        km = self.kernel_manager
        running = set(km.list_kernel_ids())
        sessions = {}
        for s in await self.session_manager.list_sessions():
            kid = (s.get("kernel") or {}).get("id")
            if kid:
                sessions[kid] = s
        now = time.time()
        rows = []
        for kernel_id, job_id in list(kernel_jobs.items()):
            try:
                job = self.manager.get(job_id)
            except NotFound:
                continue
            kernel = None
            if kernel_id in running:
                model = km.kernel_model(kernel_id)
                kernel = {
                    **model,
                    "last_activity": model["last_activity"].isoformat()
                    if hasattr(model.get("last_activity"), "isoformat")
                    else model.get("last_activity"),
                }
            elif job.is_final:
                continue  # neither a kernel nor a job any more
            rows.append(session_row(kernel_id, job, kernel, sessions.get(kernel_id), now))
        rows.sort(key=lambda r: r["job"]["created_at"] or "", reverse=True)
        self.write_json({"sessions": rows})
