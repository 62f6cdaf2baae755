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

Then what each saving technique not built (issue 13: "measure what each saves") would save at
most, from the parts of a run it removes, measured in the same run (``--savings-samples`` each,
median) and projected to the N runs at ``--concurrency`` at once:

- **a kernel started ahead** for the next sweep child while the previous one executes: hides the
  kernel's start -> ready time (``jupyter_client``, the ``python3`` kernel, as papermill starts
  it); its CPU is spent all the same, so on busy cores it saves less;
- **the runner driving nbclient in its own process** (no separate notebook driver process): saves
  one interpreter start (``python -c pass``); the driver's imports (``import
  jupyter_jobs.notebook``, printed beside it) would be paid in the runner instead.

``--only savings`` measures only these (e.g. beside an earlier run of the contenders).

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
import resource
import statistics
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


# ---------------------------------------------------------------------- what each technique saves

#: Run in a fresh interpreter (of this venv): ``samples`` kernels started as papermill starts them
#: (``KernelManager`` + a client waiting for ``kernel_info``), each shut down before the next;
#: prints JSON: per sample the wall seconds start -> ready and ready -> gone, and the kernel's CPU.
KERNEL_PROBE = """
import json, resource, sys, time
from jupyter_client.manager import KernelManager
out = []
for _ in range(int(sys.argv[1])):
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    km = KernelManager(kernel_name="python3")
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    t1 = time.monotonic()
    kc.stop_channels()
    km.shutdown_kernel()
    t2 = time.monotonic()
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    out.append({"ready_s": t1 - t0, "shutdown_s": t2 - t1, "kernel_cpu_s": cpu})
print(json.dumps(out))
"""


def timed_process(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU (user+sys) seconds of one process ``argv`` from spawn to exit."""
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)


def kernel_starts(samples: int) -> list[dict[str, float]]:
    r = subprocess.run(
        [sys.executable, "-c", KERNEL_PROBE, str(samples)],
        capture_output=True,
        text=True,
        timeout=60 + 60 * samples,
    )
    if r.returncode != 0:
        raise RuntimeError(f"kernel probe failed: {r.stderr[-1000:]}")
    return list(json.loads(r.stdout.strip().splitlines()[-1]))


def savings(n: int, concurrency: int, samples: int) -> list[dict[str, Any]]:
    """What each technique not built would save at most: per run (median of ``samples``, wall
    and CPU) and over ``n`` runs at ``concurrency`` at once (per run x n / concurrency)."""
    kernels = kernel_starts(samples)
    bare = [timed_process([sys.executable, "-c", "pass"]) for _ in range(samples)]
    driver = [
        timed_process([sys.executable, "-c", "import jupyter_jobs.notebook"])
        for _ in range(samples)
    ]

    def med(values: list[float]) -> float:
        return statistics.median(values)

    rows: list[dict[str, Any]] = [
        {
            "technique": "a kernel started ahead (hides kernel start -> ready)",
            "per_run_s": med([k["ready_s"] for k in kernels]),
            "per_run_cpu_s": med([k["kernel_cpu_s"] for k in kernels]),
            "note": "kernel start -> ready, wall; its CPU (start + shutdown) is spent anyway",
        },
        {
            "technique": "the runner drives nbclient itself (one interpreter start less)",
            "per_run_s": med([w for w, _ in bare]),
            "per_run_cpu_s": med([c for _, c in bare]),
            "note": "python -c pass",
        },
        {
            "technique": "  (not saved: the driver's imports, paid in the runner instead)",
            "per_run_s": med([w for w, _ in driver]) - med([w for w, _ in bare]),
            "per_run_cpu_s": med([c for _, c in driver]) - med([c for _, c in bare]),
            "note": "python -c 'import jupyter_jobs.notebook' minus python -c pass",
            "saving": False,
        },
    ]
    for row in rows:
        row["samples"] = samples
        row["over_n_s"] = row["per_run_s"] * n / concurrency
    return rows


def print_savings(rows: list[dict[str, Any]], n: int, c: int, ours_s: float | None) -> None:
    width = max(len(r["technique"]) for r in rows)
    over = f"over {n} runs, {c} at once"
    print(
        f"what each technique not built would save at most (median of {rows[0]['samples']},"
        " measured in this run):"
    )
    print(f"| {'technique':<{width}} | per run | its CPU | {over} | of ours |")
    print(f"|{'-' * (width + 2)}|---------|---------|-{'-' * len(over)}-|---------|")
    for r in rows:
        of_ours = (
            f"{r['over_n_s'] / ours_s:.0%}"
            if ours_s and r.get("saving", True) is not False
            else "-"
        )
        print(
            f"| {r['technique']:<{width}} | {r['per_run_s']:5.2f} s | {r['per_run_cpu_s']:5.2f} s |"
            f" {r['over_n_s']:>{len(over) - 2}.1f} s | {of_ours:>7} |"
        )
    for r in rows:
        print(f"  {r['technique'].strip()}: {r['note']}")


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


async def contenders(
    n: int, c: int, args: argparse.Namespace
) -> tuple[list[dict[str, Any]], list[str], bool | None]:
    """Every contender's N runs; prints their table; returns its rows, notes and target met."""
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
    return rows, notes, met


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    n, c = args.runs, args.concurrency
    load_before = os.getloadavg()
    out: dict[str, Any] = {"runs": n, "concurrency": c, "target": TARGET}
    ours_s = None
    if args.only in ("all", "contenders"):
        print(f"{n} trivial notebook runs per contender, at most {c} at once for every contender")
        rows, notes, met = await contenders(n, c, args)
        out.update(rows=rows, notes=notes, met=met)
        ours_s = rows[-1]["total_s"]
    if args.only in ("all", "savings"):
        saved = savings(n, c, args.savings_samples)
        print_savings(saved, n, c, ours_s)
        out["savings"] = saved
    load_after = os.getloadavg()
    cpus = os.cpu_count() or 1
    print(
        f"  load average (1 min) before {load_before[0]:.1f}, after {load_after[0]:.1f} on"
        f" {cpus} CPUs{': a busy machine inflates every figure' if max(load_before[0], load_after[0]) > cpus else ''}"
    )
    out["load_average"] = {"before": load_before[0], "after": load_after[0], "cpus": cpus}
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
    parser.add_argument(
        "--only",
        choices=("all", "contenders", "savings"),
        default="all",
        help="measure only the contenders, or only what each technique not built would save",
    )
    parser.add_argument(
        "--savings-samples",
        type=int,
        default=None,
        help="samples of each part a technique would save (median; default: 10, or --runs if fewer)",
    )
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    if args.savings_samples is None:
        args.savings_samples = min(10, args.runs)
    if args.runs < 1 or args.concurrency < 1 or args.savings_samples < 1:
        parser.error("--runs, --concurrency and --savings-samples must be at least 1")
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
