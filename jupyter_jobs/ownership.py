"""Which server owns which job: server leases in the job root, and the local slots of a host.

Every server of a job root (several ``jupyter lab`` of one user, on one host or on many that share
the job root over NFS, Lustre, GPFS) has a **lease**: ``<job_root>/.servers/<server id>.json``
with its host, pid and a counter it raises every :attr:`renew_interval` seconds. A job's record
names its owner; only the owner starts, polls, cancels and writes the job. Another server takes a
job over only when the owner's lease has **lapsed**:

- the owner runs on this host and its process is gone (seen at once, pids are checked), or
- its lease file is gone (a clean stop removes it), or
- its counter did not move for ``lease_timeout`` seconds of this server's own clock (a host that
  died, a server SIGKILLed elsewhere). No clocks of two hosts are compared.

The takeover itself is one ``O_EXCL`` file per job and previous owner
(:func:`jobfiles.takeover_marker`): of several servers trying at once, exactly one wins.

Local jobs also share the machine's CPUs: :class:`HostSlots` is one counter of running local jobs per
host, a small JSON file on local disk under ``flock`` (local disk: ``flock`` is only trusted there).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psutil

from . import jobfiles
from .jobfiles import host_id

SERVERS_DIR = jobfiles.SERVERS_DIR

#: filesystems where SQLite's WAL and POSIX locks cannot be trusted across hosts
NETWORK_FILESYSTEMS = {
    "nfs",
    "nfs4",
    "lustre",
    "gpfs",
    "cifs",
    "smb3",
    "smbfs",
    "ceph",
    "glusterfs",
    "9p",
    "afs",
    "beegfs",
    "panfs",
    "wekafs",
    "ocfs2",
    "gfs2",
    "davfs",
}
#: FUSE filesystems that are local (the rest, fuse.sshfs, fuse.glusterfs…, count as network)
LOCAL_FUSE = {"fuse.fuse-overlayfs", "fuse.lxcfs", "fuse.portal", "fuse.gvfsd-fuse"}


def filesystem_type(path: str) -> str:
    """The type of the filesystem holding ``path`` (``ext4``, ``nfs4``, ``fuse.sshfs``…), from
    ``/proc/self/mountinfo``; ``""`` when it cannot be told."""
    target = os.path.realpath(path)
    while not os.path.exists(target):
        parent = os.path.dirname(target)
        if parent == target:
            break
        target = parent
    best, best_type = "", ""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                parts, rparts = left.split(), right.split()
                if len(parts) < 5 or not rparts:
                    continue
                mount = parts[4].replace("\\040", " ")
                inside = target == mount or target.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best):
                    best, best_type = mount, rparts[0]
    except OSError:
        return ""
    return best_type


def is_network_filesystem(path: str) -> bool:
    fs = filesystem_type(path)
    if fs in NETWORK_FILESYSTEMS:
        return True
    return fs == "fuse" or (fs.startswith("fuse.") and fs not in LOCAL_FUSE)


def index_location(job_root: str, db_path: str = "") -> tuple[str, bool]:
    """Where the job index of ``job_root`` lives, and whether that is a network filesystem
    (``db_path`` is the admin's explicit choice, see ``JobsApp.db_path``)."""
    if db_path:
        return db_path, is_network_filesystem(os.path.dirname(os.path.abspath(db_path)))
    if is_network_filesystem(job_root):
        return os.path.join(local_state_dir(), f"index-{root_key(job_root)}.db"), False
    return os.path.join(job_root, "jobs.db"), False


def local_state_dir() -> str:
    """A folder on this host's local disk for what must not live on a shared filesystem."""
    base = os.environ.get("JUPYTER_JOBS_LOCAL_STATE") or os.path.join(
        "/var/tmp" if os.path.isdir("/var/tmp") else "/tmp", f"jupyter-jobs-{os.getuid()}"
    )
    os.makedirs(base, mode=0o700, exist_ok=True)
    return base


def root_key(job_root: str) -> str:
    """A short name for a job root as seen from this host (for local files kept per job root)."""
    raw = f"{host_id()}\0{os.path.realpath(job_root)}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def process_alive(pid: Any, create_time: Any) -> bool:
    """Whether the process with this pid and start time still runs (pids are reused)."""
    if not pid:
        return False
    try:
        p = psutil.Process(int(pid))
        if create_time is not None and abs(p.create_time() - float(create_time)) > 0.05:
            return False
        return p.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, ValueError, TypeError):
        return False


def _my_create_time() -> float | None:
    try:
        return psutil.Process().create_time()
    except psutil.Error:
        return None


@dataclass
class _Seen:
    counter: Any
    since: float  # this server's monotonic clock when the counter last moved


@dataclass
class Leases:
    """This server's lease, and what it has seen of the others'."""

    job_root: str
    lease_timeout: float = 20.0
    server_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    host: str = field(default_factory=host_id)
    _counter: int = 0
    _seen: dict[str, _Seen] = field(default_factory=dict)

    @property
    def folder(self) -> str:
        return os.path.join(self.job_root, SERVERS_DIR)

    def path(self, server_id: str) -> str:
        return os.path.join(self.folder, f"{server_id}.json")

    def renew(self) -> None:
        """Write (or refresh) this server's lease."""
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        self._counter += 1
        jobfiles.write_json(
            self.path(self.server_id),
            {
                "id": self.server_id,
                "host": self.host,
                "pid": os.getpid(),
                "create_time": _my_create_time(),
                "counter": self._counter,
                "renewed_at": time.time(),
            },
        )

    def release(self) -> None:
        """A clean stop: the lease goes, so other servers take over our jobs at once."""
        try:
            os.unlink(self.path(self.server_id))
        except OSError:
            pass

    def alive(self, server_id: str | None) -> bool:
        """Whether the server ``server_id`` still holds its lease (see the module docstring)."""
        if not server_id:
            return False
        if server_id == self.server_id:
            return True
        lease = jobfiles.read_json(self.path(server_id))
        if not isinstance(lease, dict):
            self._seen.pop(server_id, None)
            return False
        if lease.get("host") == self.host:
            return process_alive(lease.get("pid"), lease.get("create_time"))
        now = time.monotonic()
        seen = self._seen.get(server_id)
        if seen is None or seen.counter != lease.get("counter"):
            self._seen[server_id] = _Seen(lease.get("counter"), now)
            return True
        return now - seen.since < self.lease_timeout

    def servers(self) -> list[dict[str, Any]]:
        """Every lease in the job root (live or lapsed), for ``GET servers``-style diagnostics."""
        out: list[dict[str, Any]] = []
        try:
            names = os.listdir(self.folder)
        except OSError:
            return out
        for name in names:
            if name.endswith(".json"):
                lease = jobfiles.read_json(os.path.join(self.folder, name))
                if isinstance(lease, dict) and lease.get("id"):
                    out.append(lease)
        return out

    def prune(self) -> None:
        """Remove leases of servers on this host that are gone (nobody else can tell so fast)."""
        for lease in self.servers():
            if lease.get("host") == self.host and lease["id"] != self.server_id:
                if not process_alive(lease.get("pid"), lease.get("create_time")):
                    try:
                        os.unlink(self.path(lease["id"]))
                    except OSError:
                        pass


class HostSlots:
    """How many local jobs run on this host, shared by every server of the job root on it.

    ``<local state dir>/slots-<root key>-<backend>.json`` maps job id → the process that holds the slot (the
    runner once started, the server while it starts it). Entries of processes that are gone are
    dropped whenever the file is read, so a SIGKILLed server or runner never keeps a slot.
    """

    def __init__(self, job_root: str, backend: str = "local"):
        self.path = os.path.join(local_state_dir(), f"slots-{root_key(job_root)}-{backend}.json")

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r+", encoding="utf-8") as f:
                try:
                    data = json.load(f)
                except ValueError:
                    data = {}
                if not isinstance(data, dict):
                    data = {}
                before = json.dumps(data, sort_keys=True)
                for job_id, holder in list(data.items()):
                    if not isinstance(holder, dict) or not process_alive(
                        holder.get("pid"), holder.get("create_time")
                    ):
                        del data[job_id]
                yield data
                after = json.dumps(data, sort_keys=True)
                if after != before:
                    f.seek(0)
                    f.truncate()
                    f.write(after)
                    f.flush()
        finally:
            os.close(fd)  # closing drops the flock

    def acquire(self, job_id: str, limit: int) -> bool:
        """Take a slot for ``job_id`` (held by this server until :meth:`bind`); False when all
        ``limit`` slots are taken (0: no limit)."""
        with self._locked() as data:
            if job_id in data:
                return True
            if limit and len(data) >= limit:
                return False
            data[job_id] = {"pid": os.getpid(), "create_time": _my_create_time()}
            return True

    def bind(self, job_id: str, pid: int, create_time: float | None) -> None:
        """The slot of ``job_id`` is now held by its runner (it outlives this server)."""
        with self._locked() as data:
            data[job_id] = {"pid": pid, "create_time": create_time}

    def release(self, job_id: str) -> None:
        with self._locked() as data:
            data.pop(job_id, None)

    def used(self) -> int:
        with self._locked() as data:
            return len(data)
