"""Job definitions: saved job requests with a schedule (docs/CONTRACT.md, "Job definitions").

A definition is the body of ``POST jobs`` plus ``schedule`` (5-field cron, :mod:`jupyter_jobs.cron`),
``timezone`` (IANA), ``active``, ``overlap`` (``skip`` | ``queue`` | ``allow``), ``retries``,
``retry_delay`` (seconds) and ``max_history``. It lives in the job root, so every server of the job
root sees, pauses, edits and deletes the same definitions::

    <job_root>/definitions/<id>/definition.json   the truth: atomic replace, ``revision`` +1 a change
    <job_root>/definitions/<id>/fired-<epoch>     O_EXCL: the one server that decided an occurrence
    <job_root>/definitions/<id>/start-<epoch>     O_EXCL: the one server that started a queued one
    <job_root>/definitions/<id>/retry-<job id>    O_EXCL: the one server that retried a failed run

Each run is an ordinary job (the same submit path as ``POST jobs``) with ``definition_id``,
``scheduled_for`` and ``attempt``.

Who fires: a backend whose :meth:`~jupyter_jobs.spawners.base.Spawner.schedule_capability` is
``"server"`` (the local backend) is fired here, by every running server of the job root at once
and exactly once (the markers). A backend that answers ``"engine"`` (SLURM's ``--begin``, a
Kubernetes CronJob) is handed each definition's next occurrence through
:meth:`~jupyter_jobs.spawners.base.Spawner.arrange_next_run` when it is created, edited or resumed,
and :meth:`~jupyter_jobs.spawners.base.Spawner.withdraw_runs` when it is paused, edited or deleted;
the engine fires it with no server running.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from datetime import datetime, timedelta, timezone
from typing import Any

from traitlets import Enum, Float, Integer
from traitlets.config import LoggingConfigurable

from . import cron, jobfiles
from .exceptions import BadRequest, Conflict, JobsError, NotFound, StorageFull
from .models import (
    ACTIVE_STATUSES,
    FAILED,
    LOST,
    PENDING,
    QUEUED,
    isoformat,
    new_job_id,
    parse_time,
    utcnow,
)
from .validation import REQUEST_KEYS, parse_request
from .wire import label, show

DEFINITIONS_DIR = "definitions"
DEFINITION = "definition.json"
FIRED_PREFIX = "fired-"
START_PREFIX = "start-"
RETRY_PREFIX = "retry-"
ID_RE = re.compile(r"^[0-9a-f]{32}$")
OVERLAP = ("skip", "queue", "allow")
#: the fields a definition adds to a job request, with their defaults
DEFAULTS: dict[str, Any] = {
    "timezone": "UTC",
    "active": True,
    "overlap": "skip",
    "retries": 0,
    "retry_delay": 60,
    "max_history": 100,
}
SCHEDULE_KEYS = frozenset({"schedule", *DEFAULTS})
#: (lowest, highest) of the whole-number fields
RANGES = {"retries": (0, 100), "retry_delay": (0, 7 * 86400), "max_history": (1, 10_000)}
#: kept by the server, never given by a request
META_KEYS = ("id", "created_at", "updated_at", "revision", "active_since")
#: the newest markers kept per definition (older ones are removed as new ones come)
KEEP_MARKERS = 200
#: ``Job.state`` key: why a run made ahead was withdrawn (its cancelled reason)
WITHDRAWN = "withdrawn_reason"


def _now() -> datetime:
    return utcnow()


def _storage(e: OSError) -> Exception:
    """A write to the job root that failed: 507 when the disk or quota is full."""
    if jobfiles.is_disk_full(e):
        return StorageFull(
            "no space left in the job root for the job definition (disk or quota full): free"
            " some space and try again"
        )
    return e


#: fields of ``POST jobs`` a definition refuses, with why: a recurring run cannot wait for fixed
#: jobs, and a sweep's runs would not be the definition's
NOT_FOR_DEFINITIONS = {
    "after": "a job definition's runs cannot wait for other jobs (Dependencies are for one job)",
    "when": "a job definition's runs cannot wait for other jobs (Dependencies are for one job)",
    "grid": "a job definition runs one job at a time, not a sweep",
    "parameter_sets": "a job definition runs one job at a time, not a sweep",
    "throttle": "a job definition runs one job at a time, not a sweep",
    "parameters_as": "a job definition runs one job at a time, not a sweep",
}


def job_keys() -> frozenset[str]:
    """The job fields of a definition: what ``POST jobs`` takes (read when called, so a field
    added to job requests is a definition field too), but :data:`NOT_FOR_DEFINITIONS`."""
    return frozenset(REQUEST_KEYS) - frozenset(NOT_FOR_DEFINITIONS)


def _whole(value: Any, key: str) -> int:
    lo, hi = RANGES[key]
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise BadRequest(f"{label(key)} must be a whole number, not {show(value)}", field=key)
    if not lo <= value <= hi:
        raise BadRequest(f"{label(key)} must be {lo}{cron.DASH}{hi}, not {value}", field=key)
    return value


def parse_definition(body: Any, root_dir: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check a definition (``POST job-definitions``, or a stored one with a ``PATCH`` applied):
    ``(job fields, schedule fields)``, both normalised. The job fields pass
    :func:`~jupyter_jobs.validation.parse_request` exactly as ``POST jobs`` does."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    jobs = job_keys()
    for key in sorted(set(body) & set(NOT_FOR_DEFINITIONS)):
        if body[key] not in (None, [], {}):
            raise BadRequest(f"{label(key)}: {NOT_FOR_DEFINITIONS[key]}", field=key)
    body = {k: v for k, v in body.items() if k not in NOT_FOR_DEFINITIONS}
    unknown = set(body) - jobs - SCHEDULE_KEYS
    if unknown:
        known = sorted(jobs | SCHEDULE_KEYS)
        raise BadRequest(
            f"unknown field(s) {', '.join(sorted(map(repr, unknown)))}; known: {', '.join(known)}",
            field=sorted(unknown)[0],
        )
    if body.get("schedule") is None:
        raise BadRequest(
            "Schedule is missing: give a 5-field cron schedule such as '0 6 * * *'",
            field="schedule",
        )
    parsed = cron.parse(body["schedule"])
    sched: dict[str, Any] = {"schedule": parsed.text}
    for key, default in DEFAULTS.items():
        value = body.get(key)
        sched[key] = default if value is None else value
    cron.timezone_of(sched["timezone"])
    if not isinstance(sched["active"], bool):
        raise BadRequest(f"{label('active')} must be true or false", field="active")
    if sched["overlap"] not in OVERLAP:
        raise BadRequest(
            f"{label('overlap')}: {show(sched['overlap'])} is not a policy; use skip (do not start"
            " while the previous run goes on), queue (start when it ends) or allow",
            field="overlap",
        )
    for key in RANGES:
        sched[key] = _whole(sched[key], key)
    # every check of POST jobs, once (null path or command refused as there), then kept without
    # the nulls (= the defaults)
    req = parse_request({k: v for k, v in body.items() if k in jobs}, root_dir)
    job = {k: v for k, v in body.items() if k in jobs and v is not None}
    job["kind"] = req.kind
    job["name"] = req.name
    if req.path is not None:
        job["path"] = req.path
    return job, sched


class JobDefinitions(LoggingConfigurable):
    """The job root's definitions, and the firing of those the server fires (local backend)."""

    catch_up = Enum(
        ["latest", "skip"],
        "latest",
        help="""What a server does at start (or after any pause of its own, such as a suspended
        host) with occurrences of an active definition that passed while no server of the job root
        ran: ``latest`` runs the most recent missed occurrence once (whatever the number missed);
        ``skip`` runs none and waits for the next. An occurrence is missed when it is more than
        ``late_after`` late. Occurrences while a definition was paused are
        never caught up.""",
    ).tag(config=True)

    check_interval = Float(
        5.0,
        help="""Seconds between two looks at the definitions (re-read from the job root, so a
        pause, an edit or a deletion on another server counts at the next look) and at their due
        occurrences. A run starts within this of its time.""",
    ).tag(config=True)

    late_after = Float(
        60.0,
        help="""Seconds after which an occurrence that was not fired counts as missed (and
        ``catch_up`` decides); one found sooner (a look that came late) is simply fired. At least
        twice ``check_interval``.""",
    ).tag(config=True)

    keep_markers = Integer(
        KEEP_MARKERS, help="Occurrence markers kept per definition (the newest)."
    ).tag(config=True)

    def __init__(self, *, manager: Any, **kw: Any):
        super().__init__(**kw)
        self.manager = manager
        self.dir = os.path.join(manager.job_root, DEFINITIONS_DIR)
        #: per definition: the last occurrence this server considered (epoch seconds)
        self._cursor: dict[str, float] = {}
        self._task: asyncio.Task | None = None
        self._last_tick: float | None = None

    # ------------------------------------------------------------------ files

    def def_dir(self, definition_id: str) -> str:
        return os.path.join(self.dir, definition_id)

    def ids(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.dir) if ID_RE.match(n))
        except FileNotFoundError:
            return []

    def read(self, definition_id: str) -> dict[str, Any] | None:
        if not ID_RE.match(definition_id):
            return None
        data = jobfiles.read_json(os.path.join(self.def_dir(definition_id), DEFINITION))
        return data if isinstance(data, dict) and data.get("id") == definition_id else None

    def _write(self, record: dict[str, Any]) -> None:
        try:
            jobfiles.write_json(
                os.path.join(self.def_dir(record["id"]), DEFINITION), record, fsync=True
            )
        except OSError as e:
            raise _storage(e) from e

    def _get(self, definition_id: str) -> dict[str, Any]:
        record = self.read(definition_id)
        if record is None:
            raise NotFound(f"no job definition {show(definition_id)}", field="definition_id")
        return record

    def fired_epochs(self, definition_id: str) -> list[int]:
        """The occurrences (epoch seconds) of the definition's ``fired-`` markers, oldest first
        (names only: nothing is read)."""
        try:
            names = os.listdir(self.def_dir(definition_id))
        except FileNotFoundError:
            return []
        suffixes = (n[len(FIRED_PREFIX) :] for n in names if n.startswith(FIRED_PREFIX))
        return sorted(int(x) for x in suffixes if x.isdigit())

    # ------------------------------------------------------------------ the API

    def spawner_of(self, record: dict[str, Any]) -> Any:
        return self.manager.get_spawner(record.get("backend"))

    def capability(self, record: dict[str, Any]) -> str:
        try:
            return str(self.spawner_of(record).schedule_capability())
        except JobsError:
            return "server"

    def public(self, record: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
        """The definition's JSON (the ``JobDefinition`` of openapi.json)."""
        now = now or _now()
        out = {k: v for k, v in record.items() if k != "active_since"}
        out["schedule_description"] = cron.describe(record["schedule"])
        nxt = None
        if record.get("active"):
            nxt = cron.next_after(
                cron.parse(record["schedule"]), cron.timezone_of(record["timezone"]), now
            )
        out["next_run_at"] = isoformat(nxt)
        out["fired_by"] = self.capability(record)
        page = self.manager.store.page(definition=[record["id"]], limit=1)
        out["run_count"] = page.total
        last = page.records[0] if page.records else None
        if last is not None:
            live = self.manager.active.get(last["id"])
            status = live.status if live is not None else last["status"]
            out["last_run"] = {"id": last["id"], "status": status, "at": last["created_at"]}
        else:
            out["last_run"] = None
        out["last_skipped"] = None
        for epoch in reversed(self.fired_epochs(record["id"])[-50:]):  # the newest first
            path = os.path.join(self.def_dir(record["id"]), f"{FIRED_PREFIX}{epoch}")
            data = jobfiles.read_json(path) or {}
            if data.get("skipped") or data.get("error"):
                out["last_skipped"] = {
                    "at": isoformat(datetime.fromtimestamp(epoch, timezone.utc)),
                    "reason": data.get("skipped") or data.get("error"),
                }
                break
            if data.get("job_id") or data.get("queued"):
                break
        return out

    def list_all(self) -> list[dict[str, Any]]:
        now = _now()
        records = [r for r in map(self.read, self.ids()) if r is not None]
        records.sort(key=lambda r: r.get("created_at") or "", reverse=True)
        return [self.public(r, now) for r in records]

    def get(self, definition_id: str) -> dict[str, Any]:
        return self.public(self._get(definition_id))

    async def create(self, body: Any) -> dict[str, Any]:
        job, sched = parse_definition(body, self.manager.root_dir)
        await self._check_backend(job)
        now = isoformat(_now())
        record = {
            "id": new_job_id(),
            **job,
            **sched,
            "created_at": now,
            "updated_at": now,
            "revision": 1,
            "active_since": now,
        }
        tmp = os.path.join(self.dir, f".new-{record['id']}")
        try:
            os.makedirs(self.dir, mode=0o700, exist_ok=True)
            os.makedirs(tmp, mode=0o700)
            jobfiles.write_json(os.path.join(tmp, DEFINITION), record, fsync=True)
            os.rename(tmp, self.def_dir(record["id"]))  # appears whole
        except BaseException as e:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(e, OSError):
                raise _storage(e) from e
            raise
        self.log.info(
            "jupyter-jobs: job definition %s created (%s, %s)",
            record["id"],
            record["schedule"],
            record["timezone"],
        )
        await self._arrange(record, withdraw=False)
        return self.public(record)

    async def _check_backend(self, job: dict[str, Any]) -> None:
        """The backend, profile and resources, checked as a submit checks them (nothing runs)."""
        spawner = self.manager.get_spawner(job.get("backend"))
        profile = spawner.resolve_profile(job.get("profile"))
        resources = spawner.validate_resources(profile, job.get("resources"))
        await spawner.check_request(resources)

    async def update(self, definition_id: str, patch: Any) -> dict[str, Any]:
        """``PATCH``: the given fields replace the stored ones (null: back to the default); an
        optional ``revision`` must be the stored one (409 otherwise: someone changed it first)."""
        record = self._get(definition_id)
        if not isinstance(patch, dict):
            raise BadRequest("the request body must be a JSON object of the fields to change")
        patch = dict(patch)
        given = "revision" in patch
        expected = patch.pop("revision", None)
        if given and (isinstance(expected, bool) or not isinstance(expected, int) or expected < 1):
            raise BadRequest(
                f"revision must be the whole number of an earlier answer, not {show(expected)}",
                field="revision",
            )
        if expected is not None and expected != record["revision"]:
            raise Conflict(
                f"the job definition was changed meanwhile (revision {record['revision']}, not"
                f" {show(expected)}): reload it and try again",
                field="revision",
            )
        for key in META_KEYS:
            if key in patch:
                raise BadRequest(f"{key} is kept by the server and cannot be changed", field=key)
        merged = {k: v for k, v in record.items() if k not in META_KEYS and k != "kind"}
        if merged.get("name") == self._auto_name(record):
            merged.pop("name")  # named after its file: follows a new path
        if patch.get("command") is not None:
            merged.pop("path", None)
        if patch.get("path") is not None:
            merged.pop("command", None)
        merged.update(patch)
        job, sched = parse_definition(merged, self.manager.root_dir)
        await self._check_backend(job)
        new = {
            "id": record["id"],
            **job,
            **sched,
            "created_at": record["created_at"],
            "updated_at": isoformat(_now()),
            "revision": int(record["revision"]) + 1,
            "active_since": record.get("active_since") or record["created_at"],
        }
        timing = ("schedule", "timezone", "active")
        if any(new[k] != record.get(k) for k in timing) and new["active"]:
            # resumed or rescheduled: what passed before now is not "missed"
            new["active_since"] = new["updated_at"]
            self._cursor.pop(definition_id, None)
        if self.read(definition_id) is None:
            raise NotFound(f"no job definition {show(definition_id)}", field="definition_id")
        self._write(new)
        self.log.info(
            "jupyter-jobs: job definition %s changed (revision %d)", definition_id, new["revision"]
        )
        await self._arrange(
            new,
            withdraw=True,
            why="the schedule was changed" if new["active"] else "the schedule was paused",
        )
        return self.public(new)

    @staticmethod
    def _auto_name(record: dict[str, Any]) -> str | None:
        if record.get("path"):
            return os.path.basename(record["path"])
        return None

    async def delete(self, definition_id: str) -> None:
        """Remove the definition (its runs stay: ordinary jobs, deleted on their own)."""
        record = self._get(definition_id)
        trash = os.path.join(self.dir, f".trash-{definition_id}-{os.urandom(4).hex()}")
        try:
            os.rename(self.def_dir(definition_id), trash)
        except FileNotFoundError:
            raise NotFound(
                f"no job definition {show(definition_id)}", field="definition_id"
            ) from None
        shutil.rmtree(trash, ignore_errors=True)
        self._cursor.pop(definition_id, None)
        self.log.info("jupyter-jobs: job definition %s deleted", definition_id)
        record["active"] = False
        await self._withdraw(record, "the schedule was deleted")

    async def run_now(self, definition_id: str) -> Any:
        """``POST job-definitions/{id}/run``: one run now, whatever the schedule, the overlap
        policy and whether the definition is paused say."""
        return await self._submit(self._get(definition_id), scheduled_for=None, attempt=1)

    # ------------------------------------------------------------------ engine-fired backends

    async def _arrange(self, record: dict[str, Any], *, withdraw: bool, why: str = "") -> None:
        if self.capability(record) != "engine":
            return
        if withdraw:
            await self._withdraw(record, why)
        if not record.get("active"):
            return
        nxt = cron.next_after(
            cron.parse(record["schedule"]), cron.timezone_of(record["timezone"]), _now()
        )
        if nxt is None:
            return
        spawner = self.spawner_of(record)
        if getattr(spawner, "runs_ahead", False):
            await self._arrange_ahead(record, nxt)
        else:
            await spawner.arrange_next_run(self.public(record), nxt)

    async def _arrange_ahead(self, record: dict[str, Any], occurrence: datetime) -> None:
        """A backend whose runs are made ahead (SLURM's ``--begin``): the run of ``occurrence`` is
        an ordinary job now (directory, record, index), handed to the engine, which holds it until
        its time; when it starts it makes the one after it (:mod:`jupyter_jobs.schedule_next`).
        Once per occurrence: the ``fired-<epoch>`` marker (``O_EXCL``, shared with the runs'
        chain) names the revision it was made for and the server's root (to pin the input again)."""
        marker = os.path.join(
            self.def_dir(record["id"]), f"{FIRED_PREFIX}{int(occurrence.timestamp())}"
        )
        content: dict[str, Any] = {
            "by": self.manager.server_id,
            "at": isoformat(_now()),
            "revision": record["revision"],
            "root_dir": os.path.abspath(self.manager.root_dir),
        }
        try:
            if not jobfiles.create_exclusive(marker, content):
                return  # arranged already (another server, or the run before it)
        except FileNotFoundError:
            return  # deleted meanwhile
        await self._first_attempt(record, occurrence, content, "could not be arranged")
        jobfiles.write_json(marker, content)

    async def _keep_chain(self, record: dict[str, Any], now: datetime) -> None:
        """An active definition fired ahead (SLURM) with no run waiting or running in view and
        its next occurrence not arranged (the chain broke: sbatch refused the next run inside the
        job, the cluster was down when it was created): arrange the next one (once: its
        marker)."""
        if not getattr(self.spawner_of(record), "runs_ahead", False):
            return
        self._prune_markers(record["id"])  # the chain's markers, one per run
        if self.active_runs(record["id"]):
            return
        nxt = cron.next_after(
            cron.parse(record["schedule"]), cron.timezone_of(record["timezone"]), now
        )
        if nxt is None or os.path.exists(
            os.path.join(self.def_dir(record["id"]), f"{FIRED_PREFIX}{int(nxt.timestamp())}")
        ):
            return
        self.log.info(
            "jupyter-jobs: definition %s: no run waits in the engine; arranging %s",
            record["id"],
            isoformat(nxt),
        )
        await self._arrange_ahead(record, nxt)

    async def _withdraw(self, record: dict[str, Any], why: str = "") -> None:
        if self.capability(record) != "engine":
            return
        if getattr(self.spawner_of(record), "runs_ahead", False):
            await self._cancel_waiting_runs(record, why or "the schedule was changed")
        try:
            await self.spawner_of(record).withdraw_runs(record)
        except JobsError as e:
            self.log.warning(
                "jupyter-jobs: withdrawing the runs of definition %s: %s", record["id"], e.message
            )

    async def _cancel_waiting_runs(self, record: dict[str, Any], why: str) -> None:
        """The definition's runs made ahead that have not started: cancelled (the engine lets
        them go: scancel), with ``why``; their occurrences' markers removed, so the run arranged
        next may take the same occurrence."""
        page = self.manager.store.page(definition=[record["id"]], limit=50)
        for r in page.records:
            retry = int(r.get("attempt") or 1) > 1  # a retry made ahead (SLURM) waits too
            if r["status"] not in (PENDING, QUEUED) or not (r.get("scheduled_for") or retry):
                continue
            try:
                await self.manager.cancel(r["id"])
            except JobsError as e:
                self.log.warning("jupyter-jobs: withdrawing run %s: %s", r["id"], e.message)
                continue
            live = self.manager.active.get(r["id"])
            if live is not None and self.manager.mine(live):
                live.state[WITHDRAWN] = why
            occurrence = parse_time(r.get("scheduled_for"))
            if occurrence is not None and not retry:  # a retry's occurrence was decided
                try:
                    os.unlink(
                        os.path.join(
                            self.def_dir(record["id"]),
                            f"{FIRED_PREFIX}{int(occurrence.timestamp())}",
                        )
                    )
                except OSError:
                    pass

    # ------------------------------------------------------------------ firing (server-fired)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._loop())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("jupyter-jobs: firing job definitions failed")
            await asyncio.sleep(self.check_interval)

    @property
    def grace(self) -> float:
        """How late an occurrence may be found and still count as due, not missed."""
        return max(self.late_after, 2 * self.check_interval)

    async def tick(self, now: datetime | None = None) -> None:
        """One look at every definition: fire what is due, start queued runs, retry failed
        runs, trim the history."""
        now = now or _now()
        for definition_id in self.ids():
            record = self.read(definition_id)
            if record is None:
                self._cursor.pop(definition_id, None)
                continue
            try:
                if self.capability(record) == "server":
                    if record.get("active"):
                        await self._fire_due(record, now)
                    await self._start_queued(record)
                    await self._retry_failed(record, now)
                elif record.get("active"):
                    await self._keep_chain(record, now)
                engine_tick = getattr(self.spawner_of(record), "definition_tick", None)
                if engine_tick is not None:  # a Kubernetes CronJob: its runs recorded
                    await engine_tick(record, self.manager)
                await self._trim(record)
            except (OSError, JobsError) as e:
                self.log.warning(
                    "jupyter-jobs: job definition %s: %s",
                    definition_id,
                    getattr(e, "message", None) or e,
                )

    def _baseline(self, record: dict[str, Any]) -> float:
        """Epoch seconds after which occurrences are this definition's to fire."""
        since = parse_time(record.get("active_since") or record["created_at"])
        base = since.timestamp() if since else 0.0
        fired = self.fired_epochs(record["id"])
        if fired:
            base = max(base, float(fired[-1]))
        return max(base, self._cursor.get(record["id"], 0.0))

    def latest_due(self, record: dict[str, Any], now: datetime) -> datetime | None:
        """The newest occurrence in (baseline, now], or None."""
        expr = cron.parse(record["schedule"])
        tz = cron.timezone_of(record["timezone"])
        base = datetime.fromtimestamp(self._baseline(record), timezone.utc)
        for window in (timedelta(hours=2), timedelta(days=2), timedelta(days=400), None):
            start = base if window is None else max(base, now - window)
            latest = None
            t = start
            while (nxt := cron.next_after(expr, tz, t)) is not None and nxt <= now:
                latest = t = nxt
            if latest is not None or start == base:
                return latest
        return None

    async def _fire_due(self, record: dict[str, Any], now: datetime) -> None:
        occurrence = self.latest_due(record, now)
        if occurrence is None:
            return
        epoch = int(occurrence.timestamp())
        self._cursor[record["id"]] = float(epoch)
        late = (now - occurrence).total_seconds()
        if late > self.grace and self.catch_up == "skip":
            self.log.info(
                "jupyter-jobs: definition %s: the run of %s was missed (no server ran); not"
                " caught up (JobDefinitions.catch_up = 'skip')",
                record["id"],
                isoformat(occurrence),
            )
            return
        marker = os.path.join(self.def_dir(record["id"]), f"{FIRED_PREFIX}{epoch}")
        try:
            mine = jobfiles.create_exclusive(marker, {"by": self.manager.server_id})
        except FileNotFoundError:
            return  # deleted meanwhile
        if not mine:
            return  # another server of the job root has this occurrence
        content: dict[str, Any] = {"by": self.manager.server_id, "at": isoformat(_now())}
        if late > self.grace:
            content["caught_up"] = True
        active = self.active_runs(record["id"])
        if active and record["overlap"] != "allow":
            if record["overlap"] == "queue" and not self._queued(record["id"]):
                content["queued"] = True
            else:
                why = "a run is already waiting" if record["overlap"] == "queue" else "run"
                content["skipped"] = (
                    f"skipped: the previous run ({active[0].id[:8]}) was still {active[0].status}"
                    if why == "run"
                    else f"skipped: {why} for the previous run ({active[0].id[:8]}) to end"
                )
                self.log.info(
                    "jupyter-jobs: definition %s: the run of %s %s",
                    record["id"],
                    isoformat(occurrence),
                    content["skipped"],
                )
        else:
            await self._first_attempt(record, occurrence, content, "could not start")
        jobfiles.write_json(marker, content)
        self._prune_markers(record["id"])

    def _started(self, definition_id: str, suffix: str) -> bool:
        return os.path.exists(os.path.join(self.def_dir(definition_id), f"{START_PREFIX}{suffix}"))

    def active_runs(self, definition_id: str) -> list[Any]:
        return sorted(
            (
                j
                for j in self.manager.active.values()
                if j.definition_id == definition_id and j.status in ACTIVE_STATUSES
            ),
            key=lambda j: j.created_at,
        )

    def _queued(self, definition_id: str) -> list[str]:
        """The newest occurrences decided ``queued`` and not started yet, oldest first."""
        out = []
        for epoch in self.fired_epochs(definition_id)[-20:]:
            path = os.path.join(self.def_dir(definition_id), f"{FIRED_PREFIX}{epoch}")
            data = jobfiles.read_json(path) or {}
            if data.get("queued") and not self._started(definition_id, str(epoch)):
                out.append(str(epoch))
        return out

    async def _start_queued(self, record: dict[str, Any]) -> None:
        if record.get("overlap") != "queue" or self.active_runs(record["id"]):
            return
        for suffix in self._queued(record["id"]):
            path = os.path.join(self.def_dir(record["id"]), f"{START_PREFIX}{suffix}")
            if not jobfiles.create_exclusive(path, {"by": self.manager.server_id}):
                continue
            occurrence = datetime.fromtimestamp(int(suffix), timezone.utc)
            try:
                job = await self._submit(record, scheduled_for=occurrence, attempt=1)
                jobfiles.write_json(path, {"by": self.manager.server_id, "job_id": job.id})
            except JobsError as e:
                jobfiles.write_json(path, {"error": e.message})
            return  # one at a time: the next waits for this one

    async def _retry_failed(self, record: dict[str, Any], now: datetime) -> None:
        retries = int(record.get("retries") or 0)
        if not retries:
            return
        page = self.manager.store.page(definition=[record["id"]], limit=20)
        for r in page.records:
            attempt = int(r.get("attempt") or 1)
            if r["status"] not in (FAILED, LOST) or attempt > retries:
                continue
            ended = parse_time(r.get("finished_at")) or parse_time(r["created_at"])
            if ended is None or (now - ended).total_seconds() < float(record["retry_delay"]):
                continue
            if (now - ended).total_seconds() > 86400 + float(record["retry_delay"]):
                continue  # an old failure (a server that was down): not retried now
            path = os.path.join(self.def_dir(record["id"]), f"{RETRY_PREFIX}{r['id']}")
            if not jobfiles.create_exclusive(path, {"by": self.manager.server_id}):
                continue
            scheduled = parse_time(r.get("scheduled_for"))
            try:
                job = await self._submit(record, scheduled_for=scheduled, attempt=attempt + 1)
                jobfiles.write_json(path, {"by": self.manager.server_id, "job_id": job.id})
                self.log.info(
                    "jupyter-jobs: definition %s: run %s %s; retry %d of %d is %s",
                    record["id"],
                    r["id"],
                    r["status"],
                    attempt,
                    retries,
                    job.id,
                )
            except JobsError as e:
                jobfiles.write_json(path, {"error": e.message})

    async def _trim(self, record: dict[str, Any]) -> None:
        """Delete the oldest ended runs beyond ``max_history`` (any server may: a deletion that
        another server made first is no error)."""
        keep = int(record.get("max_history") or DEFAULTS["max_history"])
        if self.manager.store.page(definition=[record["id"]], limit=1).total <= keep:
            return
        page = self.manager.store.page(definition=[record["id"]], limit=min(keep + 100, 10_000))
        ended = [r for r in page.records if r["status"] not in ACTIVE_STATUSES]
        for r in ended[keep:]:
            try:
                await self.manager.delete(r["id"])
            except (JobsError, OSError):
                continue

    def _prune_markers(self, definition_id: str) -> None:
        fired = [str(e) for e in self.fired_epochs(definition_id)]
        for suffix in fired[: max(0, len(fired) - self.keep_markers)]:
            for prefix in (FIRED_PREFIX, START_PREFIX):
                try:
                    os.unlink(os.path.join(self.def_dir(definition_id), f"{prefix}{suffix}"))
                except OSError:
                    pass

    async def _first_attempt(
        self,
        record: dict[str, Any],
        occurrence: datetime,
        content: dict[str, Any],
        failed: str,
    ) -> None:
        """Submit the first attempt of ``occurrence``'s run; its job id, or the error, into the
        marker's ``content`` (a refusal logged as the run that ``failed``)."""
        try:
            job = await self._submit(record, scheduled_for=occurrence, attempt=1)
            content["job_id"] = job.id
        except JobsError as e:
            content["error"] = f"could not start: {e.message}"
            self.log.warning(
                "jupyter-jobs: definition %s: the run of %s %s: %s",
                record["id"],
                isoformat(occurrence),
                failed,
                e.message,
            )

    async def _submit(
        self, record: dict[str, Any], *, scheduled_for: datetime | None, attempt: int
    ) -> Any:
        """One run: the definition's job fields through the path ``POST jobs`` takes."""
        body = {k: record[k] for k in job_keys() if k in record}
        if record.get("name") == self._auto_name(record):
            body.pop("name", None)
        req = parse_request(body, self.manager.root_dir)
        return await self.manager.submit(
            req,
            definition_id=record["id"],
            scheduled_for=isoformat(scheduled_for),
            attempt=attempt,
        )
