"""``GET remote-sessions``: the remote kernels of this server with their notebooks and jobs, newest
first (rows made by :func:`jupyter_jobs.kernels.sessions.session_row`)."""

from __future__ import annotations

import time

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..exceptions import NotFound
from ..kernels import job_of_kernel
from ..kernels.sessions import session_row
from .base import JobsHandler, json_errors


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
        for kernel_id, job_id in list(job_of_kernel.items()):
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
