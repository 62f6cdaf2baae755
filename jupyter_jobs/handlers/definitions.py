"""``job-definitions`` (list, create), ``job-definitions/{id}`` (get, change, delete),
``job-definitions/{id}/run`` (one run now) and ``schedule-preview`` (a schedule in words and its
next runs, for the run dialog before anything is saved). Each handler calls one method of the manager's
:class:`~jupyter_jobs.definitions.JobDefinitions`."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from .. import cron
from ..exceptions import BadRequest, NotFound
from ..models import isoformat
from ..wire import JOB_ID_PATTERN, show
from .base import API_PREFIX, JobsHandler, json_errors

#: a definition id in a route (checked by :func:`check_definition_id` in the handler)
DEFINITION_ID = r"(?P<definition_id>[^/]+)"


def check_definition_id(definition_id: str) -> str:
    """A path's definition id: 404 for one no definition can have (same rule as job ids)."""
    if not re.fullmatch(JOB_ID_PATTERN, definition_id):
        raise NotFound(
            f"no job definition {show(definition_id)} (ids are letters and digits)",
            field="definition_id",
        )
    return definition_id


class DefinitionsBase(JobsHandler):
    @property
    def definitions(self):
        return self.manager.definitions

    def definition_url(self, definition_id: str) -> str:
        return url_path_join(self.base_url, API_PREFIX, "job-definitions", definition_id)


class DefinitionsCollectionHandler(DefinitionsBase):
    """``GET job-definitions`` (newest first) and ``POST job-definitions`` (create)."""

    @web.authenticated
    @authorized
    @json_errors
    async def get(self):
        self.write_json({"definitions": self.definitions.list_all()})

    @web.authenticated
    @authorized
    @json_errors
    async def post(self):
        definition = await self.definitions.create(self.json_body())
        self.set_header("Location", self.definition_url(definition["id"]))
        self.write_json(definition, 201)


class DefinitionHandler(DefinitionsBase):
    @web.authenticated
    @authorized
    @json_errors
    async def get(self, definition_id):
        self.write_json(self.definitions.get(check_definition_id(definition_id)))

    @web.authenticated
    @authorized
    @json_errors
    async def patch(self, definition_id):
        check_definition_id(definition_id)
        body = self.json_body()
        self.write_json(await self.definitions.update(definition_id, body))

    @web.authenticated
    @authorized
    @json_errors
    async def delete(self, definition_id):
        await self.definitions.delete(check_definition_id(definition_id))
        self.set_status(204)
        self.finish()


class DefinitionRunHandler(DefinitionsBase):
    """``POST job-definitions/{id}/run``: one run now (201 with the Job)."""

    @web.authenticated
    @authorized
    @json_errors
    async def post(self, definition_id):
        job = await self.definitions.run_now(check_definition_id(definition_id))
        self.set_header("Location", self.job_url(job.id))
        self.write_json(job.to_dict(), 201)


class SchedulePreviewHandler(DefinitionsBase):
    """``GET schedule-preview?schedule=&timezone=``: the schedule in words and its next runs."""

    def one(self, name: str, required: bool) -> str | None:
        values = [self.decode_argument(v, name) for v in self.request.query_arguments.get(name, [])]
        if len(values) > 1:
            raise BadRequest(f"give {name} once, not {len(values)} times", field=name)
        if not values:
            if required:
                raise BadRequest(
                    "Schedule is missing: give a 5-field cron schedule such as '0 6 * * *'",
                    field=name,
                )
            return None
        return values[0]

    @web.authenticated
    @authorized
    @json_errors
    async def get(self):
        self.write_json(
            preview(self.one("schedule", True) or "", self.one("timezone", False) or "UTC")
        )


def preview(schedule: str, timezone_name: str, count: int = 5) -> dict:
    """What ``GET schedule-preview`` answers (400 for a bad schedule or time zone)."""
    expr = cron.parse(schedule)
    tz = cron.timezone_of(timezone_name)
    runs, t = [], datetime.now(timezone.utc)
    for _ in range(count):
        nxt = cron.next_after(expr, tz, t)
        if nxt is None:
            break
        runs.append(isoformat(nxt))
        t = nxt
    return {
        "schedule": expr.text,
        "timezone": timezone_name,
        "schedule_description": cron.describe(expr),
        "next_runs": runs,
    }
