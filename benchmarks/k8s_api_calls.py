"""API calls per minute with 200 active Kubernetes jobs: one watch vs per-job polling.

Both are measured in one run against the same loopback fake API server (``tests/k8s/fake_api.py``)
with the real ``kubernetes_asyncio`` client, while the jobs' pods move through their phases:

- **watch**: ``KubernetesSpawner`` as the server runs it — one list, one long watch, and
  ``poll()`` every ``--interval`` seconds answered from the watch's cache;
- **per-job polling**: what a spawner without a watch does — one ``GET`` of each job every
  ``--interval`` seconds (as batch-job integrations that read each Job's status do).

It also reports how many transitions each one saw (the watch sees every one; polling only the
states it happens to sample). Prints ratios, not timings to compare against a threshold.

    python benchmarks/k8s_api_calls.py [--jobs 200] [--seconds 10] [--interval 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from k8s.fake_api import FakeKube  # noqa: E402

from jupyter_jobs.models import Job, JobUpdate, new_job_id  # noqa: E402
from jupyter_jobs.spawners import k8s_objects as objects  # noqa: E402
from jupyter_jobs.spawners.kubernetes import KubernetesSpawner  # noqa: E402


def total(calls: dict[str, int]) -> int:
    return sum(calls.values())


async def churn(kube: FakeKube, names: list[str], seconds: float, seed: int) -> int:
    """Move pods Pending → Running → Succeeded at random moments; returns transitions made."""
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    made = 0
    pending = list(names)
    running: list[str] = []
    while loop.time() < end:
        await asyncio.sleep(0.05)
        for _ in range(2):
            if pending and rng.random() < 0.5:
                kube.run(kube.pod_of(pending.pop(rng.randrange(len(pending))), "jobs"))
                made += 1
            elif running and rng.random() < 0.3:
                name = running.pop(rng.randrange(len(running)))
                kube.finish(kube.pod_of(name, "jobs"), 0)
                made += 1
        running = [n for n in names if kube.pod_of(n, "jobs")["status"]["phase"] == "Running"]
    return made


async def run_watch(kube: FakeKube, n: int, seconds: float, interval: float) -> dict[str, Any]:
    seen: list[tuple[str, JobUpdate]] = []
    spawner = KubernetesSpawner(
        image="python:3.12-slim",
        user="bench",
        inherit_server_pod=False,
        runner_in_image=True,
        poll_interval=interval,
    )
    spawner.job_root = tempfile.mkdtemp(prefix="k8s-bench-")
    spawner.notify = lambda job_id, update: seen.append((job_id, update))
    await spawner.start()
    jobs = []
    for _ in range(n):
        job = Job(
            id=new_job_id(),
            name="bench",
            kind="command",
            backend="kubernetes",
            profile="default",
            argv=["true"],
            job_dir=spawner.job_root,
        )
        update = await spawner.submit(job)
        job.status, job.state = "queued", dict(update.state or {})
        jobs.append(job)
    names = [objects.job_object_name(j.id) for j in jobs]
    before = dict(kube.calls)

    async def manager_poll() -> None:
        while True:
            await asyncio.sleep(interval)
            await spawner.poll(jobs)

    poller = asyncio.ensure_future(manager_poll())
    made = await churn(kube, names, seconds, seed=1)
    await asyncio.sleep(0.5)  # let the last events arrive
    poller.cancel()
    calls = {k: v - before.get(k, 0) for k, v in kube.calls.items() if v - before.get(k, 0)}
    await spawner.stop()
    changes = sum(1 for _, u in seen if u.status in ("running", "completed"))
    return {"calls": calls, "transitions": made, "seen": changes}


async def run_polling(kube: FakeKube, n: int, seconds: float, interval: float) -> dict[str, Any]:
    from jupyter_jobs.spawners.k8s_client import KubeClient

    client = await KubeClient.connect()
    names = []
    for _ in range(n):
        job_id = new_job_id()
        body = objects.make_job(
            name=objects.job_object_name(job_id),
            namespace="jobs",
            image="python:3.12-slim",
            command=["true"],
            job_id=job_id,
            user="poller",
        )
        await client.create_job("jobs", body)
        names.append(body["metadata"]["name"])
    before = dict(kube.calls)
    last: dict[str, str] = {}
    seen = 0

    async def poll_each() -> None:
        nonlocal seen
        while True:
            await asyncio.sleep(interval)
            for name in names:
                pod = kube.pod_of(name, "jobs")  # the state a per-job GET reads
                await client.get_job("jobs", name)
                phase = pod["status"]["phase"]
                if last.get(name) != phase:
                    last[name] = phase
                    seen += phase in ("Running", "Succeeded")

    poller = asyncio.ensure_future(poll_each())
    made = await churn(kube, names, seconds, seed=1)
    await asyncio.sleep(0.5)
    poller.cancel()
    calls = {k: v - before.get(k, 0) for k, v in kube.calls.items() if v - before.get(k, 0)}
    await client.close()
    return {"calls": calls, "transitions": made, "seen": seen}


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--interval", type=float, default=1.0, help="poll interval (s)")
    a = ap.parse_args()
    kube = FakeKube(validate=False)
    await kube.start()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["KUBECONFIG"] = kube.write_kubeconfig(os.path.join(tmp, "kubeconfig"), "jobs")
        watch = await run_watch(kube, a.jobs, a.seconds, a.interval)
        polling = await run_polling(kube, a.jobs, a.seconds, a.interval)
    await kube.stop()
    per_min = 60.0 / a.seconds
    w, p = total(watch["calls"]) * per_min, total(polling["calls"]) * per_min
    print(f"{a.jobs} active jobs, poll interval {a.interval:g} s, {a.seconds:g} s measured each")
    for label, r, rate in (("one watch", watch, w), ("per-job polling", polling, p)):
        print(f"  {label:16s} {rate:9.0f} API calls/min   {dict(r['calls'])}")
        print(f"  {'':16s} saw {r['seen']} of {r['transitions']} transitions")
    # the watch is one long request, renewed every watch_timeout (300 s): count that too
    steady = w + 60.0 / KubernetesSpawner().watch_timeout
    print(
        f"per-job polling makes {p / steady:.0f}x the API calls of one watch"
        f" ({p:.0f}/min against {steady:.1f}/min, counting the watch's renewal every"
        f" {KubernetesSpawner().watch_timeout} s); polling grows with the number of jobs,"
        " the watch does not"
    )


if __name__ == "__main__":
    asyncio.run(main())
