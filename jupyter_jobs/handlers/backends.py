"""``GET backends``: the backends, their availability (with the reason) and profiles."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import JobsHandler, json_errors


class BackendsHandler(JobsHandler):
    @web.authenticated
    @authorized
    @json_errors
    async def get(self):
        self.write_json(
            {
                "backends": await self.manager.backends(),
                "default_backend": self.manager.default_backend,
            }
        )
