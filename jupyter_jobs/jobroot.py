"""The job root: one directory per job, shared by every server of the user (on one host or many).

Jobs are created whole or not at all: the directory is filled under a temporary name and renamed
into place, so another server (or a crash) never sees a job without its ``job.json`` and
``spec.json``. Deletion renames it away first, for the same reason. See
:mod:`jupyter_jobs.jobfiles` for what each directory holds.
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Any, Callable

from . import jobfiles
from .exceptions import StorageFull
from .models import Job

JOB_ID_RE = re.compile(r"^[0-9a-f]{32}$")


class JobRoot:
    def __init__(self, path: str):
        self.path = os.path.abspath(path)

    def job_dir(self, job_id: str) -> str:
        return os.path.join(self.path, job_id)

    # ------------------------------------------------------------------ create, write, remove

    def create(
        self,
        job: Job,
        files: dict[str, Any],
        copies: dict[str, str] | None = None,
        fill: Callable[[str], None] | None = None,
    ) -> None:
        """Make ``job``'s directory with ``job.json``, ``files`` (name → JSON) and ``copies``
        (a path in the job's directory → the file copied there: the pinned inputs) in one step.
        ``fill(tmp)`` writes anything else into the directory before it is put in place (the
        next run of a SLURM schedule: its batch script and inputs, carried from the run before).

        Raises :class:`StorageFull` (and leaves nothing behind) when the disk or quota is full;
        a copy that fails (the file went away since the request was checked) raises OSError,
        and leaves nothing behind either.
        """
        tmp = os.path.join(self.path, f".new-{job.id}")
        try:
            os.makedirs(tmp, mode=0o700)
            for name, data in files.items():
                jobfiles.write_json(os.path.join(tmp, name), data)
            for rel, source in (copies or {}).items():
                dest = os.path.join(tmp, rel)
                os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
                shutil.copyfile(source, dest)  # the content only: the copy is the job's own
                os.chmod(dest, 0o600)
            if fill is not None:
                fill(tmp)
            jobfiles.write_json(os.path.join(tmp, jobfiles.RECORD), job.to_record(), fsync=True)
            os.rename(tmp, job.job_dir)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            if jobfiles.is_disk_full(e):
                raise StorageFull(
                    f"no space left for the job in {self.path} (disk or quota full):"
                    " free some space, e.g. delete old jobs, and submit again"
                ) from e
            raise

    def write_record(self, job: Job) -> None:
        """Replace ``job.json`` (only the job's owner calls this)."""
        jobfiles.write_json(os.path.join(job.job_dir, jobfiles.RECORD), job.to_record(), fsync=True)

    def remove(self, job_id: str) -> None:
        """Delete a job's directory; other servers drop the job when they no longer find it."""
        path = self.job_dir(job_id)
        trash = os.path.join(self.path, f".trash-{job_id}-{os.urandom(4).hex()}")
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return
        except OSError:
            trash = path
        shutil.rmtree(trash, ignore_errors=True)

    def sweep(self) -> None:
        """Remove what interrupted creates and deletes left (a server killed in between)."""
        try:
            entries = list(os.scandir(self.path))
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith((".new-", ".trash-")) and entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)

    # ------------------------------------------------------------------ read

    def read_record(self, job_id: str) -> Job | None:
        if not JOB_ID_RE.match(job_id):
            return None
        data = jobfiles.read_json(os.path.join(self.job_dir(job_id), jobfiles.RECORD))
        if not isinstance(data, dict) or data.get("id") != job_id:
            return None
        try:
            job = Job.from_record(data)
        except (TypeError, ValueError):
            return None
        job.job_dir = self.job_dir(job_id)  # as this host mounts the job root
        return job

    def ids(self) -> set[str]:
        """The ids of the jobs in the job root now (one directory listing)."""
        try:
            with os.scandir(self.path) as it:
                return {e.name for e in it if JOB_ID_RE.match(e.name)}
        except OSError:
            return set()
