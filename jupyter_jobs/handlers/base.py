"""What every jupyter-jobs handler shares: the base class, the authorization resource, the API
prefix, and the one place where errors become HTTP answers and log lines.

- :func:`error_answer` maps each domain error type (:mod:`jupyter_jobs.exceptions`) to its HTTP
  status and JSON body; :func:`json_errors` and :meth:`JSONErrorsMixin.write_error` answer with it.
- :meth:`JSONErrorsMixin._log` writes the request's log line: an answered domain error is one
  line with its message, no request headers (a job id that is not there at debug level: the CLI
  asks for id prefixes that way); anything else as jupyter_server logs it, and an exception that
  is no domain error (a real 500) with its traceback.

A handler parses its request (:mod:`jupyter_jobs.wire`), calls the manager once, and answers.
"""

from __future__ import annotations

import functools
import json
import logging
from http.client import responses
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.log import _scrub_uri
from jupyter_server.prometheus.log_functions import prometheus_log_method
from jupyter_server.utils import url_path_join
from tornado import web

from ..api_paths import API_PREFIX
from ..exceptions import (
    BadRequest,
    Conflict,
    EngineError,
    EngineUnavailable,
    JobsError,
    NotFound,
    PayloadTooLarge,
    StorageFull,
    UnsupportedMediaType,
)
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

#: the HTTP status of each domain error; a subclass answers as its nearest listed base
#: (``AlreadyExists`` as ``Conflict``; ``NotInstalled`` and ``EngineForbidden`` as
#: ``EngineUnavailable``: the backend cannot serve, and the user cannot mend it)
ERROR_STATUS: dict[type[JobsError], int] = {
    BadRequest: 400,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    EngineError: 502,
    EngineUnavailable: 503,
    StorageFull: 507,
}


def error_status(error: JobsError) -> int:
    """The HTTP status ``error`` is answered with (500 for a type not in :data:`ERROR_STATUS`)."""
    for klass in type(error).__mro__:
        if klass in ERROR_STATUS:
            return ERROR_STATUS[klass]
    return 500


def error_answer(error: JobsError) -> tuple[int, dict[str, str]]:
    """``(status, JSON body)`` of a domain error: ``{"message", "field"?}``."""
    return error_status(error), error.to_dict()


def json_errors(method):
    """Turn domain errors into JSON answers with their status code (never a 500 for a user error)."""

    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs):
        try:
            return await method(self, *args, **kwargs)
        except JobsError as e:
            self.answer_error(e)

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

    def answer_error(self: Any, error: JobsError) -> None:
        """Answer with ``error``'s status and body (and remember it for the log line)."""
        status, body = error_answer(error)
        self._jobs_error = error
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(self: Any, typ: Any, value: Any, tb: Any) -> None:
        """A domain error raised outside :func:`json_errors` is answered, not a crash: its log
        line is :meth:`_log`'s, without a traceback. Anything else as tornado logs it (a real
        500 with its traceback)."""
        if isinstance(value, JobsError):
            self._jobs_error = value
            return
        super().log_exception(typ, value, tb)  # type: ignore[misc]

    def _log(self: Any) -> None:
        """The request's log line (tornado calls this once the answer is sent)."""
        error = getattr(self, "_jobs_error", None)
        if error is None:
            super()._log()  # type: ignore[misc]
            return
        status = self.get_status()
        # a job id that is not there is the client's everyday question (id prefixes), not news
        level = logging.DEBUG if isinstance(error, NotFound) else logging.WARNING
        log = self.log
        if log.isEnabledFor(level):
            request = self.request
            try:
                user = self.current_user
                name = getattr(user, "username", None) or ""
            except Exception:
                name = ""
            log.log(
                level,
                "%d %s %s (%s@%s) %.2fms: %s",
                status,
                request.method,
                # secrets (``token=``) hidden, as in jupyter_server's own log line
                _scrub_uri(request.uri or "", self.settings.get("extra_log_scrub_param_keys", [])),
                name,
                request.remote_ip,
                1000.0 * request.request_time(),
                safe_text(error.message),
            )
        try:
            prometheus_log_method(self)
        except Exception:  # metrics are optional; a log line must never fail a request
            pass

    def write_error(self: Any, status_code: int, **kwargs: Any) -> None:
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        body: dict[str, Any] = {"message": responses.get(status_code, f"HTTP {status_code}")}
        if isinstance(exc, JobsError):  # raised outside json_errors: answer its own status
            status_code, body = error_answer(exc)
            self._jobs_error = exc
            self.set_status(status_code)
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
    "ERROR_STATUS",
    "allowed_methods",
    "error_answer",
    "error_status",
    "json_errors",
]
