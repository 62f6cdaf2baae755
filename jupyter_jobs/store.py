"""JobStore: the index of a job root's jobs in SQLite (stdlib ``sqlite3``), with a schema version.

The source of truth is each job's ``job.json`` in its directory (:mod:`jupyter_jobs.jobfiles`); this
database is an index of them for listing, filtering and paging, kept on **local disk** (see
``JobsApp.db_path``): SQLite's WAL needs shared memory and POSIX locks, which no network
filesystem gives across hosts. Every server keeps its index in step with the job root
(:mod:`jupyter_jobs.jobroot`), so an index that is lost or damaged is rebuilt, never trusted.

One row per job: the columns the list queries filter and sort on, plus the whole record as JSON.
Calls are synchronous and short (a few hundred microseconds); the manager calls them from the
event loop.
"""

from __future__ import annotations

import builtins
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from .models import ACTIVE_STATUSES, Job, isoformat

log = logging.getLogger(__name__)

#: each entry upgrades the schema from version i to i+1
MIGRATIONS: list[str] = [
    """
    CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL,
        backend TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX jobs_status ON jobs (status, seq);
    CREATE INDEX jobs_backend ON jobs (backend, seq);
    """,
    """
    ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'script';
    CREATE INDEX jobs_kind ON jobs (kind, seq);
    """,
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    """
    ALTER TABLE jobs ADD COLUMN sort_key INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX jobs_sort ON jobs (sort_key);
    """,
]
#: the migration after which existing rows get their sort_key from their record
SORT_KEY_VERSION = 4


def sort_key(job: Job) -> int:
    """The list order, newest first: the creation time in microseconds, two digits of the id
    after it so that jobs created in the same microsecond still have an order. Indexes of
    different hosts learn of jobs in different orders; this order is the same on all of them."""
    micros = int(job.created_at.timestamp() * 1_000_000)
    try:
        tie = int(job.id[:4], 16) % 100
    except ValueError:
        tie = 0
    return micros * 100 + tie


SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    pass


class JobStore:
    """Persistent jobs. ``path`` is the database file (``:memory:`` for tests)."""

    def __init__(self, path: str, *, network: bool = False, read_only: bool = False):
        """``network``: the file is on a network filesystem (an admin's explicit choice): no WAL
        then, a rollback journal with full syncs (still only safe for one host at a time).
        ``read_only``: ``path`` is a ``file:`` URI opened as it is (an old database, read once)."""
        self.path = path
        self.rebuilt = False  # True when the file was unusable and a fresh index was started
        if read_only:
            self.db = sqlite3.connect(path, uri=True, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            return
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        try:
            self._open(network)
        except sqlite3.OperationalError:
            raise  # locked, busy, no permission…: not damage (another server may be using it)
        except sqlite3.DatabaseError as e:  # "malformed", "not a database", a failed quick_check
            if path == ":memory:":
                raise
            self._set_aside(str(e))
            self._open(network)

    def _open(self, network: bool) -> None:
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA busy_timeout=10000")
        if network:
            self.db.execute("PRAGMA journal_mode=DELETE")
            self.db.execute("PRAGMA synchronous=FULL")
        else:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        if self.path != ":memory:":
            check = self.db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {check}")
        self.migrate()

    def _set_aside(self, why: str) -> None:
        """The index is damaged: keep it for inspection and start a new one (it is rebuilt from
        the job directories)."""
        try:
            self.db.close()
        except Exception:
            pass
        aside = f"{self.path}.damaged-{int(time.time())}"
        log.warning(
            "jupyter-jobs: job index %s unusable (%s): moved to %s, rebuilding",
            self.path,
            why,
            aside,
        )
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.replace(self.path + suffix, aside + suffix)
            except OSError:
                pass
        self.rebuilt = True

    def integrity(self) -> str:
        """SQLite's ``integrity_check`` ("ok" when sound)."""
        rows = self.db.execute("PRAGMA integrity_check").fetchall()
        return "; ".join(str(r[0]) for r in rows)

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        """Upgrade the schema in one transaction that reads the version first, so that two servers
        starting at once on one index never both apply the same migration."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            current = self.version
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {current}, newer than this jupyter-jobs"
                    f" ({SCHEMA_VERSION}); upgrade jupyter-jobs or point job_root elsewhere"
                )
            for version in range(current, SCHEMA_VERSION):
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                if version + 1 == SORT_KEY_VERSION:
                    rows = self.db.execute("SELECT id, record FROM jobs").fetchall()
                    for row in rows:
                        job = Job.from_record(json.loads(row["record"]))
                        self.db.execute(
                            "UPDATE jobs SET sort_key = ? WHERE id = ?", (sort_key(job), row["id"])
                        )
            if current != SCHEMA_VERSION:
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ writes

    def save(self, job: Job) -> None:
        record = json.dumps(job.to_record())
        self.db.execute(
            """INSERT INTO jobs (id, status, backend, name, created_at, kind, record, sort_key)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(id) DO UPDATE SET status=excluded.status, name=excluded.name,
               record=excluded.record""",
            (
                job.id,
                job.status,
                job.backend,
                job.name,
                isoformat(job.created_at),
                job.kind,
                record,
                sort_key(job),
            ),
        )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def save_many(self, jobs: Iterable[Job]) -> None:
        with self._transaction():
            for job in jobs:
                self.save(job)

    def delete(self, job_id: str) -> None:
        self.db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def delete_many(self, job_ids: Iterable[str]) -> None:
        with self._transaction():
            for job_id in job_ids:
                self.delete(job_id)

    # ------------------------------------------------------------------ reads

    def get(self, job_id: str) -> Job | None:
        row = self.db.execute("SELECT record FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Job.from_record(json.loads(row["record"])) if row else None

    def active(self) -> list[Job]:
        marks = ",".join("?" * len(ACTIVE_STATUSES))
        rows = self.db.execute(
            f"SELECT record FROM jobs WHERE status IN ({marks}) ORDER BY seq",
            tuple(ACTIVE_STATUSES),
        ).fetchall()
        return [Job.from_record(json.loads(r["record"])) for r in rows]

    def list(
        self,
        *,
        status: list[str] | None = None,
        backend: list[str] | None = None,
        kind: list[str] | None = None,
        limit: int = 100,
        cursor: int | None = None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Newest first (by creation time, the same order on every host's index). Returns
        (records, next cursor or None); the cursor is the last row's ``sort_key``."""
        where: list[str] = []
        params: list[Any] = []
        for column, values in (("status", status), ("backend", backend), ("kind", kind)):
            if values:
                where.append(f"{column} IN ({','.join('?' * len(values))})")
                params.extend(values)
        if cursor is not None:
            where.append("sort_key < ?")
            params.append(cursor)
        sql = "SELECT sort_key, record FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY sort_key DESC LIMIT ?"
        params.append(limit + 1)
        rows = self.db.execute(sql, params).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        records = [json.loads(r["record"]) for r in rows]
        next_cursor = rows[-1]["sort_key"] if more and rows else None
        return records, next_cursor

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET"
            " value=excluded.value",
            (key, value),
        )

    def ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT id FROM jobs")}

    def all(self) -> builtins.list[Job]:
        rows = self.db.execute("SELECT record FROM jobs ORDER BY seq").fetchall()
        return [Job.from_record(json.loads(r["record"])) for r in rows]

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])
