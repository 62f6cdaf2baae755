"""What a Kubernetes cluster can ever give one pod: the largest node's allocatable CPUs, memory and
GPUs, from the node list (when this server's account may read it: RBAC often says no, and then
nothing is checked here; the scheduler has the last word). Pure: nodes in (as the API lists them),
:class:`~jupyter_jobs.spawners.slurm_limits.ClusterLimits` out, one entry named ``""`` (the whole
cluster); unit-tested in ``tests/unit/test_slurm_limits.py``.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .slurm_limits import ClusterLimits, PartitionLimits

_SUFFIXES: dict[str, Decimal] = {
    "Ki": Decimal(1024),
    "Mi": Decimal(1024**2),
    "Gi": Decimal(1024**3),
    "Ti": Decimal(1024**4),
    "Pi": Decimal(1024**5),
    "Ei": Decimal(1024**6),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}
_QUANTITY_RE = re.compile(r"^([0-9.]+(?:[eE][-+]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|)$")
#: taints that keep every job off a node (control planes)
_NO_JOBS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")


def quantity(text: Any) -> Decimal | None:
    """A Kubernetes quantity (``3920m``, ``16417196Ki``, ``2``, ``1e3``) as a number."""
    m = _QUANTITY_RE.match(str(text).strip()) if text is not None else None
    if not m:
        return None
    try:
        return Decimal(m.group(1)) * _SUFFIXES[m.group(2)]
    except InvalidOperation:
        return None


def _takes_jobs(node: dict[str, Any]) -> bool:
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("key") in _NO_JOBS and taint.get("effect") == "NoSchedule":
            return False
    return True


def cluster_limits(
    nodes: list[dict[str, Any]], gpu_key: str = "nvidia.com/gpu"
) -> ClusterLimits | None:
    """The largest allocatable CPUs (whole ones: a pod asks for whole CPUs), memory and GPUs of
    a node that takes jobs; None when no node says."""
    cpus: list[int] = []
    memory: list[int] = []
    gpus: list[int] = []
    for node in nodes:
        if not _takes_jobs(node):
            continue
        free = (node.get("status") or {}).get("allocatable") or {}
        cpu, mem, gpu = quantity(free.get("cpu")), quantity(free.get("memory")), free.get(gpu_key)
        if cpu is not None:
            cpus.append(math.floor(cpu))
        if mem is not None:
            memory.append(int(mem))
        count = quantity(gpu) if gpu is not None else Decimal(0)
        gpus.append(int(count or 0))
    if not cpus and not memory:
        return None
    whole = PartitionLimits(
        name="",
        cpus=max(cpus) if cpus else None,
        memory_bytes=max(memory) if memory else None,
        gpus=max(gpus) if gpus else 0,
        default=True,
    )
    return ClusterLimits({"": whole})
