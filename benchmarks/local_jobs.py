"""Local-jobs benchmark: a real ``jupyter server`` with jupyter_jobs, real jobs, real websockets.

Prints, in one run, each figure next to a baseline measured in the same run (ratios, not pass/fail):

(a) REST submit → ``completed`` event of a trivial script job, against running the same script
    directly with ``subprocess.run`` (median of 30, interleaved); the *added* latency is the target.
(b) ``GET jupyter-jobs/api/jobs`` (first page, 100 jobs) with 10,000 finished jobs in the store,
    against ``GET api/status`` on the same server (median).
(c) Server RSS growth while a job writes 200 MB to stdout and a websocket client follows its log to
    the end (all bytes checked), against jupyter_server streaming the same 200 MB file from
    ``/files/`` on a fresh server.
(d) Process exit → job event received (the job writes ``time.monotonic()`` to a file just before it
    exits), against a parent that waits for the same script with ``subprocess.run`` (median).

Usage: ``python benchmarks/local_jobs.py [--quick] [--only a,b] [--json out.json]``.
``--quick`` makes every part tiny (it is what the smoke test runs). ``--scheduler-venv DIR`` adds a
comparison with jupyter-scheduler installed in another virtualenv (never in ours): the same list
with the same history size, and a one-cell notebook from submit to completed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _server import (
    EventStream,
    Row,
    RssSampler,
    ServerError,
    ServerProcess,
    fmt,
    median,
    print_table,
    request,
    ws_connect,
)

from jupyter_jobs.jobroot import JobRoot
from jupyter_jobs.models import Job
from jupyter_jobs.store import JobStore

MB = 1 << 20
#: one backend only: the others would poll their (absent) engines during the measurements
SERVER_CONFIG: dict[str, dict[str, Any]] = {"JobManager": {"enabled_backends": ["local"]}}
#: extra environment of the servers (``--server-env``), e.g. PYTHONPATH of a patched tree
SERVER_ENV: dict[str, str] = {}
JOBS_API = "jupyter-jobs/api/jobs"

TRIVIAL_SCRIPT = 'print("hello from a trivial job")\n'
WRITER_SCRIPT = """\
import sys
mb = int(sys.argv[1])
line = b"x" * 127 + b"\\n"
block = line * 8192  # 1 MiB
out = sys.stdout.buffer
for _ in range(mb):
    out.write(block)
out.flush()
"""
EXIT_SCRIPT = """\
import os, sys, time
stamp, pause = sys.argv[1], float(sys.argv[2])
time.sleep(pause)
with open(stamp + ".tmp", "w") as f:
    f.write(repr(time.monotonic()))
os.replace(stamp + ".tmp", stamp)
"""


def write_script(server: ServerProcess, name: str, text: str) -> str:
    path = os.path.join(server.root_dir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


async def submit(server: ServerProcess, body: dict[str, Any]) -> dict[str, Any]:
    _, job, _ = await request(server, "POST", JOBS_API, body, expect=201)
    return job


# ---------------------------------------------------------------------- (a) latency


async def bench_latency(runs: int, warmup: int) -> Row:
    with ServerProcess(config=SERVER_CONFIG, env=SERVER_ENV) as server:
        script = write_script(server, "trivial.py", TRIVIAL_SCRIPT)
        ours: list[float] = []
        direct: list[float] = []
        async with EventStream(server) as events:
            for i in range(warmup + runs):
                t0 = time.monotonic()
                subprocess.run([sys.executable, script], stdout=subprocess.DEVNULL, check=True)
                t_direct = time.monotonic() - t0

                t0 = time.monotonic()
                job = await submit(server, {"path": "trivial.py"})
                t_event, data = await events.wait_final(job["id"])
                if data["status"] != "completed":
                    raise ServerError(f"trivial job ended {data['status']}: {data.get('job')}")
                events.forget(job["id"])
                if i >= warmup:
                    ours.append(t_event - t0)
                    direct.append(t_direct)
    return Row(
        "a",
        f"trivial script: REST submit -> completed event (median of {runs})",
        median(ours) * 1000,
        median(direct) * 1000,
        "ms",
        100.0,
        "added",
        [
            "baseline: subprocess.run of the same script; fastest runs (the figure on an idle"
            f" machine): ours {min(ours) * 1000:.1f} ms, baseline {min(direct) * 1000:.1f} ms,"
            f" added {(min(ours) - min(direct)) * 1000:+.1f} ms"
        ],
    )


# ---------------------------------------------------------------------- (b) list


def fake_jobs(n: int, job_root: str, root_dir: str) -> list[Job]:
    """``n`` finished jobs that look like a real history: scripts, notebooks and commands over the
    last 30 days, mostly completed, some failed or cancelled."""
    rng = random.Random(42)
    now = datetime.now(timezone.utc)
    names = ["train", "clean_data", "report", "sweep", "etl", "fit_model", "plots", "export"]
    jobs = []
    for i in range(n):
        created = now - timedelta(seconds=(n - i) * 30 * 86400 / n)
        started = created + timedelta(seconds=rng.uniform(0.05, 2))
        finished = started + timedelta(seconds=rng.expovariate(1 / 300))
        kind = rng.choices(["script", "notebook", "command"], [6, 3, 1])[0]
        stem = f"{rng.choice(names)}_{i % 97}"
        status, code, reason = rng.choices(
            [("completed", 0, None), ("failed", 1, "exit code 1"), ("cancelled", 143, "cancelled")],
            [80, 15, 5],
        )[0]
        job_id = f"{i:08x}{rng.getrandbits(96):024x}"
        path = f"projects/{stem}.{'ipynb' if kind == 'notebook' else 'py'}"
        argv = (
            ["bash", "-c", "make all"]
            if kind == "command"
            else [sys.executable, os.path.join(root_dir, path), "--epochs", "10"]
        )
        job = Job(
            id=job_id,
            name=f"{stem}.{'ipynb' if kind == 'notebook' else 'py'}",
            kind=kind,
            backend="local",
            profile="default",
            path=None if kind == "command" else path,
            command=argv if kind == "command" else [],
            args=[] if kind == "notebook" else ["--epochs", "10"],
            env={"OMP_NUM_THREADS": "2", "EXPERIMENT": stem},
            cwd="projects",
            resources={"cpus": 2, "memory": 4 * 1024**3} if i % 3 == 0 else {},
            parameters={"alpha": 0.5, "n": i} if kind == "notebook" else {},
            status=status,
            exit_code=code,
            reason=reason,
            created_at=created,
            started_at=started,
            finished_at=finished,
            backend_ref=str(10000 + i % 30000),
            host="vm",
            progress={"fraction": 1.0, "message": "100/100"} if i % 4 == 0 else None,
            log_size=rng.randrange(100, 5 * MB),
            outputs=[f"job-outputs/{stem}-{job_id[:8]}.ipynb"] if kind == "notebook" else [],
            job_dir=os.path.join(job_root, job_id),
            state={"cwd": os.path.join(root_dir, "projects"), "runner_pid": 10000 + i},
            argv=argv,
        )
        jobs.append(job)
    return jobs


def fill_store(job_root: str, root_dir: str, n: int) -> None:
    """A job root with ``n`` finished jobs: their directories with records, and the index."""
    os.makedirs(job_root, mode=0o700, exist_ok=True)
    store = JobStore(os.path.join(job_root, "jobs.db"))
    root = JobRoot(job_root)
    try:
        jobs = fake_jobs(n, job_root, root_dir)
        for job in jobs:
            root.create(job, {})
        store.save_many(jobs)
        assert store.count() == n
    finally:
        store.close()


async def bench_list(n_jobs: int, runs: int, warmup: int) -> Row:
    server = ServerProcess(config=SERVER_CONFIG, env=SERVER_ENV)
    fill_store(server.job_root, server.root_dir, n_jobs)
    with server:
        ours: list[float] = []
        status: list[float] = []
        size = 0
        for i in range(warmup + runs):
            t0 = time.monotonic()
            _, data, _ = await request(server, "GET", JOBS_API, expect=200)
            t_list = time.monotonic() - t0
            expected = min(100, n_jobs)
            if len(data["jobs"]) != expected or (n_jobs > 100 and data["next_cursor"] is None):
                raise ServerError(f"GET jobs gave {len(data['jobs'])} jobs, wanted {expected}")
            size = len(json.dumps(data))
            t0 = time.monotonic()
            await request(server, "GET", "api/status", expect=200)
            t_status = time.monotonic() - t0
            if i >= warmup:
                ours.append(t_list)
                status.append(t_status)
    return Row(
        "b",
        f"GET jobs, first page of 100, {n_jobs:,} jobs in the store (median of {runs})",
        median(ours) * 1000,
        median(status) * 1000,
        "ms",
        20.0,
        "ours",
        [f"baseline: GET api/status on the same server; answer {size / 1024:.0f} KiB"],
    )


# ---------------------------------------------------------------------- (c) memory


async def follow_log(server: ServerProcess, job_id: str) -> tuple[int, str]:
    """Follow a job's log websocket to its ``end`` frame; (bytes received, final status).
    Checks that the frames are contiguous; keeps no data."""
    conn = await ws_connect(server, f"{JOBS_API}/{job_id}/log/follow?offset=0")
    received = 0
    try:
        while True:
            message = await conn.read_message()
            if message is None:
                raise ServerError(f"log websocket closed before the end ({received} bytes)")
            frame = json.loads(message)
            if frame["type"] == "data":
                if frame["offset"] != received:
                    raise ServerError(f"gap in the log: at {received}, got {frame['offset']}")
                received += len(frame["data"].encode("utf-8"))
                if received != frame["next_offset"]:
                    raise ServerError("a data frame's next_offset does not match its data")
            elif frame["type"] == "end":
                if frame["next_offset"] != received:
                    raise ServerError("the end frame's next_offset is not what was received")
                return received, frame["status"]
            else:
                raise ServerError(f"log websocket error: {frame}")
    finally:
        conn.close()


async def bench_memory(log_mb: int) -> Row:
    expected = log_mb * MB
    with ServerProcess(config=SERVER_CONFIG, env=SERVER_ENV) as server:
        write_script(server, "writer.py", WRITER_SCRIPT)
        await asyncio.sleep(1.0)  # let the server settle after start
        t0 = time.monotonic()
        with RssSampler(server.pid) as ours:
            job = await submit(server, {"path": "writer.py", "args": [str(log_mb)]})
            received, status = await follow_log(server, job["id"])
        elapsed = time.monotonic() - t0
        if status != "completed" or received != expected:
            raise ServerError(f"log follow got {received} of {expected} bytes; job {status}")

    with ServerProcess(config=SERVER_CONFIG, env=SERVER_ENV) as server:
        path = write_script(server, "writer.py", WRITER_SCRIPT)
        with open(os.path.join(server.root_dir, "big.log"), "wb") as out:
            subprocess.run([sys.executable, path, str(log_mb)], stdout=out, check=True)
        await asyncio.sleep(1.0)
        got = 0

        def count(chunk: bytes) -> None:
            nonlocal got
            got += len(chunk)

        with RssSampler(server.pid) as base:
            req = HTTPRequest(
                server.http_url("files/big.log"),
                headers=server.headers,
                streaming_callback=count,
                request_timeout=600,
            )
            client = AsyncHTTPClient(force_instance=True, max_body_size=expected + MB)
            try:
                await client.fetch(req)
            finally:
                client.close()
        if got != expected:
            raise ServerError(f"/files/ download got {got} of {expected} bytes")
    return Row(
        "c",
        f"server RSS growth: job writes {log_mb} MB, client follows its log to the end",
        ours.growth / MB,
        base.growth / MB,
        "MB",
        30.0,
        "ours",
        [
            f"all {received:,} bytes received in {elapsed:.1f} s"
            f" ({received / MB / elapsed:.0f} MB/s, write + follow)",
            "baseline: the same server streaming the same file from /files/",
        ],
    )


# ---------------------------------------------------------------------- (d) exit to event


async def bench_exit(runs: int, warmup: int, pause: float) -> Row:
    with ServerProcess(config=SERVER_CONFIG, env=SERVER_ENV) as server:
        script = write_script(server, "exit_stamp.py", EXIT_SCRIPT)
        ours: list[float] = []
        direct: list[float] = []
        async with EventStream(server) as events:
            for i in range(warmup + runs):
                stamp = os.path.join(server.workdir, f"direct-{i}.stamp")
                subprocess.run([sys.executable, script, stamp, str(pause)], check=True)
                t_direct = time.monotonic() - float(open(stamp).read())

                stamp = os.path.join(server.workdir, f"job-{i}.stamp")
                job = await submit(server, {"path": "exit_stamp.py", "args": [stamp, str(pause)]})
                t_event, data = await events.wait_final(job["id"])
                if data["status"] != "completed":
                    raise ServerError(f"exit job ended {data['status']}: {data.get('job')}")
                events.forget(job["id"])
                with open(stamp) as f:
                    t_exit = float(f.read())
                if i >= warmup:
                    ours.append(t_event - t_exit)
                    direct.append(t_direct)
    return Row(
        "d",
        f"process exit -> completed event received (median of {runs})",
        median(ours) * 1000,
        median(direct) * 1000,
        "ms",
        50.0,
        "ours",
        [
            "baseline: the parent of the same script returning from subprocess.run; fastest:"
            f" ours {min(ours) * 1000:.1f} ms, baseline {min(direct) * 1000:.1f} ms"
        ],
    )


# ---------------------------------------------------------------------- jupyter-scheduler

SCHEDULER_FILL = """\
import random, sys, time, uuid
from jupyter_scheduler.orm import Job, create_session, create_tables
db_url, n = sys.argv[1], int(sys.argv[2])
create_tables(db_url)
rng = random.Random(42)
now = int(time.time() * 1000)
rows = []
for i in range(n):
    created = now - (n - i) * 30 * 86400 * 1000 // n
    stem = f"report_{i % 97}"
    rows.append(dict(
        job_id=str(uuid.uuid4()), name=stem, input_filename=stem + ".ipynb",
        runtime_environment_name="python3", output_formats=["ipynb"],
        parameters={"alpha": "0.5"} if i % 3 == 0 else None, tags=[],
        status=rng.choices(["COMPLETED", "FAILED", "STOPPED"], [80, 15, 5])[0],
        create_time=created, update_time=created + 60000, start_time=created + 500,
        end_time=created + 60000, url=f"/jobs/{i}", packaged_files=[],
        output_filename_template="{{input_filename}}-{{create_time}}",
    ))
with create_session(db_url)() as session:
    session.bulk_insert_mappings(Job, rows)
    session.commit()
"""
NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "c1",
            "metadata": {},
            "outputs": [],
            "source": "print('hello from a trivial notebook')",
        }
    ],
    "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


async def scheduler_list(python: str, n_jobs: int, runs: int) -> float:
    """Median ``GET scheduler/jobs?max_items=100`` with ``n_jobs`` finished jobs in its database."""
    server = ServerProcess(python=python, extensions={"jupyter_scheduler": True})
    db_url = f"sqlite:///{server.workdir}/scheduler.sqlite"
    server.config = {"SchedulerApp": {"db_url": db_url}}
    subprocess.run([python, "-c", SCHEDULER_FILL, db_url, str(n_jobs)], check=True)
    times = []
    with server:
        for i in range(runs + 3):
            t0 = time.monotonic()
            _, data, _ = await request(server, "GET", "scheduler/jobs?max_items=100", expect=200)
            if i >= 3:
                times.append(time.monotonic() - t0)
            if len(data["jobs"]) != min(100, n_jobs):
                raise ServerError(f"scheduler listed {len(data['jobs'])} jobs")
    return median(times) * 1000


async def notebook_latency(server: ServerProcess, runs: int, scheduler: bool) -> float:
    """Median submit -> completed of a one-cell notebook: ours by event, the scheduler's by
    polling its job every 20 ms (it pushes no status events)."""
    with open(os.path.join(server.root_dir, "hello.ipynb"), "w") as f:
        json.dump(NOTEBOOK, f)
    times = []
    async with EventStream(server) as events:
        for _ in range(runs + 1):
            t0 = time.monotonic()
            if scheduler:
                body = {
                    "input_uri": "hello.ipynb",
                    "name": "hello",
                    "output_formats": ["ipynb"],
                    "runtime_environment_name": "python3",
                }
                _, job, _ = await request(server, "POST", "scheduler/jobs", body, expect=200)
                deadline = t0 + 120
                while True:  # a new job is STOPPED until it is queued: wait for an end
                    _, info, _ = await request(server, "GET", f"scheduler/jobs/{job['job_id']}")
                    if info["status"] in ("COMPLETED", "FAILED") or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.02)
                status = info["status"].lower()
            else:
                job = await submit(server, {"path": "hello.ipynb"})
                _, data = await events.wait_final(job["id"])
                status = data["status"]
            if status != "completed":
                raise ServerError(f"notebook job ended {status}")
            times.append(time.monotonic() - t0)
    return median(times[1:]) * 1000


async def compare_scheduler(venv: str, quick: bool) -> list[Row]:
    """The same figures for jupyter-scheduler (installed in ``venv``, never in ours)."""
    python = os.path.join(venv, "bin", "python")
    n_jobs, runs, nb_runs = (300, 5, 2) if quick else (10_000, 30, 10)
    rows = []
    theirs = await scheduler_list(python, n_jobs, runs)
    server = ServerProcess(config=SERVER_CONFIG, env=SERVER_ENV)
    fill_store(server.job_root, server.root_dir, n_jobs)
    with server:
        ours = []
        for i in range(runs + 3):
            t0 = time.monotonic()
            await request(server, "GET", JOBS_API, expect=200)
            if i >= 3:
                ours.append(time.monotonic() - t0)
    rows.append(
        Row(
            "b-js",
            f"GET jobs first page, {n_jobs:,} jobs: ours vs jupyter-scheduler",
            median(ours) * 1000,
            theirs,
            "ms",
            20.0,
            "ours",
            ["baseline: GET scheduler/jobs?max_items=100, same history size"],
        )
    )
    with ServerProcess(python=python, extensions={"jupyter_scheduler": True}) as server:
        theirs = await notebook_latency(server, nb_runs, scheduler=True)
    with ServerProcess(config=SERVER_CONFIG, env=SERVER_ENV) as server:
        ours_nb = await notebook_latency(server, nb_runs, scheduler=False)
    rows.append(
        Row(
            "a-js",
            f"one-cell notebook: submit -> completed (median of {nb_runs})",
            ours_nb,
            theirs,
            "ms",
            None,
            "ours",
            ["baseline: jupyter-scheduler POST scheduler/jobs, status polled every 20 ms"],
        )
    )
    return rows


# ---------------------------------------------------------------------- report


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run, not figures")
    p.add_argument("--only", default="a,b,c,d", help="parts to run, e.g. 'a,d'")
    p.add_argument("--runs", type=int, default=None, help="samples for (a) and (d); default 30/20")
    p.add_argument("--jobs", type=int, default=None, help="jobs in the store for (b); 10000")
    p.add_argument("--log-mb", type=int, default=None, help="MB the job writes in (c); 200")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument(
        "--server-env",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="environment of the servers (repeatable), e.g. PYTHONPATH=/tmp/patched to\n"
        "measure a change to jupyter_jobs before it lands",
    )
    p.add_argument(
        "--scheduler-venv",
        metavar="DIR",
        help="a virtualenv with jupyter-scheduler: adds a comparison with it",
    )
    args = p.parse_args(argv)
    args.only = {x.strip() for x in args.only.split(",") if x.strip()}
    for item in args.server_env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            p.error(f"--server-env wants NAME=VALUE, not {item!r}")
        SERVER_ENV[name] = value
    unknown = args.only - {"a", "b", "c", "d"}
    if unknown:
        p.error(f"unknown parts: {', '.join(sorted(unknown))}")
    return args


async def run(args: argparse.Namespace) -> list[Row]:
    quick = args.quick
    warmup = 1 if quick else 3
    parts = {
        "a": lambda: bench_latency(args.runs or (3 if quick else 30), warmup),
        "b": lambda: bench_list(
            args.jobs or (300 if quick else 10_000), 5 if quick else 50, 2 if quick else 5
        ),
        "c": lambda: bench_memory(args.log_mb or (5 if quick else 200)),
        "d": lambda: bench_exit(args.runs or (3 if quick else 20), warmup, 0.2 if quick else 0.3),
    }
    rows: list[Row] = []
    for key, bench in parts.items():
        if key in args.only:
            t0 = time.monotonic()
            row = await bench()
            print(
                f"  ({key}) done in {time.monotonic() - t0:.0f} s: ours {fmt(row.ours, row.unit)},"
                f" baseline {fmt(row.baseline, row.unit)}",
                flush=True,
            )
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"jupyter-jobs local-jobs benchmark: {os.cpu_count()} CPUs, python {sys.version.split()[0]}"
        f"{' (--quick: sizes too small for real figures)' if args.quick else ''}",
        flush=True,
    )
    load_before = os.getloadavg()
    rows = asyncio.run(run(args))
    load_after = os.getloadavg()
    print_table(rows)
    print(
        f"  load average (1 min) before {load_before[0]:.1f}, after {load_after[0]:.1f}"
        f" on {os.cpu_count()} CPUs: figures from a busy machine are inflated"
    )
    results: dict[str, Any] = {
        "quick": args.quick,
        "cpus": os.cpu_count(),
        "load_before": load_before[0],
        "load_after": load_after[0],
        "rows": [r.as_dict() for r in rows],
    }
    if args.scheduler_venv:
        print("comparison with jupyter-scheduler (its own virtualenv):", flush=True)
        sched_rows = asyncio.run(compare_scheduler(args.scheduler_venv, args.quick))
        print_table(sched_rows)
        results["jupyter_scheduler"] = [r.as_dict() for r in sched_rows]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
