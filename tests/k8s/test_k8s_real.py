"""Opt-in: a real job on a real cluster (kind, k3d, any), when ``KUBECONFIG`` is set.

    KUBECONFIG=~/.kube/config pytest -m kubernetes_real tests/k8s/test_k8s_real.py

Runs ``busybox`` in the kubeconfig context's namespace (or ``JUPYTER_JOBS_TEST_NAMESPACE``),
checks the live log and exit codes, then cancels a sleeping job. Needs the RBAC of
docs/kubernetes.md for the credentials used.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from jupyter_jobs.models import CANCELLED, COMPLETED, FAILED, Job, new_job_id
from jupyter_jobs.spawners.kubernetes import KubernetesSpawner

from .conftest import Recorder, read

pytestmark = [
    pytest.mark.kubernetes_real,
    pytest.mark.skipif(not os.environ.get("KUBECONFIG"), reason="set KUBECONFIG to a cluster"),
]


def job(tmp_path, argv):
    job_id = new_job_id()
    d = tmp_path / job_id
    d.mkdir()
    return Job(
        id=job_id,
        name="real",
        kind="command",
        backend="kubernetes",
        profile="default",
        argv=argv,
        job_dir=str(d),
        resources={"cpus": 1, "memory": 64 * 2**20},
    )


async def wait(recorder: Recorder, job_id: str, statuses, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = recorder.last(job_id)
        if last is not None and last.status in statuses:
            return last
        await asyncio.sleep(0.5)
    raise AssertionError(f"{job_id}: {recorder.statuses(job_id)}")


async def test_real_cluster_runs_logs_and_cancels(tmp_path):
    recorder = Recorder()
    spawner = KubernetesSpawner(
        image="busybox:1.36",
        inherit_server_pod=False,
        ttl_seconds_after_finished=300,
        namespace=os.environ.get("JUPYTER_JOBS_TEST_NAMESPACE", ""),
    )
    spawner.notify = recorder
    await spawner.start()
    try:
        ok = job(tmp_path, ["sh", "-c", "echo hello; echo world"])
        bad = job(tmp_path, ["sh", "-c", "exit 3"])
        long = job(tmp_path, ["sleep", "600"])
        for j in (ok, bad, long):
            await spawner.submit(j)
        done = await wait(recorder, ok.id, {COMPLETED, FAILED})
        assert done.status == COMPLETED and done.exit_code == 0
        assert read(os.path.join(ok.job_dir, "output.log")) == "hello\nworld\n"
        failed = await wait(recorder, bad.id, {COMPLETED, FAILED})
        assert (failed.status, failed.exit_code) == (FAILED, 3)
        await wait(recorder, long.id, {"running"})
        long.status = "cancelling"
        await spawner.cancel(long)
        assert (await wait(recorder, long.id, {CANCELLED, FAILED})).status == CANCELLED
    finally:
        for j in (ok, bad, long):
            await spawner.cleanup(j)
        await spawner.stop()
