"""A Kubernetes kernel from a standalone jupyter_client process (plain ``KernelManager`` code, no
Jupyter server): launch, execute, interrupt, restart (a new pod: the client takes the new
connection), shutdown; the kernel's jobs are recorded in the job root; no pod or Job is left.

The real ``kubernetes_asyncio`` client against the loopback fake API, whose kubelet stand-in runs
the kernel pod's container command for real (on a thread: tests/k8s/cluster_thread.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from .conftest import FAKE_K8S_SPAWNER, kernel_records, standalone_env

pytestmark = pytest.mark.slow
KERNEL = "jupyter-jobs-kubernetes-default"


@pytest.fixture
def client_env(cluster, tmp_path):
    env, job_root = standalone_env(
        tmp_path,
        {
            "JobManager": {"enabled_backends": ["kubernetes"], "cancel_grace_period": 1.0},
            "KubernetesSpawner": FAKE_K8S_SPAWNER,
        },
        "kubernetes",
        env_vars={"KUBECONFIG": cluster.kubeconfig},
        unset=("KUBERNETES_SERVICE_HOST",),
    )
    return {"env": env, "job_root": job_root}


CLIENT = f"""
import asyncio, json, os
from jupyter_client.manager import AsyncKernelManager

async def run(kc, code, timeout=60):
    out = []
    def hook(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "execute_result":
            out.append(msg["content"]["data"]["text/plain"])
        elif msg["msg_type"] == "error":
            out.append(msg["content"]["ename"])
    await kc.execute_interactive(code, output_hook=hook, timeout=timeout)
    return "".join(out)

async def main():
    km = AsyncKernelManager(kernel_name={KERNEL!r})
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=60)
    out = {{"ip": km.get_connection_info()["ip"]}}
    out["execute"] = await run(kc, "import os, time; x = 42; print(os.getpid()); x + 1")
    task = asyncio.ensure_future(run(kc, "time.sleep(60)"))
    await asyncio.sleep(1.5)
    await km.interrupt_kernel()
    out["interrupt"] = await asyncio.wait_for(task, 30)
    out["after_interrupt"] = await run(kc, "x")
    kc.stop_channels()
    await km.restart_kernel()  # a new pod: a new address, so a new client
    out["restarted_ip"] = km.get_connection_info()["ip"]
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=60)
    out["after_restart"] = await run(kc, "'x' in dir()")
    kc.stop_channels()
    await km.shutdown_kernel()
    out["alive"] = await km.is_alive()
    print(json.dumps(out))

asyncio.run(main())
"""


def test_plain_kernel_manager_code_runs_a_kernel_in_a_pod(client_env, cluster):
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CLIENT)],
        env=client_env["env"], capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["ip"].startswith("127.") and out["ip"] != "127.0.0.1"  # the pod's IP
    pid, result = out["execute"].split()
    assert pid.isdigit() and result == "43"
    assert out["interrupt"] == "KeyboardInterrupt" and out["after_interrupt"] == "42"
    assert out["after_restart"] == "False" and out["restarted_ip"] != out["ip"]
    assert out["alive"] is False
    records = kernel_records(client_env["job_root"])  # recorded where every server looks
    assert len(records) == 2, records  # the restart ran a second pod (a second job)
    for record in records:
        assert record["backend"] == "kubernetes" and record["state"]["client"] == "standalone"
        assert record["status"] in ("cancelled", "completed"), record
    assert cluster.kernel_pods() == [] and cluster.jobs() == []
