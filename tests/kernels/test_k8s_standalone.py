"""A Kubernetes kernel from a standalone jupyter_client process (plain ``KernelManager`` code, no
Jupyter server): launch, execute, interrupt, restart (a new pod: the client takes the new
connection), shutdown; the kernel's jobs are recorded in the job root; no pod or Job is left.

The real ``kubernetes_asyncio`` client against the loopback fake API, whose kubelet stand-in runs
the kernel pod's container command for real (on a thread: tests/k8s/cluster_thread.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.k8s.cluster_thread import ClusterThread

pytestmark = pytest.mark.slow
KERNEL = "jupyter-jobs-kubernetes-default"


@pytest.fixture
def cluster(tmp_path):
    c = ClusterThread(str(tmp_path / "k8s")).start()
    yield c
    c.stop()


@pytest.fixture
def client_env(cluster, tmp_path):
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    job_root = tmp_path / "job-root"
    (config_dir / "jupyter_server_config.json").write_text(
        json.dumps(
            {
                "JobsApp": {"job_root": str(job_root)},
                "JobManager": {"enabled_backends": ["kubernetes"], "cancel_grace_period": 1.0},
                "KubernetesSpawner": {
                    "image": "python:3.12-slim",
                    "user": "alice",
                    "inherit_server_pod": False,
                    "retry_delay": 0.05,
                    "max_retry_delay": 0.2,
                    "poll_interval": 0.2,
                },
            }
        )
    )
    env = dict(os.environ)
    env.pop("KUBERNETES_SERVICE_HOST", None)
    env.update(
        {
            "KUBECONFIG": cluster.kubeconfig,
            "JUPYTER_CONFIG_DIR": str(config_dir),
            "JUPYTER_DATA_DIR": str(tmp_path / "data"),
            "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
            "JUPYTER_PATH": str(tmp_path / "prefix" / "share" / "jupyter"),
            "JUPYTER_JOBS_LOCAL_STATE": str(tmp_path / "local-state"),
        }
    )
    bindir = os.path.dirname(sys.executable)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    r = subprocess.run(
        [os.path.join(bindir, "jupyter"), "jobs", "kernelspec", "install", "--prefix",
         str(tmp_path / "prefix"), "--backend", "kubernetes"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
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


def kernel_records(job_root):
    out = []
    for name in sorted(os.listdir(job_root)):
        path = os.path.join(job_root, name, "job.json")
        if os.path.exists(path):
            with open(path) as f:
                record = json.load(f)
            if record["kind"] == "kernel":
                out.append(record)
    return out


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
