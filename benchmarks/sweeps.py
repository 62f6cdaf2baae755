"""Benchmark 7(a) of issue 13: a sweep on SLURM as one array against a one-``sbatch``-per-run loop,
measured side by side in one run on a real cluster.

- **ours**: the SlurmSpawner's ``submit_array`` (one ``sbatch --array=0-(N-1)%M``), then its
  batched ``poll`` of every child each interval (one ``squeue`` for all of them) until all ended.
- **baseline**: what a user's loop does by hand: one ``sbatch`` per run (the same runner, the same
  trivial command), polled with one ``squeue -j ID`` per run per interval (batchspawner-style).

Both run the same N trivial runs (the runner starts ``true`` in each child's directory). Prints
the SLURM calls of each (sbatch, squeue per interval), the time to submit and to see every run
end, and the ratios; never a pass/fail. Targets: 1 sbatch and 1 squeue per interval for ours.

Needs a cluster (``scripts/slurm-up.sh BASE``) and ``SLURM_CONF`` or ``JUPYTER_JOBS_SLURM_BASE``::

    JUPYTER_JOBS_SLURM_BASE=/tmp/jupyter-jobs-slurm python benchmarks/sweeps.py   # 100 runs
    python benchmarks/sweeps.py --children 1000      # the issue's figure (MaxArraySize >= 1001)
    python benchmarks/sweeps.py --quick              # 12 runs: a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time

from jupyter_jobs import jobfiles, sweeps
from jupyter_jobs.models import FINAL_STATUSES, Job, new_job_id
from jupyter_jobs.spawners.slurm import SlurmSpawner

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _slurm import find_cluster, run


def make_job(root: str, name: str, **fields) -> Job:
    job_id = new_job_id()
    job_dir = os.path.join(root, job_id)
    os.makedirs(job_dir)
    jobfiles.write_json(
        os.path.join(job_dir, jobfiles.SPEC),
        {"id": job_id, "argv": ["true"], "env": {}, "cwd": job_dir},
    )
    return Job(
        id=job_id,
        name=name,
        kind="command",
        backend="slurm",
        profile="default",
        resources={"cpus": 1, "time_limit": 600},
        job_dir=job_dir,
        **fields,
    )


async def until_done(spawner: SlurmSpawner, jobs: list[Job], interval: float, poll) -> int:
    """Poll until every job ended; the number of intervals."""
    intervals = 0
    active = {j.id: j for j in jobs}
    while active:
        await asyncio.sleep(interval)
        intervals += 1
        for job_id, update in (await poll(list(active.values()))).items():
            job = active[job_id]
            if update.status in FINAL_STATUSES:
                del active[job_id]
            elif update.status:
                job.status = update.status
    return intervals


async def ours(n: int, throttle: int | None, interval: float) -> dict:
    root = tempfile.mkdtemp(prefix="jj-bench-sweep-")
    spawner = SlurmSpawner(poll_interval=interval)
    spawner.job_root = root
    sweep = make_job(root, "bench-sweep", throttle=throttle)
    sweep.kind = "sweep"
    children = [make_job(root, f"bench-sweep [{i}]", sweep_id=sweep.id, index=i) for i in range(n)]
    sweep.children = [c.id for c in children]
    jobfiles.write_json(
        os.path.join(sweep.job_dir, sweeps.SWEEP_FILE),
        {"children": sweep.children, "parameter_sets": [{} for _ in children]},
    )
    t0 = time.monotonic()
    updates = await spawner.submit_array(sweep, children, throttle)
    submit_s = time.monotonic() - t0
    for child in children:
        child.backend_ref = updates[child.id].backend_ref
        child.status = "queued"
    submitted = dict(spawner.calls)
    spawner.calls.clear()
    intervals = await until_done(spawner, children, interval, spawner.poll)
    done_s = time.monotonic() - t0
    polled = dict(spawner.calls)
    shutil.rmtree(root, ignore_errors=True)
    return {
        "sbatch": submitted.get("sbatch", 0),
        "squeue": polled.get("squeue", 0),
        "other": {k: v for k, v in polled.items() if k != "squeue"},
        "intervals": intervals,
        "submit_s": submit_s,
        "done_s": done_s,
    }


async def baseline(n: int, interval: float) -> dict:
    root = tempfile.mkdtemp(prefix="jj-bench-loop-")
    spawner = SlurmSpawner(poll_interval=interval)
    spawner.job_root = root
    jobs = [make_job(root, f"bench-loop [{i}]") for i in range(n)]
    t0 = time.monotonic()
    for job in jobs:  # the user's loop: one sbatch per run
        update = await spawner.submit(job)
        job.backend_ref, job.status = update.backend_ref, "queued"
    submit_s = time.monotonic() - t0
    sbatch = spawner.calls.get("sbatch", 0)
    calls = {"squeue": 0}

    async def poll_each(active: list[Job]) -> dict:
        # one `squeue -h -j ID` per run per interval; a run SLURM no longer lists has ended
        from jupyter_jobs.models import COMPLETED, JobUpdate

        out = {}
        for job in active:
            state = (await run(["squeue", "-h", "-j", job.backend_ref or "", "-o", "%T"])).strip()
            calls["squeue"] += 1
            if state in ("", "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"):
                out[job.id] = JobUpdate(status=COMPLETED)
        return out

    intervals = await until_done(spawner, jobs, interval, poll_each)
    done_s = time.monotonic() - t0
    shutil.rmtree(root, ignore_errors=True)
    return {
        "sbatch": sbatch,
        "squeue": calls["squeue"],
        "intervals": intervals,
        "submit_s": submit_s,
        "done_s": done_s,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--children", type=int, default=100, help="runs in the sweep (issue: 1000)")
    ap.add_argument("--throttle", type=int, default=None, help="the sweep's %%M (default: none)")
    ap.add_argument("--interval", type=float, default=2.0, help="poll interval (s)")
    ap.add_argument("--quick", action="store_true", help="12 runs, a smoke run")
    args = ap.parse_args()
    n = 12 if args.quick else args.children
    find_cluster()
    a = asyncio.run(ours(n, args.throttle, args.interval))
    b = asyncio.run(baseline(n, args.interval))
    per_a = a["squeue"] / max(1, a["intervals"])
    per_b = b["squeue"] / max(1, b["intervals"])
    print(f"{n} trivial runs on SLURM, polled every {args.interval:g} s")
    print("| metric | sweep (one array) | loop (sbatch per run) | ratio loop/sweep | target |")
    print("|---|---|---|---|---|")
    print(
        f"| sbatch calls | {a['sbatch']} | {b['sbatch']} | {b['sbatch'] / max(1, a['sbatch']):.0f}x"
        f" | 1: {'met' if a['sbatch'] == 1 else 'NOT met'} |"
    )
    print(
        f"| squeue calls per interval | {per_a:.2f} | {per_b:.1f} | {per_b / max(per_a, 1e-9):.0f}x"
        f" | 1: {'met' if per_a <= 1.0 else 'NOT met'} |"
    )
    print(
        f"| intervals until all ended | {a['intervals']} | {b['intervals']} | "
        f"{b['intervals'] / max(1, a['intervals']):.2f}x | |"
    )
    print(
        f"| time to submit | {a['submit_s']:.2f} s | {b['submit_s']:.2f} s | "
        f"{b['submit_s'] / max(a['submit_s'], 1e-9):.0f}x | |"
    )
    print(
        f"| time until all ended | {a['done_s']:.1f} s | {b['done_s']:.1f} s | "
        f"{b['done_s'] / max(a['done_s'], 1e-9):.2f}x | |"
    )
    if a["other"]:
        print(f"other SLURM calls of the sweep's polls: {a['other']}")


if __name__ == "__main__":
    main()
