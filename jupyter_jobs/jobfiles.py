"""The job directory and its file protocol: the one module that knows its files and their formats.

A job directory (``<job_root>/<id>/``) is shared by every server of the job root and by the runner
wherever the job runs (this machine, a compute node, a pod with the volume). It holds:

``job.json``     the job record (:meth:`Job.to_record` plus ``owner``): the source of truth. Written
                 only by the job's owner (one server at a time), atomically (temp file + rename).
``spec.json``    the runner's input: ``id, argv, env, cwd, cpus, memory, time_limit, cancel_grace,
                 usage_interval`` (written once, before the job is started).
``status.json``  the runner's account: ``state`` (see :data:`RUNNER_STATES`), ``pid``, ``pgid``,
                 ``runner_pid``, ``runner_create_time``, ``host``, ``started_at``, ``heartbeat_at``,
                 ``finished_at``, ``exit_code``, ``process_exit_code``, ``reason``.
``output.log``   stdout and stderr of the command. ``usage.jsonl``: CPU/memory samples.
``progress.json``  ``fraction, message, source (api|log|notebook), t``.
``results.json``  what the run recorded (``jupyter_jobs.record``): ``{name: scalar}``, merged
                 and replaced atomically by the job's own processes; the owner copies it into
                 ``job.json`` (``results``) when the job ends.
``input/``       the pinned inputs: the job's script or notebook as it was at submit
                 (``input/<basename>``, what runs) and the extra files copied with it (their
                 paths relative to its folder); written once, inside the job's creation.
``.notified``    made with ``O_EXCL`` by the one server that sends the job's notification.
``cancel.json``  a cancel request (``by``, ``at``), written by whichever server the user asked;
                 the owner and the runner both act on it.
``restart.json`` (kernel jobs) a restart of the kernel inside the same job: ``mode`` ``restart`` (the
                 kernel exits by itself, then starts again) or ``kill`` (the runner stops it now);
                 the runner bumps ``generation`` in ``status.json`` when the new kernel starts.
``.started``     made with ``O_EXCL`` by the runner that runs the command: a second runner for the
                 same job (a takeover that started it again) finds it and leaves at once.
``.takeover-<owner>``  made with ``O_EXCL`` by the server that takes the job over from a lapsed
                 owner: of several servers trying at once, exactly one wins.

Only atomic operations that NFS, Lustre, GPFS and sshfs all provide are used: ``rename`` within a
directory, ``mkdir``, ``open(O_CREAT|O_EXCL)``, and reads after ``open`` (close-to-open
consistency). Kept free of server imports: the runner and ``jupyter_jobs.progress`` import it inside
jobs (:func:`runner_update` imports the models lazily).
"""

from __future__ import annotations

import errno
import json
import math
import os
import socket
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import JobUpdate

RECORD = "job.json"
SPEC = "spec.json"
STATUS = "status.json"
LOG = "output.log"
USAGE = "usage.jsonl"
PROGRESS = "progress.json"
RESULTS = "results.json"
#: the pinned copies of the job's input file and its extra files (``input/<basename>``)
INPUT_DIR = "input"
RUNNER_LOG = "runner.log"
CANCEL = "cancel.json"
RESTART = "restart.json"
#: in the job root: one lease per server (:mod:`jupyter_jobs.ownership`)
SERVERS_DIR = ".servers"
STARTED = ".started"
TAKEOVER_PREFIX = ".takeover-"

#: ``status.json`` states: written by the runner at start and at the end
STARTING, RUNNING = "starting", "running"
COMPLETED, FAILED, CANCELLED = "completed", "failed", "cancelled"
RUNNER_FINAL_STATES = frozenset({COMPLETED, FAILED, CANCELLED})
RUNNER_STATES = frozenset({STARTING, RUNNING}) | RUNNER_FINAL_STATES
#: seconds between two ``heartbeat_at`` stamps of a running runner
HEARTBEAT_INTERVAL = 10.0
#: exit code of a runner that found the job started by another runner (it did nothing)
ALREADY_STARTED_EXIT = 3
#: set to tell apart "hosts" that are one machine (the two-host tests; containers sharing a kernel)
ENV_HOST = "JUPYTER_JOBS_HOST"


def host_id() -> str:
    """This host's name as jobs record it (``JUPYTER_JOBS_HOST`` overrides the hostname); the
    server and the runner both use it."""
    return os.environ.get(ENV_HOST) or socket.gethostname()


# ---------------------------------------------------------------------- atomic writes and reads


def write_json(path: str, data: Any, *, fsync: bool = False) -> None:
    """Write JSON atomically (temp file + rename), so a reader never sees half a file.

    ``fsync``: make it durable before the rename (the job record: a server killed mid-write, or a
    host that loses power, leaves the old record or the new one, never an empty file).
    """
    d = os.path.dirname(path) or "."
    tmp = os.path.join(d, f".tmp-{os.getpid()}-{os.urandom(6).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_json(path: str) -> Any:
    """The JSON in ``path``, or None when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def create_exclusive(path: str, data: dict[str, Any] | None = None) -> bool:
    """Create ``path`` if nobody has (``O_CREAT|O_EXCL``, atomic on NFSv3+ and over SFTP).

    True for the one caller that made it; False when it exists already.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except PermissionError:
        # SFTP (sshfs) has no "already exists" status: the loser of a race may get EPERM
        if os.path.lexists(path):
            return False
        raise
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data or {}, f)
    return True


def is_disk_full(e: BaseException) -> bool:
    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)


# ---------------------------------------------------------------------- the runner's files


def read_status(job_dir: str) -> dict[str, Any] | None:
    """``status.json`` when it holds a known state, else None."""
    status = read_json(os.path.join(job_dir, STATUS))
    if isinstance(status, dict) and status.get("state") in RUNNER_STATES:
        return status
    return None


def runner_final(status: dict[str, Any] | None) -> bool:
    return bool(status) and (status or {}).get("state") in RUNNER_FINAL_STATES


def read_progress(job_dir: str) -> dict[str, Any] | None:
    """The job's progress in its public form (``fraction``, ``message``), or None."""
    data = read_json(os.path.join(job_dir, PROGRESS))
    if not isinstance(data, dict) or "fraction" not in data:
        return None
    return {"fraction": data.get("fraction"), "message": data.get("message")}


#: the largest ``results.json`` read (bytes); ``jupyter_jobs.record`` writes at most 1 MiB
MAX_RESULTS_BYTES = 1 << 20


def read_results(job_dir: str) -> dict[str, Any] | None:
    """What the run recorded (``results.json``: ``{name: scalar}``), or None when nothing is
    (or the file is not such a mapping, or larger than :data:`MAX_RESULTS_BYTES`). Only scalars
    are kept, and only finite numbers."""
    try:
        with open(os.path.join(job_dir, RESULTS), "rb") as f:
            raw = f.read(MAX_RESULTS_BYTES + 1)
        data = json.loads(raw) if len(raw) <= MAX_RESULTS_BYTES else None
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return {
        str(k): v
        for k, v in data.items()
        if v is None
        or isinstance(v, (bool, int, str))
        or (isinstance(v, float) and math.isfinite(v))
    }


def log_size(job_dir: str) -> int:
    try:
        return os.stat(os.path.join(job_dir, LOG)).st_size
    except OSError:
        return 0


def log_tail(job_dir: str, lines: int = 20, max_bytes: int = 16384, name: str = LOG) -> str:
    """The last ``lines`` lines of the job's ``output.log`` (or another file of the job)."""
    try:
        with open(os.path.join(job_dir, name), "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def read_usage(job_dir: str, limit: int = 5000) -> list[dict[str, Any]]:
    """The usage samples (``usage.jsonl``), at most the last ``limit``."""
    samples: list[dict[str, Any]] = []
    try:
        with open(os.path.join(job_dir, USAGE), encoding="utf-8") as f:
            for line in f:
                try:
                    samples.append(json.loads(line))
                except ValueError:
                    continue  # a line being written right now
    except OSError:
        return []
    return samples[-limit:]


def heartbeat_age(status: dict[str, Any] | None, now: float | None = None) -> float | None:
    """Seconds since a running runner last stamped ``status.json`` (None: it never did)."""
    stamp = (status or {}).get("heartbeat_at")
    if not isinstance(stamp, (int, float)):
        return None
    return (time.time() if now is None else now) - float(stamp)


def runner_update(status: dict[str, Any] | None) -> JobUpdate | None:
    """A JobUpdate from the runner's ``status.json`` (None when there is nothing yet)."""
    from .models import JobUpdate, parse_time

    if not status or status.get("state") not in RUNNER_STATES:
        return None
    runner_state = status["state"]
    update = JobUpdate(host=status.get("host"))
    if status.get("started_at"):
        update.started_at = parse_time(status["started_at"])
    if runner_state in RUNNER_FINAL_STATES:
        update.status = runner_state
        update.exit_code = status.get("exit_code")
        update.reason = status.get("reason")
        update.clear_reason = update.reason is None
        if status.get("finished_at"):
            update.finished_at = parse_time(status["finished_at"])
    elif runner_state == RUNNING:
        update.status = RUNNING
    return update


def files_update(job_dir: str, update: JobUpdate | None = None) -> JobUpdate:
    """``update`` (or a new one) with what the runner's files say now: progress and log size."""
    from .models import JobUpdate

    update = update if update is not None else JobUpdate()
    update.progress = read_progress(job_dir)
    update.log_size = log_size(job_dir)
    return update


# ---------------------------------------------------------------------- requests between servers


def request_cancel(job_dir: str, by: str) -> None:
    """Ask for the job to be cancelled: its owner and its runner both act on it."""
    if not os.path.exists(os.path.join(job_dir, CANCEL)):
        write_json(os.path.join(job_dir, CANCEL), {"by": by, "at": time.time()})


def cancel_requested(job_dir: str) -> bool:
    try:
        # open, not stat: on NFS an open revalidates (close-to-open), a stat may be cached
        with open(os.path.join(job_dir, CANCEL), "rb"):
            return True
    except OSError:
        return False


def takeover_marker(job_dir: str, previous_owner: str | None) -> str:
    return os.path.join(job_dir, f"{TAKEOVER_PREFIX}{previous_owner or 'none'}")
