"""REST handlers: parse, call the manager once, answer. Errors become HTTP answers in one place
(:func:`json_errors`)."""

from __future__ import annotations

import functools
import json
import pathlib
from http.client import responses
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado import web

from .exceptions import BadRequest, JobsError, PayloadTooLarge
from .manager import JobManager
from .models import KINDS, STATUSES
from .validation import check_overrides, parse_request
from .wire import (
    MAX_INT,
    check_content_type,
    check_job_id,
    int_param,
    list_param,
    parse_json_body,
    safe_text,
)

AUTH_RESOURCE = "jobs"
OPENAPI_PATH = pathlib.Path(__file__).parent / "openapi.json"
_ID = r"(?P<job_id>[^/]+)"
#: cursors are 18 digits at most (what the document's pattern says)
MAX_CURSOR = 10**18 - 1


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

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))


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


class JobsCollectionHandler(JobsHandler):
    @web.authenticated
    @authorized
    @json_errors
    async def get(self):
        jobs, cursor = self.manager.list_jobs(
            status=self.list_arg("status", STATUSES),
            backend=self.list_arg("backend"),
            kind=self.list_arg("kind", KINDS),
            limit=self.int_arg("limit", 100, minimum=1, maximum=1000) or 100,
            cursor=self.int_arg("cursor", None, maximum=MAX_CURSOR),
        )
        self.write_json({"jobs": jobs, "next_cursor": None if cursor is None else str(cursor)})

    @web.authenticated
    @authorized
    @json_errors
    async def post(self):
        req = parse_request(self.json_body(), self.manager.root_dir)  # every check, once
        job = await self.manager.submit(req)
        self.set_header("Location", url_path_join(self.base_url, "jupyter-jobs/api/jobs", job.id))
        self.write_json(job.to_dict(), 201)


class JobHandler(JobsHandler):
    @web.authenticated
    @authorized
    @json_errors
    async def get(self, job_id):
        job = self.manager.get(check_job_id(job_id))
        data = job.to_dict()
        data["log_size"] = (await self.manager.read_log(job_id, 0, 0))[1]
        self.write_json(data)

    @web.authenticated
    @authorized
    @json_errors
    async def delete(self, job_id):
        await self.manager.delete(check_job_id(job_id))
        self.set_status(204)
        self.finish()


class CancelHandler(JobsHandler):
    @web.authenticated
    @authorized
    @json_errors
    async def post(self, job_id):
        job = await self.manager.cancel(check_job_id(job_id))
        self.write_json(job.to_dict(), 202)


class RerunHandler(JobsHandler):
    @web.authenticated
    @authorized
    @json_errors
    async def post(self, job_id):
        overrides = self.json_body(optional=True)
        if overrides is None and (self.request.body or b"").strip():
            raise BadRequest("the rerun body must be a JSON object of the fields to change")
        self.manager.get(check_job_id(job_id))
        check_overrides(overrides, self.manager.root_dir)
        job = await self.manager.rerun(job_id, overrides)
        self.set_header("Location", url_path_join(self.base_url, "jupyter-jobs/api/jobs", job.id))
        self.write_json(job.to_dict(), 201)


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


class UsageHandler(JobsHandler):
    @web.authenticated
    @authorized
    @json_errors
    async def get(self, job_id):
        self.write_json({"samples": self.manager.usage(check_job_id(job_id))})


class OpenAPIHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self):
        self.set_header("Content-Type", "application/json")
        self.finish(OPENAPI_PATH.read_bytes())


class NotFoundHandler(JSONErrorsMixin, ExtensionHandlerMixin, JupyterHandler):
    """Any other URL under ``jupyter-jobs/api/``: a JSON 404, whatever the method."""

    SUPPORTED_METHODS = (*JupyterHandler.SUPPORTED_METHODS, "TRACE", "CONNECT")
    # never reached (prepare answers 404), but jupyter_server looks each method up
    trace = connect = web.RequestHandler._unimplemented_method

    def set_default_headers(self) -> None:
        """No page headers: the answer is JSON."""

    async def prepare(self, *, _redirect_to_login: bool = True) -> None:  # type: ignore[override]
        raise web.HTTPError(
            404, "no such jupyter-jobs API endpoint (see jupyter-jobs/api/openapi.json)"
        )


def default_handlers() -> list[tuple[str, type]]:
    from .kernels.sessions import SessionsHandler
    from .logstream import LogFollowHandler

    base = "jupyter-jobs/api"
    return [
        (f"{base}/backends", BackendsHandler),
        (f"{base}/jobs", JobsCollectionHandler),
        (f"{base}/jobs/{_ID}", JobHandler),
        (f"{base}/jobs/{_ID}/cancel", CancelHandler),
        (f"{base}/jobs/{_ID}/rerun", RerunHandler),
        (f"{base}/jobs/{_ID}/log", LogHandler),
        (f"{base}/jobs/{_ID}/log/follow", LogFollowHandler),
        (f"{base}/jobs/{_ID}/usage", UsageHandler),
        (f"{base}/remote-sessions", SessionsHandler),
        (f"{base}/openapi.json", OpenAPIHandler),
        (f"{base}/.*", NotFoundHandler),  # last: what no route above matched
    ]
