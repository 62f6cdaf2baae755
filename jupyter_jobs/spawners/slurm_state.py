"""Pure parsers for SLURM's answers and the mapping of SLURM job states to job statuses.

``squeue``, ``sacct`` and ``scontrol`` output in, :class:`~jupyter_jobs.models.JobUpdate` out;
no command runs here (unit-tested in ``tests/unit/test_slurm_state.py``).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timezone
from typing import Any

from ..models import (
    CANCELLED,
    COMPLETED,
    FAILED,
    QUEUED,
    RUNNING,
    JobUpdate,
    isoformat,
    parse_time,
)
from ..sweeps import parse_array_id

#: squeue's fixed format: job id, state, reason, nodes, (expected) start, user. ``%S`` of a
#: pending job is the scheduler's expected start: the field ``squeue --start`` prints, so one
#: call gives both.
SQUEUE_FORMAT = "%i|%T|%r|%N|%S|%u"
SACCT_FIELDS = "JobID,State,ExitCode,NodeList,Start,End,User"

PENDING_STATES = frozenset(
    {
        "PENDING",
        "CONFIGURING",
        "REQUEUED",
        "REQUEUE_HOLD",
        "REQUEUE_FED",
        "RESV_DEL_HOLD",
        "SUSPENDED",
    }
)
RUNNING_STATES = frozenset({"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING", "RESIZING"})
FAILED_REASONS = {
    "TIMEOUT": "time limit exceeded (SLURM TIMEOUT)",
    "DEADLINE": "deadline reached (SLURM DEADLINE)",
    "OUT_OF_MEMORY": "out of memory (SLURM OUT_OF_MEMORY)",
    "NODE_FAIL": "the node failed (SLURM NODE_FAIL)",
    "BOOT_FAIL": "the node did not boot (SLURM BOOT_FAIL)",
    "PREEMPTED": "preempted by another job (SLURM PREEMPTED)",
    "REVOKED": "revoked (SLURM REVOKED)",
    "SPECIAL_EXIT": "SLURM SPECIAL_EXIT",
    "FAILED": "SLURM marked the job FAILED",
}
#: what SLURM's queue reasons mean to a user (the code is shown too)
REASON_TEXT = {
    "Priority": "waiting for higher-priority jobs",
    "Resources": "waiting for resources",
    "Dependency": "waiting for a dependency",
    "QOSMaxJobsPerUserLimit": "at the QOS limit of jobs per user",
    "AssocGrpCpuLimit": "at the account's CPU limit",
    "ReqNodeNotAvail": "the requested node is not available",
    "PartitionDown": "the partition is down",
    "PartitionTimeLimit": "the time limit is over the partition's limit",
    "BeginTime": "waiting for its start time",
    "JobHeldUser": "held by the user",
    "JobHeldAdmin": "held by an administrator",
}


@dataclasses.dataclass
class SlurmRecord:
    """What one SLURM command said about one job."""

    job_id: str
    #: SLURM's job state (``PENDING``, ``RUNNING``, ``TIMEOUT``…), not a job status
    slurm_state: str
    reason: str = ""
    nodes: str = ""
    start: str = ""
    end: str = ""
    user: str = ""
    exit_code: int | None = None
    signal: int | None = None


def _none(value: str) -> str:
    value = value.strip()
    return "" if value in ("", "N/A", "(null)", "None", "Unknown", "NONE") else value


def _expand_array(out: dict[str, SlurmRecord]) -> dict[str, SlurmRecord]:
    """One row per array task: ``123_[2-11%2]`` (the tasks not started yet, in one row) becomes
    ``123_2`` … ``123_11`` (a sweep's children are ``<array>_<i>``)."""
    for job_id in [k for k in out if k.endswith("]")]:
        parsed = parse_array_id(job_id)
        if parsed is None:
            continue
        array, tasks = parsed
        rec = out.pop(job_id)
        for task in tasks:
            out.setdefault(f"{array}_{task}", dataclasses.replace(rec, job_id=f"{array}_{task}"))
    return out


def parse_squeue(text: str) -> dict[str, SlurmRecord]:
    """Rows of ``squeue -h -o SQUEUE_FORMAT`` by job id (array tasks one by one)."""
    out: dict[str, SlurmRecord] = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 6 or not parts[0]:
            continue
        job_id, state, reason, nodes, start, user = parts[:6]
        out[job_id] = SlurmRecord(
            job_id=job_id,
            slurm_state=state.strip().split(" ")[0],
            reason=_none(reason),
            nodes=_none(nodes),
            start=_none(start),
            user=user.strip(),
        )
    return _expand_array(out)


def _exit_code(value: str) -> tuple[int | None, int | None]:
    """SLURM's ``code:signal`` → (code, signal)."""
    m = re.match(r"^\s*(\d+):(\d+)\s*$", value or "")
    if not m:
        return None, None
    return int(m.group(1)), int(m.group(2))


def parse_sacct(text: str) -> dict[str, SlurmRecord]:
    """Rows of ``sacct -n -P -X -o SACCT_FIELDS`` by job id (the allocation, not its steps)."""
    out: dict[str, SlurmRecord] = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 7 or not parts[0] or "." in parts[0]:
            continue
        job_id, state, exit_code, nodes, start, end, user = parts[:7]
        user = user.split("(", 1)[0]  # sacct -c prints "name(uid)"
        code, sig = _exit_code(exit_code)
        out[job_id] = SlurmRecord(
            job_id=job_id,
            slurm_state=state.strip().split(" ")[0],  # "CANCELLED by 1000"
            nodes=_none(nodes),
            start=_none(start),
            end=_none(end),
            user=user.strip(),
            exit_code=code,
            signal=sig,
        )
    return _expand_array(out)


def parse_scontrol(text: str) -> SlurmRecord | None:
    """``scontrol show job -o ID`` (one line of ``Key=Value`` pairs)."""
    fields: dict[str, str] = {}
    for m in re.finditer(r"(\S+?)=(\S*)", text):
        fields.setdefault(m.group(1), m.group(2))
    if "JobId" not in fields:
        return None
    code, sig = _exit_code(fields.get("ExitCode", ""))
    user = fields.get("UserId", "").split("(", 1)[0]
    return SlurmRecord(
        job_id=fields["JobId"],
        slurm_state=fields.get("JobState", ""),
        reason=_none(fields.get("Reason", "")),
        nodes=_none(fields.get("NodeList", "")),
        start=_none(fields.get("StartTime", "")),
        end=_none(fields.get("EndTime", "")),
        user=user,
        exit_code=code,
        signal=sig,
    )


def slurm_time(value: str) -> datetime | None:
    """SLURM's local ``2026-11-24T22:16:17`` → an aware datetime (None for N/A)."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.astimezone()  # SLURM prints the controller's local time
    return dt.astimezone(timezone.utc)


def queue_reason(reason: str) -> str:
    """``Resources`` → ``"waiting for resources (Resources)"`` (the status already says queued)."""
    if not reason or reason == "PENDING":
        return "waiting to be scheduled"
    text = REASON_TEXT.get(reason)
    return f"{text} ({reason})" if text else reason


def active_update(rec: SlurmRecord) -> JobUpdate | None:
    """The update for a job SLURM still has pending or running; None if it is finished."""
    if rec.slurm_state in PENDING_STATES:
        start = slurm_time(rec.start)
        reason = queue_reason(rec.reason)
        if rec.slurm_state == "SUSPENDED":
            reason = "suspended by SLURM"
        return JobUpdate(
            status=QUEUED,
            reason=reason,
            expected_start=isoformat(start) if start else None,
        )
    if rec.slurm_state in RUNNING_STATES:
        return JobUpdate(
            status=RUNNING,
            host=rec.nodes or None,
            started_at=slurm_time(rec.start),
            clear_reason=True,
        )
    return None


def final_update(
    rec: SlurmRecord | None, status: dict[str, Any] | None, cancel_requested: bool = False
) -> JobUpdate | None:
    """The final state of a job that left the queue.

    ``rec`` is SLURM's record (sacct or scontrol, or squeue's finished row), ``status`` the
    runner's ``status.json``. The batch script ``exec``s the runner, which exits 0 whatever the
    command did: the runner's file has the command's exit code, SLURM the fate of the allocation
    (cancelled, time limit, node failure). None: not enough known yet.
    """
    runner_state = (status or {}).get("state")
    runner_final = runner_state in (COMPLETED, FAILED, CANCELLED)
    update = JobUpdate()
    if status:
        update.host = status.get("host")
        if status.get("started_at"):
            update.started_at = parse_time(status["started_at"])
        if status.get("finished_at"):
            update.finished_at = parse_time(status["finished_at"])
    slurm_state = rec.slurm_state if rec else ""
    if rec is not None:
        update.host = rec.nodes or update.host  # the node as SLURM names it
        update.finished_at = update.finished_at or slurm_time(rec.end)
    if slurm_state in PENDING_STATES or slurm_state in RUNNING_STATES:
        return None
    if slurm_state == "CANCELLED" or (cancel_requested and runner_state == CANCELLED):
        update.status = CANCELLED
        update.exit_code = (status or {}).get("exit_code")
        update.reason = "cancelled (scancel)" if slurm_state else (status or {}).get("reason")
        return update
    if slurm_state in FAILED_REASONS and not (slurm_state == "FAILED" and runner_final):
        # FAILED with the runner's final word: its command failed (the runner's exit code)
        update.status = FAILED
        update.exit_code = (status or {}).get("exit_code")
        if update.exit_code is None and rec is not None and rec.exit_code is not None:
            update.exit_code = 128 + rec.signal if rec.signal else rec.exit_code
        update.reason = FAILED_REASONS[slurm_state]
        return update
    if runner_final:
        update.status = runner_state
        update.exit_code = status.get("exit_code") if status else None
        update.reason = (status or {}).get("reason")
        update.clear_reason = update.reason is None
        if runner_state == CANCELLED and not cancel_requested:
            # the runner got a SIGTERM nobody here sent: SLURM stopped it (time limit, preemption)
            update.status = FAILED
            update.reason = f"stopped by SLURM: {update.reason or 'SIGTERM'}"
        return update
    if slurm_state == "COMPLETED":
        return None  # the runner's status.json is not there yet (slow shared filesystem)
    return None
