"""Helpers for the tests that run several real Jupyter servers on one job root."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable
from typing import Any

from benchmarks._server import ServerProcess, request

API = "jupyter-jobs/api"
FINAL = ("completed", "failed", "cancelled", "lost")

#: each run appends "<job id> <start> <end>" to runs.log in the root: how many times a job ran,
#: and whether two ran at once
RUN_SCRIPT = """\
import os, sys, time
seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.3
code = int(sys.argv[2]) if len(sys.argv) > 2 else 0
start = time.time()
for k in range(5):
    print(f"line {k}", flush=True)
    time.sleep(seconds / 5)
with open(os.environ["RUNS_LOG"], "a") as f:
    f.write(f"{os.environ['JUPYTER_JOBS_JOB_ID']} {start} {time.time()}\\n")
sys.exit(code)
"""


def start_server(
    workdir: str,
    job_root: str,
    root_dir: str,
    *,
    host: str | None = None,
    config: dict[str, dict[str, Any]] | None = None,
) -> ServerProcess:
    """A real Jupyter server with jupyter_jobs on ``job_root``; ``host`` names the host it plays."""
    env = {"JUPYTER_JOBS_LOCAL_STATE": os.path.join(workdir, "local-state")}
    if host:
        env["JUPYTER_JOBS_HOST"] = host
    base = {
        "LocalSpawner": {"poll_interval": 0.5},
        "JobManager": {"sync_interval": 0.5, "lease_timeout": 4.0, "cancel_grace_period": 2.0},
    }
    for section, values in (config or {}).items():
        base.setdefault(section, {}).update(values)
    os.makedirs(workdir, exist_ok=True)
    return ServerProcess(
        config=base, workdir=workdir, job_root=job_root, root_dir=root_dir, env=env
    ).start()


async def submit(server: ServerProcess, body: dict[str, Any]) -> dict[str, Any]:
    _, job, _ = await request(server, "POST", f"{API}/jobs", body, expect=201)
    return job


async def get(server: ServerProcess, job_id: str) -> dict[str, Any]:
    _, job, _ = await request(server, "GET", f"{API}/jobs/{job_id}", expect=200)
    return job


async def list_ids(server: ServerProcess) -> set[str]:
    ids: set[str] = set()
    cursor = None
    while True:
        path = f"{API}/jobs?limit=1000" + (f"&cursor={cursor}" if cursor else "")
        _, data, _ = await request(server, "GET", path, expect=200)
        ids.update(j["id"] for j in data["jobs"])
        cursor = data.get("next_cursor")
        if not cursor:
            return ids


async def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(interval)


async def wait_final(
    server: ServerProcess, ids: Iterable[str], timeout: float = 90
) -> dict[str, dict]:
    ids = list(ids)
    jobs: dict[str, dict] = {}

    async def all_final() -> bool:
        for job_id in ids:
            if jobs.get(job_id, {}).get("status") not in FINAL:
                jobs[job_id] = await get(server, job_id)
        return all(j["status"] in FINAL for j in jobs.values())

    try:
        await wait_until(all_final, timeout, "every job final", interval=0.2)
    except AssertionError:
        raise AssertionError({k: v["status"] for k, v in jobs.items()}) from None
    return jobs


def runs(root_dir: str) -> list[tuple[str, float, float]]:
    """The runs.log lines: (job id, start, end)."""
    try:
        with open(os.path.join(root_dir, "runs.log")) as f:
            rows = [line.split() for line in f if line.strip()]
    except FileNotFoundError:
        return []
    return [(r[0], float(r[1]), float(r[2])) for r in rows]


def most_at_once(rows: list[tuple[str, float, float]]) -> int:
    events = sorted([(s, 1) for _, s, _ in rows] + [(e, -1) for _, _, e in rows])
    now = peak = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


def integrity(*paths: str) -> None:
    """SQLite's integrity_check is "ok" for every index file given."""
    for path in paths:
        db = sqlite3.connect(path)
        try:
            result = [r[0] for r in db.execute("PRAGMA integrity_check")]
        finally:
            db.close()
        assert result == ["ok"], (path, result)


def index_files(workdir: str, job_root: str) -> list[str]:
    """The index database(s) a server of ``workdir`` used for ``job_root``."""
    found = []
    local = os.path.join(workdir, "local-state")
    if os.path.isdir(local):
        found += [os.path.join(local, n) for n in os.listdir(local) if n.endswith(".db")]
    if os.path.exists(os.path.join(job_root, "jobs.db")):
        found.append(os.path.join(job_root, "jobs.db"))
    return found


def jj(server: ServerProcess, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``jupyter jobs ARGS`` (``python -m jupyter_jobs.cli``) against ``server``, run in its root
    with no ``JUPYTER_JOBS_*`` variable of the test's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_JOBS_")}
    argv = [sys.executable, "-m", "jupyter_jobs.cli", "--url", server.url, "--token"]
    argv += [server.token, "--root-dir", server.root_dir, *args]
    return subprocess.run(
        argv, cwd=server.root_dir, env=env, capture_output=True, text=True, timeout=timeout
    )
