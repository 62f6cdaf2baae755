"""The Kubernetes backend inside a real Jupyter server (REST API, manager), on the fake API."""

from __future__ import annotations

import asyncio
import json

import pytest

from jupyter_jobs.spawners import k8s_objects as objects

from .conftest import eventually


@pytest.fixture
def jobs_config(kubeconfig):
    return {
        "JobManager": {"enabled_backends": ["local", "kubernetes"]},
        "KubernetesSpawner": {
            "image": "python:3.12-slim",
            "user": "alice",
            "retry_delay": 0.05,
            "max_retry_delay": 0.2,
            "inherit_server_pod": False,
            "poll_interval": 0.2,
        },
    }


async def test_a_job_runs_through_the_rest_api_with_live_log_and_exit_code(kube, jobs_api, started):
    await started()
    r = await jobs_api.request("GET", "backends")
    backends = {b["name"]: b for b in json.loads(r.body)["backends"]}
    assert backends["kubernetes"]["available"] is True, backends["kubernetes"]
    assert backends["kubernetes"]["supports_kernels"] is True
    job = await jobs_api.submit(
        {
            "command": ["python", "-c", "print('hi')"],
            "backend": "kubernetes",
            "resources": {"cpus": 2, "memory": "1G", "time_limit": "00:10:00"},
        }
    )
    name = objects.job_object_name(job["id"])
    created = kube.jobs[("jobs", name)]
    container = created["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-c", "print('hi')"]
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"}
    assert created["spec"]["activeDeadlineSeconds"] == 600
    pod = kube.pod_of(name, "jobs")
    kube.run(pod, node="node-9")
    await jobs_api.wait(job["id"], ("running",), timeout=10)
    kube.append_log(pod, b"hi\n")
    kube.finish(pod, 0)
    done = await jobs_api.wait(job["id"], timeout=10)
    assert (done["status"], done["exit_code"], done["host"]) == ("completed", 0, "node-9")
    assert await jobs_api.log(job["id"]) == "hi\n"


async def test_an_unsupported_resource_is_a_400_naming_the_field(kube, jobs_api, started):
    await started()
    r = await jobs_api.request(
        "POST",
        "jobs",
        {
            "command": ["true"],
            "backend": "kubernetes",
            "resources": {"partition": "gpu"},
        },
    )
    assert r.code == 400
    assert json.loads(r.body)["field"] == "resources.partition"
    assert kube.jobs == {}


async def test_cancel_through_the_api_deletes_the_job(kube, jobs_api, started):
    await started()
    job = await jobs_api.submit({"command": ["sleep", "100"], "backend": "kubernetes"})
    name = objects.job_object_name(job["id"])
    kube.run(kube.pod_of(name, "jobs"))
    await jobs_api.wait(job["id"], ("running",), timeout=10)
    r = await jobs_api.request("POST", f"jobs/{job['id']}/cancel")
    assert r.code == 202
    done = await jobs_api.wait(job["id"], timeout=10)
    assert done["status"] == "cancelled"
    assert kube.deletes[-1]["propagationPolicy"] == "Foreground"


async def test_an_api_outage_keeps_the_job_running_with_a_reason(kube, jobs_api, started):
    await started()
    job = await jobs_api.submit({"command": ["sleep", "100"], "backend": "kubernetes"})
    pod = kube.pod_of(objects.job_object_name(job["id"]), "jobs")
    kube.run(pod)
    await jobs_api.wait(job["id"], ("running",), timeout=10)
    await kube.stop()

    async def reason():
        return (await jobs_api.get(job["id"]))["reason"] or ""

    for _ in range(100):
        if "unreachable" in await reason():
            break
        await asyncio.sleep(0.1)
    got = await jobs_api.get(job["id"])
    assert got["status"] == "running" and "kubernetes unreachable" in got["reason"]
    kube.finish(pod, 0)  # it ends during the outage
    await kube.start()
    done = await jobs_api.wait(job["id"], timeout=10)
    assert done["status"] == "completed" and done["reason"] is None
    await eventually(lambda: True)
