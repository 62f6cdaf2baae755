"""Kubernetes kernel specs follow the backend (issue 11, point 3), on the loopback fake API server.

The server starts with no credentials: no Kubernetes kernel spec. The kubeconfig appears: the
backend connects and its specs appear without a restart. The API server goes away: they go; it
comes back: they are offered again.
"""

from __future__ import annotations

import json
import os

import pytest

from jupyter_jobs.events import KERNELSPECS_SCHEMA_ID

from .conftest import FAKE_K8S_SPAWNER, jobs_app, wait_until

REFRESH = 0.2
OURS = {"jupyter-jobs-kubernetes-default"}
BOUND = 15.0  # a refresh, a connect retry (0.2 s here) and the watch's first sync, with room


@pytest.fixture
def kubeconfig_path(tmp_path, monkeypatch):
    """Where the kubeconfig will appear; nothing there at start (and no ~/.kube/config)."""
    path = tmp_path / "later" / "kubeconfig"
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return path


@pytest.fixture
def jobs_config(kube, kubeconfig_path):
    return {
        "JobManager": {"enabled_backends": ["local", "kubernetes"], "cancel_grace_period": 1.0},
        "KubernetesSpawner": {
            **FAKE_K8S_SPAWNER,
        },
        "RemoteKernelSpecs": {"refresh_interval": REFRESH},
    }


async def test_kubernetes_specs_appear_when_credentials_do_and_follow_the_api_server(
    jp_fetch, jp_serverapp, kernels_api, kube, kubeconfig_path
):
    seen: list[dict] = []

    async def listener(logger, schema_id, data):
        seen.append(dict(data))

    jp_serverapp.event_logger.add_listener(schema_id=KERNELSPECS_SCHEMA_ID, listener=listener)

    async def offered() -> set[str]:
        r = await jp_fetch("api", "kernelspecs")
        return set(json.loads(r.body)["kernelspecs"]) & OURS

    async def is_offered(expected: set[str]) -> bool:
        return await offered() == expected

    app = jobs_app(jp_serverapp)
    await kernels_api.ready()
    assert await offered() == set()
    state = app.jupyter_jobs_specs_refresher.unavailable["kubernetes"]
    assert "no Kubernetes credentials" in (state or ""), state

    os.makedirs(kubeconfig_path.parent)
    kube.write_kubeconfig(str(kubeconfig_path), namespace="jobs")
    await wait_until(lambda: is_offered(OURS), timeout=BOUND, what="the Kubernetes spec")
    await wait_until(lambda: seen and OURS <= set(seen[-1]["added"]), timeout=2, what="event")

    await kube.stop()  # the API server goes away: the watch fails
    await wait_until(lambda: is_offered(set()), timeout=BOUND, what="the spec to go")
    assert OURS <= set(seen[-1]["removed"]), seen[-1]

    await kube.start()  # same port: the watch reconnects
    await wait_until(lambda: is_offered(OURS), timeout=BOUND, what="the spec to come back")
    jp_serverapp.event_logger.remove_listener(schema_id=KERNELSPECS_SCHEMA_ID, listener=listener)


async def test_a_kernel_whose_backend_went_away_is_refused_with_why_not_a_500(
    jp_fetch, jp_serverapp, jp_root_dir, kernels_api, kube, kubeconfig_path
):
    (jp_root_dir / "analysis.ipynb").write_text("{}")
    name = "jupyter-jobs-kubernetes-default"

    async def offered() -> bool:
        r = await jp_fetch("api", "kernelspecs")
        return name in json.loads(r.body)["kernelspecs"]

    async def gone() -> bool:
        return not await offered()

    await kernels_api.ready()
    os.makedirs(kubeconfig_path.parent)
    kube.write_kubeconfig(str(kubeconfig_path), namespace="jobs")
    await wait_until(offered, timeout=BOUND, what="the Kubernetes spec")
    await kube.stop()  # the API server goes away: the spec goes (a Launcher tab still shows it)
    await wait_until(gone, timeout=BOUND, what="the spec to go")

    def post(*path, body):
        return jp_fetch(*path, method="POST", body=json.dumps(body), raise_error=False)

    for r in (
        await post("api", "kernels", body={"name": name}),
        await post(
            "api",
            "sessions",
            body={"path": "analysis.ipynb", "type": "notebook", "kernel": {"name": name}},
        ),
    ):
        assert r.code == 503, (r.code, r.body)
        message = json.loads(r.body)["message"]
        assert "the Kubernetes backend is not available" in message, message
        assert "try again later" in message
    r = await jp_fetch("api", "sessions")
    assert json.loads(r.body) == []  # nothing was created
    r = await jp_fetch("api", "kernels")
    assert json.loads(r.body) == []
    # a notebook on a local kernel switched to the vanished one: refused the same way
    r = await post(
        "api",
        "sessions",
        body={"path": "analysis.ipynb", "type": "notebook", "kernel": {"name": "python3"}},
    )
    assert r.code == 201, r.body
    session = json.loads(r.body)
    r = await jp_fetch(
        "api", "sessions", session["id"], method="PATCH",
        body=json.dumps({"kernel": {"name": name}}), raise_error=False,
    )  # fmt: skip
    assert r.code == 503, (r.code, r.body)
    assert "the Kubernetes backend is not available" in json.loads(r.body)["message"]
    r = await jp_fetch("api", "sessions", session["id"])
    assert json.loads(r.body)["kernel"]["id"] == session["kernel"]["id"]  # it kept its kernel
    await jp_fetch("api", "sessions", session["id"], method="DELETE")
    # a kernel that was never ours is still jupyter_server's own answer
    r = await post("api", "kernels", body={"name": "no-such-kernel"})
    assert r.code != 503
