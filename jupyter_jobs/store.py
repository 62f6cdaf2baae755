"""JobStore: every job in SQLite (stdlib ``sqlite3``, WAL), with a schema version and migrations.

One row per job: the columns the list queries filter and sort on, plus the whole record as JSON.
Calls are synchronous and short (a few hundred microseconds); the manager calls them from the
event loop.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from typing import Any

from .models import ACTIVE_STATUSES, Job, isoformat

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
]
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    pass


class JobStore:
    """Persistent jobs. ``path`` is the database file (``:memory:`` for tests)."""

    def __init__(self, path: str):
        self.path = path
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.migrate()

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        current = self.version
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {current}, newer than this jupyter-jobs"
                f" ({SCHEMA_VERSION}); upgrade jupyter-jobs or point job_root elsewhere"
            )
        for version in range(current, SCHEMA_VERSION):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {version + 1}")
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
            """INSERT INTO jobs (id, status, backend, name, created_at, kind, record)
               VALUES (?, ?, ?, ?, ?, ?, ?)
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
            ),
        )

    def save_many(self, jobs: Iterable[Job]) -> None:
        self.db.execute("BEGIN")
        try:
            for job in jobs:
                self.save(job)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def delete(self, job_id: str) -> None:
        self.db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

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
        """Newest first. Returns (records, next cursor or None); the cursor is the last ``seq``."""
        where: list[str] = []
        params: list[Any] = []
        for column, values in (("status", status), ("backend", backend), ("kind", kind)):
            if values:
                where.append(f"{column} IN ({','.join('?' * len(values))})")
                params.extend(values)
        if cursor is not None:
            where.append("seq < ?")
            params.append(cursor)
        sql = "SELECT seq, record FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC LIMIT ?"
        params.append(limit + 1)
        rows = self.db.execute(sql, params).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        records = [json.loads(r["record"]) for r in rows]
        next_cursor = rows[-1]["seq"] if more and rows else None
        return records, next_cursor

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])
