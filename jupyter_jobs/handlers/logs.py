"""``jobs/{id}/log`` (a byte range of the log) and ``jobs/{id}/log/follow`` (the live log over a
websocket; the protocol is in :mod:`jupyter_jobs.logstream` and docs/CONTRACT.md)."""

from __future__ import annotations

import asyncio
import json

from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..exceptions import JobsError
from ..logstream import CHUNK, IDLE_WAIT, utf8_cut
from ..wire import check_job_id, int_param
from .base import AUTH_RESOURCE, JobsHandler, JSONErrorsMixin, error_answer, json_errors


class LogHandler(JobsHandler):
    MAX_CHUNK = 4 << 20

    def finish(self, *args, **kwargs):
        # APIHandler.finish forces application/json; the log is text/plain
        self.update_api_activity()
        return super(APIHandler, self).finish(*args, **kwargs)

    @web.authenticated
    @authorized
    @json_errors
    async def get(self, job_id):
        check_job_id(job_id)
        offset = self.int_arg("offset", 0) or 0
        limit = min(self.int_arg("limit", 1 << 20, minimum=1) or (1 << 20), self.MAX_CHUNK)
        data, size = await self.manager.read_log(job_id, offset, limit)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("X-Log-Size", str(size))
        self.set_header("X-Log-Offset", str(offset))
        self.finish(data)


class LogFollowHandler(
    JSONErrorsMixin, WebSocketMixin, WebSocketHandler, ExtensionHandlerMixin, JupyterHandler
):
    """``GET jobs/{id}/log/follow``: parameters checked (404 job id, 400 offset) and the handshake
    checked (400, 403, 426), all answered as JSON, before the upgrade. Errors and log lines are
    every handler's (:class:`~.base.JSONErrorsMixin`: tornado's 403 from the auth decorators and
    405 for other methods as JSON too)."""

    auth_resource = AUTH_RESOURCE

    def set_default_headers(self):
        """No JupyterHandler default headers on a websocket."""

    @property
    def manager(self):
        return self.settings["jupyter_jobs_manager"]

    @ws_authenticated
    @authorized
    async def get(self, job_id):
        self._task: asyncio.Task | None = None
        try:
            check_job_id(job_id)
            offset = int_param(self.get_query_arguments("offset", strip=False), "offset", 0)
            self.manager.get(job_id)
        except JobsError as e:
            self._jobs_error = e
            status, body = error_answer(e)
            self._refuse(status, **body)
            return
        if not self._handshake_ok():
            return
        self.job_id = job_id
        self.offset = offset or 0
        await super().get(job_id)

    def _refuse(self, status: int, message: str, field: str | None = None) -> None:
        """Answer the handshake with a JSON error (before any upgrade)."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(JobsError(message, field=field).to_dict()))

    def _handshake_ok(self) -> bool:
        """What tornado checks before the upgrade, answered as JSON instead of its plain text."""
        headers = self.request.headers
        if headers.get("Upgrade", "").lower() != "websocket":
            self._refuse(400, "this URL is a websocket: connect with 'Upgrade: websocket'")
            return False
        connection = [s.strip().lower() for s in headers.get("Connection", "").split(",")]
        if "upgrade" not in connection:
            self._refuse(400, "a websocket handshake needs 'Connection: Upgrade'")
            return False
        if headers.get("Sec-WebSocket-Version") not in ("7", "8", "13"):
            self.set_header("Sec-WebSocket-Version", "13")
            self._refuse(426, "this server speaks websocket version 13 (Sec-WebSocket-Version)")
            return False
        if not headers.get("Sec-WebSocket-Key", "").strip():
            self._refuse(400, "a websocket handshake needs a Sec-WebSocket-Key header")
            return False
        if not self._origin_allowed():
            self._refuse(403, "cross-origin websockets are not allowed")
            return False
        return True

    def _origin_allowed(self) -> bool:
        check = getattr(self, "_check_cross_origin", None)  # tornado >= 6.5
        if check is not None:
            return check(self.check_origin) is None
        headers = self.request.headers
        origin = headers.get("Origin", headers.get("Sec-Websocket-Origin"))
        return origin is None or bool(self.check_origin(origin))

    def open(self, job_id):
        super().open()
        self._task = asyncio.ensure_future(self._pump())

    def on_close(self):
        if getattr(self, "_task", None) is not None:
            self._task.cancel()

    def on_message(self, message):
        """Clients send nothing; ignore anything they do."""

    async def _pump(self) -> None:
        manager = self.manager
        offset = self.offset
        try:
            while True:
                job = manager.get(self.job_id)
                final = job.is_final
                data, size = await manager.read_log(self.job_id, offset, CHUNK)
                if data:
                    cut = len(data) if final and len(data) < CHUNK else utf8_cut(data)
                    if cut == 0:
                        if not final and len(data) < 4:
                            await asyncio.sleep(IDLE_WAIT)  # the rest of a character is coming
                            continue
                        cut = len(data)  # not UTF-8: send it with replacement characters
                    chunk = data[:cut]
                    await self.write_message(
                        json.dumps(
                            {
                                "type": "data",
                                "offset": offset,
                                "next_offset": offset + len(chunk),
                                "data": chunk.decode("utf-8", "replace"),
                            }
                        )
                    )
                    offset += len(chunk)
                    continue
                if final and offset >= size:
                    await self.write_message(
                        json.dumps({"type": "end", "status": job.status, "next_offset": offset})
                    )
                    self.close()
                    return
                await asyncio.sleep(IDLE_WAIT)
        except (WebSocketClosedError, asyncio.CancelledError):
            return
        except JobsError as e:  # the job was deleted while followed
            try:
                await self.write_message(json.dumps({"type": "error", "message": e.message}))
                self.close()
            except WebSocketClosedError:
                pass
