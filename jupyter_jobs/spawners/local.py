"""LocalSpawner: jobs on the Jupyter server's own machine.

Each job is ``python -m jupyter_jobs.runner JOB_DIR`` started in its own session, so it survives the
server (SIGTERM or SIGKILL). The server learns of a runner's exit at once through a pidfd (Linux ≥ 5.3;
it works for processes that are not our children, i.e. after a restart too), and polls ``status.json``
and ``progress.json`` once a second for the rest.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from typing import Any

import psutil
from traitlets import Float, Integer, default

from .. import jobfiles
from ..exceptions import BadRequest
from ..models import CANCELLED, LOST, RUNNING, Job, JobUpdate, utcnow
from ..ownership import host_id, process_alive
from ..runner import STOP_SIGNALS
from ..units import format_bytes
from .base import Spawner


def _ended_without_result(job_dir: str, why: str) -> JobUpdate:
    """A runner that is gone without a final status: cancelled if a cancel was asked (it may have
    died of the very signal before its handlers were in place), else lost."""
    if jobfiles.cancel_requested(job_dir):
        return JobUpdate(status=CANCELLED, reason="cancelled")
    return JobUpdate(status=LOST, reason=why)


class LocalSpawner(Spawner):
    """Runs jobs on the server's machine, at most :attr:`max_concurrent` at once."""

    name = "local"
    supported_resources = ("cpus", "memory", "time_limit")
    uses_runner = True

    max_concurrent = Integer(
        help="""How many local jobs run at once on this host, counted over every server of the job
        root on it; the rest wait as ``queued`` and start in order. Default: the number of CPUs.
        ``c.LocalSpawner.max_concurrent = 4``.""",
    ).tag(config=True)

    @default("max_concurrent")
    def _default_max(self) -> int:
        return os.cpu_count() or 1

    lost_after = Float(
        60.0,
        help="""Seconds without a heartbeat from a job's runner on another host (one that shares the
        job root) before the job is marked ``lost``; runners stamp ``status.json`` every 10 s.""",
    ).tag(config=True)

    @default("display_name")
    def _default_display_name(self) -> str:
        return "This server"

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self._watched: dict[str, tuple[int, subprocess.Popen | None]] = {}

    def default_profiles(self) -> list[dict[str, Any]]:
        return [
            {
                "name": "default",
                "display_name": "Default",
                "description": f"Runs on {host_id()} with up to {os.cpu_count()} CPUs",
                "resources": {},
                "kernels": False,
            }
        ]

    def check_resources(self, resources: dict[str, Any]) -> None:
        ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        if resources.get("cpus", 0) > (ncpu or 1):
            raise BadRequest(
                f"CPUs: {resources['cpus']} is more than this machine has ({ncpu})",
                field="resources.cpus",
            )
        total = psutil.virtual_memory().total
        if resources.get("memory", 0) > total:
            raise BadRequest(
                f"Memory: {format_bytes(resources['memory'])} is more than this machine has"
                f" ({format_bytes(total)})",
                field="resources.memory",
            )

    def runner_spec(self, job: Job) -> dict[str, Any]:
        r = job.resources
        return {"cpus": r.get("cpus"), "memory": r.get("memory"), "time_limit": r.get("time_limit")}

    # ------------------------------------------------------------------ engine

    async def submit(self, job: Job) -> JobUpdate:
        log = open(os.path.join(job.job_dir, jobfiles.RUNNER_LOG), "ab")
        # the runner starts with the stop signals blocked and unblocks them once it handles them:
        # a cancel that comes right after the start waits for it instead of killing it unheard
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            proc = subprocess.Popen(
                self.runner_argv(job),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=job.job_dir,
                start_new_session=True,
                close_fds=True,
            )
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
            log.close()
        try:
            create_time = psutil.Process(proc.pid).create_time()
        except psutil.Error:
            create_time = None
        self._watch(job.id, proc.pid, proc)
        return JobUpdate(
            status=RUNNING,
            backend_ref=str(proc.pid),
            host=host_id(),
            started_at=utcnow(),
            state={"runner_pid": proc.pid, "runner_create_time": create_time},
            clear_reason=True,
        )

    def _watch(self, job_id: str, pid: int, proc: subprocess.Popen | None) -> None:
        """Be told the moment the runner exits (pidfd readable), whoever its parent is."""
        try:
            fd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            return  # no pidfd: the 1 s poll will notice
        self._watched[job_id] = (fd, proc)
        loop = asyncio.get_running_loop()
        loop.add_reader(fd, self._runner_exited, job_id)

    def _unwatch(self, job_id: str) -> None:
        entry = self._watched.pop(job_id, None)
        if entry is None:
            return
        fd, proc = entry
        try:
            asyncio.get_running_loop().remove_reader(fd)
        except RuntimeError:
            pass
        os.close(fd)
        if proc is not None:
            proc.poll()  # reap our child

    def _runner_exited(self, job_id: str) -> None:
        job_dir = os.path.join(self.job_root, job_id)
        self._unwatch(job_id)
        status = jobfiles.read_status(job_dir)
        update = jobfiles.runner_update(status)
        if update is None or update.status not in jobfiles.RUNNER_FINAL_STATES:
            other = self._other_runner(status)
            if other is not None:
                # the runner we started found the job started by another one (a takeover): follow it
                self._watch(job_id, other[0], None)
                if self.notify:
                    self.notify(
                        job_id,
                        JobUpdate(
                            backend_ref=str(other[0]),
                            state={"runner_pid": other[0], "runner_create_time": other[1]},
                        ),
                    )
                return
            update = _ended_without_result(
                job_dir,
                "the job's runner process ended without recording a result"
                " (killed with SIGKILL?); exit status unknown",
            )
        if self.notify:
            self.notify(job_id, jobfiles.files_update(job_dir, update))

    @staticmethod
    def _other_runner(status: dict[str, Any] | None) -> tuple[int, float | None] | None:
        """The live runner that ``status.json`` names, if one runs on this host."""
        if not status or status.get("host") != host_id():
            return None
        pid, create_time = status.get("runner_pid"), status.get("runner_create_time")
        if pid and process_alive(pid, create_time):
            return int(pid), create_time
        return None

    def _on_other_host(self, job: Job) -> bool:
        return bool(job.host) and job.host != host_id()

    async def poll(self, jobs: list[Job]) -> dict[str, JobUpdate]:
        updates: dict[str, JobUpdate] = {}
        for job in jobs:
            status = jobfiles.read_status(job.job_dir)
            update = jobfiles.runner_update(status) or JobUpdate()
            if update.status not in jobfiles.RUNNER_FINAL_STATES:
                if self._on_other_host(job):
                    update = self._remote_update(job, status, update)
                elif not process_alive(
                    job.state.get("runner_pid"), job.state.get("runner_create_time")
                ):
                    # re-read: the runner may have finished between the two looks
                    status = jobfiles.read_status(job.job_dir)
                    update = jobfiles.runner_update(status) or JobUpdate()
                    if update.status not in jobfiles.RUNNER_FINAL_STATES:
                        other = self._other_runner(status)
                        if other is not None:
                            update = JobUpdate(
                                backend_ref=str(other[0]),
                                state={"runner_pid": other[0], "runner_create_time": other[1]},
                            )
                        else:
                            update = _ended_without_result(
                                job.job_dir,
                                "the job's runner process is gone without a recorded result"
                                " (killed with SIGKILL, or the machine restarted)",
                            )
                if job.status == "cancelling" and update.status == RUNNING:
                    update.status = None
            updates[job.id] = jobfiles.files_update(job.job_dir, update)
        return updates

    def _remote_update(
        self, job: Job, status: dict[str, Any] | None, update: JobUpdate
    ) -> JobUpdate:
        """A job whose runner is on another host: its files are all we see; no pid is checked."""
        age = jobfiles.heartbeat_age(status)
        if age is not None and age > self.lost_after:
            return _ended_without_result(
                job.job_dir,
                f"no word from the job's runner on {job.host} for {int(age)} s"
                " (the host went down or lost the shared filesystem)",
            )
        return update

    async def reattach(self, job: Job) -> JobUpdate | None:
        update = (await self.poll([job]))[job.id]
        pid = (update.state or {}).get("runner_pid") or job.state.get("runner_pid")
        final = update.status in jobfiles.RUNNER_FINAL_STATES or update.status == LOST
        if not final and update.status != CANCELLED and pid and not self._on_other_host(job):
            self._watch(job.id, int(pid), None)
        return update

    async def recover(self, job: Job) -> JobUpdate | None:
        status = jobfiles.read_status(job.job_dir)
        other = self._other_runner(status)
        if other is not None:
            return JobUpdate(
                status=RUNNING,
                backend_ref=str(other[0]),
                host=host_id(),
                state={"runner_pid": other[0], "runner_create_time": other[1]},
            )
        return None

    async def cancel(self, job: Job) -> JobUpdate | None:
        if self._on_other_host(job):
            return None  # its runner acts on cancel.json (the manager wrote it)
        pid = job.state.get("runner_pid")
        if pid and process_alive(pid, job.state.get("runner_create_time")):
            os.kill(int(pid), signal.SIGTERM)  # the runner stops the whole tree and records it
            return None
        # no runner: kill what is left of the job's process group ourselves
        status = jobfiles.read_status(job.job_dir) or {}
        if status.get("pgid"):
            try:
                os.killpg(int(status["pgid"]), signal.SIGKILL)
            except OSError:
                pass
        return JobUpdate(status=CANCELLED, reason="cancelled (the runner was already gone)")

    async def signal(self, job: Job, signum: int) -> None:
        status = jobfiles.read_status(job.job_dir) or {}
        pgid = status.get("pgid")
        if not pgid:
            raise BadRequest("the job has not started its command yet")
        try:
            os.killpg(int(pgid), signum)
        except ProcessLookupError:
            pass

    async def stop(self) -> None:
        for job_id in list(self._watched):
            self._unwatch(job_id)
