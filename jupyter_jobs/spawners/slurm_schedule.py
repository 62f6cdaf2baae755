"""Job definitions on SLURM: the pure parts of the ``--begin`` chain (docs/slurm.md, "Schedules").

A definition's next run waits in SLURM's own queue as a job held with ``--begin`` until its
occurrence; when it starts, :mod:`jupyter_jobs.schedule_next` (in the job, no server) makes the run
after it. This module holds what both sides need: the ``sbatch`` options of a run, the sbatch argv
with the time zone made explicit, the marker of an occurrence, the reason a waiting run shows.

``--begin=YYYY-MM-DDTHH:MM:SS`` is read by ``sbatch`` in *its own* local time zone (libslurm's
``parse_time`` → ``mktime``) before the epoch goes to slurmctld; a login node, a compute node and a
server may each have another. So the time is always given in UTC and sbatch always runs as
``env TZ=UTC0 sbatch …`` (``env`` works behind ``SlurmSpawner.exec_prefix`` too, where the
environment of this process does not reach).

A run that failed is retried the same way, from inside its SLURM job (``retries``,
``retry_delay``): a new run of the same occurrence, ``attempt`` + 1, held with ``--begin`` until the
delay has passed; once per failed run (its ``retry-<job id>`` marker, the name the server-fired
retries of the local backend use too).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from .. import cron

#: sbatch runs with this prefix: the ``--begin`` time is UTC whatever the node's zone
SBATCH_ENV_PREFIX = ["env", "TZ=UTC0"]
#: ``Job.state`` keys of a definition's run on SLURM
STATE_REASON = "scheduled_reason"
STATE_AFTER = "after_slurm_job"
#: ``Job.state`` key of a retry: the id of the failed run it retries
STATE_RETRY_OF = "retry_of"
#: the engine "owns" a run its chain made until a server takes it over (no lease: never alive)
ENGINE_OWNER = "slurm-begin-chain"


def begin_option(occurrence: datetime) -> str:
    """``--begin=`` the occurrence, in UTC (sbatch runs with ``TZ=UTC0``: :data:`SBATCH_ENV_PREFIX`)."""
    if occurrence.tzinfo is None:
        raise ValueError("the occurrence must be an aware datetime")
    utc = occurrence.astimezone(timezone.utc)
    return f"--begin={utc.strftime('%Y-%m-%dT%H:%M:%S')}"


def dependency_option(overlap: str, previous_slurm_job: str | None) -> list[str]:
    """``queue``: the run starts after the previous one ended, whatever its end
    (``--dependency=afterany:<id>``); ``skip`` and ``allow``: nothing (``skip`` is decided by the
    run when it starts, :mod:`jupyter_jobs.schedule_next`)."""
    if overlap == "queue" and previous_slurm_job and previous_slurm_job.isdigit():
        return [f"--dependency=afterany:{previous_slurm_job}"]
    return []


def run_options(
    scheduled_for: datetime | None, previous_slurm_job: str | None, overlap: str
) -> list[str]:
    """The extra sbatch options of a definition's run."""
    out: list[str] = []
    if scheduled_for is not None:
        out.append(begin_option(scheduled_for))
    out += dependency_option(overlap, previous_slurm_job)
    return out


def with_utc(argv: list[str]) -> list[str]:
    """``sbatch …`` → ``env TZ=UTC0 sbatch …``."""
    return [*SBATCH_ENV_PREFIX, *argv]


def scheduled_reason(occurrence: datetime, tz_name: str) -> str:
    """What a run waiting for its time shows: ``scheduled for Wed 2 Dec 06:00 Europe/Berlin``."""
    local = occurrence.astimezone(cron.timezone_of(tz_name))
    return (
        f"scheduled for {local.strftime('%a')} {local.day} {local.strftime('%b %H:%M')} {tz_name}"
    )


def marker_path(definitions_dir: str, definition_id: str, occurrence: datetime) -> str:
    """The ``fired-<epoch>`` marker of an occurrence (shared with the server firing)."""
    return os.path.join(definitions_dir, definition_id, f"fired-{int(occurrence.timestamp())}")


def next_occurrence(definition: dict[str, Any], after: datetime) -> datetime | None:
    return cron.next_after(
        cron.parse(definition["schedule"]), cron.timezone_of(definition["timezone"]), after
    )


def retry_marker_path(definitions_dir: str, definition_id: str, failed_job_id: str) -> str:
    """The ``retry-<job id>`` marker of a failed run: made (``O_EXCL``) by the one side that
    retries it (the same name as the server-fired retries, :mod:`jupyter_jobs.definitions`)."""
    return os.path.join(definitions_dir, definition_id, f"retry-{failed_job_id}")


def retry_begin(failed_at: datetime, delay: float) -> datetime:
    """When a retry may start: ``delay`` seconds after the failure (whole seconds, UTC)."""
    at = failed_at.astimezone(timezone.utc) + timedelta(seconds=max(0.0, float(delay)))
    if at.microsecond:
        at = at.replace(microsecond=0) + timedelta(seconds=1)  # never earlier than the delay
    return at


def retry_reason(
    attempt: int, retries: int, failed_job_id: str, why: str | None, begin: datetime, tz_name: str
) -> str:
    """What a retry shows: ``retry 1 of 3 after run 1a2b3c4d failed (exit code 1); starts Wed 2
    Dec 06:00:05 Europe/Berlin`` — ``attempt`` is the failed run's (the retry is ``attempt + 1``)."""
    local = begin.astimezone(cron.timezone_of(tz_name))
    when = f"{local.strftime('%a')} {local.day} {local.strftime('%b %H:%M:%S')} {tz_name}"
    failed = f"failed ({why})" if why else "failed"
    return f"retry {attempt} of {retries} after run {failed_job_id[:8]} {failed}; starts {when}"
