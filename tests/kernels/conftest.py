"""Remote-kernel tests against the real one-node SLURM cluster of ``scripts/slurm-up.sh``.

The test command starts the cluster and exports ``JUPYTER_JOBS_SLURM_BASE`` (or ``SLURM_CONF``);
without a cluster that answers, the cluster tests here are skipped with the reason. Pure tests
(``test_specs_unit.py``, ``test_tunnel.py``) need no cluster.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest

from tests.k8s.cluster_thread import ClusterThread
from tests.slurm_cluster import cluster_problem

HERE = os.path.dirname(os.path.abspath(__file__))


#: modules that need the cluster (the others here are pure)
CLUSTER_MODULES = ("test_slurm_",)


@pytest.hookimpl(tryfirst=True)  # before tests/conftest.py groups the slurm tests
def pytest_collection_modifyitems(config, items):
    for item in items:
        path = str(item.fspath)
        if path.startswith(HERE) and os.path.basename(path).startswith(CLUSTER_MODULES):
            item.add_marker(pytest.mark.slurm)


@pytest.fixture
def slurm_cluster():
    """The cluster's slurm.conf; skips the test when no cluster answers."""
    problem = cluster_problem()
    if problem:
        pytest.skip(problem)
    return os.environ["SLURM_CONF"]


def active_slurm_jobs() -> list[str]:
    """Ids of this user's jobs that SLURM still runs or queues (finished ones stay listed)."""
    user = os.environ.get("USER") or "root"
    out = subprocess.run(
        ["squeue", "-h", "-u", user, "-t", "PD,R,CG,S,CF", "-o", "%i"],
        capture_output=True,
        text=True,
    ).stdout
    return out.split()


def slurm_state(ref: str) -> str:
    out = subprocess.run(
        ["squeue", "-h", "-j", ref, "-t", "all", "-o", "%T"], capture_output=True, text=True
    ).stdout.strip()
    return out or "GONE"


async def wait_until(predicate, timeout=30.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(interval)


KERNEL_PROFILES = [
    {
        "name": "default",
        "display_name": "Cluster defaults",
        "resources": {"cpus": 1, "time_limit": "00:10:00"},
        "kernels": True,
    },
    {
        "name": "gpu",
        "display_name": "GPU",
        "resources": {"cpus": 2, "gpus": 1, "memory": "1G", "time_limit": "00:10:00"},
        "kernels": True,
    },
    {"name": "batch", "display_name": "Batch only", "resources": {"cpus": 1}},
]


@pytest.fixture
def jobs_config(slurm_cluster):
    return {
        "JobManager": {"enabled_backends": ["local", "slurm"], "cancel_grace_period": 1.0},
        "SlurmSpawner": {"poll_interval": 0.5, "profiles": KERNEL_PROFILES},
    }


@pytest.fixture(autouse=True)
def _cancel_our_leftovers(request):
    """Cancel SLURM jobs a kernel test left behind (only jobs named jupyter-kernel*)."""
    yield
    if cluster_problem():
        return
    user = os.environ.get("USER") or "root"
    subprocess.run(["scancel", "-u", user, "-n", ",".join(_our_names())], capture_output=True)


def _our_names() -> list[str]:
    out = subprocess.run(
        ["squeue", "-h", "-u", os.environ.get("USER") or "root", "-o", "%j"],
        capture_output=True,
        text=True,
    ).stdout.split()
    return sorted({n for n in out if n.startswith("jupyter-kernel")}) or ["jupyter-kernel-none"]


#: KubernetesSpawner settings for the loopback fake API: no server pod to take after, quick retries
#: and polls
FAKE_K8S_SPAWNER = {
    "image": "python:3.12-slim",
    "user": "alice",
    "inherit_server_pod": False,
    "retry_delay": 0.05,
    "max_retry_delay": 0.2,
    "poll_interval": 0.2,
}


@pytest.fixture
def cluster(tmp_path):
    """The loopback fake Kubernetes API and its kubelet stand-in, on a thread of their own."""
    c = ClusterThread(str(tmp_path / "k8s")).start()
    yield c
    c.stop()


def standalone_env(tmp_path, server_config, backend, env_vars=None, unset=()):
    """A user's Jupyter dirs under ``tmp_path`` with no server running: the server config (the
    job root and ``server_config``) and the kernel specs written by ``jupyter jobs kernelspec
    install --backend BACKEND``. Returns the environment (``env_vars`` added, ``unset`` removed)
    and the job root."""
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    job_root = tmp_path / "job-root"
    (config_dir / "jupyter_server_config.json").write_text(
        json.dumps({"JobsApp": {"job_root": str(job_root)}, **server_config})
    )
    env = dict(os.environ)
    for name in unset:
        env.pop(name, None)
    env.update(
        {
            **(env_vars or {}),
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
         str(tmp_path / "prefix"), "--backend", backend],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    return env, job_root


def kernel_records(job_root):
    """The job records of kind ``kernel`` in ``job_root``, by job id."""
    out = []
    for name in sorted(os.listdir(job_root)):
        path = os.path.join(job_root, name, "job.json")
        if os.path.exists(path):
            with open(path) as f:
                record = json.load(f)
            if record["kind"] == "kernel":
                out.append(record)
    return out


class KernelsAPI:
    """The server's own kernels API (``api/kernels``), as JupyterLab uses it."""

    def __init__(self, fetch, serverapp):
        self.fetch = fetch
        self.serverapp = serverapp

    async def ready(self):
        """Start the extension as a running server does (``_post_start``, which pytest-jupyter's
        server never calls: it does not run ``start_ioloop``)."""
        app = jobs_app(self.serverapp)
        if not hasattr(app, "remote_kernel_specs"):
            await app._start_jupyter_server_extension(self.serverapp)

    async def start(self, name: str, expect: int = 201):
        await self.ready()
        r = await self.fetch(
            "api", "kernels", method="POST", body=json.dumps({"name": name}), raise_error=False
        )
        assert r.code == expect, r.body
        return json.loads(r.body)

    async def post(self, kernel_id: str, action: str):
        r = await self.fetch(
            "api", "kernels", kernel_id, action, method="POST", body="", raise_error=False
        )
        return r

    async def delete(self, kernel_id: str):
        r = await self.fetch("api", "kernels", kernel_id, method="DELETE", raise_error=False)
        assert r.code == 204, r.body

    def km(self, kernel_id: str):
        return self.serverapp.kernel_manager.get_kernel(kernel_id)

    async def client(self, kernel_id: str):
        client = self.km(kernel_id).client()
        client.start_channels()
        await client.wait_for_ready(timeout=30)
        return client


async def run_code(client, code: str, timeout: float = 30.0) -> tuple[str, dict]:
    """Execute ``code``; (stdout text, the execute_reply content)."""
    out: list[str] = []

    def hook(msg):
        if msg["header"]["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["header"]["msg_type"] == "error":
            out.append("\n".join(msg["content"]["traceback"]))

    reply = await client.execute_interactive(code, output_hook=hook, timeout=timeout)
    return "".join(out), reply["content"]


def jobs_app(serverapp):
    return serverapp.extension_manager.extension_points["jupyter_jobs"].app


@pytest.fixture
def kernels_api(jp_fetch, jp_serverapp):
    return KernelsAPI(jp_fetch, jp_serverapp)


def job_of(manager, kernel_id):
    """The job that runs kernel ``kernel_id``."""
    from jupyter_jobs.kernels import job_of_kernel

    return manager.get(job_of_kernel[kernel_id])


async def check_interrupt_keeps_the_kernel(kernels_api, manager, kernel_name: str) -> None:
    """Interrupting a long ``time.sleep`` raises KeyboardInterrupt; the kernel and its job live on
    (the same guarantee on every backend)."""
    kernel = await kernels_api.start(kernel_name)
    client = await kernels_api.client(kernel["id"])
    try:
        task = asyncio.ensure_future(run_code(client, "import time; time.sleep(120)", 90))
        await asyncio.sleep(1.0)  # the cell is running
        r = await kernels_api.post(kernel["id"], "interrupt")
        assert r.code == 204
        _out, reply = await asyncio.wait_for(task, 20)
        assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
        out, _reply = await run_code(client, "print(6 * 7)")
        assert out.strip() == "42"
    finally:
        client.stop_channels()
    assert job_of(manager, kernel["id"]).status == "running"
    await kernels_api.delete(kernel["id"])
