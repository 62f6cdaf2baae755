import json
import sqlite3

import pytest

from jupyter_jobs.models import COMPLETED, RUNNING, Job, new_job_id
from jupyter_jobs.store import MIGRATIONS, SCHEMA_VERSION, JobStore, StoreError


def make(status=COMPLETED, backend="local", kind="script"):
    return Job(
        id=new_job_id(), name="j", kind=kind, backend=backend, profile="default", status=status
    )


def test_schema_version_and_wal(tmp_path):
    store = JobStore(str(tmp_path / "jobs.db"))
    assert store.version == SCHEMA_VERSION
    mode = store.db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_migrates_an_old_database(tmp_path):
    path = str(tmp_path / "jobs.db")
    db = sqlite3.connect(path)
    db.executescript(
        """CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL, backend TEXT NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL,
        record TEXT NOT NULL); PRAGMA user_version = 1;"""
    )
    db.close()
    store = JobStore(path)
    assert store.version == SCHEMA_VERSION
    job = make(kind="notebook")
    store.save(job)
    records, _ = store.list(kind=["notebook"])
    assert [r["id"] for r in records] == [job.id]


def test_refuses_a_newer_schema(tmp_path):
    path = str(tmp_path / "jobs.db")
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer than this jupyter-jobs"):
        JobStore(path)


def test_list_newest_first_with_cursor_and_filters(tmp_path):
    store = JobStore(str(tmp_path / "jobs.db"))
    jobs = [
        make(status=RUNNING if i % 2 else COMPLETED, backend="slurm" if i % 3 == 0 else "local")
        for i in range(7)
    ]
    for j in jobs:
        store.save(j)
    page, cursor = store.list(limit=3)
    assert [r["id"] for r in page] == [j.id for j in jobs[::-1][:3]]
    page2, cursor2 = store.list(limit=3, cursor=cursor)
    assert [r["id"] for r in page2] == [j.id for j in jobs[::-1][3:6]]
    page3, cursor3 = store.list(limit=3, cursor=cursor2)
    assert len(page3) == 1 and cursor3 is None
    running, _ = store.list(status=[RUNNING])
    assert {r["id"] for r in running} == {j.id for j in jobs if j.status == RUNNING}
    assert {j.id for j in store.active()} == {j.id for j in jobs if j.status == RUNNING}
    slurm, _ = store.list(backend=["slurm"], status=[COMPLETED])
    assert {r["id"] for r in slurm} == {jobs[0].id, jobs[6].id}


def test_update_and_delete(tmp_path):
    store = JobStore(str(tmp_path / "jobs.db"))
    job = make(status=RUNNING)
    store.save(job)
    job.status = COMPLETED
    job.exit_code = 0
    store.save(job)
    assert store.get(job.id).exit_code == 0
    assert store.active() == []
    store.delete(job.id)
    assert store.get(job.id) is None and store.count() == 0


def test_newest_first_whatever_order_the_index_learned_them(tmp_path):
    """Indexes of two hosts learn of jobs in different orders; both list by creation time."""
    from datetime import datetime, timedelta, timezone

    store = JobStore(str(tmp_path / "jobs.db"))
    base = datetime(2026, 12, 1, tzinfo=timezone.utc)
    jobs = []
    for i in range(7):
        job = make()
        job.created_at = base + timedelta(milliseconds=i)
        jobs.append(job)
    for job in [jobs[3], jobs[0], jobs[6], jobs[1], jobs[5], jobs[2], jobs[4]]:
        store.save(job)
    page, cursor = store.list(limit=3)
    seen = [r["id"] for r in page]
    while cursor is not None:
        page, cursor = store.list(limit=3, cursor=cursor)
        seen += [r["id"] for r in page]
    assert seen == [j.id for j in reversed(jobs)]


def test_an_older_index_gets_its_list_order_from_the_records(tmp_path):
    path = str(tmp_path / "jobs.db")
    db = sqlite3.connect(path)
    for statement in ";".join(MIGRATIONS[:3]).split(";"):
        if statement.strip():
            db.execute(statement)
    older, newer = make(), make()
    newer.created_at = older.created_at.replace(year=older.created_at.year + 1)
    for seq, job in ((1, newer), (2, older)):  # learned newest first
        db.execute(
            "INSERT INTO jobs (seq, id, status, backend, name, created_at, kind, record)"
            " VALUES (?, ?, ?, ?, ?, '', ?, ?)",
            (seq, job.id, job.status, job.backend, job.name, job.kind, json.dumps(job.to_record())),
        )
    db.execute("PRAGMA user_version = 3")
    db.commit()
    db.close()
    records, _ = JobStore(path).list()
    assert [r["id"] for r in records] == [newer.id, older.id]


def test_two_servers_opening_a_new_index_at_once_both_migrate_it(tmp_path):
    import threading

    path = str(tmp_path / "jobs.db")
    errors: list[BaseException] = []
    stores: list[JobStore] = []
    start = threading.Barrier(4)

    def open_it():
        start.wait()
        try:
            stores.append(JobStore(path))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(stores) == 4
    assert not any(s.rebuilt for s in stores)
    assert not list(tmp_path.glob("jobs.db.damaged-*"))
    assert stores[0].version == SCHEMA_VERSION and stores[0].integrity() == "ok"


def test_a_v4_index_upgrades_with_change_sequences_and_search_text(tmp_path):
    """Migration 5 on an index a server of the previous version left (schema 4)."""
    from jupyter_jobs import store as store_module

    path = str(tmp_path / "jobs.db")
    db = sqlite3.connect(path)
    for statement in ";".join(MIGRATIONS[:4]).split(";"):
        if statement.strip():
            db.execute(statement)
    jobs = [make(status=COMPLETED), make(status=RUNNING)]
    jobs[0].name, jobs[0].path = "Ünïcode Report", "reports/Quarterly.py"
    jobs[1].name, jobs[1].path = "train", "models/train.py"
    for seq, job in enumerate(jobs, 1):
        db.execute(
            "INSERT INTO jobs (seq, id, status, backend, name, created_at, kind, record, sort_key)"
            " VALUES (?, ?, ?, ?, ?, '', ?, ?, ?)",
            (
                seq,
                job.id,
                job.status,
                job.backend,
                job.name,
                job.kind,
                json.dumps(job.to_record()),
                store_module.sort_key(job),
            ),
        )
    db.execute("PRAGMA user_version = 4")
    db.commit()
    db.close()

    store = JobStore(path)
    assert store.version == SCHEMA_VERSION
    seqs = [r[0] for r in store.db.execute("SELECT updated_seq FROM jobs ORDER BY seq")]
    assert seqs == [1, 2]
    # search: name or path, ignoring case (Unicode case folding)
    assert [r["id"] for r in store.page(q="ÜNÏCODE").records] == [jobs[0].id]
    assert [r["id"] for r in store.page(q="quarterly").records] == [jobs[0].id]
    assert store.page(q="nothing like it").total == 0
    token = store.change_token()
    assert store.page(changed_since=token).records == []
    jobs[1].status = COMPLETED
    store.save(jobs[1])
    store.delete(jobs[0].id)
    page = store.page(changed_since=token)
    assert [r["id"] for r in page.records] == [jobs[1].id]
    assert page.deleted == [jobs[0].id] and not page.reload
    assert page.counts[COMPLETED] == 1 and page.counts[RUNNING] == 0


def test_change_tokens_unchanged_rows_and_tombstones(tmp_path, monkeypatch):
    from jupyter_jobs import store as store_module

    monkeypatch.setattr(store_module, "MAX_TOMBSTONES", 2)
    store = JobStore(str(tmp_path / "jobs.db"))
    jobs = [make() for _ in range(6)]
    store.save_many(jobs)
    start = store.change_token()
    store.save(jobs[0])  # the same record again: not a change
    assert store.page(changed_since=start).records == []
    assert store.change_token() == start
    store.delete(jobs[1].id)
    after_one = store.change_token()
    assert store.page(changed_since=start).deleted == [jobs[1].id]
    # a job indexed again after its deletion is no longer reported deleted
    store.save(jobs[1])
    page = store.page(changed_since=start)
    assert page.deleted == [] and [r["id"] for r in page.records] == [jobs[1].id]
    store.delete_many([jobs[2].id, jobs[3].id, jobs[4].id])  # 3 tombstones: 1 pruned
    assert store.page(changed_since=after_one).reload  # a deletion after it was forgotten
    recent = store.page(changed_since=store.change_token())
    assert not recent.reload and recent.records == [] and recent.deleted == []
    # another index's token, and one from this index's future: reload, with the first page
    epoch, _, seq = store.change_token().partition("-")
    other = "0" * 8 if epoch != "0" * 8 else "1" * 8
    for token in (f"{other}-{seq}", f"{epoch}-{int(seq) + 5}"):
        page = store.page(changed_since=token, limit=2)
        assert page.reload and len(page.records) == 2 and page.total == 3
