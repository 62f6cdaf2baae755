"""The event schemas (jobs, remote-kernel specs), registered at start and emitted through helpers."""

from __future__ import annotations

import pathlib

from .models import Job

SCHEMA_ID = "https://events.jupyter.org/jupyter_jobs/job/v1"
SCHEMA_PATH = pathlib.Path(__file__).parent / "event_schemas" / "job" / "v1.yaml"
KERNELSPECS_SCHEMA_ID = "https://events.jupyter.org/jupyter_jobs/kernelspecs/v1"
KERNELSPECS_SCHEMA_PATH = (
    pathlib.Path(__file__).parent / "event_schemas" / "kernelspecs" / "v1.yaml"
)


def register(event_logger) -> None:
    for schema_id, path in (
        (SCHEMA_ID, SCHEMA_PATH),
        (KERNELSPECS_SCHEMA_ID, KERNELSPECS_SCHEMA_PATH),
    ):
        if schema_id not in event_logger.schemas:
            event_logger.register_event_schema(path)


def emit_kernelspecs(event_logger, names: list[str], added: list[str], removed: list[str]) -> None:
    """The remote-kernel specs offered now (``names``) differ from before."""
    register(event_logger)  # idempotent; setup registered it unless the app was built otherwise
    event_logger.emit(
        schema_id=KERNELSPECS_SCHEMA_ID,
        data={
            "action": "changed",
            "kernelspecs": list(names),
            "added": list(added),
            "removed": list(removed),
        },
    )


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
