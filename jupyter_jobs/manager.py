"""JobManager: owns every job and every state change.

Handlers call it once per request; spawners report to it (``poll`` answers and pushed ``notify``
updates). It persists each change in the :class:`~jupyter_jobs.store.JobStore` and emits one event per
status or progress change. At start it re-attaches every job that was not final.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
from collections import deque
from typing import Any, Callable

from traitlets import Dict, Float, Instance, List, Unicode, default
from traitlets.config import LoggingConfigurable

from . import jobfiles
from .commands import build_argv
from .exceptions import BadRequest, Conflict, EngineUnavailable, JobsError, NotFound
from .kernel_jobs import KernelJobsMixin
from .models import (
    CANCELLED,
    CANCELLING,
    FAILED,
    FINAL_STATUSES,
    PENDING,
    QUEUED,
    RUNNING,
    STATUSES,
    Job,
    JobUpdate,
    new_job_id,
    utcnow,
)
from .spawners.base import LogReader, Spawner
from .spawners.factory import SpawnerFactory
from .store import JobStore
from .validation import parse_request

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

    def __init__(self, *, store: JobStore, job_root: str, root_dir: str, emit: Emit | None, **kw):
        super().__init__(**kw)
        self.store = store
        self.job_root = os.path.abspath(job_root)
        self.root_dir = os.path.realpath(root_dir)
        self.emit = emit or (lambda action, job: None)
        self.spawners: dict[str, Spawner] = {}
        self.load_errors: dict[str, str] = {}
        #: active jobs, by id (final jobs are read from the store)
        self.active: dict[str, Job] = {}
        self.waiting: dict[str, deque[str]] = {}
        self._tasks: list[asyncio.Task] = []
        self._background: set[asyncio.Future] = set()
        self._started = False
        self._engine_down: dict[str, str] = {}
        self._starting: set[str] = set()
        self._listeners: list[Callable[[str, Job], None]] = []
        os.makedirs(self.job_root, mode=0o700, exist_ok=True)

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

    async def start(self) -> None:
        """Start the spawners, re-attach active jobs, start polling. Runs once; later calls return."""
        if self._started:
            return
        self._started = True
        if not self.spawners:
            self.load_spawners()
        for name, spawner in list(self.spawners.items()):
            try:
                await spawner.start()
            except Exception as e:
                self.log.warning("jupyter-jobs: backend %s failed to start: %s", name, e)
                self.load_errors[name] = str(e)
        await self.reattach_all()
        for name in self.spawners:
            self._tasks.append(asyncio.ensure_future(self._poll_loop(name)))

    async def stop(self) -> None:
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

    async def reattach_all(self) -> None:
        """Take back every job that was not final when the server last stopped."""
        jobs = self.store.active()
        for job in jobs:
            self.active[job.id] = job
        for job in jobs:
            spawner = self.spawners.get(job.backend)
            if spawner is None:
                self.apply_update(
                    job.id,
                    JobUpdate(reason=f"backend {job.backend!r} is not enabled on this server"),
                )
                continue
            spawner.load_state(job, job.state)
            if job.kind == "kernel":
                # a kernel job outlives only a crash of the server: nobody can use it now
                await self._cancel_orphan_kernel(job)
                continue
            if not job.backend_ref:
                # accepted or queued but never handed to the engine: start it (in order)
                job.status = QUEUED if job.status != CANCELLING else job.status
                if job.status == CANCELLING:
                    self.apply_update(job.id, JobUpdate(status=CANCELLED, reason="cancelled"))
                else:
                    self.waiting[job.backend].append(job.id)
                continue
            try:
                update = await spawner.reattach(job)
            except EngineUnavailable as e:
                self._engine_unreachable(job.backend, str(e))
                continue
            except Exception as e:
                self.log.exception("jupyter-jobs: re-attaching %s failed", job.id)
                update = JobUpdate(reason=f"could not re-attach: {e}")
            if update:
                self.apply_update(job.id, update)
        for name in self.spawners:
            await self._start_waiting(name)
        self.log.info("jupyter-jobs: re-attached %d active job(s)", len(jobs))

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
            raise NotFound(f"no job {job_id!r}")
        return job

    def list_jobs(
        self,
        *,
        status: list[str] | None = None,
        backend: list[str] | None = None,
        kind: list[str] | None = None,
        limit: int = 100,
        cursor: int | None = None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        for s in status or []:
            if s not in STATUSES:
                raise BadRequest(
                    f"unknown status {s!r}; known: {', '.join(STATUSES)}", field="status"
                )
        if not 1 <= limit <= 1000:
            raise BadRequest("limit must be between 1 and 1000", field="limit")
        records, next_cursor = self.store.list(
            status=status, backend=backend, kind=kind, limit=limit, cursor=cursor
        )
        out = []
        for r in records:
            live = self.active.get(r["id"])
            out.append(live.to_dict() if live else Job.from_record(r).to_dict())
        return out, next_cursor

    async def backends(self) -> list[dict[str, Any]]:
        out = []
        for name, spawner in self.spawners.items():
            try:
                available, reason = await spawner.check_available()
            except Exception as e:
                available, reason = False, str(e)
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
                    "supports_kernels": spawner.supports_kernels,
                    "default_profile": profiles[0]["name"] if profiles else None,
                    "profiles": profiles,
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
                        "supports_kernels": False,
                        "default_profile": None,
                        "profiles": [],
                    }
                )
        return out

    # ------------------------------------------------------------------ create

    async def create(self, body: Any) -> Job:
        """Check a ``POST jobs`` body, store the job and hand it to its backend."""
        req = parse_request(body, self.root_dir)
        spawner = self.get_spawner(req.backend)
        available, reason = await spawner.check_available()
        if not available:
            raise EngineUnavailable(
                f"the {spawner.name} backend is not available: {reason}", field="backend"
            )
        profile = spawner.resolve_profile(req.profile)
        resources = spawner.validate_resources(profile, req.resources)
        job = Job(
            id=new_job_id(),
            name=req.name,
            kind=req.kind,
            backend=spawner.name,
            profile=profile["name"],
            path=req.path,
            command=req.command,
            args=req.args,
            env=req.env,
            cwd=req.cwd,
            resources=resources,
            parameters=req.parameters,
        )
        job.argv = build_argv(job, req, spawner, profile, self.root_dir, self.output_dir)
        return await self.add(job, req.abs_cwd, spawner)

    async def add(self, job: Job, abs_cwd: str, spawner: Spawner) -> Job:
        """Store a built job, write its directory, then start or queue it."""
        job.job_dir = os.path.join(self.job_root, job.id)
        os.makedirs(job.job_dir, mode=0o700)
        if job.outputs:
            os.makedirs(os.path.dirname(os.path.join(self.root_dir, job.outputs[0])), exist_ok=True)
        if spawner.uses_runner:
            spec = {
                "id": job.id,
                "argv": job.argv,
                "env": {**self.extra_env, **job.env},
                "cwd": abs_cwd,
                "cancel_grace": self.cancel_grace_period,
                "usage_interval": self.usage_interval,
            }
            spec.update(spawner.runner_spec(job))
            jobfiles.write_json(os.path.join(job.job_dir, jobfiles.SPEC), spec)
        job.state = {"cwd": abs_cwd}
        self.active[job.id] = job
        self.store.save(job)
        self._emit("created", job)
        self.waiting[spawner.name].append(job.id)
        await self._start_waiting(spawner.name)
        return self.get(job.id)

    def free_slots(self, spawner: Spawner) -> int:
        limit = getattr(spawner, "max_concurrent", None)
        if not limit:
            return 1 << 30
        busy = sum(
            1
            for j in self.active.values()
            if j.backend == spawner.name and (j.backend_ref or j.id in self._starting)
        )
        return max(0, limit - busy)

    async def _start_waiting(self, backend: str) -> None:
        spawner = self.spawners[backend]
        queue = self.waiting[backend]
        while queue and self.free_slots(spawner) > 0:
            job = self.active.get(queue.popleft())
            if job is None or job.is_final or job.backend_ref:
                continue
            self._starting.add(job.id)
            try:
                update = await spawner.submit(job)
            except JobsError as e:
                if job.status == PENDING and isinstance(e, (BadRequest, EngineUnavailable)):
                    # refused at submit time: the user sees the 4xx/503 and the job is removed
                    self._forget(job)
                    raise
                update = JobUpdate(status=FAILED, reason=e.message)
            except Exception as e:
                self.log.exception("jupyter-jobs: submitting %s failed", job.id)
                update = JobUpdate(status=FAILED, reason=f"could not start: {e}")
            finally:
                self._starting.discard(job.id)
            if update.status is None:
                update.status = RUNNING
            self.apply_update(job.id, update)
        for job_id in queue:
            job = self.active.get(job_id)
            if job is not None and job.status == PENDING:
                limit = getattr(spawner, "max_concurrent", 0)
                self.apply_update(
                    job_id,
                    JobUpdate(
                        status=QUEUED,
                        reason=f"waiting for a free slot ({limit} jobs run at once)",
                    ),
                )

    def _forget(self, job: Job) -> None:
        self.active.pop(job.id, None)
        self.store.delete(job.id)
        shutil.rmtree(job.job_dir, ignore_errors=True)
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
        """Merge what a spawner learned into the job, persist it, emit an event if it matters."""
        job = self.active.get(job_id)
        if job is None:
            return  # already final: late news is ignored
        before = {f: getattr(job, f) for f in EVENT_FIELDS}
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
        if job.status in FINAL_STATUSES:
            if job.finished_at is None:
                job.finished_at = utcnow()
            self.active.pop(job.id, None)
            self.store.save(job)
            self._emit("updated", job)
            spawner = self.spawners.get(job.backend)
            if spawner is not None and self.waiting.get(job.backend):
                task = asyncio.ensure_future(self._start_waiting_logged(job.backend))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
            return
        changed = any(getattr(job, f) != v for f, v in before.items())
        if changed:
            self.store.save(job)
            self._emit("updated", job)

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
                self.apply_update(job.id, JobUpdate(reason=reason))

    def _engine_back(self, backend: str) -> None:
        reason = self._engine_down.pop(backend, None)
        if reason is None:
            return
        for job in list(self.active.values()):
            if job.backend == backend and job.reason == reason:
                self.apply_update(job.id, JobUpdate(clear_reason=True))

    async def poll_backend(self, name: str) -> None:
        """One batched poll of a backend's active jobs."""
        spawner = self.spawners[name]
        jobs = [j for j in self.active.values() if j.backend == name and j.backend_ref]
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
        job = self.get(job_id)
        if job.is_final:
            raise Conflict(f"job {job_id} is already {job.status}")
        if not job.backend_ref:
            if job.id in self._starting:
                raise Conflict(f"job {job_id} is being started; try again in a moment")
            queue = self.waiting.get(job.backend)
            if queue is not None and job.id in queue:
                queue.remove(job.id)
            self.apply_update(
                job.id, JobUpdate(status=CANCELLED, reason="cancelled before it started")
            )
            return self.get(job_id)
        self.apply_update(job.id, JobUpdate(status=CANCELLING))
        spawner = self.get_spawner(job.backend)
        update = await spawner.cancel(job)
        if update:
            self.apply_update(job.id, update)
        return self.get(job_id)

    async def signal(self, job_id: str, signum: int) -> None:
        job = self.get(job_id)
        if job.is_final or not job.backend_ref:
            raise Conflict(f"job {job_id} is not running")
        await self.get_spawner(job.backend).signal(job, signum)

    async def rerun(self, job_id: str, overrides: Any) -> Job:
        old = self.get(job_id)
        if old.kind == "kernel":
            raise BadRequest("a kernel job cannot be rerun: start a new kernel instead")
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
        else:
            body.pop("parameters")
        body.update(overrides or {})
        return await self.create(body)

    async def delete(self, job_id: str) -> None:
        job = self.get(job_id)
        if not job.is_final:
            raise Conflict(f"job {job_id} is {job.status}; cancel it before deleting it")
        spawner = self.spawners.get(job.backend)
        if spawner is not None:
            try:
                await spawner.cleanup(job)
            except Exception as e:
                self.log.warning("jupyter-jobs: cleanup of %s: %s", job_id, e)
        self._forget(job)

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
