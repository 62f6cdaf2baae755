"""``GET backends`` of a real server says why a backend is unavailable: a short reason in the
user's words and the engine's own output as the detail (issue 14, point 9).

The server runs in a subprocess on a host where SLURM has no configuration (``SLURM_CONF`` unset,
no ``/etc/slurm/slurm.conf``) and where a kubeconfig exists but ``kubernetes_asyncio`` (the
``[kubernetes]`` extra) cannot be imported: a ``sitecustomize`` makes the import fail.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from benchmarks._server import ServerProcess, request
from jupyter_jobs.handlers.openapi import OPENAPI_PATH

BLOCKER = textwrap.dedent(
    """\
    import sys

    class _NoKubernetes:
        def find_spec(self, name, path=None, target=None):
            if name == "kubernetes_asyncio" or name.startswith("kubernetes_asyncio."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, _NoKubernetes())
    """
)

KUBECONFIG = textwrap.dedent(
    """\
    apiVersion: v1
    kind: Config
    clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
    users: [{name: u, user: {token: t}}]
    contexts: [{name: x, context: {cluster: c, user: u}}]
    current-context: x
    """
)


def backend_schema() -> Draft202012Validator:
    spec = json.loads(OPENAPI_PATH.read_text())
    uri = "urn:jupyter-jobs:openapi"
    registry = Registry().with_resource(uri, DRAFT202012.create_resource(spec))
    return Draft202012Validator(
        {"$ref": f"{uri}#/components/schemas/BackendList"}, registry=registry
    )


@pytest.fixture
def server(tmp_path):
    if shutil.which("scontrol") is None:
        pytest.skip("SLURM's commands are not installed here")
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(BLOCKER)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    pythonpath = os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH")) if p)
    saved = os.environ.pop("SLURM_CONF", None)  # the server's host has no SLURM configuration
    proc = ServerProcess(
        workdir=str(tmp_path / "server"),
        config={"JobManager": {"enabled_backends": ["local", "slurm", "kubernetes"]}},
        env={"PYTHONPATH": pythonpath, "KUBECONFIG": str(kubeconfig)},
    )
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()
        if saved is not None:
            os.environ["SLURM_CONF"] = saved


def test_the_blocker_blocks(tmp_path):
    """The hook really makes the import fail (else the test below would prove nothing)."""
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    import subprocess

    probe = subprocess.run(
        [sys.executable, "-c", "import kubernetes_asyncio"],
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert probe.returncode != 0 and "kubernetes_asyncio" in probe.stderr, probe.stderr


async def test_unavailable_backends_say_why_in_short_with_the_detail(server):
    _, body, _ = await request(server, "GET", "jupyter-jobs/api/backends", expect=200)
    errors = list(backend_schema().iter_errors(body))
    assert not errors, errors[:3]
    backends = {b["name"]: b for b in body["backends"]}
    assert backends["local"]["available"] is True
    assert backends["local"]["reason"] is None and backends["local"]["detail"] is None

    k8s = backends["kubernetes"]
    # at once, the first time asked: not "starting" (nothing will ever start without the library)
    assert k8s["available"] is False, k8s
    assert "pip install 'jupyter-jobs[kubernetes]'" in k8s["reason"], k8s
    assert "kubernetes_asyncio" in k8s["detail"], k8s

    slurm = backends["slurm"]
    assert slurm["available"] is False, slurm
    assert slurm["reason"] == "no SLURM configuration found on this host", slurm
    assert "Could not establish a configuration source" in slurm["detail"], slurm
    assert slurm["limits"] is None

    # a job for either is refused with the reason, and nothing is created
    for name in ("slurm", "kubernetes"):
        code, err, _ = await request(
            server, "POST", "jupyter-jobs/api/jobs", {"command": ["true"], "backend": name}
        )
        assert code == 503 and backends[name]["reason"] in err["message"], err
    _, listed, _ = await request(server, "GET", "jupyter-jobs/api/jobs", expect=200)
    assert listed["jobs"] == []
    # asked again later, still the same (it never turns into "starting")
    _, again, _ = await request(server, "GET", "jupyter-jobs/api/backends", expect=200)
    assert {b["name"]: b for b in again["backends"]}["kubernetes"]["reason"] == k8s["reason"]
