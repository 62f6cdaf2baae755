"""The Spawner base class: the one interface every backend (local, SLURM, Kubernetes, third party) implements.

Who calls what: the :class:`~jupyter_jobs.manager.JobManager` owns every job and every state change. It
creates one spawner per enabled backend at start, calls :meth:`Spawner.start`, then for each job it
owns :meth:`submit`, periodically :meth:`poll` (one call with all of the backend's active jobs of this
server), and on user request :meth:`cancel`. Spawners only talk to their engine and answer with
:class:`~jupyter_jobs.models.JobUpdate` objects; they may also push updates at any time through
:attr:`notify` (a watch, a process-exit notification). A spawner never changes a :class:`Job`: what it
wants to keep goes in ``JobUpdate.state``, which the manager merges into ``job.state`` and saves.
The runner's files are read through :mod:`jupyter_jobs.jobfiles` only.

Third-party spawners register under the entry-point group ``jupyter_jobs.spawners``.
"""

from __future__ import annotations

import os
import sys
from abc import ABCMeta, abstractmethod
from typing import Any, Callable, ClassVar

from traitlets import Bool, Dict, Float, Integer, List, Unicode, default
from traitlets.config import LoggingConfigurable

from ..exceptions import BadRequest
from ..models import Job, JobUpdate, check_max_resources, normalize_resources
from ..wire import label

Notify = Callable[[str, JobUpdate], None]


class LogReader:
    """Reads a job's log by byte offset. The default reads ``JOB_DIR/output.log``."""

    def __init__(self, path: str):
        self.path = path

    async def size(self) -> int:
        try:
            return os.stat(self.path).st_size
        except FileNotFoundError:
            return 0

    async def read(self, offset: int, limit: int) -> bytes:
        try:
            with open(self.path, "rb") as f:
                f.seek(offset)
                return f.read(limit)
        except FileNotFoundError:
            return b""


class SpawnerMeta(ABCMeta, type(LoggingConfigurable)):  # type: ignore[misc]
    """Lets a traitlets class also be an ABC (as jupyter_client's provisioners do)."""


class Spawner(LoggingConfigurable, metaclass=SpawnerMeta):  # type: ignore[metaclass]
    """Base class of a job backend.

    Subclasses set :attr:`name` (the backend name in the REST API) and :attr:`supported_resources`,
    and implement :meth:`submit`, :meth:`poll` and :meth:`cancel`.
    """

    #: backend name used in the REST API and in config (``"local"``, ``"slurm"``, …)
    name: ClassVar[str] = ""
    #: resource keys this backend honours; any other key is a 400
    supported_resources: ClassVar[tuple[str, ...]] = ()
    #: whether profiles of this backend may offer remote kernels
    supports_kernels: ClassVar[bool] = False
    #: whether jobs are wrapped by ``python -m jupyter_jobs.runner`` (writes status.json, usage, progress)
    uses_runner: ClassVar[bool] = True
    #: whether the spawner gives each kernel's address itself (:meth:`kernel_connection_info`: fixed
    #: ports, an IP per kernel, as pods have); otherwise the kernel writes its ports into the shared
    #: connection file and is reached on its job's node
    addresses_kernels: ClassVar[bool] = False
    #: CPUs a job that asks for none gets (for its efficiency summary); None: not fixed (all of
    #: the host's, or whatever the engine gives)
    default_cpus: ClassVar[int | None] = None

    display_name = Unicode(help="Name shown in the UI.").tag(config=True)

    enabled = Bool(
        True,
        help="""Offer this backend. A backend whose engine is missing is listed as unavailable
        with the reason; set False to hide it entirely, e.g. ``c.SlurmSpawner.enabled = False``.""",
    ).tag(config=True)

    profiles = List(
        Dict(),
        help="""Admin-defined profiles. Each is a dict with ``name``, ``display_name``,
        ``description``, ``resources`` (defaults, in the shared vocabulary: ``cpus``, ``memory``
        like "4G", ``gpus``, ``time_limit`` seconds or "HH:MM:SS", ``partition``, ``account``,
        ``qos``, ``image``, ``extra``), ``max_resources`` (the most a user may ask for; absent
        means no limit beyond the backend's own) and ``kernels`` (offer remote kernels). Empty:
        one ``default`` profile. Example::

            c.SlurmSpawner.profiles = [{"name": "gpu", "display_name": "GPU",
                "resources": {"gpus": 1, "cpus": 8, "memory": "32G", "time_limit": "04:00:00"},
                "max_resources": {"cpus": 16, "memory": "64G"}, "kernels": True}]
        """,
    ).tag(config=True)

    poll_interval = Float(
        1.0,
        help="Seconds between two polls of this backend's active jobs (one batched call each).",
    ).tag(config=True)

    max_concurrent = Integer(
        0,
        help="""How many jobs of this backend run at once on this host (0: no limit here; the
        engine queues them). Counted over every server of the job root on the host.""",
    ).tag(config=True)

    runner_python = Unicode(
        help="""Python that runs ``python -m jupyter_jobs.runner`` where the job runs; default: the
        server's own interpreter (right when jobs run on a machine that shares its filesystem).""",
    ).tag(config=True)

    @default("runner_python")
    def _default_runner_python(self) -> str:
        return sys.executable

    #: set by the manager: directory holding one directory per job
    job_root: str = ""
    #: set by the manager: push an update for a job at any time (watch event, process exit)
    notify: Notify | None = None

    # ------------------------------------------------------------------ lifecycle hooks

    async def start(self) -> None:
        """Called once when the server starts, after :attr:`job_root` and :attr:`notify` are set."""

    async def stop(self) -> None:
        """Called once when the server stops. Must not stop jobs: they outlive the server."""

    async def check_available(self) -> tuple[bool, str | None]:
        """``(available, reason)``; reason says what is missing, short and in the user's words."""
        return True, None

    async def availability(self) -> tuple[bool, str | None, str | None]:
        """``(available, reason, detail)`` for ``GET backends``: ``detail`` is the engine's own
        words behind the reason (a tool's raw output), shown on hover. Default: no detail."""
        ok, reason = await self.check_available()
        return ok, reason, None

    async def limits(self) -> dict[str, dict[str, Any]] | None:
        """The most one job can ever get, per partition (``""`` when the backend has none):
        ``{"cpus", "memory_bytes", "gpus", "max_time_seconds"}`` (None: unknown). Shown in the
        run dialog; requests above them are refused by :meth:`check_request`. Default: unknown."""
        return None

    def resource_defaults(self, resources: dict[str, Any]) -> dict[str, Any]:
        """What the engine gives a job with these resources for the keys it does not name
        (``cpus``, ``time_limit``), as far as known without asking the engine: for the job's
        efficiency summary. Default: :attr:`default_cpus`."""
        return {"cpus": self.default_cpus} if self.default_cpus else {}

    async def check_request(self, resources: dict[str, Any]) -> None:
        """Raise BadRequest for checked resources the engine can never give (read from the
        engine, e.g. no node is that large). Called before anything of the job is created."""

    # ------------------------------------------------------------------ profiles and resources

    def default_profiles(self) -> list[dict[str, Any]]:
        """Profiles used when the admin configured none."""
        return [
            {
                "name": "default",
                "display_name": "Default",
                "description": "",
                "resources": {},
                "kernels": self.supports_kernels,
            }
        ]

    def get_profiles(self) -> list[dict[str, Any]]:
        """The profiles users choose from, with defaults filled in (the ``GET backends`` form)."""
        out = []
        for p in self.profiles or self.default_profiles():
            p = dict(p)
            p.setdefault("display_name", p.get("name", ""))
            p.setdefault("description", "")
            p.setdefault("resources", {})
            p.setdefault("max_resources", {})
            p["kernels"] = bool(p.get("kernels", False)) and self.supports_kernels
            out.append(p)
        return out

    def resolve_profile(self, name: str | None) -> dict[str, Any]:
        profiles = self.get_profiles()
        if not name:
            return profiles[0]
        for p in profiles:
            if p.get("name") == name:
                return p
        known = ", ".join(repr(p.get("name")) for p in profiles)
        raise BadRequest(
            f"unknown profile {name!r} for backend {self.name!r}; known: {known}", field="profile"
        )

    def validate_resources(self, profile: dict[str, Any], overrides: Any) -> dict[str, Any]:
        """The profile's resources with the user's overrides applied, checked.

        Raises BadRequest for unknown or unsupported keys, bad units, values above the profile's
        ``max_resources`` and values this backend can never satisfy (:meth:`check_resources`).
        """
        requested = normalize_resources(overrides)
        for key in requested:
            if key not in self.supported_resources:
                raise BadRequest(
                    f"{label('resources.' + key)}: the {self.name} backend does not support"
                    f" resource {key!r}"
                    f" (it supports: {', '.join(self.supported_resources) or 'none'})",
                    field=f"resources.{key}",
                )
        merged = normalize_resources(profile.get("resources") or {}, field="profile.resources")
        merged.update(requested)
        check_max_resources(requested, profile.get("max_resources") or {})
        self.check_resources(merged)
        return merged

    def check_resources(self, resources: dict[str, Any]) -> None:
        """Raise BadRequest for requests this backend can never satisfy (more CPUs than exist…)."""

    def interpreter(self, profile: dict[str, Any], language: str) -> str | None:
        """The program that runs a script of ``language`` (``python``, ``bash``, ``R``), or None.

        A profile may name its own, e.g. ``{"python": "/opt/envs/ml/bin/python"}``.
        """
        if language == "python":
            return profile.get("python") or sys.executable
        return profile.get(language)

    # ------------------------------------------------------------------ the runner

    def runner_argv(self, job: Job) -> list[str]:
        """The argv that starts the runner for ``job`` where the job runs."""
        return [self.runner_python, "-m", "jupyter_jobs.runner", job.job_dir]

    def runner_spec(self, job: Job) -> dict[str, Any]:
        """Extra keys for ``spec.json`` (what the runner enforces itself). Default: nothing."""
        return {}

    # ------------------------------------------------------------------ the engine

    @abstractmethod
    async def submit(self, job: Job) -> JobUpdate:
        """Hand the job to the engine. ``spec.json`` is written already when :attr:`uses_runner`.

        Returns at least ``backend_ref`` and ``status`` (``queued`` or ``running``). Raise
        BadRequest when the engine refuses the request for a reason the user can fix (with the
        engine's own message), EngineUnavailable when it cannot be reached.
        """

    @abstractmethod
    async def poll(self, jobs: list[Job]) -> dict[str, JobUpdate]:
        """Learn the state of all these active jobs with as few engine calls as possible.

        Returns updates by job id; jobs whose state did not change may be left out. Raise
        EngineUnavailable when the engine cannot be reached: the manager then keeps every job as
        it is and sets the reason.
        """

    @abstractmethod
    async def cancel(self, job: Job) -> JobUpdate | None:
        """Stop the job (all its processes). Return an update if the final state is known now."""

    async def signal(self, job: Job, signum: int) -> None:
        """Send a signal to the job's processes."""
        raise BadRequest(f"the {self.name} backend cannot send signals to jobs")

    async def cleanup(self, job: Job) -> None:
        """Remove what the engine keeps of a finished job (called on delete)."""

    def kernel_connection_info(self, job: Job) -> dict[str, Any] | None:
        """For :attr:`addresses_kernels` spawners: the running kernel's ``ip`` and ports, or None
        while they are not known."""
        return None

    def log_reader(self, job: Job) -> LogReader:
        """A reader of the job's log (default: ``JOB_DIR/output.log``)."""
        return LogReader(os.path.join(job.job_dir, "output.log"))

    def get_state(self, job: Job) -> dict[str, Any]:
        """Private state to persist with the job (kept in the store)."""
        return dict(job.state)

    def load_state(self, job: Job, state: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned, when the server starts again."""
        job.state = dict(state)

    async def reattach(self, job: Job) -> JobUpdate | None:
        """Called for every active job this server takes on (at start, or from a server whose
        lease lapsed) that the engine knows (``backend_ref`` set); default: one :meth:`poll`."""
        return (await self.poll([job])).get(job.id)

    # ------------------------------------------------------------------ job definitions (schedules)

    def schedule_capability(self) -> str:
        """Who fires this backend's job definitions (docs/CONTRACT.md, "Job definitions"):
        ``"server"`` — a running Jupyter server of the job root does (the default, and the
        local backend's answer); ``"engine"`` — the engine does with no server running (SLURM's
        ``--begin``, a Kubernetes CronJob), and the spawner implements :meth:`arrange_next_run`
        and :meth:`withdraw_runs`. ``GET backends`` reports it as ``schedules``."""
        return "server"

    async def arrange_next_run(self, definition: dict[str, Any], occurrence: Any) -> None:
        """``"engine"`` backends: make the engine fire ``definition`` (its public JSON, with
        ``id``, ``revision``, the job fields, ``schedule``, ``timezone``, ``overlap``…) at
        ``occurrence`` (an aware UTC ``datetime``), e.g. a job held with ``--begin``, or a
        CronJob. Called when a definition is created, edited or resumed (after
        :meth:`withdraw_runs`); what runs then is a job with ``definition_id``,
        ``scheduled_for`` and ``attempt`` in its record, and arranges the one after itself."""
        raise NotImplementedError(f"the {self.name} backend's definitions are fired by the server")

    async def withdraw_runs(self, definition: dict[str, Any]) -> None:
        """``"engine"`` backends: remove what the engine holds for ``definition`` that has not
        started (a held job, a CronJob). Called when it is paused, edited or deleted, from any
        server of the job root; running runs are left alone."""

    async def recover(self, job: Job) -> JobUpdate | None:
        """A job taken over from a server that died while starting it (no ``backend_ref``): an
        update with ``backend_ref`` if the engine has it after all, else None (the manager then
        starts it again; the runner's ``.started`` keeps the command from running twice)."""
        return None
