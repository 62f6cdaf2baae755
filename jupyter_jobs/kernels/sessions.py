"""The rows of ``GET jupyter-jobs/api/remote-sessions``: each remote kernel with its notebook and its job.

Joins three things the server keeps apart: the kernel (jupyter_server's kernel manager: name,
execution state), the session (the notebook it serves) and the job that runs it (backend, profile,
job id, node, status, queue reason, elapsed time and time left). A kernel still waiting in the
queue is listed too (execution state ``starting``) so the sidebar can show the queue reason.

The handler is :class:`jupyter_jobs.handlers.sessions.SessionsHandler`; this module is pure.
"""

from __future__ import annotations

import posixpath
from typing import Any

from ..models import Job


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
    """One row of the answer (pure). A kernel that waits in the queue has no session yet (the
    session is saved once its kernel is up): its notebook is the one its job was started for."""
    path = (session or {}).get("path") or job.state.get("notebook") or None
    return {
        "kernel_id": kernel_id,
        "kernel_name": (kernel or {}).get("name"),
        "execution_state": (kernel or {}).get("execution_state") or "starting",
        "connections": (kernel or {}).get("connections", 0),
        "last_activity": (kernel or {}).get("last_activity"),
        "session_id": (session or {}).get("id"),
        "path": path,
        "notebook_name": (session or {}).get("name")
        or (posixpath.basename(path) if path else None),
        "elapsed": elapsed(job, now),
        "time_left": time_left(job, now),
        "job": job.to_dict(),
    }
