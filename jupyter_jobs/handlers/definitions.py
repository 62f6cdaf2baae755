"""``job-definitions`` (list, create), ``job-definitions/{id}`` (get, change, delete) and
``job-definitions/{id}/run`` (one run now). Each handler calls one method of the manager's
:class:`~jupyter_jobs.definitions.JobDefinitions`."""

from __future__ import annotations

import re

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from ..exceptions import NotFound
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
