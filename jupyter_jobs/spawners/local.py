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
import socket
import subprocess
from typing import Any

import psutil
from traitlets import Integer, default

from .. import jobfiles
from ..exceptions import BadRequest
from ..models import CANCELLED, LOST, RUNNING, Job, JobUpdate, describe_memory, parse_time, utcnow
from .base import Spawner

RUNNER_STATES = {"completed", "failed", "cancelled"}


def status_update(status: dict[str, Any] | None) -> JobUpdate | None:
    """A JobUpdate from the runner's status.json (None when there is nothing yet)."""
    if not isinstance(status, dict) or not status.get("state"):
        return None
    state = status["state"]
    update = JobUpdate(host=status.get("host"))
    if status.get("started_at"):
        update.started_at = parse_time(status["started_at"])
    if state in RUNNER_STATES:
        update.status = state
        update.exit_code = status.get("exit_code")
        update.reason = status.get("reason")
        update.clear_reason = update.reason is None
        if status.get("finished_at"):
            update.finished_at = parse_time(status["finished_at"])
    elif state == "running":
        update.status = RUNNING
    return update


def progress_of(job: Job) -> dict[str, Any] | None:
    data = jobfiles.read_json(os.path.join(job.job_dir, jobfiles.PROGRESS))
    if not isinstance(data, dict) or "fraction" not in data:
        return None
    return {"fraction": data.get("fraction"), "message": data.get("message")}


def runner_alive(pid: int | None, create_time: float | None) -> bool:
    """Whether the runner with this pid and start time still runs (pids are reused)."""
    if not pid:
        return False
    try:
        p = psutil.Process(int(pid))
        if create_time is not None and abs(p.create_time() - float(create_time)) > 0.05:
            return False
        return p.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, ValueError):
        return False


class LocalSpawner(Spawner):
    """Runs jobs on the server's machine, at most :attr:`max_concurrent` at once."""

    name = "local"
    supported_resources = ("cpus", "memory", "time_limit")
    uses_runner = True

    max_concurrent = Integer(
        help="""How many local jobs run at once; the rest wait as ``queued`` and start in order.
        Default: the number of CPUs. ``c.LocalSpawner.max_concurrent = 4``.""",
    ).tag(config=True)

    @default("max_concurrent")
    def _default_max(self) -> int:
        return os.cpu_count() or 1

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
                "description": f"Runs on {socket.gethostname()} with up to {os.cpu_count()} CPUs",
                "resources": {},
                "kernels": False,
            }
        ]

    def check_resources(self, resources: dict[str, Any]) -> None:
        ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        if resources.get("cpus", 0) > (ncpu or 1):
            raise BadRequest(
                f"cpus={resources['cpus']} is more than this machine has ({ncpu})",
                field="resources.cpus",
            )
        total = psutil.virtual_memory().total
        if resources.get("memory", 0) > total:
            raise BadRequest(
                f"memory={describe_memory(resources['memory'])} is more than this machine has"
                f" ({describe_memory(total)})",
                field="resources.memory",
            )

    def runner_spec(self, job: Job) -> dict[str, Any]:
        r = job.resources
        return {"cpus": r.get("cpus"), "memory": r.get("memory"), "time_limit": r.get("time_limit")}

    # ------------------------------------------------------------------ engine

    async def submit(self, job: Job) -> JobUpdate:
        log = open(os.path.join(job.job_dir, jobfiles.RUNNER_LOG), "ab")
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
            log.close()
        try:
            create_time = psutil.Process(proc.pid).create_time()
        except psutil.Error:
            create_time = None
        state = {"runner_pid": proc.pid, "runner_create_time": create_time}
        job.state.update(state)
        self._watch(job.id, proc.pid, proc)
        return JobUpdate(
            status=RUNNING,
            backend_ref=str(proc.pid),
            host=socket.gethostname(),
            started_at=utcnow(),
            state=state,
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
        status = jobfiles.read_json(os.path.join(job_dir, jobfiles.STATUS))
        update = status_update(status)
        if update is None or update.status not in RUNNER_STATES:
            update = JobUpdate(
                status=LOST,
                reason="the job's runner process ended without recording a result"
                " (killed with SIGKILL?); exit status unknown",
            )
        job = Job(id=job_id, name="", kind="", backend=self.name, profile="", job_dir=job_dir)
        update.progress = progress_of(job)
        update.log_size = self._log_size(job_dir)
        if self.notify:
            self.notify(job_id, update)

    @staticmethod
    def _log_size(job_dir: str) -> int:
        try:
            return os.stat(os.path.join(job_dir, jobfiles.LOG)).st_size
        except OSError:
            return 0

    async def poll(self, jobs: list[Job]) -> dict[str, JobUpdate]:
        updates: dict[str, JobUpdate] = {}
        for job in jobs:
            status = jobfiles.read_json(os.path.join(job.job_dir, jobfiles.STATUS))
            update = status_update(status) or JobUpdate()
            if update.status not in RUNNER_STATES:
                pid = job.state.get("runner_pid")
                if not runner_alive(pid, job.state.get("runner_create_time")):
                    # re-read: the runner may have finished between the two looks
                    status = jobfiles.read_json(os.path.join(job.job_dir, jobfiles.STATUS))
                    update = status_update(status) or JobUpdate()
                    if update.status not in RUNNER_STATES:
                        update = JobUpdate(
                            status=LOST,
                            reason="the job's runner process is gone without a recorded result"
                            " (killed with SIGKILL, or the machine restarted)",
                        )
                if job.status == "cancelling" and update.status == RUNNING:
                    update.status = None
            update.progress = progress_of(job)
            update.log_size = self._log_size(job.job_dir)
            updates[job.id] = update
        return updates

    async def reattach(self, job: Job) -> JobUpdate | None:
        update = (await self.poll([job]))[job.id]
        if update.status not in RUNNER_STATES and update.status != LOST:
            self._watch(job.id, int(job.state["runner_pid"]), None)
        return update

    async def cancel(self, job: Job) -> JobUpdate | None:
        pid = job.state.get("runner_pid")
        if pid and runner_alive(pid, job.state.get("runner_create_time")):
            os.kill(int(pid), signal.SIGTERM)  # the runner stops the whole tree and records it
            return None
        # no runner: kill what is left of the job's process group ourselves
        status = jobfiles.read_json(os.path.join(job.job_dir, jobfiles.STATUS)) or {}
        if status.get("pgid"):
            try:
                os.killpg(int(status["pgid"]), signal.SIGKILL)
            except OSError:
                pass
        return JobUpdate(status=CANCELLED, reason="cancelled (the runner was already gone)")

    async def signal(self, job: Job, signum: int) -> None:
        status = jobfiles.read_json(os.path.join(job.job_dir, jobfiles.STATUS)) or {}
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
