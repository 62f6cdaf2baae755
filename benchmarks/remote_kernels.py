"""Remote-kernels benchmark: a real ``jupyter server`` with jupyter_jobs and a real SLURM cluster.

Prints, in one run, each figure next to a local-ipykernel baseline measured in the same run
(interleaved, medians; ratios, not pass/fail):

(a) ``POST api/kernels`` → ``kernel_info_reply`` on the kernel's websocket: a kernel in a SLURM job
    against a local ipykernel on the server's machine.
(b) Job running → kernel ready: from the moment the runner starts on the node (``started_at`` in
    the job's ``status.json``) to the ``kernel_info_reply``; target ≤ 1.5 s. Baseline: the whole
    local kernel start of (a).
(c) ``DELETE api/kernels/{id}`` → answered, SLURM kernel against local kernel; target ≤ 2 s.
(d) ``DELETE`` → the job is gone from ``squeue`` (no allocation left); target ≤ 2 s. Baseline: the
    local ``DELETE`` of (c).
(e) Standalone (no Jupyter server: ``AsyncKernelManager(kernel_name=...)`` in a fresh process, as
    nbclient and papermill use it): job running → ``kernel_info_reply``; target ≤ 1.5 s. Baseline:
    the same process starting a local ipykernel, whole.
(f) Reconnect after a server restart: the server stops (a clean stop, as for an upgrade) and starts
    again; from the new server answering ``api/status`` to the kernel answering an execute on its
    websocket with its state (``x`` set before the restart); target ≤ 2 s. Baseline: the same
    execute on the kernel before the restart.
(g) The same reconnect for a Kubernetes kernel (a pod), on the loopback fake Kubernetes API whose
    kubelet stand-in runs the pod's container for real (tests/k8s/cluster_thread.py): the new
    server re-attaches through its pod watch and reaches the pod's IP. Baseline: the same execute
    before the restart.

Needs a cluster: ``JUPYTER_JOBS_SLURM_BASE=DIR`` (``scripts/slurm-up.sh DIR``) or ``SLURM_CONF``.
Usage: ``python benchmarks/remote_kernels.py [--rounds N] [--quick] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests.k8s

from _server import (
    Row,
    ServerProcess,
    kernel_request,
    median,
    report,
    request,
    ws_connect,
    ws_execute,
)

SLURM_KERNEL = "jupyter-jobs-slurm-default"
K8S_KERNEL = "jupyter-jobs-kubernetes-default"
K8S_CONFIG = {
    "JobManager": {"enabled_backends": ["kubernetes"]},
    "KubernetesSpawner": {
        "image": "python:3.12-slim",
        "user": "bench",
        "inherit_server_pod": False,
        "retry_delay": 0.05,
        "max_retry_delay": 0.2,
        "poll_interval": 0.2,
        "profiles": [{"name": "default", "display_name": "Default", "kernels": True}],
    },
}
LOCAL_KERNEL = "python3"


def slurm_conf() -> str:
    conf = os.environ.get("SLURM_CONF")
    base = os.environ.get("JUPYTER_JOBS_SLURM_BASE")
    if not conf and base:
        conf = os.path.join(base, "etc", "slurm.conf")
    if not conf or not os.path.isfile(conf):
        sys.exit(
            "no SLURM cluster: run scripts/slurm-up.sh DIR and set JUPYTER_JOBS_SLURM_BASE=DIR"
        )
    return conf


def active_refs(env: dict[str, str]) -> set[str]:
    out = subprocess.run(
        ["squeue", "-h", "-t", "PD,R,CG,S,CF", "-o", "%i"],
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    return set(out.split())


async def kernel_info(server: ServerProcess, kernel_id: str, timeout: float = 60.0) -> float:
    """Send kernel_info_request on the kernel's websocket; wall-clock time of the reply."""
    ws = await ws_connect(server, f"api/kernels/{kernel_id}/channels")
    try:
        msg_id, frame = kernel_request("kernel_info_request", {})
        deadline = time.monotonic() + timeout
        while True:  # the kernel may not answer the very first request while it starts
            await ws.write_message(frame)
            try:
                while True:
                    raw = await asyncio.wait_for(ws.read_message(), 1.0)
                    if raw is None:
                        raise RuntimeError("kernel websocket closed")
                    msg = json.loads(raw)
                    if (
                        msg.get("msg_type") == "kernel_info_reply"
                        and msg.get("parent_header", {}).get("msg_id") == msg_id
                    ):
                        return time.time()
            except asyncio.TimeoutError:
                if time.monotonic() > deadline:
                    raise
                msg_id, frame = kernel_request("kernel_info_request", {})
    finally:
        ws.close()


async def start_kernel(server: ServerProcess, name: str) -> tuple[str, float, float]:
    """(kernel id, seconds to kernel_info_reply, wall-clock time of the reply)."""
    t0 = time.time()
    _, kernel, _ = await request(server, "POST", "api/kernels", {"name": name}, expect=201)
    ready = await kernel_info(server, kernel["id"])
    return kernel["id"], ready - t0, ready


def job_started_at(server: ServerProcess, job: dict[str, Any]) -> float:
    """When the runner started on the node (its status.json), epoch seconds."""
    path = os.path.join(server.job_root, job["id"], "status.json")
    with open(path) as f:
        started = json.load(f)["started_at"]
    if isinstance(started, (int, float)):
        return float(started)
    return datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp()


async def one_round(server: ServerProcess, env: dict[str, str], res: dict[str, list[float]]):
    kid, local_start, _ = await start_kernel(server, LOCAL_KERNEL)
    t0 = time.monotonic()
    await request(server, "DELETE", f"api/kernels/{kid}", expect=204)
    res["local_shutdown"].append(time.monotonic() - t0)

    kid, slurm_start, ready_at = await start_kernel(server, SLURM_KERNEL)
    _, data, _ = await request(server, "GET", "jupyter-jobs/api/remote-sessions", expect=200)
    job = next(s["job"] for s in data["sessions"] if s["kernel_id"] == kid)
    res["local_start"].append(local_start)
    res["slurm_start"].append(slurm_start)
    res["after_running"].append(ready_at - job_started_at(server, job))
    t0 = time.monotonic()
    await request(server, "DELETE", f"api/kernels/{kid}", expect=204)
    res["slurm_shutdown"].append(time.monotonic() - t0)
    while job["backend_ref"] in active_refs(env):
        await asyncio.sleep(0.02)
    res["slurm_gone"].append(time.monotonic() - t0)


STANDALONE = """
import asyncio, json, sys, time
from jupyter_client.manager import AsyncKernelManager

async def main():
    t0 = time.time()
    km = AsyncKernelManager(kernel_name=sys.argv[1])
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=120)
    ready = time.time()
    job_dir = getattr(km.provisioner, "job_id", None)
    kc.stop_channels()
    await km.shutdown_kernel()
    print(json.dumps({"t0": t0, "ready": ready, "job_id": job_dir}))

asyncio.run(main())
"""


def standalone_env(tmp: str, conf: str, config: dict[str, Any]) -> dict[str, str]:
    """A user's Jupyter dirs with the server's config and the kernel specs, and no server."""
    os.makedirs(os.path.join(tmp, "config"), exist_ok=True)
    server_config = {**config, "JobsApp": {"job_root": os.path.join(tmp, "job-root")}}
    with open(os.path.join(tmp, "config", "jupyter_server_config.json"), "w") as f:
        json.dump(server_config, f)
    env = {
        **os.environ,
        "SLURM_CONF": conf,
        "JUPYTER_CONFIG_DIR": os.path.join(tmp, "config"),
        "JUPYTER_DATA_DIR": os.path.join(tmp, "data"),
        "JUPYTER_RUNTIME_DIR": os.path.join(tmp, "runtime"),
        "JUPYTER_PATH": os.path.join(tmp, "prefix", "share", "jupyter"),
    }
    jupyter = os.path.join(os.path.dirname(sys.executable), "jupyter")
    subprocess.run(
        [jupyter, "jobs", "kernelspec", "install", "--prefix", os.path.join(tmp, "prefix"),
         "--backend", "slurm"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    return env


def standalone_start(env: dict[str, str], kernel: str, job_root: str) -> tuple[float, float]:
    """(whole start, job running → ready) of a kernel started by a fresh jupyter_client process."""
    out = subprocess.run(
        [sys.executable, "-c", STANDALONE, kernel], env=env, capture_output=True, text=True,
        timeout=300, check=True,
    ).stdout  # fmt: skip
    data = json.loads(out.strip().splitlines()[-1])
    whole = data["ready"] - data["t0"]
    if not data["job_id"]:
        return whole, whole
    with open(os.path.join(job_root, data["job_id"], "status.json")) as f:
        started = datetime.fromisoformat(json.load(f)["started_at"].replace("Z", "+00:00"))
    return whole, data["ready"] - started.timestamp()


async def restart_rounds(
    server: ServerProcess,
    rounds: int,
    res: dict[str, list[float]],
    kernel_name: str = SLURM_KERNEL,
    prefix: str = "",
) -> None:
    _, kernel, _ = await request(server, "POST", "api/kernels", {"name": kernel_name}, expect=201)
    kid = kernel["id"]
    await ws_execute(server, kid, "x = 42")
    for _ in range(rounds):
        t0 = time.monotonic()
        await ws_execute(server, kid, "x")
        res[prefix + "execute"].append(time.monotonic() - t0)
        server.stop()
        server.start()
        t0 = time.monotonic()
        while (await request(server, "GET", f"api/kernels/{kid}"))[0] != 200:
            if time.monotonic() - t0 > 60:
                raise RuntimeError("the kernel was not taken up again after the restart")
            await asyncio.sleep(0.05)
        if (await ws_execute(server, kid, "x", timeout=60)) != "42":
            raise RuntimeError("the kernel lost its state across the restart")
        res[prefix + "reconnect"].append(time.monotonic() - t0)
    await request(server, "DELETE", f"api/kernels/{kid}", expect=204)


async def k8s_restart_rounds(rounds: int, res: dict[str, list[float]]) -> None:
    """(g): a Kubernetes kernel's reconnect, on the fake API (on a thread of its own)."""
    from tests.k8s.cluster_thread import ClusterThread

    workdir = tempfile.mkdtemp(prefix="jj-k8s-kernels-")
    cluster = ClusterThread(os.path.join(workdir, "k8s")).start()
    try:
        server = ServerProcess(
            config=K8S_CONFIG,
            env={"KUBECONFIG": cluster.kubeconfig},
            workdir=os.path.join(workdir, "server"),
        )
        with server:
            deadline = time.monotonic() + 60
            while K8S_KERNEL not in (await request(server, "GET", "api/kernelspecs"))[1].get(
                "kernelspecs", {}
            ):
                if time.monotonic() > deadline:
                    raise RuntimeError("the Kubernetes kernel spec was never offered")
                await asyncio.sleep(0.2)
            await restart_rounds(server, rounds, res, K8S_KERNEL, "k8s_")
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def run(args: argparse.Namespace) -> list[Row]:
    conf = slurm_conf()
    env = {**os.environ, "SLURM_CONF": conf}
    config = {
        "JobManager": {"enabled_backends": ["local", "slurm"]},
        "SlurmSpawner": {
            "poll_interval": 1.0,
            "profiles": [
                {
                    "name": "default",
                    "display_name": "Cluster defaults",
                    "resources": {"cpus": 1, "time_limit": "00:10:00"},
                    "kernels": True,
                }
            ],
        },
    }
    res: dict[str, list[float]] = {
        k: []
        for k in (
            "local_start",
            "slurm_start",
            "after_running",
            "local_shutdown",
            "slurm_shutdown",
            "slurm_gone",
            "standalone_local",
            "standalone_after_running",
            "execute",
            "reconnect",
            "k8s_execute",
            "k8s_reconnect",
        )
    }
    workdir = tempfile.mkdtemp(prefix="jj-remote-kernels-")  # kept over the restarts of (f)
    server = ServerProcess(config=config, env={"SLURM_CONF": conf}, workdir=workdir)
    with server, contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        for i in range(args.rounds):
            await one_round(server, env, res)
            print(
                f"round {i + 1}/{args.rounds}: SLURM kernel ready in {res['slurm_start'][-1]:.2f}"
                f" s ({res['after_running'][-1]:.2f} s after its job ran), shut down in"
                f" {res['slurm_shutdown'][-1]:.2f} s",
                file=sys.stderr,
            )
        await restart_rounds(server, args.rounds, res)
    with tempfile.TemporaryDirectory(prefix="jj-standalone-") as tmp:
        senv = standalone_env(tmp, conf, config)
        for _ in range(args.rounds):
            res["standalone_local"].append(standalone_start(senv, LOCAL_KERNEL, tmp)[0])
            after = standalone_start(senv, SLURM_KERNEL, os.path.join(tmp, "job-root"))[1]
            res["standalone_after_running"].append(after)
    await k8s_restart_rounds(args.rounds, res)
    local_start = median(res["local_start"])
    local_shutdown = median(res["local_shutdown"])
    n = f"median of {args.rounds}"
    return [
        Row(
            "a",
            "POST api/kernels → kernel_info_reply",
            median(res["slurm_start"]),
            local_start,
            "s",
            None,
            "ours",
            [f"{n}; includes sbatch and the queue"],
        ),
        Row(
            "b",
            "job running → kernel ready",
            median(res["after_running"]),
            local_start,
            "s",
            1.5,
            "ours",
            [f"{n}; baseline: a whole local ipykernel start"],
        ),
        Row(
            "c",
            "DELETE api/kernels/{id} answered",
            median(res["slurm_shutdown"]),
            local_shutdown,
            "s",
            2.0,
            "ours",
            [n],
        ),
        Row(
            "d",
            "DELETE → job gone from squeue",
            median(res["slurm_gone"]),
            local_shutdown,
            "s",
            2.0,
            "ours",
            [f"{n}; baseline: the local DELETE"],
        ),
        Row(
            "e",
            "standalone client: job running → kernel ready",
            median(res["standalone_after_running"]),
            median(res["standalone_local"]),
            "s",
            1.5,
            "ours",
            [f"{n}; no server; baseline: the same process starting a local ipykernel"],
        ),
        Row(
            "f",
            "server restart → the kernel answers with its state",
            median(res["reconnect"]),
            median(res["execute"]),
            "s",
            2.0,
            "ours",
            [f"{n}; baseline: the same execute before the restart"],
        ),
        Row(
            "g",
            "server restart → a Kubernetes kernel answers with its state",
            median(res["k8s_reconnect"]),
            median(res["k8s_execute"]),
            "s",
            2.0,
            "ours",
            [f"{n}; fake Kubernetes API, the pod's kernel run for real; baseline as (f)"],
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=5, help="kernels started of each kind")
    p.add_argument("--quick", action="store_true", help="one round: a smoke run, not figures")
    p.add_argument("--json", help="also write the rows to this file")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds = 1
    rows = asyncio.run(run(args))
    report(rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
