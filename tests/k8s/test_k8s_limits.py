"""Requests no Kubernetes node can ever hold are refused before anything is created, when this
server's account may list nodes; without that permission (RBAC) nothing is checked here."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def jobs_config(kubeconfig):
    return {
        "JobManager": {"enabled_backends": ["local", "kubernetes"]},
        "KubernetesSpawner": {
            "image": "python:3.12-slim",
            "user": "alice",
            "inherit_server_pod": False,
            "poll_interval": 0.2,
        },
    }


def node(name, cpu, memory, gpus=None, control_plane=False):
    allocatable = {"cpu": cpu, "memory": memory, "pods": "110"}
    if gpus is not None:
        allocatable["nvidia.com/gpu"] = str(gpus)
    spec = {}
    if control_plane:
        spec["taints"] = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    return {"metadata": {"name": name}, "spec": spec, "status": {"allocatable": allocatable}}


NODES = [
    node("small", "3920m", "16333148Ki"),
    node("gpu", "7900m", "32Gi", gpus=2),
    node("cp", "64", "256Gi", control_plane=True),  # takes no jobs: does not count
]


@pytest.mark.parametrize(
    ("resources", "field", "message"),
    [
        ({"cpus": 8}, "resources.cpus", "no node of the cluster has 8 CPUs; the largest has 7"),
        (
            {"memory": "64G"},
            "resources.memory",
            "no node of the cluster has 64G of memory; the largest has 32G",
        ),
        ({"gpus": 4}, "resources.gpus", "no node of the cluster has 4 GPUs; the largest has 2"),
    ],
)
async def test_a_request_no_node_can_hold_is_refused(
    kube,
    jobs_api,
    started,
    resources,
    field,
    message,
):
    kube.nodes = NODES
    await started()
    r = await jobs_api.request(
        "POST", "jobs", {"command": ["true"], "backend": "kubernetes", "resources": resources}
    )
    assert r.code == 400, r.body
    body = json.loads(r.body)
    assert body["message"] == message and body["field"] == field, body
    assert kube.calls["POST jobs"] == 0 and not kube.jobs
    assert json.loads((await jobs_api.request("GET", "jobs")).body)["jobs"] == []
    backends = json.loads((await jobs_api.request("GET", "backends")).body)["backends"]
    limits = {b["name"]: b for b in backends}["kubernetes"]["limits"]
    assert limits == {
        "": {
            "cpus": 7,
            "memory_bytes": 32 * 1024**3,
            "gpus": 2,
            "max_time_seconds": None,
            "max_nodes": None,
            "default": True,
        }
    }
    assert kube.calls["GET nodes"] == 1  # one reading, cached


async def test_without_permission_to_list_nodes_nothing_is_checked(
    kube,
    jobs_api,
    started,
):
    kube.nodes, kube.nodes_forbidden = NODES, True
    await started()
    job = await jobs_api.submit(
        {"command": ["true"], "backend": "kubernetes", "resources": {"cpus": 8}}
    )
    assert job["status"] in ("queued", "running"), job
    assert kube.calls["POST jobs"] == 1
    backends = json.loads((await jobs_api.request("GET", "backends")).body)["backends"]
    assert {b["name"]: b for b in backends}["kubernetes"]["limits"] is None
