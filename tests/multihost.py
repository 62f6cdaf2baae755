"""Two "HPC hosts" sharing one NFS home, emulated on one machine by two sshfs mounts of one folder.

``scripts/sshfs-up.sh BASE`` starts an sshd on 127.0.0.1 and writes ``BASE/env.sh``; the test
command sources it, which exports ``JUPYTER_JOBS_SSHFS_BASE``, ``JUPYTER_JOBS_SSHD_PORT`` and
``JUPYTER_JOBS_SSH_KEY``. Without those variables ``BASE/env.sh`` is read, BASE being
``$JUPYTER_JOBS_SSHFS_BASE`` or ``/tmp/jupyter-jobs-sshfs``.

``TwoHosts(base_dir)`` mounts ``base_dir/shared`` at ``base_dir/host-a`` and ``base_dir/host-b``
through that sshd. Each mount is its own sshfs process with its own SSH connection and its own
kernel FUSE caches, like two NFS clients of one server; the SFTP server does every mkdir, create
and rename on the shared folder itself, so those are atomic across the two "hosts".

How the two mounts compare with NFS (sshfs 3.7.3, OpenSSH 9.2, Linux 6.x):
  like NFS, checked by tests/multi/test_sshfs_semantics.py: close-to-open (a file closed on A,
    then opened on B, reads the new bytes); rename(2) over an existing file is atomic; mkdir and
    O_CREAT|O_EXCL succeed on one host only; a file or folder made or removed on A is listed by
    os.scandir and found by os.stat on B; one writer's appends are read back whole; unlinking a
    file that this mount has open leaves a ``.fuse_hidden*`` file until it is closed, which B
    lists (NFS's ``.nfs*`` files).
  unlike NFS, checked there too: the loser of an O_CREAT|O_EXCL race that reaches the server
    may get EPERM instead of EEXIST (SFTP v3 has no "already exists" status; sshfs maps that
    only for mkdir); flock and fcntl locks are per mount, not shared between the hosts; mtimes
    have whole seconds only.
  unlike NFS, seen once and not tested: renaming a folder onto a non-empty one fails with EPERM,
    not ENOTEMPTY; st_ino is a number of each mount's own, not the server's (one file can have
    two numbers, two files one). Stricter than NFS: os.stat on B is never stale (NFS caches
    attributes for acregmin/acdirmin, 3 s/30 s); O_APPEND writes from both hosts never overwrite
    each other (the server opens the file O_APPEND); a file unlinked on A still reads on B
    through a descriptor B opened before (NFS gives B ESTALE). Tests must not rely on these.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

DEFAULT_BASE = "/tmp/jupyter-jobs-sshfs"

# ssh client options, for sshfs (which hands them to ssh) and for the probe login alike
SSH_OPTIONS = [
    "BatchMode=yes",  # never ask for a password or passphrase: fail instead of hanging
    "IdentitiesOnly=yes",  # only the key of sshfs-up.sh, not an agent's keys
    "StrictHostKeyChecking=no",  # the host key is new on every fresh BASE ...
    "UserKnownHostsFile=/dev/null",  # ... and is not remembered in ~/.ssh/known_hosts
    "ConnectTimeout=10",  # a dead sshd fails the mount in 10 s
    "ServerAliveInterval=5",  # a connection that stops answering is dropped after 15 s,
    "ServerAliveCountMax=3",  # so file operations get errors instead of hanging
    "LogLevel=ERROR",  # no "Permanently added ... to known hosts" on every mount
]

# sshfs 3.7.3 and libfuse 3.14 options
SSHFS_OPTIONS = [
    # sshfs caches stat results and directory listings for 20 s (dcache_timeout): B would list
    # and stat A's changes only 20 s later. No cache; dcache_timeout=1 would still be stale for
    # up to 2 s, its clock counting whole seconds.
    "dir_cache=no",
    # The kernel caches attributes (1 s by default) and reads a file no further than the size
    # it holds. NFS revalidates them on every open (close-to-open); FUSE cannot be told to do so
    # on open only, and sshfs opens by path, so a file replaced on A between B's lookup and B's
    # open is not the one whose size B holds: with 1 s, one read in ten of a file that A keeps
    # replacing came back cut short, and fstat of a file B keeps open lagged A's appends by 1 s.
    "attr_timeout=0",
    # Name lookups are not cached either (1 s by default): every path walk on B asks the
    # server, as an NFS open does.
    "entry_timeout=0",
    # Nor is "no such file" (libfuse's default, made explicit): with 1 s, a host whose
    # O_CREAT|O_EXCL lost a race did not find the winner's file for a second.
    "negative_timeout=0",
    # Reconnect if the SSH connection breaks, instead of failing every call until unmounted.
    "reconnect",
    # If the sshfs process dies, fusermount3 unmounts: no "Transport endpoint is not connected"
    # folder left behind.
    "auto_unmount",
]
# Left out on purpose:
#   kernel_cache, auto_cache: without them the kernel drops a file's cached pages on every open,
#     the page-cache half of close-to-open.
#   workaround=rename: OpenSSH's SFTP server has the posix-rename@openssh.com extension, so a
#     rename is the server's atomic rename(2); the workaround would move the target away first.
#   allow_other: only the user who mounts (root in CI) may use the mounts; jobs run as other
#     users would need allow_other together with default_permissions.
#   hard_remove: without it, unlinking a file this mount has open renames it to .fuse_hidden*
#     until closed, as NFS clients do with .nfs* files.


class HostsUnavailable(RuntimeError):
    """The sshd of scripts/sshfs-up.sh, sshfs or FUSE is missing; the message says which."""


def _read_env_sh(path: Path) -> dict[str, str]:
    """The ``export NAME=VALUE`` lines of an env.sh that sshfs-up.sh wrote."""
    values = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.removeprefix("export ").partition("=")
        if sep:
            values[name.strip()] = value.strip()
    return values


class SshEndpoint:
    """Where the sshd of scripts/sshfs-up.sh listens, and the key and user to log in with."""

    def __init__(self, base: Path, port: int, key: Path) -> None:
        self.base = base
        self.port = port
        self.key = key
        self.user = pwd.getpwuid(os.getuid()).pw_name

    @classmethod
    def from_env(cls) -> SshEndpoint:
        """The endpoint from the environment, else from BASE/env.sh; HostsUnavailable if none."""
        base = Path(os.environ.get("JUPYTER_JOBS_SSHFS_BASE") or DEFAULT_BASE)
        values = {
            name: os.environ[name]
            for name in ("JUPYTER_JOBS_SSHD_PORT", "JUPYTER_JOBS_SSH_KEY")
            if os.environ.get(name)
        }
        if len(values) < 2:
            env_sh = base / "env.sh"
            if not env_sh.is_file():
                raise HostsUnavailable(
                    f"no test sshd: {env_sh} does not exist; start one with"
                    f" `bash scripts/sshfs-up.sh {base}` (the README test command does)"
                )
            values = {**_read_env_sh(env_sh), **values}
        return cls(
            base, int(values["JUPYTER_JOBS_SSHD_PORT"]), Path(values["JUPYTER_JOBS_SSH_KEY"])
        )

    def ssh_options(self) -> list[str]:
        return [*SSH_OPTIONS, f"Port={self.port}", f"IdentityFile={self.key}"]

    def check(self) -> None:
        """Raise HostsUnavailable unless sshfs and FUSE are here and a key login works."""
        for tool in ("sshfs", "fusermount3", "ssh"):
            if shutil.which(tool) is None:
                raise HostsUnavailable(f"{tool} is not on PATH (scripts/sshfs-up.sh installs it)")
        if not os.path.exists("/dev/fuse"):
            raise HostsUnavailable("/dev/fuse does not exist: FUSE mounts are impossible here")
        try:  # a quick answer when nothing listens, before the slower ssh login
            socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
        except OSError as e:
            raise HostsUnavailable(
                f"no sshd on 127.0.0.1:{self.port} ({e}); run scripts/sshfs-up.sh {self.base}"
            ) from e
        argv = ["ssh", "-F", "/dev/null"]
        for option in self.ssh_options():
            argv += ["-o", option]
        argv += [f"{self.user}@127.0.0.1", "true"]
        try:
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20
            )
        except subprocess.TimeoutExpired as e:
            raise HostsUnavailable(f"ssh login to 127.0.0.1:{self.port} hung for 20 s") from e
        if done.returncode != 0:
            raise HostsUnavailable(
                f"ssh login to 127.0.0.1:{self.port} failed: {done.stderr.strip()}"
            )


def _mountpoints() -> set[str]:
    """Mount points of this mount namespace (the kernel writes a space as \\040, and so on)."""
    with open("/proc/self/mounts", "rb") as f:
        fields = [line.split()[1] for line in f]
    return {
        os.fsdecode(re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m[1], 8)]), field))
        for field in fields
    }


def is_mounted(path: Path) -> bool:
    """Whether a file system is mounted at path (also when its FUSE server died)."""
    return str(path) in _mountpoints()


def unmount(path: Path, tries: int = 10) -> bool:
    """Unmount path; while it is busy (open files, a cwd inside) retry for about 2 s, then
    detach it lazily: gone from the tree at once, it goes away when its last user does.
    Whether it had to be detached."""
    for _ in range(tries):
        if not is_mounted(path):
            return False
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run(["fusermount3", "-u", "-q", str(path)], capture_output=True, timeout=10)
        if not is_mounted(path):
            return False
        time.sleep(0.2)
    with contextlib.suppress(subprocess.TimeoutExpired):
        done = subprocess.run(
            ["fusermount3", "-u", "-z", str(path)], capture_output=True, timeout=10
        )
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=10)
    return True


class TwoHosts:
    """``base_dir/shared`` mounted twice over sshfs: at ``.a`` (host-a) and ``.b`` (host-b).

    A context manager: entering mounts both, leaving unmounts both even after an error. The
    sshfs processes run in the foreground (``-f``) as children of this process, with their
    messages in ``base_dir/host-a.log`` and ``base_dir/host-b.log``.
    """

    MOUNT_TIMEOUT = 20.0

    def __init__(self, base_dir: str | os.PathLike[str], endpoint: SshEndpoint | None = None):
        self.base_dir = Path(base_dir).resolve()
        self.endpoint = endpoint or SshEndpoint.from_env()
        self.shared = self.base_dir / "shared"
        self.a = self.base_dir / "host-a"
        self.b = self.base_dir / "host-b"
        self._processes: dict[Path, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> TwoHosts:
        self.shared.mkdir(parents=True, exist_ok=True)
        try:
            for mountpoint in (self.a, self.b):  # both log in at once: half the wait
                self._start_sshfs(mountpoint)
            for mountpoint in (self.a, self.b):
                self._wait_mounted(mountpoint)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _log(self, mountpoint: Path) -> Path:
        return self.base_dir / f"{mountpoint.name}.log"

    def _start_sshfs(self, mountpoint: Path) -> None:
        mountpoint.mkdir(parents=True, exist_ok=True)
        options = ",".join([*self.endpoint.ssh_options(), *SSHFS_OPTIONS])
        remote = f"{self.endpoint.user}@127.0.0.1:{self.shared}"
        argv = ["sshfs", "-f", remote, str(mountpoint), "-F", "/dev/null", "-o", options]
        with open(self._log(mountpoint), "ab") as log:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self._processes[mountpoint] = process

    def _wait_mounted(self, mountpoint: Path) -> None:
        # sshfs mounts first and logs in to sshd afterwards; os.path.ismount stats the mount
        # point, which waits for that login, and is true only if it mounted and answered
        process = self._processes[mountpoint]
        deadline = time.monotonic() + self.MOUNT_TIMEOUT
        while not os.path.ismount(mountpoint):
            if process.poll() is not None or time.monotonic() > deadline:
                why = "exited" if process.returncode is not None else "did not mount in time"
                log_text = self._log(mountpoint).read_text(errors="replace").strip()
                raise HostsUnavailable(f"sshfs for {mountpoint} {why}: {log_text}")
            time.sleep(0.02)

    def close(self) -> None:
        """Unmount both mounts (retrying, then lazily) and end their sshfs processes."""
        for mountpoint, process in list(self._processes.items()):
            if unmount(mountpoint):
                # a detached mount still serves the files left open in it: end its sshfs, so
                # those get "Transport endpoint is not connected" instead of a live mount
                process.terminate()
            try:  # sshfs exits once unmounted
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
            del self._processes[mountpoint]
