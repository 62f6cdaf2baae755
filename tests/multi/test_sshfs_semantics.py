"""The two sshfs mounts of tests/multihost.py behave like two NFS clients of one server.

Real files on real mounts, no mocks: what host A does is looked at from host B. Most tests check
a property that jupyter-jobs may rely on across hosts on NFS; the last ones pin down where the
emulation differs from NFS, so that no test relies on those by accident.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

VISIBLE_WITHIN = 2.0  # seconds: the bound for what B must see of A's changes


def wait_until(predicate: Callable[[], bool], timeout: float = VISIBLE_WITHIN) -> float:
    """Poll predicate until true; the seconds it took. AssertionError after timeout."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(0.01)
    return time.monotonic() - start


def names(folder: Path) -> dict[str, bool]:
    """What os.scandir lists in folder: name -> is a directory."""
    with os.scandir(folder) as entries:
        return {entry.name: entry.is_dir() for entry in entries}


def race(mounts: tuple[Path, Path], attempt: Callable[[Path], None]) -> list[object]:
    """Run attempt(mount) for both mounts at once (a barrier releases both threads together);
    per mount, None when it succeeded, else the exception it raised."""
    barrier = threading.Barrier(2)
    outcome: list[object] = [None, None]

    def run(i: int) -> None:
        barrier.wait(timeout=10)
        try:
            attempt(mounts[i])
        except OSError as e:
            outcome[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not any(t.is_alive() for t in threads), "a file operation hung"
    return outcome


def test_the_mounts_are_two_sshfs_clients_of_one_folder(two_hosts):
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    for host in (two_hosts.a, two_hosts.b):
        assert any(f" {host} fuse.sshfs " in line for line in mounts)
    (two_hosts.a / "hello").write_text("from A")
    assert (two_hosts.shared / "hello").read_text() == "from A"
    assert (two_hosts.b / "hello").read_text() == "from A"


def test_close_to_open_after_replace_and_rewrite(two_hosts):
    """A file written and closed on A, then opened on B, reads the new bytes at once: also when
    B knew the file's old size just before, also when it shrinks or grows (os.replace of a
    temporary file, as status files are written, and an in-place rewrite)."""
    a, b = two_hosts.a / "status", two_hosts.b / "status"
    a.write_bytes(b"start")
    for i in range(20):
        data = f"version {i} ".encode() * (1 + (i * 37) % 200)
        assert b.stat().st_size > 0  # B holds the old attributes
        if i % 2:
            tmp = two_hosts.a / "status.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, a)
        else:
            a.write_bytes(data)
        assert b.read_bytes() == data, f"rewrite {i}: B read stale bytes"
        assert b.stat().st_size == len(data)


def test_readers_on_b_never_see_a_replace_half_done(two_hosts):
    """While A keeps replacing a file, every read on B finds a file, and a whole version of it."""
    a, b = two_hosts.a / "state.json", two_hosts.b / "state.json"
    versions = [
        f'{{"version": {i}, "pad": "{"x" * (i * 13 % 3000)}"}}'.encode() for i in range(150)
    ]
    a.write_bytes(versions[0])
    done = threading.Event()
    bad: list[str] = []

    def writer() -> None:
        for i, data in enumerate(versions):
            tmp = two_hosts.a / f"state.json.{i}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, a)
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    reads = 0
    deadline = time.monotonic() + 20
    while not done.is_set() and time.monotonic() < deadline:
        try:
            data = b.read_bytes()
        except FileNotFoundError:
            bad.append("FileNotFoundError")
            continue
        reads += 1
        if data not in versions:
            bad.append(data[:60].decode(errors="replace"))
    thread.join(timeout=20)
    assert done.is_set(), "the writer did not finish in 20 s"
    assert not bad, f"{len(bad)} of {reads} reads saw no whole version: {bad[:3]}"
    assert reads > 10
    assert b.read_bytes() == versions[-1]


def test_entries_made_and_removed_on_a_are_listed_on_b(two_hosts):
    """os.scandir on B lists a new file and folder of A, with the right type, and stops listing
    them once A removed them; os.stat on B agrees."""
    latencies = []
    for i in range(10):
        made = {f"file-{i}": False, f"dir-{i}": True}
        (two_hosts.a / f"file-{i}").write_text("x")
        (two_hosts.a / f"dir-{i}").mkdir()
        latencies.append(wait_until(lambda made=made: made.items() <= names(two_hosts.b).items()))
        assert (two_hosts.b / f"file-{i}").is_file() and (two_hosts.b / f"dir-{i}").is_dir()
    for i in range(10):
        gone = {f"file-{i}", f"dir-{i}"}
        (two_hosts.a / f"file-{i}").unlink()
        (two_hosts.a / f"dir-{i}").rmdir()
        latencies.append(wait_until(lambda gone=gone: not gone & names(two_hosts.b).keys()))
        assert not (two_hosts.b / f"file-{i}").exists() and not (two_hosts.b / f"dir-{i}").exists()
    assert max(latencies) < VISIBLE_WITHIN


def test_mkdir_of_one_name_from_both_hosts_succeeds_once(two_hosts):
    for i in range(50):
        name = f"lock-{i}"
        outcome = race((two_hosts.a, two_hosts.b), lambda m, name=name: os.mkdir(m / name))
        winners = [o for o in outcome if o is None]
        assert len(winners) == 1, f"try {i}: {outcome}"
        assert all(isinstance(o, FileExistsError) for o in outcome if o is not None), outcome
        assert (two_hosts.shared / name).is_dir()


def test_exclusive_create_from_both_hosts_succeeds_once(two_hosts):
    """O_CREAT|O_EXCL wins on one host only, and the file holds what the winner wrote.

    Unlike on NFS the loser may get EPERM instead of EEXIST: when both creates reach the SFTP
    server, it can only answer "failure" (SFTP v3 has no "already exists" status), which sshfs
    turns into EPERM. A loser whose kernel finds the file first gets EEXIST as usual."""

    def create(mount: Path, name: str) -> None:
        fd = os.open(mount / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        try:
            os.write(fd, mount.name.encode())
        finally:
            os.close(fd)

    for i in range(50):
        name = f"claim-{i}"
        outcome = race((two_hosts.a, two_hosts.b), lambda m, name=name: create(m, name))
        winners = [m for m, o in zip((two_hosts.a, two_hosts.b), outcome) if o is None]
        assert len(winners) == 1, f"try {i}: {outcome}"
        loser = next(o for o in outcome if o is not None)
        assert isinstance(loser, OSError) and loser.errno in (errno.EEXIST, errno.EPERM), loser
        for host in (two_hosts.a, two_hosts.b):
            assert (host / name).read_text() == winners[0].name


def test_appends_of_one_writer_on_a_are_read_whole_on_b(two_hosts):
    """B, reopening the file or following it on one open descriptor, only ever reads a prefix
    of what A appended (no holes, no zeros), and all of it once A closed the file."""
    records = [f"{i:05d} {'event ' * (i % 7)}\n".encode() for i in range(400)]
    expected = b"".join(records)
    a, b = two_hosts.a / "job.log", two_hosts.b / "job.log"
    a.write_bytes(b"")
    followed = bytearray()
    bad: list[bytes] = []
    done = threading.Event()

    def writer() -> None:
        fd = os.open(a, os.O_WRONLY | os.O_APPEND)
        try:
            for i, record in enumerate(records):
                os.write(fd, record)
                if i % 20 == 0:
                    time.sleep(0.01)
        finally:
            os.close(fd)
        done.set()

    thread = threading.Thread(target=writer)
    with open(b, "rb", buffering=0) as follower:
        thread.start()
        deadline = time.monotonic() + 20
        while not done.is_set() and time.monotonic() < deadline:
            followed += follower.read()
            seen = b.read_bytes()
            if not expected.startswith(seen):
                bad.append(seen[-60:])
        thread.join(timeout=20)
        assert done.is_set(), "the writer did not finish in 20 s"
        assert b.read_bytes() == expected

        def follow() -> bool:
            followed.extend(follower.read())
            return len(followed) >= len(expected)

        wait_until(follow)
    assert not bad, f"B read something that is not a prefix of A's appends: {bad[:3]}"
    assert bytes(followed) == expected, "following one descriptor on B read other bytes"


def test_unlink_of_a_file_open_on_a_leaves_a_hidden_file_until_closed(two_hosts):
    """Like an NFS client's .nfs* file: A renames a file it still has open instead of removing
    it, so B lists a .fuse_hidden* file (and rmdir of its folder fails) until A closes it."""
    folder = two_hosts.a / "job"
    folder.mkdir()
    (folder / "output").write_text("data")
    with open(folder / "output") as held:
        os.unlink(folder / "output")
        assert not (two_hosts.b / "job" / "output").exists()
        hidden = [n for n in names(two_hosts.b / "job") if n.startswith(".fuse_hidden")]
        assert len(hidden) == 1
        with pytest.raises(OSError) as excinfo:
            os.rmdir(two_hosts.b / "job")
        assert excinfo.value.errno == errno.ENOTEMPTY
        assert held.read() == "data"
    wait_until(lambda: not names(two_hosts.b / "job"))
    os.rmdir(two_hosts.b / "job")


def test_unlike_nfs_locks_are_not_shared_between_the_hosts(two_hosts):
    """sshfs has no lock operations: the kernel keeps flock and fcntl locks per mount, so both
    hosts get the same exclusive lock. NFS would refuse the second one."""
    (two_hosts.a / "lock").write_text("")
    with open(two_hosts.a / "lock", "r+") as on_a, open(two_hosts.b / "lock", "r+") as on_b:
        fcntl.lockf(on_a, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.lockf(on_b, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(on_a, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(on_b, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_unlike_nfs_mtimes_have_whole_seconds(two_hosts):
    """SFTP v3 carries times in whole seconds: sub-second mtimes are cut on both hosts."""
    (two_hosts.a / "stamp").write_text("")
    os.utime(two_hosts.a / "stamp", ns=(1_700_000_000_750_000_000,) * 2)
    assert os.stat(two_hosts.b / "stamp").st_mtime_ns == 1_700_000_000_000_000_000
    assert os.stat(two_hosts.shared / "stamp").st_mtime_ns == 1_700_000_000_000_000_000
