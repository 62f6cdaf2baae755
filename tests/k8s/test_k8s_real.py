"""Opt-in: a real job on a real cluster (kind, k3d, any), when ``KUBECONFIG`` is set.

    KUBECONFIG=~/.kube/config pytest -m kubernetes_real tests/k8s/test_k8s_real.py

Runs ``busybox`` in the kubeconfig context's namespace (or ``JUPYTER_JOBS_TEST_NAMESPACE``),
checks the live log and exit codes, then cancels a sleeping job. Then a remote kernel in a pod
(image ``JUPYTER_JOBS_TEST_KERNEL_IMAGE``, default ``quay.io/jupyter/base-notebook``): its Secret is
owned by the Job, ipykernel starts on the mounted connection file, code runs through it when this
machine can reach pod IPs (inside the cluster, or with a route), and a cancel removes the Job and
the Secret. Needs the RBAC of docs/kubernetes.md for the credentials used.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest

from jupyter_jobs.kernels.k8s import ports_open
from jupyter_jobs.models import CANCELLED, COMPLETED, FAILED, RUNNING, Job, new_job_id
from jupyter_jobs.spawners import k8s_objects as objects
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


async def test_real_cluster_runs_a_kernel_in_a_pod_and_removes_its_secret(tmp_path):
    recorder = Recorder()
    spawner = KubernetesSpawner(
        image=os.environ.get("JUPYTER_JOBS_TEST_KERNEL_IMAGE", "quay.io/jupyter/base-notebook"),
        inherit_server_pod=False,
        ttl_seconds_after_finished=300,
        namespace=os.environ.get("JUPYTER_JOBS_TEST_NAMESPACE", ""),
    )
    spawner.job_root = str(tmp_path)
    spawner.notify = recorder
    await spawner.start()
    key = os.urandom(16).hex()
    conn_file = tmp_path / ".kernels" / "k" / "conn.json"
    conn_file.parent.mkdir(parents=True)
    conn_file.write_text(json.dumps({"key": key, "signature_scheme": "hmac-sha256"}))
    kernel = job(tmp_path, ["python", "-m", "ipykernel_launcher", "-f", str(conn_file)])
    kernel.kind = "kernel"
    kernel.resources = {"cpus": 1, "memory": 512 * 2**20}
    try:
        await spawner.submit(kernel)
        ns = spawner._ns
        secret = await spawner.client.get_secret(ns, objects.kernel_secret_name(kernel.id))
        k8s_job = await spawner.client.get_job(ns, objects.job_object_name(kernel.id))
        owner = secret["metadata"]["ownerReferences"][0]
        assert owner["uid"] == k8s_job["metadata"]["uid"]
        await wait(recorder, kernel.id, {RUNNING})
        info = spawner.kernel_connection_info(kernel)
        assert info and info["ip"]
        log = os.path.join(kernel.job_dir, "output.log")
        deadline = time.monotonic() + 120
        while "--existing" not in read(log) and time.monotonic() < deadline:
            await asyncio.sleep(1)
        assert "--existing" in read(log), read(log)  # ipykernel started on the mounted file
        ports = [info[p] for p in ("shell_port", "iopub_port", "stdin_port", "control_port")]
        if await ports_open(info["ip"], ports, timeout=3):
            from jupyter_client.asynchronous.client import AsyncKernelClient

            client = AsyncKernelClient()
            client.load_connection_info({**info, "key": key, "signature_scheme": "hmac-sha256"})
            client.start_channels()
            try:
                await client.wait_for_ready(timeout=60)
                reply = await client.execute_interactive("print(6 * 7)", timeout=60)
                assert reply["content"]["status"] == "ok"
            finally:
                client.stop_channels()
        kernel.status = "cancelling"
        await spawner.cancel(kernel)
        assert (await wait(recorder, kernel.id, {CANCELLED, FAILED, COMPLETED})).status == CANCELLED
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if await spawner.client.get_secret(ns, objects.kernel_secret_name(kernel.id)) is None:
                break
            await asyncio.sleep(1)
        assert await spawner.client.get_secret(ns, objects.kernel_secret_name(kernel.id)) is None
    finally:
        await spawner.cleanup(kernel)
        await spawner.stop()
