"""The job record, its statuses, and the shared resource vocabulary.

Every backend speaks the same resource words (``cpus``, ``memory``, ``gpus``, ``time_limit``,
``partition``/``queue``, ``account``, ``qos``, ``image``, ``extra``); each spawner translates them and
refuses what it cannot honour.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import uuid
from datetime import datetime, timezone
from typing import Any

from .exceptions import BadRequest
from .units import format_bytes, format_duration
from .wire import label

PENDING = "pending"
QUEUED = "queued"
RUNNING = "running"
CANCELLING = "cancelling"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
LOST = "lost"

STATUSES = (PENDING, QUEUED, RUNNING, CANCELLING, COMPLETED, FAILED, CANCELLED, LOST)
FINAL_STATUSES = frozenset({COMPLETED, FAILED, CANCELLED, LOST})
ACTIVE_STATUSES = frozenset(STATUSES) - FINAL_STATUSES

KINDS = ("script", "notebook", "command", "kernel", "sweep")

RESOURCE_KEYS = (
    "cpus",
    "memory",
    "gpus",
    "time_limit",
    "partition",
    "queue",
    "account",
    "qos",
    "image",
    "extra",
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def isoformat(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def new_job_id() -> str:
    return uuid.uuid4().hex


@dataclasses.dataclass
class Job:
    """One job, as stored and as answered by the REST API (``to_dict``).

    ``state`` is the spawner's private state (``get_state``/``load_state``); it is stored but never
    sent to clients. ``job_dir`` is where the runner keeps ``spec.json``, ``output.log`` and friends.
    """

    id: str
    name: str
    kind: str
    backend: str
    profile: str
    path: str | None = None
    command: list[str] = dataclasses.field(default_factory=list)
    args: list[str] = dataclasses.field(default_factory=list)
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    cwd: str | None = None
    resources: dict[str, Any] = dataclasses.field(default_factory=dict)
    parameters: dict[str, Any] = dataclasses.field(default_factory=dict)
    status: str = PENDING
    exit_code: int | None = None
    reason: str | None = None
    created_at: datetime = dataclasses.field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    backend_ref: str | None = None
    host: str | None = None
    progress: dict[str, Any] | None = None
    log_size: int = 0
    outputs: list[str] = dataclasses.field(default_factory=list)
    job_dir: str = ""
    state: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: argv actually run (after the kind was translated); for display and rerun
    argv: list[str] = dataclasses.field(default_factory=list)
    #: when a queued job is expected to start (SLURM's estimate), ISO string
    expected_start: str | None = None
    #: the server (lease id, :mod:`jupyter_jobs.ownership`) that owns the job; never sent to clients
    owner: str | None = None
    #: what the ended job used against what it asked for (:mod:`jupyter_jobs.efficiency`)
    efficiency: dict[str, Any] | None = None
    #: what the run recorded (``jupyter_jobs.record``), copied from ``results.json`` at its end
    results: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: the job definition whose run this job is (:mod:`jupyter_jobs.definitions`), or None
    definition_id: str | None = None
    #: a definition's run: the occurrence it was fired for (ISO UTC; None for "run now") and
    #: its attempt (1, then 2… for retries after a failure)
    scheduled_for: str | None = None
    attempt: int | None = None
    #: dependencies (:mod:`jupyter_jobs.dependencies`): the jobs this one waits for (ids, empty:
    #: none) and how they must end for it to start (``ok``, ``any``, ``failed``)
    after: list[str] = dataclasses.field(default_factory=list)
    when: str = "ok"
    #: the pinned copy of the job's input file that runs (``<job_dir>/input/<basename>``, absolute
    #: on the server that made it), None for commands and kernels; every file copied, relative to
    #: the job's directory; the extra files the request named (relative to the root)
    pinned_path: str | None = None
    pinned_files: list[str] = dataclasses.field(default_factory=list)
    extra_files: list[str] = dataclasses.field(default_factory=list)
    #: a notebook's outputs (``["ipynb"]``, ``["ipynb", "html"]``) and the report's options
    output_formats: list[str] = dataclasses.field(default_factory=list)
    report: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: ``{"on", "email", "webhook", "slurm_mail"}`` (:mod:`jupyter_jobs.notify`), or None
    notify: dict[str, Any] | None = None
    #: a sweep's child (:mod:`jupyter_jobs.sweeps`): the sweep's id and the child's position
    sweep_id: str | None = None
    index: int | None = None
    #: a sweep (kind ``sweep``): its children's ids in order, the grid or the parameter sets
    #: asked, how many children run at once (None: no limit of its own), how a script's child
    #: gets its parameters (``args``/``env``), its children by status
    children: list[str] = dataclasses.field(default_factory=list)
    grid: dict[str, list[Any]] | None = None
    parameter_sets: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    throttle: int | None = None
    parameters_as: str | None = None
    child_counts: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """The public JSON form (the Job of jupyter_jobs/openapi.json; docs/CONTRACT.md)."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "path": self.path,
            "command": list(self.command or self.argv),
            "args": list(self.args),
            "env": dict(self.env),
            "cwd": self.cwd,
            "backend": self.backend,
            "profile": self.profile,
            "resources": dict(self.resources),
            "parameters": dict(self.parameters),
            "status": self.status,
            "exit_code": self.exit_code,
            "reason": self.reason,
            "created_at": isoformat(self.created_at),
            "started_at": isoformat(self.started_at),
            "finished_at": isoformat(self.finished_at),
            "backend_ref": self.backend_ref,
            "host": self.host,
            "progress": self.progress,
            "log_size": self.log_size,
            "outputs": list(self.outputs),
            "expected_start": self.expected_start,
            "efficiency": copy.deepcopy(self.efficiency),
            "results": dict(self.results or {}),
            "definition_id": self.definition_id,
            "scheduled_for": self.scheduled_for,
            "attempt": self.attempt,
            "after": list(self.after),
            "when": self.when,
            "pinned_path": self.pinned_path,
            "pinned_files": list(self.pinned_files),
            "extra_files": list(self.extra_files),
            "output_formats": list(self.output_formats),
            "report": dict(self.report or {}),
            "notify": copy.deepcopy(self.notify),
            "sweep_id": self.sweep_id,
            "index": self.index,
            "children": list(self.children),
            "grid": copy.deepcopy(self.grid),
            "parameter_sets": copy.deepcopy(self.parameter_sets),
            "throttle": self.throttle,
            "parameters_as": self.parameters_as,
            "child_counts": dict(self.child_counts),
        }

    def to_record(self) -> dict[str, Any]:
        """Everything, for the store."""
        d = self.to_dict()
        d["command"] = list(self.command)
        d["job_dir"] = self.job_dir
        d["state"] = copy.deepcopy(self.state)  # a snapshot: later changes must not leak into it
        d["argv"] = list(self.argv)
        d["owner"] = self.owner
        return d

    @classmethod
    def from_record(cls, d: dict[str, Any]) -> Job:
        fields = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in fields}
        for key in ("created_at", "started_at", "finished_at"):
            if isinstance(kw.get(key), str):
                kw[key] = parse_time(kw[key])
        return cls(**kw)


@dataclasses.dataclass
class JobUpdate:
    """What a spawner learned about a job. ``None`` fields are left as they are."""

    status: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    host: str | None = None
    backend_ref: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: dict[str, Any] | None = None
    log_size: int | None = None
    expected_start: str | None = None
    #: set ``reason`` to None even though the field is None (e.g. a queue reason that went away)
    clear_reason: bool = False
    state: dict[str, Any] | None = None


# ---------------------------------------------------------------- resource vocabulary

_MEM_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGTP]?)(i?B?)?\s*\Z", re.IGNORECASE)
_MEM_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}
#: the largest memory a request may name: 8 EiB - 1 (what fits in 64 bits)
MAX_MEMORY = 2**63 - 1
#: the longest time limit: 365 days
MAX_TIME_LIMIT = 365 * 86400
#: the most CPUs or GPUs a request may name (nine digits; SLURM counts them in 32 bits)
MAX_COUNT = 999_999_999


def _finite_number(value: Any, field: str, what: str) -> float | int:
    """An int, or a float that is finite; BadRequest otherwise (NaN, Infinity)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRequest(f"{label(field)}: {value!r} is not a {what}", field=field)
    return value


def parse_memory(value: Any, field: str = "resources.memory") -> int:
    """``4G``, ``512M``, ``1.5GiB`` or a number of bytes → bytes (binary units, as SLURM uses).

    Messages name the field by its label (``Memory``); ``field`` stays the request's key."""
    what = label(field)
    if isinstance(value, bool):
        raise BadRequest(f"{what} must be a size like 4G or 512M, not {value!r}", field=field)
    if isinstance(value, (int, float)):
        n = int(_finite_number(value, field, "size"))
    elif isinstance(value, str):
        m = _MEM_RE.match(value)
        if not m or len(value) > 64:
            raise BadRequest(f"{what}: {value!r} is not a size (try 4G or 512M)", field=field)
        n = int(float(m.group(1)) * _MEM_UNITS[m.group(2).upper()])
    else:
        raise BadRequest(f"{what} must be a size like 4G or 512M", field=field)
    if n <= 0:
        raise BadRequest(f"{what} must be more than 0", field=field)
    if n > MAX_MEMORY:
        raise BadRequest(f"{what}: {value!r} is more memory than any machine has", field=field)
    return n


_TIME_RE = re.compile(r"^(?:([0-9]+)-)?(?:([0-9]+):)?(?:([0-9]+):)?([0-9]+)\Z")


def parse_time_limit(value: Any, field: str = "resources.time_limit") -> int:
    """Seconds, ``"HH:MM:SS"``, ``"MM:SS"`` or ``"D-HH:MM:SS"`` → seconds (1 s to 365 days).

    Minutes and seconds after a larger unit are below 60, hours after days below 24
    (``"99:99:99"`` is refused, as SLURM refuses it)."""
    what = label(field)
    if isinstance(value, bool):
        raise BadRequest(f"{what} must be seconds or HH:MM:SS (e.g. 01:30:00)", field=field)
    if isinstance(value, (int, float)):
        _finite_number(value, field, "duration")
        if value > MAX_TIME_LIMIT:
            raise BadRequest(
                f"{what}: {value!r} seconds is more than the longest time limit (365 days)",
                field=field,
            )
        n = int(value)
    elif isinstance(value, str):
        s = value.strip()
        m = _TIME_RE.match(s) if len(value) <= 32 else None
        if not m:
            raise BadRequest(
                f"{what}: {value!r} is not a duration (try 3600, 01:30:00 or 2-00:00:00)",
                field=field,
            )
        days, a, b, c = m.groups()
        given = [int(x) for x in (a, b, c) if x is not None]
        parts = list(given)
        while len(parts) < 3:
            parts.insert(0, 0)
        h, mi, se = parts
        if len(given) > 1 and se >= 60:
            raise BadRequest(f"{what}: {value!r} has {se} seconds; use 0-59", field=field)
        if len(given) > 2 and mi >= 60:
            raise BadRequest(f"{what}: {value!r} has {mi} minutes; use 0-59", field=field)
        if days is not None and h >= 24:
            raise BadRequest(f"{what}: {value!r} has {h} hours after days; use 0-23", field=field)
        n = int(days or 0) * 86400 + h * 3600 + mi * 60 + se
        if n > MAX_TIME_LIMIT:
            raise BadRequest(
                f"{what}: {value!r} is more than the longest time limit (365 days)", field=field
            )
    else:
        raise BadRequest(f"{what} must be seconds or HH:MM:SS (e.g. 01:30:00)", field=field)
    if n <= 0:
        raise BadRequest(f"{what} must be more than 0 seconds", field=field)
    return n


def _positive_int(value: Any, field: str) -> int:
    what = label(field)
    if isinstance(value, bool):
        raise BadRequest(f"{what} must be a whole number", field=field)
    if isinstance(value, str) and _DIGITS_RE.fullmatch(value):
        digits = value.lstrip("0") or "0"
        value = int(digits) if len(digits) <= 18 else MAX_COUNT + 1
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise BadRequest(f"{what} must be a whole number, not {value!r}", field=field)
    if value < 0:
        raise BadRequest(f"{what} must not be negative", field=field)
    if value > MAX_COUNT:
        raise BadRequest(f"{what} must be at most {MAX_COUNT}, not {value}", field=field)
    return value


_DIGITS_RE = re.compile(r"[0-9]+")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]*")


def normalize_resources(resources: Any, field: str = "resources") -> dict[str, Any]:
    """Check types and units of the shared vocabulary; returns a normalised copy.

    ``memory`` becomes bytes, ``time_limit`` seconds, ``cpus``/``gpus`` ints. Whether a backend
    supports a key, and whether a value fits the profile's ``max_resources``, is the spawner's call.
    """
    if resources is None:
        return {}
    if not isinstance(resources, dict):
        raise BadRequest(f"{label(field)} must be names and values (cpus=2)", field=field)
    out: dict[str, Any] = {}
    for key, value in resources.items():
        f = f"{field}.{key}"
        if key not in RESOURCE_KEYS:
            raise BadRequest(
                f"unknown resource {key!r}; known: {', '.join(RESOURCE_KEYS)}", field=f
            )
        if value is None or value == "":
            continue
        if key == "cpus":
            n = _positive_int(value, f)
            if n == 0:
                raise BadRequest(f"{label(f)} must be at least 1", field=f)
            out[key] = n
        elif key == "gpus":
            out[key] = _positive_int(value, f)
        elif key == "memory":
            out[key] = parse_memory(value, f)
        elif key == "time_limit":
            out[key] = parse_time_limit(value, f)
        elif key == "extra":
            if not isinstance(value, dict):
                raise BadRequest(f"{label(f)} must be names and values", field=f)
            out[key] = dict(value)
        else:  # partition, queue, account, qos, image: names, never free text
            if not isinstance(value, str) or not _NAME_RE.fullmatch(value) or len(value) > 253:
                raise BadRequest(
                    f"{label(f)}: {value!r} is not a valid name (letters, digits and . _ : / @ + -)",
                    field=f,
                )
            out[key] = value
    return out


def check_max_resources(
    resources: dict[str, Any], maximum: dict[str, Any], where: str = "the profile"
) -> None:
    """Refuse values above ``max_resources`` (numbers only)."""
    for key in ("cpus", "gpus", "memory", "time_limit"):
        if key in resources and key in maximum and maximum[key] is not None:
            limit = normalize_resources({key: maximum[key]})[key]
            if resources[key] > limit:
                shown = {
                    "memory": format_bytes,
                    "time_limit": format_duration,
                }.get(key, str)
                raise BadRequest(
                    f"{label(f'resources.{key}')}: {shown(resources[key])} is more than {where}"
                    f" allows ({shown(limit)})",
                    field=f"resources.{key}",
                )
