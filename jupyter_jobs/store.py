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
from dataclasses import dataclass, field
from typing import Any

from .models import ACTIVE_STATUSES, STATUSES, Job, isoformat

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
    # issue 14: pages filtered and searched by the server, and "what changed since": every write
    # of a row gives it the next updated_seq; a deletion leaves a tombstone with its own
    """
    ALTER TABLE jobs ADD COLUMN updated_seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN search TEXT NOT NULL DEFAULT '';
    CREATE TABLE deleted (seq INTEGER PRIMARY KEY, id TEXT NOT NULL);
    CREATE INDEX deleted_id ON deleted (id);
    DROP INDEX IF EXISTS jobs_status;
    DROP INDEX IF EXISTS jobs_backend;
    DROP INDEX IF EXISTS jobs_kind;
    CREATE INDEX jobs_status_sort ON jobs (status, sort_key);
    CREATE INDEX jobs_backend_sort ON jobs (backend, sort_key);
    CREATE INDEX jobs_kind_sort ON jobs (kind, sort_key);
    CREATE INDEX jobs_kind_status ON jobs (kind, status);
    CREATE INDEX jobs_updated ON jobs (updated_seq);
    """,
    # issue 12: the runs of a job definition (GET jobs?definition=<id>)
    """
    ALTER TABLE jobs ADD COLUMN definition_id TEXT;
    CREATE INDEX jobs_definition_sort ON jobs (definition_id, sort_key);
    """,
    # issue 13: a sweep's children (GET jobs?sweep=<id>; left out of the other lists)
    """
    ALTER TABLE jobs ADD COLUMN sweep_id TEXT;
    CREATE INDEX jobs_sweep_sort ON jobs (sweep_id, sort_key);
    """,
]
#: the migration after which existing rows get their sort_key from their record
SORT_KEY_VERSION = 4
#: the migration after which existing rows get their updated_seq and search text
CHANGES_VERSION = 5
#: the migration after which existing rows get their definition_id from their record
DEFINITION_VERSION = 6
#: the migration after which existing rows get their sweep_id from their record
SWEEP_VERSION = 7
#: tombstones kept (the newest); a change token older than the oldest one gets ``reload``
MAX_TOMBSTONES = 10_000
#: a change token: this index's epoch (8 hex digits, new with each index file) and a sequence
CHANGE_TOKEN_PATTERN = r"[0-9a-f]{8}-[0-9]{1,18}"
#: the next updated_seq: past every row's and every tombstone's (and the pruned ones')
_NEXT_SEQ = """(SELECT MAX(
    IFNULL((SELECT MAX(updated_seq) FROM jobs), 0),
    IFNULL((SELECT MAX(seq) FROM deleted), 0),
    IFNULL((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'deleted_floor'), 0)) + 1)"""


def search_text(job: Job) -> str:
    """What ``q`` is looked for in: the name and the path, case-folded (``q`` is too)."""
    return f"{job.name}\n{job.path or ''}".casefold()


@dataclass
class Page:
    """One answer of :meth:`JobStore.page` (docs/CONTRACT.md, "Listing jobs")."""

    records: builtins.list[dict[str, Any]]
    next_cursor: int | None
    total: int
    counts: dict[str, int]
    change_token: str
    deleted: builtins.list[str] = field(default_factory=builtins.list)
    reload: bool = False


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
            self._open_retrying(network)
        except sqlite3.OperationalError:
            raise  # locked, busy, no permission…: not damage (another server may be using it)
        except sqlite3.DatabaseError as e:  # "malformed", "not a database", a failed quick_check
            if path == ":memory:":
                raise
            self._set_aside(str(e))
            self._open(network)

    def _open_retrying(self, network: bool, patience: float = 60.0) -> None:
        """:meth:`_open`, again while another connection holds the file: servers starting at once
        on a new index each switch it to WAL and migrate it, and SQLite answers one of two
        connections that would wait for each other "locked" at once, without waiting (its
        deadlock rule); closing ours lets the other go on, and ours tries again."""
        import random

        deadline = time.monotonic() + patience
        while True:
            try:
                self._open(network)
                return
            except sqlite3.OperationalError as e:
                text = str(e).lower()
                if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                    raise
                try:
                    self.db.close()
                except Exception:
                    pass
                time.sleep(random.uniform(0.02, 0.2))

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
                if version + 1 == CHANGES_VERSION:
                    rows = self.db.execute("SELECT id, record FROM jobs ORDER BY seq").fetchall()
                    for n, row in enumerate(rows, 1):
                        job = Job.from_record(json.loads(row["record"]))
                        self.db.execute(
                            "UPDATE jobs SET updated_seq = ?, search = ? WHERE id = ?",
                            (n, search_text(job), row["id"]),
                        )
                if version + 1 == DEFINITION_VERSION:
                    for row in self.db.execute("SELECT id, record FROM jobs").fetchall():
                        definition_id = json.loads(row["record"]).get("definition_id")
                        if definition_id:
                            self.db.execute(
                                "UPDATE jobs SET definition_id = ? WHERE id = ?",
                                (definition_id, row["id"]),
                            )
                if version + 1 == SWEEP_VERSION:
                    for row in self.db.execute("SELECT id, record FROM jobs").fetchall():
                        sweep_id = json.loads(row["record"]).get("sweep_id")
                        if sweep_id:
                            self.db.execute(
                                "UPDATE jobs SET sweep_id = ? WHERE id = ?", (sweep_id, row["id"])
                            )
            if self.get_meta("epoch") is None:
                self.set_meta("epoch", os.urandom(4).hex())
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
        """Insert or update a job's row; a row that changes gets the next ``updated_seq`` (an
        unchanged record is left as it is, so it does not show as changed)."""
        record = json.dumps(job.to_record())
        self.db.execute(
            f"""INSERT INTO jobs (id, status, backend, name, created_at, kind, record, sort_key,
               search, definition_id, sweep_id, updated_seq)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {_NEXT_SEQ})
               ON CONFLICT(id) DO UPDATE SET status=excluded.status, name=excluded.name,
               record=excluded.record, search=excluded.search, updated_seq=excluded.updated_seq
               WHERE jobs.record IS NOT excluded.record""",
            (
                job.id,
                job.status,
                job.backend,
                job.name,
                isoformat(job.created_at),
                job.kind,
                record,
                sort_key(job),
                search_text(job),
                job.definition_id,
                job.sweep_id,
            ),
        )
        # after the row took its sequence: a job indexed again is no longer reported deleted
        self.db.execute("DELETE FROM deleted WHERE id = ?", (job.id,))

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
        """Drop a job's row, leaving a tombstone (``GET jobs?changed_since`` reports it)."""
        if self.db.in_transaction:
            self._delete(job_id)
        else:
            with self._transaction():
                self._delete(job_id)

    def _delete(self, job_id: str) -> None:
        if self.db.execute("DELETE FROM jobs WHERE id = ?", (job_id,)).rowcount:
            self.db.execute(f"INSERT INTO deleted (seq, id) VALUES ({_NEXT_SEQ}, ?)", (job_id,))
            self._prune_tombstones()

    def _prune_tombstones(self) -> None:
        row = self.db.execute(
            "SELECT seq FROM deleted ORDER BY seq DESC LIMIT 1 OFFSET ?", (MAX_TOMBSTONES,)
        ).fetchone()
        if row is not None:  # keep the newest MAX_TOMBSTONES; older tokens must reload
            self.set_meta("deleted_floor", str(row[0]))
            self.db.execute("DELETE FROM deleted WHERE seq <= ?", (row[0],))

    def delete_many(self, job_ids: Iterable[str]) -> None:
        with self._transaction():
            for job_id in job_ids:
                self._delete(job_id)

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
        status: builtins.list[str] | None = None,
        backend: builtins.list[str] | None = None,
        kind: builtins.list[str] | None = None,
        limit: int = 100,
        cursor: int | None = None,
    ) -> tuple[builtins.list[dict[str, Any]], int | None]:
        """Newest first: (records, next cursor or None). See :meth:`page`."""
        page = self.page(status=status, backend=backend, kind=kind, limit=limit, cursor=cursor)
        return page.records, page.next_cursor

    def page(
        self,
        *,
        q: str | None = None,
        status: builtins.list[str] | None = None,
        backend: builtins.list[str] | None = None,
        kind: builtins.list[str] | None = None,
        limit: int = 100,
        cursor: int | None = None,
        changed_since: str | None = None,
        definition: builtins.list[str] | None = None,
        sweep: builtins.list[str] | None = None,
        id_prefix: str | None = None,
    ) -> Page:
        """One page, newest first (by creation time, the same order on every host's index); the
        cursor is the last row's ``sort_key``. ``kind`` is the scope of the whole answer (page,
        ``total``, ``counts``, changes); ``q``, ``status`` and ``backend`` narrow the page and
        ``total``, not ``counts``; with ``changed_since`` the page holds the jobs of the scope
        changed after that token, whatever ``q``/``status``/``backend`` say (a client drops the
        rows that left its view), plus the ids deleted since. A token this index cannot answer
        (another index's, or older than its oldest tombstone) gives ``reload`` and the page as
        without ``changed_since``. All in one read transaction, so the token matches the page.
        ``sweep``: the children of these sweeps (a scope); without it children are left out.
        ``id_prefix``: the jobs whose id starts with it, sweep children included (a scope: what
        ``jupyter jobs logs 1a2b`` looks up in one request)."""
        self.db.execute("BEGIN")
        try:
            return self._page(
                q,
                status,
                backend,
                kind,
                limit,
                cursor,
                changed_since,
                definition=definition,
                sweep=sweep,
                id_prefix=id_prefix,
            )
        finally:
            self.db.execute("COMMIT")

    def _page(
        self,
        q: str | None,
        status: builtins.list[str] | None,
        backend: builtins.list[str] | None,
        kind: builtins.list[str] | None,
        limit: int,
        cursor: int | None,
        changed_since: str | None,
        *,
        definition: builtins.list[str] | None = None,
        sweep: builtins.list[str] | None = None,
        id_prefix: str | None = None,
    ) -> Page:
        epoch = self.get_meta("epoch") or ""
        now = int(self.db.execute(f"SELECT {_NEXT_SEQ}").fetchone()[0]) - 1
        scope: builtins.list[str] = []
        scope_params: builtins.list[Any] = []
        if kind:
            scope.append(f"kind IN ({','.join('?' * len(kind))})")
            scope_params.extend(kind)
        if definition:  # the runs of job definitions: a scope, as kind is
            scope.append(f"definition_id IN ({','.join('?' * len(definition))})")
            scope_params.extend(definition)
        if sweep:  # a sweep's children, in a scope of their own
            scope.append(f"sweep_id IN ({','.join('?' * len(sweep))})")
            scope_params.extend(sweep)
        elif not id_prefix:
            scope.append("sweep_id IS NULL")
        if id_prefix:  # an id or its start, whatever else the job is
            scope.append("substr(id, 1, ?) = ?")
            scope_params.extend([len(id_prefix), id_prefix])
        narrow: builtins.list[str] = []
        narrow_params: builtins.list[Any] = []
        for column, values in (("status", status), ("backend", backend)):
            if values:
                narrow.append(f"{column} IN ({','.join('?' * len(values))})")
                narrow_params.extend(values)
        if q:
            narrow.append("instr(search, ?) > 0")
            narrow_params.append(q.casefold())

        since = None
        reload = False
        deleted: builtins.list[str] = []
        if changed_since is not None:
            since = self._since(changed_since, epoch, now)
            if since is None:
                reload = True
            else:
                deleted = [
                    r[0]
                    for r in self.db.execute(
                        "SELECT id FROM deleted WHERE seq > ? ORDER BY seq", (since,)
                    )
                ]

        def where(clauses: builtins.list[str]) -> str:
            return " WHERE " + " AND ".join(clauses) if clauses else ""

        # the page walks jobs_sort newest first and stops at limit + 1: "+kind" keeps SQLite from
        # sorting every job of the scope through jobs_kind_sort instead (most jobs are in it)
        page_where = [f"+{clause}" if clause.startswith("kind") else clause for clause in scope]
        page_params = [*scope_params]
        if since is not None:
            page_where.append("updated_seq > ?")
            page_params.append(since)
        else:
            page_where += narrow
            page_params += narrow_params
        if cursor is not None:
            page_where.append("sort_key < ?")
            page_params.append(cursor)
        # the changes after a token are few: found through jobs_updated, then sorted
        table = "jobs INDEXED BY jobs_updated" if since is not None else "jobs"
        rows = self.db.execute(
            f"SELECT sort_key, record FROM {table}{where(page_where)}"
            " ORDER BY sort_key DESC LIMIT ?",
            [*page_params, limit + 1],
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        total = int(
            self.db.execute(
                f"SELECT COUNT(*) FROM jobs{where(scope + narrow)}", scope_params + narrow_params
            ).fetchone()[0]
        )
        counts = dict.fromkeys(STATUSES, 0)
        for row in self.db.execute(
            f"SELECT status, COUNT(*) FROM jobs{where(scope)} GROUP BY status", scope_params
        ):
            counts[row[0]] = int(row[1])
        return Page(
            records=[json.loads(r["record"]) for r in rows],
            next_cursor=rows[-1]["sort_key"] if more and rows else None,
            total=total,
            counts=counts,
            change_token=f"{epoch}-{now}",
            deleted=deleted,
            reload=reload,
        )

    def _since(self, token: str, epoch: str, now: int) -> int | None:
        """The sequence a change token stands for, or None when this index cannot tell what
        changed after it (another index's token, one from its future, or one older than the
        oldest tombstone kept)."""
        token_epoch, _, seq_text = token.partition("-")
        if token_epoch != epoch or not seq_text.isdigit():
            return None
        seq = int(seq_text)
        floor = int(self.get_meta("deleted_floor") or 0)
        if seq > now or seq < floor:
            return None
        return seq

    def change_token(self) -> str:
        """The token of the index as it is now (what changes after it are reported against)."""
        now = int(self.db.execute(f"SELECT {_NEXT_SEQ}").fetchone()[0]) - 1
        return f"{self.get_meta('epoch') or ''}-{now}"

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
