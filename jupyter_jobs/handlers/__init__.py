"""The REST API's handlers and its route table (docs/CONTRACT.md, ``openapi.json``).

- :mod:`.base` — the handler base class, ``AUTH_RESOURCE``, the error mapping, the API prefix;
- :mod:`.jobs` — ``jobs``, ``jobs/{id}`` and the job's actions, log size, usage and results;
- :mod:`.backends` — ``backends``;
- :mod:`.logs` — ``jobs/{id}/log`` and the ``jobs/{id}/log/follow`` websocket;
- :mod:`.sessions` — ``remote-sessions`` (remote kernels with their jobs);
- :mod:`.definitions` — ``job-definitions`` (schedules), their actions, ``schedule-preview``;
- :mod:`.openapi` — ``openapi.json`` and the JSON 404 for any other URL under the API.

Every route module imports :mod:`.base` and the layers below (manager, wire, models); nothing
below imports a handler.
"""

from __future__ import annotations

from .backends import BackendsHandler
from .base import API_PREFIX, AUTH_RESOURCE, JOB_ID
from .definitions import (
    DEFINITION_ID,
    DefinitionHandler,
    DefinitionRunHandler,
    DefinitionsCollectionHandler,
    SchedulePreviewHandler,
)
from .jobs import (
    CancelHandler,
    JobHandler,
    JobsCollectionHandler,
    RerunHandler,
    ResultsHandler,
    UsageHandler,
)
from .logs import LogFollowHandler, LogHandler
from .openapi import NotFoundHandler, OpenAPIHandler
from .sessions import SessionsHandler


def default_handlers() -> list[tuple[str, type]]:
    """The routes, relative to the server's ``base_url``."""
    base = API_PREFIX
    return [
        (f"{base}/backends", BackendsHandler),
        (f"{base}/jobs", JobsCollectionHandler),
        (f"{base}/jobs/{JOB_ID}", JobHandler),
        (f"{base}/jobs/{JOB_ID}/cancel", CancelHandler),
        (f"{base}/jobs/{JOB_ID}/rerun", RerunHandler),
        (f"{base}/jobs/{JOB_ID}/log", LogHandler),
        (f"{base}/jobs/{JOB_ID}/log/follow", LogFollowHandler),
        (f"{base}/jobs/{JOB_ID}/usage", UsageHandler),
        (f"{base}/jobs/{JOB_ID}/results", ResultsHandler),
        (f"{base}/remote-sessions", SessionsHandler),
        (f"{base}/job-definitions", DefinitionsCollectionHandler),
        (f"{base}/job-definitions/{DEFINITION_ID}", DefinitionHandler),
        (f"{base}/job-definitions/{DEFINITION_ID}/run", DefinitionRunHandler),
        (f"{base}/schedule-preview", SchedulePreviewHandler),
        (f"{base}/openapi.json", OpenAPIHandler),
        (f"{base}/.*", NotFoundHandler),  # last: what no route above matched
    ]


__all__ = ["API_PREFIX", "AUTH_RESOURCE", "default_handlers"]
