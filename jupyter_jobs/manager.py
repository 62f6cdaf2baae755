"""JobManager: owns the jobs of this server and keeps every other server's jobs in view.

Handlers call it once per request; spawners report to it (``poll`` answers and pushed ``notify``
updates). Several servers may share one job root (on one host, or on many over a shared
filesystem): each job has one owner (:mod:`jupyter_jobs.ownership`), and only the owner starts,
polls, cancels and writes it. Every server sees every job: a sync loop reads the job root
(:mod:`jupyter_jobs.jobroot`) once per :attr:`JobManager.sync_interval`, indexes new jobs, drops
deleted ones, re-reads the records of other servers' active jobs, acts on cancel requests, and takes
over the jobs of servers whose lease lapsed. The lifecycle is written down in docs/CONTRACT.md.
"""

from __future__ import annotations

import asyncio
import bisect
import os
import random
import sqlite3
import time
from collections import deque
from typing import Any, Callable

from traitlets import Bool, Dict, Float, Instance, Int, List, Unicode, default
from traitlets.config import LoggingConfigurable

from . import dependencies, efficiency, jobfiles, notify, pins, results, sweeps
from .commands import build_argv
from .definitions import JobDefinitions
from .exceptions import BadRequest, Conflict, EngineUnavailable, JobsError, NotFound
from .jobroot import JobRoot, StorageFull
from .kernel_jobs import KernelJobsMixin
from .models import (
    CANCELLED,
    CANCELLING,
    FAILED,
    FINAL_STATUSES,
    PENDING,
    QUEUED,
    RUNNING,
    Job,
    JobUpdate,
    new_job_id,
    utcnow,
)
from .ownership import HostSlots, Leases
from .spawners.base import LogReader, Spawner
from .spawners.factory import SpawnerFactory
from .store import JobStore
from .validation import JobRequest, parse_request

Emit = Callable[[str, Job], None]
#: what clients see of a profile (admin-only keys such as interpreter paths stay on the server)
PUBLIC_PROFILE_KEYS = (
    "name",
    "display_name",
    "description",
    "resources",
    "max_resources",
    "kernels",
)
#: fields whose change is worth an event (log_size alone is not: it changes all the time)
EVENT_FIELDS = (
    "status",
    "exit_code",
    "reason",
    "host",
    "backend_ref",
    "progress",
    "expected_start",
)


def _request_job(
    req: JobRequest,
    spawner: Spawner,
    profile: dict[str, Any],
    resources: dict[str, Any],
    **fields: Any,
) -> Job:
    """A new job of a checked request (a job's or a sweep child's): what the request says to
    run, where, with what; ``fields`` the rest (name, parameters, definition, sweep, ...)."""
    return Job(
        id=new_job_id(),
        kind=req.kind,
        backend=spawner.name,
        profile=profile["name"],
        path=req.path,
        command=req.command,
        args=req.args,
        env=req.env,
        cwd=req.cwd,
        resources=resources,
        output_formats=list(req.output_formats),
        report=dict(req.report),
        notify=req.notify,
        extra_files=[rel for rel, _ in req.extra_files],
        **fields,
    )


class JobManager(KernelJobsMixin, LoggingConfigurable):
    """Jobs across all backends."""

    default_backend = Unicode(
        "local",
        help="Backend used when a request names none, e.g. ``c.JobManager.default_backend = 'slurm'``.",
    ).tag(config=True)

    enabled_backends = List(
        Unicode(),
        help="""Backends to load (names of ``jupyter_jobs.spawners`` entry points). Default: all
        installed. A backend whose engine is missing is still listed, as unavailable with the reason.
        Example: ``c.JobManager.enabled_backends = ['local', 'slurm']``.""",
    ).tag(config=True)

    cancel_grace_period = Float(
        5.0,
        help="""Seconds between SIGTERM and SIGKILL when a job is cancelled (or hits a limit).""",
    ).tag(config=True)

    usage_interval = Float(
        1.0, help="Seconds between two CPU/memory samples of a running job."
    ).tag(config=True)

    output_dir = Unicode(
        "job-outputs",
        help="""Folder (relative to the server's root) that receives job outputs such as executed
        notebooks: ``<output_dir>/<notebook>-<job id>.ipynb``.""",
    ).tag(config=True)

    max_backoff = Float(
        30.0, help="Longest wait, in seconds, between polls of an engine that does not answer."
    ).tag(config=True)

    spawner_factory = Instance(SpawnerFactory)

    @default("spawner_factory")
    def _default_factory(self) -> SpawnerFactory:
        return SpawnerFactory(parent=self)

    extra_env = Dict(help="Environment variables added to every job (the request's env wins).").tag(
        config=True
    )

    sync_interval = Float(
        1.0,
        help="""Seconds between two looks at the job root for what other servers of it did (new,
        changed and deleted jobs, cancel requests, lapsed leases). A job submitted on another
        server appears here within this interval (plus the owner's poll interval for a change of
        state). Stretched automatically when one look takes long (a huge job root on a slow
        filesystem).""",
    ).tag(config=True)

    takes_over = Bool(
        True,
        help="""Whether this manager takes over the jobs of servers whose lease lapsed (False for
        the short-lived manager of a standalone kernel client).""",
    ).tag(config=True)

    fires_definitions = Bool(
        True,
        help="""Whether this manager fires the job definitions of backends whose schedules need a
        running server (False for the short-lived manager of a standalone kernel client).""",
    ).tag(config=True)

    lease_timeout = Float(
        20.0,
        help="""Seconds after which a server on another host that stopped renewing its lease is
        taken for dead and its jobs are taken over (on this host a dead server is seen at once).
        Leases are renewed every quarter of this.""",
    ).tag(config=True)

    max_sweep_children = Int(
        sweeps.DEFAULT_MAX_CHILDREN,
        help="""The most runs one sweep (a grid or a list of parameter sets) may have; a larger
        one is refused with a 400.""",
    ).tag(config=True)

    def __init__(self, *, store: JobStore, job_root: str, root_dir: str, emit: Emit | None, **kw):
        super().__init__(**kw)
        self.store = store
        self.job_root = os.path.abspath(job_root)
        self.root_dir = os.path.realpath(root_dir)
        self.emit = emit or (lambda action, job: None)
        os.makedirs(self.job_root, mode=0o700, exist_ok=True)
        self.root = JobRoot(self.job_root)
        self.leases = Leases(self.job_root, lease_timeout=self.lease_timeout)
        #: this server's lease id: the owner named in the records of the jobs it owns
        self.server_id = self.leases.server_id
        self.spawners: dict[str, Spawner] = {}
        self.load_errors: dict[str, str] = {}
        #: active jobs in view, by id: this server's and the other servers' (final ones are in
        #: the store)
        self.active: dict[str, Job] = {}
        #: this server's jobs that wait for a start, per backend, oldest first
        self.waiting: dict[str, deque[str]] = {}
        self.slots: dict[str, HostSlots] = {}
        self._known: set[str] = set()  # ids in the index
        self._tasks: list[asyncio.Task] = []
        self._background: set[asyncio.Future] = set()
        self._started = False
        self._engine_down: dict[str, str] = {}
        self._starting: set[str] = set()
        self._cancel_after_start: set[str] = set()
        self._unsaved: dict[str, Job] = {}  # changes a full disk kept from being written
        #: kernel jobs taken over that the server's kernel manager is to take up again
        self.kernels_to_resume: list[str] = []
        self._listeners: list[Callable[[str, Job], None]] = []
        self._next_scan = 0.0
        self._next_renew = 0.0
        #: e-mail and webhooks when jobs end (:mod:`jupyter_jobs.notify`; ``c.Notifier.…``)
        self.notifier = notify.Notifier(parent=self)
        #: job definitions (schedules) of the job root, and their firing (docs/CONTRACT.md)
        self.definitions = JobDefinitions(parent=self, manager=self)

    # ------------------------------------------------------------------ lifecycle

    def load_spawners(self) -> None:
        names = self.enabled_backends or self.spawner_factory.names()
        for name in names:
            try:
                cls = self.spawner_factory.get_class(name)
                spawner = cls(parent=self)
            except Exception as e:  # a broken third-party plugin must not stop the server
                self.load_errors[name] = f"{type(e).__name__}: {e}"
                self.log.warning("jupyter-jobs: backend %s not loaded: %s", name, e)
                continue
            if not spawner.enabled:
                continue
            spawner.job_root = self.job_root
            spawner.notify = self.apply_update
            self.spawners[name] = spawner
            self.waiting[name] = deque()
            self.slots[name] = HostSlots(self.job_root, name)

    async def start(self) -> None:
        """Take the lease, start the spawners, catch up with the job root, take on the jobs of
        servers that are gone, start polling. Runs once; later calls return."""
        if self._started:
            return
        self._started = True
        self.leases.renew()
        self.leases.prune()
        self.root.sweep()
        if not self.spawners:
            self.load_spawners()
        for name, spawner in list(self.spawners.items()):
            try:
                await spawner.start()
            except Exception as e:
                self.log.warning("jupyter-jobs: backend %s failed to start: %s", name, e)
                self.load_errors[name] = str(e)
        self._export_index()
        self._known = self.store.ids()
        await self.sync(emit=False)
        await self.reattach_all()
        for name in self.spawners:
            self._tasks.append(asyncio.ensure_future(self._poll_loop(name)))
        self._tasks.append(asyncio.ensure_future(self._sync_loop()))
        if self.fires_definitions:
            await self.definitions.start()

    async def stop(self) -> None:
        await self.definitions.stop()
        try:
            await self.cancel_kernel_jobs("the Jupyter server stopped")
        except Exception:
            self.log.exception("jupyter-jobs: cancelling kernel jobs at stop failed")
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
        for spawner in self.spawners.values():
            try:
                await spawner.stop()
            except Exception as e:
                self.log.warning("jupyter-jobs: stopping %s: %s", spawner.name, e)
        # our lease goes: another server of the job root takes our jobs on at once
        self.leases.release()
        self._started = False

    def _export_index(self) -> None:
        """Jobs of a job root from before job records existed (the database was the truth): give
        each its ``job.json``, once. The old database is the index itself, or ``<job_root>/jobs.db``
        when the index now lives on local disk (a job root on a network filesystem)."""
        if self.store.get_meta("exported") == "1":
            return
        legacy = os.path.join(self.job_root, "jobs.db")
        jobs = self.store.all()
        if os.path.abspath(self.store.path) != legacy and os.path.exists(legacy):
            try:
                old = JobStore(f"file:{legacy}?mode=ro&immutable=1", read_only=True)
                try:
                    jobs += old.all()
                finally:
                    old.close()
            except (sqlite3.Error, OSError) as e:
                self.log.warning("jupyter-jobs: cannot read the old job database %s: %s", legacy, e)
        count = 0
        for job in jobs:
            job.job_dir = self.root.job_dir(job.id)
            if os.path.isdir(job.job_dir) and not os.path.exists(
                os.path.join(job.job_dir, jobfiles.RECORD)
            ):
                self.root.write_record(job)
                count += 1
        self.store.set_meta("exported", "1")
        if count:
            self.log.info(
                "jupyter-jobs: wrote job records for %d job(s) of the old database", count
            )

    def mine(self, job: Job) -> bool:
        return job.owner == self.server_id

    async def reattach_all(self) -> None:
        """Take on every active job whose owner is gone (at start: the jobs of the server that ran
        here before), in the order they were created."""
        for job in self.store.active():
            self.active.setdefault(job.id, job)
        jobs = sorted(self.active.values(), key=lambda j: j.created_at)
        taken = 0
        for job in jobs:
            if self.mine(job) or (self.takes_over and not self.leases.alive(job.owner)):
                if await self._take_over(job):
                    taken += 1
        for name in self.spawners:
            await self._start_waiting(name)
        self.log.info(
            "jupyter-jobs: server %s: %d active job(s) in view, %d taken on",
            self.server_id,
            len(self.active),
            taken,
        )

    async def _take_over(self, job: Job) -> bool:
        """Become the owner of ``job`` (its owner is gone) and carry on with it."""
        spawner = self.spawners.get(job.backend)
        if spawner is None:
            return False  # leave it to a server that has its backend
        if not self.mine(job):
            if not jobfiles.create_exclusive(
                jobfiles.takeover_marker(job.job_dir, job.owner), {"by": self.server_id}
            ):
                return False  # another server took it: its record says so at the next sync
            fresh = self.root.read_record(job.id) or job
            if fresh.is_final:
                self._index(fresh)
                return False
            self.log.info(
                "jupyter-jobs: taking over job %s from server %s (that server is gone)",
                job.id,
                job.owner or "(none)",
            )
            job = fresh
            job.owner = self.server_id
            self.active[job.id] = job
            self._persist(job)
        await self._adopt(job, spawner)
        return True

    async def _adopt(self, job: Job, spawner: Spawner) -> None:
        """Carry on with a job this server owns now: re-attach, or queue it again."""
        if job.kind == "sweep":  # nothing runs for a sweep itself: its counts from its children
            sweeps.recount(self, job)
            if job.is_final:  # its runs ended while no server looked
                self.active.pop(job.id, None)
            elif job.state.get(dependencies.SWEEP_HELD):
                self._enqueue(job)  # it waits for other jobs (dependencies.settle)
            self._persist(job)
            return
        if sweeps.held(self, job):
            return  # a child of a sweep that waits for other jobs: it starts with its sweep
        spawner.load_state(job, job.state)
        if job.kind == "kernel":
            if not (self.resumable(job) and job.backend_ref):
                # a standalone client's kernel, or one that left no way back: nobody can use it
                await self._cancel_orphan_kernel(job)
                return
            self.kernels_to_resume.append(job.id)  # taken up by the server's kernel manager
        if not job.backend_ref:
            update = await spawner.recover(job)
            if update is not None:
                self.apply_update(job.id, update)
                self._bind_slot(job)
            elif job.status == CANCELLING or jobfiles.cancel_requested(job.job_dir):
                self.apply_update(job.id, JobUpdate(status=CANCELLED, reason="cancelled"))
                return
            else:
                self._enqueue(job)
                return
        try:
            update = await spawner.reattach(job)
        except EngineUnavailable as e:
            self._engine_unreachable(job.backend, str(e))
            return
        except Exception as e:
            self.log.exception("jupyter-jobs: re-attaching %s failed", job.id)
            update = JobUpdate(reason=f"could not re-attach: {e}")
        if update:
            self.apply_update(job.id, update)
        if not job.is_final:
            self._bind_slot(job)

    # ------------------------------------------------------------------ in step with the job root

    async def _sync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.sync_interval)
            try:
                await self.sync()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("jupyter-jobs: syncing with the job root failed")

    async def sync(self, *, emit: bool = True) -> None:
        """One look at the job root: see :attr:`sync_interval`."""
        now = time.monotonic()
        self._save_unsaved()
        if now >= self._next_renew:
            try:
                self.leases.renew()
                self._next_renew = now + self.lease_timeout / 4
            except OSError as e:  # a full disk: other hosts may take our jobs over if it lasts
                self.log.error("jupyter-jobs: cannot renew the server lease: %s", e)
        if now >= self._next_scan:
            t0 = time.monotonic()
            self._scan(emit)
            took = time.monotonic() - t0
            self._next_scan = time.monotonic() + max(0.0, 20 * took - self.sync_interval)
        for job in list(self.active.values()):
            if self.mine(job):
                await self._check_own(job)
            else:
                self._refresh(job, emit)
        alive: dict[str | None, bool] = {}  # one look at each owner's lease per sync
        for job in sorted(
            [j for j in self.active.values() if not self.mine(j)], key=lambda j: j.created_at
        ):
            if job.owner not in alive:
                alive[job.owner] = self.leases.alive(job.owner) or not self.takes_over
            if not alive[job.owner]:
                await self._take_over(job)
        for name in self.spawners:
            if self.waiting[name]:
                await self._start_waiting_logged(name)

    def _scan(self, emit: bool) -> None:
        """New and deleted job directories."""
        on_disk = self.root.ids()
        new = [j for j in map(self.root.read_record, on_disk - self._known) if j is not None]
        new.sort(key=lambda j: j.created_at)  # the index lists in the order it learns of jobs
        if new:
            self.store.save_many(new)
        for job in new:
            self._known.add(job.id)
            if not job.is_final:
                self.active.setdefault(job.id, job)
            if emit:
                self._emit("created", job)
        gone = self._known - on_disk
        if gone:
            self.store.delete_many(gone)
        for job_id in gone:
            self._known.discard(job_id)
            gone_job = self.active.pop(job_id, None) or Job(
                id=job_id, name="", kind="", backend="", profile=""
            )
            if emit:
                self._emit("deleted", gone_job)

    def _refresh(self, job: Job, emit: bool) -> None:
        """Re-read another server's active job."""
        fresh = self.root.read_record(job.id)
        if fresh is None:
            return  # being deleted, or unreadable for a moment
        if fresh.to_record() == job.to_record():
            return
        if fresh.is_final or self.mine(fresh):
            self.active.pop(job.id, None)
        if not fresh.is_final and not self.mine(fresh):
            self.active[job.id] = fresh
        self.store.save(fresh)
        if emit:
            self._emit("updated", fresh)

    async def _check_own(self, job: Job) -> None:
        """Requests other servers left for one of our jobs: a cancel, or a takeover (we were taken
        for dead: the job is theirs now)."""
        try:
            names = set(os.listdir(job.job_dir))
        except OSError:
            return
        if f"{jobfiles.TAKEOVER_PREFIX}{self.server_id}" in names:
            self.log.warning(
                "jupyter-jobs: job %s was taken over by another server (our lease lapsed)", job.id
            )
            self.active.pop(job.id, None)
            fresh = self.root.read_record(job.id)
            if fresh is not None and not fresh.is_final and not self.mine(fresh):
                self.active[job.id] = fresh
            return
        if jobfiles.CANCEL in names and job.status != CANCELLING and not job.is_final:
            try:
                await self._cancel_own(job)
            except JobsError as e:
                self.log.warning("jupyter-jobs: cancelling %s on request: %s", job.id, e.message)

    def _index(self, job: Job) -> None:
        self.store.save(job)
        self._known.add(job.id)

    def _persist(self, job: Job) -> None:
        """Write an owned job: its record first (the truth), then the index. When the disk is full
        (or the filesystem away) the change is kept in memory and written again at each sync."""
        try:
            self.root.write_record(job)
            self._index(job)
        except (OSError, sqlite3.Error) as e:
            if job.id not in self._unsaved:
                self.log.error("jupyter-jobs: cannot save job %s (retrying): %s", job.id, e)
            self._unsaved[job.id] = job
            return
        if self._unsaved.pop(job.id, None) is not None:
            self.log.info("jupyter-jobs: job %s saved again", job.id)

    def _save_unsaved(self) -> None:
        for job in list(self._unsaved.values()):
            self._persist(job)

    # ------------------------------------------------------------------ queries

    def get_spawner(self, name: str | None) -> Spawner:
        name = name or self.default_backend
        spawner = self.spawners.get(name)
        if spawner is None:
            known = ", ".join(self.spawners) or "none"
            why = f" ({self.load_errors[name]})" if name in self.load_errors else ""
            raise BadRequest(
                f"unknown or disabled backend {name!r}{why}; available: {known}", field="backend"
            )
        return spawner

    def get(self, job_id: str) -> Job:
        job = self.active.get(job_id) or self.store.get(job_id)
        if job is None:
            # another server's job that the next sync would bring: read it now
            job = self.root.read_record(job_id)
            if job is None:
                raise NotFound(f"no job {job_id!r}")
            self._index(job)
            if not job.is_final:
                self.active.setdefault(job.id, job)
        job.job_dir = self.root.job_dir(job.id)  # as this host mounts the job root
        return job

    def list_jobs(
        self,
        *,
        q: str | None = None,
        status: list[str] | None = None,
        backend: list[str] | None = None,
        kind: list[str] | None = None,
        limit: int = 100,
        cursor: int | None = None,
        changed_since: str | None = None,
        definition: list[str] | None = None,
        sweep: list[str] | None = None,
        id_prefix: str | None = None,
    ) -> dict[str, Any]:
        """``GET jobs``: one page from the index, as the answer's JSON (docs/CONTRACT.md,
        "Listing jobs"). The arguments were checked at the boundary (``wire.py``)."""
        page = self.store.page(
            q=q,
            status=status,
            backend=backend,
            kind=kind,
            limit=limit,
            cursor=cursor,
            changed_since=changed_since,
            definition=definition,
            sweep=sweep,
            id_prefix=id_prefix,
        )
        jobs = []
        for r in page.records:
            live = self.active.get(r["id"])
            jobs.append(live.to_dict() if live else Job.from_record(r).to_dict())
        return {
            "jobs": jobs,
            "next_cursor": None if page.next_cursor is None else str(page.next_cursor),
            "total": page.total,
            "counts": page.counts,
            "change_token": page.change_token,
            "deleted": page.deleted,
            "reload": page.reload,
        }

    async def backends(self) -> list[dict[str, Any]]:
        out = []
        for name, spawner in self.spawners.items():
            try:
                available, reason, detail = await spawner.availability()
            except Exception as e:
                available, reason, detail = False, f"the {name} backend failed its check", str(e)
            limits = None
            if available:
                try:
                    limits = await spawner.limits()
                except Exception as e:  # the limits are a help, not a condition
                    self.log.warning("jupyter-jobs: reading the %s limits: %s", name, e)
            profiles = [
                {k: v for k, v in p.items() if k in PUBLIC_PROFILE_KEYS}
                for p in spawner.get_profiles()
            ]
            out.append(
                {
                    "name": name,
                    "display_name": spawner.display_name or name,
                    "available": bool(available),
                    "reason": reason,
                    "detail": detail,
                    "supports_kernels": spawner.supports_kernels,
                    "schedules": spawner.schedule_capability(),
                    "default_profile": profiles[0]["name"] if profiles else None,
                    "profiles": profiles,
                    "limits": limits,
                }
            )
        for name, err in self.load_errors.items():
            if name not in self.spawners:
                out.append(
                    {
                        "name": name,
                        "display_name": name,
                        "available": False,
                        "reason": err,
                        "detail": None,
                        "supports_kernels": False,
                        "schedules": "server",
                        "default_profile": None,
                        "profiles": [],
                        "limits": None,
                    }
                )
        return out

    # ------------------------------------------------------------------ create

    async def create(self, body: Any) -> Job:
        """Check a ``POST jobs`` body, store the job and hand it to its backend."""
        return await self.submit(parse_request(body, self.root_dir))

    async def submit(
        self,
        req: JobRequest,
        *,
        definition_id: str | None = None,
        scheduled_for: str | None = None,
        attempt: int | None = None,
    ) -> Job:
        """Store a checked request's job and hand it to its backend (a job definition's run
        names the definition, the occurrence and the attempt)."""
        if req.parameter_sets:  # a sweep (docs/CONTRACT.md, "Sweeps")
            return await sweeps.submit_sweep(
                self,
                req,
                definition_id=definition_id,
                scheduled_for=scheduled_for,
                attempt=attempt,
            )
        spawner = await self.checked_spawner(req.backend)
        dependencies.check_parents(self, req.after, req.when)  # 400/409 before anything is made
        job, profile = self.job_of_request(
            req,
            spawner,
            definition_id=definition_id,
            scheduled_for=scheduled_for,
            attempt=attempt,
            after=list(req.after),
            when=req.when,
        )
        return await self._create(job, req, spawner, profile)

    def job_of_request(
        self, req: JobRequest, spawner: Spawner, **fields: Any
    ) -> tuple[Job, dict[str, Any]]:
        """The job a request makes on ``spawner`` (its profile resolved and resources checked:
        400 otherwise), not created yet, and the profile; ``fields`` are more of the job's."""
        profile = spawner.resolve_profile(req.profile)
        resources = spawner.validate_resources(profile, req.resources)
        job = _request_job(
            req, spawner, profile, resources, name=req.name, parameters=req.parameters, **fields
        )
        return job, profile

    async def checked_spawner(self, backend: str | None) -> Spawner:
        """The request's backend, available (503 otherwise)."""
        spawner = self.get_spawner(backend)
        available, reason = await spawner.check_available()
        if not available:
            raise EngineUnavailable(
                f"the {spawner.name} backend is not available: {reason}", field="backend"
            )
        return spawner

    async def build_child(
        self,
        req: JobRequest,
        spawner: Spawner,
        profile: dict[str, Any],
        resources: dict[str, Any],
        sweep: Job,
        index: int,
        params: dict[str, Any],
    ) -> Job:
        """Create one child of ``sweep`` (its directory, record, spec and pinned input; the
        index), not started yet."""
        job = _request_job(
            req,
            spawner,
            profile,
            resources,
            name=sweeps.child_name(sweep.name, index, params),
            parameters=req.parameters if req.kind == "notebook" else dict(params),
            definition_id=sweep.definition_id,
            sweep_id=sweep.id,
            index=index,
            after=list(sweep.after),  # each child waits for what its sweep waits for
            when=sweep.when,
        )
        return await self._create(job, req, spawner, profile, start=False)

    async def _create(
        self,
        job: Job,
        req: JobRequest,
        spawner: Spawner,
        profile: dict[str, Any],
        *,
        start: bool = True,
    ) -> Job:
        """Plan ``job``'s pinned inputs, build its argv and :meth:`add` it."""
        copies, extra_spec = pins.plan(job, req, profile, self.root.job_dir(job.id), self.root_dir)
        job.argv = build_argv(
            job, req, spawner, profile, self.root_dir, self.output_dir, run_path=job.pinned_path
        )
        return await self.add(job, req.abs_cwd, spawner, extra_spec, copies=copies, start=start)

    async def add(
        self,
        job: Job,
        abs_cwd: str,
        spawner: Spawner,
        extra_spec: dict[str, Any] | None = None,
        copies: dict[str, str] | None = None,
        *,
        start: bool = True,
    ) -> Job:
        """Create a built job whole (its directory with record, spec and ``copies`` — the pinned
        inputs —, then the index), then start or queue it. Nothing is left of it when any step
        fails. ``start=False`` (a sweep's child): created and indexed only (checked already)."""
        if start:
            await spawner.check_request(job.resources)  # what the engine can never give: a 400
        job.job_dir = self.root.job_dir(job.id)
        job.owner = self.server_id
        job.state = {"cwd": abs_cwd, **job.state}
        if job.outputs:
            os.makedirs(os.path.dirname(os.path.join(self.root_dir, job.outputs[0])), exist_ok=True)
        files: dict[str, Any] = {}
        if spawner.uses_runner:
            files[jobfiles.SPEC] = self.runner_spec(job, abs_cwd, spawner, extra_spec)
        try:
            self.root.create(job, files, copies)
        except FileNotFoundError as e:  # a file to pin went away since the request was checked
            raise NotFound(
                f"cannot pin the job's input: {e.filename or 'a file'} is gone; submit again"
            ) from None
        try:
            self._index(job)
        except BaseException as e:
            self._known.discard(job.id)
            self.root.remove(job.id)
            if getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                raise StorageFull(
                    f"no space left for the job index {self.store.path} (disk or quota full):"
                    " free some space and submit again"
                ) from e
            raise
        if not start:
            return job
        self.active[job.id] = job
        self._emit("created", job)
        self._enqueue(job)
        await self._start_waiting(spawner.name)
        return self.get(job.id)

    def runner_spec(
        self, job: Job, abs_cwd: str, spawner: Spawner, extra_spec: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The runner's ``spec.json`` of a built job (what it runs, where, with what limits)."""
        spec = {
            "id": job.id,
            "argv": job.argv,
            "env": {**self.extra_env, **job.env},
            "cwd": abs_cwd,
            "cancel_grace": self.cancel_grace_period,
            "usage_interval": self.usage_interval,
        }
        spec.update(spawner.runner_spec(job))
        spec.update(extra_spec or {})
        return spec

    async def adopt_record(self, job: Job, fields: dict[str, Any] | None = None) -> bool:
        """Carry on with a job whose record was made outside :meth:`submit` (a run a Kubernetes
        CronJob made, recorded by this server): ours → in view, indexed and re-attached; the
        engine's (a pod that made its own directory; an owner with no live lease) → taken over
        as any such job (``O_EXCL``: one server of the job root). ``fields`` are set on the
        record once it is ours. False when it is another live server's, or final."""
        live = self.active.get(job.id)
        if live is None and job.is_final:  # ended and left the view: only its record to mend
            if not self.mine(job):
                return False
            for key, value in (fields or {}).items():
                setattr(job, key, value)
            self._persist(job)
            return True
        if live is not None and self.mine(live):  # ours already (taken over at a sync)
            for key, value in (fields or {}).items():
                setattr(live, key, value)
            self._persist(live)
            return True
        if not self.mine(job):
            if self.leases.alive(job.owner):
                return False
            self.active.setdefault(job.id, job)
            self._index(job)
            if not await self._take_over(self.active[job.id]):
                return False
            ours = self.active.get(job.id) or self.root.read_record(job.id)  # ended at once?
            return ours is not None and await self.adopt_record(ours, fields)
        for key, value in (fields or {}).items():
            setattr(job, key, value)
        self.active[job.id] = job
        self._persist(job)
        self._emit("created", job)
        await self._adopt(job, self.get_spawner(job.backend))
        return True

    def _enqueue(self, job: Job) -> None:
        """Queue one of our jobs for a start, in the order the jobs were created."""
        queue = self.waiting[job.backend]
        if job.id in queue:
            return
        created = [self.active[i].created_at if i in self.active else utcnow() for i in queue]
        queue.insert(bisect.bisect_right(created, job.created_at), job.id)

    def _bind_slot(self, job: Job) -> None:
        """A running local job holds its host slot through its runner (which outlives us)."""
        spawner = self.spawners.get(job.backend)
        if spawner is None or not spawner.max_concurrent or job.is_final:
            return
        pid = job.state.get("runner_pid")
        if pid and not (job.host and job.host != self.leases.host):
            self.slots[job.backend].bind(job.id, int(pid), job.state.get("runner_create_time"))

    async def _start_waiting(self, backend: str) -> None:
        """Start our queued jobs of ``backend`` while the host has free slots."""
        spawner = self.spawners[backend]
        queue = self.waiting[backend]
        slots = self.slots[backend]
        held = dependencies.settle(self, backend)  # jobs waiting for others: held here, or not
        await sweeps.release(self, backend, held)  # sweeps that waited: their children go now
        running = self._running_children()
        throttled: set[str] = set()
        for queued_id in list(queue):
            job = self.active.get(queued_id)
            if job is None or job.is_final or job.backend_ref or not self.mine(job):
                queue.remove(queued_id)
                continue
            if queued_id in held:
                continue
            if job.sweep_id:  # a sweep's child: at most the sweep's throttle at once
                sweep = self.active.get(job.sweep_id)
                if sweep is not None and sweeps.throttled(job, sweep, running):
                    throttled.add(job.id)
                    if job.status == PENDING:
                        self.apply_update(
                            job.id,
                            JobUpdate(
                                status=QUEUED,
                                reason=f"waiting: at most {sweep.throttle} runs of the sweep at"
                                " once",
                            ),
                        )
                    continue
                running[job.sweep_id] = running.get(job.sweep_id, 0) + 1
            if spawner.max_concurrent and not slots.acquire(job.id, spawner.max_concurrent):
                break
            queue.remove(queued_id)
            self._starting.add(job.id)
            try:
                update = await spawner.submit(job)
            except JobsError as e:
                slots.release(job.id)
                if job.status == PENDING and isinstance(e, (BadRequest, EngineUnavailable)):
                    # refused at submit time: the user sees the 4xx/503 and the job is removed
                    self._forget(job)
                    raise
                update = JobUpdate(status=FAILED, reason=e.message)
            except Exception as e:
                slots.release(job.id)
                self.log.exception("jupyter-jobs: submitting %s failed", job.id)
                update = JobUpdate(status=FAILED, reason=f"could not start: {e}")
            finally:
                self._starting.discard(job.id)
            if update.status is None:
                update.status = RUNNING
            self.apply_update(job.id, update)
            self._bind_slot(job)
            if job.id in self._cancel_after_start:
                self._cancel_after_start.discard(job.id)
                if not job.is_final:
                    await self._cancel_own(job)
        slot_reason = (
            f"waiting for a free slot ({spawner.max_concurrent}"
            f" {'job runs' if spawner.max_concurrent == 1 else 'jobs run'} at once on"
            f" {self.leases.host})"
        )
        for job_id in queue:
            job = self.active.get(job_id)
            if job is None or job_id in held or job_id in throttled:
                continue  # waiting for other jobs, or for its sweep's throttle: said so
            # new, or just released by the jobs it waited for: now it waits for a slot
            if job.status == PENDING or (job.status == QUEUED and job.reason != slot_reason):
                self.apply_update(job_id, JobUpdate(status=QUEUED, reason=slot_reason))

    def _running_children(self) -> dict[str, int]:
        """Started, active children of each sweep (the throttle's count)."""
        out: dict[str, int] = {}
        for j in self.active.values():
            if j.sweep_id and not j.is_final and (j.backend_ref or j.id in self._starting):
                out[j.sweep_id] = out.get(j.sweep_id, 0) + 1
        return out

    def _forget(self, job: Job) -> None:
        self.active.pop(job.id, None)
        self._known.discard(job.id)
        self.store.delete(job.id)
        self.root.remove(job.id)
        self._emit("deleted", job)

    # ------------------------------------------------------------------ updates

    def add_listener(self, fn: Callable[[str, Job], None]) -> None:
        """Call ``fn(action, job)`` on every change (besides the event bus)."""
        self._listeners.append(fn)

    def _emit(self, action: str, job: Job) -> None:
        try:
            self.emit(action, job)
        except Exception:
            self.log.exception("jupyter-jobs: emitting an event failed")
        for fn in list(self._listeners):
            try:
                fn(action, job)
            except Exception:
                self.log.exception("jupyter-jobs: a listener failed")

    def apply_update(self, job_id: str, update: JobUpdate) -> None:
        """Merge what a spawner learned into one of our jobs, persist it, emit an event if it
        matters. News of a job that is final, or not ours, is ignored."""
        job = self.active.get(job_id)
        if job is None or not self.mine(job):
            return
        before = {f: getattr(job, f) for f in EVENT_FIELDS}
        status_before = job.status
        record_before = job.to_record()
        if update.status is not None and update.status != job.status:
            if job.status == CANCELLING and update.status in (RUNNING, QUEUED):
                pass  # the cancel is in flight: do not go back
            else:
                job.status = update.status
        for f in (
            "exit_code",
            "host",
            "backend_ref",
            "started_at",
            "finished_at",
            "progress",
            "expected_start",
            "log_size",
        ):
            value = getattr(update, f)
            if value is not None:
                setattr(job, f, value)
        if update.reason is not None:
            job.reason = update.reason
        elif update.clear_reason or (update.status in (RUNNING,) and job.status == RUNNING):
            job.reason = None
        if update.state is not None:
            job.state.update(update.state)
        if job.status != QUEUED:
            job.expected_start = None  # only a queued job has an expected start
        if job.status == RUNNING and job.started_at is None:
            job.started_at = utcnow()
        if job.status == CANCELLED:
            job.exit_code = None  # the contract: a cancelled job has no exit code
        if job.sweep_id and job.status != status_before:
            sweeps.child_changed(self, job, status_before)
        if job.status in FINAL_STATUSES:
            if job.status == CANCELLED and status_before != CANCELLED:
                dependencies.explain_cancel(self, job)  # SLURM cancelled it for a parent
            if job.finished_at is None:
                job.finished_at = utcnow()
            if job.efficiency is None and job.started_at is not None:
                job.efficiency = self._efficiency(job)
            if not job.results and job.job_dir:
                job.results = jobfiles.read_results(job.job_dir) or {}
            self.active.pop(job.id, None)
            self._persist(job)
            self._emit("updated", job)
            if notify.due(job):  # e-mail, webhook: in the background, never in the job's way
                sending = asyncio.ensure_future(self.notifier.send(job))
                self._background.add(sending)
                sending.add_done_callback(self._background.discard)
            if job.backend in self.slots:
                self.slots[job.backend].release(job.id)
            # its queue, and those of the jobs that wait for it, are looked at now
            for backend in {job.backend} | dependencies.release_after(self, job):
                if self.waiting.get(backend):
                    task = asyncio.ensure_future(self._start_waiting_logged(backend))
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)
            return
        record_after = job.to_record()
        # the log size alone changes all the time and is read from the log itself: not saved
        record_before["log_size"] = record_after["log_size"]
        if record_after != record_before:
            self._persist(job)
        if any(getattr(job, f) != v for f, v in before.items()):
            self._emit("updated", job)

    def _efficiency(self, job: Job) -> dict[str, Any] | None:
        """The ended job's efficiency summary from what its runner recorded (None: unknown)."""
        spawner = self.spawners.get(job.backend)
        if spawner is None or not spawner.uses_runner:
            return None
        try:
            return efficiency.summary(
                job,
                jobfiles.read_usage(job.job_dir, limit=100_000),
                jobfiles.read_status(job.job_dir),
                defaults=spawner.resource_defaults(job.resources),
            )
        except Exception:  # a summary is a help: never in the way of the job's end
            self.log.exception("jupyter-jobs: the efficiency summary of %s failed", job.id)
            return None

    async def _start_waiting_logged(self, backend: str) -> None:
        try:
            await self._start_waiting(backend)
        except Exception:
            self.log.exception("jupyter-jobs: starting queued %s jobs failed", backend)

    def _engine_unreachable(self, backend: str, message: str) -> None:
        reason = f"{backend} unreachable: {message} (retrying; jobs keep their state)"
        self._engine_down[backend] = reason
        for job in list(self.active.values()):
            if job.backend == backend and job.backend_ref and job.reason != reason:
                self.apply_update(job.id, JobUpdate(reason=reason))  # ours only

    def _engine_back(self, backend: str) -> None:
        reason = self._engine_down.pop(backend, None)
        if reason is None:
            return
        for job in list(self.active.values()):
            if job.backend == backend and job.reason == reason:
                self.apply_update(job.id, JobUpdate(clear_reason=True))

    async def poll_backend(self, name: str) -> None:
        """One batched poll of a backend's active jobs of this server."""
        spawner = self.spawners[name]
        jobs = [
            j for j in self.active.values() if j.backend == name and j.backend_ref and self.mine(j)
        ]
        if not jobs:
            return
        updates = await spawner.poll(jobs)
        self._engine_back(name)
        for job_id, update in updates.items():
            self.apply_update(job_id, update)

    async def _poll_loop(self, name: str) -> None:
        spawner = self.spawners[name]
        failures = 0
        while True:
            interval = spawner.poll_interval
            if failures:
                interval = min(self.max_backoff, interval * 2**failures)
            await asyncio.sleep(interval * random.uniform(0.9, 1.1))
            try:
                await self.poll_backend(name)
                failures = 0
            except EngineUnavailable as e:
                failures += 1
                self._engine_unreachable(name, e.message)
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                self.log.exception("jupyter-jobs: polling %s failed", name)

    # ------------------------------------------------------------------ actions

    async def cancel(self, job_id: str) -> Job:
        """Cancel a job at any instant; it ends ``cancelled`` (see docs/CONTRACT.md).

        The request is written to the job's directory first, so it holds whoever owns the job:
        our own job is cancelled now; another live server's job by that server within one
        :attr:`sync_interval` (and by its runner, which reads the request too); the job of a server
        that is gone is taken over and cancelled here.
        """
        job = self.get(job_id)
        if job.is_final:
            raise Conflict(f"job {job_id} is already {job.status}")
        jobfiles.request_cancel(job.job_dir, by=self.server_id)
        if not self.mine(job):
            if self.leases.alive(job.owner):
                shown = Job.from_record(job.to_record())
                shown.status = CANCELLING
                return shown
            await self._take_over(job)
            job = self.get(job_id)
            if job.is_final or not self.mine(job):
                return job
        await self._cancel_own(job)
        return self.get(job_id)

    async def _cancel_own(self, job: Job) -> None:
        if job.is_final:
            return
        if job.kind == "sweep":
            await sweeps.cancel_sweep(self, job)
            return
        if not job.backend_ref:
            if job.id in self._starting:
                # being handed to the engine right now: cancelled as soon as it has a ref (and
                # its runner finds the request before it starts the command)
                self._cancel_after_start.add(job.id)
                self.apply_update(job.id, JobUpdate(status=CANCELLING))
                return
            queue = self.waiting.get(job.backend)
            if queue is not None and job.id in queue:
                queue.remove(job.id)
            self.apply_update(
                job.id, JobUpdate(status=CANCELLED, reason="cancelled before it started")
            )
            return
        self.apply_update(job.id, JobUpdate(status=CANCELLING))
        spawner = self.get_spawner(job.backend)
        update = await spawner.cancel(job)
        if update:
            self.apply_update(job.id, update)

    async def rerun(self, job_id: str, overrides: Any) -> Job:
        old = self.get(job_id)
        if old.kind == "sweep":
            return await self.rerun_sweep(old, overrides)
        if old.kind == "kernel":
            raise BadRequest(
                "a remote kernel's job cannot be rerun: start a new remote kernel instead"
            )
        if overrides is not None and not isinstance(overrides, dict):
            raise BadRequest("the rerun body must be a JSON object of overrides")
        body: dict[str, Any] = {
            "name": old.name,
            "args": old.args,
            "env": old.env,
            "cwd": old.cwd,
            "backend": old.backend,
            "profile": old.profile,
            "resources": {k: v for k, v in old.resources.items()},
            "parameters": old.parameters,
        }
        if old.kind == "command":
            body["command"] = old.command
        else:
            body["path"] = old.path
            body["kind"] = old.kind
        if old.kind == "notebook":
            body.pop("args")
            body["output_formats"] = old.output_formats or None
            body["report"] = old.report or None
        else:
            body.pop("parameters")
        body["notify"] = old.notify
        body["extra_files"] = old.extra_files or None
        overrides = dict(overrides or {})
        choice = overrides.pop("input", None)
        body.update(overrides)
        return await self.submit(
            parse_request(body, self.root_dir, pinned_from=self._pinned(old, choice, overrides))
        )

    async def rerun_sweep(self, old: Job, overrides: Any) -> Job:
        """A rerun of a sweep is a new sweep: of every parameter set, or (``only: failed``) of
        the sets of the children that failed, were cancelled or lost (docs/CONTRACT.md)."""
        overrides = dict(overrides or {})
        only = overrides.pop("only", None)
        body: dict[str, Any] = {
            "name": old.name,
            "env": old.env,
            "cwd": old.cwd,
            "backend": old.backend,
            "profile": old.profile,
            "resources": dict(old.resources),
            "throttle": old.throttle,
        }
        if old.command:
            body["command"] = old.command
        else:
            body["path"] = old.path
        if old.parameters:
            body["parameters"] = old.parameters
        if old.args:
            body["args"] = old.args
        if old.parameters_as and old.path and not old.path.endswith(".ipynb"):
            body["parameters_as"] = old.parameters_as
        sets = sweeps.rerun_sets(self, old, only)
        if only is None and old.grid is not None:
            body["grid"] = old.grid
        else:
            body["parameter_sets"] = sets
        overrides.pop("input", None)
        body.update(overrides)
        return await self.submit(parse_request(body, self.root_dir))

    def _pinned(self, old: Job, choice: str | None, overrides: dict[str, Any]) -> Any:
        """What a rerun runs (docs/CONTRACT.md, "Pinned inputs"): the old job's pinned copies
        (``input: pinned``, the default when it has them) or the files as they are now
        (``current``; the default for a job without copies)."""
        if choice == "current" or (choice is None and not old.pinned_path):
            return None
        if "path" in overrides or "command" in overrides:
            if choice == "pinned":
                raise BadRequest(
                    "Input: a rerun of another file runs that file as it is now; leave out"
                    " 'input' or the new path",
                    field="input",
                )
            return None
        if not old.pinned_path:
            raise Conflict(
                f"job {old.id} has no pinned copy of its input (it ran before inputs were pinned,"
                " or runs a command): rerun it with the current file (input: current)",
                field="input",
            )
        sources = pins.pinned_sources(old)
        main = os.path.basename(old.pinned_path)
        if not os.path.isfile(sources.get(main, "")):
            raise Conflict(
                f"the pinned copy of job {old.id}'s input ({jobfiles.INPUT_DIR}/{main}) is gone:"
                " rerun it with the current file (input: current)",
                field="input",
            )
        return sources

    async def delete(self, job_id: str) -> None:
        job = self.get(job_id)
        if not job.is_final:
            raise Conflict(f"job {job_id} is {job.status}; cancel it before deleting it")
        dependencies.blocking_delete(self, job)
        if job.kind == "sweep":  # its runs go with it (all ended: the sweep is final)
            for child_id in job.children:
                try:
                    await self.delete(child_id)
                except (NotFound, Conflict) as e:
                    self.log.warning("jupyter-jobs: deleting run %s of a sweep: %s", child_id, e)
        spawner = self.spawners.get(job.backend)
        if spawner is not None:
            try:
                await spawner.cleanup(job)
            except Exception as e:
                self.log.warning("jupyter-jobs: cleanup of %s: %s", job_id, e)
        self._forget(job)  # any server may delete a final job: the others see it gone

    async def read_log(self, job_id: str, offset: int, limit: int) -> tuple[bytes, int]:
        job = self.get(job_id)
        spawner = self.spawners.get(job.backend)
        if spawner is not None:
            reader = spawner.log_reader(job)
        else:  # a job of a backend no longer enabled: its log is still in its directory
            reader = LogReader(os.path.join(job.job_dir, jobfiles.LOG))
        size = await reader.size()
        data = await reader.read(offset, limit) if offset < size else b""
        return data, size

    def usage(self, job_id: str) -> list[dict[str, Any]]:
        job = self.get(job_id)
        return jobfiles.read_usage(job.job_dir)

    def results_table(self, job_id: str) -> dict[str, Any]:
        """``GET jobs/{id}/results``: the job's results table (one row; a sweep: one per child).
        A job that has not ended is read from its ``results.json`` as it is now."""

        def results_of(job: Job) -> dict[str, Any] | None:
            if job.is_final or not job.job_dir:
                return job.results
            return jobfiles.read_results(job.job_dir) or job.results

        job = self.get(job_id)
        if job.kind == "sweep":
            children = []
            for child_id in getattr(job, "children", None) or []:
                try:
                    children.append(self.get(child_id))
                except NotFound:  # a child deleted on its own: no row
                    continue
            return results.table(children, sweep=True, results_of=results_of)
        return results.table([job], results_of=results_of)
