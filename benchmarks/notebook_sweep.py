"""Benchmark 7(b) of issue 13: N trivial notebook runs as a local sweep, against the same N
submitted to jupyter-scheduler and against N bare ``papermill`` runs, measured in one run.

Every contender runs the same two-cell notebook (a ``parameters`` cell ``x = 0`` and
``print(x + 1)``), each run with its own ``x``, at most ``--concurrency`` runs at once (default 2:
this is a 2-core machine), and is timed from the first submit to the last run's end:

- **papermill bare loop**: ``papermill IN OUT -p x I`` per run, ``--concurrency`` workers;
- **jupyter-scheduler**: a real ``jupyter server`` with the ``jupyter_scheduler`` extension from
  another virtualenv, the N runs submitted through ``POST scheduler/jobs`` (with ``parameters``)
  and each polled with ``GET scheduler/jobs/ID`` until COMPLETED/FAILED. jupyter-scheduler has no
  concurrency limit of its own (each job is a new process at once), so the benchmark keeps at
  most ``--concurrency`` of its jobs in flight: it submits the next when one has ended;
- **ours**: a real ``jupyter server`` with jupyter_jobs, one ``POST jupyter-jobs/api/jobs`` with
  ``grid: {x: [0..N-1]}`` and ``throttle: --concurrency`` (``LocalSpawner.max_concurrent`` the
  same), polled until the sweep has ended; once as before the notebook driver's import fix
  (``JUPYTER_JOBS_NOTEBOOK_FULL_IMPORTS=1`` in the server's environment,
  which its jobs inherit), once as shipped.

Prints the total time of each, the time per run, and the ratios to jupyter-scheduler (target:
ours <= 0.5x) and to the bare papermill loop; never a pass/fail.

jupyter-scheduler is never installed into this project's environment: make a separate venv::

    python3 -m venv /tmp/js-venv && /tmp/js-venv/bin/pip install jupyter-scheduler ipykernel

and point ``--scheduler-venv`` (or ``JUPYTER_JOBS_BENCH_SCHEDULER_VENV``) at it (default
``/tmp/js-venv``); without it that row is skipped with a message.

    python benchmarks/notebook_sweep.py                # N = 100
    python benchmarks/notebook_sweep.py --runs 3 --no-scheduler   # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _server import ServerError, ServerProcess, request

JOBS_API = "jupyter-jobs/api/jobs"
ENV_SCHEDULER_VENV = "JUPYTER_JOBS_BENCH_SCHEDULER_VENV"
DEFAULT_SCHEDULER_VENV = "/tmp/js-venv"
TARGET = 0.5  # ours <= 0.5x jupyter-scheduler

NOTEBOOK: dict[str, Any] = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "p",
            "metadata": {"tags": ["parameters"]},
            "outputs": [],
            "source": "x = 0",
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "c",
            "metadata": {},
            "outputs": [],
            "source": "print(x + 1)",
        },
    ],
    "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


def write_notebook(folder: str) -> str:
    path = os.path.join(folder, "trivial.ipynb")
    with open(path, "w") as f:
        json.dump(NOTEBOOK, f)
    return path


# ---------------------------------------------------------------------- papermill


def papermill_loop(n: int, concurrency: int) -> float:
    """Seconds for ``n`` bare papermill runs, ``concurrency`` at once."""
    papermill = os.path.join(os.path.dirname(sys.executable), "papermill")
    with tempfile.TemporaryDirectory(prefix="jj-bench-pm-") as d:
        source = write_notebook(d)

        def one(i: int) -> None:
            out = os.path.join(d, f"out-{i}.ipynb")
            r = subprocess.run(
                [papermill, "--no-progress-bar", source, out, "-p", "x", str(i)],
                capture_output=True,
                text=True,
            )
            if r.returncode != 0:
                raise RuntimeError(f"papermill failed: {r.stderr[-1000:]}")

        t0 = time.monotonic()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, range(n)))
        return time.monotonic() - t0


# ---------------------------------------------------------------------- jupyter-scheduler


async def scheduler_runs(python: str, n: int, concurrency: int) -> float:
    """Seconds for ``n`` runs through jupyter-scheduler's REST API, ``concurrency`` in flight."""
    server = ServerProcess(python=python, extensions={"jupyter_scheduler": True})
    server.config = {"SchedulerApp": {"db_url": f"sqlite:///{server.workdir}/scheduler.sqlite"}}
    with server:
        write_notebook(server.root_dir)

        async def one(i: int) -> str:
            body = {
                "input_uri": "trivial.ipynb",
                "name": f"trivial-{i}",
                "output_formats": ["ipynb"],
                "runtime_environment_name": "python3",
                "parameters": {"x": str(i)},
            }
            _, job, _ = await request(server, "POST", "scheduler/jobs", body, expect=200)
            deadline = time.monotonic() + 600
            while True:  # a new job is STOPPED until it is queued: wait for an end
                _, info, _ = await request(server, "GET", f"scheduler/jobs/{job['job_id']}")
                if info["status"] in ("COMPLETED", "FAILED"):
                    return str(info["status"])
                if time.monotonic() > deadline:
                    raise ServerError(f"jupyter-scheduler job {job['job_id']} never ended")
                await asyncio.sleep(0.05)

        slots = asyncio.Semaphore(concurrency)

        async def limited(i: int) -> str:
            async with slots:
                return await one(i)

        t0 = time.monotonic()
        ends = await asyncio.gather(*(limited(i) for i in range(n)))
        elapsed = time.monotonic() - t0
    failed = sum(1 for s in ends if s != "COMPLETED")
    if failed:
        raise ServerError(f"{failed} of {n} jupyter-scheduler jobs failed")
    return elapsed


# ---------------------------------------------------------------------- ours


async def our_sweep(n: int, concurrency: int, env: dict[str, str]) -> float:
    """Seconds for a local sweep of ``n`` notebook runs, ``concurrency`` at once; ``env``: of the
    server (its jobs inherit it)."""
    config: dict[str, dict[str, Any]] = {
        "JobManager": {"enabled_backends": ["local"]},
        "LocalSpawner": {"max_concurrent": concurrency},
    }
    with ServerProcess(config=config, env=env) as server:
        write_notebook(server.root_dir)
        body: dict[str, Any] = {
            "path": "trivial.ipynb",
            "grid": {"x": list(range(n))},
            "throttle": concurrency,
        }
        t0 = time.monotonic()
        _, sweep, _ = await request(server, "POST", JOBS_API, body, expect=201)
        deadline = t0 + 60 + 30 * n
        while True:
            _, info, _ = await request(server, "GET", f"{JOBS_API}/{sweep['id']}", expect=200)
            if info["status"] in ("completed", "failed", "cancelled", "lost"):
                break
            if time.monotonic() > deadline:
                raise ServerError(f"the sweep did not end: {info.get('child_counts')}")
            await asyncio.sleep(0.1)
        elapsed = time.monotonic() - t0
    if info["status"] != "completed":
        raise ServerError(f"the sweep ended {info['status']}: {info.get('child_counts')}")
    return elapsed


# ---------------------------------------------------------------------- main


def scheduler_python(venv: str | None) -> tuple[str | None, str]:
    """The scheduler venv's python, or None and why not."""
    if not venv:
        return None, "jupyter-scheduler: skipped (--no-scheduler)"
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        return None, (
            f"jupyter-scheduler: skipped: no virtualenv at {venv} (create it with"
            f" `python3 -m venv {venv} && {venv}/bin/pip install jupyter-scheduler ipykernel`,"
            f" or set --scheduler-venv / {ENV_SCHEDULER_VENV})"
        )
    r = subprocess.run([python, "-c", "import jupyter_scheduler, ipykernel"], capture_output=True)
    if r.returncode != 0:
        return None, (
            f"jupyter-scheduler: skipped: {venv} has no jupyter_scheduler or ipykernel"
            f" (`{venv}/bin/pip install jupyter-scheduler ipykernel`)"
        )
    return python, ""


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    n, c = args.runs, args.concurrency
    print(f"{n} trivial notebook runs per contender, at most {c} at once for every contender")
    results: dict[str, float | None] = {}
    notes: list[str] = []
    results["papermill bare loop"] = papermill_loop(n, c)
    python, why = scheduler_python(None if args.no_scheduler else args.scheduler_venv)
    if python:
        results["jupyter-scheduler"] = await scheduler_runs(python, n, c)
    else:
        results["jupyter-scheduler"] = None
        notes.append(why)
    results["ours, before the import fix"] = await our_sweep(
        n, c, {"JUPYTER_JOBS_NOTEBOOK_FULL_IMPORTS": "1"}
    )
    results["ours (local sweep)"] = await our_sweep(n, c, {})
    papermill_s = results["papermill bare loop"]
    scheduler_s = results["jupyter-scheduler"]
    rows = []
    for name, total in results.items():
        row: dict[str, Any] = {"contender": name, "total_s": total}
        if total is not None:
            row["per_run_s"] = total / n
            row["vs_papermill"] = total / papermill_s if papermill_s else None
            row["vs_scheduler"] = total / scheduler_s if scheduler_s else None
        rows.append(row)
    width = max(len(r["contender"]) for r in rows)
    print(f"| {'contender':<{width}} | total s | s per run | vs papermill | vs scheduler |")
    print(f"|{'-' * (width + 2)}|---------|-----------|--------------|--------------|")
    for r in rows:
        if r["total_s"] is None:
            print(
                f"| {r['contender']:<{width}} | skipped |         - |            - |            - |"
            )
            continue
        vs_s = f"{r['vs_scheduler']:.2f}x" if r["vs_scheduler"] is not None else "-"
        print(
            f"| {r['contender']:<{width}} | {r['total_s']:7.1f} | {r['per_run_s']:9.2f} |"
            f" {r['vs_papermill']:11.2f}x | {vs_s:>12} |"
        )
    ours = results["ours (local sweep)"]
    met = None
    if scheduler_s and ours is not None:
        met = ours <= TARGET * scheduler_s
        print(
            f"target: ours <= {TARGET}x jupyter-scheduler: {ours / scheduler_s:.2f}x:"
            f" {'met' if met else 'NOT met'}"
        )
    else:
        print(f"target: ours <= {TARGET}x jupyter-scheduler: not measured (no jupyter-scheduler)")
    for note in notes:
        print(f"  {note}")
    out = {"runs": n, "concurrency": c, "rows": rows, "target": TARGET, "met": met, "notes": notes}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100, help="notebook runs per contender")
    parser.add_argument("--concurrency", type=int, default=2, help="runs at once, every contender")
    parser.add_argument(
        "--scheduler-venv",
        default=os.environ.get(ENV_SCHEDULER_VENV, DEFAULT_SCHEDULER_VENV),
        help=f"virtualenv with jupyter-scheduler (default ${ENV_SCHEDULER_VENV} or"
        f" {DEFAULT_SCHEDULER_VENV})",
    )
    parser.add_argument("--no-scheduler", action="store_true", help="skip jupyter-scheduler")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.concurrency < 1:
        parser.error("--runs and --concurrency must be at least 1")
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
