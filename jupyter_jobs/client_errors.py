"""The client's errors, and when one is worth waiting out: shared by :mod:`jupyter_jobs.client`
and the log follower (:mod:`jupyter_jobs._follow`), which imports nothing of the client itself."""

from __future__ import annotations

RECONNECT_PATIENCE = 60.0  # seconds a log follower (or a wait) rides out a restarting server


class JobsClientError(Exception):
    """An error answered by the server (its ``message``), or a request that cannot be made.

    ``status`` is the HTTP status (None when no answer came), ``field`` the request field at fault.
    """

    def __init__(self, message: str, *, status: int | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field


class ServerNotFound(JobsClientError):
    """No running Jupyter server could be found or reached (the CLI exits with code 2)."""


class JobsTimeout(JobsClientError, TimeoutError):
    """``Job.wait(timeout=...)`` ran out of time; the job keeps running."""


def transient(e: JobsClientError) -> bool:
    """The server is away (restarting, or a proxy says so): worth asking again soon."""
    return isinstance(e, ServerNotFound) or e.status in (502, 503, 504)
