"""Kernels whose address the spawner knows: Kubernetes pods (fixed ports, key in a Secret).

The provisioner's ``pre_launch`` is the same as for SLURM (``conn.json`` with the server's key in
a 0700 directory under the job root). The :class:`~jupyter_jobs.spawners.kubernetes.
KubernetesSpawner` copies the key into a Secret owned by the Job, with its fixed ports
(``kernel_ports``); the pod copies the mounted file to a writable place and execs
``ipykernel_launcher -f`` on it. Here the provisioner waits for two things, neither of which costs
an API call: the pod running with an IP, as the spawner's one watch saw it
(``spawner.kernel_connection_info(job)``), then the kernel's ports accepting a connection from
the server (the container runs before ipykernel has bound its sockets).

A server that takes such a kernel up again after a restart (:mod:`.resume`) does the same: the pod
IP from its own watch, the key from the connection file. Without a server, the kernel's guard
(:data:`~jupyter_jobs.spawners.k8s_objects.KERNEL_GUARD`) ends a kernel nobody has been connected
to for ``server_grace`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from ..models import RUNNING
from .tunnel import PORT_NAMES

if TYPE_CHECKING:
    from ..models import Job
    from ..spawners.base import Spawner


def addresses_kernels(spawner: Spawner) -> bool:
    """Whether the spawner gives each kernel's address itself (fixed ports, an IP per kernel)."""
    return spawner.addresses_kernels


async def ports_open(ip: str, ports: list[int], timeout: float = 1.0) -> bool:
    """Whether every port accepts a TCP connection (closed again at once)."""
    for port in ports:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), timeout)
        except (OSError, asyncio.TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return True


class PodProbe:
    """One look at a kernel's pod: its connection info once the kernel listens, else None."""

    def __init__(self, spawner: Spawner):
        self.spawner = spawner
        #: why a running pod is not usable yet (said when the launch times out)
        self.waiting_for: str | None = None

    async def __call__(self, job: Job | None) -> dict[str, Any] | None:
        if job is None or job.status != RUNNING:
            return None
        info = self.spawner.kernel_connection_info(job)
        if not info:
            self.waiting_for = "the pod's IP (not seen by the watch yet)"
            return None
        ports = [int(info[p]) for p in PORT_NAMES]
        if await ports_open(str(info["ip"]), ports):
            return dict(info)
        self.waiting_for = (
            f"the kernel's ports {', '.join(map(str, ports))} on pod IP {info['ip']} to answer"
            " (is a NetworkPolicy blocking the server from reaching kernel pods?)"
        )
        return None
