"""Following a job's log live for the client: the log websocket, reconnecting from the last
offset (a server restart included), with polling of ``GET jobs/{id}/log`` as the fallback."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any, Protocol

from .client_errors import RECONNECT_PATIENCE, JobsClientError, transient
from .models import FINAL_STATUSES


class JobsClient(Protocol):
    """What the follower needs of :class:`jupyter_jobs.client.JobsClient`."""

    @property
    def api_url(self) -> str: ...

    def headers(self) -> dict[str, str]: ...

    def read_log(self, job_id: str, offset: int = 0) -> tuple[bytes, int]: ...


class Job(Protocol):
    """What the follower needs of :class:`jupyter_jobs.client.Job`."""

    @property
    def id(self) -> str: ...

    @property
    def status(self) -> str: ...

    def refresh(self) -> Any: ...


class _WebSocketReader(threading.Thread):
    """Reads the log-follow websocket in its own thread and event loop, so that following works
    the same from a plain script and from a notebook kernel whose loop is already running."""

    def __init__(self, url: str, headers: dict[str, str]):
        super().__init__(daemon=True, name="jupyter-jobs-log-follow")
        self.url = url
        self.headers = headers
        self.messages: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            asyncio.run(self._read())
        except BaseException as e:  # whatever happened, the reader must hear of it
            self.messages.put(("failed", e))

    async def _read(self) -> None:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        closed = asyncio.Event()

        def on_message(message: Any) -> None:
            if message is None:
                self.messages.put(("closed", None))
                closed.set()
            else:
                self.messages.put(("message", message))

        request = HTTPRequest(self.url, headers=self.headers, connect_timeout=10)
        # pings notice a connection that died silently (a sleeping laptop, a dropped NAT entry)
        conn = await websocket_connect(
            request, on_message_callback=on_message, ping_interval=20, ping_timeout=20
        )
        self.messages.put(("open", None))
        while not closed.is_set() and not self.stopping.is_set():
            try:
                await asyncio.wait_for(closed.wait(), 0.5)
            except asyncio.TimeoutError:
                pass
        conn.close()


def _follow_ws(client: JobsClient, job: Job, state: dict[str, Any]) -> Iterator[bytes]:
    """Yield log bytes from the websocket; ``state["offset"]`` tracks the resume point and
    ``state["ended"]`` is set when the server said the job ended."""
    url = "ws" + client.api_url[len("http") :] + f"jobs/{job.id}/log/follow"
    reader = _WebSocketReader(f"{url}?offset={state['offset']}", client.headers())
    reader.start()
    try:
        while True:
            kind, payload = reader.messages.get()
            if kind == "open":
                state["opened"] = True
                continue
            if kind != "message":  # failed to connect, or closed before "end"
                return
            msg = json.loads(payload)
            if msg.get("type") == "data":
                state["offset"] = int(msg["next_offset"])
                yield str(msg.get("data", "")).encode("utf-8")
            elif msg.get("type") == "end":
                state["offset"] = int(msg.get("next_offset", state["offset"]))
                state["ended"] = True
                return
            elif msg.get("type") == "error":
                raise JobsClientError(str(msg.get("message", "log follow failed")))
    finally:
        reader.stopping.set()


def _follow_poll(client: JobsClient, job: Job, offset: int, poll: float) -> Iterator[bytes]:
    """Yield log bytes by polling ``GET jobs/{id}/log?offset=``: the fallback. Rides out a server
    restart (the job outlives it) for up to ``RECONNECT_PATIENCE`` seconds."""
    unreachable_since = None
    while True:
        try:
            final = job.status in FINAL_STATUSES  # asked before reading, so nothing is missed
            while True:
                data, size = client.read_log(job.id, offset)
                if data:
                    offset += len(data)
                    yield data
                if not data or offset >= size:
                    break
            unreachable_since = None
        except JobsClientError as e:
            if not transient(e):
                raise
            unreachable_since = unreachable_since or time.monotonic()
            if time.monotonic() - unreachable_since > RECONNECT_PATIENCE:
                raise
            final = False
        if final:
            return
        time.sleep(poll)


def follow(client: JobsClient, job: Job, offset: int, poll: float) -> Iterator[bytes]:
    """The websocket while it works (reconnecting from the last offset), else polling."""
    state: dict[str, Any] = {"offset": offset, "ended": False}
    tries = 0
    while tries < 3 and os.environ.get("JUPYTER_JOBS_FOLLOW") != "poll":
        state["opened"] = False
        before = state["offset"]
        yield from _follow_ws(client, job, state)
        if state["ended"]:
            job.refresh()
            return
        if not state["opened"]:
            break  # no websocket here (an older server, a proxy): poll instead
        tries = 0 if state["offset"] > before else tries + 1
    yield from _follow_poll(client, job, state["offset"], poll)
