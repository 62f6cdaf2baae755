"""Remote kernels in Kubernetes pods, through the server's kernels API (``api/kernels``).

The real ``kubernetes_asyncio`` client talks to the loopback fake API server
(``tests/k8s/fake_api.py``); a kubelet stand-in (``tests/k8s/fake_kubelet.py``) runs each kernel
pod's container command for real, so a real ipykernel answers on the pod's IP and fixed ports
with the key from the Job's Secret. Same lifecycle checks as the SLURM kernels.
"""

from __future__ import annotations

import base64
import json
import os

import pytest

from jupyter_jobs.kernels.specs import TIMES, kernel_name
from jupyter_jobs.spawners import k8s_objects as objects
from tests.k8s.fake_kubelet import FakeKubelet

from .conftest import (
    FAKE_K8S_SPAWNER,
    check_interrupt_keeps_the_kernel,
    job_of,
    jobs_app,
    run_code,
    wait_until,
)

DEFAULT = "jupyter-jobs-kubernetes-default"
BIG = "jupyter-jobs-kubernetes-big"
NS = "jobs"
UNSCHEDULABLE = "0/3 nodes are available: 3 Insufficient cpu."

PROFILES = [
    {"name": "default", "display_name": "Default", "kernels": True},
    {
        "name": "big",
        "display_name": "Big",
        "resources": {"cpus": 2, "memory": "1G", "gpus": 1, "time_limit": "00:10:00"},
        "kernels": True,
    },
    {"name": "batch", "display_name": "Batch only"},
]


@pytest.fixture
def kubelet(kube, tmp_path, jp_asyncio_loop):
    stand_in = FakeKubelet(kube, str(tmp_path / "kubelet"))
    stand_in.start()
    yield stand_in
    jp_asyncio_loop.run_until_complete(stand_in.stop())


@pytest.fixture
def launch_timeout():
    return 60.0


@pytest.fixture
def jobs_config(kube, kubelet, tmp_path, monkeypatch, launch_timeout):
    monkeypatch.setenv("KUBECONFIG", kube.write_kubeconfig(str(tmp_path / "kubeconfig"), NS))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return {
        "JobManager": {"enabled_backends": ["local", "kubernetes"], "cancel_grace_period": 1.0},
        "KubernetesSpawner": {
            **FAKE_K8S_SPAWNER,
            "profiles": PROFILES,
        },
        "JobKernelProvisioner": {"launch_timeout": launch_timeout},
    }


def job_name(job):
    return objects.job_object_name(job.id)


def secret_of(kube, job):
    return kube.secrets.get((NS, objects.kernel_secret_name(job.id)))


async def test_kernel_specs_of_kubernetes_profiles_are_offered(kernels_api):
    await kernels_api.ready()
    r = await kernels_api.fetch("api", "kernelspecs")
    specs = json.loads(r.body)["kernelspecs"]
    assert specs[DEFAULT]["spec"]["display_name"] == "Python 3 — Kubernetes"
    assert (
        specs[BIG]["spec"]["display_name"]
        == f"Python 3 — Kubernetes: GPU 1{TIMES}, 2 CPUs, 1G, 00:10:00"
    )
    assert specs[BIG]["spec"]["interrupt_mode"] == "message"
    assert specs[BIG]["spec"]["metadata"]["kernel_provisioner"]["config"] == {
        "backend": "kubernetes",
        "profile": "big",
    }
    assert "jupyter-jobs-kubernetes-batch" not in specs  # that profile offers no kernels


async def test_a_kernel_runs_in_its_pod_with_the_key_from_a_secret_owned_by_the_job(
    kernels_api, manager, kube, kubelet
):
    kernel = await kernels_api.start(BIG)
    job = job_of(manager, kernel["id"])
    assert (job.kind, job.backend, job.profile, job.status) == (
        "kernel",
        "kubernetes",
        "big",
        "running",
    )
    created = kube.jobs[(NS, job_name(job))]
    container = created["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "1Gi", "nvidia.com/gpu": "1"}
    assert created["spec"]["activeDeadlineSeconds"] == 600
    secret = secret_of(kube, job)
    assert secret["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    conn = json.loads(base64.b64decode(secret["data"][objects.KERNEL_CONNECTION_FILE]))
    km = kernels_api.km(kernel["id"])
    assert conn["key"].encode() == km.session.key
    pod = kube.pod_of(job_name(job), NS)
    info = km.get_connection_info()
    assert info["ip"] == kubelet.ips[pod["metadata"]["name"]]  # the pod IP, from the watch
    assert info["shell_port"] == 50001
    client = await kernels_api.client(kernel["id"])
    try:
        out, reply = await run_code(client, "import os; print(os.getpid(), 6 * 7)")
    finally:
        client.stop_channels()
    assert reply["status"] == "ok", out
    pid, answer = out.split()
    assert answer == "42"
    # the container's shell exec'd the kernel: the pod's process is the kernel
    assert int(pid) == kubelet.procs[pod["metadata"]["name"]].pid
    r = await kernels_api.fetch("jupyter-jobs", "api", "remote-sessions")
    (row,) = json.loads(r.body)["sessions"]
    assert row["kernel_id"] == kernel["id"] and row["kernel_name"] == BIG
    assert (row["job"]["backend"], row["job"]["host"]) == ("kubernetes", "node-1")
    assert 0 < row["time_left"] <= 600
    await kernels_api.delete(kernel["id"])


async def test_interrupt_stops_a_long_sleep_and_the_kernel_lives_on(kernels_api, manager):
    await check_interrupt_keeps_the_kernel(kernels_api, manager, DEFAULT)


async def test_restart_runs_the_kernel_in_a_new_job_and_removes_the_old_one(
    kernels_api, manager, kube
):
    kernel = await kernels_api.start(DEFAULT)
    first = job_of(manager, kernel["id"])
    r = await kernels_api.post(kernel["id"], "restart")
    assert r.code == 200, r.body
    second = job_of(manager, kernel["id"])
    assert second.id != first.id
    assert (NS, job_name(first)) not in kube.jobs and secret_of(kube, first) is None
    assert (NS, job_name(second)) in kube.jobs and secret_of(kube, second) is not None
    client = await kernels_api.client(kernel["id"])
    try:
        out, _ = await run_code(client, "print('again')")
    finally:
        client.stop_channels()
    assert out.strip() == "again"
    await wait_until(lambda: manager.get(first.id).is_final, 10, what="old job final")
    await kernels_api.delete(kernel["id"])


async def test_shutdown_deletes_the_job_and_its_secret(kernels_api, manager, kube, kubelet):
    kernel = await kernels_api.start(DEFAULT)
    job = job_of(manager, kernel["id"])
    assert secret_of(kube, job) is not None
    await kernels_api.delete(kernel["id"])
    assert (NS, job_name(job)) not in kube.jobs
    assert secret_of(kube, job) is None
    assert kube.pods_of(job_name(job), NS) == []
    await wait_until(lambda: manager.get(job.id).is_final, 10, what="job final")
    assert manager.get(job.id).status in ("completed", "cancelled")
    await wait_until(lambda: not kubelet.procs, 10, what="kernel process gone")


@pytest.mark.parametrize("launch_timeout", [2.0])
async def test_launch_timeout_cancels_an_unschedulable_kernel_and_says_why(
    kernels_api, manager, kube, kubelet
):
    kubelet.unschedulable = UNSCHEDULABLE
    created = []
    manager.add_listener(lambda action, job: created.append(job) if job.kind == "kernel" else 0)
    await kernels_api.ready()
    r = await kernels_api.fetch(
        "api", "kernels", method="POST", body=json.dumps({"name": DEFAULT}), raise_error=False
    )
    assert r.code == 503, r.body
    message = json.loads(r.body)["message"]
    assert "did not start within 2 s" in message and "cancelled" in message
    assert f"Unschedulable: {UNSCHEDULABLE}" in message  # the scheduler's own words
    job = created[0]
    assert job.backend_ref in message
    assert (NS, job_name(job)) not in kube.jobs and secret_of(kube, job) is None
    assert kube.deletes[-1]["propagationPolicy"] == "Foreground"
    await wait_until(lambda: manager.get(job.id).status == "cancelled", 10, what="cancelled")


async def test_failed_start_shows_the_pod_log_tail(
    kernels_api, manager, kube, jp_serverapp, tmp_path
):
    bad = tmp_path / "bad-python"
    bad.write_text("#!/bin/sh\necho 'no ipykernel in this image' >&2\nexit 3\n")
    bad.chmod(0o755)
    spawner = manager.spawners["kubernetes"]
    spawner.profiles = [*spawner.profiles, {"name": "broken", "python": str(bad), "kernels": True}]
    from jupyter_jobs.kernels import server

    await kernels_api.ready()
    await server.start(jobs_app(jp_serverapp))
    r = await kernels_api.fetch(
        "api",
        "kernels",
        method="POST",
        body=json.dumps({"name": kernel_name("kubernetes", "broken")}),
        raise_error=False,
    )
    assert r.code == 502, r.body
    message = json.loads(r.body)["message"]
    assert "ended before the kernel started: exit code 3" in message
    assert "no ipykernel in this image" in message
    assert not any(k[0] == NS for k in kube.secrets)  # the failed kernel's key is gone too


async def test_server_stop_leaves_the_kernel_pod_running_for_the_next_server(
    kernels_api, manager, kube, kubelet, jp_serverapp
):
    from jupyter_jobs.kernels import resume

    kernel = await kernels_api.start(DEFAULT)
    job = job_of(manager, kernel["id"])
    assert manager.get(job.id).state["kernel"]["resumable"] is True
    app = jobs_app(jp_serverapp)
    assert await resume.detach(app) == [kernel["id"]]  # out of jupyter_server's kernel manager
    await manager.stop()
    assert manager.get(job.id).status == "running"
    assert (NS, job_name(job)) in kube.jobs and secret_of(kube, job) is not None
    pod = kube.pod_of(job_name(job), NS)
    assert kubelet.procs[pod["metadata"]["name"]].returncode is None  # the kernel runs on
    # (tests/kernels/test_k8s_kernel_restarts.py: the next server takes it up with its state)


async def test_a_kernel_job_outside_the_job_root_is_refused(manager, kube):
    await manager.start()
    outside = os.path.join(os.path.dirname(manager.job_root), "elsewhere.json")
    with open(outside, "w") as f:
        json.dump({"key": "k"}, f)
    from jupyter_jobs.exceptions import BadRequest

    with pytest.raises(BadRequest, match="under the job root"):
        await manager.create_kernel_job(
            backend="kubernetes",
            profile="default",
            argv=["python3", "-m", "ipykernel_launcher", "-f", outside],
            name="kernel",
        )
    assert not kube.jobs
