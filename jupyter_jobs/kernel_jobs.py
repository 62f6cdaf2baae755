"""Jobs of kind ``kernel`` (remote kernels): started for the kernel provisioner, cancelled when
their server stops and when taken over from a server that is gone (nobody can use them then); a
live server's kernel jobs are never touched by another. A mixin of the JobManager."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .exceptions import BadRequest
from .models import CANCELLED, CANCELLING, Job, JobUpdate, new_job_id

if TYPE_CHECKING:
    import logging

    from .spawners.base import Spawner


class KernelJobsMixin:
    if TYPE_CHECKING:  # provided by the JobManager
        spawners: dict[str, Spawner]
        active: dict[str, Job]
        root_dir: str
        log: logging.Logger

        def apply_update(self, job_id: str, update: JobUpdate) -> None: ...
        def mine(self, job: Job) -> bool: ...
        def get_spawner(self, name: str | None) -> Spawner: ...
        async def add(
            self,
            job: Job,
            abs_cwd: str,
            spawner: Spawner,
            extra_spec: dict[str, Any] | None = None,
        ) -> Job: ...

    def resumable(self, job: Job) -> bool:
        """Whether a kernel job can be taken up again by a server after its own stopped: a
        server's kernel (not a standalone client's) that left its connection file."""
        info = job.state.get("kernel") or {}
        return (
            job.kind == "kernel"
            and job.state.get("client", "server") == "server"
            and bool(info.get("resumable"))
        )

    def note_kernel(self, job_id: str, **info: Any) -> None:
        """Record in the kernel job what it takes to reach its kernel again (:mod:`.kernels.resume`)."""
        job = self.active.get(job_id)
        if job is None:
            return
        merged = {**(job.state.get("kernel") or {}), **info}
        self.apply_update(job_id, JobUpdate(state={"kernel": merged}))

    async def end_kernel_job(self, job: Job, reason: str) -> None:
        try:
            if job.backend_ref:
                await self.spawners[job.backend].cancel(job)
        except Exception as e:
            self.log.warning("jupyter-jobs: cancelling kernel job %s: %s", job.id, e)
        self.apply_update(job.id, JobUpdate(status=CANCELLED, reason=reason))

    async def _cancel_orphan_kernel(self, job: Job) -> None:
        await self.end_kernel_job(
            job,
            "the Jupyter server that started this kernel is gone (an earlier server run): cancelled",
        )

    async def cancel_kernel_jobs(self, reason: str) -> None:
        """Cancel this server's kernel jobs that nobody can take up again (it is stopping: no
        allocation keeps burning); the resumable ones run on for the next server, ended by their
        runner after the grace period if none comes. Other servers' kernel jobs are theirs."""
        for job in [
            j
            for j in self.active.values()
            if j.kind == "kernel" and self.mine(j) and not self.resumable(j)
        ]:
            try:
                if job.backend_ref and job.status != CANCELLING:
                    await self.spawners[job.backend].cancel(job)
            except Exception as e:
                self.log.warning("jupyter-jobs: cancelling kernel job %s: %s", job.id, e)
            self.apply_update(job.id, JobUpdate(status=CANCELLED, reason=reason))

    async def create_kernel_job(
        self,
        *,
        backend: str,
        profile: str | None,
        argv: list[str],
        name: str,
        env: dict[str, str] | None = None,
        resources: dict[str, Any] | None = None,
        cwd: str | None = None,
        client: str = "server",
        server_grace: float = 0.0,
    ) -> Job:
        """Start a job of kind ``kernel`` (for the remote-kernel provisioner).

        ``argv`` runs under the runner like any job; ``resources`` are overrides of the profile's;
        ``client`` says who uses the kernel: a Jupyter server (``server``) or a standalone
        jupyter_client process (``standalone``, :mod:`jupyter_jobs.kernels.host`);
        ``server_grace``: seconds the job keeps running with no live owner before its runner ends
        it (0: never). The runner restarts the kernel in the same job on request (``restart.json``).
        """
        spawner = self.get_spawner(backend)
        if not spawner.supports_kernels:
            raise BadRequest(f"the {spawner.name} backend cannot run kernels", field="backend")
        prof = spawner.resolve_profile(profile)
        if not prof.get("kernels"):
            raise BadRequest(f"profile {prof['name']!r} does not offer kernels", field="profile")
        job = Job(
            id=new_job_id(),
            name=name,
            kind="kernel",
            backend=spawner.name,
            profile=prof["name"],
            command=list(argv),
            env=dict(env or {}),
            cwd="",
            resources=spawner.validate_resources(prof, resources or {}),
        )
        job.argv = list(argv)
        job.state = {"client": client}
        notebook = notebook_path((env or {}).get("JPY_SESSION_NAME"), self.root_dir)
        if notebook:
            job.state["notebook"] = notebook
        extra = {"restartable": True, "server_grace": server_grace}
        return await self.add(job, cwd or self.root_dir, spawner, extra_spec=extra)


def notebook_path(session_name: str | None, root_dir: str) -> str | None:
    """The notebook of a kernel as an API path (``work/analysis.ipynb``), from the
    ``JPY_SESSION_NAME`` jupyter_server gives the kernel it starts for a session: the notebook's
    absolute path (or its API path). None outside the server's root, or without one. The session
    itself is not listed until its kernel is up; a kernel that waits in the queue has only this."""
    if not session_name:
        return None
    if not os.path.isabs(session_name):
        rel = os.path.normpath(session_name)
    else:
        root = os.path.realpath(root_dir or "/")
        try:
            rel = os.path.relpath(os.path.realpath(session_name), root)
        except ValueError:
            return None
    if rel == "." or rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel):
        return None
    return rel.replace(os.sep, "/")
