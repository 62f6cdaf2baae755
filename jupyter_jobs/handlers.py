"""REST handlers: parse, call the manager once, answer. Errors become HTTP answers in one place
(:func:`json_errors`)."""

from __future__ import annotations

import functools
import json
import pathlib
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado import web

from .exceptions import BadRequest, JobsError, PayloadTooLarge
from .manager import JobManager

AUTH_RESOURCE = "jobs"
OPENAPI_PATH = pathlib.Path(__file__).parent / "openapi.json"
_ID = r"(?P<job_id>[^/]+)"


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


class JobsHandler(ExtensionHandlerMixin, APIHandler):
    """Base of every jupyter-jobs REST handler."""

    auth_resource = AUTH_RESOURCE

    @property
    def manager(self) -> JobManager:
        return self.settings["jupyter_jobs_manager"]

    def json_body(self, *, optional: bool = False) -> Any:
        limit = self.settings.get("jupyter_jobs_max_body", 1 << 20)
        body = self.request.body or b""
        if len(body) > limit:
            raise PayloadTooLarge(
                f"the request body is {len(body)} bytes; at most {limit} are accepted"
            )
        if not body.strip():
            if optional:
                return None
            raise BadRequest("the request body is empty; send a JSON object")
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            raise BadRequest(f"the request body is not valid JSON: {e}")

    def int_arg(self, name: str, default: int | None, *, minimum: int = 0) -> int | None:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise BadRequest(f"{name} must be a whole number, not {raw!r}", field=name)
        if value < minimum:
            raise BadRequest(f"{name} must be at least {minimum}", field=name)
        return value

    def list_arg(self, name: str) -> list[str] | None:
        values = [v for raw in self.get_query_arguments(name) for v in raw.split(",") if v]
        return values or None

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
            status=self.list_arg("status"),
            backend=self.list_arg("backend"),
            kind=self.list_arg("kind"),
            limit=self.int_arg("limit", 100, minimum=1) or 100,
            cursor=self.int_arg("cursor", None),
        )
        self.write_json({"jobs": jobs, "next_cursor": None if cursor is None else str(cursor)})

    @web.authenticated
    @authorized
    @json_errors
    async def post(self):
        job = await self.manager.create(self.json_body())
        self.set_header("Location", url_path_join(self.base_url, "jupyter-jobs/api/jobs", job.id))
        self.write_json(job.to_dict(), 201)


class JobHandler(JobsHandler):
    @web.authenticated
    @authorized
    @json_errors
    async def get(self, job_id):
        job = self.manager.get(job_id)
        data = job.to_dict()
        data["log_size"] = (await self.manager.read_log(job_id, 0, 0))[1]
        self.write_json(data)

    @web.authenticated
    @authorized
    @json_errors
    async def delete(self, job_id):
        await self.manager.delete(job_id)
        self.set_status(204)
        self.finish()


class CancelHandler(JobsHandler):
    @web.authenticated
    @authorized
    @json_errors
    async def post(self, job_id):
        job = await self.manager.cancel(job_id)
        self.write_json(job.to_dict(), 202)


class RerunHandler(JobsHandler):
    @web.authenticated
    @authorized
    @json_errors
    async def post(self, job_id):
        job = await self.manager.rerun(job_id, self.json_body(optional=True))
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
        self.write_json({"samples": self.manager.usage(job_id)})


class OpenAPIHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self):
        self.set_header("Content-Type", "application/json")
        self.finish(OPENAPI_PATH.read_bytes())


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
    ]
