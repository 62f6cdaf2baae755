"""``jobs`` (list, submit), ``jobs/{id}`` (get, delete), its actions (``cancel``, ``rerun``),
``jobs/{id}/usage`` and ``jobs/{id}/results``. Each handler calls one
:class:`~jupyter_jobs.manager.JobManager` method."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..exceptions import BadRequest
from ..models import KINDS, STATUSES
from ..store import CHANGE_TOKEN_PATTERN
from ..validation import check_overrides, parse_request
from ..wire import check_job_id, id_prefix_param, search_param, token_param
from .base import JobsHandler, json_errors

#: cursors are 18 digits at most (what the document's pattern says)
MAX_CURSOR = 10**18 - 1
#: the largest page ``GET jobs?limit`` gives (the default is 100)
MAX_PAGE = 1000


class JobsCollectionHandler(JobsHandler):
    """``GET jobs`` (newest first, filtered, paged by cursor) and ``POST jobs`` (submit)."""

    @web.authenticated
    @authorized
    @json_errors
    async def get(self):
        def arg(name: str) -> list[str]:
            # as sent: tornado's get_query_arguments turns control characters into spaces
            return [
                self.decode_argument(v, name) for v in self.request.query_arguments.get(name, [])
            ]

        self.write_json(
            self.manager.list_jobs(
                q=search_param(arg("q"), "q"),
                status=self.list_arg("status", STATUSES),
                backend=self.list_arg("backend"),
                kind=self.list_arg("kind", KINDS),
                definition=self.list_arg("definition"),
                sweep=self.list_arg("sweep"),
                id_prefix=id_prefix_param(arg("id")),
                limit=self.int_arg("limit", 100, minimum=1, maximum=MAX_PAGE) or 100,
                cursor=self.int_arg("cursor", None, maximum=MAX_CURSOR),
                changed_since=token_param(
                    arg("changed_since"), "changed_since", CHANGE_TOKEN_PATTERN, "change_token"
                ),
            )
        )

    @web.authenticated
    @authorized
    @json_errors
    async def post(self):
        req = parse_request(self.json_body(), self.manager.root_dir)  # every check, once
        job = await self.manager.submit(req)
        self.set_header("Location", self.job_url(job.id))
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
        self.set_header("Location", self.job_url(job.id))
        self.write_json(job.to_dict(), 201)


class UsageHandler(JobsHandler):
    @web.authenticated
    @authorized
    @json_errors
    async def get(self, job_id):
        self.write_json({"samples": self.manager.usage(check_job_id(job_id))})


class ResultsHandler(JobsHandler):
    """``GET jobs/{id}/results``: the results table (docs/CONTRACT.md, "Results")."""

    @web.authenticated
    @authorized
    @json_errors
    async def get(self, job_id):
        self.write_json(self.manager.results_table(check_job_id(job_id)))
