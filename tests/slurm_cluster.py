"""Finding the one-node SLURM cluster of ``scripts/slurm-up.sh`` for the tests that need it.

The test command starts the cluster and exports ``JUPYTER_JOBS_SLURM_BASE`` (or ``SLURM_CONF``).
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import signal
import subprocess
import time


def find_conf() -> str | None:
    conf = os.environ.get("SLURM_CONF")
    base = os.environ.get("JUPYTER_JOBS_SLURM_BASE")
    if not conf and base:
        conf = os.path.join(base, "etc", "slurm.conf")
    return conf if conf and os.path.isfile(conf) else None


@functools.lru_cache(maxsize=1)
def cluster_problem() -> str | None:
    """Why no cluster can be used (a skip reason), or None when one answers; sets SLURM_CONF."""
    if shutil.which("sbatch") is None:
        return "no SLURM here: sbatch is not on PATH (the README test command installs it)"
    conf = find_conf()
    if conf is None:
        return (
            "no SLURM cluster: start one with scripts/slurm-up.sh BASE and set"
            " JUPYTER_JOBS_SLURM_BASE=BASE (the README test command does both)"
        )
    os.environ["SLURM_CONF"] = conf
    r = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0 or " is UP" not in r.stdout:
        return f"the SLURM cluster of {conf} does not answer: {(r.stdout + r.stderr).strip()}"
    return None


def fill_node(name: str = "jupyter-kernel-test-filler", seconds: int = 120) -> str:
    """Submit a job that takes every CPU of the one node, so the next job waits; its id."""
    cpus = subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True).stdout
    argv = ["sbatch", "--parsable", "-J", name, "-c", cpus.split()[0], "-o", "/dev/null"]
    argv += ["--wrap", f"sleep {int(seconds)}"]
    done = subprocess.run(argv, capture_output=True, text=True, cwd="/tmp", check=True)
    return done.stdout.strip()


def controller_up() -> bool:
    r = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
    return r.returncode == 0 and " is UP" in r.stdout


class Controller:
    """Stops and starts the cluster's slurmctld (SIGTERM: its state is saved) for outage tests.

    :meth:`ensure_up` (call it in a fixture's teardown) starts it again if a test left it down,
    whatever happened: the other tests need it."""

    def __init__(self, conf: str):
        self.conf = conf
        self.base = os.path.dirname(os.path.dirname(conf))
        self.stopped: list[int] = []

    def pid(self) -> int:
        with open(os.path.join(self.base, "run", "slurmctld.pid")) as f:
            return int(f.read().strip())

    async def stop(self) -> None:
        pid = self.pid()
        os.kill(pid, signal.SIGTERM)
        self.stopped.append(pid)
        for _ in range(200):
            if (
                not os.path.exists(f"/proc/{pid}")
                or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
            ):
                return
            await asyncio.sleep(0.1)
        raise AssertionError("slurmctld did not stop")

    async def start(self) -> None:
        subprocess.run(["slurmctld", "-f", self.conf], check=True)
        for _ in range(300):
            if controller_up():
                return
            await asyncio.sleep(0.1)
        raise AssertionError("slurmctld did not come back")

    def ensure_up(self, timeout: float = 30.0) -> None:
        if not self.stopped or controller_up():
            return
        subprocess.run(["slurmctld", "-f", self.conf], check=True)
        deadline = time.monotonic() + timeout
        while not controller_up() and time.monotonic() < deadline:
            time.sleep(0.2)
