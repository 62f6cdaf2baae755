"""What every jupyter-jobs handler shares: the base class, the authorization resource, the API
prefix, and the one place where errors become HTTP answers (:func:`json_errors`,
:meth:`JSONErrorsMixin.write_error`).

A handler parses its request (:mod:`jupyter_jobs.wire`), calls the manager once, and answers.
"""

from __future__ import annotations

import functools
import json
from http.client import responses
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado import web

from ..api_paths import API_PREFIX
from ..exceptions import BadRequest, JobsError, PayloadTooLarge
from ..manager import JobManager
from ..wire import (
    MAX_INT,
    check_content_type,
    int_param,
    list_param,
    parse_json_body,
    safe_text,
)

#: the resource jupyter_server's authorizer is asked about for every jupyter-jobs handler
AUTH_RESOURCE = "jobs"
#: a job id in a route (checked by :func:`~jupyter_jobs.wire.check_job_id` in the handler)
JOB_ID = r"(?P<job_id>[^/]+)"


def json_errors(method):
    """Turn domain errors into JSON answers with their status code (never a 500 for a user error)."""

    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs):
        try:
            return await method(self, *args, **kwargs)
        except JobsError as e:
            self.set_status(e.status_code)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(e.to_dict()))

    return wrapper


def allowed_methods(cls: type) -> list[str]:
    """The HTTP methods a jupyter-jobs handler implements (for ``Allow``)."""
    return [
        m.upper()
        for m in ("get", "post", "delete", "put", "patch")
        if any(k.__module__.startswith("jupyter_jobs") and m in vars(k) for k in cls.__mro__)
    ]


class JSONErrorsMixin:
    """Every error of a jupyter-jobs handler is JSON ``{"message", "field"?}``, whatever raised it
    (tornado's 405 for an unknown method included, with ``Allow``); nothing renders an HTML page."""

    def decode_argument(self, value: bytes, name: str | None = None) -> str:
        # not-UTF-8 path and query values get through as text that no check accepts, so the
        # handler refuses them after authentication, as JSON (tornado's own 400 comes earlier)
        return value.decode("utf-8", "surrogateescape")

    def write_error(self: Any, status_code: int, **kwargs: Any) -> None:
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        body: dict[str, Any] = {"message": responses.get(status_code, f"HTTP {status_code}")}
        if isinstance(exc, JobsError):  # raised outside json_errors: answer its own status
            self.set_status(exc.status_code)
            status_code = exc.status_code
            body = exc.to_dict()
        elif isinstance(exc, web.HTTPError) and exc.log_message:
            try:
                body["message"] = exc.log_message % exc.args if exc.args else exc.log_message
            except (TypeError, ValueError):
                body["message"] = exc.log_message
        if status_code == 405:
            allow = allowed_methods(type(self))
            self.set_header("Allow", ", ".join(allow))
            method = safe_text(self.request.method or "")
            body = {"message": f"{method} is not allowed here; this URL takes {', '.join(allow)}"}
        elif status_code >= 500 and not isinstance(exc, JobsError):
            body = {"message": "internal error in jupyter-jobs; the server's log says more"}
        body = {k: safe_text(v) for k, v in body.items()}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


class JobsHandler(JSONErrorsMixin, ExtensionHandlerMixin, APIHandler):
    """Base of every jupyter-jobs REST handler."""

    auth_resource = AUTH_RESOURCE

    @property
    def manager(self) -> JobManager:
        return self.settings["jupyter_jobs_manager"]

    def json_body(self, *, optional: bool = False) -> Any:
        """The body, parsed by :func:`~jupyter_jobs.wire.parse_json_body` (413, 415, 400)."""
        limit = self.settings.get("jupyter_jobs_max_body", 1 << 20)
        body = self.request.body or b""
        if len(body) > limit:
            raise PayloadTooLarge(
                f"the request body is {len(body)} bytes; at most {limit} are accepted"
            )
        check_content_type(self.request.headers.get("Content-Type"), body)
        if not body.strip():
            if optional:
                return None
            raise BadRequest("the request body is empty; send a JSON object")
        return parse_json_body(body)

    def int_arg(
        self, name: str, default: int | None, *, minimum: int = 0, maximum: int = MAX_INT
    ) -> int | None:
        values = self.get_query_arguments(name, strip=False)
        return int_param(values, name, default, minimum=minimum, maximum=maximum)

    def list_arg(self, name: str, allowed: tuple[str, ...] | None = None) -> list[str] | None:
        return list_param(self.get_query_arguments(name, strip=False), name, allowed)

    def job_url(self, job_id: str) -> str:
        """The job's URL (for ``Location``)."""
        return url_path_join(self.base_url, API_PREFIX, "jobs", job_id)

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))


__all__ = [
    "API_PREFIX",
    "AUTH_RESOURCE",
    "JOB_ID",
    "JSONErrorsMixin",
    "JobsHandler",
    "allowed_methods",
    "json_errors",
]
