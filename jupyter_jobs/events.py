"""The job event schema, registered at start and emitted through one helper."""

from __future__ import annotations

import pathlib

from .models import Job

SCHEMA_ID = "https://events.jupyter.org/jupyter_jobs/job/v1"
SCHEMA_PATH = pathlib.Path(__file__).parent / "event_schemas" / "job" / "v1.yaml"


def register(event_logger) -> None:
    if SCHEMA_ID not in event_logger.schemas:
        event_logger.register_event_schema(SCHEMA_PATH)


def make_emitter(event_logger):
    """``emit(action, job)`` for the manager."""

    def emit(action: str, job: Job) -> None:
        event_logger.emit(
            schema_id=SCHEMA_ID,
            data={
                "action": action,
                "job_id": job.id,
                "status": job.status,
                "job": None if action == "deleted" else job.to_dict(),
            },
        )

    return emit
