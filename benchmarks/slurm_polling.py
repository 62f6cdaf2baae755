"""SLURM polling cost and status latency, measured side by side in one run on a real cluster.

1. **Latency**: submit → ``running`` event through the JobManager + SlurmSpawner, against raw
   ``sbatch --parsable`` + ``squeue -j ID`` polling at the same interval (trials interleaved).
2. **Calls**: with ``--jobs`` (200) active jobs, the SLURM commands run over ``--duration``
   (300 s) by SlurmSpawner's batched poll, against a batchspawner-style loop (one ``squeue -j ID``
   per job per interval), both running at the same time on the same jobs.

Prints ratios; never a pass/fail. Needs a cluster (``scripts/slurm-up.sh BASE``) and
``SLURM_CONF`` or ``JUPYTER_JOBS_SLURM_BASE``::

    scripts/slurm-up.sh /tmp/jupyter-jobs-slurm
    JUPYTER_JOBS_SLURM_BASE=/tmp/jupyter-jobs-slurm python benchmarks/slurm_polling.py
    python benchmarks/slurm_polling.py --duration 60 --jobs 50     # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time

from traitlets.config import Config

from jupyter_jobs import jobfiles
from jupyter_jobs.manager import JobManager
from jupyter_jobs.models import RUNNING, Job, new_job_id
from jupyter_jobs.spawners.slurm import SlurmSpawner
from jupyter_jobs.store import JobStore

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _slurm import find_cluster, run


async def wait_empty(user: str) -> None:
    while (await run(["squeue", "-h", "-u", user, "-o", "%i"])).strip():
        await asyncio.sleep(0.2)


# ---------------------------------------------------------------- latency


async def raw_latency(interval: float) -> float:
    t0 = time.monotonic()
    ref = (
        (await run(["sbatch", "--parsable", "-o", "/dev/null", "-t", "2", "--wrap", "sleep 1"]))
        .strip()
        .split(";")[0]
    )
    while True:
        state = (await run(["squeue", "-h", "-j", ref, "-t", "all", "-o", "%T"])).strip()
        if state in ("RUNNING", "COMPLETING", "COMPLETED"):
            return time.monotonic() - t0
        await asyncio.sleep(interval)


async def ours_latency(manager: JobManager, events: list, interval: float) -> float:
    t0 = time.monotonic()
    job = await manager.create(
        {"command": ["sleep", "1"], "backend": "slurm", "resources": {"time_limit": 120}}
    )
    while True:
        for t, _action, job_id, status in events:
            if job_id == job.id and status == RUNNING and t >= t0:
                return t - t0
        await asyncio.sleep(0.01)


async def latency(trials: int, interval: float, user: str) -> tuple[list[float], list[float]]:
    tmp = tempfile.mkdtemp(prefix="jj-bench-")
    events: list = []
    config = Config(
        {"SlurmSpawner": {"poll_interval": interval}, "JobManager": {"enabled_backends": ["slurm"]}}
    )
    manager = JobManager(
        config=config,
        store=JobStore(os.path.join(tmp, "jobs.db")),
        job_root=os.path.join(tmp, "jobs"),
        root_dir=tmp,
        emit=lambda action, job: events.append((time.monotonic(), action, job.id, job.status)),
    )
    await manager.start()
    ours, raw = [], []
    try:
        for _ in range(trials):  # interleaved, each on an empty node
            await wait_empty(user)
            ours.append(await ours_latency(manager, events, interval))
            await wait_empty(user)
            raw.append(await raw_latency(interval))
        await wait_empty(user)
    finally:
        await manager.stop()
    return ours, raw


# ---------------------------------------------------------------- calls at scale


async def calls_at_scale(n_jobs: int, duration: float, interval: float, user: str) -> dict:
    root = tempfile.mkdtemp(prefix="jj-bench-jobs-")
    ours = SlurmSpawner(poll_interval=interval)
    ours.job_root = root
    jobs = []
    for _ in range(n_jobs):
        job_id = new_job_id()
        job_dir = os.path.join(root, job_id)
        os.makedirs(job_dir)
        jobfiles.write_json(
            os.path.join(job_dir, "spec.json"),
            {"id": job_id, "argv": ["sleep", "900"], "env": {}, "cwd": job_dir},
        )
        job = Job(
            id=job_id,
            name="bench",
            kind="command",
            backend="slurm",
            profile="default",
            resources={"time_limit": 1200},
            job_dir=job_dir,
        )
        update = await ours.submit(job)
        job.backend_ref, job.status = update.backend_ref, "queued"
        jobs.append(job)
    ours.calls.clear()
    batch_calls = {"squeue": 0}
    times = {"ours": 0.0, "batchspawner": 0.0}
    end = time.monotonic() + duration

    async def our_loop() -> None:
        while time.monotonic() < end:
            t = time.monotonic()
            await ours.poll(jobs)
            times["ours"] += time.monotonic() - t
            await asyncio.sleep(interval)

    async def batchspawner_loop() -> None:
        # batchspawner's poll(): one `squeue -h -j ID -o %T` per spawner (job) per interval
        while time.monotonic() < end:
            t = time.monotonic()
            for job in jobs:
                await run(["squeue", "-h", "-j", job.backend_ref or "", "-o", "%T"])
                batch_calls["squeue"] += 1
            times["batchspawner"] += time.monotonic() - t
            await asyncio.sleep(interval)

    await asyncio.gather(our_loop(), batchspawner_loop())
    subprocess.run(["scancel", "-u", user], capture_output=True)
    await wait_empty(user)
    return {
        "ours": dict(ours.calls),
        "batchspawner": batch_calls,
        "times": times,
        "intervals": duration / interval,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--duration", type=float, default=300.0, help="seconds of polling")
    ap.add_argument("--interval", type=float, default=5.0, help="poll interval at scale (s)")
    ap.add_argument("--latency-interval", type=float, default=0.5)
    ap.add_argument("--trials", type=int, default=10)
    args = ap.parse_args()
    find_cluster()
    user = SlurmSpawner().slurm_user

    ours, raw = asyncio.run(latency(args.trials, args.latency_interval, user))
    print(
        f"submit → running, {args.trials} interleaved trials, polling every "
        f"{args.latency_interval:g} s"
    )
    print(
        f"  jupyter-jobs (manager event): median {statistics.median(ours):.2f} s,"
        f" max {max(ours):.2f} s"
    )
    print(
        f"  raw sbatch + squeue -j:       median {statistics.median(raw):.2f} s,"
        f" max {max(raw):.2f} s"
    )
    print(f"  ratio jupyter-jobs / raw:     {statistics.median(ours) / statistics.median(raw):.2f}")

    res = asyncio.run(calls_at_scale(args.jobs, args.duration, args.interval, user))
    our_total = sum(res["ours"].values())
    batch_total = sum(res["batchspawner"].values())
    print(
        f"\n{args.jobs} active jobs, {args.duration:g} s, interval {args.interval:g} s"
        f" ({res['intervals']:.0f} intervals), both loops at the same time"
    )
    print(
        f"  jupyter-jobs:        {our_total} SLURM calls {res['ours']}"
        f" = {res['ours'].get('squeue', 0) / res['intervals']:.2f} squeue per interval"
    )
    print(
        f"  batchspawner-style:  {batch_total} SLURM calls {res['batchspawner']}"
        f" = {batch_total / res['intervals']:.1f} per interval"
    )
    print(f"  ratio calls batchspawner / jupyter-jobs: {batch_total / max(1, our_total):.0f}x")
    t = res["times"]
    print(
        f"  time spent querying: jupyter-jobs {t['ours']:.1f} s, batchspawner-style"
        f" {t['batchspawner']:.1f} s (ratio {t['batchspawner'] / max(t['ours'], 1e-9):.0f}x)"
    )


if __name__ == "__main__":
    main()
