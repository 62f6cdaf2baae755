"""Kubernetes kernels outlive their Jupyter server, as SLURM ones do: a server that stops (or is
killed) leaves the kernel's pod running; the server that comes back (or another of the job root)
takes the kernel up again under the same kernel id with its state, reaching the pod's IP through
its watch; a kernel whose server never comes back ends itself after the grace period (its guard
sees no client connected) and its job ends ``cancelled`` with the reason.

Real Jupyter servers in subprocesses, the real ``kubernetes_asyncio`` client against the loopback
fake API, and the kubelet stand-in running each kernel pod's container command for real (both on
a thread of their own: tests/k8s/cluster_thread.py). Kernel pods are processes of the test, so
they outlive the servers, as pods do.
"""

from __future__ import annotations

import asyncio
import signal

import pytest

from benchmarks._server import request, ws_execute
from jupyter_jobs.spawners import k8s_objects as objects
from tests.multi.servers import get, start_server, wait_until

from .conftest import FAKE_K8S_SPAWNER
from .servers import kernel_job, notebook_session, spec_offered

pytestmark = pytest.mark.slow
KERNEL = "jupyter-jobs-kubernetes-default"
NS = "jobs"


def config(**provisioner):
    return {
        "JobManager": {"enabled_backends": ["kubernetes"], "cancel_grace_period": 1.0},
        "KubernetesSpawner": {
            **FAKE_K8S_SPAWNER,
            "profiles": [{"name": "default", "display_name": "Default", "kernels": True}],
        },
        "JobKernelProvisioner": {"server_grace": 60.0, "launch_timeout": 60.0, **provisioner},
    }


@pytest.fixture
def place(cluster, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "analysis.ipynb").write_text("{}")
    return {
        "root": str(root),
        "job_root": str(tmp_path / "job-root"),
        "work": str(tmp_path / "s"),
        "env": {"KUBECONFIG": cluster.kubeconfig, "KUBERNETES_SERVICE_HOST": ""},
    }


def server_of(place, name="s", **provisioner):
    server = start_server(
        f"{place['work']}-{name}", place["job_root"], place["root"], config=config(**provisioner)
    )
    return server


@pytest.fixture(autouse=True)
def _kube_env(monkeypatch, place):
    # start_server passes the test's environment on to the server: the fake cluster's kubeconfig
    monkeypatch.setenv("KUBECONFIG", place["env"]["KUBECONFIG"])
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)


async def test_a_pod_kernel_keeps_its_state_and_session_across_server_restarts(place, cluster):
    server = server_of(place)
    try:
        session = await notebook_session(server, KERNEL)
        kernel_id = session["kernel"]["id"]
        assert (await ws_execute(server, kernel_id, "import os; x = 42; os.getpid()")).isdigit()
        pid = await ws_execute(server, kernel_id, "os.getpid()")
        job = await kernel_job(server)
        [pod] = cluster.kernel_pods()
        await asyncio.sleep(6)  # one snapshot of the sessions (every 5 s)

        for how in ("stop", "kill"):  # a clean stop (an upgrade, culling), then a crash
            if how == "stop":
                server.stop()
            else:
                server.proc.send_signal(signal.SIGKILL)
                server.proc.wait(10)
            # the pod goes on: its Job (and the Secret with the key) are still there
            assert cluster.kernel_pods() == [pod], how
            assert objects.job_object_name(job["id"]) in cluster.jobs()
            server = server_of(place)

            async def back(server=server):
                code, _, _ = await request(server, "GET", f"api/kernels/{kernel_id}")
                return code == 200

            await wait_until(back, 30, f"the kernel taken up again after a {how}")
            _, again, _ = await request(server, "GET", f"api/sessions/{session['id']}", expect=200)
            assert again["path"] == "analysis.ipynb" and again["kernel"]["id"] == kernel_id
            assert (await ws_execute(server, kernel_id, "x")) == "42", how
            assert (await ws_execute(server, kernel_id, "os.getpid()")) == pid  # the same kernel
            assert (await kernel_job(server))["id"] == job["id"]  # the same job
            assert cluster.kernel_pods() == [pod]

        await request(server, "DELETE", f"api/sessions/{session['id']}", expect=204)

        async def ended():
            return (await get(server, job["id"]))["status"] in ("cancelled", "completed")

        await wait_until(ended, 30, "the kernel job ends with its session")

        async def no_pod():
            return not cluster.kernel_pods() and not cluster.jobs()

        await wait_until(no_pod, 30, "the kernel's pod and Job are gone")
    finally:
        server._terminate()


async def test_another_server_of_the_job_root_takes_a_dead_servers_pod_kernel_up(place, cluster):
    a = server_of(place, "a")
    b = None
    try:
        await spec_offered(a, KERNEL)
        _, kernel, _ = await request(a, "POST", "api/kernels", {"name": KERNEL}, expect=201)
        await ws_execute(a, kernel["id"], "x = 42")
        job = await kernel_job(a)
        b = server_of(place, "b")
        await asyncio.sleep(3)  # several sync intervals of b: a lives, b leaves its kernel alone
        code, _, _ = await request(b, "GET", f"api/kernels/{kernel['id']}")
        assert code == 404 and (await get(b, job["id"]))["status"] == "running"
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(10)

        async def taken_up():
            code, _, _ = await request(b, "GET", f"api/kernels/{kernel['id']}")
            return code == 200

        await wait_until(taken_up, 40, "b takes the dead server's kernel up")
        assert (await ws_execute(b, kernel["id"], "x")) == "42"
        await request(b, "DELETE", f"api/kernels/{kernel['id']}", expect=204)

        async def gone():
            return not cluster.kernel_pods() and not cluster.jobs()

        await wait_until(gone, 30, "the kernel's pod and Job are gone")
    finally:
        a._terminate()
        if b is not None:
            b._terminate()


async def test_a_pod_kernel_whose_server_never_returns_ends_itself(place, cluster):
    server = server_of(place, server_grace=3.0)
    try:
        await spec_offered(server, KERNEL)
        _, kernel, _ = await request(server, "POST", "api/kernels", {"name": KERNEL}, expect=201)
        assert (await ws_execute(server, kernel["id"], "6 * 7")) == "42"
        job = await kernel_job(server)
        await asyncio.sleep(5)  # longer than the grace: a server holds it, so it lives on
        assert cluster.kernel_pods(), "the kernel ended while its server held it"
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)
    finally:
        server._terminate()

    def terminated():
        pod = cluster.kube.pod_of(objects.job_object_name(job["id"]), NS)
        return pod["status"]["containerStatuses"][0]["state"].get("terminated")

    async def ended():
        return cluster.call(terminated)

    term = await wait_until(ended, 30, "the kernel pod ends itself", interval=0.5)
    assert term["exitCode"] == objects.KERNEL_GUARD_EXIT
    assert "server has been gone for more than 3 s" in term["message"]

    # a server that comes later sees why the kernel's job ended
    later = server_of(place, "later")
    try:

        async def final():
            return (await get(later, job["id"]))["status"] == "cancelled"

        await wait_until(final, 30, "the job ends cancelled")
        assert "server has been gone" in (await get(later, job["id"]))["reason"]
    finally:
        later._terminate()
