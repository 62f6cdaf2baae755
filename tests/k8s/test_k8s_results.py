"""Results recorded inside a Kubernetes job (fake API): the pod runs the runner on the shared
volume (the server's own image), as the kubelet would run the container's command, and the owner
keeps what the run recorded in the job's record."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest

from jupyter_jobs.spawners import k8s_objects as objects

from .conftest import eventually
from .test_k8s_flow import server_pod


@pytest.fixture
def jobs_config(kube, kubeconfig, tmp_path):
    kube.add_pod("jobs", server_pod(tmp_path))  # the server's own pod: its image and volumes
    return {
        "JobManager": {"enabled_backends": ["local", "kubernetes"]},
        "KubernetesSpawner": {
            "image": "",
            "inherit_server_pod": True,
            "server_pod_name": "jupyter-alice",
            "user": "alice",
            "retry_delay": 0.05,
            "max_retry_delay": 0.2,
            "poll_interval": 0.2,
        },
    }


async def run_container(pod: dict) -> int:
    """What the kubelet does: the container's command, with the pod spec's environment."""
    container = pod["spec"]["containers"][0]
    env = dict(os.environ)
    env.update({e["name"]: e.get("value", "") for e in container.get("env") or []})
    proc = await asyncio.create_subprocess_exec(
        *container["command"], *(container.get("args") or []), env=env
    )
    return await proc.wait()


async def test_a_pod_running_the_runner_records_results_the_owner_keeps(kube, jobs_api, manager):
    await manager.start()
    spawner = manager.spawners["kubernetes"]
    await eventually(lambda: spawner.reflector is not None and spawner.reflector.healthy)
    code = "import jupyter_jobs; jupyter_jobs.record(loss=0.125, where='pod'); print('done')"
    job = await jobs_api.submit({"command": [sys.executable, "-c", code], "backend": "kubernetes"})
    name = objects.job_object_name(job["id"])
    pod = kube.pod_of(name, "jobs")
    assert pod["spec"]["containers"][0]["command"][1:3] == ["-m", "jupyter_jobs.runner"]
    kube.run(pod, node="node-3")
    assert await run_container(pod) == 0  # the runner: the command ended, status.json says so
    kube.finish(pod, 0)
    done = await jobs_api.wait(job["id"], timeout=20)
    assert done["status"] == "completed", done
    assert done["results"] == {"loss": 0.125, "where": "pod"}
    r = await jobs_api.request("GET", f"jobs/{job['id']}/results")
    table = json.loads(r.body)
    assert table["columns"] == ["id", "status", "duration_seconds", "loss", "where"]
    assert table["rows"][0][3:] == [0.125, "pod"]
    assert "done" in await jobs_api.log(job["id"])
