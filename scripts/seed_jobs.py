"""Seed a job root with many finished jobs, fast: their directories (``job.json`` only) and the
index (``<job_root>/jobs.db``), as a server would have left them. For the tests of the list at
scale (tests/integration/test_list_at_scale.py, ui-tests/tests/many-jobs.spec.ts).

    python scripts/seed_jobs.py JOB_ROOT [N]     (N defaults to 10000)

Job ``i`` (0 is the oldest, one minute apart) is named ``sweep-<i, 5 digits>.py`` with the path
``sweeps/sweep-<i>.py``; every 10th (``i % 10 == 3``) failed, every 50th (``i % 50 == 7``) is
lost, every 5th (``i % 5 == 1``) is a notebook (``.ipynb``); the rest completed, all on
``local``. :func:`expected` tells the counts. Prints one JSON line: what was written.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jupyter_jobs.jobfiles import RECORD
from jupyter_jobs.models import Job
from jupyter_jobs.store import JobStore


def status_of(i: int) -> str:
    if i % 50 == 7:
        return "lost"
    if i % 10 == 3:
        return "failed"
    return "completed"


def name_of(i: int) -> str:
    return f"sweep-{i:05d}.{'ipynb' if i % 5 == 1 else 'py'}"


def expected(n: int) -> dict[str, int]:
    """How many seeded jobs end in each status."""
    counts: dict[str, int] = {}
    for i in range(n):
        counts[status_of(i)] = counts.get(status_of(i), 0) + 1
    return counts


def make_jobs(n: int, job_root: str) -> list[Job]:
    start = datetime.now(timezone.utc) - timedelta(minutes=n + 60)
    jobs = []
    for i in range(n):
        created = start + timedelta(minutes=i)
        status = status_of(i)
        notebook = i % 5 == 1
        job_id = f"{i:08x}{'5eed' * 6}"
        job = Job(
            id=job_id,
            name=name_of(i),
            kind="notebook" if notebook else "script",
            backend="local",
            profile="default",
            path=f"sweeps/{name_of(i)}",
            args=[] if notebook else ["--seed", str(i)],
            status=status,
            exit_code={"completed": 0, "failed": 1}.get(status),
            reason={
                "failed": "exit code 1",
                "lost": "the runner stopped reporting (its host went away)",
            }.get(status),
            created_at=created,
            started_at=created + timedelta(seconds=1),
            finished_at=created + timedelta(seconds=31),
            host="seed-host",
            job_dir=os.path.join(job_root, job_id),
        )
        jobs.append(job)
    return jobs


def seed(job_root: str, n: int = 10_000) -> dict[str, int]:
    """Write ``n`` jobs into ``job_root`` (created when missing); returns the status counts."""
    os.makedirs(job_root, mode=0o700, exist_ok=True)
    jobs = make_jobs(n, job_root)
    for job in jobs:
        os.makedirs(job.job_dir, mode=0o700, exist_ok=True)
        with open(os.path.join(job.job_dir, RECORD), "w") as f:
            json.dump(job.to_record(), f)
    store = JobStore(os.path.join(job_root, "jobs.db"))
    try:
        store.save_many(jobs)
        store.set_meta("exported", "1")
    finally:
        store.close()
    return expected(n)


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__, file=sys.stderr)
        return 2
    n = int(argv[1]) if len(argv) == 2 else 10_000
    t0 = time.monotonic()
    counts = seed(argv[0], n)
    print(
        json.dumps(
            {
                "job_root": argv[0],
                "jobs": n,
                "counts": counts,
                "seconds": round(time.monotonic() - t0, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
